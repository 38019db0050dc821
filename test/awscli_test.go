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
