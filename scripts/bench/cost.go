package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// The forwarder's own CPU cost (issue 15): around each vpcnet run the
// benchmark reads the forwarder process's utime+stime and the frames it
// received, so that a change which only moves work to another thread, to
// another process or to the kernel shows as a cost that did not go down.

// userHZ is the unit of utime and stime in /proc/PID/stat
// (sysconf(_SC_CLK_TCK)); Linux reports them in USER_HZ, 100 on every
// architecture Go runs on. clockTicks asks getconf, in case.
var userHZ = 100.0

// clockTicks sets userHZ from `getconf CLK_TCK`.
func clockTicks(ctx context.Context) {
	out, err := run(ctx, "", "getconf", "CLK_TCK")
	if err != nil {
		return
	}
	if v, err := strconv.Atoi(strings.TrimSpace(out)); err == nil && v > 0 {
		userHZ = float64(v)
	}
}

// parseStatTicks returns utime+stime of a /proc/PID/stat line: fields 14
// and 15, counted after the command name, which is in parentheses and may
// itself hold spaces and parentheses. At the process level they include
// every thread, those that have ended too.
func parseStatTicks(stat string) (uint64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("/proc stat: no command name")
	}
	// After ") ": state is field 3, so utime (14) is the 12th field here.
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc stat: %d fields after the command name, want 13 or more", len(f))
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc stat: utime %q, stime %q", f[11], f[12])
	}
	return utime + stime, nil
}

// cpuSeconds is the CPU time process pid has used so far.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("forwarder pid %d: %w", pid, err)
	}
	t, err := parseStatTicks(string(b))
	if err != nil {
		return 0, fmt.Errorf("forwarder pid %d: %w", pid, err)
	}
	return float64(t) / userHZ, nil
}

// parseRxFrames sums rx_frames over the endpoints of `vpcnet stats --json`:
// every frame the forwarder took in, from instances and internet hosts.
func parseRxFrames(out []byte) (uint64, error) {
	var s struct {
		Endpoints []struct {
			RxFrames *uint64 `json:"rx_frames"`
		} `json:"endpoints"`
	}
	if err := json.Unmarshal(out, &s); err != nil {
		return 0, fmt.Errorf("vpcnet stats --json: %w", err)
	}
	if len(s.Endpoints) == 0 {
		return 0, errors.New("vpcnet stats --json: no endpoints")
	}
	var sum uint64
	for _, e := range s.Endpoints {
		if e.RxFrames == nil {
			return 0, errors.New("vpcnet stats --json: an endpoint without rx_frames")
		}
		sum += *e.RxFrames
	}
	return sum, nil
}

// rxFrames is the frames the bench topology's forwarder has taken in so far.
func (v *vpcnet) rxFrames(ctx context.Context) (uint64, error) {
	out, err := run(ctx, "", v.bin, "stats", "--topology", benchTopology, "--json")
	if err != nil {
		return 0, err
	}
	return parseRxFrames([]byte(out))
}

// usage is a reading of the forwarder: its CPU time and the frames it took
// in, at a time.
type usage struct {
	at     time.Time
	cpu    float64 // seconds of utime+stime
	frames uint64
}

// readUsage reads the forwarder's CPU time and frames. The stats request
// that the forwarder answers stays outside the CPU window of a run: before
// it (before == true) the frames are read first and the CPU time last,
// after it the CPU time first.
func readUsage(ctx context.Context, v *vpcnet, pid int, before bool) (usage, error) {
	var u usage
	readCPU := func() error {
		var err error
		u.cpu, err = cpuSeconds(pid)
		u.at = time.Now()
		return err
	}
	readFrames := func() error {
		var err error
		u.frames, err = v.rxFrames(ctx)
		return err
	}
	steps := []func() error{readCPU, readFrames}
	if before {
		steps = []func() error{readFrames, readCPU}
	}
	for _, f := range steps {
		if err := f(); err != nil {
			return u, err
		}
	}
	return u, nil
}

// costRun is the forwarder's cost over one run.
type costRun struct {
	cpu    float64 // forwarder CPU seconds (utime+stime)
	wall   float64 // seconds between the two readings
	frames uint64  // frames taken in
	bits   float64 // bits the receiver got (iperf3); 0 when the test moves none to speak of
}

// between is the cost from reading a to reading b, with bits moved.
func between(a, b usage, bits float64) costRun {
	c := costRun{cpu: b.cpu - a.cpu, wall: b.at.Sub(a.at).Seconds(), bits: bits}
	if b.frames >= a.frames {
		c.frames = b.frames - a.frames
	}
	return c
}

// perGbit is forwarder CPU seconds per gigabit moved.
func (c costRun) perGbit() (float64, bool) {
	if c.bits <= 0 {
		return math.NaN(), false
	}
	return c.cpu / (c.bits / 1e9), true
}

// perMframe is forwarder CPU seconds per million frames taken in, which is
// the same number as µs per frame.
func (c costRun) perMframe() (float64, bool) {
	if c.frames == 0 {
		return math.NaN(), false
	}
	return c.cpu / (float64(c.frames) / 1e6), true
}

// load is the forwarder's CPU time as a percentage of one CPU.
func (c costRun) load() (float64, bool) {
	if c.wall <= 0 {
		return math.NaN(), false
	}
	return 100 * c.cpu / c.wall, true
}

// costColumn collects one measure over runs, leaving out the runs where it
// is not defined.
func costColumn(runs []costRun, f func(costRun) (float64, bool)) []float64 {
	var v []float64
	for _, c := range runs {
		if x, ok := f(c); ok {
			v = append(v, x)
		}
	}
	return v
}

// Idle (issue 15: "an idle topology costs no CPU").
const (
	// idleSettle is how long the topology rests before the idle reading:
	// flows of the runs before it end, timers after them fire.
	idleSettle = 5 * time.Second
	// idleTarget is what counts as no CPU: 0.1 % of one CPU (60 ms in 60 s).
	idleTarget = 0.1
)

// idleResult is the forwarder's cost with the topology up and no traffic.
type idleResult struct {
	seconds int
	cost    costRun
}

func (r *idleResult) ms() float64 { return r.cost.cpu * 1e3 }

// pct is the idle CPU as a percentage of one CPU.
func (r *idleResult) pct() float64 {
	p, _ := r.cost.load()
	return p
}

// idleBench reads the forwarder's CPU time over secs seconds of no traffic.
// ready says that the bench topology is up; otherwise it is brought up here
// (with its iperf3 server in s1, idle, as after the figures) and taken down
// by the caller's cleanups.
func idleBench(ctx context.Context, c *cleanups, v *vpcnet, exe string, secs int, ready bool) (*idleResult, error) {
	if !ready {
		if err := upPlainPath(ctx, c, v, exe); err != nil {
			return nil, err
		}
	}
	cs, err := forwarderSets(ctx, v)
	if err != nil {
		return nil, err
	}
	logf("idle     forwarder pid %d: %.0f s to settle, then %d s with no traffic", cs.pid, idleSettle.Seconds(), secs)
	if err := pause(ctx, idleSettle); err != nil {
		return nil, err
	}
	a, err := readUsage(ctx, v, cs.pid, true)
	if err != nil {
		return nil, err
	}
	if err := pause(ctx, time.Duration(secs)*time.Second); err != nil {
		return nil, err
	}
	b, err := readUsage(ctx, v, cs.pid, false)
	if err != nil {
		return nil, err
	}
	r := &idleResult{seconds: secs, cost: between(a, b, 0)}
	logf("idle     %.0f ms of forwarder CPU in %.1f s (%.3f %% of one CPU), %d frames taken in",
		r.ms(), r.cost.wall, r.pct(), r.cost.frames)
	return r, nil
}
