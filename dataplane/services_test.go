package dataplane

import (
	"bytes"
	"net"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/vpcnet/vpcnet/dataplane/header"
	"github.com/vpcnet/vpcnet/topology"
)

// svcTopo: a1 in subnet a, whose group allows nothing out and whose NACL
// denies everything both ways; b1 in w, a VPC peered with v whose route
// sends v's CIDR over the peering; v2 has DNS support off.
const svcTopo = `{
  "name": "svc", "region": "us-east-1",
  "vpcs": [{
    "name": "v", "cidr": "10.0.0.0/16",
    "subnets": [{"name": "a", "cidr": "10.0.0.0/24", "az": "us-east-1a", "network_acl": "deny"}],
    "security_groups": [{"name": "closed", "egress": []}],
    "network_acls": [{"name": "deny"}],
    "instances": [{"name": "a1", "subnet": "a", "private_ip": "10.0.0.10", "security_groups": ["closed"]}]
  }, {
    "name": "w", "cidr": "10.1.0.0/16",
    "subnets": [{"name": "b", "cidr": "10.1.1.0/24", "az": "us-east-1a", "route_table": "rt-b"}],
    "route_tables": [{"name": "rt-b", "routes": [{"destination": "10.0.0.0/16", "target": "pcx"}]}],
    "instances": [{"name": "b1", "subnet": "b", "private_ip": "10.1.1.10"}]
  }, {
    "name": "v2", "cidr": "10.2.0.0/16", "enable_dns_support": false,
    "subnets": [{"name": "c", "cidr": "10.2.1.0/24", "az": "us-east-1a"}],
    "instances": [{"name": "c1", "subnet": "c", "private_ip": "10.2.1.10"}]
  }],
  "peerings": [{"name": "pcx", "vpcs": ["v", "w"]}]
}`

// svcRig is a rig with a fake service port per VPC, named svc-<vpc>.
func svcRig(t *testing.T) *rig {
	r := newRig(t, svcTopo)
	for _, v := range r.net.VPCs {
		p := NewFakePort(64)
		r.ports["svc-"+v.Name] = p
		r.f.AttachPort(ServicePortID(v.ID), p)
	}
	return r
}

func udpTo(t testing.TB, srcMAC, dstMAC net.HardwareAddr, src, dst string, sport, dport uint16) []byte {
	return frame(t, srcMAC, dstMAC, src, dst, &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}, gopacket.Payload("q"))
}

func ipDst(f []byte) netip.Addr { return header.IPv4(f[ipOff:]).Dst() }

// TestSG8_ServicesPastGroupsAndNACLs: a1's group allows no egress and its
// NACL denies all, yet base + 2, 169.254.169.253, 169.254.169.254 and
// 169.254.169.123 (NTP) receive its frames and their answers reach it (SG-8), with the service
// device's MAC, and the answers with the router's.
func TestSG8_ServicesPastGroupsAndNACLs(t *testing.T) {
	r := svcRig(t)
	a1 := r.enis["a1"]
	for _, dst := range []string{"10.0.0.2", "169.254.169.253", "169.254.169.254", "169.254.169.123"} {
		r.send("a1", udpTo(t, a1.MAC, r.router("a1"), "10.0.0.10", dst, 40000, 53))
		got := r.expect("svc-v")
		if d := ipDst(got); d.String() != dst {
			t.Fatalf("service got a frame to %s, want %s", d, dst)
		}
		if eth := header.Ethernet(got[header.VnetHdrLen:]); !bytes.Equal(eth.Dst(), ServiceMAC) {
			t.Errorf("frame to %s has destination MAC %x, want the service device's", dst, eth.Dst())
		}
		// The answer, from the address asked.
		r.send("svc-v", udpTo(t, ServiceMAC, serviceGatewayMAC[:], dst, "10.0.0.10", 53, 40000))
		back := r.expect("a1")
		eth := header.Ethernet(back[header.VnetHdrLen:])
		if !bytes.Equal(eth.Dst(), a1.MAC) || !bytes.Equal(eth.Src(), a1.Subnet.RouterMAC) {
			t.Errorf("answer from %s: MACs %x → %x, want router → a1", dst, eth.Src(), eth.Dst())
		}
	}
	// The same group and NACL do stop other traffic: the test can fail.
	r.send("a1", udpTo(t, a1.MAC, r.router("a1"), "10.0.0.10", "10.0.0.11", 40000, 53))
	r.expectNone("svc-v")
	if r.drops("a1", dropSGEgress) != 1 {
		t.Errorf("a frame to another address was not dropped by the group: %d", r.drops("a1", dropSGEgress))
	}
}

// TestDNS1_SupportOffDropsDNSOnly: in v2 (enableDnsSupport false) frames to
// the DNS addresses are counted drops; the metadata and time services
// still answer.
func TestDNS1_SupportOffDropsDNSOnly(t *testing.T) {
	r := svcRig(t)
	c1 := r.enis["c1"]
	r.send("c1", udpTo(t, c1.MAC, r.router("c1"), "10.2.1.10", "10.2.0.2", 40000, 53))
	r.send("c1", udpTo(t, c1.MAC, r.router("c1"), "10.2.1.10", "169.254.169.253", 40000, 53))
	r.expectNone("svc-v2")
	if n := r.drops(ServicePortID(r.net.VPCs[2].ID), dropDNSDisabled); n != 2 {
		t.Errorf("vpc-dns-disabled drops: %d, want 2", n)
	}
	r.send("c1", udpTo(t, c1.MAC, r.router("c1"), "10.2.1.10", "169.254.169.254", 40000, 80))
	r.expect("svc-v2")
	r.send("c1", udpTo(t, c1.MAC, r.router("c1"), "10.2.1.10", "169.254.169.123", 40000, 123))
	if d := ipDst(r.expect("svc-v2")); d != topology.LinkLocalNTP {
		t.Errorf("time service frame delivered to %s", d)
	}
	// Turned on live: answered.
	r.net.VPCs[2].DNSSupport = true
	r.f.Apply(r.net)
	r.send("c1", udpTo(t, c1.MAC, r.router("c1"), "10.2.1.10", "10.2.0.2", 40000, 53))
	r.expect("svc-v2")
}

// TestDNS1_OnlyOwnVPC: b1 in the peered VPC w sends to v's base + 2: it is
// not delivered to v's services (a counted drop), and 169.254.169.253 from
// b1 goes to w's own.
func TestDNS1_OnlyOwnVPC(t *testing.T) {
	r := svcRig(t)
	b1 := r.enis["b1"]
	r.send("b1", udpTo(t, b1.MAC, r.router("b1"), "10.1.1.10", "10.0.0.2", 40000, 53))
	r.expectNone("svc-v")
	if n := r.drops("b1", dropPeering); n != 1 {
		t.Errorf("b1 → v's base + 2: vpc-peering drops %d, want 1", n)
	}
	r.send("b1", udpTo(t, b1.MAC, r.router("b1"), "10.1.1.10", "169.254.169.253", 40000, 53))
	r.expect("svc-w")
	r.expectNone("svc-v")
}

// TestServiceSpoofAndUnknown: a service namespace sends only from its
// addresses, and only to ENIs of its VPC.
func TestServiceSpoofAndUnknown(t *testing.T) {
	r := svcRig(t)
	r.send("svc-v", udpTo(t, ServiceMAC, serviceGatewayMAC[:], "10.0.0.99", "10.0.0.10", 53, 40000))
	r.send("svc-v", udpTo(t, ServiceMAC, serviceGatewayMAC[:], "10.0.0.2", "10.1.1.10", 53, 40000)) // w's ENI
	r.expectNone("a1")
	r.expectNone("b1")
	id := ServicePortID(r.net.VPCs[0].ID)
	if r.drops(id, dropSpoofedService) != 1 || r.drops(id, dropNoENI) != 1 {
		t.Errorf("drops: spoofed %d, no-eni %d; want 1 and 1", r.drops(id, dropSpoofedService), r.drops(id, dropNoENI))
	}
}

// TestDNS1_ARP: base + 2 is on-link for subnet a (10.0.0.0/24): its ARP
// gets the router's MAC; the service namespace's ARP for any other
// address gets the forwarder's.
func TestDNS1_ARP(t *testing.T) {
	r := svcRig(t)
	a1 := r.enis["a1"]
	arp := func(srcMAC net.HardwareAddr, sender, target string) []byte {
		eth := &layers.Ethernet{SrcMAC: srcMAC, DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeARP}
		a := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPRequest, SourceHwAddress: srcMAC, SourceProtAddress: net.ParseIP(sender).To4(),
			DstHwAddress: make([]byte, 6), DstProtAddress: net.ParseIP(target).To4()}
		buf := gopacket.NewSerializeBuffer()
		gopacket.SerializeLayers(buf, gopacket.SerializeOptions{}, eth, a)
		return append(make([]byte, header.VnetHdrLen), buf.Bytes()...)
	}
	r.send("a1", arp(a1.MAC, "10.0.0.10", "10.0.0.2"))
	if got := header.ARP(r.expect("a1")[ipOff:]).SenderMAC(); !bytes.Equal(got, a1.Subnet.RouterMAC) {
		t.Errorf("ARP for base + 2: %x, want the router's %x", got, a1.Subnet.RouterMAC)
	}
	r.send("svc-v", arp(ServiceMAC, "10.0.0.2", "10.0.0.10"))
	if got := header.ARP(r.expect("svc-v")[ipOff:]).SenderMAC(); !bytes.Equal(got, serviceGatewayMAC[:]) {
		t.Errorf("service ARP: %x, want %x", got, serviceGatewayMAC)
	}
}

// TestServiceAllocatesNothing: both directions of the service path.
func TestServiceAllocatesNothing(t *testing.T) {
	n, err := topology.Load([]byte(svcTopo))
	if err != nil {
		t.Fatal(err)
	}
	f := New(n, Options{})
	a1 := n.InstanceByName["a1"].Primary()
	aport, sport := &nullPort{}, &nullPort{}
	f.AttachPort(a1.ID, aport)
	f.AttachPort(ServicePortID(n.VPCs[0].ID), sport)
	f.Stop()
	cfg := f.cfg.Load()
	out := &worker{f: f, port: aport, id: a1.ID, now: clock()}
	in := &worker{f: f, port: sport, id: ServicePortID(n.VPCs[0].ID), now: clock()}
	q := udpTo(t, a1.MAC, a1.Subnet.RouterMAC, "10.0.0.10", "10.0.0.2", 40000, 53)
	ans := udpTo(t, ServiceMAC, serviceGatewayMAC[:], "10.0.0.2", "10.0.0.10", 53, 40000)
	buf := make([]byte, len(q))
	if a := testing.AllocsPerRun(1000, func() { copy(buf, q); out.handle(cfg, buf) }); a != 0 {
		t.Errorf("to the service: %.1f allocations per frame", a)
	}
	if a := testing.AllocsPerRun(1000, func() { copy(buf, ans); in.handle(cfg, buf) }); a != 0 {
		t.Errorf("from the service: %.1f allocations per frame", a)
	}
	if sport.n < 1000 || aport.n < 1000 {
		t.Fatalf("frames delivered: service %d, a1 %d", sport.n, aport.n)
	}
}

// TestSG8_PathAnalysis: path analysis agrees with the forwarder: a1 (no
// egress, NACL denying all) reaches its DNS server, metadata service and
// time service; c1 (DNS support off) reaches its metadata and time
// services but not its DNS.
func TestSG8_PathAnalysis(t *testing.T) {
	r := svcRig(t)
	for _, c := range []struct {
		from, dst string
		port      uint16
		found     bool
	}{
		{"a1", "10.0.0.2", 53, true}, {"a1", "169.254.169.253", 53, true}, {"a1", "169.254.169.254", 80, true},
		{"a1", "10.0.0.11", 53, false}, // the group does block the rest
		{"a1", "169.254.169.123", 123, true},
		{"c1", "10.2.0.2", 53, false}, {"c1", "169.254.169.254", 80, true}, {"c1", "169.254.169.123", 123, true},
	} {
		a, err := r.f.ExplainPath(r.enis[c.from].ID, netip.MustParseAddr(c.dst), header.ProtoUDP, c.port)
		if err != nil {
			t.Fatal(err)
		}
		if a.NetworkPathFound != c.found {
			t.Errorf("%s → %s:%d: path found %v, want %v: %+v", c.from, c.dst, c.port, a.NetworkPathFound, c.found, a.Explanations)
		}
	}
}
