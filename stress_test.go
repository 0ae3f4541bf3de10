package tickler

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
)

var stressSteps = flag.Int("stress.steps", 60, "steps of TestStress (CI runs the default; try 2000)")

// checkHeap verifies that the heap and the store agree: every stored
// occurrence within the cursor is in the heap (nothing is lost), and every
// heap entry is a stored occurrence or a retry of one (nothing stale
// fires). The scheduler must be idle.
func (d *dispatcher) checkHeap(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	h := &d.heap
	for i, e := range h.entries {
		if int(e.index) != i || h.byID[e.key] != e {
			return fmt.Errorf("heap index broken at %d (%s)", i, h.idOf(e.key))
		}
		if l, r := 2*i+1, 2*i+2; (l < len(h.entries) && entryOrder(h.entries).Less(l, i)) || (r < len(h.entries) && entryOrder(h.entries).Less(r, i)) {
			return fmt.Errorf("heap order broken at %d", i)
		}
	}
	if len(h.byID) != len(h.entries) {
		return fmt.Errorf("index has %d entries, heap %d", len(h.byID), len(h.entries))
	}
	for k := range h.retries {
		if h.byID[k] == nil {
			return fmt.Errorf("retry state of %s, which is not in the heap", h.idOf(k))
		}
	}
	if len(h.oddIDs) > len(h.entries) || len(h.oddKeys) != len(h.oddIDs) {
		return fmt.Errorf("odd-id table has %d/%d keys for %d entries", len(h.oddIDs), len(h.oddKeys), len(h.entries))
	}
	if d.full || len(d.flights) != 0 || len(d.agents) != 0 || len(d.ready) != 0 {
		return errors.New("not idle")
	}
	res, err := d.cfg.store.Claim(ctx, ClaimParams{Until: d.cursor.At, Limit: 1 << 30})
	if err != nil {
		return err
	}
	stored := map[idKey]Due{}
	for _, du := range res.Due {
		k, _ := h.lookup(du.ID)
		e, ok := h.byID[k]
		if !ok {
			return fmt.Errorf("stored occurrence %s at %v is not in the heap", du.ID, du.At)
		}
		stored[k] = du
		if e.version != uint32(du.Version) {
			return fmt.Errorf("%s: heap version %d, store %d", du.ID, e.version, du.Version)
		}
		rs := h.retries[k]
		if rs == nil && e.at != du.At.UnixNano() {
			return fmt.Errorf("%s: heap at %v, store %v", du.ID, time.Unix(0, e.at), du.At)
		}
		if rs != nil && !rs.occ.Equal(du.At) {
			return fmt.Errorf("%s: retry of %v, store %v", du.ID, rs.occ, du.At)
		}
	}
	for k := range h.byID {
		if _, ok := stored[k]; !ok {
			return fmt.Errorf("heap entry %s is not a stored occurrence within the cursor", h.idOf(k))
		}
	}
	return nil
}

// stressStore is a minimal in-package Store, so that the test does not
// import memory (which imports this package).
type stressStore struct {
	mu   sync.Mutex
	recs map[string]*Record
	// failAcks makes one Ack in failAcks fail (the record is unchanged),
	// so that acks are retried on their own.
	failAcks int
}

func (s *stressStore) Create(_ context.Context, r *Record, _ CreateParams) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs[r.ID] = r.Clone()
	return nil
}
func (s *stressStore) Get(_ context.Context, agent, id string) (*Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.recs[id]; ok && (agent == "" || r.AgentID == agent) {
		return r.Clone(), nil
	}
	return nil, ErrNotFound
}
func (s *stressStore) List(context.Context, ListParams) (ListResult, error) {
	return ListResult{}, nil // not what this test is about
}
func (s *stressStore) Delete(_ context.Context, agent, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.recs[id]; !ok || r.AgentID != agent {
		return ErrNotFound
	}
	delete(s.recs, id)
	return nil
}
func (s *stressStore) Claim(_ context.Context, p ClaimParams) (ClaimResult, error) {
	after, until, limit := p.After, p.Until, p.Limit
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Due
	var next time.Time
	for _, r := range s.recs {
		du := Due{ID: r.ID, At: r.Next, Version: r.Version}
		if r.Next.IsZero() || (after.ID != "" && !after.Before(du)) {
			continue
		}
		if r.Next.After(until) {
			if next.IsZero() || r.Next.Before(next) {
				next = r.Next
			}
			continue
		}
		out = append(out, du)
	}
	sortDue(out)
	if len(out) > limit {
		next = time.Time{}
		out = out[:limit]
	}
	return ClaimResult{Due: out, Next: next}, nil
}

var errAckFailed = errors.New("ack failed (injected)")

func (s *stressStore) Ack(_ context.Context, a AckParams) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failAcks > 0 && rand.N(s.failAcks) == 0 {
		return errAckFailed
	}
	r, ok := s.recs[a.ID]
	switch {
	case !ok:
		return ErrNotFound
	case a.HistoryOnly:
	case r.Version != a.Version:
		return ErrConflict
	case a.Next.IsZero():
		delete(s.recs, a.ID)
	default:
		r.Next, r.Version = a.Next, r.Version+1
	}
	return nil
}
func (s *stressStore) Update(_ context.Context, r *Record, _ UpdateParams) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.recs[r.ID]
	switch {
	case !ok || old.AgentID != r.AgentID:
		return ErrNotFound
	case old.Version != r.Version:
		return ErrConflict
	}
	c := r.Clone()
	c.Version++
	s.recs[r.ID] = c
	return nil
}
func (s *stressStore) Count(context.Context, string) (int, error) { return 0, nil }
func (s *stressStore) History(context.Context, HistoryParams) (HistoryResult, error) {
	return HistoryResult{}, nil
}

// mockClock adapts a benbjohnson mock to Clock inside the package (the
// ticklertest adapter would be an import cycle here).
type mockClock struct{ *clock.Mock }

func (c mockClock) NewTimer(d time.Duration) Timer { return mockTimer{c.Mock.Timer(d)} }

type mockTimer struct{ t *clock.Timer }

func (t mockTimer) C() <-chan time.Time { return t.t.C }
func (t mockTimer) Stop() bool          { return t.t.Stop() }

func sortDue(ds []Due) {
	for i := 1; i < len(ds); i++ {
		for j := i; j > 0 && ds[j].Before(ds[j-1]); j-- {
			ds[j], ds[j-1] = ds[j-1], ds[j]
		}
	}
}

// TestStress runs goroutines that create, get, list and delete while
// schedules fire on a mock clock, and after every step checks that no
// deleted schedule was delivered afterwards, that no occurrence was lost
// or delivered twice, and that the heap and the store agree.
func TestStress(t *testing.T) {
	t.Parallel()
	t.Run("Ack", func(t *testing.T) {
		t.Parallel()
		stress(t, func(s *stressStore) Store { return s })
	})
	// The same over a BatchAcker: workers hand their acks to the
	// recorder, which stores them in batches.
	t.Run("AckMany", func(t *testing.T) {
		t.Parallel()
		stress(t, func(s *stressStore) Store { return stressBatchStore{s} })
	})
}

// stressBatchStore is a stressStore that is a BatchAcker.
type stressBatchStore struct{ *stressStore }

func (s stressBatchStore) AckMany(ctx context.Context, acks []AckParams) []error {
	errs := make([]error, len(acks))
	for i, a := range acks {
		errs[i] = s.Ack(ctx, a)
	}
	return errs
}

func stress(t *testing.T, wrap func(*stressStore) Store) {
	ctx := context.Background()
	mock := clock.NewMock()
	epoch := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	mock.Set(epoch)

	type delivery struct {
		key  string
		step int
	}
	var (
		mu        sync.Mutex
		step      int
		delivered = map[string][]int{} // id -> steps of successful deliveries
		keys      = map[string]int{}   // successful deliveries per key
		deletedAt = map[string]int{}   // id -> step its Delete returned
	)
	deliverer := DelivererFunc(func(ctx context.Context, d *Delivery) (Result, error) {
		if rand.N(10) == 0 {
			return Result{}, errors.New("transient")
		}
		mu.Lock()
		defer mu.Unlock()
		delivered[d.ScheduledMessageID] = append(delivered[d.ScheduledMessageID], step)
		keys[d.IdempotencyKey]++
		return Result{}, nil
	})
	// One ack in ten fails: each is retried alone, never the delivery.
	store := &stressStore{recs: map[string]*Record{}, failAcks: 10}
	// One delivery at a time per agent: occurrences of a busy agent park.
	s, err := New(wrap(store), deliverer, WithClock(mockClock{mock}), WithMaxSleep(24*time.Hour), WithLookahead(2*time.Second),
		WithAgentConcurrency(1), WithConcurrency(4),
		WithRetryPolicy(RetryPolicy{MaxAttempts: 20, Base: 100 * time.Millisecond, Cap: 400 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	s.d.cfg.claimBatch = 64 // exercise batched claims
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(ctx)
	settle := func() {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := s.WaitIdle(c); err != nil {
			t.Fatal(err)
		}
	}

	type made struct {
		id, agent string
		at        time.Time // one-time instant, or zero for recurring
		from      time.Time
	}
	var all []made
	var allMu sync.Mutex
	for step = 1; step <= *stressSteps; step++ {
		var wg sync.WaitGroup
		for w := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				agent := fmt.Sprintf("agent-%d", w%4)
				now := mock.Now()
				for range 5 {
					switch op := rand.N(10); {
					case op < 5:
						req := CreateRequest{Messages: []Message{{Role: RoleUser, Content: Text("x")}}}
						at := now.Add(time.Duration(1+rand.N(8000)) * time.Millisecond)
						if rand.N(8) == 0 {
							req.Schedule = Cron("* * * * *")
							at = time.Time{}
						} else {
							req.Schedule = At(at)
						}
						sm, err := s.Create(ctx, agent, req)
						if err != nil {
							t.Error(err)
							return
						}
						allMu.Lock()
						all = append(all, made{sm.ID, agent, at, now})
						allMu.Unlock()
					case op < 8:
						allMu.Lock()
						var m made
						if len(all) > 0 {
							m = all[rand.N(len(all))]
						}
						allMu.Unlock()
						if m.id == "" {
							continue
						}
						err := s.Delete(ctx, m.agent, m.id)
						if err == nil {
							mu.Lock()
							deletedAt[m.id] = step
							mu.Unlock()
						} else if !errors.Is(err, ErrNotFound) {
							t.Error(err)
						}
					case op < 9:
						if _, err := s.List(ctx, agent, "", 20); err != nil {
							t.Error(err)
						}
					default:
						allMu.Lock()
						var m made
						if len(all) > 0 {
							m = all[rand.N(len(all))]
						}
						allMu.Unlock()
						if m.id != "" {
							if _, err := s.Get(ctx, m.agent, m.id); err != nil && !errors.Is(err, ErrNotFound) {
								t.Error(err)
							}
						}
					}
				}
			}()
		}
		wg.Wait()
		mock.Add(time.Duration(rand.N(3000)) * time.Millisecond)
		settle()
		if err := s.d.checkHeap(ctx); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		mu.Lock()
		for id, at := range deletedAt {
			for _, st := range delivered[id] {
				if st > at {
					t.Fatalf("step %d: %s delivered at step %d after its Delete returned at step %d", step, id, st, at)
				}
			}
		}
		mu.Unlock()
	}
	// Let every retry and one-time instant pass, then check what fired.
	// Stop at least 15 s past a minute: a recurring occurrence due at the
	// minute has had its retries (at most 20 of 400 ms) by then, so each
	// is counted delivered, not still waiting for a retry.
	for i := 0; i < 20 || mock.Now().Second() < 15 || mock.Now().Second() >= 50; i++ {
		mock.Add(time.Second)
		settle()
	}
	now := mock.Now()
	mu.Lock()
	defer mu.Unlock()
	for k, n := range keys {
		if n != 1 {
			t.Fatalf("occurrence %s delivered %d times", k, n)
		}
	}
	for _, m := range all {
		_, deleted := deletedAt[m.id]
		got := len(delivered[m.id])
		switch {
		case deleted:
		case !m.at.IsZero() && got != 1:
			t.Fatalf("one-time %s due %v delivered %d times", m.id, m.at, got)
		case m.at.IsZero():
			want := int(now.Sub(m.from.Truncate(time.Minute)) / time.Minute)
			if got != want {
				t.Fatalf("recurring %s created %v delivered %d times by %v, want %d", m.id, m.from, got, now, want)
			}
		}
	}
}
