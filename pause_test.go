package tickler_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/ticklertest"
)

func TestPausedScheduleMissesSilentlyAndResumeAppliesMisfirePolicy(t *testing.T) {
	t.Parallel()
	for _, policy := range []tickler.MisfirePolicy{tickler.MisfireFireOnce, tickler.MisfireSkip} {
		var log eventLog
		b := ticklertest.New(t, tickler.WithMisfirePolicy(policy), tickler.WithEventHandler(log.add))
		sm := b.Create("agent-1", "hourly", tickler.Cron("0 * * * *"))
		b.Advance(time.Hour + 10*time.Minute) // 01:00 fires
		p, err := b.Scheduler.Pause(ctx, "agent-1", sm.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Paused || !p.NextScheduledTime.IsZero() {
			t.Fatalf("paused message = %+v", p)
		}
		js, _ := json.Marshal(p)
		if !strings.Contains(string(js), `"paused":true`) || !strings.Contains(string(js), `"next_scheduled_time":null`) {
			t.Fatalf("paused JSON = %s", js)
		}
		b.Advance(4 * time.Hour) // 02:00 to 05:00 pass while paused
		if n := len(b.Recorder.Deliveries()); n != 1 || len(log.of(tickler.EventSkipped)) != 0 {
			t.Fatalf("while paused: %d deliveries, %d skips; want 1 and none", n, len(log.of(tickler.EventSkipped)))
		}

		r, err := b.Scheduler.Resume(ctx, "agent-1", sm.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.Paused {
			t.Fatal("still paused after Resume")
		}
		b.Settle()
		got := b.Recorder.Deliveries()
		switch policy {
		case tickler.MisfireFireOnce:
			if len(got) != 2 || !got[1].Occurrence.Equal(ticklertest.Epoch().Add(2*time.Hour)) {
				t.Fatalf("fire-once resume delivered %v, want one collapsed 02:00", occurrences(got))
			}
		case tickler.MisfireSkip:
			if len(got) != 1 || len(log.of(tickler.EventSkipped)) != 1 {
				t.Fatalf("skip resume: %d deliveries, %d skips; want 1 and 1", len(got), len(log.of(tickler.EventSkipped)))
			}
		}
		cur, _ := b.Scheduler.Get(ctx, "agent-1", sm.ID)
		if want := ticklertest.Epoch().Add(6 * time.Hour); !cur.NextScheduledTime.Equal(want) {
			t.Fatalf("next after resume = %v, want %v", cur.NextScheduledTime, want)
		}
		b.Advance(time.Hour)
		if n := len(b.Recorder.Deliveries()); n != len(got)+1 {
			t.Fatalf("after resume the 06:00 occurrence did not fire: %d deliveries", n)
		}
	}
}

func TestPauseAndResumeAreIdempotentAndChecked(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	sm := b.Create("agent-1", "x", tickler.At(ticklertest.Epoch().Add(time.Hour)))
	if _, err := b.Scheduler.Resume(ctx, "agent-1", sm.ID); err != nil {
		t.Fatalf("resuming a running message: %v", err)
	}
	for range 2 {
		if _, err := b.Scheduler.Pause(ctx, "agent-1", sm.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Scheduler.Pause(ctx, "agent-2", sm.ID); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("pause by another agent: %v", err)
	}
	b.Advance(2 * time.Hour)
	if n := len(b.Recorder.Deliveries()); n != 0 {
		t.Fatalf("a paused one-time message fired %d times", n)
	}
	// Resumed after its instant, a one-time message is overdue: it fires
	// once, with its key.
	if _, err := b.Scheduler.Resume(ctx, "agent-1", sm.ID); err != nil {
		t.Fatal(err)
	}
	b.Settle()
	got := b.Recorder.Deliveries()
	if len(got) != 1 || got[0].IdempotencyKey != tickler.IdempotencyKey(sm.ID, ticklertest.Epoch().Add(time.Hour)) {
		t.Fatalf("after resume: %+v", got)
	}
}

func TestUpdateInPlaceKeepsTheID(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	sm := b.Create("agent-1", "old text", tickler.Cron("0 * * * *"))
	b.Advance(time.Hour) // 01:00 with the old text

	newSched := tickler.Cron("30 * * * *")
	steps := 4
	up, err := b.Scheduler.Update(ctx, "agent-1", sm.ID, tickler.UpdateRequest{
		Messages: userText("new text"), Schedule: &newSched, MaxSteps: &steps,
	})
	if err != nil {
		t.Fatal(err)
	}
	if up.ID != sm.ID || !up.NextScheduledTime.Equal(ticklertest.Epoch().Add(90*time.Minute)) || *up.Message.MaxSteps != 4 {
		t.Fatalf("updated = %+v", up)
	}
	b.Advance(time.Hour)
	var got []string
	for _, d := range b.Recorder.Deliveries() {
		got = append(got, d.Occurrence.Format("15:04")+" "+d.Message.Messages[0].Content.Text)
	}
	if want := []string{"01:00 old text", "01:30 new text"}; !slices.Equal(got, want) {
		t.Fatalf("deliveries = %v, want %v", got, want)
	}

	// Invalid updates name the field and change nothing.
	bad := tickler.At(ticklertest.Epoch())
	for _, req := range []tickler.UpdateRequest{
		{Messages: []tickler.Message{}},
		{Messages: []tickler.Message{{Role: "robot", Content: tickler.Text("x")}}},
		{Schedule: &bad},
	} {
		var ve *tickler.ValidationError
		if _, err := b.Scheduler.Update(ctx, "agent-1", sm.ID, req); !errors.As(err, &ve) {
			t.Fatalf("invalid update %+v: %v", req, err)
		}
	}
	cur, _ := b.Scheduler.Get(ctx, "agent-1", sm.ID)
	if cur.Message.Messages[0].Content.Text != "new text" || cur.Schedule.CronExpression != "30 * * * *" {
		t.Fatalf("an invalid update changed the message: %+v", cur)
	}
	if _, err := b.Scheduler.Update(ctx, "agent-2", sm.ID, tickler.UpdateRequest{Messages: userText("x")}); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("update by another agent: %v", err)
	}
}

func TestUpdateDuringDeliveryFiresTheNewSchedule(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	release := make(chan struct{})
	b.Recorder.SetFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		if d.Message.Messages[0].Content.Text == "slow" {
			<-release
		}
		return tickler.Result{}, nil
	})
	calls := b.Recorder.Calls()
	sm := b.Create("agent-1", "slow", tickler.At(ticklertest.Epoch().Add(time.Minute)))
	b.Clock.Add(time.Minute)
	<-calls
	later := tickler.At(ticklertest.Epoch().Add(time.Hour))
	if _, err := b.Scheduler.Update(ctx, "agent-1", sm.ID, tickler.UpdateRequest{Messages: userText("fast"), Schedule: &later}); err != nil {
		t.Fatal(err)
	}
	close(release)
	go func() {
		for range calls {
		}
	}()
	b.Settle()
	b.AdvanceTo(ticklertest.Epoch().Add(time.Hour))
	var got []string
	for _, d := range b.Recorder.Deliveries() {
		got = append(got, d.Occurrence.Format("15:04")+" "+d.Message.Messages[0].Content.Text)
	}
	if want := []string{"00:01 slow", "01:00 fast"}; !slices.Equal(got, want) {
		t.Fatalf("deliveries = %v, want %v", got, want)
	}
	if _, err := b.Scheduler.Get(ctx, "agent-1", sm.ID); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("the updated one-time message was not removed after firing: %v", err)
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
		if err := <-errs; err == nil {
			ok++
		} else if !errors.Is(err, tickler.ErrLimitExceeded) {
			t.Fatal(err)
		}
	}
	if ok != 5 {
		t.Fatalf("%d concurrent creates succeeded under a limit of 5", ok)
	}
}
