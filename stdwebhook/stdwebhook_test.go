package stdwebhook

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The example of the Standard Webhooks and Svix documentation, checked
// with Python's hmac module:
// base64(hmac.new(b64decode(key), b"msg_….1614265330.{\"test\": 2432232314}", sha256)).
const (
	vectorSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTS     = 1614265330
	vectorBody   = `{"test": 2432232314}`
	vectorSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignMatchesTheKnownVector(t *testing.T) {
	t.Parallel()
	s, err := ParseSecret(vectorSecret)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Sign(vectorID, time.Unix(vectorTS, 0), []byte(vectorBody)); got != vectorSig {
		t.Errorf("Sign = %s, want %s", got, vectorSig)
	}
}

func signed(t *testing.T) (*Secret, http.Header) {
	t.Helper()
	s, err := ParseSecret(vectorSecret)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	s.SetHeaders(h, vectorID, time.Unix(vectorTS, 0), []byte(vectorBody))
	return s, h
}

func TestVerifyAcceptsWhatSignSigned(t *testing.T) {
	t.Parallel()
	s, h := signed(t)
	if h.Get("webhook-id") != vectorID || h.Get("webhook-timestamp") != fmt.Sprint(vectorTS) || h.Get("webhook-signature") != vectorSig {
		t.Fatalf("headers %v", h)
	}
	now := time.Unix(vectorTS, 0).Add(4 * time.Minute)
	if err := s.Verify(h, []byte(vectorBody), now, 0); err != nil {
		t.Errorf("Verify: %v", err)
	}
	h.Set("webhook-signature", "v1,bm90IGl0 v2,whatever "+vectorSig) // a rotation: several signatures
	if err := s.Verify(h, []byte(vectorBody), now, 0); err != nil {
		t.Errorf("Verify with several signatures: %v", err)
	}
}

func TestVerifyRejectsAWrongSignature(t *testing.T) {
	t.Parallel()
	s, h := signed(t)
	now := time.Unix(vectorTS, 0)
	if err := s.Verify(h, []byte(`{"test": 2432232315}`), now, 0); !errors.Is(err, ErrSignature) {
		t.Errorf("tampered body: %v", err)
	}
	h.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=")
	if err := s.Verify(h, []byte(vectorBody), now, 0); !errors.Is(err, ErrSignature) {
		t.Errorf("wrong signature: %v", err)
	}
	h.Set("webhook-signature", strings.Replace(vectorSig, "v1,", "v2,", 1))
	if err := s.Verify(h, []byte(vectorBody), now, 0); !errors.Is(err, ErrSignature) {
		t.Errorf("unknown version: %v", err)
	}
	other, _ := ParseSecret("whsec_" + strings.Repeat("A", 32))
	_, h = signed(t)
	if err := other.Verify(h, []byte(vectorBody), now, 0); !errors.Is(err, ErrSignature) {
		t.Errorf("other secret: %v", err)
	}
}

func TestVerifyRejectsAStaleOrFutureTimestamp(t *testing.T) {
	t.Parallel()
	s, h := signed(t)
	sent := time.Unix(vectorTS, 0)
	for _, now := range []time.Time{sent.Add(DefaultTolerance + time.Second), sent.Add(-DefaultTolerance - time.Second)} {
		if err := s.Verify(h, []byte(vectorBody), now, 0); !errors.Is(err, ErrTimestamp) {
			t.Errorf("now %v: %v, want ErrTimestamp", now.Sub(sent), err)
		}
	}
	if err := s.Verify(h, []byte(vectorBody), sent.Add(time.Hour), 2*time.Hour); err != nil {
		t.Errorf("within a wider tolerance: %v", err)
	}
	h.Set("webhook-timestamp", "yesterday")
	if err := s.Verify(h, []byte(vectorBody), sent, 0); !errors.Is(err, ErrTimestamp) {
		t.Errorf("malformed: %v", err)
	}
	h.Del("webhook-id")
	if err := s.Verify(h, []byte(vectorBody), sent, 0); !errors.Is(err, ErrMissingHeaders) {
		t.Errorf("no id: %v", err)
	}
}

func TestParseSecretRejectsBadSecrets(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"", "empty"},
		{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", `start with "whsec_"`},
		{"whsec_not base64!", "not base64"},
		{"whsec_c2hvcnQ=", "is 5 bytes"},
	} {
		_, err := ParseSecret(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseSecret(%q) = %v, want %q", tc.in, err, tc.want)
		} else if tc.in != "" && strings.Contains(err.Error(), tc.in) {
			t.Errorf("the error repeats the secret: %v", err)
		}
	}
	if _, err := ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"); err != nil {
		t.Error(err)
	}
	g, err := GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSecret(g)
	if err != nil {
		t.Fatalf("a generated secret does not parse: %v", err)
	}
	if strings.Contains(fmt.Sprint(s), g[6:]) {
		t.Error("String reveals the key")
	}
}
