package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// listen holds a connection of its own (opened with the pool's
// configuration, outside the pool, since LISTEN ties it up for good) that
// listens on the schema's channel, and turns each notification of another
// Store into a hint. It reconnects after an error, and hints once it is
// listening again, since notifications may have been missed.
func (s *Store) listen(ctx context.Context) {
	defer s.wg.Done()
	for again := false; ctx.Err() == nil; again = true {
		err := s.listenOnce(ctx, again)
		if err == nil || ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.o.heartbeat):
		}
	}
}

func (s *Store) listenOnce(ctx context.Context, again bool) error {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer closeConn(conn)
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.o.schema}.Sanitize()); err != nil {
		return err
	}
	if again {
		s.hint()
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if n.Payload != s.self {
			s.hint()
		}
	}
}
