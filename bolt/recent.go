package bolt

import (
	"bytes"
	"encoding/binary"
	"iter"
	"slices"

	"go.etcd.io/bbolt"
)

// The agent index and the due index are each two buckets: the index
// proper, in the order it is read, and a bucket of recent entries keyed
// by record id:
//
//	agents         uvarint(len(agent)) agent id -> empty
//	agents_recent  id -> agent id
//	due            (next occurrence) id -> empty
//	due_recent     id -> its key in due
//
// Create adds its record to the recent buckets. Their keys are record ids,
// which the scheduler makes time-ordered (UUIDv7), so a commit of many
// creates appends to one or two pages of each. Were it to add to the
// indexes proper instead, a commit would rewrite one page of agents for
// each agent it holds a create of, and with due instants spread over
// hours one page of due for each create: 64 creates for 64 agents wrote
// about 1.5 pages each. The committer moves the recent buckets into the
// indexes, in key order and in a commit of its own, once they hold about
// mergeAt entries, so that each page of an index is rewritten once for
// many records.
//
// A reader merges the two: a recent bucket is scanned whole (it holds at
// most about mergeAt entries, plus one commit's) and the entries in the
// reader's range merged, in order, with the index's range. An entry is in
// one bucket or the other, never both; removing it removes it from
// whichever holds it. Writes other than Create (Ack, Update, CreateMany)
// go to the indexes proper: they are fewer per commit, or in key order.

// defaultMergeAt is about the most entries a recent bucket holds before
// the committer moves them into their index.
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
				recent = append(recent, agentKey(agentID, string(k)))
			}
		}
		prefix := agentKey(agentID, "")
		in := func(k []byte) bool { return bytes.HasPrefix(k, prefix) }
		for k := range merged(b.agents.Cursor(), agentKey(agentID, after), in, recent) {
			if !yield(k[len(prefix):]) {
				return
			}
		}
	}
}

// indexDue lists the record id as due at at.
func indexDue(b buckets, at int64, id string) error {
	return put(b.dueRecent, []byte(id), dueKey(at, id))
}

// unindexDue removes the record id's entry at at from the due index, from
// whichever bucket holds it.
func unindexDue(b buckets, at int64, id string) error {
	k := dueKey(at, id)
	if err := del(b.due, k); err != nil {
		return err
	}
	if bytes.Equal(b.dueRecent.Get([]byte(id)), k) {
		return del(b.dueRecent, []byte(id))
	}
	return nil
}

// dueKeys yields the keys of the due index after start (from the first if
// start is nil), in order. The keys are valid until the transaction ends.
func dueKeys(b buckets, start []byte) iter.Seq[[]byte] {
	var recent [][]byte
	c := b.dueRecent.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if start == nil || bytes.Compare(v, start) > 0 {
			recent = append(recent, v)
		}
	}
	slices.SortFunc(recent, bytes.Compare)
	return merged(b.due.Cursor(), start, func([]byte) bool { return true }, recent)
}

// merged yields the keys of c after start (from the first if start is
// nil) while in holds, merged in order with extra: keys after start, in
// order, each of which in holds.
func merged(c *bbolt.Cursor, start []byte, in func([]byte) bool, extra [][]byte) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		var k []byte
		if start == nil {
			k, _ = c.First()
		} else if k, _ = c.Seek(start); bytes.Equal(k, start) {
			k, _ = c.Next()
		}
		for {
			if k != nil && !in(k) {
				k = nil
			}
			var next []byte
			switch {
			case k == nil && len(extra) == 0:
				return
			case k == nil || (len(extra) > 0 && bytes.Compare(extra[0], k) < 0):
				next, extra = extra[0], extra[1:]
			default:
				if len(extra) > 0 && bytes.Equal(extra[0], k) {
					extra = extra[1:]
				}
				next = k
				k, _ = c.Next()
			}
			if !yield(next) {
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

// mergeRecent moves every entry of the recent buckets into their indexes
// in one commit of its own, in the indexes' key order. It runs on the
// committer, between commits; a merge that fails leaves the buckets as
// they were, and the next one tries again.
func (s *Store) mergeRecent() error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		b := bucketsOf(tx)
		var agents, dues [][]byte
		c := b.recent.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			agents = append(agents, agentKey(string(v), string(k)))
		}
		c = b.dueRecent.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			dues = append(dues, bytes.Clone(v))
		}
		for _, m := range []struct {
			index  *bbolt.Bucket
			keys   [][]byte
			recent []byte
		}{{b.agents, agents, bucketRecent}, {b.due, dues, bucketDueRecent}} {
			slices.SortFunc(m.keys, bytes.Compare)
			for _, k := range m.keys {
				if err := put(m.index, k, nil); err != nil {
					return err
				}
			}
			// Dropping the bucket frees its pages at once.
			if err := tx.DeleteBucket(m.recent); err != nil {
				return err
			}
			if _, err := tx.CreateBucket(m.recent); err != nil {
				return err
			}
		}
		return nil
	})
}

// countRecent returns the number of entries of the larger recent bucket.
func countRecent(tx *bbolt.Tx) int {
	return max(tx.Bucket(bucketRecent).Stats().KeyN, tx.Bucket(bucketDueRecent).Stats().KeyN)
}
