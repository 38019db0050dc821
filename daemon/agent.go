package daemon

// One machine's agent of a network spread over several (issue 16). The
// network's desired state lives in etcd (settings.store, the store
// package); every machine runs `vpcnet agent --host NAME`, which keeps a
// daemon for what the placement puts on its machine: the namespaces and
// ENIs of its instances, the forwarder, the VPCs' services, and a Geneve
// port to every other machine under every VNI (dataplane/tunnel.go,
// dataplane/geneve_linux.go).
//
// Every change, from `vpcnet <operation>` or the EC2 endpoint of any machine, is a
// transaction on the stored document (callStore): the operation runs on
// the document as stored, and the result is written only if nobody wrote
// in between, else it runs again on the newer one, so two operators never
// lose each other's update. Each agent watches the document and applies
// what changed (reconcile). When the store is unreachable, forwarding goes
// on with the last document applied, and operations are refused.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vpcnet/vpcnet/dataplane"
	"github.com/vpcnet/vpcnet/ec2"
	"github.com/vpcnet/vpcnet/netns"
	"github.com/vpcnet/vpcnet/store"
	"github.com/vpcnet/vpcnet/topology"
)

// AgentConfig is how `vpcnet agent` runs.
type AgentConfig struct {
	Store    *store.Store
	Machine  string       // --host: this machine's name in settings.placement
	Topology string       // the network to run
	Underlay netns.Handle // the namespace of the machines' network (the agent's own, or --netns)
	Address  netip.Addr   // where the other machines reach this one (Geneve, UDP 6081)
	Exe      string       // the vpcnet binary, for user_data's PATH
	// Logf reports what the agent does (stderr by default).
	Logf func(format string, args ...any)
}

// agent is the daemon's side of AgentConfig.
type agent struct {
	cfg AgentConfig

	mu      sync.Mutex
	applied int64                 // the store revision the daemon runs
	cond    *sync.Cond            // signalled when applied changes
	peers   map[string]netip.Addr // machine → underlay, the last known
	geneve  *dataplane.Geneve     // the tunnels' socket in the underlay's namespace
	tunnels map[dataplane.TunnelKey]netip.Addr
	failed  map[string]bool // instances (by id) whose build failed: not reported built, tried again
}

// machineName is "" for a nil agent: a daemon on a single machine.
func (a *agent) machineName() string {
	if a == nil {
		return ""
	}
	return a.cfg.Machine
}

// RunAgent runs the agent until ctx ends, then takes its machine's part of
// the network down (the network stays in the store).
func RunAgent(ctx context.Context, cfg AgentConfig) error {
	if cfg.Logf == nil {
		cfg.Logf = func(format string, args ...any) { fmt.Fprintf(os.Stderr, "agent: "+format+"\n", args...) }
	}
	if err := topology.CheckName(cfg.Topology); err != nil {
		return err
	}
	if err := topology.CheckHostName("--host", cfg.Machine); err != nil {
		return err
	}
	if !underlayAddr(cfg.Address) {
		return fmt.Errorf("--underlay %s: give this machine's IPv4 address toward the others (not loopback, multicast or unspecified): "+
			"the other machines send this one's frames there", cfg.Address)
	}
	a := &agent{cfg: cfg, peers: map[string]netip.Addr{}, tunnels: map[dataplane.TunnelKey]netip.Addr{}, failed: map[string]bool{}}
	a.cond = sync.NewCond(&a.mu)
	fd, err := netns.OpenUDP(cfg.Underlay, cfg.Address, dataplane.GenevePort)
	if err != nil {
		return fmt.Errorf("the tunnels' socket, UDP %s:%d: %w (another agent on this machine holds it? an agent serves one network)",
			cfg.Address, dataplane.GenevePort, err)
	}
	if a.geneve, err = dataplane.OpenGeneve(fd); err != nil {
		return err
	}
	defer a.geneve.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	self := store.Machine{Name: cfg.Machine, Underlay: cfg.Address, PID: os.Getpid(), Started: time.Now()}
	go a.register(ctx, self)
	specs := cfg.Store.Watch(ctx, cfg.Topology)
	machines := cfg.Store.WatchMachines(ctx)
	var d *Daemon
	defer func() {
		if d != nil {
			d.Shutdown()
		}
	}()
	for {
		var stopped <-chan struct{} // the daemon's end: `vpcnet down` on this machine
		if d != nil {
			stopped = d.Done()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-stopped:
			cfg.Logf("this machine's part of %s was taken down here (vpcnet down): the agent ends; the network stays in the store", cfg.Topology)
			return nil
		case ms, ok := <-machines:
			if !ok {
				machines = nil
				continue
			}
			a.learnPeers(ms)
			if d != nil {
				d.syncTunnels()
			}
		case ev, ok := <-specs:
			if !ok {
				return ctx.Err()
			}
			var err error
			d, err = a.apply(d, ev)
			if err != nil {
				cfg.Logf("%v", err)
			}
		}
	}
}

// register puts this machine into the store (its underlay, under a lease
// the store keeps alive), retrying until the store answers: an agent may
// start while etcd is down.
func (a *agent) register(ctx context.Context, self store.Machine) {
	wait := 100 * time.Millisecond
	for {
		_, err := a.cfg.Store.Register(ctx, self, 3*time.Second)
		if err == nil || ctx.Err() != nil {
			return
		}
		a.cfg.Logf("registering %s in the store: %v (retrying in %s)", self.Name, err, wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// underlayAddr reports whether a is usable as a machine's address toward
// the others: a peer that registered loopback would make every machine
// send to itself.
func underlayAddr(a netip.Addr) bool {
	return a.Is4() && !a.IsLoopback() && !a.IsUnspecified() && !a.IsMulticast() && !a.IsLinkLocalUnicast()
}

// apply makes the daemon run ev's document: up on the first, reconcile
// after, down when the network was taken out of the store.
func (a *agent) apply(d *Daemon, ev store.Event) (*Daemon, error) {
	if ev.Deleted {
		if d != nil {
			a.cfg.Logf("network %s left the store: taking this machine's part down", a.cfg.Topology)
			d.Shutdown()
			a.mu.Lock()
			clear(a.tunnels)
			a.mu.Unlock()
		}
		a.setApplied(ev.Rev)
		return nil, nil
	}
	n, err := topology.Load(ev.Spec)
	if err != nil {
		return d, fmt.Errorf("the stored network (revision %d) is not valid, keeping the last one: %v", ev.Rev, err)
	}
	if n.Name != a.cfg.Topology {
		return d, fmt.Errorf("the stored document of %s (revision %d) names network %q: ignored", a.cfg.Topology, ev.Rev, n.Name)
	}
	if !n.Distributed() {
		return d, fmt.Errorf("the stored network %s (revision %d) has no settings.store: ignored", n.Name, ev.Rev)
	}
	if !slices.Contains(n.Machines(), a.cfg.Machine) {
		a.cfg.Logf("revision %d: settings.placement names no machine %q (it names %s): nothing runs here", ev.Rev, a.cfg.Machine, strings.Join(n.Machines(), ", "))
	}
	if d == nil {
		d, err = up(n, a.cfg.Exe, ev.Spec, a)
		if err != nil {
			return nil, fmt.Errorf("bringing up this machine's part of %s: %w", n.Name, err)
		}
		go d.Serve()
		a.cfg.Logf("up: %d instances here, revision %d", len(localInstances(n, a.cfg.Machine)), ev.Rev)
	} else if err := d.reconcile(n); err != nil {
		a.cfg.Logf("revision %d: %v", ev.Rev, err)
	}
	d.syncTunnels() // here, in order: a new VPC needs its VNI's ports
	a.setApplied(ev.Rev)
	a.report(n, ev.Rev)
	return d, nil
}

func (a *agent) setApplied(rev int64) {
	a.mu.Lock()
	a.applied = rev
	a.cond.Broadcast()
	a.mu.Unlock()
}

// waitApplied waits until the daemon runs revision rev or later, up to
// wait: an operation answers once its own machine forwards by it.
func (a *agent) waitApplied(rev int64, wait time.Duration) {
	t := time.AfterFunc(wait, func() { a.mu.Lock(); a.cond.Broadcast(); a.mu.Unlock() })
	defer t.Stop()
	deadline := time.Now().Add(wait)
	a.mu.Lock()
	for a.applied < rev && time.Now().Before(deadline) {
		a.cond.Wait()
	}
	a.mu.Unlock()
}

// report writes which revision this machine runs and its instances, for
// `vpcnet status`.
func (a *agent) report(n *topology.Network, rev int64) {
	var names []string
	a.mu.Lock()
	for _, i := range localInstances(n, a.cfg.Machine) {
		if !a.failed[i.ID] { // BUILT means built
			names = append(names, i.Name)
		}
	}
	a.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := a.cfg.Store.Report(ctx, a.cfg.Topology, a.cfg.Machine, store.Applied{Revision: rev, Instances: names, Updated: time.Now()}); err != nil {
		a.cfg.Logf("reporting revision %d: %v", rev, err)
	}
}

// learnPeers keeps the underlay address of every machine ever registered:
// a machine whose registration lapsed (its agent died) keeps its tunnels,
// so that frames to it are counted as peer-unreachable, not lost.
func (a *agent) learnPeers(ms []store.Machine) {
	a.mu.Lock()
	defer a.mu.Unlock()
	live := map[netip.Addr]bool{}
	for _, m := range ms {
		if m.Alive {
			live[m.Underlay] = true
		}
	}
	for _, m := range ms {
		// A lapsed record whose address a live machine now holds is that
		// machine's old name: one tunnel per address.
		if m.Name != a.cfg.Machine && underlayAddr(m.Underlay) && m.Underlay != a.cfg.Address && (m.Alive || !live[m.Underlay]) {
			a.peers[m.Name] = m.Underlay
		}
	}
}

func localInstances(n *topology.Network, machine string) []*topology.Instance {
	var out []*topology.Instance
	for _, v := range n.VPCs {
		for _, i := range v.Instances {
			if n.HostOf(i) == machine && !i.Stopped {
				out = append(out, i)
			}
		}
	}
	return out
}

// syncTunnels opens a port to every known peer under every VNI of the
// network and the internet's, and closes those no longer needed.
func (d *Daemon) syncTunnels() {
	a := d.agent
	d.mu.Lock()
	vnis := []uint32{dataplane.InternetVNI}
	for _, v := range dataplane.VNIs(d.net) {
		vnis = append(vnis, v)
	}
	d.mu.Unlock()
	a.mu.Lock()
	defer a.mu.Unlock()
	want := map[dataplane.TunnelKey]netip.Addr{}
	for m, ip := range a.peers {
		for _, vni := range vnis {
			want[dataplane.TunnelKey{Machine: m, VNI: vni}] = ip
		}
	}
	for k, ip := range a.tunnels {
		if want[k] != ip {
			d.fwd.DetachTunnel(k.Machine, k.VNI)
			delete(a.tunnels, k)
		}
	}
	for k, ip := range want {
		if _, ok := a.tunnels[k]; ok {
			continue
		}
		p, err := a.geneve.Port(ip, k.VNI)
		if err != nil {
			a.cfg.Logf("tunnel to %s (%s) VNI %d: %v", k.Machine, ip, k.VNI, err)
			continue
		}
		a.tunnels[k] = ip
		d.fwd.AttachTunnel(k.Machine, k.VNI, p)
	}
}

// reconcile makes the running daemon match network n, a newer stored
// document: instances placed here that appeared or changed are built,
// those gone or moved away removed, and the forwarder and services take
// the new tables.
func (d *Daemon) reconcile(n *topology.Network) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := d.agent.machineName()
	old := map[string]*topology.Instance{}
	for _, i := range localInstances(d.net, m) {
		old[i.ID] = i
	}
	now := map[string]*topology.Instance{}
	for _, i := range localInstances(n, m) {
		now[i.ID] = i
	}
	a := d.agent
	a.mu.Lock()
	failed := a.failed
	a.failed = map[string]bool{}
	a.mu.Unlock()
	for id, i := range old {
		if j := now[id]; j == nil || devicesOf(i) != devicesOf(j) || failed[id] {
			d.RemoveInstance(i)
		}
	}
	oldVPCs := map[string]*topology.VPC{}
	for _, v := range d.net.VPCs {
		oldVPCs[v.ID] = v
	}
	d.net = n
	d.svc = ec2.New(d, d)
	d.fwd.Apply(n)
	var errs []error
	for _, v := range n.VPCs {
		if oldVPCs[v.ID] == nil {
			if err := d.StartVPCServices(v); err != nil {
				errs = append(errs, fmt.Errorf("VPC %s services: %w", v.Name, err))
			}
		}
		delete(oldVPCs, v.ID)
	}
	for _, v := range oldVPCs {
		d.StopVPCServices(v)
	}
	ids := make([]string, 0, len(now))
	for id := range now {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		i := now[id]
		if o := old[id]; o != nil && devicesOf(o) == devicesOf(i) && !failed[id] {
			continue
		}
		if err := d.LaunchInstance(i); err != nil {
			errs = append(errs, fmt.Errorf("instance %s: %w", i.Name, err))
			a.mu.Lock()
			a.failed[id] = true // tried again at the next revision
			a.mu.Unlock()
		}
	}
	d.refreshServices()
	return errors.Join(errs...)
}

// devicesOf is what an instance's namespace is made of: its ENIs' devices,
// MACs and addresses. A change of it rebuilds the namespace; anything else
// (groups, routes, public IPs) lives in the forwarder.
func devicesOf(i *topology.Instance) string {
	var b strings.Builder
	for _, e := range i.ENIs {
		fmt.Fprintf(&b, "%s/%d/%x/%s", e.ID, e.DeviceIndex, e.MAC, e.Subnet.CIDR)
		for _, ip := range e.IPs() {
			b.WriteString("," + ip.String())
		}
		b.WriteString(";")
	}
	return b.String()
}

// callStore runs a changing operation as a transaction on the stored
// document (issue 16): the operation runs on the document as stored; its
// result is written only if nobody wrote in between, else it runs again on
// the newer one. It answers once this machine runs the result.
func (d *Daemon) callStore(name string, in map[string]any) (any, error) {
	a := d.agent
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out any
	var opErr error
	rev, err := a.cfg.Store.Update(ctx, a.cfg.Topology, func(spec []byte) ([]byte, error) {
		n, err := topology.Load(spec)
		if err != nil {
			return nil, fmt.Errorf("the stored network is not valid: %w", err)
		}
		svc := ec2.New(staticStore{n}, nopKernel{})
		out, opErr = svc.CallInput(name, in)
		if opErr != nil {
			return nil, opErr
		}
		return json.MarshalIndent(svc.Export(), "", " ")
	})
	switch {
	case opErr != nil:
		return nil, opErr
	case errors.Is(err, store.ErrUnavailable):
		return nil, &OpError{Code: "ServiceUnavailable", Message: fmt.Sprintf("%v: operations are refused until the store is back; "+
			"forwarding goes on with the last network applied", err)}
	case err != nil:
		return nil, &OpError{Code: "InternalError", Message: err.Error()}
	}
	a.waitApplied(rev, 5*time.Second)
	return out, nil
}

// staticStore is an ec2.Store over one network.
type staticStore struct{ n *topology.Network }

func (s staticStore) Network() *topology.Network { return s.n }

// nopKernel is the Kernel of an operation on the stored document: nothing
// is built where the operation runs; each agent builds its part when the
// document changes (reconcile).
type nopKernel struct{}

func (nopKernel) NamespaceExists(string) bool                          { return false }
func (nopKernel) LaunchInstance(*topology.Instance) error              { return nil }
func (nopKernel) RemoveInstance(*topology.Instance)                    {}
func (nopKernel) StopProcesses(*topology.Instance)                     {}
func (nopKernel) PlugENI(*topology.Instance, *topology.ENI, int) error { return nil }
func (nopKernel) UnplugENI(*topology.ENI)                              {}
func (nopKernel) ConfigureENI(*topology.ENI) error                     { return nil }
func (nopKernel) RemoveAddress(*topology.ENI, netip.Addr)              {}
func (nopKernel) RefreshHosts()                                        {}
func (nopKernel) ExplainPath(string, netip.Addr, uint8, uint16) (dataplane.PathAnalysis, error) {
	return dataplane.PathAnalysis{}, errors.New("path analysis runs on a machine's agent, not on the stored document")
}
