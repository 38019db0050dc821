package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
)

// The kernel anchors: the Linux kernel doing the forwarder's job between
// namespaces of its own, measured in the same run (performance.md). All of
// it lives in namespaces named <prefix>-<x>; the host namespace is never
// touched.
//
//	plain:  <p>-a  eth0 10.250.1.2/24 ── ra 10.250.1.1/24  <p>-r  rb 10.250.2.1/24 ── eth0 10.250.2.2/24  <p>-b
//	        (ip_forward=1 in <p>-r)
//	NAT:    <p>-n  eth0 10.250.3.2/24 ── priv 10.250.3.1/24 <p>-g pub 198.18.0.1/24 ── eth0 198.18.0.10/24 <p>-i
//	        (ip_forward=1, nftables conntrack + masquerade out of pub in <p>-g; the "internet"
//	        host <p>-i has no route back to 10.250.3.0/24)

// anchorPrefix names this run's kernel namespaces; the PID keeps it unique.
func anchorPrefix() string { return fmt.Sprintf("vbk%d", os.Getpid()) }

// staleAnchor matches kernel-anchor namespaces of any benchmark run.
var staleAnchor = regexp.MustCompile(`^vbk[0-9]+-[a-z]$`)

// natRuleset is loaded with `nft -f -` inside the NAT anchor's router only:
// stateful forwarding (new connections only from the private side) and
// masquerade to the router's public address, as a NAT gateway does.
const natRuleset = `table ip vbench {
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		iifname "priv" oifname "pub" ct state new accept
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "pub" masquerade
	}
}
`

// link is one veth pair between two namespaces, with an address on each end.
type link struct {
	nsA, devA, addrA string
	nsB, devB, addrB string
}

// newNS creates a namespace with lo up and IPv6 off (no router
// solicitations or DAD traffic during the measurements), and pushes its
// removal.
func newNS(ctx context.Context, c *cleanups, ns string) error {
	if _, err := run(ctx, "", "ip", "netns", "add", ns); err != nil {
		return err
	}
	c.push("delete namespace "+ns, func(ctx context.Context) error { return deleteNS(ctx, ns) })
	if err := ipNS(ctx, ns, "link", "set", "lo", "up"); err != nil {
		return err
	}
	_, err := inNS(ctx, ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	return err
}

// addLink creates the veth pair directly inside its two namespaces (the
// peer is created in nsB, never in the host), sets the addresses and brings
// both ends up.
func addLink(ctx context.Context, l link) error {
	steps := [][]string{
		{l.nsA, "link", "add", l.devA, "type", "veth", "peer", "name", l.devB, "netns", l.nsB},
		{l.nsA, "addr", "add", l.addrA, "dev", l.devA},
		{l.nsB, "addr", "add", l.addrB, "dev", l.devB},
		{l.nsA, "link", "set", l.devA, "up"},
		{l.nsB, "link", "set", l.devB, "up"},
	}
	for _, s := range steps {
		if err := ipNS(ctx, s[0], s[1:]...); err != nil {
			return err
		}
	}
	return nil
}

// kernelPaths are the two anchor paths a run measures.
type kernelPaths struct {
	plain, nat path
}

// setupKernelAnchors builds the anchors that are asked for and returns
// their paths. Servers are started by the caller.
func setupKernelAnchors(ctx context.Context, c *cleanups, plain, nat bool) (kernelPaths, error) {
	p := anchorPrefix()
	ns := func(x string) string { return p + "-" + x }
	var kp kernelPaths
	if plain {
		for _, x := range []string{"a", "r", "b"} {
			if err := newNS(ctx, c, ns(x)); err != nil {
				return kp, err
			}
		}
		links := []link{
			{ns("a"), "eth0", "10.250.1.2/24", ns("r"), "ra", "10.250.1.1/24"},
			{ns("r"), "rb", "10.250.2.1/24", ns("b"), "eth0", "10.250.2.2/24"},
		}
		for _, l := range links {
			if err := addLink(ctx, l); err != nil {
				return kp, err
			}
		}
		if err := ipNS(ctx, ns("a"), "route", "add", "default", "via", "10.250.1.1"); err != nil {
			return kp, err
		}
		if err := ipNS(ctx, ns("b"), "route", "add", "default", "via", "10.250.2.1"); err != nil {
			return kp, err
		}
		if _, err := inNS(ctx, ns("r"), "sysctl", "-qw", "net.ipv4.ip_forward=1"); err != nil {
			return kp, err
		}
		kp.plain = path{side: sideKernel, client: ns("a"), server: ns("b"), addr: "10.250.2.2"}
	}
	if nat {
		for _, x := range []string{"n", "g", "i"} {
			if err := newNS(ctx, c, ns(x)); err != nil {
				return kp, err
			}
		}
		links := []link{
			{ns("n"), "eth0", "10.250.3.2/24", ns("g"), "priv", "10.250.3.1/24"},
			{ns("g"), "pub", "198.18.0.1/24", ns("i"), "eth0", "198.18.0.10/24"},
		}
		for _, l := range links {
			if err := addLink(ctx, l); err != nil {
				return kp, err
			}
		}
		if err := ipNS(ctx, ns("n"), "route", "add", "default", "via", "10.250.3.1"); err != nil {
			return kp, err
		}
		if _, err := inNS(ctx, ns("g"), "sysctl", "-qw", "net.ipv4.ip_forward=1"); err != nil {
			return kp, err
		}
		if _, err := run(ctx, natRuleset, "ip", "netns", "exec", ns("g"), "nft", "-f", "-"); err != nil {
			return kp, fmt.Errorf("load the masquerade ruleset in %s: %w", ns("g"), err)
		}
		kp.nat = path{side: sideKernel, client: ns("n"), server: ns("i"), addr: "198.18.0.10", counterNS: []string{ns("n"), ns("i")}}
	}
	if plain {
		kp.plain.counterNS = []string{ns("a"), ns("b")}
	}
	return kp, nil
}

// removeStaleAnchors deletes kernel-anchor namespaces that a killed run left
// behind, and the servers it left in them. It is called with the lock
// held, so no other run is using them.
func removeStaleAnchors(ctx context.Context, exe string) error {
	names, err := namespaces(ctx)
	if err != nil {
		return err
	}
	for _, ns := range names {
		if !staleAnchor.MatchString(ns) {
			continue
		}
		fmt.Fprintf(os.Stderr, "removing namespace %s left by an earlier run\n", ns)
		killInNS(ctx, ns, "iperf3", exe)
		if err := deleteNS(ctx, ns); err != nil {
			return err
		}
	}
	return nil
}
