// Package timesync is the Amazon Time Sync Service of every VPC: an SNTP
// server (RFC 5905 server mode, RFC 4330) that the daemon runs on
// 169.254.169.123:123 in each VPC's service namespace, beside the Amazon
// DNS server (daemon/services.go). Like the other link-local services no
// security group or network ACL filters it (SG-8).
//
// What it answers, and why (AWS does not publish its packets; these are
// the facts that can be seen from an instance):
//   - stratum 3: what `chronyc sources` shows for 169.254.169.123 on EC2.
//   - reference id "AMZN". Above stratum 1 a reference id is meant to be
//     the upstream server's IPv4 address, which AWS does not publish and
//     vpcnet does not have (its upstream is the host clock); clients read
//     these four bytes as 65.77.90.78, no address of a vpcnet network.
//   - leap indicator 0, always. The NTP service smears leap seconds (AWS:
//     over the 24 hours around one), so its clients never see a leap
//     second announced. vpcnet reads the host clock and does not smear:
//     no leap second has been scheduled since 2016.
//   - receive and transmit timestamps from the host clock, read when the
//     request arrived and when the answer is written; the reference
//     timestamp is the receive time cut to the whole second.
//
// Only a client request is answered: mode 3, version 3 or 4, at least the
// 48-byte header and at most MaxRequest bytes, a whole number of 32-bit
// words (RFC 5905 §7.3). Extension fields and a MAC after the header are
// read past, never checked: the answer carries none, as a server without
// the client's key or NTS answers. Everything else is a counted drop.
package timesync

import (
	"encoding/binary"
	"time"
)

// Sizes of a request.
const (
	// HeaderLen is the NTP header, the whole of an SNTP request and of
	// every answer.
	HeaderLen = 48
	// MaxRequest is the longest request answered: the header with room
	// for extension fields and a MAC. Longer datagrams are dropped.
	MaxRequest = 1024
)

// What every answer says about the server (see the package comment).
const (
	Stratum = 3
	// RefID is the reference identifier: "AMZN".
	RefID = 0x414d5a4e
	// precision is log2 of the clock's resolution in seconds: -20, about
	// a microsecond (Go reads the host clock in nanoseconds, the reading
	// itself takes tens of them).
	precision = -20
	// rootDelay and rootDisp are NTP short-format seconds (16.16): about
	// 122 µs and 244 µs, the order of what EC2 instances measure to
	// 169.254.169.123. A client adds them to its distance to the source.
	rootDelay = 8
	rootDisp  = 16
)

// NTP modes (RFC 5905 figure 10).
const (
	modeClient = 3
	modeServer = 4
)

// Drop is why a datagram was not answered.
type Drop uint8

const (
	Answered    Drop = iota // not a drop: the request was answered
	Short                   // shorter than the 48-byte header
	Oversized               // longer than MaxRequest
	Malformed               // not a whole number of 32-bit words
	BadVersion              // version other than 3 or 4
	BadMode                 // mode other than 3 (client): servers, broadcasts, control, private
	RateLimited             // over the per-source rate (server.go)
	numDrops
)

var dropNames = [numDrops]string{"answered", "short", "oversized", "malformed", "bad-version", "bad-mode", "rate-limited"}

func (d Drop) String() string {
	if d < numDrops {
		return dropNames[d]
	}
	return "unknown"
}

// Request is what an answer takes from a client's request.
type Request struct {
	Version  uint8  // 3 or 4: the answer has the same (RFC 5905 §9.2)
	Poll     int8   // the client's poll exponent, echoed
	Transmit uint64 // the client's transmit timestamp: the answer's origin timestamp
}

// ParseRequest reads a client request from b, which it does not keep. It
// returns Answered and the request, or why b is not one.
func ParseRequest(b []byte) (Request, Drop) {
	switch {
	case len(b) < HeaderLen:
		return Request{}, Short
	case len(b) > MaxRequest:
		return Request{}, Oversized
	case len(b)%4 != 0:
		return Request{}, Malformed
	}
	vn, mode := b[0]>>3&7, b[0]&7
	if vn != 3 && vn != 4 {
		return Request{}, BadVersion
	}
	if mode != modeClient {
		return Request{}, BadMode
	}
	return Request{Version: vn, Poll: int8(b[2]), Transmit: binary.BigEndian.Uint64(b[40:48])}, Answered
}

// Answer writes into out the answer to r: received at recv, sent at xmit.
func (r Request) Answer(out *[HeaderLen]byte, recv, xmit time.Time) {
	out[0] = 0<<6 | r.Version<<3 | modeServer // leap indicator 0: smeared (package comment)
	out[1] = Stratum
	out[2] = byte(r.Poll)
	out[3] = uint8(precision & 0xff) // two's complement
	binary.BigEndian.PutUint32(out[4:], rootDelay)
	binary.BigEndian.PutUint32(out[8:], rootDisp)
	binary.BigEndian.PutUint32(out[12:], RefID)
	binary.BigEndian.PutUint64(out[16:], Timestamp(recv.Truncate(time.Second)))
	binary.BigEndian.PutUint64(out[24:], r.Transmit) // origin = the client's transmit (RFC 5905 §8)
	binary.BigEndian.PutUint64(out[32:], Timestamp(recv))
	binary.BigEndian.PutUint64(out[40:], Timestamp(xmit))
}

// ntpEpochOffset is the seconds from 1900-01-01 (NTP's era 0) to the Unix
// epoch.
const ntpEpochOffset = 2208988800

// Timestamp is t as an NTP timestamp: seconds since 1900 in the high 32
// bits (modulo 2^32: era 1 begins in 2036, and NTP leaves the era to the
// client, RFC 5905 §6), the fraction of a second in the low 32.
func Timestamp(t time.Time) uint64 {
	secs := uint64(t.Unix()+ntpEpochOffset) & 0xffffffff
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return secs<<32 | frac
}

// Time is the instant NTP timestamp ts stands for, placed as SNTP clients
// place it (RFC 4330 §3): 1968–2036 when the seconds' top bit is set,
// else 2036–2104.
func Time(ts uint64) time.Time {
	secs := int64(ts >> 32)
	if secs < 1<<31 {
		secs += 1 << 32 // era 1
	}
	nsec := int64((ts & 0xffffffff) * 1e9 >> 32)
	return time.Unix(secs-ntpEpochOffset, nsec)
}
