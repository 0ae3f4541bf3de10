package tickler_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/memory"
	"github.com/tickler-go/tickler/ticklertest"
)

// batchStore is a memory store that is a BatchAcker: it records the size
// of every AckMany, and holds the first one until released.
type batchStore struct {
	*memory.Store
	mu      sync.Mutex
	sizes   []int
	hold    chan struct{}
	holding chan struct{}
}

func (s *batchStore) AckMany(ctx context.Context, acks []tickler.AckParams) []error {
	s.mu.Lock()
	first := len(s.sizes) == 0
	s.sizes = append(s.sizes, len(acks))
	s.mu.Unlock()
	if first {
		close(s.holding)
		<-s.hold
	}
	errs := make([]error, len(acks))
	for i, a := range acks {
		errs[i] = s.Ack(ctx, a)
	}
	return errs
}

func TestAcksOverABatchAckerAreStoredTogetherAndEachOnce(t *testing.T) {
	t.Parallel()
	st := &batchStore{Store: memory.New(), hold: make(chan struct{}), holding: make(chan struct{})}
	b := ticklertest.NewWith(t, ticklertest.Config{Store: st})
	at := ticklertest.Epoch().Add(time.Minute)
	const n = 100
	for i := range n {
		b.Create("agent-1", "m", tickler.At(at.Add(time.Duration(i%3)*time.Millisecond)))
	}
	b.Clock.Set(at.Add(time.Second))
	// The first AckMany holds: the workers deliver the rest meanwhile, and
	// their acks wait for the recorder.
	select {
	case <-st.holding:
	case <-time.After(b.WaitTimeout()):
		t.Fatal("no AckMany")
	}
	b.WaitStarted(n)
	close(st.hold)
	b.Settle()

	if got := len(b.Recorder.Deliveries()); got != n {
		t.Fatalf("delivered %d, want %d", got, n)
	}
	st.mu.Lock()
	sizes := append([]int(nil), st.sizes...)
	st.mu.Unlock()
	total, most := 0, 0
	for _, k := range sizes {
		total += k
		most = max(most, k)
	}
	if total != n || most < 2 {
		t.Fatalf("AckMany sizes %v: %d acks in all, %d at most in one; want %d, and batches", sizes, total, most, n)
	}
	if c, _ := st.Count(context.Background(), "agent-1"); c != 0 {
		t.Fatalf("%d records left after their acks", c)
	}
	if st := b.Scheduler.Stats(); st.InFlight != 0 {
		t.Fatalf("InFlight = %d after settling", st.InFlight)
	}
}
