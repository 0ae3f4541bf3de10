package tickler

import (
	"context"
	"encoding/json"
	"time"
)

// The callback outbox: a store that keeps the callback of an occurrence
// (the POST to its message's callback_url, see the callback package) in
// the same commit as the occurrence's ack, so that a crash or a full
// in-memory queue cannot lose it. The scheduler writes it
// ([WithCallbackOutbox]); a sender (callback.WithOutbox) claims, sends and
// finishes it. Data still flows one way: the store never calls the sender,
// the sender finds callbacks by claiming them.

// CallbackPayload is the JSON body POSTed to a callback URL when a
// delivery ends. Every field is always present; response, run_id and error
// are null when there is nothing to say.
type CallbackPayload struct {
	ScheduledMessageID string `json:"scheduled_message_id"`
	AgentID            string `json:"agent_id"`
	// Occurrence is the instant the occurrence was due, in [TimeLayout].
	Occurrence string `json:"occurrence"`
	// IdempotencyKey is the delivery's key; it is also sent as the
	// Idempotency-Key header. A receiver may see the same key more than
	// once (a retried callback, or a redelivered occurrence).
	IdempotencyKey string `json:"idempotency_key"`
	// Status is "success" or "failed".
	Status Status `json:"status"`
	// Attempts is how many times the Deliverer was called.
	Attempts int `json:"attempts"`
	// Response is the Deliverer's [Result.Response] as JSON.
	Response json.RawMessage `json:"response"`
	// RunID is the Deliverer's [Result.RunID].
	RunID *string `json:"run_id"`
	// Error is the last delivery error of a failed occurrence.
	Error *string `json:"error"`
}

// CallbackPayloadOf returns the payload of the callback that ev calls for,
// and false if it calls for none: only the end of a delivery (delivered,
// or given up) of a message with a callback_url does. A retry is not the
// end of a delivery, and a skip is no delivery at all. A response that
// does not encode as JSON is sent as null.
func CallbackPayloadOf(ev Event) (CallbackPayload, bool) {
	if ev.CallbackURL == "" {
		return CallbackPayload{}, false
	}
	p := CallbackPayload{
		ScheduledMessageID: ev.ScheduledMessageID,
		AgentID:            ev.AgentID,
		IdempotencyKey:     ev.IdempotencyKey,
		Attempts:           ev.Attempt,
	}
	if t := FormatTime(ev.Occurrence); t != nil {
		p.Occurrence = *t
	}
	switch ev.Kind {
	case EventDelivered:
		p.Status = StatusSuccess
		if ev.Result.Response != nil {
			if b, err := marshal(ev.Result.Response); err == nil {
				p.Response = b
			}
		}
		if ev.Result.RunID != "" {
			p.RunID = &ev.Result.RunID
		}
	case EventGaveUp:
		p.Status = StatusFailed
		if ev.Err != nil {
			msg := ev.Err.Error()
			p.Error = &msg
		}
	default:
		return CallbackPayload{}, false
	}
	return p, true
}

// Callback is a callback waiting in a store's outbox.
type Callback struct {
	// ID identifies the callback (a UUIDv7 string); writing a callback
	// whose id is stored already changes nothing.
	ID string
	// ScheduledMessageID is the message whose occurrence ended.
	ScheduledMessageID string
	// OutcomeID is the id of the history entry written by the same ack,
	// "" if it wrote none; [CallbackOutbox.FinishCallback] records the
	// callback's end in that entry.
	OutcomeID string
	// URL is the callback_url.
	URL string
	// Key is the occurrence's idempotency key, as in the payload.
	Key string
	// Payload is the body to POST: a [CallbackPayload] as JSON.
	Payload json.RawMessage
	// Attempts counts the HTTP attempts made so far.
	Attempts int
	// NextAttempt is when the callback is due: claimed callbacks are due
	// again when their lease ends, retried ones at their backoff's end.
	NextAttempt time.Time
}

// CallbackState is how a callback ended.
type CallbackState string

// The states a [CallbackStatus] can have.
const (
	CallbackSent   CallbackState = "sent"
	CallbackFailed CallbackState = "failed"
)

// CallbackStatus is how the callback of an occurrence ended, as its
// history entry records it ([Outcome].Callback).
type CallbackStatus struct {
	Status CallbackState `json:"status"`
	// Attempts counts the HTTP attempts.
	Attempts int `json:"attempts"`
	// StatusCode is the last answer's status, 0 if there was none.
	StatusCode int `json:"status_code,omitempty"`
	// Error is why a failed callback failed.
	Error string `json:"error,omitempty"`
}

// CallbackOutbox is implemented by a [Store] that keeps callbacks in an
// outbox (the memory, bolt and postgres stores do). With
// [WithCallbackOutbox], the scheduler hands the callback of each
// occurrence that ends a delivery of a message with a callback_url to
// [Store.Ack] in [AckParams].Callback, and the store writes it in the same
// commit as the ack: an ack that is refused (ErrNotFound, ErrConflict) or
// fails writes no callback, one that returns writes it durably (to the
// degree the store promises). A callback outlives its message: deleting
// the message, or an ack that removes it, leaves the callback to be sent.
//
// A sender drains the outbox: it claims what is due, POSTs it, and
// records each attempt's end with FinishCallback. A claim is a lease: a
// claimed callback is not claimed again until the lease ends, so that two
// senders (two nodes of a shared store) do not send it at once, and a
// sender that died leaves it to be claimed again when its lease ends.
// Delivery is therefore at least once, never exactly once: receivers
// deduplicate on the idempotency key.
//
// The methods are safe for concurrent use; a failed call changes nothing.
type CallbackOutbox interface {
	// ClaimCallbacks returns, oldest due first, up to p.Limit callbacks
	// whose NextAttempt is at or before p.Now, and leases them: each is
	// due again at p.Now plus p.Lease (the NextAttempt it returns).
	ClaimCallbacks(ctx context.Context, p ClaimCallbacksParams) ([]Callback, error)
	// FinishCallback records the end of an attempt of the callback p.ID:
	// a retry (p.NextAttempt set and p.Sent false) stores its attempts
	// and makes it due at p.NextAttempt; the end (p.Sent, or no
	// p.NextAttempt) removes it and, if its history entry is still kept,
	// records a [CallbackStatus] in it. It returns ErrNotFound if the
	// callback is not in the outbox (another sender finished it).
	FinishCallback(ctx context.Context, p FinishCallbackParams) error
}

// ClaimCallbacksParams select what [CallbackOutbox.ClaimCallbacks]
// returns.
type ClaimCallbacksParams struct {
	// Now is the caller's clock. A [SharedStore] reads its own clock
	// instead, so that the leases of nodes with skewed clocks agree.
	Now time.Time
	// Limit is the most callbacks returned; it is at least 1.
	Limit int
	// Lease is how long the claimed callbacks are the caller's.
	Lease time.Duration
}

// FinishCallbackParams are the end of an attempt of a callback; see
// [CallbackOutbox.FinishCallback].
type FinishCallbackParams struct {
	ID string
	// Sent reports a 2xx answer: the callback ends.
	Sent bool
	// Attempts counts the attempts made, this one included.
	Attempts int
	// StatusCode is the attempt's answer, 0 if there was none.
	StatusCode int
	// Err is why the attempt failed, "" if it did not.
	Err string
	// NextAttempt, for a failure to be retried, is when; zero ends the
	// callback as failed.
	NextAttempt time.Time
	// Now is the caller's clock; a [SharedStore] measures the retry's
	// delay as NextAttempt minus Now on its own clock.
	Now time.Time
}

// Retry reports whether p is a retry rather than the callback's end.
func (p FinishCallbackParams) Retry() bool { return !p.Sent && !p.NextAttempt.IsZero() }

// Status returns the status p records in the history when it ends the
// callback.
func (p FinishCallbackParams) Status() *CallbackStatus {
	st := &CallbackStatus{Status: CallbackFailed, Attempts: p.Attempts, StatusCode: p.StatusCode, Error: p.Err}
	if p.Sent {
		st.Status, st.Error = CallbackSent, ""
	}
	return st
}
