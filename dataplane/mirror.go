package dataplane

// Traffic Mirroring (issue 14; the rules TM-1 … TM-6 are
// topology/mirror.go's). An ENI that is the source of sessions carries
// them in eniCfg.mirrors, lowest session number first. The worker's hooks:
//
//   - egress:  handle, a frame the source sent, as it came from its port
//     (before anything rewrites it)
//   - ingress: toENI and fromService, a frame the source receives, after
//     it was written to its port
//
// The first session whose filter accepts the frame mirrors it (TM-3): the
// frame, each wire segment of a GSO super-frame, is copied into the
// worker's own buffer behind an outer Ethernet, IPv4, UDP (4789) and VXLAN
// header (TM-4) and written to the target's port. A refused write drops
// the copy, counted on the target, never the original (TM-6). Nothing on
// this path allocates once the worker's buffer exists.

import (
	"encoding/binary"
	"net/netip"

	"github.com/vpcnet/vpcnet/dataplane/header"
	"github.com/vpcnet/vpcnet/dataplane/policy"
	"github.com/vpcnet/vpcnet/topology"
)

// Outer headers of a mirrored frame (TM-4).
const (
	vxlanLen     = 8
	mirrorHdrLen = header.EthernetLen + header.IPv4MinLen + header.UDPLen + vxlanLen // 50
	// mirrorMTU is the MTU of an instance's interface: the outer IPv4
	// packet is cut to it, as AWS cuts a copy to the target's MTU.
	mirrorMTU = 1500
	mirrorTTL = 64
)

var (
	linkLocalNTP = netip.AddrFrom4([4]byte{169, 254, 169, 123}) // the Amazon Time Sync Service
)

// mirrorCfg is one session as its source's ENI runs it.
type mirrorCfg struct {
	id       string
	number   int
	ingress  []mirrorRule // by rule number
	egress   []mirrorRule
	dns      bool // the filter's amazon-dns network service (TM-2)
	target   *eniCfg
	vni      uint32
	plen     int // the inner frame's most bytes; 0: whole
	src, dst [4]byte
	srcMAC   [6]byte // the outer frame's Ethernet source
	// allowed: the target's groups let UDP 4789 in from the source (TM-5),
	// decided when the tables were compiled.
	allowed bool
}

// mirrorRule is a filter rule (TM-2); proto and port bounds -1 for any.
type mirrorRule struct {
	accept     bool
	proto      int16
	src, dst   netip.Prefix
	sp0, sp1   int32
	dp0, dp1   int32
	hasL4Ports bool
}

func (r *mirrorRule) matches(m *policy.Packet) bool {
	if r.proto >= 0 && uint8(r.proto) != m.Proto {
		return false
	}
	if !r.src.Contains(m.Src) || !r.dst.Contains(m.Dst) {
		return false
	}
	if r.hasL4Ports {
		if m.Proto != header.ProtoTCP && m.Proto != header.ProtoUDP {
			return false
		}
		if r.sp0 >= 0 && (int32(m.SrcPort) < r.sp0 || int32(m.SrcPort) > r.sp1) {
			return false
		}
		if r.dp0 >= 0 && (int32(m.DstPort) < r.dp0 || int32(m.DstPort) > r.dp1) {
			return false
		}
	}
	return true
}

// accepts runs the filter of one direction: the lowest-numbered rule that
// matches decides; none matches, the frame is not mirrored (TM-2).
func (s *mirrorCfg) accepts(egress bool, m *policy.Packet) bool {
	rules := s.ingress
	if egress {
		rules = s.egress
	}
	for i := range rules {
		if rules[i].matches(m) {
			return rules[i].accept
		}
	}
	return false
}

// compileMirrors gives every live session to its source ENI's config.
func (st *state) compileMirrors(c *config, n *topology.Network) {
	for _, s := range n.LiveMirrorSessions() {
		src, tgt := c.eniByID[s.Source.ID], c.eniByID[s.Target.ENI.ID]
		if src == nil || tgt == nil {
			continue
		}
		mc := &mirrorCfg{id: s.ID, number: s.Number, dns: s.Filter.AmazonDNS, target: tgt, vni: uint32(s.VNI),
			plen: s.PacketLength, src: s.Source.PrimaryIP.As4(), dst: s.Target.ENI.PrimaryIP.As4(),
			srcMAC: tgt.subnet.routerMAC, allowed: true}
		if src.subnet == tgt.subnet {
			mc.srcMAC = src.mac // within a subnet, as any frame: the sender's MAC
		}
		mc.ingress = mirrorRules(s.Filter.Ingress)
		mc.egress = mirrorRules(s.Filter.Egress)
		if t := tgt.st.tracker; t != nil { // TM-5
			mc.allowed = t.Permits(&policy.Packet{Src: s.Source.PrimaryIP, Dst: s.Target.ENI.PrimaryIP,
				Proto: header.ProtoUDP, SrcPort: 49152, DstPort: topology.VXLANPort}, false)
		}
		i := 0
		for i < len(src.mirrors) && src.mirrors[i].number < mc.number {
			i++
		}
		src.mirrors = append(src.mirrors[:i:i], append([]*mirrorCfg{mc}, src.mirrors[i:]...)...)
	}
}

func mirrorRules(rs []topology.MirrorRule) []mirrorRule {
	out := make([]mirrorRule, 0, len(rs))
	for _, r := range rs {
		out = append(out, mirrorRule{accept: r.Accept, proto: int16(r.Protocol), src: r.Source, dst: r.Destination,
			sp0: int32(r.SrcFrom), sp1: int32(r.SrcTo), dp0: int32(r.DstFrom), dp1: int32(r.DstTo),
			hasL4Ports: r.SrcFrom >= 0 || r.DstFrom >= 0})
	}
	return out
}

// mirrorScratch is a worker's Traffic Mirroring state: the buffer copies
// are built in, the GSO segments' buffer, and the session being served.
type mirrorScratch struct {
	buf   []byte // virtio-net header + outer headers + the inner frame
	seg   []byte // Segments' buffer
	segFn func([]byte)
	out   [1][]byte
	cur   *mirrorCfg
	csum  bool   // the inner frame still holds a partial L4 checksum (NEEDS_CSUM)
	start int    // its csum_start and csum_offset
	off   int    //
	sport uint16 // the outer UDP source port: the flow's hash
	id    uint16 // the outer IPv4 id
}

// mirrorExempt reports the frames AWS never mirrors (TM-2): DHCP, NTP, the
// metadata service, and the Amazon DNS server unless the filter asks.
func mirrorExempt(v *vpcCfg, m *policy.Packet) (never, dns bool) {
	peer := func(a netip.Addr) bool { return m.Src == a || m.Dst == a }
	switch {
	case peer(topology.LinkLocalIMDS), peer(linkLocalNTP):
		return true, false
	case m.Proto == header.ProtoUDP && (m.DstPort == 67 || m.DstPort == 68):
		return true, false
	case peer(topology.LinkLocalDNS), v.svc != nil && peer(v.svc.dns):
		return false, true
	}
	return false, false
}

// mirror hands the frame being handled, which source ENI e sent (egress)
// or receives, to the first of e's sessions whose filter accepts it (TM-3).
func (w *worker) mirror(e *eniCfg, egress bool) {
	m := &w.p.meta
	never, dns := mirrorExempt(e.vpc, m)
	if never {
		return
	}
	for _, s := range e.mirrors {
		if (dns && !s.dns) || !s.accepts(egress, m) {
			continue
		}
		w.mirrorTo(s)
		return
	}
}

// mirrorTo sends the frame (each wire segment of a GSO super-frame) to
// session s's target.
func (w *worker) mirrorTo(s *mirrorCfg) {
	t := s.target
	if !s.allowed {
		t.st.ctr.drop(dropMirrorSG) // TM-5
		return
	}
	x := w.mir
	if x == nil {
		x = &mirrorScratch{buf: make([]byte, header.VnetHdrLen+mirrorHdrLen+MaxFrame), seg: make([]byte, MaxFrame)}
		x.segFn = w.mirrorSegment
		w.mir = x
	}
	x.cur = s
	x.sport = flowPort(&w.p.meta)
	frame := w.p.frame
	vh := header.VnetHdr(frame)
	x.csum = vh.NeedsCsum() && vh.GSOType() == header.VnetGSONone
	x.start, x.off = int(vh.CsumStart()), int(vh.CsumOffset())
	x.seg = Segments(frame[:header.VnetHdrLen], frame[header.VnetHdrLen:], x.seg, x.segFn)
}

// mirrorSegment encapsulates one wire frame (Ethernet on) for the current
// session and writes it to the target's port (TM-4, TM-6).
func (w *worker) mirrorSegment(inner []byte) {
	x, s := w.mir, w.mir.cur
	b := x.buf
	n := copy(b[header.VnetHdrLen+mirrorHdrLen:], inner)
	in := b[header.VnetHdrLen+mirrorHdrLen : header.VnetHdrLen+mirrorHdrLen+n]
	if x.csum && x.start+x.off+2 <= n && x.start >= header.EthernetLen {
		// The copy carries a complete checksum where the original left it
		// to the device (NEEDS_CSUM): what a capture on the wire shows.
		sum := ^header.Checksum(in[x.start:], 0)
		if sum == 0 && in[header.EthernetLen+9] == header.ProtoUDP {
			sum = 0xffff
		}
		binary.BigEndian.PutUint16(in[x.start+x.off:], sum)
	}
	if s.plen > 0 && n > s.plen {
		n = s.plen
	}
	if lim := mirrorMTU - (mirrorHdrLen - header.EthernetLen); n > lim {
		n = lim
	}
	clear(b[:header.VnetHdrLen])
	eth := header.Ethernet(b[header.VnetHdrLen:])
	eth.SetDst(s.target.mac[:])
	eth.SetSrc(s.srcMAC[:])
	eth.SetEtherType(header.EtherTypeIPv4)
	ip := b[header.VnetHdrLen+header.EthernetLen:]
	ipLen := header.IPv4MinLen + header.UDPLen + vxlanLen + n
	ip[0], ip[1] = 0x45, 0
	binary.BigEndian.PutUint16(ip[2:], uint16(ipLen))
	x.id++
	binary.BigEndian.PutUint16(ip[4:], x.id)
	ip[6], ip[7], ip[8], ip[9] = 0, 0, mirrorTTL, header.ProtoUDP
	ip[10], ip[11] = 0, 0
	copy(ip[12:16], s.src[:])
	copy(ip[16:20], s.dst[:])
	header.IPv4(ip).SetChecksum(^header.Checksum(ip[:header.IPv4MinLen], 0))
	u := ip[header.IPv4MinLen:]
	binary.BigEndian.PutUint16(u[0:], x.sport)
	binary.BigEndian.PutUint16(u[2:], topology.VXLANPort)
	binary.BigEndian.PutUint16(u[4:], uint16(header.UDPLen+vxlanLen+n))
	u[6], u[7] = 0, 0 // no UDP checksum, as RFC 7348 advises for VXLAN over IPv4
	v := u[header.UDPLen:]
	v[0], v[1], v[2], v[3] = 0x08, 0, 0, 0 // I flag: the VNI is valid
	v[4], v[5], v[6], v[7] = byte(s.vni>>16), byte(s.vni>>8), byte(s.vni), 0
	out := b[:header.VnetHdrLen+mirrorHdrLen+n]
	t := s.target
	c := &t.st.ctr
	if t.port == nil {
		c.drop(dropMirrorRefused)
		return
	}
	x.out[0] = out
	if _, err := t.port.Write(x.out[:], 0); err != nil {
		c.drop(dropMirrorRefused) // TM-6: the copy, never the original
		return
	}
	c.txFrames.Add(1)
	c.txBytes.Add(uint64(len(out) - header.VnetHdrLen))
}

// flowPort is the outer UDP source port of a flow's copies: a hash of its
// addresses, protocol and ports in 49152–65535, as VXLAN senders choose it
// (RFC 7348) so that a flow's copies stay on one path.
func flowPort(m *policy.Packet) uint16 {
	a, b := m.Src.As4(), m.Dst.As4()
	h := uint32(2166136261)
	for _, x := range [...]byte{a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3], m.Proto,
		byte(m.SrcPort >> 8), byte(m.SrcPort), byte(m.DstPort >> 8), byte(m.DstPort)} {
		h = (h ^ uint32(x)) * 16777619
	}
	return 49152 | uint16(h^h>>16)&0x3fff
}
