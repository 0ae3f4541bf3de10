// Command server is a self-hosted implementation of Letta's scheduled agent
// messages API: tickler's scheduler over a bolt file, served by the httpapi
// package, with callback_url support. Its agent is a demonstration that
// logs each delivery; a real host hands the messages to its agents instead.
//
// Usage:
//
//	go run ./examples/server -addr 127.0.0.1:8283 -db ./tickler.db
//
// Then point any Letta client at http://127.0.0.1:8283, for instance
//
//	curl -X POST http://127.0.0.1:8283/v1/agents/agent-1/schedule \
//	  -H 'Content-Type: application/json' \
//	  -d '{"messages":[{"role":"user","content":"stand up"}],"schedule":{"cron_expression":"0 9 * * 1-5","type":"recurring"}}'
//
// Flags:
//
//	-addr                     where to listen (default 127.0.0.1:8283, Letta's port;
//	                          a port of 0 picks a free one, and the log says which)
//	-db                       the bolt file the schedules live in (default ./tickler.db)
//	-api-key                  if set, require "Authorization: Bearer <key>"
//	                          (the environment variable TICKLER_API_KEY works too)
//	-allow-private-callbacks  let callback_url reach loopback and private addresses
//	                          (local development only)
//	-shutdown-timeout         how long SIGINT/SIGTERM waits for requests, deliveries
//	                          and callbacks in flight (default 10s)
//	-v                        log at debug level
//
// On SIGINT or SIGTERM the server stops taking requests, waits for those in
// flight, stops the scheduler (deliveries in flight finish, or are cut
// short at the timeout and delivered again on the next start), flushes
// callbacks, and closes the store.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/bolt"
	"github.com/tickler-go/tickler/callback"
	"github.com/tickler-go/tickler/httpapi"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:8283", "address to listen on")
	dbPath := flag.String("db", "./tickler.db", "bolt file holding the schedules")
	apiKey := flag.String("api-key", os.Getenv("TICKLER_API_KEY"), "require this bearer token (default $TICKLER_API_KEY)")
	allowPrivate := flag.Bool("allow-private-callbacks", false, "let callbacks reach loopback and private addresses")
	shutdownTimeout := flag.Duration("shutdown-timeout", 10*time.Second, "how long a shutdown waits for work in flight")
	verbose := flag.Bool("v", false, "log at debug level")
	flag.Parse()

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	store, err := bolt.Open(*dbPath)
	if err != nil {
		return err
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Error("closing the store", "err", err)
		}
	}()

	var cbOpts []callback.Option
	cbOpts = append(cbOpts, callback.WithLogger(log))
	if *allowPrivate {
		cbOpts = append(cbOpts, callback.AllowPrivate())
	}
	cb := callback.New(cbOpts...)

	s, err := tickler.New(store, demoAgent{log: log},
		tickler.WithLogger(log),
		tickler.WithEventHandler(cb.Handle),
		tickler.WithDeliveryTimeout(time.Minute),
	)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := s.Start(context.Background()); err != nil {
		return err
	}

	var apiOpts []httpapi.Option
	apiOpts = append(apiOpts, httpapi.WithLogger(log))
	if *allowPrivate {
		apiOpts = append(apiOpts, httpapi.AllowPrivateCallbacks())
	}
	if *apiKey != "" {
		apiOpts = append(apiOpts, httpapi.WithAuthorizer(httpapi.BearerToken(*apiKey)))
	}
	srv := &http.Server{
		Handler:           accessLog(log, httpapi.New(s, apiOpts...)),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		_ = s.Stop(context.Background())
		return err
	}
	log.Info("tickler server listening", "url", "http://"+ln.Addr().String(), "db", store.Path(),
		"auth", *apiKey != "", "allow_private_callbacks", *allowPrivate)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err = <-served: // the listener failed
	case <-ctx.Done():
		log.Info("shutting down")
	}
	stop() // a second signal kills the process

	sctx, cancel := context.WithTimeout(context.Background(), *shutdownTimeout)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil {
		log.Error("stopping the HTTP server", "err", serr)
	}
	if serr := s.Stop(sctx); serr != nil {
		log.Error("stopping the scheduler", "err", serr)
	}
	if serr := cb.Close(sctx); serr != nil {
		log.Error("flushing callbacks", "err", serr)
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	log.Info("stopped")
	return err
}

// demoAgent is the demonstration Deliverer: it logs each delivery and
// answers with a made-up run.
type demoAgent struct{ log *slog.Logger }

func (a demoAgent) Deliver(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
	a.log.Info("delivering scheduled message",
		"id", d.ScheduledMessageID,
		"agent_id", d.AgentID,
		"occurrence", d.Occurrence.UTC().Format(tickler.TimeLayout),
		"idempotency_key", d.IdempotencyKey,
		"attempt", d.Attempt,
		"messages", len(d.Message.Messages),
		"first", preview(d.Message.Messages),
	)
	return tickler.Result{
		RunID: "run-" + rand.Text()[:12],
		Response: map[string]any{
			"agent_id":           d.AgentID,
			"delivered_messages": len(d.Message.Messages),
			"note":               "delivered by the tickler demonstration agent",
		},
	}, nil
}

// preview returns the start of the first text of the messages.
func preview(msgs []tickler.Message) string {
	if len(msgs) == 0 {
		return ""
	}
	c := msgs[0].Content
	text := c.Text
	if c.Parts != nil {
		text = ""
		for _, p := range c.Parts {
			if p.Text != "" {
				text = p.Text
				break
			}
		}
	}
	if r := []rune(text); len(r) > 60 {
		text = string(r[:60]) + "…"
	}
	return strings.TrimSpace(text)
}

// accessLog logs each request at debug level.
func accessLog(log *slog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", sw.status, "took", time.Since(start))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
