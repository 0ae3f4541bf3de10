package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/tickler-go/tickler"
)

// Errors of the bolt store, beside the [tickler.Store] ones; callers test
// them with errors.Is.
var (
	// ErrLocked means the file is held by another Store, in this process
	// or another, for longer than the lock timeout (see [WithLockTimeout]).
	ErrLocked = errors.New("bolt: database file is locked by another Store")
	// ErrClosed means the Store has been closed.
	ErrClosed = errors.New("bolt: store is closed")
	// ErrNewerFormat means a record, or the file, was written in a format
	// this release does not know: by a newer release, or damaged in its
	// first byte. It comes wrapped in a *[RecordError] naming the record,
	// or in Open's error naming the file.
	ErrNewerFormat = errors.New("bolt: format written by a newer release")
	// ErrCorrupt means a record or an index entry does not decode: its
	// checksum or its structure is wrong, or an index names a record that
	// is missing or disagrees with it. It comes wrapped in a *[RecordError]
	// naming the record, or in an error naming the index key.
	ErrCorrupt = errors.New("bolt: damaged data")
)

// RecordError reports a stored record that cannot be decoded. Err matches
// [ErrNewerFormat] or [ErrCorrupt], and the error itself matches
// [tickler.ErrDamaged]. Get, List, Ack and History return it rather than
// skip the record; Claim skips it and returns it beside the records it
// could read, as [tickler.Store] allows; Delete removes such a record all
// the same, which is how an operator clears one that cannot be migrated.
type RecordError struct {
	// ID is the record's id, its key in the records bucket.
	ID  string
	Err error
}

// Error names the record and says what is wrong with it.
func (e *RecordError) Error() string { return fmt.Sprintf("bolt: record %q: %v", e.ID, e.Err) }

// Unwrap returns e.Err.
func (e *RecordError) Unwrap() error { return e.Err }

// Is reports whether target is [tickler.ErrDamaged], which every
// RecordError matches.
func (e *RecordError) Is(target error) bool { return target == tickler.ErrDamaged }

// DefaultLockTimeout is how long Open waits for the file lock unless
// [WithLockTimeout] says otherwise.
const DefaultLockTimeout = time.Second

// An Option configures [Open].
type Option func(*options)

type options struct {
	lockTimeout time.Duration
}

// WithLockTimeout sets how long Open waits for another Store to release
// the file before it fails with [ErrLocked] (default [DefaultLockTimeout]).
// Zero or less fails at once if the file is held.
func WithLockTimeout(d time.Duration) Option { return func(o *options) { o.lockTimeout = d } }

// layout is the version of the file's layout (its buckets and key
// formats), kept in the meta bucket.
const layout = 1

// Bucket names; see doc.go.
var (
	bucketMeta    = []byte("meta")
	bucketRecords = []byte("records")
	bucketAgents  = []byte("agents")
	bucketDue     = []byte("due")
	bucketHistory = []byte("history")
	keyLayout     = []byte("layout")
)

// Store is a [tickler.Store] in a bbolt file. Create, Delete and Ack return
// once their change is committed and fsynced; concurrent writes share
// commits. Reads run concurrently with each other and with writes, each on
// a consistent snapshot. A Store is safe for concurrent use. Open one
// with [Open] and Close it when done.
type Store struct {
	db   *bbolt.DB
	path string

	ops           chan *op // writes for the committer
	committerDone chan struct{}
	closeMu       sync.RWMutex // guards closed against sends on ops
	closed        bool
}

var _ tickler.Store = (*Store)(nil)

// Open opens the store in the file at path, creating the file if it does
// not exist. The file is locked for as long as the Store is open: another
// Open of it, in this process or another, waits up to the lock timeout
// and then fails with an error matching [ErrLocked] that names the path.
// Open fails with an error matching [ErrNewerFormat] if the file's layout
// is newer than this release's.
func Open(path string, opts ...Option) (*Store, error) {
	o := options{lockTimeout: DefaultLockTimeout}
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
	if err := db.Update(initLayout); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	s := &Store{
		db:            db,
		path:          path,
		ops:           make(chan *op, maxBatch),
		committerDone: make(chan struct{}),
	}
	go s.commitLoop()
	return s, nil
}

// initLayout creates the buckets of a new file and checks the layout of an
// existing one.
func initLayout(tx *bbolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta != nil {
		v := meta.Get(keyLayout)
		if len(v) != 1 {
			return fmt.Errorf("%w: layout %x", ErrCorrupt, v)
		}
		if v[0] != layout {
			return fmt.Errorf("%w: layout %d (this release reads %d)", ErrNewerFormat, v[0], layout)
		}
	}
	for _, name := range [][]byte{bucketMeta, bucketRecords, bucketAgents, bucketDue, bucketHistory} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	if meta == nil {
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
}

func bucketsOf(tx *bbolt.Tx) buckets {
	return buckets{
		records: tx.Bucket(bucketRecords),
		agents:  tx.Bucket(bucketAgents),
		due:     tx.Bucket(bucketDue),
		history: tx.Bucket(bucketHistory),
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

// Create implements [tickler.Store.Create]: it stores r with Version 1,
// sets r.Version to 1, and returns once the record is fsynced.
func (s *Store) Create(ctx context.Context, r *tickler.Record) error {
	if r.ID == "" {
		return errors.New("bolt: create: empty id")
	}
	h, err := newHeader(r)
	if err != nil {
		return err
	}
	id := []byte(r.ID)
	v := encodeRecord(h)
	err = s.update(ctx, func(b buckets) error {
		if b.records.Get(id) != nil {
			return tickler.ErrExists
		}
		if err := put(b.records, id, v); err != nil {
			return err
		}
		if err := put(b.agents, agentKey(h.agentID, r.ID), nil); err != nil {
			return err
		}
		if h.hasNext {
			return put(b.due, dueKey(h.next, r.ID), nil)
		}
		return nil
	})
	if err != nil {
		return err
	}
	r.Version = 1
	return nil
}

// Get implements [tickler.Store.Get]. A record that cannot be decoded
// returns a *[RecordError].
func (s *Store) Get(ctx context.Context, id string) (*tickler.Record, error) {
	var r *tickler.Record
	err := s.view(ctx, func(b buckets) error {
		v := b.records.Get([]byte(id))
		if v == nil {
			return tickler.ErrNotFound
		}
		var err error
		r, err = decodeRecord(id, v)
		return err
	})
	return r, err
}

// List implements [tickler.Store.List], reading the agent index. A record
// that cannot be decoded fails the call with a *[RecordError].
func (s *Store) List(ctx context.Context, agentID, after string, limit int) (recs []*tickler.Record, more bool, err error) {
	err = s.view(ctx, func(b buckets) error {
		prefix := agentKey(agentID, "")
		start := agentKey(agentID, after)
		c := b.agents.Cursor()
		k, _ := c.Seek(start)
		if bytes.Equal(k, start) {
			k, _ = c.Next()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if len(recs) >= limit {
				more = true
				break
			}
			id := k[len(prefix):]
			v := b.records.Get(id)
			if v == nil {
				return &RecordError{ID: string(id), Err: fmt.Errorf("%w: the agent index names a missing record", ErrCorrupt)}
			}
			r, err := decodeRecord(string(id), v)
			if err != nil {
				return err
			}
			recs = append(recs, r)
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return recs, more, nil
}

// Delete implements [tickler.Store.Delete]: it returns once the removal of
// the record, its index entries and its history is fsynced. It also
// removes a record that cannot be decoded.
func (s *Store) Delete(ctx context.Context, agentID, id string) error {
	return s.update(ctx, func(b buckets) error {
		if !has(b.agents, agentKey(agentID, id)) {
			return tickler.ErrNotFound
		}
		v := b.records.Get([]byte(id))
		if v == nil {
			// A dangling index entry: drop it; there is nothing to delete.
			if err := del(b.agents, agentKey(agentID, id)); err != nil {
				return err
			}
			return tickler.ErrNotFound
		}
		h, err := decodeHeader(v)
		if err != nil {
			// Its header cannot say where its due entry is: look for it.
			return removeUndecodable(b, agentID, id)
		}
		return remove(b, id, h)
	})
}

// remove deletes the record id, whose header is h, with its index
// entries and its history.
func remove(b buckets, id string, h *header) error {
	if err := del(b.records, []byte(id)); err != nil {
		return err
	}
	if err := del(b.agents, agentKey(h.agentID, id)); err != nil {
		return err
	}
	if h.hasNext {
		if err := del(b.due, dueKey(h.next, id)); err != nil {
			return err
		}
	}
	return trimHistory(b.history, id, math.MaxUint64)
}

// removeUndecodable deletes a record whose header does not decode. Its due
// entry is found by a scan of the due index, which this rare path affords.
func removeUndecodable(b buckets, agentID, id string) error {
	var dueKeys [][]byte
	c := b.due.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if _, kid, ok := parseDueKey(k); ok && kid == id {
			dueKeys = append(dueKeys, bytes.Clone(k))
		}
	}
	for _, k := range dueKeys {
		if err := del(b.due, k); err != nil {
			return err
		}
	}
	if err := del(b.records, []byte(id)); err != nil {
		return err
	}
	if err := del(b.agents, agentKey(agentID, id)); err != nil {
		return err
	}
	return trimHistory(b.history, id, math.MaxUint64)
}

// trimHistory deletes the history entries of id whose sequence number is
// at most upTo.
func trimHistory(hist *bbolt.Bucket, id string, upTo uint64) error {
	prefix := prefixed(id, 0)
	var keys [][]byte
	c := hist.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(k) != len(prefix)+8 || binary.BigEndian.Uint64(k[len(prefix):]) > upTo {
			break
		}
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := del(hist, k); err != nil {
			return err
		}
	}
	return nil
}

// Claim implements [tickler.Store.Claim] as a range read of the due index,
// which holds (next occurrence, id) keys in time order: it touches only the
// entries it returns and the one after them. It checks the header of each
// record it returns, so a record that cannot be decoded fails the claim
// with a *[RecordError] naming it.
func (s *Store) Claim(ctx context.Context, after tickler.Due, until time.Time, limit int) (due []tickler.Due, next time.Time, err error) {
	var damaged []error
	err = s.view(ctx, func(b buckets) error {
		c := b.due.Cursor()
		records := b.records.Cursor()
		var k []byte
		if after.ID == "" {
			k, _ = c.First()
		} else {
			start := dueKey(after.At.UnixNano(), after.ID)
			if k, _ = c.Seek(start); bytes.Equal(k, start) {
				k, _ = c.Next()
			}
		}
		end := until.UnixNano()
		for ; k != nil; k, _ = c.Next() {
			at, id, ok := parseDueKey(k)
			if !ok {
				return fmt.Errorf("%w: due index key %x", ErrCorrupt, k)
			}
			if at > end {
				next = time.Unix(0, at).UTC()
				break
			}
			if len(due) >= limit {
				break
			}
			d := tickler.Due{ID: id, At: time.Unix(0, at).UTC()}
			if err := checkDue(records, &d); err != nil {
				damaged = append(damaged, err)
				continue
			}
			due = append(due, d)
		}
		return nil
	})
	if err != nil {
		return nil, time.Time{}, err
	}
	return due, next, errors.Join(damaged...)
}

// checkDue reads the header of the record of a claimed entry, which must
// decode and agree with the index, and sets the entry's version.
func checkDue(records *bbolt.Cursor, d *tickler.Due) error {
	k, v := records.Seek([]byte(d.ID))
	if string(k) != d.ID {
		return &RecordError{ID: d.ID, Err: fmt.Errorf("%w: the due index names a missing record", ErrCorrupt)}
	}
	var h header
	if _, _, err := h.decodeFixed(v); err != nil {
		return &RecordError{ID: d.ID, Err: err}
	}
	if !h.hasNext || h.next != d.At.UnixNano() {
		return &RecordError{ID: d.ID, Err: fmt.Errorf("%w: the due index says %v, the record %v", ErrCorrupt, d.At, h.nextTime())}
	}
	d.Version = h.version
	return nil
}

// Ack implements [tickler.Store.Ack]: it returns once the removed or
// advanced record, and the appended history entry, are fsynced. A record
// that cannot be decoded returns a *[RecordError] and is left as is.
func (s *Store) Ack(ctx context.Context, a tickler.Ack) error {
	var entry []byte
	if a.Outcome != nil && a.HistoryLimit > 0 {
		var err error
		if entry, err = encodeOutcome(a.Outcome); err != nil {
			return fmt.Errorf("bolt: ack %s: encoding the outcome: %w", a.ID, err)
		}
	}
	id := []byte(a.ID)
	return s.update(ctx, func(b buckets) error {
		h, err := fenced(b, a.ID, "", a.Version)
		if err != nil {
			return err
		}
		if a.Next.IsZero() {
			return remove(b, a.ID, h)
		}
		if h.hasNext {
			if err := del(b.due, dueKey(h.next, a.ID)); err != nil {
				return err
			}
		}
		h.version++
		h.hasNext, h.next = true, a.Next.UnixNano()
		if entry != nil {
			h.histSeq++
		}
		// Encode before the first put: h.body aliases the stored value.
		nv := encodeRecord(h)
		if err := put(b.records, id, nv); err != nil {
			return err
		}
		if err := put(b.due, dueKey(h.next, a.ID), nil); err != nil {
			return err
		}
		if entry == nil {
			return nil
		}
		if err := put(b.history, historyKey(a.ID, h.histSeq), entry); err != nil {
			return err
		}
		if keep := uint64(a.HistoryLimit); h.histSeq > keep {
			return trimHistory(b.history, a.ID, h.histSeq-keep)
		}
		return nil
	})
}

// fenced returns the header of the record id, which must exist, belong to
// agentID (unless it is empty) and be at version: else ErrNotFound,
// ErrConflict, or a *RecordError if it cannot be decoded.
func fenced(b buckets, id, agentID string, version uint64) (*header, error) {
	v := b.records.Get([]byte(id))
	if v == nil {
		return nil, tickler.ErrNotFound
	}
	h, err := decodeHeader(v)
	switch {
	case err != nil:
		return nil, &RecordError{ID: id, Err: err}
	case agentID != "" && h.agentID != agentID:
		return nil, tickler.ErrNotFound
	case h.version != version:
		return nil, tickler.ErrConflict
	}
	return h, nil
}

// Update implements [tickler.Store.Update]: it returns once the replaced
// record and its index entries are fsynced. Its history is kept.
func (s *Store) Update(ctx context.Context, r *tickler.Record) error {
	nh, err := newHeader(r)
	if err != nil {
		return err
	}
	id := []byte(r.ID)
	return s.update(ctx, func(b buckets) error {
		h, err := fenced(b, r.ID, r.AgentID, r.Version)
		if err != nil {
			return err
		}
		if h.hasNext {
			if err := del(b.due, dueKey(h.next, r.ID)); err != nil {
				return err
			}
		}
		nh.version, nh.histSeq = h.version+1, h.histSeq
		if err := put(b.records, id, encodeRecord(nh)); err != nil {
			return err
		}
		if nh.hasNext {
			return put(b.due, dueKey(nh.next, r.ID), nil)
		}
		return nil
	})
}

// Count implements [tickler.Store.Count], counting the agent's keys in the
// agent index without reading the records.
func (s *Store) Count(ctx context.Context, agentID string) (n int, err error) {
	err = s.view(ctx, func(b buckets) error {
		prefix := agentKey(agentID, "")
		c := b.agents.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			n++
		}
		return nil
	})
	return n, err
}

// History implements [tickler.Store.History], reading the record's
// history entries backwards from the newest.
func (s *Store) History(ctx context.Context, id string, offset, limit int) (outs []tickler.Outcome, more bool, err error) {
	err = s.view(ctx, func(b buckets) error {
		if b.records.Get([]byte(id)) == nil {
			return tickler.ErrNotFound
		}
		prefix := prefixed(id, 0)
		c := b.history.Cursor()
		last := historyKey(id, math.MaxUint64)
		k, v := c.Seek(last)
		switch {
		case k == nil:
			k, v = c.Last()
		case !bytes.Equal(k, last):
			k, v = c.Prev()
		}
		skip := offset
		for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Prev() {
			if skip > 0 {
				skip--
				continue
			}
			if len(outs) >= limit {
				more = true
				break
			}
			o, err := decodeOutcome(id, v)
			if err != nil {
				return err
			}
			outs = append(outs, o)
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return outs, more, nil
}
