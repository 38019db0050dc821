package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vpcnet/vpcnet/topology"
)

func loadNet(t *testing.T, s string) *topology.Network {
	t.Helper()
	n, err := topology.Load([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestADDR5_IPRangesPublishesAmazonPoolsOnly: only Amazon pools, each
// prefix under AMAZON and EC2, the region of its border group (a pool of
// ap-northeast-1 in an ap-northeast-2 topology is ap-northeast-1's),
// ipv6_prefixes present and empty; the token and date derive from the
// published prefixes: the same for the same pools (BYOIP changes nothing),
// another one when an Amazon pool changes.
func TestADDR5_IPRangesPublishesAmazonPoolsOnly(t *testing.T) {
	doc := func(pools string) string {
		return `{"name": "ipr", "region": "ap-northeast-2", "address_pools": [` + pools + `]}`
	}
	amazon := `{"name": "amazon", "cidrs": ["13.125.0.0/16"]}, {"name": "tokyo", "cidrs": ["3.112.0.0/16"], "network_border_group": "ap-northeast-1"}`
	r := buildIPRanges(loadNet(t, doc(amazon+`, {"name": "mine", "cidrs": ["198.18.0.0/24"], "kind": "byoip"}`)))
	b, _ := json.Marshal(r)
	want := `"prefixes":[{"ip_prefix":"13.125.0.0/16","region":"ap-northeast-2","service":"AMAZON","network_border_group":"ap-northeast-2"},` +
		`{"ip_prefix":"13.125.0.0/16","region":"ap-northeast-2","service":"EC2","network_border_group":"ap-northeast-2"},` +
		`{"ip_prefix":"3.112.0.0/16","region":"ap-northeast-1","service":"AMAZON","network_border_group":"ap-northeast-1"},` +
		`{"ip_prefix":"3.112.0.0/16","region":"ap-northeast-1","service":"EC2","network_border_group":"ap-northeast-1"}],"ipv6_prefixes":[]`
	if !strings.Contains(string(b), want) {
		t.Fatalf("ip-ranges:\n%s\nwant\n%s", b, want)
	}
	same := buildIPRanges(loadNet(t, doc(amazon)))
	if same.SyncToken != r.SyncToken || same.CreateDate != r.CreateDate {
		t.Fatalf("same Amazon pools, another token: %s %s vs %s %s", same.SyncToken, same.CreateDate, r.SyncToken, r.CreateDate)
	}
	other := buildIPRanges(loadNet(t, doc(`{"name": "amazon", "cidrs": ["13.124.0.0/16"]}`)))
	if other.SyncToken == r.SyncToken || other.CreateDate == r.CreateDate {
		t.Fatal("changed pools, same token")
	}
	if len(r.SyncToken) != 10 || len(r.CreateDate) != len("2006-01-02-15-04-05") {
		t.Fatalf("token %q date %q", r.SyncToken, r.CreateDate)
	}
}

// TestADDR6_WarningPrintedOnce: the summary leaves out the warnings up
// printed when it read the file.
func TestADDR6_WarningPrintedOnce(t *testing.T) {
	got := notPrinted([]string{"a (ADDR-6)", "device gone"}, []string{"a (ADDR-6)"})
	if len(got) != 1 || got[0] != "device gone" {
		t.Fatalf("%q", got)
	}
}

func TestBorderRegion(t *testing.T) {
	for g, want := range map[string]string{"us-west-2-lax-1": "us-west-2", "ap-northeast-2": "ap-northeast-2",
		"us-gov-west-1": "us-gov-west-1", "ap-northeast-2-wl1-cjj-wlz-1": "ap-northeast-2"} {
		if got := topology.BorderRegion(g); got != want {
			t.Errorf("%s: %s, want %s", g, got, want)
		}
	}
}
