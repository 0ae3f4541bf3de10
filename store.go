package tickler

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Errors a [Store] returns; callers test them with errors.Is.
var (
	// ErrNotFound means no scheduled message has that id for that agent.
	ErrNotFound = errors.New("tickler: scheduled message not found")
	// ErrConflict means an [Ack] named a version the record no longer has:
	// the record changed since it was claimed, and the ack is dropped.
	ErrConflict = errors.New("tickler: scheduled message version conflict")
	// ErrExists means Create was given an id that is already stored.
	ErrExists = errors.New("tickler: scheduled message id already exists")
	// ErrDamaged is matched by the error of a store that found a record it
	// cannot decode (damaged, or written by a newer release); the error
	// names the record.
	ErrDamaged = errors.New("tickler: stored record cannot be decoded")
)

// Store keeps scheduled messages and is the source of truth for when each
// one is due. The dispatcher is a short look-ahead cache over it: it claims
// what falls due within a window, fires it, and acks each occurrence, which
// removes a one-time record or advances a recurring one.
//
// A Store must be safe for concurrent use. Every method that changes state
// is durable when it returns, to the degree the implementation promises
// (the memory store promises nothing across a restart; the bolt store
// promises an fsynced commit). A Store never calls back into the scheduler.
//
// The package storetest holds the conformance suite every Store passes.
type Store interface {
	// Create stores a new record with Version 1. It returns ErrExists if
	// the id is taken. It keeps nothing r refers to: the caller may reuse
	// r's slices and pointers once Create returns, and so may Update.
	Create(ctx context.Context, r *Record) error
	// Get returns the record with the id, or ErrNotFound.
	Get(ctx context.Context, id string) (*Record, error)
	// List returns up to limit records of the agent in ascending id order,
	// starting after the id after (exclusive; "" starts at the beginning),
	// and whether more records follow.
	List(ctx context.Context, agentID, after string, limit int) (recs []*Record, more bool, err error)
	// Delete removes the agent's record with the id, with its history, or
	// returns ErrNotFound (also when the record belongs to another agent).
	Delete(ctx context.Context, agentID, id string) error
	// Claim returns, in ascending (At, ID) order, up to limit records whose
	// next occurrence is at or before until and strictly after the cursor
	// after (the zero Due starts at the beginning). It also returns the next
	// occurrence of the first record beyond until, or the zero time if
	// there is none, so the caller can sleep until then.
	//
	// A record in the range that cannot be decoded is skipped: Claim still
	// returns up to limit of the others, with an error matching ErrDamaged
	// that names what it skipped. The results are valid with such an error
	// and with no error; with any other error they are not.
	//
	// A store owned by one process implements Claim as a range read of an
	// index by next occurrence; a shared store adds leases to it.
	Claim(ctx context.Context, after Due, until time.Time, limit int) (due []Due, next time.Time, err error)
	// Ack records the end of an occurrence of the record a.ID claimed at
	// a.Version: with a zero a.Next the record is removed, otherwise its
	// next occurrence becomes a.Next and its version a.Version+1. a.Outcome,
	// when set, is appended to the record's history, which keeps the newest
	// a.HistoryLimit entries. Ack returns ErrNotFound if the record is gone
	// and ErrConflict if its version is not a.Version; neither changes
	// anything.
	Ack(ctx context.Context, a Ack) error
	// Update replaces the record r.ID of agent r.AgentID, which must be at
	// version r.Version, with r (message, schedule, next occurrence, pause
	// state), and makes its version r.Version+1; its history is kept. It
	// returns ErrNotFound if the agent has no such record and ErrConflict if
	// its version is not r.Version; neither changes anything.
	Update(ctx context.Context, r *Record) error
	// Count returns how many records the agent has.
	Count(ctx context.Context, agentID string) (int, error)
	// History returns up to limit outcomes of the record, newest first,
	// skipping offset of them, and whether more follow. It returns
	// ErrNotFound if the record does not exist.
	History(ctx context.Context, id string, offset, limit int) (outs []Outcome, more bool, err error)
}

// Record is a scheduled message as a [Store] keeps it.
type Record struct {
	ID       string
	AgentID  string
	Message  MessageCreate
	Schedule Schedule
	// Next is the next occurrence; the zero time means none (the record
	// is never claimed).
	Next time.Time
	// Version counts the changes to the record, from 1 at Create. Stores
	// set it; an Ack naming another version is a conflict.
	Version uint64
	// PausedAt is when the record was paused, or zero if it is not. A
	// paused record has no Next.
	PausedAt time.Time
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

// Ack is the outcome of one occurrence, as the dispatcher reports it to the
// [Store].
type Ack struct {
	ID      string
	Version uint64
	// Next is the record's next occurrence; zero removes the record.
	Next time.Time
	// Outcome, when non-nil, is appended to the history.
	Outcome *Outcome
	// HistoryLimit bounds the history kept per record; 0 keeps none.
	HistoryLimit int
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
	// Status is success, failed (the retry policy gave up) or skipped (the
	// misfire policy dropped it).
	Status Status `json:"status"`
	// Attempts is how many times the Deliverer was called.
	Attempts int `json:"attempts"`
	// Response is the Deliverer's result, as JSON, or null.
	Response json.RawMessage `json:"response,omitempty"`
	// RunID is the Deliverer's run id, if it returned one.
	RunID string `json:"run_id,omitempty"`
	// Error is the last delivery error of a failed occurrence.
	Error string `json:"error,omitempty"`
	// SentAt is when the occurrence ended.
	SentAt time.Time `json:"sent_at"`
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
	return &c
}

func (m MessageCreate) clone() MessageCreate {
	c := m
	c.MaxSteps = clonePtr(m.MaxSteps)
	if m.IncludeReturnMessageTypes != nil {
		c.IncludeReturnMessageTypes = append([]string{}, m.IncludeReturnMessageTypes...)
	}
	if m.Messages != nil {
		c.Messages = make([]Message, len(m.Messages))
		for i, msg := range m.Messages {
			msg.Name, msg.OTID = clonePtr(msg.Name), clonePtr(msg.OTID)
			msg.SenderID, msg.Type = clonePtr(msg.SenderID), clonePtr(msg.Type)
			if msg.Content.Parts != nil {
				parts := make([]ContentPart, len(msg.Content.Parts))
				for j, p := range msg.Content.Parts {
					p.Signature = clonePtr(p.Signature)
					if p.Source != nil {
						src := *p.Source
						src.Detail = clonePtr(src.Detail)
						p.Source = &src
					}
					parts[j] = p
				}
				msg.Content.Parts = parts
			}
			c.Messages[i] = msg
		}
	}
	return c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
