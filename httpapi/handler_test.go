package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/httpapi"
	"github.com/tickler-go/tickler/memory"
	"github.com/tickler-go/tickler/ticklertest"
)

// epochMS is ticklertest.Epoch() in Unix milliseconds; hourMS is an hour.
const (
	epochMS = 1767225600000
	hourMS  = 3600000
)

// env is a test bundle with the handler in front of its scheduler.
type env struct {
	*ticklertest.Bundle
	t *testing.T
	h http.Handler
}

func setup(t *testing.T, opts ...httpapi.Option) *env {
	t.Helper()
	return setupWith(t, nil, opts...)
}

// setupWith is setup with options for the scheduler.
func setupWith(t *testing.T, sopts []tickler.Option, opts ...httpapi.Option) *env {
	t.Helper()
	b := ticklertest.New(t, sopts...)
	return &env{Bundle: b, t: t, h: httpapi.New(b.Scheduler, opts...)}
}

// newRequest returns a request; a non-empty body is sent as JSON.
// It is addressed to localhost, as a local client's would be.
func newRequest(method, path, body string) *http.Request {
	r := httptest.NewRequest(method, "http://localhost:8283"+path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	return r
}

// serve runs r through the handler.
func (e *env) serve(r *http.Request) *httptest.ResponseRecorder {
	e.t.Helper()
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, r)
	return rec
}

// do sends a request with a JSON body (if not empty).
func (e *env) do(method, path, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.serve(newRequest(method, path, body))
}

// want checks the status and the exact JSON body of a response.
func want(t *testing.T, rec *httptest.ResponseRecorder, status int, body string) {
	t.Helper()
	got := strings.TrimSuffix(rec.Body.String(), "\n")
	if rec.Code != status || got != body {
		t.Fatalf("got %d %s\nwant %d %s", rec.Code, got, status, body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
}

// create posts body and returns the new id, failing unless it answers 201.
func (e *env) create(agentID, body string) string {
	e.t.Helper()
	rec := e.do("POST", "/v1/agents/"+agentID+"/schedule", body)
	if rec.Code != http.StatusCreated {
		e.t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	var resp struct{ ID string }
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		e.t.Fatal(err)
	}
	return resp.ID
}

// oneTime is a create body of one user message at Epoch plus hours.
func oneTime(text string, hours int) string {
	return fmt.Sprintf(`{"messages":[{"content":%q,"role":"user"}],"schedule":{"scheduled_at":%d}}`, text, epochMS+hours*hourMS)
}

func TestCreateAnswers201WithIDAndNextScheduledAt(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rec := e.do("POST", "/v1/agents/agent-1/schedule", oneTime("hi", 1))
	var resp struct{ ID string }
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || resp.ID == "" {
		t.Fatalf("no id in %s (%v)", rec.Body, err)
	}
	want(t, rec, http.StatusCreated, `{"id":"`+resp.ID+`","next_scheduled_at":"2026-01-01T01:00:00.000Z"}`)
	if loc := rec.Header().Get("Location"); loc != "/v1/agents/agent-1/schedule/"+resp.ID {
		t.Errorf("Location %q", loc)
	}
}

func TestCreateThenGetReturnsTheMessageExactlyAsSent(t *testing.T) {
	t.Parallel()
	e := setup(t)
	message := `{"messages":[` +
		`{"content":"plain string stays a string","role":"user"},` +
		`{"content":[{"text":"look at this"},{"text":"signed","signature":"sig","type":"text"},` +
		`{"source":{"data":"iVBORw0KGgo=","media_type":"image/png"},"type":"image"},` +
		`{"source":{"data":"R0lGOD","media_type":"image/gif","detail":"low","type":"base64"},"type":"image"}],` +
		`"role":"assistant","name":"n","otid":"o","sender_id":"s","type":"message"}],` +
		`"callback_url":"https://example.com/cb","include_return_message_types":["assistant_message","tool_call_message"],"max_steps":5}`
	for _, tc := range []struct {
		name, schedule, next string
	}{
		{"one-time without type", fmt.Sprintf(`{"scheduled_at":%d}`, epochMS+hourMS), "2026-01-01T01:00:00.000Z"},
		{"one-time with type", fmt.Sprintf(`{"scheduled_at":%d,"type":"one-time"}`, epochMS+2*hourMS), "2026-01-01T02:00:00.000Z"},
		{"recurring", `{"cron_expression":"30 9 * * 1","type":"recurring"}`, "2026-01-05T09:30:00.000Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := strings.TrimSuffix(message, "}") + `,"schedule":` + tc.schedule + `}`
			id := e.create("agent-1", body)
			rec := e.do("GET", "/v1/agents/agent-1/schedule/"+id, "")
			want(t, rec, http.StatusOK, `{"id":"`+id+`","agent_id":"agent-1","message":`+message+
				`,"next_scheduled_time":"`+tc.next+`","schedule":`+tc.schedule+`,"created_at":"2026-01-01T00:00:00.000Z"}`)
		})
	}
}

func TestMinimalMessageKeepsOptionalFieldsAbsent(t *testing.T) {
	t.Parallel()
	e := setup(t)
	id := e.create("agent-1", oneTime("hi", 1))
	want(t, e.do("GET", "/v1/agents/agent-1/schedule/"+id, ""), http.StatusOK,
		`{"id":"`+id+`","agent_id":"agent-1","message":{"messages":[{"content":"hi","role":"user"}]},`+
			`"next_scheduled_time":"2026-01-01T01:00:00.000Z","schedule":{"scheduled_at":1767229200000},"created_at":"2026-01-01T00:00:00.000Z"}`)
}

func TestListPagesInCreationOrderWithLimitAndAfter(t *testing.T) {
	t.Parallel()
	e := setup(t)
	want(t, e.do("GET", "/v1/agents/agent-1/schedule", ""), http.StatusOK, `{"scheduled_messages":[],"has_next_page":false}`)

	var ids []string
	for i := range 3 {
		ids = append(ids, e.create("agent-1", oneTime(fmt.Sprint("m", i), i+1)))
	}
	e.create("agent-2", oneTime("other agent", 1))
	item := func(i int) string {
		return fmt.Sprintf(`{"id":"%s","agent_id":"agent-1","message":{"messages":[{"content":"m%d","role":"user"}]},`+
			`"next_scheduled_time":"2026-01-01T0%d:00:00.000Z","schedule":{"scheduled_at":%d},"created_at":"2026-01-01T00:00:00.000Z"}`, ids[i], i, i+1, epochMS+(i+1)*hourMS)
	}
	want(t, e.do("GET", "/v1/agents/agent-1/schedule?limit=2", ""), http.StatusOK,
		`{"scheduled_messages":[`+item(0)+`,`+item(1)+`],"has_next_page":true}`)
	want(t, e.do("GET", "/v1/agents/agent-1/schedule?limit=2&after="+ids[1], ""), http.StatusOK,
		`{"scheduled_messages":[`+item(2)+`],"has_next_page":false}`)
	want(t, e.do("GET", "/v1/agents/agent-1/schedule", ""), http.StatusOK,
		`{"scheduled_messages":[`+item(0)+`,`+item(1)+`,`+item(2)+`],"has_next_page":false}`)
}

func TestListQueryThatIsNoIntegerIs422(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, q := range []string{"limit=ten", "limit=1.5", "limit=99999999999999999999"} {
		want(t, e.do("GET", "/v1/agents/agent-1/schedule?"+q, ""), http.StatusUnprocessableEntity,
			`{"detail":[{"loc":["query","limit"],"msg":"Input should be a valid integer, unable to parse string as an integer","type":"int_parsing"}]}`)
	}
	want(t, e.do("GET", "/v1/agents/agent-1/schedule?limit=-1", ""), http.StatusUnprocessableEntity,
		`{"detail":[{"loc":["query","limit"],"msg":"must not be negative, got -1","type":"value_error"}]}`)
}

func TestDeleteAnswersSuccessAndTheScheduleIsGone(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, tc := range []struct {
		name string
		req  func(path string) *http.Request
	}{
		{"empty object, as the official client sends", func(p string) *http.Request { return newRequest("DELETE", p, "{}") }},
		{"no body, as curl sends", func(p string) *http.Request { return newRequest("DELETE", p, "") }},
		{"whitespace", func(p string) *http.Request { return newRequest("DELETE", p, " \n") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := e.create("agent-1", oneTime("bye", 1))
			path := "/v1/agents/agent-1/schedule/" + id
			want(t, e.serve(tc.req(path)), http.StatusOK, `{"success":true}`)
			want(t, e.do("GET", path, ""), http.StatusNotFound, `{"detail":"Scheduled message `+id+` not found"}`)
			want(t, e.do("DELETE", path, "{}"), http.StatusNotFound, `{"detail":"Scheduled message `+id+` not found"}`)
		})
	}
	e.Advance(2 * time.Hour)
	if n := len(e.Recorder.Deliveries()); n != 0 {
		t.Fatalf("%d deliveries of deleted schedules", n)
	}
}

func TestDeleteWithABodyOtherThanAnEmptyObjectIsRefused(t *testing.T) {
	t.Parallel()
	e := setup(t)
	id := e.create("agent-1", oneTime("bye", 1))
	path := "/v1/agents/agent-1/schedule/" + id
	want(t, e.do("DELETE", path, `{"agent_id":"agent-1"}`), http.StatusUnprocessableEntity,
		`{"detail":[{"loc":["body","agent_id"],"msg":"Extra inputs are not permitted","type":"extra_forbidden"}]}`)
	want(t, e.do("DELETE", path, `[]`), http.StatusUnprocessableEntity,
		`{"detail":[{"loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from","type":"model_attributes_type"}]}`)
	r := newRequest("DELETE", path, "please")
	r.Header.Set("Content-Type", "text/plain")
	want(t, e.serve(r), http.StatusUnsupportedMediaType, `{"detail":"Content-Type must be application/json"}`)
	if rec := e.do("GET", path, ""); rec.Code != http.StatusOK {
		t.Fatalf("a refused delete deleted: %d", rec.Code)
	}
}

func TestAnotherAgentsScheduleIs404(t *testing.T) {
	t.Parallel()
	e := setup(t)
	id := e.create("agent-1", oneTime("mine", 1))
	nf := `{"detail":"Scheduled message ` + id + ` not found"}`
	want(t, e.do("GET", "/v1/agents/agent-2/schedule/"+id, ""), http.StatusNotFound, nf)
	want(t, e.do("DELETE", "/v1/agents/agent-2/schedule/"+id, "{}"), http.StatusNotFound, nf)
	want(t, e.do("GET", "/v1/agents/agent-2/schedule/"+id+"/history", ""), http.StatusNotFound, nf)
	want(t, e.do("GET", "/v1/agents/agent-2/schedule", ""), http.StatusOK, `{"scheduled_messages":[],"has_next_page":false}`)
	if rec := e.do("GET", "/v1/agents/agent-1/schedule/"+id, ""); rec.Code != http.StatusOK {
		t.Fatalf("the owner gets %d", rec.Code)
	}
}

func TestScheduledAtNotInTheFutureIs400(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, at := range []int{epochMS, epochMS - 1, 0} {
		want(t, e.do("POST", "/v1/agents/agent-1/schedule", fmt.Sprintf(`{"messages":[{"content":"late","role":"user"}],"schedule":{"scheduled_at":%d}}`, at)),
			http.StatusBadRequest, `{"detail":"schedule.scheduled_at must be after now (2026-01-01T00:00:00.000Z)"}`)
	}
	want(t, e.do("GET", "/v1/agents/agent-1/schedule", ""), http.StatusOK, `{"scheduled_messages":[],"has_next_page":false}`)
}

func TestInvalidBodiesAre422NamingTheField(t *testing.T) {
	t.Parallel()
	e := setup(t)
	const at = `{"scheduled_at":1767229200000}`
	const msg = `[{"content":"hi","role":"user"}]`
	detail := func(typ, msg string, loc ...any) string {
		b, _ := json.Marshal(map[string]any{"detail": []map[string]any{{"loc": loc, "msg": msg, "type": typ}}})
		// Marshal sorts the keys; the handler writes loc, msg, type in that order too.
		return string(b)
	}
	for _, tc := range []struct {
		name, body, want string
	}{
		{"empty body", ``, detail("missing", "Field required", "body")},
		{"not an object", `[]`, detail("model_attributes_type", "Input should be a valid dictionary or object to extract fields from", "body")},
		{"invalid JSON", `{"messages":`, detail("json_invalid", "JSON decode error: unexpected EOF", "body", 12)},
		{"syntax error", `{"messages" 1}`, detail("json_invalid", "JSON decode error: invalid character '1' after object key", "body", 13)},
		{"trailing garbage", `{"messages":` + msg + `,"schedule":` + at + `} x`, detail("json_invalid", "JSON decode error: unexpected data after the JSON value at offset 87", "body", 87)},
		{"second value", `{"messages":` + msg + `,"schedule":` + at + `}{}`, detail("json_invalid", "JSON decode error: unexpected data after the JSON value at offset 87", "body", 87)},
		{"missing messages", `{"schedule":` + at + `}`, detail("missing", "Field required", "body", "messages")},
		{"missing schedule", `{"messages":` + msg + `}`, detail("missing", "Field required", "body", "schedule")},
		{"unknown top-level field", `{"messages":` + msg + `,"schedule":` + at + `,"priority":1}`, detail("extra_forbidden", "Extra inputs are not permitted", "body", "priority")},
		{"unknown field in a message", `{"messages":[{"content":"hi","role":"user","mood":"ok"}],"schedule":` + at + `}`, detail("extra_forbidden", "Extra inputs are not permitted", "body", "messages", 0, "mood")},
		{"unknown field in a part", `{"messages":[{"content":[{"text":"hi","bold":true}],"role":"user"}],"schedule":` + at + `}`, detail("extra_forbidden", "Extra inputs are not permitted", "body", "messages", 0, "content", 0, "bold")},
		{"unknown field in a schedule", `{"messages":` + msg + `,"schedule":{"scheduled_at":1767229200000,"timezone":"UTC"}}`, detail("extra_forbidden", "Extra inputs are not permitted", "body", "schedule", "timezone")},
		{"messages not a list", `{"messages":{},"schedule":` + at + `}`, detail("list_type", "Input should be a valid list", "body", "messages")},
		{"no messages", `{"messages":[],"schedule":` + at + `}`, detail("value_error", "at least one message is required", "body", "messages")},
		{"role missing", `{"messages":[{"content":"hi"}],"schedule":` + at + `}`, detail("missing", "Field required", "body", "messages", 0, "role")},
		{"role not a string", `{"messages":[{"content":"hi","role":1}],"schedule":` + at + `}`, detail("string_type", "Input should be a valid string", "body", "messages", 0, "role")},
		{"role unknown", `{"messages":[{"content":"hi","role":"tool"}],"schedule":` + at + `}`, detail("value_error", `must be user, assistant or system, got "tool"`, "body", "messages", 0, "role")},
		{"content a number", `{"messages":[{"content":1,"role":"user"}],"schedule":` + at + `}`, detail("union_type", "Input should be a valid string or a list of content parts", "body", "messages", 0, "content")},
		{"content empty", `{"messages":[{"content":" ","role":"user"}],"schedule":` + at + `}`, detail("value_error", "must not be empty", "body", "messages", 0, "content")},
		{"image without media type", `{"messages":[{"content":[{"source":{"data":"x"},"type":"image"}],"role":"user"}],"schedule":` + at + `}`, detail("missing", "Field required", "body", "messages", 0, "content", 0, "source", "media_type")},
		{"scheduled_at a string", `{"messages":` + msg + `,"schedule":{"scheduled_at":"soon"}}`, detail("float_type", "Input should be a valid number", "body", "schedule", "scheduled_at")},
		{"scheduled_at fractional", `{"messages":` + msg + `,"schedule":{"scheduled_at":1767229200000.5}}`, detail("value_error", "must be a whole number, got 1767229200000.5", "body", "schedule", "scheduled_at")},
		{"both instants", `{"messages":` + msg + `,"schedule":{"scheduled_at":1767229200000,"cron_expression":"* * * * *","type":"recurring"}}`, detail("value_error", "set either scheduled_at or cron_expression, not both", "body", "schedule")},
		{"neither instant", `{"messages":` + msg + `,"schedule":{}}`, detail("value_error", "one of scheduled_at or cron_expression is required", "body", "schedule")},
		{"recurring without type", `{"messages":` + msg + `,"schedule":{"cron_expression":"* * * * *"}}`, detail("value_error", `must be "recurring" with cron_expression, got ""`, "body", "schedule", "type")},
		{"cron with seconds", `{"messages":` + msg + `,"schedule":{"cron_expression":"0 * * * * *","type":"recurring"}}`, detail("value_error", "expected exactly 5 fields, found 6: [0 * * * * *]", "body", "schedule", "cron_expression")},
		{"callback_url relative", `{"messages":` + msg + `,"schedule":` + at + `,"callback_url":"/cb"}`, detail("value_error", "must be an absolute http or https URL", "body", "callback_url")},
		{"return type unknown", `{"messages":` + msg + `,"schedule":` + at + `,"include_return_message_types":["assistant_message","everything"]}`, detail("value_error", `unknown message type "everything"`, "body", "include_return_message_types", 1)},
		{"max_steps a string", `{"messages":` + msg + `,"schedule":` + at + `,"max_steps":"5"}`, detail("float_type", "Input should be a valid number", "body", "max_steps")},
		{"max_steps fractional", `{"messages":` + msg + `,"schedule":` + at + `,"max_steps":1.5}`, detail("value_error", "must be a whole number, got 1.5", "body", "max_steps")},
		{"max_steps zero", `{"messages":` + msg + `,"schedule":` + at + `,"max_steps":0}`, detail("value_error", "must be at least 1, got 0", "body", "max_steps")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRequest("POST", "/v1/agents/agent-1/schedule", tc.body)
			r.Header.Set("Content-Type", "application/json")
			want(t, e.serve(r), http.StatusUnprocessableEntity, tc.want)
		})
	}
	want(t, e.do("GET", "/v1/agents/agent-1/schedule", ""), http.StatusOK, `{"scheduled_messages":[],"has_next_page":false}`)
}

func TestEveryStructuralErrorIsListed(t *testing.T) {
	t.Parallel()
	e := setup(t)
	want(t, e.do("POST", "/v1/agents/agent-1/schedule", `{"messages":[{"content":1,"role":2,"x":3}],"y":4}`), http.StatusUnprocessableEntity,
		`{"detail":[`+
			`{"loc":["body","messages",0,"content"],"msg":"Input should be a valid string or a list of content parts","type":"union_type"},`+
			`{"loc":["body","messages",0,"role"],"msg":"Input should be a valid string","type":"string_type"},`+
			`{"loc":["body","messages",0,"x"],"msg":"Extra inputs are not permitted","type":"extra_forbidden"},`+
			`{"loc":["body","schedule"],"msg":"Field required","type":"missing"},`+
			`{"loc":["body","y"],"msg":"Extra inputs are not permitted","type":"extra_forbidden"}]}`)
}

func TestNullReadsAsAbsent(t *testing.T) {
	t.Parallel()
	e := setup(t)
	id := e.create("agent-1", `{"messages":[{"content":"hi","role":"user","name":null}],"schedule":{"scheduled_at":1767229200000,"type":null},"callback_url":null,"max_steps":null}`)
	want(t, e.do("GET", "/v1/agents/agent-1/schedule/"+id, ""), http.StatusOK,
		`{"id":"`+id+`","agent_id":"agent-1","message":{"messages":[{"content":"hi","role":"user"}]},`+
			`"next_scheduled_time":"2026-01-01T01:00:00.000Z","schedule":{"scheduled_at":1767229200000},"created_at":"2026-01-01T00:00:00.000Z"}`)
}

func TestWrongMethodIs405WithAllow(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, tc := range []struct{ method, path, allow string }{
		{"PUT", "/v1/agents/agent-1/schedule", "GET, HEAD, POST"},
		{"DELETE", "/v1/agents/agent-1/schedule", "GET, HEAD, POST"},
		{"POST", "/v1/agents/agent-1/schedule/some-id", "DELETE, GET, HEAD, PATCH"},
		{"PUT", "/v1/agents/agent-1/schedule/some-id", "DELETE, GET, HEAD, PATCH"},
		{"DELETE", "/v1/agents/agent-1/schedule/some-id/history", "GET, HEAD"},
	} {
		rec := e.do(tc.method, tc.path, "{}")
		want(t, rec, http.StatusMethodNotAllowed, `{"detail":"Method Not Allowed"}`)
		if got := rec.Header().Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
	}
}

func TestUnknownRouteIs404(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, p := range []string{"/", "/v1/agents", "/v1/agents/agent-1", "/v1/agents/agent-1/schedule/id/history/more", "/v2/agents/agent-1/schedule"} {
		want(t, e.do("GET", p, ""), http.StatusNotFound, `{"detail":"Not Found"}`)
	}
}

func TestBodyOverTheLimitIs413(t *testing.T) {
	t.Parallel()
	e := setup(t, httpapi.WithMaxBodyBytes(64))
	body := oneTime(strings.Repeat("x", 64), 1)
	const detail = `{"detail":"Request body too large: the limit is 64 bytes"}`
	want(t, e.do("POST", "/v1/agents/agent-1/schedule", body), http.StatusRequestEntityTooLarge, detail)

	r := newRequest("POST", "/v1/agents/agent-1/schedule", body)
	r.ContentLength = -1 // chunked: the size shows only while reading
	want(t, e.serve(r), http.StatusRequestEntityTooLarge, detail)

	small := setup(t, httpapi.WithMaxBodyBytes(1))
	want(t, small.do("DELETE", "/v1/agents/agent-1/schedule/x", "{}"), http.StatusNotFound, `{"detail":"Scheduled message x not found"}`)
}

func TestDefaultBodyLimitIsOneMiB(t *testing.T) {
	t.Parallel()
	e := setup(t)
	big := oneTime(strings.Repeat("x", httpapi.DefaultMaxBodyBytes), 1)
	if rec := e.do("POST", "/v1/agents/agent-1/schedule", big); rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("got %d", rec.Code)
	}
	fits := oneTime(strings.Repeat("x", httpapi.DefaultMaxBodyBytes-100), 1)
	if rec := e.do("POST", "/v1/agents/agent-1/schedule", fits); rec.Code != http.StatusCreated {
		t.Fatalf("got %d", rec.Code)
	}
}

func TestCreateWithoutJSONContentTypeIs415(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json-seq", "not a media type;;"} {
		r := newRequest("POST", "/v1/agents/agent-1/schedule", oneTime("hi", 1))
		r.Header.Set("Content-Type", ct)
		want(t, e.serve(r), http.StatusUnsupportedMediaType, `{"detail":"Content-Type must be application/json"}`)
	}
	for _, ct := range []string{"application/json; charset=utf-8", "Application/JSON", "application/merge-patch+json"} {
		r := newRequest("POST", "/v1/agents/agent-1/schedule", oneTime("hi", 1))
		r.Header.Set("Content-Type", ct)
		if rec := e.serve(r); rec.Code != http.StatusCreated {
			t.Errorf("%q: got %d %s", ct, rec.Code, rec.Body)
		}
	}
}

func TestAuthorizerRefusalIs401(t *testing.T) {
	t.Parallel()
	e := setup(t, httpapi.WithAuthorizer(httpapi.BearerToken("secret", "other")))
	const detail = `{"detail":"invalid or missing API key"}`
	for _, auth := range []string{"", "secret", "Basic c2VjcmV0", "Bearer", "Bearer wrong", "Bearer secre"} {
		r := newRequest("GET", "/v1/agents/agent-1/schedule", "")
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		rec := e.serve(r)
		want(t, rec, http.StatusUnauthorized, detail)
		if got := rec.Header().Get("WWW-Authenticate"); got != "Bearer" {
			t.Errorf("WWW-Authenticate %q", got)
		}
	}
	// Routes stay hidden from callers without a key.
	want(t, e.do("GET", "/nowhere", ""), http.StatusUnauthorized, detail)
	for _, key := range []string{"secret", "other"} {
		r := newRequest("GET", "/v1/agents/agent-1/schedule", "")
		r.Header.Set("Authorization", "bearer "+key)
		want(t, e.serve(r), http.StatusOK, `{"scheduled_messages":[],"has_next_page":false}`)
	}
}

func TestCustomAuthorizerSeesTheRequest(t *testing.T) {
	t.Parallel()
	e := setup(t, httpapi.WithAuthorizer(func(r *http.Request) error {
		if r.Header.Get("X-Tenant") != "acme" {
			return errors.New("unknown tenant")
		}
		return nil
	}))
	want(t, e.do("GET", "/v1/agents/agent-1/schedule", ""), http.StatusUnauthorized, `{"detail":"unknown tenant"}`)
	r := newRequest("GET", "/v1/agents/agent-1/schedule", "")
	r.Header.Set("X-Tenant", "acme")
	want(t, e.serve(r), http.StatusOK, `{"scheduled_messages":[],"has_next_page":false}`)
}

func TestUnknownAgentIs404(t *testing.T) {
	t.Parallel()
	var asked []string
	e := setup(t, httpapi.WithAgentLookup(func(ctx context.Context, agentID string) (bool, error) {
		asked = append(asked, agentID) // the handler runs one request at a time here
		switch agentID {
		case "agent-1":
			return true, nil
		case "broken":
			return false, errors.New("directory down")
		}
		return false, nil
	}))
	const nf = `{"detail":"Agent ghost not found"}`
	want(t, e.do("POST", "/v1/agents/ghost/schedule", oneTime("hi", 1)), http.StatusNotFound, nf)
	want(t, e.do("GET", "/v1/agents/ghost/schedule", ""), http.StatusNotFound, nf)
	want(t, e.do("GET", "/v1/agents/ghost/schedule/x", ""), http.StatusNotFound, nf)
	want(t, e.do("DELETE", "/v1/agents/ghost/schedule/x", "{}"), http.StatusNotFound, nf)
	want(t, e.do("GET", "/v1/agents/ghost/schedule/x/history", ""), http.StatusNotFound, nf)
	want(t, e.do("GET", "/v1/agents/broken/schedule", ""), http.StatusInternalServerError, `{"detail":"Internal Server Error"}`)
	e.create("agent-1", oneTime("hi", 1))
	if len(asked) != 7 {
		t.Errorf("lookup asked %v", asked)
	}
}

func TestPanicIs500(t *testing.T) {
	t.Parallel()
	e := setup(t, httpapi.WithAgentLookup(func(ctx context.Context, agentID string) (bool, error) {
		panic("lookup bug")
	}))
	want(t, e.do("GET", "/v1/agents/agent-1/schedule", ""), http.StatusInternalServerError, `{"detail":"Internal Server Error"}`)
}

func TestAbortHandlerPanicIsLeftToTheServer(t *testing.T) {
	t.Parallel()
	e := setup(t, httpapi.WithAgentLookup(func(ctx context.Context, agentID string) (bool, error) {
		panic(http.ErrAbortHandler)
	}))
	defer func() {
		if p := recover(); p != http.ErrAbortHandler {
			t.Fatalf("recovered %v", p)
		}
	}()
	e.do("GET", "/v1/agents/agent-1/schedule", "")
}

// failingStore is a memory store whose List and Get fail.
type failingStore struct{ *memory.Store }

var errDisk = errors.New("disk on fire")

func (failingStore) List(context.Context, tickler.ListParams) (tickler.ListResult, error) {
	return tickler.ListResult{}, errDisk
}

func (failingStore) Get(context.Context, string, string) (*tickler.Record, error) {
	return nil, errDisk
}

func TestStoreFailureIs500(t *testing.T) {
	t.Parallel()
	b := ticklertest.NewWith(t, ticklertest.Config{Store: failingStore{memory.New()}})
	e := &env{Bundle: b, t: t, h: httpapi.New(b.Scheduler)}
	want(t, e.do("GET", "/v1/agents/agent-1/schedule", ""), http.StatusInternalServerError, `{"detail":"Internal Server Error"}`)
	want(t, e.do("GET", "/v1/agents/agent-1/schedule/x", ""), http.StatusInternalServerError, `{"detail":"Internal Server Error"}`)
}

func TestHistoryPagesOutcomesNewestFirst(t *testing.T) {
	t.Parallel()
	e := setupWith(t, []tickler.Option{tickler.WithRetryPolicy(tickler.RetryPolicy{MaxAttempts: 2, Base: time.Second, Cap: time.Second})},
		httpapi.WithLogger(nil))
	n := 0
	e.Recorder.SetFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		n++ // deliveries of one schedule never overlap
		if d.Occurrence.Minute() == 2 {
			return tickler.Result{}, errors.New("agent unreachable")
		}
		return tickler.Result{RunID: fmt.Sprint("run-", n), Response: map[string]any{"n": n, "text": "ok"}}, nil
	})
	id := e.create("agent-1", `{"messages":[{"content":"tick","role":"user"}],"schedule":{"cron_expression":"* * * * *","type":"recurring"}}`)
	path := "/v1/agents/agent-1/schedule/" + id + "/history"
	want(t, e.do("GET", path, ""), http.StatusOK, `{"history":[],"has_next_page":false,"next_offset":null}`)

	// 00:01 succeeds, 00:02 fails twice and is given up, 00:03 succeeds.
	e.Advance(3 * time.Minute)
	outs, _, err := e.Scheduler.History(t.Context(), "agent-1", id, 0, 10)
	if err != nil || len(outs) != 3 {
		t.Fatalf("history %v %v", outs, err)
	}
	entry := func(o tickler.Outcome) string {
		switch o.Status {
		case tickler.StatusSuccess:
			return fmt.Sprintf(`{"id":"%s","scheduled_message_id":"%s","status":"success","response":{"n":%s,"text":"ok"},"run_id":"%s",`+
				`"sent_at":"%s","occurrence":"%s","attempts":1}`, o.ID, id, strings.TrimPrefix(o.RunID, "run-"), o.RunID,
				*tickler.FormatTime(o.SentAt), *tickler.FormatTime(o.Occurrence))
		default:
			return fmt.Sprintf(`{"id":"%s","scheduled_message_id":"%s","status":"failed","response":null,"run_id":null,`+
				`"sent_at":"%s","occurrence":"%s","attempts":%d,"error":"agent unreachable"}`, o.ID, id,
				*tickler.FormatTime(o.SentAt), *tickler.FormatTime(o.Occurrence), o.Attempts)
		}
	}
	if outs[0].Status != tickler.StatusSuccess || outs[1].Status != tickler.StatusFailed || outs[1].Attempts != 2 || outs[2].Status != tickler.StatusSuccess {
		t.Fatalf("unexpected outcomes %+v", outs)
	}
	want(t, e.do("GET", path+"?limit=2", ""), http.StatusOK,
		`{"history":[`+entry(outs[0])+`,`+entry(outs[1])+`],"has_next_page":true,"next_offset":2}`)
	want(t, e.do("GET", path+"?limit=2&offset=2", ""), http.StatusOK,
		`{"history":[`+entry(outs[2])+`],"has_next_page":false,"next_offset":null}`)
	want(t, e.do("GET", path+"?offset=ten", ""), http.StatusUnprocessableEntity,
		`{"detail":[{"loc":["query","offset"],"msg":"Input should be a valid integer, unable to parse string as an integer","type":"int_parsing"}]}`)
	want(t, e.do("GET", path+"?offset=-1", ""), http.StatusUnprocessableEntity,
		`{"detail":[{"loc":["query","offset"],"msg":"must not be negative, got -1","type":"value_error"}]}`)
	want(t, e.do("GET", "/v1/agents/agent-1/schedule/nope/history", ""), http.StatusNotFound, `{"detail":"Scheduled message nope not found"}`)
}

// A body the size of the limit made of invalid elements once answered one
// error per element: 60 MB for 1 MiB. The answer stays small.
func TestInvalidElementsAnswerABoundedError(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ones := strings.Repeat("1,", (httpapi.DefaultMaxBodyBytes-200)/2) + "1"
	body := `{"messages":[{"content":"hi","role":"user"}],"schedule":{"scheduled_at":1767229200000},"include_return_message_types":[` + ones + `]}`
	rec := e.do("POST", "/v1/agents/agent-1/schedule", body)
	if rec.Code != http.StatusUnprocessableEntity || rec.Body.Len() > 4<<10 {
		t.Fatalf("got %d with %d bytes: %.300s", rec.Code, rec.Body.Len(), rec.Body)
	}
	want(t, rec, http.StatusUnprocessableEntity, fmt.Sprintf(`{"detail":[{"loc":["body","include_return_message_types"],`+
		`"msg":"List should have at most 1000 items, not %d","type":"too_long"}]}`, strings.Count(ones, ",")+1))
}

func TestFieldErrorsAreCappedWithACountOfTheRest(t *testing.T) {
	t.Parallel()
	e := setup(t)
	msgs := strings.TrimSuffix(strings.Repeat(`{"content":"hi","role":1},`, 30), ",")
	rec := e.do("POST", "/v1/agents/agent-1/schedule", `{"messages":[`+msgs+`],"schedule":{"scheduled_at":1767229200000}}`)
	var got struct {
		Detail []struct {
			Loc  []any
			Msg  string
			Type string
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != http.StatusUnprocessableEntity {
		t.Fatalf("got %d %s (%v)", rec.Code, rec.Body, err)
	}
	if n := len(got.Detail); n != 21 {
		t.Fatalf("%d errors, want 20 and a count of the rest", n)
	}
	for i, d := range got.Detail[:20] {
		if fmt.Sprint(d.Loc) != fmt.Sprintf("[body messages %d role]", i) || d.Type != "string_type" {
			t.Errorf("error %d: %+v", i, d)
		}
	}
	if last := got.Detail[20]; fmt.Sprint(last.Loc) != "[body]" || last.Msg != "and 10 more errors" || last.Type != "too_many_errors" {
		t.Errorf("last: %+v", last)
	}
}

// A page holds at most 8 MiB of scheduled messages, whatever the limit:
// the rest is on the next page.
func TestListPageIsBoundedInBytes(t *testing.T) {
	t.Parallel()
	e := setup(t)
	big := strings.Repeat("x", 1000<<10) // nine of them are more than 8 MiB
	var ids []string
	for i := range 9 {
		ids = append(ids, e.create("agent-1", oneTime(big, i+1)))
	}
	var p struct {
		ScheduledMessages []struct{ ID string } `json:"scheduled_messages"`
		HasNextPage       bool                  `json:"has_next_page"`
	}
	rec := e.do("GET", "/v1/agents/agent-1/schedule", "")
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("got %d (%v)", rec.Code, err)
	}
	if n := len(p.ScheduledMessages); n != 8 || !p.HasNextPage || rec.Body.Len() > 8<<20+200 {
		t.Fatalf("first page: %d messages, %d bytes, has_next_page %v", n, rec.Body.Len(), p.HasNextPage)
	}
	rec = e.do("GET", "/v1/agents/agent-1/schedule?after="+p.ScheduledMessages[7].ID, "")
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || len(p.ScheduledMessages) != 1 || p.ScheduledMessages[0].ID != ids[8] || p.HasNextPage {
		t.Fatalf("second page: %+v (%v)", p, err)
	}
}

// However small the bound, a page holds at least one message, so paging
// always moves on.
func TestListPageHoldsAtLeastOneMessage(t *testing.T) {
	t.Parallel()
	e := setup(t, httpapi.WithMaxPageBytes(1))
	a := e.create("agent-1", oneTime("a", 1))
	b := e.create("agent-1", oneTime("b", 2))
	for _, tc := range []struct{ after, id string }{{"", a}, {a, b}} {
		var p struct {
			ScheduledMessages []struct{ ID string } `json:"scheduled_messages"`
			HasNextPage       bool                  `json:"has_next_page"`
		}
		rec := e.do("GET", "/v1/agents/agent-1/schedule?after="+tc.after, "")
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || len(p.ScheduledMessages) != 1 || p.ScheduledMessages[0].ID != tc.id || p.HasNextPage != (tc.id == a) {
			t.Fatalf("after %q: %s (%v)", tc.after, rec.Body, err)
		}
	}
}

func TestHistoryPageIsBoundedInBytes(t *testing.T) {
	t.Parallel()
	e := setup(t, httpapi.WithMaxPageBytes(1))
	id := e.create("agent-1", `{"messages":[{"content":"tick","role":"user"}],"schedule":{"cron_expression":"* * * * *","type":"recurring"}}`)
	e.Advance(2 * time.Minute)
	path := "/v1/agents/agent-1/schedule/" + id + "/history"
	for _, tc := range []struct {
		offset int
		more   bool
		next   string
	}{{0, true, "1"}, {1, false, "null"}} {
		rec := e.do("GET", fmt.Sprintf("%s?offset=%d", path, tc.offset), "")
		var p struct {
			History     []json.RawMessage `json:"history"`
			HasNextPage bool              `json:"has_next_page"`
			NextOffset  json.RawMessage   `json:"next_offset"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || len(p.History) != 1 || p.HasNextPage != tc.more || string(p.NextOffset) != tc.next {
			t.Fatalf("offset %d: %d %s (%v)", tc.offset, rec.Code, rec.Body, err)
		}
	}
}

func TestAgentIDsThatCannotBeStoredAsSentAre422(t *testing.T) {
	t.Parallel()
	e := setup(t)
	const (
		unicode = `{"detail":[{"loc":["path","agent_id"],"msg":"Input should be a valid string, unable to parse raw data as a unicode string","type":"string_unicode"}]}`
		long    = `{"detail":[{"loc":["path","agent_id"],"msg":"String should have at most 256 bytes","type":"string_too_long"}]}`
		dots    = `{"detail":[{"loc":["path","agent_id"],"msg":"must not be . or .. or contain /","type":"value_error"}]}`
	)
	for _, tc := range []struct{ agent, body string }{
		{"a%FF%FEb", unicode},
		{strings.Repeat("a", 257), long},
		{strings.Repeat("%C3%A9", 129), long}, // 258 bytes in 129 characters
		{"%2E", dots},
		{"%2E%2E", dots},
		{"a%2Fb", dots},
	} {
		for _, r := range []*http.Request{
			newRequest("POST", "/v1/agents/"+tc.agent+"/schedule", oneTime("hi", 1)),
			newRequest("GET", "/v1/agents/"+tc.agent+"/schedule", ""),
			newRequest("GET", "/v1/agents/"+tc.agent+"/schedule/x", ""),
			newRequest("POST", "/v1/agents/"+tc.agent+"/schedule/x/pause", ""),
		} {
			want(t, e.serve(r), http.StatusUnprocessableEntity, tc.body)
		}
	}
	long256 := strings.Repeat("a", 256)
	e.create(long256, oneTime("hi", 1))
	e.create("..a", oneTime("hi", 1))
	want(t, e.do("GET", "/v1/agents/x/schedule/a%FF", ""), http.StatusUnprocessableEntity,
		`{"detail":[{"loc":["path","scheduled_message_id"],"msg":"Input should be a valid string, unable to parse raw data as a unicode string","type":"string_unicode"}]}`)
}

// encoding/json reads invalid UTF-8 as U+FFFD; a message must read back
// exactly as it was sent, so it is refused, naming the field.
func TestInvalidUTF8InABodyIs422NamingTheField(t *testing.T) {
	t.Parallel()
	e := setup(t)
	const msg = "Input should be a valid string, unable to parse raw data as a unicode string"
	for _, tc := range []struct {
		body string
		loc  string
	}{
		{`{"messages":[{"content":"a` + "\xff\xfe" + `b","role":"user"}],"schedule":{"scheduled_at":1767229200000}}`, `["body","messages",0,"content"]`},
		{`{"messages":[{"content":"ok","role":"user"},{"content":[{"text":"fine"},{"text":"` + "\xc3" + `"}],"role":"user"}],"schedule":{"scheduled_at":1767229200000}}`, `["body","messages",1,"content",1,"text"]`},
		{`{"messages":[{"content":"ok","role":"user"}],"schedule":{"scheduled_at":1767229200000},"callback_url":"https://example.com/` + "\xe9" + `"}`, `["body","callback_url"]`},
		{`{"messages":[{"content":"ok","role":"user","na` + "\xff" + `me":"x"}],"schedule":{"scheduled_at":1767229200000}}`, `["body","messages",0,"na` + "\ufffd" + `me"]`},
	} {
		want(t, e.do("POST", "/v1/agents/agent-1/schedule", tc.body), http.StatusUnprocessableEntity,
			`{"detail":[{"loc":`+tc.loc+`,"msg":"`+msg+`","type":"string_unicode"}]}`)
	}
	want(t, e.do("GET", "/v1/agents/agent-1/schedule", ""), http.StatusOK, `{"scheduled_messages":[],"has_next_page":false}`)
}

// A web page of another site can make a browser send requests to a server
// on the loopback address by pointing its own name there (DNS rebinding);
// the Host header still names that site. A server without an API key
// answers only requests to loopback names.
func TestKeylessServerAnswersOnlyLoopbackHostNames(t *testing.T) {
	t.Parallel()
	keyless := setup(t)
	keyed := setup(t, httpapi.WithAuthorizer(httpapi.BearerToken("secret")))
	listed := setup(t, httpapi.WithAllowedHosts("tickler.internal", "[::1]"))
	open := setup(t, httpapi.WithAllowedHosts("*"))
	const (
		ok        = `{"scheduled_messages":[],"has_next_page":false}`
		forbidden = `{"detail":"Host not allowed"}`
	)
	get := func(e *env, host, auth string) *httptest.ResponseRecorder {
		r := newRequest("GET", "/v1/agents/agent-1/schedule", "")
		r.Host = host
		if auth != "" {
			r.Header.Set("Authorization", "Bearer "+auth)
		}
		return e.serve(r)
	}
	for _, host := range []string{"localhost", "localhost:8283", "LocalHost:1", "localhost.:8283", "127.0.0.1:8283", "127.0.0.2", "[::1]:8283", "[::1]"} {
		want(t, get(keyless, host, ""), http.StatusOK, ok)
	}
	for _, host := range []string{"rebind.attacker.example:8283", "attacker.example", "localhost.attacker.example", "10.0.0.5:8283", "[::2]:8283", "", "localhost:8283:1"} {
		want(t, get(keyless, host, ""), http.StatusForbidden, forbidden)
		want(t, get(keyed, host, "secret"), http.StatusOK, ok)
		want(t, get(open, host, ""), http.StatusOK, ok)
	}
	want(t, get(listed, "Tickler.Internal:443", ""), http.StatusOK, ok)
	want(t, get(listed, "[::1]:8283", ""), http.StatusOK, ok)
	want(t, get(listed, "localhost:8283", ""), http.StatusForbidden, forbidden)
}

// The callback sender refuses private addresses when it connects; a URL
// whose host says so already is refused when the schedule is created, so
// the caller hears of it.
func TestPrivateCallbackURLsAre422UnlessAllowed(t *testing.T) {
	t.Parallel()
	e := setup(t)
	allowing := setup(t, httpapi.AllowPrivateCallbacks())
	body := func(u string) string {
		return `{"messages":[{"content":"hi","role":"user"}],"schedule":{"scheduled_at":1767229200000},"callback_url":"` + u + `"}`
	}
	refused := func(t *testing.T, rec *httptest.ResponseRecorder, u string) {
		t.Helper()
		if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), `"loc":["body","callback_url"]`) {
			t.Errorf("%s: %d %s", u, rec.Code, rec.Body)
		}
	}
	for _, u := range []string{
		"http://127.0.0.1:8080/cb", "http://127.1.2.3/", "http://localhost/cb", "http://LOCALHOST./", "http://api.localhost/",
		"http://[::1]:9/", "http://10.0.0.1/", "http://192.168.1.1/", "https://[fd12::1]/",
		"http://169.254.169.254/latest/meta-data/", "http://[fe80::1%25eth0]/", "http://[::127.0.0.1]/", "http://[::ffff:127.0.0.1]/",
		"http://0.0.0.0/",
	} {
		refused(t, e.do("POST", "/v1/agents/agent-1/schedule", body(u)), u)
		if rec := allowing.do("POST", "/v1/agents/agent-1/schedule", body(u)); rec.Code != http.StatusCreated {
			t.Errorf("%s with private callbacks allowed: %d %s", u, rec.Code, rec.Body)
		}
	}
	for _, u := range []string{"https://example.com:99999/cb", "https://example.com:0/cb"} {
		refused(t, e.do("POST", "/v1/agents/agent-1/schedule", body(u)), u)
		refused(t, allowing.do("POST", "/v1/agents/agent-1/schedule", body(u)), u)
	}
	for _, u := range []string{"https://example.com/cb", "https://example.com:8443/cb", "http://8.8.8.8/", "https://callbacks.internal.example/"} {
		if rec := e.do("POST", "/v1/agents/agent-1/schedule", body(u)); rec.Code != http.StatusCreated {
			t.Errorf("%s: %d %s", u, rec.Code, rec.Body)
		}
	}
	id := e.create("agent-1", oneTime("hi", 1))
	refused(t, e.do("PATCH", "/v1/agents/agent-1/schedule/"+id, `{"callback_url":"http://127.0.0.1/"}`), "PATCH")
}
