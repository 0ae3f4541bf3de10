package memory

import (
	"context"
	"slices"

	"github.com/tickler-go/tickler"
)

// The callback outbox of [tickler.CallbackOutbox]: callbacks written by
// Ack under the same lock as the rest of the ack, claimed with a lease
// (their next attempt moved to the lease's end) and finished into the
// history entry of their occurrence.

// putCallback stores a copy of cb, unless it is nil or its id is stored
// already; s.mu is held.
func (s *Store) putCallback(cb *tickler.Callback) {
	if cb == nil || s.callbacks[cb.ID] != nil {
		return
	}
	c := *cb
	c.Payload = slices.Clone(cb.Payload)
	s.callbacks[c.ID] = &c
	s.callbackDue.ReplaceOrInsert(dueKey{c.NextAttempt.UnixNano(), c.ID})
}

// moveCallback makes c due at its NextAttempt, set by the caller from
// the due instant at; s.mu is held.
func (s *Store) moveCallback(c *tickler.Callback, at int64) {
	s.callbackDue.Delete(dueKey{at, c.ID})
	s.callbackDue.ReplaceOrInsert(dueKey{c.NextAttempt.UnixNano(), c.ID})
}

// ClaimCallbacks implements [tickler.CallbackOutbox].
func (s *Store) ClaimCallbacks(ctx context.Context, p tickler.ClaimCallbacksParams) ([]tickler.Callback, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := p.Now.UnixNano()
	var due []dueKey
	s.callbackDue.Ascend(func(k dueKey) bool {
		if k.at > now || len(due) == p.Limit {
			return false
		}
		due = append(due, k)
		return true
	})
	out := make([]tickler.Callback, 0, len(due))
	for _, k := range due {
		c := s.callbacks[k.id]
		c.NextAttempt = p.Now.Add(p.Lease)
		s.moveCallback(c, k.at)
		cp := *c
		cp.Payload = slices.Clone(c.Payload)
		out = append(out, cp)
	}
	return out, nil
}

// FinishCallback implements [tickler.CallbackOutbox].
func (s *Store) FinishCallback(ctx context.Context, p tickler.FinishCallbackParams) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.callbacks[p.ID]
	if c == nil {
		return tickler.ErrNotFound
	}
	at := c.NextAttempt.UnixNano()
	c.Attempts = p.Attempts
	if p.Retry() {
		c.NextAttempt = p.NextAttempt
		s.moveCallback(c, at)
		return nil
	}
	delete(s.callbacks, p.ID)
	s.callbackDue.Delete(dueKey{at, p.ID})
	if c.OutcomeID == "" {
		return nil
	}
	h := s.history[c.ScheduledMessageID]
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].ID == c.OutcomeID {
			h[i].Callback = p.Status()
			break
		}
	}
	return nil
}
