package test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// lifeNATTopo: a private subnet with db and no way out, a public subnet
// with web behind the internet gateway, an unassociated EIP, and an
// internet host that answers HTTP with the address it sees.
const lifeNATTopo = `{
  "name": "NAME", "region": "ap-northeast-2",
  "address_pools": [{"name": "amazon", "cidrs": ["13.125.0.0/16"], "network_border_group": "ap-northeast-2"}],
  "elastic_ips": [{"name": "eip-nat", "address": "13.125.190.82"}],
  "internet": {"hosts": [{"name": "remote", "ip": "13.52.201.147", "user_data": "vpcnet serve --http :80"}]},
  "vpcs": [{
    "name": "v", "cidr": "92.75.0.0/16", "internet_gateway": "igw",
    "subnets": [
      {"name": "pub", "cidr": "92.75.100.0/24", "az": "ap-northeast-2a", "route_table": "rt-public"},
      {"name": "pri", "cidr": "92.75.200.0/24", "az": "ap-northeast-2a", "route_table": "rt-private"}
    ],
    "route_tables": [
      {"name": "rt-public", "routes": [{"destination": "0.0.0.0/0", "target": "igw"}]},
      {"name": "rt-private"}
    ],
    "instances": [
      {"name": "web", "subnet": "pub", "private_ip": "92.75.100.10"},
      {"name": "db", "subnet": "pri", "private_ip": "92.75.200.20"}
    ]
  }]
}`

// NAT-1, NAT-2, LIFE-3, RT-3, OBS-1 on live traffic: a NAT gateway made
// live with an EIP carries db's requests to the internet (the host sees the
// EIP); a flow log made live on db's ENI gets ACCEPT records of them, and
// none once deleted; deleting the gateway cuts db off (its route a
// blackhole, frames dropped as such) and frees the EIP, which web then
// takes.
func TestLifeNATGatewayAndFlowLogLive(t *testing.T) {
	RequireRoot(t)
	tp := Up(t, lifeNATTopo)
	const remote = "http://13.52.201.147/"
	if out, err := tp.Exec(t, "db", "curl", "-sS", "--max-time", "2", remote); err == nil {
		t.Fatalf("db reached the internet with no NAT gateway: %s", out)
	}
	var eipID string
	for _, a := range tp.addresses(t) {
		if a.PublicIp == "13.125.190.82" {
			eipID = a.AllocationId
		}
	}
	var created struct {
		NatGateway struct {
			NatGatewayId, State string
			NatGatewayAddresses []struct{ NetworkInterfaceId, PublicIp string }
		}
	}
	tp.ec2OK(t, &created, "create-nat-gateway", "--subnet-id", "pub", "--allocation-id", eipID)
	ng := created.NatGateway
	if ng.State != "pending" || len(ng.NatGatewayAddresses) != 1 || ng.NatGatewayAddresses[0].PublicIp != "13.125.190.82" {
		t.Fatalf("create-nat-gateway answered %+v", ng)
	}
	natState := func() string {
		var r struct{ NatGateways []struct{ State string } }
		tp.ec2OK(t, &r, "describe-nat-gateways", "--nat-gateway-ids", ng.NatGatewayId)
		if len(r.NatGateways) != 1 {
			t.Fatalf("describe-nat-gateways: %+v", r)
		}
		return r.NatGateways[0].State
	}
	if s := natState(); s != "available" {
		t.Fatalf("the new gateway is %s, want available", s)
	}
	var eni struct {
		NetworkInterfaces []struct {
			InterfaceType    string
			RequesterManaged bool
			SourceDestCheck  bool
		}
	}
	tp.ec2OK(t, &eni, "describe-network-interfaces", "--network-interface-ids", ng.NatGatewayAddresses[0].NetworkInterfaceId)
	if len(eni.NetworkInterfaces) != 1 || eni.NetworkInterfaces[0].InterfaceType != "natGateway" || !eni.NetworkInterfaces[0].RequesterManaged || eni.NetworkInterfaces[0].SourceDestCheck {
		t.Fatalf("the gateway's ENI: %+v", eni)
	}
	tp.ec2OK(t, nil, "create-route", "--route-table-id", "rt-private", "--destination-cidr-block", "0.0.0.0/0", "--nat-gateway-id", ng.NatGatewayId)

	dbENI := tp.instance(t, "db").NetworkInterfaces[0].NetworkInterfaceId
	var fl struct{ FlowLogIds []string }
	tp.ec2OK(t, &fl, "create-flow-logs", "--resource-type", "NetworkInterface", "--resource-ids", dbENI,
		"--traffic-type", "ALL", "--log-group-name", "db-flows", "--max-aggregation-interval", "60")
	if len(fl.FlowLogIds) != 1 {
		t.Fatalf("create-flow-logs answered %+v", fl)
	}

	// NAT-2: the internet sees the EIP.
	w, err := tp.Curl(t, "db", remote)
	if err != nil {
		t.Fatal(err)
	}
	if host, _, _ := net.SplitHostPort(w.Client); host != "13.125.190.82" {
		t.Fatalf("the internet host saw %s, want the NAT gateway's EIP", w.Client)
	}

	// OBS-1: delete-flow-logs writes the window so far; then no more.
	tp.ec2OK(t, nil, "delete-flow-logs", "--flow-log-ids", fl.FlowLogIds[0])
	logFile := filepath.Join("/run/vpcnet", tp.Name, "flow-logs", "db-flows.log")
	accepts := func() (n int, all string) {
		b, err := os.ReadFile(logFile)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) == 14 && f[2] == dbENI && f[3] == "92.75.200.20" && f[4] == "13.52.201.147" && f[6] == "80" && f[12] == "ACCEPT" {
				n++
			}
		}
		return n, string(b)
	}
	n, log := accepts()
	if n == 0 {
		t.Fatalf("no ACCEPT record of db → remote:80 in %s:\n%s", logFile, log)
	}
	if fi, err := os.Stat(logFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v %v, want mode 0600", logFile, fi.Mode(), err)
	}
	if _, err := tp.Curl(t, "db", remote); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // a tick of the flow-log writer
	if n2, log := accepts(); n2 != n {
		t.Errorf("records after delete-flow-logs: %d, were %d:\n%s", n2, n, log)
	}

	// Delete: db is cut off, its route a blackhole, the EIP free.
	tp.ec2OK(t, nil, "delete-nat-gateway", "--nat-gateway-id", ng.NatGatewayId)
	if s := natState(); s != "deleted" {
		t.Fatalf("the deleted gateway is %s", s)
	}
	before := tp.Drops(t, "db", "blackhole")
	if out, err := tp.Exec(t, "db", "curl", "-sS", "--max-time", "2", remote); err == nil {
		t.Fatalf("db reached the internet after delete-nat-gateway: %s", out)
	}
	if after := tp.Drops(t, "db", "blackhole"); after <= before {
		t.Errorf("blackhole drops at db: %d, then %d", before, after)
	}
	var rts struct {
		RouteTables []struct {
			Routes []struct{ DestinationCidrBlock, NatGatewayId, State string }
		}
	}
	tp.ec2OK(t, &rts, "describe-route-tables")
	state := ""
	for _, rt := range rts.RouteTables {
		for _, r := range rt.Routes {
			if r.DestinationCidrBlock == "0.0.0.0/0" && r.NatGatewayId == ng.NatGatewayId {
				state = r.State
			}
		}
	}
	if state != "blackhole" {
		t.Errorf("route 0.0.0.0/0 → %s: state %q, want blackhole (RT-3)", ng.NatGatewayId, state)
	}
	tp.ec2OK(t, nil, "associate-address", "--allocation-id", eipID, "--instance-id", "web")
	w, err = tp.Curl(t, "web", remote)
	if err != nil {
		t.Fatal(err)
	}
	if host, _, _ := net.SplitHostPort(w.Client); host != "13.125.190.82" {
		t.Fatalf("web's requests came from %s, want the freed EIP", w.Client)
	}
}
