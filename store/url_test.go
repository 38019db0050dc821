package store

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
)

func failDial(context.Context, string) (net.Conn, error) { return nil, errors.New("no route (test)") }

var parseURLCases = []struct {
	name string
	in   string
	want []string // nil: an error containing err
	err  string
}{
	{"one", "etcd://127.0.0.1:2379", []string{"127.0.0.1:2379"}, ""},
	{"three", "etcd://10.0.0.1:2379,10.0.0.2:2379,10.0.0.3:12379", []string{"10.0.0.1:2379", "10.0.0.2:2379", "10.0.0.3:12379"}, ""},
	{"scheme case", "ETCD://[::1]:2379", []string{"[::1]:2379"}, ""},
	{"ipv6 canonical", "etcd://[2001:DB8:0::1]:2379", []string{"[2001:db8::1]:2379"}, ""},
	{"dns", "etcd://Etcd-1.Example.com:2379,localhost:1", []string{"etcd-1.example.com:2379", "localhost:1"}, ""},
	{"empty", "", nil, "empty"},
	{"no scheme", "127.0.0.1:2379", nil, "no scheme"},
	{"http", "http://127.0.0.1:2379", nil, `scheme "http" is not supported`},
	{"etcds", "etcds://127.0.0.1:2379", nil, "not supported"},
	{"no hosts", "etcd://", nil, "endpoint 1 \"\": empty"},
	{"empty endpoint", "etcd://a:1,,b:2", nil, "endpoint 2"},
	{"trailing comma", "etcd://a:1,", nil, "endpoint 2"},
	{"userinfo", "etcd://user:pw@h:1", nil, "user information"},
	{"path", "etcd://h:1/v3", nil, "no path"},
	{"slash", "etcd://h:1/", nil, "no path"},
	{"query", "etcd://h:1?x=1", nil, "no path, query"},
	{"fragment", "etcd://h:1#f", nil, "no path, query or fragment"},
	{"space", "etcd://h :1", nil, "no spaces"},
	{"newline", "etcd://h:1\n", nil, "no spaces"},
	{"nul", "etcd://h\x00:1", nil, "control"},
	{"non-ascii", "etcd://é:1", nil, "non-ASCII"},
	{"no port", "etcd://h", nil, "want host:port"},
	{"empty port", "etcd://h:", nil, "port"},
	{"port 0", "etcd://h:0", nil, "want 1-65535"},
	{"port too big", "etcd://h:65536", nil, "want 1-65535"},
	{"port sign", "etcd://h:+1", nil, "want 1-65535"},
	{"port long", "etcd://h:000002379", nil, "want 1-65535"},
	{"empty host", "etcd://:2379", nil, "host is empty"},
	{"bare ipv6", "etcd://::1:2379", nil, "brackets"},
	{"ipv4 in brackets", "etcd://[127.0.0.1]:1", nil, "IPv6"},
	{"zone", "etcd://[fe80::1%eth0]:1", nil, "without zone"},
	{"unspecified", "etcd://0.0.0.0:1", nil, "not a unicast"},
	{"multicast", "etcd://224.0.0.1:1", nil, "not a unicast"},
	{"broadcast", "etcd://255.255.255.255:1", nil, "not a unicast"},
	{"short ipv4", "etcd://1.2.3:1", nil, "not a valid IPv4"},
	{"ipv4 leading zero", "etcd://127.000.0.1:1", nil, "not a valid IPv4"},
	{"dash label", "etcd://-a.com:1", nil, "may not start or end"},
	{"underscore", "etcd://a_b:1", nil, "not allowed"},
	{"empty label", "etcd://a..b:1", nil, "labels"},
	{"long label", "etcd://" + strings.Repeat("a", 64) + ":1", nil, "labels"},
	{"long name", "etcd://" + strings.Repeat("a.", 127) + "a:1", nil, "over 253"},
	{"duplicate", "etcd://h:1,H:1", nil, "listed twice"},
	{"too many", "etcd://" + strings.Repeat("h:1,", 16) + "h:2", nil, "17 endpoints"},
	{"too long", "etcd://" + strings.Repeat("a", 3000) + ":1", nil, "over the limit of 2048"},
}

func TestParseURL(t *testing.T) {
	for _, c := range parseURLCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseURL(c.in)
			if c.want != nil {
				if err != nil || !slices.Equal(got, c.want) {
					t.Fatalf("ParseURL(%q) = %q, %v; want %q", c.in, got, err, c.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseURL(%q) = %q, want an error containing %q", c.in, got, c.err)
			}
			if !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), "settings.store") {
				t.Fatalf("ParseURL(%q): error %q, want it to name settings.store and contain %q", c.in, err, c.err)
			}
		})
	}
}

func FuzzParseURL(f *testing.F) {
	for _, c := range parseURLCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		eps, err := ParseURL(in)
		if err != nil {
			if eps != nil {
				t.Fatalf("ParseURL(%q): endpoints %q with error %v", in, eps, err)
			}
			if !strings.Contains(err.Error(), "settings.store") || len(err.Error()) > 4*maxURLLen+200 {
				t.Fatalf("ParseURL(%q): error %q", in, err)
			}
			return
		}
		if len(in) > maxURLLen || len(eps) == 0 || len(eps) > maxEndpoints {
			t.Fatalf("ParseURL(%q) = %d endpoints", in, len(eps))
		}
		for _, ep := range eps {
			if strings.ContainsAny(ep, ",/@?# \\%") {
				t.Fatalf("ParseURL(%q): endpoint %q", in, ep)
			}
			if _, _, err := net.SplitHostPort(ep); err != nil {
				t.Fatalf("ParseURL(%q): endpoint %q: %v", in, ep, err)
			}
		}
		// The canonical form parses to itself.
		again, err := ParseURL("etcd://" + strings.Join(eps, ","))
		if err != nil || !slices.Equal(again, eps) {
			t.Fatalf("ParseURL(%q) = %q, which parses back as %q, %v", in, eps, again, err)
		}
	})
}
