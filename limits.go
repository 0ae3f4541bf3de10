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

// checkAgentID rejects an agent id that is empty, longer than
// MaxAgentIDBytes, not valid UTF-8, "." or "..", or that holds a "/" or a
// control character: such an id cannot be a path segment of the HTTP API
// that reads back as itself.
func checkAgentID(id string) error {
	switch {
	case id == "":
		return invalid("agent_id", "must not be empty")
	case len(id) > MaxAgentIDBytes:
		return invalid("agent_id", "must be at most %d bytes, got %d", MaxAgentIDBytes, len(id))
	case !utf8.ValidString(id):
		return invalid("agent_id", "must be valid UTF-8")
	case id == "." || id == "..":
		return invalid("agent_id", "must not be %q", id)
	case strings.ContainsRune(id, '/'):
		return invalid("agent_id", `must not contain "/"`)
	case strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return invalid("agent_id", "must not contain control characters")
	}
	return nil
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
