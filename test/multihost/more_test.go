package multihost

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// routed is the rest of the single-host suite's cases with their parts on
// different machines: middlebox routing, peering, NAT gateways public and
// private, strict NACLs, the default group, live route tables. An AZ per
// machine (us-east-1a h1, 1b h2, 1c h3), the internet on h3.
//
// VPC m (10.20.0.0/16, igw-m):
//
//	RT-4/ENI-4  a1 (m-a, h3) ⇄ b1 (m-b, h2) through fw (m-c, h1), whose
//	            source/dest check is off and which forwards
//	NACL-1      cli (m-cli, h1, acl-cli) → srv:80 (m-srv, h2, acl-srv)
//	SG-7        d2 (m-c, h1) and d1 (m-ps, h2) in the default group
//	NAT-2/4     n1 (m-priv, h2) and n2 (m-priv, but on h3) → natm (m-pub,
//	            h1, EIP) → inet (h3)
//	NAT-1       pc1 (m-pc, h1) → natp (m-pn, h3, private) → ps1 (m-ps, h2)
//	RT-1        e1 (m-e, its IGW side on h1; e1 itself on h2, EIP)
//
// VPCs p1, p2, p3 (PEER): pcx12 joins p1 and p2, pcx23 p2 and p3; every
// table routes both other VPCs through its peering, so p1 → p3 through
// p2 tries a transitive path. i1 on h1, i2 on h2, i3 on h3.
const routed = `{
  "name": "NAME", "region": "us-east-1",
  "settings": {"store": "STORE", "busy_poll_us": 0, "nat_idle_timeout_seconds": IDLE,
    "placement": {"zones": {"us-east-1a": "h1", "us-east-1b": "h2", "us-east-1c": "h3"}, "internet": "h3", "default": "h1"}},
  "elastic_ips": [{"name": "eip-e1", "address": "3.34.30.10"}, {"name": "eip-natm", "address": "3.34.30.20"}],
  "internet": {"hosts": [{"name": "inet", "ip": "203.0.113.80", "user_data": "vpcnet serve --http :80 --tcp :7"}]},
  "vpcs": [{
    "name": "m", "cidr": "10.20.0.0/16", "internet_gateway": "igw-m",
    "subnets": [
      {"name": "m-a", "cidr": "10.20.1.0/24", "az": "us-east-1c", "route_table": "rt-a"},
      {"name": "m-b", "cidr": "10.20.2.0/24", "az": "us-east-1b", "route_table": "rt-b"},
      {"name": "m-c", "cidr": "10.20.3.0/24", "az": "us-east-1a"},
      {"name": "m-cli", "cidr": "10.20.4.0/24", "az": "us-east-1a", "network_acl": "acl-cli"},
      {"name": "m-srv", "cidr": "10.20.5.0/24", "az": "us-east-1b", "network_acl": "acl-srv"},
      {"name": "m-pub", "cidr": "10.20.6.0/24", "az": "us-east-1a", "route_table": "rt-pub"},
      {"name": "m-priv", "cidr": "10.20.7.0/24", "az": "us-east-1b", "route_table": "rt-priv"},
      {"name": "m-pn", "cidr": "10.20.8.0/24", "az": "us-east-1c", "route_table": "rt-pn"},
      {"name": "m-pc", "cidr": "10.20.9.0/24", "az": "us-east-1a", "route_table": "rt-pc"},
      {"name": "m-ps", "cidr": "10.20.10.0/24", "az": "us-east-1b"},
      {"name": "m-e", "cidr": "10.20.11.0/24", "az": "us-east-1a", "route_table": "rt-e"}
    ],
    "route_tables": [
      {"name": "rt-a", "routes": [{"destination": "10.20.2.0/24", "target": "fw"}]},
      {"name": "rt-b", "routes": [{"destination": "10.20.1.0/24", "target": "fw"}]},
      {"name": "rt-pub", "routes": [{"destination": "0.0.0.0/0", "target": "igw-m"}]},
      {"name": "rt-priv", "routes": [{"destination": "0.0.0.0/0", "target": "natm"}]},
      {"name": "rt-pn", "routes": [{"destination": "0.0.0.0/0", "target": "igw-m"}]},
      {"name": "rt-pc", "routes": [{"destination": "10.20.10.0/24", "target": "natp"}, {"destination": "0.0.0.0/0", "target": "natp"}]},
      {"name": "rt-e", "routes": [{"destination": "0.0.0.0/0", "target": "igw-m"}]}
    ],
    "nat_gateways": [
      {"name": "natm", "subnet": "m-pub", "elastic_ip": "eip-natm"},
      {"name": "natp", "subnet": "m-pn", "connectivity": "private", "private_ip": "10.20.8.5"}
    ],
    "network_acls": [
      {"name": "acl-cli",
       "egress":  [{"rule": 100, "protocol": "tcp", "ports": "80", "cidr": "10.20.5.0/24", "action": "allow"}],
       "ingress": [{"rule": 100, "protocol": "tcp", "ports": "1024-65535", "cidr": "10.20.5.0/24", "action": "allow"}]},
      {"name": "acl-srv",
       "ingress": [{"rule": 100, "protocol": "tcp", "ports": "80", "cidr": "10.20.4.0/24", "action": "allow"}],
       "egress":  [{"rule": 100, "protocol": "tcp", "ports": "1024-65535", "cidr": "10.20.4.0/24", "action": "allow"}]}
    ],
    "security_groups": [{"name": "open", "ingress": [{"protocol": "all", "source": "0.0.0.0/0"}]}],
    "instances": [
      {"name": "a1", "subnet": "m-a", "private_ip": "10.20.1.10", "security_groups": ["open"]},
      {"name": "b1", "subnet": "m-b", "private_ip": "10.20.2.10", "security_groups": ["open"]},
      {"name": "fw", "subnet": "m-c", "private_ip": "10.20.3.10", "security_groups": ["open"], "source_dest_check": false,
       "user_data": "sysctl -w net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0"},
      {"name": "d2", "subnet": "m-c", "private_ip": "10.20.3.20"},
      {"name": "cli", "subnet": "m-cli", "private_ip": "10.20.4.10", "security_groups": ["open"]},
      {"name": "srv", "subnet": "m-srv", "private_ip": "10.20.5.10", "security_groups": ["open"], "user_data": "vpcnet serve --http :80"},
      {"name": "n1", "subnet": "m-priv", "private_ip": "10.20.7.10", "security_groups": ["open"]},
      {"name": "n2", "subnet": "m-priv", "private_ip": "10.20.7.20", "host": "h3", "security_groups": ["open"]},
      {"name": "pc1", "subnet": "m-pc", "private_ip": "10.20.9.10", "security_groups": ["open"]},
      {"name": "ps1", "subnet": "m-ps", "private_ip": "10.20.10.10", "security_groups": ["open"], "user_data": "vpcnet serve --http :80"},
      {"name": "d1", "subnet": "m-ps", "private_ip": "10.20.10.20"},
      {"name": "e1", "subnet": "m-e", "private_ip": "10.20.11.10", "host": "h2", "security_groups": ["open"], "elastic_ip": "eip-e1"}
    ]
  }, {
    "name": "p1", "cidr": "10.21.0.0/16",
    "subnets": [{"name": "p1s", "cidr": "10.21.1.0/24", "az": "us-east-1a", "route_table": "rt-p1"}],
    "route_tables": [{"name": "rt-p1", "routes": [{"destination": "10.22.0.0/16", "target": "pcx12"}, {"destination": "10.23.0.0/16", "target": "pcx12"}]}],
    "security_groups": [{"name": "open1", "ingress": [{"protocol": "all", "source": "0.0.0.0/0"}]}],
    "instances": [{"name": "i1", "subnet": "p1s", "private_ip": "10.21.1.10", "security_groups": ["open1"]}]
  }, {
    "name": "p2", "cidr": "10.22.0.0/16",
    "subnets": [{"name": "p2s", "cidr": "10.22.1.0/24", "az": "us-east-1b", "route_table": "rt-p2"}],
    "route_tables": [{"name": "rt-p2", "routes": [{"destination": "10.21.0.0/16", "target": "pcx12"}, {"destination": "10.23.0.0/16", "target": "pcx23"}]}],
    "security_groups": [{"name": "open2", "ingress": [{"protocol": "all", "source": "0.0.0.0/0"}]}],
    "instances": [{"name": "i2", "subnet": "p2s", "private_ip": "10.22.1.10", "security_groups": ["open2"]}]
  }, {
    "name": "p3", "cidr": "10.23.0.0/16",
    "subnets": [{"name": "p3s", "cidr": "10.23.1.0/24", "az": "us-east-1c", "route_table": "rt-p3"}],
    "route_tables": [{"name": "rt-p3", "routes": [{"destination": "10.22.0.0/16", "target": "pcx23"}, {"destination": "10.21.0.0/16", "target": "pcx23"}]}],
    "security_groups": [{"name": "open3", "ingress": [{"protocol": "all", "source": "0.0.0.0/0"}]}],
    "instances": [{"name": "i3", "subnet": "p3s", "private_ip": "10.23.1.10", "security_groups": ["open3"]}]
  }],
  "peerings": [{"name": "pcx12", "vpcs": ["p1", "p2"]}, {"name": "pcx23", "vpcs": ["p2", "p3"]}]
}`

// natIdle is routed's NAT idle timeout (NAT-4; settable 1–432000 s).
const natIdle = 3 * time.Second

const (
	a1IP   = "10.20.1.10"
	b1IP   = "10.20.2.10"
	d2IP   = "10.20.3.20"
	srvIP  = "10.20.5.10"
	natpIP = "10.20.8.5"
	ps1IP  = "10.20.10.10"
	d1IP   = "10.20.10.20"
	i1IP   = "10.21.1.10"
	i2IP   = "10.22.1.10"
	i3IP   = "10.23.1.10"
	e1EIP  = "3.34.30.10"
	natmIP = "3.34.30.20"
)

// routedOn is where routed's placement puts each instance.
var routedOn = map[string]string{"a1": "h3", "b1": "h2", "fw": "h1", "d2": "h1", "cli": "h1", "srv": "h2",
	"n1": "h2", "n2": "h3", "pc1": "h1", "ps1": "h2", "d1": "h2", "e1": "h2", "i1": "h1", "i2": "h2", "i3": "h3", "inet": "h3"}

// upRouted brings the lab and routed up and waits until fw forwards and
// traffic crosses all three machines.
func upRouted(t *testing.T) *Lab {
	t.Helper()
	l := NewLab(t)
	names := make([]string, 0, len(routedOn))
	for n := range routedOn {
		names = append(names, n)
	}
	l.Up(t, strings.ReplaceAll(routed, "IDLE", fmt.Sprint(int(natIdle/time.Second))), names...)
	if !poll(10*time.Second, func() bool {
		out, _ := l.Exec(t, "fw", "cat", "/proc/sys/net/ipv4/ip_forward")
		return strings.TrimSpace(out) == "1"
	}) {
		t.Fatal("fw's user_data did not turn forwarding on within 10 s")
	}
	// The cases below rely on where each instance runs.
	out := l.Status(t)
	for inst, h := range routedOn {
		if inst != "inet" && !lineWith(out, inst, h, "yes") {
			t.Fatalf("status shows no line with %s on %s, built (yes):\n%s", inst, h, out)
		}
	}
	for _, p := range [][2]string{{"d2", d1IP}, {"i1", i2IP}, {"i3", i2IP}} {
		if !l.PingEventually(t, 30*time.Second, p[0], p[1]) {
			l.diagnose(t)
			t.Fatalf("30 s after up, %s (on %s) cannot ping %s", p[0], routedOn[p[0]], p[1])
		}
	}
	return l
}

// endpoint is machine h's counters of one endpoint (zero if h has none).
func (l *Lab) endpoint(t *testing.T, h, name string) (rx, tx uint64) {
	t.Helper()
	s, _ := l.Stats(t, h)
	for _, e := range s.Endpoints {
		if e.Name == name {
			rx, tx = rx+e.RxFrames, tx+e.TxFrames
		}
	}
	return rx, tx
}

// instanceENI is the id of an instance's primary ENI, as h's agent
// describes it.
func (l *Lab) instanceENI(t *testing.T, h, name string) string {
	t.Helper()
	var r struct {
		Reservations []struct {
			Instances []struct {
				Tags              []struct{ Key, Value string }
				NetworkInterfaces []struct {
					NetworkInterfaceId string
					Attachment         struct{ DeviceIndex int }
				}
			}
		}
	}
	l.Ec2OK(t, h, &r, "describe-instances")
	for _, res := range r.Reservations {
		for _, i := range res.Instances {
			for _, tag := range i.Tags {
				if tag.Key == "Name" && tag.Value == name {
					for _, e := range i.NetworkInterfaces {
						if e.Attachment.DeviceIndex == 0 {
							return e.NetworkInterfaceId
						}
					}
				}
			}
		}
	}
	t.Fatalf("describe-instances through %s shows no instance %s with an eth0", h, name)
	return ""
}

// TestMore runs the single-host suite's routing, peering, NAT and NACL
// cases with each case's instances on different machines: one lab, one
// topology (routed), a subtest per case.
func TestMore(t *testing.T) {
	l := upRouted(t)

	// RT-4, ENI-4: a1 (h3) reaches b1 (h2) only through fw (h1); with
	// fw's check on (through h2's agent), fw's machine drops the frames;
	// off again (the ENI operation, through h3's), they flow.
	t.Run("RT4_ENI4_MiddleboxOnAThirdMachine", func(t *testing.T) {
		rx0, tx0 := l.endpoint(t, "h1", "fw")
		const n = 3
		for i := 0; i < n; i++ {
			if !l.PingEventually(t, 3*time.Second, "a1", b1IP) {
				t.Fatalf("a1 (h3) → b1 (h2) through fw (h1), ping %d unanswered", i+1)
			}
		}
		// Each ping and its reply enter fw's ENI and leave it again.
		if rx, tx := l.endpoint(t, "h1", "fw"); rx-rx0 < 2*n || tx-tx0 < 2*n {
			t.Errorf("fw on h1 carried rx %d tx %d frames for %d pings through it, want ≥ %d each", rx-rx0, tx-tx0, n, 2*n)
		}
		before := l.Drops(t, "h1", "fw", "source-dest-check")
		l.Ec2OK(t, "h2", nil, "modify-instance-attribute", "--instance-id", "fw", "--source-dest-check")
		if !poll(5*time.Second, func() bool { return !l.Ping(t, "a1", b1IP) }) {
			t.Fatal("a1 → b1 through fw still answered 5 s after fw's source/dest check was turned on through h2")
		}
		if d := l.Drops(t, "h1", "fw", "source-dest-check"); d <= before {
			t.Errorf("source-dest-check drops at fw on h1: %d → %d, want more; by machine: %v",
				before, d, l.AllDrops(t, "source-dest-check"))
		}
		eni := l.instanceENI(t, "h3", "fw")
		l.Ec2OK(t, "h3", nil, "modify-network-interface-attribute", "--network-interface-id", eni, "--no-source-dest-check")
		if !l.PingEventually(t, 5*time.Second, "a1", b1IP) {
			t.Fatalf("a1 → b1 unanswered 5 s after fw's ENI %s had its check turned off through h3", eni)
		}
	})

	// PEER-1, PEER-2: peered VPCs reach each other across machines both
	// ways; p1 and p3, each peered with p2 only, do not reach each other
	// through it (not transitive), and the sender's machine says so; a
	// VPC peered with none has no route to them (RT-6).
	t.Run("PEER_AcrossMachines_NotTransitive", func(t *testing.T) {
		for _, p := range [][2]string{{"i1", i2IP}, {"i2", i1IP}, {"i2", i3IP}, {"i3", i2IP}} {
			if !l.Ping(t, p[0], p[1]) {
				t.Errorf("%s (on %s) cannot ping %s over its peering", p[0], routedOn[p[0]], p[1])
			}
		}
		for _, c := range []struct{ from, host, to string }{{"i1", "h1", i3IP}, {"i3", "h3", i1IP}} {
			before := l.Drops(t, c.host, c.from, "vpc-peering")
			if l.Ping(t, c.from, c.to) {
				t.Errorf("%s reached %s through p2: peering is not transitive (PEER-2)", c.from, c.to)
			}
			if n := l.Drops(t, c.host, c.from, "vpc-peering"); n <= before {
				t.Errorf("vpc-peering drops at %s on %s: %d → %d, want more; by machine: %v",
					c.from, c.host, before, n, l.AllDrops(t, "vpc-peering"))
			}
		}
		// VPC m is peered with none: a1 (h3) has no route to p1.
		before := l.Drops(t, "h3", "a1", "no-route")
		if l.Ping(t, "a1", i1IP) {
			t.Error("a1 (VPC m, peered with nothing) reached i1 in p1")
		}
		if n := l.Drops(t, "h3", "a1", "no-route"); n <= before {
			t.Errorf("no-route drops at a1 on h3: %d → %d, want more", before, n)
		}
	})

	// NAT-1, NAT-2: pc1 (h1) reaches ps1 (h2) through the private NAT
	// gateway natp (h3) as natp's private IP; the internet it cannot
	// reach: natp has no EIP, and its machine counts the drop.
	t.Run("NAT1_PrivateNATGateway", func(t *testing.T) {
		w, err := l.Curl(t, "pc1", "http://"+ps1IP+"/")
		if err != nil {
			t.Fatal(err)
		}
		if w.Name != "ps1" || clientIP(w) != natpIP {
			t.Errorf("pc1 → ps1 through natp: ps1 saw %+v, want client %s (natp's private IP)", w, natpIP)
		}
		before := l.Drops(t, "h3", "natp", "igw-no-public-ip")
		if !l.CurlFails(t, "pc1", "http://"+inetIP+"/") {
			t.Fatal("pc1 reached the internet through a private NAT gateway")
		}
		if n := l.Drops(t, "h3", "natp", "igw-no-public-ip"); n <= before {
			t.Errorf("igw-no-public-ip drops at natp on h3: %d → %d, want more; by machine: %v",
				before, n, l.AllDrops(t, "igw-no-public-ip"))
		}
	})

	// NACL-1: stateless, so the reply needs the ephemeral-port rules;
	// with the server subnet's removed (through h3's agent) the reply is
	// dropped leaving srv's subnet, on srv's machine (h2), not cli's.
	t.Run("NACL1_EphemeralPorts_DeleteEntry", func(t *testing.T) {
		w, err := l.Curl(t, "cli", "http://"+srvIP+"/")
		if err != nil || w.Name != "srv" {
			t.Fatalf("cli (h1) → srv (h2):80 through strict NACLs: %+v %v", w, err)
		}
		h1 := l.Drops(t, "h1", "", "network-acl")
		h2 := l.Drops(t, "h2", "srv", "network-acl egress")
		l.Ec2OK(t, "h3", nil, "delete-network-acl-entry", "--network-acl-id", "acl-srv", "--egress", "--rule-number", "100")
		if !poll(5*time.Second, func() bool { return l.CurlFails(t, "cli", "http://"+srvIP+"/") }) {
			t.Fatal("cli → srv:80 still works 5 s after acl-srv's ephemeral egress rule was deleted through h3")
		}
		if n := l.Drops(t, "h2", "srv", "network-acl egress"); n <= h2 {
			t.Errorf("network-acl egress drops at srv on h2: %d → %d, want more; by machine: %v",
				h2, n, l.AllDrops(t, "network-acl"))
		}
		if n := l.Drops(t, "h1", "", "network-acl"); n != h1 {
			t.Errorf("network-acl drops on h1 (cli's, whose rules allow it): %d → %d, want unchanged", h1, n)
		}
	})

	// SG-7: the default group admits its own members, whichever machine
	// they run on, and no one else.
	t.Run("SG7_DefaultGroupAcrossMachines", func(t *testing.T) {
		if !l.Ping(t, "d1", d2IP) || !l.Ping(t, "d2", d1IP) {
			t.Fatal("default-group members d1 (h2) and d2 (h1) cannot ping each other")
		}
		before := l.Drops(t, "h2", "d1", "security-group ingress")
		if l.Ping(t, "a1", d1IP) {
			t.Fatal("a1 (h3, not a member) reached d1 in the default group")
		}
		if n := l.Drops(t, "h2", "d1", "security-group ingress"); n <= before {
			t.Errorf("security-group ingress drops at d1 on h2: %d → %d, want more", before, n)
		}
	})

	// NAT-4: a connection through natm (h1) to inet (h3), idle longer
	// than the timeout, is answered with a RST when its client speaks:
	// from n1 on its subnet's machine (h2), and from n2, in the same
	// subnet but on h3, beside inet.
	t.Run("NAT4_IdleConnectionGetsRST", func(t *testing.T) {
		clients := []string{"n1", "n2"}
		conns := map[string]net.Conn{}
		for _, n := range clients {
			// NAT-2 first: the client leaves as natm's EIP.
			if w, err := l.Curl(t, n, "http://"+inetIP+"/"); err != nil || clientIP(w) != natmIP {
				t.Fatalf("%s (%s) → inet through natm (h1): %+v %v, want the host to see %s", n, routedOn[n], w, err, natmIP)
			}
			c, err := l.Dial(n, inetIP+":7", time.Second)
			if err != nil {
				t.Fatalf("%s → inet:7 through natm: %v", n, err)
			}
			defer c.Close()
			if !echoes(c, "before") {
				t.Fatalf("%s's echo through natm failed", n)
			}
			conns[n] = c
		}
		idle0 := l.Drops(t, "h1", "natm", "nat-idle-timeout")
		mis0 := l.AllDrops(t, "misdirected")
		// The idle period is what is tested: nothing to poll for.
		idle := natIdle + time.Second
		time.Sleep(idle)
		for _, n := range clients {
			c := conns[n]
			c.SetDeadline(time.Now().Add(3 * time.Second))
			if _, err := fmt.Fprintln(c, "after"); err != nil && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("%s: write after %v idle: %v", n, idle, err)
			}
			buf := make([]byte, 64)
			k, err := c.Read(buf)
			t.Logf("%s (%s): read after %v idle: %q, %v", n, routedOn[n], idle, buf[:k], err)
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("%s (%s) after %v idle through natm (h1): read %q, %v; want connection reset (NAT-4)", n, routedOn[n], idle, buf[:k], err)
			}
		}
		if d := l.Drops(t, "h1", "natm", "nat-idle-timeout"); d < idle0+2 {
			t.Errorf("nat-idle-timeout drops at natm on h1: %d → %d, want 2 more (one per client)", idle0, d)
		}
		if mis := l.AllDrops(t, "misdirected"); sumAll(mis) != sumAll(mis0) {
			t.Errorf("misdirected drops by machine: %v → %v (a RST lost on its way to its client?)", mis0, mis)
		}
	})

	// RT-1 live: a table made and associated through h1's agent steers
	// e1 on h2 at once (no route, counted on h2); a default route added
	// through h3's agent brings the internet back.
	t.Run("RT1_LiveTableSteersAnotherMachine", func(t *testing.T) {
		if w, err := l.Curl(t, "e1", "http://"+inetIP+"/"); err != nil || clientIP(w) != e1EIP {
			t.Fatalf("baseline e1 (h2) → inet as %s: %+v %v", e1EIP, w, err)
		}
		var cr struct{ RouteTable struct{ RouteTableId string } }
		l.Ec2OK(t, "h1", &cr, "create-route-table", "--vpc-id", "m", "--tag-specifications", "ResourceType=route-table,Tags=[{Key=Name,Value=rt-live}]")
		if !strings.HasPrefix(cr.RouteTable.RouteTableId, "rtb-") {
			t.Fatalf("create-route-table: %+v", cr)
		}
		var rts struct {
			RouteTables []struct {
				Associations []struct {
					RouteTableAssociationId string
					Main                    bool
				}
			}
		}
		l.Ec2OK(t, "h1", &rts, "describe-route-tables", "--filters", "Name=tag:Name,Values=rt-e")
		if len(rts.RouteTables) != 1 || len(rts.RouteTables[0].Associations) != 1 {
			t.Fatalf("rt-e's associations: %+v", rts)
		}
		assoc := rts.RouteTables[0].Associations[0].RouteTableAssociationId
		before := l.Drops(t, "h2", "e1", "no-route")
		var rep struct{ NewAssociationId string }
		start := time.Now()
		l.Ec2OK(t, "h1", &rep, "replace-route-table-association", "--association-id", assoc, "--route-table-id", cr.RouteTable.RouteTableId)
		answered := time.Now()
		if !poll(5*time.Second, func() bool { return !l.Dials("e1", inetIP+":80", 200*time.Millisecond) }) {
			t.Fatal("e1 still reaches the internet 5 s after m-e was put on a table without a default route")
		}
		t.Logf("associate through h1: answered in %v; e1's traffic on h2 followed %v later (±200 ms)",
			answered.Sub(start).Round(time.Millisecond), time.Since(answered).Round(time.Millisecond))
		if n := l.Drops(t, "h2", "e1", "no-route"); n <= before {
			t.Errorf("no-route drops at e1 on h2: %d → %d, want more; by machine: %v", before, n, l.AllDrops(t, "no-route"))
		}
		l.Ec2OK(t, "h3", nil, "create-route", "--route-table-id", cr.RouteTable.RouteTableId, "--destination-cidr-block", "0.0.0.0/0", "--gateway-id", "igw-m")
		var w Whoami
		var err error
		if !poll(5*time.Second, func() bool {
			w, err = l.Curl(t, "e1", "http://"+inetIP+"/")
			return err == nil
		}) {
			t.Fatalf("e1 → inet 5 s after rt-live got a default route through h3: %v", err)
		}
		if clientIP(w) != e1EIP {
			t.Errorf("e1 → inet by rt-live: the host saw %s, want %s", w.Client, e1EIP)
		}
		// Back on rt-e, through h2's agent.
		l.Ec2OK(t, "h2", nil, "replace-route-table-association", "--association-id", rep.NewAssociationId, "--route-table-id", "rt-e")
		if w, err := l.Curl(t, "e1", "http://"+inetIP+"/"); err != nil || clientIP(w) != e1EIP {
			t.Errorf("e1 → inet back on rt-e: %+v %v", w, err)
		}
	})
}
