package main

import "syscall"

// childAttr makes a server child die with the benchmark, should the
// benchmark be killed before it can stop the child by PID.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
