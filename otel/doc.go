// Package ticklerotel instruments a [tickler.Scheduler] with OpenTelemetry
// metrics and traces. It is a module of its own, so that the tickler
// module depends on no part of OpenTelemetry; it uses the OpenTelemetry
// API only, and the host chooses the SDK and exporters (see the telemetry
// package beside it for a server's).
//
// Wiring takes three calls:
//
//	m, err := ticklerotel.NewMetrics()
//	s, err := tickler.New(store, ticklerotel.Deliverer(d), tickler.WithEventHandler(m.Handle))
//	reg, err := m.Observe(s) // reg.Unregister() when s is gone
//
// [Deliverer] wraps the host's Deliverer in a span per attempt. Deliver's
// context carries the values of the context given to [tickler.Scheduler.Start],
// so the spans are children of the span that context holds, if any.
//
// [Metrics.Handle] takes the scheduler's events and records the lateness
// and duration histograms; [Metrics.Observe] reports the scheduler's
// [tickler.Stats] at every collection: the counts of deliveries by
// outcome, claims and errors, and the occurrences pending, in flight,
// waiting for a retry and parked. The counts come from Stats rather than
// from events, so they stay exact when the event queue drops events (which
// tickler.events.dropped counts); a dropped event costs only its
// histogram samples. A host that needs an event handler of its own as well
// passes both through [Handlers].
//
// # Metrics
//
// Names and units follow OpenTelemetry's semantic conventions; a
// Prometheus exporter renders tickler.deliveries as
// tickler_deliveries_total and tickler.delivery.lateness as
// tickler_delivery_lateness_seconds.
//
//	tickler.deliveries               counter        {delivery}    attempts and skips, by outcome: delivered, retry, gave_up, skipped
//	tickler.delivery.lateness        histogram      s             how late the first attempt at an occurrence started (Started − Occurrence)
//	tickler.delivery.duration        histogram      s             how long the Deliverer took, by outcome: delivered, retry, gave_up
//	tickler.occurrence.pending       updowncounter  {occurrence}  in the look-ahead window, waiting to fall due (retries included)
//	tickler.occurrence.waiting_retry updowncounter  {occurrence}  whose next attempt is pending
//	tickler.occurrence.in_flight     updowncounter  {occurrence}  on a worker
//	tickler.occurrence.parked        updowncounter  {occurrence}  waiting for their agent's turn
//	tickler.claims                   counter        {claim}       claims from the store
//	tickler.claim.errors             counter        {error}       claims that failed
//	tickler.store.errors             counter        {error}       failed reads and records of occurrences
//	tickler.events.dropped           counter        {event}       events the handler fell too far behind to receive
//
// The occurrence counts are asynchronous UpDownCounters rather than
// gauges because they add up: the sum over several schedulers is the
// number pending in all of them. Prometheus shows them as gauges.
//
// # Spans
//
// Each attempt is a span named tickler.deliver, with the attributes
// tickler.scheduled_message.id, tickler.agent.id, tickler.occurrence (RFC
// 3339, UTC), tickler.idempotency_key, tickler.attempt and
// tickler.triggered, and tickler.run.id when the Deliverer reports one. A
// failed attempt records its error and sets the span's status to Error; a
// panic does too, and goes on to the scheduler, which fails the attempt.
package ticklerotel

// scope is the instrumentation scope of the meter and the tracer.
const scope = "github.com/tickler-go/tickler/otel"
