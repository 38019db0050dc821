// Package vpcdns is the Amazon DNS server of every VPC (DNS-1, DNS-2) and
// the emulated internet's public DNS, on github.com/miekg/dns.
//
// Data is an immutable snapshot of every name, built from the network
// (Build) and swapped whole after each change (Server.Update). A VPC's view
// holds the names only its resolver knows: ip-a-b-c-d.<region>.compute.internal
// of each private IP with its PTR, and, with enableDnsHostnames, each public
// name ec2-a-b-c-d.<region>.compute.amazonaws.com pointing at the PRIVATE IP
// (split horizon, DNS-2). The public view is the emulated internet's DNS:
// each public name to its public IP, PTRs of public IPs, and the names of
// internet hosts (<host>.internet), the file's public_dns_records, and
// each Elastic IP's PTR: its reverse name (DNS-3). A VPC's resolver answers a name it does
// not own from the public view, as Route 53 Resolver recurses to the
// internet; this happens inside the daemon, so, as on AWS, a VPC with no
// internet gateway still resolves public names.
//
// Answers are as Route 53 Resolver gives them: a recursive resolver's flags
// (RA set, AA clear), TTL 60, NXDOMAIN with the zone's SOA for an unknown
// name of a zone it owns, NOERROR with no answer (NODATA) for a known name
// and another type.
package vpcdns

import (
	"net/netip"
	"strings"

	"github.com/miekg/dns"
	"github.com/vpcnet/vpcnet/topology"
)

// TTL is the time to live of every answer (Route 53 Resolver's for EC2 names).
const TTL = 60

// InternetZone is the domain of the internet hosts' names: <host>.internet.
const InternetZone = "internet."

// view is one horizon's names. Names are lower-case and fully qualified.
type view struct {
	a     map[string][]netip.Addr
	ptr   map[string]string // reverse name (…in-addr.arpa.) → name
	zones []string          // zones it owns: an unknown name there is NXDOMAIN
	rev   []netip.Prefix    // address ranges whose PTRs it owns
	on    bool              // enableDnsSupport: off, it answers nothing (DNS-1)
}

func newView() *view {
	return &view{a: map[string][]netip.Addr{}, ptr: map[string]string{}, on: true}
}

func (v *view) add(name string, a netip.Addr) {
	name = strings.ToLower(dns.Fqdn(name))
	for _, x := range v.a[name] {
		if x == a {
			return
		}
	}
	v.a[name] = append(v.a[name], a)
}

func (v *view) addPTR(a netip.Addr, name string) {
	r, err := dns.ReverseAddr(a.String())
	if err != nil {
		return
	}
	if _, ok := v.ptr[r]; !ok {
		v.ptr[r] = strings.ToLower(dns.Fqdn(name))
	}
}

// setPTR makes name the PTR of a, replacing any.
func (v *view) setPTR(a netip.Addr, name string) {
	if r, err := dns.ReverseAddr(a.String()); err == nil {
		v.ptr[r] = strings.ToLower(dns.Fqdn(name))
	}
}

// Data is every view of a network: one per VPC (by VPC id) and the public one.
type Data struct {
	vpcs   map[string]*view
	public *view
	soa    map[string]*dns.SOA // by zone
}

// Build reads n's names. Call it with n's lock held; the result shares
// nothing with n.
func Build(n *topology.Network) *Data {
	d := &Data{vpcs: map[string]*view{}, public: newView(), soa: map[string]*dns.SOA{}}
	priv, pubZone := topology.PrivateDNSZone(n.Region)+".", topology.PublicDNSZone(n.Region)+"."
	pub := d.public
	pub.zones = []string{pubZone, InternetZone}
	for _, z := range []string{priv, pubZone, InternetZone, "in-addr.arpa."} {
		d.soa[z] = soaOf(z)
	}
	for _, h := range n.Hosts {
		pub.add(h.Name+"."+InternetZone, h.IP)
		pub.addPTR(h.IP, h.Name+"."+InternetZone)
	}
	if a := n.PublicDNSAddr(); a.IsValid() {
		pub.add("dns."+InternetZone, a)
		pub.addPTR(a, "dns."+InternetZone)
	}
	for _, p := range n.Pools {
		pub.rev = append(pub.rev, p.CIDRs...)
	}
	for _, v := range n.VPCs {
		pv := newView()
		pv.on = v.DNSSupport
		pv.zones = []string{priv}
		pv.rev = append([]netip.Prefix{v.CIDR}, v.SecondaryCIDRs...)
		for _, e := range v.ENIs {
			for _, ip := range e.IPs() {
				name := topology.PrivateDNSName(n.Region, ip)
				pv.add(name, ip)
				pv.addPTR(ip, name)
			}
			// DNS-2: public names exist with both attributes on (as
			// describe-* shows them); inside the VPC they answer the
			// private IP, outside the public one.
			if !v.DNSSupport || !v.DNSHostnames {
				continue
			}
			for privIP, pubIP := range e.PublicIPs {
				name := topology.PublicDNSName(n.Region, pubIP)
				pv.add(name, privIP)
				pub.add(name, pubIP)
				pub.addPTR(pubIP, name)
			}
		}
		d.vpcs[v.ID] = pv
	}
	// DNS-3: the file's records (public_dns_records), and the PTR of each
	// Elastic IP's address: its reverse name (domain name when set, else
	// its public name), whether or not it is associated, as EC2 shows it
	// in describe-addresses-attribute. It overrides the public name the
	// loop above gave an associated EIP's address.
	for _, rec := range n.PublicRecords {
		pub.add(rec.Name, rec.Addr)
	}
	for _, e := range n.EIPs {
		if e.IsCoIP() && e.DomainName == "" {
			continue // customer-owned (COIP): not Amazon's to name
		}
		if e.Addr.IsValid() && e.Addr.Is4() {
			pub.setPTR(e.Addr, n.ReverseName(e))
		}
	}
	return d
}

// soaFor is the SOA of the zone name is in, or nil.
func (d *Data) soaFor(name string) *dns.SOA {
	for z, soa := range d.soa {
		if dns.IsSubDomain(z, name) {
			return soa
		}
	}
	return nil
}

func soaOf(zone string) *dns.SOA {
	return &dns.SOA{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: TTL},
		Ns: "ns." + zone, Mbox: "hostmaster." + zone, Serial: 1, Refresh: 7200, Retry: 900, Expire: 1209600, Minttl: TTL}
}

// owner is the zone of name that v owns, or "".
func (v *view) owner(name string) string {
	for _, z := range v.zones {
		if dns.IsSubDomain(z, name) {
			return z
		}
	}
	if strings.HasSuffix(name, ".in-addr.arpa.") {
		if a, ok := reverseToAddr(name); ok {
			for _, p := range v.rev {
				if p.Contains(a) {
					return "in-addr.arpa."
				}
			}
		}
	}
	return ""
}

// reverseToAddr reads d.c.b.a.in-addr.arpa. as a.b.c.d.
func reverseToAddr(name string) (netip.Addr, bool) {
	labels := dns.SplitDomainName(strings.TrimSuffix(name, ".in-addr.arpa."))
	if len(labels) != 4 {
		return netip.Addr{}, false
	}
	var b [4]byte
	for i, l := range labels {
		if len(l) == 0 || len(l) > 3 || (len(l) > 1 && l[0] == '0') {
			return netip.Addr{}, false
		}
		n := 0
		for _, c := range l {
			if c < '0' || c > '9' {
				return netip.Addr{}, false
			}
			n = n*10 + int(c-'0')
		}
		if n > 255 {
			return netip.Addr{}, false
		}
		b[3-i] = byte(n)
	}
	return netip.AddrFrom4(b), true
}

// result is what a view says of a question.
type result struct {
	rcode  int
	answer []dns.RR
	soa    *dns.SOA // negative answers carry the zone's SOA
	known  bool     // the view owns the name (or knows it): no recursion
}

// lookup answers q from v alone.
func (d *Data) lookup(v *view, q dns.Question) result {
	name := strings.ToLower(q.Name)
	addrs, hasA := v.a[name]
	target, hasPTR := v.ptr[name]
	zone := v.owner(name)
	if !hasA && !hasPTR {
		if zone == "" {
			return result{}
		}
		return result{rcode: dns.RcodeNameError, soa: d.soa[zone], known: true}
	}
	r := result{rcode: dns.RcodeSuccess, known: true}
	hdr := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: q.Name, Rrtype: t, Class: dns.ClassINET, Ttl: TTL}
	}
	switch {
	case hasA && (q.Qtype == dns.TypeA || q.Qtype == dns.TypeANY):
		for _, a := range addrs {
			r.answer = append(r.answer, &dns.A{Hdr: hdr(dns.TypeA), A: a.AsSlice()})
		}
	case hasPTR && (q.Qtype == dns.TypePTR || q.Qtype == dns.TypeANY):
		r.answer = append(r.answer, &dns.PTR{Hdr: hdr(dns.TypePTR), Ptr: target})
	default:
		r.soa = d.soaFor(name) // NODATA
	}
	return r
}

// Answer answers request req in the view of VPC vpcID ("" for the public
// DNS), or returns nil when nothing must be sent: DNS support is off, or
// the VPC is gone. It never fails on what a client sent (FuzzAnswer).
func (d *Data) Answer(vpcID string, req *dns.Msg) *dns.Msg {
	v := d.public
	if vpcID != "" {
		v = d.vpcs[vpcID]
		if v == nil || !v.on {
			return nil
		}
	}
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative, m.RecursionAvailable = false, true
	m.Compress = true
	if req.Opcode != dns.OpcodeQuery {
		m.SetRcode(req, dns.RcodeNotImplemented)
		return m
	}
	if len(req.Question) != 1 {
		m.SetRcode(req, dns.RcodeFormatError)
		return m
	}
	q := req.Question[0]
	if q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY {
		m.SetRcode(req, dns.RcodeRefused)
		return m
	}
	if q.Qtype == dns.TypeAXFR || q.Qtype == dns.TypeIXFR {
		m.SetRcode(req, dns.RcodeRefused)
		return m
	}
	r := d.lookup(v, q)
	if !r.known && v != d.public {
		r = d.lookup(d.public, q) // recursion (Route 53 Resolver forwards to the internet)
	}
	if !r.known {
		// Nobody on the emulated internet has it.
		r = result{rcode: dns.RcodeNameError}
	}
	m.Rcode = r.rcode
	m.Answer = r.answer
	if r.soa != nil {
		m.Ns = []dns.RR{r.soa}
	}
	if o := req.IsEdns0(); o != nil {
		m.SetEdns0(maxUDP, false)
	}
	return m
}

// maxUDP is the largest UDP answer sent to an EDNS client; without EDNS
// it is 512 bytes (RFC 1035).
const maxUDP = 1232
