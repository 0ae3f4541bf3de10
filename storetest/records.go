package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
)

// The cases about records and who sees them: create, get, list, delete,
// update, count, agent scoping and the per-agent limit.

func testCreateGetRoundTrip(t *testing.T, s tickler.Store) {
	want := Record("id-1", "agent", epoch)
	r := want.Clone()
	r.Version = 42 // ignored: Create sets 1
	mustCreate(t, s, r)
	if r.Version != 1 {
		t.Fatalf("Create left the caller's Version at %d, want 1", r.Version)
	}
	got := mustGet(t, s, "id-1")
	sameRecord(t, got, want)
	if got.Version != 1 {
		t.Fatalf("Version = %d, want 1", got.Version)
	}
	cron := &tickler.Record{ID: "id-2", AgentID: "agent", Message: want.Message, Schedule: tickler.Cron("*/5 * * * *"), Next: epoch}
	mustCreate(t, s, cron.Clone())
	sameRecord(t, mustGet(t, s, "id-2"), cron)
	paused := Record("id-3", "agent", time.Time{})
	paused.PausedAt = epoch.Add(time.Minute)
	mustCreate(t, s, paused.Clone())
	sameRecord(t, mustGet(t, s, "id-3"), paused)
}

func testCreateDuplicate(t *testing.T, s tickler.Store) {
	mustCreate(t, s, Record("id-1", "agent", epoch))
	if err := s.Create(ctx, Record("id-1", "other", epoch.Add(time.Hour)), tickler.CreateParams{}); !errors.Is(err, tickler.ErrExists) {
		t.Fatalf("duplicate Create = %v, want ErrExists", err)
	}
	if got := mustGet(t, s, "id-1"); got.AgentID != "agent" || !got.Next.Equal(epoch) {
		t.Fatal("a duplicate Create overwrote the record")
	}
	if n, _ := s.Count(ctx, "other"); n != 0 {
		t.Fatalf("a duplicate Create counts for its agent: %d", n)
	}
	if res := claim(t, s, tickler.Due{}, epoch.Add(2*time.Hour), 10); len(res.Due) != 1 {
		t.Fatalf("a duplicate Create is claimed: %v", ids(res.Due))
	}
}

func testGetUnknown(t *testing.T, s tickler.Store) {
	for _, agent := range []string{"", "agent"} {
		if _, err := s.Get(ctx, agent, "nope"); !errors.Is(err, tickler.ErrNotFound) {
			t.Fatalf("Get(%q, unknown) = %v, want ErrNotFound", agent, err)
		}
	}
}

func testNoAliasing(t *testing.T, s tickler.Store) {
	r := Record("id-1", "agent", epoch)
	mustCreate(t, s, r)
	*r.Message.Messages[0].Name = "changed"
	r.Message.Messages[1].Content.Parts[0].Text = "changed"
	r.Retry.MaxAttempts = 99
	got := mustGet(t, s, "id-1")
	got.Message.Messages[0].Content.Text = "changed too"
	got.Retry.Base = time.Hour
	sameRecord(t, mustGet(t, s, "id-1"), Record("id-1", "agent", epoch))
}

func testRetryRoundTrip(t *testing.T, s tickler.Store) {
	with := Record("with", "a", epoch)
	without := Record("without", "a", epoch)
	without.Retry = nil
	noCap := Record("no-cap", "a", epoch)
	noCap.Retry = &tickler.RetryPolicy{MaxAttempts: 1}
	for _, r := range []*tickler.Record{with, without, noCap} {
		mustCreate(t, s, r.Clone())
		sameRetry(t, mustGet(t, s, r.ID).Retry, r.Retry)
	}
	for _, r := range list(t, s, "a", "", 10).Records {
		switch r.ID {
		case "with":
			sameRetry(t, r.Retry, with.Retry)
		case "without":
			sameRetry(t, r.Retry, nil)
		}
	}

	// An ack rewrites what it must and keeps the policy.
	mustAck(t, s, tickler.AckParams{ID: "with", Version: 1, Next: epoch.Add(time.Hour)})
	mustAck(t, s, tickler.AckParams{ID: "without", Version: 1, Next: epoch.Add(time.Hour)})
	out := &tickler.Outcome{ID: "h", ScheduledMessageID: "with", Status: tickler.StatusSuccess, Occurrence: epoch, SentAt: epoch}
	mustAck(t, s, tickler.AckParams{ID: "with", HistoryOnly: true, Outcome: out, HistoryLimit: 10})
	sameRetry(t, mustGet(t, s, "with").Retry, with.Retry)
	sameRetry(t, mustGet(t, s, "without").Retry, nil)

	// Update sets and clears it.
	up := mustGet(t, s, "with")
	up.Retry = nil
	if err := s.Update(ctx, up, tickler.UpdateParams{}); err != nil {
		t.Fatal(err)
	}
	sameRetry(t, mustGet(t, s, "with").Retry, nil)
	up = mustGet(t, s, "without")
	up.Retry = &tickler.RetryPolicy{MaxAttempts: 10, Base: time.Millisecond, Cap: 7 * 24 * time.Hour}
	if err := s.Update(ctx, up.Clone(), tickler.UpdateParams{}); err != nil {
		t.Fatal(err)
	}
	sameRetry(t, mustGet(t, s, "without").Retry, up.Retry)
}

// testLabelsRoundTrip checks name, description and conversation id: kept
// as given, absent kept absent, through acks and updates.
func testLabelsRoundTrip(t *testing.T, s tickler.Store) {
	with := Record("with", "a", epoch)
	without := Record("without", "a", epoch)
	without.Name, without.Description, without.ConversationID = "", "", ""
	convOnly := Record("conv-only", "a", epoch)
	convOnly.Name, convOnly.Description = "", ""
	for _, r := range []*tickler.Record{with, without, convOnly} {
		mustCreate(t, s, r.Clone())
		sameRecord(t, mustGet(t, s, r.ID), r)
	}

	// An ack rewrites what it must and keeps the labels.
	mustAck(t, s, tickler.AckParams{ID: "with", Version: 1, Next: epoch.Add(time.Hour)})
	out := &tickler.Outcome{ID: "h", ScheduledMessageID: "with", Status: tickler.StatusSuccess, Occurrence: epoch, SentAt: epoch}
	mustAck(t, s, tickler.AckParams{ID: "with", HistoryOnly: true, Outcome: out, HistoryLimit: 10})
	got := mustGet(t, s, "with")
	if got.Name != with.Name || got.Description != with.Description || got.ConversationID != with.ConversationID {
		t.Fatalf("after acks: labels %q/%q/%q", got.Name, got.Description, got.ConversationID)
	}

	// Update sets and clears them.
	got.Name, got.Description, got.ConversationID = "", "", ""
	if err := s.Update(ctx, got.Clone(), tickler.UpdateParams{}); err != nil {
		t.Fatal(err)
	}
	if r := mustGet(t, s, "with"); r.Name != "" || r.Description != "" || r.ConversationID != "" {
		t.Fatalf("Update did not clear the labels: %q/%q/%q", r.Name, r.Description, r.ConversationID)
	}
	up := mustGet(t, s, "without")
	up.Name = "named at last"
	if err := s.Update(ctx, up.Clone(), tickler.UpdateParams{}); err != nil {
		t.Fatal(err)
	}
	sameRecord(t, mustGet(t, s, "without"), up)
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
		res := list(t, s, "a", after, 10)
		for _, r := range res.Records {
			if r.AgentID != "a" {
				t.Fatalf("listed agent %s's record", r.AgentID)
			}
			got = append(got, r.ID)
		}
		if wantMore := len(got) < 25; res.More != wantMore {
			t.Fatalf("More = %v after %d records", res.More, len(got))
		}
		if !res.More {
			break
		}
		after = res.Records[len(res.Records)-1].ID
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("listed %v\nwant %v", got, ids)
	}
	sameRecord(t, list(t, s, "a", "", 1).Records[0], Record("id-000", "a", epoch.Add(25*time.Minute)))
	res := list(t, s, "a", "id-014", 10)
	if len(res.Records) != 10 || res.More || res.Records[0].ID != "id-015" {
		t.Fatalf("page after id-014: %d records, More=%v", len(res.Records), res.More)
	}
	res = list(t, s, "a", "id-0145", 1) // an After that is not stored
	if len(res.Records) != 1 || res.Records[0].ID != "id-015" || !res.More {
		t.Fatalf("page after a missing id = %v, More=%v", res.Records, res.More)
	}
	res = list(t, s, "a", "id-024", 10)
	if len(res.Records) != 0 || res.More {
		t.Fatalf("page after the last id = %d records, More=%v", len(res.Records), res.More)
	}
	res = list(t, s, "nobody", "", 10)
	if len(res.Records) != 0 || res.More {
		t.Fatalf("unknown agent listed %d records", len(res.Records))
	}
}

func testDelete(t *testing.T, s tickler.Store) {
	mustCreate(t, s, Record("id-1", "a", epoch))
	mustAck(t, s, tickler.AckParams{ID: "id-1", HistoryOnly: true, HistoryLimit: 10,
		Outcome: &tickler.Outcome{ID: "h", ScheduledMessageID: "id-1", Status: tickler.StatusSuccess, Occurrence: epoch, SentAt: epoch}})
	if err := s.Delete(ctx, "a", "id-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "", "id-1"); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("Get after Delete = %v", err)
	}
	if res := list(t, s, "a", "", 10); len(res.Records) != 0 {
		t.Fatal("List shows a deleted record")
	}
	if n, _ := s.Count(ctx, "a"); n != 0 {
		t.Fatalf("Count after Delete = %d", n)
	}
	if res := claim(t, s, tickler.Due{}, epoch.Add(time.Hour), 10); len(res.Due) != 0 {
		t.Fatal("Claim returns a deleted record")
	}
	if _, err := s.History(ctx, tickler.HistoryParams{ID: "id-1", Limit: 10}); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("History after Delete = %v", err)
	}
	if err := s.Delete(ctx, "a", "id-1"); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("second Delete = %v, want ErrNotFound", err)
	}
	// A new record under the id starts afresh: no history of the old one.
	mustCreate(t, s, Record("id-1", "a", epoch))
	if res := history(t, s, "id-1", 0, 10); len(res.Outcomes) != 0 {
		t.Fatalf("a record created under a deleted id has the old history: %v", res.Outcomes)
	}
}

// testAgentScoping checks the one scoping rule: Get, Delete, History and
// Update treat a record of another agent as missing, and an empty agent id
// matches any agent.
func testAgentScoping(t *testing.T, s tickler.Store) {
	want := Record("rec", "a", epoch)
	mustCreate(t, s, want.Clone())
	mustAck(t, s, tickler.AckParams{ID: "rec", HistoryOnly: true, HistoryLimit: 10,
		Outcome: &tickler.Outcome{ID: "h", ScheduledMessageID: "rec", Status: tickler.StatusSuccess, Occurrence: epoch, SentAt: epoch}})

	for _, agent := range []string{"b", "ab", "A"} {
		if _, err := s.Get(ctx, agent, "rec"); !errors.Is(err, tickler.ErrNotFound) {
			t.Fatalf("Get by agent %q = %v, want ErrNotFound", agent, err)
		}
		if _, err := s.History(ctx, tickler.HistoryParams{AgentID: agent, ID: "rec", Limit: 10}); !errors.Is(err, tickler.ErrNotFound) {
			t.Fatalf("History by agent %q = %v, want ErrNotFound", agent, err)
		}
		up := want.Clone()
		up.AgentID, up.Version, up.Next = agent, 1, epoch.Add(time.Hour)
		if err := s.Update(ctx, up, tickler.UpdateParams{}); !errors.Is(err, tickler.ErrNotFound) {
			t.Fatalf("Update by agent %q = %v, want ErrNotFound", agent, err)
		}
		if err := s.Delete(ctx, agent, "rec"); !errors.Is(err, tickler.ErrNotFound) {
			t.Fatalf("Delete by agent %q = %v, want ErrNotFound", agent, err)
		}
	}
	got := mustGet(t, s, "rec")
	sameRecord(t, got, want)
	if got.Version != 1 {
		t.Fatalf("another agent's calls changed the record: version %d", got.Version)
	}
	if n, _ := s.Count(ctx, "a"); n != 1 {
		t.Fatalf("Count(a) = %d after another agent's calls", n)
	}

	for _, agent := range []string{"a", ""} {
		r, err := s.Get(ctx, agent, "rec")
		if err != nil {
			t.Fatalf("Get by agent %q = %v", agent, err)
		}
		sameRecord(t, r, want)
		res, err := s.History(ctx, tickler.HistoryParams{AgentID: agent, ID: "rec", Limit: 10})
		if err != nil || len(res.Outcomes) != 1 {
			t.Fatalf("History by agent %q = %v, %v", agent, res.Outcomes, err)
		}
	}

	// Update with an empty agent id matches the record's agent, and keeps it.
	up := want.Clone()
	up.AgentID, up.Version, up.Next = "", 1, epoch.Add(time.Hour)
	if err := s.Update(ctx, up, tickler.UpdateParams{}); err != nil {
		t.Fatalf("Update with an empty agent id = %v", err)
	}
	got = mustGet(t, s, "rec")
	if got.AgentID != "a" || got.Version != 2 || !got.Next.Equal(epoch.Add(time.Hour)) {
		t.Fatalf("after Update with an empty agent id: agent %q version %d next %v", got.AgentID, got.Version, got.Next)
	}
	if res := list(t, s, "a", "", 10); len(res.Records) != 1 || res.Records[0].AgentID != "a" {
		t.Fatalf("List(a) after Update with an empty agent id = %v", res.Records)
	}
	if n, _ := s.Count(ctx, ""); n != 0 {
		t.Fatalf("Count(\"\") = %d after Update with an empty agent id", n)
	}

	if err := s.Delete(ctx, "", "rec"); err != nil {
		t.Fatalf("Delete with an empty agent id = %v", err)
	}
	if _, err := s.Get(ctx, "", "rec"); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("Get after Delete with an empty agent id = %v", err)
	}
	if n, _ := s.Count(ctx, "a"); n != 0 {
		t.Fatalf("Count(a) = %d after Delete with an empty agent id", n)
	}
}

func testMaxPerAgent(t *testing.T, s tickler.Store) {
	limit := tickler.CreateParams{MaxPerAgent: 3}
	for i := range 3 {
		if err := s.Create(ctx, Record(fmt.Sprintf("a-%d", i), "a", epoch), limit); err != nil {
			t.Fatal(err)
		}
	}
	r := Record("a-3", "a", epoch)
	err := s.Create(ctx, r, limit)
	if !errors.Is(err, tickler.ErrLimitExceeded) {
		t.Fatalf("Create over the limit = %v, want ErrLimitExceeded", err)
	}
	if _, err := s.Get(ctx, "", "a-3"); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("Create over the limit stored the record: %v", err)
	}
	if n, _ := s.Count(ctx, "a"); n != 3 {
		t.Fatalf("Count = %d after a refused Create, want 3", n)
	}
	if res := claim(t, s, tickler.Due{}, epoch, 10); len(res.Due) != 3 {
		t.Fatalf("Claim after a refused Create = %v", ids(res.Due))
	}
	// The limit is per agent, and a larger one (or none) lets it through.
	if err := s.Create(ctx, Record("b-0", "b", epoch), limit); err != nil {
		t.Fatalf("another agent's Create = %v", err)
	}
	if err := s.Create(ctx, Record("a-3", "a", epoch), tickler.CreateParams{MaxPerAgent: 4}); err != nil {
		t.Fatalf("Create under a larger limit = %v", err)
	}
	if err := s.Create(ctx, Record("a-4", "a", epoch), tickler.CreateParams{}); err != nil {
		t.Fatalf("Create with no limit = %v", err)
	}
	// A delete makes room.
	if err := s.Create(ctx, Record("a-5", "a", epoch), tickler.CreateParams{MaxPerAgent: 5}); !errors.Is(err, tickler.ErrLimitExceeded) {
		t.Fatalf("Create at the limit = %v, want ErrLimitExceeded", err)
	}
	if err := s.Delete(ctx, "a", "a-0"); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, Record("a-5", "a", epoch), tickler.CreateParams{MaxPerAgent: 5}); err != nil {
		t.Fatalf("Create after a Delete made room = %v", err)
	}
}

func testMaxPerAgentConcurrent(t *testing.T, s tickler.Store) {
	const callers, limit = 32, 10
	mustCreate(t, s, Record("other-agent", "b", epoch))
	ok, over := createConcurrently(t, s, callers, tickler.CreateParams{MaxPerAgent: limit})
	if ok != limit || over != callers-limit {
		t.Fatalf("%d concurrent creates under a limit of %d: %d stored, %d refused", callers, limit, ok, over)
	}
}

// createConcurrently creates records a-00, a-01... of agent "a" from n
// goroutines released at once, all with p, and returns how many were
// stored and how many refused with ErrLimitExceeded; any other error
// fails t.
func createConcurrently(t *testing.T, s tickler.Store, n int, p tickler.CreateParams) (ok, over int) {
	t.Helper()
	return concurrently(t, n, func(i int) error {
		return s.Create(ctx, Record(fmt.Sprintf("a-%02d", i), "a", epoch), p)
	})
}

// concurrently calls call(0), call(1)... call(n-1) from n goroutines
// released at once, and returns how many returned nil and how many an
// error matching ErrLimitExceeded; any other error fails t.
func concurrently(t *testing.T, n int, call func(i int) error) (ok, over int) {
	t.Helper()
	var done sync.WaitGroup
	var mu sync.Mutex
	done.Add(n)
	start := make(chan struct{})
	for i := range n {
		go func() {
			defer done.Done()
			<-start
			err := call(i)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, tickler.ErrLimitExceeded):
				over++
			default:
				t.Errorf("call %d = %v", i, err)
			}
		}()
	}
	close(start)
	wait(t, &done)
	return ok, over
}

func testUpdate(t *testing.T, s tickler.Store) {
	mustCreate(t, s, Record("rec", "a", epoch))
	out := &tickler.Outcome{ID: "h1", ScheduledMessageID: "rec", Status: tickler.StatusSuccess, Occurrence: epoch, SentAt: epoch}
	mustAck(t, s, tickler.AckParams{ID: "rec", Version: 1, Next: epoch.Add(time.Hour), Outcome: out, HistoryLimit: 10})
	up := Record("rec", "a", time.Time{})
	up.Message.Messages = up.Message.Messages[:1]
	up.Schedule = tickler.Cron("0 9 * * *")
	up.PausedAt = epoch.Add(time.Minute)
	up.Version = 1
	if err := s.Update(ctx, up.Clone(), tickler.UpdateParams{}); !errors.Is(err, tickler.ErrConflict) {
		t.Fatalf("Update at a stale version = %v, want ErrConflict", err)
	}
	up.Version = 2
	if err := s.Update(ctx, up.Clone(), tickler.UpdateParams{}); err != nil {
		t.Fatal(err)
	}
	got := mustGet(t, s, "rec")
	sameRecord(t, got, up)
	if got.Version != 3 {
		t.Fatalf("after Update: version %d, want 3", got.Version)
	}
	if res := claim(t, s, tickler.Due{}, epoch.Add(48*time.Hour), 10); len(res.Due) != 0 {
		t.Fatalf("a record updated to no next occurrence is still claimed: %v", ids(res.Due))
	}
	if h := history(t, s, "rec", 0, 10); len(h.Outcomes) != 1 {
		t.Fatalf("Update dropped the history: %d entries", len(h.Outcomes))
	}
	// The history sequence carries on after an Update.
	mustAck(t, s, tickler.AckParams{ID: "rec", HistoryOnly: true, HistoryLimit: 10,
		Outcome: &tickler.Outcome{ID: "h2", ScheduledMessageID: "rec", Status: tickler.StatusSuccess, SentAt: epoch}})
	if h := history(t, s, "rec", 0, 10); len(h.Outcomes) != 2 || h.Outcomes[0].ID != "h2" {
		t.Fatalf("History after Update and an Ack = %+v", h.Outcomes)
	}
	up = got.Clone()
	up.PausedAt, up.Next = time.Time{}, epoch.Add(2*time.Hour)
	if err := s.Update(ctx, up, tickler.UpdateParams{}); err != nil {
		t.Fatal(err)
	}
	if up.Version != 3 {
		t.Fatalf("Update changed the caller's record: version %d", up.Version)
	}
	res := claim(t, s, tickler.Due{}, epoch.Add(48*time.Hour), 10)
	if len(res.Due) != 1 || res.Due[0].Version != 4 || !res.Due[0].At.Equal(epoch.Add(2*time.Hour)) {
		t.Fatalf("Claim after resuming = %+v", res.Due)
	}
	// A stale ack of the occurrence claimed before the update conflicts.
	if err := s.Ack(ctx, tickler.AckParams{ID: "rec", Version: 2, Next: epoch.Add(3 * time.Hour)}); !errors.Is(err, tickler.ErrConflict) {
		t.Fatalf("Ack of a version before the Update = %v, want ErrConflict", err)
	}
	if err := s.Update(ctx, Record("nope", "a", epoch), tickler.UpdateParams{}); !errors.Is(err, tickler.ErrNotFound) {
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
