package logdeliver

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
)

func TestDeliverLogsTheOccurrenceAndSucceeds(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := New(slog.New(slog.NewJSONHandler(&buf, nil)))
	res, err := l.Deliver(context.Background(), &tickler.Delivery{
		ScheduledMessageID: "s1",
		AgentID:            "agent-1",
		Message: tickler.MessageCreate{Messages: []tickler.Message{
			{Role: tickler.RoleUser, Content: tickler.Text(strings.Repeat("é", 150))},
			{Role: tickler.RoleSystem, Content: tickler.Parts(tickler.TextPart("see"), tickler.ImagePart("image/png", "AAAA"))},
		}},
		Occurrence:     time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC),
		IdempotencyKey: "s1@1796115600000",
		Attempt:        2,
		Triggered:      true,
	})
	if err != nil || res.RunID != "" || res.Response != nil {
		t.Fatalf("Deliver = %+v, %v", res, err)
	}
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("log line %q: %v", buf.String(), err)
	}
	want := map[string]any{
		"level": "INFO", "msg": "tickler: delivery",
		"scheduled_message_id": "s1", "agent_id": "agent-1",
		"occurrence": "2026-12-01T09:00:00.000Z", "idempotency_key": "s1@1796115600000",
		"attempt": 2.0, "triggered": true, "messages": 2.0,
		"text": "user: " + strings.Repeat("é", 100) + "… | system: see [image]",
	}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("%s = %v, want %v", k, rec[k], v)
		}
	}
}

func TestNilLoggerUsesTheDefault(t *testing.T) {
	t.Parallel()
	if New(nil).log != slog.Default() {
		t.Error("New(nil) does not log to slog.Default")
	}
}
