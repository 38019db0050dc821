package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// threeSubnets: a1, a2 in subnet a; b1 in b; c1 in c, whose table sends a
// documentation prefix to a blackhole. c1's user_data leaves a process in
// the background and exits.
const threeSubnets = `{
  "name": "NAME", "region": "us-east-1",
  "vpcs": [{
    "name": "v", "cidr": "10.0.0.0/16",
    "subnets": [
      {"name": "a", "cidr": "10.0.1.0/24", "az": "us-east-1a"},
      {"name": "b", "cidr": "10.0.2.0/24", "az": "us-east-1a"},
      {"name": "c", "cidr": "10.0.3.0/24", "az": "us-east-1a", "route_table": "rt-c"}
    ],
    "route_tables": [
      {"name": "rt-c", "routes": [{"destination": "198.51.100.0/24", "target": "blackhole"}]}
    ],
    "security_groups": [{"name": "open", "ingress": [{"protocol": "all", "source": "0.0.0.0/0"}]}],
    "instances": [
      {"name": "a1", "subnet": "a", "private_ip": "10.0.1.10", "security_groups": ["open"], "user_data": "vpcnet serve --http :80"},
      {"name": "a2", "subnet": "a", "private_ip": "10.0.1.11", "security_groups": ["open"]},
      {"name": "b1", "subnet": "b", "private_ip": "10.0.2.10", "security_groups": ["open"], "user_data": "vpcnet serve --http :80"},
      {"name": "c1", "subnet": "c", "private_ip": "10.0.3.10", "security_groups": ["open"], "user_data": "sleep 600 &"}
    ]
  }]
}`

// TestRT5_RT2_PingAndCurlWithinAndAcrossSubnets: traffic within a subnet is
// delivered directly (RT-5); across subnets by the local route (RT-2).
func TestRT5_RT2_PingAndCurlWithinAndAcrossSubnets(t *testing.T) {
	tp := Up(t, threeSubnets)
	if !tp.PingEventually(t, "a2", "10.0.1.10") {
		t.Fatal("ping a2 → a1 (same subnet) failed")
	}
	if !tp.PingEventually(t, "a1", "10.0.2.10") {
		t.Fatal("ping a1 → b1 (across subnets) failed")
	}
	w, err := tp.Curl(t, "b1", "http://10.0.1.10/")
	if err != nil {
		t.Fatal(err)
	}
	if w.Name != "a1" || !strings.HasPrefix(w.Client, "10.0.2.10:") || w.Local != "10.0.1.10:80" {
		t.Fatalf("curl b1 → a1: got %+v", w)
	}
	w, err = tp.Curl(t, "a2", "http://b1/") // hosts file names every instance
	if err != nil {
		t.Fatal(err)
	}
	if w.Name != "b1" || !strings.HasPrefix(w.Client, "10.0.1.11:") {
		t.Fatalf("curl a2 → b1: got %+v", w)
	}
	// ADDR-3: the instance learned the router's MAC for .1, not a broadcast.
	neigh := tp.MustExec(t, "a1", "ip", "neigh", "show", "10.0.1.1")
	if !strings.Contains(neigh, "lladdr") {
		t.Errorf("a1 has no ARP entry for the router: %q", neigh)
	}
}

// TestRT3_BlackholeRouteDrops: a blackhole route drops and says so.
func TestRT3_BlackholeRouteDrops(t *testing.T) {
	tp := Up(t, threeSubnets)
	if !tp.PingEventually(t, "c1", "10.0.1.10") {
		t.Fatal("c1 → a1 should work (local route)")
	}
	if tp.Ping(t, "c1", "198.51.100.7") {
		t.Fatal("ping through a blackhole route was answered")
	}
	if n := tp.Drops(t, "c1", "blackhole-route"); n == 0 {
		t.Fatalf("blackhole drop not counted: %+v", tp.Stats(t))
	}
	// RT-6: a destination no route covers is dropped and counted too.
	if tp.Ping(t, "a1", "198.51.100.7") {
		t.Fatal("ping with no route was answered")
	}
	if n := tp.Drops(t, "a1", "no-route"); n == 0 {
		t.Fatal("no-route drop not counted")
	}
}

// TestENI4_ForgedSourceDropped: an instance that sends from an address not
// its own is dropped at its ENI.
func TestENI4_ForgedSourceDropped(t *testing.T) {
	tp := Up(t, threeSubnets)
	if !tp.PingEventually(t, "a1", "10.0.2.10") {
		t.Fatal("baseline ping failed")
	}
	tp.MustExec(t, "a1", "ip", "addr", "add", "10.0.1.99/32", "dev", "eth0")
	if _, err := tp.Exec(t, "a1", "ping", "-c", "2", "-W", "1", "-I", "10.0.1.99", "10.0.2.10"); err == nil {
		t.Fatal("ping from a forged source was answered")
	}
	if n := tp.Drops(t, "a1", "source-dest-check egress"); n < 2 {
		t.Fatalf("forged frames counted %d, want ≥ 2", n)
	}
}

// appliance: subnets a and b route to each other through instance fw in
// subnet c (middlebox routing, RT-4).
const appliance = `{
  "name": "NAME", "region": "us-east-1",
  "vpcs": [{
    "name": "v", "cidr": "10.1.0.0/16",
    "subnets": [
      {"name": "a", "cidr": "10.1.1.0/24", "az": "us-east-1a", "route_table": "rt-a"},
      {"name": "b", "cidr": "10.1.2.0/24", "az": "us-east-1a", "route_table": "rt-b"},
      {"name": "c", "cidr": "10.1.3.0/24", "az": "us-east-1a"}
    ],
    "route_tables": [
      {"name": "rt-a", "routes": [{"destination": "10.1.2.0/24", "target": "fw"}]},
      {"name": "rt-b", "routes": [{"destination": "10.1.1.0/24", "target": "fw"}]}
    ],
    "security_groups": [{"name": "open", "ingress": [{"protocol": "all", "source": "0.0.0.0/0"}]}],
    "instances": [
      {"name": "a1", "subnet": "a", "private_ip": "10.1.1.10", "security_groups": ["open"]},
      {"name": "b1", "subnet": "b", "private_ip": "10.1.2.10", "security_groups": ["open"]},
      {"name": "fw", "subnet": "c", "private_ip": "10.1.3.10", "security_groups": ["open"], "source_dest_check": SDC,
       "user_data": "echo 1 > /proc/sys/net/ipv4/ip_forward; echo 0 > /proc/sys/net/ipv4/conf/all/send_redirects; echo 0 > /proc/sys/net/ipv4/conf/eth0/send_redirects"}
    ]
  }]
}`

// TestENI4_ApplianceSourceDestCheck: traffic routed through an appliance
// instance is dropped while its source/dest check is on, and flows when the
// topology turns it off and the appliance forwards.
func TestENI4_ApplianceSourceDestCheck(t *testing.T) {
	t.Run("check on drops", func(t *testing.T) {
		tp := Up(t, strings.ReplaceAll(appliance, "SDC", "true"))
		waitForwarding(t, tp)
		if !tp.PingEventually(t, "a1", "10.1.3.10") {
			t.Fatal("a1 → fw itself should work")
		}
		if tp.Ping(t, "a1", "10.1.2.10") {
			t.Fatal("ping through an appliance with source/dest check on was answered")
		}
		if n := tp.Drops(t, "fw", "source-dest-check ingress"); n == 0 {
			t.Fatalf("no source/dest check drop at fw: %+v", tp.Stats(t).Endpoints)
		}
	})
	t.Run("check off forwards", func(t *testing.T) {
		tp := Up(t, strings.ReplaceAll(appliance, "SDC", "false"))
		waitForwarding(t, tp)
		if !tp.PingEventually(t, "a1", "10.1.2.10") {
			t.Fatalf("ping through the appliance failed: %+v", tp.Stats(t).Endpoints)
		}
		// The frames really went through fw: its ENI received and sent them.
		for _, e := range tp.Stats(t).Endpoints {
			if e.Name == "fw" && (e.RxFrames < 2 || e.TxFrames < 2) {
				t.Fatalf("fw did not carry the traffic: %+v", e)
			}
		}
	})
}

// waitForwarding waits until fw's user_data has turned forwarding on.
func waitForwarding(t *testing.T, tp *Topo) {
	t.Helper()
	for i := 0; i < 50; i++ {
		out, _ := tp.Exec(t, "fw", "cat", "/proc/sys/net/ipv4/ip_forward")
		if strings.TrimSpace(out) == "1" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("fw's user_data did not turn forwarding on")
}

// TestUpDownLeavesNothing: down removes every namespace, device, process and
// state file, also after the forwarder was killed with SIGKILL. (TestMain
// checks that the host namespace is unchanged.)
func TestUpDownLeavesNothing(t *testing.T) {
	// The daemon inherits it: multi-queue TAPs, whose extra descriptors must
	// go too.
	t.Setenv("VPCNET_TAP_QUEUES", "2")
	for _, kill := range []bool{false, true} {
		t.Run("sigkill="+strconv.FormatBool(kill), func(t *testing.T) {
			tp := Up(t, threeSubnets)
			if got := instanceNamespaces(tp.Name + "-"); len(got) != 4 {
				t.Fatalf("namespaces after up: %v, want 4", got)
			}
			if out := tp.MustExec(t, "a1", "ip", "-br", "link", "show", "eth0"); !strings.Contains(out, "UP") {
				t.Fatalf("a1 eth0 not up: %s", out)
			}
			// VPCNET_TAP_QUEUES=2 (set below): two TAP queues, each read by
			// its own worker.
			if out := tp.MustExec(t, "a1", "ip", "-d", "link", "show", "eth0"); !strings.Contains(out, "vnet_hdr on multi_queue numqueues 2 ") {
				t.Fatalf("a1 eth0 is not a 2-queue TAP with the virtio-net header:\n%s", out)
			}
			if _, err := tp.Curl(t, "a2", "http://10.0.1.10/"); err != nil {
				t.Fatalf("a2 → a1 over 2-queue TAPs: %v", err)
			}
			st := readState(t, tp.Name)
			if kill {
				if err := syscall.Kill(st.Daemon.PID, syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				waitGone(t, st.Daemon.PID)
				// The TAP devices die with the forwarder's descriptors (the
				// kernel unregisters them shortly after the process exits).
				gone := false
				for i := 0; i < 50 && !gone; i++ {
					_, err := tp.Exec(t, "a1", "ip", "-br", "link", "show", "eth0")
					gone = err != nil
					time.Sleep(50 * time.Millisecond)
				}
				if !gone {
					t.Fatal("eth0 outlived the forwarder")
				}
			}
			out, code := vpcnet(t, "down", tp.Name)
			if code != 0 {
				t.Fatalf("down: %d %s", code, out)
			}
			if got := namespacesWithPrefix(tp.Name + "-"); len(got) != 0 {
				t.Fatalf("namespaces after down: %v", got)
			}
			if _, err := os.Stat(filepath.Join("/run/vpcnet", tp.Name)); !os.IsNotExist(err) {
				t.Fatalf("state folder left: %v", err)
			}
			// Nothing user_data started is left: not its shell, nor what
			// it put in the background after its shell exited (c1's sleep).
			for _, p := range st.Procs {
				// Start 0: the shell had exited when vpcnet recorded it
				// (c1's "sleep 600 &" returns at once); what it left is
				// found by its namespace and cgroup, checked below.
				if p.Start != 0 && procStart(p.PID) == p.Start {
					t.Fatalf("user_data process %d left running", p.PID)
				}
				if left := groupMembers(p.PID); len(left) > 0 {
					t.Fatalf("user_data group %d left processes %v running", p.PID, left)
				}
			}
			// down is idempotent.
			if out, code := vpcnet(t, "down", tp.Name); code != 0 {
				t.Fatalf("second down: %d %s", code, out)
			}
		})
	}
}

// TestSecondUpRefused: a topology that is up cannot be brought up again.
func TestSecondUpRefused(t *testing.T) {
	tp := Up(t, threeSubnets)
	path := filepath.Join(tp.dir, "topo.json")
	out, code := vpcnet(t, "up", path)
	if code == 0 || !strings.Contains(out, "already up") {
		t.Fatalf("second up: exit %d: %s", code, out)
	}
	if !tp.PingEventually(t, "a1", "10.0.2.10") {
		t.Fatal("the first network broke")
	}
}

type stateFile struct {
	Daemon struct {
		PID int `json:"pid"`
	} `json:"daemon"`
	Procs []struct {
		PID   int    `json:"pid"`
		Start uint64 `json:"start"`
	} `json:"procs"`
}

func readState(t *testing.T, name string) stateFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/run/vpcnet", name, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s stateFile
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	for i := 0; i < 100; i++ {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || strings.Contains(string(b), ") Z ") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("process %d did not die", pid)
}

func procStart(pid int) uint64 {
	state, _, start := procStat(pid)
	if state == "Z" || state == "X" {
		return 0 // exited; only its parent has yet to reap it
	}
	return start
}

// procStat returns the state, process group and start time of pid ("" if
// there is no such process).
func procStat(pid int) (state string, pgrp int, start uint64) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 20 {
		return "", 0, 0
	}
	pgrp, _ = strconv.Atoi(f[2])
	start, _ = strconv.ParseUint(f[19], 10, 64)
	return f[0], pgrp, start
}

// groupMembers lists the processes of process group pgid that still run.
func groupMembers(pgid int) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if state, pgrp, _ := procStat(pid); pgrp == pgid && state != "" && state != "Z" && state != "X" {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestUpFailurePartWayUndoesEverything: when bring-up fails part-way (here
// the hosts file of the third instance cannot be written, because a plain
// file stands where its /etc/netns folder would go), up exits non-zero,
// says why, and leaves no namespace or state folder behind (user_data
// starts only once every namespace is built, so none has run).
func TestUpFailurePartWayUndoesEverything(t *testing.T) {
	RequireRoot(t)
	name := randName()
	blocker := filepath.Join("/etc/netns", name+"-b1")
	os.MkdirAll("/etc/netns", 0o755)
	if err := os.WriteFile(blocker, []byte("in the way\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(blocker)
	// The error names the instance that failed.
	UpMustFail(t, name, threeSubnets, "b1")
}
