package ec2

import (
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

// routeTo returns table name's route to dst, or nil.
func routeTo(d *Service, table, dst string) *topology.Route {
	t, _, err := d.findRouteTable(table)
	if err != nil {
		return nil
	}
	for _, r := range t.Routes {
		if r.Dest == netip.MustParsePrefix(dst) {
			return r
		}
	}
	return nil
}

// reloads exports d's network and loads it again.
func reloads(d *Service) error {
	b, err := json.Marshal(topology.Export(d.net))
	if err == nil {
		_, err = topology.Load(b)
	}
	return err
}

// RT-3: CreateRoute answers {Return: true}; ReplaceRoute and DeleteRoute
// answer nothing, as EC2 does. Targets are named by id or by name.
func TestRT3_CreateReplaceDeleteRoute(t *testing.T) {
	d, k := opsService(t, "")
	out := answer[types.CreateRouteResult](t, d, "CreateRoute", `{"RouteTableId": "rt-public", "DestinationCidrBlock": "203.0.113.0/24", "GatewayId": "igw-main"}`)
	if out.Return == nil || !*out.Return {
		t.Fatalf("CreateRoute: %+v", out)
	}
	if r := routeTo(d, "rt-public", "203.0.113.0/24"); r == nil || r.Kind != topology.TargetIGW {
		t.Fatalf("route: %+v", r)
	}
	nat := d.net.VPCs[0].NATs[0]
	if answer[struct{}](t, d, "ReplaceRoute", `{"RouteTableId": "rt-public", "DestinationCidrBlock": "203.0.113.0/24", "NatGatewayId": "`+nat.ID+`"}`) != nil {
		t.Fatal("EC2 answers ReplaceRoute with nothing")
	}
	if r := routeTo(d, "rt-public", "203.0.113.0/24"); r == nil || r.Kind != topology.TargetNAT || r.NAT != nat {
		t.Fatalf("replaced: %+v", r)
	}
	// RT-4: a whole subnet through a middlebox (an instance's eth0).
	answer[types.CreateRouteResult](t, d, "CreateRoute", `{"RouteTableId": "rt-public", "DestinationCidrBlock": "92.75.200.0/24", "InstanceId": "db"}`)
	if r := routeTo(d, "rt-public", "92.75.200.0/24"); r == nil || r.Kind != topology.TargetENI || r.ENI != d.net.InstanceByName["db"].Primary() {
		t.Fatalf("middlebox route: %+v", r)
	}
	answer[types.CreateRouteResult](t, d, "CreateRoute", `{"RouteTableId": "rt-private", "DestinationCidrBlock": "198.51.100.0/24", "NetworkInterfaceId": "eni-extra"}`)
	if answer[struct{}](t, d, "DeleteRoute", `{"RouteTableId": "rt-public", "DestinationCidrBlock": "203.0.113.0/24"}`) != nil {
		t.Fatal("EC2 answers DeleteRoute with nothing")
	}
	if routeTo(d, "rt-public", "203.0.113.0/24") != nil {
		t.Fatal("route not deleted")
	}
	if len(k.calls) != 0 {
		t.Fatalf("routes need no kernel: %v", k.calls)
	}
	// The network still exports and loads (one validation, issue 10).
	if err := reloads(d); err != nil {
		t.Fatalf("export after route changes does not load: %v", err)
	}
}

// Refused route operations answer EC2's codes and change nothing
// (RT-1, RT-3, RT-4, ENI-5).
func TestRT_RefusedWithNothingChanged(t *testing.T) {
	cases := []struct{ name, op, req, code string }{
		{"RT-3 two targets", "CreateRoute", `{"RouteTableId": "rt-public", "DestinationCidrBlock": "8.0.0.0/8", "GatewayId": "igw-main", "NatGatewayId": "nat-2a"}`, "InvalidParameterCombination"},
		{"no target", "CreateRoute", `{"RouteTableId": "rt-public", "DestinationCidrBlock": "8.0.0.0/8"}`, "MissingParameter"},
		{"no destination", "CreateRoute", `{"RouteTableId": "rt-public", "GatewayId": "igw-main"}`, "MissingParameter"},
		{"no table", "CreateRoute", `{"DestinationCidrBlock": "8.0.0.0/8", "GatewayId": "igw-main"}`, "MissingParameter"},
		{"unknown table", "CreateRoute", `{"RouteTableId": "rtb-0123456789abcdef0", "DestinationCidrBlock": "8.0.0.0/8", "GatewayId": "igw-main"}`, "InvalidRouteTableID.NotFound"},
		{"bad CIDR", "CreateRoute", `{"RouteTableId": "rt-public", "DestinationCidrBlock": "8.0.0.1/8", "GatewayId": "igw-main"}`, "InvalidParameterValue"},
		{"prefix 33", "CreateRoute", `{"RouteTableId": "rt-public", "DestinationCidrBlock": "8.0.0.0/33", "GatewayId": "igw-main"}`, "InvalidParameterValue"},
		{"exists", "CreateRoute", `{"RouteTableId": "rt-public", "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-main"}`, "RouteAlreadyExists"},
		{"RT-1 local", "CreateRoute", `{"RouteTableId": "rt-public", "DestinationCidrBlock": "92.75.0.0/16", "GatewayId": "igw-main"}`, "InvalidParameterValue"},
		{"RT-1 replace local", "ReplaceRoute", `{"RouteTableId": "rt-public", "DestinationCidrBlock": "92.75.0.0/16", "GatewayId": "igw-main"}`, "InvalidParameterValue"},
		{"RT-1 delete local", "DeleteRoute", `{"RouteTableId": "rt-private", "DestinationCidrBlock": "92.75.0.0/16"}`, "InvalidParameterValue"},
		{"RT-4 part of a subnet", "CreateRoute", `{"RouteTableId": "rt-public", "DestinationCidrBlock": "92.75.200.0/25", "InstanceId": "db"}`, "InvalidParameterValue"},
		{"RT-4 subnet to the IGW", "CreateRoute", `{"RouteTableId": "rt-public", "DestinationCidrBlock": "92.75.200.0/24", "GatewayId": "igw-main"}`, "InvalidParameterValue"},
		{"unknown gateway", "CreateRoute", `{"RouteTableId": "rt-public", "DestinationCidrBlock": "8.0.0.0/8", "GatewayId": "igw-0123456789abcdef0"}`, "InvalidGatewayID.NotFound"},
		{"unknown NAT", "CreateRoute", `{"RouteTableId": "rt-public", "DestinationCidrBlock": "8.0.0.0/8", "NatGatewayId": "nat-0123456789abcdef0"}`, "InvalidNatGatewayID.NotFound"},
		{"unknown ENI", "CreateRoute", `{"RouteTableId": "rt-public", "DestinationCidrBlock": "8.0.0.0/8", "NetworkInterfaceId": "eni-0123456789abcdef0"}`, "InvalidNetworkInterfaceID.NotFound"},
		{"unknown instance", "CreateRoute", `{"RouteTableId": "rt-public", "DestinationCidrBlock": "8.0.0.0/8", "InstanceId": "i-0123456789abcdef0"}`, "InvalidInstanceID.NotFound"},
		{"ENI-5 the NAT's ENI", "CreateRoute", `{"RouteTableId": "rt-public", "DestinationCidrBlock": "8.0.0.0/8", "NetworkInterfaceId": "nat-2a"}`, "OperationNotPermitted"},
		{"unknown peering", "CreateRoute", `{"RouteTableId": "rt-public", "DestinationCidrBlock": "8.0.0.0/8", "VpcPeeringConnectionId": "pcx-0123456789abcdef0"}`, "InvalidVpcPeeringConnectionID.NotFound"},
		{"IPv6", "CreateRoute", `{"RouteTableId": "rt-public", "DestinationIpv6CidrBlock": "::/0", "GatewayId": "igw-main"}`, "Unsupported"},
		{"transit gateway", "CreateRoute", `{"RouteTableId": "rt-public", "DestinationCidrBlock": "8.0.0.0/8", "TransitGatewayId": "tgw-1"}`, "Unsupported"},
		{"replace a missing route", "ReplaceRoute", `{"RouteTableId": "rt-public", "DestinationCidrBlock": "192.0.2.0/24", "GatewayId": "igw-main"}`, "InvalidRoute.NotFound"},
		{"delete a missing route", "DeleteRoute", `{"RouteTableId": "rt-public", "DestinationCidrBlock": "192.0.2.0/24"}`, "InvalidRoute.NotFound"},
		{"replace to the local target", "ReplaceRoute", `{"RouteTableId": "rt-public", "DestinationCidrBlock": "0.0.0.0/0", "LocalTarget": true}`, "Unsupported"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, k := opsService(t, "")
			refuse(t, d, k, c.op, c.req, c.code)
		})
	}
}

// peered has VPCs a and b joined by a peering connection, and c apart.
const peered = `{
  "name": "pc", "region": "us-east-1",
  "vpcs": [
    {"name": "a", "cidr": "10.1.0.0/16", "subnets": [{"name": "sa", "cidr": "10.1.1.0/24", "az": "us-east-1a", "route_table": "rta"}],
     "route_tables": [{"name": "rta", "routes": []}], "network_interfaces": [{"name": "ea", "subnet": "sa"}]},
    {"name": "b", "cidr": "10.2.0.0/16", "subnets": [{"name": "sb", "cidr": "10.2.1.0/24", "az": "us-east-1a"}]},
    {"name": "c", "cidr": "10.3.0.0/16", "subnets": [{"name": "sc", "cidr": "10.3.1.0/24", "az": "us-east-1a", "route_table": "rtc"}],
     "route_tables": [{"name": "rtc", "routes": []}]}
  ],
  "peerings": [{"name": "ab", "vpcs": ["a", "b"]}]
}`

// RT-3: a route may target a peering connection that joins the table's
// VPC, and an ENI of its own VPC only (issue 10: the file refuses the
// others, so must the operations).
func TestRT3_PeeringAndOtherVPCs(t *testing.T) {
	d, k := opsService(t, peered)
	pcx := d.net.Peerings[0]
	answer[types.CreateRouteResult](t, d, "CreateRoute", `{"RouteTableId": "rta", "DestinationCidrBlock": "10.2.0.0/16", "VpcPeeringConnectionId": "`+pcx.ID+`"}`)
	if r := routeTo(d, "rta", "10.2.0.0/16"); r == nil || r.Kind != topology.TargetPeering || r.Peering != pcx || r.TargetName != "ab" {
		t.Fatalf("peering route: %+v", r)
	}
	refuse(t, d, k, "CreateRoute", `{"RouteTableId": "rtc", "DestinationCidrBlock": "10.2.0.0/16", "VpcPeeringConnectionId": "ab"}`, "InvalidParameterValue")
	refuse(t, d, k, "CreateRoute", `{"RouteTableId": "rtc", "DestinationCidrBlock": "8.0.0.0/8", "NetworkInterfaceId": "ea"}`, "InvalidParameterValue")
	if err := reloads(d); err != nil {
		t.Fatalf("export with a peering route does not load: %v", err)
	}
}
