package policy

// Connection tracking as issue 10 asks: the TCP handshake, untracked flows
// (SG-9) and a fair table (SG-10). Table tests named after the rules.

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// handshake opens a TCP flow from tr's ENI at src to dst:dport through the
// whole handshake, at now.
func handshake(t *testing.T, tr *Tracker, src, dst netip.Addr, sport, dport uint16, now int64) {
	t.Helper()
	p := tcpP(src, dst, sport, dport, syn)
	expect(t, "syn", tr.Egress(p, now), Allow)
	expect(t, "syn-ack", tr.Ingress(reversed(p, synAck), now), Allow)
	expect(t, "ack", tr.Egress(tcpP(src, dst, sport, dport, ack), now), Allow)
}

// TestSG6_NewSYNReopensClosedFlow: a SYN without ACK on a closed flow starts
// a new flow, judged by the rules and taken through the handshake again.
// Before, the closed entry answered for it: a reused port pair stayed
// "closed" (10 s) after its new handshake, and a SYN the other way passed as
// a reply.
func TestSG6_NewSYNReopensClosedFlow(t *testing.T) {
	reg := registry(map[GroupID]*Group{1: {Egress: []Rule{{Proto: 6, From: 80, To: 80, Prefix: anyV4}}}})
	a := newTracker(reg, NewTable(0), 1)
	handshake(t, a, ipA, ipB, 40000, 80, t0)
	expect(t, "rst", a.Ingress(tcpP(ipB, ipA, 80, 40000, rst|ack), t0+sec), Allow)
	// The peer opening the reverse way is a new flow: no inbound rule.
	expect(t, "reverse SYN on the closed flow", a.Ingress(tcpP(ipB, ipA, 80, 40000, syn), t0+2*sec), DropIngress)
	// The opener reuses the port pair: a new flow, established again.
	handshake(t, a, ipA, ipB, 40000, 80, t0+3*sec)
	expect(t, "an hour later", a.Ingress(tcpP(ipB, ipA, 80, 40000, ack), t0+3*sec+3600*sec), Allow)
	if a.Len() != 1 {
		t.Fatalf("Len() = %d, want 1", a.Len())
	}
}

// ---- SG-9 -----------------------------------------------------------------

func TestSG9_UntrackedFlows(t *testing.T) {
	world := func(proto int16, from, to int32) Rule { return Rule{Proto: proto, From: from, To: to, Prefix: anyV4} }
	narrow := netip.MustParsePrefix("203.0.113.1/32")
	web := world(6, 80, 80)
	cases := []struct {
		name            string
		in, out         []Rule
		pkt             *Packet // the first packet, inbound to A
		tracked         bool
		revokeCutsReply bool // revoking the inbound rules stops the next inbound packet
	}{
		{"tcp 80 from the world, all out: untracked", []Rule{web}, []Rule{allowAll}, tcpP(ipX, ipA, 40000, 80, syn), false, true},
		{"tcp all ports from the world, tcp all ports out", []Rule{world(6, Any, Any)}, []Rule{world(6, 0, 65535)}, tcpP(ipX, ipA, 40000, 22, syn), false, true},
		{"udp 53 from the world, all out", []Rule{world(17, 53, 53)}, []Rule{allowAll}, udpP(ipX, ipA, 40000, 53), false, true},
		{"all protocols both ways, tcp", []Rule{allowAll}, []Rule{allowAll}, tcpP(ipX, ipA, 40000, 443, syn), false, true},
		{"icmp is always tracked", []Rule{allowAll}, []Rule{allowAll}, icmpP(ipX, ipA, 8, 0, 5), true, false},
		{"other protocols are tracked", []Rule{allowAll}, []Rule{allowAll}, rawP(ipX, ipA, 47), true, false},
		{"narrower source: tracked", []Rule{{Proto: 6, From: 80, To: 80, Prefix: narrow}}, []Rule{allowAll},
			tcpP(netip.MustParseAddr("203.0.113.1"), ipA, 40000, 80, syn), true, false},
		{"group peer: tracked", []Rule{{Proto: 6, From: Any, To: Any, Prefix: anyV4, Group: 2}}, []Rule{allowAll},
			tcpP(ipB, ipA, 40000, 80, syn), true, false},
		{"out not all ports: tracked", []Rule{web}, []Rule{world(6, 1024, 65535)}, tcpP(ipX, ipA, 40000, 80, syn), true, false},
		{"out is udp only: tcp tracked", []Rule{web}, []Rule{world(17, Any, Any)}, tcpP(ipX, ipA, 40000, 80, syn), true, false},
		{"out to a prefix only: tracked", []Rule{web}, []Rule{{Proto: -1, From: Any, To: Any, Prefix: netip.MustParsePrefix("0.0.0.0/1")}},
			tcpP(ipX, ipA, 40000, 80, syn), true, false},
		{"also a narrower rule: untracked", []Rule{{Proto: 6, From: 80, To: 80, Prefix: narrow}, web}, []Rule{allowAll},
			tcpP(netip.MustParseAddr("203.0.113.1"), ipA, 40000, 80, syn), false, true},
	}
	for _, c := range cases {
		t.Run("SG-9 "+c.name, func(t *testing.T) {
			groups := map[GroupID]*Group{1: {Ingress: c.in, Egress: c.out}, 2: {Members: members(ipB)}}
			reg := registry(groups)
			table := NewTable(0)
			a := newTracker(reg, table, 1)
			expect(t, "first packet in", a.Ingress(c.pkt, t0), Allow)
			expect(t, "answer out", a.Egress(reversed(c.pkt, synAck), t0), Allow)
			want := 0
			if c.tracked {
				want = 1
			}
			if a.Len() != want || table.Len() != want {
				t.Fatalf("tracker %d, table %d flows; want %d", a.Len(), table.Len(), want)
			}
			// Revoke every inbound rule: an untracked flow is cut at once,
			// a tracked one goes on (SG-5).
			reg.Replace(map[GroupID]*Group{1: {Egress: c.out}, 2: groups[2]})
			next := *c.pkt
			next.TCPFlags = ack
			v := a.Ingress(&next, t0+sec)
			if c.revokeCutsReply {
				expect(t, "next packet in after revoke", v, DropIngress)
			} else {
				expect(t, "next packet in after revoke", v, Allow)
			}
		})
	}
}

// TestSG9_AnswersOfAnUntrackedFlowAreNotTracked: the answer of an untracked
// flow opens no tracked flow of its own either; were it tracked, revoking
// the world rule would not cut the flow (its packets would pass as
// replies). Both directions are judged by the rules on every packet.
func TestSG9_AnswersOfAnUntrackedFlowAreNotTracked(t *testing.T) {
	groups := map[GroupID]*Group{1: {
		Ingress: []Rule{{Proto: 6, From: 80, To: 80, Prefix: anyV4}},
		Egress:  []Rule{allowAll},
	}}
	reg := registry(groups)
	a := newTracker(reg, NewTable(0), 1)
	req := tcpP(ipX, ipA, 40000, 80, syn)
	// The answer first (as if the request had been seen before a restart).
	expect(t, "answer out", a.Egress(reversed(req, synAck), t0), Allow)
	expect(t, "request in", a.Ingress(req, t0), Allow)
	if a.Len() != 0 {
		t.Fatalf("Len() = %d, want 0", a.Len())
	}
	// Revoke the outbound rule: the answers stop at once.
	reg.Replace(map[GroupID]*Group{1: {Ingress: groups[1].Ingress}})
	expect(t, "answer after revoking outbound", a.Egress(reversed(req, ack), t0+sec), DropEgress)
	// An outbound flow that is not the answer of one (to port 443: the
	// inbound rule allows only 80 back) is tracked.
	reg.Replace(groups)
	out := tcpP(ipA, ipX, 40001, 443, syn)
	expect(t, "outbound to 443", a.Egress(out, t0+2*sec), Allow)
	if a.Len() != 1 {
		t.Fatalf("after an outbound flow Len() = %d, want 1", a.Len())
	}
}

// TestSG9_FollowsGroupsAndRegistry: the untracked decision is cached per
// rule-set version; a new group list or registry snapshot applies to the
// very next packet.
func TestSG9_FollowsGroupsAndRegistry(t *testing.T) {
	open := &Group{Ingress: []Rule{allowAll}, Egress: []Rule{allowAll}}
	narrow := &Group{Ingress: []Rule{{Proto: 6, From: 80, To: 80, Prefix: netip.MustParsePrefix("192.0.2.0/24")}}, Egress: []Rule{allowAll}}
	reg := registry(map[GroupID]*Group{1: open, 2: narrow})
	a := newTracker(reg, NewTable(0), 1)
	p := tcpP(ipX, ipA, 40000, 80, syn)
	expect(t, "open group", a.Ingress(p, t0), Allow)
	if a.Len() != 0 {
		t.Fatalf("open group: Len() = %d, want 0", a.Len())
	}
	a.SetGroups([]GroupID{2})
	expect(t, "narrow group", a.Ingress(p, t0), Allow)
	if a.Len() != 1 {
		t.Fatalf("narrow group: Len() = %d, want 1", a.Len())
	}
	b := newTracker(reg, NewTable(0), 1)
	reg.Replace(map[GroupID]*Group{1: narrow})
	expect(t, "registry edit", b.Ingress(p, t0), Allow)
	if b.Len() != 1 {
		t.Fatalf("after a registry edit: Len() = %d, want 1", b.Len())
	}
}

// ---- SG-10 ----------------------------------------------------------------

// TestSG10_HalfOpenEvictedFirst: when the table is full, an ENI at its
// share gives up its oldest half-open flow, never an established one.
func TestSG10_HalfOpenEvictedFirst(t *testing.T) {
	reg := registry(map[GroupID]*Group{1: {Egress: []Rule{allowAll}}})
	table := NewTable(4)
	a := newTracker(reg, table, 1)
	handshake(t, a, ipA, ipX, 1, 443, t0)
	handshake(t, a, ipA, ipX, 2, 443, t0)
	expect(t, "half-open 3", a.Egress(tcpP(ipA, ipX, 3, 443, syn), t0), Allow)
	expect(t, "half-open 4", a.Egress(tcpP(ipA, ipX, 4, 443, syn), t0+sec), Allow)
	expect(t, "5: 3 makes room", a.Egress(tcpP(ipA, ipX, 5, 443, syn), t0+2*sec), Allow)
	expect(t, "3 is gone", a.Ingress(tcpP(ipX, ipA, 443, 3, synAck), t0+2*sec), DropIngress)
	expect(t, "4 is there", a.Ingress(tcpP(ipX, ipA, 443, 4, synAck), t0+2*sec), Allow)
	expect(t, "6: 4 (SYN_RECV) makes room", a.Egress(tcpP(ipA, ipX, 6, 443, syn), t0+2*sec), Allow)
	expect(t, "7: 5 makes room", a.Egress(tcpP(ipA, ipX, 7, 443, syn), t0+2*sec), Allow)
	for _, port := range []uint16{1, 2} {
		expect(t, fmt.Sprint("established ", port), a.Ingress(tcpP(ipX, ipA, 443, port, ack), t0+3*sec), Allow)
	}
	if a.Len() != 4 || table.Len() != 4 || a.Evicted() != 3 || table.Evictions() != 3 {
		t.Fatalf("tracker %d, table %d, evicted %d/%d; want 4, 4, 3, 3", a.Len(), table.Len(), a.Evicted(), table.Evictions())
	}
	// Established flows only: refused.
	handshake(t, a, ipA, ipX, 6, 443, t0+3*sec)
	handshake(t, a, ipA, ipX, 7, 443, t0+3*sec)
	expect(t, "8: nothing half-open", a.Egress(tcpP(ipA, ipX, 8, 443, syn), t0+4*sec), DropConntrackFull)
}

// TestSG10_UnderShareTakesFromTheHog: an ENI under its share takes the slot
// of the ENI most over its share, never of one within it; an ENI at or over
// its share never takes another's.
func TestSG10_UnderShareTakesFromTheHog(t *testing.T) {
	reg := registry(map[GroupID]*Group{1: {Egress: []Rule{allowAll}}})
	table := NewTable(6)
	hog, fair, late := newTracker(reg, table, 1), newTracker(reg, table, 1), newTracker(reg, table, 1)
	for port := uint16(1); port <= 4; port++ {
		handshake(t, hog, ipA, ipX, port, 443, t0) // borrowed: the table had room
	}
	handshake(t, fair, ipB, ipX, 1, 443, t0)
	handshake(t, fair, ipB, ipX, 2, 443, t0)
	if got := table.Share(); got != 3 {
		t.Fatalf("Share() = %d with 2 ENIs holding flows in 6, want 3", got)
	}
	now := t0 + sec
	expect(t, "hog over its share", hog.Egress(tcpP(ipA, ipX, 5, 443, syn), now), DropConntrackFull)
	handshake(t, fair, ipB, ipX, 3, 443, now) // under its share: from the hog
	expect(t, "fair at its share", fair.Egress(tcpP(ipB, ipX, 4, 443, syn), now), DropConntrackFull)
	expect(t, "hog at its share", hog.Egress(tcpP(ipA, ipX, 5, 443, syn), now), DropConntrackFull)
	if hog.Len() != 3 || fair.Len() != 3 || hog.Evicted() != 1 || fair.Evicted() != 0 {
		t.Fatalf("hog %d (evicted %d), fair %d (evicted %d); want 3 (1), 3 (0)", hog.Len(), hog.Evicted(), fair.Len(), fair.Evicted())
	}
	// late makes three: each share is 6/3 = 2. Its first flow comes from
	// the first of the two over it, its second from the other.
	handshake(t, late, ipC, ipX, 1, 443, now)
	handshake(t, late, ipC, ipX, 2, 443, now)
	expect(t, "late at its share", late.Egress(tcpP(ipC, ipX, 3, 443, syn), now), DropConntrackFull)
	if hog.Len() != 2 || fair.Len() != 2 || late.Len() != 2 {
		t.Fatalf("hog %d, fair %d, late %d; want 2, 2, 2", hog.Len(), fair.Len(), late.Len())
	}
	if hog.Evicted() != 2 || fair.Evicted() != 1 || late.Evicted() != 0 || table.Evictions() != 3 {
		t.Fatalf("evicted: hog %d, fair %d, late %d, table %d; want 2, 1, 0, 3", hog.Evicted(), fair.Evicted(), late.Evicted(), table.Evictions())
	}
	// Everyone at its share: nobody takes from anyone.
	for i, tr := range []*Tracker{hog, fair, late} {
		expect(t, fmt.Sprint("ENI ", i, " at its share"), tr.Egress(tcpP(netip.AddrFrom4([4]byte{10, 0, 0, byte(10 + i)}), ipX, 9, 443, syn), now), DropConntrackFull)
	}
}

// TestSG10_SecondChance: taking an assured flow from the hog spares one
// that was used since eviction last looked.
func TestSG10_SecondChance(t *testing.T) {
	reg := registry(map[GroupID]*Group{1: {Egress: []Rule{allowAll}}})
	table := NewTable(4)
	hog, other := newTracker(reg, table, 1), newTracker(reg, table, 1)
	for port := uint16(1); port <= 4; port++ {
		handshake(t, hog, ipA, ipX, port, 443, t0)
	}
	// First eviction: every flow was used, each gets its second chance, the
	// oldest (1) goes.
	handshake(t, other, ipB, ipX, 1, 443, t0+sec)
	expect(t, "1 is gone", hog.Ingress(tcpP(ipX, ipA, 443, 1, ack), t0+sec), DropIngress)
	// 2 is used again; 3 goes next.
	expect(t, "2 used", hog.Egress(tcpP(ipA, ipX, 2, 443, ack), t0+2*sec), Allow)
	handshake(t, other, ipB, ipX, 2, 443, t0+2*sec)
	expect(t, "2 spared", hog.Ingress(tcpP(ipX, ipA, 443, 2, ack), t0+2*sec), Allow)
	expect(t, "3 is gone", hog.Ingress(tcpP(ipX, ipA, 443, 3, ack), t0+2*sec), DropIngress)
	expect(t, "4 stays", hog.Ingress(tcpP(ipX, ipA, 443, 4, ack), t0+2*sec), Allow)
}

// TestSG10_SynFloodDoesNotStarveOthers reproduces issue 10's attack: with a
// table of 3000, one instance sends SYNs at 1000/s for 6 s; each is
// answered (SYN-ACK) and never acknowledged (or not answered at all). The
// other instances must still open flows during and after the flood, to the
// internet and to each other, and the flood must leave the table within
// 120 s. Before the fix the answered SYNs were established (432000 s), the
// table stayed full and every new flow of every ENI was refused.
func TestSG10_SynFloodDoesNotStarveOthers(t *testing.T) {
	for _, answered := range []bool{true, false} {
		t.Run(fmt.Sprint("SG-10 answered=", answered), func(t *testing.T) {
			reg := registry(map[GroupID]*Group{
				1: {Egress: []Rule{allowAll}},                                                                   // clients
				2: {Ingress: []Rule{{Proto: 6, From: 80, To: 80, Prefix: netip.MustParsePrefix("10.0.0.0/8")}}}, // server
			})
			table := NewTable(3000)
			flooder, victim, server := newTracker(reg, table, 1), newTracker(reg, table, 1), newTracker(reg, table, 2)
			ipS := netip.MustParseAddr("10.0.0.20")
			opened := 0
			open := func(now int64) {
				t.Helper()
				opened++
				handshake(t, victim, ipB, ipX, uint16(opened), 443, now) // to the internet
				p := tcpP(ipB, ipS, uint16(opened), 80, syn)             // to the server
				expect(t, "victim SYN to server", victim.Egress(p, now), Allow)
				expect(t, "server takes SYN", server.Ingress(p, now), Allow)
				r := reversed(p, synAck)
				expect(t, "server SYN-ACK", server.Egress(r, now), Allow)
				expect(t, "victim takes SYN-ACK", victim.Ingress(r, now), Allow)
				a := tcpP(ipB, ipS, uint16(opened), 80, ack)
				expect(t, "victim ACK", victim.Egress(a, now), Allow)
				expect(t, "server takes ACK", server.Ingress(a, now), Allow)
			}
			now := t0
			var last int64
			for i := 0; i < 6000; i++ { // 1000/s for 6 s, half to the internet, half to the server
				dst := ipX
				if i%2 == 1 {
					dst = ipS
				}
				p := tcpP(ipA, dst, uint16(1024+i), 80, syn)
				if flooder.Egress(p, now) == Allow && dst == ipS {
					server.Ingress(p, now) // the server's half-open flows
				}
				if answered {
					r := reversed(p, synAck)
					if dst == ipS {
						server.Egress(r, now)
					}
					flooder.Ingress(r, now)
				}
				if i%100 == 0 {
					open(now) // a new connection every 100 ms during the flood
				}
				last = now
				now += sec / 1000
			}
			if table.Len() > 3000 {
				t.Fatalf("table holds %d > 3000", table.Len())
			}
			t.Logf("after the flood: table %d (flooder %d, server %d, victim %d), refused %d, evicted %d",
				table.Len(), flooder.Len(), server.Len(), victim.Len(), table.Refused(), table.Evictions())
			if victim.Evicted() != 0 {
				t.Errorf("the victim lost %d flows", victim.Evicted())
			}
			for port := 1; port <= opened; port++ {
				expect(t, "victim's flows intact", victim.Ingress(tcpP(ipX, ipB, 443, uint16(port), ack), now), Allow)
			}
			// The flood's half-open flows are gone within 120 s of its end.
			expire := last + DefaultTimeouts.TCPSynSent
			expect(t, "the last flood SYN expired", flooder.Ingress(tcpP(ipX, ipA, 80, uint16(1024+5998), synAck), expire), DropIngress)
			for _, tr := range []*Tracker{flooder, server, victim} {
				tr.Sweep(expire)
			}
			if flooder.Len() != 0 || server.Len() != opened || table.Len() != 3*opened {
				t.Fatalf("120 s after the flood: flooder %d, server %d, table %d; want 0, %d, %d",
					flooder.Len(), server.Len(), table.Len(), opened, 3*opened)
			}
			open(expire)
		})
	}
}

// TestSG10_FairnessProperties: random traffic from several ENIs into a
// small table. After every packet the table counts exactly what the
// trackers hold and never more than its bound; a refused flow belongs to
// an ENI that could not make room by the rules (at or over its share with
// nothing half-open, or under it with nobody over theirs and nothing
// half-open); and a flow is only ever taken from an ENI over its share, or
// from the ENI itself.
func TestSG10_FairnessProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 10))
	reg := registry(map[GroupID]*Group{1: {Egress: []Rule{allowAll}}})
	for round := 0; round < 50; round++ {
		table := NewTable(8 + r.IntN(40))
		trk := make([]*Tracker, 2+r.IntN(4))
		for i := range trk {
			trk[i] = newTracker(reg, table, 1)
		}
		now := t0
		var past []Packet
		refused := 0
		for step := 0; step < 3000; step++ {
			i := r.IntN(len(trk))
			if r.IntN(5) == 0 {
				i = 0 // ENI 0 is busier: it borrows, and is taken from
			}
			src := netip.AddrFrom4([4]byte{10, 0, 0, byte(10 + i)})
			var p Packet
			reply := false
			if len(past) > 0 && r.IntN(2) == 0 {
				p = past[r.IntN(len(past))]
				if p.Src != src {
					continue
				}
				if reply = r.IntN(2) == 0; reply {
					p = *reversed(&p, rndPick(r, rndFlags))
				} else {
					p.TCPFlags = rndPick(r, rndFlags)
				}
			} else {
				p = Packet{Src: src, Dst: netip.AddrFrom4([4]byte{192, 0, 2, byte(r.IntN(4))}), Proto: rndPick(r, []uint8{6, 17, 1}),
					SrcPort: uint16(r.IntN(200)), DstPort: 443, TCPFlags: syn, ICMPType: 8, ICMPID: uint16(r.IntN(200))}
				past = append(past, p)
				if len(past) > 64 {
					past = past[1:]
				}
			}
			if r.IntN(10) == 0 {
				now += rndPick(r, rndAdvance) / 1000
			}
			before := make([]int, len(trk))
			evBefore := make([]uint64, len(trk))
			for j, u := range trk {
				before[j], evBefore[j] = u.Len(), u.Evicted()
			}
			share := table.shareFor(trk[i])
			var v Verdict
			if reply {
				v = trk[i].Ingress(&p, now)
			} else {
				v = trk[i].Egress(&p, now)
			}
			sum := 0
			for _, u := range trk {
				sum += u.Len()
			}
			if table.Len() != sum || sum > table.Max() {
				t.Fatalf("round %d step %d: table %d, trackers %d, max %d", round, step, table.Len(), sum, table.Max())
			}
			if v == DropConntrackFull {
				refused++
				hog := table.hog(trk[i], share)
				if trk[i].lists[lHalfOpen].head != nilIdx || (before[i] < int(share) && hog != nil) {
					t.Fatalf("round %d step %d: ENI %d (%d flows, share %d) refused with room to make", round, step, i, before[i], share)
				}
			}
			for j := range trk {
				if j != i && trk[j].Evicted() > evBefore[j] && int64(before[j]) <= share {
					t.Fatalf("round %d step %d: ENI %d within its share (%d ≤ %d) lost a flow to ENI %d", round, step, j, before[j], share, i)
				}
			}
		}
		if round == 0 {
			t.Logf("round 0: %d ENIs, table %d: %d refused, %d evicted", len(trk), table.Max(), refused, table.Evictions())
		}
	}
}

// TestSG10_ConcurrentEviction: several ENIs, two workers each, flood a
// small table at once, so that ENIs take slots from each other while their
// own workers add and remove flows (run with -race). Nothing deadlocks, and
// at the end the table counts exactly what the trackers hold.
func TestSG10_ConcurrentEviction(t *testing.T) {
	reg := registry(map[GroupID]*Group{1: {Egress: []Rule{allowAll}}})
	table := NewTable(64)
	trk := make([]*Tracker, 4)
	for i := range trk {
		trk[i] = newTracker(reg, table, 1)
	}
	done := make(chan struct{})
	for w := 0; w < 2*len(trk); w++ {
		go func(w int) {
			defer func() { done <- struct{}{} }()
			tr := trk[w%len(trk)]
			r := rand.New(rand.NewPCG(uint64(w), 3))
			src := netip.AddrFrom4([4]byte{10, 0, 0, byte(10 + w%len(trk))})
			for i := 0; i < 20000; i++ {
				p := tcpP(src, ipX, uint16(r.IntN(4000)), 443, syn)
				now := t0 + int64(i)*sec/1000
				tr.Egress(p, now)
				if r.IntN(2) == 0 {
					tr.Ingress(reversed(p, synAck), now)
					tr.Egress(tcpP(src, ipX, p.SrcPort, 443, ack), now)
				}
				if w == 0 && i == 10000 {
					trk[3].Close() // an ENI goes while the others race
				}
			}
		}(w)
	}
	for range 2 * len(trk) {
		<-done
	}
	sum := 0
	for _, tr := range trk {
		sum += tr.Len()
	}
	if table.Len() != sum || sum > table.Max() || trk[3].Len() != 0 {
		t.Fatalf("table %d, trackers %d (closed one %d), max %d", table.Len(), sum, trk[3].Len(), table.Max())
	}
	t.Logf("table %d/%d, evictions %d, refused %d", table.Len(), table.Max(), table.Evictions(), table.Refused())
}
