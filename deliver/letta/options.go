package letta

import (
	"net/http"
	"time"

	"github.com/tickler-go/tickler"
)

// Option configures a [Deliverer]; see [New].
type Option func(*options)

type options struct {
	token        string
	client       *http.Client
	conversation func(*tickler.Delivery) string
	async        bool
	poll         time.Duration
	maxBody      int64
}

// WithToken sends "Authorization: Bearer <token>": a Letta Cloud API key,
// or the password of a self-hosted server started secure. The token never
// appears in an error.
func WithToken(token string) Option { return func(o *options) { o.token = token } }

// WithHTTPClient sends the requests with c instead of a client on
// [http.DefaultTransport] that does not follow redirects. c's own redirect
// policy then applies.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.client = c } }

// WithConversation sends a delivery to the conversation f names, through
// POST /v1/conversations/{id}/messages; an empty name sends it to the
// agent. Without the option a delivery goes to its scheduled message's
// conversation ([tickler.Delivery.ConversationID]) if it has one, and to
// the agent otherwise: f replaces that choice. The name "default" is
// Letta's agent-direct mode: the agent id goes in the body. f is called
// once per attempt and must be safe for concurrent use. It cannot be
// combined with [WithAsync].
func WithConversation(f func(d *tickler.Delivery) string) Option {
	return func(o *options) { o.conversation = f }
}

// WithAsync posts to /v1/agents/{agent_id}/messages/async and then polls
// GET /v1/runs/{run_id} every interval (which must be positive) until the
// run is completed, failed or cancelled, or ctx ends. A completed run is a
// success whose Response is the final Run object; a failed run is an error
// retried by the policy; a cancelled run is [tickler.Permanent]. A poll
// answered 408, 409, 429 or 5xx, or not answered, is tried again at the
// next interval (or after Retry-After); any other failing answer ends the
// delivery with its error. Letta has no async route for conversations: a
// delivery with a [tickler.Delivery.ConversationID] goes to the
// conversation's synchronous route and waits for the answer.
func WithAsync(interval time.Duration) Option {
	return func(o *options) { o.async, o.poll = true, interval }
}

// WithMaxResponseBytes bounds how much of an answer is read (default 10
// MiB). A success whose body is larger is still a success, with a nil
// Response.
func WithMaxResponseBytes(n int64) Option {
	return func(o *options) {
		if n == 0 {
			n = -1 // zero is not "the default" once asked for
		}
		o.maxBody = n
	}
}
