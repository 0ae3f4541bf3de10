package deliver

import (
	"net/http"
	"strconv"
)

// StatusError is an answer of the delivery target that is not a success.
// The HTTP deliverers return it wrapped in [tickler.Permanent] or
// [tickler.RetryAfter], or bare when the retry policy picks the delay; find
// it with errors.As.
type StatusError struct {
	// Service names the deliverer: "letta", "openai" or "webhook".
	Service string
	// Method and URL are the request's; URL has no userinfo and no query.
	Method, URL string
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Detail is the target's explanation, if its body gave one: Letta's
	// "detail", OpenAI's "error.message", or the start of a text body.
	Detail string
}

// Error returns "<service>: <method> <url>: <status>[: <detail>]".
func (e *StatusError) Error() string {
	s := e.Service + ": " + e.Method + " " + e.URL + ": " + strconv.Itoa(e.StatusCode)
	if t := http.StatusText(e.StatusCode); t != "" {
		s += " " + t
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}
