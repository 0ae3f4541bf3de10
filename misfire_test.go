package tickler_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/memory"
	"github.com/tickler-go/tickler/ticklertest"
)

func TestMisfireFireOnceCollapsesMissedOccurrences(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	rec := b.Create("agent-1", "hourly", tickler.Cron("0 * * * *"))
	one := b.Create("agent-1", "once", tickler.At(ticklertest.Epoch().Add(30*time.Minute)))
	down := ticklertest.Epoch().Add(5*time.Hour + 10*time.Minute)
	nb := restart(t, b, down)

	got := nb.Recorder.Deliveries()
	keys := map[string]string{}
	for _, d := range got {
		keys[d.ScheduledMessageID] = d.IdempotencyKey
	}
	if len(got) != 2 ||
		keys[rec.ID] != tickler.IdempotencyKey(rec.ID, ticklertest.Epoch().Add(time.Hour)) ||
		keys[one.ID] != tickler.IdempotencyKey(one.ID, ticklertest.Epoch().Add(30*time.Minute)) {
		t.Fatalf("deliveries after 5 h down = %+v, want one per schedule keyed by the first missed occurrence", got)
	}
	sm, err := nb.Scheduler.Get(ctx, "agent-1", rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := ticklertest.Epoch().Add(6 * time.Hour); !sm.NextScheduledTime.Equal(want) {
		t.Fatalf("next after catch-up = %v, want %v", sm.NextScheduledTime, want)
	}
}

func TestMisfireSkipReportsEachSkip(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	rec := b.Create("agent-1", "hourly", tickler.Cron("0 * * * *"))
	one := b.Create("agent-1", "once", tickler.At(ticklertest.Epoch().Add(30*time.Minute)))
	var log eventLog
	nb := restart(t, b, ticklertest.Epoch().Add(5*time.Hour+10*time.Minute),
		tickler.WithMisfirePolicy(tickler.MisfireSkip), tickler.WithEventHandler(log.add))
	if n := len(nb.Recorder.Deliveries()); n != 0 {
		t.Fatalf("skip policy delivered %d", n)
	}
	skips := log.of(tickler.EventSkipped)
	if len(skips) != 2 || skips[0].Reason == "" {
		t.Fatalf("skip events = %+v, want 2", skips)
	}
	if _, err := nb.Scheduler.Get(ctx, "agent-1", one.ID); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("a skipped one-time schedule is still stored: %v", err)
	}
	sm, _ := nb.Scheduler.Get(ctx, "agent-1", rec.ID)
	if want := ticklertest.Epoch().Add(6 * time.Hour); !sm.NextScheduledTime.Equal(want) {
		t.Fatalf("next after skipping = %v, want %v", sm.NextScheduledTime, want)
	}
	nb.Advance(time.Hour)
	if n := len(nb.Recorder.Deliveries()); n != 1 {
		t.Fatalf("after skipping, the next occurrence delivered %d times, want 1", n)
	}
}

func TestMisfireGraceSkipsOnlyOldOccurrences(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	old := b.Create("agent-1", "old", tickler.At(ticklertest.Epoch().Add(time.Minute)))
	recent := b.Create("agent-1", "recent", tickler.At(ticklertest.Epoch().Add(3*time.Hour)))
	var log eventLog
	nb := restart(t, b, ticklertest.Epoch().Add(4*time.Hour),
		tickler.WithMisfireGrace(2*time.Hour), tickler.WithEventHandler(log.add))
	got := nb.Recorder.Deliveries()
	if len(got) != 1 || got[0].ScheduledMessageID != recent.ID {
		t.Fatalf("deliveries = %+v, want only the one missed by 1 h", got)
	}
	skips := log.of(tickler.EventSkipped)
	if len(skips) != 1 || skips[0].ScheduledMessageID != old.ID {
		t.Fatalf("skips = %+v, want the one missed by 4 h", skips)
	}
}

func TestRedeliveryAfterCrashCarriesTheSameKey(t *testing.T) {
	t.Parallel()
	store := memory.New()
	first := ticklertest.NewWith(t, ticklertest.Config{Store: store})
	first.Recorder.SetFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		<-ctx.Done() // the process dies mid-delivery
		return tickler.Result{}, ctx.Err()
	})
	at := ticklertest.Epoch().Add(time.Minute)
	sm := first.Create("agent-1", "x", tickler.At(at))
	first.Clock.Set(at)
	first.WaitStarted(1)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := first.Scheduler.Stop(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("Stop = %v, want it to report the delivery left running", err)
	}

	second := ticklertest.NewWith(t, ticklertest.Config{Store: store, NoStart: true})
	second.Clock.Set(at.Add(10 * time.Second))
	second.Start()
	got := second.Recorder.Deliveries()
	if len(got) != 1 || got[0].IdempotencyKey != first.Recorder.Deliveries()[0].IdempotencyKey ||
		got[0].IdempotencyKey != tickler.IdempotencyKey(sm.ID, at) {
		t.Fatalf("redelivery = %+v, want one with key %s", got, tickler.IdempotencyKey(sm.ID, at))
	}
}
