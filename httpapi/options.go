package httpapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
)

// DefaultMaxBodyBytes is the body limit unless [WithMaxBodyBytes] says
// otherwise: 1 MiB.
const DefaultMaxBodyBytes = 1 << 20

// DefaultMaxPageBytes bounds the scheduled messages of a list page, or the
// entries of a history page, as encoded, unless [WithMaxPageBytes] says
// otherwise: 8 MiB.
const DefaultMaxPageBytes = 8 << 20

// An Option configures the handler [New] returns.
type Option func(*options)

type options struct {
	authorize    func(*http.Request) error
	agentExists  func(ctx context.Context, agentID string) (bool, error)
	maxBodyBytes int64
	maxPageBytes int
	// allowPrivateCallbacks lets callback_url name private addresses.
	allowPrivateCallbacks bool
	// allowedHosts is nil unless WithAllowedHosts was given.
	allowedHosts []string
	logger       *slog.Logger
	// backup, when set, serves the admin API's GET /admin/v1/backup.
	backup io.WriterTo
}

func defaultOptions() options {
	return options{
		maxBodyBytes: DefaultMaxBodyBytes,
		maxPageBytes: DefaultMaxPageBytes,
		logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// WithAuthorizer makes every request pass fn before anything else is
// looked at. A non-nil error answers 401 with a WWW-Authenticate: Bearer
// header, and the error's text as the detail, so fn should say no more than
// the caller may know. fn is called concurrently. Letta's clients send
// "Authorization: Bearer <api key>"; [BearerToken] checks exactly that.
func WithAuthorizer(fn func(r *http.Request) error) Option {
	return func(o *options) { o.authorize = fn }
}

// WithAllowedHosts makes the handler answer only requests whose Host
// header names one of hosts (compared without the port, ignoring case and
// a final dot; an IPv6 address in brackets or not); any other request is
// refused with 403 before anything else is looked at. "*" allows every
// host.
//
// Without this option, a handler with no authorizer ([WithAuthorizer])
// allows only loopback names: localhost and the loopback addresses, such
// as 127.0.0.1 and [::1], with any port. This stops DNS rebinding: a web
// page of another site that points its own name at 127.0.0.1 can make a
// browser send requests to a server without an API key on the loopback
// address, but the Host header still names that site. A keyless server
// reached by another name (in a container, say) lists its names here; a
// handler with an authorizer allows any host by default.
func WithAllowedHosts(hosts ...string) Option {
	return func(o *options) { o.allowedHosts = append([]string{}, hosts...) }
}

// WithAgentLookup makes every route first ask fn whether the agent of the
// path exists: false answers 404, and an error answers 500 (and is logged).
// Without it every agent id is accepted, and an agent with no scheduled
// messages simply has an empty list. fn is called concurrently, with the
// request's context.
func WithAgentLookup(fn func(ctx context.Context, agentID string) (bool, error)) Option {
	return func(o *options) { o.agentExists = fn }
}

// WithMaxBodyBytes sets the largest request body accepted (default
// [DefaultMaxBodyBytes]); a larger one answers 413. Image parts travel
// base64-encoded inside the body, so a host that schedules images may need
// more. A limit below 2 is raised to 2, so that a DELETE's "{}" fits.
func WithMaxBodyBytes(n int64) Option {
	return func(o *options) { o.maxBodyBytes = max(n, 2) }
}

// WithMaxPageBytes bounds a list or history page by the size of its
// items as encoded (default [DefaultMaxPageBytes]), as the limit bounds
// their number: a page ends before the item that would take it over n,
// and has_next_page says that more follow. A page holds at least one item
// however large, so paging always moves on. A bound below 1 is raised to 1.
func WithMaxPageBytes(n int) Option {
	return func(o *options) { o.maxPageBytes = max(n, 1) }
}

// AllowPrivateCallbacks lets a callback_url name localhost or a literal
// loopback, private, link-local or other non-public address, mirroring
// [callback.AllowPrivate]; give both or neither. Without it such a URL is
// refused when a schedule is created or updated (422 on callback_url),
// since a [callback.Sender] that does not allow private addresses would
// refuse it at every delivery (see [callback.CheckURL]). Host names are
// not resolved then: the sender checks what they resolve to when it
// connects. A port outside 1-65535 is refused either way.
func AllowPrivateCallbacks() Option {
	return func(o *options) { o.allowPrivateCallbacks = true }
}

// WithLogger sets the logger for server-side failures (5xx) and panics.
// By default nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithBackup makes the admin handler ([NewAdmin]) stream a consistent
// copy of the store at GET /admin/v1/backup, written by store.WriteTo
// while the scheduler goes on: a [bolt.Store] is such a store, and its
// copy is a bolt file that opens as the original would have at that
// moment. Without it the route answers 501. New ignores this option.
//
// [bolt.Store]: https://pkg.go.dev/github.com/tickler-go/tickler/bolt#Store
func WithBackup(store io.WriterTo) Option {
	return func(o *options) { o.backup = store }
}

// ErrUnauthorized is the error [BearerToken]'s authorizer returns.
var ErrUnauthorized = errors.New("invalid or missing API key")

// BearerToken returns an authorizer for [WithAuthorizer] that accepts a
// request whose Authorization header is "Bearer <key>" for one of keys,
// compared in constant time. With no keys it refuses every request.
func BearerToken(keys ...string) func(r *http.Request) error {
	want := make([][]byte, len(keys))
	for i, k := range keys {
		want[i] = []byte(k)
	}
	return func(r *http.Request) error {
		scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return ErrUnauthorized
		}
		got := []byte(strings.TrimSpace(token))
		match := 0
		for _, w := range want {
			match |= subtle.ConstantTimeCompare(got, w)
		}
		if match != 1 {
			return ErrUnauthorized
		}
		return nil
	}
}
