package telemetry

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/tickler-go/tickler"
	ticklerotel "github.com/tickler-go/tickler/otel"
	"github.com/tickler-go/tickler/ticklertest"
)

func TestExportedFollowsTheStandardVariables(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env             map[string]string
		traces, metrics bool
	}{
		{env: nil},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, traces: true, metrics: true},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, traces: true},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://collector:4318/v1/metrics"}, metrics: true},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_METRICS_EXPORTER": "none"}, traces: true},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "console"}, traces: true},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "true"}},
	} {
		getenv := func(k string) string { return tc.env[k] }
		if tr, me := exported(getenv, "TRACES"), exported(getenv, "METRICS"); tr != tc.traces || me != tc.metrics {
			t.Errorf("%v: traces %v, metrics %v; want %v, %v", tc.env, tr, me, tc.traces, tc.metrics)
		}
	}
}

// TestPrometheusServesTicklerMetrics delivers an occurrence and scrapes the
// handler: the instruments appear under their Prometheus names.
func TestPrometheusServesTicklerMetrics(t *testing.T) {
	t.Parallel()
	r, h, err := Prometheus()
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	m, err := ticklerotel.NewMetrics(ticklerotel.WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	b := ticklertest.New(t, tickler.WithEventHandler(m.Handle))
	reg, err := m.Observe(b.Scheduler)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Unregister() })
	b.Create("agent-1", "x", tickler.At(ticklertest.Epoch().Add(time.Minute)))
	b.Advance(time.Minute)

	body := scrape(t, h)
	for _, want := range []string{
		`tickler_deliveries_total{otel_scope_name="github.com/tickler-go/tickler/otel",otel_scope_schema_url="",otel_scope_version="",outcome="delivered"} 1`,
		"tickler_delivery_lateness_seconds_count{",
		"tickler_delivery_duration_seconds_bucket{",
		"tickler_occurrence_pending{",
		"tickler_claims_total{",
		"# HELP tickler_deliveries_total Attempts and skips",
		"go_goroutines ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the scrape lacks %q:\n%s", want, body)
		}
	}
}

func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// TestSetupWithoutExportIsOnlyPrometheus checks that without the
// variables nothing is exported: spans are no-ops, metrics only scraped.
func TestSetupWithoutExportIsOnlyPrometheus(t *testing.T) {
	t.Parallel()
	tel, err := setup(context.Background(), Config{Prometheus: true}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	_, span := tel.TracerProvider.Tracer("t").Start(context.Background(), "s")
	if span.SpanContext().IsValid() {
		t.Error("a span was recorded with no traces exporter")
	}
	if tel.Metrics == nil {
		t.Fatal("no /metrics handler with Config.Prometheus")
	}
	if _, err := setup(context.Background(), Config{}, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
}

// TestSetupExportsOTLPWhenTheEndpointIsSet points the OTLP exporters at a
// collector on the loopback and checks that Shutdown flushes a span and
// the metrics to it over OTLP/HTTP. It sets the process's environment, as
// autoexport reads it, so it does not run in parallel.
func TestSetupExportsOTLPWhenTheEndpointIsSet(t *testing.T) {
	var mu sync.Mutex
	got := map[string]int{}
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		got[r.Method+" "+r.URL.Path]++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_SERVICE_NAME", "tickler-test")

	ctx, cancel := context.WithTimeout(context.Background(), ticklertest.DefaultWaitTimeout)
	defer cancel()
	tel, err := Setup(ctx, Config{ServiceVersion: "v0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if tel.Metrics != nil {
		t.Error("a /metrics handler without Config.Prometheus")
	}
	_, span := tel.TracerProvider.Tracer("t").Start(ctx, "s")
	span.End()
	c, err := tel.MeterProvider.Meter("t").Int64Counter("c")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(ctx, 1)
	if err := tel.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got["POST /v1/traces"] == 0 || got["POST /v1/metrics"] == 0 {
		t.Errorf("the collector received %v, want POST /v1/traces and /v1/metrics", got)
	}
}
