package callback

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/internal/wire"
)

// Payload is the JSON body POSTed to a callback URL when a delivery ends:
// [tickler.CallbackPayload], which the scheduler also builds for a store's
// outbox. Every field is always present; response, run_id and error are
// null when there is nothing to say.
type Payload = tickler.CallbackPayload

// Report says how one callback ended; see [WithReporter].
type Report struct {
	// URL is the callback URL, with any user information (user name and
	// password) replaced by "xxxxx", as in logs and errors.
	URL string
	// Host is the destination the callback was queued and limited under:
	// scheme://host:port, without user information.
	Host    string
	Payload Payload
	// Attempts is how many HTTP requests were tried.
	Attempts int
	// StatusCode is the status of the last answer, 0 if there was none.
	StatusCode int
	// Err is nil if the receiver answered 2xx.
	Err error
	// Dropped is true for a callback never tried: its host's queue was
	// full, or the sender was closed. Err then matches [ErrDropped].
	Dropped bool
}

// ErrDropped is matched (with errors.Is) by the error of a [Report] of a
// callback that was dropped.
var ErrDropped = errors.New("callback: dropped")

// Stats counts what a [Sender] has done since it was created.
type Stats struct {
	// Sent counts callbacks answered with 2xx.
	Sent uint64
	// Failed counts callbacks given up: retries exhausted, an answer not
	// worth retrying, a refused address, or Close's context ended.
	Failed uint64
	// Dropped counts callbacks never tried: their host's queue was full,
	// or the sender was closed. [Sender.HostStats] counts them by host.
	Dropped uint64
	// HostsOpen is how many hosts' breakers are open or probing: their
	// callbacks wait.
	HostsOpen int
}

// HostStats describes one destination; see [Sender.HostStats].
type HostStats struct {
	// Waiting counts callbacks waiting: for a worker, a retry's backoff
	// or the breaker.
	Waiting int
	// Sending counts attempts in flight.
	Sending int
	// Dropped counts the host's callbacks dropped since the sender was
	// created.
	Dropped uint64
	// Failures counts consecutive failed attempts.
	Failures int
	// Open is true while the breaker is open or probing.
	Open bool
}

// Sender POSTs a [Payload] to a scheduled message's callback_url when a
// delivery of it ends. Pass its Handle method to [tickler.WithEventHandler].
// Create one with [NewSender] or [New] and Close it after the scheduler
// has stopped. Its methods are safe to call concurrently.
type Sender struct {
	o options
	// backoff is the module's one backoff (see [tickler.RetryPolicy.Delay])
	// with the sender's base and cap; only its Delay is used.
	backoff tickler.RetryPolicy
	client  *http.Client
	own     *http.Transport // the default transport, closed by Close

	ctx     context.Context // cancelled when Close gives up waiting, then when it returns
	cancel  context.CancelFunc
	workers sync.WaitGroup
	timers  sync.WaitGroup // goroutines waiting on a backoff or a cool-down; see after

	// mu guards the queues (see hosts.go). It is never held during an
	// HTTP attempt, a log call or a report.
	mu        sync.Mutex
	wake      *sync.Cond        // on mu: a host joined ready, or the sender is done
	hosts     map[string]*host  // hosts holding callbacks or a breaker not at rest
	ready     []*host           // hosts that may start an attempt now, in turn, each once
	held      int               // callbacks taken on and not ended
	closed    bool              // Close was called: later callbacks are dropped
	cancelled bool              // Close gave up waiting: nothing starts or waits any more
	done      chan struct{}     // closed once closed and held == 0
	dropsBy   map[string]uint64 // dropped callbacks by host key

	sent, failed, dropped atomic.Uint64

	ob        *outboxState // the outbox drained (outbox.go); nil without
	unDrained atomic.Bool  // warned that callbacks wait in an outbox no one drains
}

// job is one callback. It is in exactly one place at a time: a host's
// queue (under mu), a backoff (in its host's delayed set, under mu), or
// with the worker sending it, which alone touches attempts, status and err.
type job struct {
	url string
	// shown is url with its credentials redacted (see redact): what logs,
	// errors and reports say.
	shown   string
	key     string // the host key; see hostKey
	host    *host  // set when it is queued
	payload Payload
	body    []byte

	attempts int
	status   int
	err      error
	probe    bool // the attempt in flight is its host's breaker probe
	// outboxID is the id of a callback claimed from the outbox; "" for
	// one that came from an event.
	outboxID string
	// leaseEnd is when the outbox's lease on the callback ends, on the
	// sender's clock; under mu, as a claim renews it while the job is in
	// a worker's hands.
	leaseEnd time.Time
	// timeout bounds the attempt in flight; set by next.
	timeout time.Duration
}

// NewSender returns a sender and starts its workers, or the error of an
// option that cannot be used (an invalid [WithSigningSecret]).
func NewSender(opts ...Option) (*Sender, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if o.err != nil {
		return nil, o.err
	}
	s := &Sender{
		o:       o,
		client:  o.client,
		backoff: tickler.RetryPolicy{Base: o.backoffBase, Cap: o.backoffCap},
		hosts:   make(map[string]*host),
		dropsBy: make(map[string]uint64),
		done:    make(chan struct{}),
	}
	s.wake = sync.NewCond(&s.mu)
	if s.client == nil {
		g := newGuard(o.allowPrivate, o.resolver)
		s.own = &http.Transport{
			Proxy:                 nil, // a proxy would connect where the guard cannot see
			DialContext:           g.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		}
		s.client = &http.Client{
			Transport: s.own,
			// A redirect is an answer like any other: not followed.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for range o.workers {
		s.workers.Add(1)
		go s.work()
	}
	if o.outbox != nil {
		s.startOutbox()
	}
	return s, nil
}

// New is [NewSender] for options that cannot fail: it panics if one does,
// which only [WithSigningSecret] can.
func New(opts ...Option) *Sender {
	s, err := NewSender(opts...)
	if err != nil {
		panic(err)
	}
	return s
}

// Handle takes an event of the scheduler and, if it ends a delivery of a
// scheduled message that has a callback_url, queues a callback. It never
// blocks and never fails the schedule.
//
// EventDelivered sends status "success" with the Deliverer's result, and
// EventGaveUp sends status "failed" with the last error. EventRetry is not
// the end of a delivery, and EventSkipped is no delivery at all (the
// misfire policy dropped the occurrence, which the history records): both
// send nothing.
//
// When the callback's host already has [WithHostQueue] callbacks waiting,
// or the sender is closed, the callback is dropped: it is counted in
// [Stats].Dropped and [HostStats].Dropped, logged as a warning with its
// host, and reported with [Report].Dropped set.
func (s *Sender) Handle(ev tickler.Event) {
	if ev.CallbackQueued {
		// The store's outbox holds it: the sender draining the outbox
		// sends it. Look there now rather than at the next poll.
		s.poke()
		return
	}
	p, ok := tickler.CallbackPayloadOf(ev)
	if !ok {
		return
	}
	if ev.Kind == tickler.EventDelivered && ev.Result.Response != nil && p.Response == nil {
		s.o.logger.Warn("callback: the delivery's response is not JSON; sending null", "id", ev.ScheduledMessageID)
	}
	body, err := wire.Marshal(p)
	if err != nil { // cannot happen: every field marshals
		s.o.logger.Error("callback: encoding the payload failed", "id", ev.ScheduledMessageID, "err", err)
		return
	}
	s.enqueue(&job{url: ev.CallbackURL, shown: redact(ev.CallbackURL), key: hostKey(ev.CallbackURL), payload: p, body: body})
}

// Stats returns the counts so far. It is safe to call at any time.
func (s *Sender) Stats() Stats {
	st := Stats{Sent: s.sent.Load(), Failed: s.failed.Load(), Dropped: s.dropped.Load()}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.hosts {
		if h.state != closed {
			st.HostsOpen++
		}
	}
	return st
}

// HostStats returns, by host key (scheme://host:port, as [Report].Host),
// the hosts that hold callbacks, have a breaker that is not at rest, or
// have dropped callbacks. It is safe to call at any time.
func (s *Sender) HostStats() map[string]HostStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]HostStats, len(s.hosts)+len(s.dropsBy))
	for k, n := range s.dropsBy {
		m[k] = HostStats{Dropped: n}
	}
	for k, h := range s.hosts {
		m[k] = HostStats{
			Waiting:  h.queued(),
			Sending:  h.sending,
			Dropped:  s.dropsBy[k],
			Failures: h.failures,
			Open:     h.state != closed,
		}
	}
	return m
}

// Close stops taking callbacks (later ones are dropped) and waits until
// every callback taken on has ended (sent, or failed after its retries,
// which keep their backoffs and wait for their host's breaker), or until
// ctx ends; then it cancels what is left: attempts in flight end without
// further retries, and callbacks waiting (for a worker, a backoff or a
// breaker) fail without being tried again, each reported; Close then
// returns ctx's error. Call it after the scheduler has stopped, so that no
// event arrives after it. Calling it again returns nil.
func (s *Sender) Close(ctx context.Context) error {
	s.stopOutbox()
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		s.doneIfIdleLocked()
	}
	s.mu.Unlock()
	var err error
	select {
	case <-s.done:
	case <-ctx.Done():
		err = fmt.Errorf("callback: Close: %w", ctx.Err())
		s.abandon(ctx.Err())
		<-s.done
	}
	s.mu.Lock()
	s.cancelled = true // no timer starts after this: timers.Wait below is safe
	s.mu.Unlock()
	s.cancel()
	s.workers.Wait()
	s.timers.Wait()
	if s.own != nil {
		s.own.CloseIdleConnections()
	}
	return err
}

func (s *Sender) work() {
	defer s.workers.Done()
	for {
		j, ok := s.next()
		if !ok {
			return
		}
		j.attempts++
		var retry bool
		j.status, retry, j.err = s.post(j)
		s.settle(j, retry)
	}
}

// end counts, logs and reports a callback that has ended, after
// endLocked, and records the end of one from the outbox there. It must be
// called without mu held.
func (s *Sender) end(j *job) {
	if j.outboxID != "" {
		s.endOutbox(j)
	}
	rep := Report{URL: j.shown, Host: j.key, Payload: j.payload, Attempts: j.attempts, StatusCode: j.status, Err: j.err}
	if rep.Err == nil {
		s.sent.Add(1)
		s.o.logger.Debug("callback: sent", "url", j.shown, "key", j.payload.IdempotencyKey, "attempts", rep.Attempts)
	} else {
		s.failed.Add(1)
		s.o.logger.Warn("callback: failed", "url", j.shown, "key", j.payload.IdempotencyKey, "attempts", rep.Attempts, "status", rep.StatusCode, "err", rep.Err)
	}
	if s.o.report != nil {
		s.o.report(rep)
	}
}

// post makes one attempt. It returns the answer's status (0 if none),
// whether a failure is worth retrying, and the failure.
func (s *Sender) post(j *job) (status int, retry bool, err error) {
	ctx, cancel := s.o.clock.WithTimeout(s.ctx, j.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.url, bytes.NewReader(j.body))
	if err != nil {
		return 0, false, fmt.Errorf("callback: %w", redactErr(err, j.shown))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "tickler-callback")
	req.Header.Set("Idempotency-Key", j.payload.IdempotencyKey)
	if s.o.secret != nil {
		s.o.secret.SetHeaders(req.Header, j.payload.IdempotencyKey, s.o.clock.Now(), j.body)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, !errors.Is(err, ErrRefused), redactErr(err, j.shown)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return c, false, nil
	case c == http.StatusRequestTimeout, c == http.StatusTooManyRequests, c >= 500:
		return c, true, fmt.Errorf("callback: %s answered %s", j.shown, resp.Status)
	default:
		return c, false, fmt.Errorf("callback: %s answered %s", j.shown, resp.Status)
	}
}

// redact returns a URL with its user information, which may hold a
// password or a token, replaced by "xxxxx", for logs, errors and reports.
// It works on the text, so that a URL too broken to parse is redacted too.
func redact(raw string) string {
	start := 0
	if i := strings.Index(raw, "//"); i >= 0 {
		start = i + 2
	} else if i := strings.IndexByte(raw, ':'); i >= 0 {
		start = i + 1
	}
	end := len(raw)
	if i := strings.IndexAny(raw[start:], "/?#"); i >= 0 {
		end = start + i
	}
	at := strings.LastIndexByte(raw[start:end], '@')
	if at < 0 {
		return raw
	}
	return raw[:start] + "xxxxx" + raw[start+at:]
}

// redactErr puts shown in place of the URL that an error of net/http or
// net/url names (which keeps the user name, and for a URL that does not
// parse, the password too).
func redactErr(err error, shown string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = shown
	}
	return err
}
