package bolt

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tickler-go/tickler"
)

// The callback outbox of [tickler.CallbackOutbox], in two buckets:
//
//	callbacks     id -> format byte (1), uvarint length, the callback's fields
//	              as JSON (callbackRow), its payload byte for byte
//	callback_due  (next attempt as Unix ns, sign bit flipped) id -> empty
//
// Ack writes a callback in its own transaction, so it is committed (and
// fsynced) with the ack or not at all. ClaimCallbacks is a range read of
// callback_due up to now that moves each callback it returns to the end
// of its lease; FinishCallback moves a retry to its next attempt, or
// removes the callback and writes its status into the history entry the
// ack appended, found by the sequence number kept in the row.

// callbackFormat is the format byte of a callbacks value.
const callbackFormat = 1

// callbackRow is a stored callback.
type callbackRow struct {
	ID                 string `json:"id"`
	ScheduledMessageID string `json:"scheduled_message_id"`
	OutcomeID          string `json:"outcome_id,omitempty"`
	// HistorySeq is the sequence number of the history entry OutcomeID,
	// 0 if the ack appended none.
	HistorySeq  uint64          `json:"history_seq,omitempty"`
	URL         string          `json:"url"`
	Key         string          `json:"key"`
	Payload     json.RawMessage `json:"-"` // after the JSON, as it is
	Attempts    int             `json:"attempts"`
	NextAttempt int64           `json:"next_attempt"` // Unix ns, as in its callback_due key
}

func newCallbackRow(cb *tickler.Callback) *callbackRow {
	return &callbackRow{ID: cb.ID, ScheduledMessageID: cb.ScheduledMessageID, OutcomeID: cb.OutcomeID,
		URL: cb.URL, Key: cb.Key, Payload: cb.Payload, NextAttempt: cb.NextAttempt.UnixNano()}
}

func (c *callbackRow) callback() tickler.Callback {
	return tickler.Callback{ID: c.ID, ScheduledMessageID: c.ScheduledMessageID, OutcomeID: c.OutcomeID,
		URL: c.URL, Key: c.Key, Payload: c.Payload, Attempts: c.Attempts, NextAttempt: time.Unix(0, c.NextAttempt).UTC()}
}

func encodeCallback(c *callbackRow) ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	v := binary.AppendUvarint([]byte{callbackFormat}, uint64(len(b)))
	v = append(v, b...)
	return append(v, c.Payload...), nil
}

func decodeCallback(id string, v []byte) (*callbackRow, error) {
	if len(v) == 0 || v[0] != callbackFormat {
		return nil, fmt.Errorf("bolt: callback %q: %w: format %v", id, ErrNewerFormat, v[:min(len(v), 1)])
	}
	n, w := binary.Uvarint(v[1:])
	if w <= 0 || uint64(len(v)-1-w) < n {
		return nil, fmt.Errorf("bolt: callback %q: %w: %v", id, ErrCorrupt, errShort)
	}
	c := &callbackRow{}
	if err := json.Unmarshal(v[1+w:1+w+int(n)], c); err != nil {
		return nil, fmt.Errorf("bolt: callback %q: %w: %v", id, ErrCorrupt, err)
	}
	c.Payload = append(json.RawMessage(nil), v[1+w+int(n):]...)
	return c, nil
}

// putCallback stores c, if it is not nil and its id is not stored yet,
// with seq, the sequence number of its history entry (0: none).
func putCallback(b buckets, c *callbackRow, seq uint64) error {
	if c == nil || b.callbacks.Get([]byte(c.ID)) != nil {
		return nil
	}
	if c.OutcomeID != "" {
		c.HistorySeq = seq
	}
	return writeCallback(b, c)
}

// writeCallback stores c and its index entry.
func writeCallback(b buckets, c *callbackRow) error {
	v, err := encodeCallback(c)
	if err != nil {
		return fmt.Errorf("bolt: callback %q: %w", c.ID, err)
	}
	if err := put(b.callbacks, []byte(c.ID), v); err != nil {
		return err
	}
	return put(b.callbackDue, dueKey(c.NextAttempt, c.ID), nil)
}

// ClaimCallbacks implements [tickler.CallbackOutbox]: it returns once the
// leases are fsynced. A callback that cannot be decoded fails the claim.
func (s *Store) ClaimCallbacks(ctx context.Context, p tickler.ClaimCallbacksParams) ([]tickler.Callback, error) {
	var out []tickler.Callback
	now, until := p.Now.UnixNano(), p.Now.Add(p.Lease).UnixNano()
	err := s.update(ctx, func(b buckets) error {
		out = out[:0] // a batch that failed runs again alone
		var keys [][]byte
		c := b.callbackDue.Cursor()
		for k, _ := c.First(); k != nil && len(keys) < p.Limit; k, _ = c.Next() {
			at, _, ok := parseDueKey(k)
			if !ok {
				return fmt.Errorf("%w: callback_due key %x", ErrCorrupt, k)
			}
			if at > now {
				break
			}
			keys = append(keys, append([]byte(nil), k...))
		}
		for _, k := range keys {
			_, id, _ := parseDueKey(k)
			row, err := decodeCallback(id, b.callbacks.Get([]byte(id)))
			if err != nil {
				return err
			}
			if err := del(b.callbackDue, k); err != nil {
				return err
			}
			row.NextAttempt = until
			if err := writeCallback(b, row); err != nil {
				return err
			}
			out = append(out, row.callback())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// FinishCallback implements [tickler.CallbackOutbox]: it returns once the
// retry, or the removal and the history entry's status, are fsynced.
func (s *Store) FinishCallback(ctx context.Context, p tickler.FinishCallbackParams) error {
	return s.update(ctx, func(b buckets) error {
		v := b.callbacks.Get([]byte(p.ID))
		if v == nil {
			return tickler.ErrNotFound
		}
		row, err := decodeCallback(p.ID, v)
		if err != nil {
			return err
		}
		if err := del(b.callbackDue, dueKey(row.NextAttempt, row.ID)); err != nil {
			return err
		}
		row.Attempts = p.Attempts
		if p.Retry() {
			row.NextAttempt = p.NextAttempt.UnixNano()
			return writeCallback(b, row)
		}
		if err := del(b.callbacks, []byte(row.ID)); err != nil {
			return err
		}
		return finishOutcome(b, row, p.Status())
	})
}

// finishOutcome records st in the history entry of row, if it is still
// kept (a record deleted, or a history trimmed, keeps none).
func finishOutcome(b buckets, row *callbackRow, st *tickler.CallbackStatus) error {
	if row.HistorySeq == 0 {
		return nil
	}
	k := historyKey(row.ScheduledMessageID, row.HistorySeq)
	v := b.history.Get(k)
	if v == nil {
		return nil
	}
	o, err := decodeOutcome(row.ScheduledMessageID, v)
	if err != nil || o.ID != row.OutcomeID {
		return nil // not the entry it was: leave it as it is
	}
	o.Callback = st
	nv, err := encodeOutcome(&o)
	if err != nil {
		return fmt.Errorf("bolt: history of %q: %w", row.ScheduledMessageID, err)
	}
	return put(b.history, k, nv)
}
