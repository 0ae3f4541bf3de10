package tickler_test

import (
	"slices"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/memory"
	"github.com/tickler-go/tickler/ticklertest"
)

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
