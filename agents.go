package tickler

// The per-agent gate of WithAgentConcurrency: at most cfg.perAgent jobs of
// one agent hold a slot at once. A job that finds its agent busy is parked
// in the agent's queue, in due order, on no worker; when a slot frees, the
// earliest parked job gets it and goes to the ready queue, which the loop
// dispatches before the heap. Every method here is called with d.mu held.
//
// A job learns its agent only once its worker has read the record, so two
// jobs of one agent handed to two workers at once could reach the gate in
// either order. A worker therefore waits, before the gate, until every
// job the loop handed out before its own has reached its gate or ended
// (waitTurnLocked): the loop hands jobs out in due order, so the gate
// sees them in due order. The wait is for other workers' store reads; the
// earliest job handed out never waits, and the jobs channel is FIFO, so
// it is always on a worker.

// agentGate is one agent's slots and queue.
type agentGate struct {
	held    int    // slots held by jobs on a worker or in the ready queue
	waiting []*job // parked, by (at, id)
}

// admitLocked gives j a slot of agent's gate, or parks it and reports
// false. A job that already holds a slot (handed over by releaseLocked) is
// admitted at once.
func (d *dispatcher) admitLocked(j *job, agent string) bool {
	if d.cfg.perAgent <= 0 || j.admitted {
		return true
	}
	g := d.agents[agent]
	if g == nil {
		g = &agentGate{}
		d.agents[agent] = g
	}
	j.agent = agent
	d.loadedLocked(j)
	if g.held < d.cfg.perAgent {
		g.held++
		j.admitted = true
		return true
	}
	i := len(g.waiting)
	for i > 0 && (g.waiting[i-1].at > j.at || (g.waiting[i-1].at == j.at && g.waiting[i-1].id > j.id)) {
		i--
	}
	g.waiting = append(g.waiting, nil)
	copy(g.waiting[i+1:], g.waiting[i:])
	g.waiting[i] = j
	j.flight.parked = true
	return false
}

// waitTurnLocked returns once no job handed out before j is on its way to
// its agent's gate, or the dispatcher stops; d.mu is held (and released
// while it waits).
func (d *dispatcher) waitTurnLocked(j *job) {
	if d.loading[j.seq] != j {
		return
	}
	for d.state == stateRunning && d.lowestLoadingLocked() < j.seq {
		d.turn.Wait()
	}
}

// lowestLoadingLocked returns the lowest seq of a job on its way to its
// agent's gate (d.seq+1 if there is none). Seqs only grow, so d.low
// moves past each seq once.
func (d *dispatcher) lowestLoadingLocked() uint64 {
	for d.low <= d.seq {
		if _, ok := d.loading[d.low]; ok {
			break
		}
		d.low++
	}
	return d.low
}

// loadedLocked notes that j has reached its agent's gate, or ended
// without going there, and wakes the workers waiting for it.
func (d *dispatcher) loadedLocked(j *job) {
	if j.seq == 0 || d.loading[j.seq] != j {
		return
	}
	lowest := d.lowestLoadingLocked() == j.seq
	delete(d.loading, j.seq)
	if lowest {
		d.turn.Broadcast() // only the lowest leaving lets a waiter on
	}
}

// releaseLocked frees the slot j held, if it holds one: it goes to the agent's earliest
// parked job, if any, which moves to the ready queue holding it.
func (d *dispatcher) releaseLocked(j *job) {
	if !j.admitted || d.cfg.perAgent <= 0 {
		return
	}
	j.admitted = false
	agent := j.agent
	g := d.agents[agent]
	if g == nil {
		return
	}
	if len(g.waiting) > 0 {
		next := g.waiting[0]
		g.waiting[0] = nil
		g.waiting = g.waiting[1:]
		next.admitted, next.flight.parked = true, false
		d.ready = append(d.ready, next)
		d.wake()
		return
	}
	if g.held--; g.held == 0 {
		delete(d.agents, agent)
	}
}

// trigger queues a delivery of the record id now, outside its schedule,
// and returns its key; see Scheduler.Trigger.
func (d *dispatcher) trigger(id string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch d.state {
	case stateNew:
		return "", ErrNotStarted
	case stateStopped:
		return "", ErrStopped
	}
	now := d.cfg.clock.Now()
	u := d.cfg.ids.next(now)
	key := IdempotencyKey(id, now) + "!" + u[len(u)-12:]
	f := &flight{}
	d.triggered[f] = id
	d.ready = append(d.ready, &job{at: unixNano(now), id: id, flight: f, retry: &retryState{occ: now, key: key}})
	d.wake()
	d.notify()
	return key, nil
}
