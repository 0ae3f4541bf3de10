package tickler_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/memory"
	"github.com/tickler-go/tickler/ticklertest"
)

// failingAcks is a store whose next fails Acks fail.
type failingAcks struct {
	tickler.Store
	mu    sync.Mutex
	fails int
	tries int
}

func (s *failingAcks) Ack(ctx context.Context, p tickler.AckParams) error {
	s.mu.Lock()
	s.tries++
	fail := s.fails > 0
	if fail {
		s.fails--
	}
	s.mu.Unlock()
	if fail {
		return errors.New("disk full")
	}
	return s.Store.Ack(ctx, p)
}

// TestFailedAckIsRetriedWithoutDeliveringAgain is the regression test of
// a failed Store.Ack after a successful delivery, which used to call the
// Deliverer again with the same key: the ack is retried alone, and the
// delivery is recorded once.
func TestFailedAckIsRetriedWithoutDeliveringAgain(t *testing.T) {
	t.Parallel()
	var log eventLog
	store := &failingAcks{Store: memory.New(), fails: 3}
	b := ticklertest.NewWith(t, ticklertest.Config{Store: store, Options: []tickler.Option{tickler.WithEventHandler(log.add)}})
	sm := b.Create("agent-1", "x", tickler.At(ticklertest.Epoch().Add(time.Minute)))
	b.Advance(time.Hour)

	if n := len(b.Recorder.Deliveries()); n != 1 {
		t.Fatalf("delivered %d times, want 1: a failed ack made the delivery run again", n)
	}
	if store.tries != 4 {
		t.Fatalf("acks tried %d times, want 4 (three failures, then success)", store.tries)
	}
	if evs := log.kinds(); len(evs) != 1 || evs[0] != tickler.EventDelivered {
		t.Fatalf("events = %v, want one delivered, after the ack was stored", evs)
	}
	if _, err := b.Scheduler.Get(ctx, "agent-1", sm.ID); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("one-time message after its recorded delivery: %v, want removed", err)
	}
}

func TestFailedAckOfRecurringKeepsItsOccurrences(t *testing.T) {
	t.Parallel()
	store := &failingAcks{Store: memory.New(), fails: 2}
	b := ticklertest.NewWith(t, ticklertest.Config{Store: store})
	sm := b.Create("agent-1", "x", tickler.Cron("*/10 * * * *"))
	b.Advance(30 * time.Minute)
	want := []string{
		tickler.IdempotencyKey(sm.ID, ticklertest.Epoch().Add(10*time.Minute)),
		tickler.IdempotencyKey(sm.ID, ticklertest.Epoch().Add(20*time.Minute)),
		tickler.IdempotencyKey(sm.ID, ticklertest.Epoch().Add(30*time.Minute)),
	}
	if got := b.Recorder.Keys(); !equal(got, want) {
		t.Fatalf("keys = %v, want %v: each occurrence once", got, want)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPermanentErrorGivesUpAtOnce(t *testing.T) {
	t.Parallel()
	var log eventLog
	b := ticklertest.New(t, tickler.WithEventHandler(log.add))
	b.Recorder.SetFunc(func(context.Context, *tickler.Delivery) (tickler.Result, error) {
		return tickler.Result{}, tickler.Permanent(errors.New("agent agent-1 does not exist"))
	})
	sm := b.Create("agent-1", "x", tickler.Cron("0 * * * *"))
	b.Advance(time.Hour + 30*time.Minute)
	if n := len(b.Recorder.Deliveries()); n != 1 {
		t.Fatalf("attempts = %d, want 1: a permanent error is not retried", n)
	}
	gave := log.of(tickler.EventGaveUp)
	var perm *tickler.PermanentError
	if len(gave) != 1 || !errors.As(gave[0].Err, &perm) {
		t.Fatalf("events = %v, want one give-up carrying the permanent error", log.kinds())
	}
	hist, _, err := b.Scheduler.History(ctx, "agent-1", sm.ID, 0, 10)
	if err != nil || len(hist) != 1 || hist[0].Status != tickler.StatusFailed || hist[0].Attempts != 1 {
		t.Fatalf("history = %+v, %v; want one failed entry of one attempt", hist, err)
	}
}

func TestRetryAfterChoosesTheDelay(t *testing.T) {
	t.Parallel()
	var log eventLog
	b := ticklertest.New(t, tickler.WithEventHandler(log.add),
		tickler.WithRetryPolicy(tickler.RetryPolicy{MaxAttempts: 3, Base: time.Second}))
	var mu sync.Mutex
	calls := 0
	b.Recorder.SetFunc(func(context.Context, *tickler.Delivery) (tickler.Result, error) {
		mu.Lock()
		defer mu.Unlock()
		if calls++; calls == 1 {
			return tickler.Result{}, tickler.RetryAfter(90*time.Second, errors.New("429 Too Many Requests"))
		}
		return tickler.Result{}, nil
	})
	at := ticklertest.Epoch().Add(time.Minute)
	b.Create("agent-1", "x", tickler.At(at))
	b.AdvanceTo(at.Add(89 * time.Second))
	if n := len(b.Recorder.Deliveries()); n != 1 {
		t.Fatalf("attempts by 89 s after the first = %d, want 1: the server asked for 90 s", n)
	}
	b.AdvanceTo(at.Add(90 * time.Second))
	if n := len(b.Recorder.Deliveries()); n != 2 {
		t.Fatalf("attempts at 90 s = %d, want 2", n)
	}
	if r := log.of(tickler.EventRetry); len(r) != 1 || r[0].RetryIn != 90*time.Second {
		t.Fatalf("retry events = %+v, want one with RetryIn 90s", r)
	}
}

func TestPerMessageRetryPolicyOverridesTheSchedulers(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t, tickler.WithRetryPolicy(tickler.RetryPolicy{MaxAttempts: 5, Base: time.Second}))
	b.Recorder.SetFunc(func(context.Context, *tickler.Delivery) (tickler.Result, error) {
		return tickler.Result{}, errors.New("down")
	})
	own := tickler.RetryPolicy{MaxAttempts: 2, Base: time.Minute}
	at := ticklertest.Epoch().Add(time.Minute)
	sm, err := b.Scheduler.Create(ctx, "agent-1", tickler.CreateRequest{Messages: userText("x"), Schedule: tickler.At(at), Retry: &own})
	if err != nil {
		t.Fatal(err)
	}
	if sm.Retry == nil || *sm.Retry != own {
		t.Fatalf("created message's Retry = %v, want %v", sm.Retry, own)
	}
	b.Advance(time.Hour)
	if n := len(b.Recorder.Deliveries()); n != 2 {
		t.Fatalf("attempts = %d, want the message's own 2", n)
	}

	bad := tickler.RetryPolicy{MaxAttempts: 0}
	_, err = b.Scheduler.Create(ctx, "agent-1", tickler.CreateRequest{Messages: userText("x"), Schedule: tickler.At(at.Add(2 * time.Hour)), Retry: &bad})
	var ve *tickler.ValidationError
	if !errors.As(err, &ve) || ve.Field != "retry.max_attempts" {
		t.Fatalf("Create with MaxAttempts 0 = %v, want a validation error on retry.max_attempts", err)
	}
}
