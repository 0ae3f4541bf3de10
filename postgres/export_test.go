package postgres

import "context"

// StopHeartbeat stops s's heartbeat and nothing else, as a paused process
// would: its lease lapses while it goes on claiming and acking.
func StopHeartbeat(s *Store) { s.stopBeat() }

// Exec runs sql on s's pool with {schema} replaced by s's schema: tests
// damage records with it.
func Exec(ctx context.Context, s *Store, sql string, args ...any) error {
	_, err := s.pool.Exec(ctx, newReplacer(s.o.quoted()).Replace(sql), args...)
	return err
}

// Node returns s's current identity.
func Node(s *Store) string {
	n, _ := s.identity(false)
	return n
}

// Statements returns s's claim, confirm and ack SQL by name, for EXPLAIN.
func Statements(s *Store) map[string]string {
	return map[string]string{
		"claim": s.sql.claim, "claimAfter": s.sql.claimAfter, "confirm": s.sql.confirm,
		"ackAdvance": s.sql.ackAdvance, "ackDelete": s.sql.ackDelete,
		"ackAdvanceMany": s.sql.ackAdvanceMany, "ackDeleteMany": s.sql.ackDeleteMany,
		"recent": s.admin.recent[1],
	}
}

// MigrationSQL returns the SQL of migration v, with {schema} in place of
// the schema.
func MigrationSQL(v int) string { return migrations[v-1].sql }

// Sizes returns the size column of every schedules row, by id.
func Sizes(ctx context.Context, s *Store) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, newReplacer(s.o.quoted()).Replace(`SELECT id, size FROM {schema}.schedules`))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]int64)
	for rows.Next() {
		var id string
		var n int64
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		out[id] = n
	}
	return out, rows.Err()
}
