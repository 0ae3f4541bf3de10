package postgres

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/tickler-go/tickler"
)

// formatV1 is the encoding of schedules.record this release writes and
// reads. A release that changes the encoding writes a new format number
// in schedules.format and reads both; this one reports a record of a
// format it does not know as damaged (see [RecordError]) and never claims
// it, so that during a rolling upgrade an older node leaves such records
// to the newer ones.
const formatV1 = 1

// recordDoc is schedules.record in format 1: what a [tickler.Record] holds
// beside the columns (id, agent_id, next_at, version). It has its own
// small shapes for the schedule and the retry policy, so that the stored
// JSON does not change when the root types' JSON does.
type recordDoc struct {
	Message  tickler.MessageCreate `json:"message"`
	Schedule scheduleDoc           `json:"schedule"`
	Retry    *retryDoc             `json:"retry,omitempty"`
	// PausedAtNs is when the record was paused, Unix ns; 0 if it is not.
	PausedAtNs int64 `json:"paused_at_ns,omitempty"`
	// Name, Description and ConversationID are Letta's optional labels.
	Name           string `json:"name,omitempty"`
	Description    string `json:"description,omitempty"`
	ConversationID string `json:"conversation_id,omitempty"`
}

type scheduleDoc struct {
	ScheduledAtMs *int64 `json:"scheduled_at_ms,omitempty"`
	Cron          string `json:"cron,omitempty"`
	Type          string `json:"type,omitempty"`
}

type retryDoc struct {
	MaxAttempts int   `json:"max_attempts"`
	BaseNs      int64 `json:"base_ns"`
	CapNs       int64 `json:"cap_ns"`
}

// encodeRecord returns schedules.record for r, in format 1.
func encodeRecord(r *tickler.Record) ([]byte, error) {
	d := recordDoc{
		Message:        r.Message,
		Name:           r.Name,
		Description:    r.Description,
		ConversationID: r.ConversationID,
		Schedule: scheduleDoc{
			ScheduledAtMs: r.Schedule.ScheduledAt,
			Cron:          r.Schedule.CronExpression,
			Type:          string(r.Schedule.Type),
		},
	}
	if r.Retry != nil {
		d.Retry = &retryDoc{MaxAttempts: r.Retry.MaxAttempts, BaseNs: int64(r.Retry.Base), CapNs: int64(r.Retry.Cap)}
	}
	if !r.PausedAt.IsZero() {
		d.PausedAtNs = r.PausedAt.UnixNano()
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("postgres: encoding record %q: %w", r.ID, err)
	}
	return b, nil
}

// row is a schedules row as the reading statements select it.
type row struct {
	id      string
	agentID string
	format  int16
	record  []byte
	next    *time.Time
	version int64
}

// columns are the columns a row is scanned from, in order.
const columns = `id, agent_id, format, record, next_at, version`

func (w *row) dest() []any {
	return []any{&w.id, &w.agentID, &w.format, &w.record, &w.next, &w.version}
}

// decode returns the record of w, or a *RecordError if it cannot be read.
func (w *row) decode() (*tickler.Record, error) {
	if w.format != formatV1 {
		return nil, w.formatError()
	}
	var d recordDoc
	if err := json.Unmarshal(w.record, &d); err != nil {
		return nil, &RecordError{ID: w.id, Err: err}
	}
	r := &tickler.Record{
		ID:      w.id,
		AgentID: w.agentID,
		Message: d.Message,
		Schedule: tickler.Schedule{
			ScheduledAt:    d.Schedule.ScheduledAtMs,
			CronExpression: d.Schedule.Cron,
			Type:           tickler.ScheduleType(d.Schedule.Type),
		},
		Version:        uint64(w.version),
		Name:           d.Name,
		Description:    d.Description,
		ConversationID: d.ConversationID,
	}
	if d.Retry != nil {
		r.Retry = &tickler.RetryPolicy{MaxAttempts: d.Retry.MaxAttempts, Base: time.Duration(d.Retry.BaseNs), Cap: time.Duration(d.Retry.CapNs)}
	}
	if d.PausedAtNs != 0 {
		r.PausedAt = time.Unix(0, d.PausedAtNs).UTC()
	}
	if w.next != nil {
		r.Next = w.next.UTC()
	}
	return r, nil
}

// formatError is the error of a row in a format this release cannot read.
func (w *row) formatError() error {
	return &RecordError{ID: w.id, Err: fmt.Errorf("format %d is not one this release reads (%d)", w.format, formatV1)}
}

// nextArg is the next_at of a record: NULL for none.
func nextArg(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
