package nat

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/vpcnet/vpcnet/dataplane/header"
)

// fields returns (src, dst, sport, dport) of a TCP/UDP packet, or the ICMP
// id as both ports.
func fields(ip []byte) (netip.Addr, netip.Addr, uint16, uint16) {
	v := header.IPv4(ip)
	l4 := ip[v.HeaderLen():]
	if v.Protocol() == header.ProtoICMP {
		id := binary.BigEndian.Uint16(l4[4:])
		return v.Src(), v.Dst(), id, id
	}
	return v.Src(), v.Dst(), binary.BigEndian.Uint16(l4), binary.BigEndian.Uint16(l4[2:])
}

// TestRewriteChecksums checks every rewrite on TCP, UDP (with and without a
// checksum) and ICMP queries, with full and partial checksums, against a
// fresh checksum computation (IGW-1, NAT-2).
func TestRewriteChecksums(t *testing.T) {
	payload := []byte("hello, vpc! odd length")
	builds := map[string]func() []byte{
		"tcp": func() []byte {
			return tcpPkt(t, ap("10.0.1.5:40000"), ap("93.184.216.34:443"), header.TCPAck|header.TCPPsh, payload)
		},
		"tcp-syn": func() []byte {
			return tcpPkt(t, ap("10.0.1.5:65535"), ap("93.184.216.34:80"), header.TCPSyn, nil)
		},
		"udp": func() []byte { return udpPkt(t, ap("10.0.1.5:5353"), ap("8.8.8.8:53"), payload) },
		"udp-nocsum": func() []byte {
			p := udpPkt(t, ap("10.0.1.5:5353"), ap("8.8.8.8:53"), payload)
			binary.BigEndian.PutUint16(p[20+6:], 0)
			return p
		},
		"icmp-echo":  func() []byte { return icmpPkt(t, ad("10.0.1.5"), ad("1.1.1.1"), header.ICMPEcho, 77, payload) },
		"icmp-reply": func() []byte { return icmpPkt(t, ad("1.1.1.1"), ad("10.0.1.5"), header.ICMPEchoReply, 0xffff, payload) },
	}
	targets := []struct {
		addr netip.Addr
		port uint16
	}{
		{ad("54.1.2.3"), 1024}, {ad("255.255.255.255"), 0xffff}, {ad("0.0.0.0"), 0},
		{ad("10.0.1.5"), 40000}, // unchanged address
		{ad("172.31.0.9"), 5353},
	}
	for name, build := range builds {
		for _, partial := range []bool{false, true} {
			for _, tg := range targets {
				for _, op := range []string{"src", "dst", "srcaddr", "dstaddr"} {
					t.Run(fmt.Sprintf("%s/partial=%v/%s/%v:%d", name, partial, op, tg.addr, tg.port), func(t *testing.T) {
						p := build()
						if partial {
							makePartial(p)
						}
						before := append([]byte(nil), p...)
						s0, d0, sp0, dp0 := fields(p)
						var ok bool
						switch op {
						case "src":
							ok = RewriteSrc(p, tg.addr, tg.port, partial)
						case "dst":
							ok = RewriteDst(p, tg.addr, tg.port, partial)
						case "srcaddr":
							ok = RewriteSrcAddr(p, tg.addr, partial)
						case "dstaddr":
							ok = RewriteDstAddr(p, tg.addr, partial)
						}
						if !ok {
							t.Fatal("rewrite refused a valid packet")
						}
						s, d, sp, dp := fields(p)
						ws, wd, wsp, wdp := s0, d0, sp0, dp0
						switch op {
						case "src":
							ws, wsp = tg.addr, tg.port
							if p[9] == header.ProtoICMP {
								wdp = tg.port
							}
						case "dst":
							wd, wdp = tg.addr, tg.port
							if p[9] == header.ProtoICMP {
								wsp = tg.port
							}
						case "srcaddr":
							ws = tg.addr
						case "dstaddr":
							wd = tg.addr
						}
						if s != ws || d != wd || sp != wsp || dp != wdp {
							t.Fatalf("got %v:%d > %v:%d, want %v:%d > %v:%d", s, sp, d, dp, ws, wsp, wd, wdp)
						}
						if name == "udp-nocsum" && binary.BigEndian.Uint16(p[26:]) != 0 && !partial {
							t.Fatal("UDP checksum 0 (none) was changed")
						}
						if !(name == "udp-nocsum" && partial) {
							mustCheck(t, p, partial)
						}
						// Payload untouched.
						n := len(p) - len(payload)
						if name != "tcp-syn" && !bytes.Equal(p[n:], before[n:]) {
							t.Fatal("payload changed")
						}
						// Unchanged fields produce an identical packet (up to the
						// one's complement -0 of a UDP checksum).
						if s == s0 && d == d0 && sp == sp0 && dp == dp0 && !bytes.Equal(p, before) && p[9] != header.ProtoUDP {
							t.Fatalf("no-op rewrite changed bytes:\n% x\n% x", before, p)
						}
					})
				}
			}
		}
	}
}

// TestRewritePartialPortUntouched: with a partial checksum, a port change
// leaves the pseudo-header sum alone; an address change moves it.
func TestRewritePartialPortUntouched(t *testing.T) {
	p := tcpPkt(t, ap("10.0.1.5:40000"), ap("93.184.216.34:443"), header.TCPAck, []byte("x"))
	makePartial(p)
	c0 := binary.BigEndian.Uint16(p[20+16:])
	RewriteSrc(p, ad("10.0.1.5"), 1234, true)
	if c := binary.BigEndian.Uint16(p[20+16:]); c != c0 {
		t.Fatalf("port change moved the partial sum %#x -> %#x", c0, c)
	}
	RewriteSrc(p, ad("10.0.1.6"), 1234, true)
	if c := binary.BigEndian.Uint16(p[20+16:]); c != pseudoSum(p) {
		t.Fatalf("partial sum %#x, want %#x", c, pseudoSum(p))
	}
}

// TestRewriteICMPError: rewriting an ICMP error also rewrites the quoted
// packet, whole or cut to 8 bytes of L4 (RFC 792), keeping the outer ICMP,
// quoted IPv4 and (when quoted) quoted L4 checksums right.
func TestRewriteICMPError(t *testing.T) {
	nat, priv := ap("10.0.0.9:3000"), ap("10.0.1.5:40000")
	remote := ap("93.184.216.34:53")
	router := ad("203.0.113.1")
	quotedPkts := map[string][]byte{
		"udp":  udpPkt(t, nat, remote, []byte("query")),
		"tcp":  tcpPkt(t, nat, remote, header.TCPSyn, nil),
		"ping": icmpPkt(t, nat.Addr(), remote.Addr(), header.ICMPEcho, nat.Port(), []byte("ping")),
	}
	for name, q := range quotedPkts {
		for _, cut := range []int{0, 28} {
			for _, typ := range []uint8{header.ICMPDestUnreach, header.ICMPTimeExceeded} {
				t.Run(fmt.Sprintf("%s/cut=%d/type=%d", name, cut, typ), func(t *testing.T) {
					// Inbound: the error about what the NAT sent goes back to
					// the instance.
					p := icmpErr(t, router, nat.Addr(), typ, 3, q, cut)
					if !RewriteDst(p, priv.Addr(), priv.Port(), false) {
						t.Fatal("refused")
					}
					mustCheck(t, p, false)
					inner := p[28:]
					if header.IPv4(p).Dst() != priv.Addr() || header.IPv4(inner).Src() != priv.Addr() {
						t.Fatalf("addresses not rewritten: % x", p)
					}
					if !ipHeaderOK(inner) {
						t.Fatal("quoted IPv4 checksum wrong")
					}
					_, _, sp, _ := fields(inner)
					if sp != priv.Port() {
						t.Fatalf("quoted port %d, want %d", sp, priv.Port())
					}
					if cut == 0 && !l4OK(inner) {
						t.Fatal("quoted L4 checksum wrong")
					}
					// A source rewrite of an error sets the quoted destination
					// (what an instance's error about a packet it received
					// needs on its way out).
					if !RewriteSrc(p, nat.Addr(), nat.Port(), false) {
						t.Fatal("refused")
					}
					// The outer source was the router; now it is the NAT.
					mustCheck(t, p, false)
					_, _, _, dp := fields(inner)
					if header.IPv4(inner).Dst() != nat.Addr() || header.IPv4(inner).Src() != priv.Addr() || dp != nat.Port() {
						t.Fatalf("quoted addresses % x", inner[:20])
					}
					if !ipHeaderOK(inner) || (cut == 0 && !l4OK(inner)) {
						t.Fatal("quoted checksums wrong after second rewrite")
					}
				})
			}
		}
	}
}

// TestRewriteFragments: a non-first fragment only gets its address
// rewritten; the first fragment's L4 checksum moves for the whole datagram.
func TestRewriteFragments(t *testing.T) {
	full := udpPkt(t, ap("10.0.1.5:5000"), ap("8.8.8.8:53"), bytes.Repeat([]byte("abcdefgh"), 8))
	// Split after 8+24 bytes of UDP.
	hdr := append([]byte(nil), full[:20]...)
	first := append(append([]byte(nil), hdr...), full[20:52]...)
	binary.BigEndian.PutUint16(first[2:], uint16(len(first)))
	binary.BigEndian.PutUint16(first[6:], 0x2000) // MF
	second := append(append([]byte(nil), hdr...), full[52:]...)
	binary.BigEndian.PutUint16(second[2:], uint16(len(second)))
	binary.BigEndian.PutUint16(second[6:], 32/8)
	for _, f := range [][]byte{first, second} {
		header.IPv4(f).SetChecksum(header.IPv4(f).ComputeChecksum())
	}
	payload2 := append([]byte(nil), second[20:]...)
	if !RewriteSrc(first, ad("54.0.0.1"), 1500, false) || !RewriteSrc(second, ad("54.0.0.1"), 1500, false) {
		t.Fatal("refused")
	}
	if !ipHeaderOK(first) || !ipHeaderOK(second) {
		t.Fatal("IPv4 checksum wrong")
	}
	if !bytes.Equal(second[20:], payload2) || header.IPv4(second).Src() != ad("54.0.0.1") {
		t.Fatal("non-first fragment: L4 bytes changed or address not set")
	}
	// Reassemble and check the UDP checksum of the datagram.
	re := append(append([]byte(nil), first[:20]...), first[20:]...)
	re = append(re, second[20:]...)
	binary.BigEndian.PutUint16(re[2:], uint16(len(re)))
	binary.BigEndian.PutUint16(re[6:], 0)
	if !l4OK(re) {
		t.Fatal("reassembled UDP checksum wrong")
	}
}

// TestRewriteRejects: malformed packets are refused untouched.
func TestRewriteRejects(t *testing.T) {
	good := tcpPkt(t, ap("10.0.1.5:1"), ap("1.2.3.4:2"), header.TCPAck, nil)
	cases := map[string]func([]byte) []byte{
		"short":          func(p []byte) []byte { return p[:19] },
		"ipv6":           func(p []byte) []byte { p[0] = 0x65; return p },
		"ihl<5":          func(p []byte) []byte { p[0] = 0x44; return p },
		"totlen>len":     func(p []byte) []byte { binary.BigEndian.PutUint16(p[2:], 100); return p },
		"truncated tcp":  func(p []byte) []byte { binary.BigEndian.PutUint16(p[2:], 30); return p },
		"totlen<ihl":     func(p []byte) []byte { binary.BigEndian.PutUint16(p[2:], 10); return p },
		"ihl>len(total)": func(p []byte) []byte { p[0] = 0x4f; return p },
	}
	for name, mut := range cases {
		t.Run(name, func(t *testing.T) {
			p := mut(append([]byte(nil), good...))
			before := append([]byte(nil), p...)
			if RewriteSrc(p, ad("9.9.9.9"), 9, false) || RewriteDstAddr(p, ad("9.9.9.9"), true) {
				t.Fatal("accepted")
			}
			if !bytes.Equal(p, before) {
				t.Fatal("changed")
			}
		})
	}
}

// TestRewriteMatchesGopacket: after a rewrite, gopacket recomputing all
// checksums from scratch produces the same bytes.
func TestRewriteMatchesGopacket(t *testing.T) {
	p := tcpPkt(t, ap("10.0.1.5:40000"), ap("93.184.216.34:443"), header.TCPAck, []byte("data"))
	RewriteSrc(p, ad("54.23.1.2"), 1025, false)
	RewriteDst(p, ad("10.9.8.7"), 8080, false)
	pk := gopacket.NewPacket(p, layers.LayerTypeIPv4, gopacket.Default)
	ip := pk.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	tc := pk.Layer(layers.LayerTypeTCP).(*layers.TCP)
	tc.SetNetworkLayerForChecksum(ip)
	fresh := serialize(t, ip, tc, gopacket.Payload(tc.Payload))
	if !bytes.Equal(fresh, p) {
		t.Fatalf("incremental:\n% x\nfresh:\n% x", p, fresh)
	}
}

// TestBuildRST: NAT-4 RST replies, RFC 9293 sequence numbers, checksums.
func TestBuildRST(t *testing.T) {
	buf := make([]byte, 64)
	// With ACK: seq = SEG.ACK, flags RST.
	p := tcpPkt(t, ap("10.0.1.5:40000"), ap("93.184.216.34:443"), header.TCPAck|header.TCPPsh, []byte("12345"))
	n := BuildRST(buf, p)
	if n != RSTLen {
		t.Fatalf("n=%d", n)
	}
	r := buf[:n]
	mustCheck(t, r, false)
	tc := header.TCP(r[20:])
	if header.IPv4(r).Src() != ad("93.184.216.34") || header.IPv4(r).Dst() != ad("10.0.1.5") ||
		tc.SrcPort() != 443 || tc.DstPort() != 40000 || tc.Flags() != header.TCPRst || tc.Seq() != 2000 {
		t.Fatalf("bad RST % x", r)
	}
	// Without ACK (a SYN with 0 bytes): seq 0, ACK = SEG.SEQ+1.
	p = tcpPkt(t, ap("10.0.1.5:40000"), ap("93.184.216.34:443"), header.TCPSyn, nil)
	n = BuildRST(buf, p)
	tc = header.TCP(buf[20:n])
	if tc.Flags() != header.TCPRst|header.TCPAck || tc.Seq() != 0 || tc.Ack() != 1001 {
		t.Fatalf("bad RST to SYN % x", buf[:n])
	}
	mustCheck(t, buf[:n], false)
	// FIN with 3 bytes: ACK = SEQ+3+1.
	p = tcpPkt(t, ap("10.0.1.5:40000"), ap("93.184.216.34:443"), header.TCPFin, []byte("abc"))
	n = BuildRST(buf, p)
	if header.TCP(buf[20:n]).Ack() != 1004 {
		t.Fatal("FIN ack")
	}
	// Never answer a RST, a UDP packet, or into a short buffer.
	if BuildRST(buf, tcpPkt(t, ap("10.0.1.5:1"), ap("1.1.1.1:2"), header.TCPRst, nil)) != 0 ||
		BuildRST(buf, udpPkt(t, ap("10.0.1.5:1"), ap("1.1.1.1:2"), nil)) != 0 ||
		BuildRST(buf[:39], p) != 0 {
		t.Fatal("answered what it must not")
	}
}

// TestRewriteAllocs: rewrites allocate nothing.
func TestRewriteAllocs(t *testing.T) {
	p := tcpPkt(t, ap("10.0.1.5:40000"), ap("93.184.216.34:443"), header.TCPAck, []byte("data"))
	e := icmpErr(t, ad("1.2.3.4"), ad("10.0.0.9"), 3, 3, udpPkt(t, ap("10.0.0.9:3000"), ap("8.8.8.8:53"), []byte("q")), 0)
	a, b := ad("54.1.1.1"), ad("10.0.1.5")
	buf := make([]byte, 64)
	if n := testing.AllocsPerRun(1000, func() {
		RewriteSrc(p, a, 1025, false)
		RewriteSrc(p, b, 40000, true)
		RewriteDstAddr(e, b, false)
		RewriteDst(e, a, 3000, false)
		BuildRST(buf, p)
	}); n != 0 {
		t.Fatalf("%v allocs", n)
	}
}
