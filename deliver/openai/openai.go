// Package openai delivers scheduled messages to an OpenAI-compatible chat
// completions endpoint, such as the HTTP surface of Letta's App Server
// (letta server) or another agent gateway.
//
// Each occurrence is one POST {base}/v1/chat/completions with
// {"model": <agent id>, "messages": [...], "stream": false} and the header
// Idempotency-Key: <the occurrence's idempotency key>, which a server that
// honours it (Letta's App Server does) uses to answer a retry with the
// original outcome instead of running the turn again. max_steps and
// include_return_message_types have no place in the request and are not
// sent.
//
// # Content
//
// A message's role and name are sent as they are stored; otid and
// sender_id are not sent. A string content is sent as that string. A
// content of parts that are all text is sent as one string, the texts
// joined with "\n", which every OpenAI-compatible server accepts. A
// content with an image is sent as OpenAI content parts: {"type":"text",
// "text"} for text and {"type":"image_url","image_url":{"url":
// "data:<media type>;base64,<data>"}} for a base64 image (with its detail,
// if stored); a server that takes only strings answers 4xx, a permanent
// error.
//
// # Answers
//
// A 2xx answer is a success: [tickler.Result.RunID] is the completion's
// "id" and [tickler.Result.Response] the answer's JSON body unchanged (a
// [json.RawMessage]), or nil if it is not JSON or exceeds the bound. Other
// statuses follow package [github.com/tickler-go/tickler/deliver], with
// OpenAI's error.message (and code, such as model_not_found) in the
// error. The token never appears in an error.
package openai

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/deliver/internal/httpx"
)

// Deliverer sends each occurrence as a chat completion. Create it with
// [New]; it is safe for concurrent use.
type Deliverer struct {
	endpoint *url.URL
	token    string
	chatKey  func(*tickler.Delivery) string
	c        *httpx.Client
}

var _ tickler.Deliverer = (*Deliverer)(nil)

// Option configures a [Deliverer]; see [New].
type Option func(*options)

type options struct {
	token   string
	client  *http.Client
	chatKey func(*tickler.Delivery) string
	maxBody int64
}

// WithToken sends "Authorization: Bearer <token>". The token never appears
// in an error.
func WithToken(token string) Option { return func(o *options) { o.token = token } }

// WithHTTPClient sends the requests with c instead of a client on
// [http.DefaultTransport] that does not follow redirects.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.client = c } }

// WithChatKey sends "X-Letta-Chat-Key: f(d)" when f returns a non-empty
// key. Letta's App Server sends the requests with one key to one
// conversation, which then receives only the newest message; without a
// key each request runs in a fresh conversation. Returning
// d.ScheduledMessageID gives each schedule a conversation of its own. f is
// called once per attempt and must be safe for concurrent use.
func WithChatKey(f func(d *tickler.Delivery) string) Option {
	return func(o *options) { o.chatKey = f }
}

// WithMaxResponseBytes bounds how much of an answer is read (default 10
// MiB); a larger success is still a success, with a nil Response.
func WithMaxResponseBytes(n int64) Option {
	return func(o *options) {
		if n == 0 {
			n = -1
		}
		o.maxBody = n
	}
}

// New returns a deliverer to the server at baseURL, its root (such as
// "http://localhost:8283"); a base whose path already ends in "/v1", as
// the OpenAI SDKs' base URLs do, is not given a second one. It returns an
// error for a missing or non-http base URL, one with a query, and a token
// of more than one line.
func New(baseURL string, opts ...Option) (*Deliverer, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	base, err := httpx.ParseURL("openai: base URL", baseURL, false)
	if err != nil {
		return nil, err
	}
	switch {
	case strings.ContainsAny(o.token, "\r\n"):
		return nil, errors.New("openai: the token must be one line")
	case o.maxBody < 0:
		return nil, fmt.Errorf("openai: the response bound must be positive, got %d", o.maxBody)
	}
	if o.client == nil {
		o.client = httpx.DefaultClient()
	}
	var endpoint *url.URL
	if strings.HasSuffix(strings.TrimSuffix(base.Path, "/"), "/v1") {
		endpoint = httpx.JoinPath(base, "chat", "completions")
	} else {
		endpoint = httpx.JoinPath(base, "v1", "chat", "completions")
	}
	secrets := []string{o.token}
	if pw, ok := base.User.Password(); ok {
		secrets = append(secrets, pw)
	}
	return &Deliverer{
		endpoint: endpoint,
		token:    o.token,
		chatKey:  o.chatKey,
		c:        &httpx.Client{Service: "openai", HTTP: o.client, MaxBody: o.maxBody, Secrets: secrets},
	}, nil
}

type chatRequest struct {
	Model    string        `json:"model"`
	Messages []chatMessage `json:"messages"`
	Stream   bool          `json:"stream"`
}

type chatMessage struct {
	Role    string  `json:"role"`
	Content any     `json:"content"` // a string or []contentPart
	Name    *string `json:"name,omitempty"`
}

type contentPart struct {
	Type     string    `json:"type"`
	Text     string    `json:"text,omitempty"`
	ImageURL *imageURL `json:"image_url,omitempty"`
}

type imageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

// Deliver sends the occurrence and waits for the completion. It honours
// ctx: when ctx ends the request stops and the error matches ctx.Err().
func (o *Deliverer) Deliver(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
	if d.AgentID == "" {
		return tickler.Result{}, tickler.Permanent(errors.New("openai: the delivery has no agent id"))
	}
	body, err := httpx.Marshal(chatRequest{Model: d.AgentID, Messages: chatMessages(d.Message.Messages)})
	if err != nil {
		return tickler.Result{}, tickler.Permanent(fmt.Errorf("openai: encoding the request: %w", err))
	}
	req, err := httpx.NewRequest(ctx, http.MethodPost, o.endpoint, body)
	if err != nil {
		return tickler.Result{}, tickler.Permanent(fmt.Errorf("openai: POST %s: %w", httpx.Redact(o.endpoint), err))
	}
	if d.IdempotencyKey != "" {
		req.Header.Set("Idempotency-Key", d.IdempotencyKey)
	}
	if o.token != "" {
		req.Header.Set("Authorization", "Bearer "+o.token)
	}
	if o.chatKey != nil {
		if k := o.chatKey(d); k != "" {
			req.Header.Set("X-Letta-Chat-Key", k)
		}
	}
	resp, err := o.c.Do(req)
	if err != nil {
		return tickler.Result{}, err
	}
	return resp.Result("id"), nil
}

// chatMessages maps the stored messages to OpenAI's; see the package
// documentation for the content rule.
func chatMessages(msgs []tickler.Message) []chatMessage {
	out := make([]chatMessage, len(msgs))
	for i, m := range msgs {
		out[i] = chatMessage{Role: string(m.Role), Content: content(m.Content), Name: m.Name}
	}
	return out
}

func content(c tickler.Content) any {
	if c.Parts == nil {
		return c.Text
	}
	texts := make([]string, 0, len(c.Parts))
	for _, p := range c.Parts {
		if p.Source != nil {
			return contentParts(c.Parts)
		}
		texts = append(texts, p.Text)
	}
	return strings.Join(texts, "\n")
}

func contentParts(parts []tickler.ContentPart) []contentPart {
	out := make([]contentPart, len(parts))
	for i, p := range parts {
		if p.Source == nil {
			out[i] = contentPart{Type: "text", Text: p.Text}
			continue
		}
		img := &imageURL{URL: "data:" + p.Source.MediaType + ";base64," + p.Source.Data}
		if p.Source.Detail != nil {
			img.Detail = *p.Source.Detail
		}
		out[i] = contentPart{Type: "image_url", ImageURL: img}
	}
	return out
}
