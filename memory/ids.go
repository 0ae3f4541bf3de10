package memory

import (
	"slices"

	"github.com/google/btree"
)

// idIndex is a set of ids, in order: one agent's, for List, or every
// agent's, for ListAll.
//
// The scheduler's ids are UUIDv7, increasing in creation order, so most
// ids sort after every id already in the index: those are appended to a
// sorted slice, and only an id that arrives out of order (another
// caller's ids, or concurrent creates) goes into a B-tree beside it;
// readers merge the two. A removal only counts the id as stale: readers
// skip an id whose record is gone or belongs to another agent now, and
// the index is rebuilt from its live ids once the stale ones outnumber
// them three to one. A B-tree insert and delete of string keys per index were most of
// a create and a removal.
type idIndex struct {
	sorted []string              // ascending
	extra  *btree.BTreeG[string] // ids that arrived out of order; nil if none
	live   int                   // ids whose record exists (and belongs to the agent)
	stale  int                   // ids left in the index by removals
	// sized says bytes counts the sizes of the live records: set once a
	// create checks the agent's byte limit, and kept from then on; until
	// then no record of the agent is measured (JSON-encoding each message
	// was a tenth of a create).
	sized bool
	bytes int64 // the sizes of the live records, if sized
}

func idLess(a, b string) bool { return a < b }

// add adds id, which has no live record in ix (it may be a stale id of
// ix, then it is live again).
func (ix *idIndex) add(id string) {
	ix.live++
	if n := len(ix.sorted); n == 0 || ix.sorted[n-1] < id {
		ix.sorted = append(ix.sorted, id)
		return
	}
	if _, found := slices.BinarySearch(ix.sorted, id); found {
		ix.stale--
		return
	}
	if ix.extra == nil {
		ix.extra = btree.NewG(32, idLess)
	}
	if _, was := ix.extra.ReplaceOrInsert(id); was {
		ix.stale--
	}
}

// ascend calls fn with the ids of ix from the first at or after from, in
// order, live or stale, until fn returns false.
func (ix *idIndex) ascend(from string, fn func(id string) bool) {
	i, _ := slices.BinarySearch(ix.sorted, from)
	if ix.extra != nil {
		stopped := false
		ix.extra.AscendGreaterOrEqual(from, func(e string) bool {
			for ; i < len(ix.sorted) && ix.sorted[i] < e; i++ {
				if !fn(ix.sorted[i]) {
					stopped = true
					return false
				}
			}
			if !fn(e) {
				stopped = true
				return false
			}
			return true
		})
		if stopped {
			return
		}
	}
	for ; i < len(ix.sorted); i++ {
		if !fn(ix.sorted[i]) {
			return
		}
	}
}

// drop counts the removal of one of ix's ids. It reports whether the
// stale ids now outnumber the live ones three to one: then the caller
// compacts ix. Each compaction reads every id's record (a map lookup that
// misses the cache in a large store), so removing most of n ids costs
// about (k+1)/k n lookups at a ratio of k: 2n at 1, 1.33n at 3, for at
// most 3 stale ids skipped per live one.
func (ix *idIndex) drop() (compact bool) {
	ix.live--
	ix.stale++
	return ix.stale > 3*ix.live && ix.stale > 1024
}

// compact rebuilds ix from the ids that live reports live.
func (ix *idIndex) compact(live func(id string) bool) {
	ids := make([]string, 0, ix.live)
	ix.ascend("", func(id string) bool {
		if live(id) {
			ids = append(ids, id)
		}
		return true
	})
	ix.sorted, ix.extra, ix.live, ix.stale = ids, nil, len(ids), 0
}
