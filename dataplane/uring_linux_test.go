//go:build linux

package dataplane

import (
	"bytes"
	"fmt"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/vpcnet/vpcnet/dataplane/header"
	"github.com/vpcnet/vpcnet/netns"
)

// The Go structs are the kernel's, byte for byte.
func TestURingABISizes(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"io_uring_params", unsafe.Sizeof(uringParams{}), 120},
		{"io_sqring_offsets", unsafe.Sizeof(uringSQOffsets{}), 40},
		{"io_cqring_offsets", unsafe.Sizeof(uringCQOffsets{}), 40},
		{"io_uring_sqe", unsafe.Sizeof(uringSQE{}), 64},
		{"io_uring_cqe", unsafe.Sizeof(uringCQE{}), 16},
		{"io_uring_sqe.user_data offset", unsafe.Offsetof(uringSQE{}.userData), 32},
		{"io_uring_sqe.addr3 offset", unsafe.Offsetof(uringSQE{}.addr3), 48},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d bytes, want %d", c.name, c.got, c.want)
		}
	}
}

// uringWorker is a worker with n read buffers and a ring for its writes,
// as endBatch makes it under VPCNET_IO=uring.
func uringWorker(t *testing.T, n int) *worker {
	t.Helper()
	w := &worker{f: &Forwarder{}, bufs: make([][]byte, n), sizes: make([]int, n)}
	for i := range w.bufs {
		w.bufs[i] = make([]byte, MaxFrame)
	}
	if w.uw = newURingWriter(w.bufs); w.uw == nil {
		_, err := newURing(4)
		t.Skipf("io_uring unavailable: %v", err)
	}
	t.Cleanup(w.closeWrites)
	return w
}

// put copies frame f into read buffer i, as a read would, and returns it.
func (w *worker) put(i int, f []byte) []byte {
	return w.bufs[i][:copy(w.bufs[i], f)]
}

// sendVia delivers read buffer i's frame to port p as the pipeline does.
func (w *worker) sendVia(p Port, c *counters, i, size int) {
	w.p.frame = w.bufs[i][:size]
	w.deliver(p, c, dstMACTest, srcMACTest)
}

var (
	dstMACTest = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0d}
	srcMACTest = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x05}
)

// packetTap opens an AF_PACKET socket with PACKET_VNET_HDR on eth0 in
// namespace name: it sees every frame the namespace's kernel receives from
// the TAP, with the virtio-net header the kernel keeps for it.
func packetTap(t *testing.T, name string) int {
	t.Helper()
	ns, err := vnetns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	fd := -1
	if err := netns.Do(ns, func() error {
		s, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		fd = s
		if err := unix.SetsockoptInt(s, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
			return err
		}
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		return unix.Bind(s, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index})
	}); err != nil {
		if fd >= 0 {
			unix.Close(fd)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	tv := unix.NsecToTimeval(int64(2 * time.Second))
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	return fd
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// receive returns the next frame (virtio-net header first) that the
// namespace's kernel received and whose Ethernet source is srcMACTest: the
// kernel's own frames (router solicitations, its replies) are skipped.
func receive(t *testing.T, fd int) []byte {
	t.Helper()
	buf := make([]byte, MaxFrame+100)
	for {
		n, from, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			t.Fatalf("no frame arrived: %v", err)
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		if n >= header.VnetHdrLen+14 && bytes.Equal(buf[header.VnetHdrLen+6:header.VnetHdrLen+12], srcMACTest) {
			return append([]byte(nil), buf[:n]...)
		}
	}
}

// tagFrame is a UDP datagram to 10.99.0.77 (nobody: the namespace's kernel
// drops it after the packet tap has seen it) with payload tag.
func tagFrame(t *testing.T, tag string) []byte {
	return frame(t, srcMACTest, dstMACTest, "10.99.0.2", "10.99.0.77",
		&layers.UDP{SrcPort: 4000, DstPort: 9}, gopacket.Payload(tag))
}

// gsoFrame is a TCP super-frame of 30000 bytes of payload, to be cut into
// 1448-byte segments by whoever sends it on, its checksum left to finish
// (VIRTIO_NET_HDR_F_NEEDS_CSUM), as an instance's kernel sends it with TSO.
func gsoFrame(t *testing.T) []byte {
	payload := make([]byte, 30000)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	f := frame(t, srcMACTest, dstMACTest, "10.99.0.2", "10.99.0.77",
		&layers.TCP{SrcPort: 4000, DstPort: 5201, Seq: 1000, Ack: 1, ACK: true, PSH: true, Window: 512}, gopacket.Payload(payload))
	v := header.VnetHdr(f)
	v.SetFlags(header.VnetFlagNeedsCsum)
	v.SetGSOType(header.VnetGSOTCPv4)
	v.SetHdrLen(14 + 20 + 20)
	v.SetGSOSize(1448)
	v.SetCsum(14+20, 16)
	return f
}

// Frames written with the batch arrive whole and in order, a GSO
// super-frame with its offload metadata, on two TAPs from one batch (one
// io_uring_enter holding both descriptors), and each is counted once as
// sent.
func TestURingBatchArrivesIntact(t *testing.T) {
	w := uringWorker(t, tapBatch)
	tapA, nsA := tapRig(t, 1)
	tapB, nsB := tapRigAt(t, 2, "10.99.0.1/24", nil)
	fdA, fdB := packetTap(t, nsA), packetTap(t, nsB)
	var cA, cB counters

	var sent [2][][]byte // by TAP: what each should receive, in order
	for i := range 9 {
		f := tagFrame(t, "frame-"+string(rune('a'+i)))
		if i == 4 {
			f = gsoFrame(t) // A's third frame
		}
		b := w.put(i, f)
		tap, c, to := tapA, &cA, 0
		if i%2 == 1 {
			tap, c, to = tapB, &cB, 1
		}
		w.queue = i / 2 // B's frames go to its queues 0, 1, 0, 1
		w.sendVia(tap, c, i, len(b))
		sent[to] = append(sent[to], b) // deliver set the MACs in place
	}
	if n := len(w.uw.ents); n != 9 {
		t.Fatalf("%d frames wait for the batch's end, want 9", n)
	}
	if len(w.uw.dests) != 3 {
		t.Fatalf("%d destinations, want 3 (A's queue, B's two queues)", len(w.uw.dests))
	}
	w.endBatch()
	for to, fd := range []int{fdA, fdB} {
		for k, want := range sent[to] {
			got := receive(t, fd)
			if !bytes.Equal(got[header.VnetHdrLen:], want[header.VnetHdrLen:]) {
				t.Fatalf("TAP %d frame %d: got %d bytes, want %d, contents differ", to, k, len(got), len(want))
			}
			if to == 0 && k == 2 {
				if len(got) < 30000 {
					t.Fatalf("A's third frame has %d bytes, want the GSO super-frame", len(got))
				}
				v := header.VnetHdr(got)
				if v.GSOType() != header.VnetGSOTCPv4 || v.GSOSize() != 1448 || !v.NeedsCsum() ||
					v.CsumStart() != 14+20 || v.CsumOffset() != 16 {
					t.Fatalf("GSO frame arrived with virtio-net header % x", got[:header.VnetHdrLen])
				}
			}
		}
	}
	for _, c := range []struct {
		name string
		c    *counters
		sent [][]byte
	}{{"A", &cA, sent[0]}, {"B", &cB, sent[1]}} {
		var b uint64
		for _, f := range c.sent {
			b += uint64(len(f) - header.VnetHdrLen)
		}
		if got := c.c.txFrames.Load(); got != uint64(len(c.sent)) || c.c.txBytes.Load() != b {
			t.Errorf("TAP %s counts %d frames, %d bytes sent, want %d, %d", c.name, got, c.c.txBytes.Load(), len(c.sent), b)
		}
	}
	if len(w.uw.ents) != 0 || len(w.uw.dests) != 0 {
		t.Fatal("the batch was not emptied")
	}
}

// A frame not in the worker's read buffers (a NAT RST is built in the
// codec's buffer, rebuilt by the next) is written at once, and so is a
// frame to a port that is not a TAP.
func TestURingWritesOtherFramesAtOnce(t *testing.T) {
	w := uringWorker(t, 4)
	tap, ns := tapRig(t, 1)
	fd := packetTap(t, ns)
	var c counters
	f := tagFrame(t, "built-elsewhere")
	w.p.frame = f
	w.deliver(tap, &c, dstMACTest, srcMACTest)
	if len(w.uw.ents) != 0 || c.txFrames.Load() != 1 {
		t.Fatalf("a frame outside the read buffers waits (%d queued, %d sent)", len(w.uw.ents), c.txFrames.Load())
	}
	if got := receive(t, fd); !bytes.Equal(got[header.VnetHdrLen:], f[header.VnetHdrLen:]) {
		t.Fatal("the frame written at once differs")
	}
	fake := NewFakePort(4)
	b := w.put(0, tagFrame(t, "to-a-fake"))
	w.sendVia(fake, &c, 0, len(b))
	if len(w.uw.ents) != 0 || c.txFrames.Load() != 2 {
		t.Fatalf("a frame to a FakePort waits (%d queued, %d sent)", len(w.uw.ents), c.txFrames.Load())
	}
	w.endBatch()
}

// A write the descriptor refuses (EAGAIN: no room) is the drop
// port-write-refused, as on the synchronous path; once there is room the
// next batch's frame is sent. Neither allocates. A full pipe stands in for
// a TAP whose instance has no room (a TAP's kernel takes every frame).
func TestURingRefusedWriteIsPortWriteRefused(t *testing.T) {
	w := uringWorker(t, 4)
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	q, err := newQueue(p[1], "pipe")
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	fill := [][]byte{make([]byte, 4096)}
	for {
		if _, err := q.Write(fill, 0); err != nil {
			break
		}
	}
	var c counters
	b := w.put(0, tagFrame(t, "refused"))
	w.sendVia(q, &c, 0, len(b))
	w.endBatch()
	if r, e, s := c.drops[dropPortWriteRefused].Load(), c.drops[dropTxError].Load(), c.txFrames.Load(); r != 1 || e != 0 || s != 0 {
		t.Fatalf("refused write counts port-write-refused %d, tx-error %d, sent %d; want 1, 0, 0", r, e, s)
	}
	if a := testing.AllocsPerRun(100, func() {
		w.sendVia(q, &c, 0, len(b))
		w.endBatch()
	}); a != 0 {
		t.Fatalf("%.1f allocations per refused batch, want 0", a)
	}
	drain := make([]byte, 1<<20)
	unix.SetNonblock(p[0], true)
	for {
		if _, err := unix.Read(p[0], drain); err != nil {
			break
		}
	}
	w.sendVia(q, &c, 0, len(b))
	w.endBatch()
	if c.txFrames.Load() != 1 || c.txBytes.Load() != uint64(len(b)-header.VnetHdrLen) {
		t.Fatalf("after draining: %d frames, %d bytes sent, want 1, %d", c.txFrames.Load(), c.txBytes.Load(), len(b)-header.VnetHdrLen)
	}
	got := make([]byte, len(b))
	if n, err := unix.Read(p[0], got); err != nil || n != len(b) || !bytes.Equal(got, b) {
		t.Fatalf("the pipe got %d bytes (%v), want the frame's %d", n, err, len(b))
	}
}

// A batch to a TAP closed before the batch ends (DetachPort) submits
// nothing on its descriptor: its frames are tx-error, as a write on a
// closed port is. A closed writer writes at once.
func TestURingWriteToAClosedTAPIsTxError(t *testing.T) {
	w := uringWorker(t, 4)
	tap, _ := tapRig(t, 1)
	var c counters
	b := w.put(0, tagFrame(t, "late"))
	w.sendVia(tap, &c, 0, len(b))
	tap.Close()
	w.endBatch()
	if e, s := c.drops[dropTxError].Load(), c.txFrames.Load(); e != 1 || s != 0 {
		t.Fatalf("write to a closed TAP: tx-error %d, sent %d; want 1, 0", e, s)
	}
	w.closeWrites()
	w.closeWrites() // twice is harmless
	if w.uw != nil {
		t.Fatal("closeWrites kept the writer")
	}
	w.sendVia(tap, &c, 0, len(b)) // written at once: refused as closed
	if e := c.drops[dropTxError].Load(); e != 2 {
		t.Fatalf("after closeWrites: tx-error %d, want 2", e)
	}
}

// A TAP closed while batches go to it: every frame is either sent or a
// tx-error, none is lost, nothing crashes (run with -race).
func TestURingBatchesRaceClose(t *testing.T) {
	w := uringWorker(t, 8)
	tap, _ := tapRig(t, 2)
	var c counters
	f := tagFrame(t, "race")
	for i := range w.bufs {
		w.put(i, f)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		time.Sleep(20 * time.Millisecond)
		tap.Close()
	})
	total := 0
	for deadline := time.Now().Add(200 * time.Millisecond); time.Now().Before(deadline); {
		for i := range w.bufs {
			w.queue = i
			w.sendVia(tap, &c, i, len(f))
			total++
		}
		w.endBatch()
	}
	wg.Wait()
	sent, errs := c.txFrames.Load(), c.drops[dropTxError].Load()
	t.Logf("%d frames: %d sent, %d tx-error", total, sent, errs)
	if sent+errs+c.drops[dropPortWriteRefused].Load() != uint64(total) || errs == 0 || sent == 0 {
		t.Fatalf("%d frames: %d sent, %d tx-error: want every frame counted once, some of each", total, sent, errs)
	}
}

// A batch through the ring allocates nothing per frame or per batch.
func TestURingBatchAllocatesNothing(t *testing.T) {
	w := uringWorker(t, tapBatch)
	tap, _ := tapRigAt(t, 2, "10.99.0.1/24", nil)
	var c counters
	f := tagFrame(t, "alloc")
	for i := range w.bufs {
		w.put(i, f)
	}
	batch := func() {
		for i := range w.bufs {
			w.queue = i
			w.sendVia(tap, &c, i, len(f))
		}
		w.endBatch()
	}
	batch()
	if a := testing.AllocsPerRun(100, batch); a != 0 {
		t.Fatalf("%.1f allocations per batch of %d frames, want 0", a, tapBatch)
	}
	if s := c.txFrames.Load(); s != 101*tapBatch+tapBatch {
		t.Fatalf("%d frames sent, want %d", s, 102*tapBatch)
	}
}

// Off (VPCNET_IO unset), endBatch makes no ring and deliver writes at once:
// the default path is the synchronous one.
func TestURingOffWritesAtOnce(t *testing.T) {
	old := uringIO
	defer func() { uringIO = old }()
	uringIO = false
	w := &worker{f: &Forwarder{}, bufs: [][]byte{make([]byte, MaxFrame)}}
	w.endBatch()
	if w.uw != nil {
		t.Fatal("a ring was made with VPCNET_IO unset")
	}
	fake := NewFakePort(1)
	var c counters
	b := w.put(0, tagFrame(t, "sync"))
	w.sendVia(fake, &c, 0, len(b))
	select {
	case <-fake.Sent():
	default:
		t.Fatal("the frame was not written at once")
	}
	uringIO = true
	w.endBatch()
	if w.uw == nil {
		t.Skip("io_uring unavailable")
	}
	defer w.closeWrites()
	if !w.uwTried {
		t.Fatal("uwTried not set")
	}
}

// The ring itself: writes submitted in one enter complete with the
// kernel's results, in user_data order for one descriptor.
func TestURingSubmitReap(t *testing.T) {
	r, err := newURing(8)
	if err != nil {
		t.Skipf("io_uring unavailable: %v", err)
	}
	defer r.close()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	msgs := [][]byte{[]byte("one"), []byte("two!"), []byte("three")}
	for i, m := range msgs {
		r.next().write(int32(p[1]), m, uint64(100+i))
	}
	r.next().write(-1, msgs[0], 999) // a bad descriptor fails alone
	if err := r.submit(4); err != nil {
		t.Fatal(err)
	}
	cqes := make([]uringCQE, 16)
	n := r.reap(cqes)
	if n != 4 {
		t.Fatalf("%d completions, want 4", n)
	}
	for _, c := range cqes[:n] {
		switch {
		case c.userData == 999:
			if c.res != -int32(unix.EBADF) {
				t.Errorf("write on fd -1: %d, want -EBADF", c.res)
			}
		case c.userData >= 100 && c.userData < 103:
			if want := int32(len(msgs[c.userData-100])); c.res != want {
				t.Errorf("write %d: %d, want %d", c.userData, c.res, want)
			}
		default:
			t.Errorf("unknown completion %d", c.userData)
		}
	}
	got := make([]byte, 64)
	k, _ := unix.Read(p[0], got)
	if string(got[:k]) != "onetwo!three" {
		t.Fatalf("pipe holds %q", got[:k])
	}
	// The ring wraps: many rounds through 8 SQEs and 16 CQEs.
	for round := range 50 {
		for i := range 5 {
			r.next().write(int32(p[1]), msgs[0], uint64(round*10+i))
		}
		if err := r.submit(5); err != nil {
			t.Fatal(err)
		}
		if n := r.reap(cqes); n != 5 {
			t.Fatalf("round %d: %d completions", round, n)
		}
		unix.Read(p[0], got)
	}
}

// withURing turns VPCNET_IO=uring on for one test.
func withURing(t *testing.T) {
	old := uringIO
	uringIO = true
	t.Cleanup(func() { uringIO = old })
}

// udpSender returns a socket in namespace name whose datagrams to
// 10.99.0.2 (a permanent neighbour, so no ARP) leave through the TAP.
func udpSender(t *testing.T, name string) net.Conn {
	t.Helper()
	ns, err := vnetns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	link, err := h.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.NeighSet(&netlink.Neigh{LinkIndex: link.Attrs().Index, State: netlink.NUD_PERMANENT,
		IP: net.ParseIP("10.99.0.2"), HardwareAddr: net.HardwareAddr{2, 0, 0, 0, 0, 2}}); err != nil {
		t.Fatal(err)
	}
	var conn net.Conn
	if err := netns.Do(ns, func() (err error) {
		conn, err = net.Dial("udp4", "10.99.0.2:9")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// sendSeq sends datagrams numbered from to from+n-1 on conn.
func sendSeq(conn net.Conn, from, n int) error {
	for i := from; i < from+n; i++ {
		if _, err := conn.Write([]byte(fmt.Sprintf("seq-%04d", i))); err != nil {
			return err
		}
	}
	return nil
}

// seqOf returns the number a sendUDP datagram carries, or -1.
func seqOf(f []byte) int {
	const udpOff = header.VnetHdrLen + 14 + 20 + 8
	if len(f) < udpOff+8 || string(f[udpOff:udpOff+4]) != "seq-" {
		return -1
	}
	n := 0
	for _, c := range f[udpOff+4 : udpOff+8] {
		n = n*10 + int(c-'0')
	}
	return n
}

// Reads through the ring return the kernel's frames whole and in order, a
// full batch at a time, then nothing once the queue is empty; a closed
// queue is ErrClosed and lets its ring go. The batch grows from
// uringMinReads reads within one TryRead until the queue is empty.
func TestURingReadsTheKernelsFramesInOrder(t *testing.T) {
	withURing(t)
	tap, name := tapRig(t, 1)
	q := tap.queues[0]
	bufs, sizes := make([][]byte, tapBatch), make([]int, tapBatch)
	for i := range bufs {
		bufs[i] = make([]byte, MaxFrame)
	}
	drain := func() { // what the kernel sent by itself (IPv6 solicitations, MLD)
		for {
			if n, err := q.TryRead(bufs, sizes, 0); n == 0 || err != nil {
				return
			}
		}
	}
	drain()
	if q.rring == nil {
		t.Skip("io_uring unavailable")
	}
	conn := udpSender(t, name)
	const sent = 100
	if err := sendSeq(conn, 0, sent); err != nil {
		t.Fatal(err)
	}
	next, batches := 0, 0
	for {
		n, err := q.TryRead(bufs, sizes, 0)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		batches++
		if n != tapBatch && next+n != sent {
			t.Errorf("batch %d: %d frames with %d still queued", batches, n, sent-next-n)
		}
		for i := range n {
			if s := seqOf(bufs[i][:sizes[i]]); s >= 0 {
				if s != next {
					t.Fatalf("frame %d of batch %d is datagram %d, want %d", i, batches, s, next)
				}
				next++
			}
		}
	}
	if next != sent {
		t.Fatalf("read %d datagrams, want %d", next, sent)
	}
	// A queue that fills again after idling: rwant starts low and grows
	// within the one TryRead.
	q.rwant = 0
	if err := sendSeq(conn, 0, 20); err != nil {
		t.Fatal(err)
	}
	if n, _ := q.TryRead(bufs, sizes, 0); n != 20 {
		t.Fatalf("one TryRead of 20 queued frames returned %d", n)
	}
	if a := testing.AllocsPerRun(100, func() { q.TryRead(bufs, sizes, 0) }); a != 0 {
		t.Fatalf("%.1f allocations per read of an empty queue, want 0", a)
	}
	if err := sendSeq(conn, 0, 5); err != nil {
		t.Fatal(err)
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	n, _ := q.TryRead(bufs, sizes, 0)
	runtime.ReadMemStats(&m1)
	if n != 5 || m1.Mallocs != m0.Mallocs {
		t.Fatalf("a read of 5 queued frames returned %d and allocated %d times, want 5 and 0", n, m1.Mallocs-m0.Mallocs)
	}
	tap.Close()
	if _, err := q.TryRead(bufs, sizes, 0); err != ErrClosed {
		t.Fatalf("read of a closed queue: %v, want ErrClosed", err)
	}
	if q.rring != nil || !q.rringOff {
		t.Fatal("a closed queue kept its ring")
	}
	if _, err := q.TryRead(bufs, sizes, 0); err != ErrClosed {
		t.Fatalf("second read of a closed queue: %v, want ErrClosed", err)
	}
}

// Frames that arrive while a TryRead's reads run (a flood from another
// CPU) are still read in the order sent: none twice, none reordered, even
// when a read after an empty one finds a frame.
func TestURingReadsKeepOrderUnderAFlood(t *testing.T) {
	withURing(t)
	tap, name := tapRig(t, 1)
	q := tap.queues[0]
	bufs, sizes := make([][]byte, tapBatch), make([]int, tapBatch)
	for i := range bufs {
		bufs[i] = make([]byte, MaxFrame)
	}
	conn := udpSender(t, name)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 20 {
			sendSeq(conn, i*500, 500) // a full queue drops (tx_dropped), never an error here
		}
	}()
	last, got, reads := -1, 0, 0
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		n, err := q.TryRead(bufs, sizes, 0)
		if err != nil {
			t.Fatal(err)
		}
		reads++
		for i := range n {
			s := seqOf(bufs[i][:sizes[i]])
			if s < 0 {
				continue
			}
			if s <= last {
				t.Fatalf("datagram %d after %d", s, last)
			}
			last = s
			got++
		}
	}
	t.Logf("%d datagrams read in %d reads", got, reads)
	if got == 0 {
		t.Fatal("nothing read")
	}
}
