package tickler

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// RetryPolicy says how a failed delivery is retried. Attempt n+1 starts
// after a delay drawn uniformly from [d/2, d], where d = Base·2^(n-1),
// capped at Cap when Cap is positive. A Deliverer can shorten or lengthen
// one delay with [RetryAfter] and end the retries with [Permanent].
type RetryPolicy struct {
	// MaxAttempts is the number of calls to the Deliverer per occurrence,
	// at least 1 (1 means no retry).
	MaxAttempts int `json:"max_attempts"`
	// Base is the delay before the second attempt; not negative.
	Base time.Duration `json:"base"`
	// Cap bounds the delay; 0 means no bound.
	Cap time.Duration `json:"cap,omitempty"`
}

// DefaultRetryPolicy returns the retry policy unless [WithRetryPolicy] says
// otherwise: 5 attempts, backoff from 1 s doubling up to 5 min.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: 5, Base: time.Second, Cap: 5 * time.Minute}
}

// Validate reports a policy that cannot be used, naming the field.
func (p RetryPolicy) Validate() error {
	switch {
	case p.MaxAttempts < 1:
		return invalid("retry.max_attempts", "must be at least 1, got %d", p.MaxAttempts)
	case p.Base < 0:
		return invalid("retry.base", "must not be negative, got %v", p.Base)
	case p.Cap < 0:
		return invalid("retry.cap", "must not be negative (0 means no cap), got %v", p.Cap)
	case p.Cap > 0 && p.Cap < p.Base:
		return invalid("retry.cap", "must be at least base (%v), got %v", p.Base, p.Cap)
	}
	return nil
}

// String describes the policy for logs.
func (p RetryPolicy) String() string {
	return fmt.Sprintf("%d attempts, backoff %v doubling up to %v", p.MaxAttempts, p.Base, p.Cap)
}

// Delay returns the delay after the n-th failed attempt (n ≥ 1): before
// jitter, Base·2^(n-1), capped at Cap when Cap is positive and never above
// [MaxRetryDelay]; then drawn uniformly from its upper half. It is the one
// backoff of the module: the scheduler's retries and the callback sender's
// both use it.
func (p RetryPolicy) Delay(n int) time.Duration {
	limit := MaxRetryDelay
	if p.Cap > 0 {
		limit = min(p.Cap, limit)
	}
	d := min(max(p.Base, 0), limit)
	for i := 1; i < n && d < limit; i++ {
		d = min(2*d, limit) // d ≤ limit ≤ MaxRetryDelay: 2d does not overflow
	}
	if d <= 1 {
		return max(d, 0)
	}
	return d/2 + rand.N(d/2+1)
}

// MaxRetryDelay bounds every retry delay, so that a policy with no cap
// doubles to at most a week rather than overflowing.
const MaxRetryDelay = 7 * 24 * time.Hour
