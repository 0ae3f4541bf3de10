package tickler

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// fill sets every field reachable from v to a non-zero value: strings to
// text that JSON escapes, numbers to 7, pointers to filled values, slices
// to two filled elements. Fields a later release adds are filled too.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		// Long and all escaped, so that a string left out of sizeBound
		// outweighs the bound's slack.
		v.SetString(strings.Repeat("\x01", 100))
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(7)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem())
		v.Set(p)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(s.Index(i))
		}
		v.Set(s)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	}
}

// TestCloneAndSizeBoundCoverEveryField ties MessageCreate.clone and
// sizeBound to the type: a field added to MessageCreate, Message,
// ContentPart or ImageSource and forgotten in either fails here.
func TestCloneAndSizeBoundCoverEveryField(t *testing.T) {
	t.Parallel()
	var m MessageCreate
	fill(reflect.ValueOf(&m).Elem())
	// fill makes each message's content both text and parts; test each.
	for _, parts := range []bool{false, true} {
		m := m
		if !parts {
			m.Messages = append([]Message(nil), m.Messages...)
			for i := range m.Messages {
				m.Messages[i].Content.Parts = nil
			}
		}
		c := m.clone()
		if !reflect.DeepEqual(c, m) {
			t.Fatalf("clone differs from the original")
		}
		// Changing everything reachable in the original leaves the clone
		// as it was: they share nothing.
		before, _ := json.Marshal(c)
		mutate(reflect.ValueOf(&m).Elem())
		if after, _ := json.Marshal(c); string(after) != string(before) {
			t.Fatalf("the clone shares memory with the original:\n%s\n%s", before, after)
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if bound := c.sizeBound(); bound < len(b) {
			t.Fatalf("sizeBound = %d, below the encoding's %d bytes: a field is not counted", bound, len(b))
		}
	}
}

// mutate changes, in place, every string and number reachable through
// pointers and slices from v (but not v's own copy semantics).
func mutate(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("changed")
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(99)
	case reflect.Pointer:
		if !v.IsNil() {
			mutate(v.Elem())
		}
	case reflect.Slice:
		for i := range v.Len() {
			mutate(v.Index(i))
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				mutate(v.Field(i))
			}
		}
	}
}
