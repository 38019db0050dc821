package ec2

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"

	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

// The EC2 operations of the textbook's labs, acting on the running network.
// Each one checks everything first and returns an AWS-style error with
// nothing changed; then it changes the model, the namespaces and ports, and
// the caller (handleOp) swaps the forwarder's tables.

// --- lookups: ids or names -------------------------------------------------

func (d *Service) findInstance(ref string) (*topology.Instance, error) {
	for _, v := range d.net.VPCs {
		for _, i := range v.Instances {
			if i.ID == ref || i.Name == ref {
				return i, nil
			}
		}
	}
	return nil, opErr("InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", ref)
}

func (d *Service) findENI(ref string) (*topology.ENI, error) {
	for _, v := range d.net.VPCs {
		for _, e := range v.ENIs {
			if e.ID == ref || e.Name == ref || attachmentID(d.net, e) == ref {
				return e, nil
			}
		}
	}
	return nil, opErr("InvalidNetworkInterfaceID.NotFound", "The networkInterface ID '%s' does not exist", ref)
}

func (d *Service) findSubnet(ref string) (*topology.Subnet, error) {
	for _, v := range d.net.VPCs {
		for _, s := range v.Subnets {
			if s.ID == ref || s.Name == ref {
				return s, nil
			}
		}
	}
	return nil, opErr("InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist", ref)
}

func (d *Service) findEIP(ref string) (*topology.EIP, error) {
	for _, e := range d.net.EIPs {
		if e.AllocationID == ref || e.Name == ref || e.Addr.String() == ref {
			return e, nil
		}
	}
	return nil, opErr("InvalidAllocationID.NotFound", "The allocation ID '%s' does not exist", ref)
}

func (d *Service) findRouteTable(ref string) (*topology.RouteTable, *topology.VPC, error) {
	for _, v := range d.net.VPCs {
		for _, t := range v.RouteTables {
			if t.ID == ref || t.Name == ref {
				return t, v, nil
			}
		}
	}
	return nil, nil, opErr("InvalidRouteTableID.NotFound", "The routeTable ID '%s' does not exist", ref)
}

func attachmentID(n *topology.Network, e *topology.ENI) string {
	if e.Instance == nil {
		return ""
	}
	return n.NewID("eni-attach", e.Name+"/"+e.Instance.Name)
}

func associationID(n *topology.Network, e *topology.EIP) string {
	if e.ENI == nil {
		return ""
	}
	return n.NewID("eipassoc", e.Name+"/"+e.ENI.Name+"/"+e.PrivateIP.String())
}

// names returns every resource name in use, of every kind: topo.json has
// one namespace for all (pools, hosts, EIPs, VPCs and all they hold), so a
// new resource may take none of them, or the export would not load.
func (d *Service) names() map[string]bool {
	used := map[string]bool{}
	for _, e := range d.net.EIPs {
		used[e.Name] = true
	}
	for _, h := range d.net.Hosts {
		used[h.Name] = true
	}
	for _, name := range d.net.CoIPNames() { // local gateways, on-premises hosts (coip.go)
		used[name] = true
	}
	for _, p := range d.net.Pools {
		used[p.Name] = true
	}
	for _, name := range d.net.MirrorNames() { // mirror.go
		used[name] = true
	}
	for _, o := range d.net.DHCPOptions {
		if o.Name != "" {
			used[o.Name] = true // dhcp.go (DNS-4); the default set has none
		}
	}
	for _, p := range d.net.Peerings {
		used[p.Name] = true
	}
	for _, g := range d.net.DetachedIGWs {
		used[g.Name] = true
	}
	for _, f := range d.net.VPCFlowLogs {
		used[f.Name] = true // flowlogs.go; a deleted resource's flow logs too
	}
	for _, v := range d.net.VPCs {
		used[v.Name] = true
		if v.IGW != nil {
			used[v.IGW.Name] = true
		}
		for _, x := range v.Subnets {
			used[x.Name] = true
		}
		for _, x := range v.RouteTables {
			used[x.Name] = true
		}
		for _, x := range v.NACLs {
			used[x.Name] = true
		}
		for _, x := range v.SGs {
			used[x.Name] = true
		}
		for _, x := range v.NATs {
			used[x.Name] = true
		}
		for _, x := range v.ENIs {
			used[x.Name] = true
		}
		for _, x := range v.Instances {
			used[x.Name] = true
		}
	}
	return used
}

// newName returns the requested name if it is free and one the file would
// accept for a resource of kind (topology.CheckResourceName: one validation
// for files and operations, so that export always loads again), or base-1,
// base-2 …, the first free one, when none was requested.
func (d *Service) newName(want, base, kind string) (string, error) {
	used := d.names()
	if want != "" {
		if err := topology.CheckResourceName(kind, want); err != nil {
			return "", opErr("InvalidParameterValue", "%v", err)
		}
		if used[want] {
			return "", opErr("InvalidParameterValue", "The name '%s' is already used by another resource", want)
		}
		return want, nil
	}
	for k := 1; ; k++ {
		if n := fmt.Sprintf("%s-%d", base, k); !used[n] {
			return n, nil
		}
	}
}

// newENIFields checks what a new ENI (created, or an instance's eth0) needs:
// its subnet, private IP (ENI-1, ADDR-2; "" picks a free one), groups
// (ENI-2) and name ("" picks base-1, base-2 …).
func (d *Service) newENIFields(subnet, privateIP string, groupRefs []string, want, base, kind string) (*topology.Subnet, netip.Addr, []*topology.SecurityGroup, string, error) {
	if subnet == "" {
		return nil, netip.Addr{}, nil, "", opErr("MissingParameter", "The request must contain the parameter SubnetId")
	}
	s, err := d.findSubnet(subnet)
	if err != nil {
		return nil, netip.Addr{}, nil, "", err
	}
	ip, err := pickIP(s, privateIP)
	if err != nil {
		return nil, ip, nil, "", err
	}
	groups, err := d.groupsOf(s.VPC, groupRefs)
	if err != nil {
		return nil, ip, nil, "", err
	}
	name, err := d.newName(want, base, kind)
	return s, ip, groups, name, err
}

// checkPrivateIP enforces ENI-1 and ADDR-2 for a new private IP of subnet s.
func checkPrivateIP(s *topology.Subnet, a netip.Addr) error {
	if !s.CIDR.Contains(a) {
		return opErr("InvalidParameterValue", "Address %s does not fall within the subnet's address range (ENI-1)", a)
	}
	if s.Reserved(a) {
		return opErr("InvalidParameterValue", "Address %s is reserved in subnet %s (ADDR-2)", a, s.ID)
	}
	if e := s.VPC.PrivateInUse(a); e != nil {
		return opErr("InvalidIPAddress.InUse", "The specified address %s is already in use by %s", a, e.ID)
	}
	return nil
}

// pickIP parses a requested private IP, or picks the first free one.
func pickIP(s *topology.Subnet, want string) (netip.Addr, error) {
	if want == "" {
		a, ok := s.FreePrivateIP()
		if !ok {
			return a, opErr("InsufficientFreeAddressesInSubnet", "Subnet %s has no free address", s.ID)
		}
		return a, nil
	}
	a, err := netip.ParseAddr(want)
	if err != nil || !a.Is4() {
		return a, opErr("InvalidParameterValue", "Invalid IPv4 address '%s'", want)
	}
	return a, checkPrivateIP(s, a)
}

func (d *Service) groupsOf(v *topology.VPC, refs []string) ([]*topology.SecurityGroup, error) {
	if len(refs) == 0 {
		return []*topology.SecurityGroup{v.DefaultSG}, nil // ENI-2
	}
	if err := d.checkGroupCount(len(refs)); err != nil { // QUOTA-1
		return nil, err
	}
	var out []*topology.SecurityGroup
	for _, r := range refs {
		g, err := d.findSG(r)
		if err != nil {
			return nil, err
		}
		if g.VPC != v {
			return nil, opErr("InvalidGroup.NotFound", "The security group '%s' does not exist in VPC '%s'", r, v.ID)
		}
		out = append(out, g)
	}
	return out, nil
}

// --- what typed operations share ---------------------------------------------

// nameFromTags returns the Name tag that specs give the resource of type rt
// they create: vpcnet's name of the resource (the CLI's --name), "" when
// none is given. Its other tags are checked here, before anything is made,
// and put on the new resource after the operation (creationTags); a second
// specification or another resource type is refused, not dropped.
func nameFromTags(specs []types.TagSpecification, rt types.ResourceType) (string, error) {
	name := ""
	for k, s := range specs {
		if s.ResourceType != rt {
			return "", opErr("InvalidParameterValue", "'%s' is not a valid taggable resource type for this operation: give ResourceType %s", s.ResourceType, rt)
		}
		if k > 0 {
			return "", opErr("InvalidParameterValue", "The same resource type may not be specified more than once in tag specifications")
		}
		// The Name is checked as a name by the operation; the rest as tags.
		var rest []types.Tag
		for _, t := range s.Tags {
			if deref(t.Key) != "Name" {
				rest = append(rest, t)
			} else if name != "" {
				return "", opErr("InvalidParameterValue", "The tag Name is given twice")
			} else if name = deref(t.Value); name == "" {
				return "", opErr("InvalidParameterValue", "The Name tag's value must not be empty")
			}
		}
		if err := checkTags(rest, true); err != nil {
			return "", err
		}
		if n := len(s.Tags); n > maxTagsPerResource {
			return "", opErr("TagLimitExceeded", "The maximum number of tags per resource is %d, not %d", maxTagsPerResource, n)
		}
	}
	return name, nil
}

// checkDescription holds a description to the file's rule (EC2's 255
// bytes, no control characters), so that export always loads again.
func checkDescription(p *string) error {
	if err := topology.CheckDescription(deref(p)); err != nil {
		return opErr("InvalidParameterValue", "%v", err)
	}
	return nil
}

// nameFromSpecs is a new resource's name: its Name tag from specs (checked
// with the rest of its tags, nameFromTags), or base-1, base-2 … (newName).
func (d *Service) nameFromSpecs(specs []types.TagSpecification, rt types.ResourceType, base, kind string) (string, error) {
	want, err := nameFromTags(specs, rt)
	if err != nil {
		return "", err
	}
	return d.newName(want, base, kind)
}

// unsupported refuses a request that sets a member the handler neither
// implements nor may safely ignore: EC2 would act on it, vpcnet cannot,
// and answering success would be a lie. known are the members the handler
// reads or ignores on purpose (DryRun and ClientToken always are).
func unsupported(in any, known ...string) error {
	v := reflect.ValueOf(in).Elem()
	for i := range v.NumField() {
		f := v.Type().Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if v.Field(i).IsZero() || name == "DryRun" || name == "ClientToken" || slices.Contains(known, name) {
			continue
		}
		return opErr("Unsupported", "The parameter %s is not supported by vpcnet", name)
	}
	return nil
}

// privateDNSName is a private IP's name (DNS-1); publicDNSName a public
// IP's (DNS-2). The DNS server answers from the same functions.
func privateDNSName(region string, a netip.Addr) string { return topology.PrivateDNSName(region, a) }

func publicDNSName(region string, a netip.Addr) string { return topology.PublicDNSName(region, a) }
