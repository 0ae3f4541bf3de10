package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/internal/wire"
)

// The admin API's routes, under a prefix of their own so that they never
// mix with Letta's. {scheduled_message_id} has the name Letta's routes give
// it, so that errors name it the same way.
const (
	adminPrefix         = "/admin"
	routeAdminPage      = "GET " + adminPrefix + "/{$}"
	routeAdminSchedules = adminPrefix + "/v1/schedules"
	routeAdminSchedule  = routeAdminSchedules + "/{scheduled_message_id}"
	routeAdminCounts    = adminPrefix + "/v1/counts"
	routeAdminDeliver   = adminPrefix + "/v1/deliveries"
	routeAdminBackup    = adminPrefix + "/v1/backup"
)

//go:embed admin.html
var adminPage []byte

// adminPageCSP lets the page run its own inline script, by hash, and
// nothing else: no other script, no frame around it, requests only to
// this origin.
var adminPageCSP = func() string {
	_, rest, _ := bytes.Cut(adminPage, []byte("<script>"))
	script, _, _ := bytes.Cut(rest, []byte("</script>"))
	sum := sha256.Sum256(script)
	return "default-src 'none'; script-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
}()

// NewAdmin returns a handler of the admin API of s, for an operator: what
// every agent has scheduled, by id alone, under /admin/v1/, and a page
// that shows it at /admin/. Mount it beside [New] at "/admin/":
//
//	mux.Handle("/", httpapi.New(s, httpapi.WithAuthorizer(httpapi.BearerToken(apiKey))))
//	mux.Handle("/admin/", httpapi.NewAdmin(s, httpapi.WithAuthorizer(httpapi.BearerToken(adminKey))))
//
// It takes the options of New that apply: [WithAuthorizer] guards every
// /admin/v1/ route (the page itself is static and holds no data: it asks
// for the key and sends it with each call), [WithAllowedHosts] (or, with
// no authorizer, loopback names only) every route, [WithMaxPageBytes]
// bounds each page as for Letta's routes, [WithLogger], and [WithBackup]
// turns on GET /admin/v1/backup. The routes:
//
//	GET    /admin/v1/schedules?agent=&after=&limit=&due_after=&due_before=&paused=&failing=
//	       {"schedules": [record...], "has_next_page", "damaged": [id...]}
//	GET    /admin/v1/counts                 {"total", "scheduled", "paused", "failing", "idle", "agents", "damaged"}
//	GET    /admin/v1/deliveries?before=&limit=  {"deliveries": [entry...], "has_next_page"}, newest first
//	GET    /admin/v1/schedules/{id}         record
//	DELETE /admin/v1/schedules/{id}         {"success": true}
//	POST   /admin/v1/schedules/{id}/pause   record
//	POST   /admin/v1/schedules/{id}/resume  record
//	POST   /admin/v1/schedules/{id}/trigger {"idempotency_key"}
//	GET    /admin/v1/schedules/{id}/history?offset=&limit=  as Letta's history route
//	GET    /admin/v1/backup                 the store's consistent copy, application/octet-stream
//
// A record is the JSON of [tickler.Record] (every field, times in RFC 3339
// to the nanosecond) with "status" ([tickler.AdminRecord.Status]) and
// "last", its newest history entry or null. A delivery entry is a history
// entry with "agent_id" and "triggered". due_after and due_before are RFC
// 3339 times or Unix milliseconds; paused and failing are true or false.
// Errors are those of [New], and 501 when the store is not a
// [tickler.AdminStore] or no backup was given, 503 for a trigger while
// the scheduler is not running.
func NewAdmin(s *tickler.Scheduler, opts ...Option) http.Handler {
	if s == nil {
		panic("httpapi: NewAdmin: scheduler is nil")
	}
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	h := &handler{s: s, o: o, mux: http.NewServeMux(), hostAllowed: hostCheck(o)}
	a := &admin{h: h, page: http.NewServeMux()}
	a.page.HandleFunc(routeAdminPage, a.servePage)
	a.page.HandleFunc("GET "+adminPrefix, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, adminPrefix+"/", http.StatusMovedPermanently)
	})
	m := h.mux
	m.HandleFunc("GET "+routeAdminSchedules, a.list)
	m.HandleFunc(routeAdminSchedules, h.notAllowed("GET, HEAD"))
	m.HandleFunc("GET "+routeAdminCounts, a.counts)
	m.HandleFunc(routeAdminCounts, h.notAllowed("GET, HEAD"))
	m.HandleFunc("GET "+routeAdminDeliver, a.deliveries)
	m.HandleFunc(routeAdminDeliver, h.notAllowed("GET, HEAD"))
	m.HandleFunc("GET "+routeAdminSchedule, a.get)
	m.HandleFunc("DELETE "+routeAdminSchedule, a.byID(func(w http.ResponseWriter, r *http.Request) {
		if !h.noBody(w, r) {
			return
		}
		if err := s.Delete(r.Context(), "", r.PathValue("scheduled_message_id")); err != nil {
			a.fail(w, r, err)
			return
		}
		h.writeJSON(w, http.StatusOK, deleteResponse{Success: true})
	}))
	m.HandleFunc(routeAdminSchedule, h.notAllowed("DELETE, GET, HEAD"))
	for name, op := range map[string]func(w http.ResponseWriter, r *http.Request){
		"pause":   a.lifecycle(s.Pause),
		"resume":  a.lifecycle(s.Resume),
		"trigger": a.trigger,
	} {
		m.HandleFunc("POST "+routeAdminSchedule+"/"+name, a.byID(op))
		m.HandleFunc(routeAdminSchedule+"/"+name, h.notAllowed("POST"))
	}
	m.HandleFunc("GET "+routeAdminSchedule+"/history", a.byID(func(w http.ResponseWriter, r *http.Request) {
		h.history(w, r, "")
	}))
	m.HandleFunc(routeAdminSchedule+"/history", h.notAllowed("GET, HEAD"))
	m.HandleFunc("GET "+routeAdminBackup, a.backup)
	m.HandleFunc(routeAdminBackup, h.notAllowed("GET, HEAD"))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, http.StatusNotFound, "Not Found")
	})
	return a
}

// admin is what NewAdmin returns: the page, served to anyone the Host
// check lets through, and the API, served by h (Host check, authorizer,
// routes, panics).
type admin struct {
	h    *handler
	page *http.ServeMux
}

func (a *admin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := a.page.Handler(r); pattern != "" {
		if a.h.hostAllowed != nil && !a.h.hostAllowed(hostName(r.Host)) {
			a.h.fail(w, http.StatusForbidden, "Host not allowed")
			return
		}
		a.page.ServeHTTP(w, r)
		return
	}
	a.h.ServeHTTP(w, r)
}

func (a *admin) servePage(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Content-Security-Policy", adminPageCSP)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Cache-Control", "no-store")
	http.ServeContent(w, r, "admin.html", time.Time{}, bytes.NewReader(adminPage))
}

// byID checks the path's id (valid UTF-8) before it calls next.
func (a *admin) byID(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if errs := checkIDs(r); len(errs) > 0 {
			a.h.invalid(w, errs...)
			return
		}
		next(w, r)
	}
}

// fail answers an error of the scheduler, with the admin API's own
// statuses first: 501 for a store without the admin methods, 503 for a
// scheduler that does not run.
func (a *admin) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, tickler.ErrUnsupported):
		a.h.fail(w, http.StatusNotImplemented, "The store does not list across agents")
	case errors.Is(err, tickler.ErrNotStarted), errors.Is(err, tickler.ErrStopped):
		a.h.fail(w, http.StatusServiceUnavailable, "The scheduler is not running")
	default:
		a.h.schedulerError(w, r, err)
	}
}

// adminList is the body of a list; each record is encoded already.
type adminList struct {
	Schedules   []json.RawMessage `json:"schedules"`
	HasNextPage bool              `json:"has_next_page"`
	Damaged     []string          `json:"damaged,omitempty"`
}

func (a *admin) list(w http.ResponseWriter, r *http.Request) {
	h := a.h
	pg, ok := h.readPage(w, r, false)
	if !ok {
		return
	}
	p := tickler.ListAllParams{After: pg.after, Limit: pg.limit}
	q := r.URL.Query()
	p.AgentID = q.Get("agent")
	var errs []fieldError
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"due_after", &p.DueAfter}, {"due_before", &p.DueBefore}} {
		if v := q.Get(f.name); v != "" {
			t, err := parseInstant(v)
			if err != nil {
				errs = append(errs, fieldError{Loc: []any{"query", f.name}, Msg: "Input should be an RFC 3339 time or Unix milliseconds", Type: typeValue})
			}
			*f.dst = t
		}
	}
	for _, f := range []struct {
		name string
		dst  **bool
	}{{"paused", &p.Paused}, {"failing", &p.Failing}} {
		if v := q.Get(f.name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				errs = append(errs, fieldError{Loc: []any{"query", f.name}, Msg: "Input should be a valid boolean", Type: "bool_parsing"})
			}
			*f.dst = &b
		}
	}
	if len(errs) > 0 {
		h.invalid(w, errs...)
		return
	}
	res, err := h.s.ListAll(r.Context(), p)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	items, cut, err := encodeRecords(res.Records, h.o.maxPageBytes)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	h.writeJSON(w, http.StatusOK, adminList{Schedules: items, HasNextPage: res.More || cut, Damaged: res.Damaged})
}

// parseInstant reads an RFC 3339 time or a number of Unix milliseconds.
func parseInstant(v string) (time.Time, error) {
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), nil
	}
	return time.Parse(time.RFC3339Nano, v)
}

// encodeRecords encodes records as encodePage encodes items: in order
// while they fit in maxBytes, and always the first.
func encodeRecords(recs []tickler.AdminRecord, maxBytes int) ([]json.RawMessage, bool, error) {
	out := make([]json.RawMessage, 0, len(recs))
	size := 0
	for i, rec := range recs {
		b, err := recordJSON(rec)
		if err != nil {
			return nil, false, err
		}
		if i > 0 && size+len(b) > maxBytes {
			return out, true, nil
		}
		size += len(b) + 1
		out = append(out, b)
	}
	return out, false, nil
}

// recordJSON is a record's JSON with its status and newest history entry.
func recordJSON(a tickler.AdminRecord) (json.RawMessage, error) {
	extra := struct {
		Status tickler.RecordStatus `json:"status"`
		Last   *historyEntry        `json:"last"`
	}{Status: a.Status()}
	if a.Last != nil {
		e := entryOf(*a.Last)
		extra.Last = &e
	}
	return joinObjects(*a.Record, extra)
}

// joinObjects encodes x and y, two structs, as one JSON object with the
// fields of both.
func joinObjects(x, y any) (json.RawMessage, error) {
	bx, err := wire.Marshal(x)
	if err != nil {
		return nil, err
	}
	by, err := wire.Marshal(y)
	if err != nil {
		return nil, err
	}
	out := append(bytes.TrimSuffix(bx, []byte("}")), ',')
	return append(out, by[1:]...), nil
}

func (a *admin) counts(w http.ResponseWriter, r *http.Request) {
	c, err := a.h.s.Counts(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.h.writeJSON(w, http.StatusOK, c)
}

// adminDeliveries is the body of the newest deliveries.
type adminDeliveries struct {
	Deliveries  []json.RawMessage `json:"deliveries"`
	HasNextPage bool              `json:"has_next_page"`
}

func (a *admin) deliveries(w http.ResponseWriter, r *http.Request) {
	h := a.h
	pg, ok := h.readPage(w, r, false)
	if !ok {
		return
	}
	res, err := h.s.RecentOutcomes(r.Context(), tickler.RecentParams{Before: r.URL.Query().Get("before"), Limit: pg.limit})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	type extra struct {
		AgentID   string `json:"agent_id"`
		Triggered bool   `json:"triggered"`
	}
	items := make([]json.RawMessage, 0, len(res.Outcomes))
	size, cut := 0, false
	for i, o := range res.Outcomes {
		b, err := joinObjects(entryOf(o.Outcome), extra{AgentID: o.AgentID, Triggered: o.Triggered})
		if err != nil {
			h.internal(w, r, err)
			return
		}
		if i > 0 && size+len(b) > h.o.maxPageBytes {
			cut = true
			break
		}
		size += len(b) + 1
		items = append(items, b)
	}
	h.writeJSON(w, http.StatusOK, adminDeliveries{Deliveries: items, HasNextPage: res.More || cut})
}

func (a *admin) get(w http.ResponseWriter, r *http.Request) {
	if errs := checkIDs(r); len(errs) > 0 {
		a.h.invalid(w, errs...)
		return
	}
	a.writeRecord(w, r)
}

// writeRecord answers the record of the path's id.
func (a *admin) writeRecord(w http.ResponseWriter, r *http.Request) {
	rec, err := a.h.s.Inspect(r.Context(), r.PathValue("scheduled_message_id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	b, err := recordJSON(rec)
	if err != nil {
		a.h.internal(w, r, err)
		return
	}
	a.h.writeJSON(w, http.StatusOK, b)
}

// lifecycle serves pause and resume by id alone, answering the record.
func (a *admin) lifecycle(op func(ctx context.Context, agentID, id string) (*tickler.ScheduledMessage, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !a.h.noBody(w, r) {
			return
		}
		if _, err := op(r.Context(), "", r.PathValue("scheduled_message_id")); err != nil {
			a.fail(w, r, err)
			return
		}
		a.writeRecord(w, r)
	}
}

// triggerResponse is the body of a trigger.
type triggerResponse struct {
	IdempotencyKey string `json:"idempotency_key"`
}

func (a *admin) trigger(w http.ResponseWriter, r *http.Request) {
	if !a.h.noBody(w, r) {
		return
	}
	key, err := a.h.s.Trigger(r.Context(), "", r.PathValue("scheduled_message_id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.h.writeJSON(w, http.StatusOK, triggerResponse{IdempotencyKey: key})
}

func (a *admin) backup(w http.ResponseWriter, r *http.Request) {
	if a.h.o.backup == nil {
		a.h.fail(w, http.StatusNotImplemented, "No backup: the store has no consistent copy to stream")
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/octet-stream")
	hdr.Set("Content-Disposition", `attachment; filename="tickler-backup.db"`)
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	// The copy's size is known only once it is written. A failure before
	// the first byte answers 500; one part way aborts the response, so
	// that the client sees a broken transfer rather than a whole-looking
	// file.
	// A large file takes longer than a server's write timeout, which is
	// sized for JSON answers: this response has none.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	cw := &countingWriter{w: w}
	if _, err := a.h.o.backup.WriteTo(cw); err != nil {
		if cw.n == 0 {
			hdr.Del("Content-Disposition")
			a.h.internal(w, r, err)
			return
		}
		a.h.o.logger.Error("httpapi: backup failed part way", "written", cw.n, "err", err)
		panic(http.ErrAbortHandler)
	}
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
