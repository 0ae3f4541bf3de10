package tickler_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/memory"
	"github.com/tickler-go/tickler/ticklertest"
)

func TestFailedDeliveryIsRetriedWithBackoffThenGivenUp(t *testing.T) {
	t.Parallel()
	var log eventLog
	policy := tickler.RetryPolicy{MaxAttempts: 4, Base: time.Second, Cap: 3 * time.Second}
	b := ticklertest.New(t, tickler.WithRetryPolicy(policy), tickler.WithEventHandler(log.add))
	b.Recorder.SetFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		return tickler.Result{}, errors.New("agent is down")
	})
	at := ticklertest.Epoch().Add(time.Minute)
	sm := b.Create("agent-1", "x", tickler.At(at))
	b.AdvanceTo(at)

	prev := at
	for attempt := 2; attempt <= 4; attempt++ {
		next, ok := b.Scheduler.NextWake()
		if !ok {
			t.Fatalf("no retry scheduled after attempt %d", attempt-1)
		}
		full := min(time.Second<<(attempt-2), 3*time.Second)
		if gap := next.Sub(prev); gap < full/2 || gap > full {
			t.Fatalf("backoff before attempt %d = %v, want within [%v, %v]", attempt, gap, full/2, full)
		}
		b.AdvanceTo(next)
		if n := len(b.Recorder.Deliveries()); n != attempt {
			t.Fatalf("attempts = %d, want %d", n, attempt)
		}
		prev = next
	}
	for i, d := range b.Recorder.Deliveries() {
		if d.Attempt != i+1 || d.IdempotencyKey != tickler.IdempotencyKey(sm.ID, at) || !d.Occurrence.Equal(at) {
			t.Fatalf("attempt %d: %+v", i+1, d)
		}
	}
	if want := []tickler.EventKind{tickler.EventRetry, tickler.EventRetry, tickler.EventRetry, tickler.EventGaveUp}; !slices.Equal(log.kinds(), want) {
		t.Fatalf("events = %v, want %v", log.kinds(), want)
	}
	if ev := log.of(tickler.EventGaveUp)[0]; ev.Err == nil || ev.Attempt != 4 {
		t.Fatalf("give-up event = %+v", ev)
	}
	if _, err := b.Scheduler.Get(ctx, "agent-1", sm.ID); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("a given-up one-time schedule is still stored: %v", err)
	}
	b.Advance(time.Hour)
	if n := len(b.Recorder.Deliveries()); n != 4 {
		t.Fatalf("attempts = %d after giving up, want 4", n)
	}
}

func TestGivenUpRecurringGoesOnWithNextOccurrence(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t, tickler.WithRetryPolicy(tickler.RetryPolicy{MaxAttempts: 2, Base: time.Second, Cap: time.Second}))
	var fails atomic.Bool
	fails.Store(true)
	b.Recorder.SetFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		if fails.Load() {
			return tickler.Result{}, errors.New("down")
		}
		return tickler.Result{}, nil
	})
	sm := b.Create("agent-1", "x", tickler.Cron("0 * * * *"))
	b.Advance(time.Hour + time.Minute) // 01:00 fails twice
	fails.Store(false)
	b.Advance(time.Hour) // 02:00 succeeds
	var got []string
	for _, d := range b.Recorder.Deliveries() {
		got = append(got, fmt.Sprintf("%s#%d", d.Occurrence.Format("15:04"), d.Attempt))
	}
	if want := []string{"01:00#1", "01:00#2", "02:00#1"}; !slices.Equal(got, want) {
		t.Fatalf("attempts = %v, want %v", got, want)
	}
	h, _, err := b.Scheduler.History(ctx, "agent-1", sm.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0].Status != tickler.StatusSuccess || h[1].Status != tickler.StatusFailed || h[1].Attempts != 2 {
		t.Fatalf("history = %+v", h)
	}
}

func TestPanickingDelivererIsAFailureAndSchedulerSurvives(t *testing.T) {
	t.Parallel()
	var log eventLog
	b := ticklertest.New(t, tickler.WithRetryPolicy(tickler.RetryPolicy{MaxAttempts: 1}), tickler.WithEventHandler(log.add))
	b.Recorder.SetFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		if d.Message.Messages[0].Content.Text == "boom" {
			panic("deliverer bug")
		}
		return tickler.Result{}, nil
	})
	b.Create("agent-1", "boom", tickler.At(ticklertest.Epoch().Add(time.Minute)))
	b.Create("agent-1", "fine", tickler.At(ticklertest.Epoch().Add(2*time.Minute)))
	b.Advance(time.Hour)
	if n := len(b.Recorder.Deliveries()); n != 2 {
		t.Fatalf("deliveries = %d, want 2", n)
	}
	gave := log.of(tickler.EventGaveUp)
	if len(gave) != 1 || gave[0].Err == nil || len(log.of(tickler.EventDelivered)) != 1 {
		t.Fatalf("events = %v", log.kinds())
	}
}

// failingClaims is a store whose Claim fails while failing is set, and
// reports the clock's time at each failed call.
type failingClaims struct {
	tickler.Store
	clk     interface{ Now() time.Time }
	failing atomic.Bool
	calls   chan time.Time
}

func (s *failingClaims) Claim(ctx context.Context, p tickler.ClaimParams) (tickler.ClaimResult, error) {
	if s.failing.Load() {
		select {
		case s.calls <- s.clk.Now():
		default: // a claim loop must fail the test, not block the dispatcher
		}
		return tickler.ClaimResult{}, errors.New("disk on fire")
	}
	return s.Store.Claim(ctx, p)
}

func TestFailedClaimIsRetriedAfterAPauseNotInALoop(t *testing.T) {
	t.Parallel()
	store := &failingClaims{Store: memory.New(), calls: make(chan time.Time, 100)}
	b := ticklertest.NewWith(t, ticklertest.Config{Store: store, Options: []tickler.Option{tickler.WithLookahead(5 * time.Second)}})
	store.clk = b.Clock
	b.Create("agent-1", "x", tickler.At(ticklertest.Epoch().Add(time.Minute)))
	store.failing.Store(true)
	failed := func() time.Time {
		t.Helper()
		select {
		case at := <-store.calls:
			return at
		case <-time.After(b.WaitTimeout()):
			t.Fatal("no claim was made")
			return time.Time{}
		}
	}
	b.Clock.Add(56 * time.Second) // the schedule enters the look-ahead: a claim
	b.Settle()
	first := failed()
	b.Clock.Add(time.Second)
	b.Settle()
	second := failed()
	if second.Sub(first) < time.Second {
		t.Fatalf("claim retried %v after failing, want a pause of a second", second.Sub(first))
	}
	store.failing.Store(false)
	b.Clock.Add(4 * time.Second)
	b.Settle()
	if n := len(b.Recorder.Deliveries()); n != 1 {
		t.Fatalf("delivered %d after the store recovered, want 1", n)
	}
}
