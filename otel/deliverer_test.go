package ticklerotel_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/tickler-go/tickler"
	ticklerotel "github.com/tickler-go/tickler/otel"
	"github.com/tickler-go/tickler/ticklertest"
)

// newTracer returns a TracerProvider whose ended spans the recorder keeps.
func newTracer(t *testing.T) (*sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, rec
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

// TestDelivererSpansAreChildrenOfStartsContext starts the scheduler with a
// host span in its context and checks that each attempt's span is that
// span's child, carries the occurrence's attributes and is what the next
// Deliverer sees; a failed attempt's span has an error status.
func TestDelivererSpansAreChildrenOfStartsContext(t *testing.T) {
	t.Parallel()
	tp, spans := newTracer(t)
	b := ticklertest.NewWith(t, ticklertest.Config{NoStart: true, Options: []tickler.Option{
		tickler.WithRetryPolicy(tickler.RetryPolicy{MaxAttempts: 1}),
	}})
	seen := make(chan trace.SpanContext, 10)
	traced := ticklerotel.Deliverer(tickler.DelivererFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		seen <- trace.SpanContextFromContext(ctx)
		if d.Message.Messages[0].Content.Text == "fail" {
			return tickler.Result{}, errors.New("agent down")
		}
		return tickler.Result{RunID: "run-" + d.AgentID}, nil
	}), ticklerotel.WithTracerProvider(tp))
	b.Recorder.SetFunc(traced.Deliver)

	ctx, host := tp.Tracer("host").Start(context.Background(), "host")
	defer host.End()
	if err := b.Scheduler.Start(ctx); err != nil {
		t.Fatal(err)
	}
	e := ticklertest.Epoch()
	ok := b.Create("agent-1", "ok", tickler.At(e.Add(time.Minute)))
	b.Advance(time.Minute)
	b.Create("agent-2", "fail", tickler.At(e.Add(2*time.Minute)))
	b.Advance(time.Minute)
	later := b.Create("agent-2", "fail", tickler.At(e.Add(time.Hour)))
	key, err := b.Scheduler.Trigger(context.Background(), "agent-2", later.ID)
	if err != nil {
		t.Fatal(err)
	}
	b.Settle()

	ended := spans.Ended()
	if len(ended) != 3 {
		t.Fatalf("%d spans ended, want 3", len(ended))
	}
	for i, s := range ended {
		if s.Name() != "tickler.deliver" || s.Parent().SpanID() != host.SpanContext().SpanID() || s.Parent().TraceID() != host.SpanContext().TraceID() {
			t.Errorf("span %d: %q with parent %v, want tickler.deliver under the host's span %v", i, s.Name(), s.Parent().SpanID(), host.SpanContext().SpanID())
		}
		if got := <-seen; got.SpanID() != s.SpanContext().SpanID() {
			t.Errorf("span %d: the next Deliverer saw span %v, want %v", i, got.SpanID(), s.SpanContext().SpanID())
		}
	}

	a := attrs(ended[0])
	for k, want := range map[attribute.Key]attribute.Value{
		"tickler.scheduled_message.id": attribute.StringValue(ok.ID),
		"tickler.agent.id":             attribute.StringValue("agent-1"),
		"tickler.occurrence":           attribute.StringValue("2026-01-01T00:01:00Z"),
		"tickler.idempotency_key":      attribute.StringValue(tickler.IdempotencyKey(ok.ID, e.Add(time.Minute))),
		"tickler.attempt":              attribute.IntValue(1),
		"tickler.triggered":            attribute.BoolValue(false),
		"tickler.run.id":               attribute.StringValue("run-agent-1"),
	} {
		if a[k] != want {
			t.Errorf("delivered span: %s = %v, want %v", k, a[k].Emit(), want.Emit())
		}
	}
	if st := ended[0].Status(); st.Code != codes.Unset {
		t.Errorf("delivered span: status %v, want unset", st)
	}

	for i, s := range ended[1:] {
		if st := s.Status(); st.Code != codes.Error || st.Description != "agent down" {
			t.Errorf("failed span %d: status %+v, want Error \"agent down\"", i, st)
		}
		if ev := s.Events(); len(ev) != 1 || ev[0].Name != "exception" {
			t.Errorf("failed span %d: events %+v, want the error recorded", i, ev)
		}
		if _, ok := attrs(s)["tickler.run.id"]; ok {
			t.Errorf("failed span %d has a run id", i)
		}
	}
	if a := attrs(ended[2]); a["tickler.triggered"] != attribute.BoolValue(true) || a["tickler.idempotency_key"] != attribute.StringValue(key) {
		t.Errorf("triggered span: triggered %v, key %v; want true, %q", a["tickler.triggered"].Emit(), a["tickler.idempotency_key"].Emit(), key)
	}
}

// TestDelivererEndsTheSpanOfAPanic checks that a panicking Deliverer's
// span ends with an error status and the panic goes on to the scheduler.
func TestDelivererEndsTheSpanOfAPanic(t *testing.T) {
	t.Parallel()
	tp, spans := newTracer(t)
	d := ticklerotel.Deliverer(tickler.DelivererFunc(func(context.Context, *tickler.Delivery) (tickler.Result, error) {
		panic("boom")
	}), ticklerotel.WithTracerProvider(tp))
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Errorf("recovered %v, want the Deliverer's panic", p)
			}
		}()
		_, _ = d.Deliver(context.Background(), &tickler.Delivery{ScheduledMessageID: "id", AgentID: "a", Attempt: 1})
	}()
	ended := spans.Ended()
	if len(ended) != 1 {
		t.Fatalf("%d spans ended, want 1", len(ended))
	}
	if st := ended[0].Status(); st.Code != codes.Error || st.Description != "panic: boom" {
		t.Errorf("status %+v, want Error \"panic: boom\"", st)
	}
}
