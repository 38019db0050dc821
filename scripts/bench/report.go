package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vpcnet/vpcnet/topology"
)

// report collects every value and renders the terminal table and
// BENCHMARKS.md.
type report struct {
	date          time.Time
	kernelRelease string
	nproc         string
	o             options
	args          []string
	knobs         []knob  // the forwarder's environment knobs (knobs.go)
	sets          cpuSets // the placements' CPUs and the forwarder's pid

	rows     []row                         // in the order first measured
	values   map[string]map[side][]float64 // row key → side → one value per run
	tests    []test                        // in the order first measured
	variants []variant                     // test × placement, in the order first measured
	cost     map[string][]costRun          // variant key → the forwarder's cost, one per vpcnet run
	csum     map[side]map[string]int64     // side → counter → delta across the runs
	idle     *idleResult                   // nil when not measured
	bringup  []bringupResult
	ops      *opsResult     // live operations (ops.go); nil when not measured
	api      *apiResult     // the EC2 endpoint (api.go); nil when not measured
	observe  *observeResult // capture and /metrics cost (observe.go); nil when not measured
	gobench  []*goBench     // per-packet Go benchmarks (gobench.go)
}

// row is a line of the main table: a figure at a placement.
type row struct {
	f  figure
	pl placement
}

func (w row) key() string { return placedKey(w.f.key, w.pl) }

// variant is a test at a placement: one line of the CPU cost table.
type variant struct {
	t  test
	pl placement
}

func (v variant) key() string { return placedKey(v.t.name, v.pl) }

// placedKey names a figure or test at a placement; the scheduler's, the
// headline, keeps the plain name.
func placedKey(name string, pl placement) string {
	if pl == placeScheduler || pl == "" {
		return name
	}
	return name + "@" + string(pl)
}

type bringupResult struct {
	label    string
	up, down []float64 // seconds, one per run
	skipped  string
}

func newReport(o options) *report {
	r := &report{
		date:   time.Now().UTC(),
		o:      o,
		args:   os.Args[1:],
		knobs:  readKnobs(os.Environ()),
		values: map[string]map[side][]float64{},
		cost:   map[string][]costRun{},
		csum:   map[side]map[string]int64{},
	}
	ctx := context.Background()
	out, _ := run(ctx, "", "uname", "-r")
	r.kernelRelease = strings.TrimSpace(out)
	out, _ = run(ctx, "", "nproc")
	r.nproc = strings.TrimSpace(out)
	return r
}

// add records one run of t at placement pl on side s.
func (r *report) add(t test, pl placement, s side, vals []float64) {
	if !r.hasTest(t.name) {
		r.tests = append(r.tests, t)
	}
	r.addVariant(t, pl)
	for i, f := range t.figures {
		if i >= len(vals) {
			break
		}
		w := row{f, pl}
		if r.values[w.key()] == nil {
			r.values[w.key()] = map[side][]float64{}
			r.rows = append(r.rows, w)
		}
		r.values[w.key()][s] = append(r.values[w.key()][s], vals[i])
	}
}

// addCost records the forwarder's cost over one vpcnet run of t at pl.
func (r *report) addCost(t test, pl placement, c costRun) {
	r.addVariant(t, pl)
	k := variant{t, pl}.key()
	r.cost[k] = append(r.cost[k], c)
}

func (r *report) addVariant(t test, pl placement) {
	v := variant{t, pl}
	for _, x := range r.variants {
		if x.key() == v.key() {
			return
		}
	}
	r.variants = append(r.variants, v)
}

func (r *report) hasTest(name string) bool {
	for _, t := range r.tests {
		if t.name == name {
			return true
		}
	}
	return false
}

// describe formats one run's values for the progress log.
func describe(t test, vals []float64) string {
	var parts []string
	for i, f := range t.figures {
		if i < len(vals) {
			parts = append(parts, fmt.Sprintf(f.format+" %s", vals[i], f.unit))
		}
	}
	return strings.Join(parts, ", ")
}

// medianOf returns the median of a row (by key) on a side, and whether it
// was measured.
func (r *report) medianOf(key string, s side) (float64, bool) {
	v := r.values[key][s]
	if len(v) == 0 {
		return math.NaN(), false
	}
	return median(v), true
}

// ratio is vpcnet / kernel of a row's medians.
func (r *report) ratio(key string) (float64, bool) {
	return ratioOfMedians(r.values[key][sideKernel], r.values[key][sideVpcnet])
}

// ratioOfMedians is median(vpcnet) / median(kernel); not defined when
// either side is missing or the kernel's median is 0.
func ratioOfMedians(kernel, vpcnet []float64) (float64, bool) {
	if len(kernel) == 0 || len(vpcnet) == 0 {
		return math.NaN(), false
	}
	k := median(kernel)
	if k == 0 {
		return math.NaN(), false
	}
	return median(vpcnet) / k, true
}

// pairRatios are vpcnet / kernel of each run: the two sides of run i were
// measured one right after the other (interleaved), so these show how much
// the ratio itself moves while the machine's load drifts.
func pairRatios(kernel, vpcnet []float64) []float64 {
	var q []float64
	for i := 0; i < len(kernel) && i < len(vpcnet); i++ {
		if kernel[i] != 0 {
			q = append(q, vpcnet[i]/kernel[i])
		}
	}
	return q
}

// minMax is "min–max" of values in format f, "—" for none.
func minMax(f string, values []float64) string {
	if len(values) == 0 {
		return "—"
	}
	lo, hi := values[0], values[0]
	for _, v := range values[1:] {
		lo, hi = min(lo, v), max(hi, v)
	}
	return fmt.Sprintf(f+"–"+f, lo, hi)
}

// orderedRows are the rows grouped by figure, in the order the figures
// were first measured, and within a figure by placement (scheduler, on,
// off).
func (r *report) orderedRows() []row {
	var keys []string
	byKey := map[string][]row{}
	for _, w := range r.rows {
		if byKey[w.f.key] == nil {
			keys = append(keys, w.f.key)
		}
		byKey[w.f.key] = append(byKey[w.f.key], w)
	}
	var out []row
	for _, k := range keys {
		ws := byKey[k]
		sort.SliceStable(ws, func(i, j int) bool {
			return slices.Index(allPlacements, ws[i].pl) < slices.Index(allPlacements, ws[j].pl)
		})
		out = append(out, ws...)
	}
	return out
}

// tableRows are the main table: figure, placement, kernel and vpcnet as
// median (min–max), the ratio of the medians, and the range of the runs'
// own ratios.
func (r *report) tableRows() [][]string {
	var rows [][]string
	for _, w := range r.orderedRows() {
		k, v := r.values[w.key()][sideKernel], r.values[w.key()][sideVpcnet]
		row := []string{fmt.Sprintf("%s (%s)", w.f.label, w.f.unit), string(w.pl), spread(w.f.format, k), spread(w.f.format, v)}
		if q, ok := ratioOfMedians(k, v); ok && !w.f.noRatio {
			row = append(row, fmt.Sprintf("%.2f", q), minMax("%.2f", pairRatios(k, v)))
		} else {
			row = append(row, "—", "—")
		}
		rows = append(rows, row)
	}
	for _, k := range csumCounters {
		row := []string{k + " delta (must be 0)", "all"}
		measured := false
		for _, s := range []side{sideKernel, sideVpcnet} {
			if c, ok := r.csum[s]; ok {
				row = append(row, fmt.Sprint(c[k]))
				measured = true
			} else {
				row = append(row, "—")
			}
		}
		if measured {
			rows = append(rows, append(row, "—", "—"))
		}
	}
	return rows
}

// tableHeader is the main table's header.
var tableHeader = []string{"figure", "placement", "kernel, median (min–max)", "vpcnet, median (min–max)", "vpcnet/kernel (medians)", "runs' own ratios, min–max"}

// sig formats a cost with three significant digits or so.
func sig(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v):
		return "—"
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	case a >= 0.1:
		return fmt.Sprintf("%.3f", v)
	}
	return fmt.Sprintf("%.4f", v)
}

// sigSpread is "median (min–max)" of values, each formatted by sig.
func sigSpread(values []float64) string {
	if len(values) == 0 {
		return "—"
	}
	s := append([]float64(nil), values...)
	sort.Float64s(s)
	return fmt.Sprintf("%s (%s–%s)", sig(median(s)), sig(s[0]), sig(s[len(s)-1]))
}

// costRows are the forwarder's CPU cost per test and placement: its CPU
// time as % of one CPU, per gigabit the receiver got, per million frames
// it took in, and the frames per run; each median (min–max) of the runs.
func (r *report) costRows() [][]string {
	var rows [][]string
	for _, v := range r.variants {
		runs := r.cost[v.key()]
		if len(runs) == 0 {
			continue
		}
		kframes := costColumn(runs, func(c costRun) (float64, bool) { return float64(c.frames) / 1e3, true })
		label := v.t.label
		if label == "" {
			label = v.t.figures[0].label
		}
		rows = append(rows, []string{
			label, string(v.pl),
			sigSpread(costColumn(runs, costRun.load)),
			sigSpread(costColumn(runs, costRun.perGbit)),
			sigSpread(costColumn(runs, costRun.perMframe)),
			sigSpread(kframes),
		})
	}
	return rows
}

// costHeader is the cost table's header.
var costHeader = []string{"test", "placement", "forwarder CPU, % of one CPU", "CPU s per Gbit received", "CPU s per million frames (µs per frame)", "thousand frames per run"}

// bar is a target and how the run met it.
type bar struct {
	name   string
	value  string
	result string // pass, FAIL, not measured
}

// targets are issue 15's targets, each judged on the scheduler's placement
// (what a user gets).
func (r *report) targets() []bar {
	ratio := func(name, key string, ok func(float64) bool, unit string) bar {
		q, measured := r.ratio(key)
		if !measured {
			return bar{name, "—", "not measured"}
		}
		return bar{name, fmt.Sprintf("%.3f%s", q, unit), passFail(ok(q))}
	}
	ts := []bar{
		ratio("TCP 1 stream, scheduler placement: vpcnet/kernel ≥ 1.0", "tcp1", func(q float64) bool { return q >= 1.0 }, ""),
		ratio("UDP 64 B received: vpcnet/kernel ≥ 1.0", "udp64", func(q float64) bool { return q >= 1.0 }, ""),
		ratio("TCP 4 streams: vpcnet/kernel ≥ 0.8", "tcp4", func(q float64) bool { return q >= 0.8 }, ""),
		ratio("ping RTT p50: vpcnet ≤ 1.5× kernel", "ping-p50", func(q float64) bool { return q <= 1.5 }, "×"),
		ratio("ping RTT p99: vpcnet ≤ 2× kernel", "ping-p99", func(q float64) bool { return q <= 2 }, "×"),
		ratio("new TCP connections through NAT: vpcnet/kernel ≥ 1.0", "nat-conn", func(q float64) bool { return q >= 1.0 }, ""),
	}
	idle := bar{fmt.Sprintf("idle topology: forwarder CPU ≤ %g %% of one CPU", idleTarget), "—", "not measured"}
	if r.idle != nil {
		idle.name = fmt.Sprintf("idle topology: forwarder CPU over %d s ≤ %g %% of one CPU", r.idle.seconds, idleTarget)
		idle.value = fmt.Sprintf("%.0f ms, %.3f %%", r.idle.ms(), r.idle.pct())
		idle.result = passFail(r.idle.pct() <= idleTarget)
	}
	ts = append(ts, idle)
	csum := bar{"TcpInCsumErrors delta on the vpcnet paths = 0", "—", "not measured"}
	if c, ok := r.csum[sideVpcnet]; ok {
		csum.value = fmt.Sprint(c["TcpInCsumErrors"])
		csum.result = passFail(c["TcpInCsumErrors"] == 0)
	}
	return append(ts, csum)
}

// seconds formats bring-up times.
func seconds(v []float64) string {
	if len(v) == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", median(v))
}

// runsNote says how the figures were made.
func (r *report) runsNote() string {
	return fmt.Sprintf("median of %d interleaved %d-s runs (kernel, vpcnet, kernel, vpcnet, …)", r.o.runs, r.o.seconds)
}

// placementLines say where the forwarder runs and what each placement
// measured means.
func (r *report) placementLines() []string {
	cs := r.sets
	where := "not known"
	if len(cs.forwarder) > 0 {
		where = "CPU " + topology.FormatCPUs(cs.forwarder)
	}
	if cs.pid > 0 {
		where += fmt.Sprintf(" (pid %d)", cs.pid)
	}
	lines := []string{fmt.Sprintf("vpcnet's forwarder runs on %s, of CPU %s (from %s). Placement of iperf3's sender and receiver, the kernel anchor's pinned the same way:",
		where, topology.FormatCPUs(cs.all), cs.source)}
	for _, pl := range allPlacements {
		if !cs.usable(pl) {
			lines = append(lines, fmt.Sprintf("- %s: not measured (the forwarder runs on every CPU)", pl))
			continue
		}
		lines = append(lines, fmt.Sprintf("- %s: %s", pl, pl.describe(cs)))
	}
	return lines
}

// knobsLine names the forwarder's environment knobs as the benchmark saw
// them (the daemon inherits them; checked in upBenchTopology).
func (r *report) knobsLine() string {
	var parts []string
	for _, k := range r.knobs {
		parts = append(parts, "`"+k.String()+"`")
	}
	return "Environment knobs (the vpcnet daemon inherits them): " + strings.Join(parts, ", ")
}

// idleLine is the idle figure in words.
func (r *report) idleLine() string {
	x := r.idle
	return fmt.Sprintf("%.0f ms of forwarder CPU (utime+stime) in %.1f s with the topology up and no traffic, after %.0f s to settle: %.3f %% of one CPU; %d frames taken in meanwhile",
		x.ms(), x.cost.wall, idleSettle.Seconds(), x.pct(), x.cost.frames)
}

// text is the report for the terminal.
func (r *report) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "vpcnet vs kernel; Linux %s, %s CPUs\n", r.kernelRelease, r.nproc)
	if len(r.rows) > 0 {
		fmt.Fprintf(&b, "Each figure the %s: median (min–max)\n", r.runsNote())
	}
	fmt.Fprintf(&b, "%s\n\n", r.knobsLine())
	if len(r.rows) > 0 {
		for _, l := range r.placementLines() {
			fmt.Fprintf(&b, "%s\n", l)
		}
		b.WriteString("\n")
		w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(w, strings.Join(tableHeader, "\t")+"\t")
		for _, row := range r.tableRows() {
			fmt.Fprintln(w, strings.Join(row, "\t")+"\t")
		}
		w.Flush()
		b.WriteString("\n")
	}
	if len(r.rows) > 0 || r.idle != nil {
		b.WriteString("Targets (issue 15):\n")
		for _, x := range r.targets() {
			fmt.Fprintf(&b, "  %-62s %-16s %s\n", x.name, x.value, x.result)
		}
		b.WriteString("\n")
	}
	if rows := r.costRows(); len(rows) > 0 {
		b.WriteString("Forwarder CPU cost per vpcnet run, median (min–max):\n")
		w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(w, strings.Join(costHeader, "\t")+"\t")
		for _, row := range rows {
			fmt.Fprintln(w, strings.Join(row, "\t")+"\t")
		}
		w.Flush()
		b.WriteString("\n")
	}
	if r.idle != nil {
		fmt.Fprintf(&b, "Idle: %s\n\n", r.idleLine())
	}
	if r.ops != nil {
		b.WriteString("Live operations (issue 5):\n")
		for _, l := range opsCommands() {
			fmt.Fprintf(&b, "    %s\n", l)
		}
		w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, row := range r.ops.rows() {
			fmt.Fprintf(w, "  %s\t%s\n", row[0], row[1])
		}
		w.Flush()
		fmt.Fprintf(&b, "  1-s intervals (Gbps, * during the operations): %s\n", r.ops.intervalsLine())
		for _, x := range r.ops.bars() {
			fmt.Fprintf(&b, "  %-48s %-8s %s (measured, not asserted in tests)\n", x.name, x.value, x.result)
		}
		b.WriteString("\n")
	}
	if r.api != nil {
		fmt.Fprintf(&b, "The EC2 endpoint through the AWS SDK for Go v2 (issue 11), median of %d runs:\n", len(r.api.runs))
		for _, l := range r.api.commands() {
			fmt.Fprintf(&b, "    %s\n", l)
		}
		w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, row := range r.api.rows() {
			fmt.Fprintf(w, "  %s\t%s\t(%s)\n", row[0], row[1], row[2])
		}
		w.Flush()
		for _, l := range r.api.intervalsLines() {
			fmt.Fprintf(&b, "  1-s intervals (Gbps, * during the calls), %s\n", l)
		}
		b.WriteString("\n")
	}
	if r.observe != nil {
		b.WriteString(r.observe.text(r.o.runs) + "\n")
	}
	for _, x := range r.bringup {
		if x.skipped != "" {
			fmt.Fprintf(&b, "bring-up, %s: %s\n", x.label, x.skipped)
			continue
		}
		fmt.Fprintf(&b, "bring-up, %s: up %s s, down %s s (median)\n", x.label, seconds(x.up), seconds(x.down))
	}
	if len(r.gobench) > 0 {
		fmt.Fprintf(&b, "\nPer packet, medians of %d runs: %s\n", goBenchCount, strings.Join(goBenchCommand(), " "))
		w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "  package, benchmark\tns/op\tB/op\tallocs/op\tother")
		for _, x := range r.gobench {
			fmt.Fprintf(w, "  %s\n", strings.Join(goBenchRow(x), "\t"))
		}
		w.Flush()
	}
	return b.String()
}

// markdown is BENCHMARKS.md.
func (r *report) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("# Benchmarks")
	p("")
	p("Measured %s on Linux `%s` (`uname -r`), %s CPUs (`nproc`), with", r.date.Format("2006-01-02 15:04 MST"), r.kernelRelease, r.nproc)
	p("")
	p("```")
	p("sudo make bench")
	p("```")
	if len(r.args) > 0 {
		p("")
		p("(flags given to `scripts/bench`: `%s`)", strings.Join(r.args, " "))
	}
	p("")
	p("%s.", r.knobsLine())
	p("")
	p("Every figure is the %s, given as median (min–max) of the runs; the ratio is that of the medians, and", r.runsNote())
	p("the runs' own ratios (each vpcnet run against the kernel run just before it) show how far the ratio moves. The")
	p("machine is shared with other work: absolute numbers drift from run to run; the ratio against the kernel measured in")
	p("the same run is the figure to read (`../shared/performance.md`).")
	if len(r.rows) > 0 {
		p("")
		for _, l := range r.placementLines() {
			p("%s", l)
		}
		p("")
		p("| %s |", strings.Join(tableHeader, " | "))
		p("|---|---|--:|--:|--:|--:|")
		for _, row := range r.tableRows() {
			p("| %s |", strings.Join(row, " | "))
		}
	}
	if len(r.rows) > 0 || r.idle != nil {
		p("")
		p("## Targets (issue 15)")
		p("")
		p("Each ratio at the scheduler's placement (iperf3 placed as a user's would be), against the kernel in the same run.")
		p("")
		p("| target | value | result |")
		p("|---|--:|---|")
		for _, x := range r.targets() {
			p("| %s | %s | %s |", x.name, x.value, x.result)
		}
	}
	if rows := r.costRows(); len(rows) > 0 {
		p("")
		p("## Forwarder CPU cost")
		p("")
		p("Around each vpcnet run: the forwarder process's utime+stime (`/proc/PID/stat`, which counts all its threads),")
		p("the frames it took in (`rx_frames` summed over every endpoint of `bin/vpcnet stats --topology %s --json`),", benchTopology)
		p("and what the receiver got (iperf3's `end.sum_received.bytes`; for UDP, datagrams received × %d B). A change that", udpPayload)
		p("only moves work elsewhere (another thread, the kernel) shows here as a cost that did not fall. Median (min–max)")
		p("of the runs; the kernel anchor's forwarding runs in softirq context and has no process to read.")
		p("")
		p("| %s |", strings.Join(costHeader, " | "))
		p("|---|---|--:|--:|--:|--:|")
		for _, row := range rows {
			p("| %s |", strings.Join(row, " | "))
		}
	}
	if r.idle != nil {
		p("")
		p("## Idle")
		p("")
		p("%s (`sudo make bench BENCH=idle` runs it alone).", r.idleLine())
	}
	if r.ops != nil {
		p("")
		p("## Live operations (issue 5)")
		p("")
		p("```")
		for _, l := range opsCommands() {
			p("%s", l)
		}
		p("```")
		p("")
		p("Throughput is the sender's `intervals[].sum.bits_per_second`; an interval counts as during the operations when it")
		p("overlaps them; the first interval (slow start) is left out of \"outside\". One measurement, not a median of runs.")
		p("Sender, receiver, forwarder and every `bin/vpcnet` process share the CPUs. The control runs the same flow and the same")
		p("loop of 100 client processes, each a read-only `describe-vpcs`: its dip is what starting the processes costs, with")
		p("no operation taking effect.")
		p("")
		p("| figure | value |")
		p("|---|--:|")
		for _, row := range r.ops.rows() {
			p("| %s | %s |", row[0], row[1])
		}
		p("")
		p("1-s intervals of the flow (Gbps, * during the operations): %s", r.ops.intervalsLine())
		p("")
		p("| bar (measured here, not asserted in tests) | value | result |")
		p("|---|--:|---|")
		for _, x := range r.ops.bars() {
			p("| %s | %s | %s |", x.name, x.value, x.result)
		}
	}
	if r.api != nil {
		p("")
		p("## The EC2 endpoint (issue 11)")
		p("")
		p("Latency of signed calls from the AWS SDK for Go v2 to the topology's EC2 endpoint, and a flow's throughput while")
		p("%d of them change its own security group. Run alone with `sudo scripts/bench.sh api` (or `sudo make bench BENCH=api`).", apiFlowCalls)
		p("")
		p("```")
		for _, l := range r.api.commands() {
			p("%s", l)
		}
		p("```")
		p("")
		p("Percentiles are nearest-rank over the %d calls of one run; each figure is the median of %d runs (every run after it).", apiCalls, len(r.api.runs))
		p("The client, the endpoint (in the vpcnet daemon, which also holds the forwarder), the iperf3 sender and receiver")
		p("share the CPUs. Throughput is read as for the live operations; the control runs the same flow and the same loop of")
		p("read-only `DescribeInstances`, which change nothing: the difference is what the calls taking effect cost the flow.")
		p("The client's request bodies do not offer `WriteTo` to net/http (`sdkhttp.PlainBody` in internal/sdkhttp): with")
		p("smithy-go's, a few calls in a thousand to a server this fast fail with \"use of closed network connection\".")
		p("")
		p("| figure | median | runs |")
		p("|---|--:|---|")
		for _, row := range r.api.rows() {
			p("| %s | %s | %s |", row[0], row[1], row[2])
		}
		p("")
		p("1-s intervals of the flow (Gbps, * during the calls):")
		p("")
		for _, l := range r.api.intervalsLines() {
			p("- %s", l)
		}
	}
	if r.observe != nil {
		b.WriteString(r.observe.markdown(r.o.runs))
	}
	if len(r.bringup) > 0 {
		p("")
		p("## Bring-up")
		p("")
		p("Wall time of `bin/vpcnet up` (until the forwarder forwards) and of `bin/vpcnet down`, medians of %d runs.", r.o.runs)
		p("")
		p("| topology | up (s) | down (s) |")
		p("|---|--:|--:|")
		for _, x := range r.bringup {
			if x.skipped != "" {
				p("| %s | %s | — |", x.label, x.skipped)
				continue
			}
			p("| %s | %s | %s |", x.label, seconds(x.up), seconds(x.down))
		}
	}
	if len(r.gobench) > 0 {
		p("")
		p("## Per packet (Go benchmarks)")
		p("")
		p("Medians of %d runs of", goBenchCount)
		p("")
		p("```")
		p("%s", strings.Join(goBenchCommand(), " "))
		p("```")
		p("")
		p("| package, benchmark | ns/op | B/op | allocs/op | other |")
		p("|---|--:|--:|--:|---|")
		for _, x := range r.gobench {
			p("| %s |", strings.Join(goBenchRow(x), " | "))
		}
	}
	if len(r.rows) > 0 {
		p("")
		p("## Every run")
		p("")
		p("| figure | placement | side | runs |")
		p("|---|---|---|---|")
		for _, w := range r.orderedRows() {
			for _, s := range []side{sideKernel, sideVpcnet} {
				vals := r.values[w.key()][s]
				if len(vals) == 0 {
					continue
				}
				var parts []string
				for _, v := range vals {
					parts = append(parts, fmt.Sprintf(w.f.format, v))
				}
				p("| %s (%s) | %s | %s | %s |", w.f.label, w.f.unit, w.pl, s, strings.Join(parts, ", "))
			}
		}
	}
	p("")
	p("## What is measured")
	p("")
	p("- **Kernel anchor** (same run, its own namespaces): client `10.250.1.2` → router namespace with `ip_forward=1` →")
	p("  server `10.250.2.2`, over veth pairs. For NAT: client `10.250.3.2` → router with nftables conntrack (stateful")
	p("  forward chain) and `masquerade` to `198.18.0.1` → \"internet\" host `198.18.0.10`, which has no route back.")
	p("- **vpcnet path**: topology `%s`, VPC `10.77.0.0/16`: `c1` (subnet a, `10.77.1.10`) → `s1` (subnet b, `10.77.2.10`),", benchTopology)
	p("  with security groups (a rule per protocol plus a group reference), a custom NACL on each subnet (a deny rule")
	p("  ahead of the allows) and route tables on. NAT: `n1` (private subnet p, `10.77.3.10`) → NAT gateway in subnet a")
	p("  (EIP from `198.18.0.0/16`) → internet gateway → internet host `inet` (`198.18.200.10`).")
	p("- Servers run in the server namespace (`iperf3 -s`, and the benchmark's own accept server on ports %s);", acceptPorts)
	p("  clients in the client namespace, by `ip netns exec`. In a pinned placement the client runs under `taskset -c CPUS`")
	p("  and every thread of the running `iperf3 -s` gets the same affinity (`sched_setaffinity`, as `taskset -a -p`);")
	p("  at the scheduler's placement the server's affinity is every CPU again. Tests, placements and sides interleave:")
	p("  each run measures every placement of a test, kernel then vpcnet, before the next run starts.")
	for _, t := range r.tests {
		line := fmt.Sprintf("  - %s: `%s`", t.name, t.command)
		if t.note != "" {
			line += "; " + t.note
		}
		p("%s", line)
	}
	p("- Checksum errors: `nstat -asz TcpInCsumErrors UdpInCsumErrors` in the client and server namespaces of every")
	p("  measured path, before and after all runs; the table gives the difference.")
	p("- Bring-up: `bin/vpcnet up` without a file (the embedded textbook network `ch5`) and of a generated topology.")
	return b.String()
}
