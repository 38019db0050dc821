package ec2

import (
	"regexp"
	"testing"

	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

func flowLogs(t *testing.T, d *Service, req string) []types.FlowLog {
	t.Helper()
	return callOK(t, d, "DescribeFlowLogs", req).(*types.DescribeFlowLogsResult).FlowLogs
}

// OBS-1: create-flow-logs makes one flow log per resource (a VPC, subnet
// or ENI by id), to a log group; describe shows EC2's fields; the export
// keeps them (vpc_flow_logs) and loads again with the same answer; delete
// removes them; a resource not found is answered in Unsuccessful.
func TestOBS1_FlowLogsCreateDescribeDelete(t *testing.T) {
	d := rulesSvc(t, "")
	web := d.net.InstanceByName["web"].Primary()
	vpc := d.net.VPCs[0]
	out := callOK(t, d, "CreateFlowLogs", `{"ResourceType": "NetworkInterface", "ResourceIds": ["`+web.ID+`", "eni-0123456789abcdef0"],
		"TrafficType": "ACCEPT", "LogGroupName": "/vpc/web", "MaxAggregationInterval": 60,
		"TagSpecifications": [{"ResourceType": "vpc-flow-log", "Tags": [{"Key": "Name", "Value": "web-flows"}]}]}`).(*types.CreateFlowLogsResult)
	if len(out.FlowLogIds) != 1 || !regexp.MustCompile(`^fl-[0-9a-f]{17}$`).MatchString(out.FlowLogIds[0]) || len(out.Unsuccessful) != 1 ||
		deref(out.Unsuccessful[0].ResourceId) != "eni-0123456789abcdef0" || deref(out.Unsuccessful[0].Error.Code) != "InvalidNetworkInterfaceID.NotFound" {
		t.Fatalf("create answered %+v", out)
	}
	webLog := out.FlowLogIds[0]
	arn := "arn:aws:logs:ap-northeast-2:" + d.net.AccountID() + ":log-group:all-vpc"
	out = callOK(t, d, "CreateFlowLogs", `{"ResourceType": "VPC", "ResourceIds": ["`+vpc.ID+`"], "TrafficType": "ALL",
		"LogDestinationType": "cloud-watch-logs", "LogDestination": "`+arn+`", "DeliverLogsPermissionArn": "arn:aws:iam::123456789012:role/flows"}`).(*types.CreateFlowLogsResult)
	if len(out.FlowLogIds) != 1 || len(out.Unsuccessful) != 0 {
		t.Fatalf("create answered %+v", out)
	}
	// The same resource, traffic type and group again: FlowLogAlreadyExists,
	// and nothing changes.
	before := accountState(t, d)
	again := callOK(t, d, "CreateFlowLogs", `{"ResourceType": "VPC", "ResourceIds": ["`+vpc.ID+`"], "TrafficType": "ALL", "LogGroupName": "all-vpc"}`).(*types.CreateFlowLogsResult)
	if len(again.FlowLogIds) != 0 || len(again.Unsuccessful) != 1 || deref(again.Unsuccessful[0].Error.Code) != "FlowLogAlreadyExists" {
		t.Fatalf("duplicate answered %+v", again)
	}
	if after := accountState(t, d); after != before {
		t.Fatalf("the refused duplicate changed %s", firstDifference(before, after))
	}
	all := flowLogs(t, d, `{}`)
	if len(all) != 2 {
		t.Fatalf("describe: %+v", all)
	}
	w := flowLogs(t, d, `{"FlowLogIds": ["`+webLog+`"]}`)
	if len(w) != 1 || deref(w[0].ResourceId) != web.ID || w[0].TrafficType != types.TrafficTypeACCEPT || deref(w[0].LogGroupName) != "/vpc/web" ||
		deref(w[0].MaxAggregationInterval) != 60 || w[0].LogDestinationType != types.LogDestinationTypeCloudWatchLogs ||
		deref(w[0].FlowLogStatus) != "ACTIVE" || deref(w[0].DeliverLogsStatus) != "SUCCESS" || deref(w[0].LogFormat) != defaultLogFormat ||
		natNameTag(w[0].Tags) != "web-flows" || w[0].CreationTime == nil {
		t.Fatalf("web's flow log: %+v", w)
	}
	v := flowLogs(t, d, `{"Filter": [{"Name": "resource-id", "Values": ["`+vpc.ID+`"]}]}`)
	if len(v) != 1 || deref(v[0].LogDestination) != arn || deref(v[0].MaxAggregationInterval) != 600 ||
		deref(v[0].DeliverLogsPermissionArn) != "arn:aws:iam::123456789012:role/flows" {
		t.Fatalf("the VPC's flow log: %+v", v)
	}
	if got := flowLogs(t, d, `{"FlowLogIds": ["fl-0123456789abcdef0"]}`); len(got) != 0 {
		t.Fatalf("an unknown id selects %+v", got)
	}
	// The export keeps them and loads again with the same answer.
	n, err := topology.Load([]byte(exported(t, d)))
	if err != nil {
		t.Fatalf("export does not load: %v", err)
	}
	if len(n.VPCFlowLogs) != 2 || n.VPCFlowLogs[0].ID != webLog || n.VPCFlowLogs[0].ENI.ID != web.ID || n.VPCFlowLogs[1].VPC.ID != vpc.ID {
		t.Fatalf("loaded flow logs: %+v", n.VPCFlowLogs)
	}
	if got := flowLogs(t, New(rulesStore{n}, nopKernel{}), `{}`); len(got) != 2 || deref(got[1].LogGroupName) != deref(all[1].LogGroupName) {
		t.Fatalf("after export and load: %+v", got)
	}

	del := callOK(t, d, "DeleteFlowLogs", `{"FlowLogIds": ["`+webLog+`", "fl-0123456789abcdef0"]}`).(*types.DeleteFlowLogsResult)
	if len(del.Unsuccessful) != 1 || deref(del.Unsuccessful[0].Error.Code) != "InvalidFlowLogId.NotFound" {
		t.Fatalf("delete answered %+v", del)
	}
	if got := flowLogs(t, d, `{}`); len(got) != 1 || deref(got[0].ResourceId) != vpc.ID {
		t.Fatalf("after delete: %+v", got)
	}
}

// OBS-1: a flow log of an ENI that is deleted goes with it (describe and
// export leave it out).
func TestOBS1_FlowLogGoesWithItsResource(t *testing.T) {
	d := rulesSvc(t, "")
	callOK(t, d, "CreateFlowLogs", `{"ResourceType": "NetworkInterface", "ResourceIds": ["eni-extra"], "TrafficType": "ALL", "LogGroupName": "x"}`)
	callOK(t, d, "DetachNetworkInterface", `{"AttachmentId": "`+attachmentID(d.net, d.net.VPCs[0].ENIs[1])+`"}`)
	e, _ := d.findENI("eni-extra")
	callOK(t, d, "DeleteNetworkInterface", `{"NetworkInterfaceId": "`+e.ID+`"}`)
	if got := flowLogs(t, d, `{}`); len(got) != 0 {
		t.Fatalf("the deleted ENI's flow log: %+v", got)
	}
	if n, err := topology.Load([]byte(exported(t, d))); err != nil || len(n.VPCFlowLogs) != 0 {
		t.Fatalf("export: %v, %d flow logs", err, len(n.VPCFlowLogs))
	}
}

// Every refusal of create-flow-logs and delete-flow-logs: EC2's code,
// nothing changed.
func TestOBS1_FlowLogRefusals(t *testing.T) {
	d := rulesSvc(t, "")
	vpc := d.net.VPCs[0].ID
	ok := `"ResourceType": "VPC", "ResourceIds": ["` + vpc + `"], "TrafficType": "ALL"`
	for _, c := range []struct{ op, req, code string }{
		{"CreateFlowLogs", `{"ResourceIds": ["` + vpc + `"], "TrafficType": "ALL", "LogGroupName": "g"}`, "MissingParameter"},
		{"CreateFlowLogs", `{"ResourceType": "TransitGateway", "ResourceIds": ["tgw-1"], "LogGroupName": "g"}`, "Unsupported"},
		{"CreateFlowLogs", `{"ResourceType": "VPC", "ResourceIds": [], "TrafficType": "ALL", "LogGroupName": "g"}`, "MissingParameter"},
		{"CreateFlowLogs", `{"ResourceType": "VPC", "ResourceIds": ["` + vpc + `"], "LogGroupName": "g"}`, "MissingParameter"},
		{"CreateFlowLogs", `{"ResourceType": "VPC", "ResourceIds": ["` + vpc + `"], "TrafficType": "SOME", "LogGroupName": "g"}`, "InvalidParameterValue"},
		{"CreateFlowLogs", `{` + ok + `}`, "MissingParameter"},
		{"CreateFlowLogs", `{` + ok + `, "LogGroupName": "g", "LogDestination": "arn:aws:logs:ap-northeast-2:1:log-group:g"}`, "InvalidParameterCombination"},
		{"CreateFlowLogs", `{` + ok + `, "LogDestination": "arn:aws:logs:us-east-1:1:log-group:g"}`, "InvalidParameterValue"},
		{"CreateFlowLogs", `{` + ok + `, "LogDestinationType": "s3", "LogDestination": "arn:aws:s3:::bucket"}`, "Unsupported"},
		{"CreateFlowLogs", `{` + ok + `, "LogGroupName": "../../etc/passwd x"}`, "InvalidParameterValue"},
		{"CreateFlowLogs", `{` + ok + `, "LogGroupName": "g", "LogFormat": "${srcaddr}"}`, "Unsupported"},
		{"CreateFlowLogs", `{` + ok + `, "LogGroupName": "g", "MaxAggregationInterval": 30}`, "InvalidParameterValue"},
		{"CreateFlowLogs", `{` + ok + `, "LogGroupName": "g", "DeliverCrossAccountRole": "arn:aws:iam::1:role/x"}`, "Unsupported"},
		{"CreateFlowLogs", `{` + ok + `, "LogGroupName": "g", "TagSpecifications": [{"ResourceType": "vpc-flow-log", "Tags": [{"Key": "Name", "Value": "web"}]}]}`, "InvalidParameterValue"},
		{"DeleteFlowLogs", `{"FlowLogIds": []}`, "MissingParameter"},
	} {
		refused(t, d, c.op, c.req, c.code)
	}
}

// FlowLogFile never leaves the flow-logs folder: a group's '/' is '_'.
func TestOBS1_LogGroupFile(t *testing.T) {
	for group, want := range map[string]string{"web": "web.log", "/vpc/web": "_vpc_web.log", "..": "...log", "a/../b": "a_.._b.log"} {
		if got := topology.FlowLogFile(group); got != want {
			t.Errorf("FlowLogFile(%q) = %q, want %q", group, got, want)
		}
	}
}
