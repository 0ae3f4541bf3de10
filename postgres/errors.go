package postgres

import (
	"errors"
	"fmt"

	"github.com/tickler-go/tickler"
)

// ErrClosed means the Store has been closed.
var ErrClosed = errors.New("postgres: store is closed")

// RecordError reports a stored record this release cannot read: written
// in a format it does not know (by a newer release), or whose JSON does
// not decode. It matches [tickler.ErrDamaged]. Get, List, Confirm and
// Update return it; Claim skips such a record, without claiming it, and
// returns it beside the others; Delete removes it.
type RecordError struct {
	ID  string
	Err error
}

// Error names the record and says what is wrong with it.
func (e *RecordError) Error() string { return fmt.Sprintf("postgres: record %q: %v", e.ID, e.Err) }

// Unwrap returns e.Err.
func (e *RecordError) Unwrap() error { return e.Err }

// Is reports whether target is [tickler.ErrDamaged], which every
// RecordError matches.
func (e *RecordError) Is(target error) bool { return target == tickler.ErrDamaged }
