package topology

import (
	"fmt"
	"slices"
	"strconv"
)

// Export writes a running network back as a topo.json document that brings
// the same network up again: the same names (so the same ids and MACs), the
// same private IPs (written out explicitly), the same EIP addresses.
//
// What topo.json cannot say is left out, as a user would expect from AWS's
// own exports: dynamic public IPs (they are dynamic, ADDR-4), the stopped
// state of an instance. The default group and NACL are written only when
// their rules were edited.
func Export(n *Network) *Topology {
	t := &Topology{Name: n.Name, Region: n.Region}
	for _, p := range n.Pools {
		ps := PoolSpec{Name: p.Name, NetworkBorderGroup: p.BorderGroup, Kind: p.Kind}
		for _, c := range p.CIDRs {
			ps.CIDRs = append(ps.CIDRs, c.String())
		}
		t.AddressPools = append(t.AddressPools, ps)
	}
	t.LocalGateways = exportLocalGateways(n) // coip.go

	eipOf := map[*ENI]string{} // primary ENI → EIP name, for instance elastic_ip
	for _, e := range n.EIPs {
		es := EIPSpec{Name: e.Name, Address: e.Addr.String()}
		switch {
		case e.ENI == nil || e.NAT != nil: // unassociated, or named by its NAT gateway
		case e.IsCoIP(): // a customer-owned address names its target (coip.go)
			exportCoIPTarget(&es, e)
		case e.PrivateIP == e.ENI.PrimaryIP && e.ENI.DeviceIndex == 0 && e.ENI.Instance != nil:
			eipOf[e.ENI] = e.Name // the instance's elastic_ip, as the spec writes it
		default: // another ENI or a secondary IP: the EIP names its target
			es.NetworkInterface, es.PrivateIP = e.ENI.Name, e.PrivateIP.String()
			if e.ENI.DeviceIndex == 0 && e.ENI.Instance != nil {
				es.NetworkInterface, es.Instance = "", e.ENI.Instance.Name
			}
		}
		t.ElasticIPs = append(t.ElasticIPs, es)
	}
	if len(n.Hosts) > 0 {
		t.Internet = &InternetSpec{}
		for _, h := range n.Hosts {
			t.Internet.Hosts = append(t.Internet.Hosts, HostSpec{Name: h.Name, IP: h.IP.String(), UserData: h.UserData})
		}
	}
	for _, v := range n.VPCs {
		t.VPCs = append(t.VPCs, exportVPC(n.Name, v, eipOf, n.DetachedIGWs, n))
	}
	for _, g := range n.DetachedIGWs {
		t.InternetGateways = append(t.InternetGateways, IGWSpec{Name: g.Name})
	}
	for _, p := range n.Peerings {
		ps := PeeringSpec{Name: p.Name, VPCs: []string{p.VPCs[0].Name, p.VPCs[1].Name}}
		if p.Status != PeeringActive {
			ps.Status = p.Status // PEER-1: pending-acceptance
		}
		t.Peerings = append(t.Peerings, ps)
	}
	if f := n.FlowLogs; f != nil {
		agg := f.AggregationSeconds
		t.FlowLogs = &FlowLogsSpec{Path: f.Path, AggregationSeconds: &agg}
	}
	t.VPCFlowLogs = exportVPCFlowLogs(n)
	t.TrafficMirroring = exportMirroring(n)
	exportDNS(n, t) // dhcp.go: DHCP options sets, public DNS records, reverse DNS names
	s := n.Settings
	t.Settings = &SettingsSpec{ConntrackMax: &s.ConntrackMax, NATIdleTimeoutSeconds: &s.NATIdleTimeoutSeconds,
		NATMaxConnectionsPerDestination: &s.NATMaxConnectionsPerDestination, ForwarderCPUs: &s.ForwarderCPUs,
		BusyPollMicroseconds: &s.BusyPollMicroseconds}
	if q := s.Quotas; q != DefaultQuotas() {
		t.Settings.Quotas = &QuotasSpec{VPCs: &q.VPCs, ElasticIPs: &q.ElasticIPs, GroupsPerENI: &q.GroupsPerENI,
			RulesPerGroup: &q.RulesPerGroup, RulesPerNACL: &q.RulesPerNACL, RoutesPerTable: &q.RoutesPerTable}
	}
	if s.EC2Endpoint.IsValid() {
		// Only an address the file named: the default is whichever port
		// was free, which another topology may hold by the time the export
		// is loaded.
		ep := s.EC2Endpoint.String()
		t.Settings.EC2Endpoint = &ep
	}
	if s.Metrics.IsValid() {
		m := s.Metrics.String()
		t.Settings.Metrics = &m
	}
	exportPlacement(s, t.Settings) // placement.go
	return t
}

func exportVPC(topo string, v *VPC, eipOf map[*ENI]string, detached []*IGW, n *Network) VPCSpec {
	vs := VPCSpec{Name: v.Name, CIDR: v.CIDR.String()}
	for _, c := range v.SecondaryCIDRs {
		vs.SecondaryCIDRs = append(vs.SecondaryCIDRs, c.String())
	}
	if !v.DNSSupport { // the file's default is true for both (DNS-1, DNS-2)
		vs.EnableDNSSupport = &v.DNSSupport
	}
	if !v.DNSHostnames {
		vs.EnableDNSHostnames = &v.DNSHostnames
	}
	if v.IGW != nil {
		vs.InternetGateway = v.IGW.Name
	}
	for _, s := range v.Subnets {
		ss := SubnetSpec{Name: s.Name, CIDR: s.CIDR.String(), AZ: s.AZ, MapPublicIPOnLaunch: s.MapPublicIP, OutpostArn: s.OutpostArn}
		if s.ExplicitRT { // RT-1: only the subnet's own association
			ss.RouteTable = s.RouteTable.Name
		}
		if s.NACL != v.DefaultNACL {
			ss.NetworkACL = s.NACL.Name
		}
		vs.Subnets = append(vs.Subnets, ss)
	}
	for _, rt := range v.RouteTables {
		if rt.Name == "main" && rt == v.MainRT && len(rt.Routes) == 1 {
			continue // the implicit main table holding only local (RT-1)
		}
		rs := RouteTableSpec{Name: rt.Name, Main: rt.Main}
		for _, r := range rt.Routes {
			if r.Kind == TargetLocal {
				continue
			}
			target := routeTarget(v, r)
			if r.Kind == TargetIGW && slices.ContainsFunc(detached, func(g *IGW) bool { return g.Name == r.TargetName }) {
				target = r.TargetName // a detached gateway: a blackhole until attached again (RT-3)
			}
			rs.Routes = append(rs.Routes, RouteSpec{Destination: r.Dest.String(), Target: target})
		}
		vs.RouteTables = append(vs.RouteTables, rs)
	}
	for _, g := range v.NATs {
		ns := NATGatewaySpec{Name: g.Name, Subnet: g.Subnet.Name, PrivateIP: g.ENI.PrimaryIP.String()}
		if g.EIP != nil {
			ns.ElasticIP = g.EIP.Name
		}
		if g.Private {
			ns.Connectivity = "private"
		}
		for _, a := range g.ENI.SecondaryIPs {
			ns.SecondaryPrivateIPs = append(ns.SecondaryPrivateIPs, a.String())
		}
		vs.NATGateways = append(vs.NATGateways, ns)
	}
	for _, g := range v.SGs {
		if g == v.DefaultSG && defaultSGUnchanged(g) {
			continue // implicit (SG-7)
		}
		gs := SecurityGroupSpec{Name: g.Name, Description: g.Description, Ingress: []IngressRule{}, Egress: []EgressRule{}}
		for _, r := range g.Ingress {
			p, ports, it, ic := ruleSpec(r.Protocol, r.FromPort, r.ToPort)
			gs.Ingress = append(gs.Ingress, IngressRule{Protocol: p, Ports: ports, ICMPType: it, ICMPCode: ic, Source: peerName(r), Description: r.Description,
				ID: fileRuleID(topo, g, false, r), SourceVPC: peerVPCName(g, r), Stale: staleInFile(n, g, r)})
		}
		for _, r := range g.Egress {
			p, ports, it, ic := ruleSpec(r.Protocol, r.FromPort, r.ToPort)
			gs.Egress = append(gs.Egress, EgressRule{Protocol: p, Ports: ports, ICMPType: it, ICMPCode: ic, Destination: peerName(r), Description: r.Description,
				ID: fileRuleID(topo, g, true, r), DestinationVPC: peerVPCName(g, r), Stale: staleInFile(n, g, r)})
		}
		vs.SecurityGroups = append(vs.SecurityGroups, gs)
	}
	for _, a := range v.NACLs {
		if a == v.DefaultNACL && defaultNACLUnchanged(a) {
			continue // implicit (NACL-3)
		}
		vs.NetworkACLs = append(vs.NetworkACLs, NACLSpec{Name: a.Name, Ingress: naclSpecs(a.Ingress), Egress: naclSpecs(a.Egress)})
	}
	for _, e := range v.ENIs {
		if e.NAT != nil || (e.Instance != nil && e.DeviceIndex == 0) {
			continue
		}
		sdc := e.SourceDestCheck
		vs.NetworkInterfaces = append(vs.NetworkInterfaces, ENISpec{Name: e.Name, Subnet: e.Subnet.Name,
			PrivateIP: e.PrimaryIP.String(), SecondaryPrivateIPs: addrs(e), SecurityGroups: groupNames(e),
			SourceDestCheck: &sdc, Description: e.Description, ConnectionTracking: ctSpec(e.ConnTrack),
			DeleteOnTermination: e.DeleteOnTermination && e.Instance != nil})
	}
	for _, i := range v.Instances {
		e := i.Primary()
		sdc, pub := e.SourceDestCheck, i.AssociatePublicIP
		is := InstanceSpec{Name: i.Name, Subnet: i.Subnet.Name, PrivateIP: e.PrimaryIP.String(), SecondaryPrivateIPs: addrs(e),
			SecurityGroups: groupNames(e), AssociatePublicIP: &pub, ElasticIP: eipOf[e], SourceDestCheck: &sdc,
			UserData: i.UserData, ConnectionTracking: ctSpec(e.ConnTrack)}
		if i.Type != DefaultInstanceType { // QUOTA-2
			is.InstanceType = i.Type
		}
		is.ImageID, is.KeyName = i.ImageID, i.KeyName
		is.Host = i.Host                                                         // placement.go (issue 16)
		if i.MetadataTokens != DefaultMetadataTokens && i.MetadataTokens != "" { // IMDS-1
			is.MetadataHTTPTokens = i.MetadataTokens
		}
		if e.Description != PrimaryENIDescription {
			is.Description = &e.Description
		}
		if !e.DeleteOnTermination {
			is.DeleteOnTermination = &e.DeleteOnTermination
		}
		for _, x := range i.ENIs[1:] {
			is.NetworkInterfaces = append(is.NetworkInterfaces, x.Name)
		}
		vs.Instances = append(vs.Instances, is)
	}
	return vs
}

// defaultSGUnchanged reports whether the default group still holds only the
// rules it is made with (SG-7).
func defaultSGUnchanged(g *SecurityGroup) bool {
	return g.Description == defaultSGDescription &&
		len(g.Ingress) == 1 && g.Ingress[0] == defaultSGIngress(g) &&
		len(g.Egress) == 1 && g.Egress[0] == allowAllEgress()
}

// defaultNACLUnchanged reports whether the default NACL still holds only its
// rule 100 allowing all, both ways (NACL-3).
func defaultNACLUnchanged(a *NACL) bool {
	all := defaultNACLRule()
	return len(a.Ingress) == 1 && a.Ingress[0] == all && len(a.Egress) == 1 && a.Egress[0] == all
}

func routeTarget(v *VPC, r *Route) string {
	switch r.Kind {
	case TargetIGW:
		if v.IGWTarget(r) {
			return v.IGW.Name
		}
	case TargetNAT:
		if r.NAT != nil && slices.Contains(v.NATs, r.NAT) {
			return r.NAT.Name
		}
	case TargetENI:
		if r.ENI != nil && slices.Contains(v.ENIs, r.ENI) {
			if r.ENI.Instance != nil && r.ENI.DeviceIndex == 0 {
				return r.ENI.Instance.Name
			}
			return r.ENI.Name
		}
	case TargetLGW:
		if r.LGW != nil {
			return r.LGW.Name
		}
	case TargetPeering:
		if r.Peering != nil && r.Peering.Status != PeeringDeleted {
			return r.Peering.Name // active, or pending: a blackhole until accepted (PEER-3)
		}
	}
	return "blackhole" // RT-3: a deleted target is a blackhole
}

func ruleSpec(proto, from, to int) (Protocol, Ports, *int, *int) {
	p := Protocol(strconv.Itoa(proto))
	switch proto {
	case -1:
		p = "all"
	case 1:
		p = "icmp"
	case 6:
		p = "tcp"
	case 17:
		p = "udp"
	}
	switch {
	case (proto == 6 || proto == 17) && from != -1:
		if from == to {
			return p, Ports(strconv.Itoa(from)), nil, nil
		}
		return p, Ports(fmt.Sprintf("%d-%d", from, to)), nil, nil
	case proto == 1 && (from != -1 || to != -1):
		t, c := from, to
		if c == -1 {
			return p, "", &t, nil
		}
		return p, "", &t, &c
	}
	return p, "", nil, nil
}

func peerName(r SGRule) string {
	if r.Group != nil {
		return r.Group.Name
	}
	return r.CIDR.String()
}

func naclSpecs(rules []NACLRule) []NACLRuleSpec {
	out := []NACLRuleSpec{}
	for _, r := range rules {
		p, ports, it, ic := ruleSpec(r.Protocol, r.FromPort, r.ToPort)
		action := "deny"
		if r.Allow {
			action = "allow"
		}
		out = append(out, NACLRuleSpec{Rule: r.Number, Protocol: p, Ports: ports, ICMPType: it, ICMPCode: ic, CIDR: r.CIDR.String(), Action: action})
	}
	return out
}

func addrs(e *ENI) []string {
	var out []string
	for _, a := range e.SecondaryIPs {
		out = append(out, a.String())
	}
	return out
}

func groupNames(e *ENI) []string {
	var out []string
	for _, g := range e.Groups {
		out = append(out, g.Name)
	}
	return out
}

func ctSpec(c ConnTrack) *ConnTrackSpec {
	if c == (ConnTrack{TCPEstablished: DefaultTCPEstablishedTimeout, UDPStream: DefaultUDPStreamTimeout, UDP: DefaultUDPTimeout}) || c.TCPEstablished == 0 {
		return nil
	}
	return &ConnTrackSpec{TCPEstablished: &c.TCPEstablished, UDPStream: &c.UDPStream, UDP: &c.UDP}
}
