//go:build linux

package dataplane

// Tests of the userspace Geneve tunnel (issue 16) between two namespaces,
// a and b, joined by a veth: frames cross whole under their VNI, GSO
// super-frames included; the wire format is RFC 8926's as gopacket and
// tcpdump read it; hostile datagrams are counted drops; Write allocates
// nothing; Close ends reads and the reader goroutine.

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vpcnet/vpcnet/dataplane/header"
	"github.com/vpcnet/vpcnet/netns"
)

// geneveRig is two namespaces joined by a veth, each with a Geneve on
// GenevePort: a's end is devA with ipA, b's has ipB and, for datagrams
// from a machine a does not know, ipStranger.
type geneveRig struct {
	nsA, nsB             string
	hA, hB               netns.Handle
	devA                 string
	ipA, ipB, ipStranger netip.Addr
	a, b                 *Geneve
}

// newGeneveRig makes the rig with the veth's MTU; t.Cleanup closes the
// tunnels and removes both namespaces.
func newGeneveRig(t *testing.T, mtu int) *geneveRig {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces)")
	}
	var rnd [4]byte
	rand.Read(rnd[:])
	id := hex.EncodeToString(rnd[:])
	r := &geneveRig{
		nsA: "vpcnet-gnv-" + id + "-a", nsB: "vpcnet-gnv-" + id + "-b", devA: "gnv0",
		ipA:        netip.AddrFrom4([4]byte{10, 251, rnd[0], 1}),
		ipB:        netip.AddrFrom4([4]byte{10, 251, rnd[0], 2}),
		ipStranger: netip.AddrFrom4([4]byte{10, 251, rnd[0], 3}),
	}
	for _, name := range []string{r.nsA, r.nsB} {
		h, err := netns.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			h.Close()
			if err := netns.Delete(name); err != nil {
				t.Errorf("remove namespace: %v", err)
			}
		})
		if name == r.nsA {
			r.hA = h
		} else {
			r.hB = h
		}
	}
	ha, err := netlink.NewHandleAt(r.hA)
	if err != nil {
		t.Fatal(err)
	}
	defer ha.Close()
	hb, err := netlink.NewHandleAt(r.hB)
	if err != nil {
		t.Fatal(err)
	}
	defer hb.Close()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: r.devA, MTU: mtu}, PeerName: "gnv1", PeerNamespace: netlink.NsFd(int(r.hB))}
	if err := ha.LinkAdd(veth); err != nil {
		t.Fatalf("veth between %s and %s: %v", r.nsA, r.nsB, err)
	}
	up := func(h *netlink.Handle, dev string, addrs ...netip.Addr) {
		l, err := h.LinkByName(dev)
		if err != nil {
			t.Fatal(err)
		}
		if l.Attrs().MTU != mtu {
			t.Fatalf("%s: MTU %d, want %d", dev, l.Attrs().MTU, mtu)
		}
		for _, a := range addrs {
			if err := h.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(24, 32)}}); err != nil {
				t.Fatalf("%s %s: %v", dev, a, err)
			}
		}
		if err := h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}
	up(ha, r.devA, r.ipA)
	up(hb, "gnv1", r.ipB, r.ipStranger)
	r.a = openGeneveIn(t, r.hA, r.ipA)
	r.b = openGeneveIn(t, r.hB, r.ipB)
	return r
}

func openGeneveIn(t *testing.T, ns netns.Handle, addr netip.Addr) *Geneve {
	t.Helper()
	fd, err := netns.OpenUDP(ns, addr, GenevePort)
	if err != nil {
		t.Fatal(err)
	}
	g, err := OpenGeneve(fd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// port is g's port toward peer under vni, closed by t.Cleanup.
func genevePortOf(t *testing.T, g *Geneve, peer netip.Addr, vni uint32) Port {
	t.Helper()
	p, err := g.Port(peer, vni)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// readOffset is the headroom the readers ask for: Read must honour it.
const readOffset = 4

// received reads p until it is closed and sends a copy of each frame
// (virtio-net header first) on the channel it returns.
func received(t *testing.T, p Port) <-chan []byte {
	ch := make(chan []byte, 1024)
	go func() {
		bufs := make([][]byte, p.BatchSize())
		sizes := make([]int, len(bufs))
		for i := range bufs {
			bufs[i] = make([]byte, readOffset+MaxFrame)
		}
		for {
			n, err := p.Read(bufs, sizes, readOffset)
			if err != nil {
				close(ch)
				return
			}
			for i := range n {
				ch <- bytes.Clone(bufs[i][readOffset : readOffset+sizes[i]])
			}
		}
	}()
	return ch
}

// next is the next frame on ch, failing after 5 s.
func next(t *testing.T, ch <-chan []byte, what string) []byte {
	t.Helper()
	select {
	case f, ok := <-ch:
		if !ok {
			t.Fatalf("%s: port closed", what)
		}
		return f
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: nothing arrived in 5 s", what)
	}
	return nil
}

func writeFrame(t *testing.T, p Port, f []byte) {
	t.Helper()
	if n, err := p.Write([][]byte{f}, 0); n != 1 || err != nil {
		t.Fatalf("Write: %d, %v", n, err)
	}
}

var (
	gnvMACA = net.HardwareAddr{0x02, 0, 0, 0, 0x0a, 1}
	gnvMACB = net.HardwareAddr{0x02, 0, 0, 0, 0x0b, 1}
)

// gnvUDP is a UDP frame from an instance with payload tag, its virtio-net
// header saying the checksum is verified (it must cross unchanged).
func gnvUDP(t *testing.T, tag string) []byte {
	f := frame(t, gnvMACA, gnvMACB, "172.16.0.10", "172.16.1.20", &layers.UDP{SrcPort: 4000, DstPort: 5000}, gopacket.Payload(tag))
	header.VnetHdr(f).SetFlags(header.VnetFlagDataValid)
	return f
}

// gnvGSO is a TCP/IPv4 super-frame of payload bytes as an instance's
// kernel hands it over with TSO: checksum to finish, 1448-byte segments.
func gnvGSO(t *testing.T, payload int) []byte {
	data := make([]byte, payload)
	for i := range data {
		data[i] = byte(i*7 + i>>8)
	}
	f := frame(t, gnvMACA, gnvMACB, "172.16.0.10", "172.16.1.20",
		&layers.TCP{SrcPort: 40000, DstPort: 5201, Seq: 1000, Ack: 1, ACK: true, PSH: true, Window: 512}, gopacket.Payload(data))
	v := header.VnetHdr(f)
	v.SetFlags(header.VnetFlagNeedsCsum)
	v.SetGSOType(header.VnetGSOTCPv4)
	v.SetHdrLen(14 + 20 + 20)
	v.SetGSOSize(1448)
	v.SetCsum(14+20, 16)
	return f
}

// sameFrame fails unless got is want byte for byte (virtio-net header and
// frame).
func sameFrame(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		n := min(len(got), len(want))
		i := 0
		for i < n && got[i] == want[i] {
			i++
		}
		t.Fatalf("%s: got %d bytes, want %d; first difference at byte %d (virtio-net header is bytes 0-9)", what, len(got), len(want), i)
	}
}

// A frame crosses under its VNI, byte for byte with its virtio-net
// header, to the peer's port of that VNI only, and back.
func TestGeneveFramesCrossUnderTheirVNI(t *testing.T) {
	r := newGeneveRig(t, 9100)
	a100, a200 := genevePortOf(t, r.a, r.ipB, 100), genevePortOf(t, r.a, r.ipB, 200)
	b100, b200 := genevePortOf(t, r.b, r.ipA, 100), genevePortOf(t, r.b, r.ipA, 200)
	inA100, inA200 := received(t, a100), received(t, a200)
	inB100, inB200 := received(t, b100), received(t, b200)

	out := gnvUDP(t, "a to b under 100")
	writeFrame(t, a100, out)
	sameFrame(t, "a→b VNI 100", next(t, inB100, "b's VNI-100 port"), out)
	// The reader hands datagrams on in order: if the VNI-200 port's first
	// frame is the marker sent after, the VNI-100 frame did not go there.
	marker := gnvUDP(t, "marker under 200")
	writeFrame(t, a200, marker)
	sameFrame(t, "b's VNI-200 port", next(t, inB200, "b's VNI-200 port"), marker)

	back := gnvUDP(t, "b to a under 100, a longer answer")
	writeFrame(t, b100, back)
	sameFrame(t, "b→a VNI 100", next(t, inA100, "a's VNI-100 port"), back)
	writeFrame(t, b200, marker)
	sameFrame(t, "a's VNI-200 port", next(t, inA200, "a's VNI-200 port"), marker)

	if u, b := r.a.Dropped(); u != 0 || b != 0 {
		t.Errorf("a dropped %d unknown, %d bad; want none", u, b)
	}
	if u, b := r.b.Dropped(); u != 0 || b != 0 {
		t.Errorf("b dropped %d unknown, %d bad; want none", u, b)
	}
}

// A GSO super-frame crosses whole, as one frame with its virtio-net
// header, over a jumbo underlay and over a 1500-byte one (fragmented by
// a's kernel, reassembled by b's); the largest frame a datagram can carry
// crosses, one byte more is refused.
func TestGeneveCarriesGSOSuperFramesWhole(t *testing.T) {
	for _, mtu := range []int{9100, 1500} {
		t.Run(fmt.Sprintf("mtu%d", mtu), func(t *testing.T) {
			r := newGeneveRig(t, mtu)
			a, b := genevePortOf(t, r.a, r.ipB, 100), genevePortOf(t, r.b, r.ipA, 100)
			in := received(t, b)

			sf := gnvGSO(t, 60000)
			writeFrame(t, a, sf)
			got := next(t, in, "super-frame")
			sameFrame(t, "super-frame", got, sf)
			v := header.VnetHdr(got)
			if v.GSOType() != header.VnetGSOTCPv4 || v.GSOSize() != 1448 || !v.NeedsCsum() || v.CsumStart() != 34 || v.CsumOffset() != 16 {
				t.Fatalf("virtio-net header % x: want GSO TCPv4 1448, NEEDS_CSUM at 34+16", got[:header.VnetHdrLen])
			}

			// The largest: 65535 bytes of outer IPv4.
			max := frame(t, gnvMACA, gnvMACB, "172.16.0.10", "172.16.1.20", &layers.UDP{SrcPort: 1, DstPort: 2},
				gopacket.Payload(bytes.Repeat([]byte{0x5a}, MaxGeneveInnerFrame-14-20-8)))
			if len(max) != header.VnetHdrLen+MaxGeneveInnerFrame {
				t.Fatalf("built %d bytes", len(max))
			}
			writeFrame(t, a, max)
			sameFrame(t, "largest frame", next(t, in, "largest frame"), max)

			tooBig := append(bytes.Clone(max), 0)
			if n, err := a.Write([][]byte{tooBig}, 0); n != 0 || !errors.Is(err, ErrPortFull) {
				t.Fatalf("Write of a %d-byte frame (max %d): %d, %v; want 0, ErrPortFull", len(tooBig)-header.VnetHdrLen, MaxGeneveInnerFrame, n, err)
			}
			if u, bad := r.b.Dropped(); u != 0 || bad != 0 {
				t.Errorf("b dropped %d unknown, %d bad; want none", u, bad)
			}
			// Both datagrams exceeded the MTU: a's kernel cut them, b's
			// put them together again.
			if n := ipStat(t, r.nsA, "FragOKs"); n != 2 {
				t.Errorf("a's kernel fragmented %d datagrams, want 2", n)
			}
			if n := ipStat(t, r.nsB, "ReasmOKs"); n != 2 {
				t.Errorf("b's kernel reassembled %d datagrams, want 2", n)
			}
		})
	}
}

// ipStat is the IPv4 counter name (/proc/net/snmp, "Ip:") of namespace ns.
func ipStat(t *testing.T, ns, name string) int {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "cat", "/proc/net/snmp").Output()
	if err != nil {
		t.Fatalf("/proc/net/snmp of %s: %v", ns, err)
	}
	var names []string
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || f[0] != "Ip:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i := range names {
			if names[i] == name && i < len(f) {
				var n int
				fmt.Sscan(f[i], &n)
				return n
			}
		}
	}
	t.Fatalf("/proc/net/snmp of %s: no Ip: %s", ns, name)
	return 0
}

// captureStart runs tcpdump on dev in namespace ns, writing UDP 6081 to
// file; stop ends it (SIGINT, by its PID) once what was sent is written.
func captureStart(t *testing.T, ns, dev, file string) (stop func()) {
	t.Helper()
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Skipf("needs tcpdump: %v", err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, tcpdump, "-i", dev, "-n", "-U", "--immediate-mode", "-Z", "root", "-w", file, "udp", "port", "6081")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		var lines []string
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if strings.Contains(sc.Text(), "listening on") {
				close(ready)
			}
		}
		err := cmd.Wait()
		if err != nil {
			err = fmt.Errorf("tcpdump: %v: %s", err, strings.Join(lines, "\n"))
		}
		done <- err
	}()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	t.Cleanup(stop)
	select {
	case <-ready:
	case err := <-done:
		stopped = true
		t.Fatalf("tcpdump ended before capturing: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("tcpdump not listening after 10 s")
	}
	return stop
}

// On the wire a frame is RFC 8926 Geneve: UDP to 6081, version 0, the VNI,
// protocol 0x6558 (Ethernet), vpcnet's option (class 0xff00, type 1: the
// virtio-net header and two bytes of padding), then the inner frame; and
// tcpdump reads it as Geneve with the VNI.
func TestGeneveOnTheWire(t *testing.T) {
	r := newGeneveRig(t, 9100)
	a, b := genevePortOf(t, r.a, r.ipB, 100), genevePortOf(t, r.b, r.ipA, 100)
	in := received(t, b)
	file := filepath.Join(t.TempDir(), "geneve.pcap")
	stop := captureStart(t, r.nsA, r.devA, file)

	f := gnvGSO(t, 3000) // a non-zero virtio-net header, in one datagram at MTU 9100
	writeFrame(t, a, f)
	next(t, in, "captured frame")
	stop()

	h, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	rd, err := pcapgo.NewReader(h)
	if err != nil {
		t.Fatal(err)
	}
	var pkt gopacket.Packet
	for {
		data, _, err := rd.ReadPacketData()
		if err != nil {
			t.Fatalf("no Geneve datagram from %s in the capture: %v", r.ipA, err)
		}
		p := gopacket.NewPacket(data, layers.LinkTypeEthernet, gopacket.Default)
		if ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok && ip.SrcIP.Equal(r.ipA.AsSlice()) {
			pkt = p
			break
		}
	}
	if el := pkt.ErrorLayer(); el != nil {
		t.Fatalf("gopacket: %v", el.Error())
	}
	ip := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if !ip.DstIP.Equal(r.ipB.AsSlice()) || ip.Protocol != layers.IPProtocolUDP {
		t.Fatalf("outer IPv4 %s → %s proto %s; want %s → %s UDP", ip.SrcIP, ip.DstIP, ip.Protocol, r.ipA, r.ipB)
	}
	udp, ok := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
	if !ok || udp.DstPort != GenevePort {
		t.Fatalf("outer UDP %v; want destination port %d", udp, GenevePort)
	}
	gn, ok := pkt.Layer(layers.LayerTypeGeneve).(*layers.Geneve)
	if !ok {
		t.Fatalf("no Geneve layer: %v", pkt)
	}
	if gn.Version != 0 || gn.OAMPacket || gn.CriticalOption || gn.VNI != 100 || gn.Protocol != layers.EthernetTypeTransparentEthernetBridging || gn.OptionsLength != 16 {
		t.Fatalf("Geneve version %d O %v C %v VNI %d protocol %#04x options %d bytes; want 0, false, false, 100, 0x6558, 16",
			gn.Version, gn.OAMPacket, gn.CriticalOption, gn.VNI, uint16(gn.Protocol), gn.OptionsLength)
	}
	if len(gn.Options) != 1 {
		t.Fatalf("%d Geneve options, want 1", len(gn.Options))
	}
	opt := gn.Options[0]
	wantData := append(bytes.Clone(f[:header.VnetHdrLen]), 0, 0)
	if opt.Class != 0xff00 || opt.Type != 0x01 || opt.Length != 16 || !bytes.Equal(opt.Data, wantData) {
		t.Fatalf("option class %#04x type %#02x length %d data % x; want 0xff00, 0x01, 16, % x", opt.Class, opt.Type, opt.Length, opt.Data, wantData)
	}
	if !bytes.Equal(gn.Payload, f[header.VnetHdrLen:]) {
		t.Fatalf("Geneve payload is %d bytes, not the inner frame (%d bytes)", len(gn.Payload), len(f)-header.VnetHdrLen)
	}
	var inner *layers.Ethernet
	for _, l := range pkt.Layers() {
		if e, ok := l.(*layers.Ethernet); ok {
			inner = e // the last: the inner frame's
		}
	}
	if inner == nil || inner.SrcMAC.String() != gnvMACA.String() || inner.DstMAC.String() != gnvMACB.String() {
		t.Fatalf("inner Ethernet %v; want %s → %s", inner, gnvMACA, gnvMACB)
	}
	if tcp, ok := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP); !ok || tcp.DstPort != 5201 || len(tcp.Payload) != 3000 {
		t.Fatalf("inner TCP %v; want to port 5201 with 3000 bytes", tcp)
	}

	out, err := exec.Command("tcpdump", "-nr", file, "-v").CombinedOutput()
	if err != nil {
		t.Fatalf("tcpdump -nr: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{"Geneve", "vni 0x64", "class Unknown (0xff00) type 0x1 len 16", "172.16.0.10.40000 > 172.16.1.20.5201"} {
		if !strings.Contains(text, want) {
			t.Errorf("tcpdump -nr -v lacks %q:\n%s", want, text)
		}
	}
}

// geneveSender is a UDP socket in ns bound to src, for datagrams of the
// test's own making.
func geneveSender(t *testing.T, ns netns.Handle, src netip.Addr) int {
	t.Helper()
	fd := -1
	err := netns.Do(ns, func() error {
		var err error
		if fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrInet4{Addr: src.As4()})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// geneveDatagram is a datagram as vpcnet sends it: header and option under
// vni, the virtio-net header of f in the option, the frame after.
func geneveDatagram(vni uint32, f []byte) []byte {
	h := geneveHeader(vni)
	copy(h[geneveHdrLen+4:], f[:header.VnetHdrLen])
	return append(h[:], f[header.VnetHdrLen:]...)
}

// waitCount polls get for up to 5 s until it returns want.
func waitCount(t *testing.T, what string, get func() uint64, want uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for get() != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d after 5 s, want %d", what, get(), want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Datagrams that are not vpcnet's Geneve, or come from no known (peer,
// VNI), are never handed to a port: each is one counted drop, bad or
// unknown, and the reader goes on.
func TestGeneveDropsHostileDatagrams(t *testing.T) {
	r := newGeneveRig(t, 9100)
	p := genevePortOf(t, r.a, r.ipB, 100)
	in := received(t, p)
	fromB := geneveSender(t, r.hB, r.ipB)
	fromStranger := geneveSender(t, r.hB, r.ipStranger)
	good := geneveDatagram(100, gnvUDP(t, "good"))
	edit := func(fn func(d []byte)) []byte { d := bytes.Clone(good); fn(d); return d }

	const bad, unknown = "bad", "unknown"
	for _, tc := range []struct {
		name string
		d    []byte
		from int
		want string
	}{
		{"empty", nil, fromB, bad},
		{"7 bytes", good[:7], fromB, bad},
		{"Geneve header only", good[:geneveHdrLen], fromB, bad},
		{"header and option, no frame", good[:geneveLen], fromB, bad},
		{"frame one byte short of Ethernet", good[:geneveLen+header.EthernetLen-1], fromB, bad},
		{"version 1", edit(func(d []byte) { d[0] |= 0x40 }), fromB, bad},
		{"version 3", edit(func(d []byte) { d[0] |= 0xc0 }), fromB, bad},
		{"no options", edit(func(d []byte) { d[0] = 0 }), fromB, bad},
		{"options 5 words", edit(func(d []byte) { d[0] = 5 }), fromB, bad},
		{"options 63 words", edit(func(d []byte) { d[0] = 63 }), fromB, bad},
		{"protocol IPv4", edit(func(d []byte) { binary.BigEndian.PutUint16(d[2:], 0x0800) }), fromB, bad},
		{"protocol 0", edit(func(d []byte) { binary.BigEndian.PutUint16(d[2:], 0) }), fromB, bad},
		{"option class 0x0101 (Linux)", edit(func(d []byte) { binary.BigEndian.PutUint16(d[8:], 0x0101) }), fromB, bad},
		{"option class 0xff01", edit(func(d []byte) { d[9] = 0x01 }), fromB, bad},
		{"option type 2", edit(func(d []byte) { d[10] = 2 }), fromB, bad},
		{"option type 0x82 (critical, type 2)", edit(func(d []byte) { d[10] = 0x82 }), fromB, bad},
		{"option length 2 words", edit(func(d []byte) { d[11] = 2 }), fromB, bad},
		{"option length 4 words", edit(func(d []byte) { d[11] = 4 }), fromB, bad},
		{"option length 0", edit(func(d []byte) { d[11] = 0 }), fromB, bad},
		// RFC 8926 3.4: an OAM (control) packet's payload MUST NOT be
		// forwarded.
		{"OAM bit", edit(func(d []byte) { d[1] |= 0x80 }), fromB, bad},
		{"unknown VNI", geneveDatagram(300, gnvUDP(t, "300")), fromB, unknown},
		{"VNI 0", geneveDatagram(0, gnvUDP(t, "0")), fromB, unknown},
		{"unknown peer", good, fromStranger, unknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u0, b0 := r.a.Dropped()
			if err := unix.Sendto(tc.from, tc.d, 0, &unix.SockaddrInet4{Port: GenevePort, Addr: r.ipA.As4()}); err != nil {
				t.Fatal(err)
			}
			switch tc.want {
			case bad:
				waitCount(t, "bad", func() uint64 { _, b := r.a.Dropped(); return b }, b0+1)
			case unknown:
				waitCount(t, "unknown", func() uint64 { u, _ := r.a.Dropped(); return u }, u0+1)
			}
			if u, b := r.a.Dropped(); u+b != u0+b0+1 {
				t.Fatalf("dropped %d unknown (was %d), %d bad (was %d): want one more %s only", u, u0, b, b0, tc.want)
			}
			// Nothing reached the port: the next frame there is the
			// good one, sent after.
			if err := unix.Sendto(fromB, good, 0, &unix.SockaddrInet4{Port: GenevePort, Addr: r.ipA.As4()}); err != nil {
				t.Fatal(err)
			}
			sameFrame(t, "frame after "+tc.name, next(t, in, "good frame"), gnvUDP(t, "good"))
		})
	}
}

// Port.Write allocates nothing per frame (the hot path); nor does Read.
func TestGeneveWriteAllocatesNothing(t *testing.T) {
	r := newGeneveRig(t, 9100)
	a, b := genevePortOf(t, r.a, r.ipB, 100), genevePortOf(t, r.b, r.ipA, 100)
	f := frame(t, gnvMACA, gnvMACB, "172.16.0.10", "172.16.1.20", &layers.UDP{SrcPort: 1, DstPort: 2},
		gopacket.Payload(make([]byte, 1400-14-20-8)))
	bufs := [][]byte{f}
	const runs = 200
	var failed int
	if n := testing.AllocsPerRun(runs, func() {
		if _, err := a.Write(bufs, 0); err != nil {
			failed++
		}
	}); n != 0 {
		t.Errorf("Write: %v allocations per frame, want 0", n)
	}
	if failed != 0 {
		t.Fatalf("%d of %d writes failed", failed, runs+1)
	}
	// b's port holds some of them (its queue may take fewer than were
	// sent, losing the rest): read fewer than a batch, so no Read waits.
	const readRuns = 15
	rb, sizes := [][]byte{make([]byte, MaxFrame)}, []int{0}
	if n := testing.AllocsPerRun(readRuns, func() {
		if n, err := b.Read(rb, sizes, 0); n != 1 || err != nil {
			failed++
		}
	}); n != 0 {
		t.Errorf("Read: %v allocations per frame, want 0", n)
	}
	if failed != 0 || !bytes.Equal(rb[0][:sizes[0]], f) {
		t.Fatalf("%d of %d reads failed, or the last frame differs", failed, readRuns+1)
	}
}

// readerRunning reports whether a Geneve reader goroutine is alive.
func readerRunning() bool {
	buf := make([]byte, 1<<20)
	return bytes.Contains(buf[:runtime.Stack(buf, true)], []byte("dataplane.(*Geneve).read("))
}

// A port's Read returns ErrClosed once the port is closed, also a Read
// already waiting; closing the Geneve ends its reader goroutine.
func TestGeneveClose(t *testing.T) {
	r := newGeneveRig(t, 9100)
	p := genevePortOf(t, r.a, r.ipB, 100)
	errc := make(chan error, 1)
	go func() {
		_, err := p.Read([][]byte{make([]byte, MaxFrame)}, []int{0}, 0)
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond) // let it wait
	p.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("waiting Read after Close: %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiting Read still blocked 5 s after Close")
	}
	if _, err := p.Read([][]byte{make([]byte, MaxFrame)}, []int{0}, 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close: %v, want ErrClosed", err)
	}

	if !readerRunning() {
		t.Fatal("no reader goroutine before Close")
	}
	closed := make(chan struct{})
	go func() { r.a.Close(); r.b.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Geneve.Close blocked for 5 s")
	}
	// Close waited for the readers; one may still be returning from its
	// deferred Done.
	for deadline := time.Now().Add(time.Second); readerRunning(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a reader goroutine outlived Geneve.Close")
		}
	}
	r.a.Close() // twice is harmless
}

// Closing the Geneve ends its ports' Reads (ErrClosed, as its doc says):
// a worker waiting on a port must not hang once the socket is gone.
func TestGeneveCloseEndsPortReads(t *testing.T) {
	r := newGeneveRig(t, 9100)
	p := genevePortOf(t, r.a, r.ipB, 100)
	errc := make(chan error, 1)
	go func() {
		_, err := p.Read([][]byte{make([]byte, MaxFrame)}, []int{0}, 0)
		errc <- err
	}()
	r.a.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Read after Geneve.Close: %v, want ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		p.Close() // end the Read
		t.Fatal("a port's Read still blocked 2 s after Geneve.Close")
	}
}

// Write on a closed port returns ErrClosed (the Port contract) and sends
// nothing, whether the port or the whole Geneve was closed: after
// Geneve.Close its descriptor number may already be another file's.
func TestGeneveClosedPortRefusesWrites(t *testing.T) {
	r := newGeneveRig(t, 9100)
	p1, p2 := genevePortOf(t, r.a, r.ipB, 100), genevePortOf(t, r.a, r.ipB, 200)
	genevePortOf(t, r.b, r.ipA, 100)
	genevePortOf(t, r.b, r.ipA, 200)
	f := gnvUDP(t, "after close")
	p1.Close()
	if n, err := p1.Write([][]byte{f}, 0); n != 0 || !errors.Is(err, ErrClosed) {
		t.Errorf("Write after the port's Close: %d, %v; want 0, ErrClosed", n, err)
	}
	r.a.Close()
	if n, err := p2.Write([][]byte{f}, 0); n != 0 || !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Geneve.Close: %d, %v; want 0, ErrClosed", n, err)
	}
}

// A closed port gives back the read buffers of the frames it still held:
// otherwise each close shrinks the pool until the reader, with none left,
// stops every tunnel.
func TestGeneveClosedPortGivesBuffersBack(t *testing.T) {
	r := newGeneveRig(t, 9100)
	p := genevePortOf(t, r.a, r.ipB, 300) // never read
	genevePortOf(t, r.a, r.ipB, 100)
	from := genevePortOf(t, r.b, r.ipA, 300)
	const n = 100
	for range n {
		writeFrame(t, from, gnvUDP(t, "held"))
	}
	// Each is queued, or lost for want of room in the port's queue.
	gp := p.(*genevePort)
	waitCount(t, "frames queued or lost", func() uint64 { return uint64(len(gp.in)) + gp.full.Load() }, n)
	if len(gp.in) == 0 {
		t.Fatal("no frame queued")
	}
	p.Close()
	// All but the one the reader waits with on the socket.
	waitCount(t, "free read buffers", func() uint64 { return uint64(len(r.a.free)) }, geneveBuffers-1)
}

// A port whose worker does not keep up loses its own frames (counted,
// QueueDrops) but does not take every read buffer: the other tunnels'
// frames still arrive.
func TestGeneveSlowPortDoesNotStallOthers(t *testing.T) {
	r := newGeneveRig(t, 9100)
	slow := genevePortOf(t, r.a, r.ipB, 300) // never read
	in := received(t, genevePortOf(t, r.a, r.ipB, 100))
	to300, to100 := genevePortOf(t, r.b, r.ipA, 300), genevePortOf(t, r.b, r.ipA, 100)
	const n = geneveBuffers + 100
	for range n {
		writeFrame(t, to300, gnvUDP(t, "for the slow port"))
	}
	f := gnvUDP(t, "for the fast port")
	writeFrame(t, to100, f)
	sameFrame(t, "VNI 100 behind a slow VNI 300", next(t, in, "VNI-100 frame behind 612 for a slow port"), f)
	if d, _ := slow.(queueDropper).QueueDrops(); d == 0 {
		t.Errorf("slow port: no queue drops counted")
	}
}
