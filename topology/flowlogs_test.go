package topology

import (
	"strings"
	"testing"
)

// OBS-1: vpc_flow_logs name a VPC, subnet, ENI or instance; each field is
// checked with the JSON path and the rule.
func TestOBS1_VPCFlowLogsInTheFile(t *testing.T) {
	base := string(Default())
	with := func(fl string) string {
		return strings.Replace(base, `"name": "ch5",`, `"name": "ch5", "vpc_flow_logs": [`+fl+`],`, 1)
	}
	n, err := Load([]byte(with(`{"name": "fw", "resource": "web", "log_group": "/vpc/web", "traffic_type": "ACCEPT", "max_aggregation_interval": 60},
		{"name": "fv", "resource": "my-NewVPC", "log_group": "all"}, {"name": "fs", "resource": "PRI-DB-2a", "log_group": "db"},
		{"name": "fn", "resource": "nat-2a", "log_group": "nat"}`)))
	if err != nil {
		t.Fatal(err)
	}
	if len(n.VPCFlowLogs) != 4 {
		t.Fatalf("%d flow logs", len(n.VPCFlowLogs))
	}
	fw, fv := n.VPCFlowLogs[0], n.VPCFlowLogs[1]
	if fw.ENI != n.InstanceByName["web"].Primary() || fw.AggregationSeconds != 60 || fw.TrafficType != "ACCEPT" ||
		fv.VPC != n.VPCs[0] || fv.TrafficType != "ALL" || fv.AggregationSeconds != 600 || n.VPCFlowLogs[3].ENI.NAT == nil {
		t.Fatalf("resolved: %+v %+v", fw, fv)
	}
	if !fv.Covers(n.InstanceByName["db"].Primary()) || fw.Covers(n.InstanceByName["db"].Primary()) || !n.VPCFlowLogs[2].Covers(n.InstanceByName["db"].Primary()) {
		t.Fatal("coverage is wrong")
	}
	if got := exportVPCFlowLogs(n); len(got) != 4 || got[0].Resource != "web" || got[3].Resource != "nat-2a" {
		t.Fatalf("export: %+v", got)
	}
	for _, c := range []struct{ fl, want string }{
		{`{"name": "f", "resource": "web", "log_group": "g", "traffic_type": "SOME"}`, "vpc_flow_logs[0].traffic_type"},
		{`{"name": "f", "resource": "web", "log_group": "g", "max_aggregation_interval": 30}`, "vpc_flow_logs[0].max_aggregation_interval"},
		{`{"name": "f", "resource": "nope", "log_group": "g"}`, "vpc_flow_logs[0].resource"},
		{`{"name": "f", "resource": "", "log_group": "g"}`, "vpc_flow_logs[0].resource"},
		{`{"name": "f", "resource": "eip-nat", "log_group": "g"}`, "vpc_flow_logs[0].resource"},
		{`{"name": "f", "resource": "web", "log_group": "a b"}`, "vpc_flow_logs[0].log_group"},
		{`{"name": "f", "resource": "web", "log_group": ""}`, "vpc_flow_logs[0].log_group"},
		{`{"name": "web", "resource": "web", "log_group": "g"}`, "vpc_flow_logs[0].name"},
	} {
		_, err := Load([]byte(with(c.fl)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error at %s", c.fl, err, c.want)
		}
	}
}
