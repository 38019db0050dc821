package dataplane

// Batched TAP I/O with io_uring (the default; VPCNET_IO=syscalls turns it off; issue 15): the writes
// of a batch here, its reads in tap_linux.go (tapQueue.readRing).
//
// Without it a worker writes each frame with its own write(2) the moment
// deliver decides it. With it, deliver queues the frame (it stays in the
// worker's read buffer, already rewritten in place) and the worker writes
// the whole batch with one io_uring_enter when the batch ends (endBatch),
// before the next read reuses the buffers: one system call per batch
// instead of one per frame. Each write is the same non-blocking write on
// the same descriptor, so what the instance's kernel sees, and what counts
// as a drop, do not change: -EAGAIN or -ENOBUFS is port-write-refused, any
// other error tx-error, and txFrames/txBytes count a frame once written.
//
// The ring is the kernel's ABI used directly (include/uapi/linux/
// io_uring.h; no io_uring module is on the Go module proxy here): one
// io_uring_setup, one mmap for the SQ and CQ rings
// (IORING_FEAT_SINGLE_MMAP, Linux 5.4), one for the SQEs. Only this file
// knows its layout.
//
// Descriptor lifetime: a TAP can be closed while a batch waits (DetachPort).
// The batch takes a reference on every destination's descriptor
// (RawConn.Control, as the synchronous path's rc.Write does) and submits and
// reaps every write while it holds them all, so the kernel never sees a
// closed descriptor or one whose number was reused. A destination closed
// before the flush makes its frames tx-error, as a write on a closed port
// does today.

import (
	"os"
	"runtime"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// uringIO turns batched I/O on, the default since it measured less CPU per
// frame and more connections per second (BENCHMARKS.md, "Lab"); where the
// kernel refuses io_uring (io_uring_disabled, a seccomp filter) each queue
// falls back to read(2) and write(2) by itself. VPCNET_IO=syscalls turns it
// off: TryRead reads and deliver writes each frame with its own system call.
var uringIO = os.Getenv("VPCNET_IO") != "syscalls"

// The io_uring ABI (include/uapi/linux/io_uring.h). Only what is used.
const (
	uringSetupSubmitAll   = 1 << 7  // IORING_SETUP_SUBMIT_ALL (5.18): a bad SQE does not stop the rest
	uringSetupCoopTaskrun = 1 << 8  // IORING_SETUP_COOP_TASKRUN (5.19): no IPI to run completion work
	uringSetupNoSQArray   = 1 << 16 // IORING_SETUP_NO_SQARRAY (6.6): the SQ tail indexes the SQEs

	uringFeatSingleMmap = 1 << 0 // IORING_FEAT_SINGLE_MMAP (5.4)

	uringEnterGetEvents = 1 << 0 // IORING_ENTER_GETEVENTS

	uringOffSQRing = 0          // IORING_OFF_SQ_RING (the CQ ring shares it)
	uringOffSQEs   = 0x10000000 // IORING_OFF_SQES

	uringOpRead  = 22 // IORING_OP_READ (5.6)
	uringOpWrite = 23 // IORING_OP_WRITE (5.6)
)

// uringParams is struct io_uring_params: 120 bytes.
type uringParams struct {
	sqEntries    uint32
	cqEntries    uint32
	flags        uint32
	sqThreadCPU  uint32
	sqThreadIdle uint32
	features     uint32
	wqFD         uint32
	resv         [3]uint32
	sqOff        uringSQOffsets
	cqOff        uringCQOffsets
}

// uringSQOffsets is struct io_sqring_offsets: where the SQ ring's fields
// lie in the rings' mapping.
type uringSQOffsets struct {
	head, tail, mask, entries, flags, dropped, array, resv1 uint32
	userAddr                                                uint64
}

// uringCQOffsets is struct io_cqring_offsets, likewise for the CQ ring.
type uringCQOffsets struct {
	head, tail, mask, entries, overflow, cqes, flags, resv1 uint32
	userAddr                                                uint64
}

// uringSQE is struct io_uring_sqe: 64 bytes.
type uringSQE struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64
	addr        uint64
	len         uint32
	opFlags     uint32 // rw_flags and its union
	userData    uint64
	bufIndex    uint16 // buf_index or buf_group
	personality uint16
	fileIndex   int32 // splice_fd_in and its union
	addr3       uint64
	_           uint64
}

// uringCQE is struct io_uring_cqe: 16 bytes (no IORING_SETUP_CQE32).
type uringCQE struct {
	userData uint64
	res      int32
	flags    uint32
}

// uring is one io_uring instance. One goroutine uses it at a time (its
// worker's); nothing in it is shared.
type uring struct {
	fd     int
	rings  []byte // the SQ and CQ rings, one mapping
	sqeMap []byte // the SQE array

	sqHead *uint32 // the kernel advances it as it takes SQEs
	sqTail *uint32 // we advance it to publish SQEs
	sqMask uint32
	sqes   []uringSQE
	tail   uint32 // the next SQE to fill; published by submit

	cqHead *uint32 // we advance it as we take CQEs
	cqTail *uint32 // the kernel advances it as it posts CQEs
	cqMask uint32
	cqes   []uringCQE
}

// newURing sets up a ring of entries SQEs (a power of two) and twice as
// many CQEs.
func newURing(entries uint32) (*uring, error) {
	p := uringParams{flags: uringSetupSubmitAll | uringSetupCoopTaskrun | uringSetupNoSQArray}
	fd, err := uringSetup(entries, &p)
	if err == unix.EINVAL { // before 6.6: keep the SQ array, mapped one to one below
		p = uringParams{flags: uringSetupSubmitAll | uringSetupCoopTaskrun}
		fd, err = uringSetup(entries, &p)
	}
	if err != nil {
		return nil, os.NewSyscallError("io_uring_setup", err)
	}
	r := &uring{fd: fd}
	if p.features&uringFeatSingleMmap == 0 {
		r.close()
		return nil, os.NewSyscallError("io_uring_setup", unix.ENOSYS) // a kernel before 5.4
	}
	size := max(p.sqOff.array+p.sqEntries*4, p.cqOff.cqes+p.cqEntries*uint32(unsafe.Sizeof(uringCQE{})))
	if r.rings, err = unix.Mmap(fd, uringOffSQRing, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		r.close()
		return nil, os.NewSyscallError("mmap io_uring rings", err)
	}
	sqeSize := int(p.sqEntries) * int(unsafe.Sizeof(uringSQE{}))
	if r.sqeMap, err = unix.Mmap(fd, uringOffSQEs, sqeSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		r.close()
		return nil, os.NewSyscallError("mmap io_uring SQEs", err)
	}
	at := func(off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&r.rings[off])) }
	r.sqHead, r.sqTail, r.sqMask = at(p.sqOff.head), at(p.sqOff.tail), *at(p.sqOff.mask)
	r.cqHead, r.cqTail, r.cqMask = at(p.cqOff.head), at(p.cqOff.tail), *at(p.cqOff.mask)
	r.sqes = unsafe.Slice((*uringSQE)(unsafe.Pointer(&r.sqeMap[0])), p.sqEntries)
	r.cqes = unsafe.Slice((*uringCQE)(unsafe.Pointer(&r.rings[p.cqOff.cqes])), p.cqEntries)
	r.tail = atomic.LoadUint32(r.sqTail)
	if p.flags&uringSetupNoSQArray == 0 {
		// The SQ array names the SQE of each slot: slot i is SQE i, once
		// for all, so the tail indexes the SQEs as with NO_SQARRAY.
		array := unsafe.Slice((*uint32)(unsafe.Pointer(&r.rings[p.sqOff.array])), p.sqEntries)
		for i := range array {
			array[i] = uint32(i)
		}
	}
	return r, nil
}

func uringSetup(entries uint32, p *uringParams) (int, error) {
	fd, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(p)), 0)
	if e != 0 {
		return -1, e
	}
	unix.CloseOnExec(int(fd))
	return int(fd), nil
}

// close unmaps the ring and closes it. Requests in flight (there are none
// between batches) are cancelled by the kernel.
func (r *uring) close() {
	if r.sqeMap != nil {
		unix.Munmap(r.sqeMap)
		r.sqeMap = nil
	}
	if r.rings != nil {
		unix.Munmap(r.rings)
		r.rings = nil
	}
	if r.fd >= 0 {
		unix.Close(r.fd)
		r.fd = -1
	}
}

// next returns the next free SQE, cleared, or nil when every SQE waits for
// the kernel. It is published by the next submit.
func (r *uring) next() *uringSQE {
	if r.tail-atomic.LoadUint32(r.sqHead) >= uint32(len(r.sqes)) {
		return nil
	}
	s := &r.sqes[r.tail&r.sqMask]
	*s = uringSQE{}
	r.tail++
	return s
}

// write fills s with a write of b to descriptor fd. b must stay put until
// its completion is reaped.
//
// RWF_NOWAIT keeps the write non-blocking as write(2) on the O_NONBLOCK
// descriptor is: a device with no room completes it at once with -EAGAIN.
// Without it io_uring retries an O_NONBLOCK file's -EAGAIN when the device
// polls writable, and the batch would wait for room. TAPs and pipes allow
// it (FMODE_NOWAIT); a file that does not fails with -EOPNOTSUPP.
func (s *uringSQE) write(fd int32, b []byte, userData uint64) {
	s.rw(uringOpWrite, fd, b, userData)
}

// read fills s with a read into b from descriptor fd, likewise
// non-blocking: an empty queue completes it at once with -EAGAIN.
func (s *uringSQE) read(fd int32, b []byte, userData uint64) {
	s.rw(uringOpRead, fd, b, userData)
}

func (s *uringSQE) rw(op uint8, fd int32, b []byte, userData uint64) {
	s.opcode = op
	s.opFlags = unix.RWF_NOWAIT
	s.fd = fd
	s.addr = uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
	s.len = uint32(len(b))
	s.userData = userData
}

// submit hands the kernel every SQE filled since the last submit and waits
// until at least want completions are ready to reap, in as few
// io_uring_enter calls as it takes (one, unless a signal interrupts).
func (r *uring) submit(want uint32) error {
	atomic.StoreUint32(r.sqTail, r.tail)
	for {
		toSubmit := r.tail - atomic.LoadUint32(r.sqHead)
		ready := atomic.LoadUint32(r.cqTail) - atomic.LoadUint32(r.cqHead)
		if toSubmit == 0 && ready >= want {
			return nil
		}
		var minComplete, flags uintptr
		if ready < want {
			minComplete, flags = uintptr(want-ready), uringEnterGetEvents
		}
		_, _, e := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(toSubmit), minComplete, flags, 0, 0)
		switch e {
		case 0, unix.EINTR, unix.EAGAIN, unix.EBUSY:
			// Submitted or waited for some, or asked to retry: look again.
		default:
			return os.NewSyscallError("io_uring_enter", e)
		}
	}
}

// reap moves ready completions into out, at most len(out), frees their
// slots and returns how many it moved.
func (r *uring) reap(out []uringCQE) int {
	head, tail := atomic.LoadUint32(r.cqHead), atomic.LoadUint32(r.cqTail)
	n := 0
	for ; head != tail && n < len(out); n++ {
		out[n] = r.cqes[head&r.cqMask]
		head++
	}
	atomic.StoreUint32(r.cqHead, head)
	return n
}

// uringWriter holds one worker's deferred writes until its batch ends.
// Everything is made once per worker (newURingWriter), so a batch
// allocates nothing.
type uringWriter struct {
	ring  *uring
	bufs  [][]byte // the worker's read buffers: only frames in them can wait
	hint  int      // bufs before hint hold frames already queued this batch
	ents  []uringWrite
	dests []*tapQueue // the distinct destinations of ents
	fds   []int32     // their descriptors while the flush holds them; -1: closed
	hold  []func(fd uintptr)
	cqes  []uringCQE
	gen   uint32 // the batch's number, in user_data, so a stray completion cannot be taken for another batch's
	dead  bool   // the ring failed: write at once from now on
}

// uringWrite is one deferred frame.
type uringWrite struct {
	frame []byte
	c     *counters
	dest  int   // index in dests
	res   int32 // the write's result, or a negative errno
}

// resPending marks a write whose completion has not been reaped.
const resPending = -1 << 31

// newURingWriter makes the deferred-write state of a worker that reads
// into bufs, or returns nil when io_uring is not available (disabled by
// /proc/sys/kernel/io_uring_disabled, or an old kernel): the worker then
// writes at once.
func newURingWriter(bufs [][]byte) *uringWriter {
	n := len(bufs)
	entries := uint32(1)
	for entries < uint32(n) {
		entries <<= 1
	}
	r, err := newURing(entries)
	if err != nil {
		return nil
	}
	u := &uringWriter{ring: r, bufs: bufs, ents: make([]uringWrite, 0, n), dests: make([]*tapQueue, 0, n),
		fds: make([]int32, n), hold: make([]func(uintptr), n), cqes: make([]uringCQE, 2*entries)}
	for i := range u.hold {
		u.hold[i] = func(fd uintptr) {
			u.fds[i] = int32(fd)
			u.holdFrom(i + 1)
		}
	}
	// A retired worker's ring goes when the worker does (close does it
	// at once when the forwarder says so).
	runtime.AddCleanup(u, (*uring).close, r)
	return u
}

// close releases the ring; the writer writes nothing more.
func (u *uringWriter) close() {
	u.ring.close()
	u.dead = true
}

// add queues frame for the end of the batch, to queue q of port p, counted
// against c then. It reports false when the frame must be written at once:
// p is not a TAP, or frame is not one of the batch's read buffers (a frame
// built elsewhere, such as a NAT RST, may be rebuilt before the batch
// ends). Queued frames must not change until the batch ends.
func (u *uringWriter) add(p Port, q int, frame []byte, c *counters) bool {
	if u.dead || len(u.ents) == cap(u.ents) {
		return false
	}
	var dst *tapQueue
	switch t := p.(type) {
	case *TAP:
		dst = t.queues[q%len(t.queues)]
	case *tapQueue:
		dst = t
	default:
		return false
	}
	if !u.inBatch(frame) {
		return false
	}
	d := 0
	for d < len(u.dests) && u.dests[d] != dst {
		d++
	}
	if d == len(u.dests) {
		u.dests = append(u.dests, dst)
	}
	u.ents = append(u.ents, uringWrite{frame: frame, c: c, dest: d, res: resPending})
	return true
}

// inBatch reports whether frame starts one of the read buffers not yet
// queued. The worker handles its buffers in order, so the search goes on
// from the last match: a batch costs one pass over bufs.
func (u *uringWriter) inBatch(frame []byte) bool {
	p := unsafe.SliceData(frame)
	for i := u.hint; i < len(u.bufs); i++ {
		if unsafe.SliceData(u.bufs[i]) == p {
			u.hint = i + 1
			return true
		}
	}
	return false
}

// flush writes every queued frame: it holds each destination's descriptor
// (holdFrom), and submits and reaps inside the innermost hold.
func (u *uringWriter) flush() {
	u.gen++
	u.holdFrom(0)
}

// holdFrom holds the descriptors of dests[i:], one inside the other
// (hold[i] continues here with i+1), then submits. A closed destination is
// skipped: its frames fail.
func (u *uringWriter) holdFrom(i int) {
	for ; i < len(u.dests); i++ {
		if u.dests[i].rc.Control(u.hold[i]) == nil {
			return // hold[i] went on
		}
		u.fds[i] = -1
	}
	u.submit()
}

// submit writes every queued frame whose descriptor is held and waits for
// every completion: the frames live in buffers the next read reuses.
func (u *uringWriter) submit() {
	n := uint32(0)
	for i := range u.ents {
		e := &u.ents[i]
		fd := u.fds[e.dest]
		if fd < 0 {
			e.res = -int32(unix.EBADF)
			continue
		}
		s := u.ring.next()
		if s == nil {
			break // cannot happen: the ring holds a whole batch
		}
		s.write(fd, e.frame, uint64(u.gen)<<32|uint64(i))
		n++
	}
	if n == 0 {
		return
	}
	if u.ring.submit(n) != nil {
		u.dead = true // this batch's unreaped frames count as tx-error
	}
	for got := u.ring.reap(u.cqes); got > 0; got = u.ring.reap(u.cqes) {
		for _, c := range u.cqes[:got] {
			if i := int(uint32(c.userData)); uint32(c.userData>>32) == u.gen && i < len(u.ents) {
				u.ents[i].res = c.res
			}
		}
	}
}

// endBatch ends a batch of frames the worker read: its deferred writes go
// out, each counted as deliver counts a write. The poll loop calls it
// after handling each batch, before the next read. The first call makes
// the writer when io_uring is on, so only a worker whose loop ends its
// batches ever defers a write.
func (w *worker) endBatch() {
	u := w.uw
	if u == nil {
		if uringIO && !w.uwTried {
			w.uwTried = true
			w.uw = newURingWriter(w.bufs)
		}
		return
	}
	u.hint = 0
	if len(u.ents) == 0 {
		return
	}
	if !u.dead {
		u.flush()
	}
	for i := range u.ents {
		e := &u.ents[i]
		var err error
		if e.res < 0 {
			err = writeErr(unix.Errno(-e.res))
		}
		w.tapFrame = e.frame // for a capture of dropped frames
		w.wrote(e.c, e.frame, err)
		*e = uringWrite{}
	}
	u.ents = u.ents[:0]
	clear(u.dests)
	u.dests = u.dests[:0]
}

// closeWrites releases the worker's ring, once its loop is done with it.
func (w *worker) closeWrites() {
	if w.uw != nil {
		w.uw.close()
		w.uw = nil
	}
}
