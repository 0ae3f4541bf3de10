package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tickler-go/tickler"
)

// Store is a [tickler.SharedStore] in PostgreSQL: several processes (nodes)
// share one schema, each with a Store of its own. It is safe for
// concurrent use. Open one with [New] and Close it when done; closing it
// does not close the pool.
type Store struct {
	pool *pgxpool.Pool
	o    options
	sql  statements
	// agents are the statements of the agent slots (agents.go).
	agents agentSQL
	// outbox are the statements of the callback outbox (outbox.go).
	outbox outboxSQL
	// admin are the statements of the admin reads (admin.go).
	admin adminSQL
	// self is the payload of this Store's notifications, so that its
	// listener ignores them; it never changes.
	self string

	mu    sync.Mutex // guards node and reset
	node  uuid.UUID  // the node's identity, owner of what it claims
	reset bool       // the identity changed since the last Claim took it

	renewMu sync.Mutex // serialises identity changes; taken before mu

	hints    chan struct{}   // nil with WithPollOnly
	acks     chan *ackOp     // to the ack committer
	confirms chan *confirmOp // to the confirmer

	stop      context.CancelFunc // stops the heartbeat and the listener
	stopBeat  context.CancelFunc // stops the heartbeat alone (tests)
	stopped   chan struct{}      // closed by Close before it waits for them
	wg        sync.WaitGroup
	closeOnce sync.Once
}

var (
	_ tickler.SharedStore = (*Store)(nil)
	_ tickler.BatchAcker  = (*Store)(nil)
)

// New registers a node in the schema migrated by [Migrate] (the schema of
// [WithSchema]) and returns its Store. The node's lease is renewed by a
// heartbeat goroutine until Close, on a connection of its own (opened
// with the pool's configuration, outside the pool). Unless [WithPollOnly] is given, a
// dedicated connection (opened with the pool's configuration, outside the
// pool) listens for the other nodes' hints.
//
// New fails with an error matching [ErrNotMigrated] if the schema lacks
// migrations this release needs.
func New(ctx context.Context, pool *pgxpool.Pool, opts ...Option) (*Store, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	v, err := SchemaVersion(ctx, pool, opts...)
	if err != nil {
		return nil, err
	}
	if v < LatestVersion() {
		return nil, fmt.Errorf("%w: schema %s is at version %d, this release needs %d", ErrNotMigrated, o.schema, v, LatestVersion())
	}
	s := &Store{
		pool:     pool,
		o:        o,
		sql:      newStatements(o.quoted()),
		agents:   newAgentSQL(o.quoted()),
		outbox:   newOutboxSQL(o.quoted()),
		admin:    newAdminSQL(o.quoted()),
		self:     uuid.NewString(),
		acks:     make(chan *ackOp),
		confirms: make(chan *confirmOp),
		stopped:  make(chan struct{}),
	}
	node, err := s.register(ctx)
	if err != nil {
		return nil, err
	}
	s.node = node
	bg, stop := context.WithCancel(context.Background())
	s.stop = stop
	s.wg.Add(3)
	beat, stopBeat := context.WithCancel(bg)
	s.stopBeat = stopBeat
	go s.heartbeat(beat)
	go s.commitAcks()
	go s.runConfirmer()
	if !o.pollOnly {
		s.hints = make(chan struct{}, 1)
		s.wg.Add(1)
		go s.listen(bg)
	}
	return s, nil
}

// Close stops the heartbeat and the listener, waits for acks in progress,
// and removes the node, so that what it claimed is free at once for the
// other nodes rather than when its lease would lapse. It does not close
// the pool. Calls after the first return nil; the Store's methods then
// fail with [ErrClosed].
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.stopped)
		s.stop()
		s.wg.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.mu.Lock()
		node := s.node
		s.mu.Unlock()
		_, err = s.pool.Exec(ctx, s.sql.release, node.String())
		if err != nil {
			err = fmt.Errorf("postgres: releasing node %s: %w", node, err)
		}
	})
	return err
}

func (s *Store) closed() bool {
	select {
	case <-s.stopped:
		return true
	default:
		return false
	}
}

// identity returns the node's identity; with take, it also returns and
// clears whether the identity changed since it was last taken.
func (s *Store) identity(take bool) (node string, reset bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if take {
		reset, s.reset = s.reset, false
	}
	return s.node.String(), reset
}

// register inserts a new node row with a fresh lease and returns its id.
func (s *Store) register(ctx context.Context) (uuid.UUID, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.UUID{}, err
	}
	if _, err := s.pool.Exec(ctx, s.sql.register, id.String(), s.o.lease.Microseconds()); err != nil {
		return uuid.UUID{}, fmt.Errorf("postgres: registering node: %w", err)
	}
	return id, nil
}

// renewIdentity gives the node a new identity, unless it is no longer old
// (another caller renewed it already). Whatever old claimed is then no
// longer its own: the next Claim reports Reset.
func (s *Store) renewIdentity(ctx context.Context, old string) error {
	s.renewMu.Lock()
	defer s.renewMu.Unlock()
	if cur, _ := s.identity(false); cur != old {
		return nil
	}
	node, err := s.register(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.node, s.reset = node, true
	s.mu.Unlock()
	// The old row is dead weight; the reaper would remove it too.
	_, _ = s.pool.Exec(ctx, s.sql.release, old)
	return nil
}

// heartbeat renews the lease every o.heartbeat until ctx ends. A renewal
// that finds the lease lapsed (or the row gone) takes a new identity.
//
// It renews on a connection of its own (opened with the pool's
// configuration, outside the pool), so that a pool busy with claims,
// confirms and acks never makes it wait until the lease lapses. If that
// connection cannot be opened, the beat borrows one from the pool.
func (s *Store) heartbeat(ctx context.Context) {
	defer s.wg.Done()
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			closeConn(conn)
		}
	}()
	t := time.NewTicker(s.o.heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		conn = s.beat(ctx, conn)
	}
}

// beat renews the lease once on conn (a new connection if conn is nil or
// broken), and returns the connection for the next beat, or nil. Errors
// wait for the next beat (if the database stays away longer than the
// lease, the renewal after it takes a new identity).
func (s *Store) beat(ctx context.Context, conn *pgx.Conn) *pgx.Conn {
	ctx, cancel := context.WithTimeout(ctx, s.o.lease)
	defer cancel()
	if conn != nil && conn.IsClosed() {
		closeConn(conn)
		conn = nil
	}
	if conn == nil {
		c, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
		if err == nil {
			conn = c
		}
	}
	node, _ := s.identity(false)
	var tag pgconn.CommandTag
	var err error
	if conn != nil {
		tag, err = conn.Exec(ctx, s.sql.renew, node, s.o.lease.Microseconds())
		if err != nil {
			// The next beat opens a new one: this one may be broken.
			closeConn(conn)
			conn = nil
		}
	} else {
		tag, err = s.pool.Exec(ctx, s.sql.renew, node, s.o.lease.Microseconds())
	}
	if err == nil && tag.RowsAffected() == 0 {
		_ = s.renewIdentity(ctx, node)
	}
	return conn
}

// closeConn closes a connection of the Store's own, waiting a second at
// most.
func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}

// Hints implements [tickler.SharedStore]: a channel that receives a value
// (coalesced: it holds one at most) when another node created or changed a
// record due within the hint horizon, and after the listening connection
// was re-established (notifications may have been missed). It is nil with
// [WithPollOnly].
func (s *Store) Hints() <-chan struct{} {
	if s.hints == nil {
		return nil
	}
	return s.hints
}

func (s *Store) hint() {
	select {
	case s.hints <- struct{}{}:
	default:
	}
}

// storable reports whether PostgreSQL text can hold v: valid UTF-8 without
// NUL. No stored id or agent id is anything else.
func storable(v string) bool { return utf8.ValidString(v) && !strings.ContainsRune(v, 0) }

// errNotStorable is Create's error for an id or agent id PostgreSQL text
// cannot hold.
func errNotStorable(field, v string) error {
	return fmt.Errorf("postgres: %s %q is not valid UTF-8 without NUL", field, v)
}
