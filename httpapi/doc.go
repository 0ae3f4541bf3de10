// Package httpapi serves a [tickler.Scheduler] over HTTP with the contract
// of Letta's "scheduled agent messages" API, so that Letta's official
// clients work against it unchanged.
//
// [New] returns an [http.Handler] serving these routes of the contract:
//
//	POST   /v1/agents/{agent_id}/schedule                                201 {id, next_scheduled_at}
//	GET    /v1/agents/{agent_id}/schedule?after=&limit=                  200 {scheduled_messages, has_next_page}
//	GET    /v1/agents/{agent_id}/schedule/{scheduled_message_id}         200 the scheduled message
//	DELETE /v1/agents/{agent_id}/schedule/{scheduled_message_id}         200 {"success": true}
//	GET    /v1/agents/{agent_id}/schedule/{scheduled_message_id}/history?offset=&limit=
//	                                                                     200 {history, has_next_page, next_offset}
//
// and these extensions of the contract, under the same prefix:
//
//	PATCH  /v1/agents/{agent_id}/schedule/{scheduled_message_id}         200 the scheduled message, updated in place
//	POST   /v1/agents/{agent_id}/schedule/{scheduled_message_id}/pause   200 the scheduled message, "paused": true
//	POST   /v1/agents/{agent_id}/schedule/{scheduled_message_id}/resume  200 the scheduled message
//
// PATCH takes any of the create body's fields and keeps the others (see
// [tickler.Scheduler.Update]); pause and resume take no body, or {}, as
// DELETE does.
//
// List pages through an agent's scheduled messages in creation order:
// after is the last id the caller saw (exclusive), and limit defaults to
// [tickler.DefaultPageSize] and is lowered to the scheduler's maximum page
// size ([tickler.WithMaxPageSize]). Both are strings on the wire, as
// Letta's clients send them. A page is bounded in bytes as well
// ([WithMaxPageBytes], 8 MiB of encoded items by default): it ends early,
// with has_next_page true, rather than grow past the bound, and holds at
// least one item. History pages are bounded the same way. History lists a scheduled message's delivery
// outcomes, newest first, offset entries in; each entry is {id,
// scheduled_message_id, status, response, run_id, sent_at}, with
// occurrence, attempts and (for a failure or a skip) error added. A
// one-time message and its history are gone once it has fired, so history
// is mostly of use for recurring messages.
//
// # Errors
//
// Every error answers with a JSON body {"detail": ...}, as Letta's
// FastAPI-based server does:
//
//   - 400: a one-time schedule whose scheduled_at is not in the future
//     ([tickler.ErrScheduledInPast]); detail is a string.
//   - 401: the authorizer ([WithAuthorizer]) refused the request.
//   - 403: the Host header names a host the handler does not answer
//     ([WithAllowedHosts]). A handler without an authorizer answers
//     only loopback names (localhost, 127.0.0.1, [::1], any port) by
//     default, against DNS rebinding.
//   - 404: no such route, an agent the lookup ([WithAgentLookup]) does not
//     know, or a scheduled message that does not exist or belongs to
//     another agent ([tickler.ErrNotFound]).
//   - 405: a route that exists, with another method; the Allow header
//     lists the methods it takes.
//   - 413: a body over the limit ([WithMaxBodyBytes], 1 MiB by default).
//   - 415: a Content-Type that is not JSON (application/json or
//     application/*+json): create and PATCH always need one; DELETE,
//     pause and resume take no body or {}, and refuse a Content-Type that
//     is not JSON even with no body, and a body without a Content-Type.
//     An HTML form from another site, which always sends a Content-Type
//     of its own, can therefore change nothing.
//   - 422: a body or query that does not validate. detail is a list in
//     FastAPI's shape, each entry naming the field by its location:
//     {"detail": [{"loc": ["body", "messages", 0, "role"], "msg": "...", "type": "..."}]}.
//     Bodies are decoded strictly: an unknown field, a value of the wrong
//     JSON type, a missing required field and anything after the JSON
//     value are all 422.
//     At most 20 errors are listed; if there were more, a last entry
//     {"loc": ["body"], "msg": "and N more errors", "type": "too_many_errors"}
//     counts the others. A list of more than 1000 items is one error
//     ("too_long") and its items are not checked.
//     A string that is not valid UTF-8, in the body or in the path, is
//     422 ("string_unicode"), since it could not read back as it was
//     sent. An agent id in the path must be at most [MaxAgentIDBytes]
//     bytes, and must not be "." or ".." or contain "/" (sent as %2E or
//     %2F).
//     A callback_url whose port is outside 1-65535, or, unless
//     [AllowPrivateCallbacks], whose host is localhost or a literal
//     loopback, private or link-local address, is 422 on callback_url.
//   - 500: the store failed, a hook failed, or a handler panicked. The
//     detail says no more than "Internal Server Error"; the cause goes to
//     the logger ([WithLogger]).
//
// # Admin API
//
// [NewAdmin] is a second handler, for an operator, mounted apart from
// Letta's routes under /admin/: every agent's schedules by id alone,
// counts, the newest deliveries, a backup stream ([WithBackup]) and an
// embedded page at /admin/. It has its own authorizer, so that the keys
// of the agents' clients do not open it.
//
// # Checks, in order
//
// A request's Host is first checked, then it is authorized (so an
// unauthorized caller learns nothing, not even which routes exist), then
// routed (404, 405), then the ids of its path are checked and its agent is
// looked up, then its body is read and validated, and only then does the
// handler call the scheduler. The handler calls nothing but the public
// [tickler.Scheduler] API; it is safe for concurrent use as the scheduler
// is.
package httpapi
