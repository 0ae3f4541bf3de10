package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/tickler-go/tickler"
)

// The writes a host makes (Create, Update, Delete), each one statement in
// its own transaction, or one round trip of two for a Create under a
// per-agent limit. Create and Update notify the other nodes, in the same
// transaction, of a record that falls due within the hint horizon.

// notifyArgs are the arguments $5-$8 of a statement with notifySoon.
func (s *Store) notifyArgs() []any {
	return []any{s.o.schema, s.self, !s.o.pollOnly, s.o.horizon.Microseconds()}
}

// Create implements [tickler.Store]. With p.MaxPerAgent or
// p.MaxBytesPerAgent set, the count (or the sum of the agent's sizes,
// the column each row keeps its [tickler.RecordSize] in) and the insert
// run in one transaction that holds an advisory lock on the agent, so
// that the limits hold across nodes. An id or agent id that
// PostgreSQL text cannot hold (invalid UTF-8, NUL) is refused.
func (s *Store) Create(ctx context.Context, r *tickler.Record, p tickler.CreateParams) error {
	if s.closed() {
		return ErrClosed
	}
	switch {
	case !storable(r.ID):
		return errNotStorable("id", r.ID)
	case !storable(r.AgentID):
		return errNotStorable("agent id", r.AgentID)
	}
	rec, err := encodeRecord(r)
	if err != nil {
		return err
	}
	size, err := tickler.RecordSize(r)
	if err != nil {
		return err
	}
	args := append([]any{r.ID, r.AgentID, rec, nextArg(r.Next)}, s.notifyArgs()...)
	args = append(args, size)
	var inserted, notified int64
	if p.MaxPerAgent <= 0 && p.MaxBytesPerAgent <= 0 {
		if err := s.pool.QueryRow(ctx, s.sql.create, args...).Scan(&inserted, &notified); err != nil {
			return fmt.Errorf("postgres: create %s: %w", r.ID, err)
		}
		if inserted == 0 {
			return tickler.ErrExists
		}
		r.Version = 1
		return nil
	}
	// One round trip, one implicit transaction: the lock is held until the
	// insert commits, and the insert's snapshot, taken after the lock,
	// sees every Create of the agent that held it before.
	var have, bytes int64
	var exists bool
	b := &pgx.Batch{}
	b.Queue(s.sql.agentLock, s.o.schema, r.AgentID)
	b.Queue(s.sql.createLimited, append(args, max(p.MaxPerAgent, 0), max(p.MaxBytesPerAgent, 0))...).QueryRow(func(row pgx.Row) error {
		return row.Scan(&inserted, &notified, &have, &bytes, &exists)
	})
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("postgres: create %s: %w", r.ID, err)
	}
	switch {
	case inserted == 1:
		r.Version = 1
		return nil
	case exists:
		return tickler.ErrExists
	case p.MaxPerAgent > 0 && have >= int64(p.MaxPerAgent):
		return fmt.Errorf("%w: agent %q has %d scheduled messages, 1 more would pass %d", tickler.ErrLimitExceeded, r.AgentID, have, p.MaxPerAgent)
	default:
		return fmt.Errorf("%w: agent %q has %d bytes of scheduled messages, %d more would pass %d",
			tickler.ErrLimitExceeded, r.AgentID, bytes, size, p.MaxBytesPerAgent)
	}
}

// Update implements [tickler.Store]. It also frees the record: the new
// version is claimable by any node. It sets the record's size, which the
// agent's byte total sums; with p.MaxBytesPerAgent set, the sum and the
// update run in one transaction that holds the advisory lock on the
// agent that a Create under a limit takes, so that the limit holds
// across nodes. A record this release cannot read (see [RecordError]) is
// not overwritten: Update returns its RecordError.
func (s *Store) Update(ctx context.Context, r *tickler.Record, p tickler.UpdateParams) error {
	if s.closed() {
		return ErrClosed
	}
	if !storable(r.ID) || !storable(r.AgentID) {
		return tickler.ErrNotFound
	}
	rec, err := encodeRecord(r)
	if err != nil {
		return err
	}
	size, err := tickler.RecordSize(r)
	if err != nil {
		return err
	}
	args := append([]any{r.ID, r.AgentID, rec, nextArg(r.Next)}, s.notifyArgs()...)
	args = append(args, int64(r.Version), size)
	var updated, notified int64
	var format *int16
	fits := true
	var bytes, old int64
	if p.MaxBytesPerAgent <= 0 {
		err = s.pool.QueryRow(ctx, s.sql.update, args...).Scan(&updated, &notified, &format)
	} else {
		// One round trip, one implicit transaction, as in Create.
		b := &pgx.Batch{}
		b.Queue(s.sql.updateLock, s.o.schema, r.ID)
		b.Queue(s.sql.updateLimited, append(args, p.MaxBytesPerAgent)...).QueryRow(func(row pgx.Row) error {
			var f *bool
			err := row.Scan(&updated, &notified, &format, &f, &bytes, &old)
			fits = f == nil || *f
			return err
		})
		err = s.pool.SendBatch(ctx, b).Close()
	}
	if err != nil {
		return fmt.Errorf("postgres: update %s: %w", r.ID, err)
	}
	switch {
	case updated == 1:
		return nil
	case format == nil:
		return tickler.ErrNotFound
	case *format != formatV1:
		return (&row{id: r.ID, format: *format}).formatError()
	case !fits:
		return fmt.Errorf("%w: agent %q has %d bytes of scheduled messages, %d more would pass %d",
			tickler.ErrLimitExceeded, r.AgentID, bytes, size-old, p.MaxBytesPerAgent)
	default:
		return tickler.ErrConflict
	}
}

// Delete implements [tickler.Store]. Its history goes with it. A record
// this release cannot read is deleted all the same.
func (s *Store) Delete(ctx context.Context, agentID, id string) error {
	if s.closed() {
		return ErrClosed
	}
	if !storable(id) || !storable(agentID) {
		return tickler.ErrNotFound
	}
	tag, err := s.pool.Exec(ctx, s.sql.delete, id, agentID)
	if err != nil {
		return fmt.Errorf("postgres: delete %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return tickler.ErrNotFound
	}
	return nil
}
