package tickler_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/ticklertest"
)

func TestRecurringFiresAtEveryOccurrenceUntilDeleted(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	sm := b.Create("agent-1", "check in", tickler.Cron("*/15 * * * *"))
	if want := ticklertest.Epoch().Add(15 * time.Minute); !sm.NextScheduledTime.Equal(want) {
		t.Fatalf("first NextScheduledTime = %v, want %v", sm.NextScheduledTime, want)
	}
	b.Advance(time.Hour)
	var want []time.Time
	for i := 1; i <= 4; i++ {
		want = append(want, ticklertest.Epoch().Add(time.Duration(i)*15*time.Minute))
	}
	if got := occurrences(b.Recorder.Deliveries()); !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Fatalf("occurrences = %v, want %v", got, want)
	}
	got, err := b.Scheduler.Get(ctx, "agent-1", sm.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := ticklertest.Epoch().Add(75 * time.Minute); !got.NextScheduledTime.Equal(want) {
		t.Fatalf("NextScheduledTime after an hour = %v, want %v", got.NextScheduledTime, want)
	}
	keys := b.Recorder.Keys()
	if len(slices.Compact(slices.Clone(keys))) != 4 {
		t.Fatalf("idempotency keys not distinct per occurrence: %v", keys)
	}

	if err := b.Scheduler.Delete(ctx, "agent-1", sm.ID); err != nil {
		t.Fatal(err)
	}
	b.Advance(2 * time.Hour)
	if n := len(b.Recorder.Deliveries()); n != 4 {
		t.Fatalf("delivered %d times after delete, want 4", n)
	}
}

func TestCronIsEvaluatedInUTC(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	sm := b.Create("agent-1", "x", tickler.Cron("30 9 * * *"))
	if want := time.Date(2026, 1, 1, 9, 30, 0, 0, time.UTC); !sm.NextScheduledTime.Equal(want) {
		t.Fatalf("NextScheduledTime = %v, want %v", sm.NextScheduledTime, want)
	}
}

func TestCronThatNeverFiresIsRejected(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	for _, expr := range []string{"TZ=", "CRON_TZ=", "0 0 30 2 *", "0 0 31 4 *", "* * * *", "0 * * * * *", "61 * * * *", "@every 1m", "@daily", "nonsense"} {
		_, err := b.Scheduler.Create(ctx, "agent-1", tickler.CreateRequest{Messages: userText("x"), Schedule: tickler.Cron(expr)})
		var ve *tickler.ValidationError
		if !errors.As(err, &ve) || ve.Field != "schedule.cron_expression" {
			t.Errorf("%q: err = %v, want a ValidationError on schedule.cron_expression", expr, err)
		}
	}
}

func TestRecurringNeverOverlapsItself(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	release := b.Hold(nil)
	b.Create("agent-1", "x", tickler.Cron("* * * * *"))
	b.Clock.Set(ticklertest.Epoch().Add(time.Minute))
	b.WaitStarted(1) // the first delivery is running
	// Four more occurrences pass while the first delivery runs.
	b.Clock.Set(ticklertest.Epoch().Add(5*time.Minute + 30*time.Second))
	if got := len(b.Recorder.Deliveries()); got != 1 {
		t.Fatalf("%d deliveries ran at once, want 1", got)
	}
	release()
	b.Settle()
	got := occurrences(b.Recorder.Deliveries())
	want := []time.Time{ticklertest.Epoch().Add(time.Minute), ticklertest.Epoch().Add(2 * time.Minute)}
	if !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Fatalf("occurrences = %v, want the first and one collapsed %v", got, want)
	}
	b.AdvanceTo(ticklertest.Epoch().Add(6 * time.Minute))
	got = occurrences(b.Recorder.Deliveries())
	if len(got) != 3 || !got[2].Equal(ticklertest.Epoch().Add(6*time.Minute)) {
		t.Fatalf("occurrences = %v, want the next at 00:06", got)
	}
}
