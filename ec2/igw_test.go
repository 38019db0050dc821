package ec2

import (
	"strings"
	"testing"

	"github.com/vpcnet/vpcnet/topology"
)

// TestIGW1_Lifecycle: an internet gateway is made detached, attached to one
// VPC at most and one VPC has one at most (Resource.AlreadyAssociated),
// described with EC2's "available" attachment and filters, detached, and
// deleted only when detached (DependencyViolation); each refusal changes
// nothing; export keeps a detached one.
func TestIGW1_Lifecycle(t *testing.T) {
	d := rulesSvc(t, emptyTopo)
	callOK(t, d, "CreateVpc", `{"CidrBlock": "10.0.0.0/16", `+nameTag("vpc", "a")+`}`)
	callOK(t, d, "CreateVpc", `{"CidrBlock": "10.1.0.0/16", `+nameTag("vpc", "b")+`}`)
	gw := d.net.NewID("igw", "gw")
	if got := vpcAnswer(t, d, "CreateInternetGateway", `{`+nameTag("internet-gateway", "gw")+`}`); !strings.Contains(got, `"Attachments":[]`) ||
		!strings.Contains(got, `"InternetGatewayId":"`+gw+`"`) {
		t.Fatalf("answer %s", got)
	}
	callOK(t, d, "CreateInternetGateway", `{}`) // igw-1
	if len(d.net.DetachedIGWs) != 2 {
		t.Fatal("the gateways are not detached")
	}
	vpcSameAfterReload(t, d) // detached gateways round-trip (internet_gateways)

	a := vpcNamed(d, "a")
	callOK(t, d, "AttachInternetGateway", `{"InternetGatewayId": "`+gw+`", "VpcId": "`+a.ID+`"}`)
	if a.IGW == nil || a.IGW.ID != gw {
		t.Fatal("not attached")
	}
	refused(t, d, "AttachInternetGateway", `{"InternetGatewayId": "igw-1", "VpcId": "a"}`, "Resource.AlreadyAssociated")
	refused(t, d, "AttachInternetGateway", `{"InternetGatewayId": "gw", "VpcId": "b"}`, "Resource.AlreadyAssociated")
	refused(t, d, "AttachInternetGateway", `{"InternetGatewayId": "igw-nope", "VpcId": "b"}`, "InvalidInternetGatewayID.NotFound")
	refused(t, d, "AttachInternetGateway", `{"InternetGatewayId": "igw-1", "VpcId": "vpc-nope"}`, "InvalidVpcID.NotFound")
	refused(t, d, "DeleteInternetGateway", `{"InternetGatewayId": "gw"}`, "DependencyViolation")
	refused(t, d, "DetachInternetGateway", `{"InternetGatewayId": "gw", "VpcId": "b"}`, "Gateway.NotAttached")
	refused(t, d, "DetachInternetGateway", `{"InternetGatewayId": "igw-1", "VpcId": "a"}`, "Gateway.NotAttached")

	want := `{"Attachments":[{"State":"available","VpcId":"` + a.ID + `"}],"InternetGatewayId":"` + gw + `","OwnerId":"` + d.net.AccountID() +
		`","Tags":[{"Key":"Name","Value":"gw"}]}`
	for _, f := range []string{
		`{"Name": "attachment.vpc-id", "Values": ["` + a.ID + `"]}`,
		`{"Name": "attachment.state", "Values": ["available"]}`,
		`{"Name": "internet-gateway-id", "Values": ["` + gw + `"]}`,
		`{"Name": "tag:Name", "Values": ["g?"]}`,
	} {
		if got := vpcAnswer(t, d, "DescribeInternetGateways", `{"Filters": [`+f+`]}`); got != `{"InternetGateways":[`+want+`]}` {
			t.Fatalf("filter %s: %s", f, got)
		}
	}
	if got := vpcAnswer(t, d, "DescribeInternetGateways", `{"InternetGatewayIds": ["`+gw+`"]}`); got != `{"InternetGateways":[`+want+`]}` {
		t.Fatalf("by id: %s", got)
	}
	refused(t, d, "DescribeInternetGateways", `{"InternetGatewayIds": ["igw-nope"]}`, "InvalidInternetGatewayID.NotFound")
	refused(t, d, "DescribeInternetGateways", `{"Filters": [{"Name": "banana", "Values": ["x"]}]}`, "InvalidParameterValue")
	vpcSameAfterReload(t, d)

	callOK(t, d, "DetachInternetGateway", `{"InternetGatewayId": "gw", "VpcId": "a"}`)
	callOK(t, d, "AttachInternetGateway", `{"InternetGatewayId": "gw", "VpcId": "b"}`)
	callOK(t, d, "DetachInternetGateway", `{"InternetGatewayId": "gw", "VpcId": "b"}`)
	callOK(t, d, "DeleteInternetGateway", `{"InternetGatewayId": "`+gw+`"}`)
	callOK(t, d, "DeleteInternetGateway", `{"InternetGatewayId": "igw-1"}`)
	if got := vpcAnswer(t, d, "DescribeInternetGateways", `{}`); got != `{"InternetGateways":[]}` {
		t.Fatalf("after delete: %s", got)
	}
	refused(t, d, "DeleteInternetGateway", `{"InternetGatewayId": "`+gw+`"}`, "InvalidInternetGatewayID.NotFound")
	vpcSameAfterReload(t, d)
}

// TestIGW1_DetachRefusedWhilePublicAddressesAreMapped: the chapter's VPC
// has an EIP on web and on the NAT gateway: detach answers
// DependencyViolation until none is mapped.
func TestIGW1_DetachRefusedWhilePublicAddressesAreMapped(t *testing.T) {
	d := rulesSvc(t, "")
	v := d.net.VPCs[0]
	req := `{"InternetGatewayId": "` + v.IGW.ID + `", "VpcId": "` + v.ID + `"}`
	refused(t, d, "DetachInternetGateway", req, "DependencyViolation")
	callOK(t, d, "DisassociateAddress", `{"PublicIp": "`+d.net.InstanceByName["web"].Primary().PublicIPs[d.net.InstanceByName["web"].Primary().PrimaryIP].String()+`"}`)
	refused(t, d, "DetachInternetGateway", req, "DependencyViolation") // the NAT gateway's EIP
	if publicMapped(v) == "" || !strings.Contains(publicMapped(v), "13.125.190.82") {
		t.Fatalf("mapped: %q", publicMapped(v))
	}
}

// TestRT3_RouteToADetachedGatewayIsABlackhole: a route to an internet
// gateway is active while that gateway is attached to the route's VPC, a
// blackhole naming it once detached (also after export and load), active
// again when it is attached again, and not revived by another gateway.
func TestRT3_RouteToADetachedGatewayIsABlackhole(t *testing.T) {
	d := rulesSvc(t, emptyTopo)
	callOK(t, d, "CreateVpc", `{"CidrBlock": "10.0.0.0/16", `+nameTag("vpc", "a")+`}`)
	callOK(t, d, "CreateInternetGateway", `{`+nameTag("internet-gateway", "gw")+`}`)
	callOK(t, d, "CreateInternetGateway", `{`+nameTag("internet-gateway", "gw2")+`}`)
	callOK(t, d, "AttachInternetGateway", `{"InternetGatewayId": "gw", "VpcId": "a"}`)
	v := vpcNamed(d, "a")
	callOK(t, d, "CreateRoute", `{"RouteTableId": "`+v.MainRT.ID+`", "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "`+d.net.NewID("igw", "gw")+`"}`)
	route := func(d *Service) string {
		got := vpcAnswer(t, d, "DescribeRouteTables", `{"Filters": [{"Name": "route.destination-cidr-block", "Values": ["0.0.0.0/0"]}]}`)
		i := strings.Index(got, `{"DestinationCidrBlock":"0.0.0.0/0"`)
		if i < 0 {
			t.Fatalf("no default route: %s", got)
		}
		return got[i : i+strings.Index(got[i:], "}")+1]
	}
	gw := d.net.NewID("igw", "gw")
	active := `{"DestinationCidrBlock":"0.0.0.0/0","GatewayId":"` + gw + `","Origin":"CreateRoute","State":"active"}`
	blackhole := strings.Replace(active, "active", "blackhole", 1)
	if got := route(d); got != active {
		t.Fatalf("attached: %s", got)
	}
	callOK(t, d, "DetachInternetGateway", `{"InternetGatewayId": "gw", "VpcId": "a"}`)
	if got := route(d); got != blackhole {
		t.Fatalf("detached: %s", got)
	}
	if got := route(vpcReloaded(t, d)); got != blackhole {
		t.Fatalf("detached, after export and load: %s", got)
	}
	callOK(t, d, "AttachInternetGateway", `{"InternetGatewayId": "gw2", "VpcId": "a"}`)
	if got := route(d); got != blackhole {
		t.Fatalf("another gateway attached: %s", got)
	}
	vpcSameAfterReload(t, d)
	callOK(t, d, "DetachInternetGateway", `{"InternetGatewayId": "gw2", "VpcId": "a"}`)
	callOK(t, d, "AttachInternetGateway", `{"InternetGatewayId": "gw", "VpcId": "a"}`)
	if got := route(d); got != active {
		t.Fatalf("attached again: %s", got)
	}
}

// TestLIFE_StartFromNothing: a file of only a name (and hosts and pools)
// loads as an empty account; the API builds a VPC with a secondary CIDR,
// subnets, a gateway attached and one detached, DNS attributes; the export
// loads again with the same describe-* answers, and exports the same file.
func TestLIFE_StartFromNothing(t *testing.T) {
	d := rulesSvc(t, emptyTopo)
	if got := vpcAnswer(t, d, "DescribeVpcs", `{}`); got != `{"Vpcs":[]}` {
		t.Fatalf("empty account: %s", got)
	}
	for _, c := range []string{
		`CreateVpc {"CidrBlock": "10.0.0.0/16", ` + nameTag("vpc", "lab") + `}`,
		`AssociateVpcCidrBlock {"VpcId": "lab", "CidrBlock": "100.64.0.0/16"}`,
		`ModifyVpcAttribute {"VpcId": "lab", "EnableDnsHostnames": {"Value": true}}`,
		`CreateSubnet {"VpcId": "lab", "CidrBlock": "10.0.1.0/24", ` + nameTag("subnet", "pub") + `}`,
		`CreateSubnet {"VpcId": "lab", "CidrBlock": "100.64.1.0/24", "AvailabilityZone": "ap-northeast-2b"}`,
		`ModifySubnetAttribute {"SubnetId": "pub", "MapPublicIpOnLaunch": {"Value": true}}`,
		`CreateInternetGateway {` + nameTag("internet-gateway", "gw") + `}`,
		`CreateInternetGateway {}`,
		`AttachInternetGateway {"InternetGatewayId": "gw", "VpcId": "lab"}`,
	} {
		op, req, _ := strings.Cut(c, " ")
		callOK(t, d, op, req)
	}
	vpcSameAfterReload(t, d)
	if a, b := exported(t, d), exported(t, vpcReloaded(t, d)); a != b {
		t.Fatalf("export, load, export differ:\n%s\n%s", a, b)
	}
	if _, err := topology.Load([]byte(`{"name": "x"}`)); err != nil {
		t.Fatalf("a file of only a name: %v", err)
	}
}
