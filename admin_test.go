package tickler_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/memory"
	"github.com/tickler-go/tickler/ticklertest"
)

func TestAdminMethodsNeedAnAdminStore(t *testing.T) {
	t.Parallel()
	b := ticklertest.NewWith(t, ticklertest.Config{Store: plainStore{memory.New()}})
	if _, err := b.Scheduler.ListAll(ctx, tickler.ListAllParams{}); !errors.Is(err, tickler.ErrUnsupported) {
		t.Fatalf("ListAll over a plain Store = %v, want ErrUnsupported", err)
	}
	if _, err := b.Scheduler.RecentOutcomes(ctx, tickler.RecentParams{}); !errors.Is(err, tickler.ErrUnsupported) {
		t.Fatalf("RecentOutcomes over a plain Store = %v, want ErrUnsupported", err)
	}
	if _, err := b.Scheduler.Counts(ctx); !errors.Is(err, tickler.ErrUnsupported) {
		t.Fatalf("Counts over a plain Store = %v, want ErrUnsupported", err)
	}
	// Inspect needs only a Store.
	sm := b.Create("agent-1", "hi", tickler.Cron("0 * * * *"))
	if a, err := b.Scheduler.Inspect(ctx, sm.ID); err != nil || a.Record.AgentID != "agent-1" || a.Last != nil {
		t.Fatalf("Inspect = %+v, %v", a, err)
	}
}

func TestAdminAddressesAScheduleByIDAlone(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	b.Recorder.SetFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		return tickler.Result{}, tickler.Permanent(errors.New("agent gone"))
	})
	sm := b.Create("agent-1", "hourly", tickler.Cron("0 * * * *"))
	other := b.Create("agent-2", "daily", tickler.Cron("0 9 * * *"))
	b.Advance(time.Hour) // 01:00 fails for good

	a, err := b.Scheduler.Inspect(ctx, sm.ID)
	if err != nil || a.Last == nil || a.Last.Status != tickler.StatusFailed || a.Status() != tickler.StatusFailing {
		t.Fatalf("Inspect after a failure = %+v last %+v, %v", a.Record, a.Last, err)
	}
	// An empty agent id matches any agent.
	if p, err := b.Scheduler.Pause(ctx, "", sm.ID); err != nil || !p.Paused || p.AgentID != "agent-1" {
		t.Fatalf("Pause by id alone = %+v, %v", p, err)
	}
	yes := true
	page, err := b.Scheduler.ListAll(ctx, tickler.ListAllParams{Paused: &yes})
	if err != nil || len(page.Records) != 1 || page.Records[0].Record.ID != sm.ID || page.Records[0].Status() != tickler.StatusPaused {
		t.Fatalf("ListAll paused = %+v, %v", page, err)
	}
	if _, err := b.Scheduler.Resume(ctx, "", sm.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Scheduler.Trigger(ctx, "", other.ID); err != nil {
		t.Fatal(err)
	}
	b.Settle()
	recent, err := b.Scheduler.RecentOutcomes(ctx, tickler.RecentParams{})
	if err != nil || len(recent.Outcomes) < 2 {
		t.Fatalf("RecentOutcomes = %+v, %v", recent, err)
	}
	if o := recent.Outcomes[0]; o.ScheduledMessageID != other.ID || !o.Triggered || o.AgentID != "agent-2" {
		t.Fatalf("newest outcome = %+v, want agent-2's triggered delivery", o)
	}
	c, err := b.Scheduler.Counts(ctx)
	if err != nil || c.Total != 2 || c.Agents != 2 || c.Failing+c.Scheduled != 2 {
		t.Fatalf("Counts = %+v, %v", c, err)
	}
	if err := b.Scheduler.Delete(ctx, "", sm.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Scheduler.Inspect(ctx, sm.ID); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("Inspect after Delete = %v, want ErrNotFound", err)
	}
}

func TestListAllLimitFollowsListRules(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t, tickler.WithMaxPageSize(2))
	for range 3 {
		b.Create("agent-1", "x", tickler.Cron("0 * * * *"))
	}
	page, err := b.Scheduler.ListAll(ctx, tickler.ListAllParams{Limit: 50})
	if err != nil || len(page.Records) != 2 || !page.More {
		t.Fatalf("ListAll limit 50 with a page bound of 2 = %d records More=%v, %v", len(page.Records), page.More, err)
	}
	var ve *tickler.ValidationError
	if _, err := b.Scheduler.ListAll(ctx, tickler.ListAllParams{Limit: -1}); !errors.As(err, &ve) || ve.Field != "limit" {
		t.Fatalf("ListAll limit -1 = %v", err)
	}
}

func TestRecordJSONRoundTripsEveryField(t *testing.T) {
	t.Parallel()
	at := ticklertest.Epoch().Add(time.Hour).UnixMilli()
	r := tickler.Record{
		ID: "0193d1c2-7a3b-7c4d-8e5f-0123456789ab", AgentID: "agent-1",
		Message:  tickler.MessageCreate{Messages: userText("hi"), CallbackURL: "https://example.com/cb"},
		Schedule: tickler.Schedule{ScheduledAt: &at, Type: tickler.OneTime},
		Retry:    &tickler.RetryPolicy{MaxAttempts: 3, Base: time.Second},
		Next:     time.UnixMilli(at).UTC(), PausedAt: ticklertest.Epoch().Add(123456789 * time.Nanosecond),
		Version: 7, Name: "n", Description: "d", ConversationID: "c",
	}
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got tickler.Record
	if err := json.Unmarshal(js, &got); err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(got)
	if string(again) != string(js) || !got.PausedAt.Equal(r.PausedAt) || got.Version != 7 || *got.Retry != *r.Retry {
		t.Fatalf("round trip:\n%s\n%s", js, again)
	}
	for _, field := range []string{`"agent_id":"agent-1"`, `"paused":true`, `"version":7`, `"created_at":`} {
		if !strings.Contains(string(js), field) {
			t.Fatalf("record JSON %s lacks %s", js, field)
		}
	}
}
