package ticklertest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/tickler-go/tickler"
)

// StressConfig configures [Stress].
type StressConfig struct {
	// Store is the store the scheduler runs over; it starts empty.
	Store tickler.Store
	// Steps is how many steps run; 0 means 60.
	Steps int
	// Options are added after the scheduler's options of the stress.
	Options []tickler.Option
	// Check, when set, is called after every step with the scheduler
	// idle; an error fails the test. tickler's own stress checks its heap
	// against the store with it.
	Check func(context.Context, *tickler.Scheduler) error
	// SetClock, when set, is called with the mock clock's time before the
	// scheduler starts and before every move of the clock, with the time
	// it moves to: a store with a clock of its own (PostgreSQL's now() in
	// a test) follows the scheduler's with it.
	SetClock func(time.Time)
}

// Stress runs a scheduler over cfg.Store on a mock clock, with goroutines
// that create, get, list and delete while schedules fire, and checks after
// every step that no deleted schedule was delivered after its Delete
// returned (and cfg.Check), and at the end that every occurrence was
// delivered exactly once: none lost, none twice. One delivery in ten fails
// and is retried; one agent has one delivery at a time.
func Stress(t *testing.T, cfg StressConfig) {
	t.Helper()
	steps := cfg.Steps
	if steps == 0 {
		steps = 60
	}
	ctx := context.Background()
	mock := clock.NewMock()
	setClock := func(to time.Time) {
		if cfg.SetClock != nil {
			cfg.SetClock(to)
		}
	}
	setClock(Epoch())
	mock.Set(Epoch())
	advance := func(d time.Duration) {
		setClock(mock.Now().Add(d))
		mock.Add(d)
	}

	var (
		mu        sync.Mutex
		step      int
		delivered = map[string][]int{} // id -> steps of successful deliveries
		keys      = map[string]int{}   // successful deliveries per key
		deletedAt = map[string]int{}   // id -> step its Delete returned
	)
	deliverer := tickler.DelivererFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		if rand.N(10) == 0 {
			return tickler.Result{}, errors.New("transient")
		}
		mu.Lock()
		defer mu.Unlock()
		delivered[d.ScheduledMessageID] = append(delivered[d.ScheduledMessageID], step)
		keys[d.IdempotencyKey]++
		return tickler.Result{}, nil
	})
	// One delivery at a time per agent: occurrences of a busy agent park.
	opts := append([]tickler.Option{tickler.WithClock(Clock(mock)), tickler.WithMaxSleep(24 * time.Hour), tickler.WithLookahead(2 * time.Second),
		tickler.WithAgentConcurrency(1), tickler.WithConcurrency(4),
		tickler.WithRetryPolicy(tickler.RetryPolicy{MaxAttempts: 20, Base: 100 * time.Millisecond, Cap: 400 * time.Millisecond})},
		cfg.Options...)
	s, err := tickler.New(cfg.Store, deliverer, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(ctx)
	settle := func() {
		c, cancel := context.WithTimeout(ctx, DefaultWaitTimeout)
		defer cancel()
		if err := s.WaitIdle(c); err != nil {
			t.Fatal(err)
		}
	}

	type made struct {
		id, agent string
		at        time.Time // one-time instant, or zero for recurring
		from      time.Time
	}
	var all []made
	var allMu sync.Mutex
	pick := func() made {
		allMu.Lock()
		defer allMu.Unlock()
		if len(all) == 0 {
			return made{}
		}
		return all[rand.N(len(all))]
	}
	for step = 1; step <= steps; step++ {
		var wg sync.WaitGroup
		for w := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				agent := fmt.Sprintf("agent-%d", w%4)
				now := mock.Now()
				for range 5 {
					switch op := rand.N(10); {
					case op < 5:
						req := tickler.CreateRequest{Messages: []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text("x")}}}
						at := now.Add(time.Duration(1+rand.N(8000)) * time.Millisecond)
						if rand.N(8) == 0 {
							req.Schedule = tickler.Cron("* * * * *")
							at = time.Time{}
						} else {
							req.Schedule = tickler.At(at)
						}
						sm, err := s.Create(ctx, agent, req)
						if err != nil {
							t.Error(err)
							return
						}
						allMu.Lock()
						all = append(all, made{sm.ID, agent, at, now})
						allMu.Unlock()
					case op < 8:
						m := pick()
						if m.id == "" {
							continue
						}
						err := s.Delete(ctx, m.agent, m.id)
						if err == nil {
							mu.Lock()
							deletedAt[m.id] = step
							mu.Unlock()
						} else if !errors.Is(err, tickler.ErrNotFound) {
							t.Error(err)
						}
					case op < 9:
						if _, err := s.List(ctx, agent, "", 20); err != nil {
							t.Error(err)
						}
					default:
						if m := pick(); m.id != "" {
							if _, err := s.Get(ctx, m.agent, m.id); err != nil && !errors.Is(err, tickler.ErrNotFound) {
								t.Error(err)
							}
						}
					}
				}
			}()
		}
		wg.Wait()
		advance(time.Duration(rand.N(3000)) * time.Millisecond)
		settle()
		if cfg.Check != nil {
			if err := cfg.Check(ctx, s); err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
		}
		mu.Lock()
		for id, at := range deletedAt {
			for _, st := range delivered[id] {
				if st > at {
					t.Fatalf("step %d: %s delivered at step %d after its Delete returned at step %d", step, id, st, at)
				}
			}
		}
		mu.Unlock()
	}
	// Let every retry and one-time instant pass, then check what fired.
	// Stop at least 15 s past a minute: a recurring occurrence due at the
	// minute has had its retries (at most 20 of 400 ms) by then, so each
	// is counted delivered, not still waiting for a retry.
	for i := 0; i < 20 || mock.Now().Second() < 15 || mock.Now().Second() >= 50; i++ {
		advance(time.Second)
		settle()
	}
	now := mock.Now()
	mu.Lock()
	defer mu.Unlock()
	for k, n := range keys {
		if n != 1 {
			t.Fatalf("occurrence %s delivered %d times", k, n)
		}
	}
	for _, m := range all {
		_, deleted := deletedAt[m.id]
		got := len(delivered[m.id])
		switch {
		case deleted:
		case !m.at.IsZero() && got != 1:
			t.Fatalf("one-time %s due %v delivered %d times", m.id, m.at, got)
		case m.at.IsZero():
			want := int(now.Sub(m.from.Truncate(time.Minute)) / time.Minute)
			if got != want {
				t.Fatalf("recurring %s created %v delivered %d times by %v, want %d", m.id, m.from, got, now, want)
			}
		}
	}
}
