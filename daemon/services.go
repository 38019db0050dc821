package daemon

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"time"

	"github.com/vpcnet/vpcnet/dataplane"
	"github.com/vpcnet/vpcnet/netns"
	"github.com/vpcnet/vpcnet/timesync"
	"github.com/vpcnet/vpcnet/topology"
	"github.com/vpcnet/vpcnet/vpcdns"
)

// VPC services (DNS-1, SG-8). Each VPC gets a namespace of the daemon's,
// <topology>-svc+<vpc-id> ('+' is in no instance or host name, so it never
// collides), whose one device eth0 is a forwarder port (dataplane
// ServicePortID) holding base + 2, 169.254.169.253, 169.254.169.254 and
// 169.254.169.123 as /32s, with a default route on-link to the forwarder.
// The daemon opens real sockets there (a thread locked into the namespace:
// socket, bind, listen; the sockets stay in the namespace they were made
// in) and serves them from ordinary goroutines of its own process: the
// Amazon DNS server over UDP and TCP on base + 2:53 and 169.254.169.253:53,
// the metadata service, when IMDS is set, on 169.254.169.254:80, and the
// Amazon Time Sync Service (timesync/) on UDP 169.254.169.123:123. The
// emulated internet's public DNS runs the same way in
// <topology>-svc+public-dns, an internet host at topology.DefaultPublicDNS.
// Everything is recorded in state.json like the instances' namespaces, so
// `down` removes it.

// IMDS, when set, returns the instance metadata service's handler for VPC
// vpcID; the daemon serves it over HTTP on 169.254.169.254:80 in that VPC's
// service namespace. A request's r.RemoteAddr is "<private IP>:<port>" of
// the instance asking, unique within the VPC. The handler reads the
// network through d.WithNetwork. Set it before Up (an init of the package
// that wires the metadata service in).
var IMDS func(d *Daemon, vpcID string) http.Handler

// WithNetwork runs fn with the daemon's network, under its lock: fn must
// only read it, and quickly.
func (d *Daemon) WithNetwork(fn func(n *topology.Network)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fn(d.net)
}

// services are the daemon's service namespaces and their servers.
type services struct {
	dns  *vpcdns.Server
	ntp  *timesync.Server
	nss  map[string]*svcNS // by VPC id, and publicDNSKey
	imds func(d *Daemon, vpcID string) http.Handler
}

const publicDNSKey = "public-dns"

// svcNS is one service namespace: its name and how to stop its servers.
type svcNS struct {
	name  string
	port  string // forwarder port id
	stops []func()
}

// serviceNamespace names VPC v's service namespace.
// A machine's agent (issue 16) adds "@<machine>": each machine answers its
// own instances, and machines simulated on one host must not share names.
func serviceNamespace(n *topology.Network, machine string, v *topology.VPC) string {
	return n.Name + "-svc+" + v.ID + atMachine(machine)
}

// publicDNSNamespace names the public DNS server's namespace.
func publicDNSNamespace(n *topology.Network, machine string) string {
	return n.Name + "-svc+" + publicDNSKey + atMachine(machine)
}

func atMachine(machine string) string {
	if machine == "" {
		return ""
	}
	return "@" + machine
}

// serviceNamespaces are the names checkFree must find free.
func serviceNamespaces(n *topology.Network, machine string) []string {
	var out []string
	for _, v := range n.VPCs {
		out = append(out, serviceNamespace(n, machine, v))
	}
	if n.PublicDNSAddr().IsValid() && hostsHere(n, machine) {
		out = append(out, publicDNSNamespace(n, machine))
	}
	return out
}

// startServices starts every VPC's services and the public DNS, and writes
// every resolv.conf. Up calls it after build; on failure teardown removes
// what was made.
func (d *Daemon) startServices() error {
	d.svcs = &services{dns: vpcdns.NewServer(vpcdns.Build(d.net)), ntp: timesync.NewServer(), nss: map[string]*svcNS{}, imds: IMDS}
	for _, v := range d.net.VPCs {
		if err := d.StartVPCServices(v); err != nil {
			return fmt.Errorf("VPC %s services: %w", v.Name, err)
		}
	}
	if a := d.net.PublicDNSAddr(); a.IsValid() && hostsHere(d.net, d.agent.machineName()) {
		s, err := d.startServiceNS(publicDNSNamespace(d.net, d.agent.machineName()), dataplane.PublicDNSPortID, []netip.Addr{a}, "")
		if err != nil {
			return fmt.Errorf("public DNS: %w", err)
		}
		d.svcs.nss[publicDNSKey] = s
	}
	d.refreshServices()
	return nil
}

// StartVPCServices makes VPC v's service namespace and serves DNS, time
// (and the metadata service) there (ec2.Kernel: CreateVpc). On failure
// nothing stays.
func (d *Daemon) StartVPCServices(v *topology.VPC) error {
	if d.svcs == nil {
		return nil // a daemon without services (unit tests)
	}
	addrs := []netip.Addr{v.DNSAddr(), topology.LinkLocalDNS, topology.LinkLocalIMDS, topology.LinkLocalNTP}
	s, err := d.startServiceNS(serviceNamespace(d.net, d.agent.machineName(), v), dataplane.ServicePortID(v.ID), addrs, v.ID)
	if err != nil {
		return err
	}
	d.svcs.nss[v.ID] = s
	d.svcs.dns.Update(vpcdns.Build(d.net))
	return nil
}

// StopVPCServices stops VPC v's servers and removes its service namespace
// (ec2.Kernel: DeleteVpc).
func (d *Daemon) StopVPCServices(v *topology.VPC) {
	if d.svcs == nil {
		return
	}
	if s := d.svcs.nss[v.ID]; s != nil {
		d.stopServiceNS(s)
		delete(d.svcs.nss, v.ID)
	}
}

// startServiceNS makes namespace name with eth0 on forwarder port portID,
// holding addrs, and serves there: DNS on every address but the metadata
// and time services' (the view of VPC vpcID, "" for the public one), the
// metadata service on 169.254.169.254:80 when IMDS is set, and the time
// service on 169.254.169.123:123 when addrs holds it.
func (d *Daemon) startServiceNS(name, portID string, addrs []netip.Addr, vpcID string) (s *svcNS, err error) {
	s = &svcNS{name: name, port: portID}
	defer func() {
		if err != nil {
			d.stopServiceNS(s)
		}
	}()
	ns, err := d.addNamespace(name)
	if err != nil {
		return s, err
	}
	defer ns.Close()
	if err := d.addPort(ns, "eth0", portID); err != nil {
		return s, err
	}
	ifc := netns.Iface{Name: "eth0", MAC: dataplane.ServiceMAC}
	for _, a := range addrs {
		ifc.Addrs = append(ifc.Addrs, netip.PrefixFrom(a, 32))
	}
	if err := netns.Configure(name, ns, netns.Config{OnLink: true, Ifaces: []netns.Iface{ifc}}); err != nil {
		return s, err
	}
	type dnsSocks struct {
		pc net.PacketConn
		l  net.Listener
	}
	var socks []dnsSocks
	var imdsL net.Listener
	var ntpC *net.UDPConn
	var h http.Handler
	if vpcID != "" && d.svcs.imds != nil {
		h = d.svcs.imds(d, vpcID)
	}
	err = netns.Do(ns, func() error {
		for _, a := range addrs {
			if a == topology.LinkLocalIMDS {
				continue
			}
			if a == topology.LinkLocalNTP {
				var err error
				ntpC, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, 123)))
				if err != nil {
					return fmt.Errorf("time service: %w", err)
				}
				continue
			}
			ap := netip.AddrPortFrom(a, 53).String()
			pc, err := net.ListenPacket("udp4", ap)
			if err != nil {
				return err
			}
			l, err := net.Listen("tcp4", ap)
			if err != nil {
				pc.Close()
				return err
			}
			socks = append(socks, dnsSocks{pc, l})
		}
		if h != nil {
			var err error
			imdsL, err = net.Listen("tcp4", netip.AddrPortFrom(topology.LinkLocalIMDS, 80).String())
			return err
		}
		return nil
	})
	if err != nil {
		for _, x := range socks {
			x.pc.Close()
			x.l.Close()
		}
		if ntpC != nil {
			ntpC.Close()
		}
		return s, fmt.Errorf("sockets in %s: %w", name, err)
	}
	if ntpC != nil {
		s.stops = append(s.stops, d.svcs.ntp.Serve(ntpC)) // never fails: the socket is bound
	}
	for i, x := range socks {
		stop, err := d.svcs.dns.Serve(vpcID, x.pc, x.l)
		if err != nil {
			for _, y := range socks[i+1:] {
				y.pc.Close()
				y.l.Close()
			}
			if imdsL != nil {
				imdsL.Close()
			}
			return s, err
		}
		s.stops = append(s.stops, stop)
	}
	if imdsL != nil {
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
			WriteTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 16 << 10}
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := srv.Serve(imdsL); err != nil && !errors.Is(err, http.ErrServerClosed) {
				fmt.Fprintf(os.Stderr, "metadata service in %s: %v\n", name, err)
			}
		}()
		s.stops = append(s.stops, func() { srv.Close(); <-done })
	}
	return s, nil
}

// stopServiceNS stops s's servers, closes its port and removes its
// namespace.
func (d *Daemon) stopServiceNS(s *svcNS) {
	for _, stop := range s.stops {
		stop()
	}
	s.stops = nil
	d.fwd.DetachPort(s.port)
	netns.Delete(s.name)
	if slices.Contains(d.st.Namespaces, s.name) {
		d.st.Namespaces = slices.DeleteFunc(d.st.Namespaces, func(x string) bool { return x == s.name })
		d.st.write()
	}
}

// stopServices stops every server (teardown; the namespaces go with
// cleanup).
func (d *Daemon) stopServices() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.svcs == nil {
		return
	}
	for _, s := range d.svcs.nss {
		for _, stop := range s.stops {
			stop()
		}
		s.stops = nil
	}
}

// refreshServices brings the DNS data and every resolv.conf up to date
// with d.net. Call it with d.mu held, after every change (Call).
func (d *Daemon) refreshServices() {
	if d.svcs == nil {
		return
	}
	d.svcs.dns.Update(vpcdns.Build(d.net))
	for _, v := range d.net.VPCs {
		for _, inst := range v.Instances {
			if netns.Exists(inst.Namespace) {
				netns.WriteResolvConf(inst.Namespace, resolvConf(d.net, inst))
			}
		}
	}
	for _, h := range d.net.Hosts {
		if netns.Exists(h.Namespace) {
			netns.WriteResolvConf(h.Namespace, hostResolvConf(d.net))
		}
	}
}

// resolvConf is what instance inst's /etc/resolv.conf says: its VPC's DHCP
// options set (DNS-4; topology/dhcp.go): the region's default set gives the
// Amazon DNS server of its VPC (base + 2) and the region's private domain
// to search (DNS-1).
func resolvConf(n *topology.Network, inst *topology.Instance) string {
	return topology.ResolvConf(inst.VPC, n)
}

// hostResolvConf is an internet host's: the emulated internet's public
// DNS, searching the internet hosts' domain; none without a public DNS.
func hostResolvConf(n *topology.Network) string {
	a := n.PublicDNSAddr()
	if !a.IsValid() {
		return ""
	}
	return fmt.Sprintf("# vpcnet: the emulated internet's public DNS\nnameserver %s\nsearch %s\n", a, "internet")
}
