// Package policy decides what security groups and network ACLs allow:
// stateful security groups with per-ENI connection tracking (SG-1..SG-8) and
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
