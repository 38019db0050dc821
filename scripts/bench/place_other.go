//go:build !linux

package main

import "errors"

// setAffinity: the benchmark needs Linux; elsewhere it only builds.
func setAffinity(pid int, cpus []int) error { return errors.New("CPU affinity: Linux only") }
