package tickler_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/ticklertest"
)

func TestPausedScheduleMissesSilentlyAndResumeAppliesMisfirePolicy(t *testing.T) {
	t.Parallel()
	for _, policy := range []tickler.MisfirePolicy{tickler.MisfireFireOnce, tickler.MisfireSkip} {
		var log eventLog
		b := ticklertest.New(t, tickler.WithMisfirePolicy(policy), tickler.WithEventHandler(log.add))
		sm := b.Create("agent-1", "hourly", tickler.Cron("0 * * * *"))
		b.Advance(time.Hour + 10*time.Minute) // 01:00 fires
		p, err := b.Scheduler.Pause(ctx, "agent-1", sm.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Paused || !p.NextScheduledTime.IsZero() {
			t.Fatalf("paused message = %+v", p)
		}
		js, _ := json.Marshal(p)
		if !strings.Contains(string(js), `"paused":true`) || !strings.Contains(string(js), `"next_scheduled_time":null`) {
			t.Fatalf("paused JSON = %s", js)
		}
		b.Advance(4 * time.Hour) // 02:00 to 05:00 pass while paused
		if n := len(b.Recorder.Deliveries()); n != 1 || len(log.of(tickler.EventSkipped)) != 0 {
			t.Fatalf("while paused: %d deliveries, %d skips; want 1 and none", n, len(log.of(tickler.EventSkipped)))
		}

		r, err := b.Scheduler.Resume(ctx, "agent-1", sm.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.Paused {
			t.Fatal("still paused after Resume")
		}
		b.Settle()
		got := b.Recorder.Deliveries()
		switch policy {
		case tickler.MisfireFireOnce:
			if len(got) != 2 || !got[1].Occurrence.Equal(ticklertest.Epoch().Add(2*time.Hour)) {
				t.Fatalf("fire-once resume delivered %v, want one collapsed 02:00", occurrences(got))
			}
		case tickler.MisfireSkip:
			if len(got) != 1 || len(log.of(tickler.EventSkipped)) != 1 {
				t.Fatalf("skip resume: %d deliveries, %d skips; want 1 and 1", len(got), len(log.of(tickler.EventSkipped)))
			}
		}
		cur, _ := b.Scheduler.Get(ctx, "agent-1", sm.ID)
		if want := ticklertest.Epoch().Add(6 * time.Hour); !cur.NextScheduledTime.Equal(want) {
			t.Fatalf("next after resume = %v, want %v", cur.NextScheduledTime, want)
		}
		b.Advance(time.Hour)
		if n := len(b.Recorder.Deliveries()); n != len(got)+1 {
			t.Fatalf("after resume the 06:00 occurrence did not fire: %d deliveries", n)
		}
	}
}

func TestPauseAndResumeAreIdempotentAndChecked(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	sm := b.Create("agent-1", "x", tickler.At(ticklertest.Epoch().Add(time.Hour)))
	if _, err := b.Scheduler.Resume(ctx, "agent-1", sm.ID); err != nil {
		t.Fatalf("resuming a running message: %v", err)
	}
	for range 2 {
		if _, err := b.Scheduler.Pause(ctx, "agent-1", sm.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Scheduler.Pause(ctx, "agent-2", sm.ID); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("pause by another agent: %v", err)
	}
	b.Advance(2 * time.Hour)
	if n := len(b.Recorder.Deliveries()); n != 0 {
		t.Fatalf("a paused one-time message fired %d times", n)
	}
	// Resumed after its instant, a one-time message is overdue: it fires
	// once, with its key.
	if _, err := b.Scheduler.Resume(ctx, "agent-1", sm.ID); err != nil {
		t.Fatal(err)
	}
	b.Settle()
	got := b.Recorder.Deliveries()
	if len(got) != 1 || got[0].IdempotencyKey != tickler.IdempotencyKey(sm.ID, ticklertest.Epoch().Add(time.Hour)) {
		t.Fatalf("after resume: %+v", got)
	}
}
