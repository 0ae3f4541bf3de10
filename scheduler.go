package tickler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Scheduler fires scheduled messages on time and hands each occurrence to
// a [Deliverer]. Create one with [New], call Start, and Stop it when done.
// All methods are safe to call from many goroutines at once.
//
// The methods that take an agent id and a message id (Get, Delete,
// History, Trigger, Update, Pause, Resume) treat an empty agent id as any
// agent's: an operator's tools (httpapi's admin API) address a message by
// its id alone. Letta's routes never pass an empty one.
type Scheduler struct {
	store   Store
	deliver Deliverer
	o       options
	ids     *idGen
	d       *dispatcher
}

// New returns a scheduler over store that hands occurrences to deliverer.
// It does nothing until [Scheduler.Start].
func New(store Store, deliverer Deliverer, opts ...Option) (*Scheduler, error) {
	if store == nil {
		return nil, errors.New("tickler: New: store is nil")
	}
	if deliverer == nil {
		return nil, errors.New("tickler: New: deliverer is nil")
	}
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	if _, ok := store.(CallbackOutbox); o.callbackOutbox && !ok {
		return nil, fmt.Errorf("tickler: New: WithCallbackOutbox: the store (%T) does not implement CallbackOutbox", store)
	}
	s := &Scheduler{store: store, deliver: deliverer, o: o, ids: &idGen{}}
	shared, _ := store.(SharedStore)
	var locker AgentLocker
	if l, ok := shared.(AgentLocker); ok && o.agentConcurrency > 0 {
		locker = l
	}
	batch, _ := store.(BatchAcker)
	viewer, _ := store.(RecordViewer)
	s.d = newDispatcher(dispatcherConfig{
		store:            store,
		shared:           shared,
		locker:           locker,
		batch:            batch,
		viewer:           viewer,
		outbox:           o.callbackOutbox,
		deliver:          deliverer,
		clock:            o.clock,
		ids:              s.ids,
		logger:           o.logger,
		onEvent:          o.onEvent,
		retry:            o.retry,
		workers:          o.concurrency,
		perAgent:         o.agentConcurrency,
		misfire:          o.misfire,
		misfireGrace:     o.misfireGrace,
		misfireThreshold: o.misfireThreshold,
		deliveryTimeout:  o.deliveryTimeout,
		historyLimit:     o.historyLimit,
		lookahead:        o.lookahead,
		claimBatch:       o.claimBatch,
		maxSleep:         o.maxSleep,
		pollInterval:     o.pollInterval,
		eventBuffer:      o.eventBuffer,
	})
	return s, nil
}

// Start loads what is due from the store, applies the misfire policy to
// occurrences that passed while the scheduler was stopped, and starts
// firing. It returns the store's error if the first claim fails. Firing
// goes on until Stop is called or ctx is cancelled. A scheduler starts once.
func (s *Scheduler) Start(ctx context.Context) error { return s.d.start(ctx) }

// Stop stops firing: no delivery starts after Stop begins. It waits for the
// deliveries in flight until ctx ends; then it cancels their contexts and
// returns an error that wraps ctx.Err() and names what was left running.
// An occurrence cut short this way is delivered again after the next Start.
func (s *Scheduler) Stop(ctx context.Context) error { return s.d.stop(ctx) }

// Create validates req, stores a new scheduled message for the agent and
// returns it. The returned message shares its slices with req. Once Create returns, the message is as durable as the store
// makes it, and it fires at its first occurrence.
//
// Invalid input returns a *[ValidationError] naming the field, and a
// one-time schedule at or before now returns one that also matches
// [ErrScheduledInPast]; nothing is stored then.
func (s *Scheduler) Create(ctx context.Context, agentID string, req CreateRequest) (*ScheduledMessage, error) {
	if err := checkAgentID(agentID); err != nil {
		return nil, err
	}
	r, err := s.newRecord(agentID, &req, s.o.clock.Now())
	if err != nil {
		return nil, err
	}
	// The store copies r (or encodes it): req and the returned message
	// share slices, but neither shares anything with what is stored.
	if err := s.create(ctx, r); err != nil {
		return nil, err
	}
	s.d.offer(Due{ID: r.ID, At: r.Next, Version: r.Version})
	return r.scheduled(), nil
}

// newRecord validates req and returns the record that stores it.
func (s *Scheduler) newRecord(agentID string, req *CreateRequest, now time.Time) (*Record, error) {
	msg := req.message()
	if err := msg.validate(); err != nil {
		return nil, err
	}
	if err := checkLabels(req.Name, req.Description, req.ConversationID); err != nil {
		return nil, err
	}
	if req.Retry != nil {
		if err := req.Retry.Validate(); err != nil {
			return nil, err
		}
	}
	trig, first, err := req.Schedule.first(now)
	if err != nil {
		return nil, err
	}
	if err := s.checkLimits(&msg, trig, first); err != nil {
		return nil, err
	}
	return &Record{
		ID:       s.ids.next(now),
		AgentID:  agentID,
		Message:  msg,
		Schedule: req.Schedule,
		Retry:    clonePtr(req.Retry),
		Next:     first,
		Version:  1,

		Name:           req.Name,
		Description:    req.Description,
		ConversationID: req.ConversationID,
	}, nil
}

// create stores r; the store enforces the per-agent limits with the
// insert.
func (s *Scheduler) create(ctx context.Context, r *Record) error {
	err := s.store.Create(ctx, r, s.createParams())
	if errors.Is(err, ErrLimitExceeded) {
		return s.agentLimitError(r.AgentID, err)
	}
	if err != nil {
		return fmt.Errorf("tickler: create: %w", err)
	}
	return nil
}

// createParams are the per-agent limits every create passes to the store.
func (s *Scheduler) createParams() CreateParams {
	return CreateParams{MaxPerAgent: s.o.maxPerAgent, MaxBytesPerAgent: s.o.maxBytesPerAgent}
}

// agentLimitError is the *ValidationError of a create the store refused
// with err, which matches ErrLimitExceeded: the agent is at one of its
// limits ([WithMaxSchedulesPerAgent], [WithMaxBytesPerAgent]), and the
// store's error says which.
func (s *Scheduler) agentLimitError(agentID string, err error) error {
	var limits []string
	if n := s.o.maxPerAgent; n > 0 {
		limits = append(limits, fmt.Sprintf("%d scheduled messages", n))
	}
	if n := s.o.maxBytesPerAgent; n > 0 {
		limits = append(limits, fmt.Sprintf("%d bytes", n))
	}
	reason := fmt.Sprintf("agent %q would pass its limit of %s", agentID, strings.Join(limits, " or "))
	if detail, ok := strings.CutPrefix(err.Error(), ErrLimitExceeded.Error()+": "); ok {
		reason += " (" + detail + ")"
	}
	return &ValidationError{Field: "agent_id", Err: ErrLimitExceeded, Reason: reason}
}

// Get returns the agent's scheduled message with the id, or an error
// matching [ErrNotFound], also when the message belongs to another agent.
func (s *Scheduler) Get(ctx context.Context, agentID, id string) (*ScheduledMessage, error) {
	r, err := s.store.Get(ctx, agentID, id)
	if err != nil {
		return nil, fmt.Errorf("tickler: get %s: %w", id, err)
	}
	return r.scheduled(), nil
}

// Page is one page of [Scheduler.List].
type Page struct {
	ScheduledMessages []*ScheduledMessage
	// HasNextPage reports whether more messages follow the last one.
	HasNextPage bool
}

// List returns the agent's scheduled messages in creation order, starting
// after the id after (exclusive; "" starts at the beginning). A limit of 0
// means [DefaultPageSize]; a limit above the maximum page size is lowered
// to it; a negative limit is a *[ValidationError].
func (s *Scheduler) List(ctx context.Context, agentID, after string, limit int) (*Page, error) {
	if agentID == "" {
		return nil, invalid("agent_id", "must not be empty")
	}
	switch {
	case limit < 0:
		return nil, invalid("limit", "must not be negative, got %d", limit)
	case limit == 0:
		limit = DefaultPageSize
	case limit > s.o.maxPageSize:
		limit = s.o.maxPageSize
	}
	res, err := s.store.List(ctx, ListParams{AgentID: agentID, After: after, Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("tickler: list: %w", err)
	}
	p := &Page{ScheduledMessages: make([]*ScheduledMessage, len(res.Records)), HasNextPage: res.More}
	for i, r := range res.Records {
		p.ScheduledMessages[i] = r.scheduled()
	}
	return p, nil
}

// Delete removes the agent's scheduled message with the id, or returns an
// error matching [ErrNotFound]. Once Delete returns, the message never
// starts another delivery; one that already started runs to its end.
func (s *Scheduler) Delete(ctx context.Context, agentID, id string) error {
	if err := s.store.Delete(ctx, agentID, id); err != nil {
		return fmt.Errorf("tickler: delete %s: %w", id, err)
	}
	s.d.forget(id)
	return nil
}

// History returns up to limit outcomes of the agent's scheduled message,
// newest first, after skipping offset, and whether more follow. A limit of
// 0 means [DefaultPageSize].
func (s *Scheduler) History(ctx context.Context, agentID, id string, offset, limit int) ([]Outcome, bool, error) {
	if offset < 0 {
		return nil, false, invalid("offset", "must not be negative, got %d", offset)
	}
	switch {
	case limit < 0:
		return nil, false, invalid("limit", "must not be negative, got %d", limit)
	case limit == 0:
		limit = DefaultPageSize
	case limit > s.o.maxPageSize:
		limit = s.o.maxPageSize
	}
	res, err := s.store.History(ctx, HistoryParams{AgentID: agentID, ID: id, Offset: offset, Limit: limit})
	if err != nil {
		return nil, false, fmt.Errorf("tickler: history %s: %w", id, err)
	}
	return res.Outcomes, res.More, nil
}

// Trigger delivers the agent's scheduled message once, now, outside its
// schedule, and returns the delivery's idempotency key. The schedule does
// not move: its next occurrence stays what it was, and a paused message
// stays paused. The delivery goes through the worker pool, the per-agent
// limit and the retry policy like any occurrence, its events and history
// entry are marked Triggered, and its key ("<id>@<now in Unix ms>!<12 hex
// digits>") never equals an occurrence's.
//
// A triggered delivery is not stored: if the scheduler stops before it
// ends, it is not made again. Trigger returns an error matching
// [ErrNotFound] for an unknown message, and [ErrNotStarted] or
// [ErrStopped] when the scheduler is not running.
func (s *Scheduler) Trigger(ctx context.Context, agentID, id string) (string, error) {
	if _, err := s.store.Get(ctx, agentID, id); err != nil {
		return "", fmt.Errorf("tickler: trigger %s: %w", id, err)
	}
	key, err := s.d.trigger(id)
	if err != nil {
		return "", fmt.Errorf("tickler: trigger %s: %w", id, err)
	}
	return key, nil
}

// WaitIdle returns once nothing is due at the clock's current time: no
// delivery is running and every occurrence due by now has ended (delivered,
// given up or skipped), or is waiting for a retry. It is a test hook, for
// tests on a fake clock (the ticklertest package builds on it); a host has
// no use for it in production.
func (s *Scheduler) WaitIdle(ctx context.Context) error { return s.d.waitIdle(ctx) }

// NextWake returns the earliest instant at which the scheduler knows it has
// something to do (an occurrence or a retry falls due), and false if it
// knows of nothing. It is a test hook: tests on a fake clock use it to step
// from one due time to the next (see ticklertest's Advance).
func (s *Scheduler) NextWake() (time.Time, bool) { return s.d.nextWake() }

func (r *Record) scheduled() *ScheduledMessage {
	return &ScheduledMessage{
		ID:                r.ID,
		AgentID:           r.AgentID,
		Message:           r.Message,
		Schedule:          r.Schedule,
		NextScheduledTime: r.Next,
		Paused:            !r.PausedAt.IsZero(),
		Retry:             clonePtr(r.Retry),
		Name:              r.Name,
		Description:       r.Description,
		ConversationID:    r.ConversationID,
		CreatedAt:         idTime(r.ID),
	}
}
