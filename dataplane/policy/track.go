package policy

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
	DropConntrackFull         // SG-4: the flow table is full; new flows drop
)

// Timeouts are tracked-flow idle timeouts in nanoseconds (SG-6).
type Timeouts struct {
	TCPEstablished int64 // 432000 s, settable 60–432000
	UDPStream      int64 // 180 s: UDP seen both ways
	UDP            int64 // 30 s: UDP seen one way
	Other          int64 // 600 s: ICMP and other protocols
	TCPNew         int64 // a SYN not yet answered
	TCPClosed      int64 // after FIN both ways or RST: expires quickly
}

// DefaultTimeouts are AWS's defaults (SG-6); TCPNew and TCPClosed, which AWS
// does not document, follow Linux conntrack (SYN_SENT 120 s, CLOSE 10 s).
var DefaultTimeouts = Timeouts{
	TCPEstablished: 432000e9, UDPStream: 180e9, UDP: 30e9, Other: 600e9, TCPNew: 120e9, TCPClosed: 10e9,
}

// Table bounds the number of tracked flows across every Tracker that shares
// it (SG-4). When full, new flows are dropped and counted; established ones
// are never evicted to make room (expired ones are reclaimed).
type Table struct {
	max   int64
	count atomic.Int64
	full  atomic.Uint64 // new flows refused because the table was full
}

// NewTable returns a table for at most max flows (0: 262144).
func NewTable(max int) *Table {
	if max <= 0 {
		max = 262144
	}
	return &Table{max: int64(max)}
}

// Len returns the number of tracked flows; Refused the flows refused when full.
func (t *Table) Len() int        { return int(t.count.Load()) }
func (t *Table) Refused() uint64 { return t.full.Load() }

// Max returns the table's bound.
func (t *Table) Max() int { return int(t.max) }

// key is a flow in its original direction. 16 bytes: the map entry with its
// 16-byte value is what a tracked flow costs.
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

// flow states.
const (
	stNew         uint8 = iota // one direction seen
	stEstablished              // both directions seen
	stFinOrig                  // FIN from the original side
	stFinReply                 // FIN from the reply side
	stClosed                   // FIN both ways, or RST
)

type entry struct {
	expires int64
	state   uint8
	replied bool // a packet went the reverse way: a TCP flow is only established then
}

// Tracker is one ENI's connection-tracking table (SG-4..SG-6) and its
// security groups. Egress and Ingress may be called from several goroutines.
//
// mu guards flows, groups and lastSweep.
type Tracker struct {
	reg      *Groups
	table    *Table
	timeouts Timeouts
	resolver netip.Addr // SG-8: the VPC resolver is never blocked

	mu        sync.Mutex
	flows     map[key]entry
	groups    []GroupID
	lastSweep int64
}

// NewTracker returns a tracker whose groups are looked up in reg, whose
// flows count against table, and that never blocks resolver (SG-8).
func NewTracker(reg *Groups, table *Table, t Timeouts, resolver netip.Addr) *Tracker {
	return &Tracker{reg: reg, table: table, timeouts: t, resolver: resolver, flows: map[key]entry{}}
}

// SetGroups sets the ENI's security groups (SG-2: unioned). Tracked flows
// stay (SG-5).
func (t *Tracker) SetGroups(ids []GroupID) {
	t.mu.Lock()
	t.groups = append(t.groups[:0:0], ids...)
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
func (t *Tracker) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.flows)
}

// Permits reports whether the ENI's groups let p start a new flow, in the
// direction egress says, by the rules alone (SG-2, SG-8): tracked flows are
// neither read nor written. Path analysis (OBS-3) asks it.
func (t *Tracker) Permits(p *Packet, egress bool) bool {
	if t.resolver.IsValid() && ((egress && p.Dst == t.resolver) || (!egress && p.Src == t.resolver)) {
		return true
	}
	t.mu.Lock()
	groups := t.groups
	t.mu.Unlock()
	return t.reg.allows(groups, !egress, p)
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
	if e, ok := t.flows[k]; ok {
		if e.expires > now {
			t.refresh(k, e, p, now, true)
			return Allow
		}
		t.remove(k)
	} else if e, ok := t.flows[k.reverse()]; ok {
		if e.expires > now {
			t.refresh(k.reverse(), e, p, now, false)
			return Allow
		}
		t.remove(k.reverse())
	}
	// SG-8: the VPC's resolver is always reachable, and its answers too.
	if t.resolver.IsValid() && ((egress && p.Dst == t.resolver) || (!egress && p.Src == t.resolver)) {
		return Allow
	}
	if !t.reg.allows(t.groups, !egress, p) {
		if egress {
			return DropEgress
		}
		return DropIngress
	}
	// First packet allowed: track the flow.
	if t.table.count.Load() >= t.table.max && !t.reclaim(now) {
		t.table.full.Add(1)
		return DropConntrackFull
	}
	e := entry{state: stNew}
	t.table.count.Add(1)
	t.refresh(k, e, p, now, true)
	return Allow
}

// refresh advances a flow's state with packet p (orig: in the original
// direction) and stores it with its new expiry.
func (t *Tracker) refresh(k key, e entry, p *Packet, now int64, orig bool) {
	to := &t.timeouts
	var idle int64
	switch k.proto {
	case 6:
		if !orig {
			e.replied = true
		}
		switch {
		case p.TCPFlags&0x04 != 0: // RST
			e.state = stClosed
		case p.TCPFlags&0x01 != 0: // FIN
			if orig && e.state == stFinReply || !orig && e.state == stFinOrig {
				e.state = stClosed
			} else if e.state != stClosed {
				if orig {
					e.state = stFinOrig
				} else {
					e.state = stFinReply
				}
			}
		case !orig && e.state == stNew:
			e.state = stEstablished
		}
		switch {
		case e.state == stClosed:
			idle = to.TCPClosed
		case e.state == stNew || !e.replied:
			idle = to.TCPNew // not established until the other side answered
		default:
			idle = to.TCPEstablished
		}
	case 17:
		if !orig {
			e.state = stEstablished
		}
		idle = to.UDP
		if e.state == stEstablished {
			idle = to.UDPStream
		}
	default:
		idle = to.Other
	}
	e.expires = now + idle
	t.flows[k] = e
}

func (t *Tracker) remove(k key) {
	delete(t.flows, k)
	t.table.count.Add(-1)
}

// reclaim removes this tracker's expired flows when the table is full, at
// most once a second, and reports whether room was made.
func (t *Tracker) reclaim(now int64) bool {
	if now-t.lastSweep < 1e9 {
		return false
	}
	t.lastSweep = now
	t.sweepLocked(now)
	return t.table.count.Load() < t.table.max
}

// Sweep removes expired flows.
func (t *Tracker) Sweep(now int64) {
	t.mu.Lock()
	t.sweepLocked(now)
	t.mu.Unlock()
}

func (t *Tracker) sweepLocked(now int64) {
	for k, e := range t.flows {
		if e.expires <= now {
			t.remove(k)
		}
	}
}

// Close releases the tracker's flows from the table (the ENI is gone).
func (t *Tracker) Close() {
	t.mu.Lock()
	t.table.count.Add(-int64(len(t.flows)))
	t.flows = map[key]entry{}
	t.mu.Unlock()
}
