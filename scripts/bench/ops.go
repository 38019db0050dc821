package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Live operations (issue 5, its performance part): an operation takes
// effect without pausing traffic. An iperf3 flow c1 → s1 (the path of the
// TCP 1-stream figure) runs while 100 EC2 operations on other resources run
// one after the other through bin/vpcnet; the flow's 1-s intervals during
// the operations are compared with those outside them. Then run-instances
// of one instance is timed, each followed by terminate-instances.

const (
	opsCount = 100 // operations during the flow
	// opsLead is how long the flow runs before the operations start, and
	// at least how long it runs after they end.
	opsLead = 3 * time.Second
	// opsPace spreads the operations over several 1-s intervals of the
	// flow: one starts every opsPace, or right after the previous one when
	// that took longer. Back to back they take well under a second, which
	// would leave a single interval to compare.
	opsPace = 40 * time.Millisecond
	// opsMinFlow is the shortest flow ("~10 s").
	opsMinFlow = 10
	// riRuns is how many run-instances / terminate-instances pairs are timed.
	riRuns = 5
	// riSubnet is the subnet the timed instances are launched in.
	riSubnet = "b"
)

// opsResult is what the live-operations measurement found.
type opsResult struct {
	flowSeconds int
	intervals   []opsInterval
	during      []float64 // Gbps of the 1-s intervals that overlap the operations
	outside     []float64 // Gbps of the others, the first (slow start) left out
	retrDuring  float64   // sender retransmits in the intervals during
	ops         int       // operations that ran
	opsOK       int       // of which succeeded
	opsFirstErr string
	opLatency   []float64 // ms, one per operation that ran
	opsWindow   [2]float64
	riUp        []float64 // ms, run-instances
	riDown      []float64 // ms, terminate-instances
	riErr       string
	control     *opsResult // the same flow during read-only describe-vpcs calls
}

type opsInterval struct {
	start, end float64 // seconds since the flow started
	gbps       float64
	during     bool
}

// opsStep is one operation: its arguments after the command name, and
// what to keep from its JSON answer for the next steps.
type opsStep struct {
	args func(st map[string]string) []string
	keep func(out map[string]any, st map[string]string)
}

// opsCycle is one round of the mix; 10 rounds make the 100 operations.
// Every step touches resources the flow does not use: an Elastic IP moved
// onto n1, a rule for a port the flow does not use, a route for a prefix
// nothing sends to, a detached ENI. The flow's own security group, sg-server,
// gets the extra rule, so its snapshot is rebuilt under the flow.
func opsCycle(eni string) []opsStep {
	const port, cidr = "8443", "10.77.1.0/24"
	const prefix = "203.0.113.0/24"
	fixed := func(a ...string) func(map[string]string) []string {
		return func(map[string]string) []string { return a }
	}
	return []opsStep{
		{fixed("allocate-address", "--public-ipv4-pool", "bench"),
			func(out map[string]any, st map[string]string) { st["alloc"], _ = out["AllocationId"].(string) }},
		{func(st map[string]string) []string {
			return []string{"associate-address", "--allocation-id", st["alloc"], "--instance-id", "n1"}
		}, func(out map[string]any, st map[string]string) { st["assoc"], _ = out["AssociationId"].(string) }},
		{func(st map[string]string) []string {
			return []string{"disassociate-address", "--association-id", st["assoc"]}
		}, nil},
		{func(st map[string]string) []string {
			return []string{"release-address", "--allocation-id", st["alloc"]}
		}, nil},
		{fixed("authorize-security-group-ingress", "--group-id", "sg-server", "--protocol", "tcp", "--port", port, "--cidr", cidr), nil},
		{fixed("revoke-security-group-ingress", "--group-id", "sg-server", "--protocol", "tcp", "--port", port, "--cidr", cidr), nil},
		{fixed("create-route", "--route-table-id", "rt-public", "--destination-cidr-block", prefix, "--gateway-id", "igw-bench"), nil},
		{fixed("delete-route", "--route-table-id", "rt-public", "--destination-cidr-block", prefix), nil},
		{fixed("create-network-interface", "--subnet-id", riSubnet, "--name", eni), nil},
		{fixed("delete-network-interface", "--network-interface-id", eni), nil},
	}
}

// opsCommands are the measurement's command lines, for the report.
func opsCommands() []string {
	lines := []string{
		fmt.Sprintf("ip netns exec %s-c1 iperf3 -c 10.77.2.10 -p %d -t T -i 1 -J --connect-timeout 3000   # T ≥ %d s, so that it outlasts the operations by %v",
			benchTopology, iperfPort, opsMinFlow, opsLead),
		fmt.Sprintf("# from %v into the flow, %d operations one after the other, one starting every %v (or when the previous one ends), cycling through:",
			opsLead, opsCount, opsPace),
	}
	st := map[string]string{"alloc": "ALLOCATION_ID", "assoc": "ASSOCIATION_ID"}
	for _, s := range opsCycle("bench-eni-N") {
		a := s.args(st)
		lines = append(lines, strings.Join(append([]string{"bin/vpcnet", a[0], "--topology", benchTopology}, a[1:]...), " "))
	}
	return append(lines,
		fmt.Sprintf("# then the control: the same flow, and from %v into it %d times, one starting every %v:", opsLead, opsCount, opsPace),
		fmt.Sprintf("bin/vpcnet describe-vpcs --topology %s", benchTopology),
		fmt.Sprintf("# then, without the flow, %d times:", riRuns),
		fmt.Sprintf("bin/vpcnet run-instances --topology %s --subnet-id %s --name bench-ri-N", benchTopology, riSubnet),
		fmt.Sprintf("bin/vpcnet terminate-instances --topology %s --instance-ids bench-ri-N", benchTopology))
}

// op runs one operation on the bench topology and returns its JSON answer
// and its wall time.
func (v *vpcnet) op(ctx context.Context, args ...string) (map[string]any, time.Duration, error) {
	full := append([]string{args[0], "--topology", benchTopology}, args[1:]...)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	start := time.Now()
	out, err := run(ctx, "", v.bin, full...)
	d := time.Since(start)
	if err != nil {
		return nil, d, err
	}
	// An operation whose answer has nothing to say prints nothing, as the
	// AWS CLI does (disassociate-address).
	m := map[string]any{}
	if strings.TrimSpace(out) == "" {
		return m, d, nil
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		return nil, d, fmt.Errorf("vpcnet %s: answer is not JSON: %w", args[0], err)
	}
	return m, d, nil
}

// liveOps measures the live operations. ready says that the bench topology
// is up with the iperf3 server in s1 (the full run); otherwise it is brought
// up here, and taken down by the caller's cleanups.
func liveOps(ctx context.Context, c *cleanups, v *vpcnet, exe string, ready bool) (*opsResult, error) {
	plain, _ := benchPaths()
	if !ready {
		if err := upPlainPath(ctx, c, v, exe); err != nil {
			return nil, err
		}
	}
	res := &opsResult{}

	// One round first, outside the flow: it checks the mix and says how
	// long the 100 operations will take, so that the flow outlasts them.
	st := map[string]string{}
	var warm time.Duration
	for _, s := range opsCycle("bench-eni-0") {
		out, d, err := v.op(ctx, s.args(st)...)
		if err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
		if s.keep != nil {
			s.keep(out, st)
		}
		warm += d
	}
	est := max(opsPace*opsCount, warm*opsCount/time.Duration(len(opsCycle("")))*3/2)
	res.flowSeconds = max(opsMinFlow, int(math.Ceil((2*opsLead + est).Seconds())))
	logf("ops      warm-up: %d operations in %.0f ms; flow of %d s", len(opsCycle("")), float64(warm.Milliseconds()), res.flowSeconds)

	out, runErr, err := flowDuring(ctx, plain, res.flowSeconds, &res.opsWindow, func(opsStart time.Time) error {
	ops:
		for i := 1; res.ops < opsCount; i++ {
			st := map[string]string{}
			for _, s := range opsCycle(fmt.Sprintf("bench-eni-%d", i)) {
				if res.ops == opsCount {
					break ops
				}
				if err := pause(ctx, time.Until(opsStart.Add(time.Duration(res.ops)*opsPace))); err != nil {
					return err
				}
				out, d, err := v.op(ctx, s.args(st)...)
				res.ops++
				res.opLatency = append(res.opLatency, float64(d.Microseconds())/1e3)
				if err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					// The rest of the round depends on this step; stop
					// here and report it. The topology's take-down
					// removes whatever the round left.
					res.opsFirstErr = err.Error()
					logf("ops      operation %d failed: %v", res.ops, err)
					break ops
				}
				res.opsOK++
				if s.keep != nil {
					s.keep(out, st)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	logf("ops      %d operations (%d succeeded) from %.1f s to %.1f s of the flow, median %.0f ms",
		res.ops, res.opsOK, res.opsWindow[0], res.opsWindow[1], median(res.opLatency))
	if err := res.readFlow(out, runErr); err != nil {
		return nil, err
	}
	if res.opsWindow[1] > float64(res.flowSeconds) {
		logf("ops      the operations outlasted the flow (%.1f s > %d s): the tail of the window is not measured", res.opsWindow[1], res.flowSeconds)
	}
	logf("ops      flow: median %.2f Gbps during the operations (min %.2f), %.2f Gbps outside",
		median(res.during), minOf(res.during), median(res.outside))

	// The control: the same flow and the same loop of client processes,
	// each a read-only describe-vpcs that changes nothing. Its dip is what
	// starting 100 processes costs the flow, with no operation taking
	// effect.
	ctl := &opsResult{flowSeconds: res.flowSeconds}
	out, runErr, err = flowDuring(ctx, plain, ctl.flowSeconds, &ctl.opsWindow, func(opsStart time.Time) error {
		for ctl.ops < opsCount {
			if err := pause(ctx, time.Until(opsStart.Add(time.Duration(ctl.ops)*opsPace))); err != nil {
				return err
			}
			_, d, err := v.op(ctx, "describe-vpcs")
			ctl.ops++
			ctl.opLatency = append(ctl.opLatency, float64(d.Microseconds())/1e3)
			if err != nil {
				return fmt.Errorf("control: %w", err)
			}
			ctl.opsOK++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := ctl.readFlow(out, runErr); err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	res.control = ctl
	logf("ops      control (%d describe-vpcs): median %.2f Gbps during, %.2f Gbps outside",
		ctl.ops, median(ctl.during), median(ctl.outside))

	if err := runInstances(ctx, c, v, res); err != nil {
		return nil, err
	}
	return res, nil
}

// flowDuring runs the iperf3 flow c1 → s1 for seconds and, opsLead into it,
// work; window gets work's start and end in seconds since the flow started.
// It returns the flow's output and error once both have ended.
func flowDuring(ctx context.Context, plain path, seconds int, window *[2]float64, work func(start time.Time) error) (string, error, error) {
	if err := pause(ctx, 500*time.Millisecond); err != nil {
		return "", nil, err
	}
	type flowOut struct {
		out string
		err error
	}
	flowc := make(chan flowOut, 1)
	t0 := time.Now()
	go func() {
		tctx, cancel := context.WithTimeout(ctx, time.Duration(seconds+30)*time.Second)
		defer cancel()
		out, err := inNS(tctx, plain.client, "iperf3", "-c", plain.addr, "-p", strconv.Itoa(iperfPort),
			"-t", strconv.Itoa(seconds), "-i", "1", "-J", "--connect-timeout", "3000")
		flowc <- flowOut{out, err}
	}()
	// The flow is waited for on every path: the goroutine must not
	// outlive the topology.
	err := pause(ctx, opsLead)
	if err == nil {
		start := time.Now()
		window[0] = start.Sub(t0).Seconds()
		err = work(start)
		window[1] = time.Since(t0).Seconds()
	}
	f := <-flowc
	if err == nil {
		err = ctx.Err()
	}
	return f.out, f.err, err
}

// flowJSON is the part of `iperf3 -J -i 1` the measurement reads.
type flowJSON struct {
	Error     string `json:"error"`
	Intervals []struct {
		Sum struct {
			Start         float64 `json:"start"`
			End           float64 `json:"end"`
			BitsPerSecond float64 `json:"bits_per_second"`
			Retransmits   float64 `json:"retransmits"`
			Omitted       bool    `json:"omitted"`
		} `json:"sum"`
	} `json:"intervals"`
}

// readFlow splits the flow's 1-s intervals into those that overlap the
// operations' window and the others. Interval times count from the start of
// the test, which is the start of the client process give or take its
// connection set-up (milliseconds here).
func (res *opsResult) readFlow(out string, runErr error) error {
	var r flowJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		if runErr != nil {
			return fmt.Errorf("iperf3: %w", runErr)
		}
		return fmt.Errorf("iperf3 output is not JSON: %w", err)
	}
	if r.Error != "" {
		return fmt.Errorf("iperf3: %s", r.Error)
	}
	if runErr != nil {
		return fmt.Errorf("iperf3: %w", runErr)
	}
	for i, x := range r.Intervals {
		s := x.Sum
		if s.Omitted || s.End-s.Start < 0.5 { // a short last interval says little
			continue
		}
		in := opsInterval{start: s.Start, end: s.End, gbps: s.BitsPerSecond / 1e9,
			during: s.End > res.opsWindow[0] && s.Start < res.opsWindow[1]}
		res.intervals = append(res.intervals, in)
		switch {
		case in.during:
			res.during = append(res.during, in.gbps)
			res.retrDuring += s.Retransmits
		case i > 0: // the first second is TCP slow start
			res.outside = append(res.outside, in.gbps)
		}
	}
	if len(res.during) == 0 || len(res.outside) == 0 {
		return fmt.Errorf("%d intervals during the operations, %d outside: cannot compare", len(res.during), len(res.outside))
	}
	return nil
}

// runInstances times run-instances of one instance, each followed by
// terminate-instances. Each launched instance's termination is a cleanup
// step until it is done, so an error or a signal leaves none behind.
func runInstances(ctx context.Context, c *cleanups, v *vpcnet, res *opsResult) error {
	for r := 1; r <= riRuns; r++ {
		if err := pause(ctx, 300*time.Millisecond); err != nil {
			return err
		}
		name := fmt.Sprintf("bench-ri-%d", r)
		c.push("terminate-instances "+name, func(ctx context.Context) error {
			if !nsExists(benchTopology + "-" + name) {
				return nil
			}
			_, err := run(ctx, "", v.bin, "terminate-instances", "--topology", benchTopology, "--instance-ids", name)
			return err
		})
		_, up, err := v.op(ctx, "run-instances", "--subnet-id", riSubnet, "--name", name)
		if err != nil {
			res.riErr = err.Error()
			return fmt.Errorf("run-instances %d/%d: %w", r, riRuns, err)
		}
		if !nsExists(benchTopology + "-" + name) {
			return fmt.Errorf("run-instances %s made no namespace %s-%s", name, benchTopology, name)
		}
		_, down, err := v.op(ctx, "terminate-instances", "--instance-ids", name)
		if err != nil {
			res.riErr = err.Error()
			return fmt.Errorf("terminate-instances %d/%d: %w", r, riRuns, err)
		}
		c.forget() // terminated above
		if nsExists(benchTopology + "-" + name) {
			return fmt.Errorf("terminate-instances %s left namespace %s-%s", name, benchTopology, name)
		}
		res.riUp = append(res.riUp, float64(up.Microseconds())/1e3)
		res.riDown = append(res.riDown, float64(down.Microseconds())/1e3)
		logf("run-instances run %d/%d  %.0f ms, terminate-instances %.0f ms", r, riRuns, res.riUp[r-1], res.riDown[r-1])
	}
	return nil
}

// nsExists reports whether a named network namespace exists.
func nsExists(ns string) bool {
	_, err := os.Stat("/run/netns/" + ns)
	return !errors.Is(err, os.ErrNotExist)
}

func minOf(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[0]
}

func maxOf(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)-1]
}

// ratio is the median throughput during the operations over the median
// outside them.
func (res *opsResult) ratio() float64 {
	out := median(res.outside)
	if out == 0 {
		return math.NaN()
	}
	return median(res.during) / out
}

// opsBars are the two bars for live operations: measured by the
// benchmark, not asserted by any test.
func (res *opsResult) bars() []bar {
	ri := bar{"run-instances median < 1 s", "—", "not measured"}
	if len(res.riUp) > 0 {
		m := median(res.riUp)
		ri.value, ri.result = fmt.Sprintf("%.0f ms", m), passFail(m < 1000)
	}
	q := res.ratio()
	flow := bar{fmt.Sprintf("throughput during %d operations ≥ 0.9× outside (the client processes' CPU included)", opsCount), fmt.Sprintf("%.2f×", q),
		passFail(q >= 0.9 && res.opsOK == opsCount)}
	if res.opsOK != opsCount {
		flow.value += fmt.Sprintf(" (%d of %d operations succeeded)", res.opsOK, opsCount)
	}
	bars := []bar{ri, flow}
	if ctl := res.control; ctl != nil {
		// "No loss of throughput beyond noise" once the cost of starting
		// the client processes, which the control has too, is set aside.
		c := median(res.during) / median(ctl.during)
		bars = append(bars, bar{fmt.Sprintf("throughput during %d operations ≥ 0.95× during the control's %d read-only calls", opsCount, ctl.ops),
			fmt.Sprintf("%.2f×", c), passFail(c >= 0.95 && res.opsOK == opsCount)})
	}
	return bars
}

func passFail(ok bool) string {
	if ok {
		return "pass"
	}
	return "FAIL"
}

// rows are the table of the live operations: figure, value.
func (res *opsResult) rows() [][]string {
	ok := "yes"
	if res.opsOK != res.ops || res.ops != opsCount {
		ok = fmt.Sprintf("no: %d of %d (first error: %s)", res.opsOK, opsCount, strings.ReplaceAll(res.opsFirstErr, "|", "\\|"))
	}
	rows := [][]string{
		{"flow c1 → s1, median 1-s interval outside the operations (Gbps)", fmt.Sprintf("%.2f", median(res.outside))},
		{"flow c1 → s1, median 1-s interval during the operations (Gbps)", fmt.Sprintf("%.2f", median(res.during))},
		{"during / outside", fmt.Sprintf("%.2f", res.ratio())},
		{"1-s intervals outside the operations, min – max (Gbps)", fmt.Sprintf("%.2f – %.2f", minOf(res.outside), maxOf(res.outside))},
		{"slowest 1-s interval during the operations (Gbps)", fmt.Sprintf("%.2f", minOf(res.during))},
		{"sender retransmits during the operations (segments)", fmt.Sprintf("%.0f", res.retrDuring)},
		{"operations during the flow", fmt.Sprintf("%d, from %.1f s to %.1f s of a %d-s flow", res.ops, res.opsWindow[0], res.opsWindow[1], res.flowSeconds)},
		{"all operations succeeded", ok},
		{"operation wall time, median / max (ms)", fmt.Sprintf("%.0f / %.0f", median(res.opLatency), maxOf(res.opLatency))},
		{fmt.Sprintf("run-instances of one instance, median / max of %d (ms)", len(res.riUp)), fmt.Sprintf("%.0f / %.0f", median(res.riUp), maxOf(res.riUp))},
		{"terminate-instances, median (ms)", fmt.Sprintf("%.0f", median(res.riDown))},
	}
	if ctl := res.control; ctl != nil {
		rows = append(rows,
			[]string{fmt.Sprintf("control: the same flow while the same loop runs %d read-only `describe-vpcs`, during / outside", ctl.ops), fmt.Sprintf("%.2f", ctl.ratio())},
			[]string{"control: 1-s intervals during, median (outside, median) (Gbps)", fmt.Sprintf("%.2f (%.2f)", median(ctl.during), median(ctl.outside))},
			[]string{"median during the operations / median during the control", fmt.Sprintf("%.2f", median(res.during)/median(ctl.during))})
	}
	return rows
}

// intervalsLine lists every 1-s interval of the flow, those during the
// operations starred.
func (res *opsResult) intervalsLine() string {
	var parts []string
	for _, x := range res.intervals {
		s := fmt.Sprintf("%.2f", x.gbps)
		if x.during {
			s += "*"
		}
		parts = append(parts, s)
	}
	line := strings.Join(parts, " ")
	if res.control != nil {
		line += "; control: " + res.control.intervalsLine()
	}
	return line
}
