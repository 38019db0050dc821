package store

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Limits on settings.store: it comes from a file anyone may hand vpcnet.
const (
	maxURLLen     = 2048
	maxEndpoints  = 16
	maxDNSNameLen = 253
)

// urlForm is how a settings.store value is spelt, for error messages.
const urlForm = "want etcd://host:port[,host:port…]"

// ParseURL splits settings.store, "etcd://host:port[,host:port…]", into
// its endpoints ("host:port", IPv6 hosts in brackets), in order. A host is
// an IPv4 address, an [IPv6] address or a DNS name; the port is required.
// Anything else (other schemes, user@, paths, queries, spaces, control
// characters, duplicates, more than 16 endpoints or 2048 bytes) is refused
// with an error that names settings.store and what is wrong.
func ParseURL(u string) ([]string, error) {
	if u == "" {
		return nil, fmt.Errorf("settings.store is empty (%s)", urlForm)
	}
	if len(u) > maxURLLen {
		return nil, fmt.Errorf("settings.store %q… is %d bytes long, over the limit of %d", u[:32], len(u), maxURLLen)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("settings.store %q: %s (%s)", u, fmt.Sprintf(format, args...), urlForm)
	}
	for i := 0; i < len(u); i++ {
		if c := u[i]; c <= ' ' || c >= 0x7f {
			return nil, bad("byte %d is %q: no spaces, control or non-ASCII characters", i, c)
		}
	}
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return nil, bad("no scheme")
	}
	if !strings.EqualFold(scheme, "etcd") {
		return nil, bad("scheme %q is not supported, only etcd", scheme)
	}
	if strings.Contains(rest, "@") {
		return nil, bad("user information (user@) is not supported")
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		return nil, bad("%q after the hosts: no path, query or fragment", rest[i:])
	}
	parts := strings.Split(rest, ",")
	if len(parts) > maxEndpoints {
		return nil, bad("%d endpoints, over the limit of %d", len(parts), maxEndpoints)
	}
	eps := make([]string, 0, len(parts))
	seen := make(map[string]bool, len(parts))
	for i, p := range parts {
		ep, err := parseEndpoint(p)
		if err != nil {
			return nil, bad("endpoint %d %q: %v", i+1, p, err)
		}
		if seen[ep] {
			return nil, bad("endpoint %d %q: listed twice", i+1, p)
		}
		seen[ep] = true
		eps = append(eps, ep)
	}
	return eps, nil
}

// parseEndpoint checks one host:port and returns it in canonical form.
func parseEndpoint(p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("empty")
	}
	host, port, err := net.SplitHostPort(p)
	if err != nil {
		if strings.Count(p, ":") > 1 && !strings.HasPrefix(p, "[") {
			return "", fmt.Errorf("an IPv6 address goes in brackets: [addr]:port")
		}
		return "", fmt.Errorf("want host:port")
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 || port[0] < '0' || port[0] > '9' || len(port) > 5 {
		return "", fmt.Errorf("port %q: want 1-65535", port)
	}
	if strings.HasPrefix(p, "[") {
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", fmt.Errorf("%q in brackets: want an IPv6 address without zone", host)
		}
		if err := usable(a); err != nil {
			return "", err
		}
		return net.JoinHostPort(a.String(), port), nil
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if !a.Is4() {
			return "", fmt.Errorf("an IPv6 address goes in brackets: [addr]:port")
		}
		if err := usable(a); err != nil {
			return "", err
		}
		return net.JoinHostPort(a.String(), port), nil
	}
	if err := checkDNSName(host); err != nil {
		return "", err
	}
	return net.JoinHostPort(strings.ToLower(host), port), nil
}

// usable refuses addresses no etcd member can be reached at.
func usable(a netip.Addr) error {
	if a.IsUnspecified() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return fmt.Errorf("%s is not a unicast address", a)
	}
	return nil
}

// checkDNSName accepts host names of RFC 1123 labels (letters, digits,
// hyphens inside); an all-numeric last label is a mistyped address.
func checkDNSName(h string) error {
	if h == "" {
		return fmt.Errorf("host is empty")
	}
	if len(h) > maxDNSNameLen {
		return fmt.Errorf("host name is %d bytes long, over %d", len(h), maxDNSNameLen)
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return fmt.Errorf("host %q: want an IPv4 address, [IPv6] or a DNS name (labels of 1-63 characters)", h)
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("host %q: a DNS label may not start or end with '-'", h)
		}
		for i := 0; i < len(l); i++ {
			c := l[i] | 0x20 // lower case
			if !(c >= 'a' && c <= 'z' || l[i] >= '0' && l[i] <= '9' || l[i] == '-') {
				return fmt.Errorf("host %q: %q is not allowed in a DNS name", h, l[i])
			}
		}
	}
	last := labels[len(labels)-1]
	if strings.Trim(last, "0123456789") == "" {
		return fmt.Errorf("host %q: not a valid IPv4 address, nor a DNS name", h)
	}
	return nil
}
