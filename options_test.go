package tickler_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/memory"
	"github.com/tickler-go/tickler/ticklertest"
)

func TestOutOfRangeOptionsAreErrorsFromNew(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		opt  tickler.Option
		name string
	}{
		{tickler.WithMaxSleep(0), "WithMaxSleep"},
		{tickler.WithLookahead(time.Microsecond), "WithLookahead"},
		{tickler.WithConcurrency(0), "WithConcurrency"},
		{tickler.WithAgentConcurrency(-1), "WithAgentConcurrency"},
		{tickler.WithHistoryLimit(-1), "WithHistoryLimit"},
		{tickler.WithMaxPageSize(0), "WithMaxPageSize"},
		{tickler.WithMaxMessages(-1), "WithMaxMessages"},
		{tickler.WithMaxScheduleBytes(-1), "WithMaxScheduleBytes"},
		{tickler.WithMaxSchedulesPerAgent(-1), "WithMaxSchedulesPerAgent"},
		{tickler.WithMaxBytesPerAgent(-1), "WithMaxBytesPerAgent"},
		{tickler.WithMinInterval(-time.Second), "WithMinInterval"},
		{tickler.WithMisfireGrace(-time.Second), "WithMisfireGrace"},
		{tickler.WithDeliveryTimeout(-time.Second), "WithDeliveryTimeout"},
		{tickler.WithMisfirePolicy(7), "WithMisfirePolicy"},
		{tickler.WithRetryPolicy(tickler.RetryPolicy{}), "WithRetryPolicy"},
		{tickler.WithClock(nil), "WithClock"},
		{tickler.WithLogger(nil), "WithLogger"},
	} {
		_, err := tickler.New(memory.New(), &ticklertest.Recorder{}, c.opt)
		if err == nil || !strings.Contains(err.Error(), c.name) {
			t.Errorf("New with a bad %s = %v, want an error naming it", c.name, err)
		}
	}
}

func TestInstantsBeyondTheRangeAreRejected(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	for _, ms := range []int64{tickler.MaxScheduledAt + 1, 10000000000000, -1} {
		ms := ms
		_, err := b.Scheduler.Create(ctx, "agent-1", tickler.CreateRequest{Messages: userText("x"),
			Schedule: tickler.Schedule{ScheduledAt: &ms, Type: tickler.OneTime}})
		var ve *tickler.ValidationError
		if !errors.As(err, &ve) || ve.Field != "schedule.scheduled_at" {
			t.Errorf("scheduled_at %d: %v, want a validation error on schedule.scheduled_at", ms, err)
		}
	}
	last := int64(tickler.MaxScheduledAt)
	if _, err := b.Scheduler.Create(ctx, "agent-1", tickler.CreateRequest{Messages: userText("x"),
		Schedule: tickler.Schedule{ScheduledAt: &last}}); err != nil {
		t.Fatalf("scheduled_at at the bound: %v", err)
	}
	page, err := b.Scheduler.List(ctx, "agent-1", "", 0)
	if err != nil || len(page.ScheduledMessages) != 1 || page.ScheduledMessages[0].NextScheduledTime.UnixMilli() != last {
		t.Fatalf("stored %+v, %v; want only the one at the bound, reading back as itself", page, err)
	}
	b.Advance(time.Hour)
	if n := len(b.Recorder.Deliveries()); n != 0 {
		t.Fatalf("a far-future schedule fired %d times", n)
	}
}

func TestBadAgentIDsAreRejected(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	for _, id := range []string{"", strings.Repeat("a", tickler.MaxAgentIDBytes+1), "a\xff\xfeb", ".", "..", "a/b", "a\nb"} {
		_, err := b.Scheduler.Create(ctx, id, tickler.CreateRequest{Messages: userText("x"), Schedule: tickler.Cron("* * * * *")})
		var ve *tickler.ValidationError
		if !errors.As(err, &ve) || ve.Field != "agent_id" {
			t.Errorf("agent id %q: %v, want a validation error on agent_id", id, err)
		}
	}
	if _, err := b.Scheduler.Create(ctx, strings.Repeat("a", tickler.MaxAgentIDBytes), tickler.CreateRequest{Messages: userText("x"), Schedule: tickler.Cron("* * * * *")}); err != nil {
		t.Fatalf("an agent id of %d bytes: %v", tickler.MaxAgentIDBytes, err)
	}
}
