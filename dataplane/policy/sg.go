// Package policy decides what security groups and network ACLs allow:
// stateful security groups with per-ENI connection tracking (SG-1..SG-10) and
// stateless numbered network ACLs (NACL-1..NACL-5). It is pure Go with no
// syscalls and imports nothing from the project.
//
// Decide once, then cache: a security-group verdict is made on a flow's first
// packet and remembered in the ENI's Tracker, so an established flow costs a
// map lookup whatever the number of rules; a rule edit does not touch tracked
// flows (SG-5). NACLs are checked on every packet (NACL-1) but each ACL keeps
// a small decision cache, so their per-packet cost does not grow with the
// number of rules either; an edit builds a new ACL, so it applies at once.
package policy

import (
	"net/netip"
	"sync/atomic"
)

// Packet is what the policy looks at.
type Packet struct {
	Src, Dst           netip.Addr // IPv4
	Proto              uint8      // 6 tcp, 17 udp, 1 icmp, others
	SrcPort, DstPort   uint16
	ICMPType, ICMPCode uint8
	ICMPID             uint16 // echo and timestamp id
	TCPFlags           uint8  // FIN=1 SYN=2 RST=4 ACK=0x10
	Len                int
}

// GroupID identifies a security group in a Groups registry; 0 is none.
type GroupID uint32

// Any is a wildcard for a rule's From or To (all ports, any ICMP type/code).
const Any = -1

// Rule is one security-group rule (SG-3). Proto -1 means all protocols. For
// TCP and UDP, From..To is the destination port range; for ICMP, From is the
// type and To the code (Any: any). The peer is Group when non-zero, else
// Prefix.
type Rule struct {
	Proto    int16
	From, To int32
	Prefix   netip.Prefix
	Group    GroupID
}

// matchL4 reports whether proto/ports/ICMP fields of a rule match p.
func matchL4(proto int16, from, to int32, p *Packet) bool {
	if proto != -1 && uint8(proto) != p.Proto {
		return false
	}
	if proto == -1 {
		return true
	}
	switch p.Proto {
	case 6, 17:
		if from == Any {
			return true
		}
		return int32(p.DstPort) >= from && int32(p.DstPort) <= to
	case 1:
		return (from == Any || int32(p.ICMPType) == from) && (to == Any || int32(p.ICMPCode) == to)
	}
	return true
}

// Group is a security group's rules and members.
type Group struct {
	Ingress, Egress []Rule
	// Members are the private IPs of every ENI in the group: a rule whose
	// peer is this group matches them (SG-3).
	Members map[netip.Addr]struct{}
}

// Groups is the registry of security groups. It is an immutable snapshot
// swapped atomically: readers never lock.
type Groups struct {
	snap atomic.Pointer[map[GroupID]*Group]
}

// NewGroups returns an empty registry.
func NewGroups() *Groups {
	g := &Groups{}
	m := map[GroupID]*Group{}
	g.snap.Store(&m)
	return g
}

// Replace installs a new set of groups. Tracked flows are not affected (SG-5).
func (g *Groups) Replace(m map[GroupID]*Group) { g.snap.Store(&m) }

// allows reports whether the union of groups ids allows p (SG-2) in one
// direction, and which group was consulted last (for drop details).
func (g *Groups) allows(ids []GroupID, ingress bool, p *Packet) bool {
	m := *g.snap.Load()
	peer := p.Dst
	if ingress {
		peer = p.Src
	}
	for _, id := range ids {
		grp := m[id]
		if grp == nil {
			continue
		}
		rules := grp.Egress
		if ingress {
			rules = grp.Ingress
		}
		for i := range rules {
			r := &rules[i]
			if !matchL4(r.Proto, r.From, r.To, p) {
				continue
			}
			if r.Group != 0 {
				if pg := m[r.Group]; pg != nil {
					if _, ok := pg.Members[peer]; ok {
						return true
					}
				}
				continue
			}
			if r.Prefix.Contains(peer) {
				return true
			}
		}
	}
	return false
}

// SG-9: AWS does not track a TCP or UDP flow that a rule from 0.0.0.0/0
// allows in one direction when a rule in the other direction allows that
// protocol to 0.0.0.0/0 on every port (the response traffic of any such
// flow). Each packet of it is judged by the rules, so revoking either rule
// cuts the flow at once. ICMP and other protocols are always tracked; a
// flow that only a narrower rule (a prefix, a group peer) allows is
// tracked as usual.
//
// A packet cannot tell whether it opens a flow or answers one, so it is
// untracked when either reading holds: it opens an untracked flow (a world
// rule of its direction allows it and the other direction allows every
// port to the world), or it answers one (its direction allows every port
// to the world and a world rule of the other direction allows the packet
// it answers). Both readings imply its own direction's rules allow it.

// portRange is an inclusive destination-port range.
type portRange struct{ from, to uint16 }

// worldRules are one direction's TCP and UDP rules whose peer is
// 0.0.0.0/0: their port ranges, and whether one covers every port.
type worldRules struct {
	ranges [2][]portRange // [0] TCP, [1] UDP
	all    [2]bool
}

// untrackedCache is SG-9's view of an ENI's groups, compiled once per
// registry snapshot and group list (Tracker.untracked).
type untrackedCache struct {
	snap *map[GroupID]*Group // the registry snapshot it was built from
	gen  uint64              // Tracker.groupsGen it was built for
	dir  [2]worldRules       // [0] ingress, [1] egress
}

// build recompiles c for the groups ids of registry m, reusing its slices.
func (c *untrackedCache) build(m map[GroupID]*Group, ids []GroupID) {
	for d := range c.dir {
		w := &c.dir[d]
		for i := range w.ranges {
			w.ranges[i], w.all[i] = w.ranges[i][:0], false
		}
	}
	for _, id := range ids {
		if g := m[id]; g != nil {
			c.dir[0].add(g.Ingress)
			c.dir[1].add(g.Egress)
		}
	}
}

func (w *worldRules) add(rules []Rule) {
	for i := range rules {
		r := &rules[i]
		if r.Group != 0 || !r.Prefix.IsValid() || !r.Prefix.Addr().Is4() || r.Prefix.Bits() != 0 {
			continue
		}
		for pi, proto := range [2]int16{6, 17} {
			if r.Proto != -1 && r.Proto != proto {
				continue
			}
			pr := portRange{0, 65535}
			if r.Proto != -1 && r.From != Any { // as matchL4 reads From..To
				from, to := max(r.From, 0), min(r.To, 65535)
				if to < from {
					continue
				}
				pr = portRange{uint16(from), uint16(to)}
			}
			w.ranges[pi] = append(w.ranges[pi], pr)
			if pr.from == 0 && pr.to == 65535 {
				w.all[pi] = true
			}
		}
	}
}

func (w *worldRules) covers(pi int, port uint16) bool {
	for _, r := range w.ranges[pi] {
		if port >= r.from && port <= r.to {
			return true
		}
	}
	return false
}

// untracked reports whether TCP or UDP packet p, going the way egress
// says, belongs to a flow SG-9 leaves untracked.
func (c *untrackedCache) untracked(p *Packet, egress bool) bool {
	pi := 0
	if p.Proto == 17 {
		pi = 1
	}
	d, o := &c.dir[0], &c.dir[1]
	if egress {
		d, o = o, d
	}
	return (o.all[pi] && d.covers(pi, p.DstPort)) || (d.all[pi] && o.covers(pi, p.SrcPort))
}
