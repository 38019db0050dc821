package graph

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"os/exec"
	"strings"
	"time"
)

// ErrNoDot says Graphviz's dot is not on PATH.
var ErrNoDot = errors.New("Graphviz's dot is not installed (Debian: apt-get install graphviz); --format dot needs no Graphviz")

// SVG renders a DOT graph with Graphviz (`dot -Tsvg`), within a minute.
func SVG(ctx context.Context, dot []byte) ([]byte, error) {
	path, err := exec.LookPath("dot")
	if err != nil {
		return nil, ErrNoDot
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "-Tsvg")
	cmd.Stdin = bytes.NewReader(dot)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("dot -Tsvg: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return out.Bytes(), nil
}

// inlineSVG is svg from its <svg element on: the XML declaration and the
// DOCTYPE (which names an external DTD) do not belong in an HTML page.
func inlineSVG(svg []byte) []byte {
	if i := bytes.Index(svg, []byte("<svg")); i >= 0 {
		return svg[i:]
	}
	return svg
}

// legend is the HTML page's key: what each shape and colour means.
var legend = []struct{ style, text string }{
	{"border:2px solid " + colVPC, "VPC (its CIDRs); the VPC's box holds its subnets, route tables and gateways"},
	{"border:1px dashed " + colAZ, "Availability Zone"},
	{"border:2px solid " + colPublic, "public subnet: its route table routes to an internet gateway"},
	{"border:2px solid " + colPrivate, "private subnet"},
	{"border:1.5px solid " + colCompute + ";background:#FDF1E6", "instance; edges to its ENIs (ethN)"},
	{"border:1.5px solid " + colENI, "ENI: private IP → public IP (EIP name)"},
	{"border:1.5px solid " + colRoute + ";background:#F2EBFF", "route table with its routes; an edge per route to its target; dashed from a subnet: the main table"},
	{"border:1.5px solid " + colGateway + ";background:#F2EBFF", "internet gateway, NAT gateway (its EIP), local gateway"},
	{"border:1.5px solid " + colVPC, "peering connection (requester, accepter, state)"},
	{"background:#545B64", "blackhole: routes whose target is gone"},
	{"border:1.5px solid " + colInternet, "internet (and on-premises) hosts"},
	{"border:1.5px dashed " + colSG, "security group (--security-groups)"},
	{"border:2.5px solid " + colDrop, "dropped frames since up (--drops): the count; hover for the reasons"},
}

// HTML writes a self-contained page: the SVG inline, a legend, no
// external assets (no scripts, stylesheets, fonts or images to fetch).
// title is escaped.
func HTML(w io.Writer, title string, svg []byte) error {
	t := html.EscapeString(title)
	var b bytes.Buffer
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	b.WriteString("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	b.WriteString("<title>" + t + "</title>\n")
	b.WriteString("<style>\n" +
		"body{font-family:Helvetica,Arial,sans-serif;margin:1em;color:#16191F}\n" +
		"h1{font-size:1.2em}\n" +
		".map{overflow:auto;border:1px solid #EAEDED;padding:.5em}\n" +
		".map svg{max-width:none;height:auto}\n" +
		"table.legend{border-collapse:collapse;margin-top:1em;font-size:.85em}\n" +
		"table.legend td{padding:.2em .6em}\n" +
		".sw{display:inline-block;width:2.2em;height:1.1em;border-radius:3px;box-sizing:border-box}\n" +
		"</style>\n</head>\n<body>\n")
	b.WriteString("<h1>" + t + "</h1>\n<div class=\"map\">\n")
	b.Write(inlineSVG(svg))
	b.WriteString("\n</div>\n<table class=\"legend\">\n<caption>Legend</caption>\n")
	for _, l := range legend {
		b.WriteString("<tr><td><span class=\"sw\" style=\"" + html.EscapeString(l.style) + "\"></span></td><td>" + html.EscapeString(l.text) + "</td></tr>\n")
	}
	b.WriteString("</table>\n</body>\n</html>\n")
	_, err := w.Write(b.Bytes())
	return err
}
