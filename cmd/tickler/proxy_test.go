package main

import (
	"bufio"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// fakeLetta answers a plain message call and a streamed one whose second
// event waits until the test has read the first through the proxy.
func fakeLetta(t *testing.T, second <-chan struct{}) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "Bearer letta-key" {
			http.Error(w, `{"detail":"bad key"}`, http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/base/v1/agents/agent-1/messages":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"messages":[],"echo":` + string(body) + `,"query":"` + r.URL.RawQuery + `"}`))
		case "/base/v1/agents/agent-1/messages/stream":
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = w.Write([]byte("data: {\"n\":1}\n\n"))
			w.(http.Flusher).Flush()
			select {
			case <-second:
			case <-r.Context().Done():
				return
			}
			_, _ = w.Write([]byte("data: {\"n\":2}\n\ndata: [DONE]\n\n"))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestProxyPassesRequestsAndStreamsUnbuffered(t *testing.T) {
	t.Parallel()
	second := make(chan struct{})
	letta := fakeLetta(t, second)
	proxy, err := lettaProxy(letta.URL+"/base/", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	local := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("local " + r.URL.Path)) })
	front := httptest.NewServer(routes{health: &health{version: "test"}, api: local, proxy: proxy}.handler())
	t.Cleanup(front.Close)

	do := func(method, path, body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, front.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer letta-key")
		resp, err := front.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := do("POST", "/v1/agents/agent-1/messages?x=1", `{"messages":[{"role":"user","content":"hi"}]}`)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"echo":{"messages":[{"role":"user","content":"hi"}]}`) || !strings.Contains(string(b), `"query":"x=1"`) {
		t.Fatalf("proxied message call: %d %s", resp.StatusCode, b)
	}
	for _, p := range []string{"/v1/agents/agent-1/schedule", "/v1/agents/agent-1/schedule/sm-1"} {
		resp := do("GET", p, "")
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "local "+p {
			t.Fatalf("%s answered %q, want tickler's own route", p, b)
		}
	}

	// The first event arrives while the Letta server still holds the
	// second: nothing is buffered on the way.
	resp = do("POST", "/v1/agents/agent-1/messages/stream", `{}`)
	defer resp.Body.Close()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if l := sc.Text(); l != "" {
				lines <- l
			}
		}
		close(lines)
	}()
	next := func() string {
		t.Helper()
		select {
		case l := <-lines:
			return l
		case <-time.After(10 * time.Second):
			t.Fatal("no event came through the proxy")
			return ""
		}
	}
	if l := next(); l != `data: {"n":1}` {
		t.Fatalf("first event %q", l)
	}
	close(second)
	if l := next(); l != `data: {"n":2}` {
		t.Fatalf("second event %q", l)
	}
}

func TestProxyRefusesABadLettaURLAndAnswers502WhenDown(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"ftp://x", "http://", "http://user:secret@letta:8283", "::"} {
		_, err := lettaProxy(bad, slog.New(slog.DiscardHandler))
		if err == nil || strings.Contains(err.Error(), "secret") {
			t.Fatalf("lettaProxy(%q) = %v, want an error without the password", bad, err)
		}
	}
	down := httptest.NewServer(http.NotFoundHandler())
	url := down.URL
	down.Close()
	proxy, err := lettaProxy(url, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	proxy.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/agents", nil))
	if rec.Code != http.StatusBadGateway || !strings.Contains(rec.Body.String(), "detail") {
		t.Fatalf("with Letta down: %d %s, want 502 with a detail", rec.Code, rec.Body)
	}
}
