package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"go.etcd.io/bbolt"

	"github.com/tickler-go/tickler"
)

// The writing methods, each a function the committer runs in a shared
// commit (see commit.go).

// Create implements [tickler.Store.Create]: it stores r with Version 1,
// sets r.Version to 1, and returns once the record is fsynced. It checks
// p.MaxPerAgent and p.MaxBytesPerAgent against the agent's totals
// (sizes.go) in the transaction that inserts the record, so that no
// interleaving of creates takes an agent past a limit.
func (s *Store) Create(ctx context.Context, r *tickler.Record, p tickler.CreateParams) error {
	if r.ID == "" {
		return errors.New("bolt: create: empty id")
	}
	h, err := newHeader(r)
	if err != nil {
		return err
	}
	id := []byte(r.ID)
	v := encodeRecord(h)
	size := h.size()
	err = s.update(ctx, func(b buckets) error {
		if b.records.Get(id) != nil {
			return tickler.ErrExists
		}
		if err := checkAgentCount(b.agentBytes, h.agentID, 1, p); err != nil {
			return err
		}
		if err := checkAgentBytes(b.agentBytes, h.agentID, size, p); err != nil {
			return err
		}
		if err := put(b.records, id, v); err != nil {
			return err
		}
		if err := addAgentTotals(b.agentBytes, h.agentID, size, 1); err != nil {
			return err
		}
		s.recentN++ // on the committer; see recent.go
		if err := indexAgent(b, h.agentID, r.ID); err != nil {
			return err
		}
		if h.hasNext {
			return indexDue(b, h.next, r.ID)
		}
		return nil
	})
	if err != nil {
		return err
	}
	r.Version = 1
	return nil
}

// CreateMany implements [tickler.BatchCreator]: it stores every record of
// rs in one write, so in one commit, or none of them (ErrExists,
// ErrLimitExceeded, or a failure of the commit), and returns once they are
// fsynced. Records are encoded before the write joins a commit, and each
// index is written in key order.
func (s *Store) CreateMany(ctx context.Context, rs []*tickler.Record, p tickler.CreateParams) error {
	type item struct {
		id, agent string
		v         []byte
	}
	items := make([]item, len(rs))
	var dues [][]byte
	type batch struct {
		n     int
		bytes int64
	}
	added := make(map[string]batch) // per agent
	for i, r := range rs {
		if r.ID == "" {
			return errors.New("bolt: create: empty id")
		}
		h, err := newHeader(r)
		if err != nil {
			return err
		}
		items[i] = item{id: r.ID, agent: h.agentID, v: encodeRecord(h)}
		if h.hasNext {
			dues = append(dues, dueKey(h.next, r.ID))
		}
		a := added[h.agentID]
		added[h.agentID] = batch{a.n + 1, a.bytes + h.size()}
	}
	slices.SortFunc(items, func(a, b item) int { return strings.Compare(a.id, b.id) })
	for i := 1; i < len(items); i++ {
		if items[i].id == items[i-1].id {
			return tickler.ErrExists
		}
	}
	slices.SortFunc(dues, bytes.Compare)
	err := s.update(ctx, func(b buckets) error {
		for _, it := range items {
			if b.records.Get([]byte(it.id)) != nil {
				return tickler.ErrExists
			}
		}
		for agent, a := range added {
			if err := checkAgentCount(b.agentBytes, agent, int64(a.n), p); err != nil {
				return err
			}
			if err := checkAgentBytes(b.agentBytes, agent, a.bytes, p); err != nil {
				return err
			}
		}
		// Ids are time-ordered (UUIDv7): a batch appends to the records
		// and to each agent's run of the agent index, so their pages are
		// best left full rather than split in halves.
		b.records.FillPercent, b.agents.FillPercent = appendFill, appendFill
		for _, it := range items {
			if err := put(b.records, []byte(it.id), it.v); err != nil {
				return err
			}
		}
		slices.SortFunc(items, func(a, b item) int {
			if c := strings.Compare(a.agent, b.agent); c != 0 {
				return c
			}
			return strings.Compare(a.id, b.id)
		})
		for _, it := range items {
			if err := put(b.agents, agentKey(it.agent, it.id), nil); err != nil {
				return err
			}
		}
		for _, k := range dues {
			if err := put(b.due, k, nil); err != nil {
				return err
			}
		}
		for agent, a := range added {
			if err := addAgentTotals(b.agentBytes, agent, a.bytes, int64(a.n)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range rs {
		r.Version = 1
	}
	return nil
}

// appendFill is the fill percent of the buckets a bulk create appends to.
const appendFill = 0.9

// fenced is lookup that also requires the record to be at version: else
// ErrConflict.
func fenced(b buckets, id, agentID string, version uint64) (*header, error) {
	h, err := lookup(b, agentID, id)
	if err == nil && h.version != version {
		return nil, tickler.ErrConflict
	}
	return h, err
}

// Delete implements [tickler.Store.Delete]: it returns once the removal of
// the record, its index entries and its history is fsynced. It also
// removes a record that cannot be decoded.
func (s *Store) Delete(ctx context.Context, agentID, id string) error {
	return s.update(ctx, func(b buckets) error { return deleteRecord(b, agentID, id) })
}

// deleteRecord is the write of a Delete.
func deleteRecord(b buckets, agentID, id string) error {
	v := b.records.Get([]byte(id))
	if v == nil {
		if agentID != "" && indexed(b, agentID, id) {
			// A dangling index entry: drop it; there is nothing to delete.
			if err := unindexAgent(b, agentID, id); err != nil {
				return err
			}
		}
		return tickler.ErrNotFound
	}
	h, err := decodeHeader(v)
	switch {
	case err != nil && agentID != "" && !indexed(b, agentID, id):
		return tickler.ErrNotFound
	case err != nil:
		// Its header cannot say where its index entries are: look for them.
		return removeUndecodable(b, id)
	case agentID != "" && h.agentID != agentID:
		return tickler.ErrNotFound
	}
	return remove(b, id, h)
}

// DeleteMany implements [tickler.BatchDeleter]: each delete is a write of
// its own, as Delete's, failing alone, and all of them are submitted to
// the committer at once, so that they share commits. It returns once
// every delete is fsynced or failed.
func (s *Store) DeleteMany(ctx context.Context, agentID string, ids []string) []error {
	fns := make([]func(*bbolt.Tx) error, len(ids))
	for i, id := range ids {
		fns[i] = func(tx *bbolt.Tx) error { return deleteRecord(bucketsOf(tx), agentID, id) }
	}
	return s.writeMany(ctx, fns)
}

// remove deletes the record id, whose header is h, with its index
// entries, its history and its bytes in its agent's total.
func remove(b buckets, id string, h *header) error {
	if err := addAgentTotals(b.agentBytes, h.agentID, -h.size(), -1); err != nil {
		return err
	}
	if err := del(b.records, []byte(id)); err != nil {
		return err
	}
	if err := unindexAgent(b, h.agentID, id); err != nil {
		return err
	}
	if h.hasNext {
		if err := unindexDue(b, h.next, id); err != nil {
			return err
		}
	}
	if h.histSeq == 0 {
		return nil // no outcome was ever appended: nothing to look for
	}
	return trimHistory(b.history, id, math.MaxUint64)
}

// removeUndecodable deletes a record whose header does not decode, with
// every index entry that names it and its history. Its index entries are
// found by scans of the due and agent indexes, which this rare path
// affords; its size is unknown, so the totals of each agent that listed
// it are counted again from the agent's records.
func removeUndecodable(b buckets, id string) error {
	var dueKeys [][]byte
	c := b.due.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if _, kid, ok := parseDueKey(k); ok && kid == id {
			dueKeys = append(dueKeys, bytes.Clone(k))
		}
	}
	agents := indexedAgents(b, id)
	for _, k := range dueKeys {
		if err := del(b.due, k); err != nil {
			return err
		}
	}
	if err := del(b.dueRecent, []byte(id)); err != nil {
		return err
	}
	for _, agent := range agents {
		if err := unindexAgent(b, agent, id); err != nil {
			return err
		}
	}
	if err := del(b.records, []byte(id)); err != nil {
		return err
	}
	for _, agent := range agents {
		if err := recountAgent(b, agent); err != nil {
			return err
		}
	}
	return trimHistory(b.history, id, math.MaxUint64)
}

// trimHistory deletes the history entries of id whose sequence number is
// at most upTo.
func trimHistory(hist *bbolt.Bucket, id string, upTo uint64) error {
	prefix := prefixed(id, 0)
	var keys [][]byte
	c := hist.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(k) != len(prefix)+8 || binary.BigEndian.Uint64(k[len(prefix):]) > upTo {
			break
		}
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := del(hist, k); err != nil {
			return err
		}
	}
	return nil
}

// Ack implements [tickler.Store.Ack]: it returns once the removed or
// advanced record, and the appended history entry, are fsynced. A
// history-only ack appends the entry without a version check and leaves
// the record's version and next occurrence as they are. A record that
// cannot be decoded returns a *[RecordError] and is left as is.
func (s *Store) Ack(ctx context.Context, a tickler.AckParams) error {
	fn, err := ackWrite(a)
	if err != nil {
		return err
	}
	return s.write(ctx, fn)
}

// AckMany implements [tickler.BatchAcker]: each ack is a write of its own,
// applied as Ack applies it and failing alone, and all of them are
// submitted to the committer at once, so that they share commits (one
// fsync for most batches). It returns once every ack is fsynced or failed.
func (s *Store) AckMany(ctx context.Context, acks []tickler.AckParams) []error {
	fns := make([]func(*bbolt.Tx) error, 0, len(acks))
	errs := make([]error, len(acks))
	idx := make([]int, 0, len(acks))
	for i, a := range acks {
		fn, err := ackWrite(a)
		if err != nil {
			errs[i] = err
			continue
		}
		fns = append(fns, fn)
		idx = append(idx, i)
	}
	for k, err := range s.writeMany(ctx, fns) {
		errs[idx[k]] = err
	}
	return errs
}

// ackWrite returns the write of an ack, its outcome encoded beforehand.
func ackWrite(a tickler.AckParams) (func(*bbolt.Tx) error, error) {
	var entry []byte
	if a.Outcome != nil && a.HistoryLimit > 0 {
		var err error
		if entry, err = encodeOutcome(a.Outcome); err != nil {
			return nil, fmt.Errorf("bolt: ack %s: encoding the outcome: %w", a.ID, err)
		}
	}
	var cb *callbackRow
	if a.Callback != nil {
		cb = newCallbackRow(a.Callback)
	}
	id := []byte(a.ID)
	return func(tx *bbolt.Tx) error { return ack(bucketsOf(tx), a, id, entry, cb) }, nil
}

// ack applies a in the transaction of b; entry is its encoded outcome, or
// nil if none is to be kept, and cb its callback for the outbox, or nil.
// The callback is written only if the ack applies.
func ack(b buckets, a tickler.AckParams, id, entry []byte, cb *callbackRow) error {
	if a.HistoryOnly {
		h, err := lookup(b, "", a.ID)
		if err != nil {
			return err
		}
		if entry == nil {
			return putCallback(b, cb, 0)
		}
		h.histSeq++
		if err := put(b.records, id, encodeRecord(h)); err != nil {
			return err
		}
		if err := appendHistory(b.history, a.ID, h.histSeq, entry, a.HistoryLimit); err != nil {
			return err
		}
		return putCallback(b, cb, h.histSeq)
	}
	h, err := fenced(b, a.ID, "", a.Version)
	if err != nil {
		return err
	}
	if a.Next.IsZero() {
		if err := remove(b, a.ID, h); err != nil {
			return err
		}
		return putCallback(b, cb, 0)
	}
	if h.hasNext {
		if err := unindexDue(b, h.next, a.ID); err != nil {
			return err
		}
	}
	h.version++
	h.hasNext, h.next = true, a.Next.UnixNano()
	if entry != nil {
		h.histSeq++
	}
	// Encode before the first put: h.body aliases the stored value.
	nv := encodeRecord(h)
	if err := put(b.records, id, nv); err != nil {
		return err
	}
	if err := put(b.due, dueKey(h.next, a.ID), nil); err != nil {
		return err
	}
	if entry == nil {
		return putCallback(b, cb, 0)
	}
	if err := appendHistory(b.history, a.ID, h.histSeq, entry, a.HistoryLimit); err != nil {
		return err
	}
	return putCallback(b, cb, h.histSeq)
}

// appendHistory stores entry as the history entry seq of the record id and
// deletes those beyond the newest limit.
func appendHistory(hist *bbolt.Bucket, id string, seq uint64, entry []byte, limit int) error {
	if err := put(hist, historyKey(id, seq), entry); err != nil {
		return err
	}
	if keep := uint64(limit); seq > keep {
		return trimHistory(hist, id, seq-keep)
	}
	return nil
}

// Update implements [tickler.Store.Update]: it returns once the replaced
// record and its index entries are fsynced. Its history is kept, and so is
// its agent (an empty r.AgentID matches any and changes nothing). The
// agent's byte total follows the new size, and growth past
// p.MaxBytesPerAgent is refused in the transaction that writes it.
func (s *Store) Update(ctx context.Context, r *tickler.Record, p tickler.UpdateParams) error {
	nh, err := newHeader(r)
	if err != nil {
		return err
	}
	id := []byte(r.ID)
	return s.update(ctx, func(b buckets) error {
		h, err := fenced(b, r.ID, r.AgentID, r.Version)
		if err != nil {
			return err
		}
		// Before the put: h.body aliases the stored value.
		grown := nh.size() - h.size()
		if grown > 0 {
			if err := checkAgentBytes(b.agentBytes, h.agentID, grown, tickler.CreateParams{MaxBytesPerAgent: p.MaxBytesPerAgent}); err != nil {
				return err
			}
		}
		if h.hasNext {
			if err := unindexDue(b, h.next, r.ID); err != nil {
				return err
			}
		}
		nh.version, nh.histSeq, nh.agentID = h.version+1, h.histSeq, h.agentID
		if err := addAgentTotals(b.agentBytes, h.agentID, grown, 0); err != nil {
			return err
		}
		if err := put(b.records, id, encodeRecord(nh)); err != nil {
			return err
		}
		if nh.hasNext {
			return put(b.due, dueKey(nh.next, r.ID), nil)
		}
		return nil
	})
}
