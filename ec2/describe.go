package ec2

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

// The describe-* operations print the running network in EC2's shapes
// (ec2/types), with EC2's ids, filters and pages (filter.go). Each kind of
// resource has one builder (addressOf, describeENI, describeInstance,
// routeTableOf, subnetOf, securityGroupOf, networkACLOf, natGatewayOf) that
// its describe and the operations answering with the resource share
// (RunInstances, CreateNetworkInterface).
//
// Every answer has each member EC2 always returns, even where vpcnet has
// nothing to say: an empty list ("Ipv6Addresses": []), a fixed value (an
// instance's ImageId, InstanceType, Architecture), a derived id (association
// ids from the ids they join, so that export and load keep them).

func init() {
	Define("DescribeVpcs", ReadOnly, (*Service).describeVpcs)
	Define("DescribeAddresses", ReadOnly, (*Service).describeAddresses)
	Define("DescribeNetworkInterfaces", ReadOnly, (*Service).describeNetworkInterfaces)
	Define("DescribeInstances", ReadOnly, (*Service).describeInstances)
	Define("DescribeRouteTables", ReadOnly, (*Service).describeRouteTables)
	Define("DescribeSubnets", ReadOnly, (*Service).describeSubnets)
	Define("DescribeSecurityGroups", ReadOnly, (*Service).describeSecurityGroups)
	Define("DescribeNetworkAcls", ReadOnly, (*Service).describeNetworkAcls)
	Define("DescribeNatGateways", ReadOnly, (*Service).describeNatGateways)
}

type obj = map[string]any // untyped answers (analyze.go)

// What every instance is, as EC2 describes it: one image of the catalogue,
// one type (QUOTA-2 uses t2.micro's limits), an EBS root volume.
const (
	launchImageID      = "ami-0c9c942bd7bf113a2"
	launchInstanceType = types.InstanceType(topology.DefaultInstanceType)
	rootDeviceName     = "/dev/xvda"
	// amazonOwner owns the auto-assigned public IPs (IpOwnerId).
	amazonOwner = "amazon"
	// serviceOwner owns a NAT gateway's ENI attachment and requested its
	// ENI (ENI-5): AWS's own account alias, as EC2 shows it.
	serviceOwner = "amazon-aws"
)

// --- dates -------------------------------------------------------------------

// dates are the times EC2 shows that the model does not keep: when an
// instance launched (by instance id), a NAT gateway was created (by its id),
// an ENI was attached (by attachment id). The resources a network has when
// vpcnet first shows it date from the daemon's start (they came up with
// it); a resource first seen later dates from then, unless the operation
// that made it recorded its time (setCreated). The table belongs to the
// process, not to one Service: a dry run's copy and a network exported and
// loaded again show the same times, as their ids are the same.
var dates = struct {
	sync.Mutex
	at     map[string]time.Time
	primed map[string]bool // networks (by name) whose first resources are dated
}{at: map[string]time.Time{}, primed: map[string]bool{}}

// started is when the daemon (this process) started.
var started = time.Now().UTC().Truncate(time.Second)

// created returns when resource id of network n was made.
func created(n *topology.Network, id string) *time.Time {
	dates.Lock()
	defer dates.Unlock()
	if !dates.primed[n.Name] {
		dates.primed[n.Name] = true
		for _, v := range n.VPCs {
			for _, i := range v.Instances {
				datedOnce(i.ID, started)
			}
			for _, e := range v.ENIs {
				if e.Instance != nil {
					datedOnce(attachmentID(n, e), started)
				}
			}
			for _, g := range v.NATs {
				datedOnce(g.ID, started)
			}
		}
	}
	datedOnce(id, time.Now().UTC().Truncate(time.Second))
	t := dates.at[id]
	return &t
}

// datedOnce dates id at t unless it has a date. The caller holds dates.
func datedOnce(id string, t time.Time) {
	if _, ok := dates.at[id]; !ok {
		dates.at[id] = t
	}
}

// setCreated records that resource id was made at t: run-instances (the
// launch), attach-network-interface (the attachment) and
// create-nat-gateway should call it, so that a resource made again under
// the same name (and so the same id) does not keep the first one's time.
func setCreated(id string, t time.Time) {
	dates.Lock()
	defer dates.Unlock()
	dates.at[id] = t.UTC().Truncate(time.Second)
}

// filterTime is how EC2's filters write a time (launch-time, attach-time).
func filterTime(t *time.Time) []string {
	if t == nil {
		return nil
	}
	return []string{t.UTC().Format("2006-01-02T15:04:05.000Z")}
}

// --- names EC2 derives ----------------------------------------------------------

// privateDNSName and publicDNSName (DNS-1, DNS-2) are in lookup.go.

// zoneID is the id of availability zone az of region, as EC2 names zones
// (ap-northeast-2a → apne2-az1, us-east-1b → use1-az2), or nil for a zone
// not named region plus one letter.
func zoneID(region, az string) *string {
	letter, ok := strings.CutPrefix(az, region)
	if !ok || len(letter) != 1 || letter[0] < 'a' || letter[0] > 'z' {
		return nil
	}
	short := map[string]string{"north": "n", "south": "s", "east": "e", "west": "w", "central": "c",
		"northeast": "ne", "northwest": "nw", "southeast": "se", "southwest": "sw"}
	parts := strings.Split(region, "-")
	code := parts[0]
	for _, p := range parts[1:] {
		switch {
		case short[p] != "":
			code += short[p]
		case p != "" && p[0] >= '0' && p[0] <= '9':
			code += p
		case p != "":
			code += p[:1]
		}
	}
	return ptr(fmt.Sprintf("%s-az%d", code, letter[0]-'a'+1))
}

// routeTableAssociationID is the id of the association of table t with
// subnet s (nil: t's main association).
func routeTableAssociationID(n *topology.Network, t *topology.RouteTable, s *topology.Subnet) string {
	if s == nil {
		return n.NewID("rtbassoc", t.ID+"/main")
	}
	return n.NewID("rtbassoc", t.ID+"/"+s.ID)
}

// networkACLAssociationID is the id of the association of NACL a with
// subnet s (NACL-5: one per subnet).
func networkACLAssociationID(n *topology.Network, a *topology.NACL, s *topology.Subnet) string {
	return n.NewID("aclassoc", a.ID+"/"+s.ID)
}

// eipAt returns the Elastic IP whose address is a, or nil.
func eipAt(n *topology.Network, a netip.Addr) *topology.EIP {
	for _, e := range n.EIPs {
		if e.Addr == a {
			return e
		}
	}
	return nil
}

// one is a filter's value list for an optional member.
func one[T ~string](p *T) []string {
	if p == nil {
		return nil
	}
	return []string{string(*p)}
}

func oneBool(p *bool) []string {
	if p == nil {
		return nil
	}
	return []string{boolString(*p)}
}

func oneInt(p *int32) []string {
	if p == nil {
		return nil
	}
	return []string{strconv.Itoa(int(*p))}
}

// each collects a filter's values over a list.
func each[T any](l []T, f func(x *T) []string) []string {
	var out []string
	for i := range l {
		out = append(out, f(&l[i])...)
	}
	return out
}

// sortBy orders a describe's items by their id, so that the answer does not
// depend on the order the resources were made in.
func sortBy[T any](l []T, id func(x *T) *string) {
	slices.SortStableFunc(l, func(a, b T) int { return strings.Compare(deref(id(&a)), deref(id(&b))) })
}

// --- DescribeVpcs --------------------------------------------------------------

// vpcFilters are DescribeVpcs' filters.
var vpcFilters = filters[types.Vpc]{
	"vpc-id":                            func(v *types.Vpc) []string { return []string{deref(v.VpcId)} },
	"cidr":                              func(v *types.Vpc) []string { return []string{deref(v.CidrBlock)} },
	"cidr-block":                        func(v *types.Vpc) []string { return []string{deref(v.CidrBlock)} },
	"cidr-block-association.cidr-block": vpcCIDRs(func(a *types.VpcCidrBlockAssociation) []string { return one(a.CidrBlock) }),
	"cidr-block-association.association-id": vpcCIDRs(func(a *types.VpcCidrBlockAssociation) []string {
		return one(a.AssociationId)
	}),
	"cidr-block-association.state": vpcCIDRs(func(a *types.VpcCidrBlockAssociation) []string {
		return []string{string(a.CidrBlockState.State)}
	}),
	"state":           func(v *types.Vpc) []string { return []string{string(v.State)} },
	"is-default":      func(v *types.Vpc) []string { return []string{boolString(deref(v.IsDefault))} },
	"owner-id":        func(v *types.Vpc) []string { return []string{deref(v.OwnerId)} },
	"dhcp-options-id": func(v *types.Vpc) []string { return []string{deref(v.DhcpOptionsId)} },
}

func vpcCIDRs(f func(a *types.VpcCidrBlockAssociation) []string) func(v *types.Vpc) []string {
	return func(v *types.Vpc) []string { return each(v.CidrBlockAssociationSet, f) }
}

// vpcOf is VPC v as EC2 describes it: its primary CIDR, and every CIDR
// with its association (ADDR-1; vpcs.go).
func vpcOf(n *topology.Network, v *topology.VPC) types.Vpc {
	x := types.Vpc{VpcId: ptr(v.ID), CidrBlock: ptr(v.CIDR.String()), State: types.VpcStateAvailable,
		OwnerId: ptr(n.AccountID()), InstanceTenancy: types.TenancyDefault, IsDefault: ptr(false),
		DhcpOptionsId: ptr(dhcpOptionsID(v)), CidrBlockAssociationSet: []types.VpcCidrBlockAssociation{}, Tags: nameTags(v.Name),
		Ipv6CidrBlockAssociationSet: []types.VpcIpv6CidrBlockAssociation{}}
	for _, c := range v.CIDRs() {
		x.CidrBlockAssociationSet = append(x.CidrBlockAssociationSet, types.VpcCidrBlockAssociation{
			AssociationId: ptr(vpcCIDRAssociationID(n, v, c)), CidrBlock: ptr(c.String()),
			CidrBlockState: &types.VpcCidrBlockState{State: types.VpcCidrBlockStateCodeAssociated}})
	}
	return x
}

func (d *Service) describeVpcs(in *types.DescribeVpcsRequest) (*types.DescribeVpcsResult, error) {
	var all []types.Vpc
	for _, v := range d.net.VPCs {
		x := vpcOf(d.net, v)
		x.Tags = d.tagsOf(v.ID, v.Name)
		all = append(all, x)
	}
	slices.SortFunc(all, func(a, b types.Vpc) int { return strings.Compare(*a.VpcId, *b.VpcId) })
	vpcs, err := byIDs(all, in.VpcIds, func(v *types.Vpc) string { return *v.VpcId },
		func(id string) error { return opErr("InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", id) })
	if err != nil {
		return nil, err
	}
	if vpcs, err = selectItems(vpcs, in.Filters, vpcFilters, func(v *types.Vpc) []types.Tag { return v.Tags }); err != nil {
		return nil, err
	}
	vpcs, next, err := page(vpcs, in.MaxResults, in.NextToken, 5, 1000)
	if err != nil {
		return nil, err
	}
	return &types.DescribeVpcsResult{Vpcs: append([]types.Vpc{}, vpcs...), NextToken: next}, nil
}

// --- DescribeAddresses (EIP-1, EIP-2) ----------------------------------------------

// addressOf is Elastic IP e as EC2 describes it.
func addressOf(n *topology.Network, e *topology.EIP) types.Address {
	a := types.Address{PublicIp: ptr(e.Addr.String()), AllocationId: ptr(e.AllocationID), Domain: types.DomainTypeVpc,
		Tags: nameTags(e.Name)}
	if p := e.Pool; p != nil {
		a.PublicIpv4Pool, a.NetworkBorderGroup = ptr(p.Name), ptr(p.BorderGroup)
		if e.IsCoIP() { // ADDR-5, COIP-3: a customer-owned address is no public IP
			a.CustomerOwnedIp, a.CustomerOwnedIpv4Pool = ptr(e.Addr.String()), ptr(p.Name)
			a.PublicIp, a.PublicIpv4Pool = nil, nil
		}
	}
	if e.ENI != nil {
		a.AssociationId = ptr(associationID(n, e))
		a.NetworkInterfaceId = ptr(e.ENI.ID)
		a.NetworkInterfaceOwnerId = ptr(n.AccountID())
		a.PrivateIpAddress = ptr(e.PrivateIP.String())
		if e.ENI.Instance != nil {
			a.InstanceId = ptr(e.ENI.Instance.ID)
		}
	}
	return a
}

// addressFilters are DescribeAddresses' filters.
var addressFilters = filters[types.Address]{
	"allocation-id":              func(a *types.Address) []string { return one(a.AllocationId) },
	"association-id":             func(a *types.Address) []string { return one(a.AssociationId) },
	"domain":                     func(a *types.Address) []string { return []string{string(a.Domain)} },
	"instance-id":                func(a *types.Address) []string { return one(a.InstanceId) },
	"network-border-group":       func(a *types.Address) []string { return one(a.NetworkBorderGroup) },
	"network-interface-id":       func(a *types.Address) []string { return one(a.NetworkInterfaceId) },
	"network-interface-owner-id": func(a *types.Address) []string { return one(a.NetworkInterfaceOwnerId) },
	"private-ip-address":         func(a *types.Address) []string { return one(a.PrivateIpAddress) },
	"public-ip":                  func(a *types.Address) []string { return one(a.PublicIp) },
	"public-ipv4-pool":           func(a *types.Address) []string { return one(a.PublicIpv4Pool) },
}

func (d *Service) describeAddresses(in *types.DescribeAddressesRequest) (*types.DescribeAddressesResult, error) {
	var all []types.Address
	for _, e := range d.net.EIPs {
		a := addressOf(d.net, e)
		a.Tags = d.tagsOf(e.AllocationID, e.Name) // with the account's tags (tags.go)
		all = append(all, a)
	}
	sortBy(all, func(a *types.Address) *string { return a.AllocationId })
	out, err := byIDs(all, in.AllocationIds, func(a *types.Address) string { return *a.AllocationId },
		func(id string) error {
			return opErr("InvalidAllocationID.NotFound", "The allocation ID '%s' does not exist", id)
		})
	if err != nil {
		return nil, err
	}
	if out, err = byIDs(out, in.PublicIps, func(a *types.Address) string { return deref(a.PublicIp) },
		func(ip string) error { return opErr("InvalidAddress.NotFound", "Address '%s' not found.", ip) }); err != nil {
		return nil, err
	}
	if out, err = selectItems(out, in.Filters, addressFilters, func(a *types.Address) []types.Tag { return a.Tags }); err != nil {
		return nil, err
	}
	return &types.DescribeAddressesResult{Addresses: append([]types.Address{}, out...)}, nil
}

// --- DescribeNetworkInterfaces (ENI-1..ENI-7) -------------------------------------------

// publicOf is the association of private IP ip of e with its public IP
// (auto-assigned, or an EIP: EIP-2), or nil.
func publicOf(n *topology.Network, e *topology.ENI, ip netip.Addr) *types.NetworkInterfaceAssociation {
	pub, ok := e.PublicIPs[ip]
	if !ok {
		return nil
	}
	a := &types.NetworkInterfaceAssociation{IpOwnerId: ptr(amazonOwner), PublicIp: ptr(pub.String()),
		PublicDnsName: ptr(vpcPublicDNSName(e.Subnet.VPC, n.Region, pub))} // DNS-2: vpcs.go
	if x := eipAt(n, pub); x != nil {
		a.IpOwnerId, a.AllocationId = ptr(n.AccountID()), ptr(x.AllocationID)
		if x.ENI != nil {
			a.AssociationId = ptr(associationID(n, x))
		}
	}
	return a
}

// describeENI is ENI e as EC2 describes it (ENI-7). A NAT gateway's ENI is
// requester-managed, of type natGateway, attached by the service
// (ENI-3, ENI-5).
func describeENI(n *topology.Network, e *topology.ENI) types.NetworkInterface {
	region, owner := n.Region, n.AccountID()
	groups := []types.GroupIdentifier{}
	for _, g := range e.Groups {
		groups = append(groups, types.GroupIdentifier{GroupId: ptr(g.ID), GroupName: ptr(g.Name)})
	}
	ips := []types.NetworkInterfacePrivateIpAddress{}
	for k, ip := range e.IPs() {
		ips = append(ips, types.NetworkInterfacePrivateIpAddress{Association: publicOf(n, e, ip), Primary: ptr(k == 0),
			PrivateDnsName: ptr(privateDNSName(region, ip)), PrivateIpAddress: ptr(ip.String())})
	}
	o := types.NetworkInterface{
		Association:        publicOf(n, e, e.PrimaryIP), // EC2 repeats the primary IP's association at the top
		AvailabilityZone:   ptr(e.Subnet.AZ),
		Description:        ptr(e.Description),
		Groups:             groups,
		InterfaceType:      types.NetworkInterfaceTypeInterface,
		Ipv6Addresses:      []types.NetworkInterfaceIpv6Address{},
		MacAddress:         ptr(e.MAC.String()),
		NetworkInterfaceId: ptr(e.ID),
		OwnerId:            ptr(owner),
		PrivateDnsName:     ptr(privateDNSName(region, e.PrimaryIP)),
		PrivateIpAddress:   ptr(e.PrimaryIP.String()),
		PrivateIpAddresses: ips,
		RequesterManaged:   ptr(e.RequesterManaged),
		SourceDestCheck:    ptr(e.SourceDestCheck),
		Status:             types.NetworkInterfaceStatusAvailable,
		SubnetId:           ptr(e.Subnet.ID),
		TagSet:             nameTags(e.Name),
		VpcId:              ptr(e.Subnet.VPC.ID),
	}
	switch {
	case e.Instance != nil:
		id := attachmentID(n, e)
		at := created(n, id)
		if e.DeviceIndex == 0 { // eth0 came with the instance (ENI-6)
			at = created(n, e.Instance.ID)
		}
		o.Status = types.NetworkInterfaceStatusInUse
		o.Attachment = &types.NetworkInterfaceAttachment{AttachTime: at, AttachmentId: ptr(id),
			DeleteOnTermination: ptr(e.DeleteOnTermination), DeviceIndex: ptr(int32(e.DeviceIndex)), NetworkCardIndex: ptr(int32(0)),
			InstanceId: ptr(e.Instance.ID), InstanceOwnerId: ptr(owner), Status: types.AttachmentStatusAttached}
	case e.NAT != nil:
		o.Status = types.NetworkInterfaceStatusInUse
		o.InterfaceType = types.NetworkInterfaceTypeNatGateway
		o.RequesterId = ptr(serviceOwner)
		o.Attachment = &types.NetworkInterfaceAttachment{AttachTime: created(n, e.NAT.ID), AttachmentId: ptr(n.NewID("ela-attach", e.NAT.ID)),
			DeleteOnTermination: ptr(false), DeviceIndex: ptr(int32(1)), NetworkCardIndex: ptr(int32(0)),
			InstanceOwnerId: ptr(serviceOwner), Status: types.AttachmentStatusAttached}
	}
	return o
}

// eniFilters are DescribeNetworkInterfaces' filters.
var eniFilters = filters[types.NetworkInterface]{
	"addresses.private-ip-address": func(e *types.NetworkInterface) []string {
		return each(e.PrivateIpAddresses, func(p *types.NetworkInterfacePrivateIpAddress) []string { return one(p.PrivateIpAddress) })
	},
	"addresses.primary": func(e *types.NetworkInterface) []string {
		return each(e.PrivateIpAddresses, func(p *types.NetworkInterfacePrivateIpAddress) []string { return oneBool(p.Primary) })
	},
	"addresses.association.public-ip": func(e *types.NetworkInterface) []string {
		return each(e.PrivateIpAddresses, func(p *types.NetworkInterfacePrivateIpAddress) []string {
			if p.Association == nil {
				return nil
			}
			return one(p.Association.PublicIp)
		})
	},
	"addresses.association.owner-id": func(e *types.NetworkInterface) []string {
		return each(e.PrivateIpAddresses, func(p *types.NetworkInterfacePrivateIpAddress) []string {
			if p.Association == nil {
				return nil
			}
			return one(p.Association.IpOwnerId)
		})
	},
	"association.association-id":  eniAssociation(func(a *types.NetworkInterfaceAssociation) *string { return a.AssociationId }),
	"association.allocation-id":   eniAssociation(func(a *types.NetworkInterfaceAssociation) *string { return a.AllocationId }),
	"association.ip-owner-id":     eniAssociation(func(a *types.NetworkInterfaceAssociation) *string { return a.IpOwnerId }),
	"association.public-ip":       eniAssociation(func(a *types.NetworkInterfaceAssociation) *string { return a.PublicIp }),
	"association.public-dns-name": eniAssociation(func(a *types.NetworkInterfaceAssociation) *string { return a.PublicDnsName }),
	"attachment.attachment-id":    eniAttachment(func(a *types.NetworkInterfaceAttachment) []string { return one(a.AttachmentId) }),
	"attachment.attach-time":      eniAttachment(func(a *types.NetworkInterfaceAttachment) []string { return filterTime(a.AttachTime) }),
	"attachment.delete-on-termination": eniAttachment(func(a *types.NetworkInterfaceAttachment) []string {
		return oneBool(a.DeleteOnTermination)
	}),
	"attachment.device-index":       eniAttachment(func(a *types.NetworkInterfaceAttachment) []string { return oneInt(a.DeviceIndex) }),
	"attachment.instance-id":        eniAttachment(func(a *types.NetworkInterfaceAttachment) []string { return one(a.InstanceId) }),
	"attachment.instance-owner-id":  eniAttachment(func(a *types.NetworkInterfaceAttachment) []string { return one(a.InstanceOwnerId) }),
	"attachment.status":             eniAttachment(func(a *types.NetworkInterfaceAttachment) []string { return []string{string(a.Status)} }),
	"availability-zone":             func(e *types.NetworkInterface) []string { return one(e.AvailabilityZone) },
	"description":                   func(e *types.NetworkInterface) []string { return one(e.Description) },
	"group-id":                      func(e *types.NetworkInterface) []string { return groupIDs(e.Groups) },
	"group-name":                    func(e *types.NetworkInterface) []string { return groupNames(e.Groups) },
	"ipv6-addresses.ipv6-address":   func(e *types.NetworkInterface) []string { return nil }, // IPv4 only
	"interface-type":                func(e *types.NetworkInterface) []string { return []string{string(e.InterfaceType)} },
	"mac-address":                   func(e *types.NetworkInterface) []string { return one(e.MacAddress) },
	"network-interface-id":          func(e *types.NetworkInterface) []string { return one(e.NetworkInterfaceId) },
	"owner-id":                      func(e *types.NetworkInterface) []string { return one(e.OwnerId) },
	"private-ip-address":            func(e *types.NetworkInterface) []string { return one(e.PrivateIpAddress) },
	"private-dns-name":              func(e *types.NetworkInterface) []string { return one(e.PrivateDnsName) },
	"requester-id":                  func(e *types.NetworkInterface) []string { return one(e.RequesterId) },
	"requester-managed":             func(e *types.NetworkInterface) []string { return oneBool(e.RequesterManaged) },
	"source-dest-check":             func(e *types.NetworkInterface) []string { return oneBool(e.SourceDestCheck) },
	"status":                        func(e *types.NetworkInterface) []string { return []string{string(e.Status)} },
	"subnet-id":                     func(e *types.NetworkInterface) []string { return one(e.SubnetId) },
	"vpc-id":                        func(e *types.NetworkInterface) []string { return one(e.VpcId) },
	"network-interface-owner-id":    func(e *types.NetworkInterface) []string { return one(e.OwnerId) },
	"association.carrier-ip":        func(e *types.NetworkInterface) []string { return nil },
	"association.customer-owned-ip": func(e *types.NetworkInterface) []string { return nil },
}

func eniAssociation(f func(a *types.NetworkInterfaceAssociation) *string) func(e *types.NetworkInterface) []string {
	return func(e *types.NetworkInterface) []string {
		if e.Association == nil {
			return nil
		}
		return one(f(e.Association))
	}
}

func eniAttachment(f func(a *types.NetworkInterfaceAttachment) []string) func(e *types.NetworkInterface) []string {
	return func(e *types.NetworkInterface) []string {
		if e.Attachment == nil {
			return nil
		}
		return f(e.Attachment)
	}
}

func groupIDs(l []types.GroupIdentifier) []string {
	return each(l, func(g *types.GroupIdentifier) []string { return one(g.GroupId) })
}

func groupNames(l []types.GroupIdentifier) []string {
	return each(l, func(g *types.GroupIdentifier) []string { return one(g.GroupName) })
}

func (d *Service) describeNetworkInterfaces(in *types.DescribeNetworkInterfacesRequest) (*types.DescribeNetworkInterfacesResult, error) {
	if len(in.NetworkInterfaceIds) > 0 && in.MaxResults != nil {
		return nil, opErr("InvalidParameterCombination", "The parameter networkInterfaceIdSet cannot be used with the parameter maxResults")
	}
	var all []types.NetworkInterface
	for _, v := range d.net.VPCs {
		for _, e := range v.ENIs {
			x := describeENI(d.net, e)
			x.TagSet = d.tagsOf(e.ID, e.Name)
			all = append(all, x)
		}
	}
	sortBy(all, func(e *types.NetworkInterface) *string { return e.NetworkInterfaceId })
	out, err := byIDs(all, in.NetworkInterfaceIds, func(e *types.NetworkInterface) string { return *e.NetworkInterfaceId },
		func(id string) error {
			return opErr("InvalidNetworkInterfaceID.NotFound", "The networkInterface ID '%s' does not exist", id)
		})
	if err != nil {
		return nil, err
	}
	if out, err = selectItems(out, in.Filters, eniFilters, func(e *types.NetworkInterface) []types.Tag { return e.TagSet }); err != nil {
		return nil, err
	}
	out, next, err := page(out, in.MaxResults, in.NextToken, 5, 1000)
	if err != nil {
		return nil, err
	}
	return &types.DescribeNetworkInterfacesResult{NetworkInterfaces: append([]types.NetworkInterface{}, out...), NextToken: next}, nil
}

// --- DescribeInstances (INST-1..INST-3) -----------------------------------------------

// stateCodes are EC2's codes of the instance states (LIFE-3).
var stateCodes = map[types.InstanceStateName]int32{
	types.InstanceStateNamePending: 0, types.InstanceStateNameRunning: 16, types.InstanceStateNameShuttingDown: 32,
	types.InstanceStateNameTerminated: 48, types.InstanceStateNameStopping: 64, types.InstanceStateNameStopped: 80,
}

// instanceENI is an instance's network interface as describe-instances
// nests it: the ENI's own description, less what EC2 leaves out there
// (AvailabilityZone, the attachment's InstanceId, tags …).
func instanceENI(e types.NetworkInterface) types.InstanceNetworkInterface {
	assoc := func(a *types.NetworkInterfaceAssociation) *types.InstanceNetworkInterfaceAssociation {
		if a == nil {
			return nil
		}
		return &types.InstanceNetworkInterfaceAssociation{IpOwnerId: a.IpOwnerId, PublicDnsName: a.PublicDnsName, PublicIp: a.PublicIp,
			CarrierIp: a.CarrierIp, CustomerOwnedIp: a.CustomerOwnedIp}
	}
	ips := []types.InstancePrivateIpAddress{}
	for _, p := range e.PrivateIpAddresses {
		ips = append(ips, types.InstancePrivateIpAddress{Association: assoc(p.Association), Primary: p.Primary,
			PrivateDnsName: p.PrivateDnsName, PrivateIpAddress: p.PrivateIpAddress})
	}
	o := types.InstanceNetworkInterface{Association: assoc(e.Association), Description: e.Description, Groups: e.Groups,
		Ipv6Addresses: []types.InstanceIpv6Address{}, MacAddress: e.MacAddress, NetworkInterfaceId: e.NetworkInterfaceId,
		OwnerId: e.OwnerId, PrivateDnsName: e.PrivateDnsName, PrivateIpAddress: e.PrivateIpAddress, PrivateIpAddresses: ips,
		SourceDestCheck: e.SourceDestCheck, Status: e.Status, SubnetId: e.SubnetId, VpcId: e.VpcId,
		InterfaceType: ptr(string(e.InterfaceType))}
	if a := e.Attachment; a != nil {
		o.Attachment = &types.InstanceNetworkInterfaceAttachment{AttachTime: a.AttachTime, AttachmentId: a.AttachmentId,
			DeleteOnTermination: a.DeleteOnTermination, DeviceIndex: a.DeviceIndex, Status: a.Status, NetworkCardIndex: a.NetworkCardIndex}
	}
	return o
}

// describeInstance is instance i as EC2 describes it. Its LaunchTime is
// the daemon's start, or when vpcnet first showed it, unless run-instances
// recorded the launch (dates).
func describeInstance(n *topology.Network, i *topology.Instance) types.Instance {
	e := i.Primary()
	region := n.Region
	launch := created(n, i.ID)
	state := types.InstanceStateName(InstanceState(i))
	enis := []types.InstanceNetworkInterface{}
	for _, x := range i.ENIs {
		enis = append(enis, instanceENI(describeENI(n, x)))
	}
	groups := []types.GroupIdentifier{}
	for _, g := range e.Groups {
		groups = append(groups, types.GroupIdentifier{GroupId: ptr(g.ID), GroupName: ptr(g.Name)})
	}
	o := types.Instance{
		AmiLaunchIndex:        ptr(int32(0)),
		ImageId:               ptr(launchImageID),
		InstanceId:            ptr(i.ID),
		InstanceType:          types.InstanceType(i.TypeName()), // QUOTA-2
		LaunchTime:            launch,
		Monitoring:            &types.Monitoring{State: types.MonitoringStateDisabled},
		Placement:             &types.Placement{AvailabilityZone: ptr(i.Subnet.AZ), GroupName: ptr(""), Tenancy: types.TenancyDefault},
		PrivateDnsName:        ptr(privateDNSName(region, e.PrimaryIP)),
		PrivateIpAddress:      ptr(e.PrimaryIP.String()),
		ProductCodes:          []types.ProductCode{},
		PublicDnsName:         ptr(""),
		State:                 &types.InstanceState{Code: ptr(stateCodes[state]), Name: state},
		StateTransitionReason: ptr(""),
		SubnetId:              ptr(i.Subnet.ID),
		VpcId:                 ptr(i.VPC.ID),
		Architecture:          types.ArchitectureValuesX8664,
		BlockDeviceMappings: []types.InstanceBlockDeviceMapping{{DeviceName: ptr(rootDeviceName),
			Ebs: &types.EbsInstanceBlockDevice{AttachTime: launch, DeleteOnTermination: ptr(true),
				Status: types.AttachmentStatusAttached, VolumeId: ptr(n.NewID("vol", i.ID))}}},
		ClientToken:        ptr(""),
		EbsOptimized:       ptr(false),
		EnaSupport:         ptr(true),
		Hypervisor:         types.HypervisorTypeXen,
		NetworkInterfaces:  enis,
		RootDeviceName:     ptr(rootDeviceName),
		RootDeviceType:     types.DeviceTypeEbs,
		SecurityGroups:     groups,
		SourceDestCheck:    ptr(e.SourceDestCheck), // ENI-4: eth0's
		Tags:               nameTags(i.Name),
		VirtualizationType: types.VirtualizationTypeHvm,
		CpuOptions:         &types.CpuOptions{CoreCount: ptr(int32(1)), ThreadsPerCore: ptr(int32(1))},
		CapacityReservationSpecification: &types.CapacityReservationSpecificationResponse{
			CapacityReservationPreference: types.CapacityReservationPreferenceOpen},
		HibernationOptions: &types.HibernationOptions{Configured: ptr(false)},
		MetadataOptions: &types.InstanceMetadataOptionsResponse{State: types.InstanceMetadataOptionsStateApplied,
			HttpTokens: httpTokens(i), HttpPutResponseHopLimit: ptr(int32(1)),
			HttpEndpoint: types.InstanceMetadataEndpointStateEnabled, HttpProtocolIpv6: types.InstanceMetadataProtocolStateDisabled,
			InstanceMetadataTags: types.InstanceMetadataTagsStateDisabled},
		EnclaveOptions:           &types.EnclaveOptions{Enabled: ptr(false)},
		PlatformDetails:          ptr("Linux/UNIX"),
		UsageOperation:           ptr("RunInstances"),
		UsageOperationUpdateTime: launch,
		PrivateDnsNameOptions: &types.PrivateDnsNameOptionsResponse{HostnameType: types.HostnameTypeIpName,
			EnableResourceNameDnsARecord: ptr(false), EnableResourceNameDnsAAAARecord: ptr(false)},
		MaintenanceOptions: &types.InstanceMaintenanceOptions{AutoRecovery: types.InstanceAutoRecoveryStateDefault},
	}
	if pub, ok := e.PublicIPs[e.PrimaryIP]; ok {
		o.PublicIpAddress, o.PublicDnsName = ptr(pub.String()), ptr(vpcPublicDNSName(i.VPC, region, pub)) // DNS-2: vpcs.go
	}
	if state == types.InstanceStateNameStopped { // INST-2
		o.StateTransitionReason = ptr("User initiated")
		o.StateReason = &types.StateReason{Code: ptr("Client.UserInitiatedShutdown"),
			Message: ptr("Client.UserInitiatedShutdown: User initiated shutdown")}
	}
	return o
}

// instanceFilters are DescribeInstances' filters, over a reservation of one
// instance.
var instanceFilters = filters[types.Reservation]{
	"architecture":      onInstance(func(i *types.Instance) []string { return []string{string(i.Architecture)} }),
	"availability-zone": onInstance(func(i *types.Instance) []string { return one(i.Placement.AvailabilityZone) }),
	"block-device-mapping.attach-time": onInstance(func(i *types.Instance) []string {
		return each(i.BlockDeviceMappings, func(b *types.InstanceBlockDeviceMapping) []string { return filterTime(b.Ebs.AttachTime) })
	}),
	"block-device-mapping.delete-on-termination": onInstance(func(i *types.Instance) []string {
		return each(i.BlockDeviceMappings, func(b *types.InstanceBlockDeviceMapping) []string { return oneBool(b.Ebs.DeleteOnTermination) })
	}),
	"block-device-mapping.device-name": onInstance(func(i *types.Instance) []string {
		return each(i.BlockDeviceMappings, func(b *types.InstanceBlockDeviceMapping) []string { return one(b.DeviceName) })
	}),
	"block-device-mapping.status": onInstance(func(i *types.Instance) []string {
		return each(i.BlockDeviceMappings, func(b *types.InstanceBlockDeviceMapping) []string { return []string{string(b.Ebs.Status)} })
	}),
	"block-device-mapping.volume-id": onInstance(func(i *types.Instance) []string {
		return each(i.BlockDeviceMappings, func(b *types.InstanceBlockDeviceMapping) []string { return one(b.Ebs.VolumeId) })
	}),
	"client-token":        onInstance(func(i *types.Instance) []string { return one(i.ClientToken) }),
	"dns-name":            onInstance(func(i *types.Instance) []string { return one(i.PublicDnsName) }),
	"group-id":            onInstance(func(i *types.Instance) []string { return groupIDs(i.SecurityGroups) }),
	"group-name":          onInstance(func(i *types.Instance) []string { return groupNames(i.SecurityGroups) }),
	"instance.group-id":   onInstance(func(i *types.Instance) []string { return groupIDs(i.SecurityGroups) }),
	"instance.group-name": onInstance(func(i *types.Instance) []string { return groupNames(i.SecurityGroups) }),
	"hibernation-options.configured": onInstance(func(i *types.Instance) []string {
		return oneBool(i.HibernationOptions.Configured)
	}),
	"hypervisor":          onInstance(func(i *types.Instance) []string { return []string{string(i.Hypervisor)} }),
	"image-id":            onInstance(func(i *types.Instance) []string { return one(i.ImageId) }),
	"instance-id":         onInstance(func(i *types.Instance) []string { return one(i.InstanceId) }),
	"instance-state-code": onInstance(func(i *types.Instance) []string { return oneInt(i.State.Code) }),
	"instance-state-name": onInstance(func(i *types.Instance) []string { return []string{string(i.State.Name)} }),
	"instance-type":       onInstance(func(i *types.Instance) []string { return []string{string(i.InstanceType)} }),
	"ip-address":          onInstance(func(i *types.Instance) []string { return one(i.PublicIpAddress) }),
	"key-name":            onInstance(func(i *types.Instance) []string { return one(i.KeyName) }),
	"launch-index":        onInstance(func(i *types.Instance) []string { return oneInt(i.AmiLaunchIndex) }),
	"launch-time":         onInstance(func(i *types.Instance) []string { return filterTime(i.LaunchTime) }),
	"metadata-options.http-tokens": onInstance(func(i *types.Instance) []string {
		return []string{string(i.MetadataOptions.HttpTokens)}
	}),
	"metadata-options.http-put-response-hop-limit": onInstance(func(i *types.Instance) []string {
		return oneInt(i.MetadataOptions.HttpPutResponseHopLimit)
	}),
	"metadata-options.http-endpoint": onInstance(func(i *types.Instance) []string {
		return []string{string(i.MetadataOptions.HttpEndpoint)}
	}),
	"monitoring-state": onInstance(func(i *types.Instance) []string { return []string{string(i.Monitoring.State)} }),
	"network-interface.addresses.private-ip-address": onENIs(func(e *types.InstanceNetworkInterface) []string {
		return each(e.PrivateIpAddresses, func(p *types.InstancePrivateIpAddress) []string { return one(p.PrivateIpAddress) })
	}),
	"network-interface.addresses.primary": onENIs(func(e *types.InstanceNetworkInterface) []string {
		return each(e.PrivateIpAddresses, func(p *types.InstancePrivateIpAddress) []string { return oneBool(p.Primary) })
	}),
	"network-interface.addresses.association.public-ip": onENIs(func(e *types.InstanceNetworkInterface) []string {
		return each(e.PrivateIpAddresses, func(p *types.InstancePrivateIpAddress) []string {
			if p.Association == nil {
				return nil
			}
			return one(p.Association.PublicIp)
		})
	}),
	"network-interface.addresses.association.ip-owner-id": onENIs(func(e *types.InstanceNetworkInterface) []string {
		return each(e.PrivateIpAddresses, func(p *types.InstancePrivateIpAddress) []string {
			if p.Association == nil {
				return nil
			}
			return one(p.Association.IpOwnerId)
		})
	}),
	"network-interface.association.public-ip": onENIs(func(e *types.InstanceNetworkInterface) []string {
		if e.Association == nil {
			return nil
		}
		return one(e.Association.PublicIp)
	}),
	"network-interface.association.ip-owner-id": onENIs(func(e *types.InstanceNetworkInterface) []string {
		if e.Association == nil {
			return nil
		}
		return one(e.Association.IpOwnerId)
	}),
	"network-interface.attachment.attachment-id": onENIs(func(e *types.InstanceNetworkInterface) []string {
		return one(e.Attachment.AttachmentId)
	}),
	"network-interface.attachment.instance-id": func(r *types.Reservation) []string {
		return one(r.Instances[0].InstanceId)
	},
	"network-interface.attachment.instance-owner-id": func(r *types.Reservation) []string { return one(r.OwnerId) },
	"network-interface.attachment.device-index": onENIs(func(e *types.InstanceNetworkInterface) []string {
		return oneInt(e.Attachment.DeviceIndex)
	}),
	"network-interface.attachment.status": onENIs(func(e *types.InstanceNetworkInterface) []string {
		return []string{string(e.Attachment.Status)}
	}),
	"network-interface.attachment.attach-time": onENIs(func(e *types.InstanceNetworkInterface) []string {
		return filterTime(e.Attachment.AttachTime)
	}),
	"network-interface.attachment.delete-on-termination": onENIs(func(e *types.InstanceNetworkInterface) []string {
		return oneBool(e.Attachment.DeleteOnTermination)
	}),
	"network-interface.availability-zone": onInstance(func(i *types.Instance) []string {
		return one(i.Placement.AvailabilityZone) // INST-1, ENI-6: every ENI in the instance's zone
	}),
	"network-interface.description":  onENIs(func(e *types.InstanceNetworkInterface) []string { return one(e.Description) }),
	"network-interface.group-id":     onENIs(func(e *types.InstanceNetworkInterface) []string { return groupIDs(e.Groups) }),
	"network-interface.group-name":   onENIs(func(e *types.InstanceNetworkInterface) []string { return groupNames(e.Groups) }),
	"network-interface.mac-address":  onENIs(func(e *types.InstanceNetworkInterface) []string { return one(e.MacAddress) }),
	"network-interface.owner-id":     onENIs(func(e *types.InstanceNetworkInterface) []string { return one(e.OwnerId) }),
	"network-interface.status":       onENIs(func(e *types.InstanceNetworkInterface) []string { return []string{string(e.Status)} }),
	"network-interface.subnet-id":    onENIs(func(e *types.InstanceNetworkInterface) []string { return one(e.SubnetId) }),
	"network-interface.vpc-id":       onENIs(func(e *types.InstanceNetworkInterface) []string { return one(e.VpcId) }),
	"network-interface.requester-id": onENIs(func(e *types.InstanceNetworkInterface) []string { return nil }),
	"network-interface.requester-managed": onENIs(func(e *types.InstanceNetworkInterface) []string {
		return []string{"false"} // ENI-5: a requester-managed ENI is never an instance's
	}),
	"network-interface.source-dest-check": onENIs(func(e *types.InstanceNetworkInterface) []string {
		return oneBool(e.SourceDestCheck)
	}),
	"network-interface.network-interface-id": onENIs(func(e *types.InstanceNetworkInterface) []string {
		return one(e.NetworkInterfaceId)
	}),
	"network-interface.private-dns-name": onENIs(func(e *types.InstanceNetworkInterface) []string {
		return one(e.PrivateDnsName)
	}),
	"network-interface.ipv6-addresses.ipv6-address": onENIs(func(e *types.InstanceNetworkInterface) []string { return nil }),
	"owner-id":           func(r *types.Reservation) []string { return one(r.OwnerId) },
	"platform":           onInstance(func(i *types.Instance) []string { return nil }), // Linux: no Platform
	"private-dns-name":   onInstance(func(i *types.Instance) []string { return one(i.PrivateDnsName) }),
	"private-ip-address": onInstance(func(i *types.Instance) []string { return one(i.PrivateIpAddress) }),
	"reason":             onInstance(func(i *types.Instance) []string { return one(i.StateTransitionReason) }),
	"requester-id":       func(r *types.Reservation) []string { return one(r.RequesterId) },
	"reservation-id":     func(r *types.Reservation) []string { return one(r.ReservationId) },
	"root-device-name":   onInstance(func(i *types.Instance) []string { return one(i.RootDeviceName) }),
	"root-device-type":   onInstance(func(i *types.Instance) []string { return []string{string(i.RootDeviceType)} }),
	"source-dest-check":  onInstance(func(i *types.Instance) []string { return oneBool(i.SourceDestCheck) }),
	"state-reason-code": onInstance(func(i *types.Instance) []string {
		if i.StateReason == nil {
			return nil
		}
		return one(i.StateReason.Code)
	}),
	"state-reason-message": onInstance(func(i *types.Instance) []string {
		if i.StateReason == nil {
			return nil
		}
		return one(i.StateReason.Message)
	}),
	"subnet-id":           onInstance(func(i *types.Instance) []string { return one(i.SubnetId) }),
	"tenancy":             onInstance(func(i *types.Instance) []string { return []string{string(i.Placement.Tenancy)} }),
	"virtualization-type": onInstance(func(i *types.Instance) []string { return []string{string(i.VirtualizationType)} }),
	"vpc-id":              onInstance(func(i *types.Instance) []string { return one(i.VpcId) }),
}

func onInstance(f func(i *types.Instance) []string) func(r *types.Reservation) []string {
	return func(r *types.Reservation) []string { return each(r.Instances, f) }
}

func onENIs(f func(e *types.InstanceNetworkInterface) []string) func(r *types.Reservation) []string {
	return onInstance(func(i *types.Instance) []string { return each(i.NetworkInterfaces, f) })
}

// describeInstances answers the live instances (with what RunInstances
// was told of them: instanceShape) and those terminated within the hour
// (LIFE-3), each in its reservation. Ids, filters and pages select
// instances; the reservations then hold the instances selected.
func (d *Service) describeInstances(in *types.DescribeInstancesRequest) (*types.DescribeInstancesResult, error) {
	if len(in.InstanceIds) > 0 && in.MaxResults != nil {
		return nil, opErr("InvalidParameterCombination", "The parameter instancesSet cannot be used with the parameter maxResults")
	}
	owner := d.net.AccountID()
	var all []types.Reservation // one instance each
	add := func(x types.Instance) {
		name := ""
		for _, t := range x.Tags {
			if deref(t.Key) == "Name" {
				name = deref(t.Value)
			}
		}
		all = append(all, types.Reservation{Groups: []types.GroupIdentifier{}, Instances: []types.Instance{x}, OwnerId: ptr(owner),
			ReservationId: ptr(reservationID(d.net, *x.InstanceId, name))})
	}
	for _, v := range d.net.VPCs {
		for _, i := range v.Instances {
			add(d.instanceShape(i))
		}
	}
	for _, x := range d.terminatedInstances() {
		add(x)
	}
	slices.SortStableFunc(all, func(a, b types.Reservation) int {
		x, y := &a.Instances[0], &b.Instances[0]
		if c := strings.Compare(*a.ReservationId, *b.ReservationId); c != 0 {
			return c
		}
		if c := int(deref(x.AmiLaunchIndex)) - int(deref(y.AmiLaunchIndex)); c != 0 {
			return c
		}
		return strings.Compare(*x.InstanceId, *y.InstanceId)
	})
	out, err := byIDs(all, in.InstanceIds, func(r *types.Reservation) string { return *r.Instances[0].InstanceId },
		func(id string) error {
			return opErr("InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", id)
		})
	if err != nil {
		return nil, err
	}
	if out, err = selectItems(out, in.Filters, instanceFilters, func(r *types.Reservation) []types.Tag { return r.Instances[0].Tags }); err != nil {
		return nil, err
	}
	out, next, err := page(out, in.MaxResults, in.NextToken, 5, 1000)
	if err != nil {
		return nil, err
	}
	res := []types.Reservation{}
	for _, r := range out { // the instances of a reservation are next to each other
		if k := len(res) - 1; k >= 0 && *res[k].ReservationId == *r.ReservationId {
			res[k].Instances = append(res[k].Instances, r.Instances...)
			continue
		}
		res = append(res, r)
	}
	return &types.DescribeInstancesResult{Reservations: res, NextToken: next}, nil
}

// --- DescribeRouteTables (RT-1..RT-6) ------------------------------------------------

// routeState is RT-3: a route whose target is gone is a blackhole.
func routeState(v *topology.VPC, r *topology.Route) types.RouteState {
	switch r.Kind {
	case topology.TargetBlackhole:
		return types.RouteStateBlackhole
	case topology.TargetIGW:
		if !v.IGWTarget(r) { // its gateway detached or deleted (igw.go)
			return types.RouteStateBlackhole
		}
	case topology.TargetENI:
		if r.ENI == nil || !slices.Contains(v.ENIs, r.ENI) {
			return types.RouteStateBlackhole
		}
	case topology.TargetNAT:
		if r.NAT == nil || !slices.Contains(v.NATs, r.NAT) {
			return types.RouteStateBlackhole
		}
	case topology.TargetPeering:
		if !r.Peering.Active() { // PEER-3: pending, or deleted
			return types.RouteStateBlackhole
		}
	}
	return types.RouteStateActive
}

// routeTableOf is route table t of VPC v as EC2 describes it. A subnet
// that uses the main table without an association of its own is associated
// implicitly, and EC2 lists no association for it; one associated with the
// main table explicitly is listed (RT-1).
func routeTableOf(n *topology.Network, v *topology.VPC, t *topology.RouteTable) types.RouteTable {
	owner := n.AccountID()
	routes := []types.Route{}
	for _, r := range t.Routes {
		ro := types.Route{DestinationCidrBlock: ptr(r.Dest.String()), Origin: types.RouteOriginCreateRoute, State: routeState(v, r)}
		switch r.Kind {
		case topology.TargetLocal:
			ro.GatewayId, ro.Origin = ptr("local"), types.RouteOriginCreateRouteTable
		case topology.TargetIGW:
			ro.GatewayId = ptr(igwID(n, r.TargetName)) // igw.go
		case topology.TargetNAT:
			ro.NatGatewayId = ptr(r.NAT.ID)
		case topology.TargetENI:
			ro.NetworkInterfaceId = ptr(r.ENI.ID)
			if r.ENI.Instance != nil {
				ro.InstanceId, ro.InstanceOwnerId = ptr(r.ENI.Instance.ID), ptr(owner)
			}
		case topology.TargetPeering:
			ro.VpcPeeringConnectionId = ptr(r.Peering.ID)
		case topology.TargetLGW: // coip.go
			ro.LocalGatewayId = ptr(r.LGW.ID)
		case topology.TargetBlackhole:
			ro.GatewayId = ptr("blackhole")
		}
		routes = append(routes, ro)
	}
	associated := &types.RouteTableAssociationState{State: types.RouteTableAssociationStateCodeAssociated}
	assoc := []types.RouteTableAssociation{}
	if t.Main {
		assoc = append(assoc, types.RouteTableAssociation{Main: ptr(true), RouteTableAssociationId: ptr(routeTableAssociationID(n, t, nil)),
			RouteTableId: ptr(t.ID), AssociationState: associated})
	}
	for _, s := range v.Subnets {
		if s.RouteTable == t && s.ExplicitRT {
			assoc = append(assoc, types.RouteTableAssociation{Main: ptr(false), RouteTableAssociationId: ptr(routeTableAssociationID(n, t, s)),
				RouteTableId: ptr(t.ID), SubnetId: ptr(s.ID), AssociationState: associated})
		}
	}
	return types.RouteTable{Associations: assoc, PropagatingVgws: []types.PropagatingVgw{}, RouteTableId: ptr(t.ID),
		Routes: routes, Tags: nameTags(t.Name), VpcId: ptr(v.ID), OwnerId: ptr(owner)}
}

// routeTableFilters are DescribeRouteTables' filters.
var routeTableFilters = filters[types.RouteTable]{
	"association.route-table-association-id": rtAssociations(func(a *types.RouteTableAssociation) []string {
		return one(a.RouteTableAssociationId)
	}),
	"association.route-table-id":   rtAssociations(func(a *types.RouteTableAssociation) []string { return one(a.RouteTableId) }),
	"association.subnet-id":        rtAssociations(func(a *types.RouteTableAssociation) []string { return one(a.SubnetId) }),
	"association.main":             rtAssociations(func(a *types.RouteTableAssociation) []string { return oneBool(a.Main) }),
	"owner-id":                     func(t *types.RouteTable) []string { return one(t.OwnerId) },
	"route-table-id":               func(t *types.RouteTable) []string { return one(t.RouteTableId) },
	"route.destination-cidr-block": rtRoutes(func(r *types.Route) []string { return one(r.DestinationCidrBlock) }),
	"route.gateway-id":             rtRoutes(func(r *types.Route) []string { return one(r.GatewayId) }),
	"route.instance-id":            rtRoutes(func(r *types.Route) []string { return one(r.InstanceId) }),
	"route.nat-gateway-id":         rtRoutes(func(r *types.Route) []string { return one(r.NatGatewayId) }),
	"route.origin":                 rtRoutes(func(r *types.Route) []string { return []string{string(r.Origin)} }),
	"route.state":                  rtRoutes(func(r *types.Route) []string { return []string{string(r.State)} }),
	"route.vpc-peering-connection-id": rtRoutes(func(r *types.Route) []string {
		return one(r.VpcPeeringConnectionId)
	}),
	"route.destination-ipv6-cidr-block":     rtRoutes(func(r *types.Route) []string { return nil }),
	"route.destination-prefix-list-id":      rtRoutes(func(r *types.Route) []string { return nil }),
	"route.egress-only-internet-gateway-id": rtRoutes(func(r *types.Route) []string { return nil }),
	"route.transit-gateway-id":              rtRoutes(func(r *types.Route) []string { return nil }),
	"vpc-id":                                func(t *types.RouteTable) []string { return one(t.VpcId) },
}

func rtAssociations(f func(a *types.RouteTableAssociation) []string) func(t *types.RouteTable) []string {
	return func(t *types.RouteTable) []string { return each(t.Associations, f) }
}

func rtRoutes(f func(r *types.Route) []string) func(t *types.RouteTable) []string {
	return func(t *types.RouteTable) []string { return each(t.Routes, f) }
}

func (d *Service) describeRouteTables(in *types.DescribeRouteTablesRequest) (*types.DescribeRouteTablesResult, error) {
	var all []types.RouteTable
	for _, v := range d.net.VPCs {
		for _, t := range v.RouteTables {
			x := routeTableOf(d.net, v, t)
			x.Tags = d.tagsOf(t.ID, t.Name)
			all = append(all, x)
		}
	}
	sortBy(all, func(t *types.RouteTable) *string { return t.RouteTableId })
	out, err := byIDs(all, in.RouteTableIds, func(t *types.RouteTable) string { return *t.RouteTableId },
		func(id string) error {
			return opErr("InvalidRouteTableID.NotFound", "The routeTable ID '%s' does not exist", id)
		})
	if err != nil {
		return nil, err
	}
	if out, err = selectItems(out, in.Filters, routeTableFilters, func(t *types.RouteTable) []types.Tag { return t.Tags }); err != nil {
		return nil, err
	}
	out, next, err := page(out, in.MaxResults, in.NextToken, 5, 100)
	if err != nil {
		return nil, err
	}
	return &types.DescribeRouteTablesResult{RouteTables: append([]types.RouteTable{}, out...), NextToken: next}, nil
}

// --- DescribeSubnets (ADDR-1, ADDR-2) ------------------------------------------------------

// subnetOf is subnet s as EC2 describes it. AvailableIpAddressCount is the
// subnet's size less the five reserved addresses (ADDR-2) and those its
// ENIs hold (ENI-1).
func subnetOf(n *topology.Network, s *topology.Subnet) types.Subnet {
	owner := n.AccountID()
	free := 1<<(32-s.CIDR.Bits()) - 5
	for _, e := range s.VPC.ENIs {
		if e.Subnet == s {
			free -= len(e.IPs())
		}
	}
	return types.Subnet{
		AvailabilityZone:            ptr(s.AZ),
		AvailabilityZoneId:          zoneID(n.Region, s.AZ),
		AvailableIpAddressCount:     ptr(int32(max(free, 0))),
		CidrBlock:                   ptr(s.CIDR.String()),
		DefaultForAz:                ptr(false),
		MapPublicIpOnLaunch:         ptr(s.MapPublicIP),
		MapCustomerOwnedIpOnLaunch:  ptr(false),
		OutpostArn:                  optional(s.OutpostArn), // coip.go
		State:                       types.SubnetStateAvailable,
		SubnetId:                    ptr(s.ID),
		VpcId:                       ptr(s.VPC.ID),
		OwnerId:                     ptr(owner),
		AssignIpv6AddressOnCreation: ptr(false),
		Ipv6CidrBlockAssociationSet: []types.SubnetIpv6CidrBlockAssociation{},
		Tags:                        nameTags(s.Name),
		SubnetArn:                   ptr(fmt.Sprintf("arn:aws:ec2:%s:%s:subnet/%s", n.Region, owner, s.ID)),
		EnableDns64:                 ptr(false),
		Ipv6Native:                  ptr(false),
		PrivateDnsNameOptionsOnLaunch: &types.PrivateDnsNameOptionsOnLaunch{HostnameType: types.HostnameTypeIpName,
			EnableResourceNameDnsARecord: ptr(false), EnableResourceNameDnsAAAARecord: ptr(false)},
	}
}

// subnetFilters are DescribeSubnets' filters, with EC2's older names
// (availabilityZone, cidr, cidrBlock, defaultForAz) too.
var subnetFilters = func() filters[types.Subnet] {
	f := filters[types.Subnet]{
		"availability-zone":          func(s *types.Subnet) []string { return one(s.AvailabilityZone) },
		"availability-zone-id":       func(s *types.Subnet) []string { return one(s.AvailabilityZoneId) },
		"available-ip-address-count": func(s *types.Subnet) []string { return oneInt(s.AvailableIpAddressCount) },
		"cidr-block":                 func(s *types.Subnet) []string { return one(s.CidrBlock) },
		"customer-owned-ipv4-pool":   func(s *types.Subnet) []string { return one(s.CustomerOwnedIpv4Pool) },
		"default-for-az":             func(s *types.Subnet) []string { return oneBool(s.DefaultForAz) },
		"enable-dns64":               func(s *types.Subnet) []string { return oneBool(s.EnableDns64) },
		"ipv6-native":                func(s *types.Subnet) []string { return oneBool(s.Ipv6Native) },
		"map-customer-owned-ip-on-launch": func(s *types.Subnet) []string {
			return oneBool(s.MapCustomerOwnedIpOnLaunch)
		},
		"map-public-ip-on-launch": func(s *types.Subnet) []string { return oneBool(s.MapPublicIpOnLaunch) },
		"owner-id":                func(s *types.Subnet) []string { return one(s.OwnerId) },
		"private-dns-name-options-on-launch.hostname-type": func(s *types.Subnet) []string {
			return []string{string(s.PrivateDnsNameOptionsOnLaunch.HostnameType)}
		},
		"state":      func(s *types.Subnet) []string { return []string{string(s.State)} },
		"subnet-arn": func(s *types.Subnet) []string { return one(s.SubnetArn) },
		"subnet-id":  func(s *types.Subnet) []string { return one(s.SubnetId) },
		"vpc-id":     func(s *types.Subnet) []string { return one(s.VpcId) },
		"ipv6-cidr-block-association.ipv6-cidr-block": func(s *types.Subnet) []string { return nil },
		"ipv6-cidr-block-association.association-id":  func(s *types.Subnet) []string { return nil },
		"ipv6-cidr-block-association.state":           func(s *types.Subnet) []string { return nil },
	}
	for old, name := range map[string]string{"availabilityZone": "availability-zone", "availabilityZoneId": "availability-zone-id",
		"cidr": "cidr-block", "cidrBlock": "cidr-block", "defaultForAz": "default-for-az"} {
		f[old] = f[name]
	}
	return f
}()

func (d *Service) describeSubnets(in *types.DescribeSubnetsRequest) (*types.DescribeSubnetsResult, error) {
	var all []types.Subnet
	for _, v := range d.net.VPCs {
		for _, s := range v.Subnets {
			x := subnetOf(d.net, s)
			x.Tags = d.tagsOf(s.ID, s.Name)
			all = append(all, x)
		}
	}
	sortBy(all, func(s *types.Subnet) *string { return s.SubnetId })
	out, err := byIDs(all, in.SubnetIds, func(s *types.Subnet) string { return *s.SubnetId },
		func(id string) error {
			return opErr("InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist", id)
		})
	if err != nil {
		return nil, err
	}
	if out, err = selectItems(out, in.Filters, subnetFilters, func(s *types.Subnet) []types.Tag { return s.Tags }); err != nil {
		return nil, err
	}
	out, next, err := page(out, in.MaxResults, in.NextToken, 5, 1000)
	if err != nil {
		return nil, err
	}
	return &types.DescribeSubnetsResult{Subnets: append([]types.Subnet{}, out...), NextToken: next}, nil
}

// --- DescribeSecurityGroups (SG-1..SG-3, SG-7) ------------------------------------------------

// permKey is what EC2 gathers a group's rules by: protocol and port range.
type permKey struct {
	proto    string
	from, to int32
	ports    bool // FromPort and ToPort shown
}

// permKeyOf is rule r's protocol and ports as EC2 shows them: tcp and udp
// with all ports are 0–65535; ICMP shows type and code (-1: any); all
// protocols (-1) and other protocols show no ports.
func permKeyOf(r topology.SGRule) permKey {
	k := permKey{proto: protoName(r.Protocol)}
	switch r.Protocol {
	case 6, 17:
		k.ports, k.from, k.to = true, 0, 65535
		if r.FromPort != -1 {
			k.from, k.to = int32(r.FromPort), int32(r.ToPort)
		}
	case 1:
		k.ports, k.from, k.to = true, int32(r.FromPort), int32(r.ToPort)
	}
	return k
}

// ipPermissions are a group's rules as EC2 shows them: one IpPermission per
// protocol and port range (in the order each first appears), holding every
// CIDR and group it allows (SG-3); a group peer carries its owner's
// account (UserId).
func ipPermissions(rules []topology.SGRule, owner string) []types.IpPermission {
	out := []types.IpPermission{}
	at := map[permKey]int{}
	description := func(s string) *string {
		if s == "" {
			return nil
		}
		return ptr(s)
	}
	for _, r := range rules {
		k := permKeyOf(r)
		i, ok := at[k]
		if !ok {
			i, at[k] = len(out), len(out)
			p := types.IpPermission{IpProtocol: ptr(k.proto), IpRanges: []types.IpRange{}, Ipv6Ranges: []types.Ipv6Range{},
				PrefixListIds: []types.PrefixListId{}, UserIdGroupPairs: []types.UserIdGroupPair{}}
			if k.ports {
				p.FromPort, p.ToPort = ptr(k.from), ptr(k.to)
			}
			out = append(out, p)
		}
		p := &out[i]
		if r.Group != nil {
			p.UserIdGroupPairs = append(p.UserIdGroupPairs, types.UserIdGroupPair{Description: description(r.Description),
				GroupId: ptr(r.Group.ID), UserId: ptr(owner)})
		} else {
			p.IpRanges = append(p.IpRanges, types.IpRange{CidrIp: ptr(r.CIDR.String()), Description: description(r.Description)})
		}
	}
	return out
}

// securityGroupOf is group g as EC2 describes it. Its name is GroupName;
// it has no tags.
func securityGroupOf(n *topology.Network, g *topology.SecurityGroup) types.SecurityGroup {
	owner := n.AccountID()
	return types.SecurityGroup{Description: ptr(g.Description), GroupName: ptr(g.Name), IpPermissions: ipPermissions(g.Ingress, owner),
		OwnerId: ptr(owner), GroupId: ptr(g.ID), IpPermissionsEgress: ipPermissions(g.Egress, owner), VpcId: ptr(g.VPC.ID)}
}

// securityGroupFilters are DescribeSecurityGroups' filters; nameOf names
// the groups that rules refer to (ip-permission.group-name).
func securityGroupFilters(nameOf map[string]string) filters[types.SecurityGroup] {
	f := filters[types.SecurityGroup]{
		"description": func(g *types.SecurityGroup) []string { return one(g.Description) },
		"group-id":    func(g *types.SecurityGroup) []string { return one(g.GroupId) },
		"group-name":  func(g *types.SecurityGroup) []string { return one(g.GroupName) },
		"owner-id":    func(g *types.SecurityGroup) []string { return one(g.OwnerId) },
		"vpc-id":      func(g *types.SecurityGroup) []string { return one(g.VpcId) },
	}
	perm := map[string]func(p *types.IpPermission) []string{
		"cidr": func(p *types.IpPermission) []string {
			return each(p.IpRanges, func(r *types.IpRange) []string { return one(r.CidrIp) })
		},
		"from-port": func(p *types.IpPermission) []string { return oneInt(p.FromPort) },
		"to-port":   func(p *types.IpPermission) []string { return oneInt(p.ToPort) },
		"protocol":  func(p *types.IpPermission) []string { return one(p.IpProtocol) },
		"group-id": func(p *types.IpPermission) []string {
			return each(p.UserIdGroupPairs, func(u *types.UserIdGroupPair) []string { return one(u.GroupId) })
		},
		"group-name": func(p *types.IpPermission) []string {
			return each(p.UserIdGroupPairs, func(u *types.UserIdGroupPair) []string { return []string{nameOf[deref(u.GroupId)]} })
		},
		"user-id": func(p *types.IpPermission) []string {
			return each(p.UserIdGroupPairs, func(u *types.UserIdGroupPair) []string { return one(u.UserId) })
		},
		"ipv6-cidr":      func(p *types.IpPermission) []string { return nil },
		"prefix-list-id": func(p *types.IpPermission) []string { return nil },
	}
	for name, pf := range perm {
		f["ip-permission."+name] = func(g *types.SecurityGroup) []string { return each(g.IpPermissions, pf) }
		f["egress.ip-permission."+name] = func(g *types.SecurityGroup) []string { return each(g.IpPermissionsEgress, pf) }
	}
	return f
}

func (d *Service) describeSecurityGroups(in *types.DescribeSecurityGroupsRequest) (*types.DescribeSecurityGroupsResult, error) {
	var all []types.SecurityGroup
	nameOf := map[string]string{}
	for _, v := range d.net.VPCs {
		for _, g := range v.SGs {
			x := securityGroupOf(d.net, g)
			x.Tags = d.tagsOf(g.ID, "") // its name is GroupName
			all = append(all, x)
			nameOf[g.ID] = g.Name
		}
	}
	sortBy(all, func(g *types.SecurityGroup) *string { return g.GroupId })
	out, err := byIDs(all, in.GroupIds, func(g *types.SecurityGroup) string { return *g.GroupId },
		func(id string) error {
			return opErr("InvalidGroup.NotFound", "The security group '%s' does not exist", id)
		})
	if err != nil {
		return nil, err
	}
	if len(in.GroupNames) > 0 { // every group of that name, in any VPC
		var named []types.SecurityGroup
		for _, name := range in.GroupNames {
			found := false
			for _, g := range out {
				if *g.GroupName == name {
					named, found = append(named, g), true
				}
			}
			if !found {
				return nil, opErr("InvalidGroup.NotFound", "The security group '%s' does not exist", name)
			}
		}
		out = named
	}
	if out, err = selectItems(out, in.Filters, securityGroupFilters(nameOf), func(g *types.SecurityGroup) []types.Tag { return g.Tags }); err != nil {
		return nil, err
	}
	out, next, err := page(out, in.MaxResults, in.NextToken, 5, 1000)
	if err != nil {
		return nil, err
	}
	return &types.DescribeSecurityGroupsResult{SecurityGroups: append([]types.SecurityGroup{}, out...), NextToken: next}, nil
}

// --- DescribeNetworkAcls (NACL-1..NACL-5) -------------------------------------------------------

// naclEntries are a NACL's rules as EC2 lists them: outbound then inbound,
// each by rule number and ending in the implicit deny (rule 32767, shown
// as * by the console: NACL-2). Protocols are numbers; tcp and udp carry
// a port range (all ports: 0–65535), ICMP its type and code (-1: any).
func naclEntries(a *topology.NACL) []types.NetworkAclEntry {
	out := []types.NetworkAclEntry{}
	add := func(rules []topology.NACLRule, egress bool) {
		for _, r := range rules {
			action := types.RuleActionDeny
			if r.Allow {
				action = types.RuleActionAllow
			}
			e := types.NetworkAclEntry{CidrBlock: ptr(r.CIDR.String()), Egress: ptr(egress), Protocol: ptr(strconv.Itoa(r.Protocol)),
				RuleAction: action, RuleNumber: ptr(int32(r.Number))}
			switch r.Protocol {
			case 6, 17:
				e.PortRange = &types.PortRange{From: ptr(int32(0)), To: ptr(int32(65535))}
				if r.FromPort != -1 {
					e.PortRange = &types.PortRange{From: ptr(int32(r.FromPort)), To: ptr(int32(r.ToPort))}
				}
			case 1:
				e.IcmpTypeCode = &types.IcmpTypeCode{Type: ptr(int32(r.FromPort)), Code: ptr(int32(r.ToPort))}
			}
			out = append(out, e)
		}
		out = append(out, types.NetworkAclEntry{CidrBlock: ptr("0.0.0.0/0"), Egress: ptr(egress), Protocol: ptr("-1"),
			RuleAction: types.RuleActionDeny, RuleNumber: ptr(int32(32767))})
	}
	add(a.Egress, true)
	add(a.Ingress, false)
	return out
}

// networkACLOf is NACL a of VPC v as EC2 describes it: every subnet that
// uses it, the default one included, is an association (NACL-3, NACL-5).
func networkACLOf(n *topology.Network, v *topology.VPC, a *topology.NACL) types.NetworkAcl {
	assoc := []types.NetworkAclAssociation{}
	for _, s := range v.Subnets {
		if s.NACL == a {
			assoc = append(assoc, types.NetworkAclAssociation{NetworkAclAssociationId: ptr(networkACLAssociationID(n, a, s)),
				NetworkAclId: ptr(a.ID), SubnetId: ptr(s.ID)})
		}
	}
	return types.NetworkAcl{Associations: assoc, Entries: naclEntries(a), IsDefault: ptr(a.Default), NetworkAclId: ptr(a.ID),
		Tags: nameTags(a.Name), VpcId: ptr(v.ID), OwnerId: ptr(n.AccountID())}
}

// networkACLFilters are DescribeNetworkAcls' filters.
var networkACLFilters = filters[types.NetworkAcl]{
	"association.association-id": aclAssociations(func(a *types.NetworkAclAssociation) []string {
		return one(a.NetworkAclAssociationId)
	}),
	"association.network-acl-id": aclAssociations(func(a *types.NetworkAclAssociation) []string { return one(a.NetworkAclId) }),
	"association.subnet-id":      aclAssociations(func(a *types.NetworkAclAssociation) []string { return one(a.SubnetId) }),
	"default":                    func(a *types.NetworkAcl) []string { return oneBool(a.IsDefault) },
	"entry.cidr":                 aclEntries(func(e *types.NetworkAclEntry) []string { return one(e.CidrBlock) }),
	"entry.icmp.code": aclEntries(func(e *types.NetworkAclEntry) []string {
		if e.IcmpTypeCode == nil {
			return nil
		}
		return oneInt(e.IcmpTypeCode.Code)
	}),
	"entry.icmp.type": aclEntries(func(e *types.NetworkAclEntry) []string {
		if e.IcmpTypeCode == nil {
			return nil
		}
		return oneInt(e.IcmpTypeCode.Type)
	}),
	"entry.ipv6-cidr": aclEntries(func(e *types.NetworkAclEntry) []string { return nil }),
	"entry.port-range.from": aclEntries(func(e *types.NetworkAclEntry) []string {
		if e.PortRange == nil {
			return nil
		}
		return oneInt(e.PortRange.From)
	}),
	"entry.port-range.to": aclEntries(func(e *types.NetworkAclEntry) []string {
		if e.PortRange == nil {
			return nil
		}
		return oneInt(e.PortRange.To)
	}),
	"entry.protocol":    aclEntries(func(e *types.NetworkAclEntry) []string { return one(e.Protocol) }),
	"entry.rule-action": aclEntries(func(e *types.NetworkAclEntry) []string { return []string{string(e.RuleAction)} }),
	"entry.egress":      aclEntries(func(e *types.NetworkAclEntry) []string { return oneBool(e.Egress) }),
	"entry.rule-number": aclEntries(func(e *types.NetworkAclEntry) []string { return oneInt(e.RuleNumber) }),
	"network-acl-id":    func(a *types.NetworkAcl) []string { return one(a.NetworkAclId) },
	"owner-id":          func(a *types.NetworkAcl) []string { return one(a.OwnerId) },
	"vpc-id":            func(a *types.NetworkAcl) []string { return one(a.VpcId) },
}

func aclAssociations(f func(a *types.NetworkAclAssociation) []string) func(a *types.NetworkAcl) []string {
	return func(a *types.NetworkAcl) []string { return each(a.Associations, f) }
}

func aclEntries(f func(e *types.NetworkAclEntry) []string) func(a *types.NetworkAcl) []string {
	return func(a *types.NetworkAcl) []string { return each(a.Entries, f) }
}

func (d *Service) describeNetworkAcls(in *types.DescribeNetworkAclsRequest) (*types.DescribeNetworkAclsResult, error) {
	var all []types.NetworkAcl
	for _, v := range d.net.VPCs {
		for _, a := range v.NACLs {
			x := networkACLOf(d.net, v, a)
			x.Tags = d.tagsOf(a.ID, a.Name)
			all = append(all, x)
		}
	}
	sortBy(all, func(a *types.NetworkAcl) *string { return a.NetworkAclId })
	out, err := byIDs(all, in.NetworkAclIds, func(a *types.NetworkAcl) string { return *a.NetworkAclId },
		func(id string) error {
			return opErr("InvalidNetworkAclID.NotFound", "The network ACL ID '%s' does not exist", id)
		})
	if err != nil {
		return nil, err
	}
	if out, err = selectItems(out, in.Filters, networkACLFilters, func(a *types.NetworkAcl) []types.Tag { return a.Tags }); err != nil {
		return nil, err
	}
	out, next, err := page(out, in.MaxResults, in.NextToken, 5, 1000)
	if err != nil {
		return nil, err
	}
	return &types.DescribeNetworkAclsResult{NetworkAcls: append([]types.NetworkAcl{}, out...), NextToken: next}, nil
}

// --- DescribeNatGateways (NAT-1) --------------------------------------------------------------

// natGatewayOf is NAT gateway g as EC2 describes it: its address is its
// ENI's private IP and, when public, its EIP (NAT-1).
func natGatewayOf(n *topology.Network, g *topology.NATGateway) types.NatGateway {
	addr := types.NatGatewayAddress{NetworkInterfaceId: ptr(g.ENI.ID), PrivateIp: ptr(g.ENI.PrimaryIP.String())}
	conn := types.ConnectivityTypePublic
	if g.Private {
		conn = types.ConnectivityTypePrivate
	}
	if g.EIP != nil {
		addr.AllocationId, addr.PublicIp = ptr(g.EIP.AllocationID), ptr(g.EIP.Addr.String())
	}
	return types.NatGateway{CreateTime: created(n, g.ID), NatGatewayAddresses: []types.NatGatewayAddress{addr}, NatGatewayId: ptr(g.ID),
		State: types.NatGatewayStateAvailable, SubnetId: ptr(g.Subnet.ID), VpcId: ptr(g.Subnet.VPC.ID), Tags: nameTags(g.Name),
		ConnectivityType: conn}
}

// natGatewayFilters are DescribeNatGateways' filters.
var natGatewayFilters = filters[types.NatGateway]{
	"nat-gateway-id": func(g *types.NatGateway) []string { return one(g.NatGatewayId) },
	"state":          func(g *types.NatGateway) []string { return []string{string(g.State)} },
	"subnet-id":      func(g *types.NatGateway) []string { return one(g.SubnetId) },
	"vpc-id":         func(g *types.NatGateway) []string { return one(g.VpcId) },
}

func (d *Service) describeNatGateways(in *types.DescribeNatGatewaysRequest) (*types.DescribeNatGatewaysResult, error) {
	var all []types.NatGateway
	for _, v := range d.net.VPCs {
		for _, g := range v.NATs {
			x := natGatewayOf(d.net, g)
			x.Tags = d.tagsOf(g.ID, g.Name)
			all = append(all, x)
		}
	}
	all = append(all, d.deletedNATs()...) // natgw.go: deleted within the hour (LIFE-3)
	sortBy(all, func(g *types.NatGateway) *string { return g.NatGatewayId })
	out, err := byIDs(all, in.NatGatewayIds, func(g *types.NatGateway) string { return *g.NatGatewayId },
		func(id string) error { return opErr("NatGatewayNotFound", "The Nat Gateway %s was not found", id) })
	if err != nil {
		return nil, err
	}
	if out, err = selectItems(out, in.Filter, natGatewayFilters, func(g *types.NatGateway) []types.Tag { return g.Tags }); err != nil {
		return nil, err
	}
	out, next, err := page(out, in.MaxResults, in.NextToken, 5, 1000)
	if err != nil {
		return nil, err
	}
	return &types.DescribeNatGatewaysResult{NatGateways: append([]types.NatGateway{}, out...), NextToken: next}, nil
}

// httpTokens is instance i's metadata option HttpTokens (IMDS-1).
func httpTokens(i *topology.Instance) types.HttpTokensState {
	if i.MetadataTokens == topology.MetadataTokensRequired {
		return types.HttpTokensStateRequired
	}
	return types.HttpTokensStateOptional
}
