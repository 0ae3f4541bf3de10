package bolt

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/storetest"
)

func TestDueKeysSortInClaimOrder(t *testing.T) {
	t.Parallel()
	epoch := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	dues := []tickler.Due{
		{ID: "a", At: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)}, // before 1970: negative
		{ID: "b", At: time.Unix(0, -1)},
		{ID: "a", At: time.Unix(0, 0)},
		{ID: "a", At: epoch},
		{ID: "ab", At: epoch},
		{ID: "b", At: epoch},
		{ID: "\xff", At: epoch},
		{ID: "a", At: epoch.Add(time.Nanosecond)},
	}
	for i, d := range dues {
		for j, e := range dues {
			got := bytes.Compare(dueKey(d.At.UnixNano(), d.ID), dueKey(e.At.UnixNano(), e.ID)) < 0
			if want := d.Before(e); got != want {
				t.Errorf("dues[%d] < dues[%d]: keys say %v, Due.Before says %v", i, j, got, want)
			}
		}
		at, id, ok := parseDueKey(dueKey(d.At.UnixNano(), d.ID))
		if !ok || at != d.At.UnixNano() || id != d.ID {
			t.Errorf("parseDueKey(dueKey(%v)) = %d %q %v", d, at, id, ok)
		}
	}
}

func TestAgentKeysKeepAgentsApart(t *testing.T) {
	t.Parallel()
	// Without the length prefix, agent "a" with id "b..." and agent "ab"
	// would share key bytes.
	if bytes.HasPrefix(agentKey("ab", "x"), agentKey("a", "")) {
		t.Fatal(`agent "ab"'s keys fall within agent "a"'s prefix`)
	}
}

// FuzzDecodeRecord feeds arbitrary bytes to the decoders: they return an
// error or a record, and never panic.
func FuzzDecodeRecord(f *testing.F) {
	epoch := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, r := range []*tickler.Record{
		storetest.Record("id", "agent", epoch),
		storetest.Record("id", "agent", time.Time{}),
		{ID: "c", AgentID: "a", Schedule: tickler.Cron("* * * * *"), Next: epoch},
	} {
		h, err := newHeader(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(encodeRecord(h))
	}
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0, 0, 3})
	f.Fuzz(func(t *testing.T, v []byte) {
		checkDecode(t, v)
		if len(v) >= 6 {
			// Also with a valid checksum, so that the structure is decoded.
			v = bytes.Clone(v)
			binary.BigEndian.PutUint32(v[1:5], crc32.Checksum(v[5:], crcTable))
			checkDecode(t, v)
		}
	})
}

// checkDecode decodes v, which must yield a record or a *RecordError naming it.
func checkDecode(t *testing.T, v []byte) {
	t.Helper()
	r, err := decodeRecord("id", v)
	var re *RecordError
	switch {
	case err == nil && r == nil:
		t.Fatal("no record and no error")
	case err != nil && (!errors.As(err, &re) || re.ID != "id"):
		t.Fatalf("error %v does not name the record", err)
	case err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNewerFormat):
		t.Fatalf("error %v is neither ErrCorrupt nor ErrNewerFormat", err)
	}
	if _, err := decodeOutcome("id", v); err != nil && !errors.As(err, &re) {
		t.Fatalf("history error %v does not name the record", err)
	}
}

// corpusValue reads a value of the committed seed corpus of
// FuzzDecodeRecord: records as earlier releases (and this one) wrote them.
func corpusValue(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzDecodeRecord", name))
	if err != nil {
		t.Fatal(err)
	}
	header, lit, ok := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if !ok || header != "go test fuzz v1" || !strings.HasPrefix(lit, "[]byte(") || !strings.HasSuffix(lit, ")") {
		t.Fatalf("%s is not a one-value corpus file", name)
	}
	v, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lit, "[]byte("), ")"))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return []byte(v)
}

// TestRecordsOfEarlierReleasesStillDecode decodes the records of the
// committed corpus, written by the release before retry policies (format
// 1), by the first with them (format 2) and by the first with labels
// (format 3), and checks that each encodes back to the same bytes: a
// record without a retry policy or labels is written exactly as the
// earlier releases wrote it, so that they can still read it.
func TestRecordsOfEarlierReleasesStillDecode(t *testing.T) {
	t.Parallel()
	epoch := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	full := storetest.Record("id", "agent", epoch).Message
	zeroMs := time.Time{}.UnixMilli()
	for _, c := range []struct {
		file    string
		format  byte
		want    tickler.Record
		histSeq uint64
	}{
		{"one-time-all-fields", formatV1, tickler.Record{ID: "id", AgentID: "agent", Message: full,
			Schedule: tickler.At(epoch), Next: epoch, Version: 1}, 0},
		{"no-next", formatV1, tickler.Record{ID: "id", AgentID: "agent", Message: full,
			Schedule: tickler.Schedule{Type: tickler.OneTime, ScheduledAt: &zeroMs}, Version: 1}, 0},
		{"paused", formatV1, tickler.Record{ID: "id", AgentID: "agent", Message: full,
			Schedule: tickler.Schedule{Type: tickler.OneTime, ScheduledAt: &zeroMs}, PausedAt: epoch, Version: 1}, 0},
		{"recurring", formatV1, tickler.Record{ID: "id", AgentID: "a",
			Schedule: tickler.Cron("CRON_TZ=Europe/London 0 9 * * 1"), Next: epoch, Version: 1}, 0},
		{"retry-policy", formatV2, tickler.Record{ID: "id", AgentID: "agent", Message: full, Schedule: tickler.At(epoch),
			Retry: &tickler.RetryPolicy{MaxAttempts: 3, Base: 1500 * time.Millisecond, Cap: time.Minute}, Next: epoch, Version: 4}, 2},
		{"labels", formatV3, tickler.Record{ID: "id", AgentID: "agent", Message: full, Schedule: tickler.At(epoch),
			Retry: &tickler.RetryPolicy{MaxAttempts: 3, Base: 1500 * time.Millisecond, Cap: time.Minute}, Next: epoch, Version: 2,
			Name: "standup", Description: "the daily stand-up", ConversationID: "conv-1"}, 1},
	} {
		t.Run(c.file, func(t *testing.T) {
			t.Parallel()
			v := corpusValue(t, c.file)
			if v[0] != c.format {
				t.Fatalf("format byte %d, want %d", v[0], c.format)
			}
			got, err := decodeRecord("id", v)
			if err != nil {
				t.Fatal(err)
			}
			want := c.want
			if got.ID != want.ID || got.AgentID != want.AgentID || got.Version != want.Version ||
				!got.Next.Equal(want.Next) || !got.PausedAt.Equal(want.PausedAt) ||
				got.Name != want.Name || got.Description != want.Description || got.ConversationID != want.ConversationID {
				t.Fatalf("decoded %+v\nwant    %+v", got, want)
			}
			for _, pair := range [][2]any{{got.Message, want.Message}, {got.Schedule, want.Schedule}, {got.Retry, want.Retry}} {
				if g, w := jsonString(t, pair[0]), jsonString(t, pair[1]); g != w {
					t.Fatalf("decoded %s, want %s", g, w)
				}
			}
			h, err := decodeHeader(v)
			if err != nil {
				t.Fatal(err)
			}
			if h.histSeq != c.histSeq {
				t.Fatalf("history sequence %d, want %d", h.histSeq, c.histSeq)
			}
			if again := encodeRecord(h); !bytes.Equal(again, v) {
				t.Fatalf("re-encoded differently:\n%q\nwant\n%q", again, v)
			}
		})
	}
}

func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRetryPolicyNeedsFormat2 checks the format byte: 1 without a retry
// policy, 2 with one; a format-1 record with the retry flag, which no
// release writes, is damaged, and format 4 is newer than this release.
func TestRetryPolicyNeedsFormat2(t *testing.T) {
	t.Parallel()
	epoch := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := storetest.Record("id", "agent", epoch)
	r.Name, r.Description, r.ConversationID = "", "", ""
	for _, p := range []*tickler.RetryPolicy{
		nil,
		{MaxAttempts: 1},
		{MaxAttempts: 5, Base: time.Second, Cap: 5 * time.Minute},
		{MaxAttempts: 1 << 40, Base: tickler.MaxRetryDelay, Cap: -1}, // not valid, still kept as given
	} {
		r.Retry = p
		h, err := newHeader(r)
		if err != nil {
			t.Fatal(err)
		}
		v := encodeRecord(h)
		if want := map[bool]byte{true: formatV1, false: formatV2}[p == nil]; v[0] != want {
			t.Fatalf("retry %v: format byte %d, want %d", p, v[0], want)
		}
		got, err := decodeRecord("id", v)
		if err != nil {
			t.Fatal(err)
		}
		if (got.Retry == nil) != (p == nil) || (p != nil && *got.Retry != *p) {
			t.Fatalf("retry %v decoded as %v", p, got.Retry)
		}
		if p == nil {
			continue
		}
		for format, want := range map[byte]error{formatV1: ErrCorrupt, 4: ErrNewerFormat} {
			w := bytes.Clone(v)
			w[0] = format
			binary.BigEndian.PutUint32(w[1:5], crc32.Checksum(w[5:], crcTable))
			var re *RecordError
			if _, err := decodeRecord("id", w); !errors.Is(err, want) || !errors.As(err, &re) || !errors.Is(err, tickler.ErrDamaged) {
				t.Fatalf("format %d with the retry flag = %v, want %v", format, err, want)
			}
		}
	}
}

// TestLabelsNeedFormat3 checks the format byte of a record with a name, a
// description or a conversation id: 3, whether or not it has a retry
// policy, and each label round-trips alone. Without labels a record is
// written as before (format 1 or 2, byte for byte: see
// TestRecordsOfEarlierReleasesStillDecode). Formats 1 and 2 with the
// labels flag, which no release writes, are damaged, and so is the flag
// with three empty labels.
func TestLabelsNeedFormat3(t *testing.T) {
	t.Parallel()
	epoch := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, retry := range []bool{false, true} {
		for _, l := range []labels{
			{name: "n"}, {description: "d"}, {conversationID: "c"},
			{name: "standup", description: "ünïcode\nand more", conversationID: "conv-1"},
		} {
			r := storetest.Record("id", "agent", epoch)
			r.Name, r.Description, r.ConversationID = l.name, l.description, l.conversationID
			if !retry {
				r.Retry = nil
			}
			h, err := newHeader(r)
			if err != nil {
				t.Fatal(err)
			}
			v := encodeRecord(h)
			if v[0] != formatV3 {
				t.Fatalf("labels %+v: format byte %d, want %d", l, v[0], formatV3)
			}
			got, err := decodeRecord("id", v)
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != l.name || got.Description != l.description || got.ConversationID != l.conversationID ||
				(got.Retry != nil) != retry {
				t.Fatalf("labels %+v (retry %v) decoded as %q/%q/%q (retry %v)", l, retry,
					got.Name, got.Description, got.ConversationID, got.Retry)
			}
			for _, format := range []byte{formatV1, formatV2} {
				w := bytes.Clone(v)
				w[0] = format
				binary.BigEndian.PutUint32(w[1:5], crc32.Checksum(w[5:], crcTable))
				if _, err := decodeRecord("id", w); !errors.Is(err, ErrCorrupt) {
					t.Fatalf("format %d with the labels flag = %v, want ErrCorrupt", format, err)
				}
			}
		}
	}
	h, err := newHeader(&tickler.Record{ID: "id", AgentID: "a", Schedule: tickler.Cron("* * * * *"), Next: epoch})
	if err != nil {
		t.Fatal(err)
	}
	v := encodeRecord(h)
	// Set the flag by hand, with three empty strings after the fixed part.
	w := append(bytes.Clone(v[:6]), v[6:]...)
	w[0], w[5] = formatV3, w[5]|flagLabels
	d := &decoder{b: w[6:]}
	d.uvarint()
	d.uvarint()
	d.uint64()
	at := len(w) - len(d.b)
	w = append(w[:at], append([]byte{0, 0, 0}, w[at:]...)...)
	binary.BigEndian.PutUint32(w[1:5], crc32.Checksum(w[5:], crcTable))
	if _, err := decodeRecord("id", w); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("the labels flag with no label = %v, want ErrCorrupt", err)
	}
}

// TestOutcomeTriggeredRoundTrips checks the history entry encoding.
func TestOutcomeTriggeredRoundTrips(t *testing.T) {
	t.Parallel()
	for _, trig := range []bool{false, true} {
		o := &tickler.Outcome{ID: "h", ScheduledMessageID: "id", Status: tickler.StatusSuccess, Triggered: trig}
		v, err := encodeOutcome(o)
		if err != nil {
			t.Fatal(err)
		}
		if v[0] != formatV1 {
			t.Fatalf("history entry format %d, want %d", v[0], formatV1)
		}
		got, err := decodeOutcome("id", v)
		if err != nil || got.Triggered != trig {
			t.Fatalf("Triggered %v decoded as %+v, %v", trig, got, err)
		}
	}
}
