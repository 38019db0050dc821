package daemon

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/vpcnet/vpcnet/dataplane"
	"github.com/vpcnet/vpcnet/dataplane/header"
	"github.com/vpcnet/vpcnet/ec2"
	"github.com/vpcnet/vpcnet/topology"
)

// kernelOps touch namespaces and devices; the pure tests leave them out.
var kernelOps = map[string]bool{
	"RunInstances": true, "TerminateInstances": true, "StopInstances": true, "StartInstances": true,
	"AttachNetworkInterface": true, "AssignPrivateIpAddresses": true, "UnassignPrivateIpAddresses": true,
	"DetachNetworkInterface": true,
}

// offlineDaemon is a daemon over the default network with a forwarder that
// has no ports: operations change the model and the tables, not the kernel.
func offlineDaemon(t testing.TB) *Daemon {
	n, err := topology.Load(topology.Default())
	if err != nil {
		t.Fatal(err)
	}
	return newDaemon(n, dataplane.New(n, dataplane.Options{}))
}

// call posts req, EC2's parameters by member name, to operation op through
// the socket's handler.
func call(t testing.TB, d *Daemon, op string, req any) (int, []byte) {
	b, _ := json.Marshal(req)
	r := httptest.NewRequest(http.MethodPost, "/op/x", bytes.NewReader(b))
	r.SetPathValue("op", op)
	w := httptest.NewRecorder()
	d.handleOp(w, r)
	return w.Code, w.Body.Bytes()
}

func describeAll(t testing.TB, d *Daemon) string {
	var b strings.Builder
	for _, op := range []string{"DescribeAddresses", "DescribeNetworkInterfaces", "DescribeInstances", "DescribeRouteTables",
		"DescribeSecurityGroups", "DescribeNetworkAcls", "DescribeSubnets", "DescribeNatGateways"} {
		_, out := call(t, d, op, typedReq{})
		b.Write(out)
	}
	return b.String()
}

// TestConstraintsRefusedWithNothingChanged: every refused operation answers
// with its AWS code, and the describe-* output is byte-identical after.
func TestConstraintsRefusedWithNothingChanged(t *testing.T) {
	cases := []struct {
		op   string
		req  any // a typedReq: EC2's parameters by member name
		code string
	}{
		{"ReleaseAddress", typedReq{"AllocationId": "eip-web"}, "InvalidIPAddress.InUse"},                                                               // EIP-3
		{"ReleaseAddress", typedReq{"AllocationId": "eip-nat"}, "InvalidIPAddress.InUse"},                                                               // EIP-3
		{"AssociateAddress", typedReq{"AllocationId": "eip-web", "InstanceId": "db"}, "Resource.AlreadyAssociated"},                                     // EIP-2
		{"AssociateAddress", typedReq{"AllocationId": "nope", "InstanceId": "db"}, "InvalidAllocationID.NotFound"},                                      //
		{"AssociateAddress", typedReq{"AllocationId": "eip-web", "InstanceId": "db", "NetworkInterfaceId": "eni-extra"}, "InvalidParameterCombination"}, // issue 10
		{"DisassociateAddress", typedReq{"AssociationId": "eipassoc-0"}, "InvalidAssociationID.NotFound"},                                               //
		{"ModifyNetworkInterfaceAttribute", sdcReq("NetworkInterfaceId", "nat-2a", true), "OperationNotPermitted"},                                      // ENI-3/5
		{"DeleteNetworkInterface", typedReq{"NetworkInterfaceId": "nat-2a"}, "OperationNotPermitted"},                                                   // ENI-5
		{"DeleteNetworkInterface", typedReq{"NetworkInterfaceId": "eni-extra"}, "InvalidNetworkInterface.InUse"},                                        // attached
		{"DeleteNetworkInterface", typedReq{"NetworkInterfaceId": "eni-nope"}, "InvalidNetworkInterfaceID.NotFound"},                                    //
		{"CreateNetworkInterface", eniReq("PUB-WEB-2a", "", typedReq{"PrivateIpAddress": "92.75.200.9"}), "InvalidParameterValue"},                      // ENI-1
		{"CreateNetworkInterface", eniReq("PUB-WEB-2a", "", typedReq{"PrivateIpAddress": "92.75.100.1"}), "InvalidParameterValue"},                      // ADDR-2
		{"CreateNetworkInterface", eniReq("PUB-WEB-2a", "", typedReq{"PrivateIpAddress": "92.75.100.10"}), "InvalidIPAddress.InUse"},                    // taken
		{"CreateNetworkInterface", eniReq("subnet-nope", "", nil), "InvalidSubnetID.NotFound"},                                                          //
		{"CreateRoute", routeReq("rt-public", "92.75.200.0/25", "GatewayId", "igw-main"), "InvalidParameterValue"},                                      // RT-4
		{"CreateRoute", routeReq("rt-public", "0.0.0.0/0", "GatewayId", "igw-main"), "RouteAlreadyExists"},
		{"DeleteRoute", routeReq("rt-public", "92.75.0.0/16", "", ""), "InvalidParameterValue"}, // RT-1
		{"DeleteRoute", routeReq("rt-nope", "0.0.0.0/0", "", ""), "InvalidRouteTableID.NotFound"},
		{"CreateRoute", routeReq("rt-public", "8.0.0.0/8", "GatewayId", "igw-x"), "InvalidGatewayID.NotFound"},
		{"AuthorizeSecurityGroupIngress", sgReq("my-Web-SecurityGroup", "tcp", 80, 80, "0.0.0.0/0"), "InvalidPermission.Duplicate"},
		{"RevokeSecurityGroupIngress", sgReq("my-Web-SecurityGroup", "tcp", 81, 81, "0.0.0.0/0"), "InvalidPermission.NotFound"},
		{"AuthorizeSecurityGroupIngress", typedReq{"GroupId": "my-Web-SecurityGroup", "IpPermissions": []any{typedReq{"IpProtocol": "tcp",
			"IpRanges": []any{typedReq{"CidrIp": "10.0.0.0/8"}}, "UserIdGroupPairs": []any{typedReq{"GroupId": "sg-nope"}}}}}, "InvalidGroup.NotFound"}, // all or nothing
		{"CreateNetworkAclEntry", typedReq{"NetworkAclId": "acl-db", "Egress": false, "RuleNumber": 100, "Protocol": "-1", "CidrBlock": "0.0.0.0/0", "RuleAction": "allow"}, "NetworkAclEntryAlreadyExists"},
		{"DeleteNetworkAclEntry", typedReq{"NetworkAclId": "acl-db", "Egress": false, "RuleNumber": 999}, "InvalidNetworkAclEntry.NotFound"},
		{"AllocateAddress", typedReq{"Address": "13.125.190.82"}, "InvalidAddress.InUse"},
		{"AllocateAddress", typedReq{"Address": "8.8.8.8"}, "InvalidAddress.NotFound"},
		{"AllocateAddress", typedReq{"NetworkBorderGroup": "eu-west-1"}, "InvalidParameterValue"},
		{"ModifyInstanceAttribute", sdcReq("InstanceId", "i-nope", false), "InvalidInstanceID.NotFound"},
		{"NoSuchThing", typedReq{}, "InvalidAction"},
	}
	d := offlineDaemon(t)
	for _, c := range cases {
		before := describeAll(t, d)
		code, body := call(t, d, c.op, c.req)
		var e OpError
		json.Unmarshal(body, &e)
		if code == http.StatusOK || e.Code != c.code {
			t.Errorf("%s %v: got %d %s, want %s", c.op, c.req, code, body, c.code)
		}
		if after := describeAll(t, d); after != before {
			t.Errorf("%s %v changed the network although refused", c.op, c.req)
		}
	}
}

// TestRT3_DeletedTargetIsBlackhole: a route whose ENI target is deleted
// shows state blackhole.
func TestRT3_DeletedTargetIsBlackhole(t *testing.T) {
	d := offlineDaemon(t)
	if code, body := call(t, d, "CreateNetworkInterface", eniReq("PRI-DB-2a", "fw", nil)); code != 200 {
		t.Fatalf("create: %s", body)
	}
	if code, body := call(t, d, "CreateRoute", routeReq("rt-public", "92.75.200.0/24", "NetworkInterfaceId", "fw")); code != 200 {
		t.Fatalf("route: %s", body)
	}
	state := func() string {
		_, out := call(t, d, "DescribeRouteTables", typedReq{})
		var rts struct {
			RouteTables []struct{ Routes []map[string]any }
		}
		json.Unmarshal(out, &rts)
		for _, t := range rts.RouteTables {
			for _, r := range t.Routes {
				if r["DestinationCidrBlock"] == "92.75.200.0/24" {
					return r["State"].(string)
				}
			}
		}
		return "missing"
	}
	if s := state(); s != "active" {
		t.Fatalf("state %s, want active", s)
	}
	if code, body := call(t, d, "DeleteNetworkInterface", typedReq{"NetworkInterfaceId": "fw"}); code != 200 {
		t.Fatalf("delete: %s", body)
	}
	if s := state(); s != "blackhole" {
		t.Fatalf("state %s, want blackhole (RT-3)", s)
	}
}

// TestENI2_DefaultGroupForNewENI: a compute ENI created without groups gets
// the VPC's default group.
func TestENI2_DefaultGroupForNewENI(t *testing.T) {
	d := offlineDaemon(t)
	code, body := call(t, d, "CreateNetworkInterface", eniReq("PUB-WEB-2a", "", nil))
	if code != 200 || !strings.Contains(string(body), `"GroupName":"default"`) {
		t.Fatalf("%d %s", code, body)
	}
}

// TestExportRoundTrip: the exported file loads, and loads into a network
// whose describe-* output is the same as the live one's (changes included).
func TestExportRoundTrip(t *testing.T) {
	d := offlineDaemon(t)
	for _, c := range []struct {
		op  string
		req any
	}{
		{"AllocateAddress", eipNameReq("eip-x")},
		{"AuthorizeSecurityGroupIngress", sgReq("my-DB-SecurityGroup", "udp", 53, 53, "92.75.0.0/16")},
		{"CreateNetworkAclEntry", typedReq{"NetworkAclId": "acl-db", "Egress": true, "RuleNumber": 200, "Protocol": "1", "IcmpTypeCode": typedReq{"Type": 8, "Code": -1}, "CidrBlock": "0.0.0.0/0", "RuleAction": "deny"}},
		{"CreateRoute", routeReq("rt-public", "203.0.113.0/24", "GatewayId", "igw-main")},
		{"CreateNetworkInterface", eniReq("PRI-DB-2a", "spare", typedReq{"Description": "spare ENI"})},
		{"ModifyInstanceAttribute", sdcReq("InstanceId", "db", false)},
	} {
		if code, body := call(t, d, c.op, c.req); code != 200 {
			t.Fatalf("%s: %s", c.op, body)
		}
	}
	b, err := json.Marshal(topology.Export(d.net))
	if err != nil {
		t.Fatal(err)
	}
	n2, err := topology.Load(b)
	if err != nil {
		t.Fatalf("exported file does not load: %v\n%s", err, b)
	}
	d2 := newDaemon(n2, dataplane.New(n2, dataplane.Options{}))
	if a, b := describeAll(t, d), describeAll(t, d2); a != b {
		t.Fatalf("describe-* differ after the round trip:\nlive: %s\nre-up: %s", a, b)
	}
}

// FuzzOperations: no operation input crashes the daemon, and a refused one
// changes nothing.
func FuzzOperations(f *testing.F) {
	f.Add(uint8(0), "route-table-id", "rt-public", "destination-cidr-block", "10.0.0.0/8", "gateway-id", "igw-main")
	f.Add(uint8(29), "group-id", "default", "protocol", "tcp", "port", "From=1,To=2")
	f.Add(uint8(21), "network-acl-id", "acl-db", "rule-number", "5", "protocol", "icmp")
	f.Add(uint8(15), "address", "13.125.1.1", "public-ipv4-pool", "amazon", "name", "x")
	f.Add(uint8(16), "allocation-id", "eip-web", "network-interface-id", "eni-extra", "allow-reassociation", "true")
	f.Add(uint8(22), "subnet-id", "PUB-WEB-2a", "groups", "default,my-Web-SecurityGroup", "private-ip-address", "92.75.100.77")
	names := ec2.Names()
	// Typed operations take EC2's member names (string values here).
	op := func(name string) uint8 { return uint8(slices.Index(names, name)) }
	f.Add(op("CreateNetworkInsightsPath"), "Source", "web", "Destination", "db", "Protocol", "tcp")
	f.Add(op("CreateNetworkInsightsPath"), "Source", "eni-x", "Destination", "13.125.1.1", "Protocol", "icmp")
	f.Add(op("CreateRoute"), "RouteTableId", "rt-public", "DestinationCidrBlock", "10.0.0.0/8", "GatewayId", "igw-main")
	f.Add(op("ReplaceRoute"), "RouteTableId", "rt-private", "DestinationCidrBlock", "0.0.0.0/0", "InstanceId", "db")
	f.Add(op("CreateNetworkInterface"), "SubnetId", "PUB-WEB-2a", "PrivateIpAddress", "92.75.100.77", "Description", "x")
	f.Add(op("DeleteNetworkInterface"), "NetworkInterfaceId", "eni-extra", "DryRun", "true", "x", "y")
	f.Fuzz(func(t *testing.T, opIdx uint8, k1, v1, k2, v2, k3, v3 string) {
		op := names[int(opIdx)%len(names)]
		if kernelOps[op] {
			return
		}
		d := offlineDaemon(t)
		before := describeAll(t, d)
		code, _ := call(t, d, op, typedReq{k1: v1, k2: v2, k3: v3})
		if code != 200 && describeAll(t, d) != before {
			t.Fatalf("refused %s changed the network", op)
		}
		if _, err := json.Marshal(topology.Export(d.net)); err != nil {
			t.Fatal(err)
		}
	})
}

// sgTopo has one group "g" whose ingress rules are the shapes topo.json can
// give an ICMP or all-ports rule.
const sgTopo = `{
  "name": "sgt", "region": "us-east-1",
  "vpcs": [{
    "name": "v", "cidr": "10.0.0.0/16",
    "subnets": [{"name": "a", "cidr": "10.0.1.0/24", "az": "us-east-1a"}],
    "security_groups": [{"name": "g", "ingress": [
      {"protocol": "icmp", "source": "10.0.0.0/16"},
      {"protocol": "icmp", "icmp_type": 8, "source": "10.0.0.0/16"},
      {"protocol": "icmp", "icmp_type": 3, "icmp_code": 4, "source": "10.0.0.0/16"},
      {"protocol": "tcp", "source": "10.0.0.0/16"},
      {"protocol": "udp", "ports": "0-65535", "source": "10.0.0.0/16"}
    ]}],
    "instances": [{"name": "i", "subnet": "a", "security_groups": ["g"]}]
  }]
}`

func daemonFor(t testing.TB, topo string) *Daemon {
	t.Helper()
	n, err := topology.Load([]byte(topo))
	if err != nil {
		t.Fatal(err)
	}
	return newDaemon(n, dataplane.New(n, dataplane.Options{}))
}

func sgByName(d *Daemon, name string) *topology.SecurityGroup {
	for _, v := range d.net.VPCs {
		for _, g := range v.SGs {
			if g.Name == name {
				return g
			}
		}
	}
	return nil
}

// typedReq is a request to a typed operation: EC2's parameters by member
// name, as the socket takes them.
type typedReq = map[string]any

// sgReq is a request for one permission of group g: protocol, ports
// (FromPort, ToPort; for icmp type and code) and a CIDR.
func sgReq(g, protocol string, from, to int, cidr string) typedReq {
	return typedReq{"GroupId": g, "IpPermissions": []any{typedReq{"IpProtocol": protocol, "FromPort": from, "ToPort": to,
		"IpRanges": []any{typedReq{"CidrIp": cidr}}}}}
}

// eipNameReq allocates an Elastic IP named name (its Name tag).
func eipNameReq(name string) typedReq {
	return typedReq{"TagSpecifications": []any{typedReq{"ResourceType": "elastic-ip", "Tags": []any{typedReq{"Key": "Name", "Value": name}}}}}
}

// eniReq creates a network interface in subnet, named name (its Name tag;
// none for ""), with the members of more added.
func eniReq(subnet, name string, more typedReq) typedReq {
	req := typedReq{"SubnetId": subnet}
	if name != "" {
		req["TagSpecifications"] = []any{typedReq{"ResourceType": "network-interface", "Tags": []any{typedReq{"Key": "Name", "Value": name}}}}
	}
	for k, v := range more {
		req[k] = v
	}
	return req
}

// routeReq is a route of table to dst; target is the member naming its
// target (GatewayId …) and ref its value ("" for none).
func routeReq(table, dst, target, ref string) typedReq {
	req := typedReq{"RouteTableId": table, "DestinationCidrBlock": dst}
	if target != "" {
		req[target] = ref
	}
	return req
}

// sdcReq is a source/dest check change of the ENI or instance that member
// (NetworkInterfaceId, InstanceId) names.
func sdcReq(member, ref string, on bool) typedReq {
	return typedReq{member: ref, "SourceDestCheck": typedReq{"Value": on}}
}

// TestSG3_PortsMeanWhatTheFileMeans: FromPort and ToPort of a
// security-group permission are read as EC2 reads them (for icmp: type and
// code), and stored as the file stores the same rule. So each rule of
// topo.json can be revoked with the matching permission, authorized again
// into the same representation, and a second authorize is
// InvalidPermission.Duplicate. (How the CLI's --port becomes FromPort and
// ToPort: cmd/vpcnet's TestSG3_PortFlagAsTheAWSCLI.)
func TestSG3_PortsMeanWhatTheFileMeans(t *testing.T) {
	cases := []struct {
		name     string
		fileRule int // index in g's ingress as loaded from sgTopo
		protocol string
		ports    []int // FromPort, ToPort; none for no ports
	}{
		{"icmp all, -1 -1", 0, "icmp", []int{-1, -1}},
		{"icmp all, no ports", 0, "icmp", nil},
		{"icmp type 8 any code", 1, "icmp", []int{8, -1}},
		{"icmp type 3 code 4", 2, "icmp", []int{3, 4}},
		{"tcp all ports, -1 -1", 3, "tcp", []int{-1, -1}},
		{"tcp all ports, 0-65535", 3, "tcp", []int{0, 65535}},
		{"tcp all ports, no ports", 3, "6", nil},
		{"udp 0-65535, -1 -1", 4, "udp", []int{-1, -1}},
		{"udp 0-65535, no ports", 4, "17", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := daemonFor(t, sgTopo)
			g := sgByName(d, "g")
			want := g.Ingress[c.fileRule]
			perm := typedReq{"IpProtocol": c.protocol, "IpRanges": []any{typedReq{"CidrIp": "10.0.0.0/16"}}}
			if c.ports != nil {
				perm["FromPort"], perm["ToPort"] = c.ports[0], c.ports[1]
			}
			req := typedReq{"GroupId": "g", "IpPermissions": []any{perm}}
			if code, body := call(t, d, "AuthorizeSecurityGroupIngress", req); code == 200 || !strings.Contains(string(body), "InvalidPermission.Duplicate") {
				t.Fatalf("authorize of the file's own rule: %d %s, want InvalidPermission.Duplicate", code, body)
			}
			if code, body := call(t, d, "RevokeSecurityGroupIngress", req); code != 200 || string(body) != `{"Return":true}`+"\n" {
				t.Fatalf("revoke of the file's rule %+v: %d %s, want EC2's answer {Return: true}", want, code, body)
			}
			if len(g.Ingress) != 4 || slices.ContainsFunc(g.Ingress, func(r topology.SGRule) bool { return r == want }) {
				t.Fatalf("revoke left %+v", g.Ingress)
			}
			if code, body := call(t, d, "RevokeSecurityGroupIngress", req); code == 200 || !strings.Contains(string(body), "InvalidPermission.NotFound") {
				t.Fatalf("second revoke: %d %s, want InvalidPermission.NotFound", code, body)
			}
			code, body := call(t, d, "AuthorizeSecurityGroupIngress", req)
			var out struct {
				Return             bool
				SecurityGroupRules []struct{ IpProtocol, CidrIpv4, GroupId string }
			}
			if err := json.Unmarshal(body, &out); code != 200 || err != nil || !out.Return || len(out.SecurityGroupRules) != 1 ||
				out.SecurityGroupRules[0].CidrIpv4 != "10.0.0.0/16" || out.SecurityGroupRules[0].GroupId != g.ID {
				t.Fatalf("authorize: %d %s", code, body)
			}
			got := g.Ingress[len(g.Ingress)-1]
			if got.Protocol != want.Protocol || !topology.SameMatch(got, want) || got.CIDR != want.CIDR {
				t.Fatalf("authorize stored %d %d..%d, the file has %d %d..%d", got.Protocol, got.FromPort, got.ToPort, want.Protocol, want.FromPort, want.ToPort)
			}
			if code, body := call(t, d, "AuthorizeSecurityGroupIngress", req); code == 200 || !strings.Contains(string(body), "InvalidPermission.Duplicate") {
				t.Fatalf("second authorize: %d %s, want InvalidPermission.Duplicate", code, body)
			}
		})
	}
}

// TestSG3_PortsStored: the exact representation FromPort and ToPort give a
// rule: for icmp (type, code), -1 for any, as topology and policy.Rule use
// it; values out of range are refused with nothing changed.
func TestSG3_PortsStored(t *testing.T) {
	cases := []struct {
		protocol     string
		from, to     int // requested
		wantF, wantT int // stored
	}{
		{"icmp", 8, -1, 8, -1},
		{"icmp", 8, 0, 8, 0},
		{"icmp", 8, 8, 8, 8},
		{"icmp", 0, -1, 0, -1},
		{"icmp", -1, -1, -1, -1},
		{"tcp", -1, -1, 0, 65535},
		{"tcp", 22, 22, 22, 22},
		{"udp", 1024, 2047, 1024, 2047},
		{"-1", 80, 80, -1, -1}, // EC2: every port for protocol all
	}
	for _, c := range cases {
		d := daemonFor(t, sgTopo)
		if code, body := call(t, d, "AuthorizeSecurityGroupIngress", sgReq("g", c.protocol, c.from, c.to, "192.0.2.0/24")); code != 200 {
			t.Errorf("%s %d..%d: %s", c.protocol, c.from, c.to, body)
			continue
		}
		g := sgByName(d, "g")
		got := g.Ingress[len(g.Ingress)-1]
		if got.FromPort != c.wantF || got.ToPort != c.wantT {
			t.Errorf("%s %d..%d stored %d..%d, want %d..%d", c.protocol, c.from, c.to, got.FromPort, got.ToPort, c.wantF, c.wantT)
		}
	}
	for _, c := range []struct {
		protocol string
		from, to any
	}{
		{"icmp", -1, 0}, {"icmp", 256, -1}, {"icmp", 8, 256}, {"icmp", "x", -1}, {"icmp", 8.5, 0}, {"tcp", 0, 70000}, {"tcp", 8, 0}, {"tcp", -2, 5},
	} {
		d := daemonFor(t, sgTopo)
		before := describeAll(t, d)
		req := typedReq{"GroupId": "g", "IpPermissions": []any{typedReq{"IpProtocol": c.protocol, "FromPort": c.from, "ToPort": c.to,
			"IpRanges": []any{typedReq{"CidrIp": "192.0.2.0/24"}}}}}
		code, body := call(t, d, "AuthorizeSecurityGroupIngress", req)
		if code == 200 || !strings.Contains(string(body), "InvalidParameterValue") {
			t.Errorf("%s %v..%v: %d %s, want InvalidParameterValue", c.protocol, c.from, c.to, code, body)
		}
		if describeAll(t, d) != before {
			t.Errorf("%s %v..%v: refused but changed the network", c.protocol, c.from, c.to)
		}
	}
}

// TestSG3_ICMPRuleThroughTheForwarder: pings from web to db cross the
// forwarder's compiled security groups. Revoking db's file rule "icmp from
// 92.75.0.0/16" with ports -1 and -1 stops new pings; a rule for type 8
// code 8 does not let an echo request (code 0) in; type 8 with code -1
// (any) does.
func TestSG3_ICMPRuleThroughTheForwarder(t *testing.T) {
	d := offlineDaemon(t)
	t.Cleanup(d.fwd.Stop)
	inst := map[string]*topology.ENI{}
	ports := map[string]*dataplane.FakePort{}
	for _, v := range d.net.VPCs {
		for _, i := range v.Instances {
			inst[i.Name] = i.Primary()
			ports[i.Name] = dataplane.NewFakePort(16)
			d.fwd.AttachPort(i.Primary().ID, ports[i.Name])
		}
	}
	web, db := inst["web"], inst["db"]
	id := uint16(0)
	// pingArrives sends an echo request with a new id (a new flow: SG-5
	// keeps tracked flows whatever the rules) and reports whether db got it.
	pingArrives := func() bool {
		id++
		eth := &layers.Ethernet{SrcMAC: web.MAC, DstMAC: web.Subnet.RouterMAC, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4,
			SrcIP: web.PrimaryIP.AsSlice(), DstIP: db.PrimaryIP.AsSlice()}
		icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: id, Seq: 1}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			eth, ip, icmp, gopacket.Payload("ping")); err != nil {
			t.Fatal(err)
		}
		ports["web"].Inject(append(make([]byte, header.VnetHdrLen), buf.Bytes()...))
		select {
		case <-ports["db"].Sent():
			return true
		case <-time.After(300 * time.Millisecond):
			return false
		}
	}
	op := func(name string, typ, code int) {
		t.Helper()
		if status, body := call(t, d, name, sgReq("my-DB-SecurityGroup", "icmp", typ, code, "92.75.0.0/16")); status != 200 {
			t.Fatalf("%s type %d code %d: %s", name, typ, code, body)
		}
	}
	if !pingArrives() {
		t.Fatal("ping web → db blocked with the file's rules")
	}
	op("RevokeSecurityGroupIngress", -1, -1)
	if pingArrives() {
		t.Fatal("ping arrived after the icmp rule was revoked")
	}
	op("AuthorizeSecurityGroupIngress", 8, 8)
	if pingArrives() {
		t.Fatal("an echo request (type 8 code 0) arrived through a rule for type 8 code 8")
	}
	op("AuthorizeSecurityGroupIngress", 8, -1)
	if !pingArrives() {
		t.Fatal("ping blocked although FromPort 8, ToPort -1 allows type 8, any code")
	}
}
