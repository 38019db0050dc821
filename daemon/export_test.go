package daemon

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vpcnet/vpcnet/dataplane"
	"github.com/vpcnet/vpcnet/topology"
)

// TestExportRoundTripEverything: changes that topo.json could not say before
// round-trip too: EIPs on a non-primary ENI and on a secondary private IP
// (EIP-2), a route whose middlebox was deleted (RT-3 blackhole, more
// specific than local), and edits of the default group and default NACL.
func TestExportRoundTripEverything(t *testing.T) {
	d := offlineDaemon(t)
	var allocs []string
	for _, name := range []string{"eip-eth1", "eip-secondary"} {
		code, body := call(t, d, "AllocateAddress", eipNameReq(name))
		if code != 200 {
			t.Fatalf("allocate: %s", body)
		}
		var out struct{ AllocationId string }
		json.Unmarshal(body, &out)
		allocs = append(allocs, out.AllocationId)
	}
	for _, c := range []struct {
		op  string
		req any // a typedReq: EC2's parameters by member name
	}{
		{"AssociateAddress", typedReq{"AllocationId": allocs[0], "NetworkInterfaceId": "eni-extra"}},
		{"CreateNetworkInterface", eniReq("PUB-WEB-2a", "spare", typedReq{"PrivateIpAddress": "92.75.100.30"})},
		{"AssignPrivateIpAddresses", typedReq{"NetworkInterfaceId": "spare", "PrivateIpAddresses": []any{"92.75.100.31"}}},
		{"AssociateAddress", typedReq{"AllocationId": allocs[1], "NetworkInterfaceId": "spare", "PrivateIpAddress": "92.75.100.31"}},
		{"CreateNetworkInterface", eniReq("PRI-DB-2a", "fw", nil)},
		{"CreateRoute", routeReq("rt-public", "92.75.200.0/24", "NetworkInterfaceId", "fw")},
		{"DeleteNetworkInterface", typedReq{"NetworkInterfaceId": "fw"}},
		{"AuthorizeSecurityGroupIngress", sgReq("default", "tcp", 22, 22, "10.0.0.0/8")},
	} {
		if code, body := call(t, d, c.op, c.req); code != 200 {
			t.Fatalf("%s: %s", c.op, body)
		}
	}
	b, err := json.Marshal(topology.Export(d.net))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"network_interface":"eni-extra","private_ip":"92.75.100.5"`, `"network_interface":"spare","private_ip":"92.75.100.31"`, `"target":"blackhole"`, `"name":"default"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("export lacks %s:\n%s", want, b)
		}
	}
	n2, err := topology.Load(b)
	if err != nil {
		t.Fatalf("exported file does not load: %v\n%s", err, b)
	}
	d2 := newDaemon(n2, dataplane.New(n2, dataplane.Options{}))
	// The one thing the file cannot keep: the id of the deleted middlebox
	// a blackholed route still names; it comes back as target blackhole.
	live := describeAll(t, d)
	fwID := `"NetworkInterfaceId":"` + d.net.NewID("eni", "fw") + `","Origin":"CreateRoute","State":"blackhole"`
	if !strings.Contains(live, fwID) {
		t.Fatalf("live describe-route-tables lacks %s", fwID)
	}
	live = strings.Replace(live, fwID, `"GatewayId":"blackhole","Origin":"CreateRoute","State":"blackhole"`, 1)
	if a, b := live, describeAll(t, d2); a != b {
		t.Fatalf("describe-* differ after the round trip:\nlive: %s\nre-up: %s", a, b)
	}
}

// EIP-1: allocate-address refuses a pool's network and broadcast addresses,
// as the file's validation does, so that export never writes a file that
// fails to load.
func TestEIP1_AllocateRefusesNetworkAndBroadcast(t *testing.T) {
	d := offlineDaemon(t)
	before := describeAll(t, d)
	for _, a := range []string{"13.125.0.0", "13.125.255.255"} {
		code, body := call(t, d, "AllocateAddress", typedReq{"Address": a})
		if code == 200 || !strings.Contains(string(body), "InvalidParameterValue") {
			t.Errorf("allocate %s: %d %s", a, code, body)
		}
	}
	if describeAll(t, d) != before {
		t.Fatal("a refused allocate-address changed the network")
	}
	// A usable address of an Amazon pool is taken only back after this
	// account released it (ADDR-5).
	code, body := call(t, d, "AllocateAddress", typedReq{})
	var got struct{ PublicIp, AllocationId string }
	if err := json.Unmarshal(body, &got); code != 200 || err != nil {
		t.Fatalf("allocate: %d %s", code, body)
	}
	if code, body := call(t, d, "ReleaseAddress", typedReq{"AllocationId": got.AllocationId}); code != 200 {
		t.Fatalf("release: %s", body)
	}
	if code, body := call(t, d, "AllocateAddress", typedReq{"Address": got.PublicIp}); code != 200 {
		t.Fatalf("allocate the released address %s again: %s", got.PublicIp, body)
	}
}

// describe-network-interfaces repeats the primary IP's association at the
// top of the interface, as EC2 does.
func TestDescribeENIAssociationAtTheTop(t *testing.T) {
	d := offlineDaemon(t)
	_, body := call(t, d, "DescribeNetworkInterfaces", typedReq{})
	var out struct {
		NetworkInterfaces []struct {
			TagSet      []struct{ Value string }
			Association *struct{ PublicIp string }
		}
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, e := range out.NetworkInterfaces {
		switch e.TagSet[0].Value {
		case "web":
			seen++
			if e.Association == nil || e.Association.PublicIp != "13.125.0.1" {
				t.Errorf("web's interface: association %+v, want public IP 13.125.0.1", e.Association)
			}
		case "db":
			seen++
			if e.Association != nil {
				t.Errorf("db has no public IP but its interface shows %+v", e.Association)
			}
		}
	}
	if seen != 2 {
		t.Fatalf("web and db interfaces not found: %s", body)
	}
}
