package bolt_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/bolt"
	"github.com/tickler-go/tickler/storetest"
)

var (
	ctx   = context.Background()
	epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
)

// open opens a store in a new file of the test's temporary directory and
// closes it when the test ends.
func open(t testing.TB, opts ...bolt.Option) *bolt.Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "tickler.db"), opts...)
}

// openAt opens the store at path and closes it when the test ends (a
// second Close is harmless).
func openAt(t testing.TB, path string, opts ...bolt.Option) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func reopen(t testing.TB, s *bolt.Store) *bolt.Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return openAt(t, s.Path())
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.RunWith(t, storetest.Config{
		New: func(t *testing.T) tickler.Store { return open(t) },
		Damage: func(t *testing.T, s tickler.Store, id string) {
			damage(t, s.(*bolt.Store), id, func(v []byte) []byte { v[len(v)-3] ^= 0x10; return v })
		},
	})
}

func TestEverythingSurvivesReopen(t *testing.T) {
	t.Parallel()
	s := open(t)
	one := storetest.Record("one", "agent", epoch.Add(time.Hour))
	rec := storetest.Record("rec", "agent", epoch.Add(time.Minute))
	rec.Schedule = tickler.Cron("* * * * *")
	for _, r := range []*tickler.Record{one, rec} {
		if err := s.Create(ctx, r.Clone(), tickler.CreateParams{}); err != nil {
			t.Fatal(err)
		}
	}
	out := &tickler.Outcome{ID: "h1", ScheduledMessageID: "rec", Occurrence: epoch.Add(time.Minute), Status: tickler.StatusSuccess, Attempts: 1, Triggered: true, SentAt: epoch.Add(time.Minute)}
	if err := s.Ack(ctx, tickler.AckParams{ID: "rec", Version: 1, Next: epoch.Add(2 * time.Minute), Outcome: out, HistoryLimit: 10}); err != nil {
		t.Fatal(err)
	}

	s = reopen(t, s)
	page, err := s.List(ctx, tickler.ListParams{AgentID: "agent", Limit: 10})
	if err != nil || page.More || len(page.Records) != 2 {
		t.Fatalf("List after reopen = %d records, more %v, %v", len(page.Records), page.More, err)
	}
	if got := page.Records[0]; got.ID != "one" || got.Version != 1 || !got.Next.Equal(one.Next) || got.Message.Messages[1].Content.Parts[1].Source == nil ||
		got.Retry == nil || *got.Retry != *one.Retry {
		t.Fatalf("one after reopen = %+v", got)
	}
	if got := page.Records[1]; got.Version != 2 || !got.Next.Equal(epoch.Add(2*time.Minute)) || got.Schedule.CronExpression != "* * * * *" {
		t.Fatalf("rec after reopen = %+v", got)
	}
	hist, err := s.History(ctx, tickler.HistoryParams{ID: "rec", Limit: 10})
	if err != nil || len(hist.Outcomes) != 1 || hist.Outcomes[0].ID != "h1" || !hist.Outcomes[0].Triggered {
		t.Fatalf("History after reopen = %+v, %v", hist.Outcomes, err)
	}
	claimed, err := s.Claim(ctx, tickler.ClaimParams{Until: epoch.Add(time.Hour), Limit: 10})
	if err != nil || len(claimed.Due) != 2 || claimed.Due[0].ID != "rec" || claimed.Due[0].Version != 2 {
		t.Fatalf("Claim after reopen = %+v, %v", claimed.Due, err)
	}
}

func TestSecondOpenFailsWithErrLockedWithinTimeout(t *testing.T) {
	t.Parallel()
	s := open(t)
	for _, timeout := range []time.Duration{0, 100 * time.Millisecond} {
		start := time.Now()
		_, err := bolt.Open(s.Path(), bolt.WithLockTimeout(timeout))
		took := time.Since(start)
		if !errors.Is(err, bolt.ErrLocked) {
			t.Fatalf("second Open = %v, want ErrLocked", err)
		}
		if !strings.Contains(err.Error(), s.Path()) {
			t.Fatalf("the error %q does not name the file", err)
		}
		if took > timeout+time.Second {
			t.Fatalf("second Open with timeout %v took %v", timeout, took)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := bolt.Open(s.Path(), bolt.WithLockTimeout(0))
	if err != nil {
		t.Fatalf("Open after Close = %v", err)
	}
	s2.Close()
}

func TestClosedStoreFailsWithErrClosed(t *testing.T) {
	t.Parallel()
	s := open(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if err := s.Create(ctx, storetest.Record("id", "a", epoch), tickler.CreateParams{}); !errors.Is(err, bolt.ErrClosed) {
		t.Fatalf("Create after Close = %v", err)
	}
	if _, err := s.Get(ctx, "", "id"); !errors.Is(err, bolt.ErrClosed) {
		t.Fatalf("Get after Close = %v", err)
	}
}

func TestCancelledContextWritesNothing(t *testing.T) {
	t.Parallel()
	s := open(t)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Create(cctx, storetest.Record("id", "a", epoch), tickler.CreateParams{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Create with a cancelled context = %v", err)
	}
	if _, err := s.Get(ctx, "", "id"); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("a cancelled Create stored its record: %v", err)
	}
}

// damage rewrites the stored value of the record id with fn.
func damage(t *testing.T, s *bolt.Store, id string, fn func(v []byte) []byte) {
	t.Helper()
	err := bolt.Raw(s, func(records *bbolt.Bucket) error {
		v := records.Get([]byte(id))
		if v == nil {
			return tickler.ErrNotFound
		}
		return records.Put([]byte(id), fn(append([]byte(nil), v...)))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestUndecodableRecordIsNamedNeverDropped(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		fn   func(v []byte) []byte
		want error
	}{
		{"NewerFormat", func(v []byte) []byte { v[0] = 9; return v }, bolt.ErrNewerFormat},
		{"FlippedBit", func(v []byte) []byte { v[len(v)-3] ^= 0x10; return v }, bolt.ErrCorrupt},
		{"Truncated", func(v []byte) []byte { return v[:4] }, bolt.ErrCorrupt},
		{"Empty", func(v []byte) []byte { return []byte{} }, bolt.ErrCorrupt},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			for _, id := range []string{"good", "bad"} {
				if err := s.Create(ctx, storetest.Record(id, "agent", epoch), tickler.CreateParams{}); err != nil {
					t.Fatal(err)
				}
			}
			damage(t, s, "bad", c.fn)

			check := func(op string, err error) {
				t.Helper()
				var re *bolt.RecordError
				if !errors.As(err, &re) || re.ID != "bad" || !errors.Is(err, c.want) {
					t.Fatalf("%s = %v, want a RecordError naming %q matching %v", op, err, "bad", c.want)
				}
				if !strings.Contains(err.Error(), `"bad"`) {
					t.Fatalf("%s error %q does not name the record", op, err)
				}
			}
			res, err := s.Claim(ctx, tickler.ClaimParams{Until: epoch, Limit: 10})
			check("Claim", err)
			if !errors.Is(err, tickler.ErrDamaged) || len(res.Due) != 1 || res.Due[0].ID != "good" {
				t.Fatalf("Claim = %v, %v; want the good record beside an error matching tickler.ErrDamaged", res.Due, err)
			}
			_, err = s.Get(ctx, "", "bad")
			check("Get", err)
			_, err = s.Get(ctx, "agent", "bad")
			check("Get by its agent", err)
			_, err = s.List(ctx, tickler.ListParams{AgentID: "agent", Limit: 10})
			check("List", err)
			check("Ack", s.Ack(ctx, tickler.AckParams{ID: "bad", Version: 1}))
			check("history-only Ack", s.Ack(ctx, tickler.AckParams{ID: "bad", HistoryOnly: true, HistoryLimit: 10,
				Outcome: &tickler.Outcome{ID: "h", ScheduledMessageID: "bad", Status: tickler.StatusSuccess}}))
			up := storetest.Record("bad", "agent", epoch)
			up.Version = 1
			check("Update", s.Update(ctx, up, tickler.UpdateParams{}))
			if _, err := s.Get(ctx, "other", "bad"); !errors.Is(err, tickler.ErrNotFound) {
				t.Fatalf("Get by another agent = %v, want ErrNotFound", err)
			}
			if err := s.Delete(ctx, "other", "bad"); !errors.Is(err, tickler.ErrNotFound) {
				t.Fatalf("Delete by another agent = %v, want ErrNotFound", err)
			}
			if _, err := s.Get(ctx, "", "good"); err != nil {
				t.Fatalf("Get of the good record = %v", err)
			}

			// Delete is the way out: it removes the record, whatever its
			// bytes, and its index entries, even when the caller (the
			// dispatcher) does not know the agent.
			if err := s.Delete(ctx, "", "bad"); err != nil {
				t.Fatalf("Delete of the bad record = %v", err)
			}
			res, err = s.Claim(ctx, tickler.ClaimParams{Until: epoch, Limit: 10})
			if err != nil || len(res.Due) != 1 || res.Due[0].ID != "good" {
				t.Fatalf("Claim after deleting the bad record = %v, %v", res.Due, err)
			}
			if n, err := s.Count(ctx, "agent"); err != nil || n != 1 {
				t.Fatalf("Count after deleting the bad record = %d, %v", n, err)
			}
		})
	}
}

func TestNewerLayoutIsRefused(t *testing.T) {
	t.Parallel()
	s := open(t)
	path := s.Path()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error { return tx.Bucket([]byte("meta")).Put([]byte("layout"), []byte{3}) })
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bolt.Open(path); !errors.Is(err, bolt.ErrNewerFormat) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open of a newer layout = %v, want ErrNewerFormat naming the file", err)
	}
}
