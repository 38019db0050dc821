package netns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Handle is an open namespace.
type Handle = vnetns.NsHandle

// init keeps the main goroutine on the main thread. inFreshThread locks
// threads and may leave one switched into an instance namespace; the Go
// runtime cannot end the main thread, so were the main thread ever given to
// such a goroutine it would be parked in that namespace for good, and the
// process's /proc/<pid>/ns/net would point into an instance.
func init() {
	runtime.LockOSThread()
	unix.SchedGetaffinity(0, &startCPUs)
}

// startCPUs are the CPUs the process could run on when it started, before
// the daemon pinned its forwarder (dataplane.PinProcess). Processes vpcnet
// starts for instances get them back (startAnywhere).
var startCPUs unix.CPUSet

// startAnywhere starts cmd from a thread of its own, bound to startCPUs, so
// that the child inherits those rather than the forwarder's CPUs. The
// thread is not reused: its goroutine ends while still locked to it.
func startAnywhere(cmd *exec.Cmd) error {
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if startCPUs.Count() > 0 {
			if err := unix.SchedSetaffinity(0, &startCPUs); err != nil {
				// Those CPUs are gone (a changed cpuset): the process
				// still starts, on the forwarder's.
				fmt.Fprintf(os.Stderr, "warning: %s starts on the forwarder's CPUs: sched_setaffinity: %v\n", cmd.Path, err)
			}
		}
		ch <- cmd.Start()
	}()
	return <-ch
}

// sourceRulePriority + N is the priority of the rules that send replies
// from ethN's addresses (N > 0) by ethN's own table, 100 + N.
const sourceRulePriority = 1000

// nsfsMagic is the statfs type of a namespace file (linux/magic.h).
const nsfsMagic = 0x6e736673

// checkName refuses names that are not one path element: a namespace name
// becomes /run/netns/<name> and /etc/netns/<name>.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("namespace name %q: want one path element", name)
	}
	return nil
}

// Create makes the named namespace (visible to `ip netns`), or opens it if
// it exists. A plain file where the namespace's bind mount belongs (left by
// a bring-up that failed between creating the file and mounting it) is
// removed and the namespace made. The calling goroutine's namespace is
// unchanged.
func Create(name string) (Handle, error) {
	if err := checkName(name); err != nil {
		return -1, err
	}
	if h, ok := openNamed(name); ok {
		return h, nil
	}
	if err := sharedRunDir(); err != nil {
		return -1, fmt.Errorf("create namespace %s: %w", name, err)
	}
	var h Handle
	err := inFreshThread(func() error {
		var err error
		h, err = vnetns.NewNamed(name)
		if errors.Is(err, os.ErrExist) {
			// Made meanwhile by someone else: use it if it is one.
			var ok bool
			if h, ok = openNamed(name); !ok {
				return fmt.Errorf("%s exists and is not a namespace", Path(name))
			}
			return nil
		}
		return err
	})
	if err != nil {
		return -1, fmt.Errorf("create namespace %s: %w", name, err)
	}
	return h, nil
}

// runDirOnce makes /run/netns a shared mount point once per process.
var runDirOnce = sync.OnceValue(func() error {
	dir := filepath.Dir(Path("x"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for made := false; ; made = true {
		err := unix.Mount("", dir, "none", unix.MS_SHARED|unix.MS_REC, "")
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EINVAL) || made {
			return fmt.Errorf("make %s a shared mount: %w", dir, err)
		}
		if err := unix.Mount(dir, dir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind-mount %s: %w", dir, err)
		}
	}
})

// sharedRunDir makes /run/netns a shared mount point, as `ip netns add`
// does before its first namespace. Were it a plain folder when vpcnet
// mounts namespaces there, a later `ip netns add` would bind-mount the
// folder onto itself over them, and their deletion would fail with EBUSY
// (the mounts below stay).
func sharedRunDir() error { return runDirOnce() }

// openNamed opens the named namespace if its path holds one. A leftover
// plain file there is removed.
func openNamed(name string) (Handle, bool) {
	h, err := vnetns.GetFromName(name)
	if err != nil {
		return -1, false
	}
	var fs unix.Statfs_t
	if err := unix.Fstatfs(int(h), &fs); err == nil && fs.Type == nsfsMagic {
		return h, true
	}
	h.Close()
	os.Remove(Path(name))
	return -1, false
}

// Exists reports whether the named namespace exists.
func Exists(name string) bool {
	var fs unix.Statfs_t
	return checkName(name) == nil && unix.Statfs(Path(name), &fs) == nil && fs.Type == nsfsMagic
}

// Delete ends every process of the named namespace, then removes the
// namespace and its /etc/netns folder; a namespace that does not exist is
// already deleted. The processes are those whose network namespace it is
// (what `ip netns exec` started too) and those in its cgroup (what Start
// started, wherever they moved): SIGTERM, up to deleteGrace to exit, then
// SIGKILL until none is left. Were one left, it would keep the namespace
// alive after its name is gone. An error names processes that outlived
// killTimeout; the name is removed all the same.
func Delete(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	procs := namespaceEnding(name)
	errEnd := procs.end(deleteGrace)
	if err := os.RemoveAll(filepath.Join("/etc/netns", name)); err != nil {
		return fmt.Errorf("delete namespace %s: %w", name, err)
	}
	err := vnetns.DeleteNamed(name)
	if err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete namespace %s: %w", name, err)
	}
	if err := os.Remove(Path(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete namespace %s: %w", name, err)
	}
	// One that entered while the first pass ran (a `vpcnet exec` of that
	// moment): the namespace can no longer be entered by name.
	if err := errors.Join(errEnd, procs.end(deleteGrace)); err != nil {
		return fmt.Errorf("delete namespace %s: %w", name, err)
	}
	return nil
}

// inFreshThread runs fn on a new locked OS thread. fn may switch the thread's
// namespace: the thread is never unlocked, so the runtime discards it when the
// goroutine ends, and no other goroutine ever runs in the wrong namespace.
// (The main thread, which the runtime cannot discard, never runs it: see
// init.)
func inFreshThread(fn func() error) error {
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		ch <- fn()
	}()
	return <-ch
}

// Do runs fn on a thread inside ns.
func Do(ns Handle, fn func() error) error {
	return inFreshThread(func() error {
		if err := vnetns.Set(ns); err != nil {
			return fmt.Errorf("enter namespace: %w", err)
		}
		return fn()
	})
}

// OpenTUN opens /dev/net/tun from inside ns, so that the TAP device made on
// the descriptor lives in ns. The descriptor itself works from anywhere.
func OpenTUN(ns Handle) (int, error) {
	fd := -1
	err := Do(ns, func() error {
		var err error
		fd, err = unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return -1, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	return fd, nil
}

// Sysctl writes /proc/sys/<key> inside ns (key uses slashes or dots).
func Sysctl(ns Handle, key, value string) error {
	if !strings.Contains(key, "/") {
		key = strings.ReplaceAll(key, ".", "/")
	}
	path := "/proc/sys/" + key
	return Do(ns, func() error { return os.WriteFile(path, []byte(value), 0o644) })
}

// Configure brings lo and every interface of cfg up in ns, with MAC,
// addresses, the default route and, for ethN (N>0), source-based routing.
// It also turns IPv6 off (VPCs here are IPv4) and writes the hosts file.
func Configure(name string, ns Handle, cfg Config) error {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink in %s: %w", name, err)
	}
	defer h.Close()
	for _, k := range []string{"net/ipv6/conf/all/disable_ipv6", "net/ipv6/conf/default/disable_ipv6"} {
		if err := Sysctl(ns, k, "1"); err != nil {
			return fmt.Errorf("%s: sysctl %s: %w", name, k, err)
		}
	}
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("%s: lo: %w", name, err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("%s: lo up: %w", name, err)
	}
	for i, ifc := range cfg.Ifaces {
		if err := configureIface(h, i, ifc, cfg.OnLink); err != nil {
			return fmt.Errorf("%s: %s: %w", name, ifc.Name, err)
		}
	}
	return WriteHosts(name, cfg.Hosts)
}

func configureIface(h *netlink.Handle, index int, ifc Iface, onLink bool) error {
	link, err := h.LinkByName(ifc.Name)
	if err != nil {
		return err
	}
	if err := h.LinkSetHardwareAddr(link, ifc.MAC); err != nil {
		return fmt.Errorf("set MAC: %w", err)
	}
	for _, p := range ifc.Addrs {
		a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}}
		if err := h.AddrReplace(link, a); err != nil {
			return fmt.Errorf("address %s: %w", p, err)
		}
	}
	if err := h.LinkSetUp(link); err != nil {
		return fmt.Errorf("up: %w", err)
	}
	attrs := link.Attrs()
	_, defNet, _ := net.ParseCIDR("0.0.0.0/0")
	route := &netlink.Route{LinkIndex: attrs.Index, Dst: defNet}
	switch {
	case onLink:
		route.Scope = netlink.SCOPE_LINK
	case ifc.Gateway.IsValid():
		route.Gw = ifc.Gateway.AsSlice()
	default:
		return nil
	}
	if index == 0 {
		return h.RouteReplace(route)
	}
	// Source routing: ethN's own table, chosen by its addresses.
	table := 100 + index
	route.Table = table
	if err := h.RouteReplace(route); err != nil {
		return fmt.Errorf("table %d default: %w", table, err)
	}
	for _, p := range ifc.Addrs {
		sub := &netlink.Route{LinkIndex: attrs.Index, Table: table, Scope: netlink.SCOPE_LINK,
			Dst: &net.IPNet{IP: p.Masked().Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}}
		if err := h.RouteReplace(sub); err != nil {
			return fmt.Errorf("table %d subnet: %w", table, err)
		}
		rule := netlink.NewRule()
		rule.Src = &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(32, 32)}
		rule.Table = table
		rule.Priority = sourceRulePriority + index
		if err := h.RuleAdd(rule); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("rule from %s: %w", p.Addr(), err)
		}
	}
	return nil
}

// WriteHosts (re)writes /etc/netns/<name>/hosts, which `ip netns exec` shows as
// /etc/hosts inside the namespace. With no entries, a hosts file written
// before is removed (the namespace then sees the host's /etc/hosts).
func WriteHosts(name string, entries []HostEntry) error {
	if err := checkName(name); err != nil {
		return err
	}
	dir := filepath.Join("/etc/netns", name)
	if len(entries) == 0 {
		if err := os.Remove(filepath.Join(dir, "hosts")); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("127.0.0.1\tlocalhost\n")
	for _, e := range entries {
		fmt.Fprintf(&b, "%s\t%s\n", e.IP, strings.Join(e.Names, " "))
	}
	return os.WriteFile(filepath.Join(dir, "hosts"), []byte(b.String()), 0o644)
}

// ConfigureIface configures one interface added to a running namespace
// (an ENI attached live as eth<index>).
func ConfigureIface(name string, ns Handle, index int, ifc Iface) error {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink in %s: %w", name, err)
	}
	defer h.Close()
	if err := configureIface(h, index, ifc, false); err != nil {
		return fmt.Errorf("%s: %s: %w", name, ifc.Name, err)
	}
	return nil
}

// DelAddr removes address p from device dev in ns, with the source-routing
// rule that sent replies from it by dev's table; a missing address, rule or
// device is already removed.
func DelAddr(ns Handle, dev string, p netip.Prefix) error {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer h.Close()
	rules, err := h.RuleList(unix.AF_INET)
	if err != nil {
		return fmt.Errorf("%s: list rules: %w", dev, err)
	}
	for _, r := range rules {
		if r.Src != nil && r.Src.IP.Equal(p.Addr().AsSlice()) && r.Priority > sourceRulePriority {
			if err := h.RuleDel(&r); err != nil && !errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("%s: rule from %s: %w", dev, p.Addr(), err)
			}
		}
	}
	link, err := h.LinkByName(dev)
	var notFound netlink.LinkNotFoundError
	if errors.As(err, &notFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", dev, err)
	}
	a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}}
	if err := h.AddrDel(link, a); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
		return fmt.Errorf("%s: delete %s: %w", dev, p, err)
	}
	return nil
}

// LinkNames returns the names of the links in the named namespace, to
// check that the devices vpcnet made are still there (one deleted by hand
// is reported by `vpcnet status`).
func LinkNames(name string) (map[string]bool, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	ns, err := vnetns.GetFromName(name)
	if err != nil {
		return nil, fmt.Errorf("namespace %s: %w", name, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("namespace %s: %w", name, err)
	}
	defer h.Close()
	links, err := h.LinkList()
	if err != nil {
		return nil, fmt.Errorf("namespace %s: %w", name, err)
	}
	out := make(map[string]bool, len(links))
	for _, l := range links {
		out[l.Attrs().Name] = true
	}
	return out, nil
}

// Current returns a handle on the calling thread's namespace: where an
// agent runs, the underlay (issue 16). The caller closes it.
func Current() (Handle, error) { return vnetns.Get() }

// Open returns a handle on the existing named namespace (`vpcnet agent
// --netns`: the underlay of a machine simulated on this host). The caller
// closes it.
func Open(name string) (Handle, error) {
	if err := checkName(name); err != nil {
		return -1, err
	}
	h, ok := openNamed(name)
	if !ok {
		return -1, fmt.Errorf("namespace %s does not exist", name)
	}
	return h, nil
}

// Dialer returns a dial function whose TCP sockets are made in namespace
// ns (a socket keeps the namespace it was made in), for a client in this
// process that must reach a server there: the store of an agent whose
// underlay is ns.
func Dialer(ns Handle) func(ctx context.Context, addr string) (net.Conn, error) {
	return func(ctx context.Context, addr string) (net.Conn, error) {
		var conn net.Conn
		err := Do(ns, func() error {
			var d net.Dialer
			var err error
			conn, err = d.DialContext(ctx, "tcp", addr)
			return err
		})
		return conn, err
	}
}

// DialIn opens a TCP connection from inside the named namespace to addr
// ("ip:port") within timeout: a test's client in an instance.
func DialIn(name, addr string, timeout time.Duration) (net.Conn, error) {
	h, err := Open(name)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return Dialer(h)(ctx, addr)
}

// OpenUDP returns a UDP socket made in namespace ns and bound to addr and
// port there, blocking, for dataplane.OpenGeneve. Bound to the one
// address, the machine sends from the address its peers know; without
// SO_REUSEADDR, a second agent on the port fails instead of taking it.
func OpenUDP(ns Handle, addr netip.Addr, port int) (int, error) {
	fd := -1
	err := Do(ns, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrInet4{Port: port, Addr: addr.As4()}); err != nil {
			unix.Close(fd)
			fd = -1
			return fmt.Errorf("bind UDP %s:%d: %w", addr, port, err)
		}
		return nil
	})
	return fd, err
}

// SourceToward is the source address the kernel of namespace ns picks
// toward dst: the agent's address on the machines' network when
// --underlay is not given.
func SourceToward(ns Handle, dst net.IP) (netip.Addr, error) {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return netip.Addr{}, err
	}
	defer h.Delete()
	routes, err := h.RouteGet(dst)
	if err != nil || len(routes) == 0 || routes[0].Src == nil {
		return netip.Addr{}, fmt.Errorf("no route toward %s gives a source address: %v", dst, err)
	}
	a, _ := netip.AddrFromSlice(routes[0].Src.To4())
	return a, nil
}
