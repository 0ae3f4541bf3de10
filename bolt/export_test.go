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
				if err := addAgentBytes(b.agentBytes, r.AgentID, h.size()); err != nil {
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

// AgentBytes returns the agent's byte total as the store keeps it.
func AgentBytes(s *Store, agentID string) (n int64, err error) {
	err = s.db.View(func(tx *bbolt.Tx) error {
		n = agentBytes(tx.Bucket(bucketAgentBytes), agentID)
		return nil
	})
	return n, err
}

// DropAgentBytes deletes the bucket of byte totals, as in a file written
// by a release that predates it.
func DropAgentBytes(s *Store) error {
	return s.db.Update(func(tx *bbolt.Tx) error { return tx.DeleteBucket(bucketAgentBytes) })
}
