package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/deliver"
	"github.com/tickler-go/tickler/stdwebhook"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

var sentAt = time.Date(2026, 12, 1, 9, 0, 3, 0, time.UTC)

func delivery() *tickler.Delivery {
	steps := 3
	return &tickler.Delivery{
		ScheduledMessageID: "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
		AgentID:            "agent-123e4567-e89b-42d3-8456-426614174000",
		Message: tickler.MessageCreate{
			Messages: []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text("ping <now>")}},
			MaxSteps: &steps,
		},
		Occurrence:     time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC),
		IdempotencyKey: "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b@1796115600000",
		Attempt:        2,
	}
}

// receiver checks each request as a Standard Webhooks receiver would, and
// answers with the status, body and headers the test gives.
func receiver(t *testing.T, status int, answer string, header ...string) *httptest.Server {
	t.Helper()
	s, err := stdwebhook.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != "POST" || r.URL.Path != "/hooks/tickler" || r.URL.RawQuery != "token=q-SECRET" {
			t.Errorf("request %s %s", r.Method, r.URL)
		}
		for h, want := range map[string]string{
			"webhook-id":        "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b@1796115600000",
			"webhook-timestamp": "1796115603",
			"Idempotency-Key":   "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b@1796115600000",
			"Content-Type":      "application/json",
			"User-Agent":        "tickler",
		} {
			if got := r.Header.Get(h); got != want {
				t.Errorf("header %s = %q, want %q", h, got, want)
			}
		}
		if err := s.Verify(r.Header, body, sentAt.Add(time.Second), 0); err != nil {
			t.Errorf("Verify: %v", err)
		}
		var got, want any
		_ = json.Unmarshal(body, &got)
		_ = json.Unmarshal([]byte(`{"type":"scheduled_message.delivery","timestamp":"2026-12-01T09:00:00.000Z","data":{
			"scheduled_message_id":"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
			"agent_id":"agent-123e4567-e89b-42d3-8456-426614174000",
			"occurrence":"2026-12-01T09:00:00.000Z",
			"idempotency_key":"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b@1796115600000",
			"attempt":2,"triggered":false,
			"message":{"messages":[{"role":"user","content":"ping <now>"}],"max_steps":3}}}`), &want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("body\n got %s\nwant %v", body, want)
		}
		if !strings.Contains(string(body), "ping <now>") {
			t.Errorf("the body escapes HTML: %s", body)
		}
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func newDeliverer(t *testing.T, srv *httptest.Server) *Deliverer {
	t.Helper()
	u := strings.Replace(srv.URL, "http://", "http://me:pw-SECRET@", 1) + "/hooks/tickler?token=q-SECRET"
	w, err := New(u, secret, WithClock(func() time.Time { return sentAt }))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestDeliverPostsASignedPayload(t *testing.T) {
	t.Parallel()
	srv := receiver(t, 200, `{"run_id":"job-42","ok":true}`)
	res, err := newDeliverer(t, srv).Deliver(context.Background(), delivery())
	if err != nil {
		t.Fatal(err)
	}
	if res.RunID != "job-42" || string(res.Response.(json.RawMessage)) != `{"run_id":"job-42","ok":true}` {
		t.Errorf("Result = %+v", res)
	}
}

func TestAnEmptySuccessHasNoResponse(t *testing.T) {
	t.Parallel()
	srv := receiver(t, 204, ``)
	res, err := newDeliverer(t, srv).Deliver(context.Background(), delivery())
	if err != nil || res.RunID != "" || res.Response != nil {
		t.Errorf("Deliver = %+v, %v", res, err)
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
	}{
		{409, `{"detail":"duplicate in flight"}`, nil, false, -1},
		{429, `{"message":"slow down"}`, []string{"Retry-After", "30"}, false, 30 * time.Second},
		{429, `{"message":"slow down"}`, []string{"Retry-After", sentAt.Add(time.Hour).Format(http.TimeFormat)}, false, time.Hour},
		{500, `oops`, nil, false, -1},
		{404, `{"error":"no such hook"}`, nil, true, -1},
	} {
		srv := receiver(t, tc.status, tc.body, tc.header...)
		_, err := newDeliverer(t, srv).Deliver(context.Background(), delivery())
		var se *deliver.StatusError
		if !errors.As(err, &se) || se.StatusCode != tc.status || se.Service != "webhook" || se.Detail == "" {
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
		if got != tc.delay {
			t.Errorf("%d: retry after %v, want %v", tc.status, got, tc.delay)
		}
	}
}

func TestNewRejectsAMisconfiguration(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ url, secret, want string }{
		{"", secret, "URL is required"},
		{"mailto:me@example.com", secret, "http or https"},
		{"https://example.com/hook", "", "secret is empty"},
		{"https://example.com/hook", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_"},
		{"https://example.com/hook", "whsec_%%%", "not base64"},
		{"https://example.com/hook", "whsec_c2hvcnQ=", "at least 24"},
	} {
		_, err := New(tc.url, tc.secret)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%q, %q) = %v, want %q", tc.url, tc.secret, err, tc.want)
		}
	}
}
