package topology

import (
	"errors"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// base is a valid topology exercising most features; bad cases break one
// rule of it at a time.
const base = `{
  "name": "t", "region": "us-east-1",
  "address_pools": [{"name": "amz", "cidrs": ["3.34.0.0/16"]}],
  "elastic_ips": [{"name": "e1", "pool": "amz"}, {"name": "e2", "address": "3.34.9.9"}],
  "internet": {"hosts": [{"name": "h1", "ip": "54.239.30.25"}]},
  "vpcs": [{
    "name": "v", "cidr": "10.0.0.0/16", "internet_gateway": "igw",
    "subnets": [
      {"name": "a", "cidr": "10.0.1.0/24", "az": "us-east-1a", "route_table": "rt", "map_public_ip_on_launch": true},
      {"name": "b", "cidr": "10.0.2.0/24", "az": "us-east-1b", "network_acl": "acl"},
      {"name": "c", "cidr": "10.0.3.0/24", "az": "us-east-1a"}
    ],
    "route_tables": [{"name": "rt", "routes": [{"destination": "0.0.0.0/0", "target": "igw"}]}],
    "nat_gateways": [{"name": "nat", "subnet": "a", "elastic_ip": "e2"}],
    "security_groups": [{"name": "web", "ingress": [{"protocol": "tcp", "ports": "80", "source": "0.0.0.0/0"}]}],
    "network_acls": [{"name": "acl", "ingress": [{"rule": 100, "protocol": "all", "cidr": "0.0.0.0/0", "action": "allow"}]}],
    "network_interfaces": [{"name": "x", "subnet": "a"}],
    "instances": [
      {"name": "i1", "subnet": "a", "private_ip": "10.0.1.10", "security_groups": ["web"], "elastic_ip": "e1", "network_interfaces": ["x"]},
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

// edit returns s with each old→new pair replaced exactly once.
func edit(t testing.TB, s string, pairs ...string) string {
	t.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("edit: %q not in file", pairs[i])
		}
		s = strings.Replace(s, pairs[i], pairs[i+1], 1)
	}
	return s
}

func mustLoad(t testing.TB, s string) *Network {
	t.Helper()
	n, err := Load([]byte(s))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return n
}

func TestBaseLoads(t *testing.T) { mustLoad(t, base) }

func TestDefaultLoads(t *testing.T) {
	n := mustLoad(t, string(Default()))
	if n.Name != "ch5" || n.Region != "ap-northeast-2" {
		t.Fatalf("name/region = %q/%q", n.Name, n.Region)
	}
	if len(n.Warnings) != 0 {
		t.Errorf("warnings: %v", n.Warnings)
	}
	web := n.InstanceByName["web"]
	if web == nil || web.Primary().PrimaryIP != netip.MustParseAddr("92.75.100.10") {
		t.Fatalf("web: %+v", web)
	}
	// EIP-2: eip-web, first free of pool amazon, replaces the auto-assigned IP.
	if got := web.Primary().PublicIPs[web.Primary().PrimaryIP]; got != netip.MustParseAddr("13.125.0.1") {
		t.Errorf("web public IP = %v, want 13.125.0.1", got)
	}
	if len(web.ENIs) != 2 || web.ENIs[1].Name != "eni-extra" || web.ENIs[1].DeviceIndex != 1 {
		t.Errorf("web ENIs: %v", web.ENIs)
	}
	v := n.VPCs[0]
	if v.NATs[0].EIP == nil || v.NATs[0].EIP.Addr != netip.MustParseAddr("13.125.190.82") {
		t.Errorf("nat EIP: %+v", v.NATs[0].EIP)
	}
	if s := v.Subnets[1]; s.NACL.Name != "acl-db" || s.RouteTable.Name != "rt-private" {
		t.Errorf("PRI-DB-2a: nacl %q rt %q", s.NACL.Name, s.RouteTable.Name)
	}
	// Default() returns a copy.
	d := Default()
	d[0] = 'x'
	if Default()[0] != '{' {
		t.Error("Default shares its buffer")
	}
}

// badCase breaks one rule of base.
type badCase struct {
	name string
	file string
	path string // the error's JSON path starts with this
	rule string
	msg  string // optional substring of the message
}

func badCases(t testing.TB) []badCase {
	e := func(pairs ...string) string { return edit(t, base, pairs...) }
	return []badCase{
		// FORMAT: syntax and shape.
		{"FORMAT malformed JSON", `{"name": "t", "vpcs": [`, "vpcs", RuleFormat, "line 1:"},
		{"FORMAT malformed JSON line:col", "{\n  \"name\": \"t\",\n  \"vpcs\": [}\n}", "vpcs", RuleFormat, "line 3:"},
		{"FORMAT unknown field", e(`"az": "us-east-1b"`, `"az": "us-east-1b", "cidrr": "x"`), "vpcs[0].subnets[1]", RuleFormat, `unknown field "cidrr"`},
		{"FORMAT unknown top-level field", e(`"region"`, `"regoin": "x", "region"`), "", RuleFormat, `unknown field "regoin"`},
		{"FORMAT wrong type", e(`"cidr": "10.0.0.0/16"`, `"cidr": 10`), "vpcs[0].cidr", RuleFormat, "must be a string"},
		{"FORMAT non-integer", e(`"rule": 100`, `"rule": 100.5`), "vpcs[0].network_acls[0].ingress[0].rule", RuleFormat, "integer"},
		{"FORMAT duplicate key", e(`"name": "i2", "subnet": "b"`, `"name": "i2", "subnet": "b", "subnet": "a"`), "vpcs[0].instances[1]", RuleFormat, "duplicate"},
		{"FORMAT trailing data", base + "{}", "", RuleFormat, "trailing"},
		{"FORMAT top-level name missing", e(`"name": "t", `, ``), "name", RuleFormat, "required"},
		{"FORMAT top-level name pattern", e(`"name": "t", `, `"name": "Too_Long_Name", `), "name", RuleFormat, "[a-z0-9-]{1,12}"},
		{"FORMAT duplicate name", e(`{"name": "c", "cidr"`, `{"name": "web", "cidr"`), "vpcs[0].security_groups[0].name", RuleFormat, `"web" is already used by the subnet at vpcs[0].subnets[2].name`},
		{"FORMAT reserved name", e(`{"name": "x", "subnet": "a"}`, `{"name": "blackhole", "subnet": "a"}`), "vpcs[0].network_interfaces[0].name", RuleFormat, "reserved"},
		{"FORMAT instance name not a namespace", e(`"name": "i2"`, `"name": "i 2"`), "vpcs[0].instances[1].name", RuleFormat, "namespace"},
		{"FORMAT bad region", e(`"region": "us-east-1"`, `"region": "US East"`), "region", RuleFormat, ""},
		{"FORMAT peering one vpc", e(`"vpcs": [{`, `"peerings": [{"name": "p", "vpcs": ["v"]}], "vpcs": [{`), "peerings[0].vpcs", RuleFormat, "exactly two"},
		{"FORMAT peering overlap", e(`"vpcs": [{`, `"peerings": [{"name": "p", "vpcs": ["v", "w"]}], "vpcs": [{`, `"10.9.0.0/16"`, `"10.0.0.0/16"`, `"10.9.1.0/24"`, `"10.0.1.0/24"`), "peerings[0].vpcs", RuleFormat, "overlap"},
		{"FORMAT peering unknown vpc", e(`"vpcs": [{`, `"peerings": [{"name": "p", "vpcs": ["v", "nope"]}], "vpcs": [{`), "peerings[0].vpcs[1]", RuleFormat, "not found"},
		{"PEER-1 peering status", e(`"vpcs": [{`, `"peerings": [{"name": "p", "vpcs": ["v", "w"], "status": "accepted"}], "vpcs": [{`), "peerings[0].status", "PEER-1", "pending-acceptance"},

		// ADDR-1.
		{"ADDR-1 vpc too large", e(`"cidr": "10.0.0.0/16"`, `"cidr": "10.0.0.0/8"`), "vpcs[0].cidr", "ADDR-1", "/16 to /28"},
		{"ADDR-1 vpc host bits", e(`"cidr": "10.0.0.0/16"`, `"cidr": "10.0.0.1/16"`), "vpcs[0].cidr", "ADDR-1", "host bits"},
		{"ADDR-1 vpc not IPv4", e(`"cidr": "10.0.0.0/16"`, `"cidr": "fd00::/56"`), "vpcs[0].cidr", "ADDR-1", ""},
		{"ADDR-1 vpc loopback", e(`"cidr": "10.9.0.0/16"`, `"cidr": "127.0.0.0/16"`), "vpcs[1].cidr", "ADDR-1", ""},
		{"ADDR-1 subnet outside vpc", e(`"cidr": "10.0.3.0/24"`, `"cidr": "10.3.3.0/24"`), "vpcs[0].subnets[2].cidr", "ADDR-1", "not inside"},
		{"ADDR-1 subnet too small", e(`"cidr": "10.0.3.0/24"`, `"cidr": "10.0.3.0/29"`), "vpcs[0].subnets[2].cidr", "ADDR-1", "/16 to /28"},
		{"ADDR-1 subnet overlap", e(`"cidr": "10.0.3.0/24"`, `"cidr": "10.0.0.0/22"`), "vpcs[0].subnets[2].cidr", "ADDR-1", "overlaps"},

		// ADDR-2.
		{"ADDR-2 router address", e(`"private_ip": "10.0.1.10"`, `"private_ip": "10.0.1.1"`), "vpcs[0].instances[0].private_ip", "ADDR-2", "reserved"},
		{"ADDR-2 network address", e(`"private_ip": "10.0.1.10"`, `"private_ip": "10.0.1.0"`), "vpcs[0].instances[0].private_ip", "ADDR-2", ""},
		{"ADDR-2 broadcast secondary", e(`{"name": "x", "subnet": "a"}`, `{"name": "x", "subnet": "a", "secondary_private_ips": ["10.0.1.255"]}`), "vpcs[0].network_interfaces[0].secondary_private_ips[0]", "ADDR-2", ""},
		{"ADDR-2 NAT private_ip .3", e(`"subnet": "a", "elastic_ip": "e2"`, `"subnet": "a", "elastic_ip": "e2", "private_ip": "10.0.1.3"`), "vpcs[0].nat_gateways[0].private_ip", "ADDR-2", ""},

		// ADDR-5: pools and public addresses.
		{"ADDR-5 pool kind", e(`"cidrs": ["3.34.0.0/16"]`, `"cidrs": ["3.34.0.0/16"], "kind": "rented"`), "address_pools[0].kind", "ADDR-5", ""},
		{"ADDR-5 private pool", e(`"cidrs": ["3.34.0.0/16"]`, `"cidrs": ["3.34.0.0/16", "192.168.0.0/24"]`), "address_pools[0].cidrs[1]", "ADDR-5", "not public"},
		{"ADDR-5 overlapping pools", e(`"cidrs": ["3.34.0.0/16"]`, `"cidrs": ["3.34.0.0/16", "3.34.1.0/24"]`), "address_pools[0].cidrs[1]", "ADDR-5", "overlaps"},
		{"ADDR-5 no pool for auto public IP", e(`"cidrs": ["3.34.0.0/16"]`, `"cidrs": ["3.34.0.0/16"], "network_border_group": "us-east-1-bos-1"`,
			`{"name": "e1", "pool": "amz"}, {"name": "e2", "address": "3.34.9.9"}`, `{"name": "e1", "pool": "amz"}, {"name": "e2", "pool": "amz"}`,
			`"elastic_ip": "e1", `, `"associate_public_ip": true, `), "vpcs[0].instances[0]", "ADDR-5", "no address pool"},

		// ENI-1.
		{"ENI-1 address outside subnet", e(`"private_ip": "10.0.1.10"`, `"private_ip": "10.0.2.10"`), "vpcs[0].instances[0].private_ip", "ENI-1", "not in subnet"},
		{"ENI-1 duplicate address", e(`{"name": "x", "subnet": "a"}`, `{"name": "x", "subnet": "a", "private_ip": "10.0.1.10"}`), "vpcs[0].instances[0].private_ip", "ENI-1", "already used"},
		{"ENI-1 unknown subnet", e(`{"name": "x", "subnet": "a"}`, `{"name": "x", "subnet": "zz"}`), "vpcs[0].network_interfaces[0].subnet", "ENI-1", "not found"},
		{"ENI-1 subnet of another vpc", e(`{"name": "x", "subnet": "a"}`, `{"name": "x", "subnet": "wa"}`), "vpcs[0].network_interfaces[0].subnet", "ENI-1", `in vpc "w"`},
		{"ENI-1 bad address", e(`"private_ip": "10.0.1.10"`, `"private_ip": "10.0.1"`), "vpcs[0].instances[0].private_ip", RuleFormat, ""},

		// ENI-2.
		{"ENI-2 group of another vpc", e(`"security_groups": ["web"]`, `"security_groups": ["wsg"]`), "vpcs[0].instances[0].security_groups[0]", "ENI-2", `in vpc "w"`},
		{"ENI-2 unknown group", e(`"security_groups": ["web"]`, `"security_groups": ["nope"]`), "vpcs[0].instances[0].security_groups[0]", "ENI-2", "not found"},
		{"ENI-2 group listed twice", e(`"security_groups": ["web"]`, `"security_groups": ["web", "web"]`), "vpcs[0].instances[0].security_groups[1]", "ENI-2", "twice"},

		// ENI-3: a NAT gateway entry cannot carry groups or turn the check on.
		{"ENI-3 NAT with security groups", e(`"subnet": "a", "elastic_ip": "e2"`, `"subnet": "a", "elastic_ip": "e2", "security_groups": ["web"]`), "vpcs[0].nat_gateways[0]", RuleFormat, `unknown field "security_groups"`},
		{"ENI-3 NAT with source_dest_check", e(`"subnet": "a", "elastic_ip": "e2"`, `"subnet": "a", "elastic_ip": "e2", "source_dest_check": true`), "vpcs[0].nat_gateways[0]", RuleFormat, `unknown field "source_dest_check"`},

		// ENI-6.
		{"ENI-6 other AZ", e(`{"name": "x", "subnet": "a"}`, `{"name": "x", "subnet": "c"}`, `"cidr": "10.0.3.0/24", "az": "us-east-1a"`, `"cidr": "10.0.3.0/24", "az": "us-east-1c"`),
			"vpcs[0].instances[0].network_interfaces[0]", "ENI-6", `eni "x" is in us-east-1c, instance "i1" in us-east-1a`},
		{"ENI-6 other VPC", e(`"network_interfaces": ["x"]`, `"network_interfaces": ["wx"]`), "vpcs[0].instances[0].network_interfaces[0]", "ENI-6", `in vpc "w"`},
		{"ENI-6 attached to two instances", e(`{"name": "i2", "subnet": "b"}`, `{"name": "i2", "subnet": "a", "network_interfaces": ["x"]}`), "vpcs[0].instances[1].network_interfaces[0]", "ENI-6", `already attached to instance "i1"`},
		{"ENI-6 attached twice to one instance", e(`"network_interfaces": ["x"]`, `"network_interfaces": ["x", "x"]`), "vpcs[0].instances[0].network_interfaces[1]", "ENI-6", "twice"},
		{"ENI-6 not an ENI", e(`"network_interfaces": ["x"]`, `"network_interfaces": ["i2"]`), "vpcs[0].instances[0].network_interfaces[0]", "ENI-6", "is a instance"},
		{"ENI-6 unknown ENI", e(`"network_interfaces": ["x"]`, `"network_interfaces": ["zz"]`), "vpcs[0].instances[0].network_interfaces[0]", "ENI-6", "not found"},

		// INST-1.
		{"INST-1 subnet of another vpc", e(`{"name": "i2", "subnet": "b"}`, `{"name": "i2", "subnet": "wa"}`), "vpcs[0].instances[1].subnet", "INST-1", `in vpc "w"`},
		{"INST-1 unknown subnet", e(`{"name": "i2", "subnet": "b"}`, `{"name": "i2", "subnet": "nope"}`), "vpcs[0].instances[1].subnet", "INST-1", "not found"},
		{"INST-1 az outside region", e(`"az": "us-east-1b"`, `"az": "eu-west-1b"`), "vpcs[0].subnets[1].az", "INST-1", "not in region"},
		{"INST-1 az missing", e(`, "az": "us-east-1b"`, ``), "vpcs[0].subnets[1].az", "INST-1", "required"},

		// RT-1.
		{"RT-1 replace local", e(`"destination": "0.0.0.0/0"`, `"destination": "10.0.0.0/16"`), "vpcs[0].route_tables[0].routes[0].destination", "RT-1", "cannot replace local"},
		{"RT-1 two main tables", e(`"route_tables": [{"name": "rt", `, `"route_tables": [{"name": "m1", "main": true}, {"name": "rt", "main": true, `), "vpcs[0].route_tables[1].main", "RT-1", "already the main table"},
		{"RT-1 target local", e(`"target": "igw"`, `"target": "local"`), "vpcs[0].route_tables[0].routes[0].target", "RT-1", "implicit"},
		{"RT-1 subnet table of another vpc", e(`"subnets": [{"name": "wa"`, `"route_tables": [{"name": "wrt"}], "subnets": [{"name": "wa"`, `"route_table": "rt"`, `"route_table": "wrt"`), "vpcs[0].subnets[0].route_table", "RT-1", `in vpc "w"`},

		// RT-2.
		{"RT-2 duplicate destination", e(`{"destination": "0.0.0.0/0", "target": "igw"}`, `{"destination": "0.0.0.0/0", "target": "igw"}, {"destination": "0.0.0.0/0", "target": "nat"}`), "vpcs[0].route_tables[0].routes[1].destination", "RT-2", "already routed"},

		// RT-3.
		{"RT-3 unknown target", e(`"target": "igw"`, `"target": "nowhere"`), "vpcs[0].route_tables[0].routes[0].target", "RT-3", `"nowhere" not found`},
		{"RT-3 IGW of another vpc", e(`"target": "igw"`, `"target": "igw-w"`), "vpcs[0].route_tables[0].routes[0].target", "RT-3", `in vpc "w"`},
		{"RT-3 target is a subnet", e(`"target": "igw"`, `"target": "b"`), "vpcs[0].route_tables[0].routes[0].target", "RT-3", "is a subnet"},
		{"RT-3 peering not of this vpc", e(`"vpcs": [{`, `"peerings": [{"name": "p", "vpcs": ["w", "x2"]}], "vpcs": [{`, `"target": "igw"`, `"target": "p"`,
			`"instances": [{"name": "wi", "subnet": "wa"}]`, `"instances": [{"name": "wi", "subnet": "wa"}]}, {"name": "x2", "cidr": "10.8.0.0/16"`), "vpcs[0].route_tables[0].routes[0].target", "RT-3", "does not join"},
		{"RT-3 missing target", e(`"target": "igw"`, `"target": ""`), "vpcs[0].route_tables[0].routes[0].target", "RT-3", "required"},
		{"FORMAT bad destination", e(`"destination": "0.0.0.0/0"`, `"destination": "0.0.0.0"`), "vpcs[0].route_tables[0].routes[0].destination", RuleFormat, ""},

		// RT-4.
		{"RT-4 partial subnet", e(`"destination": "0.0.0.0/0", "target": "igw"`, `"destination": "10.0.2.0/25", "target": "x"`), "vpcs[0].route_tables[0].routes[0].destination", "RT-4", "whole subnet"},
		{"RT-4 subnet route to IGW", e(`"destination": "0.0.0.0/0", "target": "igw"`, `"destination": "10.0.2.0/24", "target": "igw"`), "vpcs[0].route_tables[0].routes[0].target", "RT-4", "NAT gateway or a network interface"},

		// EIP-1, EIP-2, EIP-4.
		{"EIP-1 address in no pool", e(`"address": "3.34.9.9"`, `"address": "4.4.4.4"`), "elastic_ips[1].address", "EIP-1", "no address pool"},
		{"EIP-1 unknown pool", e(`"pool": "amz"`, `"pool": "nope"`), "elastic_ips[0].pool", "EIP-1", "not found"},
		{"EIP-1 address used twice", e(`{"name": "e1", "pool": "amz"}`, `{"name": "e1", "address": "3.34.9.9"}`), "elastic_ips[1].address", "EIP-1", "already used"},
		{"EIP-1 pool network address", e(`"address": "3.34.9.9"`, `"address": "3.34.0.0"`), "elastic_ips[1].address", "EIP-1", "network or broadcast"},
		{"EIP-1 address of a host", e(`"address": "3.34.9.9"`, `"address": "3.34.7.7"`, `"ip": "54.239.30.25"`, `"ip": "3.34.7.7"`), "elastic_ips[1].address", "EIP-1", "internet host"},
		{"EIP-2 associated twice", e(`{"name": "i2", "subnet": "b"}`, `{"name": "i2", "subnet": "b", "elastic_ip": "e1"}`), "vpcs[0].instances[1].elastic_ip", "EIP-2", "already associated"},
		{"EIP-2 unknown EIP", e(`"elastic_ip": "e1"`, `"elastic_ip": "e9"`), "vpcs[0].instances[0].elastic_ip", "EIP-2", "not found"},
		{"EIP-2 both instance and interface", e(`{"name": "e1", "pool": "amz"}`, `{"name": "e3", "pool": "amz", "instance": "i2", "network_interface": "x"}, {"name": "e1", "pool": "amz"}`), "elastic_ips[0]", "EIP-2", "not both"},
		{"EIP-2 private_ip of another interface", e(`{"name": "e1", "pool": "amz"}`, `{"name": "e3", "pool": "amz", "network_interface": "x", "private_ip": "10.0.1.10"}, {"name": "e1", "pool": "amz"}`), "elastic_ips[0].private_ip", "EIP-2", "not a private IP"},
		{"EIP-2 private_ip without target", e(`{"name": "e1", "pool": "amz"}`, `{"name": "e3", "pool": "amz", "private_ip": "10.0.1.10"}, {"name": "e1", "pool": "amz"}`), "elastic_ips[0].private_ip", "EIP-2", "needs an instance"},
		{"EIP-2 private IP has an EIP", e(`{"name": "e1", "pool": "amz"}`, `{"name": "e3", "pool": "amz", "instance": "i1"}, {"name": "e1", "pool": "amz"}`), "elastic_ips[0].instance", "EIP-2", "already has elastic IP"},
		{"EIP-2 interface EIP unknown", e(`{"name": "x", "subnet": "a"}`, `{"name": "x", "subnet": "a", "elastic_ip": "e9"}`), "vpcs[0].network_interfaces[0].elastic_ip", "EIP-2", "not found"},
		{"EIP-4 other border group", e(`"cidrs": ["3.34.0.0/16"]`, `"cidrs": ["3.34.0.0/16"], "network_border_group": "eu-west-1"`), "elastic_ips[0].pool", "EIP-4", "eu-west-1"},
		{"EIP-4 fixed address in other border group", e(`"cidrs": ["3.34.0.0/16"]`, `"cidrs": ["3.34.0.0/16"], "network_border_group": "eu-west-1"`), "elastic_ips[1].address", "EIP-4", ""},

		// NAT-1.
		{"NAT-1 public without EIP", e(`"subnet": "a", "elastic_ip": "e2"`, `"subnet": "a"`), "vpcs[0].nat_gateways[0]", "NAT-1", "needs an elastic_ip"},
		{"NAT-1 private with EIP", e(`"subnet": "a", "elastic_ip": "e2"`, `"subnet": "a", "elastic_ip": "e2", "connectivity": "private"`), "vpcs[0].nat_gateways[0].elastic_ip", "NAT-1", "private"},
		{"NAT-1 bad connectivity", e(`"subnet": "a", "elastic_ip": "e2"`, `"subnet": "a", "elastic_ip": "e2", "connectivity": "semi"`), "vpcs[0].nat_gateways[0].connectivity", "NAT-1", ""},
		{"NAT-1 unknown subnet", e(`"subnet": "a", "elastic_ip": "e2"`, `"subnet": "q", "elastic_ip": "e2"`), "vpcs[0].nat_gateways[0].subnet", "NAT-1", "not found"},
		{"NAT-3 settings out of range", e(`"region": "us-east-1",`, `"region": "us-east-1", "settings": {"nat_max_connections_per_destination": 70000},`), "settings.nat_max_connections_per_destination", "NAT-3", ""},
		{"FORMAT forwarder_cpus word", e(`"region": "us-east-1",`, `"region": "us-east-1", "settings": {"forwarder_cpus": "last"},`), "settings.forwarder_cpus", RuleFormat, `"last" is not a CPU number`},
		{"FORMAT forwarder_cpus backwards", e(`"region": "us-east-1",`, `"region": "us-east-1", "settings": {"forwarder_cpus": "3-1"},`), "settings.forwarder_cpus", RuleFormat, "backwards"},
		{"FORMAT forwarder_cpus empty", e(`"region": "us-east-1",`, `"region": "us-east-1", "settings": {"forwarder_cpus": ""},`), "settings.forwarder_cpus", RuleFormat, "empty"},
		{"FORMAT forwarder_cpus number", e(`"region": "us-east-1",`, `"region": "us-east-1", "settings": {"forwarder_cpus": 1},`), "settings.forwarder_cpus", RuleFormat, ""},
		{"busy poll below 0", e(`"region": "us-east-1",`, `"region": "us-east-1", "settings": {"busy_poll_us": -1},`), "settings.busy_poll_us", "FORMAT", ""},
		{"busy poll above 100 ms", e(`"region": "us-east-1",`, `"region": "us-east-1", "settings": {"busy_poll_us": 100001},`), "settings.busy_poll_us", "FORMAT", ""},
		{"NAT-4 settings out of range", e(`"region": "us-east-1",`, `"region": "us-east-1", "settings": {"nat_idle_timeout_seconds": 0},`), "settings.nat_idle_timeout_seconds", "NAT-4", ""},

		// SG-3, SG-6, SG-7.
		{"SG-3 bad protocol", e(`"protocol": "tcp"`, `"protocol": "tcpp"`), "vpcs[0].security_groups[0].ingress[0].protocol", "SG-3", ""},
		{"SG-3 protocol number too big", e(`"protocol": "tcp", "ports": "80"`, `"protocol": 256`), "vpcs[0].security_groups[0].ingress[0].protocol", "SG-3", "0–255"},
		{"SG-3 protocol missing", e(`"protocol": "tcp", `, ``), "vpcs[0].security_groups[0].ingress[0].protocol", "SG-3", "required"},
		{"SG-3 reversed ports", e(`"ports": "80"`, `"ports": "80-70"`), "vpcs[0].security_groups[0].ingress[0].ports", "SG-3", ""},
		{"SG-3 port too big", e(`"ports": "80"`, `"ports": "70000"`), "vpcs[0].security_groups[0].ingress[0].ports", "SG-3", ""},
		{"SG-3 ports with icmp", e(`"protocol": "tcp"`, `"protocol": "icmp"`), "vpcs[0].security_groups[0].ingress[0].ports", "SG-3", "only to tcp and udp"},
		{"SG-3 icmp_type with tcp", e(`"ports": "80"`, `"ports": "80", "icmp_type": 8`), "vpcs[0].security_groups[0].ingress[0]", "SG-3", "only to icmp"},
		{"SG-3 icmp_code without type", e(`"protocol": "tcp", "ports": "80"`, `"protocol": "icmp", "icmp_code": 0`), "vpcs[0].security_groups[0].ingress[0].icmp_code", "SG-3", "needs an icmp_type"},
		{"SG-3 icmp_type range", e(`"protocol": "tcp", "ports": "80"`, `"protocol": "icmp", "icmp_type": 300`), "vpcs[0].security_groups[0].ingress[0].icmp_type", "SG-3", ""},
		{"SG-3 unknown peer group", e(`"source": "0.0.0.0/0"`, `"source": "nope"`), "vpcs[0].security_groups[0].ingress[0].source", "SG-3", "not found"},
		{"SG-3 peer group of another vpc", e(`"source": "0.0.0.0/0"`, `"source": "wsg"`), "vpcs[0].security_groups[0].ingress[0].source", "SG-3", `in vpc "w"`},
		{"SG-3 peer bare address", e(`"source": "0.0.0.0/0"`, `"source": "1.2.3.4"`), "vpcs[0].security_groups[0].ingress[0].source", "SG-3", "/32"},
		{"SG-3 egress bad destination", e(`"ingress": [{"protocol": "tcp"`, `"egress": [{"protocol": "all", "destination": "10.0.0.0/33"}], "ingress": [{"protocol": "tcp"`), "vpcs[0].security_groups[0].egress[0].destination", "SG-3", ""},
		{"SG-3 ingress with destination", e(`"source": "0.0.0.0/0"`, `"destination": "0.0.0.0/0"`), "vpcs[0].security_groups[0].ingress[0]", RuleFormat, `unknown field "destination"`},
		{"SG-6 tcp timeout too short", e(`{"name": "i2", "subnet": "b"}`, `{"name": "i2", "subnet": "b", "connection_tracking": {"tcp_established": 10}}`), "vpcs[0].instances[1].connection_tracking.tcp_established", "SG-6", "60–432000"},
		{"SG-6 udp timeout too long", e(`{"name": "x", "subnet": "a"}`, `{"name": "x", "subnet": "a", "connection_tracking": {"udp": 61}}`), "vpcs[0].network_interfaces[0].connection_tracking.udp", "SG-6", "30–60"},
		{"SG-6 udp stream too long", e(`{"name": "x", "subnet": "a"}`, `{"name": "x", "subnet": "a", "connection_tracking": {"udp_stream": 181}}`), "vpcs[0].network_interfaces[0].connection_tracking.udp_stream", "SG-6", ""},
		{"SG-7 default group given twice", e(`"security_groups": [{"name": "web",`, `"security_groups": [{"name": "default"}, {"name": "default"}, {"name": "web",`), "vpcs[0].security_groups[1].name", "SG-7", "already given"},

		// NACL-2, NACL-3, NACL-5.
		{"NACL-2 rule number 0", e(`"rule": 100`, `"rule": 0`), "vpcs[0].network_acls[0].ingress[0].rule", "NACL-2", "1–32766"},
		{"NACL-2 rule number 32767", e(`"rule": 100`, `"rule": 32767`), "vpcs[0].network_acls[0].ingress[0].rule", "NACL-2", "1–32766"},
		{"NACL-2 duplicate rule number", e(`"action": "allow"}]`, `"action": "allow"}, {"rule": 100, "protocol": "tcp", "cidr": "0.0.0.0/0", "action": "deny"}]`), "vpcs[0].network_acls[0].ingress[1].rule", "NACL-2", "already used"},
		{"NACL-2 bad action", e(`"action": "allow"`, `"action": "permit"`), "vpcs[0].network_acls[0].ingress[0].action", "NACL-2", "allow or deny"},
		{"NACL-2 bad cidr", e(`"protocol": "all", "cidr": "0.0.0.0/0"`, `"protocol": "all", "cidr": "any"`), "vpcs[0].network_acls[0].ingress[0].cidr", "NACL-2", ""},
		{"NACL-2 bad protocol", e(`"protocol": "all", "cidr"`, `"protocol": "gre", "cidr"`), "vpcs[0].network_acls[0].ingress[0].protocol", "NACL-2", ""},
		{"NACL-3 default ACL given twice", e(`"network_acls": [{"name": "acl"`, `"network_acls": [{"name": "default"}, {"name": "default"}, {"name": "acl"`), "vpcs[0].network_acls[1].name", "NACL-3", "already given"},
		{"NACL-5 ACL of another vpc", e(`"network_acl": "acl"`, `"network_acl": "wacl"`), "vpcs[0].subnets[1].network_acl", "NACL-5", `in vpc "w"`},

		// IGW-4: internet hosts.
		{"IGW-4 private host", e(`"ip": "54.239.30.25"`, `"ip": "192.168.1.1"`), "internet.hosts[0].ip", "IGW-4", "not public"},
		{"IGW-4 CGNAT host", e(`"ip": "54.239.30.25"`, `"ip": "100.64.0.1"`), "internet.hosts[0].ip", "IGW-4", "not public"},
		{"IGW-4 duplicate host", e(`{"name": "h1", "ip": "54.239.30.25"}`, `{"name": "h1", "ip": "54.239.30.25"}, {"name": "h2", "ip": "54.239.30.25"}`), "internet.hosts[1].ip", "IGW-4", "already used"},

		// OBS-1.
		{"OBS-1 flow logs without path", e(`"region": "us-east-1",`, `"region": "us-east-1", "flow_logs": {"aggregation_seconds": 60},`), "flow_logs.path", "OBS-1", ""},
		{"OBS-1 flow logs window", e(`"region": "us-east-1",`, `"region": "us-east-1", "flow_logs": {"path": "/tmp/f", "aggregation_seconds": 0},`), "flow_logs.aggregation_seconds", "OBS-1", ""},
	}
}

// TestBadFiles: every broken file is refused with an error naming its JSON
// path and rule id.
func TestBadFiles(t *testing.T) {
	for _, c := range badCases(t) {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load([]byte(c.file))
			if err == nil {
				t.Fatal("accepted")
			}
			var es *Errors
			if !errors.As(err, &es) || len(*es) == 0 {
				t.Fatalf("error is %T, not *Errors: %v", err, err)
			}
			for _, e := range *es {
				if strings.HasPrefix(e.Path, c.path) && e.Rule == c.rule && strings.Contains(e.Msg, c.msg) {
					// The printed form carries path and rule too.
					if s := err.Error(); !strings.Contains(s, c.path) || !strings.Contains(s, "("+c.rule+")") {
						t.Errorf("Error() lacks path or rule:\n%s", s)
					}
					return
				}
			}
			t.Errorf("no error at %q with rule %s and %q; got:\n%v", c.path, c.rule, c.msg, err)
		})
	}
}

func TestErrorFormat(t *testing.T) {
	file := edit(t, base, `{"name": "x", "subnet": "a"}`, `{"name": "x", "subnet": "c"}`,
		`"cidr": "10.0.3.0/24", "az": "us-east-1a"`, `"cidr": "10.0.3.0/24", "az": "us-east-1c"`)
	_, err := Load([]byte(file))
	want := `vpcs[0].instances[0].network_interfaces[0]: eni "x" is in us-east-1c, instance "i1" in us-east-1a (ENI-6)`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	var one *Error
	if !errors.As(err, &one) || one.Rule != "ENI-6" {
		t.Errorf("errors.As(*Error) = %v", one)
	}
}

// TestAllErrorsCollected: Resolve reports every broken rule, one per line.
func TestAllErrorsCollected(t *testing.T) {
	file := edit(t, base,
		`"cidr": "10.0.3.0/24"`, `"cidr": "10.3.3.0/24"`, // ADDR-1
		`"private_ip": "10.0.1.10"`, `"private_ip": "10.0.1.1"`, // ADDR-2
		`"target": "igw"`, `"target": "nowhere"`, // RT-3
		`"rule": 100`, `"rule": 0`, // NACL-2
	)
	_, err := Load([]byte(file))
	if err == nil {
		t.Fatal("accepted")
	}
	lines := strings.Split(err.Error(), "\n")
	for _, rule := range []string{"ADDR-1", "ADDR-2", "RT-3", "NACL-2"} {
		found := false
		for _, l := range lines {
			found = found || strings.HasSuffix(l, "("+rule+")")
		}
		if !found {
			t.Errorf("no line for %s in:\n%v", rule, err)
		}
	}
	if len(lines) != 4 {
		t.Errorf("%d lines, want 4:\n%v", len(lines), err)
	}
}

func TestResolveNil(t *testing.T) {
	if _, err := Resolve(nil); err == nil {
		t.Fatal("Resolve(nil) succeeded")
	}
}

var idRE = regexp.MustCompile(`^(vpc|subnet|eni|i|sg|acl|rtb|igw|nat|eipalloc|pcx)-[0-9a-f]{17}$`)

// ids collects every derived id and MAC of a network, by resource.
func ids(n *Network) map[string]string {
	m := map[string]string{}
	for _, e := range n.EIPs {
		m["eip/"+e.Name] = e.AllocationID
	}
	for _, h := range n.Hosts {
		m["hostmac/"+h.Name] = h.MAC.String()
	}
	for _, p := range n.Peerings {
		m["pcx/"+p.Name] = p.ID
	}
	for _, v := range n.VPCs {
		m["vpc/"+v.Name] = v.ID
		if v.IGW != nil {
			m["igw/"+v.IGW.Name] = v.IGW.ID
		}
		for _, s := range v.Subnets {
			m["subnet/"+s.Name] = s.ID
			m["routermac/"+s.Name] = s.RouterMAC.String()
		}
		for _, x := range v.RouteTables {
			m["rtb/"+v.Name+"/"+x.Name] = x.ID
		}
		for _, x := range v.SGs {
			m["sg/"+v.Name+"/"+x.Name] = x.ID
		}
		for _, x := range v.NACLs {
			m["acl/"+v.Name+"/"+x.Name] = x.ID
		}
		for _, x := range v.NATs {
			m["nat/"+x.Name] = x.ID
		}
		for _, x := range v.ENIs {
			m["eni/"+x.Name] = x.ID
			m["enimac/"+x.Name] = x.MAC.String()
		}
		for _, x := range v.Instances {
			m["i/"+x.Name] = x.ID
		}
	}
	return m
}

func TestIDsStableAndDistinct(t *testing.T) {
	file := edit(t, base, `"vpcs": [{`, `"peerings": [{"name": "p", "vpcs": ["v", "w"]}], "vpcs": [{`)
	a, b := ids(mustLoad(t, file)), ids(mustLoad(t, file))
	if len(a) < 40 {
		t.Fatalf("only %d ids", len(a))
	}
	seen := map[string]string{}
	for k, v := range a {
		if b[k] != v {
			t.Errorf("%s: %s then %s", k, v, b[k])
		}
		if prev, dup := seen[v]; dup {
			t.Errorf("%s and %s share %s", k, prev, v)
		}
		seen[v] = k
		switch {
		case strings.Contains(k, "mac/"):
			if !strings.HasPrefix(v, "02:") {
				t.Errorf("%s: MAC %s is not locally administered unicast 02:…", k, v)
			}
		case !idRE.MatchString(v):
			t.Errorf("%s: id %q malformed", k, v)
		}
	}
	// Ids depend on the topology name.
	c := ids(mustLoad(t, edit(t, file, `"name": "t"`, `"name": "t2"`)))
	if c["vpc/v"] == a["vpc/v"] {
		t.Error("vpc id does not depend on the topology name")
	}
	if !strings.HasPrefix(a["i/i1"], "i-") || !strings.HasPrefix(a["eni/i1"], "eni-") {
		t.Errorf("instance and eth0 ids: %s %s", a["i/i1"], a["eni/i1"])
	}
}

// TestDefaults: default SG (SG-7), default NACL (NACL-3), implicit main
// table (RT-1), default pool and region (ADDR-5), settings.
func TestDefaults(t *testing.T) {
	n := mustLoad(t, `{"name": "d", "vpcs": [{"name": "v", "cidr": "10.1.0.0/16",
	  "subnets": [{"name": "s", "cidr": "10.1.0.0/24", "az": "us-east-1a"}],
	  "instances": [{"name": "i", "subnet": "s"}]}]}`)
	if n.Region != "us-east-1" {
		t.Errorf("region %q", n.Region)
	}
	if len(n.Pools) != 1 || n.Pools[0].Name != "amazon" || n.Pools[0].Kind != "amazon" ||
		n.Pools[0].BorderGroup != "us-east-1" || n.Pools[0].CIDRs[0] != netip.MustParsePrefix("3.34.0.0/16") {
		t.Errorf("default pool: %+v", n.Pools[0])
	}
	if n.Settings != (Settings{262144, 350, 55000, CPUsAuto, DefaultBusyPollMicroseconds, netip.AddrPort{}, netip.AddrPort{}, DefaultQuotas(), "", nil}) {
		t.Errorf("settings %+v", n.Settings)
	}
	v := n.VPCs[0]
	sg := v.DefaultSG
	if sg == nil || sg.Name != "default" || len(v.SGs) != 1 || v.SGs[0] != sg || sg.VPC != v {
		t.Fatalf("default SG: %+v", sg)
	}
	if len(sg.Ingress) != 1 || sg.Ingress[0].Group != sg || sg.Ingress[0].Protocol != ProtoAll ||
		len(sg.Egress) != 1 || sg.Egress[0].CIDR != netip.MustParsePrefix("0.0.0.0/0") || sg.Egress[0].Protocol != ProtoAll {
		t.Errorf("SG-7 rules: in %+v out %+v", sg.Ingress, sg.Egress)
	}
	acl := v.DefaultNACL
	allow := NACLRule{Number: 100, Protocol: ProtoAll, FromPort: -1, ToPort: -1, CIDR: netip.MustParsePrefix("0.0.0.0/0"), Allow: true}
	if acl == nil || !acl.Default || len(acl.Ingress) != 1 || acl.Ingress[0] != allow || len(acl.Egress) != 1 || acl.Egress[0] != allow {
		t.Errorf("NACL-3 default: %+v", acl)
	}
	rt := v.MainRT
	if rt == nil || rt.Name != "main" || !rt.Main || len(rt.Routes) != 1 || rt.Routes[0].Kind != TargetLocal ||
		rt.Routes[0].Dest != v.CIDR || len(v.RouteTables) != 1 {
		t.Errorf("RT-1 main table: %+v", rt)
	}
	s := v.Subnets[0]
	if s.RouteTable != rt || s.NACL != acl || s.Router() != netip.MustParseAddr("10.1.0.1") {
		t.Errorf("subnet associations: rt %v nacl %v", s.RouteTable, s.NACL)
	}
	i := n.InstanceByName["i"]
	e := i.Primary()
	if i.Namespace != "d-i" || i.VPC != v || i.Subnet != s || e.Name != "i" || e.Description != "Primary network interface" ||
		!e.SourceDestCheck || e.Kind != ENICompute || e.RequesterManaged || len(e.Groups) != 1 || e.Groups[0] != sg ||
		e.PrimaryIP != netip.MustParseAddr("10.1.0.4") || e.Instance != i || e.DeviceIndex != 0 {
		t.Errorf("instance/eth0: %+v / %+v", i, e)
	}
	if e.ConnTrack != (ConnTrack{432000, 180, 30}) {
		t.Errorf("SG-6 defaults: %+v", e.ConnTrack)
	}
	if len(e.PublicIPs) != 0 || i.AssociatePublicIP {
		t.Errorf("no public IP expected: %v", e.PublicIPs)
	}
	if n.Source == nil || n.Source.Name != "d" {
		t.Error("Source not set")
	}
}

func TestUserMainTable(t *testing.T) {
	n := mustLoad(t, edit(t, base, `"route_tables": [{"name": "rt", `, `"route_tables": [{"name": "m", "main": true}, {"name": "rt", `))
	v := n.VPCs[0]
	if v.MainRT.Name != "m" || len(v.RouteTables) != 2 || v.Subnets[1].RouteTable != v.MainRT || v.Subnets[0].RouteTable.Name != "rt" {
		t.Errorf("main table %q, tables %d", v.MainRT.Name, len(v.RouteTables))
	}
	if v.MainRT.Routes[0].Kind != TargetLocal {
		t.Error("main table lacks its local route")
	}
}

// TestSGEgress: omitted egress allows all; an explicit [] lets nothing out (SG-1).
func TestSGEgress(t *testing.T) {
	n := mustLoad(t, edit(t, base, `"security_groups": [{"name": "wsg"}]`, `"security_groups": [{"name": "wsg"}, {"name": "closed", "egress": []}]`))
	w := n.VPCs[1]
	open, closed := w.SGs[1], w.SGs[2]
	if len(open.Egress) != 1 || open.Egress[0] != allowAllEgress() || len(open.Ingress) != 0 {
		t.Errorf("omitted egress: %+v / in %+v", open.Egress, open.Ingress)
	}
	if closed.Egress == nil || len(closed.Egress) != 0 {
		t.Errorf("empty egress: %+v", closed.Egress)
	}
	// The custom NACL with omitted lists denies all (NACL-3).
	if a := w.NACLs[1]; a.Name != "wacl" || a.Default || len(a.Ingress) != 0 || len(a.Egress) != 0 {
		t.Errorf("custom NACL: %+v", a)
	}
}

func TestRules(t *testing.T) {
	n := mustLoad(t, edit(t, base,
		`"ingress": [{"protocol": "tcp", "ports": "80", "source": "0.0.0.0/0"}]`,
		`"ingress": [{"protocol": "tcp", "ports": "80", "source": "0.0.0.0/0", "description": "http"},
		             {"protocol": "udp", "ports": "1024-65535", "source": "web"},
		             {"protocol": "icmp", "icmp_type": 8, "source": "default"},
		             {"protocol": "icmp", "icmp_type": 3, "icmp_code": 4, "source": "10.0.0.0/16"},
		             {"protocol": 47, "source": "10.0.0.0/8"},
		             {"protocol": "-1", "source": "10.0.0.0/8"}],
		 "egress": [{"protocol": "tcp", "ports": 443, "destination": "0.0.0.0/0"}]`,
		`"ingress": [{"rule": 100, "protocol": "all", "cidr": "0.0.0.0/0", "action": "allow"}]`,
		`"ingress": [{"rule": 200, "protocol": "all", "cidr": "0.0.0.0/0", "action": "allow"},
		             {"rule": 50, "protocol": "tcp", "ports": "22", "cidr": "10.0.0.0/8", "action": "deny"}]`))
	v := n.VPCs[0]
	web := v.SGs[1]
	want := []SGRule{
		{Protocol: 6, FromPort: 80, ToPort: 80, CIDR: netip.MustParsePrefix("0.0.0.0/0"), Description: "http"},
		{Protocol: 17, FromPort: 1024, ToPort: 65535, Group: web},
		{Protocol: 1, FromPort: 8, ToPort: -1, Group: v.DefaultSG},
		{Protocol: 1, FromPort: 3, ToPort: 4, CIDR: netip.MustParsePrefix("10.0.0.0/16")},
		{Protocol: 47, FromPort: -1, ToPort: -1, CIDR: netip.MustParsePrefix("10.0.0.0/8")},
		{Protocol: ProtoAll, FromPort: -1, ToPort: -1, CIDR: netip.MustParsePrefix("10.0.0.0/8")},
	}
	if len(web.Ingress) != len(want) {
		t.Fatalf("ingress: %+v", web.Ingress)
	}
	for i := range want {
		if web.Ingress[i] != want[i] {
			t.Errorf("ingress[%d] = %+v, want %+v", i, web.Ingress[i], want[i])
		}
	}
	if len(web.Egress) != 1 || web.Egress[0] != (SGRule{Protocol: 6, FromPort: 443, ToPort: 443, CIDR: netip.MustParsePrefix("0.0.0.0/0")}) {
		t.Errorf("egress: %+v", web.Egress)
	}
	acl := v.NACLs[1]
	if len(acl.Ingress) != 2 || acl.Ingress[0].Number != 50 || acl.Ingress[0].Allow || acl.Ingress[0].FromPort != 22 || acl.Ingress[1].Number != 200 {
		t.Errorf("NACL-2: rules not sorted by number: %+v", acl.Ingress)
	}
}

// TestAddresses: first-free private IPs after all explicit ones (ENI-1),
// NAT ENI properties (ENI-3, ENI-5), public IPs and EIPs (ADDR-4, EIP-2),
// device indexes (ENI-6).
func TestAddresses(t *testing.T) {
	// nat and x take no IP; i2 (later in the file) takes 10.0.1.4 explicitly.
	n := mustLoad(t, edit(t, base, `{"name": "i2", "subnet": "b"}`, `{"name": "i2", "subnet": "a", "private_ip": "10.0.1.4", "secondary_private_ips": ["10.0.1.6"]}`))
	v := n.VPCs[0]
	nat := v.NATs[0]
	ne := nat.ENI
	if ne.PrimaryIP != netip.MustParseAddr("10.0.1.5") {
		t.Errorf("NAT IP %v, want 10.0.1.5 (first free after explicit .4 and .6)", ne.PrimaryIP)
	}
	x := n.InstanceByName["i1"].ENIs[1]
	if x.Name != "x" || x.PrimaryIP != netip.MustParseAddr("10.0.1.7") {
		t.Errorf("x IP %v, want 10.0.1.7", x.PrimaryIP)
	}
	if ne.Name != "nat" || ne.Kind != ENIRouting || !ne.RequesterManaged || ne.SourceDestCheck || len(ne.Groups) != 0 ||
		ne.NAT != nat || ne.Instance != nil || ne.Subnet != v.Subnets[0] || ne.Description != "Interface for NAT Gateway "+nat.ID {
		t.Errorf("NAT ENI: %+v", ne)
	}
	// EIPs: e1 is the first free of pool amz; e2 is fixed and belongs to the NAT.
	e1, e2 := n.EIPs[0], n.EIPs[1]
	i1 := n.InstanceByName["i1"]
	if e1.Addr != netip.MustParseAddr("3.34.0.1") || e1.ENI != i1.Primary() || e1.PrivateIP != netip.MustParseAddr("10.0.1.10") || e1.NAT != nil || e1.Pool != n.Pools[0] {
		t.Errorf("e1: %+v", e1)
	}
	if e2.Addr != netip.MustParseAddr("3.34.9.9") || e2.ENI != ne || e2.PrivateIP != ne.PrimaryIP || e2.NAT != nat || nat.EIP != e2 {
		t.Errorf("e2: %+v", e2)
	}
	if ne.PublicIPs[ne.PrimaryIP] != e2.Addr {
		t.Errorf("NAT public IPs %v", ne.PublicIPs)
	}
	// EIP-2: i1 is in a map_public_ip subnet, but its EIP replaces the auto IP.
	if got := i1.Primary().PublicIPs; len(got) != 1 || got[netip.MustParseAddr("10.0.1.10")] != e1.Addr {
		t.Errorf("i1 public IPs %v", got)
	}
	// i2 gets the first free pool address: not .0 (network), not .1 (e1).
	i2 := n.InstanceByName["i2"]
	if !i2.AssociatePublicIP || i2.Primary().PublicIPs[netip.MustParseAddr("10.0.1.4")] != netip.MustParseAddr("3.34.0.2") {
		t.Errorf("i2 public IPs %v", i2.Primary().PublicIPs)
	}
	if got := i2.Primary().IPs(); len(got) != 2 || got[1] != netip.MustParseAddr("10.0.1.6") {
		t.Errorf("i2 IPs %v", got)
	}
	// Attached ENIs carry their own groups and no public IP.
	if x.DeviceIndex != 1 || x.Instance != i1 || len(x.Groups) != 1 || x.Groups[0] != v.DefaultSG || len(x.PublicIPs) != 0 {
		t.Errorf("x: %+v", x)
	}
	// VPC.ENIs holds every ENI: NAT, standalone, eth0s.
	if len(v.ENIs) != 4 {
		t.Errorf("vpc ENIs: %d", len(v.ENIs))
	}
}

func TestPublicIPSkipsHostsAndEIPs(t *testing.T) {
	n := mustLoad(t, `{"name": "p", "region": "eu-west-1",
	  "address_pools": [{"name": "other", "cidrs": ["5.5.5.0/24"], "network_border_group": "eu-west-1-lhr-1"},
	                    {"name": "mine", "cidrs": ["6.6.6.0/30", "7.7.7.0/24"]}],
	  "elastic_ips": [{"name": "e", "address": "7.7.7.1"}],
	  "internet": {"hosts": [{"name": "h", "ip": "6.6.6.1"}]},
	  "vpcs": [{"name": "v", "cidr": "10.0.0.0/24",
	    "subnets": [{"name": "s", "cidr": "10.0.0.0/28", "az": "eu-west-1a", "map_public_ip_on_launch": true}],
	    "instances": [{"name": "a", "subnet": "s"}, {"name": "b", "subnet": "s"}, {"name": "c", "subnet": "s", "associate_public_ip": false}]}]}`)
	pub := func(name string) netip.Addr {
		e := n.InstanceByName[name].Primary()
		return e.PublicIPs[e.PrimaryIP]
	}
	// 6.6.6.0/30: .0 network, .1 host h, .2 free, .3 broadcast; then 7.7.7.0 network, .1 EIP e, .2 free.
	if pub("a") != netip.MustParseAddr("6.6.6.2") || pub("b") != netip.MustParseAddr("7.7.7.2") || pub("c").IsValid() {
		t.Errorf("public IPs a=%v b=%v c=%v", pub("a"), pub("b"), pub("c"))
	}
	if n.InstanceByName["b"].Primary().PrimaryIP != netip.MustParseAddr("10.0.0.5") {
		t.Errorf("b private IP %v", n.InstanceByName["b"].Primary().PrimaryIP)
	}
	if e := n.EIPs[0]; e.ENI != nil {
		t.Errorf("unassociated EIP has ENI %v", e.ENI)
	}
}

func TestSubnetFull(t *testing.T) {
	// A /28 has 16 - 5 = 11 usable addresses.
	var insts []string
	for i := 0; i < 12; i++ {
		insts = append(insts, `{"name": "i`+string(rune('a'+i))+`", "subnet": "s"}`)
	}
	file := `{"name": "f", "vpcs": [{"name": "v", "cidr": "10.0.0.0/28",
	  "subnets": [{"name": "s", "cidr": "10.0.0.0/28", "az": "us-east-1a"}],
	  "instances": [` + strings.Join(insts, ",") + `]}]}`
	_, err := Load([]byte(file))
	if err == nil || !strings.Contains(err.Error(), "vpcs[0].instances[11]: subnet \"s\" (10.0.0.0/28) has no free address (ENI-1)") {
		t.Fatalf("got %v", err)
	}
}

func TestRoutes(t *testing.T) {
	n := mustLoad(t, edit(t, base,
		`"vpcs": [{`, `"peerings": [{"name": "p", "vpcs": ["v", "w"]}], "vpcs": [{`,
		`{"destination": "0.0.0.0/0", "target": "igw"}`,
		`{"destination": "0.0.0.0/0", "target": "igw"}, {"destination": "10.9.0.0/16", "target": "p"},
		 {"destination": "10.0.2.0/24", "target": "i1"}, {"destination": "10.0.3.0/24", "target": "x"},
		 {"destination": "192.0.2.0/24", "target": "blackhole"}, {"destination": "198.51.100.0/24", "target": "nat"}`))
	v := n.VPCs[0]
	rt := v.Subnets[0].RouteTable
	if len(rt.Routes) != 7 {
		t.Fatalf("routes: %d", len(rt.Routes))
	}
	r := rt.Routes
	i1 := n.InstanceByName["i1"]
	checks := []struct {
		ok   bool
		what string
	}{
		{r[0].Kind == TargetLocal && r[0].Dest == v.CIDR && r[0].TargetName == "local", "local first"},
		{r[1].Kind == TargetIGW && r[1].TargetName == "igw" && r[1].Dest == netip.MustParsePrefix("0.0.0.0/0"), "igw"},
		{r[2].Kind == TargetPeering && r[2].Peering == n.Peerings[0] && n.Peerings[0].VPCs == [2]*VPC{v, n.VPCs[1]}, "peering"},
		{r[3].Kind == TargetENI && r[3].ENI == i1.Primary() && r[3].TargetName == "i1", "instance → primary ENI"},
		{r[4].Kind == TargetENI && r[4].ENI == i1.ENIs[1], "eni"},
		{r[5].Kind == TargetBlackhole, "blackhole"},
		{r[6].Kind == TargetNAT && r[6].NAT == v.NATs[0], "nat"},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: %+v", c.what, r)
		}
	}
}

func TestConnTrackAndSettings(t *testing.T) {
	n := mustLoad(t, edit(t, base,
		`"region": "us-east-1",`, `"region": "us-east-1", "settings": {"conntrack_max": 1000, "nat_idle_timeout_seconds": 5, "nat_max_connections_per_destination": 10, "forwarder_cpus": "1,3-4", "busy_poll_us": 0}, "flow_logs": {"path": "/tmp/fl"},`,
		`{"name": "i2", "subnet": "b"}`, `{"name": "i2", "subnet": "b", "source_dest_check": false, "connection_tracking": {"tcp_established": 60, "udp_stream": 60, "udp": 60}}`))
	if n.Settings != (Settings{1000, 5, 10, "1,3-4", 0, netip.AddrPort{}, netip.AddrPort{}, DefaultQuotas(), "", nil}) {
		t.Errorf("settings %+v", n.Settings)
	}
	// QUOTA-1: each quota settable, the rest AWS's defaults; out of range named.
	q := mustLoad(t, edit(t, base, `"region": "us-east-1",`, `"region": "us-east-1", "settings": {"quotas": {"vpcs": 7, "rules_per_network_acl": 40}},`))
	want := DefaultQuotas()
	want.VPCs, want.RulesPerNACL = 7, 40
	if q.Settings.Quotas != want {
		t.Errorf("quotas %+v, want %+v", q.Settings.Quotas, want)
	}
	if _, err := Load([]byte(edit(t, base, `"region": "us-east-1",`, `"region": "us-east-1", "settings": {"quotas": {"elastic_ips": 0}},`))); err == nil ||
		!strings.Contains(err.Error(), "settings.quotas.elastic_ips") || !strings.Contains(err.Error(), "QUOTA-1") {
		t.Errorf("elastic_ips 0: %v, want an error naming settings.quotas.elastic_ips and QUOTA-1", err)
	}
	if n.FlowLogs == nil || n.FlowLogs.Path != "/tmp/fl" || n.FlowLogs.AggregationSeconds != 60 {
		t.Errorf("flow logs %+v", n.FlowLogs)
	}
	e := n.InstanceByName["i2"].Primary()
	if e.ConnTrack != (ConnTrack{60, 60, 60}) || e.SourceDestCheck {
		t.Errorf("i2 eth0: %+v sdc=%v", e.ConnTrack, e.SourceDestCheck)
	}
}

func TestADDR6Warning(t *testing.T) {
	n := mustLoad(t, edit(t, base, `"ip": "54.239.30.25"`, `"ip": "13.0.0.5"`, `"cidr": "10.9.0.0/16"`, `"cidr": "13.0.0.0/16"`, `"cidr": "10.9.1.0/24"`, `"cidr": "13.0.1.0/24"`))
	if len(n.Warnings) != 1 || !strings.Contains(n.Warnings[0], `"h1" (13.0.0.5)`) || !strings.Contains(n.Warnings[0], "ADDR-6") ||
		!strings.HasPrefix(n.Warnings[0], "vpcs[1]") {
		t.Errorf("warnings %v", n.Warnings)
	}
}

func TestParseKeepsEgressDistinction(t *testing.T) {
	top, err := Parse([]byte(`{"name": "x", "vpcs": [{"name": "v", "cidr": "10.0.0.0/16", "security_groups": [{"name": "a"}, {"name": "b", "egress": []}, {"name": "c", "egress": null}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	sgs := top.VPCs[0].SecurityGroups
	if sgs[0].Egress != nil || sgs[1].Egress == nil || sgs[2].Egress != nil {
		t.Errorf("egress nil-ness: %v %v %v", sgs[0].Egress == nil, sgs[1].Egress == nil, sgs[2].Egress == nil)
	}
}

// FuzzLoad: Load never panics, and what it accepts resolves the same twice.
func FuzzLoad(f *testing.F) {
	f.Add(Default())
	f.Add([]byte(base))
	for _, c := range badCases(f) {
		f.Add([]byte(c.file))
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"name": "a", "vpcs": [{"name": "v", "cidr": "10.0.0.0/28", "subnets": [{"name": "s", "cidr": "10.0.0.0/28", "az": "us-east-1a"}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := Load(data)
		if err != nil {
			if n != nil {
				t.Fatal("network and error")
			}
			var es *Errors
			if !errors.As(err, &es) || len(*es) == 0 {
				t.Fatalf("error %T is not a non-empty *Errors", err)
			}
			return
		}
		m, err := Load(data)
		if err != nil {
			t.Fatalf("second load failed: %v", err)
		}
		a, b := ids(n), ids(m)
		for k, v := range a {
			if b[k] != v {
				t.Fatalf("%s unstable", k)
			}
		}
	})
}

// EIP-2 in the file: an EIP names a network interface and one of its
// secondary private IPs, another names an instance's secondary IP, and an
// interface names its own; each replaces the auto-assigned address of
// exactly that private IP.
func TestEIP2_AssociationTargetsInTheFile(t *testing.T) {
	f := edit(t, base,
		`{"name": "e1", "pool": "amz"}, {"name": "e2", "address": "3.34.9.9"}`,
		`{"name": "e1", "pool": "amz"}, {"name": "e2", "address": "3.34.9.9"}, {"name": "e3", "address": "3.34.9.10", "network_interface": "wx", "private_ip": "10.9.1.21"}, {"name": "e4", "address": "3.34.9.11", "instance": "i1", "private_ip": "10.0.1.11"}, {"name": "e5", "address": "3.34.9.12"}`,
		`{"name": "wx", "subnet": "wa"}`, `{"name": "wx", "subnet": "wa", "private_ip": "10.9.1.20", "secondary_private_ips": ["10.9.1.21"]}`,
		`"private_ip": "10.0.1.10", "security_groups": ["web"]`, `"private_ip": "10.0.1.10", "secondary_private_ips": ["10.0.1.11"], "security_groups": ["web"]`,
		`{"name": "x", "subnet": "a"}`, `{"name": "x", "subnet": "a", "elastic_ip": "e5"}`)
	n, err := Load([]byte(f))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*EIP{}
	for _, e := range n.EIPs {
		byName[e.Name] = e
	}
	for _, c := range []struct{ eip, eni, private string }{
		{"e3", "wx", "10.9.1.21"}, {"e4", "i1", "10.0.1.11"}, {"e5", "x", ""}, {"e1", "i1", "10.0.1.10"},
	} {
		e := byName[c.eip]
		if e == nil || e.ENI == nil {
			t.Fatalf("%s is not associated", c.eip)
		}
		if e.ENI.Name != c.eni {
			t.Errorf("%s is on %s, want %s", c.eip, e.ENI.Name, c.eni)
		}
		want := e.ENI.PrimaryIP
		if c.private != "" {
			want = netip.MustParseAddr(c.private)
		}
		if e.PrivateIP != want || e.ENI.PublicIPs[want] != e.Addr {
			t.Errorf("%s: private %s public %s; want %s → %s", c.eip, e.PrivateIP, e.ENI.PublicIPs[want], want, e.Addr)
		}
	}
	if pub, ok := byName["e3"].ENI.PublicIPs[netip.MustParseAddr("10.9.1.20")]; ok {
		t.Errorf("wx's primary IP got public %s; only its secondary has an EIP", pub)
	}
}

// settings.forwarder_cpus takes the kernel's cpulist format.
func TestParseCPUs(t *testing.T) {
	good := map[string][]int{"auto": nil, "all": nil, "0": {0}, "1": {1}, "0-3": {0, 1, 2, 3},
		"2-3,6": {2, 3, 6}, "6,2-3,3": {2, 3, 6}, "1023": {1023}, "007": {7}}
	for in, want := range good {
		got, err := ParseCPUs(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ParseCPUs(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", " ", "1,", ",1", "1-", "-1", "3-1", "1024", "0-1024", "a", "1 ", "1-2-3", "+1", "0x1", "Auto", "99999999999999999999"} {
		if got, err := ParseCPUs(in); err == nil {
			t.Errorf("ParseCPUs(%q) = %v, want an error", in, got)
		}
	}
}

// FuzzParseCPUs: a list that parses names CPUs 0–MaxCPU, sorted, without
// repeats, and writing them back one by one parses to the same list.
func FuzzParseCPUs(f *testing.F) {
	for _, s := range []string{"auto", "all", "0", "2-3,6", "1-", "3-1", "1024", ",", "0-1023"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cpus, err := ParseCPUs(s)
		if err != nil {
			if cpus != nil {
				t.Fatal("CPUs and an error")
			}
			return
		}
		if s != CPUsAuto && s != CPUsAll && len(cpus) == 0 {
			t.Fatalf("%q parsed to no CPU", s)
		}
		parts := make([]string, len(cpus))
		for i, c := range cpus {
			if c < 0 || c > MaxCPU || (i > 0 && c <= cpus[i-1]) {
				t.Fatalf("%q parsed to %v", s, cpus)
			}
			parts[i] = strconv.Itoa(c)
		}
		if len(cpus) > 0 {
			again, err := ParseCPUs(strings.Join(parts, ","))
			if err != nil || !slices.Equal(again, cpus) {
				t.Fatalf("%q: %v, then %v, %v", s, cpus, again, err)
			}
		}
	})
}
