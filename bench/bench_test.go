// Go benchmarks of the suite, one sub-benchmark per library, with b.N
// jobs: run them with -benchtime Nx to choose N, e.g.
//
//	go test -run '^$' -bench 'Add/tickler-memory' -benchtime 100000x
//	go test -run '^$' -bench . -benchtime 1000x -short     # the CI smoke run
//
// They run in one process, one after another; the side-by-side figures of
// BENCHMARKS.md come from ./cmd/matrix, which gives each library and N a
// process of its own.
package bench_test

import (
	"flag"
	"math/rand/v2"
	"runtime/debug"
	"testing"
	"time"

	"github.com/tickler-go/tickler/bench/suite"
)

var (
	libs   = flag.String("bench.libs", "all", "comma-separated libraries")
	idle   = flag.Duration("bench.idle", 10*time.Second, "idle window of BenchmarkPending (-short: 200ms)")
	window = flag.Duration("bench.window", 2*time.Second, "window of BenchmarkFire (-short: 500ms)")
	budget = flag.Duration("bench.budget", 60*time.Second, "time budget of each phase (-short: 10s)")
)

type params struct{ idle, window, budget time.Duration }

func settings() params {
	p := params{*idle, *window, *budget}
	if testing.Short() {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["bench.idle"] {
			p.idle = 200 * time.Millisecond
		}
		if !set["bench.window"] {
			p.window = 500 * time.Millisecond
		}
		if !set["bench.budget"] {
			p.budget = 10 * time.Second
		}
	}
	return p
}

// forEach runs fn as a sub-benchmark for every library.
func forEach(b *testing.B, only func(suite.Factory) bool, fn func(b *testing.B, f suite.Factory, p params)) {
	fs, err := suite.Lookup(*libs)
	if err != nil {
		b.Fatal(err)
	}
	p := settings()
	for _, f := range fs {
		if only != nil && !only(f) {
			continue
		}
		b.Run(f.Name, func(b *testing.B) { fn(b, f, p) })
	}
}

// started returns a started library for n jobs, stopped at the end of b.
func started(b *testing.B, f suite.Factory, n int, fired func(int)) suite.Lib {
	b.Helper()
	if fired == nil {
		fired = func(int) {}
	}
	lib, err := f.New(suite.Env{N: n, Dir: b.TempDir(), Fired: fired})
	if err != nil {
		b.Fatal(err)
	}
	if err := lib.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := lib.Stop(); err != nil {
			b.Error(err)
		}
	})
	return lib
}

// addAhead adds n jobs due 1–2 h ahead in random order and returns the
// outcome; it skips b if the adds did not all finish.
func addAhead(b *testing.B, f suite.Factory, p params, lib suite.Lib, n int, timed bool) {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	ats := suite.AheadDue(rng, n)
	order := rng.Perm(n)
	if timed {
		b.ResetTimer()
	}
	op := suite.Apply(f.Parallel, order, p.budget, func(id int) error { return lib.Add(id, ats[id]) })
	if timed {
		b.StopTimer()
	}
	skipUnless(b, op, n, "add")
	if timed {
		b.ReportMetric(op.CPUPerOp(), "cpu-ns/op")
	}
}

func skipUnless(b *testing.B, op *suite.Op, n int, what string) {
	b.Helper()
	switch {
	case op.Err != "":
		b.Fatalf("%s: %s", what, op.Err)
	case op.OverBudget:
		b.Skipf("%s over budget: %d of %d in %v", what, op.Done, n, op.Elapsed.Round(time.Millisecond))
	}
}

// BenchmarkAdd adds b.N one-time jobs due 1–2 h ahead, in random order, to
// a running scheduler: ns/op is the time of one add.
func BenchmarkAdd(b *testing.B) {
	forEach(b, nil, func(b *testing.B, f suite.Factory, p params) {
		lib := started(b, f, b.N, nil)
		addAhead(b, f, p, lib, b.N, true)
	})
}

// BenchmarkRemove removes b.N pending jobs in random order: ns/op is the
// time of one remove.
func BenchmarkRemove(b *testing.B) {
	forEach(b, nil, func(b *testing.B, f suite.Factory, p params) {
		lib := started(b, f, b.N, nil)
		addAhead(b, f, p, lib, b.N, false)
		order := rand.New(rand.NewPCG(2, uint64(b.N))).Perm(b.N)
		b.ResetTimer()
		op := suite.Apply(f.Parallel, order, p.budget, lib.Remove)
		b.StopTimer()
		skipUnless(b, op, b.N, "remove")
		b.ReportMetric(op.CPUPerOp(), "cpu-ns/op")
	})
}

// BenchmarkPending holds b.N pending jobs and reports the heap and the
// resident memory they take, the goroutines they add, and the CPU time
// the process uses while they wait for -bench.idle.
func BenchmarkPending(b *testing.B) {
	forEach(b, nil, func(b *testing.B, f suite.Factory, p params) {
		lib := started(b, f, b.N, nil)
		m0 := suite.Snapshot()
		addAhead(b, f, p, lib, b.N, false)
		m1 := suite.Snapshot()
		debug.FreeOSMemory() // keep the scavenger out of the idle window
		c0 := suite.CPUTime()
		time.Sleep(p.idle)
		cpu := suite.CPUTime() - c0
		n := float64(b.N)
		b.ReportMetric((float64(m1.HeapAlloc)-float64(m0.HeapAlloc))/n, "heap-B/job")
		b.ReportMetric((float64(m1.RSS)-float64(m0.RSS))/n, "rss-B/job")
		b.ReportMetric(float64(m1.Goroutines-m0.Goroutines), "goroutines-added")
		b.ReportMetric(float64(cpu)/1e6, "idle-cpu-ms")
		b.ReportMetric(p.idle.Seconds(), "idle-s")
	})
}

// BenchmarkFire fires b.N jobs due evenly over -bench.window and reports
// their lateness, how many were lost or fired twice, and the CPU time.
func BenchmarkFire(b *testing.B) {
	forEach(b, nil, func(b *testing.B, f suite.Factory, p params) {
		fire(b, f, p, p.window)
	})
}

// BenchmarkDeliveries fires b.N tickler schedules due at the same
// millisecond and reports deliveries/s end to end.
func BenchmarkDeliveries(b *testing.B) {
	isTickler := func(f suite.Factory) bool { return f.Name == "tickler-memory" || f.Name == "tickler-bolt" }
	forEach(b, isTickler, func(b *testing.B, f suite.Factory, p params) {
		fr := fire(b, f, p, 0)
		if fr.Late.Max > 0 {
			b.ReportMetric(float64(fr.Late.Fired)/fr.Late.Max.Seconds(), "deliveries/s")
		}
	})
}

func fire(b *testing.B, f suite.Factory, p params, window time.Duration) *suite.Fire {
	n := b.N
	// The lead leaves time for the adds: 1 s plus 50 µs per job, 250 µs
	// for a durable store.
	perJob := 50 * time.Microsecond
	if f.Parallel > 1 {
		perJob = 250 * time.Microsecond
	}
	lead := time.Second + time.Duration(n)*perJob
	b.ResetTimer()
	fr := suite.FireN(f, n, lead, window, p.budget, b.TempDir(), rand.New(rand.NewPCG(3, uint64(n))))
	b.StopTimer()
	if fr.Err != "" {
		b.Skip(fr.Err)
	}
	l := fr.Late
	b.ReportMetric(float64(l.P50)/1e6, "late-p50-ms")
	b.ReportMetric(float64(l.P99)/1e6, "late-p99-ms")
	b.ReportMetric(float64(l.Max)/1e6, "late-max-ms")
	b.ReportMetric(float64(l.Lost), "not-fired")
	b.ReportMetric(float64(l.Dup), "dup")
	b.ReportMetric(float64(fr.CPU)/1e6, "cpu-ms")
	if l.Lost > 0 || l.Dup > 0 {
		b.Logf("%s: %d of %d fired, %d not fired, %d duplicated", f.Name, l.Fired, n, l.Lost, l.Dup)
	}
	return fr
}

// BenchmarkBulkAdd adds b.N tickler schedules due 1–2 h ahead with
// CreateMany, in chunks of suite.BulkChunk, from one caller: ns/op is the
// time per schedule.
func BenchmarkBulkAdd(b *testing.B) {
	isTickler := func(f suite.Factory) bool { return f.Name == "tickler-memory" || f.Name == "tickler-bolt" }
	forEach(b, isTickler, func(b *testing.B, f suite.Factory, p params) {
		b.ResetTimer()
		op := suite.Bulk(f, b.N, b.TempDir(), rand.New(rand.NewPCG(4, uint64(b.N))))
		b.StopTimer()
		if op == nil || op.Err != "" {
			b.Fatalf("bulk add: %+v", op)
		}
		b.ReportMetric(float64(op.Done)/op.Elapsed.Seconds(), "creates/s")
		b.ReportMetric(op.CPUPerOp(), "cpu-ns/op")
	})
}
