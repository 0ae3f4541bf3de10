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

// Acks share round trips. AckMany (the scheduler's recorder calls it with
// every ack queued meanwhile) and the committer, one goroutine that takes
// every Ack queued while its previous batch ran, send their acks as one
// pgx.Batch, which PostgreSQL runs as one implicit transaction (one round
// trip, one commit). In it, the plain acks (no outcome, no callback: a
// one-time record removed, or a record advanced without history) go as
// one statement per kind over arrays (unnest), with the same fences, row
// by row, as the statement of a single ack; the others go as a statement
// each. A refused ack (ErrNotFound, ErrConflict) is a result, not a
// failure, so it does not affect the others. If the batch fails as a
// whole (an SQL error), nothing of it was committed and its acks run
// again one by one, so that each fails alone.

// maxAckBatch bounds the acks of one batch of the committer.
const maxAckBatch = 256

type ackOp struct {
	p       tickler.AckParams
	node    string
	outcome []byte // nil: append nothing
	done    chan error
	index   int // in the acks of AckMany
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
	node, _ := s.identity(false)
	op, err := s.newAckOp(p, node)
	if err != nil {
		return err
	}
	op.done = make(chan error, 1)
	select {
	case s.acks <- op:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stopped:
		return ErrClosed
	}
	return <-op.done
}

// AckMany implements [tickler.BatchAcker]: the acks run as one batch (see
// above), in one transaction, each with its own fences and result; acks
// of one record apply in order. If ctx ends first, the acks not sent yet
// fail with its error.
func (s *Store) AckMany(ctx context.Context, acks []tickler.AckParams) []error {
	errs := make([]error, len(acks))
	if s.closed() {
		for i := range errs {
			errs[i] = ErrClosed
		}
		return errs
	}
	node, _ := s.identity(false)
	ops := make([]*ackOp, 0, len(acks))
	for i, p := range acks {
		op, err := s.newAckOp(p, node)
		if err != nil {
			errs[i] = err
			continue
		}
		op.index = i
		ops = append(ops, op)
	}
	if err := ctx.Err(); err != nil {
		for _, op := range ops {
			errs[op.index] = err
		}
		return errs
	}
	for _, op := range ops {
		op.done = make(chan error, 1)
	}
	s.runAcks(ops)
	for _, op := range ops {
		errs[op.index] = <-op.done
	}
	return errs
}

// newAckOp checks and encodes one ack of node.
func (s *Store) newAckOp(p tickler.AckParams, node string) (*ackOp, error) {
	if !storable(p.ID) {
		return nil, tickler.ErrNotFound
	}
	op := &ackOp{p: p, node: node}
	if p.Outcome != nil && p.HistoryLimit > 0 && !(!p.HistoryOnly && p.Next.IsZero()) {
		b, err := json.Marshal(p.Outcome)
		if err != nil {
			return nil, fmt.Errorf("postgres: ack %s: encoding the outcome: %w", p.ID, err)
		}
		op.outcome = b
	}
	return op, nil
}

// plain reports whether op goes with others in an array statement: it
// neither appends history nor writes a callback.
func (op *ackOp) plain() bool {
	return !op.p.HistoryOnly && op.outcome == nil && op.p.Callback == nil
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
		ops, ok := nextBatch(s.acks, s.stopped, maxAckBatch)
		if !ok {
			return
		}
		s.runAcks(ops)
	}
}

// nextBatch waits for the first op of in, then takes every op queued
// meanwhile, up to max: the batch of a group commit. It reports false,
// with no batch, once stopped is closed while it waits.
func nextBatch[T any](in <-chan T, stopped <-chan struct{}, max int) ([]T, bool) {
	var ops []T
	select {
	case op := <-in:
		ops = append(ops, op)
	case <-stopped:
		return nil, false
	}
	for len(ops) < max {
		select {
		case op := <-in:
			ops = append(ops, op)
		default:
			return ops, true
		}
	}
	return ops, true
}

// runAcks runs ops as one batch, in id order (the order of any other
// batch touching the same rows, so that two rarely wait for each other),
// keeping the order of acks of one record; then, if the batch failed, one
// by one.
//
// The batch goes in rounds: the k-th ack of a record is in round k, so a
// round names each record once at most, and the rounds run in order. In
// each round the plain acks of one node and kind (remove, advance) share
// one array statement.
func (s *Store) runAcks(ops []*ackOp) {
	slices.SortStableFunc(ops, func(a, b *ackOp) int { return strings.Compare(a.p.ID, b.p.ID) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if len(ops) > 1 {
		ns := make([]int64, len(ops))
		exists := make([]bool, len(ops))
		b := &pgx.Batch{}
		// Acks of one record are next to each other: number them.
		rounds := make([]int, len(ops))
		last := 0
		for i := 1; i < len(ops); i++ {
			if ops[i].p.ID == ops[i-1].p.ID {
				rounds[i] = rounds[i-1] + 1
				last = max(last, rounds[i])
			}
		}
		for r := 0; r <= last; r++ {
			var groups []*ackGroup
			for i, op := range ops {
				if rounds[i] != r {
					continue
				}
				if !op.plain() {
					s.queue(b, op, &ns[i], &exists[i])
					continue
				}
				k := ackKey{node: op.node, remove: op.p.Next.IsZero()}
				j := slices.IndexFunc(groups, func(g *ackGroup) bool { return g.key == k })
				if j < 0 {
					j = len(groups)
					groups = append(groups, &ackGroup{key: k})
				}
				groups[j].idx = append(groups[j].idx, i)
			}
			for _, g := range groups {
				s.queueGroup(b, g, ops, ns, exists)
			}
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

// ackKey is what the plain acks of one array statement share.
type ackKey struct {
	node   string
	remove bool // remove the records (else advance them)
}

// ackGroup is the plain acks of one array statement: idx are their
// positions in the ops of runAcks.
type ackGroup struct {
	key ackKey
	idx []int
}

// queueGroup adds g's array statement to b; when b runs, each ack's result
// goes to ns and exists at its position, as queue's would.
func (s *Store) queueGroup(b *pgx.Batch, g *ackGroup, ops []*ackOp, ns []int64, exists []bool) {
	ids := make([]string, len(g.idx))
	versions := make([]int64, len(g.idx))
	var nexts []time.Time
	if !g.key.remove {
		nexts = make([]time.Time, len(g.idx))
	}
	for j, i := range g.idx {
		p := ops[i].p
		ids[j], versions[j] = p.ID, int64(p.Version)
		if nexts != nil {
			nexts[j] = p.Next
		}
	}
	var q *pgx.QueuedQuery
	if g.key.remove {
		q = b.Queue(s.sql.ackDeleteMany, ids, versions, g.key.node)
	} else {
		q = b.Queue(s.sql.ackAdvanceMany, ids, versions, g.key.node, nexts)
	}
	q.QueryRow(func(r pgx.Row) error {
		var applied, found []string
		if err := r.Scan(&applied, &found); err != nil {
			return err
		}
		in := func(set []string) map[string]bool {
			m := make(map[string]bool, len(set))
			for _, id := range set {
				m[id] = true
			}
			return m
		}
		a, f := in(applied), in(found)
		for _, i := range g.idx {
			id := ops[i].p.ID
			if a[id] {
				ns[i] = 1
			}
			exists[i] = f[id]
		}
		return nil
	})
}
