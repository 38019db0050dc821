// Package imds serves EC2's instance metadata service (IMDS-1) as an
// http.Handler: the IMDSv2 token (PUT /latest/api/token), IMDSv1 where the
// instance allows it, and the common paths of /latest/meta-data/,
// /latest/user-data and /latest/dynamic/instance-identity/document.
//
// The handler knows nothing of namespaces: the daemon serves it at
// 169.254.169.254:80 in a VPC's service namespace, where a request's
// RemoteAddr is the instance's private IP, and gives it a Lookup that reads
// the instance's facts from the model at request time, so that answers
// follow its addresses (EIP associated, stop/start).
//
// Requests are bounded: NewServer sets the header size and read timeouts;
// paths, tokens and header values are read without copying more than their
// bounded size (FuzzIMDS).
package imds

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"net/netip"
	"strconv"
	"time"
)

// Instance is what the metadata service says of one instance: the facts of
// the model (and of describe-instances) at the time of the request.
type Instance struct {
	ID            string
	ImageID       string
	Type          string
	AccountID     string
	Region        string
	AZ            string
	ReservationID string
	LaunchIndex   int
	PendingTime   time.Time // its launch (LaunchTime)

	PrivateIP      netip.Addr // eth0's primary private IP
	PublicIP       netip.Addr // its public IP; invalid when it has none
	LocalHostname  string     // eth0's private DNS name (DNS-1)
	PublicHostname string     // its public DNS name; "" when none (DNS-2)
	SecurityGroups []string   // eth0's group names

	UserData    []byte
	HasUserData bool

	// TokensRequired is HttpTokens "required": IMDSv1 (no token) is
	// refused with 401.
	TokensRequired bool

	Interfaces []Interface // in device-number order
}

// Interface is one network interface of an instance
// (network/interfaces/macs/<mac>/).
type Interface struct {
	MAC              string // lower-case, colon-separated
	DeviceNumber     int
	ID               string // eni-…
	OwnerID          string
	LocalHostname    string
	PublicHostname   string       // "" when none
	LocalIPv4s       []netip.Addr // primary first
	Associations     []Association
	SubnetID         string
	SubnetCIDR       netip.Prefix
	VPCID            string
	VPCCIDRs         []netip.Prefix // primary first
	SecurityGroupIDs []string
	SecurityGroups   []string
}

// Association is a public IP of an interface and the private IP it maps to.
type Association struct {
	Public, Private netip.Addr
}

// Lookup returns the facts of the instance whose private IP is src, or
// false when no running instance has it. It is called for every request,
// from the server's goroutines: it takes whatever lock guards the model.
type Lookup func(src netip.Addr) (Instance, bool)

// Token rules (IMDS-1).
const (
	TokenPath      = "/latest/api/token"
	TTLHeader      = "X-Aws-Ec2-Metadata-Token-Ttl-Seconds"
	TokenHeader    = "X-Aws-Ec2-Metadata-Token"
	MinTTL, MaxTTL = 1, 21600 // seconds

	// A token is base64url (no padding) of its expiry (8 bytes, Unix
	// seconds, big endian) and macLen bytes of HMAC-SHA256 over the
	// instance id and the expiry, under the handler's random key: it
	// cannot be forged, and is good only for the instance it was given to.
	macLen   = 24
	tokenRaw = 8 + macLen
)

// tokenLen is the length of every token the handler gives out.
var tokenLen = base64.RawURLEncoding.EncodedLen(tokenRaw)

// Handler is the metadata service. The zero value is not usable: New.
type Handler struct {
	lookup Lookup
	key    [32]byte
	now    func() time.Time // time.Now; tests move it
}

// New returns a metadata service over lookup, with a fresh random token key:
// tokens of another Handler (another daemon, or before a restart) are
// refused.
func New(lookup Lookup) *Handler {
	h := &Handler{lookup: lookup, now: time.Now}
	if _, err := rand.Read(h.key[:]); err != nil {
		panic("imds: no randomness for the token key: " + err.Error())
	}
	return h
}

// Server bounds (the bad-input rules of issue 13): a request's line and
// headers, and how long the server waits for them and for the body.
const (
	MaxHeaderBytes    = 8 << 10
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 10 * time.Second
	WriteTimeout      = 10 * time.Second
	IdleTimeout       = 60 * time.Second
)

// NewServer returns an http.Server for h with the bounds set. Go's server
// answers a request line and headers beyond MaxHeaderBytes (plus its 4 KB
// slack) with 431 and closes the connection.
func NewServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, MaxHeaderBytes: MaxHeaderBytes, ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout: ReadTimeout, WriteTimeout: WriteTimeout, IdleTimeout: IdleTimeout}
}

// ServeHTTP answers one request (IMDS-1):
//  1. the source must be an instance (else 403);
//  2. PUT /latest/api/token gives a token (400 for a bad TTL, 403 when
//     proxied); any other method there is 405;
//  3. other paths take GET (and HEAD): a token, when sent, must be valid
//     (401), and is required when the instance requires IMDSv2 (401);
//  4. the path resolves to a value or a listing (404 otherwise).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Server", "EC2ws")
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		fail(w, http.StatusForbidden)
		return
	}
	inst, ok := h.lookup(ap.Addr().Unmap())
	if !ok {
		fail(w, http.StatusForbidden)
		return
	}
	path := r.URL.Path
	if path == TokenPath {
		if r.Method != http.MethodPut {
			w.Header().Set("Allow", http.MethodPut)
			fail(w, http.StatusMethodNotAllowed)
			return
		}
		h.putToken(w, r, &inst)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		fail(w, http.StatusMethodNotAllowed)
		return
	}
	if vs, sent := r.Header[TokenHeader]; sent {
		left, ok := h.checkToken(vs, inst.ID)
		if !ok {
			fail(w, http.StatusUnauthorized)
			return
		}
		w.Header().Set(TTLHeader, strconv.FormatInt(left, 10))
	} else if inst.TokensRequired {
		fail(w, http.StatusUnauthorized)
		return
	}
	body, ctype, ok := resolve(&inst, path)
	if !ok {
		fail(w, http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// putToken answers PUT /latest/api/token.
func (h *Handler) putToken(w http.ResponseWriter, r *http.Request, inst *Instance) {
	if _, proxied := r.Header["X-Forwarded-For"]; proxied { // AWS refuses tokens through a proxy
		fail(w, http.StatusForbidden)
		return
	}
	ttl, ok := parseTTL(r.Header[TTLHeader])
	if !ok {
		fail(w, http.StatusBadRequest)
		return
	}
	tok := h.token(inst.ID, h.now().Unix()+ttl)
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set(TTLHeader, strconv.FormatInt(ttl, 10))
	w.Header().Set("Content-Length", strconv.Itoa(len(tok)))
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(tok))
}

// parseTTL reads the TTL header: exactly one value, decimal digits only,
// MinTTL–MaxTTL.
func parseTTL(vs []string) (int64, bool) {
	if len(vs) != 1 || len(vs[0]) == 0 || len(vs[0]) > 5 {
		return 0, false
	}
	var n int64
	for _, c := range []byte(vs[0]) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, n >= MinTTL && n <= MaxTTL
}

// token is the token of instance id that expires at exp (Unix seconds).
func (h *Handler) token(id string, exp int64) string {
	var raw [tokenRaw]byte
	binary.BigEndian.PutUint64(raw[:8], uint64(exp))
	copy(raw[8:], h.mac(id, raw[:8]))
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

func (h *Handler) mac(id string, exp []byte) []byte {
	m := hmac.New(sha256.New, h.key[:])
	m.Write([]byte("vpcnet imds token\x00"))
	m.Write([]byte(id))
	m.Write([]byte{0})
	m.Write(exp)
	return m.Sum(nil)[:macLen]
}

// checkToken reports whether vs (the token header's values) is one valid
// token of instance id, and the seconds it has left.
func (h *Handler) checkToken(vs []string, id string) (int64, bool) {
	if len(vs) != 1 || len(vs[0]) != tokenLen {
		return 0, false
	}
	var raw [tokenRaw]byte
	// Strict: the last character's two spare bits must be zero, so that
	// one token has one spelling (a non-strict decoder ignores them).
	if n, err := base64.RawURLEncoding.Strict().Decode(raw[:], []byte(vs[0])); err != nil || n != tokenRaw {
		return 0, false
	}
	if !hmac.Equal(raw[8:], h.mac(id, raw[:8])) {
		return 0, false
	}
	left := int64(binary.BigEndian.Uint64(raw[:8])) - h.now().Unix()
	if left <= 0 || left > MaxTTL {
		return 0, false
	}
	return left, true
}

// fail answers status with AWS's page for it.
func fail(w http.ResponseWriter, status int) {
	title := strconv.Itoa(status) + " - " + http.StatusText(status)
	body := `<?xml version="1.0" encoding="iso-8859-1"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
	"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
 <head>
  <title>` + title + `</title>
 </head>
 <body>
  <h1>` + title + `</h1>
 </body>
</html>
`
	w.Header().Set("Content-Type", "text/html")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write([]byte(body))
}
