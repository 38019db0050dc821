package netns

import (
	"fmt"
	"os"
	"os/exec"
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
// is put first on PATH so that user_data can call `vpcnet`. The process and
// all it starts are in the namespace's cgroup from the fork on (where the
// system has cgroup2), so that Stop and Delete find them even after they
// left the process group, the session or the namespace.
func Start(name, command, logPath, extraPath string, env ...string) (Proc, error) {
	// Root only, whatever the umask: user_data's output may hold secrets.
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return Proc{}, err
	}
	defer log.Close()
	if err := log.Chmod(0o600); err != nil {
		return Proc{}, err
	}
	cmd, err := startInCgroup(name, func() *exec.Cmd {
		cmd := exec.Command("ip", "netns", "exec", name, "sh", "-c", command)
		cmd.Stdout, cmd.Stderr = log, log
		cmd.Env = append(append(os.Environ(), "PATH="+extraPath+":"+os.Getenv("PATH")), env...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		return cmd
	})
	if err != nil {
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

// Stop ends what Start started as p: its process group, including what
// user_data left running in the background after its shell exited, and
// every process in the cgroup of p's namespace (p.Name), including what
// daemonized (setsid) and so left the group. SIGTERM, then after grace
// SIGKILL until none is left (bounded: see killTimeout); then the cgroup is
// removed. A group whose leader's PID now belongs to another process ended
// long ago and is left alone.
func (p Proc) Stop(grace time.Duration) { StopAll([]Proc{p}, grace) }

// StopAll stops procs at once, as Stop does one: one grace period for all.
func StopAll(procs []Proc, grace time.Duration) {
	e := endingOf(procs)
	e.end(grace)
}

// StartTimeOf returns the start time of pid as /proc shows it (0: no such process).
func StartTimeOf(pid int) uint64 { return startTime(pid) }
