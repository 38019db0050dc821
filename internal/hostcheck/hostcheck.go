//go:build linux

// Package hostcheck lists what the network-safety rule keeps unchanged in
// the host's own namespace: its links, addresses, routes and rules. The
// end-to-end suites (test/, test/multihost/) compare a Snapshot taken
// before their tests with one taken after. Only tests import it.
package hostcheck

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/vishvananda/netlink"
)

// Snapshot lists the host namespace's links, addresses, routes and rules,
// one per line, sorted.
func Snapshot() string {
	var b strings.Builder
	links, _ := netlink.LinkList()
	var names []string
	for _, l := range links {
		a := l.Attrs()
		names = append(names, fmt.Sprintf("link %s %s mtu=%d flags=%s", a.Name, a.HardwareAddr, a.MTU, a.Flags))
	}
	writeSorted(&b, names)
	addrs, _ := netlink.AddrList(nil, netlink.FAMILY_ALL)
	var as []string
	for _, a := range addrs {
		as = append(as, fmt.Sprintf("addr %d %s", a.LinkIndex, a.IPNet))
	}
	writeSorted(&b, as)
	routes, _ := netlink.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: 0}, netlink.RT_FILTER_TABLE)
	var rs []string
	for _, r := range routes {
		rs = append(rs, "route "+r.String())
	}
	writeSorted(&b, rs)
	rules, _ := netlink.RuleList(netlink.FAMILY_ALL)
	for _, r := range rules {
		b.WriteString("rule " + r.String() + "\n")
	}
	return b.String()
}

// Guard runs run (a test binary's m.Run) and makes its exit code 1 when
// the host namespace differs afterwards (network safety), printing both
// snapshots.
func Guard(run func() int) int {
	before := Snapshot()
	code := run()
	if after := Snapshot(); after != before {
		fmt.Fprintf(os.Stderr, "HOST NAMESPACE CHANGED\nbefore:\n%s\nafter:\n%s\n", before, after)
		code = 1
	}
	return code
}

func writeSorted(b *strings.Builder, lines []string) {
	sort.Strings(lines)
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
}
