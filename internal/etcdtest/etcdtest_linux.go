package etcdtest

import (
	"syscall"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"

	"github.com/vpcnet/vpcnet/netns"
)

// procAttr makes a member die with the test process, whatever ends it.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// loUp brings lo up in the namespace, through a netlink handle bound to it.
func loUp(h netns.Handle) error {
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		return err
	}
	defer nl.Close()
	lo, err := nl.LinkByName("lo")
	if err != nil {
		return err
	}
	return nl.LinkSetUp(lo)
}

func openNS(name string) (netns.Handle, error) { return vnetns.GetFromName(name) }
