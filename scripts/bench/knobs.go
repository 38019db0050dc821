package main

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strings"
)

// The forwarder's environment knobs, for experiments measured side by side
// (issue 15's lab table): `sudo make bench VPCNET_IO=… VPCNET_BUSYPOLL=…`
// (make exports variables given on its command line; plain `sudo` drops
// the caller's environment). The benchmark starts `vpcnet up` with its own
// environment, and `vpcnet up` the daemon with its, so they reach the
// forwarder; upBenchTopology checks that they did, and the report names
// them so that a table can cite the run.

// knobNames are always named in the report, set or not; any other VPCNET_*
// variable that is set is named too.
var knobNames = []string{"VPCNET_IO", "VPCNET_BUSYPOLL", "VPCNET_TAP_QUEUES"}

// knob is one environment variable and its value.
type knob struct {
	name, value string
	set         bool
}

func (k knob) String() string {
	if !k.set {
		return k.name + " unset"
	}
	return k.name + "=" + k.value
}

// readKnobs picks the knobs out of an environment (os.Environ's form):
// knobNames first, in their order, then the other VPCNET_* ones, sorted.
func readKnobs(environ []string) []knob {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "VPCNET_") {
			env[k] = v
		}
	}
	var ks []knob
	for _, n := range knobNames {
		v, ok := env[n]
		ks = append(ks, knob{n, v, ok})
		delete(env, n)
	}
	var rest []string
	for n := range env {
		rest = append(rest, n)
	}
	sort.Strings(rest)
	for _, n := range rest {
		ks = append(ks, knob{n, env[n], true})
	}
	return ks
}

// checkKnobs fails unless the environment of process pid (the forwarder)
// has every knob as the benchmark has it, set or unset.
func checkKnobs(pid int, ks []knob) error {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return fmt.Errorf("environment of the forwarder (pid %d): %w", pid, err)
	}
	var environ []string
	for _, kv := range bytes.Split(b, []byte{0}) {
		if len(kv) > 0 {
			environ = append(environ, string(kv))
		}
	}
	return compareKnobs(ks, readKnobs(environ))
}

// compareKnobs says which of want the forwarder's knobs (got) differ in.
func compareKnobs(want, got []knob) error {
	have := map[string]knob{}
	for _, k := range got {
		have[k.name] = k
	}
	var diff []string
	for _, w := range want {
		g := have[w.name]
		if g.set != w.set || g.value != w.value {
			if !g.set {
				g = knob{name: w.name}
			}
			diff = append(diff, fmt.Sprintf("%s (the benchmark has %s)", g, w))
		}
	}
	if len(diff) > 0 {
		return fmt.Errorf("the forwarder did not inherit the benchmark's knobs: it has %s", strings.Join(diff, ", "))
	}
	return nil
}
