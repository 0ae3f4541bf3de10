package callback_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/callback"
	"github.com/tickler-go/tickler/memory"
	"github.com/tickler-go/tickler/ticklertest"
)

// A scheduler that writes callbacks to the store's outbox, and a sender
// that drains it: the callback is sent with the occurrence's key, its
// failed attempt retried through the outbox, and its end recorded in the
// occurrence's history entry.
func TestOutboxIsDrainedRetriedAndFinishedIntoHistory(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	st := memory.New()
	s, reports := newSender(t, callback.AllowPrivate(), callback.WithOutbox(st),
		callback.WithBackoff(time.Millisecond, time.Millisecond), callback.WithOutboxPoll(10*time.Millisecond))
	b := ticklertest.NewWith(t, ticklertest.Config{Store: st,
		Options: []tickler.Option{tickler.WithCallbackOutbox(), tickler.WithEventHandler(s.Handle)}})
	b.Recorder.SetFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		return tickler.Result{RunID: "run-1", Response: map[string]string{"reply": "<done>"}}, nil
	})
	sm, err := b.Scheduler.Create(t.Context(), "agent-1", tickler.CreateRequest{
		Messages:    []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text("ping")}},
		Schedule:    tickler.Cron("0 * * * *"),
		CallbackURL: rc.URL + "/hook",
	})
	if err != nil {
		t.Fatal(err)
	}
	b.Advance(time.Hour)

	// The same body as the event path sends, twice, with one key.
	key := sm.ID + "@1767229200000"
	want := fmt.Sprintf(`{"scheduled_message_id":"%s","agent_id":"agent-1","occurrence":"2026-01-01T01:00:00.000Z",`+
		`"idempotency_key":"%s","status":"success","attempts":1,"response":{"reply":"<done>"},"run_id":"run-1","error":null}`, sm.ID, key)
	for i := range 2 {
		if got := recv(t, rc.reqs); got.body != want || got.key != key {
			t.Fatalf("request %d: key %s, body %s\nwant key %s, body %s", i+1, got.key, got.body, key, want)
		}
	}
	rep := recv(t, reports)
	if rep.Err != nil || rep.Attempts != 2 || rep.StatusCode != http.StatusNoContent || rep.Payload.IdempotencyKey != key {
		t.Fatalf("report %+v", rep)
	}
	h, _, err := b.Scheduler.History(t.Context(), "agent-1", sm.ID, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 1 || h[0].Callback == nil ||
		*h[0].Callback != (tickler.CallbackStatus{Status: tickler.CallbackSent, Attempts: 2, StatusCode: http.StatusNoContent}) {
		t.Fatalf("history %+v", h)
	}
	if cbs, _ := st.ClaimCallbacks(t.Context(), tickler.ClaimCallbacksParams{Now: time.Now().Add(time.Hour), Limit: 10, Lease: time.Minute}); len(cbs) != 0 {
		t.Fatalf("the outbox still holds %+v", cbs)
	}
	if st := s.Stats(); st.Sent != 1 || st.Failed != 0 || st.Dropped != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// Handle leaves to the outbox's sender an event whose callback the
// outbox holds: it queues nothing.
func TestHandleSendsNothingTheOutboxCarries(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	s, _ := newSender(t, callback.AllowPrivate())
	ev := delivered(rc.URL)
	ev.CallbackQueued = true
	s.Handle(ev)
	if hs := s.HostStats(); len(hs) != 0 {
		t.Fatalf("Handle queued a callback the outbox carries: %+v", hs)
	}
}

// Close hands the outbox's callbacks that wait (here behind an open
// breaker) back to the outbox instead of failing them, so the next sender
// sends them.
func TestCloseHandsWaitingCallbacksBackToTheOutbox(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	st := memory.New()
	for i := range 3 {
		id := fmt.Sprintf("r%d", i)
		r := &tickler.Record{ID: id, AgentID: "a", Schedule: tickler.Cron("* * * * *"), Next: ticklertest.Epoch()}
		if err := st.Create(t.Context(), r, tickler.CreateParams{}); err != nil {
			t.Fatal(err)
		}
		cb := &tickler.Callback{ID: "cb-" + id, ScheduledMessageID: id, URL: rc.URL, Key: id + "@1",
			Payload: []byte(`{"idempotency_key":"` + id + `@1"}`), NextAttempt: time.Now()}
		if err := st.Ack(t.Context(), tickler.AckParams{ID: id, Version: 1, Next: ticklertest.Epoch().Add(time.Minute), Callback: cb}); err != nil {
			t.Fatal(err)
		}
	}
	// One failure opens the breaker for an hour: the first callback goes
	// back with its backoff, the other two wait behind the breaker.
	s, reports := newSender(t, callback.AllowPrivate(), callback.WithOutbox(st), callback.WithPerHost(1),
		callback.WithBreaker(1, time.Hour, time.Hour), callback.WithBackoff(time.Hour, time.Hour))
	recv(t, rc.reqs)
	deadline := time.Now().Add(waitTimeout)
	for s.Stats().HostsOpen != 1 || s.HostStats()[rc.URL].Waiting != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v, hosts %+v", s.Stats(), s.HostStats())
		}
		time.Sleep(time.Millisecond)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatalf("Close waited for callbacks the outbox keeps: %v", err)
	}
	select {
	case r := <-reports:
		t.Fatalf("a callback handed back was reported: %+v", r)
	default:
	}
	cbs, err := st.ClaimCallbacks(t.Context(), tickler.ClaimCallbacksParams{Now: time.Now(), Limit: 10, Lease: time.Minute})
	if err != nil || len(cbs) != 2 {
		t.Fatalf("claimed %+v, %v after Close; want the two that waited, due at once", cbs, err)
	}
	for _, c := range cbs {
		if c.Attempts != 0 {
			t.Fatalf("a callback that waited was handed back with %d attempts", c.Attempts)
		}
	}
	// The failed one comes back after its backoff, its attempt counted
	// (with the two claimed above, whose lease has ended by then).
	later, _ := st.ClaimCallbacks(t.Context(), tickler.ClaimCallbacksParams{Now: time.Now().Add(2 * time.Hour), Limit: 10, Lease: time.Minute})
	if len(later) != 3 || later[2].Attempts != 1 {
		t.Fatalf("two hours later claimed %+v; want the failed one last, with 1 attempt", later)
	}
}

// roundTripper answers in memory, so that a sender under synctest makes
// its requests inside the bubble.
type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// outboxWith returns a memory store whose outbox holds a callback for
// each id to url, due now.
func outboxWith(t *testing.T, url string, ids ...string) *memory.Store {
	t.Helper()
	st := memory.New()
	for _, id := range ids {
		r := &tickler.Record{ID: id, AgentID: "a", Schedule: tickler.Cron("* * * * *"), Next: time.Now()}
		if err := st.Create(t.Context(), r, tickler.CreateParams{}); err != nil {
			t.Fatal(err)
		}
		cb := &tickler.Callback{ID: "cb-" + id, ScheduledMessageID: id, URL: url, Key: id + "@1",
			Payload: []byte(`{"idempotency_key":"` + id + `@1"}`), NextAttempt: time.Now()}
		if err := st.Ack(t.Context(), tickler.AckParams{ID: id, Version: 1, Next: time.Now().Add(time.Minute), Callback: cb}); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// An attempt of an outbox callback ends with its lease, when the lease is
// shorter than the sender's timeout: it cannot go on while another node
// sends the callback.
func TestOutboxAttemptEndsWithItsLease(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		deadlines := make(chan time.Time, 1)
		client := &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
			d, _ := r.Context().Deadline()
			deadlines <- d
			return &http.Response{StatusCode: http.StatusNoContent, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
		})}
		st := outboxWith(t, "https://hooks.example/cb", "r1")
		s := callback.New(callback.WithHTTPClient(client), callback.WithOutbox(st), callback.WithOutboxLease(time.Second),
			callback.WithTimeout(10*time.Second))
		defer s.Close(context.Background())
		synctest.Wait()
		select {
		case d := <-deadlines:
			if d.IsZero() || d.After(start.Add(time.Second)) {
				t.Fatalf("the attempt's deadline is %v after the claim, past its lease of 1s", d.Sub(start))
			}
		default:
			t.Fatal("the callback was not sent")
		}
	})
}

// A callback that waits behind an open breaker until its lease has ended
// is not sent: another node may have claimed it meanwhile, and sends it.
// Inside a synctest bubble: time.Sleep moves the bubble's fake clock, and
// synctest.Wait returns once every goroutine of the sender is idle.
func TestCallbackHeldPastItsLeaseIsNotSent(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var sent []string // the idempotency keys, in order
		client := &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			defer mu.Unlock()
			sent = append(sent, r.Header.Get("Idempotency-Key"))
			status := http.StatusNoContent
			if len(sent) == 1 {
				status = http.StatusServiceUnavailable
			}
			return &http.Response{StatusCode: status, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
		})}
		st := outboxWith(t, "https://hooks.example/cb", "r1", "r2")
		// The first attempt fails and opens the breaker for two minutes,
		// twice the lease: r2's callback waits behind it.
		s := callback.New(callback.WithHTTPClient(client), callback.WithOutbox(st), callback.WithOutboxLease(time.Minute),
			callback.WithOutboxPoll(time.Hour), callback.WithTimeout(10*time.Second), callback.WithPerHost(1),
			callback.WithBreaker(1, 2*time.Minute, 2*time.Minute), callback.WithBackoff(time.Hour, time.Hour))
		defer s.Close(context.Background())
		synctest.Wait()
		if hs := s.HostStats()["https://hooks.example:443"]; !hs.Open || hs.Waiting != 1 {
			t.Fatalf("host stats %+v, want an open breaker and r2's callback waiting", hs)
		}
		// Another node claims r2's callback once its lease has ended.
		other, err := st.ClaimCallbacks(t.Context(), tickler.ClaimCallbacksParams{Now: time.Now().Add(time.Minute), Limit: 10, Lease: time.Hour})
		if err != nil || len(other) != 1 || other[0].ID != "cb-r2" {
			t.Fatalf("another node claimed %+v, %v; want r2's callback", other, err)
		}
		time.Sleep(2 * time.Minute) // the breaker half-opens
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if len(sent) != 1 || sent[0] != "r1@1" {
			t.Fatalf("sent %v, want only r1@1: r2's lease had ended", sent)
		}
		if hs := s.HostStats()["https://hooks.example:443"]; hs.Waiting != 0 || hs.Sending != 0 {
			t.Fatalf("host stats %+v: the sender still holds r2's callback", hs)
		}
	})
}
