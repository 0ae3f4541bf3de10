package bolt_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/bolt"
	"github.com/tickler-go/tickler/storetest"
	"github.com/tickler-go/tickler/ticklertest"
)

// bundle starts a scheduler on a mock clock at now over st.
func bundle(t *testing.T, st *bolt.Store, now time.Time) *ticklertest.Bundle {
	t.Helper()
	b := ticklertest.NewWith(t, ticklertest.Config{Store: st, NoStart: true})
	b.Clock.Set(now)
	b.Start()
	return b
}

// stop stops b's scheduler, cutting short what is still being delivered.
func stop(t *testing.T, b *ticklertest.Bundle) {
	t.Helper()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_ = b.Scheduler.Stop(cctx)
}

func TestRestartDeliversWhatCameDueWhileDown(t *testing.T) {
	t.Parallel()
	st := open(t)
	b := bundle(t, st, epoch)
	one := b.Create("agent", "once", tickler.At(epoch.Add(time.Minute)))
	rec := b.Create("agent", "every five", tickler.Cron("*/5 * * * *"))
	stop(t, b)

	// Down from epoch to epoch+12m: the one-time occurrence and two cron
	// occurrences (5m, 10m) pass.
	b = bundle(t, reopen(t, st), epoch.Add(12*time.Minute))
	want := []string{
		tickler.IdempotencyKey(one.ID, epoch.Add(time.Minute)),
		tickler.IdempotencyKey(rec.ID, epoch.Add(5*time.Minute)), // fire-once: keyed by the first missed
	}
	if got := b.Recorder.Keys(); !slices.Equal(sorted(got), sorted(want)) {
		t.Fatalf("delivered %v after the restart, want %v", got, want)
	}
	if _, err := b.Scheduler.Get(ctx, "agent", one.ID); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("the one-time schedule is still stored after firing: %v", err)
	}
	sm, err := b.Scheduler.Get(ctx, "agent", rec.ID)
	if err != nil || !sm.NextScheduledTime.Equal(epoch.Add(15*time.Minute)) {
		t.Fatalf("the recurring schedule = %+v, %v; want its next occurrence at +15m", sm, err)
	}
	b.Advance(3 * time.Minute)
	if n := len(b.Recorder.Keys()); n != 3 {
		t.Fatalf("after +15m, %d deliveries, want 3", n)
	}
}

func TestDeliveryCutShortIsRedeliveredAfterRestartWithSameKey(t *testing.T) {
	t.Parallel()
	st := open(t)
	b := bundle(t, st, epoch)
	calls := b.Recorder.Calls()
	b.Recorder.SetFunc(func(ctx context.Context, _ *tickler.Delivery) (tickler.Result, error) {
		<-ctx.Done() // the host's agent is still running when the process stops
		return tickler.Result{}, ctx.Err()
	})
	sm := b.Create("agent", "wake up", tickler.At(epoch.Add(time.Second)))
	b.Clock.Add(time.Second)
	first := <-calls
	stop(t, b)

	b = bundle(t, reopen(t, st), epoch.Add(time.Minute))
	got := b.Recorder.Keys()
	if len(got) != 1 || got[0] != first.IdempotencyKey || got[0] != tickler.IdempotencyKey(sm.ID, epoch.Add(time.Second)) {
		t.Fatalf("redelivered %v, want once with key %s", got, first.IdempotencyKey)
	}
	if _, err := b.Scheduler.Get(ctx, "agent", sm.ID); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("the schedule is still stored after its redelivery: %v", err)
	}
}

func TestDeleteBeforeRestartNeverDelivers(t *testing.T) {
	t.Parallel()
	st := open(t)
	b := bundle(t, st, epoch)
	sm := b.Create("agent", "never", tickler.At(epoch.Add(time.Minute)))
	if err := b.Scheduler.Delete(ctx, "agent", sm.ID); err != nil {
		t.Fatal(err)
	}
	stop(t, b)
	b = bundle(t, reopen(t, st), epoch.Add(time.Hour))
	if got := b.Recorder.Keys(); len(got) != 0 {
		t.Fatalf("a deleted schedule was delivered after a restart: %v", got)
	}
}

func TestStartNamesAnUndecodableRecord(t *testing.T) {
	t.Parallel()
	st := open(t)
	if err := st.Create(ctx, storetest.Record("broken", "agent", epoch.Add(time.Second)), tickler.CreateParams{}); err != nil {
		t.Fatal(err)
	}
	damage(t, st, "broken", func(v []byte) []byte { v[0] = 0xff; return v })
	s, err := tickler.New(st, &ticklertest.Recorder{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Start(ctx)
	var re *bolt.RecordError
	if !errors.As(err, &re) || re.ID != "broken" || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("Start = %v, want an error naming the record", err)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestDamagedRecordIsSkippedWhileRunningAndFailsStart(t *testing.T) {
	t.Parallel()
	st := open(t)
	b := bundle(t, st, epoch)
	at := epoch.Add(time.Minute)
	bad := b.Create("agent", "bad", tickler.At(at))
	good := b.Create("agent", "good", tickler.At(at))
	later := b.Create("agent", "later", tickler.At(at.Add(time.Minute)))
	damage(t, st, bad.ID, func(v []byte) []byte { v[len(v)-3] ^= 0x10; return v })

	// Running: the damaged record is skipped (and logged); the others fire.
	b.Advance(3 * time.Minute)
	var got []string
	for _, d := range b.Recorder.Deliveries() {
		got = append(got, d.ScheduledMessageID)
	}
	if want := []string{good.ID, later.ID}; !slices.Equal(got, want) {
		t.Fatalf("delivered %v, want the good records %v", got, want)
	}
	stop(t, b)

	// Restarting: Start fails and names the record, never drops it silently.
	nb := ticklertest.NewWith(t, ticklertest.Config{Store: st, NoStart: true})
	nb.Clock.Set(epoch.Add(time.Hour))
	err := nb.Scheduler.Start(ctx)
	var re *bolt.RecordError
	if !errors.Is(err, tickler.ErrDamaged) || !errors.As(err, &re) || re.ID != bad.ID {
		t.Fatalf("Start = %v, want an error naming %s", err, bad.ID)
	}
	// Deleting it is the way out.
	if err := nb.Scheduler.Delete(ctx, "agent", bad.ID); err != nil {
		t.Fatal(err)
	}
	nb2 := ticklertest.NewWith(t, ticklertest.Config{Store: st, NoStart: true})
	nb2.Clock.Set(epoch.Add(time.Hour))
	if err := nb2.Scheduler.Start(ctx); err != nil {
		t.Fatalf("Start after deleting the damaged record: %v", err)
	}
}
