package httpapi

import (
	"net"
	"net/netip"
	"strings"
)

// hostCheck returns the check of Host headers that o asks for, nil for
// none: the names of WithAllowedHosts, or loopback names when there is no
// authorizer.
func hostCheck(o options) func(string) bool {
	switch {
	case o.allowedHosts != nil:
		names := make(map[string]bool, len(o.allowedHosts))
		for _, h := range o.allowedHosts {
			if h == "*" {
				return nil
			}
			names[hostName(h)] = true
		}
		return func(host string) bool { return names[host] }
	case o.authorize == nil:
		return isLoopbackName
	}
	return nil
}

// hostName returns the name in a Host header, or in a name given to
// WithAllowedHosts: without the port, brackets and a final dot, in lower
// case.
func hostName(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return strings.ToLower(strings.TrimSuffix(host, "."))
}

// isLoopbackName reports whether a host name (see hostName) is localhost
// or a loopback address.
func isLoopbackName(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
