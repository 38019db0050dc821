package multihost

import (
	"context"
	"encoding/hex"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// TestLab_UnderlayCarriesEtcd checks the simulated machines themselves,
// without vpcnet: jumbo frames cross the underlay unfragmented, and a key
// put through h1's etcd member is read through h3's, with etcdctl run
// inside the machines' namespaces. When the other tests fail, this one
// says whether the lab or vpcnet is at fault.
func TestLab_UnderlayCarriesEtcd(t *testing.T) {
	l := newMachines(t)
	// 9072 bytes of ICMP payload + 28 = 9100, DF set: the MTU holds.
	for _, h := range hosts[1:] {
		if out, err := ipCmd("netns", "exec", l.NS("h1"), "ping", "-n", "-c1", "-W1", "-M", "do", "-s", "9072", l.IP(h)); err != nil {
			t.Fatalf("h1 → %s with 9100-byte packets, DF: %v\n%s", h, err, out)
		}
	}
	etcdctl := func(h string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cmd := l.onHost(ctx, h, []string{"ETCDCTL_API=3"}, append([]string{"etcdctl", "--endpoints", "http://" + l.IP(h) + ":2379"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("etcdctl %v on %s: %v\n%s", args, h, err, out)
		}
		return string(out)
	}
	etcdctl("h1", "put", "/mh/"+l.P, "hello")
	if out := etcdctl("h3", "get", "--print-value-only", "/mh/"+l.P); strings.TrimSpace(out) != "hello" {
		t.Fatalf("get through h3's member: %q, want hello", out)
	}
	if out := etcdctl("h2", "member", "list"); strings.Count(out, "started") != 3 {
		t.Fatalf("member list through h2: want 3 started members:\n%s", out)
	}
	if !strings.HasPrefix(l.Store, "etcd://"+l.IP("h1")+":2379,") {
		t.Fatalf("store URL %q", l.Store)
	}

	// The capture and its decoding, on Geneve datagrams made here and sent
	// from h1 to h2 (no kernel geneve device: CI kernels may lack one): VNI 5
	// carrying 10.5.0.1, VNI 7 carrying 10.7.0.1. This is what
	// Geneve_OnTheUnderlay asks of vpcnet's frames.
	send := func(src string) {
		vni := uint32(5)
		if strings.HasPrefix(src, "10.7.") {
			vni = 7
		}
		hexFrame := hex.EncodeToString(geneveDatagram(t, vni, src))
		cmd := l.onHost(context.Background(), "h1", nil, "python3", "-c",
			"import socket,sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(bytes.fromhex(sys.argv[1]), (sys.argv[2], 6081))",
			hexFrame, l.IP("h2"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("send a Geneve datagram: %v\n%s", err, out)
		}
	}
	out := l.capture(t, "h1", []string{"-n", "-c", "2", "udp", "port", "6081"}, func() { send("10.5.0.1"); send("10.7.0.1") })
	if !strings.Contains(out, "Geneve") || !strings.Contains(out, "vni 0x5") || !strings.Contains(out, "vni 0x7") {
		t.Fatalf("tcpdump of two Geneve datagrams (VNI 5, 7):\n%s", out)
	}
	pcap := filepath.Join(t.TempDir(), "ul0.pcap")
	l.capture(t, "h1", []string{"-n", "-c", "2", "-Z", "root", "-w", pcap, "udp", "port", "6081"}, func() { send("10.5.0.1"); send("10.7.0.1") })
	if v := geneveVNIs(t, pcap); len(v) != 2 || !v["10.5."][5] || !v["10.7."][7] || len(v["10.5."]) != 1 || len(v["10.7."]) != 1 {
		t.Fatalf("VNIs decoded by inner source: %v, want 10.5.: {5}, 10.7.: {7}", v)
	}
}

// geneveDatagram is a Geneve header (RFC 8926: version 0, no options,
// protocol 0x6558) with vni, carrying an Ethernet frame with an ICMP echo
// request from src.
func geneveDatagram(t *testing.T, vni uint32, src string) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: net.ParseIP(src), DstIP: net.ParseIP("10.0.0.99")}
	icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 1, Seq: 1}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, icmp, gopacket.Payload("multihost")); err != nil {
		t.Fatal(err)
	}
	hdr := []byte{0, 0, 0x65, 0x58, byte(vni >> 16), byte(vni >> 8), byte(vni), 0}
	return append(hdr, buf.Bytes()...)
}
