package letta

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/deliver"
)

const (
	agentID = "agent-123e4567-e89b-42d3-8456-426614174000"
	token   = "sk-let-TOKEN-SECRET"
	key     = "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b@1764504000000"
)

// fake is a Letta server that records each request and answers with the
// handler the test gives.
type fake struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []seen
}

type seen struct {
	Method, Path string
	Header       http.Header
	Body         map[string]any
}

func newFake(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, n int)) *fake {
	t.Helper()
	f := &fake{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s := seen{Method: r.Method, Path: r.URL.EscapedPath(), Header: r.Header.Clone()}
		if len(b) > 0 {
			if err := json.Unmarshal(b, &s.Body); err != nil {
				t.Errorf("request body is not a JSON object: %v: %s", err, b)
			}
		}
		f.mu.Lock()
		f.reqs = append(f.reqs, s)
		n := len(f.reqs)
		f.mu.Unlock()
		answer(w, r, n)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.reqs...)
}

// reply writes a JSON answer.
func reply(w http.ResponseWriter, status int, body string, header ...string) {
	for i := 0; i+1 < len(header); i += 2 {
		w.Header().Set(header[i], header[i+1])
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func jsonValue(t *testing.T, s string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad expected JSON: %v", err)
	}
	return v
}

func ptr[T any](v T) *T { return &v }

func delivery() *tickler.Delivery {
	return &tickler.Delivery{
		ScheduledMessageID: "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
		AgentID:            agentID,
		Message: tickler.MessageCreate{
			Messages: []tickler.Message{
				{Role: tickler.RoleUser, Content: tickler.Text("Time for the <daily> report"), OTID: ptr("the-callers-own"), Name: ptr("cron")},
				{Role: tickler.RoleSystem, Content: tickler.Parts(tickler.TextPart("look"), tickler.ImagePart("image/png", "iVBORw0KGgo="))},
			},
			CallbackURL:               "https://host.example/cb",
			IncludeReturnMessageTypes: []string{"assistant_message"},
			MaxSteps:                  ptr(7),
		},
		Occurrence:     time.UnixMilli(1764504000000).UTC(),
		IdempotencyKey: key,
		Attempt:        1,
	}
}

const lettaResponse = `{"messages":[{"id":"message-1","message_type":"assistant_message","content":"done"}],` +
	`"stop_reason":{"message_type":"stop_reason","stop_reason":"end_turn"},` +
	`"usage":{"message_type":"usage_statistics","completion_tokens":3,"prompt_tokens":5,"total_tokens":8,"step_count":1,"run_ids":["run-0001","run-0002"]}}`

func TestDeliverSendsTheSpecRequestAndReturnsTheRun(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) { reply(w, 200, lettaResponse) })
	l, err := New(f.srv.URL+"/", WithToken(token))
	if err != nil {
		t.Fatal(err)
	}
	d := delivery()
	res, err := l.Deliver(context.Background(), d)
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	if res.RunID != "run-0001" {
		t.Errorf("RunID = %q, want the first of usage.run_ids", res.RunID)
	}
	if raw, ok := res.Response.(json.RawMessage); !ok || string(raw) != lettaResponse {
		t.Errorf("Response = %#v, want the answer's body unchanged", res.Response)
	}
	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != "POST" || r.Path != "/v1/agents/"+agentID+"/messages" {
		t.Errorf("request %s %s", r.Method, r.Path)
	}
	for h, want := range map[string]string{
		"Authorization": "Bearer " + token,
		"Content-Type":  "application/json",
		"Accept":        "application/json",
		"User-Agent":    "tickler",
	} {
		if got := r.Header.Get(h); got != want {
			t.Errorf("header %s = %q, want %q", h, got, want)
		}
	}
	want := jsonValue(t, `{
		"messages": [
			{"role": "user", "content": "Time for the <daily> report", "name": "cron", "otid": "`+OTID(key, 0)+`"},
			{"role": "system", "content": [{"type": "text", "text": "look"},
				{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}],
			 "otid": "`+OTID(key, 1)+`"}
		],
		"max_steps": 7,
		"include_return_message_types": ["assistant_message"],
		"streaming": false
	}`)
	if !reflect.DeepEqual(r.Body, want) {
		t.Errorf("body\n got %v\nwant %v", r.Body, want)
	}
	if got := *d.Message.Messages[0].OTID; got != "the-callers-own" {
		t.Errorf("the stored message was changed: otid %q", got)
	}
}

func TestOTIDIsAStableUUIDv5OfTheKeyAndIndex(t *testing.T) {
	t.Parallel()
	// Computed independently with Python's uuid module:
	// ns = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/tickler-go/tickler/otid")
	// uuid.uuid5(ns, f"{key}#{i}")
	for _, tc := range []struct {
		key  string
		i    int
		want string
	}{
		{key, 0, "4ba21ba7-db5e-58f9-9935-7ce23c92a388"},
		{key, 1, "0fb4b189-f6b9-5c86-b5ea-0b700ed3a029"},
		{"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b@1764504060000", 0, "24a1e91a-43c5-5a6d-9de0-40be354d1630"},
	} {
		if got := OTID(tc.key, tc.i); got != tc.want {
			t.Errorf("OTID(%q, %d) = %s, want %s", tc.key, tc.i, got, tc.want)
		}
	}
}

func TestRetriesReuseOTIDsAndTheNextOccurrenceDoesNot(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			reply(w, 500, `{"detail":"boom"}`)
			return
		}
		reply(w, 200, lettaResponse)
	})
	l, err := New(f.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	d := delivery()
	if _, err := l.Deliver(context.Background(), d); err == nil {
		t.Fatal("first attempt: want the 500's error")
	}
	d.Attempt = 2
	if _, err := l.Deliver(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	next := delivery()
	next.Occurrence = next.Occurrence.Add(time.Minute)
	next.IdempotencyKey = tickler.IdempotencyKey(next.ScheduledMessageID, next.Occurrence)
	if _, err := l.Deliver(context.Background(), next); err != nil {
		t.Fatal(err)
	}
	otids := func(s seen) [2]any {
		msgs := s.Body["messages"].([]any)
		return [2]any{msgs[0].(map[string]any)["otid"], msgs[1].(map[string]any)["otid"]}
	}
	reqs := f.requests()
	first, retry, other := otids(reqs[0]), otids(reqs[1]), otids(reqs[2])
	if first != retry {
		t.Errorf("the retry sent otids %v, the first attempt %v", retry, first)
	}
	if first[0] == first[1] {
		t.Errorf("two messages of one occurrence share the otid %v", first[0])
	}
	if other[0] == first[0] || other[1] == first[1] {
		t.Errorf("the next occurrence reused otids: %v and %v", other, first)
	}
	if first[0] == "the-callers-own" {
		t.Error("the stored otid was sent")
	}
}

func TestStatusHandlingRetriesOrGivesUp(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		status    int
		body      string
		header    []string
		permanent bool
		delay     time.Duration // -1: no RetryAfter
		detail    string
	}{
		{"busy agent", 409, `{"detail":"Conversation is busy"}`, nil, false, -1, "Conversation is busy"},
		{"busy agent with Retry-After", 409, `{"detail":"busy"}`, []string{"Retry-After", "3"}, false, 3 * time.Second, "busy"},
		{"rate limited, seconds", 429, `{"detail":"slow down"}`, []string{"Retry-After", "20"}, false, 20 * time.Second, "slow down"},
		{"rate limited, HTTP-date", 429, `{"detail":"slow down"}`, []string{"Retry-After", now.Add(2 * time.Minute).Format(http.TimeFormat)}, false, 2 * time.Minute, "slow down"},
		{"rate limited, no header", 429, `{"detail":"slow down"}`, nil, false, -1, "slow down"},
		{"server error", 500, `Internal Server Error`, nil, false, -1, "Internal Server Error"},
		{"unavailable with Retry-After", 503, ``, []string{"Retry-After", "1"}, false, time.Second, ""},
		{"unknown agent", 404, `{"detail":"Agent agent-123 not found"}`, nil, true, -1, "Agent agent-123 not found"},
		{"invalid body", 422, `{"detail":[{"loc":["body","max_steps"],"msg":"Input should be a valid integer","type":"int_parsing"}]}`, nil, true, -1, "body.max_steps: Input should be a valid integer"},
		{"bad token, echoed", 401, `{"detail":"invalid token Bearer ` + token + `"}`, []string{"Retry-After", "5"}, true, -1, "invalid token Bearer [REDACTED]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) { reply(w, tc.status, tc.body, tc.header...) })
			l, err := New(strings.Replace(f.srv.URL, "http://", "http://me:pw-SECRET@", 1), WithToken(token))
			if err != nil {
				t.Fatal(err)
			}
			l.c.Now = func() time.Time { return now }
			res, err := l.Deliver(context.Background(), delivery())
			if err == nil {
				t.Fatalf("Deliver = %+v, nil; want an error", res)
			}
			if s := err.Error(); strings.Contains(s, "SECRET") || strings.Contains(s, "me@") {
				t.Errorf("the error names a secret: %s", s)
			}
			var se *deliver.StatusError
			if !errors.As(err, &se) || se.StatusCode != tc.status || se.Detail != tc.detail || se.Service != "letta" {
				t.Fatalf("err = %v; want a StatusError %d with detail %q", err, tc.status, tc.detail)
			}
			if want := "http://" + f.srv.Listener.Addr().String() + "/v1/agents/" + agentID + "/messages"; se.URL != want {
				t.Errorf("URL = %s, want %s", se.URL, want)
			}
			var pe *tickler.PermanentError
			if errors.As(err, &pe) != tc.permanent {
				t.Errorf("permanent = %v, want %v (%v)", !tc.permanent, tc.permanent, err)
			}
			var ra *tickler.RetryAfterError
			got := time.Duration(-1)
			if errors.As(err, &ra) {
				got = ra.Delay
			}
			if got != tc.delay {
				t.Errorf("retry after %v, want %v (%v)", got, tc.delay, err)
			}
		})
	}
}

func TestNoAnswerIsRetriedAndNamesNoSecret(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := strings.Replace(srv.URL, "http://", "http://me:pw-SECRET@", 1)
	srv.Close()
	l, err := New(url, WithToken(token))
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.Deliver(context.Background(), delivery())
	var pe *tickler.PermanentError
	if err == nil || errors.As(err, &pe) {
		t.Fatalf("err = %v, want a plain error", err)
	}
	if s := err.Error(); strings.Contains(s, "SECRET") || strings.Contains(s, "me@") {
		t.Errorf("the error names a secret: %s", s)
	}
}

func TestSuccessIsSuccessWhateverTheBody(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"not JSON":  "OK",
		"too large": `{"messages":[],"usage":{"run_ids":["run-1"]},"pad":"` + strings.Repeat("x", 200) + `"}`,
		"no usage":  `{"messages":[]}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) { reply(w, 200, body) })
			l, err := New(f.srv.URL, WithMaxResponseBytes(100))
			if err != nil {
				t.Fatal(err)
			}
			res, err := l.Deliver(context.Background(), delivery())
			if err != nil || res.RunID != "" {
				t.Fatalf("Deliver = %+v, %v; want a success with no run id", res, err)
			}
			if (res.Response == nil) != (name != "no usage") {
				t.Errorf("Response = %v", res.Response)
			}
		})
	}
}

func TestConversationRoute(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		conv, path  string
		agentInBody bool
	}{
		{"", "/v1/agents/" + agentID + "/messages", false},
		{"conv-123e4567-e89b-42d3-8456-426614174000", "/v1/conversations/conv-123e4567-e89b-42d3-8456-426614174000/messages", false},
		{"default", "/v1/conversations/default/messages", true},
		{"../../admin", "/v1/conversations/..%2F..%2Fadmin/messages", false},
	} {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) { reply(w, 200, lettaResponse) })
		l, err := New(f.srv.URL, WithConversation(func(d *tickler.Delivery) string { return tc.conv }))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Deliver(context.Background(), delivery()); err != nil {
			t.Fatal(err)
		}
		r := f.requests()[0]
		if r.Path != tc.path {
			t.Errorf("conversation %q: path %s, want %s", tc.conv, r.Path, tc.path)
		}
		if got, _ := r.Body["agent_id"].(string); (got == agentID) != tc.agentInBody || (got != "" && got != agentID) {
			t.Errorf("conversation %q: agent_id in body = %q", tc.conv, got)
		}
		if r.Body["streaming"] != false {
			t.Errorf("conversation %q: streaming = %v, want false", tc.conv, r.Body["streaming"])
		}
	}
}

func TestStoredConversationIDPicksTheConversationRoute(t *testing.T) {
	t.Parallel()
	conv := "conv-123e4567-e89b-42d3-8456-426614174000"
	toConv := "/v1/conversations/" + conv + "/messages"
	for _, tc := range []struct {
		name string
		opts []Option
		path string
	}{
		{"plain", nil, toConv},
		{"async: the conversation route has no async form", []Option{WithAsync(time.Millisecond)}, toConv},
		{"WithConversation decides", []Option{WithConversation(func(*tickler.Delivery) string { return "" })}, "/v1/agents/" + agentID + "/messages"},
	} {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) { reply(w, 200, lettaResponse) })
		l, err := New(f.srv.URL, tc.opts...)
		if err != nil {
			t.Fatal(err)
		}
		d := delivery()
		d.ConversationID = conv
		if _, err := l.Deliver(context.Background(), d); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		r := f.requests()
		if len(r) != 1 || r[0].Path != tc.path || r[0].Body["streaming"] != false {
			t.Errorf("%s: requests %+v, want one to %s with streaming false", tc.name, r, tc.path)
		}
	}
}

func TestNewRejectsAMisconfiguration(t *testing.T) {
	t.Parallel()
	conv := WithConversation(func(*tickler.Delivery) string { return "" })
	for _, tc := range []struct {
		url  string
		opts []Option
		want string
	}{
		{"", nil, "base URL is required"},
		{"api.letta.com", nil, "must be an http or https URL"},
		{"ws://api.letta.com", nil, `scheme "ws"`},
		{"https://api.letta.com?x=1", nil, "query"},
		{"https://api.letta.com", []Option{WithToken("a\nb")}, "one line"},
		{"https://api.letta.com", []Option{WithAsync(0)}, "poll interval"},
		{"https://api.letta.com", []Option{WithAsync(time.Second), conv}, "async"},
		{"https://api.letta.com", []Option{WithMaxResponseBytes(0)}, "response bound"},
	} {
		if _, err := New(tc.url, tc.opts...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%q) = %v, want an error with %q", tc.url, err, tc.want)
		}
	}
}

func TestAsyncPollsTheRunUntilItEnds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		final     string
		wantErr   bool
		permanent bool
	}{
		{"completed", false, false},
		{"failed", true, false},
		{"cancelled", true, true},
	} {
		t.Run(tc.final, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
				switch n {
				case 1:
					reply(w, 200, `{"id":"run-9f8e7d6c","status":"created","agent_id":"`+agentID+`"}`)
				case 2:
					reply(w, 200, `{"id":"run-9f8e7d6c","status":"running","agent_id":"`+agentID+`"}`)
				case 3:
					reply(w, 503, `{"detail":"try later"}`, "Retry-After", "0")
				case 4:
					reply(w, 200, `{"id":"run-9f8e7d6c","status":"`+tc.final+`","agent_id":"`+agentID+`","stop_reason":"end_turn"}`)
				default:
					t.Errorf("request %d after the run ended", n)
				}
			})
			l, err := New(f.srv.URL, WithToken(token), WithAsync(time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			res, err := l.Deliver(context.Background(), delivery())
			var pe *tickler.PermanentError
			if (err != nil) != tc.wantErr || errors.As(err, &pe) != tc.permanent {
				t.Fatalf("Deliver = %+v, %v", res, err)
			}
			if res.RunID != "run-9f8e7d6c" {
				t.Errorf("RunID = %q", res.RunID)
			}
			reqs := f.requests()
			if len(reqs) != 4 {
				t.Fatalf("%d requests, want 4", len(reqs))
			}
			if reqs[0].Method != "POST" || reqs[0].Path != "/v1/agents/"+agentID+"/messages/async" {
				t.Errorf("first request %s %s", reqs[0].Method, reqs[0].Path)
			}
			if _, ok := reqs[0].Body["streaming"]; ok {
				t.Error("the async body has a streaming field, which LettaAsyncRequest does not")
			}
			if _, ok := reqs[0].Body["callback_url"]; ok {
				t.Error("the schedule's callback_url was sent to Letta")
			}
			for _, r := range reqs[1:] {
				if r.Method != "GET" || r.Path != "/v1/runs/run-9f8e7d6c" || r.Header.Get("Authorization") != "Bearer "+token || r.Body != nil {
					t.Errorf("poll %s %s auth=%v body=%v", r.Method, r.Path, r.Header.Get("Authorization") != "", r.Body)
				}
			}
			if tc.final == "completed" {
				var run map[string]any
				if err := json.Unmarshal(res.Response.(json.RawMessage), &run); err != nil || run["status"] != "completed" {
					t.Errorf("Response = %v, want the final run", res.Response)
				}
			}
		})
	}
}

func TestAsyncStopsPollingWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 3 {
			cancel()
		}
		reply(w, 200, `{"id":"run-1a2b3c4d","status":"running","agent_id":"`+agentID+`"}`)
	})
	l, err := New(f.srv.URL, WithAsync(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := l.Deliver(ctx, delivery()); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "run-1a2b3c4d") {
			t.Errorf("err = %v, want context.Canceled naming the run", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Deliver did not return after its context ended")
	}
}

func TestAsyncPermanentPollFailureEndsTheDelivery(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			reply(w, 200, `{"id":"run-1a2b3c4d","status":"created","agent_id":"`+agentID+`"}`)
			return
		}
		reply(w, 404, `{"detail":"Run not found"}`)
	})
	l, err := New(f.srv.URL, WithAsync(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.Deliver(context.Background(), delivery())
	var pe *tickler.PermanentError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "Run not found") {
		t.Errorf("err = %v, want a permanent error with the detail", err)
	}
}

func TestDeliveryWithoutAgentIsPermanent(t *testing.T) {
	t.Parallel()
	l, err := New("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	d := delivery()
	d.AgentID = ""
	_, err = l.Deliver(context.Background(), d)
	var pe *tickler.PermanentError
	if !errors.As(err, &pe) {
		t.Errorf("err = %v, want permanent", err)
	}
}
