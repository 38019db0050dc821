package test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vpcnet/vpcnet/dataplane"
	"github.com/vpcnet/vpcnet/topology"
)

// cpusTopo: two instances in two subnets; SETTING is replaced by the
// settings object under test. a1's user_data is a long-lived process.
const cpusTopo = `{
  "name": "NAME", "region": "us-east-1", SETTING
  "vpcs": [{
    "name": "v", "cidr": "10.6.0.0/16",
    "subnets": [{"name": "a", "cidr": "10.6.1.0/24", "az": "us-east-1a"}, {"name": "b", "cidr": "10.6.2.0/24", "az": "us-east-1a"}],
    "security_groups": [{"name": "open", "ingress": [{"protocol": "all", "source": "10.6.0.0/16"}]}],
    "instances": [
      {"name": "a1", "subnet": "a", "private_ip": "10.6.1.10", "security_groups": ["open"], "user_data": "exec sleep 600"},
      {"name": "b1", "subnet": "b", "private_ip": "10.6.2.10", "security_groups": ["open"]}
    ]
  }]
}`

// cpusOf returns the CPU list of every thread of pid.
func cpusOf(t *testing.T, pid int) []string {
	t.Helper()
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, task := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, task.Name(), "status"))
		if err != nil {
			continue // the thread ended
		}
		for _, line := range strings.Split(string(b), "\n") {
			if cpus, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
				out = append(out, strings.TrimSpace(cpus))
			}
		}
	}
	return out
}

// checkCPUs checks that every thread of the forwarder runs on fwd, that the
// instance's user_data process runs on every CPU the test may use, that
// `up` said where the forwarder runs, and that traffic crosses subnets.
func checkCPUs(t *testing.T, tp *Topo, fwd string) {
	t.Helper()
	allowed, err := dataplane.AllowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	st := readState(t, tp.Name)
	threads := cpusOf(t, st.Daemon.PID)
	for _, c := range threads {
		if c != fwd {
			t.Errorf("forwarder threads run on %v, want all on %s", threads, fwd)
			break
		}
	}
	if !strings.Contains(tp.UpOutput, "on CPU "+fwd+",") && !strings.Contains(tp.UpOutput, "on CPUs "+fwd+",") {
		t.Errorf("up did not say the forwarder runs on CPU %s:\n%s", fwd, tp.UpOutput)
	}
	if len(st.Procs) != 1 {
		t.Fatalf("want one user_data process, have %+v", st.Procs)
	}
	if got, want := cpusOf(t, st.Procs[0].PID), topology.FormatCPUs(allowed); len(got) == 0 || got[0] != want {
		t.Errorf("a1's user_data runs on %v, want the CPUs vpcnet started with, %s", got, want)
	}
	if !tp.PingEventually(t, "a1", "10.6.2.10") {
		t.Error("a1 cannot reach b1")
	}
}

// The default, "auto": with two or more CPUs the forwarder is pinned to the
// last quarter of them (the second of two) and the instances' processes
// are not.
func TestForwarderCPUs_AutoPinsTheForwarderOnly(t *testing.T) {
	RequireRoot(t)
	allowed, err := dataplane.AllowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	if len(allowed) < 2 {
		t.Skip("one CPU: auto does not pin")
	}
	want, err := dataplane.ForwarderCPUs(topology.CPUsAuto, allowed)
	if err != nil {
		t.Fatal(err)
	}
	tp := Up(t, strings.Replace(cpusTopo, "SETTING", "", 1))
	checkCPUs(t, tp, topology.FormatCPUs(want))
}

// A listed CPU, and "all".
func TestForwarderCPUs_ListAndAll(t *testing.T) {
	RequireRoot(t)
	allowed, err := dataplane.AllowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	first := strconv.Itoa(allowed[0])
	tp := Up(t, strings.Replace(cpusTopo, "SETTING", `"settings": {"forwarder_cpus": "`+first+`"},`, 1))
	checkCPUs(t, tp, first)
	tp = Up(t, strings.Replace(cpusTopo, "SETTING", `"settings": {"forwarder_cpus": "all"},`, 1))
	checkCPUs(t, tp, topology.FormatCPUs(allowed))
}

// A CPU the machine does not offer: up fails with the setting named,
// exits non-zero, and leaves nothing behind.
func TestForwarderCPUs_UnavailableCPUIsRefused(t *testing.T) {
	UpMustFail(t, randName(), strings.Replace(cpusTopo, "SETTING", `"settings": {"forwarder_cpus": "1023"},`, 1),
		"settings.forwarder_cpus: CPU 1023 is not one vpcnet may run on here")
}
