package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
)

// The cases about firing: claim, ack, history, concurrent use, and what a
// damaged record leaves valid.

func testClaim(t *testing.T, s tickler.Store) {
	// Two records share an instant: the id breaks the tie.
	mustCreate(t, s, Record("c", "a", epoch.Add(2*time.Second)))
	mustCreate(t, s, Record("b", "a", epoch.Add(time.Second)))
	mustCreate(t, s, Record("a", "a", epoch.Add(2*time.Second)))
	mustCreate(t, s, Record("d", "a", epoch.Add(time.Hour)))

	res := claim(t, s, tickler.Due{}, epoch.Add(2*time.Second), 10)
	if got := ids(res.Due); !slices.Equal(got, []string{"b", "a", "c"}) {
		t.Fatalf("Claim = %v, want [b a c] (Until is inclusive, ties by id)", got)
	}
	for _, d := range res.Due {
		if d.Version != 1 {
			t.Fatalf("claimed version %d, want 1", d.Version)
		}
	}
	if !res.Due[0].At.Equal(epoch.Add(time.Second)) {
		t.Fatalf("claimed At = %v", res.Due[0].At)
	}

	res = claim(t, s, tickler.Due{}, epoch.Add(2*time.Second), 2)
	if got := ids(res.Due); !slices.Equal(got, []string{"b", "a"}) {
		t.Fatalf("Claim limit 2 = %v", got)
	}
	res = claim(t, s, res.Due[1], epoch.Add(2*time.Second), 2)
	if got := ids(res.Due); !slices.Equal(got, []string{"c"}) {
		t.Fatalf("Claim after the cursor = %v", got)
	}
	// The cursor need not be a stored record.
	res = claim(t, s, tickler.Due{ID: "aa", At: epoch.Add(2 * time.Second)}, epoch.Add(2*time.Second), 10)
	if got := ids(res.Due); !slices.Equal(got, []string{"c"}) {
		t.Fatalf("Claim after an unstored cursor = %v", got)
	}
	res = claim(t, s, tickler.Due{ID: "\xff", At: epoch.Add(2 * time.Second)}, epoch.Add(2*time.Hour), 10)
	if got := ids(res.Due); !slices.Equal(got, []string{"d"}) {
		t.Fatalf("Claim past everything = %v", got)
	}
	// Claim changes nothing: it can be repeated.
	if res := claim(t, s, tickler.Due{}, epoch.Add(2*time.Second), 10); len(res.Due) != 3 {
		t.Fatalf("a second Claim = %v", ids(res.Due))
	}
}

// testClaimNext checks ClaimResult.Next: the next occurrence beyond Until,
// zero if there is none, and never a time beyond records still in range
// (so that a caller who sleeps until Next misses nothing).
func testClaimNext(t *testing.T, s tickler.Store) {
	if res := claim(t, s, tickler.Due{}, epoch, 10); len(res.Due) != 0 || !res.Next.IsZero() {
		t.Fatalf("Claim of an empty store = %v, Next %v", ids(res.Due), res.Next)
	}
	mustCreate(t, s, Record("far", "a", epoch.Add(24*time.Hour)))
	mustCreate(t, s, Record("later", "a", epoch.Add(time.Hour)))
	res := claim(t, s, tickler.Due{}, epoch, 10)
	if len(res.Due) != 0 || !res.Next.Equal(epoch.Add(time.Hour)) {
		t.Fatalf("Claim of nothing due = %v, Next %v; want Next %v", ids(res.Due), res.Next, epoch.Add(time.Hour))
	}
	for i := range 3 {
		mustCreate(t, s, Record(fmt.Sprintf("due-%d", i), "a", epoch.Add(time.Duration(i)*time.Second)))
	}
	res = claim(t, s, tickler.Due{}, epoch.Add(time.Minute), 10)
	if len(res.Due) != 3 || !res.Next.Equal(epoch.Add(time.Hour)) {
		t.Fatalf("Claim = %v, Next %v; want 3 due and Next %v", ids(res.Due), res.Next, epoch.Add(time.Hour))
	}
	// Stopped at the limit with records still in range: Next is zero.
	res = claim(t, s, tickler.Due{}, epoch.Add(time.Minute), 2)
	if len(res.Due) != 2 || !res.Next.IsZero() {
		t.Fatalf("Claim stopped at its limit = %v, Next %v; want Next zero", ids(res.Due), res.Next)
	}
	// The limit reached exactly: Next may be zero or the next occurrence,
	// nothing else.
	res = claim(t, s, tickler.Due{}, epoch.Add(time.Minute), 3)
	if len(res.Due) != 3 || !(res.Next.IsZero() || res.Next.Equal(epoch.Add(time.Hour))) {
		t.Fatalf("Claim with the limit reached exactly = %v, Next %v", ids(res.Due), res.Next)
	}
	// From a cursor past the range, Next still names the first beyond Until.
	res = claim(t, s, res.Due[2], epoch.Add(time.Minute), 10)
	if len(res.Due) != 0 || !res.Next.Equal(epoch.Add(time.Hour)) {
		t.Fatalf("Claim after the last due = %v, Next %v", ids(res.Due), res.Next)
	}
	// Next names the nearest occurrence beyond Until.
	res = claim(t, s, tickler.Due{}, epoch.Add(2*time.Hour), 10)
	if len(res.Due) != 4 || !res.Next.Equal(epoch.Add(24*time.Hour)) {
		t.Fatalf("Claim up to +2h = %v, Next %v; want Next %v", ids(res.Due), res.Next, epoch.Add(24*time.Hour))
	}
	res = claim(t, s, tickler.Due{}, epoch.Add(48*time.Hour), 10)
	if len(res.Due) != 5 || !res.Next.IsZero() {
		t.Fatalf("Claim of everything = %v, Next %v; want Next zero", ids(res.Due), res.Next)
	}
}

func testClaimNoNext(t *testing.T, s tickler.Store) {
	mustCreate(t, s, Record("none", "a", time.Time{}))
	mustCreate(t, s, Record("some", "a", epoch))
	res := claim(t, s, tickler.Due{}, epoch.Add(24*time.Hour*365), 10)
	if got := ids(res.Due); !slices.Equal(got, []string{"some"}) || !res.Next.IsZero() {
		t.Fatalf("Claim = %v, Next %v; a record without next must not be claimed", got, res.Next)
	}
}

func testAck(t *testing.T, s tickler.Store) {
	mustCreate(t, s, Record("rec", "a", epoch))
	mustCreate(t, s, Record("one", "a", epoch))
	mustAck(t, s, tickler.AckParams{ID: "rec", Version: 1, Next: epoch.Add(time.Hour)})
	r := mustGet(t, s, "rec")
	if r.Version != 2 || !r.Next.Equal(epoch.Add(time.Hour)) {
		t.Fatalf("after Ack: version %d next %v", r.Version, r.Next)
	}
	want := Record("rec", "a", epoch.Add(time.Hour))
	want.Schedule = Record("rec", "a", epoch).Schedule
	sameRecord(t, r, want)
	res := claim(t, s, tickler.Due{}, epoch.Add(time.Minute), 10)
	if got := ids(res.Due); !slices.Equal(got, []string{"one"}) {
		t.Fatalf("Claim after advancing = %v, want [one]", got)
	}
	res = claim(t, s, tickler.Due{}, epoch.Add(time.Hour), 10)
	if len(res.Due) != 2 || res.Due[1].ID != "rec" || res.Due[1].Version != 2 || !res.Due[1].At.Equal(epoch.Add(time.Hour)) {
		t.Fatalf("Claim = %+v", res.Due)
	}
	mustAck(t, s, tickler.AckParams{ID: "one", Version: 1})
	if _, err := s.Get(ctx, "", "one"); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("an Ack without next left the record: %v", err)
	}
	if res := list(t, s, "a", "", 10); len(res.Records) != 1 {
		t.Fatalf("List after removal has %d records", len(res.Records))
	}
	if n, _ := s.Count(ctx, "a"); n != 1 {
		t.Fatalf("Count after removal = %d", n)
	}
	if err := s.Ack(ctx, tickler.AckParams{ID: "one", Version: 1}); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("Ack of a removed record = %v, want ErrNotFound", err)
	}
}

func testAckConflict(t *testing.T, s tickler.Store) {
	mustCreate(t, s, Record("rec", "a", epoch))
	mustAck(t, s, tickler.AckParams{ID: "rec", Version: 1, Next: epoch.Add(time.Hour)})
	out := &tickler.Outcome{ID: "h", ScheduledMessageID: "rec", Status: tickler.StatusSuccess, Occurrence: epoch, SentAt: epoch}
	for _, a := range []tickler.AckParams{
		{ID: "rec", Version: 1, Next: epoch.Add(2 * time.Hour)},
		{ID: "rec", Version: 1},
		{ID: "rec", Version: 3, Next: epoch.Add(2 * time.Hour), Outcome: out, HistoryLimit: 10},
	} {
		if err := s.Ack(ctx, a); !errors.Is(err, tickler.ErrConflict) {
			t.Fatalf("stale Ack %+v = %v, want ErrConflict", a, err)
		}
	}
	r, err := s.Get(ctx, "", "rec")
	if err != nil || r.Version != 2 || !r.Next.Equal(epoch.Add(time.Hour)) {
		t.Fatalf("a stale Ack changed the record: %+v, %v", r, err)
	}
	if res := history(t, s, "rec", 0, 10); len(res.Outcomes) != 0 {
		t.Fatalf("a stale Ack appended to the history: %v", res.Outcomes)
	}
}

func testAckHistoryOnly(t *testing.T, s tickler.Store) {
	mustCreate(t, s, Record("rec", "a", epoch.Add(time.Hour)))
	trig := &tickler.Outcome{
		ID: "t1", ScheduledMessageID: "rec", Occurrence: epoch, Status: tickler.StatusSuccess,
		Attempts: 1, Triggered: true, SentAt: epoch.Add(time.Second),
	}
	// Version and Next are ignored: neither a stale version nor a zero
	// Next (which would remove the record) matters.
	for _, a := range []tickler.AckParams{
		{ID: "rec", Version: 7, Next: epoch.Add(5 * time.Hour), Outcome: trig, HistoryLimit: 10, HistoryOnly: true},
		{ID: "rec", Outcome: trig, HistoryLimit: 10, HistoryOnly: true},
	} {
		mustAck(t, s, a)
		r := mustGet(t, s, "rec")
		if r.Version != 1 || !r.Next.Equal(epoch.Add(time.Hour)) {
			t.Fatalf("after a history-only Ack: version %d next %v, want 1 and %v", r.Version, r.Next, epoch.Add(time.Hour))
		}
		sameRecord(t, r, Record("rec", "a", epoch.Add(time.Hour)))
	}
	res := claim(t, s, tickler.Due{}, epoch.Add(2*time.Hour), 10)
	if len(res.Due) != 1 || res.Due[0].Version != 1 || !res.Due[0].At.Equal(epoch.Add(time.Hour)) {
		t.Fatalf("Claim after history-only Acks = %+v", res.Due)
	}
	h := history(t, s, "rec", 0, 10)
	if len(h.Outcomes) != 2 {
		t.Fatalf("History after two history-only Acks = %d outcomes", len(h.Outcomes))
	}
	if o := h.Outcomes[0]; !o.Triggered || o.ID != "t1" || o.Attempts != 1 || !o.SentAt.Equal(epoch.Add(time.Second)) {
		t.Fatalf("history-only outcome = %+v", o)
	}

	// The occurrence claimed before them still acks at its version, and
	// its outcome is newer than theirs.
	sched := &tickler.Outcome{ID: "s1", ScheduledMessageID: "rec", Occurrence: epoch.Add(time.Hour), Status: tickler.StatusSuccess, Attempts: 1, SentAt: epoch.Add(time.Hour)}
	mustAck(t, s, tickler.AckParams{ID: "rec", Version: 1, Next: epoch.Add(2 * time.Hour), Outcome: sched, HistoryLimit: 10})
	h = history(t, s, "rec", 0, 10)
	if len(h.Outcomes) != 3 || h.Outcomes[0].ID != "s1" || h.Outcomes[0].Triggered || !h.Outcomes[1].Triggered {
		t.Fatalf("History = %+v", h.Outcomes)
	}

	// The history limit bounds them as it bounds the others.
	mustAck(t, s, tickler.AckParams{ID: "rec", Outcome: &tickler.Outcome{ID: "t2", ScheduledMessageID: "rec", Status: tickler.StatusFailed, Triggered: true, Error: "boom", SentAt: epoch}, HistoryLimit: 2, HistoryOnly: true})
	h = history(t, s, "rec", 0, 10)
	if len(h.Outcomes) != 2 || h.Outcomes[0].ID != "t2" || h.Outcomes[1].ID != "s1" || h.More {
		t.Fatalf("History after a history-only Ack with limit 2 = %+v", h.Outcomes)
	}
	if r := mustGet(t, s, "rec"); r.Version != 2 || !r.Next.Equal(epoch.Add(2*time.Hour)) {
		t.Fatalf("after the last history-only Ack: version %d next %v", r.Version, r.Next)
	}

	if err := s.Ack(ctx, tickler.AckParams{ID: "nope", Outcome: trig, HistoryLimit: 10, HistoryOnly: true}); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("history-only Ack of an unknown record = %v, want ErrNotFound", err)
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
		if i == 4 {
			out.Status, out.Response = tickler.StatusSkipped, nil
		}
		mustAck(t, s, tickler.AckParams{ID: "rec", Version: uint64(i), Next: epoch.Add(time.Duration(i+1) * time.Hour), Outcome: out, HistoryLimit: 4})
	}
	// An ack without an outcome, or with a limit of 0, appends nothing.
	mustAck(t, s, tickler.AckParams{ID: "rec", Version: 6, Next: epoch.Add(7 * time.Hour)})
	mustAck(t, s, tickler.AckParams{ID: "rec", Version: 7, Next: epoch.Add(8 * time.Hour), HistoryLimit: 0,
		Outcome: &tickler.Outcome{ID: "h-none", ScheduledMessageID: "rec", Status: tickler.StatusSuccess}})

	res := history(t, s, "rec", 0, 10)
	var got []string
	for _, o := range res.Outcomes {
		got = append(got, o.ID)
	}
	if !slices.Equal(got, []string{"h5", "h4", "h3", "h2"}) || res.More {
		t.Fatalf("History = %v More=%v, want the newest 4, newest first", got, res.More)
	}
	if o := res.Outcomes[2]; o.Status != tickler.StatusFailed || o.Error != "boom" || o.Attempts != 3 || !o.Occurrence.Equal(epoch.Add(3*time.Hour)) || o.Response != nil {
		t.Fatalf("outcome = %+v", o)
	}
	if o := res.Outcomes[1]; o.Status != tickler.StatusSkipped {
		t.Fatalf("outcome = %+v", o)
	}
	if o := res.Outcomes[0]; string(o.Response) != `{"ok":true}` || o.RunID != "run" || o.ScheduledMessageID != "rec" || o.Triggered ||
		!o.SentAt.Equal(epoch.Add(5*time.Hour+time.Second)) {
		t.Fatalf("outcome = %+v", o)
	}
	res = history(t, s, "rec", 1, 2)
	if len(res.Outcomes) != 2 || res.Outcomes[0].ID != "h4" || !res.More {
		t.Fatalf("History offset 1 limit 2 = %v More=%v", res.Outcomes, res.More)
	}
	res = history(t, s, "rec", 2, 2)
	if len(res.Outcomes) != 2 || res.More {
		t.Fatalf("last History page = %d More=%v", len(res.Outcomes), res.More)
	}
	res = history(t, s, "rec", 4, 2)
	if len(res.Outcomes) != 0 || res.More {
		t.Fatalf("History past the end = %d More=%v", len(res.Outcomes), res.More)
	}
	if _, err := s.History(ctx, tickler.HistoryParams{ID: "nope", Limit: 10}); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("History of unknown = %v", err)
	}
	mustCreate(t, s, Record("fresh", "a", epoch))
	if res := history(t, s, "fresh", 0, 10); len(res.Outcomes) != 0 || res.More {
		t.Fatalf("History of a fresh record = %v More=%v", res.Outcomes, res.More)
	}
}

func testOutcomeNoAliasing(t *testing.T, s tickler.Store) {
	mustCreate(t, s, Record("rec", "a", epoch))
	out := &tickler.Outcome{ID: "h", ScheduledMessageID: "rec", Status: tickler.StatusSuccess, Response: json.RawMessage(`{"ok":true}`), SentAt: epoch}
	mustAck(t, s, tickler.AckParams{ID: "rec", Outcome: out, HistoryLimit: 10, HistoryOnly: true})
	copy(out.Response, `{"no":true}`)
	out.ID = "changed"
	got := history(t, s, "rec", 0, 10).Outcomes[0]
	copy(got.Response, `{"xx":true}`)
	again := history(t, s, "rec", 0, 10).Outcomes[0]
	if again.ID != "h" || string(again.Response) != `{"ok":true}` {
		t.Fatalf("the stored outcome changed with the caller's: %+v (%s)", again, again.Response)
	}
}

func testConcurrent(t *testing.T, s tickler.Store) {
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			agent := fmt.Sprint(w)
			for i := range 25 {
				id := fmt.Sprintf("w%d-%02d", w, i)
				if err := s.Create(ctx, Record(id, agent, epoch.Add(time.Duration(i)*time.Second)), tickler.CreateParams{MaxPerAgent: 25}); err != nil {
					t.Error(err)
					return
				}
				if err := s.Ack(ctx, tickler.AckParams{ID: id, Version: 1, Next: epoch.Add(time.Hour)}); err != nil {
					t.Error(err)
				}
				if err := s.Ack(ctx, tickler.AckParams{ID: id, HistoryOnly: true, HistoryLimit: 2,
					Outcome: &tickler.Outcome{ID: id, ScheduledMessageID: id, Status: tickler.StatusSuccess, SentAt: epoch}}); err != nil {
					t.Error(err)
				}
				if i%2 == 0 {
					if err := s.Delete(ctx, agent, id); err != nil {
						t.Error(err)
					}
				}
				if _, err := s.List(ctx, tickler.ListParams{AgentID: agent, Limit: 5}); err != nil {
					t.Error(err)
				}
				if _, err := s.Claim(ctx, tickler.ClaimParams{Until: epoch.Add(time.Hour), Limit: 10}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wait(t, &wg)
	res := claim(t, s, tickler.Due{}, epoch.Add(2*time.Hour), 1000)
	if len(res.Due) != 8*12 {
		t.Fatalf("claimed %d records, want %d", len(res.Due), 8*12)
	}
	for w := range 8 {
		if n, _ := s.Count(ctx, fmt.Sprint(w)); n != 12 {
			t.Fatalf("Count(%d) = %d, want 12", w, n)
		}
	}
}

// testDamaged checks that a damaged record holds up nothing else: Claim
// returns the others, with an error matching ErrDamaged that names it, and
// Get of it fails with ErrDamaged; Delete clears it.
func testDamaged(t *testing.T, s tickler.Store, damage func(*testing.T, tickler.Store, string)) {
	const bad = "damaged-record"
	mustCreate(t, s, Record("a-good", "agent", epoch))
	mustCreate(t, s, Record(bad, "agent", epoch.Add(time.Second)))
	mustCreate(t, s, Record("c-good", "agent", epoch.Add(2*time.Second)))
	mustCreate(t, s, Record("later", "agent", epoch.Add(time.Hour)))
	damage(t, s, bad)

	for _, limit := range []int{10, 2} {
		res, err := s.Claim(ctx, tickler.ClaimParams{Until: epoch.Add(time.Minute), Limit: limit})
		if !errors.Is(err, tickler.ErrDamaged) || !strings.Contains(err.Error(), bad) {
			t.Fatalf("Claim (limit %d) over a damaged record: error %v, want one matching ErrDamaged naming %s", limit, err, bad)
		}
		if got := ids(res.Due); !slices.Equal(got, []string{"a-good", "c-good"}) {
			t.Fatalf("Claim (limit %d) beside ErrDamaged = %v, want the others [a-good c-good]", limit, got)
		}
		if limit == 10 && !res.Next.Equal(epoch.Add(time.Hour)) {
			t.Fatalf("Claim beside ErrDamaged: Next %v, want %v", res.Next, epoch.Add(time.Hour))
		}
		for _, d := range res.Due {
			if d.Version != 1 {
				t.Fatalf("Claim beside ErrDamaged: %s at version %d", d.ID, d.Version)
			}
		}
	}
	// A claim whose range misses it is not troubled by it.
	if res := claim(t, s, tickler.Due{ID: bad, At: epoch.Add(time.Second)}, epoch.Add(time.Minute), 10); !slices.Equal(ids(res.Due), []string{"c-good"}) {
		t.Fatalf("Claim after the damaged record = %v", ids(res.Due))
	}

	for _, agent := range []string{"", "agent"} {
		if _, err := s.Get(ctx, agent, bad); !errors.Is(err, tickler.ErrDamaged) {
			t.Fatalf("Get(%q) of the damaged record = %v, want ErrDamaged", agent, err)
		}
	}
	if _, err := s.Get(ctx, "other", bad); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("Get by another agent of the damaged record = %v, want ErrNotFound", err)
	}
	for _, id := range []string{"a-good", "c-good"} {
		sameRecord(t, mustGet(t, s, id), Record(id, "agent", mustGet(t, s, id).Next))
	}

	// Delete is the way out.
	if err := s.Delete(ctx, "agent", bad); err != nil {
		t.Fatalf("Delete of the damaged record = %v", err)
	}
	if res := claim(t, s, tickler.Due{}, epoch.Add(time.Minute), 10); !slices.Equal(ids(res.Due), []string{"a-good", "c-good"}) {
		t.Fatalf("Claim after deleting the damaged record = %v", ids(res.Due))
	}
	if _, err := s.Get(ctx, "", bad); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("Get after deleting the damaged record = %v", err)
	}
	if n, _ := s.Count(ctx, "agent"); n != 3 {
		t.Fatalf("Count after deleting the damaged record = %d, want 3", n)
	}
}
