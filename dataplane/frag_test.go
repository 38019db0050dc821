package dataplane

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/vpcnet/vpcnet/dataplane/header"
	"github.com/vpcnet/vpcnet/nat"
	"github.com/vpcnet/vpcnet/topology"
)

// fragTopo: a1 (EIP) and a2 in public subnet a; b1 in private subnet b
// behind the NAT gateway, whose NACL lets in UDP 9000 from the VPC, ICMP and
// the ephemeral ports, nothing else; every instance in group g9000, which
// lets in UDP 9000 from the VPC only (no ICMP: replies pass as tracked
// flows, SG-4); an internet host h.
const fragTopo = `{
  "name": "frag", "region": "us-east-1",
  "address_pools": [{"name": "amz", "cidrs": ["3.34.0.0/16"]}],
  "elastic_ips": [{"name": "eip-a1", "address": "3.34.10.10"}, {"name": "eip-nat", "address": "3.34.20.20"}],
  "internet": {"hosts": [{"name": "h", "ip": "203.0.113.80"}]},
  "vpcs": [{
    "name": "v", "cidr": "10.0.0.0/16", "internet_gateway": "igw",
    "subnets": [
      {"name": "a", "cidr": "10.0.1.0/24", "az": "us-east-1a", "route_table": "rt-pub"},
      {"name": "b", "cidr": "10.0.2.0/24", "az": "us-east-1a", "route_table": "rt-priv", "network_acl": "nb"}
    ],
    "route_tables": [
      {"name": "rt-pub", "routes": [{"destination": "0.0.0.0/0", "target": "igw"}]},
      {"name": "rt-priv", "routes": [{"destination": "0.0.0.0/0", "target": "nat"}]}
    ],
    "nat_gateways": [{"name": "nat", "subnet": "a", "elastic_ip": "eip-nat"}],
    "network_acls": [{"name": "nb",
      "ingress": [{"rule": 100, "protocol": "udp", "ports": "9000", "cidr": "10.0.0.0/16", "action": "allow"},
                  {"rule": 110, "protocol": "icmp", "cidr": "0.0.0.0/0", "action": "allow"},
                  {"rule": 120, "protocol": "udp", "ports": "32768-60999", "cidr": "0.0.0.0/0", "action": "allow"}],
      "egress": [{"rule": 100, "protocol": "all", "cidr": "0.0.0.0/0", "action": "allow"}]}],
    "security_groups": [{"name": "g9000", "ingress": [{"protocol": "udp", "ports": "9000", "source": "10.0.0.0/16"}]}],
    "instances": [
      {"name": "a1", "subnet": "a", "private_ip": "10.0.1.10", "security_groups": ["g9000"], "elastic_ip": "eip-a1"},
      {"name": "a2", "subnet": "a", "private_ip": "10.0.1.11", "security_groups": ["g9000"]},
      {"name": "b1", "subnet": "b", "private_ip": "10.0.2.10", "security_groups": ["g9000"]}
    ]
  }]
}`

// internetRouterMAC is the emulated internet's MAC, where hosts send.
var internetRouterMAC = net.HardwareAddr{0x02, 0x00, 0x5e, 0x00, 0x00, 0x01}

// fragRig is newRig on fragTopo with the internet host's port attached.
func fragRig(t *testing.T) *rig {
	r := newRig(t, fragTopo)
	h := NewFakePort(64)
	r.f.AttachPort("h", h)
	r.ports["h"] = h
	return r
}

// fragmentFrame splits the IPv4 packet of a frame (virtio-net header,
// Ethernet, IPv4) into frames of at most n payload bytes (a multiple of 8),
// as a sender's kernel does: MF on all but the last, offsets, lengths and
// header checksums set.
func fragmentFrame(t testing.TB, f []byte, n int) [][]byte {
	t.Helper()
	ip := header.IPv4(f[ipOff:])
	hl, payload := ip.HeaderLen(), ip.Payload()
	var out [][]byte
	for off := 0; off < len(payload); off += n {
		end := min(off+n, len(payload))
		g := append(append([]byte(nil), f[:ipOff+hl]...), payload[off:end]...)
		gi := header.IPv4(g[ipOff:])
		binary.BigEndian.PutUint16(gi[2:], uint16(hl+end-off))
		fo := uint16(off / 8)
		if end < len(payload) {
			fo |= 0x2000
		}
		binary.BigEndian.PutUint16(gi[6:], fo)
		gi.SetChecksum(gi.ComputeChecksum())
		out = append(out, g)
	}
	return out
}

// reassemble joins the IPv4 packets of frames, in order, into their datagram.
func reassemble(frames [][]byte) header.IPv4 {
	first := header.IPv4(frames[0][ipOff:])
	re := append([]byte(nil), first[:first.TotalLen()]...)
	for _, f := range frames[1:] {
		re = append(re, header.IPv4(f[ipOff:]).Payload()...)
	}
	binary.BigEndian.PutUint16(re[2:], uint16(len(re)))
	binary.BigEndian.PutUint16(re[6:], 0)
	header.IPv4(re).SetChecksum(header.IPv4(re).ComputeChecksum())
	return header.IPv4(re)
}

// checksumsOK reports whether a whole datagram's IPv4 and L4 checksums verify.
func checksumsOK(ip header.IPv4) bool {
	if header.Checksum(ip[:ip.HeaderLen()], 0) != 0xffff {
		return false
	}
	l4 := ip.Payload()
	switch ip.Protocol() {
	case header.ProtoICMP:
		return header.Checksum(l4, 0) == 0xffff
	case header.ProtoUDP, header.ProtoTCP:
		return header.Checksum(l4, header.PseudoHeaderSum(ip.SrcBytes(), ip.DstBytes(), ip.Protocol(), len(l4))) == 0xffff
	}
	return true
}

// expectN takes n frames from a port, in order.
func (r *rig) expectN(to string, n int) [][]byte {
	r.t.Helper()
	out := make([][]byte, n)
	for i := range out {
		out[i] = r.expect(to)
	}
	r.expectNone(to)
	return out
}

// settle waits until every frame sent so far has been handled.
func (r *rig) settle() { time.Sleep(100 * time.Millisecond) }

func udpFrame(t testing.TB, from *topology.ENI, dstMAC net.HardwareAddr, src, dst string, sport, dport uint16, size int) []byte {
	return frame(t, from.MAC, dstMAC, src, dst, &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)},
		gopacket.Payload(bytes.Repeat([]byte{0xab}, size)))
}

func bigPing(t testing.TB, srcMAC, dstMAC net.HardwareAddr, src, dst string, typ uint8, id uint16) []byte {
	return frame(t, srcMAC, dstMAC, src, dst,
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, 0), Id: id, Seq: 1}, gopacket.Payload(bytes.Repeat([]byte{0xcd}, 3000)))
}

// sameIPPayloads reports whether got carries sent's IPv4 payloads,
// fragment by fragment, and the same fragment offsets and MF bits.
func sameIPPayloads(sent, got [][]byte) bool {
	for i := range sent {
		s, g := header.IPv4(sent[i][ipOff:]), header.IPv4(got[i][ipOff:])
		if !bytes.Equal(s.Payload(), g.Payload()) || s.FragOffset() != g.FragOffset() || s.MoreFragments() != g.MoreFragments() {
			return false
		}
	}
	return true
}

// SG-4: every fragment of a UDP datagram (3000 bytes: three fragments) to a
// port the receiver's group allows arrives, and every fragment of one to a
// port it does not allow is dropped by that group, none as unmatched. The
// receiver's 3000-byte reply, to a port its sender's group does not open,
// passes whole as part of the tracked flow.
func TestSG4_FragmentsJudgedByTheirFlowsPorts(t *testing.T) {
	r := fragRig(t)
	a1, a2 := r.enis["a1"], r.enis["a2"]
	sent := fragmentFrame(t, udpFrame(t, a1, a2.MAC, "10.0.1.10", "10.0.1.11", 40000, 9000, 3000), 1480)
	if len(sent) != 3 {
		t.Fatalf("%d fragments", len(sent))
	}
	for _, f := range sent {
		r.send("a1", f)
	}
	if got := r.expectN("a2", 3); !sameIPPayloads(sent, got) || !checksumsOK(reassemble(got)) {
		t.Fatal("the fragments changed on the way")
	}

	// The reply: a1's group lets in UDP 9000 only; 40000 passes as the
	// tracked flow's reply.
	reply := fragmentFrame(t, udpFrame(t, a2, a1.MAC, "10.0.1.11", "10.0.1.10", 9000, 40000, 3000), 1480)
	for _, f := range reply {
		r.send("a2", f)
	}
	r.expectN("a1", 3)

	// Port 9001: every fragment is the group's drop.
	for _, f := range fragmentFrame(t, udpFrame(t, a1, a2.MAC, "10.0.1.10", "10.0.1.11", 40001, 9001, 3000), 1480) {
		r.send("a1", f)
	}
	r.expectNone("a2")
	r.settle()
	if n := r.drops("a2", dropSGIngress); n != 3 {
		t.Errorf("security-group ingress drops at a2: %d, want 3 (every fragment)", n)
	}
	for _, name := range []string{"a1", "a2"} {
		if n := r.drops(name, dropFragNoFirst); n != 0 {
			t.Errorf("%s: %d fragments dropped as unmatched", name, n)
		}
	}
}

// NACL-1: the network ACL checks every fragment with its flow's ports:
// UDP 9000, which b's NACL lets in, arrives whole at b1 across subnets;
// 9001, which it does not, is denied by rule * fragment by fragment.
func TestNACL1_FragmentsCheckedWithTheirFlowsPorts(t *testing.T) {
	r := fragRig(t)
	a1 := r.enis["a1"]
	sent := fragmentFrame(t, udpFrame(t, a1, r.router("a1"), "10.0.1.10", "10.0.2.10", 40000, 9000, 3000), 1480)
	for _, f := range sent {
		r.send("a1", f)
	}
	if got := r.expectN("b1", 3); !sameIPPayloads(sent, got) {
		t.Fatal("the fragments changed on the way")
	}
	for _, f := range fragmentFrame(t, udpFrame(t, a1, r.router("a1"), "10.0.1.10", "10.0.2.10", 40000, 9001, 3000), 1480) {
		r.send("a1", f)
	}
	r.expectNone("b1")
	r.settle()
	if n := r.drops("b1", dropNACLIngress); n != 3 {
		t.Errorf("NACL ingress drops at b1: %d, want 3", n)
	}
}

// IGW-1: ping -s 3000 from a1 to the internet: every fragment of the echo
// leaves with a1's EIP as its source, every fragment of the reply comes
// back to a1's private IP (a1's group allows no ICMP in: the reply is the
// tracked flow's, SG-4), and both datagrams' checksums verify.
func TestIGW1_EveryFragmentTranslated(t *testing.T) {
	r := fragRig(t)
	a1, host := r.enis["a1"], r.net.Hosts[0]
	sent := fragmentFrame(t, bigPing(t, a1.MAC, r.router("a1"), "10.0.1.10", "203.0.113.80", 8, 7), 1480)
	for _, f := range sent {
		r.send("a1", f)
	}
	got := r.expectN("h", 3)
	for i, f := range got {
		if ip := header.IPv4(f[ipOff:]); ip.Src() != netip.MustParseAddr("3.34.10.10") || header.Checksum(ip[:ip.HeaderLen()], 0) != 0xffff {
			t.Fatalf("fragment %d left as %v (header checksum ok: %v)", i, ip.Src(), header.Checksum(ip[:ip.HeaderLen()], 0) == 0xffff)
		}
	}
	if re := reassemble(got); !sameIPPayloads(sent[1:], got[1:]) || !checksumsOK(re) {
		t.Fatal("the echo's datagram is damaged")
	}

	reply := fragmentFrame(t, bigPing(t, host.MAC, internetRouterMAC, "203.0.113.80", "3.34.10.10", 0, 7), 1480)
	for _, f := range reply {
		r.send("h", f)
	}
	back := r.expectN("a1", 3)
	for i, f := range back {
		if ip := header.IPv4(f[ipOff:]); ip.Dst() != netip.MustParseAddr("10.0.1.10") {
			t.Fatalf("reply fragment %d arrived for %v", i, ip.Dst())
		}
	}
	if !checksumsOK(reassemble(back)) {
		t.Fatal("the reply's datagram is damaged")
	}
}

// NAT-2: ping -s 3000 from b1 through the NAT gateway: every fragment
// leaves with the gateway's EIP; the echo's id is translated in the first
// fragment only (the others change only their IPv4 header); the reply's
// fragments all come back to b1 with its own id; nothing is dropped, and
// the gateway's counters and the pipeline's agree.
func TestNAT2_EveryFragmentTranslated(t *testing.T) {
	r := fragRig(t)
	b1, host := r.enis["b1"], r.net.Hosts[0]
	sent := fragmentFrame(t, bigPing(t, b1.MAC, r.router("b1"), "10.0.2.10", "203.0.113.80", 8, 7), 1480)
	for _, f := range sent {
		r.send("b1", f)
	}
	got := r.expectN("h", 3)
	for i, f := range got {
		if ip := header.IPv4(f[ipOff:]); ip.Src() != netip.MustParseAddr("3.34.20.20") {
			t.Fatalf("fragment %d left as %v", i, ip.Src())
		}
	}
	re := reassemble(got)
	if !sameIPPayloads(sent[1:], got[1:]) || !checksumsOK(re) {
		t.Fatal("the echo's datagram is damaged")
	}
	natID := header.ICMPv4(re.Payload()).ID()

	reply := fragmentFrame(t, bigPing(t, host.MAC, internetRouterMAC, "203.0.113.80", "3.34.20.20", 0, natID), 1480)
	for _, f := range reply {
		r.send("h", f)
	}
	back := reassemble(r.expectN("b1", 3))
	if back.Dst() != netip.MustParseAddr("10.0.2.10") || header.ICMPv4(back.Payload()).ID() != 7 || !checksumsOK(back) {
		t.Fatalf("reply reassembled to %v id %d, checksums ok %v", back.Dst(), header.ICMPv4(back.Payload()).ID(), checksumsOK(back))
	}
	st := r.f.Stats()
	for _, s := range st.NAT {
		if s.PacketsDropCount != 0 || s.PacketsOutToDestination != 3 || s.PacketsOutToSource != 3 {
			t.Fatalf("NAT-6 counters: %+v", s)
		}
	}
	for _, e := range st.Endpoints {
		if len(e.Drops) != 0 {
			t.Fatalf("%s dropped: %v", e.Name, e.Drops)
		}
	}
}

// A non-first fragment whose first fragment was never seen is dropped and
// counted as fragment-without-first at its sender; a TCP fragment at offset
// 8, which could rewrite the flags its first fragment was judged by, is
// dropped (RFC 1858).
func TestSG4_FragmentWithoutFirstDropped(t *testing.T) {
	r := fragRig(t)
	a1, a2 := r.enis["a1"], r.enis["a2"]
	frags := fragmentFrame(t, udpFrame(t, a1, a2.MAC, "10.0.1.10", "10.0.1.11", 40000, 9000, 3000), 1480)
	r.send("a1", frags[1])
	r.send("a1", frags[2])
	r.send("a1", frags[0]) // too late for the others
	r.expect("a2")
	r.expectNone("a2")
	tcp := fragmentFrame(t, frame(t, a1.MAC, a2.MAC, "10.0.1.10", "10.0.1.11",
		&layers.TCP{SrcPort: 40000, DstPort: 9000, ACK: true, Window: 100}, gopacket.Payload(make([]byte, 64))), 24)
	over := append([]byte(nil), tcp[1]...)
	oi := header.IPv4(over[ipOff:])
	binary.BigEndian.PutUint16(oi[6:], 0x2000|1) // offset 8: over the TCP flags
	oi.SetChecksum(oi.ComputeChecksum())
	r.send("a1", tcp[0])
	r.send("a1", over)
	r.settle()
	if n := r.drops("a1", dropFragNoFirst); n != 2 {
		t.Errorf("fragment-without-first drops: %d, want 2", n)
	}
	if n := r.drops("a1", dropFragOverlap); n != 1 {
		t.Errorf("fragment-overlaps-tcp-header drops: %d, want 1", n)
	}
}

// fragWorker returns a worker for a1 of unitTopo (whose group lets
// everything in) and a 3000-byte UDP datagram a1 → b1 in three fragments.
func fragWorker(t testing.TB) (*worker, *config, [][]byte, map[string]*nullPort) {
	w, cfg, n, ports := benchRig(t, unitTopo)
	a1 := n.InstanceByName["a1"].Primary()
	return w, cfg, fragmentFrame(t, udpFrame(t, a1, a1.Subnet.RouterMAC, "10.0.1.10", "10.0.2.10", 40000, 9000, 3000), 1480), ports
}

// withID returns a copy of fragment f with IP id id (header checksum fixed).
func withID(f []byte, id uint16) []byte {
	g := append([]byte(nil), f...)
	ip := header.IPv4(g[ipOff:])
	binary.BigEndian.PutUint16(ip[4:], id)
	ip.SetChecksum(ip.ComputeChecksum())
	return g
}

// The table is bounded: a sender flooding first fragments never holds more
// than fragSlots records, its newest datagram still passes whole, and the
// fragments of datagrams it evicted are counted drops. A record is freed
// once its datagram has passed, and expires after fragTimeout.
func TestFragmentTableBoundedAndExpires(t *testing.T) {
	w, cfg, frags, ports := fragWorker(t)
	a1 := cfg.eniByID[w.id]
	handle := func(f []byte) { w.handle(cfg, append([]byte(nil), f...)) }
	for id := range 10 * fragSlots {
		handle(withID(frags[0], uint16(id)))
	}
	if n := w.frags.len(w.now); n != fragSlots {
		t.Fatalf("%d records after a flood of %d datagrams, want the bound, %d", n, 10*fragSlots, fragSlots)
	}
	before := ports["b1"].n
	last := uint16(10*fragSlots - 1)
	handle(withID(frags[1], last))
	handle(withID(frags[2], last))
	if ports["b1"].n != before+2 {
		t.Fatal("the newest datagram's fragments did not pass")
	}
	handle(withID(frags[1], 0)) // evicted long ago
	if n := a1.st.ctr.drops[dropFragNoFirst].Load(); n != 1 {
		t.Fatalf("fragment of an evicted datagram: %d drops", n)
	}

	// A datagram that passed whole leaves no record.
	w.frags = newFragTable()
	for _, f := range frags {
		handle(f)
	}
	if n := w.frags.len(w.now); n != 0 {
		t.Fatalf("%d records after the whole datagram passed", n)
	}
	// One that did not expires after fragTimeout.
	handle(frags[0])
	handle(frags[1])
	w.now += fragTimeout + 1
	handle(frags[2])
	if n := a1.st.ctr.drops[dropFragNoFirst].Load(); n != 2 {
		t.Fatalf("fragment after its record expired: %d drops, want 2", n)
	}
}

// Forwarding fragments allocates nothing: a datagram a1 → b1 in three
// fragments, and one through the NAT gateway and the IGW (fragTopo b1 → h).
func TestForwardFragmentsAllocatesNothing(t *testing.T) {
	buf := make([]byte, MaxFrame)
	allocs := func(w *worker, cfg *config, frags [][]byte) float64 {
		run := func() {
			for _, f := range frags {
				copy(buf, f)
				w.handle(cfg, buf[:len(f)])
			}
		}
		run()
		return testing.AllocsPerRun(1000, run)
	}
	w, cfg, frags, ports := fragWorker(t)
	if n := allocs(w, cfg, frags); n != 0 {
		t.Fatalf("forwarding fragments allocates %.1f per datagram", n)
	}
	if ports["b1"].n != 3*1002 {
		t.Fatalf("%d frames reached b1, want %d", ports["b1"].n, 3*1002)
	}

	wa, _, n, _ := benchRig(t, fragTopo)
	hp := &nullPort{}
	wa.f.AttachPort("h", hp)
	ncfg := wa.f.cfg.Load()
	b1 := n.InstanceByName["b1"].Primary()
	wb := &worker{f: wa.f, port: &nullPort{}, id: b1.ID, now: clock()}
	nb := fragmentFrame(t, bigPing(t, b1.MAC, b1.Subnet.RouterMAC, "10.0.2.10", "203.0.113.80", 8, 7), 1480)
	if n := allocs(wb, ncfg, nb); n != 0 {
		t.Fatalf("fragments through the NAT gateway allocate %.1f per datagram", n)
	}
	if hp.n != 3*1002 {
		t.Fatalf("%d frames reached h, want %d", hp.n, 3*1002)
	}
}

// NAT-6: a drop at the NAT gateway carries the name the gateway's own
// counters give it (one name for one drop): before, a non-first fragment
// was bad-l4-header in the pipeline and nat-non-first-fragment at the NAT.
func TestNAT6_DropNamesAgreeWithGatewayCounters(t *testing.T) {
	for v := nat.Verdict(0); v < nat.DropNoPublicIP; v++ {
		if v == nat.OK {
			continue
		}
		if got := natDrop(v).String(); got != v.String() {
			t.Errorf("verdict %q is counted as %q in the pipeline", v, got)
		}
	}
}

// FuzzFragments: any sequence of fragments (random ids, offsets, MF bits,
// protocols, lengths) through a worker never panics, keeps the table
// within its bound, and every frame is forwarded or a counted drop.
func FuzzFragments(f *testing.F) {
	w, cfg, frags, _ := fragWorker(f)
	tcp := fragmentFrame(f, frame(f, cfg.eniByID[w.id].mac[:], cfg.eniByID[w.id].subnet.routerMAC[:], "10.0.1.10", "10.0.2.10",
		&layers.TCP{SrcPort: 1, DstPort: 2, ACK: true}, gopacket.Payload(make([]byte, 40))), 16)
	f.Add([]byte{0, 0, 1, 0, 2, 0})
	f.Add([]byte{1, 0, 2, 0, 0, 0, 3, 1})
	f.Add([]byte{5, 9, 4, 9, 6, 9})
	seeds := append(frags, tcp...)
	f.Fuzz(func(t *testing.T, ops []byte) {
		w.frags = nil
		buf := make([]byte, MaxFrame)
		for len(ops) >= 2 {
			op, arg := ops[0], ops[1]
			ops = ops[2:]
			s := seeds[int(op)%len(seeds)]
			n := copy(buf, s)
			ip := header.IPv4(buf[ipOff:n])
			binary.BigEndian.PutUint16(ip[4:], uint16(arg&3)) // few ids: collisions
			if op&0x40 != 0 {
				binary.BigEndian.PutUint16(ip[6:], uint16(arg)<<5|uint16(op&0x20)<<8)
			}
			if op&0x80 != 0 {
				n = ipOff + int(arg)%(n-ipOff+1) // truncated
			}
			w.now += int64(arg) * 1e8
			w.handle(cfg, buf[:n])
			if w.frags != nil && w.frags.len(w.now) > fragSlots {
				t.Fatal("fragment table over its bound")
			}
		}
	})
}

// BenchmarkForwardFragments forwards a 3000-byte UDP datagram a1 → b1 in
// three fragments per iteration.
func BenchmarkForwardFragments(b *testing.B) {
	w, cfg, frags, _ := fragWorker(b)
	buf := make([]byte, MaxFrame)
	b.ReportAllocs()
	for b.Loop() {
		for _, f := range frags {
			copy(buf, f)
			w.handle(cfg, buf[:len(f)])
		}
	}
}
