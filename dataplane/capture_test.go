package dataplane

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/vpcnet/vpcnet/dataplane/header"
)

func TestCaptureFilterMatch(t *testing.T) {
	tcp := frame(t, testMAC, testMAC, "10.0.1.10", "10.0.2.10", &layers.TCP{SrcPort: 1000, DstPort: 80, SYN: true})
	udp := frame(t, testMAC, testMAC, "10.0.1.10", "10.0.2.10", &layers.UDP{SrcPort: 5353, DstPort: 53})
	icmp := frame(t, testMAC, testMAC, "10.0.1.10", "10.0.2.10", &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0)})
	arp := make([]byte, ipOff+header.ARPLen)
	header.Ethernet(arp[header.VnetHdrLen:]).SetEtherType(header.EtherTypeARP)
	host := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	for _, c := range []struct {
		name  string
		f     CaptureFilter
		frame []byte
		want  bool
	}{
		{"empty filter takes all", CaptureFilter{}, tcp, true},
		{"empty filter takes ARP", CaptureFilter{}, arp, true},
		{"host filter skips ARP", CaptureFilter{Host: host("10.0.1.10")}, arp, false},
		{"source host", CaptureFilter{Host: host("10.0.1.10")}, tcp, true},
		{"destination host", CaptureFilter{Host: host("10.0.2.10")}, udp, true},
		{"other host", CaptureFilter{Host: host("10.0.3.10")}, tcp, false},
		{"tcp dst port", CaptureFilter{Port: 80}, tcp, true},
		{"tcp src port", CaptureFilter{Port: 1000}, tcp, true},
		{"other port", CaptureFilter{Port: 443}, tcp, false},
		{"udp port", CaptureFilter{Port: 53}, udp, true},
		{"port filter skips ICMP", CaptureFilter{Port: 53}, icmp, false},
		{"proto icmp", CaptureFilter{Proto: header.ProtoICMP}, icmp, true},
		{"proto icmp skips tcp", CaptureFilter{Proto: header.ProtoICMP}, tcp, false},
		{"all three", CaptureFilter{Host: host("10.0.2.10"), Port: 80, Proto: header.ProtoTCP}, tcp, true},
		{"short frame", CaptureFilter{Port: 80}, tcp[:ipOff+10], false},
	} {
		if got := c.f.Match(c.frame); got != c.want {
			t.Errorf("%s: Match = %v, want %v", c.name, got, c.want)
		}
	}
}

// A reader that does not read: the ring keeps its first frames, the rest
// are counted as not captured, and forwarding goes on.
func TestCaptureSlowReaderDrops(t *testing.T) {
	r := newRig(t, unitTopo)
	c, err := r.f.StartCapture(CaptureSpec{Endpoints: []string{r.enis["a1"].ID}, Dir: CaptureOut, Snaplen: 128, RingBytes: 16 * 138})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	slots := len(c.ring.slots)
	const sent = 100
	for i := 0; i < sent; i++ {
		r.send("a1", ping(t, r.enis["a1"], r.router("a1"), "10.0.1.10", "10.0.2.10"))
		r.expect("b1") // forwarding is not held up
	}
	if got := c.Lost(); got != uint64(sent-slots) {
		t.Errorf("lost %d, want %d (ring of %d)", got, sent-slots, slots)
	}
	var fr CapturedFrame
	n := 0
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	for c.Read(ctx, &fr) {
		n++
		if fr.Dir != CaptureOut || fr.OrigLen != len(ping(t, r.enis["a1"], r.router("a1"), "10.0.1.10", "10.0.2.10"))-header.VnetHdrLen {
			t.Fatalf("frame %d: dir %d orig %d", n, fr.Dir, fr.OrigLen)
		}
	}
	if n != slots {
		t.Errorf("read %d frames, want the ring's %d", n, slots)
	}
}

// Out at the sender as it sent it, in at the receiver with the router's
// MAC; a second capture of the same ENI sees the same; Close removes the
// taps.
func TestCaptureBothEndsAndClose(t *testing.T) {
	r := newRig(t, unitTopo)
	a1, b1 := r.enis["a1"].ID, r.enis["b1"].ID
	c, err := r.f.StartCapture(CaptureSpec{Endpoints: []string{a1, b1}, Snaplen: 20})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := r.f.StartCapture(CaptureSpec{Endpoints: []string{b1}, Dir: CaptureIn})
	if err != nil {
		t.Fatal(err)
	}
	sent := ping(t, r.enis["a1"], r.router("a1"), "10.0.1.10", "10.0.2.10")
	r.send("a1", bytes.Clone(sent))
	got := r.expect("b1")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var fr CapturedFrame
	if !c.Read(ctx, &fr) || fr.Endpoint != 0 || fr.Dir != CaptureOut || !bytes.Equal(fr.Data, sent[header.VnetHdrLen:][:20]) {
		t.Fatalf("first frame: %+v, want a1's out frame snapped to 20 bytes", fr)
	}
	if fr.OrigLen != len(sent)-header.VnetHdrLen {
		t.Errorf("orig len %d, want %d", fr.OrigLen, len(sent)-header.VnetHdrLen)
	}
	if !c.Read(ctx, &fr) || fr.Endpoint != 1 || fr.Dir != CaptureIn || !bytes.Equal(fr.Data, got[header.VnetHdrLen:][:20]) {
		t.Fatalf("second frame: %+v, want b1's in frame", fr)
	}
	if !c2.Read(ctx, &fr) || fr.Dir != CaptureIn || !bytes.Equal(fr.Data, got[header.VnetHdrLen:]) {
		t.Fatalf("second capture: %+v", fr)
	}
	if _, err := r.f.StartCapture(CaptureSpec{Endpoints: []string{"eni-nope"}}); err == nil {
		t.Error("a capture of an unknown endpoint started")
	}
	c.Close()
	c2.Close()
	c.Close()
	if r.f.taps.Load() != nil || len(r.f.captures) != 0 {
		t.Error("taps remain after Close")
	}
	if c.Read(context.Background(), &fr) {
		t.Error("Read after Close returned a frame")
	}
}

// --drops: a frame the receiver's NACL denies carries the NACL and rule
// number; one its group denies carries the group (OBS-2). Forwarded frames
// are not in a drops capture.
func TestCaptureDropsCarryReasonAndRule(t *testing.T) {
	r, _ := flowRig(t)
	c, err := r.f.StartCapture(CaptureSpec{Endpoints: []string{r.enis["b1"].ID}, Drops: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a1, gw := r.enis["a1"], r.router("a1")
	r.send("a1", frame(t, a1.MAC, gw, "10.0.1.10", "10.0.2.10", &layers.TCP{SrcPort: 1000, DstPort: 80, SYN: true, Window: 100}))
	r.expect("b1")
	r.send("a1", frame(t, a1.MAC, gw, "10.0.1.10", "10.0.2.10", &layers.UDP{SrcPort: 5353, DstPort: 53}, gopacket.Payload("q")))
	r.send("a1", frame(t, a1.MAC, gw, "10.0.1.10", "10.0.2.10", &layers.TCP{SrcPort: 1001, DstPort: 22, SYN: true, Window: 100}))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var fr CapturedFrame
	if !c.Read(ctx, &fr) {
		t.Fatal("no drop captured")
	}
	nacl := r.enis["b1"].Subnet.NACL.ID
	if fr.Drop != dropNACLIngress.String() || fr.By != nacl || fr.Rule != 50 {
		t.Errorf("first drop: %q by %q rule %d, want %q by %s rule 50", fr.Drop, fr.By, fr.Rule, dropNACLIngress, nacl)
	}
	if !c.Read(ctx, &fr) {
		t.Fatal("second drop not captured")
	}
	if fr.Drop != dropSGIngress.String() || fr.By == "" {
		t.Errorf("second drop: %q by %q, want %q by the group", fr.Drop, fr.By, dropSGIngress)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	if c.Read(ctx2, &fr) {
		t.Errorf("a third frame: %+v", fr)
	}
}

// With a capture on (its ring full, so both the copy and the lost count
// run) and off, forwarding allocates nothing.
func TestCaptureForwardAllocatesNothing(t *testing.T) {
	w, cfg, n, ports := benchRig(t, unitTopo)
	a1 := n.InstanceByName["a1"].Primary()
	c, err := w.f.StartCapture(CaptureSpec{Endpoints: []string{a1.ID, n.InstanceByName["b1"].Primary().ID}, RingBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	routed := ping(t, a1, n.InstanceByName["a1"].Subnet.RouterMAC, "10.0.1.10", "10.0.2.10")
	buf := make([]byte, len(routed))
	run := func() {
		copy(buf, routed)
		w.handle(cfg, buf)
	}
	run()
	if allocs := testing.AllocsPerRun(1000, run); allocs != 0 {
		t.Fatalf("forward with capture on allocates %.1f per frame", allocs)
	}
	if c.Lost() == 0 || ports["b1"].n == 0 {
		t.Fatalf("lost %d, forwarded %d: the capture did not run", c.Lost(), ports["b1"].n)
	}
	c.Close()
	if allocs := testing.AllocsPerRun(1000, run); allocs != 0 {
		t.Fatalf("forward after capture allocates %.1f per frame", allocs)
	}
}

// --segment: a GSO super-frame becomes wire segments with their own
// lengths, sequence numbers, flags and valid checksums.
func TestSegmentsSplitsGSO(t *testing.T) {
	payload := make([]byte, 3000)
	for i := range payload {
		payload[i] = byte(i)
	}
	f := gso(frame(t, testMAC, testMAC, "10.0.1.10", "10.0.2.10",
		&layers.TCP{SrcPort: 1000, DstPort: 80, ACK: true, PSH: true, Seq: 100, Window: 100}, gopacket.Payload(payload)), 1448)
	var got [][]byte
	Segments(f[:header.VnetHdrLen], f[header.VnetHdrLen:], nil, func(s []byte) { got = append(got, bytes.Clone(s)) })
	if len(got) != 3 {
		t.Fatalf("%d segments, want 3", len(got))
	}
	var joined []byte
	for i, s := range got {
		p := gopacket.NewPacket(s, layers.LayerTypeEthernet, gopacket.Default)
		tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		if tcp == nil || ip == nil {
			t.Fatalf("segment %d does not decode: %v", i, p.ErrorLayer())
		}
		if want := uint32(100 + 1448*i); tcp.Seq != want {
			t.Errorf("segment %d seq %d, want %d", i, tcp.Seq, want)
		}
		if tcp.PSH != (i == 2) {
			t.Errorf("segment %d PSH %v", i, tcp.PSH)
		}
		if int(ip.Length) != len(s)-header.EthernetLen {
			t.Errorf("segment %d IP length %d of %d", i, ip.Length, len(s)-header.EthernetLen)
		}
		if header.Checksum(s[header.EthernetLen:header.EthernetLen+20], 0) != 0xffff {
			t.Errorf("segment %d: bad IPv4 checksum", i)
		}
		l4 := s[header.EthernetLen+20:]
		if header.Checksum(l4, header.PseudoHeaderSum(ip.SrcIP.To4(), ip.DstIP.To4(), header.ProtoTCP, len(l4))) != 0xffff {
			t.Errorf("segment %d: bad TCP checksum", i)
		}
		joined = append(joined, tcp.Payload...)
	}
	if !bytes.Equal(joined, payload) {
		t.Error("the segments' payloads are not the super-frame's")
	}
	plain := frame(t, testMAC, testMAC, "10.0.1.10", "10.0.2.10", &layers.UDP{SrcPort: 1, DstPort: 2})
	n := 0
	Segments(plain[:header.VnetHdrLen], plain[header.VnetHdrLen:], nil, func(s []byte) {
		n++
		if !bytes.Equal(s, plain[header.VnetHdrLen:]) {
			t.Error("a plain frame changed")
		}
	})
	if n != 1 {
		t.Errorf("plain frame gave %d frames", n)
	}
}

var testMAC = []byte{2, 0, 0, 0, 0, 1}

// BenchmarkForwardCaptured is BenchmarkForward with a capture of the
// sending ENI (both directions: the frame is copied once) and a reader
// draining the ring.
func BenchmarkForwardCaptured(b *testing.B) {
	w, cfg, n, _ := benchRig(b, unitTopo)
	a1 := n.InstanceByName["a1"].Primary()
	c, err := w.f.StartCapture(CaptureSpec{Endpoints: []string{a1.ID}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	drained := make(chan struct{})
	go func() {
		var fr CapturedFrame
		for c.Read(ctx, &fr) {
		}
		close(drained)
	}()
	f := ping(b, a1, n.InstanceByName["a1"].Subnet.RouterMAC, "10.0.1.10", "10.0.2.10")
	buf := make([]byte, len(f))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, f)
		w.handle(cfg, buf)
	}
	b.StopTimer()
	b.ReportMetric(float64(c.Lost()), "lost")
	cancel()
	c.Close()
	<-drained
}

// Many workers put at once while the reader drains: every frame is either
// read whole or counted lost, and each worker's frames come in its order.
func TestCaptureRingManyProducers(t *testing.T) {
	c := &Capture{spec: CaptureSpec{Dir: CaptureBoth}, wake: make(chan struct{}, 1), done: make(chan struct{}), readBuf: make([]byte, 64)}
	c.ring.init(64, 64+header.VnetHdrLen)
	const producers, each = 4, 20000
	var wg sync.WaitGroup
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := make([]byte, header.VnetHdrLen+8)
			for i := 0; i < each; i++ {
				f[header.VnetHdrLen] = byte(p)
				binary.BigEndian.PutUint32(f[header.VnetHdrLen+1:], uint32(i))
				c.put(uint16(p), CaptureOut, f, dropNone, "", 0)
			}
		}()
	}
	go func() { wg.Wait(); close(c.done) }()
	var fr CapturedFrame
	last := [producers]int64{-1, -1, -1, -1}
	read := 0
	for c.Read(context.Background(), &fr) {
		p, i := int(fr.Data[0]), int64(binary.BigEndian.Uint32(fr.Data[1:]))
		if fr.Endpoint != p || len(fr.Data) != 8 || i <= last[p] {
			t.Fatalf("frame %d of %d after %d (endpoint %d, %d bytes)", i, p, last[p], fr.Endpoint, len(fr.Data))
		}
		last[p] = i
		read++
	}
	if uint64(read)+c.Lost() != producers*each {
		t.Errorf("read %d + lost %d != %d put", read, c.Lost(), producers*each)
	}
}
