package topology

import (
	"reflect"
	"strings"
	"testing"
)

// FuzzDHCPOptionsSet: any key and values: no panic, and a set accepted
// once is accepted again from what the file writes of it (export → load).
func FuzzDHCPOptionsSet(f *testing.F) {
	for _, s := range [][2]string{{DHCPDomainName, "corp.example"}, {DHCPDomainNameServers, "AmazonProvidedDNS,10.0.0.2"},
		{DHCPNTPServers, "169.254.169.123"}, {DHCPNetBIOSNodeType, "2"}, {"x", ""}, {DHCPDomainName, "a..b"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, key, value string) {
		var o DHCPOptions
		if err := o.Set(key, strings.Split(value, "\x00")); err != nil {
			return
		}
		s := o.Spec()
		var back DHCPOptions
		for _, kv := range [][2]any{{DHCPDomainName, nonEmpty(s.DomainName)}, {DHCPDomainNameServers, s.DomainNameServers},
			{DHCPNTPServers, s.NTPServers}, {DHCPNetBIOSNameServers, s.NetBIOSNameServers}, {DHCPNetBIOSNodeType, nonEmpty(s.NetBIOSNodeType)}} {
			if vs := kv[1].([]string); vs != nil {
				if err := back.Set(kv[0].(string), vs); err != nil {
					t.Fatalf("%s %q accepted, but its export %v is not: %v", key, value, vs, err)
				}
			}
		}
		if !reflect.DeepEqual(o, back) {
			t.Fatalf("%s %q: %+v, after export %+v", key, value, o, back)
		}
	})
}

// TestDNS4_ResolvConfOfTheDefaultSet: us-east-1's default set searches
// ec2.internal; the name server is the VPC's base + 2 (DNS-1, DNS-4).
func TestDNS4_ResolvConfOfTheDefaultSet(t *testing.T) {
	n, err := Load([]byte(`{"name": "r", "region": "us-east-1", "vpcs": [{"name": "v", "cidr": "10.1.0.0/16"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	got := ResolvConf(n.VPCs[0], n)
	if !strings.HasSuffix(got, "search ec2.internal\nnameserver 10.1.0.2\n") {
		t.Fatalf("%q", got)
	}
}
