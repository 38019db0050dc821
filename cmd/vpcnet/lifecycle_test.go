package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vpcnet/vpcnet/daemon"
	"github.com/vpcnet/vpcnet/netns"
)

// fakeTopology makes the state folder of topology name under daemon.RunDir
// with daemon as its forwarder; if serve, a control socket answers
// /status for it.
func fakeTopology(t *testing.T, name string, proc netns.Proc, serve bool) {
	t.Helper()
	dir := daemon.Dir(name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(daemon.State{Name: name, Daemon: proc})
	if err := os.WriteFile(filepath.Join(dir, "state.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if !serve {
		return
	}
	l, err := net.Listen("unix", daemon.SocketPath(name))
	if err != nil {
		t.Fatal(err)
	}
	st := daemon.Status{Name: name, PID: proc.PID, Instances: []daemon.InstanceStatus{{Name: "web", Namespace: name + "-web",
		State: "running", ENIs: []daemon.ENIStatus{{ID: "eni-1", Device: "eth0", MAC: "02:00:00:00:00:01", IPs: []string{"10.0.1.10"}, Subnet: "a"}}}}}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { json.NewEncoder(w).Encode(st) })}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
}

// TestStatusListsEveryTopology: with one topology's forwarder dead,
// `vpcnet status` still shows the healthy ones, marks the dead one with
// what to do (and where its log is), and exits 1.
func TestStatusListsEveryTopology(t *testing.T) {
	old := daemon.RunDir
	daemon.RunDir = t.TempDir()
	t.Cleanup(func() { daemon.RunDir = old })

	self := netns.Proc{PID: os.Getpid(), Start: netns.StartTimeOf(os.Getpid())}
	gone := netns.Proc{PID: os.Getpid(), Start: self.Start + 1} // the PID now runs another process
	fakeTopology(t, "cli-a", self, true)
	fakeTopology(t, "cli-b", gone, false)
	fakeTopology(t, "cli-c", self, true)
	if err := os.WriteFile(forwarderLog("cli-b"), []byte("panic: boom\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	run := func(args ...string) (string, error) {
		c := statusCmd()
		var out bytes.Buffer
		c.SetOut(&out)
		c.SilenceUsage, c.SilenceErrors = true, true
		c.SetArgs(args)
		err := c.Execute()
		return out.String(), err
	}
	wantExit1 := func(err error) {
		t.Helper()
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != exitFail || !strings.Contains(err.Error(), "1 of 3 topologies not healthy: cli-b") {
			t.Fatalf("error %v, want exit 1 naming cli-b", err)
		}
	}

	out, err := run()
	wantExit1(err)
	for _, want := range []string{
		"topology cli-a (forwarder pid ",
		"topology cli-b: forwarder not running (pid " + strconv.Itoa(gone.PID) + " is gone): run `sudo vpcnet down cli-b` to remove what is left (its log: " + forwarderLog("cli-b") + ")\n",
		"topology cli-c (forwarder pid ",
		"cli-c-web",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "cli-a") > strings.Index(out, "cli-b") || strings.Index(out, "cli-b") > strings.Index(out, "cli-c") {
		t.Errorf("topologies out of order:\n%s", out)
	}

	out, err = run("--json")
	wantExit1(err)
	var all []topologyStatus
	if jerr := json.Unmarshal([]byte(out), &all); jerr != nil {
		t.Fatalf("%v:\n%s", jerr, out)
	}
	if len(all) != 3 || all[0].Error != "" || len(all[0].Instances) != 1 || !strings.HasPrefix(all[1].Error, "forwarder not running") ||
		all[1].Name != "cli-b" || all[1].PID != gone.PID || all[2].Error != "" {
		t.Fatalf("status --json:\n%s", out)
	}

	// The healthy ones alone: exit 0.
	if out, err := run("--topology", "cli-a"); err != nil || !strings.Contains(out, "topology cli-a (forwarder pid ") {
		t.Fatalf("status --topology cli-a: %v\n%s", err, out)
	}
}
