package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/vpcnet/vpcnet/ec2/query"
)

// runCall runs operation op with argv through cobra, as the CLI does, with
// sendOp replaced by one that answers answer (an error: fails with it): it
// returns the call that
// would have been sent (nil if none was), what the command printed and its
// error (with the exit code the CLI would exit with).
func runCall(t testing.TB, op operation, argv []string, answer any) (*cliCall, string, error) {
	var sent *cliCall
	calls := 0
	prev := sendOp
	sendOp = func(c cliCall) (any, error) {
		calls++
		if c.api != op.api {
			t.Fatalf("%s sent as %s", op.use, c.api)
		}
		sent = &c
		if err, ok := answer.(error); ok {
			return nil, err
		}
		return answer, nil
	}
	defer func() { sendOp = prev }()
	c := opCmd(op)
	var out bytes.Buffer
	c.SetArgs(argv)
	c.SetOut(&out)
	c.SetErr(io.Discard)
	c.SilenceUsage, c.SilenceErrors = true, true
	err := c.Execute()
	if calls > 1 {
		t.Fatalf("%s sent %d requests", op.use, calls)
	}
	return sent, out.String(), err
}

// runOp is runCall answering {"Return": true}; it returns the existing
// flags that were sent (nil if nothing was).
func runOp(t testing.TB, op operation, argv []string) (flagRequest, error) {
	c, _, err := runCall(t, op, argv, map[string]any{"Return": true})
	if c == nil {
		return nil, err
	}
	return c.flags, err
}

func TestOperationArgs(t *testing.T) {
	op := operationList[slices.IndexFunc(operationList, func(o operation) bool { return o.use == "modify-instance-attribute" })]
	req, err := runOp(t, op, []string{"--instance-id", "fw", "--no-source-dest-check"})
	if err != nil || req["instance-id"] != "fw" || req["source-dest-check"] != "false" || len(req) != 2 {
		t.Fatalf("req %v err %v", req, err)
	}
	op = operationList[slices.IndexFunc(operationList, func(o operation) bool { return o.use == "create-network-interface" })]
	req, err = runOp(t, op, []string{"--subnet-id", "a", "--groups", "g1,g2", "--groups", "g3"})
	if err != nil || req["groups"] != "g1,g2,g3" {
		t.Fatalf("list flags: req %v err %v", req, err)
	}
	if req, err = runOp(t, op, []string{"--groups", "g1"}); err == nil || req != nil ||
		!strings.Contains(err.Error(), "An error occurred (MissingParameter) when calling the CreateNetworkInterface operation") {
		t.Fatalf("missing --subnet-id: req %v err %v", req, err)
	}
	op = operationList[slices.IndexFunc(operationList, func(o operation) bool { return o.use == "create-network-acl-entry" })]
	base := []string{"--network-acl-id", "a", "--rule-number", "1", "--protocol", "tcp", "--cidr-block", "0.0.0.0/0", "--rule-action", "allow"}
	if _, err := runOp(t, op, base); err == nil {
		t.Fatal("a NACL entry without --ingress or --egress was sent")
	}
	if req, err := runOp(t, op, append(base, "--egress")); err != nil || req["egress"] != "true" {
		t.Fatalf("--egress: req %v err %v", req, err)
	}
}

// FuzzOperationArgs: any command line of any operation either is refused
// (a usage error: exit 252, nothing sent) or sends one request that holds
// only the operation's own flags, with every required one set (unless EC2's
// members were given by their own flags or --cli-input-json), booleans as
// "true"/"false", and EC2's parameters that its input shape accepts: the
// AWS CLI flags (member flags, shorthand, JSON, --query, --output) are
// tried on every operation (the index's high bit is a second seed space).
// Nothing panics.
func FuzzOperationArgs(f *testing.F) {
	f.Add(uint8(0), "--group-id\x00default\x00--protocol\x00icmp\x00--port\x008-0\x00--cidr\x0010.0.0.0/8")
	f.Add(uint8(4), "--network-acl-id\x00acl\x00--rule-number\x00100\x00--protocol\x00tcp\x00--port-range\x00From=1,To=2\x00--cidr-block\x000.0.0.0/0\x00--rule-action\x00deny\x00--ingress")
	f.Add(uint8(14), "--subnet-id=a\x00--groups\x00x,y\x00--groups=z")
	f.Add(uint8(20), "--subnet-id\x00s\x00--no-associate-public-ip-address\x00--user-data\x00vpcnet serve --http :80")
	f.Add(uint8(23), "--instance-ids\x00a,b\x00--instance-ids\x00c\x00--output\x00table")
	f.Add(uint8(0x80|23), "--instance-ids\x00a\x00b\x00--dry-run\x00--output\x00text")
	f.Add(uint8(0x80|30), "--filters\x00Name=vpc-id,Values=a,b\x00Name=tag:Name,Values='x y'\x00--vpc-ids\x00v1\x00v2\x00--query\x00Vpcs[].VpcId")
	f.Add(uint8(0x80|0), "--group-id\x00sg-1\x00--ip-permissions\x00IpProtocol=tcp,FromPort=80,ToPort=80,IpRanges=[{CidrIp=0.0.0.0/0}]\x00--dry-run")
	f.Add(uint8(0x80|26), "--cli-input-json\x00{\"RouteTableId\": \"r\", \"GatewayId\": \"igw\"}\x00--destination-cidr-block\x000.0.0.0/0")
	f.Add(uint8(0x80|30), "--filters\x00[{\"Name\": \"a\", \"Values\": [\"b\"]}]\x00--max-results\x005\x00--output\x00table\x00--query\x00Vpcs[].{A: VpcId}")
	f.Fuzz(func(t *testing.T, i uint8, args string) {
		op := operationList[int(i&0x7f)%len(operationList)]
		argv := strings.Split(args, "\x00")
		var answer any
		json.Unmarshal([]byte(describeVpcsAnswer), &answer)
		call, _, err := runCall(t, op, argv, answer)
		if err != nil {
			var ee *exitError
			if !errors.As(err, &ee) || (ee.code != exitAWSUsage && ee.code != exitAWSOther) {
				t.Fatalf("%s %q: error without the AWS CLI's usage exit code: %v", op.use, argv, err)
			}
			if call != nil && ee.code == exitAWSUsage {
				t.Fatalf("%s %q: refused (%v) yet sent %+v", op.use, argv, err, call)
			}
			return
		}
		if call == nil {
			// Only a request for help sends nothing and succeeds.
			if !slices.ContainsFunc(argv, func(a string) bool {
				return strings.HasPrefix(a, "--help") || (strings.HasPrefix(a, "-h") && !strings.HasPrefix(a, "--"))
			}) {
				t.Fatalf("%s %q: accepted but sent nothing", op.use, argv)
			}
			return
		}
		for k, v := range call.flags {
			switch {
			case slices.Contains(op.flags, k):
				if v == "" {
					t.Fatalf("%s: empty %s sent", op.use, k)
				}
			case slices.Contains(op.bools, k), slices.Contains(op.bools, "no-"+k):
				if v != "true" && v != "false" {
					t.Fatalf("%s: boolean %s = %q", op.use, k, v)
				}
			default:
				t.Fatalf("%s: request key %q is no flag of the operation", op.use, k)
			}
		}
		if !call.newStyle {
			for _, k := range op.required {
				if call.flags[k] == "" {
					t.Fatalf("%s sent without required --%s", op.use, k)
				}
			}
		}
		shape, _ := query.InputShape(op.api)
		if call.input == nil {
			t.Fatalf("%s %q: sent no EC2 parameters", op.use, argv)
		}
		if err := validateInput(shape, call.input); err != nil {
			t.Fatalf("%s %q: sent %v, which EC2's model refuses: %v", op.use, argv, call.input, err)
		}
	})
}
