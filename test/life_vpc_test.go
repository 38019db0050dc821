package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// nothing is an account with nothing in it: a name, a pool and an internet
// host serving HTTP (start from nothing, issue 12).
const nothing = `{"name": "NAME", "region": "ap-northeast-2",
  "address_pools": [{"name": "amazon", "cidrs": ["13.125.0.0/16"]}],
  "internet": {"hosts": [{"name": "remote", "ip": "13.52.201.147", "user_data": "vpcnet serve --http :80"}]}}`

func tagSpec(kind, name string) string {
	return "ResourceType=" + kind + ",Tags=[{Key=Name,Value=" + name + "}]"
}

// TestLIFE_VPCFromNothing: from an empty account, the API builds a VPC, a
// subnet, an internet gateway, a default route to it in the main table
// (LIFE-2, RT-1, IGW-3), a group and an instance with a public IP; the
// internet host pings it and it reaches the host as its public IP (IGW-1).
// Export, down and up bring the same network back. Then it is torn down in
// dependency order, each step first refused with DependencyViolation and
// nothing changed (LIFE-1); down leaves nothing.
func TestLIFE_VPCFromNothing(t *testing.T) {
	tp := Up(t, nothing)
	var vpcs struct{ Vpcs []struct{ VpcId string } }
	if tp.ec2OK(t, &vpcs, "describe-vpcs"); len(vpcs.Vpcs) != 0 {
		t.Fatalf("an empty account has VPCs: %+v", vpcs)
	}
	var vpc struct{ Vpc struct{ VpcId, State string } }
	tp.ec2OK(t, &vpc, "create-vpc", "--cidr-block", "10.20.0.0/16", "--tag-specifications", tagSpec("vpc", "lab"))
	if !strings.HasPrefix(vpc.Vpc.VpcId, "vpc-") || vpc.Vpc.State != "pending" {
		t.Fatalf("create-vpc: %+v", vpc)
	}
	tp.ec2OK(t, nil, "create-subnet", "--vpc-id", vpc.Vpc.VpcId, "--cidr-block", "10.20.1.0/24", "--tag-specifications", tagSpec("subnet", "pub"))
	var igw struct {
		InternetGateway struct{ InternetGatewayId string }
	}
	tp.ec2OK(t, &igw, "create-internet-gateway", "--tag-specifications", tagSpec("internet-gateway", "gw"))
	gw := igw.InternetGateway.InternetGatewayId
	tp.ec2OK(t, nil, "attach-internet-gateway", "--internet-gateway-id", gw, "--vpc-id", vpc.Vpc.VpcId)
	var rts struct {
		RouteTables []struct {
			RouteTableId string
			Associations []struct{ Main bool }
		}
	}
	tp.ec2OK(t, &rts, "describe-route-tables", "--filters", "Name=vpc-id,Values="+vpc.Vpc.VpcId)
	if len(rts.RouteTables) != 1 || len(rts.RouteTables[0].Associations) != 1 || !rts.RouteTables[0].Associations[0].Main {
		t.Fatalf("the new VPC's tables: %+v (LIFE-2: one main table)", rts)
	}
	tp.ec2OK(t, nil, "create-route", "--route-table-id", rts.RouteTables[0].RouteTableId, "--destination-cidr-block", "0.0.0.0/0", "--gateway-id", gw)
	tp.ec2OK(t, nil, "create-security-group", "--vpc-id", vpc.Vpc.VpcId, "--group-name", "open", "--description", "open")
	tp.ec2OK(t, nil, "authorize-security-group-ingress", "--group-id", "open", "--protocol", "all", "--cidr", "0.0.0.0/0")
	var run struct{ Instances []instDesc }
	tp.ec2OK(t, &run, "run-instances", "--subnet-id", "pub", "--associate-public-ip-address", "--name", "web",
		"--security-group-ids", "open", "--user-data", "vpcnet serve --http :80")
	if len(run.Instances) != 1 || !strings.HasPrefix(run.Instances[0].PublicIpAddress, "13.125.") {
		t.Fatalf("run-instances: %+v", run)
	}
	web := run.Instances[0]
	traffic := func(when string) {
		t.Helper()
		if !tp.PingEventually(t, "remote", web.PublicIpAddress) {
			t.Fatalf("%s: the internet host does not reach web's public IP %s", when, web.PublicIpAddress)
		}
		if w, err := tp.Curl(t, "web", "http://13.52.201.147/"); err != nil || clientIP(w) != web.PublicIpAddress {
			t.Fatalf("%s: web → internet seen as %+v (%v), want %s (IGW-1)", when, w, err, web.PublicIpAddress)
		}
	}
	traffic("built live")

	// Export, down, up: the same network (describe-* equal) and traffic.
	structure := func() string {
		var b strings.Builder
		for _, op := range []string{"describe-vpcs", "describe-subnets", "describe-internet-gateways", "describe-route-tables", "describe-security-groups"} {
			b.WriteString(tp.ec2OK(t, nil, op))
		}
		return b.String()
	}
	before := structure()
	exported, code := vpcnet(t, "export", tp.Name)
	if code != 0 {
		t.Fatalf("export: %s", exported)
	}
	path := filepath.Join(t.TempDir(), "exported.json")
	if err := os.WriteFile(path, []byte(exported), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := vpcnet(t, "down", tp.Name); code != 0 {
		t.Fatalf("down: %s", out)
	}
	if out, code := vpcnet(t, "up", path); code != 0 {
		t.Fatalf("up of the export: %s\n%s", out, exported)
	}
	if after := structure(); after != before {
		t.Fatalf("describe-* differ after export, down, up:\nbefore %s\nafter  %s", before, after)
	}
	web = *tp.instance(t, "web")
	traffic("export, down, up")

	// Tear down in dependency order; each refusal changes nothing
	// (describe-*, export) and traffic still flows.
	refuse := func(op string, args ...string) {
		t.Helper()
		tp.refused(t, "DependencyViolation", op, args...)
	}
	refuse("delete-vpc", "--vpc-id", vpc.Vpc.VpcId)                                   // subnet, gateway, group
	refuse("delete-subnet", "--subnet-id", "pub")                                     // web's ENI
	refuse("detach-internet-gateway", "--internet-gateway-id", gw, "--vpc-id", "lab") // web's public IP
	refuse("delete-internet-gateway", "--internet-gateway-id", gw)                    // attached
	refuse("delete-security-group", "--group-name", "open")                           // in use
	traffic("after the refusals")
	tp.ec2OK(t, nil, "terminate-instances", "--instance-ids", web.InstanceId)
	tp.ec2OK(t, nil, "detach-internet-gateway", "--internet-gateway-id", gw, "--vpc-id", "lab")
	refuse("delete-vpc", "--vpc-id", vpc.Vpc.VpcId) // subnet, group
	tp.ec2OK(t, nil, "delete-internet-gateway", "--internet-gateway-id", gw)
	tp.ec2OK(t, nil, "delete-subnet", "--subnet-id", "pub")
	refuse("delete-vpc", "--vpc-id", vpc.Vpc.VpcId) // group
	tp.ec2OK(t, nil, "delete-security-group", "--group-name", "open")
	tp.ec2OK(t, nil, "delete-vpc", "--vpc-id", vpc.Vpc.VpcId)
	for _, op := range []string{"describe-vpcs", "describe-subnets", "describe-internet-gateways", "describe-route-tables", "describe-security-groups", "describe-network-acls"} {
		if out := tp.ec2OK(t, nil, op); strings.Contains(out, "Id\"") {
			t.Fatalf("%s after the tear-down: %s", op, out)
		}
	}
	if left := namespacesWithPrefix(tp.Name + "-web"); len(left) > 0 {
		t.Fatalf("web's namespace is left: %v", left)
	}
}

// refusalsTopo: a VPC at each of its quotas (lowered in settings: one VPC,
// two EIPs, one route beyond local, one NACL rule per direction), with a
// (public, by its EIP) in s1 and b in s2 reaching each other, a group peer
// that open's rule names, and an internet host.
const refusalsTopo = `{
  "name": "NAME", "region": "ap-northeast-2",
  "settings": {"quotas": {"vpcs": 1, "elastic_ips": 2, "routes_per_route_table": 1, "rules_per_network_acl": 1}},
  "address_pools": [{"name": "amazon", "cidrs": ["13.125.0.0/16"]}],
  "elastic_ips": [{"name": "eip-a", "address": "13.125.10.10"}, {"name": "spare", "address": "13.125.10.20"}],
  "internet": {"hosts": [{"name": "remote", "ip": "13.52.201.147", "user_data": "vpcnet serve --http :80"}]},
  "vpcs": [{"name": "v", "cidr": "10.40.0.0/16", "internet_gateway": "igw",
    "subnets": [{"name": "s1", "cidr": "10.40.1.0/24", "az": "ap-northeast-2a", "route_table": "rt-pub"},
                {"name": "s2", "cidr": "10.40.2.0/24", "az": "ap-northeast-2a", "network_acl": "acl-b"}],
    "route_tables": [{"name": "rt-pub", "routes": [{"destination": "0.0.0.0/0", "target": "igw"}]}],
    "network_acls": [{"name": "acl-b", "ingress": [{"rule": 100, "protocol": "all", "cidr": "0.0.0.0/0", "action": "allow"}],
                                       "egress": [{"rule": 100, "protocol": "all", "cidr": "0.0.0.0/0", "action": "allow"}]}],
    "security_groups": [{"name": "open", "ingress": [{"protocol": "icmp", "source": "0.0.0.0/0"},
                                                     {"protocol": "tcp", "ports": "80", "source": "peer"}]},
                        {"name": "peer"}],
    "instances": [{"name": "a", "subnet": "s1", "private_ip": "10.40.1.10", "security_groups": ["open"], "elastic_ip": "eip-a"},
                  {"name": "b", "subnet": "s2", "private_ip": "10.40.2.10", "security_groups": ["open"]}]}]
}`

// TestLIFE_RefusalsChangeNothingTrafficFlows: the refusals of issue 12's
// operations that the other end-to-end tests do not reach, on a running
// network: each answers EC2's code and changes nothing (every describe-*,
// the export, the namespaces); afterwards a and b still reach each other
// and the internet host still reaches a's EIP (the forwarder forwards).
func TestLIFE_RefusalsChangeNothingTrafficFlows(t *testing.T) {
	tp := Up(t, refusalsTopo)
	traffic := func(when string) {
		t.Helper()
		if !tp.PingEventually(t, "a", "10.40.2.10") || !tp.Ping(t, "b", "10.40.1.10") {
			t.Fatalf("%s: a and b do not reach each other: %+v", when, tp.Stats(t).Endpoints)
		}
		if !tp.PingEventually(t, "remote", "13.125.10.10") {
			t.Fatalf("%s: the internet host does not reach a's EIP (IGW-1)", when)
		}
	}
	traffic("before the refusals")
	var igw2 struct {
		InternetGateway struct{ InternetGatewayId string }
	}
	tp.ec2OK(t, &igw2, "create-internet-gateway", "--tag-specifications", tagSpec("internet-gateway", "igw2"))
	first := tp.describeAll(t)
	for _, c := range []struct {
		code string
		args []string
	}{
		// QUOTA-1, at each quota.
		{"VpcLimitExceeded", []string{"create-vpc", "--cidr-block", "10.50.0.0/16"}},
		{"AddressLimitExceeded", []string{"allocate-address", "--domain", "vpc"}},
		{"RouteLimitExceeded", []string{"create-route", "--route-table-id", "rt-pub", "--destination-cidr-block", "192.0.2.0/24", "--gateway-id", "igw"}},
		{"NetworkAclEntryLimitExceeded", []string{"create-network-acl-entry", "--network-acl-id", "acl-b", "--rule-number", "110",
			"--protocol", "-1", "--rule-action", "allow", "--ingress", "--cidr-block", "0.0.0.0/0"}},
		// ADDR-1: a subnet inside the VPC, /16 to /28, in the region, not
		// overlapping; a secondary CIDR not overlapping.
		{"InvalidSubnet.Conflict", []string{"create-subnet", "--vpc-id", "v", "--cidr-block", "10.40.1.128/25"}},
		{"InvalidSubnet.Conflict", []string{"create-subnet", "--vpc-id", "v", "--cidr-block", "10.40.0.0/16"}},
		{"InvalidSubnet.Range", []string{"create-subnet", "--vpc-id", "v", "--cidr-block", "10.41.0.0/24"}},
		{"InvalidSubnet.Range", []string{"create-subnet", "--vpc-id", "v", "--cidr-block", "10.40.3.0/29"}},
		{"InvalidParameterValue", []string{"create-subnet", "--vpc-id", "v", "--cidr-block", "10.40.3.0/24", "--availability-zone", "us-east-1a"}},
		{"InvalidVpc.Range", []string{"associate-vpc-cidr-block", "--vpc-id", "v", "--cidr-block", "10.40.128.0/17"}},
		// IGW-1: one internet gateway per VPC.
		{"Resource.AlreadyAssociated", []string{"attach-internet-gateway", "--internet-gateway-id", igw2.InternetGateway.InternetGatewayId, "--vpc-id", "v"}},
		// SG-7, LIFE-1: names are unique, the default group stays, a
		// referenced group stays; a rule is there once.
		{"InvalidGroup.Duplicate", []string{"create-security-group", "--vpc-id", "v", "--group-name", "open", "--description", "again"}},
		{"CannotDelete", []string{"delete-security-group", "--group-id", tp.groupID(t, "default")}},
		{"DependencyViolation", []string{"delete-security-group", "--group-id", tp.groupID(t, "peer")}},
		{"InvalidPermission.Duplicate", []string{"authorize-security-group-ingress", "--group-id", tp.groupID(t, "open"), "--protocol", "icmp", "--port", "-1", "--cidr", "0.0.0.0/0"}},
		// NAT-1, EIP-2: a NAT gateway cannot take an EIP in use.
		{"Resource.AlreadyAssociated", []string{"create-nat-gateway", "--subnet-id", "s1", "--allocation-id", "eip-a"}},
	} {
		tp.refused(t, c.code, c.args[0], c.args[1:]...)
	}
	diffSnapshots(t, "the refusals together", first, tp.describeAll(t))
	traffic("after the refusals")
	tp.ec2OK(t, nil, "delete-internet-gateway", "--internet-gateway-id", igw2.InternetGateway.InternetGatewayId)
}
