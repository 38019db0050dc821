package daemon

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/vpcnet/vpcnet/ec2"
	"github.com/vpcnet/vpcnet/ec2/query"
	"github.com/vpcnet/vpcnet/topology"
)

// testEndpoint serves the EC2 endpoint of an offline daemon (no kernel) on
// an httptest server.
type testEndpoint struct {
	t      testing.TB
	d      *Daemon
	e      *endpoint
	url    string // http://127.0.0.1:port
	client *http.Client
	creds  Credentials
	region string
}

func newTestEndpoint(t testing.TB) *testEndpoint {
	t.Helper()
	d := offlineDaemon(t)
	c, err := NewCredentials()
	if err != nil {
		t.Fatal(err)
	}
	e := newEndpoint(d, c)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &testEndpoint{t: t, d: d, e: e, url: srv.URL, client: srv.Client(), creds: c, region: d.net.Region}
}

// signing is how a request is signed: whose key, for which scope, when.
type signing struct {
	key, secret, service, region string
	at                           time.Time
	unsigned                     bool
}

func (te *testEndpoint) sign() signing {
	return signing{key: te.creds.AccessKeyID, secret: te.creds.SecretAccessKey, service: "ec2", region: te.region, at: time.Now()}
}

// post sends params as a form POST, signed as s says, the way the AWS CLI
// and the SDKs send it.
func (te *testEndpoint) post(s signing, params url.Values) (int, []byte) {
	return te.send(s, http.MethodPost, "", params.Encode())
}

// send sends one request with query string q and body, signed as s says.
func (te *testEndpoint) send(s signing, method, q, body string) (int, []byte) {
	te.t.Helper()
	target := te.url + "/"
	if q != "" {
		target += "?" + q
	}
	r, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		te.t.Fatal(err)
	}
	if body != "" {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	}
	if !s.unsigned {
		h := sha256.Sum256([]byte(body))
		creds := aws.Credentials{AccessKeyID: s.key, SecretAccessKey: s.secret}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(h[:]), s.service, s.region, s.at); err != nil {
			te.t.Fatal(err)
		}
	}
	resp, err := te.client.Do(r)
	if err != nil {
		te.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		te.t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != query.ContentType {
		te.t.Errorf("Content-Type %q, want %q", ct, query.ContentType)
	}
	return resp.StatusCode, b
}

func params(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

// describeVpcsXML is DescribeVpcs' answer as EC2 writes it.
type describeVpcsXML struct {
	XMLName   xml.Name `xml:"http://ec2.amazonaws.com/doc/2016-11-15/ DescribeVpcsResponse"`
	RequestID string   `xml:"requestId"`
	Vpcs      []struct {
		VpcID     string `xml:"vpcId"`
		CidrBlock string `xml:"cidrBlock"`
		OwnerID   string `xml:"ownerId"`
		State     string `xml:"state"`
		Tags      []struct {
			Key   string `xml:"key"`
			Value string `xml:"value"`
		} `xml:"tagSet>item"`
	} `xml:"vpcSet>item"`
}

// errorXML is an EC2 error: <Response><Errors><Error>…<RequestID>.
type errorXML struct {
	XMLName xml.Name `xml:"Response"`
	Errors  []struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Errors>Error"`
	RequestID string `xml:"RequestID"`
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// wantError checks an answer is EC2's error code with HTTP status status.
func wantError(t testing.TB, status int, body []byte, wantStatus int, code, msg string) {
	t.Helper()
	var e errorXML
	if err := xml.Unmarshal(body, &e); err != nil {
		t.Fatalf("error answer does not parse: %v\n%s", err, body)
	}
	if status != wantStatus || len(e.Errors) != 1 || e.Errors[0].Code != code || !strings.Contains(e.Errors[0].Message, msg) {
		t.Fatalf("got %d %s, want %d %s (%q)", status, body, wantStatus, code, msg)
	}
	if !uuidRE.MatchString(e.RequestID) {
		t.Errorf("RequestID %q is not a UUID", e.RequestID)
	}
}

func vpcIDs(n *topology.Network) []string {
	var ids []string
	for _, v := range n.VPCs {
		ids = append(ids, v.ID)
	}
	sort.Strings(ids)
	return ids
}

// TestEndpointDescribeVpcs: a signed DescribeVpcs, POST or GET, answers
// EC2's XML with every VPC of the network, its owner the topology's
// account, and a fresh requestId.
func TestEndpointDescribeVpcs(t *testing.T) {
	te := newTestEndpoint(t)
	seen := map[string]bool{}
	for _, method := range []string{http.MethodPost, http.MethodGet} {
		t.Run(method, func(t *testing.T) {
			p := params("Action", "DescribeVpcs", "Version", "2016-11-15")
			var status int
			var body []byte
			if method == http.MethodPost {
				status, body = te.post(te.sign(), p)
			} else {
				status, body = te.send(te.sign(), http.MethodGet, p.Encode(), "")
			}
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, body)
			}
			var got describeVpcsXML
			if err := xml.Unmarshal(body, &got); err != nil {
				t.Fatalf("answer does not parse: %v\n%s", err, body)
			}
			var ids []string
			for _, v := range got.Vpcs {
				ids = append(ids, v.VpcID)
				if v.OwnerID != te.d.net.AccountID() || v.State != "available" || v.CidrBlock == "" {
					t.Errorf("vpc %+v: want owner %s, state available, a CIDR", v, te.d.net.AccountID())
				}
			}
			sort.Strings(ids)
			if want := vpcIDs(te.d.net); len(want) == 0 || !slices.Equal(ids, want) {
				t.Errorf("vpcs %v, want %v", ids, want)
			}
			if !uuidRE.MatchString(got.RequestID) || seen[got.RequestID] {
				t.Errorf("requestId %q: want a fresh UUID", got.RequestID)
			}
			seen[got.RequestID] = true
		})
	}
}

// TestEndpointRefusals: every bad request gets EC2's error code and HTTP
// status, and changes nothing.
func TestEndpointRefusals(t *testing.T) {
	te := newTestEndpoint(t)
	ok := params("Action", "DescribeVpcs", "Version", "2016-11-15")
	with := func(s signing, f func(*signing)) signing { f(&s); return s }
	notTyped := ""
	for _, a := range query.Actions() {
		if svc, _ := query.ServiceOf(a); svc == "ec2" && !ec2.Exists(a) {
			notTyped = a
			break
		}
	}
	cases := []struct {
		name   string
		s      signing
		method string
		q      string
		body   string
		status int
		code   string
		msg    string
	}{
		{"unsigned", with(te.sign(), func(s *signing) { s.unsigned = true }), "POST", "", ok.Encode(), 400, "MissingParameter", "AWSAccessKeyId"},
		{"wrong secret", with(te.sign(), func(s *signing) { s.secret = strings.Repeat("x", 40) }), "POST", "", ok.Encode(), 403, "SignatureDoesNotMatch", "signature we calculated does not match"},
		{"unknown key", with(te.sign(), func(s *signing) { s.key = "AKIAAAAAAAAAAAAAAAAA" }), "POST", "", ok.Encode(), 401, "AuthFailure", "not able to validate"},
		{"expired", with(te.sign(), func(s *signing) { s.at = time.Now().Add(-16 * time.Minute) }), "POST", "", ok.Encode(), 400, "RequestExpired", "expired"},
		{"from the future", with(te.sign(), func(s *signing) { s.at = time.Now().Add(16 * time.Minute) }), "POST", "", ok.Encode(), 400, "RequestExpired", "expired"},
		{"other region", with(te.sign(), func(s *signing) { s.region = "eu-west-1" }), "POST", "", ok.Encode(), 403, "SignatureDoesNotMatch", "scoped to a valid region, not 'eu-west-1'"},
		{"service sts for an ec2 action", with(te.sign(), func(s *signing) { s.service = "sts" }), "POST", "", ok.Encode(), 403, "SignatureDoesNotMatch", "correct service: 'ec2'"},
		{"unknown action", te.sign(), "POST", "", params("Action", "LaunchRocket", "Version", "2016-11-15").Encode(), 400, "InvalidAction", "LaunchRocket is not valid"},
		{"no action", te.sign(), "POST", "", params("Version", "2016-11-15").Encode(), 400, "MissingAction", ""},
		{"wrong version", te.sign(), "POST", "", params("Action", "DescribeVpcs", "Version", "2014-01-01").Encode(), 400, "NoSuchVersion", "2014-01-01"},
		{"no version", te.sign(), "POST", "", params("Action", "DescribeVpcs").Encode(), 400, "MissingParameter", "Version"},
		{"unknown parameter", te.sign(), "POST", "", params("Action", "DescribeVpcs", "Version", "2016-11-15", "VpcColour", "blue").Encode(), 400, "UnknownParameter", "VpcColour"},
		{"bad list index", te.sign(), "POST", "", params("Action", "DescribeVpcs", "Version", "2016-11-15", "VpcId.0", "vpc-1").Encode(), 400, "UnknownParameter", ""},
		{"parameter twice, query and body", te.sign(), "POST", "Version=2016-11-15", ok.Encode(), 400, "InvalidParameterValue", "Version"},
		{"malformed body", te.sign(), "POST", "", "Action=DescribeVpcs&Version=2016-11-15&VpcId.1=%zz", 400, "MalformedQueryString", ""},
		{"oversized body", te.sign(), "POST", "", ok.Encode() + "&Filter.1.Name=" + strings.Repeat("a", MaxRequestBytes), 400, "InvalidParameterValue", "larger than 65536"},
		{"dry run", te.sign(), "POST", "", params("Action", "DescribeVpcs", "Version", "2016-11-15", "DryRun", "true").Encode(), 412, "DryRunOperation", query.DryRunMessage},
		{"method", te.sign(), "PUT", "", ok.Encode(), 405, "UnsupportedHttpVerb", "PUT"},
	}
	if notTyped != "" {
		cases = append(cases, struct {
			name   string
			s      signing
			method string
			q      string
			body   string
			status int
			code   string
			msg    string
		}{"not typed yet: " + notTyped, te.sign(), "POST", "", params("Action", notTyped, "Version", "2016-11-15").Encode(), 400, "InvalidAction", "not supported by vpcnet's endpoint yet"})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := describeAll(t, te.d)
			status, body := te.send(c.s, c.method, c.q, c.body)
			wantError(t, status, body, c.status, c.code, c.msg)
			if describeAll(t, te.d) != before {
				t.Errorf("refused, but the network changed")
			}
		})
	}
}

// TestEndpointGetCallerIdentity: STS on the same endpoint answers the
// topology's account, in STS's shape; its errors are STS's shape too.
func TestEndpointGetCallerIdentity(t *testing.T) {
	te := newTestEndpoint(t)
	acct := te.d.net.AccountID()
	p := params("Action", "GetCallerIdentity", "Version", "2011-06-15")
	for _, region := range []string{te.region, globalSTSRegion} {
		s := te.sign()
		s.service, s.region = "sts", region
		status, body := te.post(s, p)
		var got struct {
			XMLName xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ GetCallerIdentityResponse"`
			Result  struct {
				UserID  string `xml:"UserId"`
				Account string `xml:"Account"`
				Arn     string `xml:"Arn"`
			} `xml:"GetCallerIdentityResult"`
			RequestID string `xml:"ResponseMetadata>RequestId"`
		}
		if err := xml.Unmarshal(body, &got); status != 200 || err != nil {
			t.Fatalf("region %s: %d %v\n%s", region, status, err, body)
		}
		if r := got.Result; r.Account != acct || r.UserID != acct || r.Arn != "arn:aws:iam::"+acct+":root" || !uuidRE.MatchString(got.RequestID) {
			t.Errorf("region %s: got %+v %s, want account %s", region, r, got.RequestID, acct)
		}
	}
	s := te.sign()
	s.service, s.secret = "sts", strings.Repeat("y", 40)
	status, body := te.post(s, p)
	var e struct {
		XMLName xml.Name `xml:"ErrorResponse"`
		Type    string   `xml:"Error>Type"`
		Code    string   `xml:"Error>Code"`
	}
	if err := xml.Unmarshal(body, &e); err != nil || status != 403 || e.Code != "SignatureDoesNotMatch" || e.Type != "Sender" {
		t.Errorf("wrong secret: %d %v %s", status, err, body)
	}
}

// TestEndpointConcurrent: 50 signed requests at once are all answered,
// each with its own requestId. A mutating operation, once typed, loses no
// update among 50 at once (Daemon.Call serialises them).
func TestEndpointConcurrent(t *testing.T) {
	te := newTestEndpoint(t)
	const n = 50
	var wg sync.WaitGroup
	ids := make([]string, n)
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, body := te.post(te.sign(), params("Action", "DescribeVpcs", "Version", "2016-11-15"))
			var got describeVpcsXML
			if err := xml.Unmarshal(body, &got); status != 200 || err != nil || len(got.Vpcs) != len(te.d.net.VPCs) {
				errs <- fmt.Errorf("request %d: %d %v %.200s", i, status, err, body)
				return
			}
			ids[i] = got.RequestID
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	slices.Sort(ids)
	if len(slices.Compact(ids)) != n {
		t.Errorf("request ids repeat")
	}

	t.Run("AuthorizeSecurityGroupIngress", func(t *testing.T) {
		const op = "AuthorizeSecurityGroupIngress"
		v := te.d.net.VPCs[0]
		g := v.SGs[0]
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				port := fmt.Sprint(20000 + i)
				status, body := te.post(te.sign(), params("Action", op, "Version", "2016-11-15", "GroupId", g.ID,
					"IpPermissions.1.IpProtocol", "tcp", "IpPermissions.1.FromPort", port, "IpPermissions.1.ToPort", port,
					"IpPermissions.1.IpRanges.1.CidrIp", "198.51.100.0/24"))
				if status != 200 {
					t.Errorf("port %s: %d %s", port, status, body)
				}
			}()
		}
		wg.Wait()
		// Every rule once, in the network and in what export writes.
		te.d.mu.Lock()
		exported := topology.Export(te.d.net)
		te.d.mu.Unlock()
		ports := map[string]int{}
		for _, vs := range exported.VPCs {
			for _, gs := range vs.SecurityGroups {
				if vs.Name == v.Name && gs.Name == g.Name {
					for _, r := range gs.Ingress {
						if r.Source == "198.51.100.0/24" {
							ports[string(r.Ports)]++
						}
					}
				}
			}
		}
		for i := range n {
			if p := fmt.Sprint(20000 + i); ports[p] != 1 {
				t.Errorf("rule for port %s exported %d times, want once", p, ports[p])
			}
		}
	})
}

// TestEndpointServes: the endpoint Up opens writes root-only credentials
// and config files that ReadAccess reads back, takes the first free port
// from 4566 (skipping one in use), answers signed requests on it, cuts off
// a client that sends its body too slowly, and stops on closeEndpoint. A
// port the file names that is taken is an error naming the setting.
func TestEndpointServes(t *testing.T) {
	tempRunDir(t)
	d := offlineDaemon(t)
	if _, err := MakeDir(d.net.Name); err != nil {
		t.Fatal(err)
	}
	// Whatever holds the ports from 4566 up (other tests, LocalStack), one
	// more is held here: the endpoint must skip it.
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	first := 0
	for port := topology.DefaultEC2Port; port < topology.DefaultEC2Port+endpointPortsTried-1; port++ {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			held = append(held, l)
			first = port + 1
			break
		}
	}
	if first == 0 {
		t.Skip("no free port from 4566 up")
	}
	if err := d.openEndpoint(); err != nil {
		t.Fatal(err)
	}
	defer d.closeEndpoint()
	ap := netip.MustParseAddrPort(d.ep.ln.Addr().String())
	if !ap.Addr().IsLoopback() || int(ap.Port()) < first {
		t.Errorf("listens on %v: want 127.0.0.1, port %d or above (%d is held)", ap, first, first-1)
	}
	if d.EC2Endpoint() != "http://"+ap.String() {
		t.Errorf("EC2Endpoint %q, want http://%s", d.EC2Endpoint(), ap)
	}
	if s := unsetTimeouts(d.ep.srv); s != "" {
		t.Error(s)
	}
	for _, p := range []string{CredentialsPath(d.net.Name), ConfigPath(d.net.Name)} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want mode 0600", p, fi.Mode(), err)
		}
	}
	acc, err := ReadAccess(d.net.Name)
	if err != nil {
		t.Fatal(err)
	}
	if acc.Credentials != d.ep.creds || acc.Region != d.net.Region || acc.EndpointURL != d.EC2Endpoint() {
		t.Errorf("ReadAccess %+v, want the endpoint's key, region %s, %s", acc, d.net.Region, d.EC2Endpoint())
	}
	if !regexp.MustCompile(`^AKIA[A-Z2-7]{16}$`).MatchString(acc.AccessKeyID) || !regexp.MustCompile(`^[A-Za-z0-9+/]{40}$`).MatchString(acc.SecretAccessKey) {
		t.Errorf("key %q / secret %q: not as AWS's look", acc.AccessKeyID, acc.SecretAccessKey)
	}

	d.ep.srv.ReadTimeout = 300 * time.Millisecond // the slow-client check below, quickly
	d.serveEndpoint()
	te := &testEndpoint{t: t, d: d, e: d.ep, url: d.EC2Endpoint(), client: &http.Client{Timeout: 10 * time.Second}, creds: acc.Credentials, region: acc.Region}
	status, body := te.post(te.sign(), params("Action", "DescribeVpcs", "Version", "2016-11-15"))
	if status != 200 || !strings.Contains(string(body), "<DescribeVpcsResponse") {
		t.Fatalf("DescribeVpcs on %s: %d %s", d.EC2Endpoint(), status, body)
	}

	// A client that sends its body slowly is cut off (ReadTimeout).
	conn, err := net.Dial("tcp", ap.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nAction=", ap)
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err == nil {
		resp.Body.Close()
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("a slow client held its connection %v", took)
	}

	// A port the file names that is taken: an error naming the setting.
	d2 := offlineDaemon(t)
	d2.net.Settings.EC2Endpoint = ap
	if err := d2.openEndpoint(); err == nil || !strings.Contains(err.Error(), "settings.ec2_endpoint "+ap.String()) {
		t.Errorf("taken port: %v", err)
	}

	d.closeEndpoint()
	if c, err := net.DialTimeout("tcp", ap.String(), time.Second); err == nil {
		c.Close()
		t.Errorf("still listening on %s after closeEndpoint", ap)
	}
}

// unsetTimeouts says whether one of the server's timeouts is not set.
func unsetTimeouts(s *http.Server) string {
	if s.ReadHeaderTimeout <= 0 || s.ReadTimeout <= 0 || s.WriteTimeout <= 0 || s.IdleTimeout <= 0 || s.MaxHeaderBytes <= 0 {
		return fmt.Sprintf("server timeouts not all set: header %v read %v write %v idle %v max header %d",
			s.ReadHeaderTimeout, s.ReadTimeout, s.WriteTimeout, s.IdleTimeout, s.MaxHeaderBytes)
	}
	return ""
}

// TestEndpointLatency measures DescribeVpcs through the endpoint: 200
// signed calls, one at a time, over loopback HTTP (go test -v -run
// TestEndpointLatency ./daemon/).
func TestEndpointLatency(t *testing.T) {
	te := newTestEndpoint(t)
	const calls = 200
	lat := make([]time.Duration, 0, calls)
	p := params("Action", "DescribeVpcs", "Version", "2016-11-15")
	for range calls {
		start := time.Now()
		status, body := te.post(te.sign(), p)
		lat = append(lat, time.Since(start))
		if status != 200 {
			t.Fatalf("%d %s", status, body)
		}
	}
	slices.Sort(lat)
	t.Logf("DescribeVpcs through the endpoint, %d signed calls (signing included): p50 %v, p99 %v, max %v",
		calls, lat[calls/2], lat[calls*99/100], lat[calls-1])
}

// FuzzEndpoint: any request, signed with the topology's key or not, gets an
// answer with an EC2 status and well-formed XML carrying a request id:
// EC2's error, STS's error, or an operation's answer. Never a panic.
func FuzzEndpoint(f *testing.F) {
	f.Add(uint8(0), "", "Action=DescribeVpcs&Version=2016-11-15", true)
	f.Add(uint8(1), "Action=DescribeVpcs&Version=2016-11-15&VpcId.1=vpc-1&Filter.1.Name=tag:Name&Filter.1.Value.1=x", "", true)
	f.Add(uint8(0), "", "Action=DescribeVpcs&Version=2016-11-15&DryRun=true&MaxResults=5", true)
	f.Add(uint8(0), "", "Action=GetCallerIdentity&Version=2011-06-15", true)
	f.Add(uint8(0), "Action=DescribeVpcs", "Version=2016-11-15&Filter.0.Name=x", true)
	f.Add(uint8(0), "", "Action=DescribeVpcs&Version=2016-11-15&VpcId.1=%zz", true)
	f.Add(uint8(0), "", "Action=AllocateAddress&Version=2016-11-15", true)
	f.Add(uint8(2), "", "Action=DescribeVpcs&Version=2016-11-15", false)
	f.Add(uint8(0), "X-Amz-Signature=00&X-Amz-Credential=a", "Action=DescribeVpcs", false)
	te := newTestEndpoint(f)
	methods := []string{http.MethodPost, http.MethodGet, http.MethodPut}
	f.Fuzz(func(t *testing.T, m uint8, q, body string, signed bool) {
		method := methods[int(m)%len(methods)]
		r := httptest.NewRequest(method, "http://127.0.0.1:4566/", strings.NewReader(body))
		r.URL.RawQuery = q
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		if signed {
			service := "ec2"
			if strings.Contains(q+body, "GetCallerIdentity") {
				service = "sts"
			}
			h := sha256.Sum256([]byte(body))
			creds := aws.Credentials{AccessKeyID: te.creds.AccessKeyID, SecretAccessKey: te.creds.SecretAccessKey}
			if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(h[:]), service, te.region, time.Now()); err != nil {
				t.Skip(err)
			}
		}
		w := httptest.NewRecorder()
		te.e.ServeHTTP(w, r)
		if w.Code != 200 && w.Code != 400 && w.Code != 401 && w.Code != 403 && w.Code != 405 && w.Code != 412 {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		var doc struct {
			XMLName xml.Name
			IDs     []string `xml:"requestId"`
			ErrID   string   `xml:"RequestID"`
			STSID   string   `xml:"RequestId"`
			MetaID  string   `xml:"ResponseMetadata>RequestId"`
		}
		if err := xml.Unmarshal(w.Body.Bytes(), &doc); err != nil {
			t.Fatalf("answer is not XML: %v\n%s", err, w.Body)
		}
		id := doc.ErrID + doc.STSID + doc.MetaID + strings.Join(doc.IDs, "")
		if !uuidRE.MatchString(id) || id != w.Header().Get("X-Amzn-RequestId") {
			t.Fatalf("request id %q (header %q): %s", id, w.Header().Get("X-Amzn-RequestId"), w.Body)
		}
	})
}

// FuzzParseProfile: any credentials or config file reads without a panic,
// and what writeCredentials writes reads back exactly.
func FuzzParseProfile(f *testing.F) {
	f.Add([]byte("[default]\naws_access_key_id = AKIAABCDEFGHIJKLMNOP\naws_secret_access_key = a/b+c\n"), "AKIAABCDEFGHIJKLMNOP")
	f.Add([]byte("# c\n[other]\nregion = x\n[default]\nregion=eu-west-3\n;x\n[\n="), "AKIA")
	f.Fuzz(func(t *testing.T, b []byte, key string) {
		parseProfile(b)
		if strings.ContainsAny(key, "\r\n") || strings.TrimSpace(key) != key || key == "" {
			return
		}
		tempRunDir(t)
		if _, err := MakeDir("t"); err != nil {
			t.Fatal(err)
		}
		c := Credentials{AccessKeyID: key, SecretAccessKey: "s/" + key}
		if err := writeCredentials("t", "eu-west-3", "http://127.0.0.1:4566", c); err != nil {
			t.Fatal(err)
		}
		a, err := ReadAccess("t")
		if err != nil || a.Credentials != c {
			t.Fatalf("read back %+v %v, want %+v", a, err, c)
		}
	})
}
