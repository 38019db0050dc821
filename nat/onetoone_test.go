package nat

import (
	"net/netip"
	"sync"
	"testing"

	"github.com/vpcnet/vpcnet/dataplane/header"
)

// TestIGW1OneToOne: set, look up both ways, re-associate, remove (IGW-1,
// EIP-2).
func TestIGW1OneToOne(t *testing.T) {
	var m OneToOne
	if _, ok := m.Public(ad("10.0.1.5")); ok {
		t.Fatal("zero value not empty")
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(m.Set(ad("10.0.1.5"), ad("54.0.0.1")))
	must(m.Set(ad("10.0.1.6"), ad("54.0.0.2")))
	if p, ok := m.Public(ad("10.0.1.5")); !ok || p != ad("54.0.0.1") {
		t.Fatal(p, ok)
	}
	if p, ok := m.Private(ad("54.0.0.2")); !ok || p != ad("10.0.1.6") {
		t.Fatal(p, ok)
	}
	// EIP-2: the EIP 54.0.0.1 moves to 10.0.1.6, which loses 54.0.0.2.
	must(m.Set(ad("10.0.1.6"), ad("54.0.0.1")))
	if _, ok := m.Public(ad("10.0.1.5")); ok {
		t.Fatal("old holder keeps the EIP")
	}
	if _, ok := m.Private(ad("54.0.0.2")); ok {
		t.Fatal("replaced public IP still mapped")
	}
	if p, _ := m.Private(ad("54.0.0.1")); p != ad("10.0.1.6") || m.Len() != 1 {
		t.Fatal("re-association", p, m.Len())
	}
	if m.Set(ad("::1"), ad("54.0.0.1")) == nil {
		t.Fatal("IPv6 accepted")
	}
	if !m.RemovePublic(ad("54.0.0.1")) || m.RemovePublic(ad("54.0.0.1")) || m.Len() != 0 {
		t.Fatal("RemovePublic")
	}
	must(m.Set(ad("10.0.1.7"), ad("54.0.0.3")))
	if !m.RemovePrivate(ad("10.0.1.7")) || m.RemovePrivate(ad("10.0.1.7")) || m.Len() != 0 {
		t.Fatal("RemovePrivate")
	}
}

// TestIGW2Translate: translation both ways, drops without association.
func TestIGW2Translate(t *testing.T) {
	var m OneToOne
	_ = m.Set(ad("10.0.1.5"), ad("54.0.0.1"))
	p := tcpPkt(t, ap("10.0.1.5:40000"), remote, header.TCPSyn, nil)
	if v := m.Outbound(p, false); v != OK || natSrc(p) != ap("54.0.0.1:40000") {
		t.Fatalf("%v %v", v, natSrc(p))
	}
	mustCheck(t, p, false)
	if v := m.Outbound(tcpPkt(t, ap("10.0.1.6:40000"), remote, header.TCPSyn, nil), false); v != DropNoPublicIP {
		t.Fatal(v)
	}
	r := reply(t, p, header.TCPSyn|header.TCPAck)
	makePartial(r)
	if v := m.Inbound(r, true); v != OK {
		t.Fatal(v)
	}
	mustCheck(t, r, true)
	if _, d, _, dp := fields(r); d != ad("10.0.1.5") || dp != 40000 {
		t.Fatal(d, dp)
	}
	if v := m.Inbound(udpPkt(t, remote, ap("54.0.0.9:1"), nil), false); v != DropNoAssociation {
		t.Fatal(v)
	}
	if v := m.Inbound([]byte{0x45}, false); v != DropMalformed {
		t.Fatal(v)
	}
}

// TestOneToOneConcurrentAllocs: lookups run lock-free beside writers and
// allocate nothing.
func TestOneToOneConcurrentAllocs(t *testing.T) {
	var m OneToOne
	_ = m.Set(ad("10.0.1.5"), ad("54.0.0.1"))
	p := udpPkt(t, ap("10.0.1.5:1"), ap("8.8.8.8:53"), nil)
	q := append([]byte(nil), p...)
	if n := testing.AllocsPerRun(1000, func() {
		copy(q, p)
		m.Public(ad("10.0.1.5"))
		m.Outbound(q, false)
	}); n != 0 {
		t.Fatalf("%v allocs", n)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 1000 {
			_ = m.Set(netip.AddrFrom4([4]byte{10, 0, 2, byte(i)}), netip.AddrFrom4([4]byte{54, 0, 2, byte(i)}))
		}
	})
	wg.Go(func() {
		for range 10000 {
			if _, ok := m.Public(ad("10.0.1.5")); !ok {
				t.Error("lost a mapping")
				return
			}
		}
	})
	wg.Wait()
}
