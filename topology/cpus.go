package topology

import (
	"fmt"
	"strconv"
	"strings"
)

// The words settings.forwarder_cpus takes besides a CPU list.
const (
	CPUsAuto = "auto" // the default: the machine decides (dataplane.ForwarderCPUs)
	CPUsAll  = "all"  // not pinned: the forwarder's threads run anywhere
)

// MaxCPU bounds the CPU numbers a list may name (the kernel's CPU set size).
const MaxCPU = 1023

// ParseCPUs parses settings.forwarder_cpus. It returns nil for "auto" and
// "all", and otherwise the CPUs of a list in the kernel's cpulist format
// ("1", "0-3", "2-3,6"), sorted and without repeats.
func ParseCPUs(s string) ([]int, error) {
	if s == CPUsAuto || s == CPUsAll {
		return nil, nil
	}
	bad := func(why string) error {
		return fmt.Errorf(`%q is not "auto", "all" or a CPU list such as "1" or "2-3,6": %s`, s, why)
	}
	if s == "" {
		return nil, bad("it is empty")
	}
	var seen [MaxCPU + 1]bool
	for _, part := range strings.Split(s, ",") {
		a, b, isRange := strings.Cut(part, "-")
		lo, err := cpuNumber(a)
		hi := lo
		if err == nil && isRange {
			hi, err = cpuNumber(b)
		}
		if err != nil {
			return nil, bad(err.Error())
		}
		if lo > hi {
			return nil, bad(fmt.Sprintf("range %s runs backwards", part))
		}
		for c := lo; c <= hi; c++ {
			seen[c] = true
		}
	}
	var cpus []int
	for c, ok := range seen {
		if ok {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}

// cpuNumber parses one CPU number of a list: plain decimal digits, at most MaxCPU.
func cpuNumber(s string) (int, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a CPU number", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > MaxCPU {
		return 0, fmt.Errorf("CPU %s is above %d", s, MaxCPU)
	}
	return n, nil
}

// FormatCPUs writes ascending CPUs as a cpulist: "0-3,6".
func FormatCPUs(cpus []int) string {
	var b strings.Builder
	for i := 0; i < len(cpus); {
		j := i
		for j+1 < len(cpus) && cpus[j+1] == cpus[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(cpus[i]))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(cpus[j]))
		}
		i = j + 1
	}
	return b.String()
}
