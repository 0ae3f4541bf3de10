package ticklerotel_test

import (
	"context"
	"fmt"
	"time"

	"github.com/benbjohnson/clock"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/memory"
	ticklerotel "github.com/tickler-go/tickler/otel"
	"github.com/tickler-go/tickler/ticklertest"
)

// The wiring: a traced Deliverer, Metrics taking the events beside a
// handler of the host's, and Metrics observing the scheduler's Stats. A
// host passes no providers and gets the global ones; this example reads
// its own, by hand, to print what was recorded.
func Example() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))

	m, err := ticklerotel.NewMetrics(ticklerotel.WithMeterProvider(mp))
	if err != nil {
		panic(err)
	}
	deliverer := tickler.DelivererFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		// ctx holds the attempt's span: the host's own spans nest in it.
		return tickler.Result{RunID: "run-1"}, nil
	})
	logEvent := func(ev tickler.Event) { fmt.Println("event:", ev.Kind, ev.AgentID) }

	clk := clock.NewMock() // a mock clock, so that the output is exact
	clk.Set(time.Date(2026, 8, 7, 21, 59, 0, 0, time.UTC))
	s, err := tickler.New(memory.New(), ticklerotel.Deliverer(deliverer, ticklerotel.WithTracerProvider(tp)),
		tickler.WithEventHandler(ticklerotel.Handlers(m.Handle, logEvent)),
		tickler.WithClock(ticklertest.Clock(clk)))
	if err != nil {
		panic(err)
	}
	reg, err := m.Observe(s)
	if err != nil {
		panic(err)
	}
	defer reg.Unregister()

	ctx := context.Background()
	if err := s.Start(ctx); err != nil {
		panic(err)
	}
	defer s.Stop(ctx)
	_, err = s.Create(ctx, "agent-1", tickler.CreateRequest{
		Messages: []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text("stretch")}},
		Schedule: tickler.At(time.Date(2026, 8, 7, 22, 0, 0, 0, time.UTC)),
	})
	if err != nil {
		panic(err)
	}
	clk.Add(time.Minute)
	_ = s.WaitIdle(ctx)

	for _, sp := range spans.Ended() {
		fmt.Println("span:", sp.Name())
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		panic(err)
	}
	for _, met := range rm.ScopeMetrics[0].Metrics {
		if sum, ok := met.Data.(metricdata.Sum[int64]); ok && met.Name == "tickler.deliveries" {
			for _, dp := range sum.DataPoints {
				if outcome, _ := dp.Attributes.Value("outcome"); dp.Value > 0 {
					fmt.Printf("%s{outcome=%s} %d\n", met.Name, outcome.AsString(), dp.Value)
				}
			}
		}
	}
	// Output:
	// event: delivered agent-1
	// span: tickler.deliver
	// tickler.deliveries{outcome=delivered} 1
}
