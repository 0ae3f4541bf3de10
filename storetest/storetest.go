// Package storetest is the conformance suite of [tickler.Store]: every
// store runs it, and a new store is done when it passes.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) tickler.Store { return memory.New() })
//	}
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
)

// Run runs the suite. newStore returns a new, empty store for each subtest;
// closing it is newStore's business (t.Cleanup).
func Run(t *testing.T, newStore func(t *testing.T) tickler.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, tickler.Store)
	}{
		{"CreateGetRoundTrip", testCreateGetRoundTrip},
		{"CreateDuplicateID", testCreateDuplicate},
		{"GetUnknown", testGetUnknown},
		{"StoredRecordSharesNothing", testNoAliasing},
		{"ListOrderAndPaging", testList},
		{"DeleteChecksAgent", testDelete},
		{"ClaimRangeAndCursor", testClaim},
		{"ClaimSkipsRecordsWithoutNext", testClaimNoNext},
		{"AckAdvancesAndRemoves", testAck},
		{"AckFencedByVersion", testAckConflict},
		{"HistoryBoundedNewestFirst", testHistory},
		{"UpdateReplacesFencedByVersion", testUpdate},
		{"CountPerAgent", testCount},
		{"ConcurrentUse", testConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

var (
	ctx   = context.Background()
	epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

func str(s string) *string { return &s }

// Record returns a record with every optional field set, due at next.
func Record(id, agent string, next time.Time) *tickler.Record {
	steps := 7
	at := next.UnixMilli()
	return &tickler.Record{
		ID:      id,
		AgentID: agent,
		Message: tickler.MessageCreate{
			Messages: []tickler.Message{
				{Role: tickler.RoleUser, Content: tickler.Text("plain"), Name: str("n"), OTID: str("o"), SenderID: str("s"), Type: str("message")},
				{Role: tickler.RoleSystem, Content: tickler.Parts(
					tickler.ContentPart{Text: "t", Signature: str("sig")},
					tickler.ImagePart("image/png", "aGVsbG8="),
				)},
			},
			CallbackURL:               "https://example.com/hook",
			IncludeReturnMessageTypes: []string{"assistant_message"},
			MaxSteps:                  &steps,
		},
		Schedule: tickler.Schedule{ScheduledAt: &at, Type: tickler.OneTime},
		Next:     next,
	}
}

func mustCreate(t *testing.T, s tickler.Store, r *tickler.Record) {
	t.Helper()
	if err := s.Create(ctx, r); err != nil {
		t.Fatalf("Create(%s): %v", r.ID, err)
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func sameRecord(t *testing.T, got, want *tickler.Record) {
	t.Helper()
	if got.ID != want.ID || got.AgentID != want.AgentID || !got.Next.Equal(want.Next) {
		t.Fatalf("record = %s/%s/%v, want %s/%s/%v", got.ID, got.AgentID, got.Next, want.ID, want.AgentID, want.Next)
	}
	if g, w := jsonOf(t, got.Message), jsonOf(t, want.Message); g != w {
		t.Fatalf("message = %s\nwant      %s", g, w)
	}
	if g, w := jsonOf(t, got.Schedule), jsonOf(t, want.Schedule); g != w {
		t.Fatalf("schedule = %s, want %s", g, w)
	}
}

func testCreateGetRoundTrip(t *testing.T, s tickler.Store) {
	want := Record("id-1", "agent", epoch)
	mustCreate(t, s, want.Clone())
	got, err := s.Get(ctx, "id-1")
	if err != nil {
		t.Fatal(err)
	}
	sameRecord(t, got, want)
	if got.Version != 1 {
		t.Fatalf("Version = %d, want 1", got.Version)
	}
	cron := &tickler.Record{ID: "id-2", AgentID: "agent", Message: want.Message, Schedule: tickler.Cron("*/5 * * * *"), Next: epoch}
	mustCreate(t, s, cron.Clone())
	got, err = s.Get(ctx, "id-2")
	if err != nil {
		t.Fatal(err)
	}
	sameRecord(t, got, cron)
}

func testCreateDuplicate(t *testing.T, s tickler.Store) {
	mustCreate(t, s, Record("id-1", "agent", epoch))
	if err := s.Create(ctx, Record("id-1", "other", epoch.Add(time.Hour))); !errors.Is(err, tickler.ErrExists) {
		t.Fatalf("duplicate Create = %v, want ErrExists", err)
	}
	got, _ := s.Get(ctx, "id-1")
	if got.AgentID != "agent" {
		t.Fatal("a duplicate Create overwrote the record")
	}
}

func testGetUnknown(t *testing.T, s tickler.Store) {
	if _, err := s.Get(ctx, "nope"); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("Get unknown = %v, want ErrNotFound", err)
	}
}

func testNoAliasing(t *testing.T, s tickler.Store) {
	r := Record("id-1", "agent", epoch)
	mustCreate(t, s, r)
	*r.Message.Messages[0].Name = "changed"
	r.Message.Messages[1].Content.Parts[0].Text = "changed"
	got, _ := s.Get(ctx, "id-1")
	got.Message.Messages[0].Content.Text = "changed too"
	again, _ := s.Get(ctx, "id-1")
	sameRecord(t, again, Record("id-1", "agent", epoch))
}

func testList(t *testing.T, s tickler.Store) {
	var ids []string
	for i := range 25 {
		id := fmt.Sprintf("id-%03d", i)
		ids = append(ids, id)
		mustCreate(t, s, Record(id, "a", epoch.Add(time.Duration(25-i)*time.Minute)))
		mustCreate(t, s, Record(fmt.Sprintf("other-%03d", i), "b", epoch))
	}
	var got []string
	after := ""
	for {
		recs, more, err := s.List(ctx, "a", after, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.AgentID != "a" {
				t.Fatalf("listed agent %s's record", r.AgentID)
			}
			got = append(got, r.ID)
		}
		if wantMore := len(got) < 25; more != wantMore {
			t.Fatalf("more = %v after %d records", more, len(got))
		}
		if !more {
			break
		}
		after = recs[len(recs)-1].ID
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("listed %v\nwant %v", got, ids)
	}
	recs, more, _ := s.List(ctx, "a", "id-014", 10)
	if len(recs) != 10 || more || recs[0].ID != "id-015" {
		t.Fatalf("page after id-014: %d records, more=%v", len(recs), more)
	}
	recs, _, _ = s.List(ctx, "a", "id-0145", 1) // an after that is not stored
	if len(recs) != 1 || recs[0].ID != "id-015" {
		t.Fatalf("page after a missing id starts at %v", recs)
	}
	recs, more, _ = s.List(ctx, "nobody", "", 10)
	if len(recs) != 0 || more {
		t.Fatalf("unknown agent listed %d records", len(recs))
	}
}

func testDelete(t *testing.T, s tickler.Store) {
	mustCreate(t, s, Record("id-1", "a", epoch))
	if err := s.Delete(ctx, "b", "id-1"); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("Delete by another agent = %v, want ErrNotFound", err)
	}
	if _, err := s.Get(ctx, "id-1"); err != nil {
		t.Fatalf("another agent's Delete removed the record: %v", err)
	}
	if err := s.Delete(ctx, "a", "id-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "id-1"); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("Get after Delete = %v", err)
	}
	if recs, _, _ := s.List(ctx, "a", "", 10); len(recs) != 0 {
		t.Fatal("List shows a deleted record")
	}
	if due, _, _ := s.Claim(ctx, tickler.Due{}, epoch.Add(time.Hour), 10); len(due) != 0 {
		t.Fatal("Claim returns a deleted record")
	}
	if _, _, err := s.History(ctx, "id-1", 0, 10); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("History after Delete = %v", err)
	}
	if err := s.Delete(ctx, "a", "id-1"); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("second Delete = %v, want ErrNotFound", err)
	}
}

func ids(due []tickler.Due) []string {
	var out []string
	for _, d := range due {
		out = append(out, d.ID)
	}
	return out
}

func testClaim(t *testing.T, s tickler.Store) {
	// Two records share an instant: the id breaks the tie.
	mustCreate(t, s, Record("c", "a", epoch.Add(2*time.Second)))
	mustCreate(t, s, Record("b", "a", epoch.Add(time.Second)))
	mustCreate(t, s, Record("a", "a", epoch.Add(2*time.Second)))
	mustCreate(t, s, Record("d", "a", epoch.Add(time.Hour)))

	due, next, err := s.Claim(ctx, tickler.Due{}, epoch.Add(2*time.Second), 10)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(due); !slices.Equal(got, []string{"b", "a", "c"}) {
		t.Fatalf("Claim = %v, want [b a c] (until is inclusive, ties by id)", got)
	}
	if !next.Equal(epoch.Add(time.Hour)) {
		t.Fatalf("next = %v, want %v", next, epoch.Add(time.Hour))
	}
	for _, d := range due {
		if d.Version != 1 {
			t.Fatalf("claimed version %d, want 1", d.Version)
		}
	}
	if !due[0].At.Equal(epoch.Add(time.Second)) {
		t.Fatalf("claimed At = %v", due[0].At)
	}

	due, _, _ = s.Claim(ctx, tickler.Due{}, epoch.Add(2*time.Second), 2)
	if got := ids(due); !slices.Equal(got, []string{"b", "a"}) {
		t.Fatalf("Claim limit 2 = %v", got)
	}
	due, next, _ = s.Claim(ctx, due[1], epoch.Add(2*time.Second), 2)
	if got := ids(due); !slices.Equal(got, []string{"c"}) || !next.Equal(epoch.Add(time.Hour)) {
		t.Fatalf("Claim after the cursor = %v, next %v", got, next)
	}
	due, next, _ = s.Claim(ctx, tickler.Due{ID: "\xff", At: epoch.Add(2 * time.Second)}, epoch.Add(2*time.Hour), 10)
	if got := ids(due); !slices.Equal(got, []string{"d"}) || !next.IsZero() {
		t.Fatalf("Claim past everything = %v, next %v", got, next)
	}
}

func testClaimNoNext(t *testing.T, s tickler.Store) {
	mustCreate(t, s, Record("none", "a", time.Time{}))
	mustCreate(t, s, Record("some", "a", epoch))
	due, next, _ := s.Claim(ctx, tickler.Due{}, epoch.Add(24*time.Hour*365), 10)
	if got := ids(due); !slices.Equal(got, []string{"some"}) || !next.IsZero() {
		t.Fatalf("Claim = %v, next %v; a record without next must not be claimed", got, next)
	}
}

func testAck(t *testing.T, s tickler.Store) {
	mustCreate(t, s, Record("rec", "a", epoch))
	mustCreate(t, s, Record("one", "a", epoch))
	if err := s.Ack(ctx, tickler.Ack{ID: "rec", Version: 1, Next: epoch.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	r, _ := s.Get(ctx, "rec")
	if r.Version != 2 || !r.Next.Equal(epoch.Add(time.Hour)) {
		t.Fatalf("after Ack: version %d next %v", r.Version, r.Next)
	}
	due, _, _ := s.Claim(ctx, tickler.Due{}, epoch.Add(time.Minute), 10)
	if got := ids(due); !slices.Equal(got, []string{"one"}) {
		t.Fatalf("Claim after advancing = %v, want [one]", got)
	}
	due, _, _ = s.Claim(ctx, tickler.Due{}, epoch.Add(time.Hour), 10)
	if len(due) != 2 || due[1].ID != "rec" || due[1].Version != 2 || !due[1].At.Equal(epoch.Add(time.Hour)) {
		t.Fatalf("Claim = %+v", due)
	}
	if err := s.Ack(ctx, tickler.Ack{ID: "one", Version: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "one"); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("an Ack without next left the record: %v", err)
	}
	if recs, _, _ := s.List(ctx, "a", "", 10); len(recs) != 1 {
		t.Fatalf("List after removal has %d records", len(recs))
	}
	if err := s.Ack(ctx, tickler.Ack{ID: "one", Version: 1}); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("Ack of a removed record = %v, want ErrNotFound", err)
	}
}

func testAckConflict(t *testing.T, s tickler.Store) {
	mustCreate(t, s, Record("rec", "a", epoch))
	if err := s.Ack(ctx, tickler.Ack{ID: "rec", Version: 1, Next: epoch.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for _, a := range []tickler.Ack{
		{ID: "rec", Version: 1, Next: epoch.Add(2 * time.Hour)},
		{ID: "rec", Version: 1},
		{ID: "rec", Version: 3, Next: epoch.Add(2 * time.Hour)},
	} {
		if err := s.Ack(ctx, a); !errors.Is(err, tickler.ErrConflict) {
			t.Fatalf("stale Ack %+v = %v, want ErrConflict", a, err)
		}
	}
	r, err := s.Get(ctx, "rec")
	if err != nil || r.Version != 2 || !r.Next.Equal(epoch.Add(time.Hour)) {
		t.Fatalf("a stale Ack changed the record: %+v, %v", r, err)
	}
}

func testHistory(t *testing.T, s tickler.Store) {
	mustCreate(t, s, Record("rec", "a", epoch))
	for i := 1; i <= 5; i++ {
		out := &tickler.Outcome{
			ID: fmt.Sprintf("h%d", i), ScheduledMessageID: "rec", Occurrence: epoch.Add(time.Duration(i) * time.Hour),
			Status: tickler.StatusSuccess, Attempts: i, Response: json.RawMessage(`{"ok":true}`), RunID: "run",
			SentAt: epoch.Add(time.Duration(i)*time.Hour + time.Second),
		}
		if i == 3 {
			out.Status, out.Error, out.Response = tickler.StatusFailed, "boom", nil
		}
		if err := s.Ack(ctx, tickler.Ack{ID: "rec", Version: uint64(i), Next: epoch.Add(time.Duration(i+1) * time.Hour), Outcome: out, HistoryLimit: 4}); err != nil {
			t.Fatal(err)
		}
	}
	outs, more, err := s.History(ctx, "rec", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range outs {
		got = append(got, o.ID)
	}
	if !slices.Equal(got, []string{"h5", "h4", "h3", "h2"}) || more {
		t.Fatalf("History = %v more=%v, want the newest 4, newest first", got, more)
	}
	if o := outs[2]; o.Status != tickler.StatusFailed || o.Error != "boom" || o.Attempts != 3 || !o.Occurrence.Equal(epoch.Add(3*time.Hour)) {
		t.Fatalf("outcome = %+v", o)
	}
	if o := outs[0]; string(o.Response) != `{"ok":true}` || o.RunID != "run" || !o.SentAt.Equal(epoch.Add(5*time.Hour+time.Second)) {
		t.Fatalf("outcome = %+v", o)
	}
	outs, more, _ = s.History(ctx, "rec", 1, 2)
	if len(outs) != 2 || outs[0].ID != "h4" || !more {
		t.Fatalf("History offset 1 limit 2 = %v more=%v", outs, more)
	}
	outs, more, _ = s.History(ctx, "rec", 2, 2)
	if len(outs) != 2 || more {
		t.Fatalf("last History page = %d more=%v", len(outs), more)
	}
	if _, _, err := s.History(ctx, "nope", 0, 10); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("History of unknown = %v", err)
	}
}

func testConcurrent(t *testing.T, s tickler.Store) {
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				id := fmt.Sprintf("w%d-%02d", w, i)
				if err := s.Create(ctx, Record(id, fmt.Sprint(w), epoch.Add(time.Duration(i)*time.Second))); err != nil {
					t.Error(err)
					return
				}
				if err := s.Ack(ctx, tickler.Ack{ID: id, Version: 1, Next: epoch.Add(time.Hour)}); err != nil {
					t.Error(err)
				}
				if i%2 == 0 {
					if err := s.Delete(ctx, fmt.Sprint(w), id); err != nil {
						t.Error(err)
					}
				}
				if _, _, err := s.List(ctx, fmt.Sprint(w), "", 5); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	due, _, err := s.Claim(ctx, tickler.Due{}, epoch.Add(2*time.Hour), 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 8*12 {
		t.Fatalf("claimed %d records, want %d", len(due), 8*12)
	}
}

func testUpdate(t *testing.T, s tickler.Store) {
	mustCreate(t, s, Record("rec", "a", epoch))
	out := &tickler.Outcome{ID: "h1", ScheduledMessageID: "rec", Status: tickler.StatusSuccess, Occurrence: epoch, SentAt: epoch}
	if err := s.Ack(ctx, tickler.Ack{ID: "rec", Version: 1, Next: epoch.Add(time.Hour), Outcome: out, HistoryLimit: 10}); err != nil {
		t.Fatal(err)
	}
	up := Record("rec", "a", time.Time{})
	up.Message.Messages = up.Message.Messages[:1]
	up.Schedule = tickler.Cron("0 9 * * *")
	up.PausedAt = epoch.Add(time.Minute)
	up.Version = 1
	if err := s.Update(ctx, up.Clone()); !errors.Is(err, tickler.ErrConflict) {
		t.Fatalf("Update at a stale version = %v, want ErrConflict", err)
	}
	up.AgentID = "b"
	up.Version = 2
	if err := s.Update(ctx, up.Clone()); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("Update by another agent = %v, want ErrNotFound", err)
	}
	up.AgentID = "a"
	if err := s.Update(ctx, up.Clone()); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "rec")
	if err != nil {
		t.Fatal(err)
	}
	sameRecord(t, got, up)
	if got.Version != 3 || !got.PausedAt.Equal(epoch.Add(time.Minute)) {
		t.Fatalf("after Update: version %d, paused at %v", got.Version, got.PausedAt)
	}
	if due, _, _ := s.Claim(ctx, tickler.Due{}, epoch.Add(48*time.Hour), 10); len(due) != 0 {
		t.Fatalf("a record updated to no next occurrence is still claimed: %v", ids(due))
	}
	if h, _, _ := s.History(ctx, "rec", 0, 10); len(h) != 1 {
		t.Fatalf("Update dropped the history: %d entries", len(h))
	}
	up = got.Clone()
	up.PausedAt, up.Next = time.Time{}, epoch.Add(2*time.Hour)
	if err := s.Update(ctx, up); err != nil {
		t.Fatal(err)
	}
	due, _, _ := s.Claim(ctx, tickler.Due{}, epoch.Add(48*time.Hour), 10)
	if len(due) != 1 || due[0].Version != 4 || !due[0].At.Equal(epoch.Add(2*time.Hour)) {
		t.Fatalf("Claim after resuming = %+v", due)
	}
	if err := s.Update(ctx, Record("nope", "a", epoch)); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("Update of an unknown record = %v", err)
	}
}

func testCount(t *testing.T, s tickler.Store) {
	for i := range 7 {
		mustCreate(t, s, Record(fmt.Sprintf("a-%d", i), "a", epoch))
	}
	mustCreate(t, s, Record("b-0", "b", epoch))
	mustCreate(t, s, Record("ab-0", "ab", epoch))
	if err := s.Delete(ctx, "a", "a-3"); err != nil {
		t.Fatal(err)
	}
	for agent, want := range map[string]int{"a": 6, "b": 1, "ab": 1, "": 0, "c": 0} {
		if n, err := s.Count(ctx, agent); err != nil || n != want {
			t.Fatalf("Count(%q) = %d, %v; want %d", agent, n, err, want)
		}
	}
}
