// Package webhook delivers scheduled messages by POSTing each occurrence,
// as JSON, to a URL of the host's, signed per Standard Webhooks (package
// [github.com/tickler-go/tickler/stdwebhook]) so that the receiver can
// check it came from this scheduler.
//
// The body is a [Payload]. The headers are webhook-id (the occurrence's
// idempotency key: the same on every retry and redelivery of one
// occurrence, so a receiver can drop duplicates), webhook-timestamp (the
// Unix seconds of this attempt) and webhook-signature, plus
// Idempotency-Key (the same key) and Content-Type: application/json.
//
// A 2xx answer is a success: [tickler.Result.Response] is the answer's
// body if it is JSON (else nil), and [tickler.Result.RunID] is its
// "run_id" if it is a JSON object with that string field. Other statuses
// follow package [github.com/tickler-go/tickler/deliver].
package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/deliver/internal/httpx"
	"github.com/tickler-go/tickler/stdwebhook"
)

// PayloadType is the "type" of every [Payload].
const PayloadType = "scheduled_message.delivery"

// Payload is the JSON body of a delivery, in the envelope Standard
// Webhooks recommends: type, timestamp, data.
type Payload struct {
	Type string `json:"type"`
	// Timestamp is the occurrence, in [tickler.TimeLayout].
	Timestamp string `json:"timestamp"`
	Data      Data   `json:"data"`
}

// Data is the delivery itself.
type Data struct {
	ScheduledMessageID string `json:"scheduled_message_id"`
	AgentID            string `json:"agent_id"`
	// Occurrence is the instant the occurrence was due, in
	// [tickler.TimeLayout].
	Occurrence     string `json:"occurrence"`
	IdempotencyKey string `json:"idempotency_key"`
	// Attempt counts the attempts at this occurrence from 1.
	Attempt   int  `json:"attempt"`
	Triggered bool `json:"triggered"`
	// Message is the scheduled message's messages and options, exactly
	// as stored.
	Message tickler.MessageCreate `json:"message"`
}

// Deliverer POSTs each occurrence to one URL. Create it with [New]; it is
// safe for concurrent use.
type Deliverer struct {
	url    *url.URL
	secret *stdwebhook.Secret
	now    func() time.Time
	c      *httpx.Client
}

var _ tickler.Deliverer = (*Deliverer)(nil)

// Option configures a [Deliverer]; see [New].
type Option func(*options)

type options struct {
	client  *http.Client
	maxBody int64
	now     func() time.Time
}

// WithHTTPClient sends the requests with c instead of a client on
// [http.DefaultTransport] that does not follow redirects.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.client = c } }

// WithMaxResponseBytes bounds how much of an answer is read (default 10
// MiB); a larger success is still a success, with a nil Response.
func WithMaxResponseBytes(n int64) Option {
	return func(o *options) {
		if n == 0 {
			n = -1
		}
		o.maxBody = n
	}
}

// WithClock reads the time of webhook-timestamp and of Retry-After dates
// from now instead of [time.Now].
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// New returns a deliverer to rawURL (http or https; a query is kept),
// signing with secret ("whsec_<base64>", see [stdwebhook.ParseSecret]).
// It returns an error for a missing or non-http URL and for a bad secret;
// the error repeats neither.
func New(rawURL, secret string, opts ...Option) (*Deliverer, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	u, err := httpx.ParseURL("webhook: URL", rawURL, true)
	if err != nil {
		return nil, err
	}
	s, err := stdwebhook.ParseSecret(secret)
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	if o.maxBody < 0 {
		return nil, fmt.Errorf("webhook: the response bound must be positive, got %d", o.maxBody)
	}
	if o.client == nil {
		o.client = httpx.DefaultClient()
	}
	if o.now == nil {
		o.now = time.Now
	}
	var secrets []string
	if pw, ok := u.User.Password(); ok {
		secrets = append(secrets, pw)
	}
	return &Deliverer{
		url:    u,
		secret: s,
		now:    o.now,
		c:      &httpx.Client{Service: "webhook", HTTP: o.client, MaxBody: o.maxBody, Secrets: secrets, Now: o.now},
	}, nil
}

// NewPayload returns the body Deliver sends for d.
func NewPayload(d *tickler.Delivery) Payload {
	occ := ""
	if t := tickler.FormatTime(d.Occurrence); t != nil {
		occ = *t
	}
	return Payload{
		Type:      PayloadType,
		Timestamp: occ,
		Data: Data{
			ScheduledMessageID: d.ScheduledMessageID,
			AgentID:            d.AgentID,
			Occurrence:         occ,
			IdempotencyKey:     d.IdempotencyKey,
			Attempt:            d.Attempt,
			Triggered:          d.Triggered,
			Message:            d.Message,
		},
	}
}

// Deliver POSTs the occurrence and waits for the answer. It honours ctx:
// when ctx ends the request stops and the error matches ctx.Err().
func (w *Deliverer) Deliver(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
	if d.IdempotencyKey == "" {
		return tickler.Result{}, tickler.Permanent(errors.New("webhook: the delivery has no idempotency key"))
	}
	body, err := httpx.Marshal(NewPayload(d))
	if err != nil {
		return tickler.Result{}, tickler.Permanent(fmt.Errorf("webhook: encoding the payload: %w", err))
	}
	req, err := httpx.NewRequest(ctx, http.MethodPost, w.url, body)
	if err != nil {
		return tickler.Result{}, tickler.Permanent(fmt.Errorf("webhook: POST %s: %w", httpx.Redact(w.url), err))
	}
	w.secret.SetHeaders(req.Header, d.IdempotencyKey, w.now(), body)
	req.Header.Set("Idempotency-Key", d.IdempotencyKey)
	resp, err := w.c.Do(req)
	if err != nil {
		return tickler.Result{}, err
	}
	return resp.Result("run_id"), nil
}
