package tickler

import (
	"context"
	"encoding/json"
	"time"
)

// Store keeps scheduled messages and is the source of truth for when each
// one is due. The dispatcher is a short look-ahead cache over it: it claims
// what falls due within a window, fires it, and acks each occurrence, which
// removes a one-time record or advances a recurring one.
//
// # Addressing and scoping
//
// Records are addressed by id, which is unique across agents. Agent scoping
// lives in the store, in one rule: a method that takes an agent id and a
// record id (Get, Delete, History, Update through Record.AgentID) treats a
// record of another agent as missing (ErrNotFound), atomically with what it
// does; an empty agent id matches any agent, and only the dispatcher, which
// addresses records by id alone, passes one.
//
// # Guarantees every Store gives
//
// A Store is safe for concurrent use. Every method that changes state is
// durable when it returns, to the degree the implementation promises (the
// memory store promises nothing across a restart; the bolt store promises
// an fsynced commit). A failed call changes nothing. A Store never calls
// back into the scheduler and keeps nothing its caller passed it.
//
// The package storetest holds the conformance suite every Store passes.
//
// # Optional interfaces
//
// A store may implement more than this interface, and the scheduler (or
// a sender) asserts what it needs: [SharedStore] and [AgentLocker] for a
// store that several processes share, [AdminStore] for the operator's
// reads, [CallbackOutbox] for callbacks written in the same commit as
// the ack ([AckParams].Callback) and drained by a sender, and
// [RecordViewer] for reads at fire time that copy nothing.
//
// # What a shared store adds
//
// memory and bolt are owned by one process: a claim is a range read of an
// index by next occurrence, from the cursor in [ClaimParams]. A store that
// several processes share (PostgreSQL) must add, without changing this
// interface's callers:
//   - leases: a claim marks what it returns as owned by the claiming node
//     until a lease expiry on the database's clock, and skips what another
//     live node owns (fields for the owner identity and the lease join
//     ClaimParams and ClaimResult);
//   - fencing: an ack from a node that lost its lease, or of a version that
//     changed, is a no-op reported as ErrConflict, as it already is here;
//   - global deletes: a delivery confirms its record (Get at fire time)
//     in the shared database, so that after Delete returns on any node no
//     node starts another delivery;
//   - limits across nodes: [CreateParams.MaxPerAgent] and
//     [CreateParams.MaxBytesPerAgent] checked in the same transaction as
//     the insert ([UpdateParams.MaxBytesPerAgent] as the update), not in
//     one process's memory.
type Store interface {
	// Create stores a new record with Version 1 and sets r.Version to 1.
	// It returns ErrExists if the id is taken, and an error matching
	// ErrLimitExceeded (nothing stored) if p.MaxPerAgent is set and the
	// agent already has that many records, or p.MaxBytesPerAgent is set
	// and r would take the agent's records past that many bytes, checked
	// atomically with the insert. It keeps nothing r refers to.
	Create(ctx context.Context, r *Record, p CreateParams) error
	// Get returns the record with the id, or ErrNotFound (also when
	// agentID is not empty and the record belongs to another agent).
	Get(ctx context.Context, agentID, id string) (*Record, error)
	// List returns up to p.Limit records of p.AgentID in ascending id
	// order, starting after p.After (exclusive; "" starts at the
	// beginning), and whether more follow.
	List(ctx context.Context, p ListParams) (ListResult, error)
	// Delete removes the record with the id, with its history, or returns
	// ErrNotFound (also when agentID is not empty and the record belongs
	// to another agent).
	Delete(ctx context.Context, agentID, id string) error
	// Claim returns, in ascending (At, ID) order, up to p.Limit records
	// whose next occurrence is at or before p.Until and after p.After,
	// and the next occurrence beyond p.Until; see [ClaimParams] and
	// [ClaimResult].
	//
	// A record in the range that cannot be decoded is skipped: Claim still
	// returns up to p.Limit of the others, with an error matching
	// ErrDamaged that names what it skipped. The result is valid with such
	// an error and with no error; with any other error it is not.
	Claim(ctx context.Context, p ClaimParams) (ClaimResult, error)
	// Ack records the end of an occurrence; see [AckParams]. It returns
	// ErrNotFound if the record is gone and ErrConflict if its version is
	// not p.Version; neither changes anything.
	Ack(ctx context.Context, p AckParams) error
	// Update replaces the record r.ID, which must belong to r.AgentID (an
	// empty r.AgentID matches any agent and keeps the stored one) and be
	// at version r.Version, with r (message, schedule, retry policy,
	// next occurrence, pause state), and makes its version r.Version+1;
	// its history is kept. It returns ErrNotFound if there is no such
	// record of that agent and ErrConflict if its version is not
	// r.Version; neither changes anything. It returns an error matching
	// ErrLimitExceeded (nothing changed) if p.MaxBytesPerAgent is set and
	// r is larger than the stored record and would take its agent's
	// records past that many bytes, checked atomically with the write.
	Update(ctx context.Context, r *Record, p UpdateParams) error
	// Count returns how many records the agent has.
	Count(ctx context.Context, agentID string) (int, error)
	// History returns outcomes of the record, newest first; see
	// [HistoryParams]. It returns ErrNotFound if the record does not exist
	// (or belongs to another agent than a non-empty p.AgentID).
	History(ctx context.Context, p HistoryParams) (HistoryResult, error)
}

// SharedStore is a [Store] that several processes share, each running a
// scheduler over it (the postgres package's store is one). Its claims are
// leases held by the process (the node) on the store's own clock, renewed
// by a heartbeat; the dispatcher finds out it is shared by asserting this
// interface, and then:
//
//   - claims at least every [WithPollInterval], and when Hints says
//     another node changed something, passing as ClaimParams.After its
//     cursor on the store's clock: every record this node holds that
//     sorts at or before it is in its heap or on a worker already. Claim
//     then returns the records in the window that no live node holds,
//     from the start of the window, and of those this node holds only
//     the ones after the cursor (a recurring record its own ack advanced
//     into the window); a zero After, as at the first claim, returns all
//     it holds;
//   - treats an offer of a record it does not hold (Create, Update, Pause,
//     Resume on this node) as a reason to claim soon, not as a push;
//   - confirms its lease with Confirm before each delivery, so that a
//     node that lost its lease (paused, partitioned) starts no delivery
//     of what another node took over, and no node starts one after Delete
//     returned on any node;
//   - drops what it held when a claim reports ClaimResult.Reset;
//   - fires an occurrence due at At when its own clock reads At+Skew
//     plus how long the claim took (the store read its clock somewhere
//     within it), so never before At on the store's clock.
type SharedStore interface {
	Store
	// Confirm returns the record id if this node still holds a live lease
	// on it, ErrNotFound if it is gone, and ErrConflict if another node
	// holds it or this node's lease lapsed.
	Confirm(ctx context.Context, id string) (*Record, error)
	// Hints returns a channel that receives a value when another node
	// created or changed a record that may fall due soon, or nil if the
	// store has no such signal (then polling alone finds it).
	Hints() <-chan struct{}
}

// AgentLocker is implemented by a [SharedStore] that holds the per-agent
// delivery limit ([WithAgentConcurrency]) across nodes: before a delivery,
// the dispatcher takes one of the agent's slots with LockAgent, and gives
// it back with UnlockAgent when the attempt ends. When live nodes hold all
// of an agent's slots, the occurrence waits (without counting an attempt)
// and tries again shortly.
type AgentLocker interface {
	// LockAgent takes one of the agent's n slots for this node, reporting
	// false if live nodes hold all n. A slot is held until UnlockAgent or
	// until this node's lease lapses.
	LockAgent(ctx context.Context, agentID string, n int) (bool, error)
	// UnlockAgent gives back one slot of the agent that this node holds.
	UnlockAgent(ctx context.Context, agentID string) error
}

// BatchAcker is a [Store] that records many occurrences in one call, so
// that a durable store commits them together (many acks per fsync). The
// dispatcher detects it: with a BatchAcker, a worker hands the outcome of
// an occurrence to the dispatcher's recorder and is free again, and the
// recorder stores every outcome queued meanwhile with one AckMany.
//
// It is optional: a store without it is acked one occurrence at a time,
// by the worker that fired it.
type BatchAcker interface {
	Store
	// AckMany applies each ack as [Store.Ack] would, independently: it
	// returns one error per ack, in order (nil when it applied), and one
	// ack refused (ErrNotFound, ErrConflict) or failed changes nothing of
	// its own and nothing of the others. Every ack that applied is as
	// durable when AckMany returns as one whose Ack returned. Acks of the
	// same record apply in order. It keeps nothing acks refers to.
	AckMany(ctx context.Context, acks []AckParams) []error
}

// RecordViewer is a [Store] that can hand out a stored record without
// copying it. The dispatcher reads the record of every occurrence it
// fires; over a RecordViewer it calls View instead of Get, and saves the
// deep copy Get makes (a store that keeps records in memory, where that
// copy is most of the read).
//
// It is optional: without it, the dispatcher calls Get.
type RecordViewer interface {
	Store
	// View returns the record with the id, as Get(ctx, "", id) would,
	// except that the record may be the store's own, shared with every
	// caller of View: the caller must not change it or anything it refers
	// to, and the store never changes it once returned (a change stores a
	// new record in its place). It returns ErrNotFound if there is no
	// such record.
	View(ctx context.Context, id string) (*Record, error)
}

// BatchCreator is a [Store] that creates many records at once, atomically.
// [Scheduler.CreateMany] uses it when the store has it; without it, it
// creates the records one by one and deletes them again if one fails.
type BatchCreator interface {
	Store
	// CreateMany stores every record of rs, as Create would, or none: it
	// returns ErrExists if an id is taken (or repeats in rs), and an error
	// matching ErrLimitExceeded if p.MaxPerAgent is set and an agent
	// would have more records than that with rs (or p.MaxBytesPerAgent
	// and more bytes), checked atomically with the insert. On success it sets each Version to 1, and every record
	// is as durable as one whose Create returned. It keeps nothing rs
	// refers to.
	CreateMany(ctx context.Context, rs []*Record, p CreateParams) error
}

// BatchDeleter is a [Store] that deletes many records in one call, so
// that a durable store commits them together. [Scheduler.DeleteMany] uses
// it when the store has it, and calls Delete for each id otherwise.
type BatchDeleter interface {
	Store
	// DeleteMany deletes each record as Delete(ctx, agentID, id) would,
	// independently: it returns one error per id, in order (nil when it
	// was deleted). Every delete that applied is as durable when
	// DeleteMany returns as one whose Delete returned.
	DeleteMany(ctx context.Context, agentID string, ids []string) []error
}

// CreateParams are the conditions of [Store.Create].
type CreateParams struct {
	// MaxPerAgent, when positive, is how many records the agent may have:
	// Create fails with ErrLimitExceeded rather than store one more.
	MaxPerAgent int
	// MaxBytesPerAgent, when positive, is how many bytes the agent's
	// records may take together, each measured by [RecordSize]: Create
	// fails with ErrLimitExceeded (nothing stored) rather than take the
	// agent past it, checked atomically with the insert. Update checks
	// the same bound ([UpdateParams]).
	MaxBytesPerAgent int64
}

// UpdateParams are the conditions of [Store.Update].
type UpdateParams struct {
	// MaxBytesPerAgent, when positive, is how many bytes the agent's
	// records may take together, as in [CreateParams]: Update fails with
	// ErrLimitExceeded (nothing changed) rather than grow the record so
	// that the agent's records take more than that, checked atomically
	// with the write. Only growth is refused: an update to a record of
	// the same size or smaller always applies, even if the agent is past
	// the bound already (it was lowered, or records were stored without
	// it).
	MaxBytesPerAgent int64
}

// ListParams select a page of [Store.List].
type ListParams struct {
	AgentID string
	// After is the id the page starts after; "" starts at the first.
	After string
	// Limit is the most records returned; it is at least 1.
	Limit int
}

// ListResult is a page of [Store.List].
type ListResult struct {
	Records []*Record
	// More reports whether records follow the last one.
	More bool
}

// ClaimParams select what [Store.Claim] returns.
type ClaimParams struct {
	// After is the cursor: Claim returns only records sorting after it in
	// (At, ID) order. The zero Due starts at the beginning. A
	// [SharedStore] applies it only to the records this node holds
	// already; see there.
	After Due
	// Until is the end of the look-ahead window, inclusive.
	Until time.Time
	// Limit is the most records returned; it is at least 1.
	Limit int
	// Now is the caller's clock when it claims. A [SharedStore] measures
	// the window on its own clock as Until minus Now, and reports the
	// caller's skew from it.
	Now time.Time
}

// ClaimResult is what [Store.Claim] found.
type ClaimResult struct {
	// Due lists the records claimed, in ascending (At, ID) order. A
	// [SharedStore] returns the records it leased to this node, including
	// those this node already held that sort after the cursor.
	Due []Due
	// Reset, from a [SharedStore], reports that this node lost its lease
	// since its previous claim and took a new identity: whatever it
	// claimed before is no longer its own.
	Reset bool
	// Skew, from a [SharedStore], is how far the caller's clock is ahead
	// of the store's (negative if behind), as measured by this claim:
	// ClaimParams.Now minus the store's clock read at some moment during
	// the call, the later the tighter (the caller adds how long the call
	// took, to fire never early).
	Skew time.Duration
	// Next is the next occurrence of the first record beyond Until, or the
	// zero time if there is none, so that the caller can sleep until then.
	// When Claim stopped at Limit with records left in the range, Next is
	// zero: the caller claims again from the last record it got.
	Next time.Time
}

// AckParams is the outcome of one occurrence, as the dispatcher reports it
// to [Store.Ack].
type AckParams struct {
	ID string
	// Version is the version the occurrence was claimed at. The ack
	// applies only if the record is still at it.
	Version uint64
	// Next is the record's next occurrence; zero removes the record.
	// Otherwise the record's version becomes Version+1.
	Next time.Time
	// Outcome, when non-nil, is appended to the history.
	Outcome *Outcome
	// HistoryLimit bounds the history kept per record; 0 keeps none.
	HistoryLimit int
	// HistoryOnly appends Outcome and changes nothing else: Version and
	// Next are ignored, and so are concurrent changes (a triggered
	// delivery is recorded this way).
	HistoryOnly bool
	// Callback, when non-nil, is written to the outbox of a
	// [CallbackOutbox] in the same commit as the ack, only if the ack
	// applies (a history-only ack always does, if the record exists). A
	// store without an outbox is never given one.
	Callback *Callback
}

// HistoryParams select a page of [Store.History].
type HistoryParams struct {
	// AgentID, when not empty, must own the record.
	AgentID string
	ID      string
	// Offset is how many of the newest outcomes to skip.
	Offset int
	// Limit is the most outcomes returned; it is at least 1.
	Limit int
}

// HistoryResult is a page of [Store.History], newest first.
type HistoryResult struct {
	Outcomes []Outcome
	// More reports whether older outcomes follow the last one.
	More bool
}

// Record is a scheduled message as a [Store] keeps it.
type Record struct {
	ID       string
	AgentID  string
	Message  MessageCreate
	Schedule Schedule
	// Retry, when non-nil, is this message's retry policy, in place of
	// the scheduler's.
	Retry *RetryPolicy
	// Next is the next occurrence; the zero time means none (the record
	// is never claimed).
	Next time.Time
	// Version counts the changes to the record, from 1 at Create. Stores
	// set it; an ack naming another version is a conflict.
	Version uint64
	// PausedAt is when the record was paused, or zero if it is not. A
	// paused record has no Next.
	PausedAt time.Time
	// Name, Description and ConversationID are the optional labels of
	// Letta's schedule API; "" is absent. ConversationID is handed to
	// the Deliverer ([Delivery.ConversationID]).
	Name           string
	Description    string
	ConversationID string
}

// Due is what firing needs of a record: its id, its next occurrence and the
// version that occurrence belongs to. It is also the cursor of
// [Store.Claim], ordered by (At, ID).
type Due struct {
	ID      string
	At      time.Time
	Version uint64
}

// Before reports whether d sorts before e in claim order.
func (d Due) Before(e Due) bool {
	if !d.At.Equal(e.At) {
		return d.At.Before(e.At)
	}
	return d.ID < e.ID
}

// Status is how an occurrence ended.
type Status string

// The statuses an [Outcome] can have.
const (
	StatusSuccess Status = "success"
	StatusFailed  Status = "failed"
	StatusSkipped Status = "skipped"
)

// Outcome is one entry of a scheduled message's delivery history.
type Outcome struct {
	// ID identifies the entry (a UUIDv7 string).
	ID string `json:"id"`
	// ScheduledMessageID is the id of the scheduled message.
	ScheduledMessageID string `json:"scheduled_message_id"`
	// Occurrence is the instant the occurrence was due.
	Occurrence time.Time `json:"occurrence"`
	// Status is success, failed (the retry policy gave up, or the
	// Deliverer said the error is permanent) or skipped (the misfire
	// policy dropped it).
	Status Status `json:"status"`
	// Attempts is how many times the Deliverer was called.
	Attempts int `json:"attempts"`
	// Response is the Deliverer's result, as JSON, or null.
	Response json.RawMessage `json:"response,omitempty"`
	// RunID is the Deliverer's run id, if it returned one.
	RunID string `json:"run_id,omitempty"`
	// Error is the last delivery error of a failed occurrence.
	Error string `json:"error,omitempty"`
	// Triggered marks a delivery made by [Scheduler.Trigger], outside the
	// schedule.
	Triggered bool `json:"triggered,omitempty"`
	// SentAt is when the occurrence ended.
	SentAt time.Time `json:"sent_at"`
	// Callback is how the occurrence's callback ended, when it went
	// through a store's outbox ([CallbackOutbox]) and has ended; absent
	// otherwise.
	Callback *CallbackStatus `json:"callback,omitempty"`
}

// Clone returns a deep copy of r, sharing nothing mutable with it. Stores
// that keep records in memory use it so that callers cannot change what is
// stored.
func (r *Record) Clone() *Record {
	if r == nil {
		return nil
	}
	c := *r
	c.Message = r.Message.clone()
	c.Schedule.ScheduledAt = clonePtr(r.Schedule.ScheduledAt)
	c.Retry = clonePtr(r.Retry)
	return &c
}

// Clone returns a deep copy of o, sharing nothing mutable with it.
func (o Outcome) Clone() Outcome {
	o.Response = clone(o.Response)
	o.Callback = clonePtr(o.Callback)
	return o
}

func clone[S ~[]E, E any](s S) S {
	if s == nil {
		return nil
	}
	return append(S{}, s...)
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
