package test

import (
	"html"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/vpcnet/vpcnet/topology"
)

// svgNode returns the <g class="node"> group of the SVG whose title is id,
// unescaped ("" when there is none).
func svgNode(svg, id string) string {
	for _, g := range strings.Split(svg, `<g id="node`)[1:] {
		// The group ends at the </g> that closes it (a node with a
		// tooltip nests one more <g>).
		depth, i := 1, 0
		for depth > 0 {
			open, close := strings.Index(g[i:], "<g "), strings.Index(g[i:], "</g>")
			if close < 0 {
				break
			}
			if open >= 0 && open < close {
				depth, i = depth+1, i+open+3
			} else {
				depth, i = depth-1, i+close+4
			}
		}
		g = g[:i]
		if m := regexp.MustCompile(`<title>(.*?)</title>`).FindStringSubmatch(g); m != nil && html.UnescapeString(m[1]) == id {
			return html.UnescapeString(g)
		}
	}
	return ""
}

// TestGraph_RunningTopologyWithDrops: `vpcnet graph --format svg --drops`
// draws the running network (a gateway created live is in it, a stopped
// instance is stopped) and, after
// a connection the web group denies, web's ENI in red with the count that
// `vpcnet stats` gives.
func TestGraph_RunningTopologyWithDrops(t *testing.T) {
	RequireRoot(t)
	if _, err := exec.LookPath("dot"); err != nil {
		t.Fatal("Graphviz's dot is missing: scripts/deps.sh installs it (graphviz)")
	}
	src := strings.Replace(string(topology.Default()), `"name": "ch5"`, `"name": "NAME"`, 1)
	tp := Up(t, src)
	n, err := topology.Load([]byte(strings.ReplaceAll(src, "NAME", tp.Name)))
	if err != nil {
		t.Fatal(err)
	}
	web := n.InstanceByName["web"].Primary()
	webPublic := web.PublicIPs[web.PrimaryIP].String()

	graph := func() string {
		t.Helper()
		out, code := vpcnet(t, "graph", "--topology", tp.Name, "--format", "svg", "--drops")
		if code != 0 || !strings.Contains(out, "</svg>") {
			t.Fatalf("graph: exit %d:\n%s", code, out)
		}
		return out
	}
	before := graph()
	if g := svgNode(before, web.ID); g == "" || !strings.Contains(g, webPublic) || strings.Contains(g, "dropped") {
		t.Fatalf("web's ENI before any drop: %q", g)
	}

	// A live change is in the picture: the daemon's export, not the file.
	var igw struct {
		InternetGateway struct{ InternetGatewayId string }
	}
	tp.ec2OK(t, &igw, "create-internet-gateway")
	id := igw.InternetGateway.InternetGatewayId
	if g := svgNode(graph(), id); !strings.Contains(g, "detached") {
		t.Errorf("the gateway created live is not drawn detached: %q", g)
	}

	// The web group allows ICMP from the VPC only: a ping from the internet
	// is dropped at web's ENI.
	if tp.Ping(t, "console", webPublic) {
		t.Fatal("the web group let a ping from the internet in")
	}
	var count uint64
	for _, e := range tp.Stats(t).Endpoints {
		if e.ID == web.ID {
			for _, c := range e.Drops {
				count += c
			}
		}
	}
	if count == 0 {
		t.Fatal("no drop counted at web's ENI")
	}
	after := graph()
	g := svgNode(after, web.ID)
	if !strings.Contains(g, "dropped "+strconv.FormatUint(count, 10)) {
		t.Errorf("web's ENI does not show %d drops: %q", count, g)
	}
	if !strings.Contains(strings.ToLower(g), `stroke="#d13212"`) {
		t.Errorf("web's ENI is not red: %q", g)
	}
	if db := svgNode(after, n.InstanceByName["db"].Primary().ID); db == "" || strings.Contains(db, "dropped") || strings.Contains(strings.ToLower(db), "#d13212") {
		t.Errorf("db's ENI, which dropped nothing, is marked: %q", db)
	}
	// The edge from web to its ENI carries the count too.
	if !regexp.MustCompile(`(?s)<g id="edge\d+" class="edge">\s*<title>` + regexp.QuoteMeta(strings.ReplaceAll(n.InstanceByName["web"].ID, "-", "&#45;")) +
		`&#45;&gt;` + regexp.QuoteMeta(strings.ReplaceAll(web.ID, "-", "&#45;")) + `</title>[^<]*<path fill="none" stroke="#d13212"`).MatchString(strings.ToLower(after)) {
		t.Error("the edge from web to its ENI is not red")
	}

	// What the export leaves out comes from the daemon's status: a stopped
	// instance is drawn stopped (INST-2).
	tp.ec2OK(t, nil, "stop-instances", "--instance-ids", "db")
	if g := svgNode(graph(), n.InstanceByName["db"].ID); !strings.Contains(g, "stopped") {
		t.Errorf("db, stopped, is not drawn stopped: %q", g)
	}
	if g := svgNode(after, n.InstanceByName["db"].ID); g == "" || strings.Contains(g, "stopped") {
		t.Errorf("db, running, was drawn stopped: %q", g)
	}

	// Without --drops, nothing is red.
	out, code := vpcnet(t, "graph", "--topology", tp.Name, "--format", "dot")
	if code != 0 || strings.Contains(out, "dropped") || !strings.HasPrefix(out, `digraph "vpcnet `+tp.Name+`"`) {
		t.Errorf("graph --format dot without --drops: exit %d:\n%s", code, out)
	}
	// --drops with a file: a usage error.
	if out, code := vpcnet(t, "graph", "--drops", "../topology/default.json"); code != 2 || !strings.Contains(out, "--drops") {
		t.Errorf("graph --drops FILE: exit %d: %s", code, out)
	}
}

// TestGraph_FileOffline: a file is drawn before `up`, as the HTML page.
func TestGraph_FileOffline(t *testing.T) {
	RequireRoot(t) // for the binary that TestMain builds
	out, code := vpcnet(t, "graph", "--format", "html", "../topology/default.json")
	if code != 0 || !strings.HasPrefix(out, "<!DOCTYPE html>") || !strings.Contains(out, "<svg") ||
		!strings.Contains(html.UnescapeString(out), "NAT gateway nat-2a") {
		t.Fatalf("graph --format html FILE: exit %d:\n%.2000s", code, out)
	}
}
