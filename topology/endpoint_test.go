package topology

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// TestEC2EndpointSetting: settings.ec2_endpoint is an IP and a port; a bad
// one is a FORMAT error at its JSON path; an address other than loopback is
// accepted with a warning; export keeps only what the file named.
func TestEC2EndpointSetting(t *testing.T) {
	withEndpoint := func(v string) string {
		return edit(t, base, `"region": "us-east-1",`, `"region": "us-east-1", "settings": {"ec2_endpoint": `+v+`},`)
	}
	for _, c := range []struct {
		name, value string
		want        netip.AddrPort // zero: refused
		warn        bool
		msg         string
	}{
		{"loopback v4", `"127.0.0.1:4566"`, netip.MustParseAddrPort("127.0.0.1:4566"), false, ""},
		{"loopback v4 other", `"127.0.0.5:8080"`, netip.MustParseAddrPort("127.0.0.5:8080"), false, ""},
		{"loopback v6", `"[::1]:4567"`, netip.MustParseAddrPort("[::1]:4567"), false, ""},
		{"v4-mapped loopback", `"[::ffff:127.0.0.1]:4566"`, netip.MustParseAddrPort("127.0.0.1:4566"), false, ""},
		{"not loopback, named", `"0.0.0.0:4566"`, netip.MustParseAddrPort("0.0.0.0:4566"), true, ""},
		{"host name", `"localhost:4566"`, netip.AddrPort{}, false, "not an IP address and port"},
		{"no port", `"127.0.0.1"`, netip.AddrPort{}, false, "not an IP address and port"},
		{"port 0", `"127.0.0.1:0"`, netip.AddrPort{}, false, "the port must be 1–65535"},
		{"port too big", `"127.0.0.1:65536"`, netip.AddrPort{}, false, "not an IP address and port"},
		{"url", `"http://127.0.0.1:4566"`, netip.AddrPort{}, false, "not an IP address and port"},
		{"zone", `"[fe80::1%eth0]:4566"`, netip.AddrPort{}, false, "zone"},
		{"empty", `""`, netip.AddrPort{}, false, "not an IP address and port"},
		{"number", `4566`, netip.AddrPort{}, false, "must be a string"},
	} {
		t.Run(c.name, func(t *testing.T) {
			n, err := Load([]byte(withEndpoint(c.value)))
			if !c.want.IsValid() {
				var e *Error
				if !errors.As(err, &e) || e.Path != "settings.ec2_endpoint" || e.Rule != RuleFormat || !strings.Contains(e.Msg, c.msg) {
					t.Fatalf("got %v, want settings.ec2_endpoint … %q (FORMAT)", err, c.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n.Settings.EC2Endpoint != c.want {
				t.Errorf("endpoint %v, want %v", n.Settings.EC2Endpoint, c.want)
			}
			warned := strings.Contains(strings.Join(n.Warnings, "\n"), "settings.ec2_endpoint")
			if warned != c.warn {
				t.Errorf("warned %v, want %v: %q", warned, c.warn, n.Warnings)
			}
			ex := Export(n)
			if ex.Settings.EC2Endpoint == nil || *ex.Settings.EC2Endpoint != c.want.String() {
				t.Errorf("export: %v, want %s", ex.Settings.EC2Endpoint, c.want)
			}
		})
	}
	// Not given: the zero value (the daemon picks a free port), and export
	// does not name the port that happened to be free.
	n := mustLoad(t, base)
	if n.Settings.EC2Endpoint.IsValid() {
		t.Errorf("default endpoint %v, want none", n.Settings.EC2Endpoint)
	}
	if e := Export(n).Settings.EC2Endpoint; e != nil {
		t.Errorf("export names ec2_endpoint %q for a file that did not", *e)
	}
}
