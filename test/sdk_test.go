package test

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/vpcnet/vpcnet/internal/sdkhttp"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// The EC2 endpoint driven by the AWS SDK for Go v2 (issue 11 item 6). Only
// this package imports the SDK's EC2 client: the vpcnet binary does not
// carry it.

// sdkEnv reads `vpcnet env NAME`'s exports (export K='V' lines).
func sdkEnv(t *testing.T, name string) map[string]string {
	t.Helper()
	out, code := vpcnet(t, "env", name)
	if code != 0 {
		t.Fatalf("vpcnet env %s: exit %d: %s", name, code, out)
	}
	env := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if ok && strings.HasPrefix(line, "export ") {
			env[k] = strings.Trim(v, "'")
		}
	}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL"} {
		if env[k] == "" {
			t.Fatalf("vpcnet env %s exports no %s:\n%s", name, k, out)
		}
	}
	return env
}

// newSDKClient is an EC2 client of the SDK for topology name's endpoint,
// with the credentials and region `vpcnet env` gives. It does not retry:
// every error the endpoint answers reaches the test.
func newSDKClient(t *testing.T, name string) *ec2.Client {
	t.Helper()
	env := sdkEnv(t, name)
	creds := aws.Credentials{AccessKeyID: env["AWS_ACCESS_KEY_ID"], SecretAccessKey: env["AWS_SECRET_ACCESS_KEY"], Source: "vpcnet env"}
	cfg := aws.Config{
		Region:      env["AWS_DEFAULT_REGION"],
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }),
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
	}
	return ec2.NewFromConfig(cfg, func(o *ec2.Options) {
		o.BaseEndpoint = aws.String(env["AWS_ENDPOINT_URL"])
		o.HTTPClient = sdkhttp.PlainBody{Client: awshttp.NewBuildableClient()} // an SDK race against fast servers: see sdkhttp
	})
}

// byName is a Name-tag filter.
func byName(name string) []ec2types.Filter {
	return []ec2types.Filter{{Name: aws.String("tag:Name"), Values: []string{name}}}
}

// sdkClient is apiClient over the SDK.
type sdkClient struct {
	c   *ec2.Client
	ctx context.Context
}

func (s sdkClient) perms(peer string, port int) []ec2types.IpPermission {
	return []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(int32(port)), ToPort: aws.Int32(int32(port)),
		UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: aws.String(peer)}}}}
}

func (s sdkClient) authorize(t *testing.T, group, peer string, port int) {
	t.Helper()
	out, err := s.c.AuthorizeSecurityGroupIngress(s.ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(group), IpPermissions: s.perms(peer, port)})
	if err != nil {
		t.Fatalf("AuthorizeSecurityGroupIngress: %v", err)
	}
	if !aws.ToBool(out.Return) || len(out.SecurityGroupRules) != 1 {
		t.Fatalf("AuthorizeSecurityGroupIngress answered %+v", out)
	}
	r := out.SecurityGroupRules[0]
	if aws.ToString(r.GroupId) != group || aws.ToString(r.IpProtocol) != "tcp" || aws.ToInt32(r.FromPort) != int32(port) ||
		aws.ToInt32(r.ToPort) != int32(port) || aws.ToBool(r.IsEgress) || r.ReferencedGroupInfo == nil ||
		aws.ToString(r.ReferencedGroupInfo.GroupId) != peer || !strings.HasPrefix(aws.ToString(r.SecurityGroupRuleId), "sgr-") {
		t.Fatalf("AuthorizeSecurityGroupIngress answered the rule %+v, want tcp %d from %s in %s", r, port, peer, group)
	}
}

func (s sdkClient) revoke(t *testing.T, group, peer string, port int) {
	t.Helper()
	out, err := s.c.RevokeSecurityGroupIngress(s.ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(group), IpPermissions: s.perms(peer, port)})
	if err != nil || !aws.ToBool(out.Return) {
		t.Fatalf("RevokeSecurityGroupIngress: %+v %v", out, err)
	}
}

func (s sdkClient) allocateAndAssociate(t *testing.T, instance string) string {
	t.Helper()
	a, err := s.c.AllocateAddress(s.ctx, &ec2.AllocateAddressInput{Domain: ec2types.DomainTypeVpc})
	if err != nil || a.Domain != ec2types.DomainTypeVpc || !strings.HasPrefix(aws.ToString(a.AllocationId), "eipalloc-") {
		t.Fatalf("AllocateAddress: %+v %v", a, err)
	}
	as, err := s.c.AssociateAddress(s.ctx, &ec2.AssociateAddressInput{AllocationId: a.AllocationId, InstanceId: aws.String(instance)})
	if err != nil || !strings.HasPrefix(aws.ToString(as.AssociationId), "eipassoc-") {
		t.Fatalf("AssociateAddress: %+v %v", as, err)
	}
	return aws.ToString(a.PublicIp)
}

// TestSDK_PaginatorWaiterAndTrafficFollow: with the Go SDK, against
// apiTopo:
//   - DescribeSubnets, DescribeSecurityGroups and DescribeInstances find
//     the public subnet, web's group and web's image by filter (tag:Name,
//     group-name);
//   - RunInstances launches 4 instances (INST-1) of that image into the
//     subnet, pending; the
//     instance-running waiter returns once they run;
//   - DescribeInstances' paginator, 5 a page, visits the 6 instances in 2
//     pages, each once;
//   - checkTrafficFollows: authorize and revoke (SG-3, SG-5), and an
//     Elastic IP allocated and associated with a launched instance
//     (EIP-2): the internet host sees it.
func TestSDK_PaginatorWaiterAndTrafficFollow(t *testing.T) {
	RequireRoot(t)
	tp := Up(t, apiTopo)
	c := newSDKClient(t, tp.Name)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	subnets, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: byName("pub")})
	if err != nil || len(subnets.Subnets) != 1 || aws.ToString(subnets.Subnets[0].CidrBlock) != "10.5.1.0/24" {
		t.Fatalf("DescribeSubnets tag:Name=pub: %+v %v", subnets, err)
	}
	groups, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{
		Filters: []ec2types.Filter{{Name: aws.String("group-name"), Values: []string{"web-sg"}}}})
	if err != nil || len(groups.SecurityGroups) != 1 {
		t.Fatalf("DescribeSecurityGroups group-name=web-sg: %+v %v", groups, err)
	}

	// The launch takes web's image.
	web, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: byName("web")})
	if err != nil || len(web.Reservations) != 1 || len(web.Reservations[0].Instances) != 1 {
		t.Fatalf("DescribeInstances tag:Name=web: %+v %v", web, err)
	}
	image := web.Reservations[0].Instances[0].ImageId
	run, err := c.RunInstances(ctx, &ec2.RunInstancesInput{
		MinCount: aws.Int32(4), MaxCount: aws.Int32(4),
		ImageId: image, InstanceType: ec2types.InstanceTypeT3Micro,
		SubnetId: subnets.Subnets[0].SubnetId, SecurityGroupIds: []string{aws.ToString(groups.SecurityGroups[0].GroupId)},
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance,
			Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("sdk")}}}},
	})
	if err != nil {
		t.Fatalf("RunInstances: %v", err)
	}
	var launched []string
	for _, i := range run.Instances {
		launched = append(launched, aws.ToString(i.InstanceId))
		if i.State == nil || i.State.Name != ec2types.InstanceStateNamePending || i.InstanceType != ec2types.InstanceTypeT3Micro || aws.ToString(i.ImageId) != aws.ToString(image) ||
			aws.ToString(i.SubnetId) != aws.ToString(subnets.Subnets[0].SubnetId) || i.PublicIpAddress != nil {
			t.Errorf("RunInstances answered %s: state %+v, type %s, subnet %s, public IP %v; want pending t3.micro in pub without public IP",
				aws.ToString(i.InstanceId), i.State, i.InstanceType, aws.ToString(i.SubnetId), aws.ToString(i.PublicIpAddress))
		}
	}
	if len(launched) != 4 || !strings.HasPrefix(aws.ToString(run.ReservationId), "r-") {
		t.Fatalf("RunInstances: %d instances in %q, want 4", len(launched), aws.ToString(run.ReservationId))
	}

	start := time.Now()
	if err := ec2.NewInstanceRunningWaiter(c).Wait(ctx, &ec2.DescribeInstancesInput{InstanceIds: launched}, 2*time.Minute); err != nil {
		t.Fatalf("instance-running waiter: %v", err)
	}
	t.Logf("instance-running waiter: %v for %d instances", time.Since(start), len(launched))

	// 2 instances of the file and 4 launched, 5 a page.
	p := ec2.NewDescribeInstancesPaginator(c, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(5)})
	var seen []string
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("DescribeInstances page %d: %v", pages+1, err)
		}
		pages++
		n := 0
		for _, r := range page.Reservations {
			for _, i := range r.Instances {
				n++
				seen = append(seen, aws.ToString(i.InstanceId))
				if i.State == nil || i.State.Name != ec2types.InstanceStateNameRunning {
					t.Errorf("page %d: %s is %+v, want running", pages, aws.ToString(i.InstanceId), i.State)
				}
			}
		}
		if n == 0 || n > 5 {
			t.Errorf("page %d holds %d instances, want 1 to 5", pages, n)
		}
	}
	want := append([]string{tp.instance(t, "web").InstanceId, tp.instance(t, "db").InstanceId}, launched...)
	slices.Sort(seen)
	slices.Sort(want)
	if pages != 2 || !slices.Equal(seen, want) {
		t.Fatalf("paginator: %d pages, instances %v; want 2 pages and each of %v once", pages, seen, want)
	}

	// The first launched instance is named sdk-1 (vpcnet names the
	// instances of one launch name-1, name-2 …): its namespace is there.
	if got := tp.instance(t, "sdk-1"); got == nil || got.InstanceId != launched[0] {
		t.Fatalf("sdk-1 is %+v, want %s", got, launched[0])
	}
	checkTrafficFollows(t, tp, sdkClient{c, ctx}, "sdk-1")
}

// TestSDK_KeptOutOfTheBinary: the SDK's EC2 client serves these tests
// only; vpcnet itself does not link it (issue 11 item 6).
func TestSDK_KeptOutOfTheBinary(t *testing.T) {
	RequireRoot(t) // vpcnetBin is built for root's runs
	out, err := exec.Command("go", "version", "-m", vpcnetBin).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "github.com/aws/aws-sdk-go-v2") {
		t.Fatalf("go version -m %s: %v\n%s", vpcnetBin, err, out)
	}
	if strings.Contains(string(out), "aws-sdk-go-v2/service/ec2") {
		t.Fatalf("vpcnet links the SDK's EC2 client:\n%s", out)
	}
}
