package tickler

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// TestStress (stress_run_test.go) runs ticklertest.Stress with checkHeap
// as its check after every step.

// checkHeap verifies that the heap and the store agree: every stored
// occurrence within the cursor is in the heap (nothing is lost), and every
// heap entry is a stored occurrence or a retry of one (nothing stale
// fires). The scheduler must be idle.
func (d *dispatcher) checkHeap(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	h := &d.heap
	for i, e := range h.entries {
		if int(e.index) != i || h.byID[e.key] != e {
			return fmt.Errorf("heap index broken at %d (%s)", i, h.idOf(e.key))
		}
		if l, r := 2*i+1, 2*i+2; (l < len(h.entries) && entryOrder(h.entries).Less(l, i)) || (r < len(h.entries) && entryOrder(h.entries).Less(r, i)) {
			return fmt.Errorf("heap order broken at %d", i)
		}
	}
	if len(h.byID) != len(h.entries) {
		return fmt.Errorf("index has %d entries, heap %d", len(h.byID), len(h.entries))
	}
	for k := range h.retries {
		if h.byID[k] == nil {
			return fmt.Errorf("retry state of %s, which is not in the heap", h.idOf(k))
		}
	}
	if len(h.oddIDs) > len(h.entries) || len(h.oddKeys) != len(h.oddIDs) {
		return fmt.Errorf("odd-id table has %d/%d keys for %d entries", len(h.oddIDs), len(h.oddKeys), len(h.entries))
	}
	if d.full || len(d.flights) != 0 || len(d.agents) != 0 || len(d.ready) != 0 {
		return errors.New("not idle")
	}
	res, err := d.cfg.store.Claim(ctx, ClaimParams{Until: d.cursor.At, Limit: 1 << 30})
	if err != nil {
		return err
	}
	stored := map[idKey]Due{}
	for _, du := range res.Due {
		k, _ := h.lookup(du.ID)
		e, ok := h.byID[k]
		if !ok {
			return fmt.Errorf("stored occurrence %s at %v is not in the heap", du.ID, du.At)
		}
		stored[k] = du
		if e.version != uint32(du.Version) {
			return fmt.Errorf("%s: heap version %d, store %d", du.ID, e.version, du.Version)
		}
		rs := h.retries[k]
		if rs == nil && e.at != du.At.UnixNano() {
			return fmt.Errorf("%s: heap at %v, store %v", du.ID, time.Unix(0, e.at), du.At)
		}
		if rs != nil && !rs.occ.Equal(du.At) {
			return fmt.Errorf("%s: retry of %v, store %v", du.ID, rs.occ, du.At)
		}
	}
	for k := range h.byID {
		if _, ok := stored[k]; !ok {
			return fmt.Errorf("heap entry %s is not a stored occurrence within the cursor", h.idOf(k))
		}
	}
	return nil
}
