package dataplane

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/vpcnet/vpcnet/dataplane/header"
	"github.com/vpcnet/vpcnet/topology"
)

// flowTopo: a1, a2 in subnet a; b1 in subnet b behind group "web" (TCP 80
// from the VPC) and a NACL that denies UDP 53 in at rule 50; c1 idle.
const flowTopo = `{
  "name": "flow", "region": "us-east-1",
  "flow_logs": {"path": "PATH", "aggregation_seconds": 60},
  "vpcs": [{
    "name": "v", "cidr": "10.0.0.0/16",
    "subnets": [
      {"name": "a", "cidr": "10.0.1.0/24", "az": "us-east-1a"},
      {"name": "b", "cidr": "10.0.2.0/24", "az": "us-east-1a", "network_acl": "nb"},
      {"name": "c", "cidr": "10.0.3.0/24", "az": "us-east-1a"}
    ],
    "network_acls": [{"name": "nb",
      "ingress": [{"rule": 50, "protocol": "udp", "ports": "53", "cidr": "0.0.0.0/0", "action": "deny"},
                  {"rule": 100, "protocol": "all", "cidr": "0.0.0.0/0", "action": "allow"}],
      "egress": [{"rule": 100, "protocol": "all", "cidr": "0.0.0.0/0", "action": "allow"}]}],
    "security_groups": [
      {"name": "web", "ingress": [{"protocol": "tcp", "ports": "80", "source": "10.0.0.0/16"},
                                  {"protocol": "udp", "ports": "53", "source": "10.0.0.0/16"}]},
      {"name": "open", "ingress": [{"protocol": "all", "source": "0.0.0.0/0"}]}
    ],
    "instances": [
      {"name": "a1", "subnet": "a", "private_ip": "10.0.1.10", "security_groups": ["open"]},
      {"name": "a2", "subnet": "a", "private_ip": "10.0.1.11", "security_groups": ["open"]},
      {"name": "b1", "subnet": "b", "private_ip": "10.0.2.10", "security_groups": ["web"]},
      {"name": "c1", "subnet": "c", "private_ip": "10.0.3.10", "security_groups": ["open"]}
    ]
  }]
}`

// flowRig brings up flowTopo with flow logs on, in a file of the test's own.
func flowRig(t *testing.T) (*rig, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "flow.log")
	r := &rig{t: t, ports: map[string]*FakePort{}, enis: map[string]*topology.ENI{}}
	n, err := topology.Load([]byte(strings.Replace(flowTopo, "PATH", path, 1)))
	if err != nil {
		t.Fatal(err)
	}
	r.net, r.f = n, New(n, Options{})
	if err := r.f.StartFlowLogs(n.FlowLogs, n.AccountID()); err != nil {
		t.Fatal(err)
	}
	for _, v := range n.VPCs {
		for _, i := range v.Instances {
			p := NewFakePort(64)
			r.ports[i.Name] = p
			r.enis[i.Name] = i.Primary()
			r.f.AttachPort(i.Primary().ID, p)
		}
	}
	t.Cleanup(r.f.Stop)
	return r, path
}

// gso makes f a TCP GSO super-frame of segments of size bytes (as the
// instance's kernel hands it to the TAP).
func gso(f []byte, size uint16) []byte {
	vh := header.VnetHdr(f)
	vh.SetGSOType(header.VnetGSOTCPv4)
	vh.SetGSOSize(size)
	vh.SetHdrLen(header.EthernetLen + 20 + 20)
	return f
}

// waitFor polls cond for up to 2 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// OBS-1: ACCEPT at both ends of an allowed flow, with a GSO super-frame
// counted as its wire segments; ACCEPT at the sender and REJECT at the
// receiver for a frame the receiver's group or NACL refuses; NODATA for the
// ENIs that saw nothing; the header line first.
func TestOBS1_FlowLogRecords(t *testing.T) {
	r, path := flowRig(t)
	a1 := r.enis["a1"]
	gw := r.router("a1")
	payload := make([]byte, 10000)
	r.send("a1", frame(t, a1.MAC, gw, "10.0.1.10", "10.0.2.10", &layers.TCP{SrcPort: 1000, DstPort: 80, SYN: true, Window: 100}))
	r.expect("b1")
	r.send("a1", gso(frame(t, a1.MAC, gw, "10.0.1.10", "10.0.2.10", &layers.TCP{SrcPort: 1000, DstPort: 80, ACK: true, Window: 100}, gopacket.Payload(payload)), 1448))
	r.expect("b1")
	r.send("a1", frame(t, a1.MAC, gw, "10.0.1.10", "10.0.2.10", &layers.TCP{SrcPort: 1001, DstPort: 22, SYN: true, Window: 100}))
	r.send("a1", frame(t, a1.MAC, gw, "10.0.1.10", "10.0.2.10", &layers.UDP{SrcPort: 5353, DstPort: 53}, gopacket.Payload("q")))
	waitFor(t, "the two refusals", func() bool {
		return r.drops("b1", dropSGIngress) == 1 && r.drops("b1", dropNACLIngress) == 1
	})
	if err := r.f.FlushFlowLogs(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if lines[0]+"\n" != flowLogHeader {
		t.Errorf("first line %q, want the header", lines[0])
	}
	acct, id := r.net.AccountID(), func(n string) string { return r.enis[n].ID }
	// Everything but start and end, which are clock seconds.
	var got []string
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != 14 {
			t.Fatalf("record %q has %d fields, want 14", l, len(f))
		}
		got = append(got, strings.Join(append(f[:10:10], f[12:]...), " "))
	}
	want := []string{
		// SYN (40 bytes) + 10,000 bytes in 7 segments of ≤ 1448, each with 40 bytes of headers.
		"2 " + acct + " " + id("a1") + " 10.0.1.10 10.0.2.10 1000 80 6 8 10320 ACCEPT OK",
		"2 " + acct + " " + id("b1") + " 10.0.1.10 10.0.2.10 1000 80 6 8 10320 ACCEPT OK",
		"2 " + acct + " " + id("a1") + " 10.0.1.10 10.0.2.10 1001 22 6 1 40 ACCEPT OK",
		"2 " + acct + " " + id("b1") + " 10.0.1.10 10.0.2.10 1001 22 6 1 40 REJECT OK", // SG-2
		"2 " + acct + " " + id("a1") + " 10.0.1.10 10.0.2.10 5353 53 17 1 29 ACCEPT OK",
		"2 " + acct + " " + id("b1") + " 10.0.1.10 10.0.2.10 5353 53 17 1 29 REJECT OK", // NACL-2 rule 50
		"2 " + acct + " " + id("a2") + " - - - - - - - - NODATA",
		"2 " + acct + " " + id("c1") + " - - - - - - - - NODATA",
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The next window starts empty: every ENI is NODATA.
	if err := r.f.FlushFlowLogs(); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(path)
	if n := strings.Count(string(b), "NODATA"); n != 2+4 {
		t.Errorf("%d NODATA records after an empty window, want 6:\n%s", n, b)
	}
}

// OBS-1 SKIPDATA: flows beyond what a window's table holds are counted as
// skipped, not recorded, and the ENI's window says SKIPDATA.
func TestOBS1_FullTableSkipsData(t *testing.T) {
	r, path := flowRig(t)
	a1 := r.enis["a1"]
	gw := r.router("a1")
	const n = flowTableMax/2 + 10 // two records a flow: a1's and b1's
	for i := 0; i < n; i++ {
		r.send("a1", frame(t, a1.MAC, gw, "10.0.1.10", "10.0.2.10", &layers.TCP{SrcPort: layers.TCPPort(2000 + i), DstPort: 80, SYN: true, Window: 100}))
		r.expect("b1")
	}
	if err := r.f.FlushFlowLogs(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if got := strings.Count(s, " OK\n"); got != flowTableMax {
		t.Errorf("%d records, want the table's %d", got, flowTableMax)
	}
	for _, name := range []string{"a1", "b1"} {
		skip := 0
		for _, l := range strings.Split(s, "\n") {
			if strings.Contains(l, " "+r.enis[name].ID+" - - - - - - - ") && strings.HasSuffix(l, " - SKIPDATA") {
				skip++
			}
		}
		if skip != 1 {
			t.Errorf("%d SKIPDATA records for %s, want 1", skip, name)
		}
	}
}

// With flow logs on, a forwarded frame of a known flow still allocates
// nothing.
func TestFlowLogAllocatesNothing(t *testing.T) {
	w, _, _ := forwardAllocs(t, true)
	if len(w.flows.flows) != 2 {
		t.Fatalf("%d flow records, want a1's and b1's", len(w.flows.flows))
	}
}

func BenchmarkForwardFlowLog(b *testing.B) { benchForward(b, true) }

// A flow whose frames two workers saw (two queues of one TAP) is one
// record in the window, with both workers' counts; a retired worker's
// table is written once more, then dropped.
func TestOBS1_OneRecordPerFlowAcrossWorkers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flow.log")
	l, err := openFlowLog(path, "123456789012")
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	e := &eniCfg{id: "eni-x", st: &eniState{}}
	k := flowKey{eni: e.st, src: [4]byte{10, 0, 1, 10}, dst: [4]byte{10, 0, 2, 10}, sport: 1, dport: 80, proto: 6}
	t1, t2 := l.table(), l.table()
	t1.flows[k] = flowVal{packets: 3, bytes: 300, start: 100, end: 104}
	t2.flows[k] = flowVal{packets: 2, bytes: 200, start: 101, end: 106}
	l.retire(t2)
	if err := l.flush([]*eniCfg{e}, time.Unix(110, 0)); err != nil {
		t.Fatal(err)
	}
	t2.flows[k] = flowVal{packets: 9, bytes: 900, start: 111, end: 111} // after retirement: never written
	if err := l.flush([]*eniCfg{e}, time.Unix(120, 0)); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	want := flowLogHeader +
		"2 123456789012 eni-x 10.0.1.10 10.0.2.10 1 80 6 5 500 100 106 ACCEPT OK\n" +
		"2 123456789012 eni-x - - - - - - - 110 120 - NODATA\n"
	if string(b) != want {
		t.Errorf("flow log:\n%s\nwant:\n%s", b, want)
	}
}

// A frame the sender's group lets out and the VPC router then drops (RT-6:
// no route) left the ENI: ACCEPT at the sender, as on AWS.
func TestOBS1_UnroutedFrameIsAcceptAtTheSender(t *testing.T) {
	r, path := flowRig(t)
	a1 := r.enis["a1"]
	r.send("a1", frame(t, a1.MAC, r.router("a1"), "10.0.1.10", "198.51.100.7", &layers.UDP{SrcPort: 7, DstPort: 9}, gopacket.Payload("x")))
	waitFor(t, "the no-route drop", func() bool { return r.drops("a1", dropNoRoute) == 1 })
	if err := r.f.FlushFlowLogs(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), " "+a1.ID+" 10.0.1.10 198.51.100.7 7 9 17 1 29 ") || strings.Count(string(b), "198.51.100.7") != 1 {
		t.Errorf("want one ACCEPT record at a1 for the unrouted frame:\n%s", b)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "198.51.100.7") && !strings.HasSuffix(l, " ACCEPT OK") {
			t.Errorf("record %q, want ACCEPT", l)
		}
	}
}
