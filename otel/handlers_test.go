package ticklerotel_test

import (
	"slices"
	"testing"

	"github.com/tickler-go/tickler"
	ticklerotel "github.com/tickler-go/tickler/otel"
)

func TestHandlersHandEveryEventToEachEvenIfOnePanics(t *testing.T) {
	t.Parallel()
	var got []string
	h := ticklerotel.Handlers(
		func(ev tickler.Event) { got = append(got, "a:"+ev.IdempotencyKey); panic("a") },
		nil,
		func(ev tickler.Event) { got = append(got, "b:"+ev.IdempotencyKey); panic("b") },
		func(ev tickler.Event) { got = append(got, "c:"+ev.IdempotencyKey) },
	)
	func() {
		defer func() {
			if p := recover(); p != "a" {
				t.Errorf("recovered %v, want the first panic, a", p)
			}
		}()
		h(tickler.Event{IdempotencyKey: "k"})
	}()
	if want := []string{"a:k", "b:k", "c:k"}; !slices.Equal(got, want) {
		t.Errorf("handled %v, want %v", got, want)
	}
}
