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
	if err := cmd.Start(); err != nil {
		return Proc{}, fmt.Errorf("start user_data in %s: %w", name, err)
	}
	p := Proc{PID: cmd.Process.Pid, Start: startTime(cmd.Process.Pid), Name: name}
	go cmd.Wait() // reap it; the daemon outlives it
	return p, nil
}

// startTime reads field 22 of /proc/<pid>/stat; 0 if the process is gone.
func startTime(pid int) uint64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0
	}
	v, _ := strconv.ParseUint(f[19], 10, 64)
	return v
}

// Alive reports whether p still runs (same PID, same start time).
func (p Proc) Alive() bool { return p.PID > 0 && startTime(p.PID) == p.Start && p.Start != 0 }

// Stop ends p's process group: SIGTERM, then SIGKILL after grace. A process
// that is gone, or whose PID now belongs to another process, is left alone.
func (p Proc) Stop(grace time.Duration) {
	if !p.Alive() {
		return
	}
	syscall.Kill(-p.PID, syscall.SIGTERM)
	syscall.Kill(p.PID, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !p.Alive() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	if p.Alive() {
		syscall.Kill(-p.PID, syscall.SIGKILL)
		syscall.Kill(p.PID, syscall.SIGKILL)
	}
}

// StartTimeOf returns the start time of pid as /proc shows it (0: no such process).
func StartTimeOf(pid int) uint64 { return startTime(pid) }
