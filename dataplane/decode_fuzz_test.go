package dataplane

import (
	"net"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/vpcnet/vpcnet/dataplane/header"
	"github.com/vpcnet/vpcnet/dataplane/policy"
)

// viewParse is stage 1 written with the project's header views: the
// reference FuzzParseDifferential holds gopacket's decode (parse) to. It
// returns the verdict and what the decisions read.
type viewResult struct {
	verdict   dropReason
	arp       bool
	arpOK     bool       // an Ethernet/IPv4 ARP request
	arpTarget netip.Addr // its target
	frag      bool
	meta      policy.Packet
	ipLen     int // len(p.ip)
	l4Len     int // len(p.l4); -1 when nil
}

func viewParse(frame []byte) viewResult {
	r := viewResult{l4Len: -1}
	if len(frame) < ipOff {
		r.verdict = dropShort
		return r
	}
	switch header.Ethernet(frame[header.VnetHdrLen:]).EtherType() {
	case header.EtherTypeARP:
		r.arp = true
		a := header.ARP(frame[ipOff:])
		if a.Valid() && a.Op() == header.ARPRequest {
			r.arpOK, r.arpTarget = true, a.TargetIP()
		}
		return r
	case header.EtherTypeIPv4:
	default:
		r.verdict = dropEtherType
		return r
	}
	ip := header.IPv4(frame[ipOff:])
	if len(ip) < header.IPv4MinLen || ip.Version() != 4 {
		r.verdict = dropBadIPv4
		return r
	}
	hl, tl := ip.HeaderLen(), ip.TotalLen()
	if hl < header.IPv4MinLen || tl < hl || tl > len(ip) || !ip.OptionsValid() {
		r.verdict = dropBadIPv4
		return r
	}
	ip = ip[:tl]
	r.ipLen = tl
	m := &r.meta
	*m = policy.Packet{Src: ip.Src(), Dst: ip.Dst(), Proto: ip.Protocol(), Len: tl}
	if ip.FragOffset() != 0 {
		r.frag = true
		return r
	}
	l4 := ip[hl:]
	switch m.Proto {
	case header.ProtoTCP:
		t := header.TCP(l4)
		if !t.Valid() {
			r.verdict = dropBadL4
			return r
		}
		m.SrcPort, m.DstPort, m.TCPFlags = t.SrcPort(), t.DstPort(), t.Flags()
	case header.ProtoUDP:
		u := header.UDP(l4)
		if !u.Valid() {
			r.verdict = dropBadL4
			return r
		}
		m.SrcPort, m.DstPort = u.SrcPort(), u.DstPort()
	case header.ProtoICMP:
		if len(l4) < header.ICMPv4MinLen {
			r.verdict = dropBadL4
			return r
		}
		c := header.ICMPv4(l4)
		m.ICMPType, m.ICMPCode = c.Type(), c.Code()
		if header.IsQuery(c.Type()) {
			m.ICMPID = c.ID()
		}
	}
	r.l4Len = len(l4)
	return r
}

// gopacketParse runs decode (gopacket, screened by the views as parse does
// or not) and reads back the same things.
func gopacketParse(w *worker, frame []byte, screened bool) viewResult {
	r := viewResult{verdict: w.decode(frame, screened), arp: w.p.arp, frag: w.p.frag, l4Len: -1}
	if r.verdict != dropNone {
		return r
	}
	if r.arp {
		r.arpTarget, r.arpOK = w.gp.arpRequest()
		return r
	}
	r.meta, r.ipLen = w.p.meta, len(w.p.ip)
	if w.p.l4 != nil {
		r.l4Len = len(w.p.l4)
	}
	return r
}

// FuzzParseDifferential holds gopacket's decode against the project's
// header views: the same verdict (valid, or which drop) and the same
// addresses, protocol, length, ports, TCP flags and ICMP fields. gopacket
// judges alone (unscreened), and as parse runs it, after the views' screen
// (which must then never find gopacket refusing a frame it passed). The
// input is a whole frame, virtio-net header first.
func FuzzParseDifferential(f *testing.F) {
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	for _, s := range [][]byte{
		frame(f, mac, mac, "10.0.1.10", "10.0.2.10", &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 7, Seq: 1}, gopacket.Payload("ping")),
		frame(f, mac, mac, "10.0.1.10", "10.0.2.10", &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, 3)}),
		frame(f, mac, mac, "10.0.1.10", "10.0.2.10", synFiveOptions()),
		frame(f, mac, mac, "10.0.1.10", "10.0.2.10", &layers.TCP{SrcPort: 1, DstPort: 2, ACK: true, FIN: true}, gopacket.Payload("x")),
		frame(f, mac, mac, "10.0.1.10", "10.0.2.10", &layers.UDP{SrcPort: 1, DstPort: 53}, gopacket.Payload("q")),
		frame(f, mac, mac, "10.0.1.10", "10.0.2.10", &layers.UDP{SrcPort: 4789, DstPort: 4789}, gopacket.Payload("vxlan...")),
		ipFrame(f, mac, mac, "10.0.1.10", "10.0.2.10", sevenIPv4Options, 0, &layers.UDP{SrcPort: 1, DstPort: 2}),
		ipFrame(f, mac, mac, "10.0.1.10", "10.0.2.10", nil, layers.IPProtocolIPv4, gopacket.Payload([]byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8})),
		ipFrame(f, mac, mac, "10.0.1.10", "10.0.2.10", nil, layers.IPProtocolGRE, gopacket.Payload("gre")),
		func() []byte { // a first fragment
			g := frame(f, mac, mac, "10.0.1.10", "10.0.2.10", &layers.UDP{SrcPort: 1, DstPort: 2}, gopacket.Payload(make([]byte, 64)))
			g[ipOff+6] = 0x20
			return g
		}(),
		func() []byte { // a non-first fragment
			g := frame(f, mac, mac, "10.0.1.10", "10.0.2.10", &layers.UDP{SrcPort: 1, DstPort: 2}, gopacket.Payload(make([]byte, 64)))
			g[ipOff+7] = 3
			return g
		}(),
		func() []byte { // an ARP request
			a := make([]byte, ipOff+header.ARPLen)
			header.Ethernet(a[header.VnetHdrLen:]).SetEtherType(header.EtherTypeARP)
			copy(a[ipOff:], []byte{0, 1, 8, 0, 6, 4, 0, 1})
			header.ARP(a[ipOff:]).SetTarget(make([]byte, 6), netip.MustParseAddr("10.0.1.1"))
			return a
		}(),
		{},
	} {
		f.Add(s)
	}
	w := &worker{}
	f.Fuzz(func(t *testing.T, data []byte) {
		want := viewParse(data)
		if want.verdict != dropNone { // a drop: only the verdict counts
			want = viewResult{verdict: want.verdict, l4Len: -1}
		}
		for _, screened := range []bool{false, true} {
			if got := gopacketParse(w, data, screened); got != want {
				t.Fatalf("frame % x (screened %v)\ngopacket %+v\n   views %+v", data, screened, got, want)
			}
		}
	})
}
