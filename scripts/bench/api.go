package main

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/vpcnet/vpcnet/internal/sdkhttp"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/vpcnet/vpcnet/daemon"
)

// The EC2 endpoint (issue 11, its "Measured" part), driven by the AWS SDK
// for Go v2 as a user's program drives it: one client, static credentials
// (the topology's, from /run/vpcnet/vbench/), BaseEndpoint set to the
// topology's ec2_endpoint, calls one after the other. Each run, in order:
//
//  1. latency: apiCalls DescribeInstances, then apiCalls pairs of
//     AuthorizeSecurityGroupIngress and RevokeSecurityGroupIngress on
//     sg-server, each pair a port of its own, so that the group ends as it
//     began (checked); every call timed on its own;
//  2. the flow: the iperf3 flow c1 → s1 of the live operations (ops.go),
//     and from opsLead into it apiFlowCalls calls, one every opsPace:
//     authorize and revoke of a port in turn on sg-server, the flow's own
//     group, so that its snapshot is rebuilt under the flow;
//  3. the control: the same flow and the same loop of read-only
//     DescribeInstances, which change nothing.
//
// Only scripts/bench imports the SDK: the vpcnet binary stays without it.

const (
	apiCalls     = 1000 // timed calls of each operation per run
	apiWarmup    = 20   // untimed calls of each first, on a fresh client
	apiFlowCalls = 100  // calls during the flow
	// apiCIDR is the source of the rules the benchmark adds: the flow's
	// client subnet, on ports the flow does not use.
	apiCIDR = "10.77.1.0/24"
	// apiPortBase and apiFlowPortBase are the first ports of the rules of
	// steps 1 and 2.
	apiPortBase     = 10000
	apiFlowPortBase = 20000
	// apiCallTimeout bounds one SDK call.
	apiCallTimeout = 30 * time.Second
	// apiGroup is the security group the rules go into: the flow's server.
	apiGroup = "sg-server"
)

// The operations whose latency is measured, in report order.
const (
	apiDescribe  = "DescribeInstances"
	apiAuthorize = "AuthorizeSecurityGroupIngress"
	apiRevoke    = "RevokeSecurityGroupIngress"
)

var apiOps = []string{apiDescribe, apiAuthorize, apiRevoke}

// apiResult is what the endpoint measurement found, one apiRun per run.
type apiResult struct {
	endpoint string
	runs     []apiRun
}

type apiRun struct {
	latency   map[string][]float64 // operation → ms, one per call, in call order
	instances int                  // instances in DescribeInstances' answer
	rules     [2]int               // sg-server's rules before and after the pairs
	flow      *opsResult           // the flow during the calls, its control inside
}

// apiClient is an EC2 client of the bench topology's endpoint.
type apiClient struct {
	ec2     *ec2.Client
	groupID string // sg-server's id
}

// newAPIClient reads the topology's credentials, region and endpoint (as
// `vpcnet env` prints them) and makes an SDK client without retries, so
// that every timed call is one request.
func newAPIClient(ctx context.Context) (*apiClient, string, error) {
	acc, err := daemon.ReadAccess(benchTopology)
	if err != nil {
		return nil, "", err
	}
	creds := aws.Credentials{AccessKeyID: acc.AccessKeyID, SecretAccessKey: acc.SecretAccessKey, Source: "vpcnet bench"}
	client := ec2.New(ec2.Options{
		Region:       acc.Region,
		BaseEndpoint: aws.String(acc.EndpointURL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return creds, nil
		}),
		Retryer:    aws.NopRetryer{},
		HTTPClient: sdkhttp.PlainBody{Client: awshttp.NewBuildableClient()}, // see sdkhttp
	})
	c := &apiClient{ec2: client}
	cctx, cancel := context.WithTimeout(ctx, apiCallTimeout)
	defer cancel()
	out, err := client.DescribeSecurityGroups(cctx, &ec2.DescribeSecurityGroupsInput{
		Filters: []ec2types.Filter{{Name: aws.String("group-name"), Values: []string{apiGroup}}},
	})
	if err != nil {
		return nil, "", fmt.Errorf("DescribeSecurityGroups group-name=%s on %s: %w", apiGroup, acc.EndpointURL, err)
	}
	if len(out.SecurityGroups) != 1 || out.SecurityGroups[0].GroupId == nil {
		return nil, "", fmt.Errorf("DescribeSecurityGroups group-name=%s on %s: %d groups, want 1", apiGroup, acc.EndpointURL, len(out.SecurityGroups))
	}
	c.groupID = *out.SecurityGroups[0].GroupId
	return c, acc.EndpointURL, nil
}

// permission is one tcp rule on port from apiCIDR.
func permission(port int32) []ec2types.IpPermission {
	return []ec2types.IpPermission{{
		IpProtocol: aws.String("tcp"),
		FromPort:   aws.Int32(port),
		ToPort:     aws.Int32(port),
		IpRanges:   []ec2types.IpRange{{CidrIp: aws.String(apiCIDR)}},
	}}
}

// call runs one SDK call with its own timeout and returns its wall time:
// signing, the HTTP round trip and decoding the answer.
func call(ctx context.Context, fn func(ctx context.Context) error) (time.Duration, error) {
	cctx, cancel := context.WithTimeout(ctx, apiCallTimeout)
	defer cancel()
	start := time.Now()
	err := fn(cctx)
	return time.Since(start), err
}

func (c *apiClient) describe(ctx context.Context) (int, time.Duration, error) {
	n := 0
	d, err := call(ctx, func(ctx context.Context) error {
		out, err := c.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
		if err != nil {
			return fmt.Errorf("%s: %w", apiDescribe, err)
		}
		for _, r := range out.Reservations {
			n += len(r.Instances)
		}
		return nil
	})
	return n, d, err
}

func (c *apiClient) authorize(ctx context.Context, port int32) (time.Duration, error) {
	return call(ctx, func(ctx context.Context) error {
		_, err := c.ec2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
			GroupId: aws.String(c.groupID), IpPermissions: permission(port)})
		if err != nil {
			return fmt.Errorf("%s port %d: %w", apiAuthorize, port, err)
		}
		return nil
	})
}

func (c *apiClient) revoke(ctx context.Context, port int32) (time.Duration, error) {
	return call(ctx, func(ctx context.Context) error {
		_, err := c.ec2.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{
			GroupId: aws.String(c.groupID), IpPermissions: permission(port)})
		if err != nil {
			return fmt.Errorf("%s port %d: %w", apiRevoke, port, err)
		}
		return nil
	})
}

// pair authorizes port and revokes it, returning both wall times.
func (c *apiClient) pair(ctx context.Context, port int32) (time.Duration, time.Duration, error) {
	a, err := c.authorize(ctx, port)
	if err != nil {
		return a, 0, err
	}
	r, err := c.revoke(ctx, port)
	return a, r, err
}

// rules counts sg-server's ingress rules: one per protocol, port range and
// source, as EC2 counts them.
func (c *apiClient) rules(ctx context.Context) (int, error) {
	var n int
	_, err := call(ctx, func(ctx context.Context) error {
		out, err := c.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{c.groupID}})
		if err != nil {
			return fmt.Errorf("DescribeSecurityGroups %s: %w", c.groupID, err)
		}
		for _, g := range out.SecurityGroups {
			for _, p := range g.IpPermissions {
				n += len(p.IpRanges) + len(p.Ipv6Ranges) + len(p.PrefixListIds) + len(p.UserIdGroupPairs)
			}
		}
		return nil
	})
	return n, err
}

// apiBench measures the endpoint o.runs times. ready says that the bench
// topology is up with the iperf3 server in s1; otherwise it is brought up
// here, and taken down by the caller's cleanups.
func apiBench(ctx context.Context, c *cleanups, v *vpcnet, exe string, runs int, ready bool) (*apiResult, error) {
	plain, _ := benchPaths()
	if !ready {
		if err := upPlainPath(ctx, c, v, exe); err != nil {
			return nil, err
		}
	}
	client, url, err := newAPIClient(ctx)
	if err != nil {
		return nil, err
	}
	logf("api      endpoint %s, group %s (%s)", url, client.groupID, apiGroup)
	res := &apiResult{endpoint: url}

	// Warm-up: the client's first calls open its connection and fill the
	// SDK's caches; they also check the three operations before the runs.
	for i := 0; i < apiWarmup; i++ {
		if _, _, err := client.describe(ctx); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
		if _, _, err := client.pair(ctx, int32(apiPortBase+i)); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
	}

	for r := 1; r <= runs; r++ {
		run, err := client.latencyRun(ctx)
		if err != nil {
			return nil, fmt.Errorf("run %d: %w", r, err)
		}
		logf("api      run %d/%d  %s", r, runs, run.latencyLine())
		if run.flow, err = client.flowRun(ctx, plain); err != nil {
			return nil, fmt.Errorf("run %d: %w", r, err)
		}
		f := run.flow
		logf("api      run %d/%d  flow: median %.2f Gbps during %d calls, %.2f outside (%.2f×); control %.2f×; during / control %.2f",
			r, runs, median(f.during), f.ops, median(f.outside), f.ratio(), f.control.ratio(), f.vsControl())
		res.runs = append(res.runs, run)
	}
	return res, nil
}

// upPlainPath brings the bench topology up and starts the iperf3 server in
// s1, as the full run has them before the live operations.
func upPlainPath(ctx context.Context, c *cleanups, v *vpcnet, exe string) error {
	plain, _ := benchPaths()
	logf("bringing up topology %s with %s", benchTopology, v.bin)
	if err := upBenchTopology(ctx, c, v, exe); err != nil {
		return err
	}
	if _, err := startServers(c, exe, plain.server, false); err != nil {
		return err
	}
	return reachable(ctx, exe, plain, false)
}

// latencyRun is step 1: apiCalls DescribeInstances, then apiCalls
// authorize / revoke pairs, sg-server's rules counted before and after.
func (c *apiClient) latencyRun(ctx context.Context) (apiRun, error) {
	run := apiRun{latency: map[string][]float64{}}
	ms := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
	for i := 0; i < apiCalls; i++ {
		n, d, err := c.describe(ctx)
		if err != nil {
			return run, err
		}
		if i == 0 {
			run.instances = n
		}
		run.latency[apiDescribe] = append(run.latency[apiDescribe], ms(d))
	}
	var err error
	if run.rules[0], err = c.rules(ctx); err != nil {
		return run, err
	}
	for i := 0; i < apiCalls; i++ {
		a, r, err := c.pair(ctx, int32(apiPortBase+i))
		if err != nil {
			// The topology's take-down removes a rule left here.
			return run, err
		}
		run.latency[apiAuthorize] = append(run.latency[apiAuthorize], ms(a))
		run.latency[apiRevoke] = append(run.latency[apiRevoke], ms(r))
	}
	if run.rules[1], err = c.rules(ctx); err != nil {
		return run, err
	}
	if run.rules[0] != run.rules[1] {
		return run, fmt.Errorf("%s had %d rules before %d authorize / revoke pairs and %d after", apiGroup, run.rules[0], apiCalls, run.rules[1])
	}
	return run, nil
}

// flowRun is steps 2 and 3: the flow during apiFlowCalls mutating calls,
// then the control during as many DescribeInstances.
func (c *apiClient) flowRun(ctx context.Context, plain path) (*opsResult, error) {
	// The calls take about a millisecond: opsPace sets their length.
	res := &opsResult{flowSeconds: max(opsMinFlow, int(math.Ceil((2*opsLead + opsPace*apiFlowCalls).Seconds())))}
	loop := func(r *opsResult, fn func(i int) (time.Duration, error)) func(time.Time) error {
		return func(start time.Time) error {
			for r.ops < apiFlowCalls {
				if err := pause(ctx, time.Until(start.Add(time.Duration(r.ops)*opsPace))); err != nil {
					return err
				}
				d, err := fn(r.ops)
				r.ops++
				r.opLatency = append(r.opLatency, float64(d.Nanoseconds())/1e6)
				if err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					r.opsFirstErr = err.Error()
					logf("api      call %d failed: %v", r.ops, err)
					return nil
				}
				r.opsOK++
			}
			return nil
		}
	}
	// Authorize port P, then revoke it: 50 pairs.
	mutate := func(i int) (time.Duration, error) {
		port := int32(apiFlowPortBase + i/2)
		if i%2 == 0 {
			return c.authorize(ctx, port)
		}
		return c.revoke(ctx, port)
	}
	out, runErr, err := flowDuring(ctx, plain, res.flowSeconds, &res.opsWindow, loop(res, mutate))
	if err != nil {
		return nil, err
	}
	if err := res.readFlow(out, runErr); err != nil {
		return nil, err
	}
	if res.opsOK != apiFlowCalls {
		return nil, fmt.Errorf("%d of %d calls during the flow succeeded: %s", res.opsOK, apiFlowCalls, res.opsFirstErr)
	}

	ctl := &opsResult{flowSeconds: res.flowSeconds}
	describe := func(int) (time.Duration, error) {
		_, d, err := c.describe(ctx)
		return d, err
	}
	out, runErr, err = flowDuring(ctx, plain, ctl.flowSeconds, &ctl.opsWindow, loop(ctl, describe))
	if err != nil {
		return nil, err
	}
	if err := ctl.readFlow(out, runErr); err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	if ctl.opsOK != apiFlowCalls {
		return nil, fmt.Errorf("control: %d of %d calls succeeded: %s", ctl.opsOK, apiFlowCalls, ctl.opsFirstErr)
	}
	res.control = ctl
	return res, nil
}

// vsControl is the median throughput during the calls over the median
// during the control's calls.
func (res *opsResult) vsControl() float64 {
	if res.control == nil {
		return math.NaN()
	}
	ctl := median(res.control.during)
	if ctl == 0 {
		return math.NaN()
	}
	return median(res.during) / ctl
}

// percentiles are p50 and p99 of one run's call times of op.
func (run apiRun) percentiles(op string) (p50, p99 float64) {
	s := append([]float64(nil), run.latency[op]...)
	sort.Float64s(s)
	return percentile(s, 50), percentile(s, 99)
}

func (run apiRun) latencyLine() string {
	var parts []string
	for _, op := range apiOps {
		p50, p99 := run.percentiles(op)
		parts = append(parts, fmt.Sprintf("%s p50 %.2f ms, p99 %.2f ms", op, p50, p99))
	}
	return strings.Join(parts, "; ")
}

// perRun applies f to every run; the report gives the median and each.
func (res *apiResult) perRun(f func(apiRun) float64) []float64 {
	var v []float64
	for _, r := range res.runs {
		v = append(v, f(r))
	}
	return v
}

// rows are the endpoint's table: figure, median over the runs, every run.
func (res *apiResult) rows() [][]string {
	row := func(label, format string, f func(apiRun) float64) []string {
		vals := res.perRun(f)
		var each []string
		for _, x := range vals {
			each = append(each, fmt.Sprintf(format, x))
		}
		return []string{label, fmt.Sprintf(format, median(vals)), strings.Join(each, ", ")}
	}
	rows := [][]string{row(apiDescribe+": instances in the answer", "%.0f", func(r apiRun) float64 { return float64(r.instances) })}
	for _, op := range apiOps {
		rows = append(rows,
			row(op+", p50 (ms)", "%.2f", func(r apiRun) float64 { p, _ := r.percentiles(op); return p }),
			row(op+", p99 (ms)", "%.2f", func(r apiRun) float64 { _, p := r.percentiles(op); return p }))
	}
	rows = append(rows, row(fmt.Sprintf("%s's rules after the %d pairs (the run fails unless as many as before)", apiGroup, apiCalls), "%.0f",
		func(r apiRun) float64 { return float64(r.rules[1]) }))
	flow := func(f func(*opsResult) float64) func(apiRun) float64 {
		return func(r apiRun) float64 { return f(r.flow) }
	}
	return append(rows,
		row("flow c1 → s1, median 1-s interval outside the calls (Gbps)", "%.2f", flow(func(f *opsResult) float64 { return median(f.outside) })),
		row(fmt.Sprintf("flow c1 → s1, median 1-s interval during %d authorize / revoke calls (Gbps)", apiFlowCalls), "%.2f", flow(func(f *opsResult) float64 { return median(f.during) })),
		row("during / outside", "%.2f", flow((*opsResult).ratio)),
		row("slowest 1-s interval during the calls (Gbps)", "%.2f", flow(func(f *opsResult) float64 { return minOf(f.during) })),
		row("sender retransmits during the calls (segments)", "%.0f", flow(func(f *opsResult) float64 { return f.retrDuring })),
		row("call wall time during the flow, median (ms)", "%.2f", flow(func(f *opsResult) float64 { return median(f.opLatency) })),
		row(fmt.Sprintf("control: the same flow during %d %s, during / outside", apiFlowCalls, apiDescribe), "%.2f", flow(func(f *opsResult) float64 { return f.control.ratio() })),
		row("median during the calls / median during the control", "%.2f", flow((*opsResult).vsControl)),
	)
}

// commands are the measurement's calls, for the report.
func (res *apiResult) commands() []string {
	return []string{
		fmt.Sprintf("# Go, github.com/aws/aws-sdk-go-v2/service/ec2: ec2.New(ec2.Options{Region, BaseEndpoint: ec2_endpoint (%s),", res.endpoint),
		"#   Credentials: the static key of /run/vpcnet/vbench/credentials, Retryer: aws.NopRetryer{}}); one client, one call at a time",
		fmt.Sprintf("# %d of each untimed first, then per run, each call timed (signing, HTTP round trip, decoding the answer):", apiWarmup),
		fmt.Sprintf("DescribeInstances({})                                                     # %d times", apiCalls),
		fmt.Sprintf("AuthorizeSecurityGroupIngress({GroupId: %s's id, IpPermissions: [{tcp, P, P, [{CidrIp: %s}]}]})   # P = %d … %d,", apiGroup, apiCIDR, apiPortBase, apiPortBase+apiCalls-1),
		"RevokeSecurityGroupIngress(the same)                                      # each followed by its revoke",
		fmt.Sprintf("# then: ip netns exec %s-c1 iperf3 -c 10.77.2.10 -p %d -t %d -i 1 -J, and from %v into it %d calls, one every %v:",
			benchTopology, iperfPort, opsMinFlow, opsLead, apiFlowCalls, opsPace),
		fmt.Sprintf("#   Authorize and Revoke of port %d … %d in turn on %s (the flow's own group)", apiFlowPortBase, apiFlowPortBase+apiFlowCalls/2-1, apiGroup),
		fmt.Sprintf("# then the control: the same flow, and from %v into it %d DescribeInstances, one every %v", opsLead, apiFlowCalls, opsPace),
	}
}

// intervalsLines list every run's 1-s intervals, those during the calls
// starred.
func (res *apiResult) intervalsLines() []string {
	var lines []string
	for i, r := range res.runs {
		lines = append(lines, fmt.Sprintf("run %d: %s", i+1, r.flow.intervalsLine()))
	}
	return lines
}
