package nat

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/vpcnet/vpcnet/dataplane/header"
)

// A slow reference model of the NAT gateway (NAT-2..NAT-5): plain maps, a
// full scan for expiry, and port choice left to the gateway (observed from
// the translated packet and checked for uniqueness).

type mState int

const (
	mOpen mState = iota
	mClosing
	mExpired
)

type mOutKey struct {
	proto        uint8
	priv, remote netip.AddrPort
}

type mInKey struct {
	proto       uint8
	nat, remote netip.AddrPort
}

type mConn struct {
	k             mOutKey
	nat           netip.AddrPort
	state         mState
	finOut, finIn bool
	lastSeen      int64
}

type model struct {
	addrs                []netip.Addr
	portMin, portMax     uint16
	limit                int
	idle, closed, retain int64
	now                  int64
	out                  map[mOutKey]*mConn
	in                   map[mInKey]*mConn
	idleCount, errPort   uint64
	attempts             uint64
	evicted              int
}

func (m *model) inKey(c *mConn) mInKey { return mInKey{c.k.proto, c.nat, c.k.remote} }

func (m *model) del(c *mConn) {
	delete(m.out, c.k)
	delete(m.in, m.inKey(c))
}

func (m *model) advance(now int64) {
	m.now = now
	for _, c := range m.out {
		if c.state == mOpen && now-c.lastSeen > m.idle {
			m.idleCount++
			if c.k.proto == header.ProtoTCP {
				c.state = mExpired
			} else {
				m.del(c)
			}
		}
	}
	for _, c := range m.out {
		if (c.state == mClosing && now-c.lastSeen > m.closed) || (c.state == mExpired && now-c.lastSeen > m.idle+m.retain) {
			m.del(c)
		}
	}
}

func (m *model) live() (n uint64) {
	for _, c := range m.out {
		if c.state != mExpired {
			n++
		}
	}
	return n
}

func (m *model) touch(c *mConn, out bool, flags uint8) {
	c.lastSeen = m.now
	if c.k.proto != header.ProtoTCP {
		return
	}
	if out && c.state == mClosing && flags&(header.TCPSyn|header.TCPAck) == header.TCPSyn {
		c.state, c.finOut, c.finIn = mOpen, false, false
	}
	if flags&header.TCPFin != 0 {
		if out {
			c.finOut = true
		} else {
			c.finIn = true
		}
	}
	if flags&header.TCPRst != 0 || (c.finOut && c.finIn) {
		c.state = mClosing
	}
}

// outbound predicts the verdict; for a new connection, got is the
// translated source the gateway chose, which the model checks and adopts.
func (m *model) outbound(k mOutKey, flags, icmpType uint8, v Verdict, got netip.AddrPort) error {
	want := func(w Verdict) error {
		if v != w {
			return fmt.Errorf("outbound %+v flags %#x type %d: gateway %v, model %v", k, flags, icmpType, v, w)
		}
		return nil
	}
	c := m.out[k]
	switch {
	case c != nil && c.state != mExpired:
		if err := want(OK); err != nil {
			return err
		}
		if got != c.nat {
			return fmt.Errorf("outbound %+v: translated to %v, mapping is %v", k, got, c.nat)
		}
		m.touch(c, true, flags)
		return nil
	case k.proto == header.ProtoTCP && flags&(header.TCPSyn|header.TCPAck|header.TCPRst) != header.TCPSyn:
		if flags&header.TCPRst != 0 {
			return want(DropUnsolicited)
		}
		return want(SendRST)
	case k.proto == header.ProtoICMP && !header.IsQueryRequest(icmpType):
		return want(DropUnsolicited)
	}
	if c != nil {
		m.del(c)
	}
	m.attempts++
	counts := make([]int, len(m.addrs))
	for _, o := range m.out {
		if o.state != mExpired && o.k.proto == k.proto && o.k.remote == k.remote {
			for i, a := range m.addrs {
				if o.nat.Addr() == a {
					counts[i]++
				}
			}
		}
	}
	best := -1
	for i, n := range counts {
		if n < m.limit && (best < 0 || n < counts[best]) {
			best = i
		}
	}
	if best < 0 {
		m.errPort++
		return want(DropPortAllocation)
	}
	if err := want(OK); err != nil {
		return err
	}
	if got.Addr() != m.addrs[best] || got.Port() < m.portMin || got.Port() > m.portMax {
		return fmt.Errorf("new %+v: got %v, want address %v (least loaded) and a port in range", k, got, m.addrs[best])
	}
	nc := &mConn{k: k, nat: got, state: mOpen}
	if o := m.in[m.inKey(nc)]; o != nil {
		if o.state != mExpired {
			return fmt.Errorf("new %+v: %v already used by live %+v", k, got, o.k)
		}
		m.del(o) // the expired connection's memory is forgotten
		m.evicted++
	}
	m.out[k], m.in[m.inKey(nc)] = nc, nc
	m.touch(nc, true, flags)
	return nil
}

func (m *model) inbound(k mInKey, flags, icmpType uint8, isErr bool, v Verdict, got netip.AddrPort) error {
	c := m.in[k]
	w := OK
	switch {
	case c == nil:
		w = DropUnsolicited
	case c.state == mExpired:
		w = DropUnsolicited
		if k.proto == header.ProtoTCP && !isErr && flags&header.TCPRst == 0 {
			w = SendRST
		}
	case !isErr && k.proto == header.ProtoICMP && header.IsQueryRequest(icmpType):
		w = DropUnsolicited
	}
	if v != w {
		return fmt.Errorf("inbound %+v flags %#x type %d err %v: gateway %v, model %v", k, flags, icmpType, isErr, v, w)
	}
	if w == OK {
		if got != c.k.priv {
			return fmt.Errorf("inbound %+v: translated to %v, want %v", k, got, c.k.priv)
		}
		if !isErr {
			m.touch(c, false, flags)
		}
	}
	return nil
}

// TestNATReferenceModel drives the Gateway and the model with the same
// random sequences of connections, replies, ICMP errors, time steps and
// sweeps, and demands identical verdicts, translations and counters.
func TestNATReferenceModel(t *testing.T) {
	seeds := 300
	if testing.Short() {
		seeds = 30
	}
	var seen [numVerdicts]int
	evicted := 0
	for seed := range seeds {
		if err := runModel(t, uint64(seed), 1500, &seen, &evicted); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	}
	// The sequences must reach every outcome, or the comparison proves little.
	for _, v := range []Verdict{OK, DropPortAllocation, DropUnsolicited, SendRST} {
		if seen[v] == 0 {
			t.Errorf("no %v in any sequence", v)
		}
	}
	if evicted == 0 {
		t.Error("no port taken over from an expired connection")
	}
	t.Logf("verdicts %v, expired connections' ports reused %d", seen, evicted)
}

func runModel(tb testing.TB, seed uint64, steps int, seen *[numVerdicts]int, evicted *int) error {
	rng := rand.New(rand.NewPCG(seed, 99))
	addrs := []netip.Addr{ad("10.0.0.9"), ad("10.0.0.10")}
	cfg := Config{Addrs: addrs, PortMin: 5000, PortMax: 5003, MaxPerDestination: 2,
		IdleTimeout: 100, ClosedTimeout: 20, TimeWaitTimeout: 20, ExpiredRetention: 50, Seed: seed + 1}
	if seed%3 == 0 {
		cfg.Addrs = addrs[:1]
	}
	g := NewGateway(cfg)
	m := &model{addrs: cfg.Addrs, portMin: 5000, portMax: 5003, limit: 2, idle: 100, closed: 20, retain: 50,
		out: map[mOutKey]*mConn{}, in: map[mInKey]*mConn{}}
	privs := []netip.Addr{ad("10.0.1.5"), ad("10.0.1.6"), ad("10.0.1.7")}
	remotes := []netip.Addr{ad("1.1.1.1"), ad("2.2.2.2")}
	protos := []uint8{header.ProtoTCP, header.ProtoUDP, header.ProtoICMP}
	tcpFlags := []uint8{header.TCPSyn, header.TCPSyn, header.TCPSyn | header.TCPAck, header.TCPAck,
		header.TCPAck | header.TCPPsh, header.TCPFin | header.TCPAck, header.TCPRst, header.TCPRst | header.TCPAck}
	pick := func(n int) int { return rng.IntN(n) }
	var now int64
	build := func(proto uint8, src, dst netip.AddrPort, flags, typ uint8) []byte {
		switch proto {
		case header.ProtoTCP:
			return tcpPkt(tb, src, dst, flags, []byte("p"))
		case header.ProtoUDP:
			return udpPkt(tb, src, dst, []byte("p"))
		}
		return icmpPkt(tb, src.Addr(), dst.Addr(), typ, src.Port()|dst.Port(), []byte("p"))
	}
	for step := range steps {
		var err error
		switch r := pick(100); {
		case r < 40: // an instance sends
			proto := protos[pick(3)]
			k := mOutKey{proto, netip.AddrPortFrom(privs[pick(3)], uint16(1000+pick(2))), netip.AddrPortFrom(remotes[pick(2)], uint16(80+pick(2)))}
			flags, typ := tcpFlags[pick(len(tcpFlags))], uint8(header.ICMPEcho)
			if proto == header.ProtoICMP {
				k.remote = netip.AddrPortFrom(k.remote.Addr(), 0)
				if pick(5) == 0 {
					typ = header.ICMPEchoReply
				}
			}
			p := build(proto, k.priv, k.remote, flags, typ)
			v := g.Outbound(p, false, now)
			seen[v]++
			m.advance(now)
			err = m.outbound(k, flags, typ, v, natSrc(p))
			if err == nil && v == OK && (!ipHeaderOK(p) || !l4OK(p)) {
				err = fmt.Errorf("bad checksum after outbound")
			}
		case r < 75: // the remote sends to a mapping (maybe expired) or a random NAT port
			var k mInKey
			if len(m.in) > 0 && pick(4) != 0 {
				i := pick(len(m.in))
				for ik := range m.in {
					if i == 0 {
						k = ik
						break
					}
					i--
				}
			} else {
				proto := protos[pick(3)]
				k = mInKey{proto, netip.AddrPortFrom(addrs[pick(2)], uint16(4999+pick(6))), netip.AddrPortFrom(remotes[pick(2)], uint16(80+pick(2)))}
				if proto == header.ProtoICMP {
					k.remote = netip.AddrPortFrom(k.remote.Addr(), 0)
				}
			}
			flags, typ := tcpFlags[pick(len(tcpFlags))], uint8(header.ICMPEchoReply)
			if pick(6) == 0 {
				typ = header.ICMPEcho
			}
			var p []byte
			isErr := pick(8) == 0
			if isErr {
				// An ICMP error from a router about a packet the NAT sent.
				q := build(k.proto, k.nat, k.remote, header.TCPAck, header.ICMPEcho)
				p = icmpErr(tb, ad("203.0.113.1"), k.nat.Addr(), header.ICMPDestUnreach, 1, q, 28)
			} else {
				p = build(k.proto, k.remote, k.nat, flags, typ)
			}
			v := g.Inbound(p, false, now)
			seen[v]++
			m.advance(now)
			var got netip.AddrPort
			if isErr {
				s, _, sp, _ := fields(p[28:])
				got = netip.AddrPortFrom(s, sp)
			} else {
				_, d, _, dp := fields(p)
				got = netip.AddrPortFrom(d, dp)
			}
			err = m.inbound(k, flags, typ, isErr, v, got)
			if err == nil && v == OK && (!ipHeaderOK(p) || !l4OK(p)) {
				err = fmt.Errorf("bad checksum after inbound")
			}
		case r < 92:
			now += int64(1 + pick(30))
		case r < 97:
			now += int64(60 + pick(150))
		default:
			g.Sweep(now)
			m.advance(now)
			st := g.Stats()
			if st.ActiveConnectionCount != m.live() || st.IdleTimeoutCount != m.idleCount ||
				st.ErrorPortAllocation != m.errPort || st.ConnectionAttemptCount != m.attempts {
				err = fmt.Errorf("stats %+v; model active %d idle %d errPort %d attempts %d",
					st, m.live(), m.idleCount, m.errPort, m.attempts)
			}
			for _, c := range m.out {
				if c.state == mExpired {
					continue
				}
				if got, ok := g.Mapping(c.k.proto, c.k.priv, c.k.remote); !ok || got != c.nat {
					err = fmt.Errorf("Mapping(%+v) = %v %v, model %v", c.k, got, ok, c.nat)
				}
			}
		}
		if err != nil {
			return fmt.Errorf("step %d (t=%d): %w", step, now, err)
		}
	}
	*evicted += m.evicted
	return nil
}
