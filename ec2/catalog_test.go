package ec2

import (
	"fmt"
	"slices"
	"testing"

	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

// catalogTopology has subnets in two availability zones and a Local Zone,
// and pools of the region, of another region and of a Local Zone's border
// group.
const catalogTopology = `{"name": "cat", "region": "us-west-2",
 "address_pools": [
  {"name": "amazon", "cidrs": ["44.224.0.0/16"], "network_border_group": "us-west-2"},
  {"name": "east", "cidrs": ["3.80.0.0/16"], "network_border_group": "us-east-1"},
  {"name": "lax", "cidrs": ["15.220.0.0/16"], "network_border_group": "us-west-2-lax-1"}],
 "vpcs": [{"name": "v", "cidr": "10.0.0.0/16", "subnets": [
  {"name": "b", "cidr": "10.0.2.0/24", "az": "us-west-2b"},
  {"name": "a", "cidr": "10.0.1.0/24", "az": "us-west-2a"},
  {"name": "a2", "cidr": "10.0.3.0/24", "az": "us-west-2a"},
  {"name": "lz", "cidr": "10.0.4.0/24", "az": "us-west-2-lax-1a"}]}]}`

// The regions are the topology's and its pools' border groups that are
// regions; each as EC2 describes it.
func TestCatalog_DescribeRegions(t *testing.T) {
	d := describeService(t, []byte(catalogTopology))
	v := describe(t, d, "DescribeRegions", nil)
	if got := fmt.Sprint(ids(v, "Regions", "RegionName")); got != "[us-east-1 us-west-2]" {
		t.Fatalf("regions %s, want the region and us-east-1 (not the Local Zone's group)", got)
	}
	if got := fmt.Sprint(at(v, "Regions[].Endpoint"), at(v, "Regions[].OptInStatus")); got !=
		"[ec2.us-east-1.amazonaws.com ec2.us-west-2.amazonaws.com] [opt-in-not-required opt-in-not-required]" {
		t.Errorf("endpoints and opt-in: %s", got)
	}
	v = describe(t, d, "DescribeRegions", map[string]any{"AllRegions": true,
		"Filters": []any{map[string]any{"Name": "region-name", "Values": []any{"us-west-*"}}}})
	if got := fmt.Sprint(ids(v, "Regions", "RegionName")); got != "[us-west-2]" {
		t.Errorf("region-name us-west-*: %s", got)
	}
	if got := fmt.Sprint(ids(describe(t, describeService(t, topology.Default()), "DescribeRegions", nil), "Regions", "RegionName")); got != "[ap-northeast-2]" {
		t.Errorf("the textbook's regions: %s", got)
	}
	for _, in := range []map[string]any{{"RegionNames": []any{"eu-west-1"}}, {"Filters": []any{map[string]any{"Name": "nope", "Values": []any{"x"}}}}} {
		if code := describeErr(d, "DescribeRegions", in); code != "InvalidParameterValue" {
			t.Errorf("%v: %q, want InvalidParameterValue", in, code)
		}
	}
}

// INST-1: the zones are those the topology's subnets use, each once, with
// EC2's zone ids; a Local Zone is its group's.
func TestCatalog_DescribeAvailabilityZones(t *testing.T) {
	d := describeService(t, []byte(catalogTopology))
	v := describe(t, d, "DescribeAvailabilityZones", nil)
	want := []string{
		"us-west-2-lax-1a usw2-lax1-az1 local-zone us-west-2-lax-1 us-west-2-lax-1 opted-in available us-west-2 []",
		"us-west-2a usw2-az1 availability-zone us-west-2 us-west-2 opt-in-not-required available us-west-2 []",
		"us-west-2b usw2-az2 availability-zone us-west-2 us-west-2 opt-in-not-required available us-west-2 []",
	}
	var got []string
	for _, z := range at(v, "AvailabilityZones[]") {
		m := z.(map[string]any)
		got = append(got, fmt.Sprint(m["ZoneName"], " ", m["ZoneId"], " ", m["ZoneType"], " ", m["GroupName"], " ", m["NetworkBorderGroup"], " ",
			m["OptInStatus"], " ", m["State"], " ", m["RegionName"], " ", m["Messages"]))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("zones:\n%q\nwant\n%q", got, want)
	}
	// The textbook's: one zone, named as describe-subnets names it.
	tb := describeService(t, topology.Default())
	v = describe(t, tb, "DescribeAvailabilityZones", nil)
	s := describe(t, tb, "DescribeSubnets", nil)
	if got := fmt.Sprint(at(v, "AvailabilityZones[].ZoneName"), at(v, "AvailabilityZones[].ZoneId")); got != "[ap-northeast-2a] [apne2-az1]" ||
		fmt.Sprint(at(s, "Subnets[].AvailabilityZoneId")) != "[apne2-az1 apne2-az1]" {
		t.Errorf("textbook zones %s, subnets %v", got, at(s, "Subnets[].AvailabilityZoneId"))
	}
	for in, want := range map[string]string{
		`{"ZoneNames": ["us-west-2b"]}`: "[us-west-2b]",
		`{"ZoneIds": ["usw2-az1"]}`:     "[us-west-2a]",
		`{"Filters": [{"Name": "zone-type", "Values": ["availability-zone"]}, {"Name": "state", "Values": ["available"]}]}`: "[us-west-2a us-west-2b]",
		`{"AllAvailabilityZones": true, "Filters": [{"Name": "group-name", "Values": ["us-west-2-lax-1"]}]}`:                "[us-west-2-lax-1a]",
	} {
		if got := fmt.Sprint(ids(describe(t, d, "DescribeAvailabilityZones", request(t, in)), "AvailabilityZones", "ZoneName")); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
	for _, in := range []string{`{"ZoneNames": ["us-west-2c"]}`, `{"ZoneIds": ["usw2-az9"]}`} {
		if code := describeErr(d, "DescribeAvailabilityZones", request(t, in)); code != "InvalidParameterValue" {
			t.Errorf("%s: %q, want InvalidParameterValue", in, code)
		}
	}
}

// QUOTA-1: the account is VPC-only, has no default VPC, and AWS's default
// quotas.
func TestCatalog_DescribeAccountAttributes(t *testing.T) {
	d := describeService(t, topology.Default())
	v := describe(t, d, "DescribeAccountAttributes", nil)
	got := map[string]string{}
	for _, a := range at(v, "AccountAttributes[]") {
		m := a.(map[string]any)
		got[m["AttributeName"].(string)] = fmt.Sprint(at(m, "AttributeValues[].AttributeValue"))
	}
	want := map[string]string{"supported-platforms": "[VPC]", "default-vpc": "[none]", "max-instances": "[20]",
		"vpc-max-security-groups-per-interface": "[5]", "max-elastic-ips": "[5]", "vpc-max-elastic-ips": "[5]"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("attributes %v, want %v", got, want)
	}
	v = describe(t, d, "DescribeAccountAttributes", request(t, `{"AttributeNames": ["default-vpc"]}`))
	if got := fmt.Sprint(at(v, "AccountAttributes[].AttributeName"), at(v, "AccountAttributes[].AttributeValues[].AttributeValue")); got != "[default-vpc] [none]" {
		t.Errorf("default-vpc alone: %s", got)
	}
	if code := describeErr(d, "DescribeAccountAttributes", request(t, `{"AttributeNames": ["max-everything"]}`)); code != "InvalidParameterValue" {
		t.Errorf("an unknown attribute: %q", code)
	}
}

// The catalogue's images: the one instances of the file run, and Amazon
// Linux and Ubuntu as AWS's examples find them (by name, owner,
// architecture).
func TestCatalog_DescribeImages(t *testing.T) {
	d := describeService(t, topology.Default())
	v := describe(t, d, "DescribeImages", nil)
	if len(at(v, "Images[]")) != len(images) || len(images) < 3 {
		t.Fatalf("%d images", len(at(v, "Images[]")))
	}
	// Every member EC2 always returns, on every image.
	for _, m := range []string{"Architecture", "CreationDate", "ImageId", "ImageLocation", "ImageType", "Public", "OwnerId",
		"PlatformDetails", "UsageOperation", "State", "BlockDeviceMappings", "Description", "EnaSupport", "Hypervisor", "Name",
		"RootDeviceName", "RootDeviceType", "SriovNetSupport", "VirtualizationType"} {
		if n := len(at(v, "Images[]."+m)); n != len(images) {
			t.Errorf("%s on %d of %d images", m, n, len(images))
		}
	}
	// What the file's instances run is in the catalogue.
	inst := describe(t, d, "DescribeInstances", nil)
	for _, id := range at(inst, "Reservations[].Instances[].ImageId") {
		if got := ids(describe(t, d, "DescribeImages", map[string]any{"ImageIds": []any{id}}), "Images", "ImageId"); len(got) != 1 {
			t.Errorf("instance image %v: %v", id, got)
		}
	}
	for in, want := range map[string]string{
		`{"Owners": ["amazon"], "Filters": [{"Name": "name", "Values": ["al2023-ami-2023.*-x86_64"]}]}`:                                      "[al2023-ami-2023.6.20241212.0-kernel-6.1-x86_64]",
		`{"Owners": ["099720109477"], "Filters": [{"Name": "name", "Values": ["ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-*"]}]}`: "[ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20241217]",
		`{"Filters": [{"Name": "image-id", "Values": ["` + launchImageID + `"]}]}`:                                                           "[al2023-ami-2023.6.20241212.0-kernel-6.1-x86_64]",
		`{"Filters": [{"Name": "architecture", "Values": ["arm64"]}]}`:                                                                       "[]",
		`{"Owners": ["self"]}`:          "[]",
		`{"ExecutableUsers": ["self"]}`: "[]",
		`{"Owners": ["amazon"], "ExecutableUsers": ["all"], "Filters": [{"Name": "root-device-type", "Values": ["ebs"]}]}`: "[al2023-ami-2023.6.20241212.0-kernel-6.1-x86_64 amzn2-ami-kernel-5.10-hvm-2.0.20241217.0-x86_64-gp2]",
	} {
		v := describe(t, d, "DescribeImages", request(t, in))
		var names []string
		for _, n := range at(v, "Images[].Name") {
			names = append(names, n.(string))
		}
		slices.Sort(names)
		if got := fmt.Sprint(names); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
	if n := len(at(describe(t, d, "DescribeImages", request(t, `{"Filters": [{"Name": "architecture", "Values": ["x86_64"]}]}`)), "Images[]")); n != len(images) {
		t.Errorf("x86_64: %d images", n)
	}
	for in, code := range map[string]string{
		`{"ImageIds": ["ami-0123456789abcdef0"]}`:                 "InvalidAMIID.NotFound",
		`{"ImageIds": ["ami-nope"]}`:                              "InvalidAMIID.Malformed",
		`{"Owners": ["somebody"]}`:                                "InvalidUserID.Malformed",
		`{"Filters": [{"Name": "flavour", "Values": ["sweet"]}]}`: "InvalidParameterValue",
	} {
		if got := describeErr(d, "DescribeImages", request(t, in)); got != code {
			t.Errorf("%s: %q, want %s", in, got, code)
		}
	}
}

// QUOTA-2: the catalogue's instance types carry AWS's published numbers of
// network interfaces and IPv4 addresses per interface.
func TestQUOTA2_DescribeInstanceTypes(t *testing.T) {
	d := describeService(t, topology.Default())
	v := describe(t, d, "DescribeInstanceTypes", nil)
	var got []string
	for _, x := range at(v, "InstanceTypes[]") {
		m := x.(map[string]any)
		got = append(got, fmt.Sprint(m["InstanceType"], " ", at(m, "VCpuInfo.DefaultVCpus")[0], " ", at(m, "MemoryInfo.SizeInMiB")[0], " ",
			at(m, "NetworkInfo.MaximumNetworkInterfaces")[0], " ", at(m, "NetworkInfo.Ipv4AddressesPerInterface")[0]))
	}
	want := []string{"t2.micro 1 1024 2 2", "t3.micro 2 1024 2 2", "t3.small 2 2048 3 4", "m5.large 2 8192 3 10"}
	if !slices.Equal(got, want) {
		t.Fatalf("types %q, want %q", got, want)
	}
	// The catalogue and the limits the operations and the file enforce
	// (topology.InstanceTypeLimits) are one table.
	var names []string
	for _, it := range instanceTypes {
		names = append(names, string(it.name))
	}
	if slices.Sort(names); !slices.Equal(names, topology.InstanceTypes()) {
		t.Fatalf("catalogue %v, limits %v", names, topology.InstanceTypes())
	}
	// What the file's instances are is in the catalogue.
	for _, it := range at(describe(t, d, "DescribeInstances", nil), "Reservations[].Instances[].InstanceType") {
		if n := len(at(describe(t, d, "DescribeInstanceTypes", map[string]any{"InstanceTypes": []any{it}}), "InstanceTypes[]")); n != 1 {
			t.Errorf("instance type %v: %d", it, n)
		}
	}
	v = describe(t, d, "DescribeInstanceTypes", request(t, `{"Filters": [{"Name": "instance-type", "Values": ["t3.*"]},
		{"Name": "network-info.maximum-network-interfaces", "Values": ["3"]}]}`))
	if got := fmt.Sprint(at(v, "InstanceTypes[].InstanceType")); got != "[t3.small]" {
		t.Errorf("t3.* with 3 ENIs: %s", got)
	}
	for in, code := range map[string]string{
		`{"InstanceTypes": ["c5.large"]}`:                      "InvalidInstanceType",
		`{"MaxResults": 4}`:                                    "InvalidParameterValue",
		`{"Filters": [{"Name": "colour", "Values": ["red"]}]}`: "InvalidParameterValue",
	} {
		if got := describeErr(d, "DescribeInstanceTypes", request(t, in)); got != code {
			t.Errorf("%s: %q, want %s", in, got, code)
		}
	}
}

// RunInstances takes the catalogue's images only: another image is
// refused as EC2 refuses an image that does not exist, with nothing
// changed. An instance of a catalogue image shows the image's root device.
func TestCatalog_RunInstancesTakesCatalogueImages(t *testing.T) {
	d, k := opsService(t, "")
	run := `{"MinCount": 1, "MaxCount": 1, "SubnetId": "PRI-DB-2a", "ImageId": "%s"}`
	refuse(t, d, k, "RunInstances", fmt.Sprintf(run, "ami-0123456789abcdef0"), "InvalidAMIID.NotFound")
	refuse(t, d, k, "RunInstances", fmt.Sprintf(run, "ami-12345678"), "InvalidAMIID.NotFound")
	refuse(t, d, k, "RunInstances", fmt.Sprintf(run, "img-1"), "InvalidAMIID.Malformed")
	for _, m := range images {
		res := answer[types.Reservation](t, d, "RunInstances", fmt.Sprintf(run, m.id))
		x := d.instanceShape(d.net.InstanceByName[d.net.VPCs[0].Instances[len(d.net.VPCs[0].Instances)-1].Name])
		if *res.Instances[0].ImageId != m.id || *x.ImageId != m.id || *x.RootDeviceName != m.root || *x.BlockDeviceMappings[0].DeviceName != m.root {
			t.Errorf("launched %s: answer %s, describe %s root %s", m.id, *res.Instances[0].ImageId, *x.ImageId, *x.RootDeviceName)
		}
	}
}
