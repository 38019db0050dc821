package vpcdns

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/vpcnet/vpcnet/topology"
)

// recordsTopo is zoneTopo with the emulated public DNS's records (DNS-3):
// www.example.com → web's EIP, with a mixed-case name and a trailing dot in
// the file; shop.example.com → two addresses; eip-web's reverse name set;
// eip-spare allocated and not associated.
var recordsTopo = strings.Replace(strings.Replace(zoneTopo,
	`"elastic_ips": [{"name": "eip-web", "address": "3.34.0.10"}, {"name": "eip-app", "address": "3.34.0.20"}],`,
	`"elastic_ips": [{"name": "eip-web", "address": "3.34.0.10", "domain_name": "WWW.Example.com."},
	  {"name": "eip-app", "address": "3.34.0.20"}, {"name": "eip-spare", "address": "3.34.0.30"}],
	"public_dns_records": [{"name": "WWW.Example.COM.", "address": "3.34.0.10"},
	  {"name": "shop.example.com", "address": "3.34.0.30"}, {"name": "shop.example.com", "address": "13.52.201.147"}],`, 1),
	`"name": "z"`, `"name": "zr"`, 1)

func eipNamed(n *topology.Network, name string) *topology.EIP {
	for _, e := range n.EIPs {
		if e.Name == name {
			return e
		}
	}
	return nil
}

// TestDNS3_PublicRecords: the file's public_dns_records are A records of
// the public DNS, seen from the internet and, by recursion, from every VPC
// with DNS support; names match whatever their case and trailing dot, and
// the answer keeps the question's spelling; a name with two records gets
// both.
func TestDNS3_PublicRecords(t *testing.T) {
	n, d := load(t, recordsTopo)
	for _, view := range []string{"", vpcID(n, "v"), vpcID(n, "q")} {
		want(t, ask(t, d, view, "www.example.com", dns.TypeA), dns.RcodeSuccess, "3.34.0.10")
		want(t, ask(t, d, view, "wWw.EXAMPLE.com.", dns.TypeA), dns.RcodeSuccess, "3.34.0.10")
		want(t, ask(t, d, view, "shop.example.com", dns.TypeA), dns.RcodeSuccess, "3.34.0.30", "13.52.201.147")
		want(t, ask(t, d, view, "other.example.com", dns.TypeA), dns.RcodeNameError)
	}
	m := ask(t, d, "", "wWw.EXAMPLE.com.", dns.TypeA)
	if got := m.Answer[0].Header().Name; got != "wWw.EXAMPLE.com." {
		t.Errorf("answer's owner name %q, want the question's spelling", got)
	}
	// A known name and another type: NODATA, no recursion elsewhere.
	want(t, ask(t, d, "", "www.example.com", dns.TypeAAAA), dns.RcodeSuccess)
	// DNS support off: no answer at all, records or not.
	if m := ask(t, d, vpcID(n, "off"), "www.example.com", dns.TypeA); m != nil {
		t.Errorf("DNS support off answered %v", m)
	}
	// Without the records, the names are gone.
	n.PublicRecords = nil
	want(t, ask(t, d, "", "www.example.com", dns.TypeA), dns.RcodeSuccess, "3.34.0.10") // the old data is a snapshot
	want(t, ask(t, Build(n), "", "www.example.com", dns.TypeA), dns.RcodeNameError)
}

// TestDNS3_EIPReverseName: the PTR of each Elastic IP's address is its
// reverse name (topology.Network.ReverseName): the domain name when set,
// overriding the public name an associated EIP's address has; else the
// public name, also for an EIP no instance holds and one in a VPC with DNS
// hostnames off (whose forward public name does not exist, DNS-2). From a
// VPC the PTR comes by recursion.
func TestDNS3_EIPReverseName(t *testing.T) {
	n, d := load(t, recordsTopo)
	for _, view := range []string{"", vpcID(n, "v"), vpcID(n, "q")} {
		want(t, ask(t, d, view, "10.0.34.3.in-addr.arpa", dns.TypePTR), dns.RcodeSuccess, "www.example.com.")
		want(t, ask(t, d, view, "10.0.34.3.IN-ADDR.ARPA.", dns.TypePTR), dns.RcodeSuccess, "www.example.com.")
		want(t, ask(t, d, view, "20.0.34.3.in-addr.arpa", dns.TypePTR), dns.RcodeSuccess, "ec2-3-34-0-20.ap-northeast-2.compute.amazonaws.com.")
		want(t, ask(t, d, view, "30.0.34.3.in-addr.arpa", dns.TypePTR), dns.RcodeSuccess, "ec2-3-34-0-30.ap-northeast-2.compute.amazonaws.com.")
		// An address of the pool nobody holds: the pool's owner says NXDOMAIN.
		want(t, ask(t, d, view, "99.0.34.3.in-addr.arpa", dns.TypePTR), dns.RcodeNameError)
	}
	// The forward public name of web's EIP is unchanged by its reverse name.
	want(t, ask(t, d, "", "ec2-3-34-0-10.ap-northeast-2.compute.amazonaws.com", dns.TypeA), dns.RcodeSuccess, "3.34.0.10")
	want(t, ask(t, d, vpcID(n, "v"), "ec2-3-34-0-10.ap-northeast-2.compute.amazonaws.com", dns.TypeA), dns.RcodeSuccess, "10.9.2.11")

	// Live (what the daemon rebuilds after each op): reset-address-attribute
	// gives the public name back; modify sets another name; release takes
	// the PTR away.
	web, spare := eipNamed(n, "eip-web"), eipNamed(n, "eip-spare")
	web.DomainName = ""
	d = Build(n)
	want(t, ask(t, d, "", "10.0.34.3.in-addr.arpa", dns.TypePTR), dns.RcodeSuccess, "ec2-3-34-0-10.ap-northeast-2.compute.amazonaws.com.")
	spare.DomainName = "shop.example.com"
	d = Build(n)
	want(t, ask(t, d, vpcID(n, "v"), "30.0.34.3.in-addr.arpa", dns.TypePTR), dns.RcodeSuccess, "shop.example.com.")
	n.EIPs = []*topology.EIP{web, eipNamed(n, "eip-app")}
	d = Build(n)
	want(t, ask(t, d, "", "30.0.34.3.in-addr.arpa", dns.TypePTR), dns.RcodeNameError)
}

// TestDNS3_ReverseNameUSEast1: the default reverse name follows the
// region's public zone (compute-1.amazonaws.com in us-east-1).
func TestDNS3_ReverseNameUSEast1(t *testing.T) {
	topo := strings.Replace(strings.ReplaceAll(recordsTopo, "ap-northeast-2", "us-east-1"), `"address_pools": [{"name": "amz", "cidrs": ["3.34.0.0/16"]}]`,
		`"address_pools": [{"name": "amz", "cidrs": ["3.34.0.0/16"], "network_border_group": "us-east-1"}]`, 1)
	_, d := load(t, topo)
	want(t, ask(t, d, "", "30.0.34.3.in-addr.arpa", dns.TypePTR), dns.RcodeSuccess, "ec2-3-34-0-30.compute-1.amazonaws.com.")
}
