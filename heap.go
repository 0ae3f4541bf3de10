package tickler

import (
	"bytes"
	"container/heap"
	crand "crypto/rand"
	"math"
	"time"

	"github.com/google/uuid"
)

// entry is what the heap holds of a schedule: only what firing needs, in
// 32 bytes. An occurrence waiting for a retry keeps its state beside the
// heap, in dueHeap.retries.
type entry struct {
	at      int64  // Unix nanoseconds the entry is due
	key     idKey  // the schedule's id
	version uint32 // the low bits of the record's version
	index   int32  // position in the heap, -1 once out of it
}

// newer reports whether version v is newer than the entry's, comparing the
// low 32 bits in serial-number arithmetic.
func (e *entry) newer(v uint64) bool { return int32(uint32(v)-e.version) > 0 }

// retryState carries an occurrence between its attempts, and an ack that
// failed between its tries.
type retryState struct {
	occ     time.Time // the occurrence, which keys every attempt
	started time.Time // when the first attempt started; zero until then
	attempt int       // attempts made so far
	key     string    // a triggered delivery's key; "" for a scheduled occurrence
	// ack, when set, is the record of an occurrence that ended (the
	// delivery happened, or was given up or skipped) but whose ack failed:
	// the next try only retries the ack, never the delivery.
	ack *pendingAck
}

// dueHeap is the dispatcher's min-heap of entries by (at, id), with an
// index from id to entry, the retry states of the entries that wait for a
// retry, and a side table of the ids that are not canonical UUIDs. It has
// no lock of its own: every method is called with dispatcher.mu held.
type dueHeap struct {
	entries []*entry
	byID    map[idKey]*entry
	retries map[idKey]*retryState
	// oddIDs and oddKeys map the ids that are not canonical UUIDs to
	// random keys, for as long as an entry or a flight uses the key; they
	// shrink when the entry goes (see release).
	oddIDs  map[idKey]string
	oddKeys map[string]idKey
}

func newDueHeap() dueHeap {
	return dueHeap{byID: make(map[idKey]*entry), retries: make(map[idKey]*retryState)}
}

// container/heap's interface, over entries.
type entryOrder []*entry

func (h entryOrder) Len() int { return len(h) }
func (h entryOrder) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return bytes.Compare(h[i].key[:], h[j].key[:]) < 0
}
func (h entryOrder) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = int32(i), int32(j)
}
func (h *entryOrder) Push(x any) {
	e := x.(*entry)
	e.index = int32(len(*h))
	*h = append(*h, e)
}
func (h *entryOrder) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.index = -1
	return e
}

func (h *dueHeap) order() *entryOrder { return (*entryOrder)(&h.entries) }

// Len returns the number of entries.
func (h *dueHeap) Len() int { return len(h.entries) }

// peek returns the earliest entry's due instant, and false if the heap is
// empty.
func (h *dueHeap) peek() (int64, bool) {
	if len(h.entries) == 0 {
		return 0, false
	}
	return h.entries[0].at, true
}

// set adds the occurrence due, or moves the id's entry to it if due's
// version is newer; it reports whether the heap changed. A moved entry
// loses its retry state: the new version starts afresh.
func (h *dueHeap) set(due Due) bool {
	k := h.keyOf(due.ID)
	if e, ok := h.byID[k]; ok {
		if !e.newer(due.Version) {
			return false
		}
		e.at, e.version = unixNano(due.At), uint32(due.Version)
		delete(h.retries, k)
		heap.Fix(h.order(), int(e.index))
		return true
	}
	h.insert(&entry{at: unixNano(due.At), key: k, version: uint32(due.Version)}, nil)
	return true
}

// insert adds e, with the retry state rs if it waits for a retry.
func (h *dueHeap) insert(e *entry, rs *retryState) {
	h.byID[e.key] = e
	if rs != nil {
		h.retries[e.key] = rs
	}
	heap.Push(h.order(), e)
}

// remove takes the id's entry out of the heap, if it has one, with its
// retry state; it reports whether there was one.
func (h *dueHeap) remove(id string) bool {
	k, ok := h.lookup(id)
	if !ok {
		return false
	}
	e := h.byID[k]
	if e == nil {
		return false
	}
	heap.Remove(h.order(), int(e.index))
	h.drop(e)
	return true
}

// removeOlder removes the id's entry if version v is newer than it.
func (h *dueHeap) removeOlder(id string, v uint64) bool {
	k, ok := h.lookup(id)
	if !ok {
		return false
	}
	if e := h.byID[k]; e != nil && e.newer(v) {
		return h.remove(id)
	}
	return false
}

// popDue pops the earliest entry if it is due at or before now, and returns
// its id, due instant, version (low 32 bits) and retry state.
func (h *dueHeap) popDue(now int64) (id string, at int64, version uint64, rs *retryState, ok bool) {
	if len(h.entries) == 0 || h.entries[0].at > now {
		return "", 0, 0, nil, false
	}
	e := heap.Pop(h.order()).(*entry)
	id, rs = h.idOf(e.key), h.retries[e.key]
	h.drop(e)
	return id, e.at, uint64(e.version), rs, true
}

// drop forgets everything kept beside an entry that left the heap.
func (h *dueHeap) drop(e *entry) {
	delete(h.byID, e.key)
	delete(h.retries, e.key)
	if id, ok := h.oddIDs[e.key]; ok {
		delete(h.oddIDs, e.key)
		delete(h.oddKeys, id)
	}
}

// has reports whether the id has an entry.
func (h *dueHeap) has(id string) bool {
	k, ok := h.lookup(id)
	return ok && h.byID[k] != nil
}

// lookup returns the key of an id the heap may hold, without giving an
// unknown odd id a key.
func (h *dueHeap) lookup(id string) (idKey, bool) {
	if k, ok := canonicalUUID(id); ok {
		return k, true
	}
	k, ok := h.oddKeys[id]
	return k, ok
}

// keyOf returns the key of an id, giving an odd id one.
func (h *dueHeap) keyOf(id string) idKey {
	if k, ok := h.lookup(id); ok {
		return k
	}
	if h.oddIDs == nil {
		h.oddIDs, h.oddKeys = make(map[idKey]string), make(map[string]idKey)
	}
	for {
		var k idKey
		_, _ = crand.Read(k[:])
		if _, taken := h.oddIDs[k]; !taken {
			h.oddIDs[k], h.oddKeys[id] = id, k
			return k
		}
	}
}

// idOf returns the id of a key.
func (h *dueHeap) idOf(k idKey) string {
	if id, ok := h.oddIDs[k]; ok {
		return id
	}
	return uuid.UUID(k).String()
}

// unixNano returns t in Unix nanoseconds, saturating outside the range an
// int64 holds (before 1678 or after 2262) instead of wrapping around.
// Stored instants are bounded by [MaxInstant], well inside it.
func unixNano(t time.Time) int64 {
	switch s := t.Unix(); {
	case s >= math.MaxInt64/int64(time.Second):
		return math.MaxInt64
	case s <= math.MinInt64/int64(time.Second):
		return math.MinInt64
	}
	return t.UnixNano()
}

// fromUnixNano is the inverse of unixNano, in UTC.
func fromUnixNano(n int64) time.Time { return time.Unix(0, n).UTC() }
