package ec2

import (
	"crypto/rand"
	"encoding/hex"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vpcnet/vpcnet/dataplane"
	"github.com/vpcnet/vpcnet/dataplane/header"
	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

// Path analysis (OBS-3) as Reachability Analyzer has it: a path
// (CreateNetworkInsightsPath: source, destination, protocol, port) is kept,
// and each StartNetworkInsightsAnalysis of it answers at once, from the
// forwarder's tables (dataplane.Forwarder.ExplainPath), with EC2's
// PathComponents and Explanations and Reachability Analyzer's explanation
// codes. vpcnet's extensions: Source and Destination take names as well as
// ids, an internet host by its name, and Destination an IPv4 address (an
// Elastic IP, say). Paths and analyses are the account's, not topo.json's:
// they live as long as the daemon, like key pairs.
//
// A path through an appliance (a route to an ENI or instance whose
// source/dest check is off: a NAT instance, a firewall) is analysed as if
// the appliance forwarded the traffic unchanged, which is all the tables
// say; the analysis's WarningMessage names the appliance, and a path
// blocked after it is not a definite "no": its first explanation is
// APPLIANCE_BEHAVIOR_UNKNOWN with the appliance's NetworkInterface, the
// blocks after it holding only if the appliance does not translate
// (dataplane/explain.go).
func init() {
	Define("CreateNetworkInsightsPath", Mutating, (*Service).createNetworkInsightsPath)
	Define("DescribeNetworkInsightsPaths", ReadOnly, (*Service).describeNetworkInsightsPaths)
	Define("DeleteNetworkInsightsPath", Mutating, (*Service).deleteNetworkInsightsPath)
	Define("StartNetworkInsightsAnalysis", ReadOnly, (*Service).startNetworkInsightsAnalysis)
	Define("DescribeNetworkInsightsAnalyses", ReadOnly, (*Service).describeNetworkInsightsAnalyses)
	Define("DeleteNetworkInsightsAnalysis", Mutating, (*Service).deleteNetworkInsightsAnalysis)
}

// insightStore holds the paths and analyses, in the order they were made.
type insightStore struct {
	paths    []*types.NetworkInsightsPath
	analyses []*types.NetworkInsightsAnalysis
}

// clone is a copy that a dry run may change freely (the answers in it are
// never changed in place, so sharing them is safe).
func (s *insightStore) clone() *insightStore {
	if s == nil {
		return &insightStore{}
	}
	return &insightStore{paths: slices.Clone(s.paths), analyses: slices.Clone(s.analyses)}
}

// insights returns d's store, made on first use.
func (d *Service) insights() *insightStore {
	if d.insight == nil {
		d.insight = &insightStore{}
	}
	return d.insight
}

func (d *Service) newInsightID(prefix string) string {
	for {
		var b [9]byte
		rand.Read(b[:])
		id := prefix + hex.EncodeToString(b[:])[:17]
		if d.insightPath(id) == nil && d.insightAnalysis(id) == nil {
			return id
		}
	}
}

func (d *Service) insightArn(kind, id string) *string {
	return ptr("arn:aws:ec2:" + d.net.Region + ":" + d.net.AccountID() + ":" + kind + "/" + id)
}

func (d *Service) insightPath(id string) *types.NetworkInsightsPath {
	for _, p := range d.insights().paths {
		if deref(p.NetworkInsightsPathId) == id {
			return p
		}
	}
	return nil
}

func (d *Service) insightAnalysis(id string) *types.NetworkInsightsAnalysis {
	for _, a := range d.insights().analyses {
		if deref(a.NetworkInsightsAnalysisId) == id {
			return a
		}
	}
	return nil
}

// insightTags checks the tags of a new path or analysis.
func insightTags(specs []types.TagSpecification, rt types.ResourceType) ([]types.Tag, error) {
	var out []types.Tag
	for i, s := range specs {
		if s.ResourceType != rt {
			return nil, opErr("InvalidParameterValue", "TagSpecifications.%d: '%s' is not a valid taggable resource type for this operation: use %s", i+1, s.ResourceType, rt)
		}
		out = append(out, s.Tags...)
	}
	if err := checkTags(out, true); err != nil {
		return nil, err
	}
	return out, nil
}

// --- CreateNetworkInsightsPath ---------------------------------------------------------

func (d *Service) createNetworkInsightsPath(in *types.CreateNetworkInsightsPathRequest) (*types.CreateNetworkInsightsPathResult, error) {
	if in.Protocol != types.ProtocolTcp && in.Protocol != types.ProtocolUdp {
		return nil, opErr("InvalidParameterValue", "Invalid value '%s' for Protocol: a path is tcp or udp", in.Protocol)
	}
	if in.DestinationPort != nil && (*in.DestinationPort < 0 || *in.DestinationPort > 65535) {
		return nil, opErr("InvalidParameterValue", "Invalid value '%d' for DestinationPort: 0-65535", *in.DestinationPort)
	}
	if in.SourceIp != nil {
		return nil, opErr("InvalidParameterValue", "SourceIp: vpcnet analyses from the source's own primary address; give none")
	}
	if _, err := d.pathSource(in.Source); err != nil {
		return nil, err
	}
	if in.DestinationIp != nil {
		if a, err := netip.ParseAddr(*in.DestinationIp); err != nil || !a.Is4() {
			return nil, opErr("InvalidParameterValue", "Invalid value '%s' for DestinationIp: an IPv4 address", *in.DestinationIp)
		}
	}
	if _, err := d.pathDestination(in.Destination, false); err != nil {
		return nil, err
	}
	tags, err := insightTags(in.TagSpecifications, types.ResourceTypeNetworkInsightsPath)
	if err != nil {
		return nil, err
	}
	id := d.newInsightID("nip-")
	p := &types.NetworkInsightsPath{
		NetworkInsightsPathId: ptr(id), NetworkInsightsPathArn: d.insightArn("network-insights-path", id),
		CreatedDate: ptr(time.Now().UTC().Truncate(time.Millisecond)),
		Source:      ptr(in.Source), Destination: ptr(in.Destination), DestinationIp: in.DestinationIp,
		Protocol: in.Protocol, DestinationPort: in.DestinationPort, Tags: tags,
	}
	if arn := d.resourceArn(in.Source); arn != nil {
		p.SourceArn = arn
	}
	if arn := d.resourceArn(in.Destination); arn != nil {
		p.DestinationArn = arn
	}
	s := d.insights()
	s.paths = append(s.paths, p)
	return &types.CreateNetworkInsightsPathResult{NetworkInsightsPath: p}, nil
}

// resourceArn is the ARN of the instance or network interface ref names,
// nil for an internet host or an address.
func (d *Service) resourceArn(ref string) *string {
	if i, err := d.findInstance(ref); err == nil {
		return d.insightArn("instance", i.ID)
	}
	if e, err := d.findENI(ref); err == nil {
		return d.insightArn("network-interface", e.ID)
	}
	return nil
}

// --- DescribeNetworkInsightsPaths / DeleteNetworkInsightsPath --------------------------

var pathFilters = filters[types.NetworkInsightsPath]{
	"destination":      func(p *types.NetworkInsightsPath) []string { return []string{deref(p.Destination)} },
	"destination-port": func(p *types.NetworkInsightsPath) []string { return portStrings(p.DestinationPort) },
	"protocol":         func(p *types.NetworkInsightsPath) []string { return []string{string(p.Protocol)} },
	"source":           func(p *types.NetworkInsightsPath) []string { return []string{deref(p.Source)} },
	"destination-ip":   func(p *types.NetworkInsightsPath) []string { return []string{deref(p.DestinationIp)} },
}

func portStrings(p *int32) []string {
	if p == nil {
		return nil
	}
	return []string{strconv.Itoa(int(*p))}
}

func (d *Service) describeNetworkInsightsPaths(in *types.DescribeNetworkInsightsPathsRequest) (*types.DescribeNetworkInsightsPathsResult, error) {
	all := make([]types.NetworkInsightsPath, 0, len(d.insights().paths))
	for _, p := range d.insights().paths {
		all = append(all, *p)
	}
	items, err := byIDs(all, in.NetworkInsightsPathIds, func(p *types.NetworkInsightsPath) string { return deref(p.NetworkInsightsPathId) },
		func(id string) error { return pathNotFound(id) })
	if err != nil {
		return nil, err
	}
	if items, err = selectItems(items, in.Filters, pathFilters, func(p *types.NetworkInsightsPath) []types.Tag { return p.Tags }); err != nil {
		return nil, err
	}
	out, next, err := page(items, in.MaxResults, in.NextToken, 1, 1000)
	if err != nil {
		return nil, err
	}
	return &types.DescribeNetworkInsightsPathsResult{NetworkInsightsPaths: out, NextToken: next}, nil
}

func pathNotFound(id string) error {
	return opErr("InvalidNetworkInsightsPathId.NotFound", "The NetworkInsightsPath ID '%s' does not exist", id)
}

func analysisNotFound(id string) error {
	return opErr("InvalidNetworkInsightsAnalysisId.NotFound", "The NetworkInsightsAnalysis ID '%s' does not exist", id)
}

// deleteNetworkInsightsPath deletes a path; EC2 refuses while analyses of
// it remain.
func (d *Service) deleteNetworkInsightsPath(in *types.DeleteNetworkInsightsPathRequest) (*types.DeleteNetworkInsightsPathResult, error) {
	id := in.NetworkInsightsPathId
	if d.insightPath(id) == nil {
		return nil, pathNotFound(id)
	}
	s := d.insights()
	if slices.ContainsFunc(s.analyses, func(a *types.NetworkInsightsAnalysis) bool { return deref(a.NetworkInsightsPathId) == id }) {
		return nil, opErr("DependencyViolation", "The NetworkInsightsPath '%s' has analyses: delete them first", id)
	}
	s.paths = slices.DeleteFunc(slices.Clone(s.paths), func(p *types.NetworkInsightsPath) bool { return deref(p.NetworkInsightsPathId) == id })
	return &types.DeleteNetworkInsightsPathResult{NetworkInsightsPathId: ptr(id)}, nil
}

// --- StartNetworkInsightsAnalysis ------------------------------------------------------

func (d *Service) startNetworkInsightsAnalysis(in *types.StartNetworkInsightsAnalysisRequest) (*types.StartNetworkInsightsAnalysisResult, error) {
	p := d.insightPath(in.NetworkInsightsPathId)
	if p == nil {
		return nil, pathNotFound(in.NetworkInsightsPathId)
	}
	if len(in.AdditionalAccounts) > 0 || len(in.FilterInArns) > 0 {
		return nil, opErr("InvalidParameterValue", "vpcnet's network is one account's: AdditionalAccounts and FilterInArns are not taken")
	}
	tags, err := insightTags(in.TagSpecifications, types.ResourceTypeNetworkInsightsAnalysis)
	if err != nil {
		return nil, err
	}
	src, err := d.pathSource(deref(p.Source))
	if err != nil {
		return nil, err
	}
	dst, err := d.pathDestination(deref(p.Destination), d.findHost(deref(p.Source)) != nil)
	if err != nil {
		return nil, err
	}
	if p.DestinationIp != nil {
		dst = netip.MustParseAddr(*p.DestinationIp) // checked by CreateNetworkInsightsPath
	}
	proto := uint8(header.ProtoTCP)
	if p.Protocol == types.ProtocolUdp {
		proto = header.ProtoUDP
	}
	port := uint16(deref(p.DestinationPort))
	if port == 0 {
		return nil, opErr("InvalidParameterValue", "path %s: a TCP or UDP path needs a DestinationPort 1-65535", deref(p.NetworkInsightsPathId))
	}
	pa, err := d.k.ExplainPath(src, dst, proto, port)
	if err != nil {
		return nil, opErr("InvalidParameterValue", "%v", err)
	}
	id := d.newInsightID("nia-")
	a := &types.NetworkInsightsAnalysis{
		NetworkInsightsAnalysisId: ptr(id), NetworkInsightsAnalysisArn: d.insightArn("network-insights-analysis", id),
		NetworkInsightsPathId: p.NetworkInsightsPathId, StartDate: ptr(time.Now().UTC().Truncate(time.Millisecond)),
		Status: types.AnalysisStatusSucceeded, NetworkPathFound: ptr(pa.NetworkPathFound),
		ForwardPathComponents: d.pathComponents(pa.ForwardPathComponents),
		ReturnPathComponents:  d.pathComponents(pa.ReturnPathComponents),
		Explanations:          d.explanations(pa.Explanations),
		WarningMessage:        optional(pa.Warning),           // an appliance on the path (OBS-3)
		Tags:                  append([]types.Tag{}, tags...), // EC2 always answers the list
	}
	s := d.insights()
	s.analyses = append(s.analyses, a)
	return &types.StartNetworkInsightsAnalysisResult{NetworkInsightsAnalysis: a}, nil
}

// pathComponents maps the forwarder's hops onto EC2's PathComponents: a
// hop's component, and what EC2 has for it (the NACL rule that allowed, the
// security group's direction, the interface's subnet and VPC). A hop
// through several security groups is one component per group.
func (d *Service) pathComponents(hops []dataplane.PathComponent) []types.PathComponent {
	var out []types.PathComponent
	add := func(c types.PathComponent) {
		c.SequenceNumber = ptr(int32(len(out) + 1))
		out = append(out, c)
	}
	for _, h := range hops {
		c := types.PathComponent{Component: d.component(h.ID)}
		if h.Name != "" {
			c.Component.Name = ptr(h.Name)
		}
		switch h.Type {
		case "network-interface":
			if e, err := d.findENI(h.ID); err == nil && e.Subnet != nil {
				c.Subnet = d.component(e.Subnet.ID)
				if e.Subnet.VPC != nil {
					c.Vpc = d.component(e.Subnet.VPC.ID)
				}
			}
		case "security-group":
			dir := "ingress"
			if strings.HasPrefix(h.Detail, "outbound") {
				dir = "egress"
			}
			for _, g := range strings.Split(h.ID, ",") {
				add(types.PathComponent{Component: d.component(g),
					SecurityGroupRule: &types.AnalysisSecurityGroupRule{Direction: ptr(dir), SecurityGroupId: ptr(g)}})
			}
			continue
		case "network-acl":
			// Detail: "<ingress|egress> rule <n|*> allows" (explain.go).
			f := strings.Fields(h.Detail)
			if len(f) >= 3 {
				c.AclRule = &types.AnalysisAclRule{Egress: ptr(f[0] == "egress"), RuleNumber: ptr(aclRuleNumber(f[2])), RuleAction: ptr("allow")}
			}
		}
		add(c)
	}
	return out
}

// componentKinds are the ARN resource types of the components a path
// passes, by their ids' prefixes.
var componentKinds = map[string]string{"eni": "network-interface", "sg": "security-group", "rtb": "route-table",
	"acl": "network-acl", "nat": "natgateway", "igw": "internet-gateway", "subnet": "subnet", "vpc": "vpc"}

// component is the component of id with its ARN (EC2 always gives one);
// an internet host of vpcnet's, named by its name, is an internet-host.
func (d *Service) component(id string) *types.AnalysisComponent {
	prefix, _, _ := strings.Cut(id, "-")
	kind := componentKinds[prefix]
	if kind == "" {
		kind = "internet-host"
	}
	return &types.AnalysisComponent{Id: ptr(id), Arn: d.insightArn(kind, id)}
}

// aclRuleNumber reads a NACL rule as explain.go names it; "*" is EC2's
// default rule 32767.
func aclRuleNumber(s string) int32 {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 32767
	}
	return int32(n)
}

// explanations maps what blocks the path onto EC2's Explanations, with
// Reachability Analyzer's codes (dataplane/explain.go uses them).
func (d *Service) explanations(in []dataplane.Explanation) []types.Explanation {
	out := []types.Explanation{} // EC2 always answers the list
	for _, x := range in {
		c := d.component(x.ComponentID)
		e := types.Explanation{ExplanationCode: ptr(x.ExplanationCode), Component: c}
		if x.Direction != "" {
			e.Direction = ptr(x.Direction)
		}
		switch x.ExplanationCode {
		case "SUBNET_ACL_RESTRICTION":
			rule := int32(x.RuleNumber)
			e.Acl = c
			e.AclRule = &types.AnalysisAclRule{Egress: ptr(x.Direction == "egress"), RuleNumber: &rule, RuleAction: ptr("deny")}
		case "ENI_SG_RULES_MISMATCH", "ENI_SOURCE_DEST_CHECK", "BAD_STATE", dataplane.ApplianceUnknown:
			e.NetworkInterface = c
			if en, err := d.findENI(x.ComponentID); err == nil && x.ExplanationCode == "ENI_SG_RULES_MISMATCH" {
				for _, g := range en.Groups {
					sg := d.component(g.ID)
					sg.Name = ptr(g.Name)
					e.SecurityGroups = append(e.SecurityGroups, *sg)
				}
			}
		case "NO_ROUTE_TO_DESTINATION", "BAD_STATE_ROUTE":
			e.RouteTable = c
		case "IGW_NO_PUBLIC_ADDRESS":
			if strings.HasPrefix(x.ComponentID, "igw-") {
				e.InternetGateway = c
			}
		}
		out = append(out, e)
	}
	return out
}

// optional is s, or nil for "".
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// --- DescribeNetworkInsightsAnalyses / DeleteNetworkInsightsAnalysis --------------------

var analysisFilters = filters[types.NetworkInsightsAnalysis]{
	"path-found": func(a *types.NetworkInsightsAnalysis) []string {
		return []string{boolString(deref(a.NetworkPathFound))}
	},
	"status": func(a *types.NetworkInsightsAnalysis) []string { return []string{string(a.Status)} },
}

func (d *Service) describeNetworkInsightsAnalyses(in *types.DescribeNetworkInsightsAnalysesRequest) (*types.DescribeNetworkInsightsAnalysesResult, error) {
	all := make([]types.NetworkInsightsAnalysis, 0, len(d.insights().analyses))
	for _, a := range d.insights().analyses {
		if in.NetworkInsightsPathId != nil && deref(a.NetworkInsightsPathId) != *in.NetworkInsightsPathId {
			continue
		}
		start := deref(a.StartDate)
		if (in.AnalysisStartTime != nil && start.Before(*in.AnalysisStartTime)) || (in.AnalysisEndTime != nil && start.After(*in.AnalysisEndTime)) {
			continue
		}
		all = append(all, *a)
	}
	items, err := byIDs(all, in.NetworkInsightsAnalysisIds, func(a *types.NetworkInsightsAnalysis) string { return deref(a.NetworkInsightsAnalysisId) },
		func(id string) error { return analysisNotFound(id) })
	if err != nil {
		return nil, err
	}
	if items, err = selectItems(items, in.Filters, analysisFilters, func(a *types.NetworkInsightsAnalysis) []types.Tag { return a.Tags }); err != nil {
		return nil, err
	}
	out, next, err := page(items, in.MaxResults, in.NextToken, 1, 100)
	if err != nil {
		return nil, err
	}
	return &types.DescribeNetworkInsightsAnalysesResult{NetworkInsightsAnalyses: out, NextToken: next}, nil
}

func (d *Service) deleteNetworkInsightsAnalysis(in *types.DeleteNetworkInsightsAnalysisRequest) (*types.DeleteNetworkInsightsAnalysisResult, error) {
	id := in.NetworkInsightsAnalysisId
	if d.insightAnalysis(id) == nil {
		return nil, analysisNotFound(id)
	}
	s := d.insights()
	s.analyses = slices.DeleteFunc(slices.Clone(s.analyses), func(a *types.NetworkInsightsAnalysis) bool { return deref(a.NetworkInsightsAnalysisId) == id })
	return &types.DeleteNetworkInsightsAnalysisResult{NetworkInsightsAnalysisId: ptr(id)}, nil
}

// --- Sources and destinations --------------------------------------------------------

// pathSource resolves an instance (its primary ENI), an ENI, or an internet
// host, by id or name.
func (d *Service) pathSource(ref string) (string, error) {
	if ref == "" {
		return "", opErr("MissingParameter", "The request must contain the parameter Source")
	}
	if i, err := d.findInstance(ref); err == nil {
		return i.Primary().ID, nil
	}
	if e, err := d.findENI(ref); err == nil {
		return e.ID, nil
	}
	if h := d.findHost(ref); h != nil {
		return h.Name, nil
	}
	return "", opErr("InvalidParameterValue", "Source '%s' is no instance, network interface or internet host", ref)
}

// pathDestination resolves an instance or ENI (its primary private IP, or
// from the internet its public IP), an internet host (its IP), or an IPv4
// address as given (an Elastic IP, say).
func (d *Service) pathDestination(ref string, fromInternet bool) (netip.Addr, error) {
	if ref == "" {
		return netip.Addr{}, opErr("MissingParameter", "The request must contain the parameter Destination")
	}
	if a, err := netip.ParseAddr(ref); err == nil && a.Is4() {
		return a, nil
	}
	var e *topology.ENI
	if i, err := d.findInstance(ref); err == nil {
		e = i.Primary()
	} else if x, err := d.findENI(ref); err == nil {
		e = x
	}
	if e != nil {
		if pub, ok := e.PublicIPs[e.PrimaryIP]; ok && fromInternet {
			return pub, nil
		}
		if !e.PrimaryIP.IsValid() {
			return netip.Addr{}, opErr("InvalidParameterValue", "Destination '%s' has no address", ref)
		}
		return e.PrimaryIP, nil
	}
	if h := d.findHost(ref); h != nil {
		return h.IP, nil
	}
	return netip.Addr{}, opErr("InvalidParameterValue", "Destination '%s' is no instance, network interface, internet host or IPv4 address", ref)
}

func (d *Service) findHost(ref string) *topology.Host {
	for _, h := range append(d.net.OnPremHosts(), d.net.Hosts...) {
		if h.Name == ref || h.IP.String() == ref {
			return h
		}
	}
	return nil
}
