package tickler

import (
	"errors"
	"fmt"
	"time"
)

// Errors of the store and of the scheduler's calls; callers test them with
// errors.Is. The scheduler wraps them with the operation and the id, as in
// "tickler: get 0193…: scheduled message not found".
var (
	// ErrNotFound means no scheduled message has that id for that agent.
	ErrNotFound = errors.New("scheduled message not found")
	// ErrConflict means the record changed since it was read: an ack or an
	// update named a version the record no longer has, and changed
	// nothing. Update, Pause and Resume retry a few times before they
	// return it.
	ErrConflict = errors.New("scheduled message version conflict")
	// ErrExists means Create was given an id that is already stored.
	ErrExists = errors.New("scheduled message id already exists")
	// ErrDamaged is matched by the error of a store that found a record it
	// cannot decode (damaged, or written by a newer release); the error
	// names the record.
	ErrDamaged = errors.New("stored record cannot be decoded")
	// ErrLimitExceeded is matched by the validation error of a request
	// over one of the limits set by options such as [WithMaxMessages]
	// or [WithMaxSchedulesPerAgent].
	ErrLimitExceeded = errors.New("limit exceeded")
	// ErrScheduledInPast is matched by the validation error of a one-time
	// schedule whose scheduled_at is at or before now. The HTTP handler
	// answers it with 400, as Letta does.
	ErrScheduledInPast = errors.New("scheduled_at is not in the future")

	// ErrNotStarted is matched by the error of a call that needs a
	// running scheduler (Trigger) before Start.
	ErrNotStarted = errors.New("scheduler not started")
	// ErrStopped is matched by the error of Start after Stop (a scheduler
	// starts once; also when Stop came while Start made its first claim),
	// and of Trigger once the scheduler stopped.
	ErrStopped = errors.New("scheduler stopped")
	// ErrStarted is matched by the error of a second Start.
	ErrStarted = errors.New("scheduler already started")
)

// ValidationError reports input that does not validate. Field names the
// offending field as a JSON path, such as "messages[0].content".
type ValidationError struct {
	Field  string
	Reason string
	// Err, when set, is a sentinel the error also matches with errors.Is,
	// such as [ErrScheduledInPast].
	Err error
}

// Error returns "tickler: invalid <field>: <reason>".
func (e *ValidationError) Error() string {
	return "tickler: invalid " + e.Field + ": " + e.Reason
}

// Unwrap returns e.Err.
func (e *ValidationError) Unwrap() error { return e.Err }

func invalid(field, format string, args ...any) *ValidationError {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// PermanentError is a delivery error that must not be retried; see
// [Permanent].
type PermanentError struct{ Err error }

// Permanent wraps err so that the scheduler does not retry the delivery
// that returned it: the occurrence is given up at once (EventGaveUp, a
// failed history entry), as when the retry policy runs out. A Deliverer
// returns it for an answer no retry can change, such as a 404 for an agent
// that does not exist. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// Error returns the wrapped error's text.
func (e *PermanentError) Error() string { return "permanent: " + e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *PermanentError) Unwrap() error { return e.Err }

// RetryAfterError is a delivery error that names when to try again; see
// [RetryAfter].
type RetryAfterError struct {
	Delay time.Duration
	Err   error
}

// RetryAfter wraps err so that the next attempt, if the retry policy allows
// one, starts after d instead of the policy's backoff: a Deliverer returns
// it for a 429 or 503 with a Retry-After header, or a 409 from a busy
// agent. The attempt still counts against the policy's MaxAttempts. A
// negative d counts as 0. RetryAfter(d, nil) is nil.
func RetryAfter(d time.Duration, err error) error {
	if err == nil {
		return nil
	}
	return &RetryAfterError{Delay: max(d, 0), Err: err}
}

// Error returns the wrapped error's text with the delay.
func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("retry after %v: %v", e.Delay, e.Err)
}

// Unwrap returns the wrapped error.
func (e *RetryAfterError) Unwrap() error { return e.Err }

// ItemError is the error of one item of a batch call ([Scheduler.CreateMany]):
// Index is the item's position in the batch, Err what was wrong with it
// (a *[ValidationError], for invalid input).
type ItemError struct {
	Index int
	Err   error
}

func (e *ItemError) Error() string { return fmt.Sprintf("item %d: %v", e.Index, e.Err) }

func (e *ItemError) Unwrap() error { return e.Err }
