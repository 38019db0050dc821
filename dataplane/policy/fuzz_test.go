package policy

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"testing"
)

func FuzzParseProtocol(f *testing.F) {
	for _, s := range []string{"tcp", "UDP", " icmp ", "all", "-1", "0", "6", "255", "256", "-2", "+17", "", "x", "1e2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseProtocol(s)
		if err != nil {
			if p != 0 {
				t.Fatalf("ParseProtocol(%q) = %d with error %v", s, p, err)
			}
			return
		}
		if p < -1 || p > 255 {
			t.Fatalf("ParseProtocol(%q) = %d, outside -1..255", s, p)
		}
		// Round trip through the number.
		if q, err := ParseProtocol(strconv.Itoa(int(p))); err != nil || q != p {
			t.Fatalf("ParseProtocol(%q) = %d, but ParseProtocol(%d) = %d, %v", s, p, p, q, err)
		}
	})
}

func FuzzParsePortRange(f *testing.F) {
	for _, s := range []string{"80", "1024-65535", "From=1024,To=65535", "from=1,to=1", "0-0", "65536", "5-3",
		"-1", "From=80", "To=80,From=79", "a-b", " 22 ", "1-2-3", "From=1,Bogus=2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		from, to, err := ParsePortRange(s)
		if err != nil {
			if from != 0 || to != 0 {
				t.Fatalf("ParsePortRange(%q) = %d, %d with error %v", s, from, to, err)
			}
			return
		}
		if !(0 <= from && from <= to && to <= 65535) {
			t.Fatalf("ParsePortRange(%q) = %d..%d, want 0 ≤ from ≤ to ≤ 65535", s, from, to)
		}
		for _, form := range []string{
			strconv.Itoa(int(from)) + "-" + strconv.Itoa(int(to)),
			"From=" + strconv.Itoa(int(from)) + ",To=" + strconv.Itoa(int(to)),
		} {
			if f2, t2, err := ParsePortRange(form); err != nil || f2 != from || t2 != to {
				t.Fatalf("ParsePortRange(%q) = %d..%d, but ParsePortRange(%q) = %d..%d, %v", s, from, to, form, f2, t2, err)
			}
		}
		if from == to {
			if f2, t2, err := ParsePortRange(strconv.Itoa(int(from))); err != nil || f2 != from || t2 != to {
				t.Fatalf("single port %d: %d..%d, %v", from, f2, t2, err)
			}
		}
	})
}

func FuzzParseCIDR(f *testing.F) {
	for _, s := range []string{"10.0.0.0/16", "10.0.0.1/16", "0.0.0.0/0", "1.2.3.4/32", "::/0", "::ffff:10.0.0.0/104",
		"10.0.0.0/33", "10.0.0.0", " 192.168.0.0/24 ", "10.0.0.0/016", "fe80::1%eth0/64"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseCIDR(s)
		if err != nil {
			if p.IsValid() {
				t.Fatalf("ParseCIDR(%q) = %v with error %v", s, p, err)
			}
			return
		}
		if !p.IsValid() || !p.Addr().Is4() {
			t.Fatalf("ParseCIDR(%q) = %v, not IPv4", s, p)
		}
		if p.Masked() != p {
			t.Fatalf("ParseCIDR(%q) = %v, not masked", s, p)
		}
		if q, err := ParseCIDR(p.String()); err != nil || q != p {
			t.Fatalf("ParseCIDR(%q) = %v, but ParseCIDR(%q) = %v, %v", s, p, p.String(), q, err)
		}
	})
}

// FuzzACLCheck: rules and packets from bytes; Check (cached or not) always
// equals evaluate(), and with unique rule numbers in 1..32766 both equal
// the reference model (NACL-2).
func FuzzACLCheck(f *testing.F) {
	f.Add([]byte{0, 100, 6, 0, 80, 0, 80, 10, 0, 0, 0, 8, 1}, []byte{10, 0, 0, 1, 6, 0, 80, 0, 1})
	f.Add([]byte{1, 1, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 50, 1, 8, 0, 0, 192, 0, 2, 0, 24, 0}, []byte{192, 0, 2, 9, 1, 8, 0, 1, 0})
	f.Fuzz(func(t *testing.T, rb, pb []byte) {
		const ruleLen = 13
		var in, out []ACLRule
		used := map[[2]int]bool{}
		for len(rb) >= ruleLen {
			b := rb[:ruleLen]
			rb = rb[ruleLen:]
			r := ACLRule{Number: 1 + int(binary.BigEndian.Uint16(b[0:2]))%32766, Allow: b[12]&1 != 0}
			switch b[2] {
			case 255:
				r.Proto = -1
			default:
				r.Proto = int16(b[2] % 64)
			}
			r.From, r.To = int32(b[3])<<8|int32(b[4]), int32(b[5])<<8|int32(b[6])
			if b[3] == 0xff {
				r.From = Any
			}
			if b[5] == 0xff {
				r.To = Any
			}
			if b[11]&0x80 == 0 {
				r.Prefix = netip.PrefixFrom(netip.AddrFrom4([4]byte(b[7:11])), int(b[11]%33)).Masked()
			}
			egress := b[12]&2 != 0
			if used[[2]int{r.Number, int(b[12] & 2)}] {
				continue // NACL-2: unique numbers per list
			}
			used[[2]int{r.Number, int(b[12] & 2)}] = true
			if egress {
				out = append(out, r)
			} else {
				in = append(in, r)
			}
		}
		acl := NewACL(in, out)
		ma := &mACL{ingress: in, egress: out}
		const pktLen = 9
		for len(pb) >= pktLen {
			b := pb[:pktLen]
			pb = pb[pktLen:]
			addr := netip.AddrFrom4([4]byte(b[0:4]))
			p := Packet{Src: addr, Dst: addr, Proto: b[4] % 64}
			p.DstPort = binary.BigEndian.Uint16(b[5:7])
			p.ICMPType, p.ICMPCode = b[5], b[6]
			p.SrcPort = uint16(b[7])
			eg := b[8]&1 != 0
			if eg {
				p.Src = netip.AddrFrom4([4]byte{10, 0, 0, b[7]})
			} else {
				p.Dst = netip.AddrFrom4([4]byte{10, 0, 0, b[7]})
			}
			wantA, wantR := acl.evaluate(eg, addr, &p)
			for i := 0; i < 2; i++ {
				gotA, gotR := acl.Check(eg, &p)
				if gotA != wantA || gotR != wantR {
					t.Fatalf("call %d: Check(%v, %+v) = %v %d, evaluate %v %d", i, eg, p, gotA, gotR, wantA, wantR)
				}
			}
			if mA, mR := ma.check(eg, &p); mA != wantA || mR != wantR {
				t.Fatalf("evaluate(%v, %+v) = %v %d, model %v %d", eg, p, wantA, wantR, mA, mR)
			}
		}
	})
}
