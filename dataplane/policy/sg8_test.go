package policy

import (
	"net/netip"
	"testing"
)

// TestSG8_LinkLocalServicesNeverFiltered: an ENI whose groups allow nothing
// still reaches 169.254.169.253 (DNS), 169.254.169.254 (metadata) and
// 169.254.169.123 (the Amazon Time Sync Service, NTP), and their answers
// reach it (SG-8), untracked; any other address, link-local or not, is
// dropped.
func TestSG8_LinkLocalServicesNeverFiltered(t *testing.T) {
	reg := registry(map[GroupID]*Group{1: {Members: members(ipA)}}) // no rule at all
	tr := newTracker(reg, NewTable(0), 1)
	for _, svc := range []struct {
		addr string
		port uint16
	}{{"169.254.169.253", 53}, {"169.254.169.254", 80}, {"10.0.0.2", 53}, {"169.254.169.123", 123}} {
		s := netip.MustParseAddr(svc.addr)
		q := udpP(ipA, s, 40000, svc.port)
		expect(t, "egress to "+svc.addr, tr.Egress(q, t0), Allow)
		a := udpP(s, ipA, svc.port, 40000)
		expect(t, "ingress from "+svc.addr, tr.Ingress(a, t0), Allow)
		if !tr.Permits(q, true) {
			t.Errorf("Permits egress to %s = false", svc.addr)
		}
	}
	if tr.Len() != 0 {
		t.Errorf("service traffic was tracked: %d flows", tr.Len())
	}
	other := udpP(ipA, netip.MustParseAddr("169.254.169.122"), 40000, 123)
	expect(t, "egress to 169.254.169.122", tr.Egress(other, t0), DropEgress)
}
