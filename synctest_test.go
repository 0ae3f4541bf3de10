package tickler_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/memory"
)

// TestUnderSynctest shows a host's test of its schedules under Go's
// testing/synctest: inside the bubble the real clock is fake, so the
// scheduler needs no clock option, and an hour passes at once.
func TestUnderSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var delivered atomic.Int32
		s, err := tickler.New(memory.New(), tickler.DelivererFunc(func(context.Context, *tickler.Delivery) (tickler.Result, error) {
			delivered.Add(1)
			return tickler.Result{}, nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer s.Stop(context.Background())
		_, err = s.Create(t.Context(), "agent-1", tickler.CreateRequest{
			Messages: []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text("stand up")}},
			Schedule: tickler.At(time.Now().Add(time.Hour)),
		})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour - time.Second)
		synctest.Wait()
		if n := delivered.Load(); n != 0 {
			t.Fatalf("delivered %d times a second early", n)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if n := delivered.Load(); n != 1 {
			t.Fatalf("delivered %d times at the hour, want 1", n)
		}
	})
}
