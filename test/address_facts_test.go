package test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Issue 13's address facts, end to end: ip-ranges (ADDR-5), border groups
// through the AWS CLI (EIP-4), DHCP options sets rewriting resolv.conf live
// (DNS-4), reverse DNS of an EIP (DNS-3), ADDR-6's warning once, IGW-3 and
// INST-3 with real traffic and real processes.

// factsTopo: one VPC whose subnet uses the main table (no route to the
// gateway: not public, IGW-3); an EIP with a public DNS record; an
// internet host serving HTTP. USERDATA is web's user_data.
const factsTopo = `{
  "name": "NAME", "region": "ap-northeast-2",
  "address_pools": [{"name": "amazon", "cidrs": ["13.125.0.0/16"]},
                    {"name": "mine", "cidrs": ["198.18.0.0/24"], "kind": "byoip"}],
  "public_dns_records": [{"name": "www.example.com", "address": "13.125.1.10"}],
  "elastic_ips": [{"name": "web-eip", "address": "13.125.1.10"}],
  "internet": {"hosts": [{"name": "inet", "ip": "203.0.113.80", "user_data": "vpcnet serve --http :80"}]},
  "vpcs": [{
    "name": "lab", "cidr": "10.9.0.0/16", "internet_gateway": "igw",
    "subnets": [{"name": "pub", "cidr": "10.9.1.0/24", "az": "ap-northeast-2a", "map_public_ip_on_launch": true}],
    "instances": [{"name": "web", "subnet": "pub", "private_ip": "10.9.1.10", "user_data": "USERDATA"}]
  }]
}`

func upFacts(t *testing.T, userData string) *Topo {
	t.Helper()
	return Up(t, strings.Replace(factsTopo, "USERDATA", userData, 1))
}

// exportOf is the topology's export: what must not change when an
// operation is refused.
func exportOf(t *testing.T, tp *Topo) string {
	t.Helper()
	out, code := vpcnet(t, "export", tp.Name)
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, out)
	}
	return out
}

// TestADDR5_IPRangesAsksWhichWithTwoUp: with two topologies up, a bare
// `vpcnet ip-ranges` refuses and names them; --topology picks one, which
// publishes only its Amazon pool (not the BYOIP one), under AMAZON and EC2,
// ipv6_prefixes empty, and the same syncToken each time.
func TestADDR5_IPRangesAsksWhichWithTwoUp(t *testing.T) {
	a := upFacts(t, "true")
	b := Up(t, `{"name": "NAME", "region": "eu-west-1", "address_pools": [{"name": "amazon", "cidrs": ["52.16.0.0/16"]}]}`)
	out, code := vpcnet(t, "ip-ranges")
	if code == 0 || !strings.Contains(out, "choose one with --topology") || !strings.Contains(out, a.Name) || !strings.Contains(out, b.Name) {
		t.Fatalf("bare ip-ranges with two up: exit %d:\n%s", code, out)
	}
	type ranges struct {
		SyncToken, CreateDate string
		Prefixes              []struct{ IPPrefix, Region, Service, NetworkBorderGroup string }
		IPv6                  []any `json:"ipv6_prefixes"`
	}
	get := func(tp *Topo) (ranges, string) {
		out, code := vpcnet(t, "ip-ranges", "--topology", tp.Name)
		var r ranges
		if code != 0 || json.Unmarshal([]byte(out), &r) != nil {
			t.Fatalf("ip-ranges --topology %s: exit %d:\n%s", tp.Name, code, out)
		}
		return r, out
	}
	r, raw := get(a)
	if len(r.Prefixes) != 2 || r.Prefixes[0].Service != "AMAZON" || r.Prefixes[1].Service != "EC2" || r.IPv6 == nil || len(r.IPv6) != 0 ||
		!strings.Contains(raw, `"ip_prefix": "13.125.0.0/16"`) || strings.Contains(raw, "198.18.") || !strings.Contains(raw, `"region": "ap-northeast-2"`) {
		t.Fatalf("ip-ranges of %s:\n%s", a.Name, raw)
	}
	if again, _ := get(a); again.SyncToken != r.SyncToken || again.CreateDate != r.CreateDate {
		t.Fatalf("syncToken moved: %s then %s", r.SyncToken, again.SyncToken)
	}
	if other, _ := get(b); other.SyncToken == r.SyncToken || other.Prefixes[0].Region != "eu-west-1" {
		t.Fatalf("the other topology's ranges: %+v", other)
	}
}

// TestEIP4_BorderGroupOfAnotherRegionRefusedThroughTheAWSCLI: Debian's AWS
// CLI through the endpoint gets InvalidParameterValue (exit 254) for a
// border group outside the region, and the network is unchanged; a
// specific Amazon-pool address never released is refused too.
func TestEIP4_BorderGroupOfAnotherRegionRefusedThroughTheAWSCLI(t *testing.T) {
	requireAWSCLI(t)
	tp := upFacts(t, "true")
	env := newAWSEnv(t, tp.Name)
	before := exportOf(t, tp)
	for _, c := range []struct{ args, code string }{
		{"--network-border-group ap-northeast-1", "InvalidParameterValue"},
		{"--address 13.125.7.7", "InvalidAddress.NotFound"},
	} {
		_, stderr, code := env.run(t, `exec /usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" ec2 allocate-address `+c.args)
		if code != 254 || !strings.Contains(stderr, "("+c.code+")") {
			t.Errorf("allocate-address %s: exit %d, want 254 and %s:\n%s", c.args, code, c.code, stderr)
		}
	}
	if after := exportOf(t, tp); after != before {
		t.Fatalf("refused, but the network changed:\n%s\nwas\n%s", after, before)
	}
	out, stderr, code := env.run(t, `exec /usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" ec2 allocate-address --address 198.18.0.9 --public-ipv4-pool mine --output json`)
	if code != 0 || !strings.Contains(out, `"PublicIp": "198.18.0.9"`) {
		t.Fatalf("a BYOIP pool's address: exit %d:\n%s%s", code, out, stderr)
	}
}

// TestDNS4_DHCPOptionsRewriteResolvConfLive: web's /etc/resolv.conf (what
// `ip netns exec` shows) follows its VPC's set: the default set at up, a
// set made and associated with the AWS CLI at once, none after "default".
func TestDNS4_DHCPOptionsRewriteResolvConfLive(t *testing.T) {
	requireAWSCLI(t)
	tp := upFacts(t, "true")
	env := newAWSEnv(t, tp.Name)
	resolv := func() string { return tp.MustExec(t, "web", "cat", "/etc/resolv.conf") }
	if rc := resolv(); !strings.Contains(rc, "search ap-northeast-2.compute.internal\n") || !strings.Contains(rc, "nameserver 10.9.0.2\n") {
		t.Fatalf("resolv.conf at up:\n%s", rc)
	}
	aws := func(args string) string {
		t.Helper()
		out, stderr, code := env.run(t, `exec /usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" ec2 `+args+` --output json`)
		if code != 0 {
			t.Fatalf("aws ec2 %s: exit %d:\n%s", args, code, stderr)
		}
		return out
	}
	var made struct {
		DhcpOptions struct{ DhcpOptionsId string }
	}
	json.Unmarshal([]byte(aws(`create-dhcp-options --dhcp-configurations "Key=domain-name,Values=corp.example" "Key=domain-name-servers,Values=10.9.1.53,AmazonProvidedDNS"`)), &made)
	id := made.DhcpOptions.DhcpOptionsId
	var vpcs struct{ Vpcs []struct{ VpcId string } }
	json.Unmarshal([]byte(aws("describe-vpcs")), &vpcs)
	aws("associate-dhcp-options --dhcp-options-id " + id + " --vpc-id " + vpcs.Vpcs[0].VpcId)
	if rc := resolv(); !strings.Contains(rc, "search corp.example\nnameserver 10.9.1.53\nnameserver 10.9.0.2\n") {
		t.Fatalf("resolv.conf after associating %s:\n%s", id, rc)
	}
	if out := aws("describe-vpcs"); !strings.Contains(out, `"DhcpOptionsId": "`+id+`"`) {
		t.Fatalf("describe-vpcs does not show %s:\n%s", id, out)
	}
	before := exportOf(t, tp)
	_, stderr, code := env.run(t, `exec /usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" ec2 delete-dhcp-options --dhcp-options-id `+id)
	if code != 254 || !strings.Contains(stderr, "(DependencyViolation)") || exportOf(t, tp) != before {
		t.Fatalf("delete of a set in use: exit %d:\n%s", code, stderr)
	}
	aws("associate-dhcp-options --dhcp-options-id default --vpc-id " + vpcs.Vpcs[0].VpcId)
	if rc := resolv(); strings.Contains(rc, "search") || !strings.Contains(rc, "nameserver 169.254.169.253\n") {
		t.Fatalf("resolv.conf with no set:\n%s", rc)
	}
}

// TestDNS3_ReverseDNSNeedsItsForwardRecord: modify-address-attribute is
// refused (nothing changed) for a name no record points at the EIP, and
// accepted for www.example.com, which one does; describe shows the PTR.
func TestDNS3_ReverseDNSNeedsItsForwardRecord(t *testing.T) {
	tp := upFacts(t, "true")
	before := exportOf(t, tp)
	tp.ec2Refused(t, "InvalidParameterValue", "modify-address-attribute", "--allocation-id", "web-eip", "--domain-name", "mail.example.com")
	if exportOf(t, tp) != before {
		t.Fatal("refused, but the network changed")
	}
	out := tp.ec2OK(t, nil, "modify-address-attribute", "--allocation-id", "web-eip", "--domain-name", "www.example.com")
	if !strings.Contains(out, `"Value": "www.example.com."`) || !strings.Contains(out, `"Status": "PENDING"`) {
		t.Fatalf("modify answered:\n%s", out)
	}
	out = tp.ec2OK(t, nil, "describe-addresses-attribute", "--allocation-ids", "web-eip", "--attribute", "domain-name")
	if !strings.Contains(out, `"PtrRecord": "www.example.com."`) {
		t.Fatalf("describe-addresses-attribute:\n%s", out)
	}
	if exp := exportOf(t, tp); !strings.Contains(exp, `"domain_name": "www.example.com"`) {
		t.Fatalf("export lacks the reverse name:\n%s", exp)
	}
}

// TestADDR6_UpWarnsOnce: a VPC over an internet host's address: up prints
// the ADDR-6 warning once, not once per source.
func TestADDR6_UpWarnsOnce(t *testing.T) {
	tp := Up(t, `{"name": "NAME", "region": "ap-northeast-2",
  "internet": {"hosts": [{"name": "console", "ip": "54.239.30.25"}]},
  "vpcs": [{"name": "shadow", "cidr": "54.239.0.0/16",
    "subnets": [{"name": "s", "cidr": "54.239.1.0/24", "az": "ap-northeast-2a"}]}]}`)
	if n := strings.Count(tp.UpOutput, "(ADDR-6)"); n != 1 {
		t.Fatalf("up printed the ADDR-6 warning %d times:\n%s", n, tp.UpOutput)
	}
}

// TestIGW3_OnlyTheRouteMakesTheSubnetPublic: web has a public IP (the
// subnet maps one) and the VPC an attached gateway, but its subnet's table
// has no route to it: the internet is unreachable. The route alone makes
// it reachable.
func TestIGW3_OnlyTheRouteMakesTheSubnetPublic(t *testing.T) {
	tp := upFacts(t, "true")
	if _, err := tp.Curl(t, "web", "http://203.0.113.80/"); err == nil {
		t.Fatal("web reached the internet with no route to the gateway (IGW-3)")
	}
	tp.ec2OK(t, nil, "create-route", "--route-table-id", "main", "--destination-cidr-block", "0.0.0.0/0", "--gateway-id", "igw")
	if _, err := tp.Curl(t, "web", "http://203.0.113.80/"); err != nil {
		t.Fatalf("with the route to the gateway: %v", err)
	}
}

// TestINST3_UserDataRunsOnceInTheBackground: up returns while web's
// user_data still runs, its output is kept in its log, and stop then start
// does not run it again.
func TestINST3_UserDataRunsOnceInTheBackground(t *testing.T) {
	count := filepath.Join(t.TempDir(), "runs")
	start := time.Now()
	tp := upFacts(t, fmt.Sprintf("echo run >> %s; echo started; sleep 15; echo finished", count))
	if took := time.Since(start); took > 14*time.Second {
		t.Fatalf("up took %v: it waited for user_data", took)
	}
	log := filepath.Join("/run/vpcnet", tp.Name, "user-data", "web.log")
	var b []byte
	for i := 0; i < 50; i++ {
		if b, _ = os.ReadFile(log); strings.Contains(string(b), "started") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(string(b), "started") || strings.Contains(string(b), "finished") {
		t.Fatalf("user_data's log %s: %q (want started, not yet finished)", log, b)
	}
	tp.ec2OK(t, nil, "stop-instances", "--instance-ids", "web")
	tp.ec2OK(t, nil, "start-instances", "--instance-ids", "web")
	time.Sleep(time.Second)
	if runs, _ := os.ReadFile(count); string(runs) != "run\n" {
		t.Fatalf("user_data ran %q: want once", runs)
	}
}
