package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
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
