// Command pgbench measures the PostgreSQL store with several node
// processes (this binary, re-executed with -node) on one schema: firings
// per second, lateness at a steady rate, the takeover after a SIGKILL, the
// idle cost in queries per node, and durable creates with 64 callers. It
// prints markdown rows for BENCHMARKS.md.
//
//	go run ./postgres/cmd/pgbench [-url postgres://...] [-nodes 3] [-n 300000]
//
// It drops and recreates its schema (-schema, default tickler_bench).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/postgres"
)

var (
	schemaF  = flag.String("schema", "tickler_bench", "the schema the run drops and recreates (one per concurrent run)")
	url      = flag.String("url", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "the database")
	nodes    = flag.Int("nodes", 3, "node processes")
	fireN    = flag.Int("n", 300000, "one-time schedules of the throughput run, all due at one instant")
	rate     = flag.Int("rate", 5000, "firings per second of the lateness run")
	rateFor  = flag.Duration("rate-for", 10*time.Second, "how long the lateness run lasts")
	killN    = flag.Int("kill-n", 3000, "records of the kill run, due over 3 s (3000: 1,000/s)")
	idleFor  = flag.Duration("idle-for", 20*time.Second, "how long the idle run lasts")
	poolSize = flag.Int("pool", 16, "connections per node")
	workers  = flag.Int("concurrency", 64, "deliveries at once per node (tickler.WithConcurrency)")
	only     = flag.String("only", "", "run only this measurement (creates, throughput, lateness, kill, idle)")
	nodeRole = flag.Int("node", -1, "internal: run as node i")
)

var ctx = context.Background()

// schema is the run's schema (-schema).
var schema string

func main() {
	flag.Parse()
	schema = *schemaF
	if *nodeRole >= 0 {
		if err := runNode(); err != nil {
			log.Fatal(err)
		}
		return
	}
	if err := runParent(); err != nil {
		log.Fatal(err)
	}
}

// queryCount counts the statements a node sends, through pgx's tracer.
type queryCount struct{ n atomic.Int64 }

func (q *queryCount) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	q.n.Add(1)
	return ctx
}
func (q *queryCount) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (q *queryCount) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}
func (q *queryCount) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) { q.n.Add(1) }
func (q *queryCount) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// report is what a node prints when its stdin closes.
type report struct {
	Deliveries int     `json:"deliveries"`
	Lateness   []int64 `json:"lateness_us"` // start − occurrence of each delivery
	First      int64   `json:"first_ns"`
	Last       int64   `json:"last_ns"`
	Queries    int64   `json:"queries"`
	// Calls and their total time, per store method the engine uses.
	Calls map[string][2]int64 `json:"calls"`
}

// timed is the node's store, timing the calls a firing makes.
type timed struct {
	*postgres.Store
	claims, confirms, acks, ackManys op
	acked, maxSkew                   atomic.Int64
}

type op struct{ n, ns, max atomic.Int64 }

func (o *op) add(t time.Time) {
	d := int64(time.Since(t))
	o.n.Add(1)
	o.ns.Add(d)
	for m := o.max.Load(); d > m && !o.max.CompareAndSwap(m, d); m = o.max.Load() {
	}
}

func (s *timed) Claim(ctx context.Context, p tickler.ClaimParams) (tickler.ClaimResult, error) {
	t0 := time.Now()
	defer s.claims.add(t0)
	res, err := s.Store.Claim(ctx, p)
	// The skew the dispatcher fires with: the claim's, plus its duration.
	if sk := int64(res.Skew + time.Since(t0)); err == nil && sk > s.maxSkew.Load() {
		s.maxSkew.Store(sk)
	}
	return res, err
}

func (s *timed) Confirm(ctx context.Context, id string) (*tickler.Record, error) {
	defer s.confirms.add(time.Now())
	return s.Store.Confirm(ctx, id)
}

func (s *timed) Ack(ctx context.Context, p tickler.AckParams) error {
	defer s.acks.add(time.Now())
	return s.Store.Ack(ctx, p)
}

// AckMany is timed per call; acked counts the acks of the calls.
func (s *timed) AckMany(ctx context.Context, acks []tickler.AckParams) []error {
	defer s.ackManys.add(time.Now())
	s.acked.Add(int64(len(acks)))
	return s.Store.AckMany(ctx, acks)
}

func (s *timed) calls() map[string][2]int64 {
	m := map[string][2]int64{"acked": {s.acked.Load(), 0}, "skew": {s.maxSkew.Load(), 0}}
	for name, o := range map[string]*op{"claim": &s.claims, "confirm": &s.confirms, "ack": &s.acks, "ackmany": &s.ackManys} {
		m[name] = [2]int64{o.n.Load(), o.ns.Load()}
		m[name+".max"] = [2]int64{o.max.Load(), 0}
	}
	return m
}

// runNode is one node: a scheduler over the store with defaults but the
// pool and the concurrency, recording when each delivery began. It prints
// READY once started, then its report once its stdin closes.
func runNode() error {
	cfg, err := pgxpool.ParseConfig(*url)
	if err != nil {
		return err
	}
	var qc queryCount
	cfg.ConnConfig.Tracer = &qc
	cfg.MaxConns = int32(*poolSize)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	pst, err := postgres.New(ctx, pool, postgres.WithSchema(schema))
	if err != nil {
		return err
	}
	st := &timed{Store: pst}
	var mu sync.Mutex
	var rep report
	s, err := tickler.New(st, tickler.DelivererFunc(func(_ context.Context, d *tickler.Delivery) (tickler.Result, error) {
		now := time.Now()
		mu.Lock()
		rep.Lateness = append(rep.Lateness, now.Sub(d.Occurrence).Microseconds())
		if rep.First == 0 {
			rep.First = now.UnixNano()
		}
		rep.Last = now.UnixNano()
		mu.Unlock()
		return tickler.Result{}, nil
	}), tickler.WithConcurrency(*workers), tickler.WithHistoryLimit(0))
	if err != nil {
		return err
	}
	if err := s.Start(ctx); err != nil {
		return err
	}
	fmt.Println("READY")
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = s.Stop(ctx)
	_ = st.Close()
	mu.Lock()
	defer mu.Unlock()
	rep.Deliveries = len(rep.Lateness)
	rep.Queries = qc.n.Load()
	rep.Calls = st.calls()
	return json.NewEncoder(os.Stdout).Encode(rep)
}

// node is a running node process.
type node struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   chan report
}

func startNodes(n int) ([]*node, error) {
	var ns []*node
	for i := range n {
		cmd := exec.Command(os.Args[0], append([]string{"-node", strconv.Itoa(i)}, passFlags()...)...)
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		nd := &node{cmd: cmd, stdin: stdin, out: make(chan report, 1)}
		ready := make(chan struct{})
		go func() {
			sc := bufio.NewScanner(stdout)
			sc.Buffer(make([]byte, 1<<20), 1<<30)
			for sc.Scan() {
				if sc.Text() == "READY" {
					close(ready)
					continue
				}
				var r report
				if json.Unmarshal(sc.Bytes(), &r) == nil {
					nd.out <- r
				}
			}
			_ = cmd.Wait()
			close(nd.out)
		}()
		select {
		case <-ready:
		case <-time.After(30 * time.Second):
			return nil, fmt.Errorf("node %d did not start", i)
		}
		ns = append(ns, nd)
	}
	return ns, nil
}

func passFlags() []string {
	return []string{"-url", *url, "-schema", schema, "-pool", strconv.Itoa(*poolSize), "-concurrency", strconv.Itoa(*workers)}
}

// stopNodes closes the nodes' stdins and gathers their reports (a killed
// node has none).
func stopNodes(ns []*node) []report {
	var out []report
	for _, n := range ns {
		_ = n.stdin.Close()
	}
	for _, n := range ns {
		if r, ok := <-n.out; ok {
			out = append(out, r)
		}
	}
	return out
}

func runParent() error {
	cfg, err := pgxpool.ParseConfig(*url)
	if err != nil {
		return err
	}
	cfg.MaxConns = 70
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	reset := func() error {
		if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			return err
		}
		_, err := postgres.Migrate(ctx, pool, postgres.WithSchema(schema))
		return err
	}
	if err := reset(); err != nil {
		return err
	}
	var one string
	if err := pool.QueryRow(ctx, "SELECT version()").Scan(&one); err != nil {
		return err
	}
	fmt.Printf("server: %s\n\n", one)

	for _, run := range []struct {
		name string
		f    func(*pgxpool.Pool) error
	}{
		{"creates", benchCreates},
		{"throughput", benchThroughput},
		{"lateness", benchLateness},
		{"kill", benchKill},
		{"idle", benchIdle},
	} {
		if *only != "" && *only != run.name {
			continue
		}
		if err := reset(); err != nil {
			return err
		}
		if err := run.f(pool); err != nil {
			return fmt.Errorf("%s: %w", run.name, err)
		}
		pool.Reset() // the server's connections go to the next run's nodes
	}
	return nil
}

// benchCreates: 64 callers Create one-time schedules a day ahead through
// a scheduler (never started) for 10 s; each Create returns after its
// commit.
func benchCreates(pool *pgxpool.Pool) error {
	st, err := postgres.New(ctx, pool, postgres.WithSchema(schema))
	if err != nil {
		return err
	}
	defer st.Close()
	s, err := tickler.New(st, tickler.DelivererFunc(func(context.Context, *tickler.Delivery) (tickler.Result, error) {
		return tickler.Result{}, nil
	}))
	if err != nil {
		return err
	}
	const callers, d = 64, 10 * time.Second
	var n atomic.Int64
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				_, err := s.Create(ctx, "agent", tickler.CreateRequest{
					Messages: []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text("hi")}},
					Schedule: tickler.At(time.Now().Add(24 * time.Hour)),
				})
				if err != nil {
					log.Print(err)
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	fmt.Printf("| durable creates, %d callers | %.0f/s (%d in %v) |\n", callers, float64(n.Load())/d.Seconds(), n.Load(), d)
	return nil
}

// insert stores n one-time records, the i-th due at start + i*step, in
// one statement (the record document of a Create, with its instant
// replaced), and returns the instant of the last.
func insert(pool *pgxpool.Pool, n int, start time.Time, step time.Duration) (time.Time, error) {
	start = start.Truncate(time.Millisecond)
	q := `INSERT INTO ` + schema + `.schedules (id, agent_id, format, record, next_at, version)
		SELECT 'r' || lpad(i::text, 9, '0'), 'agent-' || (i % 100), 1,
			json_build_object('message', json_build_object('messages', json_build_array(json_build_object('role', 'user', 'content', 'hi'))),
				'schedule', json_build_object('scheduled_at_ms', ms, 'type', 'one-time')),
			to_timestamp(ms / 1000.0), 1
		FROM (SELECT i, $2::bigint + (i * $3::bigint) / 1000000 AS ms FROM generate_series(0, $1::bigint - 1) i) g`
	if _, err := pool.Exec(ctx, q, n, start.UnixMilli(), step.Nanoseconds()); err != nil {
		return time.Time{}, err
	}
	return start.Add(time.Duration(n-1) * step), nil
}

// drain waits until no record is left, up to limit, and returns when.
func drain(pool *pgxpool.Pool, limit time.Duration) (time.Time, error) {
	deadline := time.Now().Add(limit)
	for {
		var left int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+schema+".schedules").Scan(&left); err != nil {
			return time.Time{}, err
		}
		if left == 0 {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("%d records left after %v", left, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// benchThroughput: n records all due at one instant 8 s ahead, 3 nodes.
func benchThroughput(pool *pgxpool.Pool) error {
	ns, err := startNodes(*nodes)
	if err != nil {
		return err
	}
	due := time.Now().Add(8 * time.Second)
	if _, err := insert(pool, *fireN, due, 0); err != nil {
		return err
	}
	if _, err := drain(pool, 5*time.Minute); err != nil {
		return err
	}
	reps := stopNodes(ns)
	for _, r := range reps {
		fmt.Fprintf(os.Stderr, "node: %s\n", callStats(r))
	}
	first, last, total := int64(0), int64(0), 0
	per := []int{}
	for _, r := range reps {
		total += r.Deliveries
		per = append(per, r.Deliveries)
		if r.Deliveries == 0 {
			continue
		}
		if first == 0 || r.First < first {
			first = r.First
		}
		last = max(last, r.Last)
	}
	span := time.Duration(last - first)
	fmt.Printf("| firings/s, %d nodes, %d due at one instant | %.0f/s (%d deliveries in %v, per node %v) |\n",
		*nodes, *fireN, float64(total)/span.Seconds(), total, span.Round(time.Millisecond), per)
	return nil
}

// benchLateness: rate firings/s, due evenly over rateFor, 3 nodes.
func benchLateness(pool *pgxpool.Pool) error {
	ns, err := startNodes(*nodes)
	if err != nil {
		return err
	}
	n := int(float64(*rate) * rateFor.Seconds())
	if _, err := insert(pool, n, time.Now().Add(8*time.Second), time.Second/time.Duration(*rate)); err != nil {
		return err
	}
	if _, err := drain(pool, 5*time.Minute); err != nil {
		return err
	}
	var lat []int64
	for _, r := range stopNodes(ns) {
		fmt.Fprintf(os.Stderr, "node: %s\n", callStats(r))
		// The worst lateness of each tenth of the node's deliveries, in
		// the order they began: a slow start, or stalls at each claim?
		var worst []string
		for i := 0; i < 10 && len(r.Lateness) >= 10; i++ {
			part := r.Lateness[i*len(r.Lateness)/10 : (i+1)*len(r.Lateness)/10]
			worst = append(worst, (time.Duration(slices.Max(part)) * time.Microsecond).Round(time.Millisecond).String())
		}
		fmt.Fprintf(os.Stderr, "      worst by tenth: %v\n", worst)
		lat = append(lat, r.Lateness...)
	}
	slices.Sort(lat)
	pct := func(q float64) time.Duration {
		return time.Duration(lat[min(len(lat)-1, int(q*float64(len(lat))))]) * time.Microsecond
	}
	fmt.Printf("| lateness at %d/s for %v, %d nodes | p50 %v, p99 %v, max %v (%d deliveries of %d) |\n",
		*rate, *rateFor, *nodes, pct(0.5), pct(0.99), pct(1), len(lat), n)
	return nil
}

// benchKill: -kill-n records (3,000) due over 3 s from 6 s ahead; half a
// second before the first is due, the node holding most of them is
// SIGKILLed. The default lease (3 s) and heartbeat (1 s).
func benchKill(pool *pgxpool.Pool) error {
	ns, err := startNodes(*nodes)
	if err != nil {
		return err
	}
	n := *killN
	due := time.Now().Add(6 * time.Second)
	last, err := insert(pool, n, due, 3*time.Second/time.Duration(n))
	if err != nil {
		return err
	}
	time.Sleep(time.Until(due.Add(-500 * time.Millisecond)))
	var owner string
	var held int
	if err := pool.QueryRow(ctx, `SELECT owner::text, count(*) FROM `+schema+`.schedules WHERE owner IS NOT NULL
		GROUP BY owner ORDER BY count(*) DESC LIMIT 1`).Scan(&owner, &held); err != nil {
		return err
	}
	// Nodes register in start order: the owner's row tells which process.
	var idx int
	if err := pool.QueryRow(ctx, `SELECT i - 1 FROM (SELECT id, row_number() OVER (ORDER BY started_at, id) i
		FROM `+schema+`.nodes) n WHERE id = $1::uuid`, owner).Scan(&idx); err != nil {
		return err
	}
	killed := time.Now()
	_ = ns[idx].cmd.Process.Kill()
	// What it held when it died; a record is gone once delivered (acked).
	if _, err := pool.Exec(ctx, `CREATE TABLE `+schema+`.killed AS SELECT id FROM `+schema+`.schedules WHERE owner = $1::uuid`, owner); err != nil {
		return err
	}
	deadline := killed.Add(60 * time.Second)
	for {
		var left int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+schema+`.schedules JOIN `+schema+`.killed USING (id)`).Scan(&left); err != nil {
			return err
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of the killed node's records left after 60 s", left)
		}
		time.Sleep(10 * time.Millisecond)
	}
	done := time.Now()
	if _, err := drain(pool, time.Minute); err != nil {
		return err
	}
	stopNodes(slices.Delete(ns, idx, idx+1))
	fmt.Printf("| takeover after SIGKILL, default lease 3 s | the killed node's %d records (due %v-%v after the kill) all delivered %v after the kill, %v after the last was due |\n",
		held, due.Sub(killed).Round(time.Millisecond), last.Sub(killed).Round(time.Millisecond),
		done.Sub(killed).Round(time.Millisecond), done.Sub(last).Round(time.Millisecond))
	return nil
}

// benchIdle: 3 nodes, nothing due, idleFor: statements per node per
// second (pgx's tracer in each node), and transactions committed in the
// database per second (pg_stat_database, every client of the database).
func benchIdle(pool *pgxpool.Pool) error {
	ns, err := startNodes(*nodes)
	if err != nil {
		return err
	}
	time.Sleep(2 * time.Second) // past the first claims
	xact := func() (int64, error) {
		var n int64
		_, _ = pool.Exec(ctx, "SELECT pg_stat_clear_snapshot()")
		err := pool.QueryRow(ctx, "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()").Scan(&n)
		return n, err
	}
	x0, err := xact()
	if err != nil {
		return err
	}
	t0 := time.Now()
	time.Sleep(*idleFor)
	x1, err := xact()
	if err != nil {
		return err
	}
	el := time.Since(t0)
	reps := stopNodes(ns)
	var qs []string
	for _, r := range reps {
		// The node counted from its start: 2 s more than the window.
		qs = append(qs, fmt.Sprintf("%.1f", float64(r.Queries)/(el+2*time.Second).Seconds()))
	}
	fmt.Printf("| idle cost, %d nodes, nothing due, %v | statements/s per node %v; the database's commits/s %.1f (%.1f per node) |\n",
		*nodes, *idleFor, qs, float64(x1-x0)/el.Seconds(), float64(x1-x0)/el.Seconds()/float64(*nodes))
	return nil
}

// callStats says how many calls of each store method a node made, and
// their mean time.
func callStats(r report) string {
	out := ""
	for _, name := range []string{"claim", "confirm", "ack", "ackmany"} {
		c := r.Calls[name]
		if c[0] > 0 {
			out += fmt.Sprintf("%s %d × %v (max %v)  ", name, c[0], time.Duration(c[1]/c[0]).Round(time.Microsecond),
				time.Duration(r.Calls[name+".max"][0]).Round(time.Millisecond))
		}
	}
	out += fmt.Sprintf("max skew %v  ", time.Duration(r.Calls["skew"][0]).Round(time.Microsecond))
	if n := r.Calls["acked"][0]; n > 0 {
		out += fmt.Sprintf("(%d acks in AckMany)", n)
	}
	return out
}
