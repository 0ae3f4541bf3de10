package ticklerotel_test

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tickler-go/tickler"
	ticklerotel "github.com/tickler-go/tickler/otel"
	"github.com/tickler-go/tickler/ticklertest"
)

// newMetrics returns Metrics over a MeterProvider read by hand, and the
// reader.
func newMetrics(t *testing.T, opts ...ticklerotel.Option) (*ticklerotel.Metrics, *sdkmetric.ManualReader) {
	t.Helper()
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	m, err := ticklerotel.NewMetrics(append([]ticklerotel.Option{ticklerotel.WithMeterProvider(mp)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m, r
}

// collected is one collection, by instrument name.
type collected map[string]metricdata.Aggregation

func collect(t *testing.T, r *sdkmetric.ManualReader) collected {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	c := collected{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			c[m.Name] = m.Data
		}
	}
	return c
}

// sum returns the value of the sum name at the attributes, and whether it
// is monotonic; it fails the test if there is none.
func (c collected) sum(t *testing.T, name string, attrs ...attribute.KeyValue) (int64, bool) {
	t.Helper()
	s, ok := c[name].(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%s: %T, want an int64 sum", name, c[name])
	}
	want := attribute.NewSet(attrs...)
	for _, dp := range s.DataPoints {
		if dp.Attributes.Equals(&want) {
			return dp.Value, s.IsMonotonic
		}
	}
	t.Fatalf("%s: no data point at %v in %+v", name, attrs, s.DataPoints)
	return 0, false
}

// histogram returns the count and sum of the histogram name at the
// attributes.
func (c collected) histogram(t *testing.T, name string, attrs ...attribute.KeyValue) (uint64, float64) {
	t.Helper()
	h, ok := c[name].(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("%s: %T, want a float64 histogram", name, c[name])
	}
	want := attribute.NewSet(attrs...)
	for _, dp := range h.DataPoints {
		if dp.Attributes.Equals(&want) {
			return dp.Count, dp.Sum
		}
	}
	t.Fatalf("%s: no data point at %v in %+v", name, attrs, h.DataPoints)
	return 0, 0
}

func outcome(k tickler.EventKind) attribute.KeyValue { return attribute.String("outcome", string(k)) }

// TestMetricsCountOutcomesAndLateness drives occurrences to each outcome
// and checks the counter per outcome, the lateness of first
// attempts only and the duration of every attempt.
func TestMetricsCountOutcomesAndLateness(t *testing.T) {
	t.Parallel()
	m, r := newMetrics(t)
	b := ticklertest.NewWith(t, ticklertest.Config{NoStart: true, Options: []tickler.Option{
		tickler.WithEventHandler(m.Handle),
		tickler.WithMisfireGrace(5 * time.Minute),
		tickler.WithRetryPolicy(tickler.RetryPolicy{MaxAttempts: 2, Base: time.Second}),
	}})
	reg, err := m.Observe(b.Scheduler)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Unregister() })
	var fail atomic.Bool
	b.Recorder.SetFunc(func(context.Context, *tickler.Delivery) (tickler.Result, error) {
		if fail.Load() {
			return tickler.Result{}, errors.New("agent down")
		}
		return tickler.Result{}, nil
	})
	e := ticklertest.Epoch()

	// Missed while the scheduler was stopped: one by more than the grace
	// (skipped), one by 30 s (delivered at Start, 30 s late).
	b.Create("agent-1", "missed", tickler.At(e.Add(time.Minute)))
	b.Create("agent-1", "late", tickler.At(e.Add(6*time.Minute)))
	b.Clock.Set(e.Add(6*time.Minute + 30*time.Second))
	b.Start()
	// Fails on time, then fails its retry: a retry, then a give-up.
	fail.Store(true)
	b.Create("agent-1", "down", tickler.At(e.Add(10*time.Minute)))
	b.AdvanceTo(e.Add(11 * time.Minute))

	c := collect(t, r)
	for k, want := range map[tickler.EventKind]int64{
		tickler.EventDelivered: 1, tickler.EventRetry: 1, tickler.EventGaveUp: 1, tickler.EventSkipped: 1,
	} {
		if got, mono := c.sum(t, "tickler.deliveries", outcome(k)); got != want || !mono {
			t.Errorf("tickler.deliveries{outcome=%s} = %d (monotonic %v), want %d, monotonic", k, got, mono, want)
		}
	}
	// First attempts: the late delivery (30 s) and the failing one (on
	// time); the retry was late by design and the skip never started.
	if n, sum := c.histogram(t, "tickler.delivery.lateness"); n != 2 || sum != 30 {
		t.Errorf("lateness: count %d, sum %v s; want 2, 30 s", n, sum)
	}
	for _, k := range []tickler.EventKind{tickler.EventDelivered, tickler.EventRetry, tickler.EventGaveUp} {
		if n, _ := c.histogram(t, "tickler.delivery.duration", outcome(k)); n != 1 {
			t.Errorf("duration{outcome=%s}: count %d, want 1", k, n)
		}
	}
	if n, _ := c.sum(t, "tickler.claims"); n == 0 {
		t.Error("tickler.claims = 0, want the claims the scheduler made")
	}
	for _, name := range []string{"tickler.claim.errors", "tickler.store.errors", "tickler.events.dropped"} {
		if n, _ := c.sum(t, name); n != 0 {
			t.Errorf("%s = %d, want 0", name, n)
		}
	}
}

// TestObserveReportsStats holds deliveries on a worker and checks that the
// occurrence counts are the scheduler's Stats at the collection.
func TestObserveReportsStats(t *testing.T) {
	t.Parallel()
	m, r := newMetrics(t, ticklerotel.WithAttributes(attribute.String("tickler.scheduler", "a")))
	b := ticklertest.New(t, tickler.WithAgentConcurrency(1))
	reg, err := m.Observe(b.Scheduler)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Unregister() })
	release := b.Hold(nil)
	e := ticklertest.Epoch()
	// Two for one agent at once: one runs, one is parked behind it. A
	// third falls due a second later, in the look-ahead window.
	b.Create("agent-1", "x", tickler.At(e.Add(time.Minute)))
	b.Create("agent-1", "y", tickler.At(e.Add(time.Minute)))
	b.Create("agent-2", "z", tickler.At(e.Add(time.Minute+time.Second)))
	b.Clock.Set(e.Add(time.Minute))
	b.WaitStarted(1)
	waitFor(t, func() bool { return b.Scheduler.Stats().Parked == 1 }, "the second delivery to park")

	st := b.Scheduler.Stats()
	c := collect(t, r)
	at := attribute.String("tickler.scheduler", "a")
	for name, want := range map[string]int{
		"tickler.occurrence.in_flight":     1,
		"tickler.occurrence.parked":        1,
		"tickler.occurrence.pending":       st.Pending,
		"tickler.occurrence.waiting_retry": 0,
	} {
		if got, mono := c.sum(t, name, at); got != int64(want) || mono {
			t.Errorf("%s = %d (monotonic %v), want %d, not monotonic", name, got, mono, want)
		}
	}
	if st.Pending != 1 {
		t.Errorf("Stats().Pending = %d, want the one due in a second", st.Pending)
	}
	release()
	b.Settle()
}

func TestObserveOneSchedulerAtATime(t *testing.T) {
	t.Parallel()
	m, r := newMetrics(t)
	b := ticklertest.New(t)
	reg, err := m.Observe(b.Scheduler)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Observe(b.Scheduler); err == nil {
		t.Fatal("a second Observe succeeded, want an error while the first is registered")
	}
	if err := reg.Unregister(); err != nil {
		t.Fatal(err)
	}
	if err := reg.Unregister(); err != nil {
		t.Fatalf("a second Unregister: %v", err)
	}
	if _, ok := collect(t, r)["tickler.claims"]; ok {
		t.Error("tickler.claims still reported after Unregister")
	}
	reg, err = m.Observe(b.Scheduler)
	if err != nil {
		t.Fatalf("Observe after Unregister: %v", err)
	}
	t.Cleanup(func() { _ = reg.Unregister() })
	if n, _ := collect(t, r).sum(t, "tickler.claims"); n == 0 {
		t.Error("tickler.claims = 0 after observing again")
	}
}

func TestLatenessIsNeverNegative(t *testing.T) {
	t.Parallel()
	m, r := newMetrics(t)
	e := ticklertest.Epoch()
	m.Handle(tickler.Event{Kind: tickler.EventDelivered, Attempt: 1, Occurrence: e, Started: e.Add(-time.Second)})
	if n, sum := collect(t, r).histogram(t, "tickler.delivery.lateness"); n != 1 || sum != 0 {
		t.Errorf("lateness: count %d, sum %v; want 1, 0", n, sum)
	}
}

// waitFor polls cond until it holds, failing the test after the bundle's
// default wait. Each poll yields to the scheduler's goroutines; none
// sleeps.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(ticklertest.DefaultWaitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
	}
}
