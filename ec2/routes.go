package ec2

import (
	"net/netip"
	"slices"

	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

func init() {
	Define("CreateRoute", Mutating, (*Service).createRoute)
	Define("ReplaceRoute", Mutating, (*Service).replaceRoute)
	Define("DeleteRoute", Mutating, (*Service).deleteRoute)
}

// --- routes (RT-1..RT-4) -------------------------------------------------------

// routeTarget is what CreateRoute and ReplaceRoute name a route's target
// with: one of them (RT-3). Each is an id or, vpcnet's extension, a name.
type routeTarget struct {
	gateway, natGateway, eni, instance, peering *string
	localGateway                                *string // coip.go
}

func (d *Service) createRoute(in *types.CreateRouteRequest) (*types.CreateRouteResult, error) {
	if err := unsupported(in, "RouteTableId", "DestinationCidrBlock", "GatewayId", "NatGatewayId", "NetworkInterfaceId",
		"InstanceId", "VpcPeeringConnectionId", "LocalGatewayId"); err != nil {
		return nil, err
	}
	tgt := routeTarget{in.GatewayId, in.NatGatewayId, in.NetworkInterfaceId, in.InstanceId, in.VpcPeeringConnectionId, in.LocalGatewayId}
	if err := d.setRoute(in.RouteTableId, in.DestinationCidrBlock, tgt, false); err != nil {
		return nil, err
	}
	return &types.CreateRouteResult{Return: ptr(true)}, nil
}

func (d *Service) replaceRoute(in *types.ReplaceRouteRequest) (*struct{}, error) {
	if err := unsupported(in, "RouteTableId", "DestinationCidrBlock", "GatewayId", "NatGatewayId", "NetworkInterfaceId",
		"InstanceId", "VpcPeeringConnectionId", "LocalGatewayId"); err != nil {
		return nil, err
	}
	tgt := routeTarget{in.GatewayId, in.NatGatewayId, in.NetworkInterfaceId, in.InstanceId, in.VpcPeeringConnectionId, in.LocalGatewayId}
	return nil, d.setRoute(in.RouteTableId, in.DestinationCidrBlock, tgt, true)
}

func (d *Service) deleteRoute(in *types.DeleteRouteRequest) (*struct{}, error) {
	if err := unsupported(in, "RouteTableId", "DestinationCidrBlock"); err != nil {
		return nil, err
	}
	t, _, dst, idx, err := d.routeAt(in.RouteTableId, in.DestinationCidrBlock)
	if err != nil {
		return nil, err
	}
	if idx < 0 {
		return nil, noRoute(dst)
	}
	t.Routes = slices.Delete(slices.Clone(t.Routes), idx, idx+1)
	return nil, nil
}

func noRoute(dst netip.Prefix) error {
	return opErr("InvalidRoute.NotFound", "There is no route defined for '%s' in the route table. Please correct the route table ID and try again.", dst)
}

// routeAt finds table ref and the index of its route to destination cidr
// (-1 if none). The local route is never created, replaced or deleted
// (RT-1).
func (d *Service) routeAt(ref string, cidr *string) (*topology.RouteTable, *topology.VPC, netip.Prefix, int, error) {
	if ref == "" {
		return nil, nil, netip.Prefix{}, 0, opErr("MissingParameter", "The request must contain the parameter RouteTableId")
	}
	t, v, err := d.findRouteTable(ref)
	if err != nil {
		return nil, nil, netip.Prefix{}, 0, err
	}
	if cidr == nil {
		return nil, nil, netip.Prefix{}, 0, opErr("MissingParameter", "The request must contain the parameter DestinationCidrBlock")
	}
	dst, perr := netip.ParsePrefix(*cidr)
	if perr != nil || !dst.Addr().Is4() || dst.Masked() != dst {
		return nil, nil, netip.Prefix{}, 0, opErr("InvalidParameterValue", "Value (%s) for parameter destinationCidrBlock is invalid", *cidr)
	}
	if slices.Contains(v.CIDRs(), dst) {
		return nil, nil, netip.Prefix{}, 0, opErr("InvalidParameterValue", "The local route %s of %s cannot be created, replaced or deleted (RT-1)", dst, t.ID)
	}
	return t, v, dst, slices.IndexFunc(t.Routes, func(x *topology.Route) bool { return x.Dest == dst }), nil
}

// setRoute creates (replace false) or replaces a route: exactly one target
// of the table's own VPC (RT-3), and RT-4 for routes more specific than
// local.
func (d *Service) setRoute(ref string, cidr *string, tgt routeTarget, replace bool) error {
	t, v, dst, idx, err := d.routeAt(ref, cidr)
	if err != nil {
		return err
	}
	if !replace && idx >= 0 {
		return opErr("RouteAlreadyExists", "The route identified by %s already exists.", dst)
	}
	if replace && idx < 0 {
		return noRoute(dst)
	}
	// QUOTA-1: routes per table, beyond the local route.
	if q := d.net.Settings.Quotas.RoutesPerTable; !replace && len(t.Routes)-1 >= q {
		return opErr("RouteLimitExceeded", "The maximum number of routes (%d) has been reached for route table %s.", q, t.ID)
	}
	rt, err := d.resolveTarget(t, v, tgt)
	if err != nil {
		return err
	}
	rt.Dest = dst
	// RT-4: more specific than local: a whole subnet, to a NAT gateway or ENI.
	if c, ok := v.Overlaps(dst); ok && dst.Bits() > c.Bits() {
		whole := slices.ContainsFunc(v.Subnets, func(s *topology.Subnet) bool { return s.CIDR == dst })
		if !whole || (rt.Kind != topology.TargetENI && rt.Kind != topology.TargetNAT) {
			return opErr("InvalidParameterValue", "The destination CIDR block %s is equal to or more specific than one of this VPC's CIDR blocks. This route can target only an interface or a NAT gateway, and must match a subnet CIDR exactly (RT-4).", dst)
		}
	}
	next := slices.Clone(t.Routes)
	if idx >= 0 {
		next[idx] = rt
	} else {
		next = append(next, rt)
	}
	t.Routes = next
	return nil
}

// resolveTarget turns the one target a request names into a route of table
// t in VPC v (RT-3): the VPC's internet gateway, one of its NAT gateways,
// one of its ENIs (not a NAT gateway's: ENI-5), an instance's primary ENI,
// or a peering connection that joins v.
func (d *Service) resolveTarget(t *topology.RouteTable, v *topology.VPC, tgt routeTarget) (*topology.Route, error) {
	given := 0
	for _, p := range []*string{tgt.gateway, tgt.natGateway, tgt.eni, tgt.instance, tgt.peering, tgt.localGateway} {
		if p != nil {
			given++
		}
	}
	if given > 1 {
		return nil, opErr("InvalidParameterCombination", "Give exactly one of GatewayId, NatGatewayId, NetworkInterfaceId, InstanceId, VpcPeeringConnectionId, LocalGatewayId (RT-3)")
	}
	rt := &topology.Route{}
	switch {
	case tgt.gateway != nil:
		g := *tgt.gateway
		if v.IGW == nil || (g != v.IGW.ID && g != v.IGW.Name) {
			return nil, opErr("InvalidGatewayID.NotFound", "The gateway ID '%s' does not exist", g)
		}
		rt.Kind, rt.TargetName = topology.TargetIGW, v.IGW.Name
	case tgt.natGateway != nil:
		for _, g := range v.NATs {
			if g.ID == *tgt.natGateway || g.Name == *tgt.natGateway {
				rt.Kind, rt.TargetName, rt.NAT = topology.TargetNAT, g.Name, g
			}
		}
		if rt.NAT == nil {
			return nil, opErr("InvalidNatGatewayID.NotFound", "The NAT gateway ID '%s' does not exist", *tgt.natGateway)
		}
	case tgt.eni != nil:
		e, err := d.findENI(*tgt.eni)
		if err != nil {
			return nil, err
		}
		if e.NAT != nil {
			// The file names the NAT gateway by the same name; a route
			// to it says NatGatewayId (ENI-5).
			return nil, refuseManaged(e, "route to")
		}
		if e.Subnet.VPC != v {
			return nil, opErr("InvalidParameterValue", "Network interface %s is in %s, not in %s of route table %s (RT-3)", e.ID, e.Subnet.VPC.ID, v.ID, t.ID)
		}
		rt.Kind, rt.TargetName, rt.ENI = topology.TargetENI, e.Name, e
	case tgt.instance != nil:
		i, err := d.findInstance(*tgt.instance)
		if err != nil {
			return nil, err
		}
		if i.VPC != v {
			return nil, opErr("InvalidParameterValue", "Instance %s is in %s, not in %s of route table %s (RT-3)", i.ID, i.VPC.ID, v.ID, t.ID)
		}
		rt.Kind, rt.TargetName, rt.ENI = topology.TargetENI, i.Name, i.Primary()
	case tgt.localGateway != nil:
		return d.localGatewayRoute(v, *tgt.localGateway) // coip.go
	case tgt.peering != nil:
		for _, p := range d.net.Peerings {
			if p.ID == *tgt.peering || p.Name == *tgt.peering {
				rt.Kind, rt.TargetName, rt.Peering = topology.TargetPeering, p.Name, p
			}
		}
		if rt.Peering == nil {
			return nil, opErr("InvalidVpcPeeringConnectionID.NotFound", "The vpcPeeringConnection ID '%s' does not exist", *tgt.peering)
		}
		// PEER-3: a pending peering may be named; its route is a
		// blackhole until the peering is accepted, as on AWS.
		if rt.Peering.VPCs[0] != v && rt.Peering.VPCs[1] != v {
			return nil, opErr("InvalidParameterValue", "Peering connection %s does not join %s of route table %s (RT-3)", rt.Peering.ID, v.ID, t.ID)
		}
	default:
		return nil, opErr("MissingParameter", "The request must contain exactly one of GatewayId, NatGatewayId, NetworkInterfaceId, InstanceId, VpcPeeringConnectionId")
	}
	return rt, nil
}
