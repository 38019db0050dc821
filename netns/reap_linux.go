package netns

// Processes die with their namespace (issue 10, "Processes die with their
// topology"). A user_data or `vpcnet exec` command may leave its process
// group and session (`iperf3 -s -D`, `setsid`), so a process group alone
// does not find what an instance started. Two more handles find it all:
//
//  1. A cgroup per namespace. Start puts user_data into
//     <cgroup2 mount>/vpcnet/<namespace> as it forks (clone3 with
//     CLONE_INTO_CGROUP), so every descendant is in it, whatever session,
//     process group or network namespace it moves to. Where no cgroup2
//     hierarchy is mounted read-write (a container, a pure cgroup-v1 host),
//     there is none and the other two handles do the work.
//  2. The network namespace. Every process whose /proc/PID/ns/net is the
//     namespace (as `ip netns pids` finds them) belongs to the instance:
//     this finds what `vpcnet exec` (ip netns exec) started, which is in no
//     cgroup of ours.
//
// Ending is SIGTERM to all, a grace period, then SIGKILL until none is left
// (a process may fork while it is being killed): cgroup.kill, which the
// kernel applies to forks under way too; where the kernel lacks it, the
// cgroup is frozen while its processes are killed one by one. A process is
// signalled only through a pidfd taken before the check that it is ours,
// so a PID recycled meanwhile is never hit; PID 1 and vpcnet itself never
// are.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// cgroupBase returns the folder that holds vpcnet's cgroups (one per
// namespace), "" if this system has no cgroup2 hierarchy vpcnet may write.
// Tests replace it.
var cgroupBase = sync.OnceValue(findCgroupBase)

// useCgroupKill is false only in tests of the fallback for kernels before
// 5.14 (no cgroup.kill): freeze, kill one by one, thaw.
var useCgroupKill = true

// killTimeout bounds the SIGKILL loop of end: processes that still run
// after it (a fork bomb faster than the loop) are reported, not waited for.
const killTimeout = 5 * time.Second

// deleteGrace is how long Delete lets the processes of a namespace exit
// after SIGTERM before it kills them.
const deleteGrace = 2 * time.Second

// findCgroupBase finds the first cgroup2 mount that is read-write (on a
// pure v2 host /sys/fs/cgroup, on a hybrid one /sys/fs/cgroup/unified).
func findCgroupBase() string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		// 41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
		pre, post, ok := strings.Cut(s.Text(), " - ")
		if !ok || !strings.HasPrefix(post, "cgroup2 ") {
			continue
		}
		f := strings.Fields(pre)
		if len(f) < 6 || !slices.Contains(strings.Split(f[5], ","), "rw") || unix.Access(f[4], unix.W_OK) != nil {
			continue
		}
		return filepath.Join(f[4], "vpcnet")
	}
	return ""
}

// cgroupDir is the cgroup of namespace name's processes ("" if none can be).
func cgroupDir(name string) string {
	base := cgroupBase()
	if base == "" || checkName(name) != nil {
		return ""
	}
	return filepath.Join(base, name)
}

// makeCgroup creates the cgroup of namespace name (an existing one is
// reused) and returns it, or "" if it cannot be made.
func makeCgroup(name string) string {
	dir := cgroupDir(name)
	if dir == "" {
		return ""
	}
	// Up to three tries: removeCgroup of another namespace may remove the
	// base between our mkdir of the base and of dir.
	for range 3 {
		if err := os.MkdirAll(dir, 0o755); err == nil {
			return dir
		} else if !errors.Is(err, os.ErrNotExist) {
			break
		}
	}
	return ""
}

// startInCgroup starts the command newCmd makes inside the cgroup of
// namespace name, from the fork on (CLONE_INTO_CGROUP, Linux 5.7). If the
// kernel refuses that, the command starts outside and is moved in at once;
// without cgroups it just starts. newCmd must set SysProcAttr.
func startInCgroup(name string, newCmd func() *exec.Cmd) (*exec.Cmd, error) {
	dir := makeCgroup(name)
	if dir == "" {
		cmd := newCmd()
		return cmd, startAnywhere(cmd)
	}
	if fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
		cmd := newCmd()
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, fd
		err := startAnywhere(cmd)
		unix.Close(fd)
		if err == nil {
			return cmd, nil
		}
	}
	cmd := newCmd()
	if err := startAnywhere(cmd); err != nil {
		return cmd, err
	}
	// Most likely before ip has run sh, so before anything forked; what
	// forked earlier is found by its namespace.
	os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0)
	return cmd, nil
}

// removeCgroup removes the cgroup at dir (and any that user_data made
// inside it), then the base if no other namespace uses it. A cgroup that
// still holds processes stays, and so does the error.
func removeCgroup(dir string) error {
	if dir == "" {
		return nil
	}
	var dirs []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	var err error
	for _, d := range slices.Backward(dirs) {
		// A process killed a moment ago may not have left the cgroup yet.
		for try := 0; ; try++ {
			err = unix.Rmdir(d)
			if err != unix.EBUSY || try == 50 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil && err != unix.ENOENT {
			return fmt.Errorf("remove cgroup %s: %w", d, err)
		}
	}
	unix.Rmdir(filepath.Dir(dir)) // EBUSY: another namespace's cgroup is there
	return nil
}

// nsID identifies a network namespace: the device and inode of its nsfs
// file, as stat of /run/netns/<name> or /proc/PID/ns/net shows them.
type nsID struct{ dev, ino uint64 }

func nsIDOf(path string) (nsID, bool) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nsID{}, false
	}
	return nsID{st.Dev, st.Ino}, true
}

// ending is a set of processes to end: the process groups vpcnet started
// (each checked by its leader's start time), the cgroups it put processes
// in, and the network namespaces they run in.
type ending struct {
	groups  []Proc
	cgroups []string // cgroup folders
	nets    []nsID
}

// endingOf returns what Stop of procs ends: their process groups and
// their namespaces' cgroups.
func endingOf(procs []Proc) ending {
	var e ending
	for _, p := range procs {
		if p.mine() {
			e.groups = append(e.groups, p)
		}
		if dir := cgroupDir(p.Name); dir != "" && !slices.Contains(e.cgroups, dir) {
			e.cgroups = append(e.cgroups, dir)
		}
	}
	return e
}

// namespaceEnding returns what Delete ends: the processes in namespace
// name and in its cgroup. A name that refers to the namespace of PID 1 or
// of vpcnet (`ip netns attach NAME 1` makes one) is no instance's: its
// processes are left alone.
func namespaceEnding(name string) ending {
	var e ending
	if dir := cgroupDir(name); dir != "" {
		e.cgroups = []string{dir}
	}
	if !Exists(name) {
		return e
	}
	id, ok := nsIDOf(Path(name))
	self, known := nsIDOf("/proc/self/ns/net")
	initNS, _ := nsIDOf("/proc/1/ns/net") // unreadable in some sandboxes
	if ok && known && id != self && id != initNS {
		e.nets = []nsID{id}
	}
	return e
}

// spared reports whether pid must never be signalled by a scan: init and
// vpcnet itself.
func spared(pid int) bool { return pid <= 1 || pid == os.Getpid() }

// cgroupPIDs lists the processes of the cgroup at dir and of the cgroups
// inside it (zombies included: callers filter).
func cgroupPIDs(dir string) []int {
	var pids []int
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		for _, f := range bytes.Fields(b) {
			if pid, err := strconv.Atoi(string(f)); err == nil {
				pids = append(pids, pid)
			}
		}
		return nil
	})
	return pids
}

// members returns the live processes of e other than PID 1 and vpcnet,
// in one pass over /proc plus one read of each cgroup.
func (e *ending) members() []int {
	var out []int
	seen := map[int]bool{}
	add := func(pid int) {
		if !seen[pid] && !spared(pid) {
			seen[pid] = true
			out = append(out, pid)
		}
	}
	for _, dir := range e.cgroups {
		for _, pid := range cgroupPIDs(dir) {
			if state, _, _, ok := stat(pid); ok && !dead(state) {
				add(pid)
			}
		}
	}
	if len(e.groups) == 0 && len(e.nets) == 0 {
		return out
	}
	// A group whose leader's PID went to another process ended: not ours.
	groups := slices.DeleteFunc(slices.Clone(e.groups), func(p Proc) bool { return !p.mine() })
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || seen[pid] {
			continue
		}
		state, pgrp, _, ok := stat(pid)
		if !ok || dead(state) {
			continue
		}
		if slices.ContainsFunc(groups, func(p Proc) bool { return p.PID == pgrp }) || e.inNet(pid) {
			add(pid)
		}
	}
	return out
}

// inNet reports whether pid runs in one of e's network namespaces: every
// one of its threads does. A process with a thread elsewhere only visits
// (a Go program, a test among them, that moved one locked thread into the
// namespace, possibly its main thread, whose namespace /proc/PID/ns/net
// shows): it is not the instance's to end.
func (e *ending) inNet(pid int) bool {
	if len(e.nets) == 0 {
		return false
	}
	dir := "/proc/" + strconv.Itoa(pid)
	id, ok := nsIDOf(dir + "/ns/net")
	if !ok || !slices.Contains(e.nets, id) {
		return false
	}
	tasks, err := os.ReadDir(dir + "/task")
	if err != nil {
		return true
	}
	for _, t := range tasks {
		if tid, ok := nsIDOf(dir + "/task/" + t.Name() + "/ns/net"); ok && tid != id {
			return false
		}
	}
	return true
}

// inCgroup reports whether pid is in one of e's cgroups (or one inside).
func (e *ending) inCgroup(pid int) bool {
	if len(e.cgroups) == 0 {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return false
	}
	for line := range strings.Lines(string(b)) {
		path, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "0::")
		if !ok {
			continue
		}
		for _, dir := range e.cgroups {
			// The path is relative to the cgroup2 root, dir to /.
			rel := "/" + filepath.Base(filepath.Dir(dir)) + "/" + filepath.Base(dir)
			if strings.HasSuffix(path, rel) || strings.Contains(path, rel+"/") {
				return true
			}
		}
	}
	return false
}

// holds reports whether pid belongs to e's namespaces or cgroups now.
func (e *ending) holds(pid int) bool { return !spared(pid) && (e.inNet(pid) || e.inCgroup(pid)) }

// signalIf sends sig to pid if holds(pid) when it is sent. The process is
// pinned by a pidfd before the check: if it ends and its PID goes to
// another process meanwhile, the signal goes nowhere.
func signalIf(pid int, sig syscall.Signal, holds func(int) bool) {
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ENOSYS) { // before Linux 5.3
		if holds(pid) {
			unix.Kill(pid, sig)
		}
		return
	}
	if err != nil {
		return
	}
	defer unix.Close(fd)
	if holds(pid) {
		unix.PidfdSendSignal(fd, sig, nil, 0)
	}
}

// signal sends sig to every member of e: to each process group whose
// leader is still vpcnet's, and to each process in e's namespaces and
// cgroups, but not to the processes in sent (PID and start time), which
// got it before; it adds those it signals to sent. SIGKILL reaches a
// cgroup through cgroup.kill, or while the cgroup is frozen, so that a
// fork under way does not escape.
func (e *ending) signal(sig syscall.Signal, sent map[int]uint64) {
	groups := liveGroups()
	for _, p := range e.groups {
		if _, ok := sent[-p.PID]; ok || len(groups[p.PID]) == 0 || !p.mine() {
			continue
		}
		syscall.Kill(-p.PID, sig)
		sent[-p.PID] = p.Start // the group, by the negative of its ID
		for _, pid := range groups[p.PID] {
			sent[pid] = startTime(pid)
		}
	}
	var thaw []string
	if sig == syscall.SIGKILL {
		for _, dir := range e.cgroups {
			if useCgroupKill && os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0) == nil {
				continue
			}
			if os.WriteFile(filepath.Join(dir, "cgroup.freeze"), []byte("1"), 0) == nil {
				thaw = append(thaw, dir)
			}
		}
	}
	for _, pid := range e.members() {
		start := startTime(pid)
		if s, ok := sent[pid]; ok && s == start {
			continue
		}
		signalIf(pid, sig, e.holds)
		sent[pid] = start
	}
	for _, dir := range thaw {
		// A frozen process still dies of SIGKILL; thawing lets the
		// rest of the cgroup (nothing, by now) run again.
		os.WriteFile(filepath.Join(dir, "cgroup.freeze"), []byte("0"), 0)
	}
}

// end ends the processes of e: SIGTERM, up to grace for them to exit (a
// process that appears meanwhile, forked by one that has not exited yet,
// gets SIGTERM too), then SIGKILL again and again until none is left, at
// most killTimeout. Then it removes e's cgroups. Processes still running
// are named in the error.
func (e *ending) end(grace time.Duration) error {
	if len(e.members()) > 0 {
		termed := map[int]uint64{}
		e.signal(syscall.SIGTERM, termed)
		for deadline := time.Now().Add(grace); time.Now().Before(deadline) && len(e.members()) > 0; {
			time.Sleep(20 * time.Millisecond)
			e.signal(syscall.SIGTERM, termed)
		}
		for deadline := time.Now().Add(killTimeout); ; {
			left := e.members()
			if len(left) == 0 {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("processes %v still run after SIGKILL for %v", left, killTimeout)
			}
			// Every pass sends to all: a SIGKILL is never ignored,
			// so one that is still there is new.
			e.signal(syscall.SIGKILL, map[int]uint64{})
			time.Sleep(5 * time.Millisecond)
		}
	}
	var errs []error
	for _, dir := range e.cgroups {
		errs = append(errs, removeCgroup(dir))
	}
	return errors.Join(errs...)
}

// EnterCgroup moves the calling process into the cgroup of namespace name,
// where the system has one, so that what it then runs (`vpcnet exec`
// replaces itself with the command) ends with the namespace even if it
// leaves it. Without cgroups, Delete still finds it by its namespace.
func EnterCgroup(name string) error {
	dir := makeCgroup(name)
	if dir == "" {
		return nil
	}
	return os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0)
}
