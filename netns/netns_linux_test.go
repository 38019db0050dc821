//go:build linux

package netns

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// These tests make real namespaces. Network safety: nothing is ever added to
// the namespace the test runs in (guardHost checks it), every namespace is
// named vpcnt-<pid>-<n> and removed through t.Cleanup, and the only traffic
// sent goes from a test namespace to a TAP this test holds. The tests also
// stop before a broken Do, Sysctl or OpenTUN could make them change the
// test's own namespace (newNS, inside, addTAP), and name devices so that a
// netlink handle bound to the wrong namespace finds nothing to change.

// Device names inside the test namespaces, which the test's own namespace
// does not have (addTAP checks).
const (
	eth0 = "vpcnt-eth0"
	eth1 = "vpcnt-eth1"
)

// requireRoot skips a test that needs root.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces)")
	}
}

var nsSeq atomic.Int64

// uniqueName returns a namespace name no other test or process uses.
func uniqueName() string { return fmt.Sprintf("vpcnt-%d-%d", os.Getpid(), nsSeq.Add(1)) }

// newNS creates a namespace through Create and removes it (and its
// /etc/netns folder) when the test ends.
func newNS(t *testing.T) (string, Handle) {
	t.Helper()
	name := uniqueName()
	if Exists(name) {
		t.Fatalf("namespace %s exists already: not ours, left alone", name)
	}
	t.Cleanup(func() {
		if err := Delete(name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		if Exists(name) {
			t.Errorf("cleanup: namespace %s left behind", name)
		}
	})
	h, err := Create(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	checkSysctlInside(t, h)
	return name, h
}

// inside runs fn in ns through Do, once fn's thread is known to be in ns: a
// Do that did not switch must not make a test change the test's own
// namespace.
func inside(t *testing.T, ns Handle, fn func() error) error {
	t.Helper()
	want := fmt.Sprintf("net:[%d]", nsInode(t, int(ns)))
	return Do(ns, func() error {
		got, err := os.Readlink("/proc/thread-self/ns/net")
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("Do runs in %s, not in the test namespace %s: stopped", got, want)
		}
		return fn()
	})
}

// checkSysctlInside stops the test unless Sysctl writes inside ns (Configure
// uses it to turn IPv6 off). Sysctl is given the test's own value, so a
// Sysctl that wrote in the test's namespace would change nothing there.
func checkSysctlInside(t *testing.T, ns Handle) {
	t.Helper()
	const key = "net/ipv4/ip_default_ttl"
	b, err := os.ReadFile("/proc/sys/" + key)
	if err != nil {
		t.Fatal(err)
	}
	own, other := strings.TrimSpace(string(b)), "63"
	if own == other {
		other = "65"
	}
	if err := inside(t, ns, func() error { return os.WriteFile("/proc/sys/"+key, []byte(other), 0o644) }); err != nil {
		t.Fatal(err)
	}
	if err := Sysctl(ns, key, own); err != nil {
		t.Fatal(err)
	}
	if got := readSysctl(t, ns, key); got != own {
		t.Fatalf("Sysctl did not write inside the namespace (%s there is %s, want %s): stopped", key, got, own)
	}
}

// handleAt returns a netlink handle bound to ns.
func handleAt(t *testing.T, ns Handle) *netlink.Handle {
	t.Helper()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// tap is a TAP device made on a descriptor from OpenTUN, with a goroutine
// that copies every frame it reads to frames. It is opened with plain ioctls
// rather than dataplane.OpenTAP, so that these tests depend on nothing above
// netns.
type tap struct {
	name   string
	file   *os.File
	frames chan []byte
}

func addTAP(t *testing.T, ns Handle, name string) *tap {
	t.Helper()
	if _, err := handleAt(t, hostNS).LinkByName(name); err == nil {
		t.Fatalf("the test's own namespace has a link %s", name)
	}
	fd, err := OpenTUN(ns)
	if err != nil {
		t.Fatal(err)
	}
	// The descriptor's namespace decides where TUNSETIFF makes the device.
	nsfd, err := unix.IoctlRetInt(fd, unix.SIOCGSKNS)
	if err != nil {
		unix.Close(fd)
		t.Fatalf("SIOCGSKNS: %v", err)
	}
	got := nsInode(t, nsfd)
	unix.Close(nsfd)
	if want := nsInode(t, int(ns)); got != want {
		unix.Close(fd)
		t.Fatalf("OpenTUN's descriptor belongs to namespace %d, not %d: stopped before making %s", got, want, name)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		t.Fatalf("TUNSETIFF %s: %v", name, err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	tp := &tap{name: name, file: os.NewFile(uintptr(fd), "/dev/net/tun:"+name), frames: make(chan []byte, 64)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			n, err := tp.file.Read(buf)
			if err != nil {
				return // closed
			}
			select {
			case tp.frames <- bytes.Clone(buf[:n]):
			default: // nobody is looking
			}
		}
	}()
	t.Cleanup(func() { tp.file.Close(); <-done })
	return tp
}

// expectARP waits for an ARP request for target from sender, with MAC mac in
// both the Ethernet and the ARP header. Other frames are skipped.
func (tp *tap) expectARP(t *testing.T, mac net.HardwareAddr, sender, target netip.Addr) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	var seen []string
	for {
		select {
		case f := <-tp.frames:
			if len(f) < 42 || binary.BigEndian.Uint16(f[12:14]) != unix.ETH_P_ARP {
				seen = append(seen, fmt.Sprintf("%d bytes, type %#x", len(f), f[12:14]))
				continue
			}
			op := binary.BigEndian.Uint16(f[20:22])
			spa, _ := netip.AddrFromSlice(f[28:32])
			tpa, _ := netip.AddrFromSlice(f[38:42])
			got := fmt.Sprintf("ARP op %d from %s (eth %s, sha %s) for %s", op, spa,
				net.HardwareAddr(f[6:12]), net.HardwareAddr(f[22:28]), tpa)
			want := fmt.Sprintf("ARP op 1 from %s (eth %s, sha %s) for %s", sender, mac, mac, target)
			if got == want {
				return
			}
			seen = append(seen, got)
		case <-timeout:
			t.Fatalf("%s: no ARP request from %s (%s) for %s; saw %q", tp.name, sender, mac, target, seen)
		}
	}
}

// sendUDP sends one datagram from inside ns (from src, if valid) to dst. It
// never leaves ns: the kernel first asks for the next hop's MAC on a TAP this
// test holds.
func sendUDP(t *testing.T, ns Handle, src, dst netip.Addr) {
	t.Helper()
	err := inside(t, ns, func() error {
		var laddr *net.UDPAddr
		if src.IsValid() {
			laddr = net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0))
		}
		c, err := net.DialUDP("udp4", laddr, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, 9)))
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("vpcnet test"))
		return err
	})
	if err != nil {
		t.Fatalf("send from %v to %s: %v", src, dst, err)
	}
}

// readSysctl reads /proc/sys/<key> (slashes) inside ns.
func readSysctl(t *testing.T, ns Handle, key string) string {
	t.Helper()
	var b []byte
	err := inside(t, ns, func() error {
		var err error
		b, err = os.ReadFile("/proc/sys/" + key)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// nsInode returns the inode of the namespace behind a descriptor.
func nsInode(t *testing.T, fd int) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// hostNS is the namespace the test process runs in, opened before any test
// runs (/proc/self/ns/net is the main thread's).
var hostNS, hostNSErr = vnetns.GetFromPath("/proc/self/ns/net")

// hostNSInode returns the inode of the namespace the test process runs in.
func hostNSInode(t *testing.T) uint64 {
	t.Helper()
	if hostNSErr != nil {
		t.Fatal(hostNSErr)
	}
	return nsInode(t, int(hostNS))
}

// mountsAt counts the mounts on path in this process's mount table.
func mountsAt(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for line := range strings.SplitSeq(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == path {
			n++
		}
	}
	return n
}

// ipNetnsList returns the names `ip netns list` shows; ok is false without
// iproute2.
func ipNetnsList(t *testing.T) (names []string, ok bool) {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, false
	}
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v: %s", err, out)
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names, true
}

func linkByName(t *testing.T, h *netlink.Handle, name string) netlink.Link {
	t.Helper()
	l, err := h.LinkByName(name)
	if err != nil {
		t.Fatalf("link %s: %v", name, err)
	}
	return l
}

// addrs returns dev's addresses (every family), sorted.
func addrs(t *testing.T, h *netlink.Handle, dev string) []string {
	t.Helper()
	as, err := h.AddrList(linkByName(t, h, dev), netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range as {
		out = append(out, a.IPNet.String())
	}
	slices.Sort(out)
	return out
}

// routes returns the IPv4 routes of table as "dst [via gw] dev name [scope link]",
// sorted; with defaultOnly, only the default routes.
func routes(t *testing.T, h *netlink.Handle, table int, defaultOnly bool) []string {
	t.Helper()
	rs, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: table}, netlink.RT_FILTER_TABLE)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rs {
		dst := "default"
		if r.Dst != nil && r.Dst.String() != "0.0.0.0/0" {
			if defaultOnly {
				continue
			}
			dst = r.Dst.String()
		}
		s := dst
		if r.Gw != nil {
			s += " via " + r.Gw.String()
		}
		if l, err := h.LinkByIndex(r.LinkIndex); err == nil {
			s += " dev " + l.Attrs().Name
		} else {
			s += fmt.Sprintf(" dev #%d", r.LinkIndex)
		}
		if r.Scope == netlink.SCOPE_LINK {
			s += " scope link"
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// rules returns the IPv4 rules other than the three every namespace starts
// with, as "prio: from src lookup table", sorted.
func rules(t *testing.T, h *netlink.Handle) []string {
	t.Helper()
	rs, err := h.RuleList(netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rs {
		switch r.Table {
		case unix.RT_TABLE_LOCAL, unix.RT_TABLE_MAIN, unix.RT_TABLE_DEFAULT:
			continue
		}
		from := "all"
		if r.Src != nil {
			from = r.Src.String()
		}
		out = append(out, fmt.Sprintf("%d: from %s lookup %d", r.Priority, from, r.Table))
	}
	slices.Sort(out)
	return out
}

func equal(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

// hostState describes the links, addresses, routes (every table) and rules
// of the namespace the test process runs in, one sorted line each.
func hostState(t *testing.T) []string {
	t.Helper()
	if hostNSErr != nil {
		t.Fatal(hostNSErr)
	}
	h, err := netlink.NewHandleAt(hostNS)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for attempt := 0; ; attempt++ {
		lines, err := dumpState(h)
		if errors.Is(err, netlink.ErrDumpInterrupted) && attempt < 5 {
			continue
		}
		if err != nil {
			t.Fatalf("host state: %v", err)
		}
		slices.Sort(lines)
		return lines
	}
}

func dumpState(h *netlink.Handle) ([]string, error) {
	var lines []string
	links, err := h.LinkList()
	if err != nil {
		return nil, err
	}
	for _, l := range links {
		a := l.Attrs()
		lines = append(lines, fmt.Sprintf("link %d %s %s %s mtu %d master %d flags %s",
			a.Index, a.Name, l.Type(), a.HardwareAddr, a.MTU, a.MasterIndex, a.Flags))
	}
	as, err := h.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, err
	}
	for _, a := range as {
		lines = append(lines, fmt.Sprintf("addr %d %s", a.LinkIndex, a.IPNet))
	}
	rs, err := h.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		lines = append(lines, fmt.Sprintf("route table %d type %d dst %v src %v gw %v dev %d scope %d proto %d metric %d",
			r.Table, r.Type, r.Dst, r.Src, r.Gw, r.LinkIndex, r.Scope, r.Protocol, r.Priority))
	}
	rls, err := h.RuleList(netlink.FAMILY_ALL)
	if err != nil {
		return nil, err
	}
	for _, r := range rls {
		lines = append(lines, "rule "+r.String())
	}
	return lines, nil
}

// guardHost fails the test if, once everything it made is removed, the
// namespace the test runs in has other links, addresses, routes or rules
// than before. Call it before creating anything: cleanups run last-in
// first-out, so the check runs after every namespace is gone.
func guardHost(t *testing.T) {
	t.Helper()
	before := hostState(t)
	t.Cleanup(func() {
		after := hostState(t)
		if slices.Equal(before, after) {
			return
		}
		for _, l := range before {
			if !slices.Contains(after, l) {
				t.Errorf("host namespace lost: %s", l)
			}
		}
		for _, l := range after {
			if !slices.Contains(before, l) {
				t.Errorf("host namespace gained: %s", l)
			}
		}
	})
}

// Create makes a named namespace (a bind mount of an nsfs inode at
// /run/netns/<name>, listed by `ip netns`), other than the test's own; a
// second Create of the same name opens the same namespace, mounts nothing
// more, and the new handle works.
func TestCreateReusesExisting(t *testing.T) {
	requireRoot(t)
	name, h1 := newNS(t)

	var fs unix.Statfs_t
	if err := unix.Statfs(Path(name), &fs); err != nil {
		t.Fatal(err)
	}
	if fs.Type != unix.NSFS_MAGIC {
		t.Fatalf("%s is on filesystem %#x, not nsfs", Path(name), fs.Type)
	}
	var st unix.Stat_t
	if err := unix.Stat(Path(name), &st); err != nil {
		t.Fatal(err)
	}
	ino := nsInode(t, int(h1))
	if st.Ino != ino {
		t.Fatalf("handle is namespace %d, %s is %d", ino, Path(name), st.Ino)
	}
	if ino == hostNSInode(t) {
		t.Fatal("Create returned the test's own namespace")
	}
	if n := mountsAt(t, Path(name)); n != 1 {
		t.Fatalf("%d mounts on %s after Create, want 1", n, Path(name))
	}
	if names, ok := ipNetnsList(t); ok && !slices.Contains(names, name) {
		t.Fatalf("ip netns list shows %q, not %s", names, name)
	}

	h2, err := Create(name)
	if err != nil {
		t.Fatalf("second Create: %v", err)
	}
	defer h2.Close()
	if h2 == h1 {
		t.Fatal("second Create returned the same descriptor: the caller would close it twice")
	}
	if got := nsInode(t, int(h2)); got != ino {
		t.Fatalf("second Create opened namespace %d, want %d", got, ino)
	}
	if n := mountsAt(t, Path(name)); n != 1 {
		t.Fatalf("%d mounts on %s after the second Create, want 1", n, Path(name))
	}
	// A change through the first handle shows through the second.
	nl1, nl2 := handleAt(t, h1), handleAt(t, h2)
	if err := nl1.LinkSetUp(linkByName(t, nl1, "lo")); err != nil {
		t.Fatal(err)
	}
	if lo := linkByName(t, nl2, "lo"); lo.Attrs().Flags&net.FlagUp == 0 {
		t.Fatal("lo set up through the first handle is down through the second")
	}
}

// Exists follows the namespace through Create and Delete.
func TestExists(t *testing.T) {
	requireRoot(t)
	name := uniqueName()
	if Exists(name) {
		t.Fatalf("%s exists before Create", name)
	}
	t.Cleanup(func() { Delete(name) })
	h, err := Create(name)
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	if !Exists(name) {
		t.Fatalf("%s does not exist after Create", name)
	}
	if err := Delete(name); err != nil {
		t.Fatal(err)
	}
	if Exists(name) {
		t.Fatalf("%s exists after Delete", name)
	}
}

// Delete unmounts and removes /run/netns/<name>, removes /etc/netns/<name>,
// and treats a namespace that is gone, never was, or is only a leftover
// file (no mount) as done.
func TestDelete(t *testing.T) {
	requireRoot(t)
	name, _ := newNS(t)
	etc := filepath.Join("/etc/netns", name)
	if err := WriteHosts(name, []HostEntry{{IP: netip.MustParseAddr("10.0.1.10"), Names: []string{"web"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(etc, "hosts")); err != nil {
		t.Fatal(err)
	}

	if err := Delete(name); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(Path(name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s after Delete: %v", Path(name), err)
	}
	if n := mountsAt(t, Path(name)); n != 0 {
		t.Errorf("%d mounts left on %s", n, Path(name))
	}
	if _, err := os.Lstat(etc); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s after Delete: %v", etc, err)
	}
	if names, ok := ipNetnsList(t); ok && slices.Contains(names, name) {
		t.Errorf("ip netns list still shows %s", name)
	}

	if err := Delete(name); err != nil {
		t.Errorf("second Delete: %v", err)
	}
	if err := Delete(uniqueName()); err != nil {
		t.Errorf("Delete of a namespace that never was: %v", err)
	}

	// A leftover file without a mount (a create that stopped half-way).
	stale := uniqueName()
	staleEtc := filepath.Join("/etc/netns", stale)
	t.Cleanup(func() { os.Remove(Path(stale)); os.RemoveAll(staleEtc) })
	if err := os.WriteFile(Path(stale), nil, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(staleEtc, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Delete(stale); err != nil {
		t.Errorf("Delete of an unmounted leftover: %v", err)
	}
	if _, err := os.Lstat(Path(stale)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover %s after Delete: %v", Path(stale), err)
	}
	if _, err := os.Lstat(staleEtc); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover %s after Delete: %v", staleEtc, err)
	}
}

// Do runs fn on a thread inside the namespace (it sees that namespace's
// links, and its changes land there), returns fn's error, and leaves no
// thread of the process behind in the namespace.
func TestDo(t *testing.T) {
	requireRoot(t)
	_, ns := newNS(t)
	ino, host := nsInode(t, int(ns)), hostNSInode(t)
	hostNL := handleAt(t, hostNS)
	hostLo, err := hostNL.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}

	want := fmt.Sprintf("net:[%d]", ino)
	var where string
	var links []string
	var loUp bool
	err = Do(ns, func() error {
		var err error
		if where, err = os.Readlink("/proc/thread-self/ns/net"); err != nil {
			return err
		}
		if where != want {
			return fmt.Errorf("fn runs in %s, want %s (the test runs in net:[%d])", where, want, host)
		}
		ls, err := netlink.LinkList()
		if err != nil {
			return err
		}
		for _, l := range ls {
			links = append(links, l.Attrs().Name)
			loUp = loUp || l.Attrs().Name == "lo" && l.Attrs().Flags&net.FlagUp != 0
		}
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		return netlink.LinkSetUp(lo)
	})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "links seen inside", links, []string{"lo"})
	if loUp {
		t.Error("lo of a fresh namespace is up")
	}
	if lo := linkByName(t, handleAt(t, ns), "lo"); lo.Attrs().Flags&net.FlagUp == 0 {
		t.Error("lo set up by fn is down in the namespace")
	}
	if lo, err := hostNL.LinkByName("lo"); err != nil || lo.Attrs().Index != hostLo.Attrs().Index || lo.Attrs().Flags != hostLo.Attrs().Flags {
		t.Errorf("the test's own lo changed: %v, err %v (was %v)", lo.Attrs(), err, hostLo.Attrs())
	}

	sentinel := errors.New("from fn")
	if err := Do(ns, func() error { return sentinel }); !errors.Is(err, sentinel) {
		t.Errorf("Do returned %v, want fn's error", err)
	}

	// A descriptor that is not a namespace: Do fails and fn never runs.
	f, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ran := false
	if err := Do(Handle(f.Fd()), func() error { ran = true; return nil }); err == nil || ran {
		t.Errorf("Do with /dev/null as namespace: err %v, fn ran %v", err, ran)
	}

	// Every thread that entered ns ends with its goroutine, so no Go code
	// runs there by accident. That includes the main thread, which the
	// runtime cannot end: the package's init keeps it from ever running the
	// goroutine of inFreshThread (else it would be parked for good inside
	// ns, moving /proc/<pid>/ns/net and keeping a deleted namespace alive).
	for range 20 {
		if err := Do(ns, func() error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	var left []string
	deadline := time.Now().Add(5 * time.Second)
	for {
		left = left[:0]
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			if l, err := os.Readlink("/proc/self/task/" + task.Name() + "/ns/net"); err == nil && l == want {
				left = append(left, task.Name())
			}
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("threads %v of the test process are still in the namespace", left)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The TAP made on OpenTUN's descriptor lives in the namespace, not in the
// test's; the descriptor works from the test's goroutine, and closing it
// removes the device.
func TestOpenTUNMakesTAPInNamespace(t *testing.T) {
	requireRoot(t)
	name, ns := newNS(t)
	const dev = "vpcnt-tap0"
	tp := addTAP(t, ns, dev) // checks that the test's namespace has no such link
	hostNL := handleAt(t, hostNS)
	nl := handleAt(t, ns)
	l := linkByName(t, nl, dev)
	if l.Type() != "tuntap" || l.Attrs().EncapType != "ether" {
		t.Fatalf("%s is %s/%s, want a TAP (tuntap/ether)", dev, l.Type(), l.Attrs().EncapType)
	}
	var lnf netlink.LinkNotFoundError
	if _, err := hostNL.LinkByName(dev); !errors.As(err, &lnf) {
		t.Fatalf("%s in the test's namespace: %v", dev, err)
	}

	mac := net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x01, 0x0a}
	ifc := Iface{Name: dev, MAC: mac, Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.1.10/24")},
		Gateway: netip.MustParseAddr("10.0.1.1")}
	if err := ConfigureIface(name, ns, 0, ifc); err != nil {
		t.Fatal(err)
	}
	sendUDP(t, ns, netip.Addr{}, netip.MustParseAddr("10.0.1.99"))
	tp.expectARP(t, mac, netip.MustParseAddr("10.0.1.10"), netip.MustParseAddr("10.0.1.99"))

	tp.file.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := nl.LinkByName(dev)
		if errors.As(err, &lnf) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still there after its descriptor closed: %v", dev, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Configure sets up an instance with two ENIs: lo up, MACs, addresses,
// eth0's gateway as the default route, eth1's addresses routed through
// table 101 by source rules, IPv6 off, and the hosts file. Running it again
// changes nothing, and the test's own namespace never changes.
func TestConfigure(t *testing.T) {
	requireRoot(t)
	guardHost(t)
	name, ns := newNS(t)
	tap0, tap1 := addTAP(t, ns, eth0), addTAP(t, ns, eth1)
	mac0 := net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x01, 0x0a}
	mac1 := net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x02, 0x14}
	cfg := Config{
		Ifaces: []Iface{
			{Name: eth0, MAC: mac0, Gateway: netip.MustParseAddr("10.0.1.1"),
				Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.1.10/24"), netip.MustParsePrefix("10.0.1.11/24")}},
			{Name: eth1, MAC: mac1, Gateway: netip.MustParseAddr("10.0.2.1"),
				Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.2.20/24")}},
		},
		Hosts: []HostEntry{
			{IP: netip.MustParseAddr("10.0.1.10"), Names: []string{"web"}},
			{IP: netip.MustParseAddr("10.0.2.20"), Names: []string{"db", "db.internal"}},
		},
	}
	hostV6 := make(map[string]string)
	for _, k := range []string{"all", "default"} {
		b, err := os.ReadFile("/proc/sys/net/ipv6/conf/" + k + "/disable_ipv6")
		if err != nil {
			t.Fatal(err)
		}
		hostV6[k] = string(b)
	}
	nl := handleAt(t, ns)

	check := func(run string) {
		t.Helper()
		if lo := linkByName(t, nl, "lo"); lo.Attrs().Flags&net.FlagUp == 0 {
			t.Errorf("%s: lo is down", run)
		}
		for _, ifc := range cfg.Ifaces {
			a := linkByName(t, nl, ifc.Name).Attrs()
			if a.Flags&net.FlagUp == 0 {
				t.Errorf("%s: %s is down", run, ifc.Name)
			}
			if !bytes.Equal(a.HardwareAddr, ifc.MAC) {
				t.Errorf("%s: %s has MAC %s, want %s", run, ifc.Name, a.HardwareAddr, ifc.MAC)
			}
			var want []string
			for _, p := range ifc.Addrs {
				want = append(want, p.String())
			}
			equal(t, run+": addresses of "+ifc.Name, addrs(t, nl, ifc.Name), want)
			if v := readSysctl(t, ns, "net/ipv6/conf/"+ifc.Name+"/disable_ipv6"); v != "1" {
				t.Errorf("%s: IPv6 on %s: disable_ipv6 = %s", run, ifc.Name, v)
			}
		}
		equal(t, run+": default routes of the main table", routes(t, nl, unix.RT_TABLE_MAIN, true),
			[]string{"default via 10.0.1.1 dev " + eth0})
		equal(t, run+": table 100 (eth0 uses main)", routes(t, nl, 100, false), nil)
		equal(t, run+": table 101", routes(t, nl, 101, false),
			[]string{"10.0.2.0/24 dev " + eth1 + " scope link", "default via 10.0.2.1 dev " + eth1})
		equal(t, run+": rules", rules(t, nl), []string{"1001: from 10.0.2.20/32 lookup 101"})
		for _, k := range []string{"all", "default"} {
			if v := readSysctl(t, ns, "net/ipv6/conf/"+k+"/disable_ipv6"); v != "1" {
				t.Errorf("%s: net.ipv6.conf.%s.disable_ipv6 = %s in the namespace", run, k, v)
			}
			if b, _ := os.ReadFile("/proc/sys/net/ipv6/conf/" + k + "/disable_ipv6"); string(b) != hostV6[k] {
				t.Errorf("%s: the test's net.ipv6.conf.%s.disable_ipv6 went from %q to %q", run, k, hostV6[k], b)
			}
		}
		b, err := os.ReadFile(filepath.Join("/etc/netns", name, "hosts"))
		if err != nil {
			t.Fatal(err)
		}
		if want := "127.0.0.1\tlocalhost\n10.0.1.10\tweb\n10.0.2.20\tdb db.internal\n"; string(b) != want {
			t.Errorf("%s: hosts file:\n%q\nwant\n%q", run, b, want)
		}
	}

	if err := Configure(name, ns, cfg); err != nil {
		t.Fatal(err)
	}
	check("first Configure")
	if err := Configure(name, ns, cfg); err != nil {
		t.Fatalf("second Configure: %v", err)
	}
	check("second Configure")

	// The kernel's choice: by destination, then by source address.
	internet := net.ParseIP("198.51.100.7")
	for _, c := range []struct {
		src, gw, dev string
	}{
		{"", "10.0.1.1", eth0},
		{"10.0.1.11", "10.0.1.1", eth0},
		{"10.0.2.20", "10.0.2.1", eth1},
	} {
		rs, err := nl.RouteGetWithOptions(internet, &netlink.RouteGetOptions{SrcAddr: net.ParseIP(c.src)})
		if err != nil {
			t.Fatalf("route get %s from %q: %v", internet, c.src, err)
		}
		if len(rs) != 1 || !rs[0].Gw.Equal(net.ParseIP(c.gw)) || rs[0].LinkIndex != linkByName(t, nl, c.dev).Attrs().Index {
			t.Errorf("route get %s from %q = %v, want via %s dev %s", internet, c.src, rs, c.gw, c.dev)
		}
	}

	// And what it does: each reply leaves by the ENI that owns its source,
	// asking for that subnet's gateway with that ENI's MAC.
	sendUDP(t, ns, netip.Addr{}, netip.MustParseAddr("198.51.100.7"))
	tap0.expectARP(t, mac0, netip.MustParseAddr("10.0.1.10"), netip.MustParseAddr("10.0.1.1"))
	sendUDP(t, ns, netip.MustParseAddr("10.0.2.20"), netip.MustParseAddr("198.51.100.7"))
	tap1.expectARP(t, mac1, netip.MustParseAddr("10.0.2.20"), netip.MustParseAddr("10.0.2.1"))
}

// OnLink (internet hosts): the default route points at eth0 without a
// gateway, so the namespace asks for every destination's MAC directly.
func TestConfigureOnLink(t *testing.T) {
	requireRoot(t)
	name, ns := newNS(t)
	tp := addTAP(t, ns, eth0)
	mac := net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x09, 0x01}
	cfg := Config{OnLink: true, Ifaces: []Iface{{Name: eth0, MAC: mac,
		Addrs: []netip.Prefix{netip.MustParsePrefix("203.0.113.5/32")}}}}
	if err := Configure(name, ns, cfg); err != nil {
		t.Fatal(err)
	}
	nl := handleAt(t, ns)
	equal(t, "addresses", addrs(t, nl, eth0), []string{"203.0.113.5/32"})
	equal(t, "main table", routes(t, nl, unix.RT_TABLE_MAIN, false), []string{"default dev " + eth0 + " scope link"})
	equal(t, "rules", rules(t, nl), nil)
	if _, err := os.Stat(filepath.Join("/etc/netns", name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("no hosts given, but /etc/netns/%s: %v", name, err)
	}
	sendUDP(t, ns, netip.Addr{}, netip.MustParseAddr("198.51.100.7"))
	tp.expectARP(t, mac, netip.MustParseAddr("203.0.113.5"), netip.MustParseAddr("198.51.100.7"))
}

// ConfigureIface configures an ENI attached to a running instance (eth1),
// adds a secondary address's rule on a second run without duplicating
// anything, and fails on a device that is not there.
func TestConfigureIfaceLive(t *testing.T) {
	requireRoot(t)
	guardHost(t)
	name, ns := newNS(t)
	addTAP(t, ns, eth0)
	primary := Iface{Name: eth0, MAC: net.HardwareAddr{0x02, 0, 0, 0, 1, 0x0a}, Gateway: netip.MustParseAddr("10.0.1.1"),
		Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.1.10/24")}}
	if err := Configure(name, ns, Config{Ifaces: []Iface{primary}}); err != nil {
		t.Fatal(err)
	}
	nl := handleAt(t, ns)
	equal(t, "rules before attaching", rules(t, nl), nil)

	tp := addTAP(t, ns, eth1)
	mac1 := net.HardwareAddr{0x02, 0, 0, 0, 2, 0x14}
	eni := Iface{Name: eth1, MAC: mac1, Gateway: netip.MustParseAddr("10.0.2.1"),
		Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.2.20/24")}}
	if err := ConfigureIface(name, ns, 1, eni); err != nil {
		t.Fatal(err)
	}
	if a := linkByName(t, nl, eth1).Attrs(); a.Flags&net.FlagUp == 0 || !bytes.Equal(a.HardwareAddr, mac1) {
		t.Errorf("%s: flags %s, MAC %s; want up, %s", eth1, a.Flags, a.HardwareAddr, mac1)
	}
	equal(t, "eth1 addresses", addrs(t, nl, eth1), []string{"10.0.2.20/24"})
	equal(t, "table 101", routes(t, nl, 101, false),
		[]string{"10.0.2.0/24 dev " + eth1 + " scope link", "default via 10.0.2.1 dev " + eth1})
	equal(t, "rules", rules(t, nl), []string{"1001: from 10.0.2.20/32 lookup 101"})
	equal(t, "main default route", routes(t, nl, unix.RT_TABLE_MAIN, true), []string{"default via 10.0.1.1 dev " + eth0})

	// A secondary private IP assigned later: the run re-applies the whole ENI.
	eni.Addrs = append(eni.Addrs, netip.MustParsePrefix("10.0.2.21/24"))
	if err := ConfigureIface(name, ns, 1, eni); err != nil {
		t.Fatal(err)
	}
	equal(t, "eth1 addresses with the secondary", addrs(t, nl, eth1), []string{"10.0.2.20/24", "10.0.2.21/24"})
	equal(t, "table 101 after the second run", routes(t, nl, 101, false),
		[]string{"10.0.2.0/24 dev " + eth1 + " scope link", "default via 10.0.2.1 dev " + eth1})
	equal(t, "rules with the secondary", rules(t, nl),
		[]string{"1001: from 10.0.2.20/32 lookup 101", "1001: from 10.0.2.21/32 lookup 101"})
	sendUDP(t, ns, netip.MustParseAddr("10.0.2.21"), netip.MustParseAddr("198.51.100.7"))
	tp.expectARP(t, mac1, netip.MustParseAddr("10.0.2.21"), netip.MustParseAddr("10.0.2.1"))

	err := ConfigureIface(name, ns, 2, Iface{Name: "vpcnt-eth2", MAC: mac1, Addrs: eni.Addrs})
	var lnf netlink.LinkNotFoundError
	if !errors.As(err, &lnf) || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "vpcnt-eth2") {
		t.Errorf("ConfigureIface of a missing device: %v; want a link-not-found error naming %s and vpcnt-eth2", err, name)
	}
}

// DelAddr removes one address and leaves the others; an address or a device
// that is not there is already removed.
func TestDelAddr(t *testing.T) {
	requireRoot(t)
	name, ns := newNS(t)
	addTAP(t, ns, eth0)
	ifc := Iface{Name: eth0, MAC: net.HardwareAddr{0x02, 0, 0, 0, 1, 0x0a}, Gateway: netip.MustParseAddr("10.0.1.1"),
		Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.1.10/24"), netip.MustParsePrefix("10.0.1.11/24")}}
	if err := Configure(name, ns, Config{Ifaces: []Iface{ifc}}); err != nil {
		t.Fatal(err)
	}
	nl := handleAt(t, ns)
	equal(t, "before", addrs(t, nl, eth0), []string{"10.0.1.10/24", "10.0.1.11/24"})

	secondary := netip.MustParsePrefix("10.0.1.11/24")
	if err := DelAddr(ns, eth0, secondary); err != nil {
		t.Fatal(err)
	}
	equal(t, "after DelAddr", addrs(t, nl, eth0), []string{"10.0.1.10/24"})
	equal(t, "default route after DelAddr", routes(t, nl, unix.RT_TABLE_MAIN, true), []string{"default via 10.0.1.1 dev " + eth0})

	if err := DelAddr(ns, eth0, secondary); err != nil {
		t.Errorf("DelAddr of a removed address: %v", err)
	}
	if err := DelAddr(ns, "vpcnt-eth9", secondary); err != nil {
		t.Errorf("DelAddr on a missing device: %v", err)
	}
	equal(t, "after the no-op DelAddrs", addrs(t, nl, eth0), []string{"10.0.1.10/24"})
}

// Sysctl writes inside the namespace (dotted or slashed key) and not in the
// test's own; an unknown key is an error.
func TestSysctl(t *testing.T) {
	requireRoot(t)
	_, ns := newNS(t)
	for _, c := range []struct {
		key, path string
		values    []string
	}{
		{"net.ipv4.ip_forward", "net/ipv4/ip_forward", []string{"1", "0"}},
		{"net/ipv4/ip_default_ttl", "net/ipv4/ip_default_ttl", []string{"17", "19"}},
	} {
		b, err := os.ReadFile("/proc/sys/" + c.path)
		if err != nil {
			t.Fatal(err)
		}
		host := strings.TrimSpace(string(b))
		// Every value in turn: at least one changes the namespace's setting,
		// at least one differs from the test's.
		for _, value := range c.values {
			if err := Sysctl(ns, c.key, value); err != nil {
				t.Fatalf("Sysctl %s=%s: %v", c.key, value, err)
			}
			if got := readSysctl(t, ns, c.path); got != value {
				t.Errorf("%s in the namespace = %s, want %s", c.key, got, value)
			}
			b, err := os.ReadFile("/proc/sys/" + c.path)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(string(b)); got != host {
				t.Errorf("Sysctl %s=%s in the namespace changed the test's from %s to %s", c.key, value, host, got)
			}
		}
	}
	if err := Sysctl(ns, "net.ipv4.vpcnet_no_such_key", "1"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Sysctl of an unknown key: %v, want not-exist", err)
	}
}

// WriteHosts writes /etc/netns/<name>/hosts, which is /etc/hosts for
// `ip netns exec`, and replaces it on the next call.
func TestWriteHosts(t *testing.T) {
	requireRoot(t)
	name, _ := newNS(t)
	path := filepath.Join("/etc/netns", name, "hosts")
	first := []HostEntry{
		{IP: netip.MustParseAddr("10.0.1.10"), Names: []string{"web"}},
		{IP: netip.MustParseAddr("203.0.113.5"), Names: []string{"example", "example.com"}},
	}
	if err := WriteHosts(name, first); err != nil {
		t.Fatal(err)
	}
	want := "127.0.0.1\tlocalhost\n10.0.1.10\tweb\n203.0.113.5\texample example.com\n"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != want {
		t.Fatalf("hosts:\n%q\nwant\n%q", b, want)
	}
	if fi, err := os.Stat(path); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o644 {
		t.Errorf("hosts mode %v, want 0644", fi.Mode().Perm())
	}

	second := []HostEntry{{IP: netip.MustParseAddr("10.0.1.12"), Names: []string{"app"}}}
	if err := WriteHosts(name, second); err != nil {
		t.Fatal(err)
	}
	want = "127.0.0.1\tlocalhost\n10.0.1.12\tapp\n"
	if b, err = os.ReadFile(path); err != nil || string(b) != want {
		t.Fatalf("hosts after rewrite (err %v):\n%q\nwant\n%q", err, b, want)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Log("no iproute2: /etc/hosts under ip netns exec not checked")
		return
	}
	out, err := exec.Command("ip", "netns", "exec", name, "cat", "/etc/hosts").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns exec %s cat /etc/hosts: %v: %s", name, err, out)
	}
	if string(out) != want {
		t.Errorf("/etc/hosts under ip netns exec:\n%q\nwant\n%q", out, want)
	}
}

// DelAddr on ethN (N>0) also removes the source-routing rule of the address,
// so that the address given later to another ENI is not sent by this one's
// table.
func TestDelAddrRemovesSourceRule(t *testing.T) {
	requireRoot(t)
	name, ns := newNS(t)
	addTAP(t, ns, eth0)
	addTAP(t, ns, eth1)
	cfg := Config{Ifaces: []Iface{
		{Name: eth0, MAC: net.HardwareAddr{0x02, 0, 0, 0, 1, 0x0a}, Gateway: netip.MustParseAddr("10.0.1.1"),
			Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.1.10/24")}},
		{Name: eth1, MAC: net.HardwareAddr{0x02, 0, 0, 0, 2, 0x14}, Gateway: netip.MustParseAddr("10.0.2.1"),
			Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.2.20/24"), netip.MustParsePrefix("10.0.2.21/24")}},
	}}
	if err := Configure(name, ns, cfg); err != nil {
		t.Fatal(err)
	}
	nl := handleAt(t, ns)
	equal(t, "rules before", rules(t, nl), []string{"1001: from 10.0.2.20/32 lookup 101", "1001: from 10.0.2.21/32 lookup 101"})
	if err := DelAddr(ns, eth1, netip.MustParsePrefix("10.0.2.21/24")); err != nil {
		t.Fatal(err)
	}
	equal(t, "rules after DelAddr", rules(t, nl), []string{"1001: from 10.0.2.20/32 lookup 101"})
	equal(t, "eth1 addresses after DelAddr", addrs(t, nl, eth1), []string{"10.0.2.20/24"})
}

// WriteHosts with no entries removes a hosts file written before, so no
// stale name stays.
func TestWriteHostsEmptyRemoves(t *testing.T) {
	requireRoot(t)
	name, _ := newNS(t)
	path := filepath.Join("/etc/netns", name, "hosts")
	if err := WriteHosts(name, []HostEntry{{IP: netip.MustParseAddr("10.0.1.10"), Names: []string{"web"}}}); err != nil {
		t.Fatal(err)
	}
	if err := WriteHosts(name, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("hosts file after WriteHosts(nil): %v, want it gone", err)
	}
	if err := WriteHosts(name, nil); err != nil {
		t.Fatalf("WriteHosts(nil) with no file: %v", err)
	}
}

// Names that are not one path element are refused before anything is
// touched: Delete("..") must never remove /etc.
func TestNamesMustBeOnePathElement(t *testing.T) {
	for _, bad := range []string{"", ".", "..", "a/b", "../etc", "a\x00b"} {
		if err := Delete(bad); err == nil {
			t.Errorf("Delete(%q) succeeded", bad)
		}
		if err := WriteHosts(bad, []HostEntry{{IP: netip.MustParseAddr("10.0.0.1"), Names: []string{"x"}}}); err == nil {
			t.Errorf("WriteHosts(%q) succeeded", bad)
		}
		if Exists(bad) {
			t.Errorf("Exists(%q) is true", bad)
		}
		if h, err := Create(bad); err == nil {
			h.Close()
			t.Errorf("Create(%q) succeeded", bad)
		}
	}
	if _, err := os.Stat("/etc"); err != nil {
		t.Fatal(err)
	}
}

// A plain file where the namespace's bind mount belongs (left by a failed
// bring-up) is not taken for a namespace: Exists says no, and Create
// replaces it with a real one.
func TestCreateReplacesLeftoverFile(t *testing.T) {
	requireRoot(t)
	name := uniqueName()
	t.Cleanup(func() { Delete(name) })
	os.MkdirAll("/run/netns", 0o755)
	if err := os.WriteFile(Path(name), nil, 0o444); err != nil {
		t.Fatal(err)
	}
	if Exists(name) {
		t.Fatal("a plain file counts as a namespace")
	}
	h, err := Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if !Exists(name) {
		t.Fatal("Create left no namespace")
	}
	var fs unix.Statfs_t
	if err := unix.Fstatfs(int(h), &fs); err != nil || fs.Type != nsfsMagic {
		t.Fatalf("Create returned a handle that is not a namespace (statfs type %#x, %v)", fs.Type, err)
	}
	if nsInode(t, int(h)) == hostNSInode(t) {
		t.Fatal("Create returned the test's own namespace")
	}
}
