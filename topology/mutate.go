package topology

import (
	"net"
	"net/netip"
)

// Helpers for live operations: they derive ids and MACs the way Resolve
// does, and find free addresses against the running network.

// NewID derives the AWS-style id of a resource created live, from the
// topology and resource names, as Resolve does (ENI-7).
func (n *Network) NewID(prefix, name string) string { return awsID(n.Name, prefix, name) }

// NewMAC derives a MAC for a new ENI, distinct from every MAC in use.
func (n *Network) NewMAC(name string) net.HardwareAddr { return n.newMAC("eni", name) }

// usedPublic lists every public address taken: EIPs, public IPs of ENIs,
// internet hosts.
func (n *Network) usedPublic() map[netip.Addr]string {
	used := map[netip.Addr]string{}
	for _, e := range n.EIPs {
		used[e.Addr] = "eip " + e.Name
	}
	for _, h := range n.Hosts {
		used[h.IP] = "host " + h.Name
	}
	for _, v := range n.VPCs {
		for _, e := range v.ENIs {
			for _, pub := range e.PublicIPs {
				used[pub] = "eni " + e.Name
			}
		}
	}
	return used
}

// PublicInUse reports what holds public address a, or "".
func (n *Network) PublicInUse(a netip.Addr) string { return n.usedPublic()[a] }

// FreePublicIP returns the first free address of pool, skipping avoid (a
// stopped instance's old address: ADDR-4 gives a new one on start).
func (n *Network) FreePublicIP(pool *Pool, avoid netip.Addr) (netip.Addr, bool) {
	used := n.usedPublic()
	if avoid.IsValid() {
		used[avoid] = "avoid"
	}
	return firstFreePublic(pool, used)
}

// RegionPool returns the first pool of the region's border group.
func (n *Network) RegionPool() *Pool {
	for _, p := range n.Pools {
		if p.BorderGroup == n.Region && p.Kind != PoolCoIP { // a CoIP is never public (coip.go)
			return p
		}
	}
	return nil
}

// PoolOf returns the pool holding a, or nil.
func (n *Network) PoolOf(a netip.Addr) *Pool {
	for _, p := range n.Pools {
		for _, c := range p.CIDRs {
			if c.Contains(a) {
				return p
			}
		}
	}
	return nil
}

// Allocatable reports whether a can be an EIP of its pool: not the network
// or broadcast address of a pool CIDR larger than /31 (EIP-1).
func (n *Network) Allocatable(a netip.Addr) bool {
	for _, p := range n.Pools {
		for _, c := range p.CIDRs {
			if c.Contains(a) {
				return allocatableIn(c, a)
			}
		}
	}
	return false
}

// Reserved reports whether a is one of the subnet's five reserved
// addresses (ADDR-2).
func (s *Subnet) Reserved(a netip.Addr) bool { return reservedIn(s.CIDR, a) }

// PrivateInUse returns the ENI of v holding private IP a, or nil.
func (v *VPC) PrivateInUse(a netip.Addr) *ENI {
	for _, e := range v.ENIs {
		for _, ip := range e.IPs() {
			if ip == a {
				return e
			}
		}
	}
	return nil
}

// FreePrivateIP returns the first free, non-reserved address of s that is
// not one of taken (addresses chosen already for the same request).
func (s *Subnet) FreePrivateIP(taken ...netip.Addr) (netip.Addr, bool) {
	used := map[netip.Addr]string{}
	for _, a := range taken {
		used[a] = "taken"
	}
	for _, e := range s.VPC.ENIs {
		for _, ip := range e.IPs() {
			used[ip] = e.Name
		}
	}
	return firstFreePrivate(s.CIDR, used)
}

// SameMatch reports whether two security-group rules match the same
// protocol, ports or ICMP type and code: a tcp or udp rule for every port is
// the same whether it says 0-65535 or gives no ports (-1, -1).
func SameMatch(a, b SGRule) bool {
	if a.Protocol != b.Protocol {
		return false
	}
	norm := func(r SGRule) (int, int) {
		if (r.Protocol == 6 || r.Protocol == 17) && r.FromPort == -1 && r.ToPort == -1 {
			return 0, 65535
		}
		return r.FromPort, r.ToPort
	}
	af, at := norm(a)
	bf, bt := norm(b)
	return af == bf && at == bt
}

// AllowAllEgress is the rule EC2 gives a new security group: all traffic
// out to 0.0.0.0/0 (SG-1).
func AllowAllEgress() SGRule { return allowAllEgress() }
