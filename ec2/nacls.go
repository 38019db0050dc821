package ec2

import (
	"slices"

	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

// Network ACLs themselves, made and deleted live, and the association of
// each subnet with one (NACL-3, NACL-5, LIFE-1). Every subnet is associated
// with exactly one NACL, the default one unless another is named; the
// association id derives from the NACL and subnet ids (describe.go's
// networkACLAssociationID). Their entries are rules.go's.

func init() {
	Define("CreateNetworkAcl", Mutating, (*Service).createNetworkAcl)
	Define("DeleteNetworkAcl", Mutating, (*Service).deleteNetworkAcl)
	Define("ReplaceNetworkAclAssociation", Mutating, (*Service).replaceNetworkAclAssociation)
}

// createNetworkAcl makes a NACL in a VPC with no rule: it denies everything
// both ways until entries are added (NACL-3; describe shows the rule 32767
// deny of NACL-2 in each direction).
func (d *Service) createNetworkAcl(in *types.CreateNetworkAclRequest) (*types.CreateNetworkAclResult, error) {
	if err := unsupported(in, "VpcId", "TagSpecifications"); err != nil {
		return nil, err
	}
	v, err := d.findVPC(in.VpcId)
	if err != nil {
		return nil, err
	}
	name, err := d.nameFromSpecs(in.TagSpecifications, types.ResourceTypeNetworkAcl, "acl", topology.KindNACL)
	if err != nil {
		return nil, err
	}
	a := &topology.NACL{Name: name, ID: d.net.NewID("acl", name), Ingress: []topology.NACLRule{}, Egress: []topology.NACLRule{}}
	v.NACLs = append(slices.Clone(v.NACLs), a)
	out := networkACLOf(d.net, v, a)
	out.Tags = d.tagsOf(a.ID, a.Name)
	return &types.CreateNetworkAclResult{NetworkAcl: &out}, nil
}

// deleteNetworkAcl removes a NACL no subnet is associated with; the VPC's
// default NACL stays (LIFE-1, NACL-3).
func (d *Service) deleteNetworkAcl(in *types.DeleteNetworkAclRequest) (*struct{}, error) {
	a, err := d.findNACL(in.NetworkAclId)
	if err != nil {
		return nil, err
	}
	v := naclVPC(d.net, a)
	if a == v.DefaultNACL {
		return nil, opErr("InvalidParameterValue", "cannot delete default network ACL %s (NACL-3)", a.ID)
	}
	for _, s := range v.Subnets {
		if s.NACL == a {
			return nil, opErr("DependencyViolation", "The networkAcl '%s' has dependencies and cannot be deleted: subnet %s is associated with it (LIFE-1)", a.ID, s.ID)
		}
	}
	v.NACLs = slices.DeleteFunc(slices.Clone(v.NACLs), func(x *topology.NACL) bool { return x == a })
	return nil, nil
}

// naclVPC is the VPC that holds a.
func naclVPC(n *topology.Network, a *topology.NACL) *topology.VPC {
	for _, v := range n.VPCs {
		if slices.Contains(v.NACLs, a) {
			return v
		}
	}
	return nil
}

// replaceNetworkAclAssociation moves a subnet, named by its current
// association id, to another NACL of its VPC (NACL-5), and answers the new
// association's id.
func (d *Service) replaceNetworkAclAssociation(in *types.ReplaceNetworkAclAssociationRequest) (*types.ReplaceNetworkAclAssociationResult, error) {
	if in.AssociationId == "" {
		return nil, opErr("MissingParameter", "The request must contain the parameter associationId")
	}
	var s *topology.Subnet
	for _, v := range d.net.VPCs {
		for _, x := range v.Subnets {
			if networkACLAssociationID(d.net, x.NACL, x) == in.AssociationId {
				s = x
			}
		}
	}
	if s == nil {
		return nil, opErr("InvalidAssociationID.NotFound", "The association ID '%s' does not exist", in.AssociationId)
	}
	a, err := d.findNACL(in.NetworkAclId)
	if err != nil {
		return nil, err
	}
	if naclVPC(d.net, a) != s.VPC {
		return nil, opErr("InvalidParameterValue", "Network ACL %s and subnet %s belong to different networks (NACL-5)", a.ID, s.ID)
	}
	s.NACL = a
	return &types.ReplaceNetworkAclAssociationResult{NewAssociationId: ptr(networkACLAssociationID(d.net, a, s))}, nil
}
