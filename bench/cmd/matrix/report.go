package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/tickler-go/tickler/bench/suite"
)

type report struct {
	NS      []int            `json:"ns"`
	Libs    []suite.Factory  `json:"-"`
	Cells   map[string]*cell `json:"cells"`
	None    *cell            `json:"none"`
	Bursts  []*cell          `json:"bursts"`
	Bulks   []*cell          `json:"bulks"`
	Started time.Time        `json:"started"`
	Took    time.Duration    `json:"took"`
}

func (r *report) cell(lib string, n int) *cell { return r.Cells[fmt.Sprintf("%s:%d", lib, n)] }

func (r *report) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("### Run of %s (took %v)\n\n", r.Started.UTC().Format("2006-01-02 15:04 UTC"), r.Took.Round(time.Second))
	p("Machine: %s.  \n", machine())
	p("Flags: -n %s -idle %v -window %v -budget %v -burst %d -bulk %d -seed %d.\n\n", *nFlag, *idle, *window, *budget, *burst, *bulk, *seed)

	p("#### Add, memory, idle, remove\n\n")
	p("| library | N | add ns/op (CPU) | heap B/job | RSS B/job | goroutines +N | idle CPU | remove ns/op (CPU) | remove total |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	if c := r.None; c != nil && c.Res != nil {
		p("| *(no scheduler)* | 0 | | | | | %s | | |\n", idleCell(c.Res))
	}
	for _, f := range r.Libs {
		for _, n := range r.NS {
			c := r.cell(f.Name, n)
			row := []string{libName(f), count(n)}
			switch {
			case c == nil:
				continue
			case c.Skipped != "":
				row = append(row, c.Skipped, "", "", "", "", "", "")
			case c.Res == nil:
				row = append(row, "failed: "+c.Killed, "", "", "", "", "", "")
			default:
				res := c.Res
				row = append(row, opCell(res.Add, n))
				if res.MemMeasured {
					row = append(row, bytesCell(res.HeapPerJob), bytesCell(res.AnonPerJob+res.FilePerJob),
						fmt.Sprintf("%+d", res.Goroutines))
				} else {
					row = append(row, "", "", "")
				}
				row = append(row, idleCell(res), opCell(res.Remove, n), totalCell(res.Remove, n))
				if c.Killed != "" {
					row[len(row)-1] += " (" + c.Killed + ")"
				}
			}
			p("| %s |\n", strings.Join(row, " | "))
		}
	}

	p("\n#### Fire N jobs due evenly over %v\n\n", *window)
	p("Lateness is first firing minus due instant (due instants are whole milliseconds). ")
	p("CPU is the process's user+system time from 20 ms before the window to the last firing. ")
	p("*Not fired* counts jobs that had not fired when the run gave up waiting: %v after the window began, or 3 s without a firing after it ended.\n\n", *budget)
	p("| library | N | fired | not fired | dup | p50 late | p99 late | max late | CPU | CPU / wall |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, f := range r.Libs {
		for _, n := range r.NS {
			c := r.cell(f.Name, n)
			if c == nil {
				continue
			}
			row := []string{libName(f), count(n)}
			var fr *suite.Fire
			if c.Res != nil {
				fr = c.Res.Fire
			}
			switch {
			case c.Skipped != "":
				row = append(row, c.Skipped)
			case fr == nil:
				why := "not run: adds or removes over budget"
				if c.Killed != "" {
					why = "not run: " + c.Killed
				}
				row = append(row, why)
			default:
				row = append(row, fireCells(fr, n)...)
			}
			for len(row) < 10 {
				row = append(row, "")
			}
			p("| %s |\n", strings.Join(row, " | "))
		}
	}

	if len(r.Bursts) > 0 {
		p("\n#### tickler alone: deliveries/s end to end\n\n")
		p("N one-time schedules all due at the same millisecond; every delivery is acknowledged to the store ")
		p("(with bolt: an fsynced commit that removes the record).\n\n")
		p("| store | N | fired | not fired | dup | deliveries/s | p50 late | p99 late | max late | CPU |\n")
		p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, c := range r.Bursts {
			if c.Res == nil || c.Res.Fire == nil {
				p("| ? | | failed: %s |\n", c.Killed)
				continue
			}
			fr := c.Res.Fire
			rate := "—"
			if d := fr.Late.Max; fr.Late.Fired > 0 && d > 0 {
				rate = fmt.Sprintf("%.0f", float64(fr.Late.Fired)/d.Seconds())
			}
			p("| %s | %s | %d | %d | %d | %s | %s | %s | %s | %s |\n", c.Res.Lib, count(c.Res.N),
				fr.Late.Fired, fr.Late.Lost, fr.Late.Dup, rate, ms(fr.Late.P50), ms(fr.Late.P99), ms(fr.Late.Max),
				ms(fr.CPU))
		}
	}

	if len(r.Bulks) > 0 {
		p("\n#### tickler alone: bulk creates\n\n")
		p("N one-time schedules due 1–2 h ahead, added by one caller with `Scheduler.CreateMany` in chunks of %s ", count(suite.BulkChunk))
		p("(each chunk one atomic write: with bolt, one fsynced commit).\n\n")
		p("| store | N | total | creates/s | CPU |\n|---|---:|---:|---:|---:|\n")
		for _, c := range r.Bulks {
			switch {
			case c.Res == nil:
				p("| ? | | failed: %s | | |\n", c.Killed)
			case c.Res.Bulk == nil || c.Res.Bulk.Err != "":
				p("| %s | %s | failed: %v | | |\n", c.Res.Lib, count(c.Res.N), c.Res.Bulk)
			default:
				b := c.Res.Bulk
				p("| %s | %s | %s | %.0f | %s |\n", c.Res.Lib, count(c.Res.N), ms(b.Elapsed),
					float64(b.Done)/b.Elapsed.Seconds(), ms(b.CPU))
			}
		}
	}

	if rows := r.restarts(); len(rows) > 0 {
		p("\n#### tickler-bolt: restart with N stored\n\n")
		p("Stop, close the file, then `bolt.Open` + `tickler.New` + `Start` (the first claim); the Go heap the reopened store and scheduler hold after GC, per stored schedule.\n\n")
		p("| N | open → started | heap B/schedule after restart |\n|---:|---:|---:|\n")
		for _, row := range rows {
			p("%s\n", row)
		}
	}

	p("\n#### Targets (tickler through its public API, figures from this run)\n\n")
	p("| target | figure | met |\n|---|---|---|\n")
	for _, t := range r.targets() {
		p("| %s | %s | %s |\n", t[0], t[1], t[2])
	}

	p("\n#### Adapters\n\n")
	for _, f := range r.Libs {
		par := ""
		if f.Parallel > 1 {
			par = fmt.Sprintf(" (adds and removes from %d goroutines)", f.Parallel)
		}
		p("- `%s`: %s%s\n", f.Name, f.Note, par)
	}
	return b.String()
}

func (r *report) restarts() []string {
	var rows []string
	for _, n := range r.NS {
		c := r.cell("tickler-bolt", n)
		if c == nil || c.Res == nil || c.Res.Restart == nil {
			continue
		}
		rs := c.Res.Restart
		if rs.Err != "" {
			rows = append(rows, fmt.Sprintf("| %s | failed: %s | |", count(n), rs.Err))
			continue
		}
		rows = append(rows, fmt.Sprintf("| %s | %s | %s |", count(n), ms(rs.Took), bytesCell(rs.HeapPerJob)))
	}
	return rows
}

// targets checks the targets against this run.
// targets are those of the issue "Performance, round two", with ratios
// against the bare heap (baseline) of the same run.
func (r *report) targets() [][3]string {
	var out [][3]string
	add := func(target, figure string, met *bool) {
		m := "n/a"
		if met != nil {
			m = map[bool]string{true: "yes", false: "**no**"}[*met]
		}
		out = append(out, [3]string{target, figure, m})
	}
	yes := func(b bool) *bool { return &b }
	res := func(lib string, n int) *suite.Result {
		if c := r.cell(lib, n); c != nil {
			return c.Res
		}
		return nil
	}
	const k100, m1 = 100_000, 1_000_000
	firing := func(t *suite.Result) bool {
		return t != nil && t.Fire != nil && (t.Fire.Err == "" || t.Fire.Late.Fired > 0)
	}

	// bolt fires like memory.
	if t := res("tickler-bolt", k100); firing(t) {
		l := t.Fire.Late
		add("tickler-bolt: fire 100k over 2 s: p99 ≤ 20 ms, none lost or duplicated",
			fmt.Sprintf("p99 %s, lost %d, dup %d", ms(l.P99), l.Lost, l.Dup),
			yes(l.P99 <= 20*time.Millisecond && l.Lost == 0 && l.Dup == 0))
	} else {
		add("tickler-bolt: fire 100k over 2 s: p99 ≤ 20 ms, none lost or duplicated", "not measured", nil)
	}
	for _, c := range r.Bursts {
		if c.Res == nil || c.Res.Fire == nil || c.Res.Lib != "tickler-bolt" {
			continue
		}
		l := c.Res.Fire.Late
		if l.Max > 0 {
			rate := float64(l.Fired) / l.Max.Seconds()
			add(fmt.Sprintf("tickler-bolt: ≥ 100,000 recorded deliveries/s end to end (N=%s)", count(c.Res.N)),
				fmt.Sprintf("%.0f/s, lost %d, dup %d", rate, l.Lost, l.Dup), yes(c.Res.N >= k100 && rate >= 100000 && l.Lost == 0 && l.Dup == 0))
		}
	}

	// Bulk writes.
	for _, c := range r.Bulks {
		if c.Res == nil || c.Res.Lib != "tickler-bolt" {
			continue
		}
		if b := c.Res.Bulk; b != nil && b.Err == "" {
			add(fmt.Sprintf("tickler-bolt: %s schedules with CreateMany ≤ 10 s", count(c.Res.N)), ms(b.Elapsed),
				yes(c.Res.N >= m1 && b.Elapsed <= 10*time.Second))
		}
	}
	for _, n := range []int{m1, k100} {
		if t := res("tickler-bolt", n); t != nil && t.Add.Complete(n) {
			rate := 1e9 / t.Add.NsPerOp()
			add("tickler-bolt: concurrent creates ≥ 30,000/s with 64 callers (one agent; see the Go benchmark for 64 agents)",
				fmt.Sprintf("%.0f/s (N=%s)", rate, count(n)), yes(rate >= 30000))
			break
		}
	}

	// The memory store near the floor.
	if t := res("tickler-memory", k100); t != nil && t.Add.Complete(k100) {
		fig := fmt.Sprintf("%.0f ns/op", t.Add.NsPerOp())
		if b := res("baseline", k100); b != nil && b.Add.Complete(k100) {
			fig += fmt.Sprintf(" (bare heap %.0f ns/op)", b.Add.NsPerOp())
		}
		add("tickler-memory: add at 100k ≤ 1 µs", fig, yes(t.Add.NsPerOp() <= 1000))
	} else {
		add("tickler-memory: add at 100k ≤ 1 µs", "not measured", nil)
	}
	if t := res("tickler-memory", m1); t != nil && t.Remove != nil {
		fig := totalCell(t.Remove, m1)
		if b := res("baseline", m1); b != nil && b.Remove.Complete(m1) {
			fig += " (bare heap " + totalCell(b.Remove, m1) + ")"
		}
		add("tickler-memory: remove 1M ≤ 1 s", fig, yes(t.Remove.Complete(m1) && t.Remove.Elapsed <= time.Second))
	} else {
		add("tickler-memory: remove 1M ≤ 1 s", "not measured", nil)
	}
	if t := res("tickler-memory", k100); firing(t) {
		l := t.Fire.Late
		fig := fmt.Sprintf("p99 %s, lost %d, dup %d, CPU %s", ms(l.P99), l.Lost, l.Dup, ms(t.Fire.CPU))
		met := l.P99 <= 1500*time.Microsecond && l.Lost == 0 && l.Dup == 0
		if b := res("baseline", k100); firing(b) {
			ratio := t.Fire.CPU.Seconds() / b.Fire.CPU.Seconds()
			fig += fmt.Sprintf(" = %.1f× the bare heap's %s", ratio, ms(b.Fire.CPU))
			met = met && ratio <= 2
		}
		add("tickler-memory: fire 100k over 2 s: p99 ≤ 1.5 ms, CPU ≤ 2× the bare heap, none lost or duplicated", fig, yes(met))
	} else {
		add("tickler-memory: fire 100k over 2 s: p99 ≤ 1.5 ms, CPU ≤ 2× the bare heap", "not measured", nil)
	}

	// Nothing regresses.
	for _, lib := range []string{"tickler-memory", "tickler-bolt"} {
		t := res(lib, m1)
		if t == nil || t.IdleWindow == 0 || r.None == nil || r.None.Res == nil {
			add(lib+": idle with 1M pending ≈ empty process", "not measured", nil)
			continue
		}
		none := r.None.Res.IdleCPU
		// "Indistinguishable": within 20 ms of CPU over the window, or 0.2 % of a core.
		slack := max(20*time.Millisecond, t.IdleWindow/500)
		add(lib+": idle with 1M pending ≈ empty process",
			fmt.Sprintf("%s vs %s over %v", ms(t.IdleCPU), ms(none), t.IdleWindow),
			yes(t.IdleCPU <= none+slack))
	}
	for _, n := range []int{m1, k100} {
		if t := res("tickler-bolt", n); t != nil && t.Restart != nil && t.Restart.Err == "" {
			add(fmt.Sprintf("tickler-bolt: restart with %s stored in ms (≤ 100 ms)", count(n)), ms(t.Restart.Took), yes(t.Restart.Took <= 100*time.Millisecond))
			break
		}
	}
	for _, n := range []int{m1, k100} {
		if t := res("tickler-bolt", n); t != nil && t.MemMeasured {
			add("tickler-bolt: heap per pending schedule ≤ 100 B",
				fmt.Sprintf("%s B/job at N=%s", bytesCell(t.HeapPerJob), count(n)), yes(t.HeapPerJob <= 100))
			break
		}
	}
	return out
}

func libName(f suite.Factory) string { return "`" + f.Name + "`" }

func count(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

func opCell(o *suite.Op, n int) string {
	switch {
	case o == nil:
		return "—"
	case o.OverBudget:
		return fmt.Sprintf("over budget: %s of %s in %v (%.0f)", count(o.Done), count(n), o.Elapsed.Round(time.Second), o.NsPerOp())
	case o.Err != "":
		return "error: " + o.Err
	}
	return fmt.Sprintf("%.0f (%.0f)", o.NsPerOp(), o.CPUPerOp())
}

func totalCell(o *suite.Op, n int) string {
	if o == nil || !o.Complete(n) {
		return "—"
	}
	return ms(o.Elapsed)
}

func idleCell(r *suite.Result) string {
	if r.IdleWindow == 0 {
		return "—"
	}
	return fmt.Sprintf("%s / %v", ms(r.IdleCPU), r.IdleWindow)
}

func fireCells(fr *suite.Fire, n int) []string {
	l := fr.Late
	if fr.Err != "" && l.Fired == 0 {
		return []string{fr.Err}
	}
	util := "—"
	if fr.Wall > 0 {
		util = fmt.Sprintf("%.0f%%", 100*fr.CPU.Seconds()/fr.Wall.Seconds())
	}
	cells := []string{fmt.Sprint(l.Fired), fmt.Sprint(l.Lost), fmt.Sprint(l.Dup),
		ms(l.P50), ms(l.P99), ms(l.Max), ms(fr.CPU), util}
	if fr.Err != "" {
		cells[len(cells)-1] += " (" + fr.Err + ")"
	}
	_ = n
	return cells
}

func ms(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= 100*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.2f ms", float64(d)/1e6)
}

func bytesCell(b float64) string { return fmt.Sprintf("%.0f", b) }
