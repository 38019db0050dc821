package daemon

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vpcnet/vpcnet/dataplane"
	"github.com/vpcnet/vpcnet/nat"
)

// metricsFixture is the default network's daemon and a snapshot of
// counters over its real ids, as Forwarder.Stats would give them.
type metricsFixture struct {
	d                     *Daemon
	vpc, web, natENI, nat string
	acl, webSG, dbSG      string
	stats                 dataplane.Stats
}

func newMetricsFixture(t *testing.T) *metricsFixture {
	d := offlineDaemon(t)
	v := d.net.VPCs[0]
	f := &metricsFixture{d: d, vpc: v.ID}
	for _, e := range v.ENIs {
		if e.Name == "web" {
			f.web = e.ID
		}
	}
	g := v.NATs[0]
	f.nat, f.natENI = g.ID, g.ENI.ID
	for _, a := range v.NACLs {
		if a.Name == "acl-db" {
			f.acl = a.ID
		}
	}
	for _, g := range v.SGs {
		switch g.Name {
		case "my-Web-SecurityGroup":
			f.webSG = g.ID
		case "my-DB-SecurityGroup":
			f.dbSG = g.ID
		}
	}
	if f.web == "" || f.acl == "" || f.webSG == "" || f.dbSG == "" {
		t.Fatalf("default network changed: %+v", f)
	}
	queueFull, writeRefused := dataplane.PortQueueDropReasons()
	f.stats = dataplane.Stats{
		Endpoints: []dataplane.EndpointStats{
			{Name: "web", ID: f.web, Kind: "eni", RxFrames: 10, RxBytes: 1000, TxFrames: 7, TxBytes: 700,
				Drops: map[string]uint64{"security-group ingress (SG-2)": 3, "network-acl ingress (NACL-4)": 5, queueFull: 2, writeRefused: 1},
				Details: []dataplane.DropDetail{
					{Reason: "network-acl ingress (NACL-4)", By: f.acl, Rule: "*", Count: 4},
					{Reason: "network-acl ingress (NACL-4)", By: f.acl, Rule: "110", Count: 1},
					{Reason: "network-acl ingress (NACL-4)", By: f.acl, Rule: "130", Count: 9},                 // no such rule (deleted)
					{Reason: "network-acl ingress (NACL-4)", By: "acl-00000000000000000", Rule: "*", Count: 9}, // no such NACL
					{Reason: "security-group ingress (SG-2)", By: f.webSG + "," + f.dbSG, Count: 3},
					{Reason: "security-group ingress (SG-2)", By: f.webSG + ",sg-00000000000000000", Count: 9}, // a group since deleted
				}},
			{Name: "nat-2a", ID: f.natENI, Kind: "nat-eni", RxFrames: 1},
			{Name: "console", ID: "54.239.30.25", Kind: "internet-host", TxFrames: 4, TxBytes: 400},
			{Name: dataplane.ServicePortID(f.vpc), ID: "92.75.0.2", Kind: "vpc-services", RxFrames: 2, RxBytes: 200},
		},
		Stages: map[string]uint64{"parse": 12, "security-group": 9},
		Conntrack: dataplane.ConntrackStats{Flows: 3, Max: 262144, Refused: 1, Evicted: 2, Share: 131072,
			ENIs: []dataplane.ENIConntrack{{Name: "web", ID: f.web, Flows: 3, Evicted: 2}}},
		NAT: map[string]nat.Stats{f.nat: {ActiveConnectionCount: 2, ConnectionAttemptCount: 5, ConnectionEstablishedCount: 4,
			ErrorPortAllocation: 1, IdleTimeoutCount: 1, PacketsDropCount: 3, PacketsInFromSource: 20, PacketsOutToDestination: 19,
			PacketsInFromDestination: 18, PacketsOutToSource: 17, BytesInFromSource: 2000, BytesOutToDestination: 1900,
			BytesInFromDestination: 1800, BytesOutToSource: 1700,
			DropsByReason: map[string]uint64{"port-allocation (NAT-3)": 1, "unsolicited (NAT-5)": 2}}},
	}
	return f
}

func (f *metricsFixture) collector() *metricsCollector {
	return newMetricsCollector(f.d.net.Name, func() dataplane.Stats { return f.stats }, f.d.metricLabels)
}

// TestMetricsCollector: a scrape turns the forwarder's counters into
// metrics with bounded labels: the endpoint's VPC, kind, id and name (a
// host by name, never by address), drops by reason, drops by the rule that
// decided them only for groups and rules that exist, the NAT gateway under
// CloudWatch's names.
func TestMetricsCollector(t *testing.T) {
	f := newMetricsFixture(t)
	c := f.collector()
	r := strings.NewReplacer("{VPC}", f.vpc, "{WEB}", f.web, "{NATENI}", f.natENI, "{NATGW}", f.nat, "{ACL}", f.acl,
		"{GROUPS}", f.webSG+","+f.dbSG, "{SVC}", dataplane.ServicePortID(f.vpc))
	want := r.Replace(`
# HELP vpcnet_endpoint_frames_total Frames of an ENI, internet or on-premises host, or a VPC's service port: rx read by the forwarder from its device (sent by the instance), tx written to it.
# TYPE vpcnet_endpoint_frames_total counter
vpcnet_endpoint_frames_total{direction="rx",id="{WEB}",kind="eni",name="web",topology="ch5",vpc="{VPC}"} 10
vpcnet_endpoint_frames_total{direction="tx",id="{WEB}",kind="eni",name="web",topology="ch5",vpc="{VPC}"} 7
vpcnet_endpoint_frames_total{direction="rx",id="{NATENI}",kind="nat-eni",name="nat-2a",topology="ch5",vpc="{VPC}"} 1
vpcnet_endpoint_frames_total{direction="tx",id="{NATENI}",kind="nat-eni",name="nat-2a",topology="ch5",vpc="{VPC}"} 0
vpcnet_endpoint_frames_total{direction="rx",id="console",kind="internet-host",name="console",topology="ch5",vpc=""} 0
vpcnet_endpoint_frames_total{direction="tx",id="console",kind="internet-host",name="console",topology="ch5",vpc=""} 4
vpcnet_endpoint_frames_total{direction="rx",id="{SVC}",kind="vpc-services",name="{SVC}",topology="ch5",vpc="{VPC}"} 2
vpcnet_endpoint_frames_total{direction="tx",id="{SVC}",kind="vpc-services",name="{SVC}",topology="ch5",vpc="{VPC}"} 0
# HELP vpcnet_endpoint_drops_total Frames dropped, by reason as ` + "`vpcnet stats`" + ` names it (the reason cites the rule id of docs: security-group ingress (SG-2), network-acl egress (NACL-4), port-queue-full …).
# TYPE vpcnet_endpoint_drops_total counter
vpcnet_endpoint_drops_total{id="{WEB}",kind="eni",name="web",reason="network-acl ingress (NACL-4)",topology="ch5",vpc="{VPC}"} 5
vpcnet_endpoint_drops_total{id="{WEB}",kind="eni",name="web",reason="port-queue-full",topology="ch5",vpc="{VPC}"} 2
vpcnet_endpoint_drops_total{id="{WEB}",kind="eni",name="web",reason="port-write-refused",topology="ch5",vpc="{VPC}"} 1
vpcnet_endpoint_drops_total{id="{WEB}",kind="eni",name="web",reason="security-group ingress (SG-2)",topology="ch5",vpc="{VPC}"} 3
# HELP vpcnet_endpoint_rule_drops_total Frames dropped by a security group or network ACL (OBS-2): by is the ENI's group ids (no rule allowed it) or the NACL id, rule the NACL's rule number or * (the default deny). Only groups and rules that exist.
# TYPE vpcnet_endpoint_rule_drops_total counter
vpcnet_endpoint_rule_drops_total{by="{ACL}",id="{WEB}",kind="eni",name="web",reason="network-acl ingress (NACL-4)",rule="*",topology="ch5",vpc="{VPC}"} 4
vpcnet_endpoint_rule_drops_total{by="{ACL}",id="{WEB}",kind="eni",name="web",reason="network-acl ingress (NACL-4)",rule="110",topology="ch5",vpc="{VPC}"} 1
vpcnet_endpoint_rule_drops_total{by="{GROUPS}",id="{WEB}",kind="eni",name="web",reason="security-group ingress (SG-2)",rule="",topology="ch5",vpc="{VPC}"} 3
# HELP vpcnet_natgateway_ActiveConnectionCount CloudWatch's AWS/NATGateway ActiveConnectionCount: concurrent active connections through the NAT gateway now: TCP, UDP and ICMP queries (CloudWatch documents TCP only; they agree when the traffic is TCP) (NAT-6).
# TYPE vpcnet_natgateway_ActiveConnectionCount gauge
vpcnet_natgateway_ActiveConnectionCount{name="nat-2a",nat_gateway_id="{NATGW}",topology="ch5",vpc="{VPC}"} 2
# HELP vpcnet_natgateway_ErrorPortAllocation CloudWatch's AWS/NATGateway ErrorPortAllocation: times the NAT gateway could not allocate a source port for a destination (NAT-3) (NAT-6).
# TYPE vpcnet_natgateway_ErrorPortAllocation counter
vpcnet_natgateway_ErrorPortAllocation{name="nat-2a",nat_gateway_id="{NATGW}",topology="ch5",vpc="{VPC}"} 1
# HELP vpcnet_natgateway_BytesOutToDestination CloudWatch's AWS/NATGateway BytesOutToDestination: bytes sent out to the destination (IPv4 packets, from the IP header on) (NAT-6).
# TYPE vpcnet_natgateway_BytesOutToDestination counter
vpcnet_natgateway_BytesOutToDestination{name="nat-2a",nat_gateway_id="{NATGW}",topology="ch5",vpc="{VPC}"} 1900
# HELP vpcnet_natgateway_PacketsDropCount CloudWatch's AWS/NATGateway PacketsDropCount: packets the NAT gateway dropped (by reason: vpcnet_natgateway_drops_total) (NAT-6).
# TYPE vpcnet_natgateway_PacketsDropCount counter
vpcnet_natgateway_PacketsDropCount{name="nat-2a",nat_gateway_id="{NATGW}",topology="ch5",vpc="{VPC}"} 3
# HELP vpcnet_natgateway_drops_total The NAT gateway's PacketsDropCount by reason (vpcnet's breakdown, CloudWatch has none): NAT-2 protocol, NAT-3 port allocation, NAT-4 idle timeout (answered with a RST), NAT-5 unsolicited …
# TYPE vpcnet_natgateway_drops_total counter
vpcnet_natgateway_drops_total{name="nat-2a",nat_gateway_id="{NATGW}",reason="port-allocation (NAT-3)",topology="ch5",vpc="{VPC}"} 1
vpcnet_natgateway_drops_total{name="nat-2a",nat_gateway_id="{NATGW}",reason="unsolicited (NAT-5)",topology="ch5",vpc="{VPC}"} 2
# HELP vpcnet_port_queue_drops_total Frames lost at the queue between a device and the forwarder: rx the kernel dropped because the queue toward the forwarder was full (tx_dropped of the TAP), tx the device refused (EAGAIN, ENOBUFS). Also in vpcnet_endpoint_drops_total as port-queue-full and port-write-refused.
# TYPE vpcnet_port_queue_drops_total counter
vpcnet_port_queue_drops_total{direction="rx",id="{WEB}",kind="eni",name="web",topology="ch5",vpc="{VPC}"} 2
vpcnet_port_queue_drops_total{direction="tx",id="{WEB}",kind="eni",name="web",topology="ch5",vpc="{VPC}"} 1
vpcnet_port_queue_drops_total{direction="rx",id="{NATENI}",kind="nat-eni",name="nat-2a",topology="ch5",vpc="{VPC}"} 0
vpcnet_port_queue_drops_total{direction="tx",id="{NATENI}",kind="nat-eni",name="nat-2a",topology="ch5",vpc="{VPC}"} 0
vpcnet_port_queue_drops_total{direction="rx",id="console",kind="internet-host",name="console",topology="ch5",vpc=""} 0
vpcnet_port_queue_drops_total{direction="tx",id="console",kind="internet-host",name="console",topology="ch5",vpc=""} 0
vpcnet_port_queue_drops_total{direction="rx",id="{SVC}",kind="vpc-services",name="{SVC}",topology="ch5",vpc="{VPC}"} 0
vpcnet_port_queue_drops_total{direction="tx",id="{SVC}",kind="vpc-services",name="{SVC}",topology="ch5",vpc="{VPC}"} 0
# HELP vpcnet_stage_frames_total Frames that entered each stage of the forwarding pipeline.
# TYPE vpcnet_stage_frames_total counter
vpcnet_stage_frames_total{stage="parse",topology="ch5"} 12
vpcnet_stage_frames_total{stage="security-group",topology="ch5"} 9
# HELP vpcnet_conntrack_flows Flows in the connection-tracking table (SG-4).
# TYPE vpcnet_conntrack_flows gauge
vpcnet_conntrack_flows{topology="ch5"} 3
# HELP vpcnet_conntrack_eni_flows An ENI's flows in the connection-tracking table (SG-10).
# TYPE vpcnet_conntrack_eni_flows gauge
vpcnet_conntrack_eni_flows{id="{WEB}",name="web",topology="ch5",vpc="{VPC}"} 3
`)
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "vpcnet_endpoint_frames_total", "vpcnet_endpoint_drops_total",
		"vpcnet_endpoint_rule_drops_total", "vpcnet_natgateway_ActiveConnectionCount", "vpcnet_natgateway_ErrorPortAllocation",
		"vpcnet_natgateway_BytesOutToDestination", "vpcnet_natgateway_PacketsDropCount", "vpcnet_natgateway_drops_total", "vpcnet_port_queue_drops_total",
		"vpcnet_stage_frames_total", "vpcnet_conntrack_flows", "vpcnet_conntrack_eni_flows"); err != nil {
		t.Error(err)
	}
	// Every AWS/NATGateway metric the NAT code keeps is there under
	// CloudWatch's name, once per gateway, with the counters' values.
	cw := map[string]float64{"ActiveConnectionCount": 2, "ConnectionAttemptCount": 5, "ConnectionEstablishedCount": 4,
		"ErrorPortAllocation": 1, "IdleTimeoutCount": 1, "PacketsDropCount": 3, "PacketsInFromSource": 20, "PacketsOutToDestination": 19,
		"PacketsInFromDestination": 18, "PacketsOutToSource": 17, "BytesInFromSource": 2000, "BytesOutToDestination": 1900,
		"BytesInFromDestination": 1800, "BytesOutToSource": 1700}
	for name := range cw {
		if n := testutil.CollectAndCount(c, "vpcnet_natgateway_"+name); n != 1 {
			t.Errorf("vpcnet_natgateway_%s: %d series, want 1", name, n)
		}
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	fams, err := reg.Gather()
	if err != nil {
		t.Error(err)
	}
	natFams := 0
	for _, f := range fams {
		name, ok := strings.CutPrefix(f.GetName(), "vpcnet_natgateway_")
		if !ok || name == "drops_total" {
			continue
		}
		natFams++
		if m := f.GetMetric(); len(m) != 1 || m[0].GetCounter().GetValue()+m[0].GetGauge().GetValue() != cw[name] {
			t.Errorf("%s: %v, want one series of %v", f.GetName(), f.GetMetric(), cw[name])
		}
		if !strings.HasPrefix(f.GetHelp(), "CloudWatch's AWS/NATGateway "+name+": ") {
			t.Errorf("%s: help %q does not name CloudWatch's metric", f.GetName(), f.GetHelp())
		}
	}
	if natFams != len(cw) {
		t.Errorf("%d vpcnet_natgateway_ families under CloudWatch's names, want the %d", natFams, len(cw))
	}
	if n := testutil.CollectAndCount(c, "vpcnet_forwarder_cpu_seconds_total"); n != 2 {
		t.Errorf("vpcnet_forwarder_cpu_seconds_total: %d series, want user and system", n)
	}
	// Prometheus's own naming rules (promlint): units, _total on counters;
	// the NAT gateway's metrics break two of them on purpose, to carry
	// CloudWatch's names (camelCase, no _total), and nothing else.
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Error(err)
	}
	for _, p := range problems {
		name, ok := strings.CutPrefix(p.Metric, "vpcnet_natgateway_")
		if _, isCW := cw[name]; !ok || !isCW || !(strings.Contains(p.Text, "camelCase") || strings.Contains(p.Text, `"_total" suffix`)) {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
	}
}

// TestMetricsLabelsFollowTheNetwork: a rule deleted since a drop was
// counted leaves the scrape (only rules that exist); a scrape while an
// operation holds the daemon's lock does not wait for it.
func TestMetricsLabelsFollowTheNetwork(t *testing.T) {
	f := newMetricsFixture(t)
	c := f.collector()
	ruleDrops := func() int { return testutil.CollectAndCount(c, "vpcnet_endpoint_rule_drops_total") }
	if n := ruleDrops(); n != 3 {
		t.Fatalf("%d rule series, want 3", n)
	}
	f.d.mu.Lock()
	for _, a := range f.d.net.VPCs[0].NACLs {
		if a.ID == f.acl {
			a.Ingress = a.Ingress[:1] // rules 110 and 120 go
		}
	}
	done := make(chan int)
	go func() { done <- ruleDrops() }()
	select {
	case n := <-done:
		if n != 3 {
			t.Errorf("scrape under the lock: %d rule series, want the last scrape's 3", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a scrape waited for the daemon's lock")
	}
	f.d.mu.Unlock()
	if n := ruleDrops(); n != 2 {
		t.Errorf("after rule 110 went: %d rule series, want 2 (* and the groups)", n)
	}
}

// TestMetricsServes: with settings.metrics, the daemon serves GET /metrics
// there (timeouts set), refuses other methods and paths, and stops on
// closeMetrics; without it, nothing listens. A port taken is an error
// naming the setting.
func TestMetricsServes(t *testing.T) {
	d := offlineDaemon(t)
	if err := d.openMetrics(); err != nil || d.metrics != nil || d.MetricsURL() != "" {
		t.Fatalf("without settings.metrics: %v %v", err, d.metrics)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ap := netip.MustParseAddrPort(l.Addr().String())
	l.Close()
	d.net.Settings.Metrics = ap
	if err := d.openMetrics(); err != nil {
		t.Fatal(err)
	}
	defer d.closeMetrics()
	if s := unsetTimeouts(d.metrics.srv); s != "" {
		t.Errorf("metrics server without %s", s)
	}
	if want := fmt.Sprintf("http://%s/metrics", ap); d.MetricsURL() != want || d.status().Metrics != want {
		t.Errorf("url %q, status %q, want %q", d.MetricsURL(), d.status().Metrics, want)
	}
	d.serveMetrics()
	get := func(method, path string) (int, string) {
		req, _ := http.NewRequest(method, "http://"+ap.String()+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("GET", "/metrics")
	if code != 200 || !strings.Contains(body, `vpcnet_conntrack_max{topology="ch5"} 262144`) ||
		!strings.Contains(body, `vpcnet_endpoint_frames_total{direction="rx",id="`) {
		t.Errorf("GET /metrics: %d\n%.2000s", code, body)
	}
	if code, _ := get("POST", "/metrics"); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics: %d", code)
	}
	if code, _ := get("GET", "/"); code != http.StatusNotFound {
		t.Errorf("GET /: %d", code)
	}
	d2 := offlineDaemon(t)
	d2.net.Settings.Metrics = ap
	if err := d2.openMetrics(); err == nil || !strings.Contains(err.Error(), "settings.metrics "+ap.String()) {
		t.Errorf("port taken: %v", err)
		d2.closeMetrics()
	}
	d.closeMetrics()
	if c, err := net.DialTimeout("tcp", ap.String(), time.Second); err == nil {
		c.Close()
		t.Errorf("still listening on %s after closeMetrics", ap)
	}
}

// BenchmarkMetricsScrape is one scrape of the default network's daemon
// (no traffic: every endpoint, stage and the NAT gateway, zeros), through
// the /metrics handler without HTTP.
func BenchmarkMetricsScrape(b *testing.B) {
	d := offlineDaemon(b)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	d.net.Settings.Metrics = netip.MustParseAddrPort(l.Addr().String())
	l.Close()
	if err := d.openMetrics(); err != nil {
		b.Fatal(err)
	}
	defer d.closeMetrics()
	h := d.metrics.srv.Handler
	req := httptest.NewRequest("GET", "/metrics", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}
