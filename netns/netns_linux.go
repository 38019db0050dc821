package netns

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Handle is an open namespace.
type Handle = vnetns.NsHandle

// Create makes the named namespace (visible to `ip netns`), or opens it if
// it exists. The calling goroutine's namespace is unchanged.
func Create(name string) (Handle, error) {
	if h, err := vnetns.GetFromName(name); err == nil {
		return h, nil
	}
	var h Handle
	err := inFreshThread(func() error {
		var err error
		h, err = vnetns.NewNamed(name)
		if errors.Is(err, os.ErrExist) {
			h, err = vnetns.GetFromName(name)
		}
		return err
	})
	if err != nil {
		return -1, fmt.Errorf("create namespace %s: %w", name, err)
	}
	return h, nil
}

// Exists reports whether the named namespace exists.
func Exists(name string) bool {
	_, err := os.Stat(Path(name))
	return err == nil
}

// Delete removes the named namespace and its /etc/netns folder; a namespace
// that does not exist is already deleted.
func Delete(name string) error {
	os.RemoveAll(filepath.Join("/etc/netns", name))
	err := vnetns.DeleteNamed(name)
	if err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete namespace %s: %w", name, err)
	}
	os.Remove(Path(name))
	return nil
}

// inFreshThread runs fn on a new locked OS thread. fn may switch the thread's
// namespace: the thread is never unlocked, so the runtime discards it when the
// goroutine ends, and no other goroutine ever runs in the wrong namespace.
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
	path := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
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
		rule.Priority = 1000 + index
		if err := h.RuleAdd(rule); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("rule from %s: %w", p.Addr(), err)
		}
	}
	return nil
}

// WriteHosts (re)writes /etc/netns/<name>/hosts, which `ip netns exec` shows as
// /etc/hosts inside the namespace.
func WriteHosts(name string, entries []HostEntry) error {
	if len(entries) == 0 {
		return nil
	}
	dir := filepath.Join("/etc/netns", name)
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

// DelAddr removes address p from device dev in ns; a missing address or
// device is already removed.
func DelAddr(ns Handle, dev string, p netip.Prefix) error {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	link, err := h.LinkByName(dev)
	if err != nil {
		return nil
	}
	a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}}
	if err := h.AddrDel(link, a); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
		return err
	}
	return nil
}
