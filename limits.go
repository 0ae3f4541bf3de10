package tickler

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxAgentIDBytes bounds the length of an agent id. Letta's ids are about
// 42 characters; the bound keeps every store's keys small.
const MaxAgentIDBytes = 256

// Bounds of a scheduled message's optional labels, in bytes.
const (
	MaxNameBytes           = 256
	MaxDescriptionBytes    = 4096
	MaxConversationIDBytes = 256
)

// checkAgentID rejects an agent id that is empty, longer than
// MaxAgentIDBytes, not valid UTF-8, "." or "..", or that holds a "/" or a
// control character: such an id cannot be a path segment of the HTTP API
// that reads back as itself.
func checkAgentID(id string) error { return checkSegment("agent_id", id, MaxAgentIDBytes) }

// checkSegment applies checkAgentID's rules to the id in field, with the
// bound max.
func checkSegment(field, id string, max int) error {
	switch {
	case id == "":
		return invalid(field, "must not be empty")
	case len(id) > max:
		return invalid(field, "must be at most %d bytes, got %d", max, len(id))
	case !utf8.ValidString(id):
		return invalid(field, "must be valid UTF-8")
	case id == "." || id == "..":
		return invalid(field, "must not be %q", id)
	case strings.ContainsRune(id, '/'):
		return invalid(field, `must not contain "/"`)
	case strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return invalid(field, "must not contain control characters")
	}
	return nil
}

// checkLabels checks a scheduled message's optional labels: each is valid
// UTF-8 within its bound, and a conversation id is a path segment (the
// Letta deliverer puts it in a URL), as an agent id is. "" is absent.
func checkLabels(name, description, conversationID string) error {
	for _, l := range []struct {
		field, v string
		max      int
	}{{"name", name, MaxNameBytes}, {"description", description, MaxDescriptionBytes}} {
		switch {
		case len(l.v) > l.max:
			return invalid(l.field, "must be at most %d bytes, got %d", l.max, len(l.v))
		case !utf8.ValidString(l.v):
			return invalid(l.field, "must be valid UTF-8")
		}
	}
	if conversationID == "" {
		return nil
	}
	return checkSegment("conversation_id", conversationID, MaxConversationIDBytes)
}

// checkLimits checks a message and its schedule against the limits the
// options set.
func (s *Scheduler) checkLimits(msg *MessageCreate, trig trigger, first time.Time) error {
	o := s.o
	over := func(field, format string, args ...any) error {
		return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...), Err: ErrLimitExceeded}
	}
	if o.maxMessages > 0 && len(msg.Messages) > o.maxMessages {
		return over("messages", "%d messages, more than the limit of %d", len(msg.Messages), o.maxMessages)
	}
	if o.maxBytes > 0 && msg.sizeBound() > o.maxBytes {
		b, err := json.Marshal(msg)
		if err != nil {
			return fmt.Errorf("tickler: encoding the message: %w", err)
		}
		if len(b) > o.maxBytes {
			return over("messages", "%d bytes, more than the limit of %d", len(b), o.maxBytes)
		}
	}
	if o.minInterval > 0 {
		prev := first
		for range 1000 {
			next := trig.Next(prev)
			if next.IsZero() {
				break
			}
			if gap := next.Sub(prev); gap < o.minInterval {
				return over("schedule.cron_expression", "fires %v apart (at %s), less than the minimum interval of %v",
					gap, prev.UTC().Format(TimeLayout), o.minInterval)
			}
			prev = next
		}
	}
	return nil
}
