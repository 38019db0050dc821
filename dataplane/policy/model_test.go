package policy

// A deliberately simple reference model of vpc-semantics.md (SG-1..SG-9,
// NACL-1..NACL-2), and a randomized test that feeds the same packet sequences
// to the fast path (Tracker.Egress/Ingress, ACL.Check) and to the model.
//
// The model keeps every flow it ever tracked in a slice and scans it; an
// expired flow is simply ignored (SG-6). Rules are scanned straight from the
// Group values, NACL rules by "the matching rule with the lowest number wins"
// rather than by sorting. Nothing is cached. A flow keeps the whole history
// of its packets, and its state is read off that history by the sentences
// of SG-6 rather than kept as a state machine:
//   - TCP: established once the opener acknowledged (ACK without SYN) after
//     an answer (SYN, SYN-ACK, ACK); closed by any RST or by FIN both ways;
//     closed: TCPClosed; established: TCPEstablished (a FIN one way is a
//     half-close); answered: TCPSynRecv; else TCPSynSent. A SYN without ACK
//     on a closed flow starts a new one.
//   - UDP: a stream (UDPStream) once its packets changed direction three
//     times (two request-response transactions), else UDP.
//   - ICMP and other protocols: Other.
//   - SG-8 traffic to and from the resolver is allowed and not tracked.
//   - SG-9: a TCP or UDP packet is not tracked when a 0.0.0.0/0 rule of its
//     direction allows it and the other direction has a 0.0.0.0/0 rule for
//     all ports of its protocol, or when its direction has such an all-ports
//     rule and a 0.0.0.0/0 rule of the other direction allows its reverse.
//
// Where the contract leaves room and the implementation made a choice, the
// model follows the implementation (documented at the top of track.go): a
// flow is keyed in its original direction; packets in that direction
// continue it, packets in the reverse direction are replies; an ICMP query
// is answered only by its reply type.
//
// The table is never full here: TestSG10_* cover fairness and eviction.

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// ---- reference model ----------------------------------------------------

// mMatchL4 is SG-3's protocol / port range / ICMP type+code match, shared by
// SG rules and NACL rules.
func mMatchL4(proto int16, from, to int32, p *Packet) bool {
	if proto == -1 { // all protocols, all ports
		return true
	}
	if int(proto) != int(p.Proto) {
		return false
	}
	switch p.Proto {
	case 6, 17: // destination port in [from, to]; Any: all ports
		return from == Any || (int32(p.DstPort) >= from && int32(p.DstPort) <= to)
	case 1: // type == from (Any: any type), code == to (Any: any code)
		typeOK := from == Any || int32(p.ICMPType) == from
		codeOK := to == Any || int32(p.ICMPCode) == to
		return typeOK && codeOK
	default:
		return true
	}
}

func mIsICMPQuery(t uint8) bool { return t == 0 || t == 8 || t == 13 || t == 14 }

// mICMPPartner is the type that answers (or is answered by) t.
func mICMPPartner(t uint8) uint8 {
	switch t {
	case 8:
		return 0
	case 0:
		return 8
	case 13:
		return 14
	case 14:
		return 13
	}
	return 255
}

// mKey identifies a tracked flow in its original direction (SG-4).
type mKey struct {
	src, dst     netip.Addr
	sport, dport uint16
	proto        uint8
	query        bool  // an ICMP query flow
	itype        uint8 // its ICMP type
}

func (m *model) keyOf(p *Packet) mKey {
	k := mKey{src: p.Src, dst: p.Dst, proto: p.Proto}
	switch {
	case p.Proto == 6 || p.Proto == 17: // 5-tuple
		k.sport, k.dport = p.SrcPort, p.DstPort
	case p.Proto == 1 && mIsICMPQuery(p.ICMPType): // ICMP query: by id and type
		k.sport, k.dport = p.ICMPID, p.ICMPID
		k.query, k.itype = true, p.ICMPType
	}
	return k
}

func (k mKey) reverse() mKey {
	r := mKey{src: k.dst, dst: k.src, sport: k.dport, dport: k.sport, proto: k.proto, query: k.query, itype: k.itype}
	if k.query {
		r.itype = mICMPPartner(k.itype)
	}
	return r
}

// mEvent is one packet of a flow: its direction and TCP flags.
type mEvent struct {
	orig  bool
	flags uint8
}

type mFlow struct {
	key     mKey
	egress  bool // the ENI sent the first packet
	history []mEvent
	expires int64
}

// TCP reading of a flow's history.
func (f *mFlow) tcpClosed() bool {
	var rst, finO, finR bool
	for _, e := range f.history {
		switch {
		case e.flags&0x04 != 0:
			rst = true
		case e.flags&0x01 != 0 && e.orig:
			finO = true
		case e.flags&0x01 != 0:
			finR = true
		}
	}
	return rst || (finO && finR)
}

func (f *mFlow) tcpAnswered() bool {
	for _, e := range f.history {
		if !e.orig && e.flags&0x04 == 0 {
			return true
		}
	}
	return false
}

func (f *mFlow) tcpEstablished(mutant string) bool {
	answered := false
	for _, e := range f.history {
		if e.flags&0x04 != 0 {
			continue
		}
		if !e.orig {
			answered = true
			if mutant == "established-on-synack" {
				return true
			}
		} else if answered && e.flags&0x10 != 0 && e.flags&0x02 == 0 {
			return true
		}
	}
	return false
}

// turns counts how often the flow changed direction.
func (f *mFlow) turns() int {
	n := 0
	for i := 1; i < len(f.history); i++ {
		if f.history[i].orig != f.history[i-1].orig {
			n++
		}
	}
	return n
}

type mENI struct {
	groups   []GroupID
	timeouts Timeouts
	flows    []*mFlow
}

type model struct {
	groups   map[GroupID]*Group
	resolver netip.Addr
	enis     []*mENI

	mutant string // deliberate bugs, to show the harness can fail
}

func (m *model) alive(f *mFlow, now int64) bool {
	if m.mutant == "expiry-inclusive" {
		return now <= f.expires
	}
	return now < f.expires
}

// check decides p for ENI e: egress (e sends) or ingress (e receives).
func (m *model) check(e *mENI, p Packet, now int64, egress bool) Verdict {
	k := m.keyOf(&p)
	// SG-4 / SG-5: a live tracked flow passes whatever the rules say.
	for _, f := range e.flows {
		if !m.alive(f, now) {
			continue // SG-6: an expired flow is gone
		}
		orig := f.key == k && f.egress == egress
		if !orig && !(f.key == k.reverse() && f.egress != egress) {
			continue
		}
		if f.key.proto == 6 && f.tcpClosed() && p.TCPFlags&0x12 == 0x02 && m.mutant != "no-reopen" {
			f.expires = now // a new SYN on a closed flow: a new flow
			rndCover["tcp-reopened"]++
			break
		}
		if orig && m.mutant == "recheck-tracked" && !m.sgAllows(e, egress, &p) {
			break
		}
		m.touch(e, f, &p, now, orig)
		return Allow
	}
	// SG-8: the resolver is never blocked.
	if m.mutant != "no-resolver" && m.resolver.IsValid() &&
		((egress && p.Dst == m.resolver) || (!egress && p.Src == m.resolver)) {
		return Allow
	}
	if !m.sgAllows(e, egress, &p) {
		if egress {
			return DropEgress
		}
		return DropIngress
	}
	if m.untracked(e, egress, &p) {
		rndCover["untracked"]++
		return Allow // SG-9
	}
	f := &mFlow{key: k, egress: egress}
	e.flows = append(e.flows, f)
	m.touch(e, f, &p, now, true)
	return Allow
}

// sgAllows: SG-1 rules only allow; SG-2 union over the ENI's groups; SG-3
// peer is a CIDR or a group's members. Egress matches the destination,
// ingress the source.
func (m *model) sgAllows(e *mENI, egress bool, p *Packet) bool {
	for _, r := range m.rules(e, egress) {
		if mMatchL4(r.Proto, r.From, r.To, p) && m.peerMatches(r, egress, p) {
			return true
		}
	}
	return false
}

func (m *model) rules(e *mENI, egress bool) []Rule {
	var out []Rule
	for _, id := range e.groups {
		g, ok := m.groups[id]
		if !ok || g == nil {
			continue
		}
		if egress {
			out = append(out, g.Egress...)
		} else {
			out = append(out, g.Ingress...)
		}
	}
	return out
}

func (m *model) peerMatches(r Rule, egress bool, p *Packet) bool {
	peer := p.Src
	if egress {
		peer = p.Dst
	}
	if r.Group != 0 {
		pg, ok := m.groups[r.Group]
		if !ok || pg == nil {
			return false
		}
		_, member := pg.Members[peer]
		return member
	}
	return r.Prefix.IsValid() && r.Prefix.Contains(peer)
}

// world: a rule whose peer is every IPv4 address.
func world(r Rule) bool {
	return r.Group == 0 && r.Prefix == netip.MustParsePrefix("0.0.0.0/0")
}

// untracked is SG-9 for a packet its direction's rules allow.
func (m *model) untracked(e *mENI, egress bool, p *Packet) bool {
	if m.mutant == "track-everything" || (p.Proto != 6 && p.Proto != 17) {
		return false
	}
	worldAllows := func(egress bool, q *Packet) bool {
		for _, r := range m.rules(e, egress) {
			if world(r) && mMatchL4(r.Proto, r.From, r.To, q) {
				return true
			}
		}
		return false
	}
	allPorts := func(egress bool) bool {
		for _, r := range m.rules(e, egress) {
			if world(r) && (r.Proto == -1 || (int(r.Proto) == int(p.Proto) && (r.From == Any || (r.From <= 0 && r.To >= 65535)))) {
				return true
			}
		}
		return false
	}
	answered := *p
	answered.SrcPort, answered.DstPort = p.DstPort, p.SrcPort
	opens := worldAllows(egress, p) && allPorts(!egress)
	answers := allPorts(egress) && worldAllows(!egress, &answered)
	if m.mutant == "sg9-opening-only" {
		return opens
	}
	return opens || answers
}

// touch records packet p on flow f and restarts its idle timer (SG-6).
func (m *model) touch(e *mENI, f *mFlow, p *Packet, now int64, orig bool) {
	f.history = append(f.history, mEvent{orig: orig, flags: p.TCPFlags})
	to := e.timeouts
	var idle int64
	switch f.key.proto {
	case 6:
		switch {
		case f.tcpClosed():
			idle = to.TCPClosed
			rndCover["tcp-closed"]++
		case f.tcpEstablished(m.mutant):
			idle = to.TCPEstablished
			rndCover["tcp-established"]++
		case f.tcpAnswered():
			idle = to.TCPSynRecv
			rndCover["tcp-syn-recv"]++
		default:
			idle = to.TCPSynSent
		}
	case 17:
		idle = to.UDP
		stream := f.turns() >= 3
		if m.mutant == "udp-stream-on-reply" {
			stream = f.turns() >= 1
		}
		if stream && m.mutant != "udp-no-stream" {
			idle = to.UDPStream
			rndCover["udp-stream"]++
		} else if f.turns() > 0 {
			rndCover["udp-answered"]++
		}
	default:
		idle = to.Other
	}
	f.expires = now + idle
}

func (m *model) liveFlows(e *mENI, now int64) int {
	n := 0
	for _, f := range e.flows {
		if m.alive(f, now) {
			n++
		}
	}
	return n
}

func (m *model) prune(e *mENI, now int64) {
	live := e.flows[:0]
	for _, f := range e.flows {
		if m.alive(f, now) {
			live = append(live, f)
		}
	}
	clear(e.flows[len(live):])
	e.flows = live
}

// mACL is NACL-2: the matching rule with the lowest number decides; none
// matching is the implicit deny. NACL-1: no state at all.
type mACL struct {
	ingress, egress []ACLRule
	mutant          string
}

func (a *mACL) check(egress bool, p *Packet) (bool, int) {
	rules, remote := a.ingress, p.Src
	if egress {
		rules, remote = a.egress, p.Dst
	}
	best := -1
	for i, r := range rules {
		if !mMatchL4(r.Proto, r.From, r.To, p) || !r.Prefix.IsValid() || !r.Prefix.Contains(remote) {
			continue
		}
		better := best < 0 || r.Number < rules[best].Number
		if a.mutant == "nacl-last-match" {
			better = best < 0 || r.Number > rules[best].Number
		}
		if better {
			best = i
		}
	}
	if best < 0 {
		return false, ImplicitDeny
	}
	return rules[best].Allow, rules[best].Number
}

// ---- random worlds --------------------------------------------------------

var (
	rndENIs = []netip.Addr{
		netip.MustParseAddr("10.0.0.10"), netip.MustParseAddr("10.0.0.11"),
		netip.MustParseAddr("10.0.0.12"), netip.MustParseAddr("10.0.1.20"),
	}
	rndOutside = []netip.Addr{
		netip.MustParseAddr("10.0.1.5"), netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("198.51.100.1"),
	}
	rndResolver = netip.MustParseAddr("10.0.0.2")
	rndPrefixes = []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("10.0.0.0/16"), netip.MustParsePrefix("10.0.0.0/24"),
		netip.MustParsePrefix("10.0.0.10/32"), netip.MustParsePrefix("10.0.0.8/30"), netip.MustParsePrefix("192.0.2.0/24"),
		netip.MustParsePrefix("10.0.1.0/24"), {},
	}
	rndPorts   = []uint16{22, 53, 80, 443, 1000, 1500, 2000, 32768, 40000, 60999, 65535, 0}
	rndProtos  = []uint8{6, 17, 1, 47}
	rndICMP    = []uint8{0, 3, 8, 11, 13, 14}
	rndFlags   = []uint8{0x02, 0x12, 0x10, 0x11, 0x01, 0x04, 0x14, 0x18, 0}
	rndNumbers = []int{1, 2, 50, 99, 100, 101, 200, 1000, 32765, 32766}
	rndAdvance = []int64{1e6, 5e8, 9e9, 10e9, 11e9, 29e9, 30e9, 31e9, 59e9, 60e9, 119e9, 120e9, 121e9,
		179e9, 180e9, 181e9, 599e9, 600e9, 601e9, 432000e9, 432001e9}
)

func rndPick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

func rndL4(r *rand.Rand) (proto int16, from, to int32) {
	switch r.IntN(6) {
	case 0:
		return -1, Any, Any
	case 1, 2:
		proto = int16(rndPick(r, []uint8{6, 17}))
		if r.IntN(4) == 0 {
			return proto, Any, Any
		}
		a, b := int32(rndPick(r, rndPorts)), int32(rndPick(r, rndPorts))
		if r.IntN(3) == 0 {
			b = a
		}
		if a > b {
			a, b = b, a
		}
		return proto, a, b
	case 3, 4:
		from, to = Any, Any
		if r.IntN(2) == 0 {
			from = int32(rndPick(r, rndICMP))
		}
		if r.IntN(2) == 0 {
			to = int32(r.IntN(2))
		}
		return 1, from, to
	default:
		return 47, Any, Any
	}
}

func rndRule(r *rand.Rand, ngroups int) Rule {
	p, f, t := rndL4(r)
	rule := Rule{Proto: p, From: f, To: t}
	if r.IntN(3) == 0 {
		rule.Group = GroupID(1 + r.IntN(ngroups+1)) // ngroups+1 does not exist
	} else {
		rule.Prefix = rndPick(r, rndPrefixes)
	}
	return rule
}

func rndGroups(r *rand.Rand, ngroups int) map[GroupID]*Group {
	m := map[GroupID]*Group{}
	for id := 1; id <= ngroups; id++ {
		g := &Group{Members: map[netip.Addr]struct{}{}}
		for range r.IntN(5) {
			g.Ingress = append(g.Ingress, rndRule(r, ngroups))
		}
		for range r.IntN(4) {
			g.Egress = append(g.Egress, rndRule(r, ngroups))
		}
		if r.IntN(3) == 0 { // SG-1's default egress
			g.Egress = append(g.Egress, Rule{Proto: -1, From: Any, To: Any, Prefix: netip.MustParsePrefix("0.0.0.0/0")})
		}
		for _, a := range append(append([]netip.Addr{}, rndENIs...), rndOutside[0]) {
			if r.IntN(3) == 0 {
				g.Members[a] = struct{}{}
			}
		}
		m[GroupID(id)] = g
	}
	return m
}

func rndMembership(r *rand.Rand, ngroups int) []GroupID {
	var ids []GroupID
	for range r.IntN(4) {
		ids = append(ids, GroupID(1+r.IntN(ngroups+1)))
	}
	return ids
}

func rndACLRules(r *rand.Rand) []ACLRule {
	var rules []ACLRule
	used := map[int]bool{}
	for range r.IntN(7) {
		n := rndPick(r, rndNumbers)
		if r.IntN(3) == 0 {
			n = 1 + r.IntN(32766)
		}
		if used[n] {
			continue // NACL-2: numbers are unique
		}
		used[n] = true
		p, f, t := rndL4(r)
		rules = append(rules, ACLRule{Number: n, Proto: p, From: f, To: t, Prefix: rndPick(r, rndPrefixes), Allow: r.IntN(3) != 0})
	}
	return rules
}

func rndTimeouts(r *rand.Rand) Timeouts {
	to := DefaultTimeouts
	to.TCPEstablished = int64(60+r.IntN(432000-60+1)) * 1e9
	to.UDPStream = int64(60+r.IntN(121)) * 1e9
	to.UDP = int64(30+r.IntN(31)) * 1e9
	return to
}

func rndPacket(r *rand.Rand) Packet {
	var p Packet
	switch r.IntN(6) {
	case 0, 1: // ENI to ENI
		i := r.IntN(len(rndENIs))
		j := (i + 1 + r.IntN(len(rndENIs)-1)) % len(rndENIs)
		p.Src, p.Dst = rndENIs[i], rndENIs[j]
	case 2:
		p.Src, p.Dst = rndPick(r, rndENIs), rndPick(r, rndOutside)
	case 3:
		p.Src, p.Dst = rndPick(r, rndOutside), rndPick(r, rndENIs)
	case 4:
		p.Src, p.Dst = rndPick(r, rndENIs), rndResolver
	default:
		p.Src, p.Dst = rndResolver, rndPick(r, rndENIs)
	}
	p.Proto = rndPick(r, rndProtos)
	switch p.Proto {
	case 6, 17:
		p.SrcPort, p.DstPort = rndPick(r, rndPorts), rndPick(r, rndPorts)
		if r.IntN(2) == 0 {
			p.SrcPort = uint16(32768 + r.IntN(4))
		}
		if p.Proto == 6 {
			p.TCPFlags = rndPick(r, rndFlags)
		}
	case 1:
		p.ICMPType, p.ICMPCode = rndPick(r, rndICMP), uint8(r.IntN(2))
		p.ICMPID = uint16(1 + r.IntN(3))
	}
	p.Len = 64
	return p
}

func reply(r *rand.Rand, p Packet) Packet {
	q := p
	q.Src, q.Dst = p.Dst, p.Src
	q.SrcPort, q.DstPort = p.DstPort, p.SrcPort
	if p.Proto == 1 {
		if t := mICMPPartner(p.ICMPType); t != 255 && r.IntN(5) != 0 {
			q.ICMPType = t
		}
	}
	if p.Proto == 6 {
		q.TCPFlags = rndPick(r, rndFlags)
	}
	return q
}

func eniIndex(a netip.Addr) int {
	for i, e := range rndENIs {
		if e == a {
			return i
		}
	}
	return -1
}

// runRandom plays seqs random sequences of steps steps each and returns the
// first difference between the fast path and the model.
func runRandom(seed uint64, seqs, steps int, configure func(*model, *mACL)) error {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	const ngroups = 5
	for seq := 0; seq < seqs; seq++ {
		reg := NewGroups()
		table := NewTable(1 << 20) // never full here: TestConntrackFull covers fullness
		m := &model{resolver: rndResolver}
		ma := &mACL{}
		configure(m, ma)
		groups := rndGroups(r, ngroups)
		reg.Replace(groups)
		m.groups = groups
		trk := make([]*Tracker, len(rndENIs))
		for i := range rndENIs {
			to := DefaultTimeouts
			if r.IntN(4) == 0 {
				to = rndTimeouts(r)
			}
			trk[i] = NewTracker(reg, table, to, rndResolver)
			ids := rndMembership(r, ngroups)
			trk[i].SetGroups(ids)
			m.enis = append(m.enis, &mENI{groups: ids, timeouts: to})
		}
		ma.ingress, ma.egress = rndACLRules(r), rndACLRules(r)
		acl := NewACL(ma.ingress, ma.egress)

		now := int64(1_000_000e9) + r.Int64N(1e12)
		var past []Packet
		for step := 0; step < steps; step++ {
			fail := func(format string, args ...any) error {
				return fmt.Errorf("seed %d seq %d step %d: %s", seed, seq, step, fmt.Sprintf(format, args...))
			}
			var p Packet
			switch a := r.IntN(100); {
			case a < 35 || len(past) == 0:
				p = rndPacket(r)
			case a < 60:
				p = reply(r, rndPick(r, past))
			case a < 80:
				p = rndPick(r, past)
				if p.Proto == 6 {
					p.TCPFlags = rndPick(r, rndFlags)
				}
			case a < 90:
				now += rndPick(r, rndAdvance)
				continue
			case a < 93: // SG-5: rule and member edits
				groups = rndGroups(r, ngroups)
				reg.Replace(groups)
				m.groups = groups
				continue
			case a < 96:
				i := r.IntN(len(trk))
				ids := rndMembership(r, ngroups)
				trk[i].SetGroups(ids)
				m.enis[i].groups = ids
				continue
			case a < 99: // a NACL edit is a new ACL
				ma.ingress, ma.egress = rndACLRules(r), rndACLRules(r)
				acl = NewACL(ma.ingress, ma.egress)
				continue
			default:
				i := r.IntN(len(trk))
				to := rndTimeouts(r)
				trk[i].SetTimeouts(to)
				m.enis[i].timeouts = to
				continue
			}
			if r.IntN(3) == 0 {
				now += r.Int64N(3e9)
			}
			past = append(past, p)
			if len(past) > 24 {
				past = past[1:]
			}

			// NACL-1: both lists, every packet.
			for _, eg := range []bool{true, false} {
				got, gotRule := acl.Check(eg, &p)
				want, wantRule := ma.check(eg, &p)
				if got != want || gotRule != wantRule {
					return fail("ACL.Check(egress=%v, %+v) = %v rule %d; model %v rule %d", eg, p, got, gotRule, want, wantRule)
				}
			}
			// SG-2: the sender's egress, then the receiver's ingress.
			if i := eniIndex(p.Src); i >= 0 {
				got := trk[i].Egress(&p, now)
				want := m.check(m.enis[i], p, now, true)
				rndStats[got]++
				if got != want {
					return fail("eni %d Egress(%+v) = %v; model %v", i, p, got, want)
				}
				if got != Allow {
					continue
				}
			}
			if j := eniIndex(p.Dst); j >= 0 {
				got := trk[j].Ingress(&p, now)
				want := m.check(m.enis[j], p, now, false)
				rndStats[got]++
				if got != want {
					return fail("eni %d Ingress(%+v) = %v; model %v", j, p, got, want)
				}
			}
			for _, e := range m.enis {
				if len(e.flows) > 64 {
					m.prune(e, now)
				}
			}
		}
		// The table counts what the trackers hold, and what is alive
		// agrees with the model.
		sum := 0
		for i, t := range trk {
			sum += t.Len()
			live := 0
			for _, n := range t.nodes {
				if n.list != lFree && n.expires > now {
					live++
				}
			}
			if want := m.liveFlows(m.enis[i], now); live != want {
				return fmt.Errorf("seed %d seq %d: eni %d has %d live flows; model %d", seed, seq, i, live, want)
			}
		}
		if table.Len() != sum {
			return fmt.Errorf("seed %d seq %d: table.Len() = %d, trackers hold %d", seed, seq, table.Len(), sum)
		}
	}
	return nil
}

// rndStats counts the fast path's verdicts, so a run shows it exercised
// both outcomes.
var rndStats [4]int

// rndCover counts the model's cases, so a run shows it reached each.
var rndCover = map[string]int{}

// TestRandomAgainstModel: SG-1..SG-9 and NACL-1..NACL-2, fast path against
// the reference model on random groups, memberships, NACLs and traffic.
func TestRandomAgainstModel(t *testing.T) {
	seeds := []uint64{1, 2, 3, 0xdecafbad, 20240601}
	seqs := 4000
	if testing.Short() {
		seqs = 100
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			rndStats, rndCover = [4]int{}, map[string]int{}
			if err := runRandom(seed, seqs, 150, func(*model, *mACL) {}); err != nil {
				t.Fatal(err)
			}
			t.Logf("verdicts: allow %d, drop egress %d, drop ingress %d", rndStats[Allow], rndStats[DropEgress], rndStats[DropIngress])
			t.Logf("cases: %v", rndCover)
			if rndStats[Allow] == 0 || rndStats[DropEgress] == 0 || rndStats[DropIngress] == 0 {
				t.Fatal("the random traffic did not exercise every verdict")
			}
			for _, c := range []string{"untracked", "tcp-established", "tcp-syn-recv", "tcp-closed", "tcp-reopened", "udp-stream", "udp-answered"} {
				if rndCover[c] == 0 {
					t.Errorf("the random traffic never reached %s", c)
				}
			}
		})
	}
}

// TestModelCatchesMutants shows the randomized test can fail: each
// deliberately wrong model variant is told apart from the fast path.
func TestModelCatchesMutants(t *testing.T) {
	for _, mut := range []string{"expiry-inclusive", "recheck-tracked", "no-resolver", "udp-no-stream", "nacl-last-match",
		"udp-stream-on-reply", "established-on-synack", "no-reopen", "track-everything", "sg9-opening-only"} {
		t.Run(mut, func(t *testing.T) {
			err := runRandom(7, 300, 120, func(m *model, a *mACL) { m.mutant, a.mutant = mut, mut })
			if err == nil {
				t.Fatalf("mutant %q not detected", mut)
			}
			t.Logf("detected: %v", err)
		})
	}
}
