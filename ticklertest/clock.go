package ticklertest

import (
	"context"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/tickler-go/tickler"
)

// Clock adapts a github.com/benbjohnson/clock clock (its Mock in tests) to
// a [tickler.Clock]:
//
//	mock := clock.NewMock()
//	s, err := tickler.New(store, deliverer, tickler.WithClock(ticklertest.Clock(mock)))
func Clock(c clock.Clock) tickler.Clock { return benClock{c} }

type benClock struct{ c clock.Clock }

func (b benClock) Now() time.Time { return b.c.Now() }

func (b benClock) NewTimer(d time.Duration) tickler.Timer { return benTimer{b.c.Timer(d)} }

func (b benClock) WithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return b.c.WithTimeout(ctx, d)
}

type benTimer struct{ t *clock.Timer }

func (t benTimer) C() <-chan time.Time { return t.t.C }
func (t benTimer) Stop() bool          { return t.t.Stop() }
