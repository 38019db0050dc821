package test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
)

// overloadTopo: fl floods fv; cl keeps a TCP connection to sv open beside
// the flood. sv echoes TCP on 7 and serves HTTP on 80.
const overloadTopo = `{
  "name": "NAME", "region": "us-east-1",
  "vpcs": [{
    "name": "v", "cidr": "10.9.0.0/16",
    "subnets": [{"name": "a", "cidr": "10.9.1.0/24", "az": "us-east-1a"}, {"name": "b", "cidr": "10.9.2.0/24", "az": "us-east-1a"}],
    "security_groups": [{"name": "open", "ingress": [{"protocol": "all", "source": "10.9.0.0/16"}]}],
    "instances": [
      {"name": "fl", "subnet": "a", "private_ip": "10.9.1.10", "security_groups": ["open"]},
      {"name": "fv", "subnet": "b", "private_ip": "10.9.2.10", "security_groups": ["open"]},
      {"name": "cl", "subnet": "a", "private_ip": "10.9.1.20", "security_groups": ["open"]},
      {"name": "sv", "subnet": "b", "private_ip": "10.9.2.20", "security_groups": ["open"], "user_data": "vpcnet serve --tcp :7 --http :80"}
    ]
  }]
}`

// The test binary doubles as the flooder and the echo client, run inside
// an instance with `ip netns exec`, so that the test process itself never
// enters an instance's namespace (a thread left there would make `down`
// end the test process with the instance's). init runs them before
// TestMain when the variable is set; they print one number and exit.
const (
	floodEnv = "VPCNET_TEST_FLOOD" // ADDR:PORT: UDP as fast as possible for overloadFor; prints datagrams sent
	echoEnv  = "VPCNET_TEST_ECHO"  // ADDR:PORT: TCP echo exchanges every 50 ms for overloadFor; prints exchanges
)

const overloadFor = 5 * time.Second

func init() {
	if addr := os.Getenv(floodEnv); addr != "" {
		os.Exit(floodUDP(addr))
	}
	if addr := os.Getenv(echoEnv); addr != "" {
		os.Exit(echoLoop(addr))
	}
}

func floodUDP(addr string) int {
	c, err := net.Dial("udp4", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var sent atomic.Uint64
	var wg sync.WaitGroup
	end := time.Now().Add(overloadFor)
	for range 2 {
		wg.Go(func() {
			payload := make([]byte, 18)
			for time.Now().Before(end) {
				for range 256 {
					if _, err := c.Write(payload); err == nil {
						sent.Add(1)
					}
				}
			}
		})
	}
	wg.Wait()
	fmt.Println(sent.Load())
	return 0
}

// echoLoop connects (retrying while the server starts), then exchanges a
// line every 50 ms for overloadFor, each within 10 s.
func echoLoop(addr string) int {
	var c net.Conn
	var err error
	for i := 0; i < 50; i++ {
		if c, err = net.DialTimeout("tcp4", addr, time.Second); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer c.Close()
	r := bufio.NewReader(c)
	n := 0
	for end := time.Now().Add(overloadFor); time.Now().Before(end); n++ {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		msg := fmt.Sprintf("request %d\n", n)
		if _, err := c.Write([]byte(msg)); err != nil {
			fmt.Fprintf(os.Stderr, "exchange %d: %v\n", n, err)
			return 1
		}
		if got, err := r.ReadString('\n'); err != nil || got != msg {
			fmt.Fprintf(os.Stderr, "exchange %d: %q, %v\n", n, got, err)
			return 1
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Println(n)
	return 0
}

// helper starts this test binary in instance name with env set.
func (tp *Topo) helper(t *testing.T, name, env string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", tp.Name+"-"+name, self)
	cmd.Env = append(os.Environ(), env)
	return cmd
}

// count runs cmd and returns the number it printed.
func count(t *testing.T, what string, cmd *exec.Cmd, done chan<- uint64) {
	out, err := cmd.Output()
	var n uint64
	if err == nil {
		_, err = fmt.Sscan(string(out), &n)
	}
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Errorf("%s: %v %s", what, err, msg)
	}
	done <- n
}

// tapDropped reads the kernel's tx_dropped of eth0 in instance name: the
// frames it could not queue toward the forwarder.
func (tp *Topo) tapDropped(t *testing.T, name string) uint64 {
	t.Helper()
	ns, err := vnetns.GetFromName(tp.Name + "-" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	l, err := h.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	return l.Attrs().Statistics.TxDropped
}

// Issue 10, drops at the ports: for 5 s an instance sends UDP at its
// neighbour as fast as its kernel can, faster than the forwarder reads.
// What its kernel drops at the full TAP queue shows in `vpcnet stats
// --json` for its ENI as port-queue-full, the same number as the device's
// own counter, and every frame sent is either forwarded or counted there.
// Meanwhile a TCP connection between two other instances keeps answering,
// and a new one opens (completion is asserted here; latency is measured in
// BENCHMARKS.md).
func TestOverloadPortDropsAreCountedAndNeighboursKeepWorking(t *testing.T) {
	tp := Up(t, overloadTopo)
	if _, err := tp.Curl(t, "cl", "http://10.9.2.20/"); err != nil { // sv is serving
		t.Fatal(err)
	}
	sent, exchanges := make(chan uint64, 1), make(chan uint64, 1)
	go count(t, "flood fl → fv", tp.helper(t, "fl", floodEnv+"=10.9.2.10:9"), sent)
	go count(t, "echo cl → sv beside the flood", tp.helper(t, "cl", echoEnv+"=10.9.2.20:7"), exchanges)
	nSent, nEx := <-sent, <-exchanges
	if t.Failed() {
		t.FailNow()
	}
	if _, err := tp.Curl(t, "cl", "http://10.9.2.20/"); err != nil {
		t.Fatalf("a new connection right after the flood: %v", err)
	}
	time.Sleep(200 * time.Millisecond) // the forwarder reads what is still queued

	var rx, queueFull uint64
	found := false
	for _, e := range tp.Stats(t).Endpoints {
		if e.Name == "fl" {
			found = true
			rx, queueFull = e.RxFrames, e.Drops["port-queue-full"]
		}
	}
	if !found {
		t.Fatal("no endpoint fl in stats")
	}
	kernel := tp.tapDropped(t, "fl")
	t.Logf("sent %d datagrams; fl: %d frames forwarded, %d port-queue-full (kernel: %d); %d exchanges beside the flood",
		nSent, rx, queueFull, kernel, nEx)
	if nEx < 10 {
		t.Fatalf("%d echo exchanges in %v beside the flood", nEx, overloadFor)
	}
	if queueFull == 0 {
		t.Fatal("the flood filled no queue: no port-queue-full at fl (is the flood too slow?)")
	}
	if queueFull != kernel {
		t.Fatalf("stats says %d port-queue-full at fl, the device's tx_dropped is %d", queueFull, kernel)
	}
	if rx+queueFull < nSent {
		t.Fatalf("%d sent, but only %d forwarded + %d dropped at the port", nSent, rx, queueFull)
	}
}
