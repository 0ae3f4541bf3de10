package ticklerotel

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/tickler-go/tickler"
)

// spanName names the span of every attempt: one name, so that a tracing
// backend groups them; the attributes tell them apart.
const spanName = "tickler.deliver"

// The span attributes.
const (
	attrScheduleID     = attribute.Key("tickler.scheduled_message.id")
	attrAgentID        = attribute.Key("tickler.agent.id")
	attrOccurrence     = attribute.Key("tickler.occurrence")
	attrIdempotencyKey = attribute.Key("tickler.idempotency_key")
	attrAttempt        = attribute.Key("tickler.attempt")
	attrTriggered      = attribute.Key("tickler.triggered")
	attrRunID          = attribute.Key("tickler.run.id")
)

// Deliverer returns a Deliverer that runs each attempt through next inside
// a span (see the package's list of attributes), started from the
// TracerProvider of [WithTracerProvider], or the global one. The span is a
// child of whatever span Deliver's context holds (the scheduler's Start
// context's, if any), and next receives the span's context, so the host's
// own spans (an HTTP client's, say) are children of it. A failed attempt
// records its error and sets the span's status to Error; a panic in next
// does too, and goes on. The result and error are next's, unchanged.
func Deliverer(next tickler.Deliverer, opts ...Option) tickler.Deliverer {
	c := newConfig(opts)
	return &deliverer{next: next, tracer: c.tracerProvider.Tracer(scope)}
}

type deliverer struct {
	next   tickler.Deliverer
	tracer trace.Tracer
}

func (t *deliverer) Deliver(ctx context.Context, d *tickler.Delivery) (res tickler.Result, err error) {
	ctx, span := t.tracer.Start(ctx, spanName,
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(
			attrScheduleID.String(d.ScheduledMessageID),
			attrAgentID.String(d.AgentID),
			attrOccurrence.String(d.Occurrence.UTC().Format(time.RFC3339Nano)),
			attrIdempotencyKey.String(d.IdempotencyKey),
			attrAttempt.Int(d.Attempt),
			attrTriggered.Bool(d.Triggered),
		))
	defer func() {
		if p := recover(); p != nil {
			span.SetStatus(codes.Error, fmt.Sprint("panic: ", p))
			span.End()
			panic(p)
		}
		switch {
		case err != nil:
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		case res.RunID != "":
			span.SetAttributes(attrRunID.String(res.RunID))
		}
		span.End()
	}()
	return t.next.Deliver(ctx, d)
}
