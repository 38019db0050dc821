package test

import (
	"strings"
	"testing"
)

// End-to-end tests of the instance metadata service (IMDS-1, SG-8): curl
// from inside instances to 169.254.169.254, served by the daemon in each
// VPC's service namespace.

const imdsTopo = `{
  "name": "NAME", "region": "ap-northeast-2",
  "address_pools": [{"name": "amazon", "cidrs": ["13.125.0.0/16"], "network_border_group": "ap-northeast-2"}],
  "elastic_ips": [{"name": "eip-spare", "address": "13.125.7.7"}],
  "internet": {"hosts": [{"name": "console", "ip": "54.239.30.25", "user_data": "vpcnet serve --http :80"}]},
  "vpcs": [{
    "name": "v", "cidr": "10.9.0.0/16", "internet_gateway": "igw", "enable_dns_hostnames": true,
    "subnets": [{"name": "pub", "cidr": "10.9.1.0/24", "az": "ap-northeast-2a", "route_table": "rt",
                 "map_public_ip_on_launch": true}],
    "route_tables": [{"name": "rt", "routes": [{"destination": "0.0.0.0/0", "target": "igw"}]}],
    "security_groups": [{"name": "app-sg"}, {"name": "v2only-sg"}],
    "instances": [
      {"name": "app", "subnet": "pub", "private_ip": "10.9.1.10", "security_groups": ["app-sg"],
       "user_data": "vpcnet serve --http :8080"},
      {"name": "v2only", "subnet": "pub", "private_ip": "10.9.1.20", "security_groups": ["v2only-sg"],
       "metadata_http_tokens": "required"}
    ]
  }, {
    "name": "v-twin", "cidr": "10.9.0.0/16",
    "subnets": [{"name": "tpub", "cidr": "10.9.1.0/24", "az": "ap-northeast-2b"}],
    "instances": [{"name": "twin", "subnet": "tpub", "private_ip": "10.9.1.10"}]
  }]
}`

const imdsURL = "http://169.254.169.254"

// imdsToken takes an IMDSv2 token from inside instance name.
func (tp *Topo) imdsToken(t *testing.T, name string) string {
	t.Helper()
	var out string
	var err error
	for i := 0; i < 30; i++ { // the service namespace's ARP, the first connection
		out, err = tp.Exec(t, name, "curl", "-sS", "-f", "--max-time", "2", "-X", "PUT",
			"-H", "X-aws-ec2-metadata-token-ttl-seconds: 60", imdsURL+"/latest/api/token")
		if err == nil {
			break
		}
	}
	if err != nil || len(out) < 20 {
		t.Fatalf("token from %s: %v: %q", name, err, out)
	}
	return out
}

// imdsGet fetches path from inside name with token tok ("" for none) and
// returns the HTTP status and body.
func (tp *Topo) imdsGet(t *testing.T, name, tok, path string) (string, string) {
	t.Helper()
	args := []string{"curl", "-sS", "--max-time", "3", "-w", "\n%{http_code}"}
	if tok != "" {
		args = append(args, "-H", "X-aws-ec2-metadata-token: "+tok)
	}
	out, err := tp.Exec(t, name, append(args, imdsURL+path)...)
	if err != nil {
		t.Fatalf("curl %s from %s: %v: %s", path, name, err, out)
	}
	i := strings.LastIndexByte(out, '\n')
	return out[i+1:], out[:i]
}

// imdsScript is a script that learns its instance's public IP from the
// metadata service alone (IMDSv2), as a user would write it.
const imdsScript = `set -e
T=$(curl -sf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' http://169.254.169.254/latest/api/token)
md() { curl -sf -H "X-aws-ec2-metadata-token: $T" http://169.254.169.254/latest/meta-data/$1; }
MAC=$(md mac)
echo "$(md network/interfaces/macs/$MAC/public-ipv4s) $(md public-ipv4) $(md instance-id)"`

// TestIMDS1_InstanceReadsItsMetadata: from inside an instance, an IMDSv2
// token, then local-ipv4 answers its IP; a script using only the metadata
// service gets its own public IP, the one the internet sees it come from;
// after associate-address the answer is the EIP; a bad token is 401.
func TestIMDS1_InstanceReadsItsMetadata(t *testing.T) {
	RequireRoot(t)
	tp := Up(t, imdsTopo)
	tok := tp.imdsToken(t, "app")
	if code, body := tp.imdsGet(t, "app", tok, "/latest/meta-data/local-ipv4"); code != "200" || body != "10.9.1.10" {
		t.Fatalf("local-ipv4: %s %q", code, body)
	}
	app := tp.instance(t, "app")
	if code, body := tp.imdsGet(t, "app", tok, "/latest/meta-data/instance-id"); code != "200" || body != app.InstanceId {
		t.Fatalf("instance-id: %s %q, want %s", code, body, app.InstanceId)
	}
	if code, body := tp.imdsGet(t, "app", tok, "/latest/user-data"); code != "200" || body != "vpcnet serve --http :8080" {
		t.Fatalf("user-data: %s %q", code, body)
	}
	// The script's public IP is describe's, and the one the internet sees.
	out := tp.MustExec(t, "app", "sh", "-c", imdsScript)
	f := strings.Fields(out)
	if len(f) != 3 || app.PublicIpAddress == "" || f[0] != app.PublicIpAddress || f[1] != f[0] || f[2] != app.InstanceId {
		t.Fatalf("script: %q, describe: %s", out, app.PublicIpAddress)
	}
	if w, err := tp.Curl(t, "app", "http://54.239.30.25/"); err != nil || !strings.HasPrefix(w.Client, f[0]+":") {
		t.Fatalf("the internet sees app as %+v (%v), IMDS says %s", w, err, f[0])
	}
	// IMDS-1: answers follow the addresses: associate-address.
	var alloc struct{ AllocationId string }
	tp.ec2OK(t, &alloc, "describe-addresses", "--public-ips", "13.125.7.7", "--query", "Addresses[0]")
	tp.ec2OK(t, nil, "associate-address", "--allocation-id", alloc.AllocationId, "--instance-id", app.InstanceId)
	if code, body := tp.imdsGet(t, "app", tok, "/latest/meta-data/public-ipv4"); code != "200" || body != "13.125.7.7" {
		t.Fatalf("public-ipv4 after associate-address: %s %q", code, body)
	}
	if out := tp.MustExec(t, "app", "sh", "-c", imdsScript); !strings.HasPrefix(out, "13.125.7.7 13.125.7.7 ") {
		t.Fatalf("script after associate-address: %q", out)
	}
	if code, body := tp.imdsGet(t, "app", tok, "/latest/meta-data/public-hostname"); code != "200" ||
		body != "ec2-13-125-7-7.ap-northeast-2.compute.amazonaws.com" {
		t.Fatalf("public-hostname: %s %q", code, body)
	}
	// Bad tokens: 401, with IMDSv1 allowed too.
	for _, bad := range []string{"forged", strings.Repeat("A", len(tok)), tok[:len(tok)-1] + "x"} {
		if bad == tok {
			continue
		}
		if code, _ := tp.imdsGet(t, "app", bad, "/latest/meta-data/local-ipv4"); code != "401" {
			t.Errorf("token %q: %s, want 401", bad, code)
		}
	}
	// app's token is no token of v2only's; v2only requires one (HttpTokens required).
	if code, _ := tp.imdsGet(t, "v2only", tok, "/latest/meta-data/local-ipv4"); code != "401" {
		t.Errorf("app's token at v2only: %s", code)
	}
	if code, _ := tp.imdsGet(t, "v2only", "", "/latest/meta-data/local-ipv4"); code != "401" {
		t.Errorf("IMDSv1 at v2only (required): %s", code)
	}
	if code, body := tp.imdsGet(t, "v2only", tp.imdsToken(t, "v2only"), "/latest/meta-data/local-ipv4"); code != "200" || body != "10.9.1.20" {
		t.Errorf("v2only with its token: %s %q", code, body)
	}
	// IMDSv1 at app (optional, the default): no token, an answer.
	if code, body := tp.imdsGet(t, "app", "", "/latest/meta-data/local-ipv4"); code != "200" || body != "10.9.1.10" {
		t.Errorf("IMDSv1 at app: %s %q", code, body)
	}
	// Unknown path and wrong method: AWS's statuses.
	if code, _ := tp.imdsGet(t, "app", tok, "/latest/meta-data/nope"); code != "404" {
		t.Errorf("unknown path: %s", code)
	}
	if out, _ := tp.Exec(t, "app", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", imdsURL+"/latest/meta-data/"); out != "405" {
		t.Errorf("POST: %s", out)
	}
	if out, _ := tp.Exec(t, "app", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT",
		"-H", "X-aws-ec2-metadata-token-ttl-seconds: 0", imdsURL+"/latest/api/token"); out != "400" {
		t.Errorf("TTL 0: %s", out)
	}
	// Huge headers: 431, and the service answers on.
	if out, _ := tp.Exec(t, "app", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "X-Big: "+strings.Repeat("x", 64<<10),
		imdsURL+"/latest/meta-data/"); out != "431" {
		t.Errorf("a 64 KB header: %s", out)
	}
	if code, _ := tp.imdsGet(t, "app", tok, "/latest/meta-data/local-ipv4"); code != "200" {
		t.Errorf("after a huge header: %s", code)
	}
	// ADDR-6: a VPC with the same CIDR has its own service: 10.9.1.10 there is twin.
	twin := tp.instance(t, "twin")
	if code, body := tp.imdsGet(t, "twin", tp.imdsToken(t, "twin"), "/latest/meta-data/instance-id"); code != "200" || body != twin.InstanceId {
		t.Errorf("twin's instance-id: %s %q, want %s", code, body, twin.InstanceId)
	}
}

// TestIMDS1_SG8_MetadataWithEgressRevoked: with every outbound rule of its
// group revoked the instance reaches the internet no more, and still reads
// its metadata (SG-8: groups do not filter the link-local services).
func TestIMDS1_SG8_MetadataWithEgressRevoked(t *testing.T) {
	RequireRoot(t)
	tp := Up(t, imdsTopo)
	if _, err := tp.Curl(t, "app", "http://54.239.30.25/"); err != nil {
		t.Fatalf("before the revoke: %v", err)
	}
	sg := tp.groupID(t, "app-sg")
	tp.ec2OK(t, nil, "revoke-security-group-egress", "--group-id", sg, "--ip-permissions",
		`[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]`)
	if out, err := tp.Exec(t, "app", "curl", "-sS", "--max-time", "2", "http://54.239.30.25/"); err == nil {
		t.Fatalf("the internet after the egress revoke: %s", out)
	}
	tok := tp.imdsToken(t, "app")
	if code, body := tp.imdsGet(t, "app", tok, "/latest/meta-data/local-ipv4"); code != "200" || body != "10.9.1.10" {
		t.Fatalf("local-ipv4 with egress revoked: %s %q", code, body)
	}
}
