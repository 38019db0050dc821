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

func call(t testing.TB, d *Daemon, op string, req OpRequest) (int, []byte) {
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
		_, out := call(t, d, op, OpRequest{})
		b.Write(out)
	}
	return b.String()
}

// TestConstraintsRefusedWithNothingChanged: every refused operation answers
// with its AWS code, and the describe-* output is byte-identical after.
func TestConstraintsRefusedWithNothingChanged(t *testing.T) {
	cases := []struct {
		op   string
		req  OpRequest
		code string
	}{
		{"ReleaseAddress", OpRequest{"allocation-id": "eip-web"}, "InvalidIPAddress.InUse"},                                                                      // EIP-3
		{"ReleaseAddress", OpRequest{"allocation-id": "eip-nat"}, "InvalidIPAddress.InUse"},                                                                      // EIP-3
		{"AssociateAddress", OpRequest{"allocation-id": "eip-web", "instance-id": "db"}, "Resource.AlreadyAssociated"},                                           // EIP-2
		{"AssociateAddress", OpRequest{"allocation-id": "nope", "instance-id": "db"}, "InvalidAllocationID.NotFound"},                                            //
		{"DisassociateAddress", OpRequest{"association-id": "eipassoc-0"}, "InvalidAssociationID.NotFound"},                                                      //
		{"ModifyNetworkInterfaceAttribute", OpRequest{"network-interface-id": "nat-2a", "source-dest-check": "true"}, "OperationNotPermitted"},                   // ENI-3/5
		{"DeleteNetworkInterface", OpRequest{"network-interface-id": "nat-2a"}, "OperationNotPermitted"},                                                         // ENI-5
		{"DeleteNetworkInterface", OpRequest{"network-interface-id": "eni-extra"}, "InvalidNetworkInterface.InUse"},                                              // attached
		{"DeleteNetworkInterface", OpRequest{"network-interface-id": "eni-nope"}, "InvalidNetworkInterfaceID.NotFound"},                                          //
		{"CreateNetworkInterface", OpRequest{"subnet-id": "PUB-WEB-2a", "private-ip-address": "92.75.200.9"}, "InvalidParameterValue"},                           // ENI-1
		{"CreateNetworkInterface", OpRequest{"subnet-id": "PUB-WEB-2a", "private-ip-address": "92.75.100.1"}, "InvalidParameterValue"},                           // ADDR-2
		{"CreateNetworkInterface", OpRequest{"subnet-id": "PUB-WEB-2a", "private-ip-address": "92.75.100.10"}, "InvalidIPAddress.InUse"},                         // taken
		{"CreateNetworkInterface", OpRequest{"subnet-id": "subnet-nope"}, "InvalidSubnetID.NotFound"},                                                            //
		{"CreateRoute", OpRequest{"route-table-id": "rt-public", "destination-cidr-block": "92.75.200.0/25", "gateway-id": "igw-main"}, "InvalidParameterValue"}, // RT-4
		{"CreateRoute", OpRequest{"route-table-id": "rt-public", "destination-cidr-block": "0.0.0.0/0", "gateway-id": "igw-main"}, "RouteAlreadyExists"},
		{"DeleteRoute", OpRequest{"route-table-id": "rt-public", "destination-cidr-block": "92.75.0.0/16"}, "InvalidParameterValue"}, // RT-1
		{"DeleteRoute", OpRequest{"route-table-id": "rt-nope", "destination-cidr-block": "0.0.0.0/0"}, "InvalidRouteTableID.NotFound"},
		{"CreateRoute", OpRequest{"route-table-id": "rt-public", "destination-cidr-block": "8.0.0.0/8", "gateway-id": "igw-x"}, "InvalidGatewayID.NotFound"},
		{"AuthorizeSecurityGroupIngress", OpRequest{"group-id": "my-Web-SecurityGroup", "protocol": "tcp", "port": "80", "cidr": "0.0.0.0/0"}, "InvalidPermission.Duplicate"},
		{"RevokeSecurityGroupIngress", OpRequest{"group-id": "my-Web-SecurityGroup", "protocol": "tcp", "port": "81", "cidr": "0.0.0.0/0"}, "InvalidPermission.NotFound"},
		{"CreateNetworkAclEntry", OpRequest{"network-acl-id": "acl-db", "rule-number": "100", "protocol": "all", "cidr-block": "0.0.0.0/0", "rule-action": "allow"}, "NetworkAclEntryAlreadyExists"},
		{"DeleteNetworkAclEntry", OpRequest{"network-acl-id": "acl-db", "rule-number": "999"}, "InvalidNetworkAclEntry.NotFound"},
		{"AllocateAddress", OpRequest{"address": "13.125.190.82"}, "InvalidAddress.InUse"},
		{"AllocateAddress", OpRequest{"address": "8.8.8.8"}, "InvalidAddress.NotFound"},
		{"AllocateAddress", OpRequest{"network-border-group": "eu-west-1"}, "InvalidParameterValue"},
		{"ModifyInstanceAttribute", OpRequest{"instance-id": "i-nope", "source-dest-check": "false"}, "InvalidInstanceID.NotFound"},
		{"NoSuchThing", OpRequest{}, "InvalidAction"},
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
	if code, body := call(t, d, "CreateNetworkInterface", OpRequest{"subnet-id": "PRI-DB-2a", "name": "fw"}); code != 200 {
		t.Fatalf("create: %s", body)
	}
	if code, body := call(t, d, "CreateRoute", OpRequest{"route-table-id": "rt-public", "destination-cidr-block": "92.75.200.0/24", "network-interface-id": "fw"}); code != 200 {
		t.Fatalf("route: %s", body)
	}
	state := func() string {
		_, out := call(t, d, "DescribeRouteTables", OpRequest{})
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
	if code, body := call(t, d, "DeleteNetworkInterface", OpRequest{"network-interface-id": "fw"}); code != 200 {
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
	code, body := call(t, d, "CreateNetworkInterface", OpRequest{"subnet-id": "PUB-WEB-2a"})
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
		req OpRequest
	}{
		{"AllocateAddress", OpRequest{"name": "eip-x"}},
		{"AuthorizeSecurityGroupIngress", OpRequest{"group-id": "my-DB-SecurityGroup", "protocol": "udp", "port": "53", "cidr": "92.75.0.0/16"}},
		{"CreateNetworkAclEntry", OpRequest{"network-acl-id": "acl-db", "egress": "true", "rule-number": "200", "protocol": "icmp", "icmp-type-code": "Type=8,Code=-1", "cidr-block": "0.0.0.0/0", "rule-action": "deny"}},
		{"CreateRoute", OpRequest{"route-table-id": "rt-public", "destination-cidr-block": "203.0.113.0/24", "gateway-id": "igw-main"}},
		{"CreateNetworkInterface", OpRequest{"subnet-id": "PRI-DB-2a", "name": "spare", "description": "spare ENI"}},
		{"ModifyInstanceAttribute", OpRequest{"instance-id": "db", "source-dest-check": "false"}},
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
	an := uint8(slices.Index(names, "StartNetworkInsightsAnalysis"))
	f.Add(an, "source", "my-web-server", "destination", "my-db-server", "destination-port", "3306")
	f.Add(an, "source", "eni-x", "destination", "13.125.1.1", "protocol", "icmp")
	f.Fuzz(func(t *testing.T, opIdx uint8, k1, v1, k2, v2, k3, v3 string) {
		op := names[int(opIdx)%len(names)]
		if kernelOps[op] {
			return
		}
		d := offlineDaemon(t)
		before := describeAll(t, d)
		code, _ := call(t, d, op, OpRequest{k1: v1, k2: v2, k3: v3})
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

// TestSG3_CLIPortMeansWhatTheFileMeans: --port of a security-group rule is
// read as the AWS CLI reads it (for icmp: type and code), and stored as the
// file stores the same rule. So each rule of topo.json can be revoked with
// the matching --port, authorized again into the same representation, and a
// second authorize is InvalidPermission.Duplicate.
func TestSG3_CLIPortMeansWhatTheFileMeans(t *testing.T) {
	cases := []struct {
		name     string
		fileRule int // index in g's ingress as loaded from sgTopo
		protocol string
		port     string
	}{
		{"icmp all, -1", 0, "icmp", "-1"},
		{"icmp all, all", 0, "icmp", "all"},
		{"icmp all, no port", 0, "icmp", ""},
		{"icmp type 8 any code", 1, "icmp", "8"},
		{"icmp type 8 code -1", 1, "icmp", "8--1"},
		{"icmp type 3 code 4", 2, "icmp", "3-4"},
		{"tcp all ports, all", 3, "tcp", "all"},
		{"tcp all ports, -1", 3, "tcp", "-1"},
		{"tcp all ports, 0-65535", 3, "tcp", "0-65535"},
		{"udp 0-65535, all", 4, "udp", "all"},
		{"udp 0-65535, no port", 4, "udp", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := daemonFor(t, sgTopo)
			g := sgByName(d, "g")
			want := g.Ingress[c.fileRule]
			req := OpRequest{"group-id": "g", "protocol": c.protocol, "cidr": "10.0.0.0/16"}
			if c.port != "" {
				req["port"] = c.port
			}
			if code, body := call(t, d, "AuthorizeSecurityGroupIngress", req); code == 200 || !strings.Contains(string(body), "InvalidPermission.Duplicate") {
				t.Fatalf("authorize of the file's own rule: %d %s, want InvalidPermission.Duplicate", code, body)
			}
			if code, body := call(t, d, "RevokeSecurityGroupIngress", req); code != 200 {
				t.Fatalf("revoke of the file's rule %+v: %s", want, body)
			}
			if len(g.Ingress) != 4 || slices.ContainsFunc(g.Ingress, func(r topology.SGRule) bool { return r == want }) {
				t.Fatalf("revoke left %+v", g.Ingress)
			}
			if code, body := call(t, d, "RevokeSecurityGroupIngress", req); code == 200 || !strings.Contains(string(body), "InvalidPermission.NotFound") {
				t.Fatalf("second revoke: %d %s, want InvalidPermission.NotFound", code, body)
			}
			if code, body := call(t, d, "AuthorizeSecurityGroupIngress", req); code != 200 {
				t.Fatalf("authorize: %s", body)
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

// TestSG3_CLIPortStored: the exact representation --port gives a rule:
// for icmp (type, code), -1 for any, as topology and policy.Rule use it.
func TestSG3_CLIPortStored(t *testing.T) {
	cases := []struct {
		protocol, port string
		from, to       int
	}{
		{"icmp", "8", 8, -1},
		{"icmp", "8-0", 8, 0},
		{"icmp", "0", 0, -1},
		{"icmp", "-1", -1, -1},
		{"icmp", "ALL", -1, -1},
		{"tcp", "all", 0, 65535},
		{"tcp", "-1", 0, 65535},
		{"tcp", "22", 22, 22},
		{"udp", "1024-2047", 1024, 2047},
		{"all", "80", -1, -1}, // AWS: every port for protocol all
	}
	for _, c := range cases {
		d := daemonFor(t, sgTopo)
		if code, body := call(t, d, "AuthorizeSecurityGroupIngress", OpRequest{"group-id": "g", "protocol": c.protocol, "port": c.port, "cidr": "192.0.2.0/24"}); code != 200 {
			t.Errorf("%s %s: %s", c.protocol, c.port, body)
			continue
		}
		g := sgByName(d, "g")
		got := g.Ingress[len(g.Ingress)-1]
		if got.FromPort != c.from || got.ToPort != c.to {
			t.Errorf("%s --port %s stored %d..%d, want %d..%d", c.protocol, c.port, got.FromPort, got.ToPort, c.from, c.to)
		}
	}
	for _, c := range []struct{ protocol, port string }{
		{"icmp", "-1-0"}, {"icmp", "256"}, {"icmp", "8-256"}, {"icmp", "x"}, {"icmp", "8-"}, {"tcp", "70000"}, {"tcp", "8-0"},
	} {
		d := daemonFor(t, sgTopo)
		before := describeAll(t, d)
		code, body := call(t, d, "AuthorizeSecurityGroupIngress", OpRequest{"group-id": "g", "protocol": c.protocol, "port": c.port, "cidr": "192.0.2.0/24"})
		if code == 200 || !strings.Contains(string(body), "InvalidParameterValue") {
			t.Errorf("%s --port %s: %d %s, want InvalidParameterValue", c.protocol, c.port, code, body)
		}
		if describeAll(t, d) != before {
			t.Errorf("%s --port %s: refused but changed the network", c.protocol, c.port)
		}
	}
}

// TestSG3_ICMPRuleThroughTheForwarder: pings from web to db cross the
// forwarder's compiled security groups. Revoking db's file rule "icmp from
// 92.75.0.0/16" with --port -1 stops new pings; a rule for type 8 code 8
// does not let an echo request (code 0) in; --port 8 (type 8, any code)
// does.
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
	op := func(name, port string) {
		t.Helper()
		if code, body := call(t, d, name, OpRequest{"group-id": "my-DB-SecurityGroup", "protocol": "icmp", "port": port, "cidr": "92.75.0.0/16"}); code != 200 {
			t.Fatalf("%s --port %s: %s", name, port, body)
		}
	}
	if !pingArrives() {
		t.Fatal("ping web → db blocked with the file's rules")
	}
	op("RevokeSecurityGroupIngress", "-1")
	if pingArrives() {
		t.Fatal("ping arrived after the icmp rule was revoked")
	}
	op("AuthorizeSecurityGroupIngress", "8-8")
	if pingArrives() {
		t.Fatal("an echo request (type 8 code 0) arrived through a rule for type 8 code 8")
	}
	op("AuthorizeSecurityGroupIngress", "8")
	if !pingArrives() {
		t.Fatal("ping blocked although --port 8 allows type 8, any code")
	}
}
