package nat

import (
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/vpcnet/vpcnet/dataplane/header"
)

// BenchmarkRewrite: source rewrite of a TCP segment (address and port),
// full and partial checksums.
func BenchmarkRewrite(b *testing.B) {
	for _, partial := range []bool{false, true} {
		name := "full"
		if partial {
			name = "partial"
		}
		b.Run(name, func(b *testing.B) {
			p := tcpPkt(b, ap("10.0.1.5:40000"), remote, header.TCPAck, make([]byte, 1400))
			addrs := [2]netip.Addr{ad("54.1.2.3"), ad("10.0.1.5")}
			b.ReportAllocs()
			b.SetBytes(int64(len(p)))
			for i := 0; b.Loop(); i++ {
				RewriteSrc(p, addrs[i&1], uint16(i), partial)
			}
		})
	}
}

// established returns a gateway with n connections to distinct
// destinations and the outbound packet and inbound reply of one of them.
func established(b *testing.B, n int) (*Gateway, []byte, []byte) {
	g := NewGateway(Config{Addrs: []netip.Addr{natA}})
	for i := range n {
		p := udpPkt(b, ap("10.0.1.5:5000"), netip.AddrPortFrom(netip.AddrFrom4([4]byte{8, 8, byte(i >> 8), byte(i)}), 53), nil)
		g.Outbound(p, false, 0)
	}
	out := tcpPkt(b, ap("10.0.1.5:40000"), remote, header.TCPSyn, nil)
	if g.Outbound(out, false, 0) != OK {
		b.Fatal("syn")
	}
	in := reply(b, out, header.TCPAck)
	out = tcpPkt(b, ap("10.0.1.5:40000"), remote, header.TCPAck, make([]byte, 1400))
	return g, out, in
}

// BenchmarkOutboundEstablished: one packet of an established connection,
// instance to internet, with 10000 other connections in the table.
func BenchmarkOutboundEstablished(b *testing.B) {
	g, out, _ := established(b, 10000)
	p := make([]byte, len(out))
	b.ReportAllocs()
	b.SetBytes(int64(len(out)))
	var now int64
	for b.Loop() {
		copy(p, out)
		now++
		if g.Outbound(p, false, now) != OK {
			b.Fatal("not OK")
		}
	}
}

// BenchmarkInboundEstablished: the reverse direction.
func BenchmarkInboundEstablished(b *testing.B) {
	g, _, in := established(b, 10000)
	p := make([]byte, len(in))
	b.ReportAllocs()
	var now int64
	for b.Loop() {
		copy(p, in)
		now++
		if g.Inbound(p, false, now) != OK {
			b.Fatal("not OK")
		}
	}
}

// BenchmarkOutboundParallel: established connections to different
// destinations from all Ps (shard contention).
func BenchmarkOutboundParallel(b *testing.B) {
	g := NewGateway(Config{Addrs: []netip.Addr{natA}})
	var worker atomic.Uint32
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		dst := netip.AddrPortFrom(netip.AddrFrom4([4]byte{8, 8, 8, byte(worker.Add(1))}), 53)
		out := udpPkt(b, ap("10.0.1.5:5000"), dst, make([]byte, 64))
		p := make([]byte, len(out))
		for pb.Next() {
			copy(p, out)
			g.Outbound(p, false, 1)
		}
	})
}

// BenchmarkNewConnection: opening connections (port allocation) until a
// destination holds 55000 of them, then reclaiming them.
func BenchmarkNewConnection(b *testing.B) {
	tmpl := tcpPkt(b, ap("10.0.1.5:1"), remote, header.TCPSyn, nil)
	p := make([]byte, len(tmpl))
	b.ReportAllocs()
	var g *Gateway
	n := 0
	for b.Loop() {
		if n%DefaultMaxPerDestination == 0 {
			g = NewGateway(Config{Addrs: []netip.Addr{natA}})
		}
		copy(p, tmpl)
		setSrc(p, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)}), 1000))
		if g.Outbound(p, false, 0) != OK {
			b.Fatal(n)
		}
		n++
	}
}

// BenchmarkOneToOne: IGW 1:1 translation with 1000 associations.
func BenchmarkOneToOne(b *testing.B) {
	var m OneToOne
	for i := range 1000 {
		_ = m.Set(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), netip.AddrFrom4([4]byte{54, 0, byte(i >> 8), byte(i)}))
	}
	out := tcpPkt(b, ap("10.0.1.5:40000"), remote, header.TCPAck, make([]byte, 1400))
	p := make([]byte, len(out))
	b.ReportAllocs()
	for b.Loop() {
		copy(p, out)
		if m.Outbound(p, false) != OK {
			b.Fatal("not OK")
		}
	}
}
