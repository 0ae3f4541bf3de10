package tickler_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/ticklertest"
)

func TestDeleteBeforeDueNeverDelivers(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	one := b.Create("agent-1", "x", tickler.At(ticklertest.Epoch().Add(time.Minute)))
	rec := b.Create("agent-1", "y", tickler.Cron("* * * * *"))
	keep := b.Create("agent-1", "z", tickler.At(ticklertest.Epoch().Add(time.Minute)))
	for _, id := range []string{one.ID, rec.ID} {
		if err := b.Scheduler.Delete(ctx, "agent-1", id); err != nil {
			t.Fatal(err)
		}
	}
	b.Advance(time.Hour)
	got := b.Recorder.Deliveries()
	if len(got) != 1 || got[0].ScheduledMessageID != keep.ID {
		t.Fatalf("deliveries = %+v, want only %s", got, keep.ID)
	}
}

func TestDeleteOfAnotherAgentsScheduleIsNotFound(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	sm := b.Create("agent-1", "x", tickler.Cron("* * * * *"))
	if _, err := b.Scheduler.Get(ctx, "agent-2", sm.ID); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("Get by another agent: %v", err)
	}
	if err := b.Scheduler.Delete(ctx, "agent-2", sm.ID); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("Delete by another agent: %v", err)
	}
	if _, err := b.Scheduler.Get(ctx, "agent-1", sm.ID); err != nil {
		t.Fatalf("the owner's schedule is gone: %v", err)
	}
}

func TestDeleteDuringDeliveryStartsNoFurtherAttempt(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t, tickler.WithRetryPolicy(tickler.RetryPolicy{MaxAttempts: 5, Base: time.Second, Cap: time.Second}))
	release := b.Hold(errors.New("agent unavailable"))
	sm := b.Create("agent-1", "x", tickler.Cron("* * * * *"))
	b.Clock.Add(time.Minute)
	b.WaitStarted(1) // the first attempt has started
	if err := b.Scheduler.Delete(ctx, "agent-1", sm.ID); err != nil {
		t.Fatal(err)
	}
	release()
	b.Settle()
	b.Advance(time.Hour)
	if n := len(b.Recorder.Deliveries()); n != 1 {
		t.Fatalf("attempts = %d, want 1: a deleted schedule started another", n)
	}
}
