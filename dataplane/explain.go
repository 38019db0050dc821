package dataplane

// Path analysis (OBS-3): is there a path from a source to a destination for
// a protocol and port, answered from the forwarding tables the workers use,
// without sending a packet and without touching tracked flows or NAT
// mappings. The walk follows the stages of forward.go in the same order, and
// names the component that blocks the path with an AWS Reachability Analyzer
// explanation code. A path is found when the request reaches the
// destination and its reply, walked the same way from there, reaches the
// source from the address the source sent to. Security groups are stateful,
// so the reply does not ask them; network ACLs, routes and translations it
// does.
//
// An appliance (OBS-3, an ENI with source/dest check off that a route
// sends traffic to: a NAT instance, a firewall) runs its own operating
// system: whether it forwards, translates (masquerades) or drops the frame
// is not in any table. As Reachability Analyzer does, the walk goes on
// through it as if it forwarded the frame unchanged, and says so: the
// analysis's Warning names the appliance, and a path blocked after it is
// not a definite "no": its first explanation is APPLIANCE_BEHAVIOR_UNKNOWN
// at the appliance's ENI (the blocks after it hold only if the appliance
// does not translate the traffic; a NAT instance does).
//
// The request leaves from one source port; the analysis runs twice, from the
// first and the last port of the ranges clients and NAT gateways use (Linux's
// 32768–60999, NAT-3's 1024–65535), so that a NACL that admits only part of
// the replies' range is caught at its edge.

import (
	"fmt"
	"net/netip"

	"github.com/vpcnet/vpcnet/dataplane/header"
	"github.com/vpcnet/vpcnet/dataplane/policy"
)

// The source ports a path analysis tries, at both ends of each range.
var pathPorts = [][2]uint16{{32768, 1024}, {60999, 65535}} // {client, NAT gateway}

// PathComponent is one step of an analysed path.
type PathComponent struct {
	SequenceNumber int    `json:"SequenceNumber"`
	ID             string `json:"Id"`
	Name           string `json:"Name,omitempty"`
	Type           string `json:"Type"` // network-interface, security-group, network-acl, route-table, nat-gateway, internet-gateway, internet-host
	Detail         string `json:"Detail,omitempty"`
}

// Explanation says what blocks a path.
type Explanation struct {
	ExplanationCode string `json:"ExplanationCode"`
	ComponentID     string `json:"ComponentId"`
	Direction       string `json:"Direction,omitempty"`  // ingress or egress
	RuleNumber      int    `json:"RuleNumber,omitempty"` // the NACL rule that decided; policy.ImplicitDeny for "*"
	Path            string `json:"Path"`                 // forward or return
	Detail          string `json:"Detail"`
}

// PathAnalysis is the answer to a path question.
type PathAnalysis struct {
	NetworkPathFound      bool            `json:"NetworkPathFound"`
	ForwardPathComponents []PathComponent `json:"ForwardPathComponents"`
	ReturnPathComponents  []PathComponent `json:"ReturnPathComponents,omitempty"`
	Explanations          []Explanation   `json:"Explanations,omitempty"`
	// Appliance is the ENI id of the first appliance the path runs
	// through ("" for none); Warning then says what the analysis cannot
	// know about it.
	Appliance string `json:"Appliance,omitempty"`
	Warning   string `json:"Warning,omitempty"`
}

// ApplianceUnknown is the explanation code of a path blocked after an
// appliance: what the appliance does to the traffic is unknown, so the
// block is not definite.
const ApplianceUnknown = "APPLIANCE_BEHAVIOR_UNKNOWN"

type pathWalk struct {
	cfg     *config
	p       policy.Packet
	natPort uint16 // the source port a NAT gateway gives the request
	reply   bool   // walking the reply
	arrived bool   // the walk reached an endpoint that takes the packet
	a       PathAnalysis

	// The request as the source sent it, and where it came from and ended.
	req              policy.Packet
	srcENI, dstENI   *eniCfg
	srcHost, dstHost *hostCfg

	// service: the request reached the VPC's DNS server or metadata
	// service (SG-8).
	service bool

	// The first appliance the walk went through, and the path it was on.
	appliance     *eniCfg
	appliancePath string
}

// ExplainPath analyses the path from source (an ENI id, or an internet
// host's name) to dst for protocol proto (header.ProtoTCP, …) and
// destination port (ignored unless TCP or UDP; for ICMP an echo request).
func (f *Forwarder) ExplainPath(source string, dst netip.Addr, proto uint8, port uint16) (PathAnalysis, error) {
	cfg := f.cfg.Load()
	var a PathAnalysis
	for _, ports := range pathPorts {
		w := &pathWalk{cfg: cfg, natPort: ports[1]}
		w.p = policy.Packet{Dst: dst, Proto: proto}
		switch proto {
		case header.ProtoTCP, header.ProtoUDP:
			w.p.SrcPort, w.p.DstPort = ports[0], port
			if proto == header.ProtoTCP {
				w.p.TCPFlags = 0x02 // SYN
			}
		case header.ProtoICMP:
			w.p.ICMPType, w.p.ICMPID = 8, 1
		}
		if err := w.run(source); err != nil {
			return a, err
		}
		a = w.a
		if !a.NetworkPathFound {
			break
		}
	}
	return a, nil
}

// run walks the request from source, then its reply back.
func (w *pathWalk) run(source string) error {
	defer w.noteAppliance()
	if e := w.cfg.eniByID[source]; e != nil {
		w.p.Src = e.ips[0]
		w.req, w.srcENI = w.p, e
		w.fromENI(e, 0)
	} else if h := w.cfg.hostByName[source]; h != nil {
		w.p.Src = h.ip
		w.req, w.srcHost = w.p, h
		w.fromHost(h) // lgw.go: an internet or on-premises host
	} else {
		return fmt.Errorf("no network interface or internet host %q", source)
	}
	if !w.arrived {
		return nil
	}
	if w.service {
		w.a.NetworkPathFound = true // the service answers straight back, past every filter (SG-8)
		return nil
	}
	// The reply, from where the request arrived, as it arrived there.
	w.reply, w.arrived = true, false
	w.p = reply(w.p)
	if e := w.dstENI; e != nil {
		w.fromENI(e, 0)
	} else {
		w.fromHost(w.dstHost)
	}
	w.a.NetworkPathFound = w.arrived
	return nil
}

// noteAppliance says what the analysis cannot know about an appliance the
// path ran through; a path blocked after it gets APPLIANCE_BEHAVIOR_UNKNOWN
// first (OBS-3).
func (w *pathWalk) noteAppliance() {
	e := w.appliance
	if e == nil {
		return
	}
	w.a.Appliance = e.id
	w.a.Warning = fmt.Sprintf("the path runs through appliance %s (source/dest check off): what its operating system does to the traffic "+
		"(forwarding, address translation, filtering) is not known to the analysis, which assumes it forwards the traffic unchanged", e.id)
	if w.a.NetworkPathFound || len(w.a.Explanations) == 0 {
		return
	}
	x := Explanation{ExplanationCode: ApplianceUnknown, ComponentID: e.id, Path: w.appliancePath,
		Detail: fmt.Sprintf("the traffic goes through appliance %s, whose translation (a NAT instance masquerades) is unknown: "+
			"the block after it holds only if %s forwards the traffic unchanged", e.id, e.id)}
	w.a.Explanations = append([]Explanation{x}, w.a.Explanations...)
}

func (w *pathWalk) add(id, name, typ, detail string) {
	c := &w.a.ForwardPathComponents
	if w.reply {
		c = &w.a.ReturnPathComponents
	}
	*c = append(*c, PathComponent{SequenceNumber: len(*c) + 1, ID: id, Name: name, Type: typ, Detail: detail})
}

func (w *pathWalk) path() string {
	if w.reply {
		return "return"
	}
	return "forward"
}

func (w *pathWalk) block(code, component, direction string, rule int, format string, args ...any) {
	w.a.Explanations = append(w.a.Explanations, Explanation{ExplanationCode: code, ComponentID: component,
		Direction: direction, RuleNumber: rule, Path: w.path(), Detail: fmt.Sprintf(format, args...)})
}

// delivered ends a walk at an ENI or internet host: the request is there;
// the reply must be back at the source, from the address and port the
// source sent to.
func (w *pathWalk) delivered(e *eniCfg, h *hostCfg, id string) {
	if !w.reply {
		w.dstENI, w.dstHost, w.arrived = e, h, true
		return
	}
	q, p := &w.req, &w.p
	same := p.Src == q.Dst && p.Dst == q.Src && p.SrcPort == q.DstPort && p.DstPort == q.SrcPort
	if (e != nil && e != w.srcENI) || (h != nil && h != w.srcHost) || !same {
		w.block("RETURN_PATH_MISMATCH", id, "", 0, "the reply arrives at %s as %s, not back at the source from %s (the connection fails)", id, w.tuple(), q.Dst)
		return
	}
	w.arrived = true
}

func (w *pathWalk) tuple() string {
	m := &w.p
	if m.Proto == header.ProtoTCP || m.Proto == header.ProtoUDP {
		return fmt.Sprintf("%s:%d → %s:%d proto %d", m.Src, m.SrcPort, m.Dst, m.DstPort, m.Proto)
	}
	return fmt.Sprintf("%s → %s proto %d", m.Src, m.Dst, m.Proto)
}

// fromENI: the sender's source/dest check and security groups (stage 3).
func (w *pathWalk) fromENI(e *eniCfg, hops int) {
	w.add(e.id, e.name, "network-interface", w.tuple())
	if e.port == nil && e.nat == nil {
		w.block("BAD_STATE", e.id, "egress", 0, "%s is not attached to a running instance", e.id)
		return
	}
	if e.srcDstCheck && !e.hasIP(w.p.Src) {
		w.block("ENI_SOURCE_DEST_CHECK", e.id, "egress", 0, "%s is not an address of %s (ENI-4)", w.p.Src, e.id)
		return
	}
	if !w.reply && e.vpc.isService(w.p.Dst) { // as the forwarder does (services.go)
		w.toService(e)
		return
	}
	if t := e.st.tracker; t != nil && !w.reply { // a reply passes the groups (SG-4)
		if !t.Permits(&w.p, true) {
			w.block("ENI_SG_RULES_MISMATCH", e.id, "egress", 0, "no outbound rule of %s allows %s (SG-2)", e.groupNames, w.tuple())
			return
		}
		w.add(e.groupNames, "", "security-group", "outbound allowed")
	}
	w.route(e.subnet, e, hops)
}

// route: the subnet's route table (stage 4).
func (w *pathWalk) route(s *subnetCfg, from *eniCfg, hops int) {
	if hops >= maxHops {
		w.block("CANNOT_ROUTE", s.rtb, "", 0, "more than %d hops inside the VPC", maxHops)
		return
	}
	dst := w.p.Dst
	to, igw, drop, r := s.nextHop(dst)
	if r != nil {
		w.add(s.rtb, "", "route-table", fmt.Sprintf("subnet %s: %s via %s", s.name, r.dst, routeKindName(r.kind)))
	}
	switch {
	case drop == dropNoRoute:
		w.block("NO_ROUTE_TO_DESTINATION", s.rtb, "", 0, "route table %s of subnet %s has no route to %s (RT-6)", s.rtb, s.name, dst)
	case drop == dropBlackhole:
		w.block("BAD_STATE_ROUTE", s.rtb, "", 0, "the route to %s in route table %s (subnet %s) is a blackhole (RT-3)", r.dst, s.rtb, s.name)
	case drop == dropPeering && r.peer == nil:
		w.block("BAD_STATE_ROUTE", s.rtb, "", 0, "the route to %s in route table %s (subnet %s) names a peering connection that is not active (PEER-3)", r.dst, s.rtb, s.name)
	case drop == dropLGWOffOutpost:
		w.block("CANNOT_ROUTE", s.rtb, "", 0, "subnet %s is not on the Outpost of the local gateway that route table %s sends %s to (COIP-5)", s.name, s.rtb, r.dst)
	case drop == dropPeering:
		w.block("CANNOT_ROUTE", s.rtb, "", 0, "no network interface of the peer VPC has %s: a peering connection is not transitive (PEER-2)", dst)
	case drop != dropNone:
		w.block("CANNOT_ROUTE", s.id, "", 0, "no network interface that the route table of subnet %s reaches has %s", s.name, dst)
	case igw:
		w.toIGW(s, from, hops)
	case r != nil && r.kind == routeLGW:
		w.toLGW(s, from, r.lgw) // lgw.go
	default:
		w.toENI(s, from, to, hops)
	}
}

func routeKindName(k routeKind) string {
	switch k {
	case routeLocal:
		return "local"
	case routeIGW:
		return "internet gateway"
	case routeNAT:
		return "NAT gateway"
	case routeENI:
		return "network interface"
	case routePeering:
		return "peering connection"
	case routeLGW:
		return "local gateway"
	}
	return "blackhole"
}

// nacl checks subnet s's network ACL for the packet in one direction.
func (w *pathWalk) nacl(s *subnetCfg, egress bool) bool {
	dir := "ingress"
	if egress {
		dir = "egress"
	}
	ok, rule := s.nacl.acl.Check(egress, &w.p)
	if !ok {
		w.block("SUBNET_ACL_RESTRICTION", s.nacl.id, dir, rule, "network ACL %s of subnet %s denies %s by rule %s (NACL-1)", s.nacl.id, s.name, w.tuple(), ruleName(rule))
		return false
	}
	w.add(s.nacl.id, "", "network-acl", fmt.Sprintf("%s rule %s allows", dir, ruleName(rule)))
	return true
}

func ruleName(rule int) string {
	if rule == policy.ImplicitDeny {
		return "*"
	}
	return fmt.Sprint(rule)
}

// toENI: the NACLs at the subnet edges, then the receiver (stages 5, 6).
func (w *pathWalk) toENI(s *subnetCfg, from, to *eniCfg, hops int) {
	if s != to.subnet { // NACL-4: never within one subnet
		if s != nil && !w.nacl(s, true) {
			return
		}
		if !w.nacl(to.subnet, false) {
			return
		}
	}
	if to.srcDstCheck && !to.hasIP(w.p.Dst) {
		w.block("ENI_SOURCE_DEST_CHECK", to.id, "ingress", 0, "%s is not an address of %s, whose source/dest check is on (ENI-4)", w.p.Dst, to.id)
		return
	}
	if t := to.st.tracker; t != nil && !w.reply {
		if !t.Permits(&w.p, false) {
			w.block("ENI_SG_RULES_MISMATCH", to.id, "ingress", 0, "no inbound rule of %s allows %s (SG-2)", to.groupNames, w.tuple())
			return
		}
		w.add(to.groupNames, "", "security-group", "inbound allowed")
	}
	if g := to.nat; g != nil {
		w.natGateway(g, hops)
		return
	}
	if to.port == nil {
		w.add(to.id, to.name, "network-interface", w.tuple())
		w.block("BAD_STATE", to.id, "ingress", 0, "%s is not attached to a running instance", to.id)
		return
	}
	if !to.hasIP(w.p.Dst) {
		// An appliance (source/dest check off) that a route sends the
		// traffic to: its kernel forwards it, and it leaves through the
		// appliance's own interface. What the appliance does to it is
		// unknown (noteAppliance).
		if w.appliance == nil {
			w.appliance, w.appliancePath = to, w.path()
		}
		if hops+1 >= maxHops {
			w.block("CANNOT_ROUTE", to.id, "", 0, "more than %d hops inside the VPC", maxHops)
			return
		}
		w.fromENI(to, hops+1)
		return
	}
	w.add(to.id, to.name, "network-interface", w.tuple())
	w.delivered(to, nil, to.id)
}

// natGateway: SNAT to the gateway's address (NAT-2), or a reply translated
// back to the instance; then the gateway's own route.
func (w *pathWalk) natGateway(g *natCfg, hops int) {
	tcpUDP := w.p.Proto == header.ProtoTCP || w.p.Proto == header.ProtoUDP
	if w.p.Proto != header.ProtoTCP && w.p.Proto != header.ProtoUDP && w.p.Proto != header.ProtoICMP {
		w.block("CANNOT_ROUTE", g.id, "", 0, "a NAT gateway translates TCP, UDP and ICMP only (NAT-2)")
		return
	}
	if g.eni.hasIP(w.p.Dst) {
		if !w.reply {
			w.block("CANNOT_ROUTE", g.id, "", 0, "a NAT gateway answers only replies to its own connections (NAT-2)")
			return
		}
		w.p.Dst = w.req.Src
		if tcpUDP {
			w.p.DstPort = w.req.SrcPort
		}
		w.add(g.id, "", "nat-gateway", "destination becomes "+w.p.Dst.String())
	} else {
		w.p.Src = g.eni.ips[0]
		if tcpUDP {
			w.p.SrcPort = w.natPort // NAT-3 picks it from 1024–65535
		}
		w.add(g.id, "", "nat-gateway", "source becomes "+w.p.Src.String())
	}
	w.route(g.eni.subnet, g.eni, hops+1)
}

// toIGW: out of the VPC through its internet gateway (IGW-1, IGW-2).
func (w *pathWalk) toIGW(s *subnetCfg, from *eniCfg, hops int) {
	v := s.vpc
	if v.igw == nil {
		w.block("NO_ROUTE_TO_DESTINATION", s.rtb, "", 0, "VPC %s has no internet gateway", v.id)
		return
	}
	if !w.nacl(s, true) {
		return
	}
	pub, ok := v.igw.public[w.p.Src]
	if !ok {
		w.block("IGW_NO_PUBLIC_ADDRESS", v.igw.id, "egress", 0, "%s has no public IP or Elastic IP, so the internet gateway drops it (IGW-2)", w.p.Src)
		return
	}
	w.p.Src = pub
	w.add(v.igw.id, "", "internet-gateway", "source becomes "+pub.String())
	w.internet(hops + 1)
}

// internet: the emulated internet (IGW-4), to a host or into a VPC.
func (w *pathWalk) internet(hops int) {
	dst := w.p.Dst
	if hops >= maxHops {
		w.block("CANNOT_ROUTE", "internet", "", 0, "more than %d hops", maxHops)
		return
	}
	if isPrivate(dst) {
		w.block("CANNOT_ROUTE", "internet", "", 0, "%s is a private address: the internet does not route it (IGW-4)", dst)
		return
	}
	if h := w.cfg.hosts[dst]; h != nil {
		w.add(h.name, h.name, "internet-host", dst.String())
		w.delivered(nil, h, h.name)
		return
	}
	v := w.cfg.publicOwner[dst]
	if v == nil || v.igw == nil {
		for _, p := range w.cfg.pools {
			if p.Contains(dst) {
				w.block("IGW_NO_PUBLIC_ADDRESS", "internet", "ingress", 0, "%s is an address of an AWS pool that no instance holds (IGW-2)", dst)
				return
			}
		}
		w.block("CANNOT_ROUTE", "internet", "", 0, "no internet host or VPC has %s", dst)
		return
	}
	priv, ok := v.igw.private[dst]
	to := v.byIP[priv]
	if !ok || to == nil {
		w.block("IGW_NO_PUBLIC_ADDRESS", v.igw.id, "ingress", 0, "%s is associated with no private IP (IGW-2)", dst)
		return
	}
	w.p.Dst = priv
	w.add(v.igw.id, "", "internet-gateway", "destination becomes "+priv.String())
	w.toENI(nil, nil, to, hops+1)
}

// reply is the packet that answers p.
func reply(p policy.Packet) policy.Packet {
	r := p
	r.Src, r.Dst = p.Dst, p.Src
	r.SrcPort, r.DstPort = p.DstPort, p.SrcPort
	if p.Proto == header.ProtoTCP {
		r.TCPFlags = 0x12 // SYN+ACK
	}
	if p.Proto == header.ProtoICMP && p.ICMPType == 8 {
		r.ICMPType = 0
	}
	return r
}

// toService: a frame to the VPC's DNS server (base + 2, 169.254.169.253),
// metadata service (169.254.169.254) or time service (169.254.169.123)
// goes straight to them and back: no security group, network ACL or route
// applies (SG-8); the DNS addresses answer nothing with enableDnsSupport
// off (DNS-1).
func (w *pathWalk) toService(e *eniCfg) {
	s := e.vpc.svc
	if s.silenced(w.p.Dst) { // services.go
		w.block("VPC_DNS_SUPPORT_DISABLED", e.vpc.id, "", 0, "enableDnsSupport is off in %s: its Amazon DNS server answers nothing (DNS-1)", e.vpc.id)
		return
	}
	w.add(s.id, "", "vpc-service", "the VPC's link-local services (DNS, metadata, time): no security group or network ACL applies (SG-8)")
	w.service, w.arrived = true, true
}
