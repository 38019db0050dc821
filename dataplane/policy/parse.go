package policy

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ParseProtocol parses tcp, udp, icmp, all, -1, or a protocol number 0–255.
// It returns -1 for all.
func ParseProtocol(s string) (int16, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "tcp":
		return 6, nil
	case "udp":
		return 17, nil
	case "icmp":
		return 1, nil
	case "all", "-1":
		return -1, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 || n > 255 {
		return 0, fmt.Errorf("protocol %q: want tcp, udp, icmp, all, -1 or a number 0-255", s)
	}
	return int16(n), nil
}

// ParsePortRange parses "80", "1024-65535" or the AWS CLI's
// "From=1024,To=65535".
func ParsePortRange(s string) (from, to int32, err error) {
	s = strings.TrimSpace(s)
	var a, b string
	switch {
	case strings.Contains(s, "="):
		for _, kv := range strings.Split(s, ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
			switch strings.ToLower(k) {
			case "from":
				a = v
			case "to":
				b = v
			default:
				return 0, 0, fmt.Errorf("port range %q: unknown key %q", s, k)
			}
		}
	case strings.Contains(s, "-"):
		a, b, _ = strings.Cut(s, "-")
	default:
		a, b = s, s
	}
	f, err1 := strconv.Atoi(strings.TrimSpace(a))
	t, err2 := strconv.Atoi(strings.TrimSpace(b))
	if err1 != nil || err2 != nil || f < 0 || t > 65535 || f > t {
		return 0, 0, fmt.Errorf("port range %q: want 0 ≤ from ≤ to ≤ 65535", s)
	}
	return int32(f), int32(t), nil
}

// ParseCIDR parses an IPv4 CIDR whose address is the network address.
func ParseCIDR(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("CIDR %q: %w", s, err)
	}
	if !p.Addr().Is4() {
		return netip.Prefix{}, errors.New("CIDR " + s + ": IPv4 only")
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("CIDR %q: not a network address (did you mean %s?)", s, p.Masked())
	}
	return p, nil
}
