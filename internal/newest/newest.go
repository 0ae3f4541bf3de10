// Package newest keeps the n newest outcomes offered to it, by outcome id
// (UUIDv7s, so id order is time order): the one copy of the selection that
// the stores' RecentOutcomes make.
package newest

import (
	"container/heap"
	"slices"

	"github.com/tickler-go/tickler"
)

// Outcomes keeps the n greatest outcome ids offered. Its zero value is not
// usable; call [New].
type Outcomes struct {
	n int
	h minHeap
}

// New returns an empty selection of at most n outcomes (n at least 1).
func New(n int) *Outcomes { return &Outcomes{n: max(n, 1)} }

// Offer keeps o if it is among the n newest offered so far, and reports
// whether it did: once it does not, an older outcome would not be kept
// either, so a caller reading one history newest first can stop there.
func (t *Outcomes) Offer(o tickler.AgentOutcome) bool {
	if len(t.h) < t.n {
		heap.Push(&t.h, o)
		return true
	}
	if o.ID <= t.h[0].ID {
		return false
	}
	t.h[0] = o
	heap.Fix(&t.h, 0)
	return true
}

// Full reports whether n outcomes are kept, and if so the id of the
// oldest: an outcome not newer than it would not be kept.
func (t *Outcomes) Full() (oldest string, full bool) {
	if len(t.h) < t.n {
		return "", false
	}
	return t.h[0].ID, true
}

// Result returns the first limit kept, newest first, and whether more
// were kept beyond them.
func (t *Outcomes) Result(limit int) tickler.RecentResult {
	out := slices.Clone([]tickler.AgentOutcome(t.h))
	slices.SortFunc(out, func(a, b tickler.AgentOutcome) int {
		switch {
		case a.ID > b.ID:
			return -1
		case a.ID < b.ID:
			return 1
		}
		return 0
	})
	res := tickler.RecentResult{Outcomes: out}
	if len(out) > limit {
		res.Outcomes, res.More = out[:limit], true
	}
	return res
}

// minHeap orders outcomes by id, the oldest first.
type minHeap []tickler.AgentOutcome

func (h minHeap) Len() int           { return len(h) }
func (h minHeap) Less(i, j int) bool { return h[i].ID < h[j].ID }
func (h minHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *minHeap) Push(x any)        { *h = append(*h, x.(tickler.AgentOutcome)) }
func (h *minHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
