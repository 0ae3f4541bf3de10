// Package telemetry sets up OpenTelemetry for a server that embeds
// tickler, such as cmd/tickler: a Prometheus /metrics handler, and OTLP
// export of traces and metrics when the standard OTEL_* environment
// variables ask for it. Pass its providers to the ticklerotel package:
//
//	tel, err := telemetry.Setup(ctx, telemetry.Config{Prometheus: true, ServiceVersion: version})
//	defer tel.Shutdown(ctx)
//	mux.Handle("GET /metrics", tel.Metrics)
//	m, err := ticklerotel.NewMetrics(ticklerotel.WithMeterProvider(tel.MeterProvider))
//	d = ticklerotel.Deliverer(d, ticklerotel.WithTracerProvider(tel.TracerProvider))
//
// It is apart from ticklerotel so that a host instrumenting tickler with
// an SDK of its own links none of the exporters.
//
// # Prometheus
//
// [Prometheus] bridges the OpenTelemetry instruments to a Prometheus
// registry with OpenTelemetry's Prometheus exporter, so one set of
// instruments feeds both /metrics and OTLP, and names follow the
// exporter's translation (tickler.deliveries, unit {delivery}, becomes
// tickler_deliveries_total; tickler.delivery.lateness, unit s,
// tickler_delivery_lateness_seconds).
//
// # Environment
//
// A signal (traces, metrics) is exported when OTEL_TRACES_EXPORTER or
// OTEL_METRICS_EXPORTER names an exporter other than "none", or, if that
// is unset, when OTEL_EXPORTER_OTLP_ENDPOINT or the signal's own
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_METRICS_ENDPOINT
// is set; OTEL_SDK_DISABLED=true turns both off. The exporter is then
// built by go.opentelemetry.io/contrib/exporters/autoexport, which reads
// the rest of the standard variables: OTEL_EXPORTER_OTLP_PROTOCOL
// (http/protobuf by default, or grpc), headers, timeouts, TLS, and the
// "console" and "prometheus" exporters. OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES override the resource's attributes.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// Prometheus returns a metric reader that exports to a Prometheus registry
// of its own, and a handler that serves the registry in the Prometheus
// exposition formats at every scrape. The registry also holds the Go
// runtime's and the process's collectors. Add the reader to a
// MeterProvider (sdkmetric.WithReader) and serve the handler at /metrics.
func Prometheus() (sdkmetric.Reader, http.Handler, error) {
	reg := prometheus.NewRegistry()
	if err := errors.Join(
		reg.Register(collectors.NewGoCollector()),
		reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})),
	); err != nil {
		return nil, nil, fmt.Errorf("telemetry: Prometheus: %w", err)
	}
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, nil, fmt.Errorf("telemetry: Prometheus: %w", err)
	}
	return exp, promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}), nil
}

// Config says what [Setup] builds.
type Config struct {
	// ServiceName is the resource's service.name unless
	// OTEL_SERVICE_NAME says otherwise; "tickler" if empty.
	ServiceName string
	// ServiceVersion is the resource's service.version, if set.
	ServiceVersion string
	// Prometheus adds a [Prometheus] reader and its handler.
	Prometheus bool
}

// Telemetry holds the providers [Setup] built.
type Telemetry struct {
	// MeterProvider is an SDK provider if anything reads metrics (the
	// Prometheus handler or an exporter), a no-op one otherwise.
	MeterProvider metric.MeterProvider
	// TracerProvider is an SDK provider if traces are exported, a no-op
	// one otherwise.
	TracerProvider trace.TracerProvider
	// Metrics serves the metrics in the Prometheus formats; it is nil
	// unless Config.Prometheus.
	Metrics http.Handler

	shutdown []func(context.Context) error
}

// Shutdown flushes what is buffered to the exporters and stops them; it
// returns when they are done or ctx ends. The providers record nothing
// after it.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	var errs []error
	for _, f := range t.shutdown {
		errs = append(errs, f(ctx))
	}
	t.shutdown = nil
	return errors.Join(errs...)
}

// Setup builds the providers that cfg and the process's environment ask
// for (see the package documentation). It sets no global: a host that
// wants its other instrumentation to use them passes them to
// otel.SetMeterProvider and otel.SetTracerProvider. On error, whatever
// was built is shut down.
func Setup(ctx context.Context, cfg Config) (*Telemetry, error) {
	return setup(ctx, cfg, os.Getenv)
}

func setup(ctx context.Context, cfg Config, getenv func(string) string) (t *Telemetry, err error) {
	t = &Telemetry{MeterProvider: metricnoop.NewMeterProvider(), TracerProvider: tracenoop.NewTracerProvider()}
	defer func() {
		if err != nil {
			err = errors.Join(fmt.Errorf("telemetry: Setup: %w", err), t.Shutdown(ctx))
			t = nil
		}
	}()
	traces, metrics := exported(getenv, "TRACES"), exported(getenv, "METRICS")
	if !traces && !metrics && !cfg.Prometheus {
		return t, nil
	}
	name := cfg.ServiceName
	if name == "" {
		name = "tickler"
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", name)}
	if cfg.ServiceVersion != "" {
		attrs = append(attrs, attribute.String("service.version", cfg.ServiceVersion))
	}
	// Later detectors win: the environment over cfg.
	res, err := resource.New(ctx, resource.WithTelemetrySDK(), resource.WithAttributes(attrs...), resource.WithFromEnv())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return t, err
	}

	var readers []sdkmetric.Option
	if cfg.Prometheus {
		r, h, err := Prometheus()
		if err != nil {
			return t, err
		}
		readers, t.Metrics = append(readers, sdkmetric.WithReader(r)), h
	}
	if metrics {
		r, err := autoexport.NewMetricReader(ctx)
		if err != nil {
			return t, err
		}
		if autoexport.IsNoneMetricReader(r) {
			_ = r.Shutdown(ctx)
		} else {
			readers = append(readers, sdkmetric.WithReader(r))
		}
	}
	if len(readers) > 0 {
		mp := sdkmetric.NewMeterProvider(append(readers, sdkmetric.WithResource(res))...)
		t.MeterProvider, t.shutdown = mp, append(t.shutdown, mp.Shutdown)
	}
	if traces {
		exp, err := autoexport.NewSpanExporter(ctx)
		if err != nil {
			return t, err
		}
		if !autoexport.IsNoneSpanExporter(exp) {
			tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
			t.TracerProvider, t.shutdown = tp, append(t.shutdown, tp.Shutdown)
		}
	}
	return t, nil
}

// exported reports whether the environment asks for the signal ("TRACES"
// or "METRICS") to be exported.
func exported(getenv func(string) string, signal string) bool {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false
	}
	if e := strings.TrimSpace(getenv("OTEL_" + signal + "_EXPORTER")); e != "" {
		return e != "none"
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_"+signal+"_ENDPOINT") != ""
}
