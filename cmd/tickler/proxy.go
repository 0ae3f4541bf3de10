package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"
)

// The proxy mode: tickler in front of a Letta server, so that a Letta
// client needs one base URL. tickler answers the schedule routes itself
// and passes every other request to the Letta server unchanged: method,
// path, query, headers (Authorization included) and body, and the answer
// back the same way. Streamed answers (Server-Sent Events) are flushed as
// each chunk arrives, never buffered.

// lettaProxy returns a handler that forwards requests to the Letta server
// at target. It never logs a request's credentials or target's userinfo.
func lettaProxy(target string, log *slog.Logger) (http.Handler, error) {
	u, err := url.Parse(target)
	switch {
	case err != nil:
		return nil, fmt.Errorf("proxy: the Letta URL does not parse: %w", redactErr(err, target))
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errors.New("proxy: the Letta URL must be http or https")
	case u.Host == "":
		return nil, errors.New("proxy: the Letta URL has no host")
	case u.User != nil:
		return nil, errors.New("proxy: the Letta URL must not hold credentials (clients send their own Authorization)")
	}
	base := strings.TrimSuffix(u.Path, "/")
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		// No response header timeout: an agent's run may take minutes
		// before Letta answers; the client's own context bounds it.
	}
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host = u.Scheme, u.Host
			r.Out.URL.Path = base + r.In.URL.Path
			r.Out.URL.RawPath = ""
			if r.In.URL.RawPath != "" {
				r.Out.URL.RawPath = base + r.In.URL.RawPath
			}
			r.Out.Host = u.Host
			r.SetXForwarded()
		},
		Transport:     transport,
		FlushInterval: -1, // flush every write: Server-Sent Events pass as they come
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			log.Warn("tickler: the Letta server did not answer", "method", r.Method, "path", r.URL.Path, "err", err)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte(`{"detail":"tickler could not reach the Letta server"}`))
		},
	}, nil
}

// redactErr keeps a URL's password out of an error's text.
func redactErr(err error, raw string) error {
	if u, perr := url.Parse(raw); perr == nil && u.User != nil {
		return errors.New(strings.ReplaceAll(err.Error(), u.User.String(), "xxxxx"))
	}
	return errors.New("invalid URL")
}
