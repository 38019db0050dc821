package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// base is a valid topology; each case below breaks one rule in it.
const base = `{
  "name": "NAME", "region": "us-east-1",
  "address_pools": [{"name": "amz", "cidrs": ["3.34.0.0/16"], "network_border_group": "us-east-1"}],
  "elastic_ips": [{"name": "e1", "pool": "amz"}],
  "vpcs": [{
    "name": "v", "cidr": "10.2.0.0/16", "internet_gateway": "igw",
    "subnets": [
      {"name": "a", "cidr": "SUBNET_A", "az": "us-east-1a", "route_table": "rt"},
      {"name": "b", "cidr": "10.2.2.0/24", "az": "us-east-1b"}
    ],
    "route_tables": [{"name": "rt", "routes": [{"destination": "ROUTE_DST", "target": "ROUTE_TARGET"}]}],
    "nat_gateways": [{"name": "nat", "subnet": "a" NAT_EIP}],
    "network_interfaces": [{"name": "x", "subnet": "XSUB"}],
    "instances": [
      {"name": "i1", "subnet": "a", "private_ip": "I1_IP", "network_interfaces": ["x"] EXTRA}
    ]
  }]
}`

func fill(over map[string]string) string {
	def := map[string]string{
		"SUBNET_A": "10.2.1.0/24", "ROUTE_DST": "0.0.0.0/0", "ROUTE_TARGET": "igw", "NAT_EIP": `, "elastic_ip": "e1"`,
		"XSUB": "a", "I1_IP": "10.2.1.10", "EXTRA": "",
	}
	for k, v := range over {
		def[k] = v
	}
	s := base
	for k, v := range def {
		s = strings.ReplaceAll(s, k, v)
	}
	return s
}

// TestBadFilesRefused: every broken file is refused with a non-zero exit, an
// error naming the JSON path and rule, and nothing created.
func TestBadFilesRefused(t *testing.T) {
	RequireRoot(t)
	cases := []struct {
		name string
		file string
		want []string
	}{
		{"malformed JSON", `{"name": "NAME", "vpcs": [`, []string{"FORMAT"}},
		{"unknown field", strings.Replace(fill(nil), `"az": "us-east-1b"`, `"az": "us-east-1b", "cidrr": "x"`, 1), []string{"vpcs[0].subnets[1]", "cidrr"}},
		{"ADDR-1 subnet outside VPC", fill(map[string]string{"SUBNET_A": "10.3.1.0/24", "I1_IP": "10.3.1.10"}), []string{"vpcs[0].subnets[0]", "ADDR-1"}},
		{"ADDR-2 reserved address", fill(map[string]string{"I1_IP": "10.2.1.1"}), []string{"vpcs[0].instances[0]", "ADDR-2"}},
		{"ENI-1 address outside subnet", fill(map[string]string{"I1_IP": "10.2.2.10"}), []string{"vpcs[0].instances[0]", "ENI-1"}},
		{"ENI-6 other AZ", fill(map[string]string{"XSUB": "b"}), []string{"vpcs[0].instances[0].network_interfaces[0]", "ENI-6"}},
		{"RT-4 partial subnet", fill(map[string]string{"ROUTE_DST": "10.2.2.0/25", "ROUTE_TARGET": "x"}), []string{"vpcs[0].route_tables[0].routes[0]", "RT-4"}},
		{"RT-3 unknown target", fill(map[string]string{"ROUTE_TARGET": "nowhere"}), []string{"vpcs[0].route_tables[0].routes[0]", "nowhere"}},
		{"NAT-1 public without EIP", fill(map[string]string{"NAT_EIP": ""}), []string{"vpcs[0].nat_gateways[0]", "NAT-1"}},
		{"EIP-4 other border group", strings.Replace(fill(nil), `"network_border_group": "us-east-1"`, `"network_border_group": "eu-west-1"`, 1), []string{"EIP-4"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name := randName()
			path := filepath.Join(t.TempDir(), "bad.json")
			os.WriteFile(path, []byte(strings.ReplaceAll(c.file, "NAME", name)), 0o644)
			out, code := vpcnet(t, "up", path)
			if code == 0 {
				vpcnet(t, "down", name)
				t.Fatalf("accepted a bad file: %s", out)
			}
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("error does not name %q:\n%s", w, out)
				}
			}
			if left := namespacesWithPrefix(name + "-"); len(left) > 0 {
				t.Errorf("namespaces created: %v", left)
			}
			if _, err := os.Stat(filepath.Join("/run/vpcnet", name)); err == nil {
				t.Error("state folder created")
			}
		})
	}
}
