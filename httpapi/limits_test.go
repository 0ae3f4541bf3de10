package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tickler-go/tickler"
)

// wantAgentLimit fails the test unless rec is the 422 of an agent at one
// of its limits: one value_error located at the path's agent_id.
func wantAgentLimit(t *testing.T, rec *httptest.ResponseRecorder, what string) {
	t.Helper()
	var p struct {
		Detail []struct {
			Loc  []any  `json:"loc"`
			Msg  string `json:"msg"`
			Type string `json:"type"`
		} `json:"detail"`
	}
	if rec.Code != http.StatusUnprocessableEntity || json.Unmarshal(rec.Body.Bytes(), &p) != nil || len(p.Detail) != 1 ||
		len(p.Detail[0].Loc) != 2 || p.Detail[0].Loc[0] != "path" || p.Detail[0].Loc[1] != "agent_id" || p.Detail[0].Type != "value_error" {
		t.Fatalf("%s past the bytes per agent: %d %s, want 422 on path agent_id", what, rec.Code, rec.Body)
	}
}

func TestBytesPerAgentRefusesCreateAndGrowingPatchAlike(t *testing.T) {
	t.Parallel()
	size, err := tickler.RecordSize(&tickler.Record{Message: tickler.MessageCreate{
		Messages: []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text("hi")}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	// Room for two messages of "hi" and 5 more bytes.
	e := setupWith(t, []tickler.Option{tickler.WithMaxBytesPerAgent(2*size + 5)})
	id := e.create("agent-1", oneTime("hi", 1))
	e.create("agent-1", oneTime("hi", 2))
	wantAgentLimit(t, e.do("POST", "/v1/agents/agent-1/schedule", oneTime("hi", 3)), "POST")

	path := "/v1/agents/agent-1/schedule/" + id
	wantAgentLimit(t, e.do("PATCH", path, `{"messages":[{"content":"hi123456","role":"user"}]}`), "a PATCH that grows")
	for _, text := range []string{"hi12345", "hi"} {
		if rec := e.do("PATCH", path, `{"messages":[{"content":"`+text+`","role":"user"}]}`); rec.Code != http.StatusOK {
			t.Fatalf("a PATCH to %q within the limit: %d %s", text, rec.Code, rec.Body)
		}
	}
}
