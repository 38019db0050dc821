package dataplane

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/vpcnet/vpcnet/dataplane/header"
)

// natInstanceTopo: app in a private subnet whose default route is a NAT
// instance (source/dest check off, with an EIP) in the public subnet; an
// internet host h. The NAT instance masquerades in its own kernel, which
// the tables do not show.
const natInstanceTopo = `{
  "name": "nati", "region": "us-east-1",
  "address_pools": [{"name": "amz", "cidrs": ["3.34.0.0/16"]}],
  "elastic_ips": [{"name": "e-nat", "address": "3.34.1.20"}],
  "internet": {"hosts": [{"name": "h", "ip": "203.0.113.80"}]},
  "vpcs": [{
    "name": "v", "cidr": "10.0.0.0/16", "internet_gateway": "igw",
    "subnets": [
      {"name": "pub", "cidr": "10.0.1.0/24", "az": "us-east-1a", "route_table": "rt-pub"},
      {"name": "priv", "cidr": "10.0.2.0/24", "az": "us-east-1a", "route_table": "rt-priv"}
    ],
    "route_tables": [
      {"name": "rt-pub", "routes": [{"destination": "0.0.0.0/0", "target": "igw"}]},
      {"name": "rt-priv", "routes": [{"destination": "0.0.0.0/0", "target": "natinst"}]}
    ],
    "security_groups": [
      {"name": "sg-nat", "ingress": [{"protocol": "tcp", "ports": "443", "source": "10.0.0.0/16"}]},
      {"name": "sg-app", "ingress": []}
    ],
    "instances": [
      {"name": "natinst", "subnet": "pub", "private_ip": "10.0.1.10", "security_groups": ["sg-nat"], "elastic_ip": "e-nat", "source_dest_check": false},
      {"name": "app", "subnet": "priv", "private_ip": "10.0.2.10", "security_groups": ["sg-app"]}
    ]
  }]
}`

// OBS-3: a path through a NAT instance is not a definite "no". The walk
// assumes the appliance forwards unchanged, which would leave the internet
// gateway with a private source (IGW-2); since the appliance may translate
// it (a NAT instance does), the answer says so: APPLIANCE_BEHAVIOR_UNKNOWN
// at the appliance's ENI first, then the block, and a warning.
func TestOBS3_ThroughANATInstanceIsNotADefiniteNo(t *testing.T) {
	n, f := runningForwarder(t, natInstanceTopo)
	app, nat := n.InstanceByName["app"].Primary().ID, n.InstanceByName["natinst"].Primary().ID
	a, err := f.ExplainPath(app, netip.MustParseAddr("203.0.113.80"), header.ProtoTCP, 443)
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, x := range a.Explanations {
		codes = append(codes, x.ExplanationCode)
	}
	if a.NetworkPathFound || strings.Join(codes, " ") != "APPLIANCE_BEHAVIOR_UNKNOWN IGW_NO_PUBLIC_ADDRESS" ||
		a.Explanations[0].ComponentID != nat || a.Explanations[0].Path != "forward" {
		t.Fatalf("through the NAT instance: found %v, explanations %+v, path %+v", a.NetworkPathFound, a.Explanations, a.ForwardPathComponents)
	}
	if a.Appliance != nat || !strings.Contains(a.Warning, nat) {
		t.Errorf("appliance %q, warning %q", a.Appliance, a.Warning)
	}
	// A block before the appliance is definite: its group admits 443 only.
	a, err = f.ExplainPath(app, netip.MustParseAddr("203.0.113.80"), header.ProtoTCP, 80)
	if err != nil {
		t.Fatal(err)
	}
	if a.NetworkPathFound || len(a.Explanations) != 1 || a.Explanations[0].ExplanationCode != "ENI_SG_RULES_MISMATCH" ||
		a.Explanations[0].ComponentID != nat || a.Appliance != "" {
		t.Errorf("blocked at the appliance's group: %+v (appliance %q)", a.Explanations, a.Appliance)
	}
	// A path with no appliance has no warning.
	a, err = f.ExplainPath(nat, netip.MustParseAddr("203.0.113.80"), header.ProtoTCP, 443)
	if err != nil || !a.NetworkPathFound || a.Warning != "" || a.Appliance != "" {
		t.Errorf("from the NAT instance itself: %+v %v", a, err)
	}
}

// A path found through an appliance is found, with the warning that the
// appliance is assumed to forward it unchanged.
func TestOBS3_FoundThroughAnApplianceWarns(t *testing.T) {
	topo := strings.Replace(unitTopo, `{"name": "fw", "subnet": "c", "private_ip": "10.0.3.10", "security_groups": ["open"]}`,
		`{"name": "fw", "subnet": "c", "private_ip": "10.0.3.10", "security_groups": ["open"], "source_dest_check": false}`, 1)
	n, f := runningForwarder(t, topo)
	a, err := f.ExplainPath(n.InstanceByName["a1"].Primary().ID, netip.MustParseAddr("10.0.9.10"), header.ProtoTCP, 22)
	fw := n.InstanceByName["fw"].Primary().ID
	if err != nil || !a.NetworkPathFound || len(a.Explanations) != 0 || a.Appliance != fw || !strings.Contains(a.Warning, "unchanged") {
		t.Errorf("through fw: %+v %v", a, err)
	}
}
