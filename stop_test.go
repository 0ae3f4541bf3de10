package tickler_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/ticklertest"
)

func TestStopWaitsForDeliveriesInFlight(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	release := b.Hold(nil)
	sm := b.Create("agent-1", "x", tickler.At(ticklertest.Epoch().Add(time.Minute)))
	b.Clock.Add(time.Minute)
	b.WaitStarted(1)
	stopped := make(chan error, 1)
	go func() { stopped <- b.Scheduler.Stop(ctx) }()
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned %v while a delivery ran", err)
	default:
	}
	release()
	if err := waitOrTimeout(t, stopped, b.WaitTimeout(), "Stop after the delivery ended"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Scheduler.Get(ctx, "agent-1", sm.ID); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("the finished delivery was not recorded: %v", err)
	}
}

func TestStopCancelsHungDeliveriesAtItsDeadline(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	sawCancel := make(chan struct{})
	b.Recorder.SetFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		<-ctx.Done()
		close(sawCancel)
		return tickler.Result{}, ctx.Err()
	})
	sm := b.Create("agent-1", "x", tickler.At(ticklertest.Epoch().Add(time.Minute)))
	b.Clock.Add(time.Minute)
	b.WaitStarted(1)
	stopCtx, cancel := context.WithCancel(ctx)
	cancel()
	err := b.Scheduler.Stop(stopCtx)
	if !errors.Is(err, context.Canceled) || !containsID(err, sm.ID) {
		t.Fatalf("Stop = %v, want context.Canceled naming %s", err, sm.ID)
	}
	waitOrTimeout(t, sawCancel, b.WaitTimeout(), "the delivery's context cancelled by Stop")
	// The interrupted occurrence is still due, to be delivered after restart.
	if _, err := b.Scheduler.Get(ctx, "agent-1", sm.ID); err != nil {
		t.Fatalf("the interrupted one-time schedule was removed: %v", err)
	}
}
