package ec2

import (
	"slices"
	"sync"
	"time"

	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

// NAT gateways created and deleted live (NAT-1, LIFE-3).
//
// States: create-nat-gateway answers pending, as EC2 does; vpcnet's
// gateway is ready when the call returns (the forwarder's tables are swapped
// before the answer goes out), so every describe-nat-gateways after it says
// available and traffic flows at once. delete-nat-gateway likewise finishes
// within the call: its ENI is gone, its EIP free (still allocated), its
// NAT mappings dropped, and describe says deleted (with DeleteTime) for an
// hour, as EC2 keeps a deleted gateway visible. EC2's deleting state is
// passed through inside the call.

func init() {
	Define("CreateNatGateway", Mutating, (*Service).createNatGateway)
	Define("DeleteNatGateway", Mutating, (*Service).deleteNatGateway)
}

// deletedNATFor is how long a deleted NAT gateway stays visible (LIFE-3).
const deletedNATFor = time.Hour

// kindNAT names a NAT gateway for topology.CheckResourceName.
const kindNAT = "NAT gateway"

// createNatGateway makes a public gateway (with an unassociated EIP of the
// region, in a VPC with an internet gateway) or a private one (no EIP) in
// a subnet, with its requester-managed routing ENI (NAT-1, ENI-3, ENI-5).
func (d *Service) createNatGateway(in *types.CreateNatGatewayRequest) (*types.CreateNatGatewayResult, error) {
	if err := unsupported(in, "SubnetId", "AllocationId", "ConnectivityType", "PrivateIpAddress", "TagSpecifications"); err != nil {
		return nil, err
	}
	if in.SubnetId == "" {
		return nil, opErr("MissingParameter", "The request must contain the parameter SubnetId")
	}
	s, err := d.findSubnet(in.SubnetId)
	if err != nil {
		return nil, err
	}
	var eip *topology.EIP
	switch in.ConnectivityType {
	case "", types.ConnectivityTypePublic:
		ref := deref(in.AllocationId)
		if ref == "" {
			return nil, opErr("MissingParameter", "The request must contain the parameter AllocationId: a public NAT gateway needs an Elastic IP (NAT-1)")
		}
		if eip, err = d.findEIP(ref); err != nil {
			return nil, err
		}
		if eip.ENI != nil || eip.NAT != nil {
			return nil, opErr("Resource.AlreadyAssociated", "Elastic IP address [%s] is already associated", eip.AllocationID)
		}
		if eip.Pool != nil && eip.Pool.BorderGroup != d.net.Region {
			return nil, opErr("InvalidParameterCombination", "Elastic IP %s is in network border group %s; the subnet is in region %s (EIP-4)", eip.Addr, eip.Pool.BorderGroup, d.net.Region)
		}
		if s.VPC.IGW == nil {
			return nil, opErr("Gateway.NotAttached", "Network %s has no Internet gateway attached", s.VPC.ID)
		}
	case types.ConnectivityTypePrivate:
		if in.AllocationId != nil {
			return nil, opErr("InvalidParameterCombination", "A private NAT gateway has no Elastic IP: AllocationId cannot be given (NAT-1)")
		}
	default:
		return nil, opErr("InvalidParameterValue", "Value (%s) for parameter ConnectivityType is invalid: give public or private", in.ConnectivityType)
	}
	ip, err := pickIP(s, deref(in.PrivateIpAddress))
	if err != nil {
		return nil, err
	}
	name, err := d.nameFromSpecs(in.TagSpecifications, types.ResourceTypeNatgateway, "nat", kindNAT)
	if err != nil {
		return nil, err
	}
	g := d.net.NewNATGateway(name, s, ip, eip)
	if !d.dryRunning() {
		setCreated(g.ID, time.Now())
	}
	x := natGatewayOf(d.net, g)
	x.State = types.NatGatewayStatePending // EC2's answer; available once it returns (LIFE-3)
	x.Tags = d.tagsOf(g.ID, g.Name)
	return &types.CreateNatGatewayResult{ClientToken: in.ClientToken, NatGateway: &x}, nil
}

// deleteNatGateway removes a gateway: its ENI goes, its EIP is free again
// (still allocated: EIP-1), routes to it become blackholes (RT-3), and the
// forwarder drops its NAT mappings, so the flows through it end and a new
// gateway with the same EIP starts clean.
func (d *Service) deleteNatGateway(in *types.DeleteNatGatewayRequest) (*types.DeleteNatGatewayResult, error) {
	if in.NatGatewayId == "" {
		return nil, opErr("MissingParameter", "The request must contain the parameter NatGatewayId")
	}
	g := d.findNAT(in.NatGatewayId)
	if g == nil {
		return nil, opErr("NatGatewayNotFound", "The Nat Gateway %s was not found", in.NatGatewayId)
	}
	x := natGatewayOf(d.net, g)
	x.Tags = d.tagsOf(g.ID, g.Name)
	d.net.RemoveNATGateway(g)
	// A dry run's copy has a book of its own, thrown away with it.
	now := time.Now().UTC().Truncate(time.Second)
	x.State, x.DeleteTime = types.NatGatewayStateDeleted, &now
	b := d.natBook()
	b.gone = append(slices.DeleteFunc(b.gone, func(y types.NatGateway) bool { return *y.NatGatewayId == g.ID }), x)
	return &types.DeleteNatGatewayResult{NatGatewayId: ptr(g.ID)}, nil
}

// findNAT returns the live NAT gateway of id (or name: vpcnet's extension).
func (d *Service) findNAT(ref string) *topology.NATGateway {
	for _, v := range d.net.VPCs {
		for _, g := range v.NATs {
			if g.ID == ref || g.Name == ref {
				return g
			}
		}
	}
	return nil
}

// natBook holds one service's deleted NAT gateways as describe shows them,
// newest last. The service's callers hold the store's lock, which guards it.
type natBook struct{ gone []types.NatGateway }

var natBooks sync.Map // *Service → *natBook

func (d *Service) natBook() *natBook {
	b, _ := natBooks.LoadOrStore(d, &natBook{})
	return b.(*natBook)
}

// deletedNATs are the gateways deleted within the hour (state deleted,
// LIFE-3); one whose id a live gateway has again (a new one of the same
// name) is left out.
func (d *Service) deletedNATs() []types.NatGateway {
	b := d.natBook()
	b.gone = slices.DeleteFunc(b.gone, func(g types.NatGateway) bool { return time.Since(*g.DeleteTime) > deletedNATFor })
	var out []types.NatGateway
	for _, g := range b.gone {
		if d.findNAT(*g.NatGatewayId) == nil {
			out = append(out, g)
		}
	}
	return out
}
