package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
)

// The cases of [tickler.AdminStore], run for a store that implements it:
// listing across agents with filters, the newest outcomes of all records,
// counts by status.

// adminTests are the subtests of the AdminStore group; the last needs
// cfg's Damage hook.
func adminTests(cfg Config) []subtest[tickler.AdminStore] {
	return []subtest[tickler.AdminStore]{
		{"ListAllAcrossAgentsInIDOrderPaged", testListAll},
		{"ListAllFilters", testListAllFilters},
		{"RecentOutcomesNewestFirstAcrossRecords", testRecentOutcomes},
		{"CountsByStatus", testCounts},
		{"ListAllAndCountsNameDamaged", func(t *testing.T, s tickler.AdminStore) {
			if cfg.Damage == nil {
				t.Skip("no Config.Damage hook: the store cannot hold a damaged record")
			}
			testAdminDamaged(t, s, cfg.Damage)
		}},
	}
}

func listAll(t *testing.T, s tickler.AdminStore, p tickler.ListAllParams) tickler.ListAllResult {
	t.Helper()
	res, err := s.ListAll(ctx, p)
	if err != nil {
		t.Fatalf("ListAll(%+v): %v", p, err)
	}
	return res
}

func adminIDs(recs []tickler.AdminRecord) []string {
	out := []string{}
	for _, a := range recs {
		out = append(out, a.Record.ID)
	}
	return out
}

func testListAll(t *testing.T, s tickler.AdminStore) {
	agents := []string{"c", "a", "b", "a", "c", "b", "a"}
	for i, agent := range agents {
		mustCreate(t, s, Record(fmt.Sprintf("id-%02d", i), agent, epoch.Add(time.Duration(i)*time.Minute)))
	}
	var got []string
	after := ""
	for page := 0; ; page++ {
		res := listAll(t, s, tickler.ListAllParams{After: after, Limit: 3})
		got = append(got, adminIDs(res.Records)...)
		if !res.More {
			if len(res.Records) != 1 {
				t.Fatalf("last page holds %v", adminIDs(res.Records))
			}
			break
		}
		if len(res.Records) != 3 || page > 3 {
			t.Fatalf("page %d holds %v with More", page, adminIDs(res.Records))
		}
		after = res.Records[len(res.Records)-1].Record.ID
	}
	if want := []string{"id-00", "id-01", "id-02", "id-03", "id-04", "id-05", "id-06"}; !slices.Equal(got, want) {
		t.Fatalf("ListAll pages = %v, want %v", got, want)
	}
	res := listAll(t, s, tickler.ListAllParams{Limit: 10})
	sameRecord(t, res.Records[2].Record, Record("id-02", "b", epoch.Add(2*time.Minute)))
	if res.Records[2].Record.Version != 1 || res.Records[2].Last != nil || len(res.Damaged) != 0 {
		t.Fatalf("ListAll entry = %+v, damaged %v", res.Records[2], res.Damaged)
	}
	if got := adminIDs(listAll(t, s, tickler.ListAllParams{AgentID: "a", Limit: 10}).Records); !slices.Equal(got, []string{"id-01", "id-03", "id-06"}) {
		t.Fatalf("ListAll of agent a = %v", got)
	}
	if res := listAll(t, s, tickler.ListAllParams{AgentID: "a", After: "id-01", Limit: 1}); !slices.Equal(adminIDs(res.Records), []string{"id-03"}) || !res.More {
		t.Fatalf("ListAll of agent a after id-01 = %v More=%v", adminIDs(res.Records), res.More)
	}
	if res := listAll(t, s, tickler.ListAllParams{AgentID: "nobody", Limit: 10}); len(res.Records) != 0 || res.More {
		t.Fatalf("ListAll of an agent with nothing = %v", adminIDs(res.Records))
	}
	if err := s.Delete(ctx, "", "id-03"); err != nil {
		t.Fatal(err)
	}
	if got := adminIDs(listAll(t, s, tickler.ListAllParams{After: "id-02", Limit: 2}).Records); !slices.Equal(got, []string{"id-04", "id-05"}) {
		t.Fatalf("ListAll after a delete = %v", got)
	}
}

// adminFixture stores one record of each status: "due-1h" and "due-2h"
// scheduled, "paused", "failing" (its newest outcome failed; next at 3h),
// "recovered" (a failure, then a success; next at 4h) and "idle" (no next
// occurrence), for agents a and b.
func adminFixture(t *testing.T, s tickler.Store) {
	t.Helper()
	mustCreate(t, s, Record("due-1h", "a", epoch.Add(time.Hour)))
	mustCreate(t, s, Record("due-2h", "b", epoch.Add(2*time.Hour)))
	paused := Record("paused", "a", time.Time{})
	paused.PausedAt = epoch
	mustCreate(t, s, paused)
	mustCreate(t, s, Record("failing", "b", epoch))
	mustAck(t, s, tickler.AckParams{ID: "failing", Version: 1, Next: epoch.Add(3 * time.Hour), HistoryLimit: 10,
		Outcome: &tickler.Outcome{ID: "o-1", ScheduledMessageID: "failing", Status: tickler.StatusFailed, Error: "boom", SentAt: epoch}})
	mustCreate(t, s, Record("recovered", "a", epoch))
	mustAck(t, s, tickler.AckParams{ID: "recovered", HistoryOnly: true, HistoryLimit: 10,
		Outcome: &tickler.Outcome{ID: "o-2", ScheduledMessageID: "recovered", Status: tickler.StatusFailed, SentAt: epoch}})
	mustAck(t, s, tickler.AckParams{ID: "recovered", Version: 1, Next: epoch.Add(4 * time.Hour), HistoryLimit: 10,
		Outcome: &tickler.Outcome{ID: "o-3", ScheduledMessageID: "recovered", Status: tickler.StatusSuccess, SentAt: epoch}})
	mustCreate(t, s, Record("idle", "b", time.Time{}))
}

func testListAllFilters(t *testing.T, s tickler.AdminStore) {
	adminFixture(t, s)
	yes, no := true, false
	for _, tc := range []struct {
		name string
		p    tickler.ListAllParams
		want []string
	}{
		{"none", tickler.ListAllParams{}, []string{"due-1h", "due-2h", "failing", "idle", "paused", "recovered"}},
		{"due before 2h", tickler.ListAllParams{DueBefore: epoch.Add(2 * time.Hour)}, []string{"due-1h"}},
		{"due after 1h", tickler.ListAllParams{DueAfter: epoch.Add(time.Hour)}, []string{"due-2h", "failing", "recovered"}},
		{"due within (1h, 4h)", tickler.ListAllParams{DueAfter: epoch.Add(time.Hour), DueBefore: epoch.Add(4 * time.Hour)}, []string{"due-2h", "failing"}},
		{"paused", tickler.ListAllParams{Paused: &yes}, []string{"paused"}},
		{"not paused", tickler.ListAllParams{Paused: &no}, []string{"due-1h", "due-2h", "failing", "idle", "recovered"}},
		{"failing", tickler.ListAllParams{Failing: &yes}, []string{"failing"}},
		{"not failing", tickler.ListAllParams{Failing: &no}, []string{"due-1h", "due-2h", "idle", "paused", "recovered"}},
		{"agent b failing", tickler.ListAllParams{AgentID: "b", Failing: &yes}, []string{"failing"}},
		{"agent a failing", tickler.ListAllParams{AgentID: "a", Failing: &yes}, []string{}},
	} {
		tc.p.Limit = 10
		res := listAll(t, s, tc.p)
		if got := adminIDs(res.Records); !slices.Equal(got, tc.want) || res.More {
			t.Errorf("%s: ListAll = %v More=%v, want %v", tc.name, got, res.More, tc.want)
		}
	}
	// A filtered page ends at its limit, and More looks past what the
	// filter leaves out.
	res := listAll(t, s, tickler.ListAllParams{Paused: &no, Limit: 1})
	if got := adminIDs(res.Records); !slices.Equal(got, []string{"due-1h"}) || !res.More {
		t.Fatalf("ListAll not paused, limit 1 = %v More=%v", got, res.More)
	}
	res = listAll(t, s, tickler.ListAllParams{Failing: &yes, Limit: 10})
	if a := res.Records[0]; a.Last == nil || a.Last.ID != "o-1" || a.Last.Error != "boom" || a.Status() != tickler.StatusFailing || a.Record.Version != 2 {
		t.Fatalf("failing entry = %+v last %+v", a.Record, a.Last)
	}
	res = listAll(t, s, tickler.ListAllParams{After: "paused", Limit: 10})
	if a := res.Records[0]; a.Record.ID != "recovered" || a.Last == nil || a.Last.ID != "o-3" || a.Status() != tickler.StatusScheduled {
		t.Fatalf("recovered entry = %+v last %+v", a.Record, a.Last)
	}
}

func testRecentOutcomes(t *testing.T, s tickler.AdminStore) {
	mustCreate(t, s, Record("r1", "a", epoch))
	mustCreate(t, s, Record("r2", "b", epoch))
	mustCreate(t, s, Record("r3", "c", epoch))
	for i := 1; i <= 6; i++ {
		id := []string{"r1", "r2"}[i%2]
		mustAck(t, s, tickler.AckParams{ID: id, HistoryOnly: true, HistoryLimit: 10,
			Outcome: &tickler.Outcome{ID: fmt.Sprintf("o-%02d", i), ScheduledMessageID: id, Status: tickler.StatusSuccess, SentAt: epoch.Add(time.Duration(i) * time.Second)}})
	}
	recent := func(before string, limit int) tickler.RecentResult {
		t.Helper()
		res, err := s.RecentOutcomes(ctx, tickler.RecentParams{Before: before, Limit: limit})
		if err != nil {
			t.Fatalf("RecentOutcomes(%q, %d): %v", before, limit, err)
		}
		return res
	}
	idsOf := func(res tickler.RecentResult) []string {
		out := []string{}
		for _, o := range res.Outcomes {
			out = append(out, o.ID)
		}
		return out
	}
	res := recent("", 4)
	if got := idsOf(res); !slices.Equal(got, []string{"o-06", "o-05", "o-04", "o-03"}) || !res.More {
		t.Fatalf("RecentOutcomes = %v More=%v", got, res.More)
	}
	if o := res.Outcomes[0]; o.AgentID != "a" || o.ScheduledMessageID != "r1" || !o.SentAt.Equal(epoch.Add(6*time.Second)) {
		t.Fatalf("newest = %+v", o)
	}
	if o := res.Outcomes[1]; o.AgentID != "b" || o.ScheduledMessageID != "r2" {
		t.Fatalf("second = %+v", o)
	}
	res = recent("o-03", 4)
	if got := idsOf(res); !slices.Equal(got, []string{"o-02", "o-01"}) || res.More {
		t.Fatalf("RecentOutcomes before o-03 = %v More=%v", got, res.More)
	}
	if err := s.Delete(ctx, "", "r1"); err != nil {
		t.Fatal(err)
	}
	if got := idsOf(recent("", 10)); !slices.Equal(got, []string{"o-05", "o-03", "o-01"}) {
		t.Fatalf("RecentOutcomes after deleting r1 = %v, want r2's only", got)
	}
}

func testCounts(t *testing.T, s tickler.AdminStore) {
	c, err := s.Counts(ctx)
	if err != nil || c != (tickler.Counts{}) {
		t.Fatalf("Counts of an empty store = %+v, %v", c, err)
	}
	adminFixture(t, s)
	c, err = s.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := tickler.Counts{Total: 6, Scheduled: 3, Paused: 1, Failing: 1, Idle: 1, Agents: 2}
	if c != want {
		t.Fatalf("Counts = %+v, want %+v", c, want)
	}
}

func testAdminDamaged(t *testing.T, s tickler.AdminStore, damage func(*testing.T, tickler.Store, string)) {
	const bad = "b-damaged"
	mustCreate(t, s, Record("a-good", "agent", epoch))
	mustCreate(t, s, Record(bad, "agent", epoch))
	mustCreate(t, s, Record("c-good", "agent", epoch))
	damage(t, s, bad)
	for _, agent := range []string{"", "agent"} {
		res := listAll(t, s, tickler.ListAllParams{AgentID: agent, Limit: 10})
		if got := adminIDs(res.Records); !slices.Equal(got, []string{"a-good", "c-good"}) || !slices.Equal(res.Damaged, []string{bad}) {
			t.Fatalf("ListAll(%q) over a damaged record = %v, damaged %v", agent, got, res.Damaged)
		}
	}
	c, err := s.Counts(ctx)
	if err != nil || c.Total != 2 || c.Damaged != 1 {
		t.Fatalf("Counts over a damaged record = %+v, %v", c, err)
	}
	if _, err := s.Get(ctx, "", bad); !errors.Is(err, tickler.ErrDamaged) {
		t.Fatalf("Get of the damaged record = %v", err)
	}
}
