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

// TestAllocsUntrackedFlow: SG-9's per-packet decision, once compiled for the
// rule set, allocates nothing.
func TestAllocsUntrackedFlow(t *testing.T) {
	reg := registry(map[GroupID]*Group{1: {Ingress: []Rule{{Proto: 6, From: 80, To: 80, Prefix: anyV4}}, Egress: []Rule{allowAll}}})
	a := newTracker(reg, NewTable(0), 1)
	in := tcpP(ipX, ipA, 40000, 80, ack)
	out := reversed(in, ack)
	if a.Ingress(in, t0) != Allow || a.Egress(out, t0) != Allow || a.Len() != 0 {
		t.Fatalf("not an untracked flow: %d tracked", a.Len())
	}
	now := t0
	if n := testing.AllocsPerRun(1000, func() {
		now++
		if a.Ingress(in, now) != Allow || a.Egress(out, now) != Allow {
			t.Fatal("dropped")
		}
	}); n != 0 {
		t.Errorf("untracked flow: %v allocs/op, want 0", n)
	}
}

// TestAllocsSynFloodAtFullTable: a new flow admitted by evicting a half-open
// one (SG-10), from the ENI itself or from another, allocates nothing once
// the table is full.
func TestAllocsSynFloodAtFullTable(t *testing.T) {
	reg := registry(map[GroupID]*Group{1: {Egress: []Rule{allowAll}}})
	table := NewTable(1000)
	flooder, other := newTracker(reg, table, 1), newTracker(reg, table, 1)
	p := tcpP(ipA, ipX, 0, 80, syn)
	q := tcpP(ipB, ipX, 0, 443, syn)
	port := uint16(0)
	flood := func() {
		port++
		p.SrcPort = port
		if flooder.Egress(p, t0) != Allow {
			t.Fatal("flood SYN refused")
		}
	}
	for i := 0; i < 5000; i++ {
		flood()
	}
	if n := testing.AllocsPerRun(1000, flood); n != 0 {
		t.Errorf("SYN at a full table, own half-open evicted: %v allocs/op, want 0", n)
	}
	take := func() {
		q.SrcPort++
		if other.Egress(q, t0) != Allow {
			t.Fatal("other ENI refused")
		}
	}
	for i := 0; i < 300; i++ { // other's map and slab grow to their size
		take()
	}
	if n := testing.AllocsPerRun(100, take); n != 0 {
		t.Errorf("another ENI's SYN at a full table, the flooder's half-open evicted: %v allocs/op, want 0", n)
	}
}
