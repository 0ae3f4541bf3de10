package suite

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Op is the outcome of applying one operation to N jobs.
type Op struct {
	Done       int           `json:"done"`
	Elapsed    time.Duration `json:"elapsed"`
	CPU        time.Duration `json:"cpu"` // the process's, user+system
	OverBudget bool          `json:"over_budget,omitempty"`
	Err        string        `json:"err,omitempty"`
}

// NsPerOp is the wall time per operation.
func (o *Op) NsPerOp() float64 {
	if o == nil || o.Done == 0 {
		return 0
	}
	return float64(o.Elapsed.Nanoseconds()) / float64(o.Done)
}

// CPUPerOp is the process's CPU time per operation.
func (o *Op) CPUPerOp() float64 {
	if o == nil || o.Done == 0 {
		return 0
	}
	return float64(o.CPU.Nanoseconds()) / float64(o.Done)
}

// Complete reports whether every operation was done.
func (o *Op) Complete(n int) bool { return o != nil && o.Done == n && o.Err == "" }

// Apply runs op on every job of order, from f.Parallel goroutines, and
// stops early once budget has passed or an op failed.
func Apply(parallel int, order []int, budget time.Duration, op func(id int) error) *Op {
	parallel = max(parallel, 1)
	var (
		next  atomic.Int64
		done  atomic.Int64
		stop  atomic.Bool
		over  atomic.Bool
		errMu sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	start, cpu0 := time.Now(), CPUTime()
	for range parallel {
		wg.Go(func() {
			for !stop.Load() {
				i := next.Add(1) - 1
				if i >= int64(len(order)) {
					return
				}
				if i&63 == 0 && budget > 0 && time.Since(start) > budget {
					over.Store(true)
					stop.Store(true)
					return
				}
				if err := op(order[i]); err != nil {
					errMu.Lock()
					if first == nil {
						first = fmt.Errorf("job %d: %w", order[i], err)
					}
					errMu.Unlock()
					stop.Store(true)
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	o := &Op{Done: int(done.Load()), Elapsed: time.Since(start), CPU: CPUTime() - cpu0, OverBudget: over.Load()}
	if first != nil {
		o.Err = first.Error()
	}
	return o
}

// AheadDue returns n due instants 1–2 h from now, whole milliseconds.
func AheadDue(rng *rand.Rand, n int) []time.Time {
	now := time.Now().Truncate(time.Millisecond)
	at := make([]time.Time, n)
	for i := range at {
		at[i] = now.Add(time.Hour + time.Duration(rng.Int64N(int64(time.Hour/time.Millisecond)))*time.Millisecond)
	}
	return at
}

// WindowDue returns n due instants spread evenly over [t0, t0+window),
// whole milliseconds, with t0 = now+lead.
func WindowDue(n int, lead, window time.Duration) []time.Time {
	t0 := time.Now().Add(lead).Truncate(time.Millisecond)
	at := make([]time.Time, n)
	for i := range at {
		off := time.Duration(int64(i) * int64(window) / int64(n))
		at[i] = t0.Add(off.Truncate(time.Millisecond))
	}
	return at
}

// Config is one run of the workloads for one library and one N.
type Config struct {
	N      int
	Idle   time.Duration // idle window with N pending
	Window time.Duration // the fire workload's window
	Budget time.Duration // per phase
	Dir    string        // scratch directory
	Seed   uint64
}

// Result is what a run measured; a nil part was not measured.
type Result struct {
	Lib      string `json:"lib"`
	N        int    `json:"n"`
	Parallel int    `json:"parallel"`

	Add          *Op           `json:"add,omitempty"`
	HeapPerJob   float64       `json:"heap_per_job"`  // HeapAlloc delta / N after GC
	AnonPerJob   float64       `json:"anon_per_job"`  // RssAnon delta / N
	FilePerJob   float64       `json:"file_per_job"`  // RssFile delta / N (mmap)
	Goroutines   int           `json:"goroutines"`    // added by N pending jobs
	BaseRoutines int           `json:"base_routines"` // the started, empty scheduler's
	MemMeasured  bool          `json:"mem_measured"`  // the three above are set
	IdleCPU      time.Duration `json:"idle_cpu"`      // over IdleWindow
	IdleWindow   time.Duration `json:"idle_window"`

	Bulk    *Op      `json:"bulk,omitempty"` // N jobs with AddMany (BulkAdder)
	Restart *Restart `json:"restart,omitempty"`
	Remove  *Op      `json:"remove,omitempty"`
	Fire    *Fire    `json:"fire,omitempty"`
	Err     string   `json:"err,omitempty"`
}

// Restart is a stop and start of a durable scheduler with N stored.
type Restart struct {
	Took       time.Duration `json:"took"` // open to started
	HeapPerJob float64       `json:"heap_per_job"`
	Err        string        `json:"err,omitempty"`
}

// Fire is the outcome of the fire workload.
type Fire struct {
	Add     *Op           `json:"add"`
	Lead    time.Duration `json:"lead"`
	Late    Lateness      `json:"late"`
	CPU     time.Duration `json:"cpu"`  // from just before the window to the last firing
	Wall    time.Duration `json:"wall"` // the same span
	Drained bool          `json:"drained"`
	Err     string        `json:"err,omitempty"`
}

// Restarter is a library that can stop and reopen its durable state. It
// returns the time from reopening to started, and the Go heap the
// restarted library holds (after GC, less what was live before reopening).
type Restarter interface {
	Restart() (took time.Duration, heap int64, err error)
}

// BulkAdder is a library that adds many jobs in one call (tickler's
// CreateMany).
type BulkAdder interface {
	AddMany(ids []int, ats []time.Time) error
}

// Bulk adds n jobs due 1–2 h ahead with AddMany, on a fresh library, and
// returns the outcome; it returns nil if the library has no AddMany.
func Bulk(f Factory, n int, dir string, rng *rand.Rand) *Op {
	lib, err := f.New(Env{N: n, Dir: dir, Fired: func(int) {}})
	if err != nil {
		return &Op{Err: err.Error()}
	}
	defer lib.Stop()
	bulk, ok := lib.(BulkAdder)
	if !ok {
		return nil
	}
	if err := lib.Start(); err != nil {
		return &Op{Err: err.Error()}
	}
	ats := AheadDue(rng, n)
	ids := rng.Perm(n)
	start, cpu0 := time.Now(), CPUTime()
	err = bulk.AddMany(ids, ats)
	o := &Op{Done: n, Elapsed: time.Since(start), CPU: CPUTime() - cpu0}
	if err != nil {
		o.Done, o.Err = 0, err.Error()
	}
	return o
}

// Run runs the workloads on one library with cfg.N jobs and calls emit
// with the result so far after each phase.
func Run(f Factory, cfg Config, emit func(*Result)) *Result {
	res := &Result{Lib: f.Name, N: cfg.N, Parallel: f.Parallel}
	emit = orNop(emit)
	fail := func(err error) *Result {
		res.Err = err.Error()
		emit(res)
		return res
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, uint64(cfg.N)))
	n := cfg.N

	// 1. Add N one-time jobs due 1–2 h ahead, in random order.
	rec := NewRecorder(n)
	lib, err := f.New(Env{N: n, Dir: subdir(cfg.Dir, "ahead"), Fired: rec.Fired})
	if err != nil {
		return fail(err)
	}
	if err := lib.Start(); err != nil {
		return fail(err)
	}
	ats := AheadDue(rng, n)
	order := rng.Perm(n)
	before := Snapshot()
	res.Add = Apply(f.Parallel, order, cfg.Budget, func(id int) error { return lib.Add(id, ats[id]) })
	emit(res)
	if !res.Add.Complete(n) {
		_ = lib.Stop()
		return res
	}

	// 2. Memory and goroutines with N pending.
	after := Snapshot()
	res.HeapPerJob = perJob(after.HeapAlloc, before.HeapAlloc, n)
	res.AnonPerJob = perJob(after.RSSAnon, before.RSSAnon, n)
	res.FilePerJob = perJob(after.RSSFile, before.RSSFile, n)
	res.Goroutines = after.Goroutines - before.Goroutines
	res.BaseRoutines = before.Goroutines
	res.MemMeasured = true
	runtime.KeepAlive(ats) // they were live before the adds: keep them out of the delta
	runtime.KeepAlive(order)
	emit(res)

	// 3. Idle CPU with N pending.
	if cfg.Idle > 0 {
		// Return the freed heap to the OS now, so that the background
		// scavenger does not do it during the window: idle CPU is then
		// the scheduler's own (timers, polling), not the runtime's.
		debug.FreeOSMemory()
		c0 := CPUTime()
		time.Sleep(cfg.Idle)
		res.IdleCPU, res.IdleWindow = CPUTime()-c0, cfg.Idle
		emit(res)
	}

	// Restart of a durable library with N stored.
	if r, ok := lib.(Restarter); ok {
		took, heap, err := r.Restart()
		res.Restart = &Restart{Took: took, HeapPerJob: float64(heap) / float64(n)}
		if err != nil {
			res.Restart.Err = err.Error()
		}
		emit(res)
	}

	// 5. Remove the N jobs in random order.
	order = rng.Perm(n)
	res.Remove = Apply(f.Parallel, order, cfg.Budget, lib.Remove)
	emit(res)
	if err := lib.Stop(); err != nil {
		return fail(fmt.Errorf("stop: %w", err))
	}

	// 4. Fire N jobs due evenly over the window, on a fresh scheduler.
	// The lead gives the adds twice the time they took above.
	lead := max(time.Second, 2*res.Add.Elapsed+time.Second)
	if lead > cfg.Budget {
		res.Fire = &Fire{Lead: lead, Err: fmt.Sprintf("not run: the adds alone would take %v of the %v budget",
			res.Add.Elapsed.Round(time.Second), cfg.Budget)}
	} else {
		res.Fire = FireN(f, n, lead, cfg.Window, cfg.Budget, subdir(cfg.Dir, "fire"), rng)
	}
	emit(res)
	return res
}

// FireN adds n jobs due evenly over window, starting lead from now, and
// measures their firing. It stops waiting once budget has passed since
// the window began, or once no job has fired for 3 s after it ended.
func FireN(f Factory, n int, lead, window, budget time.Duration, dir string, rng *rand.Rand) *Fire {
	fr := &Fire{Lead: lead}
	rec := NewRecorder(n)
	lib, err := f.New(Env{N: n, Dir: dir, Fired: rec.Fired})
	if err != nil {
		fr.Err = err.Error()
		return fr
	}
	defer func() {
		if err := lib.Stop(); err != nil && fr.Err == "" {
			fr.Err = "stop: " + err.Error()
		}
	}()
	if err := lib.Start(); err != nil {
		fr.Err = err.Error()
		return fr
	}
	ats := WindowDue(n, lead, window)
	due := make([]int64, n)
	for i, at := range ats {
		due[i] = at.UnixNano()
	}
	t0 := ats[0]
	fr.Add = Apply(f.Parallel, rng.Perm(n), min(budget, lead), func(id int) error { return lib.Add(id, ats[id]) })
	if !fr.Add.Complete(n) {
		fr.Err = fmt.Sprintf("adding took longer than the lead of %v: %d of %d added in %v %s",
			lead, fr.Add.Done, n, fr.Add.Elapsed.Round(time.Millisecond), fr.Add.Err)
		fr.Late = rec.Lateness(due)
		return fr
	}
	time.Sleep(time.Until(t0.Add(-20 * time.Millisecond)))
	c0, w0 := CPUTime(), time.Now()
	end := t0.Add(window)
	last, lastAt := 0, time.Now()
	for {
		time.Sleep(2 * time.Millisecond)
		now := time.Now()
		u := rec.Unique()
		if u == n {
			fr.Drained = true
			break
		}
		if u != last {
			last, lastAt = u, now
		}
		if now.After(end) && now.Sub(lastAt) > 3*time.Second {
			break
		}
		if now.Sub(t0) > budget {
			break
		}
	}
	fr.CPU, fr.Wall = CPUTime()-c0, time.Since(w0)
	if fr.Drained {
		time.Sleep(300 * time.Millisecond) // let duplicates show
	}
	fr.Late = rec.Lateness(due)
	return fr
}

func perJob(after, before uint64, n int) float64 {
	return (float64(after) - float64(before)) / float64(n)
}

func subdir(dir, name string) string {
	if dir == "" {
		return ""
	}
	p := filepath.Join(dir, name)
	_ = os.MkdirAll(p, 0o755)
	return p
}

func orNop(emit func(*Result)) func(*Result) {
	if emit == nil {
		return func(*Result) {}
	}
	return emit
}
