package main

import (
	"math"
	"strings"
	"testing"
	"time"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// Medians of odd and even counts, the input left unsorted; min–max; the
// ratio of medians and the runs' own ratios.
func TestFigureStatistics(t *testing.T) {
	in := []float64{9, 1, 5, 3, 7}
	if m := median(in); m != 5 {
		t.Errorf("median odd = %v", m)
	}
	if in[0] != 9 {
		t.Errorf("median sorted its input: %v", in)
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median even = %v", m)
	}
	if !math.IsNaN(median(nil)) {
		t.Error("median(nil) is a number")
	}
	if got := minMax("%.1f", []float64{3, 1.25, 9, 2}); got != "1.2–9.0" && got != "1.3–9.0" {
		t.Errorf("minMax = %q", got)
	}
	if got := minMax("%.0f", nil); got != "—" {
		t.Errorf("minMax(nil) = %q", got)
	}
	if got := spread("%.2f", []float64{10, 12, 11, 9, 30}); got != "11.00 (9.00–30.00)" {
		t.Errorf("spread = %q", got)
	}
	kernel := []float64{20, 18, 22, 19, 21} // median 20
	vpcnet := []float64{10, 12, 11, 30, 9}  // median 11
	if q, ok := ratioOfMedians(kernel, vpcnet); !ok || !near(q, 0.55) {
		t.Errorf("ratioOfMedians = %v, %v", q, ok)
	}
	if _, ok := ratioOfMedians(nil, vpcnet); ok {
		t.Error("ratio without a kernel side")
	}
	if _, ok := ratioOfMedians([]float64{0, 0, 0}, vpcnet); ok {
		t.Error("ratio over a kernel median of 0")
	}
	q := pairRatios(kernel, vpcnet)
	want := []float64{0.5, 12.0 / 18, 0.5, 30.0 / 19, 9.0 / 21}
	if len(q) != len(want) {
		t.Fatalf("pairRatios = %v", q)
	}
	for i := range q {
		if !near(q[i], want[i]) {
			t.Errorf("pairRatios[%d] = %v, want %v", i, q[i], want[i])
		}
	}
	if q := pairRatios([]float64{2, 0, 4}, []float64{1, 1}); len(q) != 1 || q[0] != 0.5 {
		t.Errorf("pairRatios of unequal runs, a kernel 0 = %v", q)
	}
}

// The forwarder's cost: CPU seconds per gigabit and per million frames,
// load, and what is left out when a run moved no bits or frames.
func TestCostArithmetic(t *testing.T) {
	t0 := time.Unix(1000, 0)
	a := usage{at: t0, cpu: 12.5, frames: 1_000_000}
	b := usage{at: t0.Add(5 * time.Second), cpu: 16.5, frames: 1_500_000}
	// 50 Gbit received in the run: 4 CPU s / 50 Gbit.
	c := between(a, b, 50e9)
	if c.cpu != 4 || c.wall != 5 || c.frames != 500_000 {
		t.Fatalf("between = %+v", c)
	}
	if v, ok := c.perGbit(); !ok || !near(v, 0.08) {
		t.Errorf("perGbit = %v, %v", v, ok)
	}
	if v, ok := c.perMframe(); !ok || !near(v, 8) {
		t.Errorf("perMframe = %v, %v (4 s / 0.5 M frames)", v, ok)
	}
	if v, ok := c.load(); !ok || !near(v, 80) {
		t.Errorf("load = %v, %v", v, ok)
	}
	none := between(a, a, 0)
	if _, ok := none.perGbit(); ok {
		t.Error("perGbit of no bits")
	}
	if _, ok := none.perMframe(); ok {
		t.Error("perMframe of no frames")
	}
	if _, ok := none.load(); ok {
		t.Error("load over no time")
	}
	// A counter that went backwards (a restarted forwarder) counts no frames.
	if c := between(b, usage{at: b.at.Add(time.Second), cpu: b.cpu, frames: 3}, 0); c.frames != 0 {
		t.Errorf("frames backwards = %d", c.frames)
	}
	runs := []costRun{c, none, {cpu: 1, wall: 1, bits: 10e9, frames: 100}}
	got := costColumn(runs, costRun.perGbit)
	if len(got) != 2 || !near(got[0], 0.08) || !near(got[1], 0.1) {
		t.Errorf("costColumn perGbit = %v", got)
	}
	if m := median(got); !near(m, 0.09) {
		t.Errorf("median perGbit = %v", m)
	}
	r := idleResult{seconds: 60, cost: costRun{cpu: 0.03, wall: 60}}
	if !near(r.ms(), 30) || !near(r.pct(), 0.05) {
		t.Errorf("idle = %v ms, %v %%", r.ms(), r.pct())
	}
}

// utime and stime are fields 14 and 15, counted after a command name that
// may hold spaces and parentheses.
func TestParseStatTicks(t *testing.T) {
	line := "4242 (vpcnet (x) y) S 1 4242 4242 0 -1 4194560 1234 0 0 0 1500 250 0 0 20 0 9 0 100 0 0"
	if v, err := parseStatTicks(line); err != nil || v != 1750 {
		t.Errorf("parseStatTicks = %v, %v", v, err)
	}
	for _, bad := range []string{"", "4242 vpcnet S 1", "4242 (vpcnet) S 1 2 3", "4242 (v) S 1 4242 4242 0 -1 0 0 0 0 0 x 250"} {
		if _, err := parseStatTicks(bad); err == nil {
			t.Errorf("parseStatTicks(%q) has no error", bad)
		}
	}
}

func TestParseRxFrames(t *testing.T) {
	out := `{"endpoints":[{"name":"c1","rx_frames":10,"tx_frames":99},{"name":"s1","rx_frames":32},{"name":"inet","rx_frames":0}],"stages":{"x":1}}`
	if v, err := parseRxFrames([]byte(out)); err != nil || v != 42 {
		t.Errorf("parseRxFrames = %v, %v", v, err)
	}
	for _, bad := range []string{`{"endpoints":[]}`, `{"endpoints":[{"name":"c1"}]}`, `not json`} {
		if _, err := parseRxFrames([]byte(bad)); err == nil {
			t.Errorf("parseRxFrames(%s) has no error", bad)
		}
	}
}

// `vpcnet status --json` is a list of topologies; the bench one's pid and
// forwarder_cpus are read.
func TestParseStatus(t *testing.T) {
	out := `[{"name":"other","pid":7,"forwarder_cpus":"0"},{"name":"vbench","pid":4242,"forwarder_cpus":"1-2,5","instances":[]}]`
	pid, cpus, err := parseStatus([]byte(out), "vbench")
	if err != nil || pid != 4242 || len(cpus) != 3 || cpus[0] != 1 || cpus[2] != 5 {
		t.Errorf("parseStatus = %v, %v, %v", pid, cpus, err)
	}
	for _, bad := range []string{
		`[{"name":"vbench","pid":0}]`,
		`[{"name":"vbench","pid":9,"error":"not up"}]`,
		`[{"name":"other","pid":9}]`,
		`[{"name":"vbench","pid":9,"forwarder_cpus":"x"}]`,
		`{}`,
	} {
		if _, _, err := parseStatus([]byte(bad), "vbench"); err == nil {
			t.Errorf("parseStatus(%s) has no error", bad)
		}
	}
}

// The placements' CPUs on a 2-CPU machine with the forwarder on CPU 1, and
// on a machine where the forwarder runs everywhere (no pinned placements).
func TestCPUSets(t *testing.T) {
	cs := newCPUSets([]int{0, 1}, []int{1}, 99, "test")
	if got := cs.cpus(placeOn); len(got) != 1 || got[0] != 1 {
		t.Errorf("on = %v", got)
	}
	if got := cs.cpus(placeOff); len(got) != 1 || got[0] != 0 {
		t.Errorf("off = %v", got)
	}
	if cs.cpus(placeScheduler) != nil {
		t.Error("the scheduler's placement pins")
	}
	if got := cs.placements(allPlacements); len(got) != 3 {
		t.Errorf("placements = %v", got)
	}
	if got := cs.placements(nil); len(got) != 1 || got[0] != placeScheduler {
		t.Errorf("placements(nil) = %v", got)
	}
	everywhere := newCPUSets([]int{0, 1}, []int{0, 1}, 99, "test")
	if got := everywhere.placements(allPlacements); len(got) != 1 || got[0] != placeScheduler {
		t.Errorf("placements of an unpinned forwarder = %v", got)
	}
	if got := tasksetArgs([]int{0, 2, 3}, []string{"iperf3", "-c"}); strings.Join(got, " ") != "taskset -c 0,2-3 iperf3 -c" {
		t.Errorf("tasksetArgs = %v", got)
	}
	if got := tasksetArgs(nil, []string{"iperf3"}); len(got) != 1 {
		t.Errorf("tasksetArgs(nil) = %v", got)
	}
}

func TestKnobs(t *testing.T) {
	ks := readKnobs([]string{"PATH=/bin", "VPCNET_BUSYPOLL=50", "VPCNET_ZED=1", "VPCNET_IO=", "VPCNET_CPUPROFILE=/tmp/p"})
	var got []string
	for _, k := range ks {
		got = append(got, k.String())
	}
	want := "VPCNET_IO= VPCNET_BUSYPOLL=50 VPCNET_TAP_QUEUES unset VPCNET_CPUPROFILE=/tmp/p VPCNET_ZED=1"
	if strings.Join(got, " ") != want {
		t.Errorf("knobs = %q, want %q", strings.Join(got, " "), want)
	}
	if err := compareKnobs(ks, readKnobs([]string{"VPCNET_BUSYPOLL=50", "VPCNET_ZED=1", "VPCNET_IO=", "VPCNET_CPUPROFILE=/tmp/p", "HOME=/"})); err != nil {
		t.Errorf("same knobs: %v", err)
	}
	err := compareKnobs(ks, readKnobs([]string{"VPCNET_BUSYPOLL=0", "VPCNET_ZED=1", "VPCNET_CPUPROFILE=/tmp/p", "VPCNET_TAP_QUEUES=2"}))
	if err == nil {
		t.Fatal("different knobs: no error")
	}
	for _, w := range []string{"VPCNET_BUSYPOLL=0 (the benchmark has VPCNET_BUSYPOLL=50)", "VPCNET_IO unset (the benchmark has VPCNET_IO=)", "VPCNET_TAP_QUEUES=2 (the benchmark has VPCNET_TAP_QUEUES unset)"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
}

func TestEnvInt(t *testing.T) {
	t.Setenv("BENCH_TEST_N", "")
	if v, err := envInt("BENCH_TEST_N", 5); err != nil || v != 5 {
		t.Errorf("empty: %v, %v", v, err)
	}
	t.Setenv("BENCH_TEST_N", " 7 ")
	if v, err := envInt("BENCH_TEST_N", 5); err != nil || v != 7 {
		t.Errorf("7: %v, %v", v, err)
	}
	for _, bad := range []string{"0", "-2", "x", "2.5"} {
		t.Setenv("BENCH_TEST_N", bad)
		if _, err := envInt("BENCH_TEST_N", 5); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// testReport is a report of two runs with every kind of row: a figure at
// three placements, a lower-is-better figure, a count without a ratio, the
// forwarder's cost and the idle reading.
func testReport() *report {
	r := &report{
		date:          time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC),
		kernelRelease: "6.18.0-test",
		nproc:         "2",
		o:             options{runs: 2, seconds: 5},
		knobs:         readKnobs([]string{"VPCNET_IO=uring"}),
		sets:          newCPUSets([]int{0, 1}, []int{1}, 4242, "`vpcnet status --json`"),
		values:        map[string]map[side][]float64{},
		cost:          map[string][]costRun{},
		csum:          map[side]map[string]int64{sideKernel: {"TcpInCsumErrors": 0}, sideVpcnet: {"TcpInCsumErrors": 0}},
		idle:          &idleResult{seconds: 60, cost: costRun{cpu: 0.02, wall: 60, frames: 3}},
	}
	ts := tests("/bin/bench")
	byName := map[string]test{}
	for _, t := range ts {
		byName[t.name] = t
	}
	tcp1, ping, conn := byName["tcp1"], byName["ping"], byName["nat-conn"]
	for run := 0; run < 2; run++ {
		for i, pl := range allPlacements {
			r.add(tcp1, pl, sideKernel, []float64{20 + float64(run), 100})
			r.add(tcp1, pl, sideVpcnet, []float64{10 + float64(i) + float64(run), 0})
			r.addCost(tcp1, pl, costRun{cpu: 5, wall: 5, bits: 50e9, frames: 500_000})
		}
		r.add(ping, placeScheduler, sideKernel, []float64{50, 80})
		r.add(ping, placeScheduler, sideVpcnet, []float64{70, 170})
		r.add(conn, placeScheduler, sideKernel, []float64{1000})
		r.add(conn, placeScheduler, sideVpcnet, []float64{1200})
	}
	return r
}

func TestReportRendering(t *testing.T) {
	r := testReport()
	md := r.markdown()
	for _, want := range []string{
		"Environment knobs (the vpcnet daemon inherits them): `VPCNET_IO=uring`, `VPCNET_BUSYPOLL unset`, `VPCNET_TAP_QUEUES unset`.",
		"median of 2 interleaved 5-s runs",
		"vpcnet's forwarder runs on CPU 1 (pid 4242), of CPU 0-1",
		"- on: sender and receiver pinned to the forwarder's CPU 1",
		"- off: sender and receiver pinned to CPU 0, which the forwarder does not use",
		"| " + strings.Join(tableHeader, " | ") + " |",
		// scheduler: kernel 20, 21 → 20.5; vpcnet 10, 11 → 10.5; runs' ratios 0.50, 0.52
		"| TCP, 1 stream (Gbps) | scheduler | 20.50 (20.00–21.00) | 10.50 (10.00–11.00) | 0.51 | 0.50–0.52 |",
		"| TCP, 1 stream (Gbps) | on | 20.50 (20.00–21.00) | 11.50 (11.00–12.00) | 0.56 | 0.55–0.57 |",
		"| TCP, 1 stream (Gbps) | off | 20.50 (20.00–21.00) | 12.50 (12.00–13.00) | 0.61 | 0.60–0.62 |",
		"| TCP, 1 stream, retransmits per run (segments) | scheduler | 100 (100–100) | 0 (0–0) | — | — |",
		"| ping RTT p99 (µs) | scheduler | 80 (80–80) | 170 (170–170) | 2.12 | 2.12–2.12 |",
		"| TcpInCsumErrors delta (must be 0) | all | 0 | 0 | — | — |",
		"## Targets (issue 15)",
		"| TCP 1 stream, scheduler placement: vpcnet/kernel ≥ 1.0 | 0.512 | FAIL |",
		"| UDP 64 B received: vpcnet/kernel ≥ 1.0 | — | not measured |",
		"| ping RTT p50: vpcnet ≤ 1.5× kernel | 1.400× | pass |",
		"| ping RTT p99: vpcnet ≤ 2× kernel | 2.125× | FAIL |",
		"| new TCP connections through NAT: vpcnet/kernel ≥ 1.0 | 1.200 | pass |",
		"| idle topology: forwarder CPU over 60 s ≤ 0.1 % of one CPU | 20 ms, 0.033 % | pass |",
		"| TcpInCsumErrors delta on the vpcnet paths = 0 | 0 | pass |",
		"## Forwarder CPU cost",
		// 5 CPU s in 5 s; 50 Gbit; 0.5 M frames
		"| TCP, 1 stream | off | 100 (100–100) | 0.100 (0.100–0.100) | 10.0 (10.0–10.0) | 500 (500–500) |",
		"## Idle",
		"20 ms of forwarder CPU (utime+stime) in 60.0 s with the topology up and no traffic, after 5 s to settle: 0.033 % of one CPU; 3 frames taken in meanwhile",
		"| TCP, 1 stream (Gbps) | on | vpcnet | 11.00, 12.00 |",
		"  - tcp1: `iperf3 -c ADDR -t S -J`",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	// A figure's placements stand together, scheduler first.
	if i, j := strings.Index(md, "| TCP, 1 stream (Gbps) | off |"), strings.Index(md, "| TCP, 1 stream, retransmits per run (segments) | scheduler |"); i < 0 || j < i {
		t.Error("the rows are not grouped by figure")
	}
	// The targets come right after the figures.
	if i, j := strings.Index(md, "| TcpInCsumErrors delta (must be 0)"), strings.Index(md, "## Targets (issue 15)"); i < 0 || j < i {
		t.Error("targets are not after the figures")
	}
	// Every table row has as many cells as its header.
	rows := 0
	main, _, _ := strings.Cut(md, "## Targets")
	for _, l := range strings.Split(main, "\n") {
		if strings.HasPrefix(l, "| ") {
			rows++
			if strings.Count(l, "|") != len(tableHeader)+1 {
				t.Errorf("row %q: want %d cells", l, len(tableHeader))
			}
		}
	}
	if rows < 10 {
		t.Errorf("%d rows of the main table found", rows)
	}
	txt := r.text()
	for _, want := range []string{"VPCNET_IO=uring", "Targets (issue 15):", "Forwarder CPU cost per vpcnet run", "Idle: 20 ms"} {
		if !strings.Contains(txt, want) {
			t.Errorf("text lacks %q", want)
		}
	}
}

// A run of the kernel alone, or of one part, renders without the parts it
// did not measure.
func TestReportRenderingPartial(t *testing.T) {
	r := testReport()
	r.cost, r.variants, r.idle = map[string][]costRun{}, nil, nil
	md := r.markdown()
	if strings.Contains(md, "## Forwarder CPU cost") || strings.Contains(md, "## Idle") {
		t.Error("a run without vpcnet costs renders their sections")
	}
	if !strings.Contains(md, "| idle topology: forwarder CPU ≤ 0.1 % of one CPU | — | not measured |") {
		t.Error("the idle target is not 'not measured'")
	}
	idleOnly := &report{o: options{runs: 5, seconds: 5}, values: map[string]map[side][]float64{}, cost: map[string][]costRun{},
		csum: map[side]map[string]int64{}, idle: &idleResult{seconds: 60, cost: costRun{cpu: 1.2, wall: 60}}}
	md = idleOnly.markdown()
	if !strings.Contains(md, "| idle topology: forwarder CPU over 60 s ≤ 0.1 % of one CPU | 1200 ms, 2.000 % | FAIL |") {
		t.Errorf("idle alone:\n%s", md)
	}
}

func TestSig(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want string
	}{{1234.6, "1235"}, {12.345, "12.3"}, {1.2345, "1.23"}, {0.12345, "0.123"}, {0.012345, "0.0123"}, {math.NaN(), "—"}} {
		if got := sig(c.v); got != c.want {
			t.Errorf("sig(%v) = %q, want %q", c.v, got, c.want)
		}
	}
	if got := sigSpread([]float64{3, 1, 2}); got != "2.00 (1.00–3.00)" {
		t.Errorf("sigSpread = %q", got)
	}
}
