package tickler

import (
	"testing"
	"time"
)

// TestLookupsGiveNoKeyToUnknownIDs checks that deleting or offering ids
// the dispatcher does not hold leaves its side table of odd ids alone: a
// Delete of an unknown id used to add an entry that was never removed.
func TestLookupsGiveNoKeyToUnknownIDs(t *testing.T) {
	t.Parallel()
	d := newDispatcher(dispatcherConfig{})
	d.state = stateRunning
	for _, id := range []string{"legacy-1", "legacy-2", "019b76da-a800-78c0-8fec-1d5604cc1cdc"} {
		d.forget(id)
	}
	if len(d.heap.oddIDs) != 0 || len(d.heap.oddKeys) != 0 {
		t.Fatalf("forget gave keys to %d unknown ids", len(d.heap.oddKeys))
	}
	d.cursor = Due{ID: maxID}
	d.offer(Due{ID: "legacy-1", Version: 1})
	if d.heap.has("legacy-1") {
		t.Fatal("an offer without a due time made an entry")
	}
	if len(d.heap.oddKeys) != 0 {
		t.Fatal("an offer without a due time gave a key")
	}
}

// TestOddIDTableShrinksWhenEntriesGo checks that the side table of ids
// that are not UUIDs holds a key only while an entry uses it: popped,
// removed and replaced entries give theirs back.
func TestOddIDTableShrinksWhenEntriesGo(t *testing.T) {
	t.Parallel()
	h := newDueHeap()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, id := range []string{"odd-a", "odd-b", "odd-c"} {
		h.set(Due{ID: id, At: at.Add(time.Duration(i) * time.Second), Version: 1})
	}
	h.set(Due{ID: "odd-a", At: at.Add(time.Hour), Version: 2}) // moved, same key
	if len(h.oddIDs) != 3 || len(h.oddKeys) != 3 {
		t.Fatalf("table has %d/%d keys for 3 entries", len(h.oddIDs), len(h.oddKeys))
	}
	if id, _, _, _, ok := h.popDue(unixNano(at.Add(time.Second))); !ok || id != "odd-b" {
		t.Fatalf("popDue = %q, %v; want odd-b", id, ok)
	}
	if !h.remove("odd-c") {
		t.Fatal("remove(odd-c) found nothing")
	}
	if !h.removeOlder("odd-a", 3) {
		t.Fatal("removeOlder(odd-a, 3) kept an older entry")
	}
	if h.Len() != 0 || len(h.oddIDs) != 0 || len(h.oddKeys) != 0 || len(h.byID) != 0 {
		t.Fatalf("after every entry went: heap %d, table %d/%d, index %d", h.Len(), len(h.oddIDs), len(h.oddKeys), len(h.byID))
	}
}

// TestInstantsSaturateInsteadOfWrapping checks the heap's conversion of
// instants outside the int64 nanosecond range.
func TestInstantsSaturateInsteadOfWrapping(t *testing.T) {
	t.Parallel()
	far := time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
	if n := unixNano(far); n <= unixNano(time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("unixNano(2300) = %d wrapped below 2262", n)
	}
	if n := unixNano(time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC)); n >= 0 {
		t.Fatalf("unixNano(1500) = %d wrapped above 1970", n)
	}
}
