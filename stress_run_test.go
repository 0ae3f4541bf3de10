package tickler_test

import (
	"context"
	"errors"
	"flag"
	"math/rand/v2"
	"testing"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/memory"
	"github.com/tickler-go/tickler/ticklertest"
)

var stressSteps = flag.Int("stress.steps", 60, "steps of TestStress (CI runs the default; try 2000)")

// TestStress runs goroutines that create, get, list and delete while
// schedules fire on a mock clock, and after every step checks that no
// deleted schedule was delivered afterwards, that no occurrence was lost
// or delivered twice, and that the heap and the store agree (see
// ticklertest.Stress). One ack in ten fails: each is retried alone, never
// the delivery.
func TestStress(t *testing.T) {
	t.Parallel()
	t.Run("Ack", func(t *testing.T) {
		t.Parallel()
		stress(t, &randomAckFailures{Store: memory.New(), n: 10})
	})
	// The same over a BatchAcker: workers hand their acks to the
	// recorder, which stores them in batches.
	t.Run("AckMany", func(t *testing.T) {
		t.Parallel()
		stress(t, randomBatchAckFailures{&randomAckFailures{Store: memory.New(), n: 10}})
	})
}

func stress(t *testing.T, st tickler.Store) {
	ticklertest.Stress(t, ticklertest.StressConfig{
		Store:   st,
		Steps:   *stressSteps,
		Options: []tickler.Option{tickler.WithClaimBatch(64)}, // exercise batched claims
		Check:   tickler.CheckHeap,
	})
}

var errAckFailed = errors.New("ack failed (injected)")

// randomAckFailures is a store (of the Store interface alone) whose Ack fails
// one time in n, changing nothing.
type randomAckFailures struct {
	tickler.Store
	n int
}

func (s *randomAckFailures) Ack(ctx context.Context, a tickler.AckParams) error {
	if rand.N(s.n) == 0 {
		return errAckFailed
	}
	return s.Store.Ack(ctx, a)
}

// randomBatchAckFailures is randomAckFailures as a BatchAcker.
type randomBatchAckFailures struct{ *randomAckFailures }

func (s randomBatchAckFailures) AckMany(ctx context.Context, acks []tickler.AckParams) []error {
	errs := make([]error, len(acks))
	for i, a := range acks {
		errs[i] = s.Ack(ctx, a)
	}
	return errs
}
