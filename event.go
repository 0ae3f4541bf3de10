package tickler

import "time"

// EventKind says what an [Event] reports.
type EventKind string

// The kinds of [Event].
const (
	// EventDelivered: the Deliverer succeeded.
	EventDelivered EventKind = "delivered"
	// EventRetry: an attempt failed and another will follow.
	EventRetry EventKind = "retry"
	// EventGaveUp: the last attempt failed, or the Deliverer returned a
	// [Permanent] error; the occurrence is given up.
	EventGaveUp EventKind = "gave_up"
	// EventSkipped: the misfire policy skipped a missed occurrence.
	EventSkipped EventKind = "skipped"
)

// Event reports what happened to an occurrence; see [WithEventHandler].
// An occurrence's final event (delivered, gave up, skipped) is emitted once,
// after its outcome is recorded in the store.
type Event struct {
	Kind               EventKind
	ScheduledMessageID string
	AgentID            string
	Occurrence         time.Time
	IdempotencyKey     string
	// Attempt is the number of the attempt the event follows (0 for a skip).
	Attempt int
	// Started is when the attempt started (for a skip, when it was
	// decided); Started minus Occurrence is how late the attempt was.
	Started time.Time
	// Duration is how long the Deliverer took (0 for a skip).
	Duration time.Duration
	// Err is the attempt's error for EventRetry and EventGaveUp.
	Err error
	// RetryIn is the delay before the next attempt, for EventRetry.
	RetryIn time.Duration
	// Result is the Deliverer's result for EventDelivered.
	Result Result
	// Reason explains a skip.
	Reason string
	// Message is what was delivered, or would have been.
	Message MessageCreate
	// CallbackURL is the message's callback_url, if any.
	CallbackURL string
	// Triggered reports a delivery made by [Scheduler.Trigger].
	Triggered bool
}
