package storetest

import (
	"errors"
	"sync"
	"testing"

	"github.com/tickler-go/tickler"
)

// The tests of tickler.RecordViewer: View reads what Get reads, and a
// record it returned never changes, whatever happens to the stored one.

var recordViewerTests = []subtest[tickler.RecordViewer]{
	{"ViewReadsWhatGetReads", testViewIsGet},
	{"ViewedRecordNeverChanges", testViewedNeverChanges},
	{"ViewedRecordNeverChangesUnderConcurrentAcks", testViewedConcurrent},
}

func testViewIsGet(t *testing.T, s tickler.RecordViewer) {
	r := Record("rec", "a", epoch)
	mustCreate(t, s, r)
	v, err := s.View(ctx, "rec")
	if err != nil {
		t.Fatal(err)
	}
	sameRecord(t, v, r)
	if v.Version != 1 {
		t.Fatalf("View: version %d, want 1", v.Version)
	}
	if _, err := s.View(ctx, "nope"); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("View of an unknown id = %v, want ErrNotFound", err)
	}
	mustAck(t, s, tickler.AckParams{ID: "rec", Version: 1})
	if _, err := s.View(ctx, "rec"); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("View after the ack that removed it = %v, want ErrNotFound", err)
	}
}

func testViewedNeverChanges(t *testing.T, s tickler.RecordViewer) {
	r := Record("rec", "a", epoch)
	mustCreate(t, s, r)
	v, err := s.View(ctx, "rec")
	if err != nil {
		t.Fatal(err)
	}
	before := jsonOf(t, v)
	unchanged := func(after string) {
		t.Helper()
		if v.Version != 1 || !v.Next.Equal(epoch) || jsonOf(t, v) != before {
			t.Fatalf("the record View returned changed after %s: version %d, next %v\n%s\nwas %s",
				after, v.Version, v.Next, jsonOf(t, v), before)
		}
	}

	mustAck(t, s, tickler.AckParams{ID: "rec", Version: 1, Next: epoch.Add(1),
		Outcome: &tickler.Outcome{ID: "o1", ScheduledMessageID: "rec", Status: tickler.StatusSuccess}, HistoryLimit: 5})
	unchanged("an ack that advanced it")
	if got := mustGet(t, s, "rec"); got.Version != 2 || !got.Next.Equal(epoch.Add(1)) {
		t.Fatalf("after the ack: version %d, next %v; want 2, %v", got.Version, got.Next, epoch.Add(1))
	}

	u := mustGet(t, s, "rec")
	u.Message.Messages[0].Content = tickler.Text("updated")
	u.Next = epoch.Add(2)
	if err := s.Update(ctx, u, tickler.UpdateParams{}); err != nil {
		t.Fatal(err)
	}
	unchanged("an update")

	if err := s.Delete(ctx, "", "rec"); err != nil {
		t.Fatal(err)
	}
	unchanged("a delete")
}

// testViewedConcurrent reads viewed records while their store advances
// them: under the race detector, a store that changes a record it handed
// out fails here.
func testViewedConcurrent(t *testing.T, s tickler.RecordViewer) {
	const n, rounds = 8, 50
	for i := range n {
		mustCreate(t, s, Record(string(rune('a'+i)), "a", epoch))
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for round := range rounds {
			for i := range n {
				id := string(rune('a' + i))
				if err := s.Ack(ctx, tickler.AckParams{ID: id, Version: uint64(round + 1), Next: epoch.Add(1)}); err != nil {
					t.Errorf("Ack(%s, round %d): %v", id, round, err)
					return
				}
			}
		}
	})
	for range 4 {
		wg.Go(func() {
			for range rounds {
				for i := range n {
					v, err := s.View(ctx, string(rune('a'+i)))
					if err != nil {
						t.Errorf("View: %v", err)
						return
					}
					if v.Version == 0 || v.Next.IsZero() || len(v.Message.Messages) == 0 {
						t.Errorf("View: a torn record %+v", v)
						return
					}
				}
			}
		})
	}
	wait(t, &wg)
}
