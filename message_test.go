package tickler_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
)

// compact normalises JSON whitespace.
func compact(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestCreateRequestRoundTripsExactly(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		`{"messages":[{"content":"hello","role":"user"}],"schedule":{"scheduled_at":1786140000000}}`,
		`{"messages":[{"content":"hello","role":"user"}],"schedule":{"scheduled_at":1786140000000,"type":"one-time"}}`,
		`{"messages":[{"content":[{"text":"look","signature":"sig","type":"text"},{"source":{"data":"aGk=","media_type":"image/png","detail":"low","type":"base64"},"type":"image"}],"role":"user","name":"n","otid":"o","sender_id":"s","type":"message"}],"schedule":{"cron_expression":"0 9 * * 1-5","type":"recurring"},"callback_url":"https://example.com/cb","include_return_message_types":["assistant_message"],"max_steps":3}`,
		`{"messages":[{"content":[{"text":"bare part"}],"role":"system"}],"schedule":{"cron_expression":"* * * * *","type":"recurring"},"include_return_message_types":[]}`,
		`{"messages":[{"content":"hello","role":"user"}],"schedule":{"scheduled_at":1786140000000},"name":"n","description":"d","conversation_id":"conv-1"}`,
		`{"messages":[{"content":"if a < b && c > d","role":"user"},{"content":[{"text":"<b>bold</b> & co"}],"role":"user"}],"schedule":{"scheduled_at":1786140000000}}`,
	} {
		var req tickler.CreateRequest
		if err := json.Unmarshal([]byte(in), &req); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf) // as the HTTP handler encodes
		enc.SetEscapeHTML(false)
		if err := enc.Encode(req); err != nil {
			t.Fatal(err)
		}
		if out := bytes.TrimSpace(buf.Bytes()); string(out) != in {
			t.Errorf("round trip changed the JSON:\n in  %s\n out %s", in, out)
		}
	}
}

func TestScheduledMessageJSONShape(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 8, 7, 22, 0, 0, 0, time.UTC)
	created := at.Add(-time.Hour)
	sm := tickler.ScheduledMessage{
		ID:                "id-1",
		AgentID:           "agent-1",
		Message:           tickler.MessageCreate{Messages: []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text("hi")}}},
		Schedule:          tickler.At(at),
		NextScheduledTime: at,
		CreatedAt:         created,
	}
	got, _ := json.Marshal(sm)
	want := compact(t, `{"id":"id-1","agent_id":"agent-1","message":{"messages":[{"content":"hi","role":"user"}]},
		"next_scheduled_time":"2026-08-07T22:00:00.000Z","schedule":{"scheduled_at":1786140000000,"type":"one-time"},
		"created_at":"2026-08-07T21:00:00.000Z"}`)
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	var back tickler.ScheduledMessage
	if err := json.Unmarshal(got, &back); err != nil || !back.NextScheduledTime.Equal(at) || !back.CreatedAt.Equal(created) {
		t.Fatalf("decode: %+v, %v", back, err)
	}

	labelled := sm
	labelled.Name, labelled.Description, labelled.ConversationID = "standup", "every weekday", "conv-1"
	got, _ = json.Marshal(labelled)
	want = compact(t, `{"id":"id-1","agent_id":"agent-1","name":"standup","description":"every weekday","conversation_id":"conv-1",
		"message":{"messages":[{"content":"hi","role":"user"}]},
		"next_scheduled_time":"2026-08-07T22:00:00.000Z","schedule":{"scheduled_at":1786140000000,"type":"one-time"},
		"created_at":"2026-08-07T21:00:00.000Z"}`)
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	back = tickler.ScheduledMessage{}
	if err := json.Unmarshal(got, &back); err != nil || back.Name != "standup" || back.Description != "every weekday" || back.ConversationID != "conv-1" {
		t.Fatalf("decode: %+v, %v", back, err)
	}

	sm.NextScheduledTime = time.Time{}
	got, _ = json.Marshal(sm)
	if !bytes.Contains(got, []byte(`"next_scheduled_time":null`)) {
		t.Fatalf("a missing next time must be null: %s", got)
	}
}

func TestDecodingRejectsBadNumbersNamingTheField(t *testing.T) {
	t.Parallel()
	for in, field := range map[string]string{
		`{"messages":[],"schedule":{"scheduled_at":1.5}}`:                             "schedule.scheduled_at",
		`{"messages":[],"schedule":{"scheduled_at":"soon"}}`:                          "schedule.scheduled_at",
		`{"messages":[],"schedule":{"scheduled_at":1786140000000},"max_steps":2.5}`:   "max_steps",
		`{"messages":[],"schedule":{"scheduled_at":1786140000000},"max_steps":"ten"}`: "max_steps",
	} {
		var req tickler.CreateRequest
		err := json.Unmarshal([]byte(in), &req)
		var ve *tickler.ValidationError
		if !errors.As(err, &ve) || ve.Field != field {
			t.Errorf("%s: err = %v, want a ValidationError on %s", in, err, field)
		}
	}
	var req tickler.CreateRequest
	if err := json.Unmarshal([]byte(`{"messages":[],"schedule":{"scheduled_at":1.7861400e12},"max_steps":5.0}`), &req); err != nil {
		t.Fatalf("whole numbers written as floats must decode: %v", err)
	}
	if *req.Schedule.ScheduledAt != 1786140000000 || *req.MaxSteps != 5 {
		t.Fatalf("decoded %+v", req)
	}
	if err := json.Unmarshal([]byte(`{"messages":[{"content":5,"role":"user"}]}`), &req); err == nil {
		t.Fatal("a numeric content decoded")
	}
}
