package daemon

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/vpcnet/vpcnet/ec2"
	"github.com/vpcnet/vpcnet/ec2/query"
	"github.com/vpcnet/vpcnet/topology"
)

// The EC2 endpoint (issue 11): each running topology serves EC2's Query
// protocol over HTTP, so that the AWS CLI, boto3 and the SDKs drive it.
// A request goes through these steps, in this order:
//
//  1. method and size: GET or POST, a body of at most MaxRequestBytes;
//  2. signature: AWS Signature Version 4 made with the topology's own
//     credentials (query.Verify), for the topology's region;
//  3. parameters: the form body and the query string, decoded by EC2's
//     model (query.Decode: Action, Version, unknown or malformed
//     parameters);
//  4. the operation: STS GetCallerIdentity here, EC2 operations through
//     Daemon.Call (the daemon's lock, then new forwarding tables);
//  5. the answer: EC2's XML with a fresh requestId (query.Encode), or
//     EC2's error with its HTTP status (query.EncodeErrorFor).
//
// A refusal at any step changes nothing. Any local user can connect to a
// loopback port: the signature is what keeps them out (the unix socket
// stays root's).

// Timeouts of the endpoint's HTTP server: a client that sends its headers
// or body slowly, or does not read its answer, is cut off; an idle
// keep-alive connection is closed. WriteTimeout leaves room for an
// operation that builds namespaces (OpTimeout).
const (
	endpointReadHeaderTimeout = 5 * time.Second
	endpointReadTimeout       = 10 * time.Second
	endpointWriteTimeout      = OpTimeout + 10*time.Second
	endpointIdleTimeout       = 60 * time.Second
	endpointMaxHeaderBytes    = 64 << 10
	// endpointPortsTried is how many ports from topology.DefaultEC2Port
	// up the default address tries before giving up.
	endpointPortsTried = 100
)

// endpoint serves EC2's Query API for one daemon. Its fields are set before
// it serves and never change; the handler may run on many goroutines at
// once (Daemon.Call serialises the operations).
type endpoint struct {
	d       *Daemon
	creds   Credentials
	region  string // the topology's: a signature must be scoped to it
	account string // the topology's AWS account (GetCallerIdentity)
	now     func() time.Time

	ln  net.Listener // nil in tests that serve the handler themselves
	srv *http.Server
	url string // http://127.0.0.1:4566
}

// newEndpoint returns the endpoint of d, accepting requests signed with c.
func newEndpoint(d *Daemon, c Credentials) *endpoint {
	n := d.net
	return &endpoint{d: d, creds: c, region: n.Region, account: n.AccountID(), now: time.Now}
}

// openEndpoint makes the topology's credentials, listens on its endpoint's
// address and writes the credentials and config files. It serves nothing
// yet: serveEndpoint does, once the network is built.
func (d *Daemon) openEndpoint() error {
	c, err := NewCredentials()
	if err != nil {
		return fmt.Errorf("EC2 endpoint: credentials: %w", err)
	}
	ln, err := listenEndpoint(d.net.Settings.EC2Endpoint)
	if err != nil {
		return err
	}
	e := newEndpoint(d, c)
	e.ln = ln
	e.url = endpointURL(ln.Addr())
	if err := writeCredentials(d.net.Name, d.net.Region, e.url, c); err != nil {
		ln.Close()
		return err
	}
	e.srv = &http.Server{
		Handler:           e,
		ReadHeaderTimeout: endpointReadHeaderTimeout,
		ReadTimeout:       endpointReadTimeout,
		WriteTimeout:      endpointWriteTimeout,
		IdleTimeout:       endpointIdleTimeout,
		MaxHeaderBytes:    endpointMaxHeaderBytes,
	}
	d.ep = e
	return nil
}

// serveEndpoint answers requests on the endpoint until closeEndpoint.
func (d *Daemon) serveEndpoint() {
	if e := d.ep; e != nil {
		go func() {
			if err := e.srv.Serve(e.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				fmt.Fprintf(os.Stderr, "EC2 endpoint %s: %v\n", e.url, err)
			}
		}()
	}
}

// closeEndpoint stops the endpoint: its listener and every connection.
// Safe before serveEndpoint and more than once.
func (d *Daemon) closeEndpoint() {
	if e := d.ep; e != nil {
		e.srv.Close()
		e.ln.Close()
	}
}

// EC2Endpoint is the URL of the daemon's EC2 endpoint, or "" if it has none.
func (d *Daemon) EC2Endpoint() string {
	if d.ep == nil {
		return ""
	}
	return d.ep.url
}

// listenEndpoint listens on addr, or, when addr is the zero value (the file
// did not name one), on the first free port from topology.DefaultEC2Port up
// on 127.0.0.1: a port in use (another topology's, LocalStack's) is
// skipped.
func listenEndpoint(addr netip.AddrPort) (net.Listener, error) {
	if addr.IsValid() {
		ln, err := net.Listen("tcp", addr.String())
		if err != nil {
			return nil, fmt.Errorf("settings.ec2_endpoint %s: %w", addr, err)
		}
		return ln, nil
	}
	loopback := netip.AddrFrom4([4]byte{127, 0, 0, 1})
	for port := topology.DefaultEC2Port; port < topology.DefaultEC2Port+endpointPortsTried; port++ {
		ln, err := net.Listen("tcp", netip.AddrPortFrom(loopback, uint16(port)).String())
		if err == nil {
			return ln, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("EC2 endpoint: %w", err)
		}
	}
	return nil, fmt.Errorf("EC2 endpoint: ports %d–%d on %s are all in use: name a free one in settings.ec2_endpoint",
		topology.DefaultEC2Port, topology.DefaultEC2Port+endpointPortsTried-1, loopback)
}

// endpointURL is the URL clients give as --endpoint-url for a listener's
// address.
func endpointURL(a net.Addr) string {
	if ap, err := netip.ParseAddrPort(a.String()); err == nil && ap.Addr().IsUnspecified() {
		// Listening on every address: loopback reaches it from here.
		lo := netip.IPv6Loopback()
		if ap.Addr().Is4() {
			lo = netip.AddrFrom4([4]byte{127, 0, 0, 1})
		}
		return "http://" + netip.AddrPortFrom(lo, ap.Port()).String()
	}
	return "http://" + a.String()
}

// globalSTSRegion is the signing region of STS's global endpoint, which
// some clients use for GetCallerIdentity whatever their region.
const globalSTSRegion = "us-east-1"

// ServeHTTP answers one EC2 (or STS) Query request, in the steps listed at
// the top of this file.
func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := requestID()
	action := ""
	fail := func(code, msg string) {
		w.Header().Set("Content-Type", query.ContentType)
		w.Header().Set("X-Amzn-RequestId", id)
		w.WriteHeader(query.HTTPStatus(code))
		query.EncodeErrorFor(w, action, code, msg, id)
	}
	failErr := func(err error) {
		var qe *query.Error
		var oe *ec2.Error
		switch {
		case errors.As(err, &qe):
			fail(qe.Code, qe.Message)
		case errors.As(err, &oe):
			fail(oe.Code, oe.Message)
		default:
			fail(query.CodeInternalError, err.Error())
		}
	}

	// 1. Method and size.
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET, POST")
		w.Header().Set("Content-Type", query.ContentType)
		w.Header().Set("X-Amzn-RequestId", id)
		w.WriteHeader(http.StatusMethodNotAllowed)
		query.EncodeError(w, "UnsupportedHttpVerb", fmt.Sprintf("The HTTP method %.16q is not allowed: send GET or POST", r.Method), id)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxRequestBytes+1))
	if err != nil {
		// The client went away, or was too slow (ReadTimeout).
		fail(query.CodeMalformedQueryString, "The request body could not be read: "+err.Error())
		return
	}
	if len(body) > MaxRequestBytes {
		fail(query.CodeInvalidParameterValue, fmt.Sprintf("The request body is larger than %d bytes, the most this endpoint accepts", MaxRequestBytes))
		return
	}
	if vs := r.URL.Query()["Action"]; len(vs) == 1 {
		action = vs[0] // for the shape of an authentication error
	} else if f, err := url.ParseQuery(string(body)); err == nil && len(f["Action"]) == 1 {
		action = f["Action"][0]
	}

	// 2. Signature, for this topology's key and region.
	caller, err := query.Verify(r, body, e.lookup, e.now())
	if err != nil {
		failErr(err)
		return
	}
	if caller.Region != e.region && !(caller.Service == "sts" && caller.Region == globalSTSRegion) {
		// What AWS answers a signature scoped to another region.
		fail(query.CodeSignatureDoesNotMatch, fmt.Sprintf("Credential should be scoped to a valid region, not '%s'. This topology's region is %s.", caller.Region, e.region))
		return
	}

	// 3. Parameters: the query string and, for a form, the body.
	form, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		fail(query.CodeMalformedQueryString, "The query string is malformed: "+err.Error())
		return
	}
	if r.Method == http.MethodPost && isFormBody(r) {
		bf, err := url.ParseQuery(string(body))
		if err != nil {
			fail(query.CodeMalformedQueryString, "The request body is not a form: "+err.Error())
			return
		}
		for k, vs := range bf {
			form[k] = append(form[k], vs...)
		}
	}
	action = form.Get("Action")
	if _, inModel := query.ServiceOf(action); inModel && action != "GetCallerIdentity" && !ec2.Exists(action) {
		// An EC2 action vpcnet does not serve here (yet): said before its
		// parameters are judged, which would only mislead.
		fail(query.CodeInvalidAction, fmt.Sprintf("The action %s is not supported by vpcnet's endpoint yet.", action))
		return
	}
	in, err := query.Decode(action, form)
	if err != nil {
		failErr(err)
		return
	}

	// 4. The operation.
	var out any
	if action == "GetCallerIdentity" {
		// The topology's account, as its root user: the key is the
		// account's own.
		out = map[string]any{"UserId": e.account, "Account": e.account, "Arn": "arn:aws:iam::" + e.account + ":root"}
	} else if out, err = e.d.Call(action, in); err != nil {
		failErr(err)
		return
	}
	if !query.HasOutput(action) {
		out = nil // EC2 answers <return>true</return>
	}

	// 5. The answer.
	var b bytes.Buffer
	if err := query.Encode(&b, action, id, out); err != nil {
		// vpcnet's answer does not fit EC2's model: a bug, said as such.
		fmt.Fprintf(os.Stderr, "EC2 endpoint: %s: %v\n", action, err)
		fail(query.CodeInternalError, "vpcnet's answer does not fit EC2's model: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", query.ContentType)
	w.Header().Set("X-Amzn-RequestId", id)
	w.Write(b.Bytes())
}

// lookup is query.Verify's key lookup: the topology has one key.
func (e *endpoint) lookup(accessKeyID string) (string, bool) {
	if subtle.ConstantTimeCompare([]byte(accessKeyID), []byte(e.creds.AccessKeyID)) != 1 {
		return "", false
	}
	return e.creds.SecretAccessKey, true
}

// isFormBody reports whether r's body is form-encoded, as the AWS CLI and
// the SDKs send it (application/x-www-form-urlencoded; charset=utf-8).
func isFormBody(r *http.Request) bool {
	ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	return strings.EqualFold(strings.TrimSpace(ct), "application/x-www-form-urlencoded")
}

// requestID is a fresh request id in EC2's form (a UUID).
func requestID() string {
	var b [16]byte
	rand.Read(b[:])
	return query.RequestID(b)
}
