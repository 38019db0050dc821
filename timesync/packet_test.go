package timesync

import (
	"encoding/binary"
	"testing"
	"time"
)

// request builds an NTP request of n bytes with version vn, mode mode,
// poll 6 and transmit timestamp xmt.
func request(n int, vn, mode uint8, xmt uint64) []byte {
	b := make([]byte, n)
	if n > 0 {
		b[0] = vn<<3 | mode
	}
	if n > 2 {
		b[2] = 6
	}
	if n >= HeaderLen {
		binary.BigEndian.PutUint64(b[40:], xmt)
	}
	return b
}

func TestParseRequest(t *testing.T) {
	const xmt = 0xe7a1b2c3_12345678
	for _, c := range []struct {
		name string
		b    []byte
		want Drop
	}{
		{"v4 client", request(48, 4, 3, xmt), Answered},
		{"v3 client", request(48, 3, 3, xmt), Answered},
		{"v4 with a MAC", request(48+20, 4, 3, xmt), Answered},
		{"v4 with extension fields, at the limit", request(MaxRequest, 4, 3, xmt), Answered},
		{"leap bits and stratum ignored", func() []byte { b := request(48, 4, 3, xmt); b[0] |= 3 << 6; b[1] = 16; return b }(), Answered},
		{"empty", nil, Short},
		{"one byte", request(1, 4, 3, 0), Short},
		{"47 bytes", request(47, 4, 3, 0), Short},
		{"oversized", request(MaxRequest+4, 4, 3, xmt), Oversized},
		{"not whole words", request(49, 4, 3, xmt), Malformed},
		{"mac cut short", request(48+18, 4, 3, xmt), Malformed},
		{"version 0", request(48, 0, 3, xmt), BadVersion},
		{"version 1", request(48, 1, 3, xmt), BadVersion},
		{"version 2", request(48, 2, 3, xmt), BadVersion},
		{"version 5", request(48, 5, 3, xmt), BadVersion},
		{"version 7", request(48, 7, 3, xmt), BadVersion},
		{"mode 0 reserved", request(48, 4, 0, xmt), BadMode},
		{"mode 1 symmetric active", request(48, 4, 1, xmt), BadMode},
		{"mode 2 symmetric passive", request(48, 4, 2, xmt), BadMode},
		{"mode 4 server (a reflected answer)", request(48, 4, 4, xmt), BadMode},
		{"mode 5 broadcast", request(48, 4, 5, xmt), BadMode},
		{"mode 6 control (ntpq)", request(48, 4, 6, xmt), BadMode},
		{"mode 7 private (monlist)", request(48, 2, 7, xmt), BadVersion},
		{"mode 7 private v4", request(48, 4, 7, xmt), BadMode},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, d := ParseRequest(c.b)
			if d != c.want {
				t.Fatalf("drop %v, want %v", d, c.want)
			}
			if d == Answered && (r.Transmit != xmt || r.Poll != 6 || r.Version != c.b[0]>>3&7) {
				t.Errorf("request %+v", r)
			}
		})
	}
}

// TestAnswer: the answer's every field, as the package comment says.
func TestAnswer(t *testing.T) {
	recv := time.Date(2025, 6, 30, 23, 59, 58, 250_000_000, time.UTC)
	xmit := recv.Add(1500 * time.Nanosecond)
	for _, vn := range []uint8{3, 4} {
		var out [HeaderLen]byte
		Request{Version: vn, Poll: 4, Transmit: 0x0102030405060708}.Answer(&out, recv, xmit)
		if li, v, mode := out[0]>>6, out[0]>>3&7, out[0]&7; li != 0 || v != vn || mode != 4 {
			t.Errorf("v%d: LI %d VN %d mode %d, want 0 %d 4", vn, li, v, mode, vn)
		}
		be := binary.BigEndian
		for _, f := range []struct {
			name      string
			got, want uint64
		}{
			{"stratum", uint64(out[1]), 3},
			{"poll", uint64(out[2]), 4},
			{"precision", uint64(out[3]), 0xec}, // -20
			{"root delay", uint64(be.Uint32(out[4:])), 8},
			{"root dispersion", uint64(be.Uint32(out[8:])), 16},
			{"reference id", uint64(be.Uint32(out[12:])), uint64(be.Uint32([]byte("AMZN")))},
			{"reference", be.Uint64(out[16:]), Timestamp(recv.Truncate(time.Second))},
			{"origin", be.Uint64(out[24:]), 0x0102030405060708},
			{"receive", be.Uint64(out[32:]), Timestamp(recv)},
			{"transmit", be.Uint64(out[40:]), Timestamp(xmit)},
		} {
			if f.got != f.want {
				t.Errorf("v%d %s: %#x, want %#x", vn, f.name, f.got, f.want)
			}
		}
	}
}

// TestTimestamp: NTP timestamps of known instants, and back.
func TestTimestamp(t *testing.T) {
	for _, c := range []struct {
		name string
		t    time.Time
		want uint64
	}{
		{"unix epoch", time.Unix(0, 0), 2208988800 << 32},
		{"half a second past", time.Unix(0, 500_000_000), 2208988800<<32 | 1<<31},
		{"era 0's last second", time.Date(2036, 2, 7, 6, 28, 15, 0, time.UTC), 0xffffffff << 32},
		{"era 1 begins", time.Date(2036, 2, 7, 6, 28, 16, 0, time.UTC), 0},
		{"2025", time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), 3944678400 << 32},
	} {
		if got := Timestamp(c.t); got != c.want {
			t.Errorf("%s: %#x, want %#x", c.name, got, c.want)
		}
		if back := Time(c.want); !back.Equal(c.t) {
			t.Errorf("%s: back to %v, want %v", c.name, back, c.t)
		}
	}
	// Round trip at nanosecond instants: within the 2^-32 s resolution.
	for _, ns := range []int64{1, 999_999_999, 123_456_789} {
		tm := time.Unix(1_750_000_000, ns)
		if d := Time(Timestamp(tm)).Sub(tm); d < -time.Nanosecond || d > time.Nanosecond {
			t.Errorf("%v: round trip off by %v", tm, d)
		}
	}
}

// TestParseAnswerNoAllocs: a request read and answered allocates nothing.
func TestParseAnswerNoAllocs(t *testing.T) {
	b := request(48, 4, 3, 42)
	var out [HeaderLen]byte
	now := time.Now()
	if n := testing.AllocsPerRun(100, func() {
		r, _ := ParseRequest(b)
		r.Answer(&out, now, now)
	}); n != 0 {
		t.Errorf("%v allocations per request", n)
	}
}

func TestDropString(t *testing.T) {
	if RateLimited.String() != "rate-limited" || Drop(200).String() != "unknown" {
		t.Errorf("%v %v", RateLimited, Drop(200))
	}
}
