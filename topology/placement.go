package topology

// Placement (issue 16): a network spread over several machines keeps its
// desired state in etcd (settings.store) and runs an agent per machine
// (`vpcnet agent --host NAME`). settings.placement says which machine runs
// what: an availability zone per machine (the natural map), an instance's
// own "host" over that, the emulated internet's hosts on one machine.
// Without settings.store the network is the single-machine one and none of
// this applies.

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// PlacementSpec is settings.placement.
type PlacementSpec struct {
	// Zones maps an availability zone to the machine that runs its
	// subnets' instances, NAT gateways and internet-gateway translations.
	Zones map[string]string `json:"zones,omitempty"`
	// Internet is the machine of the emulated internet's hosts; default:
	// Default.
	Internet string `json:"internet,omitempty"`
	// Default is the machine of anything Zones does not place; default:
	// the first machine of Zones in name order.
	Default string `json:"default,omitempty"`
}

// Placement is settings.placement, resolved.
type Placement struct {
	Zones    map[string]string
	Internet string
	Default  string
}

// hostNameRE is a machine's name: it names etcd keys and devices, so it is
// held to what is safe in both.
var hostNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// CheckHostName refuses a machine name outside [a-z0-9][a-z0-9-]{0,31}.
func CheckHostName(path, name string) error {
	if !hostNameRE.MatchString(name) {
		return &Error{Path: path, Rule: RuleFormat, Msg: fmt.Sprintf("machine name %q must match [a-z0-9][a-z0-9-]{0,31}", name)}
	}
	return nil
}

// storeRE is settings.store's shape: etcd://host:port[,host:port…]. The
// store package parses it in full when it connects.
var storeRE = regexp.MustCompile(`^etcd://[A-Za-z0-9.\-\[\]:]+(,[A-Za-z0-9.\-\[\]:]+)*$`)

// placement resolves settings.store and settings.placement, and each
// instance's "host".
func (r *resolver) placement() {
	ss := r.t.Settings
	s := &r.n.Settings
	if ss != nil && ss.Store != nil {
		if u := *ss.Store; len(u) > 1024 || !storeRE.MatchString(u) {
			r.errf("settings.store", RuleFormat, "%q is not an etcd address list such as etcd://10.0.0.1:2379,10.0.0.2:2379", clip(u))
		} else {
			s.Store = u
		}
	}
	var ps *PlacementSpec
	if ss != nil {
		ps = ss.Placement
	}
	if ps != nil && (ss.Store == nil) {
		r.errf("settings.placement", RuleFormat, "placement needs settings.store: a network on one machine has nothing to place")
	}
	if ps != nil {
		p := Placement{Zones: map[string]string{}, Internet: ps.Internet, Default: ps.Default}
		azs := make([]string, 0, len(ps.Zones))
		for az := range ps.Zones {
			azs = append(azs, az)
		}
		sort.Strings(azs)
		for _, az := range azs {
			path := "settings.placement.zones." + clip(az)
			if !r.badRegion && (!strings.HasPrefix(az, r.n.Region) || len(az) == len(r.n.Region) || len(az) > len(r.n.Region)+2) {
				r.errf(path, "INST-1", "availability zone %q is not in region %q", clip(az), r.n.Region)
				continue
			}
			if err := CheckHostName(path, ps.Zones[az]); err != nil {
				r.errs = append(r.errs, err.(*Error))
				continue
			}
			p.Zones[az] = ps.Zones[az]
		}
		for path, h := range map[string]string{"settings.placement.internet": p.Internet, "settings.placement.default": p.Default} {
			if h != "" {
				if err := CheckHostName(path, h); err != nil {
					r.errs = append(r.errs, err.(*Error))
				}
			}
		}
		if p.Default == "" {
			if len(azs) > 0 {
				p.Default = p.Zones[azs[0]]
			} else {
				p.Default = p.Internet
			}
		}
		if p.Internet == "" {
			p.Internet = p.Default
		}
		if p.Default == "" {
			r.errf("settings.placement", RuleFormat, "names no machine: give zones, default or internet")
		}
		s.Placement = &p
	} else if s.Store != "" {
		r.errf("settings.store", RuleFormat, "a network in a store needs settings.placement: which machine runs which availability zone")
	}
	if s.Store != "" && len(r.t.LocalGateways) > 0 {
		// The on-premises side of a local gateway is wired on one machine
		// only (lgw.go); over several it would drop silently.
		r.errf("local_gateways", RuleFormat, "local gateways (Outposts, COIP) run on one machine only: not with settings.store")
	}
}

// checkInstanceHost resolves an instance's "host" at path.
func (r *resolver) instanceHost(path string, inst *Instance, host string) {
	if host == "" {
		return
	}
	if r.t.Settings == nil || r.t.Settings.Store == nil {
		r.errf(path, RuleFormat, "an instance's host needs settings.store: a network on one machine has nothing to place")
		return
	}
	if err := CheckHostName(path, host); err != nil {
		r.errs = append(r.errs, err.(*Error))
		return
	}
	inst.Host = host
}

// clip bounds a user's string in an error message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// Distributed reports whether the network lives in a store and runs on
// several machines.
func (n *Network) Distributed() bool { return n.Settings.Store != "" }

// SubnetHost is the machine that holds subnet s: its NAT gateways and the
// internet gateway's translations for it run there, and its instances
// unless they say otherwise.
func (n *Network) SubnetHost(s *Subnet) string {
	if n.Settings.Placement == nil {
		return ""
	}
	if h := n.Settings.Placement.Zones[s.AZ]; h != "" {
		return h
	}
	return n.Settings.Placement.Default
}

// HostOf is the machine that runs instance i.
func (n *Network) HostOf(i *Instance) string {
	if i.Host != "" {
		return i.Host
	}
	if i.Subnet != nil {
		return n.SubnetHost(i.Subnet)
	}
	return n.defaultHost()
}

func (n *Network) defaultHost() string {
	if n.Settings.Placement == nil {
		return ""
	}
	return n.Settings.Placement.Default
}

// ENIHost is the machine whose forwarder holds e's port and state: its
// instance's, else (a NAT gateway's, a detached ENI's) its subnet's.
func (n *Network) ENIHost(e *ENI) string {
	if e.Instance != nil {
		return n.HostOf(e.Instance)
	}
	if e.Subnet != nil {
		return n.SubnetHost(e.Subnet)
	}
	return n.defaultHost()
}

// InternetHost is the machine of the emulated internet's hosts (and of the
// on-premises hosts behind local gateways).
func (n *Network) InternetHost() string {
	if n.Settings.Placement == nil {
		return ""
	}
	return n.Settings.Placement.Internet
}

// Machines lists every machine the placement names, sorted.
func (n *Network) Machines() []string {
	p := n.Settings.Placement
	if p == nil {
		return nil
	}
	set := []string{}
	add := func(h string) {
		if h != "" && !slices.Contains(set, h) {
			set = append(set, h)
		}
	}
	for _, h := range p.Zones {
		add(h)
	}
	add(p.Internet)
	add(p.Default)
	for _, v := range n.VPCs {
		for _, i := range v.Instances {
			add(i.Host)
		}
	}
	sort.Strings(set)
	return set
}

// exportPlacement writes settings.store and settings.placement back.
func exportPlacement(s Settings, t *SettingsSpec) {
	if s.Store == "" || s.Placement == nil {
		return
	}
	st := s.Store
	t.Store = &st
	t.Placement = &PlacementSpec{Zones: s.Placement.Zones, Internet: s.Placement.Internet, Default: s.Placement.Default}
}
