package topology

import (
	"encoding/json"
	"strings"
	"testing"
)

const placedTopo = `{
  "name": "pl", "region": "us-east-1",
  "settings": {"store": "etcd://10.0.0.1:2379,10.0.0.2:2379",
               "placement": {"zones": {"us-east-1a": "h1", "us-east-1b": "h2"}, "internet": "h3"}},
  "internet": {"hosts": [{"name": "inet", "ip": "198.51.100.10"}]},
  "vpcs": [{"name": "v", "cidr": "10.0.0.0/16",
    "subnets": [{"name": "a", "cidr": "10.0.1.0/24", "az": "us-east-1a"},
                {"name": "b", "cidr": "10.0.2.0/24", "az": "us-east-1b"},
                {"name": "c", "cidr": "10.0.3.0/24", "az": "us-east-1c"}],
    "instances": [{"name": "a1", "subnet": "a"}, {"name": "b1", "subnet": "b"},
                  {"name": "c1", "subnet": "c"}, {"name": "x", "subnet": "a", "host": "h3"}]}]
}`

// An instance runs on its own host, else its subnet's zone's machine, else
// the default (the first zone's machine); the internet's hosts on
// placement.internet. Export keeps all of it.
func TestPlacementResolvesAndRoundTrips(t *testing.T) {
	n, err := Load([]byte(placedTopo))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a1": "h1", "b1": "h2", "c1": "h1", "x": "h3"}
	for name, m := range want {
		if got := n.HostOf(n.InstanceByName[name]); got != m {
			t.Errorf("%s runs on %q, want %q", name, got, m)
		}
	}
	if n.InternetHost() != "h3" || !n.Distributed() {
		t.Errorf("internet on %q, distributed %v", n.InternetHost(), n.Distributed())
	}
	if got := strings.Join(n.Machines(), ","); got != "h1,h2,h3" {
		t.Errorf("machines %s", got)
	}
	b, err := json.Marshal(Export(n))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(b)
	if err != nil {
		t.Fatalf("export does not load: %v\n%s", err, b)
	}
	for name, h := range want {
		if got := m.HostOf(m.InstanceByName[name]); got != h {
			t.Errorf("after export %s runs on %q, want %q", name, got, h)
		}
	}
	if m.Settings.Store != n.Settings.Store {
		t.Errorf("store %q after export", m.Settings.Store)
	}
}

// Bad placement names where and which rule; a single-machine file may not
// place anything.
func TestPlacementRefusals(t *testing.T) {
	for _, c := range []struct{ edit, want string }{
		{`"etcd://10.0.0.1:2379,10.0.0.2:2379"`, ""},
		{`"http://10.0.0.1:2379"`, "settings.store"},
		{`"etcd://a b"`, "settings.store"},
		{`"us-east-1a": "h1"`, ""},
		{`"us-east-1a": "H_1"`, "settings.placement.zones.us-east-1a"},
		{`"us-east-1b": "h2"`, ""},
		{`"us-east-1b": "h2", "eu-west-1a": "h9"`, "not in region"},
		{`"host": "h3"`, ""},
		{`"host": "../etc"`, "instances[3].host"},
	} {
		src := placedTopo
		switch {
		case strings.HasPrefix(c.edit, `"etcd`) || strings.HasPrefix(c.edit, `"http`):
			src = strings.Replace(src, `"etcd://10.0.0.1:2379,10.0.0.2:2379"`, c.edit, 1)
		case strings.Contains(c.edit, "us-east-1a"):
			src = strings.Replace(src, `"us-east-1a": "h1"`, c.edit, 1)
		case strings.Contains(c.edit, "us-east-1b"):
			src = strings.Replace(src, `"us-east-1b": "h2"`, c.edit, 1)
		default:
			src = strings.Replace(src, `"host": "h3"`, c.edit, 1)
		}
		_, err := Load([]byte(src))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.edit, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want one naming %q", c.edit, err, c.want)
		}
	}
	single := `{"name": "s", "region": "us-east-1", "vpcs": [{"name": "v", "cidr": "10.0.0.0/16",
	  "subnets": [{"name": "a", "cidr": "10.0.1.0/24", "az": "us-east-1a"}],
	  "instances": [{"name": "a1", "subnet": "a", "host": "h1"}]}]}`
	if _, err := Load([]byte(single)); err == nil || !strings.Contains(err.Error(), "needs settings.store") {
		t.Errorf("a host without a store: %v", err)
	}
	noPlacement := `{"name": "s", "region": "us-east-1", "settings": {"store": "etcd://10.0.0.1:2379"}}`
	if _, err := Load([]byte(noPlacement)); err == nil || !strings.Contains(err.Error(), "settings.placement") {
		t.Errorf("a store without placement: %v", err)
	}
}

// Local gateways are wired on one machine only: refused with a store.
func TestPlacementRefusesLocalGateways(t *testing.T) {
	src := strings.Replace(placedTopo, `"internet": {"hosts"`, `"local_gateways": [{"name": "lgw", "outpost_arn": "arn:aws:outposts:us-east-1:111122223333:outpost/op-0123456789abcdef0"}], "internet": {"hosts"`, 1)
	_, err := Load([]byte(src))
	if err == nil || !strings.Contains(err.Error(), "run on one machine only") {
		t.Fatalf("local gateways with a store: %v", err)
	}
}
