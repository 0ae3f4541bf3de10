package tickler_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/memory"
	"github.com/tickler-go/tickler/ticklertest"
)

// jumpBundle is a scheduler on a jumpClock, recording deliveries and events.
type jumpBundle struct {
	t     *testing.T
	mock  *clock.Mock
	clk   *jumpClock
	s     *tickler.Scheduler
	rec   *ticklertest.Recorder
	log   *eventLog
	store tickler.Store
}

func newJumpBundle(t *testing.T, opts ...tickler.Option) *jumpBundle {
	t.Helper()
	mock := clock.NewMock()
	mock.Set(ticklertest.Epoch)
	b := &jumpBundle{t: t, mock: mock, clk: &jumpClock{Mock: mock}, rec: &ticklertest.Recorder{}, log: &eventLog{}, store: memory.New()}
	opts = append([]tickler.Option{tickler.WithClock(b.clk), tickler.WithEventHandler(b.log.add)}, opts...)
	s, err := tickler.New(b.store, b.rec, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(ctx) })
	b.s = s
	return b
}

func (b *jumpBundle) settle() {
	b.t.Helper()
	c, cancel := context.WithTimeout(ctx, ticklertest.WaitTimeout)
	defer cancel()
	if err := b.s.WaitIdle(c); err != nil {
		b.t.Fatal(err)
	}
}

// run lets d of timer time pass, in steps of the scheduler's max sleep,
// settling at each.
func (b *jumpBundle) run(d time.Duration) {
	b.t.Helper()
	for step := min(d, tickler.DefaultMaxSleep); d > 0; d -= step {
		b.mock.Add(step)
		b.settle()
	}
}

func (b *jumpBundle) create(sched tickler.Schedule) *tickler.ScheduledMessage {
	b.t.Helper()
	sm, err := b.s.Create(ctx, "agent-1", tickler.CreateRequest{Messages: userText("x"), Schedule: sched})
	if err != nil {
		b.t.Fatal(err)
	}
	return sm
}

func TestWallClockJumpForwardCausesNoBurst(t *testing.T) {
	t.Parallel()
	for _, policy := range []tickler.MisfirePolicy{tickler.MisfireFireOnce, tickler.MisfireSkip} {
		b := newJumpBundle(t, tickler.WithMisfirePolicy(policy))
		sm := b.create(tickler.Cron("0 * * * *"))
		b.settle()
		b.clk.jump(5*time.Hour + 10*time.Minute) // 01:00 to 05:00 pass in an instant
		b.run(tickler.DefaultMaxSleep)

		got := b.rec.Deliveries()
		if policy == tickler.MisfireFireOnce {
			if len(got) != 1 || got[0].IdempotencyKey != tickler.IdempotencyKey(sm.ID, ticklertest.Epoch.Add(time.Hour)) {
				t.Fatalf("fire-once after a 5 h jump delivered %+v, want one keyed 01:00", got)
			}
		} else if len(got) != 0 || len(b.log.of(tickler.EventSkipped)) != 1 {
			t.Fatalf("skip after a 5 h jump delivered %d, skipped %d; want 0 and 1", len(got), len(b.log.of(tickler.EventSkipped)))
		}
		cur, _ := b.s.Get(ctx, "agent-1", sm.ID)
		if want := ticklertest.Epoch.Add(6 * time.Hour); !cur.NextScheduledTime.Equal(want) {
			t.Fatalf("next after the jump = %v, want %v", cur.NextScheduledTime, want)
		}
	}
}

func TestWallClockJumpBackwardFiresNothingTwice(t *testing.T) {
	t.Parallel()
	b := newJumpBundle(t)
	rec := b.create(tickler.Cron("0 * * * *"))
	b.create(tickler.At(ticklertest.Epoch.Add(30 * time.Minute)))
	b.run(time.Hour) // 00:30 and 01:00 fire
	if n := len(b.rec.Deliveries()); n != 2 {
		t.Fatalf("delivered %d before the jump, want 2", n)
	}
	b.clk.jump(-2 * time.Hour) // back to 23:00 the day before
	b.run(3 * time.Hour)       // the wall clock reaches 02:00 again
	var keys []string
	for _, d := range b.rec.Deliveries() {
		keys = append(keys, d.IdempotencyKey)
	}
	want := []string{
		keys[0], keys[1],
		tickler.IdempotencyKey(rec.ID, ticklertest.Epoch.Add(2*time.Hour)),
	}
	if len(keys) != 3 || !slices.Equal(keys, want) {
		t.Fatalf("keys after jumping back = %v, want %v (nothing twice)", keys, want)
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
	calls := b.Recorder.Calls()
	b.Create("agent-1", "x", tickler.At(ticklertest.Epoch.Add(time.Minute)))
	b.Clock.Add(time.Minute)
	<-calls
	b.Clock.Add(30 * time.Second)
	b.Settle()
	gave := log.of(tickler.EventGaveUp)
	if len(gave) != 1 || !errors.Is(gave[0].Err, context.DeadlineExceeded) {
		t.Fatalf("events = %+v, want a give-up on the delivery timeout", log.kinds())
	}
}
