package ec2

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vpcnet/vpcnet/topology"
)

// peeredTopo is two VPCs joined by a peering (pending when status says
// so), each with a group.
func peeredTopo(status string) string {
	return `{"name": "pg", "region": "ap-northeast-2",
  "vpcs": [{"name": "a", "cidr": "10.0.0.0/16", "security_groups": [{"name": "ga"}]},
           {"name": "b", "cidr": "10.1.0.0/16", "security_groups": [{"name": "gb"}]},
           {"name": "c", "cidr": "10.2.0.0/16", "security_groups": [{"name": "gc"}]}],
  "peerings": [{"name": "ab", "vpcs": ["a", "b"]` + status + `}]}`
}

// PEER-4: a rule may name a group of a VPC an active peering joins to its
// own, with or without the peering's id; not a group of a VPC that is not
// peered, nor while the peering is pending, nor with another peering's id.
// Once the peering is deleted, the rule stays (stale, matching nothing),
// and the export loads with it.
func TestPEER4_RuleNamesAPeeredVPCsGroup(t *testing.T) {
	d := rulesSvc(t, peeredTopo(""))
	ga, gb, gc := sgNamed(d, "ga"), sgNamed(d, "gb"), sgNamed(d, "gc")
	perm := func(pair string) string {
		return `{"GroupId": "` + ga.ID + `", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "UserIdGroupPairs": [` + pair + `]}]}`
	}
	refused(t, d, "AuthorizeSecurityGroupIngress", perm(`{"GroupId": "`+gc.ID+`"}`), "InvalidGroup.NotFound")
	refused(t, d, "AuthorizeSecurityGroupIngress", perm(`{"GroupId": "`+gb.ID+`", "VpcPeeringConnectionId": "pcx-0123456789abcdef0"}`), "InvalidParameterValue")
	refused(t, d, "AuthorizeSecurityGroupIngress", perm(`{"GroupId": "`+gb.ID+`", "VpcId": "`+ga.VPC.ID+`"}`), "InvalidGroup.NotFound")
	refused(t, d, "AuthorizeSecurityGroupIngress", perm(`{"GroupId": "`+ga.ID+`", "VpcPeeringConnectionId": "ab"}`), "InvalidParameterValue")
	pcx := d.net.Peerings[0].ID
	callOK(t, d, "AuthorizeSecurityGroupIngress", perm(`{"GroupId": "`+gb.ID+`", "VpcPeeringConnectionId": "`+pcx+`"}`))
	callOK(t, d, "AuthorizeSecurityGroupEgress", `{"GroupId": "`+ga.ID+`", "IpPermissions": [{"IpProtocol": "udp", "FromPort": 53, "ToPort": 53,
		"UserIdGroupPairs": [{"GroupId": "`+gb.VPC.DefaultSG.ID+`"}]}]}`)
	if len(ga.Ingress) != 1 || ga.Ingress[0].Group != gb || d.net.StaleRule(ga, ga.Ingress[0]) {
		t.Fatalf("ingress: %+v", ga.Ingress)
	}
	// The file says the same: gb by its name, b's default group with its VPC.
	file := exported(t, d)
	if !strings.Contains(file, `"source":"gb"`) || !strings.Contains(file, `"destination":"default","destination_vpc":"b"`) {
		t.Fatalf("export: %s", file)
	}
	again := vpcReloaded(t, d)
	if vpcDescribeAll(t, again) != vpcDescribeAll(t, d) {
		t.Fatalf("describe-* differ after export and load")
	}
	// Deleted: the rules stay, stale, and the export still loads.
	callOK(t, d, "DeleteVpcPeeringConnection", `{"VpcPeeringConnectionId": "`+pcx+`"}`)
	if len(ga.Ingress) != 1 || !d.net.StaleRule(ga, ga.Ingress[0]) || !d.net.StaleRule(ga, ga.Egress[len(ga.Egress)-1]) {
		t.Fatalf("after the peering's deletion: %+v %+v", ga.Ingress, ga.Egress)
	}
	n, err := topology.Load([]byte(exported(t, d)))
	if err != nil {
		t.Fatalf("a stale rule's export does not load: %v", err)
	}
	if !strings.Contains(strings.Join(n.Warnings, "\n"), "stale") {
		t.Fatalf("no warning of the stale rules: %v", n.Warnings)
	}
	g := n.VPCs[0].SGs[len(n.VPCs[0].SGs)-1]
	if g.Name != "ga" || len(g.Ingress) != 1 || g.Ingress[0].Group == nil || g.Ingress[0].Group.Name != "gb" || !n.StaleRule(g, g.Ingress[0]) {
		t.Fatalf("reloaded: %+v", g)
	}
	// A stale rule's group is still referenced: it cannot be deleted.
	refused(t, d, "DeleteSecurityGroup", `{"GroupId": "`+gb.ID+`"}`, "DependencyViolation")
	callOK(t, d, "RevokeSecurityGroupIngress", perm(`{"GroupId": "`+gb.ID+`"}`))
	callOK(t, d, "DeleteSecurityGroup", `{"GroupId": "`+gb.ID+`"}`)
	// Nor can its VPC go, with its default group, while a rule names that.
	refused(t, d, "DeleteVpc", `{"VpcId": "b"}`, "DependencyViolation")
	callOK(t, d, "RevokeSecurityGroupEgress", `{"GroupId": "`+ga.ID+`", "IpPermissions": [{"IpProtocol": "udp", "FromPort": 53, "ToPort": 53,
		"UserIdGroupPairs": [{"GroupId": "`+gb.VPC.DefaultSG.ID+`"}]}]}`)
	callOK(t, d, "DeleteVpc", `{"VpcId": "b"}`)

	// While the peering is pending, no reference.
	p := rulesSvc(t, peeredTopo(`, "status": "pending-acceptance"`))
	refused(t, p, "AuthorizeSecurityGroupIngress", `{"GroupId": "ga", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
		"UserIdGroupPairs": [{"GroupId": "`+sgNamed(p, "gb").ID+`"}]}]}`, "InvalidGroup.NotFound")
}

// PEER-4 in the file: a group of a peered VPC by its name, a peered VPC's
// default group with source_vpc; a group of a VPC no peering joins is an
// error, unless the rule says stale (as export writes a rule whose peering
// is gone): it loads, with a warning, and matches nothing; a source_vpc
// that names no VPC is an error.
func TestPEER4_FileRules(t *testing.T) {
	rule := func(src string) string {
		return strings.Replace(peeredTopo(""), `{"name": "ga"}`, `{"name": "ga", "ingress": [`+src+`]}`, 1)
	}
	for _, c := range []struct {
		name, src string
		stale     bool
		err       string
	}{
		{"peered group", `{"protocol": "tcp", "ports": "80", "source": "gb"}`, false, ""},
		{"peered default group", `{"protocol": "tcp", "ports": "80", "source": "default", "source_vpc": "b"}`, false, ""},
		{"own default group", `{"protocol": "tcp", "ports": "80", "source": "default"}`, false, ""},
		{"not peered", `{"protocol": "tcp", "ports": "80", "source": "gc"}`, false, `no peering joins them (PEER-4`},
		{"stale", `{"protocol": "tcp", "ports": "80", "source": "gc", "stale": true}`, true, ""},
		{"unknown vpc", `{"protocol": "tcp", "ports": "80", "source": "default", "source_vpc": "zz"}`, false, `source_vpc: vpc "zz" not found (PEER-4)`},
		{"group not in that vpc", `{"protocol": "tcp", "ports": "80", "source": "gc", "source_vpc": "b"}`, false, `vpc "c", not in vpc "b"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			n, err := topology.Load([]byte(rule(c.src)))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("got %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ga := n.VPCs[0].SGs[len(n.VPCs[0].SGs)-1]
			if len(ga.Ingress) != 1 || ga.Ingress[0].Group == nil || n.StaleRule(ga, ga.Ingress[0]) != c.stale {
				t.Fatalf("rule %+v, stale %v", ga.Ingress, n.StaleRule(ga, ga.Ingress[0]))
			}
			if c.stale != strings.Contains(strings.Join(n.Warnings, "\n"), "PEER-4") {
				t.Fatalf("warnings: %v", n.Warnings)
			}
			// And it exports as it was written.
			b, _ := json.Marshal(topology.Export(n))
			m, err := topology.Load(b)
			if err != nil {
				t.Fatalf("the export does not load: %v", err)
			}
			gm := m.VPCs[0].SGs[len(m.VPCs[0].SGs)-1]
			if gm.Ingress[0].Group.ID != ga.Ingress[0].Group.ID {
				t.Fatalf("exported as %s, was %s", gm.Ingress[0].Group.ID, ga.Ingress[0].Group.ID)
			}
		})
	}
}
