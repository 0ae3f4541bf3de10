package postgres_test

import (
	"context"
	"flag"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tickler-go/tickler/postgres"
	"github.com/tickler-go/tickler/ticklertest"
)

var stressSteps = flag.Int("stress.steps", 20, "steps of TestStress (CI runs the default, 20; try 2000)")

// TestStress runs the engine's stress (ticklertest.Stress) over the
// PostgreSQL store: one node, with leases, confirms, agent slots and
// hints, on a mock clock. The database follows the mock clock: the
// store's SQL calls now() and clock_timestamp() unqualified, and its
// connections find functions of those names of the test's own before
// pg_catalog's, reading the time the stress set last (SQL that read
// another clock, or called them qualified, would not follow; the check
// below makes sure of both). The heap is not checked against
// the store here: that check needs the engine's internals, and the root
// package's TestStress makes it.
func TestStress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	schema := newSchema(t)
	clockSchema := pgx.Identifier{schema + "_clock"}.Sanitize()
	for _, q := range []string{
		`CREATE SCHEMA ` + clockSchema,
		`CREATE TABLE ` + clockSchema + `.clock (t timestamptz NOT NULL)`,
		`INSERT INTO ` + clockSchema + `.clock VALUES ('2026-01-01T00:00:00Z')`, // ticklertest.Epoch()
		`CREATE FUNCTION ` + clockSchema + `.now() RETURNS timestamptz LANGUAGE sql STABLE AS 'SELECT t FROM ` + clockSchema + `.clock'`,
		`CREATE FUNCTION ` + clockSchema + `.clock_timestamp() RETURNS timestamptz LANGUAGE sql VOLATILE AS 'SELECT t FROM ` + clockSchema + `.clock'`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP SCHEMA "+clockSchema+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", clockSchema, err)
		}
	})
	cfg := pool.Config()
	cfg.ConnConfig.RuntimeParams["search_path"] = clockSchema + ", pg_catalog"
	cfg.MaxConns = 8
	faked, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(faked.Close)
	for _, clock := range []string{"now()", "clock_timestamp()"} {
		var dbNow time.Time
		if err := faked.QueryRow(ctx, `SELECT `+clock).Scan(&dbNow); err != nil || !dbNow.Equal(ticklertest.Epoch()) {
			t.Fatalf("%s on the store's connections = %v, %v; want the test's clock, %v", clock, dbNow, err, ticklertest.Epoch())
		}
	}
	// The lease is long on the mock clock: the heartbeat renews it on the
	// real one, which does not keep pace.
	st, err := postgres.New(ctx, faked, postgres.WithSchema(schema), postgres.WithLease(time.Hour), postgres.WithHeartbeat(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	})
	ticklertest.Stress(t, ticklertest.StressConfig{
		Store: st,
		Steps: *stressSteps,
		SetClock: func(now time.Time) {
			if _, err := pool.Exec(ctx, `UPDATE `+clockSchema+`.clock SET t = $1`, now); err != nil {
				t.Fatal(err)
			}
		},
	})
}
