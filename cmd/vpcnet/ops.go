package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vpcnet/vpcnet/daemon"
	"github.com/vpcnet/vpcnet/ec2"
)

// operation describes one EC2-style command: its CLI name, its API name and
// its flags (AWS CLI names). Resource names are accepted wherever ids are.
type operation struct {
	use, api, short string
	flags           []string // string flags; those in listFlags take several values
	bools           []string // boolean flags; "no-X" sends X=false
	required        []string
}

// listFlags take several values: repeated, or separated by commas.
var listFlags = map[string]bool{"groups": true, "security-group-ids": true, "instance-ids": true, "private-ip-addresses": true}

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

	{"allocate-address", "AllocateAddress", "Allocate an Elastic IP from a pool, or a named address in one (EIP-1)", []string{"address", "public-ipv4-pool", "network-border-group", "name"}, nil, nil},
	{"associate-address", "AssociateAddress", "Associate an Elastic IP with an instance or an ENI's private IP (EIP-2)", []string{"allocation-id", "instance-id", "network-interface-id", "private-ip-address"}, []string{"allow-reassociation"}, []string{"allocation-id"}},
	{"disassociate-address", "DisassociateAddress", "Disassociate an Elastic IP", []string{"association-id", "public-ip"}, nil, nil},
	{"release-address", "ReleaseAddress", "Release an Elastic IP to its pool (EIP-3: disassociate first)", []string{"allocation-id"}, nil, []string{"allocation-id"}},
	{"describe-addresses", "DescribeAddresses", "List Elastic IPs", nil, nil, nil},
	{"create-network-interface", "CreateNetworkInterface", "Create an ENI in a subnet (ENI-1, ENI-2)", []string{"subnet-id", "private-ip-address", "groups", "description", "name"}, nil, []string{"subnet-id"}},
	{"delete-network-interface", "DeleteNetworkInterface", "Delete a detached ENI", []string{"network-interface-id"}, nil, []string{"network-interface-id"}},
	{"attach-network-interface", "AttachNetworkInterface", "Attach an ENI to an instance as eth<device-index> (ENI-6)", []string{"network-interface-id", "instance-id", "device-index"}, nil, []string{"network-interface-id", "instance-id", "device-index"}},
	{"detach-network-interface", "DetachNetworkInterface", "Detach an ENI (never eth0)", []string{"attachment-id", "network-interface-id"}, nil, nil},
	{"modify-network-interface-attribute", "ModifyNetworkInterfaceAttribute", "Change an ENI's source/dest check or groups (ENI-3, ENI-4, ENI-5)", []string{"network-interface-id", "groups"}, []string{"source-dest-check", "no-source-dest-check"}, []string{"network-interface-id"}},
	{"assign-private-ip-addresses", "AssignPrivateIpAddresses", "Add secondary private IPs to an ENI", []string{"network-interface-id", "private-ip-addresses", "secondary-private-ip-address-count"}, nil, []string{"network-interface-id"}},
	{"unassign-private-ip-addresses", "UnassignPrivateIpAddresses", "Remove secondary private IPs from an ENI", []string{"network-interface-id", "private-ip-addresses"}, nil, []string{"network-interface-id"}},
	{"describe-network-interfaces", "DescribeNetworkInterfaces", "List ENIs (ENI-7)", nil, nil, nil},
	{"run-instances", "RunInstances", "Launch an instance: a new namespace (INST-1, INST-3)", []string{"subnet-id", "private-ip-address", "security-group-ids", "user-data", "name"}, []string{"associate-public-ip-address", "no-associate-public-ip-address"}, []string{"subnet-id"}},
	{"terminate-instances", "TerminateInstances", "Terminate instances: their namespaces go", []string{"instance-ids"}, nil, []string{"instance-ids"}},
	{"stop-instances", "StopInstances", "Stop instances: the dynamic public IP is released (INST-2)", []string{"instance-ids"}, nil, []string{"instance-ids"}},
	{"start-instances", "StartInstances", "Start instances: a new dynamic public IP (INST-2)", []string{"instance-ids"}, nil, []string{"instance-ids"}},
	{"modify-instance-attribute", "ModifyInstanceAttribute", "Change an instance's source/dest check (ENI-4)", []string{"instance-id"}, []string{"source-dest-check", "no-source-dest-check"}, []string{"instance-id"}},
	{"describe-instances", "DescribeInstances", "List instances", nil, nil, nil},
	{"create-route", "CreateRoute", "Add a route (RT-2, RT-4)", routeFlags, nil, []string{"route-table-id", "destination-cidr-block"}},
	{"replace-route", "ReplaceRoute", "Replace a route's target", routeFlags, nil, []string{"route-table-id", "destination-cidr-block"}},
	{"delete-route", "DeleteRoute", "Delete a route (never local, RT-1)", []string{"route-table-id", "destination-cidr-block"}, nil, []string{"route-table-id", "destination-cidr-block"}},
	{"describe-route-tables", "DescribeRouteTables", "List route tables; a route to a deleted target is a blackhole (RT-3)", nil, nil, nil},
	{"describe-vpcs", "DescribeVpcs", "List VPCs", nil, nil, nil},
	{"describe-subnets", "DescribeSubnets", "List subnets", nil, nil, nil},
	{"describe-security-groups", "DescribeSecurityGroups", "List security groups", nil, nil, nil},
	{"describe-network-acls", "DescribeNetworkAcls", "List network ACLs", nil, nil, nil},
	{"describe-nat-gateways", "DescribeNatGateways", "List NAT gateways", nil, nil, nil},
	{"start-network-insights-analysis", "StartNetworkInsightsAnalysis", "Analyse the path from a source to a destination from the configuration: the hops, or what blocks it (OBS-3)",
		[]string{"source", "destination", "protocol", "destination-port"}, nil, []string{"source", "destination"}},
}

var routeFlags = []string{"route-table-id", "destination-cidr-block", "gateway-id", "nat-gateway-id", "network-interface-id", "instance-id"}

// exclusive are, per operation, flags that contradict each other: at most
// one of each set may be given (issue 10: contradictions were decided at
// random). A boolean X and its no-X are such a pair too, everywhere.
var exclusive = map[string][][]string{
	"create-route":                     {routeTargets},
	"replace-route":                    {routeTargets},
	"authorize-security-group-ingress": {sgPeers},
	"authorize-security-group-egress":  {sgPeers},
	"revoke-security-group-ingress":    {sgPeers},
	"revoke-security-group-egress":     {sgPeers},
	"create-network-acl-entry":         {naclDirections},
	"replace-network-acl-entry":        {naclDirections},
	"delete-network-acl-entry":         {naclDirections},
	"associate-address":                {{"instance-id", "network-interface-id"}},
	"disassociate-address":             {{"association-id", "public-ip"}},
	"detach-network-interface":         {{"attachment-id", "network-interface-id"}},
}

var (
	routeTargets   = []string{"gateway-id", "nat-gateway-id", "network-interface-id", "instance-id"} // one target (RT-3)
	sgPeers        = []string{"cidr", "source-group"}                                                // one peer (SG-1)
	naclDirections = []string{"ingress", "egress"}
)

// onceString is a string flag that may be given once: a repeated
// --source-group or --port is refused, where pflag would keep the last.
type onceString struct {
	val string
	set bool
}

func (o *onceString) String() string { return o.val }
func (o *onceString) Type() string   { return "string" }
func (o *onceString) Set(v string) error {
	if o.set {
		return fmt.Errorf("given more than once (%q, then %q)", o.val, v)
	}
	o.val, o.set = v, true
	return nil
}

// outputs are the --output formats.
var outputs = []string{"json", "table"}

// addOperationCommands adds the EC2-style live operations.
func addOperationCommands(root *cobra.Command) {
	for _, op := range operationList {
		root.AddCommand(opCmd(op))
	}
}

func opCmd(op operation) *cobra.Command {
	vals := map[string]*string{}
	lists := map[string]*[]string{}
	bools := map[string]*bool{}
	var topo, output string
	c := &cobra.Command{
		Use:   op.use,
		Short: op.short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(outputs, output) {
				return &exitError{exitUsage, fmt.Errorf("--output %q: must be one of %s", output, strings.Join(outputs, ", "))}
			}
			req, err := buildRequest(op, vals, lists, bools)
			if err != nil {
				return err
			}
			out, err := sendOp(topo, op.api, req)
			if err != nil {
				return err
			}
			if output == "table" {
				printTable(cmd.OutOrStdout(), op.api, out)
				return nil
			}
			return writeJSON(cmd.OutOrStdout(), out)
		},
	}
	for _, f := range op.flags {
		if listFlags[f] {
			lists[f] = c.Flags().StringSlice(f, nil, "one or more, comma-separated or repeated")
			continue
		}
		o := &onceString{}
		c.Flags().Var(o, f, "")
		vals[f] = &o.val
	}
	c.Flags().StringVar(&output, "output", "json", "json or table")
	for _, f := range op.bools {
		bools[f] = c.Flags().Bool(f, false, "")
	}
	c.Flags().StringVar(&topo, "topology", "", "topology name (default: the only one up)")
	for _, set := range exclusive[op.use] {
		c.MarkFlagsMutuallyExclusive(set...)
	}
	for _, f := range op.bools {
		if c.Flags().Lookup("no-"+f) != nil {
			c.MarkFlagsMutuallyExclusive(f, "no-"+f)
		}
	}
	return c
}

// buildRequest turns an operation's parsed flags into its request: string
// flags as given, list flags joined with commas, a set boolean as "true" (or
// X=false for --no-X). Missing required flags are refused here.
func buildRequest(op operation, vals map[string]*string, lists map[string]*[]string, bools map[string]*bool) (daemon.OpRequest, error) {
	req := daemon.OpRequest{}
	for k, v := range vals {
		if *v != "" {
			req[k] = *v
		}
	}
	for k, v := range lists {
		if len(*v) > 0 {
			req[k] = strings.Join(*v, ",")
		}
	}
	for _, k := range op.required {
		if req[k] == "" {
			return nil, awsError(op.api, &daemon.OpError{Code: "MissingParameter", Message: "The request must contain the parameter --" + k})
		}
	}
	for k, v := range bools {
		switch {
		case !*v:
		case strings.HasPrefix(k, "no-"):
			req[strings.TrimPrefix(k, "no-")] = "false"
		default:
			req[k] = "true"
		}
	}
	if bools["ingress"] != nil && *bools["ingress"] == *bools["egress"] {
		return nil, awsError(op.api, &daemon.OpError{Code: "MissingParameter", Message: "Give exactly one of --ingress and --egress"})
	}
	return req, nil
}

// sendOp posts a request to the daemon of topology topo (default: the only
// one up). Tests replace it.
var sendOp = func(topo, api string, req daemon.OpRequest) (any, error) {
	t, err := pickTopology(topo)
	if err != nil {
		return nil, err
	}
	var out any
	timeout := daemon.OpTimeout
	if daemon.IsReadOnly(api) {
		timeout = daemon.ReadTimeout // a frozen forwarder is said to be so in seconds
	}
	var body any = req
	if ec2.IsTyped(api) {
		in, err := typedInput(api, req)
		if err != nil {
			return nil, awsError(api, err)
		}
		body = in
	}
	if err := daemon.NewClient(t).PostTimeout("/op/"+api, body, &out, timeout); err != nil {
		return nil, awsError(api, err)
	}
	return out, nil
}

// typedInputs turn the CLI flags of a typed operation (ec2.Define) into
// EC2's parameters by member name, as the AWS CLI's customizations of the
// same commands do (authorize-security-group-ingress --protocol --port
// --cidr builds IpPermissions). Each area's file adds its operations.
var typedInputs = map[string]func(req daemon.OpRequest) (map[string]any, error){}

// typedInput builds the parameters of typed operation api from its flags:
// by its entry in typedInputs, or, for an operation without flags, none.
func typedInput(api string, req daemon.OpRequest) (map[string]any, error) {
	if conv := typedInputs[api]; conv != nil {
		return conv(req)
	}
	if len(req) > 0 {
		return nil, &daemon.OpError{Code: "InvalidParameterValue", Message: api + " takes no flags yet"}
	}
	return map[string]any{}, nil
}

// awsError shapes an error like the AWS CLI does.
func awsError(api string, err error) error {
	var oe *daemon.OpError
	if errors.As(err, &oe) {
		return &exitError{exitUsage, fmt.Errorf("An error occurred (%s) when calling the %s operation: %s", oe.Code, api, strings.TrimSpace(oe.Message))}
	}
	return &exitError{exitFail, err}
}
