package tickler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/tickler-go/tickler/internal/wire"
)

// Role is who a [Message] speaks as: [RoleUser], [RoleAssistant] or [RoleSystem].
type Role string

// The roles a message may take.
const (
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	RoleSystem    Role = "system"
)

// ReturnMessageTypes lists the values Letta accepts in include_return_message_types.
var returnMessageTypes = map[string]bool{
	"system_message":            true,
	"user_message":              true,
	"assistant_message":         true,
	"reasoning_message":         true,
	"hidden_reasoning_message":  true,
	"tool_call_message":         true,
	"tool_return_message":       true,
	"approval_request_message":  true,
	"approval_response_message": true,
}

// Message is one message handed to the agent when a schedule fires. It
// marshals to exactly the JSON it was decoded from: a string content stays a
// string, and an absent optional field stays absent (a JSON null is read as
// absent).
type Message struct {
	Content  Content `json:"content"`
	Role     Role    `json:"role"`
	Name     *string `json:"name,omitempty"`
	OTID     *string `json:"otid,omitempty"`
	SenderID *string `json:"sender_id,omitempty"`
	// Type is "message" when present.
	Type *string `json:"type,omitempty"`
}

// Content is a message's content: either a plain string ([Text]) or a list
// of parts ([Parts]). The zero Content is the empty string, which does not
// validate.
type Content struct {
	// Text is the content when Parts is nil.
	Text string
	// Parts, when non-nil, is the content and Text is ignored.
	Parts []ContentPart
}

// Text returns a string content.
func Text(s string) Content { return Content{Text: s} }

// Parts returns a content made of the given parts.
func Parts(parts ...ContentPart) Content {
	if parts == nil {
		parts = []ContentPart{}
	}
	return Content{Parts: parts}
}

// MarshalJSON encodes a string content as a JSON string and a parts content
// as a JSON array.
func (c Content) MarshalJSON() ([]byte, error) {
	if c.Parts == nil {
		return marshal(c.Text)
	}
	return marshal(c.Parts)
}

// UnmarshalJSON accepts a JSON string or a JSON array of parts.
func (c *Content) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) > 0 && b[0] == '"':
		*c = Content{}
		return json.Unmarshal(b, &c.Text)
	case len(b) > 0 && b[0] == '[':
		var parts []ContentPart
		if err := json.Unmarshal(b, &parts); err != nil {
			return err
		}
		if parts == nil {
			parts = []ContentPart{}
		}
		*c = Content{Parts: parts}
		return nil
	}
	return errors.New("content must be a string or an array of parts")
}

// ContentPart is one part of a [Content]: a text part ({text, signature?,
// type?: "text"}) or an image part ({source, type: "image"}).
type ContentPart struct {
	Text      string       `json:"text,omitempty"`
	Signature *string      `json:"signature,omitempty"`
	Source    *ImageSource `json:"source,omitempty"`
	// Type is "text" (optional) for a text part and "image" (required) for
	// an image part.
	Type string `json:"type,omitempty"`
}

// TextPart returns a text part.
func TextPart(text string) ContentPart { return ContentPart{Text: text, Type: "text"} }

// ImagePart returns a base64 image part.
func ImagePart(mediaType, base64Data string) ContentPart {
	return ContentPart{Type: "image", Source: &ImageSource{Data: base64Data, MediaType: mediaType, Type: "base64"}}
}

// ImageSource is the payload of an image part.
type ImageSource struct {
	Data      string  `json:"data"`
	MediaType string  `json:"media_type"`
	Detail    *string `json:"detail,omitempty"`
	// Type is "base64" when present.
	Type string `json:"type,omitempty"`
}

// MessageCreate is what a schedule delivers at each occurrence: the
// messages and the options Letta's send-message call takes. It is the
// "message" field of a [ScheduledMessage].
type MessageCreate struct {
	Messages    []Message `json:"messages"`
	CallbackURL string    `json:"callback_url,omitempty"`
	// IncludeReturnMessageTypes filters the agent's response; nil means
	// absent (all types), an empty non-nil slice means none.
	IncludeReturnMessageTypes []string `json:"include_return_message_types,omitzero"`
	// MaxSteps bounds the agent's steps; nil means absent.
	MaxSteps *int `json:"max_steps,omitempty"`
}

// CreateRequest is the body of a create call: the messages to deliver, the
// schedule to deliver them on, and the delivery options.
type CreateRequest struct {
	Messages                  []Message `json:"messages"`
	Schedule                  Schedule  `json:"schedule"`
	CallbackURL               string    `json:"callback_url,omitempty"`
	IncludeReturnMessageTypes []string  `json:"include_return_message_types,omitzero"`
	MaxSteps                  *int      `json:"max_steps,omitempty"`
	// Name, Description and ConversationID label the scheduled message,
	// as Letta's cloud allows; "" is absent. They are bounded by
	// [MaxNameBytes], [MaxDescriptionBytes] and [MaxConversationIDBytes];
	// a conversation id is handed to the Deliverer with each occurrence
	// ([Delivery.ConversationID]).
	Name           string `json:"name,omitempty"`
	Description    string `json:"description,omitempty"`
	ConversationID string `json:"conversation_id,omitempty"`
	// Retry, when non-nil, is this message's retry policy, in place of
	// the scheduler's ([WithRetryPolicy]); it is stored with the message.
	// It is a Go-only extension, not part of the JSON.
	Retry *RetryPolicy `json:"-"`
}

// UpdateRequest changes a scheduled message in place, keeping its id. A nil
// field keeps what is stored; Messages replaces all the messages.
type UpdateRequest struct {
	Messages                  []Message `json:"messages,omitempty"`
	Schedule                  *Schedule `json:"schedule,omitempty"`
	CallbackURL               *string   `json:"callback_url,omitempty"`
	IncludeReturnMessageTypes *[]string `json:"include_return_message_types,omitempty"`
	MaxSteps                  *int      `json:"max_steps,omitempty"`
	// Name, Description and ConversationID, when non-nil, replace the
	// labels; a pointer to "" removes one. See [CreateRequest.Name].
	Name           *string `json:"name,omitempty"`
	Description    *string `json:"description,omitempty"`
	ConversationID *string `json:"conversation_id,omitempty"`
	// Retry, when non-nil, replaces the message's retry policy; see
	// [CreateRequest.Retry]. It is not part of the JSON.
	Retry *RetryPolicy `json:"-"`
}

// UnmarshalJSON decodes a create body. max_steps is a JSON number on the
// wire; a value that is not a whole number is an error naming the field.
func (r *CreateRequest) UnmarshalJSON(b []byte) error {
	type plain CreateRequest // without this method: decoding it does not recurse
	var w struct {
		plain
		MaxSteps json.RawMessage `json:"max_steps"`
	}
	return decodeRequest(b, &w, func() { *r = CreateRequest(w.plain) }, &w.MaxSteps, &r.MaxSteps)
}

// UnmarshalJSON decodes an update body; max_steps is read as in
// [CreateRequest.UnmarshalJSON].
func (r *UpdateRequest) UnmarshalJSON(b []byte) error {
	type plain UpdateRequest
	var w struct {
		plain
		MaxSteps json.RawMessage `json:"max_steps"`
	}
	return decodeRequest(b, &w, func() { *r = UpdateRequest(w.plain) }, &w.MaxSteps, &r.MaxSteps)
}

// decodeRequest is the decoding a request's UnmarshalJSON shares: it
// decodes b into w, which holds the request's fields beside max_steps
// read raw into *raw (shadowing the request's own MaxSteps), then stores
// w in the request with set, and reads *raw into its MaxSteps, *dst (see
// decodeMaxSteps). When b does not decode, the request is left as it was.
func decodeRequest(b []byte, w any, set func(), raw *json.RawMessage, dst **int) error {
	if err := json.Unmarshal(b, w); err != nil {
		return err
	}
	set()
	return decodeMaxSteps(*raw, dst)
}

// decodeMaxSteps sets *dst from the raw max_steps, which must be a whole
// number if present.
func decodeMaxSteps(raw json.RawMessage, dst **int) error {
	n, err := wholeNumber(raw)
	if err != nil {
		return &ValidationError{Field: "max_steps", Reason: err.Error()}
	}
	*dst = nil
	if n != nil {
		v := int(*n)
		*dst = &v
	}
	return nil
}

// message returns the part of the request that is stored and delivered.
func (r *CreateRequest) message() MessageCreate {
	return MessageCreate{
		Messages:                  r.Messages,
		CallbackURL:               r.CallbackURL,
		IncludeReturnMessageTypes: r.IncludeReturnMessageTypes,
		MaxSteps:                  r.MaxSteps,
	}
}

// ScheduledMessage is a stored schedule as Get and List return it. It
// marshals to the contract's JSON, with next_scheduled_time and created_at
// ISO-8601 UTC strings with milliseconds, or null.
type ScheduledMessage struct {
	ID      string
	AgentID string
	// Name, Description and ConversationID are the labels given at
	// create or update; "" is absent, and absent from the JSON.
	Name           string
	Description    string
	ConversationID string
	Message        MessageCreate
	Schedule       Schedule
	// NextScheduledTime is the next occurrence; zero when there is none.
	NextScheduledTime time.Time
	// CreatedAt is when the message was created, to the millisecond, as
	// its UUIDv7 id records it; zero (null in JSON) only for an id that is
	// not a UUIDv7, which the scheduler never makes.
	CreatedAt time.Time
	// Paused reports a message paused by [Scheduler.Pause]. It is an
	// extension of Letta's contract, present in JSON only when true.
	Paused bool
	// Retry is the message's own retry policy, or nil if it follows the
	// scheduler's. It is not part of the JSON.
	Retry *RetryPolicy
}

type scheduledMessageJSON struct {
	ID                string        `json:"id"`
	AgentID           string        `json:"agent_id"`
	Name              string        `json:"name,omitempty"`
	Description       string        `json:"description,omitempty"`
	ConversationID    string        `json:"conversation_id,omitempty"`
	Message           MessageCreate `json:"message"`
	NextScheduledTime *string       `json:"next_scheduled_time"`
	Schedule          Schedule      `json:"schedule"`
	CreatedAt         *string       `json:"created_at"`
	Paused            bool          `json:"paused,omitempty"`
}

// MarshalJSON encodes the contract's shape.
func (m ScheduledMessage) MarshalJSON() ([]byte, error) {
	return marshal(scheduledMessageJSON{
		ID:                m.ID,
		AgentID:           m.AgentID,
		Name:              m.Name,
		Description:       m.Description,
		ConversationID:    m.ConversationID,
		Message:           m.Message,
		NextScheduledTime: FormatTime(m.NextScheduledTime),
		Schedule:          m.Schedule,
		CreatedAt:         FormatTime(m.CreatedAt),
		Paused:            m.Paused,
	})
}

// UnmarshalJSON decodes the contract's shape.
func (m *ScheduledMessage) UnmarshalJSON(b []byte) error {
	var w scheduledMessageJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*m = ScheduledMessage{ID: w.ID, AgentID: w.AgentID, Name: w.Name, Description: w.Description,
		ConversationID: w.ConversationID, Message: w.Message, Schedule: w.Schedule, Paused: w.Paused}
	for _, f := range []struct {
		name string
		v    *string
		dst  *time.Time
	}{{"next_scheduled_time", w.NextScheduledTime, &m.NextScheduledTime}, {"created_at", w.CreatedAt, &m.CreatedAt}} {
		if f.v == nil {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, *f.v)
		if err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		*f.dst = t
	}
	return nil
}

// TimeLayout is how times render on the wire: UTC with milliseconds, as in
// 2026-08-07T22:00:00.000Z.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// FormatTime renders t in [TimeLayout], or returns nil for the zero time.
func FormatTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(TimeLayout)
	return &s
}

// validate checks the delivered part of a request; the schedule is checked
// by the caller, which knows the time.
func (m *MessageCreate) validate() error {
	if len(m.Messages) == 0 {
		return invalid("messages", "at least one message is required")
	}
	for i := range m.Messages {
		if err := m.Messages[i].validate(i); err != nil {
			return err
		}
	}
	if m.CallbackURL != "" {
		u, err := url.Parse(m.CallbackURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return invalid("callback_url", "must be an absolute http or https URL")
		}
	}
	for i, t := range m.IncludeReturnMessageTypes {
		if !returnMessageTypes[t] {
			return invalid(fmt.Sprintf("include_return_message_types[%d]", i), "unknown message type %q", t)
		}
	}
	if m.MaxSteps != nil && *m.MaxSteps < 1 {
		return invalid("max_steps", "must be at least 1, got %d", *m.MaxSteps)
	}
	return nil
}

// validate checks the message at index i; paths in errors are built only
// when there is an error, so that valid input costs no formatting.
func (m *Message) validate(i int) error {
	path := func(field string) string { return fmt.Sprintf("messages[%d]%s", i, field) }
	switch m.Role {
	case RoleUser, RoleAssistant, RoleSystem:
	case "":
		return invalid(path(".role"), "is required")
	default:
		return invalid(path(".role"), "must be user, assistant or system, got %q", string(m.Role))
	}
	if m.Type != nil && *m.Type != "message" {
		return invalid(path(".type"), `must be "message" when present, got %q`, *m.Type)
	}
	c := m.Content
	if c.Parts == nil {
		if strings.TrimSpace(c.Text) == "" {
			return invalid(path(".content"), "must not be empty")
		}
		return nil
	}
	if len(c.Parts) == 0 {
		return invalid(path(".content"), "must not be empty")
	}
	for j := range c.Parts {
		if field, reason := c.Parts[j].check(); field != "" {
			return invalid(path(fmt.Sprintf(".content[%d]%s", j, field)), "%s", reason)
		}
	}
	return nil
}

// check returns the field of the part that does not validate (as a path
// suffix such as ".source.data") and why, or "" if the part is valid.
func (p *ContentPart) check() (field, reason string) {
	if p.Type == "image" || p.Source != nil {
		switch {
		case p.Type != "image":
			return ".type", `must be "image" for a part with a source`
		case p.Text != "" || p.Signature != nil:
			return ".text", "an image part has no text"
		case p.Source == nil:
			return ".source", "is required for an image part"
		case p.Source.Data == "":
			return ".source.data", "is required"
		case p.Source.MediaType == "":
			return ".source.media_type", "is required"
		case p.Source.Type != "" && p.Source.Type != "base64":
			return ".source.type", fmt.Sprintf(`must be "base64" when present, got %q`, p.Source.Type)
		}
		return "", ""
	}
	if p.Type != "" && p.Type != "text" {
		return ".type", fmt.Sprintf(`must be "text" or "image", got %q`, p.Type)
	}
	if strings.TrimSpace(p.Text) == "" {
		return ".text", "must not be empty"
	}
	return "", ""
}

// sizeBound returns an upper bound of the length of m's JSON encoding,
// cheaply: every string byte may take six bytes (\u00XX), and every field
// its name, quotes and punctuation.
func (m *MessageCreate) sizeBound() int {
	const field = 40 // the longest field name, quotes, colon, comma, null or number
	str := func(s string) int { return 6*len(s) + field }
	opt := func(s *string) int {
		if s == nil {
			return 0
		}
		return str(*s)
	}
	n := 5*field + str(m.CallbackURL)
	for _, t := range m.IncludeReturnMessageTypes {
		n += str(t)
	}
	for i := range m.Messages {
		msg := &m.Messages[i]
		n += 7*field + str(string(msg.Role)) + opt(msg.Name) + opt(msg.OTID) + opt(msg.SenderID) + opt(msg.Type)
		n += str(msg.Content.Text)
		for j := range msg.Content.Parts {
			p := &msg.Content.Parts[j]
			n += 5*field + str(p.Text) + opt(p.Signature) + str(p.Type)
			if p.Source != nil {
				n += 5*field + str(p.Source.Data) + str(p.Source.MediaType) + opt(p.Source.Detail) + str(p.Source.Type)
			}
		}
	}
	return n
}

// clone returns a deep copy of m; see [Record.Clone].
func (m MessageCreate) clone() MessageCreate {
	c := m
	c.MaxSteps = clonePtr(m.MaxSteps)
	if m.IncludeReturnMessageTypes != nil {
		c.IncludeReturnMessageTypes = append([]string{}, m.IncludeReturnMessageTypes...)
	}
	if m.Messages != nil {
		c.Messages = make([]Message, len(m.Messages))
		for i, msg := range m.Messages {
			msg.Name, msg.OTID = clonePtr(msg.Name), clonePtr(msg.OTID)
			msg.SenderID, msg.Type = clonePtr(msg.SenderID), clonePtr(msg.Type)
			if msg.Content.Parts != nil {
				parts := make([]ContentPart, len(msg.Content.Parts))
				for j, p := range msg.Content.Parts {
					p.Signature = clonePtr(p.Signature)
					if p.Source != nil {
						src := *p.Source
						src.Detail = clonePtr(src.Detail)
						p.Source = &src
					}
					parts[j] = p
				}
				msg.Content.Parts = parts
			}
			c.Messages[i] = msg
		}
	}
	return c
}

// marshal is the module's one wire encoder, json.Marshal without HTML
// escaping (see internal/wire), so that text comes back byte for byte as it
// went in. An encoder that calls a MarshalJSON method never unescapes what
// it returns.
func marshal(v any) ([]byte, error) { return wire.Marshal(v) }

// wholeNumber decodes an optional JSON number that must be a whole number
// (the contract's numbers are floats on the wire: 5 and 5.0 are both fine).
func wholeNumber(raw json.RawMessage) (*int64, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, errors.New("must be a number")
	}
	const limit = 1 << 53
	if f != float64(int64(f)) || f > limit || f < -limit {
		return nil, fmt.Errorf("must be a whole number, got %s", raw)
	}
	n := int64(f)
	return &n, nil
}
