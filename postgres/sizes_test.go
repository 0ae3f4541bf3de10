package postgres_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/postgres"
	"github.com/tickler-go/tickler/storetest"
)

// The size column is tickler.RecordSize of the row's record, whether
// Create and Update set it or migration 5 computed it from the record of
// a row written before it.
func TestSizeColumnIsRecordSize(t *testing.T) {
	t.Parallel()
	s := newStore(t, newSchema(t))
	plain := storetest.Record("plain", "a", time.Now().Add(time.Hour))
	labelled := storetest.Record("labelled", "a", time.Now().Add(time.Hour))
	labelled.Name, labelled.Description, labelled.ConversationID = "naïve <&>", "dé\u2028scription", "conv-1"
	labelled.Message.Messages[0].Content = tickler.Text("<b>héllo</b> \"quoted\" \u2028 \x01")
	for _, r := range []*tickler.Record{plain, labelled} {
		if err := s.Create(ctx, r, tickler.CreateParams{}); err != nil {
			t.Fatal(err)
		}
	}
	updated := plain.Clone()
	updated.Message.Messages[0].Content = tickler.Text("a longer content than before, <with> markup")
	if err := s.Update(ctx, updated, tickler.UpdateParams{}); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{}
	for _, r := range []*tickler.Record{updated, labelled} {
		n, err := tickler.RecordSize(r)
		if err != nil {
			t.Fatal(err)
		}
		want[r.ID] = n
	}
	check := func(when string) {
		t.Helper()
		got, err := postgres.Sizes(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		for id, n := range want {
			if got[id] != n {
				t.Errorf("%s: size of %s = %d, want RecordSize %d", when, id, got[id], n)
			}
		}
	}
	check("after Create and Update")

	m := postgres.MigrationSQL(5)
	if err := postgres.Exec(ctx, s, `UPDATE {schema}.schedules SET size = 0`); err != nil {
		t.Fatal(err)
	}
	if err := postgres.Exec(ctx, s, m[strings.Index(m, "UPDATE"):]); err != nil {
		t.Fatal(err)
	}
	check("computed by migration 5")
}
