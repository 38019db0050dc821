package dataplane

import (
	"net/netip"

	"github.com/vpcnet/vpcnet/topology"
)

// VPC services (DNS-1, SG-8). Each VPC has a service port: the device of a
// namespace of the daemon's where the Amazon DNS server (base + 2 and
// 169.254.169.253), the instance metadata service (169.254.169.254) and
// the Amazon Time Sync Service (169.254.169.123, NTP) listen on real
// sockets. A frame an ENI sends to one of those addresses goes straight to
// its VPC's service port, and the answers straight back:
// no security group, no network ACL, no connection tracking and no flow-log
// record (SG-8; AWS's flow logs leave this traffic out too). Only ENIs of
// the VPC reach it: the service addresses are intercepted at the sending
// ENI, never routed, so from a peered VPC or the internet base + 2 is the
// counted drop of the route that would carry it (vpc-peering, IGW-4 …).

// ServicePortID is the forwarder port id of VPC vpcID's service device.
// No ENI id or internet host name contains '+'.
func ServicePortID(vpcID string) string { return "svc+" + vpcID }

// PublicDNSPortID is the port id of the emulated internet's public DNS
// server, an internet host of the daemon's own.
const PublicDNSPortID = "svc+public-dns"

// ServiceMAC is the MAC of every service device: each sits alone in its
// namespace. serviceGatewayMAC is what the forwarder answers there for
// every other address (the service namespace routes everything to it).
var (
	ServiceMAC        = []byte{0x02, 0x00, 0x5e, 0x00, 0x00, 0x53}
	serviceGatewayMAC = [6]byte{0x02, 0x00, 0x5e, 0x00, 0x00, 0x02}
)

// svcCfg is a VPC's service port.
type svcCfg struct {
	id    string // ServicePortID
	vpc   *vpcCfg
	dns   netip.Addr // base + 2
	dnsOn bool       // enableDnsSupport (DNS-1): off, frames to the DNS addresses drop
	port  Port
	ctr   *counters
}

// isService reports whether a is one of v's service addresses.
func (v *vpcCfg) isService(a netip.Addr) bool {
	return v.svc.isDNS(a) || a == topology.LinkLocalIMDS || a == topology.LinkLocalNTP
}

// isDNS reports whether a is an address of the VPC's DNS server, the
// service enableDnsSupport turns off (DNS-1).
func (s *svcCfg) isDNS(a netip.Addr) bool { return a == s.dns || a == topology.LinkLocalDNS }

// silenced reports whether a frame to service address a drops for
// enableDnsSupport off: DNS only; the metadata and time services answer
// whatever it says (DNS-1).
func (s *svcCfg) silenced(a netip.Addr) bool { return !s.dnsOn && s.isDNS(a) }

// compileServices gives every VPC of c its service port (ports and
// counters outlive configs, by port id).
func (st *state) compileServices(c *config, n *topology.Network) {
	c.svcByID = map[string]*svcCfg{}
	for i, v := range n.VPCs {
		vc := c.vpcs[i]
		id := ServicePortID(v.ID)
		ctr := st.hosts[id]
		if ctr == nil {
			ctr = &counters{}
			st.hosts[id] = ctr
		}
		s := &svcCfg{id: id, vpc: vc, dns: v.DNSAddr(), dnsOn: v.DNSSupport, port: st.ports[id], ctr: ctr}
		vc.svc = s
		c.svcByID[id] = s
	}
	if a := n.PublicDNSAddr(); a.IsValid() {
		ctr := st.hosts[PublicDNSPortID]
		if ctr == nil {
			ctr = &counters{}
			st.hosts[PublicDNSPortID] = ctr
		}
		h := &hostCfg{name: PublicDNSPortID, ip: a, mac: [6]byte(ServiceMAC), port: st.ports[PublicDNSPortID], ctr: ctr}
		c.hosts[a] = h
		c.hostByName[PublicDNSPortID] = h
	}
}

// toService delivers a frame ENI e sent to a service address of its VPC
// (SG-8: before any security group, NACL or tracking). With
// enableDnsSupport off the DNS addresses answer nothing (DNS-1).
func (w *worker) toService(e *eniCfg) {
	s := e.vpc.svc
	if s.silenced(w.p.meta.Dst) {
		w.drop(s.ctr, dropDNSDisabled)
		return
	}
	w.deliver(s.port, s.ctr, ServiceMAC, e.subnet.routerMAC[:])
}

// fromService carries a frame of a VPC's service namespace to the ENI of
// the VPC that holds its destination, again past every filter (SG-8). It
// must come from a service address.
func (w *worker) fromService(cfg *config, s *svcCfg) {
	m := &w.p.meta
	if !s.vpc.isService(m.Src) {
		w.drop(s.ctr, dropSpoofedService)
		return
	}
	to := s.vpc.byIP[m.Dst]
	if to == nil {
		w.drop(s.ctr, dropNoENI)
		return
	}
	w.deliver(to.port, &to.st.ctr, to.mac[:], to.subnet.routerMAC[:])
	if to.mirrors != nil {
		w.mirror(to, false) // mirror.go
	}
}
