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
			<-hang
		}
		return tickler.Result{}, nil
	})
	calls := b.Recorder.Calls()
	at := ticklertest.Epoch().Add(time.Minute)
	b.Create("agent-1", "hang", tickler.At(at))
	for i := range 5 {
		b.Create("agent-1", "ok", tickler.At(at.Add(time.Duration(i)*time.Second)))
	}
	b.Clock.Set(at.Add(10 * time.Second))
	for range 6 {
		select {
		case <-calls:
		case <-time.After(ticklertest.DefaultWaitTimeout):
			t.Fatal("a hung delivery held up the others")
		}
	}
}

func TestPoolBoundsConcurrentDeliveries(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t, tickler.WithConcurrency(2))
	release := make(chan struct{})
	entered := make(chan struct{})
	b.Recorder.SetFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		entered <- struct{}{}
		<-release
		return tickler.Result{}, nil
	})
	at := ticklertest.Epoch().Add(time.Minute)
	for range 3 {
		b.Create("agent-1", "x", tickler.At(at))
	}
	b.Clock.Set(at)
	<-entered
	<-entered
	// The dispatcher pops every due entry it has room for at once: with room
	// for two, the third is still waiting in the heap.
	if next, ok := b.Scheduler.NextWake(); !ok || next.After(at) {
		t.Fatalf("NextWake = %v, %v: the third delivery was not held back by the pool", next, ok)
	}
	close(release)
	<-entered
	b.Settle()
	if n := len(b.Recorder.Deliveries()); n != 3 {
		t.Fatalf("deliveries = %d, want 3", n)
	}
}
