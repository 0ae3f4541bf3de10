package tickler

import (
	"context"
	"errors"
	"time"
)

// The look-ahead window over the store: what the dispatcher claims, and how
// it reconciles a claim with the offers and deletes that happen while the
// claim reads the store. doc.go describes the invariants; every method
// whose name ends in Locked is called with d.mu held.

// maxID sorts after every id, so that Due{At: t, ID: maxID} is a cursor
// covering everything due at or before t.
const maxID = "\xff"

// offer tells the dispatcher that a stored record's next occurrence is due
// (Create, Update, Pause, Resume call it after the store returned). An
// occurrence within the cursor goes into the heap; a later one is left to
// a later claim. Over a shared store, this node does not hold the record:
// the offer only makes it claim soon.
func (d *dispatcher) offer(due Due) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.offerLocked(due, false) {
		d.wake()
	}
}

// offerLocked is offer with d.mu held; held says whether this node holds
// the record's lease (its own ack advanced it), which matters only over a
// shared store. It reports whether the loop must look again (the heap
// gained an entry, a claim is due, or the earliest stored occurrence beyond
// the cursor moved earlier).
func (d *dispatcher) offerLocked(due Due, held bool) (wake bool) {
	if d.state != stateRunning {
		return false
	}
	if f, ok := d.flights[due.ID]; ok {
		// Its worker offers the next occurrence when done; the newest
		// version offered meanwhile replaces it.
		if f.next == nil || f.next.Version < due.Version {
			next := due // a copy: &due would move every offer's due to the heap
			f.next = &next
		}
		return false
	}
	// An update or a pause replaced the occurrence the heap holds.
	if d.heap.removeOlder(due.ID, due.Version) {
		d.notify()
	}
	if due.At.IsZero() {
		return false
	}
	if d.cfg.shared != nil && !held {
		d.hinted = true
		d.notify()
		return true
	}
	if d.claiming {
		// The claim in progress may or may not see this version: decide
		// once it returns (claim replays recent).
		d.recent = append(d.recent, due)
		return false
	}
	return d.placeLocked(due)
}

// placeLocked puts an occurrence this node holds into the heap if it is
// within the cursor, or notes it as the earliest beyond. Over a shared
// store, due is on the store's clock, as the cursor is; it is fired on
// this node's, which the heap and storeNext are on.
func (d *dispatcher) placeLocked(due Due) bool {
	within := !d.cursor.Before(due)
	if d.cfg.shared != nil {
		due.At = due.At.Add(d.skew)
	}
	if within {
		if d.heap.set(due) {
			d.notify()
			return true
		}
		return false
	}
	if d.storeNext.IsZero() || due.At.Before(d.storeNext) {
		d.storeNext = due.At
		d.notify()
		return true
	}
	return false
}

// forget drops a deleted schedule from the heap and stops its flights
// (scheduled and triggered) from starting another attempt.
func (d *dispatcher) forget(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.heap.remove(id) {
		d.notify()
	}
	if f, ok := d.flights[id]; ok {
		f.deleted = true
	}
	for f, fid := range d.triggered {
		if fid == id {
			f.deleted = true
		}
	}
	if d.claiming {
		// The claim may have read the record before it was deleted.
		if d.forgotten == nil {
			d.forgotten = make(map[string]bool)
		}
		d.forgotten[id] = true
	}
}

// needClaimLocked reports whether stored occurrences due by t may be
// missing from the heap at now: the first claim is to be made, the last
// filled its batch, a stored occurrence enters the window, or, over a
// shared store, another node may have changed something (a hint, or the
// poll interval passed).
func (d *dispatcher) needClaimLocked(now, t time.Time) bool {
	if !d.loaded || d.full || (!d.storeNext.IsZero() && !d.storeNext.After(t)) {
		return true
	}
	return d.cfg.shared != nil && (d.hinted || !now.Before(d.lastClaim.Add(d.cfg.pollInterval)))
}

// claimLead is how long before the earliest stored occurrence beyond the
// cursor (storeNext) the loop claims it: the look-ahead. Over a shared
// store, half of it: each poll claims the whole window anyway, and a
// stream of records due a millisecond apart would otherwise make the node
// claim again as soon as each claim returned, a few records at a time.
func (d *dispatcher) claimLead() time.Duration {
	if d.cfg.shared != nil {
		return d.cfg.lookahead / 2
	}
	return d.cfg.lookahead
}

// claim loads, from the store, what falls due within the look-ahead, and
// moves the cursor to the end of what it loaded.
//
// Over a shared store the cursor is on the store's clock and bounds only
// what this node holds (see SharedStore): each claim returns what no live
// node holds from the start of the window, and what this node holds past
// the cursor. The cursor moves to the end of the store's window, or just
// short of it (Until minus the skew this node fires with), or to the last
// record of a full claim, never back; after a Reset, the node holds
// nothing from before, and the cursor is where this claim left it.
//
// It reads the store without d.mu. Meanwhile, offers are queued in recent
// and deletes noted in forgotten; once the store answers, what it
// returned is pushed unless forgotten, the cursor moves, and the queued
// offers are replayed against the new cursor. A version the claim returned
// and an offer of the same record reconcile by version in dueHeap.set.
func (d *dispatcher) claim(ctx context.Context) error {
	d.mu.Lock()
	if d.claiming {
		d.mu.Unlock()
		return nil
	}
	d.claiming = true
	after := d.cursor
	if d.cfg.shared != nil {
		d.hinted = false // a hint from now on calls for another claim
	}
	d.mu.Unlock()

	now := d.cfg.clock.Now()
	until := now.Add(d.cfg.lookahead)
	res, err := d.cfg.store.Claim(ctx, ClaimParams{After: after, Until: until, Limit: d.cfg.claimBatch, Now: now})
	took := d.cfg.clock.Now().Sub(now)
	d.counts.claims.Add(1)
	if err != nil && !errors.Is(err, ErrDamaged) {
		d.counts.claimErrors.Add(1)
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	d.claiming = false
	recent, forgotten := d.recent, d.forgotten
	d.recent, d.forgotten = nil, nil
	defer d.notify()
	if err != nil && !errors.Is(err, ErrDamaged) {
		for _, r := range recent {
			d.placeLocked(r)
		}
		return err
	}
	d.loaded = true
	full := len(res.Due) == d.cfg.claimBatch
	if d.cfg.shared != nil {
		d.lastClaim = now
		if res.Reset {
			// This node lost its lease: what it held is another's now.
			d.cfg.logger.Warn("tickler: this node lost its lease on the shared store; dropping what it held")
			d.heap = newDueHeap()
			d.cursor = Due{}
			d.notify()
		}
		// The store read its clock at some moment of the claim, up to
		// took after now: res.Skew is low by up to took. The highest skew
		// the claim allows fires late by that much at most, never early.
		d.skew = res.Skew + max(took, 0)
		// The cursor, on the store's clock: the store's window ended at
		// its clock's reading at the claim's start plus Until − Now,
		// which is at or after Until − d.skew (its reading for res.Skew
		// came at most took later). Short of the end, it is safe: a
		// record this node holds between the two comes back once more.
		reach := Due{At: until.Add(-d.skew), ID: maxID}
		if full {
			reach = res.Due[len(res.Due)-1]
		}
		if d.cursor.Before(reach) {
			d.cursor = reach
		}
		for i := range res.Due {
			res.Due[i].At = res.Due[i].At.Add(d.skew)
		}
		if !res.Next.IsZero() {
			res.Next = res.Next.Add(d.skew)
		}
	}
	for _, due := range res.Due {
		if forgotten[due.ID] {
			continue
		}
		if _, inFlight := d.flights[due.ID]; inFlight {
			continue // its worker offers the next occurrence when done
		}
		d.heap.set(due)
	}
	switch {
	case d.cfg.shared != nil:
		d.full = full
		if !full {
			d.storeNext = res.Next
		}
	case full:
		d.cursor, d.full = res.Due[len(res.Due)-1], true
	default:
		d.cursor, d.full, d.storeNext = Due{At: until, ID: maxID}, false, res.Next
	}
	for _, r := range recent {
		d.placeLocked(r)
	}
	return err // nil, or the records skipped as damaged
}
