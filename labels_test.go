package tickler_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/ticklertest"
)

// The optional labels of Letta's schedule API (name, description,
// conversation_id) and created_at.

func TestLabelsAreStoredReturnedAndUpdated(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	sm, err := b.Scheduler.Create(ctx, "agent-1", tickler.CreateRequest{
		Messages:       userText("stand up"),
		Schedule:       tickler.Cron("0 9 * * *"),
		Name:           "standup",
		Description:    "the daily stand-up",
		ConversationID: "conv-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.Scheduler.Get(ctx, "agent-1", sm.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "standup" || got.Description != "the daily stand-up" || got.ConversationID != "conv-1" {
		t.Fatalf("Get returned labels %q %q %q", got.Name, got.Description, got.ConversationID)
	}

	empty, rename := "", "renamed"
	up, err := b.Scheduler.Update(ctx, "agent-1", sm.ID, tickler.UpdateRequest{Name: &rename, ConversationID: &empty})
	if err != nil {
		t.Fatal(err)
	}
	if up.Name != "renamed" || up.Description != "the daily stand-up" || up.ConversationID != "" {
		t.Fatalf("after Update: labels %q %q %q", up.Name, up.Description, up.ConversationID)
	}
	page, err := b.Scheduler.List(ctx, "agent-1", "", 0)
	if err != nil || len(page.ScheduledMessages) != 1 || page.ScheduledMessages[0].Name != "renamed" {
		t.Fatalf("List after Update: %+v, %v", page, err)
	}
}

func TestCreatedAtIsTheCreationInstantToTheMillisecond(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	b.Clock.Add(1500*time.Millisecond + 700*time.Microsecond)
	want := b.Clock.Now().Truncate(time.Millisecond)
	sm := b.Create("agent-1", "hi", tickler.Cron("0 9 * * *"))
	if !sm.CreatedAt.Equal(want) {
		t.Fatalf("CreatedAt = %v, want %v", sm.CreatedAt, want)
	}
	b.Advance(time.Hour)
	got, err := b.Scheduler.Get(ctx, "agent-1", sm.ID)
	if err != nil || !got.CreatedAt.Equal(want) {
		t.Fatalf("Get: CreatedAt = %v (%v), want %v", got.CreatedAt, err, want)
	}
}

func TestDeliveryCarriesTheConversationID(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	at := ticklertest.Epoch().Add(time.Minute)
	for _, conv := range []string{"conv-1", ""} {
		if _, err := b.Scheduler.Create(ctx, "agent-"+conv, tickler.CreateRequest{
			Messages: userText("hi"), Schedule: tickler.At(at), ConversationID: conv,
		}); err != nil {
			t.Fatal(err)
		}
	}
	b.Advance(time.Minute)
	got := map[string]string{}
	for _, d := range b.Recorder.Deliveries() {
		got[d.AgentID] = d.ConversationID
	}
	if len(got) != 2 || got["agent-conv-1"] != "conv-1" || got["agent-"] != "" {
		t.Fatalf("conversation ids delivered: %v", got)
	}
}

func TestLabelsOutOfBoundsAreRejectedNamingTheField(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	for _, tc := range []struct {
		field string
		req   func(*tickler.CreateRequest)
	}{
		{"name", func(r *tickler.CreateRequest) { r.Name = strings.Repeat("n", tickler.MaxNameBytes+1) }},
		{"name", func(r *tickler.CreateRequest) { r.Name = "\xff" }},
		{"description", func(r *tickler.CreateRequest) { r.Description = strings.Repeat("d", tickler.MaxDescriptionBytes+1) }},
		{"conversation_id", func(r *tickler.CreateRequest) {
			r.ConversationID = strings.Repeat("c", tickler.MaxConversationIDBytes+1)
		}},
		{"conversation_id", func(r *tickler.CreateRequest) { r.ConversationID = "../admin" }},
		{"conversation_id", func(r *tickler.CreateRequest) { r.ConversationID = "conv\n1" }},
	} {
		req := tickler.CreateRequest{Messages: userText("hi"), Schedule: tickler.Cron("0 9 * * *")}
		tc.req(&req)
		_, err := b.Scheduler.Create(ctx, "agent-1", req)
		var ve *tickler.ValidationError
		if !errors.As(err, &ve) || ve.Field != tc.field {
			t.Errorf("%s: err = %v, want a ValidationError on it", tc.field, err)
		}
	}
	// At the bounds, all is well.
	if _, err := b.Scheduler.Create(ctx, "agent-1", tickler.CreateRequest{
		Messages: userText("hi"), Schedule: tickler.Cron("0 9 * * *"),
		Name:        strings.Repeat("n", tickler.MaxNameBytes),
		Description: strings.Repeat("d", tickler.MaxDescriptionBytes),
	}); err != nil {
		t.Fatal(err)
	}
	if page, _ := b.Scheduler.List(ctx, "agent-1", "", 0); len(page.ScheduledMessages) != 1 {
		t.Fatalf("a rejected create was stored: %d listed", len(page.ScheduledMessages))
	}
	sm := firstListed(t, b)
	long := strings.Repeat("d", tickler.MaxDescriptionBytes+1)
	_, err := b.Scheduler.Update(ctx, "agent-1", sm.ID, tickler.UpdateRequest{Description: &long})
	var ve *tickler.ValidationError
	if !errors.As(err, &ve) || ve.Field != "description" {
		t.Fatalf("Update with a long description: %v", err)
	}
}

func firstListed(t *testing.T, b *ticklertest.Bundle) *tickler.ScheduledMessage {
	t.Helper()
	p, err := b.Scheduler.List(ctx, "agent-1", "", 0)
	if err != nil || len(p.ScheduledMessages) == 0 {
		t.Fatalf("List: %v", err)
	}
	return p.ScheduledMessages[0]
}
