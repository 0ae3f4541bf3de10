package tickler

import (
	"encoding/json"
	"time"
)

// recordJSON is a [Record] in JSON: the scheduled message's fields, as
// [ScheduledMessage] names them, and what a store keeps beside them
// (retry policy, pause instant, version) exactly, with times in RFC 3339
// to the nanosecond.
type recordJSON struct {
	ID                string        `json:"id"`
	AgentID           string        `json:"agent_id"`
	Name              string        `json:"name,omitempty"`
	Description       string        `json:"description,omitempty"`
	ConversationID    string        `json:"conversation_id,omitempty"`
	Message           MessageCreate `json:"message"`
	Schedule          Schedule      `json:"schedule"`
	Retry             *RetryPolicy  `json:"retry,omitempty"`
	NextScheduledTime *time.Time    `json:"next_scheduled_time"`
	Paused            bool          `json:"paused,omitempty"`
	PausedAt          *time.Time    `json:"paused_at,omitempty"`
	Version           uint64        `json:"version"`
	CreatedAt         *string       `json:"created_at,omitempty"`
}

// MarshalJSON encodes every field of the record, so that
// [Record.UnmarshalJSON] reads back an equal record: this is the record
// of the admin API and of "tickler export". created_at, read from the
// id, is written and ignored on reading.
func (r Record) MarshalJSON() ([]byte, error) {
	w := recordJSON{ID: r.ID, AgentID: r.AgentID, Name: r.Name, Description: r.Description,
		ConversationID: r.ConversationID, Message: r.Message, Schedule: r.Schedule, Retry: r.Retry,
		Paused: !r.PausedAt.IsZero(), Version: r.Version, CreatedAt: FormatTime(idTime(r.ID))}
	if !r.Next.IsZero() {
		w.NextScheduledTime = &r.Next
	}
	if !r.PausedAt.IsZero() {
		w.PausedAt = &r.PausedAt
	}
	return marshal(w)
}

// UnmarshalJSON decodes what [Record.MarshalJSON] encodes. It checks the
// shape only: a store or the scheduler validates what it means.
func (r *Record) UnmarshalJSON(b []byte) error {
	var w recordJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*r = Record{ID: w.ID, AgentID: w.AgentID, Name: w.Name, Description: w.Description,
		ConversationID: w.ConversationID, Message: w.Message, Schedule: w.Schedule, Retry: w.Retry,
		Version: w.Version}
	if w.NextScheduledTime != nil {
		r.Next = w.NextScheduledTime.UTC()
	}
	if w.PausedAt != nil {
		r.PausedAt = w.PausedAt.UTC()
	}
	return nil
}
