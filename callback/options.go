package callback

import (
	"io"
	"log/slog"
	"net/http"
	"time"
)

// Defaults of the options.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultRetries     = 3
	DefaultBackoffBase = time.Second
	DefaultBackoffCap  = 30 * time.Second
	DefaultWorkers     = 4
	DefaultQueueSize   = 1024
)

// An Option configures a [Sender].
type Option func(*options)

type options struct {
	timeout      time.Duration
	retries      int
	backoffBase  time.Duration
	backoffCap   time.Duration
	workers      int
	queueSize    int
	allowPrivate bool
	resolver     Resolver
	client       *http.Client
	logger       *slog.Logger
	report       func(Report)
}

func defaultOptions() options {
	return options{
		timeout:     DefaultTimeout,
		retries:     DefaultRetries,
		backoffBase: DefaultBackoffBase,
		backoffCap:  DefaultBackoffCap,
		workers:     DefaultWorkers,
		queueSize:   DefaultQueueSize,
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
// [DefaultBackoffBase], [DefaultBackoffCap]).
func WithBackoff(base, cap time.Duration) Option {
	return func(o *options) {
		o.backoffBase, o.backoffCap = max(base, 0), max(cap, base, 0)
	}
}

// WithWorkers sets how many callbacks are sent at once (default
// [DefaultWorkers]).
func WithWorkers(n int) Option { return func(o *options) { o.workers = max(n, 1) } }

// WithQueueSize sets how many callbacks may wait for a worker (default
// [DefaultQueueSize]). When the queue is full, [Sender.Handle] drops the
// callback; see there.
func WithQueueSize(n int) Option { return func(o *options) { o.queueSize = max(n, 0) } }

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

// WithLogger sets the logger for failed and dropped callbacks (warnings)
// and sent ones (debug). By default nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithReporter calls fn once for every callback the sender took on, when
// it ends (sent, failed or given up at Close), from the worker that sent
// it. fn must not block for long: the worker waits for it.
func WithReporter(fn func(Report)) Option { return func(o *options) { o.report = fn } }
