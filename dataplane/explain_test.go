package dataplane

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/vpcnet/vpcnet/dataplane/header"
	"github.com/vpcnet/vpcnet/dataplane/policy"
	"github.com/vpcnet/vpcnet/topology"
)

// pathTopo: web in a public subnet with an EIP; app in a private subnet
// whose default route is a NAT gateway; db in an isolated subnet whose NACL
// lets 5432 in and out but forgets the replies' ephemeral ports; nopub in
// the public subnet without a public IP; hidden, with an EIP, in the
// private subnet (its replies leave through the NAT gateway); lonely, with
// an EIP, in a subnet whose route table has only local; inner, in a subnet
// ("behind") whose default route is natinst, a NAT instance (source/dest
// check off, an EIP, its group admitting TCP 443 from the VPC) in the
// public subnet; an internet host h.
const pathTopo = `{
  "name": "path", "region": "us-east-1",
  "address_pools": [{"name": "amz", "cidrs": ["3.34.0.0/16"]}],
  "elastic_ips": [{"name": "e-web", "address": "3.34.1.10"}, {"name": "e-nat", "address": "3.34.1.20"},
                  {"name": "e-hid", "address": "3.34.1.30"}, {"name": "e-lon", "address": "3.34.1.40"},
                  {"name": "e-ni", "address": "3.34.1.50"}],
  "internet": {"hosts": [{"name": "h", "ip": "203.0.113.80"}]},
  "vpcs": [{
    "name": "v", "cidr": "10.0.0.0/16", "internet_gateway": "igw",
    "subnets": [
      {"name": "pub", "cidr": "10.0.1.0/24", "az": "us-east-1a", "route_table": "rt-pub"},
      {"name": "priv", "cidr": "10.0.2.0/24", "az": "us-east-1a", "route_table": "rt-priv"},
      {"name": "iso", "cidr": "10.0.3.0/24", "az": "us-east-1a", "network_acl": "strict"},
      {"name": "dark", "cidr": "10.0.4.0/24", "az": "us-east-1a"},
      {"name": "behind", "cidr": "10.0.5.0/24", "az": "us-east-1a", "route_table": "rt-inner"}
    ],
    "route_tables": [
      {"name": "rt-pub", "routes": [{"destination": "0.0.0.0/0", "target": "igw"}, {"destination": "198.51.100.0/24", "target": "blackhole"}]},
      {"name": "rt-priv", "routes": [{"destination": "0.0.0.0/0", "target": "nat"}]},
      {"name": "rt-inner", "routes": [{"destination": "0.0.0.0/0", "target": "natinst"}]}
    ],
    "nat_gateways": [{"name": "nat", "subnet": "pub", "elastic_ip": "e-nat"}],
    "network_acls": [{"name": "strict",
      "ingress": [{"rule": 100, "protocol": "tcp", "ports": "5432", "cidr": "10.0.0.0/16", "action": "allow"}],
      "egress": [{"rule": 100, "protocol": "tcp", "ports": "5432", "cidr": "10.0.0.0/16", "action": "allow"}]}],
    "security_groups": [
      {"name": "sg-web", "ingress": [{"protocol": "tcp", "ports": "80", "source": "0.0.0.0/0"}]},
      {"name": "sg-app", "ingress": [{"protocol": "all", "source": "10.0.0.0/16"}]},
      {"name": "sg-db", "ingress": [{"protocol": "tcp", "ports": "5432", "source": "sg-app"}]},
      {"name": "sg-nat", "ingress": [{"protocol": "tcp", "ports": "443", "source": "10.0.0.0/16"}]}
    ],
    "instances": [
      {"name": "web", "subnet": "pub", "private_ip": "10.0.1.10", "security_groups": ["sg-web"], "elastic_ip": "e-web"},
      {"name": "nopub", "subnet": "pub", "private_ip": "10.0.1.11", "security_groups": ["sg-web"], "associate_public_ip": false},
      {"name": "app", "subnet": "priv", "private_ip": "10.0.2.10", "security_groups": ["sg-app"]},
      {"name": "db", "subnet": "iso", "private_ip": "10.0.3.10", "security_groups": ["sg-db"]},
      {"name": "hidden", "subnet": "priv", "private_ip": "10.0.2.20", "security_groups": ["sg-web"], "elastic_ip": "e-hid"},
      {"name": "lonely", "subnet": "dark", "private_ip": "10.0.4.10", "security_groups": ["sg-web"], "elastic_ip": "e-lon"},
      {"name": "natinst", "subnet": "pub", "private_ip": "10.0.1.12", "security_groups": ["sg-nat"], "elastic_ip": "e-ni", "source_dest_check": false},
      {"name": "inner", "subnet": "behind", "private_ip": "10.0.5.10", "security_groups": ["sg-app"]}
    ]
  }]
}`

// OBS-3: each question's answer, and for a blocked path the code, the
// component and (for NACLs) the direction, rule and which way it blocks.
func TestOBS3_PathAnalysis(t *testing.T) {
	n, f := runningForwarder(t, pathTopo)
	eni := func(name string) string { return n.InstanceByName[name].Primary().ID }
	acl := n.VPCs[0].Subnets[2].NACL.ID
	cases := []struct {
		name, src, dst string
		proto          uint8
		port           uint16
		found          bool
		code, comp     string // the first explanation
		dir, path      string
		rule           int
		via            []string // component types the path must include, in order
	}{
		{name: "web to app (private IP, across subnets)", src: eni("web"), dst: "10.0.2.10", proto: header.ProtoTCP, port: 8080, found: true,
			via: []string{"network-interface", "security-group", "route-table", "network-acl", "network-acl", "security-group", "network-interface"}},
		{name: "app to db: NACL forgets the replies' ephemeral ports", src: eni("app"), dst: "10.0.3.10", proto: header.ProtoTCP, port: 5432,
			code: "SUBNET_ACL_RESTRICTION", comp: acl, dir: "egress", path: "return", rule: policy.ImplicitDeny},
		{name: "web to db: db's group admits only app's members", src: eni("web"), dst: "10.0.3.10", proto: header.ProtoTCP, port: 5432,
			code: "ENI_SG_RULES_MISMATCH", comp: eni("db"), dir: "ingress", path: "forward"},
		{name: "app to db on another port: the NACL", src: eni("app"), dst: "10.0.3.10", proto: header.ProtoTCP, port: 22,
			code: "SUBNET_ACL_RESTRICTION", comp: acl, dir: "ingress", path: "forward", rule: policy.ImplicitDeny},
		{name: "internet to web's EIP", src: "h", dst: "3.34.1.10", proto: header.ProtoTCP, port: 80, found: true,
			via: []string{"internet-host", "internet-gateway", "security-group", "network-interface"}},
		{name: "internet to web's EIP, closed port", src: "h", dst: "3.34.1.10", proto: header.ProtoTCP, port: 22,
			code: "ENI_SG_RULES_MISMATCH", comp: eni("web"), dir: "ingress", path: "forward"},
		{name: "app to the internet through the NAT gateway", src: eni("app"), dst: "203.0.113.80", proto: header.ProtoTCP, port: 443, found: true,
			via: []string{"network-interface", "route-table", "nat-gateway", "route-table", "internet-gateway", "internet-host"}},
		{name: "nopub to the internet: no public IP", src: eni("nopub"), dst: "203.0.113.80", proto: header.ProtoTCP, port: 443,
			code: "IGW_NO_PUBLIC_ADDRESS", comp: n.VPCs[0].IGW.ID, dir: "egress", path: "forward"},
		{name: "db to the internet: no route", src: eni("db"), dst: "203.0.113.80", proto: header.ProtoTCP, port: 443,
			code: "NO_ROUTE_TO_DESTINATION", comp: n.VPCs[0].Subnets[2].RouteTable.ID, path: "forward"},
		{name: "web to a blackhole", src: eni("web"), dst: "198.51.100.7", proto: header.ProtoUDP, port: 53,
			code: "BAD_STATE_ROUTE", comp: n.VPCs[0].Subnets[0].RouteTable.ID, path: "forward"},
		{name: "internet to a private address", src: "h", dst: "10.0.1.10", proto: header.ProtoICMP,
			code: "CANNOT_ROUTE", comp: "internet", path: "forward"},
		{name: "app pings web", src: eni("app"), dst: "10.0.1.10", proto: header.ProtoICMP,
			code: "ENI_SG_RULES_MISMATCH", comp: eni("web"), dir: "ingress", path: "forward"},
		{name: "internet to lonely's EIP: the reply has no route out", src: "h", dst: "3.34.1.40", proto: header.ProtoTCP, port: 80,
			code: "NO_ROUTE_TO_DESTINATION", comp: n.VPCs[0].Subnets[3].RouteTable.ID, path: "return"},
		{name: "internet to hidden's EIP: the reply leaves through the NAT gateway", src: "h", dst: "3.34.1.30", proto: header.ProtoTCP, port: 80,
			code: "RETURN_PATH_MISMATCH", comp: "h", path: "return"},
		{name: "internet to a pool address nobody holds", src: "h", dst: "3.34.9.9", proto: header.ProtoTCP, port: 80,
			code: "IGW_NO_PUBLIC_ADDRESS", comp: "internet", dir: "ingress", path: "forward"},
	}
	for _, c := range cases {
		a, err := f.ExplainPath(c.src, netip.MustParseAddr(c.dst), c.proto, c.port)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if a.NetworkPathFound != c.found {
			t.Errorf("%s: found %v, want %v: %+v", c.name, a.NetworkPathFound, c.found, a)
			continue
		}
		if c.found {
			if len(a.Explanations) != 0 {
				t.Errorf("%s: found, with explanations %+v", c.name, a.Explanations)
			}
			var types []string
			for _, p := range a.ForwardPathComponents {
				types = append(types, p.Type)
			}
			if !subsequence(c.via, types) {
				t.Errorf("%s: path %v, want it to go through %v", c.name, types, c.via)
			}
			if len(a.ReturnPathComponents) == 0 {
				t.Errorf("%s: found without a return path", c.name)
			}
			continue
		}
		if len(a.Explanations) == 0 {
			t.Errorf("%s: not found and no explanation", c.name)
			continue
		}
		e := a.Explanations[0]
		if e.ExplanationCode != c.code || e.ComponentID != c.comp || e.Direction != c.dir || e.Path != c.path || e.RuleNumber != c.rule {
			t.Errorf("%s: %+v, want %s at %s %s %s rule %d", c.name, e, c.code, c.comp, c.dir, c.path, c.rule)
		}
		if e.Detail == "" {
			t.Errorf("%s: no detail", c.name)
		}
	}
	if _, err := f.ExplainPath("nobody", netip.MustParseAddr("10.0.1.10"), header.ProtoTCP, 80); err == nil || !strings.Contains(err.Error(), "nobody") {
		t.Errorf("unknown source: %v", err)
	}
	// A stopped instance (no port) receives nothing and sends nothing.
	f.DetachPort(eni("app"))
	for _, c := range []struct{ src, dst string }{{eni("web"), "10.0.2.10"}, {eni("app"), "10.0.1.10"}} {
		a, err := f.ExplainPath(c.src, netip.MustParseAddr(c.dst), header.ProtoTCP, 80)
		if err != nil || a.NetworkPathFound || len(a.Explanations) == 0 || a.Explanations[0].ExplanationCode != "BAD_STATE" || a.Explanations[0].ComponentID != eni("app") {
			t.Errorf("%s → %s with app stopped: %+v %v, want BAD_STATE at app", c.src, c.dst, a.Explanations, err)
		}
	}
}

// A route to an appliance (source/dest check off) sends the request
// through it: the path goes on from the appliance's own interface to the
// real destination, whose groups still decide.
func TestOBS3_ThroughAnAppliance(t *testing.T) {
	topo := strings.Replace(unitTopo, `{"name": "fw", "subnet": "c", "private_ip": "10.0.3.10", "security_groups": ["open"]}`,
		`{"name": "fw", "subnet": "c", "private_ip": "10.0.3.10", "security_groups": ["open"], "source_dest_check": false}`, 1)
	n, f := runningForwarder(t, topo)
	a, err := f.ExplainPath(n.InstanceByName["a1"].Primary().ID, netip.MustParseAddr("10.0.9.10"), header.ProtoTCP, 22)
	if err != nil {
		t.Fatal(err)
	}
	var ifaces []string
	for _, c := range a.ForwardPathComponents {
		if c.Type == "network-interface" {
			ifaces = append(ifaces, c.Name)
		}
	}
	if !a.NetworkPathFound || strings.Join(ifaces, " ") != "a1 fw d1" {
		t.Errorf("found %v through %v, want a1 fw d1: %+v", a.NetworkPathFound, ifaces, a.Explanations)
	}
}

// runningForwarder compiles topo with every instance running (a port
// attached that takes frames and never reads any).
func runningForwarder(t *testing.T, topo string) (*topology.Network, *Forwarder) {
	t.Helper()
	n, err := topology.Load([]byte(topo))
	if err != nil {
		t.Fatal(err)
	}
	f := New(n, Options{})
	t.Cleanup(f.Stop)
	for _, v := range n.VPCs {
		for _, i := range v.Instances {
			f.AttachPort(i.Primary().ID, &nullPort{})
		}
	}
	return n, f
}

// subsequence reports whether want appears in got in order.
func subsequence(want, got []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

// The analysis agrees with the forwarder: for each question, a request
// frame sent through the real pipeline arrives exactly when the analysis
// finds the forward path, and its reply comes back exactly when the
// analysis finds the whole path (return NACLs included).
//
// A path through an appliance (a NAT instance) is played by the test as
// the appliance, both ways the analysis allows for: forwarded unchanged
// (what the analysis assumes), the verdict after APPLIANCE_BEHAVIOR_UNKNOWN
// holds; masqueraded (what a NAT instance does), the request reaches the
// internet from the appliance's public IP and the reply comes back to the
// source, which is why the analysis must not answer a definite no (OBS-3).
func TestOBS3_AnalysisAgreesWithTheForwarder(t *testing.T) {
	r := newRig(t, pathTopo)
	n := r.net
	host := n.Hosts[0]
	hp := NewFakePort(64)
	r.f.AttachPort(host.Name, hp)
	r.ports[host.Name] = hp
	internetMAC := net.HardwareAddr{0x02, 0x00, 0x5e, 0x00, 0x00, 0x01}
	macOf := func(name string) (own, gw net.HardwareAddr) {
		if name == host.Name {
			return host.MAC, internetMAC
		}
		e := r.enis[name]
		return e.MAC, e.Subnet.RouterMAC
	}
	portOf := map[string]string{"10.0.1.10": "web", "3.34.1.10": "web", "10.0.2.10": "app", "10.0.3.10": "db", "203.0.113.80": "h",
		"3.34.1.30": "hidden", "3.34.1.40": "lonely"}
	mk := func(from, src, dst string, proto uint8, sport, dport uint16, reply bool) []byte {
		own, gw := macOf(from)
		switch proto {
		case header.ProtoTCP:
			return frame(t, own, gw, src, dst, &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), SYN: true, ACK: reply, Window: 100})
		case header.ProtoUDP:
			return frame(t, own, gw, src, dst, &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}, gopacket.Payload("x"))
		}
		typ := uint8(8)
		if reply {
			typ = 0
		}
		return frame(t, own, gw, src, dst, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, 0), Id: 1, Seq: 1})
	}
	ipOf := func(name string) string {
		if name == host.Name {
			return host.IP.String()
		}
		return r.enis[name].PrimaryIP.String()
	}
	recv := func(name string) []byte {
		select {
		case f := <-r.ports[name].Sent():
			return f
		case <-time.After(300 * time.Millisecond):
			return nil
		}
	}
	nameOf := map[string]string{} // ENI id → instance name
	for name, e := range r.enis {
		nameOf[e.ID] = name
	}
	// throughAppliance checks a path the analysis walks through an
	// appliance, playing the appliance as a NAT instance would (TCP or UDP).
	throughAppliance := func(name, from, to, dst string, proto uint8, port uint16, a *PathAnalysis) {
		t.Helper()
		appl := nameOf[a.Appliance]
		if len(a.Explanations) == 0 || a.Explanations[0].ExplanationCode != ApplianceUnknown || a.Explanations[0].ComponentID != a.Appliance {
			t.Errorf("%s: through appliance %s, the analysis says %v %+v, want %s at it first", name, appl, a.NetworkPathFound, a.Explanations, ApplianceUnknown)
			return
		}
		rest := a.Explanations[1:]
		unchanged := len(rest) == 0 || rest[0].Path == "return"
		sport := pathPorts[0][0]
		r.send(from, mk(from, ipOf(from), dst, proto, sport, port, false))
		if recv(appl) == nil {
			t.Errorf("%s: the request did not reach the appliance %s, which the analysis walks through", name, appl)
			return
		}
		// Forwarded unchanged: the analysis's own assumption, so its verdict
		// after the appliance must hold (here IGW-2: a private source).
		r.send(appl, mk(appl, ipOf(from), dst, proto, sport, port, false))
		if got := recv(to); (got != nil) != unchanged {
			t.Errorf("%s: forwarded unchanged by %s, the request arrived %v; the analysis says %+v", name, appl, got != nil, rest)
		}
		// Masqueraded: from the appliance's own address and a port of its
		// own. The internet gateway gives it the appliance's public IP.
		const masq = 61000
		r.send(appl, mk(appl, ipOf(appl), dst, proto, masq, port, false))
		got := recv(to)
		if got == nil {
			t.Errorf("%s: masqueraded by %s, the request did not arrive", name, appl)
			return
		}
		pub := r.enis[appl].PublicIPs[r.enis[appl].PrimaryIP]
		if src := header.IPv4(got[ipOff:]).Src(); src != pub {
			t.Errorf("%s: masqueraded by %s, the request arrived from %s, want its public IP %s", name, appl, src, pub)
		}
		r.send(to, mk(to, dst, pub.String(), proto, port, masq, true))
		back := recv(appl)
		if back == nil || header.IPv4(back[ipOff:]).Dst().String() != ipOf(appl) {
			t.Errorf("%s: the reply did not come back to the appliance %s", name, appl)
			return
		}
		// The appliance undoes its translation and sends the reply on.
		r.send(appl, mk(appl, dst, ipOf(from), proto, port, sport, true))
		if back := recv(from); back == nil || header.IPv4(back[ipOff:]).Src().String() != dst {
			t.Errorf("%s: the reply, translated back by %s, did not reach %s from %s", name, appl, from, dst)
		}
	}
	appliances := 0 // questions whose path runs through an appliance
	for _, c := range []struct {
		from, dst string
		proto     uint8
		port      uint16
	}{
		{"web", "10.0.2.10", header.ProtoTCP, 8080},
		{"app", "10.0.3.10", header.ProtoTCP, 5432},
		{"web", "10.0.3.10", header.ProtoTCP, 5432},
		{"app", "10.0.3.10", header.ProtoTCP, 22},
		{"h", "3.34.1.10", header.ProtoTCP, 80},
		{"h", "3.34.1.10", header.ProtoTCP, 22},
		{"app", "203.0.113.80", header.ProtoTCP, 443},
		{"app", "203.0.113.80", header.ProtoUDP, 53},
		{"app", "10.0.1.10", header.ProtoICMP, 0},
		{"web", "10.0.2.10", header.ProtoICMP, 0},
		{"h", "3.34.1.40", header.ProtoTCP, 80},
		{"h", "3.34.1.30", header.ProtoTCP, 80},
		{"inner", "203.0.113.80", header.ProtoTCP, 443}, // through the NAT instance
		{"inner", "203.0.113.80", header.ProtoTCP, 80},  // natinst's group admits 443 only: a definite no
	} {
		name := fmt.Sprintf("%s → %s proto %d port %d", c.from, c.dst, c.proto, c.port)
		src := c.from
		if c.from != host.Name {
			src = r.enis[c.from].ID
		}
		a, err := r.f.ExplainPath(src, netip.MustParseAddr(c.dst), c.proto, c.port)
		if err != nil {
			t.Fatal(err)
		}
		forward := a.NetworkPathFound || (len(a.Explanations) > 0 && a.Explanations[0].Path == "return")
		to := portOf[c.dst]
		if a.Appliance != "" {
			throughAppliance(name, c.from, to, c.dst, c.proto, c.port, &a)
			appliances++
			continue
		}
		r.send(c.from, mk(c.from, ipOf(c.from), c.dst, c.proto, pathPorts[0][0], c.port, false))
		var got []byte
		select {
		case got = <-r.ports[to].Sent():
		case <-time.After(300 * time.Millisecond):
		}
		if (got != nil) != forward {
			t.Errorf("%s: the request arrived %v, the analysis says the forward path is %v (%+v)", name, got != nil, forward, a.Explanations)
			continue
		}
		if got == nil {
			continue
		}
		// The reply, to the address and port the request arrived from.
		ip := header.IPv4(got[ipOff:])
		var sport, dport uint16
		if c.proto == header.ProtoTCP || c.proto == header.ProtoUDP {
			l4 := ip[ip.HeaderLen():]
			sport, dport = header.TCP(l4).DstPort(), header.TCP(l4).SrcPort()
		}
		r.send(to, mk(to, ip.Dst().String(), ip.Src().String(), c.proto, sport, dport, true))
		select {
		case back := <-r.ports[c.from].Sent():
			// It only answers the source if it comes from where the request went.
			answered := header.IPv4(back[ipOff:]).Src() == netip.MustParseAddr(c.dst)
			if answered != a.NetworkPathFound {
				t.Errorf("%s: the reply came back from %s, the analysis says found=%v %+v", name, header.IPv4(back[ipOff:]).Src(), a.NetworkPathFound, a.Explanations)
			}
		case <-time.After(300 * time.Millisecond):
			if a.NetworkPathFound {
				t.Errorf("%s: the reply did not come back, the analysis found the path", name)
			}
		}
	}
	if appliances != 1 {
		t.Errorf("%d questions ran through an appliance, want 1 (inner → h:443 through natinst)", appliances)
	}
}
