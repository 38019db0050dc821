package dataplane

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/vpcnet/vpcnet/dataplane/header"
	"github.com/vpcnet/vpcnet/topology"
)

// unitTopo: a1, a2 in subnet a; b1 in b; fw in c with source/dest check on;
// rt-a sends 198.51.100.0/24 to a blackhole and 10.0.9.0/24 (subnet d) to fw.
const unitTopo = `{
  "name": "unit", "region": "us-east-1",
  "vpcs": [{
    "name": "v", "cidr": "10.0.0.0/16",
    "subnets": [
      {"name": "a", "cidr": "10.0.1.0/24", "az": "us-east-1a", "route_table": "rt-a"},
      {"name": "b", "cidr": "10.0.2.0/24", "az": "us-east-1a"},
      {"name": "c", "cidr": "10.0.3.0/24", "az": "us-east-1a"},
      {"name": "d", "cidr": "10.0.9.0/24", "az": "us-east-1a"}
    ],
    "route_tables": [{"name": "rt-a", "routes": [
      {"destination": "198.51.100.0/24", "target": "blackhole"},
      {"destination": "10.0.9.0/24", "target": "fw"}]}],
    "security_groups": [{"name": "open", "ingress": [{"protocol": "all", "source": "0.0.0.0/0"}]}],
    "instances": [
      {"name": "a1", "subnet": "a", "private_ip": "10.0.1.10", "security_groups": ["open"]},
      {"name": "a2", "subnet": "a", "private_ip": "10.0.1.11", "security_groups": ["open"]},
      {"name": "b1", "subnet": "b", "private_ip": "10.0.2.10", "security_groups": ["open"]},
      {"name": "fw", "subnet": "c", "private_ip": "10.0.3.10", "security_groups": ["open"]},
      {"name": "d1", "subnet": "d", "private_ip": "10.0.9.10", "security_groups": ["open"]}
    ]
  }]
}`

type rig struct {
	t     *testing.T
	net   *topology.Network
	f     *Forwarder
	ports map[string]*FakePort // by instance name
	enis  map[string]*topology.ENI
}

func newRig(t *testing.T, topo string) *rig {
	t.Helper()
	n, err := topology.Load([]byte(topo))
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, net: n, f: New(n, Options{}), ports: map[string]*FakePort{}, enis: map[string]*topology.ENI{}}
	for _, v := range n.VPCs {
		for _, i := range v.Instances {
			p := NewFakePort(64)
			r.ports[i.Name] = p
			r.enis[i.Name] = i.Primary()
			r.f.AttachPort(i.Primary().ID, p)
		}
	}
	t.Cleanup(r.f.Stop)
	return r
}

// frame builds vnet header + Ethernet + IPv4 + layer with gopacket.
func frame(t testing.TB, srcMAC, dstMAC net.HardwareAddr, src, dst string, l4 ...gopacket.SerializableLayer) []byte {
	eth := &layers.Ethernet{SrcMAC: srcMAC, DstMAC: dstMAC, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
	for _, l := range l4 {
		switch x := l.(type) {
		case *layers.ICMPv4:
			ip.Protocol = layers.IPProtocolICMPv4
		case *layers.TCP:
			ip.Protocol = layers.IPProtocolTCP
			x.SetNetworkLayerForChecksum(ip)
		case *layers.UDP:
			ip.Protocol = layers.IPProtocolUDP
			x.SetNetworkLayerForChecksum(ip)
		}
	}
	buf := gopacket.NewSerializeBuffer()
	ls := append([]gopacket.SerializableLayer{eth, ip}, l4...)
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return append(make([]byte, header.VnetHdrLen), buf.Bytes()...)
}

func ping(t testing.TB, from *topology.ENI, dstMAC net.HardwareAddr, src, dst string) []byte {
	return frame(t, from.MAC, dstMAC, src, dst,
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 7, Seq: 1}, gopacket.Payload("ping"))
}

func (r *rig) send(from string, f []byte) { r.ports[from].Inject(f) }

func (r *rig) expect(to string) []byte {
	r.t.Helper()
	return expectAt(r.t, r.ports[to], to)
}

func (r *rig) expectNone(to string) {
	r.t.Helper()
	expectNoneAt(r.t, r.ports[to], to, 100*time.Millisecond)
}

// expectAt returns the next frame written to p (named to), failing t if
// none comes within 2 s.
func expectAt(t testing.TB, p *FakePort, to string) []byte {
	t.Helper()
	select {
	case f := <-p.Sent():
		return f
	case <-time.After(2 * time.Second):
		t.Fatalf("no frame arrived at %s", to)
		return nil
	}
}

// expectNoneAt fails t if a frame is written to p within wait.
func expectNoneAt(t testing.TB, p *FakePort, to string, wait time.Duration) {
	t.Helper()
	select {
	case f := <-p.Sent():
		t.Fatalf("unexpected frame at %s: % x", to, f)
	case <-time.After(wait):
	}
}

func (r *rig) drops(name string, reason dropReason) uint64 {
	for _, e := range r.f.Stats().Endpoints {
		if e.Name == name {
			return e.Drops[reason.String()]
		}
	}
	return 0
}

func (r *rig) router(name string) net.HardwareAddr { return r.enis[name].Subnet.RouterMAC }

func TestADDR3_ARPAnswers(t *testing.T) {
	r := newRig(t, unitTopo)
	a1 := r.enis["a1"]
	arp := func(target string) []byte {
		eth := &layers.Ethernet{SrcMAC: a1.MAC, DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeARP}
		a := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPRequest, SourceHwAddress: a1.MAC, SourceProtAddress: net.ParseIP("10.0.1.10").To4(),
			DstHwAddress: make([]byte, 6), DstProtAddress: net.ParseIP(target).To4()}
		buf := gopacket.NewSerializeBuffer()
		gopacket.SerializeLayers(buf, gopacket.SerializeOptions{}, eth, a)
		return append(make([]byte, header.VnetHdrLen), buf.Bytes()...)
	}
	cases := []struct {
		target string
		want   net.HardwareAddr // nil: no answer
	}{
		{"10.0.1.1", r.router("a1")},    // the VPC router
		{"10.0.1.11", r.enis["a2"].MAC}, // an ENI of the same subnet
		{"10.0.1.77", nil},              // nobody
		{"10.0.2.10", nil},              // another subnet's ENI: no answer
	}
	for _, c := range cases {
		r.send("a1", arp(c.target))
		if c.want == nil {
			r.expectNone("a1")
			continue
		}
		got := r.expect("a1")
		p := gopacket.NewPacket(got[header.VnetHdrLen:], layers.LayerTypeEthernet, gopacket.Default)
		a, ok := p.Layer(layers.LayerTypeARP).(*layers.ARP)
		if !ok || a.Operation != layers.ARPReply || !bytes.Equal(a.SourceHwAddress, c.want) ||
			!bytes.Equal(a.SourceProtAddress, net.ParseIP(c.target).To4()) || !bytes.Equal(a.DstHwAddress, a1.MAC) {
			t.Fatalf("ARP %s: bad reply %v", c.target, p)
		}
	}
	if n := r.drops("a1", dropARP); n != 2 {
		t.Fatalf("unanswered ARP counted %d, want 2", n)
	}
}

func TestRT2_RoutedAcrossSubnetsRewritesMACs(t *testing.T) {
	r := newRig(t, unitTopo)
	in := ping(t, r.enis["a1"], r.router("a1"), "10.0.1.10", "10.0.2.10")
	r.send("a1", in)
	got := r.expect("b1")
	eth := header.Ethernet(got[header.VnetHdrLen:])
	if !bytes.Equal(eth.Dst(), r.enis["b1"].MAC) || !bytes.Equal(eth.Src(), r.router("b1")) {
		t.Fatalf("MACs: dst %x src %x", eth.Dst(), eth.Src())
	}
	if !bytes.Equal(got[ipOff:], in[ipOff:]) {
		t.Fatal("the IP packet changed on the way")
	}
}

func TestRT5_SameSubnetDirect(t *testing.T) {
	r := newRig(t, unitTopo)
	r.send("a1", ping(t, r.enis["a1"], r.enis["a2"].MAC, "10.0.1.10", "10.0.1.11"))
	got := r.expect("a2")
	if eth := header.Ethernet(got[header.VnetHdrLen:]); !bytes.Equal(eth.Src(), r.enis["a1"].MAC) {
		t.Fatalf("same-subnet frame should keep the sender's MAC, got %x", eth.Src())
	}
}

func TestRT3_BlackholeAndRT6_NoRoute(t *testing.T) {
	r := newRig(t, unitTopo)
	r.send("a1", ping(t, r.enis["a1"], r.router("a1"), "10.0.1.10", "198.51.100.1"))
	r.send("a1", ping(t, r.enis["a1"], r.router("a1"), "10.0.1.10", "203.0.113.1"))
	r.send("b1", ping(t, r.enis["b1"], r.router("b1"), "10.0.2.10", "10.0.2.99")) // RT-5, nobody there
	time.Sleep(100 * time.Millisecond)
	if n := r.drops("a1", dropBlackhole); n != 1 {
		t.Errorf("blackhole drops %d, want 1", n)
	}
	if n := r.drops("a1", dropNoRoute); n != 1 {
		t.Errorf("no-route drops %d, want 1", n)
	}
	if n := r.drops("b1", dropNoENI); n != 1 {
		t.Errorf("no-eni drops %d, want 1", n)
	}
}

func TestENI4_SourceDestCheck(t *testing.T) {
	r := newRig(t, unitTopo)
	// Egress: a forged source.
	r.send("a1", ping(t, r.enis["a1"], r.router("a1"), "10.0.1.99", "10.0.2.10"))
	r.expectNone("b1")
	if n := r.drops("a1", dropSrcDstEgress); n != 1 {
		t.Fatalf("egress check drops %d, want 1", n)
	}
	// Ingress: routed to fw (route 10.0.9.0/24 → fw), not addressed to it.
	r.send("a1", ping(t, r.enis["a1"], r.router("a1"), "10.0.1.10", "10.0.9.10"))
	r.expectNone("fw")
	if n := r.drops("fw", dropSrcDstIngress); n != 1 {
		t.Fatalf("ingress check drops %d, want 1", n)
	}
}

func TestENI4_CheckOffRoutesThroughAppliance(t *testing.T) {
	r := newRig(t, bytesReplace(unitTopo, `"private_ip": "10.0.3.10", "security_groups": ["open"]`,
		`"private_ip": "10.0.3.10", "security_groups": ["open"], "source_dest_check": false`))
	r.send("a1", ping(t, r.enis["a1"], r.router("a1"), "10.0.1.10", "10.0.9.10"))
	got := r.expect("fw") // the appliance gets it, addressed to its MAC
	if eth := header.Ethernet(got[header.VnetHdrLen:]); !bytes.Equal(eth.Dst(), r.enis["fw"].MAC) {
		t.Fatal("not addressed to the appliance")
	}
	// The appliance forwards it (source not its own: allowed with the check off).
	r.send("fw", ping(t, r.enis["fw"], r.router("fw"), "10.0.1.10", "10.0.9.10"))
	r.expect("d1")
}

func bytesReplace(s, old, new string) string {
	return string(bytes.Replace([]byte(s), []byte(old), []byte(new), 1))
}

func TestBadFramesAreCountedDrops(t *testing.T) {
	r := newRig(t, unitTopo)
	good := ping(t, r.enis["a1"], r.router("a1"), "10.0.1.10", "10.0.2.10")
	short := good[:20]
	badVer := append([]byte(nil), good...)
	badVer[ipOff] = 0x65
	badLen := append([]byte(nil), good...)
	badLen[ipOff+2], badLen[ipOff+3] = 0xff, 0xff
	ipv6 := append([]byte(nil), good...)
	ipv6[header.VnetHdrLen+12], ipv6[header.VnetHdrLen+13] = 0x86, 0xdd
	for _, f := range [][]byte{short, badVer, badLen, ipv6} {
		r.send("a1", f)
	}
	r.expectNone("b1")
	for reason, want := range map[dropReason]uint64{dropShort: 1, dropBadIPv4: 2, dropEtherType: 1} {
		if n := r.drops("a1", reason); n != want {
			t.Errorf("%s: %d, want %d", reason, n, want)
		}
	}
}

// nullPort discards writes; for allocation tests and benchmarks.
type nullPort struct{ n int }

func (p *nullPort) Read([][]byte, []int, int) (int, error) { return 0, ErrClosed }
func (p *nullPort) Write(b [][]byte, _ int) (int, error)   { p.n += len(b); return len(b), nil }
func (p *nullPort) BatchSize() int                         { return 1 }
func (p *nullPort) Close() error                           { return nil }

// benchRig attaches null ports and returns a worker for a1's port.
func benchRig(t testing.TB, topo string) (*worker, *config, *topology.Network, map[string]*nullPort) {
	n, err := topology.Load([]byte(topo))
	if err != nil {
		t.Fatal(err)
	}
	f := New(n, Options{})
	ports := map[string]*nullPort{}
	var w *worker
	for _, v := range n.VPCs {
		for _, i := range v.Instances {
			p := &nullPort{}
			ports[i.Name] = p
			f.AttachPort(i.Primary().ID, p)
			if i.Name == "a1" {
				w = &worker{f: f, port: p, id: i.Primary().ID, now: clock()}
			}
		}
	}
	f.Stop() // the null ports' workers return at once; the compiled tables stay usable
	return w, f.cfg.Load(), n, ports
}

// logEveryENI makes every ENI of cfg logged, as topo.json's flow_logs does.
func logEveryENI(cfg *config) {
	for _, e := range cfg.enis {
		e.logMask = logAccept | logReject
	}
}

// forwardAllocs forwards a ping a1 → b1 across subnets once, then demands
// that forwarding it again allocates nothing, with flow logs on or off. It
// returns the worker and the ports.
func forwardAllocs(t *testing.T, flowLogs bool) (*worker, *config, map[string]*nullPort) {
	t.Helper()
	w, cfg, n, ports := benchRig(t, unitTopo)
	if flowLogs {
		w.flows = newFlowTable()
		logEveryENI(cfg)
	}
	a1 := n.InstanceByName["a1"].Primary()
	routed := ping(t, a1, n.InstanceByName["a1"].Subnet.RouterMAC, "10.0.1.10", "10.0.2.10")
	buf := make([]byte, len(routed))
	run := func() {
		copy(buf, routed)
		w.handle(cfg, buf)
	}
	run()
	if allocs := testing.AllocsPerRun(1000, run); allocs != 0 {
		t.Fatalf("forward (flow logs %v) allocates %.1f per frame", flowLogs, allocs)
	}
	if ports["b1"].n == 0 {
		t.Fatal("nothing was forwarded")
	}
	return w, cfg, ports
}

func TestForwardAllocatesNothing(t *testing.T) {
	w, cfg, _ := forwardAllocs(t, false)
	arp := make([]byte, ipOff+header.ARPLen)
	eth := header.Ethernet(arp[header.VnetHdrLen:])
	eth.SetEtherType(header.EtherTypeARP)
	copy(arp[ipOff:], []byte{0, 1, 8, 0, 6, 4, 0, 1})
	header.ARP(arp[ipOff:]).SetTarget(make([]byte, 6), netip.MustParseAddr("10.0.1.1"))
	if allocs := testing.AllocsPerRun(1000, func() { w.handle(cfg, arp) }); allocs != 0 {
		t.Fatalf("ARP allocates %.1f per frame", allocs)
	}
}

func BenchmarkParse(b *testing.B) {
	w, _, n, _ := benchRig(b, unitTopo)
	f := ping(b, n.InstanceByName["a1"].Primary(), n.InstanceByName["a1"].Subnet.RouterMAC, "10.0.1.10", "10.0.2.10")
	b.ReportAllocs()
	for b.Loop() {
		w.parse(f)
	}
}

func BenchmarkRouteLookup(b *testing.B) {
	_, cfg, _, _ := benchRig(b, unitTopo)
	s := cfg.eniByID[cfg.enis[0].id].subnet
	dst := netip.MustParseAddr("10.0.9.10")
	b.ReportAllocs()
	for b.Loop() {
		if s.lookup(dst) == nil {
			b.Fatal("no route")
		}
	}
}

func BenchmarkARP(b *testing.B) {
	w, cfg, _, _ := benchRig(b, unitTopo)
	arp := make([]byte, ipOff+header.ARPLen)
	header.Ethernet(arp[header.VnetHdrLen:]).SetEtherType(header.EtherTypeARP)
	copy(arp[ipOff:], []byte{0, 1, 8, 0, 6, 4, 0, 1})
	header.ARP(arp[ipOff:]).SetTarget(make([]byte, 6), netip.MustParseAddr("10.0.1.1"))
	b.ReportAllocs()
	for b.Loop() {
		w.handle(cfg, arp)
	}
}

func BenchmarkForward(b *testing.B) { benchForward(b, false) }

// benchForward forwards a ping across two subnets, with flow logs on or off.
func benchForward(b *testing.B, flowLogs bool) {
	w, cfg, n, _ := benchRig(b, unitTopo)
	if flowLogs {
		w.flows = newFlowTable()
		logEveryENI(cfg)
	}
	f := ping(b, n.InstanceByName["a1"].Primary(), n.InstanceByName["a1"].Subnet.RouterMAC, "10.0.1.10", "10.0.2.10")
	buf := make([]byte, len(f))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, f)
		w.handle(cfg, buf)
	}
}

// FuzzHandle: no input crashes the pipeline; bad frames are counted drops.
func FuzzHandle(f *testing.F) {
	w, cfg, n, _ := benchRig(f, unitTopo)
	a1 := n.InstanceByName["a1"].Primary()
	f.Add(ping(f, a1, n.InstanceByName["a1"].Subnet.RouterMAC, "10.0.1.10", "10.0.2.10"))
	f.Add(frame(f, a1.MAC, a1.MAC, "10.0.1.10", "10.0.1.11", &layers.TCP{SrcPort: 1, DstPort: 2, SYN: true}))
	f.Add(frame(f, a1.MAC, a1.MAC, "10.0.1.10", "10.0.2.10", &layers.UDP{SrcPort: 1, DstPort: 2}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		buf := make([]byte, len(data), len(data)+64)
		copy(buf, data)
		w.handle(cfg, buf)
	})
}

// A frame read from queue q of a multi-queue port leaves by queue q of the
// destination's multi-queue port (so tun's flow steering keeps the flow's
// replies on the same worker), and by its only queue on a single-queue port.
func TestMultiQueueDeliversOnTheSameQueue(t *testing.T) {
	n, err := topology.Load([]byte(unitTopo))
	if err != nil {
		t.Fatal(err)
	}
	f := New(n, Options{})
	t.Cleanup(f.Stop)
	a1, b1, a2 := n.InstanceByName["a1"].Primary(), n.InstanceByName["b1"].Primary(), n.InstanceByName["a2"].Primary()
	pa, pb, single := NewFakeMultiPort(3, 16), NewFakeMultiPort(3, 16), NewFakePort(16)
	f.AttachPort(a1.ID, pa)
	f.AttachPort(b1.ID, pb)
	f.AttachPort(a2.ID, single)
	for q := range 3 {
		pa.Q[q].Inject(ping(t, a1, a1.Subnet.RouterMAC, "10.0.1.10", "10.0.2.10"))
		select {
		case <-pb.Q[q].Sent():
		case <-time.After(2 * time.Second):
			t.Fatalf("frame read from queue %d did not leave by queue %d", q, q)
		}
		for o := range 3 {
			if o != q && len(pb.Q[o].Sent()) != 0 {
				t.Fatalf("frame read from queue %d left by queue %d", q, o)
			}
		}
		pa.Q[q].Inject(ping(t, a1, a2.MAC, "10.0.1.10", "10.0.1.11"))
		select {
		case <-single.Sent():
		case <-time.After(2 * time.Second):
			t.Fatalf("frame from queue %d did not reach a single-queue port", q)
		}
	}
}

// IGW-2 inbound: a frame from the internet to an address of an AWS pool
// that nothing holds is dropped by the IGW as unassociated; to an address
// outside every pool, there is no such host.
func TestIGW2_UnassociatedPoolAddressDrops(t *testing.T) {
	n, err := topology.Load([]byte(`{"name": "u", "region": "us-east-1",
	  "address_pools": [{"name": "amz", "cidrs": ["3.34.0.0/16"]}],
	  "internet": {"hosts": [{"name": "h", "ip": "54.239.30.25"}]},
	  "vpcs": [{"name": "v", "cidr": "10.0.0.0/16", "internet_gateway": "igw",
	    "subnets": [{"name": "a", "cidr": "10.0.1.0/24", "az": "us-east-1a", "map_public_ip_on_launch": true}],
	    "instances": [{"name": "i", "subnet": "a"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	f := New(n, Options{})
	t.Cleanup(f.Stop)
	h := NewFakePort(8)
	f.AttachPort("h", h)
	count := func(reason dropReason) uint64 {
		for _, e := range f.Stats().Endpoints {
			if e.Name == "h" {
				return e.Drops[reason.String()]
			}
		}
		return 0
	}
	host := n.Hosts[0]
	for _, c := range []struct {
		dst    string
		reason dropReason
	}{{"3.34.0.99", dropNoAssociation}, {"8.8.8.8", dropNoInternetHost}} {
		h.Inject(frame(t, host.MAC, net.HardwareAddr{0x02, 0x00, 0x5e, 0x00, 0x00, 0x01}, "54.239.30.25", c.dst,
			&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 1, Seq: 1}))
		deadline := time.Now().Add(2 * time.Second)
		for count(c.reason) == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if count(c.reason) != 1 {
			t.Errorf("to %s: %d drops as %s, want 1 (stats %+v)", c.dst, count(c.reason), c.reason, f.Stats().Endpoints)
		}
	}
}
