package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/tickler-go/tickler"
)

// The reads a host makes: Get, List, Count and History, each one statement.

// Get implements [tickler.Store]. A record this release cannot read
// returns a *[RecordError] (or ErrNotFound, when it belongs to another
// agent than a non-empty agentID).
func (s *Store) Get(ctx context.Context, agentID, id string) (*tickler.Record, error) {
	if s.closed() {
		return nil, ErrClosed
	}
	if !storable(id) || !storable(agentID) {
		return nil, tickler.ErrNotFound
	}
	var w row
	err := s.pool.QueryRow(ctx, s.sql.get, id).Scan(w.dest()...)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, tickler.ErrNotFound
	case err != nil:
		return nil, fmt.Errorf("postgres: get %s: %w", id, err)
	case agentID != "" && w.agentID != agentID:
		return nil, tickler.ErrNotFound
	}
	return w.decode()
}

// List implements [tickler.Store]. A record this release cannot read
// fails the call with its *[RecordError].
func (s *Store) List(ctx context.Context, p tickler.ListParams) (tickler.ListResult, error) {
	if s.closed() {
		return tickler.ListResult{}, ErrClosed
	}
	if !storable(p.AgentID) {
		return tickler.ListResult{}, nil
	}
	q, after := s.sql.list, any(p.After)
	if !storable(p.After) {
		q, after = s.sql.listBytes, []byte(p.After)
	}
	rows, err := s.pool.Query(ctx, q, p.AgentID, after, p.Limit+1)
	if err != nil {
		return tickler.ListResult{}, fmt.Errorf("postgres: list %s: %w", p.AgentID, err)
	}
	var res tickler.ListResult
	var w row
	_, err = pgx.ForEachRow(rows, w.dest(), func() error {
		if len(res.Records) == p.Limit {
			res.More = true
			return nil
		}
		r, err := w.decode()
		if err != nil {
			return err
		}
		res.Records = append(res.Records, r)
		return nil
	})
	if err != nil {
		var re *RecordError
		if errors.As(err, &re) {
			return tickler.ListResult{}, err
		}
		return tickler.ListResult{}, fmt.Errorf("postgres: list %s: %w", p.AgentID, err)
	}
	return res, nil
}

// Count implements [tickler.Store].
func (s *Store) Count(ctx context.Context, agentID string) (int, error) {
	if s.closed() {
		return 0, ErrClosed
	}
	if !storable(agentID) {
		return 0, nil
	}
	var n int
	if err := s.pool.QueryRow(ctx, s.sql.count, agentID).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count %s: %w", agentID, err)
	}
	return n, nil
}

// History implements [tickler.Store]. An outcome that does not decode
// fails the call with a *[RecordError] naming the record.
func (s *Store) History(ctx context.Context, p tickler.HistoryParams) (tickler.HistoryResult, error) {
	if s.closed() {
		return tickler.HistoryResult{}, ErrClosed
	}
	if !storable(p.ID) || !storable(p.AgentID) {
		return tickler.HistoryResult{}, tickler.ErrNotFound
	}
	rows, err := s.pool.Query(ctx, s.sql.history, p.ID, p.Offset, p.Limit+1)
	if err != nil {
		return tickler.HistoryResult{}, fmt.Errorf("postgres: history %s: %w", p.ID, err)
	}
	var res tickler.HistoryResult
	found := false
	var agent string
	var raw []byte
	_, err = pgx.ForEachRow(rows, []any{&agent, &raw}, func() error {
		found = true
		if p.AgentID != "" && agent != p.AgentID {
			return tickler.ErrNotFound
		}
		if raw == nil {
			return nil
		}
		if len(res.Outcomes) == p.Limit {
			res.More = true
			return nil
		}
		var o tickler.Outcome
		if err := json.Unmarshal(raw, &o); err != nil {
			return &RecordError{ID: p.ID, Err: fmt.Errorf("history entry: %w", err)}
		}
		res.Outcomes = append(res.Outcomes, o)
		return nil
	})
	var re *RecordError
	switch {
	case errors.Is(err, tickler.ErrNotFound) || (err == nil && !found):
		return tickler.HistoryResult{}, tickler.ErrNotFound
	case errors.As(err, &re):
		return tickler.HistoryResult{}, err
	case err != nil:
		return tickler.HistoryResult{}, fmt.Errorf("postgres: history %s: %w", p.ID, err)
	}
	return res, nil
}
