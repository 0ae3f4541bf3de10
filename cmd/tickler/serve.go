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
	"github.com/tickler-go/tickler/callback"
	"github.com/tickler-go/tickler/httpapi"
	"github.com/tickler-go/tickler/mcp"
	ticklerotel "github.com/tickler-go/tickler/otel"
	"github.com/tickler-go/tickler/otel/telemetry"
)

// deliveryTimeout bounds each call to the deliverer, so that an agent
// that never answers holds a worker for five minutes, not forever; the
// attempt then fails and the retry policy decides what follows.
const deliveryTimeout = 5 * time.Minute

// flushTimeout bounds the last export of metrics and traces at a stop. It
// is apart from the shutdown timeout, so that deliveries cut short at that
// deadline are still reported.
const flushTimeout = 5 * time.Second

// serve runs the server until ctx ends: the store at cfg.DB (a bolt file
// or a PostgreSQL database, migrated first if cfg.Migrate), the scheduler
// with cfg's deliverer and callback_url sender, and the HTTP API with the
// health routes, /metrics and the agents' MCP endpoints (see routes), on
// cfg.Addr. Deliveries are traced and counted (see the ticklerotel
// package) and exported over OTLP when the OTEL_* variables ask for it.
// A deliverer that does not validate, telemetry that cannot be set up, a
// store that does not open, an address that cannot be listened on or a
// scheduler that does not start is an error before any request is served.
// listening, if not nil, is called with the address once requests are
// taken.
//
// When ctx ends, serve stops gracefully within cfg.ShutdownTimeout: it
// stops accepting and drains the requests in flight, stops the scheduler
// (deliveries in flight finish, or are cut short at the deadline and
// delivered again on the next start), flushes callbacks, closes the
// store, and flushes metrics and traces (within flushTimeout). It returns
// nil after a clean stop.
func serve(ctx context.Context, cfg Config, log *slog.Logger, listening func(net.Addr)) (err error) {
	deliverer, err := newDeliverer(cfg, log)
	if err != nil {
		return err
	}
	// Telemetry first, so that a bad OTEL_* variable stops serve before
	// it touches the store, and flushed last (its defer runs last), after
	// the scheduler recorded its final deliveries.
	tel, err := telemetry.Setup(ctx, telemetry.Config{ServiceName: "tickler", ServiceVersion: version(), Prometheus: true})
	if err != nil {
		return err
	}
	defer func() {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
		defer cancel()
		if ferr := tel.Shutdown(fctx); ferr != nil {
			log.Error("tickler: flushing telemetry", "err", ferr)
		}
	}()
	metrics, err := ticklerotel.NewMetrics(ticklerotel.WithMeterProvider(tel.MeterProvider))
	if err != nil {
		return err
	}
	deliverer = ticklerotel.Deliverer(deliverer, ticklerotel.WithTracerProvider(tel.TracerProvider))

	store, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	// Deferred before the scheduler exists, so run after it stopped: the
	// store closes once the scheduler recorded what it delivered.
	defer func() {
		if cerr := store.close(); cerr != nil {
			log.Error("tickler: closing the store", "err", cerr)
			err = errors.Join(err, cerr)
		}
	}()

	cbOpts := []callback.Option{callback.WithLogger(log)}
	if cfg.AllowPrivateCallbacks {
		cbOpts = append(cbOpts, callback.AllowPrivate())
	}
	if cfg.CallbackSecret != "" {
		cbOpts = append(cbOpts, callback.WithSigningSecret(cfg.CallbackSecret))
	}
	// Callbacks go through the store's outbox (bolt and postgres keep
	// one): written with the ack, they survive a crash, and over postgres
	// any node sends them.
	var schedOpts []tickler.Option
	if ob, ok := store.Store.(tickler.CallbackOutbox); ok {
		cbOpts = append(cbOpts, callback.WithOutbox(ob))
		schedOpts = append(schedOpts, tickler.WithCallbackOutbox())
	}
	cb, err := callback.NewSender(cbOpts...)
	if err != nil {
		return fmt.Errorf("callbacks: %w", err)
	}
	// The store itself, not its wrapper: the scheduler asserts what the
	// store can do (SharedStore, AdminStore...) on what it is given.
	s, err := tickler.New(store.Store, deliverer, append(schedOpts,
		tickler.WithLogger(log),
		tickler.WithEventHandler(ticklerotel.Handlers(cb.Handle, metrics.Handle)),
		tickler.WithAgentConcurrency(cfg.agentConcurrency()),
		tickler.WithMaxSchedulesPerAgent(cfg.MaxPerAgent),
		tickler.WithMaxBytesPerAgent(cfg.MaxBytesPerAgent),
		tickler.WithDeliveryTimeout(deliveryTimeout),
	)...)
	if err != nil {
		return err
	}
	observed, err := metrics.Observe(s)
	if err != nil {
		return err
	}
	defer observed.Unregister()

	apiOpts := []httpapi.Option{httpapi.WithLogger(log)}
	if cfg.AllowPrivateCallbacks {
		apiOpts = append(apiOpts, httpapi.AllowPrivateCallbacks())
	}
	if cfg.APIKey != "" {
		apiOpts = append(apiOpts, httpapi.WithAuthorizer(httpapi.BearerToken(cfg.APIKey)))
	}
	h := &health{store: store, version: version()}
	rt := routes{health: h, api: httpapi.New(s, apiOpts...), metrics: tel.Metrics}
	if cfg.APIKey != "" && !cfg.MetricsPublic {
		rt.metricsAuth = httpapi.BearerToken(cfg.APIKey)
	}
	if cfg.Proxy {
		if rt.proxy, err = lettaProxy(cfg.LettaURL, log); err != nil {
			return err
		}
	}
	rt.admin = newAdmin(s, store.Store, cfg, log)
	if cfg.MCP {
		mcpOpts := []mcp.Option{mcp.WithLogger(log), mcp.WithImplementation("tickler", h.version)}
		if cfg.APIKey != "" {
			mcpOpts = append(mcpOpts, mcp.WithAPIKey(cfg.APIKey))
		}
		rt.mcp = mcp.NewHandler(s, mcpOpts...)
	}
	srv := &http.Server{
		Handler:           accessLog(log, rt.handler()),
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
	log.Info("tickler: listening", "url", "http://"+ln.Addr().String(), "db", store.where,
		"deliver", cfg.Deliver, "agent_concurrency", cfg.agentConcurrency(), "auth", cfg.APIKey != "",
		"allow_private_callbacks", cfg.AllowPrivateCallbacks, "metrics_public", cfg.APIKey == "" || cfg.MetricsPublic,
		"mcp", cfg.MCP, "version", h.version)
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
