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
// [tickler.ErrDamaged]. Get, List, Ack and Update return it rather than
// skip the record (and History, for a history entry that cannot be
// decoded); Claim skips it and returns it beside the records it could
// read, as [tickler.Store] allows; Delete removes such a record all the
// same, which is how an operator clears one that cannot be migrated.
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
// sets r.Version to 1, and returns once the record is fsynced. With
// p.MaxPerAgent set, it counts the agent's records (in the agent index, up
// to the limit) in the transaction that inserts the record, so that no
// interleaving of creates takes an agent past the limit.
func (s *Store) Create(ctx context.Context, r *tickler.Record, p tickler.CreateParams) error {
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
		if p.MaxPerAgent > 0 && countAgent(b.agents, h.agentID, p.MaxPerAgent) >= p.MaxPerAgent {
			return fmt.Errorf("%w: agent %q has %d scheduled messages, the most it may have",
				tickler.ErrLimitExceeded, h.agentID, p.MaxPerAgent)
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

// countAgent counts the agent's keys in the agent index, stopping at upTo.
func countAgent(agents *bbolt.Bucket, agentID string, upTo int) int {
	n := 0
	prefix := agentKey(agentID, "")
	c := agents.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && n < upTo; k, _ = c.Next() {
		n++
	}
	return n
}

// lookup decodes the header of the record id, which must exist and belong
// to agentID unless that is empty; else it returns ErrNotFound. A record
// whose header does not decode yields a *[RecordError], unless agentID is
// not empty and the agent index does not list the record under it: another
// agent's record is missing, damaged or not. h.body aliases the stored
// value, valid until the transaction ends.
func lookup(b buckets, agentID, id string) (*header, error) {
	v := b.records.Get([]byte(id))
	if v == nil {
		return nil, tickler.ErrNotFound
	}
	h, err := decodeHeader(v)
	switch {
	case err != nil && agentID != "" && !has(b.agents, agentKey(agentID, id)):
		return nil, tickler.ErrNotFound
	case err != nil:
		return nil, &RecordError{ID: id, Err: err}
	case agentID != "" && h.agentID != agentID:
		return nil, tickler.ErrNotFound
	}
	return h, nil
}

// fenced is lookup that also requires the record to be at version: else
// ErrConflict.
func fenced(b buckets, id, agentID string, version uint64) (*header, error) {
	h, err := lookup(b, agentID, id)
	if err == nil && h.version != version {
		return nil, tickler.ErrConflict
	}
	return h, err
}

// Get implements [tickler.Store.Get]. A record that cannot be decoded
// returns a *[RecordError] (or ErrNotFound, if the agent index lists it
// under another agent than a non-empty agentID).
func (s *Store) Get(ctx context.Context, agentID, id string) (*tickler.Record, error) {
	var r *tickler.Record
	err := s.view(ctx, func(b buckets) error {
		h, err := lookup(b, agentID, id)
		if err != nil {
			return err
		}
		r, err = h.record(id)
		return err
	})
	return r, err
}

// List implements [tickler.Store.List], reading the agent index. A record
// that cannot be decoded fails the call with a *[RecordError].
func (s *Store) List(ctx context.Context, p tickler.ListParams) (tickler.ListResult, error) {
	var res tickler.ListResult
	err := s.view(ctx, func(b buckets) error {
		prefix := agentKey(p.AgentID, "")
		start := agentKey(p.AgentID, p.After)
		c := b.agents.Cursor()
		k, _ := c.Seek(start)
		if bytes.Equal(k, start) {
			k, _ = c.Next()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if len(res.Records) >= p.Limit {
				res.More = true
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
			res.Records = append(res.Records, r)
		}
		return nil
	})
	if err != nil {
		return tickler.ListResult{}, err
	}
	return res, nil
}

// Delete implements [tickler.Store.Delete]: it returns once the removal of
// the record, its index entries and its history is fsynced. It also
// removes a record that cannot be decoded.
func (s *Store) Delete(ctx context.Context, agentID, id string) error {
	return s.update(ctx, func(b buckets) error {
		v := b.records.Get([]byte(id))
		if v == nil {
			if agentID != "" && has(b.agents, agentKey(agentID, id)) {
				// A dangling index entry: drop it; there is nothing to delete.
				if err := del(b.agents, agentKey(agentID, id)); err != nil {
					return err
				}
			}
			return tickler.ErrNotFound
		}
		h, err := decodeHeader(v)
		switch {
		case err != nil && agentID != "" && !has(b.agents, agentKey(agentID, id)):
			return tickler.ErrNotFound
		case err != nil:
			// Its header cannot say where its index entries are: look for them.
			return removeUndecodable(b, id)
		case agentID != "" && h.agentID != agentID:
			return tickler.ErrNotFound
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

// removeUndecodable deletes a record whose header does not decode, with
// every index entry that names it and its history. Its index entries are
// found by scans of the due and agent indexes, which this rare path
// affords.
func removeUndecodable(b buckets, id string) error {
	var dueKeys, agentKeys [][]byte
	c := b.due.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if _, kid, ok := parseDueKey(k); ok && kid == id {
			dueKeys = append(dueKeys, bytes.Clone(k))
		}
	}
	c = b.agents.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if n, w := binary.Uvarint(k); w > 0 && uint64(len(k)-w) >= n && string(k[w+int(n):]) == id {
			agentKeys = append(agentKeys, bytes.Clone(k))
		}
	}
	for _, k := range dueKeys {
		if err := del(b.due, k); err != nil {
			return err
		}
	}
	for _, k := range agentKeys {
		if err := del(b.agents, k); err != nil {
			return err
		}
	}
	if err := del(b.records, []byte(id)); err != nil {
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
// entries it returns, the damaged ones it skips, and the one after them.
// It checks the header of each record it returns; one that cannot be
// decoded, or disagrees with the index, is skipped and reported in the
// error, a *[RecordError] for each (joined), beside up to p.Limit of the
// others. A damaged index key fails the whole claim with [ErrCorrupt].
func (s *Store) Claim(ctx context.Context, p tickler.ClaimParams) (tickler.ClaimResult, error) {
	var res tickler.ClaimResult
	var damaged []error
	err := s.view(ctx, func(b buckets) error {
		c := b.due.Cursor()
		records := b.records.Cursor()
		var k []byte
		if p.After.ID == "" {
			k, _ = c.First()
		} else {
			start := dueKey(p.After.At.UnixNano(), p.After.ID)
			if k, _ = c.Seek(start); bytes.Equal(k, start) {
				k, _ = c.Next()
			}
		}
		end := p.Until.UnixNano()
		for ; k != nil; k, _ = c.Next() {
			at, id, ok := parseDueKey(k)
			if !ok {
				return fmt.Errorf("%w: due index key %x", ErrCorrupt, k)
			}
			if at > end {
				res.Next = time.Unix(0, at).UTC()
				break
			}
			if len(res.Due) >= p.Limit {
				break
			}
			d := tickler.Due{ID: id, At: time.Unix(0, at).UTC()}
			if err := checkDue(records, &d); err != nil {
				damaged = append(damaged, err)
				continue
			}
			res.Due = append(res.Due, d)
		}
		return nil
	})
	if err != nil {
		return tickler.ClaimResult{}, err
	}
	return res, errors.Join(damaged...)
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
// advanced record, and the appended history entry, are fsynced. A
// history-only ack appends the entry without a version check and leaves
// the record's version and next occurrence as they are. A record that
// cannot be decoded returns a *[RecordError] and is left as is.
func (s *Store) Ack(ctx context.Context, a tickler.AckParams) error {
	var entry []byte
	if a.Outcome != nil && a.HistoryLimit > 0 {
		var err error
		if entry, err = encodeOutcome(a.Outcome); err != nil {
			return fmt.Errorf("bolt: ack %s: encoding the outcome: %w", a.ID, err)
		}
	}
	id := []byte(a.ID)
	return s.update(ctx, func(b buckets) error {
		if a.HistoryOnly {
			h, err := lookup(b, "", a.ID)
			if err != nil || entry == nil {
				return err
			}
			h.histSeq++
			if err := put(b.records, id, encodeRecord(h)); err != nil {
				return err
			}
			return appendHistory(b.history, a.ID, h.histSeq, entry, a.HistoryLimit)
		}
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
		return appendHistory(b.history, a.ID, h.histSeq, entry, a.HistoryLimit)
	})
}

// appendHistory stores entry as the history entry seq of the record id and
// deletes those beyond the newest limit.
func appendHistory(hist *bbolt.Bucket, id string, seq uint64, entry []byte, limit int) error {
	if err := put(hist, historyKey(id, seq), entry); err != nil {
		return err
	}
	if keep := uint64(limit); seq > keep {
		return trimHistory(hist, id, seq-keep)
	}
	return nil
}

// Update implements [tickler.Store.Update]: it returns once the replaced
// record and its index entries are fsynced. Its history is kept, and so is
// its agent (an empty r.AgentID matches any and changes nothing).
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
		nh.version, nh.histSeq, nh.agentID = h.version+1, h.histSeq, h.agentID
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
		n = countAgent(b.agents, agentID, math.MaxInt)
		return nil
	})
	return n, err
}

// History implements [tickler.Store.History], reading the record's
// history entries backwards from the newest. The record's agent is the
// agent index's, so History of a record that cannot be decoded still
// reads its history.
func (s *Store) History(ctx context.Context, p tickler.HistoryParams) (tickler.HistoryResult, error) {
	var res tickler.HistoryResult
	err := s.view(ctx, func(b buckets) error {
		if b.records.Get([]byte(p.ID)) == nil || (p.AgentID != "" && !has(b.agents, agentKey(p.AgentID, p.ID))) {
			return tickler.ErrNotFound
		}
		prefix := prefixed(p.ID, 0)
		c := b.history.Cursor()
		last := historyKey(p.ID, math.MaxUint64)
		k, v := c.Seek(last)
		switch {
		case k == nil:
			k, v = c.Last()
		case !bytes.Equal(k, last):
			k, v = c.Prev()
		}
		skip := p.Offset
		for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Prev() {
			if skip > 0 {
				skip--
				continue
			}
			if len(res.Outcomes) >= p.Limit {
				res.More = true
				break
			}
			o, err := decodeOutcome(p.ID, v)
			if err != nil {
				return err
			}
			res.Outcomes = append(res.Outcomes, o)
		}
		return nil
	})
	if err != nil {
		return tickler.HistoryResult{}, err
	}
	return res, nil
}
