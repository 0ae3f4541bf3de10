package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	neturl "net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tickler-go/tickler/postgres"
)

// The tests need a PostgreSQL database; each runs in a schema of its own,
// dropped when it ends, so they run in parallel on one database.
const defaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

var pool *pgxpool.Pool

func TestMain(m *testing.M) {
	url := os.Getenv("TICKLER_TEST_DATABASE_URL")
	if url == "" {
		url = defaultURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	var err error
	cfg, err := pgxpool.ParseConfig(url)
	if err == nil {
		// The tests run in parallel, and a heartbeat that waits for a
		// connection behind them would let a short lease lapse.
		cfg.MaxConns = max(cfg.MaxConns, 32)
		pool, err = pgxpool.NewWithConfig(context.Background(), cfg)
	}
	if err == nil {
		err = pool.Ping(ctx)
	}
	cancel()
	if u, perr := neturl.Parse(url); perr == nil {
		url = u.Redacted() // no password in a log
	}
	if err != nil {
		if os.Getenv("TICKLER_REQUIRE_POSTGRES") == "1" {
			fmt.Fprintf(os.Stderr, "postgres: TICKLER_REQUIRE_POSTGRES=1 and no database at %s: %v\n", url, err)
			os.Exit(1)
		}
		fmt.Printf("postgres: tests skipped, no database at %s (set TICKLER_TEST_DATABASE_URL to run them; TICKLER_REQUIRE_POSTGRES=1 fails instead)\n", url)
		os.Exit(0)
	}
	code := m.Run()
	pool.Close()
	os.Exit(code)
}

// newSchema migrates a new schema for t and drops it when t ends.
func newSchema(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "tickler_test_" + hex.EncodeToString(b)
	if _, err := postgres.Migrate(context.Background(), pool, postgres.WithSchema(schema)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	return schema
}

// newStore returns a Store on schema, closed when t ends.
func newStore(t *testing.T, schema string, opts ...postgres.Option) *postgres.Store {
	t.Helper()
	s, err := postgres.New(context.Background(), pool, append([]postgres.Option{postgres.WithSchema(schema)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}
