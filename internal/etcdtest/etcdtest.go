// Package etcdtest runs a real etcd cluster (Debian's /usr/bin/etcd) for
// tests, every member inside a network namespace, and dials it from inside
// that namespace so that a test in the root namespace reaches etcd without a
// packet or a listening socket in the host's own namespace.
//
// It is test support: only _test.go files import it.
//
// Every process it starts is ended by PID in t.Cleanup (SIGTERM, then
// SIGKILL), and dies with the test process besides (PR_SET_PDEATHSIG).
package etcdtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/vpcnet/vpcnet/netns"
)

// Binary is the etcd server the harness runs (Debian's etcd-server).
const Binary = "/usr/bin/etcd"

// StartTimeout bounds how long Start and WaitHealthy wait for a cluster.
const StartTimeout = 20 * time.Second

// Member is one etcd member: where it runs and on which ports.
type Member struct {
	NS         string // network namespace (ip netns name) it runs in
	IP         string // address it listens on inside NS
	ClientPort int
	PeerPort   int
	Name       string // member name; m0, m1 … when empty
}

func (m Member) clientAddr() string { return net.JoinHostPort(m.IP, strconv.Itoa(m.ClientPort)) }
func (m Member) peerURL() string    { return "http://" + net.JoinHostPort(m.IP, strconv.Itoa(m.PeerPort)) }

// Cluster is a running etcd cluster. Its methods may be called from any
// goroutine; Kill, Stop and Restart report failures through t.
type Cluster struct {
	t       testing.TB
	ip      string // path of the ip command
	members []Member
	dirs    []string // data dir per member
	logs    []string // log file per member
	token   string   // --initial-cluster-token
	initial string   // --initial-cluster

	mu    sync.Mutex
	procs []*proc // nil when the member is not running
}

// proc is one running member process.
type proc struct {
	pid  int
	done chan struct{} // closed when the process has exited and been reaped
}

// Skip skips t unless it runs as root and etcd is installed.
func Skip(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("etcdtest: needs root (network namespaces for the etcd members)")
	}
	if _, err := os.Stat(Binary); err != nil {
		t.Skipf("etcdtest: %s is missing (apt-get install etcd-server; scripts/deps.sh does it)", Binary)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("etcdtest: the ip command is missing (iproute2)")
	}
}

// StartLocal makes a namespace of its own (lo up) and starts n members on
// 127.0.0.1 inside it. The namespace is deleted in t.Cleanup, after the
// members are stopped.
func StartLocal(t testing.TB, n int) *Cluster {
	t.Helper()
	Skip(t)
	name := "vpcnet-etcd-" + randomHex(4)
	h, err := netns.Create(name)
	if err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
	// Registered before Start's cleanup, so it runs after it (LIFO).
	t.Cleanup(func() {
		if err := netns.Delete(name); err != nil {
			t.Errorf("etcdtest: %v", err)
		}
	})
	err = loUp(h)
	h.Close()
	if err != nil {
		t.Fatalf("etcdtest: namespace %s: lo up: %v", name, err)
	}
	members := make([]Member, n)
	for i := range members {
		members[i] = Member{NS: name, IP: "127.0.0.1", ClientPort: 2379 + 2*i, PeerPort: 2380 + 2*i}
	}
	return Start(t, members)
}

// Start starts one member per entry of members, as a new cluster, waits
// until every member serves a linearizable read (StartTimeout), and
// registers the cluster's end in t.Cleanup.
func Start(t testing.TB, members []Member) *Cluster {
	t.Helper()
	Skip(t)
	if len(members) == 0 {
		t.Fatal("etcdtest: no members")
	}
	ip, _ := exec.LookPath("ip")
	c := &Cluster{t: t, ip: ip, token: "vpcnet-" + randomHex(8), procs: make([]*proc, len(members))}
	logDir := t.TempDir() // before t.Cleanup below: removed after the members end
	var peers []string
	for i, m := range members {
		if m.Name == "" {
			m.Name = "m" + strconv.Itoa(i)
		}
		if m.NS == "" || m.IP == "" || m.ClientPort <= 0 || m.PeerPort <= 0 {
			t.Fatalf("etcdtest: member %d (%s): NS, IP and both ports are required", i, m.Name)
		}
		c.members = append(c.members, m)
		c.dirs = append(c.dirs, t.TempDir())
		c.logs = append(c.logs, filepath.Join(logDir, m.Name+".log"))
		peers = append(peers, m.Name+"="+m.peerURL())
	}
	c.initial = strings.Join(peers, ",")
	t.Cleanup(c.cleanup)
	for i := range c.members {
		if err := c.start(i, "new"); err != nil {
			c.fatal("%v", err)
		}
	}
	if err := c.WaitHealthy(StartTimeout); err != nil {
		c.fatal("%v", err)
	}
	return c
}

// URL is the cluster as settings.store spells it: etcd://IP:port,….
func (c *Cluster) URL() string {
	var eps []string
	for _, m := range c.members {
		eps = append(eps, m.clientAddr())
	}
	return "etcd://" + strings.Join(eps, ",")
}

// Members returns the members as started (names filled in).
func (c *Cluster) Members() []Member { return append([]Member(nil), c.members...) }

// Dial connects to a member's client address from inside the member's
// namespace: the socket is made there and keeps that namespace, so the
// caller may be anywhere. It is usable as store.Options.Dial and as a gRPC
// context dialer. An address that is no member's client address is refused:
// nothing is ever dialled in the caller's namespace.
func (c *Cluster) Dial(ctx context.Context, addr string) (net.Conn, error) {
	ns := ""
	for _, m := range c.members {
		if m.clientAddr() == addr {
			ns = m.NS
		}
	}
	if ns == "" {
		return nil, fmt.Errorf("etcdtest: %s is no member's client address", addr)
	}
	h, err := openNS(ns)
	if err != nil {
		return nil, fmt.Errorf("etcdtest: dial %s: namespace %s: %w", addr, ns, err)
	}
	defer h.Close()
	conn, err := netns.Dialer(h)(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("etcdtest: dial %s in namespace %s: %w", addr, ns, err)
	}
	return conn, nil
}

// Client returns an etcd client for the given members (all when none are
// named), dialled through Dial and closed in t.Cleanup.
func (c *Cluster) Client(members ...int) *clientv3.Client {
	c.t.Helper()
	cli, err := c.client(members...)
	if err != nil {
		c.t.Fatalf("etcdtest: %v", err)
	}
	c.t.Cleanup(func() { cli.Close() })
	return cli
}

func (c *Cluster) client(members ...int) (*clientv3.Client, error) {
	if len(members) == 0 {
		for i := range c.members {
			members = append(members, i)
		}
	}
	var eps []string
	for _, i := range members {
		eps = append(eps, "http://"+c.members[i].clientAddr())
	}
	return clientv3.New(clientv3.Config{
		Endpoints:   eps,
		Logger:      zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithContextDialer(c.Dial)},
	})
}

// WaitHealthy waits until every running member serves a linearizable read
// (it has a leader and the cluster a quorum).
func (c *Cluster) WaitHealthy(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for i := range c.members {
		if !c.running(i) {
			continue
		}
		cli, err := c.client(i)
		if err != nil {
			return err
		}
		err = c.waitMember(cli, i, deadline)
		cli.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) waitMember(cli *clientv3.Client, i int, deadline time.Time) error {
	name := c.members[i].Name
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := cli.Get(clientv3.WithRequireLeader(ctx), "/etcdtest/health")
		cancel()
		if err == nil {
			return nil
		}
		if !c.running(i) {
			return fmt.Errorf("etcd member %s exited while starting", name)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("etcd member %s not healthy after %v: %v", name, StartTimeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Leader returns the index of the member that leads, or -1.
func (c *Cluster) Leader() int {
	for i, m := range c.members {
		if !c.running(i) {
			continue
		}
		cli, err := c.client(i)
		if err != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := cli.Status(ctx, "http://"+m.clientAddr())
		cancel()
		cli.Close()
		if err == nil && st.Leader != 0 && st.Header.MemberId == st.Leader {
			return i
		}
	}
	return -1
}

// Kill ends member i with SIGKILL (a crash) and waits until it is gone.
func (c *Cluster) Kill(i int) { c.t.Helper(); c.end(i, 0) }

// Stop ends member i with SIGTERM (SIGKILL after 5 s) and waits until it is
// gone.
func (c *Cluster) Stop(i int) { c.t.Helper(); c.end(i, 5*time.Second) }

// Restart starts member i again on its data dir. It does not wait for the
// member to be healthy (alone it cannot be, without a quorum): call
// WaitHealthy once enough members run.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	if c.running(i) {
		c.t.Fatalf("etcdtest: restart member %s: it is running", c.members[i].Name)
	}
	if err := c.start(i, "existing"); err != nil {
		c.fatal("%v", err)
	}
}

func (c *Cluster) running(i int) bool {
	c.mu.Lock()
	p := c.procs[i]
	c.mu.Unlock()
	if p == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// start runs member i: `ip netns exec NS etcd …`. ip enters the namespace
// and execs etcd, so the PID is etcd's own.
func (c *Cluster) start(i int, state string) error {
	m := c.members[i]
	log, err := os.OpenFile(c.logs[i], os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("etcd member %s: log: %w", m.Name, err)
	}
	fmt.Fprintf(log, "=== etcdtest: start (%s) at %s\n", state, time.Now().Format(time.RFC3339Nano))
	client := "http://" + m.clientAddr()
	cmd := exec.Command(c.ip, "netns", "exec", m.NS, Binary,
		"--name", m.Name,
		"--data-dir", c.dirs[i],
		"--listen-client-urls", client,
		"--advertise-client-urls", client,
		"--listen-peer-urls", m.peerURL(),
		"--initial-advertise-peer-urls", m.peerURL(),
		"--initial-cluster", c.initial,
		"--initial-cluster-state", state,
		"--initial-cluster-token", c.token,
		// Faster elections than the defaults (100 ms, 1 s): a test kills
		// leaders and waits for the next one.
		"--heartbeat-interval", "50",
		"--election-timeout", "500",
		"--logger", "zap",
		"--log-outputs", "stderr",
	)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"} // no ETCD_* from the caller
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = procAttr()
	p := &proc{done: make(chan struct{})}
	started := make(chan error, 1)
	// The process is started from a thread locked for its whole life: the
	// parent-death signal follows the thread that forked, and a thread
	// the runtime discards (a locked goroutine ending) would kill etcd.
	go func() {
		runtime.LockOSThread()
		defer log.Close()
		if err := cmd.Start(); err != nil {
			started <- err
			close(p.done)
			return
		}
		p.pid = cmd.Process.Pid
		started <- nil
		cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("etcd member %s: start: %w", m.Name, err)
	}
	c.mu.Lock()
	c.procs[i] = p
	c.mu.Unlock()
	return nil
}

// end signals member i and waits for it: SIGKILL at once when grace is 0,
// else SIGTERM and SIGKILL after grace.
func (c *Cluster) end(i int, grace time.Duration) {
	c.mu.Lock()
	p := c.procs[i]
	c.procs[i] = nil
	c.mu.Unlock()
	if p == nil {
		return
	}
	if err := p.stop(grace); err != nil {
		c.t.Errorf("etcdtest: member %s: %v", c.members[i].Name, err)
	}
}

func (p *proc) stop(grace time.Duration) error {
	sig := syscall.SIGTERM
	if grace == 0 {
		sig = syscall.SIGKILL
	}
	select {
	case <-p.done:
		return nil
	default:
	}
	// The process is not reaped before done closes, so the PID is still
	// ours here.
	syscall.Kill(p.pid, sig)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	syscall.Kill(p.pid, syscall.SIGKILL)
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("pid %d outlived SIGKILL by 10 s", p.pid)
	}
}

// cleanup ends every member, prints log tails if the test failed, and
// removes the data dirs.
func (c *Cluster) cleanup() {
	for i := range c.members {
		c.end(i, 5*time.Second)
	}
	if c.t.Failed() {
		c.logTails()
	}
	for _, d := range c.dirs {
		os.RemoveAll(d)
	}
}

func (c *Cluster) fatal(format string, args ...any) {
	c.t.Helper()
	c.logTails()
	c.t.Fatalf("etcdtest: "+format, args...)
}

// logTails prints the last lines of every member's log.
func (c *Cluster) logTails() {
	for i, m := range c.members {
		c.t.Logf("etcd member %s (%s in %s), last lines of %s:\n%s", m.Name, m.clientAddr(), m.NS, c.logs[i], tail(c.logs[i], 40))
	}
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(errors.New("etcdtest: no randomness"))
	}
	return hex.EncodeToString(b)
}
