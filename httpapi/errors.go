package httpapi

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/internal/wire"
)

// problem is every error body: {"detail": ...}, where detail is a string,
// or for 422 a list of [fieldError].
type problem struct {
	Detail any `json:"detail"`
}

// fieldError is one entry of a 422 detail, in the shape FastAPI (and so
// Letta's server) gives it: where the offending value is, what is wrong
// with it, and a machine-readable type.
type fieldError struct {
	// Loc starts with "body", "query" or "path"; then come the field
	// names and list indexes leading to the value.
	Loc  []any  `json:"loc"`
	Msg  string `json:"msg"`
	Type string `json:"type"`
}

// The types of fieldError this package produces. The first ones are
// pydantic's own names for the same failures.
const (
	typeMissing    = "missing"
	typeExtra      = "extra_forbidden"
	typeString     = "string_type"
	typeNumber     = "float_type"
	typeList       = "list_type"
	typeObject     = "model_attributes_type"
	typeJSON       = "json_invalid"
	typeIntParsing = "int_parsing"
	typeUnion      = "union_type"
	typeValue      = "value_error"
	typeTooLong    = "too_long"
	typeTooLongStr = "string_too_long"
	typeUnicode    = "string_unicode"
	// typeTooMany ends a list of errors that was cut short; pydantic has
	// no such entry, as it has no such bound.
	typeTooMany = "too_many_errors"
)

// msgUnicode is pydantic's message for a string that is not valid UTF-8.
const msgUnicode = "Input should be a valid string, unable to parse raw data as a unicode string"

// writeJSON answers status with v as JSON. HTML characters are not
// escaped, so that a string reads back exactly as it went in.
func (h *handler) writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	if err := wire.Encode(&buf, v); err != nil {
		h.o.logger.Error("httpapi: encoding a response failed", "err", err)
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"detail":"Internal Server Error"}` + "\n")
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Content-Length", strconv.Itoa(buf.Len()))
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fail answers status with {"detail": msg}.
func (h *handler) fail(w http.ResponseWriter, status int, msg string) {
	h.writeJSON(w, status, problem{Detail: msg})
}

// invalid answers 422 with the field errors.
func (h *handler) invalid(w http.ResponseWriter, errs ...fieldError) {
	h.writeJSON(w, http.StatusUnprocessableEntity, problem{Detail: errs})
}

// internal logs err and answers 500 without saying more.
func (h *handler) internal(w http.ResponseWriter, r *http.Request, err error) {
	h.o.logger.Error("httpapi: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	h.fail(w, http.StatusInternalServerError, "Internal Server Error")
}

// schedulerError answers an error of the scheduler: 400 for a past
// scheduled_at, 422 for other validation errors, 404 for a scheduled
// message that is not the agent's, and 500 for anything else.
func (h *handler) schedulerError(w http.ResponseWriter, r *http.Request, err error) {
	var ve *tickler.ValidationError
	switch {
	case errors.Is(err, tickler.ErrScheduledInPast) && errors.As(err, &ve):
		h.fail(w, http.StatusBadRequest, ve.Field+" "+ve.Reason)
	case errors.As(err, &ve):
		h.invalid(w, fieldError{Loc: locOf(ve.Field), Msg: ve.Reason, Type: typeValue})
	case errors.Is(err, tickler.ErrNotFound):
		h.fail(w, http.StatusNotFound, "Scheduled message "+r.PathValue("scheduled_message_id")+" not found")
	default:
		h.internal(w, r, err)
	}
}

// locOf turns a [tickler.ValidationError] field, a JSON path such as
// "messages[0].content[1].text", into a FastAPI location such as
// ["body", "messages", 0, "content", 1, "text"].
func locOf(field string) []any {
	switch field {
	case "agent_id", "scheduled_message_id":
		return []any{"path", field}
	case "after", "limit", "offset":
		return []any{"query", field}
	}
	loc := []any{"body"}
	for seg := range strings.SplitSeq(field, ".") {
		name, rest, _ := strings.Cut(seg, "[")
		if name != "" {
			loc = append(loc, name)
		}
		for rest != "" {
			idx, tail, _ := strings.Cut(rest, "]")
			if n, err := strconv.Atoi(idx); err == nil {
				loc = append(loc, n)
			} else {
				loc = append(loc, idx)
			}
			rest = strings.TrimPrefix(tail, "[")
		}
	}
	return loc
}
