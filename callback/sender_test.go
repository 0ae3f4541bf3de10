package callback_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/callback"
	"github.com/tickler-go/tickler/ticklertest"
)

// waitTimeout bounds every wait for a signal.
const waitTimeout = 10 * time.Second

func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("no %T within %v", *new(T), waitTimeout)
		panic("unreachable")
	}
}

// received is a request a receiver got.
type received struct {
	method, path, contentType, key, userAgent, body string
}

// receiver is an HTTP server that records each request on reqs, then
// answers with answer(n) for the n-th request (from 1), or 204.
type receiver struct {
	*httptest.Server
	reqs chan received
}

func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{reqs: make(chan received, 100)}
	var count atomic.Int64
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		// Atomic: a retry can arrive while the handler of an attempt the
		// sender timed out on still runs.
		n := int(count.Add(1))
		rc.reqs <- received{r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("Idempotency-Key"), r.Header.Get("User-Agent"), string(b)}
		if answer != nil {
			answer(n, w, r)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// newSender returns a started sender reporting on the returned channel,
// closed when the test ends.
func newSender(t *testing.T, opts ...callback.Option) (*callback.Sender, <-chan callback.Report) {
	t.Helper()
	reports := make(chan callback.Report, 100)
	opts = append([]callback.Option{callback.WithReporter(func(r callback.Report) { reports <- r })}, opts...)
	s := callback.New(opts...)
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s, reports
}

var occurrence = time.Date(2026, 8, 7, 22, 0, 0, 0, time.UTC)

func delivered(url string) tickler.Event {
	return tickler.Event{
		Kind:               tickler.EventDelivered,
		ScheduledMessageID: "sm-1",
		AgentID:            "agent-1",
		Occurrence:         occurrence,
		IdempotencyKey:     tickler.IdempotencyKey("sm-1", occurrence),
		Attempt:            2,
		Result:             tickler.Result{RunID: "run-7", Response: map[string]any{"messages": []string{"done"}, "steps": 3}},
		CallbackURL:        url,
	}
}

func TestDeliveredEventPostsASuccessPayload(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	s, reports := newSender(t, callback.AllowPrivate())
	s.Handle(delivered(rc.URL + "/hook"))
	got := recv(t, rc.reqs)
	want := received{
		method: "POST", path: "/hook", contentType: "application/json", key: "sm-1@1786140000000", userAgent: "tickler-callback",
		body: `{"scheduled_message_id":"sm-1","agent_id":"agent-1","occurrence":"2026-08-07T22:00:00.000Z",` +
			`"idempotency_key":"sm-1@1786140000000","status":"success","attempts":2,` +
			`"response":{"messages":["done"],"steps":3},"run_id":"run-7","error":null}`,
	}
	if got != want {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	rep := recv(t, reports)
	if rep.Err != nil || rep.Attempts != 1 || rep.StatusCode != http.StatusNoContent || rep.URL != rc.URL+"/hook" {
		t.Fatalf("report %+v", rep)
	}
	if st := s.Stats(); st != (callback.Stats{Sent: 1}) {
		t.Fatalf("stats %+v", st)
	}
}

func TestGaveUpEventPostsAFailedPayload(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	s, reports := newSender(t, callback.AllowPrivate())
	s.Handle(tickler.Event{
		Kind: tickler.EventGaveUp, ScheduledMessageID: "sm-1", AgentID: "agent-1", Occurrence: occurrence,
		IdempotencyKey: "sm-1@1786140000000", Attempt: 5, Err: errors.New("agent offline"), CallbackURL: rc.URL,
	})
	got := recv(t, rc.reqs)
	want := `{"scheduled_message_id":"sm-1","agent_id":"agent-1","occurrence":"2026-08-07T22:00:00.000Z",` +
		`"idempotency_key":"sm-1@1786140000000","status":"failed","attempts":5,"response":null,"run_id":null,"error":"agent offline"}`
	if got.body != want {
		t.Fatalf("got  %s\nwant %s", got.body, want)
	}
	recv(t, reports)
}

func TestOnlyEventsEndingADeliveryWithACallbackURLAreSent(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	s, reports := newSender(t, callback.AllowPrivate(), callback.WithWorkers(1))
	retry := delivered(rc.URL + "/retry")
	retry.Kind = tickler.EventRetry
	skipped := delivered(rc.URL + "/skipped")
	skipped.Kind = tickler.EventSkipped
	s.Handle(retry)
	s.Handle(skipped)
	s.Handle(delivered(""))
	s.Handle(delivered(rc.URL + "/last"))
	if got := recv(t, rc.reqs); got.path != "/last" {
		t.Fatalf("sent %s", got.path)
	}
	recv(t, reports)
	if st := s.Stats(); st != (callback.Stats{Sent: 1}) {
		t.Fatalf("stats %+v", st)
	}
}

func TestResponseThatIsNotJSONIsSentAsNull(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	s, _ := newSender(t, callback.AllowPrivate())
	ev := delivered(rc.URL)
	ev.Result = tickler.Result{Response: func() {}}
	s.Handle(ev)
	want := `{"scheduled_message_id":"sm-1","agent_id":"agent-1","occurrence":"2026-08-07T22:00:00.000Z",` +
		`"idempotency_key":"sm-1@1786140000000","status":"success","attempts":2,"response":null,"run_id":null,"error":null}`
	if got := recv(t, rc.reqs); got.body != want {
		t.Fatalf("got %s", got.body)
	}
}

func TestRetryableFailuresAreRetriedUntilTheyGiveUp(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusTooManyRequests, http.StatusRequestTimeout} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) })
			s, reports := newSender(t, callback.AllowPrivate(), callback.WithWorkers(1),
				callback.WithRetries(2), callback.WithBackoff(time.Millisecond, 2*time.Millisecond))
			s.Handle(delivered(rc.URL))
			rep := recv(t, reports)
			if rep.Err == nil || rep.Attempts != 3 || rep.StatusCode != status {
				t.Fatalf("report %+v", rep)
			}
			if n := len(rc.reqs); n != 3 {
				t.Fatalf("%d requests, want 3", n)
			}
			for range 3 {
				if got := <-rc.reqs; got.key != "sm-1@1786140000000" {
					t.Fatalf("retry changed the key: %+v", got)
				}
			}
			if st := s.Stats(); st != (callback.Stats{Failed: 1}) {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func TestRetrySucceedsAfterAFailure(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	s, reports := newSender(t, callback.AllowPrivate(), callback.WithWorkers(1), callback.WithBackoff(time.Millisecond, time.Millisecond))
	s.Handle(delivered(rc.URL))
	rep := recv(t, reports)
	if rep.Err != nil || rep.Attempts != 2 || rep.StatusCode != http.StatusOK {
		t.Fatalf("report %+v", rep)
	}
	if st := s.Stats(); st != (callback.Stats{Sent: 1}) {
		t.Fatalf("stats %+v", st)
	}
}

func TestAnswersNotWorthRetryingAreNotRetried(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusBadRequest, http.StatusNotFound, http.StatusFound, http.StatusMovedPermanently} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "/elsewhere", status) // for a non-3xx status, the Location is ignored
			})
			s, reports := newSender(t, callback.AllowPrivate(), callback.WithBackoff(time.Millisecond, time.Millisecond))
			s.Handle(delivered(rc.URL + "/hook"))
			rep := recv(t, reports)
			if rep.Err == nil || rep.Attempts != 1 || rep.StatusCode != status {
				t.Fatalf("report %+v", rep)
			}
			if got := recv(t, rc.reqs); got.path != "/hook" || len(rc.reqs) != 0 {
				t.Fatalf("requests: %+v and %d more", got, len(rc.reqs))
			}
		})
	}
}

func TestEachAttemptIsBoundedByTheTimeout(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	s, reports := newSender(t, callback.AllowPrivate(), callback.WithTimeout(50*time.Millisecond),
		callback.WithRetries(1), callback.WithBackoff(time.Millisecond, time.Millisecond))
	s.Handle(delivered(rc.URL))
	rep := recv(t, reports)
	if !errors.Is(rep.Err, context.DeadlineExceeded) || rep.Attempts != 2 {
		t.Fatalf("report %+v", rep)
	}
}

func TestLoopbackIsRefusedByDefault(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	s, reports := newSender(t, callback.WithBackoff(time.Millisecond, time.Millisecond))
	for _, u := range []string{rc.URL, "http://[::1]:1/", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1:8080/"} {
		s.Handle(delivered(u))
		rep := recv(t, reports)
		if !errors.Is(rep.Err, callback.ErrRefused) || rep.Attempts != 1 {
			t.Fatalf("%s: report %+v", u, rep)
		}
	}
	if n := len(rc.reqs); n != 0 {
		t.Fatalf("the receiver got %d requests", n)
	}
	if st := s.Stats(); st != (callback.Stats{Failed: 4}) {
		t.Fatalf("stats %+v", st)
	}
}

// resolver answers from a map.
type resolver map[string][]netip.Addr

func (r resolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if ips, ok := r[host]; ok {
		return ips, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func TestHostNameResolvingToAPrivateAddressIsRefused(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	u, _ := url.Parse(rc.URL)
	dns := resolver{
		"callbacks.example": {netip.MustParseAddr("127.0.0.1")},
		"mixed.example":     {netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("127.0.0.1")},
	}
	s, reports := newSender(t, callback.WithResolver(dns))
	for _, host := range []string{"callbacks.example", "mixed.example"} {
		s.Handle(delivered("http://" + host + ":" + u.Port() + "/hook"))
		rep := recv(t, reports)
		if !errors.Is(rep.Err, callback.ErrRefused) || rep.Attempts != 1 {
			t.Fatalf("%s: report %+v", host, rep)
		}
	}
	if n := len(rc.reqs); n != 0 {
		t.Fatalf("the receiver got %d requests", n)
	}

	// With AllowPrivate the same name reaches the receiver, through the
	// address the resolver gave.
	open, reports := newSender(t, callback.WithResolver(dns), callback.AllowPrivate())
	open.Handle(delivered("http://callbacks.example:" + u.Port() + "/hook"))
	if rep := recv(t, reports); rep.Err != nil {
		t.Fatalf("report %+v", rep)
	}
	recv(t, rc.reqs)
}

func TestFullHostQueueDropsCountsAndReports(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) { <-release })
	s, reports := newSender(t, callback.AllowPrivate(), callback.WithWorkers(1), callback.WithHostQueue(1))
	s.Handle(delivered(rc.URL + "/1"))
	recv(t, rc.reqs) // the only worker is busy with /1
	s.Handle(delivered(rc.URL + "/2"))
	s.Handle(delivered(rc.URL + "/3")) // the host's queue holds /2: dropped
	if st := s.Stats(); st != (callback.Stats{Dropped: 1}) {
		t.Fatalf("stats %+v", st)
	}
	rep := recv(t, reports)
	if !rep.Dropped || !errors.Is(rep.Err, callback.ErrDropped) || rep.Attempts != 0 || rep.URL != rc.URL+"/3" || rep.Host != rc.URL {
		t.Fatalf("report %+v, want /3 dropped", rep)
	}
	if hs := s.HostStats()[rc.URL]; hs.Dropped != 1 || hs.Waiting != 1 || hs.Sending != 1 {
		t.Fatalf("host stats %+v", hs)
	}
	close(release)
	for _, want := range []string{"/1", "/2"} {
		if rep := recv(t, reports); rep.URL != rc.URL+want || rep.Err != nil || rep.Dropped {
			t.Fatalf("report %+v, want %s", rep, want)
		}
	}
	if got := recv(t, rc.reqs); got.path != "/2" {
		t.Fatalf("sent %s", got.path)
	}
}

func TestCloseWaitsForQueuedCallbacksThenDropsLaterOnes(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	s, reports := newSender(t, callback.AllowPrivate(), callback.WithWorkers(1))
	for i := range 3 {
		s.Handle(delivered(fmt.Sprintf("%s/%d", rc.URL, i)))
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(reports); n != 3 {
		t.Fatalf("%d callbacks ended before Close returned, want 3", n)
	}
	for range 3 {
		<-reports
	}
	s.Handle(delivered(rc.URL))
	if rep := recv(t, reports); !rep.Dropped || !errors.Is(rep.Err, callback.ErrDropped) {
		t.Fatalf("report %+v", rep)
	}
	if st := s.Stats(); st != (callback.Stats{Sent: 3, Dropped: 1}) {
		t.Fatalf("stats %+v", st)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestCloseCancelsWhatIsLeftWhenItsContextEnds(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	s, reports := newSender(t, callback.AllowPrivate(), callback.WithTimeout(time.Hour), callback.WithWorkers(1))
	s.Handle(delivered(rc.URL + "/running"))
	s.Handle(delivered(rc.URL + "/queued"))
	recv(t, rc.reqs)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close: %v", err)
	}
	for range 2 {
		if rep := recv(t, reports); rep.Err == nil {
			t.Fatalf("report %+v", rep)
		}
	}
	if st := s.Stats(); st != (callback.Stats{Failed: 2}) {
		t.Fatalf("stats %+v", st)
	}
}

func TestSchedulerEventsReachTheCallbackURL(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	s, reports := newSender(t, callback.AllowPrivate())
	b := ticklertest.New(t, tickler.WithEventHandler(s.Handle))
	b.Recorder.SetFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		return tickler.Result{RunID: "run-1", Response: map[string]string{"reply": "done"}}, nil
	})
	sm, err := b.Scheduler.Create(t.Context(), "agent-1", tickler.CreateRequest{
		Messages:    []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text("ping")}},
		Schedule:    tickler.At(ticklertest.Epoch().Add(time.Hour)),
		CallbackURL: rc.URL + "/hook",
	})
	if err != nil {
		t.Fatal(err)
	}
	b.Advance(time.Hour)
	want := fmt.Sprintf(`{"scheduled_message_id":"%s","agent_id":"agent-1","occurrence":"2026-01-01T01:00:00.000Z",`+
		`"idempotency_key":"%[1]s@1767229200000","status":"success","attempts":1,"response":{"reply":"done"},"run_id":"run-1","error":null}`, sm.ID)
	if got := recv(t, rc.reqs); got.body != want {
		t.Fatalf("got  %s\nwant %s", got.body, want)
	}
	recv(t, reports)
}

func TestPayloadKeepsHTMLCharactersAsTheyAre(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	s, _ := newSender(t, callback.AllowPrivate())
	ev := delivered(rc.URL)
	ev.Result = tickler.Result{RunID: "<run>&", Response: map[string]string{"reply": "<b>bold</b> & more"}}
	s.Handle(ev)
	want := `{"scheduled_message_id":"sm-1","agent_id":"agent-1","occurrence":"2026-08-07T22:00:00.000Z",` +
		`"idempotency_key":"sm-1@1786140000000","status":"success","attempts":2,` +
		`"response":{"reply":"<b>bold</b> & more"},"run_id":"<run>&","error":null}`
	if got := recv(t, rc.reqs); got.body != want {
		t.Fatalf("got  %s\nwant %s", got.body, want)
	}
}

// A callback URL may carry credentials (https://user:token@host/); they
// never reach a log line, a report or an error.
func TestCredentialsInACallbackURLAreNeverLogged(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.WriteHeader(http.StatusBadRequest)
		}
	})
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close() // nothing listens there any more
	withCreds := func(u string) string { return strings.Replace(u, "http://", "http://tok3n:s3cret@", 1) }

	open, reports := newSender(t, callback.AllowPrivate(), callback.WithLogger(logger), callback.WithRetries(0))
	guarded, greports := newSender(t, callback.WithLogger(logger))
	var reps []callback.Report
	open.Handle(delivered(withCreds(rc.URL) + "/hook")) // answered 400
	reps = append(reps, recv(t, reports))
	open.Handle(delivered(withCreds(rc.URL) + "/hook")) // answered 200
	reps = append(reps, recv(t, reports))
	open.Handle(delivered(withCreds(closed.URL) + "/hook")) // connection refused
	reps = append(reps, recv(t, reports))
	open.Handle(delivered("http://tok3n:s3cret@exa mple.com/")) // no URL at all
	reps = append(reps, recv(t, reports))
	guarded.Handle(delivered(withCreds(rc.URL) + "/hook")) // refused address
	reps = append(reps, recv(t, greports))
	if err := open.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	open.Handle(delivered(withCreds(rc.URL))) // dropped: closed

	for i, rep := range reps {
		s := fmt.Sprintf("%s %v", rep.URL, rep.Err)
		if strings.Contains(s, "tok3n") || strings.Contains(s, "s3cret") {
			t.Errorf("report %d: %s", i, s)
		}
	}
	if out := logs.String(); strings.Contains(out, "tok3n") || strings.Contains(out, "s3cret") || strings.Count(out, "level=") != 6 {
		t.Errorf("logs:\n%s", out)
	}
}

// syncBuffer is a bytes.Buffer safe for the sender's workers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// An IPv6 address can spell an IPv4 one: IPv4-mapped (::ffff:127.0.0.1) is
// judged as the IPv4 address, and the deprecated IPv4-compatible form
// (::127.0.0.1), which some stacks route to IPv4, is refused whatever it
// embeds.
func TestIPv6SpellingsOfIPv4AddressesAreRefused(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	u, _ := url.Parse(rc.URL)
	s, reports := newSender(t)
	for _, host := range []string{"[::127.0.0.1]", "[::ffff:127.0.0.1]", "[::7f00:1]", "[::8.8.8.8]", "[::ffff:7f00:1]"} {
		s.Handle(delivered("http://" + host + ":" + u.Port() + "/hook"))
		if rep := recv(t, reports); !errors.Is(rep.Err, callback.ErrRefused) || rep.Attempts != 1 {
			t.Errorf("%s: report %+v", host, rep)
		}
	}
	if n := len(rc.reqs); n != 0 {
		t.Fatalf("the receiver got %d requests", n)
	}
}
