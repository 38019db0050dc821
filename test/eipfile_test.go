package test

import (
	"encoding/json"
	"strings"
	"testing"
)

// eipTargets: EIPs associated in the file with an instance's secondary
// private IP and with an extra network interface (EIP-2, the topology
// extension), beside the usual instance EIP.
const eipTargets = `{
  "name": "NAME", "region": "us-east-1",
  "address_pools": [{"name": "amz", "cidrs": ["3.34.0.0/16"]}],
  "elastic_ips": [
    {"name": "eip-web", "address": "3.34.10.10"},
    {"name": "eip-sec", "address": "3.34.30.30", "instance": "web", "private_ip": "10.5.1.20"},
    {"name": "eip-eni", "address": "3.34.40.40"}
  ],
  "internet": {"hosts": [{"name": "inet", "ip": "203.0.113.80", "user_data": "vpcnet serve --http :80"}]},
  "vpcs": [{
    "name": "v", "cidr": "10.5.0.0/16", "internet_gateway": "igw",
    "subnets": [{"name": "pub", "cidr": "10.5.1.0/24", "az": "us-east-1a", "route_table": "rt-pub"}],
    "route_tables": [{"name": "rt-pub", "routes": [{"destination": "0.0.0.0/0", "target": "igw"}]}],
    "security_groups": [{"name": "open", "ingress": [{"protocol": "all", "source": "0.0.0.0/0"}]}],
    "network_interfaces": [{"name": "extra", "subnet": "pub", "private_ip": "10.5.1.30", "security_groups": ["open"], "elastic_ip": "eip-eni"}],
    "instances": [
      {"name": "web", "subnet": "pub", "private_ip": "10.5.1.10", "secondary_private_ips": ["10.5.1.20"],
       "security_groups": ["open"], "elastic_ip": "eip-web", "network_interfaces": ["extra"],
       "user_data": "vpcnet serve --http :80"}
    ]
  }]
}`

// TestEIP2_FileAssociationsCarryTraffic: each EIP the file associates
// reaches its own private IP from the internet, and traffic sent from that
// private IP leaves as that EIP (IGW-1), so the internet sees three
// different addresses for one instance.
func TestEIP2_FileAssociationsCarryTraffic(t *testing.T) {
	tp := Up(t, eipTargets)
	for _, c := range []struct{ eip, private string }{
		{"3.34.10.10", "10.5.1.10"}, {"3.34.30.30", "10.5.1.20"}, {"3.34.40.40", "10.5.1.30"},
	} {
		w, err := tp.Curl(t, "inet", "http://"+c.eip+"/")
		if err != nil {
			t.Fatal(err)
		}
		if w.Name != "web" || w.Local != c.private+":80" || clientIP(w) != "203.0.113.80" {
			t.Errorf("inet → %s: %+v, want web on %s:80", c.eip, w, c.private)
		}
		out, err := tp.Exec(t, "web", "curl", "-sS", "--max-time", "2", "--interface", c.private, "http://203.0.113.80/")
		if err != nil {
			t.Fatalf("web from %s: %v %s", c.private, err, out)
		}
		var back Whoami
		if err := json.Unmarshal([]byte(out), &back); err != nil {
			t.Fatal(err)
		}
		if clientIP(back) != c.eip {
			t.Errorf("web from %s reached the internet as %s, want %s", c.private, back.Client, c.eip)
		}
	}
	out, _ := vpcnet(t, "describe-addresses", "--topology", tp.Name)
	for _, want := range []string{`"PrivateIpAddress": "10.5.1.20"`, `"PrivateIpAddress": "10.5.1.30"`} {
		if !strings.Contains(out, want) {
			t.Errorf("describe-addresses lacks %s:\n%s", want, out)
		}
	}
}
