package logdeliver_test

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/deliver/logdeliver"
)

func Example() {
	// A text handler without the time, so that the output is stable.
	h := slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey && len(groups) == 0 {
			return slog.Attr{}
		}
		return a
	}})
	d := logdeliver.New(slog.New(h))
	occ := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	_, _ = d.Deliver(context.Background(), &tickler.Delivery{
		ScheduledMessageID: "0193a1b2",
		AgentID:            "agent-1",
		Message:            tickler.MessageCreate{Messages: []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text("Good morning")}}},
		Occurrence:         occ,
		IdempotencyKey:     tickler.IdempotencyKey("0193a1b2", occ),
		Attempt:            1,
	})
	// Output:
	// level=INFO msg="tickler: delivery" scheduled_message_id=0193a1b2 agent_id=agent-1 occurrence=2026-12-01T09:00:00.000Z idempotency_key=0193a1b2@1796115600000 attempt=1 triggered=false messages=1 text="user: Good morning"
}
