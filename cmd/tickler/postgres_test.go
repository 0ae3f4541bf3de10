package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/postgres"
)

// The PostgreSQL tests use the database at TICKLER_TEST_DATABASE_URL, each
// in a schema of its own, dropped when it ends. Without a database they
// skip, unless TICKLER_REQUIRE_POSTGRES=1, which fails them instead.
const defaultTestDatabase = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

var testDB struct {
	once sync.Once
	url  string
	pool *pgxpool.Pool
	err  error
}

// testDatabase returns the test database's URL and a pool on it, or skips
// t when none answers.
func testDatabase(t *testing.T) (string, *pgxpool.Pool) {
	t.Helper()
	testDB.once.Do(func() {
		testDB.url = os.Getenv("TICKLER_TEST_DATABASE_URL")
		if testDB.url == "" {
			testDB.url = defaultTestDatabase
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		testDB.pool, testDB.err = pgxpool.New(context.Background(), testDB.url)
		if testDB.err == nil {
			if testDB.err = testDB.pool.Ping(ctx); testDB.err != nil {
				testDB.pool.Close()
			}
		}
	})
	if testDB.err != nil {
		msg := "no PostgreSQL at " + redact(testDB.url) + ": " + testDB.err.Error()
		if os.Getenv("TICKLER_REQUIRE_POSTGRES") == "1" {
			t.Fatal("TICKLER_REQUIRE_POSTGRES=1 and " + msg)
		}
		t.Skip(msg + " (set TICKLER_TEST_DATABASE_URL)")
	}
	return testDB.url, testDB.pool
}

// newSchema returns the test database's URL and a schema name of t's own,
// not yet created; whatever is made under it is dropped when t ends.
func newSchema(t *testing.T) (dbURL, schema string) {
	t.Helper()
	dbURL, pool := testDatabase(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema = "tickler_cmd_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	return dbURL, schema
}

func TestServeOnPostgresMigratesDeliversAndReleasesItsNode(t *testing.T) {
	t.Parallel()
	dbURL, schema := newSchema(t)
	_, pool := testDatabase(t)
	r := start(t, Config{DB: dbURL, Schema: schema, Migrate: true})

	if code, m := r.get(t, "/readyz"); code != 200 || m["status"] != "ready" {
		t.Errorf("/readyz: %d %v", code, m)
	}
	at := time.Now().Add(300 * time.Millisecond).UnixMilli()
	code, m := r.do(t, "POST", "/v1/agents/agent-1/schedule", "",
		`{"messages":[{"role":"user","content":"hello"}],"schedule":{"scheduled_at":`+jsonNumber(at)+`}}`)
	if code != 201 {
		t.Fatalf("create: %d %v", code, m)
	}
	id, _ := m["id"].(string)
	waitForLog(t, r, "scheduled_message_id="+id)

	if err := r.stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, r.logs)
	}
	logs := r.logs.String()
	for _, want := range []string{`msg="tickler: migrated the schema" schema=` + schema, "schema " + schema, `msg="tickler: stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %s:\n%s", want, logs)
		}
	}
	// The store was closed: its node left the nodes table.
	var nodes int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM "+pgx.Identifier{schema}.Sanitize()+".nodes").Scan(&nodes); err != nil {
		t.Fatal(err)
	}
	if nodes != 0 {
		t.Errorf("%d nodes left after a stop, want 0: the store was not closed", nodes)
	}
}

// TestServeOnPostgresRunsAsANodeOfTheSharedStore checks that the server's
// scheduler runs in shared mode: a record another node writes into the
// window the server already claimed is found by polling and delivered. A
// scheduler that took the store for one owned by a single process would
// never look behind its cursor again.
func TestServeOnPostgresRunsAsANodeOfTheSharedStore(t *testing.T) {
	t.Parallel()
	dbURL, schema := newSchema(t)
	_, pool := testDatabase(t)
	r := start(t, Config{DB: dbURL, Schema: schema, Migrate: true})
	waitForLog(t, r, "tickler: listening")
	other, err := postgres.New(context.Background(), pool, postgres.WithSchema(schema), postgres.WithPollOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	at := time.Now().Add(time.Second)
	rec := &tickler.Record{ID: "from-another-node", AgentID: "agent-1",
		Message:  tickler.MessageCreate{Messages: []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text("hi")}}},
		Schedule: tickler.At(at), Next: at.Truncate(time.Millisecond)}
	if err := other.Create(context.Background(), rec, tickler.CreateParams{}); err != nil {
		t.Fatal(err)
	}
	waitForLog(t, r, "scheduled_message_id=from-another-node")
}

func TestServeWithoutMigrateRefusesAnUnmigratedSchema(t *testing.T) {
	t.Parallel()
	dbURL, schema := newSchema(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	err := serve(ctx, Config{DB: dbURL, Schema: schema, Addr: "127.0.0.1:0", ShutdownTimeout: time.Second},
		discardLog(), func(net.Addr) { t.Error("serve listened") })
	if !errors.Is(err, postgres.ErrNotMigrated) || !strings.Contains(err.Error(), `run "tickler migrate"`) {
		t.Fatalf("serve on an unmigrated schema: %v, want postgres.ErrNotMigrated saying to run tickler migrate", err)
	}

	// tickler migrate prints what it applied, then that nothing is left.
	var out bytes.Buffer
	if err := run([]string{"migrate", "-db", dbURL, "-schema", schema}, env(), &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "schema "+schema+": applied migrations 1") {
		t.Errorf("tickler migrate printed %q", &out)
	}
	out.Reset()
	if err := run([]string{"migrate"}, env("TICKLER_DB", dbURL, "TICKLER_DB_SCHEMA", schema), &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "no migration applied") {
		t.Errorf("tickler migrate, again, printed %q", &out)
	}

	// Now serve starts without migrating.
	r := start(t, Config{DB: dbURL, Schema: schema})
	if code, m := r.get(t, "/readyz"); code != 200 {
		t.Errorf("/readyz: %d %v", code, m)
	}
	if strings.Contains(r.logs.String(), "migrated the schema") {
		t.Errorf("serve without -migrate migrated:\n%s", r.logs)
	}
}

func TestMigrateNeedsAPostgresURL(t *testing.T) {
	t.Parallel()
	err := run([]string{"migrate", "-db", "./tickler.db"}, env(), &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "postgres:// URL") {
		t.Fatalf("migrate of a bolt file: %v", err)
	}
}

func TestNoErrorOrLogShowsTheDatabasePassword(t *testing.T) {
	t.Parallel()
	// A database that does not answer: the error names it, without the
	// password.
	for _, raw := range []string{
		"postgres://tickler:pw-XYZZY@127.0.0.1:1/db?connect_timeout=2",
		"postgresql://tickler@127.0.0.1:1/db?password=pw-XYZZY&connect_timeout=2",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		err := serve(ctx, Config{DB: raw, Schema: "s", Migrate: true, Addr: "127.0.0.1:0", ShutdownTimeout: time.Second},
			discardLog(), func(net.Addr) { t.Error("serve listened") })
		cancel()
		if err == nil || strings.Contains(err.Error(), "XYZZY") || !strings.Contains(err.Error(), "127.0.0.1:1") {
			t.Errorf("serve on %s: %v; want an error naming the host, without the password", redact(raw), err)
		}
		err = run([]string{"migrate", "-db", raw}, env(), &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || strings.Contains(err.Error(), "XYZZY") {
			t.Errorf("migrate on %s: %v; want an error without the password", redact(raw), err)
		}
	}

	// The test database, with a password in its URL: whether the server
	// accepts it or refuses it, neither the log nor the error shows it.
	dbURL, schema := newSchema(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), "pw-XYZZY")
	logs := &syncBuffer{}
	log, _ := newLogger(Config{LogFormat: "text", LogLevel: "debug"}, logs)
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, Config{DB: u.String(), Schema: schema, Migrate: true, Addr: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second},
			log, func(net.Addr) { close(listening) })
	}()
	select {
	case <-listening:
		cancel()
		err = <-done
	case err = <-done:
		cancel()
	case <-time.After(waitTimeout):
		cancel()
		t.Fatal("serve neither listened nor failed")
	}
	if err != nil && strings.Contains(err.Error(), "XYZZY") {
		t.Errorf("the error shows the password: %v", err)
	}
	if strings.Contains(logs.String(), "XYZZY") {
		t.Errorf("the log shows the password:\n%s", logs)
	}
	if !strings.Contains(logs.String()+errString(err), "xxxxx") {
		t.Errorf("neither the log nor the error names the database (masked):\n%s\n%v", logs, err)
	}
}

func TestRedactMasksEveryPassword(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"postgres://u:secret@h:5432/db?sslmode=disable":       "postgres://u:xxxxx@h:5432/db?sslmode=disable",
		"postgresql://u@h/db?password=secret&sslmode=require": "postgresql://u@h/db?password=xxxxx&sslmode=require",
		"postgres://h/db": "postgres://h/db",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
	err := scrub(errors.New("cannot reach u:secret@h"), "postgres://u:secret@h/db")
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("scrub left the password: %v", err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// waitForLog waits, bounded, until r's log holds s.
func waitForLog(t *testing.T, r *running, s string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !strings.Contains(r.logs.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("the log never showed %s:\n%s", s, r.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestAdminAPIOnPostgres checks that the admin API answers on PostgreSQL,
// whose store is an AdminStore: the schedules across agents, the counts,
// and the newest deliveries.
func TestAdminAPIOnPostgres(t *testing.T) {
	t.Parallel()
	dbURL, schema := newSchema(t)
	const admin = "admin-XYZZY"
	r := start(t, Config{DB: dbURL, Schema: schema, Migrate: true, AdminKey: admin})
	at := time.Now().Add(time.Hour).UnixMilli()
	var ids []string
	for _, agent := range []string{"agent-1", "agent-2"} {
		code, m := r.do(t, "POST", "/v1/agents/"+agent+"/schedule", "",
			`{"messages":[{"role":"user","content":"hello"}],"schedule":{"scheduled_at":`+jsonNumber(at)+`}}`)
		if code != 201 {
			t.Fatalf("create: %d %v", code, m)
		}
		id, _ := m["id"].(string)
		ids = append(ids, id)
	}
	if code, m := r.do(t, "POST", "/admin/v1/schedules/"+ids[0]+"/trigger", admin, `{}`); code != 200 {
		t.Fatalf("trigger: %d %v", code, m)
	}
	code, m := r.do(t, "GET", "/admin/v1/counts", admin, "")
	if code != 200 || m["total"] != float64(2) || m["scheduled"] != float64(2) || m["agents"] != float64(2) {
		t.Fatalf("/admin/v1/counts: %d %v", code, m)
	}
	code, m = r.do(t, "GET", "/admin/v1/schedules?limit=1", admin, "")
	if list, _ := m["schedules"].([]any); code != 200 || len(list) != 1 || m["has_next_page"] != true {
		t.Fatalf("/admin/v1/schedules?limit=1: %d %v", code, m)
	}
	code, m = r.do(t, "GET", "/admin/v1/schedules?agent=agent-2", admin, "")
	if list, _ := m["schedules"].([]any); code != 200 || len(list) != 1 {
		t.Fatalf("/admin/v1/schedules?agent=agent-2: %d %v", code, m)
	}
	// The trigger's outcome is acked after its answer: wait for it.
	var list []any
	for deadline := time.Now().Add(waitTimeout); ; time.Sleep(20 * time.Millisecond) {
		code, m = r.do(t, "GET", "/admin/v1/deliveries", admin, "")
		list, _ = m["deliveries"].([]any)
		if code != 200 || len(list) > 1 || (len(list) == 0 && time.Now().After(deadline)) {
			t.Fatalf("/admin/v1/deliveries: %d %v", code, m)
		}
		if len(list) == 1 {
			break
		}
	}
	if d, _ := list[0].(map[string]any); d["agent_id"] != "agent-1" || d["triggered"] != true {
		t.Fatalf("/admin/v1/deliveries: %v", d)
	}
}
