package postgres_test

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/postgres"
)

// TestMultiProcess runs several nodes as real processes (this test binary,
// re-executed as TestMultiProcessChild) over one schema, on the real clock,
// while the parent creates and deletes one-time schedules due 1-5 s ahead
// (and a few recurring every minute) through a scheduler of its own that
// never starts, and deals the nodes faults at random moments: SIGKILL and
// a restart, SIGSTOP for longer than the lease and SIGCONT, and, with
// -pg.restart, a restart of PostgreSQL. Node 0's clock runs 30 s ahead and
// node 1's 30 s behind, through an injected tickler.Clock.
//
// The parent records, on the machine's clock, every acknowledged Create
// and Delete; the nodes write every delivery to their ledgers (see
// ledger). Once the load ends and everything due has fired, the test
// checks the ledgers against the acknowledgements: see mpCheck.
//
// The default is a short run for CI (about 20 s); -pg.duration=5m runs
// long.

var (
	mpDuration = flag.Duration("pg.duration", 10*time.Second, "how long TestMultiProcess loads its nodes and deals faults (the test takes about 10 s more)")
	mpProcs    = flag.Int("pg.procs", 3, "how many node processes TestMultiProcess runs")
	mpSeed     = flag.Uint64("pg.seed", 0, "seed of TestMultiProcess's randomness (0: from the clock)")
	mpRestart  = flag.Bool("pg.restart", false, "let TestMultiProcess restart PostgreSQL (pg_ctlcluster 15 main restart); every other user of the server sees it")
)

// mpEarly is how much earlier than its occurrence a delivery may begin, on
// the real clock: what measuring a node's skew over a round trip may cost.
const mpEarly = 50 * time.Millisecond

// mpFault is a fault dealt to a node (node -1: to the database), from
// when it was dealt to when the node (or the database) was back.
type mpFault struct {
	kind     string // "kill", "stop", "pg-restart"
	node     int
	from, to int64 // Unix ns
}

// mpNode is one node's current process.
type mpNode struct {
	index  int
	skew   time.Duration
	inc    int
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	exited chan struct{}
}

// mpCreate is an acknowledged Create.
type mpCreate struct {
	at    int64 // one-time instant in Unix ms; 0 for a recurring schedule
	acked int64 // Unix ns when Create returned
}

// mpRun is one run of the test: the parent's side.
type mpRun struct {
	t      *testing.T
	dir    string
	schema string
	nodes  []*mpNode

	mu          sync.Mutex
	rng         *rand.Rand
	creates     map[string]mpCreate
	deleteTried map[string]bool
	deleted     map[string]int64 // id -> Unix ns when Delete returned
	pending     []string         // one-time ids not yet chosen for a delete
	maxDue      time.Time        // the latest one-time instant ever tried
	failedOps   []string         // Creates and Deletes that returned an error
	faults      []mpFault
}

func TestMultiProcess(t *testing.T) {
	if os.Getenv(mpEnvRole) != "" {
		t.Skip("this is TestMultiProcess's child")
	}
	t.Parallel()
	seed := *mpSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -pg.seed=%d)", seed, seed)
	r := &mpRun{t: t, dir: t.TempDir(), schema: newSchema(t), rng: rand.New(rand.NewPCG(seed, 1)),
		creates: map[string]mpCreate{}, deleteTried: map[string]bool{}, deleted: map[string]int64{}}
	restart := *mpRestart && r.canRestartPostgres()

	for i := range *mpProcs {
		n := &mpNode{index: i}
		switch i {
		case 0:
			n.skew = 30 * time.Second
		case 1:
			n.skew = -30 * time.Second
		}
		r.nodes = append(r.nodes, n)
		r.start(n)
	}
	defer func() { // a failed test leaves no child behind
		for _, n := range r.nodes {
			_ = n.cmd.Process.Signal(syscall.SIGCONT)
			_ = n.cmd.Process.Kill()
		}
	}()

	// The driver: a scheduler that never starts, on a Store of its own.
	st := newStore(t, r.schema, postgres.WithLease(mpLease), postgres.WithHeartbeat(mpHeartbeat))
	driver, err := tickler.New(st, tickler.DelivererFunc(func(context.Context, *tickler.Delivery) (tickler.Result, error) {
		return tickler.Result{}, errors.New("the driver never delivers")
	}))
	if err != nil {
		t.Fatal(err)
	}
	loadCtx, endLoad := context.WithCancel(ctx)
	var load sync.WaitGroup
	for range 2 {
		r.create(driver, tickler.Cron("* * * * *"))
	}
	for range 4 {
		load.Add(1)
		go func() {
			defer load.Done()
			r.drive(loadCtx, driver)
		}()
	}

	// Faults, one at a time, every 1.5-3 s, until the load ends.
	loadEnd := time.Now().Add(*mpDuration)
	for {
		time.Sleep(time.Duration(1500+r.intN(1500)) * time.Millisecond)
		if time.Now().After(loadEnd) {
			break
		}
		n := r.nodes[r.intN(len(r.nodes))]
		switch k := r.intN(10); {
		case k < 4:
			r.kill(n)
		case k < 8 || !restart:
			r.stop(n, time.Duration(2000+r.intN(1000))*time.Millisecond)
		default:
			r.restartPostgres()
		}
	}
	endLoad()
	load.Wait()
	loadEndNs := time.Now().UnixNano()

	// Everything due fires: wait past the last instant tried, then until
	// no record is due.
	r.mu.Lock()
	time.Sleep(time.Until(r.maxDue.Add(500 * time.Millisecond)))
	r.mu.Unlock()
	r.waitDrained()
	for _, n := range r.nodes {
		_ = n.stdin.Close() // the node stops cleanly
	}
	for _, n := range r.nodes {
		select {
		case <-n.exited:
		case <-time.After(20 * time.Second):
			t.Errorf("node %d did not stop within 20 s of its stdin closing", n.index)
		}
	}
	if t.Failed() {
		return
	}
	r.check(loadEndNs)
}

// canRestartPostgres reports whether this user may restart the cluster,
// and says why not if it may not.
func (r *mpRun) canRestartPostgres() bool {
	if _, err := exec.LookPath("pg_ctlcluster"); err != nil {
		r.t.Log("-pg.restart: skipping PostgreSQL restarts: pg_ctlcluster is not installed")
		return false
	}
	if os.Geteuid() != 0 {
		r.t.Log("-pg.restart: skipping PostgreSQL restarts: only root (or the postgres user through sudo) may run pg_ctlcluster restart")
		return false
	}
	return true
}

func (r *mpRun) intN(n int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rng.IntN(n)
}

func (r *mpRun) fault(f mpFault) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults = append(r.faults, f)
}

// start runs a new incarnation of n and waits until its scheduler started.
func (r *mpRun) start(n *mpNode) {
	t := r.t
	n.inc++
	cmd := exec.Command(os.Args[0], "-test.run=^TestMultiProcessChild$", "-test.count=1", "-test.timeout=60m")
	cmd.Env = append(os.Environ(),
		mpEnvRole+"=child",
		mpEnvSchema+"="+r.schema,
		mpEnvNode+"="+strconv.Itoa(n.index),
		mpEnvInc+"="+strconv.Itoa(n.inc),
		mpEnvLedger+"="+filepath.Join(r.dir, fmt.Sprintf("node-%d-%d.ledger", n.index, n.inc)),
		mpEnvSkew+"="+strconv.FormatInt(n.skew.Milliseconds(), 10),
	)
	stderr, err := os.Create(filepath.Join(r.dir, fmt.Sprintf("node-%d-%d.stderr", n.index, n.inc)))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	cmd.Stderr = stderr
	if n.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n.cmd, n.exited = cmd, make(chan struct{})
	ready := make(chan struct{})
	exited := n.exited
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if len(sc.Text()) >= 5 && sc.Text()[:5] == "READY" {
				close(ready)
			}
		}
		_ = cmd.Wait()
		close(exited)
	}()
	select {
	case <-ready:
	case <-exited:
		t.Fatalf("node %d (incarnation %d) exited before it started: %s", n.index, n.inc, r.stderrOf(n.index, n.inc))
	case <-time.After(30 * time.Second):
		t.Fatalf("node %d (incarnation %d) did not start within 30 s", n.index, n.inc)
	}
}

func (r *mpRun) stderrOf(node, inc int) string {
	b, _ := os.ReadFile(filepath.Join(r.dir, fmt.Sprintf("node-%d-%d.stderr", node, inc)))
	return string(b)
}

// kill SIGKILLs n and starts it again, after up to half a second.
func (r *mpRun) kill(n *mpNode) {
	from := time.Now().UnixNano()
	_ = n.cmd.Process.Kill()
	<-n.exited
	time.Sleep(time.Duration(r.intN(500)) * time.Millisecond)
	r.start(n)
	r.fault(mpFault{kind: "kill", node: n.index, from: from, to: time.Now().UnixNano()})
}

// stop SIGSTOPs n for d, longer than its lease, then SIGCONTs it.
func (r *mpRun) stop(n *mpNode, d time.Duration) {
	from := time.Now().UnixNano()
	_ = n.cmd.Process.Signal(syscall.SIGSTOP)
	time.Sleep(d)
	_ = n.cmd.Process.Signal(syscall.SIGCONT)
	r.fault(mpFault{kind: "stop", node: n.index, from: from, to: time.Now().UnixNano()})
}

// restartPostgres restarts the cluster and waits until it answers.
func (r *mpRun) restartPostgres() {
	from := time.Now().UnixNano()
	if out, err := exec.Command("pg_ctlcluster", "15", "main", "restart").CombinedOutput(); err != nil {
		r.t.Errorf("pg_ctlcluster 15 main restart: %v\n%s", err, out)
		return
	}
	deadline := time.Now().Add(30 * time.Second)
	for pool.Ping(ctx) != nil {
		if time.Now().After(deadline) {
			r.t.Errorf("PostgreSQL did not answer within 30 s of its restart")
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.fault(mpFault{kind: "pg-restart", node: -1, from: from, to: time.Now().UnixNano()})
}

// drive creates and deletes schedules until ctx ends: three operations in
// four create a one-time schedule due 1-5 s ahead, one deletes a one-time
// schedule created before (due or not).
func (r *mpRun) drive(load context.Context, s *tickler.Scheduler) {
	for load.Err() == nil {
		time.Sleep(time.Duration(5+r.intN(20)) * time.Millisecond)
		r.mu.Lock()
		if r.rng.IntN(4) == 0 && len(r.pending) > 0 {
			i := r.rng.IntN(len(r.pending))
			id := r.pending[i]
			r.pending[i] = r.pending[len(r.pending)-1]
			r.pending = r.pending[:len(r.pending)-1]
			r.deleteTried[id] = true
			r.mu.Unlock()
			err := s.Delete(ctx, "agent", id)
			acked := time.Now().UnixNano()
			r.mu.Lock()
			switch {
			case err == nil:
				r.deleted[id] = acked
			case !errors.Is(err, tickler.ErrNotFound):
				r.failedOps = append(r.failedOps, err.Error())
			}
			r.mu.Unlock()
			continue
		}
		at := time.Now().Add(time.Second + time.Duration(r.rng.IntN(4000))*time.Millisecond)
		if at.After(r.maxDue) {
			r.maxDue = at
		}
		r.mu.Unlock()
		r.create(s, tickler.At(at))
	}
}

// create makes one schedule and records it once Create returned.
func (r *mpRun) create(s *tickler.Scheduler, sched tickler.Schedule) {
	sm, err := s.Create(ctx, "agent", tickler.CreateRequest{
		Messages: []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text("hi")}},
		Schedule: sched,
	})
	acked := time.Now().UnixNano()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.failedOps = append(r.failedOps, err.Error())
		return
	}
	c := mpCreate{acked: acked}
	if sched.ScheduledAt != nil {
		c.at = *sched.ScheduledAt
		r.pending = append(r.pending, sm.ID)
	}
	r.creates[sm.ID] = c
}

// waitDrained waits, up to 60 s, until no stored record is due.
func (r *mpRun) waitDrained() {
	q := "SELECT count(*) FROM " + pgx.Identifier{r.schema}.Sanitize() + ".schedules WHERE next_at <= now()"
	start := time.Now()
	for {
		var due int
		err := pool.QueryRow(ctx, q).Scan(&due)
		if err == nil && due == 0 {
			r.t.Logf("drained %v after the last instant", time.Since(start))
			return
		}
		if time.Since(start) > 60*time.Second {
			r.t.Errorf("%d records still due 60 s after the last instant (err %v)", due, err)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
