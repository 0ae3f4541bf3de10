package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
)

func TestPauseResumeAndUpdateExtensions(t *testing.T) {
	t.Parallel()
	e := setup(t)
	id := e.create("agent-1", `{"messages":[{"content":"hi","role":"user"}],"schedule":{"cron_expression":"0 * * * *","type":"recurring"}}`)
	base := "/v1/agents/agent-1/schedule/" + id

	rec := e.do("POST", base+"/pause", "")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"next_scheduled_time":null`) || !strings.Contains(rec.Body.String(), `"paused":true`) {
		t.Fatalf("pause: %d %s", rec.Code, rec.Body)
	}
	e.Advance(3 * time.Hour)
	if n := len(e.Recorder.Deliveries()); n != 0 {
		t.Fatalf("a paused schedule delivered %d times", n)
	}
	rec = e.do("POST", base+"/resume", "{}")
	if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), `"paused"`) {
		t.Fatalf("resume: %d %s", rec.Code, rec.Body)
	}

	rec = e.do("PATCH", base, `{"messages":[{"content":"new","role":"system"}],"schedule":{"cron_expression":"30 * * * *","type":"recurring"},"max_steps":2.0}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("update: %d %s", rec.Code, rec.Body)
	}
	var sm tickler.ScheduledMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &sm); err != nil {
		t.Fatal(err)
	}
	if sm.ID != id || sm.Schedule.CronExpression != "30 * * * *" || sm.Message.Messages[0].Content.Text != "new" || *sm.Message.MaxSteps != 2 {
		t.Fatalf("updated = %+v", sm)
	}

	for _, c := range []struct {
		method, path, body string
		status             int
		detail             string
	}{
		{"PATCH", base, `{"messages":[{"content":"x","role":"robot"}]}`, http.StatusUnprocessableEntity, `"role"`},
		{"PATCH", base, `{"colour":"red"}`, http.StatusUnprocessableEntity, `"colour"`},
		{"PATCH", base, `{"schedule":{"scheduled_at":1000}}`, http.StatusBadRequest, "scheduled_at"},
		{"PATCH", "/v1/agents/agent-2/schedule/" + id, `{"max_steps":3}`, http.StatusNotFound, "not found"},
		{"POST", "/v1/agents/agent-2/schedule/" + id + "/pause", "", http.StatusNotFound, "not found"},
		{"GET", base + "/pause", "", http.StatusMethodNotAllowed, "Method Not Allowed"},
	} {
		rec := e.do(c.method, c.path, c.body)
		if rec.Code != c.status || !strings.Contains(rec.Body.String(), c.detail) {
			t.Errorf("%s %s %s: %d %s, want %d naming %s", c.method, c.path, c.body, rec.Code, rec.Body, c.status, c.detail)
		}
	}
	if rec := e.do("PATCH", base, "x=1"); rec.Code != http.StatusUnprocessableEntity {
		// sent as JSON with a body that is not JSON
		t.Errorf("PATCH with a non-JSON body: %d", rec.Code)
	}
}

// A cross-site HTML form can POST without a preflight, but only as
// text/plain, form-urlencoded or multipart: none of them may pause or
// resume, with or without a body, exactly as none of them may delete.
func TestPauseResumeAndDeleteRefuseNonJSONContentTypes(t *testing.T) {
	t.Parallel()
	e := setup(t)
	id := e.create("agent-1", `{"messages":[{"content":"hi","role":"user"}],"schedule":{"cron_expression":"0 * * * *","type":"recurring"}}`)
	base := "/v1/agents/agent-1/schedule/" + id
	for _, route := range []struct{ method, path string }{{"POST", base + "/pause"}, {"POST", base + "/resume"}, {"DELETE", base}} {
		for _, tc := range []struct{ contentType, body string }{
			{"text/plain", "{}"},
			{"text/plain", ""},
			{"application/x-www-form-urlencoded", "a=b"},
			{"application/x-www-form-urlencoded", ""},
			{"multipart/form-data; boundary=x", ""},
			{"", "{}"}, // a body says what it is
		} {
			r := newRequest(route.method, route.path, "")
			r.Body = io.NopCloser(strings.NewReader(tc.body))
			r.ContentLength = int64(len(tc.body))
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			want(t, e.serve(r), http.StatusUnsupportedMediaType, `{"detail":"Content-Type must be application/json"}`)
		}
	}
	rec := e.do("GET", base, "")
	if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), `"paused"`) {
		t.Fatalf("a refused request changed the schedule: %d %s", rec.Code, rec.Body)
	}
}
