package ec2

import (
	"net/netip"
	"slices"
	"sync"

	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

// Elastic IPs (EIP-1..EIP-4) with EC2's parameters. An EIP is found by its
// allocation id, its name or its address (vpcnet: names wherever ids).

func init() {
	Define("AllocateAddress", Mutating, (*Service).allocateAddress)
	Define("AssociateAddress", Mutating, (*Service).associateAddress)
	Define("DisassociateAddress", Mutating, (*Service).disassociateAddress)
	Define("ReleaseAddress", Mutating, (*Service).releaseAddress)
}

// tagSpecName is the name that a request's TagSpecifications give a new
// resource of type rt: its Name tag (vpcnet's --name), "" for none. vpcnet
// keeps no other tag, so any other key is refused rather than dropped, as
// is a specification for another resource type.
func tagSpecName(specs []types.TagSpecification, rt types.ResourceType) (string, error) {
	name, named := "", false
	for i, s := range specs {
		if s.ResourceType != rt {
			return "", opErr("InvalidParameterValue", "TagSpecifications.%d: '%s' is not a valid taggable resource type for this operation: use %s", i+1, s.ResourceType, rt)
		}
		for j, t := range s.Tags {
			switch {
			case deref(t.Key) != "Name":
				return "", opErr("InvalidParameterValue", "TagSpecifications.%d.Tags.%d: vpcnet keeps only the Name tag (the resource's name), not '%s'", i+1, j+1, deref(t.Key))
			case named:
				return "", opErr("InvalidParameterValue", "TagSpecifications.%d.Tags.%d: the Name tag is given twice", i+1, j+1)
			case deref(t.Value) == "":
				return "", opErr("InvalidParameterValue", "TagSpecifications.%d.Tags.%d: the Name tag needs a value", i+1, j+1)
			}
			name, named = deref(t.Value), true
		}
	}
	return name, nil
}

// released records the Amazon-pool addresses this account released, by
// network name, so that AllocateAddress may recover one while no one else
// holds it (EIP-1). It is the process's, as the account is: a dry run's
// copy of the network sees the same record; it does not outlive the daemon.
var released = struct {
	sync.Mutex
	m map[string]map[netip.Addr]bool
}{m: map[string]map[netip.Addr]bool{}}

func wasReleased(n *topology.Network, a netip.Addr) bool {
	released.Lock()
	defer released.Unlock()
	return released.m[n.Name][a]
}

// setReleased records that a was released (on) or taken again; a dry run
// (its kernel changes nothing) records nothing.
func (d *Service) setReleased(a netip.Addr, on bool) {
	if k, dry := d.k.(nopKernel); dry && k.real != nil { // a dry run's: it reads the real kernel
		return
	}
	n := d.net
	released.Lock()
	defer released.Unlock()
	if released.m[n.Name] == nil {
		released.m[n.Name] = map[netip.Addr]bool{}
	}
	if on {
		released.m[n.Name][a] = true
	} else {
		delete(released.m[n.Name], a)
	}
}

// amazonPool reports whether p is one of Amazon's pools (not BYOIP, not
// customer-owned: ADDR-5).
func amazonPool(p *topology.Pool) bool { return p.Kind == "" || p.Kind == "amazon" }

// allocateAddress takes a free address of a pool, or the address asked for
// (EIP-1), in the network border group asked for (EIP-4). A specific
// address is one of a BYOIP pool, or an Amazon-pool address this account
// released and recovers (ADDR-5); a border group is one of the region's.
func (d *Service) allocateAddress(in *types.AllocateAddressRequest) (*types.AllocateAddressResult, error) {
	n := d.net
	if in.Domain != "" && in.Domain != types.DomainTypeVpc {
		return nil, opErr("InvalidParameterValue", "Invalid value '%s' for domain: vpcnet's addresses are for use in a VPC (vpc)", in.Domain)
	}
	if out, err, done := d.allocateCoIP(in); done { // customer-owned (coip.go)
		return out, err
	}
	var pool *topology.Pool
	if ref := deref(in.PublicIpv4Pool); ref != "" {
		for _, p := range n.Pools {
			if p.Name == ref {
				pool = p
			}
		}
		if pool == nil {
			return nil, opErr("InvalidParameterValue", "The pool '%s' does not exist", ref)
		}
		if pool.Kind == "coip" {
			return nil, opErr("InvalidParameterValue", "The pool '%s' is a customer-owned pool: name it with CustomerOwnedIpv4Pool (ADDR-5)", ref)
		}
	}
	border := deref(in.NetworkBorderGroup)
	if border != "" && topology.BorderRegion(border) != n.Region {
		return nil, opErr("InvalidParameterValue", "Invalid value '%s' for NetworkBorderGroup: it is not a network border group of region %s (EIP-4)", border, n.Region)
	}
	var addr netip.Addr
	if in.Address != nil {
		s := *in.Address
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() {
			return nil, opErr("InvalidParameterValue", "Invalid IPv4 address '%s'", s)
		}
		p := n.PoolOf(a)
		if p == nil || (pool != nil && p != pool) {
			return nil, opErr("InvalidAddress.NotFound", "Address %s is not in any address pool of this account", a)
		}
		if p.Kind == "coip" {
			return nil, opErr("InvalidParameterValue", "Address %s is in customer-owned pool %s: name the pool with CustomerOwnedIpv4Pool (ADDR-5)", a, p.Name)
		}
		if !n.Allocatable(a) {
			return nil, opErr("InvalidParameterValue", "Address %s is the network or broadcast address of its pool's CIDR (EIP-1)", a)
		}
		if by := n.PublicInUse(a); by != "" {
			return nil, opErr("InvalidAddress.InUse", "Address %s is already in use (%s)", a, by)
		}
		if amazonPool(p) && !wasReleased(n, a) {
			return nil, opErr("InvalidAddress.NotFound", "Address %s cannot be recovered: a specific address is one of a BYOIP pool (PublicIpv4Pool), or of an Amazon pool only when this account released it (ADDR-5, EIP-1)", a)
		}
		pool, addr = p, a
	}
	if pool == nil {
		group := border
		if group == "" {
			group = n.Region
		}
		for _, p := range n.Pools {
			if amazonPool(p) && p.BorderGroup == group { // ADDR-5: Amazon's, unless a pool is named
				pool = p
				break
			}
		}
		if pool == nil {
			return nil, opErr("InvalidParameterValue", "No Amazon address pool in network border group '%s'", group)
		}
	}
	if border != "" && border != pool.BorderGroup {
		return nil, opErr("InvalidParameterCombination", "Pool %s is in network border group %s, not %s (EIP-4)", pool.Name, pool.BorderGroup, border)
	}
	want, err := tagSpecName(in.TagSpecifications, types.ResourceTypeElasticIp)
	if err != nil {
		return nil, err
	}
	// QUOTA-1: every Elastic IP of the account counts, a NAT gateway's too.
	if q := n.Settings.Quotas.ElasticIPs; len(n.EIPs) >= q {
		return nil, opErr("AddressLimitExceeded", "The maximum number of addresses has been reached: this account has %d Elastic IPs, the quota is %d (QUOTA-1)", len(n.EIPs), q)
	}
	name, err := d.newName(want, "eip", topology.KindEIP)
	if err != nil {
		return nil, err
	}
	if !addr.IsValid() {
		a, ok := n.FreePublicIP(pool, netip.Addr{})
		if !ok {
			return nil, opErr("AddressLimitExceeded", "Pool %s has no free address", pool.Name)
		}
		addr = a
	}
	e := &topology.EIP{Name: name, AllocationID: n.NewID("eipalloc", name), Addr: addr, Pool: pool}
	n.EIPs = append(n.EIPs, e)
	d.setReleased(addr, false) // recovered, or taken anew
	return &types.AllocateAddressResult{PublicIp: ptr(addr.String()), AllocationId: ptr(e.AllocationID),
		PublicIpv4Pool: ptr(pool.Name), NetworkBorderGroup: ptr(pool.BorderGroup), Domain: types.DomainTypeVpc}, nil
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
	if eni == nil || unbindCoIP(e) { // a CoIP is no public IP (coip.go)
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

// associateAddress binds an EIP to an instance (its primary ENI) or an
// ENI, at its primary private IP or the one asked for; an EIP in use moves
// only with AllowReassociation (EIP-2).
func (d *Service) associateAddress(in *types.AssociateAddressRequest) (*types.AssociateAddressResult, error) {
	n := d.net
	e, err := d.requestedEIP(in.AllocationId, in.PublicIp)
	if err != nil {
		return nil, err
	}
	var eni *topology.ENI
	switch inst, ref := deref(in.InstanceId), deref(in.NetworkInterfaceId); {
	case inst != "" && ref != "":
		return nil, opErr("InvalidParameterCombination", "Specify either InstanceId or NetworkInterfaceId, not both")
	case inst != "":
		i, err := d.findInstance(inst)
		if err != nil {
			return nil, err
		}
		eni = i.Primary()
	case ref != "":
		if eni, err = d.findENI(ref); err != nil {
			return nil, err
		}
	default:
		return nil, opErr("MissingParameter", "The request must contain the parameter InstanceId or NetworkInterfaceId")
	}
	priv := eni.PrimaryIP
	if s := deref(in.PrivateIpAddress); s != "" {
		a, perr := netip.ParseAddr(s)
		if perr != nil || !slices.Contains(eni.IPs(), a) {
			return nil, opErr("InvalidParameterValue", "The private IP %s is not an address of %s", s, eni.ID)
		}
		priv = a
	}
	if e.NAT != nil {
		return nil, opErr("OperationNotPermitted", "Elastic IP %s belongs to NAT gateway %s (ENI-5)", e.Addr, e.NAT.ID)
	}
	if eni.RequesterManaged {
		return nil, opErr("OperationNotPermitted", "Network interface %s is requester-managed by NAT gateway %s (ENI-5)", eni.ID, natOwner(eni))
	}
	if e.IsCoIP() { // customer-owned: an Outpost's, no internet gateway (coip.go)
		return d.associateCoIP(e, eni, priv, in)
	}
	if eni.Subnet.VPC.IGW == nil {
		return nil, opErr("Gateway.NotAttached", "Network %s is not attached to any internet gateway", eni.Subnet.VPC.ID)
	}
	if e.Pool != nil && e.Pool.BorderGroup != n.Region {
		return nil, opErr("InvalidParameterCombination", "Elastic IP %s is in network border group %s; the network interface is in region %s (EIP-4)", e.Addr, e.Pool.BorderGroup, n.Region)
	}
	if e.ENI != nil && !(e.ENI == eni && e.PrivateIP == priv) && !deref(in.AllowReassociation) {
		return nil, opErr("Resource.AlreadyAssociated", "resource %s is already associated with associate-id %s", e.AllocationID, associationID(n, e))
	}
	// EIP-2: re-association moves the EIP; it replaces any public IP there,
	// an EIP already on that private IP included (which stays allocated).
	d.unbindEIP(e)
	for _, other := range n.EIPs {
		if other != e && other.ENI == eni && other.PrivateIP == priv && !coexists(other) {
			other.ENI, other.PrivateIP = nil, netip.Addr{}
		}
	}
	if eni.PublicIPs == nil {
		eni.PublicIPs = map[netip.Addr]netip.Addr{}
	}
	eni.PublicIPs[priv] = e.Addr
	e.ENI, e.PrivateIP = eni, priv
	return &types.AssociateAddressResult{AssociationId: ptr(associationID(n, e))}, nil
}

// requestedEIP is the EIP of AllocationId (an id, name or address) or of
// PublicIp, the older way to name one.
func (d *Service) requestedEIP(allocationID, publicIP *string) (*topology.EIP, error) {
	switch id, ip := deref(allocationID), deref(publicIP); {
	case id != "" && ip != "":
		return nil, opErr("InvalidParameterCombination", "Specify either AllocationId or PublicIp, not both")
	case id != "":
		return d.findEIP(id)
	case ip != "":
		for _, e := range d.net.EIPs {
			if e.Addr.String() == ip {
				return e, nil
			}
		}
		return nil, opErr("InvalidAddress.NotFound", "Address %s not found", ip)
	}
	return nil, opErr("MissingParameter", "The request must contain the parameter AllocationId")
}

func natOwner(e *topology.ENI) string {
	if e.NAT != nil {
		return e.NAT.ID
	}
	return "its service"
}

// findAssociation is the associated EIP of AssociationId or of PublicIp.
func (d *Service) findAssociation(in *types.DisassociateAddressRequest) (*topology.EIP, error) {
	id, ip := deref(in.AssociationId), deref(in.PublicIp)
	switch {
	case id != "" && ip != "":
		return nil, opErr("InvalidParameterCombination", "Specify either AssociationId or PublicIp, not both")
	case id == "" && ip == "":
		return nil, opErr("MissingParameter", "The request must contain the parameter AssociationId")
	}
	for _, e := range d.net.EIPs {
		if e.ENI != nil && ((id != "" && associationID(d.net, e) == id) || (ip != "" && e.Addr.String() == ip)) {
			return e, nil
		}
	}
	if id == "" {
		return nil, opErr("InvalidAssociationID.NotFound", "The address %s is not associated", ip)
	}
	return nil, opErr("InvalidAssociationID.NotFound", "The association ID '%s' does not exist", id)
}

// disassociateAddress unbinds an EIP; the private IP gets its dynamic
// public IP back where it had one (ADDR-4). EC2 answers nothing.
func (d *Service) disassociateAddress(in *types.DisassociateAddressRequest) (*struct{}, error) {
	e, err := d.findAssociation(in)
	if err != nil {
		return nil, err
	}
	if e.NAT != nil {
		return nil, opErr("OperationNotPermitted", "Elastic IP %s is used by NAT gateway %s (ENI-5)", e.Addr, e.NAT.ID)
	}
	d.unbindEIP(e)
	return nil, nil
}

// releaseAddress returns an unassociated EIP to its pool (EIP-1, EIP-3).
// EC2 answers nothing.
func (d *Service) releaseAddress(in *types.ReleaseAddressRequest) (*struct{}, error) {
	e, err := d.requestedEIP(in.AllocationId, in.PublicIp)
	if err != nil {
		return nil, err
	}
	if g := deref(in.NetworkBorderGroup); g != "" && e.Pool != nil && g != e.Pool.BorderGroup {
		return nil, opErr("InvalidParameterCombination", "Elastic IP %s is in network border group %s, not %s (EIP-4)", e.Addr, e.Pool.BorderGroup, g)
	}
	if e.ENI != nil || e.NAT != nil {
		return nil, opErr("InvalidIPAddress.InUse", "Address %s is in use. Disassociate it first (EIP-3)", e.Addr)
	}
	if e.DomainName != "" { // DNS-3: its reverse DNS name goes first
		return nil, opErr("InvalidAddress.PtrSet", "The address with allocation id [%s] cannot be released because it has a PTR record set.", e.AllocationID)
	}
	d.net.EIPs = slices.DeleteFunc(d.net.EIPs, func(x *topology.EIP) bool { return x == e })
	if e.Pool != nil && amazonPool(e.Pool) {
		d.setReleased(e.Addr, true) // EIP-1: the account may recover it
	}
	return nil, nil
}
