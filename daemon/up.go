package daemon

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vpcnet/vpcnet/dataplane"
	"github.com/vpcnet/vpcnet/ec2"
	"github.com/vpcnet/vpcnet/netns"
	"github.com/vpcnet/vpcnet/topology"
	"golang.org/x/sys/unix"
)

// Daemon is a running topology: its namespaces, ports, forwarder and
// user_data processes.
//
// mu guards net and st; the forwarder has its own locks.
type Daemon struct {
	mu   sync.Mutex
	net  *topology.Network
	st   *State
	svc  *ec2.Service // the EC2 operations on net; d is its Store and Kernel
	fwd  *dataplane.Forwarder
	exe  string    // this binary, put on user_data's PATH
	ep   *endpoint // the EC2 endpoint; set by Up before it serves, then fixed
	svcs *services // VPC services and the public DNS (services.go); nil until Up starts them
	done chan struct{}
	once sync.Once

	// metrics serves /metrics (settings.metrics, metrics.go); nil without
	// it. Set by Up before it serves, then fixed.
	metrics *metricsServer

	// agent is set when the daemon is one machine's agent of a network
	// in a store (agent.go, issue 16); nil on a single machine.
	agent *agent
}

// ErrAlreadyUp is returned by Up for a topology whose daemon runs.
var ErrAlreadyUp = errors.New("is already up")

// Up brings network n up in this process: a namespace per instance and
// internet host, a TAP device per ENI inside it, the forwarder on those
// devices, and user_data. On any failure it undoes what it made and returns
// the error. exe is the vpcnet binary for user_data's PATH; source is the
// topology file as given, kept as topology.json in the state folder.
func Up(n *topology.Network, exe string, source []byte) (*Daemon, error) {
	return up(n, exe, source, nil)
}

// up is Up, for a machine's agent when ag is not nil: it builds only what
// the placement puts on ag's machine.
func up(n *topology.Network, exe string, source []byte, ag *agent) (*Daemon, error) {
	if err := checkFree(n, ag.machineName()); err != nil {
		return nil, err
	}
	dir, err := MakeDir(n.Name)
	if err != nil {
		return nil, err
	}
	if err := os.Mkdir(filepath.Join(dir, "user-data"), dirMode); err != nil && !errors.Is(err, os.ErrExist) {
		os.RemoveAll(Dir(n.Name)) // nothing else is made yet
		return nil, err
	}
	if err := WriteFile(filepath.Join(dir, "topology.json"), source); err != nil {
		os.RemoveAll(Dir(n.Name))
		return nil, err
	}
	self := netns.Proc{PID: os.Getpid()}
	self.Start = netns.StartTimeOf(self.PID)
	d := newDaemon(n, dataplane.New(n, dataplane.Options{ConntrackMax: n.Settings.ConntrackMax,
		BusyPoll: time.Duration(n.Settings.BusyPollMicroseconds) * time.Microsecond, Machine: ag.machineName()}))
	d.exe, d.st.Daemon, d.agent = exe, self, ag
	// CreateFlowLogs's files: flow-logs/<group>.log, root's only (OBS-1).
	d.fwd.SetFlowLogDir(filepath.Join(dir, "flow-logs"))
	if fl := n.FlowLogs; fl != nil {
		if err := d.fwd.StartFlowLogs(fl, n.AccountID()); err != nil {
			d.fwd.Stop()
			os.RemoveAll(Dir(n.Name))
			return nil, err
		}
	}
	if err := d.openEndpoint(); err != nil {
		d.teardown()
		return nil, err
	}
	if err := d.openMetrics(); err != nil {
		d.teardown()
		return nil, err
	}
	// The VPCs' DNS servers first: user_data may resolve names at once.
	if err := d.startServices(); err != nil {
		d.teardown()
		return nil, err
	}
	if err := d.build(); err != nil {
		d.teardown()
		return nil, err
	}
	d.serveEndpoint()
	d.serveMetrics()
	return d, nil
}

// newDaemon returns a daemon for network n over forwarder fwd, with its
// EC2 service; nothing is built yet.
func newDaemon(n *topology.Network, fwd *dataplane.Forwarder) *Daemon {
	d := &Daemon{net: n, fwd: fwd, done: make(chan struct{}), st: &State{Name: n.Name}}
	d.svc = ec2.New(d, d)
	return d
}

// Network is the daemon's network (ec2.Store).
func (d *Daemon) Network() *topology.Network { return d.net }

// checkFree refuses a topology that is up, or whose namespaces exist.
func checkFree(n *topology.Network, machine string) error {
	if st, err := ReadState(n.Name); err == nil {
		if st.Daemon.Alive() {
			return fmt.Errorf("topology %q %w (daemon pid %d): see `sudo vpcnet status --topology %s`", n.Name, ErrAlreadyUp, st.Daemon.PID, n.Name)
		}
		// A dead daemon's leftovers: clean them, then go on.
		if err := Down(n.Name); err != nil {
			return fmt.Errorf("topology %q: cleaning the leftovers of a dead daemon: %w", n.Name, err)
		}
	}
	for _, ns := range append(namespaces(n, machine), serviceNamespaces(n, machine)...) {
		if netns.Exists(ns) {
			return fmt.Errorf("namespace %s exists and is not vpcnet's: remove it or rename the topology", ns)
		}
	}
	return nil
}

// namespaces are the instances' and hosts' namespaces that machine runs
// ("": all of them, on a single machine).
func namespaces(n *topology.Network, machine string) []string {
	var out []string
	for _, v := range n.VPCs {
		for _, i := range v.Instances {
			if placedHere(n, machine, i) {
				out = append(out, i.Namespace)
			}
		}
	}
	if hostsHere(n, machine) {
		for _, h := range append(n.OnPremHosts(), n.Hosts...) { // on-premises hosts: topology/coip.go
			out = append(out, h.Namespace)
		}
	}
	return out
}

// placedHere reports whether machine runs instance i (issue 16); on a
// single machine ("") it runs everything.
func placedHere(n *topology.Network, machine string, i *topology.Instance) bool {
	return machine == "" || n.HostOf(i) == machine
}

// hostsHere reports whether machine runs the emulated internet's hosts.
func hostsHere(n *topology.Network, machine string) bool {
	return machine == "" || n.InternetHost() == machine
}

func (d *Daemon) build() error {
	n := d.net
	hosts := hostEntries(n)
	m := d.agent.machineName()
	for _, v := range n.VPCs {
		for _, inst := range v.Instances {
			if !placedHere(n, m, inst) || inst.Stopped {
				continue
			}
			if err := d.buildInstance(inst, hosts); err != nil {
				return fmt.Errorf("instance %s: %w", inst.Name, err)
			}
		}
	}
	if !hostsHere(n, m) {
		return d.startAllUserData(false)
	}
	for _, h := range n.Hosts {
		if err := d.buildHost(h, hosts); err != nil {
			return fmt.Errorf("internet host %s: %w", h.Name, err)
		}
	}
	for _, h := range n.OnPremHosts() { // behind a local gateway (COIP-4), built like an internet host
		if err := d.buildHost(h, hosts); err != nil {
			return fmt.Errorf("on-premises host %s: %w", h.Name, err)
		}
	}
	return d.startAllUserData(true)
}

// startAllUserData writes every resolv.conf, then starts the user_data of
// the instances built here, and of the hosts when hosts says so.
func (d *Daemon) startAllUserData(hosts bool) error {
	n, m := d.net, d.agent.machineName()
	d.refreshServices() // resolv.conf before user_data starts (DNS-1)
	for _, v := range n.VPCs {
		for _, inst := range v.Instances {
			if !placedHere(n, m, inst) || inst.Stopped {
				continue
			}
			if err := d.startUserData(inst.Namespace, inst.Name, inst.UserData); err != nil {
				return err
			}
		}
	}
	if !hosts {
		return nil
	}
	for _, h := range append(n.OnPremHosts(), n.Hosts...) {
		if err := d.startUserData(h.Namespace, h.Name, h.UserData); err != nil {
			return err
		}
	}
	return nil
}

// addNamespace records then creates a namespace. Like every build step it
// runs before Serve, or with d.mu held by an operation.
func (d *Daemon) addNamespace(name string) (netns.Handle, error) {
	d.st.Namespaces = append(d.st.Namespaces, name)
	if err := d.st.write(); err != nil {
		return -1, err
	}
	return netns.Create(name)
}

// addPort creates TAP dev in ns, with tapQueues queues, and hands it to the
// forwarder under id.
func (d *Daemon) addPort(ns netns.Handle, dev, id string) error {
	var fds []int
	for range tapQueues() {
		fd, err := netns.OpenTUN(ns)
		if err != nil {
			for _, fd := range fds {
				unix.Close(fd)
			}
			return err
		}
		fds = append(fds, fd)
	}
	tap, err := dataplane.OpenTAP(fds, dev)
	if err != nil {
		return err
	}
	d.fwd.AttachPort(id, tap)
	return nil
}

// tapQueues is how many queues each ENI device gets: VPCNET_TAP_QUEUES
// (1–16), else 1. With N queues the instance's kernel spreads its flows
// over them and the forwarder reads each with its own worker
// (performance.md: multi-queue TAP is the way to more cores). It is not the
// default because on 2 CPUs it measured no faster, while attaching the extra
// queues made bring-up of 100 instances take about 1 s instead of 0.25 s.
func tapQueues() int {
	if n, err := strconv.Atoi(os.Getenv("VPCNET_TAP_QUEUES")); err == nil && n >= 1 && n <= 16 {
		return n
	}
	return 1
}

func (d *Daemon) buildInstance(inst *topology.Instance, hosts []netns.HostEntry) error {
	ns, err := d.addNamespace(inst.Namespace)
	if err != nil {
		return err
	}
	defer ns.Close()
	cfg := netns.Config{Hosts: hosts}
	for _, e := range inst.ENIs {
		dev := fmt.Sprintf("eth%d", e.DeviceIndex)
		if err := d.addPort(ns, dev, e.ID); err != nil {
			return fmt.Errorf("%s (%s): %w", dev, e.ID, err)
		}
		cfg.Ifaces = append(cfg.Ifaces, eniIface(dev, e))
	}
	return netns.Configure(inst.Namespace, ns, cfg)
}

func eniIface(dev string, e *topology.ENI) netns.Iface {
	ifc := netns.Iface{Name: dev, MAC: e.MAC, Gateway: e.Subnet.Router()}
	for _, ip := range e.IPs() {
		ifc.Addrs = append(ifc.Addrs, netip.PrefixFrom(ip, e.Subnet.CIDR.Bits()))
	}
	return ifc
}

func (d *Daemon) buildHost(h *topology.Host, hosts []netns.HostEntry) error {
	ns, err := d.addNamespace(h.Namespace)
	if err != nil {
		return err
	}
	defer ns.Close()
	if err := d.addPort(ns, "eth0", h.Name); err != nil {
		return err
	}
	return netns.Configure(h.Namespace, ns, netns.Config{OnLink: true, Hosts: hosts,
		Ifaces: []netns.Iface{{Name: "eth0", MAC: h.MAC, Addrs: []netip.Prefix{netip.PrefixFrom(h.IP, 32)}}}})
}

// hostEntries names every instance (by private IP) and internet host.
func hostEntries(n *topology.Network) []netns.HostEntry {
	var out []netns.HostEntry
	for _, v := range n.VPCs {
		for _, i := range v.Instances {
			out = append(out, netns.HostEntry{IP: i.Primary().PrimaryIP, Names: []string{i.Name}})
		}
	}
	for _, h := range append(n.OnPremHosts(), n.Hosts...) {
		out = append(out, netns.HostEntry{IP: h.IP, Names: []string{h.Name}})
	}
	return out
}

// startUserData runs cmd in namespace ns in the background (INST-3).
func (d *Daemon) startUserData(ns, name, cmd string) error {
	if cmd == "" {
		return nil
	}
	log := filepath.Join(Dir(d.net.Name), "user-data", name+".log")
	p, err := netns.Start(ns, cmd, log, filepath.Dir(d.exe), "VPCNET_INSTANCE="+name, "VPCNET_TOPOLOGY="+d.net.Name)
	if err != nil {
		return err
	}
	d.st.Procs = append(d.st.Procs, p)
	return d.st.write()
}

// Forwarder returns the daemon's forwarder.
func (d *Daemon) Forwarder() *dataplane.Forwarder { return d.fwd }

// Done is closed when the daemon has shut down.
func (d *Daemon) Done() <-chan struct{} { return d.done }

// Shutdown stops the forwarder, user_data and namespaces, and removes the
// state folder. It is safe to call more than once.
func (d *Daemon) Shutdown() {
	d.once.Do(func() {
		d.teardown()
		close(d.done)
	})
}

func (d *Daemon) teardown() {
	d.closeEndpoint()
	d.closeMetrics()
	d.fwd.Stop()
	d.stopServices()
	d.mu.Lock()
	st := *d.st
	d.mu.Unlock()
	cleanup(&st)
}

// cleanup removes what st records: processes (by PID and start time), then
// namespaces, then the state folder.
func cleanup(st *State) error {
	netns.StopAll(st.Procs, 2*time.Second)
	var errs []error
	for _, ns := range st.Namespaces {
		if !strings.HasPrefix(ns, st.Name+"-") {
			// Not one of this topology's: state.json was edited. Never
			// remove a namespace vpcnet did not name.
			errs = append(errs, fmt.Errorf("state.json names namespace %q, not of topology %s: left alone", ns, st.Name))
			continue
		}
		if err := netns.Delete(ns); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		os.RemoveAll(Dir(st.Name))
	}
	return errors.Join(errs...)
}

// Down removes topology name: it asks its daemon to stop, and then removes
// whatever remains, so it also works after the daemon was killed. A topology
// that is not up is already down.
func Down(name string) error {
	if err := topology.CheckName(name); err != nil {
		return err
	}
	st, err := ReadState(name)
	if errors.Is(err, ErrNotUp) {
		os.RemoveAll(Dir(name))
		return nil
	}
	if err != nil {
		return err
	}
	if st.Daemon.Alive() && st.Daemon.PID != os.Getpid() {
		// A daemon that answers takes itself down; one that does not
		// (frozen: SIGSTOP, or stuck) is killed, and the rest is cleaned
		// here from state.json.
		if err := NewClient(name).PostTimeout("/down", nil, nil, 2*time.Second); err == nil {
			for i := 0; i < 100 && st.Daemon.Alive(); i++ {
				time.Sleep(50 * time.Millisecond)
			}
		}
		st.Daemon.Stop(time.Second)
	}
	return cleanup(st)
}
