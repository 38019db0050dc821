package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"

	"github.com/vpcnet/vpcnet/daemon"
)

// Path analysis (OBS-3) as EC2 has it: create-network-insights-path keeps a
// path, start-network-insights-analysis --network-insights-path-id analyses
// it. vpcnet's extension keeps the one-call form:
//
//	start-network-insights-analysis --source app --destination db [--protocol tcp] [--destination-port 5432]
//
// sends CreateNetworkInsightsPath first (protocol tcp unless given), then
// StartNetworkInsightsAnalysis with the new path's id, and prints the
// analysis. Both operations need a ClientToken, which the AWS CLI makes up
// when none is given (botocore's idempotency token); so does vpcnet.

// beforeTyped are, per typed operation, what runs before its request is
// built from the flags (runOperation): it may change call's flags or send
// requests of its own. members are the operation's member flags.
var beforeTyped = map[string]func(call *cliCall, members []*memberFlag) error{
	"CreateNetworkInsightsPath":    withClientToken,
	"StartNetworkInsightsAnalysis": analyzeBefore,
}

// withClientToken gives call a ClientToken unless --client-token is given.
func withClientToken(call *cliCall, members []*memberFlag) error {
	if memberGiven(members, "client-token") || call.flags["client-token"] != "" {
		return nil
	}
	call.flags["client-token"] = clientToken()
	return nil
}

func memberGiven(members []*memberFlag, name string) bool {
	return slices.ContainsFunc(members, func(f *memberFlag) bool { return f.name == name && f.given() })
}

func clientToken() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// analyzeBefore: with --source and --destination, create the path and
// analyse it by id; otherwise the command is EC2's own.
func analyzeBefore(call *cliCall, members []*memberFlag) error {
	f := call.flags
	if f["source"] == "" && f["destination"] == "" {
		if f["protocol"] != "" || f["destination-port"] != "" {
			return usageErr("--protocol and --destination-port go with --source and --destination (vpcnet's one-call form)")
		}
		return withClientToken(call, members)
	}
	if f["source"] == "" || f["destination"] == "" {
		return &exitError{exitAWSUsage, awsMessage(call.api, &daemon.OpError{Code: "MissingParameter", Message: "The request must contain the parameters --source and --destination"})}
	}
	if memberGiven(members, "network-insights-path-id") {
		return usageErr("--network-insights-path-id and --source/--destination both give the path: use one")
	}
	in := map[string]any{"Source": f["source"], "Destination": f["destination"], "Protocol": "tcp", "ClientToken": clientToken()}
	if f["protocol"] != "" {
		in["Protocol"] = f["protocol"]
	}
	if p := f["destination-port"]; p != "" {
		n, err := wholeNumber("destination-port", p)
		if err != nil {
			return &exitError{exitAWSUsage, awsMessage(call.api, err)}
		}
		in["DestinationPort"] = n
	}
	create := cliCall{topo: call.topo, region: call.region, api: "CreateNetworkInsightsPath", input: in}
	out, err := sendOp(create)
	if err != nil {
		return err
	}
	m, _ := out.(map[string]any)
	p, _ := m["NetworkInsightsPath"].(map[string]any)
	id, _ := p["NetworkInsightsPathId"].(string)
	if id == "" {
		return &exitError{exitAWSOther, errors.New("CreateNetworkInsightsPath answered no NetworkInsightsPathId")}
	}
	call.flags = flagRequest{"network-insights-path-id": id}
	return withClientToken(call, members)
}
