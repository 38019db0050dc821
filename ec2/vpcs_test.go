package ec2

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

// emptyTopo is an account with nothing in it: a name, a region, a pool and
// an internet host, none of them AWS resources (start from nothing).
const emptyTopo = `{"name": "x", "region": "ap-northeast-2",
	"address_pools": [{"name": "amazon", "cidrs": ["13.125.0.0/16"]}],
	"internet": {"hosts": [{"name": "remote", "ip": "13.52.201.147"}]}}`

// answer runs op and returns its answer as JSON.
func vpcAnswer(t testing.TB, d *Service, op, req string) string {
	t.Helper()
	b, err := json.Marshal(callOK(t, d, op, req))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// describeAllOf is what the describe-* of the network's structure answer.
func vpcDescribeAll(t testing.TB, d *Service) string {
	t.Helper()
	var b strings.Builder
	for _, op := range []string{"DescribeVpcs", "DescribeSubnets", "DescribeInternetGateways", "DescribeRouteTables",
		"DescribeSecurityGroups", "DescribeNetworkAcls"} {
		b.WriteString(op + " " + vpcAnswer(t, d, op, `{}`) + "\n")
	}
	return b.String()
}

// reloaded is the network exported and loaded again, as `vpcnet export`
// then `vpcnet up` would make it.
func vpcReloaded(t testing.TB, d *Service) *Service {
	t.Helper()
	n, err := topology.Load([]byte(exported(t, d)))
	if err != nil {
		t.Fatalf("the export does not load: %v\n%s", err, exported(t, d))
	}
	return New(rulesStore{n}, nopKernel{})
}

// sameAfterReload checks that describe-* answer the same after export and
// load.
func vpcSameAfterReload(t testing.TB, d *Service) {
	t.Helper()
	before, after := vpcDescribeAll(t, d), vpcDescribeAll(t, vpcReloaded(t, d))
	if before != after {
		t.Fatalf("describe-* differ after export and load:\nbefore %s\nafter  %s", before, after)
	}
}

func vpcNamed(d *Service, name string) *topology.VPC {
	for _, v := range d.net.VPCs {
		if v.Name == name {
			return v
		}
	}
	return nil
}

func nameTag(kind, name string) string {
	return `"TagSpecifications": [{"ResourceType": "` + kind + `", "Tags": [{"Key": "Name", "Value": "` + name + `"}]}]`
}

// TestLIFE2_CreateVpcMakesItsDefaults: CreateVpc answers EC2's Vpc
// (pending), and the VPC has its default group (SG-7), default NACL
// (NACL-3) and main table with the local route (RT-1); it exports and
// loads again with the same describe-* answers.
func TestLIFE2_CreateVpcMakesItsDefaults(t *testing.T) {
	d := rulesSvc(t, emptyTopo)
	var out types.CreateVpcResult
	if err := json.Unmarshal([]byte(vpcAnswer(t, d, "CreateVpc", `{"CidrBlock": "10.0.0.0/16", `+nameTag("vpc", "lab")+`}`)), &out); err != nil {
		t.Fatal(err)
	}
	v := vpcNamed(d, "lab")
	if v == nil || deref(out.Vpc.VpcId) != v.ID || out.Vpc.State != types.VpcStatePending || deref(out.Vpc.CidrBlock) != "10.0.0.0/16" {
		t.Fatalf("answer %+v, vpc %+v", out.Vpc, v)
	}
	if len(out.Vpc.CidrBlockAssociationSet) != 1 || out.Vpc.CidrBlockAssociationSet[0].CidrBlockState.State != types.VpcCidrBlockStateCodeAssociated {
		t.Fatalf("cidr associations %+v", out.Vpc.CidrBlockAssociationSet)
	}
	g := v.DefaultSG
	if g == nil || g.Name != "default" || len(v.SGs) != 1 || len(g.Ingress) != 1 || g.Ingress[0].Group != g ||
		len(g.Egress) != 1 || g.Egress[0] != topology.AllowAllEgress() {
		t.Fatalf("default group (SG-7): %+v", g)
	}
	a := v.DefaultNACL
	if a == nil || !a.Default || len(a.Ingress) != 1 || !a.Ingress[0].Allow || a.Ingress[0].Number != 100 || len(a.Egress) != 1 {
		t.Fatalf("default NACL (NACL-3): %+v", a)
	}
	rt := v.MainRT
	if rt == nil || !rt.Main || len(rt.Routes) != 1 || rt.Routes[0].Kind != topology.TargetLocal || rt.Routes[0].Dest != v.CIDR {
		t.Fatalf("main table (RT-1): %+v", rt)
	}
	if !strings.Contains(vpcAnswer(t, d, "DescribeVpcs", `{}`), `"State":"available"`) {
		t.Fatal("describe-vpcs does not show the VPC available")
	}
	// An unnamed one is vpc-1.
	callOK(t, d, "CreateVpc", `{"CidrBlock": "10.1.0.0/16"}`)
	if vpcNamed(d, "vpc-1") == nil {
		t.Fatal("an unnamed VPC is not named vpc-1")
	}
	vpcSameAfterReload(t, d)
}

// TestADDR1_CreateVpcRefusals: each bad request answers EC2's code and
// changes nothing.
func TestADDR1_CreateVpcRefusals(t *testing.T) {
	d := rulesSvc(t, emptyTopo)
	for _, c := range []struct{ req, code string }{
		{`{"CidrBlock": "10.0.0.0/8"}`, "InvalidVpc.Range"},
		{`{"CidrBlock": "10.0.0.0/29"}`, "InvalidVpc.Range"},
		{`{"CidrBlock": "127.0.0.0/16"}`, "InvalidVpc.Range"},
		{`{"CidrBlock": "10.0.0.1/16"}`, "InvalidParameterValue"},
		{`{"CidrBlock": "banana"}`, "InvalidParameterValue"},
		{`{}`, "MissingParameter"},
		{`{"CidrBlock": "10.0.0.0/16", "AmazonProvidedIpv6CidrBlock": true}`, "Unsupported"},
		{`{"CidrBlock": "10.0.0.0/16", "InstanceTenancy": "dedicated"}`, "Unsupported"},
		{`{"CidrBlock": "10.0.0.0/16", "Ipv4IpamPoolId": "ipam-pool-1"}`, "Unsupported"},
		{`{"CidrBlock": "10.0.0.0/16", ` + nameTag("subnet", "x") + `}`, "InvalidParameterValue"},
		{`{"CidrBlock": "10.0.0.0/16", ` + nameTag("vpc", "remote") + `}`, "InvalidParameterValue"}, // the host's name
	} {
		refused(t, d, "CreateVpc", c.req, c.code)
	}
	if len(d.net.VPCs) != 0 {
		t.Fatal("a refused CreateVpc made a VPC")
	}
}

// TestQUOTA1_VpcLimitExceeded: beyond settings.quotas.vpcs, CreateVpc
// answers VpcLimitExceeded; a VPC deleted frees its place.
func TestQUOTA1_VpcLimitExceeded(t *testing.T) {
	d := rulesSvc(t, `{"name": "x", "settings": {"quotas": {"vpcs": 2}}}`)
	callOK(t, d, "CreateVpc", `{"CidrBlock": "10.0.0.0/16"}`)
	callOK(t, d, "CreateVpc", `{"CidrBlock": "10.0.0.0/16"}`) // VPCs may overlap
	refused(t, d, "CreateVpc", `{"CidrBlock": "10.2.0.0/16"}`, "VpcLimitExceeded")
	callOK(t, d, "DeleteVpc", `{"VpcId": "vpc-2"}`)
	callOK(t, d, "CreateVpc", `{"CidrBlock": "10.2.0.0/16"}`)
	// The file is held to the same quota.
	if _, err := topology.Load([]byte(`{"name": "x", "settings": {"quotas": {"vpcs": 1}}, "vpcs": [
		{"name": "a", "cidr": "10.0.0.0/16"}, {"name": "b", "cidr": "10.1.0.0/16"}]}`)); err == nil || !strings.Contains(err.Error(), "QUOTA-1") {
		t.Fatalf("a file over the VPC quota loads: %v", err)
	}
}

// TestLIFE1_DeleteVpcRefusedWhileAnythingIsInIt: DeleteVpc answers
// DependencyViolation while a subnet, an attached gateway, a group, a route
// table, a NACL or a peering connection is in the VPC, and deletes it with
// its default group, NACL and main table once it is empty.
func TestLIFE1_DeleteVpcRefusedWhileAnythingIsInIt(t *testing.T) {
	d := rulesSvc(t, emptyTopo)
	callOK(t, d, "CreateVpc", `{"CidrBlock": "10.0.0.0/16", `+nameTag("vpc", "lab")+`}`)
	callOK(t, d, "CreateVpc", `{"CidrBlock": "10.9.0.0/16", `+nameTag("vpc", "other")+`}`)
	steps := []struct{ make, unmake string }{
		{`CreateSubnet {"VpcId": "lab", "CidrBlock": "10.0.1.0/24", ` + nameTag("subnet", "s1") + `}`, `DeleteSubnet {"SubnetId": "s1"}`},
		{`CreateInternetGateway {` + nameTag("internet-gateway", "gw") + `}|AttachInternetGateway {"InternetGatewayId": "gw", "VpcId": "lab"}`,
			`DetachInternetGateway {"InternetGatewayId": "gw", "VpcId": "lab"}|DeleteInternetGateway {"InternetGatewayId": "gw"}`},
		{`CreateSecurityGroup {"VpcId": "lab", "GroupName": "app", "Description": "app"}`, `DeleteSecurityGroup {"GroupName": "app"}`},
		{`CreateRouteTable {"VpcId": "lab", ` + nameTag("route-table", "rt") + `}`, `DeleteRouteTable {"RouteTableId": "rt"}`},
		{`CreateNetworkAcl {"VpcId": "lab", ` + nameTag("network-acl", "acl") + `}`, `DeleteNetworkAcl {"NetworkAclId": "acl"}`},
		{`CreateVpcPeeringConnection {"VpcId": "lab", "PeerVpcId": "other", ` + nameTag("vpc-peering-connection", "pcx") + `}`,
			`DeleteVpcPeeringConnection {"VpcPeeringConnectionId": "pcx"}`},
	}
	run := func(calls string) {
		for _, c := range strings.Split(calls, "|") {
			op, req, _ := strings.Cut(c, " ")
			callOK(t, d, op, req)
		}
	}
	for _, s := range steps {
		run(s.make)
		refused(t, d, "DeleteVpc", `{"VpcId": "lab"}`, "DependencyViolation")
		run(s.unmake)
	}
	v := vpcNamed(d, "lab")
	refused(t, d, "DeleteVpc", `{"VpcId": "vpc-nope"}`, "InvalidVpcID.NotFound")
	callOK(t, d, "DeleteVpc", `{"VpcId": "`+v.ID+`"}`)
	if vpcNamed(d, "lab") != nil {
		t.Fatal("the VPC is still there")
	}
	for _, op := range []string{"DescribeSecurityGroups", "DescribeNetworkAcls", "DescribeRouteTables"} {
		if strings.Contains(vpcAnswer(t, d, op, `{}`), v.ID) {
			t.Fatalf("%s still shows what the deleted VPC was made with", op)
		}
	}
	vpcSameAfterReload(t, d)
}

// TestDNS2_VpcAttributes: a VPC of the file has both DNS attributes on, one
// CreateVpc makes has DNS hostnames off (DNS-2: then no public DNS name);
// ModifyVpcAttribute sets one per call, and the file keeps it.
func TestDNS2_VpcAttributes(t *testing.T) {
	d := rulesSvc(t, "")
	attr := func(vpc, name string) string {
		return vpcAnswer(t, d, "DescribeVpcAttribute", `{"VpcId": "`+vpc+`", "Attribute": "`+name+`"}`)
	}
	v := d.net.VPCs[0]
	if got := attr(v.ID, "enableDnsHostnames"); got != `{"VpcId":"`+v.ID+`","EnableDnsHostnames":{"Value":true}}` {
		t.Fatalf("the file's VPC: %s", got)
	}
	if got := attr(v.ID, "enableDnsSupport"); got != `{"VpcId":"`+v.ID+`","EnableDnsSupport":{"Value":true}}` {
		t.Fatalf("the file's VPC: %s", got)
	}
	if !strings.Contains(vpcAnswer(t, d, "DescribeInstances", `{"InstanceIds": ["`+d.net.InstanceByName["web"].ID+`"]}`), `"PublicDnsName":"ec2-`) {
		t.Fatal("web has no public DNS name with DNS hostnames on")
	}
	callOK(t, d, "ModifyVpcAttribute", `{"VpcId": "`+v.ID+`", "EnableDnsHostnames": {"Value": false}}`)
	if strings.Contains(vpcAnswer(t, d, "DescribeInstances", `{"InstanceIds": ["`+d.net.InstanceByName["web"].ID+`"]}`), `"PublicDnsName":"ec2-`) {
		t.Fatal("web keeps a public DNS name with DNS hostnames off (DNS-2)")
	}
	if got := attr(v.ID, "enableDnsHostnames"); !strings.Contains(got, `{"Value":false}`) {
		t.Fatalf("after modify: %s", got)
	}
	if got := vpcReloaded(t, d).net.VPCs[0]; got.DNSHostnames || !got.DNSSupport {
		t.Fatalf("the export does not keep the attributes: %+v", got)
	}
	callOK(t, d, "CreateVpc", `{"CidrBlock": "10.0.0.0/16", `+nameTag("vpc", "lab")+`}`)
	if got := attr("lab", "enableDnsHostnames"); !strings.Contains(got, `{"Value":false}`) {
		t.Fatalf("CreateVpc's VPC: %s", got)
	}
	if got := attr("lab", "enableNetworkAddressUsageMetrics"); !strings.Contains(got, `{"Value":false}`) {
		t.Fatalf("CreateVpc's VPC: %s", got)
	}
	callOK(t, d, "ModifyVpcAttribute", `{"VpcId": "lab", "EnableDnsSupport": {"Value": false}}`)
	if l := vpcReloaded(t, d).net.VPCs[1]; l.DNSSupport || l.DNSHostnames {
		t.Fatalf("the export does not keep the attributes: %+v", l)
	}
	refused(t, d, "ModifyVpcAttribute", `{"VpcId": "lab", "EnableDnsSupport": {"Value": true}, "EnableDnsHostnames": {"Value": true}}`, "InvalidParameterCombination")
	refused(t, d, "ModifyVpcAttribute", `{"VpcId": "lab"}`, "MissingParameter")
	refused(t, d, "ModifyVpcAttribute", `{"VpcId": "lab", "EnableNetworkAddressUsageMetrics": {"Value": true}}`, "Unsupported")
	refused(t, d, "ModifyVpcAttribute", `{"VpcId": "vpc-nope", "EnableDnsSupport": {"Value": true}}`, "InvalidVpcID.NotFound")
	refused(t, d, "DescribeVpcAttribute", `{"VpcId": "lab", "Attribute": "enableBanana"}`, "InvalidParameterValue")
	vpcSameAfterReload(t, d)
}

// TestADDR1_SecondaryCIDR: AssociateVpcCidrBlock adds a CIDR a subnet may
// then lie in, with a local route in every table (RT-1); overlap, a sixth
// CIDR, the primary's disassociation and one in use are refused.
func TestADDR1_SecondaryCIDR(t *testing.T) {
	d := rulesSvc(t, emptyTopo)
	callOK(t, d, "CreateVpc", `{"CidrBlock": "10.0.0.0/16", `+nameTag("vpc", "lab")+`}`)
	callOK(t, d, "CreateRouteTable", `{"VpcId": "lab", `+nameTag("route-table", "rt")+`}`)
	var out types.AssociateVpcCidrBlockResult
	if err := json.Unmarshal([]byte(vpcAnswer(t, d, "AssociateVpcCidrBlock", `{"VpcId": "lab", "CidrBlock": "10.1.0.0/16"}`)), &out); err != nil {
		t.Fatal(err)
	}
	v := vpcNamed(d, "lab")
	c := netip.MustParsePrefix("10.1.0.0/16")
	assoc := deref(out.CidrBlockAssociation.AssociationId)
	if deref(out.VpcId) != v.ID || deref(out.CidrBlockAssociation.CidrBlock) != "10.1.0.0/16" ||
		out.CidrBlockAssociation.CidrBlockState.State != types.VpcCidrBlockStateCodeAssociating || !strings.HasPrefix(assoc, "vpc-cidr-assoc-") {
		t.Fatalf("answer %+v", out.CidrBlockAssociation)
	}
	for _, rt := range v.RouteTables {
		if len(rt.Routes) < 2 || rt.Routes[1].Kind != topology.TargetLocal || rt.Routes[1].Dest != c {
			t.Fatalf("table %s has no local route for %s (RT-1): %+v", rt.Name, c, rt.Routes)
		}
	}
	if !strings.Contains(vpcAnswer(t, d, "DescribeVpcs", `{"Filters": [{"Name": "cidr-block-association.cidr-block", "Values": ["10.1.0.0/16"]}]}`), v.ID) {
		t.Fatal("describe-vpcs does not find the VPC by its secondary CIDR")
	}
	callOK(t, d, "CreateSubnet", `{"VpcId": "lab", "CidrBlock": "10.1.2.0/24", `+nameTag("subnet", "s2")+`}`)
	vpcSameAfterReload(t, d)

	refused(t, d, "AssociateVpcCidrBlock", `{"VpcId": "lab", "CidrBlock": "10.1.128.0/17"}`, "InvalidVpc.Range")
	refused(t, d, "AssociateVpcCidrBlock", `{"VpcId": "lab", "CidrBlock": "10.0.0.0/8"}`, "InvalidVpc.Range")
	refused(t, d, "AssociateVpcCidrBlock", `{"VpcId": "lab", "CidrBlock": "10.2.0.0/29"}`, "InvalidVpc.Range")
	refused(t, d, "AssociateVpcCidrBlock", `{"VpcId": "lab", "AmazonProvidedIpv6CidrBlock": true}`, "Unsupported")
	for _, more := range []string{"10.2.0.0/16", "10.3.0.0/16", "10.4.0.0/16"} {
		callOK(t, d, "AssociateVpcCidrBlock", `{"VpcId": "lab", "CidrBlock": "`+more+`"}`)
	}
	refused(t, d, "AssociateVpcCidrBlock", `{"VpcId": "lab", "CidrBlock": "10.5.0.0/16"}`, "CidrLimitExceeded")

	primary := vpcCIDRAssociationID(d.net, v, v.CIDR)
	refused(t, d, "DisassociateVpcCidrBlock", `{"AssociationId": "`+primary+`"}`, "OperationNotPermitted")
	refused(t, d, "DisassociateVpcCidrBlock", `{"AssociationId": "`+assoc+`"}`, "InvalidCidrBlock.InUse")
	refused(t, d, "DisassociateVpcCidrBlock", `{"AssociationId": "vpc-cidr-assoc-nope"}`, "InvalidVpcCidrBlockAssociationID.NotFound")
	callOK(t, d, "DeleteSubnet", `{"SubnetId": "s2"}`)
	callOK(t, d, "DisassociateVpcCidrBlock", `{"AssociationId": "`+assoc+`"}`)
	for _, rt := range v.RouteTables {
		for _, r := range rt.Routes {
			if r.Dest == c {
				t.Fatalf("table %s keeps the local route of the disassociated CIDR", rt.Name)
			}
		}
	}
	refused(t, d, "CreateSubnet", `{"VpcId": "lab", "CidrBlock": "10.1.2.0/24"}`, "InvalidSubnet.Range")
	vpcSameAfterReload(t, d)
}

// TestADDR1_SecondaryCIDRsInTheFile: the file's secondary_cidrs are
// checked as AssociateVpcCidrBlock checks them.
func TestADDR1_SecondaryCIDRsInTheFile(t *testing.T) {
	for _, c := range []struct{ cidrs, want string }{
		{`["10.0.128.0/17"]`, "overlaps"},
		{`["10.1.0.0/8"]`, "ADDR-1"},
		{`["10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16", "10.4.0.0/16", "10.5.0.0/16"]`, "at most 5"},
	} {
		_, err := topology.Load([]byte(`{"name": "x", "vpcs": [{"name": "a", "cidr": "10.0.0.0/16", "secondary_cidrs": ` + c.cidrs + `}]}`))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.cidrs, err, c.want)
		}
	}
	n, err := topology.Load([]byte(`{"name": "x", "vpcs": [{"name": "a", "cidr": "10.0.0.0/16", "secondary_cidrs": ["10.1.0.0/16"],
		"subnets": [{"name": "s", "cidr": "10.1.0.0/24", "az": "us-east-1a"}],
		"route_tables": [{"name": "rt", "routes": [{"destination": "10.1.0.0/16", "target": "blackhole"}]}]}]}`))
	if err == nil || !strings.Contains(err.Error(), "RT-1") {
		t.Fatalf("a route replacing a secondary CIDR's local route loads: %v %v", n, err)
	}
}
