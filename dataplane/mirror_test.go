package dataplane

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/vpcnet/vpcnet/dataplane/header"
	"github.com/vpcnet/vpcnet/dataplane/policy"
	"github.com/vpcnet/vpcnet/topology"
)

// mirrorTopo: web (10.0.1.10, subnet a) is mirrored; cli (10.0.2.10) talks
// to it; mon lets UDP 4789 in from web only, shut lets nothing in. The
// traffic_mirroring part is tm.
func mirrorTopo(tm string) string {
	return `{
  "name": "mir", "region": "us-east-1",
  "vpcs": [{
    "name": "v", "cidr": "10.0.0.0/16",
    "subnets": [
      {"name": "a", "cidr": "10.0.1.0/24", "az": "us-east-1a"},
      {"name": "b", "cidr": "10.0.2.0/24", "az": "us-east-1a"}
    ],
    "security_groups": [
      {"name": "open", "ingress": [{"protocol": "all", "source": "0.0.0.0/0"}]},
      {"name": "vxlan", "ingress": [{"protocol": "udp", "ports": "4789", "source": "10.0.1.10/32"}]},
      {"name": "closed"}
    ],
    "instances": [
      {"name": "web", "subnet": "a", "private_ip": "10.0.1.10", "security_groups": ["open"]},
      {"name": "cli", "subnet": "b", "private_ip": "10.0.2.10", "security_groups": ["open"]},
      {"name": "mon", "subnet": "b", "private_ip": "10.0.2.20", "security_groups": ["vxlan"]},
      {"name": "shut", "subnet": "b", "private_ip": "10.0.2.30", "security_groups": ["closed"]}
    ]
  }],
  "traffic_mirroring": ` + tm + `
}`
}

const acceptAll = `{"rule": 100, "action": "accept", "source": "0.0.0.0/0", "destination": "0.0.0.0/0"}`

// oneSession mirrors web to target (t-mon or t-shut) through filter f-all
// whose rules are rules (both directions), with extra session fields.
func oneSession(target, rules, extra string) string {
	return `{
    "targets": [{"name": "t-mon", "network_interface": "mon"}, {"name": "t-shut", "network_interface": "shut"}],
    "filters": [{"name": "f-all", "ingress": [` + rules + `], "egress": [` + rules + `]}],
    "sessions": [{"name": "s-web", "network_interface": "web", "target": "` + target + `", "filter": "f-all",
                  "session_number": 1, "vni": 4242` + extra + `}]
  }`
}

func synTo(t testing.TB, r *rig, port uint16) []byte {
	return frame(t, r.enis["web"].MAC, r.router("web"), "10.0.1.10", "10.0.2.10",
		&layers.TCP{SrcPort: 40000, DstPort: layers.TCPPort(port), SYN: true, Seq: 1, Window: 1000},
		gopacket.Payload(bytes.Repeat([]byte("x"), 200)))
}

// decodeMirror decodes a mirrored frame (virtio-net header on) with
// gopacket and returns its outer IPv4, UDP and VXLAN layers and the inner
// frame.
func decodeMirror(t *testing.T, f []byte) (*layers.IPv4, *layers.UDP, *layers.VXLAN, []byte) {
	t.Helper()
	p := gopacket.NewPacket(f[header.VnetHdrLen:], layers.LayerTypeEthernet, gopacket.Default)
	ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	udp, _ := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
	vx, _ := p.Layer(layers.LayerTypeVXLAN).(*layers.VXLAN)
	if ip == nil || udp == nil || vx == nil {
		t.Fatalf("not a VXLAN frame: %v", p)
	}
	return ip, udp, vx, vx.Payload
}

// TM-4: the copy is VXLAN on UDP 4789 from the source's primary IP to the
// target's, with the session's VNI, the original Ethernet frame inside;
// TM-3: both what the source sends and what it receives.
func TestMirrorEncapsulation_TM4(t *testing.T) {
	r := newRig(t, mirrorTopo(oneSession("t-mon", acceptAll, "")))
	syn := synTo(t, r, 80)
	r.send("web", syn)
	got := r.expect("cli")
	copy1 := r.expect("mon")
	ip, udp, vx, inner := decodeMirror(t, copy1)
	if ip.SrcIP.String() != "10.0.1.10" || ip.DstIP.String() != "10.0.2.20" || ip.Protocol != layers.IPProtocolUDP {
		t.Errorf("outer IPv4 %v → %v proto %v", ip.SrcIP, ip.DstIP, ip.Protocol)
	}
	if ip.Checksum != ^header.Checksum(ip.Contents, uint32(ip.Checksum)) && header.Checksum(ip.Contents, 0) != 0xffff {
		t.Errorf("outer IPv4 checksum wrong")
	}
	if udp.DstPort != 4789 || udp.SrcPort < 49152 {
		t.Errorf("outer UDP %d → %d, want a flow hash ≥ 49152 → 4789", udp.SrcPort, udp.DstPort)
	}
	if !vx.ValidIDFlag || vx.VNI != 4242 {
		t.Errorf("VXLAN VNI %d valid %v, want 4242", vx.VNI, vx.ValidIDFlag)
	}
	if !bytes.Equal(inner, syn[header.VnetHdrLen:]) {
		t.Errorf("inner frame is not the frame web sent:\n got % x\nwant % x", inner, syn[header.VnetHdrLen:])
	}
	outerEth := header.Ethernet(copy1[header.VnetHdrLen:])
	if !bytes.Equal(outerEth.Dst(), r.enis["mon"].MAC) {
		t.Errorf("outer Ethernet to %x, want mon's MAC", outerEth.Dst())
	}
	// The reply web receives is mirrored as web receives it.
	reply := frame(t, r.enis["cli"].MAC, r.router("cli"), "10.0.2.10", "10.0.1.10",
		&layers.TCP{SrcPort: 80, DstPort: 40000, SYN: true, ACK: true, Seq: 9, Ack: 2, Window: 1000})
	r.send("cli", reply)
	delivered := r.expect("web")
	_, udp2, _, inner2 := decodeMirror(t, r.expect("mon"))
	if !bytes.Equal(inner2, delivered[header.VnetHdrLen:]) {
		t.Errorf("ingress copy is not the frame web received")
	}
	if udp2.SrcPort == 0 {
		t.Error("no flow hash")
	}
	_ = got
}

// TM-4: a session's packet length cuts the inner frame.
func TestMirrorTruncates_TM4(t *testing.T) {
	r := newRig(t, mirrorTopo(oneSession("t-mon", acceptAll, `, "packet_length": 64`)))
	syn := synTo(t, r, 80)
	r.send("web", syn)
	r.expect("cli")
	ip, udp, _, inner := decodeMirror(t, r.expect("mon"))
	if !bytes.Equal(inner, syn[header.VnetHdrLen:header.VnetHdrLen+64]) {
		t.Errorf("inner frame % x, want the first 64 bytes of the original", inner)
	}
	if int(ip.Length) != 20+8+8+64 || int(udp.Length) != 8+8+64 {
		t.Errorf("outer lengths IPv4 %d UDP %d", ip.Length, udp.Length)
	}
}

// TM-2: a reject rule numbered before the accept excludes its frames; the
// original is delivered all the same.
func TestMirrorFilterReject_TM2(t *testing.T) {
	rules := `{"rule": 10, "action": "reject", "protocol": "tcp", "source": "0.0.0.0/0", "destination": "0.0.0.0/0", "destination_ports": "80"}, ` + acceptAll
	r := newRig(t, mirrorTopo(oneSession("t-mon", rules, "")))
	r.send("web", synTo(t, r, 80))
	r.expect("cli")
	r.expectNone("mon")
	r.send("web", synTo(t, r, 8080))
	r.expect("cli")
	r.expect("mon")
}

// TM-5: a target whose groups refuse VXLAN from the source gets no copy;
// the drop is counted on it.
func TestMirrorTargetSecurityGroup_TM5(t *testing.T) {
	r := newRig(t, mirrorTopo(oneSession("t-shut", acceptAll, "")))
	r.send("web", synTo(t, r, 80))
	r.expect("cli")
	r.expectNone("shut")
	if n := r.f.cfg.Load().eniByID[r.enis["shut"].ID].st.ctr.drops[dropMirrorSG].Load(); n != 1 {
		t.Errorf("mirror-security-group drops on shut = %d, want 1", n)
	}
}

// Amazon DNS traffic is mirrored only with the amazon-dns network service;
// the metadata service never (TM-2).
func TestMirrorExempt_TM2(t *testing.T) {
	r := newRig(t, mirrorTopo(oneSession("t-mon", acceptAll, "")))
	v := r.f.cfg.Load().eniByID[r.enis["web"].ID].vpc
	for _, c := range []struct {
		dst          string
		never, isDNS bool
	}{{"10.0.0.2", false, true}, {"169.254.169.253", false, true}, {"169.254.169.254", true, false}, {"10.0.2.10", false, false}} {
		m := policy.Packet{Src: netip.MustParseAddr("10.0.1.10"), Dst: netip.MustParseAddr(c.dst), Proto: header.ProtoUDP, DstPort: 53}
		if never, dns := mirrorExempt(v, &m); never != c.never || dns != c.isDNS {
			t.Errorf("%s: never %v dns %v, want %v %v", c.dst, never, dns, c.never, c.isDNS)
		}
	}
}

func TestMirrorRuleMatch_TM2(t *testing.T) {
	pfx := netip.MustParsePrefix
	tcp := policy.Packet{Src: netip.MustParseAddr("10.0.1.10"), Dst: netip.MustParseAddr("10.0.2.10"), Proto: 6, SrcPort: 40000, DstPort: 80}
	icmp := policy.Packet{Src: tcp.Src, Dst: tcp.Dst, Proto: 1}
	any := mirrorRule{proto: -1, src: pfx("0.0.0.0/0"), dst: pfx("0.0.0.0/0"), sp0: -1, dp0: -1}
	for _, c := range []struct {
		name string
		r    mirrorRule
		p    policy.Packet
		want bool
	}{
		{"all", any, tcp, true},
		{"protocol", mirrorRule{proto: 17, src: any.src, dst: any.dst, sp0: -1, dp0: -1}, tcp, false},
		{"source cidr", mirrorRule{proto: -1, src: pfx("10.0.2.0/24"), dst: any.dst, sp0: -1, dp0: -1}, tcp, false},
		{"destination cidr", mirrorRule{proto: -1, src: any.src, dst: pfx("10.0.2.0/24"), sp0: -1, dp0: -1}, tcp, true},
		{"dst port in", mirrorRule{proto: 6, src: any.src, dst: any.dst, sp0: -1, dp0: 80, dp1: 80, hasL4Ports: true}, tcp, true},
		{"dst port out", mirrorRule{proto: 6, src: any.src, dst: any.dst, sp0: -1, dp0: 81, dp1: 90, hasL4Ports: true}, tcp, false},
		{"src port range", mirrorRule{proto: -1, src: any.src, dst: any.dst, sp0: 32768, sp1: 60999, dp0: -1, hasL4Ports: true}, tcp, true},
		{"ports need tcp or udp", mirrorRule{proto: -1, src: any.src, dst: any.dst, sp0: 0, sp1: 65535, dp0: -1, hasL4Ports: true}, icmp, false},
	} {
		if got := c.r.matches(&c.p); got != c.want {
			t.Errorf("%s: matches = %v, want %v", c.name, got, c.want)
		}
	}
	// First match decides; no match is not mirrored.
	s := &mirrorCfg{egress: []mirrorRule{{proto: 6, src: any.src, dst: any.dst, sp0: -1, dp0: 80, dp1: 80, hasL4Ports: true}, {accept: true, proto: -1, src: any.src, dst: any.dst, sp0: -1, dp0: -1}}}
	if s.accepts(true, &tcp) || !s.accepts(true, &icmp) || s.accepts(false, &icmp) {
		t.Error("first-match order or direction wrong")
	}
}

// TM-3: of two sessions of one source, the lowest-numbered whose filter
// accepts mirrors, and only it.
func TestMirrorSessionOrder_TM3(t *testing.T) {
	tm := `{
    "targets": [{"name": "t-mon", "network_interface": "mon"}, {"name": "t-cli", "network_interface": "cli"}],
    "filters": [
      {"name": "f-udp", "egress": [{"rule": 1, "action": "accept", "protocol": "udp", "source": "0.0.0.0/0", "destination": "0.0.0.0/0"}]},
      {"name": "f-all", "egress": [` + acceptAll + `]}],
    "sessions": [
      {"name": "s2", "network_interface": "web", "target": "t-mon", "filter": "f-all", "session_number": 2},
      {"name": "s1", "network_interface": "web", "target": "t-cli", "filter": "f-udp", "session_number": 1}]
  }`
	r := newRig(t, mirrorTopo(tm))
	e := r.f.cfg.Load().eniByID[r.enis["web"].ID]
	if len(e.mirrors) != 2 || e.mirrors[0].number != 1 {
		t.Fatalf("sessions not in number order: %d", len(e.mirrors))
	}
	r.send("web", synTo(t, r, 80)) // TCP: s1's filter refuses, s2 takes it
	r.expect("cli")
	r.expect("mon")
	r.expectNone("cli")
}

// TM-6: a target port that refuses the copy drops the copy, counted, and
// the original goes on.
type refusingPort struct{ nullPort }

func (p *refusingPort) Write([][]byte, int) (int, error) { return 0, ErrPortFull }

func TestMirrorFullTargetDropsCopy_TM6(t *testing.T) {
	w, cfg, n, ports := mirrorBench(t)
	mon := cfg.eniByID[n.InstanceByName["mon"].Primary().ID]
	mon.port = &refusingPort{}
	w.handle(cfg, mirrorSyn(t, n))
	if ports["cli"].n != 1 {
		t.Fatalf("the original was not delivered (%d)", ports["cli"].n)
	}
	if d := mon.st.ctr.drops[dropMirrorRefused].Load(); d != 1 {
		t.Errorf("mirror-copy-refused = %d, want 1", d)
	}
}

func mirrorBench(t testing.TB) (*worker, *config, *topology.Network, map[string]*nullPort) {
	n, err := topology.Load([]byte(mirrorTopo(oneSession("t-mon", acceptAll, ""))))
	if err != nil {
		t.Fatal(err)
	}
	f := New(n, Options{})
	ports := map[string]*nullPort{}
	var w *worker
	for _, i := range n.VPCs[0].Instances {
		p := &nullPort{}
		ports[i.Name] = p
		f.AttachPort(i.Primary().ID, p)
		if i.Name == "web" {
			w = &worker{f: f, port: p, id: i.Primary().ID, now: clock()}
		}
	}
	f.Stop()
	return w, f.cfg.Load(), n, ports
}

func mirrorSyn(t testing.TB, n *topology.Network) []byte {
	web := n.InstanceByName["web"]
	return frame(t, web.Primary().MAC, web.Subnet.RouterMAC, "10.0.1.10", "10.0.2.10",
		&layers.TCP{SrcPort: 40000, DstPort: 80, SYN: true, Window: 1000})
}

// A session on: forwarding and mirroring allocate nothing.
func TestMirrorAllocatesNothing(t *testing.T) {
	w, cfg, n, ports := mirrorBench(t)
	syn := mirrorSyn(t, n)
	buf := make([]byte, len(syn))
	run := func() { copy(buf, syn); w.handle(cfg, buf) }
	run()
	if a := testing.AllocsPerRun(1000, run); a != 0 {
		t.Fatalf("forwarding with a mirror session allocates %.1f per frame", a)
	}
	if ports["mon"].n < 1000 || ports["cli"].n < 1000 {
		t.Fatalf("mirrored %d, forwarded %d", ports["mon"].n, ports["cli"].n)
	}
}

// A GSO super-frame is mirrored as the wire segments it stands for, each
// with a complete checksum.
func TestMirrorSegmentsGSO_TM4(t *testing.T) {
	r := newRig(t, mirrorTopo(oneSession("t-mon", acceptAll, "")))
	const mss = 100
	big := frame(t, r.enis["web"].MAC, r.router("web"), "10.0.1.10", "10.0.2.10",
		&layers.TCP{SrcPort: 40000, DstPort: 80, ACK: true, PSH: true, Seq: 1000, Window: 1000},
		gopacket.Payload(bytes.Repeat([]byte("y"), 3*mss)))
	vh := header.VnetHdr(big)
	vh.SetGSOType(header.VnetGSOTCPv4)
	vh.SetGSOSize(mss)
	r.send("web", big)
	r.expect("cli")
	for i := range 3 {
		_, _, _, inner := decodeMirror(t, r.expect("mon"))
		p := gopacket.NewPacket(inner, layers.LayerTypeEthernet, gopacket.Default)
		tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tcp == nil || len(tcp.Payload) != mss || tcp.Seq != uint32(1000+i*mss) {
			t.Fatalf("segment %d: %v", i, p)
		}
		ip := inner[header.EthernetLen:]
		l4 := ip[20:]
		if header.Checksum(l4, header.PseudoHeaderSum(ip[12:16], ip[16:20], 6, len(l4))) != 0xffff {
			t.Errorf("segment %d: TCP checksum wrong", i)
		}
	}
	r.expectNone("mon")
	_ = binary.BigEndian
}
