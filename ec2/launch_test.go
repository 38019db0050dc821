package ec2

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

// labTopo is the textbook's lab 3 network: a public and a private subnet
// in one zone, one in another zone, a free ENI, and six groups.
const labTopo = `{
  "name": "lab", "region": "ap-northeast-2",
  "address_pools": [{"name": "amazon", "cidrs": ["13.125.0.0/16"]}],
  "vpcs": [{"name": "v", "cidr": "10.0.0.0/16", "internet_gateway": "igw",
    "subnets": [{"name": "pub", "cidr": "10.0.1.0/24", "az": "ap-northeast-2a", "route_table": "rt-pub", "map_public_ip_on_launch": true},
                {"name": "pri", "cidr": "10.0.2.0/24", "az": "ap-northeast-2a"},
                {"name": "far", "cidr": "10.0.3.0/24", "az": "ap-northeast-2c"}],
    "route_tables": [{"name": "rt-pub", "routes": [{"destination": "0.0.0.0/0", "target": "igw"}]}],
    "security_groups": [{"name": "web"}, {"name": "g2"}, {"name": "g3"}, {"name": "g4"}, {"name": "g5"}, {"name": "g6"}],
    "network_interfaces": [{"name": "eni-free", "subnet": "pri", "private_ip": "10.0.2.50", "description": "New ENI"},
                           {"name": "eni-three", "subnet": "pri", "secondary_private_ips": ["10.0.2.61", "10.0.2.62"]}]}]
}`

// lab3Launch is lab 3's launch as the AWS CLI sends it: eth0 with a
// description and one more address, eth1 at a given address.
const lab3Launch = `{"MinCount": 1, "MaxCount": 1, "ImageId": "ami-0c9c942bd7bf113a2", "InstanceType": "t2.micro",
	"NetworkInterfaces": [
		{"DeviceIndex": 0, "SubnetId": "pub", "Groups": ["web"], "Description": "lab3 eth0", "SecondaryPrivateIpAddressCount": 1},
		{"DeviceIndex": 1, "SubnetId": "pri", "PrivateIpAddress": "10.0.2.20"}],
	"TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "lab3"}]},
		{"ResourceType": "network-interface", "Tags": [{"Key": "Name", "Value": "lab3-data"}]}]}`

// ENI-6, QUOTA-2: RunInstances with several network interfaces makes each
// with what it is given (device index, subnet, groups, description,
// addresses), names eth1 by the network-interface Name tag, and answers
// them in EC2's shape, DeleteOnTermination true for the ENIs it made.
func TestENI6_RunInstancesWithNetworkInterfaces(t *testing.T) {
	d, k := opsService(t, labTopo)
	res := answer[types.Reservation](t, d, "RunInstances", lab3Launch)
	i := d.net.InstanceByName["lab3"]
	if i == nil || len(i.ENIs) != 2 || !slices.Equal(k.calls, []string{"launch lab3", "hosts"}) {
		t.Fatalf("model %+v, kernel %v", i, k.calls)
	}
	eth0, eth1 := i.ENIs[0], i.ENIs[1]
	if eth0.Name != "lab3" || eth0.Description != "lab3 eth0" || len(eth0.SecondaryIPs) != 1 || eth0.Groups[0].Name != "web" ||
		!eth0.DeleteOnTermination || eth0.Subnet.Name != "pub" || eth0.SecondaryIPs[0] == eth0.PrimaryIP {
		t.Fatalf("eth0: %+v", eth0)
	}
	if eth1.Name != "lab3-data" || eth1.DeviceIndex != 1 || eth1.PrimaryIP != netip.MustParseAddr("10.0.2.20") || eth1.Description != "" ||
		!eth1.DeleteOnTermination || eth1.Groups[0] != d.net.VPCs[0].DefaultSG || eth1.Subnet.Name != "pri" {
		t.Fatalf("eth1: %+v", eth1)
	}
	// EC2 gives no public IP to an instance with two interfaces, even in
	// a subnet that maps one.
	if len(eth0.PublicIPs) != 0 || i.AssociatePublicIP {
		t.Fatalf("public IPs: %v", eth0.PublicIPs)
	}
	x := res.Instances[0]
	if x.InstanceType != types.InstanceTypeT2Micro || len(x.NetworkInterfaces) != 2 {
		t.Fatalf("answer: %+v", x)
	}
	for k, ni := range x.NetworkInterfaces {
		if a := ni.Attachment; a == nil || *a.DeviceIndex != int32(k) || !*a.DeleteOnTermination || *ni.NetworkInterfaceId != i.ENIs[k].ID {
			b, _ := json.Marshal(ni)
			t.Fatalf("interface %d: %s", k, b)
		}
	}
	if *x.NetworkInterfaces[0].Description != "lab3 eth0" || len(x.NetworkInterfaces[0].PrivateIpAddresses) != 2 {
		t.Fatalf("eth0 answered: %+v", x.NetworkInterfaces[0])
	}
	// describe-network-interfaces says the same.
	nis := answer[types.DescribeNetworkInterfacesResult](t, d, "DescribeNetworkInterfaces", `{"NetworkInterfaceIds": ["`+eth1.ID+`"]}`)
	if a := nis.NetworkInterfaces[0].Attachment; a == nil || !*a.DeleteOnTermination || *a.InstanceId != i.ID || *a.DeviceIndex != 1 {
		t.Fatalf("describe eth1: %+v", nis.NetworkInterfaces[0])
	}
}

// ENI-6: an existing ENI attaches at launch as it is, with
// DeleteOnTermination false unless told; terminating the instance deletes
// the ENIs whose DeleteOnTermination is true and leaves the others
// available, without the instance.
func TestENI6_TerminateHonoursDeleteOnTermination(t *testing.T) {
	d, _ := opsService(t, labTopo)
	answer[types.Reservation](t, d, "RunInstances", `{"MinCount": 1, "MaxCount": 1, "InstanceType": "t3.small", "NetworkInterfaces": [
		{"DeviceIndex": 0, "SubnetId": "pub", "DeleteOnTermination": false},
		{"DeviceIndex": 1, "NetworkInterfaceId": "eni-free"},
		{"DeviceIndex": 2, "SubnetId": "pri"}],
		"TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "keep"}]}]}`)
	i := d.net.InstanceByName["keep"]
	free, eth2 := eniNamed(d, "eni-free"), eniNamed(d, "keep-eth2")
	if free.Instance != i || free.DeviceIndex != 1 || free.DeleteOnTermination || free.Description != "New ENI" ||
		eth2 == nil || eth2.Instance != i || !eth2.DeleteOnTermination || i.Primary().DeleteOnTermination {
		t.Fatalf("launch: free %+v eth2 %+v", free, eth2)
	}
	nis := answer[types.DescribeNetworkInterfacesResult](t, d, "DescribeNetworkInterfaces", `{"NetworkInterfaceIds": ["`+free.ID+`"]}`)
	if a := nis.NetworkInterfaces[0].Attachment; a == nil || *a.DeleteOnTermination || *a.DeviceIndex != 1 {
		t.Fatalf("describe eni-free: %+v", nis.NetworkInterfaces[0])
	}
	answer[types.TerminateInstancesResult](t, d, "TerminateInstances", `{"InstanceIds": ["keep"]}`)
	if eniNamed(d, "keep-eth2") != nil {
		t.Fatal("the ENI the launch made (DeleteOnTermination true) stayed")
	}
	for _, name := range []string{"eni-free", "keep"} {
		e := eniNamed(d, name)
		if e == nil || e.Instance != nil || e.DeleteOnTermination {
			t.Fatalf("%s (DeleteOnTermination false) after terminate: %+v", name, e)
		}
		ni := answer[types.DescribeNetworkInterfacesResult](t, d, "DescribeNetworkInterfaces", `{"NetworkInterfaceIds": ["`+e.ID+`"]}`).NetworkInterfaces[0]
		if ni.Status != types.NetworkInterfaceStatusAvailable || ni.Attachment != nil {
			t.Fatalf("%s: %+v", name, ni)
		}
	}
	// The kept eth0 round-trips as a standalone ENI.
	roundTrip(t, d)
}

// roundTrip exports d's network, loads it again, and wants the same
// describe-instances (of the live instances) and
// describe-network-interfaces answers.
func roundTrip(t *testing.T, d *Service) {
	t.Helper()
	b, err := json.Marshal(topology.Export(d.net))
	if err != nil {
		t.Fatal(err)
	}
	n, err := topology.Load(b)
	if err != nil {
		t.Fatalf("export does not load: %v\n%s", err, b)
	}
	d2 := New(opsStore{n}, &opsKernel{namespaces: map[string]bool{}})
	live := `{"Filters": [{"Name": "instance-state-name", "Values": ["running", "stopped"]}]}` // terminated ones are not the file's
	for op, req := range map[string]string{"DescribeInstances": live, "DescribeNetworkInterfaces": `{}`} {
		a, err1 := d.CallInput(op, request(t, req))
		c, err2 := d2.CallInput(op, request(t, req))
		ja, _ := json.Marshal(a)
		jc, _ := json.Marshal(c)
		if err1 != nil || err2 != nil || string(ja) != string(jc) {
			t.Fatalf("%s differs after export and up:\n%s\n%s", op, ja, jc)
		}
	}
}

// QUOTA-2: the launch's type, eth0's description and DeleteOnTermination
// go into the export and come back.
func TestQUOTA2_LaunchRoundTrips(t *testing.T) {
	d, _ := opsService(t, labTopo)
	answer[types.Reservation](t, d, "RunInstances", `{"MinCount": 1, "MaxCount": 1, "InstanceType": "m5.large", "NetworkInterfaces": [
		{"DeviceIndex": 0, "SubnetId": "pub", "Description": "", "DeleteOnTermination": false, "SecondaryPrivateIpAddressCount": 8},
		{"DeviceIndex": 1, "SubnetId": "pri", "DeleteOnTermination": false}],
		"TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "big"}]}]}`)
	answer[types.Reservation](t, d, "RunInstances", lab3Launch)
	if i := d.net.InstanceByName["big"]; i.Type != "m5.large" || len(i.Primary().IPs()) != 9 || i.Primary().Description != "" {
		t.Fatalf("big: %+v", i)
	}
	roundTrip(t, d)
}

// QUOTA-2, ENI-6: the refusals that need lab 3's network change nothing.
func TestQUOTA2_LaunchRefused(t *testing.T) {
	cases := []struct{ name, req, code string }{
		{"an interface in another AZ", `{"MinCount": 1, "MaxCount": 1, "NetworkInterfaces": [{"DeviceIndex": 0, "SubnetId": "pub"}, {"DeviceIndex": 1, "SubnetId": "far"}]}`, "InvalidParameterCombination"},
		{"an existing interface in another AZ", `{"MinCount": 1, "MaxCount": 1, "NetworkInterfaces": [{"DeviceIndex": 0, "SubnetId": "far"}, {"DeviceIndex": 1, "NetworkInterfaceId": "eni-free"}]}`, "InvalidParameterCombination"},
		{"an interface id with a subnet", `{"MinCount": 1, "MaxCount": 1, "NetworkInterfaces": [{"DeviceIndex": 0, "SubnetId": "pub"},
			{"DeviceIndex": 1, "NetworkInterfaceId": "eni-free", "SubnetId": "pri"}]}`, "InvalidParameterCombination"},
		{"an interface id for two instances", `{"MinCount": 1, "MaxCount": 2, "NetworkInterfaces": [{"DeviceIndex": 0, "SubnetId": "pub"},
			{"DeviceIndex": 1, "NetworkInterfaceId": "eni-free"}]}`, "InvalidParameterCombination"},
		{"an interface id as eth0", `{"MinCount": 1, "MaxCount": 1, "NetworkInterfaces": [{"DeviceIndex": 0, "NetworkInterfaceId": "eni-free"}]}`, "Unsupported"},
		{"an existing interface of three addresses on a t2.micro", `{"MinCount": 1, "MaxCount": 1, "NetworkInterfaces": [{"DeviceIndex": 0, "SubnetId": "pub"},
			{"DeviceIndex": 1, "NetworkInterfaceId": "eni-three"}]}`, "PrivateIpAddressLimitExceeded"},
		{"a public IP with two interfaces", strings.Replace(lab3Launch, `"Groups": ["web"],`, `"Groups": ["web"], "AssociatePublicIpAddress": true,`, 1), "InvalidParameterCombination"},
		{"six groups", `{"MinCount": 1, "MaxCount": 1, "NetworkInterfaces": [{"DeviceIndex": 0, "SubnetId": "pub", "Groups": ["web", "g2", "g3", "g4", "g5", "g6"]}]}`, "SecurityGroupsPerInterfaceLimitExceeded"},
		{"more instances than addresses with a given one", strings.Replace(lab3Launch, `"MaxCount": 1`, `"MaxCount": 2`, 1), "InvalidParameterCombination"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, k := opsService(t, labTopo)
			refuse(t, d, k, "RunInstances", c.req, c.code)
		})
	}
}

// A launch that fails in the kernel takes back the ENIs it made and
// leaves an existing ENI it attached available, as it was.
func TestENI6_FailedLaunchUndoesItsInterfaces(t *testing.T) {
	d, k := opsService(t, labTopo)
	k.failLaunch = "lab3"
	before := snapshot(t, d)
	_, err := d.CallInput("RunInstances", request(t, `{"MinCount": 1, "MaxCount": 1, "NetworkInterfaces": [
		{"DeviceIndex": 0, "SubnetId": "pub"}, {"DeviceIndex": 1, "NetworkInterfaceId": "eni-free", "DeleteOnTermination": true}],
		"TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "lab3"}]}]}`))
	if err == nil || snapshot(t, d) != before {
		t.Fatalf("failed launch: %v; changed: %v", err, snapshot(t, d) != before)
	}
	if e := eniNamed(d, "eni-free"); e == nil || e.Instance != nil || e.DeleteOnTermination {
		t.Fatalf("eni-free after the failed launch: %+v", e)
	}
}

// QUOTA-2: AttachNetworkInterface beyond the type's interfaces is
// AttachmentLimitExceeded; an ENI of more addresses than the type's
// interfaces hold, and AssignPrivateIpAddresses beyond them, are
// PrivateIpAddressLimitExceeded; CreateNetworkInterface takes secondary
// addresses up to 50. Nothing changes on a refusal.
func TestQUOTA2_InterfaceLimits(t *testing.T) {
	d, k := opsService(t, labTopo)
	answer[types.Reservation](t, d, "RunInstances", `{"MinCount": 1, "MaxCount": 1, "SubnetId": "pri",
		"TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "small"}]}]}`)
	refuse(t, d, k, "AttachNetworkInterface", `{"NetworkInterfaceId": "eni-three", "InstanceId": "small", "DeviceIndex": 1}`, "PrivateIpAddressLimitExceeded")
	answer[types.AttachNetworkInterfaceResult](t, d, "AttachNetworkInterface", `{"NetworkInterfaceId": "eni-free", "InstanceId": "small", "DeviceIndex": 1}`)
	if e := eniNamed(d, "eni-free"); e.DeleteOnTermination {
		t.Fatal("an attached ENI is DeleteOnTermination false")
	}
	c := answer[types.CreateNetworkInterfaceResult](t, d, "CreateNetworkInterface", `{"SubnetId": "pri", "SecondaryPrivateIpAddressCount": 3,
		"TagSpecifications": [{"ResourceType": "network-interface", "Tags": [{"Key": "Name", "Value": "eni-four"}]}]}`)
	if len(c.NetworkInterface.PrivateIpAddresses) != 4 || len(slices.Compact(slices.SortedFunc(slices.Values(eniNamed(d, "eni-four").IPs()), netip.Addr.Compare))) != 4 {
		t.Fatalf("created with 3 secondary addresses: %+v", c.NetworkInterface.PrivateIpAddresses)
	}
	refuse(t, d, k, "AttachNetworkInterface", `{"NetworkInterfaceId": "eni-four", "InstanceId": "small", "DeviceIndex": 2}`, "AttachmentLimitExceeded")
	refuse(t, d, k, "AssignPrivateIpAddresses", `{"NetworkInterfaceId": "eni-free", "SecondaryPrivateIpAddressCount": 2}`, "PrivateIpAddressLimitExceeded")
	refuse(t, d, k, "AssignPrivateIpAddresses", `{"NetworkInterfaceId": "small", "PrivateIpAddresses": ["10.0.2.90", "10.0.2.91"]}`, "PrivateIpAddressLimitExceeded")
	answer[types.AssignPrivateIpAddressesResult](t, d, "AssignPrivateIpAddresses", `{"NetworkInterfaceId": "eni-free", "SecondaryPrivateIpAddressCount": 1}`)
	refuse(t, d, k, "AssignPrivateIpAddresses", `{"NetworkInterfaceId": "eni-free", "SecondaryPrivateIpAddressCount": 1}`, "PrivateIpAddressLimitExceeded")
	// Not attached: up to 50.
	refuse(t, d, k, "CreateNetworkInterface", `{"SubnetId": "pri", "SecondaryPrivateIpAddressCount": 50}`, "PrivateIpAddressLimitExceeded")
	refuse(t, d, k, "AssignPrivateIpAddresses", `{"NetworkInterfaceId": "eni-four", "SecondaryPrivateIpAddressCount": 47}`, "PrivateIpAddressLimitExceeded")
	answer[types.AssignPrivateIpAddressesResult](t, d, "AssignPrivateIpAddresses", `{"NetworkInterfaceId": "eni-four", "SecondaryPrivateIpAddressCount": 46}`)
	if n := len(eniNamed(d, "eni-four").IPs()); n != topology.MaxIPv4PerENI {
		t.Fatalf("eni-four holds %d addresses", n)
	}
	refuse(t, d, k, "CreateNetworkInterface", `{"SubnetId": "pri", "PrivateIpAddresses": [{"PrivateIpAddress": "10.0.2.70", "Primary": true},
		{"PrivateIpAddress": "10.0.2.71", "Primary": true}]}`, "InvalidParameterCombination")
	refuse(t, d, k, "CreateNetworkInterface", `{"SubnetId": "pri", "PrivateIpAddresses": [{"PrivateIpAddress": "10.0.2.71"}], "SecondaryPrivateIpAddressCount": 1}`, "InvalidParameterCombination")
	refuse(t, d, k, "CreateNetworkInterface", `{"SubnetId": "pri", "PrivateIpAddress": "10.0.2.70", "PrivateIpAddresses": [{"PrivateIpAddress": "10.0.2.70"}]}`, "InvalidParameterValue")
	refuse(t, d, k, "CreateNetworkInterface", `{"SubnetId": "pri", "PrivateIpAddresses": [{"PrivateIpAddress": "10.0.2.50"}]}`, "InvalidIPAddress.InUse")
	c = answer[types.CreateNetworkInterfaceResult](t, d, "CreateNetworkInterface", `{"SubnetId": "pri", "PrivateIpAddresses": [
		{"PrivateIpAddress": "10.0.2.70", "Primary": true}, {"PrivateIpAddress": "10.0.2.71"}]}`)
	if *c.NetworkInterface.PrivateIpAddress != "10.0.2.70" || *c.NetworkInterface.PrivateIpAddresses[1].PrivateIpAddress != "10.0.2.71" {
		t.Fatalf("given addresses: %+v", c.NetworkInterface.PrivateIpAddresses)
	}
}

// ModifyInstanceAttribute --groups sets eth0's groups; beyond the quota of
// groups per ENI it is refused with nothing changed.
func TestQUOTA1_ModifyInstanceAttributeGroups(t *testing.T) {
	d, k := opsService(t, labTopo)
	answer[types.Reservation](t, d, "RunInstances", `{"MinCount": 1, "MaxCount": 1, "SubnetId": "pub",
		"TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "w"}]}]}`)
	answer[struct{}](t, d, "ModifyInstanceAttribute", `{"InstanceId": "w", "Groups": ["web", "g2"]}`)
	if g := d.net.InstanceByName["w"].Primary().Groups; len(g) != 2 || g[0].Name != "web" || g[1].Name != "g2" {
		t.Fatalf("groups: %v", g)
	}
	refuse(t, d, k, "ModifyInstanceAttribute", `{"InstanceId": "w", "Groups": ["web", "g2", "g3", "g4", "g5", "g6"]}`, "SecurityGroupsPerInterfaceLimitExceeded")
	refuse(t, d, k, "ModifyInstanceAttribute", `{"InstanceId": "w", "Groups": ["nope"]}`, "InvalidGroup.NotFound")
}
