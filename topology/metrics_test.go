package topology

import (
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// TestMetricsSetting: settings.metrics is checked as settings.ec2_endpoint
// is (an IP and a port, a FORMAT error at its own path, a warning for an
// address other than loopback); it is off unless named, and export keeps it.
func TestMetricsSetting(t *testing.T) {
	withMetrics := func(v string) string {
		return edit(t, base, `"region": "us-east-1",`, `"region": "us-east-1", "settings": {"metrics": `+v+`},`)
	}
	for _, c := range []struct {
		name, value string
		want        netip.AddrPort // zero: refused
		warn        bool
		msg         string
	}{
		{"loopback v4", `"127.0.0.1:9100"`, netip.MustParseAddrPort("127.0.0.1:9100"), false, ""},
		{"loopback v6", `"[::1]:9101"`, netip.MustParseAddrPort("[::1]:9101"), false, ""},
		{"not loopback, named", `"0.0.0.0:9100"`, netip.MustParseAddrPort("0.0.0.0:9100"), true, ""},
		{"host name", `"localhost:9100"`, netip.AddrPort{}, false, "127.0.0.1:9100"},
		{"port 0", `"127.0.0.1:0"`, netip.AddrPort{}, false, "the port must be 1–65535"},
		{"zone", `"[fe80::1%eth0]:9100"`, netip.AddrPort{}, false, "zone"},
		{"number", `9100`, netip.AddrPort{}, false, "must be a string"},
	} {
		t.Run(c.name, func(t *testing.T) {
			n, err := Load([]byte(withMetrics(c.value)))
			if !c.want.IsValid() {
				var e *Error
				if !errors.As(err, &e) || e.Path != "settings.metrics" || e.Rule != RuleFormat || !strings.Contains(e.Msg, c.msg) {
					t.Fatalf("got %v, want settings.metrics … %q (FORMAT)", err, c.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n.Settings.Metrics != c.want {
				t.Errorf("metrics %v, want %v", n.Settings.Metrics, c.want)
			}
			if n.Settings.EC2Endpoint.IsValid() {
				t.Errorf("settings.metrics set the EC2 endpoint %v", n.Settings.EC2Endpoint)
			}
			w := strings.Join(n.Warnings, "\n")
			warned := strings.Contains(w, "settings.metrics "+c.want.String()+" is not a loopback address")
			if warned != c.warn || strings.Contains(w, "settings.ec2_endpoint") {
				t.Errorf("warned %v, want %v: %q", warned, c.warn, n.Warnings)
			}
			ex := Export(n)
			if ex.Settings.Metrics == nil || *ex.Settings.Metrics != c.want.String() {
				t.Errorf("export: %v, want %s", ex.Settings.Metrics, c.want)
			}
			b, err := json.Marshal(ex)
			if err != nil {
				t.Fatal(err)
			}
			if back := mustLoad(t, string(b)); back.Settings.Metrics != c.want {
				t.Errorf("export → load: %v, want %v", back.Settings.Metrics, c.want)
			}
		})
	}
	// Off by default, and export does not turn it on.
	n := mustLoad(t, base)
	if n.Settings.Metrics.IsValid() {
		t.Errorf("default metrics %v, want none", n.Settings.Metrics)
	}
	if m := Export(n).Settings.Metrics; m != nil {
		t.Errorf("export names metrics %q for a file that did not", *m)
	}
}
