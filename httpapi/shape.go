package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
)

// A shape checks a decoded JSON value (decoded with UseNumber) for its JSON
// types and its field names, and appends what is wrong to errs. It checks
// no more than that: what the values mean is the scheduler's to validate.
//
// Shapes exist because the scheduler's types decode themselves (with
// UnmarshalJSON methods), and encoding/json's DisallowUnknownFields does
// not reach into such methods; checking the shape first rejects an unknown
// field at any depth, and names it by its full location.
type shape func(loc []any, v any, errs *[]fieldError)

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
	return func(loc []any, v any, errs *[]fieldError) {
		m, ok := v.(map[string]any)
		if !ok {
			*errs = append(*errs, fieldError{Loc: loc, Msg: "Input should be a valid dictionary or object to extract fields from", Type: typeObject})
			return
		}
		known := make(map[string]bool, len(fields))
		for _, f := range fields {
			known[f.name] = true
			fv, present := m[f.name]
			switch {
			case !present && f.required:
				*errs = append(*errs, fieldError{Loc: at(loc, f.name), Msg: "Field required", Type: typeMissing})
			case !present, fv == nil && !f.required:
			default:
				f.shape(at(loc, f.name), fv, errs)
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
			*errs = append(*errs, fieldError{Loc: at(loc, k), Msg: "Extra inputs are not permitted", Type: typeExtra})
		}
	}
}

// list accepts a JSON array whose elements all have the shape elem.
func list(elem shape) shape {
	return func(loc []any, v any, errs *[]fieldError) {
		a, ok := v.([]any)
		if !ok {
			*errs = append(*errs, fieldError{Loc: loc, Msg: "Input should be a valid list", Type: typeList})
			return
		}
		for i, e := range a {
			elem(at(loc, i), e, errs)
		}
	}
}

// str accepts a JSON string.
func str(loc []any, v any, errs *[]fieldError) {
	if _, ok := v.(string); !ok {
		*errs = append(*errs, fieldError{Loc: loc, Msg: "Input should be a valid string", Type: typeString})
	}
}

// number accepts a JSON number.
func number(loc []any, v any, errs *[]fieldError) {
	if _, ok := v.(json.Number); !ok {
		*errs = append(*errs, fieldError{Loc: loc, Msg: "Input should be a valid number", Type: typeNumber})
	}
}

// stringOrList accepts a JSON string, or a JSON array whose elements have
// the shape elem.
func stringOrList(elem shape) shape {
	l := list(elem)
	return func(loc []any, v any, errs *[]fieldError) {
		switch v.(type) {
		case string:
		case []any:
			l(loc, v, errs)
		default:
			*errs = append(*errs, fieldError{Loc: loc, Msg: "Input should be a valid string or a list of content parts", Type: typeUnion})
		}
	}
}

// The shapes of the request bodies, as Letta's API reference gives them.
var (
	imageSourceShape = object(
		field{name: "data", shape: str, required: true},
		field{name: "media_type", shape: str, required: true},
		field{name: "detail", shape: str},
		field{name: "type", shape: str},
	)
	// A part is a text part {text, signature?, type?} or an image part
	// {source, type}; the scheduler tells which is which.
	contentPartShape = object(
		field{name: "text", shape: str},
		field{name: "signature", shape: str},
		field{name: "source", shape: imageSourceShape},
		field{name: "type", shape: str},
	)
	messageShape = object(
		field{name: "content", shape: stringOrList(contentPartShape), required: true},
		field{name: "role", shape: str, required: true},
		field{name: "name", shape: str},
		field{name: "otid", shape: str},
		field{name: "sender_id", shape: str},
		field{name: "type", shape: str},
	)
	scheduleShape = object(
		field{name: "scheduled_at", shape: number},
		field{name: "cron_expression", shape: str},
		field{name: "type", shape: str},
	)
	createShape = object(
		field{name: "messages", shape: list(messageShape), required: true},
		field{name: "schedule", shape: scheduleShape, required: true},
		field{name: "callback_url", shape: str},
		field{name: "include_return_message_types", shape: list(str)},
		field{name: "max_steps", shape: number},
	)
	// An update (an extension) takes any of the create body's fields.
	updateShape = object(
		field{name: "messages", shape: list(messageShape)},
		field{name: "schedule", shape: scheduleShape},
		field{name: "callback_url", shape: str},
		field{name: "include_return_message_types", shape: list(str)},
		field{name: "max_steps", shape: number},
	)
	// The official client sends {} with a DELETE; pause and resume take
	// the same: no field is known.
	emptyShape = object()
)

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
	var errs []fieldError
	s([]any{"body"}, v, &errs)
	return errs
}
