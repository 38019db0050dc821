package ec2

import (
	"slices"
	"sync"
	"time"

	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

// VPC peering connections, live (PEER-1 … PEER-3). A connection joins two
// VPCs of this account and region whose CIDRs do not overlap: requested
// (pending-acceptance), then accepted (active) or rejected; an active or
// pending one may be deleted. Only an active one carries traffic, and only
// between the two VPCs' own ENIs (not transitive). A rejected, deleted or
// failed connection leaves the network (and topo.json) at once but stays
// visible to describe for a while, as on AWS; a route through it is a
// blackhole (RT-3).
//
// topo.json holds active connections and, with "status":
// "pending-acceptance", pending ones.

func init() {
	Define("CreateVpcPeeringConnection", Mutating, (*Service).createVpcPeeringConnection)
	Define("AcceptVpcPeeringConnection", Mutating, (*Service).acceptVpcPeeringConnection)
	Define("RejectVpcPeeringConnection", Mutating, (*Service).rejectVpcPeeringConnection)
	Define("DeleteVpcPeeringConnection", Mutating, (*Service).deleteVpcPeeringConnection)
	Define("DescribeVpcPeeringConnections", ReadOnly, (*Service).describeVpcPeeringConnections)
}

// How long a connection that left the network stays visible, as AWS
// documents it: deleted and failed two hours, rejected two days; and how
// long a request waits for acceptance.
const (
	peeringDeletedFor  = 2 * time.Hour
	peeringRejectedFor = 48 * time.Hour
	peeringExpiresIn   = 7 * 24 * time.Hour
	// peeringFailedMessage is EC2's status message for a request between
	// overlapping CIDRs (PEER-1).
	peeringFailedMessage = "Failed due to incorrect VPC-ID, Account ID, or overlapping CIDR range"
)

// peeringBook holds one service's connections that left the network,
// newest last. The service's callers hold the store's lock, which guards
// it.
type peeringBook struct{ gone []gonePeering }

type gonePeering struct {
	pcx   types.VpcPeeringConnection
	until time.Time
}

var peeringBooks sync.Map // *Service → *peeringBook

func (d *Service) peerings() *peeringBook {
	b, _ := peeringBooks.LoadOrStore(d, &peeringBook{})
	return b.(*peeringBook)
}

// keepGone records connection x, now in state code, as describe shows it
// for a while; a dry run records nothing.
func (d *Service) keepGone(x types.VpcPeeringConnection, code types.VpcPeeringConnectionStateReasonCode) {
	if d.dryRunning() {
		return
	}
	x.Status = peeringStatus(d.net, code)
	keep := peeringDeletedFor
	if code == types.VpcPeeringConnectionStateReasonCodeRejected {
		keep = peeringRejectedFor
	}
	b := d.peerings()
	b.gone = slices.DeleteFunc(b.gone, func(g gonePeering) bool { return *g.pcx.VpcPeeringConnectionId == *x.VpcPeeringConnectionId })
	b.gone = append(b.gone, gonePeering{pcx: x, until: time.Now().Add(keep)})
}

// peeringStatus is a state as EC2 words it.
func peeringStatus(n *topology.Network, code types.VpcPeeringConnectionStateReasonCode) *types.VpcPeeringConnectionStateReason {
	msg := map[types.VpcPeeringConnectionStateReasonCode]string{
		types.VpcPeeringConnectionStateReasonCodePendingAcceptance: "Pending Acceptance by " + n.AccountID(),
		types.VpcPeeringConnectionStateReasonCodeActive:            "Active",
		types.VpcPeeringConnectionStateReasonCodeDeleted:           "Deleted by " + n.AccountID(),
		types.VpcPeeringConnectionStateReasonCodeRejected:          "Rejected by " + n.AccountID(),
		types.VpcPeeringConnectionStateReasonCodeFailed:            peeringFailedMessage,
	}[code]
	return &types.VpcPeeringConnectionStateReason{Code: code, Message: ptr(msg)}
}

// peeringVPCInfo is one side of a connection as EC2 describes it, in
// every state (EC2 always returns its CIDR and options).
func peeringVPCInfo(n *topology.Network, v *topology.VPC) *types.VpcPeeringConnectionVpcInfo {
	var set []types.CidrBlock
	for _, c := range v.CIDRs() {
		set = append(set, types.CidrBlock{CidrBlock: ptr(c.String())})
	}
	return &types.VpcPeeringConnectionVpcInfo{CidrBlock: ptr(v.CIDR.String()), CidrBlockSet: set,
		OwnerId: ptr(n.AccountID()), VpcId: ptr(v.ID), Region: ptr(n.Region),
		PeeringOptions: &types.VpcPeeringConnectionOptionsDescription{AllowDnsResolutionFromRemoteVpc: ptr(false),
			AllowEgressFromLocalClassicLinkToRemoteVpc: ptr(false), AllowEgressFromLocalVpcToRemoteClassicLink: ptr(false)}}
}

// peeringOf is live connection p as EC2 describes it.
func (d *Service) peeringOf(p *topology.Peering) types.VpcPeeringConnection {
	code := types.VpcPeeringConnectionStateReasonCode(p.Status)
	exp := created(d.net, p.ID).Add(peeringExpiresIn) // the request's expiry, which EC2 keeps showing
	return types.VpcPeeringConnection{VpcPeeringConnectionId: ptr(p.ID), Status: peeringStatus(d.net, code),
		RequesterVpcInfo: peeringVPCInfo(d.net, p.VPCs[0]), AccepterVpcInfo: peeringVPCInfo(d.net, p.VPCs[1]),
		Tags: d.tagsOf(p.ID, p.Name), ExpirationTime: &exp}
}

// findPeering finds a live connection by id or name.
func (d *Service) findPeering(ref string) (*topology.Peering, error) {
	if ref == "" {
		return nil, opErr("MissingParameter", "The request must contain the parameter vpcPeeringConnectionId")
	}
	for _, p := range d.net.Peerings {
		if p.ID == ref || p.Name == ref {
			return p, nil
		}
	}
	return nil, opErr("InvalidVpcPeeringConnectionID.NotFound", "The vpcPeeringConnection ID '%s' does not exist", ref)
}

// createVpcPeeringConnection requests a connection from VpcId to PeerVpcId
// (PEER-1): pending-acceptance. Between overlapping CIDRs EC2 makes it and
// it fails at once: the answer says failed, the network is unchanged.
func (d *Service) createVpcPeeringConnection(in *types.CreateVpcPeeringConnectionRequest) (*types.CreateVpcPeeringConnectionResult, error) {
	if err := unsupported(in, "VpcId", "PeerVpcId", "PeerOwnerId", "PeerRegion", "TagSpecifications"); err != nil {
		return nil, err
	}
	if o := deref(in.PeerOwnerId); o != "" && o != d.net.AccountID() {
		return nil, opErr("Unsupported", "vpcnet peers VPCs of this account (%s) only, not of account %s (PEER-1)", d.net.AccountID(), o)
	}
	if r := deref(in.PeerRegion); r != "" && r != d.net.Region {
		return nil, opErr("Unsupported", "vpcnet peers VPCs of this region (%s) only, not of %s (PEER-1)", d.net.Region, r)
	}
	a, err := d.findVPC(deref(in.VpcId))
	if err != nil {
		return nil, err
	}
	if deref(in.PeerVpcId) == "" {
		return nil, opErr("MissingParameter", "The request must contain the parameter peerVpcId")
	}
	b, err := d.findVPC(*in.PeerVpcId)
	if err != nil {
		return nil, err
	}
	if a == b {
		return nil, opErr("InvalidParameterValue", "A VPC cannot be peered with itself: %s (PEER-1)", a.ID)
	}
	if p := d.net.PeeringBetween(a, b); p != nil {
		return nil, opErr("VpcPeeringConnectionAlreadyExists", "A VPC peering connection between %s and %s already exists: %s (%s)", a.ID, b.ID, p.ID, p.Status)
	}
	name, err := d.nameFromSpecs(in.TagSpecifications, types.ResourceTypeVpcPeeringConnection, "peering", topology.KindPeering)
	if err != nil {
		return nil, err
	}
	p := &topology.Peering{Name: name, ID: d.net.NewID("pcx", name), VPCs: [2]*topology.VPC{a, b}, Status: topology.PeeringPending}
	if !d.dryRunning() {
		setCreated(p.ID, time.Now())
	}
	if topology.VPCsOverlap(a, b) {
		// PEER-1: it fails; nothing joins the network.
		x := d.peeringOf(p)
		x.Status = peeringStatus(d.net, types.VpcPeeringConnectionStateReasonCodeFailed)
		d.keepGone(x, types.VpcPeeringConnectionStateReasonCodeFailed)
		return &types.CreateVpcPeeringConnectionResult{VpcPeeringConnection: &x}, nil
	}
	d.net.Peerings = append(slices.Clone(d.net.Peerings), p)
	x := d.peeringOf(p)
	return &types.CreateVpcPeeringConnectionResult{VpcPeeringConnection: &x}, nil
}

// acceptVpcPeeringConnection makes a pending connection active: traffic
// flows where routes send it (PEER-1, PEER-2).
func (d *Service) acceptVpcPeeringConnection(in *types.AcceptVpcPeeringConnectionRequest) (*types.AcceptVpcPeeringConnectionResult, error) {
	p, err := d.findPeering(deref(in.VpcPeeringConnectionId))
	if err != nil {
		return nil, err
	}
	if p.Status != topology.PeeringPending {
		return nil, opErr("InvalidStateTransition", "Cannot accept VPC peering connection %s in state %s: it must be pending-acceptance (PEER-1)", p.ID, p.Status)
	}
	p.Status = topology.PeeringActive
	x := d.peeringOf(p)
	return &types.AcceptVpcPeeringConnectionResult{VpcPeeringConnection: &x}, nil
}

// rejectVpcPeeringConnection rejects a pending connection: it leaves the
// network, visible as rejected for a while (PEER-1).
func (d *Service) rejectVpcPeeringConnection(in *types.RejectVpcPeeringConnectionRequest) (*types.RejectVpcPeeringConnectionResult, error) {
	p, err := d.findPeering(in.VpcPeeringConnectionId)
	if err != nil {
		return nil, err
	}
	if p.Status != topology.PeeringPending {
		return nil, opErr("InvalidStateTransition", "Cannot reject VPC peering connection %s in state %s: it must be pending-acceptance (PEER-1)", p.ID, p.Status)
	}
	d.endPeering(p, types.VpcPeeringConnectionStateReasonCodeRejected)
	return &types.RejectVpcPeeringConnectionResult{Return: ptr(true)}, nil
}

// deleteVpcPeeringConnection deletes a pending or active connection:
// traffic through it stops at once and routes through it are blackholes
// (PEER-3, RT-3).
func (d *Service) deleteVpcPeeringConnection(in *types.DeleteVpcPeeringConnectionRequest) (*types.DeleteVpcPeeringConnectionResult, error) {
	p, err := d.findPeering(in.VpcPeeringConnectionId)
	if err != nil {
		return nil, err
	}
	d.endPeering(p, types.VpcPeeringConnectionStateReasonCodeDeleted)
	return &types.DeleteVpcPeeringConnectionResult{Return: ptr(true)}, nil
}

// endPeering takes p out of the network in state code.
func (d *Service) endPeering(p *topology.Peering, code types.VpcPeeringConnectionStateReasonCode) {
	x := d.peeringOf(p)
	d.keepGone(x, code)
	d.net.Peerings = slices.DeleteFunc(slices.Clone(d.net.Peerings), func(q *topology.Peering) bool { return q == p })
	p.Status = topology.PeeringDeleted
}

// --- DescribeVpcPeeringConnections --------------------------------------------

func peerInfo(side func(x *types.VpcPeeringConnection) *types.VpcPeeringConnectionVpcInfo, f func(i *types.VpcPeeringConnectionVpcInfo) *string) func(x *types.VpcPeeringConnection) []string {
	return func(x *types.VpcPeeringConnection) []string {
		if i := side(x); i != nil {
			return one(f(i))
		}
		return nil
	}
}

func accepter(x *types.VpcPeeringConnection) *types.VpcPeeringConnectionVpcInfo {
	return x.AccepterVpcInfo
}
func requester(x *types.VpcPeeringConnection) *types.VpcPeeringConnectionVpcInfo {
	return x.RequesterVpcInfo
}

// peeringFilters are DescribeVpcPeeringConnections' filters.
var peeringFilters = filters[types.VpcPeeringConnection]{
	"accepter-vpc-info.cidr-block":  peerInfo(accepter, func(i *types.VpcPeeringConnectionVpcInfo) *string { return i.CidrBlock }),
	"accepter-vpc-info.owner-id":    peerInfo(accepter, func(i *types.VpcPeeringConnectionVpcInfo) *string { return i.OwnerId }),
	"accepter-vpc-info.vpc-id":      peerInfo(accepter, func(i *types.VpcPeeringConnectionVpcInfo) *string { return i.VpcId }),
	"requester-vpc-info.cidr-block": peerInfo(requester, func(i *types.VpcPeeringConnectionVpcInfo) *string { return i.CidrBlock }),
	"requester-vpc-info.owner-id":   peerInfo(requester, func(i *types.VpcPeeringConnectionVpcInfo) *string { return i.OwnerId }),
	"requester-vpc-info.vpc-id":     peerInfo(requester, func(i *types.VpcPeeringConnectionVpcInfo) *string { return i.VpcId }),
	"expiration-time":               func(x *types.VpcPeeringConnection) []string { return filterTime(x.ExpirationTime) },
	"status-code":                   func(x *types.VpcPeeringConnection) []string { return []string{string(x.Status.Code)} },
	"status-message":                func(x *types.VpcPeeringConnection) []string { return one(x.Status.Message) },
	"vpc-peering-connection-id":     func(x *types.VpcPeeringConnection) []string { return one(x.VpcPeeringConnectionId) },
}

// describeVpcPeeringConnections lists the live connections and those that
// left the network within their time (PEER-1); one whose id a live
// connection has again is left out.
func (d *Service) describeVpcPeeringConnections(in *types.DescribeVpcPeeringConnectionsRequest) (*types.DescribeVpcPeeringConnectionsResult, error) {
	var all []types.VpcPeeringConnection
	live := map[string]bool{}
	for _, p := range d.net.Peerings {
		all = append(all, d.peeringOf(p))
		live[p.ID] = true
	}
	b := d.peerings()
	b.gone = slices.DeleteFunc(b.gone, func(g gonePeering) bool { return time.Now().After(g.until) })
	for _, g := range b.gone {
		if !live[*g.pcx.VpcPeeringConnectionId] {
			all = append(all, g.pcx)
		}
	}
	sortBy(all, func(x *types.VpcPeeringConnection) *string { return x.VpcPeeringConnectionId })
	out, err := byIDs(all, in.VpcPeeringConnectionIds, func(x *types.VpcPeeringConnection) string { return *x.VpcPeeringConnectionId },
		func(id string) error {
			return opErr("InvalidVpcPeeringConnectionID.NotFound", "The vpcPeeringConnection ID '%s' does not exist", id)
		})
	if err != nil {
		return nil, err
	}
	if out, err = selectItems(out, in.Filters, peeringFilters, func(x *types.VpcPeeringConnection) []types.Tag { return x.Tags }); err != nil {
		return nil, err
	}
	out, next, err := page(out, in.MaxResults, in.NextToken, 5, 1000)
	if err != nil {
		return nil, err
	}
	return &types.DescribeVpcPeeringConnectionsResult{VpcPeeringConnections: append([]types.VpcPeeringConnection{}, out...), NextToken: next}, nil
}
