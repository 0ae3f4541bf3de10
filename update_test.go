package tickler_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/ticklertest"
)

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
	release := b.Hold(nil)
	sm := b.Create("agent-1", "slow", tickler.At(ticklertest.Epoch().Add(time.Minute)))
	b.Clock.Add(time.Minute)
	b.WaitStarted(1) // the slow delivery is running
	later := tickler.At(ticklertest.Epoch().Add(time.Hour))
	if _, err := b.Scheduler.Update(ctx, "agent-1", sm.ID, tickler.UpdateRequest{Messages: userText("fast"), Schedule: &later}); err != nil {
		t.Fatal(err)
	}
	release()
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
