package tickler_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/memory"
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

func TestRecurringFiresAtEveryOccurrenceUntilDeleted(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	sm := b.Create("agent-1", "check in", tickler.Cron("*/15 * * * *"))
	if want := ticklertest.Epoch().Add(15 * time.Minute); !sm.NextScheduledTime.Equal(want) {
		t.Fatalf("first NextScheduledTime = %v, want %v", sm.NextScheduledTime, want)
	}
	b.Advance(time.Hour)
	var want []time.Time
	for i := 1; i <= 4; i++ {
		want = append(want, ticklertest.Epoch().Add(time.Duration(i)*15*time.Minute))
	}
	if got := occurrences(b.Recorder.Deliveries()); !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Fatalf("occurrences = %v, want %v", got, want)
	}
	got, err := b.Scheduler.Get(ctx, "agent-1", sm.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := ticklertest.Epoch().Add(75 * time.Minute); !got.NextScheduledTime.Equal(want) {
		t.Fatalf("NextScheduledTime after an hour = %v, want %v", got.NextScheduledTime, want)
	}
	keys := b.Recorder.Keys()
	if len(slices.Compact(slices.Clone(keys))) != 4 {
		t.Fatalf("idempotency keys not distinct per occurrence: %v", keys)
	}

	if err := b.Scheduler.Delete(ctx, "agent-1", sm.ID); err != nil {
		t.Fatal(err)
	}
	b.Advance(2 * time.Hour)
	if n := len(b.Recorder.Deliveries()); n != 4 {
		t.Fatalf("delivered %d times after delete, want 4", n)
	}
}

func TestCronIsEvaluatedInUTC(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	sm := b.Create("agent-1", "x", tickler.Cron("30 9 * * *"))
	if want := time.Date(2026, 1, 1, 9, 30, 0, 0, time.UTC); !sm.NextScheduledTime.Equal(want) {
		t.Fatalf("NextScheduledTime = %v, want %v", sm.NextScheduledTime, want)
	}
}

func TestCronThatNeverFiresIsRejected(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	for _, expr := range []string{"TZ=", "CRON_TZ=", "0 0 30 2 *", "0 0 31 4 *", "* * * *", "0 * * * * *", "61 * * * *", "@every 1m", "@daily", "nonsense"} {
		_, err := b.Scheduler.Create(ctx, "agent-1", tickler.CreateRequest{Messages: userText("x"), Schedule: tickler.Cron(expr)})
		var ve *tickler.ValidationError
		if !errors.As(err, &ve) || ve.Field != "schedule.cron_expression" {
			t.Errorf("%q: err = %v, want a ValidationError on schedule.cron_expression", expr, err)
		}
	}
}

func TestDeleteBeforeDueNeverDelivers(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	one := b.Create("agent-1", "x", tickler.At(ticklertest.Epoch().Add(time.Minute)))
	rec := b.Create("agent-1", "y", tickler.Cron("* * * * *"))
	keep := b.Create("agent-1", "z", tickler.At(ticklertest.Epoch().Add(time.Minute)))
	for _, id := range []string{one.ID, rec.ID} {
		if err := b.Scheduler.Delete(ctx, "agent-1", id); err != nil {
			t.Fatal(err)
		}
	}
	b.Advance(time.Hour)
	got := b.Recorder.Deliveries()
	if len(got) != 1 || got[0].ScheduledMessageID != keep.ID {
		t.Fatalf("deliveries = %+v, want only %s", got, keep.ID)
	}
}

func TestDeleteOfAnotherAgentsScheduleIsNotFound(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	sm := b.Create("agent-1", "x", tickler.Cron("* * * * *"))
	if _, err := b.Scheduler.Get(ctx, "agent-2", sm.ID); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("Get by another agent: %v", err)
	}
	if err := b.Scheduler.Delete(ctx, "agent-2", sm.ID); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("Delete by another agent: %v", err)
	}
	if _, err := b.Scheduler.Get(ctx, "agent-1", sm.ID); err != nil {
		t.Fatalf("the owner's schedule is gone: %v", err)
	}
}

func TestDeleteDuringDeliveryStartsNoFurtherAttempt(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t, tickler.WithRetryPolicy(tickler.RetryPolicy{MaxAttempts: 5, Base: time.Second, Cap: time.Second}))
	release := make(chan struct{})
	b.Recorder.SetFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		<-release
		return tickler.Result{}, errors.New("agent unavailable")
	})
	calls := b.Recorder.Calls()
	sm := b.Create("agent-1", "x", tickler.Cron("* * * * *"))
	b.Clock.Add(time.Minute)
	<-calls // the first attempt has started
	if err := b.Scheduler.Delete(ctx, "agent-1", sm.ID); err != nil {
		t.Fatal(err)
	}
	close(release)
	b.Settle()
	b.Advance(time.Hour)
	if n := len(b.Recorder.Deliveries()); n != 1 {
		t.Fatalf("attempts = %d, want 1: a deleted schedule started another", n)
	}
}

func TestListPagesInCreationOrder(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t, tickler.WithMaxPageSize(150))
	var ids []string
	for i := range 200 {
		sm := b.Create("agent-1", fmt.Sprint(i), tickler.Cron("0 * * * *"))
		ids = append(ids, sm.ID)
		b.Create("agent-2", "other", tickler.Cron("0 * * * *"))
	}
	if !slices.IsSorted(ids) {
		t.Fatal("ids are not in creation order")
	}

	page, err := b.Scheduler.List(ctx, "agent-1", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.ScheduledMessages) != tickler.DefaultPageSize || !page.HasNextPage {
		t.Fatalf("first page: %d messages, more=%v", len(page.ScheduledMessages), page.HasNextPage)
	}
	var got []string
	after := ""
	for {
		page, err := b.Scheduler.List(ctx, "agent-1", after, 70)
		if err != nil {
			t.Fatal(err)
		}
		for _, sm := range page.ScheduledMessages {
			if sm.AgentID != "agent-1" {
				t.Fatalf("listed another agent's schedule %+v", sm)
			}
			got = append(got, sm.ID)
		}
		if !page.HasNextPage {
			break
		}
		after = page.ScheduledMessages[len(page.ScheduledMessages)-1].ID
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("paged %d ids, want the %d created in order", len(got), len(ids))
	}

	// A page that ends exactly at the last message has no next page.
	page, _ = b.Scheduler.List(ctx, "agent-1", ids[99], 100)
	if len(page.ScheduledMessages) != 100 || page.HasNextPage {
		t.Fatalf("last full page: %d messages, more=%v", len(page.ScheduledMessages), page.HasNextPage)
	}
	page, _ = b.Scheduler.List(ctx, "agent-1", "", 1000)
	if len(page.ScheduledMessages) != 150 {
		t.Fatalf("limit above the maximum gave %d messages, want 150", len(page.ScheduledMessages))
	}
	if _, err := b.Scheduler.List(ctx, "agent-1", "", -1); err == nil {
		t.Fatal("a negative limit was accepted")
	}
}

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

func TestRecurringNeverOverlapsItself(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	release := make(chan struct{})
	var n atomic.Int32
	b.Recorder.SetFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		if n.Add(1) == 1 {
			<-release
		}
		return tickler.Result{}, nil
	})
	calls := b.Recorder.Calls()
	b.Create("agent-1", "x", tickler.Cron("* * * * *"))
	go func() {
		for range calls {
		}
	}()
	b.Clock.Set(ticklertest.Epoch().Add(time.Minute))
	for n.Load() == 0 {
		b.Clock.Add(0) // yields until the first delivery is running
	}
	// Four more occurrences pass while the first delivery runs.
	b.Clock.Set(ticklertest.Epoch().Add(5*time.Minute + 30*time.Second))
	if got := n.Load(); got != 1 {
		t.Fatalf("%d deliveries ran at once, want 1", got)
	}
	close(release)
	b.Settle()
	got := occurrences(b.Recorder.Deliveries())
	want := []time.Time{ticklertest.Epoch().Add(time.Minute), ticklertest.Epoch().Add(2 * time.Minute)}
	if !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Fatalf("occurrences = %v, want the first and one collapsed %v", got, want)
	}
	b.AdvanceTo(ticklertest.Epoch().Add(6 * time.Minute))
	got = occurrences(b.Recorder.Deliveries())
	if len(got) != 3 || !got[2].Equal(ticklertest.Epoch().Add(6*time.Minute)) {
		t.Fatalf("occurrences = %v, want the next at 00:06", got)
	}
}

func TestFailedDeliveryIsRetriedWithBackoffThenGivenUp(t *testing.T) {
	t.Parallel()
	var log eventLog
	policy := tickler.RetryPolicy{MaxAttempts: 4, Base: time.Second, Cap: 3 * time.Second}
	b := ticklertest.New(t, tickler.WithRetryPolicy(policy), tickler.WithEventHandler(log.add))
	b.Recorder.SetFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		return tickler.Result{}, errors.New("agent is down")
	})
	at := ticklertest.Epoch().Add(time.Minute)
	sm := b.Create("agent-1", "x", tickler.At(at))
	b.AdvanceTo(at)

	prev := at
	for attempt := 2; attempt <= 4; attempt++ {
		next, ok := b.Scheduler.NextWake()
		if !ok {
			t.Fatalf("no retry scheduled after attempt %d", attempt-1)
		}
		full := min(time.Second<<(attempt-2), 3*time.Second)
		if gap := next.Sub(prev); gap < full/2 || gap > full {
			t.Fatalf("backoff before attempt %d = %v, want within [%v, %v]", attempt, gap, full/2, full)
		}
		b.AdvanceTo(next)
		if n := len(b.Recorder.Deliveries()); n != attempt {
			t.Fatalf("attempts = %d, want %d", n, attempt)
		}
		prev = next
	}
	for i, d := range b.Recorder.Deliveries() {
		if d.Attempt != i+1 || d.IdempotencyKey != tickler.IdempotencyKey(sm.ID, at) || !d.Occurrence.Equal(at) {
			t.Fatalf("attempt %d: %+v", i+1, d)
		}
	}
	if want := []tickler.EventKind{tickler.EventRetry, tickler.EventRetry, tickler.EventRetry, tickler.EventGaveUp}; !slices.Equal(log.kinds(), want) {
		t.Fatalf("events = %v, want %v", log.kinds(), want)
	}
	if ev := log.of(tickler.EventGaveUp)[0]; ev.Err == nil || ev.Attempt != 4 {
		t.Fatalf("give-up event = %+v", ev)
	}
	if _, err := b.Scheduler.Get(ctx, "agent-1", sm.ID); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("a given-up one-time schedule is still stored: %v", err)
	}
	b.Advance(time.Hour)
	if n := len(b.Recorder.Deliveries()); n != 4 {
		t.Fatalf("attempts = %d after giving up, want 4", n)
	}
}

func TestGivenUpRecurringGoesOnWithNextOccurrence(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t, tickler.WithRetryPolicy(tickler.RetryPolicy{MaxAttempts: 2, Base: time.Second, Cap: time.Second}))
	var fails atomic.Bool
	fails.Store(true)
	b.Recorder.SetFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		if fails.Load() {
			return tickler.Result{}, errors.New("down")
		}
		return tickler.Result{}, nil
	})
	sm := b.Create("agent-1", "x", tickler.Cron("0 * * * *"))
	b.Advance(time.Hour + time.Minute) // 01:00 fails twice
	fails.Store(false)
	b.Advance(time.Hour) // 02:00 succeeds
	var got []string
	for _, d := range b.Recorder.Deliveries() {
		got = append(got, fmt.Sprintf("%s#%d", d.Occurrence.Format("15:04"), d.Attempt))
	}
	if want := []string{"01:00#1", "01:00#2", "02:00#1"}; !slices.Equal(got, want) {
		t.Fatalf("attempts = %v, want %v", got, want)
	}
	h, _, err := b.Scheduler.History(ctx, "agent-1", sm.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0].Status != tickler.StatusSuccess || h[1].Status != tickler.StatusFailed || h[1].Attempts != 2 {
		t.Fatalf("history = %+v", h)
	}
}

func TestPanickingDelivererIsAFailureAndSchedulerSurvives(t *testing.T) {
	t.Parallel()
	var log eventLog
	b := ticklertest.New(t, tickler.WithRetryPolicy(tickler.RetryPolicy{MaxAttempts: 1}), tickler.WithEventHandler(log.add))
	b.Recorder.SetFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		if d.Message.Messages[0].Content.Text == "boom" {
			panic("deliverer bug")
		}
		return tickler.Result{}, nil
	})
	b.Create("agent-1", "boom", tickler.At(ticklertest.Epoch().Add(time.Minute)))
	b.Create("agent-1", "fine", tickler.At(ticklertest.Epoch().Add(2*time.Minute)))
	b.Advance(time.Hour)
	if n := len(b.Recorder.Deliveries()); n != 2 {
		t.Fatalf("deliveries = %d, want 2", n)
	}
	gave := log.of(tickler.EventGaveUp)
	if len(gave) != 1 || gave[0].Err == nil || len(log.of(tickler.EventDelivered)) != 1 {
		t.Fatalf("events = %v", log.kinds())
	}
}

func TestRedeliveryAfterCrashCarriesTheSameKey(t *testing.T) {
	t.Parallel()
	store := memory.New()
	first := ticklertest.NewWith(t, ticklertest.Config{Store: store})
	started := make(chan struct{})
	first.Recorder.SetFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		close(started)
		<-ctx.Done() // the process dies mid-delivery
		return tickler.Result{}, ctx.Err()
	})
	at := ticklertest.Epoch().Add(time.Minute)
	sm := first.Create("agent-1", "x", tickler.At(at))
	first.Clock.Set(at)
	<-started
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := first.Scheduler.Stop(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("Stop = %v, want it to report the delivery left running", err)
	}

	second := ticklertest.NewWith(t, ticklertest.Config{Store: store, NoStart: true})
	second.Clock.Set(at.Add(10 * time.Second))
	second.Start()
	got := second.Recorder.Deliveries()
	if len(got) != 1 || got[0].IdempotencyKey != first.Recorder.Deliveries()[0].IdempotencyKey ||
		got[0].IdempotencyKey != tickler.IdempotencyKey(sm.ID, at) {
		t.Fatalf("redelivery = %+v, want one with key %s", got, tickler.IdempotencyKey(sm.ID, at))
	}
}

func TestMisfireFireOnceCollapsesMissedOccurrences(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	rec := b.Create("agent-1", "hourly", tickler.Cron("0 * * * *"))
	one := b.Create("agent-1", "once", tickler.At(ticklertest.Epoch().Add(30*time.Minute)))
	down := ticklertest.Epoch().Add(5*time.Hour + 10*time.Minute)
	nb := restart(t, b, down)

	got := nb.Recorder.Deliveries()
	keys := map[string]string{}
	for _, d := range got {
		keys[d.ScheduledMessageID] = d.IdempotencyKey
	}
	if len(got) != 2 ||
		keys[rec.ID] != tickler.IdempotencyKey(rec.ID, ticklertest.Epoch().Add(time.Hour)) ||
		keys[one.ID] != tickler.IdempotencyKey(one.ID, ticklertest.Epoch().Add(30*time.Minute)) {
		t.Fatalf("deliveries after 5 h down = %+v, want one per schedule keyed by the first missed occurrence", got)
	}
	sm, err := nb.Scheduler.Get(ctx, "agent-1", rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := ticklertest.Epoch().Add(6 * time.Hour); !sm.NextScheduledTime.Equal(want) {
		t.Fatalf("next after catch-up = %v, want %v", sm.NextScheduledTime, want)
	}
}

func TestMisfireSkipReportsEachSkip(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	rec := b.Create("agent-1", "hourly", tickler.Cron("0 * * * *"))
	one := b.Create("agent-1", "once", tickler.At(ticklertest.Epoch().Add(30*time.Minute)))
	var log eventLog
	nb := restart(t, b, ticklertest.Epoch().Add(5*time.Hour+10*time.Minute),
		tickler.WithMisfirePolicy(tickler.MisfireSkip), tickler.WithEventHandler(log.add))
	if n := len(nb.Recorder.Deliveries()); n != 0 {
		t.Fatalf("skip policy delivered %d", n)
	}
	skips := log.of(tickler.EventSkipped)
	if len(skips) != 2 || skips[0].Reason == "" {
		t.Fatalf("skip events = %+v, want 2", skips)
	}
	if _, err := nb.Scheduler.Get(ctx, "agent-1", one.ID); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("a skipped one-time schedule is still stored: %v", err)
	}
	sm, _ := nb.Scheduler.Get(ctx, "agent-1", rec.ID)
	if want := ticklertest.Epoch().Add(6 * time.Hour); !sm.NextScheduledTime.Equal(want) {
		t.Fatalf("next after skipping = %v, want %v", sm.NextScheduledTime, want)
	}
	nb.Advance(time.Hour)
	if n := len(nb.Recorder.Deliveries()); n != 1 {
		t.Fatalf("after skipping, the next occurrence delivered %d times, want 1", n)
	}
}

func TestMisfireGraceSkipsOnlyOldOccurrences(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	old := b.Create("agent-1", "old", tickler.At(ticklertest.Epoch().Add(time.Minute)))
	recent := b.Create("agent-1", "recent", tickler.At(ticklertest.Epoch().Add(3*time.Hour)))
	var log eventLog
	nb := restart(t, b, ticklertest.Epoch().Add(4*time.Hour),
		tickler.WithMisfireGrace(2*time.Hour), tickler.WithEventHandler(log.add))
	got := nb.Recorder.Deliveries()
	if len(got) != 1 || got[0].ScheduledMessageID != recent.ID {
		t.Fatalf("deliveries = %+v, want only the one missed by 1 h", got)
	}
	skips := log.of(tickler.EventSkipped)
	if len(skips) != 1 || skips[0].ScheduledMessageID != old.ID {
		t.Fatalf("skips = %+v, want the one missed by 4 h", skips)
	}
}

func TestHungDelivererHoldsOnlyItsPoolSlot(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t, tickler.WithConcurrency(2))
	hang := make(chan struct{})
	defer close(hang)
	b.Recorder.SetFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		if d.Message.Messages[0].Content.Text == "hang" {
			<-hang
		}
		return tickler.Result{}, nil
	})
	calls := b.Recorder.Calls()
	at := ticklertest.Epoch().Add(time.Minute)
	b.Create("agent-1", "hang", tickler.At(at))
	for i := range 5 {
		b.Create("agent-1", "ok", tickler.At(at.Add(time.Duration(i)*time.Second)))
	}
	b.Clock.Set(at.Add(10 * time.Second))
	for range 6 {
		select {
		case <-calls:
		case <-time.After(ticklertest.DefaultWaitTimeout):
			t.Fatal("a hung delivery held up the others")
		}
	}
}

func TestPoolBoundsConcurrentDeliveries(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t, tickler.WithConcurrency(2))
	release := make(chan struct{})
	entered := make(chan struct{})
	b.Recorder.SetFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		entered <- struct{}{}
		<-release
		return tickler.Result{}, nil
	})
	at := ticklertest.Epoch().Add(time.Minute)
	for range 3 {
		b.Create("agent-1", "x", tickler.At(at))
	}
	b.Clock.Set(at)
	<-entered
	<-entered
	// The dispatcher pops every due entry it has room for at once: with room
	// for two, the third is still waiting in the heap.
	if next, ok := b.Scheduler.NextWake(); !ok || next.After(at) {
		t.Fatalf("NextWake = %v, %v: the third delivery was not held back by the pool", next, ok)
	}
	close(release)
	<-entered
	b.Settle()
	if n := len(b.Recorder.Deliveries()); n != 3 {
		t.Fatalf("deliveries = %d, want 3", n)
	}
}

func TestStopCancelsHungDeliveriesAtItsDeadline(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	sawCancel := make(chan struct{})
	b.Recorder.SetFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		<-ctx.Done()
		close(sawCancel)
		return tickler.Result{}, ctx.Err()
	})
	calls := b.Recorder.Calls()
	sm := b.Create("agent-1", "x", tickler.At(ticklertest.Epoch().Add(time.Minute)))
	b.Clock.Add(time.Minute)
	<-calls
	stopCtx, cancel := context.WithCancel(ctx)
	cancel()
	err := b.Scheduler.Stop(stopCtx)
	if !errors.Is(err, context.Canceled) || !containsID(err, sm.ID) {
		t.Fatalf("Stop = %v, want context.Canceled naming %s", err, sm.ID)
	}
	<-sawCancel
	// The interrupted occurrence is still due, to be delivered after restart.
	if _, err := b.Scheduler.Get(ctx, "agent-1", sm.ID); err != nil {
		t.Fatalf("the interrupted one-time schedule was removed: %v", err)
	}
}

func TestStopWaitsForDeliveriesInFlight(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	release := make(chan struct{})
	b.Recorder.SetFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		<-release
		return tickler.Result{}, nil
	})
	calls := b.Recorder.Calls()
	sm := b.Create("agent-1", "x", tickler.At(ticklertest.Epoch().Add(time.Minute)))
	b.Clock.Add(time.Minute)
	<-calls
	stopped := make(chan error)
	go func() { stopped <- b.Scheduler.Stop(ctx) }()
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned %v while a delivery ran", err)
	default:
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if _, err := b.Scheduler.Get(ctx, "agent-1", sm.ID); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("the finished delivery was not recorded: %v", err)
	}
}

func TestWallClockJumpDelaysADueScheduleAtMostMaxSleep(t *testing.T) {
	t.Parallel()
	b := newJumpBundle(t)
	b.Create("agent-1", "x", tickler.At(ticklertest.Epoch().Add(3*time.Hour)))
	b.Settle()
	// The wall clock jumps past the due time; no timer has expired.
	b.clk.jump(3 * time.Hour)
	if n := len(b.Recorder.Deliveries()); n != 0 {
		t.Fatal("delivered before the dispatcher looked at the clock again")
	}
	b.Clock.Add(tickler.DefaultMaxSleep)
	b.Settle()
	if n := len(b.Recorder.Deliveries()); n != 1 {
		t.Fatalf("delivered %d times within the bounded sleep after a wall-clock jump, want 1", n)
	}
}

func TestConcurrentUseWhileFiring(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	const workers, each = 8, 40
	var wg sync.WaitGroup
	deleted := sync.Map{}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			agent := fmt.Sprintf("agent-%d", w)
			for i := range each {
				sched := tickler.At(b.Clock.Now().Add(time.Duration(1+i%7) * time.Second))
				if i%3 == 0 {
					sched = tickler.Cron("* * * * *")
				}
				sm, err := b.Scheduler.Create(ctx, agent, tickler.CreateRequest{Messages: userText("x"), Schedule: sched})
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := b.Scheduler.List(ctx, agent, "", 10); err != nil {
					t.Error(err)
				}
				if i%4 == 0 {
					if err := b.Scheduler.Delete(ctx, agent, sm.ID); err != nil && !errors.Is(err, tickler.ErrNotFound) {
						t.Error(err)
					}
					deleted.Store(sm.ID, true)
				} else if _, err := b.Scheduler.Get(ctx, agent, sm.ID); err != nil && !errors.Is(err, tickler.ErrNotFound) {
					t.Error(err)
				}
			}
		}()
	}
	// Fire while they work.
	for range 20 {
		b.Clock.Add(500 * time.Millisecond)
	}
	wg.Wait()
	b.Advance(3 * time.Minute)
	for _, d := range b.Recorder.Deliveries() {
		if _, ok := deleted.Load(d.ScheduledMessageID); ok && !d.Occurrence.Before(ticklertest.Epoch().Add(20*time.Second)) {
			t.Fatalf("deleted schedule %s delivered at %v", d.ScheduledMessageID, d.Occurrence)
		}
	}
	// Every one-time schedule not deleted fired exactly once.
	seen := map[string]int{}
	for _, d := range b.Recorder.Deliveries() {
		seen[d.IdempotencyKey]++
	}
	for k, n := range seen {
		if n != 1 {
			t.Fatalf("occurrence %s delivered %d times", k, n)
		}
	}
}

func TestStartTwiceIsAnError(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	if err := b.Scheduler.Start(ctx); err == nil {
		t.Fatal("second Start succeeded")
	}
}

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

// failingClaims is a store whose Claim fails while failing is set, and
// reports the clock's time at each failed call.
type failingClaims struct {
	tickler.Store
	clk     interface{ Now() time.Time }
	failing atomic.Bool
	calls   chan time.Time
}

func (s *failingClaims) Claim(ctx context.Context, p tickler.ClaimParams) (tickler.ClaimResult, error) {
	if s.failing.Load() {
		s.calls <- s.clk.Now()
		return tickler.ClaimResult{}, errors.New("disk on fire")
	}
	return s.Store.Claim(ctx, p)
}

func TestFailedClaimIsRetriedAfterAPauseNotInALoop(t *testing.T) {
	t.Parallel()
	store := &failingClaims{Store: memory.New(), calls: make(chan time.Time, 100)}
	b := ticklertest.NewWith(t, ticklertest.Config{Store: store, Options: []tickler.Option{tickler.WithLookahead(5 * time.Second)}})
	store.clk = b.Clock
	b.Create("agent-1", "x", tickler.At(ticklertest.Epoch().Add(time.Minute)))
	store.failing.Store(true)
	failed := func() time.Time {
		t.Helper()
		select {
		case at := <-store.calls:
			return at
		case <-time.After(b.WaitTimeout()):
			t.Fatal("no claim was made")
			return time.Time{}
		}
	}
	b.Clock.Add(56 * time.Second) // the schedule enters the look-ahead: a claim
	b.Settle()
	first := failed()
	b.Clock.Add(time.Second)
	b.Settle()
	second := failed()
	if second.Sub(first) < time.Second {
		t.Fatalf("claim retried %v after failing, want a pause of a second", second.Sub(first))
	}
	store.failing.Store(false)
	b.Clock.Add(4 * time.Second)
	b.Settle()
	if n := len(b.Recorder.Deliveries()); n != 1 {
		t.Fatalf("delivered %d after the store recovered, want 1", n)
	}
}

func TestIDsThatAreNotUUIDsStillFire(t *testing.T) {
	t.Parallel()
	store := memory.New()
	r := &tickler.Record{ID: "legacy-42", AgentID: "agent-1", Message: tickler.MessageCreate{Messages: userText("x")},
		Schedule: tickler.Cron("* * * * *"), Next: ticklertest.Epoch().Add(time.Minute)}
	if err := store.Create(ctx, r, tickler.CreateParams{}); err != nil {
		t.Fatal(err)
	}
	b := ticklertest.NewWith(t, ticklertest.Config{Store: store})
	b.Advance(2 * time.Minute)
	keys := b.Recorder.Keys()
	want := []string{
		tickler.IdempotencyKey("legacy-42", ticklertest.Epoch().Add(time.Minute)),
		tickler.IdempotencyKey("legacy-42", ticklertest.Epoch().Add(2*time.Minute)),
	}
	if !slices.Equal(keys, want) {
		t.Fatalf("keys = %v, want %v", keys, want)
	}
	if err := b.Scheduler.Delete(ctx, "agent-1", "legacy-42"); err != nil {
		t.Fatal(err)
	}
	b.Advance(time.Hour)
	if n := len(b.Recorder.Keys()); n != 2 {
		t.Fatalf("delivered %d times after delete", n)
	}
}

func TestCancellingStartsContextStopsFiring(t *testing.T) {
	t.Parallel()
	b := ticklertest.NewWith(t, ticklertest.Config{NoStart: true})
	runCtx, cancel := context.WithCancel(ctx)
	if err := b.Scheduler.Start(runCtx); err != nil {
		t.Fatal(err)
	}
	b.Create("agent-1", "x", tickler.Cron("* * * * *"))
	cancel()
	b.Clock.Add(time.Hour)
	// The scheduler stopped with its context: nothing is due any more, so
	// WaitIdle returns (it used to wait forever for a loop that had ended).
	b.Settle()
	n := len(b.Recorder.Deliveries())
	b.Clock.Add(time.Hour)
	b.Settle()
	if m := len(b.Recorder.Deliveries()); m != n {
		t.Fatalf("delivered %d more after Start's context was cancelled", m-n)
	}
	if err := b.Scheduler.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}
