// Package nat holds vpcnet's address and port translation: allocation-free
// packet rewrites over []byte with incremental checksum updates (full RFC 1624
// checksums, or the partial pseudo-header sums of virtio NEEDS_CSUM frames),
// the internet gateway's 1:1 table (IGW-1, IGW-2, EIP-2) and the NAT
// gateway's port-translating connection table (NAT-1..NAT-6).
//
// The package makes no syscalls: everything is fuzzable and benchmarkable
// without root. Packets are IPv4 packets starting at the IP header; the
// caller owns the buffer, which the functions modify in place and do not
// retain after they return.
//
// Time is an int64 of nanoseconds on any clock that does not go backwards
// (the caller's, or a fake in tests); the package never reads a clock.
package nat
