package dataplane

// The forwarding pipeline. A frame read from a port goes through these stages
// in order; each one either passes it on or drops it under a named reason.
//
//  1. parse      decode Ethernet, ARP, IPv4 and the L4 header with gopacket into
//                the worker's layers (decode.go); give a non-first IPv4
//                fragment its first fragment's ports (frag.go)
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
	arp  bool // an ARP frame: arp judges it
	meta policy.Packet
}

// worker runs the pipeline for frames read from one port. It owns its
// buffers; nothing in the per-frame path allocates.
type worker struct {
	f     *Forwarder
	port  Port
	id    string // ENI id or internet host name the port belongs to
	queue int    // which queue of the port this worker reads
	bufs  [][]byte
	sizes []int
	out   [1][]byte
	gp    *codec // gopacket layers, parser and frame builder (decode.go); made on the first frame
	p     packet
	now   int64
	flows *flowTable // flow-log records (OBS-1); nil when flow logs are off
	frags *fragTable // datagrams in flight (frag.go); nil until the first fragment
	// Capture hooks (capture.go): taps is loaded once per frame, nil when
	// no capture runs; tapFrame is the frame a dropped-frame capture keeps.
	taps, tapsSeen *tapSet
	tapCtr         *counters
	tapFrame       []byte
	mir            *mirrorScratch // Traffic Mirroring's buffer (mirror.go); made on the first copy
	// Deferred writes (io_uring, the default; uring_linux.go): deliver queues a
	// frame in uw and endBatch writes the batch; nil: write at once.
	uw      *uringWriter
	uwTried bool // endBatch tried to make uw
	// tunnelled: the frame came from another machine and no gateway here
	// has translated it yet (tunnel.go): it may not go back to the underlay.
	// crossed: it came from another machine at all; sent on after a
	// translation, it loses a TTL (tunnel.go: a loop between machines ends).
	tunnelled, crossed bool
}

// handle runs one frame through the pipeline.
func (w *worker) handle(cfg *config, frame []byte) {
	f := w.f
	f.stages[stageParse].Add(1)
	w.tunnelled, w.crossed = false, false
	var tun *tunnelCfg
	if cfg.tunnels != nil {
		if tun = cfg.tunnels[w.id]; tun != nil && isHeartbeat(frame) {
			tun.peer.lastSeen.Store(w.now) // tunnel.go
			return
		}
	}
	if w.taps = f.taps.Load(); w.taps != nil {
		w.tapFrame = frame
		w.tapPort(cfg, frame) // capture.go
	}
	if len(frame) < ipOff {
		w.dropIn(cfg, dropShort)
		return
	}
	if r := w.parse(frame); r != dropNone { // decode.go
		w.dropIn(cfg, r)
		return
	}
	if w.p.arp {
		w.arp(cfg)
		return
	}
	if r := w.fragment(); r != dropNone {
		w.dropIn(cfg, r)
		return
	}
	if tun != nil {
		w.fromTunnel(cfg, tun) // tunnel.go
		return
	}
	if e := cfg.eniByID[w.id]; e != nil {
		e.st.ctr.rxFrames.Add(1)
		e.st.ctr.rxBytes.Add(uint64(len(frame) - header.VnetHdrLen))
		if e.mirrors != nil {
			w.mirror(e, true) // mirror.go: as sent, before any rewrite
		}
		w.fromENI(cfg, e, 0)
		return
	}
	if h := cfg.hostByName[w.id]; h != nil {
		h.ctr.rxFrames.Add(1)
		h.ctr.rxBytes.Add(uint64(len(frame) - header.VnetHdrLen))
		if w.p.meta.Src != h.ip {
			w.drop(h.ctr, dropSpoofedHost)
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
		w.drop(c, r)
	}
}

// arp answers ARP requests from instances and internet hosts (stage 2,
// ADDR-3). The reply goes back out of the port the request came in on.
func (w *worker) arp(cfg *config) {
	w.f.stages[stageARP].Add(1)
	target, ok := w.gp.arpRequest() // decode.go
	if !ok {
		w.dropIn(cfg, dropARP)
		return
	}
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
	r := w.gp.arpReply(mac, target) // built with gopacket (decode.go)
	if r == nil {
		return
	}
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
		w.drop(&e.st.ctr, dropSrcDstEgress)
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
		w.drop(&e.st.ctr, dropConntrackFull)
	case policy.DropEgress:
		w.dropDetail(&e.st.ctr, dropSGEgress, e.groupNames, 0)
	default:
		w.dropDetail(&e.st.ctr, dropSGIngress, e.groupNames, 0)
	}
}

// route picks the next hop for a frame leaving subnet s (stage 4). from is
// the sending ENI (for NACL and Ethernet source), never nil here.
func (w *worker) route(cfg *config, s *subnetCfg, from *eniCfg, hops int) {
	f := w.f
	f.stages[stageRoute].Add(1)
	if hops >= maxHops {
		w.drop(&from.st.ctr, dropHopLimit)
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
	w.drop(&from.st.ctr, r)
	w.record(from, false)
}

// naclOut and naclIn apply a subnet's network ACL where a frame leaves or
// enters it (stage 5, NACL-1, NACL-4). They count the drop and report
// whether the frame may go on.
func (w *worker) naclOut(s *subnetCfg, c *counters) bool {
	w.f.stages[stageNACL].Add(1)
	if ok, rule := s.nacl.acl.Check(true, &w.p.meta); !ok {
		w.dropDetail(c, dropNACLEgress, s.nacl.id, int32(rule))
		return false
	}
	return true
}

func (w *worker) naclIn(s *subnetCfg, c *counters) bool {
	w.f.stages[stageNACL].Add(1)
	if ok, rule := s.nacl.acl.Check(false, &w.p.meta); !ok {
		w.dropDetail(c, dropNACLIngress, s.nacl.id, int32(rule))
		return false
	}
	return true
}

// toENI carries a frame from subnet s (sent by from, nil when it comes from
// the internet gateway) to ENI to: NACLs at the subnet edges, then the
// receiver's checks (stage 6), then NAT gateway or delivery.
func (w *worker) toENI(cfg *config, s *subnetCfg, from, to *eniCfg, hops int) {
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
	if t := to.remote; t != nil {
		// The receiver's side runs on the machine that holds to (tunnel.go).
		src := &to.subnet.routerMAC
		if from != nil {
			src = &from.mac
		}
		w.tunnel(t, &to.st.ctr, to.mac[:], src[:])
		return
	}
	w.arrive(cfg, s, from, to, hops)
}

// arrive is the receiver's side of toENI: the NACL where the frame enters
// to's subnet, to's source/dest check and groups, then a NAT gateway or
// delivery. A frame from another machine starts here (tunnel.go).
func (w *worker) arrive(cfg *config, s *subnetCfg, from, to *eniCfg, hops int) {
	f := w.f
	m := &w.p.meta
	if s != to.subnet && !w.naclIn(to.subnet, &to.st.ctr) {
		w.record(to, true)
		return
	}
	f.stages[stageSrcDst].Add(1)
	// ENI-4: on ingress the destination must be one of the ENI's addresses.
	if to.srcDstCheck && !to.hasIP(m.Dst) {
		w.drop(&to.st.ctr, dropSrcDstIngress)
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
	if from != nil && s == to.subnet && (from.port != nil || from.remote != nil) {
		srcMAC = &from.mac // same subnet: the frame keeps its sender's MAC
	}
	w.deliver(to.port, &to.st.ctr, to.mac[:], srcMAC[:])
	if to.mirrors != nil {
		w.mirror(to, false) // mirror.go: as received
	}
}

// deliver writes the frame to a port (stage 8).
func (w *worker) deliver(port Port, c *counters, dstMAC, srcMAC []byte) {
	w.f.stages[stageDeliver].Add(1)
	if port == nil {
		w.drop(c, dropNoPort)
		return
	}
	eth := header.Ethernet(w.p.frame[header.VnetHdrLen:])
	eth.SetDst(dstMAC)
	eth.SetSrc(srcMAC)
	if w.taps != nil {
		w.tapIn(c, w.p.frame) // capture.go
	}
	if w.uw != nil && w.uw.add(port, w.queue, w.p.frame, c) {
		return // written and counted when the batch ends (endBatch)
	}
	w.out[0] = w.p.frame
	var err error
	if qw, ok := port.(queueWriter); ok {
		_, err = qw.WriteQueue(w.queue, w.out[:], 0)
	} else {
		_, err = port.Write(w.out[:], 0)
	}
	w.wrote(c, w.p.frame, err)
}

// wrote counts the write of frame to the port of c: sent, or the drop that
// err names (port-write-refused or tx-error). A batch's deferred writes are
// counted here too (endBatch).
func (w *worker) wrote(c *counters, frame []byte, err error) {
	if err != nil {
		w.drop(c, writeDrop(err))
		return
	}
	c.txFrames.Add(1)
	c.txBytes.Add(uint64(len(frame) - header.VnetHdrLen))
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
		w.drop(&from.st.ctr, dropNoPublicIP) // IGW-2, and NAT-1 for private NAT gateways
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
		w.drop(c, dropHopLimit)
		return
	}
	dst := w.p.meta.Dst
	if isPrivate(dst) {
		w.drop(c, dropNotRoutable)
		return
	}
	if h := cfg.hosts[dst]; h != nil {
		if h.remote != nil {
			w.tunnel(h.remote, h.ctr, h.mac[:], cfg.internetMAC[:]) // tunnel.go
			return
		}
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
		w.drop(c, reason)
		return
	}
	w.fromIGW(cfg, v, c, hops)
}

// fromIGW brings a frame from the internet into VPC v: the public
// destination becomes the private IP (IGW-1), or the frame drops (IGW-2).
func (w *worker) fromIGW(cfg *config, v *vpcCfg, c *counters, hops int) {
	priv, ok := v.igw.private[w.p.meta.Dst]
	if !ok {
		w.f.stages[stageIGW].Add(1)
		w.drop(c, dropNoAssociation)
		return
	}
	to := v.byIP[priv]
	if to == nil {
		w.f.stages[stageIGW].Add(1)
		w.drop(c, dropNoAssociation)
		return
	}
	if to.remote != nil {
		// The internet gateway translates on the machine that holds the
		// destination's subnet (tunnel.go): the frame goes there as the
		// internet carries it.
		w.tunnel(cfg.internetTunnel(to.remote), c, to.mac[:], cfg.internetMAC[:])
		return
	}
	w.f.stages[stageIGW].Add(1)
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
	if w.taps != nil {
		w.tapIn(c, w.p.frame) // capture.go: the gateway's inside
	}
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
		w.drop(c, natDrop(v)) // named as the gateway's own counters name it (NAT-6)
		if v == nat.SendRST {
			w.natRST(cfg, g, hops)
		}
		return
	}
	w.reparse()
	w.tunnelled = false // translated here: this machine sends it on (tunnel.go)
	if w.taps != nil {
		w.tapOut(c, w.p.frame) // capture.go: translated
	}
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
	r := w.gp.rst() // built with gopacket (decode.go)
	if r == nil || w.parse(r) != dropNone {
		return
	}
	w.tunnelled = false // the gateway's own frame: it may cross to its instance's machine
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
