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
// Every writing method (Create, CreateMany, Delete, DeleteMany, Ack,
// AckMany and Update, and the outbox's ClaimCallbacks and FinishCallback)
// returns only once
// its change is committed and fsynced: after a crash, of the process or of
// the machine, the file holds every change whose call returned, and no part
// of any change whose call did not (bbolt commits are atomic). A call that fails changed nothing,
// except when the commit's fsync itself fails: then the change may or may
// not be on disk, as with any fsync error. A cancelled context fails a
// write only before it joins a commit, never after.
//
// With the scheduler this gives: a scheduled message whose Create returned
// survives a crash and fires; one whose Delete returned never fires after
// a restart; an update, pause or resume whose Update returned survives a
// crash; an occurrence is removed or advanced (the Ack) only after the
// Deliverer returned, so one cut short by a crash is delivered again after
// the restart with the same idempotency key. The crash test (crash_test.go)
// checks all of this by killing a scheduler with SIGKILL at random moments.
//
// Concurrent writes share commits: one goroutine, the committer, takes
// every write queued while the previous commit was syncing and runs them
// in one bbolt transaction, so one fsync serves many callers. AckMany (the
// store is a [tickler.BatchAcker]) submits each of its acks as a write of
// its own, all at once, so that the scheduler's recorder records a whole
// batch of deliveries with one fsync; it returns once all are fsynced. Each write
// still fails alone: one that is refused (ErrExists, ErrLimitExceeded,
// ErrNotFound, ErrConflict) changes nothing and does not affect the others,
// and if bbolt fails one write, the transaction is rolled back and the
// others are committed without it. Writes in one commit run one after the
// other, so a Create's check of [tickler.CreateParams.MaxPerAgent] (and
// of MaxBytesPerAgent) sees
// every record committed or batched before it. Reads (Get, List, Claim,
// Count, History) run in read-only transactions, concurrently with each
// other and with the committer, each on a consistent snapshot.
//
// The file is locked while a Store has it open. A second [Open] of the same
// file, in this process or another, waits up to the lock timeout
// ([WithLockTimeout], default one second) and then fails with [ErrLocked]
// naming the path; it never hangs.
//
// # File layout
//
// The file has ten buckets. Integers in keys are big-endian, so that keys
// sort byte by byte in the order they are read; strings in keys are
// prefixed by their length as a uvarint where another field follows them,
// so that one string's keys stay together whatever bytes it holds.
//
//	meta     "layout" -> one byte, the layout version (2)
//	records  id -> record value (below)
//	agents   uvarint(len(agent)) agent id -> empty
//	agents_recent  id -> agent id
//	due_recent     id -> its key in due
//	due      (next occurrence as Unix ns, sign bit flipped) id -> empty
//	history  uvarint(len(id)) id (sequence, 8 bytes) -> format byte, Outcome JSON
//	callbacks     callback id -> the callback (outbox.go)
//	callback_due  (next attempt as Unix ns, sign bit flipped) callback id -> empty
//	agent_bytes   uvarint(len(agent)) agent -> the agent's bytes, then its number of records, 8 bytes each
//
// callbacks and callback_due are the outbox of [tickler.CallbackOutbox]:
// Ack writes a callback in the transaction of the ack, ClaimCallbacks
// reads callback_due up to now, and FinishCallback writes a callback's
// status into the history entry its ack appended. A release that predates
// them ignores both buckets; Open creates them in an older file.
//
// agent_bytes holds, per agent, the sum of [tickler.RecordSize] of its
// records, which [tickler.CreateParams.MaxBytesPerAgent] bounds, and
// their number, which [tickler.CreateParams.MaxPerAgent] bounds and Count
// reads: every write that adds, removes or replaces a record changes the
// totals in its transaction. Open creates the bucket in a file that lacks
// it and fills it with one scan of the records and the agent index.
//
// records is the source of truth; agents (with agents_recent) is the
// index List reads, in (agent, id) order; due (with due_recent) is the
// index Claim reads, in (next occurrence, id) order, holding only records
// that have a next occurrence. Claim is a range read of due from its
// cursor up to its limit, merged with due_recent: it reads the headers of
// the records it returns (and of the damaged ones it skips) and no others,
// so a restart costs the look-ahead window, not the number of stored
// schedules. The payload of a record is read from the file when it fires
// (Get), not held in memory.
//
// Create adds to agents_recent and due_recent, keyed by record ids, which
// are time-ordered, so that a commit of creates for many agents, due at
// instants spread over hours, appends to one or two pages of each instead
// of rewriting a page of agents per agent and a page of due per create;
// the committer moves them into agents and due, in key order and in a
// commit of its own, each time they hold about a thousand entries, and
// readers merge the two (recent.go).
//
// A record value is:
//
//	byte      format version: 1; 2 if flag 8 is set; 3 if flag 16 is set
//	4 bytes   CRC-32C of everything after it
//	byte      flags: 1 = has next occurrence, 2 = has scheduled_at, 4 = paused,
//	          8 = has a retry policy (format 2), 16 = has labels (format 3)
//	uvarint   version (the Ack fence)
//	uvarint   history sequence: outcomes ever appended
//	8 bytes   next occurrence, Unix ns (if flag 1)
//	varint    scheduled_at, Unix ms (if flag 2)
//	8 bytes   when the record was paused, Unix ns (if flag 4)
//	3 varints retry policy: max attempts, base and cap in ns (if flag 8)
//	3 strings name, description, conversation id (if flag 16; not all empty)
//	string    agent id, cron expression, schedule type (each uvarint length, bytes)
//	rest      the message (tickler.MessageCreate) as JSON
//
// History entries of a record have sequence numbers 1, 2, ...; an Ack
// appends the next one and deletes those older than the newest
// HistoryLimit (a history-only Ack too, without touching the version or
// the next occurrence), and History reads them backwards from the newest.
//
// # Format versions
//
// Every record and history entry starts with a format byte, and the meta
// bucket holds the layout version. A record is written in the oldest
// format that holds it: a record without a retry policy of its own is
// written in format 1, byte for byte as the release before retry policies
// wrote it, so that release still reads it; one with a retry policy is
// written in format 2, which that release refuses as newer; one with a
// name, a description or a conversation id is written in format 3, which
// the releases before labels refuse as newer. History
// entries are format 1 (their JSON gained the optional "triggered" field,
// which an older release ignores). A later release that changes an
// encoding adds a format and reads, or migrates, the older ones.
//
// Layout 2 added agents_recent and the counts in agent_bytes. Open
// upgrades a layout 1 file in place, in one transaction: it creates
// agents_recent and counts the totals again. A release that reads only
// layout 1 then refuses the file with its ErrNewerFormat; to go back to
// it, export the schedules with this release and import them there
// (`tickler export` and `tickler import`).
//
// This release refuses to open a file whose layout is newer (an error
// matching [ErrNewerFormat] naming the path), and a record it cannot
// decode, whether written by a newer release or damaged (wrong format
// byte, checksum or structure), yields a *[RecordError] naming the record
// and matching [tickler.ErrDamaged]: from Get, List, Ack and Update, and
// from Claim beside the records it could read (so
// [tickler.Scheduler.Start] fails naming it when it is due within the
// look-ahead, and a running scheduler logs it and fires the others); a
// history entry that cannot be decoded yields one from History. Such a
// record is never skipped in silence and never causes a panic; Delete
// removes it, with or without its agent id, so an operator can clear it.
package bolt
