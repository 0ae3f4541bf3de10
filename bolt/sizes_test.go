package bolt_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/bolt"
	"github.com/tickler-go/tickler/storetest"
)

// sizeOf returns tickler.RecordSize of r.
func sizeOf(t *testing.T, r *tickler.Record) int64 {
	t.Helper()
	n, err := tickler.RecordSize(r)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// wantAgentBytes fails the test unless the store's total for the agent is want.
func wantAgentBytes(t *testing.T, s *bolt.Store, agent string, want int64) {
	t.Helper()
	got, err := bolt.AgentBytes(s, agent)
	if err != nil || got != want {
		t.Fatalf("AgentBytes(%q) = %d, %v; want %d", agent, got, err, want)
	}
}

func TestOpenComputesAgentBytesOfAnOlderFile(t *testing.T) {
	t.Parallel()
	s := open(t)
	var want int64
	for i := range 5 {
		r := storetest.Record(fmt.Sprintf("r%d", i), "a", epoch)
		want += sizeOf(t, r)
		if err := s.Create(ctx, r, tickler.CreateParams{}); err != nil {
			t.Fatal(err)
		}
	}
	wantAgentBytes(t, s, "a", want)
	if err := bolt.DropAgentBytes(s); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s)
	wantAgentBytes(t, s, "a", want)
	err := s.Create(ctx, storetest.Record("over", "a", epoch), tickler.CreateParams{MaxBytesPerAgent: want + 1})
	if !errors.Is(err, tickler.ErrLimitExceeded) {
		t.Fatalf("Create past the computed total = %v, want ErrLimitExceeded", err)
	}
}

func TestDeletingAnUndecodableRecordRecountsItsAgent(t *testing.T) {
	t.Parallel()
	s := open(t)
	keep := storetest.Record("keep", "a", epoch)
	for _, r := range []*tickler.Record{keep, storetest.Record("bad", "a", epoch)} {
		if err := s.Create(ctx, r, tickler.CreateParams{}); err != nil {
			t.Fatal(err)
		}
	}
	damage(t, s, "bad", func(v []byte) []byte { v[len(v)-3] ^= 0x10; return v })
	if err := s.Delete(ctx, "a", "bad"); err != nil {
		t.Fatal(err)
	}
	wantAgentBytes(t, s, "a", sizeOf(t, keep))
}
