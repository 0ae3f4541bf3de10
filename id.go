package tickler

import (
	"crypto/rand"
	"encoding/binary"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/google/uuid"
)

// idGen makes UUIDv7 ids from the injected clock, strictly increasing
// within a process even when the clock stands still or steps back, so that
// creation order is id order.
type idGen struct {
	mu   sync.Mutex
	rng  *mrand.ChaCha8 // seeded from crypto/rand; cheaper than a syscall per id
	last uuid.UUID
}

func (g *idGen) next(now time.Time) string {
	var u uuid.UUID
	ms := uint64(max(now.UnixMilli(), 0))
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.rng == nil {
		var seed [32]byte
		_, _ = rand.Read(seed[:])
		g.rng = mrand.NewChaCha8(seed)
	}
	binary.BigEndian.PutUint64(u[0:8], ms<<16)
	binary.BigEndian.PutUint16(u[6:8], uint16(g.rng.Uint64()))
	binary.BigEndian.PutUint64(u[8:16], g.rng.Uint64())
	u[6] = 0x70 | u[6]&0x0f // version 7
	u[8] = 0x80 | u[8]&0x3f // variant 10

	if string(u[:]) <= string(g.last[:]) {
		u = g.last
		increment(&u)
	}
	g.last = u
	return u.String()
}

// increment adds one to the 74 bits of u that are not version or variant,
// carrying into the timestamp if they overflow.
func increment(u *uuid.UUID) {
	for i := 15; i >= 0; i-- {
		switch i {
		case 8: // two variant bits above six counter bits
			if u[i]&0x3f != 0x3f {
				u[i]++
				return
			}
			u[i] &^= 0x3f
		case 6: // version nibble above four counter bits
			if u[i]&0x0f != 0x0f {
				u[i]++
				return
			}
			u[i] &^= 0x0f
		default:
			u[i]++
			if u[i] != 0 {
				return
			}
		}
	}
}

// idKey is a schedule id as 16 bytes: the UUID the scheduler made it
// from. An id that is not a canonical UUID string (a store may hold ids
// this scheduler did not make) gets a key from the heap's side table.
type idKey [16]byte

// canonicalUUID parses id if it is a UUID in canonical form (lowercase
// hex, dashes at 8, 13, 18 and 23), the form uuid.UUID.String gives back.
func canonicalUUID(id string) (k idKey, ok bool) {
	if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' {
		return k, false
	}
	n := 0
	for i := 0; i < 36; i += 2 {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i--
			continue
		}
		hi, lo := unhex(id[i]), unhex(id[i+1])
		if hi > 15 || lo > 15 {
			return k, false
		}
		k[n] = hi<<4 | lo
		n++
	}
	return k, true
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return 255
}

// idTime returns the instant a UUIDv7 id was made, to the millisecond, or
// the zero time if id is not a canonical UUIDv7 string.
func idTime(id string) time.Time {
	k, ok := canonicalUUID(id)
	if !ok || k[6]>>4 != 7 {
		return time.Time{}
	}
	ms := binary.BigEndian.Uint64(k[0:8]) >> 16
	return time.UnixMilli(int64(ms)).UTC()
}
