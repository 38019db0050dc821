package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vpcnet/vpcnet/topology"
)

// badBase is a valid topology (TestBadFilesRefused brings it up first);
// each case below breaks one rule in it. Its shape follows the unit tests'
// base in topology/topology_test.go: a second VPC w gives the "of another
// VPC" cases something to point at.
const badBase = `{
  "name": "NAME", "region": "us-east-1",
  "address_pools": [{"name": "amz", "cidrs": ["3.34.0.0/16"], "network_border_group": "us-east-1"}],
  "elastic_ips": [{"name": "e1", "pool": "amz"}, {"name": "e2", "address": "3.34.9.9"}],
  "internet": {"hosts": [{"name": "h1", "ip": "203.0.113.80"}]},
  "vpcs": [{
    "name": "v", "cidr": "10.2.0.0/16", "internet_gateway": "igw",
    "subnets": [
      {"name": "a", "cidr": "10.2.1.0/24", "az": "us-east-1a", "route_table": "rt"},
      {"name": "b", "cidr": "10.2.2.0/24", "az": "us-east-1b", "network_acl": "acl"}
    ],
    "route_tables": [{"name": "rt", "routes": [{"destination": "0.0.0.0/0", "target": "igw"}]}],
    "nat_gateways": [{"name": "nat", "subnet": "a", "elastic_ip": "e2"}],
    "security_groups": [{"name": "web", "ingress": [{"protocol": "tcp", "ports": "80", "source": "0.0.0.0/0"}]}],
    "network_acls": [{"name": "acl", "ingress": [{"rule": 100, "protocol": "all", "cidr": "0.0.0.0/0", "action": "allow"}]}],
    "network_interfaces": [{"name": "x", "subnet": "a"}],
    "instances": [
      {"name": "i1", "subnet": "a", "private_ip": "10.2.1.10", "security_groups": ["web"], "elastic_ip": "e1", "network_interfaces": ["x"]},
      {"name": "i2", "subnet": "b"}
    ]
  }, {
    "name": "w", "cidr": "10.9.0.0/16", "internet_gateway": "igw-w",
    "subnets": [{"name": "wa", "cidr": "10.9.1.0/24", "az": "us-east-1a"}],
    "security_groups": [{"name": "wsg"}],
    "network_acls": [{"name": "wacl"}],
    "network_interfaces": [{"name": "wx", "subnet": "wa"}],
    "instances": [{"name": "wi", "subnet": "wa"}]
  }]
}`

// TestBadFilesRefused: every broken file is refused by `vpcnet up` with
// exit 2, an error line `path: message (RULE)` naming the JSON path and the
// rule it breaks, and nothing created: no namespace, no state folder, no
// /etc/netns entry. There is at least one file per rule id that topology/
// enforces (FORMAT, ADDR-1, ADDR-2, ADDR-5, ENI-1, ENI-2, ENI-6, INST-1,
// RT-1..4, EIP-1, EIP-2, EIP-4, NAT-1, NAT-3, NAT-4, SG-3, SG-4, SG-6, SG-7,
// NACL-2, NACL-3, NACL-5, IGW-4, OBS-1), and for duplicate names, duplicate
// IPs, unknown references, unknown fields and malformed JSON.
func TestBadFilesRefused(t *testing.T) {
	RequireRoot(t)
	t.Run("base comes up", func(t *testing.T) {
		tp := Up(t, badBase)
		if got := instanceNamespaces(tp.Name + "-"); len(got) != 4 { // i1, i2, wi, h1
			t.Fatalf("namespaces of the base: %v, want 4", got)
		}
	})
	// e applies old→new edits to badBase, each of which must match.
	e := func(pairs ...string) string {
		s := badBase
		for i := 0; i+1 < len(pairs); i += 2 {
			if !strings.Contains(s, pairs[i]) {
				t.Fatalf("edit: %q not in badBase", pairs[i])
			}
			s = strings.Replace(s, pairs[i], pairs[i+1], 1)
		}
		return s
	}
	const settings = `"region": "us-east-1",`
	cases := []struct {
		name string
		file string
		path string // a line of the output starts with this path…
		rule string // …ends with (rule)…
		msg  string // …and contains this
	}{
		// FORMAT: syntax, shape, names.
		{"FORMAT malformed JSON", `{"name": "NAME", "vpcs": [`, "vpcs", topology.RuleFormat, "line 1:"},
		{"FORMAT unknown field", e(`"az": "us-east-1b"`, `"az": "us-east-1b", "cidrr": "x"`), "vpcs[0].subnets[1]", topology.RuleFormat, `unknown field "cidrr"`},
		{"FORMAT unknown top-level field", e(`"region"`, `"regoin": "x", "region"`), "", topology.RuleFormat, `unknown field "regoin"`},
		{"FORMAT wrong type", e(`"cidr": "10.2.0.0/16"`, `"cidr": 10`), "vpcs[0].cidr", topology.RuleFormat, "string"},
		{"FORMAT duplicate name", e(`{"name": "wsg"}`, `{"name": "i1"}`), "vpcs[1].security_groups[0].name", topology.RuleFormat, "already used"},

		// ADDR-1, ADDR-2, ADDR-5.
		{"ADDR-1 subnet outside VPC", e(`"cidr": "10.2.2.0/24"`, `"cidr": "10.3.2.0/24"`), "vpcs[0].subnets[1].cidr", "ADDR-1", "not inside"},
		{"ADDR-1 VPC too large", e(`"cidr": "10.9.0.0/16"`, `"cidr": "10.0.0.0/8"`), "vpcs[1].cidr", "ADDR-1", "/16 to /28"},
		{"ADDR-2 reserved address", e(`"private_ip": "10.2.1.10"`, `"private_ip": "10.2.1.1"`), "vpcs[0].instances[0].private_ip", "ADDR-2", "reserved"},
		{"ADDR-5 private pool", e(`"cidrs": ["3.34.0.0/16"]`, `"cidrs": ["3.34.0.0/16", "192.168.0.0/24"]`), "address_pools[0].cidrs[1]", "ADDR-5", "not public"},

		// ENI-1, ENI-2, ENI-6, INST-1.
		{"ENI-1 address outside subnet", e(`"private_ip": "10.2.1.10"`, `"private_ip": "10.2.2.10"`), "vpcs[0].instances[0].private_ip", "ENI-1", "not in subnet"},
		{"ENI-1 duplicate IP", e(`{"name": "x", "subnet": "a"}`, `{"name": "x", "subnet": "a", "private_ip": "10.2.1.10"}`), "vpcs[0].instances[0].private_ip", "ENI-1", "already used"},
		{"ENI-2 unknown group", e(`"security_groups": ["web"]`, `"security_groups": ["nope"]`), "vpcs[0].instances[0].security_groups[0]", "ENI-2", "not found"},
		{"ENI-2 group of another VPC", e(`"security_groups": ["web"]`, `"security_groups": ["wsg"]`), "vpcs[0].instances[0].security_groups[0]", "ENI-2", `in vpc "w"`},
		{"ENI-6 other AZ", e(`{"name": "x", "subnet": "a"}`, `{"name": "x", "subnet": "b"}`), "vpcs[0].instances[0].network_interfaces[0]", "ENI-6", `eni "x" is in us-east-1b, instance "i1" in us-east-1a`},
		{"ENI-6 other VPC", e(`"network_interfaces": ["x"]`, `"network_interfaces": ["wx"]`), "vpcs[0].instances[0].network_interfaces[0]", "ENI-6", `in vpc "w"`},
		{"ENI-6 unknown ENI", e(`"network_interfaces": ["x"]`, `"network_interfaces": ["zz"]`), "vpcs[0].instances[0].network_interfaces[0]", "ENI-6", "not found"},
		{"INST-1 subnet of another VPC", e(`{"name": "i2", "subnet": "b"}`, `{"name": "i2", "subnet": "wa"}`), "vpcs[0].instances[1].subnet", "INST-1", `in vpc "w"`},
		{"INST-1 unknown subnet", e(`{"name": "i2", "subnet": "b"}`, `{"name": "i2", "subnet": "nope"}`), "vpcs[0].instances[1].subnet", "INST-1", "not found"},
		{"INST-1 AZ outside the region", e(`"az": "us-east-1b"`, `"az": "eu-west-1b"`), "vpcs[0].subnets[1].az", "INST-1", "not in region"},

		// RT-1..4.
		{"RT-1 route replaces local", e(`"destination": "0.0.0.0/0"`, `"destination": "10.2.0.0/16"`), "vpcs[0].route_tables[0].routes[0].destination", "RT-1", "local"},
		{"RT-2 duplicate destination", e(`{"destination": "0.0.0.0/0", "target": "igw"}`, `{"destination": "0.0.0.0/0", "target": "igw"}, {"destination": "0.0.0.0/0", "target": "nat"}`),
			"vpcs[0].route_tables[0].routes[1].destination", "RT-2", "already routed"},
		{"RT-3 unknown target", e(`"target": "igw"`, `"target": "nowhere"`), "vpcs[0].route_tables[0].routes[0].target", "RT-3", `"nowhere" not found`},
		{"RT-3 IGW of another VPC", e(`"target": "igw"`, `"target": "igw-w"`), "vpcs[0].route_tables[0].routes[0].target", "RT-3", `in vpc "w"`},
		{"RT-4 partial subnet", e(`"destination": "0.0.0.0/0", "target": "igw"`, `"destination": "10.2.2.0/25", "target": "x"`), "vpcs[0].route_tables[0].routes[0].destination", "RT-4", "whole subnet"},

		// EIP-1, EIP-2, EIP-4.
		{"EIP-1 address in no pool", e(`"address": "3.34.9.9"`, `"address": "4.4.4.4"`), "elastic_ips[1].address", "EIP-1", "no address pool"},
		{"EIP-1 duplicate address", e(`{"name": "e1", "pool": "amz"}`, `{"name": "e1", "address": "3.34.9.9"}`), "elastic_ips[1].address", "EIP-1", "already used"},
		{"EIP-2 associated twice", e(`{"name": "i2", "subnet": "b"}`, `{"name": "i2", "subnet": "b", "elastic_ip": "e1"}`), "vpcs[0].instances[1].elastic_ip", "EIP-2", "already associated"},
		{"EIP-2 unknown EIP", e(`"elastic_ip": "e1"`, `"elastic_ip": "e9"`), "vpcs[0].instances[0].elastic_ip", "EIP-2", "not found"},
		{"EIP-4 other border group", e(`"network_border_group": "us-east-1"`, `"network_border_group": "eu-west-1"`), "elastic_ips[0].pool", "EIP-4", "eu-west-1"},

		// NAT-1, NAT-3, NAT-4.
		{"NAT-1 public without EIP", e(`"subnet": "a", "elastic_ip": "e2"`, `"subnet": "a"`), "vpcs[0].nat_gateways[0]", "NAT-1", "elastic_ip"},
		{"NAT-1 unknown subnet", e(`"subnet": "a", "elastic_ip": "e2"`, `"subnet": "q", "elastic_ip": "e2"`), "vpcs[0].nat_gateways[0].subnet", "NAT-1", "not found"},
		{"NAT-3 limit out of range", e(settings, settings+` "settings": {"nat_max_connections_per_destination": 70000},`), "settings.nat_max_connections_per_destination", "NAT-3", ""},
		{"NAT-4 idle timeout out of range", e(settings, settings+` "settings": {"nat_idle_timeout_seconds": 0},`), "settings.nat_idle_timeout_seconds", "NAT-4", ""},

		// SG-3, SG-4, SG-6, SG-7.
		{"SG-3 bad protocol", e(`"protocol": "tcp"`, `"protocol": "tcpp"`), "vpcs[0].security_groups[0].ingress[0].protocol", "SG-3", ""},
		{"SG-3 unknown peer group", e(`"source": "0.0.0.0/0"`, `"source": "nope"`), "vpcs[0].security_groups[0].ingress[0].source", "SG-3", "not found"},
		{"SG-4 conntrack table size", e(settings, settings+` "settings": {"conntrack_max": 0},`), "settings.conntrack_max", "SG-4", ""},
		{"SG-6 TCP timeout too short", e(`{"name": "i2", "subnet": "b"}`, `{"name": "i2", "subnet": "b", "connection_tracking": {"tcp_established": 10}}`),
			"vpcs[0].instances[1].connection_tracking.tcp_established", "SG-6", "60–432000"},
		{"SG-7 default group given twice", e(`"security_groups": [{"name": "web",`, `"security_groups": [{"name": "default"}, {"name": "default"}, {"name": "web",`),
			"vpcs[0].security_groups[1].name", "SG-7", "default"},

		// NACL-2, NACL-3, NACL-5.
		{"NACL-2 rule number 0", e(`"rule": 100`, `"rule": 0`), "vpcs[0].network_acls[0].ingress[0].rule", "NACL-2", "1–32766"},
		{"NACL-3 default ACL given twice", e(`"network_acls": [{"name": "acl"`, `"network_acls": [{"name": "default"}, {"name": "default"}, {"name": "acl"`),
			"vpcs[0].network_acls[1].name", "NACL-3", "default"},
		{"NACL-5 ACL of another VPC", e(`"network_acl": "acl"`, `"network_acl": "wacl"`), "vpcs[0].subnets[1].network_acl", "NACL-5", `in vpc "w"`},

		// IGW-4, OBS-1.
		{"IGW-4 private internet host", e(`"ip": "203.0.113.80"`, `"ip": "192.168.1.1"`), "internet.hosts[0].ip", "IGW-4", "not public"},
		{"IGW-4 duplicate host IP", e(`{"name": "h1", "ip": "203.0.113.80"}`, `{"name": "h1", "ip": "203.0.113.80"}, {"name": "h2", "ip": "203.0.113.80"}`), "internet.hosts[1].ip", "IGW-4", "already used"},
		{"OBS-1 flow logs without path", e(settings, settings+` "flow_logs": {"aggregation_seconds": 60},`), "flow_logs.path", "OBS-1", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name := randName()
			path := filepath.Join(t.TempDir(), "bad.json")
			if err := os.WriteFile(path, []byte(strings.ReplaceAll(c.file, "NAME", name)), 0o644); err != nil {
				t.Fatal(err)
			}
			out, code := vpcnet(t, "up", path)
			if code == 0 {
				vpcnet(t, "down", name)
				t.Fatalf("accepted a bad file: %s", out)
			}
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			found := false
			for _, l := range strings.Split(out, "\n") {
				found = found || (strings.HasPrefix(l, c.path) && strings.HasSuffix(l, "("+c.rule+")") && strings.Contains(l, c.msg))
			}
			if !found {
				t.Errorf("no line `%s…%s… (%s)` in:\n%s", c.path, c.msg, c.rule, out)
			}
			if left := namespacesWithPrefix(name + "-"); len(left) > 0 {
				t.Errorf("namespaces created: %v", left)
			}
			if _, err := os.Stat(filepath.Join("/run/vpcnet", name)); !os.IsNotExist(err) {
				t.Errorf("state folder created (%v)", err)
			}
			if m, _ := filepath.Glob(filepath.Join("/etc/netns", name+"-*")); len(m) > 0 {
				t.Errorf("/etc/netns entries created: %v", m)
			}
		})
	}
}
