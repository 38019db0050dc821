// Package header provides allocation-free views over packet headers: the
// virtio-net header that TAP devices prepend, Ethernet, ARP, IPv4, TCP, UDP
// and ICMPv4, and Internet checksum helpers (RFC 1071, incremental RFC 1624).
//
// A view is a byte slice; its accessors read and write the buffer in place.
// Views do no bounds checking beyond Go's own: callers validate lengths once
// up front (see Parse in the dataplane package), then use the views freely.
// This package imports nothing from the project.
package header

import (
	"encoding/binary"
	"net/netip"
)

// Sizes of fixed headers.
const (
	VnetHdrLen   = 10 // struct virtio_net_hdr
	EthernetLen  = 14
	ARPLen       = 28 // Ethernet/IPv4 ARP
	IPv4MinLen   = 20
	TCPMinLen    = 20
	UDPLen       = 8
	ICMPv4MinLen = 8
)

// EtherTypes.
const (
	EtherTypeIPv4 = 0x0800
	EtherTypeARP  = 0x0806
	EtherTypeIPv6 = 0x86dd
)

// IP protocol numbers.
const (
	ProtoICMP = 1
	ProtoTCP  = 6
	ProtoUDP  = 17
)

// TCP flags.
const (
	TCPFin = 0x01
	TCPSyn = 0x02
	TCPRst = 0x04
	TCPPsh = 0x08
	TCPAck = 0x10
)

// Virtio-net header flags and GSO types (linux/virtio_net.h).
const (
	VnetFlagNeedsCsum = 1
	VnetFlagDataValid = 2
	VnetGSONone       = 0
	VnetGSOTCPv4      = 1
	VnetGSOUDP        = 3
	VnetGSOTCPv6      = 4
	VnetGSOECN        = 0x80
)

// VnetHdr is a view of struct virtio_net_hdr (10 bytes, little endian on
// x86; the TAP device uses the host's byte order).
type VnetHdr []byte

func (v VnetHdr) Flags() uint8        { return v[0] }
func (v VnetHdr) GSOType() uint8      { return v[1] }
func (v VnetHdr) HdrLen() uint16      { return binary.LittleEndian.Uint16(v[2:]) }
func (v VnetHdr) GSOSize() uint16     { return binary.LittleEndian.Uint16(v[4:]) }
func (v VnetHdr) CsumStart() uint16   { return binary.LittleEndian.Uint16(v[6:]) }
func (v VnetHdr) CsumOffset() uint16  { return binary.LittleEndian.Uint16(v[8:]) }
func (v VnetHdr) NeedsCsum() bool     { return v[0]&VnetFlagNeedsCsum != 0 }
func (v VnetHdr) Clear()              { clear(v[:VnetHdrLen]) }
func (v VnetHdr) SetFlags(f uint8)    { v[0] = f }
func (v VnetHdr) SetGSOType(t uint8)  { v[1] = t }
func (v VnetHdr) SetHdrLen(n uint16)  { binary.LittleEndian.PutUint16(v[2:], n) }
func (v VnetHdr) SetGSOSize(n uint16) { binary.LittleEndian.PutUint16(v[4:], n) }
func (v VnetHdr) SetCsum(start, off uint16) {
	binary.LittleEndian.PutUint16(v[6:], start)
	binary.LittleEndian.PutUint16(v[8:], off)
}

// Ethernet is a view of an Ethernet II header.
type Ethernet []byte

func (e Ethernet) Dst() []byte           { return e[0:6] }
func (e Ethernet) Src() []byte           { return e[6:12] }
func (e Ethernet) EtherType() uint16     { return binary.BigEndian.Uint16(e[12:]) }
func (e Ethernet) SetDst(mac []byte)     { copy(e[0:6], mac) }
func (e Ethernet) SetSrc(mac []byte)     { copy(e[6:12], mac) }
func (e Ethernet) SetEtherType(t uint16) { binary.BigEndian.PutUint16(e[12:], t) }
func (e Ethernet) Payload() []byte       { return e[EthernetLen:] }

// ARP operations.
const (
	ARPRequest = 1
	ARPReply   = 2
)

// ARP is a view of an Ethernet/IPv4 ARP packet.
type ARP []byte

// Valid reports whether the packet is Ethernet/IPv4 ARP.
func (a ARP) Valid() bool {
	return len(a) >= ARPLen && binary.BigEndian.Uint16(a[0:]) == 1 &&
		binary.BigEndian.Uint16(a[2:]) == EtherTypeIPv4 && a[4] == 6 && a[5] == 4
}
func (a ARP) Op() uint16           { return binary.BigEndian.Uint16(a[6:]) }
func (a ARP) SenderMAC() []byte    { return a[8:14] }
func (a ARP) SenderIP() netip.Addr { return netip.AddrFrom4([4]byte(a[14:18])) }
func (a ARP) TargetMAC() []byte    { return a[18:24] }
func (a ARP) TargetIP() netip.Addr { return netip.AddrFrom4([4]byte(a[24:28])) }
func (a ARP) SetOp(op uint16)      { binary.BigEndian.PutUint16(a[6:], op) }
func (a ARP) SetSender(mac []byte, ip netip.Addr) {
	copy(a[8:14], mac)
	b := ip.As4()
	copy(a[14:18], b[:])
}
func (a ARP) SetTarget(mac []byte, ip netip.Addr) {
	copy(a[18:24], mac)
	b := ip.As4()
	copy(a[24:28], b[:])
}

// IPv4 is a view of an IPv4 header and what follows it.
type IPv4 []byte

func (ip IPv4) Version() uint8       { return ip[0] >> 4 }
func (ip IPv4) HeaderLen() int       { return int(ip[0]&0x0f) * 4 }
func (ip IPv4) TotalLen() int        { return int(binary.BigEndian.Uint16(ip[2:])) }
func (ip IPv4) ID() uint16           { return binary.BigEndian.Uint16(ip[4:]) }
func (ip IPv4) TTL() uint8           { return ip[8] }
func (ip IPv4) Protocol() uint8      { return ip[9] }
func (ip IPv4) Checksum() uint16     { return binary.BigEndian.Uint16(ip[10:]) }
func (ip IPv4) Src() netip.Addr      { return netip.AddrFrom4([4]byte(ip[12:16])) }
func (ip IPv4) Dst() netip.Addr      { return netip.AddrFrom4([4]byte(ip[16:20])) }
func (ip IPv4) SrcBytes() []byte     { return ip[12:16] }
func (ip IPv4) DstBytes() []byte     { return ip[16:20] }
func (ip IPv4) SetChecksum(c uint16) { binary.BigEndian.PutUint16(ip[10:], c) }

// DecTTL lowers the TTL by one and updates the header checksum (RFC 1624).
func (ip IPv4) DecTTL() {
	old := binary.BigEndian.Uint16(ip[8:])
	ip[8]--
	ip.SetChecksum(UpdateChecksum16(ip.Checksum(), old, binary.BigEndian.Uint16(ip[8:])))
}

// FragOffset returns the fragment offset in bytes; MoreFragments the MF bit.
func (ip IPv4) FragOffset() int     { return int(binary.BigEndian.Uint16(ip[6:])&0x1fff) * 8 }
func (ip IPv4) MoreFragments() bool { return ip[6]&0x20 != 0 }

// OptionsValid reports whether the options of ip (the bytes between the
// fixed header and HeaderLen, which must be within ip) form a well-formed
// list (RFC 791 section 3.1): end-of-list (0) ends it, no-operation (1) is
// one byte, any other option has a length byte that covers at least its
// type, its length and one byte of data, and stays within the header. This
// is what gopacket's IPv4 decoder accepts; Linux also takes a 2-byte option.
func (ip IPv4) OptionsValid() bool {
	return optionsValid(ip[IPv4MinLen:ip.HeaderLen()], 3)
}

// optionsValid walks an IPv4 or TCP option list whose multi-byte options
// have a length of at least min.
func optionsValid(o []byte, min int) bool {
	for len(o) > 0 {
		switch o[0] {
		case 0: // end of option list: the rest is padding
			return true
		case 1: // no-operation
			o = o[1:]
		default:
			if len(o) < 2 {
				return false
			}
			n := int(o[1])
			if n < min || n > len(o) {
				return false
			}
			o = o[n:]
		}
	}
	return true
}

// Payload returns the bytes after the IPv4 header up to TotalLen. Callers
// must have validated the header first.
func (ip IPv4) Payload() []byte { return ip[ip.HeaderLen():ip.TotalLen()] }

// ComputeChecksum returns the header checksum as it should be stored.
func (ip IPv4) ComputeChecksum() uint16 {
	hl := ip.HeaderLen()
	c := binary.BigEndian.Uint16(ip[10:])
	ip[10], ip[11] = 0, 0
	sum := ^Checksum(ip[:hl], 0)
	binary.BigEndian.PutUint16(ip[10:], c)
	return sum
}

// TCP is a view of a TCP header.
type TCP []byte

func (t TCP) SrcPort() uint16      { return binary.BigEndian.Uint16(t[0:]) }
func (t TCP) DstPort() uint16      { return binary.BigEndian.Uint16(t[2:]) }
func (t TCP) Seq() uint32          { return binary.BigEndian.Uint32(t[4:]) }
func (t TCP) Ack() uint32          { return binary.BigEndian.Uint32(t[8:]) }
func (t TCP) DataOffset() int      { return int(t[12]>>4) * 4 }
func (t TCP) Flags() uint8         { return t[13] }
func (t TCP) Checksum() uint16     { return binary.BigEndian.Uint16(t[16:]) }
func (t TCP) SetSrcPort(p uint16)  { binary.BigEndian.PutUint16(t[0:], p) }
func (t TCP) SetDstPort(p uint16)  { binary.BigEndian.PutUint16(t[2:], p) }
func (t TCP) SetChecksum(c uint16) { binary.BigEndian.PutUint16(t[16:], c) }

// Valid reports whether t holds a whole TCP header (RFC 9293 section 3.1):
// 20 bytes at least, a data offset of 5 words or more that stays within t,
// and a well-formed option list (kinds 0 and 1 one byte, others with a
// length of at least 2 that stays within the header), as gopacket's TCP
// decoder and Linux's tcp_parse_options read it.
func (t TCP) Valid() bool {
	if len(t) < TCPMinLen {
		return false
	}
	off := t.DataOffset()
	if off < TCPMinLen || off > len(t) {
		return false
	}
	return optionsValid(t[TCPMinLen:off], 2)
}

// TCPChecksumOffset and UDPChecksumOffset are where the L4 checksum lives.
const (
	TCPChecksumOffset  = 16
	UDPChecksumOffset  = 6
	ICMPChecksumOffset = 2
)

// UDP is a view of a UDP header.
type UDP []byte

func (u UDP) SrcPort() uint16      { return binary.BigEndian.Uint16(u[0:]) }
func (u UDP) DstPort() uint16      { return binary.BigEndian.Uint16(u[2:]) }
func (u UDP) Length() int          { return int(binary.BigEndian.Uint16(u[4:])) }
func (u UDP) Checksum() uint16     { return binary.BigEndian.Uint16(u[6:]) }
func (u UDP) SetSrcPort(p uint16)  { binary.BigEndian.PutUint16(u[0:], p) }
func (u UDP) SetDstPort(p uint16)  { binary.BigEndian.PutUint16(u[2:], p) }
func (u UDP) SetChecksum(c uint16) { binary.BigEndian.PutUint16(u[6:], c) }

// Valid reports whether u holds a UDP header whose length field is 0 (a
// jumbogram's, RFC 2675: the datagram runs to the end of the packet) or at
// least the header's 8 bytes, as gopacket's UDP decoder accepts.
func (u UDP) Valid() bool {
	return len(u) >= UDPLen && (u.Length() == 0 || u.Length() >= UDPLen)
}

// ICMP types.
const (
	ICMPEchoReply      = 0
	ICMPDestUnreach    = 3
	ICMPEcho           = 8
	ICMPTimeExceeded   = 11
	ICMPTimestamp      = 13
	ICMPTimestampReply = 14
)

// ICMPv4 is a view of an ICMPv4 header.
type ICMPv4 []byte

func (c ICMPv4) Type() uint8          { return c[0] }
func (c ICMPv4) Code() uint8          { return c[1] }
func (c ICMPv4) Checksum() uint16     { return binary.BigEndian.Uint16(c[2:]) }
func (c ICMPv4) ID() uint16           { return binary.BigEndian.Uint16(c[4:]) }
func (c ICMPv4) SetID(id uint16)      { binary.BigEndian.PutUint16(c[4:], id) }
func (c ICMPv4) SetChecksum(s uint16) { binary.BigEndian.PutUint16(c[2:], s) }

// IsQuery reports whether an ICMP type is a query (echo, timestamp and their
// replies): those carry an identifier and are tracked by it (SG-4, NAT-2).
func IsQuery(t uint8) bool {
	switch t {
	case ICMPEcho, ICMPEchoReply, ICMPTimestamp, ICMPTimestampReply:
		return true
	}
	return false
}

// IsQueryRequest reports whether an ICMP query type is the request side.
func IsQueryRequest(t uint8) bool { return t == ICMPEcho || t == ICMPTimestamp }
