package tickler_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/memory"
	"github.com/tickler-go/tickler/ticklertest"
)

// printer is a Deliverer that prints each occurrence.
var printer = tickler.DelivererFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
	fmt.Printf("deliver %q to %s at %s\n", d.Message.Messages[0].Content.Text, d.AgentID, d.Occurrence.Format(time.TimeOnly))
	return tickler.Result{}, nil
})

// newMockScheduler returns a started scheduler on a mock clock at
// 2026-08-07 21:59 UTC, so that the examples' output is exact.
func newMockScheduler() (*tickler.Scheduler, *clock.Mock) {
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 8, 7, 21, 59, 0, 0, time.UTC))
	s, err := tickler.New(memory.New(), printer, tickler.WithClock(ticklertest.Clock(clk)))
	if err != nil {
		panic(err)
	}
	if err := s.Start(context.Background()); err != nil {
		panic(err)
	}
	return s, clk
}

func ExampleNew() {
	deliverer := tickler.DelivererFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		// Hand d.Message to the agent d.AgentID; pass d.IdempotencyKey along
		// so a redelivery after a crash is recognised.
		return tickler.Result{RunID: "run-1"}, nil
	})
	s, err := tickler.New(memory.New(), deliverer,
		tickler.WithConcurrency(8),
		tickler.WithRetryPolicy(tickler.RetryPolicy{MaxAttempts: 3, Base: time.Second, Cap: time.Minute}),
	)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	if err := s.Start(ctx); err != nil {
		panic(err)
	}
	defer s.Stop(ctx)
	fmt.Println("started")
	// Output: started
}

func ExampleScheduler_Create() {
	s, clk := newMockScheduler()
	ctx := context.Background()
	sm, err := s.Create(ctx, "agent-1", tickler.CreateRequest{
		Messages: []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text("Remind me to stretch")}},
		Schedule: tickler.At(time.Date(2026, 8, 7, 22, 0, 0, 0, time.UTC)),
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("next:", *tickler.FormatTime(sm.NextScheduledTime))

	clk.Add(time.Minute)
	_ = s.WaitIdle(ctx)
	_, err = s.Get(ctx, "agent-1", sm.ID)
	fmt.Println("gone after firing:", errors.Is(err, tickler.ErrNotFound))
	// Output:
	// next: 2026-08-07T22:00:00.000Z
	// deliver "Remind me to stretch" to agent-1 at 22:00:00
	// gone after firing: true
}

func ExampleScheduler_Create_recurring() {
	s, clk := newMockScheduler()
	ctx := context.Background()
	sm, err := s.Create(ctx, "agent-1", tickler.CreateRequest{
		Messages: []tickler.Message{{Role: tickler.RoleSystem, Content: tickler.Text("Summarise the inbox")}},
		Schedule: tickler.Cron("*/30 * * * *"), // every 30 minutes, UTC
	})
	if err != nil {
		panic(err)
	}
	for range 2 {
		next, _ := s.NextWake()
		clk.Set(next)
		_ = s.WaitIdle(ctx)
	}
	sm, _ = s.Get(ctx, "agent-1", sm.ID)
	fmt.Println("next:", *tickler.FormatTime(sm.NextScheduledTime))
	// Output:
	// deliver "Summarise the inbox" to agent-1 at 22:00:00
	// deliver "Summarise the inbox" to agent-1 at 22:30:00
	// next: 2026-08-07T23:00:00.000Z
}

func ExampleScheduler_List() {
	s, _ := newMockScheduler()
	ctx := context.Background()
	for _, expr := range []string{"0 8 * * *", "0 12 * * *", "0 18 * * *"} {
		_, err := s.Create(ctx, "agent-1", tickler.CreateRequest{
			Messages: []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text("meal")}},
			Schedule: tickler.Cron(expr),
		})
		if err != nil {
			panic(err)
		}
	}
	after := ""
	for {
		page, err := s.List(ctx, "agent-1", after, 2)
		if err != nil {
			panic(err)
		}
		for _, sm := range page.ScheduledMessages {
			fmt.Println(sm.Schedule.CronExpression)
		}
		if !page.HasNextPage {
			break
		}
		after = page.ScheduledMessages[len(page.ScheduledMessages)-1].ID
		fmt.Println("-- next page")
	}
	// Output:
	// 0 8 * * *
	// 0 12 * * *
	// -- next page
	// 0 18 * * *
}
