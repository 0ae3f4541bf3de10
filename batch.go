package tickler

import (
	"context"
	"errors"
	"fmt"
)

// CreateMany validates every request, then stores a scheduled message for
// each, all for the agent, and returns them in the order of reqs. It is
// all or nothing: an invalid request returns an *[ItemError] naming its
// index and wrapping the *[ValidationError] (as Create would return it),
// and nothing is stored; a store error, a duplicate id or the per-agent
// limits ([WithMaxSchedulesPerAgent], [WithMaxBytesPerAgent], counting the
// whole batch) store nothing either.
// Once CreateMany returns, every message is as durable as the store makes
// it (one commit for the bolt store, however many there are), and each
// fires at its first occurrence. The returned messages share their slices
// with reqs.
//
// Over a store that is a [BatchCreator] the batch is one atomic write.
// Over another store CreateMany creates the messages one by one and, if
// one fails, deletes those it stored before returning the error; a crash
// in between may leave some of them stored.
func (s *Scheduler) CreateMany(ctx context.Context, agentID string, reqs []CreateRequest) ([]*ScheduledMessage, error) {
	if err := checkAgentID(agentID); err != nil {
		return nil, err
	}
	now := s.o.clock.Now()
	rs := make([]*Record, len(reqs))
	for i := range reqs {
		r, err := s.newRecord(agentID, &reqs[i], now)
		if err != nil {
			return nil, &ItemError{Index: i, Err: err}
		}
		rs[i] = r
	}
	if len(rs) == 0 {
		return []*ScheduledMessage{}, nil
	}
	if err := s.createMany(ctx, rs); err != nil {
		return nil, err
	}
	out := make([]*ScheduledMessage, len(rs))
	for i, r := range rs {
		s.d.offer(Due{ID: r.ID, At: r.Next, Version: r.Version})
		out[i] = r.scheduled()
	}
	return out, nil
}

// createMany stores rs, all or none.
func (s *Scheduler) createMany(ctx context.Context, rs []*Record) error {
	if bc, ok := s.store.(BatchCreator); ok {
		err := bc.CreateMany(ctx, rs, s.createParams())
		if errors.Is(err, ErrLimitExceeded) {
			return s.agentLimitError(rs[0].AgentID, err)
		}
		if err != nil {
			return fmt.Errorf("tickler: create many: %w", err)
		}
		return nil
	}
	for i, r := range rs {
		if err := s.create(ctx, r); err != nil {
			// Undo what was stored; the records were never offered, and
			// none fires unless a claim found it meanwhile, which the
			// forget of each delete covers.
			ctx := context.WithoutCancel(ctx)
			for _, c := range rs[:i] {
				if derr := s.store.Delete(ctx, c.AgentID, c.ID); derr != nil && !errors.Is(derr, ErrNotFound) {
					s.o.logger.Error("tickler: create many: undoing a create failed", "id", c.ID, "err", derr)
				}
				s.d.forget(c.ID)
			}
			return &ItemError{Index: i, Err: err}
		}
	}
	return nil
}

// DeleteMany removes the agent's scheduled messages with the ids, each on
// its own: it returns one error per id, in order, nil for a message it
// removed and one matching [ErrNotFound] for an id the agent does not
// have. As with Delete, once DeleteMany returns, none of the removed
// messages starts another delivery. Over a store that is a [BatchDeleter]
// (the bolt store) the deletes share commits; over another store they are
// one Delete each.
func (s *Scheduler) DeleteMany(ctx context.Context, agentID string, ids []string) []error {
	var errs []error
	if bd, ok := s.store.(BatchDeleter); ok {
		errs = bd.DeleteMany(ctx, agentID, ids)
	} else {
		errs = make([]error, len(ids))
		for i, id := range ids {
			errs[i] = s.store.Delete(ctx, agentID, id)
		}
	}
	for i, id := range ids {
		if errs[i] != nil {
			errs[i] = fmt.Errorf("tickler: delete %s: %w", id, errs[i])
			continue
		}
		s.d.forget(id)
	}
	return errs
}
