package ec2

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/vpcnet/vpcnet/dataplane/policy"
	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

// Security-group rules (SG-1, SG-3, SG-5) and NACL entries (NACL-2), with
// EC2's parameters: IpPermissions (or the older top-level CidrIp,
// IpProtocol, FromPort, ToPort, SourceSecurityGroupName), and NACL entries
// by Egress and RuleNumber. Groups and NACLs are found by id or by name
// (vpcnet: names wherever ids).

func init() {
	Define("AuthorizeSecurityGroupIngress", Mutating, (*Service).authorizeSecurityGroupIngress)
	Define("AuthorizeSecurityGroupEgress", Mutating, (*Service).authorizeSecurityGroupEgress)
	Define("RevokeSecurityGroupIngress", Mutating, (*Service).revokeSecurityGroupIngress)
	Define("RevokeSecurityGroupEgress", Mutating, (*Service).revokeSecurityGroupEgress)
	Define("DescribeSecurityGroupRules", ReadOnly, (*Service).describeSecurityGroupRules)
	Define("ModifySecurityGroupRules", Mutating, (*Service).modifySecurityGroupRules)
	Define("CreateNetworkAclEntry", Mutating, (*Service).createNetworkAclEntry)
	Define("ReplaceNetworkAclEntry", Mutating, (*Service).replaceNetworkAclEntry)
	Define("DeleteNetworkAclEntry", Mutating, (*Service).deleteNetworkAclEntry)
}

// findSG resolves a group by sg- id or name.
func (d *Service) findSG(ref string) (*topology.SecurityGroup, error) {
	if ref == "" {
		return nil, opErr("MissingParameter", "The request must contain the parameter groupId")
	}
	for _, v := range d.net.VPCs {
		for _, g := range v.SGs {
			if g.ID == ref || g.Name == ref {
				return g, nil
			}
		}
	}
	return nil, opErr("InvalidGroup.NotFound", "The security group '%s' does not exist", ref)
}

// findNACL resolves a network ACL by acl- id or name.
func (d *Service) findNACL(ref string) (*topology.NACL, error) {
	if ref == "" {
		return nil, opErr("MissingParameter", "The request must contain the parameter networkAclId")
	}
	for _, v := range d.net.VPCs {
		for _, a := range v.NACLs {
			if a.ID == ref || a.Name == ref {
				return a, nil
			}
		}
	}
	return nil, opErr("InvalidNetworkAclID.NotFound", "The network ACL ID '%s' does not exist", ref)
}

func protoName(p int) string {
	switch p {
	case -1:
		return "-1"
	case 1:
		return "icmp"
	case 6:
		return "tcp"
	case 17:
		return "udp"
	}
	return fmt.Sprint(p)
}

// --- security-group rules ----------------------------------------------------

// sgEdit is what the authorize and revoke requests of both directions
// share: the group, the permissions and, for ingress, the older top-level
// form of one permission.
type sgEdit struct {
	egress             bool
	groupID, groupName *string
	perms              []types.IpPermission
	legacy             types.IpPermission // IpProtocol, FromPort, ToPort of the top-level form
	cidrIP             *string
	sourceGroupName    *string
	sourceGroupOwner   *string
	ruleIDs            []string                 // revoke only
	tags               []types.TagSpecification // authorize only
}

func (d *Service) authorizeSecurityGroupIngress(in *types.AuthorizeSecurityGroupIngressRequest) (*types.AuthorizeSecurityGroupIngressResult, error) {
	rules, err := d.authorize(sgEdit{groupID: in.GroupId, groupName: in.GroupName, perms: in.IpPermissions,
		legacy: types.IpPermission{IpProtocol: in.IpProtocol, FromPort: in.FromPort, ToPort: in.ToPort}, cidrIP: in.CidrIp,
		sourceGroupName: in.SourceSecurityGroupName, sourceGroupOwner: in.SourceSecurityGroupOwnerId, tags: in.TagSpecifications})
	if err != nil {
		return nil, err
	}
	return &types.AuthorizeSecurityGroupIngressResult{Return: ptr(true), SecurityGroupRules: rules}, nil
}

func (d *Service) authorizeSecurityGroupEgress(in *types.AuthorizeSecurityGroupEgressRequest) (*types.AuthorizeSecurityGroupEgressResult, error) {
	rules, err := d.authorize(sgEdit{egress: true, groupID: nonEmpty(in.GroupId), perms: in.IpPermissions,
		legacy: types.IpPermission{IpProtocol: in.IpProtocol, FromPort: in.FromPort, ToPort: in.ToPort}, cidrIP: in.CidrIp,
		sourceGroupName: in.SourceSecurityGroupName, sourceGroupOwner: in.SourceSecurityGroupOwnerId, tags: in.TagSpecifications})
	if err != nil {
		return nil, err
	}
	return &types.AuthorizeSecurityGroupEgressResult{Return: ptr(true), SecurityGroupRules: rules}, nil
}

func (d *Service) revokeSecurityGroupIngress(in *types.RevokeSecurityGroupIngressRequest) (*types.RevokeSecurityGroupIngressResult, error) {
	err := d.revoke(sgEdit{groupID: in.GroupId, groupName: in.GroupName, perms: in.IpPermissions,
		legacy: types.IpPermission{IpProtocol: in.IpProtocol, FromPort: in.FromPort, ToPort: in.ToPort}, cidrIP: in.CidrIp,
		sourceGroupName: in.SourceSecurityGroupName, sourceGroupOwner: in.SourceSecurityGroupOwnerId, ruleIDs: in.SecurityGroupRuleIds})
	if err != nil {
		return nil, err
	}
	return &types.RevokeSecurityGroupIngressResult{Return: ptr(true)}, nil
}

func (d *Service) revokeSecurityGroupEgress(in *types.RevokeSecurityGroupEgressRequest) (*types.RevokeSecurityGroupEgressResult, error) {
	err := d.revoke(sgEdit{egress: true, groupID: nonEmpty(in.GroupId), perms: in.IpPermissions,
		legacy: types.IpPermission{IpProtocol: in.IpProtocol, FromPort: in.FromPort, ToPort: in.ToPort}, cidrIP: in.CidrIp,
		sourceGroupName: in.SourceSecurityGroupName, sourceGroupOwner: in.SourceSecurityGroupOwnerId, ruleIDs: in.SecurityGroupRuleIds})
	if err != nil {
		return nil, err
	}
	return &types.RevokeSecurityGroupEgressResult{Return: ptr(true)}, nil
}

// nonEmpty is s as an optional member: nil when empty.
func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// authorize adds every rule the request names, or none (SG-1, SG-3): a
// rule the group has already, or one the request names twice, is
// InvalidPermission.Duplicate. It answers the new rules as EC2 does.
func (d *Service) authorize(e sgEdit) ([]types.SecurityGroupRule, error) {
	g, err := d.editedGroup(e)
	if err != nil {
		return nil, err
	}
	if len(e.tags) > 0 {
		return nil, opErr("InvalidParameterValue", "vpcnet keeps no tags on security group rules: leave out TagSpecifications")
	}
	rules, err := d.requestedRules(g, e)
	if err != nil {
		return nil, err
	}
	list := ruleList(g, e.egress)
	for i, r := range rules {
		if sgRuleIndex(*list, r) >= 0 || sgRuleIndex(rules[:i], r) >= 0 {
			return nil, opErr("InvalidPermission.Duplicate", "the specified rule \"%s\" already exists", describeSGRule(r))
		}
	}
	if err := d.checkRuleCount(g, e.egress, len(*list)+len(rules)); err != nil {
		return nil, err
	}
	// SG-3: each new rule takes its derived id, or the next free one when
	// a modified rule kept that id.
	taken := d.net.SGRuleIDs()
	for i := range rules {
		id := d.net.FreeSGRuleID(g, e.egress, rules[i], func(id string) bool { return taken[id] })
		if id != d.net.DerivedSGRuleID(g, e.egress, rules[i], 0) {
			rules[i].ID = id
		}
		taken[id] = true
	}
	*list = append(append([]topology.SGRule(nil), (*list)...), rules...)
	out := make([]types.SecurityGroupRule, len(rules))
	for i, r := range rules {
		out[i] = d.sgRuleOut(g, e.egress, r)
	}
	return out, nil
}

// revoke removes every rule the request names (by permission or by
// SecurityGroupRuleId), or none: a rule the group lacks is
// InvalidPermission.NotFound. Tracked flows live on (SG-5): they are in
// the trackers, which Apply keeps.
func (d *Service) revoke(e sgEdit) error {
	g, err := d.editedGroup(e)
	if err != nil {
		return err
	}
	list := ruleList(g, e.egress)
	drop := map[int]bool{}
	if len(e.ruleIDs) > 0 {
		if len(e.perms) > 0 || e.hasLegacy() {
			return opErr("InvalidParameterCombination", "Specify either SecurityGroupRuleIds or the permissions to revoke, not both")
		}
		for _, id := range e.ruleIDs {
			i := -1
			for k, r := range *list {
				if d.net.SGRuleID(g, e.egress, r) == id {
					i = k
				}
			}
			if i < 0 {
				return opErr("InvalidSecurityGroupRuleId.NotFound", "The security group rule ID '%s' does not exist in %s", id, g.ID)
			}
			drop[i] = true
		}
	} else {
		rules, err := d.requestedRules(g, e)
		if err != nil {
			return err
		}
		for _, r := range rules {
			i := sgRuleIndex(*list, r)
			if i < 0 {
				return opErr("InvalidPermission.NotFound", "The specified rule does not exist in this security group.")
			}
			drop[i] = true
		}
	}
	var next []topology.SGRule
	for i, r := range *list {
		if !drop[i] {
			next = append(next, r)
		}
	}
	*list = append([]topology.SGRule{}, next...)
	return nil
}

func ruleList(g *topology.SecurityGroup, egress bool) *[]topology.SGRule {
	if egress {
		return &g.Egress
	}
	return &g.Ingress
}

// sgRuleIndex is the index in list of the rule that matches what r
// matches (protocol, ports or ICMP type and code, peer), or -1. The
// description is no part of a rule's identity, as in EC2.
func sgRuleIndex(list []topology.SGRule, r topology.SGRule) int {
	for i, x := range list {
		if topology.SameMatch(x, r) && x.CIDR == r.CIDR && x.Group == r.Group {
			return i
		}
	}
	return -1
}

// editedGroup is the group of GroupId or GroupName (either may be an id or
// a name).
func (d *Service) editedGroup(e sgEdit) (*topology.SecurityGroup, error) {
	id, name := deref(e.groupID), deref(e.groupName)
	switch {
	case id == "" && name == "":
		return nil, opErr("MissingParameter", "The request must contain the parameter groupId or groupName")
	case id == "":
		return d.findSG(name)
	}
	g, err := d.findSG(id)
	if err != nil || name == "" {
		return g, err
	}
	if other, err := d.findSG(name); err != nil || other != g {
		return nil, opErr("InvalidParameterCombination", "GroupId '%s' and GroupName '%s' name different groups", id, name)
	}
	return g, nil
}

func (e sgEdit) hasLegacy() bool {
	return e.cidrIP != nil || e.legacy.IpProtocol != nil || e.legacy.FromPort != nil || e.legacy.ToPort != nil ||
		e.sourceGroupName != nil || e.sourceGroupOwner != nil
}

// permissions are the request's permissions: IpPermissions, or the one
// the top-level members make. SourceSecurityGroupName alone grants the
// source group all of ICMP, UDP and TCP (EC2's three rules); with a
// protocol, ports or a CIDR it is InvalidParameterCombination.
func (e sgEdit) permissions() ([]types.IpPermission, error) {
	if !e.hasLegacy() {
		if len(e.perms) == 0 {
			return nil, opErr("MissingParameter", "The request must contain the parameter IpPermissions")
		}
		return e.perms, nil
	}
	if len(e.perms) > 0 {
		return nil, opErr("InvalidParameterCombination",
			"Specify either IpPermissions or the top-level CidrIp, IpProtocol, FromPort, ToPort and SourceSecurityGroupName, not both")
	}
	if e.sourceGroupOwner != nil && e.sourceGroupName == nil {
		return nil, opErr("MissingParameter", "SourceSecurityGroupOwnerId needs SourceSecurityGroupName")
	}
	if e.sourceGroupName != nil {
		if e.cidrIP != nil {
			return nil, opErr("InvalidParameterCombination", "Specify either CidrIp or SourceSecurityGroupName, not both")
		}
		if e.legacy.IpProtocol != nil || e.legacy.FromPort != nil || e.legacy.ToPort != nil {
			return nil, opErr("InvalidParameterCombination",
				"SourceSecurityGroupName grants all of ICMP, UDP and TCP: for one protocol or port range, give IpPermissions with UserIdGroupPairs")
		}
		pair := []types.UserIdGroupPair{{GroupName: e.sourceGroupName, UserId: e.sourceGroupOwner}}
		return []types.IpPermission{
			{IpProtocol: ptr("icmp"), FromPort: ptr(int32(-1)), ToPort: ptr(int32(-1)), UserIdGroupPairs: pair},
			{IpProtocol: ptr("tcp"), FromPort: ptr(int32(0)), ToPort: ptr(int32(65535)), UserIdGroupPairs: pair},
			{IpProtocol: ptr("udp"), FromPort: ptr(int32(0)), ToPort: ptr(int32(65535)), UserIdGroupPairs: pair},
		}, nil
	}
	p := e.legacy
	if e.cidrIP != nil {
		p.IpRanges = []types.IpRange{{CidrIp: e.cidrIP}}
	}
	return []types.IpPermission{p}, nil
}

// requestedRules are the rules of the request's permissions for group g:
// one per IpRange and per UserIdGroupPair of each permission, all checked
// before any is applied.
func (d *Service) requestedRules(g *topology.SecurityGroup, e sgEdit) ([]topology.SGRule, error) {
	perms, err := e.permissions()
	if err != nil {
		return nil, err
	}
	var rules []topology.SGRule
	for i, p := range perms {
		at := fmt.Sprintf("IpPermissions.%d", i+1)
		proto, from, to, err := permissionMatch(p, at)
		if err != nil {
			return nil, err
		}
		if len(p.Ipv6Ranges) > 0 || len(p.PrefixListIds) > 0 {
			return nil, opErr("InvalidParameterValue", "%s: vpcnet has no IPv6 and no prefix lists: give IpRanges or UserIdGroupPairs", at)
		}
		if len(p.IpRanges) == 0 && len(p.UserIdGroupPairs) == 0 {
			return nil, opErr("MissingParameter", "%s: give IpRanges (a CIDR) or UserIdGroupPairs (a security group)", at)
		}
		rule := topology.SGRule{Protocol: proto, FromPort: from, ToPort: to}
		for j, r := range p.IpRanges {
			cidr := deref(r.CidrIp)
			if cidr == "" {
				return nil, opErr("MissingParameter", "%s.IpRanges.%d: The request must contain the parameter CidrIp", at, j+1)
			}
			pfx, perr := policy.ParseCIDR(cidr)
			if perr != nil {
				return nil, opErr("InvalidParameterValue", "CIDR block %s is malformed", cidr)
			}
			rule.CIDR, rule.Group = pfx, nil
			if rule.Description, err = ruleDescription(r.Description, fmt.Sprintf("%s.IpRanges.%d", at, j+1)); err != nil {
				return nil, err
			}
			rules = append(rules, rule)
		}
		for j, pair := range p.UserIdGroupPairs {
			peer, err := d.peerGroup(g, pair, fmt.Sprintf("%s.UserIdGroupPairs.%d", at, j+1))
			if err != nil {
				return nil, err
			}
			rule.CIDR, rule.Group = netip.Prefix{}, peer
			if rule.Description, err = ruleDescription(pair.Description, fmt.Sprintf("%s.UserIdGroupPairs.%d", at, j+1)); err != nil {
				return nil, err
			}
			rules = append(rules, rule)
		}
	}
	return rules, nil
}

func ruleDescription(s *string, at string) (string, error) {
	if err := topology.CheckDescription(deref(s)); err != nil {
		return "", opErr("InvalidParameterValue", "%s.Description: %v", at, err)
	}
	return deref(s), nil
}

// peerGroup resolves a UserIdGroupPair to a group of g's VPC (SG-3), or of
// a VPC an active peering joins to it (PEER-4): by GroupId or GroupName,
// each an id or a name; a name is looked up in g's VPC first, so "default"
// is that VPC's default group, as in the file. VpcPeeringConnectionId, if
// given, must be that peering.
func (d *Service) peerGroup(g *topology.SecurityGroup, pair types.UserIdGroupPair, at string) (*topology.SecurityGroup, error) {
	if u := deref(pair.UserId); u != "" && u != d.net.AccountID() {
		return nil, opErr("InvalidGroup.NotFound", "%s: account %s has no security groups here (this account is %s)", at, u, d.net.AccountID())
	}
	find := func(ref string) (*topology.SecurityGroup, error) {
		for _, x := range g.VPC.SGs {
			if x.ID == ref || x.Name == ref {
				return x, nil
			}
		}
		return d.findSG(ref)
	}
	id, name := deref(pair.GroupId), deref(pair.GroupName)
	var peer *topology.SecurityGroup
	var err error
	switch {
	case id == "" && name == "":
		return nil, opErr("MissingParameter", "%s: The request must contain the parameter GroupId or GroupName", at)
	case id != "":
		peer, err = find(id)
		if err == nil && name != "" {
			if other, oerr := find(name); oerr != nil || other != peer {
				return nil, opErr("InvalidParameterCombination", "%s: GroupId '%s' and GroupName '%s' name different groups", at, id, name)
			}
		}
	default:
		peer, err = find(name)
	}
	if err != nil {
		return nil, err
	}
	if pair.VpcId != nil && *pair.VpcId != peer.VPC.ID && *pair.VpcId != peer.VPC.Name {
		return nil, opErr("InvalidGroup.NotFound", "%s: security group '%s' is in VPC %s, not %s", at, peer.ID, peer.VPC.ID, *pair.VpcId)
	}
	if peer.VPC == g.VPC {
		if pair.VpcPeeringConnectionId != nil {
			return nil, opErr("InvalidParameterValue", "%s: security group '%s' is in VPC %s itself: no peering connection is needed", at, peer.ID, g.VPC.ID)
		}
		return peer, nil
	}
	// PEER-4: a group of a peered VPC, while the peering is active.
	// A stale rule's group (the peering gone) may still be named: to revoke
	// the rule.
	p := d.net.PeeringBetween(g.VPC, peer.VPC)
	if !p.Active() && !namesGroup(g, peer) {
		return nil, opErr("InvalidGroup.NotFound", "You have specified a security group '%s' that is not in VPC %s, nor in a VPC an active peering connection joins to it (PEER-4)", peer.ID, g.VPC.ID)
	}
	if ref := deref(pair.VpcPeeringConnectionId); ref != "" && (p == nil || (ref != p.ID && ref != p.Name)) {
		return nil, opErr("InvalidParameterValue", "%s: VPC peering connection '%s' does not join %s and %s", at, ref, g.VPC.ID, peer.VPC.ID)
	}
	return peer, nil
}

// permissionMatch reads a permission's protocol and ports as EC2 does
// (SG-3), into the representation topology.SGRule has for the same rule of
// topo.json, so that a rule of the file can be revoked and authorized
// again:
//   - tcp, udp: FromPort..ToPort, 0-65535; -1 and -1 is every port
//     (0-65535). Without FromPort and ToPort, every port (-1, -1), as a file
//     rule without "ports".
//   - icmp: FromPort is the ICMP type, ToPort the code: 8 and -1 is type 8
//     with any code (as "icmp_type": 8), 8 and 0 type 8 code 0, -1 and -1
//     (or neither) every type and code. A code needs a type: -1 and 0 is
//     refused, as EC2 refuses it.
//   - any other protocol, -1 (all) included: every port; the ports are
//     ignored, as EC2 ignores them.
func permissionMatch(p types.IpPermission, at string) (proto, from, to int, err error) {
	ps := deref(p.IpProtocol)
	if ps == "" {
		return 0, 0, 0, opErr("MissingParameter", "%s: The request must contain the parameter IpProtocol", at)
	}
	pr, perr := policy.ParseProtocol(ps)
	if perr != nil {
		return 0, 0, 0, opErr("InvalidParameterValue", "Invalid value '%s' for IP protocol. Unknown protocol.", ps)
	}
	proto = int(pr)
	if proto != 1 && proto != 6 && proto != 17 {
		return proto, -1, -1, nil
	}
	if p.FromPort == nil && p.ToPort == nil {
		return proto, -1, -1, nil
	}
	if p.FromPort == nil || p.ToPort == nil {
		return 0, 0, 0, opErr("InvalidParameterValue", "%s: give both FromPort and ToPort for %s (or neither: every port)", at, protoName(proto))
	}
	f, t := int(*p.FromPort), int(*p.ToPort)
	if proto == 1 {
		if f < -1 || f > 255 || t < -1 || t > 255 || (f == -1 && t != -1) {
			return 0, 0, 0, opErr("InvalidParameterValue",
				"Invalid value '%d' / '%d' for %s FromPort / ToPort: for icmp they are the type and code, each -1 (any) or 0-255, and a code needs a type", f, t, at)
		}
		return proto, f, t, nil
	}
	if f == -1 && t == -1 {
		return proto, 0, 65535, nil
	}
	if f < 0 || t > 65535 || f > t {
		return 0, 0, 0, opErr("InvalidParameterValue",
			"Invalid value '%d-%d' for %s port range: want 0 ≤ FromPort ≤ ToPort ≤ 65535, or -1 and -1 for every port", f, t, at)
	}
	return proto, f, t, nil
}

// normPorts are r's ports as EC2 shows them: every tcp or udp port is
// 0-65535, whether the file gave ports or not.
func normPorts(r topology.SGRule) (int, int) {
	if (r.Protocol == 6 || r.Protocol == 17) && r.FromPort == -1 && r.ToPort == -1 {
		return 0, 65535
	}
	return r.FromPort, r.ToPort
}

// sgRuleOut is rule r of group g as EC2 answers it (SecurityGroupRule).
func (d *Service) sgRuleOut(g *topology.SecurityGroup, egress bool, r topology.SGRule) types.SecurityGroupRule {
	from, to := normPorts(r)
	out := types.SecurityGroupRule{SecurityGroupRuleId: ptr(d.net.SGRuleID(g, egress, r)), GroupId: ptr(g.ID),
		GroupOwnerId: ptr(d.net.AccountID()), IsEgress: ptr(egress), IpProtocol: ptr(protoName(r.Protocol)),
		FromPort: ptr(int32(from)), ToPort: ptr(int32(to)), Tags: []types.Tag{}} // EC2 always answers Tags: none here
	if r.Group != nil {
		out.ReferencedGroupInfo = &types.ReferencedSecurityGroup{GroupId: ptr(r.Group.ID), UserId: ptr(d.net.AccountID())}
	} else {
		out.CidrIpv4 = ptr(r.CIDR.String())
	}
	if r.Description != "" {
		out.Description = ptr(r.Description)
	}
	return out
}

// --- DescribeSecurityGroupRules, ModifySecurityGroupRules (SG-3) -------------

// sgRuleFilters are DescribeSecurityGroupRules' filters (vpcnet keeps no
// tags on rules: a tag filter matches none).
var sgRuleFilters = filters[types.SecurityGroupRule]{
	"group-id":               func(r *types.SecurityGroupRule) []string { return one(r.GroupId) },
	"security-group-rule-id": func(r *types.SecurityGroupRule) []string { return one(r.SecurityGroupRuleId) },
}

// describeSecurityGroupRules lists every rule as EC2 stores it: one per
// CIDR or group (where DescribeSecurityGroups merges them per protocol and
// port range), each with its id; by group id, inbound before outbound.
func (d *Service) describeSecurityGroupRules(in *types.DescribeSecurityGroupRulesRequest) (*types.DescribeSecurityGroupRulesResult, error) {
	var groups []*topology.SecurityGroup
	for _, v := range d.net.VPCs {
		groups = append(groups, v.SGs...)
	}
	sort.SliceStable(groups, func(i, j int) bool { return groups[i].ID < groups[j].ID })
	all := []types.SecurityGroupRule{}
	for _, g := range groups {
		for i, r := range append(slices.Clone(g.Ingress), g.Egress...) {
			all = append(all, d.sgRuleOut(g, i >= len(g.Ingress), r))
		}
	}
	out, err := byIDs(all, in.SecurityGroupRuleIds, func(r *types.SecurityGroupRule) string { return *r.SecurityGroupRuleId },
		func(id string) error {
			return opErr("InvalidSecurityGroupRuleId.NotFound", "The security group rule ID '%s' does not exist", id)
		})
	if err != nil {
		return nil, err
	}
	if out, err = selectItems(out, in.Filters, sgRuleFilters, func(r *types.SecurityGroupRule) []types.Tag { return r.Tags }); err != nil {
		return nil, err
	}
	out, next, err := page(out, in.MaxResults, in.NextToken, 5, 1000)
	if err != nil {
		return nil, err
	}
	return &types.DescribeSecurityGroupRulesResult{SecurityGroupRules: append([]types.SecurityGroupRule{}, out...), NextToken: next}, nil
}

// modifySecurityGroupRules replaces rules of a group by id, each keeping
// its id, as EC2 does (SG-3); every update is checked before any is made,
// and a rule may not become one the group has (InvalidPermission.Duplicate).
// Flows the old rule allowed live on (SG-5).
func (d *Service) modifySecurityGroupRules(in *types.ModifySecurityGroupRulesRequest) (*types.ModifySecurityGroupRulesResult, error) {
	if in.GroupId == "" {
		return nil, opErr("MissingParameter", "The request must contain the parameter GroupId")
	}
	g, err := d.findSG(in.GroupId)
	if err != nil {
		return nil, err
	}
	if len(in.SecurityGroupRules) == 0 {
		return nil, opErr("MissingParameter", "The request must contain the parameter SecurityGroupRule")
	}
	lists := [2][]topology.SGRule{slices.Clone(g.Ingress), slices.Clone(g.Egress)}
	seen := map[string]bool{}
	for k, u := range in.SecurityGroupRules {
		at := fmt.Sprintf("SecurityGroupRule.%d", k+1)
		id := deref(u.SecurityGroupRuleId)
		if id == "" {
			return nil, opErr("MissingParameter", "%s: The request must contain the parameter SecurityGroupRuleId", at)
		}
		if seen[id] {
			return nil, opErr("InvalidParameterValue", "%s: the rule %s is modified twice in one request", at, id)
		}
		seen[id] = true
		dir, i := -1, -1
		for x, list := range lists {
			for j, r := range list {
				if d.net.SGRuleID(g, x == 1, r) == id {
					dir, i = x, j
				}
			}
		}
		if i < 0 {
			return nil, opErr("InvalidSecurityGroupRuleId.NotFound", "The security group rule ID '%s' does not exist in %s", id, g.ID)
		}
		rule, err := d.ruleOfRequest(g, u.SecurityGroupRule, at)
		if err != nil {
			return nil, err
		}
		rule.ID = id
		if id == d.net.DerivedSGRuleID(g, dir == 1, rule, 0) {
			rule.ID = ""
		}
		lists[dir][i] = rule
	}
	for _, list := range lists {
		for i, r := range list {
			if sgRuleIndex(list[:i], r) >= 0 {
				return nil, opErr("InvalidPermission.Duplicate", "the specified rule \"%s\" already exists", describeSGRule(r))
			}
		}
	}
	g.Ingress, g.Egress = lists[0], lists[1]
	return &types.ModifySecurityGroupRulesResult{Return: ptr(true)}, nil
}

// ruleOfRequest is the rule a SecurityGroupRuleRequest describes: its
// protocol and ports as IpPermission's (permissionMatch), and one peer,
// CidrIpv4 or ReferencedGroupId (a group of g's VPC).
func (d *Service) ruleOfRequest(g *topology.SecurityGroup, q *types.SecurityGroupRuleRequest, at string) (topology.SGRule, error) {
	var rule topology.SGRule
	if q == nil {
		return rule, opErr("MissingParameter", "%s: The request must contain the parameter SecurityGroupRule", at)
	}
	if q.CidrIpv6 != nil || q.PrefixListId != nil {
		return rule, opErr("InvalidParameterValue", "%s: vpcnet has no IPv6 and no prefix lists: give CidrIpv4 or ReferencedGroupId", at)
	}
	proto, from, to, err := permissionMatch(types.IpPermission{IpProtocol: q.IpProtocol, FromPort: q.FromPort, ToPort: q.ToPort}, at)
	if err != nil {
		return rule, err
	}
	rule = topology.SGRule{Protocol: proto, FromPort: from, ToPort: to}
	switch {
	case q.CidrIpv4 != nil && q.ReferencedGroupId != nil:
		return rule, opErr("InvalidParameterCombination", "%s: give CidrIpv4 or ReferencedGroupId, not both", at)
	case q.CidrIpv4 != nil:
		pfx, perr := policy.ParseCIDR(*q.CidrIpv4)
		if perr != nil {
			return rule, opErr("InvalidParameterValue", "CIDR block %s is malformed", *q.CidrIpv4)
		}
		rule.CIDR = pfx
	case q.ReferencedGroupId != nil:
		peer, err := d.peerGroup(g, types.UserIdGroupPair{GroupId: q.ReferencedGroupId}, at+".ReferencedGroupId")
		if err != nil {
			return rule, err
		}
		rule.Group = peer
	default:
		return rule, opErr("MissingParameter", "%s: give CidrIpv4 (a CIDR) or ReferencedGroupId (a security group)", at)
	}
	rule.Description, err = ruleDescription(q.Description, at)
	return rule, err
}

func describeSGRule(r topology.SGRule) string {
	peer := r.CIDR.String()
	if r.Group != nil {
		peer = r.Group.ID
	}
	if r.Protocol == 1 {
		orAll := func(n int) string {
			if n == -1 {
				return "all"
			}
			return strconv.Itoa(n)
		}
		return fmt.Sprintf("peer: %s, ICMP, type: %s, code: %s, ALLOW", peer, orAll(r.FromPort), orAll(r.ToPort))
	}
	from, to := normPorts(r)
	return fmt.Sprintf("peer: %s, %s, from port: %d, to port: %d, ALLOW", peer, strings.ToUpper(protoName(r.Protocol)), from, to)
}

// --- NACL entries (NACL-2) ---------------------------------------------------

// EC2 answers the NACL entry operations with nothing.

func (d *Service) createNetworkAclEntry(in *types.CreateNetworkAclEntryRequest) (*struct{}, error) {
	return nil, d.putNACLEntry(*in, false)
}

func (d *Service) replaceNetworkAclEntry(in *types.ReplaceNetworkAclEntryRequest) (*struct{}, error) {
	return nil, d.putNACLEntry(types.CreateNetworkAclEntryRequest(*in), true)
}

// deleteNetworkAclEntry deletes a numbered entry; the implicit `*` deny
// (32767) is no entry and stays (NACL-2).
func (d *Service) deleteNetworkAclEntry(in *types.DeleteNetworkAclEntryRequest) (*struct{}, error) {
	a, err := d.findNACL(in.NetworkAclId)
	if err != nil {
		return nil, err
	}
	if err := checkRuleNumber(in.RuleNumber); err != nil {
		return nil, err
	}
	list := naclList(a, in.Egress)
	i := naclIndex(*list, int(in.RuleNumber))
	if i < 0 {
		return nil, opErr("InvalidNetworkAclEntry.NotFound", "The network acl entry identified by %d does not exist.", in.RuleNumber)
	}
	*list = append(append([]topology.NACLRule{}, (*list)[:i]...), (*list)[i+1:]...)
	return nil, nil
}

func naclList(a *topology.NACL, egress bool) *[]topology.NACLRule {
	if egress {
		return &a.Egress
	}
	return &a.Ingress
}

func naclIndex(list []topology.NACLRule, num int) int {
	for i, x := range list {
		if x.Number == num {
			return i
		}
	}
	return -1
}

func checkRuleNumber(n int32) error {
	if n < 1 || n > 32766 {
		return opErr("InvalidParameterValue", "Invalid value '%d' for ruleNumber. It must be an integer from 1 to 32766.", n)
	}
	return nil
}

// putNACLEntry creates a numbered entry, or replaces one (NACL-2). A deny
// takes effect on the next packet, also of tracked flows (SG-5 note).
func (d *Service) putNACLEntry(in types.CreateNetworkAclEntryRequest, replace bool) error {
	a, err := d.findNACL(in.NetworkAclId)
	if err != nil {
		return err
	}
	if err := checkRuleNumber(in.RuleNumber); err != nil {
		return err
	}
	rule := topology.NACLRule{Number: int(in.RuleNumber)}
	if rule.Protocol, rule.FromPort, rule.ToPort, err = naclMatch(in); err != nil {
		return err
	}
	if in.Ipv6CidrBlock != nil {
		return opErr("InvalidParameterValue", "vpcnet has no IPv6: give CidrBlock, not Ipv6CidrBlock")
	}
	if in.CidrBlock == nil {
		return opErr("MissingParameter", "The request must contain the parameter cidrBlock")
	}
	if rule.CIDR, err = policy.ParseCIDR(*in.CidrBlock); err != nil {
		return opErr("InvalidParameterValue", "CIDR block %s is malformed", *in.CidrBlock)
	}
	switch in.RuleAction {
	case types.RuleActionAllow:
		rule.Allow = true
	case types.RuleActionDeny:
	default:
		return opErr("InvalidParameterValue", "Invalid value '%s' for ruleAction. It must be allow or deny.", in.RuleAction)
	}
	list := naclList(a, in.Egress)
	i := naclIndex(*list, rule.Number)
	switch {
	case !replace && i >= 0:
		return opErr("NetworkAclEntryAlreadyExists", "The network acl entry identified by %d already exists.", rule.Number)
	case replace && i < 0:
		return opErr("InvalidNetworkAclEntry.NotFound", "The network acl entry identified by %d does not exist.", rule.Number)
	case i < 0 && len(*list) >= d.net.Settings.Quotas.RulesPerNACL: // QUOTA-1, per direction
		return opErr("NetworkAclEntryLimitExceeded", "The maximum number of network acl entries (%d) has been reached.", d.net.Settings.Quotas.RulesPerNACL)
	}
	next := append([]topology.NACLRule{}, (*list)...)
	if i >= 0 {
		next[i] = rule
	} else {
		next = append(next, rule)
	}
	sort.Slice(next, func(i, j int) bool { return next[i].Number < next[j].Number })
	*list = next
	return nil
}

// naclMatch reads an entry's protocol and its PortRange (tcp, udp) or
// IcmpTypeCode (icmp), each value -1 (any) or in range; without them, every
// port or every type and code, as a file entry without "ports" or
// "icmp_type". Other protocols match every port; EC2 ignores their ports.
// A code needs a type (issue 10: a type that did not parse became "any",
// and a deny meant for one type blocked all).
func naclMatch(in types.CreateNetworkAclEntryRequest) (proto, from, to int, err error) {
	if in.Protocol == "" {
		return 0, 0, 0, opErr("MissingParameter", "The request must contain the parameter protocol")
	}
	pr, perr := policy.ParseProtocol(in.Protocol)
	if perr != nil {
		return 0, 0, 0, opErr("InvalidParameterValue", "Invalid value '%s' for protocol. Unknown protocol.", in.Protocol)
	}
	proto, from, to = int(pr), -1, -1
	switch proto {
	case 6, 17:
		if in.PortRange == nil {
			return proto, -1, -1, nil
		}
		if in.PortRange.From == nil || in.PortRange.To == nil {
			return 0, 0, 0, opErr("InvalidParameterValue", "PortRange needs both From and To")
		}
		f, t := int(*in.PortRange.From), int(*in.PortRange.To)
		if f < 0 || t > 65535 || f > t {
			return 0, 0, 0, opErr("InvalidParameterValue", "Invalid value 'From=%d,To=%d' for portRange: want 0 ≤ From ≤ To ≤ 65535", f, t)
		}
		return proto, f, t, nil
	case 1:
		if in.IcmpTypeCode == nil {
			return proto, -1, -1, nil
		}
		t, c := in.IcmpTypeCode.Type, in.IcmpTypeCode.Code
		if t == nil && c == nil {
			return proto, -1, -1, nil
		}
		if t == nil || (*t == -1 && c != nil && *c != -1) {
			return 0, 0, 0, opErr("InvalidParameterValue", "Invalid value for icmpTypeCode: a code needs a type")
		}
		code := int32(-1)
		if c != nil {
			code = *c
		}
		if *t < -1 || *t > 255 || code < -1 || code > 255 {
			return 0, 0, 0, opErr("InvalidParameterValue", "Invalid value 'Type=%d,Code=%d' for icmpTypeCode: each is -1 (any) or 0-255", *t, code)
		}
		return proto, int(*t), int(code), nil
	}
	return proto, from, to, nil
}
