package test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The EC2 endpoint driven by real AWS clients (issue 11 items 1 and 6):
// Debian's AWS CLI v2 (/usr/bin/aws) and Debian's boto3, with the
// credentials and endpoint that `vpcnet env` exports.

// awsTopo is in a region other than vpcnet's default, so that a client
// that signs for the wrong region is caught.
const awsTopo = `{
  "name": "NAME", "region": "eu-west-3",
  "vpcs": [{
    "name": "v", "cidr": "10.7.0.0/16",
    "subnets": [{"name": "a", "cidr": "10.7.1.0/24", "az": "eu-west-3a"}],
    "instances": [{"name": "a1", "subnet": "a", "private_ip": "10.7.1.10"}]
  }]
}`

// debianAWS is Debian's AWS CLI. A pip-installed `aws` elsewhere on PATH
// (pyenv shims) is not what the tests mean.
const debianAWS = "/usr/bin/aws"

var installAWSOnce sync.Once

// requireAWSCLI skips the test unless Debian's AWS CLI is installed, or can
// be (apt-get install awscli, as scripts/deps.sh does).
func requireAWSCLI(t *testing.T) {
	t.Helper()
	installAWSOnce.Do(func() {
		if _, err := os.Stat(debianAWS); err == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "apt-get", "install", "-y", "-qq", "--no-install-recommends", "awscli")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("apt-get install awscli: %v\n%s", err, out)
		}
	})
	if _, err := os.Stat(debianAWS); err != nil {
		t.Skipf("Debian's AWS CLI (%s, package awscli) is not installed and could not be: run scripts/deps.sh as root", debianAWS)
	}
}

// awsEnv is the environment of an AWS client run: nothing of the caller's
// AWS settings (a clean HOME, no AWS_* variables) but what `vpcnet env`
// printed, which the command evaluates first.
type awsEnv struct {
	exports string // vpcnet env's output
	home    string
}

func newAWSEnv(t *testing.T, name string) *awsEnv {
	t.Helper()
	out, code := vpcnet(t, "env", name)
	if code != 0 {
		t.Fatalf("vpcnet env %s: exit %d: %s", name, code, out)
	}
	return &awsEnv{exports: out, home: t.TempDir()}
}

// run evaluates the exports, as `eval "$(sudo vpcnet env NAME)"` does, then
// runs script with sh; extra are NAME=value settings made after the eval.
// It returns stdout, stderr and the exit code.
func (e *awsEnv) run(t *testing.T, script string, extra ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var after strings.Builder
	for _, kv := range extra {
		k, v, _ := strings.Cut(kv, "=")
		after.WriteString("export " + k + "='" + v + "'; ")
	}
	cmd := exec.CommandContext(ctx, "sh", "-c", `eval "$VPCNET_ENV"; `+after.String()+script)
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + e.home, "LANG=C.UTF-8", "AWS_PAGER=",
		"VPCNET_ENV=" + e.exports, "AWS_PROFILE=someone-else", "AWS_SESSION_TOKEN=stale"}
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", script, err)
	}
	return stdout.String(), stderr.String(), code
}

// TestAWSCLI_DescribeVpcsThroughTheEndpoint: `up` prints the endpoint;
// after eval "$(vpcnet env NAME)", Debian's AWS CLI lists the topology's
// VPC through it, and STS names the topology's account; a wrong secret
// exits 254 with SignatureDoesNotMatch; the credentials files are root's
// alone; after `down` nothing listens.
func TestAWSCLI_DescribeVpcsThroughTheEndpoint(t *testing.T) {
	RequireRoot(t)
	requireAWSCLI(t)
	tp := Up(t, awsTopo)

	var st []struct {
		EC2Endpoint string `json:"ec2_endpoint"`
	}
	out, code := vpcnet(t, "status", "--json", "--topology", tp.Name)
	if err := json.Unmarshal([]byte(out), &st); code != 0 || err != nil || len(st) != 1 || st[0].EC2Endpoint == "" {
		t.Fatalf("status: exit %d %v: %s", code, err, out)
	}
	endpoint := st[0].EC2Endpoint
	if !strings.Contains(tp.UpOutput, "EC2 endpoint "+endpoint) {
		t.Errorf("up does not print the endpoint %s:\n%s", endpoint, tp.UpOutput)
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "http" || u.Hostname() != "127.0.0.1" {
		t.Fatalf("endpoint %q: want http://127.0.0.1:PORT", endpoint)
	}
	for _, f := range []string{"credentials", "config"} {
		fi, err := os.Stat(filepath.Join("/run/vpcnet", tp.Name, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, want mode 0600", f, err)
		}
	}

	env := newAWSEnv(t, tp.Name)
	if !strings.Contains(env.exports, "export AWS_ENDPOINT_URL='"+endpoint+"'") || !strings.Contains(env.exports, "export AWS_DEFAULT_REGION='eu-west-3'") {
		t.Errorf("vpcnet env:\n%s", env.exports)
	}

	// What vpcnet's own CLI says, over the unix socket.
	var own struct {
		Vpcs []struct{ VpcId, CidrBlock, OwnerId string }
	}
	out, code = vpcnet(t, "describe-vpcs", "--topology", tp.Name)
	if err := json.Unmarshal([]byte(out), &own); code != 0 || err != nil || len(own.Vpcs) != 1 {
		t.Fatalf("vpcnet describe-vpcs: exit %d %v: %s", code, err, out)
	}

	stdout, stderr, code := env.run(t, `exec /usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" ec2 describe-vpcs --output json`)
	var got struct {
		Vpcs []struct{ VpcId, CidrBlock, OwnerId, State string }
	}
	if err := json.Unmarshal([]byte(stdout), &got); code != 0 || err != nil {
		t.Fatalf("aws ec2 describe-vpcs: exit %d %v\n%s\n%s", code, err, stdout, stderr)
	}
	if len(got.Vpcs) != 1 || got.Vpcs[0].VpcId != own.Vpcs[0].VpcId || got.Vpcs[0].CidrBlock != "10.7.0.0/16" ||
		got.Vpcs[0].OwnerId != own.Vpcs[0].OwnerId || got.Vpcs[0].State != "available" {
		t.Errorf("aws ec2 describe-vpcs: %+v, want %+v", got.Vpcs, own.Vpcs)
	}

	stdout, stderr, code = env.run(t, `exec /usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" sts get-caller-identity --output json`)
	var who struct{ UserId, Account, Arn string }
	if err := json.Unmarshal([]byte(stdout), &who); code != 0 || err != nil {
		t.Fatalf("aws sts get-caller-identity: exit %d %v\n%s\n%s", code, err, stdout, stderr)
	}
	if acct := own.Vpcs[0].OwnerId; who.Account != acct || who.Arn != "arn:aws:iam::"+acct+":root" || who.UserId != acct {
		t.Errorf("get-caller-identity %+v, want account %s", who, acct)
	}

	// A wrong secret: the service refuses (the AWS CLI's exit 254).
	stdout, stderr, code = env.run(t, `exec /usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" ec2 describe-vpcs`,
		"AWS_SECRET_ACCESS_KEY=0123456789012345678901234567890123456789")
	if code != 254 || !strings.Contains(stderr, "SignatureDoesNotMatch") {
		t.Errorf("wrong secret: exit %d, want 254 with SignatureDoesNotMatch\n%s%s", code, stdout, stderr)
	}
	// Signed for another region: refused as AWS refuses it.
	_, stderr, code = env.run(t, `exec /usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" --region us-west-2 ec2 describe-vpcs`)
	if code != 254 || !strings.Contains(stderr, "scoped to a valid region") {
		t.Errorf("other region: exit %d, want 254, scoped to a valid region\n%s", code, stderr)
	}

	if out, code := vpcnet(t, "down", tp.Name); code != 0 {
		t.Fatalf("down: %d %s", code, out)
	}
	if c, err := net.DialTimeout("tcp", u.Host, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still answers after down", u.Host)
	}
}

// boto3Script lists the VPC ids through the endpoint with boto3, and the
// account through STS.
const boto3Script = `
import os, boto3
ec2 = boto3.client("ec2", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
sts = boto3.client("sts", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
vpcs = ec2.describe_vpcs()["Vpcs"]
print(" ".join(v["VpcId"] + "=" + v["CidrBlock"] for v in vpcs))
print(sts.get_caller_identity()["Account"])
`

// TestBoto3_DescribeVpcsThroughTheEndpoint: Debian's boto3, with the
// exports of `vpcnet env`, lists the topology's VPC and its account.
func TestBoto3_DescribeVpcsThroughTheEndpoint(t *testing.T) {
	RequireRoot(t)
	if err := exec.Command("/usr/bin/python3", "-c", "import boto3").Run(); err != nil {
		t.Skip("Debian's boto3 (python3-boto3) is not installed: run scripts/deps.sh as root")
	}
	tp := Up(t, awsTopo)
	var own struct {
		Vpcs []struct{ VpcId, OwnerId string }
	}
	out, code := vpcnet(t, "describe-vpcs", "--topology", tp.Name)
	if err := json.Unmarshal([]byte(out), &own); code != 0 || err != nil || len(own.Vpcs) != 1 {
		t.Fatalf("vpcnet describe-vpcs: exit %d %v: %s", code, err, out)
	}
	env := newAWSEnv(t, tp.Name)
	script := filepath.Join(t.TempDir(), "vpcs.py")
	if err := os.WriteFile(script, []byte(boto3Script), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := env.run(t, `exec /usr/bin/python3 `+script)
	want := own.Vpcs[0].VpcId + "=10.7.0.0/16\n" + own.Vpcs[0].OwnerId + "\n"
	if code != 0 || stdout != want {
		t.Errorf("boto3: exit %d\n%s\nwant:\n%s\nstderr:\n%s", code, stdout, want, stderr)
	}
}

// TestEC2Endpoint_SettingNamesTheAddress: settings.ec2_endpoint is where
// the endpoint listens; a taken address fails `up` with the setting named
// and leaves nothing behind.
func TestEC2Endpoint_SettingNamesTheAddress(t *testing.T) {
	RequireRoot(t)
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	withEndpoint := func(addr string) string {
		return strings.Replace(awsTopo, `"region": "eu-west-3",`, `"region": "eu-west-3", "settings": {"ec2_endpoint": "`+addr+`"},`, 1)
	}
	UpMustFail(t, randName(), withEndpoint(held.Addr().String()), "settings.ec2_endpoint "+held.Addr().String())

	// A free port, named: that is where it listens.
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := free.Addr().String()
	free.Close()
	tp := Up(t, withEndpoint(addr))
	if !strings.Contains(tp.UpOutput, "EC2 endpoint http://"+addr) {
		t.Errorf("up does not print http://%s:\n%s", addr, tp.UpOutput)
	}
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatalf("nothing listens on %s: %v", addr, err)
	}
	c.Close()
}

// --- Traffic follows the API (issue 11 item 6) ----------------------------------

// apiTopo: web in a public subnet without public IPs, db in a private
// subnet, both serving HTTP on 80; group db admits nothing, so web cannot
// reach db until a client authorizes it; web reaches the internet host only
// once a client gives it an Elastic IP from the pool.
const apiTopo = `{
  "name": "NAME", "region": "us-east-1",
  "address_pools": [{"name": "amz", "cidrs": ["3.34.0.0/16"]}],
  "internet": {"hosts": [{"name": "inet", "ip": "203.0.113.80", "user_data": "vpcnet serve --http :80"}]},
  "vpcs": [{
    "name": "v", "cidr": "10.5.0.0/16", "internet_gateway": "igw",
    "subnets": [
      {"name": "pub", "cidr": "10.5.1.0/24", "az": "us-east-1a", "route_table": "rt-pub"},
      {"name": "priv", "cidr": "10.5.3.0/24", "az": "us-east-1a"}
    ],
    "route_tables": [{"name": "rt-pub", "routes": [{"destination": "0.0.0.0/0", "target": "igw"}]}],
    "security_groups": [
      {"name": "web-sg", "ingress": [{"protocol": "tcp", "ports": "80", "source": "0.0.0.0/0"}]},
      {"name": "db-sg"}
    ],
    "instances": [
      {"name": "web", "subnet": "pub", "private_ip": "10.5.1.10", "security_groups": ["web-sg"], "user_data": "vpcnet serve --http :80"},
      {"name": "db", "subnet": "priv", "private_ip": "10.5.3.10", "security_groups": ["db-sg"], "user_data": "vpcnet serve --http :80"}
    ]
  }]
}`

const dbURL = "http://10.5.3.10/"

// apiClient is a real AWS client (the Go SDK, the AWS CLI, boto3) making
// the calls whose effect checkTrafficFollows watches. Each method fails the
// test unless the call succeeds with EC2's answer.
type apiClient interface {
	// authorize lets TCP port in to group from the members of peer (SG-3).
	authorize(t *testing.T, group, peer string, port int)
	// revoke removes that rule again.
	revoke(t *testing.T, group, peer string, port int)
	// allocateAndAssociate allocates an Elastic IP (domain vpc) and
	// associates it with instance: the address.
	allocateAndAssociate(t *testing.T, instance string) string
}

// groupID is the id of the security group named name.
func (tp *Topo) groupID(t *testing.T, name string) string {
	t.Helper()
	var r struct {
		SecurityGroups []struct{ GroupId, GroupName string }
	}
	tp.ec2OK(t, &r, "describe-security-groups", "--group-names", name)
	if len(r.SecurityGroups) != 1 || r.SecurityGroups[0].GroupName != name {
		t.Fatalf("describe-security-groups --group-names %s: %+v", name, r)
	}
	return r.SecurityGroups[0].GroupId
}

// curlFails reports whether a new connection from name to url fails within
// a second (a dropped SYN: curl's timeout).
func (tp *Topo) curlFails(t *testing.T, name, url string) bool {
	t.Helper()
	_, err := tp.Exec(t, name, "curl", "-sS", "--max-time", "1", url)
	return err != nil
}

// checkTrafficFollows drives apiTopo through c and checks with curl that
// the network does what the calls said:
//   - SG-1, SG-3: db's group admits nothing; once c authorizes TCP 80 from
//     web's group, web's curl reaches db's server and db sees web's address;
//   - SG-5: once c revokes it, a new connection fails, counted as a
//     security-group ingress drop at db;
//   - EIP-1, EIP-2, IGW-1, IGW-2: eipHolder (an instance of the public
//     subnet without a public IP) cannot reach the internet host; once c
//     allocates an address and associates it with eipHolder, the host sees
//     that address as the client.
func checkTrafficFollows(t *testing.T, tp *Topo, c apiClient, eipHolder string) {
	t.Helper()
	web, db := tp.groupID(t, "web-sg"), tp.groupID(t, "db-sg")
	// db's server is up (asked from db itself, which no group filters).
	if w, err := tp.Curl(t, "db", dbURL); err != nil || w.Name != "db" {
		t.Fatalf("db's own server: %+v %v", w, err)
	}
	if !tp.curlFails(t, "web", dbURL) {
		t.Fatal("web reached db before any rule admitted it (SG-1)")
	}

	c.authorize(t, db, web, 80)
	w, err := tp.Curl(t, "web", dbURL)
	if err != nil || w.Name != "db" || w.Local != "10.5.3.10:80" || clientIP(w) != "10.5.1.10" {
		t.Fatalf("web → db after authorize: %+v %v", w, err)
	}

	drops := tp.Drops(t, "db", "security-group ingress")
	c.revoke(t, db, web, 80)
	if !tp.curlFails(t, "web", dbURL) {
		t.Fatal("web opened a new connection to db after revoke (SG-5 keeps only tracked flows)")
	}
	if n := tp.Drops(t, "db", "security-group ingress"); n <= drops {
		t.Errorf("security-group ingress drops at db: %d → %d, want more after the revoke", drops, n)
	}

	if !tp.curlFails(t, eipHolder, inetURL) {
		t.Fatalf("%s reached the internet without a public address (IGW-2)", eipHolder)
	}
	id := tp.instance(t, eipHolder).InstanceId
	pub := c.allocateAndAssociate(t, id)
	if !strings.HasPrefix(pub, "3.34.") {
		t.Fatalf("allocated %q, want an address of the pool 3.34.0.0/16", pub)
	}
	if a := tp.address(t, pub); a == nil || a.InstanceId != id || a.PrivateIpAddress != tp.instance(t, eipHolder).PrivateIpAddress {
		t.Fatalf("describe-addresses after associate: %+v, want %s on %s", a, pub, id)
	}
	if w, err := tp.Curl(t, eipHolder, inetURL); err != nil || clientIP(w) != pub || w.Name != "inet" {
		t.Fatalf("%s → internet after associate: %+v %v, want client %s", eipHolder, w, err, pub)
	}
}

// cliClient is apiClient over Debian's AWS CLI.
type cliClient struct{ env *awsEnv }

// aws runs `aws --endpoint-url … ec2 ARGS --output json` and decodes its
// answer into v.
func (c cliClient) aws(t *testing.T, v any, args ...string) {
	t.Helper()
	script := `exec /usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" ec2 ` + strings.Join(args, " ") + ` --output json`
	stdout, stderr, code := c.env.run(t, script)
	if err := json.Unmarshal([]byte(stdout), v); code != 0 || err != nil {
		t.Fatalf("aws ec2 %s: exit %d %v\n%s\n%s", strings.Join(args, " "), code, err, stdout, stderr)
	}
}

// ruleAnswer is what authorize and revoke answer.
type ruleAnswer struct {
	Return             bool
	SecurityGroupRules []struct {
		GroupId, IpProtocol, SecurityGroupRuleId string
		FromPort, ToPort                         int
		IsEgress                                 bool
		ReferencedGroupInfo                      *struct{ GroupId string }
	}
}

// checkAuthorized: EC2's answer to an authorize of TCP port from peer.
func checkAuthorized(t *testing.T, r ruleAnswer, group, peer string, port int) {
	t.Helper()
	if !r.Return || len(r.SecurityGroupRules) != 1 {
		t.Fatalf("authorize answered %+v", r)
	}
	s := r.SecurityGroupRules[0]
	if s.GroupId != group || s.IpProtocol != "tcp" || s.FromPort != port || s.ToPort != port || s.IsEgress ||
		!strings.HasPrefix(s.SecurityGroupRuleId, "sgr-") || s.ReferencedGroupInfo == nil || s.ReferencedGroupInfo.GroupId != peer {
		t.Fatalf("authorize answered the rule %+v, want tcp %d from %s in %s", s, port, peer, group)
	}
}

func (c cliClient) authorize(t *testing.T, group, peer string, port int) {
	t.Helper()
	var r ruleAnswer
	c.aws(t, &r, "authorize-security-group-ingress", "--group-id", group, "--protocol", "tcp", "--port", strconv.Itoa(port), "--source-group", peer)
	checkAuthorized(t, r, group, peer, port)
}

func (c cliClient) revoke(t *testing.T, group, peer string, port int) {
	t.Helper()
	var r ruleAnswer
	c.aws(t, &r, "revoke-security-group-ingress", "--group-id", group, "--protocol", "tcp", "--port", strconv.Itoa(port), "--source-group", peer)
	if !r.Return {
		t.Fatalf("revoke answered %+v", r)
	}
}

func (c cliClient) allocateAndAssociate(t *testing.T, instance string) string {
	t.Helper()
	var a struct{ PublicIp, AllocationId, Domain string }
	c.aws(t, &a, "allocate-address", "--domain", "vpc")
	if a.Domain != "vpc" || !strings.HasPrefix(a.AllocationId, "eipalloc-") {
		t.Fatalf("allocate-address answered %+v", a)
	}
	var as struct{ AssociationId string }
	c.aws(t, &as, "associate-address", "--allocation-id", a.AllocationId, "--instance-id", instance)
	if !strings.HasPrefix(as.AssociationId, "eipassoc-") {
		t.Fatalf("associate-address answered %+v", as)
	}
	return a.PublicIp
}

// TestAWSCLI_SG3_SG5_EIP2_TrafficFollowsTheAPI: Debian's AWS CLI authorizes
// web into db's group, revokes it, and gives web an Elastic IP; curl sees
// each change (checkTrafficFollows).
func TestAWSCLI_SG3_SG5_EIP2_TrafficFollowsTheAPI(t *testing.T) {
	RequireRoot(t)
	requireAWSCLI(t)
	tp := Up(t, apiTopo)
	checkTrafficFollows(t, tp, cliClient{newAWSEnv(t, tp.Name)}, "web")
}

// boto3Traffic is apiClient's calls in boto3: `python3 traffic.py OP ARGS`
// prints EC2's answer as JSON (dates as strings).
const boto3Traffic = `
import json, os, sys, boto3
ec2 = boto3.client("ec2", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
op, args = sys.argv[1], sys.argv[2:]
if op in ("authorize", "revoke"):
    group, peer, port = args[0], args[1], int(args[2])
    perms = [{"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "UserIdGroupPairs": [{"GroupId": peer}]}]
    call = ec2.authorize_security_group_ingress if op == "authorize" else ec2.revoke_security_group_ingress
    out = call(GroupId=group, IpPermissions=perms)
elif op == "allocate-and-associate":
    a = ec2.allocate_address(Domain="vpc")
    s = ec2.associate_address(AllocationId=a["AllocationId"], InstanceId=args[0])
    out = {"PublicIp": a["PublicIp"], "AllocationId": a["AllocationId"], "Domain": a["Domain"], "AssociationId": s["AssociationId"]}
out.pop("ResponseMetadata", None)
print(json.dumps(out, default=str))
`

// botoClient is apiClient over Debian's boto3.
type botoClient struct {
	env    *awsEnv
	script string
}

func newBotoClient(t *testing.T, name string) botoClient {
	t.Helper()
	script := filepath.Join(t.TempDir(), "traffic.py")
	if err := os.WriteFile(script, []byte(boto3Traffic), 0o644); err != nil {
		t.Fatal(err)
	}
	return botoClient{newAWSEnv(t, name), script}
}

func (c botoClient) call(t *testing.T, v any, args ...string) {
	t.Helper()
	stdout, stderr, code := c.env.run(t, `exec /usr/bin/python3 `+c.script+` `+strings.Join(args, " "))
	if err := json.Unmarshal([]byte(stdout), v); code != 0 || err != nil {
		t.Fatalf("boto3 %s: exit %d %v\n%s\n%s", strings.Join(args, " "), code, err, stdout, stderr)
	}
}

func (c botoClient) authorize(t *testing.T, group, peer string, port int) {
	t.Helper()
	var r ruleAnswer
	c.call(t, &r, "authorize", group, peer, strconv.Itoa(port))
	checkAuthorized(t, r, group, peer, port)
}

func (c botoClient) revoke(t *testing.T, group, peer string, port int) {
	t.Helper()
	var r ruleAnswer
	c.call(t, &r, "revoke", group, peer, strconv.Itoa(port))
	if !r.Return {
		t.Fatalf("revoke answered %+v", r)
	}
}

func (c botoClient) allocateAndAssociate(t *testing.T, instance string) string {
	t.Helper()
	var a struct{ PublicIp, AllocationId, Domain, AssociationId string }
	c.call(t, &a, "allocate-and-associate", instance)
	if a.Domain != "vpc" || !strings.HasPrefix(a.AllocationId, "eipalloc-") || !strings.HasPrefix(a.AssociationId, "eipassoc-") {
		t.Fatalf("boto3 allocate and associate answered %+v", a)
	}
	return a.PublicIp
}

// requireBoto3 skips the test unless Debian's boto3 is installed.
func requireBoto3(t *testing.T) {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import boto3").Run(); err != nil {
		t.Skip("Debian's boto3 (python3-boto3) is not installed: run scripts/deps.sh as root")
	}
}

// TestBoto3_SG3_SG5_EIP2_TrafficFollowsTheAPI: the same with boto3.
func TestBoto3_SG3_SG5_EIP2_TrafficFollowsTheAPI(t *testing.T) {
	RequireRoot(t)
	requireBoto3(t)
	tp := Up(t, apiTopo)
	checkTrafficFollows(t, tp, newBotoClient(t, tp.Name), "web")
}
