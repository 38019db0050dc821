package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vpcnet/vpcnet/daemon"
	"github.com/vpcnet/vpcnet/dataplane"
	"github.com/vpcnet/vpcnet/netns"
	"github.com/vpcnet/vpcnet/topology"
)

// loadTopology reads a topology file, or the embedded default network when
// path is empty. Validation errors exit with exitUsage.
func loadTopology(path string) (*topology.Network, []byte, error) {
	data := topology.Default()
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return nil, nil, &exitError{exitUsage, err}
		}
	}
	n, err := topology.Load(data)
	if err != nil {
		where := path
		if where == "" {
			where = "default network"
		}
		return nil, nil, &exitError{exitUsage, fmt.Errorf("%s is not valid:\n%w", where, err)}
	}
	return n, data, nil
}

func requireRoot() error {
	if os.Geteuid() != 0 {
		return &exitError{exitFail, fmt.Errorf("this command needs root (network namespaces): run it with sudo")}
	}
	return nil
}

func upCmd() *cobra.Command {
	var foreground bool
	c := &cobra.Command{
		Use:   "up [topo.json]",
		Short: "Validate a topology and bring it up (the embedded textbook network without a file)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := ""
			if len(args) == 1 {
				path = args[0]
			}
			n, data, err := loadTopology(path)
			if err != nil {
				return err
			}
			for _, w := range n.Warnings {
				fmt.Fprintln(os.Stderr, "warning:", w)
			}
			if err := requireRoot(); err != nil {
				return err
			}
			if n.Distributed() {
				return storeUp(os.Stdout, n, data) // multi.go: the agents build it
			}
			// One up or down of a topology at a time: a second up waits,
			// then finds it up and says so (issue 10).
			unlock, err := daemon.Lock(n.Name, 2*time.Minute)
			if err != nil {
				return &exitError{exitFail, err}
			}
			defer unlock()
			if st, err := daemon.ReadState(n.Name); err == nil && st.Daemon.Alive() {
				// Not "run down first": this may be the loser of two ups
				// at once, and the winner is healthy (issue 10).
				return &exitError{exitFail, fmt.Errorf("topology %q %w (daemon pid %d): `vpcnet status --topology %s` shows it",
					n.Name, daemon.ErrAlreadyUp, st.Daemon.PID, n.Name)}
			}
			start := time.Now()
			if foreground {
				return runForeground(n, data, start, unlock)
			}
			if err := spawnDaemon(n.Name, data); err != nil {
				return &exitError{exitFail, err}
			}
			var st daemon.Status
			if err := daemon.NewClient(n.Name).Get("/status", &st); err != nil {
				return &exitError{exitFail, err}
			}
			st.Warnings = notPrinted(st.Warnings, n.Warnings) // ADDR-6 and the rest: once (misc.go)
			printSummary(os.Stdout, &st, time.Since(start))
			return nil
		},
	}
	c.Flags().BoolVar(&foreground, "foreground", false, "keep the forwarder attached to this terminal (Ctrl-C takes it down)")
	return c
}

// forwarderLog is where a detached forwarder's output goes: inside the
// topology's state folder, so that Down removes it with the rest, and a
// crashed forwarder's log stays next to the state that `down` needs.
func forwarderLog(name string) string { return filepath.Join(daemon.Dir(name), "forwarder.log") }

// spawnDaemon starts `vpcnet daemon` detached, feeds it the topology on
// stdin and waits for its first line on fd 3: "ok", or the error.
func spawnDaemon(name string, data []byte) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	// A dead daemon's leftovers go first (Up would clean them too, and with
	// them the state folder, taking the log just opened there).
	if st, err := daemon.ReadState(name); err == nil && !st.Daemon.Alive() {
		if err := daemon.Down(name); err != nil {
			return fmt.Errorf("topology %q: cleaning the leftovers of a dead daemon: %w", name, err)
		}
	}
	if _, err := daemon.MakeDir(name); err != nil {
		return err
	}
	logPath := forwarderLog(name)
	log, err := daemon.CreateFile(logPath)
	if err != nil {
		return err
	}
	defer log.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd := exec.Command(exe, "daemon")
	cmd.Stdin = strings.NewReader(string(data))
	cmd.Stdout, cmd.Stderr = log, log
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	w.Close()
	line, _ := bufio.NewReader(r).ReadString('\n')
	r.Close()
	cmd.Process.Release()
	line = strings.TrimSpace(line)
	if line == "ok" {
		return nil
	}
	if line == "" {
		b, _ := os.ReadFile(logPath)
		line = "the daemon exited: " + strings.TrimSpace(string(b))
	}
	err = fmt.Errorf("up %s: %s", name, strings.TrimPrefix(line, "error: "))
	// Up undoes what it made and removes the state folder. If it could not
	// (or the daemon died before it could), the state is left for `down`:
	// keep the log with it.
	if _, serr := daemon.ReadState(name); serr == nil {
		return fmt.Errorf("%w\nsome of it is still there: run `sudo vpcnet down %s` (the forwarder's log is %s)", err, name, logPath)
	}
	os.Remove(logPath)
	os.Remove(daemon.Dir(name)) // only if nothing else is in it
	return err
}

// pinForwarder binds this process, the forwarder, to the CPUs of
// settings.forwarder_cpus (dataplane.ForwarderCPUs), before it starts any
// worker. The instances' processes are started unbound (netns.Start). A
// list the file gives must be honoured; "auto" is a default, so where the
// machine does not let the process pin itself it runs unpinned, and says
// so in its log.
func pinForwarder(n *topology.Network) error {
	setting := n.Settings.ForwarderCPUs
	if v := os.Getenv("VPCNET_FORWARDER_CPUS"); v != "" { // a lab override (issue 15, BENCHMARKS.md)
		setting = v
	}
	err := func() error {
		allowed, err := dataplane.AllowedCPUs()
		if err != nil {
			return err
		}
		cpus, err := dataplane.ForwarderCPUs(setting, allowed)
		if err != nil || cpus == nil {
			return err
		}
		return dataplane.PinProcess(cpus)
	}()
	if err != nil && setting == topology.CPUsAuto {
		fmt.Fprintf(os.Stderr, "warning: settings.forwarder_cpus auto: not pinned: %v\n", err)
		return nil
	}
	return err
}

// daemonCmd is what spawnDaemon runs: build, report on fd 3, then serve.
func daemonCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "daemon",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			ready := os.NewFile(3, "ready")
			data, err := io.ReadAll(os.Stdin)
			if err != nil {
				fmt.Fprintf(ready, "error: %v\n", err)
				return err
			}
			n, err := topology.Load(data)
			if err != nil {
				fmt.Fprintf(ready, "error: %v\n", strings.ReplaceAll(err.Error(), "\n", "; "))
				return err
			}
			if err := pinForwarder(n); err != nil {
				fmt.Fprintf(ready, "error: %v\n", err)
				return err
			}
			exe, _ := os.Executable()
			d, err := daemon.Up(n, exe, data)
			if err != nil {
				fmt.Fprintf(ready, "error: %v\n", err)
				return err
			}
			// For developers: VPCNET_CPUPROFILE=file profiles the forwarder until down.
			if path := os.Getenv("VPCNET_CPUPROFILE"); path != "" {
				if f, err := os.Create(path); err == nil {
					pprof.StartCPUProfile(f)
					defer pprof.StopCPUProfile()
				}
			}
			go handleSignals(d)
			errc := make(chan error, 1)
			go func() { errc <- d.Serve() }()
			if err := waitSocket(n.Name); err != nil {
				fmt.Fprintf(ready, "error: %v\n", err)
				d.Shutdown()
				return err
			}
			fmt.Fprintln(ready, "ok")
			ready.Close()
			<-d.Done() // Shutdown removed the state folder, the log with it
			return nil
		},
	}
}

func handleSignals(d *daemon.Daemon) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	d.Shutdown()
}

// waitSocket waits until the control socket answers.
func waitSocket(name string) error {
	c := daemon.NewClient(name)
	var st daemon.Status
	var err error
	for i := 0; i < 100; i++ {
		if err = c.Get("/status", &st); err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

// runForeground brings n up in this process and forwards until it is taken
// down. It releases the up lock (unlock) once the topology is up, so that
// `vpcnet down` from elsewhere can take it (issue 10).
func runForeground(n *topology.Network, data []byte, start time.Time, unlock func()) error {
	if err := pinForwarder(n); err != nil {
		return &exitError{exitFail, err}
	}
	exe, _ := os.Executable()
	d, err := daemon.Up(n, exe, data)
	if err != nil {
		return &exitError{exitFail, err}
	}
	go handleSignals(d)
	go d.Serve()
	if err := waitSocket(n.Name); err != nil {
		d.Shutdown()
		return &exitError{exitFail, err}
	}
	var st daemon.Status
	daemon.NewClient(n.Name).Get("/status", &st)
	st.Warnings = notPrinted(st.Warnings, n.Warnings) // up printed the file's warnings already
	printSummary(os.Stdout, &st, time.Since(start))
	fmt.Println("forwarding in the foreground; Ctrl-C takes the network down")
	unlock()
	<-d.Done()
	return nil
}

func printSummary(out io.Writer, st *daemon.Status, took time.Duration) {
	fmt.Fprintf(out, "topology %s is up (forwarder pid %d on %s, %d instances, %d internet hosts, %.2fs)\n",
		st.Name, st.PID, onCPUs(st.CPUs), len(st.Instances), len(st.Hosts), took.Seconds())
	printEndpoint(out, st)
	printStatus(out, st)
}

// printEndpoint says where the topology's EC2 endpoint is and how AWS tools
// get its credentials.
func printEndpoint(out io.Writer, st *daemon.Status) {
	if st.EC2Endpoint != "" {
		fmt.Fprintf(out, "EC2 endpoint %s: eval \"$(sudo vpcnet env %s)\"; aws --endpoint-url \"$AWS_ENDPOINT_URL\" ec2 describe-vpcs\n", st.EC2Endpoint, st.Name)
	}
	if st.Metrics != "" {
		fmt.Fprintf(out, "Prometheus metrics %s (settings.metrics)\n", st.Metrics)
	}
}

// onCPUs names a CPU list for a sentence: "CPU 1", "CPUs 0-1".
func onCPUs(list string) string {
	if list == "" {
		return "unknown CPUs"
	}
	if strings.ContainsAny(list, ",-") {
		return "CPUs " + list
	}
	return "CPU " + list
}

func printStatus(out io.Writer, st *daemon.Status) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tNAMESPACE\tSTATE\tDEVICE\tENI\tMAC\tPRIVATE IPS\tPUBLIC IPS\tSUBNET\tGROUPS")
	for _, i := range st.Instances {
		for k, e := range i.ENIs {
			name, ns, state := i.Name, i.Namespace, i.State
			if i.Host != "" {
				state += " (on " + i.Host + ")" // a machine's agent: another machine runs it (issue 16)
			}
			if k > 0 {
				name, ns, state = "", "", ""
			}
			var pubs []string
			for _, ip := range e.IPs {
				if p, ok := e.PublicIPs[ip]; ok {
					pubs = append(pubs, p)
				}
			}
			dev := e.Device
			if e.Missing {
				dev += " (gone)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, ns, state, dev, e.ID, e.MAC,
				strings.Join(e.IPs, ","), dash(strings.Join(pubs, ",")), e.Subnet, dash(strings.Join(e.Groups, ",")))
		}
	}
	for _, h := range st.Hosts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.Name, h.Namespace, "internet", "eth0", "-", "-", "-", h.IP, "internet", "-")
	}
	tw.Flush()
	for _, w := range st.Warnings {
		fmt.Fprintln(out, "warning:", w)
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func downCmd() *cobra.Command {
	var url string
	c := &cobra.Command{
		Use:   "down [name]",
		Short: "Remove everything up made (all topologies without a name); idempotent",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireRoot(); err != nil {
				return err
			}
			if url != "" {
				if len(args) != 1 {
					return &exitError{exitUsage, fmt.Errorf("down --store needs the network's name")}
				}
				if err := topology.CheckName(args[0]); err != nil {
					return &exitError{exitUsage, err}
				}
				return storeDown(os.Stdout, url, args[0]) // multi.go
			}
			names := daemon.List()
			if len(args) == 1 {
				if err := topology.CheckName(args[0]); err != nil {
					return &exitError{exitUsage, err}
				}
				names = args
			}
			for _, n := range names {
				unlock, err := daemon.Lock(n, 2*time.Minute)
				if err != nil {
					return &exitError{exitFail, err}
				}
				err = daemon.Down(n)
				unlock()
				if err != nil {
					return &exitError{exitFail, err}
				}
				// Down removed the state folder and the forwarder's log in
				// it; this is where vpcnet kept the log before.
				os.Remove(filepath.Join(daemon.RunDir, n+".log"))
				fmt.Printf("topology %s is down\n", n)
			}
			return nil
		},
	}
	c.Flags().StringVar(&url, "store", "", "take a network spread over machines out of its etcd store (settings.store)")
	return c
}

// pickTopology returns the named topology, or the only one that is up.
func pickTopology(name string) (string, error) {
	if err := requireRoot(); err != nil {
		return "", err
	}
	if name != "" {
		if err := topology.CheckName(name); err != nil {
			return "", &exitError{exitUsage, err}
		}
		return name, nil
	}
	names := daemon.List()
	switch len(names) {
	case 0:
		return "", &exitError{exitFail, fmt.Errorf("no topology is up: run `sudo vpcnet up` first")}
	case 1:
		return names[0], nil
	}
	return "", &exitError{exitUsage, fmt.Errorf("topologies %s are up: choose one with --topology", strings.Join(names, ", "))}
}

// topologyStatus is one topology in `vpcnet status`: what its daemon
// answers, or (Error) why it does not.
type topologyStatus struct {
	daemon.Status
	Error string `json:"error,omitempty"`
}

func statusCmd() *cobra.Command {
	var asJSON bool
	var topo, url string
	c := &cobra.Command{
		Use:   "status",
		Short: "Topologies that are up: per instance its namespace, ENIs (id, device, MAC, IPs) and state",
		Long: "Topologies that are up: per instance its namespace, ENIs (id, device, MAC, IPs) and state. " +
			"A topology whose forwarder is not running is listed as such; status then exits 1.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			if err := requireRoot(); err != nil {
				return err
			}
			if len(args) == 1 {
				if topo != "" && topo != args[0] {
					return &exitError{exitUsage, fmt.Errorf("two names: %s and --topology %s", args[0], topo)}
				}
				topo = args[0]
			}
			if url != "" {
				if err := topology.CheckName(topo); err != nil {
					return &exitError{exitUsage, err}
				}
				return storeStatus(out, url, topo) // multi.go
			}
			names := daemon.List()
			if topo != "" {
				if err := topology.CheckName(topo); err != nil {
					return &exitError{exitUsage, err}
				}
				names = []string{topo}
			}
			if len(names) == 0 {
				fmt.Fprintln(out, "no topology is up")
				return nil
			}
			all := make([]topologyStatus, 0, len(names))
			var bad []string
			for _, n := range names {
				ts := topologyStatus{Status: daemon.Status{Name: n, Instances: []daemon.InstanceStatus{}}}
				if err := daemon.NewClient(n).Get("/status", &ts.Status); err != nil {
					ts.Error = unhealthy(n, err)
					if st, serr := daemon.ReadState(n); serr == nil {
						ts.PID = st.Daemon.PID
					}
					bad = append(bad, n)
				}
				all = append(all, ts)
			}
			if asJSON {
				if err := writeJSON(out, all); err != nil {
					return err
				}
			} else {
				for i, ts := range all {
					if i > 0 {
						fmt.Fprintln(out)
					}
					if ts.Error != "" {
						fmt.Fprintf(out, "topology %s: %s\n", ts.Name, ts.Error)
						continue
					}
					fmt.Fprintf(out, "topology %s (forwarder pid %d on %s)\n", ts.Name, ts.PID, onCPUs(ts.CPUs))
					printEndpoint(out, &ts.Status)
					printStatus(out, &ts.Status)
				}
			}
			if len(bad) > 0 {
				return &exitError{exitFail, fmt.Errorf("%d of %d topologies not healthy: %s", len(bad), len(all), strings.Join(bad, ", "))}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.Flags().StringVar(&topo, "topology", "", "topology name (default: all)")
	c.Flags().StringVar(&url, "store", "", "where each instance of a network spread over machines runs, from its etcd store (settings.store)")
	return c
}

// unhealthy says why topology name's daemon did not answer (err), and what
// to do about it.
func unhealthy(name string, err error) string {
	st, serr := daemon.ReadState(name)
	switch {
	case errors.Is(serr, daemon.ErrNotUp):
		return "not up"
	case serr != nil:
		return serr.Error()
	}
	var msg string
	if !st.Daemon.Alive() {
		msg = fmt.Sprintf("forwarder not running (pid %d is gone): run `sudo vpcnet down %s` to remove what is left", st.Daemon.PID, name)
	} else if errors.Is(err, daemon.ErrTimeout) {
		msg = fmt.Sprintf("forwarder (pid %d) not answering within %s: frozen (stopped?) or overloaded; `sudo vpcnet down %s` ends it",
			st.Daemon.PID, daemon.ReadTimeout, name)
	} else {
		if u := errors.Unwrap(err); u != nil {
			err = u // the daemon's own name is said already
		}
		msg = fmt.Sprintf("forwarder (pid %d) not answering: %v", st.Daemon.PID, err)
	}
	if fi, ferr := os.Stat(forwarderLog(name)); ferr == nil && fi.Size() > 0 {
		msg += fmt.Sprintf(" (its log: %s)", forwarderLog(name))
	}
	return msg
}

func printJSON(v any) error { return writeJSON(os.Stdout, v) }

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func execCmd() *cobra.Command {
	var topo string
	c := &cobra.Command{
		Use:   "exec NAME -- COMMAND [ARGS...]",
		Short: "Run a command inside an instance or internet host (same as ip netns exec <topology>-NAME)",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := pickTopology(topo)
			if err != nil {
				return err
			}
			ns := t + "-" + args[0]
			if !netns.Exists(ns) {
				return &exitError{exitUsage, fmt.Errorf("no instance or internet host %q in topology %s", args[0], t)}
			}
			argv := args[1:]
			if len(argv) > 0 && argv[0] == "--" {
				argv = argv[1:]
			}
			if len(argv) == 0 {
				return &exitError{exitUsage, fmt.Errorf("exec %s: no command given", args[0])}
			}
			ip, err := exec.LookPath("ip")
			if err != nil {
				return &exitError{exitFail, err}
			}
			// What it starts ends with the instance, daemonized or not (issue 10).
			if err := netns.EnterCgroup(ns); err != nil {
				return &exitError{exitFail, fmt.Errorf("exec %s: %w", args[0], err)}
			}
			env := append(os.Environ(), "VPCNET_INSTANCE="+args[0], "VPCNET_TOPOLOGY="+t)
			return syscall.Exec(ip, append([]string{"ip", "netns", "exec", ns}, argv...), env)
		},
	}
	c.Flags().StringVar(&topo, "topology", "", "topology name (default: the only one up)")
	c.Flags().SetInterspersed(false)
	return c
}

func statsCmd() *cobra.Command {
	var asJSON bool
	var topo string
	c := &cobra.Command{
		Use:   "stats",
		Short: "Per ENI and per stage: frames, bytes, drops by reason",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := pickTopology(topo)
			if err != nil {
				return err
			}
			var s statsDoc
			if err := daemon.NewClient(t).Get("/stats", &s); err != nil {
				return &exitError{exitFail, err}
			}
			if asJSON {
				return printJSON(s)
			}
			printStats(os.Stdout, &s)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.Flags().StringVar(&topo, "topology", "", "topology name (default: the only one up)")
	return c
}

func printStats(out io.Writer, s *statsDoc) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENDPOINT\tID\tKIND\tRX FRAMES\tRX BYTES\tTX FRAMES\tTX BYTES\tDROPS")
	for _, e := range s.Endpoints {
		var drops []string
		for r, n := range e.Drops {
			drops = append(drops, fmt.Sprintf("%s=%d", r, n))
		}
		sort.Strings(drops)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", e.Name, e.ID, e.Kind, e.RxFrames, e.RxBytes, e.TxFrames, e.TxBytes, dash(strings.Join(drops, " ")))
	}
	tw.Flush()
	var details []string
	for _, e := range s.Endpoints {
		for _, d := range e.Details {
			rule := ""
			if d.Rule != "" {
				rule = " rule " + d.Rule
			}
			details = append(details, fmt.Sprintf("  %s: %d dropped by %s%s (%s)", e.Name, d.Count, d.By, rule, d.Reason))
		}
	}
	if len(details) > 0 {
		fmt.Fprintln(out, "\nwhat rejected frames (OBS-2):")
		for _, d := range details {
			fmt.Fprintln(out, d)
		}
	}
	fmt.Fprintln(out, "\nframes per stage:")
	keys := make([]string, 0, len(s.Stages))
	for k := range s.Stages {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(out, "  %-20s %d\n", k, s.Stages[k])
	}
	if len(s.NAT) > 0 {
		fmt.Fprintln(out, "\nNAT gateways (NAT-6):")
		ids := make([]string, 0, len(s.NAT))
		for id := range s.NAT {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			b, _ := json.Marshal(s.NAT[id])
			fmt.Fprintf(out, "  %s %s\n", id, b)
		}
	}
}
