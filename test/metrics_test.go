package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// metricsTopo: web (public subnet) and db (private subnet, behind a NAT
// gateway and acl-db, which denies TCP 3306 from the public subnet by rule
// 110 and lets 8080 through to db's group, which does not admit it), an
// internet host, and settings.metrics on a loopback port (METRICS).
const metricsTopo = `{
  "name": "NAME", "region": "ap-northeast-2",
  "settings": {"metrics": "METRICS"},
  "address_pools": [{"name": "amazon", "cidrs": ["13.125.0.0/16"], "network_border_group": "ap-northeast-2"}],
  "elastic_ips": [{"name": "eip-nat", "address": "13.125.190.82"}],
  "internet": {"hosts": [{"name": "remote", "ip": "13.52.201.147"}]},
  "vpcs": [{
    "name": "v", "cidr": "92.75.0.0/16", "internet_gateway": "igw",
    "subnets": [
      {"name": "pub", "cidr": "92.75.100.0/24", "az": "ap-northeast-2a", "route_table": "rt-public"},
      {"name": "pri", "cidr": "92.75.200.0/24", "az": "ap-northeast-2a", "route_table": "rt-private", "network_acl": "acl-db"}
    ],
    "route_tables": [
      {"name": "rt-public", "routes": [{"destination": "0.0.0.0/0", "target": "igw"}]},
      {"name": "rt-private", "routes": [{"destination": "0.0.0.0/0", "target": "nat"}]}
    ],
    "nat_gateways": [{"name": "nat", "subnet": "pub", "elastic_ip": "eip-nat"}],
    "security_groups": [
      {"name": "web-sg", "ingress": [{"protocol": "icmp", "source": "92.75.0.0/16"}]},
      {"name": "db-sg", "ingress": [{"protocol": "icmp", "source": "92.75.0.0/16"},
                                    {"protocol": "tcp", "ports": "3306", "source": "92.75.0.0/16"}]}
    ],
    "network_acls": [{"name": "acl-db",
      "ingress": [{"rule": 100, "protocol": "icmp", "cidr": "0.0.0.0/0", "action": "allow"},
                  {"rule": 110, "protocol": "tcp", "ports": "3306", "cidr": "92.75.100.0/24", "action": "deny"},
                  {"rule": 120, "protocol": "tcp", "ports": "8080", "cidr": "92.75.100.0/24", "action": "allow"}],
      "egress": [{"rule": 100, "protocol": "all", "cidr": "0.0.0.0/0", "action": "allow"}]}],
    "instances": [
      {"name": "web", "subnet": "pub", "private_ip": "92.75.100.10", "security_groups": ["web-sg"]},
      {"name": "db", "subnet": "pri", "private_ip": "92.75.200.20", "security_groups": ["db-sg"]}
    ]
  }]
}`

// scrape fetches url and parses it with Prometheus's text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s: %s", url, resp.Status, b)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return fams
}

// metricValue sums the series of family name whose labels include want.
func metricValue(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, int) {
	f := fams[name]
	if f == nil {
		return 0, 0
	}
	var sum float64
	n := 0
series:
	for _, m := range f.GetMetric() {
		have := labelsOf(m)
		for k, v := range want {
			if have[k] != v {
				continue series
			}
		}
		n++
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		}
	}
	return sum, n
}

func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// listeningPorts returns the TCP ports process pid listens on in this
// test's network namespace (the host's): its socket inodes matched
// against /proc/net/tcp and tcp6 in state LISTEN.
func listeningPorts(t *testing.T, pid int) []int {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	mine := map[string]bool{}
	for _, fd := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			mine[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var ports []int
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			if len(fs) < 10 || fs[3] != "0A" || !mine[fs[9]] {
				continue
			}
			_, port, _ := strings.Cut(fs[1], ":")
			n, _ := strconv.ParseInt(port, 16, 32)
			ports = append(ports, int(n))
		}
	}
	sort.Ints(ports)
	return ports
}

// daemonStatus is what these tests read of `vpcnet status --json`.
type daemonStatus struct {
	PID         int     `json:"pid"`
	EC2Endpoint string  `json:"ec2_endpoint"`
	Metrics     *string `json:"metrics"`
}

func statusOf(t *testing.T, tp *Topo) daemonStatus {
	t.Helper()
	out, code := vpcnet(t, "status", "--json", "--topology", tp.Name)
	var st []daemonStatus // one per topology asked for
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || len(st) != 1 || st[0].PID == 0 {
		t.Fatalf("status: exit %d:\n%s", code, out)
	}
	return st[0]
}

// portOf is the port of a URL or address ("http://127.0.0.1:4566").
func portOf(t *testing.T, s string) int {
	t.Helper()
	i := strings.LastIndex(s, ":")
	j := strings.IndexByte(s[i:], '/')
	if j < 0 {
		j = len(s) - i
	}
	n, err := strconv.Atoi(s[i+1 : i+j])
	if err != nil {
		t.Fatalf("no port in %q", s)
	}
	return n
}

// freeLoopbackPort returns 127.0.0.1:port for a port nothing listens on now.
func freeLoopbackPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestMetricsScrape: with settings.metrics, `up` and `status` name the
// /metrics URL; a scrape parsed by Prometheus's text parser shows the ENIs'
// frames and bytes growing with a ping, a connection denied by acl-db's
// rule 110 as a network-acl ingress drop with that NACL and rule, one
// denied by db's group as a security-group drop naming it, the NAT gateway
// under CloudWatch's names as db's ping goes through it, and the stages,
// flow table and CPU time; labels carry the topology and VPC ids.
func TestMetricsScrape(t *testing.T) {
	RequireRoot(t)
	addr := freeLoopbackPort(t)
	tp := Up(t, strings.Replace(metricsTopo, "METRICS", addr, 1))
	url := "http://" + addr + "/metrics"
	if !strings.Contains(tp.UpOutput, "Prometheus metrics "+url) {
		t.Errorf("up does not name %s:\n%s", url, tp.UpOutput)
	}
	st := statusOf(t, tp)
	if st.Metrics == nil || *st.Metrics != url {
		t.Errorf("status: metrics %v, want %q", st.Metrics, url)
	}
	want := []int{portOf(t, st.EC2Endpoint), portOf(t, addr)}
	sort.Ints(want)
	if got := listeningPorts(t, st.PID); !slices.Equal(got, want) {
		t.Errorf("the daemon listens on ports %v, want the EC2 endpoint's and settings.metrics' %v", got, want)
	}
	web := map[string]string{"topology": tp.Name, "kind": "eni", "name": "web"}
	db := map[string]string{"topology": tp.Name, "kind": "eni", "name": "db"}
	before := scrape(t, url)
	if _, n := metricValue(before, "vpcnet_endpoint_frames_total", web); n != 2 {
		t.Fatalf("web: %d frame series, want rx and tx", n)
	}
	webFrames, _ := metricValue(before, "vpcnet_endpoint_frames_total", web)
	dbBytes, _ := metricValue(before, "vpcnet_endpoint_bytes_total", db)

	if !tp.PingEventually(t, "web", "92.75.200.20") {
		t.Fatal("web cannot ping db")
	}
	if tp.ncOpens(t, "web", "92.75.200.20", "3306") {
		t.Fatal("acl-db rule 110 let web reach db:3306")
	}
	if tp.ncOpens(t, "web", "92.75.200.20", "8080") {
		t.Fatal("db's group let web reach db:8080")
	}
	if !tp.PingEventually(t, "db", "13.52.201.147") {
		t.Fatal("db cannot ping the internet through the NAT gateway")
	}

	after := scrape(t, url)
	if v, _ := metricValue(after, "vpcnet_endpoint_frames_total", web); v <= webFrames {
		t.Errorf("web's frames %v, were %v: did not grow", v, webFrames)
	}
	if v, _ := metricValue(after, "vpcnet_endpoint_bytes_total", db); v <= dbBytes {
		t.Errorf("db's bytes %v, were %v: did not grow", v, dbBytes)
	}
	for _, m := range after["vpcnet_endpoint_frames_total"].GetMetric() {
		if l := labelsOf(m); l["kind"] == "eni" && !strings.HasPrefix(l["vpc"], "vpc-") {
			t.Errorf("an ENI's series without its VPC id: %v", l)
		}
	}
	nacl := map[string]string{"topology": tp.Name, "name": "db", "reason": "network-acl ingress (NACL-4)"}
	if v, _ := metricValue(after, "vpcnet_endpoint_drops_total", nacl); v == 0 {
		t.Errorf("no network-acl ingress drop at db:\n%s", family(after, "vpcnet_endpoint_drops_total"))
	}
	var aclID string
	for _, m := range after["vpcnet_endpoint_rule_drops_total"].GetMetric() {
		labels := labelsOf(m)
		if labels["reason"] == nacl["reason"] && labels["name"] == "db" && labels["rule"] == "110" && m.GetCounter().GetValue() > 0 {
			aclID = labels["by"]
		}
	}
	if !strings.HasPrefix(aclID, "acl-") {
		t.Errorf("no drop by acl-db's rule 110:\n%s", family(after, "vpcnet_endpoint_rule_drops_total"))
	}
	sg := map[string]string{"topology": tp.Name, "name": "db", "reason": "security-group ingress (SG-2)", "rule": ""}
	if v, _ := metricValue(after, "vpcnet_endpoint_rule_drops_total", sg); v == 0 {
		t.Errorf("no drop by db's group:\n%s", family(after, "vpcnet_endpoint_rule_drops_total"))
	}
	// The NAT gateway under CloudWatch's names (AWS/NATGateway), labelled
	// with its id as CloudWatch's NatGatewayId dimension is.
	natLabels := map[string]string{"topology": tp.Name, "name": "nat"}
	for _, name := range []string{"ConnectionAttemptCount", "ConnectionEstablishedCount", "PacketsInFromSource", "PacketsOutToDestination",
		"BytesInFromSource", "BytesOutToDestination", "PacketsInFromDestination", "PacketsOutToSource", "BytesInFromDestination", "BytesOutToSource"} {
		f := after["vpcnet_natgateway_"+name]
		if v, n := metricValue(after, "vpcnet_natgateway_"+name, natLabels); n != 1 || v == 0 || f.GetType() != dto.MetricType_COUNTER {
			t.Errorf("vpcnet_natgateway_%s: %d series, value %v, type %v; want 1 counter > 0", name, n, v, f.GetType())
			continue
		}
		if id := labelsOf(f.GetMetric()[0])["nat_gateway_id"]; !strings.HasPrefix(id, "nat-") {
			t.Errorf("vpcnet_natgateway_%s: nat_gateway_id %q", name, id)
		}
	}
	for _, name := range []string{"ErrorPortAllocation", "IdleTimeoutCount", "PacketsDropCount"} {
		if _, n := metricValue(after, "vpcnet_natgateway_"+name, natLabels); n != 1 {
			t.Errorf("vpcnet_natgateway_%s: %d series, want 1", name, n)
		}
	}
	// db's ping is a connection until its idle timeout (NAT-4).
	if f := after["vpcnet_natgateway_ActiveConnectionCount"]; f.GetType() != dto.MetricType_GAUGE || len(f.GetMetric()) != 1 ||
		f.GetMetric()[0].GetGauge().GetValue() < 1 {
		t.Errorf("vpcnet_natgateway_ActiveConnectionCount: %v, want a gauge of at least db's ping", f)
	}
	for _, name := range []string{"vpcnet_stage_frames_total", "vpcnet_conntrack_max", "vpcnet_conntrack_flows", "vpcnet_forwarder_cpu_seconds_total"} {
		if v, n := metricValue(after, name, map[string]string{"topology": tp.Name}); n == 0 || (v == 0 && name != "vpcnet_conntrack_flows") {
			t.Errorf("%s: %d series, sum %v", name, n, v)
		}
	}
	if v, _ := metricValue(after, "vpcnet_stage_frames_total", map[string]string{"stage": "network-acl"}); v == 0 {
		t.Errorf("no frames through the network-acl stage:\n%s", family(after, "vpcnet_stage_frames_total"))
	}
}

// TestMetricsOffByDefault: without settings.metrics nothing serves
// metrics: status names no URL, up does not print one, and the daemon
// listens on no port but its EC2 endpoint's.
func TestMetricsOffByDefault(t *testing.T) {
	RequireRoot(t)
	tp := Up(t, `{"name": "NAME", "region": "us-east-1", "vpcs": [{"name": "v", "cidr": "10.9.0.0/16",
	  "subnets": [{"name": "s", "cidr": "10.9.1.0/24", "az": "us-east-1a"}],
	  "instances": [{"name": "a", "subnet": "s"}]}]}`)
	if strings.Contains(tp.UpOutput, "metrics") {
		t.Errorf("up names metrics:\n%s", tp.UpOutput)
	}
	st := statusOf(t, tp)
	if st.Metrics != nil {
		t.Errorf("status names metrics %q without settings.metrics", *st.Metrics)
	}
	if got, want := listeningPorts(t, st.PID), []int{portOf(t, st.EC2Endpoint)}; !slices.Equal(got, want) {
		t.Errorf("the daemon listens on ports %v, want only the EC2 endpoint's %v", got, want)
	}
}

// family prints a family's series for a failure message.
func family(fams map[string]*dto.MetricFamily, name string) string {
	var b strings.Builder
	for _, m := range fams[name].GetMetric() {
		fmt.Fprintln(&b, m.String())
	}
	return b.String()
}
