package ec2

import (
	"testing"

	"github.com/vpcnet/vpcnet/ec2/types"
)

// naclAssoc is subnet ref's NACL association id, as DescribeNetworkAcls
// shows it.
func naclAssoc(t *testing.T, d *Service, ref string) (acl, assoc string) {
	t.Helper()
	s, err := d.findSubnet(ref)
	if err != nil {
		t.Fatal(err)
	}
	out := answer[types.DescribeNetworkAclsResult](t, d, "DescribeNetworkAcls", `{"Filters": [{"Name": "association.subnet-id", "Values": ["`+s.ID+`"]}]}`)
	if len(out.NetworkAcls) != 1 {
		t.Fatalf("subnet %s is in %d NACLs (NACL-5)", ref, len(out.NetworkAcls))
	}
	for _, a := range out.NetworkAcls[0].Associations {
		if deref(a.SubnetId) == s.ID {
			return deref(out.NetworkAcls[0].NetworkAclId), deref(a.NetworkAclAssociationId)
		}
	}
	t.Fatalf("no association of %s", ref)
	return "", ""
}

// NACL-3: CreateNetworkAcl makes a NACL that denies everything: EC2 shows
// only rule 32767, deny, in each direction; no subnet is associated.
func TestNACL3_CreateNetworkAcl(t *testing.T) {
	d, _ := opsService(t, twoVPCs)
	out := answer[types.CreateNetworkAclResult](t, d, "CreateNetworkAcl", `{"VpcId": "a",
		"TagSpecifications": [{"ResourceType": "network-acl", "Tags": [{"Key": "Name", "Value": "acl-web"}]}]}`)
	x := out.NetworkAcl
	if deref(x.NetworkAclId) != d.net.NewID("acl", "acl-web") || deref(x.VpcId) != d.net.VPCs[0].ID || deref(x.IsDefault) || len(x.Associations) != 0 {
		t.Fatalf("created: %+v", x)
	}
	if len(x.Entries) != 2 {
		t.Fatalf("entries: %+v", x.Entries)
	}
	for i, e := range x.Entries {
		if deref(e.RuleNumber) != 32767 || e.RuleAction != types.RuleActionDeny || deref(e.Protocol) != "-1" ||
			deref(e.CidrBlock) != "0.0.0.0/0" || deref(e.Egress) != (i == 0) {
			t.Fatalf("entry %d: %+v", i, e)
		}
	}
	out = answer[types.CreateNetworkAclResult](t, d, "CreateNetworkAcl", `{"VpcId": "a"}`)
	if deref(out.NetworkAcl.NetworkAclId) != d.net.NewID("acl", "acl-1") {
		t.Fatalf("unnamed: %+v", out.NetworkAcl)
	}
	sameAfterReload(t, d, "DescribeNetworkAcls")
}

// NACL-5: ReplaceNetworkAclAssociation moves a subnet, named by its
// current association id, to another NACL of its VPC and answers the new
// association id, which DescribeNetworkAcls then shows; and back.
func TestNACL5_ReplaceNetworkAclAssociation(t *testing.T) {
	d, _ := opsService(t, twoVPCs)
	answer[types.CreateNetworkAclResult](t, d, "CreateNetworkAcl", `{"VpcId": "a", "TagSpecifications": [{"ResourceType": "network-acl", "Tags": [{"Key": "Name", "Value": "acl-web"}]}]}`)
	def, assoc := naclAssoc(t, d, "sa1")
	if def != d.net.VPCs[0].DefaultNACL.ID {
		t.Fatalf("sa1 starts on %s", def)
	}
	out := answer[types.ReplaceNetworkAclAssociationResult](t, d, "ReplaceNetworkAclAssociation", `{"AssociationId": "`+assoc+`", "NetworkAclId": "acl-web"}`)
	acl, now := naclAssoc(t, d, "sa1")
	if acl != d.net.NewID("acl", "acl-web") || now != deref(out.NewAssociationId) || now == assoc {
		t.Fatalf("after replace: %s %s, answer %+v", acl, now, out)
	}
	if sa2acl, _ := naclAssoc(t, d, "sa2"); sa2acl != def {
		t.Fatalf("sa2 moved too: %s", sa2acl)
	}
	sameAfterReload(t, d, "DescribeNetworkAcls", "DescribeSubnets")
	// Deleting it now is refused; moved back, it can go.
	k := &opsKernel{namespaces: map[string]bool{}}
	refuse(t, d, k, "DeleteNetworkAcl", `{"NetworkAclId": "acl-web"}`, "DependencyViolation")
	back := answer[types.ReplaceNetworkAclAssociationResult](t, d, "ReplaceNetworkAclAssociation", `{"AssociationId": "`+now+`", "NetworkAclId": "`+def+`"}`)
	if deref(back.NewAssociationId) != assoc {
		t.Fatalf("back on the default NACL: %+v, want %s", back, assoc)
	}
	if answer[struct{}](t, d, "DeleteNetworkAcl", `{"NetworkAclId": "acl-web"}`) != nil {
		t.Fatal("EC2 answers DeleteNetworkAcl with nothing")
	}
	if _, err := d.findNACL("acl-web"); err == nil {
		t.Fatal("acl-web not deleted")
	}
}

// LIFE-1, NACL-3, NACL-5, QUOTA-1: the refusals, with EC2's code and
// nothing changed.
func TestLIFE1_NetworkAclRefusals(t *testing.T) {
	d0, _ := opsService(t, twoVPCs)
	sa1, _ := d0.findSubnet("sa1")
	assoc := networkACLAssociationID(d0.net, sa1.NACL, sa1)
	cases := []struct{ name, op, req, code string }{
		{"create in an unknown vpc", "CreateNetworkAcl", `{"VpcId": "vpc-0123456789abcdef0"}`, "InvalidVpcID.NotFound"},
		{"create named default", "CreateNetworkAcl", `{"VpcId": "a", "TagSpecifications": [{"ResourceType": "network-acl", "Tags": [{"Key": "Name", "Value": "default"}]}]}`, "InvalidParameterValue"},
		{"delete the default NACL", "DeleteNetworkAcl", `{"NetworkAclId": "` + d0.net.VPCs[0].DefaultNACL.ID + `"}`, "InvalidParameterValue"},
		{"delete an unknown NACL", "DeleteNetworkAcl", `{"NetworkAclId": "acl-0123456789abcdef0"}`, "InvalidNetworkAclID.NotFound"},
		{"replace an unknown association", "ReplaceNetworkAclAssociation", `{"AssociationId": "aclassoc-0123456789abcdef0", "NetworkAclId": "aclb"}`, "InvalidAssociationID.NotFound"},
		{"replace with a NACL of another vpc", "ReplaceNetworkAclAssociation", `{"AssociationId": "` + assoc + `", "NetworkAclId": "aclb"}`, "InvalidParameterValue"},
		{"replace with an unknown NACL", "ReplaceNetworkAclAssociation", `{"AssociationId": "` + assoc + `", "NetworkAclId": "acl-0123456789abcdef0"}`, "InvalidNetworkAclID.NotFound"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, k := opsService(t, twoVPCs)
			refuse(t, d, k, c.op, c.req, c.code)
		})
	}
	// QUOTA-1: rules per NACL and direction (here 2): the third is refused,
	// the other direction still has room, a replace still works.
	d, k := opsService(t, twoVPCs)
	for _, n := range []string{"100", "110"} {
		answer[struct{}](t, d, "CreateNetworkAclEntry", `{"NetworkAclId": "aclb", "RuleNumber": `+n+`, "Protocol": "-1", "RuleAction": "allow", "Egress": false, "CidrBlock": "0.0.0.0/0"}`)
	}
	refuse(t, d, k, "CreateNetworkAclEntry", `{"NetworkAclId": "aclb", "RuleNumber": 120, "Protocol": "-1", "RuleAction": "allow", "Egress": false, "CidrBlock": "0.0.0.0/0"}`, "NetworkAclEntryLimitExceeded")
	answer[struct{}](t, d, "ReplaceNetworkAclEntry", `{"NetworkAclId": "aclb", "RuleNumber": 110, "Protocol": "-1", "RuleAction": "deny", "Egress": false, "CidrBlock": "0.0.0.0/0"}`)
	answer[struct{}](t, d, "CreateNetworkAclEntry", `{"NetworkAclId": "aclb", "RuleNumber": 100, "Protocol": "-1", "RuleAction": "allow", "Egress": true, "CidrBlock": "0.0.0.0/0"}`)
}
