package ec2

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vpcnet/vpcnet/dataplane"
	"github.com/vpcnet/vpcnet/ec2/query"
	"github.com/vpcnet/vpcnet/topology"
)

// describeOps are the describe-* operations and the list member of their
// answers.
var describeOps = map[string]string{
	"DescribeVpcs": "Vpcs", "DescribeAddresses": "Addresses", "DescribeNetworkInterfaces": "NetworkInterfaces",
	"DescribeInstances": "Reservations", "DescribeRouteTables": "RouteTables", "DescribeSubnets": "Subnets",
	"DescribeSecurityGroups": "SecurityGroups", "DescribeNetworkAcls": "NetworkAcls", "DescribeNatGateways": "NatGateways",
}

// describeKernel is a kernel that has nothing: describe-* never asks it.
type describeKernel struct{}

func (describeKernel) NamespaceExists(string) bool                          { return false }
func (describeKernel) LaunchInstance(*topology.Instance) error              { return nil }
func (describeKernel) RemoveInstance(*topology.Instance)                    {}
func (describeKernel) StopProcesses(*topology.Instance)                     {}
func (describeKernel) PlugENI(*topology.Instance, *topology.ENI, int) error { return nil }
func (describeKernel) UnplugENI(*topology.ENI)                              {}
func (describeKernel) ConfigureENI(*topology.ENI) error                     { return nil }
func (describeKernel) RemoveAddress(*topology.ENI, netip.Addr)              {}
func (describeKernel) RefreshHosts()                                        {}
func (describeKernel) ExplainPath(string, netip.Addr, uint8, uint16) (dataplane.PathAnalysis, error) {
	return dataplane.PathAnalysis{}, nil
}

type describeStore struct{ n *topology.Network }

func (s describeStore) Network() *topology.Network { return s.n }

// describeService is a Service over topology file b.
func describeService(t *testing.T, b []byte) *Service {
	t.Helper()
	n, err := topology.Load(b)
	if err != nil {
		t.Fatal(err)
	}
	return New(describeStore{n}, describeKernel{})
}

// describe calls op with in (EC2's parameters by member name, as the socket
// and the endpoint pass them), checks that the answer is one EC2's model
// allows (ec2/query.Encode refuses an unknown member or enum value), and
// returns it as JSON values.
func describe(t *testing.T, d *Service, op string, in map[string]any) map[string]any {
	t.Helper()
	out, err := d.CallInput(op, in)
	if err != nil {
		t.Fatalf("%s %v: %v", op, in, err)
	}
	if err := query.Encode(io.Discard, op, "r", out); err != nil {
		t.Fatalf("%s: the answer is not EC2's shape: %v", op, err)
	}
	b, _ := json.Marshal(out)
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// describeErr calls op with in and returns its error code ("" on success).
func describeErr(d *Service, op string, in map[string]any) string {
	_, err := d.CallInput(op, in)
	if e, ok := err.(*Error); ok {
		return e.Code
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// at returns the values at path in v: "Reservations[].Instances[].ImageId"
// walks every item of each list.
func at(v any, path string) []any {
	out := []any{v}
	for _, seg := range strings.Split(path, ".") {
		name, list := strings.CutSuffix(seg, "[]")
		var next []any
		for _, x := range out {
			m, ok := x.(map[string]any)
			if !ok {
				continue
			}
			y, ok := m[name]
			if !ok {
				continue
			}
			if list {
				l, _ := y.([]any)
				next = append(next, l...)
			} else {
				next = append(next, y)
			}
		}
		out = next
	}
	return out
}

// ids returns the id member of every item of list in v.
func ids(v map[string]any, list, id string) []string {
	var out []string
	for _, x := range at(v, list+"[]."+id) {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

// TestDescribeAnswersAreEC2Shapes: every describe-* answers what EC2's model
// allows (Encode), with each member EC2 always returns present on every
// item, and the values EC2 gives them.
func TestDescribeAnswersAreEC2Shapes(t *testing.T) {
	d := describeService(t, topology.Default())
	always := map[string][]string{
		"DescribeAddresses": {"AllocationId", "PublicIp", "Domain", "PublicIpv4Pool", "NetworkBorderGroup", "Tags"},
		"DescribeNetworkInterfaces": {"NetworkInterfaceId", "AvailabilityZone", "Description", "Groups", "InterfaceType",
			"Ipv6Addresses", "MacAddress", "OwnerId", "PrivateDnsName", "PrivateIpAddress", "PrivateIpAddresses",
			"RequesterManaged", "SourceDestCheck", "Status", "SubnetId", "TagSet", "VpcId",
			"PrivateIpAddresses[].Primary", "PrivateIpAddresses[].PrivateDnsName", "PrivateIpAddresses[].PrivateIpAddress"},
		"DescribeInstances": {"ReservationId", "OwnerId", "Groups", "Instances[].ImageId", "Instances[].InstanceType",
			"Instances[].LaunchTime", "Instances[].PrivateDnsName", "Instances[].PublicDnsName", "Instances[].Architecture",
			"Instances[].RootDeviceType", "Instances[].RootDeviceName", "Instances[].Hypervisor", "Instances[].VirtualizationType",
			"Instances[].Placement.AvailabilityZone", "Instances[].Placement.Tenancy", "Instances[].Placement.GroupName",
			"Instances[].Monitoring.State", "Instances[].State.Code", "Instances[].State.Name", "Instances[].AmiLaunchIndex",
			"Instances[].EbsOptimized", "Instances[].EnaSupport", "Instances[].SourceDestCheck", "Instances[].BlockDeviceMappings",
			"Instances[].ProductCodes", "Instances[].StateTransitionReason", "Instances[].SecurityGroups",
			"Instances[].NetworkInterfaces[].Attachment.AttachmentId", "Instances[].NetworkInterfaces[].Attachment.AttachTime",
			"Instances[].NetworkInterfaces[].Attachment.DeleteOnTermination", "Instances[].NetworkInterfaces[].Attachment.DeviceIndex",
			"Instances[].NetworkInterfaces[].Attachment.NetworkCardIndex", "Instances[].NetworkInterfaces[].Attachment.Status",
			"Instances[].NetworkInterfaces[].OwnerId", "Instances[].NetworkInterfaces[].InterfaceType",
			"Instances[].NetworkInterfaces[].SubnetId", "Instances[].NetworkInterfaces[].VpcId",
			"Instances[].NetworkInterfaces[].MacAddress", "Instances[].NetworkInterfaces[].PrivateIpAddresses",
			"Instances[].NetworkInterfaces[].Groups", "Instances[].NetworkInterfaces[].Ipv6Addresses",
			"Instances[].NetworkInterfaces[].PrivateDnsName"},
		"DescribeRouteTables": {"RouteTableId", "VpcId", "OwnerId", "Routes", "Associations", "PropagatingVgws", "Tags",
			"Associations[].RouteTableAssociationId", "Associations[].AssociationState.State", "Associations[].Main",
			"Routes[].Origin", "Routes[].State"},
		"DescribeSubnets": {"SubnetId", "VpcId", "OwnerId", "CidrBlock", "AvailabilityZone", "AvailabilityZoneId",
			"AvailableIpAddressCount", "DefaultForAz", "MapPublicIpOnLaunch", "State", "SubnetArn",
			"Ipv6CidrBlockAssociationSet", "AssignIpv6AddressOnCreation", "PrivateDnsNameOptionsOnLaunch"},
		"DescribeSecurityGroups": {"GroupId", "GroupName", "Description", "OwnerId", "VpcId", "IpPermissions",
			"IpPermissionsEgress", "IpPermissions[].IpProtocol", "IpPermissions[].IpRanges", "IpPermissions[].Ipv6Ranges",
			"IpPermissions[].PrefixListIds", "IpPermissions[].UserIdGroupPairs"},
		"DescribeNetworkAcls": {"NetworkAclId", "VpcId", "OwnerId", "IsDefault", "Entries", "Associations", "Tags",
			"Associations[].NetworkAclAssociationId", "Associations[].SubnetId", "Entries[].RuleNumber", "Entries[].Protocol",
			"Entries[].RuleAction", "Entries[].Egress", "Entries[].CidrBlock"},
		"DescribeNatGateways": {"NatGatewayId", "CreateTime", "State", "SubnetId", "VpcId", "ConnectivityType",
			"NatGatewayAddresses[].AllocationId", "NatGatewayAddresses[].NetworkInterfaceId", "NatGatewayAddresses[].PrivateIp",
			"NatGatewayAddresses[].PublicIp", "Tags"},
		"DescribeVpcs": {"VpcId", "OwnerId", "CidrBlock", "State", "InstanceTenancy", "IsDefault", "DhcpOptionsId"},
	}
	for op, list := range describeOps {
		v := describe(t, d, op, map[string]any{})
		items := at(v, list+"[]")
		if len(items) == 0 {
			t.Errorf("%s: no %s in the default network", op, list)
		}
		for _, member := range always[op] {
			// Each item has the member; a member under a list ([]) is
			// checked on the items of lists that are not empty.
			for _, item := range items {
				head, rest, nested := strings.Cut(member, "[].")
				if nested {
					for _, sub := range at(item, head+"[]") {
						if len(at(sub, rest)) == 0 {
							t.Errorf("%s: an item of %s lacks %s: %v", op, head, rest, sub)
						}
					}
					continue
				}
				if len(at(item, member)) == 0 {
					t.Errorf("%s: an item lacks %s: %v", op, member, item)
				}
			}
		}
	}
}

// TestDescribeInstanceValues: what EC2 says of an instance of the default
// network (DNS-1, DNS-2, ENI-7, INST-1).
func TestDescribeInstanceValues(t *testing.T) {
	d := describeService(t, topology.Default())
	web := d.net.InstanceByName["web"]
	v := describe(t, d, "DescribeInstances", map[string]any{"InstanceIds": []any{web.ID}})
	i := at(v, "Reservations[].Instances[]")
	if len(i) != 1 {
		t.Fatalf("want one instance: %v", v)
	}
	want := map[string]any{
		"ImageId": launchImageID, "InstanceType": "t2.micro", "Architecture": "x86_64", "RootDeviceType": "ebs",
		"RootDeviceName": "/dev/xvda", "Hypervisor": "xen", "VirtualizationType": "hvm", "AmiLaunchIndex": 0.0,
		"EbsOptimized": false, "EnaSupport": true, "State.Code": 16.0, "State.Name": "running",
		"Monitoring.State": "disabled", "Placement.Tenancy": "default", "Placement.GroupName": "",
		"Placement.AvailabilityZone": "ap-northeast-2a", "PrivateIpAddress": "92.75.100.10",
		"PrivateDnsName": "ip-92-75-100-10.ap-northeast-2.compute.internal", "PublicIpAddress": "13.125.0.1",
		"PublicDnsName":                             "ec2-13-125-0-1.ap-northeast-2.compute.amazonaws.com",
		"NetworkInterfaces[].InterfaceType":         "interface",
		"NetworkInterfaces[].Attachment.Status":     "attached",
		"NetworkInterfaces[].Association.IpOwnerId": d.net.AccountID(), // an EIP: the account's (EIP-2)
	}
	for path, w := range want {
		got := at(i[0], path)
		if len(got) == 0 || got[0] != w {
			t.Errorf("%s = %v, want %v", path, got, w)
		}
	}
	if !regexp.MustCompile(`^ami-[0-9a-f]{17}$`).MatchString(launchImageID) {
		t.Errorf("image id %s is not an AMI id", launchImageID)
	}
	// db has no public IP: PublicDnsName is "", PublicIpAddress absent.
	db := describe(t, d, "DescribeInstances", map[string]any{"InstanceIds": []any{d.net.InstanceByName["db"].ID}})
	if got := at(db, "Reservations[].Instances[].PublicDnsName"); len(got) != 1 || got[0] != "" {
		t.Errorf("db's PublicDnsName %v, want \"\"", got)
	}
	if got := at(db, "Reservations[].Instances[].PublicIpAddress"); len(got) != 0 {
		t.Errorf("db has a PublicIpAddress %v", got)
	}
	// The instance's interfaces: eth0 then eni-extra, as describe-instances
	// nests them (no AvailabilityZone, no InstanceId in the attachment).
	if got := at(i[0], "NetworkInterfaces[].Attachment.DeviceIndex"); !slices.Equal(got, []any{0.0, 1.0}) {
		t.Errorf("device indexes %v, want [0 1]", got)
	}
}

// TestDescribeLaunchTimeIsKept: the instances a network comes up with
// launched when the daemon started; one made later when it was first
// shown; each keeps its LaunchTime (and eth0's AttachTime) on every
// describe, and takes the launch that run-instances records (setCreated).
func TestDescribeLaunchTimeIsKept(t *testing.T) {
	d := describeService(t, topology.Default())
	web := d.net.InstanceByName["web"]
	t.Cleanup(func() { setCreated(web.ID, started) })
	get := func(id string) (launch, attach string) {
		v := describe(t, d, "DescribeInstances", map[string]any{"InstanceIds": []any{id}})
		return fmt.Sprint(at(v, "Reservations[].Instances[].LaunchTime")[0]),
			fmt.Sprint(at(v, "Reservations[].Instances[].NetworkInterfaces[].Attachment.AttachTime")[0])
	}
	start := started.Format(time.RFC3339)
	if l, a := get(web.ID); l != start || a != start {
		t.Fatalf("web launched %s, eth0 attached %s; want the daemon's start %s", l, a, start)
	}
	time.Sleep(1100 * time.Millisecond)
	if l, a := get(web.ID); l != start || a != start {
		t.Fatalf("a second describe: web launched %s, eth0 attached %s; want %s", l, a, start)
	}

	// An instance that came later (as run-instances adds one).
	v := d.net.VPCs[0]
	s, _ := d.findSubnet("PUB-WEB-2a")
	late := &topology.Instance{Name: "late", ID: d.net.NewID("i", "late"), Subnet: s, VPC: v}
	late.ENIs = []*topology.ENI{{Name: "late", ID: d.net.NewID("eni", "late"), Subnet: s, MAC: d.net.NewMAC("late"),
		PrimaryIP: netip.MustParseAddr("92.75.100.50"), Groups: []*topology.SecurityGroup{v.DefaultSG}, Instance: late,
		PublicIPs: map[netip.Addr]netip.Addr{}}}
	v.Instances, v.ENIs = append(v.Instances, late), append(v.ENIs, late.ENIs[0])
	before := time.Now().UTC().Truncate(time.Second)
	l, a := get(late.ID)
	lt, err := time.Parse(time.RFC3339, l)
	if err != nil || lt.Before(before) || !lt.After(started) || a != l {
		t.Fatalf("late launched %s (eth0 attached %s), want a time from %s on", l, a, before)
	}
	if l2, _ := get(late.ID); l2 != l {
		t.Fatalf("late launched %s, then %s", l, l2)
	}

	setCreated(web.ID, time.Date(2024, 3, 1, 12, 30, 45, 0, time.UTC))
	if l, a := get(web.ID); l != "2024-03-01T12:30:45Z" || a != l {
		t.Fatalf("after setCreated: launch %s, attach %s", l, a)
	}
}

// TestDescribeNATInterface: a NAT gateway's ENI is requester-managed, of
// EC2's type natGateway, with no groups and source/dest check off (ENI-3,
// ENI-5).
func TestDescribeNATInterface(t *testing.T) {
	d := describeService(t, topology.Default())
	v := describe(t, d, "DescribeNetworkInterfaces", map[string]any{
		"Filters": []any{map[string]any{"Name": "interface-type", "Values": []any{"natGateway"}}}})
	e := at(v, "NetworkInterfaces[]")
	if len(e) != 1 {
		t.Fatalf("want the NAT gateway's ENI: %v", v)
	}
	for path, w := range map[string]any{"RequesterManaged": true, "RequesterId": serviceOwner, "SourceDestCheck": false,
		"Status": "in-use", "Attachment.Status": "attached", "Attachment.InstanceOwnerId": serviceOwner} {
		if got := at(e[0], path); len(got) != 1 || got[0] != w {
			t.Errorf("%s = %v, want %v", path, got, w)
		}
	}
	if g := at(e[0], "Groups[]"); len(g) != 0 {
		t.Errorf("NAT ENI has groups %v", g)
	}
}

// TestDescribeAssociations: route tables and NACLs carry EC2's association
// ids; a subnet on the main table by default is associated implicitly and
// not listed (RT-1); every subnet has its NACL association (NACL-5).
func TestDescribeAssociations(t *testing.T) {
	d := describeService(t, topology.Default())
	v := d.net.VPCs[0]
	pub, _ := d.findSubnet("PUB-WEB-2a")
	rt := describe(t, d, "DescribeRouteTables", map[string]any{
		"Filters": []any{map[string]any{"Name": "association.subnet-id", "Values": []any{pub.ID}}}})
	assoc := at(rt, "RouteTables[].Associations[]")
	if len(assoc) != 1 || at(assoc[0], "RouteTableAssociationId")[0] != routeTableAssociationID(d.net, pub.RouteTable, pub) ||
		!strings.HasPrefix(routeTableAssociationID(d.net, pub.RouteTable, pub), "rtbassoc-") ||
		at(assoc[0], "AssociationState.State")[0] != "associated" || at(assoc[0], "Main")[0] != false {
		t.Errorf("PUB-WEB-2a's association: %v", assoc)
	}
	main := describe(t, d, "DescribeRouteTables", map[string]any{"RouteTableIds": []any{v.MainRT.ID}})
	if a := at(main, "RouteTables[].Associations[]"); len(a) != 1 || at(a[0], "Main")[0] != true || len(at(a[0], "SubnetId")) != 0 {
		t.Errorf("main table's associations: %v", a)
	}
	acl := describe(t, d, "DescribeNetworkAcls", map[string]any{})
	if got := at(acl, "NetworkAcls[].Associations[].SubnetId"); len(got) != len(v.Subnets) {
		t.Errorf("NACL associations of subnets %v, want one for each of %d subnets", got, len(v.Subnets))
	}
	for _, id := range at(acl, "NetworkAcls[].Associations[].NetworkAclAssociationId") {
		if !strings.HasPrefix(id.(string), "aclassoc-") {
			t.Errorf("NACL association id %v", id)
		}
	}
	// NACL-2: outbound entries first, each direction ending in the
	// implicit deny.
	db := describe(t, d, "DescribeNetworkAcls", map[string]any{
		"Filters": []any{map[string]any{"Name": "tag:Name", "Values": []any{"acl-db"}}}})
	var got []string
	for _, e := range at(db, "NetworkAcls[].Entries[]") {
		got = append(got, fmt.Sprintf("%v/%v/%v", at(e, "Egress")[0], at(e, "RuleNumber")[0], at(e, "Protocol")[0]))
	}
	want := []string{"true/100/-1", "true/32767/-1", "false/100/6", "false/110/1", "false/120/6", "false/32767/-1"}
	if !slices.Equal(got, want) {
		t.Errorf("acl-db entries %v, want %v", got, want)
	}
}

// TestDescribeSecurityGroupsMergesPermissions (SG-3): rules of one protocol
// and port range are one IpPermission holding all their CIDRs and groups,
// as EC2 shows them; a group peer carries the owner's account.
func TestDescribeSecurityGroupsMergesPermissions(t *testing.T) {
	d := describeService(t, topology.Default())
	web, _ := d.findSG("my-Web-SecurityGroup")
	db, _ := d.findSG("my-DB-SecurityGroup")
	cidr := netip.MustParsePrefix("10.0.0.0/8")
	web.Ingress = append(web.Ingress,
		topology.SGRule{Protocol: 6, FromPort: 80, ToPort: 80, CIDR: cidr, Description: "lan"},
		topology.SGRule{Protocol: 6, FromPort: 80, ToPort: 80, Group: db},
		topology.SGRule{Protocol: 6, FromPort: -1, ToPort: -1, Group: db})
	v := describe(t, d, "DescribeSecurityGroups", map[string]any{"GroupIds": []any{web.ID}})
	perms := at(v, "SecurityGroups[].IpPermissions[]")
	var got []string
	for _, p := range perms {
		got = append(got, fmt.Sprintf("%v %v-%v %v %v", at(p, "IpProtocol"), at(p, "FromPort"), at(p, "ToPort"),
			at(p, "IpRanges[].CidrIp"), at(p, "UserIdGroupPairs[].GroupId")))
	}
	want := []string{
		fmt.Sprintf("[tcp] [80]-[80] [0.0.0.0/0 10.0.0.0/8] [%s]", db.ID),
		"[icmp] [-1]-[-1] [92.75.0.0/16] []",
		fmt.Sprintf("[tcp] [0]-[65535] [] [%s]", db.ID),
	}
	if !slices.Equal(got, want) {
		t.Errorf("IpPermissions:\n got %q\nwant %q", got, want)
	}
	if u := at(v, "SecurityGroups[].IpPermissions[].UserIdGroupPairs[].UserId"); len(u) != 2 || u[0] != d.net.AccountID() {
		t.Errorf("UserIds %v, want the account %s", u, d.net.AccountID())
	}
	if desc := at(v, "SecurityGroups[].IpPermissions[].IpRanges[].Description"); len(desc) != 1 || desc[0] != "lan" {
		t.Errorf("descriptions %v", desc)
	}
	if e := at(v, "SecurityGroups[].IpPermissionsEgress[]"); len(e) != 1 || at(e[0], "IpProtocol")[0] != "-1" || len(at(e[0], "FromPort")) != 0 {
		t.Errorf("egress %v, want the one allow-all rule (SG-1) without ports", e)
	}
}

// TestDescribeFilters: each filter the issue names (and the obvious ones of
// each resource) selects what EC2 would.
func TestDescribeFilters(t *testing.T) {
	d := describeService(t, topology.Default())
	n := d.net
	v := n.VPCs[0]
	web, db := n.InstanceByName["web"], n.InstanceByName["db"]
	pub, _ := d.findSubnet("PUB-WEB-2a")
	pri, _ := d.findSubnet("PRI-DB-2a")
	webSG, _ := d.findSG("my-Web-SecurityGroup")
	extra, _ := d.findENI("eni-extra")
	nat := v.NATs[0]
	eipWeb, _ := d.findEIP("eip-web")
	eipNAT, _ := d.findEIP("eip-nat")
	rtPub, _, _ := d.findRouteTable("rt-public")
	rtPri, _, _ := d.findRouteTable("rt-private")
	var aclDB *topology.NACL
	for _, a := range v.NACLs {
		if a.Name == "acl-db" {
			aclDB = a
		}
	}
	sorted := func(s ...string) []string { slices.Sort(s); return s }
	f := func(name string, values ...any) map[string]any {
		return map[string]any{"Filters": []any{map[string]any{"Name": name, "Values": values}}}
	}
	cases := []struct {
		op, list, id string
		in           map[string]any
		want         []string
	}{
		{"DescribeInstances", "Reservations[].Instances", "InstanceId", f("vpc-id", v.ID), sorted(web.ID, db.ID)},
		{"DescribeInstances", "Reservations[].Instances", "InstanceId", f("subnet-id", pri.ID), []string{db.ID}},
		{"DescribeInstances", "Reservations[].Instances", "InstanceId", f("tag:Name", "web"), []string{web.ID}},
		{"DescribeInstances", "Reservations[].Instances", "InstanceId", f("tag:Name", "w*"), []string{web.ID}},
		{"DescribeInstances", "Reservations[].Instances", "InstanceId", f("tag-key", "Name"), sorted(web.ID, db.ID)},
		{"DescribeInstances", "Reservations[].Instances", "InstanceId", f("tag-key", "Owner"), nil},
		{"DescribeInstances", "Reservations[].Instances", "InstanceId", f("availability-zone", "ap-northeast-2a"), sorted(web.ID, db.ID)},
		{"DescribeInstances", "Reservations[].Instances", "InstanceId", f("instance-state-name", "running"), sorted(web.ID, db.ID)},
		{"DescribeInstances", "Reservations[].Instances", "InstanceId", f("instance-state-name", "stopped"), nil},
		{"DescribeInstances", "Reservations[].Instances", "InstanceId", f("instance-state-code", "16"), sorted(web.ID, db.ID)},
		{"DescribeInstances", "Reservations[].Instances", "InstanceId", f("instance-id", db.ID), []string{db.ID}},
		{"DescribeInstances", "Reservations[].Instances", "InstanceId", f("group-name", "my-Web-SecurityGroup"), []string{web.ID}},
		{"DescribeInstances", "Reservations[].Instances", "InstanceId", f("instance.group-id", webSG.ID), []string{web.ID}},
		{"DescribeInstances", "Reservations[].Instances", "InstanceId", f("private-ip-address", "92.75.200.20"), []string{db.ID}},
		{"DescribeInstances", "Reservations[].Instances", "InstanceId", f("ip-address", "13.125.0.1"), []string{web.ID}},
		{"DescribeInstances", "Reservations[].Instances", "InstanceId", f("network-interface.network-interface-id", extra.ID), []string{web.ID}},
		{"DescribeInstances", "Reservations[].Instances", "InstanceId", f("instance-type", "t2.micro"), sorted(web.ID, db.ID)},
		{"DescribeInstances", "Reservations[].Instances", "InstanceId", f("image-id", launchImageID), sorted(web.ID, db.ID)},
		{"DescribeInstances", "Reservations[].Instances", "InstanceId", f("private-dns-name", "ip-92-75-200-20.*"), []string{db.ID}},
		{"DescribeInstances", "Reservations[].Instances", "InstanceId", // filters are ANDed, values ORed
			map[string]any{"Filters": []any{map[string]any{"Name": "tag:Name", "Values": []any{"web", "db"}},
				map[string]any{"Name": "subnet-id", "Values": []any{pub.ID}}}}, []string{web.ID}},

		{"DescribeNetworkInterfaces", "NetworkInterfaces", "NetworkInterfaceId", f("attachment.instance-id", web.ID), sorted(web.Primary().ID, extra.ID)},
		{"DescribeNetworkInterfaces", "NetworkInterfaces", "NetworkInterfaceId", f("network-interface-id", extra.ID), []string{extra.ID}},
		{"DescribeNetworkInterfaces", "NetworkInterfaces", "NetworkInterfaceId", f("private-ip-address", "92.75.200.20"), []string{db.Primary().ID}},
		{"DescribeNetworkInterfaces", "NetworkInterfaces", "NetworkInterfaceId", f("subnet-id", pri.ID), []string{db.Primary().ID}},
		{"DescribeNetworkInterfaces", "NetworkInterfaces", "NetworkInterfaceId", f("group-id", webSG.ID), sorted(web.Primary().ID, extra.ID)},
		{"DescribeNetworkInterfaces", "NetworkInterfaces", "NetworkInterfaceId", f("group-name", "my-DB-SecurityGroup"), []string{db.Primary().ID}},
		{"DescribeNetworkInterfaces", "NetworkInterfaces", "NetworkInterfaceId", f("requester-managed", "true"), []string{nat.ENI.ID}},
		{"DescribeNetworkInterfaces", "NetworkInterfaces", "NetworkInterfaceId", f("tag:Name", "eni-extra"), []string{extra.ID}},
		{"DescribeNetworkInterfaces", "NetworkInterfaces", "NetworkInterfaceId", f("attachment.device-index", "1"), sorted(extra.ID, nat.ENI.ID)}, // the NAT gateway is attached at 1,
		{"DescribeNetworkInterfaces", "NetworkInterfaces", "NetworkInterfaceId", f("association.public-ip", "13.125.0.1"), []string{web.Primary().ID}},
		{"DescribeNetworkInterfaces", "NetworkInterfaces", "NetworkInterfaceId", f("status", "available"), nil},

		{"DescribeSubnets", "Subnets", "SubnetId", f("vpc-id", v.ID), sorted(pub.ID, pri.ID)},
		{"DescribeSubnets", "Subnets", "SubnetId", f("cidr-block", "92.75.200.0/24"), []string{pri.ID}},
		{"DescribeSubnets", "Subnets", "SubnetId", f("cidrBlock", "92.75.200.0/24"), []string{pri.ID}},
		{"DescribeSubnets", "Subnets", "SubnetId", f("map-public-ip-on-launch", "true"), []string{pub.ID}},
		{"DescribeSubnets", "Subnets", "SubnetId", f("availability-zone-id", "apne2-az1"), sorted(pub.ID, pri.ID)},
		{"DescribeSubnets", "Subnets", "SubnetId", f("default-for-az", "false"), sorted(pub.ID, pri.ID)},
		{"DescribeSubnets", "Subnets", "SubnetId", f("tag:Name", "PUB-*"), []string{pub.ID}},

		{"DescribeSecurityGroups", "SecurityGroups", "GroupId", f("group-name", "my-Web-SecurityGroup"), []string{webSG.ID}},
		{"DescribeSecurityGroups", "SecurityGroups", "GroupId", f("group-id", webSG.ID), []string{webSG.ID}},
		{"DescribeSecurityGroups", "SecurityGroups", "GroupId", f("ip-permission.from-port", "3306"), []string{must(d.findSG("my-DB-SecurityGroup")).ID}},
		{"DescribeSecurityGroups", "SecurityGroups", "GroupId", f("ip-permission.group-name", "my-Web-SecurityGroup"), []string{must(d.findSG("my-DB-SecurityGroup")).ID}},
		{"DescribeSecurityGroups", "SecurityGroups", "GroupId", f("ip-permission.cidr", "0.0.0.0/0"), []string{webSG.ID}},
		{"DescribeSecurityGroups", "SecurityGroups", "GroupId", f("egress.ip-permission.protocol", "-1"),
			sorted(webSG.ID, must(d.findSG("my-DB-SecurityGroup")).ID, v.DefaultSG.ID)},

		{"DescribeRouteTables", "RouteTables", "RouteTableId", f("association.main", "true"), []string{v.MainRT.ID}},
		{"DescribeRouteTables", "RouteTables", "RouteTableId", f("association.main", "false"), sorted(rtPub.ID, rtPri.ID)},
		{"DescribeRouteTables", "RouteTables", "RouteTableId", f("association.subnet-id", pri.ID), []string{rtPri.ID}},
		{"DescribeRouteTables", "RouteTables", "RouteTableId", f("route.nat-gateway-id", nat.ID), []string{rtPri.ID}},
		{"DescribeRouteTables", "RouteTables", "RouteTableId", f("route.gateway-id", v.IGW.ID), []string{rtPub.ID}},
		{"DescribeRouteTables", "RouteTables", "RouteTableId", f("route-table-id", rtPub.ID), []string{rtPub.ID}},
		{"DescribeRouteTables", "RouteTables", "RouteTableId", f("vpc-id", v.ID), sorted(v.MainRT.ID, rtPub.ID, rtPri.ID)},

		{"DescribeNetworkAcls", "NetworkAcls", "NetworkAclId", f("default", "true"), []string{v.DefaultNACL.ID}},
		{"DescribeNetworkAcls", "NetworkAcls", "NetworkAclId", f("default", "false"), []string{aclDB.ID}},
		{"DescribeNetworkAcls", "NetworkAcls", "NetworkAclId", f("association.subnet-id", pri.ID), []string{aclDB.ID}},
		{"DescribeNetworkAcls", "NetworkAcls", "NetworkAclId", f("entry.port-range.from", "3306"), []string{aclDB.ID}},
		{"DescribeNetworkAcls", "NetworkAcls", "NetworkAclId", f("vpc-id", v.ID), sorted(v.DefaultNACL.ID, aclDB.ID)},

		{"DescribeNatGateways", "NatGateways", "NatGatewayId", map[string]any{"Filter": []any{map[string]any{"Name": "subnet-id", "Values": []any{pub.ID}}}}, []string{nat.ID}},
		{"DescribeNatGateways", "NatGateways", "NatGatewayId", map[string]any{"Filter": []any{map[string]any{"Name": "state", "Values": []any{"pending"}}}}, nil},

		{"DescribeAddresses", "Addresses", "AllocationId", f("domain", "vpc"), sorted(eipWeb.AllocationID, eipNAT.AllocationID)},
		{"DescribeAddresses", "Addresses", "AllocationId", f("instance-id", web.ID), []string{eipWeb.AllocationID}},
		{"DescribeAddresses", "Addresses", "AllocationId", f("network-interface-id", nat.ENI.ID), []string{eipNAT.AllocationID}},
		{"DescribeAddresses", "Addresses", "AllocationId", f("public-ip", "13.125.190.82"), []string{eipNAT.AllocationID}},
		{"DescribeAddresses", "Addresses", "AllocationId", f("tag:Name", "eip-web"), []string{eipWeb.AllocationID}},

		// Ids, as EC2 takes them.
		{"DescribeInstances", "Reservations[].Instances", "InstanceId", map[string]any{"InstanceIds": []any{db.ID}}, []string{db.ID}},
		{"DescribeNetworkInterfaces", "NetworkInterfaces", "NetworkInterfaceId", map[string]any{"NetworkInterfaceIds": []any{extra.ID}}, []string{extra.ID}},
		{"DescribeSubnets", "Subnets", "SubnetId", map[string]any{"SubnetIds": []any{pri.ID}}, []string{pri.ID}},
		{"DescribeSecurityGroups", "SecurityGroups", "GroupId", map[string]any{"GroupNames": []any{"my-Web-SecurityGroup"}}, []string{webSG.ID}},
		{"DescribeRouteTables", "RouteTables", "RouteTableId", map[string]any{"RouteTableIds": []any{rtPri.ID}}, []string{rtPri.ID}},
		{"DescribeNetworkAcls", "NetworkAcls", "NetworkAclId", map[string]any{"NetworkAclIds": []any{aclDB.ID}}, []string{aclDB.ID}},
		{"DescribeNatGateways", "NatGateways", "NatGatewayId", map[string]any{"NatGatewayIds": []any{nat.ID}}, []string{nat.ID}},
		{"DescribeAddresses", "Addresses", "AllocationId", map[string]any{"AllocationIds": []any{eipNAT.AllocationID}}, []string{eipNAT.AllocationID}},
		{"DescribeAddresses", "Addresses", "AllocationId", map[string]any{"PublicIps": []any{"13.125.190.82"}}, []string{eipNAT.AllocationID}},
	}
	for _, c := range cases {
		got := ids(describe(t, d, c.op, c.in), c.list, c.id)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s %v: got %v, want %v", c.op, c.in, got, c.want)
		}
	}
}

func must[T any](x T, err error) T {
	if err != nil {
		panic(err)
	}
	return x
}

// TestDescribeRefusals: an unknown id is EC2's NotFound code for the kind,
// an unknown filter InvalidParameterValue, ids with MaxResults
// InvalidParameterCombination where EC2 refuses them.
func TestDescribeRefusals(t *testing.T) {
	d := describeService(t, topology.Default())
	badFilter := map[string]any{"Filters": []any{map[string]any{"Name": "no-such-filter", "Values": []any{"x"}}}}
	cases := []struct {
		op   string
		in   map[string]any
		code string
	}{
		{"DescribeInstances", map[string]any{"InstanceIds": []any{"i-0123456789abcdef0"}}, "InvalidInstanceID.NotFound"},
		{"DescribeNetworkInterfaces", map[string]any{"NetworkInterfaceIds": []any{"eni-0123456789abcdef0"}}, "InvalidNetworkInterfaceID.NotFound"},
		{"DescribeSubnets", map[string]any{"SubnetIds": []any{"subnet-0123456789abcdef0"}}, "InvalidSubnetID.NotFound"},
		{"DescribeSecurityGroups", map[string]any{"GroupIds": []any{"sg-0123456789abcdef0"}}, "InvalidGroup.NotFound"},
		{"DescribeSecurityGroups", map[string]any{"GroupNames": []any{"nope"}}, "InvalidGroup.NotFound"},
		{"DescribeRouteTables", map[string]any{"RouteTableIds": []any{"rtb-0123456789abcdef0"}}, "InvalidRouteTableID.NotFound"},
		{"DescribeNetworkAcls", map[string]any{"NetworkAclIds": []any{"acl-0123456789abcdef0"}}, "InvalidNetworkAclID.NotFound"},
		{"DescribeNatGateways", map[string]any{"NatGatewayIds": []any{"nat-0123456789abcdef0"}}, "NatGatewayNotFound"},
		{"DescribeAddresses", map[string]any{"AllocationIds": []any{"eipalloc-0123456789abcdef0"}}, "InvalidAllocationID.NotFound"},
		{"DescribeAddresses", map[string]any{"PublicIps": []any{"198.51.100.1"}}, "InvalidAddress.NotFound"},
		{"DescribeVpcs", map[string]any{"VpcIds": []any{"vpc-0123456789abcdef0"}}, "InvalidVpcID.NotFound"},
		{"DescribeInstances", map[string]any{"InstanceIds": []any{"i-0123456789abcdef0"}, "MaxResults": 5}, "InvalidParameterCombination"},
		{"DescribeNetworkInterfaces", map[string]any{"NetworkInterfaceIds": []any{"eni-1"}, "MaxResults": 5}, "InvalidParameterCombination"},
		{"DescribeInstances", map[string]any{"MaxResults": 4}, "InvalidParameterValue"},
		{"DescribeRouteTables", map[string]any{"MaxResults": 101}, "InvalidParameterValue"},
		{"DescribeSubnets", map[string]any{"NextToken": "not a token"}, "InvalidNextToken.Malformed"},
		{"DescribeInstances", map[string]any{"Filters": []any{map[string]any{"Values": []any{"x"}}}}, "InvalidParameterValue"},
	}
	for op := range describeOps {
		in := badFilter
		if op == "DescribeNatGateways" {
			in = map[string]any{"Filter": badFilter["Filters"]}
		}
		cases = append(cases, struct {
			op   string
			in   map[string]any
			code string
		}{op, in, "InvalidParameterValue"})
	}
	for _, c := range cases {
		if code := describeErr(d, c.op, c.in); code != c.code {
			t.Errorf("%s %v: %q, want %s", c.op, c.in, code, c.code)
		}
	}
}

// sixOfEach is a network with six of every kind of resource, for pages.
func sixOfEach() []byte {
	var subnets, tables, acls, groups, instances, nats, eips []string
	for k := range 6 {
		subnets = append(subnets, fmt.Sprintf(`{"name": "s%d", "cidr": "10.9.%d.0/24", "az": "us-east-1a", "route_table": "rt%d", "network_acl": "acl%d"}`, k, k, k, k))
		tables = append(tables, fmt.Sprintf(`{"name": "rt%d", "routes": [{"destination": "0.0.0.0/0", "target": "igw"}]}`, k))
		acls = append(acls, fmt.Sprintf(`{"name": "acl%d"}`, k))
		groups = append(groups, fmt.Sprintf(`{"name": "g%d"}`, k))
		instances = append(instances, fmt.Sprintf(`{"name": "i%d", "subnet": "s%d", "security_groups": ["g%d"]}`, k, k, k))
		nats = append(nats, fmt.Sprintf(`{"name": "n%d", "subnet": "s%d", "elastic_ip": "e%d"}`, k, k, k))
		eips = append(eips, fmt.Sprintf(`{"name": "e%d", "pool": "amazon"}`, k))
	}
	return fmt.Appendf(nil, `{"name": "pages", "region": "us-east-1", "settings": {"quotas": {"vpcs": 6, "elastic_ips": 6}},
  "address_pools": [{"name": "amazon", "cidrs": ["3.34.0.0/16"]}],
  "elastic_ips": [%s],
  "vpcs": [
    {"name": "v", "cidr": "10.9.0.0/16", "internet_gateway": "igw", "subnets": [%s], "route_tables": [%s],
     "network_acls": [%s], "security_groups": [%s], "instances": [%s], "nat_gateways": [%s]},
    {"name": "w1", "cidr": "10.10.0.0/16"}, {"name": "w2", "cidr": "10.11.0.0/16"}, {"name": "w3", "cidr": "10.12.0.0/16"},
    {"name": "w4", "cidr": "10.13.0.0/16"}, {"name": "w5", "cidr": "10.14.0.0/16"}]}`,
		strings.Join(eips, ","), strings.Join(subnets, ","), strings.Join(tables, ","), strings.Join(acls, ","),
		strings.Join(groups, ","), strings.Join(instances, ","), strings.Join(nats, ","))
}

// TestDescribePages: with MaxResults 5 over six or more items, the first
// page has five and a NextToken, the second the rest and no token; the two
// pages are the whole list, in order.
func TestDescribePages(t *testing.T) {
	d := describeService(t, sixOfEach())
	idOf := map[string]string{"DescribeVpcs": "VpcId", "DescribeNetworkInterfaces": "NetworkInterfaceId",
		"DescribeInstances": "ReservationId", "DescribeRouteTables": "RouteTableId", "DescribeSubnets": "SubnetId",
		"DescribeSecurityGroups": "GroupId", "DescribeNetworkAcls": "NetworkAclId", "DescribeNatGateways": "NatGatewayId"}
	for op, id := range idOf {
		list := describeOps[op]
		all := ids(describe(t, d, op, map[string]any{}), list, id)
		if len(all) < 6 {
			t.Fatalf("%s: only %d items", op, len(all))
		}
		first := describe(t, d, op, map[string]any{"MaxResults": 5})
		tok, _ := first["NextToken"].(string)
		if got := ids(first, list, id); !slices.Equal(got, all[:5]) || tok == "" {
			t.Errorf("%s page 1: %v token %q, want %v and a token", op, got, tok, all[:5])
			continue
		}
		second := describe(t, d, op, map[string]any{"MaxResults": 5, "NextToken": tok})
		if got := ids(second, list, id); !slices.Equal(got, all[5:min(10, len(all))]) {
			t.Errorf("%s page 2: %v, want %v", op, got, all[5:])
		}
		if len(all) <= 10 && second["NextToken"] != nil {
			t.Errorf("%s: the last page has a token %v", op, second["NextToken"])
		}
	}
}
