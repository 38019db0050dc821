package ec2

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/vpcnet/vpcnet/ec2/query"
	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

// rulesStore serves a network to the service under test.
type rulesStore struct{ n *topology.Network }

func (s rulesStore) Network() *topology.Network { return s.n }

// rulesSvc is a service over topo (the textbook's network when ""), with a
// kernel that changes nothing: the operations tested here change only the
// model.
func rulesSvc(t testing.TB, topo string) *Service {
	t.Helper()
	b := topology.Default()
	if topo != "" {
		b = []byte(topo)
	}
	n, err := topology.Load(b)
	if err != nil {
		t.Fatal(err)
	}
	return New(rulesStore{n}, nopKernel{})
}

// exported is the network as the file would hold it: refused operations
// must leave it byte-identical.
func exported(t testing.TB, d *Service) string {
	t.Helper()
	b, err := json.Marshal(topology.Export(d.net))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// in parses a request written as JSON, by EC2's member names.
func in(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return m
}

// callOK runs op and checks that its answer is one EC2's model allows
// (ec2/query.Encode refuses a member or enum value the model lacks).
func callOK(t testing.TB, d *Service, op, req string) any {
	t.Helper()
	out, err := d.CallInput(op, in(t, req))
	if err != nil {
		t.Fatalf("%s %s: %v", op, req, err)
	}
	if err := query.Encode(io.Discard, op, "r", out); err != nil {
		t.Fatalf("%s answers what EC2 does not: %v", op, err)
	}
	return out
}

// accountDescribes are the describe-* of everything an operation can
// make, change or delete in an account, with the input each needs.
var accountDescribes = []struct{ op, req string }{
	{"DescribeVpcs", `{}`}, {"DescribeSubnets", `{}`}, {"DescribeRouteTables", `{}`},
	{"DescribeSecurityGroups", `{}`}, {"DescribeSecurityGroupRules", `{}`}, {"DescribeNetworkAcls", `{}`},
	{"DescribeInternetGateways", `{}`}, {"DescribeNatGateways", `{}`}, {"DescribeNetworkInterfaces", `{}`},
	{"DescribeInstances", `{}`}, {"DescribeAddresses", `{}`}, {"DescribeAddressesAttribute", `{"Attribute": "domain-name"}`},
	{"DescribeVpcPeeringConnections", `{}`}, {"DescribeFlowLogs", `{}`}, {"DescribeDhcpOptions", `{}`},
	{"DescribeTags", `{}`}, {"DescribeKeyPairs", `{"IncludePublicKey": true}`},
	{"DescribeTrafficMirrorFilters", `{}`}, {"DescribeTrafficMirrorTargets", `{}`}, {"DescribeTrafficMirrorSessions", `{}`},
	{"DescribeNetworkInsightsPaths", `{}`}, {"DescribeNetworkInsightsAnalyses", `{}`},
}

// accountState is what a refused operation must leave as it was (issue
// 12, bad input): the network as the file holds it with every instance's
// state (snapshot), every describe-* answer, and each VPC's DNS
// attributes. Nothing is normalised: no answer changes between two calls
// with nothing done in between.
func accountState(t testing.TB, d *Service) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(snapshot(t, d))
	describe := func(op, req string) {
		out, err := d.CallInput(op, in(t, req))
		if err != nil {
			t.Fatalf("%s %s: %v", op, req, err)
		}
		j, err := json.Marshal(out)
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		b.WriteString("\n" + op + " " + string(j))
	}
	for _, x := range accountDescribes {
		describe(x.op, x.req)
	}
	for _, v := range d.net.VPCs {
		for _, a := range []string{"enableDnsSupport", "enableDnsHostnames"} {
			describe("DescribeVpcAttribute", `{"VpcId": "`+v.ID+`", "Attribute": "`+a+`"}`)
		}
	}
	return b.String()
}

// refused runs op, wants error code and checks that nothing changed
// (accountState); it returns the error's message.
func refused(t testing.TB, d *Service, op, req, code string) string {
	t.Helper()
	before := accountState(t, d)
	out, err := d.CallInput(op, in(t, req))
	var e *Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("%s %s: got %v %v, want %s", op, req, out, err, code)
	}
	if after := accountState(t, d); after != before {
		t.Fatalf("%s %s: refused (%s) but changed %s", op, req, code, firstDifference(before, after))
	}
	return e.Message
}

// firstDifference says where accountState b first differs from a: the
// export (line 0) or the describe-* (its line's first word), and the text
// around the first byte that differs.
func firstDifference(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		x, y := al[i], bl[i]
		if x == y {
			continue
		}
		what := "the export"
		if i > 0 {
			what, _, _ = strings.Cut(x, " ")
		}
		j := 0
		for j < len(x) && j < len(y) && x[j] == y[j] {
			j++
		}
		around := func(s string) string { return s[max(0, j-80):min(len(s), j+120)] }
		return fmt.Sprintf("%s:\nbefore: …%s…\nafter:  …%s…", what, around(x), around(y))
	}
	return fmt.Sprintf("the number of lines: %d, then %d", len(al), len(bl))
}

func sgNamed(d *Service, name string) *topology.SecurityGroup {
	for _, v := range d.net.VPCs {
		for _, g := range v.SGs {
			if g.Name == name {
				return g
			}
		}
	}
	return nil
}

var sgrID = regexp.MustCompile(`^sgr-[0-9a-f]{17}$`)

// TestSG3_AuthorizeAnswersEC2Rules: authorize answers Return and one
// SecurityGroupRule per IpRange and per UserIdGroupPair, with EC2's
// members; the ids are stable per rule, so a revoke by id removes exactly
// that rule, and authorizing it again gives it the same id.
func TestSG3_AuthorizeAnswersEC2Rules(t *testing.T) {
	d := rulesSvc(t, "")
	g := sgNamed(d, "my-DB-SecurityGroup")
	web := sgNamed(d, "my-Web-SecurityGroup")
	before := len(g.Ingress)
	out := callOK(t, d, "AuthorizeSecurityGroupIngress", `{"GroupId": "my-DB-SecurityGroup", "IpPermissions": [
		{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
		 "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "app"}, {"CidrIp": "192.0.2.0/24"}],
		 "UserIdGroupPairs": [{"GroupName": "my-Web-SecurityGroup"}]},
		{"IpProtocol": "icmp", "FromPort": 8, "ToPort": -1, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}`).(*types.AuthorizeSecurityGroupIngressResult)
	if !deref(out.Return) || len(out.SecurityGroupRules) != 4 || len(g.Ingress) != before+4 {
		t.Fatalf("answer %+v, %d rules (had %d)", out, len(g.Ingress), before)
	}
	acct := d.net.AccountID()
	ids := map[string]bool{}
	for _, r := range out.SecurityGroupRules {
		if !sgrID.MatchString(deref(r.SecurityGroupRuleId)) || deref(r.GroupId) != g.ID || deref(r.GroupOwnerId) != acct || deref(r.IsEgress) {
			t.Errorf("rule %+v: want an sgr- id, GroupId %s, GroupOwnerId %s, IsEgress false", r, g.ID, acct)
		}
		ids[deref(r.SecurityGroupRuleId)] = true
	}
	if len(ids) != 4 {
		t.Errorf("rule ids %v are not distinct", ids)
	}
	r0, r2, r3 := out.SecurityGroupRules[0], out.SecurityGroupRules[2], out.SecurityGroupRules[3]
	if deref(r0.IpProtocol) != "tcp" || deref(r0.FromPort) != 5432 || deref(r0.ToPort) != 5432 || deref(r0.CidrIpv4) != "10.0.0.0/8" ||
		deref(r0.Description) != "app" || r0.ReferencedGroupInfo != nil {
		t.Errorf("first rule %+v", r0)
	}
	if r2.CidrIpv4 != nil || r2.ReferencedGroupInfo == nil || deref(r2.ReferencedGroupInfo.GroupId) != web.ID || deref(r2.ReferencedGroupInfo.UserId) != acct {
		t.Errorf("group rule %+v", r2)
	}
	if deref(r3.IpProtocol) != "icmp" || deref(r3.FromPort) != 8 || deref(r3.ToPort) != -1 {
		t.Errorf("icmp rule %+v: want type 8 (FromPort), any code (ToPort -1)", r3)
	}

	// Revoke by id: exactly that rule goes; authorized again it has the same id.
	id := deref(r2.SecurityGroupRuleId)
	callOK(t, d, "RevokeSecurityGroupIngress", `{"GroupId": "`+g.ID+`", "SecurityGroupRuleIds": ["`+id+`"]}`)
	if len(g.Ingress) != before+3 {
		t.Fatalf("revoke by id left %d rules, want %d", len(g.Ingress), before+3)
	}
	refused(t, d, "RevokeSecurityGroupIngress", `{"GroupId": "`+g.ID+`", "SecurityGroupRuleIds": ["`+id+`"]}`, "InvalidSecurityGroupRuleId.NotFound")
	again := callOK(t, d, "AuthorizeSecurityGroupIngress", `{"GroupId": "`+g.ID+`", "IpPermissions": [
		{"IpProtocol": "6", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": "`+web.ID+`"}]}]}`).(*types.AuthorizeSecurityGroupIngressResult)
	if got := deref(again.SecurityGroupRules[0].SecurityGroupRuleId); got != id {
		t.Errorf("the same rule authorized again has id %s, was %s", got, id)
	}
}

// TestSG3_AllOrNothing: a request whose permissions hold one bad entry
// (or one the group has, or the same rule twice) changes nothing: the
// rules before it are not applied either.
func TestSG3_AllOrNothing(t *testing.T) {
	good := `{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}`
	cases := []struct {
		name, op, bad, code string
	}{
		{"bad CIDR in a second range", "AuthorizeSecurityGroupIngress",
			`{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "10.1.0.0/16"}, {"CidrIp": "10.1.0.0/33"}]}`, "InvalidParameterValue"},
		{"unknown source group", "AuthorizeSecurityGroupIngress",
			`{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "UserIdGroupPairs": [{"GroupName": "nope"}]}`, "InvalidGroup.NotFound"},
		{"icmp type 999", "AuthorizeSecurityGroupIngress", `{"IpProtocol": "icmp", "FromPort": 999, "ToPort": -1, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}`, "InvalidParameterValue"},
		{"icmp code without type", "AuthorizeSecurityGroupEgress", `{"IpProtocol": "icmp", "FromPort": -1, "ToPort": 0, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}`, "InvalidParameterValue"},
		{"ports reversed", "AuthorizeSecurityGroupEgress", `{"IpProtocol": "udp", "FromPort": 9, "ToPort": 8, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}`, "InvalidParameterValue"},
		{"port 70000", "AuthorizeSecurityGroupIngress", `{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 70000, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}`, "InvalidParameterValue"},
		{"only FromPort", "AuthorizeSecurityGroupIngress", `{"IpProtocol": "tcp", "FromPort": 1, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}`, "InvalidParameterValue"},
		{"no peer", "AuthorizeSecurityGroupIngress", `{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2}`, "MissingParameter"},
		{"no protocol", "AuthorizeSecurityGroupIngress", `{"FromPort": 1, "ToPort": 2, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}`, "MissingParameter"},
		{"unknown protocol", "AuthorizeSecurityGroupIngress", `{"IpProtocol": "sctp2", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}`, "InvalidParameterValue"},
		{"IPv6 range", "AuthorizeSecurityGroupIngress", `{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}`, "InvalidParameterValue"},
		{"description with a newline", "AuthorizeSecurityGroupIngress",
			`{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2, "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "a\nb"}]}`, "InvalidParameterValue"},
		{"rule the group has", "AuthorizeSecurityGroupIngress", `{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}`, "InvalidPermission.Duplicate"},
		{"the same rule twice", "AuthorizeSecurityGroupIngress", good, "InvalidPermission.Duplicate"},
		{"port as a fraction", "AuthorizeSecurityGroupIngress", `{"IpProtocol": "tcp", "FromPort": 80.5, "ToPort": 81, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}`, "InvalidParameterValue"},
		{"port as text", "AuthorizeSecurityGroupIngress", `{"IpProtocol": "tcp", "FromPort": "80", "ToPort": 81, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}`, "InvalidParameterValue"},
		{"unknown member", "AuthorizeSecurityGroupIngress", `{"IpProtocol": "tcp", "Ports": "80", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}`, "UnknownParameter"},
		{"revoke of one rule the group lacks", "RevokeSecurityGroupIngress", `{"IpProtocol": "tcp", "FromPort": 81, "ToPort": 81, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}`, "InvalidPermission.NotFound"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := rulesSvc(t, "")
			if strings.HasPrefix(c.op, "Revoke") {
				// The good rule exists; revoking it with a missing one removes neither.
				callOK(t, d, "AuthorizeSecurityGroupIngress", `{"GroupId": "my-Web-SecurityGroup", "IpPermissions": [`+good+`]}`)
			}
			refused(t, d, c.op, `{"GroupId": "my-Web-SecurityGroup", "IpPermissions": [`+good+`, `+c.bad+`]}`, c.code)
		})
	}
}

// TestSG3_PermissionsStoredAsTheFileStoresThem: FromPort and ToPort (for
// icmp: type and code; -1 any) give the representation topology and the
// dataplane use for the same rule of topo.json.
func TestSG3_PermissionsStoredAsTheFileStoresThem(t *testing.T) {
	cases := []struct {
		perm     string
		from, to int
	}{
		{`"IpProtocol": "icmp", "FromPort": 8, "ToPort": -1`, 8, -1},
		{`"IpProtocol": "icmp", "FromPort": 8, "ToPort": 0`, 8, 0},
		{`"IpProtocol": "icmp", "FromPort": 8, "ToPort": 8`, 8, 8},
		{`"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1`, -1, -1},
		{`"IpProtocol": "icmp"`, -1, -1},
		{`"IpProtocol": "tcp", "FromPort": -1, "ToPort": -1`, 0, 65535},
		{`"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22`, 22, 22},
		{`"IpProtocol": "udp", "FromPort": 1024, "ToPort": 2047`, 1024, 2047},
		{`"IpProtocol": "tcp"`, -1, -1},                              // every port, as a file rule without ports
		{`"IpProtocol": "-1", "FromPort": 80, "ToPort": 80`, -1, -1}, // EC2: every port for protocol all
		{`"IpProtocol": "47", "FromPort": 1, "ToPort": 2`, -1, -1},
	}
	for _, c := range cases {
		d := rulesSvc(t, "")
		callOK(t, d, "AuthorizeSecurityGroupIngress", `{"GroupId": "my-Web-SecurityGroup", "IpPermissions": [{`+c.perm+`, "IpRanges": [{"CidrIp": "192.0.2.0/24"}]}]}`)
		g := sgNamed(d, "my-Web-SecurityGroup")
		if got := g.Ingress[len(g.Ingress)-1]; got.FromPort != c.from || got.ToPort != c.to {
			t.Errorf("{%s} stored %d..%d, want %d..%d", c.perm, got.FromPort, got.ToPort, c.from, c.to)
		}
	}
}

// TestSG3_TopLevelForm: the older top-level CidrIp, IpProtocol, FromPort,
// ToPort make one permission; SourceSecurityGroupName alone grants all of
// ICMP, TCP and UDP (EC2's three rules); contradictions are
// InvalidParameterCombination.
func TestSG3_TopLevelForm(t *testing.T) {
	d := rulesSvc(t, "")
	out := callOK(t, d, "AuthorizeSecurityGroupIngress", `{"GroupName": "my-DB-SecurityGroup", "IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "CidrIp": "92.75.0.0/16"}`).(*types.AuthorizeSecurityGroupIngressResult)
	if len(out.SecurityGroupRules) != 1 || deref(out.SecurityGroupRules[0].CidrIpv4) != "92.75.0.0/16" {
		t.Fatalf("%+v", out)
	}
	out = callOK(t, d, "AuthorizeSecurityGroupIngress", `{"GroupId": "my-DB-SecurityGroup", "SourceSecurityGroupName": "default"}`).(*types.AuthorizeSecurityGroupIngressResult)
	var got []string
	for _, r := range out.SecurityGroupRules {
		got = append(got, deref(r.IpProtocol))
		if r.ReferencedGroupInfo == nil || deref(r.ReferencedGroupInfo.GroupId) != sgNamed(d, "default").ID {
			t.Errorf("rule %+v: want the VPC's default group as peer", r)
		}
	}
	if strings.Join(got, ",") != "icmp,tcp,udp" {
		t.Errorf("SourceSecurityGroupName gave %v, want icmp, tcp and udp", got)
	}
	for _, c := range []struct{ req, code string }{
		{`{"GroupId": "my-DB-SecurityGroup", "SourceSecurityGroupName": "default", "CidrIp": "10.0.0.0/8"}`, "InvalidParameterCombination"},
		{`{"GroupId": "my-DB-SecurityGroup", "SourceSecurityGroupName": "default", "IpProtocol": "tcp"}`, "InvalidParameterCombination"},
		{`{"GroupId": "my-DB-SecurityGroup", "CidrIp": "10.0.0.0/8", "IpProtocol": "tcp", "IpPermissions": [{"IpProtocol": "tcp", "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]}`, "InvalidParameterCombination"},
		{`{"GroupId": "my-DB-SecurityGroup", "GroupName": "my-Web-SecurityGroup", "CidrIp": "10.0.0.0/8", "IpProtocol": "tcp"}`, "InvalidParameterCombination"},
		{`{"GroupId": "my-DB-SecurityGroup", "IpPermissions": [{"IpProtocol": "tcp", "UserIdGroupPairs": [{"GroupId": "default", "GroupName": "my-Web-SecurityGroup"}]}]}`, "InvalidParameterCombination"},
		{`{"GroupId": "my-DB-SecurityGroup", "IpPermissions": [{"IpProtocol": "tcp", "UserIdGroupPairs": [{"GroupId": "default", "UserId": "123456789012"}]}]}`, "InvalidGroup.NotFound"},
		{`{"GroupId": "my-DB-SecurityGroup", "SourceSecurityGroupOwnerId": "1"}`, "MissingParameter"},
		{`{"CidrIp": "10.0.0.0/8", "IpProtocol": "tcp"}`, "MissingParameter"},
		{`{"GroupId": "sg-nope", "CidrIp": "10.0.0.0/8", "IpProtocol": "tcp"}`, "InvalidGroup.NotFound"},
		{`{"GroupId": "my-DB-SecurityGroup"}`, "MissingParameter"},
		{`{"GroupId": "my-DB-SecurityGroup", "IpProtocol": "tcp", "CidrIp": "10.0.0.0/8", "TagSpecifications": [{"ResourceType": "security-group-rule", "Tags": [{"Key": "a", "Value": "b"}]}]}`, "InvalidParameterValue"},
	} {
		refused(t, d, "AuthorizeSecurityGroupIngress", c.req, c.code)
	}
	refused(t, d, "RevokeSecurityGroupEgress", `{"GroupId": "my-DB-SecurityGroup", "SecurityGroupRuleIds": ["sgr-0"], "IpPermissions": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}`, "InvalidParameterCombination")
}

// TestSG1_EgressAndRevoke: egress rules are their own list; revoke answers
// Return true, and a DryRun changes nothing.
func TestSG1_EgressAndRevoke(t *testing.T) {
	d := rulesSvc(t, "")
	g := sgNamed(d, "my-Web-SecurityGroup")
	allOut := `{"GroupId": "my-Web-SecurityGroup", "IpPermissions": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}`
	refused(t, d, "AuthorizeSecurityGroupEgress", allOut, "InvalidPermission.Duplicate") // SG-1: a new group's one egress rule
	before := exported(t, d)
	if _, err := d.CallInput("RevokeSecurityGroupEgress", in(t, `{"DryRun": true, "GroupId": "my-Web-SecurityGroup", "IpPermissions": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}`)); err == nil ||
		err.(*Error).Code != "DryRunOperation" || exported(t, d) != before {
		t.Fatalf("dry run: %v", err)
	}
	out := callOK(t, d, "RevokeSecurityGroupEgress", allOut).(*types.RevokeSecurityGroupEgressResult)
	if !deref(out.Return) || len(g.Egress) != 0 {
		t.Fatalf("revoke: %+v, egress left %+v", out, g.Egress)
	}
	refused(t, d, "RevokeSecurityGroupEgress", allOut, "InvalidPermission.NotFound")
	a := callOK(t, d, "AuthorizeSecurityGroupEgress", allOut).(*types.AuthorizeSecurityGroupEgressResult)
	if r := a.SecurityGroupRules[0]; !deref(r.IsEgress) || deref(r.IpProtocol) != "-1" || deref(r.FromPort) != -1 || deref(r.ToPort) != -1 {
		t.Fatalf("egress rule %+v", r)
	}
	callOK(t, d, "RevokeSecurityGroupIngress", `{"GroupId": "my-Web-SecurityGroup", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}`)
}

// TestNACL2_Entries: create, replace and delete answer nothing (EC2 has no
// output for them); refusals keep every code and change nothing.
func TestNACL2_Entries(t *testing.T) {
	d := rulesSvc(t, "")
	var acl *topology.NACL
	for _, a := range d.net.VPCs[0].NACLs {
		if a.Name == "acl-db" {
			acl = a
		}
	}
	entry := `"NetworkAclId": "acl-db", "Egress": true, "RuleNumber": 200, "CidrBlock": "0.0.0.0/0"`
	if out := callOK(t, d, "CreateNetworkAclEntry", `{`+entry+`, "Protocol": "1", "IcmpTypeCode": {"Type": 8}, "RuleAction": "deny"}`); out != nil {
		t.Fatalf("create answered %v, EC2 answers nothing", out)
	}
	if r := acl.Egress[len(acl.Egress)-1]; r.Number != 200 || r.Protocol != 1 || r.FromPort != 8 || r.ToPort != -1 || r.Allow {
		t.Fatalf("stored %+v, want icmp type 8 any code, deny", r)
	}
	if out := callOK(t, d, "ReplaceNetworkAclEntry", `{`+entry+`, "Protocol": "6", "PortRange": {"From": 1024, "To": 65535}, "RuleAction": "allow"}`); out != nil {
		t.Fatalf("replace answered %v", out)
	}
	if r := acl.Egress[len(acl.Egress)-1]; r.Protocol != 6 || r.FromPort != 1024 || r.ToPort != 65535 || !r.Allow {
		t.Fatalf("replaced with %+v", r)
	}
	callOK(t, d, "CreateNetworkAclEntry", `{"NetworkAclId": "acl-db", "Egress": false, "RuleNumber": 90, "Protocol": "tcp", "PortRange": {"From": 22, "To": 22}, "CidrBlock": "0.0.0.0/0", "RuleAction": "deny"}`)
	if acl.Ingress[0].Number != 90 {
		t.Fatalf("ingress not sorted by number (NACL-2): %+v", acl.Ingress)
	}
	for _, c := range []struct{ op, req, code string }{
		{"CreateNetworkAclEntry", `{` + entry + `, "Protocol": "-1", "RuleAction": "allow"}`, "NetworkAclEntryAlreadyExists"},
		{"ReplaceNetworkAclEntry", `{"NetworkAclId": "acl-db", "Egress": true, "RuleNumber": 201, "Protocol": "-1", "CidrBlock": "0.0.0.0/0", "RuleAction": "allow"}`, "InvalidNetworkAclEntry.NotFound"},
		{"CreateNetworkAclEntry", `{"NetworkAclId": "acl-nope", "Egress": true, "RuleNumber": 1, "Protocol": "-1", "CidrBlock": "0.0.0.0/0", "RuleAction": "allow"}`, "InvalidNetworkAclID.NotFound"},
		{"CreateNetworkAclEntry", `{"Egress": true, "RuleNumber": 1, "Protocol": "-1", "CidrBlock": "0.0.0.0/0", "RuleAction": "allow"}`, "MissingParameter"},
		{"CreateNetworkAclEntry", `{"NetworkAclId": "acl-db", "Egress": true, "RuleNumber": 32767, "Protocol": "-1", "CidrBlock": "0.0.0.0/0", "RuleAction": "allow"}`, "InvalidParameterValue"},
		{"CreateNetworkAclEntry", `{"NetworkAclId": "acl-db", "Egress": true, "RuleNumber": "150abc", "Protocol": "-1", "CidrBlock": "0.0.0.0/0", "RuleAction": "allow"}`, "InvalidParameterValue"},
		{"CreateNetworkAclEntry", `{"NetworkAclId": "acl-db", "Egress": true, "RuleNumber": 150.5, "Protocol": "-1", "CidrBlock": "0.0.0.0/0", "RuleAction": "allow"}`, "InvalidParameterValue"},
		{"CreateNetworkAclEntry", `{"NetworkAclId": "acl-db", "Egress": true, "RuleNumber": 1, "Protocol": "1", "IcmpTypeCode": {"Type": 999, "Code": -7}, "CidrBlock": "0.0.0.0/0", "RuleAction": "deny"}`, "InvalidParameterValue"},
		{"CreateNetworkAclEntry", `{"NetworkAclId": "acl-db", "Egress": true, "RuleNumber": 1, "Protocol": "1", "IcmpTypeCode": {"Type": 8, "Code": -7}, "CidrBlock": "0.0.0.0/0", "RuleAction": "deny"}`, "InvalidParameterValue"},
		{"CreateNetworkAclEntry", `{"NetworkAclId": "acl-db", "Egress": true, "RuleNumber": 1, "Protocol": "1", "IcmpTypeCode": {"Code": 0}, "CidrBlock": "0.0.0.0/0", "RuleAction": "deny"}`, "InvalidParameterValue"},
		{"CreateNetworkAclEntry", `{"NetworkAclId": "acl-db", "Egress": true, "RuleNumber": 1, "Protocol": "1", "IcmpTypeCode": {"Type": "O", "Code": 0}, "CidrBlock": "0.0.0.0/0", "RuleAction": "deny"}`, "InvalidParameterValue"},
		{"CreateNetworkAclEntry", `{"NetworkAclId": "acl-db", "Egress": true, "RuleNumber": 1, "Protocol": "6", "PortRange": {"From": 2, "To": 1}, "CidrBlock": "0.0.0.0/0", "RuleAction": "deny"}`, "InvalidParameterValue"},
		{"CreateNetworkAclEntry", `{"NetworkAclId": "acl-db", "Egress": true, "RuleNumber": 1, "Protocol": "6", "PortRange": {"From": 2}, "CidrBlock": "0.0.0.0/0", "RuleAction": "deny"}`, "InvalidParameterValue"},
		{"CreateNetworkAclEntry", `{"NetworkAclId": "acl-db", "Egress": true, "RuleNumber": 1, "Protocol": "-1", "CidrBlock": "0.0.0.0/0", "RuleAction": "maybe"}`, "InvalidParameterValue"},
		{"CreateNetworkAclEntry", `{"NetworkAclId": "acl-db", "Egress": true, "RuleNumber": 1, "Protocol": "-1", "CidrBlock": "10.0.0.1/8", "RuleAction": "allow"}`, "InvalidParameterValue"},
		{"CreateNetworkAclEntry", `{"NetworkAclId": "acl-db", "Egress": true, "RuleNumber": 1, "Protocol": "-1", "RuleAction": "allow"}`, "MissingParameter"},
		{"CreateNetworkAclEntry", `{"NetworkAclId": "acl-db", "Egress": true, "RuleNumber": 1, "Protocol": "-1", "Ipv6CidrBlock": "::/0", "RuleAction": "allow"}`, "InvalidParameterValue"},
		{"DeleteNetworkAclEntry", `{"NetworkAclId": "acl-db", "Egress": false, "RuleNumber": 200}`, "InvalidNetworkAclEntry.NotFound"},
		{"DeleteNetworkAclEntry", `{"NetworkAclId": "acl-db", "Egress": false, "RuleNumber": 0}`, "InvalidParameterValue"},
	} {
		refused(t, d, c.op, c.req, c.code)
	}
	if out := callOK(t, d, "DeleteNetworkAclEntry", `{"NetworkAclId": "`+acl.ID+`", "Egress": true, "RuleNumber": 200}`); out != nil {
		t.Fatalf("delete answered %v", out)
	}
	for _, r := range acl.Egress {
		if r.Number == 200 {
			t.Fatal("entry 200 is still there")
		}
	}
}

// FuzzRulesAndAddresses: any request to the rule and address operations
// is refused with nothing changed, or answers what EC2's model allows and
// leaves a network whose export loads again (one validation for files and
// operations). Nothing panics.
func FuzzRulesAndAddresses(f *testing.F) {
	ops := []string{"AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress", "RevokeSecurityGroupIngress", "RevokeSecurityGroupEgress",
		"CreateNetworkAclEntry", "ReplaceNetworkAclEntry", "DeleteNetworkAclEntry", "AllocateAddress", "AssociateAddress", "DisassociateAddress", "ReleaseAddress",
		"ModifySecurityGroupRules", "DescribeSecurityGroupRules"}
	f.Add(uint8(0), `{"GroupId": "my-DB-SecurityGroup", "IpPermissions": [{"IpProtocol": "icmp", "FromPort": 8, "ToPort": -1, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]}`)
	f.Add(uint8(2), `{"GroupName": "my-Web-SecurityGroup", "IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "CidrIp": "0.0.0.0/0"}`)
	f.Add(uint8(1), `{"GroupId": "default", "IpPermissions": [{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupName": "default", "Description": "x"}]}]}`)
	f.Add(uint8(4), `{"NetworkAclId": "acl-db", "Egress": true, "RuleNumber": 7, "Protocol": "1", "IcmpTypeCode": {"Type": 3, "Code": 4}, "CidrBlock": "0.0.0.0/0", "RuleAction": "deny"}`)
	f.Add(uint8(5), `{"NetworkAclId": "acl-db", "Egress": false, "RuleNumber": 100, "Protocol": "6", "PortRange": {"From": 1, "To": 2}, "CidrBlock": "10.0.0.0/8", "RuleAction": "allow"}`)
	f.Add(uint8(6), `{"NetworkAclId": "acl-db", "Egress": false, "RuleNumber": 110}`)
	f.Add(uint8(7), `{"Address": "13.125.1.1", "TagSpecifications": [{"ResourceType": "elastic-ip", "Tags": [{"Key": "Name", "Value": "x"}]}]}`)
	f.Add(uint8(8), `{"AllocationId": "eip-web", "NetworkInterfaceId": "eni-extra", "AllowReassociation": true}`)
	f.Add(uint8(9), `{"PublicIp": "13.125.190.82"}`)
	f.Add(uint8(10), `{"AllocationId": "eip-web"}`)
	f.Add(uint8(11), `{"GroupId": "my-Web-SecurityGroup", "SecurityGroupRules": [{"SecurityGroupRuleId": "sgr-0", "SecurityGroupRule": {"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2, "CidrIpv4": "10.0.0.0/8"}}]}`)
	f.Add(uint8(12), `{"Filters": [{"Name": "group-id", "Values": ["sg-*"]}], "MaxResults": 5}`)
	f.Fuzz(func(t *testing.T, i uint8, body string) {
		var req map[string]any
		if json.Unmarshal([]byte(body), &req) != nil || req == nil {
			return
		}
		op := ops[int(i)%len(ops)]
		d := rulesSvc(t, "")
		before := exported(t, d)
		out, err := d.CallInput(op, req)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("%s %s: %v is no EC2 error", op, body, err)
			}
			if exported(t, d) != before {
				t.Fatalf("%s %s: refused (%v) but changed the network", op, body, err)
			}
			return
		}
		if err := query.Encode(io.Discard, op, "r", out); err != nil {
			t.Fatalf("%s %s answers what EC2 does not: %v", op, body, err)
		}
		if _, err := topology.Load([]byte(exported(t, d))); err != nil {
			t.Fatalf("%s %s: the export does not load: %v", op, body, err)
		}
	})
}

// TestSG3_QueryRequest: a request as the AWS CLI and SDKs send it to the
// endpoint (EC2's Query serialization: IpPermissions.1.IpRanges.2.CidrIp,
// IpPermissions.2.Groups.1.GroupName) decodes into the same permissions,
// and the answer encodes to EC2's XML with one item per rule.
func TestSG3_QueryRequest(t *testing.T) {
	d := rulesSvc(t, "")
	form := url.Values{"Version": {"2016-11-15"}, "GroupId": {"my-DB-SecurityGroup"},
		"IpPermissions.1.IpProtocol": {"tcp"}, "IpPermissions.1.FromPort": {"5432"}, "IpPermissions.1.ToPort": {"5432"},
		"IpPermissions.1.IpRanges.1.CidrIp": {"10.0.0.0/8"}, "IpPermissions.1.IpRanges.2.CidrIp": {"192.0.2.0/24"},
		"IpPermissions.2.IpProtocol": {"icmp"}, "IpPermissions.2.FromPort": {"8"}, "IpPermissions.2.ToPort": {"-1"},
		"IpPermissions.2.Groups.1.GroupName": {"my-Web-SecurityGroup"}}
	req, err := query.Decode("AuthorizeSecurityGroupIngress", form)
	if err != nil {
		t.Fatal(err)
	}
	out, err := d.CallInput("AuthorizeSecurityGroupIngress", req)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := query.Encode(&b, "AuthorizeSecurityGroupIngress", "r", out); err != nil {
		t.Fatal(err)
	}
	x := b.String()
	if !strings.Contains(x, "<return>true</return>") || strings.Count(x, "<securityGroupRuleId>sgr-") != 3 ||
		!strings.Contains(x, "<cidrIpv4>192.0.2.0/24</cidrIpv4>") || !strings.Contains(x, "<referencedGroupInfo><groupId>"+sgNamed(d, "my-Web-SecurityGroup").ID) {
		t.Fatalf("answer:\n%s", x)
	}
	// NACL entries answer <return>true</return> alone, as EC2 does.
	form = url.Values{"Version": {"2016-11-15"}, "NetworkAclId": {"acl-db"}, "Egress": {"true"}, "RuleNumber": {"300"},
		"Protocol": {"6"}, "PortRange.From": {"443"}, "PortRange.To": {"443"}, "CidrBlock": {"0.0.0.0/0"}, "RuleAction": {"allow"}}
	if req, err = query.Decode("CreateNetworkAclEntry", form); err != nil {
		t.Fatal(err)
	}
	if out, err = d.CallInput("CreateNetworkAclEntry", req); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	if err := query.Encode(&b, "CreateNetworkAclEntry", "r", out); err != nil || !strings.Contains(b.String(), "<return>true</return>") {
		t.Fatalf("%v\n%s", err, b.String())
	}
}
