package postgres_test

import (
	"slices"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/postgres"
)

// The admin reads skip what they cannot decode and read on past it, so
// that a page is full whenever the store holds enough.

func TestListAllReadsPastDamagedRecords(t *testing.T) {
	t.Parallel()
	s := newStore(t, newSchema(t))
	for _, id := range []string{"a", "b", "c", "d"} {
		rec := &tickler.Record{ID: id, AgentID: "agent", Schedule: tickler.At(time.Now().Add(time.Hour)), Next: time.Now().Add(time.Hour).Truncate(time.Millisecond),
			Message: tickler.MessageCreate{Messages: []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text("hi")}}}}
		if err := s.Create(ctx, rec, tickler.CreateParams{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := postgres.Exec(ctx, s, `UPDATE {schema}.schedules SET format = 99 WHERE id IN ('b', 'c')`); err != nil {
		t.Fatal(err)
	}
	res, err := s.ListAll(ctx, tickler.ListAllParams{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Records) != 1 || res.Records[0].Record.ID != "a" || !res.More || !slices.Equal(res.Damaged, []string{"b", "c"}) {
		t.Fatalf("ListAll, limit 1 = %d records, More=%v, damaged %v", len(res.Records), res.More, res.Damaged)
	}
	res, err = s.ListAll(ctx, tickler.ListAllParams{After: "a", Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Records) != 1 || res.Records[0].Record.ID != "d" || res.More {
		t.Fatalf("ListAll after a, limit 1 = %d records, More=%v, damaged %v", len(res.Records), res.More, res.Damaged)
	}
	// A cursor PostgreSQL text cannot hold is compared as bytes.
	res, err = s.ListAll(ctx, tickler.ListAllParams{After: "c\x00", Limit: 10})
	if err != nil || len(res.Records) != 1 || res.Records[0].Record.ID != "d" {
		t.Fatalf("ListAll after c\\x00 = %+v, %v", res, err)
	}
}

func TestRecentOutcomesSkipsWhatDoesNotDecode(t *testing.T) {
	t.Parallel()
	s := newStore(t, newSchema(t))
	rec := &tickler.Record{ID: "r", AgentID: "agent", Schedule: tickler.At(time.Now().Add(time.Hour)),
		Message: tickler.MessageCreate{Messages: []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text("hi")}}}}
	if err := s.Create(ctx, rec, tickler.CreateParams{}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"o-1", "o-2", "o-3"} {
		err := s.Ack(ctx, tickler.AckParams{ID: "r", HistoryOnly: true, HistoryLimit: 10,
			Outcome: &tickler.Outcome{ID: id, ScheduledMessageID: "r", Status: tickler.StatusSuccess}})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := postgres.Exec(ctx, s, `UPDATE {schema}.history SET outcome = '{"id": "o-3", "attempts": "many"}' WHERE seq = 3`); err != nil {
		t.Fatal(err)
	}
	// An outcome written with spaces, which json keeps and jsonb would not.
	if err := postgres.Exec(ctx, s, `UPDATE {schema}.history SET outcome = '{"id": "o-2", "response": {"b": 1,  "a":2}}' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	res, err := s.RecentOutcomes(ctx, tickler.RecentParams{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Outcomes) != 2 || res.Outcomes[0].ID != "o-2" || res.Outcomes[1].ID != "o-1" || res.More {
		t.Fatalf("RecentOutcomes = %+v", res)
	}
	if got := string(res.Outcomes[0].Response); got != `{"b": 1,  "a":2}` || res.Outcomes[0].AgentID != "agent" {
		t.Fatalf("the response reads back as %s, agent %q", got, res.Outcomes[0].AgentID)
	}
	// A cursor PostgreSQL text cannot hold is compared as bytes.
	res, err = s.RecentOutcomes(ctx, tickler.RecentParams{Before: "o-2\xff", Limit: 10})
	if err != nil || len(res.Outcomes) != 2 || res.Outcomes[0].ID != "o-2" {
		t.Fatalf("RecentOutcomes before o-2\\xff = %+v, %v", res, err)
	}
}
