//go:build !linux

package etcdtest

import (
	"syscall"

	"github.com/vpcnet/vpcnet/netns"
)

func procAttr() *syscall.SysProcAttr      { return nil }
func loUp(netns.Handle) error             { return netns.ErrUnsupported }
func openNS(string) (netns.Handle, error) { return -1, netns.ErrUnsupported }
