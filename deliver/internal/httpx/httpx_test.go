package httpx

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/deliver"
)

var now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func TestParseRetryAfterReadsSecondsAndDates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{" 7 ", 7 * time.Second, true},
		{"120", 2 * time.Minute, true},
		{"99999999999999999999999", tickler.MaxRetryDelay, true},
		{"-5", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{now.Add(30 * 24 * time.Hour).Format(http.TimeFormat), tickler.MaxRetryDelay, true},
		{"Sunday, 30-Nov-26 12:01:00 GMT", time.Minute, true}, // RFC 850, which HTTP-date allows
	} {
		got, ok := ParseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestDetailReadsEachErrorShape(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ body, want string }{
		{``, ``},
		{`{"detail":"Agent not found"}`, `Agent not found`},
		{`{"detail":[{"loc":["body","messages",0,"role"],"msg":"field required","type":"missing"}]}`, `body.messages.0.role: field required`},
		{`{"detail":{"code":1}}`, `{"code":1}`},
		{`{"error":{"message":"no such model","type":"invalid_request_error","code":"model_not_found"}}`, `no such model (model_not_found)`},
		{`{"error":"busy"}`, `busy`},
		{`{"message":"slow down"}`, `slow down`},
		{"upstream\nconnect error", `upstream connect error`},
		{"\x00\x01binary", ``},
		{strings.Repeat("é", 1000), strings.Repeat("é", maxDetail/2) + "…"},
	} {
		if got := Detail([]byte(tc.body)); got != tc.want {
			t.Errorf("Detail(%.40q) = %.80q, want %.80q", tc.body, got, tc.want)
		}
	}
}

func TestClassifyChoosesPermanentOrRetry(t *testing.T) {
	t.Parallel()
	c := &Client{Service: "test"}
	retryIn := func(s string) http.Header { return http.Header{"Retry-After": {s}} }
	for _, tc := range []struct {
		status    int
		h         http.Header
		permanent bool
		delay     time.Duration // -1: no RetryAfter
		nilErr    bool
	}{
		{200, nil, false, -1, true},
		{204, nil, false, -1, true},
		{409, nil, false, -1, false},
		{409, retryIn("3"), false, 3 * time.Second, false},
		{429, retryIn(now.Add(time.Minute).Format(http.TimeFormat)), false, time.Minute, false},
		{429, retryIn("garbage"), false, -1, false},
		{408, nil, false, -1, false},
		{500, nil, false, -1, false},
		{503, retryIn("1"), false, time.Second, false},
		{400, retryIn("1"), true, -1, false},
		{404, nil, true, -1, false},
		{422, nil, true, -1, false},
		{302, nil, true, -1, false},
	} {
		err := c.Classify("POST", "http://x/y", tc.status, tc.h, []byte(`{"detail":"why"}`), now)
		if tc.nilErr {
			if err != nil {
				t.Errorf("%d: err = %v, want nil", tc.status, err)
			}
			continue
		}
		var se *deliver.StatusError
		if !errors.As(err, &se) || se.StatusCode != tc.status || se.Detail != "why" {
			t.Errorf("%d: err = %v, want a StatusError with the detail", tc.status, err)
		}
		var pe *tickler.PermanentError
		if errors.As(err, &pe) != tc.permanent {
			t.Errorf("%d: permanent = %v, want %v", tc.status, !tc.permanent, tc.permanent)
		}
		var ra *tickler.RetryAfterError
		switch {
		case tc.delay < 0 && errors.As(err, &ra):
			t.Errorf("%d: unexpected RetryAfter %v", tc.status, ra.Delay)
		case tc.delay >= 0 && (!errors.As(err, &ra) || ra.Delay != tc.delay):
			t.Errorf("%d: err = %v, want RetryAfter %v", tc.status, err, tc.delay)
		}
	}
}

func TestParseURLRejectsWhatCannotWork(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw, want string
	}{
		{"", "is required"},
		{"ftp://host", `scheme "ftp"`},
		{"localhost:8283", `scheme "localhost"`},
		{"http://", "no host"},
		{"http://h/#frag", "fragment"},
		{"http://h/?q=1", "query"},
		{"http://u:sekret@h/%zz", "does not parse"},
	} {
		_, err := ParseURL("base URL", tc.raw, false)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseURL(%q) = %v, want an error with %q", tc.raw, err, tc.want)
		} else if strings.Contains(err.Error(), "sekret") {
			t.Errorf("ParseURL(%q) error repeats the password: %v", tc.raw, err)
		}
	}
	if _, err := ParseURL("URL", "https://h/hook?token=1", true); err != nil {
		t.Errorf("query allowed: %v", err)
	}
}

func TestJoinPathEscapesEachSegment(t *testing.T) {
	t.Parallel()
	base, _ := url.Parse("https://u:p@h/letta/?q=1")
	got := JoinPath(base, "v1", "agents", "../a/b c", "messages")
	if want := "https://u:p@h/letta/v1/agents/..%2Fa%2Fb%20c/messages"; got.String() != want {
		t.Errorf("JoinPath = %s, want %s", got, want)
	}
	if r := Redact(got); r != "https://h/letta/v1/agents/..%2Fa%2Fb%20c/messages" {
		t.Errorf("Redact = %s", r)
	}
}

func TestDoBoundsTheBodyAndRedactsSecrets(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			w.Write([]byte(strings.Repeat("x", 100)))
			return
		}
		w.WriteHeader(401)
		w.Write([]byte(`{"detail":"bad token tok-SECRET"}`))
	}))
	defer srv.Close()
	c := &Client{Service: "test", HTTP: DefaultClient(), MaxBody: 10, Secrets: []string{"tok-SECRET", "pw-SECRET"}}
	u, _ := url.Parse(srv.URL + "/big")
	req, _ := NewRequest(context.Background(), "GET", u, nil)
	resp, err := c.Do(req)
	if err != nil || !resp.Truncated || len(resp.Body) != 10 {
		t.Fatalf("big: %v, %+v", err, resp)
	}

	c.MaxBody = 0 // the default bound
	u, _ = url.Parse(srv.URL + "/auth")
	req, _ = NewRequest(context.Background(), "POST", u, []byte(`{}`))
	_, err = c.Do(req)
	if err == nil || strings.Contains(err.Error(), "SECRET") || !strings.Contains(err.Error(), "[REDACTED]") {
		t.Errorf("401: err = %v, want the token redacted", err)
	}

	u, _ = url.Parse(srv.URL)
	u.User = url.UserPassword("me", "pw-SECRET")
	srv.Close()
	req, _ = NewRequest(context.Background(), "POST", u, []byte(`{}`))
	_, err = c.Do(req)
	if err == nil || strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "me@") {
		t.Errorf("no answer: err = %v, want no userinfo", err)
	}
}

func TestDoReportsTheContextsError(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	u, _ := url.Parse("http://127.0.0.1:1/")
	req, _ := NewRequest(ctx, "POST", u, []byte(`{}`))
	_, err := (&Client{Service: "test", HTTP: DefaultClient()}).Do(req)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}
