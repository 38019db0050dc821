package policy

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"
)

// manyRules is n rules of which only the last allows TCP 443 from anywhere.
func manyRules(n int) []Rule {
	rules := make([]Rule, 0, n)
	for i := 0; i < n-1; i++ {
		rules = append(rules, Rule{Proto: 6, From: int32(1000 + i), To: int32(1000 + i),
			Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16, byte(i >> 8), byte(i)}), 32)})
	}
	return append(rules, Rule{Proto: 6, From: 443, To: 443, Prefix: anyV4})
}

// manyACLRules is n rules of which only the last (highest number) matches
// TCP 443.
func manyACLRules(n int) []ACLRule {
	rules := make([]ACLRule, 0, n)
	for i := 0; i < n-1; i++ {
		rules = append(rules, ACLRule{Number: 1 + i, Proto: 6, From: int32(1000 + i), To: int32(1000 + i),
			Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16, byte(i >> 8), byte(i)}), 32), Allow: false})
	}
	return append(rules, ACLRule{Number: n, Proto: 6, From: 443, To: 443, Prefix: anyV4, Allow: true})
}

// BenchmarkEstablished: an established flow's verdict must not grow with
// the number of rules (style.md: decide once per flow, then cache).
func BenchmarkEstablished(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			reg := registry(map[GroupID]*Group{1: {Egress: manyRules(n)}})
			a := newTracker(reg, NewTable(0), 1)
			p := tcpP(ipA, ipX, 40000, 443, syn)
			if a.Egress(p, t0) != Allow || a.Ingress(reversed(p, synAck), t0) != Allow {
				b.Fatal("flow not allowed")
			}
			p.TCPFlags = ack
			now := t0
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				now++
				if a.Egress(p, now) != Allow {
					b.Fatal("dropped")
				}
			}
		})
	}
}

// BenchmarkFirstPacket: a new flow each iteration, decided by the last of
// 1000 rules and inserted into the table.
func BenchmarkFirstPacket(b *testing.B) {
	b.Run("rules=1000", func(b *testing.B) {
		reg := registry(map[GroupID]*Group{1: {Egress: manyRules(1000)}})
		const perTracker = 1 << 20
		newT := func() *Tracker { return newTracker(reg, NewTable(perTracker+1), 1) }
		a := newT()
		p := tcpP(ipA, ipX, 0, 443, syn)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if i%perTracker == perTracker-1 {
				b.StopTimer()
				a = newT()
				b.StartTimer()
			}
			j := i % perTracker
			p.SrcPort = uint16(j)
			p.Dst = netip.AddrFrom4([4]byte{192, 0, byte(j >> 16), 7})
			if a.Egress(p, t0) != Allow {
				b.Fatal("dropped")
			}
		}
	})
}

func BenchmarkNACLCached(b *testing.B) {
	b.Run("rules=1000", func(b *testing.B) {
		acl := NewACL(manyACLRules(1000), nil)
		p := tcpP(ipX, ipA, 40000, 443, ack)
		if ok, rule := acl.Check(false, p); !ok || rule != 1000 {
			b.Fatalf("Check = %v %d", ok, rule)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if ok, _ := acl.Check(false, p); !ok {
				b.Fatal("denied")
			}
		}
	})
}

// BenchmarkNACLUncached is the rule scan behind the cache, for comparison.
func BenchmarkNACLUncached(b *testing.B) {
	b.Run("rules=1000", func(b *testing.B) {
		acl := NewACL(manyACLRules(1000), nil)
		p := tcpP(ipX, ipA, 40000, 443, ack)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if ok, _ := acl.evaluate(false, p.Src, p); !ok {
				b.Fatal("denied")
			}
		}
	})
}

// TestMemoryPerFlow: a million tracked flows in one Tracker fit in 256 MiB.
func TestMemoryPerFlow(t *testing.T) {
	if testing.Short() {
		t.Skip("inserts 1,000,000 flows")
	}
	const flows = 1_000_000
	reg := registry(map[GroupID]*Group{1: {Egress: []Rule{allowAll}}})
	table := NewTable(flows)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	a := newTracker(reg, table, 1)
	p := udpP(ipA, ipX, 0, 53)
	for i := 0; i < flows; i++ {
		p.SrcPort = uint16(i)
		p.Dst = netip.AddrFrom4([4]byte{192, byte(i >> 16), 0, 7})
		if v := a.Egress(p, t0); v != Allow {
			t.Fatalf("flow %d: %v", i, v)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if a.Len() != flows || table.Len() != flows {
		t.Fatalf("tracker %d, table %d flows; want %d", a.Len(), table.Len(), flows)
	}
	total := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d flows: %.1f MiB heap, %.1f bytes/flow", flows, float64(total)/(1<<20), float64(total)/flows)
	if total >= 256<<20 {
		t.Errorf("%d flows take %d bytes, want < 256 MiB", flows, total)
	}
	// One more: the table is full and nothing has expired, so the oldest
	// half-open (unanswered) flow makes room (SG-10).
	p.SrcPort, p.Dst = 1, ipB
	if v := a.Egress(p, t0+2*sec); v != Allow {
		t.Errorf("flow %d: %v, want Allow", flows+1, v)
	}
	if a.Len() != flows || table.Len() != flows || a.Evicted() != 1 {
		t.Errorf("tracker %d, table %d flows, %d evicted; want %d, %d, 1", a.Len(), table.Len(), a.Evicted(), flows, flows)
	}
	runtime.KeepAlive(a)
}
