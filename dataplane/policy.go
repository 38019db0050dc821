package dataplane

import (
	"net/netip"
	"strings"

	"github.com/vpcnet/vpcnet/dataplane/policy"
	"github.com/vpcnet/vpcnet/topology"
)

// compileGroups installs every security group of n in the registry, with
// each group's members: the private IPs of every ENI in it (SG-3). Group ids
// are stable across compiles.
func (st *state) compileGroups(n *topology.Network) {
	gid := func(g *topology.SecurityGroup) policy.GroupID {
		id, ok := st.gids[g.ID]
		if !ok {
			id = policy.GroupID(len(st.gids) + 1)
			st.gids[g.ID] = id
		}
		return id
	}
	conv := func(g *topology.SecurityGroup, rules []topology.SGRule) []policy.Rule {
		out := make([]policy.Rule, 0, len(rules))
		for _, r := range rules {
			if n.StaleRule(g, r) {
				continue // PEER-4: a peered VPC's group without an active peering matches nothing
			}
			pr := policy.Rule{Proto: int16(r.Protocol), From: int32(r.FromPort), To: int32(r.ToPort), Prefix: r.CIDR}
			if r.Group != nil {
				pr.Group = gid(r.Group)
			}
			out = append(out, pr)
		}
		return out
	}
	m := map[policy.GroupID]*policy.Group{}
	for _, v := range n.VPCs {
		for _, g := range v.SGs {
			m[gid(g)] = &policy.Group{Ingress: conv(g, g.Ingress), Egress: conv(g, g.Egress), Members: map[netip.Addr]struct{}{}}
		}
	}
	for _, v := range n.VPCs {
		for _, e := range v.ENIs {
			for _, g := range e.Groups {
				for _, ip := range e.IPs() {
					m[gid(g)].Members[ip] = struct{}{}
				}
			}
		}
	}
	st.groups.Replace(m)
}

// compileNACL builds a's rules into a fresh policy.ACL: an edit applies to
// the next packet (NACL-1).
func (st *state) compileNACL(a *topology.NACL) *naclCfg {
	conv := func(rules []topology.NACLRule) []policy.ACLRule {
		out := make([]policy.ACLRule, 0, len(rules))
		for _, r := range rules {
			out = append(out, policy.ACLRule{Number: r.Number, Proto: int16(r.Protocol), From: int32(r.FromPort),
				To: int32(r.ToPort), Prefix: r.CIDR, Allow: r.Allow})
		}
		return out
	}
	return &naclCfg{id: a.ID, acl: policy.NewACL(conv(a.Ingress), conv(a.Egress))}
}

// eniState returns the long-lived state of e, creating it on first sight,
// and brings its tracker's groups and timeouts up to date. Routing ENIs
// (no groups, ENI-3) have no tracker.
func (st *state) eniState(e *topology.ENI) *eniState {
	es := st.enis[e.ID]
	if es == nil {
		es = &eniState{}
		st.enis[e.ID] = es
	}
	if len(e.Groups) == 0 {
		return es
	}
	to := policy.DefaultTimeouts
	if c := e.ConnTrack; c.TCPEstablished > 0 {
		to.TCPEstablished, to.UDPStream, to.UDP = int64(c.TCPEstablished)*1e9, int64(c.UDPStream)*1e9, int64(c.UDP)*1e9
	}
	if es.tracker == nil {
		// SG-8: the VPC's resolver, base + 2, is never blocked.
		resolver := e.Subnet.VPC.CIDR.Masked().Addr().Next().Next()
		es.tracker = policy.NewTracker(st.groups, st.table, to, resolver)
	} else {
		es.tracker.SetTimeouts(to)
	}
	ids := make([]policy.GroupID, 0, len(e.Groups))
	for _, g := range e.Groups {
		ids = append(ids, st.gids[g.ID])
	}
	es.tracker.SetGroups(ids)
	return es
}

// forgetDeleted frees the long-lived state of every ENI that n no longer
// has (issue 10): its tracker leaves the shared table, its flows and
// counters are dropped, and an ENI created later under the same id starts
// afresh. A worker still on an older config may touch the old state once
// more; a closed tracker tracks nothing (policy.Tracker.Close).
func (st *state) forgetDeleted(n *topology.Network) {
	live := map[string]bool{}
	for _, v := range n.VPCs {
		for _, e := range v.ENIs {
			live[e.ID] = true
		}
	}
	for id, es := range st.enis {
		if live[id] {
			continue
		}
		if es.tracker != nil {
			es.tracker.Close()
		}
		delete(st.enis, id)
	}
	// A deleted NAT gateway's mappings go with it: the flows through it
	// end, and a gateway made again (same id, or the same EIP) starts
	// clean (NAT-1, LIFE-1).
	gws := map[string]bool{}
	for _, v := range n.VPCs {
		for _, g := range v.NATs {
			gws[g.ID] = true
		}
	}
	for id := range st.nats {
		if !gws[id] {
			delete(st.nats, id)
		}
	}
}

func groupNames(e *topology.ENI) string {
	ids := make([]string, 0, len(e.Groups))
	for _, g := range e.Groups {
		ids = append(ids, g.ID)
	}
	return strings.Join(ids, ",")
}
