package header

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// refChecksum is RFC 1071 the slow way: 16-bit words, carries folded at the end.
func refChecksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

func TestChecksumMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 300; n++ {
		b := make([]byte, r.IntN(200))
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		if got, want := Checksum(b, 0), refChecksum(b); got != want {
			t.Fatalf("len %d: got %#04x want %#04x", len(b), got, want)
		}
	}
}

// TestIncrementalUpdates: RFC 1624 updates equal a full recomputation, for
// full checksums and for partial (pseudo-header) sums.
func TestIncrementalUpdates(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for n := 0; n < 2000; n++ {
		b := make([]byte, 20)
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		full := ^Checksum(b, 0)
		partial := Checksum(b, 0)
		off := 2 * r.IntN(9) // a 32-bit field at an even offset
		old := append([]byte(nil), b[off:off+4]...)
		binary.BigEndian.PutUint32(b[off:], r.Uint32())
		if got, want := UpdateChecksum32(full, old, b[off:off+4]), ^Checksum(b, 0); got != want && !(got == 0xffff && want == 0) && !(got == 0 && want == 0xffff) {
			t.Fatalf("UpdateChecksum32: got %#04x want %#04x", got, want)
		}
		if got, want := UpdatePartial32(partial, old, b[off:off+4]), Checksum(b, 0); got != want && !(got == 0xffff && want == 0) && !(got == 0 && want == 0xffff) {
			t.Fatalf("UpdatePartial32: got %#04x want %#04x", got, want)
		}
		full, partial = ^Checksum(b, 0), Checksum(b, 0)
		o16 := binary.BigEndian.Uint16(b[off:])
		n16 := uint16(r.UintN(65536))
		binary.BigEndian.PutUint16(b[off:], n16)
		if got, want := UpdateChecksum16(full, o16, n16), ^Checksum(b, 0); got != want && !(got == 0xffff && want == 0) && !(got == 0 && want == 0xffff) {
			t.Fatalf("UpdateChecksum16: got %#04x want %#04x", got, want)
		}
		if got, want := UpdatePartial16(partial, o16, n16), Checksum(b, 0); got != want && !(got == 0xffff && want == 0) && !(got == 0 && want == 0xffff) {
			t.Fatalf("UpdatePartial16: got %#04x want %#04x", got, want)
		}
	}
}

func TestIPv4HeaderChecksum(t *testing.T) {
	// A header from RFC 1071 examples style: checksum field zero, then set.
	h := IPv4{0x45, 0, 0, 0x54, 0xab, 0xcd, 0x40, 0, 64, 1, 0, 0, 10, 0, 1, 10, 10, 0, 2, 10}
	h.SetChecksum(h.ComputeChecksum())
	if Checksum(h[:20], 0) != 0xffff {
		t.Fatal("a header with its computed checksum does not sum to 0xffff")
	}
	if h.Src().String() != "10.0.1.10" || h.Dst().String() != "10.0.2.10" || h.HeaderLen() != 20 || h.TotalLen() != 0x54 || h.Protocol() != 1 {
		t.Fatalf("accessors: %v %v %d %d", h.Src(), h.Dst(), h.HeaderLen(), h.TotalLen())
	}
}

func BenchmarkChecksum1500(b *testing.B) {
	buf := make([]byte, 1500)
	b.SetBytes(1500)
	b.ReportAllocs()
	for b.Loop() {
		Checksum(buf, 0)
	}
}
