package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
)

// The optional batch interfaces: a store that implements one runs its
// group (see RunWith), and a store that does not skips it.

// ackOneByMany is a store whose Ack is an AckMany of one, so that every
// Ack test of the suite also proves AckMany.
type ackOneByMany struct{ tickler.BatchAcker }

func (s ackOneByMany) Ack(ctx context.Context, p tickler.AckParams) error {
	errs := s.AckMany(ctx, []tickler.AckParams{p})
	if len(errs) != 1 {
		return fmt.Errorf("storetest: AckMany of 1 ack returned %d errors", len(errs))
	}
	return errs[0]
}

// batchAckerTests are the BatchAcker group: every Ack test of the suite
// again with Ack made an AckMany of one, and the tests of batches.
var batchAckerTests = []subtest[tickler.BatchAcker]{
	{"AckAdvancesAndRemoves", func(t *testing.T, s tickler.BatchAcker) { testAck(t, ackOneByMany{s}) }},
	{"AckFencedByVersion", func(t *testing.T, s tickler.BatchAcker) { testAckConflict(t, ackOneByMany{s}) }},
	{"AckHistoryOnlyChangesNeitherVersionNorNext", func(t *testing.T, s tickler.BatchAcker) { testAckHistoryOnly(t, ackOneByMany{s}) }},
	{"HistoryBoundedNewestFirst", func(t *testing.T, s tickler.BatchAcker) { testHistory(t, ackOneByMany{s}) }},
	{"AckManyAppliesEachAlone", testAckManyEachAlone},
	{"MaxBytesPerAgentFreedByAckMany", func(t *testing.T, s tickler.BatchAcker) { testMaxBytesPerAgent(t, ackOneByMany{s}) }},
	{"AckManyConcurrentBatches", testAckManyConcurrent},
}

// testAckManyEachAlone sends one batch that mixes acks that apply with
// acks that are refused, and checks each got its own result and effect.
func testAckManyEachAlone(t *testing.T, s tickler.BatchAcker) {
	for _, id := range []string{"adv", "gone", "stale", "hist", "twice"} {
		mustCreate(t, s, Record(id, "a", epoch))
	}
	mustAck(t, s, tickler.AckParams{ID: "stale", Version: 1, Next: epoch.Add(time.Minute)}) // now version 2
	out := func(id string) *tickler.Outcome {
		return &tickler.Outcome{ID: "o-" + id, ScheduledMessageID: id, Status: tickler.StatusSuccess, Attempts: 1, Occurrence: epoch, SentAt: epoch}
	}
	acks := []tickler.AckParams{
		{ID: "adv", Version: 1, Next: epoch.Add(time.Hour), Outcome: out("adv"), HistoryLimit: 10},
		{ID: "gone", Version: 1},
		{ID: "stale", Version: 1, Next: epoch.Add(time.Hour), Outcome: out("stale"), HistoryLimit: 10},
		{ID: "missing", Version: 1, Next: epoch.Add(time.Hour)},
		{ID: "hist", Outcome: out("hist"), HistoryLimit: 10, HistoryOnly: true},
		// Two acks of one record in a batch apply in order.
		{ID: "twice", Version: 1, Next: epoch.Add(time.Hour)},
		{ID: "twice", Version: 2, Next: epoch.Add(2 * time.Hour)},
	}
	errs := s.AckMany(ctx, acks)
	if len(errs) != len(acks) {
		t.Fatalf("AckMany returned %d errors for %d acks", len(errs), len(acks))
	}
	want := []error{nil, nil, tickler.ErrConflict, tickler.ErrNotFound, nil, nil, nil}
	for i, w := range want {
		if (w == nil) != (errs[i] == nil) || (w != nil && !errors.Is(errs[i], w)) {
			t.Errorf("AckMany: ack %d (%s) = %v, want %v", i, acks[i].ID, errs[i], w)
		}
	}
	if r := mustGet(t, s, "adv"); r.Version != 2 || !r.Next.Equal(epoch.Add(time.Hour)) {
		t.Errorf("adv: version %d next %v", r.Version, r.Next)
	}
	if h := history(t, s, "adv", 0, 10); len(h.Outcomes) != 1 || h.Outcomes[0].ID != "o-adv" {
		t.Errorf("adv: history %+v", h.Outcomes)
	}
	if _, err := s.Get(ctx, "", "gone"); !errors.Is(err, tickler.ErrNotFound) {
		t.Errorf("gone: Get = %v, want ErrNotFound", err)
	}
	if r := mustGet(t, s, "stale"); r.Version != 2 || !r.Next.Equal(epoch.Add(time.Minute)) {
		t.Errorf("stale: a refused ack changed it: version %d next %v", r.Version, r.Next)
	}
	if h := history(t, s, "stale", 0, 10); len(h.Outcomes) != 0 {
		t.Errorf("stale: a refused ack appended %+v", h.Outcomes)
	}
	if r := mustGet(t, s, "hist"); r.Version != 1 || !r.Next.Equal(epoch) {
		t.Errorf("hist: version %d next %v", r.Version, r.Next)
	}
	if h := history(t, s, "hist", 0, 10); len(h.Outcomes) != 1 {
		t.Errorf("hist: history %+v", h.Outcomes)
	}
	if r := mustGet(t, s, "twice"); r.Version != 3 || !r.Next.Equal(epoch.Add(2*time.Hour)) {
		t.Errorf("twice: version %d next %v, want 3 and %v", r.Version, r.Next, epoch.Add(2*time.Hour))
	}
	if errs := s.AckMany(ctx, nil); len(errs) != 0 {
		t.Errorf("AckMany(nil) = %v", errs)
	}
}

// testAckManyConcurrent acks many records from concurrent batches, as a
// dispatcher's recorder and its workers would, and checks every ack
// applied once.
func testAckManyConcurrent(t *testing.T, s tickler.BatchAcker) {
	const callers, per = 8, 50
	for c := range callers {
		for i := range per {
			mustCreate(t, s, Record(fmt.Sprintf("r%d-%03d", c, i), "a", epoch))
		}
	}
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			var acks []tickler.AckParams
			for i := range per {
				a := tickler.AckParams{ID: fmt.Sprintf("r%d-%03d", c, i), Version: 1}
				if i%2 == 0 {
					a.Next = epoch.Add(time.Hour)
				}
				acks = append(acks, a)
			}
			for i, err := range s.AckMany(ctx, acks) {
				if err != nil {
					t.Errorf("AckMany: %s: %v", acks[i].ID, err)
				}
			}
		})
	}
	wait(t, &wg)
	if n, err := s.Count(ctx, "a"); err != nil || n != callers*per/2 {
		t.Fatalf("Count = %d, %v; want %d", n, err, callers*per/2)
	}
	res := claim(t, s, tickler.Due{}, epoch.Add(2*time.Hour), 1000)
	if len(res.Due) != callers*per/2 {
		t.Fatalf("Claim = %d records, want %d", len(res.Due), callers*per/2)
	}
	for _, d := range res.Due {
		if d.Version != 2 {
			t.Fatalf("%s at version %d, want 2", d.ID, d.Version)
		}
	}
}

// batchCreatorTests are the BatchCreator group.
var batchCreatorTests = []subtest[tickler.BatchCreator]{
	{"CreateManyStoresEvery", testCreateMany},
	{"CreateManyCountsTheBatchAgainstMaxBytes", testCreateManyMaxBytes},
	{"CreateManyAllOrNothing", testCreateManyAllOrNothing},
}

func testCreateMany(t *testing.T, s tickler.BatchCreator) {
	var rs []*tickler.Record
	for i := range 50 {
		agent := []string{"a", "b"}[i%2]
		r := Record(fmt.Sprintf("r%03d", 49-i), agent, epoch.Add(time.Duration(i%7)*time.Minute))
		if i%5 == 0 {
			r.Next = time.Time{}
		}
		rs = append(rs, r)
	}
	if err := s.CreateMany(ctx, rs, tickler.CreateParams{MaxPerAgent: 25}); err != nil {
		t.Fatalf("CreateMany: %v", err)
	}
	for _, r := range rs {
		if r.Version != 1 {
			t.Fatalf("%s: Version %d after CreateMany, want 1", r.ID, r.Version)
		}
		sameRecord(t, mustGet(t, s, r.ID), r)
	}
	for _, agent := range []string{"a", "b"} {
		if n, err := s.Count(ctx, agent); err != nil || n != 25 {
			t.Fatalf("Count(%s) = %d, %v", agent, n, err)
		}
	}
	if res := claim(t, s, tickler.Due{}, epoch.Add(time.Hour), 100); len(res.Due) != 40 {
		t.Fatalf("Claim = %d records, want 40", len(res.Due))
	}
	if err := s.CreateMany(ctx, nil, tickler.CreateParams{}); err != nil {
		t.Fatalf("CreateMany(nil) = %v", err)
	}
}

func testCreateManyAllOrNothing(t *testing.T, s tickler.BatchCreator) {
	mustCreate(t, s, Record("taken", "a", epoch))
	for name, c := range map[string]struct {
		rs   []*tickler.Record
		p    tickler.CreateParams
		want error
	}{
		"an id taken":  {[]*tickler.Record{Record("new1", "a", epoch), Record("taken", "a", epoch)}, tickler.CreateParams{}, tickler.ErrExists},
		"an id twice":  {[]*tickler.Record{Record("new1", "a", epoch), Record("new1", "a", epoch)}, tickler.CreateParams{}, tickler.ErrExists},
		"over a limit": {[]*tickler.Record{Record("new1", "b", epoch), Record("new2", "a", epoch), Record("new3", "a", epoch)}, tickler.CreateParams{MaxPerAgent: 2}, tickler.ErrLimitExceeded},
	} {
		if err := s.CreateMany(ctx, c.rs, c.p); !errors.Is(err, c.want) {
			t.Fatalf("%s: CreateMany = %v, want %v", name, err, c.want)
		}
		for _, id := range []string{"new1", "new2", "new3"} {
			if _, err := s.Get(ctx, "", id); !errors.Is(err, tickler.ErrNotFound) {
				t.Fatalf("%s: a refused CreateMany stored %s (%v)", name, id, err)
			}
		}
		if n, _ := s.Count(ctx, "a"); n != 1 {
			t.Fatalf("%s: Count(a) = %d after a refused CreateMany", name, n)
		}
		if res := claim(t, s, tickler.Due{}, epoch.Add(time.Hour), 100); len(res.Due) != 1 {
			t.Fatalf("%s: Claim = %v after a refused CreateMany", name, ids(res.Due))
		}
	}
	// Up to the limit exactly is allowed.
	if err := s.CreateMany(ctx, []*tickler.Record{Record("new1", "a", epoch)}, tickler.CreateParams{MaxPerAgent: 2}); err != nil {
		t.Fatalf("CreateMany up to the limit: %v", err)
	}
}

// batchDeleterTests are the BatchDeleter group.
var batchDeleterTests = []subtest[tickler.BatchDeleter]{
	{"DeleteManyEachAlone", testDeleteManyEachAlone},
	{"DeleteManyFreesBytes", testDeleteManyFreesBytes},
}

func testDeleteManyEachAlone(t *testing.T, s tickler.BatchDeleter) {
	mustCreate(t, s, Record("a1", "a", epoch))
	mustCreate(t, s, Record("a2", "a", epoch))
	mustCreate(t, s, Record("b1", "b", epoch))
	mustAck(t, s, tickler.AckParams{ID: "a2", Version: 1, Next: epoch.Add(time.Hour),
		Outcome: &tickler.Outcome{ID: "o", ScheduledMessageID: "a2", Status: tickler.StatusSuccess}, HistoryLimit: 5})
	errs := s.DeleteMany(ctx, "a", []string{"a1", "b1", "nope", "a2", "a1"})
	want := []error{nil, tickler.ErrNotFound, tickler.ErrNotFound, nil, tickler.ErrNotFound}
	if len(errs) != len(want) {
		t.Fatalf("DeleteMany returned %d errors for 5 ids", len(errs))
	}
	for i, w := range want {
		if (w == nil) != (errs[i] == nil) || (w != nil && !errors.Is(errs[i], w)) {
			t.Errorf("DeleteMany: id %d = %v, want %v", i, errs[i], w)
		}
	}
	if n, _ := s.Count(ctx, "a"); n != 0 {
		t.Errorf("Count(a) = %d after DeleteMany", n)
	}
	mustGet(t, s, "b1")
	if _, err := s.History(ctx, tickler.HistoryParams{ID: "a2", Limit: 5}); !errors.Is(err, tickler.ErrNotFound) {
		t.Errorf("History of a deleted record = %v", err)
	}
	if res := claim(t, s, tickler.Due{}, epoch.Add(2*time.Hour), 100); len(res.Due) != 1 || res.Due[0].ID != "b1" {
		t.Errorf("Claim after DeleteMany = %v", ids(res.Due))
	}
}
