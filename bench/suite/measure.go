package suite

import (
	"bufio"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// CPUTime returns the CPU time, user and system, the process has used.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Mem is a snapshot of memory after a full collection.
type Mem struct {
	HeapAlloc  uint64 // bytes of live heap objects
	RSS        uint64 // resident set, bytes
	RSSAnon    uint64 // anonymous part of it (heap, stacks), bytes
	RSSFile    uint64 // file-backed part (the bolt mmap, the binary), bytes
	Goroutines int
}

// Snapshot runs the garbage collector twice and reads the heap, the
// resident set and the goroutine count.
func Snapshot() Mem {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m := Mem{HeapAlloc: ms.HeapAlloc, Goroutines: runtime.NumGoroutine()}
	m.RSS, m.RSSAnon, m.RSSFile = readRSS()
	return m
}

// readRSS reads VmRSS, RssAnon and RssFile from /proc/self/status.
func readRSS() (rss, anon, file uint64) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		n, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "VmRSS":
			rss = n << 10
		case "RssAnon":
			anon = n << 10
		case "RssFile":
			file = n << 10
		}
	}
	return rss, anon, file
}

// Recorder counts the firings of jobs 0..N-1 and keeps the instant of the
// first firing of each.
type Recorder struct {
	first  []atomic.Int64 // Unix ns of the first firing, 0 if none
	count  []atomic.Int32
	unique atomic.Int64
	total  atomic.Int64
}

// NewRecorder returns a recorder for n jobs.
func NewRecorder(n int) *Recorder {
	return &Recorder{first: make([]atomic.Int64, n), count: make([]atomic.Int32, n)}
}

// Fired records a firing of job id; it is an [Env.Fired].
func (r *Recorder) Fired(id int) {
	now := time.Now().UnixNano()
	if id < 0 || id >= len(r.count) {
		return
	}
	r.total.Add(1)
	if r.count[id].Add(1) == 1 {
		r.first[id].Store(now)
		r.unique.Add(1)
	}
}

// Unique returns how many distinct jobs have fired.
func (r *Recorder) Unique() int { return int(r.unique.Load()) }

// Total returns how many firings there were.
func (r *Recorder) Total() int { return int(r.total.Load()) }

// Lateness summarises how late the first firings were.
type Lateness struct {
	P50, P99, Max, Min time.Duration
	Fired, Lost, Dup   int
	// Last is the instant of the last first firing.
	Last time.Time
}

// Lateness compares the first firings with the due instants (Unix ns).
func (r *Recorder) Lateness(due []int64) Lateness {
	var l Lateness
	late := make([]time.Duration, 0, len(due))
	var last int64
	for id, d := range due {
		c := int(r.count[id].Load())
		if c == 0 {
			l.Lost++
			continue
		}
		l.Dup += c - 1
		f := r.first[id].Load()
		last = max(last, f)
		late = append(late, time.Duration(f-d))
	}
	l.Fired = len(late)
	if len(late) > 0 {
		slices.Sort(late)
		l.P50 = late[len(late)/2]
		l.P99 = late[min(len(late)-1, len(late)*99/100)]
		l.Max = late[len(late)-1]
		l.Min = late[0]
		l.Last = time.Unix(0, last)
	}
	return l
}

// First returns the instant of job id's first firing, zero if none.
func (r *Recorder) First(id int) time.Time {
	if ns := r.first[id].Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}
