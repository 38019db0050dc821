package topology

import "fmt"

// PEER-4 (vpcnet's rule, README "Rules vpcnet adds"): a security-group
// rule may name a group of a VPC peered with its own. It matches that
// group's members only while the peering is active; once the peering is
// deleted (or while it is pending) the rule is stale: it stays in its group
// and is exported, and matches nothing. In the file the group is named by
// its name alone (names are unique), or, for a peered VPC's default group,
// "default" with source_vpc / destination_vpc naming its VPC. A peering
// (pending or active) in the file must join the two VPCs, or the rule says
// "stale": true (export writes it for a rule whose peering is gone), so that
// a group named by mistake is still an error.

// PeeringBetween is the peering connection (pending or active) that joins
// VPCs a and b, or nil.
func (n *Network) PeeringBetween(a, b *VPC) *Peering {
	for _, p := range n.Peerings {
		if (p.VPCs[0] == a && p.VPCs[1] == b) || (p.VPCs[0] == b && p.VPCs[1] == a) {
			return p
		}
	}
	return nil
}

// StaleRule reports whether rule r of group g names a group of another VPC
// that no active peering joins to g's (PEER-4): such a rule matches nothing.
func (n *Network) StaleRule(g *SecurityGroup, r SGRule) bool {
	if r.Group == nil || g == nil || r.Group.VPC == g.VPC {
		return false
	}
	return !n.PeeringBetween(g.VPC, r.Group.VPC).Active()
}

// peerVPCGroup resolves a rule's peer that is a group of another VPC
// (PEER-4): done is false when name names no such group (the caller looks
// in the rule's own VPC).
func (r *resolver) peerVPCGroup(path, name, peerVPC string, stale bool, v *VPC) (g *SecurityGroup, done, ok bool) {
	var pv *VPC
	switch {
	case peerVPC != "":
		if pv, ok = lookup[*VPC](r, path+"_vpc", "PEER-4", peerVPC, kindVPC, nil); !ok {
			return nil, true, false
		}
		if pv == v {
			return nil, false, false
		}
		if name == "default" {
			g = pv.DefaultSG
		} else if g, ok = lookup[*SecurityGroup](r, path, "PEER-4", name, kindSG, pv); !ok {
			return nil, true, false
		}
	default:
		e := r.names[name]
		if e == nil || e.kind != kindSG || e.vpc == nil || e.vpc == v {
			return nil, false, false
		}
		g, pv = e.obj.(*SecurityGroup), e.vpc
	}
	if r.n.PeeringBetween(v, pv) == nil {
		if !stale {
			r.errf(path, "SG-3", "security group %q is in vpc %q, not in vpc %q, and no peering joins them "+
				"(PEER-4: a rule kept from a deleted peering says \"stale\": true)", name, pv.Name, v.Name)
			return nil, true, false
		}
		r.n.Warnings = append(r.n.Warnings, fmt.Sprintf("%s: security group %q is in vpc %q, which no peering joins to vpc %q: "+
			"the rule is stale and matches nothing (PEER-4)", path, name, pv.Name, v.Name))
	}
	return g, true, g != nil
}

// staleInFile is what the file says of rule r of g: stale when it names a
// group of a VPC no peering joins to g's (PEER-4).
func staleInFile(n *Network, g *SecurityGroup, r SGRule) bool {
	return r.Group != nil && r.Group.VPC != g.VPC && n.PeeringBetween(g.VPC, r.Group.VPC) == nil
}

// peerVPCName is the VPC the file names beside rule r's peer group: the
// peered VPC of a default group (PEER-4), "" otherwise.
func peerVPCName(g *SecurityGroup, r SGRule) string {
	if x := r.Group; x != nil && x.VPC != nil && x.VPC != g.VPC && x == x.VPC.DefaultSG {
		return x.VPC.Name
	}
	return ""
}
