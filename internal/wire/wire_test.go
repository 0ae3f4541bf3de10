package wire

import (
	"encoding/json"
	"testing"
)

func TestMarshalKeepsHTMLCharacters(t *testing.T) {
	t.Parallel()
	raw := json.RawMessage(`{"a":"<b>&</b>"}`)
	got, err := Marshal(map[string]any{"s": "<b>&</b>", "raw": raw})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"raw":{"a":"<b>&</b>"},"s":"<b>&</b>"}`; string(got) != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}
