package dataplane

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"runtime"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/vpcnet/vpcnet/dataplane/header"
	"github.com/vpcnet/vpcnet/nat"
)

// ipFrame is frame with IPv4 options (nil: none) and the IPv4 protocol set
// by hand when proto is non-zero (l4 is then raw payload).
func ipFrame(t testing.TB, srcMAC, dstMAC net.HardwareAddr, src, dst string, opts []layers.IPv4Option, proto layers.IPProtocol, l4 ...gopacket.SerializableLayer) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: srcMAC, DstMAC: dstMAC, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4(), Options: opts, Protocol: proto}
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

// synFiveOptions is a TCP SYN as Linux sends it: MSS, SACK permitted,
// timestamps, NOP, window scale.
func synFiveOptions() *layers.TCP {
	return &layers.TCP{SrcPort: 40000, DstPort: 22, Seq: 1, SYN: true, Window: 64240, Options: []layers.TCPOption{
		{OptionType: layers.TCPOptionKindMSS, OptionData: []byte{0x05, 0xb4}},
		{OptionType: layers.TCPOptionKindSACKPermitted},
		{OptionType: layers.TCPOptionKindTimestamps, OptionData: make([]byte, 8)},
		{OptionType: layers.TCPOptionKindNop},
		{OptionType: layers.TCPOptionKindWindowScale, OptionData: []byte{7}},
	}}
}

// sevenIPv4Options: router alert, four NOPs, record route: more options
// than gopacket's decoder makes room for by itself (4).
var sevenIPv4Options = []layers.IPv4Option{
	{OptionType: 148, OptionLength: 4, OptionData: []byte{0, 0}},
	{OptionType: 1}, {OptionType: 1}, {OptionType: 1}, {OptionType: 1},
	{OptionType: 7, OptionLength: 11, OptionData: []byte{4, 0, 0, 0, 0, 0, 0, 0, 0}},
	{OptionType: 0},
}

// nops40 makes the header of f (an IPv4 header at ipOff) carry 40
// one-byte options: NOPs in the IPv4 options (ip) or the TCP options.
func nops40(t testing.TB, f []byte, ip bool) []byte {
	t.Helper()
	iph := header.IPv4(f[ipOff:])
	hl := iph.HeaderLen()
	at := ipOff + hl // where the NOPs go
	if !ip {
		at += header.TCPMinLen
	}
	g := append(append(append([]byte(nil), f[:at]...), bytes.Repeat([]byte{1}, 40)...), f[at:]...)
	gi := header.IPv4(g[ipOff:])
	binary.BigEndian.PutUint16(gi[2:], uint16(iph.TotalLen()+40))
	if ip {
		gi[0] = 0x40 | 15
	} else {
		gi[hl+12] = 15 << 4
	}
	gi.SetChecksum(gi.ComputeChecksum())
	return g
}

// mallocs counts the heap allocations of one call of f.
func mallocs(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.Mallocs - a.Mallocs
}

// A TCP SYN with five options and an IPv4 header with seven options are
// forwarded a1 → b1 without an allocation (gopacket's decoders append
// options past the room they make for four), and so is parsing the most
// options a header holds, 40, even the first time a worker sees them: the
// layers' option slices are made that large up front.
func TestParseOptionsAllocateNothing(t *testing.T) {
	w, cfg, n, ports := benchRig(t, unitTopo)
	a1 := n.InstanceByName["a1"]
	router := a1.Subnet.RouterMAC
	syn := ipFrame(t, a1.Primary().MAC, router, "10.0.1.10", "10.0.2.10", nil, 0, synFiveOptions())
	pingOpts := ipFrame(t, a1.Primary().MAC, router, "10.0.1.10", "10.0.2.10", sevenIPv4Options, 0,
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 7, Seq: 1}, gopacket.Payload("ping"))
	for _, c := range []struct {
		name    string
		f       []byte
		options func() int
		want    int
	}{
		{"tcp-syn-5-options", syn, func() int { return len(w.gp.tcp.Options) }, 5},
		{"ipv4-7-options", pingOpts, func() int { return len(w.gp.ip4.Options) }, 7},
	} {
		buf := make([]byte, len(c.f))
		run := func() {
			copy(buf, c.f)
			w.handle(cfg, buf)
		}
		before := ports["b1"].n
		run()
		if ports["b1"].n != before+1 {
			t.Fatalf("%s: not forwarded", c.name)
		}
		if got := c.options(); got != c.want {
			t.Fatalf("%s: decoded %d options, want %d", c.name, got, c.want)
		}
		if allocs := testing.AllocsPerRun(1000, run); allocs != 0 {
			t.Fatalf("%s: forwarding allocates %.1f per frame", c.name, allocs)
		}
	}

	fresh := &worker{}
	fresh.parse(ping(t, a1.Primary(), router, "10.0.1.10", "10.0.2.10")) // makes the codec
	for _, c := range []struct {
		name    string
		f       []byte
		options func() int
	}{
		{"40 IPv4 options", nops40(t, ping(t, a1.Primary(), router, "10.0.1.10", "10.0.2.10"), true),
			func() int { return len(fresh.gp.ip4.Options) }},
		{"40 TCP options", nops40(t, frame(t, a1.Primary().MAC, router, "10.0.1.10", "10.0.2.10", &layers.TCP{SrcPort: 1, DstPort: 2, SYN: true}), false),
			func() int { return len(fresh.gp.tcp.Options) }},
	} {
		var r dropReason
		if m := mallocs(func() { r = fresh.parse(c.f) }); m != 0 || r != dropNone {
			t.Fatalf("%s: first parse: %d allocations, verdict %v", c.name, m, r)
		}
		if got := c.options(); got != 40 {
			t.Fatalf("%s: decoded %d options, want 40", c.name, got)
		}
	}
}

// TestParseVerdicts: what gopacket refuses, or lets through and vpcnet
// does not, is the named drop; what it would read wrongly is read right.
func TestParseVerdicts(t *testing.T) {
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	tcp := frame(t, mac, mac, "10.0.1.10", "10.0.2.10", &layers.TCP{SrcPort: 1000, DstPort: 22, SYN: true})
	udp := frame(t, mac, mac, "10.0.1.10", "10.0.2.10", &layers.UDP{SrcPort: 1000, DstPort: 53}, gopacket.Payload("q"))
	mod := func(f []byte, edit func(ip []byte)) []byte {
		g := append([]byte(nil), f...)
		edit(g[ipOff:])
		return g
	}
	inner := []byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 10, 9, 9, 9, 10, 8, 8, 8}
	cases := []struct {
		name string
		f    []byte
		want dropReason
	}{
		{"tcp", tcp, dropNone},
		{"tcp data offset 4", mod(tcp, func(ip []byte) { ip[20+12] = 4 << 4 }), dropBadL4},
		{"tcp data offset past the end", mod(tcp, func(ip []byte) { ip[20+12] = 6 << 4 }), dropBadL4},
		{"tcp header cut", mod(tcp, func(ip []byte) { binary.BigEndian.PutUint16(ip[2:], 20+19) }), dropBadL4},
		{"tcp option length 1", mod(append(tcp[:len(tcp):len(tcp)], 0, 0, 0, 0), func(ip []byte) {
			binary.BigEndian.PutUint16(ip[2:], 44)
			ip[20+12] = 6 << 4
			copy(ip[40:], []byte{2, 1, 0, 0})
		}), dropBadL4},
		{"tcp no header at all", mod(tcp, func(ip []byte) { binary.BigEndian.PutUint16(ip[2:], 20) }), dropBadL4},
		{"udp", udp, dropNone},
		{"udp length 3", mod(udp, func(ip []byte) { binary.BigEndian.PutUint16(ip[24:], 3) }), dropBadL4},
		{"udp length 0 (jumbogram)", mod(udp, func(ip []byte) { binary.BigEndian.PutUint16(ip[24:], 0) }), dropNone},
		{"ipv4 version 6", mod(tcp, func(ip []byte) { ip[0] = 0x65 }), dropBadIPv4},
		{"ipv4 total length 0", mod(tcp, func(ip []byte) { binary.BigEndian.PutUint16(ip[2:], 0) }), dropBadIPv4},
		{"ipv4 total length past the frame", mod(tcp, func(ip []byte) { binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)+1)) }), dropBadIPv4},
		{"ipv4 header length 4", mod(tcp, func(ip []byte) { ip[0] = 0x44 }), dropBadIPv4},
		{"ipv4 option running past the header", mod(tcp, func(ip []byte) {
			ip[0] = 0x46 // the TCP source port's bytes are read as the option
			ip[20], ip[21] = 7, 9
		}), dropBadIPv4},
		{"ethernet 802.3 length", func() []byte {
			g := append([]byte(nil), tcp...)
			g[header.VnetHdrLen+12], g[header.VnetHdrLen+13] = 0, 40
			return g
		}(), dropEtherType},
		{"short", tcp[:ipOff-1], dropShort},
		{"ethernet only", tcp[:ipOff], dropBadIPv4},
		{"ip-in-ip", func() []byte {
			g := append(append([]byte(nil), tcp[:ipOff+20]...), inner...)
			binary.BigEndian.PutUint16(g[ipOff+2:], 40)
			g[ipOff+9] = 4
			return g
		}(), dropNone},
	}
	w := &worker{}
	for _, c := range cases {
		if got := w.parse(c.f); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	// IP-in-IP: the outer header is the packet's; gopacket's own IPv4
	// layer would decode the inner one over it.
	w.parse(cases[len(cases)-1].f)
	if m := w.p.meta; m.Src != netip.MustParseAddr("10.0.1.10") || m.Dst != netip.MustParseAddr("10.0.2.10") || m.Proto != 4 || w.p.l4 == nil || len(w.p.l4) != 20 {
		t.Errorf("ip-in-ip read as %+v, l4 %d bytes", m, len(w.p.l4))
	}
	// A first fragment's ports are read (frag.go needs them); gopacket
	// would stop at its IPv4 header.
	first := mod(udp, func(ip []byte) { ip[6] = 0x20 })
	if r := w.parse(first); r != dropNone || w.p.frag || w.p.meta.SrcPort != 1000 || w.p.meta.DstPort != 53 {
		t.Errorf("first fragment: %v, %+v", r, w.p.meta)
	}
}

// A bad frame is a drop that allocates nothing: the views screen it before
// gopacket, whose decoders allocate an error (and whose ARP decoder panics
// on a hardware address length of 128).
func TestParseBadFramesAllocateNothing(t *testing.T) {
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	tcp := frame(t, mac, mac, "10.0.1.10", "10.0.2.10", &layers.TCP{SrcPort: 1000, DstPort: 22, SYN: true})
	udp := frame(t, mac, mac, "10.0.1.10", "10.0.2.10", &layers.UDP{SrcPort: 1000, DstPort: 53}, gopacket.Payload("q"))
	mod := func(f []byte, at int, b ...byte) []byte {
		g := append([]byte(nil), f...)
		copy(g[at:], b)
		return g
	}
	arp := make([]byte, ipOff+header.ARPLen)
	header.Ethernet(arp[header.VnetHdrLen:]).SetEtherType(header.EtherTypeARP)
	copy(arp[ipOff:], []byte{0, 1, 8, 0, 128, 4, 0, 1})
	w := &worker{}
	for _, c := range []struct {
		name string
		f    []byte
		want dropReason
	}{
		{"tcp data offset 4", mod(tcp, ipOff+32, 4<<4), dropBadL4},
		{"udp length 3", mod(udp, ipOff+24, 0, 3), dropBadL4},
		{"ipv4 header length 4", mod(tcp, ipOff, 0x44), dropBadIPv4},
		{"ipv4 option past the header", mod(tcp, ipOff, 0x46), dropBadIPv4},
		{"ipv4 cut", tcp[:ipOff+19], dropBadIPv4},
		{"arp hardware length 128", arp, dropNone}, // arp refuses it
	} {
		var r dropReason
		if allocs := testing.AllocsPerRun(100, func() { r = w.parse(c.f) }); allocs != 0 || r != c.want {
			t.Errorf("%s: %v allocations, verdict %v (want %v)", c.name, allocs, r, c.want)
		}
		if c.want == dropNone {
			if _, ok := w.gp.arpRequest(); !w.p.arp || ok {
				t.Errorf("%s: taken as an ARP request", c.name)
			}
		}
	}
}

// natRSTTopo: b1 in a private subnet behind the NAT gateway, every ACL open.
const natRSTTopo = `{
  "name": "rst", "region": "us-east-1",
  "address_pools": [{"name": "amz", "cidrs": ["3.34.0.0/16"]}],
  "elastic_ips": [{"name": "eip-nat", "address": "3.34.20.20"}],
  "internet": {"hosts": [{"name": "h", "ip": "203.0.113.80"}]},
  "vpcs": [{
    "name": "v", "cidr": "10.0.0.0/16", "internet_gateway": "igw",
    "subnets": [
      {"name": "a", "cidr": "10.0.1.0/24", "az": "us-east-1a", "route_table": "rt-pub"},
      {"name": "b", "cidr": "10.0.2.0/24", "az": "us-east-1a", "route_table": "rt-priv"}
    ],
    "route_tables": [
      {"name": "rt-pub", "routes": [{"destination": "0.0.0.0/0", "target": "igw"}]},
      {"name": "rt-priv", "routes": [{"destination": "0.0.0.0/0", "target": "nat"}]}
    ],
    "nat_gateways": [{"name": "nat", "subnet": "a", "elastic_ip": "eip-nat"}],
    "security_groups": [{"name": "open", "ingress": [{"protocol": "all", "source": "0.0.0.0/0"}]}],
    "instances": [{"name": "b1", "subnet": "b", "private_ip": "10.0.2.10", "security_groups": ["open"]}]
  }]
}`

// TestNAT4_RSTBuiltLikeBuildRST: a TCP segment that is not a SYN and
// matches no NAT connection is answered with a RST (NAT-4), built with
// gopacket; its IPv4 packet is byte for byte what nat.BuildRST writes, and
// its checksums verify.
func TestNAT4_RSTBuiltLikeBuildRST(t *testing.T) {
	r := newRig(t, natRSTTopo)
	b1 := r.enis["b1"]
	for _, seg := range []*layers.TCP{
		{SrcPort: 40000, DstPort: 80, Seq: 1000, Ack: 5000, ACK: true, PSH: true, Window: 500},
		{SrcPort: 40001, DstPort: 80, Seq: 7000, FIN: true, Window: 500},
	} {
		in := frame(t, b1.MAC, r.router("b1"), "10.0.2.10", "203.0.113.80", seg, gopacket.Payload("hello"))
		want := make([]byte, nat.RSTLen)
		if nat.BuildRST(want, in[ipOff:]) != nat.RSTLen {
			t.Fatal("BuildRST refused the segment")
		}
		r.send("b1", in)
		got := r.expect("b1")
		p := gopacket.NewPacket(got[header.VnetHdrLen:], layers.LayerTypeEthernet, gopacket.Default)
		rst, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if !ok || !rst.RST || uint16(rst.DstPort) != uint16(seg.SrcPort) {
			t.Fatalf("not a RST for port %d: %v", seg.SrcPort, p)
		}
		if ip := header.IPv4(got[ipOff:]); !bytes.Equal(ip[:ip.TotalLen()], want) || !checksumsOK(ip[:ip.TotalLen()]) {
			t.Fatalf("RST\n got % x\nwant % x", ip[:ip.TotalLen()], want)
		}
		if eth := header.Ethernet(got[header.VnetHdrLen:]); !bytes.Equal(eth.Dst(), b1.MAC) {
			t.Fatalf("RST to %x, want %x", eth.Dst(), b1.MAC)
		}
	}
}

// The RST and the ARP reply are built without an allocation once the
// worker's serialize buffer has grown.
func TestBuildAllocatesNothing(t *testing.T) {
	w := &worker{}
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	seg := frame(t, mac, mac, "10.0.2.10", "203.0.113.80", &layers.TCP{SrcPort: 1, DstPort: 80, ACK: true, Ack: 9})
	if w.parse(seg) != dropNone {
		t.Fatal("segment refused")
	}
	if allocs := testing.AllocsPerRun(1000, func() {
		if w.gp.rst() == nil {
			t.Fatal("no RST")
		}
	}); allocs != 0 {
		t.Fatalf("RST build allocates %.1f", allocs)
	}
	arp := make([]byte, ipOff+header.ARPLen)
	header.Ethernet(arp[header.VnetHdrLen:]).SetEtherType(header.EtherTypeARP)
	copy(arp[ipOff:], []byte{0, 1, 8, 0, 6, 4, 0, 1})
	header.ARP(arp[ipOff:]).SetTarget(make([]byte, 6), netip.MustParseAddr("10.0.1.1"))
	if w.parse(arp) != dropNone || !w.p.arp {
		t.Fatal("ARP request refused")
	}
	if _, ok := w.gp.arpRequest(); !ok {
		t.Fatal("ARP request not read")
	}
	if allocs := testing.AllocsPerRun(1000, func() {
		if w.gp.arpReply(mac, netip.MustParseAddr("10.0.1.1")) == nil {
			t.Fatal("no ARP reply")
		}
	}); allocs != 0 {
		t.Fatalf("ARP reply build allocates %.1f", allocs)
	}
}
