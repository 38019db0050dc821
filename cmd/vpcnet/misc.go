package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vpcnet/vpcnet/daemon"
	"github.com/vpcnet/vpcnet/topology"
)

// ipRanges is the ip-ranges.json shape (ADDR-5).
type ipRanges struct {
	SyncToken  string     `json:"syncToken"`
	CreateDate string     `json:"createDate"`
	Prefixes   []ipPrefix `json:"prefixes"`
}

type ipPrefix struct {
	IPPrefix           string `json:"ip_prefix"`
	Region             string `json:"region"`
	Service            string `json:"service"`
	NetworkBorderGroup string `json:"network_border_group"`
}

func ipRangesCmd() *cobra.Command {
	var topo string
	c := &cobra.Command{
		Use:   "ip-ranges [topo.json]",
		Short: "Print the public address pools in ip-ranges.json shape (ADDR-5)",
		Long: "Print the address pools of a topology file, else of the topology that is up, " +
			"else of the embedded default network, in the shape of AWS's ip-ranges.json.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := ""
			if len(args) == 1 {
				path = args[0]
			} else if topo != "" {
				path = filepath.Join(daemon.Dir(topo), "topology.json")
			} else if names := daemon.List(); len(names) == 1 {
				path = filepath.Join(daemon.Dir(names[0]), "topology.json")
			}
			n, _, err := loadTopology(path)
			if err != nil {
				return err
			}
			return printJSON(buildIPRanges(n, time.Now()))
		},
	}
	c.Flags().StringVar(&topo, "topology", "", "a topology that is up")
	return c
}

func buildIPRanges(n *topology.Network, now time.Time) ipRanges {
	r := ipRanges{SyncToken: strconv.FormatInt(now.Unix(), 10), CreateDate: now.UTC().Format("2006-01-02-15-04-05"),
		Prefixes: []ipPrefix{}}
	for _, p := range n.Pools {
		svc := strings.ToUpper(p.Kind)
		if svc == "" {
			svc = "AMAZON"
		}
		for _, c := range p.CIDRs {
			r.Prefixes = append(r.Prefixes, ipPrefix{IPPrefix: c.String(), Region: n.Region, Service: svc, NetworkBorderGroup: p.BorderGroup})
		}
	}
	return r
}

func validateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate [topo.json]",
		Short: "Check a topology file against every static rule, without touching the kernel",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := ""
			if len(args) == 1 {
				path = args[0]
			}
			n, _, err := loadTopology(path)
			if err != nil {
				return err
			}
			for _, w := range n.Warnings {
				fmt.Fprintln(os.Stderr, "warning:", w)
			}
			fmt.Printf("%s: valid (%d VPCs, %d internet hosts)\n", n.Name, len(n.VPCs), len(n.Hosts))
			return nil
		},
	}
}

func exportCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "export [name]",
		Short: "Write the running network, with every change made since up, as a topo.json",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			t, err := pickTopology(name)
			if err != nil {
				return err
			}
			var doc json.RawMessage
			if err := daemon.NewClient(t).Get("/export", &doc); err != nil {
				return &exitError{exitFail, err}
			}
			var v any
			json.Unmarshal(doc, &v)
			return printJSON(v)
		},
	}
}
