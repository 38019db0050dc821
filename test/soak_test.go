package test

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// soakTopo: attacker a, server b and client c in one subnet; b serves HTTP
// on 80, TCP echo on 7 and UDP echo on 53. The group lets the subnet in on
// those ports only, so every flow is tracked (no SG-9 untracked flows).
const soakTopo = `{
  "name": "NAME", "region": "us-east-1",
  "settings": {"conntrack_max": 3000},
  "vpcs": [{
    "name": "v", "cidr": "10.77.0.0/16",
    "subnets": [{"name": "s", "cidr": "10.77.1.0/24", "az": "us-east-1a"}],
    "security_groups": [{"name": "g", "ingress": [
      {"protocol": "tcp", "ports": "80", "source": "10.77.0.0/16"},
      {"protocol": "tcp", "ports": "5201", "source": "10.77.0.0/16"},
      {"protocol": "udp", "ports": "53", "source": "10.77.0.0/16"},
      {"protocol": "icmp", "source": "10.77.0.0/16"}]}],
    "instances": [
      {"name": "a", "subnet": "s", "private_ip": "10.77.1.10", "security_groups": ["g"]},
      {"name": "b", "subnet": "s", "private_ip": "10.77.1.20", "security_groups": ["g"],
       "user_data": "vpcnet serve --http :80 --udp :53 & iperf3 -s -p 5201"},
      {"name": "c", "subnet": "s", "private_ip": "10.77.1.30", "security_groups": ["g"]}
    ]
  }]
}`

// TestSoak_FloodsDoNotStarveNeighbours is issue 10's soak: instance a
// floods b with SYNs whose answers it never completes (it drops its own
// RSTs), UDP from thousands of source ports and fragmented datagrams, while
// c keeps one TCP connection open and opens new ones. The table never fills
// for c (SG-10), the forwarder's memory stays bounded, a's excess is counted
// as drops with reasons, and `down` leaves nothing. Bounded: about 40 s.
func TestSoak_FloodsDoNotStarveNeighbours(t *testing.T) {
	RequireRoot(t)
	if _, err := exec.LookPath("hping3"); err != nil {
		t.Skip("hping3 not installed (scripts/deps.sh installs it)")
	}
	tp := Up(t, soakTopo)
	if _, err := tp.Curl(t, "c", "http://10.77.1.20/"); err != nil {
		t.Fatal(err)
	}
	// a drops the RSTs its kernel sends for SYN-ACKs it did not ask for,
	// so that each SYN leaves a half-open flow (the attack).
	tp.MustExec(t, "a", "nft", "add table inet soak; add chain inet soak out { type filter hook output priority 0; }; add rule inet soak out tcp flags rst drop")

	// c's long-lived connection: iperf3 at 2 Mbit/s for the whole soak.
	const soak = 25 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), soak+30*time.Second)
	defer cancel()
	iperf := exec.CommandContext(ctx, "ip", "netns", "exec", tp.Name+"-c", "iperf3", "-c", "10.77.1.20", "-p", "5201",
		"-t", strconv.Itoa(int(soak/time.Second)), "-b", "2M", "-J")
	var iperfOut strings.Builder
	iperf.Stdout = &iperfOut
	for i := 0; ; i++ { // the server may still be starting
		if out, err := tp.Exec(t, "c", "iperf3", "-c", "10.77.1.20", "-p", "5201", "-t", "1", "-b", "1M"); err == nil {
			break
		} else if i == 20 {
			t.Fatalf("iperf3 server not reachable: %v\n%s", err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := iperf.Start(); err != nil {
		t.Fatal(err)
	}

	// The floods, each for the soak's length, from a.
	secs := strconv.Itoa(int(soak / time.Second))
	floods := []string{
		"timeout " + secs + " hping3 -q -S -p 80 -i u500 10.77.1.20",             // 2000 SYN/s, a new source port each
		"timeout " + secs + " hping3 -q --udp -p 53 -i u1000 10.77.1.20",         // 1000 UDP flows/s
		"timeout " + secs + " hping3 -q --udp -p 53 -d 3000 -i u5000 10.77.1.20", // fragmented datagrams
	}
	var procs []*exec.Cmd
	for _, f := range floods {
		p := exec.CommandContext(ctx, "ip", "netns", "exec", tp.Name+"-a", "sh", "-c", f)
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	daemonPID := daemonPIDOf(t, tp.Name)
	rssStart := rssKB(t, daemonPID)

	// c opens new connections throughout: every one must succeed.
	deadline := time.Now().Add(soak - 2*time.Second)
	var fresh, maxFlows, maxRSS int
	for time.Now().Before(deadline) {
		if _, err := tp.Curl(t, "c", "http://10.77.1.20/"); err != nil {
			t.Errorf("c's new connection %d failed during the flood: %v", fresh+1, err)
		}
		fresh++
		s := tp.Stats(t)
		maxFlows = max(maxFlows, s.Conntrack.Flows)
		maxRSS = max(maxRSS, rssKB(t, daemonPID))
		time.Sleep(500 * time.Millisecond)
	}
	for _, p := range procs {
		p.Wait()
	}
	if err := iperf.Wait(); err != nil {
		t.Errorf("c's long-lived connection failed during the flood: %v\n%.2000s", err, iperfOut.String())
	} else {
		var res struct {
			End struct {
				SumReceived struct{ Bytes float64 } `json:"sum_received"`
			} `json:"end"`
		}
		json.Unmarshal([]byte(iperfOut.String()), &res)
		if res.End.SumReceived.Bytes < 1e6 {
			t.Errorf("c's long-lived connection moved %v bytes in %s", res.End.SumReceived.Bytes, soak)
		}
	}

	s := tp.Stats(t)
	var aDrops uint64
	var reasons []string
	for _, e := range s.Endpoints {
		for r, n := range e.Drops {
			if e.Name == "a" {
				aDrops += n
			}
			reasons = append(reasons, fmt.Sprintf("%s %s=%d", e.Name, r, n))
			if e.Name == "c" && strings.HasPrefix(r, "conntrack") {
				t.Errorf("c's flows were refused by the table: %s=%d", r, n)
			}
		}
	}
	t.Logf("soak: %d new connections from c, flows at most %d of %d, forwarder RSS %d → %d kB (max), drops: %s",
		fresh, maxFlows, s.Conntrack.Max, rssStart, maxRSS, strings.Join(reasons, ", "))
	if fresh < 10 {
		t.Errorf("only %d new connections tried", fresh)
	}
	if maxRSS > 300*1024 {
		t.Errorf("forwarder RSS grew to %d kB", maxRSS)
	}
	if maxFlows > s.Conntrack.Max {
		t.Errorf("table held %d flows, more than its %d", maxFlows, s.Conntrack.Max)
	}
}
