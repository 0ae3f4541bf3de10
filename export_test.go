package tickler

import "context"

// What the package's external tests (package tickler_test) use of its
// internals.

// CheckHeap checks that the heap of s and its store agree; s must be idle.
func CheckHeap(ctx context.Context, s *Scheduler) error { return s.d.checkHeap(ctx) }

// WithClaimBatch sets how many records one claim takes (10,000 by
// default), so that a test exercises batched claims.
func WithClaimBatch(n int) Option { return func(o *options) { o.claimBatch = n } }
