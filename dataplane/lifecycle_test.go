package dataplane

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/vpcnet/vpcnet/topology"
)

// NAT-1, LIFE-1: a NAT gateway deleted live takes its mappings with it: the
// route to it becomes a blackhole (RT-3), and a gateway made again under
// the same name (same id) with the same EIP starts with no mapping.
func TestLIFE1_DeletedNATGatewayDropsItsMappings(t *testing.T) {
	r := newRig(t, string(topology.Default()))
	db := r.enis["db"]
	var g *topology.NATGateway
	for _, x := range r.net.VPCs[0].NATs {
		g = x
	}
	out := func() {
		r.send("db", frame(t, db.MAC, r.router("db"), "92.75.200.20", "54.239.30.25", &layers.UDP{SrcPort: 4000, DstPort: 53}, gopacket.Payload("q")))
	}
	out()
	old := r.f.st.nats[g.ID]
	waitFor(t, "a NAT mapping", func() bool { return old.Stats().ActiveConnectionCount == 1 })

	eip, ip, subnet := g.EIP, g.ENI.PrimaryIP, g.Subnet
	r.net.RemoveNATGateway(g)
	r.f.Apply(r.net)
	if _, ok := r.f.st.nats[g.ID]; ok {
		t.Fatal("the deleted gateway's NAT table is kept")
	}
	out()
	waitFor(t, "the blackhole drop", func() bool { return r.drops("db", dropBlackhole) == 1 })

	g2 := r.net.NewNATGateway(g.Name, subnet, ip, eip)
	r.f.Apply(r.net)
	out() // the route still names the deleted gateway: a blackhole, as on AWS
	waitFor(t, "the second blackhole drop", func() bool { return r.drops("db", dropBlackhole) == 2 })
	for _, rt := range r.net.VPCs[0].RouteTables {
		for _, x := range rt.Routes {
			if x.NAT == g {
				x.NAT = g2 // replace-route
			}
		}
	}
	r.f.Apply(r.net)
	fresh := r.f.st.nats[g2.ID]
	if g2.ID != g.ID || fresh == nil || fresh == old || fresh.Stats().ActiveConnectionCount != 0 {
		t.Fatalf("the new gateway: id %s (was %s), table %p (was %p), %+v", g2.ID, g.ID, fresh, old, fresh.Stats())
	}
	out()
	waitFor(t, "a mapping in the new gateway", func() bool { return fresh.Stats().ActiveConnectionCount == 1 })
}

// flowLogRig is flowTopo without its flow_logs file, with CreateFlowLogs's
// folder in a temporary folder.
func flowLogRig(t *testing.T) (*rig, string) {
	t.Helper()
	topo := strings.Replace(flowTopo, `"flow_logs": {"path": "PATH", "aggregation_seconds": 60},`, "", 1)
	r := newRig(t, topo)
	dir := filepath.Join(t.TempDir(), "flow-logs")
	r.f.SetFlowLogDir(dir)
	return r, dir
}

func addFlowLog(r *rig, name, traffic, group string, set func(*topology.VPCFlowLog)) *topology.VPCFlowLog {
	f := &topology.VPCFlowLog{Name: name, ID: r.net.NewID("fl", name), TrafficType: traffic, LogGroup: group, AggregationSeconds: 600}
	set(f)
	r.net.VPCFlowLogs = append(r.net.VPCFlowLogs, f)
	r.f.Apply(r.net)
	return f
}

func records(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if lines[0]+"\n" != flowLogHeader {
		t.Fatalf("%s starts %q, want the header", path, lines[0])
	}
	return lines[1:]
}

// OBS-1: each flow log of CreateFlowLogs gets the records of the ENIs it
// covers (an ENI's, a subnet's, a VPC's), only of its traffic type, in
// its log group's file (0600); a deleted one writes its window so far and
// nothing more; an ENI no flow log covers records nothing.
func TestOBS1_FlowLogsPerResource(t *testing.T) {
	r, dir := flowLogRig(t)
	a1, b1 := r.enis["a1"], r.enis["b1"]
	addFlowLog(r, "fa", "ACCEPT", "/vpc/a1", func(f *topology.VPCFlowLog) { f.ENI = a1 })
	fb := addFlowLog(r, "fb", "REJECT", "b", func(f *topology.VPCFlowLog) { f.Subnet = b1.Subnet })
	addFlowLog(r, "fv", "ALL", "all", func(f *topology.VPCFlowLog) { f.VPC = r.net.VPCs[0] })
	gw := r.router("a1")
	send := func(sport layers.TCPPort, dport layers.TCPPort) {
		r.send("a1", frame(t, a1.MAC, gw, "10.0.1.10", "10.0.2.10", &layers.TCP{SrcPort: sport, DstPort: dport, SYN: true, Window: 100}))
	}
	send(1000, 80) // accepted at both ends
	r.expect("b1")
	send(1001, 22) // b1's group refuses it: REJECT at b1
	waitFor(t, "the refusal", func() bool { return r.drops("b1", dropSGIngress) == 1 })
	if err := r.f.FlushFlowLogs(); err != nil {
		t.Fatal(err)
	}
	flows := func(path string) []string {
		var out []string
		for _, l := range records(t, path) {
			if f := strings.Fields(l); len(f) == 14 && f[13] == "OK" {
				out = append(out, f[2]+" "+f[5]+"-"+f[6]+" "+f[12])
			}
		}
		return out
	}
	want := map[string]string{
		"_vpc_a1.log": a1.ID + " 1000-80 ACCEPT," + a1.ID + " 1001-22 ACCEPT",
		"b.log":       b1.ID + " 1001-22 REJECT",
		"all.log":     a1.ID + " 1000-80 ACCEPT," + b1.ID + " 1000-80 ACCEPT," + a1.ID + " 1001-22 ACCEPT," + b1.ID + " 1001-22 REJECT",
	}
	for file, w := range want {
		got := flows(filepath.Join(dir, file))
		if strings.Join(sortedCopy(got), ",") != strings.Join(sortedCopy(strings.Split(w, ",")), ",") {
			t.Errorf("%s: %v, want %s", file, got, w)
		}
		if fi, err := os.Stat(filepath.Join(dir, file)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v (%v), want 0600", file, fi.Mode(), err)
		}
	}
	// NODATA only for the ENIs a flow log covers: the VPC's has c1, a1's not.
	if all, _ := os.ReadFile(filepath.Join(dir, "all.log")); !strings.Contains(string(all), r.enis["c1"].ID+" - - - - - - - ") {
		t.Errorf("the VPC's flow log has no NODATA for c1:\n%s", all)
	}
	if a, _ := os.ReadFile(filepath.Join(dir, "_vpc_a1.log")); strings.Contains(string(a), r.enis["c1"].ID) {
		t.Errorf("a1's flow log names c1:\n%s", a)
	}

	// Deleted: the window so far is written, then nothing more.
	send(1002, 22)
	waitFor(t, "the second refusal", func() bool { return r.drops("b1", dropSGIngress) == 2 })
	r.net.VPCFlowLogs = []*topology.VPCFlowLog{r.net.VPCFlowLogs[0], r.net.VPCFlowLogs[2]}
	r.f.Apply(r.net)
	if got := flows(filepath.Join(dir, "b.log")); len(got) != 2 || got[1] != b1.ID+" 1002-22 REJECT" {
		t.Errorf("b.log after delete: %v, want the last window's refusal", got)
	}
	send(1003, 22)
	waitFor(t, "the third refusal", func() bool { return r.drops("b1", dropSGIngress) == 3 })
	if err := r.f.FlushFlowLogs(); err != nil {
		t.Fatal(err)
	}
	if got := flows(filepath.Join(dir, "b.log")); len(got) != 2 {
		t.Errorf("b.log after its flow log was deleted: %v", got)
	}
	_ = fb

	// An ENI that no flow log covers keeps no record: with none left, the
	// workers' tables stay empty.
	r.net.VPCFlowLogs = nil
	r.f.Apply(r.net)
	for _, e := range r.f.cfg.Load().enis {
		if e.logMask != 0 || len(e.flowLogs) != 0 {
			t.Errorf("%s: logMask %b, flow logs %v with no flow log", e.name, e.logMask, e.flowLogs)
		}
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// OBS-1: the daemon runs as root and never follows a symlink: a flow log's
// file that is a symlink (or a FIFO) is refused and the target untouched;
// so is a flow-logs folder that is a symlink.
func TestOBS1_FlowLogFileNeverFollowsSymlinks(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "flow-logs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "precious")
	os.WriteFile(target, []byte("keep"), 0o644)
	os.Symlink(target, filepath.Join(dir, "evil.log"))
	if f, err := openFlowLogFile(dir, "evil.log"); !errors.Is(err, errNotPlain) {
		t.Fatalf("a symlinked file: %v, %v; want refused", f, err)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Fatalf("the symlink's target changed: %q", b)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.log"), 0o600); err == nil {
		if f, err := openFlowLogFile(dir, "fifo.log"); err == nil {
			f.Close()
			t.Fatal("a FIFO was opened as a flow log")
		}
	}
	link := filepath.Join(t.TempDir(), "linked")
	os.Symlink(dir, link)
	if f, err := openFlowLogFile(link, "x.log"); !errors.Is(err, errNotPlain) {
		t.Fatalf("a symlinked folder: %v, %v; want refused", f, err)
	}
	f, err := openFlowLogFile(dir, "ok.log")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}
