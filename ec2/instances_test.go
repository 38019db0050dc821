package ec2

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vpcnet/vpcnet/ec2/query"
	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// INST-1, INST-3: RunInstances answers a reservation as EC2 does: its
// instances in state pending with every member EC2 always returns; the
// instance is a namespace the kernel launched, with its user_data decoded.
func TestINST1_RunInstancesAnswersAReservation(t *testing.T) {
	d, k := opsService(t, "")
	before := time.Now().Add(-time.Second)
	answer[types.KeyPair](t, d, "CreateKeyPair", `{"KeyName": "lab-key", "KeyType": "ed25519"}`) // keypairs.go
	res := answer[types.Reservation](t, d, "RunInstances", `{"MinCount": 1, "MaxCount": 1, "SubnetId": "PRI-DB-2a",
		"ImageId": "ami-0e57369a62a7b3150", "InstanceType": "t3.micro", "KeyName": "lab-key",
		"SecurityGroupIds": ["my-DB-SecurityGroup"], "UserData": "`+b64("vpcnet serve --http :80")+`",
		"TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "n1"}]}]}`)
	i := d.net.InstanceByName["n1"]
	if i == nil || i.UserData != "vpcnet serve --http :80" || i.Namespace != "ch5-n1" || i.Subnet.Name != "PRI-DB-2a" ||
		i.Primary().Groups[0].Name != "my-DB-SecurityGroup" || i.AssociatePublicIP {
		t.Fatalf("model: %+v", i)
	}
	if !slices.Equal(k.calls, []string{"launch n1", "hosts"}) {
		t.Fatalf("kernel: %v", k.calls)
	}
	if *res.OwnerId != d.net.AccountID() || !strings.HasPrefix(*res.ReservationId, "r-") || res.Groups == nil || len(res.Instances) != 1 {
		t.Fatalf("reservation: %+v", res)
	}
	x := res.Instances[0]
	if *x.InstanceId != i.ID || *x.ImageId != "ami-0e57369a62a7b3150" || x.InstanceType != types.InstanceTypeT3Micro ||
		*x.KeyName != "lab-key" || *x.AmiLaunchIndex != 0 || x.LaunchTime == nil || x.LaunchTime.Before(before) ||
		x.State.Name != types.InstanceStateNamePending || *x.State.Code != 0 || *x.StateReason.Code != "pending" ||
		*x.PrivateDnsName != "ip-"+strings.ReplaceAll(i.Primary().PrimaryIP.String(), ".", "-")+".ap-northeast-2.compute.internal" ||
		*x.PrivateIpAddress != i.Primary().PrimaryIP.String() || *x.SubnetId != i.Subnet.ID || *x.VpcId != i.VPC.ID ||
		*x.Placement.AvailabilityZone != "ap-northeast-2a" || x.PublicIpAddress != nil || *x.PublicDnsName != "" ||
		x.Architecture == "" || x.RootDeviceType == "" || len(x.NetworkInterfaces) != 1 || len(x.SecurityGroups) != 1 ||
		!*x.SourceDestCheck || len(x.Tags) != 1 || *x.Tags[0].Value != "n1" {
		b, _ := json.Marshal(x)
		t.Fatalf("instance: %s", b)
	}
	// What the launch was told stays with the instance.
	if y := d.instanceShape(i); y.State.Name != types.InstanceStateNameRunning || *y.ImageId != "ami-0e57369a62a7b3150" ||
		y.InstanceType != types.InstanceTypeT3Micro || *y.KeyName != "lab-key" || !y.LaunchTime.Equal(*x.LaunchTime) {
		t.Fatalf("describe after the launch: %+v", y)
	}
	if reservationID(d.net, i.ID, i.Name) != *res.ReservationId {
		t.Fatal("the reservation is not kept")
	}
}

// The AWS CLI's run-instances --associate-public-ip-address sends the
// subnet, groups and address inside NetworkInterfaces[0]; the instance
// gets a public IP (ADDR-4) even in a subnet that maps none, and
// --no-associate-public-ip-address gives none where one would be mapped.
func TestINST_RunInstancesNetworkInterfaceAsTheAWSCLISendsIt(t *testing.T) {
	d, _ := opsService(t, "")
	res := answer[types.Reservation](t, d, "RunInstances", `{"MinCount": 1, "MaxCount": 1, "NetworkInterfaces": [{"DeviceIndex": 0,
		"AssociatePublicIpAddress": true, "SubnetId": "PRI-DB-2a", "Groups": ["my-DB-SecurityGroup"],
		"PrivateIpAddresses": [{"PrivateIpAddress": "92.75.200.77", "Primary": true}]}]}`)
	x := res.Instances[0]
	if x.PublicIpAddress == nil || !strings.HasPrefix(*x.PublicIpAddress, "13.125.") || *x.PrivateIpAddress != "92.75.200.77" ||
		*x.SecurityGroups[0].GroupName != "my-DB-SecurityGroup" || !strings.HasSuffix(*x.PublicDnsName, ".ap-northeast-2.compute.amazonaws.com") {
		b, _ := json.Marshal(x)
		t.Fatalf("instance: %s", b)
	}
	if i := d.net.InstanceByName["instance-1"]; i == nil || !i.AssociatePublicIP {
		t.Fatalf("the unnamed instance is instance-1 with a public IP: %+v", i)
	}
	res = answer[types.Reservation](t, d, "RunInstances", `{"MinCount": 1, "MaxCount": 1,
		"NetworkInterfaces": [{"DeviceIndex": 0, "AssociatePublicIpAddress": false, "SubnetId": "PUB-WEB-2a"}]}`)
	if res.Instances[0].PublicIpAddress != nil {
		t.Fatalf("--no-associate-public-ip-address in a mapping subnet: %v", *res.Instances[0].PublicIpAddress)
	}
}

// smallSubnet has a /28 subnet: 11 usable addresses, one taken.
const smallSubnet = `{
  "name": "sm", "region": "us-east-1",
  "vpcs": [{"name": "v", "cidr": "10.9.0.0/16",
    "subnets": [{"name": "s", "cidr": "10.9.1.0/28", "az": "us-east-1a"}, {"name": "big", "cidr": "10.9.2.0/24", "az": "us-east-1a"}],
    "instances": [{"name": "one", "subnet": "s"}]}]
}`

// RunInstances with counts: MinCount to MaxCount instances, named name-1,
// name-2 …, in one reservation, as many as the subnet holds (at least
// MinCount) and never more than maxLaunch.
func TestINST_RunInstancesCount(t *testing.T) {
	d, k := opsService(t, smallSubnet)
	res := answer[types.Reservation](t, d, "RunInstances", `{"MinCount": 3, "MaxCount": 3, "SubnetId": "s",
		"TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "w"}]}]}`)
	var ips []string
	for k, x := range res.Instances {
		name := fmt.Sprintf("w-%d", k+1)
		i := d.net.InstanceByName[name]
		if i == nil || *x.InstanceId != i.ID || *x.AmiLaunchIndex != int32(k) || *x.Tags[0].Value != name ||
			reservationID(d.net, i.ID, name) != *res.ReservationId {
			t.Fatalf("instance %d: %+v (model %+v)", k, x, i)
		}
		ips = append(ips, *x.PrivateIpAddress)
	}
	if len(res.Instances) != 3 || len(slices.Compact(slices.Sorted(slices.Values(ips)))) != 3 {
		t.Fatalf("3 instances at 3 addresses: %v", ips)
	}
	if !slices.Equal(k.calls, []string{"launch w-1", "launch w-2", "launch w-3", "hosts"}) {
		t.Fatalf("kernel: %v", k.calls)
	}
	// 10 - 3 = 7 addresses left: MinCount 8 cannot, MinCount 2 MaxCount 100 gets 7.
	refuse(t, d, k, "RunInstances", `{"MinCount": 8, "MaxCount": 8, "SubnetId": "s"}`, "InsufficientFreeAddressesInSubnet")
	res = answer[types.Reservation](t, d, "RunInstances", `{"MinCount": 2, "MaxCount": 100, "SubnetId": "s"}`)
	if len(res.Instances) != 7 || d.net.InstanceByName["instance-7"] == nil {
		t.Fatalf("launched %d, want the 7 the subnet holds", len(res.Instances))
	}
	// Bounded: never more than maxLaunch at once.
	res = answer[types.Reservation](t, d, "RunInstances", `{"MinCount": 1, "MaxCount": 1000, "SubnetId": "big"}`)
	if len(res.Instances) != maxLaunch {
		t.Fatalf("MaxCount 1000 launched %d, want %d", len(res.Instances), maxLaunch)
	}
	refuse(t, d, k, "RunInstances", fmt.Sprintf(`{"MinCount": %d, "MaxCount": %d, "SubnetId": "big"}`, maxLaunch+1, maxLaunch+1), "InstanceLimitExceeded")
}

// Refused launches change nothing and launch nothing.
func TestINST_RunInstancesRefused(t *testing.T) {
	run := func(extra string) string {
		return `{"MinCount": 1, "MaxCount": 1, "SubnetId": "PUB-WEB-2a"` + extra + `}`
	}
	name := func(v string) string {
		return `, "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "` + v + `"}]}]`
	}
	cases := []struct{ name, req, code string }{
		{"MinCount 0", `{"MinCount": 0, "MaxCount": 1, "SubnetId": "PUB-WEB-2a"}`, "InvalidParameterValue"},
		{"MinCount over MaxCount", `{"MinCount": 3, "MaxCount": 2, "SubnetId": "PUB-WEB-2a"}`, "InvalidParameterValue"},
		{"MinCount not whole", `{"MinCount": 1.5, "MaxCount": 2, "SubnetId": "PUB-WEB-2a"}`, "InvalidParameterValue"},
		{"no subnet", `{"MinCount": 1, "MaxCount": 1}`, "MissingParameter"},
		{"unknown subnet", `{"MinCount": 1, "MaxCount": 1, "SubnetId": "subnet-0123456789abcdef0"}`, "InvalidSubnetID.NotFound"},
		{"address in use", run(`, "PrivateIpAddress": "92.75.100.10"`), "InvalidIPAddress.InUse"},
		{"address reserved", run(`, "PrivateIpAddress": "92.75.100.1"`), "InvalidParameterValue"},
		{"address outside", run(`, "PrivateIpAddress": "92.75.200.10"`), "InvalidParameterValue"},
		{"address for two", `{"MinCount": 2, "MaxCount": 2, "SubnetId": "PUB-WEB-2a", "PrivateIpAddress": "92.75.100.77"}`, "InvalidParameterCombination"},
		{"address for up to two", `{"MinCount": 1, "MaxCount": 2, "SubnetId": "PUB-WEB-2a", "PrivateIpAddress": "92.75.100.77"}`, "InvalidParameterCombination"},
		{"address twice", `{"MinCount": 1, "MaxCount": 1, "PrivateIpAddress": "92.75.100.77", "NetworkInterfaces": [{"DeviceIndex": 0, "SubnetId": "PUB-WEB-2a"}]}`, "InvalidParameterCombination"},
		{"address twice in the interface", `{"MinCount": 1, "MaxCount": 1, "NetworkInterfaces": [{"DeviceIndex": 0, "SubnetId": "PUB-WEB-2a", "PrivateIpAddress": "92.75.100.77",
			"PrivateIpAddresses": [{"PrivateIpAddress": "92.75.100.78", "Primary": true}]}]}`, "InvalidParameterCombination"},
		{"QUOTA-2 three addresses on a t2.micro", `{"MinCount": 1, "MaxCount": 1, "NetworkInterfaces": [{"DeviceIndex": 0, "SubnetId": "PUB-WEB-2a",
			"PrivateIpAddresses": [{"PrivateIpAddress": "92.75.100.78", "Primary": false}, {"PrivateIpAddress": "92.75.100.79", "Primary": false}]}]}`, "PrivateIpAddressLimitExceeded"},
		{"QUOTA-2 a secondary count beyond t3.small", `{"MinCount": 1, "MaxCount": 1, "InstanceType": "t3.small", "NetworkInterfaces": [{"DeviceIndex": 0, "SubnetId": "PUB-WEB-2a",
			"SecondaryPrivateIpAddressCount": 4}]}`, "PrivateIpAddressLimitExceeded"},
		{"QUOTA-2 three interfaces on a t2.micro", `{"MinCount": 1, "MaxCount": 1, "NetworkInterfaces": [{"DeviceIndex": 0, "SubnetId": "PUB-WEB-2a"},
			{"DeviceIndex": 1, "SubnetId": "PUB-WEB-2a"}, {"DeviceIndex": 2, "SubnetId": "PUB-WEB-2a"}]}`, "AttachmentLimitExceeded"},
		{"QUOTA-2 four interfaces on an m5.large", `{"MinCount": 1, "MaxCount": 1, "InstanceType": "m5.large", "NetworkInterfaces": [{"DeviceIndex": 0, "SubnetId": "PUB-WEB-2a"},
			{"DeviceIndex": 1, "SubnetId": "PUB-WEB-2a"}, {"DeviceIndex": 2, "SubnetId": "PUB-WEB-2a"}, {"DeviceIndex": 3, "SubnetId": "PUB-WEB-2a"}]}`, "AttachmentLimitExceeded"},
		{"a type outside the catalogue", run(`, "InstanceType": "c5.large"`), "InvalidParameterValue"},
		{"two interfaces at one index", `{"MinCount": 1, "MaxCount": 1, "NetworkInterfaces": [{"DeviceIndex": 0, "SubnetId": "PUB-WEB-2a"}, {"DeviceIndex": 0, "SubnetId": "PUB-WEB-2a"}]}`, "InvalidParameterValue"},
		{"no interface at index 0", `{"MinCount": 1, "MaxCount": 1, "NetworkInterfaces": [{"DeviceIndex": 1, "SubnetId": "PUB-WEB-2a"}, {"DeviceIndex": 2, "SubnetId": "PUB-WEB-2a"}]}`, "InvalidParameterValue"},
		{"an interface without an index", `{"MinCount": 1, "MaxCount": 1, "NetworkInterfaces": [{"DeviceIndex": 0, "SubnetId": "PUB-WEB-2a"}, {"SubnetId": "PUB-WEB-2a"}]}`, "InvalidParameterValue"},
		{"an interface at index 16", `{"MinCount": 1, "MaxCount": 1, "NetworkInterfaces": [{"DeviceIndex": 0, "SubnetId": "PUB-WEB-2a"}, {"DeviceIndex": 16, "SubnetId": "PUB-WEB-2a"}]}`, "InvalidParameterValue"},
		{"a public IP with two interfaces", `{"MinCount": 1, "MaxCount": 1, "NetworkInterfaces": [{"DeviceIndex": 0, "SubnetId": "PUB-WEB-2a", "AssociatePublicIpAddress": true},
			{"DeviceIndex": 1, "SubnetId": "PUB-WEB-2a"}]}`, "InvalidParameterCombination"},
		{"a public IP at index 1", `{"MinCount": 1, "MaxCount": 1, "NetworkInterfaces": [{"DeviceIndex": 0, "SubnetId": "PUB-WEB-2a"},
			{"DeviceIndex": 1, "SubnetId": "PUB-WEB-2a", "AssociatePublicIpAddress": true}]}`, "InvalidParameterCombination"},
		{"one address for two interfaces", `{"MinCount": 1, "MaxCount": 1, "NetworkInterfaces": [{"DeviceIndex": 0, "SubnetId": "PUB-WEB-2a", "PrivateIpAddress": "92.75.100.77"},
			{"DeviceIndex": 1, "SubnetId": "PUB-WEB-2a", "PrivateIpAddress": "92.75.100.77"}]}`, "InvalidParameterValue"},
		{"a count with secondary addresses", `{"MinCount": 1, "MaxCount": 1, "InstanceType": "m5.large", "NetworkInterfaces": [{"DeviceIndex": 0, "SubnetId": "PUB-WEB-2a",
			"PrivateIpAddresses": [{"PrivateIpAddress": "92.75.100.78", "Primary": false}], "SecondaryPrivateIpAddressCount": 1}]}`, "InvalidParameterCombination"},
		{"a secondary count of 0", `{"MinCount": 1, "MaxCount": 1, "NetworkInterfaces": [{"DeviceIndex": 0, "SubnetId": "PUB-WEB-2a", "SecondaryPrivateIpAddressCount": 0}]}`, "InvalidParameterValue"},
		{"a secondary address in use", `{"MinCount": 1, "MaxCount": 1, "NetworkInterfaces": [{"DeviceIndex": 0, "SubnetId": "PUB-WEB-2a",
			"PrivateIpAddresses": [{"PrivateIpAddress": "92.75.100.10", "Primary": false}]}]}`, "InvalidIPAddress.InUse"},
		{"a description too long", `{"MinCount": 1, "MaxCount": 1, "NetworkInterfaces": [{"DeviceIndex": 0, "SubnetId": "PUB-WEB-2a", "Description": "` + strings.Repeat("d", 256) + `"}]}`, "InvalidParameterValue"},
		{"an interface id in use", `{"MinCount": 1, "MaxCount": 1, "NetworkInterfaces": [{"DeviceIndex": 0, "SubnetId": "PUB-WEB-2a"},
			{"DeviceIndex": 1, "NetworkInterfaceId": "eni-extra"}]}`, "InvalidNetworkInterface.InUse"},
		{"an unknown interface id", `{"MinCount": 1, "MaxCount": 1, "NetworkInterfaces": [{"DeviceIndex": 0, "SubnetId": "PUB-WEB-2a"},
			{"DeviceIndex": 1, "NetworkInterfaceId": "eni-0123456789abcdef0"}]}`, "InvalidNetworkInterfaceID.NotFound"},
		{"an interface name taken", `{"MinCount": 1, "MaxCount": 1, "NetworkInterfaces": [{"DeviceIndex": 0, "SubnetId": "PUB-WEB-2a"}, {"DeviceIndex": 1, "SubnetId": "PUB-WEB-2a"}],
			"TagSpecifications": [{"ResourceType": "network-interface", "Tags": [{"Key": "Name", "Value": "web"}]}]}`, "InvalidParameterValue"},
		{"a volume tag", run(`, "TagSpecifications": [{"ResourceType": "volume", "Tags": [{"Key": "Name", "Value": "v"}]}]`), "InvalidParameterValue"},
		{"unknown group", run(`, "SecurityGroupIds": ["nope"]`), "InvalidGroup.NotFound"},
		{"name taken", run(name("web")), "InvalidParameterValue"},
		{"name with a slash", run(name("bad name/x")), "InvalidParameterValue"},
		{"a reserved tag", run(`, "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "a"}, {"Key": "aws:env", "Value": "x"}]}]`), "InvalidParameterValue"},
		{"malformed image", run(`, "ImageId": "ami-xyz"`), "InvalidAMIID.Malformed"},
		{"unknown type", run(`, "InstanceType": "t9.mega"`), "InvalidParameterValue"},
		{"key name with newline", run(`, "KeyName": "a\nb"`), "InvalidKeyPair.Format"},
		{"user data not base64", run(`, "UserData": "not base64!"`), "InvalidParameterValue"},
		{"user data over 16 KB", run(`, "UserData": "` + b64(strings.Repeat("x", topology.MaxUserData+1)) + `"`), "InvalidParameterValue"},
		{"user data not text", run(`, "UserData": "` + base64.StdEncoding.EncodeToString([]byte{0xff, 0xfe}) + `"`), "InvalidParameterValue"},
		{"user data with NUL", run(`, "UserData": "` + b64("a\x00b") + `"`), "InvalidParameterValue"},
		{"interface and subnet", run(`, "NetworkInterfaces": [{"DeviceIndex": 0, "AssociatePublicIpAddress": true}]`), "InvalidParameterCombination"},
		{"interface at index 1", `{"MinCount": 1, "MaxCount": 1, "NetworkInterfaces": [{"DeviceIndex": 1, "SubnetId": "PUB-WEB-2a"}]}`, "InvalidParameterValue"},
		{"an existing interface", `{"MinCount": 1, "MaxCount": 1, "NetworkInterfaces": [{"DeviceIndex": 0, "NetworkInterfaceId": "eni-extra"}]}`, "Unsupported"},
		{"another AZ", run(`, "Placement": {"AvailabilityZone": "ap-northeast-2c"}`), "InvalidParameterValue"},
		{"IPv6", run(`, "Ipv6AddressCount": 1`), "Unsupported"},
		{"termination protection", run(`, "DisableApiTermination": true`), "Unsupported"},
		{"unknown member", run(`, "Bogus": 1`), "UnknownParameter"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, k := opsService(t, "")
			refuse(t, d, k, "RunInstances", c.req, c.code)
		})
	}
	// An existing namespace of the name is refused too, and so is a count
	// whose second name (w-2) is taken.
	d, k := opsService(t, "")
	k.namespaces["ch5-n9"] = true
	refuse(t, d, k, "RunInstances", run(name("n9")), "InvalidParameterValue")
	answer[types.CreateNetworkInterfaceResult](t, d, "CreateNetworkInterface", `{"SubnetId": "PRI-DB-2a",
		"TagSpecifications": [{"ResourceType": "network-interface", "Tags": [{"Key": "Name", "Value": "w-2"}]}]}`)
	k.calls = nil
	refuse(t, d, k, "RunInstances", `{"MinCount": 3, "MaxCount": 3, "SubnetId": "PUB-WEB-2a"`+name("w")+`}`, "InvalidParameterValue")
}

// A launch that fails in the kernel undoes the launches before it: all
// instances or none.
func TestINST_RunInstancesAllOrNothing(t *testing.T) {
	d, k := opsService(t, "")
	k.failLaunch = "w-2"
	before := snapshot(t, d)
	_, err := d.CallInput("RunInstances", request(t, `{"MinCount": 3, "MaxCount": 3, "SubnetId": "PUB-WEB-2a",
		"TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "w"}]}]}`))
	if err == nil {
		t.Fatal("a failed launch answered success")
	}
	if snapshot(t, d) != before {
		t.Fatal("a failed launch left instances behind")
	}
	if !slices.Equal(k.calls, []string{"launch w-1", "launch w-2", "remove w-1", "remove w-2"}) {
		t.Fatalf("kernel: %v", k.calls)
	}
}

// DryRun checks a launch as if it ran, answers DryRunOperation, and
// launches nothing.
func TestINST_RunInstancesDryRun(t *testing.T) {
	d, k := opsService(t, "")
	before := snapshot(t, d)
	_, err := d.CallInput("RunInstances", request(t, `{"DryRun": true, "MinCount": 1, "MaxCount": 1, "SubnetId": "PUB-WEB-2a"}`))
	var e *Error
	if !errors.As(err, &e) || e.Code != "DryRunOperation" || snapshot(t, d) != before || len(k.calls) != 0 {
		t.Fatalf("dry run: %v, kernel %v", err, k.calls)
	}
	_, err = d.CallInput("RunInstances", request(t, `{"DryRun": true, "MinCount": 1, "MaxCount": 1, "SubnetId": "PUB-WEB-2a", "PrivateIpAddress": "92.75.100.10"}`))
	if !errors.As(err, &e) || e.Code != "InvalidIPAddress.InUse" {
		t.Fatalf("a dry run that would fail answers the failure: %v", err)
	}
}

// LIFE-3, INST-2: stop, start and terminate answer EC2's passage
// (stopping, pending, shutting-down) and leave the instance stopped,
// running, or terminated and still described for an hour.
func TestLIFE3_StopStartTerminate(t *testing.T) {
	d, k := opsService(t, "")
	answer[types.Reservation](t, d, "RunInstances", `{"MinCount": 1, "MaxCount": 1, "SubnetId": "PUB-WEB-2a",
		"TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "n1"}]}]}`)
	n1 := d.net.InstanceByName["n1"]
	pub := n1.Primary().PublicIPs[n1.Primary().PrimaryIP]
	if !pub.IsValid() {
		t.Fatal("PUB-WEB-2a maps a public IP on launch")
	}
	change := func(l []types.InstanceStateChange) string {
		var s []string
		for _, c := range l {
			s = append(s, fmt.Sprintf("%s %s(%d)<-%s(%d)", *c.InstanceId, c.CurrentState.Name, *c.CurrentState.Code, c.PreviousState.Name, *c.PreviousState.Code))
		}
		return strings.Join(s, "; ")
	}
	k.calls = nil
	stop := answer[types.StopInstancesResult](t, d, "StopInstances", `{"InstanceIds": ["`+n1.ID+`"]}`)
	if got := change(stop.StoppingInstances); got != n1.ID+" stopping(64)<-running(16)" {
		t.Fatalf("stop: %s", got)
	}
	if !n1.Stopped || InstanceState(n1) != "stopped" || len(n1.Primary().PublicIPs) != 0 ||
		!slices.Equal(k.calls, []string{"unplug n1", "stop n1"}) {
		t.Fatalf("stopped: %+v, kernel %v", n1, k.calls)
	}
	stop = answer[types.StopInstancesResult](t, d, "StopInstances", `{"InstanceIds": ["n1"], "Force": true}`)
	if got := change(stop.StoppingInstances); got != n1.ID+" stopped(80)<-stopped(80)" {
		t.Fatalf("stop again: %s", got)
	}
	start := answer[types.StartInstancesResult](t, d, "StartInstances", `{"InstanceIds": ["n1", "web"]}`)
	if got := change(start.StartingInstances); got != n1.ID+" pending(0)<-stopped(80); "+d.net.InstanceByName["web"].ID+" running(16)<-running(16)" {
		t.Fatalf("start: %s", got)
	}
	if n1.Stopped || !n1.Primary().PublicIPs[n1.Primary().PrimaryIP].IsValid() || n1.Primary().PublicIPs[n1.Primary().PrimaryIP] == pub {
		t.Fatalf("INST-2: started with public IP %v, had %v", n1.Primary().PublicIPs, pub)
	}
	// All or nothing: one unknown id, nothing stops.
	refuse(t, d, k, "StopInstances", `{"InstanceIds": ["n1", "i-0123456789abcdef0"]}`, "InvalidInstanceID.NotFound")
	refuse(t, d, k, "TerminateInstances", `{"InstanceIds": []}`, "MissingParameter")
	refuse(t, d, k, "StopInstances", `{"InstanceIds": ["n1"], "Hibernate": true}`, "Unsupported")

	k.calls = nil
	term := answer[types.TerminateInstancesResult](t, d, "TerminateInstances", `{"InstanceIds": ["n1", "n1"]}`)
	if got := change(term.TerminatingInstances); got != n1.ID+" shutting-down(32)<-running(16)" {
		t.Fatalf("terminate: %s", got)
	}
	if d.net.InstanceByName["n1"] != nil || eniNamed(d, "n1") != nil || !slices.Equal(k.calls, []string{"remove n1", "hosts"}) {
		t.Fatalf("terminated n1 stays in the model, or kernel %v", k.calls)
	}
	gone := d.terminatedInstances()
	if len(gone) != 1 || *gone[0].InstanceId != n1.ID || gone[0].State.Name != types.InstanceStateNameTerminated || *gone[0].State.Code != 48 ||
		len(gone[0].NetworkInterfaces) != 0 || gone[0].PrivateIpAddress != nil || *gone[0].Tags[0].Value != "n1" ||
		!strings.HasPrefix(*gone[0].StateTransitionReason, "User initiated (") || *gone[0].StateReason.Code != "Client.UserInitiatedShutdown" {
		t.Fatalf("describe after terminate: %+v", gone)
	}
	res := types.DescribeInstancesResult{Reservations: []types.Reservation{{ReservationId: ptr(reservationID(d.net, n1.ID, "n1")),
		OwnerId: ptr(d.net.AccountID()), Groups: []types.GroupIdentifier{}, Instances: gone}}}
	if err := query.Encode(io.Discard, "DescribeInstances", "r", &res); err != nil {
		t.Fatalf("a terminated instance is not one EC2 describes: %v", err)
	}
	// Terminated again: terminated; stopped or started: refused.
	term = answer[types.TerminateInstancesResult](t, d, "TerminateInstances", `{"InstanceIds": ["`+n1.ID+`"]}`)
	if got := change(term.TerminatingInstances); got != n1.ID+" terminated(48)<-terminated(48)" {
		t.Fatalf("terminate again: %s", got)
	}
	refuse(t, d, k, "StartInstances", `{"InstanceIds": ["`+n1.ID+`"]}`, "IncorrectInstanceState")
	refuse(t, d, k, "StopInstances", `{"InstanceIds": ["`+n1.ID+`"]}`, "IncorrectInstanceState")
	// A new instance of the same name has the same id: the terminated one
	// is no longer listed beside it.
	answer[types.Reservation](t, d, "RunInstances", `{"MinCount": 1, "MaxCount": 1, "SubnetId": "PUB-WEB-2a",
		"TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "n1"}]}]}`)
	if g := d.terminatedInstances(); len(g) != 0 {
		t.Fatalf("terminated n1 listed beside the new n1: %+v", g)
	}
	answer[types.TerminateInstancesResult](t, d, "TerminateInstances", `{"InstanceIds": ["n1"]}`)
	// After an hour it is gone.
	b := d.book()
	for k := range b.gone {
		b.gone[k].at = b.gone[k].at.Add(-terminatedFor - time.Second)
	}
	if g := d.terminatedInstances(); len(g) != 0 {
		t.Fatalf("terminated over an hour ago, still listed: %+v", g)
	}
	refuse(t, d, k, "TerminateInstances", `{"InstanceIds": ["`+n1.ID+`"]}`, "InvalidInstanceID.NotFound")
}

// A start whose second device fails unplugs the first and leaves the
// instance stopped.
func TestINST2_StartAllOrNothing(t *testing.T) {
	d, k := opsService(t, "")
	answer[types.StopInstancesResult](t, d, "StopInstances", `{"InstanceIds": ["web"]}`)
	k.failPlug, k.calls = "eni-extra", nil
	if _, err := d.CallInput("StartInstances", request(t, `{"InstanceIds": ["web"]}`)); err == nil {
		t.Fatal("a failed plug answered success")
	}
	if !d.net.InstanceByName["web"].Stopped || !slices.Equal(k.calls, []string{"plug web web eth0", "plug web eni-extra eth1", "unplug web"}) {
		t.Fatalf("after a failed start: kernel %v", k.calls)
	}
}

// ENI-4: ModifyInstanceAttribute changes eth0's source/dest check, by
// SourceDestCheck or by Attribute and Value, and answers nothing.
func TestENI4_ModifyInstanceAttribute(t *testing.T) {
	d, k := opsService(t, "")
	db := d.net.InstanceByName["db"].Primary()
	if answer[struct{}](t, d, "ModifyInstanceAttribute", `{"InstanceId": "db", "SourceDestCheck": {"Value": false}}`) != nil || db.SourceDestCheck {
		t.Fatal("SourceDestCheck false")
	}
	answer[struct{}](t, d, "ModifyInstanceAttribute", `{"InstanceId": "`+d.net.InstanceByName["db"].ID+`", "Attribute": "sourceDestCheck", "Value": "true"}`)
	if !db.SourceDestCheck {
		t.Fatal("Attribute sourceDestCheck Value true")
	}
	answer[struct{}](t, d, "ModifyInstanceAttribute", `{"InstanceId": "db", "Groups": ["default"]}`)
	if len(db.Groups) != 1 || db.Groups[0].Name != "default" {
		t.Fatalf("groups: %v", db.Groups)
	}
	for _, c := range []struct{ req, code string }{
		{`{"InstanceId": "db"}`, "MissingParameter"},
		{`{"InstanceId": "i-0123456789abcdef0", "SourceDestCheck": {"Value": false}}`, "InvalidInstanceID.NotFound"},
		{`{"InstanceId": "db", "Attribute": "sourceDestCheck", "Value": "maybe"}`, "InvalidParameterCombination"},
		{`{"InstanceId": "db", "Attribute": "instanceType", "Value": "t3.micro"}`, "Unsupported"},
		{`{"InstanceId": "db", "InstanceType": {"Value": "t3.micro"}}`, "Unsupported"},
	} {
		refuse(t, d, k, "ModifyInstanceAttribute", c.req, c.code)
	}
}

// The state passage's codes are EC2's (LIFE-3).
func TestLIFE3_StateCodes(t *testing.T) {
	for name, code := range map[types.InstanceStateName]int32{"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80} {
		if s := stateOf(name); *s.Code != code || s.Name != name {
			t.Errorf("%s: %+v", name, s)
		}
	}
	var i topology.Instance
	i.ENIs = []*topology.ENI{{PrimaryIP: netip.MustParseAddr("10.0.0.4")}}
	if InstanceState(&i) != "running" {
		t.Fatal("a live instance is running")
	}
	i.Stopped = true
	if InstanceState(&i) != "stopped" {
		t.Fatal("stopped")
	}
}

// myOps are the operations of interfaces.go, instances.go and routes.go.
var myOps = []string{"CreateNetworkInterface", "DeleteNetworkInterface", "AttachNetworkInterface", "DetachNetworkInterface",
	"ModifyNetworkInterfaceAttribute", "AssignPrivateIpAddresses", "UnassignPrivateIpAddresses", "RunInstances",
	"TerminateInstances", "StopInstances", "StartInstances", "ModifyInstanceAttribute", "CreateRoute", "ReplaceRoute", "DeleteRoute"}

// FuzzENIInstanceRouteOps: any request to these operations either is
// refused with an EC2 error and changes nothing (model and kernel), or
// succeeds with an answer EC2's model allows and a network whose export
// loads again (issue 10: one validation). Nothing panics.
func FuzzENIInstanceRouteOps(f *testing.F) {
	for i, req := range []string{
		`{"SubnetId": "PUB-WEB-2a", "PrivateIpAddress": "92.75.100.30", "Groups": ["default"], "TagSpecifications": [{"ResourceType": "network-interface", "Tags": [{"Key": "Name", "Value": "x"}]}]}`,
		`{"NetworkInterfaceId": "eni-extra"}`,
		`{"NetworkInterfaceId": "eni-extra", "InstanceId": "db", "DeviceIndex": 1}`,
		`{"AttachmentId": "eni-extra", "Force": true}`,
		`{"NetworkInterfaceId": "nat-2a", "SourceDestCheck": {"Value": false}, "Groups": ["default"], "Description": {"Value": "x"}}`,
		`{"NetworkInterfaceId": "eni-extra", "PrivateIpAddresses": ["92.75.100.40"], "SecondaryPrivateIpAddressCount": 2}`,
		`{"NetworkInterfaceId": "eni-extra", "PrivateIpAddresses": ["92.75.100.5"]}`,
		`{"MinCount": 2, "MaxCount": 3, "SubnetId": "PRI-DB-2a", "UserData": "ZWNobyBoaQ==", "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "w"}]}]}`,
		`{"InstanceIds": ["web", "db"]}`,
		`{"InstanceIds": ["db"], "Force": true}`,
		`{"InstanceIds": ["db"]}`,
		`{"InstanceId": "db", "Attribute": "sourceDestCheck", "Value": "false"}`,
		`{"RouteTableId": "rt-public", "DestinationCidrBlock": "92.75.200.0/24", "InstanceId": "db"}`,
		`{"RouteTableId": "rt-private", "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-main"}`,
		`{"RouteTableId": "rt-private", "DestinationCidrBlock": "0.0.0.0/0"}`,
	} {
		f.Add(uint8(i), req)
	}
	f.Fuzz(func(t *testing.T, op uint8, body string) {
		var req map[string]any
		if json.Unmarshal([]byte(body), &req) != nil || req == nil {
			return
		}
		name := myOps[int(op)%len(myOps)]
		d, k := opsService(t, "")
		before := snapshot(t, d)
		out, err := d.CallInput(name, req)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code == "" { // the fake kernel never fails
				t.Fatalf("%s %s: not an EC2 error: %v", name, body, err)
			}
			if snapshot(t, d) != before || len(k.calls) != 0 {
				t.Fatalf("%s %s: refused (%v) but changed the network or asked the kernel %v", name, body, err, k.calls)
			}
			return
		}
		if err := query.Encode(io.Discard, name, "r", out); err != nil {
			t.Fatalf("%s %s answers what EC2 does not: %v", name, body, err)
		}
		if err := reloads(d); err != nil {
			t.Fatalf("%s %s: the export does not load: %v", name, body, err)
		}
	})
}
