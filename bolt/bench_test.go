package bolt_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/google/uuid"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/bolt"
	"github.com/tickler-go/tickler/ticklertest"
)

var createAgents = flag.Int("bolt.agents", 0,
	"agents the callers of BenchmarkCreateDurable create for (0: one agent per caller)")
var createSpread = flag.Duration("bolt.spread", 0,
	"spread the instants of BenchmarkCreateDurable at random over this long (0: all a day ahead)")
var restartSchedules = flag.Int("bolt.restart", 100_000,
	"schedules in the file of BenchmarkRestart (the issue's figure is 1000000)")

func userText(s string) []tickler.Message {
	return []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text(s)}}
}

// nopDeliverer succeeds at once.
var nopDeliverer = tickler.DelivererFunc(func(context.Context, *tickler.Delivery) (tickler.Result, error) {
	return tickler.Result{}, nil
})

// BenchmarkCreateDurable measures Scheduler.Create over a bolt store, each
// call returning once its record is fsynced, from one caller and from 64
// concurrent callers whose writes share commits.
func BenchmarkCreateDurable(b *testing.B) {
	for _, callers := range []int{1, 64} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			st := open(b)
			s, err := tickler.New(st, nopDeliverer)
			if err != nil {
				b.Fatal(err)
			}
			pages := bolt.PagesWritten(st)
			req := tickler.CreateRequest{
				Messages: userText("check the deploy and report back"),
				Schedule: tickler.At(time.Now().Add(24 * time.Hour)),
			}
			var n atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for c := range callers {
				wg.Go(func() {
					agent := fmt.Sprintf("agent-%d", c)
					if *createAgents > 0 {
						agent = fmt.Sprintf("agent-%d", c%*createAgents)
					}
					for n.Add(1) <= int64(b.N) {
						req := req
						if *createSpread > 0 {
							req.Schedule = tickler.At(time.Now().Add(time.Hour + rand.N(*createSpread)))
						}
						if _, err := s.Create(ctx, agent, req); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
			// Pages written per create: what a commit costs, less noisy
			// than the rate on a shared machine.
			b.ReportMetric(float64(bolt.PagesWritten(st)-pages)/float64(b.N), "pages/op")
		})
	}
}

// claimWatch closes done once a claim returns less than its limit: the
// dispatcher has then claimed everything due within its look-ahead.
type claimWatch struct {
	tickler.Store
	once sync.Once
	done chan struct{}
}

func (w *claimWatch) Claim(ctx context.Context, p tickler.ClaimParams) (tickler.ClaimResult, error) {
	res, err := w.Store.Claim(ctx, p)
	if err == nil && len(res.Due) < p.Limit {
		w.once.Do(func() { close(w.done) })
	}
	return res, err
}

// BenchmarkRestart measures a restart over a file of -bolt.restart
// schedules: the time from Open to Start returned (ns/op, and
// ms-to-started), the time until the dispatcher has claimed all it will
// (ms-to-all-claimed), and then the live Go heap per stored schedule. Far
// future schedules lie beyond the look-ahead and are never loaded; overdue
// ones are all claimed into the dispatcher's heap (their deliveries hang
// until the end, so none is removed).
func BenchmarkRestart(b *testing.B) {
	n := *restartSchedules
	epoch := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name  string
		first time.Time
	}{
		{"far-future", epoch.Add(24 * time.Hour)},
		{"overdue", epoch.Add(-2 * time.Hour)},
	} {
		b.Run(fmt.Sprintf("%s/schedules=%d", c.name, n), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "restart.db")
			fill(b, path, n, c.first)
			var startNs, claimedNs, heap float64
			for b.Loop() {
				b.StopTimer()
				heap0 := heapBytes()
				b.StartTimer()

				t0 := time.Now()
				st, err := bolt.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				w := &claimWatch{Store: st, done: make(chan struct{})}
				mock := clock.NewMock()
				mock.Set(epoch)
				hang := tickler.DelivererFunc(func(ctx context.Context, _ *tickler.Delivery) (tickler.Result, error) {
					<-ctx.Done()
					return tickler.Result{}, ctx.Err()
				})
				s, err := tickler.New(w, hang, tickler.WithClock(ticklertest.Clock(mock)))
				if err != nil {
					b.Fatal(err)
				}
				if err := s.Start(ctx); err != nil {
					b.Fatal(err)
				}
				startNs += float64(time.Since(t0).Nanoseconds())
				b.StopTimer()
				<-w.done
				claimedNs += float64(time.Since(t0).Nanoseconds())
				heap += float64(heapBytes() - heap0)
				runtime.KeepAlive(s)
				stopCtx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
				_ = s.Stop(stopCtx)
				cancel()
				if err := st.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			runs := float64(b.N)
			b.ReportMetric(startNs/runs/1e6, "ms-to-started")
			b.ReportMetric(claimedNs/runs/1e6, "ms-to-all-claimed")
			b.ReportMetric(heap/runs/float64(n), "heap-B/schedule")
		})
	}
}

// fill writes n one-time schedules to a new file at path, due at random
// instants within the hour from first.
func fill(b *testing.B, path string, n int, first time.Time) {
	b.Helper()
	st, err := bolt.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	msg := tickler.MessageCreate{Messages: userText("check the deploy and report back")}
	recs := func(yield func(*tickler.Record) bool) {
		for i := range n {
			at := first.Add(time.Duration(rand.Int64N(int64(time.Hour))))
			if !yield(&tickler.Record{
				ID:       uuid.Must(uuid.NewV7()).String(),
				AgentID:  fmt.Sprintf("agent-%d", i%1000),
				Message:  msg,
				Schedule: tickler.At(at),
				Next:     at.Truncate(time.Millisecond),
			}) {
				return
			}
		}
	}
	if err := bolt.Load(st, recs, 50_000); err != nil {
		b.Fatal(err)
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
}

// heapBytes returns the live Go heap. It collects twice: sync.Pools (bbolt
// keeps page buffers in one) hold their objects through one collection.
func heapBytes() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
