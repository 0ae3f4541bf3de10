package callback

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// This file is the sender's scheduling: which callback an idle worker
// sends next. One mutex, Sender.mu, guards all of it; methods named
// ...Locked must be called with it held. Workers never hold it during an
// attempt, and nothing is logged or reported with it held.
//
// Invariants, under mu:
//   - a job is in exactly one of: its host's waiting or retrying queue,
//     its host's delayed set (a backoff), or a worker's hands
//     (counted in its host's sending);
//   - held counts the jobs in those places, over all hosts;
//   - a host is in Sender.ready at most once (inReady), and it is there
//     if it can start an attempt (canStart), though an entry may have
//     gone stale since: next checks again;
//   - a host stays in Sender.hosts while it holds a job or its breaker is
//     not at rest (state closed, no failure counted).

// breakerState is where a host's circuit breaker is.
type breakerState int

const (
	closed   breakerState = iota // attempts start as workers take them
	open                         // no attempt starts until the cool-down ends
	halfOpen                     // one attempt (the probe) may start
)

// invalidHost is the host key of callback URLs that do not parse; their
// attempts fail at once, and they queue together.
const invalidHost = "(invalid URL)"

// host is one destination's queues and breaker.
type host struct {
	key      string
	waiting  []*job            // new callbacks, first in first out
	retrying []*job            // retries whose backoff is over; they go first
	delayed  map[*job]struct{} // retries in their backoff
	sending  int               // attempts in flight
	inReady  bool              // in Sender.ready

	state    breakerState
	failures int           // consecutive failed attempts
	coolDown time.Duration // how long the breaker stays open when it next opens
	probing  bool          // the half-open breaker's probe is in flight
	gen      int           // counts openings, so that a stale cool-down does nothing
}

// hostKey is the destination a callback is queued and limited under:
// scheme://host:port as written in the URL (lower case, the scheme's
// default port made explicit), without user information.
func hostKey(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return invalidHost
	}
	scheme, port := strings.ToLower(u.Scheme), u.Port()
	if port == "" {
		switch scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		default:
			return scheme + "://" + strings.ToLower(u.Hostname())
		}
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// queued counts the host's callbacks that wait.
func (h *host) queued() int { return len(h.waiting) + len(h.retrying) + len(h.delayed) }

// canStart says whether a worker may start an attempt to h now.
func (h *host) canStart(perHost int) bool {
	if len(h.waiting)+len(h.retrying) == 0 || h.sending >= perHost {
		return false
	}
	return h.state == closed || h.state == halfOpen && !h.probing
}

// idle says whether h can be forgotten: it holds nothing and its breaker
// has nothing to remember.
func (h *host) idle() bool {
	return h.queued() == 0 && h.sending == 0 && h.state == closed && h.failures == 0
}

// pop takes the next callback to try: retries first, oldest first.
func (h *host) pop() *job {
	q := &h.waiting
	if len(h.retrying) > 0 {
		q = &h.retrying
	}
	j := (*q)[0]
	(*q)[0] = nil
	*q = (*q)[1:]
	return j
}

// enqueue takes a callback on, or drops it (counted, logged, reported).
func (s *Sender) enqueue(j *job) {
	s.mu.Lock()
	why := s.admitLocked(j)
	var n uint64
	if why != "" {
		s.dropsBy[j.key]++
		n = s.dropsBy[j.key]
	}
	s.mu.Unlock()
	if why == "" {
		return
	}
	total := s.dropped.Add(1)
	s.o.logger.Warn("callback: dropped: "+why, "host", j.key, "url", j.shown, "key", j.payload.IdempotencyKey, "dropped", n, "dropped_total", total)
	if s.o.report != nil {
		s.o.report(Report{URL: j.shown, Host: j.key, Payload: j.payload, Dropped: true, Err: fmt.Errorf("%w: %s", ErrDropped, why)})
	}
}

// admitLocked queues j with its host, or says why it cannot.
func (s *Sender) admitLocked(j *job) (why string) {
	if s.closed {
		return "the sender is closed"
	}
	h := s.hosts[j.key]
	if h == nil {
		h = &host{key: j.key, delayed: make(map[*job]struct{}), coolDown: s.o.coolDown}
		s.hosts[j.key] = h
	}
	if h.queued() >= s.o.hostQueue {
		return "the host's queue is full"
	}
	j.host = h
	if j.attempts > 0 { // a retry, back from the outbox: it goes first
		h.retrying = append(h.retrying, j)
	} else {
		h.waiting = append(h.waiting, j)
	}
	s.held++
	s.readyLocked(h)
	return ""
}

// readyLocked puts h at the back of the line of hosts if it can start an
// attempt and is not in line already, and wakes a worker.
func (s *Sender) readyLocked(h *host) {
	if h.inReady || s.cancelled || !h.canStart(s.o.perHost) {
		return
	}
	h.inReady = true
	s.ready = append(s.ready, h)
	s.wake.Signal()
}

// next waits for a callback to try and hands it to the calling worker,
// taking hosts in turn; it returns false when the sender is closed and
// holds nothing.
func (s *Sender) next() (*job, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		for len(s.ready) > 0 {
			h := s.ready[0]
			s.ready[0] = nil
			s.ready = s.ready[1:]
			h.inReady = false
			if !h.canStart(s.o.perHost) { // its breaker opened since it joined
				continue
			}
			j := h.pop()
			var ok bool
			if j.timeout, ok = s.attemptTimeoutLocked(j); !ok {
				s.lapseLocked(j)
				s.readyLocked(h)
				continue
			}
			h.sending++
			if h.state == halfOpen {
				h.probing, j.probe = true, true
			}
			s.readyLocked(h) // back of the line, if it can start another
			return j, true
		}
		if s.closed && s.held == 0 {
			return nil, false
		}
		s.wake.Wait()
	}
}

// settle takes a callback back from the worker that tried it: it records
// the outcome in the host's breaker, then ends the callback or puts it in
// a backoff.
func (s *Sender) settle(j *job, retry bool) {
	s.mu.Lock()
	h := j.host
	h.sending--
	news := s.breakerLocked(h, j, retry)
	again := false
	back, delay := false, time.Duration(0) // handed back to the outbox, due after delay
	switch {
	case j.err == nil:
	case j.outboxID != "" && s.cancelled:
		back = true // cut short by Close: the next sender tries again
	case s.cancelled:
		j.err = fmt.Errorf("%w (closing after %d attempts)", j.err, j.attempts)
	case j.outboxID != "" && retry && j.attempts <= s.o.retries:
		// The outbox keeps its backoff, which then outlives a crash.
		back, delay = true, s.backoff.Delay(j.attempts)
	case retry && j.attempts <= s.o.retries:
		again = true
		h.delayed[j] = struct{}{}
		s.afterLocked(s.backoff.Delay(j.attempts), func() {
			if _, ok := h.delayed[j]; ok {
				delete(h.delayed, j)
				h.retrying = append(h.retrying, j)
				s.readyLocked(h)
			}
		})
	}
	s.readyLocked(h)
	if !again {
		s.endLocked(j)
	}
	failures, coolDown := h.failures, h.coolDown
	s.mu.Unlock()
	if back {
		s.handBack(j, delay, true)
		again = true // not ended: neither counted nor reported
	}
	switch news {
	case "open":
		s.o.logger.Warn("callback: circuit open: the host's callbacks wait", "host", h.key, "failures", failures, "cool_down", coolDown)
	case "closed":
		s.o.logger.Info("callback: circuit closed: the host answers again", "host", h.key)
	}
	if !again {
		s.end(j)
	}
}

// breakerLocked records the outcome of j's attempt in h's breaker and
// says whether that opened it ("open") or closed it ("closed"). An
// attempt that would be retried is a failure; any other answer proves the
// host alive; an attempt that never reached the host (a refused address,
// a URL that does not parse) or that Close cancelled says nothing.
func (s *Sender) breakerLocked(h *host, j *job, retry bool) (news string) {
	probe := j.probe
	if probe {
		h.probing, j.probe = false, false
	}
	switch {
	case s.cancelled || s.o.failures == 0:
		return ""
	case !retry && j.status != 0: // answered: alive
		was := h.state
		h.state, h.failures, h.coolDown = closed, 0, s.o.coolDown
		if was != closed {
			h.gen++ // the pending cool-down, if any, does nothing
			return "closed"
		}
		return ""
	case retry:
		h.failures++
		switch {
		case h.state == closed && h.failures >= s.o.failures:
		case h.state == halfOpen && probe:
			h.coolDown = min(2*h.coolDown, s.o.coolDownCap)
		default:
			return ""
		}
		h.state = open
		h.gen++
		gen, d := h.gen, h.coolDown
		s.afterLocked(d, func() {
			if h.gen == gen && h.state == open {
				h.state = halfOpen
				s.readyLocked(h)
			}
		})
		return "open"
	}
	return ""
}

// afterLocked runs fn with mu held d from now on the sender's clock,
// unless Close cancels the sender first.
func (s *Sender) afterLocked(d time.Duration, fn func()) {
	if s.cancelled {
		return
	}
	t := s.o.clock.NewTimer(d)
	s.timers.Add(1)
	go func() {
		defer s.timers.Done()
		select {
		case <-t.C():
			s.mu.Lock()
			defer s.mu.Unlock()
			if !s.cancelled {
				fn()
			}
		case <-s.ctx.Done():
			t.Stop()
		}
	}()
}

// endLocked takes an ended callback off the books; call end after
// unlocking.
func (s *Sender) endLocked(j *job) {
	s.held--
	if h := j.host; h.idle() && s.hosts[h.key] == h {
		delete(s.hosts, h.key)
	}
	s.doneIfIdleLocked()
}

// doneIfIdleLocked closes done, and wakes the workers to exit, once the
// sender is closed and holds nothing.
func (s *Sender) doneIfIdleLocked() {
	if s.closed && s.held == 0 {
		select {
		case <-s.done:
		default:
			close(s.done)
			s.wake.Broadcast()
		}
	}
}

// errClosing is the cause of a callback that Close cancelled before it
// was tried again.
var errClosing = errors.New("callback: the sender closed before the callback was sent")

// abandon is Close giving up: it stops everything that waits and cancels
// attempts in flight (which then end in settle); every callback that was
// waiting fails and is reported.
func (s *Sender) abandon(cause error) {
	s.mu.Lock()
	s.cancelled = true
	s.cancel()
	var left []*job
	for _, h := range s.hosts {
		left = append(left, h.retrying...)
		left = append(left, h.waiting...)
		for j := range h.delayed {
			left = append(left, j)
		}
		h.retrying, h.waiting = nil, nil
		clear(h.delayed)
	}
	s.ready = nil
	var back []*job // the outbox's: handed back, not failed
	kept := left[:0]
	for _, j := range left {
		if j.outboxID != "" {
			back = append(back, j)
			s.endLocked(j)
		} else {
			kept = append(kept, j)
		}
	}
	left = kept
	for _, j := range left {
		if j.err == nil {
			j.err = fmt.Errorf("%w (%w)", errClosing, cause)
		} else {
			j.err = fmt.Errorf("%w (closing after %d attempts)", j.err, j.attempts)
		}
		s.endLocked(j)
	}
	s.mu.Unlock()
	for _, j := range back {
		s.handBack(j, 0, true)
	}
	for _, j := range left {
		s.end(j)
	}
}
