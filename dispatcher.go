package tickler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// The dispatcher's loop, its worker pool and its lifecycle. The heap is in
// heap.go, the look-ahead window in window.go, firing one occurrence in
// fire.go and the per-agent gate in agents.go; doc.go says who owns what.

// claimRetry is how long the dispatcher waits after a failed claim.
const claimRetry = time.Second

// dispatcherConfig is everything the dispatcher uses: its configuration
// and its dependencies, fixed at construction. The dispatcher holds no
// pointer back to the Scheduler.
type dispatcherConfig struct {
	store   Store
	shared  SharedStore // store, if several processes share it; else nil
	locker  AgentLocker // the shared store's agent slots, with perAgent set; else nil
	outbox  bool        // acks carry callbacks (WithCallbackOutbox; the store is a CallbackOutbox)
	batch   BatchAcker  // store, if it acks in batches; else nil
	deliver Deliverer
	clock   Clock
	ids     *idGen
	logger  *slog.Logger
	onEvent func(Event)

	// viewer is store, if it reads records without a copy; else nil.
	viewer RecordViewer

	retry            RetryPolicy
	workers          int // the pool's size
	perAgent         int // deliveries at once per agent; 0: no bound
	misfire          MisfirePolicy
	misfireGrace     time.Duration
	misfireThreshold time.Duration
	deliveryTimeout  time.Duration
	historyLimit     int
	lookahead        time.Duration
	claimBatch       int
	maxSleep         time.Duration
	pollInterval     time.Duration // claims of a shared store
	eventBuffer      int           // events waiting for the handler
}

// job is an occurrence handed to a worker: an entry popped from the heap
// with what the heap kept beside it, a job released by a busy agent, or a
// triggered delivery.
type job struct {
	at      int64 // Unix nanoseconds it fell due
	id      string
	version uint64      // the record's version (only its low 32 bits when popped)
	retry   *retryState // nil for a first attempt
	flight  *flight
	// admitted: the job holds a slot of agent's gate (see agents.go).
	admitted bool
	agent    string
	seq      uint64 // the order the loop handed it out, while in loading
	// Room for the flight and the first retry state of a job popped from
	// the heap, so that a firing allocates one job, not three.
	ownFlight flight
	ownRetry  retryState
}

// flight is an occurrence a worker is firing, or that waits for its
// agent's turn.
type flight struct {
	deleted bool // Delete returned while it ran: start no attempt
	parked  bool // waiting for its agent's turn, on no worker
	// next is the record's occurrence after an Update while it ran; the
	// flight's own ack then meets a conflict, and next is offered instead.
	next *Due
}

// dispatcher fires what the store says is due. It has one mutex, mu; each
// field says who owns it.
type dispatcher struct {
	cfg   dispatcherConfig // read-only after newDispatcher
	kick  chan struct{}    // wakes the loop; never closed
	hints <-chan struct{}  // the shared store's hints; nil, never ready, without
	wg    sync.WaitGroup   // jobs on a worker, from hand-off to the end of fire
	// events is the queue to the event handler, nil without one; workers
	// send to it, its own goroutine drains it.
	events *eventQueue
	// recorder stores acks in batches over a BatchAcker, nil without one;
	// workers add to it, its own goroutine drains it (recorder.go).
	recorder *recorder
	counts   counters // atomic; see Stats

	mu sync.Mutex // guards everything below

	heap      dueHeap
	flights   map[string]*flight // scheduled occurrences on a worker or parked, by id
	triggered map[*flight]string // triggered deliveries on a worker or parked, to their id
	ready     []*job             // due now, dispatched before the heap: released by their agent, or triggered
	later     []*job             // triggered jobs waiting for a retry, by at
	agents    map[string]*agentGate
	// loading holds, by job.seq (the order the loop handed them out), the
	// jobs on their way to their agent's gate, with WithAgentConcurrency:
	// a job reaches the gate only after those handed out before it
	// (agents.go). low is at most the lowest seq in loading; turn is
	// signalled when the lowest leaves, and on every notify.
	loading   map[uint64]*job
	seq, low  uint64 // the last job.seq handed out; see loading
	turn      sync.Cond
	running   int // jobs on a worker
	recording int // jobs off their worker whose ack waits for the recorder

	// The window over the store; see window.go.
	loaded    bool      // the first claim has been made
	cursor    Due       // every stored occurrence at or before it is in heap or flight; over a shared store, every one this node holds, on the store's clock
	full      bool      // the last claim filled its batch: more may be due
	storeNext time.Time // earliest known stored occurrence after cursor; zero if none
	claiming  bool      // a claim reads the store; offers wait in recent
	recent    []Due
	forgotten map[string]bool // deleted while a claim read the store
	// Over a shared store only (see SharedStore):
	hinted    bool          // another node may have changed something: claim
	lastClaim time.Time     // when the last claim started
	skew      time.Duration // this node's clock ahead of the store's

	// Lifecycle. stopLoop, loopDone, runCtx, storeCtx and cancel are set
	// by start, under mu, before the state says running, and never change
	// after.
	state     int // stateNew, stateRunning, stateStopped
	startedAt time.Time
	stopLoop  context.CancelFunc
	loopDone  chan struct{}
	runCtx    context.Context // parent of delivery contexts
	storeCtx  context.Context // runCtx without its cancellation: of calls to the store
	cancel    context.CancelFunc
	changed   chan struct{} // closed at every change, if a waiter made it
	rounds    uint64        // the loop's iterations, for waitIdle
	starved   bool          // the loop has due entries and no free worker
}

const (
	stateNew = iota
	stateRunning
	stateStopped
)

func newDispatcher(cfg dispatcherConfig) *dispatcher {
	var hints <-chan struct{}
	if cfg.shared != nil {
		hints = cfg.shared.Hints()
	}
	d := &dispatcher{
		hints:     hints,
		cfg:       cfg,
		kick:      make(chan struct{}, 1),
		heap:      newDueHeap(),
		flights:   make(map[string]*flight),
		triggered: make(map[*flight]string),
		agents:    make(map[string]*agentGate),
		loading:   make(map[uint64]*job),
	}
	d.turn.L = &d.mu
	if cfg.batch != nil {
		d.recorder = newRecorder()
	}
	d.events = newEventQueue(cfg.onEvent, cfg.eventBuffer, func() {
		d.mu.Lock()
		d.notify()
		d.mu.Unlock()
	})
	return d
}

// notify wakes waitIdle; d.mu is held.
func (d *dispatcher) notify() {
	d.turn.Broadcast()
	if d.changed != nil {
		close(d.changed)
		d.changed = nil
	}
}

// wake makes the loop look again; it never blocks.
func (d *dispatcher) wake() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// start starts the loop, which makes the first claim, and returns that
// claim's result. Every field Stop needs is published before the state
// says running, so Stop may come at any moment.
func (d *dispatcher) start(ctx context.Context) error {
	d.mu.Lock()
	switch d.state {
	case stateRunning:
		d.mu.Unlock()
		return fmt.Errorf("tickler: Start: %w", ErrStarted)
	case stateStopped:
		d.mu.Unlock()
		return fmt.Errorf("tickler: Start: %w", ErrStopped)
	}
	loopCtx, stopLoop := context.WithCancel(ctx)
	d.runCtx, d.cancel = context.WithCancel(context.WithoutCancel(ctx))
	d.storeCtx = context.WithoutCancel(d.runCtx)
	d.stopLoop, d.loopDone = stopLoop, make(chan struct{})
	d.state, d.startedAt = stateRunning, d.cfg.clock.Now()
	d.mu.Unlock()

	first := make(chan error, 1)
	go d.loop(loopCtx, first)
	if err := <-first; err != nil {
		return fmt.Errorf("tickler: Start: %w", err)
	}
	return nil
}

// stop ends the loop, then waits for the jobs on workers until ctx ends.
// It may be called in any state, any number of times, concurrently.
func (d *dispatcher) stop(ctx context.Context) error {
	d.mu.Lock()
	if d.state == stateNew {
		d.state = stateStopped
		d.notify()
		d.mu.Unlock()
		return nil
	}
	d.state = stateStopped
	d.notify()
	stopLoop, loopDone := d.stopLoop, d.loopDone
	d.mu.Unlock()
	if stopLoop == nil {
		return nil // stopped before it started
	}
	stopLoop()
	<-loopDone
	workers := make(chan struct{})
	go func() { d.wg.Wait(); close(workers) }()
	var done <-chan struct{} = workers
	if d.events != nil {
		// The events of the deliveries that ended go to the handler
		// before Stop returns (the queue closes once the workers are done).
		done = d.eventsDone(workers)
	}
	select {
	case <-done:
		d.cancel()
		return nil
	case <-ctx.Done():
	}
	// Name what is still running before cancelling it: once cancelled, a
	// delivery may end and take its flight with it.
	d.mu.Lock()
	var left []string
	for id, f := range d.flights {
		if !f.parked {
			left = append(left, id)
		}
	}
	d.mu.Unlock()
	d.cancel()
	slices.Sort(left)
	return fmt.Errorf("tickler: Stop: %d deliveries left running %v: %w", len(left), left, ctx.Err())
}

// eventsDone returns a channel closed once workersDone is and the event
// queue has been drained, if the loop started it.
func (d *dispatcher) eventsDone(workersDone <-chan struct{}) <-chan struct{} {
	d.mu.Lock()
	loaded := d.loaded
	d.mu.Unlock()
	if !loaded {
		return workersDone // the first claim failed: the queue never started
	}
	done := make(chan struct{})
	go func() {
		<-workersDone
		<-d.events.done
		close(done)
	}()
	return done
}

// loop is the dispatcher's timer: it claims, hands what is due to the
// workers, and sleeps until the next thing to do. It sends the first
// claim's result on first; if that is an error, the loop ends.
func (d *dispatcher) loop(ctx context.Context, first chan<- error) {
	defer close(d.loopDone)
	defer func() {
		// Stopped by Stop, by the cancellation of Start's context, or by
		// a failed first claim: either way no delivery starts any more.
		d.mu.Lock()
		d.state = stateStopped
		d.notify()
		d.mu.Unlock()
	}()
	jobs := make(chan *job, d.cfg.workers) // room for one per worker: never blocks
	defer close(jobs)                      // the workers end once they have drained it
	for range d.cfg.workers {
		go func() {
			for j := range jobs {
				d.fire(j)
			}
		}()
	}

	err := d.claim(ctx)
	switch {
	case ctx.Err() != nil:
		first <- ErrStopped
		return
	case err != nil:
		first <- err
		return
	}
	first <- nil
	if d.recorder != nil {
		go d.runRecorder(d.recorder)
		defer func() {
			// Every queued ack is stored before the jobs are all done.
			go func() { d.wg.Wait(); close(d.recorder.kick) }()
		}()
	}
	if d.events != nil {
		go d.events.run(d.cfg.logger)
		defer func() {
			// Workers emit until their last job ends; then the queue
			// closes and its goroutine handles what is left.
			go func() { d.wg.Wait(); close(d.events.ch) }()
		}()
	}

	clk := d.cfg.clock
	hints := d.hints
	var retryClaim time.Time // after a failed claim, the next one waits
	var timer Timer          // the last wait's, reused if it can be reset
	claimed := func(err error) {
		switch {
		case err == nil || ctx.Err() != nil:
		case errors.Is(err, ErrDamaged):
			// The others were claimed; these stay in the store, named,
			// for an operator to delete (the next Start fails on them).
			d.cfg.logger.Error("tickler: skipping stored scheduled messages that cannot be decoded", "err", err)
		default:
			retryClaim = clk.Now().Add(claimRetry)
			d.cfg.logger.Error("tickler: claiming due schedules failed; retrying", "err", err, "in", claimRetry)
		}
	}
	// Over a shared store a claim takes a round trip that may last long
	// (it leases thousands of rows), so it runs on a goroutine of its own
	// and the loop goes on handing out what is due meanwhile; claimDone,
	// owned by the loop, is non-nil while one runs and receives its error.
	// The loop waits for it before it returns.
	var claimDone chan error
	defer func() {
		if claimDone != nil {
			<-claimDone
		}
	}()
	for {
		if ctx.Err() != nil {
			return
		}
		if claimDone != nil {
			select {
			case err := <-claimDone:
				claimDone = nil
				claimed(err)
			default:
			}
		}
		d.mu.Lock()
		d.rounds++ // waitIdle's barrier: what the loop received before is handled
		d.notify()
		now := clk.Now()
		claimDue := claimDone == nil && d.needClaimLocked(now, now.Add(d.claimLead())) && !now.Before(retryClaim)
		d.mu.Unlock()
		if claimDue {
			if d.cfg.shared != nil {
				claimDone = make(chan error, 1)
				go func(done chan<- error) { done <- d.claim(ctx) }(claimDone)
			} else {
				claimed(d.claim(ctx))
			}
		}

		d.mu.Lock()
		if d.state != stateRunning {
			d.mu.Unlock()
			return
		}
		now = clk.Now()
		for d.running < d.cfg.workers {
			j := d.nextJobLocked(unixNano(now))
			if j == nil {
				break
			}
			d.running++
			d.wg.Add(1)
			jobs <- j
		}
		wait := d.waitLocked(now)
		switch {
		case claimDone != nil:
			// The claim running wakes the loop when it ends.
		case retryClaim.After(now):
			wait = min(wait, retryClaim.Sub(now))
		case d.full:
			wait = 0
		case !d.storeNext.IsZero():
			wait = min(wait, d.storeNext.Sub(now)-d.claimLead())
		}
		if d.cfg.shared != nil && claimDone == nil {
			wait = min(wait, d.lastClaim.Add(d.cfg.pollInterval).Sub(now))
			if d.hinted {
				wait = 0
			}
		}
		d.mu.Unlock()
		if wait <= 0 {
			continue
		}
		var ok bool
		if timer, ok = d.arm(timer, now, wait); !ok {
			continue
		}
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case err := <-claimDone: // nil, never ready, when none runs
			claimDone = nil
			claimed(err)
		case <-d.kick:
		case <-timer.C():
		case <-hints:
			d.mu.Lock()
			d.hinted = true
			d.mu.Unlock()
		}
		timer.Stop()
	}
}

// nextJobLocked returns the next job due at now, or nil: first the ready
// jobs, then the triggered retries that fell due, then the heap.
func (d *dispatcher) nextJobLocked(now int64) *job {
	j := d.popJobLocked(now)
	if j != nil && !j.admitted && d.cfg.perAgent > 0 && (j.retry == nil || j.retry.ack == nil) {
		// On its way to its agent's gate (a job that only retries its
		// ack never goes there).
		d.seq++
		j.seq = d.seq
		d.loading[j.seq] = j
	}
	return j
}

// popJobLocked is nextJobLocked without the bookkeeping of the agent gate.
func (d *dispatcher) popJobLocked(now int64) *job {
	if len(d.ready) > 0 {
		j := d.ready[0]
		d.ready[0] = nil
		d.ready = d.ready[1:]
		return j
	}
	if len(d.later) > 0 && d.later[0].at <= now {
		j := d.later[0]
		d.later[0] = nil
		d.later = d.later[1:]
		return j
	}
	id, at, version, rs, ok := d.heap.popDue(now)
	if !ok {
		return nil
	}
	j := &job{at: at, id: id, version: version, retry: rs}
	j.flight = &j.ownFlight
	d.flights[id] = j.flight
	return j
}

// waitLocked returns how long the loop may sleep after dispatching at now:
// until the earliest entry, unless the pool is full with entries due (then
// a finishing worker wakes it), and never longer than the max sleep.
func (d *dispatcher) waitLocked(now time.Time) time.Duration {
	wait := d.cfg.maxSleep
	n := unixNano(now)
	at, ok := d.heap.peek()
	if len(d.later) > 0 && (!ok || d.later[0].at < at) {
		at, ok = d.later[0].at, true
	}
	d.starved = len(d.ready) > 0 || (ok && at <= n)
	if ok && !d.starved {
		wait = min(wait, time.Duration(at-n))
	}
	return wait
}

// resetter is a Timer that can be armed again, as the real clock's can:
// the loop then reuses one timer instead of making one per wait.
type resetter interface{ Reset(d time.Duration) bool }

// arm starts a timer for wait after now: t again, if it is a stopped
// resetter, or a new one. If the clock moved while arming (a test
// advanced a fake clock), the deadline would be late: it stops the timer
// and reports false, so that the loop looks again.
func (d *dispatcher) arm(t Timer, now time.Time, wait time.Duration) (Timer, bool) {
	clk := d.cfg.clock
	if r, ok := t.(resetter); ok {
		r.Reset(wait)
	} else {
		t = clk.NewTimer(wait)
	}
	if moved := clk.Now().Sub(now); moved > 100*time.Microsecond || moved < 0 {
		t.Stop()
		return t, false
	}
	return t, true
}

// waitIdle returns once nothing is due at the clock's current time. It
// wakes the loop first: a fake clock moved while the loop armed its timer
// may have passed the timer's deadline without firing it.
//
// Before it returns, it waits for the loop to go round once more: the loop
// may have received a signal (a hint from a shared store) that it has not
// yet recorded under the lock.
func (d *dispatcher) waitIdle(ctx context.Context) error {
	d.wake()
	var barrier uint64
	barrierSet := false
	for {
		d.mu.Lock()
		now := d.cfg.clock.Now()
		n := unixNano(now)
		at, ok := d.heap.peek()
		idle := d.state != stateRunning ||
			(d.running == 0 && d.recording == 0 && !d.claiming && !d.needClaimLocked(now, now) && len(d.ready) == 0 && len(d.hints) == 0 &&
				(d.events == nil || d.events.pending.Load() == 0) &&
				(!ok || at > n) && (len(d.later) == 0 || d.later[0].at > n))
		switch {
		case !idle || d.state != stateRunning:
			barrierSet = false
		case !barrierSet:
			barrier, barrierSet, idle = d.rounds, true, false
		case d.rounds <= barrier:
			idle = false
		}
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
	if at, ok := d.heap.peek(); ok {
		t = fromUnixNano(at)
	}
	if len(d.later) > 0 && (t.IsZero() || d.later[0].at < unixNano(t)) {
		t = fromUnixNano(d.later[0].at)
	}
	if !d.storeNext.IsZero() && (t.IsZero() || d.storeNext.Before(t)) {
		t = d.storeNext
	}
	return t, !t.IsZero()
}
