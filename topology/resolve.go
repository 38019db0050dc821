package topology

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Defaults applied by Resolve.
const (
	DefaultRegion       = "us-east-1"
	DefaultPoolName     = "amazon"
	DefaultPoolCIDR     = "3.34.0.0/16"
	DefaultConntrackMax = 262144
	// DefaultBusyPollMicroseconds is how long the forwarder keeps looking
	// for frames after the last one before it sleeps (settings.busy_poll_us).
	DefaultBusyPollMicroseconds            = 200
	DefaultNATIdleTimeoutSeconds           = 350   // NAT-4
	DefaultNATMaxConnectionsPerDestination = 55000 // NAT-3
	DefaultFlowLogAggregationSeconds       = 60    // OBS-1
	DefaultTCPEstablishedTimeout           = 432000
	DefaultUDPStreamTimeout                = 180
	DefaultUDPTimeout                      = 30
	// DefaultEC2Port is the first port the EC2 endpoint tries on
	// 127.0.0.1 when settings.ec2_endpoint is not given (LocalStack's
	// port, which AWS tools' examples for local endpoints use).
	DefaultEC2Port = 4566
)

// Load parses and resolves a topology file: Parse then Resolve.
func Load(data []byte) (*Network, error) {
	t, err := Parse(data)
	if err != nil {
		return nil, err
	}
	return Resolve(t)
}

// Resolve applies the defaults to a parsed topology, checks every static
// rule, and returns the resolved Network. All errors found are returned
// together as an *Errors, each naming its JSON path and rule id.
func Resolve(t *Topology) (*Network, error) {
	if t == nil {
		return nil, &Errors{{Rule: RuleFormat, Msg: "empty topology"}}
	}
	r := &resolver{
		t:      t,
		names:  map[string]*entry{},
		pools:  map[string]*Pool{},
		public: map[netip.Addr]string{},
	}
	r.resolve()
	if len(r.errs) > 0 {
		errs := r.errs
		return nil, &errs
	}
	return r.n, nil
}

// Kinds of named resources, as error messages name them.
const (
	kindPool     = "address pool"
	kindEIP      = "elastic IP"
	kindHost     = "internet host"
	kindVPC      = "vpc"
	kindIGW      = "internet gateway"
	kindSubnet   = "subnet"
	kindRT       = "route table"
	kindNAT      = "NAT gateway"
	kindSG       = "security group"
	kindNACL     = "network ACL"
	kindENI      = "network interface"
	kindInstance = "instance"
	kindPeering  = "peering connection"
	kindFlowLog  = "flow log"
)

// entry is one name of the file's single namespace.
type entry struct {
	kind string
	path string
	vpc  *VPC // owning VPC, nil for top-level resources
	obj  any
}

// ipReq is a pending private-address assignment for one ENI (ENI-1).
type ipReq struct {
	eni        *ENI
	path       string // path of the object holding private_ip
	primary    string
	secondary  []string
	explicitOK bool // the explicit addresses parsed and passed their checks
}

// vpcWork is the per-VPC state of a resolution.
type vpcWork struct {
	spec *VPCSpec
	path string
	v    *VPC
	used map[netip.Addr]string // private IP → path of its owner (ENI-1)
	ips  []*ipReq
	rts  []*RouteTable // user tables, index-aligned with spec.RouteTables
	sgs  []*SecurityGroup
	nacl []*NACL
	nats []*NATGateway
	enis []*ENI // standalone, index-aligned with spec.NetworkInterfaces
	inst []*Instance
}

type resolver struct {
	t      *Topology
	n      *Network
	errs   Errors
	names  map[string]*entry
	pools  map[string]*Pool
	public map[netip.Addr]string // public addresses taken: hosts, EIPs, auto-assigned
	vpcs   []*vpcWork
	eipAt  map[*EIP]string // EIP → path of its first association (EIP-2)
	// sgrIDs: security group rule id → its rule's path (SG-3)
	sgrIDs map[string]string

	badRegion bool                    // the region is in error: skip the AZ checks that use it
	dhcp      map[string]*DHCPOptions // DHCP options sets by name (dhcp.go)
}

func (r *resolver) errf(path, rule, format string, args ...any) {
	r.errs = append(r.errs, &Error{Path: path, Rule: rule, Msg: fmt.Sprintf(format, args...)})
}

func (r *resolver) id(prefix, name string) string { return awsID(r.n.Name, prefix, name) }

var (
	topoNameRE = regexp.MustCompile(`^[a-z0-9-]{1,12}$`)
	nsNameRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)
	regionRE   = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
)

// register enters a resource name into the file's single namespace. path
// names the field holding the name.
func (r *resolver) register(path, name, kind string, vpc *VPC, obj any) {
	if rule, msg := nameProblem(kind, name); msg != "" {
		r.errf(path, rule, "%s", msg)
		return
	}
	if prev, ok := r.names[name]; ok {
		r.errf(path, RuleFormat, "name %q is already used by the %s at %s: names are unique in the file", name, prev.kind, prev.path)
		return
	}
	r.names[name] = &entry{kind: kind, path: path, vpc: vpc, obj: obj}
}

// nameProblem says what is wrong with a resource name of kind, and the rule
// it breaks; "" if nothing. The file (register) and live operations
// (CheckResourceName) share it, so that what one accepts the other does.
func nameProblem(kind, name string) (rule, msg string) {
	switch {
	case name == "":
		return RuleFormat, kind + " name is required"
	case len(name) > 255:
		return RuleFormat, kind + " name is longer than 255 bytes"
	case strings.ContainsFunc(name, func(c rune) bool { return c < 0x20 || c == 0x7f }):
		return RuleFormat, fmt.Sprintf("%s name %q contains control characters", kind, name)
	case name == "local" || name == "blackhole":
		return RuleFormat, fmt.Sprintf("%q is a reserved route target and cannot name a %s", name, kind)
	case name == "default" && kind == kindSG:
		return "SG-7", `"default" is the name of the VPC's default security group`
	case name == "default" && kind == kindNACL:
		return "NACL-3", `"default" is the name of the VPC's default network ACL`
	case name == "main" && kind == kindRT:
		return "RT-1", `"main" is the name of the route table made with the VPC`
	case (kind == kindInstance || kind == kindHost || kind == kindOnPrem) && !nsNameRE.MatchString(name):
		return RuleFormat, fmt.Sprintf("%s name %q must match %s: it names a network namespace and a host", kind, name, nsNameRE)
	}
	return "", ""
}

// Kinds of resources whose names live operations give.
const (
	KindEIP      = kindEIP
	KindENI      = kindENI
	KindInstance = kindInstance
	KindSG       = kindSG
	KindRT       = kindRT
	KindNACL     = kindNACL
	KindPeering  = kindPeering
	KindFlowLog  = kindFlowLog
)

// CheckResourceName checks the name of a resource of kind made by a live
// operation by the file's own rules (FORMAT, SG-7, NACL-3).
func CheckResourceName(kind, name string) error {
	if rule, msg := nameProblem(kind, name); msg != "" {
		return &Error{Rule: rule, Msg: msg}
	}
	return nil
}

// lookup resolves a reference by name to a resource of kind want; vpc, when
// non-nil, is the VPC the resource must belong to.
func lookup[T any](r *resolver, path, rule, name, want string, vpc *VPC) (T, bool) {
	var zero T
	if name == "" {
		r.errf(path, rule, "%s name is required", want)
		return zero, false
	}
	e := r.names[name]
	if e == nil {
		r.errf(path, rule, "%s %q not found", want, name)
		return zero, false
	}
	if e.kind != want {
		r.errf(path, rule, "%q is a %s, not a %s", name, e.kind, want)
		return zero, false
	}
	if vpc != nil && e.vpc != vpc {
		r.errf(path, rule, "%s %q is in vpc %q, not in vpc %q", want, name, e.vpc.Name, vpc.Name)
		return zero, false
	}
	obj, ok := e.obj.(T)
	return obj, ok
}

func (r *resolver) resolve() {
	t := r.t
	r.n = &Network{
		Name:           t.Name,
		Region:         t.Region,
		Source:         t,
		InstanceByName: map[string]*Instance{},
	}
	r.eipAt = map[*EIP]string{}
	switch {
	case t.Name == "":
		r.errf("name", RuleFormat, "topology name is required")
	case !topoNameRE.MatchString(t.Name):
		r.errf("name", RuleFormat, "topology name %q must match [a-z0-9-]{1,12}: it prefixes every kernel object", t.Name)
	}
	if r.n.Region == "" {
		r.n.Region = DefaultRegion
	} else if !regionRE.MatchString(r.n.Region) {
		r.errf("region", RuleFormat, "region %q is not a region name such as us-east-1", r.n.Region)
		r.badRegion = true
	}
	r.settings()
	r.placement() // placement.go (issue 16)
	r.flowLogs()
	r.resolvePools()
	r.resolveLocalGateways() // coip.go
	r.resolveDHCPOptions()   // dhcp.go, DNS-4
	r.resolvePublicRecords() // dhcp.go, DNS-3
	r.resolveHosts()
	r.resolveEIPAddrs()
	r.resolveDetachedIGWs()
	if q := r.n.Settings.Quotas.VPCs; len(t.VPCs) > q {
		r.errf("vpcs", "QUOTA-1", "%d vpcs, more than the %d of the account's quota (settings.quotas.vpcs)", len(t.VPCs), q)
	}
	for i := range t.VPCs {
		r.declareVPC(i)
	}
	r.resolvePeerings()
	for _, w := range r.vpcs {
		r.linkSubnets(w)
		r.resolveSGRules(w)
		r.resolveNACLRules(w)
		r.associateSubnets(w)
		r.resolveGroups(w)
		r.assignPrivateIPs(w)
	}
	for _, w := range r.vpcs {
		r.attachENIs(w)
		r.instanceLimits(w) // QUOTA-2
		r.resolveRoutes(w)
	}
	for _, w := range r.vpcs {
		r.associateEIPs(w)
	}
	r.associateEIPTargets()
	for _, w := range r.vpcs {
		r.autoPublicIPs(w)
	}
	r.assignMACs()
	r.resolveVPCFlowLogs()
	r.resolveMirroring()
	r.resolveTags()    // tags.go: the account's tags and key pairs, instances' image and key
	r.eipDomainNames() // dhcp.go, DNS-3
	r.shadowWarnings()
	r.checkOnPremises() // coip.go, COIP-4
}

// settings resolves the dataplane tunables.
func (r *resolver) settings() {
	s := Settings{
		ConntrackMax:                    DefaultConntrackMax,
		NATIdleTimeoutSeconds:           DefaultNATIdleTimeoutSeconds,
		NATMaxConnectionsPerDestination: DefaultNATMaxConnectionsPerDestination,
		ForwarderCPUs:                   CPUsAuto,
		BusyPollMicroseconds:            DefaultBusyPollMicroseconds,
		Quotas:                          DefaultQuotas(),
	}
	if ss := r.t.Settings; ss != nil {
		if q := ss.Quotas; q != nil {
			// AWS raises every one of these on request; vpcnet's bound is
			// what its tables hold comfortably.
			r.intIn(&s.Quotas.VPCs, q.VPCs, "settings.quotas.vpcs", "QUOTA-1", 1, 1000)
			r.intIn(&s.Quotas.ElasticIPs, q.ElasticIPs, "settings.quotas.elastic_ips", "QUOTA-1", 1, 10000)
			r.intIn(&s.Quotas.GroupsPerENI, q.GroupsPerENI, "settings.quotas.security_groups_per_eni", "QUOTA-1", 1, 16)
			r.intIn(&s.Quotas.RulesPerGroup, q.RulesPerGroup, "settings.quotas.rules_per_security_group", "QUOTA-1", 1, 1000)
			r.intIn(&s.Quotas.RulesPerNACL, q.RulesPerNACL, "settings.quotas.rules_per_network_acl", "QUOTA-1", 1, 40)
			r.intIn(&s.Quotas.RoutesPerTable, q.RoutesPerTable, "settings.quotas.routes_per_route_table", "QUOTA-1", 1, 1000)
		}
		r.intIn(&s.ConntrackMax, ss.ConntrackMax, "settings.conntrack_max", "SG-4", 1, 1<<26)
		r.intIn(&s.NATIdleTimeoutSeconds, ss.NATIdleTimeoutSeconds, "settings.nat_idle_timeout_seconds", "NAT-4", 1, 432000)
		// NAT-3: one source port per connection, from 1024–65535.
		r.intIn(&s.NATMaxConnectionsPerDestination, ss.NATMaxConnectionsPerDestination, "settings.nat_max_connections_per_destination", "NAT-3", 1, 65535-1024+1)
		r.intIn(&s.BusyPollMicroseconds, ss.BusyPollMicroseconds, "settings.busy_poll_us", RuleFormat, 0, 100000)
		if c := ss.ForwarderCPUs; c != nil {
			if _, err := ParseCPUs(*c); err != nil {
				r.errf("settings.forwarder_cpus", RuleFormat, "%v", err)
			} else {
				s.ForwarderCPUs = *c
			}
		}
		if e := ss.EC2Endpoint; e != nil {
			s.EC2Endpoint = r.listenAddr("settings.ec2_endpoint", *e, "4566",
				"other machines can reach the EC2 endpoint (plain HTTP; only the topology's credentials keep them out)")
		}
		if m := ss.Metrics; m != nil {
			s.Metrics = r.listenAddr("settings.metrics", *m, "9100",
				"other machines can read the forwarder's metrics (plain HTTP, no authentication)")
		}
	}
	r.n.Settings = s
}

// listenAddr checks an address the daemon listens on (settings.ec2_endpoint,
// settings.metrics): an IP (no name, no zone) and a port 1–65535; port is
// the one the error's example shows. An address other than loopback is
// allowed, since the file names it, and is warned about with exposed: the
// EC2 endpoint is plain HTTP, and only the signature keeps other machines
// out; the metrics endpoint has no authentication at all.
func (r *resolver) listenAddr(path, s, port, exposed string) netip.AddrPort {
	ap, err := netip.ParseAddrPort(s)
	switch {
	case err != nil:
		r.errf(path, RuleFormat, "%q is not an IP address and port such as 127.0.0.1:%s or [::1]:%s", s, port, port)
		return netip.AddrPort{}
	case ap.Addr().Zone() != "":
		r.errf(path, RuleFormat, "%q: an address with a zone is not accepted", s)
		return netip.AddrPort{}
	case ap.Port() == 0:
		r.errf(path, RuleFormat, "%q: the port must be 1–65535", s)
		return netip.AddrPort{}
	}
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	if !ap.Addr().IsLoopback() {
		r.n.Warnings = append(r.n.Warnings, fmt.Sprintf("%s %s is not a loopback address: %s", path, ap, exposed))
	}
	return ap
}

// intIn stores *v into dst when given, after checking lo ≤ v ≤ hi.
func (r *resolver) intIn(dst *int, v *int, path, rule string, lo, hi int) {
	if v == nil {
		return
	}
	if *v < lo || *v > hi {
		r.errf(path, rule, "%d is out of range %d–%d", *v, lo, hi)
		return
	}
	*dst = *v
}

func (r *resolver) flowLogs() {
	fl := r.t.FlowLogs
	if fl == nil {
		return
	}
	out := &FlowLogs{Path: fl.Path, AggregationSeconds: DefaultFlowLogAggregationSeconds}
	if fl.Path == "" {
		r.errf("flow_logs.path", "OBS-1", "flow log path is required")
	}
	r.intIn(&out.AggregationSeconds, fl.AggregationSeconds, "flow_logs.aggregation_seconds", "OBS-1", 1, 600)
	r.n.FlowLogs = out
}

// resolvePools resolves the address pools, or makes the default Amazon pool
// (ADDR-5).
func (r *resolver) resolvePools() {
	region := r.n.Region
	if len(r.t.AddressPools) == 0 {
		p := &Pool{Name: DefaultPoolName, Kind: "amazon", BorderGroup: region,
			CIDRs: []netip.Prefix{netip.MustParsePrefix(DefaultPoolCIDR)}}
		r.n.Pools = append(r.n.Pools, p)
		r.pools[p.Name] = p
		return
	}
	type owned struct {
		p    netip.Prefix
		path string
	}
	var seen []owned
	for i, ps := range r.t.AddressPools {
		path := fmt.Sprintf("address_pools[%d]", i)
		p := &Pool{Name: ps.Name, Kind: ps.Kind, BorderGroup: ps.NetworkBorderGroup}
		r.register(path+".name", ps.Name, kindPool, nil, p)
		if p.Kind == "" {
			p.Kind = "amazon"
		}
		switch p.Kind {
		case "amazon", "byoip", "coip":
		default:
			r.errf(path+".kind", "ADDR-5", "pool kind %q must be amazon, byoip or coip", p.Kind)
		}
		if p.BorderGroup == "" {
			p.BorderGroup = region
		}
		if len(ps.CIDRs) == 0 {
			r.errf(path+".cidrs", "ADDR-5", "an address pool needs at least one cidr")
		}
		for j, c := range ps.CIDRs {
			cp := fmt.Sprintf("%s.cidrs[%d]", path, j)
			pfx, err := parsePrefix(c)
			if err != nil {
				r.errf(cp, "ADDR-5", "%v", err)
				continue
			}
			if why := notPublic(pfx); why != "" {
				r.errf(cp, "ADDR-5", "pool cidr %s is not public: it overlaps %s", pfx, why)
				continue
			}
			bad := false
			for _, o := range seen {
				if o.p.Overlaps(pfx) {
					r.errf(cp, "ADDR-5", "pool cidr %s overlaps %s at %s", pfx, o.p, o.path)
					bad = true
					break
				}
			}
			if !bad {
				seen = append(seen, owned{pfx, cp})
				p.CIDRs = append(p.CIDRs, pfx)
			}
		}
		r.n.Pools = append(r.n.Pools, p)
		if _, dup := r.pools[p.Name]; !dup && p.Name != "" {
			r.pools[p.Name] = p
		}
	}
}

// descriptionProblem says what is wrong with a description: EC2 allows 255
// characters, and a control character would break export's file.
func descriptionProblem(s string) string {
	switch {
	case len(s) > 255:
		return fmt.Sprintf("description is %d bytes long: at most 255", len(s))
	case strings.ContainsFunc(s, func(c rune) bool { return c < 0x20 || c == 0x7f }):
		return fmt.Sprintf("description %q contains control characters", s)
	}
	return ""
}

func (r *resolver) description(path, s string) {
	if msg := descriptionProblem(s); msg != "" {
		r.errf(path, RuleFormat, "%s", msg)
	}
}

// CheckDescription checks a description given to a live operation by the
// file's rule.
func CheckDescription(s string) error {
	if msg := descriptionProblem(s); msg != "" {
		return &Error{Rule: RuleFormat, Msg: msg}
	}
	return nil
}

// MaxUserData is the longest user_data, as EC2 allows (16 KB, INST-3).
const MaxUserData = 16 << 10

// userData checks a user_data's length.
func (r *resolver) userData(path, s string) {
	if len(s) > MaxUserData {
		r.errf(path, "INST-3", "user_data is %d bytes: at most %d", len(s), MaxUserData)
	}
}

// resolveHosts resolves the internet hosts (IGW-4: public, unique).
func (r *resolver) resolveHosts() {
	if r.t.Internet == nil {
		return
	}
	for i, hs := range r.t.Internet.Hosts {
		path := fmt.Sprintf("internet.hosts[%d]", i)
		h := &Host{Name: hs.Name, Namespace: r.t.Name + "-" + hs.Name, UserData: hs.UserData}
		r.userData(path+".user_data", hs.UserData)
		r.register(path+".name", hs.Name, kindHost, nil, h)
		ip, err := parseAddr(hs.IP)
		switch {
		case err != nil:
			r.errf(path+".ip", RuleFormat, "%v", err)
		case notPublic(netip.PrefixFrom(ip, 32)) != "":
			r.errf(path+".ip", "IGW-4", "internet host address %s is not public: it is %s", ip, notPublic(netip.PrefixFrom(ip, 32)))
		case r.public[ip] != "":
			r.errf(path+".ip", "IGW-4", "address %s is already used by %s", ip, r.public[ip])
		default:
			h.IP = ip
			r.public[ip] = fmt.Sprintf("internet host %q", hs.Name)
		}
		r.n.Hosts = append(r.n.Hosts, h)
	}
}

// regionPool returns the first pool of the region's network border group:
// where auto-assigned public IPs and pool-less EIPs come from (ADDR-5).
func (r *resolver) regionPool() *Pool {
	for _, p := range r.n.Pools {
		if p.BorderGroup == r.n.Region && p.Kind != PoolCoIP { // a CoIP is never public (coip.go)
			return p
		}
	}
	return nil
}

// poolOf returns the pool holding a.
func (r *resolver) poolOf(a netip.Addr) (*Pool, netip.Prefix) {
	for _, p := range r.n.Pools {
		for _, c := range p.CIDRs {
			if c.Contains(a) {
				return p, c
			}
		}
	}
	return nil, netip.Prefix{}
}

// checkBorderGroup enforces EIP-4 when the file names its region.
func (r *resolver) checkBorderGroup(path string, e *EIP, p *Pool) bool {
	if r.t.Region != "" && p.BorderGroup != r.t.Region {
		r.errf(path, "EIP-4", "elastic IP %q comes from pool %q of network border group %q, not of region %q",
			e.Name, p.Name, p.BorderGroup, r.t.Region)
		return false
	}
	return true
}

// resolveEIPAddrs gives every Elastic IP its address: fixed addresses
// first, then the first free address of the pool for the others (EIP-1).
func (r *resolver) resolveEIPAddrs() {
	if q := r.n.Settings.Quotas.ElasticIPs; len(r.t.ElasticIPs) > q {
		r.errf("elastic_ips", "QUOTA-1", "%d Elastic IPs, more than the %d of the account's quota (settings.quotas.elastic_ips)", len(r.t.ElasticIPs), q)
	}
	eips := make([]*EIP, len(r.t.ElasticIPs))
	for i, es := range r.t.ElasticIPs {
		path := fmt.Sprintf("elastic_ips[%d]", i)
		e := &EIP{Name: es.Name, AllocationID: r.id("eipalloc", es.Name)}
		eips[i] = e
		r.register(path+".name", es.Name, kindEIP, nil, e)
		r.n.EIPs = append(r.n.EIPs, e)
		var named *Pool
		if es.Pool != "" {
			named = r.pools[es.Pool]
			if named == nil {
				r.errf(path+".pool", "EIP-1", "address pool %q not found", es.Pool)
				continue
			}
		}
		if es.Address == "" {
			continue
		}
		ap := path + ".address"
		a, err := parseAddr(es.Address)
		if err != nil {
			r.errf(ap, "EIP-1", "%v", err)
			continue
		}
		p, c := r.poolOf(a)
		switch {
		case p == nil:
			r.errf(ap, "EIP-1", "address %s is in no address pool", a)
			continue
		case named != nil && p != named:
			r.errf(ap, "EIP-1", "address %s is in pool %q, not in pool %q", a, p.Name, named.Name)
			continue
		}
		if !allocatableIn(c, a) {
			r.errf(ap, "EIP-1", "address %s is the network or broadcast address of pool cidr %s", a, c)
			continue
		}
		if r.public[a] != "" {
			r.errf(ap, "EIP-1", "address %s is already used by %s", a, r.public[a])
			continue
		}
		if !r.checkBorderGroup(ap, e, p) {
			continue
		}
		e.Addr, e.Pool = a, p
		r.public[a] = fmt.Sprintf("elastic IP %q", e.Name)
	}
	for i, es := range r.t.ElasticIPs {
		e := eips[i]
		if es.Address != "" {
			continue
		}
		path := fmt.Sprintf("elastic_ips[%d]", i)
		p, fp := r.pools[es.Pool], path+".pool"
		if es.Pool == "" {
			p, fp = r.regionPool(), path
			if p == nil {
				r.errf(path, "EIP-4", "elastic IP %q names no pool and no address pool is in network border group %q", e.Name, r.n.Region)
				continue
			}
		}
		if p == nil || !r.checkBorderGroup(fp, e, p) {
			continue
		}
		a, ok := firstFreePublic(p, r.public)
		if !ok {
			r.errf(fp, "EIP-1", "address pool %q has no free address", p.Name)
			continue
		}
		e.Addr, e.Pool = a, p
		r.public[a] = fmt.Sprintf("elastic IP %q", e.Name)
	}
}

// newConnTrack resolves SG-6 timeouts.
func (r *resolver) newConnTrack(path string, cs *ConnTrackSpec) ConnTrack {
	ct := ConnTrack{TCPEstablished: DefaultTCPEstablishedTimeout, UDPStream: DefaultUDPStreamTimeout, UDP: DefaultUDPTimeout}
	if cs != nil {
		r.intIn(&ct.TCPEstablished, cs.TCPEstablished, path+".tcp_established", "SG-6", 60, 432000)
		r.intIn(&ct.UDPStream, cs.UDPStream, path+".udp_stream", "SG-6", 60, 180)
		r.intIn(&ct.UDP, cs.UDP, path+".udp", "SG-6", 30, 60)
	}
	return ct
}

// declareVPC creates a VPC and every resource in it, registering names.
// References between resources are resolved in later passes.
func (r *resolver) declareVPC(vi int) {
	vs := &r.t.VPCs[vi]
	path := fmt.Sprintf("vpcs[%d]", vi)
	v := &VPC{Name: vs.Name, ID: r.id("vpc", vs.Name)}
	w := &vpcWork{spec: vs, path: path, v: v, used: map[netip.Addr]string{}}
	r.vpcs = append(r.vpcs, w)
	r.n.VPCs = append(r.n.VPCs, v)
	r.register(path+".name", vs.Name, kindVPC, nil, v)

	// ADDR-1: one IPv4 CIDR, /16 to /28.
	if c, err := parsePrefix(vs.CIDR); err != nil {
		r.errf(path+".cidr", "ADDR-1", "%v", err)
	} else if c.Bits() < 16 || c.Bits() > 28 {
		r.errf(path+".cidr", "ADDR-1", "vpc cidr %s must be /16 to /28", c)
	} else {
		v.CIDR = c
		for _, f := range vpcForbidden {
			if f.Overlaps(c) {
				r.errf(path+".cidr", "ADDR-1", "vpc cidr %s overlaps %s, which holds no unicast host addresses", c, f)
				v.CIDR = netip.Prefix{}
				break
			}
		}
	}

	r.secondaryCIDRs(w)
	v.DNSSupport = boolOr(vs.EnableDNSSupport, true)
	v.DNSHostnames = boolOr(vs.EnableDNSHostnames, true)
	r.vpcDHCPOptions(v, vs.DHCPOptions, path+".dhcp_options") // DNS-4

	if vs.InternetGateway != "" {
		v.IGW = &IGW{Name: vs.InternetGateway, ID: r.id("igw", vs.InternetGateway)}
		r.register(path+".internet_gateway", vs.InternetGateway, kindIGW, v, v.IGW)
	}

	// ADDR-1: subnets inside the VPC, /16 to /28, never overlapping.
	for si, ss := range vs.Subnets {
		sp := fmt.Sprintf("%s.subnets[%d]", path, si)
		s := &Subnet{Name: ss.Name, ID: r.id("subnet", ss.Name), AZ: ss.AZ, VPC: v, MapPublicIP: ss.MapPublicIPOnLaunch}
		r.subnetOutpost(sp, s, ss.OutpostArn) // coip.go
		r.register(sp+".name", ss.Name, kindSubnet, v, s)
		v.Subnets = append(v.Subnets, s)
		switch {
		case ss.AZ == "":
			r.errf(sp+".az", "INST-1", "availability zone is required")
		case !r.badRegion && (!strings.HasPrefix(ss.AZ, r.n.Region) || len(ss.AZ) == len(r.n.Region)):
			r.errf(sp+".az", "INST-1", "availability zone %q is not in region %q", ss.AZ, r.n.Region)
		}
		c, err := parsePrefix(ss.CIDR)
		switch {
		case err != nil:
			r.errf(sp+".cidr", "ADDR-1", "%v", err)
			continue
		case c.Bits() < 16 || c.Bits() > 28:
			r.errf(sp+".cidr", "ADDR-1", "subnet cidr %s must be /16 to /28", c)
			continue
		case v.CIDR.IsValid() && !v.Covers(c):
			r.errf(sp+".cidr", "ADDR-1", "subnet cidr %s is not inside vpc cidr %s", c, cidrList(v))
			continue
		}
		ok := true
		for sj, o := range v.Subnets[:si] {
			if o.CIDR.IsValid() && o.CIDR.Overlaps(c) {
				r.errf(sp+".cidr", "ADDR-1", "subnet cidr %s overlaps subnet %q (%s) at %s.subnets[%d]", c, o.Name, o.CIDR, path, sj)
				ok = false
				break
			}
		}
		if ok {
			s.CIDR = c
		}
	}

	// SG-7: the default group; SG-1: user groups (rules in a later pass).
	def := &SecurityGroup{Name: "default", ID: r.id("sg", "default\x00"+vs.Name),
		Description: defaultSGDescription, VPC: v}
	def.Ingress = []SGRule{defaultSGIngress(def)}
	def.Egress = []SGRule{allowAllEgress()}
	v.DefaultSG = def
	v.SGs = append(v.SGs, def)
	defaultSeen := ""
	for gi, gs := range vs.SecurityGroups {
		gp := fmt.Sprintf("%s.security_groups[%d]", path, gi)
		if gs.Name == "default" { // extension: the default group's own rules
			if defaultSeen != "" {
				r.errf(gp+".name", "SG-7", "the default security group is already given at %s", defaultSeen)
			}
			defaultSeen = gp
			if gs.Description != "" {
				def.Description = gs.Description
			}
			w.sgs = append(w.sgs, def)
			continue
		}
		g := &SecurityGroup{Name: gs.Name, ID: r.id("sg", gs.Name), Description: gs.Description, VPC: v}
		r.description(gp+".description", gs.Description)
		r.register(gp+".name", gs.Name, kindSG, v, g)
		v.SGs = append(v.SGs, g)
		w.sgs = append(w.sgs, g)
	}

	// NACL-3: the default NACL allows all in and out with rule 100.
	allowAll := defaultNACLRule()
	v.DefaultNACL = &NACL{Name: "default", ID: r.id("acl", "default\x00"+vs.Name), Default: true,
		Ingress: []NACLRule{allowAll}, Egress: []NACLRule{allowAll}}
	v.NACLs = append(v.NACLs, v.DefaultNACL)
	defaultSeen = ""
	for ai, as := range vs.NetworkACLs {
		if as.Name == "default" { // extension: the default NACL's own rules
			ap := fmt.Sprintf("%s.network_acls[%d]", path, ai)
			if defaultSeen != "" {
				r.errf(ap+".name", "NACL-3", "the default network ACL is already given at %s", defaultSeen)
			}
			defaultSeen = ap
			w.nacl = append(w.nacl, v.DefaultNACL)
			continue
		}
		a := &NACL{Name: as.Name, ID: r.id("acl", as.Name)}
		r.register(fmt.Sprintf("%s.network_acls[%d].name", path, ai), as.Name, kindNACL, v, a)
		v.NACLs = append(v.NACLs, a)
		w.nacl = append(w.nacl, a)
	}

	// RT-1: route tables, each with its local route; one main table. A
	// table named "main" is the VPC's own first table (the one made with
	// it), in every VPC: its id is the implicit main table's, and it is
	// the main table unless another says "main": true.
	var ownMain *RouteTable
	for ti, ts := range vs.RouteTables {
		tp := fmt.Sprintf("%s.route_tables[%d]", path, ti)
		rt := &RouteTable{Name: ts.Name, ID: r.id("rtb", ts.Name), Routes: v.LocalRoutes()}
		if ts.Name == "main" {
			if ownMain != nil {
				r.errf(tp+".name", "RT-1", `vpc %q has one table named "main"`, v.Name)
			}
			rt.ID, ownMain = r.id("rtb", "main\x00"+vs.Name), rt
		} else {
			r.register(tp+".name", ts.Name, kindRT, v, rt)
		}
		if ts.Main {
			if v.MainRT != nil {
				r.errf(tp+".main", "RT-1", "route table %q is already the main table of vpc %q", v.MainRT.Name, v.Name)
			} else {
				rt.Main = true
				v.MainRT = rt
			}
		}
		v.RouteTables = append(v.RouteTables, rt)
		w.rts = append(w.rts, rt)
	}
	if v.MainRT == nil && ownMain != nil {
		ownMain.Main, v.MainRT = true, ownMain
	}
	if v.MainRT == nil {
		v.MainRT = &RouteTable{Name: "main", ID: r.id("rtb", "main\x00"+vs.Name), Main: true,
			Routes: v.LocalRoutes()}
		v.RouteTables = append([]*RouteTable{v.MainRT}, v.RouteTables...)
	}

	// NAT-1, ENI-3, ENI-5: NAT gateways and their requester-managed routing ENIs.
	for gi, gs := range vs.NATGateways {
		gp := fmt.Sprintf("%s.nat_gateways[%d]", path, gi)
		g := &NATGateway{Name: gs.Name, ID: r.id("nat", gs.Name)}
		r.register(gp+".name", gs.Name, kindNAT, v, g)
		switch gs.Connectivity {
		case "", "public":
		case "private":
			g.Private = true
		default:
			r.errf(gp+".connectivity", "NAT-1", "connectivity %q must be public or private", gs.Connectivity)
		}
		g.ENI = natENI(g, r.id("eni", gs.Name), r.newConnTrack("", nil))
		v.NATs = append(v.NATs, g)
		v.ENIs = append(v.ENIs, g.ENI)
		w.nats = append(w.nats, g)
		w.ips = append(w.ips, &ipReq{eni: g.ENI, path: gp, primary: gs.PrivateIP, secondary: gs.SecondaryPrivateIPs})
	}

	// Standalone ENIs (ENI-1, ENI-4).
	for ei, es := range vs.NetworkInterfaces {
		ep := fmt.Sprintf("%s.network_interfaces[%d]", path, ei)
		e := &ENI{
			Name:            es.Name,
			ID:              r.id("eni", es.Name),
			SourceDestCheck: boolOr(es.SourceDestCheck, true),
			Kind:            ENICompute,
			Description:     es.Description,
			ConnTrack:       r.newConnTrack(ep+".connection_tracking", es.ConnectionTracking),
			PublicIPs:       map[netip.Addr]netip.Addr{},

			DeleteOnTermination: es.DeleteOnTermination,
		}
		r.description(ep+".description", es.Description)
		r.register(ep+".name", es.Name, kindENI, v, e)
		v.ENIs = append(v.ENIs, e)
		w.enis = append(w.enis, e)
		w.ips = append(w.ips, &ipReq{eni: e, path: ep, primary: es.PrivateIP, secondary: es.SecondaryPrivateIPs})
	}

	// Instances with their eth0 (ENI-6, INST-1).
	for ii, is := range vs.Instances {
		ip := fmt.Sprintf("%s.instances[%d]", path, ii)
		inst := &Instance{Name: is.Name, ID: r.id("i", is.Name), Namespace: r.t.Name + "-" + is.Name,
			VPC: v, UserData: is.UserData, Type: r.instanceType(ip+".instance_type", is.InstanceType)}
		r.userData(ip+".user_data", is.UserData)
		inst.MetadataTokens = r.metadataTokens(ip+".metadata_http_tokens", is.MetadataHTTPTokens) // IMDS-1
		r.register(ip+".name", is.Name, kindInstance, v, inst)
		r.instanceHost(ip+".host", inst, is.Host) // placement.go
		eth0 := &ENI{
			Name:            is.Name,
			ID:              r.id("eni", is.Name),
			SourceDestCheck: boolOr(is.SourceDestCheck, true),
			Kind:            ENICompute,
			Description:     PrimaryENIDescription,
			ConnTrack:       r.newConnTrack(ip+".connection_tracking", is.ConnectionTracking),
			PublicIPs:       map[netip.Addr]netip.Addr{},
			Instance:        inst,
			DeviceIndex:     0,

			DeleteOnTermination: boolOr(is.DeleteOnTermination, true),
		}
		if is.Description != nil { // extension: eth0's own description
			eth0.Description = *is.Description
			r.description(ip+".description", *is.Description)
		}
		inst.ENIs = []*ENI{eth0}
		v.Instances = append(v.Instances, inst)
		v.ENIs = append(v.ENIs, eth0)
		w.inst = append(w.inst, inst)
		if _, dup := r.n.InstanceByName[is.Name]; !dup {
			r.n.InstanceByName[is.Name] = inst
		}
		w.ips = append(w.ips, &ipReq{eni: eth0, path: ip, primary: is.PrivateIP, secondary: is.SecondaryPrivateIPs})
	}
}

// natENI is NAT gateway g's requester-managed routing ENI (NAT-1, ENI-3,
// ENI-5), named as g; the file's gateways and create-nat-gateway's share it.
func natENI(g *NATGateway, id string, ct ConnTrack) *ENI {
	return &ENI{
		Name:             g.Name,
		ID:               id,
		SourceDestCheck:  false, // ENI-3: off and cannot be turned on
		Kind:             ENIRouting,
		RequesterManaged: true, // ENI-5
		Description:      "Interface for NAT Gateway " + g.ID,
		ConnTrack:        ct,
		PublicIPs:        map[netip.Addr]netip.Addr{},
		NAT:              g,
	}
}

// linkSubnets resolves the subnet of every NAT gateway (NAT-1), network
// interface (ENI-1) and instance (INST-1): it must be a subnet of the VPC.
func (r *resolver) linkSubnets(w *vpcWork) {
	for gi, gs := range w.spec.NATGateways {
		g := w.nats[gi]
		g.Subnet, _ = lookup[*Subnet](r, fmt.Sprintf("%s.nat_gateways[%d].subnet", w.path, gi), "NAT-1", gs.Subnet, kindSubnet, w.v)
		g.ENI.Subnet = g.Subnet
	}
	for ei, es := range w.spec.NetworkInterfaces {
		w.enis[ei].Subnet, _ = lookup[*Subnet](r, fmt.Sprintf("%s.network_interfaces[%d].subnet", w.path, ei), "ENI-1", es.Subnet, kindSubnet, w.v)
	}
	for ii, is := range w.spec.Instances {
		inst := w.inst[ii]
		inst.Subnet, _ = lookup[*Subnet](r, fmt.Sprintf("%s.instances[%d].subnet", w.path, ii), "INST-1", is.Subnet, kindSubnet, w.v)
		inst.Primary().Subnet = inst.Subnet
		if inst.Subnet != nil {
			// INST-1 lives in its eth0 subnet; the subnet decides the default.
			inst.AssociatePublicIP = boolOr(is.AssociatePublicIP, inst.Subnet.MapPublicIP)
		}
	}
}

func boolOr(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

// defaultSGDescription is the default group's description (SG-7).
const defaultSGDescription = "default VPC security group"

// defaultSGIngress is the default group's inbound rule: everything from its
// own members (SG-7).
func defaultSGIngress(def *SecurityGroup) SGRule {
	return SGRule{Protocol: ProtoAll, FromPort: -1, ToPort: -1, Group: def}
}

// defaultNACLRule is the default NACL's rule 100, both ways: allow all
// (NACL-3).
func defaultNACLRule() NACLRule {
	return NACLRule{Number: 100, Protocol: ProtoAll, FromPort: -1, ToPort: -1,
		CIDR: netip.MustParsePrefix("0.0.0.0/0"), Allow: true}
}

func allowAllEgress() SGRule {
	return SGRule{Protocol: ProtoAll, FromPort: -1, ToPort: -1, CIDR: netip.MustParsePrefix("0.0.0.0/0")}
}

// cidrList writes the VPC's CIDRs for an error message.
func cidrList(v *VPC) string {
	var out []string
	for _, c := range v.CIDRs() {
		out = append(out, c.String())
	}
	return strings.Join(out, ", ")
}

// secondaryCIDRs resolves a VPC's secondary_cidrs (ADDR-1): each a valid
// VPC CIDR overlapping none of the VPC's others, at most MaxVPCCIDRs in all.
func (r *resolver) secondaryCIDRs(w *vpcWork) {
	v := w.v
	if n := len(w.spec.SecondaryCIDRs); n+1 > MaxVPCCIDRs {
		r.errf(w.path+".secondary_cidrs", "ADDR-1", "a vpc has at most %d cidrs, the primary included, not %d", MaxVPCCIDRs, n+1)
	}
	for i, cs := range w.spec.SecondaryCIDRs {
		cp := fmt.Sprintf("%s.secondary_cidrs[%d]", w.path, i)
		c, err := parsePrefix(cs)
		if err == nil {
			err = CheckVPCCIDR(c)
		}
		if err != nil {
			r.errf(cp, "ADDR-1", "%v", strings.TrimSuffix(err.Error(), " (ADDR-1)"))
			continue
		}
		if o, bad := v.Overlaps(c); bad {
			r.errf(cp, "ADDR-1", "cidr %s overlaps cidr %s of vpc %q", c, o, v.Name)
			continue
		}
		v.SecondaryCIDRs = append(v.SecondaryCIDRs, c)
	}
}

// resolveDetachedIGWs declares the internet gateways attached to no VPC
// (IGW-1); routes may name them, and are blackholes (RT-3).
func (r *resolver) resolveDetachedIGWs() {
	for i, gs := range r.t.InternetGateways {
		g := &IGW{Name: gs.Name, ID: r.id("igw", gs.Name)}
		r.register(fmt.Sprintf("internet_gateways[%d].name", i), gs.Name, kindIGW, nil, g)
		r.n.DetachedIGWs = append(r.n.DetachedIGWs, g)
	}
}

// resolvePeerings resolves VPC peering connections.
func (r *resolver) resolvePeerings() {
	pairs := map[[2]*VPC]string{}
	for i, ps := range r.t.Peerings {
		path := fmt.Sprintf("peerings[%d]", i)
		p := &Peering{Name: ps.Name, ID: r.id("pcx", ps.Name), Status: PeeringActive}
		r.register(path+".name", ps.Name, kindPeering, nil, p)
		r.n.Peerings = append(r.n.Peerings, p)
		switch ps.Status { // PEER-1: a pending one carries nothing until accepted
		case "", PeeringActive:
		case PeeringPending:
			p.Status = PeeringPending
		default:
			r.errf(path+".status", "PEER-1", "status %q must be %s or %s", ps.Status, PeeringActive, PeeringPending)
		}
		if len(ps.VPCs) != 2 {
			r.errf(path+".vpcs", RuleFormat, "a peering connection joins exactly two vpcs, not %d", len(ps.VPCs))
			continue
		}
		a, okA := lookup[*VPC](r, path+".vpcs[0]", RuleFormat, ps.VPCs[0], kindVPC, nil)
		b, okB := lookup[*VPC](r, path+".vpcs[1]", RuleFormat, ps.VPCs[1], kindVPC, nil)
		if !okA || !okB {
			continue
		}
		switch {
		case a == b:
			r.errf(path+".vpcs", RuleFormat, "a peering connection joins two different vpcs")
			continue
		case a.CIDR.IsValid() && b.CIDR.IsValid() && VPCsOverlap(a, b):
			r.errf(path+".vpcs", RuleFormat, "vpcs %q (%s) and %q (%s) overlap and cannot be peered", a.Name, a.CIDR, b.Name, b.CIDR)
			continue
		}
		key := [2]*VPC{a, b}
		if u32(a.CIDR.Addr()) > u32(b.CIDR.Addr()) || (a.CIDR == b.CIDR && a.Name > b.Name) {
			key = [2]*VPC{b, a}
		}
		if prev, dup := pairs[key]; dup {
			r.errf(path+".vpcs", RuleFormat, "vpcs %q and %q are already peered by %s", a.Name, b.Name, prev)
			continue
		}
		pairs[key] = path
		p.VPCs = [2]*VPC{a, b}
	}
}

// parseProto parses a rule's protocol (SG-3, NACL-2).
func parseProto(s Protocol) (int, error) {
	switch strings.ToLower(string(s)) {
	case "":
		return 0, fmt.Errorf("protocol is required (tcp, udp, icmp, all or a number)")
	case "tcp":
		return 6, nil
	case "udp":
		return 17, nil
	case "icmp":
		return 1, nil
	case "all", "-1":
		return ProtoAll, nil
	}
	n, err := strconv.Atoi(string(s))
	if err != nil || n < 0 || n > 255 {
		return 0, fmt.Errorf("protocol %q must be tcp, udp, icmp, all, -1 or a number 0–255", string(s))
	}
	return n, nil
}

// parsePorts parses "80" or "1024-65535".
func parsePorts(s string) (from, to int, err error) {
	a, b, isRange := strings.Cut(s, "-")
	if !isRange {
		b = a
	}
	from, err1 := strconv.Atoi(a)
	to, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || strings.ContainsAny(s, " +") || from < 0 || to > 65535 || from > to {
		return 0, 0, fmt.Errorf(`ports %q must be "N" or "FROM-TO" with 0 ≤ FROM ≤ TO ≤ 65535`, s)
	}
	return from, to, nil
}

// match resolves the protocol, ports and ICMP fields shared by SG and NACL
// rules into (protocol, from, to); from/to are -1 for "any".
func (r *resolver) match(path, rule string, proto Protocol, ports Ports, icmpType, icmpCode *int) (p, from, to int, ok bool) {
	p, err := parseProto(proto)
	if err != nil {
		r.errf(path+".protocol", rule, "%v", err)
		return 0, 0, 0, false
	}
	from, to, ok = -1, -1, true
	if ports != "" {
		switch p {
		case 6, 17:
			f, t, err := parsePorts(string(ports))
			if err != nil {
				r.errf(path+".ports", rule, "%v", err)
				ok = false
			} else {
				from, to = f, t
			}
		default:
			r.errf(path+".ports", rule, "ports apply only to tcp and udp, not to protocol %q", string(proto))
			ok = false
		}
	}
	if icmpType != nil || icmpCode != nil {
		if p != 1 {
			r.errf(path, rule, "icmp_type and icmp_code apply only to icmp, not to protocol %q", string(proto))
			return p, from, to, false
		}
		if icmpType == nil {
			r.errf(path+".icmp_code", rule, "icmp_code needs an icmp_type")
			return p, from, to, false
		}
		if *icmpType < -1 || *icmpType > 255 {
			r.errf(path+".icmp_type", rule, "icmp_type %d must be -1 (any) or 0–255", *icmpType)
			ok = false
		}
		from = *icmpType
		if icmpCode != nil {
			if *icmpCode < -1 || *icmpCode > 255 {
				r.errf(path+".icmp_code", rule, "icmp_code %d must be -1 (any) or 0–255", *icmpCode)
				ok = false
			}
			to = *icmpCode
		}
	}
	return p, from, to, ok
}

// sgByName resolves a security-group reference of VPC v; "default" is the
// VPC's default group.
func (r *resolver) sgByName(path, rule, name string, v *VPC) (*SecurityGroup, bool) {
	if name == "default" {
		return v.DefaultSG, true
	}
	return lookup[*SecurityGroup](r, path, rule, name, kindSG, v)
}

// peer resolves an SG rule's source or destination: a CIDR or a group of
// the same VPC (SG-3), or of a peered VPC (PEER-4, peersg.go), named in
// peerVPC when it is that VPC's default group.
func (r *resolver) peer(path, peer, peerVPC string, stale bool, v *VPC, rule *SGRule) bool {
	if peer == "" {
		r.errf(path, "SG-3", "a cidr or a security group name is required")
		return false
	}
	if strings.Contains(peer, "/") {
		p, err := parsePrefix(peer)
		if err != nil {
			r.errf(path, "SG-3", "%v", err)
			return false
		}
		rule.CIDR = p
		return true
	}
	if _, err := netip.ParseAddr(peer); err == nil {
		r.errf(path, "SG-3", "%q is an address, not a cidr (write %s/32)", peer, peer)
		return false
	}
	if g, done, ok := r.peerVPCGroup(path, peer, peerVPC, stale, v); done {
		rule.Group = g
		return ok
	}
	g, ok := r.sgByName(path, "SG-3", peer, v)
	rule.Group = g
	return ok
}

// resolveSGRules resolves user security-group rules (SG-1, SG-3).
func (r *resolver) resolveSGRules(w *vpcWork) {
	for gi, gs := range w.spec.SecurityGroups {
		g := w.sgs[gi]
		gp := fmt.Sprintf("%s.security_groups[%d]", w.path, gi)
		// The default group's omitted lists keep their defaults (SG-7).
		isDefault := g == w.v.DefaultSG
		if !isDefault || gs.Ingress != nil {
			g.Ingress = []SGRule{}
		}
		var ids, paths []string // SG-3: the file's rule ids
		for ri, rs := range gs.Ingress {
			rp := fmt.Sprintf("%s.ingress[%d]", gp, ri)
			p, from, to, ok := r.match(rp, "SG-3", rs.Protocol, rs.Ports, rs.ICMPType, rs.ICMPCode)
			rule := SGRule{Protocol: p, FromPort: from, ToPort: to, Description: rs.Description}
			r.description(rp+".description", rs.Description)
			if r.peer(rp+".source", rs.Source, rs.SourceVPC, rs.Stale, w.v, &rule) && ok {
				g.Ingress = append(g.Ingress, rule)
				ids, paths = append(ids, rs.ID), append(paths, rp)
			}
		}
		r.sgRuleIDs(g, false, g.Ingress, ids, paths)
		r.sgRuleQuota(gp+".ingress", len(gs.Ingress))
		// SG-1: omitted egress allows all; an explicit empty list lets nothing out.
		if gs.Egress == nil && isDefault {
			continue
		}
		if gs.Egress == nil {
			g.Egress = []SGRule{allowAllEgress()}
			continue
		}
		g.Egress = []SGRule{}
		ids, paths = nil, nil
		for ri, rs := range gs.Egress {
			rp := fmt.Sprintf("%s.egress[%d]", gp, ri)
			p, from, to, ok := r.match(rp, "SG-3", rs.Protocol, rs.Ports, rs.ICMPType, rs.ICMPCode)
			rule := SGRule{Protocol: p, FromPort: from, ToPort: to, Description: rs.Description}
			r.description(rp+".description", rs.Description)
			if r.peer(rp+".destination", rs.Destination, rs.DestinationVPC, rs.Stale, w.v, &rule) && ok {
				g.Egress = append(g.Egress, rule)
				ids, paths = append(ids, rs.ID), append(paths, rp)
			}
		}
		r.sgRuleIDs(g, true, g.Egress, ids, paths)
		r.sgRuleQuota(gp+".egress", len(gs.Egress))
	}
}

// resolveNACLRules resolves custom NACL rules (NACL-2); omitted lists stay
// empty and so deny all (NACL-3).
func (r *resolver) resolveNACLRules(w *vpcWork) {
	for ai, as := range w.spec.NetworkACLs {
		a := w.nacl[ai]
		ap := fmt.Sprintf("%s.network_acls[%d]", w.path, ai)
		// The default NACL's omitted lists keep their rule 100 (NACL-3).
		if !a.Default || as.Ingress != nil {
			a.Ingress = r.naclRules(ap+".ingress", as.Ingress)
		}
		if !a.Default || as.Egress != nil {
			a.Egress = r.naclRules(ap+".egress", as.Egress)
		}
	}
}

func (r *resolver) naclRules(path string, specs []NACLRuleSpec) []NACLRule {
	out := []NACLRule{}
	numbers := map[int]int{}
	for i, rs := range specs {
		rp := fmt.Sprintf("%s[%d]", path, i)
		ok := true
		if rs.Rule < 1 || rs.Rule > 32766 {
			r.errf(rp+".rule", "NACL-2", "rule number %d must be 1–32766", rs.Rule)
			ok = false
		} else if j, dup := numbers[rs.Rule]; dup {
			r.errf(rp+".rule", "NACL-2", "rule number %d is already used by %s[%d]", rs.Rule, path, j)
			ok = false
		} else {
			numbers[rs.Rule] = i
		}
		rule := NACLRule{Number: rs.Rule}
		switch rs.Action {
		case "allow":
			rule.Allow = true
		case "deny":
		default:
			r.errf(rp+".action", "NACL-2", "action %q must be allow or deny", rs.Action)
			ok = false
		}
		p, from, to, mok := r.match(rp, "NACL-2", rs.Protocol, rs.Ports, rs.ICMPType, rs.ICMPCode)
		rule.Protocol, rule.FromPort, rule.ToPort = p, from, to
		if c, err := parsePrefix(rs.CIDR); err != nil {
			r.errf(rp+".cidr", "NACL-2", "%v", err)
			ok = false
		} else {
			rule.CIDR = c
		}
		if ok && mok {
			out = append(out, rule)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out
}

// associateSubnets gives every subnet its route table (RT-1) and NACL
// (NACL-3, NACL-5).
func (r *resolver) associateSubnets(w *vpcWork) {
	v := w.v
	for si, ss := range w.spec.Subnets {
		s := v.Subnets[si]
		sp := fmt.Sprintf("%s.subnets[%d]", w.path, si)
		s.RouteTable, s.NACL = v.MainRT, v.DefaultNACL
		s.ExplicitRT = ss.RouteTable != "" // RT-1: named, it is the subnet's own association
		switch {
		case ss.RouteTable == "":
		case ss.RouteTable == "main": // the VPC's own table named "main"
			for _, t := range v.RouteTables {
				if t.Name == "main" {
					s.RouteTable = t
				}
			}
		default:
			if rt, ok := lookup[*RouteTable](r, sp+".route_table", "RT-1", ss.RouteTable, kindRT, v); ok {
				s.RouteTable = rt
			}
		}
		switch ss.NetworkACL {
		case "", "default":
		default:
			if a, ok := lookup[*NACL](r, sp+".network_acl", "NACL-5", ss.NetworkACL, kindNACL, v); ok {
				s.NACL = a
			}
		}
	}
}

// groups resolves a compute ENI's security groups; none means the VPC's
// default group (ENI-2).
func (r *resolver) groups(path string, names []string, v *VPC) []*SecurityGroup {
	if len(names) == 0 {
		return []*SecurityGroup{v.DefaultSG}
	}
	if q := r.n.Settings.Quotas.GroupsPerENI; len(names) > q {
		r.errf(path, "QUOTA-1", "%d security groups, more than the %d an interface may have (settings.quotas.security_groups_per_eni)", len(names), q)
	}
	var out []*SecurityGroup
	seen := map[*SecurityGroup]bool{}
	for i, n := range names {
		gp := fmt.Sprintf("%s[%d]", path, i)
		g, ok := r.sgByName(gp, "ENI-2", n, v)
		switch {
		case !ok:
		case seen[g]:
			r.errf(gp, "ENI-2", "security group %q is listed twice", n)
		default:
			seen[g] = true
			out = append(out, g)
		}
	}
	return out
}

func (r *resolver) resolveGroups(w *vpcWork) {
	for ei, es := range w.spec.NetworkInterfaces {
		w.enis[ei].Groups = r.groups(fmt.Sprintf("%s.network_interfaces[%d].security_groups", w.path, ei), es.SecurityGroups, w.v)
	}
	for ii, is := range w.spec.Instances {
		w.inst[ii].Primary().Groups = r.groups(fmt.Sprintf("%s.instances[%d].security_groups", w.path, ii), is.SecurityGroups, w.v)
	}
	// ENI-3: NAT gateway ENIs keep no group (their spec has no such field).
}

// privateIP checks one explicit private address of an ENI (ENI-1, ADDR-2)
// and takes it.
func (r *resolver) privateIP(path, s string, w *vpcWork, sub *Subnet) (netip.Addr, bool) {
	a, err := parseAddr(s)
	if err != nil {
		r.errf(path, RuleFormat, "%v", err)
		return netip.Addr{}, false
	}
	if sub == nil || !sub.CIDR.IsValid() {
		return netip.Addr{}, false // the subnet is already in error
	}
	switch {
	case !sub.CIDR.Contains(a):
		r.errf(path, "ENI-1", "address %s is not in subnet %q (%s)", a, sub.Name, sub.CIDR)
	case reservedIn(sub.CIDR, a):
		r.errf(path, "ADDR-2", "address %s is reserved in subnet %q (%s): .0, .1 router, .2 DNS, .3 and the broadcast address are never given to an ENI", a, sub.Name, sub.CIDR)
	case w.used[a] != "":
		r.errf(path, "ENI-1", "address %s is already used by %s", a, w.used[a])
	default:
		w.used[a] = path
		return a, true
	}
	return netip.Addr{}, false
}

// assignPrivateIPs takes every explicit private IP of the VPC, then gives
// each ENI without a primary IP the first free address of its subnet, in
// file order: NAT gateways, network interfaces, instances (ENI-1).
func (r *resolver) assignPrivateIPs(w *vpcWork) {
	for _, q := range w.ips {
		sub := q.eni.Subnet
		q.explicitOK = true
		if q.primary != "" {
			a, ok := r.privateIP(q.path+".private_ip", q.primary, w, sub)
			q.eni.PrimaryIP, q.explicitOK = a, ok
		}
		for i, s := range q.secondary {
			a, ok := r.privateIP(fmt.Sprintf("%s.secondary_private_ips[%d]", q.path, i), s, w, sub)
			if ok {
				q.eni.SecondaryIPs = append(q.eni.SecondaryIPs, a)
			} else {
				q.explicitOK = false
			}
		}
	}
	for _, q := range w.ips {
		sub := q.eni.Subnet
		if q.primary != "" || !q.explicitOK || sub == nil || !sub.CIDR.IsValid() {
			continue
		}
		a, ok := firstFreePrivate(sub.CIDR, w.used)
		if !ok {
			r.errf(q.path, "ENI-1", "subnet %q (%s) has no free address", sub.Name, sub.CIDR)
			continue
		}
		q.eni.PrimaryIP = a
		w.used[a] = q.path
	}
}

// attachENIs attaches standalone ENIs to instances as eth1, eth2 … (ENI-6).
func (r *resolver) attachENIs(w *vpcWork) {
	for ii, is := range w.spec.Instances {
		inst := w.inst[ii]
		for ni, name := range is.NetworkInterfaces {
			np := fmt.Sprintf("%s.instances[%d].network_interfaces[%d]", w.path, ii, ni)
			e := r.names[name]
			switch {
			case name == "":
				r.errf(np, "ENI-6", "network interface name is required")
				continue
			case e == nil:
				r.errf(np, "ENI-6", "network interface %q not found", name)
				continue
			case e.kind != kindENI:
				r.errf(np, "ENI-6", "%q is a %s, not a network interface that can be attached", name, e.kind)
				continue
			}
			eni := e.obj.(*ENI)
			switch {
			case e.vpc != w.v:
				r.errf(np, "ENI-6", "eni %q is in vpc %q, instance %q in vpc %q", name, e.vpc.Name, inst.Name, w.v.Name)
			case eni.Instance == inst:
				r.errf(np, "ENI-6", "eni %q is attached to instance %q twice", name, inst.Name)
			case eni.Instance != nil:
				r.errf(np, "ENI-6", "eni %q is already attached to instance %q", name, eni.Instance.Name)
			case eni.Subnet != nil && inst.Subnet != nil && eni.Subnet.AZ != inst.Subnet.AZ:
				r.errf(np, "ENI-6", "eni %q is in %s, instance %q in %s", name, eni.Subnet.AZ, inst.Name, inst.Subnet.AZ)
			default:
				eni.Instance = inst
				eni.DeviceIndex = len(inst.ENIs)
				inst.ENIs = append(inst.ENIs, eni)
			}
		}
	}
}

// resolveRoutes resolves user routes (RT-1 … RT-4).
func (r *resolver) resolveRoutes(w *vpcWork) {
	v := w.v
	for ti, ts := range w.spec.RouteTables {
		rt := w.rts[ti]
		tp := fmt.Sprintf("%s.route_tables[%d]", w.path, ti)
		seen := map[netip.Prefix]int{}
		for ri, rs := range ts.Routes {
			rp := fmt.Sprintf("%s.routes[%d]", tp, ri)
			dest, err := parsePrefix(rs.Destination)
			if err != nil {
				r.errf(rp+".destination", RuleFormat, "%v", err)
				continue
			}
			if slices.Contains(v.CIDRs(), dest) {
				r.errf(rp+".destination", "RT-1", "destination %s is a vpc cidr: cannot replace local route", dest)
				continue
			}
			if j, dup := seen[dest]; dup {
				r.errf(rp+".destination", "RT-2", "destination %s is already routed by %s.routes[%d]", dest, tp, j)
				continue
			}
			seen[dest] = ri
			route, ok := r.target(rp+".target", rs.Target, v)
			if !ok {
				continue
			}
			route.Dest = dest
			// RT-4: more specific than local means a whole subnet via a middlebox.
			if v.Covers(dest) {
				whole := false
				for _, s := range v.Subnets {
					if s.CIDR == dest {
						whole = true
					}
				}
				if !whole {
					r.errf(rp+".destination", "RT-4", "destination %s is inside vpc cidr %s but is not a subnet cidr: a route more specific than local must cover a whole subnet", dest, v.CIDR)
					continue
				}
				// A blackhole is what such a route becomes when its
				// middlebox is deleted (RT-3); export writes it so.
				if route.Kind != TargetNAT && route.Kind != TargetENI && route.Kind != TargetBlackhole {
					r.errf(rp+".target", "RT-4", "a route more specific than local (%s) must target a NAT gateway or a network interface, not %q", dest, rs.Target)
					continue
				}
			}
			rt.Routes = append(rt.Routes, route)
		}
	}
}

// target resolves a route target by name (RT-3).
func (r *resolver) target(path, name string, v *VPC) (*Route, bool) {
	route := &Route{TargetName: name}
	switch name {
	case "":
		r.errf(path, "RT-3", "route target is required")
		return nil, false
	case "blackhole":
		route.Kind = TargetBlackhole
		return route, true
	case "local":
		r.errf(path, "RT-1", `the local route is implicit; target "local" cannot be given`)
		return nil, false
	}
	e := r.names[name]
	if e == nil {
		r.errf(path, "RT-3", "route target %q not found", name)
		return nil, false
	}
	sameVPC := func() bool {
		if e.vpc != v {
			r.errf(path, "RT-3", "%s %q is in vpc %q, not in vpc %q", e.kind, name, e.vpc.Name, v.Name)
			return false
		}
		return true
	}
	switch e.kind {
	case kindIGW:
		route.Kind = TargetIGW
		if e.vpc == nil { // detached: a blackhole until attached (RT-3)
			return route, true
		}
		return route, sameVPC()
	case kindNAT:
		route.Kind, route.NAT = TargetNAT, e.obj.(*NATGateway)
		return route, sameVPC()
	case kindENI:
		route.Kind, route.ENI = TargetENI, e.obj.(*ENI)
		return route, sameVPC()
	case kindInstance:
		route.Kind, route.ENI = TargetENI, e.obj.(*Instance).Primary()
		return route, sameVPC()
	case kindLGW:
		return r.lgwTarget(path, route, e.obj.(*LocalGateway), v) // coip.go
	case kindPeering:
		p := e.obj.(*Peering)
		route.Kind, route.Peering = TargetPeering, p
		if p.VPCs[0] != nil && p.VPCs[0] != v && p.VPCs[1] != v {
			r.errf(path, "RT-3", "peering connection %q does not join vpc %q", name, v.Name)
			return nil, false
		}
		return route, true
	}
	r.errf(path, "RT-3", "%q is a %s: a route target is an internet gateway, NAT gateway, network interface, instance, peering connection or blackhole", name, e.kind)
	return nil, false
}

// associate binds the EIP named name to the primary private IP of an ENI
// (EIP-2).
func (r *resolver) associate(path, name string, eni *ENI, g *NATGateway) {
	if e, ok := lookup[*EIP](r, path, "EIP-2", name, kindEIP, nil); ok {
		r.associateAt(path, e, eni, eni.PrimaryIP, g)
	}
}

// associateAt binds e to private IP ip of eni (EIP-2). An EIP is associated
// once, and a private IP has at most one EIP.
func (r *resolver) associateAt(path string, e *EIP, eni *ENI, ip netip.Addr, g *NATGateway) {
	if prev, dup := r.eipAt[e]; dup {
		r.errf(path, "EIP-2", "elastic IP %q is already associated by %s", e.Name, prev)
		return
	}
	r.eipAt[e] = path
	if !e.Addr.IsValid() || !ip.IsValid() {
		return // already in error
	}
	for _, other := range r.n.EIPs {
		if other != e && other.ENI == eni && other.PrivateIP == ip {
			r.errf(path, "EIP-2", "private IP %s of %q already has elastic IP %q (%s)", ip, eni.Name, other.Name, r.eipAt[other])
			return
		}
	}
	if g == nil && r.associateCoIP(path, e, eni, ip) { // coip.go: not a public IP
		return
	}
	e.ENI, e.PrivateIP, e.NAT = eni, ip, g
	eni.PublicIPs[ip] = e.Addr // EIP-2: replaces any auto-assigned address
	if g != nil {
		g.EIP = e
	}
}

// associateEIPTargets binds the EIPs that name their instance or network
// interface (an extension: EIP-2 in the file, as associate-address does it).
func (r *resolver) associateEIPTargets() {
	for i, es := range r.t.ElasticIPs {
		path := fmt.Sprintf("elastic_ips[%d]", i)
		if es.Instance == "" && es.NetworkInterface == "" {
			if es.PrivateIP != "" {
				r.errf(path+".private_ip", "EIP-2", "private_ip needs an instance or a network_interface to associate with")
			}
			continue
		}
		if i >= len(r.n.EIPs) {
			return
		}
		e := r.n.EIPs[i]
		var eni *ENI
		switch {
		case es.Instance != "" && es.NetworkInterface != "":
			r.errf(path, "EIP-2", "name an instance or a network_interface, not both")
			continue
		case es.Instance != "":
			inst, ok := lookup[*Instance](r, path+".instance", "EIP-2", es.Instance, kindInstance, nil)
			if !ok {
				continue
			}
			eni = inst.Primary()
			path += ".instance"
		default:
			var ok bool
			if eni, ok = lookup[*ENI](r, path+".network_interface", "EIP-2", es.NetworkInterface, kindENI, nil); !ok {
				continue
			}
			path += ".network_interface"
		}
		if eni == nil {
			continue
		}
		ip := eni.PrimaryIP
		if es.PrivateIP != "" {
			a, err := netip.ParseAddr(es.PrivateIP)
			if err != nil || !slices.Contains(eni.IPs(), a) {
				r.errf(fmt.Sprintf("elastic_ips[%d].private_ip", i), "EIP-2", "%q is not a private IP of network interface %q", es.PrivateIP, eni.Name)
				continue
			}
			ip = a
		}
		r.associateAt(path, e, eni, ip, nil)
	}
}

// associateEIPs binds the EIPs named by NAT gateways (NAT-1) and instances.
func (r *resolver) associateEIPs(w *vpcWork) {
	for gi, gs := range w.spec.NATGateways {
		g := w.nats[gi]
		gp := fmt.Sprintf("%s.nat_gateways[%d]", w.path, gi)
		switch {
		case g.Private && gs.ElasticIP != "":
			r.errf(gp+".elastic_ip", "NAT-1", "a private NAT gateway has no elastic IP")
		case !g.Private && gs.ElasticIP == "":
			r.errf(gp, "NAT-1", "public NAT gateway %q needs an elastic_ip (or connectivity \"private\")", g.Name)
		case !g.Private:
			r.associate(gp+".elastic_ip", gs.ElasticIP, g.ENI, g)
		}
	}
	for ii, is := range w.spec.Instances {
		if is.ElasticIP != "" {
			inst := w.inst[ii]
			r.associate(fmt.Sprintf("%s.instances[%d].elastic_ip", w.path, ii), is.ElasticIP, inst.Primary(), nil)
		}
	}
	for ei, es := range w.spec.NetworkInterfaces {
		if es.ElasticIP != "" && w.enis[ei] != nil {
			r.associate(fmt.Sprintf("%s.network_interfaces[%d].elastic_ip", w.path, ei), es.ElasticIP, w.enis[ei], nil)
		}
	}
}

// autoPublicIPs gives eth0 of every instance that asks for one a dynamic
// public IP from the region's first pool, unless an EIP covers it (ADDR-4).
func (r *resolver) autoPublicIPs(w *vpcWork) {
	for ii, inst := range w.inst {
		eth0 := inst.Primary()
		if !inst.AssociatePublicIP || !eth0.PrimaryIP.IsValid() || w.spec.Instances[ii].ElasticIP != "" {
			continue // an instance naming an EIP never gets an auto-assigned address (EIP-2)
		}
		if _, has := eth0.PublicIPs[eth0.PrimaryIP]; has {
			continue // EIP-2: the EIP replaces the auto-assigned address
		}
		ip := fmt.Sprintf("%s.instances[%d]", w.path, ii)
		p := r.regionPool()
		if p == nil {
			r.errf(ip, "ADDR-5", "instance %q needs a public IP but no address pool is in network border group %q", inst.Name, r.n.Region)
			continue
		}
		a, ok := firstFreePublic(p, r.public)
		if !ok {
			r.errf(ip, "ADDR-5", "address pool %q has no free address for instance %q", p.Name, inst.Name)
			continue
		}
		r.public[a] = fmt.Sprintf("the public IP of instance %q", inst.Name)
		eth0.PublicIPs[eth0.PrimaryIP] = a
	}
}

// assignMACs derives every MAC: hosts, subnet routers (ADDR-3), ENIs. All
// are distinct; a collision re-derives the later one.
func (r *resolver) assignMACs() {
	taken := map[string]bool{}
	mac := func(kind, name string) []byte {
		for attempt := 0; ; attempt++ {
			m := macFor(r.n.Name, kind, name, attempt)
			if !taken[string(m)] {
				taken[string(m)] = true
				return m
			}
		}
	}
	for _, h := range r.n.Hosts {
		h.MAC = mac("host", h.Name)
	}
	for _, h := range r.n.OnPremHosts() { // coip.go
		h.MAC = mac("host", h.Name)
	}
	for _, v := range r.n.VPCs {
		for _, s := range v.Subnets {
			s.RouterMAC = mac("router", s.Name)
		}
		for _, e := range v.ENIs {
			e.MAC = mac("eni", e.Name)
		}
	}
}

// shadowWarnings warns about internet hosts inside a VPC CIDR (ADDR-6).
func (r *resolver) shadowWarnings() {
	for i, v := range r.n.VPCs {
		if !v.CIDR.IsValid() {
			continue
		}
		var shadowed []string
		for _, h := range r.n.Hosts {
			if _, in := v.Overlaps(netip.PrefixFrom(h.IP, 32)); h.IP.IsValid() && in {
				shadowed = append(shadowed, fmt.Sprintf("%q (%s)", h.Name, h.IP))
			}
		}
		if len(shadowed) > 0 {
			r.n.Warnings = append(r.n.Warnings, fmt.Sprintf(
				"vpcs[%d]: vpc %q cidr %s shadows internet host %s: the local route wins, so it is unreachable from this vpc (ADDR-6)",
				i, v.Name, v.CIDR, strings.Join(shadowed, ", ")))
		}
	}
}
