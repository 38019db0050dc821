package dataplane

// Stage 1, parse, and the frames the forwarder makes itself, with gopacket.
//
// Each worker owns a codec: gopacket layers (Ethernet, ARP, IPv4, TCP, UDP,
// ICMPv4), one DecodingLayerParser over them and the slice of layer types it
// decoded, all made once, on the worker's first frame. parse decodes a frame
// into those layers and fills the packet's policy view (addresses, ports,
// flags, ICMP fields) from them; the decision stages read that view and
// never the bytes. Nothing per frame allocates: the layers point into the
// frame, the option slices of IPv4 and TCP have room for the most options a
// header can hold (40 one-byte options), and the decoded slice is reused.
//
// What is a valid frame is what gopacket decodes, plus what it lets through
// and vpcnet does not: a version other than 4, a total length of 0 (which
// gopacket takes as "the rest of the frame") or beyond the frame (which it
// marks truncated). The project's header views say the same thing
// (header.IPv4.OptionsValid, header.TCP.Valid, header.UDP.Valid), and
// FuzzParseDifferential holds the two to the same verdicts and fields. The
// views also screen each frame before gopacket sees it (screen): gopacket's
// decoders allocate an error for a bad header, so a flood of bad frames
// would make garbage; screened, a bad frame is a drop that allocates
// nothing, and gopacket decodes only what it accepts.
//
// The rewrites (NAT gateway, internet gateway, local gateway) stay in the
// project's own code (nat/, header/): they change the frame's bytes in place
// with incremental checksums (RFC 1624), which gopacket does not do. After
// each one the worker decodes the frame again (reparse), so that the layers
// and the policy view always describe the bytes as they are.
//
// ARP replies and the NAT gateway's RSTs are built with gopacket's
// SerializeLayers into the codec's own serialize buffer, which keeps its
// storage across Clear: after the first frame, building allocates nothing.
// vpcnet builds no ICMP errors.

import (
	"encoding/binary"
	"net/netip"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/vpcnet/vpcnet/dataplane/header"
)

// maxOptions is the most options an IPv4 or TCP header can carry: 40 bytes
// of one-byte options.
const maxOptions = 40

// ipv4Layer is gopacket's IPv4 layer, with the next layer limited to the
// ones the forwarder reads: TCP, UDP or ICMPv4 in a packet that is not a
// non-first fragment. gopacket's own would decode an IP-in-IP packet's
// inner header into the same layer, over the outer one, and would not
// decode the L4 header of a first fragment, which frag.go needs.
type ipv4Layer struct{ layers.IPv4 }

func (l *ipv4Layer) NextLayerType() gopacket.LayerType {
	if l.FragOffset != 0 {
		return gopacket.LayerTypeFragment
	}
	switch l.Protocol {
	case layers.IPProtocolTCP:
		return layers.LayerTypeTCP
	case layers.IPProtocolUDP:
		return layers.LayerTypeUDP
	case layers.IPProtocolICMPv4:
		return layers.LayerTypeICMPv4
	}
	return gopacket.LayerTypePayload
}

// codec is a worker's gopacket state: the layers a frame decodes into, the
// parser, and the layers and buffer of the frames the worker builds. Only
// its worker uses it. The decoded layers point into the frame last parsed
// and are valid until the next parse; a built frame lives in out until the
// next build.
type codec struct {
	parser  *gopacket.DecodingLayerParser
	decoded []gopacket.LayerType
	eth     layers.Ethernet
	arp     layers.ARP
	ip4     ipv4Layer
	tcp     layers.TCP
	udp     layers.UDP
	icmp    layers.ICMPv4

	out                  gopacket.SerializeBuffer
	outEth               layers.Ethernet
	outARP               layers.ARP
	outIP                layers.IPv4
	outTCP               layers.TCP
	ethSrc, ethDst, hwTo [6]byte
	ipFrom, ipTo         [4]byte
}

var (
	serializeOpts = gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	zeroMAC       [6]byte
)

func newCodec() *codec {
	c := &codec{decoded: make([]gopacket.LayerType, 0, 4)}
	c.ip4.Options = make([]layers.IPv4Option, 0, maxOptions)
	c.tcp.Options = make([]layers.TCPOption, 0, maxOptions)
	c.parser = gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet)
	c.parser.SetDecodingLayerContainer(gopacket.DecodingLayerSparse(nil))
	for _, l := range []gopacket.DecodingLayer{&c.eth, &c.arp, &c.ip4, &c.tcp, &c.udp, &c.icmp} {
		c.parser.AddDecodingLayer(l)
	}
	c.parser.IgnoreUnsupported = true // decoding stops at a layer it has no decoder for
	// Room for the largest frame built: virtio-net, Ethernet, IPv4 and TCP
	// headers prepended, Ethernet padding appended.
	c.out = gopacket.NewSerializeBufferExpectedSize(header.VnetHdrLen+header.EthernetLen+header.IPv4MinLen+header.TCPMinLen, 64)
	return c
}

// parse decodes frame (virtio-net header first) into the worker's layers
// and fills w.p (stage 1). A frame that is not IPv4 or ARP, or whose IPv4 or
// L4 header is bad, is a named drop; an ARP frame sets w.p.arp and is
// judged by arp.
func (w *worker) parse(frame []byte) dropReason { return w.decode(frame, true) }

// decode is parse. With screened false the frame goes to gopacket
// unscreened, and gopacket alone judges it (FuzzParseDifferential).
func (w *worker) decode(frame []byte, screened bool) dropReason {
	c := w.gp
	if c == nil {
		c = newCodec() // once per worker
		w.gp = c
	}
	p := &w.p
	p.frame, p.ip, p.l4, p.arp, p.frag = frame, nil, nil, false, false
	c.decoded = c.decoded[:0]
	if len(frame) < ipOff {
		return dropShort
	}
	p.partial = header.VnetHdr(frame).NeedsCsum()
	if screened {
		switch r := screen(frame); r {
		case dropNone:
		case dropARP:
			p.arp = true // nothing decoded: arp refuses it
			return dropNone
		default:
			return r
		}
	}
	// The outcome is read from the layers decoded, not from the error: a
	// layer is in c.decoded only when it decoded whole.
	_ = c.parser.DecodeLayers(frame[header.VnetHdrLen:], &c.decoded)
	n := len(c.decoded)
	switch c.eth.EthernetType {
	case layers.EthernetTypeARP:
		p.arp = true
		return dropNone
	case layers.EthernetTypeIPv4:
	default:
		return dropEtherType
	}
	ip := &c.ip4
	if n < 2 || ip.Version != 4 || binary.BigEndian.Uint16(ip.Contents[2:]) == 0 || int(ip.Length) > len(c.eth.Payload) {
		return dropBadIPv4
	}
	tl := int(ip.Length)
	p.ip = header.IPv4(c.eth.Payload[:tl])
	// Field by field: a composite literal is built on the stack and copied
	// with 16-byte moves that wait on its 8-byte stores (store forwarding).
	m := &p.meta
	m.Src, m.Dst = netip.AddrFrom4([4]byte(ip.SrcIP)), netip.AddrFrom4([4]byte(ip.DstIP))
	m.Proto, m.Len = uint8(ip.Protocol), tl
	m.SrcPort, m.DstPort, m.ICMPType, m.ICMPCode, m.ICMPID, m.TCPFlags = 0, 0, 0, 0, 0, 0
	if ip.FragOffset != 0 {
		p.frag = true
		return dropNone // addresses and protocol only; fragment() does the rest
	}
	switch ip.Protocol {
	case layers.IPProtocolTCP:
		if n < 3 {
			return dropBadL4
		}
		t := &c.tcp
		m.SrcPort, m.DstPort, m.TCPFlags = uint16(t.SrcPort), uint16(t.DstPort), t.Contents[13]
	case layers.IPProtocolUDP:
		if n < 3 {
			return dropBadL4
		}
		m.SrcPort, m.DstPort = uint16(c.udp.SrcPort), uint16(c.udp.DstPort)
	case layers.IPProtocolICMPv4:
		if n < 3 {
			return dropBadL4
		}
		typ := c.icmp.TypeCode.Type()
		m.ICMPType, m.ICMPCode = typ, c.icmp.TypeCode.Code()
		if header.IsQuery(typ) {
			m.ICMPID = c.icmp.Id
		}
	}
	p.l4 = ip.Payload
	return dropNone
}

// screen judges a frame of at least ipOff bytes with the project's header
// views before gopacket sees it, with gopacket's verdicts
// (FuzzParseDifferential holds them equal): a frame gopacket would refuse
// never reaches it, because its decoders' errors allocate (fmt.Errorf) and
// its ARP decoder can panic on a crafted length (recovered, allocating
// too). So a bad frame is a drop that allocates nothing. dropARP: an ARP
// frame that is not Ethernet/IPv4.
func screen(frame []byte) dropReason {
	switch header.Ethernet(frame[header.VnetHdrLen:]).EtherType() {
	case header.EtherTypeARP:
		if !header.ARP(frame[ipOff:]).Valid() {
			return dropARP
		}
		return dropNone
	case header.EtherTypeIPv4:
	default:
		return dropEtherType
	}
	ip := header.IPv4(frame[ipOff:])
	if len(ip) < header.IPv4MinLen || ip.Version() != 4 {
		return dropBadIPv4
	}
	hl, tl := ip.HeaderLen(), ip.TotalLen()
	if hl < header.IPv4MinLen || tl < hl || tl > len(ip) || hl > header.IPv4MinLen && !ip.OptionsValid() {
		return dropBadIPv4
	}
	if ip.FragOffset() != 0 {
		return dropNone
	}
	l4 := ip[hl:tl]
	switch ip.Protocol() {
	case header.ProtoTCP:
		if !header.TCP(l4).Valid() {
			return dropBadL4
		}
	case header.ProtoUDP:
		if !header.UDP(l4).Valid() {
			return dropBadL4
		}
	case header.ProtoICMP:
		if len(l4) < header.ICMPv4MinLen {
			return dropBadL4
		}
	}
	return dropNone
}

// reparse decodes the frame again after a rewrite changed its addresses,
// ports or ICMP id, so that the layers and w.p.meta follow it. A non-first
// fragment keeps the L4 fields it took from its first fragment (frag.go)
// and from the NAT gateway (fragPort).
func (w *worker) reparse() {
	if !w.p.frag {
		w.parse(w.p.frame)
		return
	}
	m := &w.p.meta
	sp, dp, it, ic, id, fl := m.SrcPort, m.DstPort, m.ICMPType, m.ICMPCode, m.ICMPID, m.TCPFlags
	w.parse(w.p.frame)
	m.SrcPort, m.DstPort, m.ICMPType, m.ICMPCode, m.ICMPID, m.TCPFlags = sp, dp, it, ic, id, fl
}

// arpRequest returns the target address of the ARP frame just parsed when
// it is an Ethernet/IPv4 request (ADDR-3); anything else is not answered.
func (c *codec) arpRequest() (netip.Addr, bool) {
	a := &c.arp
	// The hardware type is read from the bytes: gopacket's LinkType is
	// 8 bits wide: any type whose low byte is 1 would pass for Ethernet
	// (FuzzParseDifferential found it).
	if len(c.decoded) != 2 || binary.BigEndian.Uint16(a.Contents) != 1 || a.Protocol != layers.EthernetTypeIPv4 ||
		a.HwAddressSize != 6 || a.ProtAddressSize != 4 || a.Operation != layers.ARPRequest {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte(a.DstProtAddress)), true
}

// arpReply builds the answer to the ARP request just parsed: target is at
// mac. It goes back to the requester's Ethernet source. The frame (with a
// cleared virtio-net header) is valid until the next build; nil if
// gopacket refuses it.
func (c *codec) arpReply(mac []byte, target netip.Addr) []byte {
	req := &c.arp
	copy(c.ethSrc[:], mac)
	copy(c.ethDst[:], c.eth.SrcMAC)
	copy(c.hwTo[:], req.SourceHwAddress)
	c.ipFrom = target.As4()
	c.ipTo = [4]byte(req.SourceProtAddress)
	c.outEth = layers.Ethernet{SrcMAC: c.ethSrc[:], DstMAC: c.ethDst[:], EthernetType: layers.EthernetTypeARP}
	c.outARP = layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
		Operation: layers.ARPReply, SourceHwAddress: c.ethSrc[:], SourceProtAddress: c.ipFrom[:],
		DstHwAddress: c.hwTo[:], DstProtAddress: c.ipTo[:]}
	if gopacket.SerializeLayers(c.out, serializeOpts, &c.outEth, &c.outARP) != nil {
		return nil
	}
	return c.vnet()
}

// rst builds the RST that answers the TCP segment just parsed (NAT-4), as
// RFC 9293 section 3.10.7.1 prescribes: addresses and ports swapped; seq =
// SEG.ACK if the segment has ACK, else seq 0 with ACK = SEG.SEQ + SEG.LEN;
// TTL 64, DF set, full checksums. It returns nil when the frame parsed is
// not a whole TCP segment with its header (a non-first fragment) or is
// itself a RST: a RST is never answered. nat.BuildRST writes the same
// bytes (TestNAT4_RSTBuiltLikeBuildRST). The frame is valid until the next
// build.
func (c *codec) rst() []byte {
	in := &c.tcp
	if len(c.decoded) != 3 || c.decoded[2] != layers.LayerTypeTCP || in.RST {
		return nil
	}
	// Everything is read from the segment before the buffer is cleared:
	// the segment may itself be a frame built there.
	c.ipFrom, c.ipTo = [4]byte(c.ip4.DstIP), [4]byte(c.ip4.SrcIP)
	c.outTCP = layers.TCP{SrcPort: in.DstPort, DstPort: in.SrcPort, RST: true}
	if in.ACK {
		c.outTCP.Seq = in.Ack
	} else {
		n := uint32(len(in.Payload))
		if in.SYN {
			n++
		}
		if in.FIN {
			n++
		}
		c.outTCP.Ack, c.outTCP.ACK = in.Seq+n, true
	}
	c.outIP = layers.IPv4{Version: 4, TTL: 64, Flags: layers.IPv4DontFragment, Protocol: layers.IPProtocolTCP,
		SrcIP: c.ipFrom[:], DstIP: c.ipTo[:]}
	c.outTCP.SetNetworkLayerForChecksum(&c.outIP)
	// The MACs are the route's to set (deliver).
	c.outEth = layers.Ethernet{SrcMAC: zeroMAC[:], DstMAC: zeroMAC[:], EthernetType: layers.EthernetTypeIPv4}
	if gopacket.SerializeLayers(c.out, serializeOpts, &c.outEth, &c.outIP, &c.outTCP) != nil {
		return nil
	}
	return c.vnet()
}

// vnet prepends a cleared virtio-net header to the frame just built and
// returns the whole frame.
func (c *codec) vnet() []byte {
	h, err := c.out.PrependBytes(header.VnetHdrLen)
	if err != nil {
		return nil
	}
	clear(h)
	return c.out.Bytes()
}
