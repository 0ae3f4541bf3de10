package mcp_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/mcp"
	"github.com/tickler-go/tickler/memory"
)

// An agent runtime attaches http://<host>/mcp/agents/<its agent id> as an
// MCP server, with the API key, and its model schedules a stand-up
// reminder for itself. The schedule is an ordinary one of the scheduler.
func Example() {
	ctx := context.Background()
	deliver := tickler.DelivererFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		return tickler.Result{}, nil // your runtime sends d.Message to d.AgentID
	})
	s, err := tickler.New(memory.New(), deliver)
	if err != nil {
		log.Fatal(err)
	}
	// A real program calls s.Start(ctx); the tools store schedules either way.

	mux := http.NewServeMux()
	mux.Handle("/mcp/agents/", mcp.NewHandler(s, mcp.WithAPIKey("secret")))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// What the agent's runtime does with the URL and the key.
	client := sdk.NewClient(&sdk.Implementation{Name: "agent-runtime", Version: "v1"}, nil)
	cs, err := client.Connect(ctx, &sdk.StreamableClientTransport{
		Endpoint:   srv.URL + "/mcp/agents/agent-123",
		HTTPClient: &http.Client{Transport: bearer{"secret"}},
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "schedule_message", Arguments: map[string]any{
		"text":     "Stand-up time: ask the team for blockers.",
		"cron":     "0 9 * * 1-5",
		"timezone": "Europe/Paris",
	}})
	if err != nil || res.IsError {
		log.Fatal(err, res)
	}

	p, err := s.List(ctx, "agent-123", "", 10)
	if err != nil {
		log.Fatal(err)
	}
	sm := p.ScheduledMessages[0]
	fmt.Println(sm.AgentID, sm.Schedule.CronExpression)
	fmt.Println(sm.Message.Messages[0].Content.Text)
	// Output:
	// agent-123 CRON_TZ=Europe/Paris 0 9 * * 1-5
	// Stand-up time: ask the team for blockers.
}
