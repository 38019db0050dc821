package netns

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// These tests start processes in test namespaces and check that Delete and
// Stop end them, and nothing else. Every process a test starts is also
// killed by PID in t.Cleanup (killLeft), should the code under test fail.

// withoutCgroups makes the test run as on a system without cgroup2: Start
// puts nothing in a cgroup, Delete finds processes by namespace alone.
func withoutCgroups(t *testing.T) {
	old := cgroupBase
	cgroupBase = func() string { return "" }
	t.Cleanup(func() { cgroupBase = old })
}

// requireCgroups skips a test where this system gives vpcnet no cgroup.
func requireCgroups(t *testing.T) {
	t.Helper()
	if cgroupBase() == "" {
		t.Skip("no read-write cgroup2 hierarchy")
	}
}

// withoutCgroupKill makes SIGKILL reach a cgroup as on a kernel before
// 5.14: freeze, kill one by one, thaw.
func withoutCgroupKill(t *testing.T) {
	useCgroupKill = false
	t.Cleanup(func() { useCgroupKill = true })
}

// nsOf returns the namespace id of a test namespace, for checks after its
// name is gone.
func nsOf(t *testing.T, name string) nsID {
	t.Helper()
	id, ok := nsIDOf(Path(name))
	if !ok {
		t.Fatalf("no namespace %s", name)
	}
	return id
}

// pidsIn returns the live processes whose network namespace is id.
func pidsIn(id nsID) []int {
	e := ending{nets: []nsID{id}}
	return e.members()
}

// killLeft kills, when the test ends, any process still in namespace ns
// (id: it may be deleted by then) or its cgroup (only the test's processes
// can be there) and any whose command line names marker (a path unique to
// the test), then removes the cgroup.
func killLeft(t *testing.T, ns string, id nsID, marker string) {
	t.Cleanup(func() {
		cg := cgroupDir(ns)
		for range 100 {
			left := pidsIn(id)
			if marker != "" {
				left = append(left, pidsWith(marker)...)
			}
			if cg != "" {
				left = append(left, cgroupPIDs(cg)...)
			}
			left = slices.DeleteFunc(left, spared)
			if len(left) == 0 {
				break
			}
			for _, pid := range left {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err := removeCgroup(cg); err != nil {
			t.Error(err)
		}
	})
}

// pidsWith returns the live processes whose command line contains s.
func pidsWith(s string) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || spared(pid) {
			continue
		}
		b, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if strings.Contains(string(b), s) && startTime(pid) != 0 {
			out = append(out, pid)
		}
	}
	return out
}

// execIn runs sh -c script in ns as `vpcnet exec` does (ip netns exec, no
// cgroup) and returns the PID it prints.
func execIn(t *testing.T, ns, script string) int {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "sh", "-c", script).Output()
	if err != nil {
		t.Fatalf("%s: %v", script, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("%s printed %q, want a PID", script, out)
	}
	return pid
}

// A process that left its session and process group inside the namespace
// (setsid, as `iperf3 -D` does), started there as `vpcnet exec` starts
// one, ends on Delete, also when it ignores SIGTERM; a process of the same
// name outside the namespace is untouched, and nothing keeps the deleted
// namespace alive.
func TestDeleteEndsDaemonizedProcesses(t *testing.T) {
	requireRoot(t)
	for _, tc := range []struct{ name, script string }{
		{"setsid sleep", "setsid sleep 1000 </dev/null >/dev/null 2>&1 & echo $!"},
		{"ignores SIGTERM", `setsid sh -c 'trap "" TERM; while :; do sleep 0.05; done' </dev/null >/dev/null 2>&1 & echo $!`},
		{"no cgroups", "setsid sleep 1000 </dev/null >/dev/null 2>&1 & echo $!"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "no cgroups" {
				withoutCgroups(t)
			}
			ns, _ := newNS(t)
			id := nsOf(t, ns)
			killLeft(t, ns, id, "")
			outside := exec.Command("sleep", "1000")
			if err := outside.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { outside.Process.Kill(); outside.Wait() })
			inside := execIn(t, ns, tc.script)
			insideStart := startTime(inside)
			if insideStart == 0 || !slices.Contains(pidsIn(id), inside) {
				t.Fatalf("process %d is not running in %s", inside, ns)
			}

			if err := Delete(ns); err != nil {
				t.Fatal(err)
			}
			if startTime(inside) == insideStart {
				t.Errorf("process %d (%s) in %s outlived Delete", inside, tc.script, ns)
			}
			if left := pidsIn(id); len(left) > 0 {
				t.Errorf("processes %v keep the deleted namespace %s alive", left, ns)
			}
			if outside.ProcessState != nil || startTime(outside.Process.Pid) == 0 {
				t.Errorf("Delete ended sleep %d, which runs outside %s", outside.Process.Pid, ns)
			}
		})
	}
}

// Start puts user_data in its namespace's cgroup from the fork on; a
// process that then leaves the namespace too (setns: user_data runs as
// root) is found there and ended by Delete and by Stop, which also remove
// the cgroup.
func TestCgroupEndsWhatLeftTheNamespace(t *testing.T) {
	requireRoot(t)
	requireCgroups(t)
	for _, how := range []string{"Delete", "Stop", "Stop without cgroup.kill"} {
		t.Run(how, func(t *testing.T) {
			if how == "Stop without cgroup.kill" {
				withoutCgroupKill(t)
			}
			ns, _ := newNS(t)
			killLeft(t, ns, nsOf(t, ns), "")
			dir := t.TempDir()
			pidFile := filepath.Join(dir, "pid")
			// The escapee joins the namespace of this test process.
			script := "nsenter --net=/proc/" + strconv.Itoa(os.Getpid()) + "/ns/net setsid sh -c 'echo $$ > " + pidFile +
				".tmp; mv " + pidFile + ".tmp " + pidFile + "; exec sleep 1000' </dev/null >/dev/null 2>&1 &"
			p, err := Start(ns, script, filepath.Join(dir, "log"), "")
			if err != nil {
				t.Fatal(err)
			}
			var escapee int
			waitFor(t, "the escaped process", func() bool {
				b, err := os.ReadFile(pidFile)
				escapee, _ = strconv.Atoi(strings.TrimSpace(string(b)))
				return err == nil
			})
			t.Cleanup(func() {
				if comm(escapee) == "sleep" {
					syscall.Kill(escapee, syscall.SIGKILL)
				}
			})
			escapeeStart := startTime(escapee)
			if cg := cgroupDir(ns); !slices.Contains(cgroupPIDs(cg), escapee) {
				t.Fatalf("process %d is not in %s: %v", escapee, cg, cgroupPIDs(cg))
			}
			self, _ := nsIDOf("/proc/self/ns/net")
			if id, _ := nsIDOf("/proc/" + strconv.Itoa(escapee) + "/ns/net"); id != self {
				t.Fatalf("process %d did not leave %s", escapee, ns)
			}

			if how == "Delete" {
				err = Delete(ns)
			} else {
				p.Stop(time.Second)
			}
			if err != nil {
				t.Fatal(err)
			}
			if startTime(escapee) == escapeeStart {
				t.Errorf("process %d, which left %s, outlived %s", escapee, ns, how)
			}
			if _, err := os.Stat(cgroupDir(ns)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("cgroup %s after %s: %v", cgroupDir(ns), how, err)
			}
		})
	}
}

// Start works where there is no cgroup, and Stop then ends the process
// group as before.
func TestStartWithoutCgroups(t *testing.T) {
	requireRoot(t)
	withoutCgroups(t)
	ns, _ := newNS(t)
	killLeft(t, ns, nsOf(t, ns), "")
	p, err := Start(ns, "sleep 1000", filepath.Join(t.TempDir(), "log"), "")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Alive() {
		t.Fatal("user_data not running")
	}
	p.Stop(time.Second)
	if p.Alive() {
		t.Fatal("user_data outlived Stop")
	}
}

// A process that forks a successor and exits, over and over (so its PID
// changes faster than a scan of /proc), and leaves a process behind at
// each step, is ended by Delete: with cgroup.kill, with the freezer where
// the kernel has no cgroup.kill, and by the namespace alone where there
// are no cgroups. Nothing of it runs afterwards.
func TestDeleteEndsForkingProcess(t *testing.T) {
	requireRoot(t)
	for _, mode := range []string{"cgroup.kill", "freezer", "namespace only"} {
		t.Run(mode, func(t *testing.T) {
			switch mode {
			case "cgroup.kill", "freezer":
				requireCgroups(t)
				if mode == "freezer" {
					withoutCgroupKill(t)
				}
			case "namespace only":
				withoutCgroups(t)
			}
			ns, _ := newNS(t)
			id := nsOf(t, ns)
			hop := filepath.Join(t.TempDir(), "hop.sh")
			killLeft(t, ns, id, hop)
			err := os.WriteFile(hop, []byte(`#!/bin/sh
if [ "$1" = rest ]; then while :; do sleep 1; done; fi
sleep 0.005
setsid "$0" </dev/null >/dev/null 2>&1 &
exec "$0" rest
`), 0o755)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Start(ns, hop, filepath.Join(t.TempDir(), "log"), ""); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "10 hops", func() bool { return len(pidsWith(hop)) >= 10 })

			if err := Delete(ns); err != nil {
				t.Fatal(err)
			}
			for range 10 { // nothing comes back either
				if left := pidsWith(hop); len(left) > 0 {
					t.Fatalf("%d processes of %s run after Delete: %v", len(left), hop, left)
				}
				time.Sleep(30 * time.Millisecond)
			}
		})
	}
}

// A scan never counts PID 1 or vpcnet itself among a namespace's
// processes, even the namespace they run in (only members is called here:
// nothing is signalled).
func TestMembersSpareInitAndSelf(t *testing.T) {
	requireRoot(t)
	self, ok := nsIDOf("/proc/self/ns/net")
	if !ok {
		t.Fatal("no /proc/self/ns/net")
	}
	e := ending{nets: []nsID{self}}
	m := e.members()
	if len(m) == 0 {
		t.Fatal("no process found in this test's own namespace")
	}
	if slices.Contains(m, 1) || slices.Contains(m, os.Getpid()) {
		t.Fatalf("members of this namespace include PID 1 or the test itself: %v", m)
	}
	if e.holds(os.Getpid()) || e.holds(1) {
		t.Fatal("holds is true of PID 1 or the test itself")
	}
}

// A name that refers to the namespace vpcnet (or PID 1) runs in, as `ip
// netns attach NAME PID` makes one, is no instance's: Delete must not take
// that namespace's processes for the instance's. (Only the scan is run
// here: were the guard broken, Delete would signal the host's processes.)
func TestNamespaceEndingSparesHostNamespace(t *testing.T) {
	requireRoot(t)
	name := uniqueName()
	if err := os.WriteFile(Path(name), nil, 0o444); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(Path(name)) })
	if err := unix.Mount("/proc/self/ns/net", Path(name), "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(Path(name), unix.MNT_DETACH) })
	if !Exists(name) {
		t.Fatalf("%s is not a namespace", name)
	}
	e := namespaceEnding(name)
	if len(e.nets) != 0 {
		t.Fatalf("the host's namespace, named %s, is scanned for processes to end", name)
	}
	if m := e.members(); len(m) != 0 {
		t.Fatalf("processes %v of the host's namespace would end", m)
	}
}
