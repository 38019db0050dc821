package ec2

import (
	"slices"

	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

// Subnets made and deleted live (issue 12): inside one of the VPC's CIDRs,
// /16 to /28, never overlapping (ADDR-1), in an AZ of the region (INST-1);
// deleted only when no ENI is in them (LIFE-1).

func init() {
	Define("CreateSubnet", Mutating, (*Service).createSubnet)
	Define("DeleteSubnet", Mutating, (*Service).deleteSubnet)
	Define("ModifySubnetAttribute", Mutating, (*Service).modifySubnetAttribute)
}

// createSubnet makes a subnet with the VPC's main route table (RT-1) and
// default NACL (NACL-3), and a router MAC of its own (ADDR-3). Without an
// AvailabilityZone it is in the region's first zone (<region>a).
func (d *Service) createSubnet(in *types.CreateSubnetRequest) (*types.CreateSubnetResult, error) {
	if err := unsupported(in, "TagSpecifications", "AvailabilityZone", "CidrBlock", "VpcId", "OutpostArn"); err != nil {
		return nil, err
	}
	v, err := d.findVPC(in.VpcId)
	if err != nil {
		return nil, err
	}
	if in.CidrBlock == nil {
		return nil, opErr("MissingParameter", "The request must contain the parameter cidrBlock")
	}
	c, err := topology.ParseCIDR(*in.CidrBlock)
	if err != nil || !c.Addr().Is4() {
		return nil, opErr("InvalidParameterValue", "Value (%s) for parameter cidrBlock is invalid. This is not a valid CIDR block.", *in.CidrBlock)
	}
	switch {
	case c.Bits() < 16 || c.Bits() > 28:
		return nil, opErr("InvalidSubnet.Range", "The CIDR '%s' is invalid: a subnet is /16 to /28 (ADDR-1)", c)
	case !v.Covers(c):
		return nil, opErr("InvalidSubnet.Range", "The CIDR '%s' is invalid: it is not inside a CIDR of vpc %s (ADDR-1)", c, v.ID)
	}
	for _, s := range v.Subnets {
		if s.CIDR.Overlaps(c) {
			return nil, opErr("InvalidSubnet.Conflict", "The CIDR '%s' conflicts with another subnet: %s (%s) (ADDR-1)", c, s.ID, s.CIDR)
		}
	}
	az := deref(in.AvailabilityZone)
	if az == "" {
		az = d.net.Region + "a"
	}
	if err := topology.CheckAZ(d.net.Region, az); err != nil {
		return nil, opErr("InvalidParameterValue", "Value (%s) for parameter availabilityZone is invalid: %v", az, err)
	}
	outpost, err := d.subnetOutpost(in.OutpostArn) // COIP-1, coip.go
	if err != nil {
		return nil, err
	}
	name, err := d.nameFromSpecs(in.TagSpecifications, types.ResourceTypeSubnet, "subnet", topology.KindSubnet)
	if err != nil {
		return nil, err
	}
	s := d.net.NewSubnet(v, name, c, az)
	s.OutpostArn = outpost
	v.Subnets = append(slices.Clone(v.Subnets), s)
	x := subnetOf(d.net, s)
	return &types.CreateSubnetResult{Subnet: &x}, nil
}

// deleteSubnet deletes a subnet no ENI is in (LIFE-1): an instance's, a
// standalone one, a NAT gateway's. Its associations go with it.
func (d *Service) deleteSubnet(in *types.DeleteSubnetRequest) (*struct{}, error) {
	if in.SubnetId == "" {
		return nil, opErr("MissingParameter", "The request must contain the parameter subnetId")
	}
	s, err := d.findSubnet(in.SubnetId)
	if err != nil {
		return nil, err
	}
	v := s.VPC
	for _, e := range v.ENIs {
		if e.Subnet == s {
			return nil, opErr("DependencyViolation", "The subnet '%s' has dependencies and cannot be deleted: network interface %s (LIFE-1)", s.ID, e.ID)
		}
	}
	for _, f := range d.net.VPCFlowLogs {
		if f.Subnet == s {
			return nil, opErr("DependencyViolation", "The subnet '%s' has dependencies and cannot be deleted: flow log %s", s.ID, f.ID)
		}
	}
	for _, t := range v.RouteTables {
		for _, r := range t.Routes {
			if r.Dest == s.CIDR && isSubnetRoute(v, r) {
				return nil, opErr("DependencyViolation", "The subnet '%s' has dependencies and cannot be deleted: route %s of route table %s (RT-4)", s.ID, r.Dest, t.ID)
			}
		}
	}
	v.Subnets = slices.DeleteFunc(slices.Clone(v.Subnets), func(x *topology.Subnet) bool { return x == s })
	return nil, nil
}

// isSubnetRoute reports whether r is a route more specific than local
// (RT-4): it must cover a whole subnet, so the subnet cannot go while it
// stays (the file would not load).
func isSubnetRoute(v *topology.VPC, r *topology.Route) bool {
	return r.Kind != topology.TargetLocal && v.Covers(r.Dest) && !slices.Contains(v.CIDRs(), r.Dest)
}

// modifySubnetAttribute sets MapPublicIpOnLaunch: whether instances
// launched in the subnet get a public IP by default (ADDR-4).
func (d *Service) modifySubnetAttribute(in *types.ModifySubnetAttributeRequest) (*struct{}, error) {
	if err := unsupported(in, "SubnetId", "MapPublicIpOnLaunch"); err != nil {
		return nil, err
	}
	s, err := d.findSubnet(in.SubnetId)
	if err != nil {
		return nil, err
	}
	if in.MapPublicIpOnLaunch == nil || in.MapPublicIpOnLaunch.Value == nil {
		return nil, opErr("MissingParameter", "The request must contain the parameter MapPublicIpOnLaunch")
	}
	s.MapPublicIP = *in.MapPublicIpOnLaunch.Value
	return nil, nil
}
