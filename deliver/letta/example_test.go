package letta_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/deliver/letta"
)

func Example() {
	// A stand-in for Letta: it prints what it receives and answers as
	// Letta does.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Messages []tickler.Message `json:"messages"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		fmt.Println(r.Method, r.URL.Path, r.Header.Get("Authorization"))
		fmt.Println("otid:", *body.Messages[0].OTID)
		fmt.Fprint(w, `{"messages":[],"stop_reason":{"message_type":"stop_reason","stop_reason":"end_turn"},"usage":{"run_ids":["run-5e1f0c2a"]}}`)
	}))
	defer srv.Close()

	// In production: letta.New("https://api.letta.com", letta.WithToken(os.Getenv("LETTA_API_KEY"))).
	d, err := letta.New(srv.URL, letta.WithToken("sk-let-example"))
	if err != nil {
		panic(err)
	}
	// Pass d to tickler.New; here it is called directly, as the
	// scheduler calls it when an occurrence is due.
	occ := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	res, err := d.Deliver(context.Background(), &tickler.Delivery{
		ScheduledMessageID: "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
		AgentID:            "agent-123e4567-e89b-42d3-8456-426614174000",
		Message:            tickler.MessageCreate{Messages: []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text("Good morning")}}},
		Occurrence:         occ,
		IdempotencyKey:     tickler.IdempotencyKey("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", occ),
		Attempt:            1,
	})
	fmt.Println("run:", res.RunID, "err:", err)
	// Output:
	// POST /v1/agents/agent-123e4567-e89b-42d3-8456-426614174000/messages Bearer sk-let-example
	// otid: 4510f856-0458-555f-8cd4-9f4d194ae559
	// run: run-5e1f0c2a err: <nil>
}
