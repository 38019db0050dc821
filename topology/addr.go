package topology

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// parsePrefix parses an IPv4 CIDR that must be in canonical form (no host
// bits set), as AWS requires.
func parsePrefix(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("%q is not an IPv4 CIDR", s)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("cidr %q has host bits set (did you mean %s?)", s, p.Masked())
	}
	return p, nil
}

// parseAddr parses a plain IPv4 address.
func parseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, fmt.Errorf("%q is not an IPv4 address", s)
	}
	return a, nil
}

func u32(a netip.Addr) uint32 { b := a.As4(); return binary.BigEndian.Uint32(b[:]) }

func addrOf(v uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

// lastAddr returns the last (broadcast) address of an IPv4 prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	host := uint32(uint64(1)<<(32-p.Bits()) - 1)
	return addrOf(u32(p.Masked().Addr()) | host)
}

// covers reports whether outer contains the whole of inner.
func covers(outer, inner netip.Prefix) bool {
	return outer.IsValid() && inner.IsValid() && outer.Bits() <= inner.Bits() && outer.Contains(inner.Addr())
}

// reservedIn reports whether a is one of the five addresses AWS reserves in
// subnet s: network, router (.1), DNS (.2), future use (.3), broadcast (ADDR-2).
func reservedIn(s netip.Prefix, a netip.Addr) bool {
	n := u32(s.Masked().Addr())
	v := u32(a)
	return v-n <= 3 || a == lastAddr(s)
}

// firstFreePrivate returns the first non-reserved address of subnet p not in
// used (ENI-1, ADDR-2).
func firstFreePrivate(p netip.Prefix, used map[netip.Addr]string) (netip.Addr, bool) {
	if !p.IsValid() || p.Bits() > 28 {
		return netip.Addr{}, false
	}
	last := u32(lastAddr(p))
	for v := u32(p.Masked().Addr()) + 4; v < last; v++ {
		if a := addrOf(v); used[a] == "" {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// poolRange returns the assignable range of a pool CIDR: all of it for /31
// and /32, else without the network and broadcast addresses.
func poolRange(p netip.Prefix) (first, last uint32) {
	first, last = u32(p.Masked().Addr()), u32(lastAddr(p))
	if p.Bits() <= 30 {
		first, last = first+1, last-1
	}
	return first, last
}

// allocatableIn reports whether a, an address of pool CIDR c, can be handed
// out: not c's network or broadcast address, unless c is a /31 or /32.
func allocatableIn(c netip.Prefix, a netip.Addr) bool {
	first, last := poolRange(c)
	return u32(a) >= first && u32(a) <= last
}

// firstFreePublic returns the first assignable address of pool not in used.
func firstFreePublic(pool *Pool, used map[netip.Addr]string) (netip.Addr, bool) {
	for _, c := range pool.CIDRs {
		first, last := poolRange(c)
		for v := uint64(first); v <= uint64(last); v++ {
			if a := addrOf(uint32(v)); used[a] == "" {
				return a, true
			}
		}
	}
	return netip.Addr{}, false
}

// nonPublic lists the ranges the emulated internet never routes (IGW-4),
// plus the ranges that are not unicast host addresses at all.
var nonPublic = []struct {
	p    netip.Prefix
	what string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "\"this network\" (0.0.0.0/8)"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private (10.0.0.0/8)"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared address space (100.64.0.0/10)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback (127.0.0.0/8)"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local (169.254.0.0/16)"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private (172.16.0.0/12)"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private (192.168.0.0/16)"},
	{netip.MustParsePrefix("224.0.0.0/3"), "multicast or reserved (224.0.0.0/3)"},
}

// notPublic returns why p (or an address, as a /32) is not public, or "".
func notPublic(p netip.Prefix) string {
	for _, r := range nonPublic {
		if r.p.Overlaps(p) {
			return r.what
		}
	}
	return ""
}

// vpcForbidden are ranges a VPC CIDR may not overlap: they are not unicast
// host addresses, so the kernel could not give them to an interface.
var vpcForbidden = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("224.0.0.0/3"),
}

// hashOf is the hash every derived identifier comes from: topology name,
// resource kind and resource name.
func hashOf(parts ...string) [32]byte {
	return sha256.Sum256([]byte(strings.Join(parts, "\x00")))
}

// awsID derives an AWS-style id: prefix + "-" + 17 hex digits (ENI-7).
func awsID(topo, prefix, name string) string {
	sum := hashOf(topo, prefix, name)
	return prefix + "-" + hex.EncodeToString(sum[:9])[:17]
}

// macFor derives a locally administered unicast MAC (first byte 0x02).
// attempt > 0 re-derives after a collision.
func macFor(topo, kind, name string, attempt int) net.HardwareAddr {
	parts := []string{topo, "mac", kind, name}
	if attempt > 0 {
		parts = append(parts, fmt.Sprint(attempt))
	}
	sum := hashOf(parts...)
	return net.HardwareAddr{0x02, sum[0], sum[1], sum[2], sum[3], sum[4]}
}

// AccountID is the topology's AWS account: 12 digits derived from its
// name, the same on every up. It owns every resource (OwnerId) and heads
// flow-log records (OBS-1).
func (n *Network) AccountID() string {
	sum := hashOf(n.Name, "account")
	v := binary.BigEndian.Uint64(sum[:8]) % 1e12
	return fmt.Sprintf("%012d", v)
}
