package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/httpapi"
	"github.com/tickler-go/tickler/memory"
	"github.com/tickler-go/tickler/ticklertest"
)

// The handler serves a scheduler with Letta's API. A real host listens
// with http.ListenAndServe("127.0.0.1:8283", h); here an httptest server
// and a mock clock keep the output fixed.
func Example() {
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	deliver := tickler.DelivererFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		return tickler.Result{}, nil // hand d.Message to the agent here
	})
	s, err := tickler.New(memory.New(), deliver, tickler.WithClock(ticklertest.Clock(clk)))
	if err != nil {
		panic(err)
	}
	if err := s.Start(context.Background()); err != nil {
		panic(err)
	}
	defer s.Stop(context.Background())

	h := httpapi.New(s, httpapi.WithAuthorizer(httpapi.BearerToken("secret")))
	srv := httptest.NewServer(h)
	defer srv.Close()

	call := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer secret")
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}

	// 2026-01-01T09:00:00Z in Unix milliseconds.
	status, body := call("POST", "/v1/agents/agent-1/schedule",
		`{"messages":[{"role":"user","content":"Good morning!"}],"schedule":{"scheduled_at":1767258000000}}`)
	var created struct {
		ID              string `json:"id"`
		NextScheduledAt string `json:"next_scheduled_at"`
	}
	_ = json.Unmarshal([]byte(body), &created)
	fmt.Println(status, created.NextScheduledAt)

	status, body = call("GET", "/v1/agents/agent-1/schedule/"+created.ID, "")
	fmt.Println(status, strings.Replace(body, created.ID, "<id>", 1))

	fmt.Println(call("POST", "/v1/agents/agent-1/schedule",
		`{"messages":[{"role":"robot","content":"hi"}],"schedule":{"scheduled_at":1767258000000}}`))
	fmt.Println(call("DELETE", "/v1/agents/agent-1/schedule/"+created.ID, "{}"))
	// Output:
	// 201 2026-01-01T09:00:00.000Z
	// 200 {"id":"<id>","agent_id":"agent-1","message":{"messages":[{"content":"Good morning!","role":"user"}]},"next_scheduled_time":"2026-01-01T09:00:00.000Z","schedule":{"scheduled_at":1767258000000},"created_at":"2026-01-01T00:00:00.000Z"}
	// 422 {"detail":[{"loc":["body","messages",0,"role"],"msg":"must be user, assistant or system, got \"robot\"","type":"value_error"}]}
	// 200 {"success":true}
}
