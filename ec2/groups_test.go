package ec2

import (
	"encoding/json"
	"testing"

	"github.com/vpcnet/vpcnet/topology"
)

// TestSG1_CreateAndDeleteGroups: a new group has no inbound rule and all
// outbound (SG-1), is exported and loads again; names and descriptions pass
// the file's checks; a group in use or referenced cannot be deleted, nor
// the default one (SG-7); each refusal changes nothing.
func TestSG1_CreateAndDeleteGroups(t *testing.T) {
	d := rulesSvc(t, "")
	out := callOK(t, d, "CreateSecurityGroup", `{"GroupName": "app", "Description": "app tier"}`)
	b, _ := json.Marshal(out)
	g := sgNamed(d, "app")
	if g == nil || string(b) != `{"GroupId":"`+g.ID+`"}` {
		t.Fatalf("answer %s, group %+v", b, g)
	}
	if len(g.Ingress) != 0 || len(g.Egress) != 1 || g.Egress[0] != topology.AllowAllEgress() {
		t.Fatalf("new group's rules: in %v out %v", g.Ingress, g.Egress)
	}
	if _, err := topology.Load([]byte(exported(t, d))); err != nil {
		t.Fatalf("export with the new group does not load: %v", err)
	}
	refused(t, d, "CreateSecurityGroup", `{"GroupName": "app", "Description": "again"}`, "InvalidGroup.Duplicate")
	refused(t, d, "CreateSecurityGroup", `{"GroupName": "web", "Description": "an instance's name"}`, "InvalidGroup.Duplicate")
	refused(t, d, "CreateSecurityGroup", `{"GroupName": "default", "Description": "x"}`, "InvalidGroup.Reserved")
	refused(t, d, "CreateSecurityGroup", `{"GroupName": "a\nb", "Description": "x"}`, "InvalidParameterValue")
	refused(t, d, "CreateSecurityGroup", `{"GroupName": "x", "Description": "x", "VpcId": "vpc-nope"}`, "InvalidVpcID.NotFound")
	refused(t, d, "CreateSecurityGroup", `{"GroupName": "x"}`, "MissingParameter")

	// Referenced by another group's rule, then in use by an ENI.
	callOK(t, d, "CreateSecurityGroup", `{"GroupName": "peer", "Description": "peer"}`)
	callOK(t, d, "AuthorizeSecurityGroupIngress", `{"GroupName": "app", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "UserIdGroupPairs": [{"GroupName": "peer"}]}]}`)
	refused(t, d, "DeleteSecurityGroup", `{"GroupName": "peer"}`, "DependencyViolation")
	refused(t, d, "DeleteSecurityGroup", `{"GroupName": "my-Web-SecurityGroup"}`, "DependencyViolation")
	refused(t, d, "DeleteSecurityGroup", `{"GroupName": "default"}`, "CannotDelete")
	refused(t, d, "DeleteSecurityGroup", `{"GroupId": "sg-nope"}`, "InvalidGroup.NotFound")
	callOK(t, d, "DeleteSecurityGroup", `{"GroupId": "`+sgNamed(d, "app").ID+`"}`)
	callOK(t, d, "DeleteSecurityGroup", `{"GroupName": "peer"}`)
	if sgNamed(d, "app") != nil || sgNamed(d, "peer") != nil {
		t.Fatal("deleted groups are still there")
	}
	if _, err := topology.Load([]byte(exported(t, d))); err != nil {
		t.Fatalf("export after the deletes does not load: %v", err)
	}
}

// TestNamesAreOneNamespace: a resource made live may not take any name the
// topology holds, of whatever kind (a subnet's, a route table's), or the
// export would not load.
func TestNamesAreOneNamespace(t *testing.T) {
	d := rulesSvc(t, "")
	for _, name := range []string{"PUB-WEB-2a", "rt-private", "acl-db", "my-NewVPC", "amazon"} {
		refused(t, d, "CreateNetworkInterface", `{"SubnetId": "PUB-WEB-2a", "TagSpecifications": [{"ResourceType": "network-interface", "Tags": [{"Key": "Name", "Value": "`+name+`"}]}]}`, "InvalidParameterValue")
	}
	if _, err := topology.Load([]byte(exported(t, d))); err != nil {
		t.Fatal(err)
	}
}
