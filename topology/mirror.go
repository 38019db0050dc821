package topology

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Traffic Mirroring (issue 14), as AWS has it: targets (a network
// interface), filters (numbered ingress and egress rules) and sessions (a
// source network interface, a target, a filter). The rules it follows:
//
//	TM-1 A target is a network interface; it may serve several sessions and
//	     cannot be deleted while one uses it. A filter in use cannot be
//	     deleted either.
//	TM-2 A filter's rules are numbered 1–32766 per direction and checked
//	     lowest first; the first match decides accept or reject, and a frame
//	     no rule matches is not mirrored. At most 10 rules per filter. Amazon
//	     DNS traffic is mirrored only when the filter names the amazon-dns
//	     network service; ARP, DHCP, NTP and the metadata service never are.
//	TM-3 A session mirrors what its source network interface receives
//	     (ingress) and sends (egress). A source has at most 3 sessions,
//	     numbered 1–32766 and distinct; the lowest-numbered session whose
//	     filter accepts a frame mirrors it, and only that one. Source and
//	     target are different interfaces; a target takes at most 10 sources.
//	TM-4 A mirrored frame travels as VXLAN (UDP 4789) from the source's
//	     primary private IP to the target's, its UDP source port a hash of
//	     the flow, its VNI the session's (given, or derived from its name and
//	     unique in the account), the original Ethernet frame inside, cut to
//	     the session's packet length, and the whole cut to the target's MTU.
//	TM-5 The target's security groups must allow UDP 4789 from the source:
//	     copies they refuse are dropped, counted on the target.
//	TM-6 Mirroring never takes from production traffic: when the target's
//	     port is full the copy is dropped (counted), never the original.
//	     Flow logs do not record mirrored traffic.

// Quotas of Traffic Mirroring that AWS does not raise.
const (
	MaxMirrorSessionsPerSource = 3  // TM-3
	MaxMirrorSourcesPerTarget  = 10 // TM-3, the smaller instance sizes' number
	MaxMirrorRulesPerFilter    = 10 // TM-2
	MaxMirrorNumber            = 32766
	MaxVNI                     = 1<<24 - 1
	VXLANPort                  = 4789 // TM-4
)

const (
	kindMirrorTarget  = "traffic mirror target"
	kindMirrorFilter  = "traffic mirror filter"
	kindMirrorSession = "traffic mirror session"

	// Kinds of the names live operations give.
	KindMirrorTarget  = kindMirrorTarget
	KindMirrorFilter  = kindMirrorFilter
	KindMirrorSession = kindMirrorSession
)

// TrafficMirroring is the network's targets, filters and sessions, in
// creation order.
type TrafficMirroring struct {
	Targets  []*MirrorTarget
	Filters  []*MirrorFilter
	Sessions []*MirrorSession
}

// MirrorTarget is a traffic mirror target: a network interface (TM-1).
type MirrorTarget struct {
	Name, ID    string // tmt-…
	Description string
	ENI         *ENI
}

// MirrorFilter is a traffic mirror filter (TM-2).
type MirrorFilter struct {
	Name, ID        string // tmf-…
	Description     string
	Ingress, Egress []MirrorRule // each sorted by Number
	AmazonDNS       bool         // the amazon-dns network service
}

// MirrorRule is one rule of a filter (TM-2). Protocol is ProtoAll or an IP
// protocol number; port bounds are -1 when the rule gives no range.
type MirrorRule struct {
	ID                  string // tmfr-…
	Number              int
	Accept              bool
	Protocol            int
	Source, Destination netip.Prefix
	SrcFrom, SrcTo      int
	DstFrom, DstTo      int
	Description         string
	Egress              bool
}

// MirrorSession is a traffic mirror session (TM-3, TM-4).
type MirrorSession struct {
	Name, ID     string // tms-…
	Description  string
	Source       *ENI
	Target       *MirrorTarget
	Filter       *MirrorFilter
	Number       int
	PacketLength int // 0: whole frames
	VNI          int
}

// MirrorRuleID derives the id of rule number of filter f in a direction:
// numbers are unique per direction, so the id is stable across up.
func (n *Network) MirrorRuleID(f *MirrorFilter, egress bool, number int) string {
	return n.NewID("tmfr", fmt.Sprintf("%s/%s/%d", f.Name, direction(egress), number))
}

func direction(egress bool) string {
	if egress {
		return "egress"
	}
	return "ingress"
}

// Rules returns f's rules of one direction.
func (f *MirrorFilter) Rules(egress bool) []MirrorRule {
	if egress {
		return f.Egress
	}
	return f.Ingress
}

// SetRules replaces f's rules of one direction (sorted by number).
func (f *MirrorFilter) SetRules(egress bool, rs []MirrorRule) {
	slices.SortFunc(rs, func(a, b MirrorRule) int { return a.Number - b.Number })
	if egress {
		f.Egress = rs
	} else {
		f.Ingress = rs
	}
}

// eniLive reports whether e is still an ENI of n.
func (n *Network) eniLive(e *ENI) bool {
	if e == nil || e.Subnet == nil {
		return false
	}
	for _, v := range n.VPCs {
		if slices.Contains(v.ENIs, e) {
			return true
		}
	}
	return false
}

// LiveMirrorTargets are the targets whose network interface is still
// there; a target goes with its interface (describe, export and the
// forwarder leave it out).
func (n *Network) LiveMirrorTargets() []*MirrorTarget {
	var out []*MirrorTarget
	for _, t := range n.Mirroring.Targets {
		if n.eniLive(t.ENI) {
			out = append(out, t)
		}
	}
	return out
}

// LiveMirrorSessions are the sessions whose source and target are still
// there.
func (n *Network) LiveMirrorSessions() []*MirrorSession {
	var out []*MirrorSession
	for _, s := range n.Mirroring.Sessions {
		if n.eniLive(s.Source) && n.eniLive(s.Target.ENI) && slices.Contains(n.Mirroring.Filters, s.Filter) {
			out = append(out, s)
		}
	}
	return out
}

// DeriveVNI is the VNI of a session that names none (TM-4): derived from
// the topology's and the session's names, so the same on every up, and
// different from every VNI in used.
func (n *Network) DeriveVNI(name string, used map[int]bool) int {
	for attempt := 0; ; attempt++ {
		h := hashOf(n.Name, "vni", name, fmt.Sprint(attempt))
		vni := int(h[0])<<16 | int(h[1])<<8 | int(h[2])
		if vni != 0 && !used[vni] {
			return vni
		}
	}
}

// --- the file's traffic_mirroring --------------------------------------------

// TrafficMirroringSpec is topo.json's traffic_mirroring: targets, filters
// and sessions, by name.
type TrafficMirroringSpec struct {
	Targets  []MirrorTargetSpec  `json:"targets,omitempty"`
	Filters  []MirrorFilterSpec  `json:"filters,omitempty"`
	Sessions []MirrorSessionSpec `json:"sessions,omitempty"`
}

// MirrorTargetSpec is a target: a network interface, or an instance (its
// primary interface).
type MirrorTargetSpec struct {
	Name             string `json:"name"`
	NetworkInterface string `json:"network_interface"`
	Description      string `json:"description,omitempty"`
}

// MirrorFilterSpec is a filter with its rules.
type MirrorFilterSpec struct {
	Name            string           `json:"name"`
	Description     string           `json:"description,omitempty"`
	NetworkServices []string         `json:"network_services,omitempty"` // "amazon-dns"
	Ingress         []MirrorRuleSpec `json:"ingress,omitempty"`
	Egress          []MirrorRuleSpec `json:"egress,omitempty"`
}

// MirrorRuleSpec is a filter rule. protocol is written as security-group
// rules write it (omitted: all); ports as "80" or "1024-65535" (omitted:
// all); source and destination are CIDRs.
type MirrorRuleSpec struct {
	Rule             int      `json:"rule"`
	Action           string   `json:"action"` // accept, reject
	Protocol         Protocol `json:"protocol,omitempty"`
	Source           string   `json:"source"`
	Destination      string   `json:"destination"`
	SourcePorts      Ports    `json:"source_ports,omitempty"`
	DestinationPorts Ports    `json:"destination_ports,omitempty"`
	Description      string   `json:"description,omitempty"`
}

// MirrorSessionSpec is a session.
type MirrorSessionSpec struct {
	Name             string `json:"name"`
	NetworkInterface string `json:"network_interface"` // the source: a network interface or an instance
	Target           string `json:"target"`
	Filter           string `json:"filter"`
	SessionNumber    int    `json:"session_number"`
	PacketLength     int    `json:"packet_length,omitempty"` // omitted: whole frames
	VNI              *int   `json:"vni,omitempty"`           // omitted: derived
	Description      string `json:"description,omitempty"`
}

// CheckMirrorRule checks a rule's values (TM-2) as both the file and
// CreateTrafficMirrorFilterRule take them; it returns what is wrong, "" if
// nothing.
func CheckMirrorRule(r *MirrorRule) string {
	switch {
	case r.Number < 1 || r.Number > MaxMirrorNumber:
		return fmt.Sprintf("rule number %d must be 1–%d", r.Number, MaxMirrorNumber)
	case r.Protocol != ProtoAll && (r.Protocol < 0 || r.Protocol > 255):
		return fmt.Sprintf("protocol %d must be 0–255", r.Protocol)
	case !r.Source.IsValid() || !r.Source.Addr().Is4() || !r.Destination.IsValid() || !r.Destination.Addr().Is4():
		return "source and destination must be IPv4 CIDR blocks"
	case (r.SrcFrom >= 0 || r.DstFrom >= 0) && r.Protocol != 6 && r.Protocol != 17:
		return "port ranges are for TCP (6) and UDP (17) rules only"
	}
	return ""
}

// resolveMirroring resolves the file's traffic_mirroring: names in the
// file's one namespace, references by name (TM-1 … TM-4).
func (r *resolver) resolveMirroring() {
	ts := r.t.TrafficMirroring
	if ts == nil {
		return
	}
	m := &r.n.Mirroring
	eniOf := func(path, name string) *ENI {
		e := r.names[name]
		switch {
		case name == "":
			r.errf(path, "TM-1", "network_interface is required")
		case e == nil:
			r.errf(path, "TM-1", "network interface %q not found", name)
		default:
			switch o := e.obj.(type) {
			case *ENI:
				if o.Kind == ENICompute || o.Instance != nil {
					return o
				}
				r.errf(path, "TM-1", "%q is a requester-managed interface: traffic mirroring takes an instance's interface", name)
			case *Instance:
				return o.Primary()
			default:
				r.errf(path, "TM-1", "%q is a %s, not a network interface or instance", name, e.kind)
			}
		}
		return nil
	}
	for i, s := range ts.Targets {
		path := fmt.Sprintf("traffic_mirroring.targets[%d]", i)
		t := &MirrorTarget{Name: s.Name, ID: r.id("tmt", s.Name), Description: s.Description}
		r.register(path+".name", s.Name, kindMirrorTarget, nil, t)
		r.description(path+".description", s.Description)
		if t.ENI = eniOf(path+".network_interface", s.NetworkInterface); t.ENI != nil {
			m.Targets = append(m.Targets, t)
		}
	}
	for i, s := range ts.Filters {
		path := fmt.Sprintf("traffic_mirroring.filters[%d]", i)
		f := &MirrorFilter{Name: s.Name, ID: r.id("tmf", s.Name), Description: s.Description}
		r.register(path+".name", s.Name, kindMirrorFilter, nil, f)
		r.description(path+".description", s.Description)
		for _, ns := range s.NetworkServices {
			if ns != "amazon-dns" {
				r.errf(path+".network_services", "TM-2", "network service %q: the only one is amazon-dns", ns)
			}
			f.AmazonDNS = true
		}
		if n := len(s.Ingress) + len(s.Egress); n > MaxMirrorRulesPerFilter {
			r.errf(path, "TM-2", "%d rules, more than the %d a filter holds", n, MaxMirrorRulesPerFilter)
		}
		for _, egress := range []bool{false, true} {
			specs, dir := s.Ingress, "ingress"
			if egress {
				specs, dir = s.Egress, "egress"
			}
			var rules []MirrorRule
			seen := map[int]bool{}
			for j, rs := range specs {
				rp := fmt.Sprintf("%s.%s[%d]", path, dir, j)
				if rule, ok := r.mirrorRule(rp, rs, egress); ok {
					if seen[rule.Number] {
						r.errf(rp+".rule", "TM-2", "rule number %d is used twice in %s", rule.Number, dir)
						continue
					}
					seen[rule.Number] = true
					rule.ID = r.n.MirrorRuleID(f, egress, rule.Number)
					rules = append(rules, rule)
				}
			}
			f.SetRules(egress, rules)
		}
		m.Filters = append(m.Filters, f)
	}
	vnis := map[int]bool{}
	for _, s := range ts.Sessions {
		if s.VNI != nil {
			vnis[*s.VNI] = true
		}
	}
	perSource := map[*ENI][]*MirrorSession{}
	sources := map[*MirrorTarget]map[*ENI]bool{}
	for i, s := range ts.Sessions {
		path := fmt.Sprintf("traffic_mirroring.sessions[%d]", i)
		ms := &MirrorSession{Name: s.Name, ID: r.id("tms", s.Name), Description: s.Description,
			Number: s.SessionNumber, PacketLength: s.PacketLength}
		r.register(path+".name", s.Name, kindMirrorSession, nil, ms)
		r.description(path+".description", s.Description)
		ms.Source = eniOf(path+".network_interface", s.NetworkInterface)
		t, okT := lookup[*MirrorTarget](r, path+".target", "TM-3", s.Target, kindMirrorTarget, nil)
		f, okF := lookup[*MirrorFilter](r, path+".filter", "TM-3", s.Filter, kindMirrorFilter, nil)
		if ms.Number < 1 || ms.Number > MaxMirrorNumber {
			r.errf(path+".session_number", "TM-3", "session_number %d must be 1–%d", ms.Number, MaxMirrorNumber)
		}
		if ms.PacketLength < 0 || ms.PacketLength > 65535 {
			r.errf(path+".packet_length", "TM-4", "packet_length %d must be 1–65535 (omitted: whole frames)", ms.PacketLength)
		}
		switch {
		case s.VNI == nil:
			ms.VNI = r.n.DeriveVNI(s.Name, vnis)
			vnis[ms.VNI] = true
		case *s.VNI < 0 || *s.VNI > MaxVNI:
			r.errf(path+".vni", "TM-4", "vni %d must be 0–%d", *s.VNI, MaxVNI)
		default:
			ms.VNI = *s.VNI
		}
		if ms.Source == nil || !okT || !okF || t.ENI == nil {
			continue
		}
		ms.Target, ms.Filter = t, f
		if ms.Source == t.ENI {
			r.errf(path+".target", "TM-3", "the source and the target are the same network interface %q", ms.Source.Name)
			continue
		}
		for _, o := range perSource[ms.Source] {
			if o.Number == ms.Number {
				r.errf(path+".session_number", "TM-3", "session %q of the same source has number %d", o.Name, o.Number)
			}
		}
		if perSource[ms.Source] = append(perSource[ms.Source], ms); len(perSource[ms.Source]) > MaxMirrorSessionsPerSource {
			r.errf(path, "TM-3", "network interface %q is the source of more than %d sessions", ms.Source.Name, MaxMirrorSessionsPerSource)
		}
		if sources[t] == nil {
			sources[t] = map[*ENI]bool{}
		}
		if sources[t][ms.Source] = true; len(sources[t]) > MaxMirrorSourcesPerTarget {
			r.errf(path, "TM-3", "target %q has more than %d sources", t.Name, MaxMirrorSourcesPerTarget)
		}
		m.Sessions = append(m.Sessions, ms)
	}
}

// mirrorRule resolves one filter rule of the file.
func (r *resolver) mirrorRule(path string, rs MirrorRuleSpec, egress bool) (MirrorRule, bool) {
	rule := MirrorRule{Number: rs.Rule, Protocol: ProtoAll, SrcFrom: -1, SrcTo: -1, DstFrom: -1, DstTo: -1,
		Description: rs.Description, Egress: egress}
	ok := true
	switch rs.Action {
	case "accept":
		rule.Accept = true
	case "reject":
	default:
		r.errf(path+".action", "TM-2", "action %q must be accept or reject", rs.Action)
		ok = false
	}
	if rs.Protocol != "" {
		p, err := parseProto(rs.Protocol)
		if err != nil {
			r.errf(path+".protocol", "TM-2", "%v", err)
			ok = false
		}
		rule.Protocol = p
	}
	var err error
	if rule.Source, err = parsePrefix(rs.Source); err != nil {
		r.errf(path+".source", "TM-2", "source: %v", err)
		return rule, false
	}
	if rule.Destination, err = parsePrefix(rs.Destination); err != nil {
		r.errf(path+".destination", "TM-2", "destination: %v", err)
		return rule, false
	}
	if rs.SourcePorts != "" {
		if rule.SrcFrom, rule.SrcTo, err = parsePorts(string(rs.SourcePorts)); err != nil {
			r.errf(path+".source_ports", "TM-2", "%v", err)
			ok = false
		}
	}
	if rs.DestinationPorts != "" {
		if rule.DstFrom, rule.DstTo, err = parsePorts(string(rs.DestinationPorts)); err != nil {
			r.errf(path+".destination_ports", "TM-2", "%v", err)
			ok = false
		}
	}
	r.description(path+".description", rs.Description)
	if msg := CheckMirrorRule(&rule); ok && msg != "" {
		r.errf(path, "TM-2", "%s", msg)
		ok = false
	}
	return rule, ok
}

// exportMirroring writes n's live traffic mirroring as the file's
// traffic_mirroring; nil when there is none.
func exportMirroring(n *Network) *TrafficMirroringSpec {
	m := &n.Mirroring
	targets := n.LiveMirrorTargets()
	if len(targets) == 0 && len(m.Filters) == 0 {
		return nil
	}
	ts := &TrafficMirroringSpec{}
	for _, t := range targets {
		ts.Targets = append(ts.Targets, MirrorTargetSpec{Name: t.Name, NetworkInterface: t.ENI.Name, Description: t.Description})
	}
	for _, f := range m.Filters {
		fs := MirrorFilterSpec{Name: f.Name, Description: f.Description}
		if f.AmazonDNS {
			fs.NetworkServices = []string{"amazon-dns"}
		}
		for _, r := range f.Ingress {
			fs.Ingress = append(fs.Ingress, exportMirrorRule(r))
		}
		for _, r := range f.Egress {
			fs.Egress = append(fs.Egress, exportMirrorRule(r))
		}
		ts.Filters = append(ts.Filters, fs)
	}
	for _, s := range n.LiveMirrorSessions() {
		vni := s.VNI
		ts.Sessions = append(ts.Sessions, MirrorSessionSpec{Name: s.Name, NetworkInterface: s.Source.Name, Target: s.Target.Name,
			Filter: s.Filter.Name, SessionNumber: s.Number, PacketLength: s.PacketLength, VNI: &vni, Description: s.Description})
	}
	return ts
}

func exportMirrorRule(r MirrorRule) MirrorRuleSpec {
	rs := MirrorRuleSpec{Rule: r.Number, Action: "reject", Source: r.Source.String(), Destination: r.Destination.String(),
		Description: r.Description}
	if r.Accept {
		rs.Action = "accept"
	}
	if r.Protocol != ProtoAll {
		rs.Protocol = Protocol(fmt.Sprint(r.Protocol))
	}
	rs.SourcePorts = portsString(r.SrcFrom, r.SrcTo)
	rs.DestinationPorts = portsString(r.DstFrom, r.DstTo)
	return rs
}

func portsString(from, to int) Ports {
	switch {
	case from < 0:
		return ""
	case from == to:
		return Ports(fmt.Sprint(from))
	}
	return Ports(fmt.Sprintf("%d-%d", from, to))
}

// MirrorNames are the names traffic mirroring takes in the file's one
// namespace.
func (n *Network) MirrorNames() []string {
	var out []string
	m := &n.Mirroring
	for _, t := range m.Targets {
		out = append(out, t.Name)
	}
	for _, f := range m.Filters {
		out = append(out, f.Name)
	}
	for _, s := range m.Sessions {
		out = append(out, s.Name)
	}
	return slices.DeleteFunc(out, func(s string) bool { return strings.TrimSpace(s) == "" })
}
