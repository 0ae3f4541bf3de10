package callback

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestCheckAddrRefusesNonPublicAddresses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		addr, reason string
	}{
		{"127.0.0.1", "loopback"},
		{"127.255.0.9", "loopback"},
		{"::1", "loopback"},
		{"::ffff:127.0.0.1", "loopback"},
		{"10.1.2.3", "private"},
		{"172.16.0.1", "private"},
		{"172.31.255.255", "private"},
		{"192.168.1.1", "private"},
		{"fd12:3456::1", "private"},
		{"169.254.169.254", "a cloud metadata address"},
		{"fd00:ec2::254", "a cloud metadata address"},
		{"169.254.1.1", "link-local"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"0.0.0.0", "unspecified"},
		{"::", "unspecified"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"ff02::1", "multicast"},
		{"0.1.2.3", "this-network"},
		{"100.100.100.200", "shared address space (carrier-grade NAT, some cloud metadata services)"},
		{"255.255.255.255", "reserved or broadcast"},
		{"64:ff9b::a9fe:a9fe", "a cloud metadata address"}, // NAT64 of 169.254.169.254
		{"64:ff9b::7f00:1", "loopback"},
		{"2002:7f00:1::1", "loopback"}, // 6to4 of 127.0.0.1
		{"2002:a00:1::1", "private"},   // 6to4 of 10.0.0.1
		{"fec0::1", "site-local"},
		{"::127.0.0.1", "IPv4-compatible (deprecated)"},
		{"::8.8.8.8", "IPv4-compatible (deprecated)"},
		{"::ffff:10.0.0.1", "private"},
	} {
		err := checkAddr(netip.MustParseAddr(tc.addr))
		if !errors.Is(err, ErrRefused) {
			t.Errorf("%s: %v, want refused", tc.addr, err)
			continue
		}
		if got := refusal(netip.MustParseAddr(tc.addr)); got != tc.reason {
			t.Errorf("%s: refused as %q, want %q", tc.addr, got, tc.reason)
		}
	}
}

func TestCheckAddrAllowsPublicAddresses(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"8.8.8.8", "1.1.1.1", "93.184.216.34", "172.32.0.1", "100.128.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"} {
		if err := checkAddr(netip.MustParseAddr(addr)); err != nil {
			t.Errorf("%s: %v", addr, err)
		}
	}
}

func TestDialControlChecksTheConnectedAddress(t *testing.T) {
	t.Parallel()
	g := newGuard(false, nil)
	for _, addr := range []string{"127.0.0.1:80", "[::1]:443", "[fd00:ec2::254]:80", "not-an-address"} {
		if err := g.dialer.Control("tcp", addr, nil); !errors.Is(err, ErrRefused) {
			t.Errorf("%s: %v, want refused", addr, err)
		}
	}
	if err := g.dialer.Control("tcp", "8.8.8.8:443", nil); err != nil {
		t.Errorf("public address: %v", err)
	}
	if open := newGuard(true, nil); open.dialer.Control != nil {
		t.Error("AllowPrivate still checks at dial time")
	}
}

func TestCheckURLRefusesWhatCanNeverBeCalledBack(t *testing.T) {
	t.Parallel()
	for u, refused := range map[string]bool{
		"http://127.0.0.1:8080/cb": true,
		"http://localhost/":        true,
		"http://a.localhost./":     true,
		"http://[::127.0.0.1]/":    true,
		"http://[fe80::1%25eth0]/": true,
		"https://example.com:0/":   false,
		"https://example.com:1e3/": false,
		"https://user:pw@:99999/":  false,
		"ftp://example.com/":       false,
		"/relative":                false,
	} {
		err := CheckURL(u)
		if err == nil || errors.Is(err, ErrRefused) != refused {
			t.Errorf("%s: %v, want refused=%v", u, err, refused)
		}
	}
	for _, u := range []string{"https://example.com/cb", "http://8.8.8.8:8080/", "https://callbacks.internal.example/"} {
		if err := CheckURL(u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	if err := CheckURL("https://user:pw@:99999/"); err == nil || strings.Contains(err.Error(), "pw") {
		t.Errorf("error shows the password: %v", err)
	}
}
