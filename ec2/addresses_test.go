package ec2

import (
	"regexp"
	"testing"

	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

func eipNamed(d *Service, name string) *topology.EIP {
	for _, e := range d.net.EIPs {
		if e.Name == name {
			return e
		}
	}
	return nil
}

// TestEIP1_AllocateAnswersEC2: allocate answers PublicIp, AllocationId,
// Domain vpc, the pool and its border group; the Name tag names the EIP
// (vpcnet's --name), by the file's name rules.
func TestEIP1_AllocateAnswersEC2(t *testing.T) {
	d := rulesSvc(t, "")
	out := callOK(t, d, "AllocateAddress", `{"Domain": "vpc", "TagSpecifications": [{"ResourceType": "elastic-ip", "Tags": [{"Key": "Name", "Value": "spare"}]}]}`).(*types.AllocateAddressResult)
	e := eipNamed(d, "spare")
	if e == nil || deref(out.AllocationId) != e.AllocationID || !regexp.MustCompile(`^eipalloc-[0-9a-f]{17}$`).MatchString(e.AllocationID) ||
		deref(out.PublicIp) != e.Addr.String() || out.Domain != types.DomainTypeVpc || deref(out.PublicIpv4Pool) != "amazon" ||
		deref(out.NetworkBorderGroup) != "ap-northeast-2" {
		t.Fatalf("answer %+v, EIP %+v", out, e)
	}
	out = callOK(t, d, "AllocateAddress", `{"NetworkBorderGroup": "ap-northeast-2"}`).(*types.AllocateAddressResult)
	if deref(out.NetworkBorderGroup) != "ap-northeast-2" {
		t.Fatalf("border group: %+v", out)
	}
	nameTag := func(v string) string {
		return `{"TagSpecifications": [{"ResourceType": "elastic-ip", "Tags": [{"Key": "Name", "Value": "` + v + `"}]}]}`
	}
	for _, c := range []struct{ req, code string }{
		{nameTag(`e\nip`), "InvalidParameterValue"},
		{nameTag("blackhole"), "InvalidParameterValue"},
		{nameTag("spare"), "InvalidParameterValue"}, // taken
		{nameTag(""), "InvalidParameterValue"},
		{`{"TagSpecifications": [{"ResourceType": "elastic-ip", "Tags": [{"Key": "team", "Value": "x"}]}]}`, "InvalidParameterValue"},
		{`{"TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "x"}]}]}`, "InvalidParameterValue"},
		{`{"TagSpecifications": [{"ResourceType": "elastic-ip", "Tags": [{"Key": "Name", "Value": "x"}, {"Key": "Name", "Value": "y"}]}]}`, "InvalidParameterValue"},
		{`{"Domain": "standard"}`, "InvalidParameterValue"},
		{`{"Address": "13.125.190.82"}`, "InvalidAddress.InUse"},
		{`{"Address": "8.8.8.8"}`, "InvalidAddress.NotFound"},
		{`{"Address": "not-an-ip"}`, "InvalidParameterValue"},
		{`{"PublicIpv4Pool": "nope"}`, "InvalidParameterValue"},
		{`{"NetworkBorderGroup": "eu-west-1"}`, "InvalidParameterValue"},
		{`{"PublicIpv4Pool": "amazon", "NetworkBorderGroup": "eu-west-1"}`, "InvalidParameterValue"},
		{`{"PublicIpv4Pool": "amazon", "NetworkBorderGroup": "ap-northeast-2-wl1-cjj-wlz-1"}`, "InvalidParameterCombination"},
		{`{"Address": "13.125.7.7", "PublicIpv4Pool": "amazon"}`, "InvalidAddress.NotFound"}, // ADDR-5: never ours
		{`{"CustomerOwnedIpv4Pool": "coip"}`, "InvalidParameterValue"},
	} {
		refused(t, d, "AllocateAddress", c.req, c.code)
	}
}

// TestEIP2_AssociateMovesOnlyWhenAllowed: associate answers the
// AssociationId; an EIP in use moves only with AllowReassociation (EIP-2);
// disassociate and release answer nothing, and release of an associated
// EIP is InvalidIPAddress.InUse (EIP-3).
func TestEIP2_AssociateMovesOnlyWhenAllowed(t *testing.T) {
	d := rulesSvc(t, "")
	callOK(t, d, "AllocateAddress", `{"TagSpecifications": [{"ResourceType": "elastic-ip", "Tags": [{"Key": "Name", "Value": "spare"}]}]}`)
	e := eipNamed(d, "spare")
	out := callOK(t, d, "AssociateAddress", `{"AllocationId": "`+e.AllocationID+`", "NetworkInterfaceId": "eni-extra"}`).(*types.AssociateAddressResult)
	if deref(out.AssociationId) != associationID(d.net, e) || !regexp.MustCompile(`^eipassoc-[0-9a-f]{17}$`).MatchString(deref(out.AssociationId)) ||
		e.ENI == nil || e.ENI.Name != "eni-extra" {
		t.Fatalf("answer %+v, EIP on %+v", out, e.ENI)
	}
	for _, c := range []struct{ op, req, code string }{
		{"AssociateAddress", `{"AllocationId": "spare", "InstanceId": "db"}`, "Resource.AlreadyAssociated"},
		{"AssociateAddress", `{"AllocationId": "spare", "InstanceId": "db", "NetworkInterfaceId": "eni-extra", "AllowReassociation": true}`, "InvalidParameterCombination"},
		{"AssociateAddress", `{"AllocationId": "spare", "PublicIp": "` + e.Addr.String() + `", "InstanceId": "db"}`, "InvalidParameterCombination"},
		{"AssociateAddress", `{"AllocationId": "spare"}`, "MissingParameter"},
		{"AssociateAddress", `{"InstanceId": "db"}`, "MissingParameter"},
		{"AssociateAddress", `{"AllocationId": "nope", "InstanceId": "db"}`, "InvalidAllocationID.NotFound"},
		{"AssociateAddress", `{"AllocationId": "spare", "InstanceId": "i-nope", "AllowReassociation": true}`, "InvalidInstanceID.NotFound"},
		{"AssociateAddress", `{"AllocationId": "spare", "NetworkInterfaceId": "eni-extra", "PrivateIpAddress": "92.75.100.99", "AllowReassociation": true}`, "InvalidParameterValue"},
		{"AssociateAddress", `{"AllocationId": "eip-nat", "InstanceId": "db", "AllowReassociation": true}`, "OperationNotPermitted"},
		{"AssociateAddress", `{"AllocationId": "spare", "NetworkInterfaceId": "nat-2a", "AllowReassociation": true}`, "OperationNotPermitted"},
		{"ReleaseAddress", `{"AllocationId": "spare"}`, "InvalidIPAddress.InUse"},
		{"ReleaseAddress", `{"AllocationId": "spare", "NetworkBorderGroup": "eu-west-1"}`, "InvalidParameterCombination"},
		{"ReleaseAddress", `{}`, "MissingParameter"},
		{"DisassociateAddress", `{"AssociationId": "eipassoc-0"}`, "InvalidAssociationID.NotFound"},
		{"DisassociateAddress", `{"AssociationId": "` + deref(out.AssociationId) + `", "PublicIp": "` + e.Addr.String() + `"}`, "InvalidParameterCombination"},
		{"DisassociateAddress", `{}`, "MissingParameter"},
		{"DisassociateAddress", `{"PublicIp": "13.125.190.82"}`, "OperationNotPermitted"}, // the NAT gateway's (ENI-5)
	} {
		refused(t, d, c.op, c.req, c.code)
	}
	// With AllowReassociation it moves to db's primary ENI.
	moved := callOK(t, d, "AssociateAddress", `{"PublicIp": "`+e.Addr.String()+`", "InstanceId": "db", "AllowReassociation": true}`).(*types.AssociateAddressResult)
	if e.ENI == nil || e.ENI.Instance == nil || e.ENI.Instance.Name != "db" || deref(moved.AssociationId) == deref(out.AssociationId) {
		t.Fatalf("after re-association: %+v on %+v", moved, e.ENI)
	}
	if out := callOK(t, d, "DisassociateAddress", `{"PublicIp": "`+e.Addr.String()+`"}`); out != nil || e.ENI != nil {
		t.Fatalf("disassociate answered %v, EIP on %+v", out, e.ENI)
	}
	if out := callOK(t, d, "ReleaseAddress", `{"AllocationId": "`+e.AllocationID+`"}`); out != nil || eipNamed(d, "spare") != nil {
		t.Fatalf("release answered %v", out)
	}
	refused(t, d, "ReleaseAddress", `{"AllocationId": "`+e.AllocationID+`"}`, "InvalidAllocationID.NotFound")
}
