package tickler

import "sync/atomic"

// Stats is a snapshot of what a scheduler holds and has done since New,
// cheap enough to take at every scrape of a metrics endpoint: the gauges
// are read under the dispatcher's lock, the counters atomically.
type Stats struct {
	// Pending counts the occurrences in the look-ahead window, waiting to
	// fall due (including those waiting for a retry).
	Pending int
	// WaitingRetry counts the occurrences whose last attempt failed and
	// whose next attempt (or the retry of their record) is pending.
	WaitingRetry int
	// InFlight counts the occurrences on a worker, and those delivered
	// whose outcome waits to be stored in a batch (see [BatchAcker]).
	InFlight int
	// Parked counts the occurrences waiting for their agent's turn
	// ([WithAgentConcurrency]).
	Parked int
	// Delivered, Retried, GaveUp and Skipped count the events of those
	// kinds.
	Delivered, Retried, GaveUp, Skipped uint64
	// Claims counts the claims from the store, and ClaimErrors those that
	// failed.
	Claims, ClaimErrors uint64
	// StoreErrors counts the failed reads and records of occurrences (each
	// retried).
	StoreErrors uint64
	// EventsDropped counts the events the handler fell too far behind to
	// receive ([WithEventBuffer]).
	EventsDropped uint64
}

// counters are the dispatcher's monotonic counts.
type counters struct {
	delivered, retried, gaveUp, skipped atomic.Uint64
	claims, claimErrors, storeErrors    atomic.Uint64
}

func (c *counters) count(k EventKind) {
	switch k {
	case EventDelivered:
		c.delivered.Add(1)
	case EventRetry:
		c.retried.Add(1)
	case EventGaveUp:
		c.gaveUp.Add(1)
	case EventSkipped:
		c.skipped.Add(1)
	}
}

// Stats returns a snapshot of the scheduler's gauges and counters.
func (s *Scheduler) Stats() Stats { return s.d.stats() }

func (d *dispatcher) stats() Stats {
	st := Stats{
		Delivered:   d.counts.delivered.Load(),
		Retried:     d.counts.retried.Load(),
		GaveUp:      d.counts.gaveUp.Load(),
		Skipped:     d.counts.skipped.Load(),
		Claims:      d.counts.claims.Load(),
		ClaimErrors: d.counts.claimErrors.Load(),
		StoreErrors: d.counts.storeErrors.Load(),
	}
	if d.events != nil {
		st.EventsDropped = d.events.dropped.Load()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	st.Pending = d.heap.Len() + len(d.later)
	st.WaitingRetry = len(d.heap.retries) + len(d.later)
	st.InFlight = d.running + d.recording
	for _, g := range d.agents {
		st.Parked += len(g.waiting)
	}
	return st
}
