package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vpcnet/vpcnet/dataplane"
	"github.com/vpcnet/vpcnet/topology"
)

// report collects every value and renders the terminal table and
// BENCHMARKS.md.
type report struct {
	date          time.Time
	kernelRelease string
	nproc         string
	forwarderCPUs string // where vpcnet's forwarder runs (settings.forwarder_cpus is left at auto)
	o             options
	args          []string

	figures []figure                      // in the order first measured
	values  map[string]map[side][]float64 // figure key → side → one value per run
	tests   []test                        // in the order first measured
	csum    map[side]map[string]int64     // side → counter → delta across the runs
	bringup []bringupResult
	ops     *opsResult     // live operations (ops.go); nil when not measured
	api     *apiResult     // the EC2 endpoint (api.go); nil when not measured
	observe *observeResult // capture and /metrics cost (observe.go); nil when not measured
	gobench []*goBench     // per-packet Go benchmarks (gobench.go)
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
		values: map[string]map[side][]float64{},
		csum:   map[side]map[string]int64{},
	}
	ctx := context.Background()
	out, _ := run(ctx, "", "uname", "-r")
	r.kernelRelease = strings.TrimSpace(out)
	out, _ = run(ctx, "", "nproc")
	r.nproc = strings.TrimSpace(out)
	r.forwarderCPUs = "not pinned"
	if allowed, err := dataplane.AllowedCPUs(); err == nil {
		if cpus, err := dataplane.ForwarderCPUs(topology.CPUsAuto, allowed); err == nil && cpus != nil {
			r.forwarderCPUs = "CPU " + topology.FormatCPUs(cpus)
		}
	}
	return r
}

// add records one run of t on side s.
func (r *report) add(t test, s side, vals []float64) {
	if !r.hasTest(t.name) {
		r.tests = append(r.tests, t)
	}
	for i, f := range t.figures {
		if i >= len(vals) {
			break
		}
		if r.values[f.key] == nil {
			r.values[f.key] = map[side][]float64{}
			r.figures = append(r.figures, f)
		}
		r.values[f.key][s] = append(r.values[f.key][s], vals[i])
	}
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

// medianOf returns the median of a figure on a side, and whether it was
// measured.
func (r *report) medianOf(key string, s side) (float64, bool) {
	v := r.values[key][s]
	if len(v) == 0 {
		return math.NaN(), false
	}
	return median(v), true
}

// ratio is vpcnet / kernel of a figure's medians.
func (r *report) ratio(key string) (float64, bool) {
	k, okK := r.medianOf(key, sideKernel)
	v, okV := r.medianOf(key, sideVpcnet)
	if !okK || !okV || k == 0 {
		return math.NaN(), false
	}
	return v / k, true
}

// rows are the main table: figure, kernel, vpcnet, ratio.
func (r *report) rows() [][]string {
	var rows [][]string
	for _, f := range r.figures {
		row := []string{fmt.Sprintf("%s (%s)", f.label, f.unit)}
		for _, s := range []side{sideKernel, sideVpcnet} {
			if m, ok := r.medianOf(f.key, s); ok {
				row = append(row, fmt.Sprintf(f.format, m))
			} else {
				row = append(row, "—")
			}
		}
		if q, ok := r.ratio(f.key); ok && !f.noRatio {
			row = append(row, fmt.Sprintf("%.2f", q))
		} else {
			row = append(row, "—")
		}
		rows = append(rows, row)
	}
	for _, k := range csumCounters {
		row := []string{k + " delta (must be 0)"}
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
			rows = append(rows, append(row, "—"))
		}
	}
	return rows
}

// bar is one of the acceptance bars.
type bar struct {
	name   string
	value  string
	result string // pass, FAIL, not measured
}

func (r *report) bars() []bar {
	ratioBar := func(name, key string, ok func(float64) bool, unit string) bar {
		q, measured := r.ratio(key)
		if !measured {
			return bar{name, "—", "not measured"}
		}
		res := "FAIL"
		if ok(q) {
			res = "pass"
		}
		return bar{name, fmt.Sprintf("%.2f%s", q, unit), res}
	}
	bars := []bar{
		ratioBar("TCP 1-stream, vpcnet/kernel ≥ 0.75", "tcp1", func(q float64) bool { return q >= 0.75 }, ""),
		ratioBar("ping p50 within 5× kernel", "ping-p50", func(q float64) bool { return q <= 5 }, "×"),
		ratioBar("NAT TCP 1-stream, vpcnet/kernel ≥ 0.75", "nat-tcp1", func(q float64) bool { return q >= 0.75 }, ""),
	}
	csum := bar{"TcpInCsumErrors delta on the vpcnet paths = 0", "—", "not measured"}
	if c, ok := r.csum[sideVpcnet]; ok {
		csum.value = fmt.Sprint(c["TcpInCsumErrors"])
		csum.result = "pass"
		if c["TcpInCsumErrors"] != 0 {
			csum.result = "FAIL"
		}
	}
	return append(bars, csum)
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

// text is the report for the terminal.
func (r *report) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "vpcnet vs kernel; each figure the %s; Linux %s, %s CPUs\n\n", r.runsNote(), r.kernelRelease, r.nproc)
	if len(r.figures) > 0 {
		w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(w, "figure\tkernel\tvpcnet\tvpcnet/kernel\t")
		for _, row := range r.rows() {
			fmt.Fprintln(w, strings.Join(row, "\t")+"\t")
		}
		w.Flush()
		b.WriteString("\n")
		for _, x := range r.bars() {
			fmt.Fprintf(&b, "  %-48s %-8s %s\n", x.name, x.value, x.result)
		}
		b.WriteString("\n")
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
	p("Every figure is the %s. Sender, receiver and forwarder share the CPUs (vpcnet's forwarder is pinned to %s, its default `forwarder_cpus`; senders and receivers run anywhere), and the machine is shared with other work:", r.runsNote(), r.forwarderCPUs)
	p("absolute numbers drift from run to run; the ratio against the kernel measured in the same run is the figure to read")
	p("(`../shared/performance.md`).")
	if len(r.figures) > 0 {
		p("")
		p("| figure | kernel | vpcnet | vpcnet/kernel |")
		p("|---|--:|--:|--:|")
		for _, row := range r.rows() {
			p("| %s |", strings.Join(row, " | "))
		}
		p("")
		p("## The bars (from the issue)")
		p("")
		p("| bar | value | result |")
		p("|---|--:|---|")
		for _, x := range r.bars() {
			p("| %s | %s | %s |", x.name, x.value, x.result)
		}
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
	if len(r.figures) > 0 {
		p("")
		p("## Every run")
		p("")
		p("| figure | side | runs |")
		p("|---|---|---|")
		for _, f := range r.figures {
			for _, s := range []side{sideKernel, sideVpcnet} {
				vals := r.values[f.key][s]
				if len(vals) == 0 {
					continue
				}
				var parts []string
				for _, v := range vals {
					parts = append(parts, fmt.Sprintf(f.format, v))
				}
				p("| %s (%s) | %s | %s |", f.label, f.unit, s, strings.Join(parts, ", "))
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
	p("  clients in the client namespace, by `ip netns exec`:")
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
