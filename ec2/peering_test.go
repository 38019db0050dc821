package ec2

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

// peeringNamed returns the live peering of that name, or nil.
func peeringNamed(d *Service, name string) *topology.Peering {
	for _, p := range d.net.Peerings {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// peeringState is connection id as DescribeVpcPeeringConnections shows it.
func peeringState(t *testing.T, d *Service, id string) types.VpcPeeringConnection {
	t.Helper()
	out := answer[types.DescribeVpcPeeringConnectionsResult](t, d, "DescribeVpcPeeringConnections", `{"VpcPeeringConnectionIds": ["`+id+`"]}`)
	if len(out.VpcPeeringConnections) != 1 {
		t.Fatalf("%s: %+v", id, out)
	}
	return out.VpcPeeringConnections[0]
}

// PEER-1: a connection is requested (pending-acceptance, the requester's
// and accepter's VPC infos as EC2 shows them), accepted (active), deleted
// (gone from the network, shown as deleted); a route through it is a
// blackhole while it is pending and once it is deleted (PEER-3, RT-3), and
// each state survives export and load as the file can hold it.
func TestPEER1_PeeringLifecycle(t *testing.T) {
	d, _ := opsService(t, twoVPCs)
	a, b := d.net.VPCs[0], d.net.VPCs[1]
	out := answer[types.CreateVpcPeeringConnectionResult](t, d, "CreateVpcPeeringConnection", `{"VpcId": "`+a.ID+`", "PeerVpcId": "`+b.ID+`",
		"TagSpecifications": [{"ResourceType": "vpc-peering-connection", "Tags": [{"Key": "Name", "Value": "a-b"}]}]}`)
	x := out.VpcPeeringConnection
	id := deref(x.VpcPeeringConnectionId)
	if id != d.net.NewID("pcx", "a-b") || x.Status.Code != types.VpcPeeringConnectionStateReasonCodePendingAcceptance ||
		!strings.HasPrefix(deref(x.Status.Message), "Pending Acceptance by ") || x.ExpirationTime == nil {
		t.Fatalf("created: %+v", x)
	}
	r, acc := x.RequesterVpcInfo, x.AccepterVpcInfo
	if deref(r.VpcId) != a.ID || deref(r.CidrBlock) != "10.1.0.0/16" || deref(r.OwnerId) != d.net.AccountID() || deref(r.Region) != "us-east-1" ||
		deref(acc.VpcId) != b.ID || deref(acc.OwnerId) != d.net.AccountID() || deref(acc.Region) != "us-east-1" {
		t.Fatalf("vpc infos: %+v %+v", r, acc)
	}
	// PEER-3: a route to a pending connection is allowed and a blackhole.
	answer[types.CreateRouteResult](t, d, "CreateRoute", `{"RouteTableId": "rta", "DestinationCidrBlock": "10.2.0.0/16", "VpcPeeringConnectionId": "`+id+`"}`)
	if st := routeOf(t, d, "rta", "10.2.0.0/16"); st.State != types.RouteStateBlackhole || deref(st.VpcPeeringConnectionId) != id {
		t.Fatalf("route to a pending peering: %+v", st)
	}
	sameAfterReload(t, d, "DescribeVpcPeeringConnections", "DescribeRouteTables")

	acc2 := answer[types.AcceptVpcPeeringConnectionResult](t, d, "AcceptVpcPeeringConnection", `{"VpcPeeringConnectionId": "`+id+`"}`)
	if acc2.VpcPeeringConnection.Status.Code != types.VpcPeeringConnectionStateReasonCodeActive || deref(acc2.VpcPeeringConnection.AccepterVpcInfo.CidrBlock) != "10.2.0.0/16" ||
		!peeringNamed(d, "a-b").Active() {
		t.Fatalf("accepted: %+v", acc2.VpcPeeringConnection)
	}
	if st := routeOf(t, d, "rta", "10.2.0.0/16"); st.State != types.RouteStateActive {
		t.Fatalf("route to an active peering: %+v", st)
	}
	sameAfterReload(t, d, "DescribeVpcPeeringConnections", "DescribeRouteTables")

	del := answer[types.DeleteVpcPeeringConnectionResult](t, d, "DeleteVpcPeeringConnection", `{"VpcPeeringConnectionId": "`+id+`"}`)
	if !deref(del.Return) || peeringNamed(d, "a-b") != nil {
		t.Fatalf("delete: %+v, still live: %v", del, peeringNamed(d, "a-b"))
	}
	if x := peeringState(t, d, id); x.Status.Code != types.VpcPeeringConnectionStateReasonCodeDeleted {
		t.Fatalf("deleted shows %+v", x.Status)
	}
	if st := routeOf(t, d, "rta", "10.2.0.0/16"); st.State != types.RouteStateBlackhole || deref(st.VpcPeeringConnectionId) != id {
		t.Fatalf("route via a deleted peering: %+v", st)
	}
	// The export writes that route as a blackhole, and loads.
	if err := reloads(d); err != nil {
		t.Fatal(err)
	}
	if f := topology.Export(d.net); len(f.Peerings) != 0 {
		t.Fatalf("a deleted peering is exported: %+v", f.Peerings)
	}
	// The name is free again; deleting twice is refused.
	k := &opsKernel{namespaces: map[string]bool{}}
	refuse(t, d, k, "DeleteVpcPeeringConnection", `{"VpcPeeringConnectionId": "`+id+`"}`, "InvalidVpcPeeringConnectionID.NotFound")
	refuse(t, d, k, "CreateRoute", `{"RouteTableId": "rta", "DestinationCidrBlock": "10.9.0.0/16", "VpcPeeringConnectionId": "`+id+`"}`, "InvalidVpcPeeringConnectionID.NotFound")
}

// routeOf is table's route to dst as DescribeRouteTables shows it.
func routeOf(t *testing.T, d *Service, table, dst string) types.Route {
	t.Helper()
	for _, r := range tableOf(t, d, table).Routes {
		if deref(r.DestinationCidrBlock) == dst {
			return r
		}
	}
	t.Fatalf("%s has no route to %s", table, dst)
	return types.Route{}
}

// PEER-1: a rejected request leaves the network and is shown as rejected.
func TestPEER1_Reject(t *testing.T) {
	d, _ := opsService(t, twoVPCs)
	out := answer[types.CreateVpcPeeringConnectionResult](t, d, "CreateVpcPeeringConnection", `{"VpcId": "a", "PeerVpcId": "b"}`)
	id := deref(out.VpcPeeringConnection.VpcPeeringConnectionId)
	if id != d.net.NewID("pcx", "peering-1") {
		t.Fatalf("unnamed: %s", id)
	}
	rej := answer[types.RejectVpcPeeringConnectionResult](t, d, "RejectVpcPeeringConnection", `{"VpcPeeringConnectionId": "`+id+`"}`)
	if !deref(rej.Return) || len(d.net.Peerings) != 0 {
		t.Fatalf("reject: %+v, %d live", rej, len(d.net.Peerings))
	}
	if x := peeringState(t, d, id); x.Status.Code != types.VpcPeeringConnectionStateReasonCodeRejected {
		t.Fatalf("rejected shows %+v", x.Status)
	}
	// A filter finds it by state.
	f := answer[types.DescribeVpcPeeringConnectionsResult](t, d, "DescribeVpcPeeringConnections", `{"Filters": [{"Name": "status-code", "Values": ["rejected"]}]}`)
	if len(f.VpcPeeringConnections) != 1 {
		t.Fatalf("status-code filter: %+v", f)
	}
}

// PEER-1: overlapping CIDRs: EC2 answers with a connection that failed at
// once; nothing joins the network, and describe shows it failed.
func TestPEER1_OverlappingCidrsFail(t *testing.T) {
	d, _ := opsService(t, twoVPCs)
	before := snapshot(t, d)
	out := answer[types.CreateVpcPeeringConnectionResult](t, d, "CreateVpcPeeringConnection", `{"VpcId": "a", "PeerVpcId": "c"}`)
	x := out.VpcPeeringConnection
	if x.Status.Code != types.VpcPeeringConnectionStateReasonCodeFailed || deref(x.Status.Message) != peeringFailedMessage {
		t.Fatalf("overlap: %+v", x.Status)
	}
	if snapshot(t, d) != before || len(d.net.Peerings) != 0 {
		t.Fatal("a failed peering changed the network")
	}
	if y := peeringState(t, d, deref(x.VpcPeeringConnectionId)); y.Status.Code != types.VpcPeeringConnectionStateReasonCodeFailed {
		t.Fatalf("describe: %+v", y.Status)
	}
}

// PEER-1: the refusals, with EC2's code and nothing changed.
func TestPEER1_Refusals(t *testing.T) {
	withPeering := func(status string, vpcs ...string) string {
		if len(vpcs) == 0 {
			vpcs = []string{"a", "b"}
		}
		var m map[string]any
		json.Unmarshal([]byte(twoVPCs), &m)
		m["peerings"] = []any{map[string]any{"name": "ab", "vpcs": vpcs, "status": status}}
		b, _ := json.Marshal(m)
		return string(b)
	}
	cases := []struct{ name, topo, op, req, code string }{
		{"another account", twoVPCs, "CreateVpcPeeringConnection", `{"VpcId": "a", "PeerVpcId": "b", "PeerOwnerId": "111122223333"}`, "Unsupported"},
		{"another region", twoVPCs, "CreateVpcPeeringConnection", `{"VpcId": "a", "PeerVpcId": "b", "PeerRegion": "eu-west-1"}`, "Unsupported"},
		{"itself", twoVPCs, "CreateVpcPeeringConnection", `{"VpcId": "a", "PeerVpcId": "a"}`, "InvalidParameterValue"},
		{"unknown vpc", twoVPCs, "CreateVpcPeeringConnection", `{"VpcId": "a", "PeerVpcId": "vpc-0123456789abcdef0"}`, "InvalidVpcID.NotFound"},
		{"no peer", twoVPCs, "CreateVpcPeeringConnection", `{"VpcId": "a"}`, "MissingParameter"},
		{"already peered", withPeering("active"), "CreateVpcPeeringConnection", `{"VpcId": "b", "PeerVpcId": "a"}`, "VpcPeeringConnectionAlreadyExists"},
		{"already requested", withPeering("pending-acceptance"), "CreateVpcPeeringConnection", `{"VpcId": "a", "PeerVpcId": "b"}`, "VpcPeeringConnectionAlreadyExists"},
		{"accept an active one", withPeering("active"), "AcceptVpcPeeringConnection", `{"VpcPeeringConnectionId": "ab"}`, "InvalidStateTransition"},
		{"reject an active one", withPeering("active"), "RejectVpcPeeringConnection", `{"VpcPeeringConnectionId": "ab"}`, "InvalidStateTransition"},
		{"accept an unknown one", twoVPCs, "AcceptVpcPeeringConnection", `{"VpcPeeringConnectionId": "pcx-0123456789abcdef0"}`, "InvalidVpcPeeringConnectionID.NotFound"},
		{"delete an unknown one", twoVPCs, "DeleteVpcPeeringConnection", `{"VpcPeeringConnectionId": "pcx-0123456789abcdef0"}`, "InvalidVpcPeeringConnectionID.NotFound"},
		{"route via a peering of other vpcs", withPeering("active", "b", "c"), "CreateRoute", `{"RouteTableId": "rta", "DestinationCidrBlock": "10.2.0.0/16", "VpcPeeringConnectionId": "ab"}`, "InvalidParameterValue"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, k := opsService(t, c.topo)
			refuse(t, d, k, c.op, c.req, c.code)
		})
	}
}
