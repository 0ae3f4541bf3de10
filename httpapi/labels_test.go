package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

// Letta's newer schedule fields: name, description and conversation_id
// on create, returned with created_at.

func TestLabelsRoundTripAndAbsentStaysAbsent(t *testing.T) {
	t.Parallel()
	e := setup(t)
	id := e.create("agent-1", `{"messages":[{"content":"hi","role":"user"}],"schedule":{"scheduled_at":1767229200000},`+
		`"name":"standup","description":"the daily \"stand-up\"","conversation_id":"conv-1"}`)
	want(t, e.do("GET", "/v1/agents/agent-1/schedule/"+id, ""), http.StatusOK,
		`{"id":"`+id+`","agent_id":"agent-1","name":"standup","description":"the daily \"stand-up\"","conversation_id":"conv-1",`+
			`"message":{"messages":[{"content":"hi","role":"user"}]},`+
			`"next_scheduled_time":"2026-01-01T01:00:00.000Z","schedule":{"scheduled_at":1767229200000},"created_at":"2026-01-01T00:00:00.000Z"}`)

	// PATCH changes one and keeps the others; "" removes one.
	base := "/v1/agents/agent-1/schedule/" + id
	if rec := e.do("PATCH", base, `{"name":"renamed","conversation_id":""}`); rec.Code != http.StatusOK {
		t.Fatalf("PATCH: %d %s", rec.Code, rec.Body)
	}
	want(t, e.do("GET", base, ""), http.StatusOK,
		`{"id":"`+id+`","agent_id":"agent-1","name":"renamed","description":"the daily \"stand-up\"",`+
			`"message":{"messages":[{"content":"hi","role":"user"}]},`+
			`"next_scheduled_time":"2026-01-01T01:00:00.000Z","schedule":{"scheduled_at":1767229200000},"created_at":"2026-01-01T00:00:00.000Z"}`)
}

func TestLabelsAreCheckedNamingTheField(t *testing.T) {
	t.Parallel()
	e := setup(t)
	body := func(extra string) string {
		return `{"messages":[{"content":"hi","role":"user"}],"schedule":{"scheduled_at":1767229200000},` + extra + `}`
	}
	for _, tc := range []struct{ extra, loc string }{
		{`"name":"` + strings.Repeat("n", 257) + `"`, `["body","name"]`},
		{`"description":"` + strings.Repeat("d", 4097) + `"`, `["body","description"]`},
		{`"conversation_id":"../admin"`, `["body","conversation_id"]`},
		{`"name":7`, `["body","name"]`},
		{`"labels":{}`, `["body","labels"]`}, // unknown fields are still refused
	} {
		rec := e.do("POST", "/v1/agents/agent-1/schedule", body(tc.extra))
		if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), `"loc":`+tc.loc) {
			t.Errorf("%.40s: %d %s, want 422 at %s", tc.extra, rec.Code, rec.Body, tc.loc)
		}
	}
	if rec := e.do("GET", "/v1/agents/agent-1/schedule", ""); !strings.Contains(rec.Body.String(), `"scheduled_messages":[]`) {
		t.Fatalf("a refused create was stored: %s", rec.Body)
	}
}
