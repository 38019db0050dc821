package ec2

import (
	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

// Reverse DNS of Elastic IPs (DNS-3): ModifyAddressAttribute,
// DescribeAddressesAttribute, ResetAddressAttribute. An EIP's PTR record is
// its public name (DNS-2) until a domain name is set, which AWS takes only
// when a forward record already points that name at the address: here a
// record of topo.json's public_dns_records, which the emulated public DNS
// serves. EC2 answers a change as PENDING; vpcnet makes it at once, so the
// next describe shows the new record, with no update pending.

func init() {
	Define("ModifyAddressAttribute", Mutating, (*Service).modifyAddressAttribute)
	Define("DescribeAddressesAttribute", ReadOnly, (*Service).describeAddressesAttribute)
	Define("ResetAddressAttribute", Mutating, (*Service).resetAddressAttribute)
}

// ptrPending is the status of a PTR change in EC2's answer to it.
const ptrPending = "PENDING"

// addressAttributeOf is e's domain-name attribute; with update, the change
// to it that an operation has asked for.
func addressAttributeOf(n *topology.Network, e *topology.EIP, update string) *types.AddressAttribute {
	x := &types.AddressAttribute{PublicIp: ptr(e.Addr.String()), AllocationId: ptr(e.AllocationID), PtrRecord: ptr(n.ReverseName(e))}
	if update != "" {
		x.PtrRecordUpdate = &types.PtrUpdateStatus{Value: ptr(update), Status: ptr(ptrPending)}
	}
	return x
}

// checkAttribute refuses an attribute other than domain-name, the one EC2 has.
func checkAttribute(a types.AddressAttributeName, required bool) error {
	switch {
	case a == "" && required:
		return opErr("MissingParameter", "The request must contain the parameter Attribute")
	case a != "" && a != types.AddressAttributeNameDomainName:
		return opErr("InvalidParameterValue", "Value (%s) for parameter attribute is invalid: the attribute is %s", a, types.AddressAttributeNameDomainName)
	}
	return nil
}

// modifyAddressAttribute sets an EIP's reverse DNS name, only when the
// emulated public DNS has a forward record of that name pointing at the
// address (DNS-3).
func (d *Service) modifyAddressAttribute(in *types.ModifyAddressAttributeRequest) (*types.ModifyAddressAttributeResult, error) {
	if in.AllocationId == "" {
		return nil, opErr("MissingParameter", "The request must contain the parameter AllocationId")
	}
	e, err := d.findEIP(in.AllocationId)
	if err != nil {
		return nil, err
	}
	name := deref(in.DomainName)
	if name == "" {
		return nil, opErr("MissingParameter", "The request must contain the parameter DomainName")
	}
	if err := topology.CheckDomainName(name); err != nil {
		return nil, opErr("InvalidParameterValue", "%v", err)
	}
	name = topology.CanonicalName(name)
	if !d.net.ForwardRecord(name, e.Addr) {
		return nil, opErr("InvalidParameterValue", "The domain name %s has no forward DNS record pointing at %s: create the A record first (DNS-3)", name, e.Addr)
	}
	x := addressAttributeOf(d.net, e, name+".")
	e.DomainName = name
	return &types.ModifyAddressAttributeResult{Address: x}, nil
}

// describeAddressesAttribute answers the domain-name attribute of the EIPs
// asked for, or of all of them.
func (d *Service) describeAddressesAttribute(in *types.DescribeAddressesAttributeRequest) (*types.DescribeAddressesAttributeResult, error) {
	if err := checkAttribute(in.Attribute, false); err != nil {
		return nil, err
	}
	var all []types.AddressAttribute
	for _, e := range d.net.EIPs {
		all = append(all, *addressAttributeOf(d.net, e, ""))
	}
	sortBy(all, func(x *types.AddressAttribute) *string { return x.AllocationId })
	var ids []string
	for _, ref := range in.AllocationIds {
		e, err := d.findEIP(ref) // ids, or vpcnet's names
		if err != nil {
			return nil, err
		}
		ids = append(ids, e.AllocationID)
	}
	out, err := byIDs(all, ids, func(x *types.AddressAttribute) string { return *x.AllocationId },
		func(id string) error {
			return opErr("InvalidAllocationID.NotFound", "The allocation ID '%s' does not exist", id)
		})
	if err != nil {
		return nil, err
	}
	out, next, err := page(out, in.MaxResults, in.NextToken, 1, 1000)
	if err != nil {
		return nil, err
	}
	return &types.DescribeAddressesAttributeResult{Addresses: append([]types.AddressAttribute{}, out...), NextToken: next}, nil
}

// resetAddressAttribute gives an EIP back its default PTR record, its
// public name (DNS-2).
func (d *Service) resetAddressAttribute(in *types.ResetAddressAttributeRequest) (*types.ResetAddressAttributeResult, error) {
	if in.AllocationId == "" {
		return nil, opErr("MissingParameter", "The request must contain the parameter AllocationId")
	}
	if err := checkAttribute(in.Attribute, true); err != nil {
		return nil, err
	}
	e, err := d.findEIP(in.AllocationId)
	if err != nil {
		return nil, err
	}
	x := addressAttributeOf(d.net, e, topology.PublicDNSName(d.net.Region, e.Addr)+".")
	e.DomainName = ""
	return &types.ResetAddressAttributeResult{Address: x}, nil
}
