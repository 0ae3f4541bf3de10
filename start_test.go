package tickler_test

import (
	"context"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/ticklertest"
)

func TestStartTwiceIsAnError(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	if err := b.Scheduler.Start(ctx); err == nil {
		t.Fatal("second Start succeeded")
	}
}

func TestCancellingStartsContextStopsFiring(t *testing.T) {
	t.Parallel()
	b := ticklertest.NewWith(t, ticklertest.Config{NoStart: true})
	runCtx, cancel := context.WithCancel(ctx)
	if err := b.Scheduler.Start(runCtx); err != nil {
		t.Fatal(err)
	}
	b.Create("agent-1", "x", tickler.Cron("* * * * *"))
	cancel()
	b.Clock.Add(time.Hour)
	// The scheduler stopped with its context: nothing is due any more, so
	// WaitIdle returns (it used to wait forever for a loop that had ended).
	b.Settle()
	n := len(b.Recorder.Deliveries())
	b.Clock.Add(time.Hour)
	b.Settle()
	if m := len(b.Recorder.Deliveries()); m != n {
		t.Fatalf("delivered %d more after Start's context was cancelled", m-n)
	}
	if err := b.Scheduler.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}
