package test

import (
	"strings"
	"testing"
)

// End-to-end tests of issue 12's route tables, network ACLs and VPC
// peering, made and changed live (RT-1, RT-3, NACL-3, NACL-5, PEER-1 …
// PEER-3, LIFE-1): each change is checked with real traffic between
// namespaces, and each drop with the forwarder's counters.

// threeVPCs: a, b and c, each a subnet with its own route table and an
// instance that answers ping from 10/8; no peering yet.
const threeVPCs = `{
  "name": "NAME", "region": "us-east-1",
  "vpcs": [
    {"name": "va", "cidr": "10.11.0.0/16",
     "subnets": [{"name": "sa", "cidr": "10.11.1.0/24", "az": "us-east-1a", "route_table": "rta"}],
     "route_tables": [{"name": "rta"}],
     "security_groups": [{"name": "pa", "ingress": [{"protocol": "icmp", "source": "10.0.0.0/8"}]}],
     "instances": [{"name": "a1", "subnet": "sa", "private_ip": "10.11.1.10", "security_groups": ["pa"]}]},
    {"name": "vb", "cidr": "10.12.0.0/16",
     "subnets": [{"name": "sb", "cidr": "10.12.1.0/24", "az": "us-east-1a", "route_table": "rtb"}],
     "route_tables": [{"name": "rtb"}],
     "security_groups": [{"name": "pb", "ingress": [{"protocol": "icmp", "source": "10.0.0.0/8"}]}],
     "instances": [{"name": "b1", "subnet": "sb", "private_ip": "10.12.1.10", "security_groups": ["pb"]}]},
    {"name": "vc", "cidr": "10.13.0.0/16",
     "subnets": [{"name": "sc", "cidr": "10.13.1.0/24", "az": "us-east-1a", "route_table": "rtc"}],
     "route_tables": [{"name": "rtc"}],
     "security_groups": [{"name": "pc", "ingress": [{"protocol": "icmp", "source": "10.0.0.0/8"}]}],
     "instances": [{"name": "c1", "subnet": "sc", "private_ip": "10.13.1.10", "security_groups": ["pc"]}]}
  ]
}`

type peeringDesc struct {
	VpcPeeringConnectionId string
	Status                 struct{ Code, Message string }
	RequesterVpcInfo       struct{ VpcId, CidrBlock, OwnerId, Region string }
	AccepterVpcInfo        struct{ VpcId, CidrBlock, OwnerId, Region string }
}

// peerLive requests and accepts a connection between two VPCs of tp, with
// routes both ways, and returns its id.
func (tp *Topo) peerLive(t *testing.T, a, b, rta, rtb, cidrA, cidrB string) string {
	t.Helper()
	var cr struct{ VpcPeeringConnection peeringDesc }
	tp.ec2OK(t, &cr, "create-vpc-peering-connection", "--vpc-id", a, "--peer-vpc-id", b)
	if cr.VpcPeeringConnection.Status.Code != "pending-acceptance" {
		t.Fatalf("create-vpc-peering-connection: %+v", cr)
	}
	id := cr.VpcPeeringConnection.VpcPeeringConnectionId
	var acc struct{ VpcPeeringConnection peeringDesc }
	tp.ec2OK(t, &acc, "accept-vpc-peering-connection", "--vpc-peering-connection-id", id)
	if acc.VpcPeeringConnection.Status.Code != "active" || acc.VpcPeeringConnection.AccepterVpcInfo.CidrBlock != cidrB ||
		acc.VpcPeeringConnection.RequesterVpcInfo.CidrBlock != cidrA {
		t.Fatalf("accept-vpc-peering-connection: %+v", acc)
	}
	tp.ec2OK(t, nil, "create-route", "--route-table-id", rta, "--destination-cidr-block", cidrB, "--vpc-peering-connection-id", id)
	tp.ec2OK(t, nil, "create-route", "--route-table-id", rtb, "--destination-cidr-block", cidrA, "--vpc-peering-connection-id", id)
	return id
}

// TestPEER1_LivePeeringCarriesTrafficUntilDeleted: two VPCs peered live
// (request, accept, routes both ways) reach each other; a third VPC peered
// with the second is not reached through it (PEER-2: not transitive); once
// the peering is deleted the ping fails, its routes are blackholes, and the
// drop is counted under the peering reason, not local-no-eni (PEER-3).
func TestPEER1_LivePeeringCarriesTrafficUntilDeleted(t *testing.T) {
	tp := Up(t, threeVPCs)
	if tp.Ping(t, "a1", "10.12.1.10") {
		t.Fatal("a1 reached b1 before any peering")
	}
	// PEER-1: overlapping CIDRs fail, nothing changes; other accounts are refused.
	tp.refused(t, "Unsupported", "create-vpc-peering-connection", "--vpc-id", "va", "--peer-vpc-id", "vb", "--peer-owner-id", "111122223333")
	tp.refused(t, "InvalidParameterValue", "create-vpc-peering-connection", "--vpc-id", "va", "--peer-vpc-id", "va")

	ab := tp.peerLive(t, "va", "vb", "rta", "rtb", "10.11.0.0/16", "10.12.0.0/16")
	if !tp.PingEventually(t, "a1", "10.12.1.10") || !tp.Ping(t, "b1", "10.11.1.10") {
		t.Fatal("a1 and b1 do not reach each other over an active peering")
	}
	tp.refused(t, "VpcPeeringConnectionAlreadyExists", "create-vpc-peering-connection", "--vpc-id", "vb", "--peer-vpc-id", "va")
	tp.refused(t, "InvalidStateTransition", "accept-vpc-peering-connection", "--vpc-peering-connection-id", ab)
	if !tp.Ping(t, "a1", "10.12.1.10") || !tp.Ping(t, "b1", "10.11.1.10") {
		t.Fatal("a1 and b1 no longer reach each other after the refused requests")
	}

	// PEER-2: b and c peered; a routes c's CIDR to the a-b peering: no.
	tp.peerLive(t, "vb", "vc", "rtb", "rtc", "10.12.0.0/16", "10.13.0.0/16")
	if !tp.PingEventually(t, "b1", "10.13.1.10") {
		t.Fatal("b1 does not reach c1 over their peering")
	}
	tp.ec2OK(t, nil, "create-route", "--route-table-id", "rta", "--destination-cidr-block", "10.13.0.0/16", "--vpc-peering-connection-id", ab)
	before := tp.Drops(t, "a1", "vpc-peering")
	if tp.Ping(t, "a1", "10.13.1.10") {
		t.Fatal("a1 reached c1 through b's peering: peering is not transitive (PEER-2)")
	}
	if n := tp.Drops(t, "a1", "vpc-peering"); n <= before {
		t.Fatalf("the transitive attempt is not counted under vpc-peering: %d → %d", before, n)
	}

	// PEER-3: delete a-b: the ping fails, counted under vpc-peering, not
	// local-no-eni; the route shows as a blackhole.
	tp.ec2OK(t, nil, "delete-vpc-peering-connection", "--vpc-peering-connection-id", ab)
	before, noENI := tp.Drops(t, "a1", "vpc-peering"), tp.Drops(t, "a1", "local-no-eni")
	if tp.Ping(t, "a1", "10.12.1.10") {
		t.Fatal("a1 reached b1 after the peering was deleted")
	}
	if n := tp.Drops(t, "a1", "vpc-peering"); n <= before {
		t.Fatalf("the drop through a deleted peering is not counted under vpc-peering: %d → %d", before, n)
	}
	if n := tp.Drops(t, "a1", "local-no-eni"); n != noENI {
		t.Fatalf("the drop through a deleted peering is counted as local-no-eni: %d → %d", noENI, n)
	}
	var rts struct {
		RouteTables []struct {
			Routes []struct{ DestinationCidrBlock, VpcPeeringConnectionId, State string }
		}
	}
	tp.ec2OK(t, &rts, "describe-route-tables", "--filters", "Name=tag:Name,Values=rta")
	states := map[string]string{}
	for _, r := range rts.RouteTables[0].Routes {
		states[r.DestinationCidrBlock] = r.VpcPeeringConnectionId + " " + r.State
	}
	if states["10.12.0.0/16"] != ab+" blackhole" {
		t.Fatalf("route via the deleted peering: %v", states)
	}
	var d struct{ VpcPeeringConnections []peeringDesc }
	tp.ec2OK(t, &d, "describe-vpc-peering-connections", "--vpc-peering-connection-ids", ab)
	if len(d.VpcPeeringConnections) != 1 || d.VpcPeeringConnections[0].Status.Code != "deleted" {
		t.Fatalf("the deleted peering: %+v", d)
	}
	// b and c still talk.
	if !tp.Ping(t, "b1", "10.13.1.10") {
		t.Fatal("b1 lost c1 when a-b was deleted")
	}
}

// TestRT1_LiveRouteTableAssociationSteersTraffic: a table made live and
// associated with a subnet decides where its traffic goes at once (here:
// no route to the peer, so the ping fails); disassociated, the subnet is
// back on its VPC's main table; associated again with its first table,
// the ping works. The refusals (a second association, the delete of an
// associated table and of the main table) leave the network as it was,
// and a1 still reaches b1.
func TestRT1_LiveRouteTableAssociationSteersTraffic(t *testing.T) {
	tp := Up(t, threeVPCs)
	tp.peerLive(t, "va", "vb", "rta", "rtb", "10.11.0.0/16", "10.12.0.0/16")
	if !tp.PingEventually(t, "a1", "10.12.1.10") {
		t.Fatal("baseline: a1 does not reach b1")
	}
	var cr struct{ RouteTable struct{ RouteTableId string } }
	tp.ec2OK(t, &cr, "create-route-table", "--vpc-id", "va", "--tag-specifications", "ResourceType=route-table,Tags=[{Key=Name,Value=rt-none}]")
	if !strings.HasPrefix(cr.RouteTable.RouteTableId, "rtb-") {
		t.Fatalf("create-route-table: %+v", cr)
	}
	// sa already has rta: a second association is refused.
	tp.refused(t, "Resource.AlreadyAssociated", "associate-route-table", "--route-table-id", "rt-none", "--subnet-id", "sa")
	tp.refused(t, "DependencyViolation", "delete-route-table", "--route-table-id", "rta")
	var mains struct {
		RouteTables []struct{ RouteTableId string }
	}
	tp.ec2OK(t, &mains, "describe-route-tables", "--filters", "Name=vpc-id,Values="+routingVPCID(t, tp, "va"), "Name=association.main,Values=true")
	if len(mains.RouteTables) != 1 {
		t.Fatalf("va's main table: %+v", mains)
	}
	tp.refused(t, "DependencyViolation", "delete-route-table", "--route-table-id", mains.RouteTables[0].RouteTableId)
	if !tp.Ping(t, "a1", "10.12.1.10") {
		t.Fatal("a1 no longer reaches b1 after the refused requests")
	}

	var rtaAssoc string
	var rts struct {
		RouteTables []struct {
			Associations []struct {
				RouteTableAssociationId, SubnetId string
				Main                              bool
				AssociationState                  struct{ State string }
			}
		}
	}
	tp.ec2OK(t, &rts, "describe-route-tables", "--filters", "Name=tag:Name,Values=rta")
	if as := rts.RouteTables[0].Associations; len(as) != 1 || as[0].Main || as[0].AssociationState.State != "associated" {
		t.Fatalf("rta's associations: %+v", as)
	} else {
		rtaAssoc = as[0].RouteTableAssociationId
	}
	// ReplaceRouteTableAssociation: sa now on rt-none, which has no route to b.
	var rep struct{ NewAssociationId string }
	tp.ec2OK(t, &rep, "replace-route-table-association", "--association-id", rtaAssoc, "--route-table-id", "rt-none")
	before := tp.Drops(t, "a1", "no-route")
	if tp.Ping(t, "a1", "10.12.1.10") {
		t.Fatal("a1 reached b1 by a table without a route to it")
	}
	if n := tp.Drops(t, "a1", "no-route"); n <= before {
		t.Fatalf("no-route drop not counted: %d → %d", before, n)
	}
	// Disassociate: sa is on va's main table, which has no route to b either.
	tp.ec2OK(t, nil, "disassociate-route-table", "--association-id", rep.NewAssociationId)
	if tp.Ping(t, "a1", "10.12.1.10") {
		t.Fatal("a1 reached b1 by the main table, which has no route to it")
	}
	// Associate rta again: the peering route is back.
	var as struct{ AssociationId string }
	tp.ec2OK(t, &as, "associate-route-table", "--route-table-id", "rta", "--subnet-id", "sa")
	if as.AssociationId != rtaAssoc {
		t.Errorf("association id %s, first %s: derived from the ids it joins", as.AssociationId, rtaAssoc)
	}
	if !tp.PingEventually(t, "a1", "10.12.1.10") {
		t.Fatal("a1 does not reach b1 once rta is associated again")
	}
	tp.ec2OK(t, nil, "delete-route-table", "--route-table-id", "rt-none")
}

// TestNACL5_LiveNetworkAclDeniesUntilReplaced: a NACL made live denies
// everything (NACL-3); associated with b's subnet it stops the ping and
// the drop is counted at the NACL; replaced back with the default NACL the
// ping works, and the new NACL can then be deleted.
func TestNACL5_LiveNetworkAclDeniesUntilReplaced(t *testing.T) {
	tp := Up(t, threeVPCs)
	tp.peerLive(t, "va", "vb", "rta", "rtb", "10.11.0.0/16", "10.12.0.0/16")
	if !tp.PingEventually(t, "a1", "10.12.1.10") {
		t.Fatal("baseline: a1 does not reach b1")
	}
	var cr struct{ NetworkAcl struct{ NetworkAclId string } }
	tp.ec2OK(t, &cr, "create-network-acl", "--vpc-id", "vb", "--tag-specifications", "ResourceType=network-acl,Tags=[{Key=Name,Value=acl-deny}]")
	var acls struct {
		NetworkAcls []struct {
			NetworkAclId string
			IsDefault    bool
			Associations []struct{ NetworkAclAssociationId, SubnetId string }
		}
	}
	tp.ec2OK(t, &acls, "describe-network-acls", "--filters", "Name=vpc-id,Values="+routingVPCID(t, tp, "vb"), "Name=default,Values=true")
	if len(acls.NetworkAcls) != 1 || len(acls.NetworkAcls[0].Associations) != 1 {
		t.Fatalf("vb's default NACL: %+v", acls)
	}
	def, assoc := acls.NetworkAcls[0].NetworkAclId, acls.NetworkAcls[0].Associations[0].NetworkAclAssociationId
	tp.refused(t, "InvalidParameterValue", "delete-network-acl", "--network-acl-id", def)
	if !tp.Ping(t, "a1", "10.12.1.10") {
		t.Fatal("a1 no longer reaches b1 after the refused delete of the default NACL")
	}

	var rep struct{ NewAssociationId string }
	tp.ec2OK(t, &rep, "replace-network-acl-association", "--association-id", assoc, "--network-acl-id", cr.NetworkAcl.NetworkAclId)
	before := tp.Drops(t, "b1", "network-acl ingress")
	if tp.Ping(t, "a1", "10.12.1.10") {
		t.Fatal("a1 reached b1 through a NACL that denies all")
	}
	if n := tp.Drops(t, "b1", "network-acl ingress"); n <= before {
		t.Fatalf("the NACL drop is not counted at b1: %d → %d", before, n)
	}
	tp.refused(t, "DependencyViolation", "delete-network-acl", "--network-acl-id", cr.NetworkAcl.NetworkAclId)
	if tp.Ping(t, "a1", "10.12.1.10") {
		t.Fatal("a1 reached b1 after the refused delete: the NACL that denies all is still associated")
	}

	var back struct{ NewAssociationId string }
	tp.ec2OK(t, &back, "replace-network-acl-association", "--association-id", rep.NewAssociationId, "--network-acl-id", def)
	if !tp.PingEventually(t, "a1", "10.12.1.10") {
		t.Fatal("a1 does not reach b1 once the default NACL is back")
	}
	tp.ec2OK(t, nil, "delete-network-acl", "--network-acl-id", cr.NetworkAcl.NetworkAclId)
}

// routingVPCID is the id of VPC name.
func routingVPCID(t *testing.T, tp *Topo, name string) string {
	t.Helper()
	var v struct{ Vpcs []struct{ VpcId string } }
	tp.ec2OK(t, &v, "describe-vpcs", "--filters", "Name=tag:Name,Values="+name)
	if len(v.Vpcs) != 1 {
		t.Fatalf("vpc %s: %+v", name, v)
	}
	return v.Vpcs[0].VpcId
}
