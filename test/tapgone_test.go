package test

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

const tapGoneTopo = `{
  "name": "NAME", "region": "us-east-1",
  "vpcs": [{
    "name": "v", "cidr": "10.78.0.0/16",
    "subnets": [{"name": "s", "cidr": "10.78.1.0/24", "az": "us-east-1a"}],
    "instances": [
      {"name": "a", "subnet": "s", "private_ip": "10.78.1.10"},
      {"name": "b", "subnet": "s", "private_ip": "10.78.1.20"},
      {"name": "c", "subnet": "s", "private_ip": "10.78.1.30"}
    ]
  }]
}`

// TestHardening_TAPDeletedByHand: a device deleted by hand inside an
// instance is reported by status (issue 10 item 12), the forwarder does not
// spin on the dead port, and the other instance still works.
func TestHardening_TAPDeletedByHand(t *testing.T) {
	tp := Up(t, tapGoneTopo)
	if !tp.PingEventually(t, "b", "10.78.1.30") {
		t.Fatal("b cannot ping c")
	}
	tp.MustExec(t, "a", "ip", "link", "del", "eth0")
	out, code := vpcnet(t, "status", "--topology", tp.Name)
	if !strings.Contains(out, "eth0 (gone)") || !strings.Contains(out, "impaired") || !strings.Contains(out, "deleted by hand") {
		t.Errorf("status after eth0 of a was deleted (exit %d):\n%s", code, out)
	}
	// The forwarder's CPU time over 2 s stays small: no busy loop on the
	// dead TAP.
	pid := daemonPIDOf(t, tp.Name)
	before := cpuTicks(t, pid)
	time.Sleep(2 * time.Second)
	if used := cpuTicks(t, pid) - before; used > 50 { // 0.5 s of 2 s at 100 Hz
		t.Errorf("forwarder used %d ticks in 2 s with a dead port: spinning", used)
	}
	if !tp.Ping(t, "b", "10.78.1.30") {
		t.Error("b cannot ping c after a's device was deleted")
	}
}

// cpuTicks returns a process's user+system CPU time in clock ticks.
func cpuTicks(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	u, _ := strconv.Atoi(f[11])
	s, _ := strconv.Atoi(f[12])
	return u + s
}

// daemonPIDOf reads the forwarder's PID from the topology's state.
func daemonPIDOf(t *testing.T, name string) int {
	t.Helper()
	b, err := os.ReadFile("/run/vpcnet/" + name + "/state.json")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Daemon struct{ PID int } `json:"daemon"`
	}
	if err := json.Unmarshal(b, &st); err != nil || st.Daemon.PID == 0 {
		t.Fatalf("state.json: %v: %s", err, b)
	}
	return st.Daemon.PID
}

// rssKB returns a process's resident set size in kB.
func rssKB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}
