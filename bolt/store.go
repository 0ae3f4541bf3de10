package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/tickler-go/tickler"
)

// DefaultLockTimeout is how long Open waits for the file lock unless
// [WithLockTimeout] says otherwise.
const DefaultLockTimeout = time.Second

// An Option configures [Open].
type Option func(*options)

type options struct {
	lockTimeout time.Duration
	mergeAt     int // see agentindex.go; tests lower it
}

// WithLockTimeout sets how long Open waits for another Store to release
// the file before it fails with [ErrLocked] (default [DefaultLockTimeout]).
// Zero or less fails at once if the file is held.
func WithLockTimeout(d time.Duration) Option { return func(o *options) { o.lockTimeout = d } }

// layout is the version of the file's layout (its buckets and key
// formats), kept in the meta bucket. Layout 2 added agents_recent,
// due_recent and the record counts in agent_bytes; Open upgrades a layout
// 1 file.
const layout = 2

// Bucket names; see doc.go.
var (
	bucketMeta    = []byte("meta")
	bucketRecords = []byte("records")
	bucketAgents  = []byte("agents")
	bucketDue     = []byte("due")
	bucketHistory = []byte("history")
	// The callback outbox (outbox.go); an older release ignores them.
	bucketCallbacks   = []byte("callbacks")
	bucketCallbackDue = []byte("callback_due")
	// The per-agent byte totals (sizes.go); an older release ignores it.
	bucketAgentBytes = []byte("agent_bytes")
	// The indexes' recent entries (recent.go), from layout 2.
	bucketRecent    = []byte("agents_recent")
	bucketDueRecent = []byte("due_recent")
	keyLayout       = []byte("layout")
)

// Store is a [tickler.Store] in a bbolt file. Every writing method
// (Create, Delete, Ack, Update) returns once its change is committed and
// fsynced; concurrent writes share commits. Reads run concurrently with each other and with writes, each on
// a consistent snapshot. A Store is safe for concurrent use. Open one
// with [Open] and Close it when done.
type Store struct {
	db   *bbolt.DB
	path string

	ops           chan *op // writes for the committer
	committerDone chan struct{}
	closeMu       sync.RWMutex // guards closed against sends on ops
	closed        bool

	// Owned by the committer (and Open, before it starts).
	mergeAt int // move agents_recent into agents at this many entries
	recentN int // entries added to agents_recent since the last move, or more
}

var (
	_ tickler.Store          = (*Store)(nil)
	_ tickler.CallbackOutbox = (*Store)(nil)
	_ tickler.BatchAcker     = (*Store)(nil)
	_ tickler.BatchCreator   = (*Store)(nil)
	_ tickler.BatchDeleter   = (*Store)(nil)
)

// Open opens the store in the file at path, creating the file if it does
// not exist. The file is locked for as long as the Store is open: another
// Open of it, in this process or another, waits up to the lock timeout
// and then fails with an error matching [ErrLocked] that names the path.
// Open fails with an error matching [ErrNewerFormat] if the file's layout
// is newer than this release's.
func Open(path string, opts ...Option) (*Store, error) {
	o := options{lockTimeout: DefaultLockTimeout, mergeAt: defaultMergeAt}
	for _, opt := range opts {
		opt(&o)
	}
	timeout := o.lockTimeout
	if timeout <= 0 {
		timeout = time.Nanosecond // bbolt waits forever on zero
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout:      timeout,
		FreelistType: bbolt.FreelistMapType,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("bolt: open %s: %w (waited %v)", path, ErrLocked, max(o.lockTimeout, 0))
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	var recentN int
	err = db.Update(func(tx *bbolt.Tx) error {
		if err := initLayout(tx); err != nil {
			return err
		}
		recentN = countRecent(tx)
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	s := &Store{
		db:            db,
		path:          path,
		ops:           make(chan *op, maxBatch),
		committerDone: make(chan struct{}),
		mergeAt:       o.mergeAt,
		recentN:       recentN,
	}
	go s.commitLoop()
	return s, nil
}

// initLayout creates the buckets of a new file, checks the layout of an
// existing one, and upgrades a layout 1 file to layout 2: it adds
// agents_recent and due_recent and counts every agent's records into
// agent_bytes. A
// release that reads only layout 1 refuses the upgraded file with its
// ErrNewerFormat (export and import move schedules back to it).
func initLayout(tx *bbolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	upgrade := false
	if meta != nil {
		v := meta.Get(keyLayout)
		switch {
		case len(v) != 1 || v[0] == 0:
			return fmt.Errorf("%w: layout %x", ErrCorrupt, v)
		case v[0] > layout:
			return fmt.Errorf("%w: layout %d (this release reads %d)", ErrNewerFormat, v[0], layout)
		}
		upgrade = v[0] < layout
	}
	for _, name := range [][]byte{bucketMeta, bucketRecords, bucketAgents, bucketDue, bucketHistory, bucketCallbacks, bucketCallbackDue, bucketRecent, bucketDueRecent} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	if upgrade && tx.Bucket(bucketAgentBytes) != nil {
		// Layout 1's totals hold bytes, not counts: count both again.
		if err := tx.DeleteBucket(bucketAgentBytes); err != nil {
			return err
		}
	}
	if err := initAgentBytes(tx); err != nil {
		return err
	}
	if meta == nil || upgrade {
		return tx.Bucket(bucketMeta).Put(keyLayout, []byte{layout})
	}
	return nil
}

// Path returns the path of the store's file.
func (s *Store) Path() string { return s.path }

// Close waits for the writes already submitted to commit, then closes the
// file and releases its lock. Calls made after Close fail with
// [ErrClosed]; Close itself may be called more than once.
func (s *Store) Close() error {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	close(s.ops)
	s.closeMu.Unlock()
	<-s.committerDone
	return s.db.Close()
}

// buckets are the buckets of one transaction.
type buckets struct {
	records, agents, due, history *bbolt.Bucket
	recent, dueRecent             *bbolt.Bucket
	callbacks, callbackDue        *bbolt.Bucket
	agentBytes                    *bbolt.Bucket
}

func bucketsOf(tx *bbolt.Tx) buckets {
	return buckets{
		records:   tx.Bucket(bucketRecords),
		agents:    tx.Bucket(bucketAgents),
		recent:    tx.Bucket(bucketRecent),
		dueRecent: tx.Bucket(bucketDueRecent),
		due:       tx.Bucket(bucketDue),
		history:   tx.Bucket(bucketHistory),

		callbacks:   tx.Bucket(bucketCallbacks),
		callbackDue: tx.Bucket(bucketCallbackDue),
		agentBytes:  tx.Bucket(bucketAgentBytes),
	}
}

// view runs fn in a read-only transaction.
func (s *Store) view(ctx context.Context, fn func(buckets) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.db.View(func(tx *bbolt.Tx) error { return fn(bucketsOf(tx)) })
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// update runs fn in a shared commit; see [Store.write].
func (s *Store) update(ctx context.Context, fn func(buckets) error) error {
	return s.write(ctx, func(tx *bbolt.Tx) error { return fn(bucketsOf(tx)) })
}

func put(b *bbolt.Bucket, k, v []byte) error {
	if err := b.Put(k, v); err != nil {
		return &writeError{err}
	}
	return nil
}

func del(b *bbolt.Bucket, k []byte) error {
	if err := b.Delete(k); err != nil {
		return &writeError{err}
	}
	return nil
}

// has reports whether b holds the key k (whose value may be empty).
func has(b *bbolt.Bucket, k []byte) bool {
	got, _ := b.Cursor().Seek(k)
	return bytes.Equal(got, k)
}
