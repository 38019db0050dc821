package imds

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// fuzzInstance is a fixed instance: the fuzz target needs no model.
func fuzzInstance() Instance {
	return Instance{ID: "i-0123456789abcdef0", ImageID: "ami-1", Type: "t2.micro", AccountID: "123456789012",
		Region: "ap-northeast-2", AZ: "ap-northeast-2a", PrivateIP: netip.MustParseAddr("10.0.0.5"),
		PublicIP: netip.MustParseAddr("13.125.0.5"), LocalHostname: "ip-10-0-0-5.ap-northeast-2.compute.internal",
		SecurityGroups: []string{"a", "b"}, UserData: []byte("echo"), HasUserData: true,
		Interfaces: []Interface{{MAC: "02:00:00:00:00:01", ID: "eni-1", LocalIPv4s: []netip.Addr{netip.MustParseAddr("10.0.0.5")},
			Associations: []Association{{netip.MustParseAddr("13.125.0.5"), netip.MustParseAddr("10.0.0.5")}},
			VPCCIDRs:     []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16")}}}}
}

// FuzzIMDS sends requests with any method, path, token, TTL and proxy
// header (the parts that read a request): the handler never panics,
// answers only the statuses of IMDS-1, a PUT that is given a token gets
// one that works, a path answers exactly when it resolves, and nothing but
// a token accepted by checkToken reads metadata when tokens are required.
func FuzzIMDS(f *testing.F) {
	f.Add("GET", "/latest/meta-data/instance-id", "", "", false, false)
	f.Add("PUT", "/latest/api/token", "", "60", false, true)
	f.Add("PUT", "/latest/api/token", "", "21600", true, false)
	f.Add("GET", "/latest/meta-data/network/interfaces/macs/02:00:00:00:00:01/", "AAAA", "", false, true)
	f.Add("GET", "//latest//meta-data/", "x", "0", false, false)
	f.Add("HEAD", "/latest/dynamic/instance-identity/document", "", "", false, false)
	inst := fuzzInstance()
	f.Fuzz(func(t *testing.T, method, path, token, ttl string, proxied, required bool) {
		inst.TokensRequired = required
		h := New(func(src netip.Addr) (Instance, bool) { return inst, src == inst.PrivateIP })
		r := &http.Request{Method: method, URL: &url.URL{Path: path}, Header: http.Header{}, RemoteAddr: "10.0.0.5:1234"}
		if token != "" {
			r.Header.Set(TokenHeader, token)
		}
		if ttl != "" {
			r.Header.Set(TTLHeader, ttl)
		}
		if proxied {
			r.Header.Set("X-Forwarded-For", "1.2.3.4")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		switch rec.Code {
		case 200, 400, 401, 403, 404, 405:
		default:
			t.Fatalf("%s %q: status %d", method, path, rec.Code)
		}
		if rec.Body.Len() > 64<<10 {
			t.Fatalf("body of %d bytes", rec.Body.Len())
		}
		n, err := strconv.Atoi(ttl)
		goodTTL := err == nil && n >= MinTTL && n <= MaxTTL && !strings.ContainsAny(ttl, "+-") && ttl != "" && len(ttl) <= 5
		if _, ok := parseTTL([]string{ttl}); ok != goodTTL {
			t.Fatalf("parseTTL(%q) = %v", ttl, ok)
		}
		if method == "PUT" && path == TokenPath {
			if want := map[bool]int{true: 200, false: 400}[goodTTL]; !proxied && rec.Code != want {
				t.Fatalf("PUT ttl %q: %d", ttl, rec.Code)
			}
			if rec.Code == 200 {
				if _, ok := h.checkToken([]string{rec.Body.String()}, inst.ID); !ok {
					t.Fatalf("its own token refused: %q", rec.Body.String())
				}
			}
			return
		}
		_, _, found := resolve(&inst, path)
		_, tokOK := h.checkToken([]string{token}, inst.ID)
		if rec.Code == 200 && (!found || (token != "" || required) && !tokOK) {
			t.Fatalf("%s %q token %q: 200", method, path, token)
		}
		if tokOK {
			t.Fatalf("a fuzzed token %q passed", token)
		}
	})
}
