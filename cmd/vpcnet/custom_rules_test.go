package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vpcnet/vpcnet/ec2/types"
)

// converted runs api's typedInputs entry on the flags req and checks that
// what it builds is a request EC2's model reads (member names and types);
// it returns the request as JSON (keys sorted) or the entry's error.
func converted(t *testing.T, api string, req flagRequest) (string, error) {
	t.Helper()
	in, err := typedInputs[api](req)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var norm map[string]any
	json.Unmarshal(b, &norm)
	if _, err := types.DecodeInput(api, norm); err != nil {
		t.Fatalf("%s %v built %s, which EC2's model refuses: %v", api, req, b, err)
	}
	return string(b), nil
}

// TestSG3_PortFlagAsTheAWSCLI: --protocol, --port, --cidr and
// --source-group become one IpPermission exactly as the AWS CLI's
// secgroupsimplify builds it: --port N is FromPort N and ToPort N (for icmp
// type N code N), FROM-TO splits at the first "-" (8--1: type 8, any
// code), -1 and all are -1 and -1; all is protocol -1; a source group
// starting with sg- is a GroupId, else a GroupName.
func TestSG3_PortFlagAsTheAWSCLI(t *testing.T) {
	perm := func(p string) string { return `{"GroupId":"g","IpPermissions":[` + p + `]}` }
	cases := []struct {
		flags flagRequest
		want  string
	}{
		{flagRequest{"group-id": "g", "protocol": "tcp", "port": "80", "cidr": "10.0.0.0/8"},
			perm(`{"FromPort":80,"IpProtocol":"tcp","IpRanges":[{"CidrIp":"10.0.0.0/8"}],"ToPort":80}`)},
		{flagRequest{"group-id": "g", "protocol": "udp", "port": "1024-65535", "cidr": "10.0.0.0/8"},
			perm(`{"FromPort":1024,"IpProtocol":"udp","IpRanges":[{"CidrIp":"10.0.0.0/8"}],"ToPort":65535}`)},
		{flagRequest{"group-id": "g", "protocol": "tcp", "port": "-1", "cidr": "10.0.0.0/8"},
			perm(`{"FromPort":-1,"IpProtocol":"tcp","IpRanges":[{"CidrIp":"10.0.0.0/8"}],"ToPort":-1}`)},
		{flagRequest{"group-id": "g", "protocol": "tcp", "port": "all", "cidr": "10.0.0.0/8"},
			perm(`{"FromPort":-1,"IpProtocol":"tcp","IpRanges":[{"CidrIp":"10.0.0.0/8"}],"ToPort":-1}`)},
		{flagRequest{"group-id": "g", "protocol": "icmp", "port": "8-0", "cidr": "10.0.0.0/8"},
			perm(`{"FromPort":8,"IpProtocol":"icmp","IpRanges":[{"CidrIp":"10.0.0.0/8"}],"ToPort":0}`)},
		{flagRequest{"group-id": "g", "protocol": "icmp", "port": "8--1", "cidr": "10.0.0.0/8"},
			perm(`{"FromPort":8,"IpProtocol":"icmp","IpRanges":[{"CidrIp":"10.0.0.0/8"}],"ToPort":-1}`)},
		{flagRequest{"group-id": "g", "protocol": "icmp", "port": "8", "cidr": "10.0.0.0/8"},
			perm(`{"FromPort":8,"IpProtocol":"icmp","IpRanges":[{"CidrIp":"10.0.0.0/8"}],"ToPort":8}`)},
		{flagRequest{"group-id": "g", "protocol": "icmp", "cidr": "10.0.0.0/8"},
			perm(`{"IpProtocol":"icmp","IpRanges":[{"CidrIp":"10.0.0.0/8"}]}`)},
		{flagRequest{"group-id": "g", "protocol": "all", "source-group": "web"},
			perm(`{"IpProtocol":"-1","UserIdGroupPairs":[{"GroupName":"web"}]}`)},
		{flagRequest{"group-id": "g", "protocol": "47", "source-group": "sg-0123"},
			perm(`{"IpProtocol":"47","UserIdGroupPairs":[{"GroupId":"sg-0123"}]}`)},
		{flagRequest{"group-id": "g"}, `{"GroupId":"g"}`},
		{flagRequest{}, `{}`}, // --cli-input-json or --ip-permissions give the rest
	}
	for _, api := range []string{"AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress", "RevokeSecurityGroupIngress", "RevokeSecurityGroupEgress"} {
		for _, c := range cases {
			if got, err := converted(t, api, c.flags); err != nil || got != c.want {
				t.Errorf("%s %v:\n got %s %v\nwant %s", api, c.flags, got, err, c.want)
			}
		}
	}
	for _, c := range []flagRequest{
		{"protocol": "TCP"}, {"protocol": "256"}, {"protocol": "-2"}, {"protocol": "sctp"},
		{"protocol": "icmp", "port": "-1-0"}, {"protocol": "icmp", "port": "8-"}, {"protocol": "icmp", "port": "x"},
		{"protocol": "tcp", "port": "From=1,To=2"}, {"protocol": "tcp", "port": "80x"},
	} {
		if got, err := converted(t, "AuthorizeSecurityGroupIngress", c); err == nil || !strings.Contains(err.Error(), "InvalidParameterValue") {
			t.Errorf("%v: built %s, want a refusal", c, got)
		}
	}
}

// TestNACL2_FlagsAsTheAWSCLI: NACL entry flags become EC2's members: the
// AWS CLI's protocol names as numbers, --port-range and --icmp-type-code in
// shorthand or JSON (and vpcnet's 80 / 1024-65535), the rule number a whole
// number; a value that does not parse is refused, never read as "any".
func TestNACL2_FlagsAsTheAWSCLI(t *testing.T) {
	base := flagRequest{"network-acl-id": "acl-db", "rule-number": "150", "cidr-block": "0.0.0.0/0", "rule-action": "deny", "ingress": "true"}
	with := func(kv ...string) flagRequest {
		r := flagRequest{}
		for k, v := range base {
			r[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			r[kv[i]] = kv[i+1]
		}
		return r
	}
	entry := func(rest string) string {
		return `{"CidrBlock":"0.0.0.0/0","Egress":false,` + rest + `,"RuleAction":"deny","RuleNumber":150}`
	}
	cases := []struct {
		flags flagRequest
		want  string
	}{
		{with("protocol", "tcp", "port-range", "From=1024,To=65535"), entry(`"NetworkAclId":"acl-db","PortRange":{"From":1024,"To":65535},"Protocol":"6"`)},
		{with("protocol", "udp", "port-range", `{"From": 53, "To": 53}`), entry(`"NetworkAclId":"acl-db","PortRange":{"From":53,"To":53},"Protocol":"17"`)},
		{with("protocol", "6", "port-range", "3306"), entry(`"NetworkAclId":"acl-db","PortRange":{"From":3306,"To":3306},"Protocol":"6"`)},
		{with("protocol", "tcp", "port-range", "1024-65535"), entry(`"NetworkAclId":"acl-db","PortRange":{"From":1024,"To":65535},"Protocol":"6"`)},
		{with("protocol", "icmp", "icmp-type-code", "Type=0, Code=0"), entry(`"IcmpTypeCode":{"Code":0,"Type":0},"NetworkAclId":"acl-db","Protocol":"1"`)},
		{with("protocol", "icmp", "icmp-type-code", "Type=8,Code=-1"), entry(`"IcmpTypeCode":{"Code":-1,"Type":8},"NetworkAclId":"acl-db","Protocol":"1"`)},
		{with("protocol", "icmp", "icmp-type-code", "Type=8"), entry(`"IcmpTypeCode":{"Type":8},"NetworkAclId":"acl-db","Protocol":"1"`)},
		{with("protocol", "all"), entry(`"NetworkAclId":"acl-db","Protocol":"-1"`)},
	}
	for _, api := range []string{"CreateNetworkAclEntry", "ReplaceNetworkAclEntry"} {
		for _, c := range cases {
			if got, err := converted(t, api, c.flags); err != nil || got != c.want {
				t.Errorf("%s %v:\n got %s %v\nwant %s", api, c.flags, got, err, c.want)
			}
		}
	}
	if got, err := converted(t, "DeleteNetworkAclEntry", flagRequest{"network-acl-id": "acl-db", "rule-number": "150", "egress": "true"}); err != nil ||
		got != `{"Egress":true,"NetworkAclId":"acl-db","RuleNumber":150}` {
		t.Errorf("delete: %s %v", got, err)
	}
	// No direction flag: Egress is left to --cli-input-json, not set false.
	if got, err := converted(t, "DeleteNetworkAclEntry", flagRequest{"rule-number": "150"}); err != nil || got != `{"RuleNumber":150}` {
		t.Errorf("delete without a direction flag: %s %v", got, err)
	}
	for _, c := range []flagRequest{
		with("rule-number", "150abc", "protocol", "tcp"),
		with("rule-number", "1.5", "protocol", "tcp"),
		with("protocol", "icmp", "icmp-type-code", "Type=O,Code=0"), // issue 10: a letter O became "any type"
		with("protocol", "icmp", "icmp-type-code", "Typo=8"),
		with("protocol", "icmp", "icmp-type-code", "Type=8,Type=9"),
		with("protocol", "icmp", "icmp-type-code", `{"Type": 8.5}`),
		with("protocol", "icmp", "icmp-type-code", `{"Type": 8`),
		with("protocol", "tcp", "port-range", "From=1,Tu=2"),
		with("protocol", "tcp", "port-range", "80-"),
	} {
		if got, err := converted(t, "CreateNetworkAclEntry", c); err == nil || !strings.Contains(err.Error(), "InvalidParameterValue") {
			t.Errorf("%v: built %s, want a refusal", c, got)
		}
	}
}

// TestEIP_FlagsAsTheAWSCLI: the Elastic IP flags by member name; --name is
// the new address's Name tag (vpcnet's extension).
func TestEIP_FlagsAsTheAWSCLI(t *testing.T) {
	cases := []struct {
		api   string
		flags flagRequest
		want  string
	}{
		{"AllocateAddress", flagRequest{"public-ipv4-pool": "amz", "name": "spare"},
			`{"PublicIpv4Pool":"amz","TagSpecifications":[{"ResourceType":"elastic-ip","Tags":[{"Key":"Name","Value":"spare"}]}]}`},
		{"AllocateAddress", flagRequest{"address": "3.34.9.9", "network-border-group": "us-west-2"}, `{"Address":"3.34.9.9","NetworkBorderGroup":"us-west-2"}`},
		{"AssociateAddress", flagRequest{"allocation-id": "e", "instance-id": "i", "allow-reassociation": "true"},
			`{"AllocationId":"e","AllowReassociation":true,"InstanceId":"i"}`},
		{"AssociateAddress", flagRequest{"allocation-id": "e", "network-interface-id": "n", "private-ip-address": "10.0.0.5"},
			`{"AllocationId":"e","NetworkInterfaceId":"n","PrivateIpAddress":"10.0.0.5"}`},
		{"DisassociateAddress", flagRequest{"association-id": "a"}, `{"AssociationId":"a"}`},
		{"DisassociateAddress", flagRequest{"public-ip": "3.34.9.9"}, `{"PublicIp":"3.34.9.9"}`},
		{"ReleaseAddress", flagRequest{"allocation-id": "e"}, `{"AllocationId":"e"}`},
	}
	for _, c := range cases {
		if got, err := converted(t, c.api, c.flags); err != nil || got != c.want {
			t.Errorf("%s %v:\n got %s %v\nwant %s", c.api, c.flags, got, err, c.want)
		}
	}
}

// FuzzRulesFlags: whatever the flags hold, the typedInputs entries of the
// rule and address operations either refuse them or build a request that
// EC2's model reads. Nothing panics.
func FuzzRulesFlags(f *testing.F) {
	f.Add(uint8(0), "tcp", "80", "Type=8,Code=0", "From=1,To=2")
	f.Add(uint8(4), "icmp", "8--1", `{"Type": 8, "Code": 0}`, `{"From": 1}`)
	f.Add(uint8(5), "all", "-1-0", "Type=O", "80-90")
	apis := []string{"AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress", "RevokeSecurityGroupIngress", "RevokeSecurityGroupEgress",
		"CreateNetworkAclEntry", "ReplaceNetworkAclEntry", "DeleteNetworkAclEntry", "AllocateAddress", "AssociateAddress", "DisassociateAddress", "ReleaseAddress"}
	f.Fuzz(func(t *testing.T, i uint8, protocol, port, icmp, portRange string) {
		api := apis[int(i)%len(apis)]
		req := flagRequest{"group-id": "g", "protocol": protocol, "port": port, "cidr": "10.0.0.0/8", "network-acl-id": "a",
			"rule-number": port, "icmp-type-code": icmp, "port-range": portRange, "egress": "true", "allocation-id": protocol}
		converted(t, api, req) // fails the test if what it builds does not decode
	})
}
