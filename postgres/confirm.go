package postgres

import (
	"context"
	"fmt"

	"github.com/tickler-go/tickler"
)

// Confirms share round trips as acks do: one goroutine, the confirmer,
// takes every Confirm queued while its previous statement ran and answers
// them all with one statement over an array of ids. Each Confirm joins a
// statement that starts after it was called, so it sees every Delete and
// every change of owner or lease committed before it was called.

// maxConfirmBatch bounds the ids of one confirm statement.
const maxConfirmBatch = 1024

type confirmOp struct {
	id   string
	node string
	done chan confirmed
}

type confirmed struct {
	r   *tickler.Record
	err error
}

// Confirm implements [tickler.SharedStore]: the record id if this node
// owns it and its lease is live on the database's clock, ErrNotFound if
// it is gone, ErrConflict otherwise (another node took it over, an Update
// freed it, or this node's lease lapsed). The dispatcher calls it before
// each delivery: after Delete returns on any node, Confirm of the record
// on every node returns ErrNotFound. Confirms called at once share one
// statement, which starts after each of them was called. A cancelled
// context makes Confirm return its error, whether or not the statement
// ran.
func (s *Store) Confirm(ctx context.Context, id string) (*tickler.Record, error) {
	if s.closed() {
		return nil, ErrClosed
	}
	if !storable(id) {
		return nil, tickler.ErrNotFound
	}
	op := &confirmOp{id: id, done: make(chan confirmed, 1)}
	op.node, _ = s.identity(false)
	select {
	case s.confirms <- op:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.stopped:
		return nil, ErrClosed
	}
	select {
	case c := <-op.done:
		return c.r, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// runConfirmer is the confirmer; it returns when the Store closes, after
// the statement in progress.
func (s *Store) runConfirmer() {
	defer s.wg.Done()
	for {
		ops, ok := nextBatch(s.confirms, s.stopped, maxConfirmBatch)
		if !ok {
			return
		}
		// One statement per node identity (one, but at a change).
		for len(ops) > 0 {
			node := ops[0].node
			var mine, rest []*confirmOp
			for _, op := range ops {
				if op.node == node {
					mine = append(mine, op)
				} else {
					rest = append(rest, op)
				}
			}
			s.confirmMany(node, mine)
			ops = rest
		}
	}
}

// confirmMany answers ops, all of node, with one statement.
func (s *Store) confirmMany(node string, ops []*confirmOp) {
	ctx, cancel := context.WithTimeout(context.Background(), s.o.lease)
	defer cancel()
	ids := make([]string, len(ops))
	for i, op := range ops {
		ids[i] = op.id
	}
	found := make(map[string]confirmed, len(ops))
	rows, err := s.pool.Query(ctx, s.sql.confirm, ids, node)
	if err == nil {
		for rows.Next() {
			var w row
			var held bool
			if err = rows.Scan(append(w.dest(), &held)...); err != nil {
				break
			}
			if !held {
				found[w.id] = confirmed{err: tickler.ErrConflict}
				continue
			}
			r, derr := w.decode()
			found[w.id] = confirmed{r: r, err: derr}
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	// Two confirms of one id share nothing: each but the last gets a copy,
	// made before the record is handed to anyone.
	left := make(map[string]int, len(ops))
	for _, op := range ops {
		left[op.id]++
	}
	for _, op := range ops {
		switch c, ok := found[op.id]; {
		case err != nil:
			op.done <- confirmed{err: fmt.Errorf("postgres: confirm %s: %w", op.id, err)}
		case !ok:
			op.done <- confirmed{err: tickler.ErrNotFound}
		default:
			if left[op.id]--; c.r != nil && left[op.id] > 0 {
				c.r = c.r.Clone()
			}
			op.done <- c
		}
	}
}
