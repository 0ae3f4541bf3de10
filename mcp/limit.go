package mcp

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
	"time"

	"github.com/tickler-go/tickler"
)

// limits enforces the MCP side's bounds on what an agent creates: a rate
// of schedule_message calls and a count of the agent's schedules. A model
// calling a tool in a loop meets one of them long before it fills a store.
//
// Creates of one agent are serialized through a striped lock held across
// the count and the create, so that parallel calls cannot both pass a
// count of n-1; agents that share a stripe only wait for each other briefly.
type limits struct {
	s     *tickler.Scheduler
	clock tickler.Clock
	max   int
	rate  int
	per   time.Duration

	seed    maphash.Seed
	stripes [64]sync.Mutex

	mu    sync.Mutex             // guards calls
	calls map[string][]time.Time // per agent, the times of its calls within per, oldest first
}

func newLimits(s *tickler.Scheduler, o *options) *limits {
	return &limits{s: s, clock: o.clock, max: o.maxSchedules, rate: o.rate, per: o.per,
		seed: maphash.MakeSeed(), calls: make(map[string][]time.Time)}
}

// lock takes the agent's stripe; the caller calls the returned unlock.
func (l *limits) lock(agent string) (unlock func()) {
	m := &l.stripes[maphash.String(l.seed, agent)%uint64(len(l.stripes))]
	m.Lock()
	return m.Unlock
}

// take counts a call of the agent against the rate, or returns an error
// saying when the next call will be allowed.
func (l *limits) take(agent string) error {
	if l.rate <= 0 {
		return nil
	}
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.calls) > 4096 {
		l.sweepLocked(now)
	}
	calls := l.recentLocked(agent, now)
	if len(calls) >= l.rate {
		wait := calls[0].Add(l.per).Sub(now).Round(time.Second)
		return &limitError{fmt.Sprintf("too many schedule_message calls: at most %d per %v for this agent; try again in %v", l.rate, l.per, max(wait, time.Second))}
	}
	l.calls[agent] = append(calls, now)
	return nil
}

// recentLocked returns the agent's calls within the window ending at now.
func (l *limits) recentLocked(agent string, now time.Time) []time.Time {
	calls := l.calls[agent]
	i := 0
	for i < len(calls) && !calls[i].Add(l.per).After(now) {
		i++
	}
	return calls[i:]
}

// sweepLocked forgets agents with no call within the window.
func (l *limits) sweepLocked(now time.Time) {
	for agent := range l.calls {
		if len(l.recentLocked(agent, now)) == 0 {
			delete(l.calls, agent)
		}
	}
}

// limitError is the answer to a call over one of the limits, already in
// words a model can act on.
type limitError struct{ msg string }

func (e *limitError) Error() string { return e.msg }

// room returns a *limitError if the agent already holds max schedules, or
// the scheduler's error if counting failed. It counts by listing, and stops
// at max.
func (l *limits) room(ctx context.Context, agent string) error {
	if l.max <= 0 {
		return nil
	}
	n, after := 0, ""
	for n < l.max {
		p, err := l.s.List(ctx, agent, after, l.max-n)
		if err != nil {
			return err
		}
		n += len(p.ScheduledMessages)
		if !p.HasNextPage || len(p.ScheduledMessages) == 0 {
			break
		}
		after = p.ScheduledMessages[len(p.ScheduledMessages)-1].ID
	}
	if n >= l.max {
		return &limitError{fmt.Sprintf("this agent already has %d schedules, the most it may hold; cancel one it no longer needs with cancel_schedule (list_my_schedules shows them) before creating another", l.max)}
	}
	return nil
}
