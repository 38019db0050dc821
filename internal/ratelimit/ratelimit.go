// Package ratelimit is the per-source token bucket of the link-local
// services (the Amazon DNS server, vpcdns; the time service, timesync):
// AWS answers at most 1024 packets a second from one network interface.
package ratelimit

import (
	"net/netip"
	"sync"
	"time"
)

// MaxSources bounds a limiter's table: past it the table is cleared and
// every source starts afresh (bounded memory under a spoofed flood).
const MaxSources = 16384

// PerSource is a token bucket per source address, safe for concurrent use.
type PerSource struct {
	mu   sync.Mutex
	rate float64
	b    map[netip.Addr]bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// New returns a limiter of rate packets a second per source, each source
// starting with a full second's worth.
func New(rate int) *PerSource {
	return &PerSource{rate: float64(rate), b: map[netip.Addr]bucket{}}
}

// Allow takes a token of src's bucket at now, if it has one. Elapsed time
// refills it; a clock stepped back refills nothing.
func (l *PerSource) Allow(src netip.Addr, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.b[src]
	if !ok {
		if len(l.b) >= MaxSources {
			clear(l.b)
		}
		b = bucket{tokens: l.rate, last: now}
	}
	if now.After(b.last) { // a clock stepped back neither refills nor rewinds
		b.tokens = min(l.rate, b.tokens+now.Sub(b.last).Seconds()*l.rate)
		b.last = now
	}
	ok = b.tokens >= 1
	if ok {
		b.tokens--
	}
	l.b[src] = b
	return ok
}

// Sources is how many sources the table holds now.
func (l *PerSource) Sources() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.b)
}
