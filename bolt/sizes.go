package bolt

import (
	"encoding/binary"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/tickler-go/tickler"
)

// The per-agent totals, in the agent_bytes bucket: agent key (as in the
// agent index, with no id) -> the sum of [tickler.RecordSize] of the
// agent's records, then their number, each 8 bytes big-endian; an agent
// with no records has no key. [tickler.CreateParams.MaxBytesPerAgent] is
// checked against the sum, and [tickler.CreateParams.MaxPerAgent] against
// the number, so that neither check reads the agent index. Every write that
// adds, removes or replaces a record changes its agent's totals in the same
// transaction. A file that predates the bucket (or its counts: layout 1)
// gets it from Open, with one scan of the records and the agent index.

// size is [tickler.RecordSize] of the record h was decoded from: its body
// is json.Marshal of the record's message (newHeader), so the message is
// not encoded again.
func (h *header) size() int64 {
	return tickler.EncodedRecordSize(len(h.body), h.labels.name, h.labels.description, h.labels.conversationID)
}

// agentTotals returns the agent's byte total and number of records.
func agentTotals(totals *bbolt.Bucket, agentID string) (size, n int64) {
	v := totals.Get(agentKey(agentID, ""))
	if len(v) != 16 {
		return 0, 0
	}
	return int64(binary.BigEndian.Uint64(v)), int64(binary.BigEndian.Uint64(v[8:]))
}

// addAgentTotals adds size to the agent's byte total and n to its number
// of records.
func addAgentTotals(totals *bbolt.Bucket, agentID string, size, n int64) error {
	if size == 0 && n == 0 {
		return nil
	}
	have, count := agentTotals(totals, agentID)
	return putAgentTotals(totals, agentID, have+size, count+n)
}

// putAgentTotals sets the agent's totals; an agent with no records loses
// its key. Neither total goes below zero.
func putAgentTotals(totals *bbolt.Bucket, agentID string, size, n int64) error {
	if n <= 0 {
		return del(totals, agentKey(agentID, ""))
	}
	v := binary.BigEndian.AppendUint64(nil, uint64(max(size, 0)))
	return put(totals, agentKey(agentID, ""), binary.BigEndian.AppendUint64(v, uint64(n)))
}

// checkAgentCount returns an error matching ErrLimitExceeded if n more
// records would take the agent past p.MaxPerAgent.
func checkAgentCount(totals *bbolt.Bucket, agentID string, n int64, p tickler.CreateParams) error {
	if p.MaxPerAgent <= 0 {
		return nil
	}
	if _, have := agentTotals(totals, agentID); have+n > int64(p.MaxPerAgent) {
		if n == 1 {
			return fmt.Errorf("%w: agent %q has %d scheduled messages, the most it may have",
				tickler.ErrLimitExceeded, agentID, p.MaxPerAgent)
		}
		return fmt.Errorf("%w: agent %q has %d scheduled messages, %d more would pass %d",
			tickler.ErrLimitExceeded, agentID, have, n, p.MaxPerAgent)
	}
	return nil
}

// checkAgentBytes returns an error matching ErrLimitExceeded if size more
// bytes would take the agent past p.MaxBytesPerAgent.
func checkAgentBytes(totals *bbolt.Bucket, agentID string, size int64, p tickler.CreateParams) error {
	if p.MaxBytesPerAgent <= 0 {
		return nil
	}
	if have, _ := agentTotals(totals, agentID); have+size > p.MaxBytesPerAgent {
		return fmt.Errorf("%w: agent %q has %d bytes of scheduled messages, %d more would pass %d",
			tickler.ErrLimitExceeded, agentID, have, size, p.MaxBytesPerAgent)
	}
	return nil
}

// recountAgent sets the agent's totals from its records, read through the
// agent index (a record that does not decode counts nothing). Only the
// rare paths that cannot tell the size of what they remove use it.
func recountAgent(b buckets, agentID string) error {
	var size, n int64
	for id := range agentIDs(b, agentID, "") {
		if v := b.records.Get(id); v != nil {
			if h, err := decodeHeader(v); err == nil && h.agentID == agentID {
				size += h.size()
				n++
			}
		}
	}
	return putAgentTotals(b.agentBytes, agentID, size, n)
}

// initAgentBytes creates the agent_bytes bucket of a file that lacks it,
// with the totals of the records it holds: one scan of the records for
// the bytes and of the agent index for the counts, once per file. A
// record that does not decode counts no bytes; it counts as one of its
// agent's records as long as the agent index lists it, as it counts
// against the limit until it is deleted.
func initAgentBytes(tx *bbolt.Tx) error {
	if tx.Bucket(bucketAgentBytes) != nil {
		return nil
	}
	totals, err := tx.CreateBucket(bucketAgentBytes)
	if err != nil {
		return err
	}
	type sum struct{ size, n int64 }
	sums := make(map[string]sum)
	c := tx.Bucket(bucketRecords).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if h, err := decodeHeader(v); err == nil {
			s := sums[h.agentID]
			s.size += h.size()
			sums[h.agentID] = s
		}
	}
	c = tx.Bucket(bucketAgents).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if n, w := binary.Uvarint(k); w > 0 && uint64(len(k)-w) >= n {
			agent := string(k[w : w+int(n)])
			s := sums[agent]
			s.n++
			sums[agent] = s
		}
	}
	c = tx.Bucket(bucketRecent).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		s := sums[string(v)]
		s.n++
		sums[string(v)] = s
	}
	for agent, s := range sums {
		if err := putAgentTotals(totals, agent, s.size, s.n); err != nil {
			return err
		}
	}
	return nil
}
