package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"

	"github.com/spf13/cobra"

	"github.com/vpcnet/vpcnet/daemon"
	"github.com/vpcnet/vpcnet/graph"
	"github.com/vpcnet/vpcnet/topology"
)

func graphCmd() *cobra.Command {
	var topo, format, out string
	var sgs, drops bool
	c := &cobra.Command{
		Use:   "graph [topo.json]",
		Short: "Draw the network as the console's resource map: DOT, SVG (Graphviz) or a self-contained HTML page",
		Long: "Draw a network in the layout of the AWS console's resource map: the region and its VPCs, subnets " +
			"grouped by Availability Zone, instances and their ENIs with private and public addresses, route " +
			"tables with an edge per route to its target (internet gateway, NAT gateway, ENI, peering, local " +
			"gateway, blackhole), NAT gateways with their EIPs, peerings with their state, the internet's hosts.\n\n" +
			"Without a file, the running topology (--topology, or the only one up) as it is now, every live " +
			"change included; with a file, that file, offline and without root, so a network can be drawn " +
			"before `up`.\n\n" +
			"--format dot is written by vpcnet; svg and html run Graphviz's dot (Debian: graphviz). " +
			"--drops colours in red the ENIs and hosts that dropped frames since up, with the count.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch format {
			case "dot", "svg", "html":
			default:
				return &exitError{exitUsage, fmt.Errorf("--format %q: choose dot, svg or html", format)}
			}
			o := graph.Options{SecurityGroups: sgs}
			var n *topology.Network
			if len(args) == 1 {
				if topo != "" {
					return &exitError{exitUsage, fmt.Errorf("give a topology file or --topology, not both")}
				}
				if drops {
					return &exitError{exitUsage, fmt.Errorf("--drops reads a running topology's counters: give no file")}
				}
				var err error
				if n, _, err = loadTopology(args[0]); err != nil {
					return err
				}
			} else {
				t, err := pickTopology(topo)
				if err != nil {
					return err
				}
				if n, err = runningNetwork(t); err != nil {
					return err
				}
				if drops {
					if o.Drops, err = dropCounts(t); err != nil {
						return err
					}
				}
			}
			dot := graph.DOT(n, o)
			var w io.Writer = os.Stdout
			if out != "" {
				f, err := os.Create(out)
				if err != nil {
					return &exitError{exitFail, err}
				}
				defer f.Close()
				w = f
			}
			var err error
			switch format {
			case "dot":
				_, err = w.Write(dot)
			case "svg", "html":
				var svg []byte
				if svg, err = graph.SVG(cmd.Context(), dot); err != nil {
					return &exitError{exitFail, err}
				}
				if format == "svg" {
					_, err = w.Write(svg)
				} else {
					err = graph.HTML(w, "vpcnet topology "+n.Name+" ("+n.Region+")", svg)
				}
			}
			if err != nil {
				return &exitError{exitFail, err}
			}
			if f, ok := w.(*os.File); ok && f != os.Stdout {
				if err := f.Close(); err != nil {
					return &exitError{exitFail, err}
				}
			}
			return nil
		},
	}
	c.Flags().StringVar(&topo, "topology", "", "topology name (default: the only one up)")
	c.Flags().StringVar(&format, "format", "dot", "dot, svg or html")
	c.Flags().StringVarP(&out, "output", "o", "", "write to this file (default: standard output)")
	c.Flags().BoolVar(&sgs, "security-groups", false, "draw security groups and each ENI's groups")
	c.Flags().BoolVar(&drops, "drops", false, "colour ENIs and hosts with drops since up in red, with the count (a running topology)")
	return c
}

// runningNetwork is topology t as it runs now: its daemon's export (every
// live change), resolved as `up` would resolve it, with what the export
// leaves out taken from its status: the public IPs the ENIs hold now
// (dynamic ones included, ADDR-4) and which instances are stopped (INST-2).
func runningNetwork(t string) (*topology.Network, error) {
	c := daemon.NewClient(t)
	var doc json.RawMessage
	if err := c.Get("/export", &doc); err != nil {
		return nil, &exitError{exitFail, err}
	}
	n, err := topology.Load(doc)
	if err != nil {
		return nil, &exitError{exitFail, fmt.Errorf("topology %s's export does not resolve: %w", t, err)}
	}
	var st daemon.Status
	if err := c.Get("/status", &st); err != nil {
		return nil, &exitError{exitFail, err}
	}
	liveFacts(n, &st)
	return n, nil
}

// liveFacts sets on n, the export resolved, the instance states and
// public IPs that st, the daemon's status, reports.
func liveFacts(n *topology.Network, st *daemon.Status) {
	enis := map[string]*topology.ENI{}
	for _, v := range n.VPCs {
		for _, e := range v.ENIs {
			enis[e.ID] = e
		}
	}
	for _, is := range st.Instances {
		if i := n.InstanceByName[is.Name]; i != nil && i.ID == is.ID {
			i.Stopped = is.State == "stopped"
		}
		for _, es := range is.ENIs {
			e := enis[es.ID]
			if e == nil {
				continue
			}
			e.PublicIPs = map[netip.Addr]netip.Addr{}
			for priv, pub := range es.PublicIPs {
				a, errA := netip.ParseAddr(priv)
				b, errB := netip.ParseAddr(pub)
				if errA == nil && errB == nil {
					e.PublicIPs[a] = b
				}
			}
		}
	}
}

// dropCounts reads t's counters (as `vpcnet stats`) into the graph's
// drops: ENIs by id, internet and on-premises hosts by name.
func dropCounts(t string) (map[string]graph.Drop, error) {
	var s statsDoc
	if err := daemon.NewClient(t).Get("/stats", &s); err != nil {
		return nil, &exitError{exitFail, err}
	}
	out := map[string]graph.Drop{}
	for _, e := range s.Endpoints {
		var d graph.Drop
		for r, c := range e.Drops {
			d.Count += c
			if d.Reasons == nil {
				d.Reasons = map[string]uint64{}
			}
			d.Reasons[r] = c
		}
		if d.Count == 0 {
			continue
		}
		switch e.Kind {
		case "eni", "nat-eni":
			out[e.ID] = d
		case "internet-host", "on-premises-host":
			out[e.Name] = d
		}
	}
	return out, nil
}
