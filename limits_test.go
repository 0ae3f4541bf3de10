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

func TestSchedulesPerAgentLimit(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t, tickler.WithMaxSchedulesPerAgent(3))
	var ids []string
	for range 3 {
		ids = append(ids, b.Create("agent-1", "x", tickler.Cron("0 * * * *")).ID)
	}
	_, err := b.Scheduler.Create(ctx, "agent-1", tickler.CreateRequest{Messages: userText("x"), Schedule: tickler.Cron("0 * * * *")})
	var ve *tickler.ValidationError
	if !errors.Is(err, tickler.ErrLimitExceeded) || !errors.As(err, &ve) || ve.Field != "agent_id" {
		t.Fatalf("fourth create = %v, want ErrLimitExceeded on agent_id", err)
	}
	b.Create("agent-2", "other agents are not counted", tickler.Cron("0 * * * *"))
	if err := b.Scheduler.Delete(ctx, "agent-1", ids[0]); err != nil {
		t.Fatal(err)
	}
	b.Create("agent-1", "room again", tickler.Cron("0 * * * *"))
}

func TestSchedulesPerAgentLimitHoldsUnderConcurrentCreates(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t, tickler.WithMaxSchedulesPerAgent(5))
	errs := make(chan error, 20)
	for range 20 {
		go func() {
			_, err := b.Scheduler.Create(ctx, "agent-1", tickler.CreateRequest{Messages: userText("x"), Schedule: tickler.Cron("0 * * * *")})
			errs <- err
		}()
	}
	ok := 0
	for range 20 {
		if err := waitOrTimeout(t, errs, b.WaitTimeout(), "a concurrent Create"); err == nil {
			ok++
		} else if !errors.Is(err, tickler.ErrLimitExceeded) {
			t.Fatal(err)
		}
	}
	if ok != 5 {
		t.Fatalf("%d concurrent creates succeeded under a limit of 5", ok)
	}
}

func TestBytesPerAgentLimit(t *testing.T) {
	t.Parallel()
	// "x" on the hour costs the same bytes each time: the limit fits two.
	req := tickler.CreateRequest{Messages: userText("x"), Schedule: tickler.Cron("0 * * * *")}
	probe := ticklertest.New(t)
	first := probe.Create("agent-1", "x", tickler.Cron("0 * * * *"))
	size, err := tickler.RecordSize(&tickler.Record{Message: first.Message})
	if err != nil {
		t.Fatal(err)
	}
	b := ticklertest.New(t, tickler.WithMaxBytesPerAgent(2*size+size/2))
	var ids []string
	for range 2 {
		ids = append(ids, b.Create("agent-1", "x", tickler.Cron("0 * * * *")).ID)
	}
	_, err = b.Scheduler.Create(ctx, "agent-1", req)
	var ve *tickler.ValidationError
	if !errors.Is(err, tickler.ErrLimitExceeded) || !errors.As(err, &ve) || ve.Field != "agent_id" {
		t.Fatalf("third create = %v, want ErrLimitExceeded on agent_id", err)
	}
	if _, err := b.Scheduler.CreateMany(ctx, "agent-2", []tickler.CreateRequest{req, req, req}); !errors.Is(err, tickler.ErrLimitExceeded) || !errors.As(err, &ve) || ve.Field != "agent_id" {
		t.Fatalf("CreateMany past the limit = %v, want ErrLimitExceeded on agent_id", err)
	}
	b.Create("agent-2", "x", tickler.Cron("0 * * * *"))
	if err := b.Scheduler.Delete(ctx, "agent-1", ids[0]); err != nil {
		t.Fatal(err)
	}
	b.Create("agent-1", "x", tickler.Cron("0 * * * *"))
}

func TestUpdateThatGrowsPastBytesPerAgentIsRefused(t *testing.T) {
	t.Parallel()
	probe := ticklertest.New(t)
	first := probe.Create("agent-1", "x", tickler.Cron("0 * * * *"))
	size, err := tickler.RecordSize(&tickler.Record{Message: first.Message})
	if err != nil {
		t.Fatal(err)
	}
	// Two messages of "x" fit, with room for 5 more bytes.
	b := ticklertest.New(t, tickler.WithMaxBytesPerAgent(2*size+5))
	sm := b.Create("agent-1", "x", tickler.Cron("0 * * * *"))
	b.Create("agent-1", "x", tickler.Cron("0 * * * *"))

	_, err = b.Scheduler.Update(ctx, "agent-1", sm.ID, tickler.UpdateRequest{Messages: userText("x123456")})
	var ve *tickler.ValidationError
	if !errors.Is(err, tickler.ErrLimitExceeded) || !errors.As(err, &ve) || ve.Field != "agent_id" {
		t.Fatalf("Update growing past the limit = %v, want ErrLimitExceeded on agent_id", err)
	}
	if got, err := b.Scheduler.Get(ctx, "agent-1", sm.ID); err != nil || got.Message.Messages[0].Content.Text != "x" {
		t.Fatalf("a refused Update changed the message: %+v, %v", got, err)
	}
	// Growth within the limit, and shrinking, apply; so do pause and resume.
	for _, text := range []string{"x12345", "x"} {
		if _, err := b.Scheduler.Update(ctx, "agent-1", sm.ID, tickler.UpdateRequest{Messages: userText(text)}); err != nil {
			t.Fatalf("Update to %q within the limit: %v", text, err)
		}
	}
	if _, err := b.Scheduler.Pause(ctx, "agent-1", sm.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Scheduler.Resume(ctx, "agent-1", sm.ID); err != nil {
		t.Fatal(err)
	}
}
