package topology

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// sgTopo is a small VPC whose group "app" has the ingress rules given and
// whose ENI "e" has the groups given; eips Elastic IPs of the pool.
func sgTopo(ingress []string, groups []string, eips int) string {
	var es []string
	for i := range eips {
		es = append(es, fmt.Sprintf(`{"name": "eip%d", "pool": "amz"}`, i))
	}
	var gs []string
	for _, g := range groups {
		gs = append(gs, `{"name": "`+g+`"}`)
	}
	names, _ := json.Marshal(groups)
	return `{"name": "sgq", "region": "us-east-1",
	  "address_pools": [{"name": "amz", "cidrs": ["3.34.0.0/16"]}],
	  "elastic_ips": [` + strings.Join(es, ",") + `],
	  "vpcs": [{"name": "v", "cidr": "10.5.0.0/16",
	    "subnets": [{"name": "s", "cidr": "10.5.1.0/24", "az": "us-east-1a"}],
	    "security_groups": [{"name": "app", "ingress": [` + strings.Join(ingress, ",") + `]}` + strings.Repeat(",", min(1, len(gs))) + strings.Join(gs, ",") + `],
	    "network_interfaces": [{"name": "e", "subnet": "s", "security_groups": ` + string(names) + `}]}]}`
}

func tcpRules(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf(`{"protocol": "tcp", "ports": "%d", "source": "0.0.0.0/0"}`, 1000+i))
	}
	return out
}

// TestQUOTA1_FileHeldToTheQuotas: a file may not hold more than the
// account's quotas allow through the API: 60 inbound rules per group, 5
// groups per interface, 5 Elastic IPs (QUOTA-1); each refusal names its
// path; at the quota it loads; a raised quota lets more load.
func TestQUOTA1_FileHeldToTheQuotas(t *testing.T) {
	five := []string{"g1", "g2", "g3", "g4", "g5"}
	if _, err := Load([]byte(sgTopo(tcpRules(60), five, 5))); err != nil {
		t.Fatalf("at every quota: %v", err)
	}
	for _, c := range []struct{ name, topo, path string }{
		{"61 inbound rules", sgTopo(tcpRules(61), five, 5), "vpcs[0].security_groups[0].ingress"},
		{"6 groups on an interface", sgTopo(nil, append(five, "g6"), 0), "vpcs[0].network_interfaces[0].security_groups"},
		{"6 Elastic IPs", sgTopo(nil, nil, 6), "elastic_ips"},
	} {
		_, err := Load([]byte(c.topo))
		if err == nil || !strings.Contains(err.Error(), c.path+":") || !strings.Contains(err.Error(), "QUOTA-1") {
			t.Errorf("%s: %v, want an error at %s naming QUOTA-1", c.name, err, c.path)
		}
	}
	raised := strings.Replace(sgTopo(tcpRules(61), append(five, "g6"), 6), `"region": "us-east-1",`,
		`"region": "us-east-1", "settings": {"quotas": {"rules_per_security_group": 61, "security_groups_per_eni": 6, "elastic_ips": 6}},`, 1)
	if _, err := Load([]byte(raised)); err != nil {
		t.Errorf("with the quotas raised: %v", err)
	}
}

// TestSG3_RuleIDsInTheFile: a rule's id is derived from its group,
// direction and content unless the file gives it ("id", as export writes
// it for a rule that kept its id through a modification); a given id must
// have the form sgr- and 17 hex digits and be unique, and a derived id
// another rule holds is re-derived. Export writes back exactly the ids
// that are not derived.
func TestSG3_RuleIDsInTheFile(t *testing.T) {
	n, err := Load([]byte(sgTopo(tcpRules(2), nil, 0)))
	if err != nil {
		t.Fatal(err)
	}
	g := n.VPCs[0].SGs[1]
	if g.Name != "app" {
		t.Fatalf("group %s", g.Name)
	}
	id0, id1 := n.SGRuleID(g, false, g.Ingress[0]), n.SGRuleID(g, false, g.Ingress[1])
	if !ValidSGRuleID(id0) || id0 == id1 || g.Ingress[0].ID != "" || n.SGRuleID(g, true, g.Ingress[0]) == id0 {
		t.Fatalf("derived ids %s %s (egress %s), stored %q", id0, id1, n.SGRuleID(g, true, g.Ingress[0]), g.Ingress[0].ID)
	}
	// Rule 1 says port 2000 but keeps rule 0's old id, as after a
	// modification; a rule 0 of port 1000 again then needs another id.
	withID := sgTopo([]string{`{"protocol": "tcp", "ports": "1000", "source": "0.0.0.0/0"}`,
		`{"protocol": "tcp", "ports": "2000", "source": "0.0.0.0/0", "id": "` + id0 + `"}`}, nil, 0)
	m, err := Load([]byte(withID))
	if err != nil {
		t.Fatal(err)
	}
	h := m.VPCs[0].SGs[1]
	a, b := m.SGRuleID(h, false, h.Ingress[0]), m.SGRuleID(h, false, h.Ingress[1])
	if b != id0 || a == id0 || !ValidSGRuleID(a) {
		t.Fatalf("ids %s %s, want the file's %s for the second and another for the first", a, b, id0)
	}
	out, _ := json.Marshal(Export(m))
	back, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	k := back.VPCs[0].SGs[1]
	if x, y := back.SGRuleID(k, false, k.Ingress[0]), back.SGRuleID(k, false, k.Ingress[1]); x != a || y != b {
		t.Errorf("after export and load: %s %s, want %s %s\n%s", x, y, a, b, out)
	}
	if plain, _ := json.Marshal(Export(n)); strings.Contains(string(plain), `"id"`) {
		t.Errorf("export wrote derived ids: %s", plain)
	}
	for _, c := range []struct{ name, id, msg string }{
		{"not an id", "sgr-xyz", "not a security group rule id"},
		{"twice", id0, "already the id of"},
	} {
		bad := sgTopo([]string{`{"protocol": "tcp", "ports": "1000", "source": "0.0.0.0/0", "id": "` + id0 + `"}`,
			`{"protocol": "tcp", "ports": "2000", "source": "0.0.0.0/0", "id": "` + c.id + `"}`}, nil, 0)
		if _, err := Load([]byte(bad)); err == nil || !strings.Contains(err.Error(), "vpcs[0].security_groups[0].ingress[1].id") ||
			!strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
