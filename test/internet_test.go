package test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// edge: a public subnet (pub, public IPs on launch), a public subnet without
// them (pub2), and a private subnet (priv) behind a NAT gateway. The NAT's
// per-destination limit is set to 2 so NAT-3 can be seen.
const edge = `{
  "name": "NAME", "region": "us-east-1",
  "address_pools": [{"name": "amz", "cidrs": ["3.34.0.0/16"]}],
  "elastic_ips": [{"name": "eip-web", "address": "3.34.10.10"}, {"name": "eip-nat", "address": "3.34.20.20"}],
  "public_dns_records": [{"name": "web.example.com", "address": "3.34.10.10"}],
  "internet": {"hosts": [{"name": "inet", "ip": "203.0.113.80", "user_data": "vpcnet serve --http :80 --tcp :7"}]},
  "vpcs": [{
    "name": "v", "cidr": "10.5.0.0/16", "internet_gateway": "igw",
    "subnets": [
      {"name": "pub", "cidr": "10.5.1.0/24", "az": "us-east-1a", "route_table": "rt-pub", "map_public_ip_on_launch": true},
      {"name": "pub2", "cidr": "10.5.2.0/24", "az": "us-east-1a", "route_table": "rt-pub"},
      {"name": "priv", "cidr": "10.5.3.0/24", "az": "us-east-1a", "route_table": "rt-priv"}
    ],
    "route_tables": [
      {"name": "rt-pub", "routes": [{"destination": "0.0.0.0/0", "target": "igw"}]},
      {"name": "rt-priv", "routes": [{"destination": "0.0.0.0/0", "target": "nat"}]}
    ],
    "nat_gateways": [{"name": "nat", "subnet": "pub", "elastic_ip": "eip-nat"}],
    "security_groups": [{"name": "open", "ingress": [{"protocol": "all", "source": "0.0.0.0/0"}]}],
    "instances": [
      {"name": "web", "subnet": "pub", "private_ip": "10.5.1.10", "security_groups": ["open"], "elastic_ip": "eip-web", "user_data": "vpcnet serve --http :80"},
      {"name": "auto", "subnet": "pub", "private_ip": "10.5.1.11", "security_groups": ["open"]},
      {"name": "nopub", "subnet": "pub2", "private_ip": "10.5.2.10", "security_groups": ["open"]},
      {"name": "db", "subnet": "priv", "private_ip": "10.5.3.10", "security_groups": ["open"], "user_data": "vpcnet serve --http :80"}
    ]
  }]
}`

// publicIP returns the public IP that status shows for an instance's eth0.
func (tp *Topo) publicIP(t *testing.T, inst string) string {
	t.Helper()
	out, code := vpcnet(t, "status", "--json", "--topology", tp.Name)
	if code != 0 {
		t.Fatalf("status: %s", out)
	}
	var st []struct {
		Instances []struct {
			Name string `json:"name"`
			ENIs []struct {
				IPs       []string          `json:"private_ips"`
				PublicIPs map[string]string `json:"public_ips"`
			} `json:"enis"`
		} `json:"instances"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	for _, i := range st[0].Instances {
		if i.Name == inst {
			return i.ENIs[0].PublicIPs[i.ENIs[0].IPs[0]]
		}
	}
	return ""
}

func clientIP(w Whoami) string { return w.Client[:strings.LastIndexByte(w.Client, ':')] }

// TestIGW1_PublicInstancesSeenByTheirPublicIP: the internet sees an EIP, or
// the auto-assigned public IP; never the private IP.
func TestIGW1_PublicInstancesSeenByTheirPublicIP(t *testing.T) {
	tp := Up(t, edge)
	w, err := tp.Curl(t, "web", "http://203.0.113.80/")
	if err != nil {
		t.Fatal(err)
	}
	if clientIP(w) != "3.34.10.10" || w.Name != "inet" {
		t.Fatalf("web via its EIP: host saw %+v, want client 3.34.10.10", w)
	}
	pub := tp.publicIP(t, "auto")
	if pub == "" || !strings.HasPrefix(pub, "3.34.") {
		t.Fatalf("auto has no public IP from the pool: %q", pub)
	}
	if w, err = tp.Curl(t, "auto", "http://203.0.113.80/"); err != nil {
		t.Fatal(err)
	}
	if clientIP(w) != pub {
		t.Fatalf("auto: host saw %s, want its public IP %s", w.Client, pub)
	}
	// IGW-1 inbound: the internet reaches web's server on its EIP; the
	// instance sees the host's address and only its own private IP.
	if w, err = tp.Curl(t, "inet", "http://3.34.10.10/"); err != nil {
		t.Fatal(err)
	}
	if w.Name != "web" || w.Local != "10.5.1.10:80" || clientIP(w) != "203.0.113.80" {
		t.Fatalf("inet → web's EIP: %+v", w)
	}
}

// sgEdge is edge with web and auto in group web80, which admits only TCP
// port 80 from anywhere, while both serve HTTP on 80 and echo on TCP 7.
var sgEdge = func() string {
	s := strings.Replace(edge, `"security_groups": [{"name": "open", `,
		`"security_groups": [{"name": "web80", "ingress": [{"protocol": "tcp", "ports": "80", "source": "0.0.0.0/0"}]}, {"name": "open", `, 1)
	s = strings.Replace(s, `"security_groups": ["open"], "elastic_ip": "eip-web", "user_data": "vpcnet serve --http :80"`,
		`"security_groups": ["web80"], "elastic_ip": "eip-web", "user_data": "vpcnet serve --http :80 --tcp :7"`, 1)
	return strings.Replace(s, `"private_ip": "10.5.1.11", "security_groups": ["open"]`,
		`"private_ip": "10.5.1.11", "security_groups": ["web80"], "user_data": "vpcnet serve --http :80 --tcp :7"`, 1)
}()

// TestIGW1_InboundRefusedBySecurityGroup: the IGW maps a public address to
// its instance (IGW-1), but the instance's security group still decides
// (SG-2): from the internet, web (by its EIP) and auto (by its dynamic
// public IP) answer on port 80, which web80 allows, and not on port 7 or to
// ping, which it does not, although their servers listen; each refusal is
// a security-group ingress drop at that instance's ENI naming web80.
// Authorizing port 7 for the internet host then opens it.
func TestIGW1_InboundRefusedBySecurityGroup(t *testing.T) {
	if !strings.Contains(sgEdge, `"web80"], "elastic_ip"`) || !strings.Contains(sgEdge, `"web80"], "user_data"`) {
		t.Fatal("topology edit failed")
	}
	tp := Up(t, sgEdge)
	targets := []struct{ name, priv, pub string }{
		{"web", "10.5.1.10", "3.34.10.10"},
		{"auto", "10.5.1.11", tp.publicIP(t, "auto")},
	}
	if !strings.HasPrefix(targets[1].pub, "3.34.") {
		t.Fatalf("auto has no public IP: %q", targets[1].pub)
	}
	for _, x := range targets {
		// Allowed: port 80 through the public address.
		w, err := tp.Curl(t, "inet", "http://"+x.pub+"/")
		if err != nil {
			t.Fatal(err)
		}
		if w.Name != x.name || w.Local != x.priv+":80" || clientIP(w) != "203.0.113.80" {
			t.Fatalf("inet → %s's public IP %s: %+v", x.name, x.pub, w)
		}
		// The echo server listens on 7: locally it answers.
		listening := false
		for i := 0; i < 50 && !listening; i++ {
			_, err := tp.Exec(t, x.name, "nc", "-z", "-w", "1", x.priv, "7")
			listening = err == nil
			if !listening {
				time.Sleep(50 * time.Millisecond)
			}
		}
		if !listening {
			t.Fatalf("%s's echo server does not listen on %s:7", x.name, x.priv)
		}
		eni := tp.eni(t, tp.instance(t, x.name).NetworkInterfaces[0].NetworkInterfaceId)
		if eni == nil || len(eni.Groups) != 1 || eni.Groups[0].GroupName != "web80" {
			t.Fatalf("%s's eth0: %+v, want group web80 only", x.name, eni)
		}
		sg := eni.Groups[0].GroupId

		// Refused: port 7 and ICMP through the public address.
		drops := tp.Drops(t, x.name, "security-group ingress")
		if out, err := tp.Exec(t, "inet", "nc", "-z", "-w", "1", x.pub, "7"); err == nil {
			t.Fatalf("inet reached %s:7 (%s), which web80 does not allow: %s", x.pub, x.name, out)
		}
		if tp.Ping(t, "inet", x.pub) {
			t.Fatalf("inet's ping to %s (%s) was answered; web80 allows no ICMP", x.pub, x.name)
		}
		if n := tp.Drops(t, x.name, "security-group ingress"); n < drops+2 {
			t.Fatalf("security-group ingress drops at %s: %d → %d, want ≥ 2 more (a SYN and an echo request)", x.name, drops, n)
		}
		named := false
		for _, e := range tp.Stats(t).Endpoints {
			for _, d := range e.Details {
				named = named || (e.Name == x.name && strings.HasPrefix(d.Reason, "security-group ingress") && d.By == sg && d.Count >= 2)
			}
		}
		if !named {
			t.Fatalf("%s's ingress drops do not name web80 (%s): %+v", x.name, sg, tp.Stats(t).Endpoints)
		}
	}
	// The group was the reason: allowing port 7 from the host opens it.
	tp.ec2OK(t, nil, "authorize-security-group-ingress", "--group-id", "web80", "--protocol", "tcp", "--port", "7", "--cidr", "203.0.113.80/32")
	for _, x := range targets {
		var out string
		var err error
		for i := 0; i < 5; i++ {
			if out, err = tp.Exec(t, "inet", "nc", "-z", "-w", "1", x.pub, "7"); err == nil {
				break
			}
		}
		if err != nil {
			t.Fatalf("inet → %s:7 (%s) after authorizing it: %v %s", x.pub, x.name, err, out)
		}
	}
}

// TestIGW2_NoPublicIPCannotLeave: an instance in a public subnet without a
// public IP cannot reach the internet, and the drop says why.
func TestIGW2_NoPublicIPCannotLeave(t *testing.T) {
	tp := Up(t, edge)
	if _, err := tp.Curl(t, "nopub", "http://203.0.113.80/"); err == nil {
		t.Fatal("an instance without a public IP reached the internet")
	}
	if n := tp.Drops(t, "nopub", "igw-no-public-ip"); n == 0 {
		t.Fatal("IGW-2 drop not counted")
	}
	// IGW-4: the internet does not route private addresses.
	if tp.Ping(t, "inet", "10.5.1.10") {
		t.Fatal("the internet routed a private address")
	}
	if n := tp.Drops(t, "inet", "internet-private-destination"); n == 0 {
		t.Fatal("IGW-4 drop not counted")
	}
}

// TestNAT2_PrivateInstanceThroughNATGateway: the internet host sees the NAT
// gateway's EIP; it cannot open a connection back (NAT-5).
func TestNAT2_PrivateInstanceThroughNATGateway(t *testing.T) {
	tp := Up(t, edge)
	w, err := tp.Curl(t, "db", "http://203.0.113.80/")
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(w.Client[strings.LastIndexByte(w.Client, ':')+1:])
	if clientIP(w) != "3.34.20.20" || port < 1024 {
		t.Fatalf("host saw %s, want the NAT's EIP 3.34.20.20 and a port ≥ 1024 (NAT-3)", w.Client)
	}
	if _, err := tp.Exec(t, "inet", "curl", "-sS", "--max-time", "1", "http://3.34.20.20/"); err == nil {
		t.Fatal("unsolicited inbound through the NAT gateway was answered")
	}
	if n := tp.Drops(t, "nat", "nat-unsolicited-inbound"); n == 0 {
		t.Fatalf("NAT-5 drop not counted: %+v", tp.Stats(t).Endpoints)
	}
	st := tp.Stats(t)
	for id, s := range st.NAT {
		if s.ConnectionAttemptCount < 1 || s.PacketsOutToDestination < 1 {
			t.Fatalf("NAT-6 counters of %s did not move: %+v", id, s)
		}
	}
}

// TestNAT3_ConnectionLimitPerDestination: with the limit set to 2, a third
// simultaneous connection to the same destination fails and counts
// ErrorPortAllocation, while another destination still works.
func TestNAT3_ConnectionLimitPerDestination(t *testing.T) {
	// The limit is this test's own: with it in edge, every test that
	// curls through the NAT gateway while user data starts (each refused
	// attempt holds a port for 10 s) could meet it.
	tp := Up(t, strings.Replace(edge, `"vpcs": [{`, `"settings": {"nat_max_connections_per_destination": 2}, "vpcs": [{`, 1))
	// Wait for inet's servers from inside inet, not through the NAT
	// gateway: every attempt through it, refused ones too, holds a port
	// for that destination until its closed mapping is reclaimed (10 s),
	// and would count against the limit this test measures.
	waitListening(t, tp, "inet", 80, 7)
	// Two long-lived connections to inet:7 from db, in the background.
	tp.MustExec(t, "db", "sh", "-c", "(sleep 6 | nc 203.0.113.80 7 >/dev/null 2>&1 &); (sleep 6 | nc 203.0.113.80 7 >/dev/null 2>&1 &); sleep 0.5")
	if out, err := tp.Exec(t, "db", "nc", "-z", "-w", "1", "203.0.113.80", "7"); err == nil {
		t.Fatalf("a third connection to the same destination succeeded: %s", out)
	}
	var errs uint64
	for _, s := range tp.Stats(t).NAT {
		errs += s.ErrorPortAllocation
	}
	if errs == 0 {
		t.Fatal("ErrorPortAllocation did not rise")
	}
	if n := tp.Drops(t, "nat", "nat-port-allocation"); n == 0 {
		t.Fatal("port allocation drop not counted")
	}
	// Another destination (port 80) is not limited by inet:7's count: no
	// port allocation error for it.
	before := tp.Drops(t, "nat", "nat-port-allocation")
	if _, err := tp.Curl(t, "db", "http://203.0.113.80/"); err != nil {
		t.Fatalf("another destination failed: %v", err)
	}
	if n := tp.Drops(t, "nat", "nat-port-allocation"); n != before {
		t.Fatalf("port allocation drops rose from %d to %d for another destination (NAT-3 counts per destination)", before, n)
	}
}

// TestNAT_LargeTransferChecksums: iperf3 through NAT gateway and IGW with
// GSO super-frames: the receiver counts no checksum errors.
func TestNAT_LargeTransferChecksums(t *testing.T) {
	tp := Up(t, edge)
	tp.transferChecksumsClean(t, "db", "inet", "203.0.113.80", 2, 50e6)
}

// TestRT2_LargeTransferChecksumsAcrossSubnets: the plain path between two
// subnets of a VPC (local route, no NAT, no IGW) carries a multi-second
// iperf3 transfer, GSO super-frames included, and the receiving instance's
// kernel counts no TCP checksum error.
func TestRT2_LargeTransferChecksumsAcrossSubnets(t *testing.T) {
	tp := Up(t, threeSubnets)
	if !tp.PingEventually(t, "a1", "10.0.2.10") {
		t.Fatal("baseline ping a1 → b1 failed")
	}
	tp.transferChecksumsClean(t, "a1", "b1", "10.0.2.10", 3, 50e6)
}

// transferChecksumsClean runs a TCP iperf3 transfer of secs seconds from
// client to server (which the client dials at addr) and asserts that at
// least minBytes arrived, through the server's interfaces, and that the
// server's kernel counted no new TCP checksum error (TcpInCsumErrors in
// /proc/net/snmp, and nstat's absolute count for the fresh namespace).
func (tp *Topo) transferChecksumsClean(t *testing.T, client, server, addr string, secs int, minBytes float64) {
	t.Helper()
	pidFile := filepath.Join(t.TempDir(), "iperf3.pid")
	tp.MustExec(t, server, "iperf3", "-s", "-D", "-1", "-p", "5299", "-I", pidFile)
	t.Cleanup(func() { // -1 ends it after one test; not if the test failed before
		if b, err := os.ReadFile(pidFile); err == nil {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			comm, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
			if err == nil && pid > 0 && strings.TrimSpace(string(comm)) == "iperf3" {
				syscall.Kill(pid, syscall.SIGTERM)
			}
		}
	})
	for i := 0; ; i++ { // -D returns before the daemon listens
		if out, _ := tp.Exec(t, server, "ss", "-Hltn", "sport", "=", ":5299"); strings.Contains(out, "5299") {
			break
		}
		if i == 100 {
			t.Fatal("iperf3 server is not listening")
		}
		time.Sleep(20 * time.Millisecond)
	}
	csumBefore, rxBefore := tp.snmpCounter(t, server, "Tcp", "InCsumErrors"), tp.rxBytes(t, server)
	out := tp.MustExec(t, client, "iperf3", "-c", addr, "-p", "5299", "-t", strconv.Itoa(secs), "-J")
	var r struct {
		Error string `json:"error"`
		End   struct {
			SumReceived struct {
				Bytes float64 `json:"bytes"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Error != "" {
		t.Fatalf("iperf3: %v %s\n%s", err, r.Error, out)
	}
	csumAfter, rxAfter := tp.snmpCounter(t, server, "Tcp", "InCsumErrors"), tp.rxBytes(t, server)
	got := r.End.SumReceived.Bytes
	t.Logf("%s → %s: %.0f bytes in %d s (%.2f Gbit/s); the receiver's interfaces got %d bytes; TcpInCsumErrors %d → %d",
		client, server, got, secs, got*8/float64(secs)/1e9, rxAfter-rxBefore, csumBefore, csumAfter)
	if got < minBytes {
		t.Fatalf("only %.0f bytes arrived at %s, want ≥ %.0f", got, server, minBytes)
	}
	if float64(rxAfter-rxBefore) < got {
		t.Fatalf("%s's interfaces received %d bytes, less than the %.0f iperf3 counted", server, rxAfter-rxBefore, got)
	}
	if csumAfter != csumBefore {
		t.Fatalf("%d TCP checksum errors at the receiver %s", csumAfter-csumBefore, server)
	}
	ns := tp.MustExec(t, server, "nstat", "-az", "TcpInCsumErrors")
	if !strings.Contains(ns, "TcpInCsumErrors") || !fieldZero(ns, "TcpInCsumErrors") {
		t.Fatalf("checksum errors at the receiver:\n%s", ns)
	}
}

// snmpCounter reads one counter of /proc/net/snmp (e.g. Tcp InCsumErrors)
// as name's namespace sees it.
func (tp *Topo) snmpCounter(t *testing.T, name, proto, field string) uint64 {
	t.Helper()
	var keys []string
	for _, l := range strings.Split(tp.MustExec(t, name, "cat", "/proc/net/snmp"), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || f[0] != proto+":" {
			continue
		}
		if keys == nil {
			keys = f
			continue
		}
		for i, k := range keys {
			if k == field && i < len(f) {
				v, err := strconv.ParseUint(f[i], 10, 64)
				if err != nil {
					t.Fatalf("/proc/net/snmp %s %s: %q", proto, field, f[i])
				}
				return v
			}
		}
	}
	t.Fatalf("no %s %s in %s's /proc/net/snmp", proto, field, name)
	return 0
}

// rxBytes sums the bytes received by name's interfaces other than lo.
func (tp *Topo) rxBytes(t *testing.T, name string) uint64 {
	t.Helper()
	var n uint64
	for _, l := range strings.Split(tp.MustExec(t, name, "cat", "/proc/net/dev"), "\n") {
		dev, rest, ok := strings.Cut(l, ":")
		if f := strings.Fields(rest); ok && strings.TrimSpace(dev) != "lo" && len(f) > 0 {
			v, err := strconv.ParseUint(f[0], 10, 64)
			if err != nil {
				continue // the header lines
			}
			n += v
		}
	}
	return n
}

func fieldZero(nstat, name string) bool {
	for _, l := range strings.Split(nstat, "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == name {
			return f[1] == "0"
		}
	}
	return false
}

// shadow: the textbook's collision, a VPC CIDR over an internet address.
const shadow = `{
  "name": "NAME", "region": "ap-northeast-2",
  "internet": {"hosts": [{"name": "console", "ip": "54.239.30.25", "user_data": "vpcnet serve --http :80"}]},
  "vpcs": [{
    "name": "v", "cidr": "54.239.0.0/16", "internet_gateway": "igw",
    "subnets": [{"name": "s", "cidr": "54.239.30.0/24", "az": "ap-northeast-2a", "route_table": "rt", "map_public_ip_on_launch": true}],
    "route_tables": [{"name": "rt", "routes": [{"destination": "0.0.0.0/0", "target": "igw"}]}],
    "security_groups": [{"name": "open", "ingress": [{"protocol": "all", "source": "0.0.0.0/0"}]}],
    "instances": [
      {"name": "mine", "subnet": "s", "private_ip": "54.239.30.25", "security_groups": ["open"], "user_data": "vpcnet serve --http :80"},
      {"name": "client", "subnet": "s", "private_ip": "54.239.30.10", "security_groups": ["open"]}
    ]
  }]
}`

// TestADDR6_LocalRouteShadowsInternetHost: curl from inside the VPC to
// 54.239.30.25 lands on the VPC's own instance, and up warned.
func TestADDR6_LocalRouteShadowsInternetHost(t *testing.T) {
	RequireRoot(t)
	tp := Up(t, shadow)
	if !strings.Contains(tp.UpOutput, "warning") || !strings.Contains(tp.UpOutput, "console") || !strings.Contains(tp.UpOutput, "ADDR-6") {
		t.Fatalf("up did not warn naming the shadowed host:\n%s", tp.UpOutput)
	}
	w, err := tp.Curl(t, "client", "http://54.239.30.25/")
	if err != nil {
		t.Fatal(err)
	}
	if w.Name != "mine" {
		t.Fatalf("curl 54.239.30.25 reached %q, want the VPC's own instance", w.Name)
	}
}

// TestNAT1_PrivateNATGatewayCannotUseTheIGW: a NAT gateway with private
// connectivity has no EIP, and its traffic may not leave by the internet
// gateway: the drop is counted at its ENI.
func TestNAT1_PrivateNATGatewayCannotUseTheIGW(t *testing.T) {
	priv := strings.Replace(edge, `{"name": "nat", "subnet": "pub", "elastic_ip": "eip-nat"}`,
		`{"name": "nat", "subnet": "pub", "connectivity": "private"}`, 1)
	tp := Up(t, priv)
	if _, err := tp.Exec(t, "db", "curl", "-sS", "--max-time", "1", "http://203.0.113.80/"); err == nil {
		t.Fatal("traffic through a private NAT gateway reached the internet")
	}
	if n := tp.Drops(t, "nat", "igw-no-public-ip"); n == 0 {
		t.Fatalf("the private NAT's IGW drop was not counted: %+v", tp.Stats(t).Endpoints)
	}
	// The gateway did translate: it saw the connection attempt.
	var attempts uint64
	for _, s := range tp.Stats(t).NAT {
		attempts += s.ConnectionAttemptCount
	}
	if attempts == 0 {
		t.Fatal("the private NAT gateway saw no connection attempt")
	}
}

// waitListening waits until TCP ports listen in namespace name, asking
// inside it (nothing crosses the forwarder).
func waitListening(t *testing.T, tp *Topo, name string, ports ...int) {
	t.Helper()
	for _, p := range ports {
		deadline := time.Now().Add(10 * time.Second)
		for {
			out, _ := tp.Exec(t, name, "ss", "-Hltn", fmt.Sprintf("sport = :%d", p))
			if strings.TrimSpace(out) != "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: nothing listens on tcp port %d after 10 s", name, p)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}
