package tickler

import (
	"sync/atomic"
	"time"
)

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
	// Message is what was delivered, or would have been. As in the
	// [Delivery], it may share its slices with the stored record: the
	// handler must not change it.
	Message MessageCreate
	// CallbackURL is the message's callback_url, if any.
	CallbackURL string
	// Triggered reports a delivery made by [Scheduler.Trigger].
	Triggered bool
	// CallbackQueued reports that the occurrence's callback was written
	// to the store's outbox with its ack ([WithCallbackOutbox]): the
	// outbox's sender sends it, and an event handler must not.
	CallbackQueued bool
}

// eventQueue hands events to the host's handler (WithEventHandler) on a
// goroutine of its own, in order, so that a slow handler holds no worker
// and never stalls the dispatcher. When capacity events are already
// waiting, a new one is dropped and counted (Stats.EventsDropped).
type eventQueue struct {
	fn      func(Event)
	ch      chan Event
	pending atomic.Int64  // sent and not yet handled
	dropped atomic.Uint64 // dropped on a full queue
	done    chan struct{} // closed when the goroutine has handled the last
	idle    func()        // called when pending drops to zero
}

func newEventQueue(fn func(Event), capacity int, idle func()) *eventQueue {
	if fn == nil {
		return nil
	}
	return &eventQueue{fn: fn, ch: make(chan Event, capacity), done: make(chan struct{}), idle: idle}
}

// run calls the handler for each event until close; it recovers from a
// handler's panic so that one bad event does not end the others.
func (q *eventQueue) run(logger interface{ Error(string, ...any) }) {
	defer close(q.done)
	for ev := range q.ch {
		func() {
			defer func() {
				if p := recover(); p != nil {
					logger.Error("tickler: event handler panicked", "kind", ev.Kind, "key", ev.IdempotencyKey, "panic", p)
				}
			}()
			q.fn(ev)
		}()
		if q.pending.Add(-1) == 0 {
			q.idle()
		}
	}
}

// send queues ev without blocking; it reports false if the queue is full.
func (q *eventQueue) send(ev Event) bool {
	q.pending.Add(1)
	select {
	case q.ch <- ev:
		return true
	default:
		q.pending.Add(-1)
		q.dropped.Add(1)
		return false
	}
}
