package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/postgres"
	"github.com/tickler-go/tickler/storetest"
)

// Two Stores on one schema are two nodes. The tests use a short lease, so
// that waiting for one to lapse on the database's clock stays short; every
// wait is bounded by waitTimeout.

const waitTimeout = 10 * time.Second

var ctx = context.Background()

// shortLease makes a node whose lease lapses a second after its last
// heartbeat: short enough for a test to wait for, long enough that two
// calls in a row on a loaded machine fall within one lease.
var shortLease = []postgres.Option{postgres.WithLease(time.Second), postgres.WithHeartbeat(100 * time.Millisecond)}

// liveAndPaused returns two Stores on a new schema: live with the default
// lease, which a slow heartbeat on a loaded machine cannot lapse, and paused
// with shortLease, for a test to stop its heartbeat and wait for its lease
// to lapse. Only the node a test pauses may have the short lease: under
// load a short lease can lapse by itself, and a test would then see the
// live node fenced too.
func liveAndPaused(t *testing.T) (live, paused *postgres.Store) {
	t.Helper()
	schema := newSchema(t)
	return newStore(t, schema), newStore(t, schema, shortLease...)
}

// twoNodes returns two Stores on a new schema.
func twoNodes(t *testing.T, opts ...postgres.Option) (a, b *postgres.Store) {
	t.Helper()
	schema := newSchema(t)
	return newStore(t, schema, opts...), newStore(t, schema, opts...)
}

// claimNow claims what is due within a minute of the database's clock.
func claimNow(t *testing.T, s *postgres.Store) tickler.ClaimResult {
	t.Helper()
	now := time.Now()
	res, err := s.Claim(ctx, tickler.ClaimParams{Now: now, Until: now.Add(time.Minute), Limit: 100})
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	return res
}

func dueIDs(res tickler.ClaimResult) []string {
	var out []string
	for _, d := range res.Due {
		out = append(out, d.ID)
	}
	return out
}

// eventually polls f until it reports true, failing t after waitTimeout.
func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after %v for %s", waitTimeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func create(t *testing.T, s tickler.Store, id string, next time.Time) {
	t.Helper()
	if err := s.Create(ctx, storetest.Record(id, "agent", next), tickler.CreateParams{}); err != nil {
		t.Fatalf("Create(%s): %v", id, err)
	}
}

func TestClaimedRecordIsNotClaimedByAnotherLiveNode(t *testing.T) {
	t.Parallel()
	a, b := twoNodes(t)
	create(t, a, "r1", time.Now().Add(-time.Second))
	create(t, a, "r2", time.Now().Add(time.Second))
	if got := dueIDs(claimNow(t, a)); !slices.Equal(got, []string{"r1", "r2"}) {
		t.Fatalf("A claimed %v", got)
	}
	if res := claimNow(t, b); len(res.Due) != 0 {
		t.Fatalf("B claimed %v, which live A holds", dueIDs(res))
	}
	// A's next claim returns what it holds, with no Reset.
	res := claimNow(t, a)
	if got := dueIDs(res); !slices.Equal(got, []string{"r1", "r2"}) || res.Reset {
		t.Fatalf("A's second claim = %v, Reset %v", got, res.Reset)
	}
	if _, err := a.Confirm(ctx, "r1"); err != nil {
		t.Fatalf("A's Confirm of what it holds = %v", err)
	}
	if _, err := b.Confirm(ctx, "r1"); !errors.Is(err, tickler.ErrConflict) {
		t.Fatalf("B's Confirm of what A holds = %v, want ErrConflict", err)
	}
	// An ack by the owner keeps the record its own.
	if err := a.Ack(ctx, tickler.AckParams{ID: "r1", Version: 1, Next: time.Now().Add(2 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	if res := claimNow(t, b); len(res.Due) != 0 {
		t.Fatalf("B claimed %v after A's ack", dueIDs(res))
	}
	// B's ack of A's record is refused, though its version is right.
	if err := b.Ack(ctx, tickler.AckParams{ID: "r2", Version: 1}); !errors.Is(err, tickler.ErrConflict) {
		t.Fatalf("B's ack of A's record = %v, want ErrConflict", err)
	}
}

func TestLapsedLeaseIsTakenOverAndFencesTheOldNode(t *testing.T) {
	t.Parallel()
	b, a := liveAndPaused(t)
	create(t, a, "r", time.Now())
	if got := dueIDs(claimNow(t, a)); !slices.Equal(got, []string{"r"}) {
		t.Fatalf("A claimed %v", got)
	}
	postgres.StopHeartbeat(a) // A is paused: its lease lapses
	eventually(t, "B to take over A's record", func() bool { return len(claimNow(t, b).Due) == 1 })

	if err := a.Ack(ctx, tickler.AckParams{ID: "r", Version: 1, Next: time.Now().Add(time.Hour)}); !errors.Is(err, tickler.ErrConflict) {
		t.Fatalf("A's ack after B took over = %v, want ErrConflict", err)
	}
	if _, err := a.Confirm(ctx, "r"); !errors.Is(err, tickler.ErrConflict) {
		t.Fatalf("A's Confirm after B took over = %v, want ErrConflict", err)
	}
	if _, err := b.Confirm(ctx, "r"); err != nil {
		t.Fatalf("B's Confirm = %v", err)
	}
	old := postgres.Node(a)
	res := claimNow(t, a)
	if !res.Reset || len(res.Due) != 0 || postgres.Node(a) == old {
		t.Fatalf("A's claim after its lease lapsed: Reset %v, due %v, identity kept %v", res.Reset, dueIDs(res), postgres.Node(a) == old)
	}
	if res := claimNow(t, a); res.Reset {
		t.Fatal("Reset reported twice")
	}
	if err := b.Ack(ctx, tickler.AckParams{ID: "r", Version: 1, Next: time.Now().Add(time.Hour)}); err != nil {
		t.Fatalf("B's ack = %v", err)
	}
}

func TestHeartbeatKeepsTheLease(t *testing.T) {
	t.Parallel()
	// A lease of ten heartbeats, so that a slow beat under -race does not
	// fail the test.
	a, b := twoNodes(t, postgres.WithLease(time.Second), postgres.WithHeartbeat(100*time.Millisecond))
	create(t, a, "r", time.Now())
	claimNow(t, a)
	// Several leases long: the heartbeat renews it.
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if res := claimNow(t, b); len(res.Due) != 0 {
			t.Fatalf("B took over from A, whose heartbeat runs")
		}
	}
	if res := claimNow(t, a); res.Reset || len(res.Due) != 1 {
		t.Fatalf("A's claim: Reset %v, due %v", res.Reset, dueIDs(res))
	}
}

func TestUpdateFreesTheRecord(t *testing.T) {
	t.Parallel()
	a, b := twoNodes(t)
	create(t, a, "r", time.Now())
	claimNow(t, a)
	r, err := b.Get(ctx, "agent", "r")
	if err != nil {
		t.Fatal(err)
	}
	r.Next = time.Now().Add(time.Second)
	if err := b.Update(ctx, r, tickler.UpdateParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Confirm(ctx, "r"); !errors.Is(err, tickler.ErrConflict) {
		t.Fatalf("A's Confirm after B's Update = %v, want ErrConflict", err)
	}
	res := claimNow(t, b)
	if len(res.Due) != 1 || res.Due[0].Version != 2 {
		t.Fatalf("B's claim after its Update = %+v", res.Due)
	}
	if res := claimNow(t, a); len(res.Due) != 0 {
		t.Fatalf("A claimed %v, which B holds", dueIDs(res))
	}
	if err := a.Ack(ctx, tickler.AckParams{ID: "r", Version: 1}); !errors.Is(err, tickler.ErrConflict) {
		t.Fatalf("A's ack of the version before the Update = %v, want ErrConflict", err)
	}
}

func TestDeleteOnAnyNodeStopsDelivery(t *testing.T) {
	t.Parallel()
	a, b := twoNodes(t)
	create(t, a, "r", time.Now())
	claimNow(t, a)
	if err := b.Delete(ctx, "agent", "r"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Confirm(ctx, "r"); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("A's Confirm after B's Delete = %v, want ErrNotFound", err)
	}
	if err := a.Ack(ctx, tickler.AckParams{ID: "r", Version: 1}); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("A's ack after B's Delete = %v, want ErrNotFound", err)
	}
}

func TestCloseFreesClaimsAtOnce(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	b := newStore(t, schema)
	a, err := postgres.New(ctx, pool, postgres.WithSchema(schema)) // the default 3 s lease
	if err != nil {
		t.Fatal(err)
	}
	create(t, a, "r", time.Now())
	claimNow(t, a)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if got := dueIDs(claimNow(t, b)); !slices.Equal(got, []string{"r"}) {
		t.Fatalf("B's claim right after A closed = %v", got)
	}
	if _, err := a.Get(ctx, "", "r"); !errors.Is(err, postgres.ErrClosed) {
		t.Fatalf("Get after Close = %v, want ErrClosed", err)
	}
}

func TestMaxPerAgentHoldsAcrossNodes(t *testing.T) {
	t.Parallel()
	a, b := twoNodes(t)
	const callers, limit = 40, 7
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for i := range callers {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Create(ctx, storetest.Record(fmt.Sprint("r", i), "agent", time.Now()), tickler.CreateParams{MaxPerAgent: limit})
			switch {
			case err == nil:
				mu.Lock()
				ok++
				mu.Unlock()
			case !errors.Is(err, tickler.ErrLimitExceeded):
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n, _ := a.Count(ctx, "agent"); ok != limit || n != limit {
		t.Fatalf("%d creates on two nodes under a limit of %d: %d succeeded, %d stored", callers, limit, ok, n)
	}
}

func TestHintReachesTheOtherNode(t *testing.T) {
	t.Parallel()
	a, b := twoNodes(t)
	if b.Hints() == nil {
		t.Fatal("Hints is nil without WithPollOnly")
	}
	create(t, a, "far", time.Now().Add(time.Hour)) // beyond the horizon: no hint
	// The listener may still be connecting: create soon-due records until
	// one is heard.
	heard := false
	deadline := time.After(waitTimeout)
	for i := 0; !heard; i++ {
		create(t, a, fmt.Sprint("soon-", i), time.Now().Add(time.Second))
		select {
		case <-b.Hints():
			heard = true
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no hint reached B within %v", waitTimeout)
		}
	}
	// A hears nothing of its own writes.
	select {
	case <-a.Hints():
		t.Fatal("A got a hint of its own Create")
	case <-time.After(200 * time.Millisecond):
	}
}

func TestPollOnlyHasNoHints(t *testing.T) {
	t.Parallel()
	a, b := twoNodes(t, postgres.WithPollOnly())
	if a.Hints() != nil || b.Hints() != nil {
		t.Fatal("Hints is not nil with WithPollOnly")
	}
	create(t, a, "r", time.Now())
	if got := dueIDs(claimNow(t, b)); !slices.Equal(got, []string{"r"}) {
		t.Fatalf("B claimed %v", got)
	}
}

func TestClaimWindowIsOnTheDatabaseClock(t *testing.T) {
	t.Parallel()
	s := newStore(t, newSchema(t))
	create(t, s, "soon", time.Now().Add(2*time.Second))
	create(t, s, "later", time.Now().Add(time.Hour))
	// A caller whose clock is a day ahead claims a 10 s window: what is
	// due within 10 s of the database's clock, and its skew.
	now := time.Now().Add(24 * time.Hour)
	res, err := s.Claim(ctx, tickler.ClaimParams{Now: now, Until: now.Add(10 * time.Second), Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got := dueIDs(res); !slices.Equal(got, []string{"soon"}) {
		t.Fatalf("claimed %v, want [soon]", got)
	}
	if d := res.Skew - 24*time.Hour; d < -5*time.Second || d > 5*time.Second {
		t.Fatalf("Skew = %v, want about 24h", res.Skew)
	}
	if res.Next.IsZero() || res.Next.Sub(time.Now()) < 59*time.Minute {
		t.Fatalf("Next = %v, want the later record's", res.Next)
	}
}

func TestMigrateIsIdempotentAndSafeConcurrently(t *testing.T) {
	t.Parallel()
	schema := newSchema(t) // migrated once already
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if applied, err := postgres.Migrate(ctx, pool, postgres.WithSchema(schema)); err != nil || len(applied) != 0 {
				t.Errorf("Migrate of a migrated schema = %v, %v", applied, err)
			}
		}()
	}
	wg.Wait()

	fresh := newSchema(t)
	if _, err := pool.Exec(ctx, `DROP SCHEMA `+fresh+` CASCADE`); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var all []int
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			applied, err := postgres.Migrate(ctx, pool, postgres.WithSchema(fresh))
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			all = append(all, applied...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(all) != postgres.LatestVersion() {
		t.Fatalf("4 concurrent Migrates of a fresh schema applied %v, want each migration once", all)
	}
	if v, err := postgres.SchemaVersion(ctx, pool, postgres.WithSchema(fresh)); err != nil || v != postgres.LatestVersion() {
		t.Fatalf("SchemaVersion = %d, %v", v, err)
	}
}

func TestNewRefusesAnUnmigratedSchema(t *testing.T) {
	t.Parallel()
	_, err := postgres.New(ctx, pool, postgres.WithSchema("tickler_test_never_migrated"))
	if !errors.Is(err, postgres.ErrNotMigrated) {
		t.Fatalf("New on an unmigrated schema = %v, want ErrNotMigrated", err)
	}
}

func TestAcksOfManyCallersShareBatches(t *testing.T) {
	t.Parallel()
	s := newStore(t, newSchema(t))
	const n = 200
	for i := range n {
		create(t, s, fmt.Sprintf("r%03d", i), time.Now())
	}
	claimNow(t, s)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("r%03d", i)
			out := &tickler.Outcome{ID: id, ScheduledMessageID: id, Status: tickler.StatusSuccess, SentAt: time.Now()}
			p := tickler.AckParams{ID: id, Version: 1, Next: time.Now().Add(time.Hour), Outcome: out, HistoryLimit: 5}
			if i%3 == 0 {
				p.Next = time.Time{}
			}
			if err := s.Ack(ctx, p); err != nil {
				t.Error(err)
			}
			// A stale ack beside them fails alone.
			if err := s.Ack(ctx, tickler.AckParams{ID: id, Version: 1, Next: time.Now()}); !errors.Is(err, tickler.ErrConflict) && !errors.Is(err, tickler.ErrNotFound) {
				t.Errorf("stale ack of %s = %v", id, err)
			}
		}()
	}
	wg.Wait()
	if c, _ := s.Count(ctx, "agent"); c != n-(n+2)/3 {
		t.Fatalf("Count = %d after the acks, want %d", c, n-(n+2)/3)
	}
}

// TestClaimReturnsWhatTheNodeHoldsOnlyPastTheCursor checks the cursor of
// a shared claim: what the node holds at or before it is not returned
// (the node has it), what it holds past it is, and what no live node holds
// is returned wherever it lies in the window.
func TestClaimReturnsWhatTheNodeHoldsOnlyPastTheCursor(t *testing.T) {
	t.Parallel()
	a, b := twoNodes(t)
	now := time.Now().Truncate(time.Millisecond)
	create(t, a, "r1", now.Add(-2*time.Second))
	create(t, a, "r2", now.Add(-time.Second))
	if got := dueIDs(claimNow(t, a)); !slices.Equal(got, []string{"r1", "r2"}) {
		t.Fatalf("A claimed %v", got)
	}
	// A record no live node holds, before the cursor; and one A holds,
	// advanced past it by A's ack.
	create(t, b, "r0", now.Add(-3*time.Second))
	if err := a.Ack(ctx, tickler.AckParams{ID: "r2", Version: 1, Next: now.Add(10 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	cursor := tickler.Due{ID: "r2", At: now.Add(-time.Second), Version: 1}
	claim := func(s *postgres.Store, after tickler.Due) []string {
		t.Helper()
		n := time.Now()
		res, err := s.Claim(ctx, tickler.ClaimParams{After: after, Now: n, Until: n.Add(time.Minute), Limit: 100})
		if err != nil {
			t.Fatalf("Claim: %v", err)
		}
		return dueIDs(res)
	}
	if got := claim(a, cursor); !slices.Equal(got, []string{"r0", "r2"}) {
		t.Fatalf("A's claim after %v = %v, want [r0 r2]: the free record before the cursor, and its own past it", cursor, got)
	}
	if got := claim(b, tickler.Due{}); len(got) != 0 {
		t.Fatalf("B claimed %v, which live A holds", got)
	}
	// A zero cursor returns all that A holds.
	if got := claim(a, tickler.Due{}); !slices.Equal(got, []string{"r0", "r1", "r2"}) {
		t.Fatalf("A's claim without a cursor = %v, want [r0 r1 r2]", got)
	}
}

// TestAckManyIsFencedByOwner checks the array statements of plain acks:
// each ack is fenced by owner and version as a single Ack is.
func TestAckManyIsFencedByOwner(t *testing.T) {
	t.Parallel()
	a, b := twoNodes(t)
	for _, id := range []string{"r1", "r2", "r3", "r4"} {
		create(t, a, id, time.Now().Add(-time.Second))
	}
	if got := dueIDs(claimNow(t, a)); len(got) != 4 {
		t.Fatalf("A claimed %v", got)
	}
	next := time.Now().Add(time.Hour)
	acks := []tickler.AckParams{
		{ID: "r1", Version: 1},
		{ID: "r2", Version: 1, Next: next},
		{ID: "r3", Version: 2},
		{ID: "gone", Version: 1, Next: next},
	}
	for i, err := range b.AckMany(ctx, acks) {
		if want := map[bool]error{true: tickler.ErrNotFound, false: tickler.ErrConflict}[i == 3]; !errors.Is(err, want) {
			t.Fatalf("B's ack %+v of what A holds = %v, want %v", acks[i], err, want)
		}
	}
	errs := a.AckMany(ctx, acks)
	for i, want := range []error{nil, nil, tickler.ErrConflict, tickler.ErrNotFound} {
		if !errors.Is(errs[i], want) || (want == nil && errs[i] != nil) {
			t.Fatalf("A's ack %+v = %v, want %v", acks[i], errs[i], want)
		}
	}
	if _, err := a.Get(ctx, "", "r1"); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("r1 after its removing ack: %v", err)
	}
	if r, err := a.Get(ctx, "", "r2"); err != nil || r.Version != 2 || !r.Next.Equal(next.Truncate(time.Microsecond)) {
		t.Fatalf("r2 after its advancing ack: %+v, %v", r, err)
	}
	if r, err := a.Get(ctx, "", "r3"); err != nil || r.Version != 1 {
		t.Fatalf("r3 after a stale ack: %+v, %v", r, err)
	}
}

// TestConcurrentConfirmsEachGetTheirOwnAnswer checks the confirms that
// share a statement: each caller gets the answer for its own id (its
// record, ErrConflict for another node's, ErrNotFound for a deleted one),
// two callers of one id included.
func TestConcurrentConfirmsEachGetTheirOwnAnswer(t *testing.T) {
	t.Parallel()
	a, b := twoNodes(t)
	const n = 60
	for i := range n {
		create(t, a, fmt.Sprintf("a%02d", i), time.Now().Add(-time.Second))
	}
	claimNow(t, a)
	for i := range n {
		create(t, b, fmt.Sprintf("b%02d", i), time.Now().Add(-time.Second))
	}
	claimNow(t, b)
	for i := 0; i < n; i += 3 {
		if err := b.Delete(ctx, "", fmt.Sprintf("a%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i := range n {
		for _, id := range []string{fmt.Sprintf("a%02d", i), fmt.Sprintf("a%02d", i), fmt.Sprintf("b%02d", i)} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := a.Confirm(ctx, id)
				switch {
				case id[0] == 'b':
					if !errors.Is(err, tickler.ErrConflict) {
						t.Errorf("Confirm(%s) of B's record = %v, want ErrConflict", id, err)
					}
				case i%3 == 0:
					if !errors.Is(err, tickler.ErrNotFound) {
						t.Errorf("Confirm(%s) of a deleted record = %v, want ErrNotFound", id, err)
					}
				case err != nil || r.ID != id:
					t.Errorf("Confirm(%s) = %+v, %v", id, r, err)
				default:
					r.Message.Messages = nil // a caller's copy is its own
				}
			}()
		}
	}
	wg.Wait()
}

// TestHeartbeatDoesNotWaitForABusyPool checks that a node whose pool is
// busy keeps its lease: the heartbeat renews on a connection of its own.
// The node's only pool connection is held for longer than a lease, as
// workers would hold them all under load; its lease must still be live.
func TestHeartbeatDoesNotWaitForABusyPool(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	cfg := pool.Config().Copy()
	cfg.MaxConns = 1
	busy, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	s, err := postgres.New(ctx, busy, postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := busy.Acquire(ctx) // the pool's only connection
	if err != nil {
		t.Fatal(err)
	}
	var until time.Time
	if err := pool.QueryRow(ctx, `SELECT lease_until FROM `+pgx.Identifier{schema}.Sanitize()+`.nodes WHERE id = $1::uuid`,
		postgres.Node(s)).Scan(&until); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the database's clock to pass the lease held when the pool went busy", func() bool {
		var past bool
		return pool.QueryRow(ctx, `SELECT now() > $1::timestamptz + interval '500 ms'`, until).Scan(&past) == nil && past
	})
	var live bool
	if err := pool.QueryRow(ctx, `SELECT coalesce(bool_or(lease_until > now()), false) FROM `+pgx.Identifier{schema}.Sanitize()+`.nodes WHERE id = $1::uuid`,
		postgres.Node(s)).Scan(&live); err != nil {
		t.Fatal(err)
	}
	conn.Release()
	if !live {
		t.Fatal("the node's lease lapsed while its pool was busy: the heartbeat waited for a pool connection")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
