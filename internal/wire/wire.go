// Package wire is how tickler's HTTP responses and callback bodies are
// encoded: one JSON encoder for the module's wire, so that a string reads
// back exactly as it went in.
package wire

import (
	"bytes"
	"encoding/json"
)

// Marshal is json.Marshal without HTML escaping: "<", ">" and "&" stay as
// they are instead of becoming "\u003c" and the like, as the root package's
// own encoding of messages does. The result has no trailing newline.
func Marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := Encode(&b, v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Encode appends v's JSON to b, followed by a newline, without HTML
// escaping. On error, b may hold part of the encoding.
func Encode(b *bytes.Buffer, v any) error {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
