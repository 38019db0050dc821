package main

import (
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/vpcnet/vpcnet/daemon"
)

// runOp runs operation op with argv through cobra, as the CLI does, with
// sendOp replaced: it returns the request that would have been sent (nil if
// none was) and the command's error.
func runOp(t testing.TB, op operation, argv []string) (daemon.OpRequest, error) {
	var sent daemon.OpRequest
	calls := 0
	prev := sendOp
	sendOp = func(topo, api string, req daemon.OpRequest) (any, error) {
		calls++
		if api != op.api {
			t.Fatalf("%s sent as %s", op.use, api)
		}
		sent = req
		return map[string]any{"Return": true}, nil
	}
	defer func() { sendOp = prev }()
	c := opCmd(op)
	c.SetArgs(argv)
	c.SetOut(io.Discard)
	c.SetErr(io.Discard)
	c.SilenceUsage, c.SilenceErrors = true, true
	err := c.Execute()
	if calls > 1 {
		t.Fatalf("%s sent %d requests", op.use, calls)
	}
	return sent, err
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

// FuzzOperationArgs: any command line of any operation either is refused or
// sends one request that holds only the operation's own flags, with every
// required one set, and booleans as "true"/"false". Nothing panics.
func FuzzOperationArgs(f *testing.F) {
	f.Add(uint8(0), "--group-id\x00default\x00--protocol\x00icmp\x00--port\x008-0\x00--cidr\x0010.0.0.0/8")
	f.Add(uint8(4), "--network-acl-id\x00acl\x00--rule-number\x00100\x00--protocol\x00tcp\x00--port-range\x00From=1,To=2\x00--cidr-block\x000.0.0.0/0\x00--rule-action\x00deny\x00--ingress")
	f.Add(uint8(14), "--subnet-id=a\x00--groups\x00x,y\x00--groups=z")
	f.Add(uint8(20), "--subnet-id\x00s\x00--no-associate-public-ip-address\x00--user-data\x00vpcnet serve --http :80")
	f.Add(uint8(23), "--instance-ids\x00a,b\x00--instance-ids\x00c\x00--output\x00table")
	f.Fuzz(func(t *testing.T, i uint8, args string) {
		op := operationList[int(i)%len(operationList)]
		argv := strings.Split(args, "\x00")
		req, err := runOp(t, op, argv)
		if err != nil {
			if req != nil {
				t.Fatalf("%s %q: refused (%v) yet sent %v", op.use, argv, err, req)
			}
			return
		}
		if req == nil {
			// Only a request for help sends nothing and succeeds.
			if !slices.ContainsFunc(argv, func(a string) bool {
				return strings.HasPrefix(a, "--help") || (strings.HasPrefix(a, "-h") && !strings.HasPrefix(a, "--"))
			}) {
				t.Fatalf("%s %q: accepted but sent nothing", op.use, argv)
			}
			return
		}
		for k, v := range req {
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
		for _, k := range op.required {
			if req[k] == "" {
				t.Fatalf("%s sent without required --%s", op.use, k)
			}
		}
	})
}
