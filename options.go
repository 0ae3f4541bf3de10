package tickler

import (
	"io"
	"log/slog"
	"time"

	"github.com/benbjohnson/clock"
)

// Defaults of the options.
const (
	DefaultConcurrency      = 32
	DefaultPageSize         = 100
	DefaultMaxPageSize      = 1000
	DefaultHistoryLimit     = 100
	DefaultLookahead        = 5 * time.Second
	DefaultMaxSleep         = time.Minute
	DefaultMisfireThreshold = time.Minute
	DefaultMaxMessages      = 100
	DefaultMaxScheduleBytes = 1 << 20
)

// DefaultRetryPolicy is the retry policy unless [WithRetryPolicy] says
// otherwise: 5 attempts, backoff from 1 s doubling up to 5 min.
var DefaultRetryPolicy = RetryPolicy{MaxAttempts: 5, Base: time.Second, Cap: 5 * time.Minute}

// An Option configures a [Scheduler].
type Option func(*options)

type options struct {
	clock            clock.Clock
	logger           *slog.Logger
	retry            RetryPolicy
	concurrency      int
	misfire          MisfirePolicy
	misfireGrace     time.Duration
	misfireThreshold time.Duration
	deliveryTimeout  time.Duration
	onEvent          func(Event)
	historyLimit     int
	maxPageSize      int
	lookahead        time.Duration
	claimBatch       int
	maxSleep         time.Duration
	maxMessages      int
	maxBytes         int
	maxPerAgent      int
	minInterval      time.Duration
}

func defaultOptions() options {
	return options{
		clock:            clock.New(),
		logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
		retry:            DefaultRetryPolicy,
		concurrency:      DefaultConcurrency,
		misfire:          MisfireFireOnce,
		misfireThreshold: DefaultMisfireThreshold,
		historyLimit:     DefaultHistoryLimit,
		maxPageSize:      DefaultMaxPageSize,
		lookahead:        DefaultLookahead,
		claimBatch:       10000,
		maxSleep:         DefaultMaxSleep,
		maxMessages:      DefaultMaxMessages,
		maxBytes:         DefaultMaxScheduleBytes,
	}
}

// WithClock makes the scheduler read every time, and arm every timer,
// through c. Tests pass a [clock.Mock]; the default is the real clock.
func WithClock(c clock.Clock) Option { return func(o *options) { o.clock = c } }

// WithLogger sets the logger for failures, give-ups and skips. By default
// nothing is logged.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// RetryPolicy says how a failed delivery is retried. Attempt n+1 starts
// after a delay drawn uniformly from [d/2, d], where d = Base·2^(n-1)
// capped at Cap.
type RetryPolicy struct {
	// MaxAttempts is the number of calls to the Deliverer per occurrence,
	// at least 1.
	MaxAttempts int
	// Base is the delay before the second attempt.
	Base time.Duration
	// Cap bounds the delay.
	Cap time.Duration
}

// WithRetryPolicy sets the retry policy; see [DefaultRetryPolicy]. A policy
// with MaxAttempts below 1 is treated as 1 (no retry).
func WithRetryPolicy(p RetryPolicy) Option { return func(o *options) { o.retry = p } }

// WithConcurrency bounds the deliveries running at once (default
// [DefaultConcurrency]). A hung Deliverer holds one slot: it delays other
// schedules only once all n slots are held.
func WithConcurrency(n int) Option { return func(o *options) { o.concurrency = max(n, 1) } }

// MisfirePolicy says what happens to occurrences missed while the scheduler
// was stopped, or found later than the misfire threshold.
type MisfirePolicy int

const (
	// MisfireFireOnce delivers a schedule's missed occurrences as one
	// delivery, keyed by the first missed one, then goes on with the next
	// future occurrence: no catch-up burst.
	MisfireFireOnce MisfirePolicy = iota
	// MisfireSkip delivers none of them and goes on with the next future
	// occurrence. A missed one-time schedule is removed. Each skip is
	// reported.
	MisfireSkip
)

// WithMisfirePolicy sets the misfire policy (default [MisfireFireOnce]).
func WithMisfirePolicy(p MisfirePolicy) Option { return func(o *options) { o.misfire = p } }

// WithMisfireGrace skips, whatever the policy, a missed occurrence that is
// older than d when the scheduler finds it. Zero (the default) means no
// limit.
func WithMisfireGrace(d time.Duration) Option { return func(o *options) { o.misfireGrace = d } }

// WithMisfireThreshold sets how late an occurrence found while running
// (after a wall-clock jump or a suspended machine, say) must be for the
// misfire policy to apply to it (default [DefaultMisfireThreshold]).
// Occurrences that passed while the scheduler was stopped are always
// misfires.
func WithMisfireThreshold(d time.Duration) Option {
	return func(o *options) { o.misfireThreshold = d }
}

// WithDeliveryTimeout bounds each call to the Deliverer: its context is
// cancelled after d, and the attempt counts as failed. Zero (the default)
// means no timeout.
func WithDeliveryTimeout(d time.Duration) Option { return func(o *options) { o.deliveryTimeout = d } }

// WithEventHandler calls fn for every delivery, failed attempt, give-up and
// skip, from the goroutine that saw it. fn must not block.
func WithEventHandler(fn func(Event)) Option { return func(o *options) { o.onEvent = fn } }

// WithHistoryLimit sets how many outcomes are kept per scheduled message
// (default [DefaultHistoryLimit]); 0 keeps none.
func WithHistoryLimit(n int) Option { return func(o *options) { o.historyLimit = max(n, 0) } }

// WithMaxPageSize caps the limit of List (default [DefaultMaxPageSize]);
// larger limits are lowered to it.
func WithMaxPageSize(n int) Option { return func(o *options) { o.maxPageSize = max(n, 1) } }

// WithLookahead sets how far ahead the dispatcher claims due schedules from
// the store (default [DefaultLookahead]). Schedules further ahead cost no
// memory in the dispatcher.
func WithLookahead(d time.Duration) Option {
	return func(o *options) { o.lookahead = max(d, time.Millisecond) }
}

// WithMaxSleep bounds how long the dispatcher sleeps before it reads the
// clock again (default [DefaultMaxSleep]), so a wall-clock jump or a
// suspended machine cannot leave a due schedule waiting longer.
func WithMaxSleep(d time.Duration) Option {
	return func(o *options) { o.maxSleep = max(d, time.Millisecond) }
}

// WithMaxMessages bounds the messages of one scheduled message (default
// [DefaultMaxMessages]); 0 means no bound. Create answers a larger request
// with a *[ValidationError] on "messages" that matches [ErrLimitExceeded].
func WithMaxMessages(n int) Option { return func(o *options) { o.maxMessages = max(n, 0) } }

// WithMaxScheduleBytes bounds the size of one scheduled message's payload,
// as JSON (default [DefaultMaxScheduleBytes]); 0 means no bound.
func WithMaxScheduleBytes(n int) Option { return func(o *options) { o.maxBytes = max(n, 0) } }

// WithMaxSchedulesPerAgent bounds how many scheduled messages one agent may
// have at once; 0 (the default) means no bound. The bound is checked and
// the message created under a lock per agent, so concurrent creates cannot
// exceed it in one process.
func WithMaxSchedulesPerAgent(n int) Option { return func(o *options) { o.maxPerAgent = max(n, 0) } }

// WithMinInterval rejects recurring schedules whose occurrences come closer
// together than d (checked over their first 1,000 occurrences). The default,
// 0, allows anything cron can say: once a minute at most.
func WithMinInterval(d time.Duration) Option { return func(o *options) { o.minInterval = max(d, 0) } }
