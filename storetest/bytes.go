package storetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
)

// The per-agent byte limit, tickler.CreateParams.MaxBytesPerAgent: each
// record counts tickler.RecordSize of itself.

// recordSize returns tickler.RecordSize of r.
func recordSize(t *testing.T, r *tickler.Record) int64 {
	t.Helper()
	n, err := tickler.RecordSize(r)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// refusedOverBytes fails the test unless Create of r under a byte limit of
// max is refused with ErrLimitExceeded and stores nothing.
func refusedOverBytes(t *testing.T, s tickler.Store, r *tickler.Record, max int64) {
	t.Helper()
	if err := s.Create(ctx, r, tickler.CreateParams{MaxBytesPerAgent: max}); !errors.Is(err, tickler.ErrLimitExceeded) {
		t.Fatalf("Create(%s) past %d bytes = %v, want ErrLimitExceeded", r.ID, max, err)
	}
	if _, err := s.Get(ctx, "", r.ID); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("Create(%s) past the byte limit stored the record: %v", r.ID, err)
	}
}

// createdUnderBytes fails the test unless Create of r under a byte limit
// of max succeeds.
func createdUnderBytes(t *testing.T, s tickler.Store, r *tickler.Record, max int64) {
	t.Helper()
	if err := s.Create(ctx, r, tickler.CreateParams{MaxBytesPerAgent: max}); err != nil {
		t.Fatalf("Create(%s) within %d bytes = %v", r.ID, max, err)
	}
}

func testMaxBytesPerAgent(t *testing.T, s tickler.Store) {
	// Ids of one length: every record of Record has the same size.
	sz := recordSize(t, Record("a-0", "a", epoch))
	for i := range 3 {
		createdUnderBytes(t, s, Record(fmt.Sprintf("a-%d", i), "a", epoch), 3*sz)
	}
	refusedOverBytes(t, s, Record("a-3", "a", epoch), 3*sz)
	refusedOverBytes(t, s, Record("a-3", "a", epoch), 4*sz-1)
	if n, _ := s.Count(ctx, "a"); n != 3 {
		t.Fatalf("Count = %d after refused Creates, want 3", n)
	}
	if res := claim(t, s, tickler.Due{}, epoch, 10); len(res.Due) != 3 {
		t.Fatalf("Claim after a refused Create = %v", ids(res.Due))
	}
	// The limit is per agent; up to it exactly, or with none, is allowed.
	createdUnderBytes(t, s, Record("b-0", "b", epoch), 3*sz)
	createdUnderBytes(t, s, Record("a-3", "a", epoch), 4*sz)
	refusedOverBytes(t, s, Record("a-4", "a", epoch), 4*sz)
	// A record larger than the limit alone is refused.
	refusedOverBytes(t, s, Record("c-0", "c", epoch), sz-1)

	// A Delete and an ack that removes a record make room.
	if err := s.Delete(ctx, "a", "a-0"); err != nil {
		t.Fatal(err)
	}
	createdUnderBytes(t, s, Record("a-4", "a", epoch), 4*sz)
	mustAck(t, s, tickler.AckParams{ID: "a-1", Version: 1})
	createdUnderBytes(t, s, Record("a-5", "a", epoch), 4*sz)
	refusedOverBytes(t, s, Record("a-6", "a", epoch), 4*sz)
	// An ack that advances a record changes nothing of its size.
	mustAck(t, s, tickler.AckParams{ID: "a-2", Version: 1, Next: epoch.Add(1)})
	refusedOverBytes(t, s, Record("a-6", "a", epoch), 4*sz)

	// An Update that grows a record counts its new size (with no bound it
	// is not refused; see testUpdateMaxBytes).
	r := mustGet(t, s, "a-3")
	r.Message.Messages[0].Content = tickler.Text("a longer content than Record's, by some bytes")
	grown := recordSize(t, r) - sz
	if err := s.Update(ctx, r, tickler.UpdateParams{}); err != nil {
		t.Fatal(err)
	}
	refusedOverBytes(t, s, Record("a-6", "a", epoch), 5*sz+grown-1)
	createdUnderBytes(t, s, Record("a-6", "a", epoch), 5*sz+grown)
}

// grow returns a copy of r, a record made by Record, whose message is by
// bytes larger than Record's.
func grow(t *testing.T, r *tickler.Record, by int) *tickler.Record {
	t.Helper()
	g := r.Clone()
	g.Message.Messages[0].Content = tickler.Text("plain" + strings.Repeat("x", by)) // Record's is "plain"
	return g
}

// refusedUpdateOverBytes fails the test unless Update of r under a byte
// limit of max is refused with ErrLimitExceeded and changes nothing.
func refusedUpdateOverBytes(t *testing.T, s tickler.Store, r *tickler.Record, max int64) {
	t.Helper()
	before := mustGet(t, s, r.ID)
	if err := s.Update(ctx, r.Clone(), tickler.UpdateParams{MaxBytesPerAgent: max}); !errors.Is(err, tickler.ErrLimitExceeded) {
		t.Fatalf("Update(%s) past %d bytes = %v, want ErrLimitExceeded", r.ID, max, err)
	}
	sameRecord(t, mustGet(t, s, r.ID), before)
}

// updatedUnderBytes fails the test unless Update of r under a byte limit
// of max succeeds, and returns r as stored.
func updatedUnderBytes(t *testing.T, s tickler.Store, r *tickler.Record, max int64) *tickler.Record {
	t.Helper()
	if err := s.Update(ctx, r.Clone(), tickler.UpdateParams{MaxBytesPerAgent: max}); err != nil {
		t.Fatalf("Update(%s) within %d bytes = %v", r.ID, max, err)
	}
	return mustGet(t, s, r.ID)
}

func testUpdateMaxBytes(t *testing.T, s tickler.Store) {
	sz := recordSize(t, Record("a-0", "a", epoch))
	mustCreate(t, s, Record("a-0", "a", epoch))
	mustCreate(t, s, Record("a-1", "a", epoch))
	mustCreate(t, s, Record("b-0", "b", epoch)) // another agent's bytes do not count
	const by = 10
	r := mustGet(t, s, "a-0")

	// Growth past the bound is refused, also with an empty agent id,
	// which matches the stored agent.
	refusedUpdateOverBytes(t, s, grow(t, r, by), 2*sz+by-1)
	anyAgent := grow(t, r, by)
	anyAgent.AgentID = ""
	refusedUpdateOverBytes(t, s, anyAgent, 2*sz+by-1)
	if res := claim(t, s, tickler.Due{}, epoch, 10); len(res.Due) != 3 || res.Due[0].Version != 1 {
		t.Fatalf("Claim after a refused Update = %v", res.Due)
	}
	// Up to the bound exactly, or with none, is allowed; the total
	// follows.
	r = updatedUnderBytes(t, s, grow(t, r, by), 2*sz+by)
	if r.Version != 2 {
		t.Fatalf("Version after an Update within the bound = %d, want 2", r.Version)
	}
	refusedUpdateOverBytes(t, s, grow(t, r, by+1), 2*sz+by)
	refusedOverBytes(t, s, Record("a-2", "a", epoch), 3*sz+by-1)

	// Only growth is refused: an update of the same size, or smaller,
	// applies even with the agent past the bound.
	r = updatedUnderBytes(t, s, r, sz)
	shrunk := Record("a-0", "a", epoch.Add(time.Hour))
	shrunk.Version = r.Version
	if r = updatedUnderBytes(t, s, shrunk, sz); r.Version != 4 {
		t.Fatalf("Version after two Updates that do not grow = %d, want 4", r.Version)
	}
	createdUnderBytes(t, s, Record("a-2", "a", epoch), 3*sz)
	// Growth is refused by the whole total, not the record's own size.
	refusedUpdateOverBytes(t, s, grow(t, r, 1), 3*sz)
	updatedUnderBytes(t, s, grow(t, r, 1), 3*sz+1)
}

func testUpdateMaxBytesConcurrent(t *testing.T, s tickler.Store) {
	const callers, fit, by = 16, 5, 100
	sz := recordSize(t, Record("a-00", "a", epoch))
	for i := range callers {
		mustCreate(t, s, Record(fmt.Sprintf("a-%02d", i), "a", epoch))
	}
	limit := callers*sz + fit*by + by/2
	grown := make([]*tickler.Record, callers)
	for i := range grown {
		grown[i] = grow(t, mustGet(t, s, fmt.Sprintf("a-%02d", i)), by)
	}
	ok, over := concurrently(t, callers, func(i int) error {
		return s.Update(ctx, grown[i], tickler.UpdateParams{MaxBytesPerAgent: limit})
	})
	if ok != fit || over != callers-fit {
		t.Fatalf("%d concurrent updates growing by %d under a limit of %d: %d applied, %d refused", callers, by, limit, ok, over)
	}
}

func testMaxBytesPerAgentConcurrent(t *testing.T, s tickler.Store) {
	const callers, fit = 32, 10
	sz := recordSize(t, Record("a-00", "a", epoch))
	limit := fit*sz + sz/2
	mustCreate(t, s, Record("b-00", "b", epoch))
	ok, over := createConcurrently(t, s, callers, tickler.CreateParams{MaxBytesPerAgent: limit})
	if ok != fit || over != callers-fit {
		t.Fatalf("%d concurrent creates of %d bytes under a limit of %d: %d stored, %d refused", callers, sz, limit, ok, over)
	}
}

func testCreateManyMaxBytes(t *testing.T, s tickler.BatchCreator) {
	sz := recordSize(t, Record("a-0", "a", epoch))
	mustCreate(t, s, Record("a-0", "a", epoch))
	// The whole batch counts: two more of sz pass 2*sz.
	err := s.CreateMany(ctx, []*tickler.Record{Record("b-1", "b", epoch), Record("a-1", "a", epoch), Record("a-2", "a", epoch)},
		tickler.CreateParams{MaxBytesPerAgent: 2 * sz})
	if !errors.Is(err, tickler.ErrLimitExceeded) {
		t.Fatalf("CreateMany past the byte limit = %v, want ErrLimitExceeded", err)
	}
	for _, id := range []string{"b-1", "a-1", "a-2"} {
		if _, err := s.Get(ctx, "", id); !errors.Is(err, tickler.ErrNotFound) {
			t.Fatalf("a refused CreateMany stored %s (%v)", id, err)
		}
	}
	if err := s.CreateMany(ctx, []*tickler.Record{Record("b-1", "b", epoch), Record("a-1", "a", epoch)},
		tickler.CreateParams{MaxBytesPerAgent: 2 * sz}); err != nil {
		t.Fatalf("CreateMany up to the byte limit: %v", err)
	}
	refusedOverBytes(t, s, Record("a-2", "a", epoch), 2*sz+sz-1)
}

func testDeleteManyFreesBytes(t *testing.T, s tickler.BatchDeleter) {
	sz := recordSize(t, Record("a-0", "a", epoch))
	for i := range 3 {
		mustCreate(t, s, Record(fmt.Sprintf("a-%d", i), "a", epoch))
	}
	for i, err := range s.DeleteMany(ctx, "a", []string{"a-0", "a-1", "a-9"}) {
		if (i < 2) != (err == nil) {
			t.Fatalf("DeleteMany: error %d = %v", i, err)
		}
	}
	createdUnderBytes(t, s, Record("a-3", "a", epoch), 2*sz)
	refusedOverBytes(t, s, Record("a-4", "a", epoch), 3*sz-1)
}
