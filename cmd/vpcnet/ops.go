package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vpcnet/vpcnet/dataplane/control"
)

// operation describes one EC2-style command: its CLI name, its API name and
// its flags (AWS CLI names). Resource names are accepted wherever ids are.
type operation struct {
	use, api, short string
	flags           []string // string flags
	bools           []string // boolean flags
	required        []string
}

var sgFlags = []string{"group-id", "protocol", "port", "cidr", "source-group"}
var naclFlags = []string{"network-acl-id", "rule-number", "protocol", "port-range", "icmp-type-code", "cidr-block", "rule-action"}

var operationList = []operation{
	{"authorize-security-group-ingress", "AuthorizeSecurityGroupIngress", "Add an inbound rule to a security group (SG-1, SG-3)", sgFlags, nil, []string{"group-id", "protocol"}},
	{"authorize-security-group-egress", "AuthorizeSecurityGroupEgress", "Add an outbound rule to a security group", sgFlags, nil, []string{"group-id", "protocol"}},
	{"revoke-security-group-ingress", "RevokeSecurityGroupIngress", "Remove an inbound rule; tracked flows live on (SG-5)", sgFlags, nil, []string{"group-id", "protocol"}},
	{"revoke-security-group-egress", "RevokeSecurityGroupEgress", "Remove an outbound rule; tracked flows live on (SG-5)", sgFlags, nil, []string{"group-id", "protocol"}},
	{"create-network-acl-entry", "CreateNetworkAclEntry", "Add a numbered NACL entry (NACL-2)", naclFlags, []string{"ingress", "egress"}, []string{"network-acl-id", "rule-number", "protocol", "cidr-block", "rule-action"}},
	{"replace-network-acl-entry", "ReplaceNetworkAclEntry", "Replace a numbered NACL entry", naclFlags, []string{"ingress", "egress"}, []string{"network-acl-id", "rule-number", "protocol", "cidr-block", "rule-action"}},
	{"delete-network-acl-entry", "DeleteNetworkAclEntry", "Delete a numbered NACL entry", []string{"network-acl-id", "rule-number"}, []string{"ingress", "egress"}, []string{"network-acl-id", "rule-number"}},
}

// addOperationCommands adds the EC2-style live operations.
func addOperationCommands(root *cobra.Command) {
	for _, op := range operationList {
		root.AddCommand(opCmd(op))
	}
}

func opCmd(op operation) *cobra.Command {
	vals := map[string]*string{}
	bools := map[string]*bool{}
	var topo string
	c := &cobra.Command{
		Use:   op.use,
		Short: op.short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			req := control.OpRequest{}
			for k, v := range vals {
				if *v != "" {
					req[k] = *v
				}
			}
			for _, k := range op.required {
				if req[k] == "" {
					return awsError(op.api, &control.OpError{Code: "MissingParameter", Message: "The request must contain the parameter --" + k})
				}
			}
			for k, v := range bools {
				if *v {
					req[k] = "true"
				}
			}
			if bools["ingress"] != nil && *bools["ingress"] == *bools["egress"] {
				return awsError(op.api, &control.OpError{Code: "MissingParameter", Message: "Give exactly one of --ingress and --egress"})
			}
			t, err := pickTopology(topo)
			if err != nil {
				return err
			}
			var out any
			if err := control.NewClient(t).Post("/op/"+op.api, req, &out); err != nil {
				return awsError(op.api, err)
			}
			return printJSON(out)
		},
	}
	for _, f := range op.flags {
		vals[f] = c.Flags().String(f, "", "")
	}
	for _, f := range op.bools {
		bools[f] = c.Flags().Bool(f, false, "")
	}
	c.Flags().StringVar(&topo, "topology", "", "topology name (default: the only one up)")
	return c
}

// awsError shapes an error like the AWS CLI does.
func awsError(api string, err error) error {
	var oe *control.OpError
	if errors.As(err, &oe) {
		return &exitError{exitUsage, fmt.Errorf("An error occurred (%s) when calling the %s operation: %s", oe.Code, api, strings.TrimSpace(oe.Message))}
	}
	return &exitError{exitFail, err}
}
