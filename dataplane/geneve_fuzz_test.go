//go:build linux

package dataplane

import (
	"bytes"
	"testing"

	"github.com/google/gopacket/layers"

	"github.com/vpcnet/vpcnet/dataplane/header"
)

// geneveFields is a datagram's Geneve header and first option, read field
// by field as RFC 8926 3.4 and 3.5 draw them: the slow reference that
// parseGeneve is held to.
type geneveFields struct {
	version, optWords int
	oam               bool
	protocol          uint16
	vni               uint32
	optClass          uint16
	optType           int // critical bit excluded
	optWords1         int // the option's data, in 4-byte words
}

func readGeneveFields(d []byte) geneveFields {
	return geneveFields{
		version:   int(d[0] >> 6),
		optWords:  int(d[0] & 0b0011_1111),
		oam:       d[1]&0b1000_0000 != 0,
		protocol:  uint16(d[2])<<8 | uint16(d[3]),
		vni:       uint32(d[4])<<16 | uint32(d[5])<<8 | uint32(d[6]),
		optClass:  uint16(d[8])<<8 | uint16(d[9]),
		optType:   int(d[10] & 0b0111_1111),
		optWords1: int(d[11] & 0b0001_1111),
	}
}

// geneveAccepts is what vpcnet takes from the underlay: version 0, the
// options 4 words long and exactly vpcnet's (class 0xff00, type 1, 3 words
// of data: the virtio-net header), Ethernet inside (0x6558) and at least an
// Ethernet header of it; not an OAM (control) packet, whose payload RFC
// 8926 3.4 forbids forwarding. The C bit, the reserved bits and the byte
// after the VNI are ignored on receipt (RFC 8926 3.4).
func geneveAccepts(d []byte) (uint32, bool) {
	if len(d) < 8+16+14 {
		return 0, false
	}
	f := readGeneveFields(d)
	ok := f.version == 0 && f.optWords == 4 && !f.oam && f.protocol == uint16(layers.EthernetTypeTransparentEthernetBridging) &&
		f.optClass == 0xff00 && f.optType == 1 && f.optWords1 == 3
	return f.vni, ok
}

// parseGeneve never panics, accepts exactly what the reference accepts,
// with its VNI; and a datagram made by geneveHeader, whatever its VNI and
// the frame after, is accepted with that VNI.
func FuzzParseGeneve(f *testing.F) {
	frame := make([]byte, header.VnetHdrLen+60)
	for i := range frame {
		frame[i] = byte(i)
	}
	good := geneveDatagram(100, frame)
	edit := func(fn func(d []byte)) []byte { d := bytes.Clone(good); fn(d); return d }
	for _, s := range [][]byte{
		good,
		geneveDatagram(0xffffff, frame),
		geneveDatagram(1, frame[:header.VnetHdrLen+14]), // the shortest accepted
		good[:geneveLen+13],                             // one byte short
		nil,
		good[:1],
		good[:geneveHdrLen],
		good[:geneveLen],
		edit(func(d []byte) { d[0] |= 0x40 }), // version 1
		edit(func(d []byte) { d[0] = 0 }),     // no options
		edit(func(d []byte) { d[0] = 0x3f }),  // 63 words of options
		edit(func(d []byte) { d[1] = 0x80 }),  // OAM
		edit(func(d []byte) { d[1] = 0x40 }),  // critical options present
		edit(func(d []byte) { d[1] = 0x3f }),  // reserved bits
		edit(func(d []byte) { d[2], d[3] = 0x08, 0x00 }),
		edit(func(d []byte) { d[7] = 0xff }),  // reserved byte after the VNI
		edit(func(d []byte) { d[8] = 0x01 }),  // class 0x0100
		edit(func(d []byte) { d[9] = 0x01 }),  // class 0xff01
		edit(func(d []byte) { d[10] = 0x81 }), // our type, critical
		edit(func(d []byte) { d[10] = 0x02 }), // another type
		edit(func(d []byte) { d[11] = 0xe3 }), // reserved bits, 3 words
		edit(func(d []byte) { d[11] = 0x1f }), // 31 words
		edit(func(d []byte) { d[11] = 0x00 }), // no data
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, d []byte) {
		vni, ok := parseGeneve(d)
		wantVNI, wantOK := geneveAccepts(d)
		if ok != wantOK || ok && vni != wantVNI {
			t.Fatalf("parseGeneve(% x) = %d, %v; want %d, %v", d, vni, ok, wantVNI, wantOK)
		}
		// Our own header in front of whatever follows it.
		var v [4]byte
		copy(v[:], d)
		vni = (uint32(v[0])<<16 | uint32(v[1])<<8 | uint32(v[2])) | 1 // never 0
		var tail []byte
		if len(d) > 4 {
			tail = d[4:]
		}
		ours := geneveHeader(vni)
		dg := append(ours[:], tail...)
		got, ok := parseGeneve(dg)
		if want := len(dg) >= geneveLen+header.EthernetLen; ok != want || ok && got != vni {
			t.Fatalf("parseGeneve of geneveHeader(%d) and %d bytes = %d, %v; want %d, %v", vni, len(tail), got, ok, vni, want)
		}
	})
}
