package ec2

import (
	"net/netip"
	"slices"

	"github.com/vpcnet/vpcnet/topology"
)

func init() {
	for name, fn := range map[string]opFunc{
		"CreateRoute":  func(d *Service, r OpRequest) (any, error) { return d.route(r, "create") },
		"ReplaceRoute": func(d *Service, r OpRequest) (any, error) { return d.route(r, "replace") },
		"DeleteRoute":  func(d *Service, r OpRequest) (any, error) { return d.route(r, "delete") },
	} {
		operations[name] = fn
	}
}

// --- routes (RT-1..RT-4) -------------------------------------------------------

func (d *Service) route(r OpRequest, op string) (any, error) {
	t, v, err := d.findRouteTable(r["route-table-id"])
	if err != nil {
		return nil, err
	}
	dst, perr := netip.ParsePrefix(r["destination-cidr-block"])
	if perr != nil || !dst.Addr().Is4() || dst.Masked() != dst {
		return nil, opErr("InvalidParameterValue", "Value (%s) for parameter destinationCidrBlock is invalid", r["destination-cidr-block"])
	}
	idx := slices.IndexFunc(t.Routes, func(x *topology.Route) bool { return x.Dest == dst })
	if dst == v.CIDR {
		return nil, opErr("InvalidParameterValue", "The local route %s of %s cannot be created, replaced or deleted (RT-1)", dst, t.ID)
	}
	if op == "delete" {
		if idx < 0 {
			return nil, opErr("InvalidRoute.NotFound", "There is no route defined for '%s' in the route table. Please correct the route table ID and try again.", dst)
		}
		t.Routes = slices.Delete(slices.Clone(t.Routes), idx, idx+1)
		return map[string]any{"Return": true}, nil
	}
	if op == "create" && idx >= 0 {
		return nil, opErr("RouteAlreadyExists", "The route identified by %s already exists.", dst)
	}
	if op == "replace" && idx < 0 {
		return nil, opErr("InvalidRoute.NotFound", "There is no route defined for '%s' in the route table. Please correct the route table ID and try again.", dst)
	}
	rt := &topology.Route{Dest: dst}
	targets := 0
	for _, k := range []string{"gateway-id", "nat-gateway-id", "network-interface-id", "instance-id"} {
		if r[k] != "" {
			targets++
		}
	}
	if targets > 1 {
		return nil, opErr("InvalidParameterCombination", "Give exactly one of --gateway-id, --nat-gateway-id, --network-interface-id, --instance-id (RT-3)")
	}
	switch {
	case r["gateway-id"] != "":
		g := r["gateway-id"]
		if v.IGW == nil || (g != v.IGW.ID && g != v.IGW.Name) {
			return nil, opErr("InvalidGatewayID.NotFound", "The gateway ID '%s' does not exist", g)
		}
		rt.Kind, rt.TargetName = topology.TargetIGW, v.IGW.Name
	case r["nat-gateway-id"] != "":
		for _, g := range v.NATs {
			if g.ID == r["nat-gateway-id"] || g.Name == r["nat-gateway-id"] {
				rt.Kind, rt.TargetName, rt.NAT = topology.TargetNAT, g.Name, g
			}
		}
		if rt.NAT == nil {
			return nil, opErr("InvalidNatGatewayID.NotFound", "The NAT gateway ID '%s' does not exist", r["nat-gateway-id"])
		}
	case r["network-interface-id"] != "":
		e, err := d.findENI(r["network-interface-id"])
		if err != nil {
			return nil, err
		}
		if e.NAT != nil {
			// The file names the NAT gateway by the same name; a route
			// to it says --nat-gateway-id (ENI-5).
			return nil, refuseManaged(e, "route to")
		}
		if e.Subnet.VPC != v {
			return nil, opErr("InvalidParameterValue", "Network interface %s is in %s, not in %s of route table %s (RT-3)", e.ID, e.Subnet.VPC.ID, v.ID, t.ID)
		}
		rt.Kind, rt.TargetName, rt.ENI = topology.TargetENI, e.Name, e
	case r["instance-id"] != "":
		i, err := d.findInstance(r["instance-id"])
		if err != nil {
			return nil, err
		}
		if i.VPC != v {
			return nil, opErr("InvalidParameterValue", "Instance %s is in %s, not in %s of route table %s (RT-3)", i.ID, i.VPC.ID, v.ID, t.ID)
		}
		rt.Kind, rt.TargetName, rt.ENI = topology.TargetENI, i.Name, i.Primary()
	default:
		return nil, opErr("MissingParameter", "Give one of --gateway-id, --nat-gateway-id, --network-interface-id, --instance-id")
	}
	// RT-4: more specific than local: a whole subnet, to a NAT gateway or ENI.
	if v.CIDR.Overlaps(dst) && dst.Bits() > v.CIDR.Bits() {
		whole := slices.ContainsFunc(v.Subnets, func(s *topology.Subnet) bool { return s.CIDR == dst })
		if !whole || (rt.Kind != topology.TargetENI && rt.Kind != topology.TargetNAT) {
			return nil, opErr("InvalidParameterValue", "The destination CIDR block %s is equal to or more specific than one of this VPC's CIDR blocks. This route can target only an interface or a NAT gateway, and must match a subnet CIDR exactly (RT-4).", dst)
		}
	}
	next := slices.Clone(t.Routes)
	if idx >= 0 {
		next[idx] = rt
	} else {
		next = append(next, rt)
	}
	t.Routes = next
	return map[string]any{"Return": true}, nil
}
