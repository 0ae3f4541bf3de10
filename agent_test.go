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

// gate makes the bundle's deliveries of agent (all agents if "") wait for
// a token each, and reports the most that ran at once.
type gate struct {
	tokens chan struct{}
	mu     sync.Mutex
	now    int
	most   int
}

func newGate(b *ticklertest.Bundle, agent string) *gate {
	g := &gate{tokens: make(chan struct{})}
	b.Recorder.SetFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		if agent != "" && d.AgentID != agent {
			return tickler.Result{}, nil
		}
		g.mu.Lock()
		g.now++
		g.most = max(g.most, g.now)
		g.mu.Unlock()
		defer func() { g.mu.Lock(); g.now--; g.mu.Unlock() }()
		select {
		case <-g.tokens:
		case <-ctx.Done():
		}
		return tickler.Result{}, nil
	})
	return g
}

// open lets n deliveries through, one token each, failing the test if one
// does not start in time.
func (g *gate) open(t *testing.T, b *ticklertest.Bundle, n int) {
	t.Helper()
	for i := range n {
		select {
		case g.tokens <- struct{}{}:
		case <-time.After(b.WaitTimeout()):
			t.Fatalf("delivery %d never started", i+1)
		}
	}
}

// TestAgentConcurrencyDeliversOneAtATimeInDueOrder checks
// WithAgentConcurrency(1): an agent's occurrences run one at a time, in due
// order, while a hung delivery of one agent holds up no other agent.
func TestAgentConcurrencyDeliversOneAtATimeInDueOrder(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t, tickler.WithAgentConcurrency(1), tickler.WithConcurrency(4))
	g := newGate(b, "busy")
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
	g.open(t, b, 5)
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
	if g.most != 1 {
		t.Fatalf("busy agent had %d deliveries at once, want 1", g.most)
	}
}

func TestAgentConcurrencyAllowsN(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t, tickler.WithAgentConcurrency(2))
	g := newGate(b, "")
	at := ticklertest.Epoch().Add(time.Minute)
	for range 6 {
		b.Create("agent-1", "x", tickler.At(at))
	}
	b.Clock.Set(at)
	b.WaitStarted(2)
	g.open(t, b, 6)
	b.Settle()
	if n := len(b.Recorder.Deliveries()); n != 6 || g.most != 2 {
		t.Fatalf("delivered %d with at most %d at once, want 6 with 2", n, g.most)
	}
}
