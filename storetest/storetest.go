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
// A store that implements an optional interface of tickler
// ([tickler.AdminStore], [tickler.CallbackOutbox], [tickler.BatchAcker],
// [tickler.BatchCreator], [tickler.BatchDeleter], [tickler.RecordViewer])
// also runs that interface's group of subtests; for another they skip
// with one line.
//
// Every subtest runs in parallel with the others, on its own store.
package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
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
		{"LabelsRoundTripAbsentStaysAbsent", testLabelsRoundTrip},
		{"ListOrderAndPaging", testList},
		{"DeleteRemovesEverywhere", testDelete},
		{"AnotherAgentsRecordIsMissing", testAgentScoping},
		{"MaxPerAgentRefusesOneMore", testMaxPerAgent},
		{"MaxPerAgentHoldsUnderConcurrentCreates", testMaxPerAgentConcurrent},
		{"MaxBytesPerAgentRefusesWhatPassesIt", testMaxBytesPerAgent},
		{"MaxBytesPerAgentHoldsUnderConcurrentCreates", testMaxBytesPerAgentConcurrent},
		{"UpdateRefusesGrowthPastMaxBytesPerAgent", testUpdateMaxBytes},
		{"UpdateMaxBytesPerAgentHoldsUnderConcurrentUpdates", testUpdateMaxBytesConcurrent},
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
	t.Run("BatchAcker", func(t *testing.T) { runGroup(t, cfg, batchAckerTests) })
	t.Run("BatchCreator", func(t *testing.T) { runGroup(t, cfg, batchCreatorTests) })
	t.Run("BatchDeleter", func(t *testing.T) { runGroup(t, cfg, batchDeleterTests) })
	t.Run("RecordViewer", func(t *testing.T) { runGroup(t, cfg, recordViewerTests) })
	t.Run("ResultsValidBesideErrDamaged", func(t *testing.T) {
		t.Parallel()
		if cfg.Damage == nil {
			t.Skip("no Config.Damage hook: the store cannot hold a damaged record")
		}
		testDamaged(t, cfg.New(t), cfg.Damage)
	})
	t.Run("AdminStore", func(t *testing.T) { runGroup(t, cfg, adminTests(cfg)) })
	t.Run("CallbackOutbox", func(t *testing.T) { runGroup(t, cfg, outboxTests) })
}

// subtest is one subtest of the group of an optional interface I of
// tickler, run on a new store that implements I.
type subtest[I any] struct {
	name string
	fn   func(*testing.T, I)
}

// runGroup runs the subtests of I's group in parallel, each on a new
// store, if the stores implement I; it skips the group with one line if
// they do not.
func runGroup[I any](t *testing.T, cfg Config, tests []subtest[I]) {
	t.Parallel()
	if _, ok := cfg.New(t).(I); !ok {
		t.Skipf("the store is not a %v", reflect.TypeFor[I]())
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, cfg.New(t).(I))
		})
	}
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

		Name:           "name of " + id,
		Description:    "a description: ünïcode, \"quotes\" and a\nnewline",
		ConversationID: "conv-" + id,
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
	if got.Name != want.Name || got.Description != want.Description || got.ConversationID != want.ConversationID {
		t.Fatalf("labels = %q/%q/%q, want %q/%q/%q", got.Name, got.Description, got.ConversationID,
			want.Name, want.Description, want.ConversationID)
	}
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

func ids(due []tickler.Due) []string {
	var out []string
	for _, d := range due {
		out = append(out, d.ID)
	}
	return out
}
