package dataplane

// IPv4 fragments (stage 1, after parse).
//
// Only the first fragment of a datagram (offset 0, MF set) carries its L4
// header; the others carry addresses, protocol and IP id only. AWS passes a
// fragmented datagram as it passes its flow: security groups, NACLs and
// NAT judge every fragment by the ports or ICMP id its first fragment
// showed. The forwarder does the same without reassembling:
//
//   - When a first fragment is parsed, the worker records what it showed
//     of its flow (ports, or ICMP type, code and id) under the datagram's
//     key (source, destination, IP id, protocol), as the frame arrived.
//   - A non-first fragment takes those fields from the record and then runs
//     the whole pipeline like its first fragment: the tracked flow the
//     first one opened or continued (SG-4), the NACLs with the flow's ports
//     (NACL-1), the route, the IGW's 1:1 NAT (IGW-1), and the NAT gateway
//     (NAT-2), which maps it by the same connection and rewrites only its
//     IPv4 header (the L4 checksum lives in the first fragment). So every
//     fragment gets its first fragment's decision, and is counted and named
//     like it when dropped.
//   - A non-first fragment with no record (its first fragment came later,
//     never, to another worker, or was evicted) is dropped as
//     fragment-without-first. Holding early fragments back is not done: a
//     Linux sender emits the first fragment first.
//   - A TCP fragment at offset 8 could overwrite the TCP flags the first
//     fragment was judged by (RFC 1858): dropped as fragment-overlaps-tcp.
//
// The table is per worker, so it takes no lock: all fragments of a datagram
// come from the same port, and the same queue of it, because the kernel
// hashes fragments on addresses and protocol only (no ports), and every hop
// of the datagram inside the forwarder runs on the worker that read it. It
// has a fixed size (fragSlots records, allocated once, on the worker's
// first fragment): a sender flooding fragments evicts its own oldest
// records and cannot grow memory or touch another port's table. A record
// expires fragTimeout after its first fragment, like the kernel's
// ipfrag_time, and is freed as soon as every byte of its datagram has
// passed.

import (
	"math/rand/v2"

	"github.com/vpcnet/vpcnet/dataplane/header"
	"github.com/vpcnet/vpcnet/dataplane/policy"
)

const (
	fragWays       = 4 // records per bucket
	fragBucketBits = 6
	fragBuckets    = 1 << fragBucketBits
	fragSlots      = fragWays * fragBuckets // datagrams in flight per worker
	fragTimeout    = 30e9                   // ns: Linux's net.ipv4.ipfrag_time
)

// fragKey identifies a datagram (RFC 791).
type fragKey struct {
	src, dst [4]byte
	id       uint16
	proto    uint8
}

// fragEntry is what a first fragment showed of its flow. expires 0: free.
type fragEntry struct {
	key                fragKey
	expires            int64
	seq                uint64 // order of recording: the lowest is evicted first
	srcPort, dstPort   uint16
	icmpID             uint16
	icmpType, icmpCode uint8
	seen               uint32 // payload bytes of the datagram passed so far
	total              uint32 // its payload length, known from its last fragment; 0 before
}

// fragTable is a worker's record of datagrams in flight, a set-associative
// table of fragSlots entries. Only its worker uses it.
type fragTable struct {
	seed    uint64
	seq     uint64 // records made
	buckets [fragBuckets][fragWays]fragEntry
}

func newFragTable() *fragTable { return &fragTable{seed: rand.Uint64()} }

func fragKeyOf(ip header.IPv4) fragKey {
	return fragKey{src: [4]byte(ip.SrcBytes()), dst: [4]byte(ip.DstBytes()), id: ip.ID(), proto: ip.Protocol()}
}

func (t *fragTable) bucket(k *fragKey) *[fragWays]fragEntry {
	h := uint64(k.src[0])<<56 | uint64(k.src[1])<<48 | uint64(k.src[2])<<40 | uint64(k.src[3])<<32 |
		uint64(k.dst[0])<<24 | uint64(k.dst[1])<<16 | uint64(k.dst[2])<<8 | uint64(k.dst[3])
	h ^= t.seed ^ uint64(k.id)<<17 ^ uint64(k.proto)<<7
	h *= 0x9e3779b97f4a7c15
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	return &t.buckets[h>>(64-fragBucketBits)]
}

// first records the first fragment ip of a datagram, whose parsed L4 fields
// are in m, at time now. A record of the same datagram (a repeated first
// fragment, or an IP id reused) is replaced; else a free or expired one is
// taken, else the oldest of the bucket is evicted.
func (t *fragTable) first(ip header.IPv4, m *policy.Packet, now int64) {
	k := fragKeyOf(ip)
	b := t.bucket(&k)
	e := &b[0]
	for i := range b {
		c := &b[i]
		if c.expires != 0 && c.key == k {
			e = c
			break
		}
		if c.expires <= now { // free or expired
			e = c
		} else if e.expires > now && c.seq < e.seq {
			e = c
		}
	}
	t.seq++
	*e = fragEntry{key: k, expires: now + fragTimeout, seq: t.seq,
		srcPort: m.SrcPort, dstPort: m.DstPort, icmpID: m.ICMPID, icmpType: m.ICMPType, icmpCode: m.ICMPCode,
		seen: uint32(len(ip) - ip.HeaderLen())}
}

// match fills m's L4 fields for the non-first fragment ip from its first
// fragment's record, and reports whether there was one. When the last byte
// of the datagram has passed, the record is freed.
func (t *fragTable) match(ip header.IPv4, m *policy.Packet, now int64) bool {
	k := fragKeyOf(ip)
	b := t.bucket(&k)
	for i := range b {
		e := &b[i]
		if e.expires == 0 || e.key != k {
			continue
		}
		if e.expires <= now {
			e.expires = 0
			return false
		}
		m.SrcPort, m.DstPort, m.ICMPID, m.ICMPType, m.ICMPCode, m.TCPFlags = e.srcPort, e.dstPort, e.icmpID, e.icmpType, e.icmpCode, 0
		n := uint32(len(ip) - ip.HeaderLen())
		e.seen += n
		if !ip.MoreFragments() {
			e.total = uint32(ip.FragOffset()) + n
		}
		if e.total != 0 && e.seen >= e.total {
			e.expires = 0 // every byte passed: done
		}
		return true
	}
	return false
}

// len counts live records at now (tests).
func (t *fragTable) len(now int64) int {
	n := 0
	for i := range t.buckets {
		for j := range t.buckets[i] {
			if t.buckets[i][j].expires > now {
				n++
			}
		}
	}
	return n
}

// fragment matches a parsed frame that is a fragment to its datagram's
// flow (see above). It runs once per frame read, not per hop.
func (w *worker) fragment() dropReason {
	ip := w.p.ip
	switch {
	case w.p.frag:
		if ip.Protocol() == header.ProtoTCP && ip.FragOffset() == 8 {
			return dropFragOverlap // RFC 1858
		}
		if w.frags == nil || !w.frags.match(ip, &w.p.meta, w.now) {
			return dropFragNoFirst
		}
	case ip.MoreFragments():
		if w.frags == nil {
			w.frags = newFragTable() // once per worker, on its first fragment
		}
		w.frags.first(ip, &w.p.meta, w.now)
	}
	return dropNone
}
