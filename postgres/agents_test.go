package postgres_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/postgres"
)

func lock(t *testing.T, s *postgres.Store, agent string, n int) bool {
	t.Helper()
	ok, err := s.LockAgent(ctx, agent, n)
	if err != nil {
		t.Fatalf("LockAgent: %v", err)
	}
	return ok
}

func TestAgentSlotsHoldAcrossNodes(t *testing.T) {
	t.Parallel()
	a, b := liveAndPaused(t)
	if !lock(t, a, "agent-1", 1) {
		t.Fatal("A could not take agent-1's only slot")
	}
	if lock(t, b, "agent-1", 1) {
		t.Fatal("B took agent-1's slot while A held it")
	}
	if !lock(t, b, "agent-2", 1) {
		t.Fatal("another agent's slot was not free")
	}
	if err := a.UnlockAgent(ctx, "agent-1"); err != nil {
		t.Fatal(err)
	}
	if !lock(t, b, "agent-1", 1) {
		t.Fatal("B could not take agent-1's slot once A gave it back")
	}
	// Two slots: A and B each hold one, and a third taker waits.
	if !lock(t, a, "agent-3", 2) || !lock(t, b, "agent-3", 2) {
		t.Fatal("two nodes could not take agent-3's two slots")
	}
	if lock(t, a, "agent-3", 2) {
		t.Fatal("a third delivery took one of agent-3's two slots")
	}
	// A node whose lease lapses gives its slots up.
	postgres.StopHeartbeat(b)
	eventually(t, "A to take agent-1's slot from B, whose lease lapsed", func() bool { return lock(t, a, "agent-1", 1) })
}

func TestAgentSlotIsFreedAfterItsHold(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	a := newStore(t, schema, postgres.WithAgentSlotHold(time.Second))
	b := newStore(t, schema)
	if !lock(t, a, "agent-1", 1) {
		t.Fatal("A could not take the slot")
	}
	// A never gives it back (its release was lost): the hold ends it.
	eventually(t, "the slot's hold to end", func() bool { return lock(t, b, "agent-1", 1) })
}

// TestOneDeliveryAtATimePerAgentAcrossSchedulers runs two schedulers on two
// nodes of one schema with WithAgentConcurrency(1): an agent's deliveries
// never overlap, though each node would deliver them at once on its own.
func TestOneDeliveryAtATimePerAgentAcrossSchedulers(t *testing.T) {
	t.Parallel()
	// Poll-only stores and a long poll: each node claims only what it
	// creates itself, so both hold some of agent-1's occurrences.
	a, b := twoNodes(t, postgres.WithPollOnly())
	var mu sync.Mutex
	inflight, most := 0, 0
	var done atomic.Int32
	deliver := tickler.DelivererFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		mu.Lock()
		inflight++
		most = max(most, inflight)
		mu.Unlock()
		time.Sleep(30 * time.Millisecond) // a delivery that takes time: the overlap it invites
		mu.Lock()
		inflight--
		mu.Unlock()
		done.Add(1)
		return tickler.Result{}, nil
	})
	var schedulers []*tickler.Scheduler
	for _, store := range []*postgres.Store{a, b} {
		s, err := tickler.New(store, deliver, tickler.WithAgentConcurrency(1), tickler.WithPollInterval(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Stop(context.Background()) })
		schedulers = append(schedulers, s)
	}
	at := time.Now().Add(time.Second)
	const n = 8
	for i := range n {
		s := schedulers[i%2]
		if _, err := s.Create(ctx, "agent-1", tickler.CreateRequest{
			Messages: []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text("x")}},
			Schedule: tickler.At(at),
		}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the creating node to claim its occurrence", func() bool { return s.Stats().Pending == i/2+1 })
	}
	eventually(t, "every delivery", func() bool { return done.Load() == n })
	mu.Lock()
	defer mu.Unlock()
	if most != 1 {
		t.Fatalf("agent-1 had %d deliveries at once across two nodes, want 1", most)
	}
}
