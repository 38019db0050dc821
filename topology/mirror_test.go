package topology

import (
	"strings"
	"testing"
)

const mirrorBase = `{"name": "m", "region": "us-east-1",
  "vpcs": [{"name": "v", "cidr": "10.0.0.0/16",
    "subnets": [{"name": "a", "cidr": "10.0.1.0/24", "az": "us-east-1a"}],
    "instances": [{"name": "web", "subnet": "a"}, {"name": "mon", "subnet": "a"}]}],
  "traffic_mirroring": TM}`

// The README's example loads, and the export writes it back the same.
func TestTM_FileLoadsAndExports(t *testing.T) {
	tm := `{
  "targets":  [{"name": "t-mon", "network_interface": "mon"}],
  "filters":  [{"name": "f-web", "network_services": ["amazon-dns"],
                "ingress": [{"rule": 100, "action": "accept", "protocol": "tcp", "source": "0.0.0.0/0",
                             "destination": "0.0.0.0/0", "destination_ports": "80"}],
                "egress":  [{"rule": 100, "action": "reject", "source": "0.0.0.0/0", "destination": "10.0.0.0/8"}]}],
  "sessions": [{"name": "s-web", "network_interface": "web", "target": "t-mon", "filter": "f-web",
                "session_number": 1, "packet_length": 128, "vni": 4242}, 
               {"name": "s-2", "network_interface": "web", "target": "t-mon", "filter": "f-web", "session_number": 2}]
}`
	n, err := Load([]byte(strings.Replace(mirrorBase, "TM", tm, 1)))
	if err != nil {
		t.Fatal(err)
	}
	m := n.Mirroring
	if len(m.Targets) != 1 || len(m.Filters) != 1 || len(m.Sessions) != 2 || !m.Filters[0].AmazonDNS ||
		m.Filters[0].Ingress[0].DstFrom != 80 || m.Filters[0].Ingress[0].Protocol != 6 || m.Sessions[0].VNI != 4242 ||
		m.Sessions[1].VNI == 0 || m.Sessions[1].VNI == 4242 || m.Sessions[0].Source != n.InstanceByName["web"].Primary() {
		t.Fatalf("resolved %+v %+v %+v", m.Targets[0], m.Filters[0], m.Sessions)
	}
	again, err := Resolve(Export(n))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := again.Mirroring.Sessions[1], m.Sessions[1]; a.VNI != b.VNI || a.ID != b.ID || again.Mirroring.Filters[0].Ingress[0].ID != m.Filters[0].Ingress[0].ID {
		t.Fatalf("export changed the sessions: %+v %+v", a, b)
	}
}

func TestTM_FileRefusals(t *testing.T) {
	tgt := `"targets": [{"name": "t-mon", "network_interface": "mon"}]`
	flt := `"filters": [{"name": "f"}]`
	sess := func(src string, num int) string {
		return `{"name": "s` + string(rune('a'+num)) + `", "network_interface": "` + src + `", "target": "t-mon", "filter": "f", "session_number": ` + string(rune('0'+num)) + `}`
	}
	for _, c := range []struct{ name, tm, want string }{
		{"source is the target (TM-3)", `{` + tgt + `, ` + flt + `, "sessions": [` + sess("mon", 1) + `]}`, "same network interface"},
		{"four sessions (TM-3)", `{` + tgt + `, ` + flt + `, "sessions": [` + sess("web", 1) + `,` + sess("web", 2) + `,` + sess("web", 3) + `,` + sess("web", 4) + `]}`, "more than 3 sessions"},
		{"same session number (TM-3)", `{` + tgt + `, ` + flt + `, "sessions": [` + sess("web", 1) + `, {"name": "x", "network_interface": "web", "target": "t-mon", "filter": "f", "session_number": 1}]}`, "has number 1"},
		{"rule number twice (TM-2)", `{"filters": [{"name": "f", "ingress": [{"rule": 1, "action": "accept", "source": "0.0.0.0/0", "destination": "0.0.0.0/0"}, {"rule": 1, "action": "reject", "source": "0.0.0.0/0", "destination": "0.0.0.0/0"}]}]}`, "used twice"},
		{"ports on icmp (TM-2)", `{"filters": [{"name": "f", "ingress": [{"rule": 1, "action": "accept", "protocol": "icmp", "source": "0.0.0.0/0", "destination": "0.0.0.0/0", "source_ports": "1"}]}]}`, "TCP (6) and UDP (17)"},
		{"bad action (TM-2)", `{"filters": [{"name": "f", "ingress": [{"rule": 1, "action": "allow", "source": "0.0.0.0/0", "destination": "0.0.0.0/0"}]}]}`, "accept or reject"},
		{"unknown target (TM-3)", `{` + flt + `, "sessions": [{"name": "s", "network_interface": "web", "target": "nope", "filter": "f", "session_number": 1}]}`, `"nope" not found`},
		{"vni too big (TM-4)", `{` + tgt + `, ` + flt + `, "sessions": [{"name": "s", "network_interface": "web", "target": "t-mon", "filter": "f", "session_number": 1, "vni": 16777216}]}`, "vni 16777216"},
		{"unknown field", `{"targets": [{"name": "t", "network_interface": "mon", "colour": "red"}]}`, "colour"},
	} {
		_, err := Load([]byte(strings.Replace(mirrorBase, "TM", c.tm, 1)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
