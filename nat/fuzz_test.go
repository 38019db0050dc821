package nat

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/vpcnet/vpcnet/dataplane/header"
)

// checks records which checksums of a packet verify: the IPv4 header, the
// L4 part (full, or partial: the field holds the pseudo-header sum; only for
// an unfragmented packet), and for an ICMP error the quoted IPv4 header and,
// when the quoted packet is complete, its L4 checksum.
type checks struct{ ip, l4, qip, ql4 bool }

func checkAll(p []byte, partial bool) checks {
	var c checks
	ihl, ip, ok := ipv4Bounds(p)
	if !ok {
		return c
	}
	c.ip = ipHeaderOK(ip)
	if binary.BigEndian.Uint16(ip[6:])&0x3fff != 0 { // fragment
		return c
	}
	l4 := ip[ihl:]
	switch ip[9] {
	case header.ProtoTCP, header.ProtoUDP:
		if len(l4) < 8 || (ip[9] == header.ProtoTCP && len(l4) < 20) {
			return c
		}
		if partial {
			c.l4 = partialOK(ip)
		} else {
			c.l4 = l4OK(ip)
		}
	case header.ProtoICMP:
		if len(l4) < 8 {
			return c
		}
		c.l4 = !partial && l4OK(ip)
		if isICMPError(l4[0]) {
			q := l4[8:]
			qhl, qip, ok := ipv4Bounds(q)
			if ok && qhl > 0 {
				c.qip = ipHeaderOK(qip)
				if binary.BigEndian.Uint16(qip[6:])&0x3fff == 0 && len(qip) == len(q) {
					c.ql4 = l4OK(qip)
				}
			}
		}
	}
	return c
}

// fixup makes data a well-formed packet of protocol proto with valid
// checksums (partial: the pseudo-header sum), optionally an ICMP error
// quoting a well-formed packet.
func fixup(data []byte, proto uint8, partial, quote bool) []byte {
	if len(data) < 48 {
		data = append(data, make([]byte, 48-len(data))...)
	}
	data = data[:min(len(data), 1500)]
	p := data
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	binary.BigEndian.PutUint16(p[6:], 0)
	p[9] = proto
	l4 := p[20:]
	switch proto {
	case header.ProtoUDP:
		binary.BigEndian.PutUint16(l4[4:], uint16(len(l4)))
	case header.ProtoTCP:
		l4[12] = 5 << 4
	case header.ProtoICMP:
		if quote && len(l4) >= 8+48 {
			l4[0] = header.ICMPDestUnreach
			fixup(l4[8:], []uint8{header.ProtoTCP, header.ProtoUDP, header.ProtoICMP}[l4[1]%3], false, false)
		}
	}
	header.IPv4(p).SetChecksum(0)
	header.IPv4(p).SetChecksum(header.IPv4(p).ComputeChecksum())
	off := l4CsumOff(proto)
	binary.BigEndian.PutUint16(l4[off:], 0)
	makePartial(p)
	if !partial {
		complete(p)
	}
	return p
}

// FuzzRewrite: any bytes, any address, port and mode: no panic, nothing
// changed when refused, and every checksum that verified before verifies
// after. With fix set, the input is first made into a valid packet so that
// the property is exercised on every run.
func FuzzRewrite(f *testing.F) {
	f.Add([]byte("0123456789abcdefghijklmnopqrstuvwxyz0123456789ab"), uint32(0x36000001), uint16(1024), uint8(0), uint8(6), true)
	f.Add(tcpPkt(f, ap("10.0.1.5:40000"), remote, header.TCPAck, []byte("x")), uint32(0x0a000009), uint16(65535), uint8(1), uint8(6), false)
	f.Add(udpPkt(f, ap("10.0.1.5:5353"), ap("8.8.8.8:53"), nil), uint32(0), uint16(0), uint8(7), uint8(17), false)
	f.Add(icmpErr(f, ad("1.2.3.4"), natA, 3, 3, udpPkt(f, ap("10.0.0.9:3000"), ap("8.8.8.8:53"), []byte("q")), 0), uint32(0x0a000105), uint16(5353), uint8(2), uint8(1), false)
	f.Add(icmpPkt(f, ad("10.0.1.5"), ad("1.1.1.1"), header.ICMPEcho, 1, nil), uint32(7), uint16(2), uint8(4), uint8(1), true)
	f.Fuzz(func(t *testing.T, data []byte, addr uint32, port uint16, mode uint8, proto uint8, fix bool) {
		partial, src, setPort := mode&1 != 0, mode&2 != 0, mode&4 != 0
		if fix {
			proto = []uint8{header.ProtoTCP, header.ProtoUDP, header.ProtoICMP, header.ProtoICMP}[proto%4]
			data = fixup(append([]byte(nil), data...), proto, partial, mode&8 != 0)
		}
		p := append([]byte(nil), data...)
		before := checkAll(p, partial)
		var a [4]byte
		binary.BigEndian.PutUint32(a[:], addr)
		ok := rewrite(p, src, a, port, setPort, partial)
		if !ok {
			if !bytes.Equal(p, data) {
				t.Fatal("refused but changed")
			}
			return
		}
		after := checkAll(p, partial)
		if (before.ip && !after.ip) || (before.l4 && !after.l4) || (before.qip && !after.qip) || (before.ql4 && !after.ql4) {
			t.Fatalf("checksums before %+v after %+v\nin  % x\nout % x", before, after, data, p)
		}
		if fix && !(after.ip && (after.l4 || partial && proto == header.ProtoICMP)) {
			t.Fatalf("fixed-up packet invalid after rewrite: %+v % x", after, p)
		}
		off := 16
		if src {
			off = 12
		}
		if netip.AddrFrom4([4]byte(p[off:off+4])) != netip.AddrFrom4(a) {
			t.Fatal("address not set")
		}
		// BuildRST must not panic on whatever came out.
		BuildRST(make([]byte, RSTLen), p)
	})
}

// FuzzGateway: random packets (some truncated, some partial) in both
// directions at random times never panic, OK packets keep a valid IPv4
// header, and SendRST is only given for packets BuildRST can answer. The
// semantics are checked by TestNATReferenceModel.
func FuzzGateway(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Fuzz(func(t *testing.T, ops []byte) {
		g := NewGateway(Config{Addrs: []netip.Addr{natA, natB}, PortMin: 5000, PortMax: 5007, MaxPerDestination: 3,
			IdleTimeout: 100, ClosedTimeout: 10, ExpiredRetention: 30, Seed: 1})
		var now int64
		for len(ops) >= 4 {
			op, a, b, c := ops[0], ops[1], ops[2], ops[3]
			ops = ops[4:]
			local := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 1, a & 3}), uint16(1000+int(b&3)))
			rem := netip.AddrPortFrom(netip.AddrFrom4([4]byte{1, 1, 1, a >> 6}), uint16(80+int(b>>6)))
			natp := netip.AddrPortFrom([]netip.Addr{natA, natB}[c&1], uint16(5000+int(c>>5)))
			var p []byte
			switch op % 8 {
			case 0, 1:
				p = tcpPkt(t, local, rem, c&0x1f, nil)
			case 2:
				p = udpPkt(t, local, rem, nil)
			case 3:
				p = icmpPkt(t, local.Addr(), rem.Addr(), []uint8{8, 0, 13, 3}[c&3], local.Port(), nil)
			case 4:
				p = tcpPkt(t, rem, natp, c&0x1f, nil)
			case 5:
				p = udpPkt(t, rem, natp, nil)
			case 6:
				p = icmpPkt(t, rem.Addr(), natp.Addr(), []uint8{0, 8, 14, 3}[c&3], natp.Port(), nil)
			case 7:
				now += int64(b)
				g.Sweep(now)
				continue
			}
			partial := op&8 != 0 && p[9] != header.ProtoICMP
			if partial {
				makePartial(p)
			}
			if op&16 != 0 {
				p = p[:int(c)%len(p)] // truncated garbage
			}
			var v Verdict
			if op%8 < 4 {
				v = g.Outbound(p, partial, now)
			} else {
				v = g.Inbound(p, partial, now)
			}
			if v == OK {
				if op&16 != 0 && len(p) < 20 {
					t.Fatal("OK for a truncated packet")
				}
				if !ipHeaderOK(p) {
					t.Fatal("IPv4 checksum")
				}
			}
			if v == SendRST && BuildRST(make([]byte, RSTLen), p) != RSTLen {
				t.Fatal("SendRST for a packet BuildRST cannot answer")
			}
		}
		st := g.Stats()
		if st.ActiveConnectionCount > 2*3*2*4*3 {
			t.Fatalf("too many connections %+v", st)
		}
	})
}
