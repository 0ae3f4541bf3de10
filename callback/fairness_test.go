package callback_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/tickler-go/tickler/callback"
	"github.com/tickler-go/tickler/ticklertest"
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
// answers gets 200 callbacks, more than its cap and its queue can hold,
// and another host's callbacks are still all sent, promptly, none
// dropped; the dead host's overflow is dropped, counted and reported, and
// it never has more than its cap of attempts in flight.
func TestHostThatNeverAnswersDoesNotStarveOtherHosts(t *testing.T) {
	t.Parallel()
	dead, alive := newFakeHost(t, true), newFakeHost(t, false)
	reports, reporter := reportsTo()
	s, _ := newSender(t, reporter, callback.AllowPrivate(), callback.WithTimeout(time.Minute),
		callback.WithWorkers(4), callback.WithPerHost(2), callback.WithHostQueue(16))
	t.Cleanup(dead.answer) // before Close, which drains what is left

	for i := range 200 {
		s.Handle(delivered(fmt.Sprintf("%s/%d", dead.URL, i)))
	}
	recv(t, dead.arrived) // the dead host holds workers from here on
	const n = 10
	for range n {
		s.Handle(delivered(alive.URL + "/hook"))
	}
	var dropped uint64
	for sent := 0; sent < n; {
		rep := recv(t, reports)
		switch {
		case rep.Dropped && rep.Host == dead.URL && errors.Is(rep.Err, callback.ErrDropped):
			dropped++
		case rep.URL == alive.URL+"/hook" && rep.Err == nil:
			sent++
		default:
			t.Fatalf("report %+v", rep)
		}
	}
	if got := alive.total.Load(); got != n {
		t.Fatalf("the live host got %d requests, want %d", got, n)
	}
	if most := dead.most.Load(); most > 2 {
		t.Fatalf("%d attempts to the dead host at once, want at most 2", most)
	}
	// Each of the first 2 callbacks may have started before the last was
	// queued, making room for another.
	if dropped < 200-16-2 || dropped > 200-16 {
		t.Fatalf("%d dropped, want 182 to 184", dropped)
	}
	hs := s.HostStats()
	if st := s.Stats(); st.Dropped != dropped || st.Sent != n || hs[dead.URL].Dropped != dropped || hs[alive.URL].Dropped != 0 {
		t.Fatalf("stats %+v, hosts %+v, %d drops reported", st, hs, dropped)
	}
}

func TestAttemptsToOneHostNeverExceedThePerHostCap(t *testing.T) {
	t.Parallel()
	h := newFakeHost(t, true)
	reports, reporter := reportsTo()
	s, _ := newSender(t, reporter, callback.AllowPrivate(), callback.WithWorkers(8), callback.WithPerHost(3))
	t.Cleanup(h.answer)
	for i := range 20 {
		s.Handle(delivered(fmt.Sprintf("%s/%d", h.URL, i)))
	}
	for range 3 {
		recv(t, h.arrived)
	}
	if hs := s.HostStats()[h.URL]; hs.Sending != 3 || hs.Waiting != 17 {
		t.Fatalf("host stats %+v", hs)
	}
	h.answer()
	for range 20 {
		if rep := recv(t, reports); rep.Err != nil {
			t.Fatalf("report %+v", rep)
		}
	}
	if most := h.most.Load(); most != 3 {
		t.Fatalf("%d attempts at once, want 3", most)
	}
}

// After k consecutive failed attempts a host's callbacks wait, untried
// and not dropped, for the cool-down; then one is tried as a probe. A
// failed probe doubles the cool-down; an answer closes the breaker.
func TestBreakerOpensAfterConsecutiveFailuresAndProbesAfterTheCoolDown(t *testing.T) {
	t.Parallel()
	mock := clock.NewMock()
	var healthy atomic.Bool
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	s, reports := newSender(t, callback.AllowPrivate(), callback.WithClock(ticklertest.Clock(mock)),
		callback.WithRetries(0), callback.WithBreaker(3, time.Minute, 3*time.Minute))
	send := func(path string) { s.Handle(delivered(rc.URL + path)) }
	expect := func(path string, status int) {
		t.Helper()
		if got := recv(t, rc.reqs); got.path != path {
			t.Fatalf("sent %s, want %s", got.path, path)
		}
		if rep := recv(t, reports); rep.URL != rc.URL+path || rep.StatusCode != status || rep.Attempts != 1 {
			t.Fatalf("report %+v, want %s answered %d", rep, path, status)
		}
	}
	waiting := func(open bool, waiting int) {
		t.Helper()
		if hs := s.HostStats()[rc.URL]; hs.Open != open || hs.Waiting != waiting || hs.Sending != 0 || len(rc.reqs) != 0 {
			t.Fatalf("host stats %+v, %d requests", hs, len(rc.reqs))
		}
	}

	for range 3 {
		send("/fail")
		expect("/fail", http.StatusServiceUnavailable)
	}
	if st := s.Stats(); st != (callback.Stats{Failed: 3, HostsOpen: 1}) {
		t.Fatalf("stats %+v", st)
	}
	send("/probe-1")
	waiting(true, 1)
	mock.Add(time.Minute - time.Second)
	waiting(true, 1)
	mock.Add(time.Second) // the cool-down is over: /probe-1 is tried, and fails
	expect("/probe-1", http.StatusServiceUnavailable)

	send("/probe-2")
	mock.Add(time.Minute) // not yet: a failed probe doubles the cool-down
	waiting(true, 1)
	healthy.Store(true)
	mock.Add(time.Minute)
	expect("/probe-2", http.StatusOK)
	if st := s.Stats(); st != (callback.Stats{Sent: 1, Failed: 4}) {
		t.Fatalf("stats %+v", st)
	}
	send("/after")
	expect("/after", http.StatusOK)
}

// Close that gives up fails, and reports, the callbacks that wait: for a
// retry's backoff, or behind an open breaker.
func TestCloseFailsCallbacksWaitingForABackoffOrABreaker(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/fail") {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	closeNow := func(s *callback.Sender) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := s.Close(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Close: %v", err)
		}
	}

	// One attempt at a time: /sent starts once /fail-backoff is in its backoff.
	s, reports := newSender(t, callback.AllowPrivate(), callback.WithWorkers(1), callback.WithPerHost(1),
		callback.WithBackoff(time.Hour, time.Hour))
	s.Handle(delivered(rc.URL + "/fail-backoff"))
	s.Handle(delivered(rc.URL + "/sent"))
	if rep := recv(t, reports); rep.URL != rc.URL+"/sent" || rep.Err != nil {
		t.Fatalf("report %+v", rep)
	}
	closeNow(s)
	if rep := recv(t, reports); rep.URL != rc.URL+"/fail-backoff" || rep.Attempts != 1 || rep.StatusCode != http.StatusServiceUnavailable ||
		rep.Err == nil || !strings.Contains(rep.Err.Error(), "closing after 1 attempts") {
		t.Fatalf("report %+v", rep)
	}
	if st := s.Stats(); st != (callback.Stats{Sent: 1, Failed: 1}) {
		t.Fatalf("stats %+v", st)
	}

	// The breaker opens with /fail's report: /behind waits behind it.
	s, reports = newSender(t, callback.AllowPrivate(), callback.WithRetries(0), callback.WithBreaker(1, time.Hour, time.Hour))
	s.Handle(delivered(rc.URL + "/fail"))
	if rep := recv(t, reports); rep.URL != rc.URL+"/fail" || rep.Err == nil {
		t.Fatalf("report %+v", rep)
	}
	s.Handle(delivered(rc.URL + "/behind"))
	closeNow(s)
	if rep := recv(t, reports); rep.URL != rc.URL+"/behind" || rep.Attempts != 0 || rep.Dropped ||
		!errors.Is(rep.Err, context.Canceled) || !strings.Contains(rep.Err.Error(), "closed before") {
		t.Fatalf("report %+v", rep)
	}
	if st := s.Stats(); st.Failed != 2 || st.Sent != 0 || st.Dropped != 0 {
		t.Fatalf("stats %+v", st)
	}
}
