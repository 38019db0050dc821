//go:build !linux

package dataplane

// AllowedCPUs returns ErrUnsupported off Linux.
func AllowedCPUs() ([]int, error) { return nil, ErrUnsupported }

// PinProcess returns ErrUnsupported off Linux.
func PinProcess(cpus []int) error { return ErrUnsupported }
