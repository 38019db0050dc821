package ratelimit

import (
	"net/netip"
	"testing"
	"time"
)

// A source gets rate packets a second, then none until time passes (a
// clock stepped back gives none); other sources are not affected; the
// table is bounded.
func TestPerSource(t *testing.T) {
	l := New(10)
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	now := time.Unix(1000, 0)
	ok := 0
	for range 100 {
		if l.Allow(a, now) {
			ok++
		}
	}
	if ok != 10 {
		t.Errorf("burst: %d allowed, want 10", ok)
	}
	if !l.Allow(b, now) {
		t.Error("another source was limited")
	}
	if l.Allow(a, now.Add(-time.Hour)) {
		t.Error("a clock stepped back refilled the bucket")
	}
	if !l.Allow(a, now.Add(200*time.Millisecond)) || !l.Allow(a, now.Add(200*time.Millisecond)) {
		t.Error("not two tokens back after 200 ms")
	}
	if l.Allow(a, now.Add(200*time.Millisecond)) {
		t.Error("a third token after 200 ms at 10 a second")
	}
	for i := range MaxSources + 10 {
		l.Allow(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), now)
	}
	if n := l.Sources(); n > MaxSources {
		t.Errorf("limiter holds %d sources, bound %d", n, MaxSources)
	}
}
