package bolt_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/bolt"
	"github.com/tickler-go/tickler/storetest"
)

// The agent index is two buckets, agents and agents_recent, which the
// committer merges (agentindex.go). These tests run the store with merges
// after every commit, or every few, so that every read meets records in
// one bucket, the other, or both.

func TestConformanceWhileMerging(t *testing.T) {
	t.Parallel()
	for _, at := range []int{1, 3} {
		t.Run(fmt.Sprintf("mergeAt=%d", at), func(t *testing.T) {
			t.Parallel()
			storetest.RunWith(t, storetest.Config{
				New: func(t *testing.T) tickler.Store { return open(t, bolt.WithMergeAt(at)) },
				Damage: func(t *testing.T, s tickler.Store, id string) {
					damage(t, s.(*bolt.Store), id, func(v []byte) []byte { v[len(v)-3] ^= 0x10; return v })
				},
			})
		})
	}
}

// TestAgentIndexAgreesWithAModelAcrossMerges creates and deletes at random
// for a few agents, with a merge every 7 entries, and after each step
// checks every agent's List (read in small pages) and Count against a
// model, then again after a reopen.
func TestAgentIndexAgreesWithAModelAcrossMerges(t *testing.T) {
	t.Parallel()
	s := open(t, bolt.WithMergeAt(7))
	rng := rand.New(rand.NewPCG(1, 2))
	agents := []string{"a", "b", "c"}
	model := map[string][]string{} // agent -> ids, sorted
	check := func(step int) {
		t.Helper()
		for _, agent := range agents {
			var got []string
			after := ""
			for {
				res, err := s.List(ctx, tickler.ListParams{AgentID: agent, After: after, Limit: 3})
				if err != nil {
					t.Fatalf("step %d: List(%s): %v", step, agent, err)
				}
				for _, r := range res.Records {
					got = append(got, r.ID)
					after = r.ID
				}
				if !res.More {
					break
				}
			}
			if want := model[agent]; !slices.Equal(got, want) {
				t.Fatalf("step %d: List(%s) = %v, want %v", step, agent, got, want)
			}
			if n, err := s.Count(ctx, agent); err != nil || n != len(model[agent]) {
				t.Fatalf("step %d: Count(%s) = %d, %v; want %d", step, agent, n, err, len(model[agent]))
			}
		}
	}
	for step := range 400 {
		agent := agents[rng.IntN(len(agents))]
		ids := model[agent]
		if len(ids) > 0 && rng.IntN(3) == 0 {
			id := ids[rng.IntN(len(ids))]
			if err := s.Delete(ctx, agent, id); err != nil {
				t.Fatalf("step %d: Delete(%s, %s): %v", step, agent, id, err)
			}
			model[agent] = slices.DeleteFunc(ids, func(x string) bool { return x == id })
		} else {
			// Ids out of time order as well as in it: an import keeps
			// the ids it is given.
			id := fmt.Sprintf("r%05d", rng.IntN(100000))
			err := s.Create(ctx, storetest.Record(id, agent, epoch), tickler.CreateParams{})
			if errors.Is(err, tickler.ErrExists) {
				continue
			}
			if err != nil {
				t.Fatalf("step %d: Create(%s): %v", step, id, err)
			}
			i, _ := slices.BinarySearch(ids, id)
			model[agent] = slices.Insert(ids, i, id)
		}
		if step%10 == 0 {
			check(step)
		}
	}
	check(400)
	s = reopen(t, s)
	check(401)
}

func TestCountLimitHoldsAcrossMerges(t *testing.T) {
	t.Parallel()
	s := open(t, bolt.WithMergeAt(2))
	limit := tickler.CreateParams{MaxPerAgent: 5}
	for i := range 5 {
		if err := s.Create(ctx, storetest.Record(fmt.Sprintf("r%d", i), "a", epoch), limit); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Create(ctx, storetest.Record("r5", "a", epoch), limit); !errors.Is(err, tickler.ErrLimitExceeded) {
		t.Fatalf("a sixth Create = %v, want ErrLimitExceeded", err)
	}
	if err := s.Delete(ctx, "a", "r0"); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, storetest.Record("r5", "a", epoch), limit); err != nil {
		t.Fatalf("Create after a Delete freed a place = %v", err)
	}
}

func TestOpenUpgradesALayout1File(t *testing.T) {
	t.Parallel()
	s := open(t)
	var want []string
	for i := range 6 {
		id := fmt.Sprintf("r%d", i)
		want = append(want, id)
		if err := s.Create(ctx, storetest.Record(id, "a", epoch), tickler.CreateParams{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := bolt.ToLayout1(s); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s)
	if v, err := bolt.Layout(s); err != nil || v != 2 {
		t.Fatalf("layout after Open = %d, %v; want 2", v, err)
	}
	if n, err := bolt.AgentCount(s, "a"); err != nil || n != 6 {
		t.Fatalf("agent a's count after the upgrade = %d, %v; want 6", n, err)
	}
	wantAgentBytes(t, s, "a", 6*sizeOf(t, storetest.Record("r0", "a", epoch)))
	if err := s.Create(ctx, storetest.Record("r6", "a", epoch), tickler.CreateParams{MaxPerAgent: 6}); !errors.Is(err, tickler.ErrLimitExceeded) {
		t.Fatalf("Create past the counted limit = %v, want ErrLimitExceeded", err)
	}
	if err := s.Create(ctx, storetest.Record("r6", "a", epoch), tickler.CreateParams{}); err != nil {
		t.Fatal(err)
	}
	res, err := s.List(ctx, tickler.ListParams{AgentID: "a", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res.Records {
		got = append(got, r.ID)
	}
	if want = append(want, "r6"); !slices.Equal(got, want) {
		t.Fatalf("List after the upgrade = %v, want %v", got, want)
	}
}

// TestMergesMoveRecentEntriesIntoTheIndex checks that agents_recent does
// not grow past about its merge size.
func TestMergesMoveRecentEntriesIntoTheIndexes(t *testing.T) {
	t.Parallel()
	s := open(t, bolt.WithMergeAt(10))
	for i := range 95 {
		if err := s.Create(ctx, storetest.Record(fmt.Sprintf("r%03d", i), fmt.Sprintf("agent-%d", i%4), epoch), tickler.CreateParams{}); err != nil {
			t.Fatal(err)
		}
	}
	// Creates one at a time: a merge follows the commit that reaches 10.
	if n, err := bolt.Recent(s); err != nil || n >= 10 {
		t.Fatalf("agents_recent holds %d entries (%v), want fewer than 10", n, err)
	}
}

// TestDueIndexAgreesWithAModelAcrossMerges creates, acks (advancing or
// removing) and deletes records due at random instants, with a merge every
// 7 entries, and checks that claims read in small pages from a cursor
// return every record due up to a bound, in (instant, id) order, as a
// model says, then again after a reopen.
func TestDueIndexAgreesWithAModelAcrossMerges(t *testing.T) {
	t.Parallel()
	s := open(t, bolt.WithMergeAt(7))
	rng := rand.New(rand.NewPCG(3, 4))
	type entry struct {
		at      time.Time
		version uint64
	}
	model := map[string]entry{}
	at := func() time.Time { return epoch.Add(time.Duration(rng.IntN(1000)) * time.Second) }
	check := func(step int) {
		t.Helper()
		until := epoch.Add(600 * time.Second)
		var want []tickler.Due
		for id, e := range model {
			if !e.at.After(until) {
				want = append(want, tickler.Due{ID: id, At: e.at, Version: e.version})
			}
		}
		slices.SortFunc(want, func(a, b tickler.Due) int {
			if c := a.At.Compare(b.At); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
		var got []tickler.Due
		var after tickler.Due
		for {
			res, err := s.Claim(ctx, tickler.ClaimParams{After: after, Until: until, Limit: 4, Now: epoch})
			if err != nil {
				t.Fatalf("step %d: Claim: %v", step, err)
			}
			got = append(got, res.Due...)
			if len(res.Due) < 4 {
				break
			}
			after = res.Due[len(res.Due)-1]
		}
		if !slices.EqualFunc(got, want, func(a, b tickler.Due) bool {
			return a.ID == b.ID && a.At.Equal(b.At) && a.Version == b.Version
		}) {
			t.Fatalf("step %d: claims = %v, want %v", step, got, want)
		}
	}
	var ids []string
	for step := range 400 {
		switch op := rng.IntN(4); {
		case op == 0 && len(ids) > 0:
			id := ids[rng.IntN(len(ids))]
			if err := s.Delete(ctx, "agent", id); err != nil {
				t.Fatalf("step %d: Delete(%s): %v", step, id, err)
			}
			delete(model, id)
			ids = slices.DeleteFunc(ids, func(x string) bool { return x == id })
		case op == 1 && len(ids) > 0:
			id := ids[rng.IntN(len(ids))]
			e := model[id]
			a := tickler.AckParams{ID: id, Version: e.version}
			if rng.IntN(2) == 0 {
				a.Next = at()
				model[id] = entry{a.Next, e.version + 1}
			} else {
				delete(model, id)
				ids = slices.DeleteFunc(ids, func(x string) bool { return x == id })
			}
			if err := s.Ack(ctx, a); err != nil {
				t.Fatalf("step %d: Ack(%s): %v", step, id, err)
			}
		default:
			id := fmt.Sprintf("r%05d", step)
			next := at()
			if err := s.Create(ctx, storetest.Record(id, "agent", next), tickler.CreateParams{}); err != nil {
				t.Fatalf("step %d: Create(%s): %v", step, id, err)
			}
			model[id] = entry{next, 1}
			ids = append(ids, id)
		}
		if step%10 == 0 {
			check(step)
		}
	}
	check(400)
	s = reopen(t, s)
	check(401)
}
