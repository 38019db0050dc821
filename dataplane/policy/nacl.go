package policy

import (
	"net/netip"
	"sort"
	"sync/atomic"
)

// ImplicitDeny is the rule number reported for the `*` rule (NACL-2).
const ImplicitDeny = 32767

// ACLRule is a numbered NACL rule (NACL-2). Proto -1 is all; From..To is the
// destination port range for TCP and UDP, or ICMP type and code (Any: any).
type ACLRule struct {
	Number   int
	Proto    int16
	From, To int32
	Prefix   netip.Prefix
	Allow    bool
}

// ACL is an immutable network ACL. Edits build a new ACL, so they apply to
// the very next packet, tracked flows included (SG-5's note, NACL-1).
//
// Each ACL caches its decisions by (direction, protocol, remote address,
// destination port or ICMP type/code), so a packet of a known flow costs
// one cache probe whatever the number of rules. The cache is lock-free: a
// slot is two atomic words, the key and the value, and the value repeats a
// hash of the key so that a torn read is seen as a miss.
type ACL struct {
	ingress, egress []ACLRule
	cache           [aclCacheSize]aclSlot
}

const aclCacheSize = 4096

type aclSlot struct{ k, v atomic.Uint64 }

// NewACL returns an ACL with the given rules, sorted by number.
func NewACL(ingress, egress []ACLRule) *ACL {
	a := &ACL{ingress: sorted(ingress), egress: sorted(egress)}
	return a
}

func sorted(r []ACLRule) []ACLRule {
	out := append([]ACLRule(nil), r...)
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out
}

// Check decides p where it leaves (egress) or enters (ingress) a subnet
// whose ACL is a: the first rule by number that matches decides; none
// matching is the implicit deny (NACL-2). Matching is on the remote address:
// the destination for egress, the source for ingress. It returns the
// deciding rule number.
func (a *ACL) Check(egress bool, p *Packet) (allow bool, rule int) {
	remote := p.Src
	if egress {
		remote = p.Dst
	}
	r4 := remote.As4()
	var l4 uint32
	switch p.Proto {
	case 6, 17:
		l4 = uint32(p.DstPort)
	case 1:
		l4 = uint32(p.ICMPType)<<8 | uint32(p.ICMPCode)
	}
	k := uint64(r4[0])<<56 | uint64(r4[1])<<48 | uint64(r4[2])<<40 | uint64(r4[3])<<32 |
		uint64(l4)<<16 | uint64(p.Proto)<<1
	if egress {
		k |= 1
	}
	h := mix(k)
	slot := &a.cache[h%aclCacheSize]
	// Keys are stored plus one, so a zero slot never matches.
	if slot.k.Load() == k+1 {
		v := slot.v.Load()
		if uint32(v>>32) == uint32(h>>32) {
			return v&1 != 0, int(uint32(v) >> 1)
		}
	}
	allow, rule = a.evaluate(egress, remote, p)
	v := uint64(uint32(h>>32))<<32 | uint64(rule)<<1
	if allow {
		v |= 1
	}
	slot.k.Store(k + 1)
	slot.v.Store(v)
	return allow, rule
}

// evaluate is the rule scan behind the cache.
func (a *ACL) evaluate(egress bool, remote netip.Addr, p *Packet) (bool, int) {
	rules := a.ingress
	if egress {
		rules = a.egress
	}
	for i := range rules {
		r := &rules[i]
		if matchL4(r.Proto, r.From, r.To, p) && r.Prefix.Contains(remote) {
			return r.Allow, r.Number
		}
	}
	return false, ImplicitDeny
}

// mix is a 64-bit finalizer (splitmix64).
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
