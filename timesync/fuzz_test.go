package timesync

import (
	"encoding/binary"
	"testing"
	"time"
)

// parseReference is the request rule written out the slow way, for the
// fuzz target to compare with.
func parseReference(b []byte) Drop {
	if len(b) < 48 {
		return Short
	}
	if len(b) > 1024 {
		return Oversized
	}
	if len(b)%4 != 0 {
		return Malformed
	}
	switch version := (b[0] & 0b0011_1000) >> 3; version {
	case 3, 4:
	default:
		return BadVersion
	}
	if b[0]&0b111 != 3 {
		return BadMode
	}
	return Answered
}

// FuzzParseRequest reads any bytes as a request: it never panics, agrees
// with the reference rule, and an answered request's answer is a server
// answer of the same version whose origin is the request's transmit
// timestamp.
func FuzzParseRequest(f *testing.F) {
	f.Add(request(48, 4, 3, 0xdeadbeef))
	f.Add(request(48, 3, 3, 1))
	f.Add(request(68, 4, 3, 2))
	f.Add(request(48, 4, 4, 3))
	f.Add(request(48, 2, 7, 0))
	f.Add(request(47, 4, 3, 0))
	f.Add(request(49, 4, 3, 0))
	f.Add(request(MaxRequest+4, 4, 3, 0))
	f.Add([]byte{})
	now := time.Unix(1_750_000_000, 123)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, d := ParseRequest(b)
		if want := parseReference(b); d != want {
			t.Fatalf("%d bytes, first %#x: %v, want %v", len(b), b[:min(len(b), 1)], d, want)
		}
		if d != Answered {
			return
		}
		var out [HeaderLen]byte
		r.Answer(&out, now, now)
		if out[0]&7 != 4 || out[0]>>3&7 != b[0]>>3&7 || out[1] != Stratum {
			t.Errorf("answer header %#x stratum %d", out[0], out[1])
		}
		if got := binary.BigEndian.Uint64(out[24:]); got != binary.BigEndian.Uint64(b[40:48]) {
			t.Errorf("origin %#x, want the request's transmit", got)
		}
	})
}
