package callback_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tickler-go/tickler/callback"
)

// fakeHost is a receiver that counts the requests it is answering at once
// and signals each arrival on arrived (without blocking: arrived is large).
// Until released it holds every request (the host "never answers"); after,
// it answers with status.
type fakeHost struct {
	*httptest.Server
	arrived     chan struct{}
	release     chan struct{}
	releaseOnce sync.Once
	status      atomic.Int64
	total       atomic.Int64
	now, most   atomic.Int64
}

func newFakeHost(t *testing.T, held bool) *fakeHost {
	t.Helper()
	h := &fakeHost{arrived: make(chan struct{}, 4096), release: make(chan struct{})}
	h.status.Store(http.StatusNoContent)
	if !held {
		close(h.release)
	}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := h.now.Add(1)
		defer h.now.Add(-1)
		for m := h.most.Load(); n > m && !h.most.CompareAndSwap(m, n); m = h.most.Load() {
		}
		h.total.Add(1)
		select {
		case h.arrived <- struct{}{}:
		default:
		}
		select {
		case <-h.release:
		case <-r.Context().Done():
			return
		}
		w.WriteHeader(int(h.status.Load()))
	}))
	t.Cleanup(h.Close)
	return h
}

// answer lets held requests, and all later ones, be answered.
func (h *fakeHost) answer() { h.releaseOnce.Do(func() { close(h.release) }) }

// reportsTo returns a reporter that never blocks the sender, for tests that
// end many callbacks.
func reportsTo() (chan callback.Report, callback.Option) {
	ch := make(chan callback.Report, 4096)
	return ch, callback.WithReporter(func(r callback.Report) { ch <- r })
}

// The starvation of the hardening review, scaled down: a host that never
// answers gets 200 callbacks, more than the workers and the queue can
// hold, and another host's callbacks are still all sent, promptly, none
// dropped.
func TestHostThatNeverAnswersDoesNotStarveOtherHosts(t *testing.T) {
	t.Parallel()
	dead, alive := newFakeHost(t, true), newFakeHost(t, false)
	reports, reporter := reportsTo()
	s, _ := newSender(t, reporter, callback.AllowPrivate(), callback.WithWorkers(4), callback.WithQueueSize(64))
	t.Cleanup(dead.answer) // before Close, which drains what is left

	for i := range 200 {
		s.Handle(delivered(dead.URL + "/" + string(rune('a'+i%26))))
	}
	recv(t, dead.arrived) // the dead host holds workers from here on
	const n = 10
	for range n {
		s.Handle(delivered(alive.URL + "/hook"))
	}
	for sent := 0; sent < n; {
		rep := recv(t, reports)
		if rep.URL == alive.URL+"/hook" {
			if rep.Err != nil {
				t.Fatalf("a callback to the live host failed: %+v", rep)
			}
			sent++
		}
	}
	if got := alive.total.Load(); got != n {
		t.Fatalf("the live host got %d requests, want %d", got, n)
	}
}
