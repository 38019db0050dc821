package ec2

import (
	"encoding/json"
	"fmt"
	"regexp"
	"testing"

	"github.com/vpcnet/vpcnet/ec2/types"
)

// mirrorSetup makes, on the textbook's network, a target (db's ENI), a
// filter with an ingress and an egress rule, and a session on web's ENI.
func mirrorSetup(t *testing.T) (d *Service, target, filter, session string) {
	t.Helper()
	d = rulesSvc(t, "")
	db := d.net.InstanceByName["db"].Primary()
	tg := callOK(t, d, "CreateTrafficMirrorTarget", `{"NetworkInterfaceId": "`+db.ID+`", "Description": "monitor",
		"TagSpecifications": [{"ResourceType": "traffic-mirror-target", "Tags": [{"Key": "Name", "Value": "t-db"}]}]}`).(*types.CreateTrafficMirrorTargetResult)
	target = deref(tg.TrafficMirrorTarget.TrafficMirrorTargetId)
	if !regexp.MustCompile(`^tmt-[0-9a-f]{17}$`).MatchString(target) || tg.TrafficMirrorTarget.Type != types.TrafficMirrorTargetTypeNetworkInterface ||
		deref(tg.TrafficMirrorTarget.NetworkInterfaceId) != db.ID {
		t.Fatalf("target: %+v", tg.TrafficMirrorTarget)
	}
	f := callOK(t, d, "CreateTrafficMirrorFilter", `{"Description": "web"}`).(*types.CreateTrafficMirrorFilterResult)
	filter = deref(f.TrafficMirrorFilter.TrafficMirrorFilterId)
	callOK(t, d, "CreateTrafficMirrorFilterRule", `{"TrafficMirrorFilterId": "`+filter+`", "TrafficDirection": "ingress", "RuleNumber": 100,
		"RuleAction": "accept", "Protocol": 6, "DestinationPortRange": {"FromPort": 80, "ToPort": 80},
		"SourceCidrBlock": "0.0.0.0/0", "DestinationCidrBlock": "0.0.0.0/0"}`)
	callOK(t, d, "CreateTrafficMirrorFilterRule", `{"TrafficMirrorFilterId": "`+filter+`", "TrafficDirection": "egress", "RuleNumber": 100,
		"RuleAction": "accept", "SourceCidrBlock": "0.0.0.0/0", "DestinationCidrBlock": "0.0.0.0/0"}`)
	s := callOK(t, d, "CreateTrafficMirrorSession", `{"NetworkInterfaceId": "web", "TrafficMirrorTargetId": "`+target+`",
		"TrafficMirrorFilterId": "`+filter+`", "SessionNumber": 1, "PacketLength": 128}`).(*types.CreateTrafficMirrorSessionResult)
	session = deref(s.TrafficMirrorSession.TrafficMirrorSessionId)
	return d, target, filter, session
}

func describeMirror(t *testing.T, d *Service) string {
	t.Helper()
	var out []any
	for _, op := range []string{"DescribeTrafficMirrorTargets", "DescribeTrafficMirrorFilters", "DescribeTrafficMirrorSessions"} {
		out = append(out, callOK(t, d, op, `{}`))
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// TM-1..TM-4: the resources with EC2's answers; the export keeps them
// (traffic_mirroring) and loads again with the same answers; deletes in
// order.
func TestTM_MirrorLifecycleAndExport(t *testing.T) {
	d, target, filter, session := mirrorSetup(t)
	web := d.net.InstanceByName["web"].Primary()
	ss := callOK(t, d, "DescribeTrafficMirrorSessions", `{"Filters": [{"Name": "network-interface-id", "Values": ["`+web.ID+`"]}]}`).(*types.DescribeTrafficMirrorSessionsResult).TrafficMirrorSessions
	if len(ss) != 1 || deref(ss[0].TrafficMirrorSessionId) != session || deref(ss[0].PacketLength) != 128 || deref(ss[0].SessionNumber) != 1 ||
		deref(ss[0].VirtualNetworkId) <= 0 || deref(ss[0].TrafficMirrorTargetId) != target || deref(ss[0].TrafficMirrorFilterId) != filter {
		t.Fatalf("sessions: %+v", ss)
	}
	fs := callOK(t, d, "DescribeTrafficMirrorFilters", `{"TrafficMirrorFilterIds": ["`+filter+`"]}`).(*types.DescribeTrafficMirrorFiltersResult).TrafficMirrorFilters
	if len(fs) != 1 || len(fs[0].IngressFilterRules) != 1 || len(fs[0].EgressFilterRules) != 1 ||
		deref(fs[0].IngressFilterRules[0].DestinationPortRange.FromPort) != 80 || deref(fs[0].IngressFilterRules[0].Protocol) != 6 ||
		fs[0].EgressFilterRules[0].Protocol != nil || fs[0].EgressFilterRules[0].TrafficDirection != types.TrafficDirectionEgress {
		t.Fatalf("filter: %+v", fs)
	}
	before := describeMirror(t, d)
	again := reloadedSvc(t, d)
	if got := describeMirror(t, again); got != before {
		t.Fatalf("export then up changed the answers:\n%s\n%s", before, got)
	}
	// The VNI a session was given by default stays unique (TM-4).
	s2 := callOK(t, d, "CreateTrafficMirrorSession", `{"NetworkInterfaceId": "eni-extra", "TrafficMirrorTargetId": "`+target+`",
		"TrafficMirrorFilterId": "`+filter+`", "SessionNumber": 1}`).(*types.CreateTrafficMirrorSessionResult).TrafficMirrorSession
	if *s2.VirtualNetworkId == *ss[0].VirtualNetworkId {
		t.Errorf("two sessions share VNI %d", *s2.VirtualNetworkId)
	}
	callOK(t, d, "DeleteTrafficMirrorSession", `{"TrafficMirrorSessionId": "`+deref(s2.TrafficMirrorSessionId)+`"}`)
	callOK(t, d, "DeleteTrafficMirrorSession", `{"TrafficMirrorSessionId": "`+session+`"}`)
	callOK(t, d, "DeleteTrafficMirrorFilterRule", `{"TrafficMirrorFilterRuleId": "`+deref(fs[0].IngressFilterRules[0].TrafficMirrorFilterRuleId)+`"}`)
	callOK(t, d, "DeleteTrafficMirrorFilter", `{"TrafficMirrorFilterId": "`+filter+`"}`)
	callOK(t, d, "DeleteTrafficMirrorTarget", `{"TrafficMirrorTargetId": "`+target+`"}`)
	if got := describeMirror(t, d); got != `[{"TrafficMirrorTargets":[]},{"TrafficMirrorFilters":[]},{"TrafficMirrorSessions":[]}]` {
		t.Fatalf("left after deletes: %s", got)
	}
}

// Every refusal answers EC2's code and changes nothing.
func TestTM_MirrorRefusals(t *testing.T) {
	d, target, filter, session := mirrorSetup(t)
	web, db := d.net.InstanceByName["web"].Primary(), d.net.InstanceByName["db"].Primary()
	nat := d.net.VPCs[0].NATs[0].ENI
	sess := func(src string, num int, extra string) string {
		return fmt.Sprintf(`{"NetworkInterfaceId": %q, "TrafficMirrorTargetId": %q, "TrafficMirrorFilterId": %q, "SessionNumber": %d%s}`,
			src, target, filter, num, extra)
	}
	rule := func(dir string, num int, extra string) string {
		return fmt.Sprintf(`{"TrafficMirrorFilterId": %q, "TrafficDirection": %q, "RuleNumber": %d, "RuleAction": "accept",
			"SourceCidrBlock": "0.0.0.0/0", "DestinationCidrBlock": "10.0.0.0/8"%s}`, filter, dir, num, extra)
	}
	for _, c := range []struct{ name, op, req, code string }{
		{"NLB target (TM-1)", "CreateTrafficMirrorTarget", `{"NetworkLoadBalancerArn": "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:loadbalancer/net/x/1"}`, "Unsupported"},
		{"GWLB endpoint target (TM-1)", "CreateTrafficMirrorTarget", `{"GatewayLoadBalancerEndpointId": "vpce-0123456789abcdef0"}`, "Unsupported"},
		{"target without interface", "CreateTrafficMirrorTarget", `{}`, "MissingParameter"},
		{"target unknown interface", "CreateTrafficMirrorTarget", `{"NetworkInterfaceId": "eni-0123456789abcdef0"}`, "InvalidNetworkInterfaceID.NotFound"},
		{"target NAT gateway's interface (TM-1)", "CreateTrafficMirrorTarget", `{"NetworkInterfaceId": "` + nat.ID + `"}`, "InvalidParameterValue"},
		{"target name taken", "CreateTrafficMirrorTarget", `{"NetworkInterfaceId": "db", "TagSpecifications": [{"ResourceType": "traffic-mirror-target", "Tags": [{"Key": "Name", "Value": "web"}]}]}`, "InvalidParameterValue"},
		{"delete target in use (TM-1)", "DeleteTrafficMirrorTarget", `{"TrafficMirrorTargetId": "` + target + `"}`, "TrafficMirrorTargetInUseException"},
		{"delete unknown target", "DeleteTrafficMirrorTarget", `{"TrafficMirrorTargetId": "tmt-0123456789abcdef0"}`, "InvalidTrafficMirrorTargetNoFound"},
		{"delete filter in use (TM-1)", "DeleteTrafficMirrorFilter", `{"TrafficMirrorFilterId": "` + filter + `"}`, "TrafficMirrorFilterInUse"},
		{"delete unknown filter", "DeleteTrafficMirrorFilter", `{"TrafficMirrorFilterId": "tmf-0123456789abcdef0"}`, "InvalidTrafficMirrorFilterNotFound"},
		{"rule number taken (TM-2)", "CreateTrafficMirrorFilterRule", rule("ingress", 100, ""), "TrafficMirrorFilterRuleAlreadyExists"},
		{"rule number 0", "CreateTrafficMirrorFilterRule", rule("ingress", 0, ""), "MissingParameter"},
		{"rule number 32767 (TM-2)", "CreateTrafficMirrorFilterRule", rule("ingress", 32767, ""), "InvalidParameterValue"},
		{"rule direction", "CreateTrafficMirrorFilterRule", rule("sideways", 1, ""), "InvalidParameterValue"},
		{"rule action", "CreateTrafficMirrorFilterRule", `{"TrafficMirrorFilterId": "` + filter + `", "TrafficDirection": "ingress", "RuleNumber": 1, "RuleAction": "allow", "SourceCidrBlock": "0.0.0.0/0", "DestinationCidrBlock": "0.0.0.0/0"}`, "InvalidParameterValue"},
		{"rule bad cidr", "CreateTrafficMirrorFilterRule", `{"TrafficMirrorFilterId": "` + filter + `", "TrafficDirection": "ingress", "RuleNumber": 1, "RuleAction": "accept", "SourceCidrBlock": "10.0.0.0/33", "DestinationCidrBlock": "0.0.0.0/0"}`, "InvalidParameterValue"},
		{"rule without cidr", "CreateTrafficMirrorFilterRule", `{"TrafficMirrorFilterId": "` + filter + `", "TrafficDirection": "ingress", "RuleNumber": 1, "RuleAction": "accept", "SourceCidrBlock": "0.0.0.0/0"}`, "MissingParameter"},
		{"ports without tcp or udp (TM-2)", "CreateTrafficMirrorFilterRule", rule("ingress", 1, `, "Protocol": 1, "DestinationPortRange": {"FromPort": 1, "ToPort": 2}`), "InvalidParameterValue"},
		{"port range backwards", "CreateTrafficMirrorFilterRule", rule("ingress", 1, `, "Protocol": 6, "DestinationPortRange": {"FromPort": 90, "ToPort": 80}`), "InvalidParameterValue"},
		{"rule of unknown filter", "CreateTrafficMirrorFilterRule", `{"TrafficMirrorFilterId": "tmf-0123456789abcdef0", "TrafficDirection": "ingress", "RuleNumber": 1, "RuleAction": "accept", "SourceCidrBlock": "0.0.0.0/0", "DestinationCidrBlock": "0.0.0.0/0"}`, "InvalidTrafficMirrorFilterNotFound"},
		{"delete unknown rule", "DeleteTrafficMirrorFilterRule", `{"TrafficMirrorFilterRuleId": "tmfr-0123456789abcdef0"}`, "InvalidTrafficMirrorFilterRuleNotFound"},
		{"source is the target (TM-3)", "CreateTrafficMirrorSession", sess(db.ID, 1, ""), "InvalidParameterValue"},
		{"session number taken on the source (TM-3)", "CreateTrafficMirrorSession", sess(web.ID, 1, ""), "InvalidParameterValue"},
		{"session number 0", "CreateTrafficMirrorSession", sess(web.ID, 0, ""), "InvalidParameterValue"},
		{"session number 32767", "CreateTrafficMirrorSession", sess(web.ID, 32767, ""), "InvalidParameterValue"},
		{"packet length 0", "CreateTrafficMirrorSession", sess(web.ID, 2, `, "PacketLength": 0`), "InvalidParameterValue"},
		{"VNI beyond 24 bits", "CreateTrafficMirrorSession", sess(web.ID, 2, `, "VirtualNetworkId": 16777216`), "InvalidParameterValue"},
		{"unknown target", "CreateTrafficMirrorSession", `{"NetworkInterfaceId": "web", "TrafficMirrorTargetId": "tmt-0123456789abcdef0", "TrafficMirrorFilterId": "` + filter + `", "SessionNumber": 2}`, "InvalidTrafficMirrorTargetNoFound"},
		{"unknown filter", "CreateTrafficMirrorSession", `{"NetworkInterfaceId": "web", "TrafficMirrorTargetId": "` + target + `", "TrafficMirrorFilterId": "tmf-0123456789abcdef0", "SessionNumber": 2}`, "InvalidTrafficMirrorFilterNotFound"},
		{"requester-managed source", "CreateTrafficMirrorSession", sess(nat.ID, 1, ""), "InvalidParameterValue"},
		{"delete unknown session", "DeleteTrafficMirrorSession", `{"TrafficMirrorSessionId": "tms-0123456789abcdef0"}`, "InvalidTrafficMirrorSessionNotFound"},
		{"describe unknown target", "DescribeTrafficMirrorTargets", `{"TrafficMirrorTargetIds": ["tmt-0123456789abcdef0"]}`, "InvalidTrafficMirrorTargetNoFound"},
		{"describe unknown filter name", "DescribeTrafficMirrorSessions", `{"Filters": [{"Name": "colour", "Values": ["red"]}]}`, "InvalidParameterValue"},
	} {
		t.Run(c.name, func(t *testing.T) { refused(t, d, c.op, c.req, c.code) })
	}
	_ = session
	// TM-3: a source's fourth session.
	callOK(t, d, "CreateTrafficMirrorSession", sess(web.ID, 2, ""))
	callOK(t, d, "CreateTrafficMirrorSession", sess(web.ID, 3, ""))
	refused(t, d, "CreateTrafficMirrorSession", sess(web.ID, 4, ""), "TrafficMirrorSessionsPerInterfaceLimitExceeded")
	// TM-2: the eleventh rule of a filter.
	for n := 1; n <= 8; n++ {
		callOK(t, d, "CreateTrafficMirrorFilterRule", rule("egress", n, ""))
	}
	refused(t, d, "CreateTrafficMirrorFilterRule", rule("egress", 9, ""), "TrafficMirrorFilterRuleLimitExceeded")
}

// A session and a target go with their interface: when it is deleted,
// describe and export leave them out, and the export loads.
func TestTM_MirrorGoesWithItsInterface(t *testing.T) {
	d, _, filter, _ := mirrorSetup(t)
	sub := d.net.InstanceByName["web"].Subnet
	e := callOK(t, d, "CreateNetworkInterface", `{"SubnetId": "`+sub.ID+`"}`).(*types.CreateNetworkInterfaceResult).NetworkInterface
	tg := callOK(t, d, "CreateTrafficMirrorTarget", `{"NetworkInterfaceId": "`+deref(e.NetworkInterfaceId)+`"}`).(*types.CreateTrafficMirrorTargetResult)
	callOK(t, d, "CreateTrafficMirrorSession", `{"NetworkInterfaceId": "web", "TrafficMirrorTargetId": "`+deref(tg.TrafficMirrorTarget.TrafficMirrorTargetId)+`",
		"TrafficMirrorFilterId": "`+filter+`", "SessionNumber": 2}`)
	if n := len(callOK(t, d, "DescribeTrafficMirrorSessions", `{}`).(*types.DescribeTrafficMirrorSessionsResult).TrafficMirrorSessions); n != 2 {
		t.Fatalf("%d sessions", n)
	}
	callOK(t, d, "DeleteNetworkInterface", `{"NetworkInterfaceId": "`+deref(e.NetworkInterfaceId)+`"}`)
	ss := callOK(t, d, "DescribeTrafficMirrorSessions", `{}`).(*types.DescribeTrafficMirrorSessionsResult).TrafficMirrorSessions
	ts := callOK(t, d, "DescribeTrafficMirrorTargets", `{}`).(*types.DescribeTrafficMirrorTargetsResult).TrafficMirrorTargets
	if len(ss) != 1 || len(ts) != 1 {
		t.Fatalf("left: %d sessions, %d targets", len(ss), len(ts))
	}
	before := describeMirror(t, d)
	if got := describeMirror(t, reloadedSvc(t, d)); got != before {
		t.Fatalf("export then up changed the answers:\n%s\n%s", before, got)
	}
}
