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

// flagRequest is a command's own flags by their AWS CLI names (group-id,
// port …), as parsed; typedInputs turn it into EC2's parameters.
type flagRequest map[string]string

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
	{"run-instances", "RunInstances", "Launch an instance: a new namespace (INST-1, INST-3)", []string{"subnet-id", "private-ip-address", "security-group-ids", "user-data", "name", "image-id", "instance-type", "count", "key-name"}, []string{"associate-public-ip-address", "no-associate-public-ip-address"}, []string{"subnet-id"}},
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
	{"describe-regions", "DescribeRegions", "List the topology's region (and its pools' border groups that are regions)", nil, nil, nil},
	{"describe-availability-zones", "DescribeAvailabilityZones", "List the zones the topology's subnets are in (INST-1)", nil, nil, nil},
	{"describe-account-attributes", "DescribeAccountAttributes", "Show the account's attributes: VPC only, no default VPC, AWS's default quotas", nil, nil, nil},
	{"describe-images", "DescribeImages", "List vpcnet's catalogue of images (Amazon Linux, Ubuntu): run-instances takes these", nil, nil, nil},
	{"describe-instance-types", "DescribeInstanceTypes", "List vpcnet's catalogue of instance types, with AWS's ENI and IP limits (QUOTA-2)", nil, nil, nil},
	{"create-key-pair", "CreateKeyPair", "Make a key pair (RSA or ED25519) and print its private key, once", nil, nil, nil},
	{"import-key-pair", "ImportKeyPair", "Import the public key of your own key pair (OpenSSH format: fileb://~/.ssh/id_ed25519.pub)", nil, nil, nil},
	{"delete-key-pair", "DeleteKeyPair", "Delete a key pair", nil, nil, nil},
	{"describe-key-pairs", "DescribeKeyPairs", "List key pairs", nil, nil, nil},
	{"create-tags", "CreateTags", "Tag resources; the Name tag renames the resource (its name in topo.json)", nil, nil, nil},
	{"delete-tags", "DeleteTags", "Remove tags from resources (never the Name: a resource always has one)", nil, nil, nil},
	{"describe-tags", "DescribeTags", "List the tags of every resource, Name included", nil, nil, nil},
	{"create-network-insights-path", "CreateNetworkInsightsPath", "Keep a path to analyse: source, destination, protocol, port (OBS-3)", nil, nil, nil},
	{"describe-network-insights-paths", "DescribeNetworkInsightsPaths", "List the paths kept for analysis", nil, nil, nil},
	{"delete-network-insights-path", "DeleteNetworkInsightsPath", "Delete a path (its analyses first)", nil, nil, nil},
	{"start-network-insights-analysis", "StartNetworkInsightsAnalysis", "Analyse a path from the configuration: the hops, or what blocks it (OBS-3); --source/--destination make the path first",
		[]string{"source", "destination", "protocol", "destination-port"}, nil, nil},
	{"describe-network-insights-analyses", "DescribeNetworkInsightsAnalyses", "List the analyses made", nil, nil, nil},
	{"delete-network-insights-analysis", "DeleteNetworkInsightsAnalysis", "Delete an analysis", nil, nil, nil},
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

// addOperationCommands adds the EC2-style live operations.
//
// Every operation of the registry (ec2.Names) is a command: those in
// operationList with their own flags and help, the others with the flags
// EC2's model gives them alone, so the CLI cannot lack an operation the
// socket and the endpoint serve.
func addOperationCommands(root *cobra.Command) {
	for _, op := range allOperations() {
		root.AddCommand(opCmd(op))
	}
}

// allOperations is operationList and a plain entry for every other typed
// operation of the registry, named as the AWS CLI names it.
func allOperations() []operation {
	ops := slices.Clone(operationList)
	for _, api := range ec2.Names() {
		if slices.ContainsFunc(ops, func(o operation) bool { return o.api == api }) {
			continue
		}
		ops = append(ops, operation{use: cliName(api), api: api, short: "EC2's " + api})
	}
	return ops
}

// cliCall is one EC2 command's request, as sendOp posts it.
type cliCall struct {
	topo, region, api string
	// flags are the existing flags given (operationList), by their AWS CLI
	// names: the request of an operation that is not typed.
	flags flagRequest
	// input is a typed operation's request: EC2's parameters by member
	// name (nil for the others).
	input map[string]any
	// newStyle: member flags or --cli-input-json were given, so the
	// existing flags' own required checks were not made.
	newStyle bool
}

// globalOpts are the AWS CLI's options every EC2 command takes.
type globalOpts struct {
	topo, output, query, region, profile, cliInputJSON string
	noPager, noPaginate                                bool
}

// opCmd builds operation op's command: its own flags (operationList),
// a flag per input member they do not cover
// (memberFlags), and the AWS CLI's global options.
func opCmd(op operation) *cobra.Command {
	vals := map[string]*string{}
	lists := map[string]*[]string{}
	bools := map[string]*bool{}
	members := memberFlags(op)
	var g globalOpts
	c := &cobra.Command{
		Use:   op.use,
		Short: op.short,
		// Flags are parsed in RunE: a list flag takes every argument up
		// to the next option (expandLists), which pflag cannot.
		DisableFlagParsing: true,
	}
	c.RunE = func(cmd *cobra.Command, args []string) error {
		return awsExit(runOperation(cmd, op, args, vals, lists, bools, members, &g))
	}
	for _, f := range op.flags {
		if listFlags[f] {
			lists[f] = c.Flags().StringSlice(f, nil, "one or more, space-separated, repeated or comma-separated")
			continue
		}
		o := &onceString{}
		c.Flags().Var(o, f, "")
		vals[f] = &o.val
	}
	for _, f := range op.bools {
		bools[f] = c.Flags().Bool(f, false, "")
	}
	for _, f := range members {
		f.register(c)
	}
	fl := c.Flags()
	fl.StringVar(&g.output, "output", "json", "json, text or table")
	fl.StringVar(&g.query, "query", "", "a JMESPath expression applied to the answer")
	fl.StringVar(&g.region, "region", "", "must be the topology's region")
	fl.StringVar(&g.profile, "profile", "", "accepted and ignored (the topology's own credentials are used)")
	fl.BoolVar(&g.noPager, "no-cli-pager", false, "accepted (vpcnet never pages)")
	fl.BoolVar(&g.noPaginate, "no-paginate", false, "accepted (vpcnet answers in one page unless --max-results)")
	fl.StringVar(&g.cliInputJSON, "cli-input-json", "", "EC2's parameters by member name as a JSON object (file://path); flags override it")
	fl.StringVar(&g.topo, "topology", "", "topology name (default: the only one up)")
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

// runOperation parses an EC2 command's arguments, builds its request, sends
// it and prints the answer.
func runOperation(cmd *cobra.Command, op operation, args []string, vals map[string]*string, lists map[string]*[]string,
	bools map[string]*bool, members []*memberFlag, g *globalOpts) error {
	multi := map[string]bool{}
	for f := range lists {
		multi[f] = true
	}
	for _, f := range members {
		if f.member.Shape.Type() == "list" {
			multi[f.name] = true
		}
	}
	if err := cmd.Flags().Parse(expandLists(args, multi)); err != nil {
		return usageErr("%v", err)
	}
	if help, _ := cmd.Flags().GetBool("help"); help {
		return cmd.Help()
	}
	if rest := cmd.Flags().Args(); len(rest) > 0 {
		return usageErr("Unknown options: %s", strings.Join(rest, ", "))
	}
	cmd.DisableFlagParsing = false // else cobra skips the check
	err := cmd.ValidateFlagGroups()
	cmd.DisableFlagParsing = true
	if err != nil {
		return usageErr("%v", err)
	}
	if !slices.Contains(outputs, g.output) {
		return usageErr("--output %q: must be one of %s", g.output, strings.Join(outputs, ", "))
	}
	expr, err := compileQuery(g.query)
	if err != nil {
		return err
	}
	call := cliCall{topo: g.topo, region: g.region, api: op.api, newStyle: g.cliInputJSON != ""}
	for _, f := range members {
		call.newStyle = call.newStyle || f.given()
	}
	if call.flags, err = buildRequest(op, vals, lists, bools, !call.newStyle); err != nil {
		return err
	}
	if before := beforeTyped[op.api]; before != nil {
		if err := before(&call, members); err != nil {
			return err
		}
	}
	if call.input, err = typedRequest(op, call.flags, members, g.cliInputJSON); err != nil {
		return err
	}
	out, err := sendOp(call)
	if err != nil {
		return err
	}
	if out == nil { // EC2 answers nothing (DeleteNetworkAclEntry …): the AWS CLI prints nothing
		return nil
	}
	return printAnswer(cmd.OutOrStdout(), op.api, out, g.output, expr, g.query)
}

// buildRequest turns an operation's existing flags into its request:
// string flags as given (file://path read), list flags joined with commas,
// a set boolean as "true" (or X=false for --no-X). With checks, the flags
// an operation requires are required here (MissingParameter, as EC2 would
// answer); a command given EC2's members by their own flags or
// --cli-input-json is held to EC2's model instead (validateInput).
func buildRequest(op operation, vals map[string]*string, lists map[string]*[]string, bools map[string]*bool, checks bool) (flagRequest, error) {
	req := flagRequest{}
	for k, v := range vals {
		if *v != "" {
			s, _, err := readParamFile(k, *v)
			if err != nil {
				return nil, err
			}
			req[k] = s
		}
	}
	for k, v := range lists {
		if len(*v) > 0 {
			parts := make([]string, len(*v))
			for i, p := range *v {
				s, _, err := readParamFile(k, p)
				if err != nil {
					return nil, err
				}
				parts[i] = s
			}
			req[k] = strings.Join(parts, ",")
		}
	}
	if checks {
		for _, k := range op.required {
			if req[k] == "" {
				return nil, &exitError{exitAWSUsage, awsMessage(op.api, &daemon.OpError{Code: "MissingParameter", Message: "The request must contain the parameter --" + k})}
			}
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
	if checks && bools["ingress"] != nil && *bools["ingress"] == *bools["egress"] {
		return nil, &exitError{exitAWSUsage, awsMessage(op.api, &daemon.OpError{Code: "MissingParameter", Message: "Give exactly one of --ingress and --egress"})}
	}
	return req, nil
}

// sendOp posts a request to the daemon of its topology (default: the only
// one up) and returns the answer as decoded JSON. Tests replace it.
var sendOp = func(c cliCall) (any, error) {
	t, err := pickTopology(c.topo)
	if err != nil {
		return nil, err
	}
	if err := checkRegion(t, c.region); err != nil {
		return nil, err
	}
	var out any
	timeout := daemon.OpTimeout
	if daemon.IsReadOnly(c.api) {
		timeout = daemon.ReadTimeout // a frozen forwarder is said to be so in seconds
	}
	if err := daemon.NewClient(t).PostTimeout("/op/"+c.api, c.input, &out, timeout); err != nil {
		return nil, awsError(c.api, err)
	}
	return out, nil
}

// topologyRegion is the region of topology t (its AWS config file).
// Tests replace it.
var topologyRegion = func(t string) (string, error) {
	acc, err := daemon.ReadAccess(t)
	return acc.Region, err
}

// checkRegion holds --region to topology t's region: the AWS CLI would
// send the request to that region's endpoint, which is not this network.
func checkRegion(t, region string) error {
	if region == "" {
		return nil
	}
	have, err := topologyRegion(t)
	if err != nil {
		return &exitError{exitAWSOther, fmt.Errorf("topology %s: its region: %w", t, err)}
	}
	if have != region {
		return usageErr("--region %s: topology %s is in region %s", region, t, have)
	}
	return nil
}

// awsMessage words an EC2 error as the AWS CLI prints it; other errors are
// returned as they are.
func awsMessage(api string, err error) error {
	var oe *daemon.OpError
	if errors.As(err, &oe) {
		return fmt.Errorf("An error occurred (%s) when calling the %s operation: %s", oe.Code, api, strings.TrimSpace(oe.Message))
	}
	return err
}

// awsError is the error of a request the daemon refused (an EC2 error
// code: exit 254) or did not answer (exit 255).
func awsError(api string, err error) error {
	var oe *daemon.OpError
	if errors.As(err, &oe) {
		return &exitError{exitAWSService, awsMessage(api, err)}
	}
	return &exitError{exitAWSOther, err}
}
