package bolt

import (
	"bytes"
	"context"
	"errors"
	"io"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/internal/newest"
)

// The reads of [tickler.AdminStore] and the backup, each in one read-only
// transaction: a consistent snapshot, concurrent with the committer.

var _ tickler.AdminStore = (*Store)(nil)

// ListAll implements [tickler.AdminStore]: it reads the records in id
// order (or the agent index, for one agent), filters on each header and
// newest history entry, and decodes the message only of the records it
// returns. A record or newest history entry that cannot be decoded is
// skipped and named in Damaged.
func (s *Store) ListAll(ctx context.Context, p tickler.ListAllParams) (tickler.ListAllResult, error) {
	var res tickler.ListAllResult
	err := s.view(ctx, func(b buckets) error {
		res = tickler.ListAllResult{}
		for id, v := range idsAfter(b, p.AgentID, p.After) {
			if v == nil {
				res.Damaged = append(res.Damaged, id) // a dangling agent index entry
				continue
			}
			h, err := decodeHeader(v)
			if err != nil {
				res.Damaged = append(res.Damaged, id)
				continue
			}
			last, err := lastOutcome(b.history, id, h)
			if err != nil {
				res.Damaged = append(res.Damaged, id)
				continue
			}
			if !p.Match(h.shallow(id), last) {
				continue
			}
			if len(res.Records) == p.Limit {
				res.More = true
				break
			}
			r, err := h.record(id)
			if err != nil {
				res.Damaged = append(res.Damaged, id)
				continue
			}
			res.Records = append(res.Records, tickler.AdminRecord{Record: r, Last: last})
		}
		return nil
	})
	if err != nil {
		return tickler.ListAllResult{}, err
	}
	return res, nil
}

// idsAfter yields the ids after after, in order, with their record values
// (nil for an agent index entry naming no record): the agent's, from the
// agent index, or every record's. Values are valid until the transaction
// ends.
func idsAfter(b buckets, agentID, after string) func(yield func(string, []byte) bool) {
	return func(yield func(string, []byte) bool) {
		if agentID == "" {
			c := b.records.Cursor()
			k, v := c.Seek([]byte(after))
			if after != "" && string(k) == after {
				k, v = c.Next()
			}
			for ; k != nil; k, v = c.Next() {
				if !yield(string(k), v) {
					return
				}
			}
			return
		}
		for id := range agentIDs(b, agentID, after) {
			if !yield(string(id), b.records.Get(id)) {
				return
			}
		}
	}
}

// shallow returns the record id without its message: enough for
// [tickler.ListAllParams.Match].
func (h *header) shallow(id string) *tickler.Record {
	r := &tickler.Record{ID: id, AgentID: h.agentID, Next: h.nextTime(), Version: h.version}
	if h.paused != 0 {
		r.PausedAt = time.Unix(0, h.paused).UTC()
	}
	return r
}

// lastOutcome returns the newest history entry of the record id, whose
// header is h, or nil if it has none.
func lastOutcome(hist *bbolt.Bucket, id string, h *header) (*tickler.Outcome, error) {
	if h.histSeq == 0 {
		return nil, nil
	}
	v := hist.Get(historyKey(id, h.histSeq))
	if v == nil {
		return nil, nil // kept none (a history limit of 0)
	}
	o, err := decodeOutcome(id, v)
	if err != nil {
		return nil, err
	}
	return &o, nil
}

// RecentOutcomes implements [tickler.AdminStore]: it reads each record's
// history from its newest entry back, until an entry is older than the
// newest p.Limit found so far. Records and entries that cannot be decoded
// are skipped.
func (s *Store) RecentOutcomes(ctx context.Context, p tickler.RecentParams) (tickler.RecentResult, error) {
	var res tickler.RecentResult
	err := s.view(ctx, func(b buckets) error {
		top := newest.New(p.Limit + 1)
		rc := b.records.Cursor()
		hc := b.history.Cursor()
		for k, v := rc.First(); k != nil; k, v = rc.Next() {
			h, err := decodeHeader(v)
			if err != nil || h.histSeq == 0 {
				continue
			}
			id := string(k)
			prefix := prefixed(id, 0)
			for hk, hv := hc.Seek(historyKey(id, h.histSeq)); hk != nil && bytes.HasPrefix(hk, prefix) && len(hk) == len(prefix)+8; hk, hv = hc.Prev() {
				o, err := decodeOutcome(id, hv)
				if err != nil {
					continue
				}
				if p.Before != "" && o.ID >= p.Before {
					continue
				}
				if !top.Offer(tickler.AgentOutcome{AgentID: h.agentID, Outcome: o}) {
					break
				}
			}
		}
		res = top.Result(p.Limit)
		return nil
	})
	if err != nil {
		return tickler.RecentResult{}, err
	}
	return res, nil
}

// Counts implements [tickler.AdminStore], reading every record's header
// and newest history entry, and the agent index's keys.
func (s *Store) Counts(ctx context.Context) (tickler.Counts, error) {
	var c tickler.Counts
	err := s.view(ctx, func(b buckets) error {
		c = tickler.Counts{}
		rc := b.records.Cursor()
		for k, v := rc.First(); k != nil; k, v = rc.Next() {
			id := string(k)
			h, err := decodeHeader(v)
			if err != nil {
				c.Damaged++
				continue
			}
			last, err := lastOutcome(b.history, id, h)
			if err != nil {
				c.Damaged++
				continue
			}
			c.Add(tickler.AdminRecord{Record: h.shallow(id), Last: last}.Status())
		}
		// An agent with records has totals (sizes.go), one key each.
		c.Agents = b.agentBytes.Stats().KeyN
		return nil
	})
	return c, err
}

// WriteTo writes a consistent copy of the whole file to w, as of one
// moment, while the store goes on serving: it is a bbolt read
// transaction's WriteTo, so writes carry on beside it. The copy is a
// bolt file that [Open] opens. It returns the bytes written.
func (s *Store) WriteTo(w io.Writer) (n int64, err error) {
	err = s.db.View(func(tx *bbolt.Tx) error {
		n, err = tx.WriteTo(w)
		return err
	})
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return n, ErrClosed
	}
	return n, err
}
