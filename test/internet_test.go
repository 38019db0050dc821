package test

import (
	"encoding/json"
	"strconv"
	"strings"
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
  "internet": {"hosts": [{"name": "inet", "ip": "203.0.113.80", "user_data": "vpcnet serve --http :80 --tcp :7"}]},
  "settings": {"nat_max_connections_per_destination": 2},
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
	tp := Up(t, edge)
	if _, err := tp.Curl(t, "db", "http://203.0.113.80/"); err != nil { // the echo server is up too by now
		t.Fatal(err)
	}
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
	// Another destination (port 80) is not limited by inet:7's count.
	if _, err := tp.Curl(t, "db", "http://203.0.113.80/"); err != nil {
		t.Fatalf("another destination failed: %v", err)
	}
}

// TestNAT_LargeTransferChecksums: iperf3 through NAT gateway and IGW with
// GSO super-frames: the receiver counts no checksum errors.
func TestNAT_LargeTransferChecksums(t *testing.T) {
	tp := Up(t, edge)
	tp.MustExec(t, "inet", "iperf3", "-s", "-D", "-1", "-p", "5299")
	time.Sleep(300 * time.Millisecond)
	tp.MustExec(t, "inet", "nstat", "-n")
	out := tp.MustExec(t, "db", "iperf3", "-c", "203.0.113.80", "-p", "5299", "-t", "2", "-J")
	var r struct {
		End struct {
			SumReceived struct {
				Bytes float64 `json:"bytes"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("iperf3: %v\n%s", err, out)
	}
	if r.End.SumReceived.Bytes < 50e6 {
		t.Fatalf("only %.0f bytes went through NAT", r.End.SumReceived.Bytes)
	}
	ns := tp.MustExec(t, "inet", "nstat", "-az", "TcpInCsumErrors")
	if !strings.Contains(ns, "TcpInCsumErrors") || !fieldZero(ns, "TcpInCsumErrors") {
		t.Fatalf("checksum errors at the receiver:\n%s", ns)
	}
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
