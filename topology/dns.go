package topology

import (
	"net/netip"
	"strings"
)

// The Amazon DNS server's facts (DNS-1, DNS-2, SG-8): its addresses and the
// names EC2 gives addresses. describe-* answers and the DNS server (dns/)
// both take names from here, so they never disagree.

// LinkLocalDNS is the Amazon DNS server's link-local address in every VPC
// (DNS-1); LinkLocalIMDS is the instance metadata service's; LinkLocalNTP
// the Amazon Time Sync Service's (NTP, UDP 123). Security groups and NACLs
// never filter traffic to any of them (SG-8).
var (
	LinkLocalDNS  = netip.MustParseAddr("169.254.169.253")
	LinkLocalIMDS = netip.MustParseAddr("169.254.169.254")
	LinkLocalNTP  = netip.MustParseAddr("169.254.169.123")
)

// DefaultPublicDNS is the address of the emulated internet's public DNS
// server: in TEST-NET-2 (RFC 5737), so it is never a real host's; like
// everything on the emulated internet it exists only in vpcnet's
// namespaces.
var DefaultPublicDNS = netip.MustParseAddr("198.51.100.53")

// DNSAddr is the VPC's Amazon DNS server: its primary CIDR's base + 2 (DNS-1).
func (v *VPC) DNSAddr() netip.Addr { return v.CIDR.Masked().Addr().Next().Next() }

// PrivateDNSZone is the domain of private names in region:
// ec2.internal in us-east-1, else <region>.compute.internal (DNS-1).
func PrivateDNSZone(region string) string {
	if region == "us-east-1" {
		return "ec2.internal"
	}
	return region + ".compute.internal"
}

// PublicDNSZone is the domain of public names in region:
// compute-1.amazonaws.com in us-east-1, else <region>.compute.amazonaws.com
// (DNS-2).
func PublicDNSZone(region string) string {
	if region == "us-east-1" {
		return "compute-1.amazonaws.com"
	}
	return region + ".compute.amazonaws.com"
}

// PrivateDNSName is a private IP's name (DNS-1): ip-10-0-1-5.ec2.internal in
// us-east-1, else ip-….<region>.compute.internal.
func PrivateDNSName(region string, a netip.Addr) string {
	return "ip-" + strings.ReplaceAll(a.String(), ".", "-") + "." + PrivateDNSZone(region)
}

// PublicDNSName is a public IP's name (DNS-2): ec2-3-34-1-1.compute-1.amazonaws.com
// in us-east-1, else ec2-….<region>.compute.amazonaws.com.
func PublicDNSName(region string, a netip.Addr) string {
	return "ec2-" + strings.ReplaceAll(a.String(), ".", "-") + "." + PublicDNSZone(region)
}

// PublicDNSAddr is the emulated public DNS server's address:
// DefaultPublicDNS, unless an internet host or an address pool of the file
// holds it, in which case the network has no public DNS (invalid address).
func (n *Network) PublicDNSAddr() netip.Addr {
	a := DefaultPublicDNS
	for _, h := range n.Hosts {
		if h.IP == a {
			return netip.Addr{}
		}
	}
	for _, p := range n.Pools {
		for _, c := range p.CIDRs {
			if c.Contains(a) {
				return netip.Addr{}
			}
		}
	}
	return a
}
