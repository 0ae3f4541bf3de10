package main

import (
	"net/http"
)

// routes is what serve answers on its one listener:
//
//	/healthz, /readyz, /v1/health/  the health routes (no API key)
//	GET /metrics                    metrics in the Prometheus formats: the
//	                                API key when one is set, unless public
//	/mcp/agents/{agent_id}          the agents' MCP endpoints, if mcp is
//	                                not nil (it checks the key itself)
//	/admin/                         the admin API and page (the admin key)
//	everything else                 Letta's API (it checks the key itself),
//	                                or, with a proxy, the schedule routes
//	                                and the proxy for all the rest
type routes struct {
	health  *health
	api     http.Handler
	metrics http.Handler
	// metricsAuth, if not nil, must pass a request for /metrics.
	metricsAuth func(*http.Request) error
	mcp         http.Handler
	// proxy, if not nil, answers what is not tickler's (see proxy.go).
	proxy http.Handler
	// admin, if not nil, serves the admin API and page under /admin/ (it
	// checks the admin key itself).
	admin http.Handler
}

func (rt routes) handler() http.Handler {
	mux := http.NewServeMux()
	rt.health.register(mux)
	if rt.metrics != nil {
		mux.Handle("GET /metrics", requireAuth(rt.metricsAuth, rt.metrics))
	}
	if rt.mcp != nil {
		mux.Handle("/mcp/agents/", rt.mcp)
	}
	if rt.admin != nil {
		mux.Handle("/admin/", rt.admin)
	}
	if rt.proxy == nil {
		mux.Handle("/", rt.api)
		return mux
	}
	mux.Handle("/v1/agents/{agent_id}/schedule", rt.api)
	mux.Handle("/v1/agents/{agent_id}/schedule/", rt.api)
	mux.Handle("/", rt.proxy)
	return mux
}

// requireAuth answers 401 to a request that authorize refuses, and hands
// the others to h; a nil authorize lets every request through.
func requireAuth(authorize func(*http.Request) error, h http.Handler) http.Handler {
	if authorize == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := authorize(r); err != nil {
			w.Header().Set("WWW-Authenticate", "Bearer")
			writeJSON(w, http.StatusUnauthorized, map[string]string{"detail": err.Error()})
			return
		}
		h.ServeHTTP(w, r)
	})
}
