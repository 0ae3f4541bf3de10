// Package letta delivers scheduled messages to Letta agents through
// Letta's messages API: Letta Cloud (https://api.letta.com) or a
// self-hosted Letta server.
//
// Each occurrence is one POST /v1/agents/{agent_id}/messages (or
// /v1/conversations/{conversation_id}/messages for a scheduled message
// created with a conversation_id, see [WithConversation]) with the stored
// messages, max_steps and include_return_message_types,
// and streaming false: Deliver returns when the agent has answered. With
// [WithAsync] it posts to .../messages/async instead and polls the run
// until it ends. The schedule's callback_url is not sent to Letta: tickler
// calls it itself (package callback).
//
// # Idempotency
//
// Every message of an occurrence is sent with an otid derived from the
// occurrence's [tickler.Delivery.IdempotencyKey] and the message's index
// (see [OTID]). A retry or a redelivery of one occurrence sends the same
// otids, which Letta uses to recognise duplicates; the next occurrence
// sends new ones. Letta's OpenAPI document promises that de-duplication
// for background streaming runs only: on the routes used here a retry after
// the agent acted (a timeout, a lost answer) may still run the messages
// twice, as at-least-once delivery allows. An otid stored with the
// message is replaced, never sent: a
// recurring schedule stores its messages once, so a stored otid would make
// every occurrence after the first a duplicate that Letta ignores.
//
// # Answers
//
// A 2xx answer is a success: [tickler.Result.RunID] is the answer's
// usage.run_ids[0] if present, and [tickler.Result.Response] is the
// answer's JSON body unchanged (a [json.RawMessage]), or nil if it is not
// JSON or exceeds the response bound. A success is the agent's answer,
// whatever its stop_reason: a stop_reason of "error" is in the Response,
// not an error. The other statuses follow package
// [github.com/tickler-go/tickler/deliver]: 409 (the agent or conversation
// is busy), 429 and 5xx are retried, honouring Retry-After; other 4xx are
// [tickler.Permanent] with Letta's detail in the error.
//
// The token is sent only in the Authorization header and never appears in
// an error; nor does the userinfo of the base URL.
package letta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/deliver/internal/httpx"
)

// Deliverer sends each occurrence to a Letta agent. Create it with [New];
// it is safe for concurrent use. Letta warns that concurrent requests to
// one agent interleave: run the scheduler with
// [tickler.WithAgentConcurrency](1) to send one at a time per agent.
type Deliverer struct {
	base         *url.URL
	token        string
	conversation func(*tickler.Delivery) string
	async        bool
	poll         time.Duration
	c            *httpx.Client
}

var _ tickler.Deliverer = (*Deliverer)(nil)

// New returns a deliverer to the Letta server at baseURL, such as
// "https://api.letta.com" or "http://localhost:8283"; a path prefix is
// kept ("https://proxy.example/letta" posts to
// "https://proxy.example/letta/v1/agents/..."). It returns an error for a
// base URL that is missing, not http or https, or has a query or
// fragment, and for options that do not validate.
func New(baseURL string, opts ...Option) (*Deliverer, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	base, err := httpx.ParseURL("letta: base URL", baseURL, false)
	if err != nil {
		return nil, err
	}
	switch {
	case strings.ContainsAny(o.token, "\r\n"):
		return nil, errors.New("letta: the token must be one line")
	case o.async && o.poll <= 0:
		return nil, fmt.Errorf("letta: the poll interval must be positive, got %v", o.poll)
	case o.async && o.conversation != nil:
		return nil, errors.New("letta: the async route exists for agents only, not with WithConversation")
	case o.maxBody < 0:
		return nil, fmt.Errorf("letta: the response bound must be positive, got %d", o.maxBody)
	}
	client := o.client
	if client == nil {
		client = httpx.DefaultClient()
	}
	secrets := []string{o.token}
	if pw, ok := base.User.Password(); ok {
		secrets = append(secrets, pw)
	}
	return &Deliverer{
		base:         base,
		token:        o.token,
		conversation: o.conversation,
		async:        o.async,
		poll:         o.poll,
		c:            &httpx.Client{Service: "letta", HTTP: client, MaxBody: o.maxBody, Secrets: secrets},
	}, nil
}

// request is Letta's LettaStreamingRequest (LettaAsyncRequest with
// Streaming nil, ConversationMessageRequest with AgentID), with only the
// fields a scheduled message sets.
type request struct {
	Messages                  []tickler.Message `json:"messages"`
	MaxSteps                  *int              `json:"max_steps,omitempty"`
	IncludeReturnMessageTypes []string          `json:"include_return_message_types,omitzero"`
	Streaming                 *bool             `json:"streaming,omitempty"`
	AgentID                   string            `json:"agent_id,omitempty"`
}

// Deliver sends the occurrence and waits for the agent's answer (or, with
// [WithAsync], for the run to end). It honours ctx: when ctx ends, the
// request or the polling stops and the error matches ctx.Err(); the agent
// may still run the messages, and a retry sends the same otids.
func (l *Deliverer) Deliver(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
	if d.AgentID == "" {
		return tickler.Result{}, tickler.Permanent(errors.New("letta: the delivery has no agent id"))
	}
	body := request{
		Messages:                  Messages(d),
		MaxSteps:                  d.Message.MaxSteps,
		IncludeReturnMessageTypes: d.Message.IncludeReturnMessageTypes,
	}
	var u *url.URL
	conv := d.ConversationID
	if l.conversation != nil {
		conv = l.conversation(d)
	}
	// The async route exists for agents only: a delivery into a
	// conversation waits on the conversation's synchronous route.
	async := l.async && conv == ""
	switch {
	case conv != "":
		u = httpx.JoinPath(l.base, "v1", "conversations", conv, "messages")
		if conv == "default" { // agent-direct mode names the agent in the body
			body.AgentID = d.AgentID
		}
	case async:
		u = httpx.JoinPath(l.base, "v1", "agents", d.AgentID, "messages", "async")
	default:
		u = httpx.JoinPath(l.base, "v1", "agents", d.AgentID, "messages")
	}
	if !async {
		f := false // the conversation route streams unless told not to
		body.Streaming = &f
	}
	b, err := httpx.Marshal(body)
	if err != nil {
		return tickler.Result{}, tickler.Permanent(fmt.Errorf("letta: encoding the request: %w", err))
	}
	resp, err := l.do(ctx, http.MethodPost, u, b)
	if err != nil {
		return tickler.Result{}, err
	}
	if async {
		return l.wait(ctx, resp)
	}
	return responseResult(resp), nil
}

// do sends one request with the token.
func (l *Deliverer) do(ctx context.Context, method string, u *url.URL, body []byte) (*httpx.Response, error) {
	req, err := httpx.NewRequest(ctx, method, u, body)
	if err != nil {
		return nil, tickler.Permanent(fmt.Errorf("letta: %s %s: %w", method, httpx.Redact(u), err))
	}
	if l.token != "" {
		req.Header.Set("Authorization", "Bearer "+l.token)
	}
	return l.c.Do(req)
}

// responseResult reads a LettaResponse.
func responseResult(resp *httpx.Response) tickler.Result {
	if resp.Truncated || !json.Valid(resp.Body) {
		return tickler.Result{}
	}
	var r struct {
		Usage *struct {
			RunIDs []string `json:"run_ids"`
		} `json:"usage"`
	}
	res := tickler.Result{Response: json.RawMessage(resp.Body)}
	if json.Unmarshal(resp.Body, &r) == nil && r.Usage != nil && len(r.Usage.RunIDs) > 0 {
		res.RunID = r.Usage.RunIDs[0]
	}
	return res
}

// Messages returns the messages Deliver sends for d: copies of the stored
// ones, each with its otid set to OTID(d.IdempotencyKey, i). d is not
// changed.
func Messages(d *tickler.Delivery) []tickler.Message {
	msgs := make([]tickler.Message, len(d.Message.Messages))
	for i, m := range d.Message.Messages {
		otid := OTID(d.IdempotencyKey, i)
		m.OTID = &otid
		msgs[i] = m
	}
	return msgs
}
