package ec2

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

const outpostArn = "arn:aws:outposts:us-east-1:123456789012:outpost/op-0123456789abcdef0"

// coipTopo: subnet op on an Outpost with local gateway lgw and its CoIP
// pool; subnet reg in the Region; an instance in each.
const coipTopo = `{
  "name": "coip", "region": "us-east-1",
  "address_pools": [{"name": "amz", "cidrs": ["3.34.0.0/16"]}, {"name": "onprem", "cidrs": ["45.60.50.0/24"], "kind": "coip"}],
  "local_gateways": [{"name": "lgw", "outpost_arn": "` + outpostArn + `", "coip_pools": ["onprem"]}],
  "vpcs": [{
    "name": "v", "cidr": "10.0.0.0/16", "internet_gateway": "igw",
    "subnets": [
      {"name": "op", "cidr": "10.0.1.0/24", "az": "us-east-1a", "outpost_arn": "` + outpostArn + `", "route_table": "rt-op"},
      {"name": "reg", "cidr": "10.0.2.0/24", "az": "us-east-1a"}
    ],
    "route_tables": [{"name": "rt-op", "routes": [{"destination": "172.16.0.0/12", "target": "lgw"}, {"destination": "0.0.0.0/0", "target": "igw"}]}],
    "instances": [
      {"name": "edge", "subnet": "op", "private_ip": "10.0.1.10"},
      {"name": "cloud", "subnet": "reg", "private_ip": "10.0.2.10"}
    ]
  }]
}`

// COIP-1..3: a CoIP address comes only with CustomerOwnedIpv4Pool,
// associates only in an Outpost subnet, and is never a public IP (the
// internet gateway does not translate it); the file says it all back.
func TestCOIP_AllocateAssociateOnlyOnTheOutpost(t *testing.T) {
	d := rulesSvc(t, coipTopo)
	refused(t, d, "AllocateAddress", `{"PublicIpv4Pool": "onprem"}`, "InvalidParameterValue")
	refused(t, d, "AllocateAddress", `{"CustomerOwnedIpv4Pool": "amz"}`, "InvalidParameterValue")
	refused(t, d, "AllocateAddress", `{"CustomerOwnedIpv4Pool": "onprem", "PublicIpv4Pool": "amz"}`, "InvalidParameterCombination")
	// The ordinary flag never hands out a CoIP address.
	out := callOK(t, d, "AllocateAddress", `{}`).(*types.AllocateAddressResult)
	if !strings.HasPrefix(deref(out.PublicIp), "3.34.") {
		t.Fatalf("an ordinary allocation: %+v", out)
	}
	out = callOK(t, d, "AllocateAddress", `{"CustomerOwnedIpv4Pool": "onprem", "TagSpecifications": [{"ResourceType": "elastic-ip", "Tags": [{"Key": "Name", "Value": "c1"}]}]}`).(*types.AllocateAddressResult)
	e := eipNamed(d, "c1")
	if e == nil || !strings.HasPrefix(deref(out.CustomerOwnedIp), "45.60.50.") || deref(out.CustomerOwnedIpv4Pool) != "onprem" || out.PublicIp != nil ||
		deref(out.AllocationId) != e.AllocationID {
		t.Fatalf("CoIP allocation %+v, EIP %+v", out, e)
	}
	// COIP-3: not with an ENI in a Region subnet.
	refused(t, d, "AssociateAddress", `{"AllocationId": "c1", "InstanceId": "cloud"}`, "InvalidParameterCombination")
	callOK(t, d, "AssociateAddress", `{"AllocationId": "c1", "InstanceId": "edge"}`)
	edge := d.net.InstanceByName["edge"].Primary()
	if e.ENI != edge || e.PrivateIP != edge.PrimaryIP {
		t.Fatalf("CoIP association %+v", e)
	}
	for _, pub := range edge.PublicIPs {
		if pub == e.Addr {
			t.Fatalf("a CoIP address is a public IP of %s: the internet gateway would translate it", edge.ID)
		}
	}
	// Export → load keeps the CoIP association, the Outpost subnet, the
	// local gateway and its route.
	n2, err := topology.Resolve(topology.Export(d.net))
	if err != nil {
		t.Fatal(err)
	}
	var e2 *topology.EIP
	for _, x := range n2.EIPs {
		if x.Name == "c1" {
			e2 = x
		}
	}
	if e2 == nil || e2.ENI == nil || e2.ENI.Name != edge.Name || len(n2.LocalGateways) != 1 || n2.VPCs[0].Subnets[0].OutpostArn != outpostArn {
		t.Fatalf("after export and load: %+v, %+v", e2, n2.LocalGateways)
	}
	callOK(t, d, "DisassociateAddress", `{"PublicIp": "`+e.Addr.String()+`"}`)
	if e.ENI != nil {
		t.Fatalf("still associated: %+v", e)
	}
}

// COIP-2: a route to the local gateway by id, from a VPC on its Outpost;
// describe-route-tables names it LocalGatewayId.
func TestCOIP_LocalGatewayRoute(t *testing.T) {
	d := rulesSvc(t, coipTopo)
	lgw := d.net.LocalGateways[0]
	if !strings.HasPrefix(lgw.ID, "lgw-") {
		t.Fatalf("local gateway id %q", lgw.ID)
	}
	callOK(t, d, "CreateRoute", `{"RouteTableId": "rt-op", "DestinationCidrBlock": "192.0.2.0/24", "LocalGatewayId": "`+lgw.ID+`"}`)
	refused(t, d, "CreateRoute", `{"RouteTableId": "rt-op", "DestinationCidrBlock": "198.51.100.0/24", "LocalGatewayId": "lgw-0000000000000000f"}`, "InvalidLocalGatewayID.NotFound")
	refused(t, d, "CreateRoute", `{"RouteTableId": "rt-op", "DestinationCidrBlock": "198.51.100.0/24", "LocalGatewayId": "lgw", "GatewayId": "igw"}`, "InvalidParameterCombination")
	r := callOK(t, d, "DescribeRouteTables", `{}`).(*types.DescribeRouteTablesResult)
	found := 0
	for _, rt := range r.RouteTables {
		for _, ro := range rt.Routes {
			if deref(ro.LocalGatewayId) == lgw.ID {
				found++
			}
		}
	}
	if found != 2 {
		t.Errorf("%d routes name %s, want 2", found, lgw.ID)
	}
	// CreateSubnet on the Outpost; an unknown Outpost is refused.
	s := callOK(t, d, "CreateSubnet", `{"VpcId": "v", "CidrBlock": "10.0.3.0/24", "OutpostArn": "`+outpostArn+`"}`).(*types.CreateSubnetResult)
	if deref(s.Subnet.OutpostArn) != outpostArn {
		t.Errorf("subnet %+v", s.Subnet)
	}
	refused(t, d, "CreateSubnet", `{"VpcId": "v", "CidrBlock": "10.0.4.0/24", "OutpostArn": "arn:aws:outposts:us-east-1:123456789012:outpost/op-0fffffffffffffff0"}`, "InvalidParameterValue")
	refused(t, d, "CreateSubnet", `{"VpcId": "v", "CidrBlock": "10.0.4.0/24", "OutpostArn": "op-1"}`, "InvalidParameterValue")
}

// COIP-2: the file refuses a local gateway route from a VPC with no subnet
// on its Outpost, and a malformed Outpost ARN.
func TestCOIP_FileChecks(t *testing.T) {
	bad := strings.Replace(coipTopo, `"outpost_arn": "`+outpostArn+`", "route_table"`, `"route_table"`, 1)
	if _, err := topology.Load([]byte(bad)); err == nil || !strings.Contains(err.Error(), "COIP-2") {
		t.Errorf("lgw route without an Outpost subnet: %v", err)
	}
	bad = strings.Replace(coipTopo, `"outpost_arn": "`+outpostArn+`", "coip`, `"outpost_arn": "op-1", "coip`, 1)
	if _, err := topology.Load([]byte(bad)); err == nil || !strings.Contains(err.Error(), "COIP-1") {
		t.Errorf("malformed Outpost ARN: %v", err)
	}
}

// COIP-3: describe-addresses shows a CoIP as CustomerOwnedIp with its
// pool, never as a PublicIp; an ordinary EIP keeps PublicIp.
func TestCOIP3_DescribeAddressesShowsCustomerOwnedIpOnly(t *testing.T) {
	d := rulesSvc(t, coipTopo)
	callOK(t, d, "AllocateAddress", `{"CustomerOwnedIpv4Pool": "onprem", "TagSpecifications": [{"ResourceType": "elastic-ip", "Tags": [{"Key": "Name", "Value": "c1"}]}]}`)
	callOK(t, d, "AllocateAddress", `{"TagSpecifications": [{"ResourceType": "elastic-ip", "Tags": [{"Key": "Name", "Value": "e1"}]}]}`)
	r := callOK(t, d, "DescribeAddresses", `{}`).(*types.DescribeAddressesResult)
	seen := 0
	for _, a := range r.Addresses {
		switch deref(a.AllocationId) {
		case eipNamed(d, "c1").AllocationID:
			seen++
			if a.PublicIp != nil || a.PublicIpv4Pool != nil || deref(a.CustomerOwnedIp) != eipNamed(d, "c1").Addr.String() || deref(a.CustomerOwnedIpv4Pool) != "onprem" {
				t.Errorf("CoIP described as %+v", a)
			}
		case eipNamed(d, "e1").AllocationID:
			seen++
			if a.PublicIp == nil || a.CustomerOwnedIp != nil {
				t.Errorf("EIP described as %+v", a)
			}
		}
	}
	if seen != 2 {
		t.Fatalf("%d of 2 addresses described", seen)
	}
	// Asking for the CoIP as a public IP finds none (and does not crash).
	refused(t, d, "DescribeAddresses", `{"PublicIps": ["`+eipNamed(d, "c1").Addr.String()+`"]}`, "InvalidAddress.NotFound")
}

// COIP-6: an ordinary Elastic IP associated with the private IP that holds
// a CoIP leaves the CoIP there (another gateway translates each); a second
// EIP there replaces the first (EIP-2).
func TestCOIP6_ElasticIPDoesNotUnbindCoIP(t *testing.T) {
	d := rulesSvc(t, coipTopo)
	callOK(t, d, "AllocateAddress", `{"CustomerOwnedIpv4Pool": "onprem", "TagSpecifications": [{"ResourceType": "elastic-ip", "Tags": [{"Key": "Name", "Value": "c1"}]}]}`)
	callOK(t, d, "AllocateAddress", `{"TagSpecifications": [{"ResourceType": "elastic-ip", "Tags": [{"Key": "Name", "Value": "e1"}]}]}`)
	callOK(t, d, "AllocateAddress", `{"TagSpecifications": [{"ResourceType": "elastic-ip", "Tags": [{"Key": "Name", "Value": "e2"}]}]}`)
	callOK(t, d, "AssociateAddress", `{"AllocationId": "c1", "InstanceId": "edge"}`)
	callOK(t, d, "AssociateAddress", `{"AllocationId": "e1", "InstanceId": "edge"}`)
	edge := d.net.InstanceByName["edge"].Primary()
	if c := eipNamed(d, "c1"); c.ENI != edge {
		t.Fatalf("associating an Elastic IP unbound the CoIP: %+v", c)
	}
	callOK(t, d, "AssociateAddress", `{"AllocationId": "e2", "InstanceId": "edge"}`)
	if eipNamed(d, "e1").ENI != nil || eipNamed(d, "c1").ENI != edge || edge.PublicIPs[edge.PrimaryIP] != eipNamed(d, "e2").Addr {
		t.Fatalf("after a second EIP: e1 %+v, c1 %+v", eipNamed(d, "e1"), eipNamed(d, "c1"))
	}
}

// The local gateway's and the on-premises hosts' names are taken: a new
// resource cannot take them (its namespace would be the host's).
func TestCOIP4_NamesAreTaken(t *testing.T) {
	topo := strings.Replace(coipTopo, `"coip_pools": ["onprem"]}`, `"coip_pools": ["onprem"], "on_premises": [{"name": "db", "ip": "10.100.0.5"}]}`, 1)
	d := rulesSvc(t, topo)
	for _, name := range []string{"db", "lgw"} {
		refused(t, d, "AllocateAddress", `{"TagSpecifications": [{"ResourceType": "elastic-ip", "Tags": [{"Key": "Name", "Value": "`+name+`"}]}]}`, "InvalidParameterValue")
	}
}

// COIP-4: a live VPC CIDR that covers an on-premises host is refused as
// the file would refuse it.
func TestCOIP4_OnPremisesConflict(t *testing.T) {
	topo := strings.Replace(coipTopo, `"coip_pools": ["onprem"]}`, `"coip_pools": ["onprem"], "on_premises": [{"name": "db", "ip": "10.100.0.5"}]}`, 1)
	d := rulesSvc(t, topo)
	if err := d.onPremisesConflict(netip.MustParsePrefix("10.100.0.0/16")); err == nil || !strings.Contains(err.Error(), "COIP-4") {
		t.Errorf("10.100.0.0/16: %v", err)
	}
	if err := d.onPremisesConflict(netip.MustParsePrefix("10.101.0.0/16")); err != nil {
		t.Errorf("10.101.0.0/16: %v", err)
	}
	// Through the operations, with nothing changed.
	refused(t, d, "CreateVpc", `{"CidrBlock": "10.100.0.0/16"}`, "InvalidVpc.Range")
	refused(t, d, "AssociateVpcCidrBlock", `{"VpcId": "`+d.net.VPCs[0].ID+`", "CidrBlock": "10.100.0.0/24"}`, "InvalidVpc.Range")
}
