//go:build linux

package dataplane

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/vpcnet/vpcnet/dataplane/header"
	"github.com/vpcnet/vpcnet/netns"
)

// tapRig is a multi-queue TAP in a namespace of its own, up, with address
// 10.99.0.1/24, and the namespace's name.
func tapRig(t *testing.T, queues int) (*TAP, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces)")
	}
	name := fmt.Sprintf("vpcdp-%d", os.Getpid())
	ns, err := netns.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { netns.Delete(name) })
	defer ns.Close()
	var fds []int
	for range queues {
		fd, err := netns.OpenTUN(ns)
		if err != nil {
			t.Fatal(err)
		}
		fds = append(fds, fd)
	}
	tap, err := OpenTAP(fds, "eth0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tap.Close() })
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	link, err := h.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := netlink.ParseAddr("10.99.0.1/24")
	if err := h.AddrAdd(link, addr); err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetUp(link); err != nil {
		t.Fatal(err)
	}
	if n := len(tap.Queues()); n != queues {
		t.Fatalf("%d queues, want %d", n, queues)
	}
	return tap, name
}

// Frames the namespace's kernel sends come out of the TAP's queues with
// the virtio-net header in front.
func TestTAPReadsTheKernelsFrames(t *testing.T) {
	tap, name := tapRig(t, 2)
	// ARP requests for an address nobody has: the kernel retries each
	// second. Both queues are read, as the forwarder does.
	cmd := exec.Command("ip", "netns", "exec", name, "ping", "-c", "30", "-i", "0.2", "10.99.0.2")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	got := make(chan []byte, 64)
	for _, q := range tap.Queues() {
		go func() {
			bufs, sizes := [][]byte{make([]byte, MaxFrame)}, []int{0}
			for {
				n, err := q.Read(bufs, sizes, 0)
				if err != nil {
					return
				}
				if n == 1 {
					select {
					case got <- append([]byte(nil), bufs[0][:sizes[0]]...):
					default:
					}
				}
			}
		}()
	}
	// Other frames may come first (IPv6 router solicitations, MLD): wait
	// for the ARP request.
	timeout := time.After(5 * time.Second)
	for {
		select {
		case f := <-got:
			if len(f) < header.VnetHdrLen+14 {
				t.Fatalf("frame of %d bytes", len(f))
			}
			eth := header.Ethernet(f[header.VnetHdrLen:])
			if eth.EtherType() != 0x0806 {
				continue
			}
			if len(f) < header.VnetHdrLen+14+28 {
				t.Fatalf("ARP frame of %d bytes", len(f))
			}
			return
		case <-timeout:
			t.Fatal("no ARP request from the namespace's kernel")
		}
	}
}

// Writing on any queue hands the frame to the namespace's kernel, and
// allocates nothing.
func TestTAPWriteQueueAllocatesNothing(t *testing.T) {
	tap, _ := tapRig(t, 2)
	// A gratuitous ARP from a neighbour: valid, and harmless to the kernel.
	f := make([]byte, header.VnetHdrLen+42)
	eth := f[header.VnetHdrLen:]
	copy(eth[0:6], net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(eth[6:12], net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02})
	eth[12], eth[13] = 0x08, 0x06
	copy(eth[14:], []byte{0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 2, 10, 99, 0, 2, 0, 0, 0, 0, 0, 0, 10, 99, 0, 2})
	bufs := [][]byte{f}
	for q := range 2 {
		if _, err := tap.WriteQueue(q, bufs, 0); err != nil {
			t.Fatalf("queue %d: %v", q, err)
		}
	}
	if a := testing.AllocsPerRun(200, func() {
		tap.WriteQueue(1, bufs, 0)
		tap.Write(bufs, 0)
	}); a != 0 {
		t.Fatalf("%.1f allocations per write, want 0", a)
	}
	tap.Close()
	if _, err := tap.WriteQueue(0, bufs, 0); err == nil {
		t.Fatal("a write on a closed TAP succeeded")
	}
}
