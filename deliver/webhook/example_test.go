package webhook_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/deliver/webhook"
	"github.com/tickler-go/tickler/stdwebhook"
)

func Example() {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

	// The host's receiver checks the signature before it acts.
	check, _ := stdwebhook.ParseSecret(secret)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := check.Verify(r.Header, body, time.Now(), 0); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		fmt.Println("verified", r.Header.Get("webhook-id"))
		fmt.Fprint(w, `{"run_id":"job-7"}`)
	}))
	defer srv.Close()

	d, err := webhook.New(srv.URL+"/hooks/tickler", secret)
	if err != nil {
		panic(err)
	}
	occ := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	res, err := d.Deliver(context.Background(), &tickler.Delivery{
		ScheduledMessageID: "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
		AgentID:            "agent-123e4567-e89b-42d3-8456-426614174000",
		Message:            tickler.MessageCreate{Messages: []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text("ping")}}},
		Occurrence:         occ,
		IdempotencyKey:     tickler.IdempotencyKey("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", occ),
		Attempt:            1,
	})
	fmt.Println("run:", res.RunID, "err:", err)
	// Output:
	// verified 0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b@1796115600000
	// run: job-7 err: <nil>
}
