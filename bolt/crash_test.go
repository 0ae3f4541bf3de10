package bolt_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/bolt"
	"github.com/tickler-go/tickler/callback"
)

// The crash test runs a scheduler over a bolt file in a child process (this
// test binary, re-executed), kills it with SIGKILL at random moments,
// restarts it on the same file, and at the end checks what was promised
// against what the children acknowledged and delivered.
//
// The child speaks through two channels:
//   - stdout, one line per event, written after the event happened:
//     "C run id at-ms|cron created-ms" once a Create returned,
//     "x run id" before a Delete is called, "X run seq id wall-ms" once it
//     returned;
//   - the delivery log, a file appended and fsynced by the Deliverer before
//     it returns: "D run seq id key occurrence-ms wall-ms".
//
// Every schedule has a callback_url: an HTTP receiver in the parent, which
// counts the callbacks by idempotency key. The children write callbacks to
// the store's outbox with each ack and send them from it, so every
// occurrence whose ack was recorded gets its callback, whatever kill came
// between the ack and the send; the check also accepts one still in the
// outbox the last child left (sent at least once, eventually).
//
// seq is one counter per child, taken by the Deliverer on its first line
// and by the deleting goroutine right after Delete returned.

var (
	crashKills = flag.Int("crash.kills", 20, "SIGKILLs the crash test deals its child")
	crashSeed  = flag.Uint64("crash.seed", 0, "seed of the crash test's randomness (0: from the clock)")
)

const (
	crashEnvMode = "TICKLER_BOLT_CRASH" // "work" or "drain": run as the child
	crashEnvDir  = "TICKLER_BOLT_CRASH_DIR"
	crashEnvRun  = "TICKLER_BOLT_CRASH_RUN"
	crashEnvSeed = "TICKLER_BOLT_CRASH_SEED"
	crashEnvHook = "TICKLER_BOLT_CRASH_HOOK" // the callback_url
)

var crashAgents = []string{"agent-a", "agent-b", "agent-c"}

// crashLease is the children's lease on the callbacks they claim.
const crashLease = time.Second

func TestCrashRecovery(t *testing.T) {
	if os.Getenv(crashEnvMode) != "" {
		t.Skip("this is the crash test's child")
	}
	t.Parallel()
	seed := *crashSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -crash.seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	dir := t.TempDir()
	hook := newCrashReceiver(t)

	var out []string // the stdout lines of every child, in order
	for run := 1; run <= *crashKills; run++ {
		killAfter := time.Duration(1+rng.Int64N(1200)) * time.Millisecond
		out = append(out, runChild(t, dir, hook.URL, "work", run, rng.Uint64(), killAfter)...)
	}
	out = append(out, runChild(t, dir, hook.URL, "drain", *crashKills+1, rng.Uint64(), 0)...)

	st, err := bolt.Open(filepath.Join(dir, "tickler.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log, err := os.ReadFile(filepath.Join(dir, "deliveries.log"))
	if err != nil {
		t.Fatal(err)
	}
	checkCrashRun(t, st, out, string(log), hook.keys())
}

// crashReceiver is the callback_url of every schedule: it counts the
// callbacks it receives by Idempotency-Key, and answers 204.
type crashReceiver struct {
	*httptest.Server
	mu   sync.Mutex
	seen map[string]int
}

func newCrashReceiver(t *testing.T) *crashReceiver {
	rc := &crashReceiver{seen: map[string]int{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		rc.mu.Lock()
		rc.seen[r.Header.Get("Idempotency-Key")]++
		rc.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *crashReceiver) keys() map[string]int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return maps.Clone(rc.seen)
}

// runChild runs the child in mode, kills it after killAfter (a drain run
// is left to exit, and killed only after 90 s), and returns its stdout
// lines. A data race or a panic reported on its stderr fails the test, and
// so does a work run that ends before it is killed or a drain run that
// fails.
func runChild(t *testing.T, dir, hook, mode string, run int, seed uint64, killAfter time.Duration) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(os.Environ(),
		crashEnvMode+"="+mode,
		crashEnvDir+"="+dir,
		crashEnvRun+"="+strconv.Itoa(run),
		crashEnvSeed+"="+strconv.FormatUint(seed, 10),
		crashEnvHook+"="+hook,
	)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if mode == "drain" {
		killAfter = 90 * time.Second
	}
	var killed atomic.Bool
	timer := time.AfterFunc(killAfter, func() {
		killed.Store(true)
		_ = cmd.Process.Kill() // SIGKILL
	})
	defer timer.Stop()
	var lines []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	_, _ = io.Copy(io.Discard, stdout)
	exit := cmd.Wait()
	if s := stderr.String(); strings.Contains(s, "DATA RACE") || strings.Contains(s, "panic:") {
		t.Fatalf("child run %d (%s):\n%s", run, mode, s)
	}
	switch {
	case mode == "work" && !killed.Load():
		t.Fatalf("child run %d ended (%v) before it was killed:\n%s\n%s", run, exit, strings.Join(lines, "\n"), stderr.String())
	case mode == "drain" && exit != nil:
		t.Fatalf("the drain run failed: %v\nstdout:\n%s\nstderr:\n%s", exit, strings.Join(lines, "\n"), stderr.String())
	}
	return lines
}

// crashDelivery is one line of the delivery log.
type crashDelivery struct {
	run, seq    int
	id, key     string
	occ, wallMs int64
}

// crashCreate is an acknowledged Create.
type crashCreate struct {
	run       int
	at        int64 // one-time instant in Unix ms; 0 for a cron schedule
	createdMs int64
}

// checkCrashRun checks the promises against the children's stdout lines
// out, the delivery log, and the store left after the drain run.
func checkCrashRun(t *testing.T, st *bolt.Store, out []string, log string, callbacks map[string]int) {
	creates := map[string]crashCreate{}
	deleteTried := map[string]bool{}
	type ack struct {
		run, seq int
		wallMs   int64
	}
	deleted := map[string]ack{}
	var drainStart int64
	for _, l := range out {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		switch {
		case f[0] == "C" && len(f) == 5:
			c := crashCreate{run: atoi(t, f[1]), createdMs: atoi64(t, f[4])}
			if f[3] != "cron" {
				c.at = atoi64(t, f[3])
			}
			creates[f[2]] = c
		case f[0] == "x" && len(f) == 3:
			deleteTried[f[2]] = true
		case f[0] == "X" && len(f) == 5:
			deleted[f[3]] = ack{atoi(t, f[1]), atoi(t, f[2]), atoi64(t, f[4])}
		case f[0] == "DRAIN" && len(f) == 2:
			drainStart = atoi64(t, f[1])
		}
	}
	if drainStart == 0 {
		t.Fatal("the drain run did not report its start")
	}

	var dels []crashDelivery
	byID := map[string][]crashDelivery{}
	for i, l := range strings.Split(strings.TrimSuffix(log, "\n"), "\n") {
		f := strings.Fields(l)
		if l == "" {
			continue // an empty log
		}
		if len(f) < 7 && strings.HasPrefix(l, "D ") {
			// Torn by a kill in the middle of its write (which Linux does
			// not do to a small write to a file, but the test need not rely
			// on it). Its Deliverer never returned, so it proves nothing.
			t.Logf("delivery log line %d is torn: %q", i+1, l)
			continue
		}
		if len(f) != 7 || f[0] != "D" {
			t.Fatalf("delivery log line %d is malformed: %q", i+1, l)
		}
		d := crashDelivery{run: atoi(t, f[1]), seq: atoi(t, f[2]), id: f[3], key: f[4], occ: atoi64(t, f[5]), wallMs: atoi64(t, f[6])}
		dels = append(dels, d)
		byID[d.id] = append(byID[d.id], d)
	}

	stored := map[string]*tickler.Record{}
	for _, agent := range crashAgents {
		after := ""
		for {
			page, err := st.List(ctx, tickler.ListParams{AgentID: agent, After: after, Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range page.Records {
				stored[r.ID] = r
			}
			if !page.More {
				break
			}
			after = page.Records[len(page.Records)-1].ID
		}
	}

	// Every delivery carries the key of its occurrence; a key is delivered
	// at most once per run, so duplicates come only across a kill.
	seen := map[string]map[int]bool{}
	for _, d := range dels {
		if want := tickler.IdempotencyKey(d.id, time.UnixMilli(d.occ)); d.key != want {
			t.Errorf("delivery %+v: key %s, want %s", d, d.key, want)
		}
		if seen[d.key] == nil {
			seen[d.key] = map[int]bool{}
		}
		if seen[d.key][d.run] {
			t.Errorf("key %s delivered twice in run %d, which no kill separates", d.key, d.run)
		}
		seen[d.key][d.run] = true
		if c, ok := creates[d.id]; ok && c.at != 0 && d.occ != c.at {
			t.Errorf("one-time %s scheduled at %d delivered for occurrence %d", d.id, c.at, d.occ)
		}
	}

	// An acknowledged delete is durable: no later run delivers the schedule,
	// and it is gone. Within the run that acknowledged it, one delivery may
	// still begin after the ack: the engine decides to start a delivery
	// before it calls the Deliverer, and a Delete returning in between
	// cannot stop it. A stamp taken inside the Deliverer cannot tell that
	// case from a delivery started after the ack, so the check allows one
	// such delivery per deleted schedule and no more. What it can tell is
	// an occurrence due after the ack (by more than the millisecond the
	// stamps lose): the engine decided to deliver it after Delete returned.
	for id, a := range deleted {
		after := 0
		for _, d := range byID[id] {
			switch {
			case d.run > a.run:
				t.Errorf("schedule %s delivered in run %d although its delete was acknowledged in run %d", id, d.run, a.run)
			case d.run == a.run && d.occ > a.wallMs+1:
				t.Errorf("schedule %s: occurrence %d delivered although its delete was acknowledged at %d", id, d.occ, a.wallMs)
			case d.run == a.run && d.seq > a.seq:
				after++
			}
		}
		if after > 1 {
			t.Errorf("schedule %s: %d deliveries began after its delete was acknowledged", id, after)
		}
		if _, ok := stored[id]; ok {
			t.Errorf("schedule %s is still stored after its delete was acknowledged", id)
		}
	}

	// Every acknowledged create is stored or was delivered, and every
	// occurrence that came due was delivered at least once.
	oneTime, cron := 0, 0
	for id, c := range creates {
		r, present := stored[id]
		if c.at != 0 {
			oneTime++
			if present {
				t.Errorf("one-time %s (due %d) is still stored after the drain run: %+v", id, c.at, r)
			}
			if deleteTried[id] {
				continue
			}
			if len(seen[tickler.IdempotencyKey(id, time.UnixMilli(c.at))]) == 0 {
				t.Errorf("one-time %s created in run %d, due %d, was never delivered", id, c.run, c.at)
			}
			continue
		}
		cron++
		if deleteTried[id] {
			continue
		}
		if !present {
			t.Errorf("recurring %s created in run %d is gone", id, c.run)
		}
		checkCronCovered(t, id, c, byID[id], drainStart)
	}
	// Every delivered occurrence of a schedule no one tried to delete was
	// acked in the end (the drain run delivers again what a kill cut short
	// before its ack), so its callback was sent, or waits in the outbox.
	left, err := st.ClaimCallbacks(ctx, tickler.ClaimCallbacksParams{Now: time.Now().Add(24 * time.Hour), Limit: 1 << 20, Lease: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	waiting := map[string]bool{}
	for _, c := range left {
		waiting[c.Key] = true
	}
	wanted, dupes := 0, 0
	for key, runs := range seen {
		id, _, _ := strings.Cut(key, "@")
		if deleteTried[id] || len(runs) == 0 {
			continue
		}
		wanted++
		switch n := callbacks[key]; {
		case n == 0 && !waiting[key]:
			t.Errorf("occurrence %s was delivered and acked, and its callback was neither received nor kept in the outbox", key)
		case n > 1:
			dupes++
		}
	}
	t.Logf("%d kills; %d creates acknowledged (%d one-time, %d cron), %d deletes acknowledged, %d deliveries; "+
		"callbacks: %d occurrences owed one, %d keys received (%d more than once), %d left in the outbox",
		*crashKills, len(creates), oneTime, cron, len(deleted), len(dels), wanted, len(callbacks), dupes, len(left))
	if len(callbacks) == 0 {
		t.Error("no callback was received: the test proves nothing about them")
	}
	if len(creates) == 0 || len(dels) == 0 {
		t.Error("the children neither created nor delivered anything: the test proves nothing")
	}
}

// checkCronCovered checks that every minute that came due for a recurring
// schedule between its creation and the start of the drain run was
// delivered, or was covered by a delivery of an earlier occurrence that
// began at or after it (the engine folds occurrences that passed before a
// delivery began into that delivery, as the misfire policy does after a
// restart).
func checkCronCovered(t *testing.T, id string, c crashCreate, dels []crashDelivery, drainStart int64) {
	t.Helper()
	minute := int64(time.Minute / time.Millisecond)
	for m := (c.createdMs/minute + 1) * minute; m <= drainStart; m += minute {
		covered := false
		for _, d := range dels {
			if d.occ == m || (d.occ < m && d.wallMs >= m) {
				covered = true
				break
			}
		}
		if !covered {
			t.Errorf("recurring %s: the occurrence at %d was never delivered", id, m)
		}
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func atoi64(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCrashChild is the child of TestCrashRecovery; it does nothing unless
// that test runs it.
func TestCrashChild(t *testing.T) {
	mode := os.Getenv(crashEnvMode)
	if mode == "" {
		t.Skip("run by TestCrashRecovery")
	}
	dir := os.Getenv(crashEnvDir)
	run, _ := strconv.Atoi(os.Getenv(crashEnvRun))
	seed, _ := strconv.ParseUint(os.Getenv(crashEnvSeed), 10, 64)
	c := &crashChild{run: run, rng: rand.New(rand.NewPCG(seed, uint64(run)))}
	if err := c.main(dir, mode); err != nil {
		t.Fatal(err)
	}
}

type crashChild struct {
	run   int
	hook  string // the callback_url
	seq   atomic.Int64
	outMu sync.Mutex
	logMu sync.Mutex
	log   *os.File
	rngMu sync.Mutex
	rng   *rand.Rand
}

// say writes one line to stdout in one write.
func (c *crashChild) say(format string, args ...any) {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	fmt.Fprintf(os.Stdout, format+"\n", args...)
}

func (c *crashChild) intN(n int) int {
	c.rngMu.Lock()
	defer c.rngMu.Unlock()
	return c.rng.IntN(n)
}

// Deliver appends the delivery to the log and fsyncs it before returning:
// once the engine acks the occurrence, its line is on disk.
func (c *crashChild) Deliver(_ context.Context, d *tickler.Delivery) (tickler.Result, error) {
	seq := c.seq.Add(1)
	line := fmt.Sprintf("D %d %d %s %s %d %d\n", c.run, seq, d.ScheduledMessageID, d.IdempotencyKey, d.Occurrence.UnixMilli(), time.Now().UnixMilli())
	c.logMu.Lock()
	defer c.logMu.Unlock()
	if _, err := c.log.WriteString(line); err != nil {
		return tickler.Result{}, err
	}
	return tickler.Result{}, c.log.Sync()
}

func (c *crashChild) main(dir, mode string) error {
	log, err := os.OpenFile(filepath.Join(dir, "deliveries.log"), os.O_CREATE|os.O_APPEND|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	c.log = log
	// A kill in the middle of a line would leave it unterminated: end it,
	// so that the next line stands alone.
	if fi, err := log.Stat(); err == nil && fi.Size() > 0 {
		last := make([]byte, 1)
		if _, err := log.ReadAt(last, fi.Size()-1); err == nil && last[0] != '\n' {
			if _, err := log.WriteString("\n"); err != nil {
				return err
			}
		}
	}

	st, err := bolt.Open(filepath.Join(dir, "tickler.db"), bolt.WithLockTimeout(10*time.Second))
	if err != nil {
		return err
	}
	defer st.Close()
	// A short lease: a killed child's claims end soon, and the next sends.
	cb := callback.New(callback.AllowPrivate(), callback.WithOutbox(st),
		callback.WithOutboxPoll(50*time.Millisecond), callback.WithOutboxLease(crashLease))
	s, err := tickler.New(st, c, tickler.WithLookahead(200*time.Millisecond),
		tickler.WithCallbackOutbox(), tickler.WithEventHandler(cb.Handle))
	if err != nil {
		return err
	}
	c.hook = os.Getenv(crashEnvHook)
	drainStart := time.Now()
	if err := s.Start(ctx); err != nil {
		return err
	}
	if mode == "drain" {
		c.say("DRAIN %d", drainStart.UnixMilli())
		if err := c.drain(s, drainStart); err != nil {
			return err
		}
		stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := s.Stop(stopCtx); err != nil {
			return err
		}
		// Every lease a killed child held has ended: send what is left.
		if err := c.drainOutbox(cb, st, drainStart); err != nil {
			return err
		}
		return cb.Close(stopCtx)
	}

	// Work until killed: create one-time schedules due soon (and now and
	// then a recurring one), and delete some of what exists.
	var poolMu sync.Mutex
	type ref struct{ agent, id string }
	var pool []ref
	for _, agent := range crashAgents {
		page, err := s.List(ctx, agent, "", 1000)
		if err != nil {
			return err
		}
		for _, sm := range page.ScheduledMessages {
			pool = append(pool, ref{agent, sm.ID})
		}
	}
	errs := make(chan error, 1)
	for range 4 {
		go func() {
			for {
				time.Sleep(time.Duration(5+c.intN(15)) * time.Millisecond)
				poolMu.Lock()
				if r := c.intN(100); r < 25 && len(pool) > 0 {
					i := c.intN(len(pool))
					victim := pool[i]
					pool[i] = pool[len(pool)-1]
					pool = pool[:len(pool)-1]
					poolMu.Unlock()
					c.say("x %d %s", c.run, victim.id)
					err := s.Delete(ctx, victim.agent, victim.id)
					seq := c.seq.Add(1)
					switch {
					case err == nil:
						c.say("X %d %d %s %d", c.run, seq, victim.id, time.Now().UnixMilli())
					case !errors.Is(err, tickler.ErrNotFound):
						errs <- err
						return
					}
					continue
				}
				poolMu.Unlock()
				agent := crashAgents[c.intN(len(crashAgents))]
				sched, at := tickler.Cron("* * * * *"), "cron"
				if c.intN(200) != 0 {
					sched = tickler.At(time.Now().Add(time.Duration(50+c.intN(450)) * time.Millisecond))
					at = strconv.FormatInt(*sched.ScheduledAt, 10)
				}
				sm, err := s.Create(ctx, agent, tickler.CreateRequest{Messages: userText("hi"), Schedule: sched, CallbackURL: c.hook})
				if err != nil {
					errs <- err
					return
				}
				c.say("C %d %s %s %d", c.run, sm.ID, at, time.Now().UnixMilli())
				poolMu.Lock()
				pool = append(pool, ref{agent, sm.ID})
				poolMu.Unlock()
			}
		}()
	}
	return <-errs
}

// drainOutbox returns once the outbox holds nothing due and the sender
// holds nothing, after the leases of killed children have ended.
func (c *crashChild) drainOutbox(cb *callback.Sender, st *bolt.Store, start time.Time) error {
	time.Sleep(time.Until(start.Add(crashLease + 100*time.Millisecond)))
	deadline := time.Now().Add(30 * time.Second)
	for {
		// A claim with no lease leaves what it finds due at once.
		left, err := st.ClaimCallbacks(ctx, tickler.ClaimCallbacksParams{Now: time.Now(), Limit: 1, Lease: 0})
		if err != nil {
			return err
		}
		if len(left) == 0 && len(cb.HostStats()) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("callbacks still in the outbox after 30s: %+v; sender %+v", left, cb.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// drain returns once no one-time schedule is left and every recurring one
// has been handled up to the start of the run.
func (c *crashChild) drain(s *tickler.Scheduler, start time.Time) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		left := 0
		for _, agent := range crashAgents {
			after := ""
			for {
				page, err := s.List(ctx, agent, after, 1000)
				if err != nil {
					return err
				}
				for _, sm := range page.ScheduledMessages {
					if sm.Schedule.ScheduledAt != nil || !sm.NextScheduledTime.After(start) {
						left++
					}
				}
				if !page.HasNextPage {
					break
				}
				after = page.ScheduledMessages[len(page.ScheduledMessages)-1].ID
			}
		}
		if left == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d schedules still due after %v", left, time.Since(start))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
