package ec2

import (
	"net/netip"
	"strconv"

	"github.com/vpcnet/vpcnet/topology"
)

// Path analysis (OBS-3), named after Reachability Analyzer's
// StartNetworkInsightsAnalysis. EC2 takes the path (source, destination,
// protocol, port) in CreateNetworkInsightsPath first; here one call takes
// both and answers at once, from the forwarder's tables
// (dataplane.Forwarder.ExplainPath).
func init() {
	operations["StartNetworkInsightsAnalysis"] = func(d *Service, r OpRequest) (any, error) { return d.analyzePath(r) }
	readOnly["StartNetworkInsightsAnalysis"] = true
}

func (d *Service) analyzePath(r OpRequest) (any, error) {
	src, err := d.pathSource(r["source"])
	if err != nil {
		return nil, err
	}
	dst, err := d.pathDestination(r["destination"], d.findHost(r["source"]) != nil)
	if err != nil {
		return nil, err
	}
	if r["protocol"] == "" {
		r["protocol"] = "tcp"
	}
	proto, err := requestProtocol(r)
	if err != nil {
		return nil, err
	}
	var port uint16
	switch proto {
	case 6, 17:
		p, err := strconv.ParseUint(r["destination-port"], 10, 16)
		if err != nil || p == 0 {
			return nil, opErr("InvalidParameterValue", "Invalid value '%s' for destination-port: a TCP or UDP path needs a port 1-65535", r["destination-port"])
		}
		port = uint16(p)
	case 1:
	default:
		return nil, opErr("InvalidParameterValue", "Invalid value '%s' for protocol: a path is tcp, udp or icmp", r["protocol"])
	}
	a, err := d.k.ExplainPath(src, dst, uint8(proto), port)
	if err != nil {
		return nil, opErr("InvalidParameterValue", "%v", err)
	}
	out := obj{
		"Status": "succeeded", "Source": r["source"], "Destination": r["destination"], "DestinationIp": dst.String(),
		"Protocol": r["protocol"], "NetworkPathFound": a.NetworkPathFound, "ForwardPathComponents": a.ForwardPathComponents,
	}
	if port != 0 {
		out["DestinationPort"] = port
	}
	if len(a.ReturnPathComponents) > 0 {
		out["ReturnPathComponents"] = a.ReturnPathComponents
	}
	if len(a.Explanations) > 0 {
		out["Explanations"] = a.Explanations
	}
	return obj{"NetworkInsightsAnalysis": out}, nil
}

// pathSource resolves an instance (its primary ENI), an ENI, or an internet
// host, by id or name.
func (d *Service) pathSource(ref string) (string, error) {
	if ref == "" {
		return "", opErr("MissingParameter", "The request must contain the parameter source")
	}
	if i, err := d.findInstance(ref); err == nil {
		return i.Primary().ID, nil
	}
	if e, err := d.findENI(ref); err == nil {
		return e.ID, nil
	}
	if h := d.findHost(ref); h != nil {
		return h.Name, nil
	}
	return "", opErr("InvalidParameterValue", "source '%s' is no instance, network interface or internet host", ref)
}

// pathDestination resolves an instance or ENI (its primary private IP, or
// from the internet its public IP), an internet host (its IP), or an IPv4
// address as given (an Elastic IP, say).
func (d *Service) pathDestination(ref string, fromInternet bool) (netip.Addr, error) {
	if ref == "" {
		return netip.Addr{}, opErr("MissingParameter", "The request must contain the parameter destination")
	}
	if a, err := netip.ParseAddr(ref); err == nil && a.Is4() {
		return a, nil
	}
	var e *topology.ENI
	if i, err := d.findInstance(ref); err == nil {
		e = i.Primary()
	} else if x, err := d.findENI(ref); err == nil {
		e = x
	}
	if e != nil {
		if pub, ok := e.PublicIPs[e.PrimaryIP]; ok && fromInternet {
			return pub, nil
		}
		if !e.PrimaryIP.IsValid() {
			return netip.Addr{}, opErr("InvalidParameterValue", "destination '%s' has no address", ref)
		}
		return e.PrimaryIP, nil
	}
	if h := d.findHost(ref); h != nil {
		return h.IP, nil
	}
	return netip.Addr{}, opErr("InvalidParameterValue", "destination '%s' is no instance, network interface, internet host or IPv4 address", ref)
}

func (d *Service) findHost(ref string) *topology.Host {
	for _, h := range d.net.Hosts {
		if h.Name == ref {
			return h
		}
	}
	return nil
}
