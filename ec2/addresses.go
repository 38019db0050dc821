package ec2

import (
	"net/netip"
	"slices"

	"github.com/vpcnet/vpcnet/topology"
)

func init() {
	for name, fn := range map[string]opFunc{
		"AllocateAddress":            (*Service).allocateAddress,
		"AssociateAddress":           (*Service).associateAddress,
		"DisassociateAddress":        (*Service).disassociateAddress,
		"ReleaseAddress":             (*Service).releaseAddress,
		"AssignPrivateIpAddresses":   (*Service).assignPrivateIPs,
		"UnassignPrivateIpAddresses": (*Service).unassignPrivateIPs,
	} {
		operations[name] = fn
	}
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
