package memory

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestIDIndexMatchesASortedSet adds ids in order and out of order, drops
// and re-adds some, compacts, and checks after every step that ascend
// yields, from any start, exactly the ids added, in order.
func TestIDIndexMatchesASortedSet(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	var ix idIndex
	in := map[string]bool{}   // ids in the index, live or stale
	live := map[string]bool{} // the live ones
	check := func(step int) {
		t.Helper()
		var want []string
		for id := range in {
			want = append(want, id)
		}
		slices.Sort(want)
		from := ""
		if len(want) > 0 && rng.IntN(2) == 0 {
			from = want[rng.IntN(len(want))]
		}
		var got []string
		ix.ascend(from, func(id string) bool { got = append(got, id); return true })
		i, _ := slices.BinarySearch(want, from)
		if !slices.Equal(got, want[i:]) {
			t.Fatalf("step %d: ascend(%q) = %v, want %v", step, from, got, want[i:])
		}
		if ix.live != len(live) || ix.live+ix.stale != len(in) {
			t.Fatalf("step %d: live %d, stale %d; want %d live of %d", step, ix.live, ix.stale, len(live), len(in))
		}
	}
	next := 0
	for step := range 5000 {
		switch op := rng.IntN(10); {
		case op < 5: // the next id, in order
			next++
			id := fmt.Sprintf("id-%06d", next*10)
			ix.add(id)
			in[id], live[id] = true, true
		case op < 6: // an id out of order
			id := fmt.Sprintf("id-%06d", rng.IntN(next*10+1))
			if live[id] {
				continue
			}
			ix.add(id)
			in[id], live[id] = true, true
		case op < 9 && len(live) > 0: // a removal
			ids := make([]string, 0, len(live))
			for id := range live {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			id := ids[rng.IntN(len(ids))]
			delete(live, id)
			if ix.drop() || rng.IntN(50) == 0 {
				ix.compact(func(id string) bool { return live[id] })
				in = maps.Clone(live)
			}
		}
		check(step)
	}
}
