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
//     Deliverer succeeded or the retry policy gave up.
//   - After Delete returns, the schedule never starts another delivery.
//   - Occurrences missed while the scheduler was stopped follow the misfire
//     policy: by default each schedule fires once, not once per missed
//     occurrence, so a restart after downtime causes no catch-up burst.
//   - Every read of time goes through the injected clock ([WithClock]), and
//     the dispatcher never sleeps longer than [WithMaxSleep] before looking
//     at the clock again.
//
// # How a firing flows
//
// Data flows one way: the dispatcher's timer wakes, it pops what is due
// from its heap, a worker reads the payload from the store and
// calls the Deliverer, then records the outcome in the store with
// [Store.Ack] and offers the next occurrence back to the heap. The store
// never calls into the scheduler; the Deliverer never touches the store.
//
// The store is the source of truth for when things are due. The dispatcher
// keeps only a look-ahead window of it ([WithLookahead]) in a min-heap of
// (due time, id) with an index from id to heap position, so add, remove
// and reschedule are O(log n) and schedules further ahead cost it nothing.
// [Store.Claim] reads the next window as a range of the store's index by
// next occurrence, from a cursor: every stored occurrence at or before the
// cursor is in the heap or in flight. Create and Ack offer a new occurrence
// to the dispatcher: inside the cursor it is pushed, beyond it the
// dispatcher only notes the earliest such time to wake for.
//
// # Who owns what
//
// One mutex, dispatcher.mu, guards the heap, its index, the retry states
// beside it, the flights (the occurrences a worker is firing), the cursor
// and the lifecycle state. It is never held across a call to the store,
// the Deliverer or an event handler, and no other lock is taken while it
// is held; the store's own locks are therefore always innermost.
//
// The loop goroutine is the only one that pops from the heap: it hands
// each due entry to a fixed pool of workers ([WithConcurrency]) and never
// pops more than there are free workers, so a hung Deliverer holds one
// worker and nothing else. Create, Update, Delete and the workers push and
// remove under the mutex. A flight is created when an entry is popped and
// removed when its worker is done; Delete marks it so that it starts no
// further attempt, and Update leaves it the occurrence to offer in place
// of its own.
//
// A heap entry is 32 bytes: the due instant, the id as 16 bytes, the low
// bits of the record's version and the entry's heap position. The id
// index maps those 16 bytes to the entry.
package tickler
