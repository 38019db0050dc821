package dataplane

// An Outpost's local gateway in customer-owned IP mode (COIP-5), the
// on-premises side of the forwarder:
//
//  - outbound: a frame from an ENI of a subnet on the Outpost that matches a
//    route to the local gateway leaves through it with its source translated
//    1:1 from the private IP to the customer-owned address (CoIP) associated
//    with it, as the internet gateway does with a public IP (IGW-1), by the
//    same incremental rewrite (nat.RewriteSrcAddr); then it goes to the
//    on-premises host that has the destination;
//  - a frame from an ENI whose private IP has no CoIP is dropped
//    (lgw-no-customer-owned-ip): in CoIP mode the local gateway does not
//    route private addresses (direct VPC routing, which would, is not what
//    vpcnet's local gateways do); from an ENI of a subnet not on the
//    Outpost, the route leads nowhere (lgw-not-on-outpost);
//  - inbound: an on-premises host reaches an Outpost instance at its CoIP,
//    translated 1:1 back to the private IP, then the receiving subnet's NACL
//    and the ENI's groups as for any frame that enters a VPC.
//
// A CoIP is never a public IP: the internet gateway's table never holds one
// (COIP-3), so a CoIP never leaves through it.

import (
	"net/netip"

	"github.com/vpcnet/vpcnet/nat"
	"github.com/vpcnet/vpcnet/topology"
)

// lgwCfg is a local gateway: its on-premises hosts and its 1:1 CoIP table.
// Built by compile, immutable after.
type lgwCfg struct {
	id, name string
	hosts    map[netip.Addr]*hostCfg // the on-premises hosts by address
	out      map[coipKey]netip.Addr  // (ENI, private IP) → CoIP
	in       map[netip.Addr]coipKey  // CoIP → (ENI, private IP)
}

// coipKey is a private IP of an ENI: private IPs of different VPCs may be
// equal, an ENI's are not.
type coipKey struct {
	eni  *eniCfg
	priv netip.Addr
}

// kind names a host's kind in stats and path analysis.
func (h *hostCfg) kind() string {
	if h.lgw != nil {
		return "on-premises-host"
	}
	return "internet-host"
}

// compileLGWs builds the local gateways and their on-premises hosts (ports
// and counters by host name, like internet hosts).
func (st *state) compileLGWs(c *config, n *topology.Network) map[*topology.LocalGateway]*lgwCfg {
	out := map[*topology.LocalGateway]*lgwCfg{}
	for _, g := range n.LocalGateways {
		gc := &lgwCfg{id: g.ID, name: g.Name, hosts: map[netip.Addr]*hostCfg{},
			out: map[coipKey]netip.Addr{}, in: map[netip.Addr]coipKey{}}
		for _, h := range g.OnPrem {
			ctr := st.hosts[h.Name]
			if ctr == nil {
				ctr = &counters{}
				st.hosts[h.Name] = ctr
			}
			hc := &hostCfg{name: h.Name, ip: h.IP, mac: mac6(h.MAC), port: st.ports[h.Name], ctr: ctr, lgw: gc}
			gc.hosts[h.IP] = hc
			c.hostByName[h.Name] = hc
		}
		out[g] = gc
	}
	return out
}

// lgwRoute compiles route r of subnet s to a local gateway: only a subnet
// on the gateway's Outpost reaches it (COIP-5).
func lgwRoute(rc *routeCfg, s *topology.Subnet, r *topology.Route, lgws map[*topology.LocalGateway]*lgwCfg) {
	rc.kind = routeLGW
	if r.LGW != nil && s.OutpostArn == r.LGW.OutpostArn {
		rc.lgw = lgws[r.LGW]
	}
}

// bindCoIPs enters every associated CoIP in the table of the local gateway
// of its ENI's Outpost (COIP-3: only an ENI on an Outpost holds one).
func bindCoIPs(c *config, n *topology.Network, lgws map[*topology.LocalGateway]*lgwCfg) {
	for _, e := range n.EIPs {
		if !e.IsCoIP() || e.ENI == nil || e.ENI.Subnet == nil {
			continue
		}
		ec := c.eniByID[e.ENI.ID]
		if ec == nil {
			continue
		}
		for g, gc := range lgws {
			if g.OutpostArn == e.ENI.Subnet.OutpostArn {
				k := coipKey{ec, e.PrivateIP}
				gc.out[k], gc.in[e.Addr] = e.Addr, k
			}
		}
	}
}

// toLGW sends a frame from subnet s out through local gateway g (stage 7):
// the NACL where it leaves the subnet, then 1:1 NAT of the source to its
// CoIP, then the on-premises host (COIP-5).
func (w *worker) toLGW(cfg *config, s *subnetCfg, from *eniCfg, g *lgwCfg) {
	if !w.naclOut(s, &from.st.ctr) {
		w.record(from, true)
		return
	}
	w.record(from, false)
	w.f.stages[stageLGW].Add(1)
	coip, ok := g.out[coipKey{from, w.p.meta.Src}]
	if !ok {
		w.drop(&from.st.ctr, dropNoCoIP) // CoIP mode: no private address on premises
		return
	}
	nat.RewriteSrcAddr(w.p.ip, coip, w.p.partial)
	w.reparse()
	w.onPremises(cfg, g, &from.st.ctr)
}

// onPremises delivers a frame on the on-premises network behind g to the
// host that has its destination; c counts the drop when none has.
func (w *worker) onPremises(cfg *config, g *lgwCfg, c *counters) {
	h := g.hosts[w.p.meta.Dst]
	if h == nil {
		w.drop(c, dropNoOnPremHost)
		return
	}
	w.deliver(h.port, h.ctr, h.mac[:], cfg.internetMAC[:])
}

// fromOnPremises handles a frame an on-premises host h sent (its source
// already checked): to another host of its network, or to a CoIP, whose
// destination becomes the private IP (COIP-5), then into the VPC as from
// the internet gateway (stages 5 to 8).
func (w *worker) fromOnPremises(cfg *config, h *hostCfg) {
	g := h.lgw
	dst := w.p.meta.Dst
	if o := g.hosts[dst]; o != nil {
		w.deliver(o.port, o.ctr, o.mac[:], cfg.internetMAC[:])
		return
	}
	w.f.stages[stageLGW].Add(1)
	k, ok := g.in[dst]
	if !ok {
		w.drop(h.ctr, dropCoIPUnassociated)
		return
	}
	nat.RewriteDstAddr(w.p.ip, k.priv, w.p.partial)
	w.reparse()
	w.toENI(cfg, nil, nil, k.eni, 1)
}

// Path analysis (explain.go) of the same steps, from the same tables.

// fromHost starts a walk at host h: an internet host on the internet, an
// on-premises host at its local gateway.
func (w *pathWalk) fromHost(h *hostCfg) {
	w.add(h.name, h.name, h.kind(), h.ip.String())
	if h.lgw != nil {
		w.fromOnPremises(h)
		return
	}
	w.internet(0)
}

// toLGW: out of subnet s through local gateway g, as worker.toLGW.
func (w *pathWalk) toLGW(s *subnetCfg, from *eniCfg, g *lgwCfg) {
	if !w.nacl(s, true) {
		return
	}
	coip, ok := g.out[coipKey{from, w.p.Src}]
	if !ok {
		w.block("CANNOT_ROUTE", g.id, "egress", 0, "%s has no customer-owned IP: local gateway %s (customer-owned IP mode) does not carry private addresses (COIP-5)", w.p.Src, g.id)
		return
	}
	w.p.Src = coip
	w.add(g.id, g.name, "local-gateway", "source becomes "+coip.String())
	h := g.hosts[w.p.Dst]
	if h == nil {
		w.block("CANNOT_ROUTE", g.id, "", 0, "no on-premises host behind local gateway %s has %s (COIP-5)", g.id, w.p.Dst)
		return
	}
	w.add(h.name, h.name, h.kind(), h.ip.String())
	w.delivered(nil, h, h.name)
}

// fromOnPremises: from on-premises host h, as worker.fromOnPremises.
func (w *pathWalk) fromOnPremises(h *hostCfg) {
	g := h.lgw
	if o := g.hosts[w.p.Dst]; o != nil {
		w.add(o.name, o.name, o.kind(), o.ip.String())
		w.delivered(nil, o, o.name)
		return
	}
	k, ok := g.in[w.p.Dst]
	if !ok {
		w.block("CANNOT_ROUTE", g.id, "ingress", 0, "%s is no customer-owned IP associated with an instance behind local gateway %s (COIP-5)", w.p.Dst, g.id)
		return
	}
	w.p.Dst = k.priv
	w.add(g.id, g.name, "local-gateway", "destination becomes "+k.priv.String())
	w.toENI(nil, nil, k.eni, 1)
}
