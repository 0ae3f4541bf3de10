package main

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tickler-go/tickler/deliver/letta"
	"github.com/tickler-go/tickler/deliver/logdeliver"
	"github.com/tickler-go/tickler/deliver/openai"
	"github.com/tickler-go/tickler/deliver/webhook"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestLoadConfigTakesFlagsOverEnvironmentOverDefaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		env  func(string) string
		want Config
	}{
		{"defaults", nil, env(), Config{Addr: "127.0.0.1:8283", DB: "./tickler.db", Schema: "tickler", Migrate: true, Deliver: "log",
			AgentConcurrency: -1, MCP: true, MaxPerAgent: 10000, MaxBytesPerAgent: 64 << 20, ShutdownTimeout: 10 * time.Second, LogFormat: "text", LogLevel: "info"}},
		{"environment", nil, env("TICKLER_ADDR", ":9000", "TICKLER_DB", "/var/lib/t.db", "TICKLER_API_KEY", "k",
			"TICKLER_DELIVER", "Letta", "TICKLER_LETTA_URL", "https://api.letta.com", "TICKLER_LETTA_TOKEN", "tok",
			"TICKLER_LETTA_ASYNC_POLL", "2s", "TICKLER_AGENT_CONCURRENCY", "0", "TICKLER_ALLOW_PRIVATE_CALLBACKS", "true",
			"TICKLER_SHUTDOWN_TIMEOUT", "1m", "TICKLER_LOG_FORMAT", "JSON", "TICKLER_LOG_LEVEL", "debug",
			"TICKLER_DB_SCHEMA", "sched", "TICKLER_MIGRATE", "false", "TICKLER_PG_POLL_ONLY", "true",
			"TICKLER_METRICS_PUBLIC", "1", "TICKLER_MCP", "false", "TICKLER_PROXY", "true", "TICKLER_MAX_PER_AGENT", "0",
			"TICKLER_MAX_BYTES_PER_AGENT", "0"),
			Config{Proxy: true, Addr: ":9000", DB: "/var/lib/t.db", Schema: "sched", PGPollOnly: true, MetricsPublic: true, APIKey: "k", Deliver: "letta", LettaURL: "https://api.letta.com", LettaToken: "tok", LettaAsync: 2 * time.Second,
				AgentConcurrency: 0, AllowPrivateCallbacks: true, ShutdownTimeout: time.Minute, LogFormat: "json", LogLevel: "debug"}},
		{"flags win", []string{"-addr", ":1", "-deliver", "webhook", "-webhook-url", "https://h/x", "-webhook-secret", secret, "-letta-async-poll", "0",
			"-agent-concurrency", "2", "-allow-private-callbacks=false", "-log-level", "warn",
			"-db", "postgres://h/db", "-schema", "s2", "-migrate", "-mcp=false", "-max-per-agent", "50", "-max-bytes-per-agent", "1048576"},
			env("TICKLER_ADDR", ":9000", "TICKLER_DELIVER", "letta", "TICKLER_LETTA_ASYNC_POLL", "2s", "TICKLER_AGENT_CONCURRENCY", "5",
				"TICKLER_ALLOW_PRIVATE_CALLBACKS", "1", "TICKLER_LOG_LEVEL", "debug",
				"TICKLER_DB", "/var/lib/t.db", "TICKLER_MIGRATE", "false", "TICKLER_MCP", "true",
				"TICKLER_MAX_BYTES_PER_AGENT", "5"),
			Config{MaxPerAgent: 50, MaxBytesPerAgent: 1 << 20, Addr: ":1", DB: "postgres://h/db", Schema: "s2", Migrate: true, Deliver: "webhook", WebhookURL: "https://h/x", WebhookSecret: secret,
				AgentConcurrency: 2, ShutdownTimeout: 10 * time.Second, LogFormat: "text", LogLevel: "warn"}},
	} {
		got, err := loadConfig(tc.args, tc.env, &bytes.Buffer{})
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
		} else if got != tc.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
	if _, err := loadConfig(nil, env("TICKLER_LETTA_ASYNC_POLL", "often"), &bytes.Buffer{}); err == nil {
		t.Error("a bad TICKLER_LETTA_ASYNC_POLL was accepted")
	}
	if _, err := loadConfig([]string{"extra"}, env(), &bytes.Buffer{}); err == nil {
		t.Error("a stray argument was accepted")
	}
	for _, bad := range []func(string) string{
		env("TICKLER_AGENT_CONCURRENCY", "one"),
		env("TICKLER_AGENT_CONCURRENCY", "-2"),
		env("TICKLER_ALLOW_PRIVATE_CALLBACKS", "perhaps"),
		env("TICKLER_SHUTDOWN_TIMEOUT", "0s"),
		env("TICKLER_MIGRATE", "later"),
		env("TICKLER_MCP", "maybe"),
		env("TICKLER_PROXY", "true"), // without TICKLER_LETTA_URL
		env("TICKLER_MAX_PER_AGENT", "-1"),
		env("TICKLER_MAX_BYTES_PER_AGENT", "-1"),
		env("TICKLER_MAX_BYTES_PER_AGENT", "64MiB"),
	} {
		if _, err := loadConfig(nil, bad, &bytes.Buffer{}); err == nil {
			t.Error("a bad variable was accepted")
		}
	}
	for _, cfg := range []Config{{LogFormat: "xml", LogLevel: "info"}, {LogFormat: "text", LogLevel: "loud"}} {
		if _, err := newLogger(cfg, io.Discard); err == nil {
			t.Errorf("newLogger(%+v) accepted it", cfg)
		}
	}
}

func TestNewDelivererBuildsTheNamedOneOrSaysWhatIsMissing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  Config
		kind any    // the deliverer's type, for a success
		err  string // a part of the error, for a failure
	}{
		{"default", Config{}, &logdeliver.Deliverer{}, ""},
		{"log", Config{Deliver: "log"}, &logdeliver.Deliverer{}, ""},
		{"letta", Config{Deliver: "letta", LettaURL: "https://api.letta.com", LettaToken: "sk-let-XYZZY"}, &letta.Deliverer{}, ""},
		{"letta async", Config{Deliver: "letta", LettaURL: "http://localhost:8283", LettaAsync: time.Second}, &letta.Deliverer{}, ""},
		{"letta without URL", Config{Deliver: "letta"}, nil, "-letta-url"},
		{"letta bad URL", Config{Deliver: "letta", LettaURL: "api.letta.com"}, nil, "http or https"},
		{"letta negative poll", Config{Deliver: "letta", LettaURL: "http://h", LettaAsync: -time.Second}, nil, "negative"},
		{"openai", Config{Deliver: "openai", OpenAIURL: "http://localhost:8283", OpenAIToken: "t"}, &openai.Deliverer{}, ""},
		{"openai without URL", Config{Deliver: "openai"}, nil, "-openai-url"},
		{"webhook", Config{Deliver: "webhook", WebhookURL: "https://h/hook", WebhookSecret: secret}, &webhook.Deliverer{}, ""},
		{"webhook without secret", Config{Deliver: "webhook", WebhookURL: "https://h/hook"}, nil, "-webhook-secret"},
		{"webhook bad secret", Config{Deliver: "webhook", WebhookURL: "https://h/hook", WebhookSecret: "hunter2-XYZZY"}, nil, "whsec_"},
		{"unknown", Config{Deliver: "smtp"}, nil, `got "smtp"`},
	} {
		d, err := newDeliverer(tc.cfg, slog.New(slog.DiscardHandler))
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err = %v, want %q", tc.name, err, tc.err)
			} else if strings.Contains(err.Error(), "XYZZY") {
				t.Errorf("%s: the error names the secret: %v", tc.name, err)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
		default:
			if got, want := typeName(d), typeName(tc.kind); got != want {
				t.Errorf("%s: deliverer %s, want %s", tc.name, got, want)
			}
		}
	}
}

func typeName(v any) string { return fmt.Sprintf("%T", v) }

func TestRunVersionAndUsage(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := run([]string{"version"}, env(), &out, &out); err != nil || !strings.HasPrefix(out.String(), "tickler ") {
		t.Errorf("version: %q, %v", out.String(), err)
	}
	if err := run(nil, env(), &out, &out); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Errorf("no command: %v", err)
	}
	if err := run([]string{"serve", "-deliver", "letta"}, env(), &out, &out); err == nil || !strings.Contains(err.Error(), "-letta-url") {
		t.Errorf("serve with a misconfiguration: %v", err)
	}
}
