//go:build linux

package netns

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startGroup starts sh -c script in its own process group, as Start does
// user_data, and returns it as a Proc. The script starts only once its
// start time is read: it waits for a line on its input, which startGroup
// sends then. It should print "ready" once it has set itself up; startGroup
// returns after that.
func startGroup(t *testing.T, script string) (*exec.Cmd, Proc) {
	t.Helper()
	cmd := exec.Command("sh", "-c", "read go; "+script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := Proc{PID: cmd.Process.Pid, Start: StartTimeOf(cmd.Process.Pid)}
	t.Cleanup(func() { syscall.Kill(-p.PID, syscall.SIGKILL); cmd.Wait() })
	if p.Start == 0 {
		t.Fatal("no start time for a process just started")
	}
	in.Write([]byte("go\n"))
	in.Close()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "ready\n" {
		t.Fatalf("script %q printed %q, want ready", script, line)
	}
	return cmd, p
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// A process that exited but is not reaped yet (a zombie) is not alive: down
// must not wait for a slow init to reap the killed daemon.
func TestAliveFalseForZombie(t *testing.T) {
	cmd, p := startGroup(t, "echo ready; exit 0")
	waitFor(t, "the zombie", func() bool {
		state, _, _, ok := stat(p.PID)
		return ok && state == 'Z'
	})
	if p.Alive() {
		t.Fatal("a zombie counts as alive")
	}
	cmd.Wait()
}

// Stop ends what user_data left in the background after its shell exited.
func TestStopEndsBackgroundChildren(t *testing.T) {
	cmd, p := startGroup(t, "sleep 60 >/dev/null & echo ready")
	var child int
	waitFor(t, "the background sleep", func() bool {
		for _, pid := range groupMembers(p.PID) {
			if pid != p.PID && comm(pid) == "sleep" {
				child = pid
				return true
			}
		}
		return false
	})
	cmd.Wait() // the shell is gone and reaped; its child lives on
	if p.Alive() {
		t.Fatal("the shell still runs")
	}
	p.Stop(2 * time.Second)
	if startTime(child) != 0 {
		t.Fatalf("background child %d survived Stop", child)
	}
}

// A group that ignores SIGTERM is killed after the grace period.
func TestStopKillsAfterGrace(t *testing.T) {
	_, p := startGroup(t, "trap '' TERM; echo ready; while :; do sleep 0.05; done")
	begin := time.Now()
	p.Stop(200 * time.Millisecond)
	if time.Since(begin) < 200*time.Millisecond {
		t.Fatal("Stop returned before the grace period of a group that ignores SIGTERM")
	}
	waitFor(t, "the group to end", func() bool { return len(groupMembers(p.PID)) == 0 })
}

// A PID held by a process with another start time was recycled: Stop must
// leave that process alone (network safety: stop only what we started).
func TestStopLeavesRecycledPIDAlone(t *testing.T) {
	_, p := startGroup(t, "echo ready; exec sleep 60")
	stranger := p
	stranger.Start = p.Start + 1 // "our" process started at another time
	if stranger.Alive() {
		t.Fatal("a PID with another start time counts as ours")
	}
	stranger.Stop(100 * time.Millisecond)
	if !p.Alive() {
		t.Fatal("Stop signalled a process it did not start")
	}
	StopAll([]Proc{p}, time.Second)
	if p.Alive() {
		t.Fatal("StopAll left the process running")
	}
}

// groupMembers returns the live processes of process group pgid.
func groupMembers(pgid int) []int { return liveGroups()[pgid] }

func comm(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	return strings.TrimSpace(string(b))
}
