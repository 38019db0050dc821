package dataplane

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// AllowedCPUs returns the CPUs this process may run on, ascending.
func AllowedCPUs() ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil, fmt.Errorf("sched_getaffinity: %w", err)
	}
	var cpus []int
	for c := 0; c < len(set)*64; c++ {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}

// PinProcess binds every thread of this process to cpus, and sets
// GOMAXPROCS to their number unless the GOMAXPROCS variable is set. Threads
// made later inherit the binding from the thread that makes them. Child
// processes that should run anywhere must be started from a thread of their
// own (netns.Start does).
//
// If a thread cannot be bound, every thread goes back to the CPUs the
// calling thread had, and the error is returned.
func PinProcess(cpus []int) error {
	if len(cpus) == 0 {
		return errors.New("pin to no CPU")
	}
	var set, before unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	if err := unix.SchedGetaffinity(0, &before); err != nil {
		return fmt.Errorf("sched_getaffinity: %w", err)
	}
	if err := bindAll(&set); err != nil {
		bindAll(&before)
		return err
	}
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(len(cpus))
	}
	return nil
}

// bindAll binds every thread of the process to set.
func bindAll(set *unix.CPUSet) error {
	// A thread made while a pass runs, by a thread not yet bound, is caught
	// by the next pass; a pass that binds nothing new ends it.
	for pass := 0; pass < 100; pass++ {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		bound := 0
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			var cur unix.CPUSet
			if unix.SchedGetaffinity(tid, &cur) != nil || cur == *set {
				continue // gone, or already bound
			}
			if err := unix.SchedSetaffinity(tid, set); err != nil && err != unix.ESRCH {
				return fmt.Errorf("sched_setaffinity thread %d: %w", tid, err)
			}
			bound++
		}
		if bound == 0 {
			return nil
		}
	}
	return errors.New("pin: threads kept appearing")
}
