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
