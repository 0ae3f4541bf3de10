// Package ticklertest runs a [tickler.Scheduler] on a mock clock for tests:
// the host's own tests and tickler's.
//
// A bundle holds a started scheduler over a memory store, a mock clock and a
// [Recorder] that records every delivery. [Bundle.Advance] moves the clock
// and returns only once every delivery due by the new time has ended, so a
// test can assert right after it without sleeping:
//
//	func TestReminder(t *testing.T) {
//		b := ticklertest.New(t)
//		_, err := b.Scheduler.Create(t.Context(), "agent-1", tickler.CreateRequest{
//			Messages: []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text("stand up")}},
//			Schedule: tickler.Cron("0 9 * * *"),
//		})
//		if err != nil {
//			t.Fatal(err)
//		}
//		b.Advance(24 * time.Hour)
//		if got := len(b.Recorder.Deliveries()); got != 1 {
//			t.Fatalf("delivered %d times, want 1", got)
//		}
//	}
package ticklertest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/memory"
)

// Epoch returns the mock clock's time when a bundle starts: 2026-01-01
// 00:00 UTC.
func Epoch() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }

// DefaultWaitTimeout bounds how long a bundle waits for the scheduler
// (Advance, Settle, NextCall) before it fails the test, unless
// Config.WaitTimeout says otherwise.
const DefaultWaitTimeout = 10 * time.Second

// DefaultMaxSleep is the scheduler's max sleep in a bundle unless the
// test's options set another: longer than tickler's default, so that
// advancing a mock clock by days does not wake the scheduler every minute
// on the way.
const DefaultMaxSleep = 24 * time.Hour

// Bundle is a started scheduler with the pieces a test needs.
type Bundle struct {
	TB        testing.TB
	Scheduler *tickler.Scheduler
	Clock     *clock.Mock
	Store     tickler.Store
	Recorder  *Recorder

	wait time.Duration
}

// Config changes what New builds.
type Config struct {
	// Store replaces the memory store.
	Store tickler.Store
	// Options are passed to tickler.New after the clock option.
	Options []tickler.Option
	// NoStart leaves the scheduler unstarted.
	NoStart bool
	// WrapClock, when set, gives the scheduler WrapClock(the mock) as its
	// clock instead of the mock itself: a test can make wall time jump
	// while the mock's timers do not notice, for one.
	WrapClock func(tickler.Clock) tickler.Clock
	// WaitTimeout replaces DefaultWaitTimeout.
	WaitTimeout time.Duration
}

// New returns a bundle whose scheduler has started, with opts applied. The
// scheduler is stopped when the test ends.
func New(tb testing.TB, opts ...tickler.Option) *Bundle {
	tb.Helper()
	return NewWith(tb, Config{Options: opts})
}

// NewWith is New with more choices.
func NewWith(tb testing.TB, cfg Config) *Bundle {
	tb.Helper()
	b := &Bundle{TB: tb, Clock: clock.NewMock(), Store: cfg.Store, Recorder: &Recorder{}, wait: cfg.WaitTimeout}
	b.Clock.Set(Epoch())
	if b.Store == nil {
		b.Store = memory.New()
	}
	if b.wait <= 0 {
		b.wait = DefaultWaitTimeout
	}
	var clk tickler.Clock = Clock(b.Clock)
	if cfg.WrapClock != nil {
		clk = cfg.WrapClock(clk)
	}
	// A long max sleep: on a mock clock, each wake-up of the bounded sleep
	// is a timer the mock runs on its way to the target time.
	opts := append([]tickler.Option{tickler.WithClock(clk), tickler.WithMaxSleep(DefaultMaxSleep)}, cfg.Options...)
	s, err := tickler.New(b.Store, b.Recorder, opts...)
	if err != nil {
		tb.Fatalf("ticklertest: %v", err)
	}
	b.Scheduler = s
	if !cfg.NoStart {
		b.Start()
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), b.wait)
		defer cancel()
		_ = s.Stop(ctx)
	})
	return b
}

// Start starts the scheduler and waits until what is due has been handled.
func (b *Bundle) Start() {
	b.TB.Helper()
	if err := b.Scheduler.Start(context.Background()); err != nil {
		b.TB.Fatalf("ticklertest: Start: %v", err)
	}
	b.Settle()
}

// Advance moves the mock clock forward by d and returns once every
// delivery due by then has ended (delivered, given up or waiting for a
// retry). It moves the clock in steps to each due time on the way, so that
// a recurring schedule fires at each of its occurrences, as on a real clock.
func (b *Bundle) Advance(d time.Duration) {
	b.TB.Helper()
	b.AdvanceTo(b.Clock.Now().Add(d))
}

// AdvanceTo is Advance to the instant t.
func (b *Bundle) AdvanceTo(t time.Time) {
	b.TB.Helper()
	for {
		b.Settle()
		now := b.Clock.Now()
		if !now.Before(t) {
			return
		}
		step := t
		if n, ok := b.Scheduler.NextWake(); ok && n.After(now) && n.Before(t) {
			step = n
		}
		b.Clock.Set(step)
	}
}

// Jump sets the mock clock to t at once, as a wall-clock jump or a
// suspended machine would, and returns once what is due has been handled.
func (b *Bundle) Jump(t time.Time) {
	b.TB.Helper()
	b.Clock.Set(t)
	b.Settle()
}

// Settle returns once everything due at the clock's current time has been
// handled.
func (b *Bundle) Settle() {
	b.TB.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), b.wait)
	defer cancel()
	if err := b.Scheduler.WaitIdle(ctx); err != nil {
		b.TB.Fatalf("ticklertest: deliveries did not settle: %v", err)
	}
}

// Create creates a scheduled message of one user message with the text,
// failing the test on error.
func (b *Bundle) Create(agentID, text string, sched tickler.Schedule) *tickler.ScheduledMessage {
	b.TB.Helper()
	sm, err := b.Scheduler.Create(context.Background(), agentID, tickler.CreateRequest{
		Messages: []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text(text)}},
		Schedule: sched,
	})
	if err != nil {
		b.TB.Fatalf("ticklertest: Create: %v", err)
	}
	return sm
}

// WaitTimeout returns how long the bundle waits for the scheduler before
// it fails the test.
func (b *Bundle) WaitTimeout() time.Duration { return b.wait }

// WaitStarted returns the deliveries started so far once there are at
// least n, failing the test if there are not within the wait timeout. It
// waits for deliveries that have started, not ended: a test pairs it with
// Hold to act while a delivery runs.
func (b *Bundle) WaitStarted(n int) []tickler.Delivery {
	b.TB.Helper()
	t := time.NewTimer(b.wait)
	defer t.Stop()
	// The mock runs only the timers it knows of when it moves: a timer the
	// scheduler armed while the test moved the clock may already be due
	// and never fired. A nudge (moving the clock by zero) fires it; a
	// running scheduler ignores a nudge with nothing due.
	nudge := time.NewTicker(10 * time.Millisecond)
	defer nudge.Stop()
	for {
		got, changed := b.Recorder.watch()
		if len(got) >= n {
			return got
		}
		select {
		case <-changed:
		case <-nudge.C:
			b.Clock.Add(0)
		case <-t.C:
			b.TB.Fatalf("ticklertest: %d deliveries started within %v, want %d", len(got), b.wait, n)
			return nil
		}
	}
}

// Hold makes every later delivery block until release is called (or its
// context ends), then return err; nil succeeds. Deliveries can be awaited
// as they start with WaitStarted. release may be called more than once; the
// bundle calls it when the test ends, so that no delivery hangs.
func (b *Bundle) Hold(err error) (release func()) {
	ch := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(ch) }) }
	b.TB.Cleanup(release)
	b.Recorder.SetFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		select {
		case <-ch:
			return tickler.Result{}, err
		case <-ctx.Done():
			return tickler.Result{}, ctx.Err()
		}
	})
	return release
}

// Recorder is a Deliverer that records every delivery it is handed. By
// default each delivery succeeds; SetFunc changes what it does.
type Recorder struct {
	mu      sync.Mutex
	got     []tickler.Delivery
	fn      tickler.DelivererFunc
	calls   chan tickler.Delivery
	changed chan struct{} // closed at the next delivery, if a waiter made it
}

// Deliver records d, then runs the function set by SetFunc, if any.
func (r *Recorder) Deliver(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
	r.mu.Lock()
	r.got = append(r.got, *d)
	fn, calls := r.fn, r.calls
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
	r.mu.Unlock()
	if calls != nil {
		calls <- *d
	}
	if fn != nil {
		return fn(ctx, d)
	}
	return tickler.Result{}, nil
}

// SetFunc makes every later delivery call fn after it is recorded.
func (r *Recorder) SetFunc(fn tickler.DelivererFunc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fn = fn
}

// Calls returns a channel that receives every later delivery as it starts,
// before the function set by SetFunc runs. It is unbuffered: the test must
// receive each one.
func (r *Recorder) Calls() <-chan tickler.Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.calls == nil {
		r.calls = make(chan tickler.Delivery)
	}
	return r.calls
}

// watch returns the deliveries so far and a channel closed at the next.
func (r *Recorder) watch() ([]tickler.Delivery, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.changed == nil {
		r.changed = make(chan struct{})
	}
	return append([]tickler.Delivery(nil), r.got...), r.changed
}

// Deliveries returns the deliveries so far, in the order they started.
func (r *Recorder) Deliveries() []tickler.Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]tickler.Delivery(nil), r.got...)
}

// Keys returns the idempotency keys of the deliveries so far.
func (r *Recorder) Keys() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := make([]string, len(r.got))
	for i, d := range r.got {
		keys[i] = d.IdempotencyKey
	}
	return keys
}
