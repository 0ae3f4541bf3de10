package callback_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tickler-go/tickler/callback"
	"github.com/tickler-go/tickler/stdwebhook"
)

// signed is a request as a signature verifier sees it.
type signed struct {
	header http.Header
	body   []byte
}

func newSignedReceiver(t *testing.T, answer func(n int) int) (*httptest.Server, chan signed) {
	t.Helper()
	got := make(chan signed, 10)
	n := 0 // one attempt at a time: the tests send one callback
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		n++
		got <- signed{r.Header.Clone(), b}
		w.WriteHeader(answer(n))
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

// A signed callback verifies with the Standard Webhooks secret, and its
// webhook-id, the occurrence's idempotency key, is the same on a retry.
func TestSignedCallbacksVerifyWithTheSecret(t *testing.T) {
	t.Parallel()
	secret, err := stdwebhook.GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	key, err := stdwebhook.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	srv, got := newSignedReceiver(t, func(n int) int {
		if n == 1 {
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	s, err := callback.NewSender(callback.AllowPrivate(), callback.WithSigningSecret(secret),
		callback.WithBackoff(time.Millisecond, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(t.Context()) })
	s.Handle(delivered(srv.URL))
	for range 2 { // the first attempt, then its retry
		req := recv(t, got)
		if err := key.Verify(req.header, req.body, time.Now(), 0); err != nil {
			t.Fatalf("Verify: %v; headers %v", err, req.header)
		}
		if id := req.header.Get(stdwebhook.HeaderID); id != "sm-1@1786140000000" {
			t.Fatalf("webhook-id %q, want the idempotency key", id)
		}
	}
	other, _ := stdwebhook.GenerateSecret()
	wrong, _ := stdwebhook.ParseSecret(other)
	srv2, got2 := newSignedReceiver(t, func(int) int { return http.StatusNoContent })
	s.Handle(delivered(srv2.URL))
	if req := recv(t, got2); wrong.Verify(req.header, req.body, time.Now(), 0) == nil {
		t.Fatal("verified with another secret")
	}
}

func TestCallbacksAreUnsignedByDefault(t *testing.T) {
	t.Parallel()
	srv, got := newSignedReceiver(t, func(int) int { return http.StatusNoContent })
	s, _ := newSender(t, callback.AllowPrivate())
	s.Handle(delivered(srv.URL))
	req := recv(t, got)
	for _, h := range []string{stdwebhook.HeaderID, stdwebhook.HeaderTimestamp, stdwebhook.HeaderSignature} {
		if v := req.header.Get(h); v != "" {
			t.Errorf("%s: %q", h, v)
		}
	}
}

func TestAnInvalidSigningSecretIsAnErrorOfNewSender(t *testing.T) {
	t.Parallel()
	for _, secret := range []string{"", "s3cret-not-whsec", "whsec_not base64!", "whsec_c2hvcnQ="} {
		s, err := callback.NewSender(callback.WithSigningSecret(secret))
		if err == nil || s != nil {
			t.Fatalf("%q: sender %v, err %v", secret, s, err)
		}
		if secret != "" && strings.Contains(err.Error(), secret) {
			t.Errorf("the error repeats the secret: %v", err)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("New did not panic on an invalid secret")
		}
	}()
	callback.New(callback.WithSigningSecret("nope"))
}
