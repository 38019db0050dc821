package test

import (
	"strings"
	"testing"
	"time"
)

// analyzeTopo: app in subnet a; db in subnet b behind a NACL that lets
// 5432 in and out but forgets the replies' ephemeral ports, the textbook's
// NACL mistake.
const analyzeTopo = `{
  "name": "NAME", "region": "us-east-1",
  "vpcs": [{
    "name": "v", "cidr": "10.8.0.0/16",
    "subnets": [{"name": "a", "cidr": "10.8.1.0/24", "az": "us-east-1a"},
                {"name": "b", "cidr": "10.8.2.0/24", "az": "us-east-1a", "network_acl": "strict"}],
    "network_acls": [{"name": "strict",
      "ingress": [{"rule": 100, "protocol": "tcp", "ports": "5432", "cidr": "10.8.0.0/16", "action": "allow"}],
      "egress": [{"rule": 100, "protocol": "tcp", "ports": "5432", "cidr": "10.8.0.0/16", "action": "allow"}]}],
    "security_groups": [{"name": "sg-app", "ingress": []},
                        {"name": "sg-db", "ingress": [{"protocol": "tcp", "ports": "5432", "source": "sg-app"}]}],
    "instances": [
      {"name": "app", "subnet": "a", "private_ip": "10.8.1.10", "security_groups": ["sg-app"]},
      {"name": "db", "subnet": "b", "private_ip": "10.8.2.10", "security_groups": ["sg-db"], "user_data": "vpcnet serve --http :5432"}
    ]
  }]
}`

type insights struct {
	NetworkInsightsAnalysis struct {
		NetworkInsightsAnalysisId, NetworkInsightsPathId, Status string
		NetworkPathFound                                         bool
		ForwardPathComponents                                    []pathComponent
		ReturnPathComponents                                     []pathComponent
		Explanations                                             []struct {
			ExplanationCode, Direction string
			Acl                        struct{ Id string }
			AclRule                    struct {
				Egress     bool
				RuleNumber int
				RuleAction string
			}
		}
	}
}

// pathComponent is EC2's PathComponent, as much as the tests read.
type pathComponent struct {
	SequenceNumber int
	Component      struct{ Id string }
}

// hopKinds names each component of a path by its id's prefix (eni-, sg-,
// rtb-, acl-), as the path's hops read.
func hopKinds(cs []pathComponent) string {
	var out []string
	for i, c := range cs {
		kind, _, _ := strings.Cut(c.Component.Id, "-")
		if c.SequenceNumber != i+1 {
			kind += "?"
		}
		out = append(out, kind)
	}
	return strings.Join(out, " ")
}

// OBS-3 on a running network, against real traffic: the analysis names the
// NACL rule that drops the replies while a real connection fails; after the
// missing rule is added live, the analysis finds the path and the
// connection works.
func TestOBS3_AnalysisExplainsALiveFailure(t *testing.T) {
	tp := Up(t, analyzeTopo)
	ask := func() insights {
		var r insights
		tp.ec2OK(t, &r, "start-network-insights-analysis", "--source", "app", "--destination", "db", "--protocol", "tcp", "--destination-port", "5432")
		return r
	}
	r := ask().NetworkInsightsAnalysis
	if r.NetworkPathFound || len(r.Explanations) != 1 {
		t.Fatalf("analysis before the fix: %+v", r)
	}
	e := r.Explanations[0]
	acl := tp.naclID(t, "strict")
	// The replies are what is blocked: the request reached db (the forward
	// path ends at its interface) and db's subnet's ACL denies them on
	// their way out by its default rule (*, 32767).
	if e.ExplanationCode != "SUBNET_ACL_RESTRICTION" || e.Acl.Id != acl || e.Direction != "egress" || !e.AclRule.Egress ||
		e.AclRule.RuleNumber != 32767 || e.AclRule.RuleAction != "deny" {
		t.Errorf("explanation %+v, want SUBNET_ACL_RESTRICTION at %s, egress, rule *", e, acl)
	}
	if got := hopKinds(r.ForwardPathComponents); got != "eni sg rtb acl acl sg eni" || len(r.ReturnPathComponents) == 0 {
		t.Errorf("before the fix: forward path %s, return path %+v", got, r.ReturnPathComponents)
	}
	if !strings.HasPrefix(r.NetworkInsightsAnalysisId, "nia-") || !strings.HasPrefix(r.NetworkInsightsPathId, "nip-") || r.Status != "succeeded" {
		t.Errorf("analysis %+v", r)
	}
	// db's server listens; the connection times out: the replies are lost.
	for i := 0; ; i++ {
		if out, _ := tp.Exec(t, "db", "ss", "-ltn"); strings.Contains(out, ":5432 ") {
			break
		}
		if i == 50 {
			t.Fatal("db's server is not listening")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out, err := tp.Exec(t, "app", "curl", "-sS", "--max-time", "2", "http://10.8.2.10:5432/"); err == nil || !strings.Contains(out, "timed out") {
		t.Fatalf("before the fix, want a timeout: %v %s", err, out)
	}
	tp.ec2OK(t, nil, "create-network-acl-entry", "--network-acl-id", "strict", "--rule-number", "110", "--protocol", "tcp",
		"--port-range", "From=1024,To=65535", "--cidr-block", "10.8.0.0/16", "--rule-action", "allow", "--egress")
	r = ask().NetworkInsightsAnalysis
	if !r.NetworkPathFound || len(r.Explanations) != 0 {
		t.Fatalf("analysis after the fix: %+v", r)
	}
	if got := hopKinds(r.ForwardPathComponents); got != "eni sg rtb acl acl sg eni" {
		t.Errorf("path %s", got)
	}
	if got := hopKinds(r.ReturnPathComponents); got != "eni rtb acl acl eni" {
		t.Errorf("return path %s", got)
	}
	if w, err := tp.Curl(t, "app", "http://10.8.2.10:5432/"); err != nil || w.Name != "db" {
		t.Errorf("after the fix: %+v %v", w, err)
	}
	// A source that is not in the network is refused, AWS-style, and
	// changes nothing: no path, no analysis; app still reaches db.
	tp.refused(t, "InvalidParameterValue", "start-network-insights-analysis", "--source", "nobody", "--destination", "db")
	if w, err := tp.Curl(t, "app", "http://10.8.2.10:5432/"); err != nil || w.Name != "db" {
		t.Errorf("after the refused analysis: %+v %v", w, err)
	}
}

// naclID returns the id of the network ACL whose Name tag is name.
func (tp *Topo) naclID(t *testing.T, name string) string {
	t.Helper()
	var r struct {
		NetworkAcls []struct {
			NetworkAclId string
			Tags         []tagDesc
		}
	}
	tp.ec2OK(t, &r, "describe-network-acls")
	for _, a := range r.NetworkAcls {
		if nameTag(a.Tags) == name {
			return a.NetworkAclId
		}
	}
	t.Fatalf("no network ACL %q", name)
	return ""
}

// natInstanceTopo: app in a private subnet whose default route is natinst,
// a NAT instance (source/dest check off, an EIP) that masquerades with nft
// in its own namespace; an internet host inet.
const natInstanceTopo = `{
  "name": "NAME", "region": "us-east-1",
  "internet": {"hosts": [{"name": "inet", "ip": "203.0.113.80", "user_data": "vpcnet serve --http :80"}]},
  "vpcs": [{
    "name": "v", "cidr": "10.7.0.0/16", "internet_gateway": "igw",
    "subnets": [
      {"name": "pub", "cidr": "10.7.1.0/24", "az": "us-east-1a", "route_table": "rt-pub"},
      {"name": "priv", "cidr": "10.7.2.0/24", "az": "us-east-1a", "route_table": "rt-priv"}
    ],
    "route_tables": [
      {"name": "rt-pub", "routes": [{"destination": "0.0.0.0/0", "target": "igw"}]},
      {"name": "rt-priv", "routes": [{"destination": "0.0.0.0/0", "target": "natinst"}]}
    ],
    "security_groups": [{"name": "sg-nat", "ingress": [{"protocol": "all", "source": "10.7.0.0/16"}]}, {"name": "sg-app", "ingress": []}],
    "instances": [
      {"name": "natinst", "subnet": "pub", "private_ip": "10.7.1.10", "security_groups": ["sg-nat"], "associate_public_ip": true, "source_dest_check": false,
       "user_data": "echo 0 > /proc/sys/net/ipv4/conf/all/send_redirects; echo 0 > /proc/sys/net/ipv4/conf/eth0/send_redirects; nft 'add table ip nat; add chain ip nat post { type nat hook postrouting priority 100; }; add rule ip nat post oifname eth0 ip saddr 10.7.2.0/24 masquerade' && echo 1 > /proc/sys/net/ipv4/ip_forward"},
      {"name": "app", "subnet": "priv", "private_ip": "10.7.2.10", "security_groups": ["sg-app"]}
    ]
  }]
}`

// OBS-3 against real traffic through an appliance: app reaches the internet
// through a NAT instance that masquerades (curl works, the internet host
// sees the NAT instance's public IP), and the analysis of that path is not
// a definite "no": it names the appliance and that its behaviour is unknown.
func TestOBS3_NATInstancePathIsNotADefiniteNo(t *testing.T) {
	tp := Up(t, natInstanceTopo)
	for i := 0; ; i++ { // natinst's user_data turns forwarding on last
		if out, _ := tp.Exec(t, "natinst", "cat", "/proc/sys/net/ipv4/ip_forward"); strings.TrimSpace(out) == "1" {
			break
		}
		if i == 100 {
			out, _ := tp.Exec(t, "natinst", "nft", "list", "ruleset")
			t.Fatalf("natinst's user_data did not set up NAT: %s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	w, err := tp.Curl(t, "app", "http://203.0.113.80/")
	if err != nil || w.Name != "inet" {
		t.Fatalf("app → internet through the NAT instance: %+v %v", w, err)
	}
	if pub := tp.publicIP(t, "natinst"); !strings.HasPrefix(w.Client, pub+":") {
		t.Errorf("the internet saw %s, want the NAT instance's public IP %s", w.Client, pub)
	}
	nat := tp.instance(t, "natinst").NetworkInterfaces[0].NetworkInterfaceId
	var r struct {
		NetworkInsightsAnalysis struct {
			NetworkPathFound bool
			WarningMessage   string
			Explanations     []struct {
				ExplanationCode  string
				NetworkInterface struct{ Id string }
			}
		}
	}
	tp.ec2OK(t, &r, "start-network-insights-analysis", "--source", "app", "--destination", "inet", "--protocol", "tcp", "--destination-port", "80")
	a := r.NetworkInsightsAnalysis
	if len(a.Explanations) == 0 || a.Explanations[0].ExplanationCode != "APPLIANCE_BEHAVIOR_UNKNOWN" || a.Explanations[0].NetworkInterface.Id != nat {
		t.Errorf("the analysis of a working path through a NAT instance is a definite no: %+v", a)
	}
	if !strings.Contains(a.WarningMessage, nat) {
		t.Errorf("warning %q does not name the appliance %s", a.WarningMessage, nat)
	}
}
