package postgres_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tickler-go/tickler"
)

// mpDelivery is one line of a node's ledger.
type mpDelivery struct {
	node, inc int
	id, key   string
	occ       int64 // Unix ms
	confirmed int64 // Unix ns when the Confirm before it began; 0: unknown
	started   int64 // Unix ns
}

// check holds the ledgers against what the parent acknowledged:
//
//   - every acknowledged one-time Create that no Delete was tried on was
//     delivered (nothing acknowledged is lost), and every minute a
//     recurring schedule passed before the load ended was delivered, or
//     covered by a delivery of an earlier minute that began after it;
//   - no delivery's Confirm began after its Delete returned (the global
//     delete); a delivery that began after the Delete returned, its
//     Confirm before, is counted: the engine starts a delivery at its
//     Confirm, and a Delete cannot stop one confirmed already;
//   - no delivery began more than mpEarly before its occurrence, on the
//     real clock, whichever node's clock was skewed;
//   - a key delivered twice was delivered by a node killed or stopped (or
//     during a restart of PostgreSQL) between the two: the guarantee is at
//     least once, and a duplicate needs a node that lost its lease;
//   - no acknowledged delete left its record stored, no child raced or
//     panicked.
func (r *mpRun) check(loadEnd int64) {
	t := r.t
	var dels []mpDelivery
	ledgers, _ := filepath.Glob(filepath.Join(r.dir, "*.ledger"))
	for _, path := range ledgers {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			f := strings.Fields(l)
			if l == "" {
				continue
			}
			if len(f) != 8 || f[0] != "D" {
				// A kill can cut the last line of a ledger; its Deliverer
				// never returned, so it was never acked.
				t.Logf("%s line %d is torn: %q", filepath.Base(path), i+1, l)
				continue
			}
			dels = append(dels, mpDelivery{node: mpAtoi(t, f[1]), inc: mpAtoi(t, f[2]), id: f[3], key: f[4],
				occ: int64(mpAtoi(t, f[5])), confirmed: int64(mpAtoi(t, f[6])), started: int64(mpAtoi(t, f[7]))})
		}
	}
	stderrs, _ := filepath.Glob(filepath.Join(r.dir, "*.stderr"))
	leaseLost := 0
	for _, path := range stderrs {
		b, _ := os.ReadFile(path)
		if s := string(b); strings.Contains(s, "DATA RACE") || strings.Contains(s, "panic:") || strings.Contains(s, "--- FAIL") {
			t.Errorf("%s:\n%s", filepath.Base(path), s)
		}
		leaseLost += r.leaseLosses(path, string(b))
	}

	byKey := map[string][]mpDelivery{}
	byID := map[string][]mpDelivery{}
	unknown := 0
	var lateness []time.Duration
	for _, d := range dels {
		if want := tickler.IdempotencyKey(d.id, time.UnixMilli(d.occ)); d.key != want {
			t.Errorf("delivery %+v: key %s, want %s", d, d.key, want)
		}
		byKey[d.key] = append(byKey[d.key], d)
		byID[d.id] = append(byID[d.id], d)
		c, ok := r.creates[d.id]
		if !ok {
			unknown++ // a Create whose answer was lost
		}
		if ok && c.at != 0 && d.occ != c.at {
			t.Errorf("one-time %s due at %d delivered for occurrence %d", d.id, c.at, d.occ)
		}
		if early := time.Duration(d.occ*1e6 - d.started); early > mpEarly {
			t.Errorf("%s delivered %v early by node %d (clock skewed %v)", d.key, early, d.node, r.nodes[d.node].skew)
		}
	}
	for _, ds := range byKey {
		lateness = append(lateness, time.Duration(ds[0].started-ds[0].occ*1e6))
	}

	// Nothing acknowledged is lost; every minute is delivered.
	oneTime, cron := 0, 0
	for id, c := range r.creates {
		if c.at == 0 {
			cron++
			r.checkMinutes(id, c, byID[id], loadEnd)
			continue
		}
		oneTime++
		if !r.deleteTried[id] && len(byKey[tickler.IdempotencyKey(id, time.UnixMilli(c.at))]) == 0 {
			t.Errorf("one-time %s, acknowledged at %d and due at %d, was never delivered", id, c.acked, c.at)
		}
	}

	// A Delete that returned stops every node.
	raced, maxGap := 0, time.Duration(0)
	for id, acked := range r.deleted {
		for _, d := range byID[id] {
			switch {
			case d.confirmed > acked:
				t.Errorf("%s: node %d confirmed it %v after its Delete returned, and delivered it",
					d.key, d.node, time.Duration(d.confirmed-acked))
			case d.started > acked:
				raced++
				maxGap = max(maxGap, time.Duration(d.started-acked))
				if r.faultOn(d.node, d.confirmed, d.started) == nil && d.started-d.confirmed > int64(time.Second) {
					t.Errorf("%s: node %d began delivering %v after its Confirm, with no fault between",
						d.key, d.node, time.Duration(d.started-d.confirmed))
				}
			}
		}
	}
	stored := map[string]bool{}
	rows, err := pool.Query(ctx, "SELECT id FROM "+pgx.Identifier{r.schema}.Sanitize()+".schedules")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		stored[id] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for id := range r.deleted {
		if stored[id] {
			t.Errorf("%s is still stored after its Delete returned", id)
		}
	}
	for id, c := range r.creates {
		if c.at != 0 && stored[id] && !r.deleteTried[id] {
			t.Errorf("one-time %s (due %d) is still stored after it was delivered", id, c.at)
		}
	}

	// Duplicates only where a node lost its lease.
	dups, explained := 0, map[string]int{}
	for key, ds := range byKey {
		if len(ds) < 2 {
			continue
		}
		dups += len(ds) - 1
		from, to := ds[0].started, ds[0].started
		for _, d := range ds {
			from, to = min(from, d.started), max(to, d.started)
		}
		var why *mpFault
		for _, d := range ds {
			if why = r.faultOn(d.node, from-int64(mpLease), to); why != nil {
				break
			}
		}
		if why == nil {
			t.Errorf("%s delivered %d times with no fault between: %+v", key, len(ds), ds)
			continue
		}
		explained[why.kind] += len(ds) - 1
	}

	kinds := map[string]int{}
	for _, f := range r.faults {
		kinds[f.kind]++
	}
	p50, p99, pmax := mpPercentiles(lateness)
	t.Logf("%d nodes, faults %v; acknowledged: %d one-time and %d recurring creates, %d deletes; %d operations failed %q",
		len(r.nodes), kinds, oneTime, cron, len(r.deleted), len(r.failedOps), r.failedOps[:min(len(r.failedOps), 3)])
	t.Logf("%d deliveries of %d keys (%d of Creates whose answer was lost); duplicates %d, by cause %v; leases lost %d",
		len(dels), len(byKey), unknown, dups, explained, leaseLost)
	t.Logf("first delivery lateness p50 %v, p99 %v, max %v; %d deliveries began after their Delete returned, their Confirm before (at most %v after)",
		p50, p99, pmax, raced, maxGap)
	if oneTime == 0 || len(dels) == 0 {
		t.Error("nothing was created or delivered: the test proves nothing")
	}
}

// checkMinutes checks that every minute a recurring schedule passed, from
// its creation to the end of the load, was delivered, or was covered by a
// delivery of an earlier minute that began at or after it (the engine
// folds the occurrences that passed before a delivery began into it).
func (r *mpRun) checkMinutes(id string, c mpCreate, dels []mpDelivery, loadEnd int64) {
	minute := int64(time.Minute / time.Millisecond)
	for m := (c.acked/1e6/minute + 1) * minute; m*1e6 <= loadEnd; m += minute {
		covered := slices.ContainsFunc(dels, func(d mpDelivery) bool {
			return d.occ == m || (d.occ < m && d.started >= m*1e6)
		})
		if !covered {
			r.t.Errorf("recurring %s: the minute %s was never delivered", id, time.UnixMilli(m).UTC().Format(time.TimeOnly))
		}
	}
}

// faultOn returns a fault on node (or on the database) that overlaps
// [from, to], or nil.
// leaseLosses adds a fault for each time the node whose stderr is path
// logged that it lost its lease, and returns how many. A node that cannot
// heartbeat in time (a loaded machine starves it as a SIGSTOP would) loses
// its lease with no fault injected, and then its deliveries in flight may
// be made again by another node, as the guarantee allows: the fault covers
// the few seconds before the node noticed, from its last heartbeat on.
func (r *mpRun) leaseLosses(path, stderr string) int {
	t := r.t
	var node, inc int
	if _, err := fmt.Sscanf(filepath.Base(path), "node-%d-%d.stderr", &node, &inc); err != nil {
		t.Fatalf("stderr file %s: %v", path, err)
	}
	n := 0
	for _, line := range strings.Split(stderr, "\n") {
		if !strings.Contains(line, "lost its lease") {
			continue
		}
		n++
		stamp, _, _ := strings.Cut(strings.TrimPrefix(line, "time="), " ")
		at, err := time.Parse(time.RFC3339Nano, stamp)
		if err != nil {
			t.Errorf("%s: a lease lost at no readable time: %q", filepath.Base(path), line)
			continue
		}
		r.faults = append(r.faults, mpFault{kind: "lease-lost", node: node,
			from: at.Add(-5 * mpLease).UnixNano(), to: at.UnixNano()})
	}
	return n
}

func (r *mpRun) faultOn(node int, from, to int64) *mpFault {
	for i, f := range r.faults {
		if (f.node == node || f.node == -1) && f.from <= to && f.to >= from {
			return &r.faults[i]
		}
	}
	return nil
}

func mpPercentiles(ds []time.Duration) (p50, p99, pmax time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	at := func(q float64) time.Duration { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
	return at(0.50), at(0.99), ds[len(ds)-1]
}

func mpAtoi(t interface{ Fatal(...any) }, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(fmt.Errorf("ledger field %q: %w", s, err))
	}
	return n
}
