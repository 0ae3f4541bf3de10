package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/bolt"
	"github.com/tickler-go/tickler/callback"
	"github.com/tickler-go/tickler/httpapi"
)

// deliveryTimeout bounds each call to the deliverer, so that an agent
// that never answers holds a worker for five minutes, not forever; the
// attempt then fails and the retry policy decides what follows.
const deliveryTimeout = 5 * time.Minute

// serve runs the server until ctx ends: the bolt store at cfg.DB, the
// scheduler with cfg's deliverer and callback_url sender, and the HTTP API
// with the health routes, on cfg.Addr. A deliverer that does not validate,
// a store that does not open, an address that cannot be listened on or a
// scheduler that does not start is an error before any request is served.
// listening, if not nil, is called with the address once requests are
// taken.
//
// When ctx ends, serve stops gracefully within cfg.ShutdownTimeout: it
// stops accepting and drains the requests in flight, stops the scheduler
// (deliveries in flight finish, or are cut short at the deadline and
// delivered again on the next start), flushes callbacks and closes the
// store. It returns nil after a clean stop.
func serve(ctx context.Context, cfg Config, log *slog.Logger, listening func(net.Addr)) (err error) {
	deliverer, err := newDeliverer(cfg, log)
	if err != nil {
		return err
	}
	store, err := bolt.Open(cfg.DB)
	if err != nil {
		return fmt.Errorf("opening the store: %w", err)
	}
	defer func() {
		if cerr := store.Close(); cerr != nil {
			log.Error("tickler: closing the store", "err", cerr)
			err = errors.Join(err, cerr)
		}
	}()

	cbOpts := []callback.Option{callback.WithLogger(log)}
	if cfg.AllowPrivateCallbacks {
		cbOpts = append(cbOpts, callback.AllowPrivate())
	}
	cb := callback.New(cbOpts...)
	s, err := tickler.New(store, deliverer,
		tickler.WithLogger(log),
		tickler.WithEventHandler(cb.Handle),
		tickler.WithAgentConcurrency(cfg.agentConcurrency()),
		tickler.WithDeliveryTimeout(deliveryTimeout),
	)
	if err != nil {
		return err
	}

	apiOpts := []httpapi.Option{httpapi.WithLogger(log)}
	if cfg.AllowPrivateCallbacks {
		apiOpts = append(apiOpts, httpapi.AllowPrivateCallbacks())
	}
	if cfg.APIKey != "" {
		apiOpts = append(apiOpts, httpapi.WithAuthorizer(httpapi.BearerToken(cfg.APIKey)))
	}
	h := &health{store: store, version: version()}
	api := http.NewServeMux()
	api.Handle("/", httpapi.New(s, apiOpts...))
	api.Handle("/admin/", newAdmin(s, store, cfg, log))
	srv := &http.Server{
		Handler:           accessLog(log, h.handler(api)),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	if err := s.Start(context.WithoutCancel(ctx)); err != nil {
		ln.Close()
		return fmt.Errorf("starting the scheduler: %w", err)
	}
	h.running.Store(true)
	log.Info("tickler: listening", "url", "http://"+ln.Addr().String(), "db", store.Path(),
		"deliver", cfg.Deliver, "agent_concurrency", cfg.agentConcurrency(), "auth", cfg.APIKey != "",
		"allow_private_callbacks", cfg.AllowPrivateCallbacks, "version", h.version)
	if u := cfg.targetURL(); u != "" {
		log.Info("tickler: delivering to", "url", u)
	}
	if listening != nil {
		listening(ln.Addr())
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err = <-served: // the listener failed
		log.Error("tickler: serving", "err", err)
	case <-ctx.Done():
		log.Info("tickler: shutting down", "timeout", cfg.ShutdownTimeout)
	}

	// One deadline for the whole stop, in the order data flows: no new
	// requests, then no new deliveries, then the callbacks they caused.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	h.running.Store(false)
	if serr := srv.Shutdown(sctx); serr != nil {
		log.Error("tickler: stopping the HTTP server", "err", serr)
	}
	if serr := s.Stop(sctx); serr != nil {
		log.Error("tickler: stopping the scheduler", "err", serr)
	}
	if serr := cb.Close(sctx); serr != nil {
		log.Error("tickler: flushing callbacks", "err", serr)
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	log.Info("tickler: stopped")
	return err
}

// targetURL is the URL the deliverer sends to, without credentials, or ""
// for the log deliverer.
func (c Config) targetURL() string {
	raw := map[string]string{"letta": c.LettaURL, "openai": c.OpenAIURL, "webhook": c.WebhookURL}[c.Deliver]
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

// accessLog logs each request at debug level.
func accessLog(log *slog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		log.Debug("tickler: request", "method", r.Method, "path", r.URL.Path, "status", sw.status, "took", time.Since(start))
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
