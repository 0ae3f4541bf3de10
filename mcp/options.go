package mcp

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/httpapi"
)

// The defaults of the limits a handler puts on what a model creates through
// it; see [WithMaxSchedules] and [WithCreateRate].
const (
	// DefaultMaxSchedules is how many scheduled messages an agent may hold
	// when it creates one through the MCP endpoint.
	DefaultMaxSchedules = 100
	// DefaultCreateRate is how many schedule_message calls an agent may
	// make per DefaultCreatePer.
	DefaultCreateRate = 20
	// DefaultCreatePer is the window of DefaultCreateRate.
	DefaultCreatePer = time.Minute
)

// An Option configures the handler [NewHandler] returns.
type Option func(*options)

type options struct {
	clock     tickler.Clock
	authorize func(*http.Request) error
	// maxSchedules is 0 for no MCP-side count limit.
	maxSchedules int
	// rate is 0 for no rate limit.
	rate    int
	per     time.Duration
	name    string
	version string
	logger  *slog.Logger
}

func defaultOptions() options {
	return options{
		clock:        tickler.SystemClock{},
		maxSchedules: DefaultMaxSchedules,
		rate:         DefaultCreateRate,
		per:          DefaultCreatePer,
		name:         "tickler",
		version:      "v0",
	}
}

// WithClock sets the clock that relative times ("in": "90m") and previews
// count from: the real clock by default. Give it the scheduler's clock
// ([tickler.WithClock]), so that both agree on "now".
func WithClock(c tickler.Clock) Option {
	return func(o *options) {
		if c != nil {
			o.clock = c
		}
	}
}

// WithAPIKey makes the handler answer only requests whose Authorization
// header is "Bearer <key>" for one of keys, compared in constant time, as
// the HTTP API's [httpapi.BearerToken] does: give it the server's API key.
// Any other request is answered 401 before the MCP layer sees it.
func WithAPIKey(keys ...string) Option {
	return WithAuthorizer(httpapi.BearerToken(keys...))
}

// WithAuthorizer makes every request pass fn first; a non-nil error answers
// 401 with a WWW-Authenticate: Bearer header. fn is called concurrently.
// [WithAPIKey] is the common case.
func WithAuthorizer(fn func(r *http.Request) error) Option {
	return func(o *options) { o.authorize = fn }
}

// WithMaxSchedules bounds how many scheduled messages an agent may hold
// when it creates one through the endpoint (default [DefaultMaxSchedules]):
// schedule_message answers a tool error naming the limit once the agent
// has n, counting every schedule of the agent, however it was created.
// n <= 0 removes this bound; the scheduler's own
// [tickler.WithMaxSchedulesPerAgent] still applies, to every route.
func WithMaxSchedules(n int) Option {
	return func(o *options) { o.maxSchedules = max(n, 0) }
}

// WithCreateRate bounds how often an agent may call schedule_message
// through the endpoint: at most n successful or failed calls in any window
// of length per (default [DefaultCreateRate] per [DefaultCreatePer]), on
// the handler's clock. A call over the rate answers a tool error saying
// when to try again, and creates nothing. n <= 0 or per <= 0 removes the
// bound.
func WithCreateRate(n int, per time.Duration) Option {
	return func(o *options) {
		if n <= 0 || per <= 0 {
			o.rate, o.per = 0, 0
			return
		}
		o.rate, o.per = n, per
	}
}

// WithImplementation sets the name and version the server reports to
// clients when they initialize ("tickler" and "v0" by default).
func WithImplementation(name, version string) Option {
	return func(o *options) {
		if name != "" {
			o.name = name
		}
		if version != "" {
			o.version = version
		}
	}
}

// WithLogger sets the logger of the MCP layer, and of tool calls that fail
// for a reason other than the caller's input (a store error). By default
// nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}
