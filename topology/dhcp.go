package topology

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// DHCP options sets (DNS-4), the emulated internet's DNS records and the
// reverse DNS names of Elastic IPs (DNS-3): their topo.json forms, the
// checks that the file and the EC2 operations share, and what an instance's
// resolv.conf says.

// DHCPOptionsSpec is a DHCP options set of the file (top-level
// dhcp_options): the options of CreateDhcpOptions, each optional.
type DHCPOptionsSpec struct {
	Name               string   `json:"name"`
	DomainName         string   `json:"domain_name,omitempty"`
	DomainNameServers  []string `json:"domain_name_servers,omitempty"` // AmazonProvidedDNS or IPv4 addresses
	NTPServers         []string `json:"ntp_servers,omitempty"`
	NetBIOSNameServers []string `json:"netbios_name_servers,omitempty"`
	NetBIOSNodeType    string   `json:"netbios_node_type,omitempty"`
}

// PublicDNSRecordSpec is an A record of the emulated internet's public DNS
// (top-level public_dns_records): what a reverse DNS name of an Elastic IP
// must point back to (DNS-3).
type PublicDNSRecordSpec struct {
	Name    string `json:"name"`
	Address string `json:"address"`
}

// DHCPOptions is a DHCP options set (DNS-4). The region's default set
// (Default) is not written in the file: every network has it, and a VPC
// uses it unless the file or AssociateDhcpOptions says otherwise.
type DHCPOptions struct {
	Name               string // "" for the region's default set
	ID                 string // dopt-…
	Default            bool
	DomainName         string   // "" none; may hold several names, space-separated
	DomainNameServers  []string // AmazonProvidedDNS or IPv4 addresses, in order
	NTPServers         []netip.Addr
	NetBIOSNameServers []netip.Addr
	NetBIOSNodeType    string // "" none, else 1, 2, 4 or 8
}

// PublicRecord is one A record of the emulated public DNS (DNS-3).
type PublicRecord struct {
	Name string // lower case, no trailing dot
	Addr netip.Addr
}

// AmazonProvidedDNS is the domain-name-servers value that means the VPC's
// Amazon DNS server (its base + 2, DNS-1).
const AmazonProvidedDNS = "AmazonProvidedDNS"

// NoDHCPOptions is what a VPC's dhcp_options says for a VPC with no set (EC2's
// AssociateDhcpOptions with DhcpOptionsId "default").
const NoDHCPOptions = "none"

// The DHCP option keys of CreateDhcpOptions, in the order EC2 lists them.
const (
	DHCPDomainName         = "domain-name"
	DHCPDomainNameServers  = "domain-name-servers"
	DHCPNTPServers         = "ntp-servers"
	DHCPNetBIOSNameServers = "netbios-name-servers"
	DHCPNetBIOSNodeType    = "netbios-node-type"
)

// DHCPKeys are the keys a set may have.
var DHCPKeys = []string{DHCPDomainName, DHCPDomainNameServers, DHCPNTPServers, DHCPNetBIOSNameServers, DHCPNetBIOSNodeType}

// newDefaultDHCPOptions is the region's default set: the region's private
// domain and AmazonProvidedDNS (DNS-4).
func newDefaultDHCPOptions(topo, region string) *DHCPOptions {
	return &DHCPOptions{ID: awsID(topo, "dopt", "default\x00"), Default: true,
		DomainName: PrivateDNSZone(region), DomainNameServers: []string{AmazonProvidedDNS}}
}

// DefaultDHCPOptions is the region's default DHCP options set.
func (n *Network) DefaultDHCPOptions() *DHCPOptions {
	for _, o := range n.DHCPOptions {
		if o.Default {
			return o
		}
	}
	o := newDefaultDHCPOptions(n.Name, n.Region)
	n.DHCPOptions = append([]*DHCPOptions{o}, n.DHCPOptions...)
	return o
}

// Set checks the values of one option key and sets them (DNS-4). Values
// may also hold several items separated by commas, as EC2 takes them.
func (o *DHCPOptions) Set(key string, values []string) error {
	var vs []string
	for _, v := range values {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				vs = append(vs, p)
			}
		}
	}
	if len(vs) == 0 {
		return fmt.Errorf("option %s needs a value", key)
	}
	addrs := func() ([]netip.Addr, error) {
		if len(vs) > 4 {
			return nil, fmt.Errorf("option %s takes at most 4 addresses, not %d", key, len(vs))
		}
		var out []netip.Addr
		for _, v := range vs {
			a, err := netip.ParseAddr(v)
			if err != nil || !a.Is4() {
				return nil, fmt.Errorf("option %s: %q is not an IPv4 address", key, v)
			}
			if slices.Contains(out, a) {
				return nil, fmt.Errorf("option %s: %s is given twice", key, a)
			}
			out = append(out, a)
		}
		return out, nil
	}
	var err error
	switch key {
	case DHCPDomainName:
		if len(vs) != 1 {
			return fmt.Errorf("option %s takes one value (several names go in it, separated by spaces)", key)
		}
		for _, name := range strings.Fields(vs[0]) {
			if err := CheckDomainName(name); err != nil {
				return fmt.Errorf("option %s: %v", key, err)
			}
		}
		o.DomainName = strings.Join(strings.Fields(strings.ToLower(vs[0])), " ")
	case DHCPDomainNameServers:
		if len(vs) > 4 {
			return fmt.Errorf("option %s takes at most 4 servers, not %d", key, len(vs))
		}
		var out []string
		for _, v := range vs {
			if strings.EqualFold(v, AmazonProvidedDNS) {
				v = AmazonProvidedDNS
			} else if a, err := netip.ParseAddr(v); err != nil || !a.Is4() {
				return fmt.Errorf("option %s: %q is neither %s nor an IPv4 address", key, v, AmazonProvidedDNS)
			} else {
				v = a.String()
			}
			if slices.Contains(out, v) {
				return fmt.Errorf("option %s: %s is given twice", key, v)
			}
			out = append(out, v)
		}
		o.DomainNameServers = out
	case DHCPNTPServers:
		o.NTPServers, err = addrs()
	case DHCPNetBIOSNameServers:
		o.NetBIOSNameServers, err = addrs()
	case DHCPNetBIOSNodeType:
		if len(vs) != 1 || !slices.Contains([]string{"1", "2", "4", "8"}, vs[0]) {
			return fmt.Errorf("option %s is one of 1, 2, 4 or 8", key)
		}
		o.NetBIOSNodeType = vs[0]
	default:
		return fmt.Errorf("%q is not a DHCP option: the options are %s", key, strings.Join(DHCPKeys, ", "))
	}
	return err
}

// Options lists the set's options as key → values, in EC2's key order,
// each key that has values.
func (o *DHCPOptions) Options() [][2]any {
	var out [][2]any
	add := func(key string, vs []string) {
		if len(vs) > 0 {
			out = append(out, [2]any{key, vs})
		}
	}
	strs := func(as []netip.Addr) []string {
		var s []string
		for _, a := range as {
			s = append(s, a.String())
		}
		return s
	}
	if o.DomainName != "" {
		add(DHCPDomainName, []string{o.DomainName})
	}
	add(DHCPDomainNameServers, o.DomainNameServers)
	add(DHCPNTPServers, strs(o.NTPServers))
	add(DHCPNetBIOSNameServers, strs(o.NetBIOSNameServers))
	if o.NetBIOSNodeType != "" {
		add(DHCPNetBIOSNodeType, []string{o.NetBIOSNodeType})
	}
	return out
}

// Spec is the set as the file writes it.
func (o *DHCPOptions) Spec() DHCPOptionsSpec {
	s := DHCPOptionsSpec{Name: o.Name, DomainName: o.DomainName, DomainNameServers: slices.Clone(o.DomainNameServers),
		NetBIOSNodeType: o.NetBIOSNodeType}
	for _, a := range o.NTPServers {
		s.NTPServers = append(s.NTPServers, a.String())
	}
	for _, a := range o.NetBIOSNameServers {
		s.NetBIOSNameServers = append(s.NetBIOSNameServers, a.String())
	}
	return s
}

// CheckDomainName checks a DNS name: labels of letters, digits and
// hyphens (not at either end), at most 63 bytes each, 253 in all; a
// trailing dot is allowed.
func CheckDomainName(name string) error {
	n := strings.TrimSuffix(name, ".")
	if n == "" || len(n) > 253 {
		return fmt.Errorf("%q is not a domain name: 1 to 253 characters", name)
	}
	for _, l := range strings.Split(n, ".") {
		ok := l != "" && len(l) <= 63 && l[0] != '-' && l[len(l)-1] != '-'
		for _, c := range l {
			ok = ok && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-')
		}
		if !ok {
			return fmt.Errorf("%q is not a domain name: labels of letters, digits and hyphens, 1 to 63 characters", name)
		}
	}
	return nil
}

// CanonicalName is a DNS name as vpcnet keeps it: lower case, no trailing dot.
func CanonicalName(name string) string { return strings.ToLower(strings.TrimSuffix(name, ".")) }

// ForwardRecord reports whether the emulated public DNS has an A record of
// name pointing at a (DNS-3).
func (n *Network) ForwardRecord(name string, a netip.Addr) bool {
	name = CanonicalName(name)
	for _, r := range n.PublicRecords {
		if r.Name == name && r.Addr == a {
			return true
		}
	}
	return false
}

// ReverseName is the PTR name of an Elastic IP: its domain name when set
// (DNS-3), else the address's public name (DNS-2); with the trailing dot,
// as EC2 writes PTR records.
func (n *Network) ReverseName(e *EIP) string {
	if e.DomainName != "" {
		return e.DomainName + "."
	}
	return PublicDNSName(n.Region, e.Addr) + "."
}

// NameServers are the resolv.conf name servers of a VPC's set:
// AmazonProvidedDNS is the VPC's base + 2 (DNS-1). A VPC with no set gets
// the link-local Amazon DNS address, as a Nitro instance does.
func (v *VPC) NameServers() []netip.Addr {
	o := v.DHCPOptions
	if o == nil {
		return []netip.Addr{LinkLocalDNS}
	}
	var out []netip.Addr
	for _, s := range o.DomainNameServers {
		a := v.DNSAddr()
		if s != AmazonProvidedDNS {
			a = netip.MustParseAddr(s)
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// ResolvConf is the resolv.conf of an instance in v, from v's DHCP options
// set (DNS-4): its domain name as the search list, its name servers.
func ResolvConf(v *VPC, n *Network) string {
	var b strings.Builder
	id := "no DHCP options set"
	if v.DHCPOptions != nil {
		id = "DHCP options set " + v.DHCPOptions.ID
	}
	fmt.Fprintf(&b, "# written by vpcnet from the %s of %s (DNS-4)\n", id, v.ID)
	if o := v.DHCPOptions; o != nil && o.DomainName != "" {
		fmt.Fprintf(&b, "search %s\n", o.DomainName)
	}
	for _, a := range v.NameServers() {
		fmt.Fprintf(&b, "nameserver %s\n", a)
	}
	return b.String()
}

const kindDHCP = "DHCP options set"

// KindDHCP names a DHCP options set in messages (CheckResourceName).
const KindDHCP = kindDHCP

// resolveDHCPOptions resolves the file's DHCP options sets after the
// region's default set (DNS-4).
func (r *resolver) resolveDHCPOptions() {
	r.n.DHCPOptions = []*DHCPOptions{newDefaultDHCPOptions(r.n.Name, r.n.Region)}
	r.dhcp = map[string]*DHCPOptions{}
	for i, s := range r.t.DHCPOptions {
		path := fmt.Sprintf("dhcp_options[%d]", i)
		o := &DHCPOptions{Name: s.Name, ID: r.id("dopt", s.Name)}
		if s.Name == NoDHCPOptions {
			r.errf(path+".name", "DNS-4", "%q is what a vpc's dhcp_options says for no set: it cannot name one", s.Name)
			continue
		}
		r.register(path+".name", s.Name, kindDHCP, nil, o)
		opts := []struct {
			key string
			vs  []string
			f   string
		}{
			{DHCPDomainName, nonEmpty(s.DomainName), "domain_name"},
			{DHCPDomainNameServers, s.DomainNameServers, "domain_name_servers"},
			{DHCPNTPServers, s.NTPServers, "ntp_servers"},
			{DHCPNetBIOSNameServers, s.NetBIOSNameServers, "netbios_name_servers"},
			{DHCPNetBIOSNodeType, nonEmpty(s.NetBIOSNodeType), "netbios_node_type"},
		}
		any := false
		for _, x := range opts {
			if x.vs == nil {
				continue
			}
			any = true
			if err := o.Set(x.key, x.vs); err != nil {
				r.errf(path+"."+x.f, "DNS-4", "%v", err)
			}
		}
		if !any {
			r.errf(path, "DNS-4", "DHCP options set %q has no option", s.Name)
		}
		r.n.DHCPOptions = append(r.n.DHCPOptions, o)
		if _, dup := r.dhcp[s.Name]; !dup {
			r.dhcp[s.Name] = o
		}
	}
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// vpcDHCPOptions gives a VPC its set: the default set, none, or one of
// the file's (DNS-4).
func (r *resolver) vpcDHCPOptions(v *VPC, ref, path string) {
	switch ref {
	case "":
		v.DHCPOptions = r.n.DHCPOptions[0]
	case NoDHCPOptions:
		v.DHCPOptions = nil
	default:
		if v.DHCPOptions = r.dhcp[ref]; v.DHCPOptions == nil {
			r.errf(path, "DNS-4", "DHCP options set %q not found in dhcp_options", ref)
		}
	}
}

// resolvePublicRecords reads the emulated public DNS's records (DNS-3).
func (r *resolver) resolvePublicRecords() {
	seen := map[PublicRecord]string{}
	for i, s := range r.t.PublicDNSRecords {
		path := fmt.Sprintf("public_dns_records[%d]", i)
		if err := CheckDomainName(s.Name); err != nil {
			r.errf(path+".name", "DNS-3", "%v", err)
			continue
		}
		a, err := netip.ParseAddr(s.Address)
		if err != nil || !a.Is4() {
			r.errf(path+".address", "DNS-3", "%q is not an IPv4 address", s.Address)
			continue
		}
		rec := PublicRecord{Name: CanonicalName(s.Name), Addr: a}
		if prev, dup := seen[rec]; dup {
			r.errf(path, "DNS-3", "record %s → %s is given twice (first at %s)", rec.Name, a, prev)
			continue
		}
		seen[rec] = path
		r.n.PublicRecords = append(r.n.PublicRecords, rec)
	}
}

// eipDomainNames sets the reverse DNS names of the file's Elastic IPs: only
// where a forward record points at the address (DNS-3).
func (r *resolver) eipDomainNames() {
	for i, es := range r.t.ElasticIPs {
		if es.DomainName == "" || i >= len(r.n.EIPs) {
			continue
		}
		path := fmt.Sprintf("elastic_ips[%d].domain_name", i)
		e := r.n.EIPs[i]
		if err := CheckDomainName(es.DomainName); err != nil {
			r.errf(path, "DNS-3", "%v", err)
			continue
		}
		if !e.Addr.IsValid() {
			continue // its address is in error already
		}
		if !r.n.ForwardRecord(es.DomainName, e.Addr) {
			r.errf(path, "DNS-3", "no record of public_dns_records points %s at %s: a reverse DNS name needs its forward record first",
				CanonicalName(es.DomainName), e.Addr)
			continue
		}
		e.DomainName = CanonicalName(es.DomainName)
	}
}

// exportDNS writes the sets, records and VPC associations back (DNS-3, DNS-4).
func exportDNS(n *Network, t *Topology) {
	for _, o := range n.DHCPOptions {
		if !o.Default {
			t.DHCPOptions = append(t.DHCPOptions, o.Spec())
		}
	}
	for _, rec := range n.PublicRecords {
		t.PublicDNSRecords = append(t.PublicDNSRecords, PublicDNSRecordSpec{Name: rec.Name, Address: rec.Addr.String()})
	}
	for i := range t.VPCs {
		if i < len(n.VPCs) {
			switch o := n.VPCs[i].DHCPOptions; {
			case o == nil:
				t.VPCs[i].DHCPOptions = NoDHCPOptions
			case !o.Default:
				t.VPCs[i].DHCPOptions = o.Name
			}
		}
	}
	for i := range t.ElasticIPs {
		if i < len(n.EIPs) {
			t.ElasticIPs[i].DomainName = n.EIPs[i].DomainName
		}
	}
}
