// Package stdwebhook signs and verifies HTTP requests per the Standard
// Webhooks specification (standardwebhooks.com), as Svix, Resend and
// others do, so that a receiver can check them with any of that
// specification's libraries.
//
// A signed request carries three headers: webhook-id (the message id, the
// same on every retry of one message), webhook-timestamp (Unix seconds of
// the attempt) and webhook-signature ("v1,<base64 HMAC-SHA256 of
// id.timestamp.body>", possibly several separated by spaces while a secret
// is rotated). A secret is written "whsec_<base64 key>".
package stdwebhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers of a signed request.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// DefaultTolerance is how far a timestamp may be from now before
// [Secret.Verify] rejects it, as the specification recommends.
const DefaultTolerance = 5 * time.Minute

// MinKeyBytes is the shortest key [ParseSecret] accepts: the 24 bytes
// (192 bits) the specification asks for at least.
const MinKeyBytes = 24

const prefix = "whsec_"

// Errors of [Secret.Verify], matched with errors.Is.
var (
	ErrMissingHeaders = errors.New("stdwebhook: missing webhook-id, webhook-timestamp or webhook-signature header")
	ErrTimestamp      = errors.New("stdwebhook: timestamp is malformed or outside the tolerance")
	ErrSignature      = errors.New("stdwebhook: no matching signature")
)

// Secret is a signing key. It is safe for concurrent use. Its String
// method does not reveal the key.
type Secret struct{ key []byte }

// ParseSecret reads "whsec_<base64>" (standard base64, padded or not).
// The error does not repeat the secret.
func ParseSecret(s string) (*Secret, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("stdwebhook: the secret is empty")
	}
	b64, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return nil, errors.New(`stdwebhook: the secret must start with "whsec_"`)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(b64)
	}
	if err != nil {
		return nil, errors.New(`stdwebhook: the secret after "whsec_" is not base64`)
	}
	if len(key) < MinKeyBytes {
		return nil, fmt.Errorf("stdwebhook: the secret's key is %d bytes, want at least %d", len(key), MinKeyBytes)
	}
	return &Secret{key: key}, nil
}

// GenerateSecret returns a new random secret of 32 bytes, written
// "whsec_<base64>".
func GenerateSecret() (string, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", err
	}
	return prefix + base64.StdEncoding.EncodeToString(key), nil
}

// String returns "whsec_…", never the key.
func (s *Secret) String() string { return prefix + "…" }

// Sign returns the signature of body sent as message id at ts:
// "v1,<base64 HMAC-SHA256 of id.<unix seconds>.body>".
func (s *Secret) Sign(id string, ts time.Time, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(s.mac(id, strconv.FormatInt(ts.Unix(), 10), body))
}

func (s *Secret) mac(id, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// SetHeaders sets the three headers of a signed request on h.
func (s *Secret) SetHeaders(h http.Header, id string, ts time.Time, body []byte) {
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, s.Sign(id, ts, body))
}

// Verify checks a received request's headers against its body: the
// timestamp must be within tolerance of now (0 means
// [DefaultTolerance]) and one of the v1 signatures must match, compared
// in constant time. It returns nil, or an error matching
// [ErrMissingHeaders], [ErrTimestamp] or [ErrSignature].
func (s *Secret) Verify(h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, ts, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || ts == "" || sigs == "" {
		return ErrMissingHeaders
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrTimestamp
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrTimestamp
	}
	want := s.mac(id, ts, body)
	for _, sig := range strings.Fields(sigs) {
		version, b64, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrSignature
}
