// Package tickler embeds a durable scheduler of agent messages in a Go
// program. A host creates scheduled messages for its agents, one-time at a
// Unix-millisecond instant or recurring on a 5-field cron expression in
// UTC; tickler keeps them in a [Store], fires each one on time and hands it
// to the host's [Deliverer]. The API and its JSON are those of Letta's
// "scheduled agent messages" (create, list, retrieve, delete per agent).
//
// # Guarantees
//
//   - A one-time schedule fires once, at its instant (ms precision), and is
//     then removed. A recurring schedule fires at every occurrence until
//     deleted, and never overlaps itself: occurrences that pass while its
//     delivery runs collapse into one that runs after it.
//   - Delivery is at least once. Each occurrence carries an idempotency key,
//     "<id>@<occurrence in Unix ms>", the same on every retry and on a
//     redelivery after a crash. An occurrence is recorded as done (a
//     one-time schedule removed, a recurring one advanced) only after the
//     Deliverer succeeded or the retry policy gave up; if recording fails,
//     the record is retried on its own and the delivery is not made again.
//   - After Delete returns, the schedule never starts another delivery.
//   - Occurrences missed while the scheduler was stopped follow the misfire
//     policy: by default each schedule fires once, not once per missed
//     occurrence, so a restart after downtime causes no catch-up burst.
//   - With [WithAgentConcurrency] no agent receives more deliveries at once
//     than allowed; its occurrences wait their turn in due order.
//   - Every read of time goes through the injected [Clock] ([WithClock]),
//     and the dispatcher never sleeps longer than [WithMaxSleep] before
//     looking at the clock again.
//   - Instants are representable up to [MaxScheduledAt] (2262-01-01).
//   - With [WithCallbackOutbox], the callback of an occurrence that ends a
//     delivery is written with its ack, in the same commit, to a store
//     that implements [CallbackOutbox]; a crash after the ack does not
//     lose it, and its sender records how it ended in the history entry.
//
// # How a firing flows
//
// Data flows one way: the dispatcher's timer wakes, it pops what is due
// from its heap, a worker reads the payload from the store (without a copy
// over a [RecordViewer], whose records never change), waits for its
// agent's turn and calls the Deliverer, then records the outcome in the
// store with [Store.Ack] and offers the next occurrence back to the heap.
// Over a store that is a [BatchAcker], the worker hands the outcome to the
// recorder instead and is free again: the recorder stores every outcome
// queued meanwhile with one [BatchAcker.AckMany] (one fsync for bolt) and
// then offers each next occurrence, as the worker would have; until then
// the occurrence stays in flight.
// The store never calls into the scheduler; the Deliverer never touches
// the store.
//
// Which instant the next occurrence of a recurring schedule is computed
// from is one rule: after a firing, it is the schedule's first occurrence
// after the later of the occurrence and the moment its first attempt
// started. Occurrences that passed before a late delivery started are
// covered by it, those that passed while it ran collapse into the one
// after, and none is fired twice. A skipped occurrence (misfire) is
// followed by the first occurrence after the moment of the skip.
//
// # The engine, file by file
//
//	scheduler.go   the public Scheduler: New, Start, Stop, Create, Get, List, Delete, History, Trigger
//	update.go      Update, Pause, Resume: a read, a change and a write fenced by version
//	dispatcher.go  the dispatcher's configuration, its loop, worker pool and lifecycle
//	heap.go        the due-heap of 32-byte entries, its id index, retry states, the odd-id table
//	window.go      the look-ahead window over the store: claim, offer, forget
//	fire.go        one occurrence on a worker: load, misfire, deliver, record
//	recorder.go    over a BatchAcker: the goroutine that stores acks in batches
//	agents.go      the per-agent gate and the queue of triggered deliveries
//	store.go       the Store seam and its parameter structs
//	outbox.go      the callback outbox: CallbackPayload, Callback, CallbackOutbox
//
// # The window over the store
//
// The store is the source of truth for when things are due. The dispatcher
// keeps only a look-ahead window of it ([WithLookahead]) in a min-heap of
// (due time, id) with an index from id to heap position, so add, remove
// and reschedule are O(log n) and schedules further ahead cost it nothing.
// [Store.Claim] reads the next window as a range of the store's index by
// next occurrence, from a cursor. The invariant: every stored occurrence
// that sorts at or before the cursor in (At, ID) order is in the heap, or
// is held by a flight (an occurrence on a worker, or parked for its
// agent). Beyond the cursor, the dispatcher knows only storeNext, the
// earliest stored occurrence it was told of, and claims again when it
// enters the window. Over a [SharedStore] the cursor is on the store's
// clock and covers only what this node holds: each claim returns what no
// live node holds from the start of the window, and what this node holds
// past the cursor, so a node neither reads nor locks again what it holds.
//
// Create, Update, Pause and Resume offer the record's new occurrence after
// the store returned: within the cursor it is pushed (replacing an older
// version of the same record), beyond it only storeNext may move. Three
// pieces of state reconcile offers with what runs concurrently:
//
//   - recent: while a claim reads the store (claiming), offers are queued
//     in recent instead of applied, since the claim may or may not have
//     seen their version; once the claim returns and the cursor moved, they
//     are replayed, and the heap keeps, per record, the newest version.
//   - forgotten: a Delete during a claim is noted, so that what the claim
//     read before the delete is not pushed.
//   - a flight's next: an offer for a record on a worker is kept on its
//     flight instead of pushed (a record never has an entry and a flight at
//     once); when the worker ends, the newest offered version replaces
//     whatever the firing would have led to, since the firing's own ack
//     meets a version conflict.
//
// # Who owns what
//
// One mutex, dispatcher.mu, guards the heap, its index and side tables,
// the flights, the ready and retry queues, the agent gates, the window
// state and the lifecycle state; each field's comment says so. Methods
// that must be called with it held end in Locked (and every method of
// dueHeap). It is never held across a call to the store, the Deliverer or
// an event handler, and no other lock is taken while it is held; the
// store's own locks are therefore always innermost.
//
// The loop goroutine is the only one that hands jobs to workers: first the
// ready queue (jobs released by their agent, and triggered deliveries),
// then triggered retries that fell due, then the heap. It never hands out
// more jobs than there are free workers, so a hung Deliverer holds one
// worker and, with an agent limit, only its agent. A worker that finds its
// agent busy parks the job in the agent's queue and is free again; the
// job that frees the agent's slot hands it to the earliest parked job.
//
// The loop makes the claims too, one at a time. Over a [SharedStore] it
// starts each on a goroutine of its own and goes on handing out what is
// due while the claim's round trip lasts; the claim reconciles with what
// ran meanwhile as it does with offers, deletes and workers (recent,
// forgotten, flights), and the loop waits for it before it returns.
//
// The recorder's queue has a mutex of its own, recorder.mu, taken with
// d.mu not held; the recorder goroutine calls AckMany with neither held,
// then settles each job under d.mu, as a worker's finish does.
//
// A retry and an ack that failed go back into the heap with their state
// beside the entry (dueHeap.retries); a job whose state holds a pending
// ack only tries the ack again. Start publishes everything Stop needs
// before the state says running, so Stop and Start may race in any order.
//
// A heap entry is 32 bytes: the due instant, the id as 16 bytes, the low
// bits of the record's version and the entry's heap position. Ids that are
// not canonical UUIDs (a store may hold ids this scheduler did not make)
// get a random 16-byte key from a side table, which gives the key back
// when the entry leaves the heap.
package tickler
