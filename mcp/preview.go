package mcp

import (
	"context"
	"errors"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/memory"
)

// occurrences returns up to n occurrences of the cron expression (in
// tickler's form, with its CRON_TZ= prefix if any) strictly after after.
//
// The root package computes occurrences, with its DST policy, but exports
// no way to ask for them without storing a schedule. Rather than keep a
// second copy of that rule here, the preview asks tickler itself: it
// creates the schedule on a scratch scheduler over a memory store, never
// started, whose clock it sets to each occurrence in turn. Nothing touches
// the real scheduler or its store. If the root package grows a public
// "next occurrence" function, this becomes a loop over it.
func occurrences(ctx context.Context, expr string, after time.Time, n int) ([]time.Time, error) {
	clk := &fixedClock{}
	s, err := tickler.New(memory.New(), nopDeliverer, tickler.WithClock(clk))
	if err != nil {
		return nil, err
	}
	req := tickler.CreateRequest{
		Messages: []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text("preview")}},
		Schedule: tickler.Cron(expr),
	}
	out := make([]time.Time, 0, n)
	for prev := after; len(out) < n; {
		clk.now = prev
		sm, err := s.Create(ctx, "preview", req)
		var ve *tickler.ValidationError
		if len(out) > 0 && errors.As(err, &ve) {
			break // no occurrence after the last one (before 2262)
		}
		if err != nil {
			return nil, err
		}
		prev = sm.NextScheduledTime
		out = append(out, prev)
	}
	return out, nil
}

var nopDeliverer = tickler.DelivererFunc(func(context.Context, *tickler.Delivery) (tickler.Result, error) {
	return tickler.Result{}, nil
})

// fixedClock is a clock that stands still at now; the scratch scheduler
// only reads Now, since it never starts.
type fixedClock struct{ now time.Time }

func (c *fixedClock) Now() time.Time { return c.now }

func (c *fixedClock) NewTimer(d time.Duration) tickler.Timer {
	return tickler.SystemClock{}.NewTimer(d)
}

func (c *fixedClock) WithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}
