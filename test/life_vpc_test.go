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

	// Tear down in dependency order; each refusal changes nothing.
	snapshot := func() string {
		out, code := vpcnet(t, "export", tp.Name)
		if code != 0 {
			t.Fatalf("export: %s", out)
		}
		return out
	}
	refuse := func(op string, args ...string) {
		t.Helper()
		was := snapshot()
		tp.ec2Refused(t, "DependencyViolation", op, args...)
		if snapshot() != was {
			t.Fatalf("%s was refused but changed the network", op)
		}
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
