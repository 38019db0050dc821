package vpcdns

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/netutil"

	"github.com/vpcnet/vpcnet/internal/ratelimit"
)

// Limits on what clients can make the server hold (bad input: floods,
// slow or idle TCP clients, oversized messages).
const (
	// MaxTCPConns is the most TCP connections one listener serves at once;
	// more wait in the kernel's backlog.
	MaxTCPConns = 64
	// udpReadSize is the largest UDP query read; a longer datagram is cut
	// and answered FORMERR (or not at all when its header is cut).
	udpReadSize = 4096
	// PerSourceRate is how many queries per second one source address may
	// send before the excess goes unanswered: Route 53 Resolver's limit of
	// 1024 packets per second per network interface.
	PerSourceRate = 1024
)

// Server answers from the latest Data on sockets its caller opened (in a
// service namespace: daemon/services.go).
type Server struct {
	data atomic.Pointer[Data]
}

// NewServer returns a server answering from d.
func NewServer(d *Data) *Server {
	s := &Server{}
	s.data.Store(d)
	return s
}

// Update swaps in new data: the next query sees it.
func (s *Server) Update(d *Data) { s.data.Store(d) }

// Data returns the data answers come from now.
func (s *Server) Data() *Data { return s.data.Load() }

// Serve answers the view of VPC vpcID ("" for the public DNS) on UDP socket
// pc and TCP listener l (either may be nil) in goroutines of their own. It
// returns once both serve; stop closes them and waits for their loops.
func (s *Server) Serve(vpcID string, pc net.PacketConn, l net.Listener) (stop func(), err error) {
	h := &handler{s: s, vpc: vpcID, lim: ratelimit.New(PerSourceRate)}
	var servers []*dns.Server
	if pc != nil {
		servers = append(servers, &dns.Server{PacketConn: pc, Handler: h, UDPSize: udpReadSize,
			ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second})
	}
	if l != nil {
		servers = append(servers, &dns.Server{Listener: netutil.LimitListener(l, MaxTCPConns), Handler: h,
			ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second,
			IdleTimeout: func() time.Duration { return 8 * time.Second }, MaxTCPQueries: 128})
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(servers))
	for _, srv := range servers {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.ActivateAndServe(); err != nil {
				errs <- err
			}
		}()
		select {
		case <-started:
		case err := <-errs:
			for _, o := range servers {
				o.Shutdown()
			}
			if pc != nil {
				pc.Close()
			}
			if l != nil {
				l.Close()
			}
			wg.Wait()
			return nil, err
		}
	}
	return func() {
		for _, srv := range servers {
			srv.Shutdown()
		}
		wg.Wait()
	}, nil
}

type handler struct {
	s   *Server
	vpc string
	lim *ratelimit.PerSource
}

func (h *handler) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	src := addrOf(w.RemoteAddr())
	if !h.lim.Allow(src, time.Now()) {
		return // over Route 53 Resolver's rate: dropped, as AWS drops it
	}
	m := h.s.data.Load().Answer(h.vpc, req)
	if m == nil {
		if _, tcp := w.RemoteAddr().(*net.TCPAddr); tcp {
			w.Close()
		}
		return
	}
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
		m.Truncate(udpSize(req))
	}
	w.WriteMsg(m)
}

// udpSize is the largest UDP answer req's sender takes: 512 bytes, or
// what its EDNS0 record says, at most maxUDP.
func udpSize(req *dns.Msg) int {
	size := dns.MinMsgSize
	if o := req.IsEdns0(); o != nil {
		size = min(max(int(o.UDPSize()), dns.MinMsgSize), maxUDP)
	}
	return size
}

func addrOf(a net.Addr) netip.Addr {
	switch x := a.(type) {
	case *net.UDPAddr:
		ip, _ := netip.AddrFromSlice(x.IP)
		return ip.Unmap()
	case *net.TCPAddr:
		ip, _ := netip.AddrFromSlice(x.IP)
		return ip.Unmap()
	}
	return netip.Addr{}
}
