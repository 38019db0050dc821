package test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// captureTopo: web in subnet b serves HTTP behind group "web-sg" (TCP 80 and
// ICMP from the VPC) and NACL nb, which denies TCP 22 in at rule 50; client
// in subnet a.
const captureTopo = `{
  "name": "NAME", "region": "us-east-1",
  "vpcs": [{
    "name": "v", "cidr": "10.61.0.0/16",
    "subnets": [
      {"name": "a", "cidr": "10.61.1.0/24", "az": "us-east-1a"},
      {"name": "b", "cidr": "10.61.2.0/24", "az": "us-east-1a", "network_acl": "nb"}
    ],
    "network_acls": [{"name": "nb",
      "ingress": [{"rule": 50, "protocol": "tcp", "ports": "22", "cidr": "0.0.0.0/0", "action": "deny"},
                  {"rule": 100, "protocol": "all", "cidr": "0.0.0.0/0", "action": "allow"}],
      "egress": [{"rule": 100, "protocol": "all", "cidr": "0.0.0.0/0", "action": "allow"}]}],
    "security_groups": [
      {"name": "web-sg", "ingress": [{"protocol": "tcp", "ports": "80", "source": "10.61.0.0/16"},
                                  {"protocol": "icmp", "source": "10.61.0.0/16"}]}
    ],
    "instances": [
      {"name": "web", "subnet": "b", "private_ip": "10.61.2.10", "security_groups": ["web-sg"], "user_data": "vpcnet serve --http :80"},
      {"name": "client", "subnet": "a", "private_ip": "10.61.1.10"}
    ]
  }]
}`

// startCapture runs `vpcnet capture` in the background and waits until its
// file has the pcapng header (the capture runs in the forwarder). wait
// returns the CLI's output once it exits by itself.
func startCapture(t *testing.T, tp *Topo, file string, args ...string) (wait func() string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	cmd := exec.CommandContext(ctx, vpcnetBin, append([]string{"capture", "--topology", tp.Name, "-w", file}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{}) // closed when the CLI has exited, with its error in werr
	var werr error
	go func() { werr = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if fi, err := os.Stat(file); err == nil && fi.Size() > 0 {
			break
		}
		select {
		case <-done:
			t.Fatalf("capture ended before it began: %v\n%s", werr, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("capture did not start:\n%s", out.String())
		}
	}
	return func() string {
		t.Helper()
		select {
		case <-done:
			if werr != nil {
				t.Fatalf("capture: %v\n%s", werr, out.String())
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("capture did not end by itself:\n%s", out.String())
		}
		return out.String()
	}
}

// readPcapng reads a capture back with gopacket: its packets and the
// interfaces' names.
func readPcapng(t *testing.T, file string) ([]gopacket.Packet, []string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	var pkts []gopacket.Packet
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		p.Metadata().CaptureInfo = ci
		pkts = append(pkts, p)
	}
	var names []string
	for i := 0; i < r.NInterfaces(); i++ {
		intf, _ := r.Interface(i)
		names = append(names, intf.Name)
	}
	return pkts, names
}

// tcpdumpLines reads a capture with tcpdump -r: one line per frame.
func tcpdumpLines(t *testing.T, file string) []string {
	t.Helper()
	out, err := exec.Command("tcpdump", "-n", "-r", file).Output()
	if err != nil {
		t.Fatalf("tcpdump -r %s: %v", file, err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// packetComments returns each packet's opt_comment (pcapgo's NgReader skips
// packet options, so the blocks are walked here).
func packetComments(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	var comments []string
	for len(b) >= 12 {
		typ, n := le.Uint32(b), int(le.Uint32(b[4:]))
		if n < 12 || n > len(b) {
			t.Fatalf("bad pcapng block length %d", n)
		}
		if typ == 6 {
			capLen := int(le.Uint32(b[20:]))
			c := ""
			for o := 28 + capLen + (4-capLen&3)&3; o+4 <= n-4; {
				code, l := le.Uint16(b[o:]), int(le.Uint16(b[o+2:]))
				if code == 0 {
					break
				}
				if code == 1 {
					c = string(b[o+4 : o+4+l])
				}
				o += 4 + l + (4-l&3)&3
			}
			comments = append(comments, c)
		}
		b = b[n:]
	}
	return comments
}

// A capture of an ENI while pinging: -c ends it; tcpdump and gopacket read
// the same frames back, on an interface named after the instance.
func TestCapture_PingCountReadByTcpdumpAndGopacket(t *testing.T) {
	tp := Up(t, captureTopo)
	file := filepath.Join(t.TempDir(), "ping.pcapng")
	wait := startCapture(t, tp, file, "web", "--proto", "icmp", "-c", "6")
	for i := 0; i < 3; i++ {
		if !tp.PingEventually(t, "client", "10.61.2.10") {
			t.Fatal("ping failed")
		}
	}
	out := wait()
	if !strings.Contains(out, "6 frames captured") {
		t.Errorf("CLI said %q", out)
	}
	pkts, names := readPcapng(t, file)
	if len(pkts) != 6 || len(names) != 1 || names[0] != "web" {
		t.Fatalf("gopacket read %d packets on %v, want 6 on [web]", len(pkts), names)
	}
	var req, rep int
	for _, p := range pkts {
		icmp, _ := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
		if icmp == nil {
			t.Fatalf("not ICMP: %v", p)
		}
		switch icmp.TypeCode.Type() {
		case layers.ICMPv4TypeEchoRequest:
			req++
		case layers.ICMPv4TypeEchoReply:
			rep++
		}
	}
	if req != 3 || rep != 3 {
		t.Errorf("%d requests, %d replies, want 3 and 3", req, rep)
	}
	lines := tcpdumpLines(t, file)
	if len(lines) != 6 || !strings.Contains(lines[0], "10.61.1.10 > 10.61.2.10: ICMP echo request") {
		t.Errorf("tcpdump read %d lines:\n%s", len(lines), strings.Join(lines, "\n"))
	}
}

// A capture of an HTTP exchange filtered by port, ended by --duration:
// tcpdump, gopacket and the CLI count the same frames, and the request is
// in them.
func TestCapture_CurlDurationCountsMatch(t *testing.T) {
	tp := Up(t, captureTopo)
	if _, err := tp.Curl(t, "client", "http://10.61.2.10/"); err != nil { // the server is up
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "http.pcapng")
	start := time.Now()
	wait := startCapture(t, tp, file, "web", "client", "--port", "80", "--duration", "3s")
	if _, err := tp.Curl(t, "client", "http://10.61.2.10/"); err != nil {
		t.Fatal(err)
	}
	out := wait()
	if d := time.Since(start); d < 3*time.Second || d > 10*time.Second {
		t.Errorf("--duration 3s ended after %v", d)
	}
	pkts, names := readPcapng(t, file)
	lines := tcpdumpLines(t, file)
	if len(pkts) < 10 || len(lines) != len(pkts) || !strings.HasPrefix(out, strconv.Itoa(len(pkts))+" frames captured") {
		t.Fatalf("gopacket %d, tcpdump %d frames; CLI: %q", len(pkts), len(lines), out)
	}
	if strings.Join(names, ",") != "web,client" {
		t.Errorf("interfaces %v", names)
	}
	var get, onWeb, onClient bool
	for _, p := range pkts {
		tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tcp == nil || (tcp.SrcPort != 80 && tcp.DstPort != 80) {
			t.Fatalf("not port 80: %v", p)
		}
		get = get || bytes.HasPrefix(tcp.Payload, []byte("GET / HTTP/1.1"))
		onWeb = onWeb || p.Metadata().InterfaceIndex == 0
		onClient = onClient || p.Metadata().InterfaceIndex == 1
	}
	if !get || !onWeb || !onClient {
		t.Errorf("GET seen %v, frames on web %v, on client %v", get, onWeb, onClient)
	}
}

// --drops: a connection the NACL denies (rule 50) and one the group denies
// are captured with their reason and rule as the packets' comments; frames
// that were forwarded are not.
func TestCapture_DropsCarryReasonAndRule(t *testing.T) {
	tp := Up(t, captureTopo)
	if !tp.PingEventually(t, "client", "10.61.2.10") {
		t.Fatal("ping failed")
	}
	file := filepath.Join(t.TempDir(), "drops.pcapng")
	wait := startCapture(t, tp, file, "web", "--drops", "--duration", "3s")
	tp.Ping(t, "client", "10.61.2.10") // allowed: not in the capture
	tp.Exec(t, "client", "nc", "-z", "-w", "1", "10.61.2.10", "22")
	tp.Exec(t, "client", "nc", "-z", "-w", "1", "10.61.2.10", "8080")
	wait()
	pkts, _ := readPcapng(t, file)
	comments := packetComments(t, file)
	if len(pkts) == 0 || len(comments) != len(pkts) {
		t.Fatalf("%d packets, %d comments", len(pkts), len(comments))
	}
	var nacl, sg bool
	for i, c := range comments {
		tcp, _ := pkts[i].Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tcp == nil || !tcp.SYN {
			t.Fatalf("dropped frame %d is not a SYN: %v", i, pkts[i])
		}
		switch {
		case tcp.DstPort == 22 && strings.HasPrefix(c, "vpcnet drop: network-acl ingress (NACL-4) by acl-") && strings.HasSuffix(c, " rule 50"):
			nacl = true
		case tcp.DstPort == 8080 && strings.HasPrefix(c, "vpcnet drop: security-group ingress (SG-2) by sg-"):
			sg = true
		default:
			t.Errorf("frame to %d: comment %q", tcp.DstPort, c)
		}
	}
	if !nacl || !sg {
		t.Errorf("NACL drop seen %v, group drop seen %v: %q", nacl, sg, comments)
	}
}

// `vpcnet capture web | tcpdump -r -` works: the stream is read as it
// comes, and -c ends both.
func TestCapture_PipeIntoTcpdump(t *testing.T) {
	tp := Up(t, captureTopo)
	if !tp.PingEventually(t, "client", "10.61.2.10") {
		t.Fatal("ping failed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", vpcnetBin+" capture --topology "+tp.Name+" web --proto icmp -c 2 | tcpdump -n -r -")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		tp.Ping(t, "client", "10.61.2.10")
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			s := out.String()
			if !strings.Contains(s, "ICMP echo request") || !strings.Contains(s, "ICMP echo reply") || !strings.Contains(s, "2 frames captured") {
				t.Errorf("tcpdump -r - showed:\n%s", s)
			}
			return
		case <-ctx.Done():
			t.Fatalf("the pipe did not end:\n%s", out.String())
		default:
		}
	}
}

// natCaptureTopo: app in a private subnet reaches the internet host remote
// (an HTTP server) through the NAT gateway nat (private IP 10.62.1.5, EIP
// 3.34.7.20) in the public subnet.
const natCaptureTopo = `{
  "name": "NAME", "region": "us-east-1",
  "address_pools": [{"name": "amz", "cidrs": ["3.34.0.0/16"]}],
  "elastic_ips": [{"name": "e-nat", "address": "3.34.7.20"}],
  "internet": {"hosts": [{"name": "remote", "ip": "203.0.113.80", "user_data": "vpcnet serve --http :80"}]},
  "vpcs": [{
    "name": "v", "cidr": "10.62.0.0/16", "internet_gateway": "igw",
    "subnets": [
      {"name": "pub", "cidr": "10.62.1.0/24", "az": "us-east-1a", "route_table": "rt-pub"},
      {"name": "priv", "cidr": "10.62.2.0/24", "az": "us-east-1a", "route_table": "rt-priv"}
    ],
    "route_tables": [
      {"name": "rt-pub", "routes": [{"destination": "0.0.0.0/0", "target": "igw"}]},
      {"name": "rt-priv", "routes": [{"destination": "0.0.0.0/0", "target": "nat"}]}
    ],
    "nat_gateways": [{"name": "nat", "subnet": "pub", "elastic_ip": "e-nat", "private_ip": "10.62.1.5"}],
    "instances": [{"name": "app", "subnet": "priv", "private_ip": "10.62.2.10"}]
  }]
}`

// capSeg is a captured IPv4 packet, as the capture checks read it: TCP
// (ports, SYN, sequence number, an HTTP GET in it) or an ICMP echo (the id
// in the ports' place).
type capSeg struct {
	src, dst netip.AddrPort
	icmp     bool // an echo request or reply; ports hold its id
	request  bool // ICMP: echo request
	syn      bool // TCP: SYN without ACK
	seq      uint32
	get      bool // TCP: carries "GET / HTTP/1.1"
}

func (s capSeg) String() string {
	if s.icmp {
		return fmt.Sprintf("icmp %v > %v", s.src, s.dst)
	}
	return fmt.Sprintf("tcp %v > %v syn=%v seq=%d", s.src, s.dst, s.syn, s.seq)
}

// capSegs decodes a capture's packets; anything but IPv4 TCP or an ICMP
// echo fails the test.
func capSegs(t *testing.T, pkts []gopacket.Packet) []capSeg {
	t.Helper()
	var out []capSeg
	for _, p := range pkts {
		ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		if ip == nil {
			t.Fatalf("not IPv4: %v", p)
		}
		src, _ := netip.AddrFromSlice(ip.SrcIP.To4())
		dst, _ := netip.AddrFromSlice(ip.DstIP.To4())
		switch l := p.TransportLayer().(type) {
		case *layers.TCP:
			out = append(out, capSeg{src: netip.AddrPortFrom(src, uint16(l.SrcPort)), dst: netip.AddrPortFrom(dst, uint16(l.DstPort)),
				syn: l.SYN && !l.ACK, seq: l.Seq, get: bytes.HasPrefix(l.Payload, []byte("GET / HTTP/1.1"))})
			continue
		}
		icmp, _ := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
		if icmp == nil || (icmp.TypeCode.Type() != layers.ICMPv4TypeEchoRequest && icmp.TypeCode.Type() != layers.ICMPv4TypeEchoReply) {
			t.Fatalf("neither TCP nor an ICMP echo: %v", p)
		}
		req := icmp.TypeCode.Type() == layers.ICMPv4TypeEchoRequest
		s := capSeg{icmp: true, request: req, src: netip.AddrPortFrom(src, icmp.Id), dst: netip.AddrPortFrom(dst, icmp.Id)}
		out = append(out, s)
	}
	return out
}

// TestCapture_InternetHostAndNATGatewaySides: while app fetches a page
// from and pings the internet host through the NAT gateway, three captures
// run: the internet host, the NAT gateway's frames that reach it (in) and
// those it sends on translated (out). Read back with gopacket (and the
// host's with tcpdump), each side has the addresses it has on AWS:
//   - inside (app's requests reaching the gateway, replies it sends to app):
//     app's private address and port, never the gateway's or the EIP;
//   - outside (requests it sends on, replies reaching it): the gateway's own
//     private address (10.62.1.5) and its port or ICMP id, never app's;
//   - the internet host: the gateway's EIP (the internet gateway maps
//     10.62.1.5 to it, IGW-2), never a private address.
//
// The TCP connection is the same one throughout: its SYN's sequence
// number is untouched by NAT (NAT-2), and the port the host sees is the
// one the gateway allocated (and the one `vpcnet serve` reports).
func TestCapture_InternetHostAndNATGatewaySides(t *testing.T) {
	tp := Up(t, natCaptureTopo)
	const appIP, natIP, eip, remoteIP = "10.62.2.10", "10.62.1.5", "3.34.7.20", "203.0.113.80"
	app, nat, pub, remote := netip.MustParseAddr(appIP), netip.MustParseAddr(natIP), netip.MustParseAddr(eip), netip.MustParseAddr(remoteIP)
	if _, err := tp.Curl(t, "app", "http://"+remoteIP+"/"); err != nil { // the server is up, the path works
		t.Fatal(err)
	}
	dir := t.TempDir()
	hostFile, inFile, outFile := filepath.Join(dir, "remote.pcapng"), filepath.Join(dir, "nat-in.pcapng"), filepath.Join(dir, "nat-out.pcapng")
	filter := []string{"--host", remoteIP, "--duration", "4s"}
	waits := []func() string{
		startCapture(t, tp, hostFile, append([]string{"remote"}, filter...)...),
		startCapture(t, tp, inFile, append([]string{"nat", "--direction", "in"}, filter...)...),
		startCapture(t, tp, outFile, append([]string{"nat", "--direction", "out"}, filter...)...),
	}
	w, err := tp.Curl(t, "app", "http://"+remoteIP+"/")
	if err != nil {
		t.Fatal(err)
	}
	if !tp.Ping(t, "app", remoteIP) {
		t.Fatal("app cannot ping the internet host through the NAT gateway")
	}
	for _, wait := range waits {
		wait()
	}
	seen, err := netip.ParseAddrPort(w.Client)
	if err != nil || seen.Addr() != pub {
		t.Fatalf("the internet host saw client %q, want the NAT gateway's EIP %s", w.Client, eip)
	}

	// Each capture's frames are requests (to remote) or replies (from it);
	// requests carry this side's source, replies this side's destination.
	type side struct{ reqs, reps []capSeg }
	read := func(file, iface string, reqFrom, repTo netip.Addr) side {
		t.Helper()
		pkts, names := readPcapng(t, file)
		if len(names) != 1 || names[0] != iface {
			t.Fatalf("%s: interfaces %v, want [%s]", file, names, iface)
		}
		var sd side
		for _, g := range capSegs(t, pkts) {
			switch {
			case g.dst.Addr() == remote && g.src.Addr() == reqFrom:
				sd.reqs = append(sd.reqs, g)
			case g.src.Addr() == remote && g.dst.Addr() == repTo:
				sd.reps = append(sd.reps, g)
			default:
				t.Errorf("%s: %v: want requests from %v to %v, replies from %v to %v", filepath.Base(file), g, reqFrom, remote, remote, repTo)
			}
		}
		if len(sd.reqs) == 0 || len(sd.reps) == 0 {
			t.Fatalf("%s: %d requests, %d replies", filepath.Base(file), len(sd.reqs), len(sd.reps))
		}
		return sd
	}
	host := read(hostFile, "remote", pub, pub) // the internet sees the EIP only
	in := read(inFile, "nat", app, nat)        // app's requests; replies to the gateway's own address
	out := read(outFile, "nat", nat, app)      // requests from the gateway's own address; replies to app

	// The connection the host served: its SYN, from the EIP and the port the
	// gateway allocated, is the SYN app sent and the gateway sent on.
	find := func(what string, segs []capSeg, ok func(capSeg) bool) capSeg {
		t.Helper()
		for _, g := range segs {
			if ok(g) {
				return g
			}
		}
		t.Fatalf("no %s in %v", what, segs)
		return capSeg{}
	}
	hostSYN := find("SYN from "+w.Client+" at the internet host", host.reqs, func(g capSeg) bool { return g.syn && g.src == seen })
	inSYN := find("SYN reaching the gateway", in.reqs, func(g capSeg) bool { return g.syn && g.seq == hostSYN.seq })
	outSYN := find("SYN the gateway sent on", out.reqs, func(g capSeg) bool { return g.syn && g.seq == hostSYN.seq })
	appPort := inSYN.src
	if outSYN.src != netip.AddrPortFrom(nat, seen.Port()) {
		t.Errorf("the gateway sent the SYN from %v, want %s:%d (the port the host saw on the EIP)", outSYN.src, natIP, seen.Port())
	}
	// The page went out both ways: the GET on each side, the answer back to
	// the gateway's port (outside) and to app's (inside).
	for _, c := range []struct {
		what string
		segs []capSeg
		from netip.AddrPort
	}{{"inside", in.reqs, appPort}, {"outside", out.reqs, outSYN.src}, {"internet host", host.reqs, seen}} {
		find("GET on the "+c.what+" from "+c.from.String(), c.segs, func(g capSeg) bool { return g.get && g.src == c.from })
	}
	find("reply to the gateway's port", in.reps, func(g capSeg) bool { return !g.icmp && g.dst == outSYN.src })
	find("reply to app's port", out.reps, func(g capSeg) bool { return !g.icmp && g.dst == appPort })
	find("reply to the EIP's port", host.reps, func(g capSeg) bool { return !g.icmp && g.dst == seen })

	// The ping: app's echo id inside, the gateway's own outside and at the
	// host; the reply goes back to each.
	inPing := find("echo request from app", in.reqs, func(g capSeg) bool { return g.icmp && g.request })
	outPing := find("echo request sent on", out.reqs, func(g capSeg) bool { return g.icmp && g.request })
	find("echo request at the host from the gateway's id", host.reqs, func(g capSeg) bool { return g.icmp && g.request && g.src.Port() == outPing.src.Port() })
	find("echo reply to the gateway's id", in.reps, func(g capSeg) bool { return g.icmp && !g.request && g.dst.Port() == outPing.src.Port() })
	find("echo reply to app's id", out.reps, func(g capSeg) bool { return g.icmp && !g.request && g.dst.Port() == inPing.src.Port() })

	// tcpdump reads the internet host's capture as gopacket does.
	lines := tcpdumpLines(t, hostFile)
	if len(lines) != len(host.reqs)+len(host.reps) || !strings.Contains(strings.Join(lines, "\n"), eip+"."+strconv.Itoa(int(seen.Port()))+" > "+remoteIP+".80: Flags [S]") {
		t.Errorf("tcpdump read %d lines, gopacket %d:\n%s", len(lines), len(host.reqs)+len(host.reps), strings.Join(lines, "\n"))
	}
}
