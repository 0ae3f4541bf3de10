package bolt

import (
	"bytes"
	"encoding/binary"
	"iter"
	"slices"

	"go.etcd.io/bbolt"
)

// The agent index, which List, Count and the agent checks read, is two
// buckets:
//
//	agents         uvarint(len(agent)) agent id -> empty
//	agents_recent  id -> agent
//
// Create adds its record to agents_recent. Its keys are record ids, which
// the scheduler makes time-ordered (UUIDv7), so a commit of many creates
// for many agents appends to one or two of its pages. Were it to add to
// agents instead, a commit would rewrite one page of agents for each
// agent it holds a create of: with 64 agents, 64 pages and their writes
// for 64 records. The committer moves agents_recent into agents, in key
// order and in a commit of its own, once it holds about mergeAt entries,
// so that each page of agents is rewritten once for many records.
//
// A reader of an agent's ids merges the two: agents_recent is scanned
// whole (it holds at most about mergeAt entries, plus one batch) and its
// ids for the agent merged, in order, with the agent's range of agents.
// A record is in one bucket or the other, never both; removing it removes
// it from whichever holds it.

// defaultMergeAt is about the most entries agents_recent holds before the
// committer moves them into agents.
const defaultMergeAt = 1024

// indexAgent lists the record id under agentID.
func indexAgent(b buckets, agentID, id string) error {
	return put(b.recent, []byte(id), []byte(agentID))
}

// unindexAgent removes the record id from agentID's entries, from
// whichever bucket holds it.
func unindexAgent(b buckets, agentID, id string) error {
	if err := del(b.agents, agentKey(agentID, id)); err != nil {
		return err
	}
	if v := b.recent.Get([]byte(id)); v != nil && string(v) == agentID {
		return del(b.recent, []byte(id))
	}
	return nil
}

// indexed reports whether the index lists the record id under agentID.
func indexed(b buckets, agentID, id string) bool {
	if has(b.agents, agentKey(agentID, id)) {
		return true
	}
	v := b.recent.Get([]byte(id))
	return v != nil && string(v) == agentID
}

// agentIDs yields the ids the index lists under agentID that sort after
// after, in order. The ids are valid until the transaction ends.
func agentIDs(b buckets, agentID, after string) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		var recent [][]byte
		rc := b.recent.Cursor()
		for k, v := rc.Seek([]byte(after)); k != nil; k, v = rc.Next() {
			if string(v) == agentID && string(k) != after {
				recent = append(recent, k)
			}
		}
		prefix := agentKey(agentID, "")
		start := agentKey(agentID, after)
		c := b.agents.Cursor()
		k, _ := c.Seek(start)
		if bytes.Equal(k, start) {
			k, _ = c.Next()
		}
		for {
			var id []byte
			if k != nil && bytes.HasPrefix(k, prefix) {
				id = k[len(prefix):]
			}
			switch {
			case id == nil && len(recent) == 0:
				return
			case id == nil || (len(recent) > 0 && bytes.Compare(recent[0], id) < 0):
				id, recent = recent[0], recent[1:]
			default:
				if len(recent) > 0 && bytes.Equal(recent[0], id) {
					recent = recent[1:]
				}
				k, _ = c.Next()
			}
			if !yield(id) {
				return
			}
		}
	}
}

// indexedAgents returns the agents under which the index lists the record
// id, by a scan of the whole agents bucket: only the rare path that
// removes a record whose header does not decode uses it.
func indexedAgents(b buckets, id string) []string {
	var agents []string
	c := b.agents.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if n, w := binary.Uvarint(k); w > 0 && uint64(len(k)-w) >= n && string(k[w+int(n):]) == id {
			agents = append(agents, string(k[w:w+int(n)]))
		}
	}
	if v := b.recent.Get([]byte(id)); v != nil && !slices.Contains(agents, string(v)) {
		agents = append(agents, string(v))
	}
	return agents
}

// mergeRecent moves every entry of agents_recent into agents in one
// commit of its own, in agents' key order. It runs on the committer,
// between commits; a merge that fails leaves both buckets as they were,
// and the next one tries again.
func (s *Store) mergeRecent() error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		b := bucketsOf(tx)
		var keys [][]byte
		c := b.recent.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			keys = append(keys, agentKey(string(v), string(k)))
		}
		slices.SortFunc(keys, bytes.Compare)
		for _, k := range keys {
			if err := put(b.agents, k, nil); err != nil {
				return err
			}
		}
		// Dropping the bucket frees its pages at once.
		if err := tx.DeleteBucket(bucketRecent); err != nil {
			return err
		}
		_, err := tx.CreateBucket(bucketRecent)
		return err
	})
}

// countRecent counts the entries of agents_recent.
func countRecent(tx *bbolt.Tx) int {
	return tx.Bucket(bucketRecent).Stats().KeyN
}
