package dataplane

import (
	"errors"
	"fmt"
	"os"
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
// queue is empty. It makes no system call beyond the reads themselves.
func (q *tapQueue) TryRead(bufs [][]byte, sizes []int, offset int) (int, error) {
	q.rbufs, q.rsizes, q.roff, q.rn, q.rerr = bufs, sizes, offset, 0, nil
	err := q.rc.Read(q.readFn)
	n := q.rn
	q.rbufs, q.rsizes = nil, nil
	if n > 0 {
		return n, nil
	}
	if err != nil {
		return 0, ErrClosed
	}
	return 0, q.rerr
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
	case werr == unix.EAGAIN || werr == unix.ENOBUFS:
		return n, ErrPortFull
	case werr != nil:
		return n, werr
	}
	return n, nil
}

// BatchSize implements Port.
func (q *tapQueue) BatchSize() int { return tapBatch }

// Close implements Port.
func (q *tapQueue) Close() error { return q.file.Close() }
