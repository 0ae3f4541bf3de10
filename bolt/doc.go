// Package bolt is a durable [tickler.Store] in one bbolt file: the embedded
// default for a single process.
//
//	st, err := bolt.Open("tickler.db")
//	...
//	defer st.Close()
//	s, err := tickler.New(st, deliverer)
//
// # Durability
//
// Create, Delete and Ack return only once their change is committed and
// fsynced: after a crash, of the process or of the machine, the file holds
// every change whose call returned, and no part of any change whose call
// did not (bbolt commits are atomic). A call that fails changed nothing,
// except when the commit's fsync itself fails: then the change may or may
// not be on disk, as with any fsync error. A cancelled context fails a
// write only before it joins a commit, never after.
//
// With the scheduler this gives: a scheduled message whose Create returned
// survives a crash and fires; one whose Delete returned never fires after
// a restart; an occurrence is removed or advanced (the Ack) only after the
// Deliverer returned, so one cut short by a crash is delivered again after
// the restart with the same idempotency key. The crash test (crash_test.go)
// checks all of this by killing a scheduler with SIGKILL at random moments.
//
// Concurrent writes share commits: one goroutine, the committer, takes
// every write queued while the previous commit was syncing and runs them
// in one bbolt transaction, so one fsync serves many callers. Each write
// still fails alone: one that is refused (ErrExists, ErrNotFound,
// ErrConflict) changes nothing and does not affect the others, and if bbolt
// fails one write, the transaction is rolled back and the others are
// committed without it. Reads
// (Get, List, Claim, History) run in read-only transactions, concurrently
// with each other and with the committer, each on a consistent snapshot.
//
// The file is locked while a Store has it open. A second [Open] of the same
// file, in this process or another, waits up to the lock timeout
// ([WithLockTimeout], default one second) and then fails with [ErrLocked]
// naming the path; it never hangs.
//
// # File layout
//
// The file has five buckets. Integers in keys are big-endian, so that keys
// sort byte by byte in the order they are read; strings in keys are
// prefixed by their length as a uvarint where another field follows them,
// so that one string's keys stay together whatever bytes it holds.
//
//	meta     "layout" -> one byte, the layout version (1)
//	records  id -> record value (below)
//	agents   uvarint(len(agent)) agent id -> empty
//	due      (next occurrence as Unix ns, sign bit flipped) id -> empty
//	history  uvarint(len(id)) id (sequence, 8 bytes) -> format byte, Outcome JSON
//
// records is the source of truth; agents is the index List reads, in
// (agent, id) order; due is the index Claim reads, in (next occurrence, id)
// order, holding only records that have a next occurrence. Claim is a
// range read of due from its cursor up to its limit: it never reads the
// records beyond what it returns, so a restart costs the look-ahead window,
// not the number of stored schedules. The payload of a record is read from
// the file when it fires (Get), not held in memory.
//
// A record value is:
//
//	byte      format version (1)
//	4 bytes   CRC-32C of everything after it
//	byte      flags: 1 = has next occurrence, 2 = has scheduled_at, 4 = paused
//	uvarint   version (the Ack fence)
//	uvarint   history sequence: outcomes ever appended
//	8 bytes   next occurrence, Unix ns (if flag 1)
//	varint    scheduled_at, Unix ms (if flag 2)
//	8 bytes   when the record was paused, Unix ns (if flag 4)
//	string    agent id, cron expression, schedule type (each uvarint length, bytes)
//	rest      the message (tickler.MessageCreate) as JSON
//
// History entries of a record have sequence numbers 1, 2, ...; an Ack
// appends the next one and deletes those older than the newest
// HistoryLimit, and History reads them backwards from the newest.
//
// # Format versions
//
// Every record and history entry starts with a format byte, and the meta
// bucket holds the layout version. A later release that changes an
// encoding bumps the byte and migrates what it finds with an older one.
// This release refuses to open a file whose layout is newer (an error
// matching [ErrNewerFormat] naming the path), and a record it cannot
// decode, whether written by a newer release or damaged (wrong format
// byte, checksum or structure), yields a *[RecordError] naming the record
// and matching [tickler.ErrDamaged]: from Get, List, Ack and History, and
// from Claim beside the records it could read (so
// [tickler.Scheduler.Start] fails naming it when it is due within the
// look-ahead, and a running scheduler logs it and fires the others). Such
// a record is never skipped in silence and never causes a panic; Delete
// removes it, so an operator can clear it.
package bolt
