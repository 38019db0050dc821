package header

import "encoding/binary"

// Checksum returns the 16-bit one's complement sum of b added to initial,
// folded but not inverted (RFC 1071). Invert it to store a checksum.
func Checksum(b []byte, initial uint32) uint16 {
	sum := uint64(initial)
	for len(b) >= 8 {
		sum += uint64(binary.BigEndian.Uint32(b)) + uint64(binary.BigEndian.Uint32(b[4:]))
		b = b[8:]
	}
	for len(b) >= 2 {
		sum += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint64(b[0]) << 8
	}
	for sum>>16 != 0 {
		sum = (sum & 0xffff) + (sum >> 16)
	}
	return uint16(sum)
}

// PseudoHeaderSum returns the folded sum of the IPv4 pseudo-header for the
// given protocol and L4 length.
func PseudoHeaderSum(src, dst []byte, proto uint8, length int) uint32 {
	s := uint32(binary.BigEndian.Uint16(src)) + uint32(binary.BigEndian.Uint16(src[2:])) +
		uint32(binary.BigEndian.Uint16(dst)) + uint32(binary.BigEndian.Uint16(dst[2:])) +
		uint32(proto) + uint32(length)
	return s
}

// fold folds a 32-bit sum to 16 bits.
func fold(s uint32) uint16 {
	for s>>16 != 0 {
		s = (s & 0xffff) + (s >> 16)
	}
	return uint16(s)
}

// UpdateChecksum16 returns checksum c (as stored, inverted) after a 16-bit
// field changed from old to new (RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')).
func UpdateChecksum16(c, old, new uint16) uint16 {
	return ^fold(uint32(^c) + uint32(^old) + uint32(new))
}

// UpdateChecksum32 is UpdateChecksum16 for a 32-bit field (an IPv4 address).
func UpdateChecksum32(c uint16, old, new []byte) uint16 {
	s := uint32(^c) +
		uint32(^binary.BigEndian.Uint16(old)) + uint32(^binary.BigEndian.Uint16(old[2:])) +
		uint32(binary.BigEndian.Uint16(new)) + uint32(binary.BigEndian.Uint16(new[2:]))
	return ^fold(s)
}

// UpdatePartial16 adjusts a partial (pseudo-header-only, not inverted) L4
// checksum, as carried by frames with VIRTIO_NET_HDR_F_NEEDS_CSUM, when a
// pseudo-header field changes: the sum itself moves, the way the kernel's
// inet_proto_csum_replace4 does with pseudohdr set.
func UpdatePartial16(c, old, new uint16) uint16 {
	return fold(uint32(c) + uint32(^old) + uint32(new))
}

// UpdatePartial32 is UpdatePartial16 for a 32-bit field.
func UpdatePartial32(c uint16, old, new []byte) uint16 {
	s := uint32(c) +
		uint32(^binary.BigEndian.Uint16(old)) + uint32(^binary.BigEndian.Uint16(old[2:])) +
		uint32(binary.BigEndian.Uint16(new)) + uint32(binary.BigEndian.Uint16(new[2:]))
	return fold(s)
}
