package tickler_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/ticklertest"
)

var ctx = context.Background()

func userText(s string) []tickler.Message {
	return []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text(s)}}
}

// eventLog collects the scheduler's events.
type eventLog struct {
	mu  sync.Mutex
	evs []tickler.Event
}

func (l *eventLog) add(ev tickler.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, ev)
}

func (l *eventLog) kinds() []tickler.EventKind {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ks []tickler.EventKind
	for _, ev := range l.evs {
		ks = append(ks, ev.Kind)
	}
	return ks
}

func (l *eventLog) of(kind tickler.EventKind) []tickler.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []tickler.Event
	for _, ev := range l.evs {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

func occurrences(ds []tickler.Delivery) []time.Time {
	var ts []time.Time
	for _, d := range ds {
		ts = append(ts, d.Occurrence)
	}
	return ts
}

// restart stops b's scheduler, moves the clock to t and starts a new
// scheduler over the same store with opts.
func restart(t *testing.T, b *ticklertest.Bundle, at time.Time, opts ...tickler.Option) *ticklertest.Bundle {
	t.Helper()
	if err := b.Scheduler.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	nb := ticklertest.NewWith(t, ticklertest.Config{Store: b.Store, Options: opts, NoStart: true})
	nb.Clock.Set(at)
	nb.Start()
	return nb
}

// containsID reports whether err names the schedule id.
func containsID(err error, id string) bool {
	return err != nil && id != "" && strings.Contains(err.Error(), id)
}

// waitOrTimeout returns what ch receives, failing the test if nothing
// arrives within timeout (River's testsignal.WaitOrTimeout): a regression
// fails in seconds instead of hanging until the test binary's timeout.
func waitOrTimeout[T any](tb testing.TB, ch <-chan T, timeout time.Duration, what string) T {
	tb.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(timeout):
		tb.Fatalf("%s: nothing within %v", what, timeout)
		var zero T
		return zero
	}
}
