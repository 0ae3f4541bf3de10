package tickler_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/memory"
	"github.com/tickler-go/tickler/ticklertest"
)

// plainStore is a memory store with only the Store methods: none of the
// optional interfaces (batches, admin, outbox), so that the scheduler takes
// its fallback paths.
type plainStore struct{ tickler.Store }

func textReq(text string, sched tickler.Schedule) tickler.CreateRequest {
	return tickler.CreateRequest{Messages: []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text(text)}}, Schedule: sched}
}

func forEachStore(t *testing.T, fn func(t *testing.T, b *ticklertest.Bundle)) {
	for name, st := range map[string]func() tickler.Store{
		"BatchCreator": func() tickler.Store { return memory.New() },
		"fallback":     func() tickler.Store { return plainStore{memory.New()} },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, ticklertest.NewWith(t, ticklertest.Config{Store: st(),
				Options: []tickler.Option{tickler.WithMaxSchedulesPerAgent(5)}}))
		})
	}
}

func TestCreateManyStoresAllAndEachFires(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, b *ticklertest.Bundle) {
		at := ticklertest.Epoch().Add(time.Minute)
		var reqs []tickler.CreateRequest
		for i := range 3 {
			reqs = append(reqs, textReq(fmt.Sprint(i), tickler.At(at.Add(time.Duration(i)*time.Second))))
		}
		sms, err := b.Scheduler.CreateMany(ctx, "agent-1", reqs)
		if err != nil {
			t.Fatal(err)
		}
		if len(sms) != 3 {
			t.Fatalf("CreateMany returned %d messages", len(sms))
		}
		for i, sm := range sms {
			if sm.AgentID != "agent-1" || !sm.NextScheduledTime.Equal(at.Add(time.Duration(i)*time.Second)) {
				t.Fatalf("message %d = %+v", i, sm)
			}
		}
		b.Advance(time.Minute + 3*time.Second)
		got := b.Recorder.Deliveries()
		if len(got) != 3 {
			t.Fatalf("delivered %d, want 3", len(got))
		}
		for i, d := range got {
			if d.ScheduledMessageID != sms[i].ID || d.Message.Messages[0].Content.Text != fmt.Sprint(i) {
				t.Fatalf("delivery %d = %+v", i, d)
			}
		}
	})
}

func TestCreateManyInvalidItemStoresNothing(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, b *ticklertest.Bundle) {
		at := ticklertest.Epoch().Add(time.Minute)
		reqs := []tickler.CreateRequest{
			textReq("ok", tickler.At(at)),
			textReq("past", tickler.At(ticklertest.Epoch().Add(-time.Minute))),
		}
		_, err := b.Scheduler.CreateMany(ctx, "agent-1", reqs)
		var ie *tickler.ItemError
		var ve *tickler.ValidationError
		if !errors.As(err, &ie) || ie.Index != 1 || !errors.As(err, &ve) || !errors.Is(err, tickler.ErrScheduledInPast) {
			t.Fatalf("CreateMany = %v, want an ItemError of index 1 wrapping ErrScheduledInPast", err)
		}
		if page, _ := b.Scheduler.List(ctx, "agent-1", "", 10); len(page.ScheduledMessages) != 0 {
			t.Fatalf("a refused CreateMany stored %d messages", len(page.ScheduledMessages))
		}
	})
}

func TestCreateManyOverTheAgentLimitStoresNothing(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, b *ticklertest.Bundle) {
		at := ticklertest.Epoch().Add(time.Minute)
		b.Create("agent-1", "first", tickler.At(at))
		var reqs []tickler.CreateRequest
		for range 5 { // 1 + 5 > 5
			reqs = append(reqs, textReq("more", tickler.At(at)))
		}
		if _, err := b.Scheduler.CreateMany(ctx, "agent-1", reqs); !errors.Is(err, tickler.ErrLimitExceeded) {
			t.Fatalf("CreateMany over the limit = %v", err)
		}
		if page, _ := b.Scheduler.List(ctx, "agent-1", "", 10); len(page.ScheduledMessages) != 1 {
			t.Fatalf("after a refused CreateMany the agent has %d messages, want 1", len(page.ScheduledMessages))
		}
		b.Advance(2 * time.Minute)
		if n := len(b.Recorder.Deliveries()); n != 1 {
			t.Fatalf("delivered %d, want 1", n)
		}
	})
}

func TestDeleteManyEachAloneAndNoneFires(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, b *ticklertest.Bundle) {
		at := ticklertest.Epoch().Add(time.Minute)
		a := b.Create("agent-1", "a", tickler.At(at))
		keep := b.Create("agent-1", "keep", tickler.At(at))
		other := b.Create("agent-2", "other", tickler.At(at))
		errs := b.Scheduler.DeleteMany(ctx, "agent-1", []string{a.ID, other.ID, "nope"})
		if errs[0] != nil || !errors.Is(errs[1], tickler.ErrNotFound) || !errors.Is(errs[2], tickler.ErrNotFound) {
			t.Fatalf("DeleteMany = %v", errs)
		}
		b.Advance(2 * time.Minute)
		got := b.Recorder.Deliveries()
		if len(got) != 2 || got[0].ScheduledMessageID == a.ID || got[1].ScheduledMessageID == a.ID {
			t.Fatalf("deliveries after DeleteMany: %+v (keep %s, other %s)", got, keep.ID, other.ID)
		}
	})
}

func ExampleScheduler_CreateMany() {
	s, clk := newMockScheduler()
	defer s.Stop(context.Background())
	at := clk.Now().Add(time.Minute)
	var reqs []tickler.CreateRequest
	for i, text := range []string{"stand-up", "review", "retro"} {
		reqs = append(reqs, tickler.CreateRequest{
			Messages: []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text(text)}},
			Schedule: tickler.At(at.Add(time.Duration(i) * time.Minute)),
		})
	}
	// All three are stored, or none is.
	sms, err := s.CreateMany(context.Background(), "agent-1", reqs)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(sms), "scheduled")
	for range 3 {
		clk.Add(time.Minute)
		_ = s.WaitIdle(context.Background())
	}
	// Output:
	// 3 scheduled
	// deliver "stand-up" to agent-1 at 22:00:00
	// deliver "review" to agent-1 at 22:01:00
	// deliver "retro" to agent-1 at 22:02:00
}
