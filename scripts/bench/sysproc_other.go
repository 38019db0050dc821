//go:build !linux

package main

import "syscall"

// childAttr: the benchmark needs Linux namespaces; elsewhere it only builds.
func childAttr() *syscall.SysProcAttr { return nil }
