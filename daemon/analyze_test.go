package daemon

import (
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/vpcnet/vpcnet/ec2/query"
)

// TestOBS3_PathAnalysisThroughTheSocket: Reachability Analyzer's six
// operations answer through the socket's handler with what EC2's model
// allows (ec2/query.Encode); a path is kept until deleted, its analysis
// names the blocking component with an EC2 explanation code, and refused
// requests keep nothing.
func TestOBS3_PathAnalysisThroughTheSocket(t *testing.T) {
	d := offlineDaemon(t)
	ok := func(op string, req typedReq) map[string]any {
		t.Helper()
		code, body := call(t, d, op, req)
		if code != 200 {
			t.Fatalf("%s: %d %s", op, code, body)
		}
		var out map[string]any
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("%s: %v: %s", op, err, body)
		}
		if err := query.Encode(io.Discard, op, "r", out); err != nil {
			t.Fatalf("%s answers what EC2 does not: %v\n%s", op, err, body)
		}
		return out
	}
	refused := func(op string, req typedReq, code string) {
		t.Helper()
		st, body := call(t, d, op, req)
		if st == 200 || !strings.Contains(string(body), code) {
			t.Fatalf("%s %v: %d %s, want %s", op, req, st, body, code)
		}
	}
	paths := func() int {
		p, _ := ok("DescribeNetworkInsightsPaths", typedReq{})["NetworkInsightsPaths"].([]any)
		return len(p)
	}
	path := typedReq{"Source": "web", "Destination": "db", "Protocol": "tcp", "DestinationPort": 3306, "ClientToken": "t"}
	refused("CreateNetworkInsightsPath", typedReq{"Source": "nobody", "Destination": "db", "Protocol": "tcp", "ClientToken": "t"}, "InvalidParameterValue")
	refused("CreateNetworkInsightsPath", typedReq{"Source": "web", "Destination": "db", "Protocol": "icmp", "ClientToken": "t"}, "InvalidParameterValue")
	dry := typedReq{"DryRun": true}
	for k, v := range path {
		dry[k] = v
	}
	refused("CreateNetworkInsightsPath", dry, "DryRunOperation")
	if n := paths(); n != 0 {
		t.Fatalf("refused requests kept %d paths", n)
	}
	p := ok("CreateNetworkInsightsPath", path)["NetworkInsightsPath"].(map[string]any)
	pid, _ := p["NetworkInsightsPathId"].(string)
	if !strings.HasPrefix(pid, "nip-") || p["Protocol"] != "tcp" || p["DestinationPort"] != 3306.0 {
		t.Fatalf("path %v", p)
	}
	// A dry run of an analysis sees the path (the dry run's copy has it).
	refused("StartNetworkInsightsAnalysis", typedReq{"NetworkInsightsPathId": pid, "ClientToken": "t", "DryRun": true}, "DryRunOperation")
	refused("StartNetworkInsightsAnalysis", typedReq{"NetworkInsightsPathId": "nip-0", "ClientToken": "t"}, "InvalidNetworkInsightsPathId.NotFound")

	a := ok("StartNetworkInsightsAnalysis", typedReq{"NetworkInsightsPathId": pid, "ClientToken": "t"})["NetworkInsightsAnalysis"].(map[string]any)
	aid, _ := a["NetworkInsightsAnalysisId"].(string)
	if !strings.HasPrefix(aid, "nia-") || a["NetworkInsightsPathId"] != pid || a["Status"] != "succeeded" || a["StartDate"] == nil {
		t.Fatalf("analysis %v", a)
	}
	// Offline, no instance runs: the source's interface is the blocking
	// component (BAD_STATE), as the forward path's only hop.
	ex, _ := a["Explanations"].([]any)
	fwd, _ := a["ForwardPathComponents"].([]any)
	if a["NetworkPathFound"] != false || len(ex) != 1 || len(fwd) != 1 {
		t.Fatalf("analysis %v", a)
	}
	e := ex[0].(map[string]any)
	eni := fwd[0].(map[string]any)["Component"].(map[string]any)["Id"].(string)
	if e["ExplanationCode"] != "BAD_STATE" || e["Direction"] != "egress" || e["NetworkInterface"].(map[string]any)["Id"] != eni || !strings.HasPrefix(eni, "eni-") {
		t.Fatalf("explanation %v, forward %v", e, fwd)
	}

	got := ok("DescribeNetworkInsightsAnalyses", typedReq{"NetworkInsightsPathId": pid})["NetworkInsightsAnalyses"].([]any)
	if len(got) != 1 || got[0].(map[string]any)["NetworkInsightsAnalysisId"] != aid {
		t.Fatalf("describe analyses %v", got)
	}
	refused("DeleteNetworkInsightsPath", typedReq{"NetworkInsightsPathId": pid}, "DependencyViolation")
	if n := paths(); n != 1 {
		t.Fatalf("refused delete: %d paths", n)
	}
	if r := ok("DeleteNetworkInsightsAnalysis", typedReq{"NetworkInsightsAnalysisId": aid}); r["NetworkInsightsAnalysisId"] != aid {
		t.Fatalf("delete analysis %v", r)
	}
	if r := ok("DeleteNetworkInsightsPath", typedReq{"NetworkInsightsPathId": pid}); r["NetworkInsightsPathId"] != pid {
		t.Fatalf("delete path %v", r)
	}
	if n := paths(); n != 0 {
		t.Fatalf("after delete: %d paths", n)
	}
	refused("DeleteNetworkInsightsAnalysis", typedReq{"NetworkInsightsAnalysisId": aid}, "InvalidNetworkInsightsAnalysisId.NotFound")
}
