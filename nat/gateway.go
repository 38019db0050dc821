package nat

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/vpcnet/vpcnet/dataplane/header"
)

// Defaults of Config (NAT-3, NAT-4).
const (
	DefaultPortMin           = 1024
	DefaultPortMax           = 65535
	DefaultMaxPerDestination = 55000
	DefaultIdleTimeout       = 350e9 // ns
	DefaultClosedTimeout     = 10e9  // ns
	DefaultTimeWaitTimeout   = 120e9 // ns
)

// Config configures a Gateway. Zero fields take the defaults.
type Config struct {
	// Addrs are the private IPs of the gateway's ENI, primary first
	// (NAT-1). Each one allows MaxPerDestination connections per
	// destination (NAT-3): secondary addresses raise the limit.
	Addrs []netip.Addr
	// PortMin and PortMax bound the ports and ICMP ids handed out,
	// 1024–65535 by default (NAT-3).
	PortMin, PortMax uint16
	// MaxPerDestination caps simultaneous connections per unique
	// destination (IP, port, protocol) per NAT address: 55000 (NAT-3). It
	// is further capped by the size of the port range.
	MaxPerDestination int
	// IdleTimeout in nanoseconds, 350 s by default (NAT-4).
	IdleTimeout int64
	// ClosedTimeout in nanoseconds: a TCP connection that saw a RST, or a
	// FIN each way, is reclaimed after this much idleness (10 s by default;
	// AWS documents no figure, this is Linux conntrack's CLOSE timeout). Its
	// reclamation is not an idle timeout and leaves no RST memory.
	ClosedTimeout int64
	// TimeWaitTimeout in nanoseconds (NAT-6): a TCP connection closed by a FIN each
	// way keeps its port this long (120 s by default, Linux conntrack's
	// TIME_WAIT, 2 MSL), because the end that closed first holds the
	// connection in TIME_WAIT: a new connection from the same NAT port to
	// the same destination meanwhile meets that TIME_WAIT socket, whose
	// PAWS check refuses a SYN with an older timestamp, and waits a SYN
	// retransmission (a second or more). A RST leaves no TIME_WAIT, so
	// ClosedTimeout applies to it.
	TimeWaitTimeout int64
	// ExpiredRetention in nanoseconds: how long after its idle timeout a TCP
	// connection is remembered so that late segments are answered with a
	// RST (NAT-4) rather than dropped as unsolicited. Default IdleTimeout.
	// The remembered entry holds no port: a new connection may take the
	// port, which forgets it early.
	ExpiredRetention int64
	// Seed seeds port selection (0: random). Tests use it for determinism.
	Seed uint64
}

// Validate reports the first field NewGateway would have to ignore.
func (c Config) Validate() error {
	if len(c.Addrs) == 0 {
		return errors.New("nat gateway: no address (NAT-1)")
	}
	if len(c.Addrs) > 255 {
		return errors.New("nat gateway: more than 255 addresses")
	}
	for _, a := range c.Addrs {
		if !a.Unmap().Is4() {
			return fmt.Errorf("nat gateway: address %v: %w", a, ErrNotIPv4)
		}
	}
	if c.PortMin > c.PortMax {
		return fmt.Errorf("nat gateway: port range %d-%d is empty (NAT-3)", c.PortMin, c.PortMax)
	}
	if c.MaxPerDestination < 0 || c.IdleTimeout < 0 || c.ClosedTimeout < 0 || c.TimeWaitTimeout < 0 || c.ExpiredRetention < 0 {
		return errors.New("nat gateway: negative limit or timeout")
	}
	return nil
}

// Stats are a gateway's counters (NAT-6), named like the CloudWatch metrics
// of an AWS NAT gateway. "Source" is the private side (instances),
// "Destination" the remote side.
type Stats struct {
	ActiveConnectionCount      uint64            `json:"ActiveConnectionCount"`
	ConnectionAttemptCount     uint64            `json:"ConnectionAttemptCount"`
	ConnectionEstablishedCount uint64            `json:"ConnectionEstablishedCount"`
	ErrorPortAllocation        uint64            `json:"ErrorPortAllocation"`
	IdleTimeoutCount           uint64            `json:"IdleTimeoutCount"`
	PacketsDropCount           uint64            `json:"PacketsDropCount"`
	PacketsInFromSource        uint64            `json:"PacketsInFromSource"`
	PacketsOutToDestination    uint64            `json:"PacketsOutToDestination"`
	PacketsInFromDestination   uint64            `json:"PacketsInFromDestination"`
	PacketsOutToSource         uint64            `json:"PacketsOutToSource"`
	BytesInFromSource          uint64            `json:"BytesInFromSource"`
	BytesOutToDestination      uint64            `json:"BytesOutToDestination"`
	BytesInFromDestination     uint64            `json:"BytesInFromDestination"`
	BytesOutToSource           uint64            `json:"BytesOutToSource"`
	DropsByReason              map[string]uint64 `json:"DropsByReason,omitempty"`
}

// counters are atomics so that Stats can read them while packets flow.
type counters struct {
	attempts, established, errPort, idle         atomic.Uint64
	pktInSrc, pktOutDst, pktInDst, pktOutSrc     atomic.Uint64
	byteInSrc, byteOutDst, byteInDst, byteOutSrc atomic.Uint64
	drops                                        [numVerdicts]atomic.Uint64
}

// Gateway is a NAT gateway's connection table and translator (NAT-2..NAT-6).
//
// Connections are keyed both ways: by the private 5-tuple (proto, private
// addr, private port, remote addr, remote port) for outbound packets and by
// (proto, NAT addr, NAT port, remote addr, remote port) for inbound ones; the
// latter is unique among live connections, so a NAT port is reused for
// different destinations (endpoint-dependent mapping). ICMP queries use the
// id as both ports' stand-in and a remote port of 0.
//
// Concurrency: the table is split into shards by destination (remote addr,
// remote port, proto); everything one connection touches, including the
// per-destination counts of NAT-3, lives in one shard under its mutex, so
// Outbound and Inbound may run on any number of goroutines. Counters are
// atomics. Expiry is exact but lazy: a shard expires its connections (three
// lists in last-use order, O(1) amortised) whenever it is used, and Stats
// and Sweep bring every shard up to date.
//
// Connection life (NAT-4): only an outbound TCP SYN (without ACK), UDP
// datagram or ICMP query request opens a connection. Every packet of it,
// either way, refreshes it. Idle longer than IdleTimeout, it is dropped
// (IdleTimeoutCount) and its port freed; a TCP connection is remembered for
// ExpiredRetention more so that a late segment gets SendRST, inbound or
// outbound. An outbound TCP segment that is not a SYN and matches no
// connection also gets SendRST (the mapping is gone, as after an expiry);
// RSTs are never answered. A TCP connection that saw a RST, or a FIN each
// way, is closing: it is reclaimed after ClosedTimeout without an idle
// count, and an outbound SYN on it reopens it on the same mapping.
//
// Fragments: a non-first IPv4 fragment carries no ports, so Outbound and
// Inbound drop it (DropFragment). A caller that remembers what the first
// fragment of the datagram showed (FirstFragment) translates the others
// with OutboundFragment and InboundFragment: the same connection, the
// address only. ICMP errors are translated for known connections but never
// refresh or open one; their non-first fragments are dropped.
type Gateway struct {
	addrs     []uint32
	portMin   uint16
	portRange uint32 // PortMax-PortMin+1
	limit     int32  // per destination per address
	idle      int64
	closed    int64
	timeWait  int64
	retain    int64
	shards    [numShards]shard
	ctr       counters // packets dropped before a shard is known
}

const numShards = 64

// Connection states.
const (
	stOpen     = iota // counts toward limits; expires after idle
	stClosing         // RST or FIN both ways; expires after closed
	stExpired         // idle-expired TCP, remembered for NAT-4 RSTs
	stTimeWait        // FIN both ways, no RST; expires after timeWait
	stFree
)

// TCP flags kept per connection.
const (
	fFinOut = 1 << iota
	fFinIn
	fReplied
)

// flowKey is one side of a connection: local is the private address (out
// map) or the NAT address (in map).
type flowKey struct {
	local, remote uint32
	lport, rport  uint16
	proto         uint8
}

// destKey counts connections per destination per NAT address (NAT-3).
type destKey struct {
	remote uint32
	rport  uint16
	proto  uint8
	nat    uint8
}

type conn struct {
	priv, remote      uint32
	natAddr           uint32
	privPort, rport   uint16
	natPort           uint16
	proto, nat, state uint8
	flags             uint8
	lastSeen          int64
	prev, next        int32
}

func (c *conn) outKey() flowKey {
	return flowKey{local: c.priv, remote: c.remote, lport: c.privPort, rport: c.rport, proto: c.proto}
}

func (c *conn) inKey() flowKey {
	return flowKey{local: c.natAddr, remote: c.remote, lport: c.natPort, rport: c.rport, proto: c.proto}
}

type list struct{ head, tail int32 }

// shard holds the connections of a set of destinations; mu guards all of it
// except the counters.
type shard struct {
	mu     sync.Mutex
	now    int64 // latest time seen: expiry never goes back
	out    map[flowKey]int32
	in     map[flowKey]int32 // local = NAT address
	dest   map[destKey]int32
	conns  []conn
	free   []int32
	lists  [4]list // per state stOpen, stClosing, stExpired, stTimeWait; oldest first
	rng    rand.PCG
	active atomic.Int64
	ctr    counters
	_      [64]byte
}

// NewGateway returns a gateway for cfg. Fields that Validate would reject
// are replaced: non-IPv4 addresses are skipped, an empty port range or a
// negative value takes the default. With no address at all every new
// connection fails with DropPortAllocation.
func NewGateway(cfg Config) *Gateway {
	g := &Gateway{}
	for _, a := range cfg.Addrs {
		if a = a.Unmap(); a.Is4() && len(g.addrs) < 255 {
			g.addrs = append(g.addrs, addrU32(a))
		}
	}
	lo, hi := cfg.PortMin, cfg.PortMax
	if (lo == 0 && hi == 0) || lo > hi {
		lo, hi = DefaultPortMin, DefaultPortMax
	}
	g.portMin, g.portRange = lo, uint32(hi)-uint32(lo)+1
	lim := cfg.MaxPerDestination
	if lim <= 0 {
		lim = DefaultMaxPerDestination
	}
	g.limit = int32(min(lim, int(g.portRange)))
	g.idle, g.closed, g.retain = cfg.IdleTimeout, cfg.ClosedTimeout, cfg.ExpiredRetention
	if g.idle <= 0 {
		g.idle = DefaultIdleTimeout
	}
	if g.closed <= 0 {
		g.closed = DefaultClosedTimeout
	}
	if g.timeWait = cfg.TimeWaitTimeout; g.timeWait <= 0 {
		g.timeWait = DefaultTimeWaitTimeout
	}
	if g.retain <= 0 {
		g.retain = g.idle
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	for i := range g.shards {
		s := &g.shards[i]
		s.lists = [4]list{{-1, -1}, {-1, -1}, {-1, -1}, {-1, -1}}
		s.rng.Seed(seed, uint64(i))
	}
	return g
}

// natIndex returns the index of NAT address a, or -1.
func (g *Gateway) natIndex(a uint32) int {
	for i, x := range g.addrs {
		if x == a {
			return i
		}
	}
	return -1
}

func (g *Gateway) shardOf(remote uint32, rport uint16, proto uint8) *shard {
	h := (uint64(remote)<<24 ^ uint64(rport)<<8 ^ uint64(proto)) * 0x9e3779b97f4a7c15
	return &g.shards[h>>58]
}

// Packet kinds the gateway translates.
const (
	kTCP = iota
	kUDP
	kQuery // ICMP query
	kError // ICMP error quoting a TCP/UDP/ICMP-query packet
)

// pktInfo is what the gateway needs to know about a packet.
type pktInfo struct {
	size     int
	kind     uint8
	proto    uint8 // of the flow (for errors: of the quoted packet)
	tcpFlags uint8
	icmpType uint8
	// The flow's addresses and ports as the packet (or, for errors, the
	// quoted packet) carries them. For ICMP queries both ports are the id.
	src, dst     uint32
	sport, dport uint16
	outerDst     uint32
	// frag: a non-first fragment, its ports taken from its first fragment
	// (classifyFragment). It never opens a connection nor gets a RST.
	frag bool
}

// classify parses pkt for the gateway.
func classify(pkt []byte) (p pktInfo, v Verdict) {
	ihl, ip, ok := ipv4Bounds(pkt)
	if !ok {
		return p, DropMalformed
	}
	p.size = len(ip)
	p.proto = ip[9]
	if p.proto != header.ProtoTCP && p.proto != header.ProtoUDP && p.proto != header.ProtoICMP {
		return p, DropProtocol // NAT-2
	}
	if !firstFragment(ip) {
		return p, DropFragment
	}
	l4 := ip[ihl:]
	kind, ok := l4Kind(p.proto, true, l4)
	if !ok {
		return p, DropMalformed
	}
	p.src, p.dst, p.outerDst = be32(ip[12:]), be32(ip[16:]), be32(ip[16:])
	switch kind {
	case l4TCP:
		p.kind, p.tcpFlags = kTCP, l4[13]
		p.sport, p.dport = be16(l4), be16(l4[2:])
	case l4UDP:
		p.kind = kUDP
		p.sport, p.dport = be16(l4), be16(l4[2:])
	case l4ICMPQuery:
		p.kind, p.icmpType = kQuery, l4[0]
		p.sport = be16(l4[4:])
		p.dport = p.sport
	case l4ICMPError:
		p.kind, p.icmpType = kError, l4[0]
		q := l4[header.ICMPv4MinLen:]
		if len(q) < header.IPv4MinLen || q[0]>>4 != 4 {
			return p, DropMalformed
		}
		qhl := int(q[0]&0x0f) * 4
		if qhl < header.IPv4MinLen || qhl+8 > len(q) || !firstFragment(q) {
			return p, DropMalformed
		}
		ql4 := q[qhl:]
		p.proto, p.src, p.dst = q[9], be32(q[12:]), be32(q[16:])
		switch p.proto {
		case header.ProtoTCP, header.ProtoUDP:
			p.sport, p.dport = be16(ql4), be16(ql4[2:])
		case header.ProtoICMP:
			if !header.IsQuery(ql4[0]) {
				return p, DropProtocol
			}
			p.sport = be16(ql4[4:])
			p.dport = p.sport
		default:
			return p, DropProtocol
		}
	default:
		return p, DropProtocol // NAT-2: other ICMP
	}
	return p, OK
}

// FirstFragment is what the first fragment of an IPv4 datagram showed of its
// L4 header, which the datagram's other fragments do not carry: the TCP or
// UDP ports, or the ICMP type and, for a query, the id. The caller keeps it
// from the first fragment (as the packet arrived, before translation) and
// hands it in with every later fragment.
type FirstFragment struct {
	SrcPort, DstPort uint16 // TCP and UDP
	ICMPType         uint8
	ICMPID           uint16 // ICMP queries
}

// classifyFragment is classify for a non-first fragment of the datagram
// whose first fragment showed first. Fragments of ICMP errors cannot be
// translated (the quoted packet that names the connection is in the first
// fragment): DropFragment. A first fragment is DropMalformed here: it
// carries its own L4 header and goes through classify.
func classifyFragment(pkt []byte, first FirstFragment) (p pktInfo, v Verdict) {
	_, ip, ok := ipv4Bounds(pkt)
	if !ok || firstFragment(ip) {
		return p, DropMalformed
	}
	p.size, p.proto, p.frag = len(ip), ip[9], true
	p.src, p.dst, p.outerDst = be32(ip[12:]), be32(ip[16:]), be32(ip[16:])
	switch p.proto {
	case header.ProtoTCP:
		p.kind, p.sport, p.dport = kTCP, first.SrcPort, first.DstPort
	case header.ProtoUDP:
		p.kind, p.sport, p.dport = kUDP, first.SrcPort, first.DstPort
	case header.ProtoICMP:
		switch t := first.ICMPType; {
		case header.IsQuery(t):
			p.kind, p.icmpType, p.sport, p.dport = kQuery, t, first.ICMPID, first.ICMPID
		case isICMPError(t):
			return p, DropFragment
		default:
			return p, DropProtocol // NAT-2, as for the first fragment
		}
	default:
		return p, DropProtocol // NAT-2
	}
	return p, OK
}

// Outbound translates a packet from an instance through the gateway: its
// source becomes (NAT address, NAT port or ICMP id), on a connection opened
// by the first packet (NAT-2). now is in nanoseconds. pkt is modified in
// place only when the verdict is OK. It allocates nothing for packets of
// existing connections.
func (g *Gateway) Outbound(pkt []byte, partial bool, now int64) Verdict {
	p, v := classify(pkt)
	v, _ = g.outbound(pkt, p, v, partial, now)
	return v
}

// OutboundFragment translates a non-first fragment of a datagram from an
// instance, whose first fragment Outbound translated: first names what that
// fragment carried. Only the source address changes (the L4 header and its
// checksum are in the first fragment); the connection is refreshed but never
// opened (DropUnsolicited when it is gone). It returns the connection's NAT
// port (or ICMP id), which the first fragment now carries. No allocation.
func (g *Gateway) OutboundFragment(pkt []byte, first FirstFragment, now int64) (Verdict, uint16) {
	p, v := classifyFragment(pkt, first)
	return g.outbound(pkt, p, v, false, now)
}

// outbound is Outbound and OutboundFragment after classification.
func (g *Gateway) outbound(pkt []byte, p pktInfo, v Verdict, partial bool, now int64) (Verdict, uint16) {
	if v != OK {
		g.ctr.pktInSrc.Add(1)
		g.ctr.byteInSrc.Add(uint64(len(pkt)))
		g.ctr.drops[v].Add(1)
		return v, 0
	}
	var k flowKey
	switch p.kind {
	case kError:
		// The instance reports on a packet it received: quoted src is the
		// remote side, quoted dst the instance.
		k = flowKey{local: p.dst, remote: p.src, lport: p.dport, rport: p.sport, proto: p.proto}
		if p.proto == header.ProtoICMP {
			k.rport = 0 // a quoted ICMP query: the id is the local port only
		}
	case kQuery:
		k = flowKey{local: p.src, remote: p.dst, lport: p.sport, proto: p.proto}
	default:
		k = flowKey{local: p.src, remote: p.dst, lport: p.sport, rport: p.dport, proto: p.proto}
	}
	s := g.shardOf(k.remote, k.rport, k.proto)
	s.ctr.pktInSrc.Add(1)
	s.ctr.byteInSrc.Add(uint64(p.size))

	s.mu.Lock()
	now = s.advance(g, now)
	idx, found := s.out[k]
	var c *conn
	if found {
		c = &s.conns[idx]
	}
	switch {
	case p.kind == kError:
		if c == nil || c.state == stExpired {
			v = DropUnsolicited
		}
	case c != nil && c.state != stExpired:
		s.touch(idx, now, p, true)
	case p.frag:
		v = DropUnsolicited // a fragment never opens a connection
	case p.kind == kTCP && p.tcpFlags&(header.TCPSyn|header.TCPAck|header.TCPRst) != header.TCPSyn:
		// NAT-4: only a SYN opens a connection; anything else of an unknown
		// or expired one is answered with RST (never a RST itself).
		v = SendRST
		if p.tcpFlags&header.TCPRst != 0 {
			v = DropUnsolicited
		}
	case p.kind == kQuery && !header.IsQueryRequest(p.icmpType):
		v = DropUnsolicited
	default:
		if c != nil { // an expired TCP connection reopened by a SYN
			s.release(idx)
		}
		s.ctr.attempts.Add(1)
		idx, v = s.open(g, k, now)
		if v == OK {
			c = &s.conns[idx]
			s.touch(idx, now, p, true)
		}
	}
	var natAddr [4]byte
	var natPort uint16
	if v == OK {
		put32(natAddr[:], c.natAddr)
		natPort = c.natPort
	}
	s.mu.Unlock()

	if v != OK {
		s.ctr.drops[v].Add(1)
		return v, 0
	}
	rewrite(pkt, true, natAddr, natPort, true, partial)
	s.ctr.pktOutDst.Add(1)
	s.ctr.byteOutDst.Add(uint64(p.size))
	return OK, natPort
}

// Inbound translates a packet from the remote side to one of the gateway's
// addresses back to the instance: its destination becomes the private
// (address, port or id) of the connection it belongs to. Anything that
// belongs to no connection is DropUnsolicited (NAT-5); a TCP segment of an
// idle-expired connection is SendRST (NAT-4). pkt is modified in place only
// when the verdict is OK; no allocation.
func (g *Gateway) Inbound(pkt []byte, partial bool, now int64) Verdict {
	p, v := classify(pkt)
	v, _ = g.inbound(pkt, p, v, partial, now)
	return v
}

// InboundFragment translates a non-first fragment of a datagram from the
// remote side, whose first fragment Inbound translated: first names what
// that fragment carried. Only the destination address changes; a fragment
// of an unknown or expired connection is DropUnsolicited (it cannot be
// answered with a RST: it has no TCP header). It returns the connection's
// private port (or ICMP id). No allocation.
func (g *Gateway) InboundFragment(pkt []byte, first FirstFragment, now int64) (Verdict, uint16) {
	p, v := classifyFragment(pkt, first)
	return g.inbound(pkt, p, v, false, now)
}

// inbound is Inbound and InboundFragment after classification.
func (g *Gateway) inbound(pkt []byte, p pktInfo, v Verdict, partial bool, now int64) (Verdict, uint16) {
	if v != OK {
		g.ctr.pktInDst.Add(1)
		g.ctr.byteInDst.Add(uint64(len(pkt)))
		g.ctr.drops[v].Add(1)
		return v, 0
	}
	var k flowKey
	switch p.kind {
	case kError:
		// Quoted is a packet the gateway sent: src is the NAT side.
		k = flowKey{local: p.src, remote: p.dst, lport: p.sport, rport: p.dport, proto: p.proto}
		if p.proto == header.ProtoICMP {
			k.rport = 0
		}
		if p.src != p.outerDst { // an error about someone else's packet
			g.ctr.pktInDst.Add(1)
			g.ctr.byteInDst.Add(uint64(p.size))
			g.ctr.drops[DropUnsolicited].Add(1)
			return DropUnsolicited, 0
		}
	case kQuery:
		k = flowKey{local: p.dst, remote: p.src, lport: p.dport, proto: p.proto}
	default:
		k = flowKey{local: p.dst, remote: p.src, lport: p.dport, rport: p.sport, proto: p.proto}
	}
	s := g.shardOf(k.remote, k.rport, k.proto)
	s.ctr.pktInDst.Add(1)
	s.ctr.byteInDst.Add(uint64(p.size))

	s.mu.Lock()
	now = s.advance(g, now)
	idx, found := s.in[k]
	var c *conn
	if found {
		c = &s.conns[idx]
	}
	switch {
	case c == nil:
		v = DropUnsolicited // NAT-5
	case c.state == stExpired:
		v = DropUnsolicited
		if p.kind == kTCP && p.tcpFlags&header.TCPRst == 0 && !p.frag {
			v = SendRST // NAT-4
		}
	case p.kind == kQuery && header.IsQueryRequest(p.icmpType):
		v = DropUnsolicited
	case p.kind != kError:
		s.touch(idx, now, p, false)
	}
	var privAddr [4]byte
	var privPort uint16
	if v == OK {
		put32(privAddr[:], c.priv)
		privPort = c.privPort
	}
	s.mu.Unlock()

	if v != OK {
		s.ctr.drops[v].Add(1)
		return v, 0
	}
	rewrite(pkt, false, privAddr, privPort, true, partial)
	s.ctr.pktOutSrc.Add(1)
	s.ctr.byteOutSrc.Add(uint64(p.size))
	return OK, privPort
}

// touch records a packet of live connection idx: time, TCP state, list
// position (s.mu held).
func (s *shard) touch(idx int32, now int64, p pktInfo, out bool) {
	c := &s.conns[idx]
	c.lastSeen = now
	if !out && c.flags&fReplied == 0 {
		c.flags |= fReplied
		s.ctr.established.Add(1)
	}
	state := c.state
	if p.kind == kTCP {
		f := p.tcpFlags
		if out && (state == stClosing || state == stTimeWait) && f&(header.TCPSyn|header.TCPAck) == header.TCPSyn {
			// The client reuses its port: a fresh connection on the same
			// mapping.
			state = stOpen
			c.flags &^= fFinOut | fFinIn
		}
		if f&header.TCPFin != 0 {
			if out {
				c.flags |= fFinOut
			} else {
				c.flags |= fFinIn
			}
		}
		switch {
		case f&header.TCPRst != 0:
			state = stClosing
		case c.flags&(fFinOut|fFinIn) == fFinOut|fFinIn && state != stClosing:
			state = stTimeWait
		}
	}
	s.unlink(idx)
	c.state = state
	s.pushTail(idx)
}

// open allocates a NAT address and port for a new connection k (NAT-3):
// the address with the fewest connections to k's destination, a port free
// for that (address, destination). It returns DropPortAllocation when every
// address is at the limit (s.mu held).
func (s *shard) open(g *Gateway, k flowKey, now int64) (int32, Verdict) {
	best, bestN := -1, g.limit
	for i := range g.addrs {
		n := s.dest[destKey{remote: k.remote, rport: k.rport, proto: k.proto, nat: uint8(i)}]
		if n < bestN {
			best, bestN = i, n
		}
	}
	if best < 0 {
		s.ctr.errPort.Add(1) // NAT-3
		return -1, DropPortAllocation
	}
	ik := flowKey{local: g.addrs[best], remote: k.remote, rport: k.rport, proto: k.proto}
	// Fewer than limit <= portRange connections hold ports for this
	// (address, destination), so a free port exists. Random probes find one
	// in 1/(1-load) tries on average (about 7 at 55000 of 64512); after a
	// few misses, scan on from a random port, which is bounded.
	port, ok := uint16(0), false
	for try := 0; try < 16 && !ok; try++ {
		port = g.portMin + uint16(s.rng.Uint64()%uint64(g.portRange))
		ik.lport = port
		ok = s.portFree(ik)
	}
	if !ok {
		off := uint32(s.rng.Uint64() % uint64(g.portRange))
		for i := uint32(0); i < g.portRange && !ok; i++ {
			port = g.portMin + uint16((off+i)%g.portRange)
			ik.lport = port
			ok = s.portFree(ik)
		}
		if !ok { // cannot happen: counts and maps disagree
			s.ctr.errPort.Add(1)
			return -1, DropPortAllocation
		}
	}
	if s.out == nil { // first connection of this shard
		s.out, s.in, s.dest = map[flowKey]int32{}, map[flowKey]int32{}, map[destKey]int32{}
	}
	var idx int32
	if n := len(s.free); n > 0 {
		idx, s.free = s.free[n-1], s.free[:n-1]
	} else {
		s.conns = append(s.conns, conn{})
		idx = int32(len(s.conns) - 1)
	}
	s.conns[idx] = conn{
		priv: k.local, remote: k.remote, privPort: k.lport, rport: k.rport,
		natAddr: ik.local, natPort: port, proto: k.proto, nat: uint8(best), state: stOpen,
		lastSeen: now, prev: -1, next: -1,
	}
	s.out[k] = idx
	s.in[ik] = idx
	s.dest[destKey{remote: k.remote, rport: k.rport, proto: k.proto, nat: uint8(best)}]++
	s.active.Add(1)
	s.pushTail(idx)
	return idx, OK
}

// portFree reports whether in-key ik is unused; a remembered expired
// connection holding it is forgotten (s.mu held).
func (s *shard) portFree(ik flowKey) bool {
	idx, ok := s.in[ik]
	if !ok {
		return true
	}
	if s.conns[idx].state == stExpired {
		s.release(idx)
		return true
	}
	return false
}

// advance expires what timed out by now and returns the shard's time, which
// never goes back (s.mu held). NAT-4.
func (s *shard) advance(g *Gateway, now int64) int64 {
	if now < s.now {
		now = s.now
	}
	s.now = now
	for h := s.lists[stOpen].head; h >= 0 && now-s.conns[h].lastSeen > g.idle; h = s.lists[stOpen].head {
		c := &s.conns[h]
		s.ctr.idle.Add(1)
		if c.proto == header.ProtoTCP {
			s.unlink(h)
			s.uncount(c)
			c.state = stExpired
			s.pushTail(h)
		} else {
			s.release(h)
		}
	}
	for h := s.lists[stClosing].head; h >= 0 && now-s.conns[h].lastSeen > g.closed; h = s.lists[stClosing].head {
		s.release(h)
	}
	for h := s.lists[stTimeWait].head; h >= 0 && now-s.conns[h].lastSeen > g.timeWait; h = s.lists[stTimeWait].head {
		s.release(h)
	}
	for h := s.lists[stExpired].head; h >= 0 && now-s.conns[h].lastSeen > g.idle+g.retain; h = s.lists[stExpired].head {
		s.release(h)
	}
	return now
}

// uncount takes a live connection out of the NAT-3 and active counts.
func (s *shard) uncount(c *conn) {
	dk := destKey{remote: c.remote, rport: c.rport, proto: c.proto, nat: c.nat}
	if n := s.dest[dk] - 1; n > 0 {
		s.dest[dk] = n
	} else {
		delete(s.dest, dk)
	}
	s.active.Add(-1)
}

// release forgets connection idx entirely (s.mu held).
func (s *shard) release(idx int32) {
	c := &s.conns[idx]
	s.unlink(idx)
	if c.state != stExpired {
		s.uncount(c)
	}
	delete(s.out, c.outKey())
	delete(s.in, c.inKey())
	c.state = stFree
	s.free = append(s.free, idx)
}

func (s *shard) unlink(idx int32) {
	c := &s.conns[idx]
	l := &s.lists[c.state]
	if c.prev >= 0 {
		s.conns[c.prev].next = c.next
	} else {
		l.head = c.next
	}
	if c.next >= 0 {
		s.conns[c.next].prev = c.prev
	} else {
		l.tail = c.prev
	}
	c.prev, c.next = -1, -1
}

func (s *shard) pushTail(idx int32) {
	c := &s.conns[idx]
	l := &s.lists[c.state]
	c.prev, c.next = l.tail, -1
	if l.tail >= 0 {
		s.conns[l.tail].next = idx
	} else {
		l.head = idx
	}
	l.tail = idx
}

// Sweep expires, in every shard, the connections that timed out by now
// (NAT-4) and returns their ports. Optional: expiry also happens whenever a
// shard is used, and Stats sweeps to the latest time seen.
func (g *Gateway) Sweep(now int64) {
	for i := range g.shards {
		s := &g.shards[i]
		s.mu.Lock()
		s.advance(g, now)
		s.mu.Unlock()
	}
}

// latest returns the latest time any shard has seen.
func (g *Gateway) latest() int64 {
	var t int64
	for i := range g.shards {
		s := &g.shards[i]
		s.mu.Lock()
		t = max(t, s.now)
		s.mu.Unlock()
	}
	return t
}

// Stats returns the counters (NAT-6). It first sweeps every shard to the
// latest time any packet brought, so that ActiveConnectionCount and
// IdleTimeoutCount do not wait for traffic to idle shards.
func (g *Gateway) Stats() Stats {
	g.Sweep(g.latest())
	var st Stats
	add := func(c *counters) {
		st.ConnectionAttemptCount += c.attempts.Load()
		st.ConnectionEstablishedCount += c.established.Load()
		st.ErrorPortAllocation += c.errPort.Load()
		st.IdleTimeoutCount += c.idle.Load()
		st.PacketsInFromSource += c.pktInSrc.Load()
		st.PacketsOutToDestination += c.pktOutDst.Load()
		st.PacketsInFromDestination += c.pktInDst.Load()
		st.PacketsOutToSource += c.pktOutSrc.Load()
		st.BytesInFromSource += c.byteInSrc.Load()
		st.BytesOutToDestination += c.byteOutDst.Load()
		st.BytesInFromDestination += c.byteInDst.Load()
		st.BytesOutToSource += c.byteOutSrc.Load()
		for v := range c.drops {
			if n := c.drops[v].Load(); n > 0 {
				if st.DropsByReason == nil {
					st.DropsByReason = map[string]uint64{}
				}
				st.DropsByReason[Verdict(v).String()] += n
				st.PacketsDropCount += n
			}
		}
	}
	add(&g.ctr)
	for i := range g.shards {
		add(&g.shards[i].ctr)
		st.ActiveConnectionCount += uint64(g.shards[i].active.Load())
	}
	return st
}

// Mapping returns the NAT address and port (or ICMP id) of the live
// connection from priv to remote (for ICMP queries, priv's port is the id
// and remote's port 0). It does not expire anything: a connection past its
// timeout that no packet or Sweep has reaped yet is still reported.
func (g *Gateway) Mapping(proto uint8, priv, remote netip.AddrPort) (netip.AddrPort, bool) {
	if !priv.Addr().Is4() || !remote.Addr().Is4() {
		return netip.AddrPort{}, false
	}
	k := flowKey{local: addrU32(priv.Addr()), remote: addrU32(remote.Addr()), lport: priv.Port(), rport: remote.Port(), proto: proto}
	s := g.shardOf(k.remote, k.rport, k.proto)
	s.mu.Lock()
	defer s.mu.Unlock()
	idx, ok := s.out[k]
	if !ok || s.conns[idx].state == stExpired {
		return netip.AddrPort{}, false
	}
	c := &s.conns[idx]
	return netip.AddrPortFrom(u32Addr(c.natAddr), c.natPort), true
}
