// Command bench measures vpcnet against the Linux kernel doing the same job
// between the same kind of namespaces, in the same run
// (../shared/performance.md), and writes BENCHMARKS.md.
//
// Usage (as root, from the repository root; `sudo make bench` builds
// bin/vpcnet and runs it through scripts/bench.sh):
//
//	go run ./scripts/bench [-runs 3] [-seconds 5] [-only kernel|vpcnet|nat|ops|api|observe|bringup|gobench] [-out FILE]
//	go run ./scripts/bench api    # the same as -only api
//
// Each test runs -runs times, interleaved (kernel, vpcnet, kernel, vpcnet,
// …), and the report gives medians. -only runs one part: "kernel" and
// "vpcnet" measure one side of every figure, "nat" both sides of the NAT
// figures, "ops" only the live operations (ops.go), "api" only the EC2
// endpoint through the AWS SDK for Go (api.go), "observe" only the cost of
// capture and of /metrics scrapes (observe.go), "bringup" only the
// bring-up times, "gobench" only the Go per-packet benchmarks (gobench.go).
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
	"strconv"
	"strings"
	"syscall"
	"time"
)

const modulePath = "github.com/vpcnet/vpcnet"

type options struct {
	runs, seconds int
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
	flag.IntVar(&o.runs, "runs", 3, "interleaved runs per test (the report gives medians)")
	flag.IntVar(&o.seconds, "seconds", 5, "seconds per run")
	flag.StringVar(&o.only, "only", "", "one part: kernel, vpcnet, nat, ops, api, observe, bringup or gobench (or give it as the one argument)")
	flag.StringVar(&o.out, "out", "", "report file (default: BENCHMARKS.md at the repository root; none with -only)")
	flag.StringVar(&o.vpcnetBin, "vpcnet", "", "the vpcnet binary (default: bin/vpcnet at the repository root)")
	instances := flag.String("instances", "10,50,100", "comma-separated sizes of the generated topologies whose bring-up is timed")
	flag.Parse()
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	args := flag.Args()
	if len(args) == 1 && o.only == "" {
		o.only, args = args[0], nil // `scripts/bench.sh api`, `make bench BENCH=api`
	}
	switch {
	case len(args) > 0:
		return fail(fmt.Errorf("unexpected arguments %q (one part's name, or -only NAME)", args))
	case o.runs < 1 || o.seconds < 1:
		return fail(errors.New("-runs and -seconds must be at least 1"))
	}
	for _, f := range strings.Split(*instances, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 250 {
			return fail(fmt.Errorf("-instances %q: want sizes of 1–250, comma-separated", *instances))
		}
		o.instances = append(o.instances, n)
	}
	switch o.only {
	case "", "kernel", "vpcnet", "nat", "ops", "api", "observe", "bringup", "gobench":
	default:
		return fail(fmt.Errorf("-only %q: want kernel, vpcnet, nat, ops, api, observe, bringup or gobench", o.only))
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

	rep, err := bench(ctx, &c, o)
	c.runAll()
	if err != nil {
		if ctx.Err() != nil {
			return fail(errors.New("interrupted; everything it made is removed"))
		}
		return fail(err)
	}
	md := rep.markdown()
	fmt.Print("\n" + rep.text())
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(keepHandWritten(o.out, md)), 0o644); err != nil {
			return fail(err)
		}
		logf("wrote %s", o.out)
	}
	return 0
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
// down, then times the bring-ups.
func bench(ctx context.Context, c *cleanups, o options) (*report, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	rep := newReport(o)
	v := &vpcnet{bin: o.vpcnetBin}

	var sides []side
	switch o.only {
	case "", "nat":
		sides = []side{sideKernel, sideVpcnet}
	case "kernel":
		sides = []side{sideKernel}
	case "vpcnet":
		sides = []side{sideVpcnet}
	}
	var ts []test
	for _, t := range tests(exe) {
		if o.only == "bringup" || o.only == "ops" || o.only == "api" || o.only == "observe" || o.only == "gobench" || (o.only == "nat" && !t.nat) {
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
	if useVpcnet || doBringup || doOps || doAPI || doObserve {
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

	// Servers, then a reachability check of every path that is measured.
	for _, s := range sides {
		for _, nat := range []bool{false, true} {
			if (nat && !needNAT) || (!nat && !needPlain) {
				continue
			}
			p := paths[s][nat]
			if err := startServers(c, exe, p.server, nat); err != nil {
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
		for _, t := range ts {
			for r := 1; r <= o.runs; r++ {
				for _, s := range sides {
					if err := pause(ctx, 500*time.Millisecond); err != nil {
						return nil, err
					}
					vals, err := t.run(ctx, paths[s][t.nat], o.seconds)
					if err != nil {
						return nil, fmt.Errorf("%s, run %d, %s: %w", t.name, r, s, err)
					}
					rep.add(t, s, vals)
					logf("%-8s run %d/%d %-6s %s", t.name, r, o.runs, s, describe(t, vals))
				}
			}
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
	return nil
}

// startServers starts iperf3 in ns, and the accept server for the NAT
// connection rate; each is stopped by PID at cleanup.
func startServers(c *cleanups, exe, ns string, nat bool) error {
	servers := [][]string{{"Server listening", "iperf3", "-s", "-p", fmt.Sprint(iperfPort), "--forceflush"}}
	if nat {
		servers = append(servers, []string{"ready", exe, "serve-accept", acceptPorts})
	}
	for _, s := range servers {
		b, err := startInNS(ns, s[0], s[1:]...)
		if err != nil {
			return err
		}
		c.push("stop "+b.what, func(context.Context) error { b.stop(); return nil })
	}
	return nil
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
