package dataplane

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/vpcnet/vpcnet/dataplane/header"
	"github.com/vpcnet/vpcnet/topology"
)

const lgwOutpost = "arn:aws:outposts:us-east-1:123456789012:outpost/op-0123456789abcdef0"

// lgwTopo: edge (CoIP 45.60.50.7) and bare (no CoIP) on the Outpost subnet
// op, cloud in the Region subnet reg; all three tables route 10.100.0.0/16
// to local gateway lgw, behind which is on-premises host db.
const lgwTopo = `{
  "name": "unit", "region": "us-east-1",
  "address_pools": [{"name": "onprem", "cidrs": ["45.60.50.0/24"], "kind": "coip"}],
  "local_gateways": [{"name": "lgw", "outpost_arn": "` + lgwOutpost + `", "coip_pools": ["onprem"],
    "on_premises": [{"name": "db", "ip": "10.100.0.5"}]}],
  "elastic_ips": [{"name": "c1", "address": "45.60.50.7", "pool": "onprem", "instance": "edge"}],
  "vpcs": [{
    "name": "v", "cidr": "10.0.0.0/16",
    "subnets": [
      {"name": "op", "cidr": "10.0.1.0/24", "az": "us-east-1a", "outpost_arn": "` + lgwOutpost + `"},
      {"name": "reg", "cidr": "10.0.2.0/24", "az": "us-east-1a"}
    ],
    "route_tables": [{"name": "rt", "main": true, "routes": [{"destination": "10.100.0.0/16", "target": "lgw"}]}],
    "security_groups": [{"name": "open", "ingress": [{"protocol": "all", "source": "0.0.0.0/0"}]}],
    "instances": [
      {"name": "edge", "subnet": "op", "private_ip": "10.0.1.10", "security_groups": ["open"]},
      {"name": "bare", "subnet": "op", "private_ip": "10.0.1.11", "security_groups": ["open"]},
      {"name": "cloud", "subnet": "reg", "private_ip": "10.0.2.10", "security_groups": ["open"]}
    ]
  }]
}`

// lgwRig is a rig with a port for the on-premises host db too.
func lgwRig(t *testing.T) *rig {
	t.Helper()
	r := newRig(t, lgwTopo)
	db := NewFakePort(64)
	r.ports["db"] = db
	r.f.AttachPort("db", db)
	return r
}

func onPremHost(n *topology.Network, name string) *topology.Host {
	for _, h := range n.OnPremHosts() {
		if h.Name == name {
			return h
		}
	}
	return nil
}

func ipv4Of(t *testing.T, f []byte) (src, dst netip.Addr) {
	t.Helper()
	ip := header.IPv4(f[ipOff:])
	var sum uint32
	for i := 0; i < ip.HeaderLen(); i += 2 {
		sum += uint32(ip[i])<<8 | uint32(ip[i+1])
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	if sum != 0xffff {
		t.Fatalf("bad IPv4 checksum after translation: % x", f)
	}
	return ip.Src(), ip.Dst()
}

// COIP-5: out through the local gateway with the source translated to the
// CoIP (checksums fixed), and back in at the CoIP to the private IP.
func TestCOIP5_LocalGatewayTranslatesBothWays(t *testing.T) {
	r := lgwRig(t)
	edge := r.enis["edge"]
	r.send("edge", ping(t, edge, r.router("edge"), "10.0.1.10", "10.100.0.5"))
	got := r.expect("db")
	if src, dst := ipv4Of(t, got); src != netip.MustParseAddr("45.60.50.7") || dst != netip.MustParseAddr("10.100.0.5") {
		t.Fatalf("on premises saw %s → %s, want 45.60.50.7 → 10.100.0.5", src, dst)
	}
	pkt := gopacket.NewPacket(got[header.VnetHdrLen:], layers.LayerTypeEthernet, gopacket.Default)
	if icmp, ok := pkt.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); !ok || icmp.TypeCode.Type() != 8 {
		t.Fatalf("not the echo request: %v", pkt)
	}
	// The reply, and a new connection from on premises, reach edge at its CoIP.
	db := onPremHost(r.net, "db")
	lgwMAC := net.HardwareAddr{0x02, 0x00, 0x5e, 0x00, 0x00, 0x01}
	r.send("db", frame(t, db.MAC, lgwMAC, "10.100.0.5", "45.60.50.7",
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(0, 0), Id: 7, Seq: 1}, gopacket.Payload("ping")))
	if src, dst := ipv4Of(t, r.expect("edge")); src != netip.MustParseAddr("10.100.0.5") || dst != netip.MustParseAddr("10.0.1.10") {
		t.Fatalf("edge got %s → %s", src, dst)
	}
	r.send("db", frame(t, db.MAC, lgwMAC, "10.100.0.5", "45.60.50.7",
		&layers.TCP{SrcPort: 40000, DstPort: 22, SYN: true, Seq: 1}))
	if _, dst := ipv4Of(t, r.expect("edge")); dst != netip.MustParseAddr("10.0.1.10") {
		t.Fatalf("a connection from on premises reached %s", dst)
	}
}

// COIP-5: CoIP mode carries no private address on premises: an Outpost
// ENI without a CoIP, and a Region subnet's ENI, are counted drops; so
// are an unassociated CoIP and an on-premises address no host has.
func TestCOIP5_LocalGatewayDrops(t *testing.T) {
	r := lgwRig(t)
	wait := func(name string, reason dropReason) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for r.drops(name, reason) == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if r.drops(name, reason) != 1 {
			t.Errorf("%s: %d drops as %s, want 1", name, r.drops(name, reason), reason)
		}
	}
	r.send("bare", ping(t, r.enis["bare"], r.router("bare"), "10.0.1.11", "10.100.0.5"))
	wait("bare", dropNoCoIP)
	r.send("cloud", ping(t, r.enis["cloud"], r.router("cloud"), "10.0.2.10", "10.100.0.5"))
	wait("cloud", dropLGWOffOutpost)
	r.send("edge", ping(t, r.enis["edge"], r.router("edge"), "10.0.1.10", "10.100.9.9"))
	wait("edge", dropNoOnPremHost)
	db := onPremHost(r.net, "db")
	r.send("db", frame(t, db.MAC, net.HardwareAddr{0x02, 0x00, 0x5e, 0x00, 0x00, 0x01}, "10.100.0.5", "45.60.50.8",
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 1, Seq: 1}))
	wait("db", dropCoIPUnassociated)
	r.expectNone("db")
}

// lgwRoundTrip returns a function that forwards edge's echo request to db
// through the local gateway and db's reply back to edge, on null ports,
// and the ports.
func lgwRoundTrip(t testing.TB) (func(), map[string]*nullPort) {
	n, err := topology.Load([]byte(lgwTopo))
	if err != nil {
		t.Fatal(err)
	}
	f := New(n, Options{})
	ports := map[string]*nullPort{}
	for _, v := range n.VPCs {
		for _, i := range v.Instances {
			ports[i.Name] = &nullPort{}
			f.AttachPort(i.Primary().ID, ports[i.Name])
		}
	}
	ports["db"] = &nullPort{}
	f.AttachPort("db", ports["db"])
	f.Stop() // the null ports' workers return at once; the compiled tables stay usable
	cfg := f.cfg.Load()
	edge := n.InstanceByName["edge"].Primary()
	db := onPremHost(n, "db")
	out := &worker{f: f, port: ports["edge"], id: edge.ID, now: clock()}
	in := &worker{f: f, port: ports["db"], id: "db", now: clock()}
	req := ping(t, edge, edge.Subnet.RouterMAC, "10.0.1.10", "10.100.0.5")
	rep := frame(t, db.MAC, net.HardwareAddr{0x02, 0x00, 0x5e, 0x00, 0x00, 0x01}, "10.100.0.5", "45.60.50.7",
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(0, 0), Id: 7, Seq: 1}, gopacket.Payload("ping"))
	buf := make([]byte, max(len(req), len(rep)))
	return func() {
		out.handle(cfg, buf[:copy(buf, req)])
		in.handle(cfg, buf[:copy(buf, rep)])
	}, ports
}

// COIP-5: the local gateway's translation allocates nothing, either way.
func TestCOIP5_LocalGatewayAllocatesNothing(t *testing.T) {
	run, ports := lgwRoundTrip(t)
	run()
	if allocs := testing.AllocsPerRun(1000, run); allocs != 0 {
		t.Fatalf("the local gateway path allocates %.1f per round trip", allocs)
	}
	if ports["db"].n == 0 || ports["edge"].n == 0 {
		t.Fatalf("not forwarded: db %d, edge %d", ports["db"].n, ports["edge"].n)
	}
}

// BenchmarkLocalGatewayRoundTrip: one request out through the local
// gateway and its reply back in, per iteration (two frames).
func BenchmarkLocalGatewayRoundTrip(b *testing.B) {
	run, _ := lgwRoundTrip(b)
	b.ReportAllocs()
	for b.Loop() {
		run()
	}
}

// OBS-3, COIP-5: path analysis answers as the traffic goes: found from
// edge to db and from db to edge's CoIP; not from bare (no CoIP) nor from
// cloud (not on the Outpost).
func TestCOIP5_PathAnalysisAgrees(t *testing.T) {
	r := lgwRig(t)
	ok := func(src string, dst string, want bool) {
		t.Helper()
		a, err := r.f.ExplainPath(src, netip.MustParseAddr(dst), header.ProtoTCP, 22)
		if err != nil {
			t.Fatal(err)
		}
		if a.NetworkPathFound != want {
			t.Errorf("%s → %s: found %v, want %v (%+v)", src, dst, a.NetworkPathFound, want, a)
		}
	}
	ok(r.enis["edge"].ID, "10.100.0.5", true)
	ok("db", "45.60.50.7", true)
	ok(r.enis["bare"].ID, "10.100.0.5", false)
	ok(r.enis["cloud"].ID, "10.100.0.5", false)
	ok("db", "45.60.50.8", false)
}
