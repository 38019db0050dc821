package ec2

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

// The small calls clients make around the real ones (issue 11): the
// topology's region and zones, the account's attributes, and a small fixed
// catalogue of images and instance types, so that `run-instances --image-id
// … --instance-type …` works as in the textbook's lab and SDKs and
// Terraform find what they look up first. An instance is a namespace
// whatever its image: the catalogue says what describe-* show, and
// RunInstances takes only its images.

func init() {
	Define("DescribeRegions", ReadOnly, (*Service).describeRegions)
	Define("DescribeAvailabilityZones", ReadOnly, (*Service).describeAvailabilityZones)
	Define("DescribeAccountAttributes", ReadOnly, (*Service).describeAccountAttributes)
	Define("DescribeImages", ReadOnly, (*Service).describeImages)
	Define("DescribeInstanceTypes", ReadOnly, (*Service).describeInstanceTypes)
}

// --- DescribeRegions -----------------------------------------------------------------

// regionName is a name of an AWS region (us-east-1, us-gov-west-1), not of
// a Local Zone's network border group (us-west-2-lax-1).
var regionName = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

// regionOf is region r as EC2 describes it.
func regionOf(r string) types.Region {
	domain := "amazonaws.com"
	if strings.HasPrefix(r, "cn-") {
		domain = "amazonaws.com.cn"
	}
	return types.Region{Endpoint: ptr("ec2." + r + "." + domain), RegionName: ptr(r), OptInStatus: ptr("opt-in-not-required")}
}

var regionFilters = filters[types.Region]{
	"endpoint":      func(r *types.Region) []string { return one(r.Endpoint) },
	"opt-in-status": func(r *types.Region) []string { return one(r.OptInStatus) },
	"region-name":   func(r *types.Region) []string { return one(r.RegionName) },
}

// describeRegions answers the regions the network is in: the topology's,
// and those of its address pools' network border groups that are regions
// (ADDR-5). With AllRegions the answer is the same: vpcnet has no other.
func (d *Service) describeRegions(in *types.DescribeRegionsRequest) (*types.DescribeRegionsResult, error) {
	names := []string{d.net.Region}
	for _, p := range d.net.Pools {
		if regionName.MatchString(p.BorderGroup) && !slices.Contains(names, p.BorderGroup) {
			names = append(names, p.BorderGroup)
		}
	}
	slices.Sort(names)
	all := []types.Region{}
	for _, r := range names {
		all = append(all, regionOf(r))
	}
	out, err := byIDs(all, in.RegionNames, func(r *types.Region) string { return *r.RegionName },
		func(name string) error { return opErr("InvalidParameterValue", "Invalid region: %s", name) })
	if err != nil {
		return nil, err
	}
	if out, err = selectItems(out, in.Filters, regionFilters, nil); err != nil {
		return nil, err
	}
	return &types.DescribeRegionsResult{Regions: append([]types.Region{}, out...)}, nil
}

// --- DescribeAvailabilityZones (INST-1) ---------------------------------------------------

// zoneOf is zone az of region as EC2 describes it: an availability zone
// (the region and one letter), or a Local Zone (us-west-2-lax-1a, of
// group us-west-2-lax-1).
func zoneOf(region, az string) types.AvailabilityZone {
	z := types.AvailabilityZone{State: types.AvailabilityZoneStateAvailable, Messages: []types.AvailabilityZoneMessage{},
		RegionName: ptr(region), ZoneName: ptr(az)}
	if id := zoneID(region, az); id != nil {
		z.ZoneId, z.ZoneType, z.OptInStatus = id, ptr("availability-zone"), types.AvailabilityZoneOptInStatusOptInNotRequired
		z.GroupName, z.NetworkBorderGroup = ptr(region), ptr(region)
		return z
	}
	group, letter := az[:len(az)-1], az[len(az)-1]
	n := 1
	if letter >= 'a' && letter <= 'z' {
		n = int(letter-'a') + 1
	}
	code := region // apne2 for ap-northeast-2, as zoneID writes it
	if id := zoneID(region, region+"a"); id != nil {
		code = strings.TrimSuffix(*id, "-az1")
	}
	local := strings.ReplaceAll(strings.TrimPrefix(strings.TrimPrefix(group, region), "-"), "-", "")
	z.ZoneId, z.ZoneType, z.OptInStatus = ptr(fmt.Sprintf("%s-%s-az%d", code, local, n)), ptr("local-zone"), types.AvailabilityZoneOptInStatusOptedIn
	z.GroupName, z.NetworkBorderGroup = ptr(group), ptr(group)
	return z
}

var zoneFilters = filters[types.AvailabilityZone]{
	"group-name":           func(z *types.AvailabilityZone) []string { return one(z.GroupName) },
	"message":              func(z *types.AvailabilityZone) []string { return nil },
	"network-border-group": func(z *types.AvailabilityZone) []string { return one(z.NetworkBorderGroup) },
	"opt-in-status":        func(z *types.AvailabilityZone) []string { return []string{string(z.OptInStatus)} },
	"parent-zone-id":       func(z *types.AvailabilityZone) []string { return one(z.ParentZoneId) },
	"parent-zone-name":     func(z *types.AvailabilityZone) []string { return one(z.ParentZoneName) },
	"region-name":          func(z *types.AvailabilityZone) []string { return one(z.RegionName) },
	"state":                func(z *types.AvailabilityZone) []string { return []string{string(z.State)} },
	"zone-id":              func(z *types.AvailabilityZone) []string { return one(z.ZoneId) },
	"zone-name":            func(z *types.AvailabilityZone) []string { return one(z.ZoneName) },
	"zone-type":            func(z *types.AvailabilityZone) []string { return one(z.ZoneType) },
}

// describeAvailabilityZones answers the zones the topology's subnets are in
// (the region's first zone if it has none): vpcnet has no CreateSubnet, so
// a zone without a subnet has nothing to launch into (INST-1).
func (d *Service) describeAvailabilityZones(in *types.DescribeAvailabilityZonesRequest) (*types.DescribeAvailabilityZonesResult, error) {
	var names []string
	for _, v := range d.net.VPCs {
		for _, s := range v.Subnets {
			if !slices.Contains(names, s.AZ) {
				names = append(names, s.AZ)
			}
		}
	}
	if len(names) == 0 {
		names = []string{d.net.Region + "a"}
	}
	slices.Sort(names)
	all := []types.AvailabilityZone{}
	for _, az := range names {
		all = append(all, zoneOf(d.net.Region, az))
	}
	notFound := func(z string) error { return opErr("InvalidParameterValue", "The zone '%s' does not exist.", z) }
	out, err := byIDs(all, in.ZoneNames, func(z *types.AvailabilityZone) string { return *z.ZoneName }, notFound)
	if err != nil {
		return nil, err
	}
	if out, err = byIDs(out, in.ZoneIds, func(z *types.AvailabilityZone) string { return *z.ZoneId }, notFound); err != nil {
		return nil, err
	}
	if out, err = selectItems(out, in.Filters, zoneFilters, nil); err != nil {
		return nil, err
	}
	return &types.DescribeAvailabilityZonesResult{AvailabilityZones: append([]types.AvailabilityZone{}, out...)}, nil
}

// --- DescribeAccountAttributes (QUOTA-1) ------------------------------------------------

// accountAttributes are the account's attributes, in the order EC2 lists
// them: a VPC-only account with no default VPC, and AWS's default quotas.
var accountAttributes = []struct{ name, value string }{
	{"vpc-max-security-groups-per-interface", "5"},
	{"max-instances", "20"},
	{"supported-platforms", "VPC"},
	{"default-vpc", "none"},
	{"max-elastic-ips", "5"},
	{"vpc-max-elastic-ips", "5"},
}

func (d *Service) describeAccountAttributes(in *types.DescribeAccountAttributesRequest) (*types.DescribeAccountAttributesResult, error) {
	for _, name := range in.AttributeNames {
		if !slices.ContainsFunc(accountAttributes, func(a struct{ name, value string }) bool { return a.name == string(name) }) {
			return nil, opErr("InvalidParameterValue", "Value (%s) for parameter attributeName is invalid. Unknown attribute.", name)
		}
	}
	out := &types.DescribeAccountAttributesResult{AccountAttributes: []types.AccountAttribute{}}
	for _, a := range accountAttributes {
		if len(in.AttributeNames) > 0 && !slices.Contains(in.AttributeNames, types.AccountAttributeName(a.name)) {
			continue
		}
		out.AccountAttributes = append(out.AccountAttributes, types.AccountAttribute{AttributeName: ptr(a.name),
			AttributeValues: []types.AccountAttributeValue{{AttributeValue: ptr(a.value)}}})
	}
	return out, nil
}

// --- DescribeImages ---------------------------------------------------------------------

// The owners of the catalogue's images: Amazon and Canonical.
const (
	amazonImageOwner    = "137112412989"
	canonicalImageOwner = "099720109477"
)

// image is one image of the catalogue.
type image struct {
	id, name, description string
	owner, alias          string // alias "" for an owner without one
	created               string // CreationDate, as EC2 writes it
	root                  string // the root device
	snapshot              string
	volume                types.VolumeType
	imds                  types.ImdsSupportValues
}

// images are the catalogue: launchImageID (what an instance of the file
// runs), and the images the textbook's and AWS's own examples launch. The
// ids are vpcnet's: AWS's differ from region to region.
var images = []image{
	{id: launchImageID, name: "al2023-ami-2023.6.20241212.0-kernel-6.1-x86_64",
		description: "Amazon Linux 2023 AMI 2023.6.20241212.0 x86_64 HVM kernel-6.1", owner: amazonImageOwner, alias: "amazon",
		created: "2024-12-12T20:53:17.000Z", root: rootDeviceName, snapshot: "snap-055785f57b3f5ca39", volume: types.VolumeTypeGp3,
		imds: types.ImdsSupportValuesV20},
	{id: "ami-0889b8acd06045e04", name: "amzn2-ami-kernel-5.10-hvm-2.0.20241217.0-x86_64-gp2",
		description: "Amazon Linux 2 Kernel 5.10 AMI 2.0.20241217.0 x86_64 HVM gp2", owner: amazonImageOwner, alias: "amazon",
		created: "2024-12-18T02:01:32.000Z", root: rootDeviceName, snapshot: "snap-02516f2747bd380f1", volume: types.VolumeTypeGp2},
	{id: "ami-0e57369a62a7b3150", name: "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20241217",
		description: "Canonical, Ubuntu, 22.04 LTS, amd64 jammy image build on 2024-12-17", owner: canonicalImageOwner,
		created: "2024-12-17T05:32:19.000Z", root: "/dev/sda1", snapshot: "snap-07e8f4453d6d7934c", volume: types.VolumeTypeGp2},
	{id: "ami-09984a2c48988c4d1", name: "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20241206",
		description: "Canonical, Ubuntu, 24.04, amd64 noble image", owner: canonicalImageOwner,
		created: "2024-12-06T04:14:00.000Z", root: "/dev/sda1", snapshot: "snap-02bbee90d213ea6e3", volume: types.VolumeTypeGp3},
}

// catalogType returns the catalogue's type t, or nil.
func catalogType(t types.InstanceType) *instanceType {
	i := slices.IndexFunc(instanceTypes, func(x instanceType) bool { return x.name == t })
	if i < 0 {
		return nil
	}
	return &instanceTypes[i]
}

// catalogImage returns the catalogue's image id, or nil.
func catalogImage(id string) *image {
	i := slices.IndexFunc(images, func(m image) bool { return m.id == id })
	if i < 0 {
		return nil
	}
	return &images[i]
}

// imageOf is image m as EC2 describes it.
func imageOf(m image) types.Image {
	location := m.owner + "/" + m.name
	var alias *string
	if m.alias != "" {
		location, alias = m.alias+"/"+m.name, ptr(m.alias)
	}
	return types.Image{
		Architecture: types.ArchitectureValuesX8664, CreationDate: ptr(m.created), ImageId: ptr(m.id), ImageLocation: ptr(location),
		ImageType: types.ImageTypeValuesMachine, Public: ptr(true), OwnerId: ptr(m.owner), PlatformDetails: ptr("Linux/UNIX"),
		UsageOperation: ptr("RunInstances"), State: types.ImageStateAvailable,
		BlockDeviceMappings: []types.BlockDeviceMapping{{DeviceName: ptr(m.root), Ebs: &types.EbsBlockDevice{DeleteOnTermination: ptr(true),
			SnapshotId: ptr(m.snapshot), VolumeSize: ptr(int32(8)), VolumeType: m.volume, Encrypted: ptr(false)}}},
		Description: ptr(m.description), EnaSupport: ptr(true), Hypervisor: types.HypervisorTypeXen, ImageOwnerAlias: alias,
		Name: ptr(m.name), RootDeviceName: ptr(m.root), RootDeviceType: types.DeviceTypeEbs, SriovNetSupport: ptr("simple"),
		VirtualizationType: types.VirtualizationTypeHvm, ImdsSupport: m.imds,
	}
}

// imageBlock gives an image filter the values of its root volume.
func imageBlock(f func(b *types.BlockDeviceMapping) []string) func(m *types.Image) []string {
	return func(m *types.Image) []string { return each(m.BlockDeviceMappings, f) }
}

var imageFilters = filters[types.Image]{
	"architecture": func(m *types.Image) []string { return []string{string(m.Architecture)} },
	"block-device-mapping.delete-on-termination": imageBlock(func(b *types.BlockDeviceMapping) []string {
		return oneBool(b.Ebs.DeleteOnTermination)
	}),
	"block-device-mapping.device-name": imageBlock(func(b *types.BlockDeviceMapping) []string { return one(b.DeviceName) }),
	"block-device-mapping.encrypted":   imageBlock(func(b *types.BlockDeviceMapping) []string { return oneBool(b.Ebs.Encrypted) }),
	"block-device-mapping.snapshot-id": imageBlock(func(b *types.BlockDeviceMapping) []string { return one(b.Ebs.SnapshotId) }),
	"block-device-mapping.volume-size": imageBlock(func(b *types.BlockDeviceMapping) []string { return oneInt(b.Ebs.VolumeSize) }),
	"block-device-mapping.volume-type": imageBlock(func(b *types.BlockDeviceMapping) []string { return []string{string(b.Ebs.VolumeType)} }),
	"creation-date":                    func(m *types.Image) []string { return one(m.CreationDate) },
	"description":                      func(m *types.Image) []string { return one(m.Description) },
	"ena-support":                      func(m *types.Image) []string { return oneBool(m.EnaSupport) },
	"hypervisor":                       func(m *types.Image) []string { return []string{string(m.Hypervisor)} },
	"image-id":                         func(m *types.Image) []string { return one(m.ImageId) },
	"image-type":                       func(m *types.Image) []string { return []string{string(m.ImageType)} },
	"imds-support":                     func(m *types.Image) []string { return []string{string(m.ImdsSupport)} },
	"is-public":                        func(m *types.Image) []string { return oneBool(m.Public) },
	"kernel-id":                        func(m *types.Image) []string { return nil },
	"manifest-location":                func(m *types.Image) []string { return one(m.ImageLocation) },
	"name":                             func(m *types.Image) []string { return one(m.Name) },
	"owner-alias":                      func(m *types.Image) []string { return one(m.ImageOwnerAlias) },
	"owner-id":                         func(m *types.Image) []string { return one(m.OwnerId) },
	"platform":                         func(m *types.Image) []string { return nil }, // Linux: no Platform
	"platform-details":                 func(m *types.Image) []string { return one(m.PlatformDetails) },
	"product-code":                     func(m *types.Image) []string { return nil },
	"ramdisk-id":                       func(m *types.Image) []string { return nil },
	"root-device-name":                 func(m *types.Image) []string { return one(m.RootDeviceName) },
	"root-device-type":                 func(m *types.Image) []string { return []string{string(m.RootDeviceType)} },
	"sriov-net-support":                func(m *types.Image) []string { return one(m.SriovNetSupport) },
	"state":                            func(m *types.Image) []string { return []string{string(m.State)} },
	"usage-operation":                  func(m *types.Image) []string { return one(m.UsageOperation) },
	"virtualization-type":              func(m *types.Image) []string { return []string{string(m.VirtualizationType)} },
}

// awsAccountID is an AWS account id: 12 digits.
var awsAccountID = regexp.MustCompile(`^[0-9]{12}$`)

// imageNotFound is EC2's error for an image id that is not in the
// catalogue (or not an image id).
func imageNotFound(id string) error {
	if !amiID.MatchString(id) {
		return opErr("InvalidAMIID.Malformed", "Invalid id: \"%s\" (expecting \"ami-...\")", id)
	}
	return opErr("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", id)
}

// describeImages answers the catalogue's images that the ids, owners,
// executable users and filters select. Every image is public, Amazon's or
// Canonical's: the account owns none (Owners self) and no image is shared
// with it alone (ExecutableUsers self).
func (d *Service) describeImages(in *types.DescribeImagesRequest) (*types.DescribeImagesResult, error) {
	if err := unsupported(in, "ExecutableUsers", "Filters", "ImageIds", "Owners", "IncludeDeprecated"); err != nil {
		return nil, err
	}
	all := []types.Image{}
	for _, m := range images {
		all = append(all, imageOf(m))
	}
	sortBy(all, func(m *types.Image) *string { return m.ImageId })
	out, err := byIDs(all, in.ImageIds, func(m *types.Image) string { return *m.ImageId }, imageNotFound)
	if err != nil {
		return nil, err
	}
	for _, o := range in.Owners {
		if o != "self" && o != "amazon" && o != "aws-marketplace" && o != "aws-backup-vault" && !awsAccountID.MatchString(o) {
			return nil, opErr("InvalidUserID.Malformed", "Invalid user id: \"%s\"", o)
		}
	}
	for _, u := range in.ExecutableUsers {
		if u != "self" && u != "all" && !awsAccountID.MatchString(u) {
			return nil, opErr("InvalidUserID.Malformed", "Invalid user id: \"%s\"", u)
		}
	}
	out = slices.DeleteFunc(out, func(m types.Image) bool {
		owned := len(in.Owners) == 0 || slices.Contains(in.Owners, *m.OwnerId) || (m.ImageOwnerAlias != nil && slices.Contains(in.Owners, *m.ImageOwnerAlias))
		runs := len(in.ExecutableUsers) == 0 || slices.Contains(in.ExecutableUsers, "all")
		return !owned || !runs
	})
	if out, err = selectItems(out, in.Filters, imageFilters, func(m *types.Image) []types.Tag { return m.Tags }); err != nil {
		return nil, err
	}
	return &types.DescribeImagesResult{Images: append([]types.Image{}, out...)}, nil
}

// --- DescribeInstanceTypes (QUOTA-2) ------------------------------------------------------

// instanceType is one type of the catalogue, with AWS's published numbers.
type instanceType struct {
	name                   types.InstanceType
	vcpus, cores, threads  int32
	memMiB                 int64
	network                string // NetworkPerformance (QUOTA-2's limits: topology.InstanceTypeLimits)
	hypervisor             types.InstanceTypeHypervisor
	ghz                    float64
	burstable, freeTier    bool
	ebsBase, ebsMax        int32 // Mbps
	ebsBaseIops, ebsMaxIop int32 // IOPS
	bootModes              []types.BootModeType
	architectures          []types.ArchitectureType
	ebsOptimized           types.EbsOptimizedSupport
}

// instanceTypes are the catalogue: t2.micro, what an instance of the file
// is unless it names its instance_type (launchInstanceType), and the types
// AWS's examples launch. Their network limits (QUOTA-2) are the topology's
// table (topology.InstanceTypeLimits), which the file's instances and
// every operation hold them to.
var instanceTypes = []instanceType{
	{name: types.InstanceTypeT2Micro, vcpus: 1, cores: 1, threads: 1, memMiB: 1024, network: "Low to Moderate",
		hypervisor: types.InstanceTypeHypervisorXen, ghz: 2.5, burstable: true, freeTier: true, ebsOptimized: types.EbsOptimizedSupportUnsupported,
		bootModes: []types.BootModeType{types.BootModeTypeLegacyBios}, architectures: []types.ArchitectureType{types.ArchitectureTypeI386, types.ArchitectureTypeX8664}},
	{name: types.InstanceTypeT3Micro, vcpus: 2, cores: 1, threads: 2, memMiB: 1024, network: "Up to 5 Gigabit",
		hypervisor: types.InstanceTypeHypervisorNitro, ghz: 2.5, burstable: true, freeTier: true, ebsOptimized: types.EbsOptimizedSupportDefault,
		ebsBase: 87, ebsMax: 2085, ebsBaseIops: 500, ebsMaxIop: 11800},
	{name: types.InstanceTypeT3Small, vcpus: 2, cores: 1, threads: 2, memMiB: 2048, network: "Up to 5 Gigabit",
		hypervisor: types.InstanceTypeHypervisorNitro, ghz: 2.5, burstable: true, ebsOptimized: types.EbsOptimizedSupportDefault,
		ebsBase: 174, ebsMax: 2085, ebsBaseIops: 1000, ebsMaxIop: 11800},
	{name: types.InstanceTypeM5Large, vcpus: 2, cores: 1, threads: 2, memMiB: 8192, network: "Up to 10 Gigabit",
		hypervisor: types.InstanceTypeHypervisorNitro, ghz: 3.1, ebsOptimized: types.EbsOptimizedSupportDefault,
		ebsBase: 650, ebsMax: 4750, ebsBaseIops: 3600, ebsMaxIop: 18750},
}

// instanceTypeOf is type t as EC2 describes it.
func instanceTypeOf(t instanceType) types.InstanceTypeInfo {
	l, _ := topology.InstanceTypeLimits(string(t.name))
	enis, ipv4PerENI := int32(l.ENIs), int32(l.IPv4PerENI)
	nitro := t.hypervisor == types.InstanceTypeHypervisorNitro
	archs, boot := t.architectures, t.bootModes
	if archs == nil {
		archs = []types.ArchitectureType{types.ArchitectureTypeX8664}
	}
	if boot == nil {
		boot = []types.BootModeType{types.BootModeTypeLegacyBios, types.BootModeTypeUefi}
	}
	ena, nvme := types.EnaSupportUnsupported, types.EbsNvmeSupportUnsupported
	if nitro {
		ena, nvme = types.EnaSupportRequired, types.EbsNvmeSupportRequired
	}
	cpu := &types.VCpuInfo{DefaultVCpus: ptr(t.vcpus), DefaultCores: ptr(t.cores), DefaultThreadsPerCore: ptr(t.threads)}
	if nitro { // CPU options: cores and threads per core may be chosen
		cpu.ValidCores, cpu.ValidThreadsPerCore = []int32{t.cores}, []int32{1, t.threads}
	}
	ebs := &types.EbsInfo{EbsOptimizedSupport: t.ebsOptimized, EncryptionSupport: types.EbsEncryptionSupportSupported, NvmeSupport: nvme}
	if t.ebsBase > 0 {
		ebs.EbsOptimizedInfo = &types.EbsOptimizedInfo{BaselineBandwidthInMbps: ptr(t.ebsBase), BaselineThroughputInMBps: ptr(float64(t.ebsBase) / 8),
			BaselineIops: ptr(t.ebsBaseIops), MaximumBandwidthInMbps: ptr(t.ebsMax), MaximumThroughputInMBps: ptr(float64(t.ebsMax) / 8),
			MaximumIops: ptr(t.ebsMaxIop)}
	}
	return types.InstanceTypeInfo{
		InstanceType: t.name, CurrentGeneration: ptr(true), FreeTierEligible: ptr(t.freeTier),
		SupportedUsageClasses:        []types.UsageClassType{types.UsageClassTypeOnDemand, types.UsageClassTypeSpot},
		SupportedRootDeviceTypes:     []types.RootDeviceType{types.RootDeviceTypeEbs},
		SupportedVirtualizationTypes: []types.VirtualizationType{types.VirtualizationTypeHvm},
		BareMetal:                    ptr(false), Hypervisor: t.hypervisor,
		ProcessorInfo: &types.ProcessorInfo{SupportedArchitectures: archs, SustainedClockSpeedInGhz: ptr(t.ghz)},
		VCpuInfo:      cpu, MemoryInfo: &types.MemoryInfo{SizeInMiB: ptr(t.memMiB)},
		InstanceStorageSupported: ptr(false), EbsInfo: ebs,
		NetworkInfo: &types.NetworkInfo{NetworkPerformance: ptr(t.network), MaximumNetworkInterfaces: ptr(enis),
			MaximumNetworkCards: ptr(int32(1)), DefaultNetworkCardIndex: ptr(int32(0)),
			NetworkCards: []types.NetworkCardInfo{{NetworkCardIndex: ptr(int32(0)), NetworkPerformance: ptr(t.network),
				MaximumNetworkInterfaces: ptr(enis)}},
			Ipv4AddressesPerInterface: ptr(ipv4PerENI), Ipv6AddressesPerInterface: ptr(ipv4PerENI), Ipv6Supported: ptr(true),
			EnaSupport: ena, EfaSupported: ptr(false), EncryptionInTransitSupported: ptr(false), EnaSrdSupported: ptr(false)},
		PlacementGroupInfo: &types.PlacementGroupInfo{SupportedStrategies: []types.PlacementGroupStrategy{types.PlacementGroupStrategyPartition,
			types.PlacementGroupStrategySpread}},
		HibernationSupported: ptr(true), BurstablePerformanceSupported: ptr(t.burstable), DedicatedHostsSupported: ptr(nitro),
		AutoRecoverySupported: ptr(true), SupportedBootModes: boot,
	}
}

var instanceTypeFilters = filters[types.InstanceTypeInfo]{
	"auto-recovery-supported":         func(t *types.InstanceTypeInfo) []string { return oneBool(t.AutoRecoverySupported) },
	"bare-metal":                      func(t *types.InstanceTypeInfo) []string { return oneBool(t.BareMetal) },
	"burstable-performance-supported": func(t *types.InstanceTypeInfo) []string { return oneBool(t.BurstablePerformanceSupported) },
	"current-generation":              func(t *types.InstanceTypeInfo) []string { return oneBool(t.CurrentGeneration) },
	"free-tier-eligible":              func(t *types.InstanceTypeInfo) []string { return oneBool(t.FreeTierEligible) },
	"hibernation-supported":           func(t *types.InstanceTypeInfo) []string { return oneBool(t.HibernationSupported) },
	"hypervisor":                      func(t *types.InstanceTypeInfo) []string { return []string{string(t.Hypervisor)} },
	"instance-storage-supported":      func(t *types.InstanceTypeInfo) []string { return oneBool(t.InstanceStorageSupported) },
	"instance-type":                   func(t *types.InstanceTypeInfo) []string { return []string{string(t.InstanceType)} },
	"memory-info.size-in-mib": func(t *types.InstanceTypeInfo) []string {
		return []string{fmt.Sprint(*t.MemoryInfo.SizeInMiB)}
	},
	"network-info.ena-support": func(t *types.InstanceTypeInfo) []string { return []string{string(t.NetworkInfo.EnaSupport)} },
	"network-info.ipv4-addresses-per-interface": func(t *types.InstanceTypeInfo) []string {
		return oneInt(t.NetworkInfo.Ipv4AddressesPerInterface)
	},
	"network-info.ipv6-supported": func(t *types.InstanceTypeInfo) []string { return oneBool(t.NetworkInfo.Ipv6Supported) },
	"network-info.maximum-network-interfaces": func(t *types.InstanceTypeInfo) []string {
		return oneInt(t.NetworkInfo.MaximumNetworkInterfaces)
	},
	"network-info.network-performance": func(t *types.InstanceTypeInfo) []string { return one(t.NetworkInfo.NetworkPerformance) },
	"processor-info.supported-architecture": func(t *types.InstanceTypeInfo) []string {
		return each(t.ProcessorInfo.SupportedArchitectures, func(a *types.ArchitectureType) []string { return []string{string(*a)} })
	},
	"supported-boot-mode": func(t *types.InstanceTypeInfo) []string {
		return each(t.SupportedBootModes, func(b *types.BootModeType) []string { return []string{string(*b)} })
	},
	"supported-root-device-type": func(t *types.InstanceTypeInfo) []string {
		return each(t.SupportedRootDeviceTypes, func(r *types.RootDeviceType) []string { return []string{string(*r)} })
	},
	"supported-usage-class": func(t *types.InstanceTypeInfo) []string {
		return each(t.SupportedUsageClasses, func(u *types.UsageClassType) []string { return []string{string(*u)} })
	},
	"vcpu-info.default-cores":            func(t *types.InstanceTypeInfo) []string { return oneInt(t.VCpuInfo.DefaultCores) },
	"vcpu-info.default-threads-per-core": func(t *types.InstanceTypeInfo) []string { return oneInt(t.VCpuInfo.DefaultThreadsPerCore) },
	"vcpu-info.default-vcpus":            func(t *types.InstanceTypeInfo) []string { return oneInt(t.VCpuInfo.DefaultVCpus) },
}

// describeInstanceTypes answers the catalogue's types that the names and
// filters select. A type EC2 has but the catalogue lacks is not found:
// vpcnet does not know its numbers.
func (d *Service) describeInstanceTypes(in *types.DescribeInstanceTypesRequest) (*types.DescribeInstanceTypesResult, error) {
	all := []types.InstanceTypeInfo{}
	for _, t := range instanceTypes {
		all = append(all, instanceTypeOf(t))
	}
	var names []string
	for _, t := range in.InstanceTypes {
		names = append(names, string(t))
	}
	out, err := byIDs(all, names, func(t *types.InstanceTypeInfo) string { return string(t.InstanceType) },
		func(name string) error {
			return opErr("InvalidInstanceType", "The following supplied instance types do not exist: [%s]", name)
		})
	if err != nil {
		return nil, err
	}
	if out, err = selectItems(out, in.Filters, instanceTypeFilters, nil); err != nil {
		return nil, err
	}
	out, next, err := page(out, in.MaxResults, in.NextToken, 5, 100)
	if err != nil {
		return nil, err
	}
	return &types.DescribeInstanceTypesResult{InstanceTypes: append([]types.InstanceTypeInfo{}, out...), NextToken: next}, nil
}
