package ec2

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

// rulesOf is DescribeSecurityGroupRules' answer to req.
func rulesOf(t *testing.T, d *Service, req string) []types.SecurityGroupRule {
	t.Helper()
	return callOK(t, d, "DescribeSecurityGroupRules", req).(*types.DescribeSecurityGroupRulesResult).SecurityGroupRules
}

func ruleIDs(rs []types.SecurityGroupRule) []string {
	var out []string
	for _, r := range rs {
		out = append(out, deref(r.SecurityGroupRuleId))
	}
	return out
}

// reloaded is d's network exported and loaded again, served as d is.
func reloaded(t *testing.T, d *Service) *Service {
	t.Helper()
	n, err := topology.Load([]byte(exported(t, d)))
	if err != nil {
		t.Fatalf("the export does not load: %v", err)
	}
	return New(rulesStore{n}, nopKernel{})
}

// TestSG3_RulesStoredOnePerPeerDescribedMerged: one authorize with two
// permissions, one of them with two CIDRs and a group, stores one rule per
// CIDR and per group (DescribeSecurityGroupRules lists each with the id
// authorize answered, in EC2's SecurityGroupRule shape), and
// DescribeSecurityGroups merges them back: one IpPermission per protocol
// and port range holding all its IpRanges and UserIdGroupPairs.
func TestSG3_RulesStoredOnePerPeerDescribedMerged(t *testing.T) {
	d := rulesSvc(t, "")
	g := sgNamed(d, "my-DB-SecurityGroup")
	web := sgNamed(d, "my-Web-SecurityGroup")
	before := rulesOf(t, d, `{"Filters": [{"Name": "group-id", "Values": ["`+g.ID+`"]}]}`)
	auth := callOK(t, d, "AuthorizeSecurityGroupIngress", `{"GroupId": "`+g.ID+`", "IpPermissions": [
		{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
		 "IpRanges": [{"CidrIp": "10.1.0.0/16", "Description": "office"}, {"CidrIp": "10.2.0.0/16"}],
		 "UserIdGroupPairs": [{"GroupId": "`+web.ID+`", "Description": "web"}]},
		{"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "IpRanges": [{"CidrIp": "10.3.0.0/16"}]}]}`).(*types.AuthorizeSecurityGroupIngressResult)
	after := rulesOf(t, d, `{"Filters": [{"Name": "group-id", "Values": ["`+g.ID+`"]}]}`)
	if len(after) != len(before)+4 {
		t.Fatalf("%d rules after, %d before: want 4 more", len(after), len(before))
	}
	listed := map[string]types.SecurityGroupRule{}
	for _, r := range after {
		listed[deref(r.SecurityGroupRuleId)] = r
	}
	for _, a := range auth.SecurityGroupRules {
		b, _ := json.Marshal(a)
		x := listed[deref(a.SecurityGroupRuleId)]
		if x.Tags == nil || len(x.Tags) != 0 {
			t.Errorf("describe lists rule %s with Tags %v: EC2 always lists them, none here", deref(x.SecurityGroupRuleId), x.Tags)
		}
		l, _ := json.Marshal(x)
		if string(b) != string(l) {
			t.Errorf("authorize answered %s, describe lists %s", b, l)
		}
	}
	// By id, and by the security-group-rule-id filter: exactly those.
	id := deref(auth.SecurityGroupRules[2].SecurityGroupRuleId)
	if got := rulesOf(t, d, `{"SecurityGroupRuleIds": ["`+id+`"]}`); len(got) != 1 || deref(got[0].ReferencedGroupInfo.GroupId) != web.ID ||
		deref(got[0].Description) != "web" || deref(got[0].GroupOwnerId) != d.net.AccountID() || deref(got[0].IsEgress) {
		t.Errorf("by id: %+v", got)
	}
	if got := rulesOf(t, d, `{"Filters": [{"Name": "security-group-rule-id", "Values": ["`+id+`"]}]}`); len(got) != 1 {
		t.Errorf("by filter: %+v", got)
	}
	if got := rulesOf(t, d, `{"Filters": [{"Name": "tag:Name", "Values": ["x"]}]}`); len(got) != 0 {
		t.Errorf("rules have no tags, a tag filter matched %+v", got)
	}
	all := rulesOf(t, d, `{}`)
	page1 := callOK(t, d, "DescribeSecurityGroupRules", `{"MaxResults": 5}`).(*types.DescribeSecurityGroupRulesResult)
	if len(page1.SecurityGroupRules) != 5 || page1.NextToken == nil || strings.Join(ruleIDs(page1.SecurityGroupRules), ",") != strings.Join(ruleIDs(all[:5]), ",") {
		t.Errorf("first page of 5: %v (next %v)", ruleIDs(page1.SecurityGroupRules), page1.NextToken)
	}
	refused(t, d, "DescribeSecurityGroupRules", `{"SecurityGroupRuleIds": ["sgr-00000000000000000"]}`, "InvalidSecurityGroupRuleId.NotFound")
	refused(t, d, "DescribeSecurityGroupRules", `{"Filters": [{"Name": "cidr", "Values": ["x"]}]}`, "InvalidParameterValue")

	// DescribeSecurityGroups: the tcp 5432 permission holds both CIDRs
	// and the group, in the order given; udp 53 its own.
	sg := callOK(t, d, "DescribeSecurityGroups", `{"GroupIds": ["`+g.ID+`"]}`).(*types.DescribeSecurityGroupsResult).SecurityGroups[0]
	var tcp, udp *types.IpPermission
	for i, p := range sg.IpPermissions {
		switch {
		case deref(p.IpProtocol) == "tcp" && deref(p.FromPort) == 5432:
			tcp = &sg.IpPermissions[i]
		case deref(p.IpProtocol) == "udp" && deref(p.FromPort) == 53:
			udp = &sg.IpPermissions[i]
		}
	}
	if tcp == nil || udp == nil || len(tcp.IpRanges) != 2 || deref(tcp.IpRanges[0].CidrIp) != "10.1.0.0/16" || deref(tcp.IpRanges[0].Description) != "office" ||
		deref(tcp.IpRanges[1].CidrIp) != "10.2.0.0/16" || len(tcp.UserIdGroupPairs) != 1 || deref(tcp.UserIdGroupPairs[0].GroupId) != web.ID ||
		len(udp.IpRanges) != 1 || len(udp.UserIdGroupPairs) != 0 {
		b, _ := json.Marshal(sg.IpPermissions)
		t.Fatalf("merged permissions: %s", b)
	}
	// Revoking one range of the merged permission leaves the others.
	callOK(t, d, "RevokeSecurityGroupIngress", `{"GroupId": "`+g.ID+`", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "10.1.0.0/16"}]}]}`)
	if got := len(rulesOf(t, d, `{"Filters": [{"Name": "group-id", "Values": ["`+g.ID+`"]}]}`)); got != len(before)+3 {
		t.Errorf("after revoking one range: %d rules, want %d", got, len(before)+3)
	}
}

// TestSG3_ModifyKeepsTheRuleID: ModifySecurityGroupRules replaces a rule's
// protocol, ports, peer and description and keeps its id, as EC2 does; the
// id survives export and load; the old content authorized again takes
// another id; revoke by that id removes the modified rule. Each refusal
// changes nothing.
func TestSG3_ModifyKeepsTheRuleID(t *testing.T) {
	d := rulesSvc(t, "")
	g := sgNamed(d, "my-DB-SecurityGroup")
	web := sgNamed(d, "my-Web-SecurityGroup")
	a := callOK(t, d, "AuthorizeSecurityGroupIngress", `{"GroupId": "`+g.ID+`", "IpPermissions": [
		{"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "IpRanges": [{"CidrIp": "10.9.0.0/16"}, {"CidrIp": "10.8.0.0/16"}]}]}`).(*types.AuthorizeSecurityGroupIngressResult)
	id, other := deref(a.SecurityGroupRules[0].SecurityGroupRuleId), deref(a.SecurityGroupRules[1].SecurityGroupRuleId)
	mod := func(rule string) string {
		return `{"GroupId": "` + g.ID + `", "SecurityGroupRules": [{"SecurityGroupRuleId": "` + id + `", "SecurityGroupRule": ` + rule + `}]}`
	}
	out := callOK(t, d, "ModifySecurityGroupRules", mod(`{"IpProtocol": "udp", "FromPort": 9000, "ToPort": 9001, "ReferencedGroupId": "`+web.ID+`", "Description": "changed"}`)).(*types.ModifySecurityGroupRulesResult)
	if !deref(out.Return) {
		t.Fatalf("modify answered %+v", out)
	}
	r := rulesOf(t, d, `{"SecurityGroupRuleIds": ["`+id+`"]}`)[0]
	if deref(r.IpProtocol) != "udp" || deref(r.FromPort) != 9000 || deref(r.ToPort) != 9001 || r.CidrIpv4 != nil ||
		deref(r.ReferencedGroupInfo.GroupId) != web.ID || deref(r.Description) != "changed" {
		t.Fatalf("modified rule %+v", r)
	}
	for _, c := range []struct{ name, req, code string }{
		{"unknown rule id", `{"GroupId": "` + g.ID + `", "SecurityGroupRules": [{"SecurityGroupRuleId": "sgr-00000000000000000", "SecurityGroupRule": {"IpProtocol": "-1", "CidrIpv4": "0.0.0.0/0"}}]}`, "InvalidSecurityGroupRuleId.NotFound"},
		{"another group's rule", `{"GroupId": "` + web.ID + `", "SecurityGroupRules": [{"SecurityGroupRuleId": "` + id + `", "SecurityGroupRule": {"IpProtocol": "-1", "CidrIpv4": "0.0.0.0/0"}}]}`, "InvalidSecurityGroupRuleId.NotFound"},
		{"unknown group", `{"GroupId": "sg-nope", "SecurityGroupRules": [{"SecurityGroupRuleId": "` + id + `", "SecurityGroupRule": {"IpProtocol": "-1", "CidrIpv4": "0.0.0.0/0"}}]}`, "InvalidGroup.NotFound"},
		{"becomes the other rule", mod(`{"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "CidrIpv4": "10.8.0.0/16"}`), "InvalidPermission.Duplicate"},
		{"no peer", mod(`{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2}`), "MissingParameter"},
		{"two peers", mod(`{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2, "CidrIpv4": "10.0.0.0/8", "ReferencedGroupId": "` + web.ID + `"}`), "InvalidParameterCombination"},
		{"IPv6", mod(`{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2, "CidrIpv6": "::/0"}`), "InvalidParameterValue"},
		{"bad CIDR", mod(`{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2, "CidrIpv4": "10.0.0.0/33"}`), "InvalidParameterValue"},
		{"ports reversed", mod(`{"IpProtocol": "tcp", "FromPort": 2, "ToPort": 1, "CidrIpv4": "10.0.0.0/8"}`), "InvalidParameterValue"},
		{"unknown peer group", mod(`{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2, "ReferencedGroupId": "sg-nope"}`), "InvalidGroup.NotFound"},
		{"no rule", mod(`null`), "MissingParameter"},
		{"no updates", `{"GroupId": "` + g.ID + `", "SecurityGroupRules": []}`, "MissingParameter"},
		{"a rule twice", `{"GroupId": "` + g.ID + `", "SecurityGroupRules": [{"SecurityGroupRuleId": "` + id + `", "SecurityGroupRule": {"IpProtocol": "-1", "CidrIpv4": "1.0.0.0/8"}}, {"SecurityGroupRuleId": "` + id + `", "SecurityGroupRule": {"IpProtocol": "-1", "CidrIpv4": "2.0.0.0/8"}}]}`, "InvalidParameterValue"},
		{"second update bad", `{"GroupId": "` + g.ID + `", "SecurityGroupRules": [{"SecurityGroupRuleId": "` + other + `", "SecurityGroupRule": {"IpProtocol": "-1", "CidrIpv4": "1.0.0.0/8"}}, {"SecurityGroupRuleId": "sgr-00000000000000000", "SecurityGroupRule": {"IpProtocol": "-1", "CidrIpv4": "2.0.0.0/8"}}]}`, "InvalidSecurityGroupRuleId.NotFound"},
	} {
		t.Run(c.name, func(t *testing.T) { refused(t, d, "ModifySecurityGroupRules", c.req, c.code) })
	}

	// The old content again: a new rule, another id.
	again := callOK(t, d, "AuthorizeSecurityGroupIngress", `{"GroupId": "`+g.ID+`", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "IpRanges": [{"CidrIp": "10.9.0.0/16"}]}]}`).(*types.AuthorizeSecurityGroupIngressResult)
	newID := deref(again.SecurityGroupRules[0].SecurityGroupRuleId)
	if newID == id || !sgrID.MatchString(newID) {
		t.Fatalf("the old content authorized again took id %s (the modified rule has %s)", newID, id)
	}
	// Export and load keep every id and answer.
	want, _ := json.Marshal(rulesOf(t, d, `{}`))
	d2 := reloaded(t, d)
	if got, _ := json.Marshal(rulesOf(t, d2, `{}`)); string(got) != string(want) {
		t.Fatalf("rules after export and load:\n%s\nwant\n%s", got, want)
	}
	// Revoke by the kept id removes the modified rule, not the new one.
	callOK(t, d2, "RevokeSecurityGroupIngress", `{"GroupId": "`+g.ID+`", "SecurityGroupRuleIds": ["`+id+`"]}`)
	if got := ruleIDs(rulesOf(t, d2, `{"Filters": [{"Name": "group-id", "Values": ["`+g.ID+`"]}]}`)); strings.Contains(strings.Join(got, ","), id) ||
		!strings.Contains(strings.Join(got, ","), newID) {
		t.Fatalf("after revoking %s: %v", id, got)
	}
}

// TestSG1_TerraformRevokesTheDefaultEgress: Terraform creates a group and
// at once revokes its all-traffic egress rule (IpProtocol -1, 0.0.0.0/0):
// the group then has no egress (SG-1: nothing out), which the export keeps
// as an empty list; then it authorizes the egress it wants.
func TestSG1_TerraformRevokesTheDefaultEgress(t *testing.T) {
	d := rulesSvc(t, "")
	id := deref(callOK(t, d, "CreateSecurityGroup", `{"GroupName": "tf", "Description": "Managed by Terraform"}`).(*types.CreateSecurityGroupResult).GroupId)
	eg := rulesOf(t, d, `{"Filters": [{"Name": "group-id", "Values": ["`+id+`"]}]}`)
	if len(eg) != 1 || !deref(eg[0].IsEgress) || deref(eg[0].IpProtocol) != "-1" || deref(eg[0].CidrIpv4) != "0.0.0.0/0" {
		t.Fatalf("a new group's rules: %+v", eg)
	}
	callOK(t, d, "RevokeSecurityGroupEgress", `{"GroupId": "`+id+`", "IpPermissions": [{"IpProtocol": "-1", "FromPort": 0, "ToPort": 0, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}`)
	if g := sgNamed(d, "tf"); len(g.Egress) != 0 {
		t.Fatalf("egress after the revoke: %+v", g.Egress)
	}
	d2 := reloaded(t, d)
	if g := sgNamed(d2, "tf"); len(g.Egress) != 0 {
		t.Fatalf("export and load gave the group egress again: %+v", g.Egress)
	}
	callOK(t, d2, "AuthorizeSecurityGroupEgress", `{"GroupId": "`+id+`", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}`)
	if g := sgNamed(d2, "tf"); len(g.Egress) != 1 || g.Egress[0].FromPort != 443 {
		t.Fatalf("egress: %+v", g.Egress)
	}
}

// TestQUOTA1_RulesPerGroup: 60 inbound and 60 outbound rules per group by
// default, each direction on its own; one more is
// RulesPerSecurityGroupLimitExceeded with nothing added, also when only
// part of the request would pass; a settable quota.
func TestQUOTA1_RulesPerGroup(t *testing.T) {
	perms := func(from, n int) string {
		var ps []string
		for i := range n {
			ps = append(ps, fmt.Sprintf(`{"IpProtocol": "tcp", "FromPort": %d, "ToPort": %d, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}`, from+i, from+i))
		}
		return strings.Join(ps, ",")
	}
	d := rulesSvc(t, "")
	id := deref(callOK(t, d, "CreateSecurityGroup", `{"GroupName": "q", "Description": "q"}`).(*types.CreateSecurityGroupResult).GroupId)
	callOK(t, d, "AuthorizeSecurityGroupIngress", `{"GroupId": "`+id+`", "IpPermissions": [`+perms(1000, 59)+`]}`)
	refused(t, d, "AuthorizeSecurityGroupIngress", `{"GroupId": "`+id+`", "IpPermissions": [`+perms(2000, 2)+`]}`, "RulesPerSecurityGroupLimitExceeded")
	callOK(t, d, "AuthorizeSecurityGroupIngress", `{"GroupId": "`+id+`", "IpPermissions": [`+perms(2000, 1)+`]}`)
	refused(t, d, "AuthorizeSecurityGroupIngress", `{"GroupId": "`+id+`", "IpPermissions": [`+perms(3000, 1)+`]}`, "RulesPerSecurityGroupLimitExceeded")
	// Outbound is counted apart: the group has 1 (all traffic), 59 more fit.
	callOK(t, d, "AuthorizeSecurityGroupEgress", `{"GroupId": "`+id+`", "IpPermissions": [`+perms(1000, 59)+`]}`)
	refused(t, d, "AuthorizeSecurityGroupEgress", `{"GroupId": "`+id+`", "IpPermissions": [`+perms(3000, 1)+`]}`, "RulesPerSecurityGroupLimitExceeded")
	// A file at the quota loads.
	reloaded(t, d)

	n, err := topology.Load([]byte(strings.Replace(string(topology.Default()), `"name": "`, `"settings": {"quotas": {"rules_per_security_group": 2}}, "name": "`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	d = New(rulesStore{n}, nopKernel{})
	g := sgNamed(d, "my-Web-SecurityGroup")
	if len(g.Ingress) != 2 {
		t.Fatalf("the textbook's web group has %d inbound rules; this case wants 2", len(g.Ingress))
	}
	refused(t, d, "AuthorizeSecurityGroupIngress", `{"GroupId": "`+g.ID+`", "IpPermissions": [`+perms(4000, 1)+`]}`, "RulesPerSecurityGroupLimitExceeded")
}

// TestQUOTA1_GroupsPerInterface: 5 security groups per interface by
// default; a sixth is SecurityGroupsPerInterfaceLimitExceeded wherever
// groups are set on an ENI, with nothing changed.
func TestQUOTA1_GroupsPerInterface(t *testing.T) {
	d := rulesSvc(t, "")
	var ids []string
	for i := range 6 {
		ids = append(ids, deref(callOK(t, d, "CreateSecurityGroup", fmt.Sprintf(`{"GroupName": "g%d", "Description": "g"}`, i)).(*types.CreateSecurityGroupResult).GroupId))
	}
	six, _ := json.Marshal(ids)
	five, _ := json.Marshal(ids[:5])
	refused(t, d, "ModifyNetworkInterfaceAttribute", `{"NetworkInterfaceId": "eni-extra", "Groups": `+string(six)+`}`, "SecurityGroupsPerInterfaceLimitExceeded")
	refused(t, d, "CreateNetworkInterface", `{"SubnetId": "PUB-WEB-2a", "Groups": `+string(six)+`}`, "SecurityGroupsPerInterfaceLimitExceeded")
	callOK(t, d, "ModifyNetworkInterfaceAttribute", `{"NetworkInterfaceId": "eni-extra", "Groups": `+string(five)+`}`)
	reloaded(t, d)
}

// TestQUOTA1_ElasticIPs: 5 Elastic IPs per region by default, counting
// every allocation of the account, the NAT gateway's included: the
// textbook's network has 2 (eip-nat, eip-web), so 3 more are allocated and
// the next is AddressLimitExceeded; a release makes room again.
func TestQUOTA1_ElasticIPs(t *testing.T) {
	d := rulesSvc(t, "")
	if len(d.net.EIPs) != 2 {
		t.Fatalf("the textbook's network has %d Elastic IPs, this test counts on 2", len(d.net.EIPs))
	}
	var last string
	for range 3 {
		last = deref(callOK(t, d, "AllocateAddress", `{"Domain": "vpc"}`).(*types.AllocateAddressResult).AllocationId)
	}
	refused(t, d, "AllocateAddress", `{"Domain": "vpc"}`, "AddressLimitExceeded")
	callOK(t, d, "ReleaseAddress", `{"AllocationId": "`+last+`"}`)
	callOK(t, d, "AllocateAddress", `{"Domain": "vpc"}`)
	reloaded(t, d)
}
