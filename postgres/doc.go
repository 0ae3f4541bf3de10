// Package postgres is a [tickler.SharedStore] in PostgreSQL: several
// processes (nodes), each running a scheduler over its own Store, share one
// schema, and each occurrence is claimed by one node at a time. It is its
// own Go module, so that a host using only the bolt store never fetches
// pgx.
//
//	pool, err := pgxpool.New(ctx, url)
//	...
//	if _, err := postgres.Migrate(ctx, pool); err != nil { ... }
//	st, err := postgres.New(ctx, pool)
//	...
//	defer st.Close()
//	s, err := tickler.New(st, deliverer)
//
// # Schema
//
// [Migrate] builds the schema ([WithSchema], default "tickler") from
// numbered SQL files embedded in the package, each applied once in its own
// transaction under an advisory lock, and listed in the table migrations.
// Every statement names the schema; the search_path does not matter.
//
//	schedules  id (pk), agent_id, format, record (json), next_at, version,
//	           hist_seq, owner (a node id or NULL), created_at
//	           indexes (next_at, id) where next_at is not null;
//	           (agent_id, id); (next_at, id) where format <> 1
//	history    (schedule_id, seq) pk -> outcome (json); deleted with the record;
//	           index ((outcome ->> 'id') COLLATE "C"), for RecentOutcomes
//	nodes      id (pk) -> lease_until, started_at
//	callbacks  id (pk) -> schedule_id, outcome_id, hist_seq, url, key,
//	           payload (bytea), attempts, next_attempt; index
//	           (next_attempt, id); no foreign key: a callback outlives its
//	           schedule
//
// callbacks is the outbox of [tickler.CallbackOutbox]: the ack statements
// insert an occurrence's callback in the statement that acks it, so a
// fenced-off ack writes none; ClaimCallbacks leases due callbacks on the
// database's clock, skipping rows another node's claim has locked; and
// FinishCallback writes a callback's status into its history entry.
//
// Ids compare byte by byte (COLLATE "C"), as Go strings do. Instants are
// kept at microsecond precision (timestamptz), except PausedAt, kept in
// nanoseconds; the scheduler's occurrences are whole milliseconds.
//
// The Store is a [tickler.AdminStore] (admin.go): ListAll reads a page in
// id order with its filters in SQL, RecentOutcomes reads the history
// backwards by outcome id through its index, and Counts reads every
// record in one statement.
//
// # Nodes, leases and fences
//
// Each Store is a node: a row in nodes whose lease, on the database's
// clock (now()), a heartbeat renews ([WithHeartbeat], default 1 s) for
// [WithLease] (default 3 s), on a connection of its own so that it never
// waits behind the pool's work. A claim makes the node the owner of what it
// returns; a record whose owner's lease lapsed, or whose owner is not in
// nodes, is free. A node that finds its own lease lapsed (at a heartbeat,
// or at a claim) takes a new identity, and its next Claim reports Reset:
// whatever it held is then someone else's to claim. Close removes the
// node's row, which frees all it held at once.
//
// An ack applies only if the record is at the acked version and owned by
// this node or by none: a node that lost a record to another gets
// ErrConflict and changes nothing. Confirm, which the dispatcher calls
// before each delivery, succeeds only while this node owns the record and
// its lease is live, and returns ErrNotFound once any node deleted it.
// Update frees the record, so that any node may claim the new version.
//
// # Durability and concurrency
//
// Every writing method returns once its transaction committed (with the
// server's synchronous_commit). A Store is safe for concurrent use. It is
// a [tickler.BatchAcker]: the acks of one AckMany, and Acks queued while a
// batch runs, share one round trip and one commit, each with its own
// fences, the plain ones (no history, no callback) as one statement over
// arrays; see ack.go. Create under
// [tickler.CreateParams.MaxPerAgent] or MaxBytesPerAgent counts (or sums
// the size column, each row's [tickler.RecordSize], set by Create and
// Update; migration 5 fills it for older rows) and inserts in one
// transaction holding an advisory lock on the agent, so the limits hold
// across nodes. Rows that a release before migration 5 inserts during a
// rolling upgrade have size 0 and count no bytes.
//
// # Hints
//
// Create and Update of a record due within [WithHintHorizon] (default 10 s)
// NOTIFY, in their transaction, a channel named after the schema; each
// Store listens on a connection of its own and turns the other nodes'
// notifications into a value on [Store.Hints]. Hints only hurry a claim:
// a node finds every change by polling too. [WithPollOnly] turns them off,
// for a pooler in transaction mode.
//
// # Formats
//
// schedules.format names the encoding of record. This release reads
// format 1; a record in another format (written by a newer release, or
// damaged) is a *[RecordError] matching [tickler.ErrDamaged], and Claim
// leaves it unclaimed for a node that can read it.
package postgres
