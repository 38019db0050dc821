package ec2

import (
	"slices"

	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

// Internet gateways made, attached, detached and deleted live (issue 12).
// A VPC's IGW is the one attached to it (one at most, IGW-1); the others
// are the network's DetachedIGWs. A route names its gateway: it carries
// traffic only while that gateway is attached to the route's VPC, and is a
// blackhole otherwise (RT-3, topology.VPC.IGWTarget).

func init() {
	Define("CreateInternetGateway", Mutating, (*Service).createInternetGateway)
	Define("AttachInternetGateway", Mutating, (*Service).attachInternetGateway)
	Define("DetachInternetGateway", Mutating, (*Service).detachInternetGateway)
	Define("DeleteInternetGateway", Mutating, (*Service).deleteInternetGateway)
	Define("DescribeInternetGateways", ReadOnly, (*Service).describeInternetGateways)
}

// findIGW finds an internet gateway by id or name, and the VPC it is
// attached to (nil when detached).
func (d *Service) findIGW(ref string) (*topology.IGW, *topology.VPC, error) {
	if ref == "" {
		return nil, nil, opErr("MissingParameter", "The request must contain the parameter internetGatewayId")
	}
	for _, v := range d.net.VPCs {
		if g := v.IGW; g != nil && (g.ID == ref || g.Name == ref) {
			return g, v, nil
		}
	}
	for _, g := range d.net.DetachedIGWs {
		if g.ID == ref || g.Name == ref {
			return g, nil, nil
		}
	}
	return nil, nil, opErr("InvalidInternetGatewayID.NotFound", "The internetGateway ID '%s' does not exist", ref)
}

// igwID is the id of the internet gateway a route names: the gateway's,
// or, once it is deleted, the id its name derives.
func igwID(n *topology.Network, name string) string {
	for _, v := range n.VPCs {
		if v.IGW != nil && v.IGW.Name == name {
			return v.IGW.ID
		}
	}
	for _, g := range n.DetachedIGWs {
		if g.Name == name {
			return g.ID
		}
	}
	return n.NewID("igw", name)
}

// igwAttachmentAvailable is the state EC2 shows for an attached internet
// gateway: "available", which EC2's model does not list among
// AttachmentStatus's values but every EC2 answer has.
const igwAttachmentAvailable types.AttachmentStatus = "available"

// internetGatewayOf is gateway g, attached to v (nil: detached), as EC2
// describes it.
func internetGatewayOf(n *topology.Network, g *topology.IGW, v *topology.VPC) types.InternetGateway {
	x := types.InternetGateway{Attachments: []types.InternetGatewayAttachment{}, InternetGatewayId: ptr(g.ID),
		OwnerId: ptr(n.AccountID()), Tags: nameTags(g.Name)}
	if v != nil {
		x.Attachments = append(x.Attachments, types.InternetGatewayAttachment{State: igwAttachmentAvailable, VpcId: ptr(v.ID)})
	}
	return x
}

// createInternetGateway makes an internet gateway attached to nothing.
func (d *Service) createInternetGateway(in *types.CreateInternetGatewayRequest) (*types.CreateInternetGatewayResult, error) {
	name, err := d.nameFromSpecs(in.TagSpecifications, types.ResourceTypeInternetGateway, "igw", topology.KindIGW)
	if err != nil {
		return nil, err
	}
	g := d.net.NewIGW(name)
	d.net.DetachedIGWs = append(slices.Clone(d.net.DetachedIGWs), g)
	x := internetGatewayOf(d.net, g, nil)
	return &types.CreateInternetGatewayResult{InternetGateway: &x}, nil
}

// attachInternetGateway attaches a detached gateway to a VPC that has none
// (IGW-1). The VPC's routes naming it carry traffic at once.
func (d *Service) attachInternetGateway(in *types.AttachInternetGatewayRequest) (*struct{}, error) {
	g, at, err := d.findIGW(in.InternetGatewayId)
	if err != nil {
		return nil, err
	}
	v, err := d.findVPC(in.VpcId)
	if err != nil {
		return nil, err
	}
	switch {
	case at != nil:
		return nil, opErr("Resource.AlreadyAssociated", "resource %s is already attached to network %s", g.ID, at.ID)
	case v.IGW != nil:
		return nil, opErr("Resource.AlreadyAssociated", "network %s already has an internet gateway attached: %s (IGW-1)", v.ID, v.IGW.ID)
	}
	d.net.DetachedIGWs = slices.DeleteFunc(slices.Clone(d.net.DetachedIGWs), func(x *topology.IGW) bool { return x == g })
	v.IGW = g
	return nil, nil
}

// publicMapped names what in v has a public address mapped through its
// internet gateway (IGW-1): an instance's public IP, an associated EIP, a
// public NAT gateway's EIP; "" if nothing.
func publicMapped(v *topology.VPC) string {
	for _, e := range v.ENIs {
		for _, priv := range e.IPs() {
			if pub, ok := e.PublicIPs[priv]; ok {
				return pub.String() + " (" + e.ID + " " + priv.String() + ")"
			}
		}
	}
	return ""
}

// detachInternetGateway detaches a gateway from its VPC, refused while a
// public address in the VPC is mapped (IGW-1, LIFE-1). Routes naming it
// stay, as blackholes (RT-3).
func (d *Service) detachInternetGateway(in *types.DetachInternetGatewayRequest) (*struct{}, error) {
	g, at, err := d.findIGW(in.InternetGatewayId)
	if err != nil {
		return nil, err
	}
	v, err := d.findVPC(in.VpcId)
	if err != nil {
		return nil, err
	}
	if at != v {
		return nil, opErr("Gateway.NotAttached", "resource %s is not attached to network %s", g.ID, v.ID)
	}
	if m := publicMapped(v); m != "" {
		return nil, opErr("DependencyViolation", "Network %s has some mapped public address(es): %s. Please unmap those public address(es) before detaching the gateway.", v.ID, m)
	}
	v.IGW = nil
	d.net.DetachedIGWs = append(slices.Clone(d.net.DetachedIGWs), g)
	return nil, nil
}

// deleteInternetGateway deletes a detached gateway (LIFE-1). Routes that
// name it stay blackholes (RT-3).
func (d *Service) deleteInternetGateway(in *types.DeleteInternetGatewayRequest) (*struct{}, error) {
	g, at, err := d.findIGW(in.InternetGatewayId)
	if err != nil {
		return nil, err
	}
	if at != nil {
		return nil, opErr("DependencyViolation", "The internetGateway '%s' has dependencies and cannot be deleted: it is attached to %s (LIFE-1)", g.ID, at.ID)
	}
	d.net.DetachedIGWs = slices.DeleteFunc(slices.Clone(d.net.DetachedIGWs), func(x *topology.IGW) bool { return x == g })
	return nil, nil
}

// igwFilters are DescribeInternetGateways' filters.
var igwFilters = filters[types.InternetGateway]{
	"attachment.state": func(g *types.InternetGateway) []string {
		return each(g.Attachments, func(a *types.InternetGatewayAttachment) []string { return []string{string(a.State)} })
	},
	"attachment.vpc-id": func(g *types.InternetGateway) []string {
		return each(g.Attachments, func(a *types.InternetGatewayAttachment) []string { return one(a.VpcId) })
	},
	"internet-gateway-id": func(g *types.InternetGateway) []string { return one(g.InternetGatewayId) },
	"owner-id":            func(g *types.InternetGateway) []string { return one(g.OwnerId) },
}

func (d *Service) describeInternetGateways(in *types.DescribeInternetGatewaysRequest) (*types.DescribeInternetGatewaysResult, error) {
	var all []types.InternetGateway
	for _, v := range d.net.VPCs {
		if v.IGW != nil {
			x := internetGatewayOf(d.net, v.IGW, v)
			x.Tags = d.tagsOf(v.IGW.ID, v.IGW.Name)
			all = append(all, x)
		}
	}
	for _, g := range d.net.DetachedIGWs {
		x := internetGatewayOf(d.net, g, nil)
		x.Tags = d.tagsOf(g.ID, g.Name)
		all = append(all, x)
	}
	sortBy(all, func(g *types.InternetGateway) *string { return g.InternetGatewayId })
	out, err := byIDs(all, in.InternetGatewayIds, func(g *types.InternetGateway) string { return *g.InternetGatewayId },
		func(id string) error {
			return opErr("InvalidInternetGatewayID.NotFound", "The internetGateway ID '%s' does not exist", id)
		})
	if err != nil {
		return nil, err
	}
	if out, err = selectItems(out, in.Filters, igwFilters, func(g *types.InternetGateway) []types.Tag { return g.Tags }); err != nil {
		return nil, err
	}
	out, next, err := page(out, in.MaxResults, in.NextToken, 5, 1000)
	if err != nil {
		return nil, err
	}
	return &types.DescribeInternetGatewaysResult{InternetGateways: append([]types.InternetGateway{}, out...), NextToken: next}, nil
}
