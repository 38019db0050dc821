package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// flowLogTopo: a1 in subnet a, b1 in subnet b serving HTTP on port 80,
// which its group allows (with ICMP); flow logs in FLOWLOG, 1-s windows.
const flowLogTopo = `{
  "name": "NAME", "region": "us-east-1",
  "flow_logs": {"path": "FLOWLOG", "aggregation_seconds": 1},
  "vpcs": [{
    "name": "v", "cidr": "10.7.0.0/16",
    "subnets": [{"name": "a", "cidr": "10.7.1.0/24", "az": "us-east-1a"}, {"name": "b", "cidr": "10.7.2.0/24", "az": "us-east-1a"}],
    "security_groups": [{"name": "web", "ingress": [
      {"protocol": "tcp", "ports": "80", "source": "10.7.0.0/16"},
      {"protocol": "icmp", "icmp_type": -1, "icmp_code": -1, "source": "10.7.0.0/16"}]}],
    "instances": [
      {"name": "a1", "subnet": "a", "private_ip": "10.7.1.10", "security_groups": ["web"]},
      {"name": "b1", "subnet": "b", "private_ip": "10.7.2.10", "security_groups": ["web"], "user_data": "vpcnet serve --http :80"}
    ]
  }]
}`

// OBS-1 on live traffic: an HTTP request and a ping between two subnets are
// ACCEPT records at both ENIs, in both directions; a connection to a port
// b1's group does not open is ACCEPT at a1 and REJECT at b1; idle windows
// say NODATA; `down` writes the last window.
func TestOBS1_FlowLogsOnLiveTraffic(t *testing.T) {
	RequireRoot(t)
	path := filepath.Join(t.TempDir(), "flow.log")
	tp := Up(t, strings.Replace(flowLogTopo, "FLOWLOG", path, 1))
	if _, err := tp.Curl(t, "a1", "http://10.7.2.10/"); err != nil {
		t.Fatal(err)
	}
	if !tp.Ping(t, "a1", "10.7.2.10") {
		t.Fatal("ping a1 → b1 failed")
	}
	if out, err := tp.Exec(t, "a1", "curl", "-sS", "--connect-timeout", "1", "http://10.7.2.10:81/"); err == nil {
		t.Fatalf("port 81 answered: %s", out)
	}
	st := map[string]string{}
	for _, name := range []string{"a1", "b1"} {
		st[name] = tp.instance(t, name).NetworkInterfaces[0].NetworkInterfaceId
	}
	time.Sleep(1500 * time.Millisecond) // an idle window
	if out, code := vpcnet(t, "down", tp.Name); code != 0 {
		t.Fatalf("down: %s", out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
	// check finds a record of eni whose fields from srcaddr on start with
	// tuple, with that action.
	check := func(eni, tuple, action string) {
		t.Helper()
		for _, l := range strings.Split(log, "\n") {
			f := strings.Fields(l)
			if len(f) == 14 && f[0] == "2" && f[2] == st[eni] && strings.HasPrefix(strings.Join(f[3:8], " "), tuple) && f[12] == action && f[13] == "OK" {
				return
			}
		}
		t.Errorf("no %s record at %s for %q in:\n%s", action, eni, tuple, log)
	}
	for _, eni := range []string{"a1", "b1"} {
		check(eni, "10.7.1.10 10.7.2.10", "ACCEPT")       // requests
		check(eni, "10.7.2.10 10.7.1.10 80 ", "ACCEPT")   // HTTP replies
		check(eni, "10.7.1.10 10.7.2.10 0 0 1", "ACCEPT") // ping
		check(eni, "10.7.2.10 10.7.1.10 0 0 1", "ACCEPT") // ping reply
	}
	// Port 81: let out by a1's group, refused by b1's (SG-2); every record
	// of it says so, and there is at least one at each ENI.
	want := map[string]string{st["a1"]: "ACCEPT", st["b1"]: "REJECT"}
	seen := map[string]int{}
	for _, l := range strings.Split(log, "\n") {
		f := strings.Fields(l)
		if len(f) == 14 && f[6] == "81" {
			seen[f[2]]++
			if f[12] != want[f[2]] {
				t.Errorf("port 81 at %s: %q, want %s", f[2], l, want[f[2]])
			}
		}
	}
	if seen[st["a1"]] == 0 || seen[st["b1"]] == 0 {
		t.Errorf("port 81 records at a1: %d, at b1: %d; want both:\n%s", seen[st["a1"]], seen[st["b1"]], log)
	}
	if !strings.Contains(log, " - NODATA\n") {
		t.Errorf("no NODATA record for the idle window:\n%s", log)
	}
}

// A flow-log file that cannot be opened stops `up` with the setting named,
// a non-zero exit, and nothing left behind.
func TestOBS1_UnwritableFlowLogIsRefused(t *testing.T) {
	UpMustFail(t, randName(), strings.Replace(flowLogTopo, "FLOWLOG", "/nonexistent-vpcnet-dir/flow.log", 1),
		"flow_logs.path: open /nonexistent-vpcnet-dir/flow.log: no such file or directory (OBS-1)")
}
