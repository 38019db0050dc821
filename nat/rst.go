package nat

import "github.com/vpcnet/vpcnet/dataplane/header"

// RSTLen is the length of the packet BuildRST writes: IPv4 and TCP headers
// without options.
const RSTLen = header.IPv4MinLen + header.TCPMinLen

// BuildRST writes into dst an IPv4+TCP RST answering the TCP segment pkt
// (NAT-4: a segment of an idle-expired connection): addresses and ports
// swapped, sequence numbers as RFC 9293 section 3.10.7.1 prescribes (seq =
// SEG.ACK if pkt has ACK, else seq 0 with ACK = SEG.SEQ + SEG.LEN), full
// IPv4 and TCP checksums, TTL 64, DF set. It returns the number of bytes
// written (RSTLen), or 0 when dst is shorter than RSTLen or pkt is not a
// well-formed first-fragment TCP segment or is itself a RST (a RST is never
// answered). pkt is only read; dst is owned by the caller.
func BuildRST(dst []byte, pkt []byte) int {
	ihl, ip, ok := ipv4Bounds(pkt)
	if !ok || ip[9] != header.ProtoTCP || !firstFragment(ip) || len(dst) < RSTLen {
		return 0
	}
	in := header.TCP(ip[ihl:])
	if len(in) < header.TCPMinLen || in.DataOffset() < header.TCPMinLen || in.DataOffset() > len(in) {
		return 0
	}
	f := in.Flags()
	if f&header.TCPRst != 0 {
		return 0
	}
	out := dst[:RSTLen]
	clear(out)
	o := header.IPv4(out)
	out[0] = 0x45
	put16(out[2:], RSTLen)
	out[6] = 0x40 // DF
	out[8] = 64
	out[9] = header.ProtoTCP
	copy(o.SrcBytes(), ip[16:20])
	copy(o.DstBytes(), ip[12:16])
	o.SetChecksum(o.ComputeChecksum())

	t := header.TCP(out[header.IPv4MinLen:])
	t.SetSrcPort(in.DstPort())
	t.SetDstPort(in.SrcPort())
	if f&header.TCPAck != 0 {
		put32(t[4:], in.Ack())
		t[13] = header.TCPRst
	} else {
		n := uint32(len(in) - in.DataOffset())
		if f&header.TCPSyn != 0 {
			n++
		}
		if f&header.TCPFin != 0 {
			n++
		}
		put32(t[8:], in.Seq()+n)
		t[13] = header.TCPRst | header.TCPAck
	}
	t[12] = 5 << 4
	sum := header.PseudoHeaderSum(o.SrcBytes(), o.DstBytes(), header.ProtoTCP, header.TCPMinLen)
	t.SetChecksum(^header.Checksum(t, sum))
	return RSTLen
}
