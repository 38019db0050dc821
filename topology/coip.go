package topology

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
)

// Customer-owned IPs (CoIP) as AWS Outposts have them. A subnet on an
// Outpost carries its outpost_arn; the Outpost's local gateway, declared at
// the top of topo.json, is a route target (lgw-…) toward the on-premises
// network; a pool of kind coip holds customer-owned addresses, which only
// an ENI in an Outpost subnet may hold, and which never leave through an
// internet gateway (they are not public IPs: ENI.PublicIPs never holds
// one; the EIP's ENI and PrivateIP say where it is).
//
//	"local_gateways": [{"name": "lgw", "outpost_arn": "arn:aws:outposts:…:outpost/op-…", "coip_pools": ["coip"]}]

// PoolCoIP is the kind of a customer-owned address pool.
const PoolCoIP = "coip"

// kindLGW and kindOnPrem name a local gateway and an on-premises host in
// the file's names.
const (
	kindLGW    = "local gateway"
	kindOnPrem = "on-premises host"
)

// LocalGatewaySpec is an Outpost's local gateway.
type LocalGatewaySpec struct {
	Name       string   `json:"name"`
	OutpostArn string   `json:"outpost_arn"`
	CoIPPools  []string `json:"coip_pools,omitempty"` // pools of kind coip whose addresses it translates
	// OnPremises are the hosts of the on-premises network behind it
	// (COIP-4), each a namespace <topology>-<name> like an internet host.
	OnPremises []HostSpec `json:"on_premises,omitempty"`
}

// LocalGateway is an Outpost's local gateway (a route target, lgw-…).
type LocalGateway struct {
	Name       string
	ID         string // lgw-…
	OutpostArn string
	Pools      []*Pool // its CoIP pools
	OnPrem     []*Host // the on-premises hosts behind it (COIP-4)
}

// IsCoIP reports whether e is a customer-owned address.
func (e *EIP) IsCoIP() bool { return e.Pool != nil && e.Pool.Kind == PoolCoIP }

var outpostArnRE = regexp.MustCompile(`^arn:aws:outposts:([a-z0-9-]+):[0-9]{12}:outpost/op-[0-9a-f]{17}$`)

// CheckOutpostArn says what is wrong with arn as an Outpost of region.
func CheckOutpostArn(arn, region string) error {
	m := outpostArnRE.FindStringSubmatch(arn)
	if m == nil {
		return fmt.Errorf("%q is not an Outpost ARN (arn:aws:outposts:<region>:<account>:outpost/op-<17 hex digits>)", arn)
	}
	if m[1] != region {
		return fmt.Errorf("Outpost %s is in region %s, not %s", arn, m[1], region)
	}
	return nil
}

// subnetOutpost puts s on the Outpost of arn ("" for none).
func (r *resolver) subnetOutpost(path string, s *Subnet, arn string) {
	if arn == "" {
		return
	}
	if err := CheckOutpostArn(arn, r.n.Region); err != nil && !r.badRegion {
		r.errf(path+".outpost_arn", "COIP-1", "%v", err)
		return
	}
	s.OutpostArn = arn
}

// resolveLocalGateways resolves the local gateways, after the pools.
func (r *resolver) resolveLocalGateways() {
	for i, ls := range r.t.LocalGateways {
		path := fmt.Sprintf("local_gateways[%d]", i)
		g := &LocalGateway{Name: ls.Name, ID: r.id("lgw", ls.Name), OutpostArn: ls.OutpostArn}
		r.register(path+".name", ls.Name, kindLGW, nil, g)
		if err := CheckOutpostArn(ls.OutpostArn, r.n.Region); err != nil && !r.badRegion {
			r.errf(path+".outpost_arn", "COIP-1", "%v", err)
		}
		for j, name := range ls.CoIPPools {
			p := r.pools[name]
			switch {
			case p == nil:
				r.errf(fmt.Sprintf("%s.coip_pools[%d]", path, j), "COIP-1", "address pool %q not found", name)
			case p.Kind != PoolCoIP:
				r.errf(fmt.Sprintf("%s.coip_pools[%d]", path, j), "COIP-1", "address pool %q is of kind %s, not coip", name, p.Kind)
			default:
				g.Pools = append(g.Pools, p)
			}
		}
		for j, hs := range ls.OnPremises {
			hp := fmt.Sprintf("%s.on_premises[%d]", path, j)
			h := &Host{Name: hs.Name, Namespace: r.t.Name + "-" + hs.Name, UserData: hs.UserData}
			r.userData(hp+".user_data", hs.UserData)
			r.register(hp+".name", hs.Name, kindOnPrem, nil, h)
			ip, err := parseAddr(hs.IP)
			switch {
			case err != nil:
				r.errf(hp+".ip", RuleFormat, "%v", err)
			case !ip.IsGlobalUnicast():
				r.errf(hp+".ip", "COIP-4", "on-premises host address %s is not a unicast address", ip)
			default:
				h.IP = ip
			}
			g.OnPrem = append(g.OnPrem, h)
		}
		r.n.LocalGateways = append(r.n.LocalGateways, g)
	}
}

// checkOnPremises checks the on-premises hosts' addresses once the VPCs are
// resolved (COIP-4): unique among them, in no VPC's CIDR (the VPC's local
// route would shadow them) and in no customer-owned pool (those addresses
// stand for Outpost instances on the on-premises side).
func (r *resolver) checkOnPremises() {
	seen := map[netip.Addr]string{}
	for i, g := range r.n.LocalGateways {
		for j, h := range g.OnPrem {
			if !h.IP.IsValid() {
				continue
			}
			path := fmt.Sprintf("local_gateways[%d].on_premises[%d].ip", i, j)
			if prev, ok := seen[h.IP]; ok {
				r.errf(path, "COIP-4", "address %s is already used by on-premises host %q", h.IP, prev)
				continue
			}
			seen[h.IP] = h.Name
			for _, v := range r.n.VPCs {
				if c, in := v.Overlaps(netip.PrefixFrom(h.IP, 32)); in {
					r.errf(path, "COIP-4", "on-premises host address %s is in cidr %s of vpc %q: the on-premises network must not overlap the VPCs", h.IP, c, v.Name)
				}
			}
			for _, p := range r.n.Pools {
				if p.Kind != PoolCoIP {
					continue
				}
				for _, c := range p.CIDRs {
					if c.Contains(h.IP) {
						r.errf(path, "COIP-4", "on-premises host address %s is in customer-owned pool %q (%s), whose addresses stand for Outpost instances", h.IP, p.Name, c)
					}
				}
			}
		}
	}
}

// OnPremHosts are the on-premises hosts behind every local gateway.
func (n *Network) OnPremHosts() []*Host {
	var out []*Host
	for _, g := range n.LocalGateways {
		out = append(out, g.OnPrem...)
	}
	return out
}

// CoIPNames are the names of the local gateways and the on-premises hosts,
// in the topology's one namespace of names.
func (n *Network) CoIPNames() []string {
	var out []string
	for _, g := range n.LocalGateways {
		out = append(out, g.Name)
		for _, h := range g.OnPrem {
			out = append(out, h.Name)
		}
	}
	return out
}

// lgwTarget: a route to a local gateway, from a VPC with a subnet on its
// Outpost.
func (r *resolver) lgwTarget(path string, route *Route, g *LocalGateway, v *VPC) (*Route, bool) {
	if !slices.ContainsFunc(v.Subnets, func(s *Subnet) bool { return s.OutpostArn == g.OutpostArn }) {
		r.errf(path, "COIP-2", "local gateway %q is on Outpost %s, where vpc %q has no subnet", g.Name, g.OutpostArn, v.Name)
		return nil, false
	}
	route.Kind, route.LGW = TargetLGW, g
	return route, true
}

// CoIPProblem says why customer-owned address e cannot be associated with
// eni ("" when it can): only an ENI in a subnet on an Outpost whose local
// gateway has e's pool (or, with no local gateway naming the pool, on any
// Outpost).
func (n *Network) CoIPProblem(e *EIP, eni *ENI) string {
	s := eni.Subnet
	if s == nil || s.OutpostArn == "" {
		return fmt.Sprintf("customer-owned address %s can only be associated with a network interface in a subnet on an Outpost; %s is not", e.Addr, eni.ID)
	}
	named := false
	for _, g := range n.LocalGateways {
		if slices.Contains(g.Pools, e.Pool) {
			named = true
			if g.OutpostArn == s.OutpostArn {
				return ""
			}
		}
	}
	if named {
		return fmt.Sprintf("customer-owned address %s belongs to the local gateway of another Outpost than %s's (%s)", e.Addr, eni.ID, s.OutpostArn)
	}
	return ""
}

// associateCoIP binds customer-owned e to ip of eni in the file: not a
// public IP (no internet gateway translates it). It reports whether e is a
// CoIP (and so was handled).
func (r *resolver) associateCoIP(path string, e *EIP, eni *ENI, ip netip.Addr) bool {
	if !e.IsCoIP() {
		return false
	}
	if msg := r.n.CoIPProblem(e, eni); msg != "" {
		r.errf(path, "COIP-3", "%s", msg)
		return true
	}
	e.ENI, e.PrivateIP = eni, ip
	return true
}

// exportCoIPTarget is how customer-owned e names its target in the file:
// the instance for an eth0, else the network interface (and the private IP).
func exportCoIPTarget(es *EIPSpec, e *EIP) {
	es.NetworkInterface, es.PrivateIP = e.ENI.Name, e.PrivateIP.String()
	if e.ENI.DeviceIndex == 0 && e.ENI.Instance != nil {
		es.NetworkInterface, es.Instance = "", e.ENI.Instance.Name
	}
}

// exportLocalGateways writes the local gateways back.
func exportLocalGateways(n *Network) []LocalGatewaySpec {
	var out []LocalGatewaySpec
	for _, g := range n.LocalGateways {
		ls := LocalGatewaySpec{Name: g.Name, OutpostArn: g.OutpostArn}
		for _, p := range g.Pools {
			ls.CoIPPools = append(ls.CoIPPools, p.Name)
		}
		for _, h := range g.OnPrem {
			ls.OnPremises = append(ls.OnPremises, HostSpec{Name: h.Name, IP: h.IP.String(), UserData: h.UserData})
		}
		out = append(out, ls)
	}
	return out
}

// LocalGatewayByRef is the local gateway of id or name, or nil.
func (n *Network) LocalGatewayByRef(ref string) *LocalGateway {
	for _, g := range n.LocalGateways {
		if g.ID == ref || g.Name == ref {
			return g
		}
	}
	return nil
}

// OnPremIn is the on-premises host whose address is in c, or nil: a VPC
// CIDR must not cover one (COIP-4).
func (n *Network) OnPremIn(c netip.Prefix) *Host {
	for _, h := range n.OnPremHosts() {
		if c.Contains(h.IP) {
			return h
		}
	}
	return nil
}
