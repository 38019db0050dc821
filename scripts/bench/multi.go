package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// More than one machine (issue 16, its "Measured" part). Three simulated
// machines, as test/multihost builds them: host namespaces <p>-h1…h3 whose
// ul0 (MTU 9100) is a veth to bridge br0 in <p>-ul, on 10.98.R.1–3/24; one
// etcd member on h1; one `vpcnet agent --netns <p>-hN` per machine, started
// in the root namespaces (its instances' namespaces must be seen by every
// process, so not under `ip netns exec`, which gives a mount namespace of
// its own). The network is network multiTopology, placed an AZ per machine:
//
//	h1 us-east-1a  subnet a 10.97.1.0/24  c1 10.97.1.10 (sg-open)    the sender
//	h2 us-east-1b  subnet b 10.97.2.0/24  s1 10.97.2.10 (sg-open)    the iperf3 server
//	h3 us-east-1c  subnet c 10.97.3.0/24  d1 10.97.3.10 (sg-target)  refuses TCP 7000 until authorized
//
// It measures, in one run:
//
//  1. TCP 1 stream and UDP 64 B, c1 (h1) → s1 (h2), against the kernel's
//     own tunnel between the same host namespaces, interleaved (kernel,
//     vpcnet, kernel, vpcnet, …). This kernel has no geneve
//     (CONFIG_GENEVE unset) but has VXLAN, so the anchor is
//     <p>-ka —veth— h1[bridge: veth + vxlan] ==underlay== h2[bridge: vxlan
//     + veth] —veth— <p>-kb, at the instances' MTU.
//  2. An API call through h2's agent → traffic on h3 following it:
//     authorize TCP 7000 from subnet a into sg-target, time until c1's
//     connection to d1:7000 succeeds; revoke, time until new connections
//     are refused; multiSGSamples of each.
//  3. `vpcnet up` of multiScaleInstances instances over the three machines
//     (the store write) until every agent reports all its instances built,
//     against the single-machine `vpcnet up` of the same instances.

const (
	// multiTopology is the distributed network's name: its instances'
	// namespaces are vbmulti-<instance>. The agents run this network, the
	// measured one and then the scale one in turn.
	multiTopology = "vbmulti"
	// multiSingle is the single-machine topology of the scale comparison.
	multiSingle = "vbmulti1"
	// multiScaleInstances are spread evenly over the three zones.
	multiScaleInstances = 300
	// multiSGSamples is how many authorize and revoke calls are timed.
	multiSGSamples = 30
	// multiSGPort is the port sg-target refuses until it is authorized.
	multiSGPort = 7000
	// multiPollEvery is how often the watcher starts a connection attempt;
	// multiDialTimeout is how long one attempt waits (a refused SYN is
	// dropped, not answered, SG-1); multiRefusedRun consecutive failed
	// attempts mean the port is closed.
	multiPollEvery   = 2 * time.Millisecond
	multiDialTimeout = 200 * time.Millisecond
	multiRefusedRun  = 10
	// multiWatchLimit bounds one wait for the port to open or close.
	multiWatchLimit = 10 * time.Second
	// vxlanID and vxlanPort are the kernel anchor's tunnel (IANA's port).
	vxlanID   = 4242
	vxlanPort = 4789
)

// multiHosts are the simulated machines, in the order of their underlay
// addresses (h1 is .1).
var multiHosts = []string{"h1", "h2", "h3"}

// multiZones maps each machine to its zone, and the zone's subnet.
var multiZones = []struct{ host, az, subnet, cidr string }{
	{"h1", "us-east-1a", "a", "10.97.1.0/24"},
	{"h2", "us-east-1b", "b", "10.97.2.0/24"},
	{"h3", "us-east-1c", "c", "10.97.3.0/24"},
}

// The measured instances' addresses.
const (
	multiC1 = "10.97.1.10"
	multiS1 = "10.97.2.10"
	multiD1 = "10.97.3.10"
)

// multiResult is what the part measured. Throughput slices hold one value
// per run, kernel and vpcnet of run i measured one right after the other.
type multiResult struct {
	seconds  int
	prefix   string // the lab's namespaces
	underlay string // 10.98.R.0/24
	mtu      int    // the instances' eth0 MTU, the anchor's as well
	loads    []string

	tcpK, tcpV   []float64 // Gbps received
	retrK, retrV []float64 // sender's retransmits per run
	udpK, udpV   []float64 // kpps received
	agentCPU     []float64 // CPU s of the h1 and h2 agents per TCP run
	agentGbit    []float64 // the same per Gbit received

	authFlow, authAnswer     []float64 // ms from the call's start
	revokeFlow, revokeAnswer []float64

	upMulti, downMulti   []float64 // s
	upSingle, downSingle []float64
	storeWrite           []float64 // s of `vpcnet up` itself (the store write)
	nsAtBuilt            []float64 // instance namespaces present when the last machine reported built
	perHost              map[string][]float64
}

// multiLab is the three simulated machines with etcd and the agents.
type multiLab struct {
	p      string // namespace prefix
	r      int    // underlay 10.98.r.0/24
	dir    string // etcd's data and the agents' logs
	bin    string
	url    string // etcd://IP:2379
	agents map[string]*exec.Cmd
}

func (l *multiLab) ns(x string) string { return l.p + "-" + x }

// ip is machine h's underlay address.
func (l *multiLab) ip(h string) string {
	for i, x := range multiHosts {
		if x == h {
			return fmt.Sprintf("10.98.%d.%d", l.r, i+1)
		}
	}
	panic("no machine " + h)
}

// multiRunDir is machine h's agent state folder (socket, logs).
func multiRunDir(h string) string { return "/run/vpcnet-bench-" + h }

// staleMulti matches the lab namespaces of any benchmark run.
var staleMulti = regexp.MustCompile(`^vbm[0-9]+-(ul|h[1-3]|ka|kb)$`)

// multiTools are what this part runs besides the benchmark's own tools.
var multiTools = []string{"etcd", "etcdctl", "nsenter"}

// checkMultiTools fails with the package to install when one is missing.
func checkMultiTools() error {
	for _, t := range multiTools {
		if _, err := exec.LookPath(t); err != nil {
			return fmt.Errorf("the multi part needs %s (apt-get install etcd-server etcd-client util-linux): %w", t, err)
		}
	}
	return nil
}

// multiBench runs the whole part. Everything it makes is removed before it
// returns, on error and on a cancelled ctx as well.
func multiBench(ctx context.Context, v *vpcnet, exe string, o options) (*multiResult, error) {
	if err := checkMultiTools(); err != nil {
		return nil, err
	}
	var c cleanups
	defer c.runAll()
	removeStaleMulti(ctx, v, exe)
	res := &multiResult{seconds: o.seconds, perHost: map[string][]float64{}}
	res.loads = append(res.loads, loadAvg("start"))
	l, err := newMultiLab(ctx, &c, v)
	if err != nil {
		return nil, err
	}
	res.prefix, res.underlay = l.p, fmt.Sprintf("10.98.%d.0/24", l.r)
	fail := func(err error) (*multiResult, error) {
		l.logTails()
		return nil, err
	}
	if err := l.measureFlows(ctx, v, exe, o, res); err != nil {
		return fail(err)
	}
	res.loads = append(res.loads, loadAvg("after the flows and calls"))
	if err := l.measureScale(ctx, v, o.runs, res); err != nil {
		return fail(err)
	}
	res.loads = append(res.loads, loadAvg("end"))
	return res, nil
}

// loadAvg is `uptime`'s load averages, labelled, for the report: other
// work on the machine shows in them.
func loadAvg(when string) string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return when + ": load not known"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return when + ": load not known"
	}
	return fmt.Sprintf("%s %s: load %s %s %s", when, time.Now().Format("15:04"), f[0], f[1], f[2])
}

// removeStaleMulti removes what a killed run left: its lab namespaces
// (with etcd, iperf3 and the benchmark's servers in them, killed by PID),
// the distributed network's instance namespaces, the single-machine scale
// topology and the agents' state folders. The agents themselves die with
// the benchmark (Pdeathsig). Called with the benchmark's lock held.
func removeStaleMulti(ctx context.Context, v *vpcnet, exe string) {
	names, _ := namespaces(ctx)
	for _, ns := range names {
		if staleMulti.MatchString(ns) || strings.HasPrefix(ns, multiTopology+"-") {
			fmt.Fprintf(os.Stderr, "removing namespace %s left by an earlier run\n", ns)
			killInNS(ctx, ns, "etcd", "iperf3", commName(exe))
			deleteNS(ctx, ns)
		}
	}
	if isUp(multiSingle) {
		logf("topology %s is left from an earlier run: taking it down", multiSingle)
		v.down(ctx, multiSingle)
	}
	for _, h := range multiHosts {
		os.RemoveAll(multiRunDir(h))
	}
}

// newMultiLab builds the underlay, starts etcd on h1 and an agent per
// machine; every step's undo is pushed on c.
func newMultiLab(ctx context.Context, c *cleanups, v *vpcnet) (*multiLab, error) {
	l := &multiLab{p: fmt.Sprintf("vbm%d", os.Getpid()), r: 1 + os.Getpid()%250, dir: v.dir, bin: v.bin, agents: map[string]*exec.Cmd{}}
	l.url = "etcd://" + l.ip("h1") + ":2379"
	logf("multi: machines %s-h1…h3 on underlay 10.98.%d.0/24, etcd on h1, an agent each", l.p, l.r)
	if err := newNS(ctx, c, l.ns("ul")); err != nil {
		return nil, err
	}
	if err := ipNS(ctx, l.ns("ul"), "link", "add", "br0", "mtu", "9100", "type", "bridge"); err != nil {
		return nil, err
	}
	if err := ipNS(ctx, l.ns("ul"), "link", "set", "br0", "up"); err != nil {
		return nil, err
	}
	for i, h := range multiHosts {
		ns, port := l.ns(h), fmt.Sprintf("v%d", i+1)
		if err := newNS(ctx, c, ns); err != nil {
			return nil, err
		}
		for _, s := range [][]string{
			{ns, "link", "add", "ul0", "mtu", "9100", "type", "veth", "peer", "name", port, "mtu", "9100", "netns", l.ns("ul")},
			{ns, "addr", "add", l.ip(h) + "/24", "dev", "ul0"},
			{ns, "link", "set", "ul0", "up"},
			{l.ns("ul"), "link", "set", port, "master", "br0"},
			{l.ns("ul"), "link", "set", port, "up"},
		} {
			if err := ipNS(ctx, s[0], s[1:]...); err != nil {
				return nil, err
			}
		}
	}
	for _, h := range multiHosts[1:] {
		if err := waitFor(ctx, 10*time.Second, func() bool {
			_, err := inNS(ctx, l.ns("h1"), "ping", "-n", "-c1", "-W1", l.ip(h))
			return err == nil
		}); err != nil {
			return nil, fmt.Errorf("underlay: h1 cannot ping %s (%s): %w", h, l.ip(h), err)
		}
	}
	if err := l.startEtcd(ctx, c); err != nil {
		return nil, err
	}
	// Anything of the network's that the agents leave behind, after they
	// stopped (pushed first, runs after them).
	c.push("remove namespaces of "+multiTopology, func(ctx context.Context) error {
		return removeTopologyNS(ctx, multiTopology)
	})
	for _, h := range multiHosts {
		if err := l.startAgent(c, h); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// startEtcd runs one etcd member on h1's underlay address, its data in the
// temporary folder, and waits until it answers.
func (l *multiLab) startEtcd(ctx context.Context, c *cleanups) error {
	ip := l.ip("h1")
	b, err := startInNS(l.ns("h1"), "", "etcd", "--name", "m1", "--data-dir", filepath.Join(l.dir, "etcd"),
		"--listen-client-urls", "http://"+ip+":2379", "--advertise-client-urls", "http://"+ip+":2379",
		"--listen-peer-urls", "http://"+ip+":2380", "--initial-advertise-peer-urls", "http://"+ip+":2380",
		"--initial-cluster", "m1=http://"+ip+":2380", "--log-level", "warn")
	if err != nil {
		return err
	}
	c.push("stop "+b.what, func(context.Context) error { b.stop(); return nil })
	return waitFor(ctx, 20*time.Second, func() bool {
		_, err := l.etcdctl(ctx, "endpoint", "health")
		return err == nil
	})
}

// etcdctl runs etcdctl against the lab's member, from h1's namespace
// (nsenter --net: no mount namespace of its own to set up, for polling).
func (l *multiLab) etcdctl(ctx context.Context, args ...string) (string, error) {
	return run(ctx, "", "nsenter", append([]string{"--net=/run/netns/" + l.ns("h1"), "--", "etcdctl",
		"--endpoints", "http://" + l.ip("h1") + ":2379", "--dial-timeout", "2s", "--command-timeout", "5s"}, args...)...)
}

// startAgent starts machine h's agent in the root namespaces, its output
// to a log file; it stops by PID (SIGTERM, SIGKILL after 10 s) and its
// state folder is removed after.
func (l *multiLab) startAgent(c *cleanups, h string) error {
	f, err := os.Create(l.agentLog(h))
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.Command(l.bin, "agent", "--netns", l.ns(h), "--store", l.url, "--host", h,
		"--topology", multiTopology, "--underlay", l.ip(h), "--run-dir", multiRunDir(h))
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = childAttr()
	c.push("remove "+multiRunDir(h), func(context.Context) error { return os.RemoveAll(multiRunDir(h)) })
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the agent of %s: %w", h, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	l.agents[h] = cmd
	c.push(fmt.Sprintf("stop the agent of %s (pid %d)", h, cmd.Process.Pid), func(context.Context) error {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
			return nil
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
			return fmt.Errorf("no exit 10 s after SIGTERM: killed")
		}
	})
	return nil
}

func (l *multiLab) agentLog(h string) string { return filepath.Join(l.dir, "agent-"+h+".log") }

// logTails shows the end of every agent's log, after a failure.
func (l *multiLab) logTails() {
	for _, h := range multiHosts {
		b, _ := os.ReadFile(l.agentLog(h))
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(lines) > 20 {
			lines = lines[len(lines)-20:]
		}
		fmt.Fprintf(os.Stderr, "---- agent %s, last lines of its log ----\n%s\n", h, strings.Join(lines, "\n"))
	}
}

// removeTopologyNS kills (by PID) whatever runs in the namespaces of
// topology name and deletes them: they are the benchmark's own.
func removeTopologyNS(ctx context.Context, name string) error {
	names, err := namespaces(ctx)
	if err != nil {
		return err
	}
	for _, ns := range names {
		if !strings.HasPrefix(ns, name+"-") {
			continue
		}
		if out, err := run(ctx, "", "ip", "netns", "pids", ns); err == nil {
			for _, f := range strings.Fields(out) {
				if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		if err := deleteNS(ctx, ns); err != nil {
			return err
		}
	}
	return nil
}

// storeUp stores a distributed topology with `vpcnet up` on h1 and returns
// the revision it was created at and how long the call took.
func (l *multiLab) storeUp(ctx context.Context, file string) (int64, time.Duration, error) {
	start := time.Now()
	out, err := inNS(ctx, l.ns("h1"), l.bin, "up", file)
	d := time.Since(start)
	if err != nil {
		return 0, d, err
	}
	rev, ok := parseUpRevision(out)
	if !ok {
		return 0, d, fmt.Errorf("vpcnet up %s printed no revision: %q", file, out)
	}
	return rev, d, nil
}

// storeDown takes the network out of the store; the agents take their
// parts down as they see it go.
func (l *multiLab) storeDown(ctx context.Context) error {
	_, err := inNS(ctx, l.ns("h1"), l.bin, "down", "--store", l.url, multiTopology)
	return err
}

// upRevision is the revision in `vpcnet up`'s answer for a distributed
// network: "network N is in the store at URL (revision R); …".
var upRevision = regexp.MustCompile(`is in the store at \S+ \(revision (\d+)\)`)

func parseUpRevision(out string) (int64, bool) {
	m := upRevision.FindStringSubmatch(out)
	if m == nil {
		return 0, false
	}
	r, err := strconv.ParseInt(m[1], 10, 64)
	return r, err == nil
}

// appliedDoc is one machine's /vpcnet/applied/<topology>/<host> value
// (store.Applied).
type appliedDoc struct {
	Revision  int64    `json:"revision"`
	Instances []string `json:"instances"`
}

// builtHosts reads the values of /vpcnet/applied/<topology>/ (etcdctl
// --print-value-only, one JSON document after another) and returns the
// machines whose report runs revision rev or later with want[host]
// instances. Machines are named by the key, which the values do not hold:
// keys and values alternate (etcdctl without --print-value-only).
func builtHosts(out string, rev int64, want map[string]int) (map[string]bool, error) {
	done := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	var key string
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if key == "" {
			key = line
			continue
		}
		var a appliedDoc
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			return nil, fmt.Errorf("applied value of %s: %w", key, err)
		}
		h := key[strings.LastIndexByte(key, '/')+1:]
		if n, ok := want[h]; ok && a.Revision >= rev && len(a.Instances) == n {
			done[h] = true
		}
		key = ""
	}
	return done, sc.Err()
}

// waitBuilt polls the machines' applied reports until every machine of
// want runs revision rev with its instances; it returns when each machine
// got there, from start.
func (l *multiLab) waitBuilt(ctx context.Context, start time.Time, rev int64, want map[string]int, limit time.Duration) (map[string]time.Duration, error) {
	at := map[string]time.Duration{}
	deadline := start.Add(limit)
	for {
		out, err := l.etcdctl(ctx, "get", "--prefix", "/vpcnet/applied/"+multiTopology+"/")
		if err == nil {
			done, perr := builtHosts(out, rev, want)
			if perr != nil {
				return nil, perr
			}
			for h := range done {
				if _, ok := at[h]; !ok {
					at[h] = time.Since(start)
				}
			}
			if len(at) == len(want) {
				return at, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%v after up (revision %d), machines built: %v of %v (last etcdctl error: %v)", limit, rev, at, want, err)
		}
		if err := pause(ctx, 50*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// scaleInstanceNS matches the namespace of a scale instance (i001…).
var scaleInstanceNS = regexp.MustCompile(`^` + multiTopology + `-i[0-9]{3}$`)

// waitGone waits until no namespace of topology name is left.
func waitGone(ctx context.Context, name string, limit time.Duration) error {
	return waitFor(ctx, limit, func() bool {
		names, err := namespaces(ctx)
		if err != nil {
			return false
		}
		for _, ns := range names {
			if strings.HasPrefix(ns, name+"-") {
				return false
			}
		}
		return true
	})
}

// waitFor polls ok every 50 ms until it holds, limit passes or ctx ends.
func waitFor(ctx context.Context, limit time.Duration, ok func() bool) error {
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not so after %v", limit)
		}
		if err := pause(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// multiTopologyJSON is the distributed network (store != "") or the same
// network on one machine. perZone == 0 gives the measured instances c1, s1
// and d1; otherwise perZone instances in each zone's subnet, named
// i001…, for the bring-up time.
func multiTopologyJSON(name, store string, perZone int) ([]byte, error) {
	var subnets, insts []j
	for zi, z := range multiZones {
		subnets = append(subnets, j{"name": z.subnet, "cidr": z.cidr, "az": z.az})
		for k := 1; k <= perZone; k++ {
			insts = append(insts, j{"name": fmt.Sprintf("i%03d", zi*perZone+k), "subnet": z.subnet,
				"security_groups": []string{"sg-open"}})
		}
	}
	if perZone == 0 {
		insts = []j{
			{"name": "c1", "subnet": "a", "private_ip": multiC1, "security_groups": []string{"sg-open"}},
			{"name": "s1", "subnet": "b", "private_ip": multiS1, "security_groups": []string{"sg-open"}},
			{"name": "d1", "subnet": "c", "private_ip": multiD1, "security_groups": []string{"sg-target"}},
		}
	}
	topo := j{
		"name":   name,
		"region": "us-east-1",
		"vpcs": []j{{
			"name":    "multi-vpc",
			"cidr":    "10.97.0.0/16",
			"subnets": subnets,
			"security_groups": []j{
				{"name": "sg-open", "ingress": []j{
					{"protocol": "tcp", "ports": fmt.Sprint(iperfPort), "source": "10.97.0.0/16"},
					{"protocol": "udp", "ports": fmt.Sprint(iperfPort), "source": "10.97.0.0/16"},
					{"protocol": "icmp", "source": "10.97.0.0/16"}}},
				// TCP 7000 refused until the API call authorizes it.
				{"name": "sg-target", "ingress": []j{{"protocol": "icmp", "source": "10.97.0.0/16"}}},
			},
			"instances": insts,
		}},
	}
	if store != "" {
		zones := j{}
		for _, z := range multiZones {
			zones[z.az] = z.host
		}
		topo["settings"] = j{"store": store, "placement": j{"zones": zones, "internet": "h3"}}
	}
	return json.MarshalIndent(topo, "", "  ")
}

// multiPaths are the two measured paths: the kernel's VXLAN and vpcnet's.
func (l *multiLab) multiPaths() (kernel, vpc path) {
	kernel = path{side: sideKernel, client: l.ns("ka"), server: l.ns("kb"), addr: "192.168.97.2",
		counterNS: []string{l.ns("ka"), l.ns("kb")}}
	ns := func(x string) string { return multiTopology + "-" + x }
	vpc = path{side: sideVpcnet, client: ns("c1"), server: ns("s1"), addr: multiS1, counterNS: []string{ns("c1"), ns("s1")}}
	return kernel, vpc
}

// setupVXLAN builds the kernel anchor between h1 and h2 at mtu: an L2
// segment, <p>-ka —veth— bridge kbr with vxlan kvx on h1, the same on h2
// to <p>-kb. Everything is in the lab's namespaces.
func (l *multiLab) setupVXLAN(ctx context.Context, c *cleanups, mtu int) error {
	m := strconv.Itoa(mtu)
	ends := []struct{ host, peer, ns, addr string }{
		{"h1", "h2", l.ns("ka"), "192.168.97.1/24"},
		{"h2", "h1", l.ns("kb"), "192.168.97.2/24"},
	}
	for _, e := range ends {
		h := l.ns(e.host)
		if err := newNS(ctx, c, e.ns); err != nil {
			return err
		}
		for _, s := range [][]string{
			{e.ns, "link", "add", "eth0", "mtu", m, "type", "veth", "peer", "name", "kv", "mtu", m, "netns", h},
			{e.ns, "addr", "add", e.addr, "dev", "eth0"},
			{e.ns, "link", "set", "eth0", "up"},
			{h, "link", "add", "kvx", "type", "vxlan", "id", strconv.Itoa(vxlanID), "local", l.ip(e.host),
				"remote", l.ip(e.peer), "dstport", strconv.Itoa(vxlanPort), "dev", "ul0"},
			{h, "link", "set", "kvx", "mtu", m},
			{h, "link", "add", "kbr", "type", "bridge"},
			{h, "link", "set", "kv", "master", "kbr"},
			{h, "link", "set", "kvx", "master", "kbr"},
			{h, "link", "set", "kv", "up"},
			{h, "link", "set", "kvx", "up"},
			{h, "link", "set", "kbr", "up"},
		} {
			if err := ipNS(ctx, s[0], s[1:]...); err != nil {
				return fmt.Errorf("kernel VXLAN anchor: %w", err)
			}
		}
	}
	// The host namespaces are deleted with the lab; the devices go with
	// them. Removed here already so that the scale part runs without them.
	c.push("remove the VXLAN anchor's devices", func(ctx context.Context) error {
		for _, h := range []string{"h1", "h2"} {
			ipNS(ctx, l.ns(h), "link", "del", "kbr")
			ipNS(ctx, l.ns(h), "link", "del", "kvx")
		}
		return nil
	})
	return nil
}

// instanceMTU is eth0's MTU in an instance's namespace.
func instanceMTU(ctx context.Context, ns string) (int, error) {
	out, err := inNS(ctx, ns, "cat", "/sys/class/net/eth0/mtu")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(out))
}

// measureFlows brings up the measured network, then runs the throughput
// (1) and the API-to-traffic (2) measurements; it takes the network down
// again before it returns.
func (l *multiLab) measureFlows(ctx context.Context, v *vpcnet, exe string, o options, res *multiResult) error {
	var c cleanups
	defer c.runAll()
	data, err := multiTopologyJSON(multiTopology, l.url, 0)
	if err != nil {
		return err
	}
	file, err := v.writeTopology(multiTopology, data)
	if err != nil {
		return err
	}
	c.push("vpcnet down --store "+multiTopology, func(ctx context.Context) error {
		if err := l.storeDown(ctx); err != nil {
			return err
		}
		return waitGone(ctx, multiTopology, 30*time.Second)
	})
	start := time.Now()
	rev, _, err := l.storeUp(ctx, file)
	if err != nil {
		return err
	}
	if _, err := l.waitBuilt(ctx, start, rev, map[string]int{"h1": 1, "h2": 1, "h3": 1}, time.Minute); err != nil {
		return err
	}
	if out, err := inNS(ctx, l.ns("h1"), v.bin, "status", "--store", l.url, multiTopology); err == nil {
		fmt.Fprintf(os.Stderr, "%s\n", strings.TrimSpace(out))
	}
	kp, vp := l.multiPaths()
	if res.mtu, err = instanceMTU(ctx, vp.client); err != nil {
		return fmt.Errorf("the MTU of c1's eth0: %w", err)
	}
	if err := l.setupVXLAN(ctx, &c, res.mtu); err != nil {
		return err
	}
	iperfPID := map[side]int{}
	for _, p := range []path{kp, vp} {
		if iperfPID[p.side], err = startServers(&c, exe, p.server, false); err != nil {
			return err
		}
		if err := reachable(ctx, exe, p, false); err != nil {
			return err
		}
	}
	if err := l.flowRuns(ctx, o, kp, vp, res); err != nil {
		return err
	}
	return l.sgRuns(ctx, &c, v, exe, res)
}

// flowRuns measures TCP 1 stream and UDP 64 B -runs times, kernel then
// vpcnet in each (interleaved), and the h1 and h2 agents' CPU time over
// each vpcnet TCP run.
func (l *multiLab) flowRuns(ctx context.Context, o options, kp, vp path, res *multiResult) error {
	total := 4 * o.runs
	logf("multi: %d runs of %d s, about %.0f minutes", total, o.seconds, float64(total)*(float64(o.seconds)+0.7)/60)
	step := 0
	for r := 1; r <= o.runs; r++ {
		for _, udp := range []bool{false, true} {
			for _, p := range []path{kp, vp} {
				step++
				if err := pause(ctx, 500*time.Millisecond); err != nil {
					return err
				}
				cpu0, _ := l.agentsCPU("h1", "h2")
				var f flow
				var err error
				if udp {
					f, err = iperfUDP64(ctx, p, o.seconds)
				} else {
					f, err = iperfTCP(ctx, p, o.seconds, 1)
				}
				if err != nil {
					return fmt.Errorf("multi, %s run %d: %w", p.side, r, err)
				}
				cpu1, cerr := l.agentsCPU("h1", "h2")
				name, line := "udp64", fmt.Sprintf("%.0f kpps", f.vals[0])
				if !udp {
					name, line = "tcp1", fmt.Sprintf("%.2f Gbps, %.0f retransmits", f.vals[0], f.vals[1])
				}
				switch {
				case udp && p.side == sideKernel:
					res.udpK = append(res.udpK, f.vals[0])
				case udp:
					res.udpV = append(res.udpV, f.vals[0])
				case p.side == sideKernel:
					res.tcpK, res.retrK = append(res.tcpK, f.vals[0]), append(res.retrK, f.vals[1])
				default:
					res.tcpV, res.retrV = append(res.tcpV, f.vals[0]), append(res.retrV, f.vals[1])
					if cerr == nil && f.bits > 0 {
						res.agentCPU = append(res.agentCPU, cpu1-cpu0)
						res.agentGbit = append(res.agentGbit, (cpu1-cpu0)/(f.bits/1e9))
						line += fmt.Sprintf("; agents h1+h2 %.2f CPU s", cpu1-cpu0)
					}
				}
				logf("[%d/%d] multi %-6s run %d/%d %-6s %s", step, total, name, r, o.runs, p.side, line)
			}
		}
	}
	return nil
}

// agentsCPU is the CPU time the agents of hosts have used so far.
func (l *multiLab) agentsCPU(hosts ...string) (float64, error) {
	sum := 0.0
	for _, h := range hosts {
		cmd := l.agents[h]
		if cmd == nil {
			return 0, fmt.Errorf("no agent on %s", h)
		}
		s, err := cpuSeconds(cmd.Process.Pid)
		if err != nil {
			return 0, err
		}
		sum += s
	}
	return sum, nil
}

// sgOp runs an EC2 operation on sg-target's TCP 7000 from subnet a
// through h2's agent.
func (l *multiLab) sgOp(ctx context.Context, v *vpcnet, op string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, v.bin, op, "--topology", multiTopology, "--group-id", "sg-target",
		"--protocol", "tcp", "--port", strconv.Itoa(multiSGPort), "--cidr", multiZones[0].cidr)
	cmd.Env = append(os.Environ(), "VPCNET_RUN_DIR="+multiRunDir("h2"))
	_, err := runCmd(ctx, cmd, "")
	return err
}

// sgRuns times multiSGSamples authorize and revoke calls through h2's
// agent until c1 (h1) reaches d1:7000 (h3), or no longer does.
func (l *multiLab) sgRuns(ctx context.Context, c *cleanups, v *vpcnet, exe string, res *multiResult) error {
	target := net.JoinHostPort(multiD1, strconv.Itoa(multiSGPort))
	srv, err := startInNS(multiTopology+"-d1", "ready", exe, "serve-accept", strconv.Itoa(multiSGPort))
	if err != nil {
		return err
	}
	c.push("stop "+srv.what, func(context.Context) error { srv.stop(); return nil })
	w, err := startWatcher(c, multiTopology+"-c1", exe, target)
	if err != nil {
		return err
	}
	// Refused before the first call, or the first sample means nothing.
	if _, err := w.wait(ctx, "closed"); err != nil {
		return fmt.Errorf("c1 → %s before any authorize: %w", target, err)
	}
	logf("multi: %d × authorize then revoke TCP %d into sg-target through h2's agent, c1 (h1) → d1 (h3)", multiSGSamples, multiSGPort)
	for i := 1; i <= multiSGSamples; i++ {
		for _, op := range []string{"authorize-security-group-ingress", "revoke-security-group-ingress"} {
			want := "open"
			if strings.HasPrefix(op, "revoke") {
				want = "closed"
			}
			start, err := w.begin(want)
			if err != nil {
				return err
			}
			if err := l.sgOp(ctx, v, op); err != nil {
				return err
			}
			answered := time.Since(start)
			at, err := w.result(ctx)
			if err != nil {
				return fmt.Errorf("%s, sample %d: waiting for c1 → %s to be %s: %w", op, i, target, want, err)
			}
			flowMs, answerMs := float64(at.Sub(start))/1e6, float64(answered)/1e6
			if want == "open" {
				res.authFlow, res.authAnswer = append(res.authFlow, flowMs), append(res.authAnswer, answerMs)
			} else {
				res.revokeFlow, res.revokeAnswer = append(res.revokeFlow, flowMs), append(res.revokeAnswer, answerMs)
			}
			if i == 1 || i%10 == 0 {
				logf("multi: %s %d/%d: answered %.0f ms, traffic %s %.0f ms after the call", op, i, multiSGSamples, answerMs, want, flowMs)
			}
		}
	}
	return nil
}

// watcher is the benchmark's connect-watch running in an instance: told
// "open" or "closed" on its input, it polls and answers when the port got
// so (connectWatch).
type watcher struct {
	in    io.WriteCloser
	lines chan string
}

func startWatcher(c *cleanups, ns, exe, target string) (*watcher, error) {
	cmd := exec.Command("ip", "netns", "exec", ns, exe, "connect-watch", target)
	cmd.SysProcAttr = childAttr()
	var errb bytes.Buffer
	cmd.Stderr = &errb
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan struct{})
	w := &watcher{in: in, lines: make(chan string, 16)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			w.lines <- sc.Text()
		}
		cmd.Wait()
		close(w.lines)
		close(done)
	}()
	c.push(fmt.Sprintf("stop connect-watch in %s (pid %d)", ns, cmd.Process.Pid), func(context.Context) error {
		in.Close()
		cmd.Process.Kill()
		<-done
		return nil
	})
	if l, ok := <-w.lines; !ok || l != "ready" {
		return nil, fmt.Errorf("connect-watch in %s: %q: %s", ns, l, strings.TrimSpace(errb.String()))
	}
	return w, nil
}

// begin asks the watcher to wait for want ("open" or "closed") and returns
// once it polls: the call to time starts then.
func (w *watcher) begin(want string) (time.Time, error) {
	if _, err := fmt.Fprintln(w.in, want); err != nil {
		return time.Time{}, err
	}
	if l, ok := <-w.lines; !ok || l != "polling" {
		return time.Time{}, fmt.Errorf("connect-watch: %q, want polling", l)
	}
	return time.Now(), nil
}

// result is when the port got as asked: for "open" the end of the first
// connection that succeeded, for "closed" the start of the first of
// multiRefusedRun attempts in a row that failed.
func (w *watcher) result(ctx context.Context) (time.Time, error) {
	select {
	case l, ok := <-w.lines:
		if !ok {
			return time.Time{}, errors.New("connect-watch exited")
		}
		f := strings.Fields(l)
		if len(f) == 2 && f[0] == "at" {
			ns, err := strconv.ParseInt(f[1], 10, 64)
			if err == nil {
				return time.Unix(0, ns), nil
			}
		}
		return time.Time{}, fmt.Errorf("connect-watch: %q", l)
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
}

// wait is begin and result, for a check.
func (w *watcher) wait(ctx context.Context, want string) (time.Time, error) {
	if _, err := w.begin(want); err != nil {
		return time.Time{}, err
	}
	return w.result(ctx)
}

func init() { subcommands["connect-watch"] = connectWatch }

// connectWatch (`connect-watch ADDR:PORT`, run inside an instance) prints
// "ready", then for each line "open" or "closed" on its input prints
// "polling", starts a TCP connection attempt every multiPollEvery and
// prints "at UNIXNANO" when the port is as asked (attempt.when), or
// "error …".
func connectWatch(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: connect-watch ADDR:PORT")
	}
	fmt.Println("ready")
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		want := strings.TrimSpace(sc.Text())
		if want != "open" && want != "closed" {
			fmt.Printf("error: %q: want open or closed\n", want)
			continue
		}
		fmt.Println("polling")
		t, err := watchPort(args[0], want == "open")
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		fmt.Println("at", t.UnixNano())
	}
	return sc.Err()
}

// attempt is one connection attempt of the watcher.
type attempt struct {
	start, end time.Time
	done, ok   bool
}

// watchPort starts an attempt every multiPollEvery, each bounded by
// multiDialTimeout, until the port is as asked.
func watchPort(addr string, open bool) (time.Time, error) {
	type result struct {
		k int
		a attempt
	}
	// Big enough for every attempt in flight when it returns: they finish
	// into it and nobody reads them.
	results := make(chan result, 2*int(multiDialTimeout/multiPollEvery)+multiRefusedRun+16)
	var atts []attempt
	launch := func() {
		k := len(atts)
		atts = append(atts, attempt{start: time.Now()})
		go func() {
			st := time.Now()
			c, err := net.DialTimeout("tcp4", addr, multiDialTimeout)
			end := time.Now()
			if err == nil {
				c.Close()
			}
			results <- result{k, attempt{start: st, end: end, done: true, ok: err == nil}}
		}()
	}
	tick := time.NewTicker(multiPollEvery)
	defer tick.Stop()
	limit := time.NewTimer(multiWatchLimit)
	defer limit.Stop()
	launch()
	for {
		select {
		case <-tick.C:
			launch()
		case r := <-results:
			atts[r.k] = r.a
			if open && r.a.ok {
				return r.a.end, nil
			}
			if !open {
				if t, ok := firstRefused(atts, multiRefusedRun); ok {
					return t, nil
				}
			}
		case <-limit.C:
			return time.Time{}, fmt.Errorf("%s not %s after %v (%d attempts)", addr, map[bool]string{true: "open", false: "closed"}[open], multiWatchLimit, len(atts))
		}
	}
}

// firstRefused is the start of the first attempt that begins a run of n
// finished, failed attempts (in the order they were started).
func firstRefused(atts []attempt, n int) (time.Time, bool) {
	run := 0
	for i, a := range atts {
		if !a.done {
			return time.Time{}, false // the order matters: wait for it
		}
		if a.ok {
			run = 0
			continue
		}
		run++
		if run == n {
			return atts[i-n+1].start, true
		}
	}
	return time.Time{}, false
}

// measureScale times the bring-up of multiScaleInstances instances over
// the three machines against the same on one machine, -runs times each,
// interleaved; each is taken down before the next.
func (l *multiLab) measureScale(ctx context.Context, v *vpcnet, runs int, res *multiResult) error {
	per := multiScaleInstances / len(multiZones)
	want := map[string]int{}
	for _, z := range multiZones {
		want[z.host] = per
	}
	multiData, err := multiTopologyJSON(multiTopology, l.url, per)
	if err != nil {
		return err
	}
	multiFile, err := v.writeTopology(multiTopology+"-scale", multiData)
	if err != nil {
		return err
	}
	singleData, err := multiTopologyJSON(multiSingle, "", per)
	if err != nil {
		return err
	}
	singleFile, err := v.writeTopology(multiSingle, singleData)
	if err != nil {
		return err
	}
	for r := 1; r <= runs; r++ {
		if err := l.scaleRun(ctx, multiFile, want, res); err != nil {
			return fmt.Errorf("bring-up of %d instances over three machines, run %d: %w", multiScaleInstances, r, err)
		}
		var c cleanups
		c.push("vpcnet down "+multiSingle, func(ctx context.Context) error { _, err := v.down(ctx, multiSingle); return err })
		up, err := v.up(ctx, singleFile)
		if err != nil {
			c.runAll()
			return fmt.Errorf("bring-up of %d instances on one machine: %w", multiScaleInstances, err)
		}
		down, err := v.down(ctx, multiSingle)
		if err != nil {
			return fmt.Errorf("take-down of %s: %w", multiSingle, err)
		}
		c.forget()
		res.upSingle, res.downSingle = append(res.upSingle, up.Seconds()), append(res.downSingle, down.Seconds())
		logf("multi: bring-up of %d, run %d/%d: three machines up %.2f s, down %.2f s; one machine up %.2f s, down %.2f s",
			multiScaleInstances, r, runs, res.upMulti[len(res.upMulti)-1], res.downMulti[len(res.downMulti)-1], up.Seconds(), down.Seconds())
	}
	return nil
}

// scaleRun is one distributed bring-up: `vpcnet up` (the store write)
// until every machine reports its instances built; then `vpcnet down
// --store` until the last instance namespace is gone.
func (l *multiLab) scaleRun(ctx context.Context, file string, want map[string]int, res *multiResult) error {
	var c cleanups
	defer c.runAll()
	c.push("vpcnet down --store "+multiTopology, func(ctx context.Context) error {
		if err := l.storeDown(ctx); err != nil {
			return err
		}
		return waitGone(ctx, multiTopology, 2*time.Minute)
	})
	start := time.Now()
	rev, write, err := l.storeUp(ctx, file)
	if err != nil {
		return err
	}
	at, err := l.waitBuilt(ctx, start, rev, want, 5*time.Minute)
	if err != nil {
		return err
	}
	all := time.Since(start)
	// A check of what "built" means: the instances' namespaces are there
	// by then (the network has service namespaces of its own besides).
	names, err := namespaces(ctx)
	if err != nil {
		return err
	}
	n := 0
	for _, ns := range names {
		if scaleInstanceNS.MatchString(ns) {
			n++
		}
	}
	res.nsAtBuilt = append(res.nsAtBuilt, float64(n))
	c.forget()
	start = time.Now()
	if err := l.storeDown(ctx); err != nil {
		return err
	}
	if err := waitGone(ctx, multiTopology, 2*time.Minute); err != nil {
		return fmt.Errorf("namespaces of %s left after down: %w", multiTopology, err)
	}
	res.downMulti = append(res.downMulti, time.Since(start).Seconds())
	res.upMulti = append(res.upMulti, all.Seconds())
	res.storeWrite = append(res.storeWrite, write.Seconds())
	for h, d := range at {
		res.perHost[h] = append(res.perHost[h], d.Seconds())
	}
	return nil
}

// percentiles is "p50 / p99" of values in ms (nearest rank).
func percentiles(values []float64) (p50, p99 float64) {
	s := append([]float64(nil), values...)
	sort.Float64s(s)
	return percentile(s, 50), percentile(s, 99)
}

// ratioCell is "median(v)/median(k) (min–max of the runs' own ratios)".
func ratioCell(k, v []float64) string {
	q, ok := ratioOfMedians(k, v)
	if !ok {
		return "—"
	}
	return fmt.Sprintf("%.2f (%s)", q, minMax("%.2f", pairRatios(k, v)))
}

// rows are the tables of the section: throughput, API to traffic,
// bring-up.
func (m *multiResult) flowRows() [][]string {
	return [][]string{
		{"TCP 1 stream, h1 → h2 (Gbps)", spread("%.2f", m.tcpK), spread("%.2f", m.tcpV), ratioCell(m.tcpK, m.tcpV)},
		{"TCP 1 stream, sender's retransmits per run", spread("%.0f", m.retrK), spread("%.0f", m.retrV), "—"},
		{"UDP 64 B, h1 → h2, received (kpps)", spread("%.0f", m.udpK), spread("%.0f", m.udpV), ratioCell(m.udpK, m.udpV)},
		{"agents of h1 + h2, CPU s per Gbit received (TCP runs)", "— (softirq)", spread("%.3f", m.agentGbit), "—"},
	}
}

func (m *multiResult) apiRows() [][]string {
	row := func(label string, v []float64) []string {
		p50, p99 := percentiles(v)
		return []string{label, fmt.Sprintf("%.0f", p50), fmt.Sprintf("%.0f", p99), fmt.Sprintf("%.0f–%.0f", minOf(v), maxOf(v)), strconv.Itoa(len(v))}
	}
	return [][]string{
		row("authorize through h2 → first connection h1 → h3:7000 succeeds", m.authFlow),
		row("authorize: the CLI answered (h2 runs the change)", m.authAnswer),
		row("revoke through h2 → new connections h1 → h3:7000 refused", m.revokeFlow),
		row("revoke: the CLI answered", m.revokeAnswer),
	}
}

func (m *multiResult) scaleRows() [][]string {
	hosts := make([]string, 0, len(m.perHost))
	for h := range m.perHost {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	var each []string
	for _, h := range hosts {
		each = append(each, fmt.Sprintf("%s %.2f", h, median(m.perHost[h])))
	}
	return [][]string{
		{fmt.Sprintf("%d instances over three machines: `vpcnet up` (store write, %.2f s) → every agent reports all its instances built (per machine: %s; instance namespaces present then: %.0f–%.0f)",
			multiScaleInstances, median(m.storeWrite), strings.Join(each, ", "), minOf(m.nsAtBuilt), maxOf(m.nsAtBuilt)), spread("%.2f", m.upMulti), spread("%.2f", m.downMulti)},
		{fmt.Sprintf("the same %d instances on one machine: `vpcnet up` / `vpcnet down`", multiScaleInstances), spread("%.2f", m.upSingle), spread("%.2f", m.downSingle)},
	}
}

// newTab is the section's table writer.
func newTab(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) }

// multiCommands are the section's commands.
func (m *multiResult) commands() []string {
	return []string{
		"sudo scripts/bench.sh multi      # or: sudo make bench BENCH=multi",
		fmt.Sprintf("ip netns exec %s-h1 etcd --name m1 … (one member on h1's underlay address)", m.prefix),
		fmt.Sprintf("bin/vpcnet agent --netns %s-hN --store etcd://10.98.R.1:2379 --host hN --topology %s --underlay 10.98.R.N --run-dir /run/vpcnet-bench-hN", m.prefix, multiTopology),
		fmt.Sprintf("ip netns exec %s-h1 bin/vpcnet up FILE      # settings.store, placement: a zone per machine", m.prefix),
		fmt.Sprintf("ip netns exec %s-c1 iperf3 -c %s -t %d -J   (and -u -l 64 -b 0)", multiTopology, multiS1, m.seconds),
		fmt.Sprintf("VPCNET_RUN_DIR=/run/vpcnet-bench-h2 bin/vpcnet authorize-security-group-ingress --topology %s --group-id sg-target --protocol tcp --port %d --cidr %s",
			multiTopology, multiSGPort, multiZones[0].cidr),
	}
}

// notes are the lines under the tables.
func (m *multiResult) notes() []string {
	return []string{
		fmt.Sprintf("Kernel anchor: kernel VXLAN (no geneve in this kernel: CONFIG_GENEVE unset), id %d, UDP %d, between the same host namespaces h1 and h2: "+
			"%s-ka —veth— h1[bridge: veth + vxlan] ==underlay== h2[bridge: vxlan + veth] —veth— %s-kb, one L2 segment, MTU %d inside (the instances' eth0), 9100 on the underlay. "+
			"vpcnet's path: c1 (subnet a, h1) → s1 (subnet b, h2): security groups and the route on h1, userspace Geneve (UDP 6081) across, the rest on h2.",
			vxlanID, vxlanPort, m.prefix, m.prefix, m.mtu),
		fmt.Sprintf("API → traffic: a watcher in c1 starts a TCP connection to d1:%d every %v (each given %v; a refused SYN is dropped, not answered); "+
			"\"succeeds\" is the end of the first connection that completed, \"refused\" the start of the first of %d failed attempts in a row. "+
			"Times run from just before the CLI process starts (its own start-up included). %d samples each: p99 of %d is their maximum.",
			multiSGPort, multiPollEvery, multiDialTimeout, multiRefusedRun, len(m.authFlow), len(m.authFlow)),
		"Bring-up: \"built\" is each agent's report under /vpcnet/applied/<topology>/<host> (what `vpcnet status --store` shows as BUILT), read with etcdctl every 50 ms; down runs from `vpcnet down --store` until the last instance namespace is gone.",
		"All three agents, etcd, iperf3's ends and the CLI share this machine's CPUs: a machine each would give the agents a CPU of their own. Load averages (1, 5, 15 min; the first is before this part started, the others include its own work): " + strings.Join(m.loads, "; ") + ".",
	}
}

// text is the section for the terminal.
func (m *multiResult) text(runs int) string {
	if m == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nMore than one machine (issue 16), median (min–max) of %d interleaved %d-s runs (kernel, vpcnet, …):\n", runs, m.seconds)
	for _, l := range m.commands() {
		fmt.Fprintf(&b, "    %s\n", l)
	}
	w := newTab(&b)
	fmt.Fprintln(w, "  figure\tkernel VXLAN\tvpcnet Geneve\tvpcnet/kernel (runs)")
	for _, r := range m.flowRows() {
		fmt.Fprintf(w, "  %s\n", strings.Join(r, "\t"))
	}
	w.Flush()
	w = newTab(&b)
	fmt.Fprintln(w, "  API call → traffic (ms)\tp50\tp99\tmin–max\tsamples")
	for _, r := range m.apiRows() {
		fmt.Fprintf(w, "  %s\n", strings.Join(r, "\t"))
	}
	w.Flush()
	for _, r := range m.scaleRows() {
		fmt.Fprintf(&b, "  bring-up, %s: up %s s, down %s s\n", r[0], r[1], r[2])
	}
	for _, l := range m.notes() {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	return b.String()
}

// markdown is the section of BENCHMARKS.md.
func (m *multiResult) markdown(runs int) string {
	if m == nil {
		return ""
	}
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("")
	p("## More than one machine (issue 16)")
	p("")
	p("Three machines simulated as namespaces (`%s-h1…h3`) on a bridged underlay (%s, MTU 9100), one etcd member on h1,", m.prefix, m.underlay)
	p("one `vpcnet agent` per machine; the network's zones placed one per machine. Throughput: median (min–max) of %d", runs)
	p("interleaved %d-s runs (kernel, vpcnet, kernel, vpcnet, …); the ratio is that of the medians, with the runs' own ratios.", m.seconds)
	p("Run alone with `sudo scripts/bench.sh multi` (or `sudo make bench BENCH=multi`).")
	p("")
	p("```")
	for _, l := range m.commands() {
		p("%s", l)
	}
	p("```")
	p("")
	p("| figure | kernel VXLAN (no geneve in this kernel) | vpcnet, userspace Geneve | vpcnet/kernel (runs) |")
	p("|---|--:|--:|--:|")
	for _, r := range m.flowRows() {
		p("| %s |", strings.Join(r, " | "))
	}
	p("")
	p("| API call → traffic on another machine (ms) | p50 | p99 | min–max | samples |")
	p("|---|--:|--:|--:|--:|")
	for _, r := range m.apiRows() {
		p("| %s |", strings.Join(r, " | "))
	}
	p("")
	p("| bring-up, median (min–max) of %d runs, interleaved | up (s) | down (s) |", runs)
	p("|---|--:|--:|")
	for _, r := range m.scaleRows() {
		p("| %s |", strings.Join(r, " | "))
	}
	p("")
	for _, l := range m.notes() {
		p("- %s", l)
	}
	return b.String()
}
