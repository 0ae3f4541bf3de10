package openai_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/deliver/openai"
)

func Example() {
	// A stand-in for Letta's App Server.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println(r.Method, r.URL.Path)
		fmt.Println("Idempotency-Key:", r.Header.Get("Idempotency-Key"))
		fmt.Println("X-Letta-Chat-Key:", r.Header.Get("X-Letta-Chat-Key"))
		fmt.Fprint(w, `{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"On it."},"finish_reason":"stop"}]}`)
	}))
	defer srv.Close()

	d, err := openai.New(srv.URL,
		// One App Server conversation per schedule.
		openai.WithChatKey(func(d *tickler.Delivery) string { return d.ScheduledMessageID }))
	if err != nil {
		panic(err)
	}
	occ := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	res, err := d.Deliver(context.Background(), &tickler.Delivery{
		ScheduledMessageID: "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
		AgentID:            "agent-123e4567-e89b-42d3-8456-426614174000",
		Message:            tickler.MessageCreate{Messages: []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text("Daily review")}}},
		Occurrence:         occ,
		IdempotencyKey:     tickler.IdempotencyKey("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", occ),
		Attempt:            1,
	})
	fmt.Println("run:", res.RunID, "err:", err)
	// Output:
	// POST /v1/chat/completions
	// Idempotency-Key: 0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b@1796115600000
	// X-Letta-Chat-Key: 0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b
	// run: chatcmpl-1 err: <nil>
}
