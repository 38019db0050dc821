package ec2

import (
	"slices"

	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

// Route tables and their associations, made and changed live (RT-1,
// LIFE-1). A subnet has one table: the one associated with it, else the
// VPC's main table (implicitly). Association ids derive from the ids they
// join (describe.go's routeTableAssociationID), so export and load keep
// them. Routes are routes.go's.

func init() {
	Define("CreateRouteTable", Mutating, (*Service).createRouteTable)
	Define("DeleteRouteTable", Mutating, (*Service).deleteRouteTable)
	Define("AssociateRouteTable", Mutating, (*Service).associateRouteTable)
	Define("DisassociateRouteTable", Mutating, (*Service).disassociateRouteTable)
	Define("ReplaceRouteTableAssociation", Mutating, (*Service).replaceRouteTableAssociation)
}

// associatedWith is the association state EC2 shows for a live one.
func associatedWith() *types.RouteTableAssociationState {
	return &types.RouteTableAssociationState{State: types.RouteTableAssociationStateCodeAssociated}
}

// createRouteTable makes a table in a VPC holding only the local route
// (RT-1), named by its Name tag (or rt-1, rt-2 …).
func (d *Service) createRouteTable(in *types.CreateRouteTableRequest) (*types.CreateRouteTableResult, error) {
	if err := unsupported(in, "VpcId", "TagSpecifications"); err != nil {
		return nil, err
	}
	v, err := d.findVPC(in.VpcId)
	if err != nil {
		return nil, err
	}
	name, err := d.nameFromSpecs(in.TagSpecifications, types.ResourceTypeRouteTable, "rt", topology.KindRT)
	if err != nil {
		return nil, err
	}
	t := &topology.RouteTable{Name: name, ID: d.net.NewID("rtb", name),
		Routes: v.LocalRoutes()}
	v.RouteTables = append(slices.Clone(v.RouteTables), t)
	out := routeTableOf(d.net, v, t)
	out.Tags = d.tagsOf(t.ID, t.Name)
	return &types.CreateRouteTableResult{RouteTable: &out}, nil
}

// deleteRouteTable removes a table that is not main and has no subnet
// associated with it (LIFE-1: DependencyViolation otherwise, as EC2 says
// for both).
func (d *Service) deleteRouteTable(in *types.DeleteRouteTableRequest) (*struct{}, error) {
	t, v, err := d.routeTableParam(in.RouteTableId)
	if err != nil {
		return nil, err
	}
	if t == v.MainRT {
		return nil, opErr("DependencyViolation", "The routeTable '%s' has dependencies and cannot be deleted: it is the main route table of %s (LIFE-1)", t.ID, v.ID)
	}
	for _, s := range v.Subnets {
		if s.RouteTable == t {
			return nil, opErr("DependencyViolation", "The routeTable '%s' has dependencies and cannot be deleted: subnet %s is associated with it (LIFE-1)", t.ID, s.ID)
		}
	}
	v.RouteTables = slices.DeleteFunc(slices.Clone(v.RouteTables), func(x *topology.RouteTable) bool { return x == t })
	return nil, nil
}

func (d *Service) routeTableParam(ref string) (*topology.RouteTable, *topology.VPC, error) {
	if ref == "" {
		return nil, nil, opErr("MissingParameter", "The request must contain the parameter routeTableId")
	}
	return d.findRouteTable(ref)
}

// associateRouteTable associates a table with a subnet of its VPC that has
// no association of its own (RT-1: one table per subnet).
func (d *Service) associateRouteTable(in *types.AssociateRouteTableRequest) (*types.AssociateRouteTableResult, error) {
	if in.GatewayId != nil {
		return nil, opErr("Unsupported", "vpcnet associates route tables with subnets only, not with gateways (edge association)")
	}
	t, v, err := d.routeTableParam(in.RouteTableId)
	if err != nil {
		return nil, err
	}
	if deref(in.SubnetId) == "" {
		return nil, opErr("MissingParameter", "The request must contain the parameter subnetId or gatewayId")
	}
	s, err := d.findSubnet(*in.SubnetId)
	if err != nil {
		return nil, err
	}
	if s.VPC != v {
		return nil, opErr("InvalidParameterValue", "route table %s and subnet %s belong to different networks", t.ID, s.ID)
	}
	if s.ExplicitRT {
		return nil, opErr("Resource.AlreadyAssociated", "the specified association for route table %s conflicts with an existing association: subnet %s is associated with %s (RT-1)", t.ID, s.ID, s.RouteTable.ID)
	}
	s.RouteTable, s.ExplicitRT = t, true
	return &types.AssociateRouteTableResult{AssociationId: ptr(routeTableAssociationID(d.net, t, s)), AssociationState: associatedWith()}, nil
}

// rtAssociation finds association id: a subnet's own (s non-nil), or a
// VPC's main association (s nil).
func (d *Service) rtAssociation(id string) (*topology.VPC, *topology.Subnet, error) {
	if id == "" {
		return nil, nil, opErr("MissingParameter", "The request must contain the parameter associationId")
	}
	for _, v := range d.net.VPCs {
		if routeTableAssociationID(d.net, v.MainRT, nil) == id {
			return v, nil, nil
		}
		for _, s := range v.Subnets {
			if s.ExplicitRT && routeTableAssociationID(d.net, s.RouteTable, s) == id {
				return v, s, nil
			}
		}
	}
	return nil, nil, opErr("InvalidAssociationID.NotFound", "The association ID '%s' does not exist", id)
}

// disassociateRouteTable ends a subnet's own association: it uses the main
// table again (RT-1). The main association cannot be ended, only moved.
func (d *Service) disassociateRouteTable(in *types.DisassociateRouteTableRequest) (*struct{}, error) {
	v, s, err := d.rtAssociation(in.AssociationId)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, opErr("InvalidParameterValue", "cannot disassociate the main route table association %s: replace it with ReplaceRouteTableAssociation (RT-1)", in.AssociationId)
	}
	s.RouteTable, s.ExplicitRT = v.MainRT, false
	return nil, nil
}

// replaceRouteTableAssociation moves an association to another table of
// the same VPC: a subnet's (it now uses that table), or the main one (that
// table becomes the main table, and every subnet without an association of
// its own uses it: RT-1).
func (d *Service) replaceRouteTableAssociation(in *types.ReplaceRouteTableAssociationRequest) (*types.ReplaceRouteTableAssociationResult, error) {
	v, s, err := d.rtAssociation(in.AssociationId)
	if err != nil {
		return nil, err
	}
	t, tv, err := d.routeTableParam(in.RouteTableId)
	if err != nil {
		return nil, err
	}
	if tv != v {
		return nil, opErr("InvalidParameterValue", "route table %s and association %s belong to different networks", t.ID, in.AssociationId)
	}
	if s != nil {
		s.RouteTable = t
		return &types.ReplaceRouteTableAssociationResult{NewAssociationId: ptr(routeTableAssociationID(d.net, t, s)), AssociationState: associatedWith()}, nil
	}
	old := v.MainRT
	old.Main, t.Main, v.MainRT = false, true, t
	for _, x := range v.Subnets {
		if !x.ExplicitRT {
			x.RouteTable = t
		}
	}
	return &types.ReplaceRouteTableAssociationResult{NewAssociationId: ptr(routeTableAssociationID(d.net, t, nil)), AssociationState: associatedWith()}, nil
}
