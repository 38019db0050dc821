package nat

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/vpcnet/vpcnet/dataplane/header"
)

// checks records which checksums of a packet verify: the IPv4 header, the
// L4 part (full, or partial: the field holds the pseudo-header sum; only for
// an unfragmented packet), and for an ICMP error the quoted IPv4 header and,
// when the quoted packet is complete, its L4 checksum.
type checks struct{ ip, l4, qip, ql4 bool }

func checkAll(p []byte, partial bool) checks {
	var c checks
	ihl, ip, ok := ipv4Bounds(p)
	if !ok {
		return c
	}
	c.ip = ipHeaderOK(ip)
	if binary.BigEndian.Uint16(ip[6:])&0x3fff != 0 { // fragment
		return c
	}
	l4 := ip[ihl:]
	switch ip[9] {
	case header.ProtoTCP, header.ProtoUDP:
		if len(l4) < 8 || (ip[9] == header.ProtoTCP && len(l4) < 20) {
			return c
		}
		if partial {
			c.l4 = partialOK(ip)
		} else {
			c.l4 = l4OK(ip)
		}
	case header.ProtoICMP:
		if len(l4) < 8 {
			return c
		}
		c.l4 = !partial && l4OK(ip)
		if isICMPError(l4[0]) {
			q := l4[8:]
			qhl, qip, ok := ipv4Bounds(q)
			if ok && qhl > 0 {
				c.qip = ipHeaderOK(qip)
				if binary.BigEndian.Uint16(qip[6:])&0x3fff == 0 && len(qip) == len(q) {
					c.ql4 = l4OK(qip)
				}
			}
		}
	}
	return c
}

// fixup makes data a well-formed packet of protocol proto with valid
// checksums (partial: the pseudo-header sum), optionally an ICMP error
// quoting a well-formed packet.
func fixup(data []byte, proto uint8, partial, quote bool) []byte {
	if len(data) < 48 {
		data = append(data, make([]byte, 48-len(data))...)
	}
	data = data[:min(len(data), 1500)]
	p := data
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	binary.BigEndian.PutUint16(p[6:], 0)
	p[9] = proto
	l4 := p[20:]
	switch proto {
	case header.ProtoUDP:
		binary.BigEndian.PutUint16(l4[4:], uint16(len(l4)))
	case header.ProtoTCP:
		l4[12] = 5 << 4
	case header.ProtoICMP:
		if quote && len(l4) >= 8+48 {
			l4[0] = header.ICMPDestUnreach
			fixup(l4[8:], []uint8{header.ProtoTCP, header.ProtoUDP, header.ProtoICMP}[l4[1]%3], false, false)
		}
	}
	header.IPv4(p).SetChecksum(0)
	header.IPv4(p).SetChecksum(header.IPv4(p).ComputeChecksum())
	off := l4CsumOff(proto)
	binary.BigEndian.PutUint16(l4[off:], 0)
	makePartial(p)
	if !partial {
		complete(p)
	}
	return p
}

// gpChecks is what gopacket alone says of a packet's checksums, in the
// shape of checks: known says which parts gopacket can judge (it decodes
// them with layers.IPv4 and layers.TCP/UDP/ICMPv4, they lie within the
// packet, and gopacket's definition of the checksum is checkAll's), ok
// which of those verify. Every checksum is compared with the one gopacket
// computes itself over the same bytes; the project's checksum code is not
// used, except complete, standing for the NIC, to turn a partial TCP/UDP
// checksum into a full one that gopacket then verifies.
type gpChecks struct{ known, ok checks }

func gpCheckAll(p []byte, partial bool) gpChecks {
	var g gpChecks
	ip, known, ok := gpIPv4(p)
	if ip == nil {
		return g
	}
	g.known.ip, g.ok.ip = known, ok
	if ip.Flags&layers.IPv4MoreFragments != 0 || ip.FragOffset != 0 {
		return g
	}
	switch ip.Protocol {
	case layers.IPProtocolTCP, layers.IPProtocolUDP:
		if !partial {
			g.known.l4, g.ok.l4 = gpL4(ip)
			break
		}
		// The field holds the pseudo-header sum: gopacket verifies what
		// the NIC makes of it.
		if !gpDecodes(ip) {
			break
		}
		c := append([]byte(nil), p[:ip.Length]...)
		complete(c)
		if cip, _, _ := gpIPv4(c); cip != nil {
			g.known.l4, g.ok.l4 = gpL4(cip)
		}
	case layers.IPProtocolICMPv4:
		var ic layers.ICMPv4
		if ic.DecodeFromBytes(ip.Payload, gopacket.NilDecodeFeedback) != nil {
			break
		}
		if !partial { // a partial ICMP checksum is not judged (checkAll)
			g.known.l4, g.ok.l4 = gpL4(ip)
		}
		if !isICMPError(ic.TypeCode.Type()) {
			break
		}
		q := ic.Payload
		qip, known, ok := gpIPv4(q)
		if qip == nil {
			break
		}
		g.known.qip, g.ok.qip = known, ok
		if qip.Flags&layers.IPv4MoreFragments == 0 && qip.FragOffset == 0 && int(qip.Length) == len(q) {
			g.known.ql4, g.ok.ql4 = gpL4(qip)
		}
	}
	return g
}

// gpIPv4 decodes the IPv4 header of p with gopacket; nil if it does not
// decode or its total length is 0 or exceeds p. known: the header
// serializes back to the same bytes (so gopacket's checksum covers exactly
// them); ok: its checksum is the one gopacket computes.
func gpIPv4(p []byte) (ip *layers.IPv4, known, ok bool) {
	ip = &layers.IPv4{}
	// (A total length of 0 is taken by gopacket for "the whole buffer", as
	// TSO frames have it; in a rewrite it is a bad length.)
	if err := ip.DecodeFromBytes(p, gopacket.NilDecodeFeedback); err != nil || ip.Version != 4 ||
		int(ip.Length) > len(p) || binary.BigEndian.Uint16(p[2:]) != ip.Length {
		return nil, false, false
	}
	re := *ip
	buf := gopacket.NewSerializeBuffer()
	if err := re.SerializeTo(buf, gopacket.SerializeOptions{ComputeChecksums: true}); err != nil {
		return ip, false, false
	}
	if !sameExceptChecksum(buf.Bytes(), ip.Contents, 10) {
		return ip, false, false
	}
	return ip, true, csumMatch(ip.Checksum, re.Checksum)
}

// gpDecodes reports whether ip's TCP or UDP header decodes with gopacket.
func gpDecodes(ip *layers.IPv4) bool {
	if ip.Protocol == layers.IPProtocolTCP {
		return (&layers.TCP{}).DecodeFromBytes(ip.Payload, gopacket.NilDecodeFeedback) == nil
	}
	return (&layers.UDP{}).DecodeFromBytes(ip.Payload, gopacket.NilDecodeFeedback) == nil
}

// gpL4 judges the full TCP, UDP or ICMPv4 checksum of ip's payload with
// gopacket. A UDP datagram whose length field is not the IP payload's is
// not judged (gopacket sums what the UDP length says, checkAll what the IP
// length says); a UDP checksum of 0 means none and verifies.
func gpL4(ip *layers.IPv4) (known, ok bool) {
	pl := ip.Payload
	opts := gopacket.SerializeOptions{ComputeChecksums: true}
	buf := gopacket.NewSerializeBuffer()
	switch ip.Protocol {
	case layers.IPProtocolTCP:
		var tcp layers.TCP
		if tcp.DecodeFromBytes(pl, gopacket.NilDecodeFeedback) != nil {
			return false, false
		}
		// Options need not serialize back unchanged: sum the header as
		// it is, its checksum field zeroed.
		tcp.Contents = append([]byte(nil), tcp.Contents...)
		tcp.Contents[16], tcp.Contents[17] = 0, 0
		if tcp.SetNetworkLayerForChecksum(ip) != nil {
			return false, false
		}
		c, err := tcp.ComputeChecksum()
		return err == nil, err == nil && csumMatch(tcp.Checksum, c)
	case layers.IPProtocolUDP:
		var udp layers.UDP
		if udp.DecodeFromBytes(pl, gopacket.NilDecodeFeedback) != nil || int(udp.Length) != len(pl) {
			return false, false
		}
		if udp.Checksum == 0 {
			return true, true
		}
		re := udp
		if re.SetNetworkLayerForChecksum(ip) != nil || gopacket.SerializeLayers(buf, opts, &re, gopacket.Payload(udp.Payload)) != nil ||
			!sameExceptChecksum(buf.Bytes(), pl, 6) {
			return false, false
		}
		return true, csumMatch(udp.Checksum, re.Checksum)
	case layers.IPProtocolICMPv4:
		var ic layers.ICMPv4
		if ic.DecodeFromBytes(pl, gopacket.NilDecodeFeedback) != nil {
			return false, false
		}
		re := ic
		if gopacket.SerializeLayers(buf, opts, &re, gopacket.Payload(ic.Payload)) != nil || !sameExceptChecksum(buf.Bytes(), pl, 2) {
			return false, false
		}
		return true, csumMatch(ic.Checksum, re.Checksum)
	}
	return false, false
}

// sameExceptChecksum compares a with b but for the 16-bit checksum at off.
func sameExceptChecksum(a, b []byte, off int) bool {
	return len(a) == len(b) && bytes.Equal(a[:off], b[:off]) && bytes.Equal(a[off+2:], b[off+2:])
}

// csumMatch: a stored checksum verifies against the computed one; 0xffff
// and 0 are the same one's complement number, and gopacket computes 0.
func csumMatch(stored, computed uint16) bool {
	return stored == computed || stored == 0xffff && computed == 0
}

// gpAgree fails t where gopacket can judge a checksum and disagrees with
// checkAll about it.
func gpAgree(t *testing.T, what string, p []byte, c checks, g gpChecks) {
	t.Helper()
	for _, f := range []struct {
		name            string
		known, ok, mine bool
	}{
		{"IPv4 header", g.known.ip, g.ok.ip, c.ip}, {"L4", g.known.l4, g.ok.l4, c.l4},
		{"quoted IPv4 header", g.known.qip, g.ok.qip, c.qip}, {"quoted L4", g.known.ql4, g.ok.ql4, c.ql4},
	} {
		if f.known && f.ok != f.mine {
			t.Fatalf("%s: %s checksum: gopacket says %v, checkAll %v\n% x", what, f.name, f.ok, f.mine, p)
		}
	}
}

// FuzzRewrite: any bytes, any address, port and mode: no panic, nothing
// changed when refused, and every checksum that verified before verifies
// after, by the project's checks and by gopacket's own computation (which
// must agree with them wherever gopacket can judge). With fix set, the input
// is first made into a valid packet so that the property is exercised on
// every run: then the output must decode with gopacket as IPv4 and
// TCP/UDP/ICMPv4 carrying the new address (and port or ICMP id), with an
// IPv4 and an L4 checksum that gopacket verifies; a partial (NEEDS_CSUM)
// output must hold the pseudo-header sum and verify once completed.
func FuzzRewrite(f *testing.F) {
	f.Add([]byte("0123456789abcdefghijklmnopqrstuvwxyz0123456789ab"), uint32(0x36000001), uint16(1024), uint8(0), uint8(6), true)
	f.Add(tcpPkt(f, ap("10.0.1.5:40000"), remote, header.TCPAck, []byte("x")), uint32(0x0a000009), uint16(65535), uint8(1), uint8(6), false)
	f.Add(udpPkt(f, ap("10.0.1.5:5353"), ap("8.8.8.8:53"), nil), uint32(0), uint16(0), uint8(7), uint8(17), false)
	f.Add(icmpErr(f, ad("1.2.3.4"), natA, 3, 3, udpPkt(f, ap("10.0.0.9:3000"), ap("8.8.8.8:53"), []byte("q")), 0), uint32(0x0a000105), uint16(5353), uint8(2), uint8(1), false)
	f.Add(icmpPkt(f, ad("10.0.1.5"), ad("1.1.1.1"), header.ICMPEcho, 1, nil), uint32(7), uint16(2), uint8(4), uint8(1), true)
	f.Add(make([]byte, 120), uint32(0xc0a80001), uint16(80), uint8(14), uint8(1), true) // ICMP error quoting a fixed-up packet, partial
	f.Fuzz(func(t *testing.T, data []byte, addr uint32, port uint16, mode uint8, proto uint8, fix bool) {
		partial, src, setPort := mode&1 != 0, mode&2 != 0, mode&4 != 0
		if fix {
			proto = []uint8{header.ProtoTCP, header.ProtoUDP, header.ProtoICMP, header.ProtoICMP}[proto%4]
			data = fixup(append([]byte(nil), data...), proto, partial, mode&8 != 0)
		}
		p := append([]byte(nil), data...)
		before, gpBefore := checkAll(p, partial), gpCheckAll(p, partial)
		gpAgree(t, "input", p, before, gpBefore)
		if fix && !(gpBefore.ok.ip && (gpBefore.ok.l4 || partial && proto == header.ProtoICMP)) {
			t.Fatalf("fixup made a packet gopacket does not verify: %+v % x", gpBefore, p)
		}
		var a [4]byte
		binary.BigEndian.PutUint32(a[:], addr)
		ok := rewrite(p, src, a, port, setPort, partial)
		if !ok {
			if !bytes.Equal(p, data) {
				t.Fatal("refused but changed")
			}
			return
		}
		after, gpAfter := checkAll(p, partial), gpCheckAll(p, partial)
		if (before.ip && !after.ip) || (before.l4 && !after.l4) || (before.qip && !after.qip) || (before.ql4 && !after.ql4) {
			t.Fatalf("checksums before %+v after %+v\nin  % x\nout % x", before, after, data, p)
		}
		gpAgree(t, "output", p, after, gpAfter)
		for _, f := range []struct {
			name   string
			b, a   bool
			bk, ak bool
		}{
			{"IPv4 header", gpBefore.ok.ip, gpAfter.ok.ip, gpBefore.known.ip, gpAfter.known.ip},
			{"L4", gpBefore.ok.l4, gpAfter.ok.l4, gpBefore.known.l4, gpAfter.known.l4},
			{"quoted IPv4 header", gpBefore.ok.qip, gpAfter.ok.qip, gpBefore.known.qip, gpAfter.known.qip},
			{"quoted L4", gpBefore.ok.ql4, gpAfter.ok.ql4, gpBefore.known.ql4, gpAfter.known.ql4},
		} {
			if f.bk && f.b && !(f.ak && f.a) {
				t.Fatalf("gopacket: the %s checksum verified before the rewrite, not after\nin  % x\nout % x", f.name, data, p)
			}
		}
		if fix {
			if !(after.ip && (after.l4 || partial && proto == header.ProtoICMP)) {
				t.Fatalf("fixed-up packet invalid after rewrite: %+v % x", after, p)
			}
			gpFixed(t, p, a, src, setPort, port, partial)
		}
		off := 16
		if src {
			off = 12
		}
		if netip.AddrFrom4([4]byte(p[off:off+4])) != netip.AddrFrom4(a) {
			t.Fatal("address not set")
		}
		// BuildRST must not panic on whatever came out.
		BuildRST(make([]byte, RSTLen), p)
	})
}

// gpFixed checks a rewritten fixed-up packet with gopacket alone: it
// decodes as IPv4 and TCP, UDP or ICMPv4 without error, shows the new
// address (and port, or the ICMP query id), and its checksums verify; a
// partial one after the NIC's completion.
func gpFixed(t *testing.T, p []byte, a [4]byte, src, setPort bool, port uint16, partial bool) {
	t.Helper()
	full := p
	if partial {
		full = append([]byte(nil), p...)
		complete(full)
	}
	g := gpCheckAll(full, false)
	if !(g.known.ip && g.ok.ip && g.known.l4 && g.ok.l4) {
		t.Fatalf("gopacket does not verify the rewritten packet (partial %v): %+v\n% x", partial, g, p)
	}
	pk := gopacket.NewPacket(p, layers.LayerTypeIPv4, gopacket.DecodeOptions{NoCopy: true, Lazy: false})
	ip, _ := pk.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if ip == nil {
		t.Fatalf("gopacket: no IPv4 layer: %v", pk)
	}
	got := ip.DstIP
	if src {
		got = ip.SrcIP
	}
	if !got.Equal(net.IP(a[:])) {
		t.Fatalf("gopacket reads %v, want %v (source: %v)", got, net.IP(a[:]), src)
	}
	var sp, dp uint16
	switch l := pk.Layer(ip.Protocol.LayerType()).(type) {
	case *layers.TCP:
		sp, dp = uint16(l.SrcPort), uint16(l.DstPort)
	case *layers.UDP:
		sp, dp = uint16(l.SrcPort), uint16(l.DstPort)
	case *layers.ICMPv4:
		if !header.IsQuery(l.TypeCode.Type()) {
			return
		}
		sp, dp = l.Id, l.Id
	default:
		t.Fatalf("gopacket: no %v layer: %v", ip.Protocol, pk)
	}
	if src {
		dp = sp
	}
	if setPort && dp != port {
		t.Fatalf("gopacket reads port/id %d, want %d (source: %v)", dp, port, src)
	}
}

// TestGopacketChecksCatchErrors: the gopacket checks of FuzzRewrite can
// fail: a valid packet verifies, and one wrong bit in a checksum field, an
// address or (full checksums only) the payload, outer or quoted, makes it
// fail, with full and with partial checksums.
func TestGopacketChecksCatchErrors(t *testing.T) {
	quoted := tcpPkt(t, ap("10.0.0.9:3000"), ap("8.8.8.8:80"), header.TCPSyn, []byte("hello"))
	for _, c := range []struct {
		name string
		pkt  []byte
		want checks
	}{
		{"tcp", tcpPkt(t, ap("10.0.1.5:40000"), remote, header.TCPAck, []byte("payload")), checks{ip: true, l4: true}},
		{"udp", udpPkt(t, ap("10.0.1.5:5353"), ap("8.8.8.8:53"), []byte("query")), checks{ip: true, l4: true}},
		{"icmp echo", icmpPkt(t, ad("10.0.1.5"), ad("1.1.1.1"), header.ICMPEcho, 7, []byte("ping")), checks{ip: true, l4: true}},
		{"icmp error", icmpErr(t, ad("1.2.3.4"), natA, 3, 3, quoted, 0), checks{ip: true, l4: true, qip: true, ql4: true}},
	} {
		for _, partial := range []bool{false, true} {
			p := append([]byte(nil), c.pkt...)
			want := c.want
			if partial {
				makePartial(p)
				want.l4 = want.l4 && p[9] != header.ProtoICMP // not judged
			}
			g := gpCheckAll(p, partial)
			if g.known != want || g.ok != want {
				t.Fatalf("%s partial=%v: valid packet: %+v, want all of %+v", c.name, partial, g, want)
			}
			ihl := int(p[0]&0xf) * 4
			flips := map[string]int{"IPv4 checksum": 10, "source address": 13}
			if !partial { // a partial checksum does not cover the payload yet
				flips["last payload byte"] = len(p) - 1
			}
			if want.l4 {
				flips["L4 checksum"] = ihl + l4CsumOff(p[9]) + 1
			}
			if want.qip {
				flips["quoted IPv4 checksum"] = ihl + 8 + 10
				flips["quoted TCP checksum"] = ihl + 8 + 20 + header.TCPChecksumOffset
			}
			for what, off := range flips {
				bad := append([]byte(nil), p...)
				bad[off] ^= 0x10
				gb := gpCheckAll(bad, partial)
				if gb.ok == want {
					t.Errorf("%s partial=%v: flipping a bit of the %s went unnoticed: %+v", c.name, partial, what, gb)
				}
			}
		}
	}
}

// FuzzGateway: random packets (some truncated, some partial, some non-first
// fragments with a right or wrong FirstFragment) in both directions at
// random times never panic, OK packets keep a valid IPv4 header, SendRST is
// only given for packets BuildRST can answer, and fragments never open a
// connection. The
// semantics are checked by TestNATReferenceModel.
func FuzzGateway(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{2, 0, 0, 0, 34, 0, 0, 0, 5, 0, 0, 0, 37, 0, 0, 0, 3, 0, 0, 0, 35, 0, 0, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		g := NewGateway(Config{Addrs: []netip.Addr{natA, natB}, PortMin: 5000, PortMax: 5007, MaxPerDestination: 3,
			IdleTimeout: 100, ClosedTimeout: 10, TimeWaitTimeout: 10, ExpiredRetention: 30, Seed: 1})
		var now int64
		for len(ops) >= 4 {
			op, a, b, c := ops[0], ops[1], ops[2], ops[3]
			ops = ops[4:]
			local := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 1, a & 3}), uint16(1000+int(b&3)))
			rem := netip.AddrPortFrom(netip.AddrFrom4([4]byte{1, 1, 1, a >> 6}), uint16(80+int(b>>6)))
			natp := netip.AddrPortFrom([]netip.Addr{natA, natB}[c&1], uint16(5000+int(c>>5)))
			var p []byte
			switch op % 8 {
			case 0, 1:
				p = tcpPkt(t, local, rem, c&0x1f, nil)
			case 2:
				p = udpPkt(t, local, rem, nil)
			case 3:
				p = icmpPkt(t, local.Addr(), rem.Addr(), []uint8{8, 0, 13, 3}[c&3], local.Port(), nil)
			case 4:
				p = tcpPkt(t, rem, natp, c&0x1f, nil)
			case 5:
				p = udpPkt(t, rem, natp, nil)
			case 6:
				p = icmpPkt(t, rem.Addr(), natp.Addr(), []uint8{0, 8, 14, 3}[c&3], natp.Port(), nil)
			case 7:
				now += int64(b)
				g.Sweep(now)
				continue
			}
			partial := op&8 != 0 && p[9] != header.ProtoICMP
			if partial {
				makePartial(p)
			}
			// A non-first fragment, with what its first fragment might
			// have shown (right or wrong).
			frag := op&32 != 0
			var first FirstFragment
			if frag {
				partial = false
				binary.BigEndian.PutUint16(p[6:], uint16(b&7+1)|uint16(op&64)<<7) // offset, MF
				header.IPv4(p).SetChecksum(header.IPv4(p).ComputeChecksum())
				first = FirstFragment{SrcPort: local.Port(), DstPort: rem.Port(), ICMPType: []uint8{8, 0, 3, 5}[a&3], ICMPID: natp.Port()}
				if op&4 != 0 {
					first.SrcPort, first.DstPort = rem.Port(), natp.Port()
				}
			}
			if op&16 != 0 {
				p = p[:int(c)%len(p)] // truncated garbage
			}
			var v Verdict
			attempts := g.Stats().ConnectionAttemptCount
			switch {
			case frag && op%8 < 4:
				v, _ = g.OutboundFragment(p, first, now)
			case frag:
				v, _ = g.InboundFragment(p, first, now)
			case op%8 < 4:
				v = g.Outbound(p, partial, now)
			default:
				v = g.Inbound(p, partial, now)
			}
			if frag && (v == SendRST || g.Stats().ConnectionAttemptCount != attempts) {
				t.Fatalf("a non-first fragment got %v or opened a connection", v)
			}
			if v == OK {
				if op&16 != 0 && len(p) < 20 {
					t.Fatal("OK for a truncated packet")
				}
				if !ipHeaderOK(p) {
					t.Fatal("IPv4 checksum")
				}
			}
			if v == SendRST && BuildRST(make([]byte, RSTLen), p) != RSTLen {
				t.Fatal("SendRST for a packet BuildRST cannot answer")
			}
		}
		st := g.Stats()
		if st.ActiveConnectionCount > 2*3*2*4*3 {
			t.Fatalf("too many connections %+v", st)
		}
	})
}
