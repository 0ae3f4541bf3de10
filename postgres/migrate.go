package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The schema is built by numbered migrations, each a SQL file embedded in
// the package and applied once in a transaction of its own. The table
// migrations of the schema lists those applied. Every transaction of
// Migrate first takes an advisory lock named after the schema, so two
// processes that migrate at once apply each migration once: the second
// finds it applied and skips it.

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one step of the schema.
type Migration struct {
	Version int
	Name    string // the file name without its number and extension
	sql     string // with {schema} where the quoted schema name goes
}

// ErrNotMigrated means the schema lacks migrations this release needs:
// run [Migrate] first.
var ErrNotMigrated = errors.New("postgres: schema not migrated")

// Migrations returns the migrations this release knows, in order.
func Migrations() []Migration { return slices.Clone(migrations) }

// LatestVersion is the version of the newest migration this release knows.
func LatestVersion() int { return migrations[len(migrations)-1].Version }

var migrations = mustLoadMigrations()

func mustLoadMigrations() []Migration {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		panic(err)
	}
	var out []Migration
	for _, path := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(path, "migrations/"), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v != len(out)+1 {
			panic(fmt.Sprintf("postgres: migration file %s is not numbered %03d_name.sql", path, len(out)+1))
		}
		b, err := migrationFiles.ReadFile(path)
		if err != nil {
			panic(err)
		}
		out = append(out, Migration{Version: v, Name: name, sql: string(b)})
	}
	if len(out) == 0 {
		panic("postgres: no migrations embedded")
	}
	return out
}

// Migrate creates the schema (see [WithSchema]) if it is missing and
// applies, in order, each migration it lacks, each in its own transaction:
// a failed migration changes nothing and stops Migrate with its error,
// leaving the ones before it applied. It returns the versions it applied,
// none if the schema was up to date. It is safe to run from several
// processes at once and to run again.
//
// A schema migrated by a newer release is left alone: its newer
// migrations are not undone.
func Migrate(ctx context.Context, pool *pgxpool.Pool, opts ...Option) ([]int, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	q := o.quoted()
	lockKey := "tickler.migrate:" + o.schema
	var applied []int
	for _, m := range migrations {
		ran := false
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, lockKey); err != nil {
				return err
			}
			// Only a missing schema is created, so that a role without
			// CREATE on the database migrates a schema made for it.
			var missing bool
			if err := tx.QueryRow(ctx, `SELECT to_regnamespace($1) IS NULL`, q).Scan(&missing); err != nil {
				return err
			}
			if missing {
				if _, err := tx.Exec(ctx, `CREATE SCHEMA `+q); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+q+`.migrations (
				version    integer     PRIMARY KEY,
				name       text        NOT NULL,
				applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
				return err
			}
			var done bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+q+`.migrations WHERE version = $1)`, m.Version).Scan(&done); err != nil {
				return err
			}
			if done {
				return nil
			}
			if _, err := tx.Exec(ctx, strings.ReplaceAll(m.sql, "{schema}", q)); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO `+q+`.migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
				return err
			}
			ran = true
			return nil
		})
		if err != nil {
			return applied, fmt.Errorf("postgres: migration %03d_%s of schema %s: %w", m.Version, m.Name, o.schema, err)
		}
		if ran {
			applied = append(applied, m.Version)
		}
	}
	return applied, nil
}

// SchemaVersion returns the newest migration applied to the schema, 0 if
// none is (or the schema does not exist).
func SchemaVersion(ctx context.Context, pool *pgxpool.Pool, opts ...Option) (int, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return 0, err
	}
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, o.quoted()+".migrations").Scan(&exists); err != nil {
		return 0, fmt.Errorf("postgres: reading the schema version of %s: %w", o.schema, err)
	}
	if !exists {
		return 0, nil
	}
	var v int
	if err := pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM `+o.quoted()+`.migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("postgres: reading the schema version of %s: %w", o.schema, err)
	}
	return v, nil
}
