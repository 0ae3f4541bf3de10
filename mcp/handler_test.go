package mcp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/mcp"
	"github.com/tickler-go/tickler/ticklertest"
)

// waitTimeout bounds every call a test makes to the endpoint.
const waitTimeout = 10 * time.Second

// env is a test's bundle: a scheduler on a mock clock (ticklertest), the
// MCP handler over it on an httptest server, and a client session
// connected as agent-1 through the Go SDK's own client.
type env struct {
	t   *testing.T
	b   *ticklertest.Bundle
	srv *httptest.Server
	cs  *sdk.ClientSession
}

func setup(t *testing.T, opts ...mcp.Option) *env {
	return setupWith(t, nil, opts...)
}

func setupWith(t *testing.T, schedOpts []tickler.Option, opts ...mcp.Option) *env {
	t.Helper()
	e := serve(t, schedOpts, opts...)
	e.cs = e.connect("agent-1", "")
	return e
}

// serve is setupWith without a session.
func serve(t *testing.T, schedOpts []tickler.Option, opts ...mcp.Option) *env {
	t.Helper()
	b := ticklertest.New(t, schedOpts...)
	opts = append([]mcp.Option{mcp.WithClock(ticklertest.Clock(b.Clock))}, opts...)
	srv := httptest.NewServer(mcp.NewHandler(b.Scheduler, opts...))
	t.Cleanup(srv.Close)
	return &env{t: t, b: b, srv: srv}
}

// connect opens a session on the agent's endpoint, with the key as a
// bearer token if not "".
func (e *env) connect(agent, key string) *sdk.ClientSession {
	e.t.Helper()
	cs, err := e.dial(agent, key)
	if err != nil {
		e.t.Fatalf("connect as %s: %v", agent, err)
	}
	return cs
}

func (e *env) dial(agent, key string) (*sdk.ClientSession, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	hc := &http.Client{Timeout: waitTimeout, Transport: bearer{key}}
	client := sdk.NewClient(&sdk.Implementation{Name: "tickler-test", Version: "v0"}, nil)
	cs, err := client.Connect(ctx, &sdk.StreamableClientTransport{
		Endpoint:             e.srv.URL + "/mcp/agents/" + agent,
		HTTPClient:           hc,
		MaxRetries:           -1,
		DisableStandaloneSSE: true,
	}, nil)
	if err != nil {
		return nil, err
	}
	e.t.Cleanup(func() { _ = cs.Close() })
	return cs, nil
}

type bearer struct{ key string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	if b.key != "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+b.key)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// call calls a tool on cs and fails the test on a protocol error: every
// failure of a tool must come back as a tool error.
func call(t *testing.T, cs *sdk.ClientSession, tool string, args any) *sdk.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("%s(%v): protocol error %v, want a tool result", tool, args, err)
	}
	return res
}

// ok calls the tool, requires success and decodes its structured content.
func ok[T any](t *testing.T, cs *sdk.ClientSession, tool string, args any) T {
	t.Helper()
	res := call(t, cs, tool, args)
	if res.IsError {
		t.Fatalf("%s(%v): tool error %q", tool, args, text(res))
	}
	var out T
	b, err := json.Marshal(res.StructuredContent)
	if err == nil {
		err = json.Unmarshal(b, &out)
	}
	if err != nil {
		t.Fatalf("%s: structured content %s: %v", tool, b, err)
	}
	return out
}

// fails calls the tool, requires a tool error and returns its text.
func fails(t *testing.T, cs *sdk.ClientSession, tool string, args any) string {
	t.Helper()
	res := call(t, cs, tool, args)
	if !res.IsError {
		t.Fatalf("%s(%v) succeeded with %q, want a tool error", tool, args, text(res))
	}
	t.Logf("%s(%v): %s", tool, args, text(res))
	return text(res)
}

func text(res *sdk.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// The tools' answers, as a client reads them.
type info struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	Cron      string `json:"cron"`
	Timezone  string `json:"timezone"`
	NextUTC   string `json:"next_fire_time_utc"`
	NextLocal string `json:"next_fire_time_local"`
	FiresIn   string `json:"fires_in"`
	Paused    bool   `json:"paused"`
	Messages  []struct {
		Role string `json:"role"`
		Text string `json:"text"`
	} `json:"messages"`
}

type page struct {
	Schedules []info `json:"schedules"`
	HasMore   bool   `json:"has_more"`
	NextAfter string `json:"next_after"`
}

type preview struct {
	Cron     string `json:"cron"`
	Timezone string `json:"timezone"`
	Times    []struct {
		UTC     string `json:"utc"`
		Local   string `json:"local"`
		Weekday string `json:"weekday"`
	} `json:"times"`
}

type args = map[string]any

// stored returns the agent's schedules as the scheduler has them.
func (e *env) stored(agent string) []*tickler.ScheduledMessage {
	e.t.Helper()
	p, err := e.b.Scheduler.List(context.Background(), agent, "", 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	return p.ScheduledMessages
}
