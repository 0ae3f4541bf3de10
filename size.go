package tickler

import (
	"encoding/json"
	"fmt"
)

// RecordSize is how many bytes r counts against
// [CreateParams.MaxBytesPerAgent]: the length of its message's JSON
// encoding (json.Marshal of r.Message) plus the lengths of its labels
// (name, description, conversation id). Every store measures a record
// with it, or with [EncodedRecordSize] when it already holds the
// message's JSON, so that the per-agent byte totals of all stores agree.
// It fails only if the message cannot be encoded.
func RecordSize(r *Record) (int64, error) {
	b, err := json.Marshal(r.Message)
	if err != nil {
		return 0, fmt.Errorf("tickler: encoding the message of %q: %w", r.ID, err)
	}
	return EncodedRecordSize(len(b), r.Name, r.Description, r.ConversationID), nil
}

// EncodedRecordSize is [RecordSize] of a record whose message encodes to
// messageJSON bytes (json.Marshal of its Message), for a store that keeps
// that encoding (the bolt store's record body) and need not encode it
// again.
func EncodedRecordSize(messageJSON int, name, description, conversationID string) int64 {
	return int64(messageJSON + len(name) + len(description) + len(conversationID))
}
