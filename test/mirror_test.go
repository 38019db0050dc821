package test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
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

// mirrorNet: web serves HTTP; cli is its client; mon, the monitoring
// instance, lets VXLAN (UDP 4789) in from web only (TM-5).
const mirrorNet = `{
  "name": "NAME", "region": "us-east-1",
  "vpcs": [{
    "name": "v", "cidr": "10.6.0.0/16",
    "subnets": [
      {"name": "s1", "cidr": "10.6.1.0/24", "az": "us-east-1a"},
      {"name": "s2", "cidr": "10.6.2.0/24", "az": "us-east-1a"}
    ],
    "security_groups": [
      {"name": "open", "ingress": [{"protocol": "all", "source": "0.0.0.0/0"}]},
      {"name": "vxlan", "ingress": [{"protocol": "udp", "ports": "4789", "source": "10.6.1.10/32"}]}
    ],
    "instances": [
      {"name": "web", "subnet": "s1", "private_ip": "10.6.1.10", "security_groups": ["open"], "user_data": "vpcnet serve --http :80"},
      {"name": "cli", "subnet": "s2", "private_ip": "10.6.2.10", "security_groups": ["open"]},
      {"name": "mon", "subnet": "s2", "private_ip": "10.6.2.20", "security_groups": ["vxlan"]}
    ]
  }]
}`

// mirrored runs `tcpdump -i eth0 -c n -w file udp port 4789` in mon for at
// most wait while act runs, then decodes the file with gopacket: the VXLAN
// packets' VNIs and inner frames.
func (tp *Topo) mirrored(t *testing.T, n int, wait time.Duration, act func()) (vnis []uint32, inner [][]byte) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "mirror.pcap")
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", tp.Name+"-mon",
		"tcpdump", "-i", "eth0", "-n", "-U", "-c", strconv.Itoa(n), "-w", file, "udp", "port", "4789")
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) } // tcpdump closes its file
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") && !once {
				once = true
				close(ready)
			}
		}
		if !once {
			close(ready)
		}
	}()
	<-ready
	act()
	err := cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) && ctx.Err() == nil {
		t.Fatalf("tcpdump: %v", err)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return nil, nil // no packet header written: nothing captured
	}
	for {
		data, _, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			break // the last packet cut short when tcpdump was stopped
		}
		p := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		vx, _ := p.Layer(layers.LayerTypeVXLAN).(*layers.VXLAN)
		ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		if vx == nil || ip == nil {
			t.Fatalf("not VXLAN: %v", p)
		}
		if ip.SrcIP.String() != "10.6.1.10" || ip.DstIP.String() != "10.6.2.20" {
			t.Errorf("outer IPv4 %v → %v, want web → mon (TM-4)", ip.SrcIP, ip.DstIP)
		}
		vnis = append(vnis, vx.VNI)
		inner = append(inner, vx.Payload)
	}
	return vnis, inner
}

// httpFrames counts the inner frames that carry web's HTTP: the request
// to port 80 (ingress at web) and the answer from it (egress).
func httpFrames(t *testing.T, inner [][]byte) (requests, answers int) {
	for _, b := range inner {
		p := gopacket.NewPacket(b, layers.LayerTypeEthernet, gopacket.Default)
		tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tcp == nil {
			continue
		}
		switch {
		case tcp.DstPort == 80 && bytes.HasPrefix(tcp.Payload, []byte("GET /")):
			requests++
		case tcp.SrcPort == 80 && bytes.HasPrefix(tcp.Payload, []byte("HTTP/1.1 200")):
			answers++
		}
	}
	return
}

// TM-1..TM-5 end to end: a session on web's ENI sends web's traffic, both
// directions, to mon as VXLAN, where tcpdump sees it; a reject rule takes
// HTTP out; a deleted session sends nothing.
func TestTM_MirrorSeenByTcpdump(t *testing.T) {
	tp := Up(t, mirrorNet)
	if _, err := tp.Curl(t, "cli", "http://10.6.1.10/"); err != nil { // web is up
		t.Fatal(err)
	}
	var tg struct {
		TrafficMirrorTarget struct{ TrafficMirrorTargetId string }
	}
	tp.ec2OK(t, &tg, "create-traffic-mirror-target", "--network-interface-id", "mon")
	var fl struct {
		TrafficMirrorFilter struct{ TrafficMirrorFilterId string }
	}
	tp.ec2OK(t, &fl, "create-traffic-mirror-filter", "--description", "web")
	filter := fl.TrafficMirrorFilter.TrafficMirrorFilterId
	// TCP only: mon's kernel answers each copy with an ICMP port
	// unreachable (nothing listens on 4789), which web receives.
	for _, dir := range []string{"ingress", "egress"} {
		tp.ec2OK(t, nil, "create-traffic-mirror-filter-rule", "--traffic-mirror-filter-id", filter, "--traffic-direction", dir,
			"--rule-number", "100", "--rule-action", "accept", "--protocol", "6", "--source-cidr-block", "0.0.0.0/0", "--destination-cidr-block", "0.0.0.0/0")
	}
	var ss struct {
		TrafficMirrorSession struct {
			TrafficMirrorSessionId string
			VirtualNetworkId       uint32
		}
	}
	tp.ec2OK(t, &ss, "create-traffic-mirror-session", "--network-interface-id", "web", "--traffic-mirror-target-id",
		tg.TrafficMirrorTarget.TrafficMirrorTargetId, "--traffic-mirror-filter-id", filter, "--session-number", "1")

	// A curl is at least 8 frames at web: handshake, request, answer, close.
	vnis, inner := tp.mirrored(t, 50, 4*time.Second, func() {
		if _, err := tp.Curl(t, "cli", "http://10.6.1.10/"); err != nil {
			t.Error(err)
		}
	})
	req, ans := httpFrames(t, inner)
	if len(inner) < 8 || req != 1 || ans != 1 {
		t.Fatalf("tcpdump on mon saw %d mirrored frames, %d HTTP requests and %d answers; want ≥ 8, 1, 1", len(inner), req, ans)
	}
	for _, v := range vnis {
		if v != ss.TrafficMirrorSession.VirtualNetworkId {
			t.Fatalf("VNI %d, the session's is %d", v, ss.TrafficMirrorSession.VirtualNetworkId)
		}
	}

	// TM-2: reject rules numbered before the accept take web's HTTP out.
	var rules []string
	for _, r := range [][]string{{"ingress", "--destination-port-range", "FromPort=80,ToPort=80"}, {"egress", "--source-port-range", "FromPort=80,ToPort=80"}} {
		var out struct {
			TrafficMirrorFilterRule struct{ TrafficMirrorFilterRuleId string }
		}
		tp.ec2OK(t, &out, "create-traffic-mirror-filter-rule", "--traffic-mirror-filter-id", filter, "--traffic-direction", r[0],
			"--rule-number", "10", "--rule-action", "reject", "--protocol", "6", r[1], r[2],
			"--source-cidr-block", "0.0.0.0/0", "--destination-cidr-block", "0.0.0.0/0")
		rules = append(rules, out.TrafficMirrorFilterRule.TrafficMirrorFilterRuleId)
	}
	_, inner = tp.mirrored(t, 50, 3*time.Second, func() {
		if _, err := tp.Curl(t, "cli", "http://10.6.1.10/"); err != nil {
			t.Error(err)
		}
	})
	if req, ans := httpFrames(t, inner); len(inner) != 0 {
		t.Fatalf("rejected traffic was mirrored: %d frames, %d HTTP requests, %d answers", len(inner), req, ans)
	}

	// Deleted, the session sends nothing, with the filter accepting all again.
	for _, id := range rules {
		tp.ec2OK(t, nil, "delete-traffic-mirror-filter-rule", "--traffic-mirror-filter-rule-id", id)
	}
	tp.ec2OK(t, nil, "delete-traffic-mirror-session", "--traffic-mirror-session-id", ss.TrafficMirrorSession.TrafficMirrorSessionId)
	_, inner = tp.mirrored(t, 50, 3*time.Second, func() {
		if _, err := tp.Curl(t, "cli", "http://10.6.1.10/"); err != nil {
			t.Error(err)
		}
	})
	if len(inner) != 0 {
		t.Fatalf("a deleted session still mirrored %d frames", len(inner))
	}
}
