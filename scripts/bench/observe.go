package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Observability cost (issue 14, its "Measured" part), on the bench
// topology's plain path c1 → s1 (the TCP 1-stream and UDP 64-B figures'
// path), in one run and interleaved, -runs times each:
//
//  1. TCP 1 stream and UDP 64 B with `vpcnet capture c1 -w /dev/null`
//     running (c1 is the sender; an instance's name captures its primary
//     ENI) against no capture. The capture is started before the flow and
//     ends after it: it is given --duration, because only a capture that
//     the daemon ends reports the frames it could not keep ("M frames not
//     captured"); one stopped by a signal never hears the count. It is
//     killed by PID should it outlive its duration.
//  2. TCP 1 stream while a goroutine of the benchmark GETs the topology's
//     /metrics (settings.metrics, benchMetricsAddr) every second and reads
//     each answer fully, against no scrape.

const (
	// observeEndpoint is what is captured: c1, the sender of both flows.
	observeEndpoint = "c1"
	// observeSettle is how long a capture runs before its flow starts, so
	// that the daemon has it in place when the first frame passes.
	observeSettle = time.Second
	// observeTail is how long a capture outlives the flow at least: the
	// capture's --duration is settle + the flow's seconds + tail.
	observeTail = 2 * time.Second
	// scrapeEvery is the scrape interval (Prometheus's usual 15 s is
	// gentler; 1 s is the issue's).
	scrapeEvery = time.Second
)

// observeResult is what the observability measurement found. Each slice
// holds one value per run.
type observeResult struct {
	seconds    int
	metricsURL string

	tcpOff, tcpOn       []float64 // Gbps, capture off / on
	udpOff, udpOn       []float64 // kpps received, capture off / on
	tcpCap, udpCap      []captureCount
	scrapeOff, scrapeOn []float64 // Gbps, /metrics not scraped / scraped

	scrapes     []int     // scrapes during each scraped flow
	scrapeMs    []float64 // every scrape's time to the answer's last byte
	scrapeBytes int64     // size of the last answer (decompressed)
	scrapeErrs  int
	scrapeErr   string // the first error
}

// captureCount is what `vpcnet capture` printed at its end.
type captureCount struct {
	captured, lost uint64
}

// captureEndLine is the capture CLI's last line on stderr:
// "N frames captured" or "N frames captured, M frames not captured (…)".
var captureEndLine = regexp.MustCompile(`(?m)^(\d+) frames captured(?:, (\d+) frames not captured)?`)

// parseCaptureEnd reads the counts from the capture CLI's stderr; the last
// such line counts.
func parseCaptureEnd(stderr string) (captureCount, bool) {
	ms := captureEndLine.FindAllStringSubmatch(stderr, -1)
	if len(ms) == 0 {
		return captureCount{}, false
	}
	m := ms[len(ms)-1]
	var c captureCount
	var err error
	if c.captured, err = strconv.ParseUint(m[1], 10, 64); err != nil {
		return captureCount{}, false
	}
	if m[2] != "" {
		if c.lost, err = strconv.ParseUint(m[2], 10, 64); err != nil {
			return captureCount{}, false
		}
	}
	return c, true
}

var (
	metricsAddrOnce sync.Once
	metricsAddr     string
)

// benchMetricsAddr is the bench topology's settings.metrics: a loopback
// port that was free when first asked, the same for the whole run.
func benchMetricsAddr() string {
	metricsAddrOnce.Do(func() {
		metricsAddr = "127.0.0.1:9464"
		if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
			metricsAddr = ln.Addr().String()
			ln.Close()
		}
	})
	return metricsAddr
}

// observeCommands are the commands of the measurement, for the report.
func observeCommands(secs int, metricsURL string) []string {
	plain, _ := benchPaths()
	d := time.Duration(secs)*time.Second + observeSettle + observeTail
	return []string{
		"sudo scripts/bench.sh observe      # or: sudo make bench BENCH=observe",
		fmt.Sprintf("ip netns exec %s iperf3 -c %s -t %d -J                   # TCP 1 stream", plain.client, plain.addr, secs),
		fmt.Sprintf("ip netns exec %s iperf3 -c %s -t %d -u -l 64 -b 0 -J     # UDP 64 B", plain.client, plain.addr, secs),
		fmt.Sprintf("bin/vpcnet capture --topology %s %s -w /dev/null --duration %s   # capture on: from %s before the flow to %s after it",
			benchTopology, observeEndpoint, d, observeSettle, observeTail),
		fmt.Sprintf("GET %s every %s during the flow, body read fully (net/http, gzip as Prometheus asks)", metricsURL, scrapeEvery),
	}
}

// observeBench measures the observability cost runs times. ready says that
// the bench topology is up with the iperf3 server in s1; otherwise it is
// brought up here and taken down by the caller's cleanups.
func observeBench(ctx context.Context, c *cleanups, v *vpcnet, exe string, runs, secs int, ready bool) (*observeResult, error) {
	plain, _ := benchPaths()
	if !ready {
		if err := upPlainPath(ctx, c, v, exe); err != nil {
			return nil, err
		}
	}
	res := &observeResult{seconds: secs, metricsURL: "http://" + benchMetricsAddr() + "/metrics"}
	// One scrape before the runs: the endpoint answers.
	sc := &scraper{url: res.metricsURL, client: &http.Client{Timeout: 5 * time.Second}}
	if err := sc.once(ctx); err != nil {
		return nil, fmt.Errorf("metrics endpoint of %s: %w", benchTopology, err)
	}
	sc.reset()

	step := func(what string, r int, f func() error) error {
		if err := pause(ctx, 500*time.Millisecond); err != nil {
			return err
		}
		if err := f(); err != nil {
			return fmt.Errorf("%s, run %d: %w", what, r, err)
		}
		return nil
	}
	tcp := func() (float64, float64, error) {
		v, err := iperfTCP(ctx, plain, secs, 1)
		if err != nil {
			return 0, 0, err
		}
		return v.vals[0], v.vals[1], nil
	}
	udp := func() (float64, error) {
		v, err := iperfUDP64(ctx, plain, secs)
		if err != nil {
			return 0, err
		}
		return v.vals[0], nil
	}
	for r := 1; r <= runs; r++ {
		tag := fmt.Sprintf("run %d/%d", r, runs)
		// 1. TCP, capture off then on.
		if err := step("TCP, capture off", r, func() error {
			g, retr, err := tcp()
			res.tcpOff = append(res.tcpOff, g)
			logf("observe  %s TCP  capture off  %.2f Gbps, %.0f retransmits", tag, g, retr)
			return err
		}); err != nil {
			return nil, err
		}
		if err := step("TCP, capture on", r, func() error {
			var g, retr float64
			cc, err := withCapture(ctx, v, secs, func() (err error) {
				g, retr, err = tcp()
				return err
			})
			if err != nil {
				return err
			}
			res.tcpOn = append(res.tcpOn, g)
			res.tcpCap = append(res.tcpCap, cc)
			logf("observe  %s TCP  capture on   %.2f Gbps, %.0f retransmits; %d frames captured, %d not", tag, g, retr, cc.captured, cc.lost)
			return nil
		}); err != nil {
			return nil, err
		}
		// UDP 64 B, capture off then on.
		if err := step("UDP 64 B, capture off", r, func() error {
			k, err := udp()
			res.udpOff = append(res.udpOff, k)
			logf("observe  %s UDP  capture off  %.0f kpps", tag, k)
			return err
		}); err != nil {
			return nil, err
		}
		if err := step("UDP 64 B, capture on", r, func() error {
			var k float64
			cc, err := withCapture(ctx, v, secs, func() (err error) {
				k, err = udp()
				return err
			})
			if err != nil {
				return err
			}
			res.udpOn = append(res.udpOn, k)
			res.udpCap = append(res.udpCap, cc)
			logf("observe  %s UDP  capture on   %.0f kpps; %d frames captured, %d not", tag, k, cc.captured, cc.lost)
			return nil
		}); err != nil {
			return nil, err
		}
		// 2. TCP, /metrics not scraped then scraped every second.
		if err := step("TCP, not scraped", r, func() error {
			g, retr, err := tcp()
			res.scrapeOff = append(res.scrapeOff, g)
			logf("observe  %s TCP  not scraped  %.2f Gbps, %.0f retransmits", tag, g, retr)
			return err
		}); err != nil {
			return nil, err
		}
		if err := step("TCP, scraped", r, func() error {
			stop := sc.start(ctx)
			g, retr, err := tcp()
			n := stop()
			if err != nil {
				return err
			}
			res.scrapeOn = append(res.scrapeOn, g)
			res.scrapes = append(res.scrapes, n)
			logf("observe  %s TCP  scraped      %.2f Gbps, %.0f retransmits; %d scrapes", tag, g, retr, n)
			return nil
		}); err != nil {
			return nil, err
		}
	}
	res.scrapeMs, res.scrapeBytes, res.scrapeErrs, res.scrapeErr = sc.ms, sc.bytes, sc.errs, sc.firstErr
	if res.scrapeErrs > 0 {
		logf("observe  %d scrapes failed (first: %s)", res.scrapeErrs, res.scrapeErr)
	}
	return res, nil
}

// withCapture runs flow while `vpcnet capture` of observeEndpoint writes to
// /dev/null, and returns what the capture printed at its end.
func withCapture(ctx context.Context, v *vpcnet, secs int, flow func() error) (captureCount, error) {
	d := time.Duration(secs)*time.Second + observeSettle + observeTail
	cmd := exec.Command(v.bin, "capture", "--topology", benchTopology, observeEndpoint, "-w", os.DevNull,
		"--duration", d.String())
	cmd.SysProcAttr = childAttr()
	var errb bytes.Buffer
	cmd.Stderr = &errb // stdout stays /dev/null
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return captureCount{}, fmt.Errorf("start vpcnet capture: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stop := func() { // by PID, should it outlive its duration
		cmd.Process.Kill()
		<-done
	}
	select {
	case err := <-done:
		return captureCount{}, fmt.Errorf("vpcnet capture exited before the flow: %v: %s", err, strings.TrimSpace(errb.String()))
	case <-ctx.Done():
		stop()
		return captureCount{}, ctx.Err()
	case <-time.After(observeSettle):
	}
	ferr := flow()
	if el := time.Since(start); el > d {
		logf("observe  warning: the flow ended %.1f s after the capture's --duration", (el - d).Seconds())
	}
	var werr error
	select {
	case werr = <-done:
	case <-ctx.Done():
		stop()
		return captureCount{}, ctx.Err()
	case <-time.After(time.Until(start.Add(d + 10*time.Second))):
		stop()
		return captureCount{}, fmt.Errorf("vpcnet capture --duration %s still running 10 s later: killed", d)
	}
	if ferr != nil {
		return captureCount{}, ferr
	}
	if werr != nil {
		return captureCount{}, fmt.Errorf("vpcnet capture: %v: %s", werr, strings.TrimSpace(errb.String()))
	}
	cc, ok := parseCaptureEnd(errb.String())
	if !ok {
		return captureCount{}, fmt.Errorf("vpcnet capture printed no count: %q", errb.String())
	}
	if cc.captured == 0 {
		return cc, errors.New("vpcnet capture captured no frame of the flow")
	}
	return cc, nil
}

// scraper GETs the metrics URL and reads the answer fully.
type scraper struct {
	url      string
	client   *http.Client
	mu       sync.Mutex
	ms       []float64
	bytes    int64
	errs     int
	firstErr string
}

// once scrapes once and records how long it took.
func (s *scraper) once(ctx context.Context) error {
	t := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return err
	}
	resp, err := s.client.Do(req)
	var n int64
	if err == nil {
		n, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET %s: %s", s.url, resp.Status)
		}
	}
	el := time.Since(t)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			s.errs++
			if s.firstErr == "" {
				s.firstErr = err.Error()
			}
		}
		return err
	}
	s.ms = append(s.ms, float64(el.Nanoseconds())/1e6)
	s.bytes = n
	return nil
}

// reset forgets what was recorded (the check before the runs).
func (s *scraper) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ms, s.errs, s.firstErr = nil, 0, ""
}

// start scrapes now and then every scrapeEvery until the returned stop is
// called; stop waits for the scrape under way and returns how many
// succeeded.
func (s *scraper) start(ctx context.Context) (stop func() int) {
	ctx, cancel := context.WithCancel(ctx)
	s.mu.Lock()
	before := len(s.ms)
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(scrapeEvery)
		defer tick.Stop()
		for {
			s.once(ctx)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return func() int {
		cancel()
		<-done
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.ms) - before
	}
}

// spread is "median (min–max)" of values in format f.
func spread(f string, values []float64) string {
	if len(values) == 0 {
		return "—"
	}
	s := append([]float64(nil), values...)
	sort.Float64s(s)
	return fmt.Sprintf(f+" ("+f+"–"+f+")", median(s), s[0], s[len(s)-1])
}

// onOff is median(on) / median(off), "—" when either is missing.
func onOff(on, off []float64) string {
	if len(on) == 0 || len(off) == 0 || median(off) == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", median(on)/median(off))
}

// counts is "median (min–max)" of one field of the capture counts.
func counts(cs []captureCount, lost bool) string {
	var v []float64
	for _, c := range cs {
		if lost {
			v = append(v, float64(c.lost))
		} else {
			v = append(v, float64(c.captured))
		}
	}
	return spread("%.0f", v)
}

// rows are the section's table: figure, off, on, on/off.
func (o *observeResult) rows() [][]string {
	return [][]string{
		{"TCP 1 stream (Gbps), capture of c1 off / on", spread("%.2f", o.tcpOff), spread("%.2f", o.tcpOn), onOff(o.tcpOn, o.tcpOff)},
		{"UDP 64 B, received (kpps), capture of c1 off / on", spread("%.0f", o.udpOff), spread("%.0f", o.udpOn), onOff(o.udpOn, o.udpOff)},
		{"TCP 1 stream (Gbps), /metrics not scraped / scraped every 1 s", spread("%.2f", o.scrapeOff), spread("%.2f", o.scrapeOn), onOff(o.scrapeOn, o.scrapeOff)},
	}
}

// notes are the lines under the table.
func (o *observeResult) notes() []string {
	ints := func(v []int) []float64 {
		var f []float64
		for _, x := range v {
			f = append(f, float64(x))
		}
		return f
	}
	n := []string{
		fmt.Sprintf("capture during TCP: %s frames captured, %s frames not captured per run", counts(o.tcpCap, false), counts(o.tcpCap, true)),
		fmt.Sprintf("capture during UDP 64 B: %s frames captured, %s frames not captured per run", counts(o.udpCap, false), counts(o.udpCap, true)),
		fmt.Sprintf("scrapes of %s: %s per run; each took %s ms to its last byte (median (min–max) of %d scrapes); %d bytes; %d failed",
			o.metricsURL, spread("%.0f", ints(o.scrapes)), spread("%.1f", o.scrapeMs), len(o.scrapeMs), o.scrapeBytes, o.scrapeErrs),
	}
	if o.scrapeErr != "" {
		n = append(n, "first failed scrape: "+o.scrapeErr)
	}
	return n
}

// text is the section for the terminal.
func (o *observeResult) text(runs int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Observability cost (issue 14), median (min–max) of %d interleaved %d-s runs (off, on, off, on, …):\n", runs, o.seconds)
	for _, l := range observeCommands(o.seconds, o.metricsURL) {
		fmt.Fprintf(&b, "    %s\n", l)
	}
	fmt.Fprintf(&b, "  %-62s %-22s %-22s %s\n", "figure", "off", "on", "on/off")
	for _, row := range o.rows() {
		fmt.Fprintf(&b, "  %-62s %-22s %-22s %s\n", row[0], row[1], row[2], row[3])
	}
	for _, l := range o.notes() {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	return b.String()
}

// markdown is the section of BENCHMARKS.md.
func (o *observeResult) markdown(runs int) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("")
	p("## Observability cost (issue 14)")
	p("")
	p("On the path of the TCP 1-stream figure (`c1` → `s1`), in one run: each flow with capture or scraping off, then on,")
	p("%d times (off, on, off, on, …), %d-s flows; median (min–max) of the runs.", runs, o.seconds)
	p("The capture writes pcapng to `/dev/null` and is given `--duration`: only a capture the daemon ends reports the")
	p("frames it could not keep (a slow reader makes capture drop, never forwarding). The scraper is a goroutine of the")
	p("benchmark, outside the namespaces; sender, receiver, forwarder, capture CLI and scraper share the CPUs.")
	p("")
	p("```")
	for _, l := range observeCommands(o.seconds, o.metricsURL) {
		p("%s", l)
	}
	p("```")
	p("")
	p("| figure | off | on | on/off |")
	p("|---|--:|--:|--:|")
	for _, row := range o.rows() {
		p("| %s |", strings.Join(row, " | "))
	}
	p("")
	for _, l := range o.notes() {
		p("- %s", l)
	}
	return b.String()
}
