package tickler_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/ticklertest"
)

// TestAgentConcurrencyDeliversOneAtATimeInDueOrder checks
// WithAgentConcurrency(1): an agent's occurrences run one at a time, in due
// order, while a hung delivery of one agent holds up no other agent.
func TestAgentConcurrencyDeliversOneAtATimeInDueOrder(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t, tickler.WithAgentConcurrency(1), tickler.WithConcurrency(4))
	gate := make(chan struct{})
	var mu sync.Mutex
	inflight, most := 0, 0
	b.Recorder.SetFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		if d.AgentID != "busy" {
			return tickler.Result{}, nil
		}
		mu.Lock()
		inflight++
		most = max(most, inflight)
		mu.Unlock()
		defer func() { mu.Lock(); inflight--; mu.Unlock() }()
		select {
		case <-gate:
		case <-ctx.Done():
		}
		return tickler.Result{}, nil
	})
	at := ticklertest.Epoch().Add(time.Minute)
	// Created in reverse: due order is not creation order.
	for i := 4; i >= 0; i-- {
		b.Create("busy", "x", tickler.At(at.Add(time.Duration(i)*time.Second)))
	}
	for range 6 {
		b.Create("other", "y", tickler.At(at))
	}
	b.Clock.Set(at.Add(10 * time.Second))
	// The busy agent's first delivery hangs; the other agent's six go
	// through, though the pool has four workers.
	b.WaitStarted(7)
	for i := range 5 {
		select {
		case gate <- struct{}{}:
		case <-time.After(b.WaitTimeout()):
			t.Fatalf("the busy agent's delivery %d never started", i+1)
		}
	}
	b.Settle()

	var busy []time.Time
	for _, d := range b.Recorder.Deliveries() {
		if d.AgentID == "busy" {
			busy = append(busy, d.Occurrence)
		}
	}
	if len(busy) != 5 || !slices.IsSortedFunc(busy, func(a, c time.Time) int { return a.Compare(c) }) {
		t.Fatalf("busy agent's occurrences = %v, want five in due order", busy)
	}
	if most != 1 {
		t.Fatalf("busy agent had %d deliveries at once, want 1", most)
	}
}

func TestAgentConcurrencyAllowsN(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t, tickler.WithAgentConcurrency(2))
	var mu sync.Mutex
	inflight, most := 0, 0
	gate := make(chan struct{})
	b.Recorder.SetFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		mu.Lock()
		inflight++
		most = max(most, inflight)
		mu.Unlock()
		defer func() { mu.Lock(); inflight--; mu.Unlock() }()
		select {
		case <-gate:
		case <-ctx.Done():
		}
		return tickler.Result{}, nil
	})
	at := ticklertest.Epoch().Add(time.Minute)
	for range 6 {
		b.Create("agent-1", "x", tickler.At(at))
	}
	b.Clock.Set(at)
	b.WaitStarted(2)
	for i := range 6 {
		select {
		case gate <- struct{}{}:
		case <-time.After(b.WaitTimeout()):
			t.Fatalf("delivery %d never started", i+1)
		}
	}
	b.Settle()
	if n := len(b.Recorder.Deliveries()); n != 6 || most != 2 {
		t.Fatalf("delivered %d with at most %d at once, want 6 with 2", n, most)
	}
}
