package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/tickler-go/tickler"
)

// The per-agent byte totals that [tickler.CreateParams.MaxBytesPerAgent]
// is checked against, in the agent_bytes bucket: agent key (as in the
// agent index, with no id) -> the sum of [tickler.RecordSize] of the
// agent's records, 8 bytes big-endian; an agent with none has no key.
// Every write that adds, removes or replaces a record changes its agent's
// total in the same transaction. A file that predates the bucket gets it
// from Open, with one scan of the records.

// size is [tickler.RecordSize] of the record h was decoded from: its body
// is json.Marshal of the record's message (newHeader), so the message is
// not encoded again.
func (h *header) size() int64 {
	return tickler.EncodedRecordSize(len(h.body), h.labels.name, h.labels.description, h.labels.conversationID)
}

// agentBytes returns the agent's byte total.
func agentBytes(totals *bbolt.Bucket, agentID string) int64 {
	v := totals.Get(agentKey(agentID, ""))
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

// addAgentBytes adds delta to the agent's byte total. A total never goes
// below zero: a record written by an older release after this one
// computed the totals is not in them (see doc.go), and its removal must
// not wrap.
func addAgentBytes(totals *bbolt.Bucket, agentID string, delta int64) error {
	if delta == 0 {
		return nil
	}
	n := agentBytes(totals, agentID) + delta
	if n <= 0 {
		return del(totals, agentKey(agentID, ""))
	}
	return put(totals, agentKey(agentID, ""), binary.BigEndian.AppendUint64(nil, uint64(n)))
}

// checkAgentBytes returns an error matching ErrLimitExceeded if size more
// bytes would take the agent past p.MaxBytesPerAgent.
func checkAgentBytes(totals *bbolt.Bucket, agentID string, size int64, p tickler.CreateParams) error {
	if p.MaxBytesPerAgent <= 0 {
		return nil
	}
	if have := agentBytes(totals, agentID); have+size > p.MaxBytesPerAgent {
		return fmt.Errorf("%w: agent %q has %d bytes of scheduled messages, %d more would pass %d",
			tickler.ErrLimitExceeded, agentID, have, size, p.MaxBytesPerAgent)
	}
	return nil
}

// recountAgentBytes sets the agent's byte total from its records, read
// through the agent index (a record that does not decode counts nothing).
// Only the rare paths that cannot tell the size of what they remove use
// it.
func recountAgentBytes(b buckets, agentID string) error {
	var n int64
	prefix := agentKey(agentID, "")
	c := b.agents.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if v := b.records.Get(k[len(prefix):]); v != nil {
			if h, err := decodeHeader(v); err == nil && h.agentID == agentID {
				n += h.size()
			}
		}
	}
	if n == 0 {
		return del(b.agentBytes, prefix)
	}
	return put(b.agentBytes, prefix, binary.BigEndian.AppendUint64(nil, uint64(n)))
}

// initAgentBytes creates the agent_bytes bucket of a file that lacks it,
// with the totals of the records it holds: one scan, once per file. A
// record that does not decode counts nothing.
func initAgentBytes(tx *bbolt.Tx) error {
	if tx.Bucket(bucketAgentBytes) != nil {
		return nil
	}
	totals, err := tx.CreateBucket(bucketAgentBytes)
	if err != nil {
		return err
	}
	sums := make(map[string]int64)
	c := tx.Bucket(bucketRecords).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if h, err := decodeHeader(v); err == nil {
			sums[h.agentID] += h.size()
		}
	}
	for agent, n := range sums {
		if n > 0 {
			if err := totals.Put(agentKey(agent, ""), binary.BigEndian.AppendUint64(nil, uint64(n))); err != nil {
				return err
			}
		}
	}
	return nil
}
