package ec2

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vpcnet/vpcnet/ec2/types"
)

// TestADDR1_CreateSubnet: a subnet inside the VPC (or a secondary CIDR),
// /16 to /28, in an AZ of the region (the first by default), with the main
// table and default NACL and a router MAC of its own; overlap is
// InvalidSubnet.Conflict, outside or wrong size InvalidSubnet.Range.
func TestADDR1_CreateSubnet(t *testing.T) {
	d := rulesSvc(t, "")
	v := d.net.VPCs[0] // my-NewVPC, 92.75.0.0/16
	var out types.CreateSubnetResult
	if err := json.Unmarshal([]byte(vpcAnswer(t, d, "CreateSubnet", `{"VpcId": "`+v.ID+`", "CidrBlock": "92.75.1.0/24", `+nameTag("subnet", "app")+`}`)), &out); err != nil {
		t.Fatal(err)
	}
	s, err := d.findSubnet("app")
	if err != nil {
		t.Fatal(err)
	}
	if deref(out.Subnet.SubnetId) != s.ID || deref(out.Subnet.AvailabilityZone) != "ap-northeast-2a" ||
		deref(out.Subnet.AvailableIpAddressCount) != 251 || deref(out.Subnet.MapPublicIpOnLaunch) {
		t.Fatalf("answer %+v", out.Subnet)
	}
	if s.RouteTable != v.MainRT || s.ExplicitRT || s.NACL != v.DefaultNACL {
		t.Fatalf("the new subnet's table %v and NACL %v are not the main and default ones (RT-1, NACL-3)", s.RouteTable.Name, s.NACL.Name)
	}
	macs := map[string]bool{}
	for _, h := range d.net.Hosts {
		macs[h.MAC.String()] = true
	}
	for _, x := range v.Subnets {
		if x != s {
			macs[x.RouterMAC.String()] = true
		}
	}
	for _, e := range v.ENIs {
		macs[e.MAC.String()] = true
	}
	if len(s.RouterMAC) != 6 || macs[s.RouterMAC.String()] {
		t.Fatalf("router MAC %v is not a MAC of its own (ADDR-3)", s.RouterMAC)
	}
	callOK(t, d, "CreateSubnet", `{"VpcId": "`+v.ID+`", "CidrBlock": "92.75.2.0/28", "AvailabilityZone": "ap-northeast-2c"}`)
	if s2, err := d.findSubnet("subnet-1"); err != nil || s2.AZ != "ap-northeast-2c" {
		t.Fatalf("unnamed subnet: %+v %v", s2, err)
	}
	for _, c := range []struct{ req, code string }{
		{`"CidrBlock": "92.75.1.128/25"`, "InvalidSubnet.Conflict"},
		{`"CidrBlock": "92.75.0.0/16"`, "InvalidSubnet.Conflict"}, // holds every subnet
		{`"CidrBlock": "92.76.0.0/24"`, "InvalidSubnet.Range"},
		{`"CidrBlock": "92.75.3.0/29"`, "InvalidSubnet.Range"},
		{`"CidrBlock": "92.74.0.0/15"`, "InvalidSubnet.Range"},
		{`"CidrBlock": "92.75.3.1/24"`, "InvalidParameterValue"},
		{`"CidrBlock": "92.75.3.0/24", "AvailabilityZone": "us-east-1a"`, "InvalidParameterValue"},
		{`"CidrBlock": "92.75.3.0/24", "AvailabilityZone": "ap-northeast-2"`, "InvalidParameterValue"},
		{`"CidrBlock": "92.75.3.0/24", "Ipv6Native": true`, "Unsupported"},
		{`"CidrBlock": "92.75.3.0/24", ` + nameTag("subnet", "web"), "InvalidParameterValue"},
		{``, "MissingParameter"},
	} {
		req := `{"VpcId": "` + v.ID + `"`
		if c.req != "" {
			req += ", " + c.req
		}
		refused(t, d, "CreateSubnet", req+"}", c.code)
	}
	refused(t, d, "CreateSubnet", `{"VpcId": "vpc-nope", "CidrBlock": "92.75.3.0/24"}`, "InvalidVpcID.NotFound")
	vpcSameAfterReload(t, d)
}

// TestLIFE1_DeleteSubnetRefusedWhileENIsAreInIt: DeleteSubnet answers
// DependencyViolation while an instance's, a standalone or a NAT gateway's
// ENI is in the subnet.
func TestLIFE1_DeleteSubnetRefusedWhileENIsAreInIt(t *testing.T) {
	d := rulesSvc(t, "")
	refused(t, d, "DeleteSubnet", `{"SubnetId": "PRI-DB-2a"}`, "DependencyViolation") // db
	refused(t, d, "DeleteSubnet", `{"SubnetId": "subnet-nope"}`, "InvalidSubnetID.NotFound")
	v := d.net.VPCs[0]
	callOK(t, d, "CreateSubnet", `{"VpcId": "`+v.ID+`", "CidrBlock": "92.75.1.0/24", `+nameTag("subnet", "app")+`}`)
	callOK(t, d, "CreateNetworkInterface", `{"SubnetId": "app", `+nameTag("network-interface", "eni-app")+`}`)
	refused(t, d, "DeleteSubnet", `{"SubnetId": "app"}`, "DependencyViolation")
	callOK(t, d, "DeleteNetworkInterface", `{"NetworkInterfaceId": "eni-app"}`)
	callOK(t, d, "CreateNatGateway", `{"SubnetId": "app", "ConnectivityType": "private", `+nameTag("natgateway", "nat-app")+`}`)
	refused(t, d, "DeleteSubnet", `{"SubnetId": "app"}`, "DependencyViolation")
	callOK(t, d, "DeleteNatGateway", `{"NatGatewayId": "nat-app"}`)
	s, _ := d.findSubnet("app")
	callOK(t, d, "DeleteSubnet", `{"SubnetId": "`+s.ID+`"}`)
	if _, err := d.findSubnet("app"); err == nil {
		t.Fatal("the subnet is still there")
	}
	vpcSameAfterReload(t, d)
}

// TestADDR4_ModifySubnetAttribute: MapPublicIpOnLaunch is set, shown and
// exported; other attributes are refused.
func TestADDR4_ModifySubnetAttribute(t *testing.T) {
	d := rulesSvc(t, "")
	callOK(t, d, "ModifySubnetAttribute", `{"SubnetId": "PRI-DB-2a", "MapPublicIpOnLaunch": {"Value": true}}`)
	s, _ := d.findSubnet("PRI-DB-2a")
	if !s.MapPublicIP || !strings.Contains(vpcAnswer(t, d, "DescribeSubnets", `{"SubnetIds": ["`+s.ID+`"]}`), `"MapPublicIpOnLaunch":true`) {
		t.Fatal("MapPublicIpOnLaunch not set")
	}
	if x, _ := vpcReloaded(t, d).findSubnet("PRI-DB-2a"); !x.MapPublicIP {
		t.Fatal("the export does not keep MapPublicIpOnLaunch")
	}
	refused(t, d, "ModifySubnetAttribute", `{"SubnetId": "PRI-DB-2a"}`, "MissingParameter")
	refused(t, d, "ModifySubnetAttribute", `{"SubnetId": "PRI-DB-2a", "EnableDns64": {"Value": true}}`, "Unsupported")
	refused(t, d, "ModifySubnetAttribute", `{"SubnetId": "subnet-nope", "MapPublicIpOnLaunch": {"Value": true}}`, "InvalidSubnetID.NotFound")
	callOK(t, d, "ModifySubnetAttribute", `{"SubnetId": "PRI-DB-2a", "MapPublicIpOnLaunch": {"Value": false}}`)
	vpcSameAfterReload(t, d)
}
