package dataplane

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"syscall"
	"unsafe"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// TUNSETOFFLOAD flags (linux/if_tun.h).
const (
	tunFCsum = 0x01
	tunFTSO4 = 0x02
	tunFTSO6 = 0x04
)

// TAP is a Port over a TAP device opened with IFF_VNET_HDR and TSO offloads,
// so that the instance's kernel hands the forwarder whole GSO super-frames
// (performance.md). The device lives in the instance namespace; its
// descriptors work from any goroutine. Closing them removes the device (it
// is not persistent), so a killed forwarder leaves no device behind.
//
// With more than one descriptor the device is multi-queue
// (IFF_MULTI_QUEUE): the instance's kernel spreads its flows over the
// queues by flow hash, one flow always on one queue, and the forwarder runs
// one worker per queue (Queues), so that several flows use several cores.
type TAP struct {
	name   string
	queues []*tapQueue
}

// tapQueue is one queue of a TAP device: a Port of its own.
//
// Its descriptor is non-blocking and deliberately kept out of Go's poller
// (the *os.File is made while the descriptor still blocks): a read or write
// never parks the goroutine. The forwarder's poll loops (poll_linux.go)
// learn from their own epoll instance when a queue has frames, and a write
// the device cannot take at once fails with ErrPortFull instead of waiting,
// so one full device never stalls the loop that serves every other port.
type tapQueue struct {
	file *os.File // never call file.Fd(); its reference count guards fd
	rc   syscall.RawConn
	fd   int // for poll(2) in the blocking Read of tests; I/O goes through rc

	// Read state, used by the read closure made once in openQueue so that
	// a read allocates nothing. One goroutine reads at a time.
	rbufs  [][]byte
	rsizes []int
	roff   int
	rn     int
	rerr   error
	readFn func(fd uintptr) bool

	// Reads through io_uring (the default; VPCNET_IO=syscalls turns it
	// off): a batch of reads in one io_uring_enter. Reader-only state like the above: rring is made by
	// the first TryRead and closed by the TryRead that finds the queue
	// closed (a queue retired without one leaves it to a cleanup).
	rring      *uring
	rringOff   bool       // read(2) instead: uring off, unavailable, failed, or the queue closed
	rcqes      []uringCQE // completions of one round
	rres       []int32    // results of one round, by SQE
	rwant      int        // reads the next TryRead submits first: twice the last batch
	readRingFn func(fd uintptr) bool

	// Write state, likewise; several goroutines write, so wmu guards it.
	wmu     sync.Mutex
	wbufs   [][]byte
	woff    int
	wn      int
	werr    error
	writeFn func(fd uintptr) bool
}

// OpenTAP turns fds, descriptors of /dev/net/tun (opened inside the
// instance namespace by netns.OpenTUN, which decides where the device lives),
// into the queues of TAP device name and returns it as a Port. OpenTAP owns
// the descriptors from then on, and closes them all on error. The device is
// left down; netns configures it.
func OpenTAP(fds []int, name string) (*TAP, error) {
	if len(fds) == 0 {
		return nil, fmt.Errorf("TAP %s: no descriptor", name)
	}
	t := &TAP{name: name}
	flags := uint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
	if len(fds) > 1 {
		flags |= unix.IFF_MULTI_QUEUE
	}
	for i, fd := range fds {
		q, err := openQueue(fd, name, flags)
		if err != nil {
			for _, fd := range fds[i+1:] {
				unix.Close(fd)
			}
			t.Close()
			return nil, err
		}
		t.queues = append(t.queues, q)
	}
	return t, nil
}

// openQueue attaches fd to device name as one more queue.
func openQueue(fd int, name string, flags uint16) (*tapQueue, error) {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	ifr.SetUint16(flags)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("TUNSETIFF %s: %w", name, err)
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TUNSETVNETHDRSZ, 10); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("TUNSETVNETHDRSZ %s: %w", name, err)
	}
	if err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, tunFCsum|tunFTSO4|tunFTSO6); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("TUNSETOFFLOAD %s: %w", name, err)
	}
	return newQueue(fd, "/dev/net/tun:"+name)
}

// newQueue wraps descriptor fd, which must still block, as a queue. The
// file is made while fd blocks, so that Go does not put it in its poller;
// then fd becomes non-blocking for the raw reads and writes.
func newQueue(fd int, name string) (*tapQueue, error) {
	q := &tapQueue{file: os.NewFile(uintptr(fd), name), fd: fd}
	if err := unix.SetNonblock(fd, true); err != nil {
		q.file.Close()
		return nil, err
	}
	var err error
	if q.rc, err = q.file.SyscallConn(); err != nil {
		q.file.Close()
		return nil, err
	}
	q.readFn = q.readSome
	q.readRingFn = q.readRing
	q.writeFn = q.writeSome
	return q, nil
}

// Name returns the device name.
func (t *TAP) Name() string { return t.name }

// Queues returns one Port per queue, for one reader each. Writing to any of
// them, or to t, sends on the device.
func (t *TAP) Queues() []Port {
	ps := make([]Port, len(t.queues))
	for i, q := range t.queues {
		ps[i] = q
	}
	return ps
}

// Read implements Port: it reads the first queue.
func (t *TAP) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	return t.queues[0].Read(bufs, sizes, offset)
}

// Write implements Port.
func (t *TAP) Write(bufs [][]byte, offset int) (int, error) { return t.queues[0].Write(bufs, offset) }

// WriteQueue writes on queue q (modulo the number of queues).
func (t *TAP) WriteQueue(q int, bufs [][]byte, offset int) (int, error) {
	return t.queues[q%len(t.queues)].Write(bufs, offset)
}

// BatchSize implements Port.
func (t *TAP) BatchSize() int { return tapBatch }

// Close implements Port; it removes the device.
func (t *TAP) Close() error {
	var errs []error
	for _, q := range t.queues {
		errs = append(errs, q.Close())
	}
	return errors.Join(errs...)
}

// QueueDrops implements queueDropper: the frames the instance's kernel
// dropped because a queue toward the forwarder was full. The kernel counts
// them as the device's tx_dropped (tun_net_xmit: the queue's ring is full;
// nothing else drops there once the queues are attached). It is read over
// netlink in the device's namespace, found from a queue's descriptor
// (TUNGETDEVNETNS), so it costs nothing per frame.
func (t *TAP) QueueDrops() (uint64, error) {
	q := t.queues[0]
	ns := -1
	var nserr error
	if err := q.rc.Control(func(fd uintptr) {
		ns, nserr = unix.IoctlRetInt(int(fd), unix.TUNGETDEVNETNS)
	}); err != nil {
		return 0, ErrClosed
	}
	if nserr != nil {
		return 0, fmt.Errorf("TUNGETDEVNETNS %s: %w", t.name, nserr)
	}
	defer unix.Close(ns)
	h, err := netlink.NewHandleAt(vnetns.NsHandle(ns), unix.NETLINK_ROUTE)
	if err != nil {
		return 0, fmt.Errorf("netlink for %s: %w", t.name, err)
	}
	defer h.Close()
	l, err := h.LinkByName(t.name)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", t.name, err)
	}
	st := l.Attrs().Statistics
	if st == nil {
		return 0, fmt.Errorf("%s: no statistics", t.name)
	}
	return st.TxDropped, nil
}

// tapBatch is how many frames one Read returns at most.
const tapBatch = 32

// readSome reads frames until the batch is full or the queue is empty.
// It never asks the runtime to wait: the file is not in Go's poller.
func (q *tapQueue) readSome(fd uintptr) bool {
	for q.rn < len(q.rbufs) {
		n, err := unix.Read(int(fd), q.rbufs[q.rn][q.roff:])
		if err != nil {
			if err != unix.EAGAIN && err != unix.EINTR {
				q.rerr = err
			}
			return true
		}
		q.rsizes[q.rn] = n
		q.rn++
	}
	return true
}

// TryRead implements pollable: Read that returns (0, nil) at once when the
// queue is empty. It makes no system call beyond the reads themselves:
// one read(2) per frame and one that finds the queue empty, or with
// io_uring (the default) one io_uring_enter for them all (readRing). With
// io_uring it may also reorder the entries of bufs (the caller's buffers,
// none replaced): frame i is in bufs[i] after the call.
func (q *tapQueue) TryRead(bufs [][]byte, sizes []int, offset int) (int, error) {
	q.rbufs, q.rsizes, q.roff, q.rn, q.rerr = bufs, sizes, offset, 0, nil
	fn := q.readFn
	if uringIO && !q.rringOff && q.startRing(len(bufs)) {
		fn = q.readRingFn
	}
	err := q.rc.Read(fn)
	n := q.rn
	q.rbufs, q.rsizes = nil, nil
	if err != nil && q.rring != nil {
		q.stopRing() // closed: the reader, the ring's only user, lets it go
	}
	if n > 0 {
		return n, nil
	}
	if err != nil {
		return 0, ErrClosed
	}
	return 0, q.rerr
}

// uringMinReads is how many reads a TryRead submits at least: an idle
// queue's first frame costs that many attempts, all but one -EAGAIN,
// in the same io_uring_enter.
const uringMinReads = 4

// startRing makes the read ring for batches of n frames. It reports false,
// once and for all, when io_uring is not available: read(2) does.
func (q *tapQueue) startRing(n int) bool {
	if q.rring != nil {
		return true
	}
	entries := uint32(1)
	for entries < uint32(n) {
		entries <<= 1
	}
	r, err := newURing(entries)
	if err != nil {
		q.rringOff = true
		return false
	}
	q.rring, q.rcqes, q.rres = r, make([]uringCQE, 2*entries), make([]int32, entries)
	runtime.AddCleanup(q, (*uring).close, r)
	return true
}

// stopRing closes the read ring; read(2) reads from then on.
func (q *tapQueue) stopRing() {
	q.rring.close()
	q.rring, q.rringOff = nil, true
}

// readRing is readSome through io_uring: it submits reads into the next
// free buffers in one io_uring_enter, as many as the last batch had frames
// (twice, and at least uringMinReads), and goes on with twice as many
// while every one found a frame, until the batch is full or a read finds
// the queue empty; like readSome, it never returns while frames may be
// left and the batch has room, which edge-triggered epoll relies on. The
// reads run in order; a frame that came after a read found the queue
// empty (common when a flood keeps pace with the reader) lands in a later
// buffer, which is swapped forward in bufs, so that the frames fill bufs
// from the first, in order, without copying a 64 KiB frame.
func (q *tapQueue) readRing(fd uintptr) bool {
	r := q.rring
	want := max(q.rwant, uringMinReads)
	for q.rn < len(q.rbufs) {
		k := min(want, len(q.rbufs)-q.rn, len(r.sqes))
		base := q.rn
		for i := range k {
			q.rres[i] = resPending
			r.next().read(int32(fd), q.rbufs[base+i][q.roff:], uint64(i))
		}
		if r.submit(uint32(k)) != nil {
			q.stopRing() // nothing of this round ran
			return q.readSome(fd)
		}
		for got := r.reap(q.rcqes); got > 0; got = r.reap(q.rcqes) {
			for _, c := range q.rcqes[:got] {
				if c.userData < uint64(k) {
					q.rres[c.userData] = c.res
				}
			}
		}
		empty := false
		for i, res := range q.rres[:k] {
			switch {
			case res >= 0:
				if j := base + i; j != q.rn {
					q.rbufs[q.rn], q.rbufs[j] = q.rbufs[j], q.rbufs[q.rn]
				}
				q.rsizes[q.rn] = int(res)
				q.rn++
			case res == -int32(unix.EAGAIN) || res == -int32(unix.EINTR) || res == resPending:
				empty = true
			default:
				if q.rerr == nil {
					q.rerr = syscall.Errno(-res)
				}
				empty = true
			}
		}
		if empty {
			break
		}
		want = 2 * k
	}
	q.rwant = 2 * q.rn
	return true
}

// Read implements Port: it waits with poll(2) until a frame comes or the
// queue is closed. The forwarder does not use it (its poll loops call
// TryRead); tests and tools do.
func (q *tapQueue) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	for {
		n, err := q.TryRead(bufs, sizes, offset)
		if n > 0 || err != nil {
			return n, err
		}
		// A descriptor closed meanwhile (even one whose number was
		// reused) only ends the wait; the next TryRead sees ErrClosed.
		pfd := []unix.PollFd{{Fd: int32(q.fd), Events: unix.POLLIN}}
		unix.Poll(pfd, 100)
	}
}

// register implements pollable: it adds the queue to epoll instance ep,
// edge-triggered, with token as the event's data.
func (q *tapQueue) register(ep int, token uint64) error {
	var err error
	cerr := q.rc.Control(func(fd uintptr) {
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET}
		*(*uint64)(unsafe.Pointer(&ev.Fd)) = token
		err = unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, int(fd), &ev)
	})
	if cerr != nil {
		return ErrClosed
	}
	return err
}

// writeSome writes every frame of the batch, each once, and stops at the
// first error. It never asks the runtime to wait.
func (q *tapQueue) writeSome(fd uintptr) bool {
	for q.wn < len(q.wbufs) {
		if _, err := unix.Write(int(fd), q.wbufs[q.wn][q.woff:]); err != nil {
			q.werr = err
			return true
		}
		q.wn++
	}
	return true
}

// Write implements Port. It never waits: a frame the device cannot take now
// (EAGAIN, ENOBUFS: the instance's kernel has no room) is refused with
// ErrPortFull, which the caller counts as a drop. rc holds a reference on
// the descriptor, so it cannot be closed (and its number reused by another
// device) under a write in flight.
func (q *tapQueue) Write(bufs [][]byte, offset int) (int, error) {
	q.wmu.Lock()
	q.wbufs, q.woff, q.wn, q.werr = bufs, offset, 0, nil
	err := q.rc.Write(q.writeFn)
	n, werr := q.wn, q.werr
	q.wbufs = nil
	q.wmu.Unlock()
	switch {
	case err != nil:
		return n, ErrClosed
	case werr != nil:
		return n, writeErr(werr)
	}
	return n, nil
}

// writeErr is the error of a write the device failed with errno e:
// ErrPortFull when it had no room (EAGAIN, ENOBUFS), else e.
func writeErr(e error) error {
	if e == unix.EAGAIN || e == unix.ENOBUFS {
		return ErrPortFull
	}
	return e
}

// BatchSize implements Port.
func (q *tapQueue) BatchSize() int { return tapBatch }

// Close implements Port.
func (q *tapQueue) Close() error { return q.file.Close() }
