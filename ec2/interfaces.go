package ec2

import (
	"net/netip"
	"slices"
	"strconv"

	"github.com/vpcnet/vpcnet/topology"
)

func init() {
	for name, fn := range map[string]opFunc{
		"CreateNetworkInterface":          (*Service).createNetworkInterface,
		"DeleteNetworkInterface":          (*Service).deleteNetworkInterface,
		"AttachNetworkInterface":          (*Service).attachNetworkInterface,
		"DetachNetworkInterface":          (*Service).detachNetworkInterface,
		"ModifyNetworkInterfaceAttribute": (*Service).modifyNetworkInterfaceAttribute,
	} {
		operations[name] = fn
	}
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
