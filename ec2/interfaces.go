package ec2

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

func init() {
	Define("CreateNetworkInterface", Mutating, (*Service).createNetworkInterface)
	Define("DeleteNetworkInterface", Mutating, (*Service).deleteNetworkInterface)
	Define("AttachNetworkInterface", Mutating, (*Service).attachNetworkInterface)
	Define("DetachNetworkInterface", Mutating, (*Service).detachNetworkInterface)
	Define("ModifyNetworkInterfaceAttribute", Mutating, (*Service).modifyNetworkInterfaceAttribute)
	Define("AssignPrivateIpAddresses", Mutating, (*Service).assignPrivateIPs)
	Define("UnassignPrivateIpAddresses", Mutating, (*Service).unassignPrivateIPs)
}

// --- network interfaces (ENI-1..ENI-7) ---------------------------------------

// createNetworkInterface makes a compute ENI in a subnet (ENI-1, ENI-2).
// Its name is the Name tag of TagSpecifications (vpcnet's --name).
func (d *Service) createNetworkInterface(in *types.CreateNetworkInterfaceRequest) (*types.CreateNetworkInterfaceResult, error) {
	if err := unsupported(in, "SubnetId", "PrivateIpAddress", "PrivateIpAddresses", "SecondaryPrivateIpAddressCount",
		"Groups", "Description", "TagSpecifications"); err != nil {
		return nil, err
	}
	want, err := nameFromTags(in.TagSpecifications, types.ResourceTypeNetworkInterface)
	if err != nil {
		return nil, err
	}
	// PrivateIpAddresses: at most one primary (or PrivateIpAddress), the
	// others secondary; SecondaryPrivateIpAddressCount adds free ones.
	primary := deref(in.PrivateIpAddress)
	var secondary []string
	for _, p := range in.PrivateIpAddresses {
		switch a := deref(p.PrivateIpAddress); {
		case a == "":
			return nil, opErr("MissingParameter", "The request must contain the parameter PrivateIpAddresses.PrivateIpAddress")
		case !deref(p.Primary):
			secondary = append(secondary, a)
		case primary != "":
			return nil, opErr("InvalidParameterCombination", "The primary private IP address is given twice")
		default:
			primary = a
		}
	}
	if len(secondary) > 0 && in.SecondaryPrivateIpAddressCount != nil {
		return nil, opErr("InvalidParameterCombination", "SecondaryPrivateIpAddressCount may not be given with secondary addresses in PrivateIpAddresses")
	}
	// QUOTA-2: an ENI that is not attached holds at most MaxIPv4PerENI.
	if n := 1 + len(secondary) + int(deref(in.SecondaryPrivateIpAddressCount)); n > topology.MaxIPv4PerENI {
		return nil, opErr("PrivateIpAddressLimitExceeded", "Number of private addresses will exceed limit: %d, a network interface holds at most %d (QUOTA-2)", n, topology.MaxIPv4PerENI)
	}
	s, ip, groups, name, err := d.newENIFields(in.SubnetId, primary, in.Groups, want, "eni", topology.KindENI)
	if err != nil {
		return nil, err
	}
	desc := deref(in.Description)
	if err := checkDescription(in.Description); err != nil {
		return nil, err
	}
	e := &topology.ENI{Name: name, ID: d.net.NewID("eni", name), Subnet: s, MAC: d.net.NewMAC(name), PrimaryIP: ip,
		Groups: groups, SourceDestCheck: true, Kind: topology.ENICompute, Description: desc,
		ConnTrack: defaultConnTrack(), PublicIPs: map[netip.Addr]netip.Addr{}}
	if len(secondary) > 0 {
		ips, err := parseIPs(e, secondary, nil)
		if err != nil {
			return nil, err
		}
		for _, a := range ips {
			if a == ip {
				return nil, opErr("InvalidParameterValue", "Address %s is given twice", a)
			}
			if err := checkPrivateIP(s, a); err != nil {
				return nil, err
			}
		}
		e.SecondaryIPs = ips
	}
	if c := in.SecondaryPrivateIpAddressCount; c != nil {
		if *c < 1 {
			return nil, opErr("InvalidParameterValue", "Invalid value '%d' for secondaryPrivateIpAddressCount: 1 to %d", *c, topology.MaxIPv4PerENI-1)
		}
		for range *c {
			a, ok := s.FreePrivateIP(e.IPs()...)
			if !ok {
				return nil, opErr("InsufficientFreeAddressesInSubnet", "Subnet %s has no free address", s.ID)
			}
			e.SecondaryIPs = append(e.SecondaryIPs, a)
		}
	}
	s.VPC.ENIs = append(s.VPC.ENIs, e)
	ni := describeENI(d.net, e)
	return &types.CreateNetworkInterfaceResult{NetworkInterface: &ni}, nil
}

func defaultConnTrack() topology.ConnTrack {
	return topology.ConnTrack{TCPEstablished: 432000, UDPStream: 180, UDP: 30}
}

// refuseManaged enforces ENI-5 for operations on requester-managed ENIs.
func refuseManaged(e *topology.ENI, what string) error {
	if e.RequesterManaged {
		return opErr("OperationNotPermitted", "You cannot %s network interface %s: it is requester-managed by NAT gateway %s; it comes and goes with the gateway: create-nat-gateway, delete-nat-gateway (ENI-5)", what, e.ID, natOwner(e))
	}
	return nil
}

// findENIParam looks up the ENI a request names (its id, or its name:
// vpcnet's extension); an empty reference is MissingParameter.
func (d *Service) findENIParam(ref string) (*topology.ENI, error) {
	if ref == "" {
		return nil, opErr("MissingParameter", "The request must contain the parameter NetworkInterfaceId")
	}
	return d.findENI(ref)
}

func (d *Service) deleteNetworkInterface(in *types.DeleteNetworkInterfaceRequest) (*struct{}, error) {
	e, err := d.findENIParam(in.NetworkInterfaceId)
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
	return nil, nil
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

// attachNetworkInterface plugs an ENI into an instance of its VPC and AZ as
// eth<DeviceIndex> (ENI-6); a stopped instance gets the device at start.
func (d *Service) attachNetworkInterface(in *types.AttachNetworkInterfaceRequest) (*types.AttachNetworkInterfaceResult, error) {
	if err := unsupported(in, "DeviceIndex", "InstanceId", "NetworkInterfaceId", "NetworkCardIndex"); err != nil {
		return nil, err
	}
	e, err := d.findENIParam(in.NetworkInterfaceId)
	if err != nil {
		return nil, err
	}
	if in.InstanceId == "" {
		return nil, opErr("MissingParameter", "The request must contain the parameter InstanceId")
	}
	inst, err := d.findInstance(in.InstanceId)
	if err != nil {
		return nil, err
	}
	if err := refuseManaged(e, "attach"); err != nil {
		return nil, err
	}
	idx := in.DeviceIndex
	if idx < 1 || idx > 15 {
		return nil, opErr("InvalidParameterValue", "Invalid value '%d' for deviceIndex: it must be 1 to 15 (0 is the primary interface)", idx)
	}
	if c := deref(in.NetworkCardIndex); c != 0 {
		return nil, opErr("InvalidParameterValue", "Invalid value '%d' for networkCardIndex: vpcnet's instances have one network card, 0", c)
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
		if x.DeviceIndex == int(idx) {
			return nil, opErr("InvalidParameterValue", "Instance %s already has an interface attached at device index %d", inst.ID, idx)
		}
	}
	// QUOTA-2: the instance type's interfaces, and addresses per interface.
	if lim := inst.Limits(); len(inst.ENIs)+1 > lim.ENIs {
		return nil, opErr("AttachmentLimitExceeded", "Interface count %d exceeds the limit for %s (%d, QUOTA-2)", len(inst.ENIs)+1, inst.TypeName(), lim.ENIs)
	} else if n := len(e.IPs()); n > lim.IPv4PerENI {
		return nil, opErr("PrivateIpAddressLimitExceeded", "Number of private addresses will exceed limit: %s has %d, a %s's interfaces hold %d (QUOTA-2)", e.ID, n, inst.TypeName(), lim.IPv4PerENI)
	}
	if !inst.Stopped {
		if err := d.k.PlugENI(inst, e, int(idx)); err != nil {
			return nil, err
		}
	}
	e.Instance, e.DeviceIndex = inst, int(idx)
	if !d.dryRunning() {
		setCreated(attachmentID(d.net, e), time.Now()) // the attachment's AttachTime
	}
	inst.ENIs = append(inst.ENIs, e)
	slices.SortFunc(inst.ENIs, func(a, b *topology.ENI) int { return a.DeviceIndex - b.DeviceIndex })
	return &types.AttachNetworkInterfaceResult{AttachmentId: ptr(attachmentID(d.net, e)), NetworkCardIndex: ptr(int32(0))}, nil
}

// detachNetworkInterface takes an ENI off its instance (never eth0: ENI-6).
// AttachmentId is the attachment's id or, as vpcnet's CLI sends
// --network-interface-id, the ENI's id or name. Force changes nothing: the
// device goes at once either way.
func (d *Service) detachNetworkInterface(in *types.DetachNetworkInterfaceRequest) (*struct{}, error) {
	ref := in.AttachmentId
	if ref == "" {
		return nil, opErr("MissingParameter", "The request must contain the parameter AttachmentId")
	}
	e, err := d.findENI(ref)
	if err != nil {
		for _, v := range d.net.VPCs {
			for _, g := range v.NATs {
				if ref == d.net.NewID("ela-attach", g.ID) { // the NAT gateway's own attachment (describeENI)
					return nil, refuseManaged(g.ENI, "detach")
				}
			}
		}
		if strings.HasPrefix(ref, "eni-attach-") || strings.HasPrefix(ref, "ela-attach-") {
			return nil, opErr("InvalidAttachmentID.NotFound", "The attachment ID '%s' does not exist", ref)
		}
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
	e.Instance, e.DeviceIndex, e.DeleteOnTermination = nil, 0, false
	return nil, nil
}

func (d *Service) modifyNetworkInterfaceAttribute(in *types.ModifyNetworkInterfaceAttributeRequest) (*struct{}, error) {
	if err := unsupported(in, "NetworkInterfaceId", "SourceDestCheck", "Groups", "Description"); err != nil {
		return nil, err
	}
	e, err := d.findENIParam(in.NetworkInterfaceId)
	if err != nil {
		return nil, err
	}
	var desc *string
	if in.Description != nil {
		if desc = in.Description.Value; desc == nil {
			return nil, opErr("MissingParameter", "The request must contain the parameter Description.Value")
		}
	}
	return nil, d.modifyENI(e, in.SourceDestCheck, in.Groups, desc)
}

// modifyENI changes an ENI's source/dest check (ENI-4), groups (ENI-2) or
// description; routing and requester-managed ENIs refuse (ENI-3, ENI-5).
// At least one change must be asked for. Everything is checked first.
func (d *Service) modifyENI(e *topology.ENI, sdc *types.AttributeBooleanValue, groups []string, desc *string) error {
	if err := refuseManaged(e, "modify"); err != nil {
		return err
	}
	if sdc != nil && sdc.Value == nil {
		return opErr("MissingParameter", "The request must contain the parameter SourceDestCheck.Value")
	}
	if sdc == nil && len(groups) == 0 && desc == nil {
		return opErr("MissingParameter", "The request must contain one of SourceDestCheck, Groups or Description")
	}
	if sdc != nil && *sdc.Value && e.Kind == topology.ENIRouting {
		return opErr("OperationNotPermitted", "The source/destination check of routing interface %s is off and cannot be turned on (ENI-3)", e.ID)
	}
	var gs []*topology.SecurityGroup
	if len(groups) > 0 {
		if e.Kind == topology.ENIRouting {
			return opErr("OperationNotPermitted", "Routing interface %s has no security groups (ENI-3)", e.ID)
		}
		var err error
		if gs, err = d.groupsOf(e.Subnet.VPC, groups); err != nil {
			return err
		}
	}
	if desc != nil {
		if err := checkDescription(desc); err != nil {
			return err
		}
	}
	if gs != nil {
		e.Groups = gs
	}
	if sdc != nil {
		e.SourceDestCheck = *sdc.Value
	}
	if desc != nil {
		e.Description = *desc
	}
	return nil
}

// parseIPs reads the addresses a request names, each once, then adds count
// free addresses of e's subnet (SecondaryPrivateIpAddressCount).
func parseIPs(e *topology.ENI, given []string, count *int32) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, s := range given {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() {
			return nil, opErr("InvalidParameterValue", "Invalid IPv4 address '%s'", s)
		}
		if slices.Contains(out, a) {
			return nil, opErr("InvalidParameterValue", "Address %s is given twice", a)
		}
		out = append(out, a)
	}
	if count != nil {
		n := *count
		if n < 1 || n > 49 {
			return nil, opErr("InvalidParameterValue", "Invalid value '%d' for secondaryPrivateIpAddressCount: 1 to 49", n)
		}
		for range n {
			a, ok := e.Subnet.FreePrivateIP(out...)
			if !ok {
				return nil, opErr("InsufficientFreeAddressesInSubnet", "Subnet %s has no free address", e.Subnet.ID)
			}
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, opErr("MissingParameter", "The request must contain the parameter PrivateIpAddresses or SecondaryPrivateIpAddressCount")
	}
	return out, nil
}

// assignPrivateIPs adds secondary private IPs to an ENI (ENI-1, ADDR-2):
// all of them or, on any refusal, none.
func (d *Service) assignPrivateIPs(in *types.AssignPrivateIpAddressesRequest) (*types.AssignPrivateIpAddressesResult, error) {
	if err := unsupported(in, "NetworkInterfaceId", "PrivateIpAddresses", "SecondaryPrivateIpAddressCount"); err != nil {
		return nil, err
	}
	e, err := d.findENIParam(in.NetworkInterfaceId)
	if err != nil {
		return nil, err
	}
	if err := refuseManaged(e, "modify"); err != nil {
		return nil, err
	}
	ips, err := parseIPs(e, in.PrivateIpAddresses, in.SecondaryPrivateIpAddressCount)
	if err != nil {
		return nil, err
	}
	for _, a := range ips {
		if err := checkPrivateIP(e.Subnet, a); err != nil {
			return nil, err
		}
	}
	// QUOTA-2: the instance type's addresses per interface (or, not
	// attached, MaxIPv4PerENI).
	if n := len(e.IPs()) + len(ips); n > e.IPv4Limit() {
		return nil, opErr("PrivateIpAddressLimitExceeded", "Number of private addresses will exceed limit: %s would have %d, at most %d (QUOTA-2)", e.ID, n, e.IPv4Limit())
	}
	was := e.SecondaryIPs
	e.SecondaryIPs = append(slices.Clone(e.SecondaryIPs), ips...)
	if err := d.k.ConfigureENI(e); err != nil {
		e.SecondaryIPs = was
		return nil, err
	}
	out := &types.AssignPrivateIpAddressesResult{NetworkInterfaceId: ptr(e.ID), AssignedPrivateIpAddresses: []types.AssignedPrivateIpAddress{}}
	for _, a := range ips {
		out.AssignedPrivateIpAddresses = append(out.AssignedPrivateIpAddresses, types.AssignedPrivateIpAddress{PrivateIpAddress: ptr(a.String())})
	}
	return out, nil
}

// unassignPrivateIPs removes secondary private IPs (never the primary);
// an EIP on one is disassociated.
func (d *Service) unassignPrivateIPs(in *types.UnassignPrivateIpAddressesRequest) (*struct{}, error) {
	if err := unsupported(in, "NetworkInterfaceId", "PrivateIpAddresses"); err != nil {
		return nil, err
	}
	e, err := d.findENIParam(in.NetworkInterfaceId)
	if err != nil {
		return nil, err
	}
	if err := refuseManaged(e, "modify"); err != nil {
		return nil, err
	}
	if len(in.PrivateIpAddresses) == 0 {
		return nil, opErr("MissingParameter", "The request must contain the parameter PrivateIpAddresses")
	}
	ips, err := parseIPs(e, in.PrivateIpAddresses, nil)
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
	return nil, nil
}
