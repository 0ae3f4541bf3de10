package tickler_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/memory"
	"github.com/tickler-go/tickler/ticklertest"
)

// fakeShared is a SharedStore over a memory store, for the engine's side
// of sharing: leases are a map from id to node, the store's clock is the
// node's minus skew, and a test can take a lease away, reset the node and
// send hints.
type fakeShared struct {
	*memory.Store
	mu    sync.Mutex
	owner map[string]string
	skew  time.Duration
	reset bool
	hints chan struct{}
}

const me = "this-node"

func newFakeShared(skew time.Duration) *fakeShared {
	return &fakeShared{Store: memory.New(), owner: map[string]string{}, skew: skew, hints: make(chan struct{}, 1)}
}

// Claim returns, as SharedStore says, what no node holds in the window
// and what this node holds after the cursor, up to the limit.
func (f *fakeShared) Claim(ctx context.Context, p tickler.ClaimParams) (tickler.ClaimResult, error) {
	limit, after := p.Limit, p.After
	p.Until = p.Until.Add(-f.skew) // the window on the store's clock
	p.After, p.Limit = tickler.Due{}, 1<<30
	res, err := f.Store.Claim(ctx, p)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.reset {
		for id, o := range f.owner {
			if o == me {
				delete(f.owner, id) // the old identity's: free
			}
		}
	}
	mine := res.Due[:0]
	for _, d := range res.Due {
		o := f.owner[d.ID]
		if o == "" || (o == me && after.Before(d)) {
			f.owner[d.ID] = me
			mine = append(mine, d)
			if len(mine) == limit {
				res.Next = time.Time{}
				break
			}
		}
	}
	res.Due, res.Skew, res.Reset, f.reset = mine, f.skew, f.reset, false
	return res, err
}

func (f *fakeShared) Confirm(ctx context.Context, id string) (*tickler.Record, error) {
	f.mu.Lock()
	o := f.owner[id]
	f.mu.Unlock()
	r, err := f.Store.Get(ctx, "", id)
	if err == nil && o != me {
		return nil, tickler.ErrConflict
	}
	return r, err
}

func (f *fakeShared) Update(ctx context.Context, r *tickler.Record, p tickler.UpdateParams) error {
	f.mu.Lock()
	delete(f.owner, r.ID) // an update releases the record to any node
	f.mu.Unlock()
	return f.Store.Update(ctx, r, p)
}

func (f *fakeShared) Hints() <-chan struct{} { return f.hints }

func (f *fakeShared) give(id, node string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.owner[id] = node
}

var _ tickler.SharedStore = (*fakeShared)(nil)

func TestSharedStoreNodeWithSkewedClockFiresOnTheStoresClock(t *testing.T) {
	t.Parallel()
	for _, skew := range []time.Duration{30 * time.Second, -30 * time.Second} {
		store := newFakeShared(skew)
		b := ticklertest.NewWith(t, ticklertest.Config{Store: store})
		due := ticklertest.Epoch().Add(2 * time.Minute) // on the store's clock
		b.Create("agent-1", "x", tickler.At(due))
		b.AdvanceTo(due.Add(skew - time.Millisecond))
		if n := len(b.Recorder.Deliveries()); n != 0 {
			t.Fatalf("skew %v: fired %d times before the store's clock reached the occurrence", skew, n)
		}
		b.AdvanceTo(due.Add(skew))
		if n := len(b.Recorder.Deliveries()); n != 1 {
			t.Fatalf("skew %v: fired %d times when the store's clock reached the occurrence, want 1", skew, n)
		}
	}
}

func TestSharedStoreNodeThatLostTheLeaseStartsNoDelivery(t *testing.T) {
	t.Parallel()
	store := newFakeShared(0)
	b := ticklertest.NewWith(t, ticklertest.Config{Store: store})
	sm := b.Create("agent-1", "x", tickler.Cron("* * * * *"))
	b.Advance(58 * time.Second) // claimed by this node
	store.give(sm.ID, "another-node")
	b.Advance(2 * time.Second)
	if n := len(b.Recorder.Deliveries()); n != 0 {
		t.Fatalf("delivered %d times an occurrence another node took over", n)
	}
}

func TestSharedStoreIsPolledForWhatOtherNodesCreate(t *testing.T) {
	t.Parallel()
	store := newFakeShared(0)
	b := ticklertest.NewWith(t, ticklertest.Config{Store: store})
	b.Settle()
	// Another node creates a record due within the window already claimed.
	r := &tickler.Record{ID: "from-another-node", AgentID: "agent-1", Message: tickler.MessageCreate{Messages: userText("x")},
		Schedule: tickler.At(ticklertest.Epoch().Add(3 * time.Second)), Next: ticklertest.Epoch().Add(3 * time.Second)}
	if err := store.Create(ctx, r, tickler.CreateParams{}); err != nil {
		t.Fatal(err)
	}
	b.Advance(3 * time.Second)
	if n := len(b.Recorder.Deliveries()); n != 1 {
		t.Fatalf("delivered %d times a record another node created, want 1 (found by polling)", n)
	}
}

func TestSharedStoreHintWakesAClaim(t *testing.T) {
	t.Parallel()
	store := newFakeShared(0)
	b := ticklertest.NewWith(t, ticklertest.Config{Store: store, Options: []tickler.Option{tickler.WithPollInterval(time.Hour)}})
	b.Settle()
	r := &tickler.Record{ID: "hinted", AgentID: "agent-1", Message: tickler.MessageCreate{Messages: userText("x")},
		Schedule: tickler.At(ticklertest.Epoch().Add(3 * time.Second)), Next: ticklertest.Epoch().Add(3 * time.Second)}
	if err := store.Create(ctx, r, tickler.CreateParams{}); err != nil {
		t.Fatal(err)
	}
	store.hints <- struct{}{}
	b.Settle()
	if at, ok := b.Scheduler.NextWake(); !ok || !at.Equal(r.Next) {
		t.Fatalf("after a hint, next wake = %v, %v; want the hinted record at %v", at, ok, r.Next)
	}
	b.Advance(3 * time.Second)
	if n := len(b.Recorder.Deliveries()); n != 1 {
		t.Fatalf("delivered %d times, want 1", n)
	}
}

func TestSharedStoreResetDropsWhatTheNodeHeld(t *testing.T) {
	t.Parallel()
	store := newFakeShared(0)
	b := ticklertest.NewWith(t, ticklertest.Config{Store: store})
	sm := b.Create("agent-1", "x", tickler.At(ticklertest.Epoch().Add(4*time.Second)))
	b.Settle()
	if _, ok := b.Scheduler.NextWake(); !ok {
		t.Fatal("the record was not claimed")
	}
	// The node loses its lease; another takes the record over.
	store.mu.Lock()
	store.reset = true
	store.mu.Unlock()
	store.give(sm.ID, "another-node")
	b.Advance(time.Second) // a poll: the claim reports the reset
	if at, ok := b.Scheduler.NextWake(); ok && at.Equal(ticklertest.Epoch().Add(4*time.Second)) {
		t.Fatalf("after a reset the node still holds the record at %v", at)
	}
	b.Advance(5 * time.Second)
	if n := len(b.Recorder.Deliveries()); n != 0 {
		t.Fatalf("delivered %d times after losing the lease", n)
	}
}

// slowClaims is a fakeShared whose claims take a round trip of rtt and
// whose store reads its clock (the real one) as the claim ends, as
// PostgreSQL's now() is read after the caller's clock, by as long as the
// claim waited for a connection, a lock or a server restarting.
type slowClaims struct {
	*fakeShared
	rtt time.Duration
}

func (s slowClaims) Claim(ctx context.Context, p tickler.ClaimParams) (tickler.ClaimResult, error) {
	time.Sleep(s.rtt)
	res, err := s.fakeShared.Claim(ctx, p)
	res.Skew = p.Now.Sub(time.Now())
	return res, err
}

func TestSharedStoreSlowClaimDoesNotFireEarly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		due, at := fireOverSlowClaims(t, 100*time.Millisecond, 2*time.Second)
		if at.Before(due) {
			t.Fatalf("delivered %v before its occurrence: the claim's round trip was taken for skew", due.Sub(at))
		}
	})
}

// fireOverSlowClaims runs, in t's synctest bubble, a scheduler over a
// shared store whose claims take rtt, with one occurrence due after in,
// and returns when it was due and when its delivery began.
func fireOverSlowClaims(t *testing.T, rtt, in time.Duration) (due, began time.Time) {
	t.Helper()
	var started atomic.Value
	s, err := tickler.New(slowClaims{newFakeShared(0), rtt},
		tickler.DelivererFunc(func(context.Context, *tickler.Delivery) (tickler.Result, error) {
			started.Store(time.Now())
			return tickler.Result{}, nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	due = time.Now().Add(in).Truncate(time.Millisecond)
	if _, err := s.Create(t.Context(), "agent-1", tickler.CreateRequest{Messages: userText("x"), Schedule: tickler.At(due)}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(in + 1500*time.Millisecond)
	synctest.Wait()
	began, ok := started.Load().(time.Time)
	if !ok {
		t.Fatal("never delivered")
	}
	return due, began
}

// TestSharedStoreSkewedNodeDoesNotSkipWhatIsStillDue checks the misfire
// policy on a node whose clock runs 30 s ahead of the store's: an
// occurrence due 5 s from now on the store's clock is not a misfire, though
// it lies before the node's own start on the node's clock.
func TestSharedStoreSkewedNodeDoesNotSkipWhatIsStillDue(t *testing.T) {
	t.Parallel()
	var log eventLog
	store := newFakeShared(30 * time.Second)
	b := ticklertest.NewWith(t, ticklertest.Config{Store: store,
		Options: []tickler.Option{tickler.WithMisfirePolicy(tickler.MisfireSkip), tickler.WithEventHandler(log.add)}})
	due := ticklertest.Epoch().Add(-25 * time.Second) // the store's now is Epoch-30s
	r := &tickler.Record{ID: "from-another-node", AgentID: "agent-1", Message: tickler.MessageCreate{Messages: userText("x")},
		Schedule: tickler.At(due), Next: due}
	if err := store.Create(ctx, r, tickler.CreateParams{}); err != nil {
		t.Fatal(err)
	}
	b.Advance(10 * time.Second)
	if n, skipped := len(b.Recorder.Deliveries()), len(log.of(tickler.EventSkipped)); n != 1 || skipped != 0 {
		t.Fatalf("delivered %d, skipped %d; want 1 and 0: an occurrence still due on the store's clock was taken for a misfire", n, skipped)
	}
}

// TestSharedStoreRecurringAdvancedPastTheCursorKeepsFiring checks the
// cursor of a shared store's claims: a claim returns what this node holds
// only past its cursor, so a recurring record that its own ack advanced
// beyond the window must be returned once the window reaches it, whatever
// the node's skew.
func TestSharedStoreRecurringAdvancedPastTheCursorKeepsFiring(t *testing.T) {
	t.Parallel()
	for _, skew := range []time.Duration{0, 30 * time.Second, -30 * time.Second} {
		store := newFakeShared(skew)
		b := ticklertest.NewWith(t, ticklertest.Config{Store: store})
		b.Create("agent-1", "x", tickler.Cron("* * * * *"))
		b.AdvanceTo(ticklertest.Epoch().Add(5*time.Minute + skew))
		got := b.Recorder.Deliveries()
		if len(got) != 5 {
			t.Fatalf("skew %v: delivered %d of 5 minutely occurrences", skew, len(got))
		}
		for i, d := range got {
			if want := ticklertest.Epoch().Add(time.Duration(i+1) * time.Minute); !d.Occurrence.Equal(want) {
				t.Fatalf("skew %v: delivery %d was of %v, want %v", skew, i, d.Occurrence, want)
			}
		}
	}
}

// TestSharedStoreClaimsPassTheCursor checks that a node does not ask a
// shared store again for what it holds: after the first claim, each claim
// passes the cursor the previous one reached, on the store's clock.
func TestSharedStoreClaimsPassTheCursor(t *testing.T) {
	t.Parallel()
	store := &cursorLog{fakeShared: newFakeShared(30 * time.Second)}
	b := ticklertest.NewWith(t, ticklertest.Config{Store: store})
	b.Create("agent-1", "x", tickler.At(ticklertest.Epoch().Add(time.Hour)))
	b.Advance(3 * time.Second) // a few polls
	afters := store.afters()
	if len(afters) < 3 {
		t.Fatalf("%d claims in 3 s of polling", len(afters))
	}
	if !afters[0].At.IsZero() {
		t.Fatalf("the first claim passed the cursor %v, want none", afters[0])
	}
	// The end of the last window on the store's clock, 30 s behind.
	last := ticklertest.Epoch().Add(3*time.Second + tickler.DefaultLookahead - 30*time.Second)
	for i, a := range afters[1:] {
		if a.At.IsZero() || a.Before(afters[i]) {
			t.Fatalf("claim %d passed the cursor %v, after %v", i+1, a, afters[i])
		}
		if a.At.After(last) {
			t.Fatalf("claim %d passed the cursor %v: not the end of a window on the store's clock (by %v)", i+1, a, last)
		}
	}
}

// cursorLog is a fakeShared that notes the cursor of each claim.
type cursorLog struct {
	*fakeShared
	mu  sync.Mutex
	log []tickler.Due
}

func (c *cursorLog) Claim(ctx context.Context, p tickler.ClaimParams) (tickler.ClaimResult, error) {
	c.mu.Lock()
	c.log = append(c.log, p.After)
	c.mu.Unlock()
	return c.fakeShared.Claim(ctx, p)
}

func (c *cursorLog) afters() []tickler.Due {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.log)
}

// TestSharedStoreStreamIsClaimedPerPoll checks that a stream of records
// due a millisecond apart does not make a node claim again at every
// millisecond that brings one into the window: its polls claim them.
func TestSharedStoreStreamIsClaimedPerPoll(t *testing.T) {
	t.Parallel()
	store := &cursorLog{fakeShared: newFakeShared(0)}
	b := ticklertest.NewWith(t, ticklertest.Config{Store: store})
	b.Settle()
	for i := range 500 {
		at := ticklertest.Epoch().Add(6*time.Second + time.Duration(i)*time.Millisecond)
		r := &tickler.Record{ID: fmt.Sprintf("r%04d", i), AgentID: "agent-1", Message: tickler.MessageCreate{Messages: userText("x")},
			Schedule: tickler.At(at), Next: at}
		if err := store.Create(ctx, r, tickler.CreateParams{}); err != nil {
			t.Fatal(err)
		}
	}
	// In small steps: a claim measures how long it took on the clock, and
	// a fake clock that jumps while a claim runs would make the node
	// fire that much later.
	advance := func(d time.Duration) {
		for range d / (10 * time.Millisecond) {
			b.Advance(10 * time.Millisecond)
		}
	}
	before := len(store.afters())
	advance(3 * time.Second)
	if n := len(store.afters()) - before; n > 10 {
		t.Fatalf("%d claims in 3 s with a poll interval of 1 s", n)
	}
	advance(4 * time.Second)
	if n := len(b.Recorder.Deliveries()); n != 500 {
		t.Fatalf("delivered %d of 500", n)
	}
}

// TestSharedStoreSlowClaimDoesNotHoldUpFiring checks that a claim's round
// trip does not stop the dispatcher from firing what it holds: with
// claims that take 900 ms of every 1 s poll, an occurrence due meanwhile
// starts on time, not when the claim returns.
func TestSharedStoreSlowClaimDoesNotHoldUpFiring(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		due, at := fireOverSlowClaims(t, 900*time.Millisecond, 3500*time.Millisecond)
		if late := at.Sub(due); late < 0 || late > 100*time.Millisecond {
			t.Fatalf("delivered %v after its occurrence: the claim in progress held up firing", late)
		}
	})
}
