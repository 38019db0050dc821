package dataplane

// The forwarding pipeline. A frame read from a port goes through these stages
// in order; each one either passes it on or drops it under a named reason.
//
//  1. parse      validate the virtio-net, Ethernet and IPv4 headers, read the L4 ports;
//                give a non-first IPv4 fragment its first fragment's ports (frag.go)
//  2. arp        answer ARP for the subnet router and same-subnet ENIs (ADDR-3)
//  3. egress     source/dest check (ENI-4) and security-group egress with
//                connection tracking (SG-2, SG-4) at the sending ENI
//  4. route      same subnet: direct (RT-5); else longest prefix match in the
//                subnet's route table (RT-1, RT-2, RT-3, RT-6)
//  5. edge       network ACLs where the frame leaves its subnet and enters the
//                next (NACL-1, NACL-4)
//  6. ingress    source/dest check and security-group ingress at the receiving
//                ENI (ENI-4, SG-2)
//  7. translate  NAT gateway SNAT (NAT-2..NAT-5) and internet gateway 1:1 NAT
//                (IGW-1, IGW-2), the emulated internet (IGW-4); a local
//                gateway's 1:1 NAT to customer-owned IPs and the
//                on-premises network (COIP-5, lgw.go)
//  8. deliver    rewrite the Ethernet addresses and write to the port
//
// Stages 4 to 8 repeat when a frame crosses a NAT gateway or the internet
// gateway: those are hops inside the forwarder, bounded by maxHops.

import (
	"net/netip"
	"time"

	"github.com/vpcnet/vpcnet/dataplane/header"
	"github.com/vpcnet/vpcnet/dataplane/policy"
	"github.com/vpcnet/vpcnet/nat"
)

const (
	ipOff   = header.VnetHdrLen + header.EthernetLen // IPv4 header offset in a frame
	maxHops = 8
)

// packet is the parsed view of the frame a worker is handling. It lives in
// the worker and is reset per frame.
type packet struct {
	frame   []byte // virtio-net header + Ethernet frame
	ip      header.IPv4
	l4      []byte // L4 header and payload; nil for non-first fragments
	partial bool   // NEEDS_CSUM: the L4 checksum field holds a pseudo-header sum
	// frag: a non-first IPv4 fragment. Its meta's L4 fields are its first
	// fragment's (frag.go), and follow that fragment's translations.
	frag bool
	meta policy.Packet
}

// worker runs the pipeline for frames read from one port. It owns its
// buffers; nothing in the per-frame path allocates.
type worker struct {
	f       *Forwarder
	port    Port
	id      string // ENI id or internet host name the port belongs to
	queue   int    // which queue of the port this worker reads
	bufs    [][]byte
	sizes   []int
	out     [1][]byte
	scratch []byte // for ARP replies and NAT RSTs
	p       packet
	now     int64
	flows   *flowTable // flow-log records (OBS-1); nil when flow logs are off
	frags   *fragTable // datagrams in flight (frag.go); nil until the first fragment
}

// handle runs one frame through the pipeline.
func (w *worker) handle(cfg *config, frame []byte) {
	f := w.f
	f.stages[stageParse].Add(1)
	if len(frame) < ipOff {
		w.dropIn(cfg, dropShort)
		return
	}
	eth := header.Ethernet(frame[header.VnetHdrLen:])
	switch eth.EtherType() {
	case header.EtherTypeARP:
		w.arp(cfg, frame)
		return
	case header.EtherTypeIPv4:
	default:
		w.dropIn(cfg, dropEtherType)
		return
	}
	if r := w.parse(frame); r != dropNone {
		w.dropIn(cfg, r)
		return
	}
	if r := w.fragment(); r != dropNone {
		w.dropIn(cfg, r)
		return
	}
	if e := cfg.eniByID[w.id]; e != nil {
		e.st.ctr.rxFrames.Add(1)
		e.st.ctr.rxBytes.Add(uint64(len(frame) - header.VnetHdrLen))
		w.fromENI(cfg, e, 0)
		return
	}
	if h := cfg.hostByName[w.id]; h != nil {
		h.ctr.rxFrames.Add(1)
		h.ctr.rxBytes.Add(uint64(len(frame) - header.VnetHdrLen))
		if w.p.meta.Src != h.ip {
			h.ctr.drop(dropSpoofedHost)
			return
		}
		if h.lgw != nil {
			w.fromOnPremises(cfg, h) // lgw.go
			return
		}
		w.internet(cfg, h.ctr, 0)
		return
	}
	if s := cfg.svcByID[w.id]; s != nil {
		s.ctr.rxFrames.Add(1)
		s.ctr.rxBytes.Add(uint64(len(frame) - header.VnetHdrLen))
		w.fromService(cfg, s)
	}
}

// dropIn counts a drop against the endpoint the frame came from.
func (w *worker) dropIn(cfg *config, r dropReason) {
	if c := cfg.countersOf(w.id); c != nil {
		c.drop(r)
	}
}

// parse validates the IPv4 header and fills w.p (stage 1). A bad header is a
// counted drop, never a panic.
func (w *worker) parse(frame []byte) dropReason {
	p := &w.p
	p.frame = frame
	vh := header.VnetHdr(frame)
	p.partial = vh.NeedsCsum()
	ip := header.IPv4(frame[ipOff:])
	if len(ip) < header.IPv4MinLen || ip.Version() != 4 {
		return dropBadIPv4
	}
	hl := ip.HeaderLen()
	tl := ip.TotalLen()
	if hl < header.IPv4MinLen || tl < hl || tl > len(ip) {
		return dropBadIPv4
	}
	p.ip = ip[:tl]
	m := &p.meta
	*m = policy.Packet{Src: ip.Src(), Dst: ip.Dst(), Proto: ip.Protocol(), Len: tl}
	p.l4 = nil
	p.frag = ip.FragOffset() != 0
	if p.frag {
		return dropNone // addresses and protocol only; fragment() does the rest
	}
	l4 := ip[hl:tl]
	switch m.Proto {
	case header.ProtoTCP:
		if len(l4) < header.TCPMinLen {
			return dropBadL4
		}
		t := header.TCP(l4)
		m.SrcPort, m.DstPort, m.TCPFlags = t.SrcPort(), t.DstPort(), t.Flags()
	case header.ProtoUDP:
		if len(l4) < header.UDPLen {
			return dropBadL4
		}
		u := header.UDP(l4)
		m.SrcPort, m.DstPort = u.SrcPort(), u.DstPort()
	case header.ProtoICMP:
		if len(l4) < header.ICMPv4MinLen {
			return dropBadL4
		}
		c := header.ICMPv4(l4)
		m.ICMPType, m.ICMPCode = c.Type(), c.Code()
		if header.IsQuery(c.Type()) {
			m.ICMPID = c.ID()
		}
	}
	p.l4 = l4
	return dropNone
}

// reparse refreshes the addresses and ports of w.p.meta after a rewrite. A
// non-first fragment has no ports to read: it keeps its first fragment's.
func (w *worker) reparse() {
	if w.p.frag {
		w.p.meta.Src, w.p.meta.Dst = w.p.ip.Src(), w.p.ip.Dst()
		return
	}
	w.parse(w.p.frame)
}

// arp answers ARP requests from instances and internet hosts (stage 2,
// ADDR-3). The reply goes back out of the port the request came in on.
func (w *worker) arp(cfg *config, frame []byte) {
	w.f.stages[stageARP].Add(1)
	a := header.ARP(frame[ipOff:])
	if !a.Valid() || a.Op() != header.ARPRequest {
		w.dropIn(cfg, dropARP)
		return
	}
	target := a.TargetIP()
	var mac []byte
	if e := cfg.eniByID[w.id]; e != nil {
		s := e.subnet
		switch {
		case target == s.router, target == s.vpc.svc.dns:
			// The DNS server at base + 2 answers behind the router (DNS-1).
			mac = s.routerMAC[:]
		case s.prefix.Contains(target):
			if o := s.vpc.byIP[target]; o != nil && o.subnet == s && o != e {
				mac = o.mac[:]
			}
		}
	} else if h := cfg.hostByName[w.id]; h != nil && target != h.ip {
		mac = cfg.internetMAC[:] // the emulated internet routes everything
	} else if sv := cfg.svcByID[w.id]; sv != nil && !sv.vpc.isService(target) {
		mac = serviceGatewayMAC[:] // a service namespace routes everything to the forwarder
	}
	if mac == nil {
		w.dropIn(cfg, dropARP)
		return
	}
	r := w.scratch[:ipOff+header.ARPLen]
	header.VnetHdr(r).Clear()
	eth := header.Ethernet(r[header.VnetHdrLen:])
	req := header.Ethernet(frame[header.VnetHdrLen:])
	eth.SetDst(req.Src())
	eth.SetSrc(mac)
	eth.SetEtherType(header.EtherTypeARP)
	ra := header.ARP(r[ipOff:])
	copy(ra, a[:header.ARPLen])
	ra.SetOp(header.ARPReply)
	ra.SetTarget(a.SenderMAC(), a.SenderIP())
	ra.SetSender(mac, target)
	w.out[0] = r
	w.port.Write(w.out[:], 0)
}

// fromENI handles a frame an ENI sends (stage 3), then routes it.
func (w *worker) fromENI(cfg *config, e *eniCfg, hops int) {
	f := w.f
	m := &w.p.meta
	f.stages[stageSrcDst].Add(1)
	// ENI-4: on egress the source must be one of the ENI's own addresses.
	if e.srcDstCheck && !e.hasIP(m.Src) {
		e.st.ctr.drop(dropSrcDstEgress)
		return
	}
	// SG-8: the VPC's DNS server and metadata service, unfiltered.
	if e.vpc.isService(m.Dst) {
		w.toService(e)
		return
	}
	if e.st.tracker != nil {
		f.stages[stageSG].Add(1)
		if r := e.st.tracker.Egress(m, w.now); r != policy.Allow {
			w.dropSG(e, r)
			if r != policy.DropConntrackFull {
				w.record(e, true)
			}
			return
		}
	}
	w.route(cfg, e.subnet, e, hops)
}

// dropSG counts a security-group or conntrack drop with what caused it: the
// ENI's groups, whose union allowed nothing (SG-2).
func (w *worker) dropSG(e *eniCfg, v policy.Verdict) {
	switch v {
	case policy.DropConntrackFull:
		e.st.ctr.drop(dropConntrackFull)
	case policy.DropEgress:
		e.st.ctr.dropDetail(dropSGEgress, e.groupNames, 0)
	default:
		e.st.ctr.dropDetail(dropSGIngress, e.groupNames, 0)
	}
}

// route picks the next hop for a frame leaving subnet s (stage 4). from is
// the sending ENI (for NACL and Ethernet source), never nil here.
func (w *worker) route(cfg *config, s *subnetCfg, from *eniCfg, hops int) {
	f := w.f
	f.stages[stageRoute].Add(1)
	if hops >= maxHops {
		from.st.ctr.drop(dropHopLimit)
		return
	}
	to, igw, drop, r := s.nextHop(w.p.meta.Dst)
	switch {
	case drop != dropNone:
		w.unrouted(from, drop)
	case igw:
		w.toIGW(cfg, s, from, hops)
	case r != nil && r.kind == routeLGW:
		w.toLGW(cfg, s, from, r.lgw) // lgw.go
	default:
		w.toENI(cfg, s, from, to, hops)
	}
}

// unrouted counts a drop by the VPC router of a frame its sender's groups
// let out. The frame did leave the ENI, so its flow-log record there is
// ACCEPT (OBS-1), as on AWS.
func (w *worker) unrouted(from *eniCfg, r dropReason) {
	from.st.ctr.drop(r)
	w.record(from, false)
}

// naclOut and naclIn apply a subnet's network ACL where a frame leaves or
// enters it (stage 5, NACL-1, NACL-4). They count the drop and report
// whether the frame may go on.
func (w *worker) naclOut(s *subnetCfg, c *counters) bool {
	w.f.stages[stageNACL].Add(1)
	if ok, rule := s.nacl.acl.Check(true, &w.p.meta); !ok {
		c.dropDetail(dropNACLEgress, s.nacl.id, int32(rule))
		return false
	}
	return true
}

func (w *worker) naclIn(s *subnetCfg, c *counters) bool {
	w.f.stages[stageNACL].Add(1)
	if ok, rule := s.nacl.acl.Check(false, &w.p.meta); !ok {
		c.dropDetail(dropNACLIngress, s.nacl.id, int32(rule))
		return false
	}
	return true
}

// toENI carries a frame from subnet s (sent by from, nil when it comes from
// the internet gateway) to ENI to: NACLs at the subnet edges, then the
// receiver's checks (stage 6), then NAT gateway or delivery.
func (w *worker) toENI(cfg *config, s *subnetCfg, from, to *eniCfg, hops int) {
	f := w.f
	m := &w.p.meta
	if s != to.subnet {
		// NACL-4: leaving s and entering to's subnet; never within one subnet.
		if s != nil && !w.naclOut(s, &from.st.ctr) {
			w.record(from, true)
			return
		}
	}
	if from != nil {
		w.record(from, false) // it left the sender's side (OBS-1)
	}
	if s != to.subnet && !w.naclIn(to.subnet, &to.st.ctr) {
		w.record(to, true)
		return
	}
	f.stages[stageSrcDst].Add(1)
	// ENI-4: on ingress the destination must be one of the ENI's addresses.
	if to.srcDstCheck && !to.hasIP(m.Dst) {
		to.st.ctr.drop(dropSrcDstIngress)
		return
	}
	if to.st.tracker != nil {
		f.stages[stageSG].Add(1)
		if r := to.st.tracker.Ingress(m, w.now); r != policy.Allow {
			w.dropSG(to, r)
			if r != policy.DropConntrackFull {
				w.record(to, true)
			}
			return
		}
	}
	w.record(to, false)
	if to.nat != nil {
		w.natGateway(cfg, to.nat, hops)
		return
	}
	srcMAC := &to.subnet.routerMAC
	if from != nil && s == to.subnet && from.port != nil {
		srcMAC = &from.mac // same subnet: the frame keeps its sender's MAC
	}
	w.deliver(to.port, &to.st.ctr, to.mac[:], srcMAC[:])
}

// deliver writes the frame to a port (stage 8).
func (w *worker) deliver(port Port, c *counters, dstMAC, srcMAC []byte) {
	w.f.stages[stageDeliver].Add(1)
	if port == nil {
		c.drop(dropNoPort)
		return
	}
	eth := header.Ethernet(w.p.frame[header.VnetHdrLen:])
	eth.SetDst(dstMAC)
	eth.SetSrc(srcMAC)
	w.out[0] = w.p.frame
	var err error
	if qw, ok := port.(queueWriter); ok {
		_, err = qw.WriteQueue(w.queue, w.out[:], 0)
	} else {
		_, err = port.Write(w.out[:], 0)
	}
	if err != nil {
		c.drop(writeDrop(err)) // port-write-refused or tx-error
		return
	}
	c.txFrames.Add(1)
	c.txBytes.Add(uint64(len(w.p.frame) - header.VnetHdrLen))
}

// toIGW sends a frame from subnet s out through the VPC's internet gateway
// (stage 7): 1:1 NAT of the source to its public IP (IGW-1), or a drop when
// it has none (IGW-2).
func (w *worker) toIGW(cfg *config, s *subnetCfg, from *eniCfg, hops int) {
	f := w.f
	v := s.vpc
	if v.igw == nil {
		w.unrouted(from, dropNoIGW)
		return
	}
	if !w.naclOut(s, &from.st.ctr) {
		w.record(from, true)
		return
	}
	w.record(from, false)
	f.stages[stageIGW].Add(1)
	pub, ok := v.igw.public[w.p.meta.Src]
	if !ok {
		from.st.ctr.drop(dropNoPublicIP) // IGW-2, and NAT-1 for private NAT gateways
		return
	}
	nat.RewriteSrcAddr(w.p.ip, pub, w.p.partial)
	w.reparse()
	w.internet(cfg, &from.st.ctr, hops+1)
}

// internet routes a frame on the emulated internet: to a host, or to the
// internet gateway that owns the public destination (IGW-4: private
// destinations are not routable). c counts drops.
func (w *worker) internet(cfg *config, c *counters, hops int) {
	if hops >= maxHops {
		c.drop(dropHopLimit)
		return
	}
	dst := w.p.meta.Dst
	if isPrivate(dst) {
		c.drop(dropNotRoutable)
		return
	}
	if h := cfg.hosts[dst]; h != nil {
		w.deliver(h.port, h.ctr, h.mac[:], cfg.internetMAC[:])
		return
	}
	v := cfg.publicOwner[dst]
	if v == nil {
		// An address of an AWS pool that no EIP or public IP holds: the
		// IGW drops it (IGW-2); elsewhere there is simply no such host.
		reason := dropNoInternetHost
		for _, p := range cfg.pools {
			if p.Contains(dst) {
				reason = dropNoAssociation
				break
			}
		}
		c.drop(reason)
		return
	}
	w.fromIGW(cfg, v, c, hops)
}

// fromIGW brings a frame from the internet into VPC v: the public
// destination becomes the private IP (IGW-1), or the frame drops (IGW-2).
func (w *worker) fromIGW(cfg *config, v *vpcCfg, c *counters, hops int) {
	w.f.stages[stageIGW].Add(1)
	priv, ok := v.igw.private[w.p.meta.Dst]
	if !ok {
		c.drop(dropNoAssociation)
		return
	}
	to := v.byIP[priv]
	if to == nil {
		c.drop(dropNoAssociation)
		return
	}
	nat.RewriteDstAddr(w.p.ip, priv, w.p.partial)
	w.reparse()
	w.toENI(cfg, nil, nil, to, hops+1)
}

// natGateway runs a frame that reached a NAT gateway's ENI (stage 7): a reply
// to one of its addresses is translated back to the instance; anything else
// was routed to it and is translated to the gateway's address (NAT-2). Then
// the gateway's routing ENI sends it on.
func (w *worker) natGateway(cfg *config, g *natCfg, hops int) {
	f := w.f
	f.stages[stageNAT].Add(1)
	c := &g.eni.st.ctr
	c.rxFrames.Add(1)
	c.rxBytes.Add(uint64(len(w.p.frame) - header.VnetHdrLen))
	m := &w.p.meta
	inbound := g.eni.hasIP(m.Dst)
	var v nat.Verdict
	switch {
	case w.p.frag:
		// Its first fragment's connection; only the IPv4 header changes.
		first := nat.FirstFragment{SrcPort: m.SrcPort, DstPort: m.DstPort, ICMPType: m.ICMPType, ICMPID: m.ICMPID}
		var port uint16
		if inbound {
			v, port = g.gw.InboundFragment(w.p.ip, first, w.now)
		} else {
			v, port = g.gw.OutboundFragment(w.p.ip, first, w.now)
		}
		if v == nat.OK {
			w.fragPort(port, inbound)
		}
	case inbound:
		v = g.gw.Inbound(w.p.ip, w.p.partial, w.now)
	default:
		v = g.gw.Outbound(w.p.ip, w.p.partial, w.now)
	}
	if v != nat.OK {
		c.drop(natDrop(v)) // named as the gateway's own counters name it (NAT-6)
		if v == nat.SendRST {
			w.natRST(cfg, g, hops)
		}
		return
	}
	w.reparse()
	c.txFrames.Add(1)
	c.txBytes.Add(uint64(len(w.p.frame) - header.VnetHdrLen))
	w.route(cfg, g.eni.subnet, g.eni, hops+1)
}

// fragPort sets the port (or ICMP id) that the NAT gateway gave a
// non-first fragment's connection, as its first fragment now carries it:
// the source side outbound, the destination side inbound.
func (w *worker) fragPort(port uint16, inbound bool) {
	m := &w.p.meta
	switch {
	case m.Proto == header.ProtoICMP:
		m.ICMPID = port
	case inbound:
		m.DstPort = port
	default:
		m.SrcPort = port
	}
}

// natDrops names the drop of each NAT verdict as the gateway's counters
// (nat.Stats.DropsByReason) do: one name for one drop.
var natDrops = [...]dropReason{
	nat.DropMalformed:      dropNATMalformed,
	nat.DropProtocol:       dropNATProtocol,
	nat.DropFragment:       dropNATFragment,
	nat.DropPortAllocation: dropNATPortAlloc,
	nat.DropUnsolicited:    dropNATUnsolicited,
	nat.SendRST:            dropNATIdle,
}

func natDrop(v nat.Verdict) dropReason {
	if int(v) < len(natDrops) && natDrops[v] != dropNone {
		return natDrops[v]
	}
	return dropNATUnsolicited
}

// natRST answers a TCP segment of an idle-expired NAT connection with a RST
// (NAT-4), sent from the gateway's ENI like any frame it emits.
func (w *worker) natRST(cfg *config, g *natCfg, hops int) {
	r := w.scratch
	n := nat.BuildRST(r[ipOff:], w.p.ip)
	if n == 0 {
		return
	}
	header.VnetHdr(r).Clear()
	eth := header.Ethernet(r[header.VnetHdrLen:])
	eth.SetEtherType(header.EtherTypeIPv4)
	if w.parse(r[:ipOff+n]) != dropNone {
		return
	}
	w.route(cfg, g.eni.subnet, g.eni, hops+1)
}

// isPrivate reports the ranges the internet does not route (IGW-4).
func isPrivate(a netip.Addr) bool {
	for _, p := range privateRanges {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

var privateRanges = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("100.64.0.0/10"),
}

// clock returns the time in nanoseconds for conntrack and NAT.
func clock() int64 { return time.Now().UnixNano() }
