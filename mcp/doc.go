// Package mcp lets agents schedule messages to themselves: it serves
// tickler as a Model Context Protocol server over Streamable HTTP, with one
// endpoint per agent at /mcp/agents/{agent_id} ([NewHandler]).
//
// It is its own Go module (github.com/tickler-go/tickler/mcp), so that
// programs using only the library never download the MCP SDK
// (github.com/modelcontextprotocol/go-sdk).
//
// # Identity and trust
//
// The agent is the last segment of the URL its runtime was configured
// with. No tool takes an agent id, so a model acts only on its own
// schedules whatever it puts in the arguments (an unknown argument such as
// agent_id is refused by the input schema). The URL is a capability:
// whoever can send a request to it acts as that agent. [WithAPIKey] makes
// every request carry the server's key; without one, keep the listener
// where only trusted runtimes reach it.
//
// # Guarantees
//
//   - The tools call only the public [tickler.Scheduler] API. A schedule
//     they create is an ordinary scheduled message: the HTTP API lists it,
//     and the scheduler delivers it through its Deliverer to the same agent.
//   - Every failure a model can cause or fix comes back as a tool result
//     with IsError set and a sentence naming the tool's own argument ("`in`
//     must be a positive duration like 90m ..."), never as a protocol
//     error. Failures of the store are logged ([WithLogger]) and told to
//     the model only as "try again later".
//   - A rejected call stores nothing.
//   - "Now" is the handler's clock ([WithClock]); give it the scheduler's.
//   - The handler keeps no MCP session (stateless Streamable HTTP, JSON
//     responses) and is safe for concurrent use.
//   - Creates of one agent are serialized, so the count limit
//     ([WithMaxSchedules]) is exact within one handler; the rate limit
//     ([WithCreateRate]) is kept in memory, per handler.
//
// # Files
//
//	handler.go  NewHandler, the route and the per-request server
//	options.go  options and the limits' defaults
//	tools.go    the seven tools, their descriptions and handlers
//	schema.go   the tools' arguments and answers, and their JSON schemas
//	when.go     durations, date-times, zones and cron expressions as a model writes them
//	preview.go  occurrences of a cron expression, computed by tickler itself
//	limit.go    the per-agent count and rate of schedule_message
//	errors.go   tickler's errors in the tools' terms
package mcp
