// Package storetest is the conformance suite of [tickler.Store]: every
// store runs it, and a new store is done when it passes.
//
//	func TestConformance(t *testing.T) {
//		t.Parallel()
//		storetest.Run(t, func(t *testing.T) tickler.Store { return memory.New() })
//	}
//
// A store that can hold a record it cannot decode (one kept in a file or a
// database) runs it with [RunWith] and a [Config.Damage] hook, so that the
// suite also checks what Get and Claim do with such a record.
//
// Every subtest runs in parallel with the others, on its own store.
package storetest

import (
	"context"
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

// Config is what [RunWith] runs the suite on.
type Config struct {
	// New returns a new, empty store for each subtest; closing it is New's
	// business (t.Cleanup). It is called from parallel subtests.
	New func(t *testing.T) tickler.Store
	// Damage, when set, makes the stored record id of s undecodable, as a
	// flipped bit on disk would; it fails t if it cannot. Without it the
	// subtests about damaged records are skipped.
	Damage func(t *testing.T, s tickler.Store, id string)
}

// Run runs the suite with no Damage hook; see [RunWith].
func Run(t *testing.T, newStore func(t *testing.T) tickler.Store) {
	t.Helper()
	RunWith(t, Config{New: newStore})
}

// WaitTimeout bounds every wait of the suite (for concurrent callers to
// finish), so that a store that deadlocks fails the subtest instead of
// hanging until the test binary's timeout.
var WaitTimeout = 30 * time.Second

// RunWith runs the suite on the stores cfg.New returns.
func RunWith(t *testing.T, cfg Config) {
	t.Helper()
	if cfg.New == nil {
		t.Fatal("storetest: Config.New is nil")
	}
	tests := []struct {
		name string
		fn   func(*testing.T, tickler.Store)
	}{
		{"CreateGetRoundTrip", testCreateGetRoundTrip},
		{"CreateDuplicateIDChangesNothing", testCreateDuplicate},
		{"GetUnknownIsNotFound", testGetUnknown},
		{"StoredRecordSharesNothing", testNoAliasing},
		{"RetryPolicyRoundTripsNilStaysNil", testRetryRoundTrip},
		{"ListOrderAndPaging", testList},
		{"DeleteRemovesEverywhere", testDelete},
		{"AnotherAgentsRecordIsMissing", testAgentScoping},
		{"MaxPerAgentRefusesOneMore", testMaxPerAgent},
		{"MaxPerAgentHoldsUnderConcurrentCreates", testMaxPerAgentConcurrent},
		{"ClaimRangeAndCursor", testClaim},
		{"ClaimNextIsFirstBeyondUntil", testClaimNext},
		{"ClaimSkipsRecordsWithoutNext", testClaimNoNext},
		{"AckAdvancesAndRemoves", testAck},
		{"AckFencedByVersion", testAckConflict},
		{"AckHistoryOnlyChangesNeitherVersionNorNext", testAckHistoryOnly},
		{"HistoryBoundedNewestFirst", testHistory},
		{"StoredOutcomeSharesNothing", testOutcomeNoAliasing},
		{"UpdateReplacesFencedByVersion", testUpdate},
		{"CountPerAgent", testCount},
		{"ConcurrentUse", testConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, cfg.New(t))
		})
	}
	t.Run("ResultsValidBesideErrDamaged", func(t *testing.T) {
		t.Parallel()
		if cfg.Damage == nil {
			t.Skip("no Config.Damage hook: the store cannot hold a damaged record")
		}
		testDamaged(t, cfg.New(t), cfg.Damage)
	})
}

var (
	ctx   = context.Background()
	epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

func str(s string) *string { return &s }

// Record returns a record with every optional field set (a retry policy
// among them), due at next.
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
		Retry:    &tickler.RetryPolicy{MaxAttempts: 3, Base: 1500 * time.Millisecond, Cap: time.Minute},
		Next:     next,
	}
}

func mustCreate(t *testing.T, s tickler.Store, r *tickler.Record) {
	t.Helper()
	if err := s.Create(ctx, r, tickler.CreateParams{}); err != nil {
		t.Fatalf("Create(%s): %v", r.ID, err)
	}
}

func mustGet(t *testing.T, s tickler.Store, id string) *tickler.Record {
	t.Helper()
	r, err := s.Get(ctx, "", id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return r
}

func mustAck(t *testing.T, s tickler.Store, p tickler.AckParams) {
	t.Helper()
	if err := s.Ack(ctx, p); err != nil {
		t.Fatalf("Ack(%+v): %v", p, err)
	}
}

func list(t *testing.T, s tickler.Store, agent, after string, limit int) tickler.ListResult {
	t.Helper()
	res, err := s.List(ctx, tickler.ListParams{AgentID: agent, After: after, Limit: limit})
	if err != nil {
		t.Fatalf("List(%q, %q, %d): %v", agent, after, limit, err)
	}
	return res
}

func claim(t *testing.T, s tickler.Store, after tickler.Due, until time.Time, limit int) tickler.ClaimResult {
	t.Helper()
	res, err := s.Claim(ctx, tickler.ClaimParams{After: after, Until: until, Limit: limit})
	if err != nil {
		t.Fatalf("Claim(after %v, until %v, limit %d): %v", after, until, limit, err)
	}
	return res
}

func history(t *testing.T, s tickler.Store, id string, offset, limit int) tickler.HistoryResult {
	t.Helper()
	res, err := s.History(ctx, tickler.HistoryParams{ID: id, Offset: offset, Limit: limit})
	if err != nil {
		t.Fatalf("History(%s, %d, %d): %v", id, offset, limit, err)
	}
	return res
}

// wait waits for wg, failing t after WaitTimeout.
func wait(t *testing.T, wg *sync.WaitGroup) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(WaitTimeout):
		t.Fatalf("concurrent callers still running after %v", WaitTimeout)
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
	if got.ID != want.ID || got.AgentID != want.AgentID || !got.Next.Equal(want.Next) || !got.PausedAt.Equal(want.PausedAt) {
		t.Fatalf("record = %s/%s/next %v/paused %v, want %s/%s/next %v/paused %v",
			got.ID, got.AgentID, got.Next, got.PausedAt, want.ID, want.AgentID, want.Next, want.PausedAt)
	}
	if g, w := jsonOf(t, got.Message), jsonOf(t, want.Message); g != w {
		t.Fatalf("message = %s\nwant      %s", g, w)
	}
	if g, w := jsonOf(t, got.Schedule), jsonOf(t, want.Schedule); g != w {
		t.Fatalf("schedule = %s, want %s", g, w)
	}
	sameRetry(t, got.Retry, want.Retry)
}

func sameRetry(t *testing.T, got, want *tickler.RetryPolicy) {
	t.Helper()
	switch {
	case got == nil && want == nil:
	case got == nil || want == nil || *got != *want:
		t.Fatalf("retry policy = %s, want %s", policyString(got), policyString(want))
	}
}

func policyString(p *tickler.RetryPolicy) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprintf("%+v", *p)
}

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
	if err := s.Update(ctx, up); err != nil {
		t.Fatal(err)
	}
	sameRetry(t, mustGet(t, s, "with").Retry, nil)
	up = mustGet(t, s, "without")
	up.Retry = &tickler.RetryPolicy{MaxAttempts: 10, Base: time.Millisecond, Cap: 7 * 24 * time.Hour}
	if err := s.Update(ctx, up.Clone()); err != nil {
		t.Fatal(err)
	}
	sameRetry(t, mustGet(t, s, "without").Retry, up.Retry)
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
		if err := s.Update(ctx, up); !errors.Is(err, tickler.ErrNotFound) {
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
	if err := s.Update(ctx, up); err != nil {
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
	var created sync.WaitGroup
	var mu sync.Mutex
	ok, over := 0, 0
	created.Add(callers)
	start := make(chan struct{})
	for i := range callers {
		go func() {
			defer created.Done()
			<-start
			err := s.Create(ctx, Record(fmt.Sprintf("a-%02d", i), "a", epoch), tickler.CreateParams{MaxPerAgent: limit})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, tickler.ErrLimitExceeded):
				over++
			default:
				t.Errorf("Create a-%02d = %v", i, err)
			}
		}()
	}
	close(start)
	wait(t, &created)
	if ok != limit || over != callers-limit {
		t.Fatalf("%d concurrent creates under a limit of %d: %d stored, %d refused", callers, limit, ok, over)
	}
	if n, _ := s.Count(ctx, "a"); n != limit {
		t.Fatalf("Count = %d, want the limit %d", n, limit)
	}
	if res := list(t, s, "a", "", 100); len(res.Records) != limit {
		t.Fatalf("List holds %d records, want the limit %d", len(res.Records), limit)
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

func testUpdate(t *testing.T, s tickler.Store) {
	mustCreate(t, s, Record("rec", "a", epoch))
	out := &tickler.Outcome{ID: "h1", ScheduledMessageID: "rec", Status: tickler.StatusSuccess, Occurrence: epoch, SentAt: epoch}
	mustAck(t, s, tickler.AckParams{ID: "rec", Version: 1, Next: epoch.Add(time.Hour), Outcome: out, HistoryLimit: 10})
	up := Record("rec", "a", time.Time{})
	up.Message.Messages = up.Message.Messages[:1]
	up.Schedule = tickler.Cron("0 9 * * *")
	up.PausedAt = epoch.Add(time.Minute)
	up.Version = 1
	if err := s.Update(ctx, up.Clone()); !errors.Is(err, tickler.ErrConflict) {
		t.Fatalf("Update at a stale version = %v, want ErrConflict", err)
	}
	up.Version = 2
	if err := s.Update(ctx, up.Clone()); err != nil {
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
	if err := s.Update(ctx, up); err != nil {
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
