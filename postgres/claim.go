package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tickler-go/tickler"
)

// Claim implements [tickler.Store] and [tickler.SharedStore] in one
// statement (see claimSQL): it leases to this node, up to p.Limit, the
// records due within the window that no live node owns, skipping rows
// another claim has locked, and returns them with those this node holds
// already past the cursor p.After. As [tickler.SharedStore] says, the
// cursor bounds only what this node holds: records it holds at or before
// p.After are neither returned nor locked again (the caller has them),
// and free records are claimed from the start of the window. With a zero
// p.After it returns everything this node holds in the window.
//
// The window is measured on the database's clock: it ends at its now()
// (the statement's start) plus p.Until − p.Now. Skew is p.Now minus the
// database's clock as the statement ends, so that Skew plus the time the
// call took bounds the caller's clock's lead from above by the round
// trip's return alone, and Until − Skew − that time is at or before the
// window's end. A zero p.Now makes p.Until an instant on the database's
// clock (the conformance suite, and any caller that has no clock of its
// own, claims so); Skew is then zero.
//
// If this node's lease lapsed (it was paused or cut off longer than the
// lease), Claim takes a new identity first and reports Reset: the claim
// returned is made under the new one.
//
// Next is the first occurrence past the window among the records this
// node could claim; when the first 256 records past the window all belong
// to other live nodes, it is the last of those (an early wake-up, never a
// late one). It is zero when Claim stopped at p.Limit.
//
// Records in the window in a format this release cannot read are not
// claimed: a *[RecordError] for each (joined) comes beside the result.
func (s *Store) Claim(ctx context.Context, p tickler.ClaimParams) (tickler.ClaimResult, error) {
	if s.closed() {
		return tickler.ClaimResult{}, ErrClosed
	}
	node, reset := s.identity(true)
	res, live, damaged, err := s.claim(ctx, node, p)
	if err != nil {
		return tickler.ClaimResult{}, err
	}
	if !live {
		if err := s.renewIdentity(ctx, node); err != nil {
			return tickler.ClaimResult{}, err
		}
		node, _ = s.identity(true)
		if res, _, damaged, err = s.claim(ctx, node, p); err != nil {
			return tickler.ClaimResult{}, err
		}
		reset = true
	}
	res.Reset = reset
	return res, damaged
}

// claim runs the claim statement once as node.
func (s *Store) claim(ctx context.Context, node string, p tickler.ClaimParams) (res tickler.ClaimResult, live bool, damaged error, err error) {
	var window *int64
	if !p.Now.IsZero() {
		w := p.Until.Sub(p.Now).Microseconds()
		window = &w
	}
	q := s.sql.claim
	var afterAt *time.Time
	var afterID any
	if p.After.ID != "" { // as in memory and bolt: a cursor has an id
		at := p.After.At
		afterAt, afterID = &at, p.After.ID
		q = s.sql.claimAfter
		if !storable(p.After.ID) {
			q, afterID = s.sql.claimAfterBytes, []byte(p.After.ID)
		}
	}
	var (
		dbNow, dbEnd        time.Time
		ids                 []string
		ats                 []time.Time
		versions            []int64
		firstMine, lastSeen *time.Time
		seen                int64
		bad                 []string
	)
	err = s.pool.QueryRow(ctx, q, node, window, p.Until, afterAt, afterID, p.Limit).
		Scan(&dbNow, &live, &ids, &ats, &versions, &firstMine, &seen, &lastSeen, &bad, nil, &dbEnd)
	if err != nil {
		return res, false, nil, fmt.Errorf("postgres: claim: %w", err)
	}
	for i, id := range ids {
		res.Due = append(res.Due, tickler.Due{ID: id, At: ats[i].UTC(), Version: uint64(versions[i])})
	}
	switch {
	case len(res.Due) >= p.Limit:
	case firstMine != nil:
		res.Next = firstMine.UTC()
	case seen == 256 && lastSeen != nil:
		res.Next = lastSeen.UTC()
	}
	if !p.Now.IsZero() {
		// Measured against the clock's last reading, which the
		// statement took just before it answered, not its first: the
		// caller adds how long the claim took to bound its skew from
		// above, and the statement's own run then does not count.
		res.Skew = p.Now.Sub(dbEnd)
	}
	var errs []error
	for _, id := range bad {
		errs = append(errs, &RecordError{ID: id, Err: errors.New("format not one this release reads; not claimed")})
	}
	return res, live, errors.Join(errs...), nil
}
