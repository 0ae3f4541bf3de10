// Command tickler runs tickler as a server of Letta's scheduled agent
// messages API: schedules in a bolt file or a PostgreSQL database, fired
// on time and handed to a deliverer, with callback_url callbacks.
//
// Usage:
//
//	tickler version
//	tickler serve [flags]
//	tickler migrate [-db URL] [-schema S]
//	tickler ls | get | rm | pause | resume | trigger | history [flags]   (a running server's admin API)
//	tickler inspect | export | import -db PATH [flags]                  (a stopped server's store)
//
// TICKLER_DB (-db) is a bolt file's path, or a postgres:// or
// postgresql:// URL: then every server given the same URL and schema
// (TICKLER_DB_SCHEMA, default tickler) shares the schedules, and each
// occurrence is delivered by one of them. serve migrates the schema at
// start (under an advisory lock, so replicas may start at once) unless
// TICKLER_MIGRATE=false, when it refuses a schema that lacks migrations;
// "tickler migrate" applies them and prints the versions applied. The
// URL's password is never logged nor shown in an error.
//
// Every serve flag has an environment variable (see "tickler serve -h"):
// TICKLER_ADDR, TICKLER_DB, TICKLER_DB_SCHEMA, TICKLER_MIGRATE,
// TICKLER_PG_POLL_ONLY, TICKLER_API_KEY, TICKLER_ADMIN_KEY, TICKLER_DELIVER (log, letta,
// openai or webhook), TICKLER_LETTA_URL, TICKLER_LETTA_TOKEN,
// TICKLER_LETTA_ASYNC_POLL, TICKLER_OPENAI_URL, TICKLER_OPENAI_TOKEN,
// TICKLER_WEBHOOK_URL, TICKLER_WEBHOOK_SECRET, TICKLER_AGENT_CONCURRENCY,
// TICKLER_ALLOW_PRIVATE_CALLBACKS, TICKLER_METRICS_PUBLIC, TICKLER_MCP,
// TICKLER_SHUTDOWN_TIMEOUT, TICKLER_LOG_FORMAT (text or json) and
// TICKLER_LOG_LEVEL. Prefer the
// variables for tokens and secrets: flags show in the process list. No
// token, key or secret is ever logged.
//
// Besides the API, serve answers GET /healthz (200 while it serves),
// GET /readyz (200 when the store answers and the scheduler runs, else 503
// with a reason) and Letta's GET /v1/health/ ({"version", "status"}),
// none of which needs the API key; GET /metrics, the metrics in the
// Prometheus formats, behind the API key when one is set unless
// TICKLER_METRICS_PUBLIC=true; and, unless TICKLER_MCP=false, an MCP
// endpoint per agent at /mcp/agents/{agent_id}, behind the API key when
// one is set. Deliveries are traced, and traces and metrics are exported
// over OTLP when the standard OTEL_* variables ask for it (see the
// otel/telemetry package). SIGINT or SIGTERM stops it gracefully.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	_ "time/tzdata" // CRON_TZ and the MCP tools' time zones work on hosts without zoneinfo
)

func main() {
	if err := run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "tickler:", err)
		os.Exit(2)
	}
}

const usage = "usage: tickler version | serve | migrate | ls | get | rm | pause | resume | trigger | history | inspect | export | import [flags]"

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "tickler", version())
		return nil
	case "serve":
		cfg, err := loadConfig(args[1:], getenv, stderr)
		if err != nil {
			return err
		}
		log, err := newLogger(cfg, stderr)
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		context.AfterFunc(ctx, stop) // a second signal kills the process
		return serve(ctx, cfg, log, nil)
	case "migrate":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return migrate(ctx, args[1:], getenv, stdout, stderr)
	}
	if cmd, ok := adminCommands[args[0]]; ok {
		return cmd(args[1:], getenv, stdout, stderr)
	}
	return fmt.Errorf("unknown command %q; %s", args[0], usage)
}

// version is the module's version as built, or "(devel)".
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
