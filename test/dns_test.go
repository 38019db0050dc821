package test

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// dnsTopo (ap-northeast-2): web in subnet a, whose group allows NO egress
// and whose NACL denies everything (SG-8 must still let DNS through); db
// in subnet b, open; the internet host remote. web has an EIP.
const dnsTopo = `{
  "name": "NAME", "region": "ap-northeast-2",
  "address_pools": [{"name": "amz", "cidrs": ["3.34.0.0/16"]}],
  "elastic_ips": [{"name": "eip-web", "address": "3.34.0.10"}],
  "internet": {"hosts": [{"name": "remote", "ip": "13.52.201.147"}]},
  "vpcs": [{
    "name": "v", "cidr": "10.9.0.0/16", "internet_gateway": "igw",
    "subnets": [
      {"name": "a", "cidr": "10.9.2.0/24", "az": "ap-northeast-2a", "route_table": "rt", "network_acl": "deny-all"},
      {"name": "b", "cidr": "10.9.0.0/24", "az": "ap-northeast-2a", "route_table": "rt"}
    ],
    "route_tables": [{"name": "rt", "routes": [{"destination": "0.0.0.0/0", "target": "igw"}]}],
    "network_acls": [{"name": "deny-all"}],
    "security_groups": [
      {"name": "closed", "egress": []},
      {"name": "open", "ingress": [{"protocol": "all", "source": "0.0.0.0/0"}]}
    ],
    "instances": [
      {"name": "web", "subnet": "a", "private_ip": "10.9.2.11", "secondary_private_ips": ["10.9.2.12"], "elastic_ip": "eip-web", "security_groups": ["closed"]},
      {"name": "db", "subnet": "b", "private_ip": "10.9.0.20", "security_groups": ["open"]}
    ]
  }]
}`

// dig runs dig in namespace name with a short timeout and returns its
// +short answer, or "" and the error on a timeout.
func (tp *Topo) dig(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	out, err := tp.Exec(t, name, append([]string{"dig", "+short", "+time=1", "+tries=2"}, args...)...)
	return strings.TrimSpace(out), err
}

func (tp *Topo) mustDig(t *testing.T, name, want string, args ...string) {
	t.Helper()
	out, err := tp.dig(t, name, args...)
	if err != nil || out != want {
		t.Fatalf("%s: dig %v = %q (%v), want %q", name, args, out, err, want)
	}
}

func requireDig(t *testing.T) {
	if _, err := exec.LookPath("dig"); err != nil {
		t.Skip("dig is not installed (bind9-dnsutils): run scripts/deps.sh as root")
	}
}

// TestDNS1_AmazonDNSFromInstances: the Amazon DNS server at base + 2 and
// 169.254.169.253 answers private names and PTRs over UDP and TCP, through
// resolv.conf too; public names split horizon (DNS-2); internet hosts'
// names resolve through the public DNS, which the internet hosts use; all
// of it from web, whose group allows no egress and whose NACL denies all
// (SG-8); enableDnsSupport off silences it and on brings it back (DNS-1).
func TestDNS1_AmazonDNSFromInstances(t *testing.T) {
	requireDig(t)
	tp := Up(t, dnsTopo)
	const (
		webName = "ip-10-9-2-11.ap-northeast-2.compute.internal"
		pubName = "ec2-3-34-0-10.ap-northeast-2.compute.amazonaws.com"
	)
	// The group and NACL do block web's other traffic: SG-8 is what lets DNS out.
	if tp.Ping(t, "web", "10.9.0.20") {
		t.Fatal("web pings db: its group and NACL should block it")
	}
	t.Run("private-names", func(t *testing.T) {
		tp.mustDig(t, "web", "10.9.2.11", "@10.9.0.2", webName)
		tp.mustDig(t, "web", "10.9.2.12", "@10.9.0.2", "ip-10-9-2-12.ap-northeast-2.compute.internal")
		tp.mustDig(t, "db", "10.9.2.11", "@169.254.169.253", webName)
		tp.mustDig(t, "db", "10.9.0.20", "@10.9.0.2", "ip-10-9-0-20.ap-northeast-2.compute.internal")
		full, _ := tp.Exec(t, "web", "dig", "+time=1", "+tries=2", "@10.9.0.2", "ip-10-9-2-99.ap-northeast-2.compute.internal")
		if !strings.Contains(full, "status: NXDOMAIN") || !strings.Contains(full, "flags: qr rd ra;") {
			t.Errorf("unknown name: want NXDOMAIN with Route 53 Resolver's flags (qr rd ra):\n%s", full)
		}
	})
	t.Run("resolv.conf", func(t *testing.T) {
		conf := tp.MustExec(t, "web", "cat", "/etc/resolv.conf")
		if !strings.Contains(conf, "nameserver 10.9.0.2\n") || !strings.Contains(conf, "search ap-northeast-2.compute.internal\n") {
			t.Fatalf("resolv.conf:\n%s", conf)
		}
		if out := tp.MustExec(t, "db", "getent", "hosts", webName); !strings.HasPrefix(out, "10.9.2.11 ") {
			t.Errorf("getent hosts %s: %q", webName, out)
		}
		// The search domain: the short name.
		if out := tp.MustExec(t, "web", "getent", "hosts", "ip-10-9-0-20"); !strings.HasPrefix(out, "10.9.0.20 ") {
			t.Errorf("getent hosts ip-10-9-0-20: %q", out)
		}
	})
	t.Run("ptr", func(t *testing.T) {
		tp.mustDig(t, "db", webName+".", "@10.9.0.2", "-x", "10.9.2.11")
		tp.mustDig(t, "remote", pubName+".", "-x", "3.34.0.10")
	})
	t.Run("tcp", func(t *testing.T) {
		tp.mustDig(t, "web", "10.9.2.11", "+tcp", "@10.9.0.2", webName)
		tp.mustDig(t, "web", "10.9.0.20", "+tcp", "@169.254.169.253", "ip-10-9-0-20.ap-northeast-2.compute.internal")
	})
	t.Run("split-horizon", func(t *testing.T) { // DNS-2
		tp.mustDig(t, "db", "10.9.2.11", "@10.9.0.2", pubName)
		tp.mustDig(t, "remote", "3.34.0.10", pubName) // through its resolv.conf: the public DNS
		if conf := tp.MustExec(t, "remote", "cat", "/etc/resolv.conf"); !strings.Contains(conf, "nameserver 198.51.100.53\n") {
			t.Errorf("internet host's resolv.conf:\n%s", conf)
		}
		if out, _ := tp.dig(t, "remote", webName); out != "" {
			t.Errorf("a private name resolves on the internet: %q", out)
		}
	})
	t.Run("internet-names", func(t *testing.T) {
		tp.mustDig(t, "web", "13.52.201.147", "@10.9.0.2", "remote.internet")
		if out := tp.MustExec(t, "remote", "getent", "hosts", "dns.internet"); !strings.HasPrefix(out, "198.51.100.53 ") {
			t.Errorf("getent hosts dns.internet on remote: %q", out)
		}
	})
	t.Run("support-off-and-on", func(t *testing.T) { // DNS-1, live
		tp.ec2OK(t, nil, "modify-vpc-attribute", "--vpc-id", "v", "--no-enable-dns-support")
		if out, err := tp.dig(t, "db", "@10.9.0.2", webName); err == nil {
			t.Fatalf("enableDnsSupport off: dig answered %q", out)
		}
		if n := tp.Drops(t, "svc+"+tp.vpcID(t, "v"), "vpc-dns-disabled"); n == 0 {
			t.Error("no vpc-dns-disabled drop counted")
		}
		tp.ec2OK(t, nil, "modify-vpc-attribute", "--vpc-id", "v", "--enable-dns-support")
		tp.mustDig(t, "db", "10.9.2.11", "@10.9.0.2", webName)
	})
	t.Run("hostnames-off", func(t *testing.T) { // DNS-2, live
		tp.ec2OK(t, nil, "modify-vpc-attribute", "--vpc-id", "v", "--no-enable-dns-hostnames")
		if out, _ := tp.dig(t, "db", "@10.9.0.2", pubName); out != "" {
			t.Errorf("hostnames off: the public name resolves to %q", out)
		}
		tp.ec2OK(t, nil, "modify-vpc-attribute", "--vpc-id", "v", "--enable-dns-hostnames")
		tp.mustDig(t, "db", "10.9.2.11", "@10.9.0.2", pubName)
	})
	t.Run("flood", func(t *testing.T) { // bad input
		// Random bytes of every length, a truncated query, an oversized
		// datagram and a TCP connection that sends garbage, all at base + 2.
		script := `
import os, random, socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
q = bytes.fromhex("abcd01000001000000000000") + b"\x02ip\x07example\x00\x00\x01\x00\x01"
for i in range(20000):
    n = random.randrange(0, 600)
    s.sendto(os.urandom(n), ("10.9.0.2", 53))
    if i % 100 == 0:
        s.sendto(q[:random.randrange(1, len(q))], ("10.9.0.2", 53))
        s.sendto(q + os.urandom(8000), ("10.9.0.2", 53))
for i in range(100):
    c = socket.create_connection(("10.9.0.2", 53), timeout=5)
    c.sendall(b"\xff\xff" + os.urandom(3000))
    c.close()
`
		if out, err := tp.Exec(t, "db", "/usr/bin/python3", "-c", script); err != nil {
			t.Fatalf("flood: %v\n%s", err, out)
		}
		time.Sleep(1100 * time.Millisecond) // the per-source rate limit refills
		tp.mustDig(t, "db", "10.9.2.11", "@10.9.0.2", webName)
		tp.mustDig(t, "db", "10.9.2.11", "+tcp", "@10.9.0.2", webName)
	})
	t.Run("latency", func(t *testing.T) { // BENCHMARKS.md: 1000 lookups, one at a time, over UDP from db
		out := tp.MustExec(t, "db", "/usr/bin/python3", "-c", dnsLatencyScript, "10.9.0.2", webName, "1000")
		t.Logf("Amazon DNS lookup latency from an instance: %s", strings.TrimSpace(out))
		// Route 53 Resolver's 1024 packets per second per source lets 1000
		// through at once; a lookup or two may still time out on a loaded
		// machine.
		var answered int
		if _, err := fmt.Sscanf(out, "answered=%d ", &answered); err != nil || answered < 990 {
			t.Errorf("lookups not answered with 10.9.2.11: %s", out)
		}
	})
	t.Run("live-vpc", func(t *testing.T) { // CreateVpc and DeleteVpc bring and take its service namespace
		var out struct{ Vpc struct{ VpcId string } }
		tp.ec2OK(t, &out, "create-vpc", "--cidr-block", "10.60.0.0/16", "--output", "json")
		ns := tp.Name + "-svc+" + out.Vpc.VpcId
		if !slices.Contains(namespacesWithPrefix(tp.Name+"-"), ns) {
			t.Fatalf("no service namespace %s after create-vpc: %v", ns, namespacesWithPrefix(tp.Name+"-"))
		}
		tp.ec2OK(t, nil, "delete-vpc", "--vpc-id", out.Vpc.VpcId)
		if slices.Contains(namespacesWithPrefix(tp.Name+"-"), ns) {
			t.Fatalf("service namespace %s left after delete-vpc", ns)
		}
	})
}

// vpcID returns the id of the VPC whose Name tag is name.
func (tp *Topo) vpcID(t *testing.T, name string) string {
	t.Helper()
	var out struct {
		Vpcs []struct {
			VpcId string
			Tags  []struct{ Key, Value string }
		}
	}
	tp.ec2OK(t, &out, "describe-vpcs", "--output", "json")
	for _, v := range out.Vpcs {
		for _, tag := range v.Tags {
			if tag.Key == "Name" && tag.Value == name {
				return v.VpcId
			}
		}
	}
	t.Fatalf("no VPC named %s: %+v", name, out)
	return ""
}

// instanceNamespaces are the namespaces with prefix p but the VPC service
// namespaces (<topology>-svc+…).
func instanceNamespaces(p string) []string {
	return slices.DeleteFunc(namespacesWithPrefix(p), func(ns string) bool { return strings.Contains(ns, "-svc+") })
}

// dnsLatencyScript sends argv[3] A queries for argv[2] to argv[1]:53 one at
// a time and prints how many came back with one A record, and the p50 and
// p99 of their round trips.
const dnsLatencyScript = `
import socket, struct, sys, time
server, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
qname = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\x00"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
s.connect((server, 53))
rtts, ok = [], 0
for i in range(n):
    q = struct.pack(">HHHHHH", i, 0x0100, 1, 0, 0, 0) + qname + b"\x00\x01\x00\x01"
    t = time.perf_counter()
    s.send(q)
    try:
        r = s.recv(1500)
    except socket.timeout:
        continue
    rtts.append(time.perf_counter() - t)
    qid, flags, qd, an = struct.unpack(">HHHH", r[:8])
    if qid == i and flags & 0xf == 0 and an == 1 and r[-4:] == bytes([10, 9, 2, 11]):
        ok += 1
rtts.sort()
pct = lambda p: rtts[min(len(rtts) - 1, int(p * len(rtts)))] * 1e6
print("answered=%d p50=%.0fus p99=%.0fus" % (ok, pct(0.50), pct(0.99)))
`
