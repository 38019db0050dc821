package ec2

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

// Traffic Mirroring (issue 14): targets, filters and their rules, sessions,
// with EC2's inputs, answers and codes. The rules TM-1 … TM-6 are
// topology/mirror.go's; the forwarder mirrors (dataplane/mirror.go).

func init() {
	Define("CreateTrafficMirrorTarget", Mutating, (*Service).createTrafficMirrorTarget)
	Define("DeleteTrafficMirrorTarget", Mutating, (*Service).deleteTrafficMirrorTarget)
	Define("DescribeTrafficMirrorTargets", ReadOnly, (*Service).describeTrafficMirrorTargets)
	Define("CreateTrafficMirrorFilter", Mutating, (*Service).createTrafficMirrorFilter)
	Define("DeleteTrafficMirrorFilter", Mutating, (*Service).deleteTrafficMirrorFilter)
	Define("DescribeTrafficMirrorFilters", ReadOnly, (*Service).describeTrafficMirrorFilters)
	Define("CreateTrafficMirrorFilterRule", Mutating, (*Service).createTrafficMirrorFilterRule)
	Define("DeleteTrafficMirrorFilterRule", Mutating, (*Service).deleteTrafficMirrorFilterRule)
	Define("CreateTrafficMirrorSession", Mutating, (*Service).createTrafficMirrorSession)
	Define("DeleteTrafficMirrorSession", Mutating, (*Service).deleteTrafficMirrorSession)
	Define("DescribeTrafficMirrorSessions", ReadOnly, (*Service).describeTrafficMirrorSessions)
}

// --- lookups -------------------------------------------------------------------

func (d *Service) findMirrorTarget(ref string) (*topology.MirrorTarget, error) {
	for _, t := range d.net.LiveMirrorTargets() {
		if t.ID == ref || t.Name == ref {
			return t, nil
		}
	}
	// EC2's own spelling of this code.
	return nil, opErr("InvalidTrafficMirrorTargetNoFound", "The traffic mirror target '%s' does not exist", ref)
}

func (d *Service) findMirrorFilter(ref string) (*topology.MirrorFilter, error) {
	for _, f := range d.net.Mirroring.Filters {
		if f.ID == ref || f.Name == ref {
			return f, nil
		}
	}
	return nil, opErr("InvalidTrafficMirrorFilterNotFound", "The traffic mirror filter '%s' does not exist", ref)
}

func (d *Service) findMirrorSession(ref string) (*topology.MirrorSession, error) {
	for _, s := range d.net.LiveMirrorSessions() {
		if s.ID == ref || s.Name == ref {
			return s, nil
		}
	}
	return nil, opErr("InvalidTrafficMirrorSessionNotFound", "The traffic mirror session '%s' does not exist", ref)
}

// mirrorENI finds a source or target interface: an instance's (or a
// standalone) interface, never a requester-managed one (TM-1).
func (d *Service) mirrorENI(ref string) (*topology.ENI, error) {
	if ref == "" {
		return nil, opErr("MissingParameter", "The request must contain the parameter NetworkInterfaceId")
	}
	e, err := d.findENI(ref)
	if err != nil {
		return nil, err
	}
	if e.Kind != topology.ENICompute {
		return nil, opErr("InvalidParameterValue", "Network interface %s is requester-managed: traffic mirroring takes an interface of type interface (TM-1)", e.ID)
	}
	return e, nil
}

// --- targets (TM-1) ------------------------------------------------------------

func (d *Service) createTrafficMirrorTarget(in *types.CreateTrafficMirrorTargetRequest) (*types.CreateTrafficMirrorTargetResult, error) {
	switch {
	case in.NetworkLoadBalancerArn != nil:
		return nil, opErr("Unsupported", "vpcnet has no Network Load Balancer: a traffic mirror target is a network interface")
	case in.GatewayLoadBalancerEndpointId != nil:
		return nil, opErr("Unsupported", "vpcnet has no Gateway Load Balancer endpoint: a traffic mirror target is a network interface")
	}
	if err := unsupported(in, "NetworkInterfaceId", "Description", "TagSpecifications"); err != nil {
		return nil, err
	}
	e, err := d.mirrorENI(deref(in.NetworkInterfaceId))
	if err != nil {
		return nil, err
	}
	if err := checkDescription(in.Description); err != nil {
		return nil, err
	}
	name, err := d.nameFromSpecs(in.TagSpecifications, types.ResourceTypeTrafficMirrorTarget, "tmt", topology.KindMirrorTarget)
	if err != nil {
		return nil, err
	}
	t := &topology.MirrorTarget{Name: name, ID: d.net.NewID("tmt", name), Description: deref(in.Description), ENI: e}
	m := &d.net.Mirroring
	m.Targets = append(slices.Clone(m.Targets), t)
	x := d.mirrorTargetOf(t)
	return &types.CreateTrafficMirrorTargetResult{TrafficMirrorTarget: &x, ClientToken: clientToken(in.ClientToken)}, nil
}

func (d *Service) deleteTrafficMirrorTarget(in *types.DeleteTrafficMirrorTargetRequest) (*types.DeleteTrafficMirrorTargetResult, error) {
	t, err := d.findMirrorTarget(in.TrafficMirrorTargetId)
	if err != nil {
		return nil, err
	}
	for _, s := range d.net.LiveMirrorSessions() {
		if s.Target == t {
			return nil, opErr("TrafficMirrorTargetInUseException", "The traffic mirror target %s is used by traffic mirror session %s (TM-1)", t.ID, s.ID)
		}
	}
	m := &d.net.Mirroring
	m.Targets = slices.DeleteFunc(slices.Clone(m.Targets), func(x *topology.MirrorTarget) bool { return x == t })
	return &types.DeleteTrafficMirrorTargetResult{TrafficMirrorTargetId: ptr(t.ID)}, nil
}

func (d *Service) mirrorTargetOf(t *topology.MirrorTarget) types.TrafficMirrorTarget {
	return types.TrafficMirrorTarget{TrafficMirrorTargetId: ptr(t.ID), NetworkInterfaceId: ptr(t.ENI.ID),
		Type: types.TrafficMirrorTargetTypeNetworkInterface, Description: ptr(t.Description),
		// EC2's answers always carry the member; a network interface target has none.
		NetworkLoadBalancerArn: ptr(""),
		OwnerId:                ptr(d.net.AccountID()), Tags: nameTags(t.Name)}
}

var mirrorTargetFilters = filters[types.TrafficMirrorTarget]{
	"description":               func(t *types.TrafficMirrorTarget) []string { return one(t.Description) },
	"network-interface-id":      func(t *types.TrafficMirrorTarget) []string { return one(t.NetworkInterfaceId) },
	"network-load-balancer-arn": func(t *types.TrafficMirrorTarget) []string { return one(t.NetworkLoadBalancerArn) },
	"owner-id":                  func(t *types.TrafficMirrorTarget) []string { return one(t.OwnerId) },
	"traffic-mirror-target-id":  func(t *types.TrafficMirrorTarget) []string { return one(t.TrafficMirrorTargetId) },
}

func (d *Service) describeTrafficMirrorTargets(in *types.DescribeTrafficMirrorTargetsRequest) (*types.DescribeTrafficMirrorTargetsResult, error) {
	var all []types.TrafficMirrorTarget
	for _, t := range d.net.LiveMirrorTargets() {
		all = append(all, d.mirrorTargetOf(t))
	}
	sortBy(all, func(t *types.TrafficMirrorTarget) *string { return t.TrafficMirrorTargetId })
	all, err := byIDs(all, in.TrafficMirrorTargetIds, func(t *types.TrafficMirrorTarget) string { return *t.TrafficMirrorTargetId },
		func(id string) error { _, err := d.findMirrorTarget(id); return err })
	if err != nil {
		return nil, err
	}
	out, err := selectItems(all, in.Filters, mirrorTargetFilters, func(t *types.TrafficMirrorTarget) []types.Tag { return t.Tags })
	if err != nil {
		return nil, err
	}
	out, next, err := page(out, in.MaxResults, in.NextToken, 5, 1000)
	if err != nil {
		return nil, err
	}
	return &types.DescribeTrafficMirrorTargetsResult{TrafficMirrorTargets: append([]types.TrafficMirrorTarget{}, out...), NextToken: next}, nil
}

// --- filters and rules (TM-2) --------------------------------------------------

func (d *Service) createTrafficMirrorFilter(in *types.CreateTrafficMirrorFilterRequest) (*types.CreateTrafficMirrorFilterResult, error) {
	if err := checkDescription(in.Description); err != nil {
		return nil, err
	}
	name, err := d.nameFromSpecs(in.TagSpecifications, types.ResourceTypeTrafficMirrorFilter, "tmf", topology.KindMirrorFilter)
	if err != nil {
		return nil, err
	}
	f := &topology.MirrorFilter{Name: name, ID: d.net.NewID("tmf", name), Description: deref(in.Description)}
	m := &d.net.Mirroring
	m.Filters = append(slices.Clone(m.Filters), f)
	x := d.mirrorFilterOf(f)
	return &types.CreateTrafficMirrorFilterResult{TrafficMirrorFilter: &x, ClientToken: clientToken(in.ClientToken)}, nil
}

func (d *Service) deleteTrafficMirrorFilter(in *types.DeleteTrafficMirrorFilterRequest) (*types.DeleteTrafficMirrorFilterResult, error) {
	f, err := d.findMirrorFilter(in.TrafficMirrorFilterId)
	if err != nil {
		return nil, err
	}
	for _, s := range d.net.LiveMirrorSessions() {
		if s.Filter == f {
			return nil, opErr("TrafficMirrorFilterInUse", "The traffic mirror filter %s is used by traffic mirror session %s (TM-1)", f.ID, s.ID)
		}
	}
	m := &d.net.Mirroring
	m.Filters = slices.DeleteFunc(slices.Clone(m.Filters), func(x *topology.MirrorFilter) bool { return x == f })
	return &types.DeleteTrafficMirrorFilterResult{TrafficMirrorFilterId: ptr(f.ID)}, nil
}

func (d *Service) mirrorFilterOf(f *topology.MirrorFilter) types.TrafficMirrorFilter {
	x := types.TrafficMirrorFilter{TrafficMirrorFilterId: ptr(f.ID), Description: ptr(f.Description), Tags: nameTags(f.Name),
		IngressFilterRules: []types.TrafficMirrorFilterRule{}, EgressFilterRules: []types.TrafficMirrorFilterRule{},
		NetworkServices: []types.TrafficMirrorNetworkService{}}
	if f.AmazonDNS {
		x.NetworkServices = append(x.NetworkServices, types.TrafficMirrorNetworkServiceAmazonDns)
	}
	for _, r := range f.Ingress {
		x.IngressFilterRules = append(x.IngressFilterRules, mirrorRuleOf(f, r))
	}
	for _, r := range f.Egress {
		x.EgressFilterRules = append(x.EgressFilterRules, mirrorRuleOf(f, r))
	}
	return x
}

func mirrorRuleOf(f *topology.MirrorFilter, r topology.MirrorRule) types.TrafficMirrorFilterRule {
	x := types.TrafficMirrorFilterRule{TrafficMirrorFilterRuleId: ptr(r.ID), TrafficMirrorFilterId: ptr(f.ID),
		TrafficDirection: types.TrafficDirectionIngress, RuleNumber: ptr(int32(r.Number)), RuleAction: types.TrafficMirrorRuleActionReject,
		DestinationCidrBlock: ptr(r.Destination.String()), SourceCidrBlock: ptr(r.Source.String())}
	if r.Egress {
		x.TrafficDirection = types.TrafficDirectionEgress
	}
	if r.Accept {
		x.RuleAction = types.TrafficMirrorRuleActionAccept
	}
	if r.Protocol != topology.ProtoAll {
		x.Protocol = ptr(int32(r.Protocol))
	}
	x.Description = ptr(r.Description) // EC2 always answers it
	if r.SrcFrom >= 0 {
		x.SourcePortRange = &types.TrafficMirrorPortRange{FromPort: ptr(int32(r.SrcFrom)), ToPort: ptr(int32(r.SrcTo))}
	}
	if r.DstFrom >= 0 {
		x.DestinationPortRange = &types.TrafficMirrorPortRange{FromPort: ptr(int32(r.DstFrom)), ToPort: ptr(int32(r.DstTo))}
	}
	return x
}

var mirrorFilterFilters = filters[types.TrafficMirrorFilter]{
	"description":              func(f *types.TrafficMirrorFilter) []string { return one(f.Description) },
	"traffic-mirror-filter-id": func(f *types.TrafficMirrorFilter) []string { return one(f.TrafficMirrorFilterId) },
}

func (d *Service) describeTrafficMirrorFilters(in *types.DescribeTrafficMirrorFiltersRequest) (*types.DescribeTrafficMirrorFiltersResult, error) {
	var all []types.TrafficMirrorFilter
	for _, f := range d.net.Mirroring.Filters {
		all = append(all, d.mirrorFilterOf(f))
	}
	sortBy(all, func(f *types.TrafficMirrorFilter) *string { return f.TrafficMirrorFilterId })
	all, err := byIDs(all, in.TrafficMirrorFilterIds, func(f *types.TrafficMirrorFilter) string { return *f.TrafficMirrorFilterId },
		func(id string) error { _, err := d.findMirrorFilter(id); return err })
	if err != nil {
		return nil, err
	}
	out, err := selectItems(all, in.Filters, mirrorFilterFilters, func(f *types.TrafficMirrorFilter) []types.Tag { return f.Tags })
	if err != nil {
		return nil, err
	}
	out, next, err := page(out, in.MaxResults, in.NextToken, 5, 1000)
	if err != nil {
		return nil, err
	}
	return &types.DescribeTrafficMirrorFiltersResult{TrafficMirrorFilters: append([]types.TrafficMirrorFilter{}, out...), NextToken: next}, nil
}

// portRange reads a rule's port range: absent, any port (-1, -1); a bound
// left out is 0 or 65535.
func portRange(p *types.TrafficMirrorPortRangeRequest, what string) (from, to int, err error) {
	if p == nil {
		return -1, -1, nil
	}
	from, to = 0, 65535
	if p.FromPort != nil {
		from = int(*p.FromPort)
	}
	if p.ToPort != nil {
		to = int(*p.ToPort)
	}
	if from < 0 || to > 65535 || from > to {
		return 0, 0, opErr("InvalidParameterValue", "%s %d-%d: ports are 0–65535, FromPort at most ToPort", what, from, to)
	}
	return from, to, nil
}

// createTrafficMirrorFilterRule adds a rule to a filter (TM-2): its number
// unique in its direction, at most 10 rules in the filter.
func (d *Service) createTrafficMirrorFilterRule(in *types.CreateTrafficMirrorFilterRuleRequest) (*types.CreateTrafficMirrorFilterRuleResult, error) {
	if err := unsupported(in, "TrafficMirrorFilterId", "TrafficDirection", "RuleNumber", "RuleAction", "DestinationPortRange",
		"SourcePortRange", "Protocol", "DestinationCidrBlock", "SourceCidrBlock", "Description"); err != nil {
		return nil, err
	}
	if in.TrafficMirrorFilterId == "" {
		return nil, opErr("MissingParameter", "The request must contain the parameter TrafficMirrorFilterId")
	}
	f, err := d.findMirrorFilter(in.TrafficMirrorFilterId)
	if err != nil {
		return nil, err
	}
	r := topology.MirrorRule{Number: int(in.RuleNumber), Protocol: topology.ProtoAll, Description: deref(in.Description)}
	switch in.TrafficDirection {
	case types.TrafficDirectionIngress:
	case types.TrafficDirectionEgress:
		r.Egress = true
	case "":
		return nil, opErr("MissingParameter", "The request must contain the parameter TrafficDirection")
	default:
		return nil, opErr("InvalidParameterValue", "Value (%s) for parameter TrafficDirection is invalid: give ingress or egress", in.TrafficDirection)
	}
	switch in.RuleAction {
	case types.TrafficMirrorRuleActionAccept:
		r.Accept = true
	case types.TrafficMirrorRuleActionReject:
	case "":
		return nil, opErr("MissingParameter", "The request must contain the parameter RuleAction")
	default:
		return nil, opErr("InvalidParameterValue", "Value (%s) for parameter RuleAction is invalid: give accept or reject", in.RuleAction)
	}
	if in.RuleNumber == 0 {
		return nil, opErr("MissingParameter", "The request must contain the parameter RuleNumber")
	}
	if p := in.Protocol; p != nil {
		r.Protocol = int(*p)
	}
	for _, c := range []struct {
		name, v string
		dst     *netip.Prefix
	}{{"SourceCidrBlock", in.SourceCidrBlock, &r.Source}, {"DestinationCidrBlock", in.DestinationCidrBlock, &r.Destination}} {
		if c.v == "" {
			return nil, opErr("MissingParameter", "The request must contain the parameter %s", c.name)
		}
		p, err := netip.ParsePrefix(c.v)
		if err != nil || !p.Addr().Is4() {
			return nil, opErr("InvalidParameterValue", "Value (%s) for parameter %s is invalid: give an IPv4 CIDR block", c.v, c.name)
		}
		*c.dst = p.Masked()
	}
	if r.SrcFrom, r.SrcTo, err = portRange(in.SourcePortRange, "SourcePortRange"); err != nil {
		return nil, err
	}
	if r.DstFrom, r.DstTo, err = portRange(in.DestinationPortRange, "DestinationPortRange"); err != nil {
		return nil, err
	}
	if msg := topology.CheckMirrorRule(&r); msg != "" {
		return nil, opErr("InvalidParameterValue", "%s (TM-2)", msg)
	}
	if err := checkDescription(in.Description); err != nil {
		return nil, err
	}
	rules := f.Rules(r.Egress)
	for _, x := range rules {
		if x.Number == r.Number {
			return nil, opErr("TrafficMirrorFilterRuleAlreadyExists", "The %s rule number %d already exists in traffic mirror filter %s (TM-2)", fmt.Sprint(in.TrafficDirection), r.Number, f.ID)
		}
	}
	if len(f.Ingress)+len(f.Egress) >= topology.MaxMirrorRulesPerFilter {
		return nil, opErr("TrafficMirrorFilterRuleLimitExceeded", "Traffic mirror filter %s has %d rules, the most a filter holds (TM-2)", f.ID, topology.MaxMirrorRulesPerFilter)
	}
	r.ID = d.net.MirrorRuleID(f, r.Egress, r.Number)
	f.SetRules(r.Egress, append(slices.Clone(rules), r))
	x := mirrorRuleOf(f, r)
	return &types.CreateTrafficMirrorFilterRuleResult{TrafficMirrorFilterRule: &x, ClientToken: clientToken(in.ClientToken)}, nil
}

func (d *Service) deleteTrafficMirrorFilterRule(in *types.DeleteTrafficMirrorFilterRuleRequest) (*types.DeleteTrafficMirrorFilterRuleResult, error) {
	for _, f := range d.net.Mirroring.Filters {
		for _, egress := range []bool{false, true} {
			rules := f.Rules(egress)
			if i := slices.IndexFunc(rules, func(r topology.MirrorRule) bool { return r.ID == in.TrafficMirrorFilterRuleId }); i >= 0 {
				f.SetRules(egress, slices.Delete(slices.Clone(rules), i, i+1))
				return &types.DeleteTrafficMirrorFilterRuleResult{TrafficMirrorFilterRuleId: ptr(in.TrafficMirrorFilterRuleId)}, nil
			}
		}
	}
	return nil, opErr("InvalidTrafficMirrorFilterRuleNotFound", "The traffic mirror filter rule '%s' does not exist", in.TrafficMirrorFilterRuleId)
}

// --- sessions (TM-3, TM-4) -----------------------------------------------------

// createTrafficMirrorSession mirrors a source interface to a target through
// a filter, with AWS's rules: source and target differ and are in the same
// VPC or peered VPCs; a source has at most 3 sessions with distinct
// numbers; a target at most 10 sources; the VNI, when not given, is derived
// and unique.
func (d *Service) createTrafficMirrorSession(in *types.CreateTrafficMirrorSessionRequest) (*types.CreateTrafficMirrorSessionResult, error) {
	if err := unsupported(in, "NetworkInterfaceId", "TrafficMirrorTargetId", "TrafficMirrorFilterId", "PacketLength",
		"SessionNumber", "VirtualNetworkId", "Description", "TagSpecifications"); err != nil {
		return nil, err
	}
	src, err := d.mirrorENI(in.NetworkInterfaceId)
	if err != nil {
		return nil, err
	}
	if in.TrafficMirrorTargetId == "" {
		return nil, opErr("MissingParameter", "The request must contain the parameter TrafficMirrorTargetId")
	}
	t, err := d.findMirrorTarget(in.TrafficMirrorTargetId)
	if err != nil {
		return nil, err
	}
	if in.TrafficMirrorFilterId == "" {
		return nil, opErr("MissingParameter", "The request must contain the parameter TrafficMirrorFilterId")
	}
	f, err := d.findMirrorFilter(in.TrafficMirrorFilterId)
	if err != nil {
		return nil, err
	}
	if in.SessionNumber < 1 || in.SessionNumber > topology.MaxMirrorNumber {
		return nil, opErr("InvalidParameterValue", "Value (%d) for parameter SessionNumber is invalid: give 1–%d", in.SessionNumber, topology.MaxMirrorNumber)
	}
	plen := 0
	if p := in.PacketLength; p != nil {
		if *p < 1 || *p > 65535 {
			return nil, opErr("InvalidParameterValue", "Value (%d) for parameter PacketLength is invalid: give 1–65535, or leave it out for whole packets", *p)
		}
		plen = int(*p)
	}
	if p := in.VirtualNetworkId; p != nil && (*p < 0 || *p > topology.MaxVNI) {
		return nil, opErr("InvalidParameterValue", "Value (%d) for parameter VirtualNetworkId is invalid: give 0–%d", *p, topology.MaxVNI)
	}
	if err := checkDescription(in.Description); err != nil {
		return nil, err
	}
	if src == t.ENI {
		return nil, opErr("InvalidParameterValue", "The source network interface %s is the traffic mirror target's: give another target (TM-3)", src.ID)
	}
	if sv, tv := src.Subnet.VPC, t.ENI.Subnet.VPC; sv != tv && !d.net.PeeringBetween(sv, tv).Active() {
		return nil, opErr("InvalidParameterValue", "The target %s is in %s, the source in %s: they must be in the same VPC or peered VPCs", t.ID, tv.ID, sv.ID)
	}
	live := d.net.LiveMirrorSessions()
	mine, sources, vnis := 0, map[*topology.ENI]bool{src: true}, map[int]bool{}
	for _, s := range live {
		vnis[s.VNI] = true
		if s.Target == t {
			sources[s.Source] = true
		}
		if s.Source != src {
			continue
		}
		if mine++; s.Number == int(in.SessionNumber) {
			return nil, opErr("InvalidParameterValue", "Session number %d is used by traffic mirror session %s of the same network interface (TM-3)", s.Number, s.ID)
		}
	}
	if mine >= topology.MaxMirrorSessionsPerSource {
		return nil, opErr("TrafficMirrorSessionsPerInterfaceLimitExceeded", "Network interface %s is the source of %d traffic mirror sessions, the most it may have (TM-3)", src.ID, mine)
	}
	if len(sources) > topology.MaxMirrorSourcesPerTarget {
		return nil, opErr("TrafficMirrorSourcesPerTargetLimitExceeded", "Traffic mirror target %s has %d sources, the most it takes (TM-3)", t.ID, topology.MaxMirrorSourcesPerTarget)
	}
	name, err := d.nameFromSpecs(in.TagSpecifications, types.ResourceTypeTrafficMirrorSession, "tms", topology.KindMirrorSession)
	if err != nil {
		return nil, err
	}
	s := &topology.MirrorSession{Name: name, ID: d.net.NewID("tms", name), Description: deref(in.Description), Source: src,
		Target: t, Filter: f, Number: int(in.SessionNumber), PacketLength: plen}
	if p := in.VirtualNetworkId; p != nil {
		s.VNI = int(*p)
	} else {
		s.VNI = d.net.DeriveVNI(name, vnis)
	}
	m := &d.net.Mirroring
	m.Sessions = append(slices.Clone(m.Sessions), s)
	x := d.mirrorSessionOf(s)
	return &types.CreateTrafficMirrorSessionResult{TrafficMirrorSession: &x, ClientToken: clientToken(in.ClientToken)}, nil
}

func (d *Service) deleteTrafficMirrorSession(in *types.DeleteTrafficMirrorSessionRequest) (*types.DeleteTrafficMirrorSessionResult, error) {
	s, err := d.findMirrorSession(in.TrafficMirrorSessionId)
	if err != nil {
		return nil, err
	}
	m := &d.net.Mirroring
	m.Sessions = slices.DeleteFunc(slices.Clone(m.Sessions), func(x *topology.MirrorSession) bool { return x == s })
	return &types.DeleteTrafficMirrorSessionResult{TrafficMirrorSessionId: ptr(s.ID)}, nil
}

func (d *Service) mirrorSessionOf(s *topology.MirrorSession) types.TrafficMirrorSession {
	x := types.TrafficMirrorSession{TrafficMirrorSessionId: ptr(s.ID), TrafficMirrorTargetId: ptr(s.Target.ID),
		TrafficMirrorFilterId: ptr(s.Filter.ID), NetworkInterfaceId: ptr(s.Source.ID), OwnerId: ptr(d.net.AccountID()),
		SessionNumber: ptr(int32(s.Number)), VirtualNetworkId: ptr(int32(s.VNI)), Description: ptr(s.Description),
		Tags: nameTags(s.Name)}
	if s.PacketLength > 0 {
		x.PacketLength = ptr(int32(s.PacketLength))
	}
	return x
}

var mirrorSessionFilters = filters[types.TrafficMirrorSession]{
	"description":               func(s *types.TrafficMirrorSession) []string { return one(s.Description) },
	"network-interface-id":      func(s *types.TrafficMirrorSession) []string { return one(s.NetworkInterfaceId) },
	"owner-id":                  func(s *types.TrafficMirrorSession) []string { return one(s.OwnerId) },
	"packet-length":             func(s *types.TrafficMirrorSession) []string { return intOf(s.PacketLength) },
	"session-number":            func(s *types.TrafficMirrorSession) []string { return intOf(s.SessionNumber) },
	"traffic-mirror-filter-id":  func(s *types.TrafficMirrorSession) []string { return one(s.TrafficMirrorFilterId) },
	"traffic-mirror-session-id": func(s *types.TrafficMirrorSession) []string { return one(s.TrafficMirrorSessionId) },
	"traffic-mirror-target-id":  func(s *types.TrafficMirrorSession) []string { return one(s.TrafficMirrorTargetId) },
	"virtual-network-id":        func(s *types.TrafficMirrorSession) []string { return intOf(s.VirtualNetworkId) },
}

func intOf(p *int32) []string {
	if p == nil {
		return nil
	}
	return []string{fmt.Sprint(*p)}
}

func (d *Service) describeTrafficMirrorSessions(in *types.DescribeTrafficMirrorSessionsRequest) (*types.DescribeTrafficMirrorSessionsResult, error) {
	var all []types.TrafficMirrorSession
	for _, s := range d.net.LiveMirrorSessions() {
		all = append(all, d.mirrorSessionOf(s))
	}
	sortBy(all, func(s *types.TrafficMirrorSession) *string { return s.TrafficMirrorSessionId })
	all, err := byIDs(all, in.TrafficMirrorSessionIds, func(s *types.TrafficMirrorSession) string { return *s.TrafficMirrorSessionId },
		func(id string) error { _, err := d.findMirrorSession(id); return err })
	if err != nil {
		return nil, err
	}
	out, err := selectItems(all, in.Filters, mirrorSessionFilters, func(s *types.TrafficMirrorSession) []types.Tag { return s.Tags })
	if err != nil {
		return nil, err
	}
	out, next, err := page(out, in.MaxResults, in.NextToken, 5, 1000)
	if err != nil {
		return nil, err
	}
	return &types.DescribeTrafficMirrorSessionsResult{TrafficMirrorSessions: append([]types.TrafficMirrorSession{}, out...), NextToken: next}, nil
}
