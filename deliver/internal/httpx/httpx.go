// Package httpx is the one place where the HTTP deliverers build requests
// and read answers: URL checks and redaction, the bounded body read, the
// Retry-After header, the error detail and the choice between permanent
// and retried errors. The rules are documented for users in package
// deliver.
package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/deliver"
)

// DefaultMaxBody bounds how much of an answer is read: 10 MiB.
const DefaultMaxBody = 10 << 20

// maxDetail bounds the length of the detail kept in an error.
const maxDetail = 1024

// UserAgent is sent with every request.
const UserAgent = "tickler"

// DefaultClient returns the client a deliverer uses unless it is given
// one: the default transport, and redirects not followed (a redirect is a
// misconfigured URL; following it would turn a POST into a GET, or send a
// token to another host).
func DefaultClient() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// ParseURL checks a configured URL: absolute, http or https, with a host,
// no fragment, and no query unless allowQuery. what names it in errors.
// The error never repeats the URL, which may hold credentials.
func ParseURL(what, raw string, allowQuery bool) (*url.URL, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, fmt.Errorf("%s is required", what)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s does not parse as a URL", what)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%s must be an http or https URL, got scheme %q", what, u.Scheme)
	case u.Host == "":
		return nil, fmt.Errorf("%s has no host", what)
	case u.Fragment != "":
		return nil, fmt.Errorf("%s must not have a fragment", what)
	case !allowQuery && (u.RawQuery != "" || u.ForceQuery):
		return nil, fmt.Errorf("%s must not have a query", what)
	}
	return u, nil
}

// Redact returns u for an error or a log: without userinfo, query and
// fragment.
func Redact(u *url.URL) string {
	r := *u
	r.User, r.RawQuery, r.ForceQuery, r.Fragment, r.RawFragment = nil, "", false, "", ""
	return r.String()
}

// JoinPath returns base with the segments appended to its path, each
// escaped as one segment, so that an id holding "/" or ".." cannot leave
// the route.
func JoinPath(base *url.URL, segments ...string) *url.URL {
	u := *base
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = "", false, "", ""
	path := strings.TrimSuffix(base.Path, "/")
	raw := strings.TrimSuffix(base.EscapedPath(), "/")
	for _, s := range segments {
		path += "/" + s
		raw += "/" + url.PathEscape(s)
	}
	u.Path, u.RawPath = path, raw
	return &u
}

// Marshal encodes v as JSON without HTML escaping, so that text goes out
// byte for byte as it was stored.
func Marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Client sends the requests of one deliverer. Its fields are set at
// construction and not changed after; it is safe for concurrent use.
type Client struct {
	// Service prefixes errors: "letta", "openai", "webhook".
	Service string
	HTTP    *http.Client
	// MaxBody bounds the answer read; 0 means DefaultMaxBody.
	MaxBody int64
	// Secrets are replaced by "[REDACTED]" in every error text.
	Secrets []string
	// Now reads the clock for Retry-After dates; nil means time.Now.
	Now func() time.Time
}

// Response is an answer, read whole up to the body bound.
type Response struct {
	StatusCode int
	Header     http.Header
	// Body is at most the bound; Truncated says there was more.
	Body      []byte
	Truncated bool
}

// NewRequest returns a request with a JSON body (nil for none) and the
// headers every deliverer sends: Content-Type (with a body), Accept and
// User-Agent.
func NewRequest(ctx context.Context, method string, u *url.URL, body []byte) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	return req, nil
}

// Do sends req and reads the answer. It returns the answer and nil for a
// 2xx, the answer and the classified error (see [Classify]) for any other
// status, and nil and a plain error when there is no answer: the URL in it
// is redacted, and a cancelled or expired ctx is matched by errors.Is with
// ctx.Err().
func (c *Client) Do(req *http.Request) (*Response, error) {
	where := req.Method + " " + Redact(req.URL)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text repeats the URL
		}
		if ctxErr := req.Context().Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w (%v)", ctxErr, err)
		}
		return nil, c.scrubErr(fmt.Errorf("%s: %s: %w", c.Service, where, err))
	}
	defer resp.Body.Close()
	limit := c.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, c.scrubErr(fmt.Errorf("%s: %s: reading the answer (%d): %w", c.Service, where, resp.StatusCode, err))
	}
	r := &Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: body}
	if int64(len(body)) > limit {
		r.Body, r.Truncated = body[:limit], true
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	return r, c.Classify(req.Method, Redact(req.URL), r.StatusCode, r.Header, r.Body, now())
}

// Classify turns a status into the deliverer's error: nil for 2xx; for
// 408, 409, 429 and 5xx a [tickler.RetryAfter] when the header gives a
// delay, else the bare [*deliver.StatusError]; for anything else
// [tickler.Permanent].
func (c *Client) Classify(method, redactedURL string, status int, h http.Header, body []byte, now time.Time) error {
	if status >= 200 && status < 300 {
		return nil
	}
	se := &deliver.StatusError{
		Service:    c.Service,
		Method:     method,
		URL:        redactedURL,
		StatusCode: status,
		Detail:     c.scrub(Detail(body)),
	}
	if !Retryable(status) {
		return tickler.Permanent(se)
	}
	if d, ok := ParseRetryAfter(h.Get("Retry-After"), now); ok {
		return tickler.RetryAfter(d, se)
	}
	return se
}

// Retryable reports a status worth another attempt: 408, 409 (a busy
// agent), 429 and 5xx.
func Retryable(status int) bool {
	switch {
	case status == http.StatusRequestTimeout, status == http.StatusConflict, status == http.StatusTooManyRequests:
		return true
	}
	return status >= 500 && status < 600
}

// ParseRetryAfter reads a Retry-After value: delay-seconds or an HTTP-date
// (a date in the past is a delay of 0). The delay is capped at
// [tickler.MaxRetryDelay]. It reports false for an absent or malformed
// value.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		var secs int64
		for _, ch := range []byte(v) {
			if ch < '0' || ch > '9' {
				return 0, false
			}
			secs = secs*10 + int64(ch-'0')
			if secs > int64(tickler.MaxRetryDelay/time.Second) {
				return tickler.MaxRetryDelay, true // and no overflow on longer input
			}
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return min(max(t.Sub(now), 0), tickler.MaxRetryDelay), true
}

// Detail extracts the explanation from an error answer's body: FastAPI's
// (and Letta's) "detail", a string or a list of validation errors; an
// OpenAI-style "error" object's "message", or an "error" string; a
// "message" string; else the body itself if it is text. The result is
// bounded in length.
func Detail(body []byte) string {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return ""
	}
	var v struct {
		Detail  json.RawMessage `json:"detail"`
		Error   json.RawMessage `json:"error"`
		Message *string         `json:"message"`
	}
	if body[0] == '{' && json.Unmarshal(body, &v) == nil {
		if s := detailField(v.Detail); s != "" {
			return bound(s)
		}
		if s := errorField(v.Error); s != "" {
			return bound(s)
		}
		if v.Message != nil && *v.Message != "" {
			return bound(*v.Message)
		}
	}
	if !isText(body) {
		return ""
	}
	return bound(string(body))
}

func detailField(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var list []struct {
		Loc []any  `json:"loc"`
		Msg string `json:"msg"`
	}
	if json.Unmarshal(raw, &list) == nil && len(list) > 0 {
		parts := make([]string, 0, len(list))
		for _, e := range list {
			loc := make([]string, len(e.Loc))
			for i, l := range e.Loc {
				loc[i] = fmt.Sprint(l)
			}
			if len(loc) > 0 {
				parts = append(parts, strings.Join(loc, ".")+": "+e.Msg)
			} else {
				parts = append(parts, e.Msg)
			}
		}
		return strings.Join(parts, "; ")
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) == nil {
		return b.String()
	}
	return ""
}

func errorField(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var obj struct {
		Message string `json:"message"`
		Code    any    `json:"code"`
	}
	if json.Unmarshal(raw, &obj) == nil && obj.Message != "" {
		if c, ok := obj.Code.(string); ok && c != "" {
			return obj.Message + " (" + c + ")"
		}
		return obj.Message
	}
	return ""
}

// isText reports a body that reads as UTF-8 text without control
// characters other than whitespace.
func isText(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if r < 0x20 && r != '\n' && r != '\r' && r != '\t' {
			return false
		}
	}
	return true
}

// bound cuts s to maxDetail bytes on a rune boundary and folds newlines,
// so that a detail stays one readable line.
func bound(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= maxDetail {
		return s
	}
	cut := maxDetail
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// scrub replaces every configured secret in s.
func (c *Client) scrub(s string) string {
	for _, secret := range c.Secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[REDACTED]")
		}
	}
	return s
}

// scrubErr returns err, or a plain error with the secrets replaced if its
// text holds one (the chain is lost then, on purpose).
func (c *Client) scrubErr(err error) error {
	msg := err.Error()
	if s := c.scrub(msg); s != msg {
		return errors.New(s)
	}
	return err
}

// Result returns the delivery result of a successful answer: its body as
// raw JSON, and as the run id the string field runIDKey of its top-level
// object, if it has one. A body that is not JSON, or was cut at the bound,
// gives an empty result.
func (r *Response) Result(runIDKey string) tickler.Result {
	if r.Truncated || !json.Valid(r.Body) {
		return tickler.Result{}
	}
	res := tickler.Result{Response: json.RawMessage(r.Body)}
	var fields map[string]json.RawMessage
	if json.Unmarshal(r.Body, &fields) == nil {
		_ = json.Unmarshal(fields[runIDKey], &res.RunID)
	}
	return res
}
