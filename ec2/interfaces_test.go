package ec2

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/vpcnet/vpcnet/dataplane"
	"github.com/vpcnet/vpcnet/ec2/query"
	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

// --- what the tests of interfaces, instances and routes share -----------------

// opsKernel records what the operations asked of the kernel, and fails a
// launch or a plug when told to.
type opsKernel struct {
	calls      []string
	namespaces map[string]bool // namespaces that exist already
	failLaunch string          // instance name whose launch fails
	failPlug   string          // ENI name whose plug fails
}

func (k *opsKernel) log(format string, args ...any) {
	k.calls = append(k.calls, fmt.Sprintf(format, args...))
}

func (k *opsKernel) NamespaceExists(name string) bool { return k.namespaces[name] }
func (k *opsKernel) LaunchInstance(i *topology.Instance) error {
	k.log("launch %s", i.Name)
	if i.Name == k.failLaunch {
		return errors.New("launch failed")
	}
	return nil
}
func (k *opsKernel) RemoveInstance(i *topology.Instance) { k.log("remove %s", i.Name) }
func (k *opsKernel) StopProcesses(i *topology.Instance)  { k.log("stop %s", i.Name) }
func (k *opsKernel) PlugENI(i *topology.Instance, e *topology.ENI, idx int) error {
	k.log("plug %s %s eth%d", i.Name, e.Name, idx)
	if e.Name == k.failPlug {
		return errors.New("plug failed")
	}
	return nil
}
func (k *opsKernel) UnplugENI(e *topology.ENI)                   { k.log("unplug %s", e.Name) }
func (k *opsKernel) ConfigureENI(e *topology.ENI) error          { k.log("configure %s", e.Name); return nil }
func (k *opsKernel) RemoveAddress(e *topology.ENI, a netip.Addr) { k.log("unaddress %s %s", e.Name, a) }
func (k *opsKernel) RefreshHosts()                               { k.log("hosts") }
func (k *opsKernel) ExplainPath(string, netip.Addr, uint8, uint16) (dataplane.PathAnalysis, error) {
	return dataplane.PathAnalysis{}, errors.New("no forwarder")
}

type opsStore struct{ n *topology.Network }

func (s opsStore) Network() *topology.Network { return s.n }

// opsService is a service over topo (the textbook's network when "") with
// a recording kernel.
func opsService(t testing.TB, topo string) (*Service, *opsKernel) {
	t.Helper()
	b := topology.Default()
	if topo != "" {
		b = []byte(topo)
	}
	n, err := topology.Load(b)
	if err != nil {
		t.Fatal(err)
	}
	k := &opsKernel{namespaces: map[string]bool{}}
	return New(opsStore{n}, k), k
}

// request parses a request written as JSON, by EC2's member names.
func request(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return m
}

// snapshot is the network as the file holds it, with every instance's
// state: a refused operation leaves it byte-identical.
func snapshot(t testing.TB, d *Service) string {
	t.Helper()
	b, err := json.Marshal(topology.Export(d.net))
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, v := range d.net.VPCs {
		for _, i := range v.Instances {
			states = append(states, i.Name+"="+InstanceState(i))
		}
	}
	return string(b) + strings.Join(states, ",")
}

// answer runs op, which must succeed with an answer EC2's model allows
// (ec2/query.Encode refuses a member or enum value the model lacks, and
// an operation EC2 answers with nothing must answer nil).
func answer[T any](t testing.TB, d *Service, op, req string) *T {
	t.Helper()
	out, err := d.CallInput(op, request(t, req))
	if err != nil {
		t.Fatalf("%s %s: %v", op, req, err)
	}
	if err := query.Encode(io.Discard, op, "r", out); err != nil {
		t.Fatalf("%s answers what EC2 does not: %v", op, err)
	}
	if out == nil {
		return nil
	}
	x, ok := out.(*T)
	if !ok {
		t.Fatalf("%s answered %T", op, out)
	}
	return x
}

// refuse is refused (EC2's code, nothing changed) that also checks that
// the kernel was not asked anything.
func refuse(t testing.TB, d *Service, k *opsKernel, op, req, code string) string {
	t.Helper()
	calls := len(k.calls)
	msg := refused(t, d, op, req, code)
	if len(k.calls) != calls {
		t.Fatalf("%s %s: refused (%s) but asked the kernel %v", op, req, code, k.calls[calls:])
	}
	return msg
}

func eniNamed(d *Service, name string) *topology.ENI {
	for _, v := range d.net.VPCs {
		for _, e := range v.ENIs {
			if e.Name == name {
				return e
			}
		}
	}
	return nil
}

// --- network interfaces ----------------------------------------------------------

// ENI-1, ENI-7: CreateNetworkInterface answers the interface as EC2
// describes it; its Name tag is its name.
func TestENI1_CreateNetworkInterfaceAnswersEC2(t *testing.T) {
	d, k := opsService(t, "")
	out := answer[types.CreateNetworkInterfaceResult](t, d, "CreateNetworkInterface", `{"SubnetId": "PUB-WEB-2a",
		"PrivateIpAddress": "92.75.100.30", "Groups": ["my-Web-SecurityGroup"], "Description": "spare ENI",
		"TagSpecifications": [{"ResourceType": "network-interface", "Tags": [{"Key": "Name", "Value": "spare"}]}]}`)
	e := eniNamed(d, "spare")
	if e == nil || e.PrimaryIP != netip.MustParseAddr("92.75.100.30") || e.Description != "spare ENI" || e.Instance != nil {
		t.Fatalf("model: %+v", e)
	}
	ni := out.NetworkInterface
	if ni == nil || *ni.NetworkInterfaceId != e.ID || *ni.OwnerId != d.net.AccountID() || *ni.SubnetId != e.Subnet.ID ||
		*ni.VpcId != e.Subnet.VPC.ID || *ni.AvailabilityZone != "ap-northeast-2a" || *ni.MacAddress != e.MAC.String() ||
		*ni.PrivateDnsName != "ip-92-75-100-30.ap-northeast-2.compute.internal" || *ni.PrivateIpAddress != "92.75.100.30" ||
		ni.Status != types.NetworkInterfaceStatusAvailable || ni.InterfaceType != types.NetworkInterfaceTypeInterface ||
		!*ni.SourceDestCheck || *ni.RequesterManaged || ni.Attachment != nil || ni.Ipv6Addresses == nil ||
		len(ni.Groups) != 1 || *ni.Groups[0].GroupName != "my-Web-SecurityGroup" ||
		len(ni.TagSet) != 1 || *ni.TagSet[0].Key != "Name" || *ni.TagSet[0].Value != "spare" ||
		len(ni.PrivateIpAddresses) != 1 || !*ni.PrivateIpAddresses[0].Primary {
		b, _ := json.Marshal(ni)
		t.Fatalf("answer: %s", b)
	}
	if len(k.calls) != 0 {
		t.Fatalf("an unattached ENI needs no kernel: %v", k.calls)
	}
	// ENI-2: no groups → the VPC's default group; no name → eni-1.
	out = answer[types.CreateNetworkInterfaceResult](t, d, "CreateNetworkInterface", `{"SubnetId": "PRI-DB-2a"}`)
	if g := out.NetworkInterface.Groups; len(g) != 1 || *g[0].GroupName != "default" || eniNamed(d, "eni-1") == nil {
		t.Fatalf("ENI-2: %+v", out.NetworkInterface)
	}
}

// Refused interface operations answer EC2's code and change nothing, in
// the model or the kernel (ENI-1..ENI-6, issue 10's checks).
func TestENI_RefusedWithNothingChanged(t *testing.T) {
	long := strings.Repeat("x", 256)
	nameTag := func(v string) string {
		b, _ := json.Marshal(v)
		return `"TagSpecifications": [{"ResourceType": "network-interface", "Tags": [{"Key": "Name", "Value": ` + string(b) + `}]}]`
	}
	cases := []struct{ op, req, code string }{
		{"CreateNetworkInterface", `{}`, "MissingParameter"},
		{"CreateNetworkInterface", `{"SubnetId": "subnet-nope"}`, "InvalidSubnetID.NotFound"},
		{"CreateNetworkInterface", `{"SubnetId": "PUB-WEB-2a", "PrivateIpAddress": "92.75.200.9"}`, "InvalidParameterValue"}, // ENI-1
		{"CreateNetworkInterface", `{"SubnetId": "PUB-WEB-2a", "PrivateIpAddress": "92.75.100.1"}`, "InvalidParameterValue"}, // ADDR-2
		{"CreateNetworkInterface", `{"SubnetId": "PUB-WEB-2a", "PrivateIpAddress": "92.75.100.10"}`, "InvalidIPAddress.InUse"},
		{"CreateNetworkInterface", `{"SubnetId": "PUB-WEB-2a", "PrivateIpAddress": "x"}`, "InvalidParameterValue"},
		{"CreateNetworkInterface", `{"SubnetId": "PUB-WEB-2a", "Groups": ["nope"]}`, "InvalidGroup.NotFound"},
		{"CreateNetworkInterface", `{"SubnetId": "PUB-WEB-2a", "Description": "` + long + `"}`, "InvalidParameterValue"},
		{"CreateNetworkInterface", `{"SubnetId": "PUB-WEB-2a", "Description": "a\nb"}`, "InvalidParameterValue"},
		{"CreateNetworkInterface", `{"SubnetId": "PUB-WEB-2a", ` + nameTag("web") + `}`, "InvalidParameterValue"},   // taken
		{"CreateNetworkInterface", `{"SubnetId": "PUB-WEB-2a", ` + nameTag("a\tb") + `}`, "InvalidParameterValue"},  // FORMAT
		{"CreateNetworkInterface", `{"SubnetId": "PUB-WEB-2a", ` + nameTag("local") + `}`, "InvalidParameterValue"}, // RT-3's word
		{"CreateNetworkInterface", `{"SubnetId": "PUB-WEB-2a", ` + nameTag(long) + `}`, "InvalidParameterValue"},
		{"CreateNetworkInterface", `{"SubnetId": "PUB-WEB-2a", ` + nameTag("") + `}`, "InvalidParameterValue"},
		{"CreateNetworkInterface", `{"SubnetId": "PUB-WEB-2a", "TagSpecifications": [{"ResourceType": "network-interface", "Tags": [{"Key": "env", "Value": ""}, {"Key": "env", "Value": "x"}]}]}`, "InvalidParameterValue"},
		{"CreateNetworkInterface", `{"SubnetId": "PUB-WEB-2a", "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "x"}]}]}`, "InvalidParameterValue"},
		{"CreateNetworkInterface", `{"SubnetId": "PUB-WEB-2a", "Ipv6AddressCount": 1}`, "Unsupported"},
		{"CreateNetworkInterface", `{"SubnetId": "PUB-WEB-2a", "InterfaceType": "trunk"}`, "Unsupported"},
		{"CreateNetworkInterface", `{"SubnetId": "PUB-WEB-2a", "Bogus": 1}`, "UnknownParameter"},
		{"DeleteNetworkInterface", `{"NetworkInterfaceId": "nat-2a"}`, "OperationNotPermitted"},            // ENI-5
		{"DeleteNetworkInterface", `{"NetworkInterfaceId": "eni-extra"}`, "InvalidNetworkInterface.InUse"}, // attached
		{"DeleteNetworkInterface", `{"NetworkInterfaceId": "eni-0123456789abcdef0"}`, "InvalidNetworkInterfaceID.NotFound"},
		{"DeleteNetworkInterface", `{}`, "MissingParameter"},
		{"AttachNetworkInterface", `{"NetworkInterfaceId": "eni-extra", "InstanceId": "db", "DeviceIndex": 2}`, "InvalidNetworkInterface.InUse"},
		{"AttachNetworkInterface", `{"NetworkInterfaceId": "nat-2a", "InstanceId": "db", "DeviceIndex": 1}`, "OperationNotPermitted"},
		{"AttachNetworkInterface", `{"NetworkInterfaceId": "eni-extra", "InstanceId": "i-0123456789abcdef0", "DeviceIndex": 1}`, "InvalidInstanceID.NotFound"},
		{"AttachNetworkInterface", `{"NetworkInterfaceId": "eni-extra", "InstanceId": "db", "DeviceIndex": 1.5}`, "InvalidParameterValue"}, // whole numbers
		{"AttachNetworkInterface", `{"NetworkInterfaceId": "eni-extra", "InstanceId": "db", "DeviceIndex": "1"}`, "InvalidParameterValue"},
		{"DetachNetworkInterface", `{"AttachmentId": "web"}`, "OperationNotPermitted"}, // ENI-6: eth0
		{"DetachNetworkInterface", `{"AttachmentId": "nat-2a"}`, "OperationNotPermitted"},
		{"DetachNetworkInterface", `{"AttachmentId": "eni-attach-0123456789abcdef0"}`, "InvalidAttachmentID.NotFound"},
		{"DetachNetworkInterface", `{"AttachmentId": "ela-attach-0123456789abcdef0"}`, "InvalidAttachmentID.NotFound"},
		{"DetachNetworkInterface", `{}`, "MissingParameter"},
		{"ModifyNetworkInterfaceAttribute", `{"NetworkInterfaceId": "nat-2a", "SourceDestCheck": {"Value": true}}`, "OperationNotPermitted"}, // ENI-3/5
		{"ModifyNetworkInterfaceAttribute", `{"NetworkInterfaceId": "eni-extra"}`, "MissingParameter"},
		{"ModifyNetworkInterfaceAttribute", `{"NetworkInterfaceId": "eni-extra", "SourceDestCheck": {}}`, "MissingParameter"},
		{"ModifyNetworkInterfaceAttribute", `{"NetworkInterfaceId": "eni-extra", "Groups": ["my-Web-SecurityGroup", "nope"]}`, "InvalidGroup.NotFound"},
		{"ModifyNetworkInterfaceAttribute", `{"NetworkInterfaceId": "eni-extra", "Description": {"Value": "a\u007fb"}}`, "InvalidParameterValue"},
		{"ModifyNetworkInterfaceAttribute", `{"NetworkInterfaceId": "eni-extra", "SourceDestCheck": {"Value": "false"}}`, "InvalidParameterValue"},
		{"AssignPrivateIpAddresses", `{"NetworkInterfaceId": "eni-extra", "PrivateIpAddresses": ["92.75.100.40", "92.75.100.40"]}`, "InvalidParameterValue"},
		{"AssignPrivateIpAddresses", `{"NetworkInterfaceId": "eni-extra", "PrivateIpAddresses": ["92.75.100.41", "92.75.100.10"]}`, "InvalidIPAddress.InUse"}, // none added
		{"AssignPrivateIpAddresses", `{"NetworkInterfaceId": "eni-extra", "PrivateIpAddresses": ["92.75.200.41"]}`, "InvalidParameterValue"},
		{"AssignPrivateIpAddresses", `{"NetworkInterfaceId": "eni-extra", "SecondaryPrivateIpAddressCount": 0}`, "InvalidParameterValue"},
		{"AssignPrivateIpAddresses", `{"NetworkInterfaceId": "eni-extra", "SecondaryPrivateIpAddressCount": 50}`, "InvalidParameterValue"},
		{"AssignPrivateIpAddresses", `{"NetworkInterfaceId": "eni-extra", "SecondaryPrivateIpAddressCount": "2x"}`, "InvalidParameterValue"},
		{"AssignPrivateIpAddresses", `{"NetworkInterfaceId": "eni-extra"}`, "MissingParameter"},
		{"AssignPrivateIpAddresses", `{"NetworkInterfaceId": "nat-2a", "PrivateIpAddresses": ["92.75.100.40"]}`, "OperationNotPermitted"},
		{"AssignPrivateIpAddresses", `{"NetworkInterfaceId": "eni-extra", "AllowReassignment": true, "PrivateIpAddresses": ["92.75.100.10"]}`, "Unsupported"},
		{"UnassignPrivateIpAddresses", `{"NetworkInterfaceId": "eni-extra", "PrivateIpAddresses": ["92.75.100.5"]}`, "InvalidParameterValue"}, // the primary
		{"UnassignPrivateIpAddresses", `{"NetworkInterfaceId": "eni-extra"}`, "MissingParameter"},
	}
	for _, c := range cases {
		t.Run(c.op+" "+c.req, func(t *testing.T) {
			d, k := opsService(t, "")
			refuse(t, d, k, c.op, c.req, c.code)
		})
	}
}

// ENI-6: an ENI attaches to an instance of its VPC and AZ as eth<N>, the
// kernel plugs it, the answer is EC2's; it detaches by attachment id or,
// vpcnet's extension, by the ENI's name; eth0 and index 0 never.
func TestENI6_AttachDetach(t *testing.T) {
	d, k := opsService(t, "")
	answer[types.CreateNetworkInterfaceResult](t, d, "CreateNetworkInterface", `{"SubnetId": "PRI-DB-2a",
		"TagSpecifications": [{"ResourceType": "network-interface", "Tags": [{"Key": "Name", "Value": "x1"}]}]}`)
	refuse(t, d, k, "AttachNetworkInterface", `{"NetworkInterfaceId": "x1", "InstanceId": "db", "DeviceIndex": 0}`, "InvalidParameterValue")
	refuse(t, d, k, "AttachNetworkInterface", `{"NetworkInterfaceId": "x1", "InstanceId": "db", "DeviceIndex": 16}`, "InvalidParameterValue")
	refuse(t, d, k, "AttachNetworkInterface", `{"NetworkInterfaceId": "x1", "InstanceId": "db", "DeviceIndex": 1, "NetworkCardIndex": 1}`, "InvalidParameterValue")
	refuse(t, d, k, "AttachNetworkInterface", `{"NetworkInterfaceId": "x1", "InstanceId": "web", "DeviceIndex": 1}`, "InvalidParameterValue") // web has eth1
	out := answer[types.AttachNetworkInterfaceResult](t, d, "AttachNetworkInterface", `{"NetworkInterfaceId": "x1", "InstanceId": "db", "DeviceIndex": 1}`)
	e := eniNamed(d, "x1")
	if e.Instance == nil || e.Instance.Name != "db" || e.DeviceIndex != 1 || *out.AttachmentId != attachmentID(d.net, e) ||
		!strings.HasPrefix(*out.AttachmentId, "eni-attach-") || out.NetworkCardIndex == nil || *out.NetworkCardIndex != 0 {
		t.Fatalf("attach: %+v, model %+v", out, e)
	}
	if !slices.Equal(k.calls, []string{"plug db x1 eth1"}) {
		t.Fatalf("kernel: %v", k.calls)
	}
	if ni := describeENI(d.net, e); ni.Attachment == nil || *ni.Attachment.AttachmentId != *out.AttachmentId || ni.Status != types.NetworkInterfaceStatusInUse {
		t.Fatalf("describe after attach: %+v", ni)
	}
	if answer[struct{}](t, d, "DetachNetworkInterface", `{"AttachmentId": "`+*out.AttachmentId+`", "Force": true}`) != nil {
		t.Fatal("DetachNetworkInterface answers nothing, as EC2 does")
	}
	if e.Instance != nil || len(d.net.InstanceByName["db"].ENIs) != 1 || k.calls[len(k.calls)-1] != "unplug x1" {
		t.Fatalf("detach: %+v, kernel %v", e, k.calls)
	}
	refuse(t, d, k, "DetachNetworkInterface", `{"AttachmentId": "x1"}`, "InvalidAttachmentID.NotFound")
	refuse(t, d, k, "DetachNetworkInterface", `{"AttachmentId": "`+*out.AttachmentId+`"}`, "InvalidAttachmentID.NotFound")
	// A stopped instance gets the device at start, not now.
	answer[types.StopInstancesResult](t, d, "StopInstances", `{"InstanceIds": ["db"]}`)
	k.calls = nil
	answer[types.AttachNetworkInterfaceResult](t, d, "AttachNetworkInterface", `{"NetworkInterfaceId": "x1", "InstanceId": "db", "DeviceIndex": 1}`)
	if len(k.calls) != 0 {
		t.Fatalf("attach to a stopped instance: kernel %v", k.calls)
	}
	answer[types.StartInstancesResult](t, d, "StartInstances", `{"InstanceIds": ["db"]}`)
	if !slices.Contains(k.calls, "plug db x1 eth1") {
		t.Fatalf("start did not plug eth1: %v", k.calls)
	}
	// By the ENI's name (the CLI's --network-interface-id).
	answer[struct{}](t, d, "DetachNetworkInterface", `{"AttachmentId": "x1"}`)
	if e.Instance != nil {
		t.Fatal("detach by name")
	}
	// ENI-6: another AZ.
	d2, k2 := opsService(t, twoAZs)
	msg := refuse(t, d2, k2, "AttachNetworkInterface", `{"NetworkInterfaceId": "eb", "InstanceId": "ia", "DeviceIndex": 1}`, "InvalidParameterCombination")
	if !strings.Contains(msg, "availability zone") || !strings.Contains(msg, "ENI-6") {
		t.Fatalf("the AZ refusal: %s", msg)
	}
}

// twoAZs: subnets in two AZs of one VPC, an ENI in the second.
const twoAZs = `{
  "name": "az", "region": "us-east-1",
  "vpcs": [{"name": "v", "cidr": "10.7.0.0/16",
    "subnets": [{"name": "a", "cidr": "10.7.1.0/24", "az": "us-east-1a"}, {"name": "b", "cidr": "10.7.3.0/24", "az": "us-east-1b"}],
    "network_interfaces": [{"name": "eb", "subnet": "b"}],
    "instances": [{"name": "ia", "subnet": "a"}]}]
}`

// ENI-3, ENI-4: ModifyNetworkInterfaceAttribute changes the source/dest
// check, groups and description, and answers nothing.
func TestENI4_ModifyNetworkInterfaceAttribute(t *testing.T) {
	d, _ := opsService(t, "")
	e := eniNamed(d, "eni-extra")
	if answer[struct{}](t, d, "ModifyNetworkInterfaceAttribute", `{"NetworkInterfaceId": "eni-extra", "SourceDestCheck": {"Value": false}}`) != nil {
		t.Fatal("EC2 answers ModifyNetworkInterfaceAttribute with nothing")
	}
	if e.SourceDestCheck {
		t.Fatal("source/dest check still on")
	}
	answer[struct{}](t, d, "ModifyNetworkInterfaceAttribute", `{"NetworkInterfaceId": "`+e.ID+`", "Groups": ["default", "my-DB-SecurityGroup"],
		"Description": {"Value": "moved"}}`)
	if len(e.Groups) != 2 || e.Groups[0].Name != "default" || e.Groups[1].Name != "my-DB-SecurityGroup" || e.Description != "moved" || e.SourceDestCheck {
		t.Fatalf("groups and description: %+v", e)
	}
	// The NAT gateway's ENI may be "turned off" (it is) but never on.
	d, k := opsService(t, "")
	msg := refuse(t, d, k, "ModifyNetworkInterfaceAttribute", `{"NetworkInterfaceId": "nat-2a", "SourceDestCheck": {"Value": false}}`, "OperationNotPermitted")
	if !strings.Contains(msg, "nat-") || !strings.Contains(msg, "ENI-5") {
		t.Fatalf("ENI-5's refusal names the NAT gateway: %s", msg)
	}
	// Its attachment, as describe-network-interfaces shows it, cannot be
	// detached either (ENI-5).
	nat := eniNamed(d, "nat-2a")
	id := *describeENI(d.net, nat).Attachment.AttachmentId
	refuse(t, d, k, "DetachNetworkInterface", `{"AttachmentId": "`+id+`"}`, "OperationNotPermitted")
}

// ENI-1: AssignPrivateIpAddresses answers the addresses as EC2 does, a
// list of {PrivateIpAddress}, and configures the device;
// UnassignPrivateIpAddresses answers nothing and takes them off.
func TestENI1_AssignUnassignPrivateIPs(t *testing.T) {
	d, k := opsService(t, "")
	d.net.InstanceByName["web"].Type = "m5.large" // eni-extra's instance: 10 addresses per interface (QUOTA-2)
	out := answer[types.AssignPrivateIpAddressesResult](t, d, "AssignPrivateIpAddresses",
		`{"NetworkInterfaceId": "eni-extra", "PrivateIpAddresses": ["92.75.100.40", "92.75.100.41"]}`)
	e := eniNamed(d, "eni-extra")
	var got []string
	for _, a := range out.AssignedPrivateIpAddresses {
		got = append(got, *a.PrivateIpAddress)
	}
	if *out.NetworkInterfaceId != e.ID || !slices.Equal(got, []string{"92.75.100.40", "92.75.100.41"}) || len(e.SecondaryIPs) != 2 {
		t.Fatalf("assign: %v %v, model %v", *out.NetworkInterfaceId, got, e.SecondaryIPs)
	}
	if !slices.Equal(k.calls, []string{"configure eni-extra"}) {
		t.Fatalf("kernel: %v", k.calls)
	}
	out = answer[types.AssignPrivateIpAddressesResult](t, d, "AssignPrivateIpAddresses", `{"NetworkInterfaceId": "eni-extra", "SecondaryPrivateIpAddressCount": 2}`)
	if len(out.AssignedPrivateIpAddresses) != 2 || len(e.SecondaryIPs) != 4 {
		t.Fatalf("by count: %+v, model %v", out.AssignedPrivateIpAddresses, e.SecondaryIPs)
	}
	for _, a := range out.AssignedPrivateIpAddresses {
		ip := netip.MustParseAddr(*a.PrivateIpAddress)
		if !e.Subnet.CIDR.Contains(ip) || e.Subnet.Reserved(ip) || len(slices.Compact(slices.SortedFunc(slices.Values(e.SecondaryIPs), func(a, b netip.Addr) int { return a.Compare(b) }))) != len(e.SecondaryIPs) {
			t.Fatalf("picked %s", ip)
		}
	}
	k.calls = nil
	if answer[struct{}](t, d, "UnassignPrivateIpAddresses", `{"NetworkInterfaceId": "eni-extra", "PrivateIpAddresses": ["92.75.100.40"]}`) != nil {
		t.Fatal("EC2 answers UnassignPrivateIpAddresses with nothing")
	}
	if slices.Contains(e.SecondaryIPs, netip.MustParseAddr("92.75.100.40")) || len(e.SecondaryIPs) != 3 ||
		!slices.Equal(k.calls, []string{"unaddress eni-extra 92.75.100.40"}) {
		t.Fatalf("unassign: %v, kernel %v", e.SecondaryIPs, k.calls)
	}
	refuse(t, d, k, "UnassignPrivateIpAddresses", `{"NetworkInterfaceId": "eni-extra", "PrivateIpAddresses": ["92.75.100.40"]}`, "InvalidParameterValue")
}
