package callback

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/stdwebhook"
)

// Defaults of the options.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultRetries     = 3
	DefaultBackoffBase = time.Second
	DefaultBackoffCap  = 30 * time.Second
	DefaultWorkers     = 16
	DefaultPerHost     = 2
	DefaultHostQueue   = 1024
	// DefaultQueueSize is the default of the deprecated [WithQueueSize].
	//
	// Deprecated: use [DefaultHostQueue].
	DefaultQueueSize = DefaultHostQueue

	DefaultOutboxPoll  = time.Second
	DefaultOutboxLease = 5 * time.Minute

	DefaultBreakerFailures    = 5
	DefaultBreakerCoolDown    = 30 * time.Second
	DefaultBreakerCoolDownCap = 10 * time.Minute
)

// An Option configures a [Sender].
type Option func(*options)

type options struct {
	timeout      time.Duration
	retries      int
	backoffBase  time.Duration
	backoffCap   time.Duration
	workers      int
	perHost      int
	hostQueue    int
	failures     int // consecutive failed attempts that open a host's breaker; 0: never
	coolDown     time.Duration
	coolDownCap  time.Duration
	allowPrivate bool
	resolver     Resolver
	client       *http.Client
	clock        tickler.Clock
	secret       *stdwebhook.Secret
	logger       *slog.Logger
	report       func(Report)
	outbox       tickler.CallbackOutbox
	outboxPoll   time.Duration
	outboxLease  time.Duration
	err          error // the first option that cannot be used; NewSender returns it
}

func defaultOptions() options {
	return options{
		timeout:     DefaultTimeout,
		retries:     DefaultRetries,
		backoffBase: DefaultBackoffBase,
		backoffCap:  DefaultBackoffCap,
		workers:     DefaultWorkers,
		perHost:     DefaultPerHost,
		hostQueue:   DefaultHostQueue,
		failures:    DefaultBreakerFailures,
		coolDown:    DefaultBreakerCoolDown,
		coolDownCap: DefaultBreakerCoolDownCap,
		outboxPoll:  DefaultOutboxPoll,
		outboxLease: DefaultOutboxLease,
		clock:       tickler.SystemClock{},
		logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// WithTimeout bounds each HTTP attempt, from dialing to reading the
// response (default [DefaultTimeout]).
func WithTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.timeout = d
		}
	}
}

// WithRetries sets how many times a failed callback is tried again
// (default [DefaultRetries]; 0 tries once). A network error, a timeout, a
// 408, a 429 and a 5xx answer are retried; any other answer that is not
// 2xx, and a refused address, are not.
func WithRetries(n int) Option { return func(o *options) { o.retries = max(n, 0) } }

// WithBackoff sets the delay before the first retry (base) and its bound
// (cap); it doubles from one retry to the next, with jitter (defaults
// [DefaultBackoffBase], [DefaultBackoffCap]). No worker waits through a
// backoff: the callback waits, and the worker sends another.
func WithBackoff(base, cap time.Duration) Option {
	return func(o *options) {
		o.backoffBase, o.backoffCap = max(base, 0), max(cap, base, 0)
	}
}

// WithWorkers sets how many attempts are in flight at once, over all
// hosts (default [DefaultWorkers]). Keep it well above [WithPerHost]'s
// cap: it is the number of unresponsive hosts it takes to hold every
// worker.
func WithWorkers(n int) Option { return func(o *options) { o.workers = max(n, 1) } }

// WithPerHost sets how many attempts to one destination (scheme, host
// and port of the callback URL) are in flight at once (default
// [DefaultPerHost]).
func WithPerHost(n int) Option { return func(o *options) { o.perHost = max(n, 1) } }

// WithHostQueue sets how many callbacks to one destination may wait (for
// a worker, a retry's backoff or the host's breaker) beside the ones in
// flight (default [DefaultHostQueue], at least 1). When a host's queue is
// full, [Sender.Handle] drops its new callbacks; other hosts are not
// affected. A retry returns to its host's queue even when it is full, so
// a host holds at most n + [WithPerHost] callbacks.
func WithHostQueue(n int) Option { return func(o *options) { o.hostQueue = max(n, 1) } }

// WithQueueSize sets the per-host queue: see [WithHostQueue]. It bounded
// one queue shared by every host, which one host could fill.
//
// Deprecated: use [WithHostQueue].
func WithQueueSize(n int) Option { return WithHostQueue(n) }

// WithBreaker sets each host's circuit breaker: after failures
// consecutive failed attempts to a host (no answer, a timeout, 408, 429
// or 5xx), its callbacks wait, neither tried nor dropped, for coolDown;
// then one of them is tried as a probe. A probe that fails opens the
// breaker again for twice as long, up to coolDownCap; any answer that is
// not retried (2xx, or a 4xx other than 408 and 429) closes it and resets
// the cool-down. Defaults: [DefaultBreakerFailures],
// [DefaultBreakerCoolDown], [DefaultBreakerCoolDownCap]. failures ≤ 0
// turns the breaker off; a coolDown ≤ 0 keeps the default.
func WithBreaker(failures int, coolDown, coolDownCap time.Duration) Option {
	return func(o *options) {
		o.failures = max(failures, 0)
		if coolDown > 0 {
			o.coolDown = coolDown
		}
		o.coolDownCap = max(coolDownCap, o.coolDown)
	}
}

// WithSigningSecret signs every callback per Standard Webhooks (see the
// stdwebhook package) with secret, written "whsec_<base64 key>":
// webhook-id is the occurrence's idempotency key (the same on every
// retry), webhook-timestamp the attempt's time and webhook-signature the
// HMAC of both and the body. Callbacks are unsigned by default. An
// invalid secret makes [NewSender] fail (and [New] panic); the error does
// not repeat the secret.
func WithSigningSecret(secret string) Option {
	return func(o *options) {
		sec, err := stdwebhook.ParseSecret(secret)
		if err != nil {
			o.err = fmt.Errorf("callback: WithSigningSecret: %w", err)
			return
		}
		o.secret = sec
	}
}

// AllowPrivate lets callbacks reach every address, including loopback,
// private, link-local and metadata addresses, which are refused by
// default. Use it for local development and tests, never where the
// callback URL comes from someone you do not trust with your network.
func AllowPrivate() Option { return func(o *options) { o.allowPrivate = true } }

// WithResolver sets how the default transport looks up host names
// (default net.DefaultResolver). The addresses it returns are the ones
// checked and dialed.
func WithResolver(r Resolver) Option { return func(o *options) { o.resolver = r } }

// WithHTTPClient makes the sender use c instead of its own client. The
// address checks live in the default client's dialer, so with c they are
// whatever c's transport does: AllowPrivate and WithResolver have no
// effect. The sender still bounds each attempt with its timeout.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.client = c } }

// WithClock sets the clock of the backoffs, the breakers' cool-downs, the
// attempts' timeouts and the signatures' timestamps (default
// [tickler.SystemClock]); tests pass a fake one.
func WithClock(c tickler.Clock) Option {
	return func(o *options) {
		if c != nil {
			o.clock = c
		}
	}
}

// WithLogger sets the logger for failed and dropped callbacks and
// breakers that open (warnings), breakers that close (info) and sent
// callbacks (debug). By default nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithReporter calls fn once for every callback handed to the sender,
// when it ends: sent or failed (from the worker that sent it), given up
// at Close (from Close), or dropped (from [Sender.Handle], with
// [Report].Dropped set). fn must not block: the worker, Close or the
// scheduler's event loop waits for it.
func WithReporter(fn func(Report)) Option { return func(o *options) { o.report = fn } }

// WithOutbox makes the sender drain a store's callback outbox (see
// [tickler.CallbackOutbox] and [tickler.WithCallbackOutbox]): it claims
// what is due when [Sender.Handle] sees an event whose callback the store
// holds, and at least every [WithOutboxPoll], and sends it like any
// callback, through its host's queue, limits and breaker, signed if the
// sender signs. A failed attempt to be retried goes back to the outbox
// with its backoff; the end (sent, or failed for good) is recorded there,
// in the occurrence's history. A callback its host's queue cannot take
// waits in the outbox instead of being dropped. Close hands the callbacks
// that wait back to the outbox at once, and waits for the attempts in
// flight. Events whose callback is not in the outbox are sent as without
// this option.
func WithOutbox(ob tickler.CallbackOutbox) Option { return func(o *options) { o.outbox = ob } }

// WithOutboxPoll sets how often the sender claims from its outbox when
// nothing woke it (default [DefaultOutboxPoll]): it bounds how late a
// retry, a callback written by another node, or one left by a sender that
// died, is sent.
func WithOutboxPoll(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.outboxPoll = d
		}
	}
}

// WithOutboxLease sets how long a callback claimed from the outbox is the
// sender's (default [DefaultOutboxLease]): another sender (another node)
// claims it only after the lease ends, and a sender that died leaves it
// for that long. The sender never sends a callback past its lease: an
// attempt's timeout ends with the lease, and a callback that waited in
// this sender (behind an open breaker, in its host's queue) until less
// than [WithTimeout] (or half the lease, if shorter) is left of its lease
// is forgotten unsent, for the next claim to take.
func WithOutboxLease(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.outboxLease = d
		}
	}
}
