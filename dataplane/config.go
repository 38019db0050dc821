package dataplane

import (
	"net/netip"
	"sort"
	"sync/atomic"

	"github.com/vpcnet/vpcnet/dataplane/policy"
	"github.com/vpcnet/vpcnet/nat"
	"github.com/vpcnet/vpcnet/topology"
)

// config is an immutable snapshot of the forwarding tables, compiled from a
// topology.Network. Workers load it once per batch; a change builds a new
// one and swaps it in (Forwarder.Apply). State that must outlive a swap
// (counters, connection tracking, NAT mappings, ports) lives in eniState,
// hostState and natState, which snapshots point at.
type config struct {
	enis        []*eniCfg
	eniByID     map[string]*eniCfg
	vpcs        []*vpcCfg
	hosts       map[netip.Addr]*hostCfg
	hostByName  map[string]*hostCfg
	svcByID     map[string]*svcCfg     // VPC service ports by port id (services.go)
	publicOwner map[netip.Addr]*vpcCfg // which VPC's IGW owns a public address
	pools       []netip.Prefix         // AWS's public address space (ADDR-5): no host there, only IGWs
	internetMAC [6]byte
	// tunnels are the ways to other machines by port id (tunnel.go);
	// nil on a single machine.
	tunnels         map[string]*tunnelCfg
	internetTunnels map[*peerState]*tunnelCfg
}

func (c *config) countersOf(id string) *counters {
	if e := c.eniByID[id]; e != nil {
		return &e.st.ctr
	}
	if h := c.hostByName[id]; h != nil {
		return h.ctr
	}
	if s := c.svcByID[id]; s != nil {
		return s.ctr
	}
	if t := c.tunnels[id]; t != nil {
		return &t.peer.ctr
	}
	return nil
}

type vpcCfg struct {
	name, id string
	cidr     netip.Prefix
	byIP     map[netip.Addr]*eniCfg
	byMAC    map[[6]byte]*eniCfg // for frames from other machines (tunnel.go)
	vni      uint32              // its VNI between machines (tunnel.go)
	igw      *igwCfg
	svc      *svcCfg // its service port (services.go); set by compile
}

// igwCfg is a VPC's internet gateway: its 1:1 NAT table (IGW-1).
type igwCfg struct {
	id      string
	public  map[netip.Addr]netip.Addr // private → public
	private map[netip.Addr]netip.Addr // public → private
}

type subnetCfg struct {
	name, id string
	rtb      string // its route table's id (RT-1: its own or the main one), for path analysis

	prefix    netip.Prefix
	router    netip.Addr
	routerMAC [6]byte
	vpc       *vpcCfg
	routes    []routeCfg // longest prefix first; local first among equals (RT-2)
	nacl      *naclCfg
}

type naclCfg struct {
	id  string
	acl *policy.ACL
}

type routeKind uint8

const (
	routeLocal routeKind = iota
	routeIGW
	routeNAT
	routeENI
	routePeering
	routeBlackhole
	routeLGW // an Outpost's local gateway (lgw.go, COIP-5)
)

type routeCfg struct {
	dst  netip.Prefix
	kind routeKind
	eni  *eniCfg
	nat  *natCfg
	peer *vpcCfg
	lgw  *lgwCfg // routeLGW: nil from a subnet not on the gateway's Outpost
}

// lookup is the longest prefix match of RT-2. Tables are short (AWS allows 50
// routes by default), so a scan of the sorted slice is both simplest and
// fastest; it allocates nothing.
func (s *subnetCfg) lookup(dst netip.Addr) *routeCfg {
	for i := range s.routes {
		if s.routes[i].dst.Contains(dst) {
			return &s.routes[i]
		}
	}
	return nil
}

// nextHop is the VPC router's decision for a frame to dst leaving subnet s:
// within the subnet, direct (RT-5); else the longest prefix match (RT-2).
// It returns the receiving ENI, or igw for the internet gateway, or the
// reason the router drops the frame (RT-3, RT-6), and the route it used
// (nil within the subnet or when none matches). The forwarder (route) and
// path analysis (pathWalk.route) both decide by it.
func (s *subnetCfg) nextHop(dst netip.Addr) (to *eniCfg, igw bool, drop dropReason, r *routeCfg) {
	if s.prefix.Contains(dst) {
		if to = s.vpc.byIP[dst]; to == nil {
			return nil, false, dropNoENI, nil
		}
		return to, false, dropNone, nil
	}
	if r = s.lookup(dst); r == nil {
		return nil, false, dropNoRoute, nil
	}
	switch r.kind {
	case routeLocal:
		to = s.vpc.byIP[dst]
	case routeENI:
		to = r.eni
	case routeNAT:
		to = r.nat.eni
	case routePeering:
		// PEER-2, PEER-3: only an active peering, only to an ENI of the
		// peer VPC itself (not transitive: not its gateways or peers).
		if r.peer == nil {
			return nil, false, dropPeering, r
		}
		if to = r.peer.byIP[dst]; to == nil {
			return nil, false, dropPeering, r
		}
	case routeIGW:
		return nil, true, dropNone, r
	case routeLGW: // COIP-5: the caller sends it through r.lgw
		if r.lgw == nil {
			return nil, false, dropLGWOffOutpost, r
		}
		return nil, false, dropNone, r
	default: // blackhole, or a target that was deleted
		return nil, false, dropBlackhole, r
	}
	if to == nil {
		return nil, false, dropNoENI, r
	}
	return to, false, dropNone, r
}

// eniState is what an ENI keeps across config swaps.
type eniState struct {
	ctr     counters
	tracker *policy.Tracker
	// flowLogSkipped counts flows the window's tables had no room for
	// (OBS-1 SKIPDATA).
	flowLogSkipped atomic.Uint64
}

type eniCfg struct {
	name, id    string
	vpc         *vpcCfg
	subnet      *subnetCfg
	mac         [6]byte
	ips         []netip.Addr
	srcDstCheck bool
	groupNames  string // "sg-…,sg-…", for drop details (OBS-2)
	st          *eniState
	port        Port // nil: not attached to a running instance, or a NAT ENI
	nat         *natCfg
	// flowLogs are the ids of CreateFlowLogs's flow logs that cover the
	// ENI; logMask the actions any flow log keeps (flowsinks.go).
	flowLogs []string
	logMask  uint8
	// mirrors are the Traffic Mirroring sessions of which it is the
	// source, lowest number first (mirror.go, TM-3).
	mirrors []*mirrorCfg
	// remote is the way to the machine that holds the ENI when that is
	// not this one (tunnel.go); nil here.
	remote *tunnelCfg
}

func (e *eniCfg) hasIP(a netip.Addr) bool {
	for _, x := range e.ips {
		if x == a {
			return true
		}
	}
	return false
}

type natCfg struct {
	id  string
	eni *eniCfg
	gw  *nat.Gateway
}

type hostCfg struct {
	name string
	ip   netip.Addr
	mac  [6]byte
	port Port
	ctr  *counters
	lgw  *lgwCfg // an on-premises host behind this local gateway; nil on the internet (lgw.go)
	// remote: the host is on another machine (tunnel.go); nil here.
	remote *tunnelCfg
}

// state is everything that outlives a config: per-ENI, per-host and per-NAT
// objects keyed by id, and the security-group registry.
type state struct {
	enis   map[string]*eniState
	hosts  map[string]*counters
	nats   map[string]*nat.Gateway
	ports  map[string]Port // ENI id or host name → port
	groups *policy.Groups
	table  *policy.Table             // bounds tracked flows of every ENI (SG-4)
	gids   map[string]policy.GroupID // sg- id → registry id
	opts   Options
	// tunnels are the Geneve ports to other machines (geneve_linux.go),
	// peers what is known of those machines (tunnel.go).
	tunnels map[TunnelKey]Port
	peers   map[string]*peerState
	// flowAll: topo.json's flow_logs is on, every ENI is logged (OBS-1).
	flowAll bool
}

func mac6(b []byte) (m [6]byte) { copy(m[:], b); return }

func rtbID(s *topology.Subnet) string {
	if s.RouteTable == nil {
		return ""
	}
	return s.RouteTable.ID
}

// compile builds a config from n, creating long-lived state on first sight.
func (st *state) compile(n *topology.Network) *config {
	c := &config{
		eniByID:     map[string]*eniCfg{},
		hosts:       map[netip.Addr]*hostCfg{},
		hostByName:  map[string]*hostCfg{},
		publicOwner: map[netip.Addr]*vpcCfg{},
		internetMAC: [6]byte{0x02, 0x00, 0x5e, 0x00, 0x00, 0x01},
	}
	for _, p := range n.Pools {
		c.pools = append(c.pools, p.CIDRs...)
	}
	for _, h := range n.Hosts {
		ctr := st.hosts[h.Name]
		if ctr == nil {
			ctr = &counters{}
			st.hosts[h.Name] = ctr
		}
		hc := &hostCfg{name: h.Name, ip: h.IP, mac: mac6(h.MAC), port: st.ports[h.Name], ctr: ctr}
		c.hosts[h.IP] = hc
		c.hostByName[h.Name] = hc
	}
	lgws := st.compileLGWs(c, n) // lgw.go
	st.compileGroups(n)
	liveLogs := n.LiveFlowLogs()
	vpcOf := map[*topology.VPC]*vpcCfg{}
	for _, v := range n.VPCs {
		vc := &vpcCfg{name: v.Name, id: v.ID, cidr: v.CIDR, byIP: map[netip.Addr]*eniCfg{}, byMAC: map[[6]byte]*eniCfg{}}
		vpcOf[v] = vc
		c.vpcs = append(c.vpcs, vc)
	}
	st.compileServices(c, n)
	for _, v := range n.VPCs {
		vc := vpcOf[v]
		subnets := map[*topology.Subnet]*subnetCfg{}
		for _, s := range v.Subnets {
			subnets[s] = &subnetCfg{name: s.Name, id: s.ID, rtb: rtbID(s), prefix: s.CIDR, router: s.Router(),
				routerMAC: mac6(s.RouterMAC), vpc: vc, nacl: st.compileNACL(s.NACL)}
		}
		enis := map[*topology.ENI]*eniCfg{}
		for _, e := range v.ENIs {
			es := st.eniState(e)
			ec := &eniCfg{name: e.Name, id: e.ID, vpc: vc, subnet: subnets[e.Subnet], mac: mac6(e.MAC),
				ips: e.IPs(), srcDstCheck: e.SourceDestCheck, st: es, groupNames: groupNames(e)}
			if e.Instance != nil {
				ec.port = st.ports[e.ID]
			}
			st.flowLogsOf(ec, e, liveLogs)
			enis[e] = ec
			c.enis = append(c.enis, ec)
			c.eniByID[e.ID] = ec
			vc.byMAC[ec.mac] = ec
			for _, ip := range ec.ips {
				vc.byIP[ip] = ec
			}
		}
		for _, g := range v.NATs {
			gw := st.nats[g.ID]
			if gw == nil {
				gw = nat.NewGateway(nat.Config{
					Addrs:             g.ENI.IPs(),
					MaxPerDestination: n.Settings.NATMaxConnectionsPerDestination,
					IdleTimeout:       int64(n.Settings.NATIdleTimeoutSeconds) * 1e9,
				})
				st.nats[g.ID] = gw
			}
			nc := &natCfg{id: g.ID, eni: enis[g.ENI], gw: gw}
			nc.eni.nat = nc
		}
		natOf := func(g *topology.NATGateway) *natCfg {
			if g == nil || enis[g.ENI] == nil {
				return nil // deleted: the route is a blackhole (RT-3)
			}
			return enis[g.ENI].nat
		}
		if v.IGW != nil {
			vc.igw = &igwCfg{id: v.IGW.ID, public: map[netip.Addr]netip.Addr{}, private: map[netip.Addr]netip.Addr{}}
			for _, e := range v.ENIs {
				for priv, pub := range e.PublicIPs {
					vc.igw.public[priv] = pub
					vc.igw.private[pub] = priv
					c.publicOwner[pub] = vc
				}
			}
		}
		for _, s := range v.Subnets {
			sc := subnets[s]
			for _, r := range s.RouteTable.Routes {
				rc := routeCfg{dst: r.Dest}
				switch r.Kind {
				case topology.TargetLocal:
					rc.kind = routeLocal
				case topology.TargetIGW:
					// IGW-3: this route, and nothing else (a public IP, an
					// attached gateway), takes a subnet's traffic to the
					// internet gateway: it is what makes the subnet public.
					rc.kind = routeIGW
				case topology.TargetNAT:
					rc.kind, rc.nat = routeNAT, natOf(r.NAT)
				case topology.TargetENI:
					rc.kind, rc.eni = routeENI, enis[r.ENI]
				case topology.TargetLGW:
					lgwRoute(&rc, s, r, lgws)
				case topology.TargetPeering:
					rc.kind = routePeering
					if p := r.Peering; p.Active() { // PEER-1: pending or deleted carries nothing
						other := p.VPCs[0]
						if other == v {
							other = p.VPCs[1]
						}
						rc.peer = vpcOf[other]
					}
				default:
					rc.kind = routeBlackhole
				}
				// RT-3: a route whose target is gone is a blackhole.
				if (rc.kind == routeENI && rc.eni == nil) || (rc.kind == routeNAT && rc.nat == nil) ||
					(rc.kind == routeIGW && !v.IGWTarget(r)) {
					rc.kind = routeBlackhole
				}
				sc.routes = append(sc.routes, rc)
			}
			sort.SliceStable(sc.routes, func(i, j int) bool {
				a, b := sc.routes[i], sc.routes[j]
				if a.dst.Bits() != b.dst.Bits() {
					return a.dst.Bits() > b.dst.Bits()
				}
				return a.kind == routeLocal && b.kind != routeLocal // RT-2: local wins a tie
			})
		}
	}
	bindCoIPs(c, n, lgws)
	st.compileMirrors(c, n) // mirror.go
	st.compileTunnels(c, n) // tunnel.go
	return c
}
