package tickler_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/ticklertest"
)

func TestValidationNamesTheFieldAndStoresNothing(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	future := tickler.At(ticklertest.Epoch().Add(time.Hour))
	ok := func() tickler.CreateRequest {
		return tickler.CreateRequest{Messages: userText("hello"), Schedule: future}
	}
	str := func(s string) *string { return &s }
	n := func(i int) *int { return &i }
	at := ticklertest.Epoch().Add(time.Hour).UnixMilli()
	cases := []struct {
		name  string
		agent string
		edit  func(*tickler.CreateRequest)
		field string
	}{
		{"no messages", "a", func(r *tickler.CreateRequest) { r.Messages = nil }, "messages"},
		{"empty messages", "a", func(r *tickler.CreateRequest) { r.Messages = []tickler.Message{} }, "messages"},
		{"bad role", "a", func(r *tickler.CreateRequest) { r.Messages[0].Role = "tool" }, "messages[0].role"},
		{"no role", "a", func(r *tickler.CreateRequest) { r.Messages[0].Role = "" }, "messages[0].role"},
		{"empty content", "a", func(r *tickler.CreateRequest) { r.Messages[0].Content = tickler.Text(" ") }, "messages[0].content"},
		{"no parts", "a", func(r *tickler.CreateRequest) { r.Messages[0].Content = tickler.Parts() }, "messages[0].content"},
		{"empty text part", "a", func(r *tickler.CreateRequest) {
			r.Messages[0].Content = tickler.Parts(tickler.TextPart("ok"), tickler.TextPart(""))
		}, "messages[0].content[1].text"},
		{"image without data", "a", func(r *tickler.CreateRequest) {
			r.Messages[0].Content = tickler.Parts(tickler.ImagePart("image/png", ""))
		}, "messages[0].content[0].source.data"},
		{"image without media type", "a", func(r *tickler.CreateRequest) {
			r.Messages[0].Content = tickler.Parts(tickler.ImagePart("", "aGk="))
		}, "messages[0].content[0].source.media_type"},
		{"image without source", "a", func(r *tickler.CreateRequest) {
			r.Messages[0].Content = tickler.Parts(tickler.ContentPart{Type: "image"})
		}, "messages[0].content[0].source"},
		{"message type", "a", func(r *tickler.CreateRequest) { r.Messages[0].Type = str("tool") }, "messages[0].type"},
		{"return type", "a", func(r *tickler.CreateRequest) {
			r.IncludeReturnMessageTypes = []string{"assistant_message", "banana"}
		}, "include_return_message_types[1]"},
		{"max steps", "a", func(r *tickler.CreateRequest) { r.MaxSteps = n(0) }, "max_steps"},
		{"relative callback", "a", func(r *tickler.CreateRequest) { r.CallbackURL = "/hook" }, "callback_url"},
		{"ftp callback", "a", func(r *tickler.CreateRequest) { r.CallbackURL = "ftp://example.com/x" }, "callback_url"},
		{"both schedules", "a", func(r *tickler.CreateRequest) {
			r.Schedule = tickler.Schedule{ScheduledAt: &at, CronExpression: "* * * * *", Type: tickler.Recurring}
		}, "schedule"},
		{"neither schedule", "a", func(r *tickler.CreateRequest) { r.Schedule = tickler.Schedule{Type: tickler.OneTime} }, "schedule"},
		{"type contradicts at", "a", func(r *tickler.CreateRequest) {
			r.Schedule = tickler.Schedule{ScheduledAt: &at, Type: tickler.Recurring}
		}, "schedule.type"},
		{"type contradicts cron", "a", func(r *tickler.CreateRequest) {
			r.Schedule = tickler.Schedule{CronExpression: "* * * * *", Type: tickler.OneTime}
		}, "schedule.type"},
		{"cron without type", "a", func(r *tickler.CreateRequest) {
			r.Schedule = tickler.Schedule{CronExpression: "* * * * *"}
		}, "schedule.type"},
		{"empty agent", "", func(r *tickler.CreateRequest) {}, "agent_id"},
	}
	for _, c := range cases {
		req := ok()
		c.edit(&req)
		_, err := b.Scheduler.Create(ctx, c.agent, req)
		var ve *tickler.ValidationError
		if !errors.As(err, &ve) || ve.Field != c.field {
			t.Errorf("%s: err = %v, want a ValidationError on %s", c.name, err, c.field)
		}
	}
	for _, agent := range []string{"a", ""} {
		if agent == "" {
			continue
		}
		page, _ := b.Scheduler.List(ctx, agent, "", 0)
		if len(page.ScheduledMessages) != 0 {
			t.Fatalf("invalid requests stored %d schedules", len(page.ScheduledMessages))
		}
	}
	b.Advance(2 * time.Hour)
	if n := len(b.Recorder.Deliveries()); n != 0 {
		t.Fatalf("invalid requests delivered %d times", n)
	}
}
