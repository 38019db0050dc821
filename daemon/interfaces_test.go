package daemon

import (
	"encoding/json"
	"io"
	"testing"

	"github.com/vpcnet/vpcnet/ec2/query"
)

// TestENIAndRouteAnswersThroughTheSocket: the interface, instance and
// route operations that need no kernel answer through the socket's
// handler with what EC2's model allows (ec2/query.Encode of the JSON the
// socket sends), and those EC2 answers with nothing answer null. (The
// operations that launch, stop or plug are tested in ec2 with a
// recording kernel, and end to end in test/.)
func TestENIAndRouteAnswersThroughTheSocket(t *testing.T) {
	d := offlineDaemon(t)
	for _, c := range []struct {
		op      string
		req     typedReq
		nothing bool // EC2 answers nothing
	}{
		{"CreateNetworkInterface", eniReq("PUB-WEB-2a", "spare", typedReq{"PrivateIpAddress": "92.75.100.30", "Description": "d"}), false},
		{"AssignPrivateIpAddresses", typedReq{"NetworkInterfaceId": "spare", "PrivateIpAddresses": []any{"92.75.100.31"}, "SecondaryPrivateIpAddressCount": 1}, false},
		{"UnassignPrivateIpAddresses", typedReq{"NetworkInterfaceId": "spare", "PrivateIpAddresses": []any{"92.75.100.31"}}, true},
		{"ModifyNetworkInterfaceAttribute", sdcReq("NetworkInterfaceId", "spare", false), true},
		{"ModifyInstanceAttribute", sdcReq("InstanceId", "db", false), true},
		{"CreateRoute", routeReq("rt-public", "203.0.113.0/24", "NetworkInterfaceId", "spare"), false},
		{"ReplaceRoute", routeReq("rt-public", "203.0.113.0/24", "GatewayId", "igw-main"), true},
		{"DeleteRoute", routeReq("rt-public", "203.0.113.0/24", "", ""), true},
		{"DeleteNetworkInterface", typedReq{"NetworkInterfaceId": "spare"}, true},
	} {
		code, body := call(t, d, c.op, c.req)
		if code != 200 {
			t.Fatalf("%s: %d %s", c.op, code, body)
		}
		var out any
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("%s: %v: %s", c.op, err, body)
		}
		if (out == nil) != c.nothing {
			t.Fatalf("%s answered %s", c.op, body)
		}
		if err := query.Encode(io.Discard, c.op, "r", out); err != nil {
			t.Fatalf("%s answers what EC2 does not: %v\n%s", c.op, err, body)
		}
	}
	// AssignPrivateIpAddresses answers structures, not strings (issue 11).
	if code, body := call(t, d, "CreateNetworkInterface", eniReq("PRI-DB-2a", "x2", nil)); code != 200 {
		t.Fatalf("create x2: %s", body)
	}
	_, body := call(t, d, "AssignPrivateIpAddresses", typedReq{"NetworkInterfaceId": "x2", "PrivateIpAddresses": []any{"92.75.200.50"}})
	var assigned struct {
		AssignedPrivateIpAddresses []struct{ PrivateIpAddress string }
	}
	if err := json.Unmarshal(body, &assigned); err != nil || len(assigned.AssignedPrivateIpAddresses) != 1 ||
		assigned.AssignedPrivateIpAddresses[0].PrivateIpAddress != "92.75.200.50" {
		t.Fatalf("assign answered %s (%v)", body, err)
	}
}
