package main

// More than one machine (issue 16): `vpcnet up` of a file with
// settings.store puts the network into etcd; `vpcnet agent` on each machine
// runs that machine's part; `vpcnet status --store` shows where each
// instance runs; `vpcnet down --store` takes the network out of the store.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vpcnet/vpcnet/daemon"
	"github.com/vpcnet/vpcnet/netns"
	"github.com/vpcnet/vpcnet/store"
	"github.com/vpcnet/vpcnet/topology"
)

// useRunDir points the daemon package at VPCNET_RUN_DIR when it is set: the
// state folder of one machine's agent when several are simulated on one
// host (`vpcnet agent --run-dir`).
func useRunDir() error {
	dir, ok := os.LookupEnv("VPCNET_RUN_DIR")
	if !ok {
		return nil
	}
	if !filepath.IsAbs(dir) || filepath.Clean(dir) != dir || dir == "/" {
		return &exitError{exitUsage, fmt.Errorf("VPCNET_RUN_DIR=%q: give a clean absolute folder such as /run/vpcnet-h1", dir)}
	}
	daemon.RunDir = dir
	return nil
}

func openStore(url string) (*store.Store, error) { return openStoreIn(url, store.Options{}) }

func openStoreIn(url string, o store.Options) (*store.Store, error) {
	s, err := store.Open(url, o)
	if err != nil {
		return nil, &exitError{exitUsage, err}
	}
	return s, nil
}

func agentCmd() *cobra.Command {
	var url, host, topo, underlay, runDir, nsName string
	c := &cobra.Command{
		Use:   "agent --store etcd://… --host NAME --topology NAME",
		Short: "Run this machine's part of a network kept in etcd (settings.store): its instances, forwarder and tunnels",
		Long: "Run this machine's part of a network kept in etcd (settings.store). The agent builds the namespaces " +
			"and ENIs of the instances that settings.placement puts on --host, forwards their frames, carries frames " +
			"to the other machines in Geneve (UDP 6081, a VNI per VPC), and applies every change made through the " +
			"EC2 endpoint or `vpcnet <operation>` on any machine. SIGTERM takes this machine's part down; the network stays " +
			"in the store.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireRoot(); err != nil {
				return err
			}
			if runDir != "" {
				if !filepath.IsAbs(runDir) || filepath.Clean(runDir) != runDir || runDir == "/" {
					return &exitError{exitUsage, fmt.Errorf("--run-dir %q: give a clean absolute folder", runDir)}
				}
				daemon.RunDir = runDir
			}
			if err := topology.CheckName(topo); err != nil {
				return &exitError{exitUsage, fmt.Errorf("--topology: %w", err)}
			}
			if err := topology.CheckHostName("--host", host); err != nil {
				return &exitError{exitUsage, err}
			}
			ul, err := netns.Current()
			if nsName != "" {
				ul, err = netns.Open(nsName)
			}
			if err != nil {
				return &exitError{exitUsage, fmt.Errorf("--netns: %w", err)}
			}
			defer ul.Close()
			o := store.Options{}
			if nsName != "" {
				o.Dial = netns.Dialer(ul) // the store is on the underlay
			}
			s, err := openStoreIn(url, o)
			if err != nil {
				return err
			}
			defer s.Close()
			ip, err := underlayAddr(underlay, s, ul)
			if err != nil {
				return &exitError{exitUsage, err}
			}
			ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer cancel()
			exe, _ := os.Executable()
			fmt.Fprintf(os.Stderr, "agent %s: network %s from %s, underlay %s\n", host, topo, s.URL(), ip)
			if err := daemon.RunAgent(ctx, daemon.AgentConfig{Store: s, Machine: host, Topology: topo, Underlay: ul, Address: ip, Exe: exe}); err != nil {
				return &exitError{exitFail, err}
			}
			return nil
		},
	}
	c.Flags().StringVar(&url, "store", "", "the etcd cluster, as settings.store: etcd://10.0.0.1:2379,10.0.0.2:2379")
	c.Flags().StringVar(&host, "host", "", "this machine's name in settings.placement")
	c.Flags().StringVar(&topo, "topology", "", "the network to run")
	c.Flags().StringVar(&underlay, "underlay", "", "this machine's address toward the others (default: its source address toward the first etcd member)")
	c.Flags().StringVar(&runDir, "run-dir", "", "state folder instead of "+daemon.RunDir+" (several agents simulated on one host)")
	c.Flags().StringVar(&nsName, "netns", "", "the named network namespace that holds the machines' network (machines simulated on one host); default: the agent's own")
	c.MarkFlagRequired("store")
	c.MarkFlagRequired("host")
	c.MarkFlagRequired("topology")
	return c
}

// underlayAddr is --underlay, else the source address the kernel picks
// toward the first etcd member: the network the machines share.
func underlayAddr(flag string, s *store.Store, ns netns.Handle) (netip.Addr, error) {
	if flag != "" {
		a, err := netip.ParseAddr(flag)
		if err != nil || !a.Is4() {
			return netip.Addr{}, fmt.Errorf("--underlay %q: give this machine's IPv4 address toward the others", flag)
		}
		return a, nil
	}
	eps, err := store.ParseURL(s.URL())
	if err != nil {
		return netip.Addr{}, err
	}
	host, _, err := net.SplitHostPort(eps[0])
	if err != nil {
		return netip.Addr{}, err
	}
	ips, err := net.LookupIP(host)
	if err != nil || len(ips) == 0 {
		return netip.Addr{}, fmt.Errorf("--underlay not given and %s does not resolve: %v", host, err)
	}
	a, err := netns.SourceToward(ns, ips[0])
	if err != nil {
		return netip.Addr{}, fmt.Errorf("--underlay not given and %w", err)
	}
	return a, nil
}

// inStore runs fn on the store at url with a 10-second deadline, and
// closes it.
func inStore(url string, fn func(ctx context.Context, s *store.Store) error) error {
	s, err := openStore(url)
	if err != nil {
		return err
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return fn(ctx, s)
}

// storeUp puts network n (the file's bytes, data) into its store.
func storeUp(out io.Writer, n *topology.Network, data []byte) error {
	return inStore(n.Settings.Store, func(ctx context.Context, s *store.Store) error {
		rev, err := s.Create(ctx, n.Name, data)
		if errors.Is(err, store.ErrExists) {
			return &exitError{exitFail, fmt.Errorf("network %q is already in the store at %s: `vpcnet down --store %s %s` first",
				n.Name, s.URL(), s.URL(), n.Name)}
		}
		if err != nil {
			return &exitError{exitFail, err}
		}
		fmt.Fprintf(out, "network %s is in the store at %s (revision %d); each machine's agent builds its part:\n", n.Name, s.URL(), rev)
		for _, m := range n.Machines() {
			fmt.Fprintf(out, "  sudo vpcnet agent --store %s --host %s --topology %s\n", s.URL(), m, n.Name)
		}
		return nil
	})
}

// storeDown takes network name out of the store at url.
func storeDown(out io.Writer, url, name string) error {
	return inStore(url, func(ctx context.Context, s *store.Store) error {
		if err := s.Delete(ctx, name); err != nil && !errors.Is(err, store.ErrNotFound) {
			return &exitError{exitFail, err}
		}
		fmt.Fprintf(out, "network %s is out of the store; its agents take their parts down\n", name)
		return nil
	})
}

// storeStatus prints the machines of the store at url and where each
// instance of network name runs.
func storeStatus(out io.Writer, url, name string) error {
	return inStore(url, func(ctx context.Context, s *store.Store) error {
		spec, rev, err := s.Get(ctx, name)
		if err != nil {
			return &exitError{exitFail, err}
		}
		n, err := topology.Load(spec)
		if err != nil {
			return &exitError{exitFail, fmt.Errorf("the stored network %s is not valid: %w", name, err)}
		}
		machines, err := s.Machines(ctx)
		if err != nil {
			return &exitError{exitFail, err}
		}
		applied, err := s.Applied(ctx, name)
		if err != nil {
			return &exitError{exitFail, err}
		}
		fmt.Fprintf(out, "network %s in %s, revision %d\n", name, s.URL(), rev)
		printPlacement(out, n, machines, applied)
		return nil
	})
}

// printPlacement prints every machine of n (its agent, underlay, applied
// revision, instances) and every instance with the machine it runs on.
func printPlacement(out io.Writer, n *topology.Network, machines []store.Machine, applied map[string]store.Applied) {
	alive := map[string]store.Machine{}
	for _, m := range machines {
		alive[m.Name] = m
	}
	count := map[string]int{}
	var rows []string
	for _, v := range n.VPCs {
		for _, i := range v.Instances {
			m := n.HostOf(i)
			count[m]++
			built := "no"
			if slices.Contains(applied[m].Instances, i.Name) {
				built = "yes"
			}
			rows = append(rows, fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s", i.Name, m, i.Subnet.Name, i.Subnet.AZ, i.Primary().PrimaryIP, built))
		}
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MACHINE\tAGENT\tUNDERLAY\tAPPLIED\tINSTANCES")
	for _, m := range n.Machines() {
		st, ul, ap := "down", "-", "-"
		if x, ok := alive[m]; ok && x.Alive {
			st, ul = fmt.Sprintf("up (pid %d)", x.PID), x.Underlay.String()
		}
		if a, ok := applied[m]; ok {
			ap = fmt.Sprint(a.Revision)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", m, st, ul, ap, count[m])
	}
	tw.Flush()
	fmt.Fprintln(out)
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tHOST\tSUBNET\tAZ\tPRIVATE IP\tBUILT")
	sort.Strings(rows)
	for _, r := range rows {
		fmt.Fprintln(tw, r)
	}
	if len(n.Hosts) > 0 {
		var hs []string
		for _, h := range n.Hosts {
			hs = append(hs, h.Name)
		}
		fmt.Fprintf(tw, "(internet: %s)\t%s\t-\t-\t-\t-\n", strings.Join(hs, ","), n.InternetHost())
	}
	tw.Flush()
}
