package ec2

import (
	"net/netip"

	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

// Customer-owned IPs (Outposts), as EC2 has them (topology/coip.go): a CoIP
// address is allocated with CustomerOwnedIpv4Pool from a pool of kind
// coip, associated only with an ENI in a subnet on an Outpost (COIP-3), and
// is never a public IP: no internet gateway translates it, so it is not
// kept in the ENI's public IPs; the EIP's ENI and PrivateIP say where it
// is. A route reaches the on-premises network with LocalGatewayId.

// allocateCoIP allocates a customer-owned address when the request names
// CustomerOwnedIpv4Pool. done reports whether it answered the request.
func (d *Service) allocateCoIP(in *types.AllocateAddressRequest) (out *types.AllocateAddressResult, err error, done bool) {
	n := d.net
	ref := deref(in.CustomerOwnedIpv4Pool)
	if in.CustomerOwnedIpv4Pool == nil {
		return nil, nil, false
	}
	pool := coipPool(n, ref)
	switch {
	case pool == nil:
		return nil, opErr("InvalidParameterValue", "The customer-owned address pool '%s' does not exist", ref), true
	case in.PublicIpv4Pool != nil || in.Address != nil:
		return nil, opErr("InvalidParameterCombination", "CustomerOwnedIpv4Pool cannot be combined with PublicIpv4Pool or Address"), true
	case in.NetworkBorderGroup != nil && *in.NetworkBorderGroup != pool.BorderGroup:
		return nil, opErr("InvalidParameterCombination", "Pool %s is in network border group %s, not %s (EIP-4)", pool.Name, pool.BorderGroup, *in.NetworkBorderGroup), true
	case in.Domain != "" && in.Domain != types.DomainTypeVpc:
		return nil, opErr("InvalidParameterValue", "Invalid value '%s' for domain: vpcnet's addresses are for use in a VPC (vpc)", in.Domain), true
	}
	want, err := tagSpecName(in.TagSpecifications, types.ResourceTypeElasticIp)
	if err != nil {
		return nil, err, true
	}
	if q := n.Settings.Quotas.ElasticIPs; len(n.EIPs) >= q {
		return nil, opErr("AddressLimitExceeded", "The maximum number of addresses has been reached: this account has %d Elastic IPs, the quota is %d (QUOTA-1)", len(n.EIPs), q), true
	}
	name, err := d.newName(want, "eip", topology.KindEIP)
	if err != nil {
		return nil, err, true
	}
	a, ok := n.FreePublicIP(pool, netip.Addr{})
	if !ok {
		return nil, opErr("AddressLimitExceeded", "Pool %s has no free address", pool.Name), true
	}
	e := &topology.EIP{Name: name, AllocationID: n.NewID("eipalloc", name), Addr: a, Pool: pool}
	n.EIPs = append(n.EIPs, e)
	return &types.AllocateAddressResult{AllocationId: ptr(e.AllocationID), CustomerOwnedIp: ptr(a.String()),
		CustomerOwnedIpv4Pool: ptr(pool.Name), NetworkBorderGroup: ptr(pool.BorderGroup), Domain: types.DomainTypeVpc}, nil, true
}

// coipPool is the pool of kind coip named ref, or nil.
func coipPool(n *topology.Network, ref string) *topology.Pool {
	for _, p := range n.Pools {
		if p.Kind == topology.PoolCoIP && p.Name == ref {
			return p
		}
	}
	return nil
}

// associateCoIP associates customer-owned e with private IP priv of eni:
// only in a subnet on an Outpost (COIP-3). It moves with
// AllowReassociation, like an Elastic IP (EIP-2); it is no public IP, so
// the ENI's public IPs stay as they are.
func (d *Service) associateCoIP(e *topology.EIP, eni *topology.ENI, priv netip.Addr, in *types.AssociateAddressRequest) (*types.AssociateAddressResult, error) {
	n := d.net
	if msg := n.CoIPProblem(e, eni); msg != "" {
		return nil, opErr("InvalidParameterCombination", "%s (COIP-3)", msg)
	}
	if e.ENI != nil && !(e.ENI == eni && e.PrivateIP == priv) && !deref(in.AllowReassociation) {
		return nil, opErr("Resource.AlreadyAssociated", "resource %s is already associated with associate-id %s", e.AllocationID, associationID(n, e))
	}
	for _, other := range n.EIPs {
		if other != e && other.IsCoIP() && other.ENI == eni && other.PrivateIP == priv {
			return nil, opErr("Resource.AlreadyAssociated", "private IP %s of %s already has customer-owned address %s", priv, eni.ID, other.Addr)
		}
	}
	e.ENI, e.PrivateIP = eni, priv
	return &types.AssociateAddressResult{AssociationId: ptr(associationID(n, e))}, nil
}

// unbindCoIP disassociates customer-owned e; the ENI's public IPs are not
// its. It reports whether e is a CoIP (and so was handled).
func unbindCoIP(e *topology.EIP) bool {
	if !e.IsCoIP() {
		return false
	}
	e.ENI, e.PrivateIP = nil, netip.Addr{}
	return true
}

// localGatewayRoute is a route to local gateway ref (an id or name), from
// a VPC with a subnet on its Outpost (COIP-2).
func (d *Service) localGatewayRoute(v *topology.VPC, ref string) (*topology.Route, error) {
	g := d.net.LocalGatewayByRef(ref)
	if g == nil {
		return nil, opErr("InvalidLocalGatewayID.NotFound", "The localGateway ID '%s' does not exist", ref)
	}
	for _, s := range v.Subnets {
		if s.OutpostArn == g.OutpostArn {
			return &topology.Route{Kind: topology.TargetLGW, TargetName: g.Name, LGW: g}, nil
		}
	}
	return nil, opErr("InvalidParameterValue", "Local gateway %s is on Outpost %s, where %s has no subnet (COIP-2)", g.ID, g.OutpostArn, v.ID)
}

// subnetOutpost checks CreateSubnet's OutpostArn: an Outpost of the region
// that a local gateway of the network serves (COIP-1).
func (d *Service) subnetOutpost(arn *string) (string, error) {
	if arn == nil {
		return "", nil
	}
	if err := topology.CheckOutpostArn(*arn, d.net.Region); err != nil {
		return "", opErr("InvalidParameterValue", "Value (%s) for parameter outpostArn is invalid: %v", *arn, err)
	}
	for _, g := range d.net.LocalGateways {
		if g.OutpostArn == *arn {
			return *arn, nil
		}
	}
	return "", opErr("InvalidParameterValue", "Value (%s) for parameter outpostArn is invalid: no Outpost of this network has it (local_gateways)", *arn)
}

// coexists reports whether address other stays on a private IP when an
// ordinary Elastic IP is associated there (COIP-6): a customer-owned
// address does. The two are translated by different gateways (the internet
// gateway, the local gateway), and EC2 describes both on one association
// (NetworkInterfaceAssociation has PublicIp and CustomerOwnedIp).
func coexists(other *topology.EIP) bool { return other.IsCoIP() }

// onPremisesConflict refuses a new VPC CIDR c (CreateVpc,
// AssociateVpcCidrBlock) that covers an on-premises host (COIP-4): the
// file would refuse it on the next up.
func (d *Service) onPremisesConflict(c netip.Prefix) error {
	if h := d.net.OnPremIn(c); h != nil {
		return opErr("InvalidVpc.Range", "The CIDR '%s' covers on-premises host %s (%s): the on-premises network must not overlap the VPCs (COIP-4)", c, h.Name, h.IP)
	}
	return nil
}
