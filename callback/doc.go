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
// schedule: a full queue drops the callback (counted and logged), and a
// callback that fails is logged and counted, and that is all.
//
// A receiver may get a callback more than once (an attempt that timed out
// after the receiver acted is retried, and an occurrence may be delivered
// again; see [tickler.Deliverer]) or not at all (a full queue, retries
// exhausted): it should deduplicate on the idempotency_key, which the
// Idempotency-Key header repeats, and treat the delivery history as the
// record.
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
