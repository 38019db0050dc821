//go:build !linux

package netns

import (
	"context"
	"net"
	"net/netip"
	"os/exec"
	"time"
)

// Handle is an open namespace.
type Handle int

// Close releases the handle.
func (h Handle) Close() error { return nil }

func Create(name string) (Handle, error)                 { return -1, ErrUnsupported }
func Exists(name string) bool                            { return false }
func Delete(name string) error                           { return ErrUnsupported }
func Do(ns Handle, fn func() error) error                { return ErrUnsupported }
func OpenTUN(ns Handle) (int, error)                     { return -1, ErrUnsupported }
func Sysctl(ns Handle, key, value string) error          { return ErrUnsupported }
func Configure(name string, ns Handle, cfg Config) error { return ErrUnsupported }

func ConfigureIface(name string, ns Handle, index int, ifc Iface) error { return ErrUnsupported }
func DelAddr(ns Handle, dev string, p netip.Prefix) error               { return ErrUnsupported }
func WriteHosts(name string, entries []HostEntry) error                 { return ErrUnsupported }

func startAnywhere(cmd *exec.Cmd) error { return cmd.Start() }

func startInCgroup(name string, newCmd func() *exec.Cmd) (*exec.Cmd, error) {
	return nil, ErrUnsupported
}

type ending struct{}

func endingOf(procs []Proc) ending            { return ending{} }
func (*ending) end(grace time.Duration) error { return ErrUnsupported }

// EnterCgroup does nothing where there are no namespaces.
func EnterCgroup(name string) error { return nil }

// LinkNames is unsupported where there are no namespaces.
func LinkNames(name string) (map[string]bool, error) { return nil, ErrUnsupported }

func Current() (Handle, error) { return -1, ErrUnsupported }

func Open(name string) (Handle, error)                          { return -1, ErrUnsupported }
func OpenUDP(ns Handle, addr netip.Addr, port int) (int, error) { return -1, ErrUnsupported }
func Dialer(ns Handle) func(ctx context.Context, addr string) (net.Conn, error) {
	return func(context.Context, string) (net.Conn, error) { return nil, ErrUnsupported }
}

func SourceToward(ns Handle, dst net.IP) (netip.Addr, error) { return netip.Addr{}, ErrUnsupported }

func DialIn(name, addr string, timeout time.Duration) (net.Conn, error) { return nil, ErrUnsupported }
