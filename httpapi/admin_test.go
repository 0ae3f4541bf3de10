package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/bolt"
	"github.com/tickler-go/tickler/httpapi"
	"github.com/tickler-go/tickler/memory"
	"github.com/tickler-go/tickler/ticklertest"
)

// adminEnv is a bundle with Letta's API and the admin API in front of its
// scheduler, each with its own key, mounted as a host would.
type adminEnv struct {
	*env
}

const (
	apiKey   = "api-key"
	adminKey = "admin-key"
)

func setupAdmin(t *testing.T, cfg ticklertest.Config, opts ...httpapi.Option) *adminEnv {
	t.Helper()
	b := ticklertest.NewWith(t, cfg)
	mux := http.NewServeMux()
	mux.Handle("/", httpapi.New(b.Scheduler, httpapi.WithAuthorizer(httpapi.BearerToken(apiKey))))
	mux.Handle("/admin/", httpapi.NewAdmin(b.Scheduler, append([]httpapi.Option{httpapi.WithAuthorizer(httpapi.BearerToken(adminKey))}, opts...)...))
	return &adminEnv{&env{Bundle: b, t: t, h: mux}}
}

// call sends a request with a key and decodes the JSON answer into v (if
// not nil), failing unless the status is want.
func (e *adminEnv) call(key, method, path, body string, want int, v any) {
	e.t.Helper()
	r := newRequest(method, path, body)
	if key != "" {
		r.Header.Set("Authorization", "Bearer "+key)
	}
	rec := e.serve(r)
	if rec.Code != want {
		e.t.Fatalf("%s %s: %d %s, want %d", method, path, rec.Code, rec.Body, want)
	}
	if v != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
			e.t.Fatalf("%s %s: %v in %s", method, path, err, rec.Body)
		}
	}
}

func (e *adminEnv) create(agent, body string) string {
	e.t.Helper()
	var resp struct{ ID string }
	e.call(apiKey, "POST", "/v1/agents/"+agent+"/schedule", body, http.StatusCreated, &resp)
	return resp.ID
}

type adminRecord struct {
	ID                string  `json:"id"`
	AgentID           string  `json:"agent_id"`
	Status            string  `json:"status"`
	Paused            bool    `json:"paused"`
	NextScheduledTime *string `json:"next_scheduled_time"`
	Version           int     `json:"version"`
	Last              *struct {
		Status string `json:"status"`
		Error  string `json:"error"`
	} `json:"last"`
}

type adminList struct {
	Schedules   []adminRecord `json:"schedules"`
	HasNextPage bool          `json:"has_next_page"`
}

func idsOf(recs []adminRecord) []string {
	out := []string{}
	for _, r := range recs {
		out = append(out, r.ID)
	}
	return out
}

func TestAdminListsAcrossAgentsWithFiltersAndPages(t *testing.T) {
	t.Parallel()
	e := setupAdmin(t, ticklertest.Config{})
	a1 := e.create("agent-1", oneTime("one", 1))
	b1 := e.create("agent-2", oneTime("two", 2))
	a2 := e.create("agent-1", `{"messages":[{"content":"cron","role":"user"}],"schedule":{"cron_expression":"0 9 * * *","type":"recurring"}}`)
	e.call(apiKey, "POST", "/v1/agents/agent-1/schedule/"+a2+"/pause", "", http.StatusOK, nil)

	var page adminList
	e.call(adminKey, "GET", "/admin/v1/schedules", "", http.StatusOK, &page)
	if got := idsOf(page.Schedules); strings.Join(got, ",") != strings.Join([]string{a1, b1, a2}, ",") || page.HasNextPage {
		t.Fatalf("list = %v next=%v", got, page.HasNextPage)
	}
	if r := page.Schedules[1]; r.AgentID != "agent-2" || r.Status != "scheduled" || r.NextScheduledTime == nil || r.Version != 1 || r.Last != nil {
		t.Fatalf("entry = %+v", r)
	}
	e.call(adminKey, "GET", "/admin/v1/schedules?limit=2", "", http.StatusOK, &page)
	if got := idsOf(page.Schedules); len(got) != 2 || !page.HasNextPage {
		t.Fatalf("first page = %v next=%v", got, page.HasNextPage)
	}
	e.call(adminKey, "GET", "/admin/v1/schedules?limit=2&after="+b1, "", http.StatusOK, &page)
	if got := idsOf(page.Schedules); len(got) != 1 || got[0] != a2 || page.HasNextPage {
		t.Fatalf("second page = %v next=%v", got, page.HasNextPage)
	}
	for query, want := range map[string][]string{
		"agent=agent-1":                               {a1, a2},
		"paused=true":                                 {a2},
		"paused=false&agent=agent-1":                  {a1},
		"failing=true":                                {},
		"due_before=2026-01-01T01:30:00Z":             {a1},
		"due_after=1767229200000":                     {b1}, // after 01:00, as Unix ms
		"due_after=2026-01-01T00:00:00Z&paused=false": {a1, b1},
		"due_before=2026-01-01T01:30:00.000%2B00:00&agent=agent-2": {},
	} {
		e.call(adminKey, "GET", "/admin/v1/schedules?"+query, "", http.StatusOK, &page)
		if got := idsOf(page.Schedules); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("?%s = %v, want %v", query, got, want)
		}
	}
	rec := e.serve(withKey(newRequest("GET", "/admin/v1/schedules?paused=maybe&due_after=soon&limit=x", ""), adminKey))
	if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), `"limit"`) {
		t.Fatalf("bad query: %d %s", rec.Code, rec.Body)
	}
	rec = e.serve(withKey(newRequest("GET", "/admin/v1/schedules?paused=maybe&due_after=soon", ""), adminKey))
	if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), `"paused"`) || !strings.Contains(rec.Body.String(), `"due_after"`) {
		t.Fatalf("bad filters: %d %s", rec.Code, rec.Body)
	}
}

func withKey(r *http.Request, key string) *http.Request {
	r.Header.Set("Authorization", "Bearer "+key)
	return r
}

func TestAdminKeyIsSeparateFromTheAPIKey(t *testing.T) {
	t.Parallel()
	e := setupAdmin(t, ticklertest.Config{})
	e.call(apiKey, "GET", "/admin/v1/counts", "", http.StatusUnauthorized, nil)
	e.call("", "GET", "/admin/v1/schedules", "", http.StatusUnauthorized, nil)
	e.call(adminKey, "GET", "/v1/agents/a/schedule", "", http.StatusUnauthorized, nil)
	e.call(adminKey, "GET", "/admin/v1/nothing", "", http.StatusNotFound, nil)
	// The page holds no data: it is served without a key, and asks for one.
	rec := e.serve(newRequest("GET", "/admin/", ""))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Header().Get("Content-Type"), "text/html") ||
		!strings.Contains(rec.Body.String(), "sessionStorage") || !strings.Contains(rec.Header().Get("Content-Security-Policy"), "script-src 'sha256-") {
		t.Fatalf("page: %d %v", rec.Code, rec.Header())
	}
	if rec := e.serve(newRequest("GET", "/admin", "")); rec.Code/100 != 3 || rec.Header().Get("Location") != "/admin/" {
		t.Fatalf("/admin: %d %v", rec.Code, rec.Header())
	}
}

func TestAdminWithoutKeyAnswersLoopbackOnly(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	h := httpapi.NewAdmin(b.Scheduler)
	for _, path := range []string{"/admin/", "/admin/v1/counts"} {
		r := httptest.NewRequest("GET", "http://evil.example"+path, nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != http.StatusForbidden {
			t.Fatalf("%s from another Host: %d", path, rec.Code)
		}
	}
	// A form of another site cannot change anything: it has no JSON type.
	r := httptest.NewRequest("POST", "http://localhost/admin/v1/schedules/x/pause", strings.NewReader("a=b"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusUnsupportedMediaType {
		t.Fatalf("form POST: %d %s", rec.Code, rec.Body)
	}
}

func TestAdminActsOnAScheduleByIDAlone(t *testing.T) {
	t.Parallel()
	e := setupAdmin(t, ticklertest.Config{})
	e.Recorder.SetFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		return tickler.Result{}, tickler.Permanent(errors.New("agent gone"))
	})
	id := e.create("agent-1", `{"messages":[{"content":"cron","role":"user"}],"schedule":{"cron_expression":"0 * * * *","type":"recurring"}}`)
	e.Advance(time.Hour) // fails for good

	var r adminRecord
	e.call(adminKey, "GET", "/admin/v1/schedules/"+id, "", http.StatusOK, &r)
	if r.AgentID != "agent-1" || r.Status != "failing" || r.Last == nil || r.Last.Status != "failed" || !strings.Contains(r.Last.Error, "agent gone") {
		t.Fatalf("get = %+v", r)
	}
	var page adminList
	e.call(adminKey, "GET", "/admin/v1/schedules?failing=true", "", http.StatusOK, &page)
	if len(page.Schedules) != 1 {
		t.Fatalf("failing = %v", idsOf(page.Schedules))
	}
	e.call(adminKey, "POST", "/admin/v1/schedules/"+id+"/pause", "", http.StatusOK, &r)
	if !r.Paused || r.Status != "paused" || r.NextScheduledTime != nil {
		t.Fatalf("paused = %+v", r)
	}
	r = adminRecord{}
	e.call(adminKey, "POST", "/admin/v1/schedules/"+id+"/resume", "{}", http.StatusOK, &r)
	if r.Paused || r.NextScheduledTime == nil {
		t.Fatalf("resumed = %+v", r)
	}
	var trig struct {
		IdempotencyKey string `json:"idempotency_key"`
	}
	e.call(adminKey, "POST", "/admin/v1/schedules/"+id+"/trigger", "", http.StatusOK, &trig)
	if !strings.HasPrefix(trig.IdempotencyKey, id+"@") {
		t.Fatalf("trigger key %q", trig.IdempotencyKey)
	}
	e.Settle()
	var deliveries struct {
		Deliveries []struct {
			AgentID            string `json:"agent_id"`
			ScheduledMessageID string `json:"scheduled_message_id"`
			Status             string `json:"status"`
			Triggered          bool   `json:"triggered"`
		} `json:"deliveries"`
		HasNextPage bool `json:"has_next_page"`
	}
	e.call(adminKey, "GET", "/admin/v1/deliveries?limit=1", "", http.StatusOK, &deliveries)
	if len(deliveries.Deliveries) != 1 || !deliveries.HasNextPage || !deliveries.Deliveries[0].Triggered || deliveries.Deliveries[0].AgentID != "agent-1" {
		t.Fatalf("deliveries = %+v", deliveries)
	}
	var hist struct {
		History []json.RawMessage `json:"history"`
	}
	e.call(adminKey, "GET", "/admin/v1/schedules/"+id+"/history", "", http.StatusOK, &hist)
	if len(hist.History) != 2 {
		t.Fatalf("history = %s", hist.History)
	}
	var counts tickler.Counts
	e.call(adminKey, "GET", "/admin/v1/counts", "", http.StatusOK, &counts)
	if counts.Total != 1 || counts.Agents != 1 {
		t.Fatalf("counts = %+v", counts)
	}
	e.call(adminKey, "DELETE", "/admin/v1/schedules/"+id, "", http.StatusOK, nil)
	e.call(adminKey, "GET", "/admin/v1/schedules/"+id, "", http.StatusNotFound, nil)
	e.call(adminKey, "POST", "/admin/v1/schedules/"+id+"/trigger", "", http.StatusNotFound, nil)
	e.call(adminKey, "PUT", "/admin/v1/schedules/"+id, "", http.StatusMethodNotAllowed, nil)
}

func TestAdminPagesAreBoundedInBytes(t *testing.T) {
	t.Parallel()
	e := setupAdmin(t, ticklertest.Config{}, httpapi.WithMaxPageBytes(100))
	e.create("agent-1", oneTime("one", 1))
	e.create("agent-1", oneTime("two", 2))
	var page adminList
	e.call(adminKey, "GET", "/admin/v1/schedules", "", http.StatusOK, &page)
	if len(page.Schedules) != 1 || !page.HasNextPage {
		t.Fatalf("a page over its byte bound holds %d, next=%v", len(page.Schedules), page.HasNextPage)
	}
}

// plainStore is a Store without the admin methods.
type plainStore struct{ tickler.Store }

func TestAdminOverAPlainStoreAnswers501(t *testing.T) {
	t.Parallel()
	e := setupAdmin(t, ticklertest.Config{Store: plainStore{memory.New()}})
	e.call(adminKey, "GET", "/admin/v1/schedules", "", http.StatusNotImplemented, nil)
	e.call(adminKey, "GET", "/admin/v1/counts", "", http.StatusNotImplemented, nil)
	e.call(adminKey, "GET", "/admin/v1/backup", "", http.StatusNotImplemented, nil)
}

func TestAdminBackupStreamsAConsistentBoltCopy(t *testing.T) {
	t.Parallel()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "live.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := setupAdmin(t, ticklertest.Config{Store: st}, httpapi.WithBackup(st))
	id := e.create("agent-1", oneTime("kept", 1))

	rec := e.serve(withKey(newRequest("GET", "/admin/v1/backup", ""), adminKey))
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("backup: %d %v", rec.Code, rec.Header())
	}
	copyPath := filepath.Join(t.TempDir(), "copy.db")
	if err := writeFile(copyPath, rec.Body); err != nil {
		t.Fatal(err)
	}
	cp, err := bolt.Open(copyPath)
	if err != nil {
		t.Fatalf("the copy does not open: %v", err)
	}
	defer cp.Close()
	if r, err := cp.Get(context.Background(), "agent-1", id); err != nil || r.Message.Messages[0].Content.Text != "kept" {
		t.Fatalf("the copy holds %+v, %v", r, err)
	}
}

func writeFile(path string, r io.Reader) error {
	var b bytes.Buffer
	if _, err := b.ReadFrom(r); err != nil {
		return err
	}
	return osWriteFile(path, b.Bytes())
}

var osWriteFile = func(path string, b []byte) error { return os.WriteFile(path, b, 0o600) }
