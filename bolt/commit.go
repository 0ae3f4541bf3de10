package bolt

import (
	"context"
	"errors"
	"sync"

	"go.etcd.io/bbolt"
)

// maxBatch bounds the writes one commit carries.
const maxBatch = 4096

// op is one write waiting for the committer, which closes done or, for a
// write of writeMany, marks it done in group.
type op struct {
	ctx   context.Context
	fn    func(*bbolt.Tx) error
	err   error
	done  chan struct{}
	group *sync.WaitGroup
}

// finished tells the writer of o that o is committed or failed.
func (o *op) finished() {
	if o.group != nil {
		o.group.Done()
		return
	}
	close(o.done)
}

// writeError marks an error of bbolt itself while writing (a full disk, a
// key too large): it aborts the whole commit, unlike the errors a write
// returns on purpose (ErrExists, ErrNotFound, ...), which leave the store
// consistent and the rest of the batch committable.
type writeError struct{ err error }

func (e *writeError) Error() string { return "bolt: write: " + e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// write runs fn in a read-write transaction and returns once that
// transaction is committed and fsynced, or failed. Writes from concurrent
// callers share commits (group commit): the committer takes every write
// queued while the previous commit was syncing and runs them in one
// transaction, so one fsync serves them all.
//
// fn's writes are committed with the batch whatever error it returns,
// unless that error is a *writeError: a write that fails on purpose must
// have left the store consistent. A cancelled ctx fails the write before it
// runs, never after: a write whose fn ran is committed or fails with the
// commit.
func (s *Store) write(ctx context.Context, fn func(*bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o := &op{ctx: ctx, fn: fn, done: make(chan struct{})}
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return ErrClosed
	}
	select {
	case s.ops <- o:
	case <-ctx.Done():
		s.closeMu.RUnlock()
		return ctx.Err()
	}
	s.closeMu.RUnlock()
	<-o.done
	return o.err
}

// writeMany submits every fn as a write of its own, as write does, and
// returns once all of them are committed and fsynced, or failed: one error
// per fn. Submitted together, they share commits (most often one), and
// each still fails alone.
func (s *Store) writeMany(ctx context.Context, fns []func(*bbolt.Tx) error) []error {
	errs := make([]error, len(fns))
	if err := ctx.Err(); err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	ops := make([]op, len(fns))
	var group sync.WaitGroup
	s.closeMu.RLock()
	n := 0
	for ; n < len(fns); n++ {
		if s.closed {
			break
		}
		o := &ops[n]
		*o = op{ctx: ctx, fn: fns[n], group: &group}
		group.Add(1)
		select {
		case s.ops <- o:
			continue
		case <-ctx.Done():
			group.Done()
		}
		break
	}
	closed := s.closed
	s.closeMu.RUnlock()
	group.Wait()
	for i := range errs {
		switch {
		case i < n:
			errs[i] = ops[i].err
		case closed:
			errs[i] = ErrClosed
		default:
			errs[i] = ctx.Err()
		}
	}
	return errs
}

// commitLoop is the committer: the one goroutine that writes to the file.
// It ends once Close has closed s.ops and every queued write is committed.
func (s *Store) commitLoop() {
	defer close(s.committerDone)
	batch := make([]*op, 0, maxBatch)
	for o := range s.ops {
		batch = append(batch[:0], o)
	drain:
		for len(batch) < maxBatch {
			select {
			case o, ok := <-s.ops:
				if !ok {
					break drain
				}
				batch = append(batch, o)
			default:
				break drain
			}
		}
		s.commit(batch)
		clear(batch)
		if s.recentN >= s.mergeAt && s.mergeRecent() == nil {
			s.recentN = 0
		}
	}
}

// commit runs a batch in one transaction and reports to each write. If
// bbolt fails one write, the transaction is rolled back and every write is
// run again alone, so that one bad write fails only its own caller.
func (s *Store) commit(batch []*op) {
	err := s.db.Update(func(tx *bbolt.Tx) error {
		for _, o := range batch {
			if o.err = o.ctx.Err(); o.err != nil {
				continue
			}
			o.err = o.fn(tx)
			var we *writeError
			if errors.As(o.err, &we) {
				return we
			}
		}
		return nil
	})
	var we *writeError
	if err != nil && len(batch) > 1 && errors.As(err, &we) {
		for _, o := range batch {
			s.commit([]*op{o})
		}
		return
	}
	for _, o := range batch {
		if err != nil {
			o.err = err
		}
		o.finished()
	}
}
