package netns

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Proc identifies a process vpcnet started: its PID and its start time (from
// /proc/<pid>/stat), so that a recycled PID is never signalled.
type Proc struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start"`
	Name  string `json:"name,omitempty"` // the instance or host it runs for
}

// Start runs command with `sh -c` inside the named namespace (through
// `ip netns exec`, so /etc/netns/<name>/hosts applies), in the background, in
// its own process group, with stdout and stderr appended to logPath. extraPath
// is put first on PATH so that user_data can call `vpcnet`.
func Start(name, command, logPath, extraPath string, env ...string) (Proc, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return Proc{}, err
	}
	defer log.Close()
	cmd := exec.Command("ip", "netns", "exec", name, "sh", "-c", command)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = append(append(os.Environ(), "PATH="+extraPath+":"+os.Getenv("PATH")), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := startAnywhere(cmd); err != nil {
		return Proc{}, fmt.Errorf("start user_data in %s: %w", name, err)
	}
	p := Proc{PID: cmd.Process.Pid, Start: startTime(cmd.Process.Pid), Name: name}
	go cmd.Wait() // reap it; the daemon outlives it
	return p, nil
}

// stat reads /proc/<pid>/stat: the process state, its process group and its
// start time (fields 3, 5 and 22). ok is false if there is no such process.
func stat(pid int) (state byte, pgrp int, start uint64, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 || len(f[0]) != 1 {
		return 0, 0, 0, false
	}
	pgrp, _ = strconv.Atoi(f[2])
	start, _ = strconv.ParseUint(f[19], 10, 64)
	return f[0][0], pgrp, start, true
}

// dead reports whether a process state means it runs nothing: a zombie
// waits for its parent (which may be a slow init) to reap it.
func dead(state byte) bool { return state == 'Z' || state == 'X' }

// startTime returns the start time of a live process; 0 if it is gone or a
// zombie.
func startTime(pid int) uint64 {
	state, _, start, ok := stat(pid)
	if !ok || dead(state) {
		return 0
	}
	return start
}

// Alive reports whether p still runs (same PID, same start time).
func (p Proc) Alive() bool { return p.PID > 0 && p.Start != 0 && startTime(p.PID) == p.Start }

// liveGroups maps each process group to its live processes: one pass over
// /proc, however many groups are asked about.
func liveGroups() map[int][]int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	groups := map[int][]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if state, pgrp, _, ok := stat(pid); ok && !dead(state) {
			groups[pgrp] = append(groups[pgrp], pid)
		}
	}
	return groups
}

// mine reports whether the process group led by p.PID is still the one
// vpcnet started. While any member lives, the kernel does not hand p.PID to
// a new process; so if a process holds p.PID with another start time, the
// whole group ended and the PID was recycled: not ours.
func (p Proc) mine() bool {
	if p.PID <= 1 || p.Start == 0 {
		return false
	}
	_, _, start, ok := stat(p.PID)
	return !ok || start == p.Start
}

// Stop ends p's process group, including what user_data left running in
// the background after its shell exited: SIGTERM, then SIGKILL after grace.
// A group that is gone, or whose PID now belongs to another process, is
// left alone.
func (p Proc) Stop(grace time.Duration) { StopAll([]Proc{p}, grace) }

// StopAll stops the process groups of procs at once, as Stop does one.
func StopAll(procs []Proc, grace time.Duration) {
	var live []Proc
	groups := liveGroups()
	for _, p := range procs {
		if p.mine() && len(groups[p.PID]) > 0 {
			syscall.Kill(-p.PID, syscall.SIGTERM)
			live = append(live, p)
		}
	}
	deadline := time.Now().Add(grace)
	for len(live) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		groups = liveGroups()
		live = slices.DeleteFunc(live, func(p Proc) bool { return len(groups[p.PID]) == 0 })
	}
	for _, p := range live {
		if p.mine() {
			syscall.Kill(-p.PID, syscall.SIGKILL)
		}
	}
}

// StartTimeOf returns the start time of pid as /proc shows it (0: no such process).
func StartTimeOf(pid int) uint64 { return startTime(pid) }
