package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickler-go/tickler/bolt"
)

// waitTimeout bounds every wait of these tests.
const waitTimeout = 10 * time.Second

// syncBuffer is a log destination safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// running is a server started by start.
type running struct {
	url  string
	logs *syncBuffer
	stop func() error // cancels serve and returns what it returned
}

// start runs serve with cfg on a free port and a fresh bolt file (unless
// cfg names one), and stops it when the test ends.
func start(t *testing.T, cfg Config) *running {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	if cfg.DB == "" {
		cfg.DB = filepath.Join(t.TempDir(), "t.db")
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 5 * time.Second
	}
	if cfg.LogLevel == "" {
		cfg.LogLevel = "debug"
	}
	logs := &syncBuffer{}
	log, err := newLogger(cfg, logs)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, log, func(a net.Addr) { addr <- a }) }()
	r := &running{logs: logs}
	var once sync.Once
	var stopErr error
	r.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(waitTimeout):
				stopErr = errors.New("serve did not return after its context ended")
			}
		})
		return stopErr
	}
	t.Cleanup(func() { _ = r.stop() })
	select {
	case a := <-addr:
		r.url = "http://" + a.String()
	case err := <-done:
		r.stop = func() error { return err }
		t.Fatalf("serve returned before listening: %v\n%s", err, logs)
	case <-time.After(waitTimeout):
		t.Fatalf("serve did not listen within %v\n%s", waitTimeout, logs)
	}
	return r
}

func (r *running) get(t *testing.T, path string) (int, map[string]any) {
	t.Helper()
	return r.do(t, "GET", path, "", "")
}

func (r *running) do(t *testing.T, method, path, key, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, r.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	c := &http.Client{Timeout: waitTimeout}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(b) > 0 && json.Unmarshal(b, &m) != nil {
		t.Fatalf("%s %s: %d, not a JSON object: %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode, m
}

func TestServeAnswersTheAPIAndTheHealthRoutes(t *testing.T) {
	t.Parallel()
	const key = "k-XYZZY"
	r := start(t, Config{APIKey: key, Deliver: "log"})

	// Health needs no key.
	if code, m := r.get(t, "/healthz"); code != 200 || m["status"] != "ok" {
		t.Errorf("/healthz: %d %v", code, m)
	}
	if code, m := r.get(t, "/readyz"); code != 200 || m["status"] != "ready" {
		t.Errorf("/readyz: %d %v", code, m)
	}
	if code, m := r.get(t, "/v1/health/"); code != 200 || m["status"] != "ok" || m["version"] != version() {
		t.Errorf("/v1/health/: %d %v", code, m)
	}
	// The API does.
	if code, _ := r.get(t, "/v1/agents/agent-1/schedule"); code != http.StatusUnauthorized {
		t.Errorf("list without the key: %d, want 401", code)
	}
	at := time.Now().Add(300 * time.Millisecond).UnixMilli()
	code, m := r.do(t, "POST", "/v1/agents/agent-1/schedule", key,
		`{"messages":[{"role":"user","content":"hello"}],"schedule":{"scheduled_at":`+jsonNumber(at)+`},"name":"greeting"}`)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, m)
	}
	id, _ := m["id"].(string)
	code, m = r.do(t, "GET", "/v1/agents/agent-1/schedule/"+id, key, "")
	if code != 200 || m["name"] != "greeting" || m["created_at"] == nil {
		t.Fatalf("retrieve: %d %v", code, m)
	}
	// It fires through the log deliverer, and is then gone.
	deadline := time.Now().Add(waitTimeout)
	for !strings.Contains(r.logs.String(), "scheduled_message_id="+id) {
		if time.Now().After(deadline) {
			t.Fatalf("no delivery logged:\n%s", r.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}

	if err := r.stop(); err != nil {
		t.Fatalf("serve after a stop: %v\n%s", err, r.logs)
	}
	logs := r.logs.String()
	for _, want := range []string{`msg="tickler: listening"`, "agent_concurrency=0", "auth=true", `msg="tickler: stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %s:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "XYZZY") {
		t.Errorf("the log shows the API key:\n%s", logs)
	}
}

func jsonNumber(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestServeStopsCleanlyAndClosesTheStore(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "t.db")
	r := start(t, Config{DB: db})
	if err := r.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	// The file is free again: the store was closed.
	s, err := bolt.Open(db, bolt.WithLockTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatalf("reopening the store after a stop: %v", err)
	}
	s.Close()
}

func TestReadyzIs503WhenTheSchedulerIsNotRunningOrTheStoreFails(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "t.db")
	store, err := bolt.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	h := &health{store: store, version: "v-test"}
	srv := routes{health: h, api: http.NotFoundHandler()}.handler()
	check := func(want int, reason string) {
		t.Helper()
		rec := &recorder{header: http.Header{}}
		req, _ := http.NewRequest("GET", "/readyz", nil)
		srv.ServeHTTP(rec, req)
		if rec.status != want || !strings.Contains(rec.body.String(), reason) {
			t.Fatalf("/readyz: %d %s, want %d with %q", rec.status, &rec.body, want, reason)
		}
	}
	check(503, "the scheduler is not running")
	h.running.Store(true)
	check(200, `"ready"`)
	store.Close()
	check(503, "the store does not answer")
}

type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(s int)           { r.status = s }

func TestServeFailsAtStartWithAClearMessage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	held, err := bolt.Open(filepath.Join(dir, "held.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"misconfigured deliverer", Config{Deliver: "openai", DB: filepath.Join(dir, "a.db")}, "-openai-url"},
		{"unopenable store", Config{DB: filepath.Join(dir, "no", "such", "dir", "t.db")}, "opening the store"},
		{"store held by another process", Config{DB: filepath.Join(dir, "held.db")}, "opening the store"},
		{"bad address", Config{DB: filepath.Join(dir, "b.db"), Addr: "127.0.0.1:http-alt-x"}, "listen"},
	} {
		cfg := tc.cfg
		cfg.ShutdownTimeout = time.Second
		if cfg.Addr == "" {
			cfg.Addr = "127.0.0.1:0"
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		err := serve(ctx, cfg, log, func(net.Addr) { t.Errorf("%s: serve listened", tc.name) })
		cancel()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}

func TestAgentConcurrencyDefaultsToOneForAgentServers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		deliver string
		set     int
		want    int
	}{
		{"log", -1, 0}, {"webhook", -1, 0}, {"letta", -1, 1}, {"openai", -1, 1},
		{"letta", 0, 0}, {"letta", 3, 3}, {"log", 2, 2},
	} {
		if got := (Config{Deliver: tc.deliver, AgentConcurrency: tc.set}).agentConcurrency(); got != tc.want {
			t.Errorf("%s with %d: %d, want %d", tc.deliver, tc.set, got, tc.want)
		}
	}
}

func TestServeLogsNoSecretOfTheDeliverer(t *testing.T) {
	t.Parallel()
	r := start(t, Config{Deliver: "letta", LettaURL: "https://user:pw-XYZZY@letta.example/base",
		LettaToken: "sk-XYZZY", APIKey: "k-XYZZY", LogFormat: "json", AgentConcurrency: -1})
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	logs := r.logs.String()
	if strings.Contains(logs, "XYZZY") {
		t.Fatalf("the log shows a secret:\n%s", logs)
	}
	for _, want := range []string{`"msg":"tickler: listening"`, `"agent_concurrency":1`, `"url":"https://letta.example/base"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the JSON log lacks %s:\n%s", want, logs)
		}
	}
}

func TestServeRefusesABadCallbackSecretWithoutShowingIt(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	cfg := Config{DB: filepath.Join(t.TempDir(), "t.db"), Addr: "127.0.0.1:0", Deliver: "log", ShutdownTimeout: time.Second,
		CallbackSecret: "not-a-whsec-secret-but-private"}
	err := serve(ctx, cfg, slog.New(slog.DiscardHandler), func(net.Addr) { t.Error("serve listened") })
	if err == nil || !strings.Contains(err.Error(), "callbacks") || strings.Contains(err.Error(), "private") {
		t.Fatalf("serve with a bad callback secret: %v, want an error about callbacks that hides the secret", err)
	}
}
