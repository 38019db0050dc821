package policy

import (
	"net/netip"
	"testing"
)

// TestSG8_LinkLocalServicesNeverFiltered: an ENI whose groups allow nothing
// still reaches 169.254.169.253 (DNS) and 169.254.169.254 (metadata), and
// their answers reach it (SG-8), untracked; any other address is dropped.
func TestSG8_LinkLocalServicesNeverFiltered(t *testing.T) {
	reg := registry(map[GroupID]*Group{1: {Members: members(ipA)}}) // no rule at all
	tr := newTracker(reg, NewTable(0), 1)
	for _, svc := range []string{"169.254.169.253", "169.254.169.254", "10.0.0.2"} {
		s := netip.MustParseAddr(svc)
		q := udpP(ipA, s, 40000, 53)
		expect(t, "egress to "+svc, tr.Egress(q, t0), Allow)
		a := udpP(s, ipA, 53, 40000)
		expect(t, "ingress from "+svc, tr.Ingress(a, t0), Allow)
		if !tr.Permits(q, true) {
			t.Errorf("Permits egress to %s = false", svc)
		}
	}
	if tr.Len() != 0 {
		t.Errorf("service traffic was tracked: %d flows", tr.Len())
	}
	other := udpP(ipA, netip.MustParseAddr("169.254.169.123"), 40000, 123)
	expect(t, "egress to 169.254.169.123", tr.Egress(other, t0), DropEgress)
}
