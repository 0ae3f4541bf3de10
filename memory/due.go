package memory

import (
	"cmp"
	"slices"
	"strings"

	"github.com/google/btree"
)

// dueIndex orders the records by next occurrence, for Claim: a key
// (next occurrence, id) per record that has one.
//
// A Delete leaves its record's key in the index, stale, instead of
// deleting it (the B-tree delete was a third of a removal at 1M records):
// a key is live only while its record exists and is due at the key's
// instant. Claim skips the stale keys it meets and deletes them; the index
// is rebuilt from the records' keys once the stale ones outnumber the live
// ones three to one, and emptied when none is live. Ack and Update, which move or
// remove a record just fired or changed, delete its old key at once.
type dueIndex struct {
	keys  *btree.BTreeG[dueKey]
	stale int // keys of removed records left in keys
}

type dueKey struct {
	at int64 // Unix nanoseconds
	id string
}

func dueLess(a, b dueKey) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return a.id < b.id
}

func newDueIndex() dueIndex { return dueIndex{keys: btree.NewG(32, dueLess)} }

// put adds the live key k; it may revive a stale key equal to it (a
// record removed and created again, due at the same instant).
func (x *dueIndex) put(k dueKey) {
	if _, was := x.keys.ReplaceOrInsert(k); was {
		x.stale--
	}
}

// move replaces the live key old with k.
func (x *dueIndex) move(old, k dueKey) {
	x.keys.Delete(old)
	x.put(k)
}

// leave counts a live key as stale, its record removed. It reports
// whether the stale keys now outnumber the live ones three to one: then
// the caller rebuilds the index.
func (x *dueIndex) leave() (rebuild bool) {
	x.stale++
	if x.stale == x.keys.Len() {
		x.keys, x.stale = btree.NewG(32, dueLess), 0 // none is live
		return false
	}
	return x.stale > 3*(x.keys.Len()-x.stale) && x.stale > 1024
}

// rebuild makes the index of the live keys, which it sorts. Reading them
// from the records map, in map order, and sorting them costs a fraction of
// looking up the record of every key in the index (a cache miss each).
func (x *dueIndex) rebuild(live []dueKey) {
	slices.SortFunc(live, func(a, b dueKey) int {
		if c := cmp.Compare(a.at, b.at); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	keys := btree.NewG(32, dueLess)
	for _, k := range live {
		keys.ReplaceOrInsert(k) // in order: along the rightmost path
	}
	x.keys, x.stale = keys, 0
}

// drop deletes the stale keys ks, met by a claim.
func (x *dueIndex) drop(ks []dueKey) {
	for _, k := range ks {
		x.keys.Delete(k)
	}
	x.stale -= len(ks)
}
