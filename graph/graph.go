// Package graph draws a topology.Network as a picture in the layout of the
// AWS console's resource map: the region holds the VPCs, a VPC its subnets
// grouped by Availability Zone, a subnet its instances and their ENIs; edges
// run from subnets to their route table and from the table's routes to their
// targets (internet gateway, NAT gateway, ENI, peering, local gateway,
// blackhole), and from the internet gateway to the internet's hosts.
//
// DOT writes the graph in Graphviz's language, itself and deterministically
// (resources sorted by name, node ids from AWS ids), so that the same network
// gives the same bytes; SVG runs Graphviz's `dot` on it, and HTML wraps the
// SVG in a self-contained page with a legend.
//
// Names and descriptions come from users (the file, Name tags, the EC2
// API): every one is escaped by Quote, and node ids never hold one.
package graph

import (
	"bytes"
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/vpcnet/vpcnet/topology"
)

// Options says what to draw beyond the network itself.
type Options struct {
	// SecurityGroups draws each VPC's security groups and an edge from
	// every ENI to each of its groups.
	SecurityGroups bool
	// Drops colours in red the ENIs and internet or on-premises hosts that
	// dropped frames, with the count: keyed by ENI id (eni-…) or host
	// name, as the daemon's stats name them. nil draws no counters.
	Drops map[string]Drop
}

// Drop is what one ENI or host dropped since the topology came up.
type Drop struct {
	Count   uint64
	Reasons map[string]uint64 // drop reason → frames
}

// Colours, close to the AWS architecture icons'.
const (
	colRegion   = "#00A4A6"
	colVPC      = "#8C4FFF"
	colAZ       = "#147EBA"
	colPublic   = "#7AA116"
	colPrivate  = "#00A4A6"
	colCompute  = "#ED7100"
	colENI      = "#ED7100"
	colRoute    = "#8C4FFF"
	colGateway  = "#8C4FFF"
	colInternet = "#232F3E"
	colSG       = "#DD344C"
	colDrop     = "#D13212"
	colMuted    = "#879596"
)

// DOT returns n as a Graphviz digraph. The same network and options give
// the same bytes.
func DOT(n *topology.Network, o Options) []byte {
	g := &gen{n: n, o: o}
	g.eipOf = map[eipKey]*topology.EIP{}
	for _, e := range n.EIPs {
		if e.ENI != nil {
			g.eipOf[eipKey{e.ENI, e.PrivateIP}] = e
		}
	}
	g.write()
	return g.b.Bytes()
}

type eipKey struct {
	eni *topology.ENI
	ip  netip.Addr
}

// gen writes one graph.
type gen struct {
	n     *topology.Network
	o     Options
	b     bytes.Buffer
	depth int
	eipOf map[eipKey]*topology.EIP
	edges []string        // written after every cluster, so that a node is declared in its cluster first
	once  map[string]bool // nodes declared once however many refer to them (a VPC's blackhole)
}

// Quote returns s as a DOT double-quoted string whose label shows s as
// written: quotes and backslashes escaped, & written as &amp; (Graphviz
// reads entities in labels), a newline as DOT's line break, other control
// characters and invalid UTF-8 as U+FFFD.
func Quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '&':
			b.WriteString("&amp;")
		case r == '\n':
			b.WriteString(`\n`)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			b.WriteRune('\uFFFD')
		default:
			b.WriteRune(r) // invalid UTF-8 comes here as U+FFFD already
		}
	}
	b.WriteByte('"')
	return b.String()
}

// attrs writes DOT attributes from key, value pairs; keys are this
// package's constants, values are quoted.
func attrs(kv ...string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(kv[i])
		b.WriteByte('=')
		b.WriteString(Quote(kv[i+1]))
	}
	b.WriteByte(']')
	return b.String()
}

func (g *gen) line(s string) {
	for range g.depth {
		g.b.WriteString("  ")
	}
	g.b.WriteString(s)
	g.b.WriteByte('\n')
}

func (g *gen) node(id string, kv ...string) { g.line(Quote(id) + " " + attrs(kv...)) }

func (g *gen) edge(from, to string, kv ...string) {
	g.edges = append(g.edges, Quote(from)+" -> "+Quote(to)+" "+attrs(kv...))
}

// open starts a cluster subgraph; close ends it.
func (g *gen) open(id string, kv ...string) {
	g.line("subgraph " + Quote("cluster_"+id) + " {")
	g.depth++
	for i := 0; i+1 < len(kv); i += 2 {
		g.line(kv[i] + "=" + Quote(kv[i+1]))
	}
}

func (g *gen) close() {
	g.depth--
	g.line("}")
}

func lines(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "\n")
}

// byName sorts resources by name, then id: the order of the picture does
// not depend on the order they were created in.
func byName[T any](s []T, key func(T) (string, string)) []T {
	out := slices.Clone(s)
	slices.SortStableFunc(out, func(a, b T) int {
		an, ai := key(a)
		bn, bi := key(b)
		return cmp.Or(strings.Compare(an, bn), strings.Compare(ai, bi))
	})
	return out
}

func (g *gen) write() {
	n := g.n
	g.line("digraph " + Quote("vpcnet "+n.Name) + " {")
	g.depth++
	g.line("graph " + attrs("rankdir", "LR", "compound", "true", "newrank", "true", "fontname", "Helvetica", "fontsize", "12",
		"nodesep", "0.25", "ranksep", "0.9", "labelloc", "t", "labeljust", "l",
		"label", "vpcnet topology "+n.Name))
	g.line("node " + attrs("shape", "box", "style", "rounded,filled", "fillcolor", "white", "fontname", "Helvetica", "fontsize", "10", "penwidth", "1.2"))
	g.line("edge " + attrs("fontname", "Helvetica", "fontsize", "9", "color", colMuted, "fontcolor", "#545B64"))

	g.once = map[string]bool{}
	g.open("region", "label", "Region "+n.Region, "style", "dashed", "color", colRegion, "fontcolor", colRegion)
	for _, v := range byName(n.VPCs, func(v *topology.VPC) (string, string) { return v.Name, v.ID }) {
		g.vpc(v)
	}
	for _, p := range byName(n.Peerings, func(p *topology.Peering) (string, string) { return p.Name, p.ID }) {
		g.peering(p)
	}
	for _, igw := range byName(n.DetachedIGWs, func(i *topology.IGW) (string, string) { return i.Name, i.ID }) {
		g.node(igw.ID, "label", lines("internet gateway "+igw.Name, igw.ID, "detached"), "color", colMuted, "style", "rounded,dashed")
	}
	var free []*topology.EIP
	for _, e := range n.EIPs {
		if e.ENI == nil && e.NAT == nil {
			free = append(free, e)
		}
	}
	for _, e := range byName(free, func(e *topology.EIP) (string, string) { return e.Name, e.AllocationID }) {
		g.node(e.AllocationID, "label", lines("Elastic IP "+e.Name, e.AllocationID, e.Addr.String(), "not associated"),
			"shape", "note", "style", "filled", "color", colMuted)
	}
	for _, l := range byName(n.LocalGateways, func(l *topology.LocalGateway) (string, string) { return l.Name, l.ID }) {
		g.node(l.ID, "label", lines("local gateway "+l.Name, l.ID, l.OutpostArn), "shape", "cds", "style", "filled", "color", colGateway)
	}
	g.close()

	g.internet()
	for _, l := range byName(n.LocalGateways, func(l *topology.LocalGateway) (string, string) { return l.Name, l.ID }) {
		g.onPremises(l)
	}

	for _, e := range g.edges {
		g.line(e)
	}
	g.depth--
	g.line("}")
}

// vpc draws v: its node, its AZs and subnets, its tables, gateways and groups.
func (g *gen) vpc(v *topology.VPC) {
	g.open(v.ID, "label", "VPC "+v.Name, "color", colVPC, "fontcolor", colVPC, "penwidth", "1.5")
	cidrs := []string{v.CIDR.String()}
	for _, c := range v.SecondaryCIDRs {
		cidrs = append(cidrs, c.String())
	}
	g.node(v.ID, "label", lines("VPC "+v.Name, v.ID, strings.Join(cidrs, ", ")), "color", colVPC, "fontcolor", colVPC, "penwidth", "2")

	// Subnets grouped by AZ, AZs and subnets sorted by name.
	azs := map[string][]*topology.Subnet{}
	for _, s := range v.Subnets {
		azs[s.AZ] = append(azs[s.AZ], s)
	}
	names := make([]string, 0, len(azs))
	for az := range azs {
		names = append(names, az)
	}
	sort.Strings(names)
	for i, az := range names {
		g.open(v.ID+"_az"+strconv.Itoa(i), "label", "Availability Zone "+az, "style", "dashed", "color", colAZ, "fontcolor", colAZ)
		for _, s := range byName(azs[az], func(s *topology.Subnet) (string, string) { return s.Name, s.ID }) {
			g.subnet(v, s)
		}
		g.close()
	}

	tables := byName(v.RouteTables, func(t *topology.RouteTable) (string, string) { return t.Name, t.ID })
	for _, t := range tables {
		g.routeTable(v, t)
	}
	if v.IGW != nil {
		g.node(v.IGW.ID, "label", lines("internet gateway "+v.IGW.Name, v.IGW.ID), "shape", "cds", "style", "filled", "fillcolor", "#F2EBFF", "color", colGateway)
		g.edge(v.IGW.ID, "internet", "lhead", "cluster_internet", "color", colInternet, "arrowhead", "none", "penwidth", "1.5")
	}
	for _, nat := range byName(v.NATs, func(x *topology.NATGateway) (string, string) { return x.Name, x.ID }) {
		g.nat(nat)
	}
	if g.o.SecurityGroups {
		for _, sg := range byName(v.SGs, func(x *topology.SecurityGroup) (string, string) { return x.Name, x.ID }) {
			g.node(sg.ID, "label", lines("security group "+sg.Name, sg.ID, sg.Description,
				fmt.Sprintf("%d inbound, %d outbound rules", len(sg.Ingress), len(sg.Egress))),
				"shape", "box", "style", "rounded,dashed", "color", colSG, "fontcolor", colSG)
		}
	}
	g.close()
}

// public reports whether s routes 0.0.0.0/0 or any destination to an
// internet gateway: what the console calls a public subnet.
func public(s *topology.Subnet) bool {
	if s.RouteTable == nil {
		return false
	}
	for _, r := range s.RouteTable.Routes {
		if r.Kind == topology.TargetIGW {
			return true
		}
	}
	return false
}

// subnet draws s as a cluster holding its header node, its instances and
// its ENIs.
func (g *gen) subnet(v *topology.VPC, s *topology.Subnet) {
	kind, col := "private subnet", colPrivate
	if public(s) {
		kind, col = "public subnet", colPublic
	}
	g.open(s.ID, "label", "", "color", col, "style", "filled", "fillcolor", "#F7FAF2")
	var extra []string
	if s.MapPublicIP {
		extra = append(extra, "public IPs on launch")
	}
	if s.NACL != nil && !s.NACL.Default {
		extra = append(extra, "network ACL "+s.NACL.Name)
	}
	if s.OutpostArn != "" {
		extra = append(extra, "Outpost "+s.OutpostArn)
	}
	g.node(s.ID, "label", lines(kind+" "+s.Name, s.ID, s.CIDR.String(), strings.Join(extra, "\n")),
		"color", col, "fontcolor", col, "penwidth", "2", "fillcolor", "white")
	g.edge(v.ID, s.ID, "arrowhead", "none")
	if s.RouteTable != nil {
		label, style := "", "solid"
		if !s.ExplicitRT {
			label, style = "main", "dashed"
		}
		g.edge(s.ID, s.RouteTable.ID, "ltail", "cluster_"+s.ID, "label", label, "style", style, "color", colRoute)
	}

	for _, i := range byName(v.Instances, func(x *topology.Instance) (string, string) { return x.Name, x.ID }) {
		if i.Subnet != s {
			continue
		}
		state := ""
		if i.Stopped {
			state = "stopped"
		}
		g.node(i.ID, "label", lines("instance "+i.Name, i.ID, i.Type, state), "color", colCompute, "fillcolor", "#FDF1E6")
		g.edge(s.ID, i.ID, "style", "invis")
	}
	for _, e := range byName(v.ENIs, func(x *topology.ENI) (string, string) { return x.Name, x.ID }) {
		if e.Subnet == s {
			g.eni(e)
		}
	}
	g.close()
}

// eni draws e with its addresses, the edge from its instance or NAT
// gateway, and its drops.
func (g *gen) eni(e *topology.ENI) {
	var addrs []string
	for _, ip := range e.IPs() {
		a := ip.String()
		if pub, ok := e.PublicIPs[ip]; ok {
			a += " → " + pub.String()
			if eip := g.eipOf[eipKey{e, ip}]; eip != nil {
				a += " (EIP " + eip.Name + ")"
			}
		} else if eip := g.eipOf[eipKey{e, ip}]; eip != nil {
			a += " → " + eip.Addr.String() + " (" + eip.Name + ")" // a CoIP, not a public IP
		}
		addrs = append(addrs, a)
	}
	kind := "ENI "
	if e.Kind == topology.ENIRouting {
		kind = "routing ENI "
	}
	if e.Instance == nil && e.NAT == nil {
		kind = "ENI (available) "
	}
	label := lines(kind+e.Name, e.ID, strings.Join(addrs, "\n"), e.Description)
	kv := []string{"shape", "box", "style", "rounded,filled", "fillcolor", "white", "color", colENI}
	eLabel, eKV := "", []string{}
	if d, ok := g.o.Drops[e.ID]; ok && d.Count > 0 {
		label += "\n" + dropText(d)
		kv = append(kv, "color", colDrop, "fontcolor", colDrop, "penwidth", "2.5", "tooltip", dropTooltip(e.Name, d))
		eLabel, eKV = dropText(d), []string{"color", colDrop, "fontcolor", colDrop, "penwidth", "2"}
	}
	g.node(e.ID, append([]string{"label", label}, kv...)...)
	switch {
	case e.Instance != nil:
		g.edge(e.Instance.ID, e.ID, append([]string{"label", joinNonEmpty("eth"+strconv.Itoa(e.DeviceIndex), eLabel), "arrowhead", "none", "color", colCompute}, eKV...)...)
	case e.NAT != nil:
		g.edge(e.Subnet.ID, e.ID, "style", "invis") // right of the subnet's box, as an instance
		g.edge(e.NAT.ID, e.ID, append([]string{"label", joinNonEmpty("", eLabel), "arrowhead", "none", "style", "dashed", "constraint", "false"}, eKV...)...)
	default:
		g.edge(e.Subnet.ID, e.ID, append([]string{"style", "invis"}, eKV...)...)
	}
	if g.o.SecurityGroups {
		for _, sg := range e.Groups {
			g.edge(e.ID, sg.ID, "style", "dotted", "color", colSG, "arrowhead", "odot")
		}
	}
}

func joinNonEmpty(a, b string) string { return lines(a, b) }

func dropText(d Drop) string { return "dropped " + strconv.FormatUint(d.Count, 10) }

func dropTooltip(name string, d Drop) string {
	reasons := make([]string, 0, len(d.Reasons))
	for r := range d.Reasons {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	s := name + ": " + dropText(d) + " since up"
	for _, r := range reasons {
		s += "\n" + r + ": " + strconv.FormatUint(d.Reasons[r], 10)
	}
	return s
}

// routeTable draws t: the local routes in its label, an edge per other
// route to its target.
func (g *gen) routeTable(v *topology.VPC, t *topology.RouteTable) {
	rows := []string{}
	for _, r := range t.Routes {
		rows = append(rows, r.Dest.String()+" → "+targetName(r))
	}
	title := "route table " + t.Name
	if t.Main {
		title = "main route table " + t.Name
	}
	g.node(t.ID, "label", lines(title, t.ID, strings.Join(rows, "\n")), "shape", "box", "style", "filled", "fillcolor", "#F2EBFF", "color", colRoute)
	for _, r := range t.Routes {
		to := ""
		kv := []string{"label", r.Dest.String(), "color", colRoute}
		switch r.Kind {
		case topology.TargetLocal:
			continue // the VPC itself: written in the table
		case topology.TargetIGW:
			if v.IGW != nil {
				to = v.IGW.ID
			}
		case topology.TargetNAT:
			if r.NAT != nil {
				to = r.NAT.ID
			}
		case topology.TargetENI:
			if r.ENI != nil {
				to = r.ENI.ID
				kv = append(kv, "constraint", "false")
			}
		case topology.TargetPeering:
			if r.Peering != nil {
				to = r.Peering.ID
			}
		case topology.TargetLGW:
			if r.LGW != nil {
				to = r.LGW.ID
			}
		}
		if to == "" { // TargetBlackhole, or a target gone
			to = v.ID + "_blackhole"
			if !g.once[to] {
				g.once[to] = true
				g.node(to, "label", "blackhole", "shape", "octagon", "style", "filled", "fillcolor", "#545B64", "fontcolor", "white", "color", "black")
			}
			kv = []string{"label", r.Dest.String() + " (blackhole)", "color", "black", "style", "dashed"}
		}
		g.edge(t.ID, to, kv...)
	}
}

// targetName names a route's target as describe-route-tables does.
func targetName(r *topology.Route) string {
	switch r.Kind {
	case topology.TargetLocal:
		return "local"
	case topology.TargetNAT:
		if r.NAT != nil {
			return r.NAT.ID
		}
	case topology.TargetENI:
		if r.ENI != nil {
			return r.ENI.ID
		}
	case topology.TargetPeering:
		if r.Peering != nil {
			return r.Peering.ID
		}
	case topology.TargetLGW:
		if r.LGW != nil {
			return r.LGW.ID
		}
	case topology.TargetBlackhole:
		return "blackhole (" + r.TargetName + ")"
	}
	return r.TargetName
}

func (g *gen) nat(x *topology.NATGateway) {
	conn := "public"
	addr := ""
	if x.Private {
		conn = "private"
	}
	if x.EIP != nil {
		addr = "EIP " + x.EIP.Name + " " + x.EIP.Addr.String()
	}
	sub := ""
	if x.Subnet != nil {
		sub = "in " + x.Subnet.Name
	}
	g.node(x.ID, "label", lines("NAT gateway "+x.Name, x.ID, conn+" "+sub, addr), "shape", "cds", "style", "filled", "fillcolor", "#F2EBFF", "color", colGateway)
}

func (g *gen) peering(p *topology.Peering) {
	style, col := "solid", colVPC
	switch p.Status {
	case topology.PeeringPending:
		style = "dashed"
	case topology.PeeringDeleted:
		style, col = "dotted", colMuted
	}
	g.node(p.ID, "label", lines("peering "+p.Name, p.ID, p.Status), "shape", "hexagon", "style", "filled,"+style, "color", col)
	for i, v := range p.VPCs {
		if v == nil {
			continue
		}
		role := "requester"
		if i == 1 {
			role = "accepter"
		}
		g.edge(p.ID, v.ID, "label", role+" ("+p.Status+")", "style", style, "color", col, "dir", "both", "arrowhead", "none", "arrowtail", "none", "constraint", "false")
	}
}

// internet draws the internet's cluster: an "internet" node that internet
// gateways reach, and the hosts.
func (g *gen) internet() {
	g.open("internet", "label", "Internet", "color", colInternet, "fontcolor", colInternet, "style", "rounded")
	g.node("internet", "label", "internet\n0.0.0.0/0", "shape", "ellipse", "style", "filled", "fillcolor", "#EAEDED", "color", colInternet)
	for _, h := range byName(g.n.Hosts, func(h *topology.Host) (string, string) { return h.Name, h.IP.String() }) {
		g.host(h, "internet", "internet host ")
	}
	g.close()
}

// onPremises draws a local gateway's on-premises network (COIP-4).
func (g *gen) onPremises(l *topology.LocalGateway) {
	if len(l.OnPrem) == 0 {
		return
	}
	g.open(l.ID+"_onprem", "label", "On-premises network of "+l.Name, "color", colInternet, "style", "rounded")
	first := ""
	for _, h := range byName(l.OnPrem, func(h *topology.Host) (string, string) { return h.Name, h.IP.String() }) {
		id := g.host(h, "", "on-premises host ")
		if first == "" {
			first = id
		}
	}
	g.close()
	g.edge(l.ID, first, "lhead", "cluster_"+l.ID+"_onprem", "arrowhead", "none", "color", colInternet)
}

// host draws one internet or on-premises host; from, if set, is the node
// it hangs from. It returns the host's node id.
func (g *gen) host(h *topology.Host, from, kind string) string {
	id := "host-" + h.IP.String()
	label := lines(kind+h.Name, h.IP.String())
	kv := []string{"color", colInternet}
	var eKV []string
	if d, ok := g.o.Drops[h.Name]; ok && d.Count > 0 {
		label += "\n" + dropText(d)
		kv = append(kv, "color", colDrop, "fontcolor", colDrop, "penwidth", "2.5", "tooltip", dropTooltip(h.Name, d))
		eKV = []string{"color", colDrop, "fontcolor", colDrop, "penwidth", "2", "label", dropText(d)}
	}
	g.node(id, append([]string{"label", label}, kv...)...)
	if from != "" {
		g.edge(from, id, append([]string{"arrowhead", "none"}, eKV...)...)
	}
	return id
}
