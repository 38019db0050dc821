package multihost

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// spread is one VPC over three machines (placement: an AZ per machine) and
// a second, small VPC over two, for the Geneve VNI check.
//
//	h1 (us-east-1a): web (sn-pub, EIP 3.34.10.10), the NAT gateway nat
//	                 (EIP 3.34.20.20), x1 (v2)
//	h2 (us-east-1b): app (sn-app: default route to nat), x2 (v2, by
//	                 "host"), nopub (sn-pub without a public IP, by "host")
//	h3 (us-east-1c): db (sn-data: no default route, a blackhole), app2
//	                 (sn-app, by "host"), web2 (sn-pub, EIP 3.34.10.11, by
//	                 "host"), the internet host inet (placement.internet)
//
// Groups: web-sg admits TCP 80 from anywhere and ICMP from the VPC; app-sg
// TCP 80 from web-sg's members only and ICMP from the VPC; db-sg TCP 80 and
// ICMP from the VPC. NACLs: acl-app denies ICMP out to the data subnet
// (rule 50); acl-data denies TCP 80 in from the public subnet (rule 50).
// web, app and db serve HTTP on 80 and echo on TCP 7, web2 HTTP.
const spread = `{
  "name": "NAME", "region": "us-east-1",
  "settings": {"store": "STORE", "busy_poll_us": 0,
    "placement": {"zones": {"us-east-1a": "h1", "us-east-1b": "h2", "us-east-1c": "h3"}, "internet": "h3", "default": "h1"}},
  "elastic_ips": [{"name": "eip-web", "address": "3.34.10.10"}, {"name": "eip-web2", "address": "3.34.10.11"}, {"name": "eip-nat", "address": "3.34.20.20"}],
  "internet": {"hosts": [{"name": "inet", "ip": "203.0.113.80", "user_data": "vpcnet serve --http :80 --tcp :7"}]},
  "vpcs": [{
    "name": "v", "cidr": "10.5.0.0/16", "internet_gateway": "igw",
    "subnets": [
      {"name": "sn-pub", "cidr": "10.5.1.0/24", "az": "us-east-1a", "route_table": "rt-pub"},
      {"name": "sn-app", "cidr": "10.5.2.0/24", "az": "us-east-1b", "route_table": "rt-nat", "network_acl": "acl-app"},
      {"name": "sn-data", "cidr": "10.5.3.0/24", "az": "us-east-1c", "route_table": "rt-data", "network_acl": "acl-data"}
    ],
    "route_tables": [
      {"name": "rt-pub", "routes": [{"destination": "0.0.0.0/0", "target": "igw"}]},
      {"name": "rt-nat", "routes": [{"destination": "0.0.0.0/0", "target": "nat"}]},
      {"name": "rt-data", "routes": [{"destination": "198.51.100.0/24", "target": "blackhole"}]}
    ],
    "nat_gateways": [{"name": "nat", "subnet": "sn-pub", "elastic_ip": "eip-nat"}],
    "network_acls": [
      {"name": "acl-app",
       "ingress": [{"rule": 100, "protocol": "all", "cidr": "0.0.0.0/0", "action": "allow"}],
       "egress":  [{"rule": 50, "protocol": "icmp", "cidr": "10.5.3.0/24", "action": "deny"},
                   {"rule": 100, "protocol": "all", "cidr": "0.0.0.0/0", "action": "allow"}]},
      {"name": "acl-data",
       "ingress": [{"rule": 50, "protocol": "tcp", "ports": "80", "cidr": "10.5.1.0/24", "action": "deny"},
                   {"rule": 100, "protocol": "all", "cidr": "0.0.0.0/0", "action": "allow"}],
       "egress":  [{"rule": 100, "protocol": "all", "cidr": "0.0.0.0/0", "action": "allow"}]}
    ],
    "security_groups": [
      {"name": "web-sg", "ingress": [{"protocol": "tcp", "ports": "80", "source": "0.0.0.0/0"}, {"protocol": "icmp", "source": "10.5.0.0/16"}]},
      {"name": "app-sg", "ingress": [{"protocol": "tcp", "ports": "80", "source": "web-sg"}, {"protocol": "icmp", "source": "10.5.0.0/16"}]},
      {"name": "db-sg", "ingress": [{"protocol": "tcp", "ports": "80", "source": "10.5.0.0/16"}, {"protocol": "icmp", "source": "10.5.0.0/16"}]}
    ],
    "instances": [
      {"name": "web", "subnet": "sn-pub", "private_ip": "10.5.1.10", "security_groups": ["web-sg"], "elastic_ip": "eip-web", "user_data": "vpcnet serve --http :80 --tcp :7"},
      {"name": "web2", "subnet": "sn-pub", "private_ip": "10.5.1.11", "host": "h3", "security_groups": ["web-sg"], "elastic_ip": "eip-web2", "user_data": "vpcnet serve --http :80"},
      {"name": "nopub", "subnet": "sn-pub", "private_ip": "10.5.1.12", "host": "h2", "security_groups": ["web-sg"]},
      {"name": "app", "subnet": "sn-app", "private_ip": "10.5.2.10", "security_groups": ["app-sg"], "user_data": "vpcnet serve --http :80 --tcp :7"},
      {"name": "app2", "subnet": "sn-app", "private_ip": "10.5.2.20", "host": "h3", "security_groups": ["app-sg"]},
      {"name": "db", "subnet": "sn-data", "private_ip": "10.5.3.10", "security_groups": ["db-sg"], "user_data": "vpcnet serve --http :80 --tcp :7"}
    ]
  }, {
    "name": "v2", "cidr": "10.7.0.0/16",
    "subnets": [{"name": "s2", "cidr": "10.7.1.0/24", "az": "us-east-1a"}],
    "security_groups": [{"name": "open2", "ingress": [{"protocol": "all", "source": "0.0.0.0/0"}]}],
    "instances": [
      {"name": "x1", "subnet": "s2", "private_ip": "10.7.1.10", "security_groups": ["open2"], "user_data": "vpcnet serve --tcp :7"},
      {"name": "x2", "subnet": "s2", "private_ip": "10.7.1.20", "host": "h2", "security_groups": ["open2"]}
    ]
  }]
}`

const (
	webIP   = "10.5.1.10"
	web2IP  = "10.5.1.11"
	appIP   = "10.5.2.10"
	app2IP  = "10.5.2.20"
	dbIP    = "10.5.3.10"
	x1IP    = "10.7.1.10"
	x2IP    = "10.7.1.20"
	inetIP  = "203.0.113.80"
	webEIP  = "3.34.10.10"
	web2EIP = "3.34.10.11"
	natEIP  = "3.34.20.20"
)

// placed is where spread's placement puts each instance.
var placed = map[string]string{"web": "h1", "x1": "h1", "app": "h2", "x2": "h2", "nopub": "h2", "db": "h3", "app2": "h3", "web2": "h3", "inet": "h3"}

// upSpread brings the lab and spread up and waits until the VPC carries
// traffic between all three machines.
func upSpread(t *testing.T) *Lab {
	t.Helper()
	l := NewLab(t)
	l.Up(t, spread, "web", "web2", "nopub", "app", "app2", "db", "x1", "x2", "inet")
	for _, p := range [][2]string{{"app", webIP}, {"web", dbIP}, {"app2", webIP}, {"x1", x2IP}} {
		if !l.PingEventually(t, 30*time.Second, p[0], p[1]) {
			for _, h := range hosts {
				out, _ := l.vpcnetTimeout(t, 10*time.Second, h, l.runEnv(h), "stats", "--topology", l.Topo)
				t.Logf("stats on %s:\n%s", h, out)
			}
			t.Fatalf("30 s after up, %s (on %s) cannot ping %s", p[0], placed[p[0]], p[1])
		}
	}
	return l
}

// TestMultiHost runs the single-host suite's semantics with the VPC spread
// over three machines: one lab, one topology, a subtest per case.
func TestMultiHost(t *testing.T) {
	l := upSpread(t)

	t.Run("Status_ShowsPlacement", func(t *testing.T) {
		out := l.Status(t)
		for inst, h := range placed {
			if inst == "inet" {
				continue // an internet host need not be listed among instances
			}
			if !lineWith(out, inst, h, "yes") {
				t.Errorf("status shows no line with %s on %s, built (yes):\n%s", inst, h, out)
			}
		}
		for _, h := range hosts {
			if !lineWith(out, h, "up", l.IP(h)) {
				t.Errorf("status shows no line with machine %s up at %s:\n%s", h, l.IP(h), out)
			}
		}
		// One machine's own status: its instances as on one machine, the
		// others' marked with where they run, none called impaired.
		js, code := l.Vpcnet(t, "h1", l.runEnv("h1"), "status", "--json", "--topology", l.Topo)
		if code != 0 {
			t.Fatalf("status of h1's agent: exit %d\n%s", code, js)
		}
		var st []struct {
			Instances []struct {
				Name, State, Host string
			} `json:"instances"`
		}
		if err := json.Unmarshal([]byte(js), &st); err != nil || len(st) != 1 {
			t.Fatalf("status --json: %v\n%s", err, js)
		}
		for _, i := range st[0].Instances {
			want := placed[i.Name]
			if want == "h1" {
				want = ""
			}
			if i.Host != want || i.State != "running" {
				t.Errorf("h1's status: %s is %s on %q, want running on %q", i.Name, i.State, i.Host, want)
			}
		}
	})

	// SG-2 across machines: the receiver's machine decides its groups.
	t.Run("SG_AllowedAcrossMachines_RefusedCountedAtReceiver", func(t *testing.T) {
		// app (h2) → web (h1):80, allowed by web-sg. The answer comes back
		// although app-sg admits nothing from web's port 80: the flow is
		// tracked (SG-1, stateful).
		w, err := l.Curl(t, "app", "http://"+webIP+"/")
		if err != nil {
			t.Fatal(err)
		}
		if w.Name != "web" || clientIP(w) != appIP {
			t.Fatalf("app → web:80: %+v, want web answering %s", w, appIP)
		}
		// web (h1) → app (h2):80: app-sg admits web-sg's members, and web's
		// machine is not app's: membership is known across machines.
		if w, err = l.Curl(t, "web", "http://"+appIP+"/"); err != nil || w.Name != "app" || clientIP(w) != webIP {
			t.Fatalf("web → app:80 (app-sg admits web-sg): %+v %v", w, err)
		}
		// app → web:7: web-sg does not admit it; the drop is web's
		// machine's (h1), at web's ENI; app's machine counts nothing.
		h1 := l.Drops(t, "h1", "web", "security-group ingress")
		h2 := l.Drops(t, "h2", "", "security-group ingress")
		if l.Opens(t, "app", webIP, "7") {
			t.Fatal("app reached web:7, which web-sg does not admit")
		}
		if n := l.Drops(t, "h1", "web", "security-group ingress"); n <= h1 {
			t.Errorf("security-group ingress drops at web on h1: %d → %d, want more", h1, n)
		}
		if n := l.Drops(t, "h2", "", "security-group ingress"); n != h2 {
			t.Errorf("security-group ingress drops on h2 (the sender's): %d → %d, want unchanged", h2, n)
		}
		// db (h3) is not in web-sg: app-sg refuses its port 80, on h2.
		h2 = l.Drops(t, "h2", "app", "security-group ingress")
		if !l.CurlFails(t, "db", "http://"+appIP+"/") {
			t.Fatal("db reached app:80; app-sg admits web-sg's members only")
		}
		if n := l.Drops(t, "h2", "app", "security-group ingress"); n <= h2 {
			t.Errorf("security-group ingress drops at app on h2: %d → %d, want more", h2, n)
		}
		// Same subnet, two machines: app2 (h3) → app (h2), ICMP from the VPC.
		if !l.Ping(t, "app2", appIP) {
			t.Error("app2 (h3) cannot ping app (h2) in the same subnet")
		}
	})

	// NACL-4: stateless, at the subnet's edge; counted on the machine of
	// the instance whose subnet holds the rule.
	t.Run("NACL_DenyCountedWhereTheRuleIs", func(t *testing.T) {
		// acl-app egress rule 50 denies ICMP to the data subnet: from app
		// on h2 and from app2 on h3, each counted on its own machine.
		for _, c := range []struct{ inst, host string }{{"app", "h2"}, {"app2", "h3"}} {
			before := l.Drops(t, c.host, c.inst, "network-acl egress")
			if l.Ping(t, c.inst, dbIP) {
				t.Errorf("%s pinged db through acl-app's egress deny", c.inst)
			}
			if n := l.Drops(t, c.host, c.inst, "network-acl egress"); n <= before {
				t.Errorf("network-acl egress drops at %s on %s: %d → %d, want more", c.inst, c.host, before, n)
			}
		}
		// The groups allow it: from the public subnet the ping works.
		if !l.Ping(t, "web", dbIP) {
			t.Error("web cannot ping db (no NACL rule denies it)")
		}
		// acl-data ingress rule 50 denies TCP 80 from the public subnet:
		// web (h1) → db (h3) is dropped entering the data subnet, on h3.
		h1 := l.Drops(t, "h1", "", "network-acl")
		h3 := l.Drops(t, "h3", "", "network-acl ingress")
		if !l.CurlFails(t, "web", "http://"+dbIP+"/") {
			t.Fatal("web reached db:80 through acl-data's ingress deny")
		}
		if n := l.Drops(t, "h3", "", "network-acl ingress"); n <= h3 {
			t.Errorf("network-acl ingress drops on h3: %d → %d, want more", h3, n)
		}
		if n := l.Drops(t, "h1", "", "network-acl"); n != h1 {
			t.Errorf("network-acl drops on h1 (the sender's, whose subnet allows it): %d → %d, want unchanged", h1, n)
		}
		// From the app subnet, port 80 passes: the NACL was the reason.
		if w, err := l.Curl(t, "app", "http://"+dbIP+"/"); err != nil || w.Name != "db" {
			t.Errorf("app → db:80: %+v %v", w, err)
		}
	})

	// IGW-1 with the internet on another machine than the public subnet.
	t.Run("IGW_PublicIPBothWays", func(t *testing.T) {
		w, err := l.Curl(t, "web", "http://"+inetIP+"/")
		if err != nil {
			t.Fatal(err)
		}
		if w.Name != "inet" || clientIP(w) != webEIP {
			t.Fatalf("web → inet: the host saw %+v, want client %s", w, webEIP)
		}
		if w, err = l.Curl(t, "inet", "http://"+webEIP+"/"); err != nil {
			t.Fatal(err)
		}
		if w.Name != "web" || w.Local != webIP+":80" || clientIP(w) != inetIP {
			t.Fatalf("inet → web's EIP: %+v, want web seeing %s on %s:80", w, inetIP, webIP)
		}
		// IGW-4: the internet does not route a private address.
		if l.Ping(t, "inet", webIP) {
			t.Error("the internet routed a private address")
		}
		// web2 is in the public subnet (whose machine, h1, translates) but
		// runs on h3, beside the internet host: both ways through h1.
		if w, err = l.Curl(t, "inet", "http://"+web2EIP+"/"); err != nil || w.Name != "web2" || w.Local != web2IP+":80" || clientIP(w) != inetIP {
			t.Errorf("inet → web2's EIP (web2 on h3, its subnet on h1): %+v %v", w, err)
		}
		if w, err = l.Curl(t, "web2", "http://"+inetIP+"/"); err != nil || clientIP(w) != web2EIP {
			t.Errorf("web2 → inet: %+v %v, want the host to see %s", w, err, web2EIP)
		}
		// IGW-2: nopub (public subnet, on h2) has no public IP: it cannot
		// leave, and a machine says why.
		before := sumAll(l.AllDrops(t, "igw-no-public-ip"))
		if !l.CurlFails(t, "nopub", "http://"+inetIP+"/") {
			t.Error("nopub, without a public IP, reached the internet")
		}
		if n := sumAll(l.AllDrops(t, "igw-no-public-ip")); n <= before {
			t.Errorf("igw-no-public-ip drops over all machines: %d → %d, want more", before, n)
		}
	})

	// RT-6, NAT-2, RT-3: the routes of the sender's subnet decide, on its
	// machine; the NAT gateway translates on its subnet's (h1).
	t.Run("Routes_NoRoute_NATGateway_Blackhole", func(t *testing.T) {
		// db's subnet has no default route: no way out, counted on h3.
		before := l.Drops(t, "h3", "db", "no-route")
		if !l.CurlFails(t, "db", "http://"+inetIP+"/") {
			t.Fatal("db reached the internet without a route")
		}
		if n := l.Drops(t, "h3", "db", "no-route"); n <= before {
			t.Errorf("no-route drops at db on h3: %d → %d, want more", before, n)
		}
		// app (h2) and app2 (h3) leave through the NAT gateway on h1: the
		// internet host (h3) sees the gateway's EIP and a port ≥ 1024.
		for _, c := range []string{"app", "app2"} {
			w, err := l.Curl(t, c, "http://"+inetIP+"/")
			if err != nil {
				t.Fatalf("%s → inet through the NAT gateway: %v", c, err)
			}
			port, _ := strconv.Atoi(w.Client[strings.LastIndexByte(w.Client, ':')+1:])
			if clientIP(w) != natEIP || port < 1024 {
				t.Errorf("%s → inet: the host saw %s, want %s:≥1024 (NAT-3)", c, w.Client, natEIP)
			}
		}
		// NAT-5: nothing comes in unsolicited through the gateway.
		if !l.CurlFails(t, "inet", "http://"+natEIP+"/") {
			t.Error("unsolicited inbound through the NAT gateway was answered")
		}
		if n := l.Drops(t, "h1", "", "nat-unsolicited-inbound"); n == 0 {
			t.Error("NAT-5 drop not counted on h1 (the NAT gateway's machine)")
		}
		// RT-3: the blackhole route of db's subnet.
		before = l.Drops(t, "h3", "db", "blackhole-route")
		if l.Ping(t, "db", "198.51.100.1") {
			t.Fatal("a ping through a blackhole route was answered")
		}
		if n := l.Drops(t, "h3", "db", "blackhole-route"); n <= before {
			t.Errorf("blackhole-route drops at db on h3: %d → %d, want more", before, n)
		}
		// A live route, through h2's agent, for db's table (on h3): the
		// default to the NAT gateway; db then leaves as the gateway's EIP.
		l.Ec2OK(t, "h2", nil, "create-route", "--route-table-id", "rt-data", "--destination-cidr-block", "0.0.0.0/0", "--nat-gateway-id", "nat")
		var w Whoami
		var err error
		if !poll(5*time.Second, func() bool {
			w, err = l.Curl(t, "db", "http://"+inetIP+"/")
			return err == nil
		}) {
			t.Fatalf("db → inet 5 s after the default route to nat was created through h2: %v", err)
		}
		if clientIP(w) != natEIP {
			t.Errorf("db → inet through the new route: the host saw %s, want %s", w.Client, natEIP)
		}
	})

	// A live change through one machine's agent reaches another machine's
	// forwarder in about the time etcd takes to tell it.
	t.Run("LiveSGChange_ThroughH2_FollowedOnH3", func(t *testing.T) {
		if l.Opens(t, "app", dbIP, "7") {
			t.Fatal("app reached db:7 before db-sg admitted it")
		}
		start := time.Now()
		l.Ec2OK(t, "h2", nil, "authorize-security-group-ingress", "--group-id", "db-sg", "--protocol", "tcp", "--port", "7", "--cidr", "10.5.2.0/24")
		answered := time.Now()
		if !poll(3*time.Second, func() bool { return l.Dials("app", dbIP+":7", 200*time.Millisecond) }) {
			t.Fatalf("app → db:7 still refused %v after authorizing it through h2's agent", time.Since(answered).Round(time.Millisecond))
		}
		t.Logf("authorize through h2: answered in %v; traffic to db on h3 followed %v later (±200 ms)",
			answered.Sub(start).Round(time.Millisecond), time.Since(answered).Round(time.Millisecond))
		// Only the range authorized: web (10.5.1.0/24) still refused.
		if l.Opens(t, "web", dbIP, "7") {
			t.Error("web reached db:7; only 10.5.2.0/24 was authorized")
		}

		// SG-5: revoked through h1, the rule stops new connections from
		// app (h2) to db (h3), while one already tracked on db's machine
		// carries on.
		c, err := l.Dial("app", dbIP+":7", time.Second)
		if err != nil {
			t.Fatalf("app → db:7 once authorized: %v", err)
		}
		defer c.Close()
		if !echoes(c, "before") {
			t.Fatal("app's echo through db:7 failed")
		}
		l.Ec2OK(t, "h1", nil, "revoke-security-group-ingress", "--group-id", "db-sg", "--protocol", "tcp", "--port", "7", "--cidr", "10.5.2.0/24")
		if !poll(3*time.Second, func() bool { return !l.Dials("app", dbIP+":7", 200*time.Millisecond) }) {
			t.Fatal("app → db:7 still opens 3 s after the rule was revoked through h1")
		}
		if !echoes(c, "after") {
			t.Error("the tracked connection app → db:7 was cut by the revoke (SG-5: tracked flows live on)")
		}
	})

	// DNS-1, DNS-2: each machine answers for the whole VPC, private names
	// of instances elsewhere included; public names split horizon.
	t.Run("DNS_NamesAcrossMachines", func(t *testing.T) {
		if _, err := exec.LookPath("dig"); err != nil {
			t.Skip("dig is not installed (bind9-dnsutils)")
		}
		for _, c := range []struct{ from, server, name, want string }{
			{"app", "10.5.0.2", "ip-10-5-3-10.ec2.internal", dbIP},               // h2 asks for db on h3
			{"db", "169.254.169.253", "ip-10-5-2-10.ec2.internal", appIP},        // h3 asks for app on h2
			{"app", "10.5.0.2", "ec2-3-34-10-10.compute-1.amazonaws.com", webIP}, // DNS-2: inside, the private IP
			{"inet", "", "ec2-3-34-10-10.compute-1.amazonaws.com", webEIP},       // outside, the public one
		} {
			args := []string{"dig", "+short", "+time=1", "+tries=2", c.name}
			if c.server != "" {
				args = append(args, "@"+c.server)
			}
			out, err := l.Exec(t, c.from, args...)
			if got := strings.TrimSpace(out); err != nil || got != c.want {
				t.Errorf("%s (on %s): dig %s %s = %q (%v), want %s", c.from, placed[c.from], c.name, c.server, got, err, c.want)
			}
		}
	})

	// MTU and GSO: a full 1500-byte frame with DF crosses (the outer
	// datagram is what grows), and a bulk TCP stream (TSO super-frames
	// from the instance) arrives whole, both ways through x1's echo.
	t.Run("FullSizeFrames_BulkTCP_AcrossMachines", func(t *testing.T) {
		if out, err := l.Exec(t, "x2", "ping", "-n", "-c", "1", "-W", "1", "-M", "do", "-s", "1472", x1IP); err != nil {
			t.Errorf("x2 (h2) → x1 (h1), 1500-byte packet with DF: %v\n%s", err, out)
		}
		const size = 16 << 20
		if !poll(10*time.Second, func() bool { return l.Dials("x2", x1IP+":7", 500*time.Millisecond) }) {
			t.Fatal("x1's echo server does not answer")
		}
		start := time.Now()
		out, err := l.Exec(t, "x2", "sh", "-c", fmt.Sprintf("head -c %d /dev/zero | timeout 30 nc -N %s 7 | wc -c", size, x1IP))
		took := time.Since(start)
		if err != nil || strings.TrimSpace(out) != strconv.Itoa(size) {
			t.Fatalf("%d bytes through x1's echo from x2: got %q (%v)", size, strings.TrimSpace(out), err)
		}
		t.Logf("%d MiB each way h2 ⇄ h1 through the tunnel in %v (%.0f Mbit/s each way)", size>>20, took.Round(time.Millisecond), float64(size)*8/took.Seconds()/1e6)
	})

	// Frames between machines are Geneve (RFC 8926) on UDP 6081, one VNI
	// per VPC.
	t.Run("Geneve_OnTheUnderlay", func(t *testing.T) {
		// tcpdump decodes it.
		out := l.capture(t, "h1", []string{"-n", "-c", "5", "udp", "port", "6081"}, func() {
			l.Ping(t, "app", webIP)
			l.Ping(t, "x2", x1IP)
		})
		if !strings.Contains(out, "Geneve") || !strings.Contains(strings.ToLower(out), "vni") {
			t.Errorf("tcpdump on h1's ul0 shows no Geneve frame with a VNI:\n%s", out)
			t.Logf("app → web answered: %v; x2 → x1 answered: %v", l.Ping(t, "app", webIP), l.Ping(t, "x2", x1IP))
			l.diagnose(t)
			t.FailNow()
		}
		// gopacket decodes it, and the VNI differs per VPC.
		pcap := filepath.Join(t.TempDir(), "ul0.pcap")
		l.capture(t, "h1", []string{"-n", "-c", "200", "-Z", "root", "-w", pcap, "udp", "port", "6081"}, func() {
			for i := 0; i < 2; i++ {
				l.Ping(t, "app", webIP)
				l.Ping(t, "x2", x1IP)
			}
		})
		vnis := geneveVNIs(t, pcap)
		v, v2 := vnis["10.5."], vnis["10.7."]
		if len(v) != 1 || len(v2) != 1 {
			t.Fatalf("VNIs by inner source (VPC v: 10.5., v2: 10.7.): %v, want one each", vnis)
		}
		for a := range v {
			if v2[a] {
				t.Fatalf("VPCs v and v2 share VNI %#x", a)
			}
		}
	})

	// AgentsAliveAndCurrent: after all of the above, every agent still
	// runs, every machine applied the same revision, and no agent holds a
	// socket in the host's namespace.
	// The live lifecycle across machines: run-instances through h2's agent
	// into a subnet placed on h3 is built on h3 (reconcile) and reachable
	// from h1; terminate-instances through h1's agent removes it on h3.
	t.Run("RunInstances_ThroughH2_BuiltOnH3_TerminatedThroughH1", func(t *testing.T) {
		var imgs struct{ Images []struct{ ImageId string } }
		l.Ec2OK(t, "h2", &imgs, "describe-images")
		var subs struct {
			Subnets []struct{ SubnetId, CidrBlock string }
		}
		l.Ec2OK(t, "h2", &subs, "describe-subnets")
		var sub string
		for _, s := range subs.Subnets {
			if s.CidrBlock == "10.5.3.0/24" { // sn-data, us-east-1c: h3
				sub = s.SubnetId
			}
		}
		var sgs struct {
			SecurityGroups []struct{ GroupId, GroupName string }
		}
		l.Ec2OK(t, "h2", &sgs, "describe-security-groups")
		var sg string
		for _, g := range sgs.SecurityGroups {
			if g.GroupName == "db-sg" {
				sg = g.GroupId
			}
		}
		if len(imgs.Images) == 0 || sub == "" || sg == "" {
			t.Fatalf("image %v, subnet %q, group %q", imgs.Images, sub, sg)
		}
		var run struct {
			Instances []struct{ InstanceId, PrivateIpAddress string }
		}
		l.Ec2OK(t, "h2", &run, "run-instances", "--image-id", imgs.Images[0].ImageId, "--count", "1", "--subnet-id", sub,
			"--security-group-ids", sg, "--private-ip-address", "10.5.3.77",
			"--tag-specifications", "ResourceType=instance,Tags=[{Key=Name,Value=late}]")
		if len(run.Instances) != 1 {
			t.Fatalf("run-instances: %+v", run)
		}
		ns := l.Topo + "-late"
		if !poll(10*time.Second, func() bool { return len(namespacesWithPrefix(ns)) == 1 }) {
			t.Fatalf("namespace %s never appeared", ns)
		}
		if !lineWith(l.Status(t), "late", "h3", "yes") {
			t.Errorf("status does not show late built on h3:\n%s", l.Status(t))
		}
		if !l.PingEventually(t, 10*time.Second, "web", "10.5.3.77") {
			t.Fatalf("web (h1) cannot ping late (h3)")
		}
		l.Ec2OK(t, "h1", nil, "terminate-instances", "--instance-ids", run.Instances[0].InstanceId)
		if !poll(10*time.Second, func() bool { return len(namespacesWithPrefix(ns)) == 0 }) {
			t.Fatalf("namespace %s still there after terminate-instances through h1", ns)
		}
	})

	t.Run("AgentsAliveAndCurrent", func(t *testing.T) {
		for _, h := range hosts {
			if !l.AgentAlive(h) {
				t.Errorf("agent %s died", h)
			}
		}
		out := l.Status(t)
		revs := map[string]bool{}
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) >= 6 && strings.HasPrefix(f[0], "h") && f[1] == "up" {
				revs[f[5]] = true // MACHINE AGENT(up (pid N)) UNDERLAY APPLIED
			}
		}
		if len(revs) != 1 {
			t.Errorf("machines applied different revisions (or none): %v\n%s", revs, out)
		}
		// Network safety: the agents run in the host's namespace (--netns)
		// but hold no socket there.
		if s := l.RootSockets(t); len(s) > 0 {
			t.Errorf("agents hold sockets in the host's network namespace:\n%s", strings.Join(s, "\n"))
		}
	})
}

func sumAll(m map[string]uint64) uint64 {
	var n uint64
	for _, c := range m {
		n += c
	}
	return n
}

// lineWith reports whether a line of out has all words as fields.
func lineWith(out string, words ...string) bool {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		all := true
		for _, w := range words {
			found := false
			for _, x := range f {
				found = found || strings.Trim(x, ",;|") == w
			}
			all = all && found
		}
		if all {
			return true
		}
	}
	return false
}

// capture runs tcpdump on machine h's underlay veth (args after -i ul0)
// while traffic runs, and returns what it printed. tcpdump exits after its
// -c frames, or is interrupted 2 s after the traffic.
func (l *Lab) capture(t *testing.T, h string, args []string, traffic func()) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := l.onHost(ctx, h, nil, append([]string{"tcpdump", "-i", "ul0", "-l", "-U"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("tcpdump: %v", err)
	}
	// tcpdump says "listening on" once the capture is open.
	var errText strings.Builder
	listening, eof := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(eof)
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			errText.WriteString(sc.Text() + "\n")
			if !once && strings.Contains(sc.Text(), "listening on") {
				once = true
				close(listening)
			}
		}
		if !once {
			close(listening)
		}
	}()
	<-listening
	traffic()
	select {
	case <-eof:
	case <-time.After(2 * time.Second):
		cmd.Process.Signal(os.Interrupt)
		<-eof
	}
	cmd.Wait()
	return out.String() + errText.String()
}

// geneveVNIs decodes a capture's Geneve frames with gopacket and returns
// the VNIs seen by the inner IPv4 source's first two octets ("10.5.").
func geneveVNIs(t *testing.T, path string) map[string]map[uint32]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	vnis := map[string]map[uint32]bool{}
	frames := 0
	for {
		data, _, err := r.ReadPacketData()
		if err != nil {
			break
		}
		pkt := gopacket.NewPacket(data, r.LinkType(), gopacket.Default)
		g, ok := pkt.Layer(layers.LayerTypeGeneve).(*layers.Geneve)
		if !ok {
			t.Errorf("a frame on UDP 6081 gopacket does not decode as Geneve: %v", pkt)
			continue
		}
		frames++
		// The inner IPv4 header is the last one in the packet.
		var inner *layers.IPv4
		for _, ly := range pkt.Layers() {
			if ip, ok := ly.(*layers.IPv4); ok {
				inner = ip
			}
		}
		if inner == nil {
			continue // the tunnel's own (a keepalive, say)
		}
		if g.Protocol != layers.EthernetTypeTransparentEthernetBridging {
			t.Errorf("Geneve protocol %#x carrying IPv4, want Ethernet (0x6558)", uint16(g.Protocol))
		}
		src := inner.SrcIP.String()
		key := src[:strings.Index(src[3:], ".")+4]
		if vnis[key] == nil {
			vnis[key] = map[uint32]bool{}
		}
		vnis[key][g.VNI] = true
	}
	if frames == 0 {
		t.Fatalf("no Geneve frame in %s", path)
	}
	return vnis
}
