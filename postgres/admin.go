package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tickler-go/tickler"
)

// The reads of [tickler.AdminStore]. ListAll and RecentOutcomes may need
// more than one statement (when rows they read are skipped); they run in
// one read-only REPEATABLE READ transaction, so they read one snapshot.
// Counts is one statement.
//
// A record's newest outcome is the history row at its hist_seq (the seq
// the last ack appended), found through the primary key, as the bolt
// store finds it through its header.

var _ tickler.AdminStore = (*Store)(nil)

// adminSQL are the statements of the admin reads.
type adminSQL struct {
	// listAll[agent][bytes]: with or without an agent, with the cursor
	// compared as text or, for one text cannot hold, as bytes.
	listAll [2][2]string
	// recent[cursor]: without a cursor, with one, with one compared as
	// bytes.
	recent [3]string
	counts string
}

// newest joins s (a schedules row) to l, its newest history entry, if any.
const newestJoin = `LEFT JOIN {schema}.history l ON l.schedule_id = s.id AND l.seq = s.hist_seq`

// listAllSQL is ListAll's statement: $1 agent (unused without {agent}),
// $2 the cursor, $3 due after or NULL, $4 due before or NULL, $5 paused
// or NULL, $6 failing or NULL, $7 the limit. The filters select a superset
// of what [tickler.ListAllParams.Match] passes (the caller applies it to
// each record it decodes), and pass every record of a format this release
// cannot read, which the caller names as damaged. Paused is tested on
// record->>'paused_at_ns' (absent when not paused); failing on the newest
// outcome's status.
const listAllSQL = `SELECT s.id, s.agent_id, s.format, s.record, s.next_at, s.version, l.outcome
FROM {schema}.schedules s ` + newestJoin + `
WHERE {agent} AND {cursor}
	AND (s.format <> 1 OR (
		($3::timestamptz IS NULL OR s.next_at > $3::timestamptz)
		AND ($4::timestamptz IS NULL OR s.next_at < $4::timestamptz)
		AND ($5::boolean IS NULL OR $5::boolean = (coalesce(s.record ->> 'paused_at_ns', '0') <> '0'))
		AND ($6::boolean IS NULL OR $6::boolean = coalesce(l.outcome ->> 'status' = 'failed', false))
	))
ORDER BY s.id
LIMIT $7`

// outcomeKey is the expression of the index history_outcome_id (004_admin.sql).
const outcomeKey = `((h.outcome ->> 'id') COLLATE "C")`

// recentSQL is RecentOutcomes' statement: $1 the cursor (unused without
// one), $2 the limit. It reads history_outcome_id backwards from the
// cursor, and stops at the limit.
const recentSQL = `SELECT s.agent_id, h.outcome, ` + outcomeKey + `
FROM {schema}.history h JOIN {schema}.schedules s ON s.id = h.schedule_id
WHERE {cursor}
ORDER BY ` + outcomeKey + ` DESC
LIMIT $2`

// countsSQL counts every record by status, with the precedence of
// [tickler.AdminRecord.Status]; a record of a format this release cannot
// read is damaged. The CASE decides the format first, so that the JSON of
// such a record is never read.
const countsSQL = `SELECT count(*) FILTER (WHERE st = 's'), count(*) FILTER (WHERE st = 'p'),
	count(*) FILTER (WHERE st = 'f'), count(*) FILTER (WHERE st = 'i'), count(*) FILTER (WHERE st = 'd'),
	(SELECT count(DISTINCT agent_id) FROM {schema}.schedules)
FROM (
	SELECT CASE
		WHEN s.format <> 1 THEN 'd'
		WHEN coalesce(s.record ->> 'paused_at_ns', '0') <> '0' THEN 'p'
		WHEN l.outcome ->> 'status' = 'failed' THEN 'f'
		WHEN s.next_at IS NOT NULL THEN 's'
		ELSE 'i'
	END AS st
	FROM {schema}.schedules s ` + newestJoin + `
) t`

func newAdminSQL(schema string) adminSQL {
	r := newReplacer(schema)
	var a adminSQL
	for agent, agentCond := range []string{`$1::text = ''`, `s.agent_id = $1::text`} {
		for bytes, cursor := range []string{`s.id > $2::text`, `convert_to(s.id, 'UTF8') > $2::bytea`} {
			a.listAll[agent][bytes] = r.Replace(strings.NewReplacer("{agent}", agentCond, "{cursor}", cursor).Replace(listAllSQL))
		}
	}
	for i, cursor := range []string{
		outcomeKey + ` IS NOT NULL AND $1::text IS NULL`,
		outcomeKey + ` < $1::text`,
		`convert_to(` + outcomeKey + `, 'UTF8') < $1::bytea`,
	} {
		a.recent[i] = r.Replace(strings.ReplaceAll(recentSQL, "{cursor}", cursor))
	}
	a.counts = r.Replace(countsSQL)
	return a
}

// snapshot runs f in a read-only REPEATABLE READ transaction.
func (s *Store) snapshot(ctx context.Context, f func(pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, f)
}

// cursorArg returns the argument of a cursor, and whether it is compared
// as bytes: as text if text can hold it.
func cursorArg(v string) (any, int) {
	if storable(v) {
		return v, 0
	}
	return []byte(v), 1
}

// ListAll implements [tickler.AdminStore]. It reads the records in id
// order (through the primary key, or the (agent_id, id) index for one
// agent), each joined to its newest history entry; the filters are in the
// statement, so it reads about the page. A record that cannot be decoded
// (in a format this release does not read, or whose JSON or newest
// outcome does not decode) is skipped and named in Damaged.
func (s *Store) ListAll(ctx context.Context, p tickler.ListAllParams) (tickler.ListAllResult, error) {
	if s.closed() {
		return tickler.ListAllResult{}, ErrClosed
	}
	if !storable(p.AgentID) {
		return tickler.ListAllResult{}, nil
	}
	agent := 0
	if p.AgentID != "" {
		agent = 1
	}
	var dueAfter, dueBefore *time.Time
	if !p.DueAfter.IsZero() {
		// next_at is in µs: rounded down and up, the bounds select a
		// superset of the records Match passes.
		t := p.DueAfter.Truncate(time.Microsecond)
		dueAfter = &t
	}
	if !p.DueBefore.IsZero() {
		t := p.DueBefore.Truncate(time.Microsecond)
		if t.Before(p.DueBefore) {
			t = t.Add(time.Microsecond)
		}
		dueBefore = &t
	}
	var res tickler.ListAllResult
	err := s.snapshot(ctx, func(tx pgx.Tx) error {
		res = tickler.ListAllResult{}
		after, bytes := cursorArg(p.After)
		for {
			rows, err := tx.Query(ctx, s.admin.listAll[agent][bytes],
				p.AgentID, after, dueAfter, dueBefore, p.Paused, p.Failing, p.Limit+1)
			if err != nil {
				return err
			}
			var w row
			var last []byte
			n, done := 0, false
			_, err = pgx.ForEachRow(rows, append(w.dest(), &last), func() error {
				n++
				after, bytes = w.id, 0
				if done {
					return nil
				}
				r, err := w.decode()
				if err != nil {
					res.Damaged = append(res.Damaged, w.id)
					return nil
				}
				var o *tickler.Outcome
				if last != nil {
					o = new(tickler.Outcome)
					if err := json.Unmarshal(last, o); err != nil {
						res.Damaged = append(res.Damaged, w.id)
						return nil
					}
				}
				if !p.Match(r, o) {
					return nil
				}
				if len(res.Records) == p.Limit {
					res.More, done = true, true
					return nil
				}
				res.Records = append(res.Records, tickler.AdminRecord{Record: r, Last: o})
				return nil
			})
			if err != nil || done || n < p.Limit+1 {
				return err
			}
		}
	})
	if err != nil {
		return tickler.ListAllResult{}, fmt.Errorf("postgres: list all: %w", err)
	}
	return res, nil
}

// RecentOutcomes implements [tickler.AdminStore]. It reads the history
// of all records through the index history_outcome_id (migration 004)
// backwards, from p.Before, and stops at p.Limit+1 entries: its cost is
// the page, not the history. (Ordering by sent_at instead would need the
// whole history read and sorted: the outcome id is the order the
// interface asks for, and the index's key.) An entry that does not decode
// is skipped, and the read goes on past it.
func (s *Store) RecentOutcomes(ctx context.Context, p tickler.RecentParams) (tickler.RecentResult, error) {
	if s.closed() {
		return tickler.RecentResult{}, ErrClosed
	}
	var res tickler.RecentResult
	err := s.snapshot(ctx, func(tx pgx.Tx) error {
		res = tickler.RecentResult{}
		var before any
		q := 0
		if p.Before != "" {
			b, bytes := cursorArg(p.Before)
			before, q = b, 1+bytes
		}
		for {
			rows, err := tx.Query(ctx, s.admin.recent[q], before, p.Limit+1)
			if err != nil {
				return err
			}
			var agent, key string
			var raw []byte
			n := 0
			_, err = pgx.ForEachRow(rows, []any{&agent, &raw, &key}, func() error {
				n++
				before, q = key, 1
				if len(res.Outcomes) > p.Limit {
					return nil
				}
				var o tickler.Outcome
				if err := json.Unmarshal(raw, &o); err != nil {
					return nil
				}
				res.Outcomes = append(res.Outcomes, tickler.AgentOutcome{AgentID: agent, Outcome: o})
				return nil
			})
			if err != nil || len(res.Outcomes) > p.Limit || n < p.Limit+1 {
				return err
			}
		}
	})
	if err != nil {
		return tickler.RecentResult{}, fmt.Errorf("postgres: recent outcomes: %w", err)
	}
	if len(res.Outcomes) > p.Limit {
		res.Outcomes, res.More = res.Outcomes[:p.Limit], true
	}
	return res, nil
}

// Counts implements [tickler.AdminStore] in one statement, which reads
// every record and its newest history entry (by primary key): its cost
// grows with the store. Damaged counts the records in a format this
// release cannot read; a format-1 record whose JSON would not decode (not
// one this release writes) is counted by what the statement reads of it.
func (s *Store) Counts(ctx context.Context) (tickler.Counts, error) {
	if s.closed() {
		return tickler.Counts{}, ErrClosed
	}
	var c tickler.Counts
	err := s.pool.QueryRow(ctx, s.admin.counts).Scan(&c.Scheduled, &c.Paused, &c.Failing, &c.Idle, &c.Damaged, &c.Agents)
	if err != nil {
		return tickler.Counts{}, fmt.Errorf("postgres: counts: %w", err)
	}
	c.Total = c.Scheduled + c.Paused + c.Failing + c.Idle
	return c, nil
}
