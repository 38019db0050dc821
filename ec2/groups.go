package ec2

import (
	"slices"

	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

// Security groups themselves (issue 12's first step): made and deleted live.
// Their rules are rules.go's.

func init() {
	Define("CreateSecurityGroup", Mutating, (*Service).createSecurityGroup)
	Define("DeleteSecurityGroup", Mutating, (*Service).deleteSecurityGroup)
}

// createSecurityGroup makes a group in a VPC (the only one when VpcId is
// not given) with no inbound rule and all outbound, as EC2 does (SG-1). Its
// name is its GroupName: unique in the topology, as the file's names are,
// and "default" is the VPC's own (SG-7).
func (d *Service) createSecurityGroup(in *types.CreateSecurityGroupRequest) (*types.CreateSecurityGroupResult, error) {
	var v *topology.VPC
	switch ref := deref(in.VpcId); {
	case ref != "":
		var err error
		if v, err = d.findVPC(ref); err != nil {
			return nil, err
		}
	case len(d.net.VPCs) == 1:
		v = d.net.VPCs[0]
	default:
		return nil, opErr("VPCIdNotSpecified", "No default VPC for this user: give VpcId")
	}
	if err := topology.CheckResourceName(topology.KindSG, in.GroupName); err != nil {
		if in.GroupName == "default" {
			return nil, opErr("InvalidGroup.Reserved", "The security group 'default' is reserved (SG-7)")
		}
		return nil, opErr("InvalidParameterValue", "%v", err)
	}
	if d.names()[in.GroupName] {
		return nil, opErr("InvalidGroup.Duplicate", "The security group '%s' already exists for VPC '%s'", in.GroupName, v.ID)
	}
	if in.Description == "" {
		return nil, opErr("MissingParameter", "The request must contain the parameter GroupDescription")
	}
	if err := checkDescription(&in.Description); err != nil {
		return nil, err
	}
	if len(in.TagSpecifications) > 0 {
		if name, err := nameFromTags(in.TagSpecifications, types.ResourceTypeSecurityGroup); err != nil {
			return nil, err
		} else if name != in.GroupName {
			return nil, opErr("InvalidParameterValue", "A security group's name is its GroupName; its Name tag may only repeat it")
		}
	}
	g := &topology.SecurityGroup{Name: in.GroupName, ID: d.net.NewID("sg", in.GroupName), Description: in.Description, VPC: v,
		Ingress: []topology.SGRule{}, Egress: []topology.SGRule{topology.AllowAllEgress()}}
	v.SGs = append(slices.Clone(v.SGs), g)
	return &types.CreateSecurityGroupResult{GroupId: ptr(g.ID)}, nil
}

// deleteSecurityGroup removes a group no ENI uses and no rule names, as EC2
// does (DependencyViolation otherwise); the VPC's default group stays.
func (d *Service) deleteSecurityGroup(in *types.DeleteSecurityGroupRequest) (*struct{}, error) {
	ref := deref(in.GroupId)
	if ref == "" {
		ref = deref(in.GroupName)
	} else if in.GroupName != nil {
		return nil, opErr("InvalidParameterCombination", "Give GroupId or GroupName, not both")
	}
	g, err := d.findSG(ref)
	if err != nil {
		return nil, err
	}
	v := g.VPC
	if g == v.DefaultSG {
		return nil, opErr("CannotDelete", "the specified group: \"%s\" name: \"default\" cannot be deleted by a user (SG-7)", g.ID)
	}
	for _, e := range v.ENIs {
		if slices.Contains(e.Groups, g) {
			return nil, opErr("DependencyViolation", "resource %s has a dependent object: network interface %s", g.ID, e.ID)
		}
	}
	for _, x := range d.allSGs() { // a peered VPC's rules too, stale ones included (PEER-4)
		if x == g {
			continue
		}
		for _, r := range append(slices.Clone(x.Ingress), x.Egress...) {
			if r.Group == g {
				return nil, opErr("DependencyViolation", "resource %s has a dependent object: a rule of %s", g.ID, x.ID)
			}
		}
	}
	v.SGs = slices.DeleteFunc(slices.Clone(v.SGs), func(x *topology.SecurityGroup) bool { return x == g })
	return nil, nil
}

// --- quotas (QUOTA-1) --------------------------------------------------------

// checkRuleCount refuses a group of n rules in one direction beyond the
// account's quota (60 inbound and 60 outbound by default), as EC2 does.
func (d *Service) checkRuleCount(g *topology.SecurityGroup, egress bool, n int) error {
	if q := d.net.Settings.Quotas.RulesPerGroup; n > q {
		dir := "inbound"
		if egress {
			dir = "outbound"
		}
		return opErr("RulesPerSecurityGroupLimitExceeded",
			"The maximum number of rules per security group has been reached: %s would have %d %s rules, the quota is %d (QUOTA-1)", g.ID, n, dir, q)
	}
	return nil
}

// checkGroupCount refuses n security groups on one network interface
// beyond the account's quota (5 by default), as EC2 does: wherever groups
// are set on an ENI (CreateNetworkInterface, ModifyNetworkInterfaceAttribute,
// ModifyInstanceAttribute, RunInstances: through groupsOf).
func (d *Service) checkGroupCount(n int) error {
	if q := d.net.Settings.Quotas.GroupsPerENI; n > q {
		return opErr("SecurityGroupsPerInterfaceLimitExceeded",
			"The maximum number of security groups per interface has been reached: %d groups, the quota is %d (QUOTA-1)", n, q)
	}
	return nil
}
