package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/tickler-go/tickler"
)

// A shape checks a decoded JSON value (decoded with UseNumber) for its JSON
// types and its field names, and adds what is wrong to rep. It checks
// no more than that: what the values mean is the scheduler's to validate.
//
// Shapes exist because the scheduler's types decode themselves (with
// UnmarshalJSON methods), and encoding/json's DisallowUnknownFields does
// not reach into such methods; checking the shape first rejects an unknown
// field at any depth, and names it by its full location.
type shape func(loc []any, v any, rep *report)

// Bounds of a check, so that the answer to a body stays small whatever
// the body: the first maxFieldErrors errors are reported, with a count of
// the others, and a list longer than maxListItems is one error, its
// elements unchecked. maxListItems is well above the scheduler's default
// bound on messages ([tickler.DefaultMaxMessages]) and the nine values of
// include_return_message_types.
const (
	maxFieldErrors = 20
	maxListItems   = 1000
)

// report collects the errors of a check: the first maxFieldErrors, and a
// count of the others.
type report struct {
	errs []fieldError
	more int
}

// add records e, or counts it once the report is full.
func (r *report) add(e fieldError) {
	if len(r.errs) < maxFieldErrors {
		r.errs = append(r.errs, e)
		return
	}
	r.more++
}

// list returns the errors, ending with a count of those left out; nil if
// there were none.
func (r *report) list() []fieldError {
	if r.more == 0 {
		return r.errs
	}
	return append(r.errs, fieldError{Loc: []any{"body"}, Msg: fmt.Sprintf("and %d more errors", r.more), Type: typeTooMany})
}

// field is one member of an object shape.
type field struct {
	name     string
	shape    shape
	required bool
}

// at returns loc followed by elem, sharing nothing with loc.
func at(loc []any, elem any) []any {
	return append(slices.Clip(loc), elem)
}

// object accepts a JSON object with the fields, and no other. A JSON null
// in an optional field reads as absent, as the scheduler reads it.
func object(fields ...field) shape {
	return func(loc []any, v any, rep *report) {
		m, ok := v.(map[string]any)
		if !ok {
			rep.add(fieldError{Loc: loc, Msg: "Input should be a valid dictionary or object to extract fields from", Type: typeObject})
			return
		}
		known := make(map[string]bool, len(fields))
		for _, f := range fields {
			known[f.name] = true
			fv, present := m[f.name]
			switch {
			case !present && f.required:
				rep.add(fieldError{Loc: at(loc, f.name), Msg: "Field required", Type: typeMissing})
			case !present, fv == nil && !f.required:
			default:
				f.shape(at(loc, f.name), fv, rep)
			}
		}
		var extra []string
		for k := range m {
			if !known[k] {
				extra = append(extra, k)
			}
		}
		slices.Sort(extra)
		for _, k := range extra {
			rep.add(fieldError{Loc: at(loc, k), Msg: "Extra inputs are not permitted", Type: typeExtra})
		}
	}
}

// list accepts a JSON array of at most maxListItems elements, which all
// have the shape elem.
func list(elem shape) shape {
	return func(loc []any, v any, rep *report) {
		a, ok := v.([]any)
		if !ok {
			rep.add(fieldError{Loc: loc, Msg: "Input should be a valid list", Type: typeList})
			return
		}
		if len(a) > maxListItems {
			rep.add(fieldError{Loc: loc, Msg: fmt.Sprintf("List should have at most %d items, not %d", maxListItems, len(a)), Type: typeTooLong})
			return
		}
		for i, e := range a {
			elem(at(loc, i), e, rep)
		}
	}
}

// str accepts a JSON string.
func str(loc []any, v any, rep *report) {
	if _, ok := v.(string); !ok {
		rep.add(fieldError{Loc: loc, Msg: "Input should be a valid string", Type: typeString})
	}
}

// number accepts a JSON number.
func number(loc []any, v any, rep *report) {
	if _, ok := v.(json.Number); !ok {
		rep.add(fieldError{Loc: loc, Msg: "Input should be a valid number", Type: typeNumber})
	}
}

// stringOrList accepts a JSON string, or a JSON array whose elements have
// the shape elem.
func stringOrList(elem shape) shape {
	l := list(elem)
	return func(loc []any, v any, rep *report) {
		switch v.(type) {
		case string:
		case []any:
			l(loc, v, rep)
		default:
			rep.add(fieldError{Loc: loc, Msg: "Input should be a valid string or a list of content parts", Type: typeUnion})
		}
	}
}

// The shapes of the request bodies, derived from the scheduler's types so
// that a field added there is accepted here without a second list to keep
// in step.
var (
	createShape = shapeOf(reflect.TypeFor[tickler.CreateRequest]())
	// An update (an extension) takes any of the create body's fields.
	updateShape = shapeOf(reflect.TypeFor[tickler.UpdateRequest]())
	// The official client sends {} with a DELETE; pause and resume take
	// the same: no field is known.
	emptyShape = object()
)

// shapeOf derives the shape of the JSON that a value of type t decodes
// from: a struct is an object of its fields named by their json tags, a
// field being required unless it is a pointer or tagged omitempty or
// omitzero; a string type is a string, a number type a number, a slice a
// list, a pointer its element. [tickler.Content], which decodes itself, is
// a string or a list of parts. It panics on a type it cannot describe, so
// that a field of a new kind fails every test of the package rather than
// slipping through unchecked.
func shapeOf(t reflect.Type) shape {
	if t == reflect.TypeFor[tickler.Content]() {
		return stringOrList(shapeOf(reflect.TypeFor[tickler.ContentPart]()))
	}
	switch t.Kind() {
	case reflect.Pointer:
		return shapeOf(t.Elem())
	case reflect.String:
		return str
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return number
	case reflect.Slice:
		return list(shapeOf(t.Elem()))
	case reflect.Struct:
		var fields []field
		for i := range t.NumField() {
			f := t.Field(i)
			tag, ok := f.Tag.Lookup("json")
			if !f.IsExported() || tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if !ok || name == "" || f.Anonymous {
				panic("httpapi: shapeOf: " + t.String() + "." + f.Name + " has no json name")
			}
			optional := f.Type.Kind() == reflect.Pointer
			for opt := range strings.SplitSeq(opts, ",") {
				optional = optional || opt == "omitempty" || opt == "omitzero"
			}
			fields = append(fields, field{name: name, shape: shapeOf(f.Type), required: !optional})
		}
		return object(fields...)
	}
	panic("httpapi: shapeOf: no shape for " + t.String())
}

// checkBody decodes body as exactly one JSON value and checks it against
// s. It returns nil if the body fits.
func checkBody(body []byte, s shape) []fieldError {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return []fieldError{{Loc: []any{"body"}, Msg: "Field required", Type: typeMissing}}
		}
		off := dec.InputOffset()
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			off = se.Offset
		case errors.Is(err, io.ErrUnexpectedEOF):
			off = int64(len(body))
		}
		return []fieldError{{Loc: []any{"body", off}, Msg: "JSON decode error: " + err.Error(), Type: typeJSON}}
	}
	end := dec.InputOffset()
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return []fieldError{{
			Loc:  []any{"body", end},
			Msg:  fmt.Sprintf("JSON decode error: unexpected data after the JSON value at offset %d", end),
			Type: typeJSON,
		}}
	}
	var rep report
	if !utf8.Valid(body) {
		checkUTF8(body, &rep)
		return rep.list()
	}
	s([]any{"body"}, v, &rep)
	return rep.list()
}

// checkUTF8 reports each string of body, a valid JSON value, that is not
// valid UTF-8, by its location: encoding/json would read it with U+FFFD in
// place of the bad bytes, and a message must read back exactly as it was
// sent. A bad object key is reported at the key, as decoded.
func checkUTF8(body []byte, rep *report) {
	// frame is an object or array being read: the key or index of the
	// value being read in it.
	type frame struct {
		object  bool
		wantKey bool // object: the next string is a key
		key     string
		index   int
	}
	var stack []frame
	loc := func() []any {
		l := []any{"body"}
		for _, f := range stack {
			if f.object {
				l = append(l, f.key)
			} else {
				l = append(l, f.index)
			}
		}
		return l
	}
	// done moves the innermost container past the value just read.
	done := func() {
		if n := len(stack); n > 0 {
			if stack[n-1].object {
				stack[n-1].wantKey = true
			} else {
				stack[n-1].index++
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	start := dec.InputOffset()
	for {
		tok, err := dec.Token()
		if err != nil {
			return // io.EOF: the body was checked as valid JSON before
		}
		end := dec.InputOffset()
		// Between start and end, only the token itself can hold bytes
		// outside ASCII: separators and white space are ASCII.
		raw := body[start:end]
		start = end
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				stack = append(stack, frame{object: t == '{', wantKey: t == '{'})
			default:
				stack = stack[:len(stack)-1]
				done()
			}
		case string:
			n := len(stack)
			isKey := n > 0 && stack[n-1].object && stack[n-1].wantKey
			if isKey {
				stack[n-1].key, stack[n-1].wantKey = t, false
			}
			if !utf8.Valid(raw) {
				rep.add(fieldError{Loc: loc(), Msg: msgUnicode, Type: typeUnicode})
			}
			if !isKey {
				done()
			}
		default:
			done()
		}
	}
}
