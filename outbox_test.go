package tickler_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/memory"
	"github.com/tickler-go/tickler/ticklertest"
)

// storeOnly hides every optional interface of the store it wraps.
type storeOnly struct{ tickler.Store }

func TestWithCallbackOutboxNeedsAStoreThatKeepsOne(t *testing.T) {
	t.Parallel()
	_, err := tickler.New(storeOnly{memory.New()}, &ticklertest.Recorder{}, tickler.WithCallbackOutbox())
	if err == nil || !strings.Contains(err.Error(), "CallbackOutbox") {
		t.Fatalf("New = %v, want an error naming CallbackOutbox", err)
	}
}

// recordingStore records the acks it is given.
type recordingStore struct {
	*memory.Store
	acks chan tickler.AckParams
}

func (s recordingStore) Ack(ctx context.Context, p tickler.AckParams) error {
	s.acks <- p
	return s.Store.Ack(ctx, p)
}

// The ack carries the callback only when the host opted in, and the final
// event says the outbox holds it only when the ack applied.
func TestAckCarriesTheCallbackOnlyWithTheOutbox(t *testing.T) {
	t.Parallel()
	for _, optIn := range []bool{false, true} {
		st := recordingStore{memory.New(), make(chan tickler.AckParams, 10)}
		events := make(chan tickler.Event, 10)
		opts := []tickler.Option{tickler.WithEventHandler(func(ev tickler.Event) { events <- ev })}
		if optIn {
			opts = append(opts, tickler.WithCallbackOutbox())
		}
		b := ticklertest.NewWith(t, ticklertest.Config{Store: st, Options: opts})
		sm, err := b.Scheduler.Create(t.Context(), "agent", tickler.CreateRequest{
			Messages: []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text("hi")}},
			Schedule: tickler.Cron("0 * * * *"), CallbackURL: "https://example.com/hook",
		})
		if err != nil {
			t.Fatal(err)
		}
		b.Advance(time.Hour)
		ack := <-st.acks
		ev := <-events
		switch {
		case !optIn && (ack.Callback != nil || ev.CallbackQueued):
			t.Fatalf("without the option: ack callback %+v, event queued %v", ack.Callback, ev.CallbackQueued)
		case optIn && (ack.Callback == nil || !ev.CallbackQueued):
			t.Fatalf("with the option: ack callback %+v, event queued %v", ack.Callback, ev.CallbackQueued)
		case optIn && (ack.Callback.Key != ev.IdempotencyKey || ack.Callback.OutcomeID != ack.Outcome.ID ||
			ack.Callback.ScheduledMessageID != sm.ID || ack.Callback.URL != "https://example.com/hook"):
			t.Fatalf("callback %+v for event %+v", ack.Callback, ev)
		}
	}
}
