package dataplane

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/vpcnet/vpcnet/dataplane/header"
	"github.com/vpcnet/vpcnet/topology"
)

// multiTopo spreads one VPC over two machines (issue 16): subnet a
// (us-east-1a, public, with a NAT gateway) on h1, subnet b (us-east-1b,
// private, its default route to the NAT gateway) on h2, the internet host
// on h2 too.
const multiTopo = `{
  "name": "mt", "region": "us-east-1",
  "address_pools": [{"name": "amazon", "cidrs": ["3.34.0.0/16"], "network_border_group": "us-east-1"}],
  "elastic_ips": [{"name": "eip-nat", "address": "3.34.0.9"}, {"name": "eip-a1", "address": "3.34.0.10"}],
  "settings": {"store": "etcd://127.0.0.1:2379",
               "placement": {"zones": {"us-east-1a": "h1", "us-east-1b": "h2"}, "internet": "h2"}},
  "internet": {"hosts": [{"name": "inet", "ip": "198.51.100.10"}]},
  "vpcs": [{
    "name": "v", "cidr": "10.0.0.0/16", "internet_gateway": "igw",
    "subnets": [
      {"name": "a", "cidr": "10.0.1.0/24", "az": "us-east-1a", "route_table": "pub", "network_acl": "acl-a"},
      {"name": "b", "cidr": "10.0.2.0/24", "az": "us-east-1b", "route_table": "priv"}
    ],
    "route_tables": [
      {"name": "pub", "routes": [{"destination": "0.0.0.0/0", "target": "igw"}]},
      {"name": "priv", "routes": [{"destination": "0.0.0.0/0", "target": "nat"}]}
    ],
    "nat_gateways": [{"name": "nat", "subnet": "a", "elastic_ip": "eip-nat"}],
    "network_acls": [{"name": "acl-a",
      "ingress": [{"rule": 90, "protocol": "udp", "ports": "9999", "cidr": "0.0.0.0/0", "action": "deny"},
                  {"rule": 100, "protocol": "all", "cidr": "0.0.0.0/0", "action": "allow"}],
      "egress": [{"rule": 100, "protocol": "all", "cidr": "0.0.0.0/0", "action": "allow"}]}],
    "security_groups": [
      {"name": "open", "ingress": [{"protocol": "all", "source": "0.0.0.0/0"}]},
      {"name": "web", "ingress": [{"protocol": "tcp", "ports": "80", "source": "0.0.0.0/0"}]}
    ],
    "instances": [
      {"name": "a1", "subnet": "a", "private_ip": "10.0.1.10", "security_groups": ["open"], "elastic_ip": "eip-a1"},
      {"name": "b1", "subnet": "b", "private_ip": "10.0.2.10", "security_groups": ["web"]},
      {"name": "b2", "subnet": "b", "private_ip": "10.0.2.11", "security_groups": ["open"], "host": "h1"}
    ]
  }]
}`

// machines is two forwarders, h1 and h2, on one network, whose tunnel
// ports are joined by wires (goroutines) that a test can cut.
type machines struct {
	t     *testing.T
	n     *topology.Network
	fwd   map[string]*Forwarder
	ports map[string]*FakePort // instance or host name → its port, on its machine
	cut   sync.Map             // "h1>h2" → true: frames that way are lost
	stop  chan struct{}
}

func newMachines(t *testing.T) *machines {
	t.Helper()
	n, err := topology.Load([]byte(multiTopo))
	if err != nil {
		t.Fatal(err)
	}
	m := &machines{t: t, n: n, fwd: map[string]*Forwarder{}, ports: map[string]*FakePort{}, stop: make(chan struct{})}
	for _, h := range []string{"h1", "h2"} {
		m.fwd[h] = New(n, Options{Machine: h})
	}
	for _, v := range n.VPCs {
		for _, i := range v.Instances {
			p := NewFakePort(64)
			m.ports[i.Name] = p
			m.fwd[n.HostOf(i)].AttachPort(i.Primary().ID, p)
		}
	}
	for _, h := range n.Hosts {
		p := NewFakePort(64)
		m.ports[h.Name] = p
		m.fwd[n.InternetHost()].AttachPort(h.Name, p)
	}
	vnis := []uint32{InternetVNI}
	for _, v := range VNIs(n) {
		vnis = append(vnis, v)
	}
	for _, vni := range vnis {
		p1, p2 := NewFakePort(256), NewFakePort(256)
		m.fwd["h1"].AttachTunnel("h2", vni, p1)
		m.fwd["h2"].AttachTunnel("h1", vni, p2)
		go m.wire("h1>h2", p1, p2)
		go m.wire("h2>h1", p2, p1)
	}
	t.Cleanup(func() {
		close(m.stop)
		for _, f := range m.fwd {
			f.Stop()
		}
	})
	m.waitPeers()
	return m
}

// wire carries what from's forwarder sends into to's, unless cut.
func (m *machines) wire(way string, from, to *FakePort) {
	for {
		select {
		case <-m.stop:
			return
		case f := <-from.Sent():
			if _, cut := m.cut.Load(way); !cut {
				to.Inject(f)
			}
		}
	}
}

func (m *machines) waitPeers() {
	m.t.Helper()
	for i := 0; i < 100; i++ {
		if m.fwd["h1"].PeerAlive("h2") && m.fwd["h2"].PeerAlive("h1") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	m.t.Fatal("the machines never heard each other's heartbeats")
}

func (m *machines) eni(name string) *topology.ENI { return m.n.InstanceByName[name].Primary() }

func (m *machines) expect(to string) []byte {
	m.t.Helper()
	return expectAt(m.t, m.ports[to], to)
}

func (m *machines) expectNone(to string) {
	m.t.Helper()
	expectNoneAt(m.t, m.ports[to], to, 150*time.Millisecond)
}

func (m *machines) drops(machine, endpoint string, r dropReason) uint64 {
	for _, e := range m.fwd[machine].Stats().Endpoints {
		if e.Name == endpoint {
			return e.Drops[r.String()]
		}
	}
	return 0
}

func tcpSYN(port uint16) *layers.TCP {
	return &layers.TCP{SrcPort: 40000, DstPort: layers.TCPPort(port), SYN: true, Window: 1000}
}

func decodeIPv4(t *testing.T, f []byte) *layers.IPv4 {
	t.Helper()
	p := gopacket.NewPacket(f[header.VnetHdrLen:], layers.LayerTypeEthernet, gopacket.Default)
	ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if ip == nil {
		t.Fatalf("not IPv4: % x", f)
	}
	return ip
}

// The sender's machine runs the sender's side, the receiver's machine the
// rest (issue 16): a1 on h1 reaches b1 on h2 by port 80; another port is
// refused by b1's group, counted on h2 (SG-2), and the reply of the allowed
// flow comes back by its tracked state (SG-5, b1's group has no egress
// rule for it but the default allow-all, and a1's tracked flow admits it).
func TestMULTI_SenderAndReceiverSides(t *testing.T) {
	m := newMachines(t)
	a1, b1 := m.eni("a1"), m.eni("b1")
	m.ports["a1"].Inject(frame(t, a1.MAC, a1.Subnet.RouterMAC, "10.0.1.10", "10.0.2.10", tcpSYN(80)))
	got := m.expect("b1")
	if ip := decodeIPv4(t, got); ip.SrcIP.String() != "10.0.1.10" || ip.DstIP.String() != "10.0.2.10" {
		t.Fatalf("b1 got %v → %v", ip.SrcIP, ip.DstIP)
	}
	reply := frame(t, b1.MAC, b1.Subnet.RouterMAC, "10.0.2.10", "10.0.1.10",
		&layers.TCP{SrcPort: 80, DstPort: 40000, SYN: true, ACK: true, Window: 1000})
	m.ports["b1"].Inject(reply)
	m.expect("a1")

	m.ports["a1"].Inject(frame(t, a1.MAC, a1.Subnet.RouterMAC, "10.0.1.10", "10.0.2.10", tcpSYN(22)))
	m.expectNone("b1")
	if got := m.drops("h2", "b1", dropSGIngress); got != 1 {
		t.Errorf("h2 counted %d SG ingress drops at b1, want 1 (the receiver's side)", got)
	}
	if got := m.drops("h1", "b1", dropSGIngress); got != 0 {
		t.Errorf("h1 counted %d SG ingress drops at b1: the sender's machine judged the receiver's group", got)
	}
}

// NACL-4 at the edge of the receiving subnet runs on the receiver's
// machine; within a subnet no NACL applies even across machines (b2 is in
// subnet b but placed on h1).
func TestMULTI_NACLAtTheReceiversEdge(t *testing.T) {
	m := newMachines(t)
	b1, b2 := m.eni("b1"), m.eni("b2")
	udp := &layers.UDP{SrcPort: 5000, DstPort: 9999}
	m.ports["b1"].Inject(frame(t, b1.MAC, b1.Subnet.RouterMAC, "10.0.2.10", "10.0.1.10", udp, gopacket.Payload("x")))
	m.expectNone("a1")
	if got := m.drops("h1", "a1", dropNACLIngress); got != 1 {
		t.Errorf("h1 counted %d NACL ingress drops at a1, want 1", got)
	}
	m.ports["b1"].Inject(frame(t, b1.MAC, b2.MAC, "10.0.2.10", "10.0.2.11", &layers.UDP{SrcPort: 5000, DstPort: 9999}, gopacket.Payload("y")))
	f := m.expect("b2")
	eth := header.Ethernet(f[header.VnetHdrLen:])
	if mac6(eth.Src()) != mac6(b1.MAC) {
		t.Errorf("within a subnet the frame keeps its sender's MAC; got %x", eth.Src())
	}
}

// The NAT gateway runs on the machine of its subnet (h1), the internet
// host on h2: b1 (h2) → NAT (h1) → internet (h2), and the reply the whole
// way back (NAT-2, IGW-1).
func TestMULTI_NATGatewayOnItsSubnetsMachine(t *testing.T) {
	m := newMachines(t)
	b1 := m.eni("b1")
	// b1's group has no egress rule but the default allow-all.
	m.ports["b1"].Inject(frame(t, b1.MAC, b1.Subnet.RouterMAC, "10.0.2.10", "198.51.100.10", &layers.UDP{SrcPort: 5000, DstPort: 53}, gopacket.Payload("q")))
	f := m.expect("inet")
	ip := decodeIPv4(t, f)
	if ip.SrcIP.String() != "3.34.0.9" {
		t.Fatalf("the internet host saw %v, want the NAT gateway's EIP 3.34.0.9 (NAT-2)", ip.SrcIP)
	}
	udp := gopacket.NewPacket(f[header.VnetHdrLen:], layers.LayerTypeEthernet, gopacket.Default).Layer(layers.LayerTypeUDP).(*layers.UDP)
	host := m.n.Hosts[0]
	m.ports["inet"].Inject(frame(t, host.MAC, m.fwd["h2"].cfg.Load().internetMAC[:], "198.51.100.10", "3.34.0.9",
		&layers.UDP{SrcPort: 53, DstPort: udp.SrcPort}, gopacket.Payload("a")))
	back := decodeIPv4(t, m.expect("b1"))
	if back.SrcIP.String() != "198.51.100.10" || back.DstIP.String() != "10.0.2.10" {
		t.Fatalf("b1 got %v → %v", back.SrcIP, back.DstIP)
	}
}

// The internet gateway translates on the machine of the destination's
// subnet: the internet host (h2) reaches a1 (h1) by its EIP (IGW-1).
func TestMULTI_InternetToAnEIPOnAnotherMachine(t *testing.T) {
	m := newMachines(t)
	host := m.n.Hosts[0]
	m.ports["inet"].Inject(frame(t, host.MAC, m.fwd["h2"].cfg.Load().internetMAC[:], "198.51.100.10", "3.34.0.10",
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 3, Seq: 1}, gopacket.Payload("p")))
	if ip := decodeIPv4(t, m.expect("a1")); ip.DstIP.String() != "10.0.1.10" {
		t.Fatalf("a1 got a frame for %v", ip.DstIP)
	}
}

// A machine not heard for peerTimeout (its agent died, the underlay is
// cut) makes frames for its instances counted drops, peer-unreachable, on
// the sender's machine; when it is heard again they flow.
func TestMULTI_PeerUnreachableIsCounted(t *testing.T) {
	m := newMachines(t)
	a1 := m.eni("a1")
	m.cut.Store("h2>h1", true) // h1 stops hearing h2
	m.cut.Store("h1>h2", true)
	deadline := time.Now().Add(3 * time.Second)
	for m.fwd["h1"].PeerAlive("h2") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if m.fwd["h1"].PeerAlive("h2") {
		t.Fatal("h1 still hears h2 through a cut wire")
	}
	m.ports["a1"].Inject(frame(t, a1.MAC, a1.Subnet.RouterMAC, "10.0.1.10", "10.0.2.10", tcpSYN(80)))
	m.expectNone("b1")
	if got := m.drops("h1", "b1", dropPeerUnreachable); got != 1 {
		t.Errorf("h1 counted %d peer-unreachable drops at b1, want 1", got)
	}
	m.cut.Delete("h2>h1")
	m.cut.Delete("h1>h2")
	m.waitPeers()
	m.ports["a1"].Inject(frame(t, a1.MAC, a1.Subnet.RouterMAC, "10.0.1.10", "10.0.2.10", tcpSYN(80)))
	m.expect("b1")
}

// A tunnelled frame for something its receiver does not hold is dropped
// as misdirected, never sent back onto the underlay (a loop when two
// machines disagree during a change).
func TestMULTI_MisdirectedIsNotSentBack(t *testing.T) {
	m := newMachines(t)
	a1, b1 := m.eni("a1"), m.eni("b1")
	vni := VNIs(m.n)[m.n.VPCs[0].ID]
	// h1's tunnel from h2 brings a frame addressed to b1, which is on h2.
	tun := m.fwd["h1"].cfg.Load().tunnels[tunnelID("h2", vni)]
	tun.port.(*FakePort).Inject(frame(t, a1.MAC, b1.MAC, "10.0.1.10", "10.0.2.10", tcpSYN(80)))
	deadline := time.Now().Add(2 * time.Second)
	for m.drops("h1", "tunnel:h2", dropMisdirected) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := m.drops("h1", "tunnel:h2", dropMisdirected); got != 1 {
		t.Fatalf("h1 counted %d misdirected frames from h2, want 1", got)
	}
	m.expectNone("b1")
}

// A frame crossing machines allocates nothing on either side: handled by
// machine's forwarder, read from port from (an ENI id or a tunnel's), to
// out, the port it must leave by.
func tunnelAllocs(t *testing.T, machine, peer, from, out string, f func(n *topology.Network) []byte) {
	t.Helper()
	n, err := topology.Load([]byte(multiTopo))
	if err != nil {
		t.Fatal(err)
	}
	fw := New(n, Options{Machine: machine})
	vni := VNIs(n)[n.VPCs[0].ID]
	tp, enip := &nullPort{}, &nullPort{}
	fw.AttachTunnel(peer, vni, tp)
	name := from
	if from == "tunnel" {
		name = out
	}
	eni := n.InstanceByName[name].Primary()
	fw.AttachPort(eni.ID, enip)
	fw.Stop()
	cfg := fw.cfg.Load()
	cfg.tunnels[tunnelID(peer, vni)].peer.lastSeen.Store(clock())
	rd, wr, id := Port(enip), tp, eni.ID
	if from == "tunnel" {
		rd, wr, id = tp, enip, tunnelID(peer, vni)
	}
	w := &worker{f: fw, port: rd, id: id, now: clock()}
	in := f(n)
	buf := make([]byte, len(in))
	run := func() {
		copy(buf, in)
		w.handle(cfg, buf)
	}
	run()
	if wr.n != 1 {
		t.Fatalf("the frame did not leave by %s (%d)", out, wr.n)
	}
	if allocs := testing.AllocsPerRun(1000, run); allocs != 0 {
		t.Fatalf("%s → %s allocates %.1f per frame", from, out, allocs)
	}
}

// The sender's side (a1 on h1 into the tunnel to h2) and the receiver's
// (from the tunnel to b1 on h2) allocate nothing.
func TestMULTI_TunnelPathsAllocateNothing(t *testing.T) {
	tunnelAllocs(t, "h1", "h2", "a1", "tunnel", func(n *topology.Network) []byte {
		a1 := n.InstanceByName["a1"].Primary()
		return frame(t, a1.MAC, a1.Subnet.RouterMAC, "10.0.1.10", "10.0.2.10", &layers.UDP{SrcPort: 5000, DstPort: 80}, gopacket.Payload("z"))
	})
	tunnelAllocs(t, "h2", "h1", "tunnel", "b1", func(n *topology.Network) []byte {
		a1, b1 := n.InstanceByName["a1"].Primary(), n.InstanceByName["b1"].Primary()
		return frame(t, a1.MAC, b1.MAC, "10.0.1.10", "10.0.2.10", tcpSYN(80))
	})
}

// VNIs are the same on every machine and distinct per VPC.
func TestMULTI_VNIsAreStableAndDistinct(t *testing.T) {
	var vpcs []string
	for i := range 200 {
		vpcs = append(vpcs, fmt.Sprintf(`{"name": "v%d", "cidr": "10.%d.0.0/16"}`, i, i))
	}
	src := `{"name": "vn", "region": "us-east-1", "settings": {"quotas": {"vpcs": 1000}}, "vpcs": [` + strings.Join(vpcs, ",") + `]}`
	n, err := topology.Load([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	a, b := VNIs(n), VNIs(n)
	if len(a) != 200 {
		t.Fatalf("%d VNIs for 200 VPCs", len(a))
	}
	seen := map[uint32]string{}
	for id, v := range a {
		if b[id] != v || v == 0 || v == InternetVNI || v > 0xffffff {
			t.Errorf("VNI of %s: %d then %d", id, v, b[id])
		}
		if o, dup := seen[v]; dup {
			t.Errorf("VPCs %s and %s share VNI %d", o, id, v)
		}
		seen[v] = id
	}
	// Every machine computes them from the VPC ids alone: the order of
	// the VPCs in the document does not matter.
	slices.Reverse(vpcs)
	m, err := topology.Load([]byte(`{"name": "vn", "region": "us-east-1", "settings": {"quotas": {"vpcs": 1000}}, "vpcs": [` + strings.Join(vpcs, ",") + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(VNIs(m), a) {
		t.Error("the VNIs changed with the order of the VPCs")
	}
}

// A frame from another machine that names, as its sender, an ENI that
// machine does not hold (here a1, on h1 itself, in the destination's
// subnet, so that no NACL would apply) is taken as from outside the
// subnet: acl-a's deny of UDP 9999 still drops it (NACL-4).
func TestMULTI_SpoofedSenderMACDoesNotSkipTheNACL(t *testing.T) {
	m := newMachines(t)
	a1 := m.eni("a1")
	natENI := m.n.VPCs[0].NATs[0].ENI
	vni := VNIs(m.n)[m.n.VPCs[0].ID]
	tun := m.fwd["h1"].cfg.Load().tunnels[tunnelID("h2", vni)]
	tun.port.(*FakePort).Inject(frame(t, a1.MAC, natENI.MAC, "10.0.2.10", "198.51.100.10",
		&layers.UDP{SrcPort: 5000, DstPort: 9999}, gopacket.Payload("s")))
	total := func() (n uint64) {
		for _, e := range m.fwd["h1"].Stats().Endpoints {
			n += e.Drops[dropNACLIngress.String()]
		}
		return n
	}
	deadline := time.Now().Add(2 * time.Second)
	for total() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := total(); got != 1 {
		t.Fatalf("h1 counted %d NACL ingress drops, want 1: the spoofed sender skipped the subnet's NACL", got)
	}
	m.expectNone("inet")
}
