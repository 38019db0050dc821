// Package netns is the only vpcnet package that enters network namespaces,
// creates links, and sets addresses and routes. Create is idempotent (an
// existing namespace is re-used), delete treats "not found" as done, and the
// caller undoes partial work through Delete. Nothing here ever changes the
// namespace vpcnet itself runs in: every change goes through a netlink handle
// bound to the target namespace, or a thread locked and switched into it.
package netns

import (
	"errors"
	"net"
	"net/netip"
)

// ErrUnsupported is returned off Linux.
var ErrUnsupported = errors.New("vpcnet needs Linux network namespaces")

// Iface is one interface inside a namespace: a TAP device the forwarder owns.
type Iface struct {
	Name  string // eth0, eth1 …
	MAC   net.HardwareAddr
	Addrs []netip.Prefix // private IPs with the subnet's prefix length
	// Gateway is the subnet's VPC router (.1). For eth0 it is the default
	// route; for ethN (N>0) it is the default route of a per-interface table
	// chosen by source-address rules, so replies leave by the ENI that owns
	// their address.
	Gateway netip.Addr
}

// Config is what a namespace holds.
type Config struct {
	Ifaces []Iface
	// OnLink makes the default route point at eth0 without a gateway: the
	// internet hosts' forwarder answers every ARP.
	OnLink bool
	// Hosts are /etc/netns/<name>/hosts entries.
	Hosts []HostEntry
}

// HostEntry is one line of a hosts file.
type HostEntry struct {
	IP    netip.Addr
	Names []string
}

// Path returns the bind-mount path of a named namespace.
func Path(name string) string { return "/run/netns/" + name }
