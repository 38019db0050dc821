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

// ErrUnsupported is returned by Linux-only functions on other systems.
var ErrUnsupported = errors.New("vpcnet dataplane needs Linux")

// MaxFrame is the largest frame a port carries: a 64 KiB GSO super-frame, its
// Ethernet header and the virtio-net header.
const MaxFrame = 65535 + 14 + 10
