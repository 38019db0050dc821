package ec2

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

func natGateways(t *testing.T, d *Service, req string) []types.NatGateway {
	t.Helper()
	return callOK(t, d, "DescribeNatGateways", req).(*types.DescribeNatGatewaysResult).NatGateways
}

func natENIOf(t *testing.T, d *Service, id string) []types.NetworkInterface {
	t.Helper()
	return callOK(t, d, "DescribeNetworkInterfaces", `{"Filters": [{"Name": "network-interface-id", "Values": ["`+id+`"]}]}`).(*types.DescribeNetworkInterfacesResult).NetworkInterfaces
}

func routeStateTo(t *testing.T, d *Service, table, dest string) types.RouteState {
	t.Helper()
	rts := callOK(t, d, "DescribeRouteTables", `{}`).(*types.DescribeRouteTablesResult).RouteTables
	for _, rt := range rts {
		for _, r := range rt.Routes {
			if (deref(rt.RouteTableId) == table || natNameTag(rt.Tags) == table) && deref(r.DestinationCidrBlock) == dest {
				return r.State
			}
		}
	}
	t.Fatalf("no route %s in %s", dest, table)
	return ""
}

func natNameTag(tags []types.Tag) string {
	for _, t := range tags {
		if deref(t.Key) == "Name" {
			return deref(t.Value)
		}
	}
	return ""
}

// LIFE-3, NAT-1, ENI-3, ENI-5: create answers pending, describe says
// available; the requester-managed ENI appears with source/dest check off;
// the EIP is the gateway's. Delete: state deleted with DeleteTime, the ENI
// gone, the EIP free and still allocated, the route to it a blackhole (RT-3),
// and the export loads again with the same answers.
func TestLIFE3_NATGatewayCreateDelete(t *testing.T) {
	d := rulesSvc(t, "")
	callOK(t, d, "AllocateAddress", `{"TagSpecifications": [{"ResourceType": "elastic-ip", "Tags": [{"Key": "Name", "Value": "spare"}]}]}`)
	e := eipNamed(d, "spare")
	out := callOK(t, d, "CreateNatGateway", `{"SubnetId": "PUB-WEB-2a", "AllocationId": "`+e.AllocationID+`", "PrivateIpAddress": "92.75.100.50",
		"TagSpecifications": [{"ResourceType": "natgateway", "Tags": [{"Key": "Name", "Value": "nat-b"}]}]}`).(*types.CreateNatGatewayResult)
	g := out.NatGateway
	if g == nil || g.State != types.NatGatewayStatePending || !regexp.MustCompile(`^nat-[0-9a-f]{17}$`).MatchString(deref(g.NatGatewayId)) ||
		len(g.NatGatewayAddresses) != 1 || deref(g.NatGatewayAddresses[0].PublicIp) != e.Addr.String() ||
		deref(g.NatGatewayAddresses[0].PrivateIp) != "92.75.100.50" || g.ConnectivityType != types.ConnectivityTypePublic || natNameTag(g.Tags) != "nat-b" {
		t.Fatalf("create answered %+v", g)
	}
	id := deref(g.NatGatewayId)
	got := natGateways(t, d, `{"NatGatewayIds": ["`+id+`"]}`)
	if len(got) != 1 || got[0].State != types.NatGatewayStateAvailable {
		t.Fatalf("describe: %+v, want available", got)
	}
	eniID := deref(g.NatGatewayAddresses[0].NetworkInterfaceId)
	enis := natENIOf(t, d, eniID)
	if len(enis) != 1 || enis[0].InterfaceType != types.NetworkInterfaceTypeNatGateway || !deref(enis[0].RequesterManaged) ||
		deref(enis[0].SourceDestCheck) || len(enis[0].Groups) != 0 || enis[0].Association == nil || deref(enis[0].Association.PublicIp) != e.Addr.String() {
		t.Fatalf("the NAT gateway's ENI: %+v", enis)
	}
	// ENI-5: the ENI operations refuse it and name the gateway's operations.
	refused(t, d, "DeleteNetworkInterface", `{"NetworkInterfaceId": "`+eniID+`"}`, "OperationNotPermitted")
	refused(t, d, "ReleaseAddress", `{"AllocationId": "`+e.AllocationID+`"}`, "InvalidIPAddress.InUse")
	callOK(t, d, "CreateRoute", `{"RouteTableId": "rt-private", "DestinationCidrBlock": "13.52.0.0/16", "NatGatewayId": "`+id+`"}`)

	// The export of a network with a live-made gateway loads again.
	if _, err := topology.Load([]byte(exported(t, d))); err != nil {
		t.Fatalf("export does not load: %v", err)
	}

	del := callOK(t, d, "DeleteNatGateway", `{"NatGatewayId": "`+id+`"}`).(*types.DeleteNatGatewayResult)
	if deref(del.NatGatewayId) != id {
		t.Fatalf("delete answered %+v", del)
	}
	got = natGateways(t, d, `{"Filter": [{"Name": "state", "Values": ["deleted"]}]}`)
	if len(got) != 1 || deref(got[0].NatGatewayId) != id || got[0].DeleteTime == nil || got[0].CreateTime == nil {
		t.Fatalf("deleted gateways: %+v", got)
	}
	if got = natGateways(t, d, `{"Filter": [{"Name": "state", "Values": ["available"]}]}`); len(got) != 1 || natNameTag(got[0].Tags) != "nat-2a" {
		t.Fatalf("available gateways: %+v, want only nat-2a", got)
	}
	if enis := natENIOf(t, d, eniID); len(enis) != 0 {
		t.Fatalf("the deleted gateway's ENI is still there: %+v", enis)
	}
	if e.ENI != nil || e.NAT != nil || eipNamed(d, "spare") == nil {
		t.Fatalf("EIP after delete: on %v, NAT %v, allocated %v", e.ENI, e.NAT, eipNamed(d, "spare") != nil)
	}
	if s := routeStateTo(t, d, "rt-private", "13.52.0.0/16"); s != types.RouteStateBlackhole {
		t.Fatalf("route to the deleted gateway: %s, want blackhole (RT-3)", s)
	}
	refused(t, d, "DeleteNatGateway", `{"NatGatewayId": "`+id+`"}`, "NatGatewayNotFound")

	// The export loads again and answers the same (the route a blackhole).
	n, err := topology.Load([]byte(exported(t, d)))
	if err != nil {
		t.Fatalf("export after delete does not load: %v", err)
	}
	again := New(rulesStore{n}, nopKernel{})
	for _, op := range []string{"DescribeRouteTables", "DescribeAddresses", "DescribeNetworkInterfaces"} {
		a, _ := json.Marshal(callOK(t, d, op, `{}`))
		b, _ := json.Marshal(callOK(t, again, op, `{}`))
		// The file cannot name a deleted gateway: its route comes back as
		// a plain blackhole (the same state, RT-3).
		if strings.ReplaceAll(string(a), `"NatGatewayId":"`+id+`"`, `"GatewayId":"blackhole"`) != string(b) {
			t.Errorf("%s differs after export and load:\n%s\n%s", op, a, b)
		}
	}

	// The EIP is free: a new gateway (same name, so same id) takes it, and
	// the deleted one's record gives way to the live one.
	out = callOK(t, d, "CreateNatGateway", `{"SubnetId": "PUB-WEB-2a", "AllocationId": "spare",
		"TagSpecifications": [{"ResourceType": "natgateway", "Tags": [{"Key": "Name", "Value": "nat-b"}]}]}`).(*types.CreateNatGatewayResult)
	if deref(out.NatGateway.NatGatewayId) != id {
		t.Fatalf("same name, id %s, want %s", deref(out.NatGateway.NatGatewayId), id)
	}
	if got = natGateways(t, d, `{"NatGatewayIds": ["`+id+`"]}`); len(got) != 1 || got[0].State != types.NatGatewayStateAvailable {
		t.Fatalf("after re-creation: %+v", got)
	}
}

// NAT-1: a private gateway has no EIP and needs no internet gateway.
func TestNAT1_PrivateGateway(t *testing.T) {
	d := rulesSvc(t, "")
	g := callOK(t, d, "CreateNatGateway", `{"SubnetId": "PRI-DB-2a", "ConnectivityType": "private"}`).(*types.CreateNatGatewayResult).NatGateway
	if g.ConnectivityType != types.ConnectivityTypePrivate || g.NatGatewayAddresses[0].PublicIp != nil || natNameTag(g.Tags) != "nat-1" {
		t.Fatalf("private gateway: %+v", g)
	}
	if _, err := topology.Load([]byte(exported(t, d))); err != nil {
		t.Fatalf("export does not load: %v", err)
	}
}

// Every refusal of create-nat-gateway and delete-nat-gateway: EC2's code,
// nothing changed.
func TestNAT1_Refusals(t *testing.T) {
	noIGW := strings.Replace(string(topology.Default()), `"internet_gateway": "igw-main",`, "", 1)
	noIGW = strings.Replace(noIGW, `{"destination": "0.0.0.0/0", "target": "igw-main"}`, `{"destination": "0.0.0.0/0", "target": "blackhole"}`, 1)
	d := rulesSvc(t, "")
	callOK(t, d, "AllocateAddress", `{"TagSpecifications": [{"ResourceType": "elastic-ip", "Tags": [{"Key": "Name", "Value": "spare"}]}]}`)
	for _, c := range []struct{ op, req, code string }{
		{"CreateNatGateway", `{"AllocationId": "spare"}`, "MissingParameter"},
		{"CreateNatGateway", `{"SubnetId": "subnet-0", "AllocationId": "spare"}`, "InvalidSubnetID.NotFound"},
		{"CreateNatGateway", `{"SubnetId": "PUB-WEB-2a"}`, "MissingParameter"},
		{"CreateNatGateway", `{"SubnetId": "PUB-WEB-2a", "AllocationId": "eipalloc-0"}`, "InvalidAllocationID.NotFound"},
		{"CreateNatGateway", `{"SubnetId": "PUB-WEB-2a", "AllocationId": "eip-nat"}`, "Resource.AlreadyAssociated"}, // nat-2a's
		{"CreateNatGateway", `{"SubnetId": "PUB-WEB-2a", "AllocationId": "eip-web"}`, "Resource.AlreadyAssociated"}, // web's
		{"CreateNatGateway", `{"SubnetId": "PUB-WEB-2a", "ConnectivityType": "private", "AllocationId": "spare"}`, "InvalidParameterCombination"},
		{"CreateNatGateway", `{"SubnetId": "PUB-WEB-2a", "ConnectivityType": "both", "AllocationId": "spare"}`, "InvalidParameterValue"},
		{"CreateNatGateway", `{"SubnetId": "PUB-WEB-2a", "AllocationId": "spare", "PrivateIpAddress": "92.75.100.10"}`, "InvalidIPAddress.InUse"},
		{"CreateNatGateway", `{"SubnetId": "PUB-WEB-2a", "AllocationId": "spare", "PrivateIpAddress": "92.75.100.1"}`, "InvalidParameterValue"},
		{"CreateNatGateway", `{"SubnetId": "PUB-WEB-2a", "AllocationId": "spare", "PrivateIpAddress": "92.75.200.50"}`, "InvalidParameterValue"},
		{"CreateNatGateway", `{"SubnetId": "PUB-WEB-2a", "AllocationId": "spare", "TagSpecifications": [{"ResourceType": "natgateway", "Tags": [{"Key": "Name", "Value": "web"}]}]}`, "InvalidParameterValue"},
		{"CreateNatGateway", `{"SubnetId": "PUB-WEB-2a", "AllocationId": "spare", "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "n"}]}]}`, "InvalidParameterValue"},
		{"DeleteNatGateway", `{"NatGatewayId": "nat-0123456789abcdef0"}`, "NatGatewayNotFound"},
		{"DeleteNatGateway", `{}`, "MissingParameter"},
	} {
		refused(t, d, c.op, c.req, c.code)
	}
	// NAT-1: a public gateway needs the VPC's internet gateway.
	d = rulesSvc(t, noIGW)
	callOK(t, d, "AllocateAddress", `{"TagSpecifications": [{"ResourceType": "elastic-ip", "Tags": [{"Key": "Name", "Value": "spare"}]}]}`)
	refused(t, d, "CreateNatGateway", `{"SubnetId": "PUB-WEB-2a", "AllocationId": "spare"}`, "Gateway.NotAttached")
}
