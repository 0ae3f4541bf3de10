package memory

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
)

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func rec(id string, next time.Time) *tickler.Record {
	return &tickler.Record{ID: id, AgentID: "a", Next: next,
		Message: tickler.MessageCreate{Messages: []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text(id)}}}}
}

// checkDue fails the test unless the due index holds a live key for every
// record that has a next occurrence, and counts the others as stale.
func checkDue(t *testing.T, s *Store) {
	t.Helper()
	live, stale := 0, 0
	s.due.keys.Ascend(func(k dueKey) bool {
		if s.dueLive(k) {
			live++
		} else {
			stale++
		}
		return true
	})
	want := 0
	for id, sl := range s.recs {
		if sl.rec.Next.IsZero() {
			continue
		}
		want++
		if _, ok := s.due.keys.Get(dueKey{sl.rec.Next.UnixNano(), id}); !ok {
			t.Fatalf("record %s due %v has no key", id, sl.rec.Next)
		}
	}
	if live != want || stale != s.due.stale {
		t.Fatalf("due index: %d live keys, %d stale (counted %d); want %d live", live, stale, s.due.stale, want)
	}
}

// TestClaimSkipsRemovedRecordsKeys: a removed record's key stays in the
// due index, stale; Claim neither returns it nor reports it as Next, and
// a record created again at the same instant is due again.
func TestClaimSkipsRemovedRecordsKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := New()
	at := func(i int) time.Time { return epoch.Add(time.Duration(i) * time.Second) }
	for i, id := range []string{"a", "b", "c"} {
		if err := s.Create(ctx, rec(id, at(i+1)), tickler.CreateParams{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(ctx, "", "b"); err != nil {
		t.Fatal(err)
	}
	checkDue(t, s)
	res, _ := s.Claim(ctx, tickler.ClaimParams{Until: at(1), Limit: 10})
	if len(res.Due) != 1 || res.Due[0].ID != "a" || !res.Next.Equal(at(3)) {
		t.Fatalf("Claim until the deleted b's instant = %v, next %v; want [a], next %v", res.Due, res.Next, at(3))
	}
	if err := s.Create(ctx, rec("b", at(2)), tickler.CreateParams{}); err != nil {
		t.Fatal(err)
	}
	checkDue(t, s)
	res, _ = s.Claim(ctx, tickler.ClaimParams{Until: at(3), Limit: 10})
	if got := dueIDs(res.Due); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("Claim after b was created again = %v", got)
	}
	// A record removed by its ack, then advanced records: Claim from a cursor.
	if err := s.Ack(ctx, tickler.AckParams{ID: "a", Version: 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(ctx, tickler.AckParams{ID: "b", Version: 1, Next: at(5)}); err != nil {
		t.Fatal(err)
	}
	checkDue(t, s)
	res, _ = s.Claim(ctx, tickler.ClaimParams{After: tickler.Due{ID: "a", At: at(1)}, Until: at(4), Limit: 10})
	if got := dueIDs(res.Due); !slices.Equal(got, []string{"c"}) || !res.Next.Equal(at(5)) {
		t.Fatalf("Claim after the acks = %v, next %v; want [c], next %v", got, res.Next, at(5))
	}
	checkDue(t, s)
}

// TestDueIndexStaysExactThroughRemovals creates, removes, acks, updates
// and claims at random, past several compactions, and checks the due
// index after each step.
func TestDueIndexStaysExactThroughRemovals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	s := New()
	var ids []string
	for step := range 20000 {
		switch op := rng.IntN(10); {
		case op < 5 || len(ids) == 0:
			id := fmt.Sprintf("r-%d", rng.IntN(4000)) // ids and instants repeat
			if err := s.Create(ctx, rec(id, epoch.Add(time.Duration(rng.IntN(500))*time.Millisecond)), tickler.CreateParams{}); err == nil {
				ids = append(ids, id)
			}
		case op < 8:
			i := rng.IntN(len(ids))
			_ = s.Delete(ctx, "", ids[i])
			ids = slices.Delete(ids, i, i+1)
		case op < 9:
			r, err := s.Get(ctx, "", ids[rng.IntN(len(ids))])
			if err != nil {
				continue
			}
			r.Next = epoch.Add(time.Duration(rng.IntN(500)) * time.Millisecond)
			if rng.IntN(4) == 0 {
				r.Next = time.Time{}
			}
			if err := s.Update(ctx, r, tickler.UpdateParams{}); err != nil {
				t.Fatal(err)
			}
		default:
			if _, err := s.Claim(ctx, tickler.ClaimParams{Until: epoch.Add(time.Duration(rng.IntN(500)) * time.Millisecond), Limit: 50}); err != nil {
				t.Fatal(err)
			}
		}
		if step%100 == 0 {
			checkDue(t, s)
		}
	}
	checkDue(t, s)
}

// TestDueIndexRebuildsAfterMostRecordsGo deletes most records, then all:
// the index is rebuilt from the live records, then emptied, and stays
// exact.
func TestDueIndexRebuildsAfterMostRecordsGo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := New()
	const n = 2000
	for i := range n {
		if err := s.Create(ctx, rec(fmt.Sprintf("r-%04d", i), epoch.Add(time.Duration(n-i)*time.Millisecond)), tickler.CreateParams{}); err != nil {
			t.Fatal(err)
		}
	}
	rebuilt := false
	for i := range n - 100 {
		if err := s.Delete(ctx, "", fmt.Sprintf("r-%04d", i)); err != nil {
			t.Fatal(err)
		}
		rebuilt = rebuilt || s.due.stale < i+1
	}
	if !rebuilt || s.due.keys.Len() >= n {
		t.Fatalf("after %d of %d deletes: %d keys, %d stale; want a rebuild", n-100, n, s.due.keys.Len(), s.due.stale)
	}
	checkDue(t, s)
	res, _ := s.Claim(ctx, tickler.ClaimParams{Until: epoch.Add(time.Hour), Limit: n})
	if len(res.Due) != 100 || res.Due[0].ID != fmt.Sprintf("r-%04d", n-1) {
		t.Fatalf("Claim after the rebuild: %d due, first %v", len(res.Due), res.Due[:1])
	}
	for i := n - 100; i < n; i++ {
		if err := s.Delete(ctx, "", fmt.Sprintf("r-%04d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if s.due.keys.Len() != 0 || s.due.stale != 0 {
		t.Fatalf("after every delete: %d keys, %d stale; want none", s.due.keys.Len(), s.due.stale)
	}
}

func dueIDs(ds []tickler.Due) []string {
	var ids []string
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	return ids
}
