package ec2

import (
	"net/netip"
	"slices"

	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

// VPCs made and deleted live (issue 12): CreateVpc with what AWS makes with
// it (LIFE-2), DeleteVpc refused while anything is in it (LIFE-1), the DNS
// attributes (DNS-1, DNS-2) and secondary IPv4 CIDRs (ADDR-1, RT-1).

func init() {
	Define("CreateVpc", Mutating, (*Service).createVpc)
	Define("DeleteVpc", Mutating, (*Service).deleteVpc)
	Define("DescribeVpcAttribute", ReadOnly, (*Service).describeVpcAttribute)
	Define("ModifyVpcAttribute", Mutating, (*Service).modifyVpcAttribute)
	Define("AssociateVpcCidrBlock", Mutating, (*Service).associateVpcCidrBlock)
	Define("DisassociateVpcCidrBlock", Mutating, (*Service).disassociateVpcCidrBlock)
}

// findVPC finds a VPC by id or name.
func (d *Service) findVPC(ref string) (*topology.VPC, error) {
	if ref == "" {
		return nil, opErr("MissingParameter", "The request must contain the parameter vpcId")
	}
	for _, v := range d.net.VPCs {
		if v.ID == ref || v.Name == ref {
			return v, nil
		}
	}
	return nil, opErr("InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", ref)
}

// vpcCIDRAssociationID is the id of the association of CIDR c with v: the
// primary's derives from the VPC's name alone, as it always has.
func vpcCIDRAssociationID(n *topology.Network, v *topology.VPC, c netip.Prefix) string {
	if c == v.CIDR {
		return n.NewID("vpc-cidr-assoc", v.Name)
	}
	return n.NewID("vpc-cidr-assoc", v.Name+"/"+c.String())
}

// vpcPublicDNSName is the public DNS name of public address a in v: none
// unless both DNS attributes are on (DNS-2).
func vpcPublicDNSName(v *topology.VPC, region string, a netip.Addr) string {
	if v == nil || !v.DNSSupport || !v.DNSHostnames {
		return ""
	}
	return publicDNSName(region, a)
}

// parseVPCCIDR reads a CIDR given to CreateVpc or AssociateVpcCidrBlock
// (ADDR-1): EC2 calls a bad one InvalidVpc.Range.
func parseVPCCIDR(s *string) (netip.Prefix, error) {
	if s == nil {
		return netip.Prefix{}, opErr("MissingParameter", "The request must contain the parameter cidrBlock")
	}
	c, err := topology.ParseCIDR(*s)
	if err == nil && !c.Addr().Is4() {
		return c, opErr("InvalidParameterValue", "Value (%s) for parameter cidrBlock is invalid: an IPv4 CIDR is required", *s)
	}
	if err != nil {
		return c, opErr("InvalidParameterValue", "Value (%s) for parameter cidrBlock is invalid. This is not a valid CIDR block: %v", *s, err)
	}
	if err := topology.CheckVPCCIDR(c); err != nil {
		return c, opErr("InvalidVpc.Range", "The CIDR '%s' is invalid: %v", c, err)
	}
	return c, nil
}

// createVpc makes a VPC with its default security group, default network
// ACL and main route table (LIFE-2), within the account's VPC quota
// (QUOTA-1). DNS support is on, DNS hostnames off, as EC2 makes it.
func (d *Service) createVpc(in *types.CreateVpcRequest) (*types.CreateVpcResult, error) {
	if err := unsupported(in, "CidrBlock", "TagSpecifications", "InstanceTenancy", "AmazonProvidedIpv6CidrBlock"); err != nil {
		return nil, err
	}
	if deref(in.AmazonProvidedIpv6CidrBlock) {
		return nil, opErr("Unsupported", "The parameter AmazonProvidedIpv6CidrBlock is not supported by vpcnet: it has no IPv6")
	}
	if t := in.InstanceTenancy; t != "" && t != types.TenancyDefault {
		return nil, opErr("Unsupported", "InstanceTenancy %s is not supported by vpcnet: only default", t)
	}
	c, err := parseVPCCIDR(in.CidrBlock)
	if err != nil {
		return nil, err
	}
	if err := d.onPremisesConflict(c); err != nil {
		return nil, err
	}
	if q := d.net.Settings.Quotas.VPCs; len(d.net.VPCs) >= q {
		return nil, opErr("VpcLimitExceeded", "The maximum number of VPCs has been reached (%d, settings.quotas.vpcs; QUOTA-1)", q)
	}
	name, err := d.nameFromSpecs(in.TagSpecifications, types.ResourceTypeVpc, "vpc", topology.KindVPC)
	if err != nil {
		return nil, err
	}
	v := d.net.NewVPC(name, c)
	if sk, ok := d.k.(ServiceKernel); ok { // its Amazon DNS server (DNS-1)
		if err := sk.StartVPCServices(v); err != nil {
			return nil, opErr("InternalError", "starting the VPC's DNS server: %v", err)
		}
	}
	d.net.VPCs = append(slices.Clone(d.net.VPCs), v)
	x := vpcOf(d.net, v)
	x.State = types.VpcStatePending // as CreateVpc answers; describe-vpcs says available
	return &types.CreateVpcResult{Vpc: &x}, nil
}

// vpcDependency names what keeps v from being deleted (LIFE-1), or "".
// What the VPC was made with (default group, NACL, main table) goes with it.
func (d *Service) vpcDependency(v *topology.VPC) string {
	switch {
	case len(v.Subnets) > 0:
		return "subnet " + v.Subnets[0].ID
	case v.IGW != nil:
		return "internet gateway " + v.IGW.ID
	case len(v.ENIs) > 0:
		return "network interface " + v.ENIs[0].ID
	}
	for _, g := range v.SGs {
		if g != v.DefaultSG {
			return "security group " + g.ID
		}
	}
	for _, t := range v.RouteTables {
		if t != v.MainRT {
			return "route table " + t.ID
		}
	}
	for _, a := range v.NACLs {
		if a != v.DefaultNACL {
			return "network ACL " + a.ID
		}
	}
	for _, p := range d.net.Peerings {
		if p.Status != topology.PeeringDeleted && (p.VPCs[0] == v || p.VPCs[1] == v) {
			return "VPC peering connection " + p.ID
		}
	}
	for _, f := range d.net.VPCFlowLogs {
		if f.VPC == v {
			return "flow log " + f.ID
		}
	}
	if x := d.ruleNaming(v.DefaultSG); x != nil { // PEER-4: a (stale) rule of another VPC names its default group
		return "a rule of security group " + x.ID + " names its default security group"
	}
	return ""
}

// deleteVpc deletes a VPC nothing is in (LIFE-1): DependencyViolation while
// it has subnets, an internet gateway, groups but the default, route tables
// but the main one, NACLs but the default, peering connections or flow logs.
func (d *Service) deleteVpc(in *types.DeleteVpcRequest) (*struct{}, error) {
	v, err := d.findVPC(in.VpcId)
	if err != nil {
		return nil, err
	}
	if dep := d.vpcDependency(v); dep != "" {
		return nil, opErr("DependencyViolation", "The vpc '%s' has dependencies and cannot be deleted: %s (LIFE-1)", v.ID, dep)
	}
	d.net.VPCs = slices.DeleteFunc(slices.Clone(d.net.VPCs), func(x *topology.VPC) bool { return x == v })
	if sk, ok := d.k.(ServiceKernel); ok {
		sk.StopVPCServices(v)
	}
	return nil, nil
}

// describeVpcAttribute answers one attribute of a VPC (DNS-1, DNS-2).
// vpcnet keeps no Network Address Usage metrics: that one is always false.
func (d *Service) describeVpcAttribute(in *types.DescribeVpcAttributeRequest) (*types.DescribeVpcAttributeResult, error) {
	v, err := d.findVPC(in.VpcId)
	if err != nil {
		return nil, err
	}
	out := &types.DescribeVpcAttributeResult{VpcId: ptr(v.ID)}
	switch in.Attribute {
	case types.VpcAttributeNameEnableDnsSupport:
		out.EnableDnsSupport = &types.AttributeBooleanValue{Value: ptr(v.DNSSupport)}
	case types.VpcAttributeNameEnableDnsHostnames:
		out.EnableDnsHostnames = &types.AttributeBooleanValue{Value: ptr(v.DNSHostnames)}
	case types.VpcAttributeNameEnableNetworkAddressUsageMetrics:
		out.EnableNetworkAddressUsageMetrics = &types.AttributeBooleanValue{Value: ptr(false)}
	case "":
		return nil, opErr("MissingParameter", "The request must contain the parameter attribute")
	default:
		return nil, opErr("InvalidParameterValue", "Value (%s) for parameter attribute is invalid. Unknown attribute.", in.Attribute)
	}
	return out, nil
}

// modifyVpcAttribute sets one DNS attribute of a VPC (DNS-1, DNS-2), one
// per call as EC2 wants.
func (d *Service) modifyVpcAttribute(in *types.ModifyVpcAttributeRequest) (*struct{}, error) {
	v, err := d.findVPC(in.VpcId)
	if err != nil {
		return nil, err
	}
	given := 0
	for _, a := range []*types.AttributeBooleanValue{in.EnableDnsSupport, in.EnableDnsHostnames, in.EnableNetworkAddressUsageMetrics} {
		if a != nil {
			given++
			if a.Value == nil {
				return nil, opErr("MissingParameter", "The request must contain the parameter Value of the attribute")
			}
		}
	}
	switch {
	case given == 0:
		return nil, opErr("MissingParameter", "The request must contain one of enableDnsSupport, enableDnsHostnames")
	case given > 1:
		return nil, opErr("InvalidParameterCombination", "Fields for multiple attribute types specified: only one attribute can be modified at a time")
	case in.EnableNetworkAddressUsageMetrics != nil:
		return nil, opErr("Unsupported", "The parameter EnableNetworkAddressUsageMetrics is not supported by vpcnet")
	case in.EnableDnsSupport != nil:
		v.DNSSupport = *in.EnableDnsSupport.Value
	default:
		v.DNSHostnames = *in.EnableDnsHostnames.Value
	}
	return nil, nil
}

// associateVpcCidrBlock adds a secondary IPv4 CIDR to a VPC (ADDR-1): a
// valid VPC CIDR overlapping none of the VPC's, nor a peered VPC's, at most
// topology.MaxVPCCIDRs in all. Every table of the VPC gets its local route
// (RT-1).
func (d *Service) associateVpcCidrBlock(in *types.AssociateVpcCidrBlockRequest) (*types.AssociateVpcCidrBlockResult, error) {
	if err := unsupported(in, "CidrBlock", "VpcId"); err != nil {
		return nil, err
	}
	v, err := d.findVPC(in.VpcId)
	if err != nil {
		return nil, err
	}
	c, err := parseVPCCIDR(in.CidrBlock)
	if err != nil {
		return nil, err
	}
	if err := d.onPremisesConflict(c); err != nil {
		return nil, err
	}
	if o, bad := v.Overlaps(c); bad {
		return nil, opErr("InvalidVpc.Range", "The CIDR '%s' conflicts with CIDR %s of vpc %s (ADDR-1)", c, o, v.ID)
	}
	for _, p := range d.net.Peerings {
		if p.Status == topology.PeeringDeleted || (p.VPCs[0] != v && p.VPCs[1] != v) {
			continue
		}
		peer := p.VPCs[0]
		if peer == v {
			peer = p.VPCs[1]
		}
		if o, bad := peer.Overlaps(c); bad {
			return nil, opErr("InvalidVpc.Range", "The CIDR '%s' overlaps CIDR %s of vpc %s, peered by %s", c, o, peer.ID, p.ID)
		}
	}
	if len(v.CIDRs()) >= topology.MaxVPCCIDRs {
		return nil, opErr("CidrLimitExceeded", "This network '%s' has met its maximum number of allowed CIDRs: %d", v.ID, topology.MaxVPCCIDRs)
	}
	for _, t := range v.RouteTables {
		for _, r := range t.Routes {
			if r.Kind != topology.TargetLocal && r.Dest.Overlaps(c) && r.Dest.Bits() >= c.Bits() {
				return nil, opErr("InvalidVpc.Range", "The CIDR '%s' holds route %s of route table %s: a CIDR's local route may not hide a route (RT-2)", c, r.Dest, t.ID)
			}
		}
	}
	v.SecondaryCIDRs = append(slices.Clone(v.SecondaryCIDRs), c)
	for _, t := range v.RouteTables {
		t.Routes = slices.Insert(slices.Clone(t.Routes), localRoutes(t), &topology.Route{Dest: c, Kind: topology.TargetLocal, TargetName: "local"})
	}
	return &types.AssociateVpcCidrBlockResult{VpcId: ptr(v.ID), CidrBlockAssociation: &types.VpcCidrBlockAssociation{
		AssociationId: ptr(vpcCIDRAssociationID(d.net, v, c)), CidrBlock: ptr(c.String()),
		CidrBlockState: &types.VpcCidrBlockState{State: types.VpcCidrBlockStateCodeAssociating}}}, nil
}

// localRoutes counts the local routes at the head of table t (RT-1).
func localRoutes(t *topology.RouteTable) int {
	k := 0
	for k < len(t.Routes) && t.Routes[k].Kind == topology.TargetLocal {
		k++
	}
	return k
}

// disassociateVpcCidrBlock removes a secondary CIDR no subnet lies in,
// with its local routes (ADDR-1, RT-1). The primary stays.
func (d *Service) disassociateVpcCidrBlock(in *types.DisassociateVpcCidrBlockRequest) (*types.DisassociateVpcCidrBlockResult, error) {
	var v *topology.VPC
	var c netip.Prefix
	for _, x := range d.net.VPCs {
		for _, xc := range x.CIDRs() {
			if vpcCIDRAssociationID(d.net, x, xc) == in.AssociationId {
				v, c = x, xc
			}
		}
	}
	switch {
	case in.AssociationId == "":
		return nil, opErr("MissingParameter", "The request must contain the parameter associationId")
	case v == nil:
		return nil, opErr("InvalidVpcCidrBlockAssociationID.NotFound", "The vpc CIDR block association ID '%s' does not exist", in.AssociationId)
	case c == v.CIDR:
		return nil, opErr("OperationNotPermitted", "The vpc CIDR block with association ID %s may not be disassociated. It is the primary IPv4 CIDR block of the VPC", in.AssociationId)
	}
	for _, s := range v.Subnets {
		if c.Overlaps(s.CIDR) {
			return nil, opErr("InvalidCidrBlock.InUse", "The vpc %s currently has a subnet within CIDR block %s: %s", v.ID, c, s.ID)
		}
	}
	v.SecondaryCIDRs = slices.DeleteFunc(slices.Clone(v.SecondaryCIDRs), func(x netip.Prefix) bool { return x == c })
	for _, t := range v.RouteTables {
		t.Routes = slices.DeleteFunc(slices.Clone(t.Routes), func(r *topology.Route) bool { return r.Kind == topology.TargetLocal && r.Dest == c })
	}
	return &types.DisassociateVpcCidrBlockResult{VpcId: ptr(v.ID), CidrBlockAssociation: &types.VpcCidrBlockAssociation{
		AssociationId: ptr(in.AssociationId), CidrBlock: ptr(c.String()),
		CidrBlockState: &types.VpcCidrBlockState{State: types.VpcCidrBlockStateCodeDisassociating}}}, nil
}
