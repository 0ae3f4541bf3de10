package tickler

import (
	"context"
	"strconv"
	"time"
)

// A Deliverer hands an occurrence of a scheduled message to the host, which
// runs it through its agent. A non-nil error, or a panic, fails the attempt
// and the retry policy decides what follows; wrap the error with
// [Permanent] to give up at once, or with [RetryAfter] to choose the delay.
// Deliver must honour ctx: it is cancelled at the delivery timeout and when
// Stop's context ends, and it carries the context values of the host's
// Start (for tracing).
//
// Delivery is at least once: after a crash, or when an attempt fails after
// the agent acted, the same occurrence is delivered again with the same
// [Delivery.IdempotencyKey]. With [WithAgentConcurrency] the scheduler
// never calls Deliver for one agent more often at once than allowed.
type Deliverer interface {
	Deliver(ctx context.Context, d *Delivery) (Result, error)
}

// DelivererFunc adapts a function to a [Deliverer].
type DelivererFunc func(ctx context.Context, d *Delivery) (Result, error)

// Deliver calls f(ctx, d).
func (f DelivererFunc) Deliver(ctx context.Context, d *Delivery) (Result, error) { return f(ctx, d) }

// Delivery is one attempt at one occurrence of a scheduled message.
type Delivery struct {
	ScheduledMessageID string
	AgentID            string
	// Message holds the messages and options, exactly as stored. The
	// Deliverer must not change it.
	Message MessageCreate
	// Occurrence is the instant the occurrence was due. For a delivery
	// made by [Scheduler.Trigger] it is the instant of the trigger.
	Occurrence time.Time
	// IdempotencyKey is the same for every attempt at, and every
	// redelivery of, one occurrence; see [IdempotencyKey].
	IdempotencyKey string
	// Attempt counts the attempts at this occurrence from 1.
	Attempt int
	// Triggered reports a delivery made by [Scheduler.Trigger].
	Triggered bool
	// ConversationID is the scheduled message's conversation_id, or ""
	// if it has none: the conversation the host should deliver into.
	ConversationID string
}

// IdempotencyKey returns the key of the occurrence at occ of the scheduled
// message id: "<id>@<occurrence in Unix ms>". A triggered delivery's key
// is "<id>@<trigger instant in Unix ms>!<n>" instead, so that it never
// equals the key of a scheduled occurrence.
func IdempotencyKey(id string, occ time.Time) string {
	b := make([]byte, 0, len(id)+21)
	b = append(b, id...)
	b = append(b, '@')
	return string(strconv.AppendInt(b, occ.UnixMilli(), 10))
}

// Result is what a Deliverer may report of a successful delivery. It is
// kept in the history and sent to the callback URL.
type Result struct {
	// RunID identifies the host's run, if it has one.
	RunID string
	// Response is any JSON-encodable value.
	Response any
}
