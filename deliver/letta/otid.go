package letta

import (
	"crypto/sha1"
	"encoding/hex"
	"strconv"
)

// otidNamespace is the UUID namespace of otids:
// uuid5(NAMESPACE_URL, "https://github.com/tickler-go/tickler/otid").
var otidNamespace = [16]byte{69, 155, 108, 185, 236, 85, 81, 244, 185, 66, 82, 94, 117, 191, 51, 174}

// OTID returns the otid of the message at index of the occurrence with the
// idempotency key: the name-based UUID (version 5, RFC 9562) of
// "<key>#<index>" in the namespace 459b6cb9-ec55-51f4-b942-525e75bf33ae.
// It is the same for every attempt at one occurrence and differs between
// occurrences and between the messages of one; anyone can compute it (in
// Python: uuid.uuid5(UUID("459b6cb9-..."), f"{key}#{index}")) to find a
// delivery's messages in Letta.
func OTID(key string, index int) string {
	h := sha1.New()
	h.Write(otidNamespace[:])
	h.Write([]byte(key))
	h.Write([]byte{'#'})
	h.Write(strconv.AppendInt(nil, int64(index), 10))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}
