package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/tickler-go/tickler"
)

var _ tickler.AgentLocker = (*Store)(nil)

// agentSQL are the statements of the agent slots, for a schema.
type agentSQL struct{ lock, unlock string }

func newAgentSQL(schema string) agentSQL {
	r := newReplacer(schema)
	return agentSQL{
		// The first of the agent's n slots that no live node holds, taken
		// for $2 if its own lease is live; a slot another node took at
		// the same moment makes the insert conflict, and its owner is live.
		lock: r.Replace(`
WITH me AS (SELECT 1 FROM {schema}.nodes WHERE id = $2::uuid AND lease_until > now()),
free AS (
	SELECT s FROM generate_series(0, $3::int - 1) s
	WHERE EXISTS (SELECT 1 FROM me) AND NOT EXISTS (
		SELECT 1 FROM {schema}.agent_slots a JOIN {schema}.nodes n ON n.id = a.owner
		WHERE a.agent_id = $1 AND a.slot = s AND n.lease_until > now() AND a.held_until > now())
	ORDER BY s LIMIT 1)
INSERT INTO {schema}.agent_slots AS a (agent_id, slot, owner, held_until)
SELECT $1, s, $2::uuid, now() + $4::bigint * interval '1 microsecond' FROM free
ON CONFLICT (agent_id, slot) DO UPDATE SET owner = EXCLUDED.owner, held_until = EXCLUDED.held_until
	WHERE a.held_until <= now() OR NOT EXISTS (
		SELECT 1 FROM {schema}.nodes n WHERE n.id = a.owner AND n.lease_until > now())
RETURNING slot`),
		// One slot of the agent that $2 holds, the highest.
		unlock: r.Replace(`
DELETE FROM {schema}.agent_slots
WHERE agent_id = $1 AND owner = $2::uuid AND slot = (
	SELECT max(slot) FROM {schema}.agent_slots WHERE agent_id = $1 AND owner = $2::uuid)`),
	}
}

// LockAgent takes one of the agent's n delivery slots for this node, and
// reports false if live nodes hold all n; see [tickler.AgentLocker]. A
// slot is held until UnlockAgent, until this node's lease lapses, or for
// at most [WithAgentSlotHold] (a release lost to a failed connection).
func (s *Store) LockAgent(ctx context.Context, agentID string, n int) (bool, error) {
	if s.closed() {
		return false, ErrClosed
	}
	if n < 1 {
		return false, fmt.Errorf("postgres: lock agent %q: %d slots", agentID, n)
	}
	node, _ := s.identity(false)
	var slot int
	err := s.pool.QueryRow(ctx, s.agents.lock, agentID, node, n, s.o.agentHold.Microseconds()).Scan(&slot)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("postgres: lock agent %q: %w", agentID, err)
	}
	return true, nil
}

// UnlockAgent gives back one of the agent's slots this node holds.
func (s *Store) UnlockAgent(ctx context.Context, agentID string) error {
	node, _ := s.identity(false)
	if _, err := s.pool.Exec(ctx, s.agents.unlock, agentID, node); err != nil {
		return fmt.Errorf("postgres: unlock agent %q: %w", agentID, err)
	}
	return nil
}
