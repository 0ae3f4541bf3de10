package tickler_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/ticklertest"
)

func TestOneTimeFiresOnceThenIsRemoved(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	at := ticklertest.Epoch().Add(90*time.Second + 7*time.Millisecond)
	sm := b.Create("agent-1", "wake up", tickler.At(at))
	if !sm.NextScheduledTime.Equal(at) {
		t.Fatalf("NextScheduledTime = %v, want %v", sm.NextScheduledTime, at)
	}

	b.Advance(90*time.Second + 6*time.Millisecond)
	if n := len(b.Recorder.Deliveries()); n != 0 {
		t.Fatalf("delivered %d times 1 ms early", n)
	}
	b.Advance(time.Millisecond)
	got := b.Recorder.Deliveries()
	if len(got) != 1 {
		t.Fatalf("delivered %d times, want 1", len(got))
	}
	d := got[0]
	if !d.Occurrence.Equal(at) || d.AgentID != "agent-1" || d.ScheduledMessageID != sm.ID || d.Attempt != 1 {
		t.Fatalf("delivery = %+v", d)
	}
	if d.Message.Messages[0].Content.Text != "wake up" {
		t.Fatalf("delivered content %+v", d.Message.Messages[0].Content)
	}

	b.Advance(time.Hour)
	if n := len(b.Recorder.Deliveries()); n != 1 {
		t.Fatalf("delivered %d times, want 1", n)
	}
	if _, err := b.Scheduler.Get(ctx, "agent-1", sm.ID); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("Get after firing: %v, want ErrNotFound", err)
	}
	if err := b.Scheduler.Delete(ctx, "agent-1", sm.ID); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("Delete after firing: %v, want ErrNotFound", err)
	}
	page, err := b.Scheduler.List(ctx, "agent-1", "", 0)
	if err != nil || len(page.ScheduledMessages) != 0 {
		t.Fatalf("List after firing: %v, %v", page, err)
	}
}

func TestScheduledAtInPastIsRejected(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	for _, at := range []time.Time{ticklertest.Epoch(), ticklertest.Epoch().Add(-time.Millisecond), ticklertest.Epoch().Add(-48 * time.Hour)} {
		_, err := b.Scheduler.Create(ctx, "agent-1", tickler.CreateRequest{Messages: userText("x"), Schedule: tickler.At(at)})
		if !errors.Is(err, tickler.ErrScheduledInPast) {
			t.Fatalf("at %v: err = %v, want ErrScheduledInPast", at, err)
		}
		var ve *tickler.ValidationError
		if !errors.As(err, &ve) || ve.Field != "schedule.scheduled_at" {
			t.Fatalf("at %v: err = %#v, want a ValidationError on schedule.scheduled_at", at, err)
		}
	}
	page, _ := b.Scheduler.List(ctx, "agent-1", "", 0)
	if len(page.ScheduledMessages) != 0 {
		t.Fatalf("stored %d rejected schedules", len(page.ScheduledMessages))
	}
	// One millisecond ahead is in the future.
	b.Create("agent-1", "x", tickler.At(ticklertest.Epoch().Add(time.Millisecond)))
}
