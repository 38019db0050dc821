package imds

import (
	"net/netip"
	"slices"

	"github.com/vpcnet/vpcnet/ec2"
	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

// InstanceAt is the running instance of the VPC with id vpcID ("" for any
// VPC) that has private IP src on one of its ENIs, or nil. A VPC's
// addresses are unique in it; VPCs may overlap (ADDR-6), so the daemon,
// which serves one metadata address per VPC, names the VPC.
func InstanceAt(n *topology.Network, vpcID string, src netip.Addr) *topology.Instance {
	for _, v := range n.VPCs {
		if vpcID != "" && v.ID != vpcID {
			continue
		}
		for _, i := range v.Instances {
			if i.Stopped {
				continue
			}
			for _, e := range i.ENIs {
				if e.PrimaryIP == src || slices.Contains(e.SecondaryIPs, src) {
					return i
				}
			}
		}
	}
	return nil
}

// Describe is the metadata of the running instance of VPC vpcID that has
// private IP src, from network n and its EC2 service svc (its
// describe-instances answer), or false. The caller holds the lock that
// guards n.
func Describe(n *topology.Network, svc *ec2.Service, vpcID string, src netip.Addr) (Instance, bool) {
	i := InstanceAt(n, vpcID, src)
	if i == nil {
		return Instance{}, false
	}
	out, err := svc.CallInput("DescribeInstances", map[string]any{"InstanceIds": []any{i.ID}})
	res, ok := out.(*types.DescribeInstancesResult)
	if err != nil || !ok || len(res.Reservations) != 1 || len(res.Reservations[0].Instances) != 1 {
		return Instance{}, false
	}
	return Facts(n, i, &res.Reservations[0]), true
}

// Facts are instance i's metadata. r is describe-instances' reservation of
// i: names, addresses, image and launch come from the same answer as
// describe-instances gives (so the two agree, also as they change); the
// model adds what describe does not say (CIDR blocks, user data, region,
// the HttpTokens option).
func Facts(n *topology.Network, i *topology.Instance, r *types.Reservation) Instance {
	x := &r.Instances[0]
	f := Instance{
		ID: i.ID, ImageID: deref(x.ImageId), Type: string(x.InstanceType), AccountID: n.AccountID(),
		Region: n.Region, ReservationID: deref(r.ReservationId), LocalHostname: deref(x.PrivateDnsName),
		PublicHostname: deref(x.PublicDnsName), UserData: []byte(i.UserData), HasUserData: i.UserData != "",
		TokensRequired: i.MetadataTokens == topology.MetadataTokensRequired, // IMDS-1
	}
	if x.AmiLaunchIndex != nil {
		f.LaunchIndex = int(*x.AmiLaunchIndex)
	}
	if x.LaunchTime != nil {
		f.PendingTime = *x.LaunchTime
	}
	if x.Placement != nil {
		f.AZ = deref(x.Placement.AvailabilityZone)
	}
	f.PrivateIP, _ = netip.ParseAddr(deref(x.PrivateIpAddress))
	f.PublicIP, _ = netip.ParseAddr(deref(x.PublicIpAddress))
	for _, g := range x.SecurityGroups {
		f.SecurityGroups = append(f.SecurityGroups, deref(g.GroupName))
	}
	vpcCIDRs := append([]netip.Prefix{i.VPC.CIDR}, i.VPC.SecondaryCIDRs...)
	for _, ex := range x.NetworkInterfaces {
		e := Interface{MAC: deref(ex.MacAddress), ID: deref(ex.NetworkInterfaceId), OwnerID: deref(ex.OwnerId),
			LocalHostname: deref(ex.PrivateDnsName), SubnetID: deref(ex.SubnetId), VPCID: deref(ex.VpcId), VPCCIDRs: vpcCIDRs}
		if ex.Attachment != nil && ex.Attachment.DeviceIndex != nil {
			e.DeviceNumber = int(*ex.Attachment.DeviceIndex)
		}
		if ex.Association != nil {
			e.PublicHostname = deref(ex.Association.PublicDnsName)
		}
		for _, p := range ex.PrivateIpAddresses {
			priv, err := netip.ParseAddr(deref(p.PrivateIpAddress))
			if err != nil {
				continue
			}
			e.LocalIPv4s = append(e.LocalIPv4s, priv)
			if p.Association != nil {
				if pub, err := netip.ParseAddr(deref(p.Association.PublicIp)); err == nil {
					e.Associations = append(e.Associations, Association{Public: pub, Private: priv})
				}
			}
		}
		for _, g := range ex.Groups {
			e.SecurityGroupIDs = append(e.SecurityGroupIDs, deref(g.GroupId))
			e.SecurityGroups = append(e.SecurityGroups, deref(g.GroupName))
		}
		for _, s := range i.VPC.Subnets {
			if s.ID == e.SubnetID {
				e.SubnetCIDR = s.CIDR
			}
		}
		f.Interfaces = append(f.Interfaces, e)
	}
	slices.SortStableFunc(f.Interfaces, func(a, b Interface) int { return a.DeviceNumber - b.DeviceNumber })
	return f
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
