package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tickler-go/tickler"
)

// Acks share round trips: one goroutine, the committer, takes every ack
// queued while the previous batch was running and sends them as one
// pgx.Batch, which PostgreSQL runs as one implicit transaction (one round
// trip, one commit). Each ack is still its own statement with its own
// fences, and a refused ack (ErrNotFound, ErrConflict) is a result, not a
// failure, so it does not affect the others. If the batch fails as a
// whole (an SQL error), nothing of it was committed and the committer
// runs its acks again one by one, so that each fails alone.

// maxAckBatch bounds the acks of one batch.
const maxAckBatch = 256

type ackOp struct {
	p       tickler.AckParams
	node    string
	outcome []byte // nil: append nothing
	done    chan error
}

// Ack implements [tickler.Store] and [tickler.SharedStore]. An ack is
// fenced by version and by owner: it applies only if the record is at
// p.Version and is owned by this node or by none (an Update frees a
// record; a record never claimed is owned by none). An advanced record
// stays this node's. A history-only ack has no fences. A cancelled
// context fails an ack only before it joins a batch, never after.
func (s *Store) Ack(ctx context.Context, p tickler.AckParams) error {
	if s.closed() {
		return ErrClosed
	}
	if !storable(p.ID) {
		return tickler.ErrNotFound
	}
	op := &ackOp{p: p, done: make(chan error, 1)}
	op.node, _ = s.identity(false)
	if p.Outcome != nil && p.HistoryLimit > 0 && !(!p.HistoryOnly && p.Next.IsZero()) {
		b, err := json.Marshal(p.Outcome)
		if err != nil {
			return fmt.Errorf("postgres: ack %s: encoding the outcome: %w", p.ID, err)
		}
		op.outcome = b
	}
	select {
	case s.acks <- op:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stopped:
		return ErrClosed
	}
	return <-op.done
}

// queue adds op's statement to b; the result, when b runs, goes to *n and
// *exists.
func (s *Store) queue(b *pgx.Batch, op *ackOp, n *int64, exists *bool) {
	p := op.p
	cb := callbackArgs(p.Callback)
	var q *pgx.QueuedQuery
	switch {
	case p.HistoryOnly && op.outcome == nil:
		q = b.Queue(s.sql.ackExists, append([]any{p.ID}, cb...)...)
	case p.HistoryOnly:
		q = b.Queue(s.sql.ackHistory, append([]any{p.ID, op.outcome, p.HistoryLimit}, cb...)...)
	case p.Next.IsZero():
		q = b.Queue(s.sql.ackDelete, append([]any{p.ID, int64(p.Version), op.node}, cb...)...)
	default:
		q = b.Queue(s.sql.ackAdvance, append([]any{p.ID, int64(p.Version), op.node, p.Next, op.outcome, p.HistoryLimit}, cb...)...)
	}
	q.QueryRow(func(r pgx.Row) error { return r.Scan(n, exists) })
}

// callbackArgs are the parameters of an ack statement's callback (see
// callbackCTE): all NULL without one.
func callbackArgs(cb *tickler.Callback) []any {
	if cb == nil {
		return []any{nil, nil, nil, nil, nil}
	}
	var outcome any
	if cb.OutcomeID != "" {
		outcome = cb.OutcomeID
	}
	return []any{cb.ID, outcome, cb.URL, cb.Key, []byte(cb.Payload)}
}

// ackResult is the error of an ack that ran: nil if it applied.
func ackResult(n int64, exists bool) error {
	switch {
	case n > 0:
		return nil
	case !exists:
		return tickler.ErrNotFound
	default:
		return tickler.ErrConflict
	}
}

// commitAcks is the committer; it returns when the Store closes, after
// the batch in progress.
func (s *Store) commitAcks() {
	defer s.wg.Done()
	for {
		var ops []*ackOp
		select {
		case op := <-s.acks:
			ops = append(ops, op)
		case <-s.stopped:
			return
		}
	drain:
		for len(ops) < maxAckBatch {
			select {
			case op := <-s.acks:
				ops = append(ops, op)
			default:
				break drain
			}
		}
		s.runAcks(ops)
	}
}

// runAcks runs ops as one batch, in id order (the order of any other
// batch touching the same rows, so that two never deadlock), keeping the
// order of acks of one record; then, if the batch failed, one by one.
func (s *Store) runAcks(ops []*ackOp) {
	slices.SortStableFunc(ops, func(a, b *ackOp) int { return strings.Compare(a.p.ID, b.p.ID) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if len(ops) > 1 {
		ns := make([]int64, len(ops))
		exists := make([]bool, len(ops))
		b := &pgx.Batch{}
		for i, op := range ops {
			s.queue(b, op, &ns[i], &exists[i])
		}
		if err := s.pool.SendBatch(ctx, b).Close(); err == nil {
			for i, op := range ops {
				op.done <- ackResult(ns[i], exists[i])
			}
			return
		}
	}
	for _, op := range ops {
		var n int64
		var exists bool
		b := &pgx.Batch{}
		s.queue(b, op, &n, &exists)
		if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
			op.done <- fmt.Errorf("postgres: ack %s: %w", op.p.ID, err)
			continue
		}
		op.done <- ackResult(n, exists)
	}
}
