package imds

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vpcnet/vpcnet/dataplane"
	"github.com/vpcnet/vpcnet/ec2"
	"github.com/vpcnet/vpcnet/topology"
)

// testTopo: "web" has an EIP, two ENIs and user data, in a VPC with DNS
// hostnames on and a secondary CIDR; "db" has no public IP and requires
// IMDSv2; "other" is in a second VPC with the same CIDR (ADDR-6) as web's.
const testTopo = `{
  "name": "imdst", "region": "ap-northeast-2",
  "address_pools": [{"name": "amazon", "cidrs": ["13.125.0.0/16"], "network_border_group": "ap-northeast-2"}],
  "elastic_ips": [{"name": "eip-web", "address": "13.125.1.10"}, {"name": "eip-spare", "address": "13.125.1.20"}],
  "vpcs": [{
    "name": "v1", "cidr": "10.9.0.0/16", "secondary_cidrs": ["10.10.0.0/16"], "internet_gateway": "igw",
    "enable_dns_hostnames": true,
    "subnets": [{"name": "pub", "cidr": "10.9.1.0/24", "az": "ap-northeast-2a", "route_table": "rt-pub"},
                {"name": "pri", "cidr": "10.10.2.0/24", "az": "ap-northeast-2c"}],
    "route_tables": [{"name": "rt-pub", "routes": [{"destination": "0.0.0.0/0", "target": "igw"}]}],
    "security_groups": [{"name": "web-sg"}, {"name": "db-sg"}],
    "network_interfaces": [{"name": "web-b", "subnet": "pub", "private_ip": "10.9.1.50", "security_groups": ["db-sg"]}],
    "instances": [
      {"name": "web", "subnet": "pub", "private_ip": "10.9.1.10", "secondary_private_ips": ["10.9.1.11"],
       "security_groups": ["web-sg", "db-sg"], "elastic_ip": "eip-web", "network_interfaces": ["web-b"],
       "user_data": "#!/bin/sh\necho hi"},
      {"name": "db", "subnet": "pri", "private_ip": "10.10.2.20", "security_groups": ["db-sg"],
       "metadata_http_tokens": "required"}
    ]
  }, {
    "name": "v2", "cidr": "10.9.0.0/16",
    "subnets": [{"name": "pub2", "cidr": "10.9.1.0/24", "az": "ap-northeast-2b"}],
    "instances": [{"name": "other", "subnet": "pub2", "private_ip": "10.9.1.10"}]
  }]
}`

type store struct{ n *topology.Network }

func (s store) Network() *topology.Network { return s.n }

// kernel changes nothing: the tests look at the model and its metadata.
type kernel struct{}

func (kernel) NamespaceExists(string) bool                          { return true }
func (kernel) LaunchInstance(*topology.Instance) error              { return nil }
func (kernel) RemoveInstance(*topology.Instance)                    {}
func (kernel) StopProcesses(*topology.Instance)                     {}
func (kernel) PlugENI(*topology.Instance, *topology.ENI, int) error { return nil }
func (kernel) UnplugENI(*topology.ENI)                              {}
func (kernel) ConfigureENI(*topology.ENI) error                     { return nil }
func (kernel) RemoveAddress(*topology.ENI, netip.Addr)              {}
func (kernel) RefreshHosts()                                        {}
func (kernel) ExplainPath(string, netip.Addr, uint8, uint16) (dataplane.PathAnalysis, error) {
	return dataplane.PathAnalysis{}, nil
}

// world is a network, its EC2 service and one metadata handler per VPC, as
// the daemon serves them.
type world struct {
	mu   sync.Mutex
	n    *topology.Network
	svc  *ec2.Service
	h    map[string]*Handler // by VPC name
	vpcs map[string]string   // VPC name → id
}

func newWorld(t testing.TB) *world {
	t.Helper()
	n, err := topology.Load([]byte(testTopo))
	if err != nil {
		t.Fatal(err)
	}
	w := &world{n: n, svc: ec2.New(store{n}, kernel{}), h: map[string]*Handler{}, vpcs: map[string]string{}}
	for _, v := range n.VPCs {
		id := v.ID
		w.vpcs[v.Name] = id
		w.h[v.Name] = New(func(src netip.Addr) (Instance, bool) {
			w.mu.Lock()
			defer w.mu.Unlock()
			return Describe(w.n, w.svc, id, src)
		})
	}
	return w
}

func (w *world) call(t testing.TB, op, in string) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(in), &m); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.svc.CallInput(op, m); err != nil {
		t.Fatalf("%s: %v", op, err)
	}
}

type reply struct {
	status int
	body   string
	header http.Header
}

// do sends a request from src to VPC vpc's metadata service.
func (w *world) do(vpc, src, method, path string, hdr ...string) reply {
	r := httptest.NewRequest(method, "http://169.254.169.254"+path, nil)
	r.RemoteAddr = src + ":41000"
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	w.h[vpc].ServeHTTP(rec, r)
	b, _ := io.ReadAll(rec.Result().Body)
	return reply{rec.Code, string(b), rec.Result().Header}
}

func (w *world) token(t testing.TB, vpc, src string) string {
	t.Helper()
	r := w.do(vpc, src, "PUT", TokenPath, "X-aws-ec2-metadata-token-ttl-seconds", "60")
	if r.status != 200 || len(r.body) != tokenLen || r.header.Get(TTLHeader) != "60" {
		t.Fatalf("token: %d %q %v", r.status, r.body, r.header)
	}
	return r.body
}

// IMDS-1: with a token, every path of the brief answers the instance's own
// facts, as describe-instances has them.
func TestIMDS1_PathsAnswerTheInstancesFacts(t *testing.T) {
	w := newWorld(t)
	web := w.n.InstanceByName["web"]
	tok := w.token(t, "v1", "10.9.1.10")
	mac0, mac1 := web.ENIs[0].MAC.String(), web.ENIs[1].MAC.String()
	sg := func(name string) string {
		for _, g := range web.VPC.SGs {
			if g.Name == name {
				return g.ID
			}
		}
		t.Fatalf("no group %s", name)
		return ""
	}
	var subnetPub, subnetPri string
	for _, s := range web.VPC.Subnets {
		if s.Name == "pub" {
			subnetPub = s.ID
		} else {
			subnetPri = s.ID
		}
	}
	_ = subnetPri
	m := "/latest/meta-data/"
	ifc := m + "network/interfaces/macs/" + mac0 + "/"
	want := map[string]string{
		"/":                                 strings.Join(versions, "\n"),
		"/latest":                           "dynamic\nmeta-data\nuser-data",
		"/latest/":                          "dynamic\nmeta-data\nuser-data",
		"/2021-07-15/meta-data/instance-id": web.ID,
		"/latest/dynamic/":                  "instance-identity/",
		"/latest/dynamic/instance-identity": "document",
		m: "ami-id\nami-launch-index\nhostname\ninstance-id\ninstance-type\nlocal-hostname\nlocal-ipv4\nmac\nnetwork/\nplacement/\n" +
			"public-hostname\npublic-ipv4\nreservation-id\nsecurity-groups\nservices/",
		m + "instance-id":                 web.ID,
		m + "ami-id":                      "ami-0c9c942bd7bf113a2",
		m + "instance-type":               "t2.micro",
		m + "local-ipv4":                  "10.9.1.10",
		m + "public-ipv4":                 "13.125.1.10",
		m + "mac":                         mac0,
		m + "hostname":                    "ip-10-9-1-10.ap-northeast-2.compute.internal",
		m + "local-hostname":              "ip-10-9-1-10.ap-northeast-2.compute.internal",
		m + "public-hostname":             "ec2-13-125-1-10.ap-northeast-2.compute.amazonaws.com",
		m + "placement/":                  "availability-zone\nregion",
		m + "placement/availability-zone": "ap-northeast-2a",
		m + "placement/region":            "ap-northeast-2",
		m + "security-groups":             "web-sg\ndb-sg",
		m + "network":                     "interfaces/",
		m + "network/interfaces/":         "macs/",
		m + "network/interfaces/macs/":    mac0 + "/\n" + mac1 + "/",
		m + "services/domain":             "amazonaws.com",
		ifc: "device-number\ninterface-id\nipv4-associations/\nlocal-hostname\nlocal-ipv4s\nmac\nowner-id\npublic-hostname\npublic-ipv4s\n" +
			"security-group-ids\nsecurity-groups\nsubnet-id\nsubnet-ipv4-cidr-block\nvpc-id\nvpc-ipv4-cidr-block\nvpc-ipv4-cidr-blocks",
		ifc + "device-number":                 "0",
		ifc + "interface-id":                  web.ENIs[0].ID,
		ifc + "local-ipv4s":                   "10.9.1.10\n10.9.1.11",
		ifc + "public-ipv4s":                  "13.125.1.10",
		ifc + "ipv4-associations/13.125.1.10": "10.9.1.10",
		ifc + "subnet-id":                     subnetPub,
		ifc + "vpc-id":                        web.VPC.ID,
		ifc + "subnet-ipv4-cidr-block":        "10.9.1.0/24",
		ifc + "vpc-ipv4-cidr-block":           "10.9.0.0/16",
		ifc + "vpc-ipv4-cidr-blocks":          "10.9.0.0/16\n10.10.0.0/16",
		ifc + "security-group-ids":            sg("web-sg") + "\n" + sg("db-sg"),
		ifc + "security-groups":               "web-sg\ndb-sg",
		ifc + "mac":                           mac0,
		ifc + "owner-id":                      w.n.AccountID(),
		m + "network/interfaces/macs/" + mac1 + "/device-number": "1",
		m + "network/interfaces/macs/" + mac1 + "/local-ipv4s":   "10.9.1.50",
		m + "network/interfaces/macs/" + mac1 + "/interface-id":  web.ENIs[1].ID,
		"/latest/user-data": "#!/bin/sh\necho hi",
	}
	for path, body := range want {
		r := w.do("v1", "10.9.1.10", "GET", path, "X-aws-ec2-metadata-token", tok)
		if r.status != 200 || r.body != body {
			t.Errorf("GET %s: %d %q, want %q", path, r.status, r.body, body)
		}
		if path == "/latest/user-data" && r.header.Get("Content-Type") != "application/octet-stream" {
			t.Errorf("user-data type %q", r.header.Get("Content-Type"))
		}
	}
	// The second ENI has no public IP: no public-ipv4s, no associations.
	r := w.do("v1", "10.9.1.10", "GET", m+"network/interfaces/macs/"+mac1+"/public-ipv4s")
	if r.status != 404 {
		t.Errorf("public-ipv4s of an ENI without one: %d", r.status)
	}
	// A source that is web's second ENI is still web.
	if r := w.do("v1", "10.9.1.50", "GET", m+"instance-id"); r.status != 200 || r.body != web.ID {
		t.Errorf("from eth1: %d %q", r.status, r.body)
	}
}

// The identity document is AWS's JSON, with AWS's layout.
func TestIMDS1_IdentityDocument(t *testing.T) {
	w := newWorld(t)
	web := w.n.InstanceByName["web"]
	r := w.do("v1", "10.9.1.10", "GET", "/latest/dynamic/instance-identity/document")
	if r.status != 200 || !strings.HasPrefix(r.body, "{\n  \"accountId\" : \""+w.n.AccountID()+"\",\n") {
		t.Fatalf("%d %q", r.status, r.body)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.body), &doc); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{"instanceId": web.ID, "privateIp": "10.9.1.10", "region": "ap-northeast-2",
		"availabilityZone": "ap-northeast-2a", "instanceType": "t2.micro", "imageId": "ami-0c9c942bd7bf113a2",
		"architecture": "x86_64", "version": "2017-09-30", "kernelId": nil, "billingProducts": nil} {
		if doc[k] != v {
			t.Errorf("%s = %v, want %v", k, doc[k], v)
		}
	}
	if _, err := time.Parse(time.RFC3339, doc["pendingTime"].(string)); err != nil {
		t.Errorf("pendingTime: %v", err)
	}
}

// An instance without a public IP, in a VPC with DNS hostnames on: no
// public-ipv4, no public-hostname (404, and not listed); no user data: 404.
func TestIMDS1_NoPublicIPNoUserData(t *testing.T) {
	w := newWorld(t)
	tok := w.token(t, "v1", "10.10.2.20")
	for _, p := range []string{"/latest/meta-data/public-ipv4", "/latest/meta-data/public-hostname", "/latest/user-data"} {
		if r := w.do("v1", "10.10.2.20", "GET", p, TokenHeader, tok); r.status != 404 || !strings.Contains(r.body, "<title>404 - Not Found</title>") ||
			r.header.Get("Content-Type") != "text/html" {
			t.Errorf("%s: %d %q", p, r.status, r.body)
		}
	}
	r := w.do("v1", "10.10.2.20", "GET", "/latest/meta-data/", TokenHeader, tok)
	if r.status != 200 || strings.Contains(r.body, "public") {
		t.Errorf("listing: %q", r.body)
	}
	if r := w.do("v1", "10.10.2.20", "GET", "/latest/", TokenHeader, tok); r.body != "dynamic\nmeta-data" {
		t.Errorf("/latest/: %q", r.body)
	}
	// DNS-2: a public IP without the VPC's DNS hostnames has no public-hostname.
	w.n.VPCs[0].DNSHostnames = false
	if r := w.do("v1", "10.9.1.10", "GET", "/latest/meta-data/public-hostname"); r.status != 404 {
		t.Errorf("public-hostname with DNS hostnames off: %d %q", r.status, r.body)
	}
	if r := w.do("v1", "10.9.1.10", "GET", "/latest/meta-data/public-ipv4"); r.status != 200 {
		t.Errorf("public-ipv4 with DNS hostnames off: %d %q", r.status, r.body)
	}
}

// IMDS-1: answers follow the model: an EIP moved, the instance stopped
// (no answer) and started.
func TestIMDS1_AnswersFollowTheAddresses(t *testing.T) {
	w := newWorld(t)
	get := func(path string) reply { return w.do("v1", "10.9.1.10", "GET", "/latest/meta-data/"+path) }
	if r := get("public-ipv4"); r.body != "13.125.1.10" {
		t.Fatalf("before: %q", r.body)
	}
	web := w.n.InstanceByName["web"]
	var spare string
	for _, e := range w.n.EIPs {
		if e.Name == "eip-spare" {
			spare = e.AllocationID
		}
	}
	w.call(t, "AssociateAddress", `{"AllocationId": "`+spare+`", "InstanceId": "`+web.ID+`"}`)
	if r := get("public-ipv4"); r.body != "13.125.1.20" {
		t.Fatalf("after associate-address: %d %q", r.status, r.body)
	}
	if r := get("public-hostname"); r.body != "ec2-13-125-1-20.ap-northeast-2.compute.amazonaws.com" {
		t.Fatalf("public-hostname after associate-address: %q", r.body)
	}
	w.call(t, "StopInstances", `{"InstanceIds": ["`+web.ID+`"]}`)
	if r := get("instance-id"); r.status != 403 {
		t.Fatalf("stopped: %d %q", r.status, r.body)
	}
	w.call(t, "StartInstances", `{"InstanceIds": ["`+web.ID+`"]}`)
	if r := get("instance-id"); r.status != 200 || r.body != web.ID {
		t.Fatalf("started: %d %q", r.status, r.body)
	}
	if r := get("public-ipv4"); r.body != "13.125.1.20" { // EIP-2: an EIP stays through stop/start
		t.Fatalf("public-ipv4 after start: %q", r.body)
	}
}

// ADDR-6: two VPCs with the same CIDR: each VPC's service answers its own
// instance at 10.9.1.10.
func TestIMDS1_EachVPCAnswersItsOwn(t *testing.T) {
	w := newWorld(t)
	a := w.do("v1", "10.9.1.10", "GET", "/latest/meta-data/instance-id")
	b := w.do("v2", "10.9.1.10", "GET", "/latest/meta-data/instance-id")
	if a.body != w.n.InstanceByName["web"].ID || b.body != w.n.InstanceByName["other"].ID {
		t.Fatalf("v1 %q, v2 %q", a.body, b.body)
	}
	// A token of web is no token for other, although their IPs are the same.
	tok := w.token(t, "v1", "10.9.1.10")
	if r := w.do("v2", "10.9.1.10", "GET", "/latest/meta-data/instance-id", TokenHeader, tok); r.status != 401 {
		t.Fatalf("web's token at v2: %d", r.status)
	}
}

// IMDS-1 and the bad-input rules: each bad request gets AWS's status.
func TestIMDS1_BadRequests(t *testing.T) {
	w := newWorld(t)
	h := w.h["v1"]
	now := time.Now()
	h.now = func() time.Time { return now }
	tok := w.token(t, "v1", "10.9.1.10")
	dbTok := w.token(t, "v1", "10.10.2.20")
	other := New(h.lookup).token(w.n.InstanceByName["web"].ID, now.Unix()+60) // another daemon's key
	id := "/latest/meta-data/instance-id"
	// The last character carries two spare bits: flipping its low bit must
	// be refused too (one token, one spelling), as must a flip in the MAC.
	tamper := []byte(tok)
	tamper[len(tamper)-1] ^= 1
	if tamper[len(tamper)-1] == tok[len(tok)-1] {
		t.Fatal("no change")
	}
	tamperMid := []byte(tok)
	tamperMid[20] ^= 1
	cases := []struct {
		name, src, method, path string
		hdr                     []string
		status                  int
	}{
		{"v1 allowed without a token", "10.9.1.10", "GET", id, nil, 200},
		{"a valid token", "10.9.1.10", "GET", id, []string{TokenHeader, tok}, 200},
		{"HEAD", "10.9.1.10", "HEAD", id, nil, 200},
		{"v2 required: no token", "10.10.2.20", "GET", id, nil, 401},
		{"v2 required: its token", "10.10.2.20", "GET", id, []string{TokenHeader, dbTok}, 200},
		{"another instance's token", "10.10.2.20", "GET", id, []string{TokenHeader, tok}, 401},
		{"a forged token", "10.9.1.10", "GET", id, []string{TokenHeader, string(tamper)}, 401},
		{"a token with a bit of its MAC flipped", "10.9.1.10", "GET", id, []string{TokenHeader, string(tamperMid)}, 401},
		{"another daemon's token", "10.9.1.10", "GET", id, []string{TokenHeader, other}, 401},
		{"a bad token with v1 allowed", "10.9.1.10", "GET", id, []string{TokenHeader, "nope"}, 401},
		{"an empty token", "10.9.1.10", "GET", id, []string{TokenHeader, ""}, 401},
		{"two tokens", "10.9.1.10", "GET", id, []string{TokenHeader, tok, TokenHeader, tok}, 401},
		{"a huge token", "10.9.1.10", "GET", id, []string{TokenHeader, strings.Repeat("A", 4000)}, 401},
		{"PUT without TTL", "10.9.1.10", "PUT", TokenPath, nil, 400},
		{"PUT TTL 0", "10.9.1.10", "PUT", TokenPath, []string{TTLHeader, "0"}, 400},
		{"PUT TTL 21601", "10.9.1.10", "PUT", TokenPath, []string{TTLHeader, "21601"}, 400},
		{"PUT TTL 21600", "10.9.1.10", "PUT", TokenPath, []string{TTLHeader, "21600"}, 200},
		{"PUT TTL 1", "10.9.1.10", "PUT", TokenPath, []string{TTLHeader, "1"}, 200},
		{"PUT TTL -5", "10.9.1.10", "PUT", TokenPath, []string{TTLHeader, "-5"}, 400},
		{"PUT TTL 60s", "10.9.1.10", "PUT", TokenPath, []string{TTLHeader, "60s"}, 400},
		{"PUT TTL twice", "10.9.1.10", "PUT", TokenPath, []string{TTLHeader, "60", TTLHeader, "60"}, 400},
		{"PUT TTL huge", "10.9.1.10", "PUT", TokenPath, []string{TTLHeader, strings.Repeat("9", 100)}, 400},
		{"PUT proxied", "10.9.1.10", "PUT", TokenPath, []string{TTLHeader, "60", "X-Forwarded-For", "1.2.3.4"}, 403},
		{"GET the token path", "10.9.1.10", "GET", TokenPath, nil, 405},
		{"POST metadata", "10.9.1.10", "POST", id, nil, 405},
		{"DELETE metadata", "10.9.1.10", "DELETE", id, nil, 405},
		{"PUT metadata", "10.9.1.10", "PUT", id, []string{TTLHeader, "60"}, 405},
		{"unknown path", "10.9.1.10", "GET", "/latest/meta-data/nope", nil, 404},
		{"a value with a slash", "10.9.1.10", "GET", id + "/", nil, 404},
		{"under a value", "10.9.1.10", "GET", id + "/x", nil, 404},
		{"an empty segment", "10.9.1.10", "GET", "/latest//meta-data/", nil, 404},
		{"dot segments", "10.9.1.10", "GET", "/latest/meta-data/../user-data", nil, 404},
		{"a long path", "10.9.1.10", "GET", "/latest/meta-data/" + strings.Repeat("a/", 1000), nil, 404},
		{"the token path of a version", "10.9.1.10", "PUT", "/2021-07-15/api/token", []string{TTLHeader, "60"}, 405},
		{"not an instance", "10.9.1.99", "GET", id, nil, 403},
		{"not an instance: PUT", "10.9.1.99", "PUT", TokenPath, []string{TTLHeader, "60"}, 403},
	}
	for _, c := range cases {
		r := w.do("v1", c.src, c.method, c.path, c.hdr...)
		if r.status != c.status {
			t.Errorf("%s: %d %q, want %d", c.name, r.status, r.body, c.status)
			continue
		}
		if c.status != 200 && (c.method != "HEAD" && !strings.Contains(r.body, fmt.Sprintf("<h1>%d - %s</h1>", c.status, http.StatusText(c.status))) ||
			r.header.Get("Server") != "EC2ws") {
			t.Errorf("%s: body %q headers %v", c.name, r.body, r.header)
		}
		if c.status == 405 && r.header.Get("Allow") == "" {
			t.Errorf("%s: no Allow", c.name)
		}
	}
	// Expiry: the token is good for its TTL, then 401, even with IMDSv1 allowed.
	now = now.Add(59 * time.Second)
	if r := w.do("v1", "10.9.1.10", "GET", id, TokenHeader, tok); r.status != 200 || r.header.Get(TTLHeader) != "1" {
		t.Fatalf("at 59 s: %d, ttl %q", r.status, r.header.Get(TTLHeader))
	}
	now = now.Add(time.Second)
	if r := w.do("v1", "10.9.1.10", "GET", id, TokenHeader, tok); r.status != 401 {
		t.Fatalf("expired: %d", r.status)
	}
	if r := w.do("v1", "10.9.1.10", "GET", id); r.status != 200 {
		t.Fatalf("v1 after the token expired: %d", r.status)
	}
}

// The server's bounds: headers beyond MaxHeaderBytes get 431, and the
// server keeps serving.
func TestIMDS1_ServerBoundsHeaders(t *testing.T) {
	w := newWorld(t)
	srv := NewServer(w.h["v1"])
	if srv.MaxHeaderBytes != MaxHeaderBytes || srv.ReadHeaderTimeout == 0 || srv.ReadTimeout == 0 {
		t.Fatalf("%+v", srv)
	}
	ts := httptest.NewUnstartedServer(srv.Handler)
	ts.Config = srv
	ts.Start()
	defer ts.Close()
	req, _ := http.NewRequest("GET", ts.URL+"/latest/meta-data/instance-id", nil)
	req.Header.Set("X-Big", strings.Repeat("x", 64<<10))
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("huge header: %d", resp.StatusCode)
	}
	// From 127.0.0.1, which is no instance: 403, and the server still answers.
	resp, err = ts.Client().Get(ts.URL + "/latest/meta-data/instance-id")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("after: %d", resp.StatusCode)
	}
}

// An unknown metadata_http_tokens is refused by the file's checks; the
// option survives export and load.
func TestIMDS1_MetadataTokensOption(t *testing.T) {
	bad := strings.Replace(testTopo, `"metadata_http_tokens": "required"`, `"metadata_http_tokens": "always"`, 1)
	if _, err := topology.Load([]byte(bad)); err == nil || !strings.Contains(err.Error(), "metadata_http_tokens") {
		t.Fatalf("bad option: %v", err)
	}
	w := newWorld(t)
	b, err := json.Marshal(topology.Export(w.n))
	if err != nil {
		t.Fatal(err)
	}
	n, err := topology.Load(b)
	if err != nil {
		t.Fatal(err)
	}
	if n.InstanceByName["db"].MetadataTokens != "required" || n.InstanceByName["web"].MetadataTokens != "optional" ||
		!strings.Contains(string(b), `"metadata_http_tokens":"required"`) || strings.Count(string(b), "metadata_http_tokens") != 1 {
		t.Fatalf("after export: %s", b)
	}
	// describe-instances says the same (MetadataOptions.HttpTokens).
	out, err := w.svc.CallInput("DescribeInstances", map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(out)
	if strings.Count(string(js), `"HttpTokens":"required"`) != 1 || strings.Count(string(js), `"HttpTokens":"optional"`) != 2 {
		t.Fatalf("describe: %s", js)
	}
}

// BenchmarkIMDS is one GET with a token through the handler, facts read
// from the model and describe-instances as the daemon does.
func BenchmarkIMDS(b *testing.B) {
	w := newWorld(b)
	tok := w.token(b, "v1", "10.9.1.10")
	b.ReportAllocs()
	for b.Loop() {
		if r := w.do("v1", "10.9.1.10", "GET", "/latest/meta-data/local-ipv4", TokenHeader, tok); r.status != 200 {
			b.Fatal(r.status)
		}
	}
}
