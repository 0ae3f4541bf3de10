package tickler_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/ticklertest"
)

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
