// Package suite is the benchmark suite of issue 5: one adapter per
// scheduling library behind [Lib], and the workloads that run the same
// jobs through each of them.
package suite

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Lib is one scheduler under test, reduced to what every library can do
// with a one-time job: add it, remove it, start and stop the scheduler.
// Jobs are named by dense ints 0..N-1; a firing calls Env.Fired(id).
//
// Whatever an adapter keeps per job to find it again (a library's job
// handle) lives in a slice allocated in New, before the memory baseline
// is taken, so that bytes per job count only what the library holds.
type Lib interface {
	Start() error
	// Add schedules job id, due once at at. It may be called from
	// several goroutines at once when the library's Parallel is above 1.
	Add(id int, at time.Time) error
	// Remove unschedules job id, which was added and has not fired.
	Remove(id int) error
	// Stop stops the scheduler and releases what it holds.
	Stop() error
}

// Env is what an adapter is given.
type Env struct {
	// N is the largest job id plus one.
	N int
	// Dir is a scratch directory for files (the bolt store's).
	Dir string
	// Fired must be called at every firing of job id.
	Fired func(id int)
}

// Factory makes one library's adapter.
type Factory struct {
	Name string
	// Parallel is how many goroutines add and remove at once: 1 for all
	// but a durable store, whose callers share fsyncs (group commit).
	Parallel int
	// Note says how the adapter maps a one-time job onto the library.
	Note string
	New  func(env Env) (Lib, error)
}

// Libs lists every adapter, the baseline first.
var Libs = []Factory{
	baselineFactory,
	ticklerMemoryFactory,
	ticklerBoltFactory,
	gocronFactory,
	quartzFactory,
	robfigFactory,
}

// Lookup returns the factories named in a comma-separated list ("" or
// "all" is every one).
func Lookup(names string) ([]Factory, error) {
	if names == "" || names == "all" {
		return Libs, nil
	}
	var out []Factory
	for name := range strings.SplitSeq(names, ",") {
		i := slices.IndexFunc(Libs, func(f Factory) bool { return f.Name == strings.TrimSpace(name) })
		if i < 0 {
			return nil, fmt.Errorf("unknown library %q", name)
		}
		out = append(out, Libs[i])
	}
	return out, nil
}
