package mcp

import (
	"net/http"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tickler-go/tickler"
)

// Pattern is the path NewHandler serves, in net/http's pattern syntax: one
// MCP endpoint per agent, the agent's id its last segment.
const Pattern = "/mcp/agents/{agent_id}"

// handler serves the endpoints; it holds no per-session state.
type handler struct {
	s      *tickler.Scheduler
	o      options
	limits *limits
	cache  *sdk.SchemaCache
	mux    *http.ServeMux
}

// NewHandler returns a handler that serves an MCP endpoint (Streamable
// HTTP) for each agent at [Pattern], /mcp/agents/{agent_id}, whose tools
// let the agent schedule messages to itself on s: schedule_message,
// list_my_schedules, get_schedule, cancel_schedule, pause_schedule,
// resume_schedule and next_fire_times. Mount it at "/mcp/agents/" of the
// server's mux (or at "/"); any other path answers 404.
//
// The agent's identity is the path's last segment, the URL its runtime
// was configured with; no tool takes an agent id, so a model cannot act on
// another agent's schedules through its own endpoint. Whoever can reach an
// endpoint acts as that agent, though: give the server's API key with
// [WithAPIKey], or keep the listener where only trusted runtimes reach it.
// Without a key, the handler still refuses a request that arrives on a
// loopback address with a Host header naming another host (DNS
// rebinding), but anything that can send a request to the port can
// create, read and cancel any agent's schedules.
//
// The schedules the tools create are ordinary scheduled messages of s:
// the HTTP API lists them, and s delivers them through its Deliverer to the
// same agent. The handler is stateless (no MCP session is kept between
// requests), so it may sit behind several replicas, and is safe for
// concurrent use. s need not be started for the tools to store schedules;
// they fire once it is.
func NewHandler(s *tickler.Scheduler, opts ...Option) http.Handler {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	h := &handler{s: s, o: o, cache: sdk.NewSchemaCache(), mux: http.NewServeMux()}
	h.limits = newLimits(s, &h.o)
	streamable := sdk.NewStreamableHTTPHandler(h.server, &sdk.StreamableHTTPOptions{
		Stateless:    true,
		JSONResponse: true,
		Logger:       o.logger,
	})
	h.mux.Handle(Pattern, streamable)
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.o.authorize != nil {
		if err := h.o.authorize(r); err != nil {
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
	}
	h.mux.ServeHTTP(w, r)
}

// server returns the MCP server of one request: the tools bound to the
// agent of its path. Schemas are computed once, in the cache.
func (h *handler) server(r *http.Request) *sdk.Server {
	agent := r.PathValue("agent_id")
	if agent == "" {
		return nil // 400
	}
	s := sdk.NewServer(&sdk.Implementation{Name: h.o.name, Version: h.o.version}, &sdk.ServerOptions{
		Instructions: instructions,
		Logger:       h.o.logger,
		SchemaCache:  h.cache,
		Capabilities: &sdk.ServerCapabilities{Tools: &sdk.ToolCapabilities{}},
	})
	a := agentTools{h: h, agent: agent}
	for _, t := range toolSet {
		t.add(s, t.tool, a)
	}
	return s
}

// instructions is what the server tells a client when it initializes; some
// clients show it to the model.
const instructions = "tickler lets you schedule messages to yourself: reminders, follow-ups and recurring check-ins. " +
	"A scheduled message is delivered to you when it fires, as a new message in your conversation. " +
	"Use schedule_message to create one, list_my_schedules to see yours, and cancel_schedule when one is no longer needed."
