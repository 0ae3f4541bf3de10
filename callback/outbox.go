package callback

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/tickler-go/tickler"
)

// Draining a store's outbox ([WithOutbox]). One goroutine, the poller,
// claims what is due, with a lease, and queues each callback with its
// host like one that came from an event; workers send them as they send
// the others. What differs is where a callback goes when its attempt
// ends: back to the store. A failure to be retried is handed back with
// its backoff (FinishCallback with a next attempt) and leaves the
// sender's memory, so a backoff outlives a crash; the end (sent, or
// failed for good) is recorded with FinishCallback, which writes it into
// the occurrence's history. Sender.mu guards holding, as it guards the
// queues; no store call is made with it held.
//
// A claim is a lease, and the sender never sends a callback whose lease
// may end before the attempt does: each held callback knows when its
// lease ends on the sender's clock (measured from before the claim, so
// never later than the store's), an attempt starts only with enough of
// the lease left (attemptTimeoutLocked), and its timeout ends with the
// lease. A callback that waited too long (behind an open breaker, in its
// host's queue) is forgotten unsent: its lease ends, and the next claim,
// this sender's or another's, takes it. A claim by this sender of a
// callback it still holds (its lease ended, and no one else claimed it)
// renews the lease it knows.

// outboxBatch is the most callbacks one claim takes, and outboxHeld the
// most the poller lets the sender hold before it stops claiming.
const (
	outboxBatch = 100
	outboxHeld  = 1024
)

// outboxState is the poller's half of the sender; nil without an outbox.
type outboxState struct {
	store tickler.CallbackOutbox
	kick  chan struct{} // Handle's signal: an ack wrote a callback
	stop  chan struct{} // closed by Close
	done  chan struct{} // closed when the poller has returned
	once  sync.Once     // closes stop
	// holding is the outbox's callbacks this sender holds, queued or in
	// flight, by id; under Sender.mu.
	holding map[string]*job
}

func (s *Sender) startOutbox() {
	s.ob = &outboxState{
		store:   s.o.outbox,
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		holding: make(map[string]*job),
	}
	go s.poll()
}

// poke wakes the poller, if there is one, without waiting.
func (s *Sender) poke() {
	if s.ob == nil {
		if s.unDrained.CompareAndSwap(false, true) {
			s.o.logger.Warn("callback: the scheduler writes callbacks to the store's outbox (tickler.WithCallbackOutbox), and this sender does not drain it (callback.WithOutbox): they wait there")
		}
		return
	}
	select {
	case s.ob.kick <- struct{}{}:
	default:
	}
}

// poll claims what is due at every poke, and at least every poll
// interval, until Close.
func (s *Sender) poll() {
	defer close(s.ob.done)
	for {
		s.claim()
		t := s.o.clock.NewTimer(s.o.outboxPoll)
		select {
		case <-s.ob.kick:
		case <-t.C():
		case <-s.ob.stop:
			t.Stop()
			return
		}
		t.Stop()
	}
}

// claim takes what is due from the outbox, in batches, while the sender
// has room.
func (s *Sender) claim() {
	for {
		s.mu.Lock()
		room, closed := outboxHeld-s.held, s.closed
		s.mu.Unlock()
		if closed || room <= 0 {
			return
		}
		limit := min(room, outboxBatch)
		ctx, cancel := context.WithTimeout(s.ctx, s.o.timeout)
		start := s.o.clock.Now()
		cbs, err := s.ob.store.ClaimCallbacks(ctx, tickler.ClaimCallbacksParams{Now: start, Limit: limit, Lease: s.o.outboxLease})
		cancel()
		if err != nil {
			s.o.logger.Warn("callback: claiming callbacks from the outbox failed; trying again at the next poll", "err", err)
			return
		}
		for _, cb := range cbs {
			s.take(cb, start.Add(s.o.outboxLease))
		}
		if len(cbs) < limit {
			return
		}
	}
}

// take queues a claimed callback, whose lease ends at leaseEnd on the
// sender's clock, with its host, unless the sender holds it already (its
// lease ended while it waited: the claim renewed it). A callback its
// host's queue cannot take is handed back for later, neither dropped nor
// counted.
func (s *Sender) take(cb tickler.Callback, leaseEnd time.Time) {
	j := &job{url: cb.URL, shown: redact(cb.URL), key: hostKey(cb.URL), body: cb.Payload, attempts: cb.Attempts, outboxID: cb.ID, leaseEnd: leaseEnd}
	if err := json.Unmarshal(cb.Payload, &j.payload); err != nil || j.payload.IdempotencyKey == "" {
		j.payload.IdempotencyKey = cb.Key // for the header, logs and reports; the body goes as it is
	}
	s.mu.Lock()
	if held := s.ob.holding[cb.ID]; held != nil {
		held.leaseEnd = leaseEnd
		s.mu.Unlock()
		return
	}
	why := s.admitLocked(j)
	if why == "" {
		s.ob.holding[cb.ID] = j
	}
	delay := s.backoff.Delay(1)
	if h := s.hosts[j.key]; h != nil && h.state != closed {
		delay = max(delay, h.coolDown)
	}
	s.mu.Unlock()
	if why != "" {
		s.o.logger.Debug("callback: handed back to the outbox: "+why, "host", j.key, "key", j.payload.IdempotencyKey, "in", delay)
		s.handBack(j, delay, false)
	}
}

// attemptTimeoutLocked returns the timeout of an attempt of j that
// starts now, and false if the attempt must not start: j is the outbox's,
// and too little of its lease is left. Such an attempt would go on after
// another sender may have claimed and sent the callback. An outbox
// attempt has the sender's timeout or what is left of the lease,
// whichever is shorter, and starts only with at least the timeout, or
// half the lease if that is shorter, left (so that a lease shorter than
// the timeout still lets callbacks be sent).
func (s *Sender) attemptTimeoutLocked(j *job) (time.Duration, bool) {
	if j.outboxID == "" {
		return s.o.timeout, true
	}
	left := j.leaseEnd.Sub(s.o.clock.Now())
	if left < min(s.o.timeout, s.o.outboxLease/2) {
		return 0, false
	}
	return min(s.o.timeout, left), true
}

// lapseLocked forgets an outbox callback whose lease ends too soon to
// send it (see attemptTimeoutLocked): it is neither ended nor handed
// back, as the outbox has it again once its lease ends.
func (s *Sender) lapseLocked(j *job) {
	delete(s.ob.holding, j.outboxID)
	s.endLocked(j)
}

// handBack returns an outbox callback that did not end to the outbox,
// due after delay, with the attempts made so far. held says whether the
// sender held it (and so must forget it).
func (s *Sender) handBack(j *job, delay time.Duration, held bool) {
	now := s.o.clock.Now()
	p := tickler.FinishCallbackParams{ID: j.outboxID, Attempts: j.attempts, StatusCode: j.status, NextAttempt: now.Add(delay), Now: now}
	if j.err != nil {
		p.Err = j.err.Error()
	}
	s.finishOutbox(j, p, held)
}

// finishOutbox records p in the outbox. A failure is logged: the
// callback's lease ends, and it is claimed and sent again.
func (s *Sender) finishOutbox(j *job, p tickler.FinishCallbackParams, held bool) {
	ctx, cancel := context.WithTimeout(context.Background(), s.o.timeout)
	err := s.ob.store.FinishCallback(ctx, p)
	cancel()
	if err != nil {
		s.o.logger.Warn("callback: recording a callback in the outbox failed; it is sent again when its lease ends",
			"url", j.shown, "key", j.payload.IdempotencyKey, "err", err)
	}
	if held {
		s.mu.Lock()
		delete(s.ob.holding, j.outboxID)
		s.mu.Unlock()
	}
}

// endOutbox records the end of an outbox callback: sent, or failed.
func (s *Sender) endOutbox(j *job) {
	p := tickler.FinishCallbackParams{ID: j.outboxID, Sent: j.err == nil, Attempts: j.attempts, StatusCode: j.status, Now: s.o.clock.Now()}
	if j.err != nil {
		p.Err = j.err.Error()
	}
	s.finishOutbox(j, p, true)
}

// stopOutbox stops the poller and hands back to the outbox every callback
// of it that waits in a host's queue: it is durable there, and the next
// sender sends it. Attempts in flight end as usual.
func (s *Sender) stopOutbox() {
	if s.ob == nil {
		return
	}
	s.ob.once.Do(func() { close(s.ob.stop) })
	<-s.ob.done
	s.mu.Lock()
	var back []*job
	for _, h := range s.hosts {
		h.waiting = takeOutbox(h.waiting, &back)
		h.retrying = takeOutbox(h.retrying, &back)
	}
	for _, j := range back {
		s.endLocked(j)
	}
	s.mu.Unlock()
	for _, j := range back {
		s.handBack(j, 0, true)
	}
}

// takeOutbox moves the outbox's jobs of q to back and returns the rest.
func takeOutbox(q []*job, back *[]*job) []*job {
	kept := q[:0]
	for _, j := range q {
		if j.outboxID != "" {
			*back = append(*back, j)
		} else {
			kept = append(kept, j)
		}
	}
	clear(q[len(kept):])
	return kept
}
