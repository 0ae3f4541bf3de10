package bolt

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/tickler-go/tickler"
)

// Format bytes. Every record and history entry starts with one: the
// oldest format that can hold it, so that what an older release could
// write is written exactly as it wrote it, and an older release reads it.
// A later release that changes an encoding adds a format and reads the
// older ones (or migrates them).
const (
	// formatV1 is the first format: records without a retry policy, and
	// every history entry.
	formatV1 = 1
	// formatV2 adds flagRetry: a record with a retry policy of its own.
	formatV2 = 2
	// formatV3 adds flagLabels: a record with a name, a description or a
	// conversation id.
	formatV3 = 3
	// outcomeFormat is the format of history entries.
	outcomeFormat = formatV1
)

// crcTable is CRC-32C (Castagnoli), hardware-accelerated on amd64 and arm64.
var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Flags of the record header.
const (
	flagNext        = 1 << 0 // an 8-byte next occurrence follows
	flagScheduledAt = 1 << 1 // a varint scheduled_at follows
	flagPaused      = 1 << 2 // an 8-byte pause instant follows
	flagRetry       = 1 << 3 // a retry policy follows: three varints (format 2)
	flagLabels      = 1 << 4 // name, description, conversation id follow: three strings (format 3)

	flagsV1 = flagNext | flagScheduledAt | flagPaused
	flagsV2 = flagsV1 | flagRetry
	flagsV3 = flagsV2 | flagLabels
)

// header is the part of a record that firing and acking need; it is
// decoded without touching the message body.
type header struct {
	version uint64
	histSeq uint64 // outcomes ever appended; the newest history key
	next    int64  // Unix nanoseconds; meaningful when hasNext
	hasNext bool
	paused  int64 // Unix nanoseconds the record was paused; 0 if it is not
	retry   *tickler.RetryPolicy
	labels  labels
	agentID string
	sched   tickler.Schedule
	body    []byte // the JSON of the MessageCreate, aliasing the value
}

// labels are a record's optional name, description and conversation id.
type labels struct{ name, description, conversationID string }

func (l labels) empty() bool { return l == labels{} }

// encodeRecord encodes a record value: the header's fields, then its body
// (the message as JSON) as is, so that an ack re-encodes the header around
// the stored body without decoding it.
func encodeRecord(h *header) []byte {
	l := h.labels
	b := make([]byte, 6, 6+2*binary.MaxVarintLen64+8+binary.MaxVarintLen64+8+3*binary.MaxVarintLen64+
		len(l.name)+len(l.description)+len(l.conversationID)+3*binary.MaxVarintLen64+
		len(h.agentID)+len(h.sched.CronExpression)+len(h.sched.Type)+3+len(h.body))
	b[0] = formatV1
	var flags byte
	if h.hasNext {
		flags |= flagNext
	}
	if h.sched.ScheduledAt != nil {
		flags |= flagScheduledAt
	}
	if h.paused != 0 {
		flags |= flagPaused
	}
	if h.retry != nil {
		flags |= flagRetry
		b[0] = formatV2
	}
	if !l.empty() {
		flags |= flagLabels
		b[0] = formatV3
	}
	b[5] = flags
	b = binary.AppendUvarint(b, h.version)
	b = binary.AppendUvarint(b, h.histSeq)
	if h.hasNext {
		b = binary.BigEndian.AppendUint64(b, uint64(h.next))
	}
	if h.sched.ScheduledAt != nil {
		b = binary.AppendVarint(b, *h.sched.ScheduledAt)
	}
	if h.paused != 0 {
		b = binary.BigEndian.AppendUint64(b, uint64(h.paused))
	}
	if h.retry != nil {
		b = binary.AppendVarint(b, int64(h.retry.MaxAttempts))
		b = binary.AppendVarint(b, int64(h.retry.Base))
		b = binary.AppendVarint(b, int64(h.retry.Cap))
	}
	if !l.empty() {
		b = appendString(b, l.name)
		b = appendString(b, l.description)
		b = appendString(b, l.conversationID)
	}
	b = appendString(b, h.agentID)
	b = appendString(b, h.sched.CronExpression)
	b = appendString(b, string(h.sched.Type))
	b = append(b, h.body...)
	binary.BigEndian.PutUint32(b[1:5], crc32.Checksum(b[5:], crcTable))
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// newHeader returns the header of a record about to be created.
func newHeader(r *tickler.Record) (*header, error) {
	body, err := json.Marshal(r.Message)
	if err != nil {
		return nil, fmt.Errorf("bolt: encoding the message of %q: %w", r.ID, err)
	}
	h := &header{version: 1, agentID: r.AgentID, sched: r.Schedule, body: body,
		labels: labels{name: r.Name, description: r.Description, conversationID: r.ConversationID}}
	if r.Retry != nil {
		p := *r.Retry
		h.retry = &p
	}
	if !r.Next.IsZero() {
		h.hasNext, h.next = true, r.Next.UnixNano()
	}
	if !r.PausedAt.IsZero() {
		h.paused = r.PausedAt.UnixNano()
	}
	return h, nil
}

// errShort is the decoding error of a value that ends too early.
var errShort = errors.New("value ends early")

// decodeHeader decodes a record value, checking its format byte and its
// checksum; h.body aliases v. The error is [ErrNewerFormat] or
// [ErrCorrupt], wrapped with the reason; callers wrap it in a
// [RecordError] naming the record.
func decodeHeader(v []byte) (*header, error) {
	h := &header{}
	d, flags, err := h.decodeFixed(v)
	if err != nil {
		return nil, err
	}
	if flags&flagScheduledAt != 0 {
		at := d.varint()
		h.sched.ScheduledAt = &at
	}
	if flags&flagPaused != 0 {
		h.paused = int64(d.uint64())
	}
	if flags&flagRetry != 0 {
		h.retry = &tickler.RetryPolicy{
			MaxAttempts: int(d.varint()),
			Base:        time.Duration(d.varint()),
			Cap:         time.Duration(d.varint()),
		}
	}
	if flags&flagLabels != 0 {
		h.labels.name = d.string()
		h.labels.description = d.string()
		h.labels.conversationID = d.string()
		if d.err == nil && h.labels.empty() {
			// No release writes the flag without a label.
			return nil, fmt.Errorf("%w: empty labels", ErrCorrupt)
		}
	}
	h.agentID = d.string()
	h.sched.CronExpression = d.string()
	h.sched.Type = tickler.ScheduleType(d.string())
	if d.err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, d.err)
	}
	h.body = d.b
	return h, nil
}

// decodeFixed checks v's format byte and checksum and decodes the fields
// a claim needs (version, history sequence, next occurrence) into h. It
// returns the decoder positioned after them, and the flags.
func (h *header) decodeFixed(v []byte) (*decoder, byte, error) {
	if len(v) == 0 {
		return nil, 0, fmt.Errorf("%w: empty value", ErrCorrupt)
	}
	var known byte
	switch v[0] {
	case formatV1:
		known = flagsV1
	case formatV2:
		known = flagsV2
	case formatV3:
		known = flagsV3
	default:
		return nil, 0, fmt.Errorf("%w: format %d (this release reads %d to %d)", ErrNewerFormat, v[0], formatV1, formatV3)
	}
	if len(v) < 6 {
		return nil, 0, fmt.Errorf("%w: %v", ErrCorrupt, errShort)
	}
	if sum := crc32.Checksum(v[5:], crcTable); sum != binary.BigEndian.Uint32(v[1:5]) {
		return nil, 0, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	flags := v[5]
	if flags&^known != 0 {
		return nil, 0, fmt.Errorf("%w: flags %#x unknown to format %d", ErrCorrupt, flags, v[0])
	}
	d := &decoder{b: v[6:]}
	h.version = d.uvarint()
	h.histSeq = d.uvarint()
	if flags&flagNext != 0 {
		h.hasNext, h.next = true, int64(d.uint64())
	}
	if d.err != nil {
		return nil, 0, fmt.Errorf("%w: %v", ErrCorrupt, d.err)
	}
	return d, flags, nil
}

// decodeRecord decodes a whole record value stored under id.
func decodeRecord(id string, v []byte) (*tickler.Record, error) {
	h, err := decodeHeader(v)
	if err != nil {
		return nil, &RecordError{ID: id, Err: err}
	}
	return h.record(id)
}

// record decodes the body of the record id, whose header is h (just
// decoded, and not used again), and returns the whole record.
func (h *header) record(id string) (*tickler.Record, error) {
	r := &tickler.Record{
		ID:       id,
		AgentID:  h.agentID,
		Schedule: h.sched,
		Retry:    h.retry,
		Next:     h.nextTime(),
		Version:  h.version,

		Name:           h.labels.name,
		Description:    h.labels.description,
		ConversationID: h.labels.conversationID,
	}
	if h.paused != 0 {
		r.PausedAt = time.Unix(0, h.paused).UTC()
	}
	if err := json.Unmarshal(h.body, &r.Message); err != nil {
		return nil, &RecordError{ID: id, Err: fmt.Errorf("%w: message: %v", ErrCorrupt, err)}
	}
	return r, nil
}

// nextTime returns the next occurrence as a time, zero when there is none.
func (h *header) nextTime() time.Time {
	if !h.hasNext {
		return time.Time{}
	}
	return time.Unix(0, h.next).UTC()
}

// decoder reads the fields of a header; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return x
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return x
}

func (d *decoder) uint64() uint64 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 8 {
		d.err = errShort
		return 0
	}
	x := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return x
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if uint64(len(d.b)) < n {
		d.err = errShort
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// encodeOutcome encodes a history entry: the format byte, then JSON.
func encodeOutcome(o *tickler.Outcome) ([]byte, error) {
	b, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	return append([]byte{outcomeFormat}, b...), nil
}

// decodeOutcome decodes a history entry of the record id.
func decodeOutcome(id string, v []byte) (tickler.Outcome, error) {
	var o tickler.Outcome
	switch {
	case len(v) == 0:
		return o, &RecordError{ID: id, Err: fmt.Errorf("%w: empty history entry", ErrCorrupt)}
	case v[0] != outcomeFormat:
		return o, &RecordError{ID: id, Err: fmt.Errorf("%w: history entry format %d (this release reads %d)", ErrNewerFormat, v[0], outcomeFormat)}
	}
	if err := json.Unmarshal(v[1:], &o); err != nil {
		return o, &RecordError{ID: id, Err: fmt.Errorf("%w: history entry: %v", ErrCorrupt, err)}
	}
	return o, nil
}

// Index keys. Every key is binary and sorts, byte by byte, in the order the
// index is read.

// dueKey is the key of the due index: the occurrence as 8 big-endian bytes
// of Unix nanoseconds with the sign bit flipped (so that times before 1970
// sort first), then the id.
func dueKey(at int64, id string) []byte {
	k := make([]byte, 8, 8+len(id))
	binary.BigEndian.PutUint64(k, uint64(at)^(1<<63))
	return append(k, id...)
}

// parseDueKey splits a due-index key.
func parseDueKey(k []byte) (at int64, id string, ok bool) {
	if len(k) < 8 {
		return 0, "", false
	}
	return int64(binary.BigEndian.Uint64(k) ^ (1 << 63)), string(k[8:]), true
}

// prefixed returns uvarint(len(s)) followed by s, with room for extra more
// bytes. A length prefix keeps one agent's (or record's) keys together and
// apart from those of any other, whatever bytes the strings hold.
func prefixed(s string, extra int) []byte {
	k := make([]byte, 0, binary.MaxVarintLen64+len(s)+extra)
	return appendString(k, s)
}

// agentKey is the key of the agent index: the length-prefixed agent id,
// then the record id.
func agentKey(agentID, id string) []byte {
	return append(prefixed(agentID, len(id)), id...)
}

// historyKey is the key of a history entry: the length-prefixed record id,
// then the entry's sequence number as 8 big-endian bytes.
func historyKey(id string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(prefixed(id, 8), seq)
}
