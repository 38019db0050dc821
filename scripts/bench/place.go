package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/vpcnet/vpcnet/dataplane"
	"github.com/vpcnet/vpcnet/topology"
)

// placement is where iperf3's sender and receiver run (issue 15). Where
// the scheduler puts them against the forwarder decides a quarter of the
// TCP 1-stream figure (performance.md, "Placement decides a quarter of the
// figure"), so every row of the report names its placement.
type placement string

const (
	// placeScheduler: started the ordinary way (`ip netns exec NS iperf3
	// …`), nothing pinned: what a user runs, the headline figure.
	placeScheduler placement = "scheduler"
	// placeOn: sender and receiver pinned to the forwarder's CPUs.
	placeOn placement = "on"
	// placeOff: sender and receiver pinned to the CPUs the forwarder does
	// not use.
	placeOff placement = "off"
)

// allPlacements are the placements of the tests that are measured in each.
var allPlacements = []placement{placeScheduler, placeOn, placeOff}

// describe says what the placement means, for the report.
func (p placement) describe(cs cpuSets) string {
	switch p {
	case placeOn:
		return fmt.Sprintf("sender and receiver pinned to the forwarder's CPU %s", topology.FormatCPUs(cs.forwarder))
	case placeOff:
		return fmt.Sprintf("sender and receiver pinned to CPU %s, which the forwarder does not use", topology.FormatCPUs(cs.other))
	}
	return "iperf3 started the ordinary way (`ip netns exec NS iperf3 …`), nothing pinned: what a user runs"
}

// cpuSets are the CPUs of the placements: the benchmark's own (every CPU it
// may use), the forwarder's, and the others.
type cpuSets struct {
	all       []int // the benchmark's affinity: what "nothing pinned" means
	forwarder []int // the forwarder's CPUs (`vpcnet status --json`: forwarder_cpus)
	other     []int // all minus forwarder
	pid       int   // the forwarder's pid; 0 when vpcnet is not up
	source    string
}

// newCPUSets derives the other CPUs from all and the forwarder's.
func newCPUSets(all, forwarder []int, pid int, source string) cpuSets {
	cs := cpuSets{all: all, forwarder: forwarder, pid: pid, source: source}
	for _, c := range all {
		if !slices.Contains(forwarder, c) {
			cs.other = append(cs.other, c)
		}
	}
	return cs
}

// cpus is the CPU list a placement pins to; nil for the scheduler's.
func (cs cpuSets) cpus(p placement) []int {
	switch p {
	case placeOn:
		return cs.forwarder
	case placeOff:
		return cs.other
	}
	return nil
}

// usable says whether a pinned placement differs from the scheduler's: a
// forwarder that runs on every CPU leaves no "off", and its "on" is no pin.
func (cs cpuSets) usable(p placement) bool {
	switch p {
	case placeOn:
		return len(cs.forwarder) > 0 && len(cs.other) > 0
	case placeOff:
		return len(cs.other) > 0 && len(cs.forwarder) > 0
	}
	return true
}

// placements are those of ps that can be measured here, the scheduler's
// always.
func (cs cpuSets) placements(ps []placement) []placement {
	if len(ps) == 0 {
		return []placement{placeScheduler}
	}
	var out []placement
	for _, p := range ps {
		if cs.usable(p) {
			out = append(out, p)
		}
	}
	return out
}

// statusDoc is the part of `vpcnet status --json` (one element per
// topology) the benchmark reads.
type statusDoc struct {
	Name  string `json:"name"`
	PID   int    `json:"pid"`
	CPUs  string `json:"forwarder_cpus"`
	Error string `json:"error"`
}

// parseStatus reads the forwarder's pid and CPUs of topology name from
// `vpcnet status --topology NAME --json`.
func parseStatus(out []byte, name string) (pid int, cpus []int, err error) {
	var docs []statusDoc
	if err := json.Unmarshal(out, &docs); err != nil {
		return 0, nil, fmt.Errorf("vpcnet status --json: %w", err)
	}
	for _, d := range docs {
		if d.Name != name {
			continue
		}
		if d.Error != "" {
			return 0, nil, fmt.Errorf("vpcnet status: topology %s: %s", name, d.Error)
		}
		if d.PID <= 0 {
			return 0, nil, fmt.Errorf("vpcnet status: topology %s has no forwarder pid", name)
		}
		if d.CPUs == "" {
			return d.PID, nil, nil
		}
		cpus, err := topology.ParseCPUs(d.CPUs)
		if err != nil {
			return 0, nil, fmt.Errorf("vpcnet status: topology %s: forwarder_cpus: %w", name, err)
		}
		return d.PID, cpus, nil
	}
	return 0, nil, fmt.Errorf("vpcnet status --json: no topology %s in %s", name, strings.TrimSpace(string(out)))
}

// forwarderSets reads the placements' CPUs from the running topology's
// status.
func forwarderSets(ctx context.Context, v *vpcnet) (cpuSets, error) {
	all, err := dataplane.AllowedCPUs()
	if err != nil {
		return cpuSets{}, err
	}
	out, err := run(ctx, "", v.bin, "status", "--topology", benchTopology, "--json")
	if err != nil {
		return cpuSets{}, err
	}
	pid, cpus, err := parseStatus([]byte(out), benchTopology)
	if err != nil {
		return cpuSets{}, err
	}
	if cpus == nil {
		cpus = all
	}
	return newCPUSets(all, cpus, pid, "`vpcnet status --json`"), nil
}

// defaultSets are the CPUs a forwarder would get from the default
// forwarder_cpus ("auto"), for a run that measures the kernel alone.
func defaultSets() cpuSets {
	all, err := dataplane.AllowedCPUs()
	if err != nil {
		return cpuSets{source: "not known: " + err.Error()}
	}
	cpus, err := dataplane.ForwarderCPUs(topology.CPUsAuto, all)
	if err != nil || cpus == nil {
		cpus = all
	}
	return newCPUSets(all, cpus, 0, "the default forwarder_cpus (auto); vpcnet not up")
}

// tasksetArgs prefixes a command with `taskset -c CPUS` when cpus is set.
func tasksetArgs(cpus []int, args []string) []string {
	if len(cpus) == 0 {
		return args
	}
	return append([]string{"taskset", "-c", topology.FormatCPUs(cpus)}, args...)
}

// pinServer sets the affinity of every thread of the iperf3 server pid to
// cpus (nil: every CPU the benchmark may use), like `taskset -a -p`. The
// server was started by the benchmark; its comm is checked so that a reused
// pid is never touched.
func pinServer(pid int, cpus, all []int) error {
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return fmt.Errorf("iperf3 server pid %d: %w", pid, err)
	}
	if c := strings.TrimSpace(string(comm)); c != "iperf3" {
		return fmt.Errorf("pid %d is %q, not the iperf3 server the benchmark started", pid, c)
	}
	if len(cpus) == 0 {
		cpus = all
	}
	return setAffinity(pid, cpus)
}
