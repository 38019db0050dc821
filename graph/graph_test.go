package graph

import (
	"bytes"
	"context"
	"flag"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vpcnet/vpcnet/topology"
)

var update = flag.Bool("update", false, "rewrite testdata/ch5.dot from the embedded network")

func defaultNetwork(t *testing.T) *topology.Network {
	t.Helper()
	n, err := topology.Load(topology.Default())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A DOT statement of this package: a node `"id" [k="v", …]` or an edge
// `"a" -> "b" [k="v", …]`, every id and value a quoted string.
var (
	quoted   = `"(?:[^"\\]|\\.)*"`
	nodeRE   = regexp.MustCompile(`^\s*(` + quoted + `) \[(.*)\]$`)
	edgeRE   = regexp.MustCompile(`^\s*(` + quoted + `) -> (` + quoted + `) \[(.*)\]$`)
	attrRE   = regexp.MustCompile(`(\w+)=(` + quoted + `)`)
	stringRE = regexp.MustCompile(quoted)
)

// unquote reverses Quote.
func unquote(q string) string {
	q = q[1 : len(q)-1]
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		if q[i] == '\\' && i+1 < len(q) {
			i++
			switch q[i] {
			case 'n':
				b.WriteByte('\n')
			default:
				b.WriteByte(q[i])
			}
			continue
		}
		b.WriteByte(q[i])
	}
	return strings.ReplaceAll(b.String(), "&amp;", "&")
}

// nodes parses dot's node statements: id → attributes. A statement this
// parser cannot read fails the test (an escaping mistake breaks it).
func nodes(t *testing.T, dot []byte) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for _, l := range strings.Split(string(dot), "\n") {
		s := strings.TrimSpace(l)
		switch {
		case s == "", s == "}", strings.HasPrefix(s, "digraph "), strings.HasPrefix(s, "subgraph "),
			strings.HasPrefix(s, "graph ["), strings.HasPrefix(s, "node ["), strings.HasPrefix(s, "edge ["):
			continue
		case edgeRE.MatchString(s):
			checkAttrs(t, s, edgeRE.FindStringSubmatch(s)[3])
			continue
		case regexp.MustCompile(`^\w+=` + quoted + `$`).MatchString(s):
			continue // a cluster's attribute
		}
		m := nodeRE.FindStringSubmatch(s)
		if m == nil {
			t.Fatalf("cannot read DOT statement %q", s)
		}
		out[unquote(m[1])] = checkAttrs(t, s, m[2])
	}
	return out
}

// checkAttrs reads `k="v", …` and demands nothing else be there.
func checkAttrs(t *testing.T, stmt, list string) map[string]string {
	t.Helper()
	a := map[string]string{}
	rest := attrRE.ReplaceAllStringFunc(list, func(kv string) string {
		m := attrRE.FindStringSubmatch(kv)
		a[m[1]] = unquote(m[2])
		return ""
	})
	if strings.Trim(rest, ", ") != "" {
		t.Fatalf("stray text %q in the attributes of %q", rest, stmt)
	}
	return a
}

func TestQuote(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"plain", "web", `"web"`},
		{"quote", `a"b`, `"a\"b"`},
		{"backslash", `a\b`, `"a\\b"`},
		{"backslash before quote", `a\"];`, `"a\\\"];"`},
		{"ampersand and entity", "a&amp;<b>", `"a&amp;amp;<b>"`},
		{"newline", "a\nb", `"a\nb"`},
		{"braces and brackets", "{x}[y];", `"{x}[y];"`},
		{"control characters", "a\tb\x00c\rd\x7f", "\"a\uFFFDb\uFFFDc\uFFFDd\uFFFD\""},
		{"invalid UTF-8", "a\xffb", "\"a\uFFFDb\""},
		{"unicode", "서버 → ok", `"서버 → ok"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Quote(c.in); got != c.want {
				t.Errorf("Quote(%q) = %s, want %s", c.in, got, c.want)
			}
			if got := stringRE.FindString(Quote(c.in)); got != Quote(c.in) {
				t.Errorf("Quote(%q) is not one DOT string: it ends at %s", c.in, got)
			}
		})
	}
}

// TestDOT_Deterministic: the same network gives the same bytes, whatever
// the order its resources were created in.
func TestDOT_Deterministic(t *testing.T) {
	a := DOT(defaultNetwork(t), Options{SecurityGroups: true})
	if b := DOT(defaultNetwork(t), Options{SecurityGroups: true}); !bytes.Equal(a, b) {
		t.Fatal("two graphs of the same network differ")
	}
	n := defaultNetwork(t)
	v := n.VPCs[0]
	slices.Reverse(v.Subnets)
	slices.Reverse(v.ENIs)
	slices.Reverse(v.Instances)
	slices.Reverse(v.RouteTables)
	slices.Reverse(v.SGs)
	slices.Reverse(n.Hosts)
	slices.Reverse(n.EIPs)
	if b := DOT(n, Options{SecurityGroups: true}); !bytes.Equal(a, b) {
		t.Fatalf("the graph depends on the order of the resources:\n%s\n----\n%s", a, b)
	}
}

// TestDOT_Golden holds the embedded network's graph; `go test ./graph
// -update` rewrites it after a deliberate change.
func TestDOT_Golden(t *testing.T) {
	got := DOT(defaultNetwork(t), Options{})
	path := filepath.Join("testdata", "ch5.dot")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the graph of the embedded network changed (go test ./graph -update if on purpose):\n%s", got)
	}
}

// resource is one resource of the network a picture must show: a node id
// and what its label must say.
type resource struct {
	what, node string
	label      []string
}

// resources lists every resource of n with its id, name and addresses.
func resources(n *topology.Network) []resource {
	var rs []resource
	for _, h := range n.Hosts {
		rs = append(rs, resource{"host " + h.Name, "host-" + h.IP.String(), []string{h.Name, h.IP.String()}})
	}
	for _, e := range n.EIPs {
		if e.ENI == nil && e.NAT == nil {
			rs = append(rs, resource{"EIP " + e.Name, e.AllocationID, []string{e.Name, e.AllocationID, e.Addr.String()}})
		}
	}
	for _, p := range n.Peerings {
		rs = append(rs, resource{"peering " + p.Name, p.ID, []string{p.Name, p.ID, p.Status}})
	}
	for _, v := range n.VPCs {
		rs = append(rs, resource{"VPC " + v.Name, v.ID, []string{v.Name, v.ID, v.CIDR.String()}})
		if v.IGW != nil {
			rs = append(rs, resource{"IGW " + v.IGW.Name, v.IGW.ID, []string{v.IGW.Name, v.IGW.ID}})
		}
		for _, s := range v.Subnets {
			rs = append(rs, resource{"subnet " + s.Name, s.ID, []string{s.Name, s.ID, s.CIDR.String()}})
		}
		for _, rt := range v.RouteTables {
			r := resource{"route table " + rt.Name, rt.ID, []string{rt.Name, rt.ID}}
			for _, rr := range rt.Routes {
				r.label = append(r.label, rr.Dest.String()+" → "+targetName(rr))
			}
			rs = append(rs, r)
		}
		for _, x := range v.NATs {
			r := resource{"NAT " + x.Name, x.ID, []string{x.Name, x.ID}}
			if x.EIP != nil {
				r.label = append(r.label, x.EIP.Name, x.EIP.Addr.String())
			}
			rs = append(rs, r)
		}
		for _, i := range v.Instances {
			rs = append(rs, resource{"instance " + i.Name, i.ID, []string{i.Name, i.ID}})
		}
		for _, e := range v.ENIs {
			r := resource{"ENI " + e.Name, e.ID, []string{e.Name, e.ID}}
			for _, ip := range e.IPs() {
				r.label = append(r.label, ip.String())
				if pub, ok := e.PublicIPs[ip]; ok {
					r.label = append(r.label, pub.String())
				}
			}
			rs = append(rs, r)
		}
		for _, sg := range v.SGs {
			rs = append(rs, resource{"security group " + sg.Name, sg.ID, []string{sg.Name, sg.ID}})
		}
	}
	return rs
}

// TestDOT_EveryResourceOfTheDefaultNetwork: each resource of the embedded
// network is a node whose label holds its name, id and addresses.
func TestDOT_EveryResourceOfTheDefaultNetwork(t *testing.T) {
	n := defaultNetwork(t)
	got := nodes(t, DOT(n, Options{SecurityGroups: true}))
	rs := resources(n)
	if len(rs) < 15 {
		t.Fatalf("only %d resources in the embedded network: the list is wrong", len(rs))
	}
	for _, r := range rs {
		a, ok := got[r.node]
		if !ok {
			t.Errorf("%s: no node %q", r.what, r.node)
			continue
		}
		for _, want := range r.label {
			if !strings.Contains(a["label"], want) {
				t.Errorf("%s: label %q does not say %q", r.what, a["label"], want)
			}
		}
	}
	// The EIPs are on their ENI and NAT gateway, with their names.
	if !strings.Contains(got[n.InstanceByName["web"].Primary().ID]["label"], "(EIP eip-web)") {
		t.Errorf("web's ENI does not name its EIP: %q", got[n.InstanceByName["web"].Primary().ID]["label"])
	}
	// Security groups only when asked.
	if _, ok := nodes(t, DOT(n, Options{}))[n.VPCs[0].SGs[0].ID]; ok {
		t.Error("security groups drawn without SecurityGroups")
	}
}

// TestDOT_Edges: subnets reach their tables, routes their targets, the
// gateway the internet.
func TestDOT_Edges(t *testing.T) {
	n := defaultNetwork(t)
	dot := string(DOT(n, Options{}))
	v := n.VPCs[0]
	sub := func(name string) *topology.Subnet {
		for _, s := range v.Subnets {
			if s.Name == name {
				return s
			}
		}
		t.Fatalf("no subnet %s", name)
		return nil
	}
	pub, pri := sub("PUB-WEB-2a"), sub("PRI-DB-2a")
	for _, want := range []string{
		Quote(pub.ID) + " -> " + Quote(pub.RouteTable.ID) + " [ltail=",
		Quote(pri.ID) + " -> " + Quote(pri.RouteTable.ID) + " [ltail=",
		Quote(pub.RouteTable.ID) + " -> " + Quote(v.IGW.ID) + ` [label="0.0.0.0/0"`,
		Quote(pri.RouteTable.ID) + " -> " + Quote(v.NATs[0].ID) + ` [label="0.0.0.0/0"`,
		Quote(v.IGW.ID) + ` -> "internet" [lhead="cluster_internet"`,
		Quote(v.NATs[0].ID) + " -> " + Quote(v.NATs[0].ENI.ID),
		Quote(n.InstanceByName["web"].ID) + " -> " + Quote(n.InstanceByName["web"].ENIs[1].ID) + ` [label="eth1"`,
	} {
		if !strings.Contains(dot, want) {
			t.Errorf("no edge %s", want)
		}
	}
}

// TestDOT_RouteTargets: every kind of target gets its edge (RT-3): an
// ENI, a peering (with its state on the edges between the VPCs), a
// blackhole.
func TestDOT_RouteTargets(t *testing.T) {
	n, err := topology.Load([]byte(`{"name": "rt", "region": "us-east-1",
	  "vpcs": [
	    {"name": "a", "cidr": "10.0.0.0/16",
	     "subnets": [{"name": "a1", "cidr": "10.0.1.0/24", "az": "us-east-1a", "route_table": "rta"}],
	     "route_tables": [{"name": "rta", "routes": [
	        {"destination": "10.1.0.0/16", "target": "pcx"},
	        {"destination": "172.16.0.0/12", "target": "appliance"},
	        {"destination": "192.168.0.0/16", "target": "blackhole"}]}],
	     "security_groups": [{"name": "sga"}],
	     "instances": [{"name": "appliance", "subnet": "a1", "security_groups": ["sga"], "source_dest_check": false}]},
	    {"name": "b", "cidr": "10.1.0.0/16",
	     "subnets": [{"name": "b1", "cidr": "10.1.1.0/24", "az": "us-east-1b"}]}],
	  "peerings": [{"name": "pcx", "vpcs": ["a", "b"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	dot := string(DOT(n, Options{}))
	a, b := n.VPCs[0], n.VPCs[1]
	rta := a.RouteTables[0]
	if rta.Name != "rta" {
		rta = a.RouteTables[1]
	}
	p := n.Peerings[0]
	for _, want := range []string{
		Quote(rta.ID) + " -> " + Quote(p.ID) + ` [label="10.1.0.0/16"`,
		Quote(rta.ID) + " -> " + Quote(n.InstanceByName["appliance"].Primary().ID) + ` [label="172.16.0.0/12"`,
		Quote(rta.ID) + " -> " + Quote(a.ID+"_blackhole") + ` [label="192.168.0.0/16 (blackhole)"`,
		Quote(p.ID) + " -> " + Quote(a.ID) + ` [label="requester (active)"`,
		Quote(p.ID) + " -> " + Quote(b.ID) + ` [label="accepter (active)"`,
		// b1 has no table of its own: the main one, dashed.
		Quote(b.Subnets[0].ID) + " -> " + Quote(b.MainRT.ID) + ` [ltail="cluster_` + b.Subnets[0].ID + `", label="main", style="dashed"`,
	} {
		if !strings.Contains(dot, want) {
			t.Errorf("no edge %s in\n%s", want, dot)
		}
	}
	if got := len(regexp.MustCompile(`(?m)^\s*`+regexp.QuoteMeta(Quote(a.ID+"_blackhole"))+` \[`).FindAllString(dot, -1)); got != 1 {
		t.Errorf("the blackhole node is declared %d times", got)
	}
}

// TestDOT_Drops: an ENI and a host with drops are red, with the count and
// the reasons; the others are not.
func TestDOT_Drops(t *testing.T) {
	n := defaultNetwork(t)
	web := n.InstanceByName["web"].Primary()
	db := n.InstanceByName["db"].Primary()
	got := nodes(t, DOT(n, Options{Drops: map[string]Drop{
		web.ID:    {Count: 7, Reasons: map[string]uint64{"sg-ingress": 5, "nacl-ingress": 2}},
		"console": {Count: 2, Reasons: map[string]uint64{"no-route": 2}},
	}}))
	w := got[web.ID]
	if w["color"] != colDrop || !strings.Contains(w["label"], "dropped 7") ||
		w["tooltip"] != "web: dropped 7 since up\nnacl-ingress: 2\nsg-ingress: 5" {
		t.Errorf("web's ENI with drops: %v", w)
	}
	if c := got["host-54.239.30.25"]; c["color"] != colDrop || !strings.Contains(c["label"], "dropped 2") {
		t.Errorf("console with drops: %v", c)
	}
	if d := got[db.ID]; d["color"] == colDrop || strings.Contains(d["label"], "dropped") {
		t.Errorf("db without drops is red: %v", d)
	}
	dot := string(DOT(n, Options{Drops: map[string]Drop{web.ID: {Count: 7}}}))
	if !strings.Contains(dot, Quote(n.InstanceByName["web"].ID)+" -> "+Quote(web.ID)+` [label="eth0\ndropped 7", arrowhead="none", color="`+colCompute+`", color="`+colDrop+`"`) {
		t.Errorf("the edge to web's ENI is not red with the count:\n%s", dot)
	}
}

// hostile is a network whose names and descriptions hold every character
// that DOT, HTML or Graphviz's labels give a meaning to.
const hostile = `{"name": "evil", "region": "us-east-1",
  "vpcs": [{"name": "v\"1 <b>&amp;{x}]; \\", "cidr": "10.0.0.0/16", "internet_gateway": "ig\\w\"",
    "subnets": [{"name": "s<script>alert(1)</script>", "cidr": "10.0.1.0/24", "az": "us-east-1a", "route_table": "rt}{|<f0>"}],
    "route_tables": [{"name": "rt}{|<f0>", "routes": [{"destination": "0.0.0.0/0", "target": "ig\\w\""}]}],
    "security_groups": [{"name": "sg\"]; x=\"1", "description": "line2 \"q\" <b> & {} -->"}],
    "network_interfaces": [{"name": "e--><!--", "subnet": "s<script>alert(1)</script>", "security_groups": ["sg\"]; x=\"1"],
       "description": "\"]; evil=1 <x> &amp; \\ \\n"}]
  }]}`

// TestDOT_HostileNames: every name and description comes back as written
// from the DOT, and Graphviz draws them as written.
func TestDOT_HostileNames(t *testing.T) {
	n, err := topology.Load([]byte(hostile))
	if err != nil {
		t.Fatal(err)
	}
	v := n.VPCs[0]
	// Live descriptions may hold what the file refuses: a newline.
	v.SGs[0].Description = "line1\n" + v.SGs[0].Description
	dot := DOT(n, Options{SecurityGroups: true})
	got := nodes(t, dot) // fails on a statement that the escaping broke
	e := v.ENIs[0]
	for id, want := range map[string][]string{
		v.ID:                       {v.Name},
		v.IGW.ID:                   {v.IGW.Name},
		v.Subnets[0].ID:            {v.Subnets[0].Name},
		v.SGs[0].ID:                {v.SGs[0].Name, v.SGs[0].Description},
		e.ID:                       {e.Name, e.Description},
		v.Subnets[0].RouteTable.ID: {v.Subnets[0].RouteTable.Name},
	} {
		for _, w := range want {
			if !strings.Contains(got[id]["label"], w) {
				t.Errorf("node %s: label %q does not hold %q as written", id, got[id]["label"], w)
			}
		}
	}
	if len(got) < 7 {
		t.Errorf("only %d nodes read back", len(got))
	}

	svg := renderSVG(t, dot)
	if svg == nil {
		return
	}
	text := svgText(svg)
	for _, w := range []string{v.Name, v.IGW.Name, v.Subnets[0].Name, v.SGs[0].Name, "line2 \"q\" <b> & {} -->",
		e.Name, "\"]; evil=1 <x> &amp; \\ \\n", v.Subnets[0].RouteTable.Name} {
		if !strings.Contains(text, w) {
			t.Errorf("the SVG does not show %q; its text:\n%s", w, text)
		}
	}
	for _, bad := range []string{"<script>", "<b>", "<x>", e.Name, "<f0>"} {
		if bytes.Contains(svg, []byte(bad)) {
			t.Errorf("the SVG holds %s unescaped", bad)
		}
	}
	var page bytes.Buffer
	if err := HTML(&page, "evil <script>&", svg); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script", "<b>", "<x>", "<f0>"} {
		if strings.Contains(page.String(), bad) {
			t.Errorf("the HTML page holds %s unescaped", bad)
		}
	}
	if !strings.Contains(page.String(), "<title>evil &lt;script&gt;&amp;</title>") {
		t.Error("the page's title is not escaped")
	}
}

// haveDot says whether Graphviz's dot can run here. Without it the SVG
// tests skip, but only for a user without root: as root (make test) the
// scripts install it (scripts/deps.sh), so its absence fails.
func haveDot(t *testing.T) bool {
	t.Helper()
	if _, err := exec.LookPath("dot"); err == nil {
		return true
	}
	if os.Geteuid() == 0 {
		t.Fatal("Graphviz's dot is missing: scripts/deps.sh installs it (apt-get install graphviz)")
	}
	t.Skip("Graphviz's dot is missing and this is not root: skipping the SVG test (apt-get install graphviz, or make test as root)")
	return false
}

func renderSVG(t *testing.T, dot []byte) []byte {
	t.Helper()
	if !haveDot(t) {
		return nil
	}
	svg, err := SVG(context.Background(), dot)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(bytes.TrimSpace(svg), []byte("<?xml")) || !bytes.Contains(svg, []byte("</svg>")) {
		t.Fatalf("dot's answer is not an SVG:\n%s", svg)
	}
	return svg
}

var textRE = regexp.MustCompile(`(?s)<text[^>]*>(.*?)</text>`)

// svgText is the text the SVG shows, one <text> a line, unescaped.
func svgText(svg []byte) string {
	var lines []string
	for _, m := range textRE.FindAllSubmatch(svg, -1) {
		lines = append(lines, html.UnescapeString(string(m[1])))
	}
	return strings.Join(lines, "\n")
}

// TestSVG_EveryResourceOfTheDefaultNetwork renders the embedded network
// with the real Graphviz and finds every resource's name, id and addresses
// in the picture.
func TestSVG_EveryResourceOfTheDefaultNetwork(t *testing.T) {
	n := defaultNetwork(t)
	svg := renderSVG(t, DOT(n, Options{SecurityGroups: true}))
	if svg == nil {
		return
	}
	text := svgText(svg)
	for _, r := range resources(n) {
		for _, want := range r.label {
			if !strings.Contains(text, want) {
				t.Errorf("%s: the SVG does not show %q", r.what, want)
			}
		}
	}
	for _, want := range []string{"Region ap-northeast-2", "Availability Zone ap-northeast-2a", "Internet"} {
		if !strings.Contains(text, want) {
			t.Errorf("the SVG has no %q", want)
		}
	}
}

// TestHTML_SelfContained: the page embeds the SVG and the legend and
// fetches nothing.
func TestHTML_SelfContained(t *testing.T) {
	n := defaultNetwork(t)
	svg := renderSVG(t, DOT(n, Options{}))
	if svg == nil {
		return
	}
	var b bytes.Buffer
	if err := HTML(&b, "vpcnet topology ch5", svg); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{"<!DOCTYPE html>", "<svg", "</svg>", "Legend", "public subnet", "blackhole", n.VPCs[0].ID} {
		if !strings.Contains(html.UnescapeString(page), want) {
			t.Errorf("the page has no %q", want)
		}
	}
	for _, bad := range []string{"<?xml", "<!DOCTYPE svg", "src=", "href=", "<link", "<script", "url(", "@import"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page holds %q: not self-contained", bad)
		}
	}
}

// TestCommittedPicture: docs/ch5.svg, the README's picture, still shows
// every resource of the embedded network (regenerate it with
// `vpcnet graph --format svg -o docs/ch5.svg topology/default.json`).
func TestCommittedPicture(t *testing.T) {
	svg, err := os.ReadFile(filepath.Join("..", "docs", "ch5.svg"))
	if err != nil {
		t.Fatal(err)
	}
	text := svgText(svg)
	for _, r := range resources(defaultNetwork(t)) {
		if strings.HasPrefix(r.what, "security group ") {
			continue // drawn with --security-groups only
		}
		for _, want := range r.label {
			if !strings.Contains(text, want) {
				t.Errorf("docs/ch5.svg is stale: %s: it does not show %q", r.what, want)
			}
		}
	}
}
