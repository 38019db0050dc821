package timesync

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vpcnet/vpcnet/internal/ratelimit"
)

// Limits on what clients can make the server do (bad input: floods).
const (
	// PerSourceRate is how many datagrams per second one source address
	// may send before the excess goes unanswered: AWS's limit of 1024
	// packets per second per network interface to the link-local services
	// (vpcnet counts it per service; vpcdns has the same).
	PerSourceRate = 1024
)

// Server answers NTP client requests on sockets its caller opened (in a
// service namespace: daemon/services.go). One Server may serve several
// sockets; its counters sum them.
type Server struct {
	// Now is the clock answers read. Set it before the first Serve; nil is
	// time.Now, the host clock (never set by vpcnet).
	Now func() time.Time

	counts [numDrops]atomic.Uint64
}

// NewServer returns a server reading the host clock.
func NewServer() *Server { return &Server{} }

// Stats are a server's counters: Counts[Answered] requests answered, the
// other entries datagrams dropped by reason.
type Stats struct {
	Counts [numDrops]uint64
}

// Stats reads the counters.
func (s *Server) Stats() Stats {
	var st Stats
	for i := range s.counts {
		st.Counts[i] = s.counts[i].Load()
	}
	return st
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Serve answers requests arriving on c in a goroutine of its own, with a
// rate limiter of its own (sources are per VPC: addresses of overlapping
// VPCs are different clients). stop closes c and waits for the goroutine.
func (s *Server) Serve(c *net.UDPConn) (stop func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.serve(c, ratelimit.New(PerSourceRate))
	}()
	var once sync.Once
	return func() {
		once.Do(func() { c.Close() })
		<-done
	}
}

// serve is the loop of one socket, until c is closed. Its buffers are
// made once; a datagram costs no allocation but a new source's entry in
// the limiter.
func (s *Server) serve(c *net.UDPConn, lim *ratelimit.PerSource) {
	buf := make([]byte, MaxRequest+1) // one byte more: a longer datagram is seen as oversized
	var out [HeaderLen]byte
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		recv := s.now()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// An ICMP error for an earlier answer, or the like: the socket
			// still works. Never spin on one that does not.
			time.Sleep(time.Millisecond)
			continue
		}
		if !lim.Allow(from.Addr().Unmap(), recv) {
			s.counts[RateLimited].Add(1) // dropped, as AWS drops over its rate
			continue
		}
		req, d := ParseRequest(buf[:n])
		s.counts[d].Add(1)
		if d != Answered {
			continue
		}
		req.Answer(&out, recv, s.now())
		c.WriteToUDPAddrPort(out[:], from) // a lost answer is the client's retry
	}
}
