package dataplane

// Path analysis (OBS-3): is there a path from a source to a destination for
// a protocol and port, answered from the forwarding tables the workers use,
// without sending a packet and without touching tracked flows or NAT
// mappings. The walk follows the stages of forward.go in the same order, and
// names the component that blocks the path with an AWS Reachability Analyzer
// explanation code. Security groups are stateful, so a permitted flow's
// replies pass them; network ACLs are not, so the replies are checked at
// every subnet edge the request crossed.

import (
	"fmt"
	"net/netip"

	"github.com/vpcnet/vpcnet/dataplane/header"
	"github.com/vpcnet/vpcnet/dataplane/policy"
)

// ephemeralPort is the source port a path analysis assumes: the first of
// Linux's default ephemeral range.
const ephemeralPort = 32768

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
	Explanations          []Explanation   `json:"Explanations,omitempty"`
}

// edge is a subnet boundary the request crossed: out of from (nil: the
// internet) into to (nil: the internet), with the packet as it was there.
type edge struct {
	from, to *subnetCfg
	p        policy.Packet
}

type pathWalk struct {
	cfg   *config
	p     policy.Packet
	a     PathAnalysis
	edges []edge
}

// ExplainPath analyses the path from source (an ENI id, or an internet
// host's name) to dst for protocol proto (header.ProtoTCP, …) and
// destination port (ignored unless TCP or UDP; for ICMP an echo request).
func (f *Forwarder) ExplainPath(source string, dst netip.Addr, proto uint8, port uint16) (PathAnalysis, error) {
	w := &pathWalk{cfg: f.cfg.Load()}
	w.p = policy.Packet{Dst: dst, Proto: proto}
	switch proto {
	case header.ProtoTCP, header.ProtoUDP:
		w.p.SrcPort, w.p.DstPort = ephemeralPort, port
		if proto == header.ProtoTCP {
			w.p.TCPFlags = 0x02 // SYN
		}
	case header.ProtoICMP:
		w.p.ICMPType, w.p.ICMPID = 8, 1
	}
	if e := w.cfg.eniByID[source]; e != nil {
		if len(e.ips) == 0 {
			return w.a, fmt.Errorf("network interface %s has no address", source)
		}
		w.p.Src = e.ips[0]
		w.fromENI(e, 0)
	} else if h := w.cfg.hostByName[source]; h != nil {
		w.p.Src = h.ip
		w.add(h.name, h.name, "internet-host", h.ip.String())
		w.internet(0)
	} else {
		return w.a, fmt.Errorf("no network interface or internet host %q", source)
	}
	if w.a.NetworkPathFound {
		w.returnPath()
	}
	return w.a, nil
}

func (w *pathWalk) add(id, name, typ, detail string) {
	w.a.ForwardPathComponents = append(w.a.ForwardPathComponents,
		PathComponent{SequenceNumber: len(w.a.ForwardPathComponents) + 1, ID: id, Name: name, Type: typ, Detail: detail})
}

func (w *pathWalk) block(code, component, direction string, rule int, format string, args ...any) {
	w.a.Explanations = append(w.a.Explanations, Explanation{ExplanationCode: code, ComponentID: component,
		Direction: direction, RuleNumber: rule, Path: "forward", Detail: fmt.Sprintf(format, args...)})
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
	if e.srcDstCheck && !e.hasIP(w.p.Src) {
		w.block("ENI_SOURCE_DEST_CHECK", e.id, "egress", 0, "%s is not an address of %s (ENI-4)", w.p.Src, e.id)
		return
	}
	if t := e.st.tracker; t != nil {
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
		w.block("CANNOT_ROUTE", s.id, "", 0, "more than %d hops inside the VPC", maxHops)
		return
	}
	dst := w.p.Dst
	if s.prefix.Contains(dst) { // RT-5
		to := s.vpc.byIP[dst]
		if to == nil {
			w.block("CANNOT_ROUTE", s.id, "", 0, "no network interface in subnet %s has %s", s.name, dst)
			return
		}
		w.toENI(s, from, to, hops)
		return
	}
	r := s.lookup(dst)
	if r == nil {
		w.block("NO_ROUTE_TO_DESTINATION", s.rtb, "", 0, "route table %s of subnet %s has no route to %s (RT-6)", s.rtb, s.name, dst)
		return
	}
	w.add(s.rtb, "", "route-table", fmt.Sprintf("subnet %s: %s via %s", s.name, r.dst, routeKindName(r.kind)))
	switch r.kind {
	case routeLocal:
		if to := s.vpc.byIP[dst]; to != nil {
			w.toENI(s, from, to, hops)
			return
		}
		w.block("CANNOT_ROUTE", s.id, "", 0, "no network interface in the VPC has %s", dst)
	case routeENI:
		w.toENI(s, from, r.eni, hops)
	case routeNAT:
		w.toENI(s, from, r.nat.eni, hops)
	case routePeering:
		if to := r.peer.byIP[dst]; to != nil {
			w.toENI(s, from, to, hops)
			return
		}
		w.block("CANNOT_ROUTE", s.id, "", 0, "no network interface in the peer VPC has %s", dst)
	case routeIGW:
		w.toIGW(s, from, hops)
	default:
		w.block("BAD_STATE_ROUTE", s.rtb, "", 0, "the route to %s in route table %s (subnet %s) is a blackhole (RT-3)", r.dst, s.rtb, s.name)
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
	}
	return "blackhole"
}

// nacl checks subnet s's network ACL for the packet in one direction.
func (w *pathWalk) nacl(s *subnetCfg, egress bool, p *policy.Packet, path string) bool {
	dir := "ingress"
	if egress {
		dir = "egress"
	}
	ok, rule := s.nacl.acl.Check(egress, p)
	if !ok {
		w.a.Explanations = append(w.a.Explanations, Explanation{ExplanationCode: "SUBNET_ACL_RESTRICTION", ComponentID: s.nacl.id,
			Direction: dir, RuleNumber: rule, Path: path, Detail: fmt.Sprintf("network ACL %s of subnet %s denies it by rule %s (NACL-1)", s.nacl.id, s.name, ruleName(rule))})
		return false
	}
	if path == "forward" {
		w.add(s.nacl.id, "", "network-acl", fmt.Sprintf("%s rule %s allows", dir, ruleName(rule)))
	}
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
	if s != to.subnet {
		if s != nil && !w.nacl(s, true, &w.p, "forward") {
			return
		}
		if !w.nacl(to.subnet, false, &w.p, "forward") {
			return
		}
		w.edges = append(w.edges, edge{from: s, to: to.subnet, p: w.p})
	}
	if to.srcDstCheck && !to.hasIP(w.p.Dst) {
		w.block("ENI_SOURCE_DEST_CHECK", to.id, "ingress", 0, "%s is not an address of %s, whose source/dest check is on (ENI-4)", w.p.Dst, to.id)
		return
	}
	if t := to.st.tracker; t != nil {
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
	w.add(to.id, to.name, "network-interface", w.tuple())
	w.a.NetworkPathFound = true
}

// natGateway: SNAT to the gateway's address (NAT-2), then its own route.
func (w *pathWalk) natGateway(g *natCfg, hops int) {
	if g.eni.hasIP(w.p.Dst) {
		w.block("CANNOT_ROUTE", g.id, "", 0, "a NAT gateway answers only replies to its own connections (NAT-2)")
		return
	}
	if len(g.eni.ips) == 0 {
		w.block("BAD_STATE", g.id, "", 0, "NAT gateway %s has no address", g.id)
		return
	}
	w.p.Src = g.eni.ips[0]
	if w.p.Proto == header.ProtoTCP || w.p.Proto == header.ProtoUDP {
		w.p.SrcPort = 1024 // the first port NAT-3 may pick
	}
	w.add(g.id, "", "nat-gateway", "source becomes "+w.p.Src.String())
	w.route(g.eni.subnet, g.eni, hops+1)
}

// toIGW: out of the VPC through its internet gateway (IGW-1, IGW-2).
func (w *pathWalk) toIGW(s *subnetCfg, from *eniCfg, hops int) {
	v := s.vpc
	if v.igw == nil {
		w.block("NO_ROUTE_TO_DESTINATION", s.id, "", 0, "VPC %s has no internet gateway", v.id)
		return
	}
	if !w.nacl(s, true, &w.p, "forward") {
		return
	}
	w.edges = append(w.edges, edge{from: s, p: w.p})
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
	if isPrivate(dst) {
		w.block("CANNOT_ROUTE", "internet", "", 0, "%s is a private address: the internet does not route it (IGW-4)", dst)
		return
	}
	if h := w.cfg.hosts[dst]; h != nil {
		w.add(h.name, h.name, "internet-host", dst.String())
		w.a.NetworkPathFound = true
		return
	}
	v := w.cfg.publicOwner[dst]
	if v == nil || v.igw == nil {
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

// returnPath checks the replies against the NACLs of every subnet edge the
// request crossed (NACL-1: they are stateless; the groups are not, SG-4).
func (w *pathWalk) returnPath() {
	for i := len(w.edges) - 1; i >= 0; i-- {
		e := w.edges[i]
		r := reply(e.p)
		if e.to != nil && !w.nacl(e.to, true, &r, "return") {
			w.a.NetworkPathFound = false
			return
		}
		if e.from != nil && !w.nacl(e.from, false, &r, "return") {
			w.a.NetworkPathFound = false
			return
		}
	}
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
