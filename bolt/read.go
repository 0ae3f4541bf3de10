package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/tickler-go/tickler"
)

// The reading methods, each in a read-only transaction on a snapshot, and
// the lookups the writes share.

// lookup decodes the header of the record id, which must exist and belong
// to agentID unless that is empty; else it returns ErrNotFound. A record
// whose header does not decode yields a *[RecordError], unless agentID is
// not empty and the agent index does not list the record under it: another
// agent's record is missing, damaged or not. h.body aliases the stored
// value, valid until the transaction ends.
func lookup(b buckets, agentID, id string) (*header, error) {
	v := b.records.Get([]byte(id))
	if v == nil {
		return nil, tickler.ErrNotFound
	}
	h, err := decodeHeader(v)
	switch {
	case err != nil && agentID != "" && b.agents != nil && !indexed(b, agentID, id):
		return nil, tickler.ErrNotFound
	case err != nil:
		return nil, &RecordError{ID: id, Err: err}
	case agentID != "" && h.agentID != agentID:
		return nil, tickler.ErrNotFound
	}
	return h, nil
}

// Get implements [tickler.Store.Get]. A record that cannot be decoded
// returns a *[RecordError] (or ErrNotFound, if the agent index lists it
// under another agent than a non-empty agentID).
//
// It is the read of every firing: it opens only the records bucket (the
// agent index only for a record that does not decode) and decodes the
// record once, into the Record the delivery is made of.
func (s *Store) Get(ctx context.Context, agentID, id string) (*tickler.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var r *tickler.Record
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := buckets{records: tx.Bucket(bucketRecords)}
		h, err := lookup(b, agentID, id)
		var re *RecordError
		if errors.As(err, &re) && agentID != "" {
			// Whether another agent's damaged record is missing or
			// damaged depends on the agent index.
			b.agents, b.recent = tx.Bucket(bucketAgents), tx.Bucket(bucketRecent)
			h, err = lookup(b, agentID, id)
		}
		if err != nil {
			return err
		}
		r, err = h.record(id)
		return err
	})
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return nil, ErrClosed
	}
	return r, err
}

// List implements [tickler.Store.List], reading the agent index. A record
// that cannot be decoded fails the call with a *[RecordError].
func (s *Store) List(ctx context.Context, p tickler.ListParams) (tickler.ListResult, error) {
	var res tickler.ListResult
	err := s.view(ctx, func(b buckets) error {
		for id := range agentIDs(b, p.AgentID, p.After) {
			if len(res.Records) >= p.Limit {
				res.More = true
				break
			}
			v := b.records.Get(id)
			if v == nil {
				return &RecordError{ID: string(id), Err: fmt.Errorf("%w: the agent index names a missing record", ErrCorrupt)}
			}
			r, err := decodeRecord(string(id), v)
			if err != nil {
				return err
			}
			res.Records = append(res.Records, r)
		}
		return nil
	})
	if err != nil {
		return tickler.ListResult{}, err
	}
	return res, nil
}

// Claim implements [tickler.Store.Claim] as a range read of the due index,
// which holds (next occurrence, id) keys in time order: it touches only the
// entries it returns, the damaged ones it skips, and the one after them.
// It checks the header of each record it returns; one that cannot be
// decoded, or disagrees with the index, is skipped and reported in the
// error, a *[RecordError] for each (joined), beside up to p.Limit of the
// others. A damaged index key fails the whole claim with [ErrCorrupt].
func (s *Store) Claim(ctx context.Context, p tickler.ClaimParams) (tickler.ClaimResult, error) {
	var res tickler.ClaimResult
	var damaged []error
	err := s.view(ctx, func(b buckets) error {
		records := b.records.Cursor()
		var start []byte
		if p.After.ID != "" {
			start = dueKey(p.After.At.UnixNano(), p.After.ID)
		}
		end := p.Until.UnixNano()
		for k := range dueKeys(b, start) {
			at, id, ok := parseDueKey(k)
			if !ok {
				return fmt.Errorf("%w: due index key %x", ErrCorrupt, k)
			}
			if at > end {
				res.Next = time.Unix(0, at).UTC()
				break
			}
			if len(res.Due) >= p.Limit {
				break
			}
			d := tickler.Due{ID: id, At: time.Unix(0, at).UTC()}
			if err := checkDue(records, &d); err != nil {
				damaged = append(damaged, err)
				continue
			}
			res.Due = append(res.Due, d)
		}
		return nil
	})
	if err != nil {
		return tickler.ClaimResult{}, err
	}
	return res, errors.Join(damaged...)
}

// checkDue reads the header of the record of a claimed entry, which must
// decode and agree with the index, and sets the entry's version.
func checkDue(records *bbolt.Cursor, d *tickler.Due) error {
	k, v := records.Seek([]byte(d.ID))
	if string(k) != d.ID {
		return &RecordError{ID: d.ID, Err: fmt.Errorf("%w: the due index names a missing record", ErrCorrupt)}
	}
	var h header
	if _, _, err := h.decodeFixed(v); err != nil {
		return &RecordError{ID: d.ID, Err: err}
	}
	if !h.hasNext || h.next != d.At.UnixNano() {
		return &RecordError{ID: d.ID, Err: fmt.Errorf("%w: the due index says %v, the record %v", ErrCorrupt, d.At, h.nextTime())}
	}
	d.Version = h.version
	return nil
}

// Count implements [tickler.Store.Count]: it reads the agent's number of
// records from its totals (sizes.go), without reading the records.
func (s *Store) Count(ctx context.Context, agentID string) (n int, err error) {
	err = s.view(ctx, func(b buckets) error {
		_, c := agentTotals(b.agentBytes, agentID)
		n = int(c)
		return nil
	})
	return n, err
}

// History implements [tickler.Store.History], reading the record's
// history entries backwards from the newest. The record's agent is the
// agent index's, so History of a record that cannot be decoded still
// reads its history.
func (s *Store) History(ctx context.Context, p tickler.HistoryParams) (tickler.HistoryResult, error) {
	var res tickler.HistoryResult
	err := s.view(ctx, func(b buckets) error {
		if b.records.Get([]byte(p.ID)) == nil || (p.AgentID != "" && !indexed(b, p.AgentID, p.ID)) {
			return tickler.ErrNotFound
		}
		prefix := prefixed(p.ID, 0)
		c := b.history.Cursor()
		last := historyKey(p.ID, math.MaxUint64)
		k, v := c.Seek(last)
		switch {
		case k == nil:
			k, v = c.Last()
		case !bytes.Equal(k, last):
			k, v = c.Prev()
		}
		skip := p.Offset
		for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Prev() {
			if skip > 0 {
				skip--
				continue
			}
			if len(res.Outcomes) >= p.Limit {
				res.More = true
				break
			}
			o, err := decodeOutcome(p.ID, v)
			if err != nil {
				return err
			}
			res.Outcomes = append(res.Outcomes, o)
		}
		return nil
	})
	if err != nil {
		return tickler.HistoryResult{}, err
	}
	return res, nil
}
