package dataplane

import (
	"errors"
	"fmt"
	"os"
	"syscall"

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
type tapQueue struct {
	file *os.File // never call file.Fd(), which makes the descriptor blocking
	rc   syscall.RawConn

	// Read state, used by the read closure made once in openQueue so that
	// a Read allocates nothing. Read is called by one goroutine at a time.
	rbufs  [][]byte
	rsizes []int
	roff   int
	rn     int
	rerr   error
	readFn func(fd uintptr) bool
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
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	q := &tapQueue{file: os.NewFile(uintptr(fd), "/dev/net/tun:"+name)}
	q.rc, err = q.file.SyscallConn()
	if err != nil {
		q.file.Close()
		return nil, err
	}
	q.readFn = q.readSome
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

// tapBatch is how many frames one Read returns at most.
const tapBatch = 32

// readSome reads frames until the batch is full or the queue is empty.
// It returns false to make the runtime wait for readability.
func (q *tapQueue) readSome(fd uintptr) bool {
	for q.rn < len(q.rbufs) {
		n, err := unix.Read(int(fd), q.rbufs[q.rn][q.roff:])
		if err != nil {
			if err == unix.EAGAIN || err == unix.EINTR {
				return q.rn > 0
			}
			q.rerr = err
			return true
		}
		q.rsizes[q.rn] = n
		q.rn++
	}
	return true
}

// Read implements Port.
func (q *tapQueue) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	q.rbufs, q.rsizes, q.roff, q.rn, q.rerr = bufs, sizes, offset, 0, nil
	err := q.rc.Read(q.readFn)
	n := q.rn
	q.rbufs, q.rsizes = nil, nil
	if n > 0 {
		return n, nil
	}
	if q.rerr != nil {
		return 0, q.rerr
	}
	if err != nil {
		return 0, ErrClosed
	}
	return 0, nil
}

// Write implements Port. A full device queue drops the frame: the error is
// returned so the caller can count it. It writes through the *os.File, whose
// reference count keeps the descriptor from being closed (and its number
// reused by another device) under a write in flight.
func (q *tapQueue) Write(bufs [][]byte, offset int) (int, error) {
	for i, b := range bufs {
		if _, err := q.file.Write(b[offset:]); err != nil {
			return i, err
		}
	}
	return len(bufs), nil
}

// BatchSize implements Port.
func (q *tapQueue) BatchSize() int { return tapBatch }

// Close implements Port.
func (q *tapQueue) Close() error { return q.file.Close() }
