package dataplane

import "errors"

// Port moves frames in batches, wireguard-go style. Every frame in a buffer
// starts at offset with a virtio-net header (header.VnetHdrLen bytes) followed
// by the Ethernet frame, so GSO super-frames (up to 64 KiB) travel whole and
// their offload metadata with them.
//
// Read fills bufs[i][offset:offset+sizes[i]] for i < n and returns n. It
// blocks until at least one frame is ready or the port is closed. The caller
// owns bufs before and after the call.
//
// Write sends bufs[i][offset:] for every i, each slice ending where its frame
// ends. It does not keep the buffers. It is safe to call Write from several
// goroutines at once.
type Port interface {
	Read(bufs [][]byte, sizes []int, offset int) (int, error)
	Write(bufs [][]byte, offset int) (int, error)
	BatchSize() int
	Close() error
}

// ErrClosed is returned by Read and Write on a closed port.
var ErrClosed = errors.New("port closed")

// ErrPortFull is returned by Write when the device could not take a frame
// at once (EAGAIN, ENOBUFS): the receiving side has no room. Write never
// waits for room; the frame is a drop named port-write-refused.
var ErrPortFull = errors.New("port full: write refused")

// pollable is a port queue that the forwarder's poll loops serve
// (poll_linux.go) instead of a goroutine of its own: a TAP queue.
type pollable interface {
	Port
	// TryRead is Read that returns (0, nil) at once when no frame is
	// queued. A closed queue returns ErrClosed.
	TryRead(bufs [][]byte, sizes []int, offset int) (int, error)
	// register adds the queue's descriptor to epoll instance ep,
	// edge-triggered for input, with token as the event's data.
	register(ep int, token uint64) error
}

// queueDropper is a port whose device counts the frames its kernel dropped
// because the queue toward the forwarder was full (a TAP's tx_dropped).
// It is read when statistics are asked for, never per frame.
type queueDropper interface {
	QueueDrops() (uint64, error)
}

// writeDrop names the drop of a frame that Write refused with err.
func writeDrop(err error) dropReason {
	if err == ErrPortFull {
		return dropPortWriteRefused
	}
	return dropTxError
}

// ErrUnsupported is returned by Linux-only functions on other systems.
var ErrUnsupported = errors.New("vpcnet dataplane needs Linux")

// MaxFrame is the largest frame a port carries: a 64 KiB GSO super-frame, its
// Ethernet header and the virtio-net header.
const MaxFrame = 65535 + 14 + 10
