package ticklerotel

import "github.com/tickler-go/tickler"

// Handlers returns an event handler that hands each event to every fn in
// turn, skipping nil ones: [tickler.WithEventHandler] takes one handler,
// and a host that records metrics with [Metrics.Handle] may have its own.
// Every fn sees every event even if one panics; the first panic goes on
// once all have run, so that the scheduler logs it. The handlers run on
// the scheduler's event goroutine: a slow one delays the others and, once
// the event queue is full, makes the scheduler drop events.
func Handlers(fns ...func(tickler.Event)) func(tickler.Event) {
	var hs []func(tickler.Event)
	for _, fn := range fns {
		if fn != nil {
			hs = append(hs, fn)
		}
	}
	return func(ev tickler.Event) {
		var first any
		for _, fn := range hs {
			func() {
				defer func() {
					if p := recover(); p != nil && first == nil {
						first = p
					}
				}()
				fn(ev)
			}()
		}
		if first != nil {
			panic(first)
		}
	}
}
