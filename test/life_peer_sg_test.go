package test

import (
	"strings"
	"testing"
)

// PEER-4 end to end: a rule of a group in VPC pa allowing tcp from group g
// of VPC pb, peered with pa. An instance of pb in g connects to pa's
// listener; one of pb not in g is refused. Once the peering is deleted the
// rule stays (stale) and matches nothing; with a new peering it matches
// again. The export with the stale rule loads (validate).
const peerSGTopo = `{
  "name": "NAME", "region": "us-east-1",
  "vpcs": [
    {"name": "pa", "cidr": "10.21.0.0/16",
     "subnets": [{"name": "psa", "cidr": "10.21.1.0/24", "az": "us-east-1a", "route_table": "prta"}],
     "route_tables": [{"name": "prta"}],
     "security_groups": [{"name": "srv-pa", "ingress": []}],
     "instances": [{"name": "psrv", "subnet": "psa", "private_ip": "10.21.1.10", "security_groups": ["srv-pa"],
                    "user_data": "vpcnet serve --tcp :7"}]},
    {"name": "pb", "cidr": "10.22.0.0/16",
     "subnets": [{"name": "psb", "cidr": "10.22.1.0/24", "az": "us-east-1a", "route_table": "prtb"}],
     "route_tables": [{"name": "prtb"}],
     "security_groups": [{"name": "g"}, {"name": "other"}],
     "instances": [{"name": "pin", "subnet": "psb", "private_ip": "10.22.1.10", "security_groups": ["g"]},
                   {"name": "pout", "subnet": "psb", "private_ip": "10.22.1.20", "security_groups": ["other"]}]}
  ]
}`

func TestPEER4_RuleOfAPeeredVPCsGroupCarriesTraffic(t *testing.T) {
	tp := Up(t, peerSGTopo)
	pcx := tp.peerLive(t, "pa", "pb", "prta", "prtb", "10.21.0.0/16", "10.22.0.0/16")
	// No rule yet: nobody gets in.
	if tp.ncOpens(t, "pin", "10.21.1.10", "7") {
		t.Fatal("pin connected before any rule allowed it")
	}
	// Not peered with c: refused, nothing changed.
	tp.refused(t, "InvalidParameterValue", "authorize-security-group-ingress", "--group-id", "srv-pa",
		"--ip-permissions", "IpProtocol=tcp,FromPort=7,ToPort=7,UserIdGroupPairs=[{GroupId=g,VpcPeeringConnectionId=pcx-00000000000000000}]")
	tp.ec2OK(t, nil, "authorize-security-group-ingress", "--group-id", "srv-pa",
		"--ip-permissions", "IpProtocol=tcp,FromPort=7,ToPort=7,UserIdGroupPairs=[{GroupId=g,VpcPeeringConnectionId="+pcx+"}]")
	opens := func(name string) bool {
		for range 20 { // the listener may still be starting
			if tp.ncOpens(t, name, "10.21.1.10", "7") {
				return true
			}
		}
		return false
	}
	if !opens("pin") {
		t.Fatal("pin (in g of the peered VPC) is refused")
	}
	if tp.ncOpens(t, "pout", "10.21.1.10", "7") {
		t.Fatal("pout (not in g) connected")
	}
	// The peering deleted: the rule stays, stale, and a new peering (with
	// its routes) does not make pin's traffic pass until it is active.
	tp.ec2OK(t, nil, "delete-vpc-peering-connection", "--vpc-peering-connection-id", pcx)
	out := tp.ec2OK(t, nil, "describe-security-groups", "--filters", "Name=group-name,Values=srv-pa")
	if !strings.Contains(out, `"FromPort": 7`) {
		t.Fatalf("the stale rule is gone:\n%s", out)
	}
	exp := exportOf(t, tp)
	if !strings.Contains(strings.Join(strings.Fields(exp), ""), `"source":"g","stale":true`) {
		t.Fatalf("the stale rule is not exported:\n%s", exp)
	}
	// Peered again (a new connection, new routes): the stale rule matches
	// again, without being authorized again. Its routes were blackholes
	// until now: replace them.
	var cr struct{ VpcPeeringConnection peeringDesc }
	tp.ec2OK(t, &cr, "create-vpc-peering-connection", "--vpc-id", "pa", "--peer-vpc-id", "pb")
	id := cr.VpcPeeringConnection.VpcPeeringConnectionId
	tp.ec2OK(t, nil, "accept-vpc-peering-connection", "--vpc-peering-connection-id", id)
	tp.ec2OK(t, nil, "replace-route", "--route-table-id", "prta", "--destination-cidr-block", "10.22.0.0/16", "--vpc-peering-connection-id", id)
	tp.ec2OK(t, nil, "replace-route", "--route-table-id", "prtb", "--destination-cidr-block", "10.21.0.0/16", "--vpc-peering-connection-id", id)
	if !opens("pin") {
		t.Fatal("pin is refused once the VPCs are peered again")
	}
	if tp.ncOpens(t, "pout", "10.21.1.10", "7") {
		t.Fatal("pout connected once the VPCs are peered again")
	}
}
