package test

import (
	"strings"
	"testing"
)

const coipOutpost = "arn:aws:outposts:us-east-1:123456789012:outpost/op-0123456789abcdef0"

// coipTopoE2E: edge on an Outpost subnet (no public IP), whose table routes
// the internet to the internet gateway; a CoIP pool behind local gateway
// lgw; an internet host.
const coipTopoE2E = `{
  "name": "NAME", "region": "us-east-1",
  "address_pools": [{"name": "amz", "cidrs": ["3.34.0.0/16"]}, {"name": "onprem", "cidrs": ["45.60.50.0/24"], "kind": "coip"}],
  "local_gateways": [{"name": "lgw", "outpost_arn": "` + coipOutpost + `", "coip_pools": ["onprem"]}],
  "internet": {"hosts": [{"name": "inet", "ip": "203.0.113.80", "user_data": "vpcnet serve --http :80"}]},
  "vpcs": [{
    "name": "v", "cidr": "10.6.0.0/16", "internet_gateway": "igw",
    "subnets": [{"name": "op", "cidr": "10.6.1.0/24", "az": "us-east-1a", "outpost_arn": "` + coipOutpost + `", "route_table": "rt-op"}],
    "route_tables": [{"name": "rt-op", "routes": [{"destination": "0.0.0.0/0", "target": "igw"}, {"destination": "172.16.0.0/12", "target": "lgw"}]}],
    "instances": [{"name": "edge", "subnet": "op", "private_ip": "10.6.1.10", "associate_public_ip": false}]
  }]
}`

// COIP-1..3 live: allocate-address --customer-owned-ipv4-pool gives a
// CoIP address, associate-address binds it to the Outpost instance, and
// the address never leaves through the internet gateway: the instance,
// with only a CoIP, does not reach the internet host.
func TestCOIP_NeverLeavesThroughTheInternetGateway(t *testing.T) {
	tp := Up(t, coipTopoE2E)
	var a struct{ AllocationId, CustomerOwnedIp, PublicIp string }
	tp.ec2OK(t, &a, "allocate-address", "--customer-owned-ipv4-pool", "onprem")
	if !strings.HasPrefix(a.CustomerOwnedIp, "45.60.50.") || a.PublicIp != "" {
		t.Fatalf("allocation %+v", a)
	}
	tp.ec2OK(t, nil, "associate-address", "--allocation-id", a.AllocationId, "--instance-id", "edge")
	if tp.instance(t, "edge").PublicIpAddress != "" {
		t.Errorf("edge has a public IP: %+v", tp.instance(t, "edge"))
	}
	if _, err := tp.Exec(t, "edge", "curl", "-sS", "--max-time", "2", "http://203.0.113.80/"); err == nil {
		t.Fatal("an instance with only a CoIP address reached the internet through the internet gateway")
	}
	// An ordinary EIP does leave through the gateway (the test can fail).
	var e struct{ AllocationId string }
	tp.ec2OK(t, &e, "allocate-address")
	tp.ec2OK(t, nil, "associate-address", "--allocation-id", e.AllocationId, "--instance-id", "edge")
	if w, err := tp.Curl(t, "edge", "http://203.0.113.80/"); err != nil || w.Name != "inet" {
		t.Fatalf("with an Elastic IP: %+v %v", w, err)
	}
}

// coipOnPremTopo: edge on the Outpost subnet, cloud in a Region subnet;
// both subnets' table sends the on-premises network 10.100.0.0/16 to local
// gateway lgw, behind which on-premises host db serves HTTP.
const coipOnPremTopo = `{
  "name": "NAME", "region": "us-east-1",
  "address_pools": [{"name": "onprem", "cidrs": ["45.60.50.0/24"], "kind": "coip"}],
  "local_gateways": [{"name": "lgw", "outpost_arn": "` + coipOutpost + `", "coip_pools": ["onprem"],
    "on_premises": [{"name": "db", "ip": "10.100.0.5", "user_data": "vpcnet serve --http :80"}]}],
  "vpcs": [{
    "name": "v", "cidr": "10.6.0.0/16",
    "subnets": [
      {"name": "op", "cidr": "10.6.1.0/24", "az": "us-east-1a", "outpost_arn": "` + coipOutpost + `", "route_table": "rt-op"},
      {"name": "reg", "cidr": "10.6.2.0/24", "az": "us-east-1a", "route_table": "rt-op"}
    ],
    "route_tables": [{"name": "rt-op", "routes": [{"destination": "10.100.0.0/16", "target": "lgw"}]}],
    "security_groups": [{"name": "open", "ingress": [{"protocol": "all", "source": "0.0.0.0/0"}]}],
    "instances": [
      {"name": "edge", "subnet": "op", "private_ip": "10.6.1.10", "security_groups": ["open"], "user_data": "vpcnet serve --http :80"},
      {"name": "cloud", "subnet": "reg", "private_ip": "10.6.2.10", "security_groups": ["open"]}
    ]
  }]
}`

// COIP-4, COIP-5 live: the on-premises host is a namespace behind the local
// gateway; the Outpost instance reaches it with its CoIP as source (ping,
// curl), and it reaches the instance at its CoIP; without a CoIP, or from
// a Region subnet, the lgw route carries nothing (counted drops).
func TestCOIP5_OnPremisesBothWays(t *testing.T) {
	tp := Up(t, coipOnPremTopo)
	// Before a CoIP: CoIP mode carries no private address on premises.
	if tp.Ping(t, "edge", "10.100.0.5") {
		t.Fatal("edge reached on premises without a customer-owned IP")
	}
	if n := tp.Drops(t, "edge", "lgw-no-customer-owned-ip"); n == 0 {
		t.Error("no lgw-no-customer-owned-ip drop counted at edge")
	}
	var a struct{ AllocationId, CustomerOwnedIp string }
	tp.ec2OK(t, &a, "allocate-address", "--customer-owned-ipv4-pool", "onprem")
	tp.ec2OK(t, nil, "associate-address", "--allocation-id", a.AllocationId, "--instance-id", "edge")
	if !tp.PingEventually(t, "edge", "10.100.0.5") {
		t.Fatal("edge does not reach the on-premises host through the local gateway")
	}
	w, err := tp.Curl(t, "edge", "http://10.100.0.5/")
	if err != nil || w.Name != "db" || !strings.HasPrefix(w.Client, a.CustomerOwnedIp+":") {
		t.Fatalf("edge → db: %+v %v; want db seeing client %s", w, err, a.CustomerOwnedIp)
	}
	// Inbound: db reaches edge at its CoIP, which edge sees as its private IP.
	if !tp.PingEventually(t, "db", a.CustomerOwnedIp) {
		t.Fatal("db does not reach edge at its CoIP")
	}
	w, err = tp.Curl(t, "db", "http://"+a.CustomerOwnedIp+"/")
	if err != nil || w.Name != "edge" || !strings.HasPrefix(w.Client, "10.100.0.5:") || !strings.HasPrefix(w.Local, "10.6.1.10:") {
		t.Fatalf("db → edge's CoIP: %+v %v", w, err)
	}
	if out, err := tp.Exec(t, "db", "nc", "-z", "-w", "2", a.CustomerOwnedIp, "80"); err != nil {
		t.Fatalf("nc db → %s:80: %v %s", a.CustomerOwnedIp, err, out)
	}
	// A Region instance cannot use the lgw route.
	if tp.Ping(t, "cloud", "10.100.0.5") {
		t.Fatal("a Region instance reached on premises through the Outpost's local gateway")
	}
	if n := tp.Drops(t, "cloud", "lgw-not-on-outpost"); n == 0 {
		t.Error("no lgw-not-on-outpost drop counted at cloud")
	}
	// Disassociated, the CoIP leads nowhere, both ways.
	tp.ec2OK(t, nil, "disassociate-address", "--public-ip", a.CustomerOwnedIp)
	if tp.Ping(t, "db", a.CustomerOwnedIp) || tp.Ping(t, "edge", "10.100.0.5") {
		t.Fatal("traffic crossed the local gateway after the CoIP was disassociated")
	}
	if n := tp.Drops(t, "db", "lgw-unassociated-customer-owned-ip"); n == 0 {
		t.Error("no lgw-unassociated-customer-owned-ip drop counted at db")
	}
}
