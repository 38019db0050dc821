package ec2

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/vpcnet/vpcnet/topology"
)

// The EC2 operations of the textbook's labs, acting on the running network.
// Each one checks everything first and returns an AWS-style error with
// nothing changed; then it changes the model, the namespaces and ports, and
// the caller (handleOp) swaps the forwarder's tables.

func init() {
	for name, fn := range map[string]opFunc{
		"AllocateAddress":                 (*Service).allocateAddress,
		"AssociateAddress":                (*Service).associateAddress,
		"DisassociateAddress":             (*Service).disassociateAddress,
		"ReleaseAddress":                  (*Service).releaseAddress,
		"CreateNetworkInterface":          (*Service).createNetworkInterface,
		"DeleteNetworkInterface":          (*Service).deleteNetworkInterface,
		"AttachNetworkInterface":          (*Service).attachNetworkInterface,
		"DetachNetworkInterface":          (*Service).detachNetworkInterface,
		"ModifyNetworkInterfaceAttribute": (*Service).modifyNetworkInterfaceAttribute,
		"AssignPrivateIpAddresses":        (*Service).assignPrivateIPs,
		"UnassignPrivateIpAddresses":      (*Service).unassignPrivateIPs,
		"RunInstances":                    (*Service).runInstances,
		"TerminateInstances":              (*Service).terminateInstances,
		"StopInstances":                   (*Service).stopInstances,
		"StartInstances":                  (*Service).startInstances,
		"ModifyInstanceAttribute":         (*Service).modifyInstanceAttribute,
		"CreateRoute":                     func(d *Service, r OpRequest) (any, error) { return d.route(r, "create") },
		"ReplaceRoute":                    func(d *Service, r OpRequest) (any, error) { return d.route(r, "replace") },
		"DeleteRoute":                     func(d *Service, r OpRequest) (any, error) { return d.route(r, "delete") },
	} {
		operations[name] = fn
	}
}

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

func list(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		out = append(out, f)
	}
	return out
}

// names returns every resource name in use: one namespace for all kinds,
// as in topo.json.
func (d *Service) names() map[string]bool {
	used := map[string]bool{}
	for _, e := range d.net.EIPs {
		used[e.Name] = true
	}
	for _, h := range d.net.Hosts {
		used[h.Name] = true
	}
	for _, v := range d.net.VPCs {
		for _, e := range v.ENIs {
			used[e.Name] = true
		}
		for _, i := range v.Instances {
			used[i.Name] = true
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
// its subnet, private IP (ENI-1, ADDR-2), groups (ENI-2) and name.
func (d *Service) newENIFields(r OpRequest, groupsKey, base, kind string) (*topology.Subnet, netip.Addr, []*topology.SecurityGroup, string, error) {
	s, err := d.findSubnet(r["subnet-id"])
	if err != nil {
		return nil, netip.Addr{}, nil, "", err
	}
	ip, err := pickIP(s, r["private-ip-address"])
	if err != nil {
		return nil, ip, nil, "", err
	}
	groups, err := d.groupsOf(s.VPC, list(r[groupsKey]))
	if err != nil {
		return nil, ip, nil, "", err
	}
	name, err := d.newName(r["name"], base, kind)
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

// --- Elastic IPs (EIP-1..EIP-4) ----------------------------------------------

func (d *Service) allocateAddress(r OpRequest) (any, error) {
	n := d.net
	var pool *topology.Pool
	if ref := r["public-ipv4-pool"]; ref != "" {
		for _, p := range n.Pools {
			if p.Name == ref {
				pool = p
			}
		}
		if pool == nil {
			return nil, opErr("InvalidParameterValue", "The pool '%s' does not exist", ref)
		}
	}
	var addr netip.Addr
	if s := r["address"]; s != "" {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() {
			return nil, opErr("InvalidParameterValue", "Invalid IPv4 address '%s'", s)
		}
		p := n.PoolOf(a)
		if p == nil || (pool != nil && p != pool) {
			return nil, opErr("InvalidAddress.NotFound", "Address %s is not in any address pool of this account", a)
		}
		if !n.Allocatable(a) {
			return nil, opErr("InvalidParameterValue", "Address %s is the network or broadcast address of its pool's CIDR (EIP-1)", a)
		}
		if by := n.PublicInUse(a); by != "" {
			return nil, opErr("InvalidAddress.InUse", "Address %s is already in use (%s)", a, by)
		}
		pool, addr = p, a
	}
	if pool == nil {
		for _, p := range n.Pools {
			if g := r["network-border-group"]; g == "" || p.BorderGroup == g {
				pool = p
				break
			}
		}
		if pool == nil {
			return nil, opErr("InvalidParameterValue", "No address pool in network border group '%s'", r["network-border-group"])
		}
	}
	if g := r["network-border-group"]; g != "" && g != pool.BorderGroup {
		return nil, opErr("InvalidParameterCombination", "Pool %s is in network border group %s, not %s (EIP-4)", pool.Name, pool.BorderGroup, g)
	}
	if !addr.IsValid() {
		a, ok := n.FreePublicIP(pool, netip.Addr{})
		if !ok {
			return nil, opErr("AddressLimitExceeded", "Pool %s has no free address", pool.Name)
		}
		addr = a
	}
	name, err := d.newName(r["name"], "eip", topology.KindEIP)
	if err != nil {
		return nil, err
	}
	e := &topology.EIP{Name: name, AllocationID: n.NewID("eipalloc", name), Addr: addr, Pool: pool}
	n.EIPs = append(n.EIPs, e)
	return map[string]any{"PublicIp": addr.String(), "AllocationId": e.AllocationID, "PublicIpv4Pool": pool.Name,
		"NetworkBorderGroup": pool.BorderGroup, "Domain": "vpc"}, nil
}

// dynamicPublic reports whether e's private IP a should hold an
// auto-assigned public IP when no EIP does (ADDR-4).
func dynamicPublic(e *topology.ENI, a netip.Addr) bool {
	return e.Instance != nil && e.DeviceIndex == 0 && a == e.PrimaryIP && e.Instance.AssociatePublicIP && !e.Instance.Stopped
}

// unbindEIP removes e's association, giving the private IP back its dynamic
// public IP where it should have one.
func (d *Service) unbindEIP(e *topology.EIP) {
	eni, priv := e.ENI, e.PrivateIP
	if eni == nil {
		return
	}
	delete(eni.PublicIPs, priv)
	e.ENI, e.PrivateIP = nil, netip.Addr{}
	if dynamicPublic(eni, priv) {
		if pool := d.net.RegionPool(); pool != nil {
			if a, ok := d.net.FreePublicIP(pool, netip.Addr{}); ok {
				eni.PublicIPs[priv] = a
			}
		}
	}
}

func (d *Service) associateAddress(r OpRequest) (any, error) {
	n := d.net
	e, err := d.findEIP(r["allocation-id"])
	if err != nil {
		return nil, err
	}
	var eni *topology.ENI
	var priv netip.Addr
	switch {
	case r["instance-id"] != "":
		inst, err := d.findInstance(r["instance-id"])
		if err != nil {
			return nil, err
		}
		eni = inst.Primary()
		priv = eni.PrimaryIP
	case r["network-interface-id"] != "":
		if eni, err = d.findENI(r["network-interface-id"]); err != nil {
			return nil, err
		}
		priv = eni.PrimaryIP
		if s := r["private-ip-address"]; s != "" {
			a, perr := netip.ParseAddr(s)
			if perr != nil || !slices.Contains(eni.IPs(), a) {
				return nil, opErr("InvalidParameterValue", "The private IP %s is not an address of %s", s, eni.ID)
			}
			priv = a
		}
	default:
		return nil, opErr("MissingParameter", "Either --instance-id or --network-interface-id must be given")
	}
	if e.NAT != nil {
		return nil, opErr("OperationNotPermitted", "Elastic IP %s belongs to NAT gateway %s (ENI-5)", e.Addr, e.NAT.ID)
	}
	if eni.RequesterManaged {
		return nil, opErr("OperationNotPermitted", "Network interface %s is requester-managed by NAT gateway %s (ENI-5)", eni.ID, natOwner(eni))
	}
	if eni.Subnet.VPC.IGW == nil {
		return nil, opErr("Gateway.NotAttached", "Network %s is not attached to any internet gateway", eni.Subnet.VPC.ID)
	}
	if e.Pool != nil && e.Pool.BorderGroup != n.Region {
		return nil, opErr("InvalidParameterCombination", "Elastic IP %s is in network border group %s; the network interface is in region %s (EIP-4)", e.Addr, e.Pool.BorderGroup, n.Region)
	}
	allow := r["allow-reassociation"] == "true"
	if e.ENI != nil && !(e.ENI == eni && e.PrivateIP == priv) && !allow {
		return nil, opErr("Resource.AlreadyAssociated", "resource %s is already associated with associate-id %s", e.AllocationID, associationID(n, e))
	}
	// EIP-2: re-association moves the EIP; it replaces any public IP there,
	// an EIP already on that private IP included (which stays allocated).
	d.unbindEIP(e)
	for _, other := range n.EIPs {
		if other != e && other.ENI == eni && other.PrivateIP == priv {
			other.ENI, other.PrivateIP = nil, netip.Addr{}
		}
	}
	if eni.PublicIPs == nil {
		eni.PublicIPs = map[netip.Addr]netip.Addr{}
	}
	eni.PublicIPs[priv] = e.Addr
	e.ENI, e.PrivateIP = eni, priv
	return map[string]any{"AssociationId": associationID(n, e)}, nil
}

func natOwner(e *topology.ENI) string {
	if e.NAT != nil {
		return e.NAT.ID
	}
	return "its service"
}

func (d *Service) findAssociation(r OpRequest) (*topology.EIP, error) {
	for _, e := range d.net.EIPs {
		if e.ENI != nil && (associationID(d.net, e) == r["association-id"] || e.Addr.String() == r["public-ip"]) {
			return e, nil
		}
	}
	return nil, opErr("InvalidAssociationID.NotFound", "The association ID '%s' does not exist", r["association-id"])
}

func (d *Service) disassociateAddress(r OpRequest) (any, error) {
	e, err := d.findAssociation(r)
	if err != nil {
		return nil, err
	}
	if e.NAT != nil {
		return nil, opErr("OperationNotPermitted", "Elastic IP %s is used by NAT gateway %s (ENI-5)", e.Addr, e.NAT.ID)
	}
	d.unbindEIP(e)
	return map[string]any{"Return": true}, nil
}

func (d *Service) releaseAddress(r OpRequest) (any, error) {
	e, err := d.findEIP(r["allocation-id"])
	if err != nil {
		return nil, err
	}
	if e.ENI != nil || e.NAT != nil {
		return nil, opErr("InvalidIPAddress.InUse", "Address %s is in use. Disassociate it first (EIP-3)", e.Addr)
	}
	d.net.EIPs = slices.DeleteFunc(d.net.EIPs, func(x *topology.EIP) bool { return x == e })
	return map[string]any{"Return": true}, nil
}

// --- network interfaces (ENI-1..ENI-7) ---------------------------------------

func (d *Service) createNetworkInterface(r OpRequest) (any, error) {
	s, ip, groups, name, err := d.newENIFields(r, "groups", "eni", topology.KindENI)
	if err != nil {
		return nil, err
	}
	if err := topology.CheckDescription(r["description"]); err != nil {
		return nil, opErr("InvalidParameterValue", "%v", err)
	}
	e := &topology.ENI{Name: name, ID: d.net.NewID("eni", name), Subnet: s, MAC: d.net.NewMAC(name), PrimaryIP: ip,
		Groups: groups, SourceDestCheck: true, Kind: topology.ENICompute, Description: r["description"],
		ConnTrack: defaultConnTrack(), PublicIPs: map[netip.Addr]netip.Addr{}}
	s.VPC.ENIs = append(s.VPC.ENIs, e)
	return map[string]any{"NetworkInterface": describeENI(d.net, e)}, nil
}

func defaultConnTrack() topology.ConnTrack {
	return topology.ConnTrack{TCPEstablished: 432000, UDPStream: 180, UDP: 30}
}

// refuseManaged enforces ENI-5 for operations on requester-managed ENIs.
func refuseManaged(e *topology.ENI, what string) error {
	if e.RequesterManaged {
		return opErr("OperationNotPermitted", "You cannot %s network interface %s: it is requester-managed by NAT gateway %s; use the NAT gateway's operations (ENI-5)", what, e.ID, natOwner(e))
	}
	return nil
}

func (d *Service) deleteNetworkInterface(r OpRequest) (any, error) {
	e, err := d.findENI(r["network-interface-id"])
	if err != nil {
		return nil, err
	}
	if err := refuseManaged(e, "delete"); err != nil {
		return nil, err
	}
	if e.Instance != nil {
		return nil, opErr("InvalidNetworkInterface.InUse", "The network interface '%s' is currently in use by %s", e.ID, e.Instance.ID)
	}
	d.dropENI(e)
	return map[string]any{"Return": true}, nil
}

// dropENI removes an ENI from the model: its EIPs are disassociated, and
// routes to it turn into blackholes (RT-3), as describe-route-tables shows.
func (d *Service) dropENI(e *topology.ENI) {
	for _, x := range d.net.EIPs {
		if x.ENI == e {
			x.ENI, x.PrivateIP = nil, netip.Addr{}
		}
	}
	v := e.Subnet.VPC
	v.ENIs = slices.DeleteFunc(v.ENIs, func(x *topology.ENI) bool { return x == e })
}

func (d *Service) attachNetworkInterface(r OpRequest) (any, error) {
	e, err := d.findENI(r["network-interface-id"])
	if err != nil {
		return nil, err
	}
	inst, err := d.findInstance(r["instance-id"])
	if err != nil {
		return nil, err
	}
	if err := refuseManaged(e, "attach"); err != nil {
		return nil, err
	}
	idx, perr := strconv.Atoi(r["device-index"])
	if perr != nil || idx < 1 || idx > 15 {
		return nil, opErr("InvalidParameterValue", "Invalid value '%s' for deviceIndex: it must be 1 to 15 (0 is the primary interface)", r["device-index"])
	}
	if e.Instance != nil {
		return nil, opErr("InvalidNetworkInterface.InUse", "Interface %s is currently in use by %s", e.ID, e.Instance.ID)
	}
	if e.Subnet.VPC != inst.VPC {
		return nil, opErr("InvalidParameterCombination", "The network interface %s is in %s and the instance %s in %s: they must be in the same VPC (ENI-6)", e.ID, e.Subnet.VPC.ID, inst.ID, inst.VPC.ID)
	}
	if e.Subnet.AZ != inst.Subnet.AZ {
		return nil, opErr("InvalidParameterCombination", "You may not attach a network interface to an instance if they are not in the same availability zone: %s is in %s, %s in %s (ENI-6)", e.ID, e.Subnet.AZ, inst.ID, inst.Subnet.AZ)
	}
	for _, x := range inst.ENIs {
		if x.DeviceIndex == idx {
			return nil, opErr("InvalidParameterValue", "Instance %s already has an interface attached at device index %d", inst.ID, idx)
		}
	}
	if !inst.Stopped {
		if err := d.k.PlugENI(inst, e, idx); err != nil {
			return nil, err
		}
	}
	e.Instance, e.DeviceIndex = inst, idx
	inst.ENIs = append(inst.ENIs, e)
	slices.SortFunc(inst.ENIs, func(a, b *topology.ENI) int { return a.DeviceIndex - b.DeviceIndex })
	return map[string]any{"AttachmentId": attachmentID(d.net, e)}, nil
}

func (d *Service) detachNetworkInterface(r OpRequest) (any, error) {
	ref := r["network-interface-id"]
	if ref == "" {
		ref = r["attachment-id"]
	}
	e, err := d.findENI(ref)
	if err != nil {
		return nil, err
	}
	if err := refuseManaged(e, "detach"); err != nil {
		return nil, err
	}
	if e.Instance == nil {
		return nil, opErr("InvalidAttachmentID.NotFound", "The network interface %s is not attached", e.ID)
	}
	if e.DeviceIndex == 0 {
		return nil, opErr("OperationNotPermitted", "The network interface at device index 0 cannot be detached (ENI-6)")
	}
	inst := e.Instance
	d.k.UnplugENI(e) // closing the TAP removes eth<N> from the namespace
	inst.ENIs = slices.DeleteFunc(inst.ENIs, func(x *topology.ENI) bool { return x == e })
	e.Instance, e.DeviceIndex = nil, 0
	return map[string]any{"Return": true}, nil
}

func (d *Service) modifyNetworkInterfaceAttribute(r OpRequest) (any, error) {
	e, err := d.findENI(r["network-interface-id"])
	if err != nil {
		return nil, err
	}
	return d.modifyENI(e, r)
}

func (d *Service) modifyENI(e *topology.ENI, r OpRequest) (any, error) {
	if err := refuseManaged(e, "modify"); err != nil {
		return nil, err
	}
	sdc, hasSDC := r["source-dest-check"]
	groups := list(r["groups"])
	if !hasSDC && len(groups) == 0 {
		return nil, opErr("MissingParameter", "Give --source-dest-check, --no-source-dest-check or --groups")
	}
	if hasSDC && sdc == "true" && e.Kind == topology.ENIRouting {
		return nil, opErr("OperationNotPermitted", "The source/destination check of routing interface %s is off and cannot be turned on (ENI-3)", e.ID)
	}
	if len(groups) > 0 {
		if e.Kind == topology.ENIRouting {
			return nil, opErr("OperationNotPermitted", "Routing interface %s has no security groups (ENI-3)", e.ID)
		}
		gs, err := d.groupsOf(e.Subnet.VPC, groups)
		if err != nil {
			return nil, err
		}
		e.Groups = gs
	}
	if hasSDC {
		e.SourceDestCheck = sdc == "true"
	}
	return map[string]any{"Return": true}, nil
}

func (d *Service) parseIPs(e *topology.ENI, r OpRequest) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, s := range list(r["private-ip-addresses"]) {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() {
			return nil, opErr("InvalidParameterValue", "Invalid IPv4 address '%s'", s)
		}
		if slices.Contains(out, a) {
			return nil, opErr("InvalidParameterValue", "Address %s is given twice", a)
		}
		out = append(out, a)
	}
	n := 0
	if c := r["secondary-private-ip-address-count"]; c != "" {
		var cerr error
		if n, cerr = strconv.Atoi(c); cerr != nil || n < 1 || n > 49 {
			return nil, opErr("InvalidParameterValue", "Invalid value '%s' for secondaryPrivateIpAddressCount: 1 to 49", c)
		}
	}
	if n > 0 {
		for range n {
			a, ok := e.Subnet.FreePrivateIP(out...)
			if !ok {
				return nil, opErr("InsufficientFreeAddressesInSubnet", "Subnet %s has no free address", e.Subnet.ID)
			}
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, opErr("MissingParameter", "Give --private-ip-addresses or --secondary-private-ip-address-count")
	}
	return out, nil
}

func (d *Service) assignPrivateIPs(r OpRequest) (any, error) {
	e, err := d.findENI(r["network-interface-id"])
	if err != nil {
		return nil, err
	}
	if err := refuseManaged(e, "modify"); err != nil {
		return nil, err
	}
	ips, err := d.parseIPs(e, r)
	if err != nil {
		return nil, err
	}
	for _, a := range ips {
		if err := checkPrivateIP(e.Subnet, a); err != nil {
			return nil, err
		}
	}
	e.SecondaryIPs = append(slices.Clone(e.SecondaryIPs), ips...)
	if err := d.k.ConfigureENI(e); err != nil {
		return nil, err
	}
	return map[string]any{"NetworkInterfaceId": e.ID, "AssignedPrivateIpAddresses": ips}, nil
}

func (d *Service) unassignPrivateIPs(r OpRequest) (any, error) {
	e, err := d.findENI(r["network-interface-id"])
	if err != nil {
		return nil, err
	}
	if err := refuseManaged(e, "modify"); err != nil {
		return nil, err
	}
	ips, err := d.parseIPs(e, r)
	if err != nil {
		return nil, err
	}
	for _, a := range ips {
		if !slices.Contains(e.SecondaryIPs, a) {
			return nil, opErr("InvalidParameterValue", "Address %s is not a secondary private IP of %s", a, e.ID)
		}
	}
	e.SecondaryIPs = slices.DeleteFunc(slices.Clone(e.SecondaryIPs), func(a netip.Addr) bool { return slices.Contains(ips, a) })
	for _, a := range ips {
		for _, x := range d.net.EIPs {
			if x.ENI == e && x.PrivateIP == a {
				x.ENI, x.PrivateIP = nil, netip.Addr{}
			}
		}
		delete(e.PublicIPs, a)
		if e.Instance != nil && !e.Instance.Stopped {
			d.k.RemoveAddress(e, a)
		}
	}
	return map[string]any{"Return": true}, nil
}

// --- instances (INST-1..INST-3) ----------------------------------------------

func (d *Service) runInstances(r OpRequest) (any, error) {
	n := d.net
	s, ip, groups, name, err := d.newENIFields(r, "security-group-ids", "instance", topology.KindInstance)
	if err != nil {
		return nil, err
	}
	public := s.MapPublicIP
	switch r["associate-public-ip-address"] {
	case "true":
		public = true
	case "false":
		public = false
	}
	inst := &topology.Instance{Name: name, ID: n.NewID("i", name), Namespace: n.Name + "-" + name, Subnet: s, VPC: s.VPC,
		UserData: r["user-data"], AssociatePublicIP: public}
	eni := &topology.ENI{Name: name, ID: n.NewID("eni", name), Subnet: s, MAC: n.NewMAC(name), PrimaryIP: ip, Groups: groups,
		SourceDestCheck: true, Kind: topology.ENICompute, Description: "Primary network interface", ConnTrack: defaultConnTrack(),
		PublicIPs: map[netip.Addr]netip.Addr{}, Instance: inst}
	inst.ENIs = []*topology.ENI{eni}
	if d.k.NamespaceExists(inst.Namespace) {
		return nil, opErr("InvalidParameterValue", "Namespace %s exists already", inst.Namespace)
	}
	if public {
		if pool := n.RegionPool(); pool != nil {
			if a, ok := n.FreePublicIP(pool, netip.Addr{}); ok {
				eni.PublicIPs[ip] = a
			}
		}
	}
	s.VPC.ENIs = append(s.VPC.ENIs, eni)
	s.VPC.Instances = append(s.VPC.Instances, inst)
	n.InstanceByName[name] = inst
	if err := d.k.LaunchInstance(inst); err != nil {
		d.forget(inst)
		return nil, err
	}
	d.k.RefreshHosts()
	// A reservation, as EC2's RunInstances answers (its describe-instances
	// reservation has the same id).
	return map[string]any{"ReservationId": n.NewID("r", inst.Name), "OwnerId": n.AccountID(), "Groups": []any{},
		"Instances": []any{describeInstance(n, inst)}}, nil
}

// forget removes an instance and its primary ENI from the model and the
// kernel: ports, user_data, namespace.
func (d *Service) forget(inst *topology.Instance) {
	d.k.RemoveInstance(inst)
	v := inst.VPC
	v.Instances = slices.DeleteFunc(v.Instances, func(x *topology.Instance) bool { return x == inst })
	delete(d.net.InstanceByName, inst.Name)
	for _, e := range inst.ENIs {
		if e.DeviceIndex == 0 {
			d.dropENI(e)
		}
		e.Instance, e.DeviceIndex = nil, 0
	}
}

func (d *Service) instances(r OpRequest) ([]*topology.Instance, error) {
	var out []*topology.Instance
	for _, ref := range list(r["instance-ids"]) {
		i, err := d.findInstance(ref)
		if err != nil {
			return nil, err
		}
		out = append(out, i)
	}
	if len(out) == 0 {
		return nil, opErr("MissingParameter", "The request must contain the parameter --instance-ids")
	}
	return out, nil
}

type stateChange struct {
	InstanceID    string `json:"InstanceId"`
	CurrentState  state  `json:"CurrentState"`
	PreviousState state  `json:"PreviousState"`
}

type state struct {
	Code int    `json:"Code"`
	Name string `json:"Name"`
}

var (
	stRunning    = state{16, "running"}
	stStopped    = state{80, "stopped"}
	stTerminated = state{48, "terminated"}
)

// InstanceState names an instance's state as EC2 does (running, stopped).
func InstanceState(i *topology.Instance) string { return instState(i).Name }

func instState(i *topology.Instance) state {
	if i.Stopped {
		return stStopped
	}
	return stRunning
}

func (d *Service) terminateInstances(r OpRequest) (any, error) {
	insts, err := d.instances(r)
	if err != nil {
		return nil, err
	}
	var out []stateChange
	for _, i := range insts {
		prev := instState(i)
		d.forget(i)
		out = append(out, stateChange{i.ID, stTerminated, prev})
	}
	d.k.RefreshHosts()
	return map[string]any{"TerminatingInstances": out}, nil
}

// stopInstances takes the instance's devices away and releases its dynamic
// public IP (INST-2); EIPs and private IPs stay.
func (d *Service) stopInstances(r OpRequest) (any, error) {
	insts, err := d.instances(r)
	if err != nil {
		return nil, err
	}
	var out []stateChange
	for _, i := range insts {
		prev := instState(i)
		if !i.Stopped {
			for _, e := range i.ENIs {
				d.k.UnplugENI(e)
				for priv, pub := range e.PublicIPs {
					if !isEIP(d.net, pub) {
						d.lastPublic[i.ID] = pub
						delete(e.PublicIPs, priv) // ADDR-4: the dynamic public IP is released
					}
				}
			}
			d.k.StopProcesses(i)
			i.Stopped = true
		}
		out = append(out, stateChange{i.ID, stStopped, prev})
	}
	return map[string]any{"StoppingInstances": out}, nil
}

func isEIP(n *topology.Network, a netip.Addr) bool {
	for _, e := range n.EIPs {
		if e.Addr == a {
			return true
		}
	}
	return false
}

// startInstances gives the devices back and takes a new dynamic public IP
// (INST-2). user_data does not run again (INST-3: once).
func (d *Service) startInstances(r OpRequest) (any, error) {
	insts, err := d.instances(r)
	if err != nil {
		return nil, err
	}
	var out []stateChange
	for _, i := range insts {
		prev := instState(i)
		if i.Stopped {
			for _, e := range i.ENIs {
				if err := d.k.PlugENI(i, e, e.DeviceIndex); err != nil {
					return nil, err
				}
			}
			i.Stopped = false
			e := i.Primary()
			if i.AssociatePublicIP {
				if _, has := e.PublicIPs[e.PrimaryIP]; !has {
					if pool := d.net.RegionPool(); pool != nil {
						if a, ok := d.net.FreePublicIP(pool, d.lastPublic[i.ID]); ok {
							e.PublicIPs[e.PrimaryIP] = a
						}
					}
				}
			}
		}
		out = append(out, stateChange{i.ID, stRunning, prev})
	}
	return map[string]any{"StartingInstances": out}, nil
}

func (d *Service) modifyInstanceAttribute(r OpRequest) (any, error) {
	i, err := d.findInstance(r["instance-id"])
	if err != nil {
		return nil, err
	}
	return d.modifyENI(i.Primary(), r)
}

// --- routes (RT-1..RT-4) -------------------------------------------------------

func (d *Service) route(r OpRequest, op string) (any, error) {
	t, v, err := d.findRouteTable(r["route-table-id"])
	if err != nil {
		return nil, err
	}
	dst, perr := netip.ParsePrefix(r["destination-cidr-block"])
	if perr != nil || !dst.Addr().Is4() || dst.Masked() != dst {
		return nil, opErr("InvalidParameterValue", "Value (%s) for parameter destinationCidrBlock is invalid", r["destination-cidr-block"])
	}
	idx := slices.IndexFunc(t.Routes, func(x *topology.Route) bool { return x.Dest == dst })
	if dst == v.CIDR {
		return nil, opErr("InvalidParameterValue", "The local route %s of %s cannot be created, replaced or deleted (RT-1)", dst, t.ID)
	}
	if op == "delete" {
		if idx < 0 {
			return nil, opErr("InvalidRoute.NotFound", "There is no route defined for '%s' in the route table. Please correct the route table ID and try again.", dst)
		}
		t.Routes = slices.Delete(slices.Clone(t.Routes), idx, idx+1)
		return map[string]any{"Return": true}, nil
	}
	if op == "create" && idx >= 0 {
		return nil, opErr("RouteAlreadyExists", "The route identified by %s already exists.", dst)
	}
	if op == "replace" && idx < 0 {
		return nil, opErr("InvalidRoute.NotFound", "There is no route defined for '%s' in the route table. Please correct the route table ID and try again.", dst)
	}
	rt := &topology.Route{Dest: dst}
	targets := 0
	for _, k := range []string{"gateway-id", "nat-gateway-id", "network-interface-id", "instance-id"} {
		if r[k] != "" {
			targets++
		}
	}
	if targets > 1 {
		return nil, opErr("InvalidParameterCombination", "Give exactly one of --gateway-id, --nat-gateway-id, --network-interface-id, --instance-id (RT-3)")
	}
	switch {
	case r["gateway-id"] != "":
		g := r["gateway-id"]
		if v.IGW == nil || (g != v.IGW.ID && g != v.IGW.Name) {
			return nil, opErr("InvalidGatewayID.NotFound", "The gateway ID '%s' does not exist", g)
		}
		rt.Kind, rt.TargetName = topology.TargetIGW, v.IGW.Name
	case r["nat-gateway-id"] != "":
		for _, g := range v.NATs {
			if g.ID == r["nat-gateway-id"] || g.Name == r["nat-gateway-id"] {
				rt.Kind, rt.TargetName, rt.NAT = topology.TargetNAT, g.Name, g
			}
		}
		if rt.NAT == nil {
			return nil, opErr("InvalidNatGatewayID.NotFound", "The NAT gateway ID '%s' does not exist", r["nat-gateway-id"])
		}
	case r["network-interface-id"] != "":
		e, err := d.findENI(r["network-interface-id"])
		if err != nil {
			return nil, err
		}
		if e.NAT != nil {
			// The file names the NAT gateway by the same name; a route
			// to it says --nat-gateway-id (ENI-5).
			return nil, refuseManaged(e, "route to")
		}
		if e.Subnet.VPC != v {
			return nil, opErr("InvalidParameterValue", "Network interface %s is in %s, not in %s of route table %s (RT-3)", e.ID, e.Subnet.VPC.ID, v.ID, t.ID)
		}
		rt.Kind, rt.TargetName, rt.ENI = topology.TargetENI, e.Name, e
	case r["instance-id"] != "":
		i, err := d.findInstance(r["instance-id"])
		if err != nil {
			return nil, err
		}
		if i.VPC != v {
			return nil, opErr("InvalidParameterValue", "Instance %s is in %s, not in %s of route table %s (RT-3)", i.ID, i.VPC.ID, v.ID, t.ID)
		}
		rt.Kind, rt.TargetName, rt.ENI = topology.TargetENI, i.Name, i.Primary()
	default:
		return nil, opErr("MissingParameter", "Give one of --gateway-id, --nat-gateway-id, --network-interface-id, --instance-id")
	}
	// RT-4: more specific than local: a whole subnet, to a NAT gateway or ENI.
	if v.CIDR.Overlaps(dst) && dst.Bits() > v.CIDR.Bits() {
		whole := slices.ContainsFunc(v.Subnets, func(s *topology.Subnet) bool { return s.CIDR == dst })
		if !whole || (rt.Kind != topology.TargetENI && rt.Kind != topology.TargetNAT) {
			return nil, opErr("InvalidParameterValue", "The destination CIDR block %s is equal to or more specific than one of this VPC's CIDR blocks. This route can target only an interface or a NAT gateway, and must match a subnet CIDR exactly (RT-4).", dst)
		}
	}
	next := slices.Clone(t.Routes)
	if idx >= 0 {
		next[idx] = rt
	} else {
		next = append(next, rt)
	}
	t.Routes = next
	return map[string]any{"Return": true}, nil
}
