package multihost

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vpcnet/vpcnet/dataplane"
	"github.com/vpcnet/vpcnet/internal/etcdtest"
	"github.com/vpcnet/vpcnet/internal/hostcheck"
	"github.com/vpcnet/vpcnet/netns"
)

var (
	vpcnetBin string
	buildErr  error // the build's failure, reported by NewLab
)

func TestMain(m *testing.M) {
	if os.Geteuid() == 0 {
		dir, err := os.MkdirTemp("", "vpcnet-mh")
		if err != nil {
			panic(err)
		}
		vpcnetBin = filepath.Join(dir, "vpcnet")
		// A failed build fails every test that runs vpcnet, not the lab's
		// own check (TestLab_UnderlayCarriesEtcd), which needs no vpcnet.
		if out, err := exec.Command("go", "build", "-o", vpcnetBin, "../../cmd/vpcnet").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build vpcnet: %v\n%s", err, out)
		}
		code := hostcheck.Guard(m.Run)
		os.RemoveAll(dir)
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// requireRoot skips a test that needs root, and one whose tools are missing.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces")
	}
	for _, tool := range []string{"ip", "nsenter", "etcd", "tcpdump", "curl", "nc", "ping"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
}

// randHex returns n random hex digits.
func randHex(n int) string {
	b := make([]byte, (n+1)/2)
	rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// hosts are the simulated machines, in the order of their underlay
// addresses (h1 is .1).
var hosts = []string{"h1", "h2", "h3"}

// Lab is three simulated machines: host namespaces <P>-h1…h3 joined by a
// bridge in <P>-ul (the underlay), an etcd member and a vpcnet agent in
// each, and (after Up) one topology stored in that etcd.
type Lab struct {
	P       string // prefix of the lab's own namespaces
	K       int    // underlay 10.99.K.0/24
	Cluster *etcdtest.Cluster
	Store   string // the cluster as settings.store and --store take it
	Topo    string // the topology's name (its namespaces are Topo-<name>)
	dir     string
	agents  map[string]*agent
	// starter runs functions on one locked thread that lives as long as
	// the lab: the agents are forked there (StartAgent).
	starter chan func()
}

// agent is one machine's `vpcnet agent` process.
type agent struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has been waited for
}

// NewLab builds the underlay, starts the etcd cluster and an agent on each
// machine. Cleanup undoes all of it in reverse.
func NewLab(t *testing.T) *Lab {
	t.Helper()
	requireRoot(t)
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	l := newMachines(t)
	l.starter = make(chan func())
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the lab
		for f := range l.starter {
			f()
		}
	}()
	// Registered after the cluster's own cleanup, so it runs before it:
	// the agents stop while the store still answers, then the namespaces
	// of the topology must be gone.
	t.Cleanup(func() {
		for _, h := range hosts {
			l.StopAgent(t, h)
		}
		close(l.starter)
		if t.Failed() {
			l.dumpLogs(t)
		}
		if left := namespacesWithPrefix(l.Topo + "-"); len(left) > 0 {
			t.Errorf("namespaces of %s left after down and the agents stopped: %v", l.Topo, left)
			removeNamespaces(left)
		}
		for _, h := range hosts {
			os.RemoveAll(l.RunDir(h))
		}
	})
	for _, h := range hosts {
		l.StartAgent(t, h)
	}
	return l
}

// newMachines is the lab without agents: the underlay and the etcd
// cluster, a member on each machine's underlay address.
func newMachines(t *testing.T) *Lab {
	t.Helper()
	requireRoot(t)
	l := &Lab{P: "mh" + randHex(5), K: 1 + mrand.IntN(253), dir: t.TempDir(), agents: map[string]*agent{}}
	l.Topo = "t" + randHex(7)
	l.underlay(t)
	members := make([]etcdtest.Member, len(hosts))
	for i, h := range hosts {
		members[i] = etcdtest.Member{NS: l.NS(h), IP: l.IP(h), ClientPort: 2379, PeerPort: 2380, Name: h}
	}
	l.Cluster = etcdtest.Start(t, members)
	l.Store = l.Cluster.URL()
	return l
}

// NS is machine h's namespace; IP its underlay address; RunDir its agent's
// state folder (socket, logs).
func (l *Lab) NS(h string) string     { return l.P + "-" + h }
func (l *Lab) IP(h string) string     { return fmt.Sprintf("10.99.%d.%d", l.K, hostIndex(h)+1) }
func (l *Lab) RunDir(h string) string { return "/run/vpcnet-mh-" + l.P + "-" + h }

func hostIndex(h string) int {
	for i, x := range hosts {
		if x == h {
			return i
		}
	}
	panic("no machine " + h)
}

// underlay makes <P>-ul with bridge br0 and, per machine, a namespace whose
// ul0 is a veth to the bridge (MTU 9100, room for Geneve around 9001-byte
// frames). Only `ip -n` in the lab's namespaces: the host's is not touched.
func (l *Lab) underlay(t *testing.T) {
	t.Helper()
	ul := l.P + "-ul"
	mustIP(t, "netns", "add", ul)
	t.Cleanup(func() { ipCmd("netns", "del", ul) })
	mustIP(t, "-n", ul, "link", "set", "lo", "up")
	mustIP(t, "-n", ul, "link", "add", "br0", "mtu", "9100", "type", "bridge")
	mustIP(t, "-n", ul, "link", "set", "br0", "up")
	for i, h := range hosts {
		ns := l.NS(h)
		mustIP(t, "netns", "add", ns)
		t.Cleanup(func() { ipCmd("netns", "del", ns) })
		port := fmt.Sprintf("v%d", i+1)
		mustIP(t, "-n", ns, "link", "set", "lo", "up")
		mustIP(t, "-n", ns, "link", "add", "ul0", "mtu", "9100", "type", "veth", "peer", "name", port, "mtu", "9100", "netns", ul)
		mustIP(t, "-n", ns, "addr", "add", l.IP(h)+"/24", "dev", "ul0")
		mustIP(t, "-n", ns, "link", "set", "ul0", "up")
		mustIP(t, "-n", ul, "link", "set", port, "master", "br0")
		mustIP(t, "-n", ul, "link", "set", port, "up")
	}
	// The bridge forwards at once (no STP, no learning delay to wait out);
	// h1 reaches the others before anything else starts.
	for _, h := range hosts[1:] {
		if !poll(10*time.Second, func() bool {
			_, err := ipCmd("netns", "exec", l.NS("h1"), "ping", "-c1", "-W1", l.IP(h))
			return err == nil
		}) {
			t.Fatalf("underlay: h1 cannot ping %s (%s)", h, l.IP(h))
		}
	}
}

func ipCmd(args ...string) (string, error) {
	out, err := exec.Command("ip", args...).CombinedOutput()
	return string(out), err
}

func mustIP(t *testing.T, args ...string) {
	t.Helper()
	if out, err := ipCmd(args...); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func namespacesWithPrefix(p string) []string {
	ents, _ := os.ReadDir("/run/netns")
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), p) {
			out = append(out, e.Name())
		}
	}
	return out
}

// removeNamespaces deletes namespaces vpcnet should have deleted, after
// killing (by PID) what still runs in them, so a failed run leaves nothing.
func removeNamespaces(names []string) {
	for _, n := range names {
		if out, err := ipCmd("netns", "pids", n); err == nil {
			for _, f := range strings.Fields(out) {
				var pid int
				if _, err := fmt.Sscan(f, &pid); err == nil && pid > 1 {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		ipCmd("netns", "del", n)
	}
}

// poll calls ok every 100 ms until it holds or d has passed.
func poll(d time.Duration, ok func() bool) bool {
	end := time.Now().Add(d)
	for {
		if ok() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// onHost makes a command that runs in machine h's network namespace, as
// if on that machine: nsenter --net, which, unlike `ip netns exec`, keeps
// the host's mount namespace (a namespace bind-mounted under /run/netns
// from inside `ip netns exec` is seen by that process alone: `ip netns
// exec A ip netns add B` leaves B unusable from outside). The agents are
// started with their own --netns instead (StartAgent).
func (l *Lab) onHost(ctx context.Context, h string, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"--net=/run/netns/" + l.NS(h), "--"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// Vpcnet runs the binary on machine h (env added to the test's) and returns
// its combined output and exit code.
func (l *Lab) Vpcnet(t *testing.T, h string, env []string, args ...string) (string, int) {
	t.Helper()
	return l.vpcnetTimeout(t, 90*time.Second, h, env, args...)
}

func (l *Lab) vpcnetTimeout(t *testing.T, d time.Duration, h string, env []string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := l.onHost(ctx, h, env, append([]string{vpcnetBin}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		return out.String() + fmt.Sprintf("\n(killed after %v)", d), -1
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("vpcnet %v on %s: %v", args, h, err)
	}
	return out.String(), 0
}

// StartAgent starts machine h's agent in a process group of its own, its
// output to a log file the failure report shows.
func (l *Lab) StartAgent(t *testing.T, h string) {
	t.Helper()
	if a := l.agents[h]; a != nil && !a.exited() {
		t.Fatalf("agent %s already runs (pid %d)", h, a.cmd.Process.Pid)
	}
	logPath := filepath.Join(l.dir, fmt.Sprintf("agent-%s-%d.log", h, time.Now().UnixNano()))
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// --netns, as the README's simulated set-up: the agent keeps the
	// host's mount namespace (so `ip netns` sees the instance namespaces it
	// makes) and opens its etcd connection and Geneve socket in the
	// machine's namespace. RootSockets checks that nothing is left open in
	// the host's.
	cmd := exec.Command(vpcnetBin, "agent", "--netns", l.NS(h), "--store", l.Store, "--host", h,
		"--topology", l.Topo, "--underlay", l.IP(h), "--run-dir", l.RunDir(h))
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group; and it dies with the test process, whatever
	// ends it. The parent-death signal follows the thread that forked, so
	// the fork happens on the lab's starter thread, which lives as long as
	// the lab: on another, a goroutine that locked the thread and ended
	// (Dials does) would take the agent with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	errc := make(chan error)
	l.starter <- func() { errc <- cmd.Start() }
	if err := <-errc; err != nil {
		t.Fatalf("start agent %s: %v", h, err)
	}
	a := &agent{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(a.done) }()
	l.agents[h] = a
}

func (a *agent) exited() bool {
	select {
	case <-a.done:
		return true
	default:
		return false
	}
}

// RootSockets lists the TCP and UDP sockets the agents hold in the host's
// network namespace (the test's own) besides their EC2 endpoints, which
// listen on the host's loopback as on one machine (from 127.0.0.1:4566
// up): there should be none (no Geneve socket, no etcd connection).
func (l *Lab) RootSockets(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("ss", "-tuanp").CombinedOutput()
	if err != nil {
		t.Fatalf("ss: %v: %s", err, out)
	}
	var found []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[0] == "tcp" && f[1] == "LISTEN" &&
			(strings.HasPrefix(f[4], "127.0.0.1:") || strings.HasPrefix(f[4], "[::1]:")) {
			continue // an EC2 endpoint
		}
		for h, a := range l.agents {
			if !a.exited() && strings.Contains(line, fmt.Sprintf("pid=%d,", a.cmd.Process.Pid)) {
				found = append(found, h+": "+strings.Join(strings.Fields(line), " "))
			}
		}
	}
	return found
}

// AgentAlive reports whether machine h's agent still runs.
func (l *Lab) AgentAlive(h string) bool {
	a := l.agents[h]
	return a != nil && !a.exited()
}

// StopAgent stops machine h's agent by its PID: SIGTERM, SIGKILL after 5 s.
func (l *Lab) StopAgent(t *testing.T, h string) {
	t.Helper()
	a := l.agents[h]
	if a == nil || a.exited() {
		return
	}
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(5 * time.Second):
		t.Errorf("agent %s (pid %d) did not stop within 5 s of SIGTERM; killed", h, a.cmd.Process.Pid)
		a.cmd.Process.Kill()
		<-a.done
	}
}

// KillAgent SIGKILLs machine h's agent, as a crash would, and waits for it.
func (l *Lab) KillAgent(t *testing.T, h string) {
	t.Helper()
	a := l.agents[h]
	if a == nil || a.exited() {
		t.Fatalf("agent %s does not run", h)
	}
	a.cmd.Process.Kill()
	<-a.done
}

// diagnose logs what helps explain a failure: whether each agent runs,
// its UDP sockets, and status as the store sees it.
func (l *Lab) diagnose(t *testing.T) {
	t.Helper()
	for _, h := range hosts {
		pid := 0
		if a := l.agents[h]; a != nil {
			pid = a.cmd.Process.Pid
		}
		out, _ := l.onHost(context.Background(), h, nil, "ss", "-uanp").CombinedOutput()
		t.Logf("machine %s: agent pid %d alive=%v; UDP sockets:\n%s", h, pid, l.AgentAlive(h), out)
	}
	out, _ := l.vpcnetTimeout(t, 15*time.Second, "h1", nil, "status", "--store", l.Store, l.Topo)
	t.Logf("status:\n%s", out)
}

// dumpLogs prints the tail of every agent log of the lab.
func (l *Lab) dumpLogs(t *testing.T) {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(l.dir, "agent-*.log"))
	sort.Strings(logs)
	for _, p := range logs {
		b, _ := os.ReadFile(p)
		t.Logf("---- %s (last 40 lines) ----\n%s", filepath.Base(p), tail(string(b), 40))
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Up stores topo (its NAME replaced by the lab's topology name and STORE by
// the cluster) with `vpcnet up` on h1; cleanup takes it down again. It
// waits until every agent has built its instances' namespaces.
func (l *Lab) Up(t *testing.T, topo string, instances ...string) string {
	t.Helper()
	path := filepath.Join(l.dir, "topo.json")
	topo = strings.ReplaceAll(strings.ReplaceAll(topo, "NAME", l.Topo), "STORE", l.Store)
	if err := os.WriteFile(path, []byte(topo), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := l.Vpcnet(t, "h1", nil, "up", path)
	if code != 0 {
		t.Fatalf("up: exit %d:\n%s", code, out)
	}
	t.Cleanup(func() {
		if out, code := l.Vpcnet(t, "h1", nil, "down", "--store", l.Store, l.Topo); code != 0 {
			t.Errorf("down %s: exit %d: %s", l.Topo, code, out)
		}
		// The agents remove their namespaces as they see the network go.
		if !poll(20*time.Second, func() bool { return len(namespacesWithPrefix(l.Topo+"-")) == 0 }) {
			t.Errorf("20 s after down, namespaces left: %v", namespacesWithPrefix(l.Topo+"-"))
			l.diagnose(t)
		}
	})
	for _, i := range instances {
		ns := l.Topo + "-" + i
		if !poll(30*time.Second, func() bool {
			_, err := ipCmd("netns", "exec", ns, "true")
			return err == nil
		}) {
			t.Fatalf("30 s after up, no namespace %s (have %v)", ns, namespacesWithPrefix(l.Topo+"-"))
		}
	}
	return out
}

// Status is `vpcnet status` on h1.
func (l *Lab) Status(t *testing.T) string {
	t.Helper()
	out, code := l.Vpcnet(t, "h1", nil, "status", "--store", l.Store, l.Topo)
	if code != 0 {
		t.Fatalf("status: exit %d:\n%s", code, out)
	}
	return out
}

// Exec runs a command in an instance's or internet host's namespace.
func (l *Lab) Exec(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", l.Topo + "-" + name}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Ping reports whether one ping from name to addr is answered within 1 s.
func (l *Lab) Ping(t *testing.T, name, addr string) bool {
	t.Helper()
	_, err := l.Exec(t, name, "ping", "-n", "-c", "1", "-W", "1", addr)
	return err == nil
}

// PingEventually pings until one is answered, for up to d.
func (l *Lab) PingEventually(t *testing.T, d time.Duration, name, addr string) bool {
	t.Helper()
	return poll(d, func() bool { return l.Ping(t, name, addr) })
}

// Opens reports whether a TCP connection from name to addr:port opens
// within a second.
func (l *Lab) Opens(t *testing.T, name, addr, port string) bool {
	t.Helper()
	_, err := l.Exec(t, name, "nc", "-z", "-w", "1", addr, port)
	return err == nil
}

// Dial opens a TCP connection from inside instance name to addr
// ("ip:port") within timeout (netns.DialIn).
func (l *Lab) Dial(name, addr string, timeout time.Duration) (net.Conn, error) {
	return netns.DialIn(l.Topo+"-"+name, addr, timeout)
}

// Dials reports whether a TCP connection from name to addr opens within
// timeout: finer than nc's whole seconds, for timing how soon a change
// takes effect.
func (l *Lab) Dials(name, addr string, timeout time.Duration) bool {
	c, err := l.Dial(name, addr, timeout)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// echoes reports whether a line sent on c (to vpcnet serve --tcp) comes
// back within a second.
func echoes(c net.Conn, msg string) bool {
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := fmt.Fprintln(c, msg); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.TrimSpace(line) == msg
}

// Whoami is vpcnet serve --http's answer.
type Whoami struct {
	Name   string `json:"name"`
	Local  string `json:"local"`
	Client string `json:"client"`
}

func clientIP(w Whoami) string { return w.Client[:strings.LastIndexByte(w.Client, ':')] }

// Curl fetches url from inside name and decodes vpcnet serve's answer. A
// refused connection is retried for up to 10 s: user data servers start
// after their namespace.
func (l *Lab) Curl(t *testing.T, name, url string) (Whoami, error) {
	t.Helper()
	var w Whoami
	var out string
	var err error
	poll(10*time.Second, func() bool {
		out, err = l.Exec(t, name, "curl", "-sS", "--max-time", "2", url)
		return err == nil || !(strings.Contains(out, "refused") || strings.Contains(out, "Couldn't connect"))
	})
	if err != nil {
		return w, fmt.Errorf("curl %s from %s: %v: %s", url, name, err, out)
	}
	if err := json.Unmarshal([]byte(out), &w); err != nil {
		return w, fmt.Errorf("curl %s from %s: %v: %q", url, name, err, out)
	}
	return w, nil
}

// CurlFails reports whether a fetch from name to url fails (2 s at most).
func (l *Lab) CurlFails(t *testing.T, name, url string) bool {
	t.Helper()
	_, err := l.Exec(t, name, "curl", "-sS", "--max-time", "2", url)
	return err != nil
}

// runEnv is the environment that points the CLI at machine h's agent.
func (l *Lab) runEnv(h string) []string { return []string{"VPCNET_RUN_DIR=" + l.RunDir(h)} }

// Ec2 runs an EC2 operation through machine h's agent.
func (l *Lab) Ec2(t *testing.T, h, op string, args ...string) (string, int) {
	t.Helper()
	return l.vpcnetTimeout(t, 30*time.Second, h, l.runEnv(h), append([]string{op, "--topology", l.Topo}, args...)...)
}

// Ec2OK is Ec2 that must succeed; its JSON is decoded into v (if not nil).
func (l *Lab) Ec2OK(t *testing.T, h string, v any, op string, args ...string) string {
	t.Helper()
	out, code := l.Ec2(t, h, op, args...)
	if code != 0 {
		t.Fatalf("%s %v through %s's agent: exit %d:\n%s", op, args, h, code, out)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(out), v); err != nil {
			t.Fatalf("%s %v: %v:\n%s", op, args, err, out)
		}
	}
	return out
}

// Stats is machine h's forwarder counters, typed and as raw JSON (for
// counters outside the endpoints, such as the tunnel's).
func (l *Lab) Stats(t *testing.T, h string) (dataplane.Stats, any) {
	t.Helper()
	out, code := l.vpcnetTimeout(t, 30*time.Second, h, l.runEnv(h), "stats", "--json", "--topology", l.Topo)
	if code != 0 {
		t.Fatalf("stats on %s: exit %d: %s", h, code, out)
	}
	var s dataplane.Stats
	var raw any
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("stats on %s: %v: %s", h, err, out)
	}
	json.Unmarshal([]byte(out), &raw)
	return s, raw
}

// Drops is the count of drops whose reason starts with reason, on machine h
// at endpoint (an instance's or gateway's name), or anywhere in h's
// counters for endpoint "": every "drops" map of the JSON, so that
// counters the tunnel keeps outside the endpoints are seen too.
func (l *Lab) Drops(t *testing.T, h, endpoint, reason string) uint64 {
	t.Helper()
	s, raw := l.Stats(t, h)
	if endpoint == "" {
		return sumDrops(raw, reason)
	}
	var n uint64
	for _, e := range s.Endpoints {
		if e.Name != endpoint {
			continue
		}
		for r, c := range e.Drops {
			if strings.HasPrefix(r, reason) {
				n += c
			}
		}
	}
	return n
}

// sumDrops adds up, anywhere in v, the entries of objects named "drops"
// whose keys start with reason.
func sumDrops(v any, reason string) uint64 {
	var n uint64
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			if d, ok := c.(map[string]any); ok && k == "drops" {
				for r, c := range d {
					if f, ok := c.(float64); ok && strings.HasPrefix(r, reason) {
						n += uint64(f)
					}
				}
				continue
			}
			n += sumDrops(c, reason)
		}
	case []any:
		for _, c := range x {
			n += sumDrops(c, reason)
		}
	}
	return n
}

// AllDrops is every machine's count of reason, anywhere, by machine.
func (l *Lab) AllDrops(t *testing.T, reason string) map[string]uint64 {
	t.Helper()
	m := map[string]uint64{}
	for _, h := range hosts {
		m[h] = l.Drops(t, h, "", reason)
	}
	return m
}

// Partition cuts the underlay between machines a and b both ways, with
// blackhole routes inside their own namespaces; Heal removes them.
func (l *Lab) Partition(t *testing.T, a, b string) {
	t.Helper()
	mustIP(t, "-n", l.NS(a), "route", "add", "blackhole", l.IP(b)+"/32")
	mustIP(t, "-n", l.NS(b), "route", "add", "blackhole", l.IP(a)+"/32")
}

func (l *Lab) Heal(t *testing.T, a, b string) {
	t.Helper()
	mustIP(t, "-n", l.NS(a), "route", "del", "blackhole", l.IP(b)+"/32")
	mustIP(t, "-n", l.NS(b), "route", "del", "blackhole", l.IP(a)+"/32")
}
