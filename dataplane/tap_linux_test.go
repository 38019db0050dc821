//go:build linux

package dataplane

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/vpcnet/vpcnet/dataplane/header"
	"github.com/vpcnet/vpcnet/netns"
	"github.com/vpcnet/vpcnet/topology"
)

var rigs atomic.Int32

// tapRig is a multi-queue TAP in a namespace of its own, up, with address
// 10.99.0.1/24, and the namespace's name.
func tapRig(t *testing.T, queues int) (*TAP, string) {
	t.Helper()
	return tapRigAt(t, queues, "10.99.0.1/24", nil)
}

// tapRigAt is tapRig with the device's address and MAC (nil: the kernel's).
func tapRigAt(t *testing.T, queues int, cidr string, mac net.HardwareAddr) (*TAP, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces)")
	}
	name := fmt.Sprintf("vpcdp-%d-%d", os.Getpid(), rigs.Add(1))
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
	if mac != nil {
		if err := h.LinkSetHardwareAddr(link, mac); err != nil {
			t.Fatal(err)
		}
	}
	addr, _ := netlink.ParseAddr(cidr)
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

// A write the descriptor refuses (EAGAIN: the receiving side has no room)
// is ErrPortFull at once, never waited for, and neither it nor a read of an
// empty queue allocates. A TAP's kernel takes every frame in the writer's
// thread, so the refusal is made here with a full pipe.
func TestQueueRefusedWriteIsErrPortFullAndAllocatesNothing(t *testing.T) {
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
	bufs := [][]byte{make([]byte, 4096)}
	done := make(chan error, 1)
	go func() {
		for {
			if _, err := q.Write(bufs, 0); err != nil {
				done <- err
				return
			}
		}
	}()
	select {
	case err := <-done:
		if err != ErrPortFull {
			t.Fatalf("write on a full descriptor: %v, want ErrPortFull", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a write on a full descriptor waited")
	}
	if a := testing.AllocsPerRun(200, func() { q.Write(bufs, 0) }); a != 0 {
		t.Fatalf("%.1f allocations per refused write, want 0", a)
	}
	tap, _ := tapRig(t, 1)
	rb, sizes := [][]byte{make([]byte, MaxFrame)}, []int{0}
	if a := testing.AllocsPerRun(200, func() { tap.queues[0].TryRead(rb, sizes, 0) }); a != 0 {
		t.Fatalf("%.1f allocations per read of an empty queue, want 0", a)
	}
}

// fullPort refuses every frame, as a device with no room would.
type fullPort struct{}

func (p *fullPort) Read([][]byte, []int, int) (int, error) { return 0, ErrClosed }
func (p *fullPort) Write([][]byte, int) (int, error)       { return 0, ErrPortFull }
func (p *fullPort) BatchSize() int                         { return 1 }
func (p *fullPort) Close() error                           { return nil }

// The kernel's drops at a full queue toward the forwarder are what
// QueueDrops reports: with nobody reading, every frame beyond the queue's
// length is dropped, and read plus dropped accounts for every frame sent.
func TestTAPQueueDropsAreTheKernelsDrops(t *testing.T) {
	tap, name := tapRig(t, 1)
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
	if err := h.NeighAdd(&netlink.Neigh{LinkIndex: link.Attrs().Index, State: netlink.NUD_PERMANENT,
		IP: net.ParseIP("10.99.0.2"), HardwareAddr: net.HardwareAddr{2, 0, 0, 0, 0, 2}}); err != nil {
		t.Fatal(err)
	}
	if n, err := tap.QueueDrops(); err != nil || n != 0 {
		t.Fatalf("QueueDrops before any traffic: %d, %v", n, err)
	}
	var conn net.Conn
	if err := netns.Do(ns, func() (err error) {
		conn, err = net.Dial("udp4", "10.99.0.2:9")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const sent = 3000
	for range sent {
		if _, err := conn.Write([]byte("flood")); err != nil {
			t.Fatal(err)
		}
	}
	dropped, err := tap.QueueDrops()
	if err != nil {
		t.Fatal(err)
	}
	read := 0
	bufs, sizes := [][]byte{make([]byte, MaxFrame)}, []int{0}
	for {
		n, err := tap.queues[0].TryRead(bufs, sizes, 0)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		read += n
	}
	qlen := link.Attrs().TxQLen
	t.Logf("sent %d, read %d, dropped %d, queue length %d", sent, read, dropped, qlen)
	if dropped < uint64(sent-qlen) || dropped > sent {
		t.Fatalf("%d dropped, want between %d and %d", dropped, sent-qlen, sent)
	}
	if uint64(read)+dropped < sent {
		t.Fatalf("read %d + dropped %d < sent %d", read, dropped, sent)
	}
	tap.Close()
	if _, err := tap.QueueDrops(); err == nil {
		t.Fatal("QueueDrops of a closed TAP succeeded")
	}
}

// A forwarder serves a TAP with its poll loops: the namespace's kernel
// gets its ARP for a2 answered through the TAP (ADDR-3), and its pings go
// to a2, whose port refuses them: each is the drop port-write-refused in
// a2's counters, not a tx-error and not a stalled loop. Stop retires the
// TAP's worker.
func TestForwarderOnATAPCountsRefusedWrites(t *testing.T) {
	n, err := topology.Load([]byte(unitTopo))
	if err != nil {
		t.Fatal(err)
	}
	a1 := n.VPCs[0].Instances[0].Primary()
	a2 := n.VPCs[0].Instances[1].Primary()
	f := New(n, Options{})
	stopped := false
	defer func() {
		if !stopped {
			f.Stop()
		}
	}()
	tap, name := tapRigAt(t, 1, "10.0.1.10/24", a1.MAC)
	for _, i := range n.VPCs[0].Instances {
		switch i.Name {
		case "a1":
			f.AttachPort(i.Primary().ID, tap)
		case "a2":
			f.AttachPort(i.Primary().ID, &fullPort{})
		default:
			f.AttachPort(i.Primary().ID, NewFakePort(64))
		}
	}
	f.mu.Lock()
	polledQueues := len(f.polled[a1.ID])
	f.mu.Unlock()
	if polledQueues != 1 {
		t.Fatalf("%d of a1's queues in the poll loops, want 1", polledQueues)
	}
	cmd := exec.Command("ip", "netns", "exec", name, "ping", "-c", "3", "-i", "0.2", "-W", "1", "10.0.1.11")
	cmd.Run() // no answer comes: a2 refuses
	var got, txErr uint64
	for _, e := range f.Stats().Endpoints {
		if e.ID == a2.ID {
			got, txErr = e.Drops[dropPortWriteRefused.String()], e.Drops[dropTxError.String()]
		}
	}
	if got != 3 || txErr != 0 {
		t.Fatalf("a2 counts %d port-write-refused and %d tx-error, want 3 and 0", got, txErr)
	}
	done := make(chan struct{})
	go func() { f.Stop(); close(done) }()
	select {
	case <-done:
		stopped = true
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not return")
	}
}
