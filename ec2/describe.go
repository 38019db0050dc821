package ec2

import (
	"fmt"
	"slices"
	"strings"

	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

func init() {
	Define("DescribeVpcs", ReadOnly, (*Service).describeVpcs)
}

// The describe-* operations print the running network in the EC2 API's
// shapes (PascalCase fields).

func init() {
	for name, fn := range map[string]func(d *Service) any{
		"DescribeAddresses":         describeAddresses,
		"DescribeNetworkInterfaces": describeNetworkInterfaces,
		"DescribeInstances":         describeInstances,
		"DescribeRouteTables":       describeRouteTables,
		"DescribeSubnets":           describeSubnets,
		"DescribeSecurityGroups":    describeSecurityGroups,
		"DescribeNetworkAcls":       describeNetworkAcls,
		"DescribeNatGateways":       describeNatGateways,
	} {
		fn := fn
		operations[name] = func(d *Service, _ OpRequest) (any, error) { return fn(d), nil }
		readOnly[name] = true
	}
}

type obj = map[string]any

func tags(name string) []obj { return []obj{{"Key": "Name", "Value": name}} }

// sorted orders a describe list by its id field, so that the output does
// not depend on the order resources were made in.
func sorted(l []obj, id string) []obj {
	slices.SortStableFunc(l, func(a, b obj) int { return strings.Compare(fmt.Sprint(a[id]), fmt.Sprint(b[id])) })
	return l
}

func describeAddresses(d *Service) any {
	n := d.net
	out := []obj{}
	for _, e := range n.EIPs {
		a := obj{"PublicIp": e.Addr.String(), "AllocationId": e.AllocationID, "Domain": "vpc", "Tags": tags(e.Name)}
		if e.Pool != nil {
			a["PublicIpv4Pool"], a["NetworkBorderGroup"] = e.Pool.Name, e.Pool.BorderGroup
		}
		if e.ENI != nil {
			a["AssociationId"] = associationID(n, e)
			a["NetworkInterfaceId"] = e.ENI.ID
			a["PrivateIpAddress"] = e.PrivateIP.String()
			if e.ENI.Instance != nil {
				a["InstanceId"] = e.ENI.Instance.ID
			}
		}
		out = append(out, a)
	}
	return obj{"Addresses": sorted(out, "AllocationId")}
}

func describeENI(n *topology.Network, e *topology.ENI) obj {
	groups := []obj{}
	for _, g := range e.Groups {
		groups = append(groups, obj{"GroupId": g.ID, "GroupName": g.Name})
	}
	ips := []obj{}
	var primaryAssoc obj
	for k, ip := range e.IPs() {
		p := obj{"PrivateIpAddress": ip.String(), "Primary": k == 0}
		if pub, ok := e.PublicIPs[ip]; ok {
			owner := "amazon"
			for _, x := range n.EIPs {
				if x.Addr == pub {
					owner = n.AccountID()
				}
			}
			p["Association"] = obj{"PublicIp": pub.String(), "IpOwnerId": owner}
			if k == 0 {
				primaryAssoc = p["Association"].(obj)
			}
		}
		ips = append(ips, p)
	}
	kind := "interface"
	if e.NAT != nil {
		kind = "nat_gateway"
	}
	status := "available"
	o := obj{"NetworkInterfaceId": e.ID, "InterfaceType": kind, "RequesterManaged": e.RequesterManaged,
		"SourceDestCheck": e.SourceDestCheck, "Groups": groups, "PrivateIpAddress": e.PrimaryIP.String(),
		"PrivateIpAddresses": ips, "MacAddress": e.MAC.String(), "SubnetId": e.Subnet.ID, "VpcId": e.Subnet.VPC.ID,
		"AvailabilityZone": e.Subnet.AZ, "Description": e.Description, "TagSet": tags(e.Name)}
	if e.Instance != nil {
		status = "in-use"
		o["Attachment"] = obj{"AttachmentId": attachmentID(n, e), "InstanceId": e.Instance.ID,
			"DeviceIndex": e.DeviceIndex, "Status": "attached", "DeleteOnTermination": e.DeviceIndex == 0}
	} else if e.NAT != nil {
		status = "in-use"
	}
	o["Status"] = status
	if primaryAssoc != nil { // EC2 repeats the primary IP's association at the top
		o["Association"] = primaryAssoc
	}
	return o
}

func describeNetworkInterfaces(d *Service) any {
	out := []obj{}
	for _, v := range d.net.VPCs {
		for _, e := range v.ENIs {
			out = append(out, describeENI(d.net, e))
		}
	}
	return obj{"NetworkInterfaces": sorted(out, "NetworkInterfaceId")}
}

func describeInstance(n *topology.Network, i *topology.Instance) obj {
	e := i.Primary()
	var enis []obj
	for _, x := range i.ENIs {
		enis = append(enis, describeENI(n, x))
	}
	groups := []obj{}
	for _, g := range e.Groups {
		groups = append(groups, obj{"GroupId": g.ID, "GroupName": g.Name})
	}
	o := obj{"InstanceId": i.ID, "State": instState(i), "PrivateIpAddress": e.PrimaryIP.String(),
		"SubnetId": i.Subnet.ID, "VpcId": i.VPC.ID, "Placement": obj{"AvailabilityZone": i.Subnet.AZ},
		"SourceDestCheck": e.SourceDestCheck, "SecurityGroups": groups, "NetworkInterfaces": enis, "Tags": tags(i.Name)}
	if pub, ok := e.PublicIPs[e.PrimaryIP]; ok {
		o["PublicIpAddress"] = pub.String()
	}
	return o
}

func describeInstances(d *Service) any {
	var res []obj
	for _, v := range d.net.VPCs {
		for _, i := range v.Instances {
			res = append(res, obj{"ReservationId": d.net.NewID("r", i.Name), "Instances": []obj{describeInstance(d.net, i)}})
		}
	}
	if res == nil {
		res = []obj{}
	}
	return obj{"Reservations": sorted(res, "ReservationId")}
}

// routeState is RT-3: a route whose target is gone is a blackhole.
func routeState(v *topology.VPC, r *topology.Route) string {
	switch r.Kind {
	case topology.TargetBlackhole:
		return "blackhole"
	case topology.TargetENI:
		if r.ENI == nil || !slices.Contains(v.ENIs, r.ENI) {
			return "blackhole"
		}
	case topology.TargetNAT:
		if r.NAT == nil || !slices.Contains(v.NATs, r.NAT) {
			return "blackhole"
		}
	}
	return "active"
}

func describeRouteTables(d *Service) any {
	out := []obj{}
	for _, v := range d.net.VPCs {
		for _, t := range v.RouteTables {
			routes := []obj{}
			for _, r := range t.Routes {
				ro := obj{"DestinationCidrBlock": r.Dest.String(), "State": routeState(v, r), "Origin": "CreateRoute"}
				switch r.Kind {
				case topology.TargetLocal:
					ro["GatewayId"], ro["Origin"] = "local", "CreateRouteTable"
				case topology.TargetIGW:
					if v.IGW != nil {
						ro["GatewayId"] = v.IGW.ID
					}
				case topology.TargetNAT:
					ro["NatGatewayId"] = r.NAT.ID
				case topology.TargetENI:
					ro["NetworkInterfaceId"] = r.ENI.ID
					if r.ENI.Instance != nil {
						ro["InstanceId"] = r.ENI.Instance.ID
					}
				case topology.TargetPeering:
					ro["VpcPeeringConnectionId"] = r.Peering.ID
				case topology.TargetBlackhole:
					ro["GatewayId"] = "blackhole"
				}
				routes = append(routes, ro)
			}
			assoc := []obj{}
			if t.Main {
				assoc = append(assoc, obj{"Main": true, "RouteTableId": t.ID})
			}
			for _, s := range v.Subnets {
				if s.RouteTable == t {
					assoc = append(assoc, obj{"Main": false, "RouteTableId": t.ID, "SubnetId": s.ID})
				}
			}
			out = append(out, obj{"RouteTableId": t.ID, "VpcId": v.ID, "Routes": routes, "Associations": assoc, "Tags": tags(t.Name)})
		}
	}
	return obj{"RouteTables": sorted(out, "RouteTableId")}
}

// vpcFilters are DescribeVpcs' filters.
var vpcFilters = filters[types.Vpc]{
	"vpc-id":                            func(v *types.Vpc) []string { return []string{deref(v.VpcId)} },
	"cidr":                              func(v *types.Vpc) []string { return []string{deref(v.CidrBlock)} },
	"cidr-block":                        func(v *types.Vpc) []string { return []string{deref(v.CidrBlock)} },
	"cidr-block-association.cidr-block": func(v *types.Vpc) []string { return []string{deref(v.CidrBlock)} },
	"state":                             func(v *types.Vpc) []string { return []string{string(v.State)} },
	"is-default":                        func(v *types.Vpc) []string { return []string{boolString(deref(v.IsDefault))} },
	"owner-id":                          func(v *types.Vpc) []string { return []string{deref(v.OwnerId)} },
	"dhcp-options-id":                   func(v *types.Vpc) []string { return []string{deref(v.DhcpOptionsId)} },
}

func (d *Service) describeVpcs(in *types.DescribeVpcsRequest) (*types.DescribeVpcsResult, error) {
	var all []types.Vpc
	for _, v := range d.net.VPCs {
		all = append(all, types.Vpc{VpcId: ptr(v.ID), CidrBlock: ptr(v.CIDR.String()), State: types.VpcStateAvailable,
			OwnerId: ptr(d.net.AccountID()), InstanceTenancy: types.TenancyDefault, IsDefault: ptr(false),
			DhcpOptionsId: ptr("default"),
			CidrBlockAssociationSet: []types.VpcCidrBlockAssociation{{AssociationId: ptr(d.net.NewID("vpc-cidr-assoc", v.Name)),
				CidrBlock: ptr(v.CIDR.String()), CidrBlockState: &types.VpcCidrBlockState{State: types.VpcCidrBlockStateCodeAssociated}}},
			Tags: nameTags(v.Name)})
	}
	slices.SortFunc(all, func(a, b types.Vpc) int { return strings.Compare(*a.VpcId, *b.VpcId) })
	vpcs, err := byIDs(all, in.VpcIds, func(v *types.Vpc) string { return *v.VpcId },
		func(id string) error { return opErr("InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", id) })
	if err != nil {
		return nil, err
	}
	if vpcs, err = selectItems(vpcs, in.Filters, vpcFilters, func(v *types.Vpc) []types.Tag { return v.Tags }); err != nil {
		return nil, err
	}
	vpcs, next, err := page(vpcs, in.MaxResults, in.NextToken, 5, 1000)
	if err != nil {
		return nil, err
	}
	return &types.DescribeVpcsResult{Vpcs: append([]types.Vpc{}, vpcs...), NextToken: next}, nil
}

func describeSubnets(d *Service) any {
	out := []obj{}
	for _, v := range d.net.VPCs {
		for _, s := range v.Subnets {
			free := 0
			for a := s.CIDR.Masked().Addr(); s.CIDR.Contains(a); a = a.Next() {
				if !s.Reserved(a) && v.PrivateInUse(a) == nil {
					free++
				}
			}
			out = append(out, obj{"SubnetId": s.ID, "VpcId": v.ID, "CidrBlock": s.CIDR.String(), "AvailabilityZone": s.AZ,
				"MapPublicIpOnLaunch": s.MapPublicIP, "AvailableIpAddressCount": free, "State": "available", "Tags": tags(s.Name)})
		}
	}
	return obj{"Subnets": sorted(out, "SubnetId")}
}

func permissions(rules []topology.SGRule) []obj {
	out := []obj{}
	for _, r := range rules {
		p := obj{"IpProtocol": protoName(r.Protocol)}
		if r.FromPort != -1 || r.ToPort != -1 {
			p["FromPort"], p["ToPort"] = r.FromPort, r.ToPort
		}
		if r.Group != nil {
			p["UserIdGroupPairs"] = []obj{{"GroupId": r.Group.ID}}
		} else {
			p["IpRanges"] = []obj{{"CidrIp": r.CIDR.String()}}
		}
		out = append(out, p)
	}
	return out
}

func describeSecurityGroups(d *Service) any {
	out := []obj{}
	for _, v := range d.net.VPCs {
		for _, g := range v.SGs {
			out = append(out, obj{"GroupId": g.ID, "GroupName": g.Name, "Description": g.Description, "VpcId": v.ID,
				"IpPermissions": permissions(g.Ingress), "IpPermissionsEgress": permissions(g.Egress)})
		}
	}
	return obj{"SecurityGroups": sorted(out, "GroupId")}
}

func describeNetworkAcls(d *Service) any {
	out := []obj{}
	for _, v := range d.net.VPCs {
		for _, a := range v.NACLs {
			entries := []obj{}
			add := func(rules []topology.NACLRule, egress bool) {
				for _, r := range rules {
					action := "deny"
					if r.Allow {
						action = "allow"
					}
					e := obj{"RuleNumber": r.Number, "Protocol": fmt.Sprint(r.Protocol), "Egress": egress,
						"CidrBlock": r.CIDR.String(), "RuleAction": action}
					if r.Protocol == 6 || r.Protocol == 17 {
						if r.FromPort != -1 {
							e["PortRange"] = obj{"From": r.FromPort, "To": r.ToPort}
						}
					} else if r.Protocol == 1 {
						e["IcmpTypeCode"] = obj{"Type": r.FromPort, "Code": r.ToPort}
					}
					entries = append(entries, e)
				}
				entries = append(entries, obj{"RuleNumber": 32767, "Protocol": "-1", "Egress": egress, "CidrBlock": "0.0.0.0/0", "RuleAction": "deny"})
			}
			add(a.Ingress, false)
			add(a.Egress, true)
			assoc := []obj{}
			for _, s := range v.Subnets {
				if s.NACL == a {
					assoc = append(assoc, obj{"NetworkAclId": a.ID, "SubnetId": s.ID})
				}
			}
			out = append(out, obj{"NetworkAclId": a.ID, "VpcId": v.ID, "IsDefault": a.Default, "Entries": entries,
				"Associations": assoc, "Tags": tags(a.Name)})
		}
	}
	return obj{"NetworkAcls": sorted(out, "NetworkAclId")}
}

func describeNatGateways(d *Service) any {
	out := []obj{}
	for _, v := range d.net.VPCs {
		for _, g := range v.NATs {
			addr := obj{"NetworkInterfaceId": g.ENI.ID, "PrivateIp": g.ENI.PrimaryIP.String()}
			if g.EIP != nil {
				addr["AllocationId"], addr["PublicIp"] = g.EIP.AllocationID, g.EIP.Addr.String()
			}
			conn := "public"
			if g.Private {
				conn = "private"
			}
			out = append(out, obj{"NatGatewayId": g.ID, "SubnetId": g.Subnet.ID, "VpcId": v.ID, "State": "available",
				"ConnectivityType": conn, "NatGatewayAddresses": []obj{addr}, "Tags": tags(g.Name)})
		}
	}
	return obj{"NatGateways": sorted(out, "NatGatewayId")}
}
