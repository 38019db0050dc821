package vpcdns

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/vpcnet/vpcnet/topology"
)

// zoneTopo: VPC v (both attributes on) with web (EIP 3.34.0.10) and db;
// VPC q with DNS hostnames off (its app has a public IP); VPC off with DNS
// support off; the internet host remote.
const zoneTopo = `{
  "name": "z", "region": "ap-northeast-2",
  "address_pools": [{"name": "amz", "cidrs": ["3.34.0.0/16"]}],
  "elastic_ips": [{"name": "eip-web", "address": "3.34.0.10"}, {"name": "eip-app", "address": "3.34.0.20"}],
  "internet": {"hosts": [{"name": "remote", "ip": "13.52.201.147"}]},
  "vpcs": [{
    "name": "v", "cidr": "10.9.0.0/16", "internet_gateway": "igw",
    "subnets": [{"name": "a", "cidr": "10.9.2.0/24", "az": "ap-northeast-2a"}],
    "instances": [
      {"name": "web", "subnet": "a", "private_ip": "10.9.2.11", "secondary_private_ips": ["10.9.2.12"], "elastic_ip": "eip-web"},
      {"name": "db", "subnet": "a", "private_ip": "10.9.2.20"}]
  }, {
    "name": "q", "cidr": "10.8.0.0/16", "internet_gateway": "igw-q", "enable_dns_hostnames": false,
    "subnets": [{"name": "b", "cidr": "10.8.1.0/24", "az": "ap-northeast-2a"}],
    "instances": [{"name": "app", "subnet": "b", "private_ip": "10.8.1.10", "elastic_ip": "eip-app"}]
  }, {
    "name": "off", "cidr": "10.7.0.0/16", "enable_dns_support": false,
    "subnets": [{"name": "c", "cidr": "10.7.1.0/24", "az": "ap-northeast-2a"}],
    "instances": [{"name": "x", "subnet": "c", "private_ip": "10.7.1.10"}]
  }]
}`

func load(t testing.TB, topo string) (*topology.Network, *Data) {
	t.Helper()
	n, err := topology.Load([]byte(topo))
	if err != nil {
		t.Fatal(err)
	}
	return n, Build(n)
}

func vpcID(n *topology.Network, name string) string {
	for _, v := range n.VPCs {
		if v.Name == name {
			return v.ID
		}
	}
	return "no-such-vpc"
}

func ask(t testing.TB, d *Data, vpc, name string, qtype uint16) *dns.Msg {
	t.Helper()
	req := new(dns.Msg)
	req.SetQuestion(dns.Fqdn(name), qtype)
	return d.Answer(vpc, req)
}

// answers returns the answer's records' data (A addresses, PTR names).
func answers(m *dns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		switch x := rr.(type) {
		case *dns.A:
			out = append(out, x.A.String())
		case *dns.PTR:
			out = append(out, x.Ptr)
		}
	}
	return out
}

func want(t *testing.T, m *dns.Msg, rcode int, data ...string) {
	t.Helper()
	if m == nil {
		t.Fatalf("no answer, want %s %v", dns.RcodeToString[rcode], data)
	}
	if m.Rcode != rcode || strings.Join(answers(m), ",") != strings.Join(data, ",") {
		t.Fatalf("%s: %s %v, want %s %v", m.Question[0].Name, dns.RcodeToString[m.Rcode], answers(m), dns.RcodeToString[rcode], data)
	}
	for _, rr := range m.Answer {
		if rr.Header().Ttl != TTL {
			t.Errorf("%s: TTL %d, want %d", rr.Header().Name, rr.Header().Ttl, TTL)
		}
	}
	// Route 53 Resolver's flags: a recursive resolver's answer.
	if m.Authoritative || !m.RecursionAvailable || !m.Response {
		t.Errorf("flags aa=%v ra=%v qr=%v, want aa=false ra=true qr=true", m.Authoritative, m.RecursionAvailable, m.Response)
	}
}

// TestDNS1_PrivateNames: every private IP of every ENI has its name and PTR
// in its VPC; case does not matter; an unknown name of the zone is
// NXDOMAIN with the zone's SOA.
func TestDNS1_PrivateNames(t *testing.T) {
	n, d := load(t, zoneTopo)
	v := vpcID(n, "v")
	want(t, ask(t, d, v, "ip-10-9-2-11.ap-northeast-2.compute.internal", dns.TypeA), dns.RcodeSuccess, "10.9.2.11")
	want(t, ask(t, d, v, "IP-10-9-2-12.AP-Northeast-2.compute.internal", dns.TypeA), dns.RcodeSuccess, "10.9.2.12")
	want(t, ask(t, d, v, "ip-10-9-2-20.ap-northeast-2.compute.internal", dns.TypeA), dns.RcodeSuccess, "10.9.2.20")
	want(t, ask(t, d, v, "11.2.9.10.in-addr.arpa", dns.TypePTR), dns.RcodeSuccess, "ip-10-9-2-11.ap-northeast-2.compute.internal.")
	m := ask(t, d, v, "ip-10-9-2-99.ap-northeast-2.compute.internal", dns.TypeA)
	want(t, m, dns.RcodeNameError)
	if len(m.Ns) != 1 || m.Ns[0].(*dns.SOA).Minttl != TTL {
		t.Errorf("NXDOMAIN without the zone's SOA: %v", m.Ns)
	}
	want(t, ask(t, d, v, "99.2.9.10.in-addr.arpa", dns.TypePTR), dns.RcodeNameError)
	// A known name and another type: NODATA.
	m = ask(t, d, v, "ip-10-9-2-11.ap-northeast-2.compute.internal", dns.TypeAAAA)
	want(t, m, dns.RcodeSuccess)
	if len(m.Ns) != 1 {
		t.Errorf("NODATA without SOA: %v", m.Ns)
	}
	// Another VPC's private names are not in this VPC's zone.
	want(t, ask(t, d, v, "ip-10-8-1-10.ap-northeast-2.compute.internal", dns.TypeA), dns.RcodeNameError)
	want(t, ask(t, d, vpcID(n, "q"), "ip-10-8-1-10.ap-northeast-2.compute.internal", dns.TypeA), dns.RcodeSuccess, "10.8.1.10")
}

// TestDNS1_USEast1Zone: us-east-1's names are ip-….ec2.internal.
func TestDNS1_USEast1Zone(t *testing.T) {
	topo := strings.Replace(strings.ReplaceAll(zoneTopo, "ap-northeast-2", "us-east-1"), `"address_pools": [{"name": "amz", "cidrs": ["3.34.0.0/16"]}]`,
		`"address_pools": [{"name": "amz", "cidrs": ["3.34.0.0/16"], "network_border_group": "us-east-1"}]`, 1)
	n, d := load(t, topo)
	want(t, ask(t, d, vpcID(n, "v"), "ip-10-9-2-11.ec2.internal", dns.TypeA), dns.RcodeSuccess, "10.9.2.11")
	want(t, ask(t, d, vpcID(n, "v"), "ec2-3-34-0-10.compute-1.amazonaws.com", dns.TypeA), dns.RcodeSuccess, "10.9.2.11")
	want(t, ask(t, d, "", "ec2-3-34-0-10.compute-1.amazonaws.com", dns.TypeA), dns.RcodeSuccess, "3.34.0.10")
}

// TestDNS2_SplitHorizon: the public name answers the private IP inside the
// VPC and the public IP from the internet, and from another VPC (which
// recurses to the public DNS). With enableDnsHostnames off there is none.
func TestDNS2_SplitHorizon(t *testing.T) {
	n, d := load(t, zoneTopo)
	name := "ec2-3-34-0-10.ap-northeast-2.compute.amazonaws.com"
	want(t, ask(t, d, vpcID(n, "v"), name, dns.TypeA), dns.RcodeSuccess, "10.9.2.11")
	want(t, ask(t, d, "", name, dns.TypeA), dns.RcodeSuccess, "3.34.0.10")
	want(t, ask(t, d, vpcID(n, "q"), name, dns.TypeA), dns.RcodeSuccess, "3.34.0.10")
	want(t, ask(t, d, "", "10.0.34.3.in-addr.arpa", dns.TypePTR), dns.RcodeSuccess, name+".")
	// q has hostnames off: no public name for app's EIP, anywhere.
	want(t, ask(t, d, vpcID(n, "q"), "ec2-3-34-0-20.ap-northeast-2.compute.amazonaws.com", dns.TypeA), dns.RcodeNameError)
	want(t, ask(t, d, "", "ec2-3-34-0-20.ap-northeast-2.compute.amazonaws.com", dns.TypeA), dns.RcodeNameError)
	// Live: hostnames on, then the name exists.
	for _, v := range n.VPCs {
		if v.Name == "q" {
			v.DNSHostnames = true
		}
	}
	d = Build(n)
	want(t, ask(t, d, vpcID(n, "q"), "ec2-3-34-0-20.ap-northeast-2.compute.amazonaws.com", dns.TypeA), dns.RcodeSuccess, "10.8.1.10")
}

// TestDNS1_SupportOff: a VPC with enableDnsSupport off gets no answer at
// all; so does a VPC the data does not know.
func TestDNS1_SupportOff(t *testing.T) {
	n, d := load(t, zoneTopo)
	if m := ask(t, d, vpcID(n, "off"), "ip-10-7-1-10.ap-northeast-2.compute.internal", dns.TypeA); m != nil {
		t.Fatalf("DNS support off answered %v", m)
	}
	if m := ask(t, d, "vpc-gone", "remote.internet", dns.TypeA); m != nil {
		t.Fatalf("unknown VPC answered %v", m)
	}
}

// TestPublicDNS_InternetHosts: internet hosts have names on the emulated
// internet, seen from VPCs (recursion) and from the internet; a name
// nobody has is NXDOMAIN.
func TestPublicDNS_InternetHosts(t *testing.T) {
	n, d := load(t, zoneTopo)
	want(t, ask(t, d, "", "remote.internet", dns.TypeA), dns.RcodeSuccess, "13.52.201.147")
	want(t, ask(t, d, vpcID(n, "v"), "remote.internet", dns.TypeA), dns.RcodeSuccess, "13.52.201.147")
	want(t, ask(t, d, "", "147.201.52.13.in-addr.arpa", dns.TypePTR), dns.RcodeSuccess, "remote.internet.")
	want(t, ask(t, d, "", "dns.internet", dns.TypeA), dns.RcodeSuccess, topology.DefaultPublicDNS.String())
	want(t, ask(t, d, "", "nobody.internet", dns.TypeA), dns.RcodeNameError)
	want(t, ask(t, d, vpcID(n, "v"), "www.example.com", dns.TypeA), dns.RcodeNameError)
	// The private names are not on the internet.
	want(t, ask(t, d, "", "ip-10-9-2-11.ap-northeast-2.compute.internal", dns.TypeA), dns.RcodeNameError)
}

// TestAnswer_BadRequests: what a client may send that is not one plain
// question gets a clear error code, never a panic.
func TestAnswer_BadRequests(t *testing.T) {
	n, d := load(t, zoneTopo)
	v := vpcID(n, "v")
	none := new(dns.Msg)
	if m := d.Answer(v, none); m == nil || m.Rcode != dns.RcodeFormatError {
		t.Errorf("no question: %v", m)
	}
	two := new(dns.Msg)
	two.Question = []dns.Question{{Name: "a.", Qtype: dns.TypeA, Qclass: dns.ClassINET}, {Name: "b.", Qtype: dns.TypeA, Qclass: dns.ClassINET}}
	if m := d.Answer(v, two); m == nil || m.Rcode != dns.RcodeFormatError {
		t.Errorf("two questions: %v", m)
	}
	upd := new(dns.Msg)
	upd.SetUpdate("ap-northeast-2.compute.internal.")
	if m := d.Answer(v, upd); m == nil || m.Rcode != dns.RcodeNotImplemented {
		t.Errorf("update: %v", m)
	}
	axfr := new(dns.Msg)
	axfr.SetAxfr("ap-northeast-2.compute.internal.")
	if m := d.Answer(v, axfr); m == nil || m.Rcode != dns.RcodeRefused {
		t.Errorf("AXFR: %v", m)
	}
	ch := new(dns.Msg)
	ch.SetQuestion("version.bind.", dns.TypeTXT)
	ch.Question[0].Qclass = dns.ClassCHAOS
	if m := d.Answer(v, ch); m == nil || m.Rcode != dns.RcodeRefused {
		t.Errorf("CHAOS: %v", m)
	}
	for _, bad := range []string{"1.2.3.in-addr.arpa.", "256.1.1.10.in-addr.arpa.", "01.2.9.10.in-addr.arpa.", "x.2.9.10.in-addr.arpa."} {
		if _, ok := reverseToAddr(bad); ok {
			t.Errorf("reverseToAddr(%q) accepted", bad)
		}
	}
	if a, ok := reverseToAddr("11.2.9.10.in-addr.arpa."); !ok || a != netip.MustParseAddr("10.9.2.11") {
		t.Errorf("reverseToAddr: %v %v", a, ok)
	}
}

// TestUDPTruncation: an answer bigger than the client's UDP size is cut
// with TC set (the client retries over TCP).
func TestUDPTruncation(t *testing.T) {
	req := new(dns.Msg)
	req.SetQuestion("x.", dns.TypeA)
	if udpSize(req) != 512 {
		t.Errorf("no EDNS: %d", udpSize(req))
	}
	req.SetEdns0(65000, false)
	if udpSize(req) != maxUDP {
		t.Errorf("EDNS 65000: %d", udpSize(req))
	}
	m := new(dns.Msg)
	m.SetReply(req)
	for i := range 100 {
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: "x.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: TTL}, A: netip.AddrFrom4([4]byte{10, 0, byte(i), 1}).AsSlice()})
	}
	m.Truncate(512)
	if b, _ := m.Pack(); len(b) > 512 || !m.Truncated {
		t.Errorf("truncated to %d bytes, TC=%v", len(b), m.Truncated)
	}
}

// FuzzAnswer: any bytes a client sends, read as miekg/dns reads them, get
// an answer (or none) that packs, in every view, without a panic.
func FuzzAnswer(f *testing.F) {
	n, d := load(f, recordsTopo) // with public_dns_records and reverse names (DNS-3)
	views := []string{"", vpcID(n, "v"), vpcID(n, "q"), vpcID(n, "off")}
	for _, name := range []string{"ip-10-9-2-11.ap-northeast-2.compute.internal.", "11.2.9.10.in-addr.arpa.", "remote.internet.", ".",
		"WWW.example.com.", "10.0.34.3.in-addr.arpa.", "30.0.34.3.in-addr.arpa."} {
		for _, qt := range []uint16{dns.TypeA, dns.TypePTR, dns.TypeANY, dns.TypeAAAA} {
			m := new(dns.Msg)
			m.SetQuestion(name, qt)
			m.SetEdns0(4096, true)
			b, _ := m.Pack()
			f.Add(b)
		}
	}
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1}) // a pointer loop
	f.Fuzz(func(t *testing.T, b []byte) {
		req := new(dns.Msg)
		if err := req.Unpack(b); err != nil {
			return // the server answers FORMERR or nothing before the handler
		}
		for _, v := range views {
			m := d.Answer(v, req)
			if m == nil {
				continue
			}
			m.Truncate(udpSize(req))
			if _, err := m.Pack(); err != nil {
				t.Fatalf("answer does not pack: %v\n%v", err, m)
			}
		}
	})
}
