package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sgLife: a server (srv, HTTP on 80, TCP echo on 7) whose group admits
// nothing until the test authorizes it, and three clients in three
// subnets: c1 (10.5.1.0/24), c2 (10.5.2.0/24), c3 (10.5.1.0/24, whose
// groups the test changes).
const sgLife = `{
  "name": "NAME", "region": "us-east-1",
  "vpcs": [{
    "name": "v", "cidr": "10.5.0.0/16",
    "subnets": [
      {"name": "s1", "cidr": "10.5.1.0/24", "az": "us-east-1a"},
      {"name": "s2", "cidr": "10.5.2.0/24", "az": "us-east-1a"}
    ],
    "security_groups": [{"name": "srv-sg", "ingress": []}, {"name": "cli-sg"}],
    "instances": [
      {"name": "srv", "subnet": "s1", "private_ip": "10.5.1.10", "security_groups": ["srv-sg"], "user_data": "vpcnet serve --http :80 --tcp :7"},
      {"name": "c1", "subnet": "s1", "private_ip": "10.5.1.20", "security_groups": ["cli-sg"]},
      {"name": "c2", "subnet": "s2", "private_ip": "10.5.2.20", "security_groups": ["cli-sg"]},
      {"name": "c3", "subnet": "s1", "private_ip": "10.5.1.30", "security_groups": ["cli-sg"]}
    ]
  }]
}`

const (
	srvHTTP = "http://10.5.1.10/"
	srvEcho = "10.5.1.10"
)

// ncOpens reports whether a TCP connection from name to addr:port opens
// within a second.
func (tp *Topo) ncOpens(t *testing.T, name, addr, port string) bool {
	t.Helper()
	_, err := tp.Exec(t, name, "nc", "-z", "-w", "1", addr, port)
	return err == nil
}

// sgRules is describe-security-group-rules' answer, as JSON per rule id.
func (tp *Topo) sgRules(t *testing.T, args ...string) map[string]string {
	t.Helper()
	var r struct{ SecurityGroupRules []json.RawMessage }
	tp.ec2OK(t, &r, "describe-security-group-rules", args...)
	out := map[string]string{}
	for _, raw := range r.SecurityGroupRules {
		var id struct{ SecurityGroupRuleId string }
		if err := json.Unmarshal(raw, &id); err != nil || !strings.HasPrefix(id.SecurityGroupRuleId, "sgr-") {
			t.Fatalf("rule %s: %v", raw, err)
		}
		out[id.SecurityGroupRuleId] = string(raw)
	}
	return out
}

// TestLife_SG3_MultiRangeIngressCarriesTraffic: one authorize with two
// ranges (through vpcnet's CLI, --ip-permissions JSON) lets c1's range in
// and keeps c2's out; a second with two ranges through the AWS CLI opens
// the echo port to c2's range only; describe-security-groups shows each
// as one permission holding both ranges; describe-security-group-rules one
// rule per range. A duplicate is refused with nothing changed.
func TestLife_SG3_MultiRangeIngressCarriesTraffic(t *testing.T) {
	RequireRoot(t)
	tp := Up(t, sgLife)
	if w, err := tp.Curl(t, "srv", srvHTTP); err != nil || w.Name != "srv" {
		t.Fatalf("srv's own server: %+v %v", w, err)
	}
	if !tp.curlFails(t, "c1", srvHTTP) {
		t.Fatal("c1 reached srv before any rule admitted it (SG-1)")
	}
	sg := tp.groupID(t, "srv-sg")
	var a struct {
		Return             bool
		SecurityGroupRules []struct{ SecurityGroupRuleId, CidrIpv4 string }
	}
	tp.ec2OK(t, &a, "authorize-security-group-ingress", "--group-id", sg, "--ip-permissions",
		`[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "10.5.1.0/24"}, {"CidrIp": "10.5.9.0/24", "Description": "elsewhere"}]}]`)
	if !a.Return || len(a.SecurityGroupRules) != 2 || a.SecurityGroupRules[0].CidrIpv4 != "10.5.1.0/24" || a.SecurityGroupRules[1].CidrIpv4 != "10.5.9.0/24" {
		t.Fatalf("authorize answered %+v", a)
	}
	if w, err := tp.Curl(t, "c1", srvHTTP); err != nil || w.Name != "srv" || clientIP(w) != "10.5.1.20" {
		t.Fatalf("c1 → srv:80 after authorize: %+v %v", w, err)
	}
	drops := tp.Drops(t, "srv", "security-group ingress")
	if !tp.curlFails(t, "c2", srvHTTP) {
		t.Fatal("c2 (10.5.2.0/24, in neither range) reached srv:80")
	}
	if n := tp.Drops(t, "srv", "security-group ingress"); n <= drops {
		t.Errorf("security-group ingress drops at srv: %d → %d, want more", drops, n)
	}

	// The AWS CLI: echo port 7 from c2's range and another.
	requireAWSCLI(t)
	env := newAWSEnv(t, tp.Name)
	perms := `[{"IpProtocol": "tcp", "FromPort": 7, "ToPort": 7, "IpRanges": [{"CidrIp": "10.5.2.0/24"}, {"CidrIp": "10.5.8.0/24"}]}]`
	stdout, stderr, code := env.run(t, `exec /usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" ec2 authorize-security-group-ingress --group-id `+sg+` --ip-permissions '`+perms+`' --output json`)
	var b struct {
		Return             bool
		SecurityGroupRules []struct{ SecurityGroupRuleId string }
	}
	if err := json.Unmarshal([]byte(stdout), &b); code != 0 || err != nil || !b.Return || len(b.SecurityGroupRules) != 2 {
		t.Fatalf("aws authorize: exit %d %v\n%s%s", code, err, stdout, stderr)
	}
	if !tp.ncOpens(t, "c2", srvEcho, "7") {
		t.Error("c2 → srv:7 refused after the AWS CLI authorized 10.5.2.0/24")
	}
	if tp.ncOpens(t, "c1", srvEcho, "7") {
		t.Error("c1 → srv:7 opened: 10.5.1.0/24 is not in port 7's ranges")
	}
	// The same again is InvalidPermission.Duplicate, and changes nothing.
	tp.unchanged(t, "a duplicate authorize through the AWS CLI", func() {
		_, stderr, code = env.run(t, `exec /usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" ec2 authorize-security-group-ingress --group-id `+sg+` --ip-permissions '`+perms+`'`)
		if code != 254 || !strings.Contains(stderr, "(InvalidPermission.Duplicate)") {
			t.Errorf("duplicate authorize: exit %d\n%s", code, stderr)
		}
	})
	if !tp.ncOpens(t, "c2", srvEcho, "7") {
		t.Error("c2 → srv:7 refused after the refused duplicate")
	}

	// describe-security-groups: one permission per port, both ranges each.
	var d struct {
		SecurityGroups []struct {
			IpPermissions []struct {
				IpProtocol string
				FromPort   int
				IpRanges   []struct{ CidrIp string }
			}
		}
	}
	tp.ec2OK(t, &d, "describe-security-groups", "--group-ids", sg)
	got := map[int][]string{}
	for _, p := range d.SecurityGroups[0].IpPermissions {
		for _, r := range p.IpRanges {
			got[p.FromPort] = append(got[p.FromPort], r.CidrIp)
		}
	}
	if len(d.SecurityGroups[0].IpPermissions) != 2 || strings.Join(got[80], ",") != "10.5.1.0/24,10.5.9.0/24" || strings.Join(got[7], ",") != "10.5.2.0/24,10.5.8.0/24" {
		t.Errorf("describe-security-groups: %+v", d)
	}
	ingress := 0
	for _, r := range tp.sgRules(t, "--filters", "Name=group-id,Values="+sg) {
		if strings.Contains(r, `"IsEgress": false`) {
			ingress++
		}
	}
	if ingress != 4 {
		t.Errorf("describe-security-group-rules of srv-sg: %d inbound rules, want 4 (one per range)", ingress)
	}
	// Revoke of a rule the group lacks: InvalidPermission.NotFound.
	tp.refused(t, "InvalidPermission.NotFound", "revoke-security-group-ingress", "--group-id", sg, "--ip-permissions",
		`[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "10.5.1.0/24"}, {"CidrIp": "10.5.7.0/24"}]}]`)
	if w, err := tp.Curl(t, "c1", srvHTTP); err != nil || w.Name != "srv" {
		t.Errorf("after a refused revoke, c1 → srv:80: %+v %v", w, err)
	}
}

// TestLife_SG1_TerraformRevokesDefaultEgress: as Terraform does, a group
// is created and its all-traffic egress rule revoked at once; an instance
// in it then sends nothing (SG-1, SG-2: counted as a security-group egress
// drop); authorizing TCP 80 out lets its curl through. The group refuses
// a revoke of the rule it no longer has.
func TestLife_SG1_TerraformRevokesDefaultEgress(t *testing.T) {
	RequireRoot(t)
	tp := Up(t, sgLife)
	sg := tp.groupID(t, "srv-sg")
	tp.ec2OK(t, nil, "authorize-security-group-ingress", "--group-id", sg, "--protocol", "tcp", "--port", "80", "--cidr", "10.5.0.0/16")
	if w, err := tp.Curl(t, "c3", srvHTTP); err != nil || w.Name != "srv" {
		t.Fatalf("c3 → srv with cli-sg (all out): %+v %v", w, err)
	}
	var g struct{ GroupId string }
	tp.ec2OK(t, &g, "create-security-group", "--group-name", "tf-sg", "--description", "Managed by Terraform")
	allOut := `[{"IpProtocol": "-1", "FromPort": 0, "ToPort": 0, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]`
	tp.ec2OK(t, nil, "revoke-security-group-egress", "--group-id", g.GroupId, "--ip-permissions", allOut)
	tp.refused(t, "InvalidPermission.NotFound", "revoke-security-group-egress", "--group-id", g.GroupId, "--ip-permissions", allOut)
	if rules := tp.sgRules(t, "--filters", "Name=group-id,Values="+g.GroupId); len(rules) != 0 {
		t.Fatalf("tf-sg after the revoke: %v, want no rule", rules)
	}
	c3 := tp.instance(t, "c3").InstanceId
	tp.ec2OK(t, nil, "modify-instance-attribute", "--instance-id", c3, "--groups", g.GroupId)
	drops := tp.Drops(t, "c3", "security-group egress")
	if !tp.curlFails(t, "c3", srvHTTP) {
		t.Fatal("c3 reached srv through a group with no egress rule (SG-1)")
	}
	if n := tp.Drops(t, "c3", "security-group egress"); n <= drops {
		t.Errorf("security-group egress drops at c3: %d → %d, want more", drops, n)
	}
	tp.ec2OK(t, nil, "authorize-security-group-egress", "--group-id", g.GroupId, "--ip-permissions",
		`[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "10.5.0.0/16"}]}]`)
	if w, err := tp.Curl(t, "c3", srvHTTP); err != nil || w.Name != "srv" || clientIP(w) != "10.5.1.30" {
		t.Fatalf("c3 → srv after authorizing tcp 80 out: %+v %v", w, err)
	}
	if tp.ncOpens(t, "c3", srvEcho, "7") {
		t.Error("c3 opened srv:7: only tcp 80 is allowed out")
	}
}

// TestLife_SG3_RuleIDsSurviveExportDownUp: after authorizing, modifying
// (the rule keeps its id) and re-authorizing the modified rule's old
// content (a new id), describe-security-group-rules answers the same after
// export → down → up of the exported file, and the rules still carry
// traffic: revoke by the kept id cuts new connections.
func TestLife_SG3_RuleIDsSurviveExportDownUp(t *testing.T) {
	RequireRoot(t)
	tp := Up(t, sgLife)
	sg := tp.groupID(t, "srv-sg")
	var a struct {
		SecurityGroupRules []struct{ SecurityGroupRuleId string }
	}
	tp.ec2OK(t, &a, "authorize-security-group-ingress", "--group-id", sg, "--ip-permissions",
		`[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "10.5.9.0/24"}]}]`)
	id := a.SecurityGroupRules[0].SecurityGroupRuleId
	// Modified to admit c2's subnet, keeping its id.
	tp.ec2OK(t, nil, "modify-security-group-rules", "--group-id", sg, "--security-group-rules",
		`[{"SecurityGroupRuleId": "`+id+`", "SecurityGroupRule": {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "CidrIpv4": "10.5.2.0/24", "Description": "c2"}}]`)
	if w, err := tp.Curl(t, "c2", srvHTTP); err != nil || w.Name != "srv" {
		t.Fatalf("c2 → srv after modify: %+v %v", w, err)
	}
	if r := tp.sgRules(t, "--security-group-rule-ids", id); !strings.Contains(r[id], `"CidrIpv4": "10.5.2.0/24"`) {
		t.Fatalf("modified rule %v", r)
	}
	tp.refused(t, "InvalidSecurityGroupRuleId.NotFound", "modify-security-group-rules", "--group-id", sg, "--security-group-rules",
		`[{"SecurityGroupRuleId": "sgr-00000000000000000", "SecurityGroupRule": {"IpProtocol": "-1", "CidrIpv4": "0.0.0.0/0"}}]`)
	tp.ec2OK(t, &a, "authorize-security-group-ingress", "--group-id", sg, "--ip-permissions",
		`[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "10.5.9.0/24"}]}]`)
	if again := a.SecurityGroupRules[0].SecurityGroupRuleId; again == id {
		t.Fatalf("the old content took the modified rule's id %s", id)
	}
	before := tp.sgRules(t)

	out, code := vpcnet(t, "export", tp.Name)
	if code != 0 {
		t.Fatalf("export: exit %d:\n%s", code, out)
	}
	path := filepath.Join(t.TempDir(), "exported.json")
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	if o, code := vpcnet(t, "down", tp.Name); code != 0 {
		t.Fatalf("down: %s", o)
	}
	if o, code := vpcnet(t, "up", path); code != 0 {
		t.Fatalf("up of the exported file: exit %d:\n%s\nfile:\n%s", code, o, out)
	}
	after := tp.sgRules(t)
	if len(after) != len(before) {
		t.Fatalf("%d rules after export → down → up, %d before", len(after), len(before))
	}
	for k, v := range before {
		if after[k] != v {
			t.Errorf("rule %s: %s after, %s before", k, after[k], v)
		}
	}
	if w, err := tp.Curl(t, "c2", srvHTTP); err != nil || w.Name != "srv" {
		t.Fatalf("c2 → srv after up: %+v %v", w, err)
	}
	tp.ec2OK(t, nil, "revoke-security-group-ingress", "--group-id", sg, "--security-group-rule-ids", id)
	if !tp.curlFails(t, "c2", srvHTTP) {
		t.Error("c2 reached srv after its rule was revoked by id")
	}
}

// TestLife_QUOTA1_RefusedWithNothingChanged: beyond the quotas (lowered
// in the file's settings), authorize is RulesPerSecurityGroupLimitExceeded
// and a sixth group on an interface SecurityGroupsPerInterfaceLimitExceeded;
// describe-* and the export before and after each are the same, and the
// one rule still carries traffic.
func TestLife_QUOTA1_RefusedWithNothingChanged(t *testing.T) {
	RequireRoot(t)
	tp := Up(t, strings.Replace(sgLife, `"region": "us-east-1",`, `"region": "us-east-1", "settings": {"quotas": {"rules_per_security_group": 2, "security_groups_per_eni": 1}},`, 1))
	sg := tp.groupID(t, "srv-sg")
	tp.ec2OK(t, nil, "authorize-security-group-ingress", "--group-id", sg, "--protocol", "tcp", "--port", "80", "--cidr", "10.5.1.0/24")
	tp.refused(t, "RulesPerSecurityGroupLimitExceeded", "authorize-security-group-ingress", "--group-id", sg, "--ip-permissions",
		`[{"IpProtocol": "tcp", "FromPort": 7, "ToPort": 7, "IpRanges": [{"CidrIp": "10.5.2.0/24"}, {"CidrIp": "10.5.3.0/24"}]}]`)
	c1 := tp.instance(t, "c1").InstanceId
	tp.refused(t, "SecurityGroupsPerInterfaceLimitExceeded", "modify-instance-attribute", "--instance-id", c1, "--groups", sg, tp.groupID(t, "cli-sg"))
	if !tp.ncOpens(t, "c1", srvEcho, "80") || tp.ncOpens(t, "c2", srvEcho, "80") {
		t.Error("the one rule (tcp 80 from 10.5.1.0/24) should let c1 in and keep c2 out")
	}
}
