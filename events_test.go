package tickler_test

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/ticklertest"
)

// TestSlowEventHandlerHoldsNoWorker checks that the event handler runs
// apart from the workers: a handler that blocks delays no delivery, and
// events it cannot keep up with are dropped and counted, not queued
// without bound.
func TestSlowEventHandlerHoldsNoWorker(t *testing.T) {
	t.Parallel()
	block, entered := make(chan struct{}), make(chan struct{}, 1)
	var handled atomic.Int32
	drops := make(chan uint64, 4)
	b := ticklertest.New(t, tickler.WithConcurrency(1), tickler.WithEventBuffer(1),
		tickler.WithLogger(slog.New(dropWatch{drops})),
		tickler.WithEventHandler(func(tickler.Event) {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-block
			handled.Add(1)
		}))
	at := ticklertest.Epoch().Add(time.Minute)
	b.Create("agent-1", "x", tickler.At(at))
	b.Clock.Set(at)
	wait(t, entered, "the handler to take the first event")
	// The handler is stuck on the first event. One worker still delivers
	// three more: the first of their events waits in the queue, the other
	// two are dropped.
	for range 3 {
		b.Create("agent-1", "x", tickler.At(at.Add(time.Second)))
	}
	b.Clock.Set(at.Add(time.Second))
	b.WaitStarted(4)
	// A delivery's event is queued (or dropped) after its ack, not when it
	// starts: before the handler drains, wait for the scheduler to log the
	// second drop.
	for wait(t, drops, "the scheduler to log dropped events") != 2 {
	}
	close(block)
	c, cancel := context.WithTimeout(ctx, ticklertest.DefaultWaitTimeout)
	defer cancel()
	if err := b.Scheduler.Stop(c); err != nil {
		t.Fatal(err)
	}
	if n, st := handled.Load(), b.Scheduler.Stats(); n != 2 || st.EventsDropped != 2 || st.Delivered != 4 {
		t.Fatalf("handled %d events, %+v; want 4 delivered, 2 handled by the time Stop returned, 2 dropped", n, st)
	}
}

// dropWatch is a slog.Handler that sends each count of dropped events the
// scheduler logs (it logs the 1st, 2nd, 4th... drop).
type dropWatch struct{ dropped chan<- uint64 }

func (h dropWatch) Enabled(context.Context, slog.Level) bool { return true }
func (h dropWatch) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h dropWatch) WithGroup(string) slog.Handler            { return h }
func (h dropWatch) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "dropped" && a.Value.Kind() == slog.KindUint64 {
			h.dropped <- a.Value.Uint64()
		}
		return true
	})
	return nil
}

func TestStatsCountWhatHappened(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t, tickler.WithRetryPolicy(tickler.RetryPolicy{MaxAttempts: 2, Base: time.Second}))
	fail := atomic.Bool{}
	b.Recorder.SetFunc(func(context.Context, *tickler.Delivery) (tickler.Result, error) {
		if fail.Load() {
			return tickler.Result{}, errors.New("down")
		}
		return tickler.Result{}, nil
	})
	b.Create("agent-1", "x", tickler.At(ticklertest.Epoch().Add(time.Minute)))
	b.Create("agent-1", "x", tickler.At(ticklertest.Epoch().Add(time.Hour)))
	b.Create("agent-1", "x", tickler.At(ticklertest.Epoch().Add(2*time.Second)))
	if st := b.Scheduler.Stats(); st.Pending != 1 || st.Claims == 0 {
		t.Fatalf("before firing: %+v, want 1 pending in the window and some claims", st)
	}
	b.Advance(time.Minute)
	fail.Store(true)
	b.AdvanceTo(ticklertest.Epoch().Add(time.Hour))
	if st := b.Scheduler.Stats(); st.Delivered != 2 || st.Retried != 1 || st.WaitingRetry != 1 || st.InFlight != 0 {
		t.Fatalf("after: %+v, want 2 delivered, 1 retried and waiting", st)
	}
	b.Advance(time.Hour)
	if st := b.Scheduler.Stats(); st.GaveUp != 1 || st.Pending != 0 || st.WaitingRetry != 0 {
		t.Fatalf("at the end: %+v, want 1 given up, nothing pending", st)
	}
}
