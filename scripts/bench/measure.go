package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// side is who forwards: the kernel anchor or vpcnet.
type side string

const (
	sideKernel side = "kernel"
	sideVpcnet side = "vpcnet"
)

// path is one measured path: traffic goes from a client namespace to a
// server namespace, which the client reaches at addr.
type path struct {
	side           side
	client, server string
	addr           string
	// counterNS are the namespaces whose checksum-error counters are read
	// around the runs: both ends of the path.
	counterNS []string
	// pin is the CPU list the client runs on (`taskset -c`); nil: nothing
	// pinned, the scheduler's placement.
	pin []int
}

// figure is one number of the report.
type figure struct {
	key    string
	label  string
	unit   string
	format string // fmt verb for one value
	// lowerIsBetter: latency and error counts.
	lowerIsBetter bool
	// noRatio: a count for explaining other figures (retransmits), whose
	// ratio means nothing.
	noRatio bool
}

// test is one measurement: run once per side, placement and run, it
// yields one value per figure.
type test struct {
	name string
	// label names the test where its figures do not (the CPU cost
	// table); "" is its first figure's label.
	label   string
	nat     bool // measured on the NAT paths
	figures []figure
	run     func(ctx context.Context, p path, secs int) (flow, error)
	// placements are where iperf3's ends run, each measured (place.go);
	// nil is the scheduler's only.
	placements []placement
	// iperf: the test's server is the iperf3 server, pinned with its
	// client in a pinned placement.
	iperf bool
	// command is the client's command line and note how its output is
	// read, both for the report.
	command, note string
}

// flow is what one run of a test gave.
type flow struct {
	vals []float64 // one per figure of the test
	bits float64   // bits the receiver got; 0 for the tests that move none to speak of
}

func tests(exe string) []test {
	return []test{
		tcpTest{name: "tcp1", label: "TCP, 1 stream", streams: 1, retransmits: true, placements: allPlacements}.test(),
		tcpTest{name: "tcp4", label: "TCP, 4 streams", streams: 4}.test(),
		{
			name:       "udp64",
			figures:    []figure{{key: "udp64", label: "UDP 64-byte, received", unit: "kpps", format: "%.0f"}},
			run:        iperfUDP64,
			placements: allPlacements,
			iperf:      true,
			command:    "iperf3 -c ADDR -t S -u -l 64 -b 0 -J",
			note:       "(packets - lost_packets) / seconds of end.sum_received: what the receiver got",
		},
		{
			name:  "ping",
			label: "ping, 100 echo requests a second",
			figures: []figure{
				{key: "ping-p50", label: "ping RTT p50", unit: "µs", format: "%.0f", lowerIsBetter: true},
				{key: "ping-p99", label: "ping RTT p99", unit: "µs", format: "%.0f", lowerIsBetter: true},
			},
			run: func(ctx context.Context, p path, s int) (flow, error) {
				v, err := pingRTT(ctx, p, s)
				return flow{vals: v}, err
			},
			command: "ping -n -c 100*S -i 0.01 ADDR",
			note:    "percentiles over every reply's time=",
		},
		tcpTest{name: "nat-tcp1", label: "TCP through NAT, 1 stream", nat: true, streams: 1}.test(),
		tcpTest{name: "nat-tcp4", label: "TCP through NAT, 4 streams", nat: true, streams: 4}.test(),
		{
			name:    "nat-conn",
			nat:     true,
			figures: []figure{{key: "nat-conn", label: "new TCP connections through NAT", unit: "conn/s", format: "%.0f"}},
			run: func(ctx context.Context, p path, s int) (flow, error) {
				v, err := connRate(ctx, exe, p, s)
				return flow{vals: v}, err
			},
			command: "bench connect-loop -ports " + acceptPorts + " -workers 4 ADDR Ss",
			note: "each worker dials the next port, waits for the server's FIN and closes; the server (`bench serve-accept " +
				acceptPorts + "`) accepts and closes at once; connections that completed / seconds",
		},
	}
}

// tcpTest describes an iperf3 TCP test: its figure is the received Gbps,
// keyed by name; with retransmits, also the sender's retransmits per run
// (key name-retr), which explain the Gbps and have no ratio.
type tcpTest struct {
	name, label string
	nat         bool // measured on the NAT paths
	streams     int  // parallel streams (iperf3 -P)
	retransmits bool
	placements  []placement
}

func (t tcpTest) test() test {
	figures := []figure{{key: t.name, label: t.label, unit: "Gbps", format: "%.2f"}}
	command, note := "iperf3 -c ADDR -t S", "end.sum_received.bits_per_second"
	if t.retransmits {
		figures = append(figures, figure{key: t.name + "-retr", label: t.label + ", retransmits per run", unit: "segments",
			format: "%.0f", lowerIsBetter: true, noRatio: true})
		note += ", end.sum_sent.retransmits"
	}
	if t.streams > 1 {
		command += " -P " + strconv.Itoa(t.streams)
	}
	return test{
		name:    t.name,
		nat:     t.nat,
		figures: figures,
		run: func(ctx context.Context, p path, s int) (flow, error) {
			f, err := iperfTCP(ctx, p, s, t.streams)
			if err != nil {
				return f, err
			}
			f.vals = f.vals[:len(figures)]
			return f, nil
		},
		placements: t.placements,
		iperf:      true,
		command:    command + " -J",
		note:       note,
	}
}

// iperfResult is the part of `iperf3 -J` output the benchmark reads.
type iperfResult struct {
	Error string `json:"error"`
	End   struct {
		SumSent struct {
			BitsPerSecond float64 `json:"bits_per_second"`
			Retransmits   float64 `json:"retransmits"`
		} `json:"sum_sent"`
		// SumReceived (iperf3 ≥ 3.11) and Sum (older ones) hold the
		// receiver's count of a UDP test.
		SumReceived struct {
			BitsPerSecond float64 `json:"bits_per_second"`
			Bytes         float64 `json:"bytes"`
			udpSum
		} `json:"sum_received"`
		Sum udpSum `json:"sum"`
	} `json:"end"`
}

// udpSum is the receiver's count of a UDP test: packets is the highest
// sequence number seen, lost_packets the gaps, so the difference is what
// arrived.
type udpSum struct {
	Seconds     float64 `json:"seconds"`
	Packets     float64 `json:"packets"`
	LostPackets float64 `json:"lost_packets"`
}

// iperf runs an iperf3 client in p.client against the server in p.server,
// pinned to p.pin when it is set. A server still busy with the previous
// test is retried once.
func iperf(ctx context.Context, p path, secs int, extra ...string) (*iperfResult, error) {
	args := tasksetArgs(p.pin, append([]string{"iperf3", "-c", p.addr, "-p", strconv.Itoa(iperfPort), "-t", strconv.Itoa(secs),
		"-J", "--connect-timeout", "3000"}, extra...))
	var lastErr error
	for attempt := 0; attempt < 2; attempt++ {
		if attempt > 0 {
			select {
			case <-time.After(2 * time.Second):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		tctx, cancel := context.WithTimeout(ctx, time.Duration(secs+30)*time.Second)
		out, err := inNS(tctx, p.client, args...)
		cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var r iperfResult
		if jerr := json.Unmarshal([]byte(out), &r); jerr != nil {
			if err == nil {
				err = fmt.Errorf("iperf3 output is not JSON: %w", jerr)
			}
			lastErr = err
			continue
		}
		if r.Error != "" {
			lastErr = fmt.Errorf("iperf3 %s → %s (%s): %s", p.client, p.addr, p.side, r.Error)
			continue
		}
		if err != nil {
			lastErr = err
			continue
		}
		return &r, nil
	}
	return nil, lastErr
}

// iperfTCP returns the received Gbps and the sender's retransmits, and
// the bits the receiver got.
func iperfTCP(ctx context.Context, p path, secs, streams int) (flow, error) {
	var extra []string
	if streams > 1 {
		extra = []string{"-P", strconv.Itoa(streams)}
	}
	r, err := iperf(ctx, p, secs, extra...)
	if err != nil {
		return flow{}, err
	}
	return flow{vals: []float64{r.End.SumReceived.BitsPerSecond / 1e9, r.End.SumSent.Retransmits},
		bits: 8 * r.End.SumReceived.Bytes}, nil
}

// udpPayload is the UDP test's datagram payload (iperf3 -l).
const udpPayload = 64

// iperfUDP64 returns the receiver's packets per second, in thousands, and
// the payload bits it got.
func iperfUDP64(ctx context.Context, p path, secs int) (flow, error) {
	r, err := iperf(ctx, p, secs, "-u", "-l", strconv.Itoa(udpPayload), "-b", "0")
	if err != nil {
		return flow{}, err
	}
	s := r.End.SumReceived.udpSum
	if s.Packets == 0 {
		s = r.End.Sum
	}
	if s.Seconds <= 0 {
		return flow{}, errors.New("iperf3 UDP result has no end.sum.seconds")
	}
	got := s.Packets - s.LostPackets
	return flow{vals: []float64{got / s.Seconds / 1e3}, bits: 8 * udpPayload * got}, nil
}

var pingTime = regexp.MustCompile(`time=([0-9.]+) ms`)

// pingRTT sends 100 echo requests per second for secs seconds and returns
// the p50 and p99 of the replies' round-trip times in µs. Lost replies are
// reported, not counted.
func pingRTT(ctx context.Context, p path, secs int) ([]float64, error) {
	count := 100 * secs
	tctx, cancel := context.WithTimeout(ctx, time.Duration(secs+30)*time.Second)
	defer cancel()
	out, err := inNS(tctx, p.client, "ping", "-n", "-c", strconv.Itoa(count), "-i", "0.01", "-W", "1", p.addr)
	var rtts []float64
	for _, m := range pingTime.FindAllStringSubmatch(out, -1) {
		v, perr := strconv.ParseFloat(m[1], 64)
		if perr == nil {
			rtts = append(rtts, v*1e3)
		}
	}
	if len(rtts) == 0 {
		if err == nil {
			err = errors.New("no replies")
		}
		return nil, fmt.Errorf("ping %s → %s (%s): %w", p.client, p.addr, p.side, err)
	}
	if lost := count - len(rtts); lost > 0 {
		logf("  ping %s: %d of %d replies missing", p.side, lost, count)
	}
	sort.Float64s(rtts)
	return []float64{percentile(rtts, 50), percentile(rtts, 99)}, nil
}

// connResult is what `bench connect-loop` prints.
type connResult struct {
	Connections int64   `json:"connections"`
	Errors      int64   `json:"errors"`
	Seconds     float64 `json:"seconds"`
	FirstError  string  `json:"first_error,omitempty"`
}

// connRate runs the connection loop in p.client against the accept server
// in p.server and returns connections per second.
func connRate(ctx context.Context, exe string, p path, secs int) ([]float64, error) {
	tctx, cancel := context.WithTimeout(ctx, time.Duration(secs+30)*time.Second)
	defer cancel()
	out, err := inNS(tctx, p.client, exe, "connect-loop", "-ports", acceptPorts, "-workers", "4",
		p.addr, fmt.Sprintf("%ds", secs))
	if err != nil {
		return nil, err
	}
	var r connResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return nil, fmt.Errorf("connect-loop output %q: %w", out, err)
	}
	if r.Errors > 0 {
		logf("  connect-loop %s: %d failed connections (first: %s)", p.side, r.Errors, r.FirstError)
	}
	if r.Connections == 0 || r.Seconds <= 0 {
		return nil, fmt.Errorf("connect-loop %s → %s (%s): no connection succeeded (%s)", p.client, p.addr, p.side, r.FirstError)
	}
	return []float64{float64(r.Connections) / r.Seconds}, nil
}

// csumCounters are the receive checksum-error counters read with nstat.
var csumCounters = []string{"TcpInCsumErrors", "UdpInCsumErrors"}

// readCounters returns the absolute values of csumCounters inside ns,
// without touching nstat's history file.
func readCounters(ctx context.Context, ns string) (map[string]int64, error) {
	out, err := inNS(ctx, ns, append([]string{"nstat", "-asz"}, csumCounters...)...)
	if err != nil {
		return nil, err
	}
	m := map[string]int64{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && !strings.HasPrefix(f[0], "#") {
			if v, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				m[f[0]] = v
			}
		}
	}
	return m, nil
}

// reachable checks that the client reaches the server before anything is
// measured, so that a broken path fails with a clear message instead of an
// iperf3 timeout. The plain paths answer ping (it is measured on them); the
// NAT paths are probed with one TCP connection to the accept server.
func reachable(ctx context.Context, exe string, p path, tcp bool) error {
	args := []string{"ping", "-n", "-c", "3", "-i", "0.2", "-W", "1", p.addr}
	if tcp {
		args = []string{exe, "probe", net.JoinHostPort(p.addr, firstAcceptPort())}
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if _, err = inNS(ctx, p.client, args...); err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return fmt.Errorf("%s path %s → %s (%s) is not reachable: %w", p.side, p.client, p.server, p.addr, err)
}

// median of values (the mean of the middle two for an even count).
func median(values []float64) float64 {
	if len(values) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), values...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// percentile of sorted values, nearest rank.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}

// firstAcceptPort is the first port of acceptPorts.
func firstAcceptPort() string {
	first, _, _ := strings.Cut(acceptPorts, "-")
	return first
}
