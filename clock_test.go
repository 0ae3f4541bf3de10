package tickler_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/ticklertest"
)

// jumpClock is a clock whose wall time can jump without its timers
// noticing, as a wall-clock step or a suspended machine does to a real
// monotonic timer.
type jumpClock struct {
	tickler.Clock
	mu     sync.Mutex
	offset time.Duration
}

func (c *jumpClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Clock.Now().Add(c.offset)
}

func (c *jumpClock) jump(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// jumpBundle is a bundle whose scheduler runs on a jumpClock over the
// bundle's mock, with tickler's default max sleep, recording events.
type jumpBundle struct {
	*ticklertest.Bundle
	clk *jumpClock
	log *eventLog
}

func newJumpBundle(t *testing.T, opts ...tickler.Option) *jumpBundle {
	t.Helper()
	b := &jumpBundle{log: &eventLog{}}
	opts = append([]tickler.Option{tickler.WithMaxSleep(tickler.DefaultMaxSleep), tickler.WithEventHandler(b.log.add)}, opts...)
	b.Bundle = ticklertest.NewWith(t, ticklertest.Config{
		Options:   opts,
		WrapClock: func(c tickler.Clock) tickler.Clock { b.clk = &jumpClock{Clock: c}; return b.clk },
	})
	return b
}

// run lets d of timer time pass, in steps of the scheduler's max sleep,
// settling at each.
func (b *jumpBundle) run(d time.Duration) {
	b.TB.Helper()
	for step := min(d, tickler.DefaultMaxSleep); d > 0; d -= step {
		b.Clock.Add(step)
		b.Settle()
	}
}

func TestWallClockJumpForwardCausesNoBurst(t *testing.T) {
	t.Parallel()
	for _, policy := range []tickler.MisfirePolicy{tickler.MisfireFireOnce, tickler.MisfireSkip} {
		b := newJumpBundle(t, tickler.WithMisfirePolicy(policy))
		sm := b.Create("agent-1", "x", tickler.Cron("0 * * * *"))
		b.Settle()
		b.clk.jump(5*time.Hour + 10*time.Minute) // 01:00 to 05:00 pass in an instant
		b.run(tickler.DefaultMaxSleep)

		got := b.Recorder.Deliveries()
		if policy == tickler.MisfireFireOnce {
			if len(got) != 1 || got[0].IdempotencyKey != tickler.IdempotencyKey(sm.ID, ticklertest.Epoch().Add(time.Hour)) {
				t.Fatalf("fire-once after a 5 h jump delivered %+v, want one keyed 01:00", got)
			}
		} else if len(got) != 0 || len(b.log.of(tickler.EventSkipped)) != 1 {
			t.Fatalf("skip after a 5 h jump delivered %d, skipped %d; want 0 and 1", len(got), len(b.log.of(tickler.EventSkipped)))
		}
		cur, _ := b.Scheduler.Get(ctx, "agent-1", sm.ID)
		if want := ticklertest.Epoch().Add(6 * time.Hour); !cur.NextScheduledTime.Equal(want) {
			t.Fatalf("next after the jump = %v, want %v", cur.NextScheduledTime, want)
		}
	}
}

func TestWallClockJumpBackwardFiresNothingTwice(t *testing.T) {
	t.Parallel()
	b := newJumpBundle(t)
	rec := b.Create("agent-1", "x", tickler.Cron("0 * * * *"))
	b.Create("agent-1", "x", tickler.At(ticklertest.Epoch().Add(30*time.Minute)))
	b.run(time.Hour) // 00:30 and 01:00 fire
	if n := len(b.Recorder.Deliveries()); n != 2 {
		t.Fatalf("delivered %d before the jump, want 2", n)
	}
	b.clk.jump(-2 * time.Hour) // back to 23:00 the day before
	b.run(3 * time.Hour)       // the wall clock reaches 02:00 again
	var keys []string
	for _, d := range b.Recorder.Deliveries() {
		keys = append(keys, d.IdempotencyKey)
	}
	want := []string{
		keys[0], keys[1],
		tickler.IdempotencyKey(rec.ID, ticklertest.Epoch().Add(2*time.Hour)),
	}
	if len(keys) != 3 || !slices.Equal(keys, want) {
		t.Fatalf("keys after jumping back = %v, want %v (nothing twice)", keys, want)
	}
}

func TestWallClockJumpDelaysADueScheduleAtMostMaxSleep(t *testing.T) {
	t.Parallel()
	b := newJumpBundle(t)
	b.Create("agent-1", "x", tickler.At(ticklertest.Epoch().Add(3*time.Hour)))
	b.Settle()
	// The wall clock jumps past the due time; no timer has expired.
	b.clk.jump(3 * time.Hour)
	if n := len(b.Recorder.Deliveries()); n != 0 {
		t.Fatal("delivered before the dispatcher looked at the clock again")
	}
	b.Clock.Add(tickler.DefaultMaxSleep)
	b.Settle()
	if n := len(b.Recorder.Deliveries()); n != 1 {
		t.Fatalf("delivered %d times within the bounded sleep after a wall-clock jump, want 1", n)
	}
}

func TestDeliveryTimeoutCancelsAHungDeliverer(t *testing.T) {
	t.Parallel()
	var log eventLog
	b := ticklertest.New(t, tickler.WithDeliveryTimeout(30*time.Second),
		tickler.WithRetryPolicy(tickler.RetryPolicy{MaxAttempts: 1}), tickler.WithEventHandler(log.add))
	b.Recorder.SetFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		<-ctx.Done() // a Deliverer that would hang but for its context
		return tickler.Result{}, ctx.Err()
	})
	b.Create("agent-1", "x", tickler.At(ticklertest.Epoch().Add(time.Minute)))
	b.Clock.Add(time.Minute)
	b.WaitStarted(1)
	b.Clock.Add(30 * time.Second)
	b.Settle()
	gave := log.of(tickler.EventGaveUp)
	if len(gave) != 1 || !errors.Is(gave[0].Err, context.DeadlineExceeded) {
		t.Fatalf("events = %+v, want a give-up on the delivery timeout", log.kinds())
	}
}
