package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/bolt"
	"github.com/tickler-go/tickler/postgres"
)

// openedStore is the store serve runs on, with what closes it.
type openedStore struct {
	tickler.Store
	// where names the store for the log: the bolt file, or the database's
	// URL without its password.
	where string
	// close closes the store, then the pool it runs on if any.
	close func() error
}

// isPostgres reports whether db names a PostgreSQL database rather than
// a bolt file.
func isPostgres(db string) bool {
	l := strings.ToLower(db)
	return strings.HasPrefix(l, "postgres://") || strings.HasPrefix(l, "postgresql://")
}

// openStore opens the store cfg.DB names. A PostgreSQL schema is migrated
// first when cfg.Migrate; otherwise one that lacks migrations is refused
// with an error matching [postgres.ErrNotMigrated] that says to run
// "tickler migrate". No error and no log line shows the URL's password.
func openStore(ctx context.Context, cfg Config, log *slog.Logger) (*openedStore, error) {
	if !isPostgres(cfg.DB) {
		st, err := bolt.Open(cfg.DB)
		if err != nil {
			return nil, fmt.Errorf("opening the store: %w", err)
		}
		return &openedStore{Store: st, where: st.Path(), close: st.Close}, nil
	}
	pool, where, err := openPool(ctx, cfg.DB)
	if err != nil {
		return nil, err
	}
	opts := []postgres.Option{postgres.WithSchema(cfg.Schema)}
	if cfg.PGPollOnly {
		opts = append(opts, postgres.WithPollOnly())
	}
	if cfg.Migrate {
		applied, err := postgres.Migrate(ctx, pool, opts...)
		if err != nil {
			pool.Close()
			return nil, fmt.Errorf("migrating the store at %s: %w", where, scrub(err, cfg.DB))
		}
		if len(applied) > 0 {
			log.Info("tickler: migrated the schema", "schema", cfg.Schema, "applied", applied)
		}
	}
	st, err := postgres.New(ctx, pool, opts...)
	if err != nil {
		pool.Close()
		if errors.Is(err, postgres.ErrNotMigrated) {
			return nil, fmt.Errorf("opening the store at %s: %w; run \"tickler migrate\" first, or serve with -migrate (TICKLER_MIGRATE=true)",
				where, scrub(err, cfg.DB))
		}
		return nil, fmt.Errorf("opening the store at %s: %w", where, scrub(err, cfg.DB))
	}
	return &openedStore{
		Store: st,
		where: where + " schema " + cfg.Schema,
		close: func() error { defer pool.Close(); return st.Close() },
	}, nil
}

// openPool connects to the database at raw, a postgres:// URL, and checks
// that it answers. where is raw without its password.
func openPool(ctx context.Context, raw string) (pool *pgxpool.Pool, where string, err error) {
	where = redact(raw)
	pcfg, err := pgxpool.ParseConfig(raw)
	if err != nil {
		return nil, where, fmt.Errorf("opening the store at %s: %w", where, scrub(err, raw))
	}
	pool, err = pgxpool.NewWithConfig(ctx, pcfg)
	if err == nil {
		err = pool.Ping(ctx)
		if err != nil {
			pool.Close()
		}
	}
	if err != nil {
		return nil, where, fmt.Errorf("opening the store at %s: %w", where, scrub(err, raw))
	}
	return pool, where, nil
}

// redact returns a database URL without its password, in the user info
// or in a password or sslpassword parameter.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an unparsable URL)"
	}
	q := u.Query()
	for k := range q {
		if strings.EqualFold(k, "password") || strings.EqualFold(k, "sslpassword") {
			q.Set(k, "xxxxx")
			u.RawQuery = q.Encode()
		}
	}
	return u.Redacted()
}

// scrub returns err, matching what it matched, with every password of the
// URL raw masked in its message. pgx already masks the ones it prints;
// this holds whatever the driver's messages become.
func scrub(err error, raw string) error {
	u, perr := url.Parse(raw)
	if perr != nil || err == nil {
		return err
	}
	var secrets []string
	if pw, ok := u.User.Password(); ok && pw != "" {
		secrets = append(secrets, pw)
	}
	for k, vs := range u.Query() {
		if strings.EqualFold(k, "password") || strings.EqualFold(k, "sslpassword") {
			secrets = append(secrets, vs...)
		}
	}
	msg := err.Error()
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
		}
	}
	if msg == err.Error() {
		return err
	}
	return &scrubbed{msg: msg, err: err}
}

type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// migrate runs "tickler migrate": it applies to the schema the migrations
// it lacks and prints the versions applied to out.
func migrate(ctx context.Context, args []string, getenv func(string) string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("tickler migrate", flag.ContinueOnError)
	fs.SetOutput(errOut)
	schemaDef := getenv("TICKLER_DB_SCHEMA")
	if schemaDef == "" {
		schemaDef = postgres.DefaultSchema
	}
	db := fs.String("db", getenv("TICKLER_DB"), "URL of the PostgreSQL database, postgres://... ($TICKLER_DB)")
	schema := fs.String("schema", schemaDef, "PostgreSQL schema of the tables ($TICKLER_DB_SCHEMA)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if !isPostgres(*db) {
		return errors.New("tickler migrate needs -db (TICKLER_DB) to be a postgres:// URL; a bolt file needs no migration")
	}
	pool, where, err := openPool(ctx, *db)
	if err != nil {
		return err
	}
	defer pool.Close()
	applied, err := postgres.Migrate(ctx, pool, postgres.WithSchema(*schema))
	if err != nil {
		return fmt.Errorf("migrating %s: %w", where, scrub(err, *db))
	}
	v, err := postgres.SchemaVersion(ctx, pool, postgres.WithSchema(*schema))
	if err != nil {
		return scrub(err, *db)
	}
	if len(applied) == 0 {
		fmt.Fprintf(out, "schema %s: up to date at version %d; no migration applied\n", *schema, v)
		return nil
	}
	vs := make([]string, len(applied))
	for i, a := range applied {
		vs[i] = fmt.Sprint(a)
	}
	fmt.Fprintf(out, "schema %s: applied migrations %s; now at version %d\n", *schema, strings.Join(vs, ", "), v)
	return nil
}
