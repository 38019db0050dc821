package ec2

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/vpcnet/vpcnet/dataplane/policy"
	"github.com/vpcnet/vpcnet/topology"
)

// Security-group rules (SG-1, SG-3, SG-5) and NACL entries (NACL-2).

func init() {
	for name, fn := range map[string]opFunc{
		"AuthorizeSecurityGroupIngress": func(d *Service, r OpRequest) (any, error) { return d.sgRule(r, true, true) },
		"AuthorizeSecurityGroupEgress":  func(d *Service, r OpRequest) (any, error) { return d.sgRule(r, false, true) },
		"RevokeSecurityGroupIngress":    func(d *Service, r OpRequest) (any, error) { return d.sgRule(r, true, false) },
		"RevokeSecurityGroupEgress":     func(d *Service, r OpRequest) (any, error) { return d.sgRule(r, false, false) },
		"CreateNetworkAclEntry":         func(d *Service, r OpRequest) (any, error) { return d.naclEntry(r, naclCreate) },
		"ReplaceNetworkAclEntry":        func(d *Service, r OpRequest) (any, error) { return d.naclEntry(r, naclReplace) },
		"DeleteNetworkAclEntry":         func(d *Service, r OpRequest) (any, error) { return d.naclEntry(r, naclDelete) },
	} {
		operations[name] = fn
	}
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
	for _, v := range d.net.VPCs {
		for _, a := range v.NACLs {
			if a.ID == ref || a.Name == ref {
				return a, nil
			}
		}
	}
	return nil, opErr("InvalidNetworkAclID.NotFound", "The network ACL ID '%s' does not exist", ref)
}

// requestProtocol parses the request's --protocol (a name or a number).
func requestProtocol(r OpRequest) (int, error) {
	p := r["protocol"]
	if p == "" {
		return 0, opErr("MissingParameter", "The request must contain the parameter protocol")
	}
	pr, err := policy.ParseProtocol(p)
	if err != nil {
		return 0, opErr("InvalidParameterValue", "Invalid value '%s' for IP protocol. Unknown protocol.", p)
	}
	return int(pr), nil
}

// ruleMatch parses the protocol and port fields of a NACL entry.
func ruleMatch(r OpRequest, portKey string) (proto, from, to int, err error) {
	if proto, err = requestProtocol(r); err != nil {
		return 0, 0, 0, err
	}
	from, to = -1, -1
	if s := r[portKey]; s != "" && (proto == 6 || proto == 17 || proto == 1) {
		f, t, perr := policy.ParsePortRange(s)
		if perr != nil {
			return 0, 0, 0, opErr("InvalidParameterValue", "Invalid value '%s' for %s: %v", s, portKey, perr)
		}
		from, to = int(f), int(t)
	}
	return proto, from, to, nil
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

// sgRule authorizes or revokes one security-group rule (SG-1, SG-3). A
// revoke leaves tracked flows alone (SG-5): they live in the trackers,
// which Apply keeps.
func (d *Service) sgRule(r OpRequest, ingress, authorize bool) (any, error) {
	g, err := d.findSG(r["group-id"])
	if err != nil {
		return nil, err
	}
	proto, from, to, err := sgMatch(r)
	if err != nil {
		return nil, err
	}
	rule := topology.SGRule{Protocol: proto, FromPort: from, ToPort: to}
	switch {
	case r["cidr"] != "" && r["source-group"] != "":
		return nil, opErr("InvalidParameterCombination", "Specify either a CIDR or a source group, not both")
	case r["cidr"] != "":
		p, perr := policy.ParseCIDR(r["cidr"])
		if perr != nil {
			return nil, opErr("InvalidParameterValue", "CIDR block %s is malformed", r["cidr"])
		}
		rule.CIDR = p
	case r["source-group"] != "":
		peer, perr := d.findSG(r["source-group"])
		if perr != nil {
			return nil, perr
		}
		if peer.VPC != g.VPC {
			return nil, opErr("InvalidGroup.NotFound", "You have specified a security group '%s' that is not in VPC %s", peer.ID, g.VPC.ID)
		}
		rule.Group = peer
	default:
		return nil, opErr("MissingParameter", "Either cidr or source-group must be given")
	}
	list := &g.Egress
	if ingress {
		list = &g.Ingress
	}
	idx := -1
	for i, x := range *list {
		if topology.SameMatch(x, rule) && x.CIDR == rule.CIDR && x.Group == rule.Group {
			idx = i
		}
	}
	desc := describeSGRule(rule)
	if authorize {
		if idx >= 0 {
			return nil, opErr("InvalidPermission.Duplicate", "the specified rule \"%s\" already exists", desc)
		}
		*list = append(append([]topology.SGRule(nil), (*list)...), rule)
	} else {
		if idx < 0 {
			return nil, opErr("InvalidPermission.NotFound", "The specified rule does not exist in this security group.")
		}
		*list = append(append([]topology.SGRule(nil), (*list)[:idx]...), (*list)[idx+1:]...)
	}
	return map[string]any{"Return": true, "GroupId": g.ID}, nil
}

// sgMatch parses --protocol and --port of a security-group rule as the AWS
// CLI reads them (SG-3), into the representation topology.SGRule has for a
// rule of topo.json:
//   - tcp, udp: "80" or "1024-65535"; "-1" or "all" is 0-65535; no --port is
//     any port (-1, -1), as a file rule without "ports".
//   - icmp: --port is the ICMP type and code: "8" is type 8 with any code
//     (8, -1, as "icmp_type": 8), "8-0" type 8 code 0, "-1" or "all" (or no
//     --port) any type and code (-1, -1). A code needs a type: "-1-0" is
//     refused, as AWS refuses it.
//   - any other protocol: every port; --port is ignored, as AWS ignores it.
func sgMatch(r OpRequest) (proto, from, to int, err error) {
	if proto, err = requestProtocol(r); err != nil {
		return 0, 0, 0, err
	}
	from, to = -1, -1
	s := strings.TrimSpace(r["port"])
	if s == "" {
		return proto, from, to, nil
	}
	all := s == "-1" || strings.EqualFold(s, "all")
	switch proto {
	case 6, 17:
		if all {
			return proto, 0, 65535, nil
		}
		f, t, perr := policy.ParsePortRange(s)
		if perr != nil {
			return 0, 0, 0, opErr("InvalidParameterValue", "Invalid value '%s' for port: %v", s, perr)
		}
		return proto, int(f), int(t), nil
	case 1:
		if all {
			return proto, -1, -1, nil
		}
		ts, cs, hasCode := strings.Cut(s, "-")
		typ, terr := strconv.Atoi(ts)
		code := -1
		var cerr error
		if hasCode {
			code, cerr = strconv.Atoi(cs)
		}
		if terr != nil || cerr != nil || typ < 0 || typ > 255 || code < -1 || code > 255 {
			return 0, 0, 0, opErr("InvalidParameterValue",
				"Invalid value '%s' for port: for icmp it is TYPE or TYPE-CODE (0-255; code -1: any), or -1 / all for every type and code", s)
		}
		return proto, typ, code, nil
	}
	return proto, from, to, nil
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
	return fmt.Sprintf("peer: %s, %s, from port: %d, to port: %d, ALLOW", peer, strings.ToUpper(protoName(r.Protocol)), r.FromPort, r.ToPort)
}

type naclOp int

const (
	naclCreate naclOp = iota
	naclReplace
	naclDelete
)

// naclEntry creates, replaces or deletes a numbered NACL entry (NACL-2). A
// deny takes effect on the next packet, also of tracked flows (SG-5 note).
func (d *Service) naclEntry(r OpRequest, op naclOp) (any, error) {
	a, err := d.findNACL(r["network-acl-id"])
	if err != nil {
		return nil, err
	}
	num, serr := strconv.Atoi(r["rule-number"]) // the whole value: "150abc" is no number
	if serr != nil || num < 1 || num > 32766 {
		return nil, opErr("InvalidParameterValue", "Invalid value '%s' for ruleNumber. It must be an integer from 1 to 32766.", r["rule-number"])
	}
	egress := r["egress"] == "true"
	list := &a.Ingress
	if egress {
		list = &a.Egress
	}
	idx := -1
	for i, x := range *list {
		if x.Number == num {
			idx = i
		}
	}
	if op == naclDelete {
		if idx < 0 {
			return nil, opErr("InvalidNetworkAclEntry.NotFound", "The network acl entry identified by %d does not exist.", num)
		}
		*list = append(append([]topology.NACLRule(nil), (*list)[:idx]...), (*list)[idx+1:]...)
		return map[string]any{"Return": true}, nil
	}
	proto, from, to, err := ruleMatch(r, "port-range")
	if err != nil {
		return nil, err
	}
	if proto == 1 {
		if from, to, err = icmpTypeCode(r); err != nil {
			return nil, err
		}
	}
	cidr, perr := policy.ParseCIDR(r["cidr-block"])
	if perr != nil {
		return nil, opErr("InvalidParameterValue", "CIDR block %s is malformed", r["cidr-block"])
	}
	var allow bool
	switch strings.ToLower(r["rule-action"]) {
	case "allow":
		allow = true
	case "deny":
	default:
		return nil, opErr("InvalidParameterValue", "Invalid value '%s' for ruleAction. It must be allow or deny.", r["rule-action"])
	}
	rule := topology.NACLRule{Number: num, Protocol: proto, FromPort: from, ToPort: to, CIDR: cidr, Allow: allow}
	switch {
	case op == naclCreate && idx >= 0:
		return nil, opErr("NetworkAclEntryAlreadyExists", "The network acl entry identified by %d already exists.", num)
	case op == naclReplace && idx < 0:
		return nil, opErr("InvalidNetworkAclEntry.NotFound", "The network acl entry identified by %d does not exist.", num)
	}
	next := append([]topology.NACLRule(nil), (*list)...)
	if idx >= 0 {
		next[idx] = rule
	} else {
		next = append(next, rule)
	}
	sort.Slice(next, func(i, j int) bool { return next[i].Number < next[j].Number })
	*list = next
	return map[string]any{"Return": true}, nil
}

// icmpTypeCode reads --icmp-type-code Type=8,Code=0: each -1 (any) or
// 0-255, as EC2 reads it. A value that is not a whole number, a key other
// than Type and Code, or one given twice is refused, never read as "any"
// (issue 10: "Type=O" became -1 and a deny meant for one type blocked all).
// Without the flag the entry is every type and code.
func icmpTypeCode(r OpRequest) (int, int, error) {
	t, c := -1, -1
	s := r["icmp-type-code"]
	if s == "" {
		return t, c, nil
	}
	bad := func(why string) error {
		return opErr("InvalidParameterValue", "Invalid value '%s' for icmp-type-code: %s (Type=N,Code=N with N -1 or 0-255)", s, why)
	}
	seen := map[string]bool{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if !ok || (k != "type" && k != "code") {
			return 0, 0, bad(fmt.Sprintf("unknown key %q", k))
		}
		if seen[k] {
			return 0, 0, bad(k + " given twice")
		}
		seen[k] = true
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < -1 || n > 255 {
			return 0, 0, bad(fmt.Sprintf("%s %q is not -1 or 0-255", k, v))
		}
		if k == "type" {
			t = n
		} else {
			c = n
		}
	}
	if t == -1 && c != -1 {
		return 0, 0, bad("a code needs a type")
	}
	return t, c, nil
}
