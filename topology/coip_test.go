package topology

import (
	"encoding/json"
	"strings"
	"testing"
)

const coipOutpost = "arn:aws:outposts:us-east-1:123456789012:outpost/op-0123456789abcdef0"

// coipFile: a local gateway with on-premises hosts ONPREM.
func coipFile(onprem string) string {
	return `{"name": "c", "region": "us-east-1",
  "address_pools": [{"name": "onprem", "cidrs": ["45.60.50.0/24"], "kind": "coip"}],
  "local_gateways": [{"name": "lgw", "outpost_arn": "` + coipOutpost + `", "coip_pools": ["onprem"], "on_premises": ` + onprem + `}],
  "internet": {"hosts": [{"name": "inet", "ip": "203.0.113.80"}]},
  "vpcs": [{"name": "v", "cidr": "10.0.0.0/16", "secondary_cidrs": ["10.1.0.0/16"],
    "subnets": [{"name": "op", "cidr": "10.0.1.0/24", "az": "us-east-1a", "outpost_arn": "` + coipOutpost + `"}],
    "instances": [{"name": "edge", "subnet": "op"}]}]}`
}

// COIP-4: on-premises hosts have namespaces and MACs like internet hosts,
// and export writes them back.
func TestCOIP4_OnPremisesHosts(t *testing.T) {
	n, err := Load([]byte(coipFile(`[{"name": "db", "ip": "10.100.0.5", "user_data": "sleep 1"}, {"name": "pc", "ip": "192.168.7.7"}]`)))
	if err != nil {
		t.Fatal(err)
	}
	hs := n.OnPremHosts()
	if len(hs) != 2 || hs[0].Namespace != "c-db" || hs[0].IP.String() != "10.100.0.5" || len(hs[0].MAC) != 6 || hs[0].UserData != "sleep 1" {
		t.Fatalf("on-premises hosts %+v", hs)
	}
	if string(hs[0].MAC) == string(hs[1].MAC) || string(hs[0].MAC) == string(n.Hosts[0].MAC) {
		t.Fatal("on-premises hosts share a MAC")
	}
	b, _ := json.Marshal(Export(n))
	n2, err := Load(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := n2.OnPremHosts(); len(got) != 2 || got[1].Name != "pc" || got[1].IP != hs[1].IP || got[0].UserData != "sleep 1" {
		t.Fatalf("after export: %+v", got)
	}
	if names := n.CoIPNames(); strings.Join(names, ",") != "lgw,db,pc" {
		t.Errorf("names %v", names)
	}
}

// COIP-4: the file's refusals, each with its path and rule.
func TestCOIP4_OnPremisesChecks(t *testing.T) {
	for _, c := range []struct{ name, onprem, path, rule string }{
		{"in the vpc cidr", `[{"name": "db", "ip": "10.0.9.9"}]`, "local_gateways[0].on_premises[0].ip", "COIP-4"},
		{"in a secondary cidr", `[{"name": "db", "ip": "10.1.0.9"}]`, "local_gateways[0].on_premises[0].ip", "COIP-4"},
		{"in the coip pool", `[{"name": "db", "ip": "45.60.50.9"}]`, "local_gateways[0].on_premises[0].ip", "COIP-4"},
		{"twice", `[{"name": "db", "ip": "10.100.0.5"}, {"name": "db2", "ip": "10.100.0.5"}]`, "local_gateways[0].on_premises[1].ip", "COIP-4"},
		{"multicast", `[{"name": "db", "ip": "224.0.0.5"}]`, "local_gateways[0].on_premises[0].ip", "COIP-4"},
		{"loopback", `[{"name": "db", "ip": "127.0.0.1"}]`, "local_gateways[0].on_premises[0].ip", "COIP-4"},
		{"not an address", `[{"name": "db", "ip": "db.local"}]`, "local_gateways[0].on_premises[0].ip", RuleFormat},
		{"a name taken", `[{"name": "inet", "ip": "10.100.0.5"}]`, "local_gateways[0].on_premises[0].name", RuleFormat},
		{"a name no namespace takes", `[{"name": "d b", "ip": "10.100.0.5"}]`, "local_gateways[0].on_premises[0].name", RuleFormat},
	} {
		_, err := Load([]byte(coipFile(c.onprem)))
		if err == nil || !strings.Contains(err.Error(), c.path) || !strings.Contains(err.Error(), c.rule) {
			t.Errorf("%s: %v, want %s at %s", c.name, err, c.rule, c.path)
		}
	}
}
