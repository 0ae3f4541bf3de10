package bolt

import (
	"errors"
	"fmt"

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
