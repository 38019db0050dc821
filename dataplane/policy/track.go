package policy

// Connection tracking (SG-4..SG-6, SG-9, SG-10), built the way a kernel's
// conntrack is, with AWS's timeouts:
//
//   - TCP is established only when the handshake completes: the opener
//     speaks (SYN_SENT, 120 s), the peer answers (SYN_RECV, 60 s), the opener
//     acknowledges the answer (ESTABLISHED, 432000 s by default). A FIN one
//     way is a half-close and keeps the established timeout; RST, or FIN
//     both ways, closes the flow (CLOSE, 10 s: time for the last ACK and a
//     retransmitted FIN; TIME_WAIT is the endpoints' business). A SYN
//     without ACK on a closed flow starts a new flow, judged by the rules.
//   - UDP is a "stream" (180 s) once the flow has changed direction three
//     times: request, reply, request, reply, i.e. more than one
//     request-response transaction. Before that, one direction or one
//     request and its reply, it gets the short timeout (30 s).
//   - ICMP queries and other protocols: 600 s from the last packet.
//
// SG-10: the table is shared by every ENI, and fair. A flow is "assured"
// when its peer has cooperated (TCP established, UDP stream, ICMP and other
// protocols answered); every other flow (half-open TCP, closed TCP,
// unanswered or single-transaction UDP) is "half-open" and goes first under
// pressure. Each ENI's share is the table's bound divided by the number of
// ENIs holding flows (the asking one included). While the table has room
// any ENI may hold more than its share. When it is full, a new flow is
// admitted only by making room, with bounded work:
//
//  1. the ENI's own expired flows are swept, at most once a second;
//  2. an ENI under its share takes the slot of the ENI most over its share:
//     that ENI's oldest half-open flow, else one of its assured flows (the
//     oldest not used since the last look, after at most 8 second chances);
//  3. otherwise (at or over its share, or nobody is over theirs) the ENI
//     gives up its own oldest half-open flow;
//  4. if it has none, the new flow is refused (DropConntrackFull).
//
// So a flooder never displaces another ENI's flows: it only recycles its
// own half-open ones, and whatever it borrowed beyond its share goes back
// to an ENI under its share that asks. Its half-open flows die within 120 s
// anyway.

import (
	"net/netip"
	"sync"
	"sync/atomic"
)

// Verdict is the outcome of a security-group check.
type Verdict uint8

const (
	Allow             Verdict = iota
	DropEgress                // SG-2: no egress rule of the sender allows it
	DropIngress               // SG-2: no ingress rule of the receiver allows it
	DropConntrackFull         // SG-4, SG-10: the table is full and this ENI may not make room
)

// Timeouts are tracked-flow idle timeouts in nanoseconds (SG-6).
type Timeouts struct {
	TCPEstablished int64 // 432000 s, settable 60–432000: the handshake completed
	UDPStream      int64 // 180 s, settable 60–180: more than one request-response transaction
	UDP            int64 // 30 s, settable 30–60: one direction, or one request and its reply
	Other          int64 // 600 s: ICMP and other protocols
	TCPSynSent     int64 // 120 s: only the opener has spoken (the kernel's SYN_SENT)
	TCPSynRecv     int64 // 60 s: the peer answered, the opener has not acknowledged (SYN_RECV)
	TCPClosed      int64 // 10 s: RST, or FIN both ways (the kernel's CLOSE)
}

// DefaultTimeouts are AWS's defaults (SG-6); the half-open and closed TCP
// timeouts, which AWS does not publish, are Linux conntrack's.
var DefaultTimeouts = Timeouts{
	TCPEstablished: 432000e9, UDPStream: 180e9, UDP: 30e9, Other: 600e9,
	TCPSynSent: 120e9, TCPSynRecv: 60e9, TCPClosed: 10e9,
}

// maxTable bounds a table so that slab indices fit an int32.
const maxTable = 1 << 30

// Table bounds the number of tracked flows across every Tracker that shares
// it (SG-4) and shares it fairly among them (SG-10, see the notes above).
// All fields are atomics except trackers' writers, which hold mu.
type Table struct {
	max       int64
	count     atomic.Int64  // flows held by all trackers, plus slots being handed over
	active    atomic.Int64  // trackers holding at least one flow
	full      atomic.Uint64 // new flows refused because the table was full
	evictions atomic.Uint64 // live flows evicted to make room

	mu       sync.Mutex                 // serializes changes to trackers
	trackers atomic.Pointer[[]*Tracker] // every open tracker; copied on change
}

// NewTable returns a table for at most max flows (0: 262144).
func NewTable(max int) *Table {
	if max <= 0 {
		max = 262144
	}
	if max > maxTable {
		max = maxTable
	}
	t := &Table{max: int64(max)}
	t.trackers.Store(&[]*Tracker{})
	return t
}

// Len returns the number of tracked flows; Refused the flows refused when
// full; Evictions the live flows evicted to make room for others.
func (t *Table) Len() int          { return int(t.count.Load()) }
func (t *Table) Refused() uint64   { return t.full.Load() }
func (t *Table) Evictions() uint64 { return t.evictions.Load() }
func (t *Table) Max() int          { return int(t.max) }

// Share is each ENI's fair share of the table now: its bound divided by the
// number of ENIs holding flows (SG-10).
func (t *Table) Share() int {
	a := t.active.Load()
	if a < 1 {
		a = 1
	}
	return int(max(t.max/a, 1))
}

// shareFor is the share of tr, counting tr among the active trackers even
// if it holds nothing yet.
func (t *Table) shareFor(tr *Tracker) int64 {
	a := t.active.Load()
	if tr.n.Load() == 0 {
		a++
	}
	return max(t.max/max(a, 1), 1)
}

// take reserves a slot if the table has room.
func (t *Table) take() bool {
	for {
		c := t.count.Load()
		if c >= t.max {
			return false
		}
		if t.count.CompareAndSwap(c, c+1) {
			return true
		}
	}
}

// hog returns the tracker other than self that holds the most flows, if it
// holds more than share.
func (t *Table) hog(self *Tracker, share int64) *Tracker {
	var best *Tracker
	most := share
	for _, u := range *t.trackers.Load() {
		if n := u.n.Load(); u != self && n > most {
			best, most = u, n
		}
	}
	return best
}

func (t *Table) register(tr *Tracker) {
	t.mu.Lock()
	old := *t.trackers.Load()
	s := make([]*Tracker, len(old), len(old)+1)
	copy(s, old)
	s = append(s, tr)
	t.trackers.Store(&s)
	t.mu.Unlock()
}

func (t *Table) deregister(tr *Tracker) {
	t.mu.Lock()
	old := *t.trackers.Load()
	s := make([]*Tracker, 0, len(old))
	for _, u := range old {
		if u != tr {
			s = append(s, u)
		}
	}
	t.trackers.Store(&s)
	t.mu.Unlock()
}

// key is a flow in its original direction. 16 bytes.
//
// out is the direction the packet crossed the ENI (egress), so that an ENI
// forwarding traffic (source/dest check off) tracks the inbound and the
// outbound leg as two flows. itype is an ICMP query's type plus one (0 for
// everything else), so that only an echo reply answers an echo request.
type key struct {
	src, dst [4]byte
	sport    uint16
	dport    uint16
	proto    uint8
	out      bool
	itype    uint8
}

// reverse is the key a reply to k has.
func (k key) reverse() key {
	return key{src: k.dst, dst: k.src, sport: k.dport, dport: k.sport, proto: k.proto, out: !k.out, itype: icmpReply[k.itype]}
}

// icmpReply maps a query type+1 to the type+1 answering it: echo 8 ↔ echo
// reply 0, timestamp 13 ↔ timestamp reply 14.
var icmpReply = [256]uint8{8 + 1: 0 + 1, 0 + 1: 8 + 1, 13 + 1: 14 + 1, 14 + 1: 13 + 1}

// keyOf builds the key of p as it travels. TCP and UDP use ports; ICMP
// queries use the id on both sides, so a reply's reverse key is the
// request's (SG-4); other protocols use the address pair only.
func keyOf(p *Packet) key {
	k := key{src: p.Src.As4(), dst: p.Dst.As4(), proto: p.Proto}
	switch p.Proto {
	case 6, 17:
		k.sport, k.dport = p.SrcPort, p.DstPort
	case 1:
		if isICMPQuery(p.ICMPType) {
			k.sport, k.dport, k.itype = p.ICMPID, p.ICMPID, p.ICMPType+1
		}
	}
	return k
}

func isICMPQuery(t uint8) bool { return t == 0 || t == 8 || t == 13 || t == 14 }

// TCP flags.
const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpACK = 0x10
)

// node flags: what a flow has seen.
const (
	fReplied     uint8 = 1 << iota // a packet other than RST went the reply way
	fEstablished                   // TCP: the opener acknowledged an answer
	fFinOrig                       // TCP: FIN from the opener
	fFinReply                      // TCP: FIN from the peer
	fClosed                        // TCP: RST, or FIN both ways
	fLastReply                     // UDP: the last packet went the reply way
	fUsed                          // a packet since eviction last looked (second chance)
)

// udpStreamTurns is how many times a UDP flow changes direction before it
// is a stream (SG-6): request, reply, request, reply.
const udpStreamTurns = 3

// secondChances bounds how many recently used assured flows eviction passes
// over before it takes one anyway.
const secondChances = 8

// lists a node can be on.
const (
	lHalfOpen uint8 = iota // evicted first (SG-10)
	lAssured
	lFree
)

const nilIdx int32 = -1

type list struct{ head, tail int32 }

// node is one tracked flow in a Tracker's slab, linked into the list of its
// class in the order it joined it. It holds no pointers: a million flows
// cost the garbage collector nothing to scan. 40 bytes.
type node struct {
	k          key
	expires    int64 // ns
	prev, next int32 // links in its list; next links the free list
	flags      uint8
	turns      uint8 // UDP direction changes, up to udpStreamTurns
	list       uint8
}

// assured reports whether the flow's peer has cooperated (SG-10).
func (n *node) assured() bool {
	switch n.k.proto {
	case 6:
		return n.flags&(fEstablished|fClosed) == fEstablished
	case 17:
		return n.turns >= udpStreamTurns
	default:
		return n.flags&fReplied != 0
	}
}

// Tracker is one ENI's connection-tracking table (SG-4..SG-6, SG-9, SG-10)
// and its security groups. Egress and Ingress may be called from several
// goroutines.
//
// mu guards everything below it; n and evicted are also read without it.
// A tracker holds at most one lock at a time: making room in another
// tracker (SG-10) lets go of its own first.
type Tracker struct {
	reg      *Groups
	table    *Table
	resolver netip.Addr // SG-8: the VPC resolver is never blocked

	mu        sync.Mutex
	timeouts  Timeouts
	groups    []GroupID
	groupsGen uint64         // bumped by SetGroups: invalidates sg9
	sg9       untrackedCache // SG-9, per rule-set version
	flows     map[key]int32  // flow → index in nodes
	nodes     []node
	free      int32   // head of the free nodes
	lists     [2]list // lHalfOpen, lAssured
	lastSweep int64
	closed    bool // the ENI is gone: nothing is tracked any more

	n       atomic.Int64  // flows held (len(flows))
	evicted atomic.Uint64 // live flows taken from this tracker to make room
}

// NewTracker returns a tracker whose groups are looked up in reg, whose
// flows count against table, and that never blocks resolver (SG-8). Close
// it when its ENI goes.
func NewTracker(reg *Groups, table *Table, t Timeouts, resolver netip.Addr) *Tracker {
	tr := &Tracker{reg: reg, table: table, timeouts: t, resolver: resolver, flows: map[key]int32{}}
	tr.reset()
	table.register(tr)
	return tr
}

func (t *Tracker) reset() {
	t.nodes = nil
	t.free = nilIdx
	t.lists = [2]list{{nilIdx, nilIdx}, {nilIdx, nilIdx}}
}

// SetGroups sets the ENI's security groups (SG-2: unioned). Tracked flows
// stay (SG-5).
func (t *Tracker) SetGroups(ids []GroupID) {
	t.mu.Lock()
	t.groups = append(t.groups[:0:0], ids...)
	t.groupsGen++
	t.mu.Unlock()
}

// SetTimeouts changes the idle timeouts of new and refreshed flows.
func (t *Tracker) SetTimeouts(to Timeouts) {
	t.mu.Lock()
	t.timeouts = to
	t.mu.Unlock()
}

// Len returns the number of flows the tracker holds (expired ones included
// until reclaimed).
func (t *Tracker) Len() int { return int(t.n.Load()) }

// Evicted returns how many of the tracker's live flows were evicted to make
// room (SG-10).
func (t *Tracker) Evicted() uint64 { return t.evicted.Load() }

// Permits reports whether the ENI's groups let p start a new flow, in the
// direction egress says, by the rules alone (SG-2, SG-8): tracked flows are
// neither read nor written. Path analysis (OBS-3) asks it.
func (t *Tracker) Permits(p *Packet, egress bool) bool {
	if t.exempt(p, egress) {
		return true
	}
	t.mu.Lock()
	groups := t.groups
	t.mu.Unlock()
	return t.reg.allows(groups, !egress, p)
}

// Link-local services (SG-8): the Amazon DNS server's second address, the
// instance metadata service and the Amazon Time Sync Service.
var (
	linkLocalDNS  = netip.AddrFrom4([4]byte{169, 254, 169, 253})
	linkLocalIMDS = netip.AddrFrom4([4]byte{169, 254, 169, 254})
	linkLocalNTP  = netip.AddrFrom4([4]byte{169, 254, 169, 123})
)

// exempt reports whether p goes to (egress) or comes from (ingress) a
// service that security groups never filter (SG-8): the VPC's resolver at
// base + 2, 169.254.169.253, the metadata service at 169.254.169.254 and
// the time service at 169.254.169.123.
// The forwarder delivers such frames before it asks the tracker
// (dataplane/services.go); this keeps the rule true for every caller.
func (t *Tracker) exempt(p *Packet, egress bool) bool {
	peer := p.Dst
	if !egress {
		peer = p.Src
	}
	return (t.resolver.IsValid() && peer == t.resolver) || peer == linkLocalDNS || peer == linkLocalIMDS || peer == linkLocalNTP
}

// Egress decides a packet the ENI sends at time now (ns).
func (t *Tracker) Egress(p *Packet, now int64) Verdict { return t.check(p, now, true) }

// Ingress decides a packet the ENI receives at time now (ns).
func (t *Tracker) Ingress(p *Packet, now int64) Verdict { return t.check(p, now, false) }

func (t *Tracker) check(p *Packet, now int64, egress bool) Verdict {
	k := keyOf(p)
	k.out = egress
	t.mu.Lock()
	defer t.mu.Unlock()
	// A tracked flow passes whatever the rules say now (SG-4, SG-5): the
	// packet continues the flow in its original direction, or replies to it.
	if t.continues(k, p, now, true) || t.continues(k.reverse(), p, now, false) {
		return Allow
	}
	// SG-8: the VPC's resolver is always reachable, and its answers too.
	if t.exempt(p, egress) {
		return Allow
	}
	// SG-9: open to the world both ways: judged by the rules on every
	// packet, never tracked.
	if t.untracked(p, egress) {
		return Allow
	}
	if !t.reg.allows(t.groups, !egress, p) {
		if egress {
			return DropEgress
		}
		return DropIngress
	}
	return t.admit(k, p, now)
}

// continues advances the flow k with p if it is tracked and alive, and
// reports whether it was. An expired flow, or a closed TCP flow that a new
// SYN reopens, is dropped: the packet starts a new flow.
func (t *Tracker) continues(k key, p *Packet, now int64, orig bool) bool {
	i, ok := t.flows[k]
	if !ok {
		return false
	}
	n := &t.nodes[i]
	if n.expires <= now || (n.flags&fClosed != 0 && p.TCPFlags&(tcpSYN|tcpACK) == tcpSYN) {
		t.release(i)
		return false
	}
	t.advance(i, p, now, orig)
	return true
}

// untracked reports whether p belongs to a flow SG-9 leaves untracked,
// from the rules compiled for the current groups and registry snapshot.
func (t *Tracker) untracked(p *Packet, egress bool) bool {
	if p.Proto != 6 && p.Proto != 17 {
		return false // ICMP and other protocols are always tracked
	}
	snap := t.reg.snap.Load()
	if t.sg9.snap != snap || t.sg9.gen != t.groupsGen {
		t.sg9.build(*snap, t.groups)
		t.sg9.snap, t.sg9.gen = snap, t.groupsGen
	}
	return t.sg9.untracked(p, egress)
}

// admit tracks the new flow k that p starts, making room if the table is
// full (SG-10). mu is held on entry and on return, but may be let go in
// between.
func (t *Tracker) admit(k key, p *Packet, now int64) Verdict {
	if t.closed {
		return Allow // the ENI is gone: its last packets are judged by the rules alone
	}
	if !t.table.take() && !t.reclaim(now) {
		if !t.makeRoom(now) {
			t.table.full.Add(1)
			return DropConntrackFull
		}
		// A slot is ours, but makeRoom may have let go of mu: the tracker
		// may have been closed, or another worker tracked the flow,
		// meanwhile.
		if t.closed || t.continues(k, p, now, true) || t.continues(k.reverse(), p, now, false) {
			t.table.count.Add(-1)
			return Allow
		}
	}
	i := t.insert(k)
	t.advance(i, p, now, true)
	return Allow
}

// reclaim sweeps this tracker's expired flows when the table is full, at
// most once a second, and reports whether a slot was then taken.
func (t *Tracker) reclaim(now int64) bool {
	if now-t.lastSweep < 1e9 {
		return false
	}
	t.lastSweep = now
	t.sweepLocked(now)
	return t.table.take()
}

// makeRoom frees a slot for a new flow of t in a full table and reports
// whether it did; the slot passes to t (the table's count is unchanged).
// See steps 2–4 in the notes at the top.
func (t *Tracker) makeRoom(now int64) bool {
	share := t.table.shareFor(t)
	if t.n.Load() < share {
		if u := t.table.hog(t, share); u != nil {
			t.mu.Unlock()
			ok := u.giveUp(share, now)
			t.mu.Lock()
			if ok {
				return true
			}
		}
	}
	if i := t.lists[lHalfOpen].head; i != nilIdx {
		t.evict(i, now)
		return true
	}
	return false
}

// giveUp evicts one flow of t, which should hold more than share, for
// another tracker: its oldest half-open flow, else an assured one that was
// not used lately. It reports whether it did.
func (t *Tracker) giveUp(share, now int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n.Load() <= share {
		return false // no longer over its share
	}
	if i := t.lists[lHalfOpen].head; i != nilIdx {
		t.evict(i, now)
		return true
	}
	for tries := 0; ; tries++ {
		i := t.lists[lAssured].head
		if i == nilIdx {
			return false
		}
		if n := &t.nodes[i]; n.flags&fUsed != 0 && tries < secondChances {
			n.flags &^= fUsed
			t.unlink(i)
			t.link(i, lAssured)
			continue
		}
		t.evict(i, now)
		return true
	}
}

// evict removes flow i to make room; its table slot passes to the new flow.
func (t *Tracker) evict(i int32, now int64) {
	if t.nodes[i].expires > now {
		t.evicted.Add(1)
		t.table.evictions.Add(1)
	}
	t.remove(i)
}

// advance records packet p on flow i (orig: in the original direction),
// moves it to the list of its class, and restarts its idle timer (SG-6).
func (t *Tracker) advance(i int32, p *Packet, now int64, orig bool) {
	n := &t.nodes[i]
	was := n.assured()
	to := &t.timeouts
	var idle int64
	switch n.k.proto {
	case 6:
		f := p.TCPFlags
		if f&tcpRST != 0 {
			n.flags |= fClosed
		} else {
			if !orig {
				n.flags |= fReplied
			}
			// SYN, SYN-ACK, ACK: established when the opener acknowledges
			// an answer.
			if orig && n.flags&fReplied != 0 && f&(tcpSYN|tcpACK) == tcpACK {
				n.flags |= fEstablished
			}
			if f&tcpFIN != 0 {
				if orig {
					n.flags |= fFinOrig
				} else {
					n.flags |= fFinReply
				}
				if n.flags&(fFinOrig|fFinReply) == fFinOrig|fFinReply {
					n.flags |= fClosed
				}
			}
		}
		switch {
		case n.flags&fClosed != 0:
			idle = to.TCPClosed
		case n.flags&fEstablished != 0:
			idle = to.TCPEstablished // a FIN one way is a half-close: still established
		case n.flags&fReplied != 0:
			idle = to.TCPSynRecv
		default:
			idle = to.TCPSynSent
		}
	case 17:
		if reply := n.flags&fLastReply != 0; reply == orig { // changed direction
			n.flags ^= fLastReply
			if n.turns < udpStreamTurns {
				n.turns++
			}
		}
		idle = to.UDP
		if n.turns >= udpStreamTurns {
			idle = to.UDPStream
		}
	default:
		if !orig {
			n.flags |= fReplied
		}
		idle = to.Other
	}
	n.flags |= fUsed
	n.expires = now + idle
	if is := n.assured(); is != was {
		t.unlink(i)
		if is {
			t.link(i, lAssured)
		} else {
			t.link(i, lHalfOpen)
		}
	}
}

// insert adds flow k, half-open, with no expiry yet; the caller holds a
// table slot for it and calls advance.
func (t *Tracker) insert(k key) int32 {
	var i int32
	if t.free != nilIdx {
		i = t.free
		t.free = t.nodes[i].next
	} else {
		t.nodes = append(t.nodes, node{})
		i = int32(len(t.nodes) - 1)
	}
	t.nodes[i] = node{k: k}
	t.flows[k] = i
	t.link(i, lHalfOpen)
	if t.n.Add(1) == 1 {
		t.table.active.Add(1)
	}
	return i
}

// remove forgets flow i; its table slot is the caller's to release or pass on.
func (t *Tracker) remove(i int32) {
	n := &t.nodes[i]
	delete(t.flows, n.k)
	t.unlink(i)
	n.list = lFree
	n.next = t.free
	t.free = i
	if t.n.Add(-1) == 0 {
		t.table.active.Add(-1)
	}
}

// release forgets flow i and frees its table slot.
func (t *Tracker) release(i int32) {
	t.remove(i)
	t.table.count.Add(-1)
}

func (t *Tracker) link(i int32, l uint8) {
	n := &t.nodes[i]
	ls := &t.lists[l]
	n.list, n.prev, n.next = l, ls.tail, nilIdx
	if ls.tail != nilIdx {
		t.nodes[ls.tail].next = i
	} else {
		ls.head = i
	}
	ls.tail = i
}

func (t *Tracker) unlink(i int32) {
	n := &t.nodes[i]
	ls := &t.lists[n.list]
	if n.prev != nilIdx {
		t.nodes[n.prev].next = n.next
	} else {
		ls.head = n.next
	}
	if n.next != nilIdx {
		t.nodes[n.next].prev = n.prev
	} else {
		ls.tail = n.prev
	}
}

// Sweep removes expired flows. It walks the whole slab: the forwarder calls
// it every few seconds, never per packet.
func (t *Tracker) Sweep(now int64) {
	t.mu.Lock()
	t.sweepLocked(now)
	t.mu.Unlock()
}

func (t *Tracker) sweepLocked(now int64) {
	for i := range t.nodes {
		if n := &t.nodes[i]; n.list != lFree && n.expires <= now {
			t.release(int32(i))
		}
	}
}

// Close releases the tracker's flows and memory and leaves the table: the
// ENI is gone. Packets that still reach it (a worker on an older config)
// are judged by the rules and never tracked.
func (t *Tracker) Close() {
	t.table.deregister(t)
	t.mu.Lock()
	if held := t.n.Swap(0); held > 0 {
		t.table.count.Add(-held)
		t.table.active.Add(-1)
	}
	t.flows = map[key]int32{}
	t.reset()
	t.closed = true
	t.mu.Unlock()
}
