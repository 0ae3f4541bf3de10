package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/callback"
	"github.com/tickler-go/tickler/internal/wire"
)

// The route patterns, in the syntax of [http.ServeMux].
const (
	routeSchedules = "/v1/agents/{agent_id}/schedule"
	routeSchedule  = routeSchedules + "/{scheduled_message_id}"
	routeHistory   = routeSchedule + "/history"
	// Extensions of Letta's contract.
	routePause  = routeSchedule + "/pause"
	routeResume = routeSchedule + "/resume"
)

// handler is what New returns.
type handler struct {
	s   *tickler.Scheduler
	o   options
	mux *http.ServeMux
	// hostAllowed reports whether a Host header's name may be answered;
	// nil allows all (see WithAllowedHosts).
	hostAllowed func(host string) bool
}

// New returns a handler that serves s with Letta's scheduled-messages API
// (see the package documentation for the routes and their answers). It
// panics if s is nil. The handler calls only the public API of s, so it
// serves the same scheduler any other code of the host uses; it is safe
// for concurrent use.
func New(s *tickler.Scheduler, opts ...Option) http.Handler {
	if s == nil {
		panic("httpapi: New: scheduler is nil")
	}
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	h := &handler{s: s, o: o, mux: http.NewServeMux(), hostAllowed: hostCheck(o)}
	h.mux.HandleFunc("POST "+routeSchedules, h.agent(h.create))
	h.mux.HandleFunc("GET "+routeSchedules, h.agent(h.list))
	h.mux.HandleFunc(routeSchedules, h.notAllowed("GET, HEAD, POST"))
	h.mux.HandleFunc("GET "+routeSchedule, h.agent(h.get))
	h.mux.HandleFunc("DELETE "+routeSchedule, h.agent(h.delete))
	h.mux.HandleFunc("PATCH "+routeSchedule, h.agent(h.update))
	h.mux.HandleFunc(routeSchedule, h.notAllowed("DELETE, GET, HEAD, PATCH"))
	h.mux.HandleFunc("POST "+routePause, h.agent(h.lifecycle(h.s.Pause)))
	h.mux.HandleFunc(routePause, h.notAllowed("POST"))
	h.mux.HandleFunc("POST "+routeResume, h.agent(h.lifecycle(h.s.Resume)))
	h.mux.HandleFunc(routeResume, h.notAllowed("POST"))
	h.mux.HandleFunc("GET "+routeHistory, h.agent(h.history))
	h.mux.HandleFunc(routeHistory, h.notAllowed("GET, HEAD"))
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, http.StatusNotFound, "Not Found")
	})
	return h
}

// ServeHTTP recovers from panics, authorizes the request, then routes it.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tw := &trackingWriter{ResponseWriter: w}
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		if p == http.ErrAbortHandler {
			panic(p)
		}
		h.o.logger.Error("httpapi: handler panicked", "method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
		if !tw.wrote {
			h.fail(tw, http.StatusInternalServerError, "Internal Server Error")
		}
	}()
	if h.hostAllowed != nil && !h.hostAllowed(hostName(r.Host)) {
		h.fail(tw, http.StatusForbidden, "Host not allowed")
		return
	}
	if h.o.authorize != nil {
		if err := h.o.authorize(r); err != nil {
			tw.Header().Set("WWW-Authenticate", "Bearer")
			h.fail(tw, http.StatusUnauthorized, err.Error())
			return
		}
	}
	h.mux.ServeHTTP(tw, r)
}

// trackingWriter remembers whether the response has started, so that a
// panic after it started does not write a second status.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *trackingWriter) WriteHeader(status int) {
	w.wrote = true
	w.ResponseWriter.WriteHeader(status)
}

func (w *trackingWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets [http.ResponseController] reach the underlying writer.
func (w *trackingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// notAllowed answers 405 for a route that exists with other methods.
func (h *handler) notAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		h.fail(w, http.StatusMethodNotAllowed, "Method Not Allowed")
	}
}

// MaxAgentIDBytes bounds the length of an agent id in a path.
const MaxAgentIDBytes = 256

// agent checks the path's ids (see checkIDs), then the path's agent with
// the lookup hook, if there is one, before it calls next.
func (h *handler) agent(next func(w http.ResponseWriter, r *http.Request, agentID string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if errs := checkIDs(r); len(errs) > 0 {
			h.invalid(w, errs...)
			return
		}
		agentID := r.PathValue("agent_id")
		if h.o.agentExists != nil {
			ok, err := h.o.agentExists(r.Context(), agentID)
			if err != nil {
				h.internal(w, r, fmt.Errorf("agent lookup %q: %w", agentID, err))
				return
			}
			if !ok {
				h.fail(w, http.StatusNotFound, "Agent "+agentID+" not found")
				return
			}
		}
		next(w, r, agentID)
	}
}

// checkIDs returns what is wrong with the ids of r's path: an id that is
// not valid UTF-8 (it could not read back as sent), and an agent id over
// MaxAgentIDBytes, or one that is "." or ".." or holds a "/" (sent as
// %2E or %2F, it would name another path once unescaped by a proxy or a
// client building URLs from it).
func checkIDs(r *http.Request) []fieldError {
	var errs []fieldError
	for _, name := range []string{"agent_id", "scheduled_message_id"} {
		id := r.PathValue(name)
		loc := []any{"path", name}
		switch {
		case !utf8.ValidString(id):
			errs = append(errs, fieldError{Loc: loc, Msg: msgUnicode, Type: typeUnicode})
		case name != "agent_id":
		case len(id) > MaxAgentIDBytes:
			errs = append(errs, fieldError{Loc: loc, Msg: fmt.Sprintf("String should have at most %d bytes", MaxAgentIDBytes), Type: typeTooLongStr})
		case id == "." || id == ".." || strings.Contains(id, "/"):
			errs = append(errs, fieldError{Loc: loc, Msg: "must not be . or .. or contain /", Type: typeValue})
		}
	}
	return errs
}

// createResponse is the body of a 201.
type createResponse struct {
	ID              string  `json:"id"`
	NextScheduledAt *string `json:"next_scheduled_at,omitempty"`
}

func (h *handler) create(w http.ResponseWriter, r *http.Request, agentID string) {
	var req tickler.CreateRequest
	if !h.decode(w, r, createShape, &req) {
		return
	}
	if !h.checkCallback(w, req.CallbackURL) {
		return
	}
	sm, err := h.s.Create(r.Context(), agentID, req)
	if err != nil {
		h.schedulerError(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/agents/"+url.PathEscape(agentID)+"/schedule/"+url.PathEscape(sm.ID))
	h.writeJSON(w, http.StatusCreated, createResponse{ID: sm.ID, NextScheduledAt: tickler.FormatTime(sm.NextScheduledTime)})
}

// checkCallback refuses, with 422 on callback_url, a callback URL that
// the callback sender would refuse at every delivery (see
// AllowPrivateCallbacks); it reports false if it has answered. A URL that
// is not an absolute http or https one is left to the scheduler, whose
// error says so.
func (h *handler) checkCallback(w http.ResponseWriter, rawURL string) bool {
	u, err := url.Parse(rawURL)
	if rawURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return true
	}
	err = callback.CheckURL(rawURL)
	if err == nil || h.o.allowPrivateCallbacks && errors.Is(err, callback.ErrRefused) {
		return true
	}
	h.invalid(w, fieldError{Loc: []any{"body", "callback_url"}, Msg: strings.TrimPrefix(err.Error(), "callback: "), Type: typeValue})
	return false
}

// decode reads a JSON body that must fit the shape s into v. It answers
// 415, 413 or 422 and reports false if the body does not do.
func (h *handler) decode(w http.ResponseWriter, r *http.Request, s shape, v any) bool {
	if !isJSON(r.Header.Get("Content-Type")) {
		h.fail(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return false
	}
	body, ok := h.readBody(w, r)
	if !ok {
		return false
	}
	if errs := checkBody(body, s); len(errs) > 0 {
		h.invalid(w, errs...)
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		var ve *tickler.ValidationError
		if errors.As(err, &ve) {
			h.schedulerError(w, r, err)
		} else {
			h.invalid(w, fieldError{Loc: []any{"body"}, Msg: err.Error(), Type: typeValue})
		}
		return false
	}
	return true
}

// listResponse is the body of a list; each scheduled message is encoded
// already (see encodePage).
type listResponse struct {
	ScheduledMessages []json.RawMessage `json:"scheduled_messages"`
	HasNextPage       bool              `json:"has_next_page"`
}

func (h *handler) list(w http.ResponseWriter, r *http.Request, agentID string) {
	pg, ok := h.readPage(w, r, false)
	if !ok {
		return
	}
	page, err := h.s.List(r.Context(), agentID, pg.after, pg.limit)
	if err != nil {
		h.schedulerError(w, r, err)
		return
	}
	items, cut, err := encodePage(page.ScheduledMessages, h.o.maxPageBytes)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	h.writeJSON(w, http.StatusOK, listResponse{ScheduledMessages: items, HasNextPage: page.HasNextPage || cut})
}

func (h *handler) get(w http.ResponseWriter, r *http.Request, agentID string) {
	sm, err := h.s.Get(r.Context(), agentID, r.PathValue("scheduled_message_id"))
	if err != nil {
		h.schedulerError(w, r, err)
		return
	}
	h.writeJSON(w, http.StatusOK, sm)
}

// deleteResponse is the body of a delete.
type deleteResponse struct {
	Success bool `json:"success"`
}

func (h *handler) delete(w http.ResponseWriter, r *http.Request, agentID string) {
	if !h.noBody(w, r) {
		return
	}
	if err := h.s.Delete(r.Context(), agentID, r.PathValue("scheduled_message_id")); err != nil {
		h.schedulerError(w, r, err)
		return
	}
	h.writeJSON(w, http.StatusOK, deleteResponse{Success: true})
}

// noBody checks the body of a request that takes none (delete, pause,
// resume): the official client sends {}, curl sends nothing, and both are
// fine. A Content-Type, if there is one, must be JSON even when the body
// is empty, and a body must come with one and be an object without
// fields. So an HTML form, which always sends a Content-Type of its own,
// cannot reach these routes from another site. It answers 415, 413 or 422
// and reports false if the request does not do.
func (h *handler) noBody(w http.ResponseWriter, r *http.Request) bool {
	body, ok := h.readBody(w, r)
	if !ok {
		return false
	}
	ct := r.Header.Get("Content-Type")
	empty := len(bytes.TrimSpace(body)) == 0
	if (ct != "" || !empty) && !isJSON(ct) {
		h.fail(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return false
	}
	if !empty {
		if errs := checkBody(body, emptyShape); len(errs) > 0 {
			h.invalid(w, errs...)
			return false
		}
	}
	return true
}

// update changes a schedule in place (an extension: PATCH with any of the
// create body's fields) and answers the scheduled message.
func (h *handler) update(w http.ResponseWriter, r *http.Request, agentID string) {
	var req tickler.UpdateRequest
	if !h.decode(w, r, updateShape, &req) {
		return
	}
	if req.CallbackURL != nil && !h.checkCallback(w, *req.CallbackURL) {
		return
	}
	sm, err := h.s.Update(r.Context(), agentID, r.PathValue("scheduled_message_id"), req)
	if err != nil {
		h.schedulerError(w, r, err)
		return
	}
	h.writeJSON(w, http.StatusOK, sm)
}

// lifecycle serves pause and resume (extensions): a POST with no body, or
// an empty JSON object (see noBody), answered with the scheduled message.
func (h *handler) lifecycle(op func(ctx context.Context, agentID, id string) (*tickler.ScheduledMessage, error)) func(w http.ResponseWriter, r *http.Request, agentID string) {
	return func(w http.ResponseWriter, r *http.Request, agentID string) {
		if !h.noBody(w, r) {
			return
		}
		sm, err := op(r.Context(), agentID, r.PathValue("scheduled_message_id"))
		if err != nil {
			h.schedulerError(w, r, err)
			return
		}
		h.writeJSON(w, http.StatusOK, sm)
	}
}

// readBody reads the request body up to the limit, answering 413 beyond
// it. It reports false if it has answered.
func (h *handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	tooLarge := fmt.Sprintf("Request body too large: the limit is %d bytes", h.o.maxBodyBytes)
	if r.ContentLength > h.o.maxBodyBytes {
		h.fail(w, http.StatusRequestEntityTooLarge, tooLarge)
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.o.maxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.fail(w, http.StatusRequestEntityTooLarge, tooLarge)
		} else {
			h.fail(w, http.StatusBadRequest, "Could not read the request body")
		}
		return nil, false
	}
	return body, true
}

// encodePage encodes items in order while they fit in maxBytes, and
// always the first one. It reports whether it left items out. The list is
// never nil, so that an empty page encodes as [].
func encodePage[T any](items []T, maxBytes int) (_ []json.RawMessage, cut bool, _ error) {
	out := make([]json.RawMessage, 0, len(items))
	size := 0
	for i := range items {
		b, err := wire.Marshal(items[i])
		if err != nil {
			return nil, false, err
		}
		if i > 0 && size+len(b) > maxBytes {
			return out, true, nil
		}
		size += len(b) + 1 // and a comma
		out = append(out, b)
	}
	return out, false, nil
}

// page is the paging of a list or history query. Its parameters are
// strings on the wire, as Letta's clients send them.
type page struct {
	after  string // list: the last id the caller saw
	offset int    // history: how many entries to skip
	limit  int    // 0 when absent
}

// readPage reads the paging parameters of r's query: after for a list,
// offset (if withOffset) for a history, and limit for both. An absent or
// empty number reads as 0. It answers 422 and reports false if a number is
// no integer. Ranges are the scheduler's to check, and the limit is its to
// default and lower: that rule has one copy, in [tickler.Scheduler.List]
// and [tickler.Scheduler.History].
func (h *handler) readPage(w http.ResponseWriter, r *http.Request, withOffset bool) (page, bool) {
	q := r.URL.Query()
	p := page{after: q.Get("after")}
	var errs []fieldError
	num := func(name string, dst *int) {
		s := q.Get(name)
		if s == "" {
			return
		}
		v, err := strconv.Atoi(s)
		if err != nil {
			errs = append(errs, fieldError{
				Loc:  []any{"query", name},
				Msg:  "Input should be a valid integer, unable to parse string as an integer",
				Type: typeIntParsing,
			})
			return
		}
		*dst = v
	}
	num("limit", &p.limit)
	if withOffset {
		num("offset", &p.offset)
	}
	if len(errs) > 0 {
		h.invalid(w, errs...)
		return page{}, false
	}
	return p, true
}

// isJSON reports whether a Content-Type is application/json or another
// JSON media type (application/*+json); parameters such as charset are
// ignored.
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}
