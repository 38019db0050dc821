// Command bench measures vpcnet against the Linux kernel doing the same job
// between the same kind of namespaces, in the same run
// (../shared/performance.md), and writes BENCHMARKS.md.
//
// Usage (as root, from the repository root; `sudo make bench` builds
// bin/vpcnet and runs it through scripts/bench.sh):
//
//	go run ./scripts/bench [-runs 5] [-seconds 5] [-idle-seconds 60] [-only PART] [-out FILE]
//	go run ./scripts/bench api    # the same as -only api
//
// The environment gives the defaults: BENCH_RUNS (5), BENCH_SECONDS (5),
// BENCH_IDLE_SECONDS (60). The forwarder's knobs (VPCNET_IO,
// VPCNET_BUSYPOLL, …) pass through to the daemon and are named in the
// report (knobs.go).
//
// Each test runs -runs times, interleaved (kernel, vpcnet, kernel, vpcnet,
// …; TCP 1 stream and UDP 64 B at each placement of iperf3, place.go), and
// the report gives medians with the runs' min–max, and the forwarder's CPU
// time per gigabit and per million frames (cost.go). -only runs one part:
// "figures" both sides of every figure (the lab's quick run), "kernel" and
// "vpcnet" one side of every figure, "nat" both sides of the NAT figures,
// "idle" only the forwarder's CPU time with no traffic (cost.go), "ops"
// only the live operations (ops.go), "api" only the EC2 endpoint through
// the AWS SDK for Go (api.go), "observe" only the cost of capture and of
// /metrics scrapes (observe.go), "bringup" only the bring-up times,
// "gobench" only the Go per-packet benchmarks (gobench.go), "multi" only
// one VPC over three simulated machines (multi.go).
// The one argument NAME is -only NAME. A run with -only writes no file
// unless -out is given.
//
// Safety: everything happens inside namespaces this program creates (the
// kernel anchors, vbk<pid>-x) or that `vpcnet up` creates (vbench-…); the
// host namespace gets no address, route or firewall rule. Every namespace,
// server and topology is removed on return, on error and on SIGINT/SIGTERM.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const modulePath = "github.com/vpcnet/vpcnet"

type options struct {
	runs, seconds int
	idleSeconds   int // how long the idle part reads the forwarder's CPU time
	only          string
	out           string
	vpcnetBin     string
	root          string // the repository
	instances     []int  // sizes of the generated topologies whose bring-up is timed
}

func main() {
	if len(os.Args) > 1 {
		if sub, ok := subcommands[os.Args[1]]; ok {
			if err := sub(os.Args[2:]); err != nil {
				fmt.Fprintf(os.Stderr, "bench %s: %v\n", os.Args[1], err)
				os.Exit(1)
			}
			return
		}
	}
	os.Exit(benchMain())
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func benchMain() int {
	var o options
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	var defaults [3]int
	for i, e := range []struct {
		name string
		def  int
	}{{"BENCH_RUNS", 5}, {"BENCH_SECONDS", 5}, {"BENCH_IDLE_SECONDS", 60}} {
		v, err := envInt(e.name, e.def)
		if err != nil {
			return fail(err)
		}
		defaults[i] = v
	}
	flag.IntVar(&o.runs, "runs", defaults[0], "interleaved runs per test (the report gives medians); default $BENCH_RUNS or 5")
	flag.IntVar(&o.seconds, "seconds", defaults[1], "seconds per run; default $BENCH_SECONDS or 5")
	flag.IntVar(&o.idleSeconds, "idle-seconds", defaults[2], "seconds of the idle reading; default $BENCH_IDLE_SECONDS or 60")
	flag.StringVar(&o.only, "only", "", "one part: "+strings.Join(parts, ", ")+" (or give it as the one argument)")
	flag.StringVar(&o.out, "out", "", "report file (default: BENCHMARKS.md at the repository root; none with -only)")
	flag.StringVar(&o.vpcnetBin, "vpcnet", "", "the vpcnet binary (default: bin/vpcnet at the repository root)")
	instances := flag.String("instances", "10,50,100", "comma-separated sizes of the generated topologies whose bring-up is timed")
	flag.Parse()
	args := flag.Args()
	if len(args) == 1 && o.only == "" {
		o.only, args = args[0], nil // `scripts/bench.sh api`, `make bench BENCH=api`
	}
	switch {
	case len(args) > 0:
		return fail(fmt.Errorf("unexpected arguments %q (one part's name, or -only NAME)", args))
	case o.runs < 1 || o.seconds < 1 || o.idleSeconds < 1:
		return fail(errors.New("-runs, -seconds and -idle-seconds (BENCH_RUNS, BENCH_SECONDS, BENCH_IDLE_SECONDS) must be at least 1"))
	}
	for _, f := range strings.Split(*instances, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 250 {
			return fail(fmt.Errorf("-instances %q: want sizes of 1–250, comma-separated", *instances))
		}
		o.instances = append(o.instances, n)
	}
	if o.only != "" && !slices.Contains(parts, o.only) {
		return fail(fmt.Errorf("-only %q: want one of %s", o.only, strings.Join(parts, ", ")))
	}
	if err := checkEnvironment(); err != nil {
		return fail(err)
	}
	if err := acquireLock(); err != nil {
		return fail(err)
	}
	root, err := repoRoot()
	if err != nil {
		return fail(err)
	}
	o.root = root
	if o.vpcnetBin == "" {
		o.vpcnetBin = filepath.Join(root, "bin", "vpcnet")
	}
	if o.out == "" && o.only == "" {
		o.out = filepath.Join(root, "BENCHMARKS.md")
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A closed stdout or stderr (`| head`) must not kill the benchmark
	// before it has cleaned up: with SIGPIPE handled, writes fail instead.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "\n%v: stopping; removing namespaces and topologies…\n", s)
		cancel()
		for range sigs {
			fmt.Fprintln(os.Stderr, "still cleaning up, please wait")
		}
	}()

	var c cleanups
	defer c.runAll()

	rep, multi, err := bench(ctx, &c, o)
	c.runAll()
	if err != nil {
		if ctx.Err() != nil {
			return fail(errors.New("interrupted; everything it made is removed"))
		}
		return fail(err)
	}
	md := rep.markdown() + multi.markdown(o.runs)
	fmt.Print("\n" + rep.text() + multi.text(o.runs))
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(keepHandWritten(o.out, md)), 0o644); err != nil {
			return fail(err)
		}
		logf("wrote %s", o.out)
	}
	return 0
}

// parts are the names -only takes.
var parts = []string{"figures", "kernel", "vpcnet", "nat", "idle", "ops", "api", "observe", "bringup", "gobench", "multi"}

// envInt reads a whole number from the environment; def when unset.
func envInt(name string, def int) (int, error) {
	s, ok := os.LookupEnv(name)
	if !ok || strings.TrimSpace(s) == "" {
		return def, nil
	}
	v, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || v < 1 {
		return 0, fmt.Errorf("%s=%q: want a whole number, 1 or more", name, s)
	}
	return v, nil
}

// handWritten marks where BENCHMARKS.md's hand-written sections begin
// (figures measured by a test or by hand, each with its command): a new
// report keeps them.
const handWritten = "<!-- make bench keeps everything below this line: sections measured by tests or by hand, each with its command -->"

// keepHandWritten returns the new report md followed by the hand-written
// part of the report file at path, if it has one.
func keepHandWritten(path, md string) string {
	old, err := os.ReadFile(path)
	if err != nil {
		return md
	}
	_, tail, ok := strings.Cut(string(old), handWritten)
	if !ok {
		return md
	}
	return strings.TrimRight(md, "\n") + "\n\n" + handWritten + tail
}

// repoRoot finds the module's root from the working directory upwards.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if f, err := os.Open(filepath.Join(d, "go.mod")); err == nil {
			sc := bufio.NewScanner(f)
			first := ""
			if sc.Scan() {
				first = strings.TrimSpace(sc.Text())
			}
			f.Close()
			if first == "module "+modulePath {
				return d, nil
			}
		}
		if d == filepath.Dir(d) {
			return "", fmt.Errorf("run it inside the %s repository (no go.mod of it above %s)", modulePath, dir)
		}
	}
}

// bench sets up the paths that -only asks for, measures them, takes them
// down, then times the bring-ups, then measures one VPC over three
// simulated machines (multi.go; its section is the second result).
func bench(ctx context.Context, c *cleanups, o options) (*report, *multiResult, error) {
	rep, err := benchOne(ctx, c, o)
	if err != nil || (o.only != "" && o.only != "multi") {
		return rep, nil, err
	}
	// With nothing of the other parts running: they share the CPUs.
	c.runAll()
	if o.only == "" {
		if err := checkMultiTools(); err != nil {
			logf("multi: not measured: %v", err)
			return rep, nil, nil
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	v := &vpcnet{bin: o.vpcnetBin}
	if err := v.checkBinary(); err != nil {
		return nil, nil, err
	}
	if v.dir, err = os.MkdirTemp("", "vpcnet-bench-multi-"); err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(v.dir)
	multi, err := multiBench(ctx, v, exe, o)
	if err != nil {
		return nil, nil, fmt.Errorf("multi: %w", err)
	}
	return rep, multi, nil
}

// benchOne runs every part but multi.
func benchOne(ctx context.Context, c *cleanups, o options) (*report, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	rep := newReport(o)
	v := &vpcnet{bin: o.vpcnetBin}

	var sides []side
	switch o.only {
	case "", "figures", "nat":
		sides = []side{sideKernel, sideVpcnet}
	case "kernel":
		sides = []side{sideKernel}
	case "vpcnet":
		sides = []side{sideVpcnet}
	}
	var ts []test
	for _, t := range tests(exe) {
		if !slices.Contains([]string{"", "figures", "kernel", "vpcnet", "nat"}, o.only) || (o.only == "nat" && !t.nat) {
			continue
		}
		ts = append(ts, t)
	}
	needPlain, needNAT := false, false
	for _, t := range ts {
		needPlain = needPlain || !t.nat
		needNAT = needNAT || t.nat
	}
	useVpcnet := len(ts) > 0 && contains(sides, sideVpcnet)
	useKernel := len(ts) > 0 && contains(sides, sideKernel)
	doBringup := o.only == "" || o.only == "bringup"
	doOps := o.only == "" || o.only == "ops"
	doAPI := o.only == "" || o.only == "api"
	doObserve := o.only == "" || o.only == "observe"
	doIdle := o.only == "" || o.only == "idle"
	if useVpcnet || doBringup || doOps || doAPI || doObserve || doIdle {
		if err := v.checkBinary(); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "vpcnet-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir) // not a cleanup step: the bring-ups still need it after c.runAll
	v.dir = dir

	if err := removeStaleAnchors(ctx, commName(exe)); err != nil {
		return nil, err
	}
	clockTicks(ctx)

	// paths[side][nat]
	paths := map[side]map[bool]path{}
	if useKernel {
		logf("setting up the kernel anchors (%s-*)", anchorPrefix())
		kp, err := setupKernelAnchors(ctx, c, needPlain, needNAT)
		if err != nil {
			return nil, fmt.Errorf("kernel anchor: %w", err)
		}
		paths[sideKernel] = map[bool]path{false: kp.plain, true: kp.nat}
	}
	if useVpcnet {
		logf("bringing up topology %s with %s", benchTopology, v.bin)
		if err := upBenchTopology(ctx, c, v, exe); err != nil {
			return nil, err
		}
		plain, nat := benchPaths()
		paths[sideVpcnet] = map[bool]path{false: plain, true: nat}
	}
	// The placements' CPUs: the running forwarder's, or what the default
	// would give it when only the kernel is measured.
	rep.sets = defaultSets()
	if useVpcnet {
		if rep.sets, err = forwarderSets(ctx, v); err != nil {
			return nil, err
		}
	}

	// Servers, then a reachability check of every path that is measured.
	iperfPID := map[string]int{} // server namespace → its iperf3 server
	for _, s := range sides {
		for _, nat := range []bool{false, true} {
			if (nat && !needNAT) || (!nat && !needPlain) {
				continue
			}
			p := paths[s][nat]
			if iperfPID[p.server], err = startServers(c, exe, p.server, nat); err != nil {
				return nil, err
			}
			if err := reachable(ctx, exe, p, nat); err != nil {
				return nil, err
			}
		}
	}

	if len(ts) > 0 {
		before := map[side]map[string]int64{}
		for _, s := range sides {
			if before[s], err = sumCounters(ctx, paths[s], needPlain, needNAT); err != nil {
				return nil, err
			}
		}
		if err := runFigures(ctx, v, o, rep, ts, sides, paths, iperfPID); err != nil {
			return nil, err
		}
		for _, s := range sides {
			after, err := sumCounters(ctx, paths[s], needPlain, needNAT)
			if err != nil {
				return nil, err
			}
			rep.csum[s] = map[string]int64{}
			for _, k := range csumCounters {
				rep.csum[s][k] = after[k] - before[s][k]
			}
		}
		if useVpcnet {
			fmt.Fprintf(os.Stderr, "\n`vpcnet stats --topology %s` after the runs:\n%s\n", benchTopology, v.stats(ctx, benchTopology))
		}
	}
	// On the topology measured above when it is up, with its iperf3
	// server in s1; otherwise the first of liveOps and apiBench brings it
	// up.
	plainUp := useVpcnet && needPlain
	if doIdle {
		if rep.idle, err = idleBench(ctx, c, v, exe, o.idleSeconds, useVpcnet); err != nil {
			return nil, fmt.Errorf("idle: %w", err)
		}
		plainUp = true
	}
	if doOps {
		if rep.ops, err = liveOps(ctx, c, v, exe, plainUp); err != nil {
			return nil, fmt.Errorf("live operations: %w", err)
		}
		plainUp = true
	}
	if doAPI {
		if rep.api, err = apiBench(ctx, c, v, exe, o.runs, plainUp); err != nil {
			return nil, fmt.Errorf("EC2 endpoint: %w", err)
		}
		plainUp = true
	}
	if doObserve {
		if rep.observe, err = observeBench(ctx, c, v, exe, o.runs, o.seconds, plainUp); err != nil {
			return nil, fmt.Errorf("observability cost: %w", err)
		}
	}
	// Everything measured so far comes down before the bring-up timings.
	c.runAll()
	if doBringup {
		if err := bringups(ctx, c, v, o, rep); err != nil {
			return nil, err
		}
	}
	// Last, with nothing else running: the per-packet Go benchmarks.
	if o.only == "" || o.only == "gobench" {
		if rep.gobench, err = goBenchmarks(ctx, o.root); err != nil {
			return nil, fmt.Errorf("go benchmarks: %w", err)
		}
	}
	return rep, nil
}

// upBenchTopology writes and brings up the measured topology. A leftover of
// an earlier, killed run is taken down first.
func upBenchTopology(ctx context.Context, c *cleanups, v *vpcnet, exe string) error {
	data, err := benchTopologyJSON()
	if err != nil {
		return err
	}
	file, err := v.writeTopology(benchTopology, data)
	if err != nil {
		return err
	}
	if isUp(benchTopology) {
		logf("topology %s is left from an earlier run: taking it down", benchTopology)
		for _, x := range []string{"c1", "s1", "n1", "inet"} {
			killInNS(ctx, benchTopology+"-"+x, "iperf3", commName(exe))
		}
		if _, err := v.down(ctx, benchTopology); err != nil {
			return err
		}
	}
	c.push("vpcnet down "+benchTopology, func(ctx context.Context) error {
		_, err := v.down(ctx, benchTopology)
		return err
	})
	if _, err := v.up(ctx, file); err != nil {
		return fmt.Errorf("vpcnet up %s (topology file %s): %w", benchTopology, file, err)
	}
	// The knobs of a lab run must have reached the forwarder, or its
	// figures would be cited under the wrong name.
	cs, err := forwarderSets(ctx, v)
	if err != nil {
		return err
	}
	return checkKnobs(cs.pid, readKnobs(os.Environ()))
}

// runFigures measures every test of ts: -runs times, each run every
// placement of the test, each placement kernel then vpcnet (interleaved, so
// that the machine's drift falls on both alike). Around each vpcnet run it
// reads the forwarder's CPU time and frames (cost.go).
func runFigures(ctx context.Context, v *vpcnet, o options, rep *report, ts []test, sides []side,
	paths map[side]map[bool]path, iperfPID map[string]int) error {
	cs := rep.sets
	// The next part's flows (ops, api, observe) use the same servers: leave
	// them unpinned, whichever placement ran last.
	defer func() {
		for ns, pid := range iperfPID {
			if err := pinServer(pid, nil, cs.all); err != nil {
				logf("unpinning the iperf3 server in %s: %v", ns, err)
			}
		}
	}()
	total := 0
	for _, t := range ts {
		total += o.runs * len(cs.placements(t.placements)) * len(sides)
	}
	// About 0.7 s a run besides its seconds (measured): the pause,
	// iperf3's set-up and end, the readings.
	logf("%d runs of %d s: about %.0f minutes", total, o.seconds, float64(total)*(float64(o.seconds)+0.7)/60)
	step := 0
	for _, t := range ts {
		for r := 1; r <= o.runs; r++ {
			for _, pl := range cs.placements(t.placements) {
				for _, s := range sides {
					step++
					if err := pause(ctx, 500*time.Millisecond); err != nil {
						return err
					}
					p := paths[s][t.nat]
					p.pin = cs.cpus(pl)
					if t.iperf {
						if err := pinServer(iperfPID[p.server], p.pin, cs.all); err != nil {
							return fmt.Errorf("%s, placement %s: %w", t.name, pl, err)
						}
					}
					cost := s == sideVpcnet && cs.pid > 0
					var before usage
					if cost {
						var err error
						if before, err = readUsage(ctx, v, cs.pid, true); err != nil {
							return err
						}
					}
					f, err := t.run(ctx, p, o.seconds)
					if err != nil {
						return fmt.Errorf("%s, placement %s, run %d, %s: %w", t.name, pl, r, s, err)
					}
					rep.add(t, pl, s, f.vals)
					line := describe(t, f.vals)
					if cost {
						after, err := readUsage(ctx, v, cs.pid, false)
						if err != nil {
							return err
						}
						c := between(before, after, f.bits)
						rep.addCost(t, pl, c)
						load, _ := c.load()
						line += fmt.Sprintf("; forwarder %.2f CPU s (%.0f %%), %d frames", c.cpu, load, c.frames)
					}
					logf("[%d/%d] %-8s %-9s run %d/%d %-6s %s", step, total, t.name, pl, r, o.runs, s, line)
				}
			}
		}
	}
	return nil
}

// startServers starts iperf3 in ns, and the accept server for the NAT
// connection rate; each is stopped by PID at cleanup. It returns the
// iperf3 server's pid (`ip netns exec` execs it: the pid is iperf3's),
// which pinned placements set the affinity of.
func startServers(c *cleanups, exe, ns string, nat bool) (int, error) {
	servers := [][]string{{"Server listening", "iperf3", "-s", "-p", fmt.Sprint(iperfPort), "--forceflush"}}
	if nat {
		servers = append(servers, []string{"ready", exe, "serve-accept", acceptPorts})
	}
	pid := 0
	for i, s := range servers {
		b, err := startInNS(ns, s[0], s[1:]...)
		if err != nil {
			return 0, err
		}
		c.push("stop "+b.what, func(context.Context) error { b.stop(); return nil })
		if i == 0 {
			pid = b.cmd.Process.Pid
		}
	}
	return pid, nil
}

// sumCounters adds up the checksum-error counters of the namespaces at both
// ends of the measured paths of one side.
func sumCounters(ctx context.Context, ps map[bool]path, plain, nat bool) (map[string]int64, error) {
	sum := map[string]int64{}
	for _, isNAT := range []bool{false, true} {
		if (isNAT && !nat) || (!isNAT && !plain) {
			continue
		}
		for _, ns := range ps[isNAT].counterNS {
			m, err := readCounters(ctx, ns)
			if err != nil {
				return nil, err
			}
			for k, v := range m {
				sum[k] += v
			}
		}
	}
	return sum, nil
}

// bringups times `vpcnet up` and `vpcnet down` of the default network and
// of a generated topology, -runs times each.
func bringups(ctx context.Context, c *cleanups, v *vpcnet, o options, rep *report) error {
	type bringupCase struct {
		name, file, label string
	}
	cases := []bringupCase{
		{"ch5", "", "default network ch5 (`vpcnet up`, 2 instances, 2 internet hosts, NAT gateway, IGW)"},
	}
	for _, n := range o.instances {
		scaleName := fmt.Sprintf("vbench%d", n)
		data, err := scaleTopologyJSON(scaleName, n)
		if err != nil {
			return err
		}
		scaleFile, err := v.writeTopology(scaleName, data)
		if err != nil {
			return err
		}
		cases = append(cases, bringupCase{scaleName, scaleFile, fmt.Sprintf("generated, %d instances in 2 subnets", n)})
	}
	for _, k := range cases {
		b := bringupResult{label: k.label}
		if isUp(k.name) {
			b.skipped = fmt.Sprintf("topology %s was already up (not started by the benchmark): not timed", k.name)
			logf("%s", b.skipped)
			rep.bringup = append(rep.bringup, b)
			continue
		}
		for r := 1; r <= o.runs; r++ {
			c.push("vpcnet down "+k.name, func(ctx context.Context) error {
				_, err := v.down(ctx, k.name)
				return err
			})
			up, err := v.up(ctx, k.file)
			if err != nil {
				return fmt.Errorf("bring-up of %s: %w", k.name, err)
			}
			down, err := v.down(ctx, k.name)
			if err != nil {
				return fmt.Errorf("take-down of %s: %w", k.name, err)
			}
			c.forget() // taken down above
			b.up = append(b.up, up.Seconds())
			b.down = append(b.down, down.Seconds())
			logf("bring-up %-9s run %d/%d  up %.2f s, down %.2f s", k.name, r, o.runs, up.Seconds(), down.Seconds())
		}
		rep.bringup = append(rep.bringup, b)
	}
	return nil
}

// pause sleeps unless the benchmark is stopped.
func pause(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// commName is the name /proc/PID/comm shows for a program: its base name,
// at most 15 bytes.
func commName(exe string) string {
	b := filepath.Base(exe)
	if len(b) > 15 {
		b = b[:15]
	}
	return b
}

func contains(ss []side, s side) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
