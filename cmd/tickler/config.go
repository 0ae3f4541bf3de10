package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/deliver/letta"
	"github.com/tickler-go/tickler/deliver/logdeliver"
	"github.com/tickler-go/tickler/deliver/openai"
	"github.com/tickler-go/tickler/deliver/webhook"
	"github.com/tickler-go/tickler/postgres"
)

// Config is what "tickler serve" runs with. Each field has a flag and an
// environment variable; the flag wins.
type Config struct {
	Addr string // -addr, TICKLER_ADDR
	// DB is where the schedules live: a bolt file's path, or a
	// postgres:// or postgresql:// URL of a PostgreSQL database, shared
	// by every server given the same URL and Schema. -db, TICKLER_DB.
	DB string
	// Schema is the PostgreSQL schema of the tables (default tickler).
	// -schema, TICKLER_DB_SCHEMA.
	Schema string
	// Migrate makes serve migrate a PostgreSQL schema at start; without
	// it, serve refuses a schema that lacks migrations. -migrate,
	// TICKLER_MIGRATE (default true).
	Migrate bool
	// PGPollOnly turns PostgreSQL's LISTEN/NOTIFY hints off, for a pooler
	// in transaction mode (PgBouncer). -pg-poll-only, TICKLER_PG_POLL_ONLY.
	PGPollOnly bool
	APIKey     string // -api-key, TICKLER_API_KEY
	// AdminKey guards the admin API and page (/admin/); "" means APIKey.
	// -admin-key, TICKLER_ADMIN_KEY.
	AdminKey string

	// Deliver picks the deliverer: log (the default), letta, openai or
	// webhook. -deliver, TICKLER_DELIVER.
	Deliver string

	LettaURL   string        // -letta-url, TICKLER_LETTA_URL
	LettaToken string        // -letta-token, TICKLER_LETTA_TOKEN
	LettaAsync time.Duration // -letta-async-poll, TICKLER_LETTA_ASYNC_POLL: 0 = the synchronous route

	OpenAIURL   string // -openai-url, TICKLER_OPENAI_URL
	OpenAIToken string // -openai-token, TICKLER_OPENAI_TOKEN

	WebhookURL    string // -webhook-url, TICKLER_WEBHOOK_URL
	WebhookSecret string // -webhook-secret, TICKLER_WEBHOOK_SECRET (whsec_…)
	// CallbackSecret signs callback_url callbacks per Standard Webhooks
	// (whsec_…); "" sends them unsigned. -callback-secret,
	// TICKLER_CALLBACK_SECRET.
	CallbackSecret string

	// AgentConcurrency bounds the deliveries at once per agent; 0 is no
	// bound, and -1 (unset) means 1 for letta and openai, whose servers
	// run one request per agent at a time, and no bound otherwise.
	// -agent-concurrency, TICKLER_AGENT_CONCURRENCY.
	AgentConcurrency int
	// AllowPrivateCallbacks lets callback_url reach loopback and private
	// addresses. -allow-private-callbacks, TICKLER_ALLOW_PRIVATE_CALLBACKS.
	AllowPrivateCallbacks bool
	// MetricsPublic serves /metrics without the API key. -metrics-public,
	// TICKLER_METRICS_PUBLIC.
	MetricsPublic bool
	// MCP serves the agents' MCP endpoints at /mcp/agents/{agent_id}.
	// -mcp, TICKLER_MCP (default true).
	MCP bool
	// Proxy passes every request outside tickler's own routes to the
	// Letta server at LettaURL. -proxy, TICKLER_PROXY.
	Proxy bool
	// MaxPerAgent bounds the schedules of one agent; 0 is no bound.
	// -max-per-agent, TICKLER_MAX_PER_AGENT (default 10,000).
	MaxPerAgent int
	// MaxBytesPerAgent bounds the bytes one agent's schedules take in the
	// store (tickler.RecordSize of each); 0 is no bound.
	// -max-bytes-per-agent, TICKLER_MAX_BYTES_PER_AGENT (default 64 MiB).
	MaxBytesPerAgent int64
	// ShutdownTimeout bounds a graceful stop. -shutdown-timeout,
	// TICKLER_SHUTDOWN_TIMEOUT.
	ShutdownTimeout time.Duration
	LogFormat       string // text or json: -log-format, TICKLER_LOG_FORMAT
	LogLevel        string // debug, info, warn or error: -log-level, TICKLER_LOG_LEVEL
}

// DefaultMaxBytesPerAgent is the default of -max-bytes-per-agent: 64 MiB.
const DefaultMaxBytesPerAgent = 64 << 20

// loadConfig reads the serve flags in args, each defaulting to its
// environment variable read through getenv. Usage and errors go to out.
func loadConfig(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("tickler serve", flag.ContinueOnError)
	fs.SetOutput(out)
	str := func(p *string, name, env, def, usage string) {
		v := getenv(env)
		if v == "" {
			v = def
		}
		fs.StringVar(p, name, v, usage+" ($"+env+")")
	}
	str(&c.Addr, "addr", "TICKLER_ADDR", "127.0.0.1:8283", "address to listen on")
	str(&c.DB, "db", "TICKLER_DB", "./tickler.db", "bolt file holding the schedules, or a postgres:// URL")
	str(&c.Schema, "schema", "TICKLER_DB_SCHEMA", postgres.DefaultSchema, "PostgreSQL schema of the tables")
	str(&c.APIKey, "api-key", "TICKLER_API_KEY", "", "require this bearer token from clients")
	str(&c.AdminKey, "admin-key", "TICKLER_ADMIN_KEY", "", "require this bearer token on /admin/ (default: the API key)")
	str(&c.Deliver, "deliver", "TICKLER_DELIVER", "log", "deliverer: log, letta, openai or webhook")
	str(&c.LettaURL, "letta-url", "TICKLER_LETTA_URL", "", "Letta server base URL, such as https://api.letta.com")
	str(&c.LettaToken, "letta-token", "TICKLER_LETTA_TOKEN", "", "Letta API key or server password")
	str(&c.OpenAIURL, "openai-url", "TICKLER_OPENAI_URL", "", "chat completions server base URL")
	str(&c.OpenAIToken, "openai-token", "TICKLER_OPENAI_TOKEN", "", "chat completions bearer token")
	str(&c.WebhookURL, "webhook-url", "TICKLER_WEBHOOK_URL", "", "URL to POST each delivery to")
	str(&c.WebhookSecret, "webhook-secret", "TICKLER_WEBHOOK_SECRET", "", "Standard Webhooks signing secret (whsec_…)")
	str(&c.CallbackSecret, "callback-secret", "TICKLER_CALLBACK_SECRET", "", "sign callback_url callbacks per Standard Webhooks with this secret (whsec_…); unsigned when empty")
	str(&c.LogFormat, "log-format", "TICKLER_LOG_FORMAT", "text", "log format: text or json")
	str(&c.LogLevel, "log-level", "TICKLER_LOG_LEVEL", "info", "log level: debug, info, warn or error")
	dur := func(p *time.Duration, name, env string, def time.Duration, usage string) error {
		if v := getenv(env); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("%s: %w", env, err)
			}
			def = d
		}
		fs.DurationVar(p, name, def, usage+" ($"+env+")")
		return nil
	}
	if err := dur(&c.LettaAsync, "letta-async-poll", "TICKLER_LETTA_ASYNC_POLL", 0,
		"use Letta's async route, polling the run this often; 0 waits on the synchronous route"); err != nil {
		return c, err
	}
	if err := dur(&c.ShutdownTimeout, "shutdown-timeout", "TICKLER_SHUTDOWN_TIMEOUT", 10*time.Second,
		"how long SIGINT/SIGTERM waits for requests, deliveries and callbacks in flight"); err != nil {
		return c, err
	}
	agents := -1
	if v := getenv("TICKLER_AGENT_CONCURRENCY"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return c, fmt.Errorf("TICKLER_AGENT_CONCURRENCY: %w", err)
		}
		agents = n
	}
	perAgent := 10000
	if v := getenv("TICKLER_MAX_PER_AGENT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return c, fmt.Errorf("TICKLER_MAX_PER_AGENT: want a whole number, 0 for no bound, got %q", v)
		}
		perAgent = n
	}
	fs.IntVar(&c.MaxPerAgent, "max-per-agent", perAgent,
		"schedules one agent may have, 0 for no bound, so that one client cannot fill the store ($TICKLER_MAX_PER_AGENT)")
	bytesPerAgent := int64(DefaultMaxBytesPerAgent)
	if v := getenv("TICKLER_MAX_BYTES_PER_AGENT"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return c, fmt.Errorf("TICKLER_MAX_BYTES_PER_AGENT: want a whole number of bytes, 0 for no bound, got %q", v)
		}
		bytesPerAgent = n
	}
	fs.Int64Var(&c.MaxBytesPerAgent, "max-bytes-per-agent", bytesPerAgent,
		"bytes one agent's schedules may take in the store (messages as JSON, and labels), 0 for no bound ($TICKLER_MAX_BYTES_PER_AGENT)")
	fs.IntVar(&c.AgentConcurrency, "agent-concurrency", agents,
		"deliveries at once per agent, 0 for no bound; unset: 1 for letta and openai, no bound otherwise ($TICKLER_AGENT_CONCURRENCY)")
	boolean := func(p *bool, name, env string, def bool, usage string) error {
		if v := getenv(env); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("%s: %w", env, err)
			}
			def = b
		}
		fs.BoolVar(p, name, def, usage+" ($"+env+")")
		return nil
	}
	if err := errors.Join(
		boolean(&c.Migrate, "migrate", "TICKLER_MIGRATE", true,
			"migrate a PostgreSQL schema at start; false refuses one that lacks migrations"),
		boolean(&c.PGPollOnly, "pg-poll-only", "TICKLER_PG_POLL_ONLY", false,
			"PostgreSQL: find other servers' changes by polling alone, without LISTEN (for PgBouncer in transaction mode)"),
		boolean(&c.AllowPrivateCallbacks, "allow-private-callbacks", "TICKLER_ALLOW_PRIVATE_CALLBACKS", false,
			"let callback_url reach loopback and private addresses, for local development only"),
		boolean(&c.MetricsPublic, "metrics-public", "TICKLER_METRICS_PUBLIC", false,
			"serve /metrics without the API key"),
		boolean(&c.MCP, "mcp", "TICKLER_MCP", true,
			"serve the agents' MCP endpoints at /mcp/agents/{agent_id}"),
		boolean(&c.Proxy, "proxy", "TICKLER_PROXY", false,
			"pass every other request to the Letta server at -letta-url, so that a Letta client needs one base URL"),
	); err != nil {
		return c, err
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.Proxy && c.LettaURL == "" {
		return c, errors.New("-proxy (TICKLER_PROXY) needs -letta-url (TICKLER_LETTA_URL), the Letta server to pass requests to")
	}
	if c.MaxPerAgent < 0 {
		return c, fmt.Errorf("-max-per-agent: want 0 or more, got %d", c.MaxPerAgent)
	}
	if c.MaxBytesPerAgent < 0 {
		return c, fmt.Errorf("-max-bytes-per-agent: want 0 or more, got %d", c.MaxBytesPerAgent)
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	c.Deliver = strings.ToLower(strings.TrimSpace(c.Deliver))
	c.LogFormat = strings.ToLower(strings.TrimSpace(c.LogFormat))
	c.LogLevel = strings.ToLower(strings.TrimSpace(c.LogLevel))
	switch {
	case c.AgentConcurrency < -1:
		return c, fmt.Errorf("-agent-concurrency must not be negative, got %d", c.AgentConcurrency)
	case c.ShutdownTimeout <= 0:
		return c, fmt.Errorf("-shutdown-timeout must be positive, got %v", c.ShutdownTimeout)
	}
	return c, nil
}

// agentConcurrency is the per-agent bound serve runs with; see
// [Config.AgentConcurrency].
func (c Config) agentConcurrency() int {
	if c.AgentConcurrency >= 0 {
		return c.AgentConcurrency
	}
	switch c.Deliver {
	case "letta", "openai":
		return 1
	}
	return 0
}

// newLogger returns the logger cfg asks for, writing to w.
func newLogger(cfg Config, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return nil, fmt.Errorf("-log-level must be debug, info, warn or error, got %q", cfg.LogLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch cfg.LogFormat {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("-log-format must be text or json, got %q", cfg.LogFormat)
}

// newDeliverer returns the deliverer cfg.Deliver names, built and checked
// now, so that a misconfiguration stops serve before it takes a request.
// The log deliverer writes to log.
func newDeliverer(cfg Config, log *slog.Logger) (tickler.Deliverer, error) {
	switch cfg.Deliver {
	case "", "log":
		return logdeliver.New(log), nil
	case "letta":
		if cfg.LettaURL == "" {
			return nil, errors.New("-deliver letta needs -letta-url (TICKLER_LETTA_URL)")
		}
		opts := []letta.Option{letta.WithToken(cfg.LettaToken)}
		if cfg.LettaAsync > 0 {
			opts = append(opts, letta.WithAsync(cfg.LettaAsync))
		} else if cfg.LettaAsync < 0 {
			return nil, fmt.Errorf("-letta-async-poll must not be negative, got %v", cfg.LettaAsync)
		}
		return letta.New(cfg.LettaURL, opts...)
	case "openai":
		if cfg.OpenAIURL == "" {
			return nil, errors.New("-deliver openai needs -openai-url (TICKLER_OPENAI_URL)")
		}
		return openai.New(cfg.OpenAIURL, openai.WithToken(cfg.OpenAIToken))
	case "webhook":
		if cfg.WebhookURL == "" || cfg.WebhookSecret == "" {
			return nil, errors.New("-deliver webhook needs -webhook-url and -webhook-secret (TICKLER_WEBHOOK_URL, TICKLER_WEBHOOK_SECRET)")
		}
		return webhook.New(cfg.WebhookURL, cfg.WebhookSecret)
	}
	return nil, fmt.Errorf("-deliver must be log, letta, openai or webhook, got %q", cfg.Deliver)
}
