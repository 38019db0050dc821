package ec2

import (
	"slices"

	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

// DHCP options sets (DNS-4): CreateDhcpOptions, AssociateDhcpOptions,
// DescribeDhcpOptions, DeleteDhcpOptions. A set is immutable, as on EC2;
// the region's default set (its private domain, AmazonProvidedDNS) is every
// new VPC's. Associating "default" leaves a VPC with no set. An instance's
// resolv.conf follows its VPC's set (topology.ResolvConf), rewritten live
// by the daemon after each change.

func init() {
	Define("CreateDhcpOptions", Mutating, (*Service).createDhcpOptions)
	Define("AssociateDhcpOptions", Mutating, (*Service).associateDhcpOptions)
	Define("DescribeDhcpOptions", ReadOnly, (*Service).describeDhcpOptions)
	Define("DeleteDhcpOptions", Mutating, (*Service).deleteDhcpOptions)
}

// noDHCPOptionsID is what EC2 names "no set": AssociateDhcpOptions takes
// it, DescribeVpcs shows it.
const noDHCPOptionsID = "default"

// dhcpOptionsID is v's set's id as DescribeVpcs shows it.
func dhcpOptionsID(v *topology.VPC) string {
	if v.DHCPOptions == nil {
		return noDHCPOptionsID
	}
	return v.DHCPOptions.ID
}

// findDHCPOptions finds a set by id or name (the default set by id only).
func (d *Service) findDHCPOptions(ref string) (*topology.DHCPOptions, error) {
	if ref == "" {
		return nil, opErr("MissingParameter", "The request must contain the parameter DhcpOptionsId")
	}
	d.net.DefaultDHCPOptions() // a network made without Resolve has it too
	for _, o := range d.net.DHCPOptions {
		if o.ID == ref || (o.Name != "" && o.Name == ref) {
			return o, nil
		}
	}
	return nil, opErr("InvalidDhcpOptionID.NotFound", "The dhcpOption ID '%s' does not exist", ref)
}

// dhcpUsers are the VPCs that use set o.
func (d *Service) dhcpUsers(o *topology.DHCPOptions) []*topology.VPC {
	var out []*topology.VPC
	for _, v := range d.net.VPCs {
		if v.DHCPOptions == o {
			out = append(out, v)
		}
	}
	return out
}

// dhcpOptionsOf is set o as EC2 describes it.
func (d *Service) dhcpOptionsOf(o *topology.DHCPOptions) types.DhcpOptions {
	x := types.DhcpOptions{DhcpOptionsId: ptr(o.ID), OwnerId: ptr(d.net.AccountID()), DhcpConfigurations: []types.DhcpConfiguration{},
		Tags: d.tagsOf(o.ID, o.Name)}
	for _, kv := range o.Options() {
		c := types.DhcpConfiguration{Key: ptr(kv[0].(string))}
		for _, v := range kv[1].([]string) {
			c.Values = append(c.Values, types.AttributeValue{Value: ptr(v)})
		}
		x.DhcpConfigurations = append(x.DhcpConfigurations, c)
	}
	if x.Tags == nil {
		x.Tags = []types.Tag{}
	}
	return x
}

// createDhcpOptions makes a set of the options given, each checked as the
// file's are (topology.DHCPOptions.Set; DNS-4).
func (d *Service) createDhcpOptions(in *types.CreateDhcpOptionsRequest) (*types.CreateDhcpOptionsResult, error) {
	if len(in.DhcpConfigurations) == 0 {
		return nil, opErr("MissingParameter", "The request must contain the parameter DhcpConfigurations")
	}
	o := &topology.DHCPOptions{}
	var seen []string
	for i, c := range in.DhcpConfigurations {
		key := deref(c.Key)
		if slices.Contains(seen, key) {
			return nil, opErr("InvalidParameterValue", "DhcpConfiguration.%d: the option %s is given twice", i+1, key)
		}
		seen = append(seen, key)
		if key == "ipv6-address-preferred-lease-time" {
			return nil, opErr("InvalidParameterValue", "DhcpConfiguration.%d: vpcnet's VPCs have no IPv6, so no %s", i+1, key)
		}
		if err := o.Set(key, c.Values); err != nil {
			return nil, opErr("InvalidParameterValue", "DhcpConfiguration.%d: %v (DNS-4)", i+1, err)
		}
	}
	want, err := nameFromTags(in.TagSpecifications, types.ResourceTypeDhcpOptions)
	if err != nil {
		return nil, err
	}
	if want == topology.NoDHCPOptions {
		return nil, opErr("InvalidParameterValue", "The name '%s' is what topo.json writes for a VPC with no DHCP options set", want)
	}
	name, err := d.newName(want, "dopt", topology.KindDHCP)
	if err != nil {
		return nil, err
	}
	o.Name, o.ID = name, d.net.NewID("dopt", name)
	d.net.DefaultDHCPOptions()
	d.net.DHCPOptions = append(slices.Clone(d.net.DHCPOptions), o)
	x := d.dhcpOptionsOf(o)
	return &types.CreateDhcpOptionsResult{DhcpOptions: &x}, nil
}

// associateDhcpOptions gives a VPC a set, or ("default") none. Instances
// see it at once: their resolv.conf is rewritten (DNS-4).
func (d *Service) associateDhcpOptions(in *types.AssociateDhcpOptionsRequest) (*struct{}, error) {
	var o *topology.DHCPOptions
	if in.DhcpOptionsId != noDHCPOptionsID {
		var err error
		if o, err = d.findDHCPOptions(in.DhcpOptionsId); err != nil {
			return nil, err
		}
	}
	v, err := d.findVPC(in.VpcId)
	if err != nil {
		return nil, err
	}
	v.DHCPOptions = o // the daemon rewrites every resolv.conf after each change
	return nil, nil
}

// describeDhcpOptions lists the sets, the region's default one first.
func (d *Service) describeDhcpOptions(in *types.DescribeDhcpOptionsRequest) (*types.DescribeDhcpOptionsResult, error) {
	var all []types.DhcpOptions
	for _, o := range d.net.DHCPOptions {
		all = append(all, d.dhcpOptionsOf(o))
	}
	out, err := byIDs(all, in.DhcpOptionsIds, func(x *types.DhcpOptions) string { return *x.DhcpOptionsId },
		func(id string) error {
			return opErr("InvalidDhcpOptionID.NotFound", "The dhcpOption ID '%s' does not exist", id)
		})
	if err != nil {
		return nil, err
	}
	if out, err = selectItems(out, in.Filters, dhcpFilters, func(x *types.DhcpOptions) []types.Tag { return x.Tags }); err != nil {
		return nil, err
	}
	out, next, err := page(out, in.MaxResults, in.NextToken, 5, 1000)
	if err != nil {
		return nil, err
	}
	return &types.DescribeDhcpOptionsResult{DhcpOptions: append([]types.DhcpOptions{}, out...), NextToken: next}, nil
}

// dhcpFilters are DescribeDhcpOptions' filters.
var dhcpFilters = filters[types.DhcpOptions]{
	"dhcp-options-id": func(x *types.DhcpOptions) []string { return one(x.DhcpOptionsId) },
	"owner-id":        func(x *types.DhcpOptions) []string { return one(x.OwnerId) },
	"key": func(x *types.DhcpOptions) []string {
		return each(x.DhcpConfigurations, func(c *types.DhcpConfiguration) []string { return one(c.Key) })
	},
	"value": func(x *types.DhcpOptions) []string {
		return each(x.DhcpConfigurations, func(c *types.DhcpConfiguration) []string {
			return each(c.Values, func(v *types.AttributeValue) []string { return one(v.Value) })
		})
	},
}

// deleteDhcpOptions deletes a set no VPC uses (DependencyViolation while
// one does). vpcnet keeps the region's default set: the file cannot say
// it is gone.
func (d *Service) deleteDhcpOptions(in *types.DeleteDhcpOptionsRequest) (*struct{}, error) {
	o, err := d.findDHCPOptions(in.DhcpOptionsId)
	if err != nil {
		return nil, err
	}
	if users := d.dhcpUsers(o); len(users) > 0 {
		return nil, opErr("DependencyViolation", "The dhcpOptions '%s' has dependencies and cannot be deleted: VPC %s uses it", o.ID, users[0].ID)
	}
	if o.Default {
		return nil, opErr("OperationNotPermitted", "The dhcpOptions '%s' is the region's default set, which vpcnet keeps", o.ID)
	}
	d.net.DHCPOptions = slices.DeleteFunc(slices.Clone(d.net.DHCPOptions), func(x *topology.DHCPOptions) bool { return x == o })
	return nil, nil
}
