package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/tickler-go/tickler"
)

// The health routes live here, beside the process that owns the store and
// the scheduler's lifecycle, rather than in httpapi: a host that mounts
// httpapi in its own server has its own health checks and its own idea of
// ready, and only this binary knows when it started and stopped the
// scheduler.

// readyTimeout bounds the store's answer to a readiness probe.
const readyTimeout = 2 * time.Second

// health answers the health routes, which need no API key:
//
//	GET /healthz     200 {"status":"ok"} while the process serves
//	GET /readyz      200 {"status":"ready"} when the store answers within
//	                 readyTimeout and the scheduler runs; otherwise 503
//	                 {"status":"unavailable","reason":"..."}
//	GET /v1/health/  Letta's health route: 200 {"version":"...","status":"ok"}
type health struct {
	store   tickler.Store
	version string
	running atomic.Bool // the scheduler started and is not stopping
}

// register adds the health routes to mux.
func (h *health) register(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := h.ready(r.Context()); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.HandleFunc("GET /v1/health/{$}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"version": h.version, "status": "ok"})
	})
}

// ready reports why the server is not ready, or nil: the scheduler must
// be running and the store must answer a lookup (of an id that is never
// made, so the answer is ErrNotFound) within readyTimeout. A store that
// hangs leaves one goroutine waiting on it, not the probe.
func (h *health) ready(ctx context.Context) error {
	if !h.running.Load() {
		return errors.New("the scheduler is not running")
	}
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := h.store.Get(ctx, "", "tickler-readiness-probe")
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, tickler.ErrNotFound) {
			return fmt.Errorf("the store does not answer: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("the store does not answer within %v", readyTimeout)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
