package dataplane

import (
	"strings"
	"testing"

	"github.com/vpcnet/vpcnet/topology"
)

// TestDeletedENIStateIsFreed (issue 10, item 13): a deleted ENI's tracked
// flows leave the shared table at once and its counters go with it; an ENI
// created later under the same id starts with nothing. Before, its flows
// held table slots (TCP for up to 5 days) and the new ENI inherited them.
func TestDeletedENIStateIsFreed(t *testing.T) {
	r := newRig(t, unitTopo)
	// An echo request a1 → a2: tracked by both ENIs (ICMP always is, SG-9).
	r.send("a1", ping(t, r.enis["a1"], r.enis["a2"].MAC, "10.0.1.10", "10.0.1.11"))
	r.expect("a2")
	flows := func() (total int, per map[string]int) {
		s := r.f.Stats()
		per = map[string]int{}
		for _, e := range s.Conntrack.ENIs {
			per[e.Name] = e.Flows
		}
		return s.Conntrack.Flows, per
	}
	if total, per := flows(); total != 2 || per["a1"] != 1 || per["a2"] != 1 {
		t.Fatalf("after the ping: %d flows, per ENI %v; want 2, a1 1, a2 1", total, per)
	}

	load := func(topo string) *topology.Network {
		n, err := topology.Load([]byte(topo))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	a2line := `      {"name": "a2", "subnet": "a", "private_ip": "10.0.1.11", "security_groups": ["open"]},` + "\n"
	if !strings.Contains(unitTopo, a2line) {
		t.Fatal("unitTopo changed: cannot remove a2")
	}
	r.f.Apply(load(strings.Replace(unitTopo, a2line, "", 1)))
	if total, per := flows(); total != 1 || per["a1"] != 1 {
		t.Fatalf("after deleting a2: %d flows, per ENI %v; want 1, a1 1", total, per)
	}

	// a2 again, same name and id: nothing inherited.
	r.f.Apply(load(unitTopo))
	if total, per := flows(); total != 1 || per["a1"] != 1 || per["a2"] != 0 {
		t.Fatalf("after re-creating a2: %d flows, per ENI %v; want 1, a1 1 (SG-5: kept), a2 0", total, per)
	}
	for _, e := range r.f.Stats().Endpoints {
		if e.Name == "a2" && (e.RxFrames != 0 || e.TxFrames != 0 || len(e.Drops) != 0) {
			t.Fatalf("the new a2 inherited counters: %+v", e)
		}
	}
}
