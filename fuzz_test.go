package tickler

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/robfig/cron/v3"
)

// matches reports whether the wall time w (UTC fields) matches spec, with
// cron's rule that day-of-month and day-of-week are ORed when both are
// restricted.
func matches(spec *cron.SpecSchedule, w time.Time) bool {
	bit := func(set uint64, v int) bool { return set&(1<<uint(v)) != 0 }
	const star = 1 << 63
	dom, dow := bit(spec.Dom, w.Day()), bit(spec.Dow, int(w.Weekday()))
	day := dom && dow
	if spec.Dom&star == 0 && spec.Dow&star == 0 {
		day = dom || dow
	}
	return w.Second() == 0 && w.Nanosecond() == 0 && bit(spec.Minute, w.Minute()) &&
		bit(spec.Hour, w.Hour()) && bit(spec.Month, int(w.Month())) && day
}

// FuzzCron checks that parsing never panics, and that every next fire time
// is strictly after the previous one and matches the expression (on the
// zone's wall clock, except at the end of a spring-forward gap, where the
// DST policy runs a skipped time).
func FuzzCron(f *testing.F) {
	for _, s := range []string{"* * * * *", "*/15 9-17 * * 1-5", "0 0 29 2 *", "0 0 30 2 *", "5,10 */2 1 jan,jul sun",
		"CRON_TZ=America/New_York 30 2 * * *", "CRON_TZ=Europe/London */30 1 * * *", "TZ=Asia/Kolkata 0 0 1 * *", "0 0 31 * 5"} {
		f.Add(s, int64(1772841600000)) // 2026-03-07
	}
	f.Fuzz(func(t *testing.T, expr string, fromMs int64) {
		trig, err := parseCron(expr)
		if err != nil {
			return
		}
		from := time.UnixMilli(fromMs % (1 << 42)).UTC() // within a few centuries
		var spec *cron.SpecSchedule
		var z *zoned
		switch v := trig.(type) {
		case *cron.SpecSchedule:
			spec = v
		case zoned:
			spec, z = v.spec, &v
		}
		prev := from
		for range 20 {
			next := trig.Next(prev)
			if next.IsZero() {
				return
			}
			if !next.After(prev) {
				t.Fatalf("%q: Next(%v) = %v, not after it", expr, prev, next)
			}
			w := next
			if z != nil {
				w = z.wall(next)
			}
			if !matches(spec, w) {
				gapEnd := z != nil && z.wall(next.Add(-time.Millisecond)).Add(time.Millisecond).Before(w)
				if !gapEnd {
					t.Fatalf("%q: Next(%v) = %v (wall %v) does not match", expr, prev, next, w)
				}
			}
			prev = next
		}
	})
}

// FuzzCreateRequest checks that decoding never panics, and that a request
// that decodes and validates re-encodes to JSON that decodes to the same
// request: encoding is a fixed point.
func FuzzCreateRequest(f *testing.F) {
	for _, s := range []string{
		`{"messages":[{"content":"hello","role":"user"}],"schedule":{"scheduled_at":1786140000000}}`,
		`{"messages":[{"content":[{"text":"look","signature":null},{"source":{"data":"aGk=","media_type":"image/png"},"type":"image"}],"role":"user","name":"n"}],"schedule":{"cron_expression":"0 9 * * 1-5","type":"recurring"},"callback_url":"https://example.com/cb","include_return_message_types":["assistant_message"],"max_steps":3.0}`,
		`{"messages":[{"content":"x","role":"system","otid":null}],"schedule":{"scheduled_at":1.7e12,"type":"one-time"},"include_return_message_types":[]}`,
		`{"messages":[],"schedule":{}}`,
		`[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var req CreateRequest
		if json.Unmarshal(data, &req) != nil {
			return
		}
		msg := req.message()
		if msg.validate() != nil {
			return
		}
		if _, err := req.Schedule.compile(); err != nil {
			return
		}
		enc, err := json.Marshal(req)
		if err != nil {
			t.Fatalf("a valid request does not encode: %v", err)
		}
		if b, _ := json.Marshal(msg); len(b) > msg.sizeBound() {
			t.Fatalf("sizeBound %d is below the encoded size %d of %s", msg.sizeBound(), len(b), b)
		}
		var again CreateRequest
		if err := json.Unmarshal(enc, &again); err != nil {
			t.Fatalf("re-encoded request does not decode: %v\n%s", err, enc)
		}
		enc2, _ := json.Marshal(again)
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not a fixed point:\n%s\n%s", enc, enc2)
		}
		if msg := again.message(); msg.validate() != nil {
			t.Fatalf("re-encoded request no longer validates: %s", enc)
		}
	})
}

// FuzzCanonicalUUID checks that an id maps to a key and back to itself
// exactly when it is a canonical UUID string.
func FuzzCanonicalUUID(f *testing.F) {
	f.Add("019b76da-a800-78c0-8fec-1d5604cc1cdc")
	f.Add("019B76DA-A800-78C0-8FEC-1D5604CC1CDC")
	f.Add("{019b76da-a800-78c0-8fec-1d5604cc1cdc}")
	f.Add("legacy-42")
	f.Fuzz(func(t *testing.T, id string) {
		k, ok := canonicalUUID(id)
		u, err := uuid.Parse(id)
		canonical := err == nil && u.String() == id
		if ok != canonical {
			t.Fatalf("canonicalUUID(%q) = %v, want %v", id, ok, canonical)
		}
		if ok && uuid.UUID(k).String() != id {
			t.Fatalf("key of %q reads back as %s", id, uuid.UUID(k))
		}
	})
}

// FuzzInstants checks every conversion of an instant: a schedule that
// validates at now has a first occurrence after now and at or before
// MaxScheduledAt, every later occurrence too, and each one survives the
// heap's Unix-nanosecond form unchanged; one that does not validate names
// a schedule field.
func FuzzInstants(f *testing.F) {
	f.Add(int64(10000000000000), "", int64(1786140000000))
	f.Add(int64(MaxScheduledAt), "", int64(MaxScheduledAt-1))
	f.Add(int64(0), "0 0 29 2 *", int64(MaxScheduledAt-86400000))
	f.Add(int64(0), "* * * * *", int64(-1))
	f.Add(int64(-5), "", int64(0))
	f.Fuzz(func(t *testing.T, at int64, expr string, nowMs int64) {
		s := Schedule{ScheduledAt: &at, Type: OneTime}
		if expr != "" {
			s = Cron(expr)
		}
		now := time.UnixMilli(nowMs % (MaxScheduledAt + 1)).UTC()
		trig, next, err := s.first(now)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || !strings.HasPrefix(ve.Field, "schedule") {
				t.Fatalf("first(%+v, %v) = %v, want a validation error on a schedule field", s, now, err)
			}
			return
		}
		for range 5 {
			if !next.After(now) || next.After(maxInstant) {
				t.Fatalf("%+v at %v: occurrence %v outside (now, %v]", s, now, next, maxInstant)
			}
			if back := fromUnixNano(unixNano(next)); !back.Equal(next) {
				t.Fatalf("%v read back from the heap as %v", next, back)
			}
			now, next = next, trig.Next(next)
			if next.IsZero() {
				return
			}
		}
	})
}
