package ec2

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

// twoVPCs has VPCs a (two subnets, one naming table rta, one on the main
// table) and b, and c, whose CIDR overlaps a's. Quotas are small so that
// they can be reached.
const twoVPCs = `{
  "name": "rt", "region": "us-east-1",
  "settings": {"quotas": {"routes_per_route_table": 2, "rules_per_network_acl": 2}},
  "vpcs": [
    {"name": "a", "cidr": "10.1.0.0/16",
     "subnets": [{"name": "sa1", "cidr": "10.1.1.0/24", "az": "us-east-1a", "route_table": "rta"},
                 {"name": "sa2", "cidr": "10.1.2.0/24", "az": "us-east-1a"}],
     "route_tables": [{"name": "rta", "routes": []}],
     "network_interfaces": [{"name": "ea", "subnet": "sa1"}]},
    {"name": "b", "cidr": "10.2.0.0/16", "subnets": [{"name": "sb", "cidr": "10.2.1.0/24", "az": "us-east-1a"}],
     "network_acls": [{"name": "aclb"}]},
    {"name": "c", "cidr": "10.1.128.0/17", "subnets": [{"name": "sc", "cidr": "10.1.129.0/24", "az": "us-east-1a"}]}
  ]
}`

// sameAfterReload exports d's network, loads it again and demands that
// the describe answers of ops be equal: ids (association ids included)
// survive export and load.
func sameAfterReload(t *testing.T, d *Service, ops ...string) {
	t.Helper()
	b, err := json.Marshal(topology.Export(d.net))
	if err != nil {
		t.Fatal(err)
	}
	n, err := topology.Load(b)
	if err != nil {
		t.Fatalf("the export does not load: %v\n%s", err, b)
	}
	again := New(opsStore{n}, &opsKernel{namespaces: map[string]bool{}})
	for _, op := range ops {
		x, y := describe(t, d, op, map[string]any{}), describe(t, again, op, map[string]any{})
		if !reflect.DeepEqual(x, y) {
			bx, _ := json.Marshal(x)
			by, _ := json.Marshal(y)
			t.Fatalf("%s differs after export and load:\nbefore %s\nafter  %s\nfile %s", op, bx, by, b)
		}
	}
}

// tableOf is route table ref as DescribeRouteTables shows it.
func tableOf(t *testing.T, d *Service, ref string) types.RouteTable {
	t.Helper()
	rt, _, err := d.findRouteTable(ref)
	if err != nil {
		t.Fatal(err)
	}
	out := answer[types.DescribeRouteTablesResult](t, d, "DescribeRouteTables", `{"RouteTableIds": ["`+rt.ID+`"]}`)
	return out.RouteTables[0]
}

// assocs lists a table's associations as "main" or the subnet's name.
func assocs(d *Service, x types.RouteTable) string {
	var out []string
	for _, a := range x.Associations {
		switch {
		case a.AssociationState == nil || a.AssociationState.State != types.RouteTableAssociationStateCodeAssociated:
			out = append(out, "not-associated")
		case deref(a.Main):
			out = append(out, "main")
		default:
			s, _ := d.findSubnet(deref(a.SubnetId))
			out = append(out, s.Name)
		}
	}
	return strings.Join(out, ",")
}

// RT-1: CreateRouteTable makes a table holding only the local route, named
// by its Name tag, associated with nothing; its id survives export.
func TestRT1_CreateRouteTable(t *testing.T) {
	d, _ := opsService(t, twoVPCs)
	a := d.net.VPCs[0]
	out := answer[types.CreateRouteTableResult](t, d, "CreateRouteTable", `{"VpcId": "`+a.ID+`",
		"TagSpecifications": [{"ResourceType": "route-table", "Tags": [{"Key": "Name", "Value": "rt-web"}]}]}`)
	x := out.RouteTable
	if deref(x.RouteTableId) != d.net.NewID("rtb", "rt-web") || deref(x.VpcId) != a.ID || len(x.Associations) != 0 {
		t.Fatalf("created: %+v", x)
	}
	if len(x.Routes) != 1 || deref(x.Routes[0].DestinationCidrBlock) != "10.1.0.0/16" || deref(x.Routes[0].GatewayId) != "local" ||
		x.Routes[0].State != types.RouteStateActive || x.Routes[0].Origin != types.RouteOriginCreateRouteTable {
		t.Fatalf("routes: %+v", x.Routes)
	}
	if len(x.Tags) != 1 || deref(x.Tags[0].Value) != "rt-web" {
		t.Fatalf("tags: %+v", x.Tags)
	}
	// Without a name: rt-1.
	out = answer[types.CreateRouteTableResult](t, d, "CreateRouteTable", `{"VpcId": "b"}`)
	if deref(out.RouteTable.RouteTableId) != d.net.NewID("rtb", "rt-1") {
		t.Fatalf("unnamed: %+v", out.RouteTable)
	}
	sameAfterReload(t, d, "DescribeRouteTables")
}

// RT-1: AssociateRouteTable gives a subnet its own table, with an
// association id EC2 shows in DescribeRouteTables; the subnet routes by it.
// DisassociateRouteTable sends it back to the main table; a replaced
// association moves it to another table.
func TestRT1_AssociateDisassociateReplace(t *testing.T) {
	d, _ := opsService(t, twoVPCs)
	sa2, _ := d.findSubnet("sa2")
	answer[types.CreateRouteTableResult](t, d, "CreateRouteTable", `{"VpcId": "a", "TagSpecifications": [{"ResourceType": "route-table", "Tags": [{"Key": "Name", "Value": "rt2"}]}]}`)
	out := answer[types.AssociateRouteTableResult](t, d, "AssociateRouteTable", `{"RouteTableId": "rt2", "SubnetId": "`+sa2.ID+`"}`)
	rt2, _, _ := d.findRouteTable("rt2")
	if deref(out.AssociationId) != routeTableAssociationID(d.net, rt2, sa2) || !strings.HasPrefix(deref(out.AssociationId), "rtbassoc-") ||
		out.AssociationState == nil || out.AssociationState.State != types.RouteTableAssociationStateCodeAssociated {
		t.Fatalf("associate: %+v", out)
	}
	if sa2.RouteTable != rt2 || !sa2.ExplicitRT {
		t.Fatalf("subnet's table: %s explicit %v", sa2.RouteTable.Name, sa2.ExplicitRT)
	}
	x := tableOf(t, d, "rt2")
	if assocs(d, x) != "sa2" || deref(x.Associations[0].RouteTableAssociationId) != deref(out.AssociationId) || deref(x.Associations[0].Main) {
		t.Fatalf("describe: %+v", x.Associations)
	}
	if got := assocs(d, tableOf(t, d, d.net.VPCs[0].MainRT.ID)); got != "main" {
		t.Fatalf("main table: %s", got)
	}
	sameAfterReload(t, d, "DescribeRouteTables", "DescribeSubnets")

	// ReplaceRouteTableAssociation: sa2 now on rta, a new association id.
	rep := answer[types.ReplaceRouteTableAssociationResult](t, d, "ReplaceRouteTableAssociation",
		`{"AssociationId": "`+deref(out.AssociationId)+`", "RouteTableId": "rta"}`)
	rta, _, _ := d.findRouteTable("rta")
	if sa2.RouteTable != rta || deref(rep.NewAssociationId) != routeTableAssociationID(d.net, rta, sa2) || deref(rep.NewAssociationId) == deref(out.AssociationId) {
		t.Fatalf("replace: %+v, subnet on %s", rep, sa2.RouteTable.Name)
	}
	if got := assocs(d, tableOf(t, d, "rta")); got != "sa1,sa2" {
		t.Fatalf("rta: %s", got)
	}
	// DisassociateRouteTable: back to the main table, implicitly.
	if answer[struct{}](t, d, "DisassociateRouteTable", `{"AssociationId": "`+deref(rep.NewAssociationId)+`"}`) != nil {
		t.Fatal("EC2 answers DisassociateRouteTable with nothing")
	}
	if sa2.RouteTable != d.net.VPCs[0].MainRT || sa2.ExplicitRT {
		t.Fatalf("after disassociate: %s explicit %v", sa2.RouteTable.Name, sa2.ExplicitRT)
	}
	if got := assocs(d, tableOf(t, d, "rta")); got != "sa1" {
		t.Fatalf("rta: %s", got)
	}
	// A subnet associated explicitly with the main table is listed there.
	main := d.net.VPCs[0].MainRT
	answer[types.AssociateRouteTableResult](t, d, "AssociateRouteTable", `{"RouteTableId": "`+main.ID+`", "SubnetId": "sa2"}`)
	if got := assocs(d, tableOf(t, d, main.ID)); got != "main,sa2" {
		t.Fatalf("main with an explicit association: %s", got)
	}
	sameAfterReload(t, d, "DescribeRouteTables", "DescribeSubnets")
}

// RT-1: ReplaceRouteTableAssociation of the main association makes another
// table main: the subnets without a table of their own follow it, the
// others stay; ids survive export and load.
func TestRT1_ReplaceMainAssociation(t *testing.T) {
	d, _ := opsService(t, twoVPCs)
	a := d.net.VPCs[0]
	old := a.MainRT
	sa1, _ := d.findSubnet("sa1")
	sa2, _ := d.findSubnet("sa2")
	answer[types.CreateRouteTableResult](t, d, "CreateRouteTable", `{"VpcId": "a", "TagSpecifications": [{"ResourceType": "route-table", "Tags": [{"Key": "Name", "Value": "rt2"}]}]}`)
	mainAssoc := routeTableAssociationID(d.net, old, nil)
	rep := answer[types.ReplaceRouteTableAssociationResult](t, d, "ReplaceRouteTableAssociation", `{"AssociationId": "`+mainAssoc+`", "RouteTableId": "rt2"}`)
	rt2, _, _ := d.findRouteTable("rt2")
	if a.MainRT != rt2 || !rt2.Main || old.Main || deref(rep.NewAssociationId) != routeTableAssociationID(d.net, rt2, nil) {
		t.Fatalf("main is %s: %+v", a.MainRT.Name, rep)
	}
	if sa2.RouteTable != rt2 || sa2.ExplicitRT || sa1.RouteTable.Name != "rta" {
		t.Fatalf("subnets: sa1 on %s, sa2 on %s", sa1.RouteTable.Name, sa2.RouteTable.Name)
	}
	if got := assocs(d, tableOf(t, d, "rt2")); got != "main" {
		t.Fatalf("rt2: %s", got)
	}
	if got := assocs(d, tableOf(t, d, old.ID)); got != "" {
		t.Fatalf("the old main table: %s", got)
	}
	// The old main table ("main") is now an ordinary one: deletable once
	// nothing uses it, and its id and the new main's survive export.
	sameAfterReload(t, d, "DescribeRouteTables", "DescribeSubnets")
	// And back: the first table is main again.
	answer[types.ReplaceRouteTableAssociationResult](t, d, "ReplaceRouteTableAssociation", `{"AssociationId": "`+deref(rep.NewAssociationId)+`", "RouteTableId": "`+old.ID+`"}`)
	if a.MainRT != old || sa2.RouteTable != old {
		t.Fatalf("main back: %s", a.MainRT.Name)
	}
	sameAfterReload(t, d, "DescribeRouteTables", "DescribeSubnets")
	answer[struct{}](t, d, "DeleteRouteTable", `{"RouteTableId": "rt2"}`)
	if _, _, err := d.findRouteTable("rt2"); err == nil {
		t.Fatal("rt2 not deleted")
	}
}

// LIFE-1, RT-1: every refusal of the route table operations, with EC2's
// code and nothing changed.
func TestLIFE1_RouteTableRefusals(t *testing.T) {
	d0, _ := opsService(t, twoVPCs)
	a, b := d0.net.VPCs[0], d0.net.VPCs[1]
	sa1, _ := d0.findSubnet("sa1")
	rta, _, _ := d0.findRouteTable("rta")
	sa1Assoc := routeTableAssociationID(d0.net, rta, sa1)
	mainAssoc := routeTableAssociationID(d0.net, a.MainRT, nil)
	cases := []struct{ name, op, req, code string }{
		{"create in an unknown vpc", "CreateRouteTable", `{"VpcId": "vpc-0123456789abcdef0"}`, "InvalidVpcID.NotFound"},
		{"create named main", "CreateRouteTable", `{"VpcId": "a", "TagSpecifications": [{"ResourceType": "route-table", "Tags": [{"Key": "Name", "Value": "main"}]}]}`, "InvalidParameterValue"},
		{"create with a taken name", "CreateRouteTable", `{"VpcId": "a", "TagSpecifications": [{"ResourceType": "route-table", "Tags": [{"Key": "Name", "Value": "sa1"}]}]}`, "InvalidParameterValue"},
		{"delete an associated table", "DeleteRouteTable", `{"RouteTableId": "rta"}`, "DependencyViolation"},
		{"delete the main table", "DeleteRouteTable", `{"RouteTableId": "` + a.MainRT.ID + `"}`, "DependencyViolation"},
		{"delete an unknown table", "DeleteRouteTable", `{"RouteTableId": "rtb-0123456789abcdef0"}`, "InvalidRouteTableID.NotFound"},
		{"associate a subnet that has a table", "AssociateRouteTable", `{"RouteTableId": "` + a.MainRT.ID + `", "SubnetId": "sa1"}`, "Resource.AlreadyAssociated"},
		{"associate again", "AssociateRouteTable", `{"RouteTableId": "rta", "SubnetId": "sa1"}`, "Resource.AlreadyAssociated"},
		{"associate a subnet of another vpc", "AssociateRouteTable", `{"RouteTableId": "rta", "SubnetId": "sb"}`, "InvalidParameterValue"},
		{"associate an unknown subnet", "AssociateRouteTable", `{"RouteTableId": "rta", "SubnetId": "subnet-0123456789abcdef0"}`, "InvalidSubnetID.NotFound"},
		{"associate with a gateway", "AssociateRouteTable", `{"RouteTableId": "rta", "GatewayId": "igw-0123456789abcdef0"}`, "Unsupported"},
		{"disassociate the main association", "DisassociateRouteTable", `{"AssociationId": "` + mainAssoc + `"}`, "InvalidParameterValue"},
		{"disassociate an unknown association", "DisassociateRouteTable", `{"AssociationId": "rtbassoc-0123456789abcdef0"}`, "InvalidAssociationID.NotFound"},
		{"replace with a table of another vpc", "ReplaceRouteTableAssociation", `{"AssociationId": "` + sa1Assoc + `", "RouteTableId": "` + b.MainRT.ID + `"}`, "InvalidParameterValue"},
		{"replace main with a table of another vpc", "ReplaceRouteTableAssociation", `{"AssociationId": "` + mainAssoc + `", "RouteTableId": "` + b.MainRT.ID + `"}`, "InvalidParameterValue"},
		{"replace an unknown association", "ReplaceRouteTableAssociation", `{"AssociationId": "rtbassoc-0123456789abcdef0", "RouteTableId": "rta"}`, "InvalidAssociationID.NotFound"},
		{"replace with an unknown table", "ReplaceRouteTableAssociation", `{"AssociationId": "` + sa1Assoc + `", "RouteTableId": "rtb-0123456789abcdef0"}`, "InvalidRouteTableID.NotFound"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, k := opsService(t, twoVPCs)
			refuse(t, d, k, c.op, c.req, c.code)
		})
	}
}

// QUOTA-1: routes per table (here 2, beyond local): the next CreateRoute
// is refused with RouteLimitExceeded; a replace still works.
func TestQUOTA1_RoutesPerTable(t *testing.T) {
	d, k := opsService(t, twoVPCs)
	for i := range 2 {
		answer[types.CreateRouteResult](t, d, "CreateRoute", fmt.Sprintf(`{"RouteTableId": "rta", "DestinationCidrBlock": "192.0.%d.0/24", "NetworkInterfaceId": "ea"}`, i))
	}
	refuse(t, d, k, "CreateRoute", `{"RouteTableId": "rta", "DestinationCidrBlock": "192.0.9.0/24", "NetworkInterfaceId": "ea"}`, "RouteLimitExceeded")
	answer[struct{}](t, d, "ReplaceRoute", `{"RouteTableId": "rta", "DestinationCidrBlock": "192.0.1.0/24", "NetworkInterfaceId": "ea"}`)
	answer[struct{}](t, d, "DeleteRoute", `{"RouteTableId": "rta", "DestinationCidrBlock": "192.0.1.0/24"}`)
	answer[types.CreateRouteResult](t, d, "CreateRoute", `{"RouteTableId": "rta", "DestinationCidrBlock": "192.0.9.0/24", "NetworkInterfaceId": "ea"}`)
}
