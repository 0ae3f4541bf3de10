package openai

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
	token   = "sk-TOKEN-SECRET"
	key     = "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b@1796115600000"
)

const completion = `{"id":"chatcmpl-abc123","object":"chat.completion","created":1796115601,"model":"` + agentID + `",` +
	`"choices":[{"index":0,"message":{"role":"assistant","content":"Done."},"finish_reason":"stop"}]}`

type seen struct {
	Path   string
	Header http.Header
	Body   map[string]any
}

// gateway is a fake chat completions server recording what it receives.
func gateway(t *testing.T, status int, answer string, header ...string) (*httptest.Server, func() []seen) {
	t.Helper()
	var mu sync.Mutex
	var reqs []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s := seen{Path: r.Method + " " + r.URL.EscapedPath(), Header: r.Header.Clone()}
		if err := json.Unmarshal(b, &s.Body); err != nil {
			t.Errorf("body is not a JSON object: %s", b)
		}
		mu.Lock()
		reqs = append(reqs, s)
		mu.Unlock()
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []seen { mu.Lock(); defer mu.Unlock(); return append([]seen(nil), reqs...) }
}

func ptr[T any](v T) *T { return &v }

func delivery(msgs ...tickler.Message) *tickler.Delivery {
	if msgs == nil {
		msgs = []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text("Standup in 5 <min>"), OTID: ptr("x"), SenderID: ptr("y")}}
	}
	return &tickler.Delivery{
		ScheduledMessageID: "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
		AgentID:            agentID,
		Message:            tickler.MessageCreate{Messages: msgs, MaxSteps: ptr(4), IncludeReturnMessageTypes: []string{"assistant_message"}},
		Occurrence:         time.UnixMilli(1796115600000).UTC(),
		IdempotencyKey:     key,
		Attempt:            1,
	}
}

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestDeliverSendsAChatCompletion(t *testing.T) {
	t.Parallel()
	srv, reqs := gateway(t, 200, completion)
	o, err := New(srv.URL, WithToken(token), WithChatKey(func(d *tickler.Delivery) string { return d.ScheduledMessageID }))
	if err != nil {
		t.Fatal(err)
	}
	res, err := o.Deliver(context.Background(), delivery())
	if err != nil {
		t.Fatal(err)
	}
	if res.RunID != "chatcmpl-abc123" || string(res.Response.(json.RawMessage)) != completion {
		t.Errorf("Result = %+v", res)
	}
	r := reqs()[0]
	if r.Path != "POST /v1/chat/completions" {
		t.Errorf("request %s", r.Path)
	}
	for h, want := range map[string]string{
		"Authorization":    "Bearer " + token,
		"Idempotency-Key":  key,
		"X-Letta-Chat-Key": "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
		"Content-Type":     "application/json",
		"Accept":           "application/json",
		"User-Agent":       "tickler",
	} {
		if got := r.Header.Get(h); got != want {
			t.Errorf("header %s = %q, want %q", h, got, want)
		}
	}
	want := decode(t, `{"model":"`+agentID+`","messages":[{"role":"user","content":"Standup in 5 <min>"}],"stream":false}`)
	if !reflect.DeepEqual(r.Body, want) {
		t.Errorf("body\n got %v\nwant %v", r.Body, want)
	}
}

func TestContentIsAStringUnlessItHoldsAnImage(t *testing.T) {
	t.Parallel()
	srv, reqs := gateway(t, 200, completion)
	o, err := New(srv.URL + "/v1/") // an OpenAI SDK style base URL
	if err != nil {
		t.Fatal(err)
	}
	img := tickler.ImagePart("image/png", "iVBORw0KGgo=")
	img.Source.Detail = ptr("low")
	_, err = o.Deliver(context.Background(), delivery(
		tickler.Message{Role: tickler.RoleSystem, Content: tickler.Parts(tickler.TextPart("one"), tickler.TextPart("two"))},
		tickler.Message{Role: tickler.RoleUser, Name: ptr("cron"), Content: tickler.Parts(tickler.TextPart("see"), img)},
	))
	if err != nil {
		t.Fatal(err)
	}
	r := reqs()[0]
	if r.Path != "POST /v1/chat/completions" {
		t.Errorf("request %s", r.Path)
	}
	if _, ok := r.Header["X-Letta-Chat-Key"]; ok {
		t.Error("X-Letta-Chat-Key sent without WithChatKey")
	}
	if _, ok := r.Header["Authorization"]; ok {
		t.Error("Authorization sent without WithToken")
	}
	want := decode(t, `{"model":"`+agentID+`","stream":false,"messages":[
		{"role":"system","content":"one\ntwo"},
		{"role":"user","name":"cron","content":[{"type":"text","text":"see"},
			{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"low"}}]}]}`)
	if !reflect.DeepEqual(r.Body, want) {
		t.Errorf("body\n got %v\nwant %v", r.Body, want)
	}
}

func TestStatusHandlingRetriesOrGivesUp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status    int
		body      string
		header    []string
		permanent bool
		delay     time.Duration
		detail    string
	}{
		{409, `{"error":{"message":"conversation busy","type":"conflict"}}`, nil, false, -1, "conversation busy"},
		{429, `{"error":{"message":"rate limited"}}`, []string{"Retry-After", "12"}, false, 12 * time.Second, "rate limited"},
		{429, `{"error":{"message":"rate limited"}}`, []string{"Retry-After", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}, false, time.Hour, "rate limited"},
		{500, `{"error":{"message":"internal"}}`, nil, false, -1, "internal"},
		{404, `{"error":{"message":"The model does not exist","type":"invalid_request_error","code":"model_not_found"}}`, nil, true, -1, "The model does not exist (model_not_found)"},
		{401, `{"error":{"message":"bad key ` + token + `"}}`, nil, true, -1, "bad key [REDACTED]"},
	} {
		srv, _ := gateway(t, tc.status, tc.body, tc.header...)
		o, err := New(strings.Replace(srv.URL, "http://", "http://me:pw-SECRET@", 1), WithToken(token))
		if err != nil {
			t.Fatal(err)
		}
		_, err = o.Deliver(context.Background(), delivery())
		var se *deliver.StatusError
		if !errors.As(err, &se) || se.StatusCode != tc.status || se.Detail != tc.detail || se.Service != "openai" {
			t.Fatalf("%d: err = %v", tc.status, err)
		}
		if s := err.Error(); strings.Contains(s, "SECRET") || strings.Contains(s, "me@") {
			t.Errorf("%d: the error names a secret: %s", tc.status, s)
		}
		var pe *tickler.PermanentError
		if errors.As(err, &pe) != tc.permanent {
			t.Errorf("%d: permanent = %v", tc.status, !tc.permanent)
		}
		var ra *tickler.RetryAfterError
		got := time.Duration(-1)
		if errors.As(err, &ra) {
			got = ra.Delay
		}
		// An HTTP-date has a resolution of a second and is read against the real clock.
		if got != tc.delay && (tc.delay != time.Hour || got < tc.delay-2*time.Second || got > tc.delay) {
			t.Errorf("%d: retry after %v, want %v", tc.status, got, tc.delay)
		}
	}
}

func TestNewRejectsAMisconfiguration(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url  string
		opts []Option
		want string
	}{
		{"", nil, "base URL is required"},
		{"localhost:8283", nil, "http or https"},
		{"http://localhost:8283?model=x", nil, "query"},
		{"http://localhost:8283", []Option{WithToken("a\r\nX-Evil: 1")}, "one line"},
		{"http://localhost:8283", []Option{WithMaxResponseBytes(-5)}, "response bound"},
	} {
		if _, err := New(tc.url, tc.opts...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%q) = %v, want %q", tc.url, err, tc.want)
		}
	}
}
