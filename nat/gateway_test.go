package nat

import (
	"encoding/binary"
	"encoding/json"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/vpcnet/vpcnet/dataplane/header"
)

const sec = int64(1e9)

var (
	natA   = ad("10.0.0.9")
	natB   = ad("10.0.0.10")
	remote = ap("93.184.216.34:443")
)

// setSrc sets a packet's private source for tests (checksums kept right).
func setSrc(p []byte, src netip.AddrPort) []byte {
	RewriteSrc(p, src.Addr(), src.Port(), false)
	return p
}

// natSrc returns the translated source of p.
func natSrc(p []byte) netip.AddrPort {
	s, _, sp, _ := fields(p)
	return netip.AddrPortFrom(s, sp)
}

// reply builds the remote's answer to a translated TCP packet.
func reply(tb testing.TB, translated []byte, flags uint8) []byte {
	s, d, sp, dp := fields(translated)
	return tcpPkt(tb, netip.AddrPortFrom(d, dp), netip.AddrPortFrom(s, sp), flags, nil)
}

// TestNAT3PerDestinationLimit: 55000 connections to one destination per NAT
// address, the next one fails with ErrorPortAllocation, other destinations
// still work, and a secondary address doubles the limit.
func TestNAT3PerDestinationLimit(t *testing.T) {
	for _, addrs := range [][]netip.Addr{{natA}, {natA, natB}} {
		g := NewGateway(Config{Addrs: addrs, Seed: 1})
		tmpl := tcpPkt(t, ap("10.0.1.5:1"), remote, header.TCPSyn, nil)
		p := make([]byte, len(tmpl))
		used := map[netip.Addr]*[65536]bool{natA: new([65536]bool), natB: new([65536]bool)}
		want := DefaultMaxPerDestination * len(addrs)
		for i := range want + 1 {
			copy(p, tmpl)
			// Distinct private (address, port) per connection.
			setSrc(p, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 1000))
			v := g.Outbound(p, false, sec)
			if i == want {
				if v != DropPortAllocation {
					t.Fatalf("%d addrs: connection %d: %v, want DropPortAllocation", len(addrs), i, v)
				}
				break
			}
			if v != OK {
				t.Fatalf("%d addrs: connection %d: %v", len(addrs), i, v)
			}
			s := natSrc(p)
			u := used[s.Addr()]
			if u == nil || s.Port() < 1024 || u[s.Port()] {
				t.Fatalf("connection %d got %v: not a NAT address, out of range or reused", i, s)
			}
			u[s.Port()] = true
		}
		st := g.Stats()
		if st.ErrorPortAllocation != 1 || st.ActiveConnectionCount != uint64(want) || st.ConnectionAttemptCount != uint64(want+1) {
			t.Fatalf("stats %+v", st)
		}
		// Other destinations: another port, another protocol, another host.
		others := [][]byte{
			tcpPkt(t, ap("10.0.1.5:1"), ap("93.184.216.34:80"), header.TCPSyn, nil),
			udpPkt(t, ap("10.0.1.5:1"), remote, nil),
			tcpPkt(t, ap("10.0.1.5:1"), ap("93.184.216.35:443"), header.TCPSyn, nil),
		}
		for i, o := range others {
			if v := g.Outbound(o, false, sec); v != OK {
				t.Fatalf("other destination %d: %v", i, v)
			}
		}
	}
}

// TestNAT4IdleTimeoutReuseAndRST: an idle connection expires after
// IdleTimeout, its port is reused, and late TCP segments get SendRST.
func TestNAT4IdleTimeoutReuseAndRST(t *testing.T) {
	g := NewGateway(Config{Addrs: []netip.Addr{natA}, PortMin: 2000, PortMax: 2001, IdleTimeout: 10 * sec, Seed: 3})
	syn := func(src string) []byte { return tcpPkt(t, ap(src), remote, header.TCPSyn, nil) }
	a, b, c := syn("10.0.1.5:1000"), syn("10.0.1.6:1000"), syn("10.0.1.7:1000")
	if g.Outbound(a, false, 0) != OK || g.Outbound(b, false, 1*sec) != OK {
		t.Fatal("first two")
	}
	if v := g.Outbound(append([]byte(nil), c...), false, 2*sec); v != DropPortAllocation {
		t.Fatalf("third: %v (two ports only)", v)
	}
	// b stays active; a idles out (after more than 10 s).
	if g.Outbound(tcpPkt(t, ap("10.0.1.6:1000"), remote, header.TCPAck, nil), false, 9*sec) != OK {
		t.Fatal("b refresh")
	}
	if v := g.Outbound(append([]byte(nil), c...), false, 10*sec); v != DropPortAllocation {
		t.Fatalf("at exactly 10 s a is not idle *longer* than the timeout: %v", v)
	}
	// Late inbound for a while it is remembered: RST (NAT-4).
	lateIn := reply(t, a, header.TCPAck)
	if v := g.Inbound(lateIn, false, 10*sec+1); v != SendRST {
		t.Fatalf("late inbound: %v", v)
	}
	buf := make([]byte, RSTLen)
	if n := BuildRST(buf, lateIn); n != RSTLen || header.IPv4(buf).Dst() != remote.Addr() || header.IPv4(buf).Src() != natA {
		t.Fatalf("RST % x", buf)
	}
	// Late outbound non-SYN from the instance: RST.
	lateOut := tcpPkt(t, ap("10.0.1.5:1000"), remote, header.TCPAck|header.TCPPsh, []byte("x"))
	if v := g.Outbound(lateOut, false, 11*sec); v != SendRST {
		t.Fatalf("late outbound: %v", v)
	}
	// A late RST is just dropped.
	if v := g.Outbound(tcpPkt(t, ap("10.0.1.5:1000"), remote, header.TCPRst, nil), false, 11*sec); v != DropUnsolicited {
		t.Fatalf("late RST: %v", v)
	}
	// c now gets a's port.
	if v := g.Outbound(c, false, 11*sec); v != OK || natSrc(c) != natSrc(a) {
		t.Fatalf("reuse: %v %v, want %v", v, natSrc(c), natSrc(a))
	}
	// The port went to c: a's late segments are now unsolicited.
	if v := g.Inbound(reply(t, a, header.TCPAck), false, 12*sec); v != OK {
		t.Fatalf("same 5-tuple now belongs to c: %v", v)
	}
	st := g.Stats()
	if st.IdleTimeoutCount != 1 || st.ActiveConnectionCount != 2 || st.ErrorPortAllocation != 2 {
		t.Fatalf("stats %+v", st)
	}
	// Everything idles out; Sweep reclaims; UDP expires without memory.
	u := udpPkt(t, ap("10.0.1.5:53"), ap("8.8.8.8:53"), nil)
	if g.Outbound(u, false, 12*sec) != OK {
		t.Fatal("udp")
	}
	g.Sweep(100 * sec)
	if st := g.Stats(); st.ActiveConnectionCount != 0 || st.IdleTimeoutCount != 4 {
		t.Fatalf("after sweep %+v", st)
	}
	ur := udpPkt(t, natSrc(u), ap("8.8.8.8:53"), nil)
	s, d, sp, dp := fields(ur)
	ur = udpPkt(t, netip.AddrPortFrom(d, dp), netip.AddrPortFrom(s, sp), nil)
	if v := g.Inbound(ur, false, 100*sec); v != DropUnsolicited {
		t.Fatalf("udp after expiry: %v", v)
	}
	// Retention over: the expired TCP connections are forgotten.
	if v := g.Inbound(reply(t, b, header.TCPAck), false, 1000*sec); v != DropUnsolicited {
		t.Fatalf("after retention: %v", v)
	}
}

// TestNAT4ClosedConnectionsReclaimed (NAT-6): FIN both ways makes a connection
// reclaimable after TimeWaitTimeout (the remote end may hold it in
// TIME_WAIT, whose PAWS check would refuse a new SYN from the same port), a
// RST after ClosedTimeout; neither counts an idle timeout or leaves RST
// memory, and a SYN on a closing mapping reopens it.
func TestNAT4ClosedConnectionsReclaimed(t *testing.T) {
	g := NewGateway(Config{Addrs: []netip.Addr{natA}, PortMin: 2000, PortMax: 2000, ClosedTimeout: 5 * sec, TimeWaitTimeout: 30 * sec})
	s := tcpPkt(t, ap("10.0.1.5:1000"), remote, header.TCPSyn, nil)
	if g.Outbound(s, false, 0) != OK {
		t.Fatal("syn")
	}
	if g.Inbound(reply(t, s, header.TCPSyn|header.TCPAck), false, 1) != OK {
		t.Fatal("syn-ack")
	}
	if g.Outbound(tcpPkt(t, ap("10.0.1.5:1000"), remote, header.TCPFin|header.TCPAck, nil), false, sec) != OK {
		t.Fatal("fin out")
	}
	if g.Inbound(reply(t, s, header.TCPFin|header.TCPAck), false, sec) != OK {
		t.Fatal("fin in")
	}
	other := tcpPkt(t, ap("10.0.1.6:1000"), remote, header.TCPSyn, nil)
	if v := g.Outbound(append([]byte(nil), other...), false, 6*sec+1); v != DropPortAllocation {
		t.Fatalf("a FIN-closed connection's port after ClosedTimeout, within TimeWaitTimeout: %v, want it still held", v)
	}
	if v := g.Outbound(other, false, 31*sec+1); v != OK {
		t.Fatalf("after TimeWaitTimeout: %v", v)
	}
	st := g.Stats()
	if st.IdleTimeoutCount != 0 || st.ConnectionEstablishedCount != 1 || st.ActiveConnectionCount != 1 {
		t.Fatalf("stats %+v", st)
	}
	// A RST closes after ClosedTimeout: it leaves no TIME_WAIT.
	if g.Outbound(tcpPkt(t, ap("10.0.1.6:1000"), remote, header.TCPRst, nil), false, 32*sec) != OK {
		t.Fatal("rst")
	}
	third := tcpPkt(t, ap("10.0.1.7:1000"), remote, header.TCPSyn, nil)
	if v := g.Outbound(append([]byte(nil), third...), false, 37*sec); v != DropPortAllocation {
		t.Fatalf("within ClosedTimeout of a RST: %v", v)
	}
	if v := g.Outbound(third, false, 37*sec+1); v != OK {
		t.Fatalf("after ClosedTimeout of a RST: %v", v)
	}
	// A SYN on the closing mapping reopens it.
	if g.Outbound(tcpPkt(t, ap("10.0.1.7:1000"), remote, header.TCPRst, nil), false, 38*sec) != OK {
		t.Fatal("rst 2")
	}
	again := tcpPkt(t, ap("10.0.1.7:1000"), remote, header.TCPSyn, nil)
	if g.Outbound(again, false, 39*sec) != OK || natSrc(again) != natSrc(third) {
		t.Fatal("reopen keeps the mapping")
	}
	if v := g.Outbound(tcpPkt(t, ap("10.0.1.7:1000"), remote, header.TCPAck, nil), false, 50*sec); v != OK {
		t.Fatalf("reopened connection idles on IdleTimeout, not ClosedTimeout: %v", v)
	}
}

// TestNAT2ICMPIDs: two instances pinging with the same id get distinct
// NAT ids, and replies go back to the right instance with its own id.
func TestNAT2ICMPIDs(t *testing.T) {
	g := NewGateway(Config{Addrs: []netip.Addr{natA}})
	dst := ad("1.1.1.1")
	p1 := icmpPkt(t, ad("10.0.1.5"), dst, header.ICMPEcho, 42, []byte("one"))
	p2 := icmpPkt(t, ad("10.0.1.6"), dst, header.ICMPEcho, 42, []byte("two"))
	if g.Outbound(p1, false, 0) != OK || g.Outbound(p2, false, 0) != OK {
		t.Fatal("pings")
	}
	mustCheck(t, p1, false)
	mustCheck(t, p2, false)
	id1, id2 := natSrc(p1), natSrc(p2)
	if id1.Addr() != natA || id2.Addr() != natA || id1.Port() == id2.Port() || id1.Port() < 1024 || id2.Port() < 1024 {
		t.Fatalf("ids %v %v", id1, id2)
	}
	for _, c := range []struct {
		natID uint16
		priv  netip.Addr
	}{{id2.Port(), ad("10.0.1.6")}, {id1.Port(), ad("10.0.1.5")}} {
		r := icmpPkt(t, dst, natA, header.ICMPEchoReply, c.natID, []byte("pong"))
		if v := g.Inbound(r, false, sec); v != OK {
			t.Fatalf("reply: %v", v)
		}
		mustCheck(t, r, false)
		_, d, _, id := fields(r)
		if d != c.priv || id != 42 {
			t.Fatalf("reply went to %v id %d", d, id)
		}
	}
	if m, ok := g.Mapping(header.ProtoICMP, netip.AddrPortFrom(ad("10.0.1.5"), 42), netip.AddrPortFrom(dst, 0)); !ok || m != id1 {
		t.Fatalf("Mapping = %v %v", m, ok)
	}
	// A ping from outside to the NAT address is unsolicited (NAT-5), even
	// with a mapped id.
	if v := g.Inbound(icmpPkt(t, dst, natA, header.ICMPEcho, id1.Port(), nil), false, sec); v != DropUnsolicited {
		t.Fatalf("inbound echo: %v", v)
	}
	// An echo reply from the instance opens nothing.
	if v := g.Outbound(icmpPkt(t, ad("10.0.1.5"), dst, header.ICMPEchoReply, 9, nil), false, sec); v != DropUnsolicited {
		t.Fatalf("outbound reply: %v", v)
	}
}

// TestNAT5Unsolicited: inbound traffic that matches no connection never
// reaches an instance; TCP gets no RST (only NAT-4 expired ones do).
func TestNAT5Unsolicited(t *testing.T) {
	g := NewGateway(Config{Addrs: []netip.Addr{natA}})
	o := udpPkt(t, ap("10.0.1.5:5000"), ap("8.8.8.8:53"), nil)
	if g.Outbound(o, false, 0) != OK {
		t.Fatal("out")
	}
	n := natSrc(o)
	cases := map[string][]byte{
		"tcp syn":          tcpPkt(t, ap("8.8.8.8:53"), n, header.TCPSyn, nil),
		"tcp ack":          tcpPkt(t, ap("8.8.8.8:53"), n, header.TCPAck, nil),
		"udp other port":   udpPkt(t, ap("8.8.8.8:54"), n, nil),
		"udp other remote": udpPkt(t, ap("8.8.4.4:53"), n, nil),
		"udp other nat port": udpPkt(t, ap("8.8.8.8:53"),
			netip.AddrPortFrom(natA, n.Port()^1), nil),
		"not a nat address": udpPkt(t, ap("8.8.8.8:53"), netip.AddrPortFrom(natB, n.Port()), nil),
		"icmp error about nothing": icmpErr(t, ad("203.0.113.1"), natA, 3, 3,
			udpPkt(t, netip.AddrPortFrom(natA, 9999), ap("8.8.8.8:53"), nil), 0),
	}
	for name, p := range cases {
		if v := g.Inbound(p, false, sec); v != DropUnsolicited {
			t.Errorf("%s: %v", name, v)
		}
	}
	if st := g.Stats(); st.PacketsDropCount != uint64(len(cases)) || st.DropsByReason[DropUnsolicited.String()] != uint64(len(cases)) {
		t.Fatalf("stats %+v", st)
	}
	// The reply itself passes.
	r := udpPkt(t, ap("8.8.8.8:53"), n, []byte("answer"))
	if v := g.Inbound(r, false, sec); v != OK {
		t.Fatalf("reply: %v", v)
	}
	if _, d, _, dp := fields(r); d != ad("10.0.1.5") || dp != 5000 {
		t.Fatalf("reply to %v:%d", d, dp)
	}
}

// TestNAT2Protocols: other protocols and ICMP types are dropped; ICMP
// errors about known connections are translated both ways.
func TestNAT2Protocols(t *testing.T) {
	g := NewGateway(Config{Addrs: []netip.Addr{natA}})
	gre := udpPkt(t, ap("10.0.1.5:1"), ap("8.8.8.8:2"), nil)
	gre[9] = 47
	header.IPv4(gre).SetChecksum(header.IPv4(gre).ComputeChecksum())
	redirect := icmpPkt(t, ad("10.0.1.5"), ad("8.8.8.8"), 5, 0, nil)
	for name, p := range map[string][]byte{"gre": gre, "icmp redirect": redirect} {
		if v := g.Outbound(p, false, 0); v != DropProtocol {
			t.Errorf("%s: %v", name, v)
		}
	}
	frag := udpPkt(t, ap("10.0.1.5:1"), ap("8.8.8.8:2"), make([]byte, 16))
	binary.BigEndian.PutUint16(frag[6:], 2)
	if v := g.Outbound(frag, false, 0); v != DropFragment {
		t.Errorf("fragment: %v", v)
	}
	if v := g.Outbound(frag[:10], false, 0); v != DropMalformed {
		t.Errorf("short: %v", v)
	}

	// ICMP errors.
	o := udpPkt(t, ap("10.0.1.5:5000"), ap("8.8.8.8:53"), []byte("q"))
	if g.Outbound(o, false, 0) != OK {
		t.Fatal("out")
	}
	e := icmpErr(t, ad("203.0.113.1"), natA, header.ICMPTimeExceeded, 0, o, 28)
	if v := g.Inbound(e, false, sec); v != OK {
		t.Fatalf("inbound error: %v", v)
	}
	mustCheck(t, e, false)
	if _, d, _, _ := fields(e); d != ad("10.0.1.5") {
		t.Fatalf("error to %v", d)
	}
	if s, _, sp, _ := fields(e[28:]); s != ad("10.0.1.5") || sp != 5000 {
		t.Fatalf("quoted %v:%d", s, sp)
	}
	// The instance answers a reply with port unreachable: quoted is the
	// reply 8.8.8.8:53 -> 10.0.1.5:5000.
	in := udpPkt(t, ap("8.8.8.8:53"), ap("10.0.1.5:5000"), []byte("a"))
	e = icmpErr(t, ad("10.0.1.5"), ad("8.8.8.8"), header.ICMPDestUnreach, 3, in, 0)
	if v := g.Outbound(e, false, sec); v != OK {
		t.Fatalf("outbound error: %v", v)
	}
	mustCheck(t, e, false)
	if s, _, _, _ := fields(e); s != natA {
		t.Fatalf("error from %v", s)
	}
	if _, d, _, dp := fields(e[28:]); d != natA || dp != natSrc(o).Port() {
		t.Fatalf("quoted dst %v:%d", d, dp)
	}
	if !l4OK(e[28:]) || !ipHeaderOK(e[28:]) {
		t.Fatal("quoted checksums")
	}
}

// TestNATPartialChecksums: a NEEDS_CSUM frame through the gateway keeps a
// correct pseudo-header sum both ways.
func TestNATPartialChecksums(t *testing.T) {
	g := NewGateway(Config{Addrs: []netip.Addr{natA}})
	o := tcpPkt(t, ap("10.0.1.5:40000"), remote, header.TCPSyn, []byte("payload"))
	makePartial(o)
	if g.Outbound(o, true, 0) != OK {
		t.Fatal("out")
	}
	mustCheck(t, o, true)
	r := reply(t, o, header.TCPSyn|header.TCPAck)
	makePartial(r)
	if g.Inbound(r, true, 0) != OK {
		t.Fatal("in")
	}
	mustCheck(t, r, true)
}

// TestNATStatsJSON: the counters carry the CloudWatch names (NAT-6).
func TestNATStatsJSON(t *testing.T) {
	g := NewGateway(Config{Addrs: []netip.Addr{natA}})
	p := udpPkt(t, ap("10.0.1.5:5000"), ap("8.8.8.8:53"), []byte("q"))
	g.Outbound(p, false, 0)
	b, _ := json.Marshal(g.Stats())
	for _, k := range []string{`"ActiveConnectionCount":1`, `"PacketsInFromSource":1`, `"PacketsOutToDestination":1`,
		`"BytesInFromSource":29`, `"BytesOutToDestination":29`, `"ConnectionAttemptCount":1`, `"ErrorPortAllocation":0`,
		`"IdleTimeoutCount":0`, `"PacketsDropCount":0`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("missing %s in %s", k, b)
		}
	}
}

// TestNATConfig: validation and defaults.
func TestNATConfig(t *testing.T) {
	if (Config{}).Validate() == nil || (Config{Addrs: []netip.Addr{natA}, PortMin: 5, PortMax: 4}).Validate() == nil ||
		(Config{Addrs: []netip.Addr{ad("::1")}}).Validate() == nil {
		t.Fatal("bad configs accepted")
	}
	if err := (Config{Addrs: []netip.Addr{natA}}).Validate(); err != nil {
		t.Fatal(err)
	}
	g := NewGateway(Config{})
	if v := g.Outbound(udpPkt(t, ap("10.0.1.5:5000"), ap("8.8.8.8:53"), nil), false, 0); v != DropPortAllocation {
		t.Fatalf("no address: %v", v)
	}
	g = NewGateway(Config{Addrs: []netip.Addr{natA}, PortMin: 60000, PortMax: 60009, MaxPerDestination: 100})
	n := 0
	for i := range 20 {
		if g.Outbound(udpPkt(t, netip.AddrPortFrom(ad("10.0.1.5"), uint16(1000+i)), ap("8.8.8.8:53"), nil), false, 0) == OK {
			n++
		}
	}
	if n != 10 {
		t.Fatalf("limit capped by the port range: %d", n)
	}
}

// TestNATConcurrent: outbound and inbound on several goroutines (run with
// -race).
func TestNATConcurrent(t *testing.T) {
	g := NewGateway(Config{Addrs: []netip.Addr{natA, natB}})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				p := udpPkt(t, netip.AddrPortFrom(ad("10.0.1.5"), uint16(w*5000+i%50)), netip.AddrPortFrom(ad("8.8.8.8"), uint16(i%7)), nil)
				if g.Outbound(p, false, int64(i)) != OK {
					t.Error("outbound")
					return
				}
				s, d, sp, dp := fields(p)
				r := udpPkt(t, netip.AddrPortFrom(d, dp), netip.AddrPortFrom(s, sp), nil)
				if v := g.Inbound(r, false, int64(i)); v != OK {
					t.Errorf("inbound %v", v)
					return
				}
				if i%500 == 0 {
					g.Stats()
				}
			}
		})
	}
	wg.Wait()
}

// TestNATAllocs: translating packets of established connections allocates
// nothing, either way.
func TestNATAllocs(t *testing.T) {
	g := NewGateway(Config{Addrs: []netip.Addr{natA}})
	o := tcpPkt(t, ap("10.0.1.5:40000"), remote, header.TCPSyn, nil)
	if g.Outbound(o, false, 0) != OK {
		t.Fatal("syn")
	}
	r := reply(t, o, header.TCPAck)
	out := tcpPkt(t, ap("10.0.1.5:40000"), remote, header.TCPAck, []byte("data"))
	ob, rb := make([]byte, len(out)), make([]byte, len(r))
	now := int64(1)
	if n := testing.AllocsPerRun(1000, func() {
		copy(ob, out)
		copy(rb, r)
		now++
		if g.Outbound(ob, false, now) != OK || g.Inbound(rb, true, now) != OK {
			panic("not OK")
		}
	}); n != 0 {
		t.Fatalf("%v allocs per packet pair", n)
	}
}
