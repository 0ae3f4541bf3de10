package tickler_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/ticklertest"
)

func TestConcurrentUseWhileFiring(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	const workers, each = 8, 40
	var wg sync.WaitGroup
	deleted := sync.Map{}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			agent := fmt.Sprintf("agent-%d", w)
			for i := range each {
				sched := tickler.At(b.Clock.Now().Add(time.Duration(1+i%7) * time.Second))
				if i%3 == 0 {
					sched = tickler.Cron("* * * * *")
				}
				sm, err := b.Scheduler.Create(ctx, agent, tickler.CreateRequest{Messages: userText("x"), Schedule: sched})
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := b.Scheduler.List(ctx, agent, "", 10); err != nil {
					t.Error(err)
				}
				if i%4 == 0 {
					if err := b.Scheduler.Delete(ctx, agent, sm.ID); err != nil && !errors.Is(err, tickler.ErrNotFound) {
						t.Error(err)
					}
					deleted.Store(sm.ID, true)
				} else if _, err := b.Scheduler.Get(ctx, agent, sm.ID); err != nil && !errors.Is(err, tickler.ErrNotFound) {
					t.Error(err)
				}
			}
		}()
	}
	// Fire while they work.
	for range 20 {
		b.Clock.Add(500 * time.Millisecond)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	waitOrTimeout(t, done, b.WaitTimeout(), "the workers' creates, lists and deletes")
	b.Advance(3 * time.Minute)
	for _, d := range b.Recorder.Deliveries() {
		if _, ok := deleted.Load(d.ScheduledMessageID); ok && !d.Occurrence.Before(ticklertest.Epoch().Add(20*time.Second)) {
			t.Fatalf("deleted schedule %s delivered at %v", d.ScheduledMessageID, d.Occurrence)
		}
	}
	// Every one-time schedule not deleted fired exactly once.
	seen := map[string]int{}
	for _, d := range b.Recorder.Deliveries() {
		seen[d.IdempotencyKey]++
	}
	for k, n := range seen {
		if n != 1 {
			t.Fatalf("occurrence %s delivered %d times", k, n)
		}
	}
}
