package tickler

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"
)

// Firing one occurrence, on a worker: load the record, decide on a misfire,
// wait for the agent's turn, deliver, then record the outcome. Running the
// delivery and recording it are separate steps: an ack that fails is tried
// again on its own, and never makes the delivery run twice.

// agentBusyRetry is how soon an occurrence whose agent another node of a
// shared store is delivering to tries again.
const agentBusyRetry = 250 * time.Millisecond

// pendingAck is the record of an occurrence that ended (delivered, given
// up or skipped), waiting to be stored: the ack, and the event emitted once
// the ack is stored.
type pendingAck struct {
	params AckParams
	ev     Event
	tries  int // failed tries so far
}

// result is what a worker hands back after one step of a job.
type result struct {
	again     *job // the job again, at its time: a retry, or an ack to try again
	next      Due  // the record's next occurrence to offer; zero At: none
	parked    bool // waiting for its agent's turn (agents.go)
	recording bool // its ack waits for the recorder, which settles it (recorder.go)
}

// fire runs one step of j on a worker, then hands the result back.
func (d *dispatcher) fire(j *job) {
	d.finish(j, d.step(j))
}

// step makes one attempt at j, or one try of its pending ack.
func (d *dispatcher) step(j *job) result {
	rs := j.retry
	if rs != nil && rs.ack != nil {
		return d.record(j, rs, rs.ack)
	}
	ctx := d.storeCtx
	triggered := rs != nil && rs.key != ""
	r, err := d.load(ctx, j.id, triggered)
	switch {
	case errors.Is(err, ErrNotFound):
		return result{}
	case errors.Is(err, ErrConflict):
		// Over a shared store: another node holds the record now (this
		// one lost its lease, or an update released it).
		return result{}
	case errors.Is(err, ErrDamaged):
		d.cfg.logger.Error("tickler: a due scheduled message cannot be decoded; skipping it", "id", j.id, "err", err)
		return result{}
	case err != nil:
		d.counts.storeErrors.Add(1)
		delay := d.cfg.retry.Delay(1)
		d.cfg.logger.Error("tickler: reading a due scheduled message failed; retrying", "id", j.id, "err", err, "in", delay)
		return d.again(j, delay)
	}
	if !triggered && uint32(r.Version) != uint32(j.version) {
		return result{} // changed since claimed: its new version has its own entry
	}
	trig, err := r.Schedule.compile()
	if err != nil {
		// A record that no longer compiles cannot fire; keep it and say so.
		d.cfg.logger.Error("tickler: stored schedule is invalid", "id", j.id, "err", err)
		return result{}
	}
	d.mu.Lock()
	skew := d.skew
	d.mu.Unlock()
	now := d.cfg.clock.Now().Add(-skew) // on the store's clock, as occurrences are
	if rs == nil {
		rs = &j.ownRetry
		rs.occ = r.Next
		j.retry = rs
		if reason := d.misfire(r.Next, now, d.startedAt.Add(-skew)); reason != "" {
			// A skip goes to no gate: the jobs after it need not wait
			// for its ack.
			d.mu.Lock()
			d.loadedLocked(j)
			d.mu.Unlock()
			return d.skip(j, r, trig, now, reason)
		}
	}

	d.mu.Lock()
	d.waitTurnLocked(j)
	cancelled := j.flight.deleted || d.state != stateRunning
	admitted := !cancelled && d.admitLocked(j, r.AgentID)
	d.mu.Unlock()
	switch {
	case cancelled:
		return result{}
	case !admitted:
		return result{parked: true}
	}
	if lk := d.cfg.locker; lk != nil {
		// The limit per agent holds across the nodes of a shared store:
		// another node may be delivering to this agent.
		ok, err := lk.LockAgent(ctx, r.AgentID, d.cfg.perAgent)
		if err != nil {
			d.counts.storeErrors.Add(1)
			d.cfg.logger.Error("tickler: taking the agent's delivery slot failed; retrying", "id", r.ID, "agent", r.AgentID, "err", err)
		}
		if !ok {
			return d.again(j, agentBusyRetry) // no attempt made: none counted
		}
		defer func() {
			if err := lk.UnlockAgent(ctx, r.AgentID); err != nil {
				d.cfg.logger.Error("tickler: giving back the agent's delivery slot failed; the store frees it later", "agent", r.AgentID, "err", err)
			}
		}()
	}

	policy := d.cfg.retry
	if r.Retry != nil {
		policy = *r.Retry
	}
	if rs.started.IsZero() {
		rs.started = now
	}
	rs.attempt++
	key := rs.key
	if key == "" {
		key = IdempotencyKey(r.ID, rs.occ)
	}
	del := &Delivery{
		ScheduledMessageID: r.ID,
		AgentID:            r.AgentID,
		Message:            r.Message,
		Occurrence:         rs.occ,
		IdempotencyKey:     key,
		Attempt:            rs.attempt,
		Triggered:          triggered,
		ConversationID:     r.ConversationID,
	}
	started := d.cfg.clock.Now()
	res, derr := d.call(del)
	ev := Event{
		ScheduledMessageID: r.ID, AgentID: r.AgentID, Occurrence: rs.occ,
		IdempotencyKey: key, Attempt: rs.attempt, Message: r.Message,
		CallbackURL: r.Message.CallbackURL, Triggered: triggered,
		Started: started, Duration: d.cfg.clock.Now().Sub(started),
	}
	if derr != nil {
		d.mu.Lock()
		stopped := d.state != stateRunning
		d.mu.Unlock()
		if stopped {
			// Cut short by Stop: leave the occurrence due, so that the
			// next Start delivers it again with the same key.
			return result{}
		}
		var perm *PermanentError
		if !errors.As(derr, &perm) && rs.attempt < policy.MaxAttempts {
			delay := policy.Delay(rs.attempt)
			if ra := (*RetryAfterError)(nil); errors.As(derr, &ra) {
				delay = ra.Delay
			}
			ev.Kind, ev.Err, ev.RetryIn = EventRetry, derr, delay
			d.cfg.logger.Warn("tickler: delivery failed; will retry", "id", r.ID, "key", key, "attempt", rs.attempt, "in", delay, "err", derr)
			d.emit(ev)
			return d.again(j, delay)
		}
		ev.Kind, ev.Err = EventGaveUp, derr
		d.cfg.logger.Error("tickler: delivery gave up", "id", r.ID, "key", key, "attempts", rs.attempt, "err", derr)
	} else {
		ev.Kind, ev.Result = EventDelivered, res
	}

	ack := AckParams{ID: r.ID, Version: r.Version, HistoryLimit: d.cfg.historyLimit, HistoryOnly: triggered}
	if !triggered {
		ack.Next = nextAfter(trig, rs.occ, rs.started)
	}
	// The history of a record that the ack removes goes with it: an
	// outcome is built only for a record that stays.
	if d.cfg.historyLimit > 0 && (triggered || !ack.Next.IsZero()) {
		ack.Outcome = d.outcome(r.ID, rs, res, derr, triggered)
	}
	if d.cfg.outbox {
		ack.Callback = d.callback(ev, ack.Outcome)
	}
	return d.record(j, rs, &pendingAck{params: ack, ev: ev})
}

// load reads the record of a job: over a shared store, a scheduled
// occurrence confirms this node's lease on it first. Over a RecordViewer
// the record is the store's own: a firing only reads it, and what it
// hands on (the Delivery's and the Event's Message) must not be changed.
func (d *dispatcher) load(ctx context.Context, id string, triggered bool) (*Record, error) {
	switch {
	case d.cfg.shared != nil && !triggered:
		return d.cfg.shared.Confirm(ctx, id)
	case d.cfg.viewer != nil:
		return d.cfg.viewer.View(ctx, id)
	}
	return d.cfg.store.Get(ctx, "", id)
}

// outcome builds the history entry of an occurrence that ended.
func (d *dispatcher) outcome(id string, rs *retryState, res Result, derr error, triggered bool) *Outcome {
	now := d.cfg.clock.Now()
	out := &Outcome{ID: d.cfg.ids.next(now), ScheduledMessageID: id, Occurrence: rs.occ,
		Attempts: rs.attempt, SentAt: now, Triggered: triggered}
	if derr != nil {
		out.Status, out.Error = StatusFailed, derr.Error()
		return out
	}
	out.Status, out.RunID = StatusSuccess, res.RunID
	if res.Response != nil {
		if b, err := marshal(res.Response); err == nil {
			out.Response = b
		}
	}
	return out
}

// callback builds the outbox entry of the callback that ev, the final
// event of an occurrence, calls for, or returns nil if it calls for none.
// out is the history entry the same ack appends, if any.
func (d *dispatcher) callback(ev Event, out *Outcome) *Callback {
	p, ok := CallbackPayloadOf(ev)
	if !ok {
		return nil
	}
	body, err := marshal(p)
	if err != nil { // cannot happen: every field marshals
		d.cfg.logger.Error("tickler: encoding a callback failed; the event handler gets it", "id", ev.ScheduledMessageID, "err", err)
		return nil
	}
	now := d.cfg.clock.Now()
	cb := &Callback{ID: d.cfg.ids.next(now), ScheduledMessageID: ev.ScheduledMessageID, URL: ev.CallbackURL,
		Key: ev.IdempotencyKey, Payload: body, NextAttempt: now}
	if out != nil {
		cb.OutcomeID = out.ID
	}
	return cb
}

// record stores p, the pending ack of j, or hands it to the recorder over
// a BatchAcker (recorder.go), which stores it with others and settles j.
// p is kept on j's retry state only if it outlives the call (queued for
// the recorder, or to be tried again): a firing whose ack is stored at
// once allocates nothing for it.
func (d *dispatcher) record(j *job, rs *retryState, p *pendingAck) result {
	if d.recorder != nil {
		rs.keep(p)
		d.recorder.add(j)
		return result{recording: true}
	}
	err := d.cfg.store.Ack(d.storeCtx, p.params)
	return d.acked(j, rs, p, err)
}

// keep makes p the pending ack of rs, copied to the heap unless it is
// already, and returns rs's copy.
func (rs *retryState) keep(p *pendingAck) *pendingAck {
	if rs.ack == nil {
		rs.ack = new(pendingAck)
	}
	if rs.ack != p {
		*rs.ack = *p
	}
	return rs.ack
}

// acked is what follows the ack of j that returned err: its event once it
// is stored; if the store failed, j comes back later to try the ack again,
// and only the ack. An ack that finds the record deleted or changed is
// done: the delivery happened, and the change that overtook it wins.
func (d *dispatcher) acked(j *job, rs *retryState, p *pendingAck, err error) result {
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrConflict) {
		p = rs.keep(p)
		p.tries++
		d.counts.storeErrors.Add(1)
		delay := d.cfg.retry.Delay(p.tries)
		d.cfg.logger.Error("tickler: recording an outcome failed; retrying the record, not the delivery",
			"id", p.params.ID, "key", p.ev.IdempotencyKey, "in", delay, "err", err)
		return d.again(j, delay)
	}
	// The outbox holds the callback only if the ack applied.
	p.ev.CallbackQueued = err == nil && p.params.Callback != nil
	d.emit(p.ev)
	if err != nil || p.params.HistoryOnly || p.params.Next.IsZero() {
		return result{}
	}
	return result{next: Due{ID: p.params.ID, At: p.params.Next, Version: p.params.Version + 1}}
}

// again returns the result that brings j back after delay, with its retry
// state.
func (d *dispatcher) again(j *job, delay time.Duration) result {
	at := d.cfg.clock.Now().Add(delay)
	return result{again: &job{at: unixNano(at), id: j.id, version: j.version, retry: j.retry, flight: j.flight}}
}

// skip records a skipped occurrence and returns the next one.
func (d *dispatcher) skip(j *job, r *Record, trig trigger, now time.Time, reason string) result {
	key := IdempotencyKey(r.ID, r.Next)
	d.cfg.logger.Warn("tickler: occurrence skipped", "id", r.ID, "key", key, "reason", reason)
	ack := AckParams{ID: r.ID, Version: r.Version, Next: trig.Next(now), HistoryLimit: d.cfg.historyLimit}
	if d.cfg.historyLimit > 0 && !ack.Next.IsZero() {
		ack.Outcome = &Outcome{ID: d.cfg.ids.next(now), ScheduledMessageID: r.ID, Occurrence: r.Next,
			Status: StatusSkipped, Error: reason, SentAt: now}
	}
	return d.record(j, j.retry, &pendingAck{params: ack, ev: Event{
		Kind: EventSkipped, ScheduledMessageID: r.ID, AgentID: r.AgentID, Occurrence: r.Next,
		IdempotencyKey: key, Reason: reason, Message: r.Message, CallbackURL: r.Message.CallbackURL,
		Started: now,
	}})
}

// misfire returns why an occurrence at occ, found at now by a scheduler
// that started at started (both on the store's clock, as occ is), is to
// be skipped, or "" if it is to be delivered.
func (d *dispatcher) misfire(occ, now, started time.Time) string {
	c := &d.cfg
	late := now.Sub(occ)
	missed := occ.Before(started) || late > c.misfireThreshold
	switch {
	case !missed:
		return ""
	case c.misfireGrace > 0 && late > c.misfireGrace:
		return fmt.Sprintf("missed by %v, beyond the misfire grace of %v", late, c.misfireGrace)
	case c.misfire == MisfireSkip:
		return fmt.Sprintf("missed by %v; the misfire policy skips it", late)
	}
	return ""
}

// call runs the Deliverer, turning a panic into an error.
func (d *dispatcher) call(del *Delivery) (res Result, err error) {
	ctx := d.runCtx
	if t := d.cfg.deliveryTimeout; t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = d.cfg.clock.WithTimeout(ctx, t)
		defer cancel()
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("tickler: Deliverer panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return d.cfg.deliver.Deliver(ctx, del)
}

// emit counts ev and queues it for the event handler, if there is one.
func (d *dispatcher) emit(ev Event) {
	d.counts.count(ev.Kind)
	if d.events == nil || d.events.send(ev) {
		return
	}
	// Logged at the 1st, 2nd, 4th, 8th... drop, not at every one.
	if n := d.events.dropped.Load(); n&(n-1) == 0 {
		d.cfg.logger.Warn("tickler: the event handler falls behind; events dropped", "dropped", n, "kind", ev.Kind, "key", ev.IdempotencyKey)
	}
}

// finish takes back a job from its worker: it frees the worker and the
// agent's slot, ends the flight, and puts what follows (a retry, an ack to
// try again, the record's next occurrence) where it belongs.
func (d *dispatcher) finish(j *job, res result) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.running--
	d.loadedLocked(j)
	// The loop sleeps until its earliest entry: wake it if it waits for a
	// free worker, or if this adds an earlier entry.
	wake := d.starved
	switch {
	case res.recording:
		// Still in flight, off the worker: the recorder settles it.
		d.recording++
	case res.parked:
		d.wg.Done()
	default:
		d.wg.Done()
		d.releaseLocked(j)
		wake = d.settleLocked(j, res) || wake
	}
	if wake {
		d.starved = false
		d.wake()
	}
	d.notify()
}

// settle takes back from the recorder a job whose ack it stored (or
// failed to): as finish does, but the job held no worker any more.
func (d *dispatcher) settle(j *job, res result) {
	d.mu.Lock()
	defer d.mu.Unlock()
	defer d.wg.Done()
	d.recording--
	d.releaseLocked(j)
	if d.settleLocked(j, res) {
		d.wake()
	}
	d.notify()
}

// settleLocked ends j's flight and places what follows it; it reports
// whether the loop must look again.
func (d *dispatcher) settleLocked(j *job, res result) bool {
	f := j.flight
	if j.retry != nil && j.retry.key != "" { // triggered
		if res.again == nil || f.deleted || d.state != stateRunning {
			delete(d.triggered, f)
			return false
		}
		i := len(d.later)
		for i > 0 && d.later[i-1].at > res.again.at {
			i--
		}
		d.later = append(d.later, nil)
		copy(d.later[i+1:], d.later[i:])
		d.later[i] = res.again
		return true
	}
	delete(d.flights, j.id)
	next, again, held := res.next, res.again, true
	if f.next != nil && (again != nil || next.At.IsZero() || next.Version < f.next.Version) {
		// Updated while it ran: the update's occurrence replaces whatever
		// this one would have led to.
		next, again, held = *f.next, nil, false
	}
	switch {
	case d.state != stateRunning || f.deleted:
		return false
	case again != nil:
		// The store still holds the occurrence as due, within the cursor:
		// it goes back into the heap whatever its time.
		d.heap.insert(&entry{at: again.at, key: d.heap.keyOf(j.id), version: uint32(again.version)}, again.retry)
		return true
	case !next.At.IsZero():
		return d.offerLocked(next, held)
	}
	return false
}
