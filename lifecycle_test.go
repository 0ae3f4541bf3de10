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

// blockingClaims is a store whose first Claim waits until released, and
// says when it has started.
type blockingClaims struct {
	tickler.Store
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (s *blockingClaims) Claim(ctx context.Context, p tickler.ClaimParams) (tickler.ClaimResult, error) {
	first := false
	s.once.Do(func() { first = true })
	if first {
		close(s.entered)
		select {
		case <-s.release:
		case <-ctx.Done():
			return tickler.ClaimResult{}, ctx.Err()
		}
	}
	return s.Store.Claim(ctx, p)
}

// wait receives from ch or fails the test after a bounded time.
func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(ticklertest.DefaultWaitTimeout):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

// TestStopDuringStartsFirstClaimDoesNotPanic is the regression test of
// Stop called while Start made its first claim: Stop used to call a nil
// function. Start then reports that the scheduler stopped.
func TestStopDuringStartsFirstClaimDoesNotPanic(t *testing.T) {
	t.Parallel()
	store := &blockingClaims{Store: memory.New(), entered: make(chan struct{}), release: make(chan struct{})}
	s, err := tickler.New(store, tickler.DelivererFunc(func(context.Context, *tickler.Delivery) (tickler.Result, error) {
		return tickler.Result{}, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan error, 1)
	go func() { started <- s.Start(context.Background()) }()
	wait(t, store.entered, "the first claim")

	stopped := make(chan error, 1)
	go func() { stopped <- s.Stop(context.Background()) }()
	if err := wait(t, stopped, "Stop"); err != nil {
		t.Fatalf("Stop during Start = %v, want nil", err)
	}
	close(store.release)
	if err := wait(t, started, "Start"); !errors.Is(err, tickler.ErrStopped) {
		t.Fatalf("Start cut short by Stop = %v, want ErrStopped", err)
	}
	if err := s.Start(context.Background()); !errors.Is(err, tickler.ErrStopped) {
		t.Fatalf("Start after Stop = %v, want ErrStopped", err)
	}
}

func TestLifecycleErrorsAreSentinels(t *testing.T) {
	t.Parallel()
	b := ticklertest.NewWith(t, ticklertest.Config{NoStart: true})
	if _, err := b.Scheduler.Trigger(ctx, "agent-1", "none"); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("Trigger of an unknown id = %v, want ErrNotFound", err)
	}
	sm := b.Create("agent-1", "x", tickler.Cron("* * * * *"))
	if _, err := b.Scheduler.Trigger(ctx, "agent-1", sm.ID); !errors.Is(err, tickler.ErrNotStarted) {
		t.Fatalf("Trigger before Start = %v, want ErrNotStarted", err)
	}
	b.Start()
	if err := b.Scheduler.Start(ctx); !errors.Is(err, tickler.ErrStarted) {
		t.Fatalf("second Start = %v, want ErrStarted", err)
	}
	for range 2 {
		if err := b.Scheduler.Stop(ctx); err != nil {
			t.Fatalf("Stop = %v, want nil (also the second time)", err)
		}
	}
	if err := b.Scheduler.Start(ctx); !errors.Is(err, tickler.ErrStopped) {
		t.Fatalf("Start after Stop = %v, want ErrStopped", err)
	}
	if _, err := b.Scheduler.Trigger(ctx, "agent-1", sm.ID); !errors.Is(err, tickler.ErrStopped) {
		t.Fatalf("Trigger after Stop = %v, want ErrStopped", err)
	}
	if err := tickler.ErrNotFound.Error(); err != "scheduled message not found" {
		t.Fatalf("ErrNotFound reads %q: wrapped as %q it would stutter", err, "tickler: get X: "+err)
	}
}

func TestStopWithoutStartIsFine(t *testing.T) {
	t.Parallel()
	s, err := tickler.New(memory.New(), &ticklertest.Recorder{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("Stop before Start = %v", err)
	}
	if err := s.Start(ctx); !errors.Is(err, tickler.ErrStopped) {
		t.Fatalf("Start after Stop = %v, want ErrStopped", err)
	}
}

// TestStartStopStress starts and stops schedulers from many goroutines at
// once, in every order, as River's startstoptest.Stress does: nothing
// panics, every error is a lifecycle sentinel, and a last Stop returns
// with nothing left running.
func TestStartStopStress(t *testing.T) {
	t.Parallel()
	for range 50 {
		rec := &ticklertest.Recorder{}
		s, err := tickler.New(memory.New(), rec)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Create(ctx, "agent-1", tickler.CreateRequest{Messages: userText("x"), Schedule: tickler.Cron("* * * * *")}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var err error
				if i%2 == 0 {
					err = s.Start(ctx)
				} else {
					err = s.Stop(ctx)
				}
				if err != nil && !errors.Is(err, tickler.ErrStarted) && !errors.Is(err, tickler.ErrStopped) {
					t.Errorf("Start/Stop = %v, want nil or a lifecycle sentinel", err)
				}
			}()
		}
		wg.Wait()
		c, cancel := context.WithTimeout(ctx, ticklertest.DefaultWaitTimeout)
		if err := s.Stop(c); err != nil {
			t.Fatalf("final Stop = %v", err)
		}
		cancel()
	}
}
