package tickler

// The per-agent gate of WithAgentConcurrency: at most cfg.perAgent jobs of
// one agent hold a slot at once. A job that finds its agent busy is parked
// in the agent's queue, in due order, on no worker; when a slot frees, the
// earliest parked job gets it and goes to the ready queue, which the loop
// dispatches before the heap. Every method here is called with d.mu held.

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
