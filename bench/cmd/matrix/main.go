// Command matrix runs the benchmark suite of issue 5 on every library, each
// (library, N) in a child process of its own so that memory, goroutines
// and CPU time are its alone, and prints the results side by side as
// markdown.
//
//	go run ./cmd/matrix                 # the full matrix: N = 10k, 100k, 1M
//	go run ./cmd/matrix -short          # a smoke run: N = 1000, seconds
//	go run ./cmd/matrix -libs tickler-memory,gocron -n 100000
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/tickler-go/tickler/bench/suite"
)

var (
	libsFlag = flag.String("libs", "all", "comma-separated libraries: "+names())
	nFlag    = flag.String("n", "10000,100000,1000000", "comma-separated job counts")
	idle     = flag.Duration("idle", 10*time.Second, "idle CPU window with N pending")
	window   = flag.Duration("window", 2*time.Second, "the fire workload's window")
	budget   = flag.Duration("budget", 60*time.Second, "time budget of each phase (add, remove, fire) per library and N")
	burst    = flag.Int("burst", 100000, "jobs due at one instant for tickler's deliveries/s (0: skip)")
	bulk     = flag.Int("bulk", 1000000, "jobs tickler adds with CreateMany, in chunks of 100k (0: skip)")
	short    = flag.Bool("short", false, "smoke run: -n 1000 -idle 1s -window 500ms -budget 10s -burst 1000 -bulk 1000")
	out      = flag.String("out", "", "also write the markdown to this file")
	jsonOut  = flag.String("json", "", "write the raw results as JSON to this file")
	dir      = flag.String("dir", "", "scratch directory (default: a new one under $TMPDIR)")
	seed     = flag.Uint64("seed", 1, "random seed")

	child = flag.String("child", "", "internal: run one library in this process (lib:N, burst:lib:N or bulk:lib:N)")
)

func names() string {
	var s []string
	for _, f := range suite.Libs {
		s = append(s, f.Name)
	}
	return strings.Join(s, ",")
}

func main() {
	flag.Parse()
	if *short {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		def := func(name, v string) {
			if !set[name] {
				_ = flag.Set(name, v)
			}
		}
		def("n", "1000")
		def("idle", "1s")
		def("window", "500ms")
		def("budget", "10s")
		def("burst", "1000")
		def("bulk", "1000")
	}
	if *child != "" {
		runChild(*child)
		return
	}
	if err := runParent(); err != nil {
		fmt.Fprintln(os.Stderr, "matrix:", err)
		os.Exit(1)
	}
}

// runChild runs one library and prints each result so far as a line
// "RESULT <json>" on stdout.
func runChild(spec string) {
	parts := strings.Split(spec, ":")
	emit := func(v any) {
		b, _ := json.Marshal(v)
		fmt.Printf("RESULT %s\n", b)
	}
	n, _ := strconv.Atoi(parts[len(parts)-1])
	switch {
	case parts[0] == "none": // the empty process: idle CPU with no scheduler
		c0 := suite.CPUTime()
		time.Sleep(*idle)
		emit(&suite.Result{Lib: "none", IdleCPU: suite.CPUTime() - c0, IdleWindow: *idle})
	case parts[0] == "burst":
		fs, err := suite.Lookup(parts[1])
		if err != nil {
			fatal(err)
		}
		rng := rand.New(rand.NewPCG(*seed, uint64(n)))
		// A durable store adds at fsync speed: leave it time to, as the
		// fire workload does, so that the burst measures deliveries.
		perJob := 20 * time.Microsecond
		if fs[0].Parallel > 1 {
			perJob = 250 * time.Microsecond
		}
		lead := 2*time.Second + time.Duration(n)*perJob
		fr := suite.FireN(fs[0], n, lead, 0, *budget, *dir, rng)
		emit(&suite.Result{Lib: fs[0].Name, N: n, Parallel: fs[0].Parallel, Fire: fr})
	case parts[0] == "bulk":
		fs, err := suite.Lookup(parts[1])
		if err != nil {
			fatal(err)
		}
		rng := rand.New(rand.NewPCG(*seed, uint64(n)))
		emit(&suite.Result{Lib: fs[0].Name, N: n, Parallel: 1, Bulk: suite.Bulk(fs[0], n, *dir, rng)})
	default:
		fs, err := suite.Lookup(parts[0])
		if err != nil {
			fatal(err)
		}
		suite.Run(fs[0], suite.Config{
			N: n, Idle: *idle, Window: *window, Budget: *budget, Dir: *dir, Seed: *seed,
		}, func(r *suite.Result) { emit(r) })
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "matrix:", err)
	os.Exit(1)
}

// cell is one child's outcome.
type cell struct {
	Res     *suite.Result `json:"result"`
	Skipped string        `json:"skipped,omitempty"` // not run, and why
	Killed  string        `json:"killed,omitempty"`  // the child did not finish
	Took    time.Duration `json:"took"`
}

func runParent() error {
	libs, err := suite.Lookup(*libsFlag)
	if err != nil {
		return err
	}
	var ns []int
	for s := range strings.SplitSeq(*nFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return fmt.Errorf("bad -n %q", s)
		}
		ns = append(ns, n)
	}
	scratch := *dir
	if scratch == "" {
		if scratch, err = os.MkdirTemp("", "tickler-matrix-"); err != nil {
			return err
		}
		defer os.RemoveAll(scratch)
	}
	started := time.Now()
	rep := &report{NS: ns, Libs: libs, Cells: map[string]*cell{}, Started: started}

	rep.None = runOne(scratch, "none:0", *idle+time.Minute)
	for _, f := range libs {
		skip := ""
		for _, n := range ns {
			key := fmt.Sprintf("%s:%d", f.Name, n)
			if skip != "" {
				rep.Cells[key] = &cell{Skipped: skip}
				continue
			}
			hardCap := 4**budget + *idle + 2*time.Minute
			c := runOne(scratch, key, hardCap)
			rep.Cells[key] = c
			if r := c.Res; c.Killed != "" || r == nil || r.Add == nil || !r.Add.Complete(n) ||
				r.Remove == nil || !r.Remove.Complete(n) {
				skip = fmt.Sprintf("not run: over budget or failed at N=%d", n)
			}
		}
	}
	if *burst > 0 {
		for _, f := range libs {
			if strings.HasPrefix(f.Name, "tickler") {
				rep.Bursts = append(rep.Bursts, runOne(scratch, fmt.Sprintf("burst:%s:%d", f.Name, *burst), 2**budget+time.Minute))
			}
		}
	}
	if *bulk > 0 {
		for _, f := range libs {
			if strings.HasPrefix(f.Name, "tickler") {
				rep.Bulks = append(rep.Bulks, runOne(scratch, fmt.Sprintf("bulk:%s:%d", f.Name, *bulk), 2**budget+time.Minute))
			}
		}
	}
	rep.Took = time.Since(started)

	md := rep.markdown()
	fmt.Print(md)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(md), 0o644); err != nil {
			return err
		}
	}
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// runOne runs a child for spec and waits at most hardCap for it.
func runOne(scratch, spec string, hardCap time.Duration) *cell {
	exe, err := os.Executable()
	if err != nil {
		return &cell{Killed: err.Error()}
	}
	d, err := os.MkdirTemp(scratch, strings.ReplaceAll(spec, ":", "-")+"-")
	if err != nil {
		return &cell{Killed: err.Error()}
	}
	defer os.RemoveAll(d)
	ctx, cancel := context.WithTimeout(context.Background(), hardCap)
	defer cancel()
	args := []string{"-child", spec, "-dir", d,
		"-idle", idle.String(), "-window", window.String(), "-budget", budget.String(),
		"-seed", strconv.FormatUint(*seed, 10)}
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return &cell{Killed: err.Error()}
	}
	fmt.Fprintf(os.Stderr, "matrix: %-28s ", spec)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return &cell{Killed: err.Error()}
	}
	c := &cell{}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if b, ok := bytes.CutPrefix(line, []byte("RESULT ")); ok {
			var r suite.Result
			if json.Unmarshal(b, &r) == nil {
				c.Res = &r
			}
		}
	}
	_, _ = io.Copy(io.Discard, stdout)
	err = cmd.Wait()
	c.Took = time.Since(start)
	switch {
	case ctx.Err() != nil:
		c.Killed = fmt.Sprintf("killed after %v", hardCap)
	case err != nil:
		c.Killed = err.Error()
	}
	fmt.Fprintf(os.Stderr, "%6.1fs %s\n", c.Took.Seconds(), c.Killed)
	return c
}

// machine describes the machine the run is on.
func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel := "unknown kernel"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%d CPUs (%s), %s/%s, Linux %s, %s",
		runtime.NumCPU(), cpu, runtime.GOOS, runtime.GOARCH, kernel, runtime.Version())
}
