package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vpcnet/vpcnet/daemon"
	"github.com/vpcnet/vpcnet/topology"
)

// ipRanges is the ip-ranges.json shape (ADDR-5).
type ipRanges struct {
	SyncToken    string       `json:"syncToken"`
	CreateDate   string       `json:"createDate"`
	Prefixes     []ipPrefix   `json:"prefixes"`
	IPv6Prefixes []ipv6Prefix `json:"ipv6_prefixes"`
}

type ipPrefix struct {
	IPPrefix           string `json:"ip_prefix"`
	Region             string `json:"region"`
	Service            string `json:"service"`
	NetworkBorderGroup string `json:"network_border_group"`
}

// ipv6Prefix is an ipv6_prefixes entry; vpcnet has no IPv6, so the list is
// always empty, as AWS's file has it (the key is there).
type ipv6Prefix struct {
	IPv6Prefix         string `json:"ipv6_prefix"`
	Region             string `json:"region"`
	Service            string `json:"service"`
	NetworkBorderGroup string `json:"network_border_group"`
}

func ipRangesCmd() *cobra.Command {
	var topo string
	c := &cobra.Command{
		Use:   "ip-ranges [topo.json]",
		Short: "Print the Amazon address pools as AWS's ip-ranges.json does (ADDR-5)",
		Long: "Print the Amazon address pools of a topology file, else of the topology that is up " +
			"(--topology when several are), else of the embedded default network, in the shape of AWS's " +
			"ip-ranges.json: each prefix under service AMAZON and EC2, with the region of its network border " +
			"group. BYOIP and customer-owned pools are the account's own and not published. syncToken " +
			"and createDate derive from the published prefixes: they change only when those do.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := ipRangesSource(args, topo)
			if err != nil {
				return err
			}
			n, _, err := loadTopology(path)
			if err != nil {
				return err
			}
			return printJSON(buildIPRanges(n))
		},
	}
	c.Flags().StringVar(&topo, "topology", "", "a topology that is up")
	return c
}

// ipRangesSource is the topology file ip-ranges reads: the one given, the
// one of the topology named or of the only one up, else "" (the embedded
// network). With several up and none named, it asks which, as every
// command on a running topology does.
func ipRangesSource(args []string, topo string) (string, error) {
	switch {
	case len(args) == 1 && topo != "":
		return "", &exitError{exitUsage, fmt.Errorf("give a topology file or --topology, not both")}
	case len(args) == 1:
		return args[0], nil
	case topo != "":
		if err := topology.CheckName(topo); err != nil {
			return "", &exitError{exitUsage, err}
		}
		p := filepath.Join(daemon.Dir(topo), "topology.json")
		if _, err := os.Stat(p); err != nil {
			return "", &exitError{exitFail, fmt.Errorf("topology %q is not up", topo)}
		}
		return p, nil
	}
	switch names := daemon.List(); len(names) {
	case 0:
		return "", nil
	case 1:
		return filepath.Join(daemon.Dir(names[0]), "topology.json"), nil
	default:
		return "", &exitError{exitUsage, fmt.Errorf("topologies %s are up: choose one with --topology", strings.Join(names, ", "))}
	}
}

// buildIPRanges publishes n's Amazon pools (ADDR-5). The token is a time
// derived from the published prefixes (a hash of them, as seconds between
// 2015 and 2025): stable while they stay, another one when they change, so
// a reader that compares syncTokens sees the change. It is not the time
// they changed: a pool changes only with the file, which keeps no time.
func buildIPRanges(n *topology.Network) ipRanges {
	r := ipRanges{Prefixes: []ipPrefix{}, IPv6Prefixes: []ipv6Prefix{}}
	for _, p := range n.Pools {
		if p.Kind != "" && p.Kind != "amazon" {
			continue // BYOIP and customer-owned pools: the account's, not AWS's
		}
		for _, c := range p.CIDRs {
			for _, svc := range []string{"AMAZON", "EC2"} {
				r.Prefixes = append(r.Prefixes, ipPrefix{IPPrefix: c.Masked().String(), Region: topology.BorderRegion(p.BorderGroup),
					Service: svc, NetworkBorderGroup: p.BorderGroup})
			}
		}
	}
	h := sha256.New()
	for _, p := range r.Prefixes {
		fmt.Fprintf(h, "%s %s %s %s\n", p.IPPrefix, p.Region, p.Service, p.NetworkBorderGroup)
	}
	const from, span = 1420070400, 10 * 365 * 24 * 3600 // 2015-01-01, ten years
	at := time.Unix(from+int64(binary.BigEndian.Uint64(h.Sum(nil))%span), 0).UTC()
	r.SyncToken = strconv.FormatInt(at.Unix(), 10)
	r.CreateDate = at.Format("2006-01-02-15-04-05")
	return r
}

// notPrinted is the warnings of ws that printed does not hold: `up` prints
// the file's warnings (ADDR-6 …) as soon as it has read the file, and the
// running topology's status repeats them, so the summary leaves them out
// and each is printed once.
func notPrinted(ws, printed []string) []string {
	var out []string
	for _, w := range ws {
		if !slices.Contains(printed, w) {
			out = append(out, w)
		}
	}
	return out
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
