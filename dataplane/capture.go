package dataplane

// Packet capture (`vpcnet capture`): the forwarder copies the frames of the
// endpoints a capture watches into the capture's ring, and the daemon's
// reader drains it toward the CLI.
//
// Cost: with no capture the worker pays one atomic load per frame
// (Forwarder.taps is nil). With one, a frame of a watched endpoint that
// matches the filter is copied into a preallocated slot of a bounded
// multi-producer ring; when the ring is full the frame is not captured
// (counted in Capture.Lost), and forwarding goes on: a slow reader never
// slows the forwarder. Nothing on the path allocates.
//
// Capture points (the worker's hooks):
//   - out:  a frame as the endpoint sent it, read from its port (handle);
//     for a NAT gateway, the frame it sends on after translation
//   - in:   a frame as the endpoint receives it, written to its port
//     (deliver); for a NAT gateway, the frame that reached it
//   - drop: a frame the forwarder dropped, counted against the endpoint,
//     with its reason and the rule that decided (OBS-2)

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/vpcnet/vpcnet/dataplane/header"
)

// CaptureDir is the direction of a frame seen from the endpoint.
type CaptureDir uint8

const (
	CaptureIn   CaptureDir = 1 << iota // to the endpoint
	CaptureOut                         // from the endpoint
	CaptureBoth = CaptureIn | CaptureOut
)

// CaptureFilter selects frames: every set field must match. ARP frames
// match only a filter with no field set.
type CaptureFilter struct {
	Host  netip.Addr // source or destination; zero: any
	Port  uint16     // TCP or UDP source or destination port; 0: any
	Proto uint8      // IP protocol number; 0: any
}

// Match reports whether frame (virtio-net header + Ethernet) passes f. It
// reads the headers in place and allocates nothing.
func (f *CaptureFilter) Match(frame []byte) bool {
	if !f.Host.IsValid() && f.Port == 0 && f.Proto == 0 {
		return true
	}
	if len(frame) < ipOff+header.IPv4MinLen || header.Ethernet(frame[header.VnetHdrLen:]).EtherType() != header.EtherTypeIPv4 {
		return false
	}
	ip := header.IPv4(frame[ipOff:])
	if ip.Version() != 4 {
		return false
	}
	proto := ip.Protocol()
	if f.Proto != 0 && proto != f.Proto {
		return false
	}
	if f.Host.IsValid() && ip.Src() != f.Host && ip.Dst() != f.Host {
		return false
	}
	if f.Port != 0 {
		hl := ip.HeaderLen()
		if (proto != header.ProtoTCP && proto != header.ProtoUDP) || ip.FragOffset() != 0 ||
			hl < header.IPv4MinLen || len(ip) < hl+4 {
			return false
		}
		sp, dp := binary.BigEndian.Uint16(ip[hl:]), binary.BigEndian.Uint16(ip[hl+2:])
		if sp != f.Port && dp != f.Port {
			return false
		}
	}
	return true
}

// CaptureSpec is what a capture watches.
type CaptureSpec struct {
	Endpoints []string // port ids: ENI ids (a NAT gateway's ENI too), internet host names
	Filter    CaptureFilter
	Dir       CaptureDir // 0: both
	Drops     bool       // only the frames the forwarder dropped, with why
	Snaplen   int        // bytes of each frame kept (Ethernet on); 0 or more than MaxFrame: whole frames
	RingBytes int        // the ring's memory; 0: DefaultCaptureRing
}

// DefaultCaptureRing is the ring's memory when the spec does not say.
const DefaultCaptureRing = 8 << 20

// CapturedFrame is one frame read from a capture. Data and Vnet are valid
// until the next Read.
type CapturedFrame struct {
	Endpoint int // index in CaptureSpec.Endpoints
	Dir      CaptureDir
	Time     time.Time
	OrigLen  int    // the Ethernet frame's length on the path
	Data     []byte // its first Snaplen bytes
	Vnet     [header.VnetHdrLen]byte
	Drop     string // the drop reason; "" when not dropped
	By       string // the group(s) or NACL that decided (OBS-2)
	Rule     int32  // the NACL rule number; 32767 is the default rule (*)
}

// Capture is a running capture. Its ring is written by the forwarder's
// workers and read by one goroutine through Read; Close ends it.
type Capture struct {
	f       *Forwarder
	spec    CaptureSpec
	snap    int
	ring    captureRing
	lost    atomic.Uint64
	wake    chan struct{} // a token when the ring goes from empty; never closed
	done    chan struct{} // closed by Close
	closed  atomic.Bool
	readBuf []byte
}

// ErrUnknownEndpoint is returned for an endpoint that has no port.
var ErrUnknownEndpoint = errors.New("no such endpoint")

// StartCapture starts capturing spec. The caller must Close it.
func (f *Forwarder) StartCapture(spec CaptureSpec) (*Capture, error) {
	if len(spec.Endpoints) == 0 {
		return nil, fmt.Errorf("capture: no endpoint")
	}
	if spec.Dir == 0 {
		spec.Dir = CaptureBoth
	}
	snap := MaxFrame - header.VnetHdrLen
	if spec.Snaplen > 0 && spec.Snaplen < snap {
		snap = spec.Snaplen
	}
	ringBytes := spec.RingBytes
	if ringBytes <= 0 {
		ringBytes = DefaultCaptureRing
	}
	slots := 8
	for slots*2*(snap+header.VnetHdrLen) <= ringBytes && slots < 1<<16 {
		slots *= 2
	}
	c := &Capture{f: f, spec: spec, snap: snap, wake: make(chan struct{}, 1), done: make(chan struct{}),
		readBuf: make([]byte, snap)}
	c.ring.init(slots, snap+header.VnetHdrLen)
	f.mu.Lock()
	defer f.mu.Unlock()
	cfg := f.cfg.Load()
	for _, id := range spec.Endpoints {
		if cfg.countersOf(id) == nil {
			return nil, fmt.Errorf("capture %s: %w", id, ErrUnknownEndpoint)
		}
	}
	if f.captures == nil {
		f.captures = map[*Capture]bool{}
	}
	f.captures[c] = true
	f.storeTaps(cfg)
	return c, nil
}

// storeTaps publishes the taps of the running captures. Call it with mu held.
func (f *Forwarder) storeTaps(cfg *config) {
	if len(f.captures) == 0 {
		f.taps.Store(nil)
		return
	}
	ts := &tapSet{by: map[*counters][]tap{}}
	for c := range f.captures {
		for i, id := range c.spec.Endpoints {
			if ctr := cfg.countersOf(id); ctr != nil {
				ts.by[ctr] = append(ts.by[ctr], tap{c: c, ep: uint16(i)})
			}
		}
	}
	f.taps.Store(ts)
}

// Close ends the capture: the forwarder stops copying frames into it, and
// Read returns false. It may be called more than once.
func (c *Capture) Close() {
	if c.closed.Swap(true) {
		return
	}
	f := c.f
	f.mu.Lock()
	delete(f.captures, c)
	f.storeTaps(f.cfg.Load())
	f.mu.Unlock()
	close(c.done)
}

// Lost is the number of matching frames not captured because the ring was
// full (the reader was slow).
func (c *Capture) Lost() uint64 { return c.lost.Load() }

// Read waits for the next frame, until ctx ends or the capture is closed
// (false). Only one goroutine may call it.
func (c *Capture) Read(ctx context.Context, fr *CapturedFrame) bool {
	for {
		if c.ring.get(c, fr) {
			return true
		}
		select {
		case <-c.wake:
		case <-c.done:
			return c.ring.get(c, fr)
		case <-ctx.Done():
			return false
		}
	}
}

// tapSet is the immutable set of taps, by the counters of the endpoint
// watched (ENI, internet host, service port: one counters each).
type tapSet struct {
	by map[*counters][]tap
}

type tap struct {
	c  *Capture
	ep uint16 // index of the endpoint in the capture's spec
}

// put copies frame into the capture's ring when it matches, or counts it as
// lost. It allocates nothing.
func (c *Capture) put(ep uint16, dir CaptureDir, frame []byte, reason dropReason, by string, rule int32) {
	if reason == dropNone && (c.spec.Drops || c.spec.Dir&dir == 0) {
		return
	}
	if len(frame) < header.VnetHdrLen || !c.spec.Filter.Match(frame) {
		return
	}
	if !c.ring.put(ep, dir, frame, reason, by, rule) {
		c.lost.Add(1)
		return
	}
	if len(c.wake) == 0 { // a token waits already: no channel operation
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// captureRing is a bounded multi-producer, single-consumer queue of
// preallocated slots (D. Vyukov's bounded MPMC queue, one reader): a
// producer claims a slot with one CAS on tail, the reader releases it by
// advancing its sequence.
type captureRing struct {
	tail  atomic.Uint64
	_     [56]byte // keep the producers' counter off the reader's line
	head  uint64   // the reader's only
	mask  uint64
	slots []capSlot
}

type capSlot struct {
	seq    atomic.Uint64
	n      int // bytes in data: virtio-net header + the kept part of the frame
	orig   int // the Ethernet frame's length
	ts     int64
	ep     uint16
	dir    CaptureDir
	reason dropReason
	by     string
	rule   int32
	data   []byte
}

func (r *captureRing) init(n, slotBytes int) {
	r.mask = uint64(n - 1)
	r.slots = make([]capSlot, n)
	slab := make([]byte, n*slotBytes)
	for i := range r.slots {
		r.slots[i].seq.Store(uint64(i))
		r.slots[i].data = slab[i*slotBytes : (i+1)*slotBytes : (i+1)*slotBytes]
	}
}

// put stores a frame, or reports false when the ring is full.
func (r *captureRing) put(ep uint16, dir CaptureDir, frame []byte, reason dropReason, by string, rule int32) bool {
	pos := r.tail.Load()
	var s *capSlot
	for {
		s = &r.slots[pos&r.mask]
		seq := s.seq.Load()
		switch d := int64(seq - pos); {
		case d == 0:
			if r.tail.CompareAndSwap(pos, pos+1) {
				goto claimed
			}
			pos = r.tail.Load()
		case d < 0:
			return false // full
		default:
			pos = r.tail.Load()
		}
	}
claimed:
	s.n = copy(s.data, frame)
	s.orig = len(frame) - header.VnetHdrLen
	s.ts = time.Now().UnixNano()
	s.ep, s.dir, s.reason, s.by, s.rule = ep, dir, reason, by, rule
	s.seq.Store(pos + 1)
	return true
}

// get moves the oldest frame into fr, or reports false when there is none.
func (r *captureRing) get(c *Capture, fr *CapturedFrame) bool {
	s := &r.slots[r.head&r.mask]
	if s.seq.Load() != r.head+1 {
		return false
	}
	d := s.data[:s.n]
	copy(fr.Vnet[:], d)
	fr.Data = c.readBuf[:copy(c.readBuf, d[header.VnetHdrLen:])]
	fr.Endpoint, fr.Dir, fr.OrigLen, fr.Time = int(s.ep), s.dir, s.orig, time.Unix(0, s.ts)
	fr.Drop, fr.By, fr.Rule = "", s.by, s.rule
	if s.reason != dropNone {
		fr.Drop = s.reason.String()
	}
	s.by = ""
	s.seq.Store(r.head + r.mask + 1)
	r.head++
	return true
}

// The worker's hooks. w.taps is loaded once per frame in handle; nil means
// no capture runs and every hook is one comparison.

// tapOut captures a frame the endpoint of counters c sent.
func (w *worker) tapOut(c *counters, frame []byte) {
	for _, t := range w.taps.by[c] {
		t.c.put(t.ep, CaptureOut, frame, dropNone, "", 0)
	}
}

// tapIn captures a frame the endpoint of counters c receives.
func (w *worker) tapIn(c *counters, frame []byte) {
	for _, t := range w.taps.by[c] {
		t.c.put(t.ep, CaptureIn, frame, dropNone, "", 0)
	}
}

// tapPort captures a frame read from the worker's own port. The endpoint's
// counters are looked up once per set of taps, not per frame.
func (w *worker) tapPort(cfg *config, frame []byte) {
	if w.tapsSeen != w.taps {
		w.tapsSeen, w.tapCtr = w.taps, cfg.countersOf(w.id)
	}
	if w.tapCtr != nil {
		w.tapOut(w.tapCtr, frame)
	}
}

// drop counts a drop against c and hands the frame to the captures of
// dropped frames.
func (w *worker) drop(c *counters, r dropReason) {
	c.drop(r)
	if w.taps != nil {
		w.tapDrop(c, r, "", 0)
	}
}

// dropDetail counts a drop with what decided it (OBS-2), as drop.
func (w *worker) dropDetail(c *counters, r dropReason, what string, rule int32) {
	c.dropDetail(r, what, rule)
	if w.taps != nil {
		w.tapDrop(c, r, what, rule)
	}
}

func (w *worker) tapDrop(c *counters, r dropReason, what string, rule int32) {
	if w.tapFrame == nil {
		return
	}
	for _, t := range w.taps.by[c] {
		if t.c.spec.Drops {
			t.c.put(t.ep, 0, w.tapFrame, r, what, rule)
		}
	}
}

// Segments calls fn with each wire frame a captured frame stands for: a
// GSO TCPv4 super-frame (vnet says so) is split into segments of its GSO
// size, each with its own IPv4 length, id and checksum, TCP sequence number
// and flags (FIN and PSH on the last only, CWR on the first only) and a
// complete TCP checksum, as the kernel's segmentation would send them. Any
// other frame is passed on as is. The segments live in buf (grown as
// needed, returned for reuse) and are valid during fn only.
func Segments(vnet []byte, frame, buf []byte, fn func(seg []byte)) []byte {
	vh := header.VnetHdr(vnet)
	mss := int(vh.GSOSize())
	if len(vnet) < header.VnetHdrLen || vh.GSOType()&^header.VnetGSOECN != header.VnetGSOTCPv4 || mss == 0 ||
		len(frame) < header.EthernetLen+header.IPv4MinLen {
		fn(frame)
		return buf
	}
	ip := header.IPv4(frame[header.EthernetLen:])
	hl := ip.HeaderLen()
	if ip.Version() != 4 || ip.Protocol() != header.ProtoTCP || hl < header.IPv4MinLen || len(ip) < hl+header.TCPMinLen {
		fn(frame)
		return buf
	}
	tl := header.TCP(ip[hl:]).DataOffset()
	hdr := header.EthernetLen + hl + tl
	if tl < header.TCPMinLen || len(frame) < hdr {
		fn(frame)
		return buf
	}
	end := header.EthernetLen + ip.TotalLen()
	if end > len(frame) || end < hdr {
		end = len(frame)
	}
	payload := frame[hdr:end]
	if cap(buf) < hdr+mss {
		buf = make([]byte, hdr+mss)
	}
	id := ip.ID()
	seq := header.TCP(ip[hl:]).Seq()
	flags := header.TCP(ip[hl:]).Flags()
	for i, off := 0, 0; off < len(payload) || off == 0; i++ {
		n := min(mss, len(payload)-off)
		seg := buf[:hdr+n]
		copy(seg, frame[:hdr])
		copy(seg[hdr:], payload[off:off+n])
		sip := header.IPv4(seg[header.EthernetLen:])
		binary.BigEndian.PutUint16(sip[2:], uint16(hl+tl+n))
		binary.BigEndian.PutUint16(sip[4:], id+uint16(i))
		sip.SetChecksum(sip.ComputeChecksum())
		t := seg[header.EthernetLen+hl:]
		binary.BigEndian.PutUint32(t[4:], seq+uint32(off))
		f := flags
		if off+n < len(payload) {
			f &^= 0x01 | 0x08 // FIN, PSH
		}
		if i > 0 {
			f &^= 0x80 // CWR
		}
		t[13] = f
		t[16], t[17] = 0, 0
		sum := header.Checksum(t, header.PseudoHeaderSum(sip.SrcBytes(), sip.DstBytes(), header.ProtoTCP, tl+n))
		binary.BigEndian.PutUint16(t[16:], ^sum)
		fn(seg)
		off += n
		if n == 0 {
			break
		}
	}
	return buf
}

// TryRead moves the next frame into fr without waiting; false when there
// is none now. Only the goroutine that calls Read may call it.
func (c *Capture) TryRead(fr *CapturedFrame) bool { return c.ring.get(c, fr) }

// CapturesRunning is the number of captures not yet closed (tests: a
// capture's end leaves no tap behind).
func (f *Forwarder) CapturesRunning() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.captures)
}
