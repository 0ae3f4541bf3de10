package tickler

import "testing"

// TestLookupsGiveNoKeyToUnknownIDs checks that deleting or offering ids
// the dispatcher does not hold leaves its side table of odd ids alone: a
// Delete of an unknown id used to add an entry that was never removed.
func TestLookupsGiveNoKeyToUnknownIDs(t *testing.T) {
	t.Parallel()
	var d dispatcher
	d.init(&Scheduler{})
	d.state = stateRunning
	for _, id := range []string{"legacy-1", "legacy-2", "019b76da-a800-78c0-8fec-1d5604cc1cdc"} {
		d.forget(id)
	}
	if len(d.oddIDs) != 0 || len(d.oddKeys) != 0 {
		t.Fatalf("forget gave keys to %d unknown ids", len(d.oddKeys))
	}
	d.cursor = Due{ID: maxID}
	d.offer(Due{ID: "legacy-1", Version: 1})
	if e := d.entryOf("legacy-1"); e != nil {
		t.Fatal("an offer without a due time made an entry")
	}
	if len(d.oddKeys) != 0 {
		t.Fatal("an offer without a due time gave a key")
	}
}
