package test

import (
	"strconv"
	"strings"
	"testing"
)

// fragEdge: web (EIP) in a public subnet; srv and db in a private subnet
// behind a NAT gateway. Every instance is in group udp9000, which lets in
// UDP 9000 from the VPC and nothing else: no ICMP, no ephemeral ports, so
// replies pass only as their tracked flow's (SG-4). srv echoes UDP on 9000
// and on 9001 (which the group refuses). The interfaces' MTU is 1500: UDP
// payloads above 1472 bytes and pings above 1472 travel as fragments.
const fragEdge = `{
  "name": "NAME", "region": "us-east-1",
  "address_pools": [{"name": "amz", "cidrs": ["3.34.0.0/16"]}],
  "elastic_ips": [{"name": "eip-web", "address": "3.34.10.10"}, {"name": "eip-nat", "address": "3.34.20.20"}],
  "internet": {"hosts": [{"name": "inet", "ip": "203.0.113.80"}]},
  "vpcs": [{
    "name": "v", "cidr": "10.7.0.0/16", "internet_gateway": "igw",
    "subnets": [
      {"name": "pub", "cidr": "10.7.1.0/24", "az": "us-east-1a", "route_table": "rt-pub"},
      {"name": "priv", "cidr": "10.7.3.0/24", "az": "us-east-1a", "route_table": "rt-priv"}
    ],
    "route_tables": [
      {"name": "rt-pub", "routes": [{"destination": "0.0.0.0/0", "target": "igw"}]},
      {"name": "rt-priv", "routes": [{"destination": "0.0.0.0/0", "target": "nat"}]}
    ],
    "nat_gateways": [{"name": "nat", "subnet": "pub", "elastic_ip": "eip-nat"}],
    "security_groups": [{"name": "udp9000", "ingress": [{"protocol": "udp", "ports": "9000", "source": "10.7.0.0/16"}]}],
    "instances": [
      {"name": "web", "subnet": "pub", "private_ip": "10.7.1.10", "security_groups": ["udp9000"], "elastic_ip": "eip-web"},
      {"name": "srv", "subnet": "priv", "private_ip": "10.7.3.20", "security_groups": ["udp9000"],
       "user_data": "vpcnet serve --udp :9001 & exec vpcnet serve --udp :9000"},
      {"name": "db", "subnet": "priv", "private_ip": "10.7.3.10", "security_groups": ["udp9000"]}
    ]
  }]
}`

// udpEcho sends one datagram of size bytes from an instance to addr:port
// and returns how many bytes came back from the echo server (0: none).
func (tp *Topo) udpEcho(t *testing.T, from, addr, port string, size int) int {
	t.Helper()
	out, err := tp.Exec(t, from, "sh", "-c", "head -c "+strconv.Itoa(size)+" /dev/zero | nc -u -w 1 "+addr+" "+port+" | wc -c")
	if err != nil {
		t.Fatalf("udp echo from %s: %v: %s", from, err, out)
	}
	n, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("udp echo from %s: %q", from, out)
	}
	return n
}

// fragmentDrops sums the drops of unmatched fragments over every endpoint.
func (tp *Topo) fragmentDrops(t *testing.T) uint64 {
	var n uint64
	for _, e := range tp.Stats(t).Endpoints {
		for r, c := range e.Drops {
			if strings.HasPrefix(r, "fragment-") || strings.HasPrefix(r, "nat-non-first-fragment") {
				n += c
			}
		}
	}
	return n
}

// Fragments pass as their flow does (issue 10, item 7): every fragment is
// judged by the ports its first fragment carries, matched to the flow it
// belongs to, and translated by the IGW and the NAT gateway.
func TestFragments_SG4_IGW1_NAT2(t *testing.T) {
	tp := Up(t, fragEdge)
	// srv's servers start in the background: wait for the small echo.
	up := false
	for i := 0; i < 50 && !up; i++ {
		up = tp.udpEcho(t, "web", "10.7.3.20", "9000", 100) == 100
	}
	if !up {
		t.Fatal("srv's UDP echo on 9000 does not answer")
	}

	t.Run("SG-4 UDP datagrams of 1472, 1473, 3000 and 8000 bytes to an allowed port arrive whole, and so do their echoes", func(t *testing.T) {
		for _, size := range []int{1472, 1473, 3000, 8000} {
			if got := tp.udpEcho(t, "web", "10.7.3.20", "9000", size); got != size {
				t.Errorf("UDP %d bytes web → srv:9000: %d bytes echoed", size, got)
			}
		}
		if n := tp.fragmentDrops(t); n != 0 {
			t.Errorf("%d fragments dropped as unmatched", n)
		}
	})

	t.Run("SG-4 every fragment to a port the group refuses drops", func(t *testing.T) {
		// srv listens on 9001 too: only the group stands in the way.
		if out := tp.MustExec(t, "srv", "sh", "-c", "head -c 10 /dev/zero | nc -u -w 1 10.7.3.20 9001 | wc -c"); strings.TrimSpace(out) != "10" {
			t.Fatalf("srv's own echo on 9001: %q", out)
		}
		before := tp.Drops(t, "srv", "security-group ingress")
		if got := tp.udpEcho(t, "web", "10.7.3.20", "9001", 3000); got != 0 {
			t.Fatalf("UDP 3000 bytes to 9001, which udp9000 refuses, was echoed: %d bytes", got)
		}
		// 3008 bytes of UDP: three fragments (1480, 1480, 48), each the group's drop.
		if n := tp.Drops(t, "srv", "security-group ingress") - before; n != 3 {
			t.Errorf("security-group ingress drops at srv: +%d, want +3 (every fragment)", n)
		}
		if n := tp.fragmentDrops(t); n != 0 {
			t.Errorf("%d fragments dropped as unmatched", n)
		}
	})

	t.Run("IGW-1 ping -s 3000 over the internet gateway from an EIP", func(t *testing.T) {
		if out, err := tp.Exec(t, "web", "ping", "-c", "2", "-W", "2", "-s", "3000", "203.0.113.80"); err != nil {
			t.Fatalf("ping -s 3000 web → inet: %v\n%s", err, out)
		}
	})

	t.Run("NAT-2 ping -s 3000 through the NAT gateway", func(t *testing.T) {
		if out, err := tp.Exec(t, "db", "ping", "-c", "2", "-W", "2", "-s", "3000", "203.0.113.80"); err != nil {
			t.Fatalf("ping -s 3000 db → inet: %v\n%s", err, out)
		}
		for id, s := range tp.Stats(t).NAT {
			if s.PacketsDropCount != 0 || s.PacketsOutToDestination < 6 || s.PacketsOutToSource < 6 {
				t.Errorf("NAT-6 counters of %s: %+v, want every fragment translated both ways and none dropped", id, s)
			}
		}
		if n := tp.Drops(t, "nat", ""); n != 0 {
			t.Errorf("the NAT gateway's ENI dropped %d frames: %+v", n, tp.Stats(t).Endpoints)
		}
	})
}
