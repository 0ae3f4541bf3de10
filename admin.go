package tickler

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrUnsupported is matched by the error of a [Scheduler] method that needs
// more of its store than [Store] asks for (the admin methods need an
// [AdminStore]) when the store does not have it.
var ErrUnsupported = errors.New("not supported by the store")

// AdminStore is a [Store] that an operator can look across: every agent's
// records at once, the newest outcomes of all of them, and counts. It is
// optional: the scheduler asserts it, and its admin methods ([Scheduler.ListAll],
// [Scheduler.RecentOutcomes], [Scheduler.Counts]) return an error matching
// [ErrUnsupported] without it. The memory, bolt and postgres stores
// implement it; storetest checks it for every store that does.
//
// These reads are for people and tools, not for firing: each may read
// every record (and, for RecentOutcomes, the newest entries of each
// history), in one consistent snapshot where the store has them.
type AdminStore interface {
	Store
	// ListAll returns up to p.Limit records of any agent (or of
	// p.AgentID) that pass p's filters, in ascending id order after
	// p.After, each with its newest outcome. Records that cannot be
	// decoded are skipped and named in ListAllResult.Damaged.
	ListAll(ctx context.Context, p ListAllParams) (ListAllResult, error)
	// RecentOutcomes returns up to p.Limit outcomes of all records,
	// newest (greatest id) first, with ids below p.Before.
	RecentOutcomes(ctx context.Context, p RecentParams) (RecentResult, error)
	// Counts counts the records by status, and the agents that have one.
	Counts(ctx context.Context) (Counts, error)
}

// ListAllParams select a page of [AdminStore.ListAll]. A zero filter
// selects everything.
type ListAllParams struct {
	// After is the id the page starts after; "" starts at the first.
	After string
	// Limit is the most records returned; the scheduler makes it at
	// least 1 (0 means [DefaultPageSize]) and at most the page size
	// bound ([WithMaxPageSize]).
	Limit int
	// AgentID, when not empty, selects that agent's records only.
	AgentID string
	// DueAfter and DueBefore, when not zero, select records whose next
	// occurrence is after DueAfter (exclusive) and before DueBefore
	// (exclusive); a record with no next occurrence (paused, or never
	// firing again) is then left out.
	DueAfter, DueBefore time.Time
	// Paused, when not nil, selects the paused records (true) or the
	// others (false).
	Paused *bool
	// Failing, when not nil, selects the records whose newest outcome
	// failed (true) or the others (false).
	Failing *bool
}

// Match reports whether r, whose newest outcome is last (nil if none),
// passes p's filters, the agent among them. Stores use it, so that the
// filters have one definition.
func (p *ListAllParams) Match(r *Record, last *Outcome) bool {
	switch {
	case p.AgentID != "" && r.AgentID != p.AgentID:
		return false
	case !p.DueAfter.IsZero() && (r.Next.IsZero() || !r.Next.After(p.DueAfter)):
		return false
	case !p.DueBefore.IsZero() && (r.Next.IsZero() || !r.Next.Before(p.DueBefore)):
		return false
	case p.Paused != nil && *p.Paused == r.PausedAt.IsZero():
		return false
	}
	failing := last != nil && last.Status == StatusFailed
	return p.Failing == nil || *p.Failing == failing
}

// ListAllResult is a page of [AdminStore.ListAll].
type ListAllResult struct {
	Records []AdminRecord
	// More reports whether records follow the last one (that may or may
	// not pass the filters).
	More bool
	// Damaged names the records in the page's range that cannot be
	// decoded and were skipped; Get of one returns an error matching
	// [ErrDamaged] that says what is wrong, and Delete removes it.
	Damaged []string
}

// AdminRecord is a record with its newest outcome, as an operator lists it.
type AdminRecord struct {
	Record *Record
	// Last is the newest entry of the record's history, nil if it has
	// none.
	Last *Outcome
}

// Status names what a record is doing: [StatusPaused], [StatusFailing],
// [StatusScheduled] or [StatusIdle], in that order of precedence.
func (a AdminRecord) Status() RecordStatus {
	switch {
	case !a.Record.PausedAt.IsZero():
		return StatusPaused
	case a.Last != nil && a.Last.Status == StatusFailed:
		return StatusFailing
	case !a.Record.Next.IsZero():
		return StatusScheduled
	}
	return StatusIdle
}

// RecordStatus is what a scheduled message is doing, for an operator.
type RecordStatus string

// The statuses of [AdminRecord.Status].
const (
	// StatusScheduled: not paused, with a next occurrence, and its
	// newest outcome did not fail.
	StatusScheduled RecordStatus = "scheduled"
	// StatusPaused: paused by [Scheduler.Pause].
	StatusPaused RecordStatus = "paused"
	// StatusFailing: not paused, and its newest outcome failed.
	StatusFailing RecordStatus = "failing"
	// StatusIdle: not paused and never fires again (a cron expression
	// past [MaxScheduledAt]).
	StatusIdle RecordStatus = "idle"
)

// RecentParams select a page of [AdminStore.RecentOutcomes].
type RecentParams struct {
	// Before is the outcome id the page starts before (exclusive); ""
	// starts at the newest. Outcome ids are UUIDv7s made when the
	// occurrence ended, so id order is time order.
	Before string
	// Limit is the most outcomes returned; it is at least 1.
	Limit int
}

// RecentResult is a page of [AdminStore.RecentOutcomes], newest first.
type RecentResult struct {
	Outcomes []AgentOutcome
	// More reports whether older outcomes follow the last one.
	More bool
}

// AgentOutcome is an outcome with the agent of its scheduled message.
type AgentOutcome struct {
	AgentID string `json:"agent_id"`
	Outcome
}

// Counts are the records of a store by status ([AdminRecord.Status]):
// Total is Scheduled + Paused + Failing + Idle. Agents counts the agents
// with at least one record; Damaged the records that cannot be decoded,
// which are in no other count.
type Counts struct {
	Total     int `json:"total"`
	Scheduled int `json:"scheduled"`
	Paused    int `json:"paused"`
	Failing   int `json:"failing"`
	Idle      int `json:"idle"`
	Agents    int `json:"agents"`
	Damaged   int `json:"damaged"`
}

// Add counts one record of status st.
func (c *Counts) Add(st RecordStatus) {
	c.Total++
	switch st {
	case StatusScheduled:
		c.Scheduled++
	case StatusPaused:
		c.Paused++
	case StatusFailing:
		c.Failing++
	case StatusIdle:
		c.Idle++
	}
}

// admin returns the store as an AdminStore, or an error matching
// ErrUnsupported naming op.
func (s *Scheduler) admin(op string) (AdminStore, error) {
	a, ok := s.store.(AdminStore)
	if !ok {
		return nil, fmt.Errorf("tickler: %s: %T: %w", op, s.store, ErrUnsupported)
	}
	return a, nil
}

// pageLimit applies the page size rules of List to limit.
func (s *Scheduler) pageLimit(limit int) (int, error) {
	switch {
	case limit < 0:
		return 0, invalid("limit", "must not be negative, got %d", limit)
	case limit == 0:
		return DefaultPageSize, nil
	case limit > s.o.maxPageSize:
		return s.o.maxPageSize, nil
	}
	return limit, nil
}

// ListAll returns a page of the scheduled messages of every agent (or of
// p.AgentID) that pass p's filters, in creation (id) order, each with its
// newest outcome; the limit follows the rules of [Scheduler.List]. It
// returns an error matching [ErrUnsupported] if the store is not an
// [AdminStore].
func (s *Scheduler) ListAll(ctx context.Context, p ListAllParams) (ListAllResult, error) {
	a, err := s.admin("list all")
	if err != nil {
		return ListAllResult{}, err
	}
	if p.Limit, err = s.pageLimit(p.Limit); err != nil {
		return ListAllResult{}, err
	}
	res, err := a.ListAll(ctx, p)
	if err != nil {
		return ListAllResult{}, fmt.Errorf("tickler: list all: %w", err)
	}
	return res, nil
}

// RecentOutcomes returns the newest outcomes across all scheduled
// messages, newest first, before the outcome id p.Before; the limit
// follows the rules of [Scheduler.List]. It returns an error matching
// [ErrUnsupported] if the store is not an [AdminStore].
func (s *Scheduler) RecentOutcomes(ctx context.Context, p RecentParams) (RecentResult, error) {
	a, err := s.admin("recent outcomes")
	if err != nil {
		return RecentResult{}, err
	}
	if p.Limit, err = s.pageLimit(p.Limit); err != nil {
		return RecentResult{}, err
	}
	res, err := a.RecentOutcomes(ctx, p)
	if err != nil {
		return RecentResult{}, fmt.Errorf("tickler: recent outcomes: %w", err)
	}
	return res, nil
}

// Counts counts the scheduled messages by status. It returns an error
// matching [ErrUnsupported] if the store is not an [AdminStore].
func (s *Scheduler) Counts(ctx context.Context) (Counts, error) {
	a, err := s.admin("counts")
	if err != nil {
		return Counts{}, err
	}
	c, err := a.Counts(ctx)
	if err != nil {
		return Counts{}, fmt.Errorf("tickler: counts: %w", err)
	}
	return c, nil
}

// Inspect returns the record with the id, whatever its agent, with its
// newest outcome, or an error matching [ErrNotFound]. It needs only a
// [Store].
func (s *Scheduler) Inspect(ctx context.Context, id string) (AdminRecord, error) {
	r, err := s.store.Get(ctx, "", id)
	if err != nil {
		return AdminRecord{}, fmt.Errorf("tickler: inspect %s: %w", id, err)
	}
	h, err := s.store.History(ctx, HistoryParams{ID: id, Limit: 1})
	if err != nil {
		return AdminRecord{}, fmt.Errorf("tickler: inspect %s: %w", id, err)
	}
	a := AdminRecord{Record: r}
	if len(h.Outcomes) > 0 {
		a.Last = &h.Outcomes[0]
	}
	return a, nil
}
