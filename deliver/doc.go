// Package deliver holds what the deliverers under it share: the error a
// deliverer returns for an answer that is not a success, [StatusError].
//
// The deliverers are each a [tickler.Deliverer]:
//
//   - [github.com/tickler-go/tickler/deliver/letta] sends an occurrence to a
//     Letta agent (Letta Cloud or a self-hosted Letta server);
//   - [github.com/tickler-go/tickler/deliver/openai] sends it to an
//     OpenAI-compatible chat completions endpoint (Letta's App Server and
//     other agent gateways);
//   - [github.com/tickler-go/tickler/deliver/webhook] POSTs it, signed per
//     Standard Webhooks, to a URL of the host's;
//   - [github.com/tickler-go/tickler/deliver/logdeliver] logs it, and is the
//     default when nothing else is configured.
//
// # The answers of the HTTP deliverers
//
// The three HTTP deliverers read an answer the same way:
//
//   - 2xx: delivered. The deliverer returns a [tickler.Result].
//   - 408, 409, 429 and 5xx: worth trying again. With a Retry-After header
//     (delay-seconds or an HTTP-date) the error is a
//     [tickler.RetryAfter] with that delay (capped at
//     [tickler.MaxRetryDelay]); without one it is a plain error and the
//     scheduler's retry policy picks the delay.
//   - any other status (other 4xx, 3xx: redirects are not followed by the
//     default client): [tickler.Permanent]; no retry can change the answer.
//   - no answer (connection refused, timeout): a plain error, retried by
//     the policy.
//
// Every error that comes from an answer wraps a [*StatusError], which
// errors.As finds under the Permanent or RetryAfter wrapper. Its text
// carries the service's own explanation (Letta's "detail", OpenAI's
// "error.message"), bounded in length. No error names a secret: URLs are
// shown without userinfo and query, and a configured token is replaced by
// "[REDACTED]" wherever an answer echoes it.
//
// Each deliverer's constructor checks its configuration (URL, scheme,
// secret) and returns an error rather than a deliverer that fails at its
// first firing. A deliverer is safe for concurrent use once constructed.
package deliver
