package postgres_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/postgres"
)

// The child of TestMultiProcess: one node, a scheduler over postgres.New on
// the parent's schema, whose Deliverer appends each delivery to a ledger of
// its own. It runs until its stdin closes (then it stops cleanly) or until
// the parent kills it.

const (
	mpEnvRole   = "TICKLER_PG_MP"        // "child": run as a node
	mpEnvSchema = "TICKLER_PG_MP_SCHEMA" // the shared schema
	mpEnvNode   = "TICKLER_PG_MP_NODE"   // the node's index
	mpEnvInc    = "TICKLER_PG_MP_INC"    // its incarnation (1 + restarts)
	mpEnvLedger = "TICKLER_PG_MP_LEDGER" // the ledger file
	mpEnvSkew   = "TICKLER_PG_MP_SKEW"   // the node's clock offset, in ms
)

// The nodes' lease and heartbeat: a SIGSTOP of 2-3 s outlasts the lease.
const (
	mpLease     = time.Second
	mpHeartbeat = 200 * time.Millisecond
)

// skewedClock is the real clock read off by a fixed offset, as a host whose
// wall clock is wrong would read it. Timers and timeouts are durations, the
// same on any clock.
type skewedClock struct {
	tickler.SystemClock
	by time.Duration
}

func (c skewedClock) Now() time.Time { return time.Now().Add(c.by) }

// confirmClock is the node's store, noting on the real clock when the last
// Confirm that succeeded for each record began: a Confirm that begins after
// a Delete committed cannot see the record, so a ledger line whose Confirm
// began after the parent saw Delete return is a broken fence.
type confirmClock struct {
	*postgres.Store
	began sync.Map // id -> int64 Unix ns
}

func (c *confirmClock) Confirm(ctx context.Context, id string) (*tickler.Record, error) {
	t := time.Now().UnixNano()
	r, err := c.Store.Confirm(ctx, id)
	if err == nil {
		c.began.Store(id, t)
	}
	return r, err
}

// ledger is the recording Deliverer: it appends one line per delivery,
//
//	D node inc id key occurrence-ms confirm-began-ns started-ns
//
// and fsyncs it before returning, so that every occurrence acked as
// delivered is on disk. started is read, on the real clock, before the
// line is written: it is when the delivery began.
type ledger struct {
	node, inc int
	st        *confirmClock
	mu        sync.Mutex
	f         *os.File
}

func (l *ledger) Deliver(_ context.Context, d *tickler.Delivery) (tickler.Result, error) {
	started := time.Now().UnixNano()
	var confirmed int64
	if v, ok := l.st.began.Load(d.ScheduledMessageID); ok {
		confirmed = v.(int64)
	}
	line := fmt.Sprintf("D %d %d %s %s %d %d %d\n", l.node, l.inc, d.ScheduledMessageID, d.IdempotencyKey,
		d.Occurrence.UnixMilli(), confirmed, started)
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.f.WriteString(line); err != nil {
		return tickler.Result{}, err
	}
	return tickler.Result{}, l.f.Sync()
}

func TestMultiProcessChild(t *testing.T) {
	if os.Getenv(mpEnvRole) != "child" {
		t.Skip("run by TestMultiProcess")
	}
	if err := mpChild(); err != nil {
		t.Fatal(err)
	}
}

func mpChild() error {
	node, _ := strconv.Atoi(os.Getenv(mpEnvNode))
	inc, _ := strconv.Atoi(os.Getenv(mpEnvInc))
	skewMs, _ := strconv.Atoi(os.Getenv(mpEnvSkew))
	f, err := os.OpenFile(os.Getenv(mpEnvLedger), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()

	// A pool of its own, smaller than the test pool: four processes share
	// the server's connections.
	cfg := pool.Config().Copy()
	cfg.MaxConns = 12
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer p.Close()
	pst, err := postgres.New(ctx, p, postgres.WithSchema(os.Getenv(mpEnvSchema)),
		postgres.WithLease(mpLease), postgres.WithHeartbeat(mpHeartbeat))
	if err != nil {
		return err
	}
	st := &confirmClock{Store: pst}
	led := &ledger{node: node, inc: inc, st: st, f: f}
	// Warnings (a lease lost, a delivery retried) go to stderr, which the
	// parent keeps; slog stamps them on the real clock.
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := tickler.New(st, led, tickler.WithClock(skewedClock{by: time.Duration(skewMs) * time.Millisecond}),
		tickler.WithLogger(logger))
	if err != nil {
		return err
	}
	if err := s.Start(ctx); err != nil {
		return err
	}
	fmt.Printf("READY %d %d\n", node, inc)
	_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin)) // until the parent closes it
	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.Stop(stopCtx); err != nil {
		return err
	}
	return pst.Close()
}
