package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/vpcnet/vpcnet/dataplane"
	"github.com/vpcnet/vpcnet/ec2"
	"github.com/vpcnet/vpcnet/netns"
	"github.com/vpcnet/vpcnet/topology"
)

// Status is what `vpcnet status` shows of a topology.
type Status struct {
	Name        string           `json:"name"`
	PID         int              `json:"pid"`
	CPUs        string           `json:"forwarder_cpus"` // where the forwarder runs (settings.forwarder_cpus)
	EC2Endpoint string           `json:"ec2_endpoint"`   // the EC2 Query API's URL (settings.ec2_endpoint)
	Instances   []InstanceStatus `json:"instances"`
	Hosts       []HostStatus     `json:"internet_hosts,omitempty"`
	Warnings    []string         `json:"warnings,omitempty"`
	Metrics     string           `json:"metrics,omitempty"` // the Prometheus /metrics URL (settings.metrics; off by default)
}

// InstanceStatus is one instance.
type InstanceStatus struct {
	Name      string      `json:"name"`
	ID        string      `json:"id"`
	Namespace string      `json:"namespace"`
	State     string      `json:"state"`
	Subnet    string      `json:"subnet"`
	AZ        string      `json:"az"`
	ENIs      []ENIStatus `json:"enis"`
	// Host is the machine the instance runs on when it is not this one
	// (a machine's agent, issue 16); "" here.
	Host string `json:"host,omitempty"`
}

// ENIStatus is one ENI as an instance shows it (ENI-7).
type ENIStatus struct {
	ID              string            `json:"id"`
	Name            string            `json:"name"`
	Device          string            `json:"device"`
	MAC             string            `json:"mac"`
	IPs             []string          `json:"private_ips"`
	PublicIPs       map[string]string `json:"public_ips,omitempty"`
	Subnet          string            `json:"subnet"`
	Groups          []string          `json:"security_groups"`
	SourceDestCheck bool              `json:"source_dest_check"`
	Missing         bool              `json:"missing,omitempty"` // the device is gone from the namespace
}

// StateImpaired is the status of a running instance one of whose devices
// is gone (deleted by hand).
const StateImpaired = "impaired"

// HostStatus is one internet host.
type HostStatus struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	IP        string `json:"ip"`
}

// status builds the status of the running network.
func (d *Daemon) status() Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := d.net
	s := Status{Name: n.Name, PID: os.Getpid(), EC2Endpoint: d.EC2Endpoint(), Metrics: d.MetricsURL(), Warnings: slices.Clone(n.Warnings)}
	if cpus, err := dataplane.AllowedCPUs(); err == nil {
		s.CPUs = topology.FormatCPUs(cpus)
	}
	for _, v := range n.VPCs {
		for _, i := range v.Instances {
			is := InstanceStatus{Name: i.Name, ID: i.ID, Namespace: i.Namespace, State: ec2.InstanceState(i), Subnet: i.Subnet.Name, AZ: i.Subnet.AZ}
			if m := d.agent.machineName(); m != "" && n.HostOf(i) != m {
				is.Host = n.HostOf(i) // another machine's: its devices are there
			}
			var links map[string]bool
			if !i.Stopped && is.Host == "" {
				links, _ = netns.LinkNames(i.Namespace)
			}
			for _, e := range i.ENIs {
				es := eniStatus(fmt.Sprintf("eth%d", e.DeviceIndex), e)
				if !i.Stopped && is.Host == "" && !links[es.Device] {
					// Deleted by hand (or the namespace is gone): say so,
					// rather than show a device that is not there.
					es.Missing = true
					is.State = StateImpaired
					s.Warnings = append(s.Warnings, fmt.Sprintf("instance %s: device %s of %s is gone from namespace %s (deleted by hand?): its traffic drops; terminate the instance, or take the topology down and up again",
						i.Name, es.Device, e.ID, i.Namespace))
				}
				is.ENIs = append(is.ENIs, es)
			}
			s.Instances = append(s.Instances, is)
		}
	}
	for _, h := range n.Hosts {
		s.Hosts = append(s.Hosts, HostStatus{Name: h.Name, Namespace: h.Namespace, IP: h.IP.String()})
	}
	return s
}

func eniStatus(dev string, e *topology.ENI) ENIStatus {
	es := ENIStatus{ID: e.ID, Name: e.Name, Device: dev, MAC: e.MAC.String(), Subnet: e.Subnet.Name, SourceDestCheck: e.SourceDestCheck}
	for _, ip := range e.IPs() {
		es.IPs = append(es.IPs, ip.String())
	}
	for priv, pub := range e.PublicIPs {
		if es.PublicIPs == nil {
			es.PublicIPs = map[string]string{}
		}
		es.PublicIPs[priv.String()] = pub.String()
	}
	for _, g := range e.Groups {
		es.Groups = append(es.Groups, g.Name)
	}
	return es
}

// Serve answers the control API on the topology's unix socket until the
// daemon shuts down.
func (d *Daemon) Serve() error {
	path := SocketPath(d.net.Name)
	os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return err
	}
	// Root only, whatever the umask: the socket starts processes as root
	// (run-instances' user_data). The folder is 0700 too.
	if err := os.Chmod(path, fileMode); err != nil {
		l.Close()
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, d.status()) })
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, d.fwd.Stats()) })
	mux.HandleFunc("GET /capture", d.handleCapture) // capture.go
	mux.HandleFunc("POST /down", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]string{"status": "shutting down"})
		go d.Shutdown()
	})
	mux.HandleFunc("POST /op/{op}", func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, MaxRequestBytes)
		d.handleOp(w, r)
	})
	mux.HandleFunc("GET /export", func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		t := d.svc.Export() // the network and the account's tags and key pairs (ec2/export.go)
		d.mu.Unlock()
		writeJSON(w, t)
	})
	srv := &http.Server{Handler: mux, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second, MaxHeaderBytes: 64 << 10}
	go func() {
		<-d.done
		srv.Close()
	}()
	err = srv.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// Client talks to a topology's daemon.
type Client struct {
	name    string
	http    *http.Client
	nameErr error
}

// Timeouts of control calls: a frozen or stuck forwarder is said to be so
// within seconds (issue 10). Operations may build namespaces (run-instances),
// so they get longer than status and stats.
const (
	ReadTimeout = 5 * time.Second
	OpTimeout   = 20 * time.Second
)

// NewClient returns a client for topology name. A name that is not a
// topology name (topology.CheckName) fails every call.
func NewClient(name string) *Client {
	path := SocketPath(name)
	return &Client{name: name, nameErr: topology.CheckName(name), http: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		}}}}
}

// ErrPermission is returned when the caller may not reach the socket.
var ErrPermission = errors.New("permission denied: the control socket is root's; run it with sudo")

// callErr says why the daemon did not answer: not root, not up, or not
// answering within the timeout (a frozen forwarder).
func (c *Client) callErr(err error, timeout time.Duration) error {
	switch {
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("topology %q: %w", c.name, ErrPermission)
	case errors.Is(err, os.ErrNotExist), errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("topology %q: daemon not answering (%w): is it up? `sudo vpcnet status`", c.name, err)
	case errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err):
		return fmt.Errorf("topology %q: daemon not answering within %s (frozen or overloaded forwarder?): %w", c.name, timeout, ErrTimeout)
	}
	return fmt.Errorf("topology %q: daemon not answering: %w", c.name, err)
}

// ErrTimeout is returned when the daemon does not answer in time.
var ErrTimeout = errors.New("timed out")

func (c *Client) do(method, path string, body []byte, timeout time.Duration, out any) error {
	if c.nameErr != nil {
		return c.nameErr
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://vpcnet"+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.callErr(err, timeout)
	}
	if err := decode(resp, out); err != nil {
		if errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err) {
			return c.callErr(err, timeout)
		}
		return err
	}
	return nil
}

// Get fetches path into out.
func (c *Client) Get(path string, out any) error {
	return c.do(http.MethodGet, path, nil, ReadTimeout, out)
}

// Post sends in as JSON to path and decodes the answer into out.
func (c *Client) Post(path string, in, out any) error {
	return c.PostTimeout(path, in, out, OpTimeout)
}

// PostTimeout is Post with its own timeout.
func (c *Client) PostTimeout(path string, in, out any, timeout time.Duration) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return c.do(http.MethodPost, path, b, timeout, out)
}

func decode(resp *http.Response, out any) error {
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e OpError
		if json.Unmarshal(body, &e) == nil && e.Code != "" {
			return &e
		}
		return fmt.Errorf("daemon: %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(body, out)
}
