package ec2

import "github.com/vpcnet/vpcnet/topology"

// PEER-4 (topology/peersg.go): a rule may name a group of a VPC an active
// peering joins to its own (rules.go's peerGroup); it stays, stale and
// matching nothing, once the peering is gone. So a group's users are
// looked for in every VPC.

// allSGs is every security group of every VPC.
func (d *Service) allSGs() []*topology.SecurityGroup {
	var out []*topology.SecurityGroup
	for _, v := range d.net.VPCs {
		out = append(out, v.SGs...)
	}
	return out
}

// ruleNaming is a group of another VPC than g's with a rule that names g,
// or nil.
func (d *Service) ruleNaming(g *topology.SecurityGroup) *topology.SecurityGroup {
	for _, x := range d.allSGs() {
		if x.VPC == g.VPC {
			continue
		}
		for _, r := range x.Ingress {
			if r.Group == g {
				return x
			}
		}
		for _, r := range x.Egress {
			if r.Group == g {
				return x
			}
		}
	}
	return nil
}

// namesGroup reports whether a rule of g names group x.
func namesGroup(g, x *topology.SecurityGroup) bool {
	for _, r := range g.Ingress {
		if r.Group == x {
			return true
		}
	}
	for _, r := range g.Egress {
		if r.Group == x {
			return true
		}
	}
	return false
}
