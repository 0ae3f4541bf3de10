package tickler

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Update changes the agent's scheduled message in place and returns it. A
// new schedule starts from now: its first occurrence is computed as at
// Create, and a one-time instant must be in the future. Input is validated
// as by Create, and nothing changes when it does not validate.
//
// With [WithMaxBytesPerAgent], an update that makes the message larger
// and would take the agent's messages past the bound is refused with a
// *[ValidationError] on "agent_id" that matches [ErrLimitExceeded], as a
// create is, and changes nothing; one that does not grow it is never
// refused by that bound.
//
// An occurrence being delivered when Update returns runs to its end with
// the old content; if it has not been recorded as done yet, it is
// delivered again, with the same idempotency key and the new content.
func (s *Scheduler) Update(ctx context.Context, agentID, id string, req UpdateRequest) (*ScheduledMessage, error) {
	return s.modify(ctx, "update", agentID, id, func(r *Record, now time.Time) error {
		msg := r.Message
		if req.Messages != nil {
			msg.Messages = req.Messages
		}
		if req.CallbackURL != nil {
			msg.CallbackURL = *req.CallbackURL
		}
		if req.IncludeReturnMessageTypes != nil {
			msg.IncludeReturnMessageTypes = *req.IncludeReturnMessageTypes
		}
		if req.MaxSteps != nil {
			msg.MaxSteps = req.MaxSteps
		}
		if err := msg.validate(); err != nil {
			return err
		}
		name, desc, conv := r.Name, r.Description, r.ConversationID
		for _, f := range []struct{ dst, v *string }{{&name, req.Name}, {&desc, req.Description}, {&conv, req.ConversationID}} {
			if f.v != nil {
				*f.dst = *f.v
			}
		}
		if err := checkLabels(name, desc, conv); err != nil {
			return err
		}
		if req.Retry != nil {
			if err := req.Retry.Validate(); err != nil {
				return err
			}
			r.Retry = clonePtr(req.Retry)
		}
		sched, next := r.Schedule, r.Next
		if req.Schedule != nil {
			var err error
			sched = *req.Schedule
			_, next, err = sched.first(now)
			if err != nil {
				return err
			}
		}
		trig, err := sched.compile()
		if err != nil {
			return err
		}
		first := next
		if first.IsZero() {
			first = trig.Next(now)
		}
		if err := s.checkLimits(&msg, trig, first); err != nil {
			return err
		}
		r.Message, r.Schedule = msg, sched
		r.Name, r.Description, r.ConversationID = name, desc, conv
		if r.PausedAt.IsZero() {
			r.Next = next
		}
		return nil
	})
}

// Pause stops the agent's scheduled message from firing until Resume,
// and returns it. A paused message misses its occurrences silently, by
// design, and lists with no next_scheduled_time and "paused": true.
// Pausing a paused message changes nothing.
func (s *Scheduler) Pause(ctx context.Context, agentID, id string) (*ScheduledMessage, error) {
	return s.modify(ctx, "pause", agentID, id, func(r *Record, now time.Time) error {
		if r.PausedAt.IsZero() {
			r.PausedAt, r.Next = now, time.Time{}
		}
		return nil
	})
}

// Resume lets a paused scheduled message fire again, and returns it. The
// occurrences it missed while paused follow the misfire policy, as those
// missed while the scheduler is stopped do: by default they collapse into
// one delivery right away. Resuming a message that is not paused changes
// nothing.
func (s *Scheduler) Resume(ctx context.Context, agentID, id string) (*ScheduledMessage, error) {
	return s.modify(ctx, "resume", agentID, id, func(r *Record, now time.Time) error {
		if r.PausedAt.IsZero() {
			return nil
		}
		trig, err := r.Schedule.compile()
		if err != nil {
			return err
		}
		next := trig.Next(r.PausedAt)
		if r.Schedule.ScheduledAt != nil {
			// A one-time message paused at or after its instant had not been
			// recorded as done: it is still due.
			next = time.UnixMilli(*r.Schedule.ScheduledAt).UTC()
		}
		if next.IsZero() {
			return invalid("schedule.cron_expression", "never fires again")
		}
		r.PausedAt, r.Next = time.Time{}, next
		return nil
	})
}

// maxModifyTries bounds the retries of an update that meets a concurrent
// ack (a delivery of the same message ending).
const maxModifyTries = 10

// modify applies change to the agent's record id and stores it, fenced by
// its version, retrying when a delivery's ack changed it meanwhile.
func (s *Scheduler) modify(ctx context.Context, op, agentID, id string, change func(r *Record, now time.Time) error) (*ScheduledMessage, error) {
	for range maxModifyTries {
		r, err := s.store.Get(ctx, agentID, id)
		if err != nil {
			return nil, fmt.Errorf("tickler: %s %s: %w", op, id, err)
		}
		before := r.Version
		if err := change(r, s.o.clock.Now()); err != nil {
			return nil, err
		}
		r.Version = before
		err = s.store.Update(ctx, r, UpdateParams{MaxBytesPerAgent: s.o.maxBytesPerAgent})
		if errors.Is(err, ErrConflict) {
			continue
		}
		if errors.Is(err, ErrLimitExceeded) {
			return nil, s.agentLimitError(r.AgentID, err)
		}
		if err != nil {
			return nil, fmt.Errorf("tickler: %s %s: %w", op, id, err)
		}
		r.Version = before + 1
		s.d.offer(Due{ID: r.ID, At: r.Next, Version: r.Version})
		return r.scheduled(), nil
	}
	return nil, fmt.Errorf("tickler: %s %s: %w", op, id, ErrConflict)
}
