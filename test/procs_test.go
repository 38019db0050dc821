package test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Processes die with their topology (issue 10, item 4): whatever an
// instance or internet host started, daemonized (setsid, a double fork,
// `iperf3 -D`) or not, by user_data or by `vpcnet exec`, ends at `down`,
// also after the forwarder daemon was killed with SIGKILL; and nothing keeps
// a deleted namespace alive.

// daemonizing: a1's user_data daemonizes iperf3 and two sleeps (setsid, and
// a double fork into a new session); the internet host's daemonizes
// iperf3; a2 runs none (the test starts one there with `vpcnet exec`).
const daemonizing = `{
  "name": "NAME", "region": "us-east-1",
  "internet": {"hosts": [{"name": "inet", "ip": "203.0.113.80", "user_data": "iperf3 -s -D"}]},
  "vpcs": [{
    "name": "v", "cidr": "10.9.0.0/16",
    "subnets": [{"name": "a", "cidr": "10.9.1.0/24", "az": "us-east-1a"}],
    "security_groups": [{"name": "open", "ingress": [{"protocol": "all", "source": "0.0.0.0/0"}]}],
    "instances": [
      {"name": "a1", "subnet": "a", "private_ip": "10.9.1.10", "security_groups": ["open"],
       "user_data": "iperf3 -s -D; setsid sleep 1000 </dev/null >/dev/null 2>&1 & (setsid sh -c 'sleep 1000; :' </dev/null >/dev/null 2>&1 &)"},
      {"name": "a2", "subnet": "a", "private_ip": "10.9.1.11", "security_groups": ["open"]}
    ]
  }]
}`

// nsNames are the namespaces of a daemonizing topology.
var nsNames = []string{"a1", "a2", "inet"}

// proc is a process seen at one moment: its PID and start time, so that a
// recycled PID is not taken for it.
type proc struct {
	pid   int
	start uint64
	comm  string
}

// running reports whether p still runs (a zombie does not).
func (p proc) running() bool { return procStart(p.pid) == p.start && p.start != 0 }

// allPIDs lists the numeric entries of /proc.
func allPIDs() []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// topologyProcs returns the running processes of topology name: those
// whose environment has VPCNET_TOPOLOGY=name, which vpcnet gives user_data
// and `vpcnet exec` and which their children (daemons too) inherit.
func topologyProcs(name string) []proc {
	want := []byte("VPCNET_TOPOLOGY=" + name + "\x00")
	var out []proc
	for _, pid := range allPIDs() {
		env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
		if err != nil || !(bytes.HasPrefix(env, want) || bytes.Contains(env, append([]byte{0}, want...))) {
			continue
		}
		comm, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
		p := proc{pid: pid, start: procStart(pid), comm: strings.TrimSpace(string(comm))}
		if p.running() {
			out = append(out, p)
		}
	}
	return out
}

func comms(ps []proc) map[string]int {
	m := map[string]int{}
	for _, p := range ps {
		m[p.comm]++
	}
	return m
}

// netnsInode returns the inode of a named namespace's nsfs file.
func netnsInode(t *testing.T, ns string) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat("/run/netns/"+ns, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// nsHolders returns, for each of the namespace inodes given, what still
// refers to it: a process or thread whose network namespace it is, or a
// descriptor open on it. Any of them keeps the namespace alive.
func nsHolders(inodes []uint64) []string {
	links := map[string]bool{}
	for _, ino := range inodes {
		links[fmt.Sprintf("net:[%d]", ino)] = true
	}
	var out []string
	check := func(path string) {
		if l, err := os.Readlink(path); err == nil && links[l] {
			out = append(out, path+" -> "+l)
		}
	}
	for _, pid := range allPIDs() {
		dir := "/proc/" + strconv.Itoa(pid)
		check(dir + "/ns/net")
		tasks, _ := os.ReadDir(dir + "/task")
		for _, task := range tasks {
			check(dir + "/task/" + task.Name() + "/ns/net")
		}
		fds, _ := os.ReadDir(dir + "/fd")
		for _, fd := range fds {
			check(dir + "/fd/" + fd.Name())
		}
	}
	return out
}

// cgroupsLeft returns the cgroups named after namespaces ns that are left
// in vpcnet's folder of any cgroup2 hierarchy.
func cgroupsLeft(ns []string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		pre, post, _ := strings.Cut(s.Text(), " - ")
		if fields := strings.Fields(pre); strings.HasPrefix(post, "cgroup2 ") && len(fields) > 4 {
			for _, n := range ns {
				if dir := filepath.Join(fields[4], "vpcnet", n); dirExists(dir) {
					out = append(out, dir)
				}
			}
		}
	}
	return out
}

func dirExists(path string) bool { _, err := os.Stat(path); return err == nil }

// upDaemonizing brings a daemonizing topology up, starts a daemon in a2
// through `vpcnet exec`, and waits until all of them run: iperf3 in a1 and
// inet, three sleeps (two from a1, one from a2). It returns them and the
// inodes of the topology's namespaces.
func upDaemonizing(t *testing.T) (*Topo, []proc, []uint64) {
	t.Helper()
	tp := Up(t, daemonizing)
	if out, code := vpcnet(t, "exec", "--topology", tp.Name, "a2", "--",
		"sh", "-c", "setsid sleep 1000 </dev/null >/dev/null 2>&1 &"); code != 0 {
		t.Fatalf("vpcnet exec: exit %d: %s", code, out)
	}
	var ps []proc
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ps = topologyProcs(tp.Name)
		if c := comms(ps); c["iperf3"] == 2 && c["sleep"] == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("want 2 iperf3 and 3 sleep daemons in %s, have %v", tp.Name, comms(ps))
		}
	}
	t.Cleanup(func() { // should down fail: only the test's own processes and cgroups
		for _, p := range ps {
			if p.running() {
				syscall.Kill(p.pid, syscall.SIGKILL)
			}
		}
		var ns []string
		for _, n := range nsNames {
			ns = append(ns, tp.Name+"-"+n)
		}
		for _, dir := range cgroupsLeft(ns) {
			for i := 0; i < 100 && syscall.Rmdir(dir) == syscall.EBUSY; i++ {
				time.Sleep(10 * time.Millisecond)
			}
		}
	})
	var inodes []uint64
	for _, n := range nsNames {
		inodes = append(inodes, netnsInode(t, tp.Name+"-"+n))
	}
	return tp, ps, inodes
}

// checkNothingLeft fails the test if a process of tp, a namespace of tp, a
// reference to one of its namespaces (inodes) or a cgroup of it is left.
func checkNothingLeft(t *testing.T, tp *Topo, ps []proc, inodes []uint64) {
	t.Helper()
	for _, p := range ps {
		if p.running() {
			t.Errorf("%s %d outlived down", p.comm, p.pid)
		}
	}
	if left := topologyProcs(tp.Name); len(left) > 0 {
		t.Errorf("processes of %s left after down: %v", tp.Name, left)
	}
	if left := namespacesWithPrefix(tp.Name + "-"); len(left) > 0 {
		t.Errorf("namespaces left after down: %v", left)
	}
	if held := nsHolders(inodes); len(held) > 0 {
		t.Errorf("deleted namespaces kept alive by: %v", held)
	}
	var ns []string
	for _, n := range nsNames {
		ns = append(ns, tp.Name+"-"+n)
	}
	if left := cgroupsLeft(ns); len(left) > 0 {
		t.Errorf("cgroups left after down: %v", left)
	}
}

// TestDownEndsDaemonizedProcesses: `vpcnet down` ends what user_data and
// `vpcnet exec` daemonized, and no deleted namespace lives on.
func TestDownEndsDaemonizedProcesses(t *testing.T) {
	tp, ps, inodes := upDaemonizing(t)
	if out, code := vpcnet(t, "down", tp.Name); code != 0 {
		t.Fatalf("down: exit %d: %s", code, out)
	}
	checkNothingLeft(t, tp, ps, inodes)
}

// TestDownAfterKill9EndsDaemonizedProcesses: the same when the forwarder
// daemon was killed with SIGKILL first (down then cleans up from
// state.json alone).
func TestDownAfterKill9EndsDaemonizedProcesses(t *testing.T) {
	tp, ps, inodes := upDaemonizing(t)
	b, err := os.ReadFile(filepath.Join("/run/vpcnet", tp.Name, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Daemon struct {
			PID int `json:"pid"`
		} `json:"daemon"`
	}
	if err := json.Unmarshal(b, &st); err != nil || st.Daemon.PID <= 1 {
		t.Fatalf("state.json: daemon %+v, %v", st.Daemon, err)
	}
	daemon := proc{pid: st.Daemon.PID, start: procStart(st.Daemon.PID)}
	if !daemon.running() {
		t.Fatalf("daemon %d is not running", daemon.pid)
	}
	syscall.Kill(daemon.pid, syscall.SIGKILL)
	for deadline := time.Now().Add(5 * time.Second); daemon.running(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("daemon survived SIGKILL")
		}
	}
	if out, code := vpcnet(t, "down", tp.Name); code != 0 {
		t.Fatalf("down: exit %d: %s", code, out)
	}
	checkNothingLeft(t, tp, ps, inodes)
}

// TestUpDownCyclesLeakNothing: 20 up/down cycles of a daemonizing topology
// leave no process and no namespace behind (each cycle started 5 daemons
// and made 3 namespaces).
func TestUpDownCyclesLeakNothing(t *testing.T) {
	RequireRoot(t)
	const cycles = 20
	procsBefore, nsBefore := len(allPIDs()), len(netNamespaces())
	var all []proc
	var inodes []uint64
	var names []string
	for range cycles {
		tp, ps, ino := upDaemonizing(t)
		if out, code := vpcnet(t, "down", tp.Name); code != 0 {
			t.Fatalf("down: exit %d: %s", code, out)
		}
		all, inodes, names = append(all, ps...), append(inodes, ino...), append(names, tp.Name)
	}
	procsAfter, nsAfter := len(allPIDs()), len(netNamespaces())
	t.Logf("%d cycles: processes on the machine %d before, %d after; network namespaces in use %d before, %d after",
		cycles, procsBefore, procsAfter, nsBefore, nsAfter)
	var running []proc
	for _, p := range all {
		if p.running() {
			running = append(running, p)
		}
	}
	for _, n := range names {
		running = append(running, topologyProcs(n)...)
	}
	if len(running) > 0 {
		t.Errorf("%d of %d daemons outlived their topology: %v", len(running), len(all), running)
	}
	if held := nsHolders(inodes); len(held) > 0 {
		t.Errorf("%d deleted namespaces kept alive: %v", len(held), held)
	}
	alive := netNamespaces()
	if n := len(slices.DeleteFunc(slices.Clone(inodes), func(i uint64) bool { return !alive[i] })); n > 0 {
		t.Errorf("%d of the %d namespaces made are still in use", n, len(inodes))
	}
}

// netNamespaces returns the network namespaces processes run in (by inode),
// as `lsns -t net` counts them.
func netNamespaces() map[uint64]bool {
	m := map[uint64]bool{}
	for _, pid := range allPIDs() {
		var st syscall.Stat_t
		if syscall.Stat("/proc/"+strconv.Itoa(pid)+"/ns/net", &st) == nil {
			m[st.Ino] = true
		}
	}
	return m
}
