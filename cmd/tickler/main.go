// Command tickler runs tickler as a server of Letta's scheduled agent
// messages API.
//
// Usage:
//
//	tickler version
//	tickler serve [flags]
//
// Every serve flag has an environment variable (see "tickler serve -h"):
// TICKLER_ADDR, TICKLER_DB, TICKLER_API_KEY, TICKLER_DELIVER (log, letta,
// openai or webhook), TICKLER_LETTA_URL, TICKLER_LETTA_TOKEN,
// TICKLER_LETTA_ASYNC_POLL, TICKLER_OPENAI_URL, TICKLER_OPENAI_TOKEN,
// TICKLER_WEBHOOK_URL and TICKLER_WEBHOOK_SECRET. Prefer the variables for
// tokens and secrets: flags show in the process list.
package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
)

func main() {
	if err := run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "tickler:", err)
		os.Exit(2)
	}
}

const usage = "usage: tickler version | tickler serve [flags]"

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
		return serve(cfg, slog.New(slog.NewTextHandler(stderr, nil)))
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

// serve checks the configuration and builds the deliverer. The store,
// scheduler and HTTP server are not wired in yet.
func serve(cfg Config, log *slog.Logger) error {
	slog.SetDefault(log)
	if _, err := newDeliverer(cfg); err != nil {
		return err
	}
	log.Info("tickler: configuration is valid", "addr", cfg.Addr, "db", cfg.DB, "deliver", cfg.Deliver, "api_key", cfg.APIKey != "")
	return errors.New("serve: the scheduler and HTTP server are not wired in yet")
}
