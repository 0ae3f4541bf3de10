package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tickler-go/tickler"
)

// The callback outbox of [tickler.CallbackOutbox], in the table callbacks
// (migration 003): the ack statements insert a callback with the ack
// (callbackCTE), ClaimCallbacks leases what is due on the database's
// clock, skipping rows another node's claim holds, and FinishCallback
// records a retry, or removes the callback and writes its status into the
// history entry its ack appended.

var _ tickler.CallbackOutbox = (*Store)(nil)

// outboxSQL are the outbox's statements, for a schema.
type outboxSQL struct{ claim, retry, remove, entry, setEntry string }

func newOutboxSQL(schema string) outboxSQL {
	r := newReplacer(schema)
	return outboxSQL{
		// $1 limit, $2 lease in µs.
		claim: r.Replace(`WITH c AS (
			SELECT id, next_attempt FROM {schema}.callbacks WHERE next_attempt <= now()
			ORDER BY next_attempt, id LIMIT $1
			FOR UPDATE SKIP LOCKED
		)
		UPDATE {schema}.callbacks b SET next_attempt = now() + $2::bigint * interval '1 microsecond'
		FROM c WHERE b.id = c.id
		RETURNING b.id, b.schedule_id, coalesce(b.outcome_id, ''), b.url, b.key, b.payload, b.attempts, b.next_attempt, c.next_attempt`),
		// $1 id, $2 attempts, $3 delay in µs.
		retry: r.Replace(`UPDATE {schema}.callbacks
			SET attempts = $2, next_attempt = now() + $3::bigint * interval '1 microsecond' WHERE id = $1`),
		remove: r.Replace(`DELETE FROM {schema}.callbacks WHERE id = $1
			RETURNING schedule_id, coalesce(outcome_id, ''), hist_seq`),
		entry:    r.Replace(`SELECT outcome FROM {schema}.history WHERE schedule_id = $1 AND seq = $2 FOR UPDATE`),
		setEntry: r.Replace(`UPDATE {schema}.history SET outcome = $3 WHERE schedule_id = $1 AND seq = $2`),
	}
}

// ClaimCallbacks implements [tickler.CallbackOutbox] on the database's
// clock: p.Now is not read, and each callback it returns is due again
// p.Lease after the database's now.
func (s *Store) ClaimCallbacks(ctx context.Context, p tickler.ClaimCallbacksParams) ([]tickler.Callback, error) {
	if s.closed() {
		return nil, ErrClosed
	}
	rows, err := s.pool.Query(ctx, s.outbox.claim, p.Limit, p.Lease.Microseconds())
	if err != nil {
		return nil, fmt.Errorf("postgres: claiming callbacks: %w", err)
	}
	type claimed struct {
		cb  tickler.Callback
		due time.Time
	}
	var got []claimed
	for rows.Next() {
		var c claimed
		var payload []byte
		if err := rows.Scan(&c.cb.ID, &c.cb.ScheduledMessageID, &c.cb.OutcomeID, &c.cb.URL, &c.cb.Key,
			&payload, &c.cb.Attempts, &c.cb.NextAttempt, &c.due); err != nil {
			rows.Close()
			return nil, fmt.Errorf("postgres: claiming callbacks: %w", err)
		}
		c.cb.Payload = payload
		got = append(got, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: claiming callbacks: %w", err)
	}
	// RETURNING has no order: oldest due first, as the claim chose them.
	slices.SortFunc(got, func(a, b claimed) int {
		if c := a.due.Compare(b.due); c != 0 {
			return c
		}
		return strings.Compare(a.cb.ID, b.cb.ID)
	})
	out := make([]tickler.Callback, len(got))
	for i, c := range got {
		out[i] = c.cb
	}
	return out, nil
}

// FinishCallback implements [tickler.CallbackOutbox]. A retry is due
// p.NextAttempt minus p.Now after the database's now. The end removes the
// callback and records its status in its history entry in one
// transaction; the entry is decoded and encoded again (it is json, kept
// byte for byte, which an update in SQL through jsonb would not keep).
func (s *Store) FinishCallback(ctx context.Context, p tickler.FinishCallbackParams) error {
	if s.closed() {
		return ErrClosed
	}
	if p.Retry() {
		tag, err := s.pool.Exec(ctx, s.outbox.retry, p.ID, p.Attempts, p.NextAttempt.Sub(p.Now).Microseconds())
		switch {
		case err != nil:
			return fmt.Errorf("postgres: callback %s: %w", p.ID, err)
		case tag.RowsAffected() == 0:
			return tickler.ErrNotFound
		}
		return nil
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var id, outcomeID string
		var seq *int64
		if err := tx.QueryRow(ctx, s.outbox.remove, p.ID).Scan(&id, &outcomeID, &seq); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return tickler.ErrNotFound
			}
			return err
		}
		if seq == nil || outcomeID == "" {
			return nil
		}
		var raw []byte
		if err := tx.QueryRow(ctx, s.outbox.entry, id, *seq).Scan(&raw); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return nil // the record was deleted, or its history trimmed
			}
			return err
		}
		var o tickler.Outcome
		if err := json.Unmarshal(raw, &o); err != nil || o.ID != outcomeID {
			return nil // not the entry it was: leave it as it is
		}
		o.Callback = p.Status()
		b, err := json.Marshal(&o)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, s.outbox.setEntry, id, *seq, b)
		return err
	})
	if err != nil && !errors.Is(err, tickler.ErrNotFound) {
		return fmt.Errorf("postgres: callback %s: %w", p.ID, err)
	}
	return err
}
