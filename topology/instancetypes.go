package topology

import (
	"fmt"
	"sort"
)

// QUOTA-2: an instance type limits how many network interfaces an instance
// has and how many private IPv4 addresses each of them holds, as AWS's
// table "Maximum IP addresses per network interface" gives them
// (docs.aws.amazon.com/ec2/latest/instancetypes/gp.html#gp_network).
// vpcnet knows the few types of its catalogue (ec2/catalog.go).

// DefaultInstanceType is the type of an instance that names none: the
// textbook's (and the free tier's) t2.micro.
const DefaultInstanceType = "t2.micro"

// MaxIPv4PerENI is the most private IPv4 addresses an ENI holds when it is
// not attached: AWS's largest types hold 50 per interface (QUOTA-2).
const MaxIPv4PerENI = 50

// PrimaryENIDescription is the description of an instance's eth0 unless
// its launch gave another.
const PrimaryENIDescription = "Primary network interface"

// TypeLimits are an instance type's network limits (QUOTA-2).
type TypeLimits struct {
	ENIs       int // network interfaces, eth0 included
	IPv4PerENI int // private IPv4 addresses per interface, primary included
}

var typeLimits = map[string]TypeLimits{
	"t2.micro": {ENIs: 2, IPv4PerENI: 2},
	"t3.micro": {ENIs: 2, IPv4PerENI: 2},
	"t3.small": {ENIs: 3, IPv4PerENI: 4},
	"m5.large": {ENIs: 3, IPv4PerENI: 10},
}

// InstanceTypeLimits returns type t's limits; ok is false for a type
// vpcnet does not know.
func InstanceTypeLimits(t string) (TypeLimits, bool) {
	l, ok := typeLimits[t]
	return l, ok
}

// InstanceTypes are the types vpcnet knows, sorted.
func InstanceTypes() []string {
	out := make([]string, 0, len(typeLimits))
	for t := range typeLimits {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// TypeName is instance i's type, DefaultInstanceType if it has none.
func (i *Instance) TypeName() string {
	if i.Type == "" {
		return DefaultInstanceType
	}
	return i.Type
}

// Limits are instance i's type's limits (the default type's if it has
// none).
func (i *Instance) Limits() TypeLimits {
	return typeLimits[i.TypeName()]
}

// IPv4Limit is how many private IPv4 addresses e may hold: its instance
// type's per-interface limit when attached, else MaxIPv4PerENI (QUOTA-2).
func (e *ENI) IPv4Limit() int {
	if e.Instance != nil {
		return e.Instance.Limits().IPv4PerENI
	}
	return MaxIPv4PerENI
}

// instanceType resolves an instance's instance_type (QUOTA-2).
func (r *resolver) instanceType(path, t string) string {
	if t == "" {
		return DefaultInstanceType
	}
	if _, ok := typeLimits[t]; !ok {
		r.errf(path, "QUOTA-2", "instance type %q is not one vpcnet knows: %v", t, InstanceTypes())
	}
	return t
}

// instanceLimits holds every instance of the VPC to its type's limits, and
// every ENI to MaxIPv4PerENI (QUOTA-2). It runs once ENIs are attached.
func (r *resolver) instanceLimits(w *vpcWork) {
	for ii, inst := range w.inst {
		ip := fmt.Sprintf("%s.instances[%d]", w.path, ii)
		l := inst.Limits()
		if n := len(inst.ENIs); n > l.ENIs {
			r.errf(ip+".network_interfaces", "QUOTA-2", "instance %q has %d network interfaces: a %s has at most %d", inst.Name, n, inst.Type, l.ENIs)
		}
		for _, e := range inst.ENIs {
			if n := len(e.IPs()); n > l.IPv4PerENI {
				where := ip + ".secondary_private_ips"
				if e.DeviceIndex > 0 {
					where = fmt.Sprintf("%s.network_interfaces[%d]", ip, e.DeviceIndex-1)
				}
				r.errf(where, "QUOTA-2", "network interface %q has %d private IPv4 addresses: a %s's interfaces hold at most %d", e.Name, n, inst.Type, l.IPv4PerENI)
			}
		}
	}
	for ei, e := range w.enis {
		if n := len(e.IPs()); e.Instance == nil && n > MaxIPv4PerENI {
			r.errf(fmt.Sprintf("%s.network_interfaces[%d].secondary_private_ips", w.path, ei), "QUOTA-2",
				"network interface %q has %d private IPv4 addresses: at most %d", e.Name, n, MaxIPv4PerENI)
		}
	}
}
