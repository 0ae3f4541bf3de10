package tickler

import (
	"fmt"
	"io"
	"log/slog"
	"time"
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
	DefaultPollInterval     = time.Second
	DefaultEventBuffer      = 10000
)

// An Option configures a [Scheduler]. Options are applied in order; [New]
// checks the result and returns an error naming the option whose value is
// out of range.
type Option func(*options)

type options struct {
	clock            Clock
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
	maxBytesPerAgent int64
	minInterval      time.Duration
	agentConcurrency int
	pollInterval     time.Duration
	eventBuffer      int
	callbackOutbox   bool
}

func defaultOptions() options {
	return options{
		clock:            SystemClock{},
		logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
		retry:            DefaultRetryPolicy(),
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
		pollInterval:     DefaultPollInterval,
		eventBuffer:      DefaultEventBuffer,
	}
}

// WithClock makes the scheduler read every time, and arm every timer,
// through c. Tests pass a fake (see [Clock]); the default is [SystemClock].
func WithClock(c Clock) Option { return func(o *options) { o.clock = c } }

// WithLogger sets the logger for failures, give-ups and skips. By default
// nothing is logged.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithRetryPolicy sets the retry policy of every scheduled message that has
// none of its own (see [CreateRequest.Retry]); the default is
// [DefaultRetryPolicy]. New fails on a policy that does not validate.
func WithRetryPolicy(p RetryPolicy) Option { return func(o *options) { o.retry = p } }

// WithConcurrency bounds the deliveries running at once (default
// [DefaultConcurrency]). A hung Deliverer holds one slot: it delays other
// schedules only once all n slots are held.
// n must be at least 1.
func WithConcurrency(n int) Option { return func(o *options) { o.concurrency = n } }

// WithAgentConcurrency bounds the deliveries running at once for any one
// agent; 0 (the default) means no bound beyond [WithConcurrency]. Agent
// servers such as Letta treat concurrent requests to one agent as an error
// (409) or as undefined, so hosts that deliver to such a server set 1.
// Occurrences of a busy agent wait their turn in due order without holding
// a worker, so a hung delivery holds only its agent.
func WithAgentConcurrency(n int) Option { return func(o *options) { o.agentConcurrency = n } }

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
// skip, in the order they happened, from one goroutine of its own: a slow
// fn holds no worker and never delays a delivery. Events wait for fn in a
// queue of [WithEventBuffer] entries; when it is full, new events are
// dropped, counted in [Stats].EventsDropped and logged. Stop returns once
// fn has handled the events of every delivery that ended (or its context
// ends). A panic in fn is logged and the next event goes on.
func WithEventHandler(fn func(Event)) Option { return func(o *options) { o.onEvent = fn } }

// WithCallbackOutbox makes the store keep callbacks: the callback of an
// occurrence that ends a delivery (delivered or given up) of a message
// with a callback_url is built by the scheduler and written with the
// occurrence's ack, in the same commit ([AckParams].Callback), so that a
// crash loses none. The store must implement [CallbackOutbox] (New fails
// otherwise), and something must drain it: a callback.Sender made with
// callback.WithOutbox. The final event of such an occurrence has
// [Event].CallbackQueued set, and a Sender's Handle sends nothing for it;
// an ack that is refused (the record was deleted or changed meanwhile)
// writes no callback, and its event goes to the handler as without this
// option. Without it, callbacks go only through events
// ([WithEventHandler]).
func WithCallbackOutbox() Option { return func(o *options) { o.callbackOutbox = true } }

// WithEventBuffer sets how many events may wait for the event handler
// (default [DefaultEventBuffer]); n must be at least 1.
func WithEventBuffer(n int) Option { return func(o *options) { o.eventBuffer = n } }

// WithHistoryLimit sets how many outcomes are kept per scheduled message
// (default [DefaultHistoryLimit]); 0 keeps none.
func WithHistoryLimit(n int) Option { return func(o *options) { o.historyLimit = n } }

// WithMaxPageSize caps the limit of List (default [DefaultMaxPageSize]);
// larger limits are lowered to it. n must be at least 1.
func WithMaxPageSize(n int) Option { return func(o *options) { o.maxPageSize = n } }

// WithLookahead sets how far ahead the dispatcher claims due schedules from
// the store (default [DefaultLookahead]). Schedules further ahead cost no
// memory in the dispatcher. d must be at least a millisecond.
func WithLookahead(d time.Duration) Option { return func(o *options) { o.lookahead = d } }

// WithMaxSleep bounds how long the dispatcher sleeps before it reads the
// clock again (default [DefaultMaxSleep]), so a wall-clock jump or a
// suspended machine cannot leave a due schedule waiting longer. d must be
// at least a millisecond.
func WithMaxSleep(d time.Duration) Option { return func(o *options) { o.maxSleep = d } }

// WithPollInterval sets how often a scheduler over a [SharedStore] claims
// from the store when nothing told it to (default [DefaultPollInterval]):
// it bounds how long a schedule created on another node, or left by a node
// that died, waits beyond its due time when the store's hints are off
// (PgBouncer in transaction mode). d must be at least a millisecond. A
// store owned by one process is never polled.
func WithPollInterval(d time.Duration) Option { return func(o *options) { o.pollInterval = d } }

// WithMaxMessages bounds the messages of one scheduled message (default
// [DefaultMaxMessages]); 0 means no bound. Create answers a larger request
// with a *[ValidationError] on "messages" that matches [ErrLimitExceeded].
func WithMaxMessages(n int) Option { return func(o *options) { o.maxMessages = n } }

// WithMaxScheduleBytes bounds the size of one scheduled message's payload,
// as JSON (default [DefaultMaxScheduleBytes]); 0 means no bound.
func WithMaxScheduleBytes(n int) Option { return func(o *options) { o.maxBytes = n } }

// WithMaxSchedulesPerAgent bounds how many scheduled messages one agent may
// have at once; 0 (the default) means no bound. The bound is checked and
// the message created by the store in one step (see [CreateParams]), so
// concurrent creates cannot exceed it.
func WithMaxSchedulesPerAgent(n int) Option { return func(o *options) { o.maxPerAgent = n } }

// WithMaxBytesPerAgent bounds how many bytes one agent's scheduled
// messages may take in the store together, each measured by
// [RecordSize] (its message as JSON plus its labels); 0 (the default)
// means no bound. As with [WithMaxSchedulesPerAgent], the store checks
// the bound and creates the message in one step, so concurrent creates
// cannot exceed it; Create answers with a *[ValidationError] on
// "agent_id" that matches [ErrLimitExceeded]. Update is held to the same
// bound, atomically with its write: one that grows a message past it is
// refused alike, one that does not grow it never is. n must not be
// negative.
func WithMaxBytesPerAgent(n int64) Option { return func(o *options) { o.maxBytesPerAgent = n } }

// WithMinInterval rejects recurring schedules whose occurrences come closer
// together than d (checked over their first 1,000 occurrences). The default,
// 0, allows anything cron can say: once a minute at most.
func WithMinInterval(d time.Duration) Option { return func(o *options) { o.minInterval = d } }

// check returns an error naming the first option whose value is out of
// range.
func (o *options) check() error {
	bad := func(opt string, v any, want string) error {
		return fmt.Errorf("tickler: New: %s(%v): %s", opt, v, want)
	}
	switch {
	case o.clock == nil:
		return bad("WithClock", nil, "the clock is nil")
	case o.logger == nil:
		return bad("WithLogger", nil, "the logger is nil")
	case o.concurrency < 1:
		return bad("WithConcurrency", o.concurrency, "must be at least 1")
	case o.agentConcurrency < 0:
		return bad("WithAgentConcurrency", o.agentConcurrency, "must not be negative (0 means no bound)")
	case o.misfire != MisfireFireOnce && o.misfire != MisfireSkip:
		return bad("WithMisfirePolicy", int(o.misfire), "unknown policy")
	case o.misfireGrace < 0:
		return bad("WithMisfireGrace", o.misfireGrace, "must not be negative (0 means no limit)")
	case o.misfireThreshold < 0:
		return bad("WithMisfireThreshold", o.misfireThreshold, "must not be negative")
	case o.deliveryTimeout < 0:
		return bad("WithDeliveryTimeout", o.deliveryTimeout, "must not be negative (0 means none)")
	case o.historyLimit < 0:
		return bad("WithHistoryLimit", o.historyLimit, "must not be negative (0 keeps none)")
	case o.maxPageSize < 1:
		return bad("WithMaxPageSize", o.maxPageSize, "must be at least 1")
	case o.lookahead < time.Millisecond:
		return bad("WithLookahead", o.lookahead, "must be at least 1ms")
	case o.maxSleep < time.Millisecond:
		return bad("WithMaxSleep", o.maxSleep, "must be at least 1ms")
	case o.eventBuffer < 1:
		return bad("WithEventBuffer", o.eventBuffer, "must be at least 1")
	case o.pollInterval < time.Millisecond:
		return bad("WithPollInterval", o.pollInterval, "must be at least 1ms")
	case o.maxMessages < 0:
		return bad("WithMaxMessages", o.maxMessages, "must not be negative (0 means no bound)")
	case o.maxBytes < 0:
		return bad("WithMaxScheduleBytes", o.maxBytes, "must not be negative (0 means no bound)")
	case o.maxPerAgent < 0:
		return bad("WithMaxSchedulesPerAgent", o.maxPerAgent, "must not be negative (0 means no bound)")
	case o.maxBytesPerAgent < 0:
		return bad("WithMaxBytesPerAgent", o.maxBytesPerAgent, "must not be negative (0 means no bound)")
	case o.minInterval < 0:
		return bad("WithMinInterval", o.minInterval, "must not be negative")
	}
	if err := o.retry.Validate(); err != nil {
		return fmt.Errorf("tickler: New: WithRetryPolicy: %w", err)
	}
	return nil
}
