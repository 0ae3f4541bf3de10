package tickler_test

import (
	"context"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/ticklertest"
)

func TestHungDelivererHoldsOnlyItsPoolSlot(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t, tickler.WithConcurrency(2))
	hang := make(chan struct{})
	defer close(hang)
	b.Recorder.SetFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		if d.Message.Messages[0].Content.Text == "hang" {
			select {
			case <-hang:
			case <-ctx.Done():
			}
		}
		return tickler.Result{}, nil
	})
	at := ticklertest.Epoch().Add(time.Minute)
	b.Create("agent-1", "hang", tickler.At(at))
	for i := range 5 {
		b.Create("agent-1", "ok", tickler.At(at.Add(time.Duration(i)*time.Second)))
	}
	b.Clock.Set(at.Add(10 * time.Second))
	// All six start, the five beside the hung one through the other slot;
	// WaitStarted fails the test if the hung delivery held them up.
	b.WaitStarted(6)
}

func TestPoolBoundsConcurrentDeliveries(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t, tickler.WithConcurrency(2))
	release := b.Hold(nil)
	at := ticklertest.Epoch().Add(time.Minute)
	for range 3 {
		b.Create("agent-1", "x", tickler.At(at))
	}
	b.Clock.Set(at)
	if got := b.WaitStarted(2); len(got) != 2 {
		t.Fatalf("%d deliveries started with room for 2", len(got))
	}
	// The dispatcher pops every due entry it has room for at once: with room
	// for two, the third is still waiting in the heap.
	if next, ok := b.Scheduler.NextWake(); !ok || next.After(at) {
		t.Fatalf("NextWake = %v, %v: the third delivery was not held back by the pool", next, ok)
	}
	release()
	b.WaitStarted(3)
	b.Settle()
	if n := len(b.Recorder.Deliveries()); n != 3 {
		t.Fatalf("deliveries = %d, want 3", n)
	}
}
