package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// getText returns the status and body of GET path, with key as a bearer
// token if not "".
func (r *running) getText(t *testing.T, path, key string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", r.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := (&http.Client{Timeout: waitTimeout}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metricLine returns the first sample line of /metrics that starts with
// name and holds every label of labels, or "".
func metricLine(body, name string, labels ...string) string {
	for line := range strings.SplitSeq(body, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		if ok {
			return line
		}
	}
	return ""
}

func TestServeCountsDeliveriesAtMetricsBehindTheKey(t *testing.T) {
	t.Parallel()
	const key = "k-metrics"
	r := start(t, Config{APIKey: key})

	if code, _ := r.getText(t, "/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics without the key: %d, want 401", code)
	}
	code, body := r.getText(t, "/metrics", key)
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	for _, name := range []string{"tickler_occurrence_pending", "tickler_occurrence_in_flight", "go_goroutines"} {
		if metricLine(body, name) == "" {
			t.Errorf("/metrics lacks %s:\n%s", name, body)
		}
	}

	at := time.Now().Add(200 * time.Millisecond).UnixMilli()
	if code, m := r.do(t, "POST", "/v1/agents/agent-1/schedule", key,
		`{"messages":[{"role":"user","content":"count me"}],"schedule":{"scheduled_at":`+jsonNumber(at)+`}}`); code != 201 {
		t.Fatalf("create: %d %v", code, m)
	}
	// The count comes from Stats at each scrape; the lateness histogram
	// from the event, which reaches the handler a moment later.
	deadline := time.Now().Add(waitTimeout)
	for {
		_, body = r.getText(t, "/metrics", key)
		delivered := metricLine(body, "tickler_deliveries_total", `outcome="delivered"`)
		lateness := metricLine(body, "tickler_delivery_lateness_seconds_count")
		if strings.HasSuffix(delivered, " 1") && strings.HasSuffix(lateness, " 1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no delivery counted at /metrics within %v:\n%s", waitTimeout, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestMetricsArePublicWhenAskedOrWithoutAKey(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{{APIKey: "k", MetricsPublic: true}, {}} {
		r := start(t, cfg)
		if code, body := r.getText(t, "/metrics", ""); code != 200 || metricLine(body, "tickler_claims_total") == "" {
			t.Errorf("%+v: /metrics without a key: %d\n%s", cfg, code, body)
		}
	}
}

// connectMCP opens an MCP session on agent's endpoint of r through the
// go-sdk client, with key as a bearer token if not "".
func connectMCP(t *testing.T, r *running, agent, key string) (*sdk.ClientSession, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	client := sdk.NewClient(&sdk.Implementation{Name: "tickler-test", Version: "v0"}, nil)
	cs, err := client.Connect(ctx, &sdk.StreamableClientTransport{
		Endpoint:             r.url + "/mcp/agents/" + agent,
		HTTPClient:           &http.Client{Timeout: waitTimeout, Transport: bearer(key)},
		MaxRetries:           -1,
		DisableStandaloneSSE: true,
	}, nil)
	if err == nil {
		t.Cleanup(func() { _ = cs.Close() })
	}
	return cs, err
}

// bearer adds "Authorization: Bearer <key>" to each request, unless "".
type bearer string

func (b bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	if b != "" {
		req = req.Clone(req.Context())
		req.Header.Set("Authorization", "Bearer "+string(b))
	}
	return http.DefaultTransport.RoundTrip(req)
}

func TestServeGivesEachAgentAnMCPEndpoint(t *testing.T) {
	t.Parallel()
	const key = "k-mcp"
	r := start(t, Config{APIKey: key, MCP: true})

	if _, err := connectMCP(t, r, "agent-7", "wrong"); err == nil {
		t.Error("an MCP session opened with a wrong key")
	}
	cs, err := connectMCP(t, r, "agent-7", key)
	if err != nil {
		t.Fatalf("connecting: %v\n%s", err, r.logs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range tools.Tools {
		names = append(names, tool.Name)
	}
	if !strings.Contains(strings.Join(names, ","), "schedule_message") {
		t.Fatalf("tools %v lack schedule_message", names)
	}
	// A zone-aware schedule, which needs the embedded zoneinfo on a bare
	// host, lands with the agent of the URL, as the HTTP API shows.
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "schedule_message",
		Arguments: map[string]any{"text": "stand up", "cron": "0 9 * * 1-5", "timezone": "Europe/Paris"}})
	if err != nil || res.IsError {
		t.Fatalf("schedule_message: %v %+v", err, res)
	}
	code, m := r.do(t, "GET", "/v1/agents/agent-7/schedule", key, "")
	if list, _ := m["scheduled_messages"].([]any); code != 200 || len(list) != 1 {
		t.Fatalf("the HTTP API lists %d %v, want the one schedule made over MCP", code, m)
	}
}

func TestMCPIsOffWhenAskedSo(t *testing.T) {
	t.Parallel()
	r := start(t, Config{MCP: false})
	if code, _ := r.getText(t, "/mcp/agents/agent-1", ""); code != http.StatusNotFound {
		t.Errorf("/mcp/agents/agent-1 with MCP off: %d, want 404", code)
	}
}
