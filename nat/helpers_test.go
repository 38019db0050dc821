package nat

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/vpcnet/vpcnet/dataplane/header"
)

// Packet builders (gopacket, full checksums) and checksum checkers shared
// by the tests.

func ipLayer(src, dst netip.Addr, proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: 0x1234, Flags: layers.IPv4DontFragment,
		Protocol: proto, SrcIP: net.IP(src.AsSlice()), DstIP: net.IP(dst.AsSlice())}
}

func serialize(tb testing.TB, ls ...gopacket.SerializableLayer) []byte {
	tb.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		tb.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func tcpPkt(tb testing.TB, src, dst netip.AddrPort, flags uint8, payload []byte) []byte {
	ip := ipLayer(src.Addr(), dst.Addr(), layers.IPProtocolTCP)
	t := &layers.TCP{SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()),
		Seq: 1000, Ack: 2000, Window: 65535,
		FIN: flags&header.TCPFin != 0, SYN: flags&header.TCPSyn != 0, RST: flags&header.TCPRst != 0,
		PSH: flags&header.TCPPsh != 0, ACK: flags&header.TCPAck != 0}
	t.SetNetworkLayerForChecksum(ip)
	return serialize(tb, ip, t, gopacket.Payload(payload))
}

func udpPkt(tb testing.TB, src, dst netip.AddrPort, payload []byte) []byte {
	ip := ipLayer(src.Addr(), dst.Addr(), layers.IPProtocolUDP)
	u := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
	u.SetNetworkLayerForChecksum(ip)
	return serialize(tb, ip, u, gopacket.Payload(payload))
}

func icmpPkt(tb testing.TB, src, dst netip.Addr, typ uint8, id uint16, payload []byte) []byte {
	ip := ipLayer(src, dst, layers.IPProtocolICMPv4)
	ic := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, 0), Id: id, Seq: 7}
	return serialize(tb, ip, ic, gopacket.Payload(payload))
}

// icmpErr builds an ICMP error from src to dst quoting quoted (cut to n
// bytes if n > 0).
func icmpErr(tb testing.TB, src, dst netip.Addr, typ, code uint8, quoted []byte, n int) []byte {
	if n > 0 && n < len(quoted) {
		quoted = quoted[:n]
	}
	ip := ipLayer(src, dst, layers.IPProtocolICMPv4)
	ic := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, code)}
	return serialize(tb, ip, ic, gopacket.Payload(quoted))
}

// pseudoSum is the folded pseudo-header sum of an IPv4 packet's L4 part.
func pseudoSum(ip []byte) uint16 {
	ihl := int(ip[0]&0x0f) * 4
	tot := int(binary.BigEndian.Uint16(ip[2:]))
	return fold(header.PseudoHeaderSum(ip[12:16], ip[16:20], ip[9], tot-ihl))
}

// l4CsumOff returns the offset of the checksum in the L4 header, or -1.
func l4CsumOff(proto uint8) int {
	switch proto {
	case header.ProtoTCP:
		return header.TCPChecksumOffset
	case header.ProtoUDP:
		return header.UDPChecksumOffset
	case header.ProtoICMP:
		return header.ICMPChecksumOffset
	}
	return -1
}

// makePartial turns a packet with a full TCP/UDP checksum into what a
// NEEDS_CSUM frame carries: the folded pseudo-header sum, not inverted (0
// for ICMP, which has no pseudo-header).
func makePartial(ip []byte) {
	ihl := int(ip[0]&0x0f) * 4
	switch off := l4CsumOff(ip[9]); {
	case ip[9] == header.ProtoICMP:
		binary.BigEndian.PutUint16(ip[ihl+off:], 0) // no pseudo-header
	case off >= 0:
		binary.BigEndian.PutUint16(ip[ihl+off:], pseudoSum(ip))
	}
}

// complete fills in a partial checksum as a NIC would: the one's complement
// of the sum over the L4 bytes with the field holding the partial sum.
func complete(ip []byte) {
	ihl := int(ip[0]&0x0f) * 4
	tot := int(binary.BigEndian.Uint16(ip[2:]))
	off := l4CsumOff(ip[9])
	if off < 0 {
		return
	}
	l4 := ip[ihl:tot]
	c := ^header.Checksum(l4, 0)
	if c == 0 && ip[9] == header.ProtoUDP {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(l4[off:], c)
}

// ipHeaderOK reports whether the IPv4 header checksum verifies.
func ipHeaderOK(ip []byte) bool {
	ihl := int(ip[0]&0x0f) * 4
	return header.Checksum(ip[:ihl], 0) == 0xffff
}

// l4OK reports whether the full L4 checksum of a complete, unfragmented
// IPv4 packet verifies (UDP 0 = none counts as valid).
func l4OK(ip []byte) bool {
	ihl := int(ip[0]&0x0f) * 4
	tot := int(binary.BigEndian.Uint16(ip[2:]))
	l4 := ip[ihl:tot]
	switch ip[9] {
	case header.ProtoTCP, header.ProtoUDP:
		if ip[9] == header.ProtoUDP && (len(l4) < 8 || binary.BigEndian.Uint16(l4[6:]) == 0) {
			return true
		}
		return header.Checksum(l4, header.PseudoHeaderSum(ip[12:16], ip[16:20], ip[9], len(l4))) == 0xffff
	case header.ProtoICMP:
		return header.Checksum(l4, 0) == 0xffff
	}
	return true
}

// partialOK (TCP, UDP) reports whether a TCP/UDP packet's checksum field holds its
// pseudo-header sum (0 and 0xffff are the same one's complement number).
func partialOK(ip []byte) bool {
	ihl := int(ip[0]&0x0f) * 4
	got := binary.BigEndian.Uint16(ip[ihl+l4CsumOff(ip[9]):])
	want := pseudoSum(ip)
	norm := func(v uint16) uint16 {
		if v == 0xffff {
			return 0
		}
		return v
	}
	return norm(got) == norm(want)
}

func mustCheck(tb testing.TB, ip []byte, partial bool) {
	tb.Helper()
	if !ipHeaderOK(ip) {
		tb.Fatalf("IPv4 header checksum wrong: % x", ip)
	}
	if partial {
		if ip[9] != header.ProtoICMP && !partialOK(ip) {
			tb.Fatalf("partial checksum wrong: % x", ip)
		}
		c := append([]byte(nil), ip...)
		complete(c)
		if !l4OK(c) {
			tb.Fatalf("completed checksum wrong: % x", c)
		}
		return
	}
	if !l4OK(ip) {
		tb.Fatalf("L4 checksum wrong: % x", ip)
	}
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
func ad(s string) netip.Addr     { return netip.MustParseAddr(s) }
