package tickler

import (
	"bytes"
	"container/heap"
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
)

// claimRetry is how long the dispatcher waits after a failed claim.
const claimRetry = time.Second

// maxID sorts after every id, so that Due{At: t, ID: maxID} is a cursor
// covering everything due at or before t.
const maxID = "\xff"

// entry is what the heap holds of a schedule: only what firing needs, in
// 32 bytes. An occurrence waiting for a retry keeps its state beside the
// heap, in dispatcher.retries.
type entry struct {
	at      int64  // Unix nanoseconds the entry is due
	key     idKey  // the schedule's id
	version uint32 // the low bits of the record's version
	index   int32  // position in the heap, -1 once out of it
}

// newer reports whether version v is newer than the entry's, comparing the
// low 32 bits in serial-number arithmetic.
func (e *entry) newer(v uint64) bool { return int32(uint32(v)-e.version) > 0 }

// job is an entry popped for a worker, with what the heap kept beside it;
// it is also what the worker hands back: a retry, or the
// record's next occurrence.
type job struct {
	at      int64 // Unix nanoseconds
	id      string
	version uint64 // the record's version (only its low 32 bits when popped)
	retry   *retryState
}

// retryState carries an occurrence between its attempts.
type retryState struct {
	occ     time.Time // the occurrence, which keys every attempt
	started time.Time // when the first attempt started
	attempt int       // attempts made so far
}

// entryHeap is a min-heap of entries by (at, id); byID locates an entry.
type entryHeap []*entry

func (h entryHeap) Len() int { return len(h) }
func (h entryHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return bytes.Compare(h[i].key[:], h[j].key[:]) < 0
}
func (h entryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = int32(i), int32(j)
}
func (h *entryHeap) Push(x any) {
	e := x.(*entry)
	e.index = int32(len(*h))
	*h = append(*h, e)
}
func (h *entryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.index = -1
	return e
}

// flight is an occurrence a worker is firing.
type flight struct {
	deleted bool // Delete returned while it ran: start no attempt
	// next is the record's occurrence after an Update while it ran; the
	// flight's own ack then meets a conflict, and next is offered instead.
	next *Due
}

// dispatcher owns the heap; see doc.go for who holds what.
type dispatcher struct {
	s *Scheduler

	mu        sync.Mutex
	heap      entryHeap
	byID      map[idKey]*entry
	retries   map[idKey]*retryState // of the heap's entries waiting for a retry
	oddIDs    map[idKey]string      // ids that are not canonical UUIDs, by key
	oddKeys   map[string]idKey
	flights   map[string]*flight
	running   int       // jobs handed to the workers and not yet done
	loaded    bool      // the first claim has been made
	cursor    Due       // every stored occurrence at or before it is in heap or flight
	full      bool      // the last claim filled its batch: more may be due
	storeNext time.Time // earliest known stored occurrence after cursor; zero if none
	claiming  bool      // a claim reads the store; offers wait in recent
	recent    []Due
	forgotten map[string]bool // deleted while a claim read the store
	state     int             // stateNew, stateRunning, stateStopped
	startedAt time.Time
	changed   chan struct{} // closed at every change of the above, if a waiter made it
	starved   bool          // the loop has due entries and no free worker

	kick     chan struct{}
	stopLoop context.CancelFunc
	loopDone chan struct{}
	runCtx   context.Context // parent of delivery contexts
	cancel   context.CancelFunc
	wg       sync.WaitGroup // firing jobs, from pop to the end of fire
	jobs     chan *job      // to the workers; room for one per worker
}

const (
	stateNew = iota
	stateRunning
	stateStopped
)

func (d *dispatcher) init(s *Scheduler) {
	d.s = s
	d.byID = make(map[idKey]*entry)
	d.retries = make(map[idKey]*retryState)
	d.flights = make(map[string]*flight)
	d.kick = make(chan struct{}, 1)
}

// notify wakes waitIdle; d.mu is held.
func (d *dispatcher) notify() {
	if d.changed != nil {
		close(d.changed)
		d.changed = nil
	}
}

func (d *dispatcher) wake() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

func (d *dispatcher) start(ctx context.Context) error {
	d.mu.Lock()
	if d.state != stateNew {
		d.mu.Unlock()
		return errors.New("tickler: Start: scheduler already started")
	}
	d.state = stateRunning
	d.startedAt = d.s.o.clock.Now()
	d.mu.Unlock()

	if err := d.claim(ctx); err != nil {
		d.mu.Lock()
		d.state = stateStopped
		d.notify()
		d.mu.Unlock()
		return fmt.Errorf("tickler: Start: %w", err)
	}
	loopCtx, stopLoop := context.WithCancel(ctx)
	d.runCtx, d.cancel = context.WithCancel(context.WithoutCancel(ctx))
	d.stopLoop = stopLoop
	d.loopDone = make(chan struct{})
	go d.loop(loopCtx)
	return nil
}

func (d *dispatcher) stop(ctx context.Context) error {
	d.mu.Lock()
	switch d.state {
	case stateNew:
		d.state = stateStopped
		d.notify()
		d.mu.Unlock()
		return nil
	case stateStopped:
		d.mu.Unlock()
		if d.loopDone == nil {
			return nil
		}
	default:
		d.state = stateStopped
		d.notify()
		d.mu.Unlock()
	}
	d.stopLoop()
	<-d.loopDone
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	select {
	case <-done:
		d.cancel()
		return nil
	case <-ctx.Done():
	}
	d.cancel()
	d.mu.Lock()
	left := make([]string, 0, len(d.flights))
	for id := range d.flights {
		left = append(left, id)
	}
	d.mu.Unlock()
	slices.Sort(left)
	return fmt.Errorf("tickler: Stop: %d deliveries left running %v: %w", len(left), left, ctx.Err())
}

// offer tells the dispatcher that a stored record's next occurrence is due.
// An occurrence within what has been claimed goes into the heap; a later
// one is left to a later claim.
func (d *dispatcher) offer(due Due) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.offerLocked(due) {
		d.wake()
	}
}

func (d *dispatcher) offerLocked(due Due) (pushed bool) {
	if d.state != stateRunning {
		return false
	}
	if f, ok := d.flights[due.ID]; ok {
		if f.next == nil || f.next.Version < due.Version {
			f.next = &due
		}
		return false
	}
	if e := d.entryOf(due.ID); e != nil && e.newer(due.Version) {
		// An update or a pause replaced the occurrence the heap holds.
		d.remove(e)
	}
	if due.At.IsZero() {
		return false
	}
	if d.claiming {
		d.recent = append(d.recent, due)
		return false
	}
	if !d.cursor.Before(due) {
		d.push(due)
		return true
	}
	if d.storeNext.IsZero() || due.At.Before(d.storeNext) {
		d.storeNext = due.At
		d.notify()
		return true
	}
	return false
}

// push adds or updates the heap entry of due.ID; d.mu is held.
func (d *dispatcher) push(due Due) {
	if _, ok := d.flights[due.ID]; ok {
		return // its worker offers the next occurrence when done
	}
	k := d.keyOf(due.ID)
	if e, ok := d.byID[k]; ok {
		if !e.newer(due.Version) {
			return
		}
		e.at, e.version = due.At.UnixNano(), uint32(due.Version)
		delete(d.retries, k)
		heap.Fix(&d.heap, int(e.index))
	} else {
		d.insert(&entry{at: due.At.UnixNano(), key: k, version: uint32(due.Version)}, nil)
	}
	d.notify()
}

// insert adds e, with the retry state rs if it waits for a retry; d.mu is
// held.
func (d *dispatcher) insert(e *entry, rs *retryState) {
	d.byID[e.key] = e
	if rs != nil {
		d.retries[e.key] = rs
	}
	heap.Push(&d.heap, e)
}

// remove takes e out of the heap; d.mu is held.
func (d *dispatcher) remove(e *entry) {
	heap.Remove(&d.heap, int(e.index))
	delete(d.byID, e.key)
	delete(d.retries, e.key)
	d.notify()
}

// lookup returns the key of an id the dispatcher may hold, without giving
// an unknown odd id a key; d.mu is held.
func (d *dispatcher) lookup(id string) (idKey, bool) {
	if k, ok := canonicalUUID(id); ok {
		return k, true
	}
	k, ok := d.oddKeys[id]
	return k, ok
}

// entryOf returns the heap entry of id, or nil; d.mu is held.
func (d *dispatcher) entryOf(id string) *entry {
	if k, ok := d.lookup(id); ok {
		return d.byID[k]
	}
	return nil
}

// keyOf returns the key of an id, giving an odd id one; d.mu is held.
func (d *dispatcher) keyOf(id string) idKey {
	if k, ok := d.lookup(id); ok {
		return k
	}
	if d.oddIDs == nil {
		d.oddIDs, d.oddKeys = make(map[idKey]string), make(map[string]idKey)
	}
	for {
		var k idKey
		_, _ = crand.Read(k[:])
		if _, taken := d.oddIDs[k]; !taken {
			d.oddIDs[k], d.oddKeys[id] = id, k
			return k
		}
	}
}

// idOf returns the id of a key; d.mu is held.
func (d *dispatcher) idOf(k idKey) string {
	if id, ok := d.oddIDs[k]; ok {
		return id
	}
	return uuid.UUID(k).String()
}

// forget drops a deleted schedule from the heap and stops its flight from
// starting another attempt.
func (d *dispatcher) forget(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e := d.entryOf(id); e != nil {
		d.remove(e)
	}
	if f, ok := d.flights[id]; ok {
		f.deleted = true
	}
	if d.claiming {
		// The claim may have read the record before it was deleted.
		if d.forgotten == nil {
			d.forgotten = make(map[string]bool)
		}
		d.forgotten[id] = true
	}
}

// needClaim reports whether stored occurrences due by t may be missing
// from the heap; d.mu is held.
func (d *dispatcher) needClaim(t time.Time) bool {
	return !d.loaded || d.full || (!d.storeNext.IsZero() && !d.storeNext.After(t))
}

// claim loads, from the store, what falls due within the look-ahead.
func (d *dispatcher) claim(ctx context.Context) error {
	d.mu.Lock()
	if d.claiming {
		d.mu.Unlock()
		return nil
	}
	d.claiming = true
	after := d.cursor
	d.mu.Unlock()

	until := d.s.o.clock.Now().Add(d.s.o.lookahead)
	res, err := d.s.store.Claim(ctx, ClaimParams{After: after, Until: until, Limit: d.s.o.claimBatch})
	due, next := res.Due, res.Next

	d.mu.Lock()
	defer d.mu.Unlock()
	d.claiming = false
	recent, forgotten := d.recent, d.forgotten
	d.recent, d.forgotten = nil, nil
	defer d.notify()
	if err != nil && !errors.Is(err, ErrDamaged) {
		for _, r := range recent {
			d.offerLocked(r)
		}
		return err
	}
	d.loaded = true
	for _, due := range due {
		if !forgotten[due.ID] {
			d.push(due)
		}
	}
	if len(due) == d.s.o.claimBatch {
		d.cursor, d.full = due[len(due)-1], true
	} else {
		d.cursor, d.full, d.storeNext = Due{At: until, ID: maxID}, false, next
	}
	for _, r := range recent {
		d.offerLocked(r)
	}
	return err // nil, or the records skipped as damaged
}

// loop is the dispatcher's timer: it claims, hands what is due to the
// workers, and sleeps until the next thing to do.
func (d *dispatcher) loop(ctx context.Context) {
	defer close(d.loopDone)
	defer func() {
		// Stopped by Stop, or by the cancellation of Start's context:
		// either way no delivery starts any more.
		d.mu.Lock()
		d.state = stateStopped
		d.notify()
		d.mu.Unlock()
	}()
	clk := d.s.o.clock
	workers := d.s.o.concurrency
	d.jobs = make(chan *job, workers)
	defer close(d.jobs) // the workers end once they have drained it
	for range workers {
		go func() {
			for j := range d.jobs {
				d.fire(j)
			}
		}()
	}
	var retryClaim time.Time // after a failed claim, the next one waits
	for {
		if ctx.Err() != nil {
			return
		}
		d.mu.Lock()
		claimDue := d.needClaim(clk.Now().Add(d.s.o.lookahead)) && !clk.Now().Before(retryClaim)
		d.mu.Unlock()
		if claimDue {
			switch err := d.claim(ctx); {
			case err == nil || ctx.Err() != nil:
			case errors.Is(err, ErrDamaged):
				// The others were claimed; these stay in the store, named,
				// for an operator to delete (the next Start fails on them).
				d.s.o.logger.Error("tickler: skipping stored scheduled messages that cannot be decoded", "err", err)
			default:
				retryClaim = clk.Now().Add(claimRetry)
				d.s.o.logger.Error("tickler: claiming due schedules failed; retrying", "err", err, "in", claimRetry)
			}
		}

		d.mu.Lock()
		if d.state != stateRunning {
			d.mu.Unlock()
			return
		}
		now := clk.Now()
		for len(d.heap) > 0 && d.heap[0].at <= now.UnixNano() && d.running < workers {
			e := heap.Pop(&d.heap).(*entry)
			delete(d.byID, e.key)
			j := &job{at: e.at, id: d.idOf(e.key), version: uint64(e.version), retry: d.retries[e.key]}
			delete(d.retries, e.key)
			d.flights[j.id] = &flight{}
			d.running++
			d.wg.Add(1)
			d.jobs <- j // never blocks: fewer jobs than workers are running
		}
		wait := d.s.o.maxSleep
		d.starved = len(d.heap) > 0 && d.heap[0].at <= now.UnixNano()
		if len(d.heap) > 0 && !d.starved {
			wait = min(wait, time.Duration(d.heap[0].at-now.UnixNano()))
		} // when starved, a finishing worker wakes us
		switch {
		case retryClaim.After(now):
			wait = min(wait, retryClaim.Sub(now))
		case d.full:
			wait = 0
		case !d.storeNext.IsZero():
			wait = min(wait, d.storeNext.Sub(now)-d.s.o.lookahead)
		}
		d.mu.Unlock()
		if wait <= 0 {
			continue
		}
		timer, ok := d.arm(now, wait)
		if !ok {
			continue
		}
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-d.kick:
		case <-timer.C():
		}
		timer.Stop()
	}
}

// arm starts a timer for wait after now. If the clock moved while arming
// (a test advanced a mock clock), the deadline would be late: it reports
// false so that the loop looks again.
func (d *dispatcher) arm(now time.Time, wait time.Duration) (Timer, bool) {
	clk := d.s.o.clock
	t := clk.NewTimer(wait)
	if moved := clk.Now().Sub(now); moved > 100*time.Microsecond || moved < 0 {
		t.Stop()
		return nil, false
	}
	return t, true
}

// fire runs one attempt at an occurrence, then either puts the next
// attempt in the heap or offers the record's next occurrence.
func (d *dispatcher) fire(e *job) {
	next, retry := d.attempt(e)
	d.mu.Lock()
	defer d.mu.Unlock()
	f := d.flights[e.id]
	delete(d.flights, e.id)
	d.running--
	if f.next != nil && (next == nil || next.version < f.next.Version) {
		// Updated while it ran: the update's occurrence replaces whatever
		// this one would have led to.
		next, retry = &job{at: f.next.At.UnixNano(), id: e.id, version: f.next.Version}, false
		if f.next.At.IsZero() {
			next = nil
		}
	}
	// The loop sleeps until its heap's earliest entry: wake it if this
	// adds one, or if it waits for a free worker.
	wake := d.starved
	switch {
	case next == nil || d.state != stateRunning || f.deleted:
	case retry:
		// The store still holds the occurrence as due, within the cursor:
		// the retry goes into the heap whatever its time.
		d.insert(&entry{at: next.at, key: d.keyOf(next.id), version: uint32(next.version)}, next.retry)
		wake = true
	default:
		wake = d.offerLocked(Due{ID: next.id, At: time.Unix(0, next.at).UTC(), Version: next.version}) || wake
	}
	if wake {
		d.starved = false
		d.wake()
	}
	d.notify()
	d.wg.Done()
}

// attempt makes one attempt at e. It returns the entry to push next and
// whether it is a retry of e (true) or the record's next occurrence.
func (d *dispatcher) attempt(e *job) (next *job, retry bool) {
	s := d.s
	clk := s.o.clock
	ctx := context.WithoutCancel(d.runCtx)
	r, err := s.store.Get(ctx, "", e.id)
	if errors.Is(err, ErrNotFound) {
		return nil, false
	}
	if errors.Is(err, ErrDamaged) {
		s.o.logger.Error("tickler: a due scheduled message cannot be decoded; skipping it", "id", e.id, "err", err)
		return nil, false
	}
	if err != nil {
		s.o.logger.Error("tickler: reading a due scheduled message failed; retrying", "id", e.id, "err", err)
		return d.later(e, e.retry)
	}
	if uint32(r.Version) != uint32(e.version) {
		return nil, false // changed since claimed: its new version has its own entry
	}
	trig, err := r.Schedule.compile()
	if err != nil {
		// A record that no longer compiles cannot fire; keep it and say so.
		s.o.logger.Error("tickler: stored schedule is invalid", "id", e.id, "err", err)
		return nil, false
	}
	now := clk.Now()
	rs := e.retry
	if rs == nil {
		rs = &retryState{occ: r.Next, started: now}
		if reason := d.misfire(r.Next, now); reason != "" {
			return d.skip(ctx, r, trig, now, reason)
		}
	}
	rs.attempt++
	del := &Delivery{
		ScheduledMessageID: r.ID,
		AgentID:            r.AgentID,
		Message:            r.Message,
		Occurrence:         rs.occ,
		IdempotencyKey:     IdempotencyKey(r.ID, rs.occ),
		Attempt:            rs.attempt,
	}

	d.mu.Lock()
	cancelled := d.flights[e.id].deleted || d.state != stateRunning
	d.mu.Unlock()
	if cancelled {
		return nil, false
	}
	res, derr := d.call(del)

	ev := Event{
		ScheduledMessageID: r.ID, AgentID: r.AgentID, Occurrence: rs.occ,
		IdempotencyKey: del.IdempotencyKey, Attempt: rs.attempt, Message: r.Message,
		CallbackURL: r.Message.CallbackURL,
	}
	if derr != nil {
		d.mu.Lock()
		stopped := d.state != stateRunning
		d.mu.Unlock()
		if stopped {
			// Cut short by Stop: leave the occurrence due, so that the
			// next Start delivers it again with the same key.
			return nil, false
		}
		if rs.attempt < s.o.retry.MaxAttempts {
			ev.Kind, ev.Err = EventRetry, derr
			s.o.logger.Warn("tickler: delivery failed; will retry", "id", r.ID, "key", del.IdempotencyKey, "attempt", rs.attempt, "err", derr)
			d.emit(ev)
			return d.later(e, rs)
		}
		ev.Kind, ev.Err = EventGaveUp, derr
		s.o.logger.Error("tickler: delivery gave up", "id", r.ID, "key", del.IdempotencyKey, "attempts", rs.attempt, "err", derr)
	} else {
		ev.Kind, ev.Result = EventDelivered, res
	}
	nextAt := nextAfter(trig, rs.occ, rs.started)
	var out *Outcome
	if !nextAt.IsZero() && s.o.historyLimit > 0 {
		// The history of a record that the ack removes goes with it: an
		// outcome is built only for a record that stays.
		now := clk.Now()
		out = &Outcome{ID: s.ids.next(now), ScheduledMessageID: r.ID, Occurrence: rs.occ, Attempts: rs.attempt, SentAt: now}
		if derr != nil {
			out.Status, out.Error = StatusFailed, derr.Error()
		} else {
			out.Status, out.RunID = StatusSuccess, res.RunID
			if res.Response != nil {
				if b, err := marshal(res.Response); err == nil {
					out.Response = b
				}
			}
		}
	}
	n, ok := d.ack(ctx, r, nextAt, out)
	if !ok {
		rs.attempt-- // the attempt succeeded or gave up; only its record failed
		return d.later(e, rs)
	}
	d.emit(ev)
	return n, false
}

// call runs the Deliverer, turning a panic into an error.
func (d *dispatcher) call(del *Delivery) (res Result, err error) {
	ctx := d.runCtx
	if t := d.s.o.deliveryTimeout; t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = d.s.o.clock.WithTimeout(ctx, t)
		defer cancel()
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("tickler: Deliverer panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return d.s.deliver.Deliver(ctx, del)
}

// misfire returns why an occurrence at occ, found at now, is to be
// skipped, or "" if it is to be delivered.
func (d *dispatcher) misfire(occ, now time.Time) string {
	o := d.s.o
	late := now.Sub(occ)
	missed := occ.Before(d.startedAt) || late > o.misfireThreshold
	switch {
	case !missed:
		return ""
	case o.misfireGrace > 0 && late > o.misfireGrace:
		return fmt.Sprintf("missed by %v, beyond the misfire grace of %v", late, o.misfireGrace)
	case o.misfire == MisfireSkip:
		return fmt.Sprintf("missed by %v; the misfire policy skips it", late)
	}
	return ""
}

// skip records a skipped occurrence and returns the next one.
func (d *dispatcher) skip(ctx context.Context, r *Record, trig trigger, now time.Time, reason string) (*job, bool) {
	s := d.s
	key := IdempotencyKey(r.ID, r.Next)
	s.o.logger.Warn("tickler: occurrence skipped", "id", r.ID, "key", key, "reason", reason)
	out := &Outcome{
		ID:                 s.ids.next(now),
		ScheduledMessageID: r.ID,
		Occurrence:         r.Next,
		Status:             StatusSkipped,
		Error:              reason,
		SentAt:             now,
	}
	n, ok := d.ack(ctx, r, trig.Next(now), out)
	if !ok {
		return d.later(&job{id: r.ID, version: r.Version}, nil)
	}
	d.emit(Event{
		Kind: EventSkipped, ScheduledMessageID: r.ID, AgentID: r.AgentID, Occurrence: r.Next,
		IdempotencyKey: key, Reason: reason, Message: r.Message, CallbackURL: r.Message.CallbackURL,
	})
	return n, false
}

// ack records an occurrence's end in the store. It returns the entry of the
// next occurrence (nil if there is none, or the record is gone or changed)
// and false if the store failed, in which case the caller tries again later.
func (d *dispatcher) ack(ctx context.Context, r *Record, next time.Time, out *Outcome) (*job, bool) {
	err := d.s.store.Ack(ctx, AckParams{
		ID: r.ID, Version: r.Version, Next: next, Outcome: out, HistoryLimit: d.s.o.historyLimit,
	})
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrConflict):
		return nil, true
	case err != nil:
		d.s.o.logger.Error("tickler: recording an outcome failed; retrying", "id", r.ID, "err", err)
		return nil, false
	case next.IsZero():
		return nil, true
	}
	return &job{at: next.UnixNano(), id: r.ID, version: r.Version + 1}, true
}

// later returns the entry that retries e after the backoff of its
// attempt. rs is nil when the store failed before any attempt: the firing
// is then tried again from the start.
func (d *dispatcher) later(e *job, rs *retryState) (*job, bool) {
	n := 1
	if rs != nil {
		n = rs.attempt
	}
	at := d.s.o.clock.Now().Add(d.s.o.retry.Delay(n))
	return &job{at: at.UnixNano(), id: e.id, version: e.version, retry: rs}, true
}

func (d *dispatcher) emit(ev Event) {
	if fn := d.s.o.onEvent; fn != nil {
		fn(ev)
	}
}

// waitIdle returns once nothing is due at the clock's current time. It
// wakes the loop first: a mock clock moved while the loop armed its timer
// may have passed the timer's deadline without firing it.
func (d *dispatcher) waitIdle(ctx context.Context) error {
	d.wake()
	for {
		d.mu.Lock()
		now := d.s.o.clock.Now()
		idle := d.state != stateRunning ||
			(d.running == 0 && !d.claiming && !d.needClaim(now) &&
				(len(d.heap) == 0 || d.heap[0].at > now.UnixNano()))
		if !idle && d.changed == nil {
			d.changed = make(chan struct{})
		}
		ch := d.changed
		d.mu.Unlock()
		if idle {
			return nil
		}
		d.wake()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// nextWake returns the earliest due time the dispatcher knows of.
func (d *dispatcher) nextWake() (time.Time, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var t time.Time
	if len(d.heap) > 0 {
		t = time.Unix(0, d.heap[0].at).UTC()
	}
	if !d.storeNext.IsZero() && (t.IsZero() || d.storeNext.Before(t)) {
		t = d.storeNext
	}
	return t, !t.IsZero()
}
