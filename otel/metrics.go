package ticklerotel

import (
	"context"
	"errors"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/embedded"

	"github.com/tickler-go/tickler"
)

// secondsBuckets are the histograms' bucket boundaries, in seconds: from
// the milliseconds a scheduler is usually late by to the minutes an
// agent's run can take.
var secondsBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}

// outcomes are the event kinds, as the outcome attribute says them.
var outcomes = []tickler.EventKind{tickler.EventDelivered, tickler.EventRetry, tickler.EventGaveUp, tickler.EventSkipped}

// Metrics records a scheduler's metrics: [Metrics.Handle] takes its events,
// [Metrics.Observe] its [tickler.Stats]. Its methods are safe to call
// concurrently.
type Metrics struct {
	meter    metric.Meter
	lateness metric.Float64Histogram
	duration metric.Float64Histogram
	// base holds the WithAttributes attributes; byOutcome adds the outcome
	// attribute for each event kind.
	base      metric.MeasurementOption
	byOutcome map[tickler.EventKind]metric.MeasurementOption

	deliveries                                   metric.Int64ObservableCounter
	pending, waitingRetry, inFlight, parked      metric.Int64ObservableUpDownCounter
	claims, claimErrors, storeErrors, eventsDrop metric.Int64ObservableCounter

	mu        sync.Mutex
	observing bool // guarded by mu: a scheduler is observed
}

// NewMetrics creates the instruments (see the package's list) from the
// MeterProvider of [WithMeterProvider], or the global one. It fails if
// the provider refuses an instrument.
func NewMetrics(opts ...Option) (*Metrics, error) {
	c := newConfig(opts)
	m := &Metrics{
		meter:     c.meterProvider.Meter(scope),
		base:      metric.WithAttributeSet(attribute.NewSet(c.attrs...)),
		byOutcome: make(map[tickler.EventKind]metric.MeasurementOption, len(outcomes)),
	}
	for _, k := range outcomes {
		attrs := append([]attribute.KeyValue{attribute.String("outcome", string(k))}, c.attrs...)
		m.byOutcome[k] = metric.WithAttributeSet(attribute.NewSet(attrs...))
	}
	var errs []error
	check := func(err error) { errs = append(errs, err) }
	var err error
	m.lateness, err = m.meter.Float64Histogram("tickler.delivery.lateness",
		metric.WithUnit("s"),
		metric.WithDescription("How late the first attempt at an occurrence started: its start minus the occurrence."),
		metric.WithExplicitBucketBoundaries(secondsBuckets...))
	check(err)
	m.duration, err = m.meter.Float64Histogram("tickler.delivery.duration",
		metric.WithUnit("s"),
		metric.WithDescription("How long the Deliverer took over an attempt, by outcome."),
		metric.WithExplicitBucketBoundaries(secondsBuckets...))
	check(err)
	m.deliveries, err = m.meter.Int64ObservableCounter("tickler.deliveries",
		metric.WithUnit("{delivery}"),
		metric.WithDescription("Attempts and skips, by outcome: delivered, retry, gave_up or skipped."))
	check(err)
	occurrences := func(name, desc string) metric.Int64ObservableUpDownCounter {
		i, err := m.meter.Int64ObservableUpDownCounter(name, metric.WithUnit("{occurrence}"), metric.WithDescription(desc))
		check(err)
		return i
	}
	m.pending = occurrences("tickler.occurrence.pending", "Occurrences in the look-ahead window, waiting to fall due, those waiting for a retry included.")
	m.waitingRetry = occurrences("tickler.occurrence.waiting_retry", "Occurrences whose last attempt failed and whose next is pending.")
	m.inFlight = occurrences("tickler.occurrence.in_flight", "Occurrences on a worker.")
	m.parked = occurrences("tickler.occurrence.parked", "Occurrences waiting for their agent's turn.")
	count := func(name, unit, desc string) metric.Int64ObservableCounter {
		i, err := m.meter.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		check(err)
		return i
	}
	m.claims = count("tickler.claims", "{claim}", "Claims of due occurrences from the store.")
	m.claimErrors = count("tickler.claim.errors", "{error}", "Claims from the store that failed.")
	m.storeErrors = count("tickler.store.errors", "{error}", "Failed reads and records of occurrences in the store, each retried.")
	m.eventsDrop = count("tickler.events.dropped", "{event}", "Events dropped because the event handler fell too far behind.")
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}

// Handle records an event's samples in the histograms: the lateness of a
// first attempt, the duration of every attempt. Pass it to
// [tickler.WithEventHandler] (through [Handlers] beside a handler of the
// host's own). It does not block.
func (m *Metrics) Handle(ev tickler.Event) {
	if ev.Kind == tickler.EventSkipped {
		return
	}
	ctx := context.Background()
	if ev.Attempt == 1 {
		// A wall clock stepped back can start an attempt "before" its
		// occurrence; a histogram takes no negative values.
		m.lateness.Record(ctx, max(ev.Started.Sub(ev.Occurrence), 0).Seconds(), m.base)
	}
	if o, ok := m.byOutcome[ev.Kind]; ok {
		m.duration.Record(ctx, ev.Duration.Seconds(), o)
	}
}

// Observe reports s's [tickler.Stats] at every collection of the
// MeterProvider's readers, until the registration is unregistered. One
// Metrics observes one scheduler at a time: Observe fails while another
// registration is in force (a second scheduler gets its own Metrics,
// told apart by [WithAttributes]).
func (m *Metrics) Observe(s *tickler.Scheduler) (metric.Registration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.observing {
		return nil, errors.New("ticklerotel: Observe: this Metrics already observes a scheduler; unregister it first, or give each scheduler its own Metrics")
	}
	reg, err := m.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st := s.Stats()
		o.ObserveInt64(m.deliveries, int64(st.Delivered), m.byOutcome[tickler.EventDelivered])
		o.ObserveInt64(m.deliveries, int64(st.Retried), m.byOutcome[tickler.EventRetry])
		o.ObserveInt64(m.deliveries, int64(st.GaveUp), m.byOutcome[tickler.EventGaveUp])
		o.ObserveInt64(m.deliveries, int64(st.Skipped), m.byOutcome[tickler.EventSkipped])
		o.ObserveInt64(m.pending, int64(st.Pending), m.base)
		o.ObserveInt64(m.waitingRetry, int64(st.WaitingRetry), m.base)
		o.ObserveInt64(m.inFlight, int64(st.InFlight), m.base)
		o.ObserveInt64(m.parked, int64(st.Parked), m.base)
		o.ObserveInt64(m.claims, int64(st.Claims), m.base)
		o.ObserveInt64(m.claimErrors, int64(st.ClaimErrors), m.base)
		o.ObserveInt64(m.storeErrors, int64(st.StoreErrors), m.base)
		o.ObserveInt64(m.eventsDrop, int64(st.EventsDropped), m.base)
		return nil
	}, m.deliveries, m.pending, m.waitingRetry, m.inFlight, m.parked, m.claims, m.claimErrors, m.storeErrors, m.eventsDrop)
	if err != nil {
		return nil, err
	}
	m.observing = true
	return &registration{m: m, reg: reg}, nil
}

// registration frees its Metrics to observe another scheduler once
// unregistered.
type registration struct {
	embedded.Registration
	m    *Metrics
	reg  metric.Registration
	once sync.Once
}

// Unregister stops the reports; calling it again does nothing.
func (r *registration) Unregister() error {
	var err error
	r.once.Do(func() {
		err = r.reg.Unregister()
		r.m.mu.Lock()
		r.m.observing = false
		r.m.mu.Unlock()
	})
	return err
}
