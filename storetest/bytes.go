package storetest

import (
	"errors"
	"fmt"
	"testing"

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

	// An Update that grows a record counts its new size (it is not
	// refused: only creates are).
	r := mustGet(t, s, "a-3")
	r.Message.Messages[0].Content = tickler.Text("a longer content than Record's, by some bytes")
	grown := recordSize(t, r) - sz
	if err := s.Update(ctx, r); err != nil {
		t.Fatal(err)
	}
	refusedOverBytes(t, s, Record("a-6", "a", epoch), 5*sz+grown-1)
	createdUnderBytes(t, s, Record("a-6", "a", epoch), 5*sz+grown)
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
