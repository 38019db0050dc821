package dataplane

// Geneve (RFC 8926) between machines, in userspace (issue 16). One UDP
// socket on port 6081 in the underlay's namespace carries every tunnel of
// this machine; Port(peer, vni) is the forwarder's port toward one machine
// under one VNI.
//
// The kernel's geneve driver would do the same with UDP tunnel GSO, but
// kernels built without CONFIG_GENEVE (this project's CI machine is one)
// have none, and vpcnet must run there. So a GSO super-frame travels whole
// in one Geneve datagram, its virtio-net header (GSO type and size,
// checksum offsets) in a Geneve option, and the receiving forwarder writes
// it whole to the instance's TAP: the super-frame is never cut into
// segments by vpcnet. A datagram larger than the underlay's MTU is
// fragmented by the sending kernel and reassembled by the receiving one
// (IP_PMTUDISC_DONT); an underlay with jumbo frames (9001 and more, as
// between EC2 instances) needs 8 fragments for a 64 KiB super-frame.
//
// Wire format: the 8-byte Geneve header (version 0, protocol 0x6558,
// Ethernet), the VNI, then one option of class 0xff00 (RFC 8926's
// experimental range), type 0x01, 12 bytes: the 10-byte virtio-net header
// and two bytes of padding; then the inner Ethernet frame. tcpdump decodes
// it as Geneve with an unknown option, then the inner frame.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/vpcnet/vpcnet/dataplane/header"
)

// GenevePort is Geneve's UDP port (RFC 8926).
const GenevePort = 6081

const (
	geneveHdrLen   = 8
	geneveOptLen   = 4 + 12 // option header and the virtio-net header, padded
	geneveLen      = geneveHdrLen + geneveOptLen
	geneveProtoEth = 0x6558
	// geneveOptClass and geneveOptType name the option that carries the
	// virtio-net header: class 0xff00 is RFC 8926's experimental use.
	geneveOptClass = 0xff00
	geneveOptType  = 0x01
	// geneveMaxInner is the largest inner frame (virtio-net header
	// excluded) a datagram carries: 65535 bytes of IPv4, less the outer
	// IPv4 and UDP headers and the Geneve header and option.
	geneveMaxInner = 65535 - 20 - 8 - geneveLen
	geneveBuffers  = 512 // datagrams read and not yet taken by a worker
	// geneveQueue is a port's share of them: a worker that falls behind
	// loses its own frames (full) and never holds every buffer, which
	// would stop the reader and so every other tunnel. Half: a flood of
	// 64-byte datagrams received 39 kpps with an eighth, 68 with half
	// (BENCHMARKS.md, more than one machine).
	geneveQueue = geneveBuffers / 2
)

// MaxGeneveInnerFrame is the largest Ethernet frame the tunnel carries
// whole (Linux TCP's super-frames stay below it); a larger one is refused
// and counted, never cut.
const MaxGeneveInnerFrame = geneveMaxInner

type geneveKey struct {
	peer [4]byte
	vni  uint32
}

// Geneve is this machine's tunnel socket and its ports.
type Geneve struct {
	fd    int
	conn  *net.UDPConn
	ports atomic.Pointer[map[geneveKey]*genevePort] // read per datagram; copied on change
	mu    sync.Mutex                                // serialises changes of ports
	free  chan []byte
	done  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
	// unknown counts datagrams from no known (peer, VNI), bad counts
	// datagrams that are not our Geneve: both dropped.
	unknown, bad atomic.Uint64
}

// OpenGeneve takes fd, a blocking UDP socket bound to GenevePort in the
// underlay's namespace (netns.OpenUDP), and serves the tunnels on it. It
// owns fd from then on.
func OpenGeneve(fd int) (*Geneve, error) {
	// Fragment datagrams larger than the path's MTU (see above), and room
	// for bursts.
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DONT); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("geneve socket: IP_MTU_DISCOVER: %w", err)
	}
	for _, o := range [][2]int{{unix.SO_RCVBUFFORCE, unix.SO_RCVBUF}, {unix.SO_SNDBUFFORCE, unix.SO_SNDBUF}} {
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, o[0], 16<<20) != nil {
			unix.SetsockoptInt(fd, unix.SOL_SOCKET, o[1], 16<<20)
		}
	}
	f := os.NewFile(uintptr(fd), "geneve")
	pc, err := net.FilePacketConn(f) // dups fd
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("geneve socket: %w", err)
	}
	conn, ok := pc.(*net.UDPConn)
	if !ok {
		pc.Close()
		return nil, errors.New("geneve socket: not UDP")
	}
	rc, err := conn.SyscallConn()
	if err != nil {
		conn.Close()
		return nil, err
	}
	g := &Geneve{conn: conn, free: make(chan []byte, geneveBuffers), done: make(chan struct{})}
	rc.Control(func(s uintptr) { g.fd = int(s) })
	empty := map[geneveKey]*genevePort{}
	g.ports.Store(&empty)
	for range geneveBuffers {
		g.free <- make([]byte, 65536)
	}
	g.wg.Add(1)
	go g.read()
	return g, nil
}

// Port returns the port toward peer under vni, made on first use.
func (g *Geneve) Port(peer netip.Addr, vni uint32) (Port, error) {
	if !peer.Is4() || vni == 0 || vni > 0xffffff {
		return nil, fmt.Errorf("geneve port: peer %s VNI %d: an IPv4 peer and a VNI of 1 to 2^24-1", peer, vni)
	}
	k := geneveKey{peer.As4(), vni}
	g.mu.Lock()
	defer g.mu.Unlock()
	old := *g.ports.Load()
	if p := old[k]; p != nil {
		return p, nil
	}
	p := &genevePort{g: g, key: k, in: make(chan geneveFrame, geneveQueue), closed: make(chan struct{})}
	p.sa = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: k.peer}
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&p.sa.Port))[:], GenevePort)
	p.hdr = geneveHeader(vni)
	next := make(map[geneveKey]*genevePort, len(old)+1)
	for kk, v := range old {
		next[kk] = v
	}
	next[k] = p
	g.ports.Store(&next)
	return p, nil
}

// forget removes p from the ports (its Close).
func (g *Geneve) forget(p *genevePort) {
	g.mu.Lock()
	defer g.mu.Unlock()
	old := *g.ports.Load()
	next := make(map[geneveKey]*genevePort, len(old))
	for k, v := range old {
		if v != p {
			next[k] = v
		}
	}
	g.ports.Store(&next)
}

// Dropped returns the datagrams dropped as from no known tunnel, and as
// not vpcnet's Geneve.
func (g *Geneve) Dropped() (unknown, bad uint64) { return g.unknown.Load(), g.bad.Load() }

// Close closes the socket; the ports' reads return ErrClosed once drained.
func (g *Geneve) Close() error {
	g.once.Do(func() {
		close(g.done)
		g.conn.Close()
	})
	g.wg.Wait()
	for _, p := range *g.ports.Load() {
		p.Close()
	}
	return nil
}

// geneveHeader is the Geneve header and option of every datagram under
// vni; the option's data (the virtio-net header) is filled per frame.
func geneveHeader(vni uint32) [geneveLen]byte {
	var h [geneveLen]byte
	h[0] = geneveOptLen / 4 // version 0, option length in 4-byte words
	binary.BigEndian.PutUint16(h[2:], geneveProtoEth)
	binary.BigEndian.PutUint32(h[4:], vni<<8)
	binary.BigEndian.PutUint16(h[8:], geneveOptClass)
	h[10] = geneveOptType
	h[11] = (geneveOptLen - 4) / 4
	return h
}

// geneveFrame is a datagram a worker has yet to take: buf is the read
// buffer, frame the virtio-net header and inner frame within it.
type geneveFrame struct {
	buf   []byte
	start int
	end   int
}

// read receives datagrams until the socket closes and hands each to the
// port of its (peer, VNI).
func (g *Geneve) read() {
	defer g.wg.Done()
	for {
		var buf []byte
		select {
		case buf = <-g.free:
		case <-g.done:
			return
		}
		n, from, err := g.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			g.free <- buf
			continue
		}
		vni, ok := parseGeneve(buf[:n])
		if !ok {
			g.bad.Add(1)
			g.free <- buf
			continue
		}
		p := (*g.ports.Load())[geneveKey{from.Addr().Unmap().As4(), vni}]
		if p == nil {
			g.unknown.Add(1)
			g.free <- buf
			continue
		}
		// The worker wants the virtio-net header right before the inner
		// frame; the option holds it with 2 bytes of padding after, so it
		// moves 2 bytes on.
		copy(buf[geneveLen-header.VnetHdrLen:geneveLen], buf[geneveHdrLen+4:geneveHdrLen+4+header.VnetHdrLen])
		select {
		case p.in <- geneveFrame{buf: buf, start: geneveLen - header.VnetHdrLen, end: n}:
			// Closed meanwhile: its Close may have drained p.in before
			// this frame went in.
			select {
			case <-p.closed:
				p.drain()
			default:
			}
		default:
			p.full.Add(1) // its worker is behind: the frame is lost, counted
			g.free <- buf
		}
	}
}

// parseGeneve checks a datagram is vpcnet's Geneve (version 0, Ethernet,
// our option first) and returns its VNI. Hostile input: every length is
// checked before use.
func parseGeneve(d []byte) (uint32, bool) {
	if len(d) < geneveLen+header.EthernetLen {
		return 0, false
	}
	// An OAM (control) packet's payload is never forwarded (RFC 8926 3.4).
	if d[0]>>6 != 0 || int(d[0]&0x3f)*4 != geneveOptLen || d[1]&0x80 != 0 || binary.BigEndian.Uint16(d[2:]) != geneveProtoEth {
		return 0, false
	}
	if binary.BigEndian.Uint16(d[8:]) != geneveOptClass || d[10]&0x7f != geneveOptType || int(d[11]&0x1f)*4 != geneveOptLen-4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(d[4:]) >> 8, true
}

// genevePort is the forwarder's port toward one machine under one VNI.
type genevePort struct {
	g      *Geneve
	key    geneveKey
	sa     unix.RawSockaddrInet4
	hdr    [geneveLen]byte
	in     chan geneveFrame
	closed chan struct{}
	once   sync.Once
	full   atomic.Uint64 // datagrams lost because its worker was behind
}

// Read implements Port.
func (p *genevePort) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	var f geneveFrame
	select {
	case f = <-p.in:
	case <-p.closed:
		return 0, ErrClosed
	}
	n := 0
	for {
		sizes[n] = copy(bufs[n][offset:], f.buf[f.start:f.end])
		p.g.free <- f.buf
		n++
		if n == len(bufs) {
			return n, nil
		}
		select {
		case f = <-p.in:
		default:
			return n, nil
		}
	}
}

// Write implements Port: each frame (virtio-net header first) goes out as
// one datagram, header and frame gathered by sendmsg without a copy.
func (p *genevePort) Write(bufs [][]byte, offset int) (int, error) {
	select {
	case <-p.closed:
		return 0, ErrClosed
	default:
	}
	for i, b := range bufs {
		fr := b[offset:]
		if len(fr) < header.VnetHdrLen+header.EthernetLen {
			continue
		}
		if len(fr)-header.VnetHdrLen > geneveMaxInner {
			return i, ErrPortFull // cannot be carried whole; counted by the caller
		}
		hdr := p.hdr
		copy(hdr[geneveHdrLen+4:], fr[:header.VnetHdrLen])
		if err := p.send(&hdr, fr[header.VnetHdrLen:]); err != nil {
			return i, err
		}
	}
	return len(bufs), nil
}

func (p *genevePort) send(hdr *[geneveLen]byte, inner []byte) error {
	var iov [2]unix.Iovec
	iov[0].Base = &hdr[0]
	iov[0].SetLen(geneveLen)
	iov[1].Base = &inner[0]
	iov[1].SetLen(len(inner))
	var msg unix.Msghdr
	msg.Name = (*byte)(unsafe.Pointer(&p.sa))
	msg.Namelen = unix.SizeofSockaddrInet4
	msg.Iov = &iov[0]
	msg.SetIovlen(2)
	_, _, e := unix.Syscall(unix.SYS_SENDMSG, uintptr(p.g.fd), uintptr(unsafe.Pointer(&msg)), unix.MSG_DONTWAIT)
	switch e {
	case 0:
		return nil
	case unix.EAGAIN, unix.ENOBUFS:
		return ErrPortFull
	default:
		return e
	}
}

// BatchSize implements Port.
func (p *genevePort) BatchSize() int { return 32 }

// Close implements Port; the socket stays for the other ports.
func (p *genevePort) Close() error {
	p.once.Do(func() {
		close(p.closed)
		p.g.forget(p)
		p.drain()
	})
	return nil
}

// drain gives back the read buffers of the frames p holds.
func (p *genevePort) drain() {
	for {
		select {
		case f := <-p.in:
			p.g.free <- f.buf
		default:
			return
		}
	}
}

// QueueDrops implements queueDropper: datagrams its worker was too slow
// for.
func (p *genevePort) QueueDrops() (uint64, error) { return p.full.Load(), nil }
