package tickler_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/ticklertest"
)

func TestLimitsAreClearErrors(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t, tickler.WithMaxMessages(2), tickler.WithMaxScheduleBytes(200), tickler.WithMinInterval(time.Hour))
	future := tickler.At(ticklertest.Epoch().Add(time.Hour))
	three := append(userText("a"), append(userText("b"), userText("c")...)...)
	big := userText(string(make([]byte, 300)))
	cases := []struct {
		name  string
		req   tickler.CreateRequest
		field string
	}{
		{"too many messages", tickler.CreateRequest{Messages: three, Schedule: future}, "messages"},
		{"too many bytes", tickler.CreateRequest{Messages: big, Schedule: future}, "messages"},
		{"too frequent", tickler.CreateRequest{Messages: userText("x"), Schedule: tickler.Cron("*/30 * * * *")}, "schedule.cron_expression"},
		{"too frequent sometimes", tickler.CreateRequest{Messages: userText("x"), Schedule: tickler.Cron("0,5 9 * * *")}, "schedule.cron_expression"},
	}
	for _, c := range cases {
		_, err := b.Scheduler.Create(ctx, "agent-1", c.req)
		var ve *tickler.ValidationError
		if !errors.Is(err, tickler.ErrLimitExceeded) || !errors.As(err, &ve) || ve.Field != c.field {
			t.Errorf("%s: err = %v, want ErrLimitExceeded on %s", c.name, err, c.field)
		}
	}
	b.Create("agent-1", "hourly is fine", tickler.Cron("0 * * * *"))
	page, _ := b.Scheduler.List(ctx, "agent-1", "", 0)
	if len(page.ScheduledMessages) != 1 {
		t.Fatalf("stored %d schedules, want only the valid one", len(page.ScheduledMessages))
	}
}
