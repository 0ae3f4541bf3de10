package callback

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
)

// ErrRefused is matched (with errors.Is) by the error of a callback whose
// URL resolves to an address the sender refuses: loopback, private,
// link-local, unspecified, multicast, cloud metadata and other
// non-public addresses. [AllowPrivate] lifts the refusal. A refused
// callback is not retried.
var ErrRefused = errors.New("callback: address refused")

// A Resolver looks up the IP addresses of a host name. *net.Resolver
// (and so net.DefaultResolver, the default) is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Prefixes refused on top of what the netip.Addr predicates catch.
var refusedPrefixes = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "this-network"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared address space (carrier-grade NAT, some cloud metadata services)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved or broadcast"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64"},
	// ::a.b.c.d (RFC 4291 deprecates it), which some stacks still route to
	// a.b.c.d; :: and ::1 are caught as unspecified and loopback first.
	{netip.MustParsePrefix("::/96"), "IPv4-compatible (deprecated)"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
}

var (
	// The cloud metadata services' addresses, named for a clearer error;
	// the ranges they are in are refused anyway.
	metadataAddrs = map[netip.Addr]bool{
		netip.MustParseAddr("169.254.169.254"): true,
		netip.MustParseAddr("fd00:ec2::254"):   true,
	}
	nat64 = netip.MustParsePrefix("64:ff9b::/96")
	sixTo = netip.MustParsePrefix("2002::/16")
)

// checkAddr returns an error matching [ErrRefused] if a callback must not
// connect to ip, and nil if it may. An IPv4 address embedded in an IPv6
// one (IPv4-mapped, NAT64, 6to4) is judged as the IPv4 address; the
// deprecated IPv4-compatible form (::a.b.c.d) is refused whatever it
// embeds.
func checkAddr(ip netip.Addr) error {
	reason := refusal(ip)
	if reason == "" {
		return nil
	}
	return fmt.Errorf("%w: %s is %s (the AllowPrivate option allows it)", ErrRefused, ip, reason)
}

func refusal(ip netip.Addr) string {
	ip = ip.WithZone("")
	if ip.Is4In6() {
		ip = ip.Unmap()
	}
	if ip.Is6() {
		b := ip.As16()
		switch {
		case nat64.Contains(ip):
			return refusal(netip.AddrFrom4([4]byte(b[12:16])))
		case sixTo.Contains(ip):
			return refusal(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	switch {
	case !ip.IsValid():
		return "not an address"
	case metadataAddrs[ip]:
		return "a cloud metadata address"
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsLoopback():
		return "loopback"
	case ip.IsPrivate():
		return "private"
	case ip.IsLinkLocalUnicast():
		return "link-local"
	case ip.IsMulticast():
		return "multicast"
	}
	for _, p := range refusedPrefixes {
		if p.prefix.Contains(ip) {
			return p.reason
		}
	}
	return ""
}

// guard dials only addresses that checkAddr allows (all of them when
// allowPrivate is set). It resolves the host itself, checks every address
// it would connect to, and dials that address, so that what was checked is
// what is connected to: a second lookup cannot answer differently (DNS
// rebinding). The dialer's Control function checks the connected address
// once more.
type guard struct {
	allowPrivate bool
	resolver     Resolver
	dialer       net.Dialer
}

func newGuard(allowPrivate bool, r Resolver) *guard {
	g := &guard{allowPrivate: allowPrivate, resolver: r}
	if g.resolver == nil {
		g.resolver = net.DefaultResolver
	}
	if !allowPrivate {
		g.dialer.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: cannot check %q: %v", ErrRefused, address, err)
			}
			return checkAddr(ap.Addr())
		}
	}
	return g
}

// DialContext has the signature of http.Transport.DialContext.
func (g *guard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("callback: bad port in %q", addr)
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else if ips, err = g.resolver.LookupNetIP(ctx, "ip", host); err != nil {
		return nil, err
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("callback: %s has no address", host)
	}
	var firstErr error
	for _, ip := range ips {
		if !g.allowPrivate {
			if err := checkAddr(ip); err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("%s: %w", host, err)
				}
				continue
			}
		}
		conn, err := g.dialer.DialContext(ctx, network, netip.AddrPortFrom(ip, uint16(port)).String())
		if err == nil {
			return conn, nil
		}
		if firstErr == nil || errors.Is(firstErr, ErrRefused) {
			firstErr = err
		}
	}
	return nil, firstErr
}

// CheckURL reports, without looking up any name, what makes a callback
// to rawURL fail for sure with a [Sender] that does not [AllowPrivate]: a
// URL that is not an absolute http or https one, a port outside 1-65535,
// or a host that is localhost (or a name under .localhost) or a literal
// address the sender refuses (loopback, private, link-local and the
// others listed in the package documentation). The error for a host
// matches [ErrRefused]. A server calls it when a schedule is created, so
// that its caller hears of a URL that can never be called back; a host
// name is not resolved here, since the sender checks the addresses it
// resolves to when it connects.
func CheckURL(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("callback: %w", redactErr(err, redact(rawURL)))
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("callback: not an absolute http or https URL")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("callback: invalid port %q", p)
		}
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return fmt.Errorf("%w: %s is loopback", ErrRefused, host)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if reason := refusal(ip); reason != "" {
			return fmt.Errorf("%w: %s is %s", ErrRefused, ip, reason)
		}
	}
	return nil
}
