package postgres_test

import (
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/tickler-go/tickler/postgres"
)

var explainRows = flag.Int("pg.explain", 20000, "records stored for TestPlansUseTheIndexes (BENCHMARKS.md uses 1000000); -v prints the plans")

// TestPlansUseTheIndexes stores many records, due over the next 30 days
// (the first thousand within 10 s), and checks that the claim reads its
// window through schedules_due and that the confirm and the acks find
// their record through the primary key, and that RecentOutcomes reads
// the history backwards through history_outcome_id: their cost must not
// grow with what is stored. (How the claim joins what it locked back to the table
// for its UPDATE is the planner's choice: a hash join over a sequential
// scan at 20,000 records, a nested loop over the primary key at 1M.)
func TestPlansUseTheIndexes(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	s := newStore(t, schema)
	sql := postgres.Statements(s)
	q := `INSERT INTO {schema}.schedules (id, agent_id, format, record, next_at, version)
		SELECT 'r' || lpad(i::text, 9, '0'), 'agent-' || (i % 1000), 1, '{}',
			CASE WHEN i < 1000 THEN now() + i * interval '10 ms' ELSE now() + (i::float / $1) * interval '30 days' END, 1
		FROM generate_series(0, $1::bigint - 1) i`
	if err := postgres.Exec(ctx, s, q, *explainRows); err != nil {
		t.Fatal(err)
	}
	// One history entry per record, its outcome id the record's id.
	if err := postgres.Exec(ctx, s, `INSERT INTO {schema}.history (schedule_id, seq, outcome)
		SELECT id, 1, json_build_object('id', id) FROM {schema}.schedules`); err != nil {
		t.Fatal(err)
	}
	if err := postgres.Exec(ctx, s, `ANALYZE {schema}.schedules, {schema}.history`); err != nil {
		t.Fatal(err)
	}
	node := postgres.Node(s)
	window := (10 * time.Second).Microseconds()
	for _, c := range []struct {
		name, index string
		args        []any
	}{
		{"claim", "Index Scan using schedules_due on schedules s ", []any{node, window, nil, nil, nil, 10000}},
		{"claimAfter", "Index Scan using schedules_due on schedules s ", []any{node, window, nil, time.Now(), "r000000500", 10000}},
		{"confirm", "Index Scan using schedules_pkey", []any{[]string{"r000000042", "r000000044"}, node}},
		{"ackAdvanceMany", "Index Scan using schedules_pkey", []any{[]string{"r000000042", "r000000044"}, []int64{1, 1}, node, []time.Time{time.Now().Add(time.Minute), time.Now().Add(time.Minute)}}},
		{"ackDeleteMany", "Index Scan using schedules_pkey", []any{[]string{"r000000043", "r000000045"}, []int64{1, 1}, node}},
		{"ackAdvance", "Index Scan using schedules_pkey", []any{"r000000042", 1, node, time.Now().Add(time.Minute), nil, 0, nil, nil, nil, nil, nil}},
		{"ackDelete", "Index Scan using schedules_pkey", []any{"r000000043", 1, node, nil, nil, nil, nil, nil}},
		{"recent", "Index Scan Backward using history_outcome_id", []any{"r000000500", 101}},
	} {
		// Run in a transaction rolled back, so that each plan sees the
		// same table: EXPLAIN ANALYZE executes the statement.
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := tx.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "+sql[c.name], c.args...)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var plan []string
		for rows.Next() {
			var l string
			if err := rows.Scan(&l); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, l)
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		_ = tx.Rollback(ctx)
		text := strings.Join(plan, "\n")
		t.Logf("%s with %d records:\n%s", c.name, *explainRows, text)
		if !strings.Contains(text, c.index) {
			t.Errorf("%s with %d records stored does not use %q", c.name, *explainRows, c.index)
		}
	}
}
