package bolt

import (
	"iter"

	"go.etcd.io/bbolt"

	"github.com/tickler-go/tickler"
)

// Load writes recs in transactions of batch records each, as Create would
// store them, without a commit per record: benchmarks fill files with it.
func Load(s *Store, recs iter.Seq[*tickler.Record], batch int) error {
	var pending []*tickler.Record
	flush := func() error {
		err := s.db.Update(func(tx *bbolt.Tx) error {
			b := bucketsOf(tx)
			for _, r := range pending {
				h, err := newHeader(r)
				if err != nil {
					return err
				}
				if err := put(b.records, []byte(r.ID), encodeRecord(h)); err != nil {
					return err
				}
				if err := put(b.agents, agentKey(r.AgentID, r.ID), nil); err != nil {
					return err
				}
				if err := addAgentTotals(b.agentBytes, r.AgentID, h.size(), 1); err != nil {
					return err
				}
				if h.hasNext {
					if err := put(b.due, dueKey(h.next, r.ID), nil); err != nil {
						return err
					}
				}
			}
			return nil
		})
		pending = pending[:0]
		return err
	}
	for r := range recs {
		pending = append(pending, r)
		if len(pending) == batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// Raw runs fn on the records bucket in a read-write transaction: tests
// damage records with it.
func Raw(s *Store, fn func(records *bbolt.Bucket) error) error {
	return s.db.Update(func(tx *bbolt.Tx) error { return fn(tx.Bucket(bucketRecords)) })
}

// WithMergeAt sets how many entries agents_recent holds before the
// committer moves them into agents (agentindex.go).
func WithMergeAt(n int) Option { return func(o *options) { o.mergeAt = n } }

// AgentCount returns the agent's number of records as the store keeps it.
func AgentCount(s *Store, agentID string) (n int64, err error) {
	err = s.db.View(func(tx *bbolt.Tx) error {
		_, n = agentTotals(tx.Bucket(bucketAgentBytes), agentID)
		return nil
	})
	return n, err
}

// Recent returns the number of entries in agents_recent.
func Recent(s *Store) (n int, err error) {
	err = s.db.View(func(tx *bbolt.Tx) error { n = countRecent(tx); return nil })
	return n, err
}

// AgentBytes returns the agent's byte total as the store keeps it.
func AgentBytes(s *Store, agentID string) (n int64, err error) {
	err = s.db.View(func(tx *bbolt.Tx) error {
		n, _ = agentTotals(tx.Bucket(bucketAgentBytes), agentID)
		return nil
	})
	return n, err
}

// DropAgentBytes deletes the bucket of byte totals, as in a file written
// by a release that predates it.
func DropAgentBytes(s *Store) error {
	return s.db.Update(func(tx *bbolt.Tx) error { return tx.DeleteBucket(bucketAgentBytes) })
}

// ToLayout1 rewrites the file as a release that reads only layout 1 would
// have left it: every agent index entry in agents, no agents_recent, byte
// totals without counts.
func ToLayout1(s *Store) error {
	if err := s.mergeRecent(); err != nil {
		return err
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketRecent, bucketDueRecent} {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		totals := tx.Bucket(bucketAgentBytes)
		old := map[string][]byte{}
		c := totals.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			old[string(k)] = v[:8:8]
		}
		for k, v := range old {
			if err := totals.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keyLayout, []byte{1})
	})
}

// Layout returns the file's layout version.
func Layout(s *Store) (v byte, err error) {
	err = s.db.View(func(tx *bbolt.Tx) error { v = tx.Bucket(bucketMeta).Get(keyLayout)[0]; return nil })
	return v, err
}

// PagesWritten returns how many page writes the store's commits have made.
func PagesWritten(s *Store) int64 {
	st := s.db.Stats()
	return st.TxStats.GetWrite()
}
