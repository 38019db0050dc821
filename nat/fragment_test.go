package nat

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/vpcnet/vpcnet/dataplane/header"
)

// fragment splits an unfragmented IPv4 packet into fragments of at most n
// payload bytes (n a multiple of 8), as a sender's kernel does: the same
// header with MF on all but the last, the offset, the total length and the
// header checksum set.
func fragment(tb testing.TB, pkt []byte, n int) [][]byte {
	tb.Helper()
	if n%8 != 0 {
		tb.Fatal("fragment size must be a multiple of 8")
	}
	ihl := int(pkt[0]&0x0f) * 4
	payload := pkt[ihl:]
	var out [][]byte
	for off := 0; off < len(payload); off += n {
		end := min(off+n, len(payload))
		f := append(append([]byte(nil), pkt[:ihl]...), payload[off:end]...)
		binary.BigEndian.PutUint16(f[2:], uint16(len(f)))
		fo := uint16(off / 8)
		if end < len(payload) {
			fo |= 0x2000 // MF
		}
		binary.BigEndian.PutUint16(f[6:], fo)
		header.IPv4(f).SetChecksum(header.IPv4(f).ComputeChecksum())
		out = append(out, f)
	}
	return out
}

// reassemble joins fragments (in order) into the datagram they carry.
func reassemble(frags [][]byte) []byte {
	ihl := int(frags[0][0]&0x0f) * 4
	re := append([]byte(nil), frags[0]...)
	for _, f := range frags[1:] {
		re = append(re, f[ihl:]...)
	}
	binary.BigEndian.PutUint16(re[2:], uint16(len(re)))
	binary.BigEndian.PutUint16(re[6:], 0)
	header.IPv4(re).SetChecksum(header.IPv4(re).ComputeChecksum())
	return re
}

// firstOf returns what the first fragment of a TCP/UDP/ICMP datagram shows.
func firstOf(first []byte) FirstFragment {
	ip := header.IPv4(first)
	l4 := first[ip.HeaderLen():]
	if ip.Protocol() == header.ProtoICMP {
		return FirstFragment{ICMPType: l4[0], ICMPID: binary.BigEndian.Uint16(l4[4:])}
	}
	return FirstFragment{SrcPort: binary.BigEndian.Uint16(l4), DstPort: binary.BigEndian.Uint16(l4[2:])}
}

// TestNAT2_FragmentsTranslatedLikeTheirFirst: every fragment of a UDP
// datagram and of an ICMP echo (ping -s 3000) leaves with the NAT address
// its first fragment got, the reply's fragments come back to the instance,
// and each reassembled datagram's L4 checksum verifies: non-first fragments
// change only their IPv4 header.
func TestNAT2_FragmentsTranslatedLikeTheirFirst(t *testing.T) {
	inst, host := ad("10.0.1.5"), ad("203.0.113.80")
	big := func(c byte) []byte { return bytes.Repeat([]byte{c}, 3000) }
	for _, c := range []struct {
		name string
		out  []byte                          // the instance's datagram
		back func(nat netip.AddrPort) []byte // the remote's reply to the NAT side
	}{{
		name: "udp",
		out:  udpPkt(t, ap("10.0.1.5:40000"), ap("203.0.113.80:9000"), big('u')),
		back: func(n netip.AddrPort) []byte { return udpPkt(t, ap("203.0.113.80:9000"), n, big('r')) },
	}, {
		name: "icmp echo",
		out:  icmpPkt(t, inst, host, header.ICMPEcho, 77, big('p')),
		back: func(n netip.AddrPort) []byte {
			return icmpPkt(t, host, n.Addr(), header.ICMPEchoReply, n.Port(), big('p'))
		},
	}} {
		t.Run(c.name, func(t *testing.T) {
			g := NewGateway(Config{Addrs: []netip.Addr{natA}, Seed: 1})
			orig := c.out
			frags := fragment(t, orig, 1480)
			if len(frags) != 3 {
				t.Fatalf("%d fragments", len(frags))
			}
			first := firstOf(frags[0])
			if v := g.Outbound(frags[0], false, sec); v != OK {
				t.Fatalf("first fragment: %v", v)
			}
			nat := natSrc(frags[0])
			for i, f := range frags[1:] {
				v, port := g.OutboundFragment(f, first, sec)
				if v != OK || port != nat.Port() || header.IPv4(f).Src() != natA || !ipHeaderOK(f) {
					t.Fatalf("fragment %d: %v port %d src %v, want OK %v", i+1, v, port, header.IPv4(f).Src(), nat)
				}
			}
			if re := reassemble(frags); !l4OK(re) || natSrc(re) != nat {
				t.Fatalf("reassembled datagram: source %v, checksum ok %v", natSrc(re), l4OK(re))
			}

			rfrags := fragment(t, c.back(nat), 1480)
			rfirst := firstOf(rfrags[0])
			if v := g.Inbound(rfrags[0], false, 2*sec); v != OK {
				t.Fatalf("reply's first fragment: %v", v)
			}
			_, _, sport, _ := fields(orig)
			for i, f := range rfrags[1:] {
				v, port := g.InboundFragment(f, rfirst, 2*sec)
				if v != OK || port != sport || header.IPv4(f).Dst() != inst || !ipHeaderOK(f) {
					t.Fatalf("reply fragment %d: %v port %d dst %v", i+1, v, port, header.IPv4(f).Dst())
				}
			}
			re := reassemble(rfrags)
			if _, d, _, dp := fields(re); !l4OK(re) || d != inst || dp != sport {
				t.Fatalf("reassembled reply to %v:%d, checksum ok %v", d, dp, l4OK(re))
			}
			st := g.Stats()
			if st.PacketsOutToDestination != 3 || st.PacketsOutToSource != 3 || st.ConnectionAttemptCount != 1 || st.PacketsDropCount != 0 {
				t.Fatalf("NAT-6 counters: %+v", st)
			}
		})
	}
}

// TestNAT5_FragmentsNeverOpenConnections: a non-first fragment whose
// connection does not exist is dropped as unsolicited and opens nothing,
// either way; one without a FirstFragment is named nat-non-first-fragment;
// fragments of ICMP errors cannot be translated; a first fragment is not a
// non-first one.
func TestNAT5_FragmentsNeverOpenConnections(t *testing.T) {
	g := NewGateway(Config{Addrs: []netip.Addr{natA}, Seed: 1})
	out := fragment(t, udpPkt(t, ap("10.0.1.5:40000"), ap("203.0.113.80:9000"), make([]byte, 100)), 64)
	in := fragment(t, udpPkt(t, ap("203.0.113.80:9000"), netip.AddrPortFrom(natA, 5555), make([]byte, 100)), 64)
	tcp := fragment(t, tcpPkt(t, ap("10.0.1.5:40001"), ap("203.0.113.80:80"), header.TCPAck, make([]byte, 100)), 64)
	if v, _ := g.OutboundFragment(out[1], firstOf(out[0]), sec); v != DropUnsolicited {
		t.Errorf("outbound fragment of no connection: %v", v)
	}
	if v, _ := g.InboundFragment(in[1], firstOf(in[0]), sec); v != DropUnsolicited {
		t.Errorf("inbound fragment of no connection: %v", v)
	}
	if v, _ := g.OutboundFragment(tcp[1], firstOf(tcp[0]), sec); v != DropUnsolicited {
		t.Errorf("TCP fragment of no connection: %v, want no RST (it has no TCP header)", v)
	}
	if v := g.Outbound(out[1], false, sec); v != DropFragment || v.String() != "nat-non-first-fragment" {
		t.Errorf("non-first fragment through Outbound: %v", v)
	}
	if v, _ := g.OutboundFragment(out[0], firstOf(out[0]), sec); v != DropMalformed {
		t.Errorf("first fragment through OutboundFragment: %v", v)
	}
	icmpErrFrags := fragment(t, icmpErr(t, ad("10.0.1.5"), ad("203.0.113.80"), header.ICMPDestUnreach, 3,
		udpPkt(t, ap("203.0.113.80:9000"), ap("10.0.1.5:40000"), make([]byte, 200)), 0), 64)
	if v, _ := g.OutboundFragment(icmpErrFrags[1], firstOf(icmpErrFrags[0]), sec); v != DropFragment {
		t.Errorf("fragment of an ICMP error: %v", v)
	}
	redirect := fragment(t, icmpPkt(t, ad("10.0.1.5"), ad("203.0.113.80"), 5, 0, make([]byte, 100)), 64)
	if v, _ := g.OutboundFragment(redirect[1], firstOf(redirect[0]), sec); v != DropProtocol {
		t.Errorf("fragment of an ICMP redirect: %v (NAT-2)", v)
	}
	if st := g.Stats(); st.ActiveConnectionCount != 0 || st.ConnectionAttemptCount != 0 {
		t.Fatalf("fragments opened connections: %+v", st)
	}
}

// TestNATFragmentAllocs: translating a non-first fragment allocates nothing.
func TestNATFragmentAllocs(t *testing.T) {
	g := NewGateway(Config{Addrs: []netip.Addr{natA}, Seed: 1})
	frags := fragment(t, udpPkt(t, ap("10.0.1.5:40000"), ap("203.0.113.80:9000"), make([]byte, 3000)), 1480)
	if g.Outbound(frags[0], false, sec) != OK {
		t.Fatal("first fragment")
	}
	first := FirstFragment{SrcPort: 40000, DstPort: 9000}
	tmpl := append([]byte(nil), frags[1]...)
	buf := make([]byte, len(tmpl))
	if n := testing.AllocsPerRun(1000, func() {
		copy(buf, tmpl)
		if v, _ := g.OutboundFragment(buf, first, sec); v != OK {
			t.Fatal(v)
		}
	}); n != 0 {
		t.Fatalf("OutboundFragment allocates %.1f per packet", n)
	}
}
