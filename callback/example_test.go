package callback_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/callback"
)

// A Sender turns the scheduler's events into POSTs to each scheduled
// message's callback_url. Here a local receiver stands in for the host's
// webhook, so the example allows private addresses; a real server should
// not.
func Example() {
	got := make(chan string, 1)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- r.Header.Get("Idempotency-Key") + "\n" + string(body)
	}))
	defer receiver.Close()

	cb := callback.New(callback.AllowPrivate(), callback.WithTimeout(5*time.Second))
	// In a host: tickler.New(store, deliverer, tickler.WithEventHandler(cb.Handle)).
	// Here the event the scheduler would emit is made by hand.
	occ := time.Date(2026, 8, 7, 22, 0, 0, 0, time.UTC)
	cb.Handle(tickler.Event{
		Kind:               tickler.EventDelivered,
		ScheduledMessageID: "sm-1",
		AgentID:            "agent-1",
		Occurrence:         occ,
		IdempotencyKey:     tickler.IdempotencyKey("sm-1", occ),
		Attempt:            1,
		Result:             tickler.Result{RunID: "run-42", Response: map[string]string{"reply": "Good morning!"}},
		CallbackURL:        receiver.URL + "/hooks/tickler",
	})
	fmt.Println(<-got)

	// After the scheduler has stopped:
	if err := cb.Close(context.Background()); err != nil {
		fmt.Println(err)
	}
	fmt.Printf("%+v\n", cb.Stats())
	// Output:
	// sm-1@1786140000000
	// {"scheduled_message_id":"sm-1","agent_id":"agent-1","occurrence":"2026-08-07T22:00:00.000Z","idempotency_key":"sm-1@1786140000000","status":"success","attempts":1,"response":{"reply":"Good morning!"},"run_id":"run-42","error":null}
	// {Sent:1 Failed:0 Dropped:0 HostsOpen:0}
}
