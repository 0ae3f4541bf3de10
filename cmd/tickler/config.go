package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/deliver/letta"
	"github.com/tickler-go/tickler/deliver/logdeliver"
	"github.com/tickler-go/tickler/deliver/openai"
	"github.com/tickler-go/tickler/deliver/webhook"
)

// Config is what "tickler serve" runs with. Each field has a flag and an
// environment variable; the flag wins.
type Config struct {
	Addr   string // -addr, TICKLER_ADDR
	DB     string // -db, TICKLER_DB
	APIKey string // -api-key, TICKLER_API_KEY

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
}

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
	str(&c.DB, "db", "TICKLER_DB", "./tickler.db", "bolt file holding the schedules")
	str(&c.APIKey, "api-key", "TICKLER_API_KEY", "", "require this bearer token from clients")
	str(&c.Deliver, "deliver", "TICKLER_DELIVER", "log", "deliverer: log, letta, openai or webhook")
	str(&c.LettaURL, "letta-url", "TICKLER_LETTA_URL", "", "Letta server base URL, such as https://api.letta.com")
	str(&c.LettaToken, "letta-token", "TICKLER_LETTA_TOKEN", "", "Letta API key or server password")
	str(&c.OpenAIURL, "openai-url", "TICKLER_OPENAI_URL", "", "chat completions server base URL")
	str(&c.OpenAIToken, "openai-token", "TICKLER_OPENAI_TOKEN", "", "chat completions bearer token")
	str(&c.WebhookURL, "webhook-url", "TICKLER_WEBHOOK_URL", "", "URL to POST each delivery to")
	str(&c.WebhookSecret, "webhook-secret", "TICKLER_WEBHOOK_SECRET", "", "Standard Webhooks signing secret (whsec_…)")
	var poll time.Duration
	if v := getenv("TICKLER_LETTA_ASYNC_POLL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return c, fmt.Errorf("TICKLER_LETTA_ASYNC_POLL: %w", err)
		}
		poll = d
	}
	fs.DurationVar(&c.LettaAsync, "letta-async-poll", poll, "use Letta's async route, polling the run this often; 0 waits on the synchronous route ($TICKLER_LETTA_ASYNC_POLL)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	c.Deliver = strings.ToLower(strings.TrimSpace(c.Deliver))
	return c, nil
}

// newDeliverer returns the deliverer cfg.Deliver names, built and checked
// now, so that a misconfiguration stops serve before it takes a request.
func newDeliverer(cfg Config) (tickler.Deliverer, error) {
	switch cfg.Deliver {
	case "", "log":
		return logdeliver.New(nil), nil
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
