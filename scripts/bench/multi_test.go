package main

import (
	"encoding/json"
	"testing"
	"time"
)

func TestParseUpRevision(t *testing.T) {
	out := "network vbmulti is in the store at etcd://10.98.7.1:2379 (revision 42); each machine's agent builds its part:\n  sudo vpcnet agent …\n"
	if r, ok := parseUpRevision(out); !ok || r != 42 {
		t.Errorf("parseUpRevision = %d, %v; want 42, true", r, ok)
	}
	if _, ok := parseUpRevision("topology vbmulti1 is up"); ok {
		t.Error("a single-machine answer gave a revision")
	}
}

func TestBuiltHosts(t *testing.T) {
	// etcdctl get --prefix: key, value, key, value.
	out := `/vpcnet/applied/vbmulti/h1
{"revision":10,"instances":["a","b"],"updated":"2026-12-02T17:00:00Z"}
/vpcnet/applied/vbmulti/h2
{"revision":9,"instances":["c","d"],"updated":"2026-12-02T17:00:00Z"}
/vpcnet/applied/vbmulti/h3
{"revision":11,"instances":["e"],"updated":"2026-12-02T17:00:00Z"}
`
	got, err := builtHosts(out, 10, map[string]int{"h1": 2, "h2": 2, "h3": 2})
	if err != nil {
		t.Fatal(err)
	}
	// h2 runs an older revision; h3 has one instance of two.
	if len(got) != 1 || !got["h1"] {
		t.Errorf("builtHosts = %v, want only h1", got)
	}
	if _, err := builtHosts("/vpcnet/applied/vbmulti/h1\nnot json\n", 1, nil); err == nil {
		t.Error("a value that is not JSON was accepted")
	}
}

func TestFirstRefused(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(i int, done, ok bool) attempt {
		return attempt{start: t0.Add(time.Duration(i) * time.Millisecond), done: done, ok: ok}
	}
	// ok, fail, ok, fail, fail, fail: a run of 3 starts at attempt 3.
	atts := []attempt{at(0, true, true), at(1, true, false), at(2, true, true), at(3, true, false), at(4, true, false), at(5, true, false)}
	if got, ok := firstRefused(atts, 3); !ok || !got.Equal(atts[3].start) {
		t.Errorf("firstRefused = %v, %v; want %v", got, ok, atts[3].start)
	}
	// An attempt still in flight ahead of the run: not decided yet.
	atts[0].done = false
	if _, ok := firstRefused(atts, 3); ok {
		t.Error("decided before an earlier attempt finished")
	}
	if _, ok := firstRefused(atts[3:5], 3); ok {
		t.Error("a run of 2 counted as 3")
	}
}

func TestMultiTopologyJSON(t *testing.T) {
	data, err := multiTopologyJSON(multiTopology, "etcd://10.98.1.1:2379", 100)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Settings struct {
			Store     string `json:"store"`
			Placement struct {
				Zones map[string]string `json:"zones"`
			} `json:"placement"`
		} `json:"settings"`
		VPCs []struct {
			Instances []struct {
				Name, Subnet string
			} `json:"instances"`
		} `json:"vpcs"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	perSubnet := map[string]int{}
	for _, i := range doc.VPCs[0].Instances {
		perSubnet[i.Subnet]++
	}
	if len(doc.VPCs[0].Instances) != multiScaleInstances || perSubnet["a"] != 100 || perSubnet["b"] != 100 || perSubnet["c"] != 100 {
		t.Errorf("instances per subnet %v, %d in all; want 100 in each of a, b, c", perSubnet, len(doc.VPCs[0].Instances))
	}
	if doc.Settings.Store == "" || doc.Settings.Placement.Zones["us-east-1b"] != "h2" {
		t.Errorf("settings %+v: want the store and us-east-1b on h2", doc.Settings)
	}
	single, err := multiTopologyJSON(multiSingle, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	json.Unmarshal(single, &s)
	if _, ok := s["settings"]; ok {
		t.Error("the single-machine topology has settings (store, placement)")
	}
}
