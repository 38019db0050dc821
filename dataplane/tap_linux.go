package dataplane

import (
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
// (performance.md). The device lives in the instance namespace; its fd works
// from any goroutine. Closing the fd removes the device (it is not
// persistent), so a killed forwarder leaves no device behind.
type TAP struct {
	name string
	fd   int // raw descriptor for writes; never call file.Fd(), which makes it blocking
	file *os.File
	rc   syscall.RawConn

	// Read state, used by the read closure made once in OpenTAP so that a
	// Read allocates nothing. Read is called by one goroutine at a time.
	rbufs  [][]byte
	rsizes []int
	roff   int
	rn     int
	rerr   error
	readFn func(fd uintptr) bool
}

// OpenTAP turns fd, a descriptor of /dev/net/tun (opened inside the
// instance namespace by netns.OpenTUN, which decides where the device lives),
// into TAP device name and returns it as a Port. OpenTAP owns fd from then
// on, and closes it on error. The device is left down; netns configures it.
func OpenTAP(fd int, name string) (*TAP, error) {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
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
	t := &TAP{name: name, fd: fd, file: os.NewFile(uintptr(fd), "/dev/net/tun:"+name)}
	t.rc, err = t.file.SyscallConn()
	if err != nil {
		t.file.Close()
		return nil, err
	}
	t.readFn = t.readSome
	return t, nil
}

// Name returns the device name.
func (t *TAP) Name() string { return t.name }

// readSome reads frames until the batch is full or the device is empty.
// It returns false to make the runtime wait for readability.
func (t *TAP) readSome(fd uintptr) bool {
	for t.rn < len(t.rbufs) {
		n, err := unix.Read(int(fd), t.rbufs[t.rn][t.roff:])
		if err != nil {
			if err == unix.EAGAIN || err == unix.EINTR {
				return t.rn > 0
			}
			t.rerr = err
			return true
		}
		t.rsizes[t.rn] = n
		t.rn++
	}
	return true
}

// Read implements Port.
func (t *TAP) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	t.rbufs, t.rsizes, t.roff, t.rn, t.rerr = bufs, sizes, offset, 0, nil
	err := t.rc.Read(t.readFn)
	n := t.rn
	t.rbufs, t.rsizes = nil, nil
	if n > 0 {
		return n, nil
	}
	if t.rerr != nil {
		return 0, t.rerr
	}
	if err != nil {
		return 0, ErrClosed
	}
	return 0, nil
}

// Write implements Port. A full device queue drops the frame: the error is
// returned so the caller can count it.
func (t *TAP) Write(bufs [][]byte, offset int) (int, error) {
	fd := t.fd
	for i, b := range bufs {
		if _, err := unix.Write(fd, b[offset:]); err != nil {
			return i, err
		}
	}
	return len(bufs), nil
}

// BatchSize implements Port.
func (t *TAP) BatchSize() int { return 32 }

// Close implements Port; it removes the device.
func (t *TAP) Close() error { return t.file.Close() }
