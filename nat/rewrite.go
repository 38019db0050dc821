package nat

import (
	"encoding/binary"
	"net/netip"

	"github.com/vpcnet/vpcnet/dataplane/header"
)

// Rewrites change one side (source or destination) of an IPv4 packet in
// place and keep every checksum right without recomputing it:
//
//   - the IPv4 header checksum always, incrementally (RFC 1624);
//   - the TCP/UDP checksum: with partial=false it is a full checksum and is
//     updated for the address (pseudo-header) and port changes (RFC 1624);
//     a UDP checksum of 0 means "none" and stays 0, and a result of 0 is
//     stored as 0xffff. With partial=true (virtio VIRTIO_NET_HDR_F_NEEDS_CSUM)
//     the field holds the folded, not inverted, pseudo-header sum: an address
//     change moves that sum like the kernel's inet_proto_csum_replace4 with
//     pseudohdr=true, and a port change leaves it alone (whoever completes
//     the checksum sums the port);
//   - ICMP: queries (echo, timestamp and their replies) carry an identifier
//     that plays the port's role; the ICMP checksum has no pseudo-header, so
//     only an id change touches it (and not at all when partial). ICMP errors
//     (destination unreachable, source quench, time exceeded, parameter
//     problem) quote the offending packet: a source rewrite of the error also
//     rewrites the quoted packet's destination (address, and port or ICMP id
//     when a port is given), a destination rewrite its source, with the
//     quoted IPv4 and L4 checksums (as far as they are quoted) and the outer
//     ICMP checksum updated. A quoted packet that is itself malformed is left
//     alone; the outer rewrite still happens.
//   - Other protocols: the address only (their checksums, if any, are not
//     known to us).
//   - Non-first fragments (fragment offset > 0) hold no L4 header: only the
//     address changes. That is correct for the whole datagram as long as
//     every fragment gets the same address, because the first fragment's L4
//     checksum already moved for the pseudo-header. Ports of non-first
//     fragments cannot be seen: a port-translating NAT maps them by what
//     their first fragment showed (Gateway.OutboundFragment).
//
// All rewrites return false, and change nothing, when the packet is not an
// IPv4 packet whose header, total length and L4 header (TCP 20 bytes, UDP 8,
// ICMP 8) fit in pkt. They allocate nothing.

// RewriteSrc sets the source address, and the source port (TCP, UDP) or ICMP
// query id, to addr and port. For an ICMP error it also sets the quoted
// packet's destination address and port/id.
func RewriteSrc(pkt []byte, addr netip.Addr, port uint16, partial bool) bool {
	return rewrite(pkt, true, addr.As4(), port, true, partial)
}

// RewriteDst sets the destination address, and the destination port (TCP,
// UDP) or ICMP query id, to addr and port. For an ICMP error it also sets the
// quoted packet's source address and port/id.
func RewriteDst(pkt []byte, addr netip.Addr, port uint16, partial bool) bool {
	return rewrite(pkt, false, addr.As4(), port, true, partial)
}

// RewriteSrcAddr sets the source address only, keeping ports and ids: the
// internet gateway's 1:1 NAT (IGW-1). For an ICMP error it also sets the
// quoted packet's destination address.
func RewriteSrcAddr(pkt []byte, addr netip.Addr, partial bool) bool {
	return rewrite(pkt, true, addr.As4(), 0, false, partial)
}

// RewriteDstAddr sets the destination address only (IGW-1). For an ICMP
// error it also sets the quoted packet's source address.
func RewriteDstAddr(pkt []byte, addr netip.Addr, partial bool) bool {
	return rewrite(pkt, false, addr.As4(), 0, false, partial)
}

// Kinds of L4 content a rewrite handles.
const (
	l4None = iota // other protocol, or non-first fragment: address only
	l4TCP
	l4UDP
	l4ICMPQuery
	l4ICMPError
	l4ICMPOther
)

// fold folds a 32-bit one's complement sum to 16 bits.
func fold(s uint32) uint16 {
	s = (s & 0xffff) + (s >> 16)
	s = (s & 0xffff) + (s >> 16)
	return uint16(s)
}

// be16 and put16 read and write big-endian 16-bit words.
func be16(b []byte) uint16        { return binary.BigEndian.Uint16(b) }
func put16(b []byte, v uint16)    { binary.BigEndian.PutUint16(b, v) }
func be32(b []byte) uint32        { return binary.BigEndian.Uint32(b) }
func put32(b []byte, v uint32)    { binary.BigEndian.PutUint32(b, v) }
func addrU32(a netip.Addr) uint32 { b := a.As4(); return be32(b[:]) }
func u32Addr(v uint32) netip.Addr {
	var b [4]byte
	put32(b[:], v)
	return netip.AddrFrom4(b)
}

// isICMPError reports the ICMP types that quote the offending datagram.
func isICMPError(t uint8) bool {
	switch t {
	case header.ICMPDestUnreach, 4 /* source quench */, header.ICMPTimeExceeded, 12 /* parameter problem */ :
		return true
	}
	return false
}

// ipv4Bounds validates the IPv4 header of pkt and returns its header length
// and the packet cut to its total length.
func ipv4Bounds(pkt []byte) (int, []byte, bool) {
	if len(pkt) < header.IPv4MinLen || pkt[0]>>4 != 4 {
		return 0, nil, false
	}
	ihl := int(pkt[0]&0x0f) * 4
	tot := int(be16(pkt[2:]))
	if ihl < header.IPv4MinLen || tot < ihl || tot > len(pkt) {
		return 0, nil, false
	}
	return ihl, pkt[:tot], true
}

// firstFragment reports whether an IPv4 header has fragment offset 0.
func firstFragment(ip []byte) bool { return be16(ip[6:])&0x1fff == 0 }

// l4Kind classifies the L4 header l4 of a packet with protocol proto,
// checking that the part a rewrite touches is present.
func l4Kind(proto uint8, first bool, l4 []byte) (int, bool) {
	if !first {
		return l4None, true
	}
	switch proto {
	case header.ProtoTCP:
		return l4TCP, len(l4) >= header.TCPMinLen
	case header.ProtoUDP:
		return l4UDP, len(l4) >= header.UDPLen
	case header.ProtoICMP:
		if len(l4) < header.ICMPv4MinLen {
			return l4None, false
		}
		switch t := l4[0]; {
		case header.IsQuery(t):
			return l4ICMPQuery, true
		case isICMPError(t):
			return l4ICMPError, true
		}
		return l4ICMPOther, true
	}
	return l4None, true
}

// rewrite implements RewriteSrc/Dst(Addr): src picks the side, setPort
// whether port is applied.
func rewrite(pkt []byte, src bool, addr [4]byte, port uint16, setPort, partial bool) bool {
	ihl, ip, ok := ipv4Bounds(pkt)
	if !ok {
		return false
	}
	l4 := ip[ihl:]
	kind, ok := l4Kind(ip[9], firstFragment(ip), l4)
	if !ok {
		return false
	}
	aoff, poff := 16, 2
	if src {
		aoff, poff = 12, 0
	}
	old := ip[aoff : aoff+4]
	if [4]byte(old) != addr {
		put16(ip[10:], header.UpdateChecksum32(be16(ip[10:]), old, addr[:]))
		switch kind {
		case l4TCP:
			c := be16(l4[header.TCPChecksumOffset:])
			if partial {
				c = header.UpdatePartial32(c, old, addr[:])
			} else {
				c = header.UpdateChecksum32(c, old, addr[:])
			}
			put16(l4[header.TCPChecksumOffset:], c)
		case l4UDP:
			if c := be16(l4[header.UDPChecksumOffset:]); c != 0 || partial {
				if partial {
					c = header.UpdatePartial32(c, old, addr[:])
				} else {
					c = header.UpdateChecksum32(c, old, addr[:])
				}
				if c == 0 {
					c = 0xffff
				}
				put16(l4[header.UDPChecksumOffset:], c)
			}
		}
		copy(old, addr[:])
	}
	if setPort {
		switch kind {
		case l4TCP:
			if op := be16(l4[poff:]); op != port {
				if !partial {
					put16(l4[header.TCPChecksumOffset:], header.UpdateChecksum16(be16(l4[header.TCPChecksumOffset:]), op, port))
				}
				put16(l4[poff:], port)
			}
		case l4UDP:
			if op := be16(l4[poff:]); op != port {
				if c := be16(l4[header.UDPChecksumOffset:]); !partial && c != 0 {
					if c = header.UpdateChecksum16(c, op, port); c == 0 {
						c = 0xffff
					}
					put16(l4[header.UDPChecksumOffset:], c)
				}
				put16(l4[poff:], port)
			}
		case l4ICMPQuery:
			if op := be16(l4[4:]); op != port {
				if !partial {
					put16(l4[header.ICMPChecksumOffset:], header.UpdateChecksum16(be16(l4[header.ICMPChecksumOffset:]), op, port))
				}
				put16(l4[4:], port)
			}
		}
	}
	if kind == l4ICMPError {
		// The quoted packet travelled the other way: our source is its
		// destination.
		acc := rewriteQuoted(l4[header.ICMPv4MinLen:], !src, addr, port, setPort)
		if acc != 0 && !partial {
			// With partial, the quoted bytes are summed when the checksum is
			// completed: nothing to adjust.
			c := be16(l4[header.ICMPChecksumOffset:])
			put16(l4[header.ICMPChecksumOffset:], ^fold(uint32(^c)+acc))
		}
	}
	return true
}

// set16 stores v at b[0:2] and returns what the change adds to a one's
// complement sum covering b (RFC 1624: ~m + m').
func set16(b []byte, v uint16) uint32 {
	old := be16(b)
	put16(b, v)
	return uint32(^old) + uint32(v)
}

// set32 is set16 for a 4-byte field at b[0:4].
func set32(b []byte, v [4]byte) uint32 {
	return set16(b, be16(v[:])) + set16(b[2:], be16(v[2:]))
}

// rewriteQuoted rewrites the packet quoted by an ICMP error: its source
// (src) or destination address, and port/id if setPort. Quoted checksums are
// always full ones. It returns the one's complement difference of all the
// words it changed, for the outer ICMP checksum (0 when nothing changed).
// Every changed word lies at an even offset from the ICMP header.
func rewriteQuoted(q []byte, src bool, addr [4]byte, port uint16, setPort bool) uint32 {
	if len(q) < header.IPv4MinLen || q[0]>>4 != 4 {
		return 0
	}
	ihl := int(q[0]&0x0f) * 4
	if ihl < header.IPv4MinLen || ihl > len(q) {
		return 0
	}
	l4 := q[ihl:]
	first := firstFragment(q)
	proto := q[9]
	aoff, poff := 16, 2
	if src {
		aoff, poff = 12, 0
	}
	var acc uint32
	old := q[aoff : aoff+4]
	if [4]byte(old) != addr {
		acc += set16(q[10:], header.UpdateChecksum32(be16(q[10:]), old, addr[:]))
		if first {
			switch {
			case proto == header.ProtoTCP && len(l4) >= header.TCPChecksumOffset+2:
				c := l4[header.TCPChecksumOffset:]
				acc += set16(c, header.UpdateChecksum32(be16(c), old, addr[:]))
			case proto == header.ProtoUDP && len(l4) >= header.UDPLen && be16(l4[header.UDPChecksumOffset:]) != 0:
				c := l4[header.UDPChecksumOffset:]
				n := header.UpdateChecksum32(be16(c), old, addr[:])
				if n == 0 {
					n = 0xffff
				}
				acc += set16(c, n)
			}
		}
		acc += set32(old, addr)
	}
	if !setPort || !first {
		return acc
	}
	switch proto {
	case header.ProtoTCP, header.ProtoUDP:
		if len(l4) < 4 {
			return acc
		}
		op := be16(l4[poff:])
		if op == port {
			return acc
		}
		if proto == header.ProtoTCP && len(l4) >= header.TCPChecksumOffset+2 {
			c := l4[header.TCPChecksumOffset:]
			acc += set16(c, header.UpdateChecksum16(be16(c), op, port))
		} else if proto == header.ProtoUDP && len(l4) >= header.UDPLen && be16(l4[header.UDPChecksumOffset:]) != 0 {
			c := l4[header.UDPChecksumOffset:]
			n := header.UpdateChecksum16(be16(c), op, port)
			if n == 0 {
				n = 0xffff
			}
			acc += set16(c, n)
		}
		acc += set16(l4[poff:], port)
	case header.ProtoICMP:
		if len(l4) < 6 || !header.IsQuery(l4[0]) {
			return acc
		}
		op := be16(l4[4:])
		if op == port {
			return acc
		}
		c := l4[header.ICMPChecksumOffset:]
		acc += set16(c, header.UpdateChecksum16(be16(c), op, port))
		acc += set16(l4[4:], port)
	}
	return acc
}
