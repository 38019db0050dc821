package policy

import "testing"

// The hot path allocates nothing (style.md): an established flow's verdict
// and a cached NACL decision.

func TestAllocsEstablishedFlow(t *testing.T) {
	reg := registry(map[GroupID]*Group{1: {Egress: []Rule{allowAll}}})
	a := newTracker(reg, NewTable(0), 1)
	out := tcpP(ipA, ipX, 40000, 443, syn)
	if v := a.Egress(out, t0); v != Allow {
		t.Fatalf("open: %v", v)
	}
	in := reversed(out, synAck)
	if v := a.Ingress(in, t0); v != Allow {
		t.Fatalf("answer: %v", v)
	}
	out.TCPFlags, in.TCPFlags = ack, ack
	now := t0
	if n := testing.AllocsPerRun(1000, func() {
		now++
		if a.Egress(out, now) != Allow {
			t.Fatal("egress dropped")
		}
	}); n != 0 {
		t.Errorf("Egress of an established flow: %v allocs/op, want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() {
		now++
		if a.Ingress(in, now) != Allow {
			t.Fatal("ingress dropped")
		}
	}); n != 0 {
		t.Errorf("Ingress of an established flow: %v allocs/op, want 0", n)
	}
}

func TestAllocsACLCached(t *testing.T) {
	acl := NewACL(manyACLRules(100), manyACLRules(100))
	p := tcpP(ipX, ipA, 40000, 443, ack)
	acl.Check(false, p)
	if n := testing.AllocsPerRun(1000, func() {
		if ok, _ := acl.Check(false, p); !ok {
			t.Fatal("denied")
		}
	}); n != 0 {
		t.Errorf("cached ACL.Check: %v allocs/op, want 0", n)
	}
}
