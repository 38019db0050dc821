package topology

import (
	"fmt"
	"regexp"
)

// Security-group rule ids (SG-3): EC2 gives every rule a
// SecurityGroupRuleId (sgr-…) that stays with the rule for its life,
// through ModifySecurityGroupRules too. vpcnet derives it from the group,
// the direction and what the rule matches, so that a file loads with the
// same ids each time; a rule whose id is not the derived one (a modified
// rule keeps the id it was given) carries it in SGRule.ID and in the
// file's optional "id".

var sgrIDRE = regexp.MustCompile(`^sgr-[0-9a-f]{17}$`)

// ValidSGRuleID reports whether s has the form of a SecurityGroupRuleId.
func ValidSGRuleID(s string) bool { return sgrIDRE.MatchString(s) }

// SGRuleID is rule r's SecurityGroupRuleId in group g: r.ID when the rule
// carries one, else the id derived from its content.
func (n *Network) SGRuleID(g *SecurityGroup, egress bool, r SGRule) string {
	if r.ID != "" {
		return r.ID
	}
	return n.DerivedSGRuleID(g, egress, r, 0)
}

// DerivedSGRuleID is the id derived from g, the direction and what r
// matches (protocol, ports or ICMP type and code, peer), not its
// description; attempt > 0 re-derives after a collision with an id that a
// modified rule kept.
func (n *Network) DerivedSGRuleID(g *SecurityGroup, egress bool, r SGRule, attempt int) string {
	return derivedSGRuleID(n.Name, g, egress, r, attempt)
}

func derivedSGRuleID(topo string, g *SecurityGroup, egress bool, r SGRule, attempt int) string {
	from, to := r.FromPort, r.ToPort
	if (r.Protocol == 6 || r.Protocol == 17) && from == -1 && to == -1 {
		from, to = 0, 65535 // every port, however written (SameMatch)
	}
	dir := "ingress"
	if egress {
		dir = "egress"
	}
	peer := r.CIDR.String()
	if r.Group != nil {
		peer = r.Group.ID
	}
	key := fmt.Sprintf("%s/%s/%d/%d/%d/%s", g.ID, dir, r.Protocol, from, to, peer)
	if attempt > 0 {
		key += fmt.Sprintf("#%d", attempt)
	}
	return awsID(topo, "sgr", key)
}

// FreeSGRuleID is the id a new rule r of g takes: the derived one, or,
// when taken (by a rule that kept its id through a modification), the
// first re-derivation that is free.
func (n *Network) FreeSGRuleID(g *SecurityGroup, egress bool, r SGRule, taken func(id string) bool) string {
	for attempt := 0; ; attempt++ {
		if id := n.DerivedSGRuleID(g, egress, r, attempt); !taken(id) {
			return id
		}
	}
}

// SGRuleIDs are the ids of every rule of the network.
func (n *Network) SGRuleIDs() map[string]bool {
	ids := map[string]bool{}
	for _, v := range n.VPCs {
		for _, g := range v.SGs {
			for _, r := range g.Ingress {
				ids[n.SGRuleID(g, false, r)] = true
			}
			for _, r := range g.Egress {
				ids[n.SGRuleID(g, true, r)] = true
			}
		}
	}
	return ids
}

// fileRuleID is the "id" the file writes for r: "" when it is the derived
// one.
func fileRuleID(topo string, g *SecurityGroup, egress bool, r SGRule) string {
	if r.ID == "" || r.ID == derivedSGRuleID(topo, g, egress, r, 0) {
		return ""
	}
	return r.ID
}

// sgRuleIDs gives the rules of g the ids the file gave them (checked: the
// form of an id, unique in the network: SG-3) and, to a rule without one
// whose derived id another rule holds, a free re-derivation. fileIDs are
// the file's ids of the rules ("" none), paths their JSON paths; rules
// beyond them (the default group's implicit ones) have no file id.
func (r *resolver) sgRuleIDs(g *SecurityGroup, egress bool, rules []SGRule, fileIDs, paths []string) {
	if r.sgrIDs == nil {
		r.sgrIDs = map[string]string{}
	}
	taken := r.sgrIDs
	fileID := func(i int) (string, string) {
		if i < len(fileIDs) {
			return fileIDs[i], paths[i]
		}
		return "", g.Name
	}
	for i := range rules {
		id, path := fileID(i)
		switch {
		case id == "":
		case !ValidSGRuleID(id):
			r.errf(path+".id", "SG-3", "%q is not a security group rule id (sgr- and 17 hex digits)", id)
		case taken[id] != "":
			r.errf(path+".id", "SG-3", "rule id %s is already the id of %s", id, taken[id])
		default:
			rules[i].ID, taken[id] = id, path
		}
	}
	for i := range rules {
		if id, _ := fileID(i); id != "" {
			continue
		}
		_, path := fileID(i)
		id := r.n.FreeSGRuleID(g, egress, rules[i], func(id string) bool { return taken[id] != "" })
		if id != r.n.DerivedSGRuleID(g, egress, rules[i], 0) {
			rules[i].ID = id
		}
		taken[id] = path
	}
}

// sgRuleQuota holds a group's rules of one direction to the account's
// quota (QUOTA-1), as AuthorizeSecurityGroup* does.
func (r *resolver) sgRuleQuota(path string, n int) {
	if q := r.n.Settings.Quotas.RulesPerGroup; n > q {
		r.errf(path, "QUOTA-1", "%d rules, more than the %d per direction a security group may have (settings.quotas.rules_per_security_group)", n, q)
	}
}
