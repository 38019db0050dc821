package dataplane

import (
	"fmt"
	"slices"

	"github.com/vpcnet/vpcnet/topology"
)

// ForwarderCPUs decides where the forwarder's threads run
// (settings.forwarder_cpus), given the CPUs this process may use. nil means
// "do not pin".
//
//   - "all": not pinned.
//   - "auto" (the default): with two or more CPUs, the last quarter of them,
//     at least one (on a 2-CPU machine, the second CPU); with one, not pinned.
//   - a list: exactly those CPUs, each of which must be allowed.
//
// Pinning keeps the forwarder's wake-ups on its own CPUs, the way a kernel
// or DPDK dataplane owns its cores; the instances' processes may run on
// every CPU, and the scheduler moves them off the busy forwarder's: on this project's 2-CPU machine it made single-stream
// TCP across two subnets about 25 % faster (README, Performance).
func ForwarderCPUs(setting string, allowed []int) ([]int, error) {
	want, err := topology.ParseCPUs(setting)
	if err != nil {
		return nil, fmt.Errorf("settings.forwarder_cpus: %w (%s)", err, topology.RuleFormat)
	}
	switch setting {
	case topology.CPUsAll:
		return nil, nil
	case topology.CPUsAuto:
		if len(allowed) < 2 {
			return nil, nil
		}
		n := max(1, len(allowed)/4)
		return slices.Clone(allowed[len(allowed)-n:]), nil
	}
	for _, c := range want {
		if !slices.Contains(allowed, c) {
			return nil, fmt.Errorf("settings.forwarder_cpus: CPU %d is not one vpcnet may run on here (%s); use CPUs of that list, %q or %q",
				c, topology.FormatCPUs(allowed), topology.CPUsAuto, topology.CPUsAll)
		}
	}
	return want, nil
}
