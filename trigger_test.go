package tickler_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/ticklertest"
)

func TestTriggerDeliversNowWithoutMovingTheSchedule(t *testing.T) {
	t.Parallel()
	var log eventLog
	b := ticklertest.New(t, tickler.WithEventHandler(log.add))
	sm := b.Create("agent-1", "x", tickler.Cron("0 9 * * *"))
	b.Advance(time.Hour)

	key, err := b.Scheduler.Trigger(ctx, "agent-1", sm.ID)
	if err != nil {
		t.Fatal(err)
	}
	b.Settle()
	got := b.Recorder.Deliveries()
	if len(got) != 1 || got[0].IdempotencyKey != key || !got[0].Triggered {
		t.Fatalf("deliveries = %+v, want one triggered with key %q", got, key)
	}
	if scheduled := tickler.IdempotencyKey(sm.ID, got[0].Occurrence); key == scheduled || !strings.HasPrefix(key, scheduled+"!") {
		t.Fatalf("trigger key %q, want %q followed by !<suffix>", key, scheduled)
	}
	cur, err := b.Scheduler.Get(ctx, "agent-1", sm.ID)
	if err != nil || !cur.NextScheduledTime.Equal(ticklertest.Epoch().Add(9*time.Hour)) {
		t.Fatalf("after Trigger: %v, %v; want the schedule unmoved at 09:00", cur, err)
	}
	hist, _, err := b.Scheduler.History(ctx, "agent-1", sm.ID, 0, 10)
	if err != nil || len(hist) != 1 || !hist[0].Triggered || hist[0].Status != tickler.StatusSuccess {
		t.Fatalf("history = %+v, %v; want one triggered success", hist, err)
	}
	if evs := log.of(tickler.EventDelivered); len(evs) != 1 || !evs[0].Triggered {
		t.Fatalf("delivered events = %+v, want one triggered", evs)
	}

	// The schedule still fires on time, with its own key.
	b.AdvanceTo(ticklertest.Epoch().Add(9 * time.Hour))
	if keys := b.Recorder.Keys(); len(keys) != 2 || keys[1] != tickler.IdempotencyKey(sm.ID, ticklertest.Epoch().Add(9*time.Hour)) {
		t.Fatalf("keys = %v, want the trigger's then 09:00's", keys)
	}
}

func TestTriggerIsRetriedAndStopsOnDelete(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t, tickler.WithRetryPolicy(tickler.RetryPolicy{MaxAttempts: 5, Base: time.Minute}))
	b.Recorder.SetFunc(func(context.Context, *tickler.Delivery) (tickler.Result, error) {
		return tickler.Result{}, errors.New("down")
	})
	sm := b.Create("agent-1", "x", tickler.Cron("0 0 1 1 *"))
	if _, err := b.Scheduler.Trigger(ctx, "agent-1", sm.ID); err != nil {
		t.Fatal(err)
	}
	b.Settle()
	b.Advance(time.Minute) // the second attempt, 30 to 60 s after the first (the third is at least 90 s after it)
	if n := len(b.Recorder.Deliveries()); n != 2 {
		t.Fatalf("attempts = %d, want 2", n)
	}
	if err := b.Scheduler.Delete(ctx, "agent-1", sm.ID); err != nil {
		t.Fatal(err)
	}
	b.Advance(time.Hour)
	if n := len(b.Recorder.Deliveries()); n != 2 {
		t.Fatalf("attempts after Delete = %d, want still 2", n)
	}
	if _, err := b.Scheduler.Trigger(ctx, "agent-2", sm.ID); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("Trigger by another agent = %v, want ErrNotFound", err)
	}
}
