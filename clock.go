package tickler

import (
	"context"
	"time"
)

// Clock is what the scheduler asks of time: the current instant, a timer,
// and a context that ends after a delay. Every read of time and every wait
// of the scheduler goes through it, so that tests can run on a fake clock.
//
// The default is the real clock, [SystemClock]. Tests pass a fake: the
// ticklertest package adapts github.com/benbjohnson/clock's mock, and any
// other fake (coder/quartz, clockwork) takes a few lines. Under Go's
// testing/synctest the real clock is already fake, and SystemClock needs no
// adapter.
type Clock interface {
	// Now returns the current instant.
	Now() time.Time
	// NewTimer returns a timer that fires once, d from now.
	NewTimer(d time.Duration) Timer
	// WithTimeout returns a copy of ctx that ends d from now, as
	// context.WithTimeout does on the real clock.
	WithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc)
}

// Timer is a one-shot timer of a [Clock].
type Timer interface {
	// C returns the channel the instant is sent on when the timer fires.
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it did.
	Stop() bool
}

// SystemClock is the real clock: the time package.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// NewTimer returns a time.Timer.
func (SystemClock) NewTimer(d time.Duration) Timer { return sysTimer{time.NewTimer(d)} }

// WithTimeout calls context.WithTimeout.
func (SystemClock) WithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}

type sysTimer struct{ t *time.Timer }

func (t sysTimer) C() <-chan time.Time { return t.t.C }
func (t sysTimer) Stop() bool          { return t.t.Stop() }

// Reset arms the stopped timer again, for the dispatcher's loop to reuse.
// Since Go 1.23 no value of its earlier arming is received after it.
func (t sysTimer) Reset(d time.Duration) bool { return t.t.Reset(d) }
