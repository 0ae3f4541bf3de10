// Package callback POSTs the outcome of each delivery to the scheduled
// message's callback_url, the way Letta's scheduled messages promise.
//
// A [Sender] is an event handler for the scheduler:
//
//	cb := callback.New()
//	s, err := tickler.New(store, deliverer, tickler.WithEventHandler(cb.Handle))
//	...
//	_ = s.Stop(ctx)
//	_ = cb.Close(ctx)
//
// When a delivery ends (delivered, or given up after the retry policy's
// last attempt), Handle queues a JSON [Payload] for the message's
// callback_url and returns at once; a bounded pool of workers POSTs it,
// each attempt bounded by a timeout, failures retried a bounded number of
// times with exponential backoff. A callback never blocks or fails the
// schedule: a callback that cannot be queued is dropped, and one that
// fails is given up; both are counted, logged and reported, and that is
// all.
//
// A receiver may get a callback more than once (an attempt that timed out
// after the receiver acted is retried, and an occurrence may be delivered
// again; see [tickler.Deliverer]) or not at all (a full queue, retries
// exhausted): it should deduplicate on the idempotency_key, which the
// Idempotency-Key header repeats, and treat the delivery history as the
// record.
//
// # Callbacks that survive a crash: the outbox
//
// Queued in memory, a callback is lost when the process dies or its
// host's queue is full. A store that implements [tickler.CallbackOutbox]
// (memory, bolt, postgres) can keep it instead, written in the same commit
// as the occurrence's ack:
//
//	cb := callback.New(callback.WithOutbox(store))
//	s, err := tickler.New(store, deliverer,
//		tickler.WithCallbackOutbox(), tickler.WithEventHandler(cb.Handle))
//
// The scheduler then builds the [Payload] itself and the ack stores it;
// the event says so ([tickler.Event].CallbackQueued), and Handle sends
// nothing for it but wakes the sender, which claims what is due from the
// outbox (also every [WithOutboxPoll]) with a lease ([WithOutboxLease]),
// and sends it through the same host queues, breakers, signatures and
// timeouts as any callback. A failed attempt to be retried goes back to
// the outbox with its backoff; the end, sent or failed, is recorded there
// and in the occurrence's history entry ([tickler.Outcome].Callback, when
// the history keeps one: a one-time message's history goes with it). A
// callback its host's queue cannot take waits in the outbox: nothing is
// dropped. So each callback is sent at least once, after a crash too, with
// the occurrence's idempotency key; a receiver may still see it twice (a
// crash after the POST and before its end was recorded, an attempt that
// timed out after the receiver got it). No attempt outlasts its lease, so
// two senders never send one callback at once ([WithOutboxLease]).
//
// Without [tickler.WithCallbackOutbox], or over a store without an
// outbox, callbacks go through Handle as below. An ack refused because
// the message was deleted or changed meanwhile writes no callback, and its
// event is sent through Handle, as without the outbox.
//
// # Signatures
//
// With [WithSigningSecret] (a Standard Webhooks secret, "whsec_…"; create
// one with [stdwebhook.GenerateSecret]), every callback is signed the way
// Standard Webhooks ask, so that a receiver can check it with any of that
// specification's libraries: webhook-id is the occurrence's idempotency
// key (the same on every retry, so it also deduplicates),
// webhook-timestamp is the attempt's time and webhook-signature the
// HMAC-SHA256 of both and the body. Callbacks are unsigned by default.
// Create a signing sender with [NewSender], which returns the error of an
// invalid secret.
//
// # Fairness between hosts
//
// Callback URLs come from many schedules, and one receiver that never
// answers must not delay or drop everyone else's callbacks. So callbacks
// are queued by destination host (scheme, host name and port, as written
// in the URL), and:
//
//   - At most [WithPerHost] attempts to one host are in flight at once;
//     idle workers take hosts in turn (round-robin), so a host with a long
//     queue gets no more turns than one with a single callback.
//   - Each host has its own queue, bounded by [WithHostQueue]. A callback
//     is dropped only when its own host's queue is full, or after Close;
//     a drop is counted (in [Stats] and, by host, [Sender.HostStats]),
//     logged with the host, and reported with [Report].Dropped set. There
//     is no queue shared by all hosts.
//   - No worker waits through a backoff: a failed attempt puts its
//     callback back in its host's queue when its backoff ends, and the
//     worker sends another. A retry goes before its host's new callbacks.
//   - Each host has a circuit breaker ([WithBreaker]): after a number of
//     consecutive failed attempts (no answer, a timeout, 408, 429, 5xx)
//     it opens, and the host's callbacks wait, neither tried nor dropped,
//     for a cool-down; then one callback is tried as a probe. A failed
//     probe opens the breaker again for twice as long, up to a cap; an
//     answer closes it. [Stats].HostsOpen counts the open ones.
//
// One mutex of the sender guards the hosts' queues and breakers; the
// invariants are written in hosts.go. It is never held during an HTTP
// attempt, a log call or a report.
//
// Close stops taking callbacks and waits until every callback taken on
// has ended, retries and breakers included, or until its context ends;
// then attempts in flight are cancelled and the callbacks still waiting
// fail, each reported.
//
// # Addresses
//
// A callback URL comes from whoever creates the schedule, so by default a
// Sender refuses to connect to addresses inside the network it runs in:
// loopback, private (RFC 1918, fc00::/7), link-local (including the cloud
// metadata address 169.254.169.254), unspecified, multicast, carrier-grade
// NAT and reserved ranges, and fd00:ec2::254; an IPv4 address embedded in
// an IPv6 one (IPv4-mapped, NAT64, 6to4) is judged as the IPv4 address,
// and the deprecated IPv4-compatible form (::127.0.0.1) is refused. The check is made on the
// addresses the host name resolves to, at dial time, and the connection is
// made to the address that was checked, so a name that resolves to a
// private address, or a DNS answer that changes between check and use, is
// refused too. Proxies from the environment are not used, and redirects
// are not followed. [AllowPrivate] turns the check off, for local
// development and tests.
//
// A callback URL may carry credentials (https://user:token@host/): they
// are sent, but logs, errors and [Report]s show the URL with its user
// information replaced by "xxxxx".
package callback
