package topology

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// What a VPC is made of, shared by the file (Resolve) and the live
// operations (CreateVpc, CreateSubnet, AssociateVpcCidrBlock): one place
// says what a new VPC holds (LIFE-2) and which CIDRs are acceptable
// (ADDR-1), so that what one accepts the other loads again.

// MaxVPCCIDRs is how many IPv4 CIDRs a VPC may have, the primary included
// (AWS's default quota "IPv4 CIDR blocks per VPC").
const MaxVPCCIDRs = 5

// CIDRs returns the VPC's IPv4 CIDRs: the primary first, then the
// secondary ones in the order they were associated.
func (v *VPC) CIDRs() []netip.Prefix {
	return append([]netip.Prefix{v.CIDR}, v.SecondaryCIDRs...)
}

// Covers reports whether p lies inside one of the VPC's CIDRs (ADDR-1).
func (v *VPC) Covers(p netip.Prefix) bool {
	for _, c := range v.CIDRs() {
		if covers(c, p) {
			return true
		}
	}
	return false
}

// Overlaps returns the VPC CIDR that p overlaps, if any.
func (v *VPC) Overlaps(p netip.Prefix) (netip.Prefix, bool) {
	for _, c := range v.CIDRs() {
		if c.IsValid() && c.Overlaps(p) {
			return c, true
		}
	}
	return netip.Prefix{}, false
}

// LocalRoutes returns the implicit local routes of a table of v: one per
// VPC CIDR, the primary first (RT-1).
func (v *VPC) LocalRoutes() []*Route {
	var out []*Route
	for _, c := range v.CIDRs() {
		out = append(out, &Route{Dest: c, Kind: TargetLocal, TargetName: "local"})
	}
	return out
}

// CheckVPCCIDR says what is wrong with c as a VPC CIDR (ADDR-1): /16 to
// /28, and none of the ranges that hold no unicast host address.
func CheckVPCCIDR(c netip.Prefix) error {
	if c.Bits() < 16 || c.Bits() > 28 {
		return &Error{Rule: "ADDR-1", Msg: fmt.Sprintf("vpc cidr %s must be /16 to /28", c)}
	}
	for _, f := range vpcForbidden {
		if f.Overlaps(c) {
			return &Error{Rule: "ADDR-1", Msg: fmt.Sprintf("vpc cidr %s overlaps %s, which holds no unicast host addresses", c, f)}
		}
	}
	return nil
}

// ParseCIDR parses a CIDR as the file writes it: its address must be the
// network address (10.0.0.0/16, not 10.0.0.1/16).
func ParseCIDR(s string) (netip.Prefix, error) { return parsePrefix(s) }

// CheckAZ says what is wrong with az as an availability zone of region
// (INST-1): the region's name and at least one more character.
func CheckAZ(region, az string) error {
	if az == "" {
		return &Error{Rule: "INST-1", Msg: "availability zone is required"}
	}
	if !strings.HasPrefix(az, region) || len(az) == len(region) {
		return &Error{Rule: "INST-1", Msg: fmt.Sprintf("availability zone %q is not in region %q", az, region)}
	}
	return nil
}

// Kinds of the resources of this file that live operations name.
const (
	KindVPC    = kindVPC
	KindSubnet = kindSubnet
	KindIGW    = kindIGW
)

// NewVPC makes VPC name with primary CIDR c and what every VPC has from
// its start (LIFE-2): its default security group (SG-7), default network
// ACL (NACL-3) and main route table holding the local route (RT-1). The
// ids are those Resolve derives for a VPC of the file that names none of
// them, so an exported network loads with the same ids. DNS support is on,
// DNS hostnames off, as for a VPC CreateVpc makes (DNS-1, DNS-2).
func (n *Network) NewVPC(name string, c netip.Prefix) *VPC {
	v := &VPC{Name: name, ID: awsID(n.Name, "vpc", name), CIDR: c, DNSSupport: true, DHCPOptions: n.DefaultDHCPOptions()}
	v.DefaultSG = newDefaultSG(n.Name, v)
	v.SGs = []*SecurityGroup{v.DefaultSG}
	v.DefaultNACL = newDefaultNACL(n.Name, v)
	v.NACLs = []*NACL{v.DefaultNACL}
	v.MainRT = newMainRT(n.Name, v)
	v.RouteTables = []*RouteTable{v.MainRT}
	return v
}

// newDefaultSG is v's default group: all inbound from its own members, all
// outbound (SG-7).
func newDefaultSG(topo string, v *VPC) *SecurityGroup {
	def := &SecurityGroup{Name: "default", ID: awsID(topo, "sg", "default\x00"+v.Name), Description: defaultSGDescription, VPC: v}
	def.Ingress = []SGRule{defaultSGIngress(def)}
	def.Egress = []SGRule{allowAllEgress()}
	return def
}

// newDefaultNACL is v's default NACL: rule 100 allows all, both ways
// (NACL-3).
func newDefaultNACL(topo string, v *VPC) *NACL {
	all := defaultNACLRule()
	return &NACL{Name: "default", ID: awsID(topo, "acl", "default\x00"+v.Name), Default: true,
		Ingress: []NACLRule{all}, Egress: []NACLRule{all}}
}

// newMainRT is the main table v has when the file names none: only the
// local routes (RT-1).
func newMainRT(topo string, v *VPC) *RouteTable {
	return &RouteTable{Name: "main", ID: awsID(topo, "rtb", "main\x00"+v.Name), Main: true, Routes: v.LocalRoutes()}
}

// NewSubnet makes subnet name of v, with the VPC's main route table (RT-1)
// and default NACL (NACL-3), and a router MAC distinct from every MAC in
// use (ADDR-3). The caller has checked the CIDR and the AZ.
func (n *Network) NewSubnet(v *VPC, name string, c netip.Prefix, az string) *Subnet {
	return &Subnet{Name: name, ID: awsID(n.Name, "subnet", name), CIDR: c, AZ: az, VPC: v,
		RouteTable: v.MainRT, NACL: v.DefaultNACL, RouterMAC: n.newMAC("router", name)}
}

// NewIGW makes internet gateway name (IGW-1), attached to nothing.
func (n *Network) NewIGW(name string) *IGW {
	return &IGW{Name: name, ID: awsID(n.Name, "igw", name)}
}

// usedMACs lists every MAC in use: hosts, subnet routers, ENIs.
func (n *Network) usedMACs() map[string]bool {
	used := map[string]bool{}
	for _, h := range append(n.OnPremHosts(), n.Hosts...) {
		used[h.MAC.String()] = true
	}
	for _, v := range n.VPCs {
		for _, s := range v.Subnets {
			used[s.RouterMAC.String()] = true
		}
		for _, e := range v.ENIs {
			used[e.MAC.String()] = true
		}
	}
	return used
}

// newMAC derives the MAC of a new resource of kind ("eni", "router") as
// Resolve would, distinct from every MAC in use.
func (n *Network) newMAC(kind, name string) net.HardwareAddr {
	used := n.usedMACs()
	for attempt := 0; ; attempt++ {
		if m := macFor(n.Name, kind, name, attempt); !used[m.String()] {
			return m
		}
	}
}

// IGWTarget reports whether route r of a table of v goes to v's internet
// gateway: it names the gateway attached to v. A route to a gateway since
// detached (or deleted) is a blackhole (RT-3) until that gateway is
// attached again.
func (v *VPC) IGWTarget(r *Route) bool {
	return r.Kind == TargetIGW && v.IGW != nil && v.IGW.Name == r.TargetName
}

// VPCsOverlap reports whether a CIDR of a overlaps a CIDR of b: such VPCs
// cannot be peered.
func VPCsOverlap(a, b *VPC) bool {
	for _, c := range b.CIDRs() {
		if _, ok := a.Overlaps(c); ok {
			return true
		}
	}
	return false
}
