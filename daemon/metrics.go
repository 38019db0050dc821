package daemon

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vpcnet/vpcnet/dataplane"
	"github.com/vpcnet/vpcnet/nat"
	"github.com/vpcnet/vpcnet/topology"
)

// The metrics endpoint (issue 14): with settings.metrics, each running
// topology serves Prometheus metrics on http://<settings.metrics>/metrics.
// Nothing is counted for it: a scrape reads the forwarder's counters (the
// same snapshot `vpcnet stats` shows, Forwarder.Stats) and turns them into
// metrics, so forwarding pays nothing whether it is scraped or not.
//
// Labels stay bounded: one series per endpoint (ENI, internet or
// on-premises host, a VPC's service port), drop reason, pipeline stage, NAT
// gateway, and rule that exists (a group list or a NACL and its rule
// number); never per flow or per address.

// Timeouts of the metrics server: a scrape is quick, so they are short.
const (
	metricsReadHeaderTimeout = 5 * time.Second
	metricsReadTimeout       = 10 * time.Second
	metricsWriteTimeout      = 20 * time.Second
	metricsIdleTimeout       = 60 * time.Second
	metricsMaxHeaderBytes    = 16 << 10
	metricsScrapeTimeout     = 15 * time.Second
	metricsInFlight          = 4 // concurrent scrapes; more get 503
)

// metricsServer serves /metrics for one daemon; its fields are set before it
// serves and never change.
type metricsServer struct {
	ln  net.Listener
	srv *http.Server
	url string // http://127.0.0.1:9100/metrics
}

// openMetrics listens on settings.metrics when the file names it; it serves
// nothing until serveMetrics. Without settings.metrics it does nothing.
func (d *Daemon) openMetrics() error {
	addr := d.net.Settings.Metrics
	if !addr.IsValid() {
		return nil
	}
	ln, err := net.Listen("tcp", addr.String())
	if err != nil {
		return fmt.Errorf("settings.metrics %s: %w", addr, err)
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(newMetricsCollector(d.net.Name, d.fwd.Stats, d.metricLabels)); err != nil {
		ln.Close()
		return fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: metricsInFlight,
		Timeout:             metricsScrapeTimeout,
	}))
	d.metrics = &metricsServer{ln: ln, url: endpointURL(ln.Addr()) + "/metrics", srv: &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: metricsReadHeaderTimeout,
		ReadTimeout:       metricsReadTimeout,
		WriteTimeout:      metricsWriteTimeout,
		IdleTimeout:       metricsIdleTimeout,
		MaxHeaderBytes:    metricsMaxHeaderBytes,
	}}
	return nil
}

// serveMetrics answers scrapes until closeMetrics.
func (d *Daemon) serveMetrics() {
	if m := d.metrics; m != nil {
		go func() {
			if err := m.srv.Serve(m.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				fmt.Fprintf(os.Stderr, "metrics %s: %v\n", m.url, err)
			}
		}()
	}
}

// closeMetrics stops the metrics server: its listener and every
// connection. Safe before serveMetrics and more than once.
func (d *Daemon) closeMetrics() {
	if m := d.metrics; m != nil {
		m.srv.Close()
		m.ln.Close()
	}
}

// MetricsURL is the URL of the daemon's /metrics, or "" if it has none.
func (d *Daemon) MetricsURL() string {
	if d.metrics == nil {
		return ""
	}
	return d.metrics.url
}

// metricLabels is what a scrape needs from the topology: which VPC each
// endpoint and NAT gateway is in, and which groups and NACL rules exist (a
// drop detail of a rule since deleted is left out, so the rule labels stay
// those of the network as it is).
type metricLabels struct {
	vpcOf    map[string]string          // ENI id, NAT gateway id, service port id → VPC id
	natName  map[string]string          // NAT gateway id → name
	groups   map[string]bool            // security-group ids
	naclRule map[string]map[string]bool // NACL id → its rule numbers, and "*"
}

func newMetricLabels(n *topology.Network) *metricLabels {
	l := &metricLabels{vpcOf: map[string]string{}, natName: map[string]string{}, groups: map[string]bool{},
		naclRule: map[string]map[string]bool{}}
	for _, v := range n.VPCs {
		for _, e := range v.ENIs {
			l.vpcOf[e.ID] = v.ID
		}
		for _, g := range v.NATs {
			l.vpcOf[g.ID] = v.ID
			l.natName[g.ID] = g.Name
		}
		l.vpcOf[dataplane.ServicePortID(v.ID)] = v.ID
		for _, g := range v.SGs {
			l.groups[g.ID] = true
		}
		for _, a := range v.NACLs {
			rules := map[string]bool{"*": true}
			for _, r := range append(a.Ingress[:len(a.Ingress):len(a.Ingress)], a.Egress...) {
				rules[strconv.Itoa(r.Number)] = true
			}
			l.naclRule[a.ID] = rules
		}
	}
	return l
}

// exists reports whether a drop detail names groups and rules the network
// has now: by is a NACL id with rule its number (or "*"), or a list of
// group ids with no rule.
func (l *metricLabels) exists(d dataplane.DropDetail) bool {
	if rules, ok := l.naclRule[d.By]; ok {
		return rules[d.Rule]
	}
	if d.Rule != "" || d.By == "" {
		return false
	}
	for g := range strings.SplitSeq(d.By, ",") {
		if !l.groups[g] {
			return false
		}
	}
	return true
}

// metricLabels returns the labels of d's network as it is, or nil when
// wait is false and an operation holds d.mu (possibly for seconds): a
// scrape then uses the labels of the one before rather than wait.
func (d *Daemon) metricLabels(wait bool) *metricLabels {
	if wait {
		d.mu.Lock()
	} else if !d.mu.TryLock() {
		return nil
	}
	defer d.mu.Unlock()
	return newMetricLabels(d.net)
}

// metricsCollector is a prometheus.Collector over the forwarder's
// counters, read when scraped.
//
// Collect may run on several goroutines at once (concurrent scrapes).
type metricsCollector struct {
	stats    func() dataplane.Stats
	labelsOf func(wait bool) *metricLabels

	mu         sync.Mutex    // guards lastLabels
	lastLabels *metricLabels // the previous scrape's

	frames, bytes, drops, ruleDrops, queueDrops *prometheus.Desc
	stages                                      *prometheus.Desc
	ctFlows, ctMax, ctShare, ctRefused          *prometheus.Desc
	ctEvicted, ctENIFlows, ctENIEvicted         *prometheus.Desc
	cpu                                         *prometheus.Desc
	natMetrics                                  []natMetric
	natDrops                                    *prometheus.Desc
}

// natMetric is one of a NAT gateway's CloudWatch metrics (NAT-6), named
// as CloudWatch names it in the AWS/NATGateway namespace.
type natMetric struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(*nat.Stats) uint64
}

// natCloudWatchMetrics are the AWS/NATGateway metrics that the NAT
// gateway's counters give (NAT-6), under CloudWatch's own names (Prometheus
// allows upper case), so that a CloudWatch alarm or dashboard reads the
// same here: CloudWatch's ErrorPortAllocation is
// vpcnet_natgateway_ErrorPortAllocation. The counters carry no _total
// suffix for the same reason; their TYPE says counter, and CloudWatch's Sum
// over a period is increase() over it. "Source" is the private side (the
// VPC's instances), "Destination" the remote side.
//
// Packets are those the forwarder hands the gateway: a GSO super-frame (an
// instance with TSO on) is one packet here where AWS would see its wire
// segments, and its bytes count its headers once. CloudWatch's
// PeakBytesPerSecond and PeakPacketsPerSecond are left out: they are peaks
// of rates sampled every 10 seconds within each minute, which counters read
// at scrape time cannot give (the README shows the PromQL that comes near).
var natCloudWatchMetrics = []struct {
	name, help string
	kind       prometheus.ValueType
	value      func(*nat.Stats) uint64
}{
	{"ActiveConnectionCount", "concurrent active connections through the NAT gateway now: TCP, UDP and ICMP queries " +
		"(CloudWatch documents TCP only; they agree when the traffic is TCP)",
		prometheus.GaugeValue, func(s *nat.Stats) uint64 { return s.ActiveConnectionCount }},
	{"ConnectionAttemptCount", "connection attempts through the NAT gateway (a new connection's first packet)",
		prometheus.CounterValue, func(s *nat.Stats) uint64 { return s.ConnectionAttemptCount }},
	{"ConnectionEstablishedCount", "connections established through the NAT gateway (the destination answered)",
		prometheus.CounterValue, func(s *nat.Stats) uint64 { return s.ConnectionEstablishedCount }},
	{"ErrorPortAllocation", "times the NAT gateway could not allocate a source port for a destination (NAT-3)",
		prometheus.CounterValue, func(s *nat.Stats) uint64 { return s.ErrorPortAllocation }},
	{"IdleTimeoutCount", "connections that went from active to idle: not closed, no packet for the idle timeout (NAT-4)",
		prometheus.CounterValue, func(s *nat.Stats) uint64 { return s.IdleTimeoutCount }},
	{"PacketsDropCount", "packets the NAT gateway dropped (by reason: vpcnet_natgateway_drops_total)",
		prometheus.CounterValue, func(s *nat.Stats) uint64 { return s.PacketsDropCount }},
	{"PacketsInFromSource", "packets received from clients in the VPC",
		prometheus.CounterValue, func(s *nat.Stats) uint64 { return s.PacketsInFromSource }},
	{"PacketsOutToDestination", "packets sent out to the destination",
		prometheus.CounterValue, func(s *nat.Stats) uint64 { return s.PacketsOutToDestination }},
	{"PacketsInFromDestination", "packets received from the destination",
		prometheus.CounterValue, func(s *nat.Stats) uint64 { return s.PacketsInFromDestination }},
	{"PacketsOutToSource", "packets sent to clients in the VPC",
		prometheus.CounterValue, func(s *nat.Stats) uint64 { return s.PacketsOutToSource }},
	{"BytesInFromSource", "bytes received from clients in the VPC (IPv4 packets, from the IP header on)",
		prometheus.CounterValue, func(s *nat.Stats) uint64 { return s.BytesInFromSource }},
	{"BytesOutToDestination", "bytes sent out to the destination (IPv4 packets, from the IP header on)",
		prometheus.CounterValue, func(s *nat.Stats) uint64 { return s.BytesOutToDestination }},
	{"BytesInFromDestination", "bytes received from the destination (IPv4 packets, from the IP header on)",
		prometheus.CounterValue, func(s *nat.Stats) uint64 { return s.BytesInFromDestination }},
	{"BytesOutToSource", "bytes sent to clients in the VPC (IPv4 packets, from the IP header on)",
		prometheus.CounterValue, func(s *nat.Stats) uint64 { return s.BytesOutToSource }},
}

// Label names.
var (
	endpointLabels = []string{"vpc", "kind", "id", "name"}
	natLabels      = []string{"vpc", "nat_gateway_id", "name"}
)

// newMetricsCollector returns the collector of topology topo: stats reads
// the forwarder's counters, labelsOf the network's labels (see
// Daemon.metricLabels).
func newMetricsCollector(topo string, stats func() dataplane.Stats, labelsOf func(wait bool) *metricLabels) *metricsCollector {
	c := prometheus.Labels{"topology": topo}
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("vpcnet_"+name, help, labels, c)
	}
	with := func(base []string, more ...string) []string { return append(base[:len(base):len(base)], more...) }
	m := &metricsCollector{stats: stats, labelsOf: labelsOf,
		frames: desc("endpoint_frames_total", "Frames of an ENI, internet or on-premises host, or a VPC's service port: "+
			"rx read by the forwarder from its device (sent by the instance), tx written to it.", with(endpointLabels, "direction")...),
		bytes: desc("endpoint_bytes_total", "Bytes of those frames (Ethernet header on, virtio-net header off).",
			with(endpointLabels, "direction")...),
		drops: desc("endpoint_drops_total", "Frames dropped, by reason as `vpcnet stats` names it (the reason cites the rule id "+
			"of docs: security-group ingress (SG-2), network-acl egress (NACL-4), port-queue-full …).", with(endpointLabels, "reason")...),
		ruleDrops: desc("endpoint_rule_drops_total", "Frames dropped by a security group or network ACL (OBS-2): by is the ENI's "+
			"group ids (no rule allowed it) or the NACL id, rule the NACL's rule number or * (the default deny). Only groups and rules that exist.",
			with(endpointLabels, "reason", "by", "rule")...),
		queueDrops: desc("port_queue_drops_total", "Frames lost at the queue between a device and the forwarder: rx the kernel "+
			"dropped because the queue toward the forwarder was full (tx_dropped of the TAP), tx the device refused (EAGAIN, ENOBUFS). "+
			"Also in vpcnet_endpoint_drops_total as port-queue-full and port-write-refused.", with(endpointLabels, "direction")...),
		stages:  desc("stage_frames_total", "Frames that entered each stage of the forwarding pipeline.", "stage"),
		ctFlows: desc("conntrack_flows", "Flows in the connection-tracking table (SG-4)."),
		ctMax:   desc("conntrack_max", "Capacity of the connection-tracking table (settings.conntrack_max, SG-4)."),
		ctShare: desc("conntrack_share_per_eni", "Each ENI's fair share of the table now: the maximum over the ENIs holding flows (SG-10)."),
		ctRefused: desc("conntrack_refused_total", "New flows refused because the table was full (SG-4: dropped as "+
			"conntrack-table-full)."),
		ctEvicted:    desc("conntrack_evicted_total", "Live flows evicted to make room, half-open ones first (SG-10)."),
		ctENIFlows:   desc("conntrack_eni_flows", "An ENI's flows in the connection-tracking table (SG-10).", "vpc", "id", "name"),
		ctENIEvicted: desc("conntrack_eni_evicted_total", "An ENI's live flows evicted to make room (SG-10).", "vpc", "id", "name"),
		cpu: desc("forwarder_cpu_seconds_total", "CPU time of the forwarder's process (getrusage RUSAGE_SELF: its workers, "+
			"and the topology's EC2, DNS, metadata and metrics servers), by mode: user or system.", "mode"),
		natDrops: desc("natgateway_drops_total", "The NAT gateway's PacketsDropCount by reason (vpcnet's breakdown, "+
			"CloudWatch has none): NAT-2 protocol, NAT-3 port allocation, NAT-4 idle timeout (answered with a RST), NAT-5 unsolicited …",
			with(natLabels, "reason")...),
	}
	for _, n := range natCloudWatchMetrics {
		m.natMetrics = append(m.natMetrics, natMetric{
			desc:  prometheus.NewDesc("vpcnet_natgateway_"+n.name, "CloudWatch's AWS/NATGateway "+n.name+": "+n.help+" (NAT-6).", natLabels, c),
			kind:  n.kind,
			value: n.value})
	}
	return m
}

// Describe sends every metric's description (prometheus.Collector).
func (m *metricsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.frames, m.bytes, m.drops, m.ruleDrops, m.queueDrops, m.stages,
		m.ctFlows, m.ctMax, m.ctShare, m.ctRefused, m.ctEvicted, m.ctENIFlows, m.ctENIEvicted, m.cpu, m.natDrops} {
		ch <- d
	}
	for _, n := range m.natMetrics {
		ch <- n.desc
	}
}

// labels returns the network's labels now, or the last scrape's while an
// operation holds the daemon's lock.
func (m *metricsCollector) labels() *metricLabels {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l := m.labelsOf(m.lastLabels == nil); l != nil {
		m.lastLabels = l
	}
	return m.lastLabels
}

// Collect reads the counters now and sends them (prometheus.Collector).
func (m *metricsCollector) Collect(ch chan<- prometheus.Metric) {
	s := m.stats()
	l := m.labels()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	queueFull, writeRefused := dataplane.PortQueueDropReasons()
	for _, e := range s.Endpoints {
		id := e.ID
		if e.Kind != "eni" && e.Kind != "nat-eni" {
			id = e.Name // a host's or service port's ID is its address: no per-address labels
		}
		el := []string{l.vpcOf[id], e.Kind, id, e.Name}
		counter(m.frames, e.RxFrames, append(el, "rx")...)
		counter(m.frames, e.TxFrames, append(el, "tx")...)
		counter(m.bytes, e.RxBytes, append(el, "rx")...)
		counter(m.bytes, e.TxBytes, append(el, "tx")...)
		for r, v := range e.Drops {
			counter(m.drops, v, append(el, r)...)
		}
		counter(m.queueDrops, e.Drops[queueFull], append(el, "rx")...)
		counter(m.queueDrops, e.Drops[writeRefused], append(el, "tx")...)
		for _, d := range e.Details {
			if l.exists(d) {
				counter(m.ruleDrops, d.Count, append(el, d.Reason, d.By, d.Rule)...)
			}
		}
	}
	for st, v := range s.Stages {
		counter(m.stages, v, st)
	}
	ct := s.Conntrack
	gauge(m.ctFlows, float64(ct.Flows))
	gauge(m.ctMax, float64(ct.Max))
	gauge(m.ctShare, float64(ct.Share))
	counter(m.ctRefused, ct.Refused)
	counter(m.ctEvicted, ct.Evicted)
	for _, e := range ct.ENIs {
		gauge(m.ctENIFlows, float64(e.Flows), l.vpcOf[e.ID], e.ID, e.Name)
		counter(m.ctENIEvicted, e.Evicted, l.vpcOf[e.ID], e.ID, e.Name)
	}
	for id, ns := range s.NAT {
		nl := []string{l.vpcOf[id], id, l.natName[id]}
		for _, n := range m.natMetrics {
			ch <- prometheus.MustNewConstMetric(n.desc, n.kind, float64(n.value(&ns)), nl...)
		}
		for r, v := range ns.DropsByReason {
			counter(m.natDrops, v, append(nl, r)...)
		}
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		ch <- prometheus.MustNewConstMetric(m.cpu, prometheus.CounterValue, seconds(ru.Utime), "user")
		ch <- prometheus.MustNewConstMetric(m.cpu, prometheus.CounterValue, seconds(ru.Stime), "system")
	}
}

func seconds(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
