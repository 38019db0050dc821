package ec2

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
	"time"

	"github.com/vpcnet/vpcnet/ec2/types"
	"github.com/vpcnet/vpcnet/topology"
)

// Flow logs as EC2 operations (OBS-1): a flow log of a VPC, subnet or ENI
// publishes to a CloudWatch Logs log group, which vpcnet keeps as the file
// flow-logs/<group>.log of the topology's state folder (a '/' of the group
// written '_': topology.FlowLogFile). So a real `aws ec2 create-flow-logs
// --log-group-name NAME` (or --log-destination with the group's ARN) works
// as on AWS, and the destination is always a file of vpcnet's own folder:
// the endpoint never writes where a caller names. S3 and Kinesis
// destinations, custom formats and cross-account roles are refused
// (Unsupported). topo.json's own flow_logs file is apart and unchanged.

func init() {
	Define("CreateFlowLogs", Mutating, (*Service).createFlowLogs)
	Define("DescribeFlowLogs", ReadOnly, (*Service).describeFlowLogs)
	Define("DeleteFlowLogs", Mutating, (*Service).deleteFlowLogs)
}

// defaultLogFormat is the version 2 format (OBS-1), as EC2 shows it.
const defaultLogFormat = "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}"

// createFlowLogs makes one flow log per resource. As on EC2, a resource
// that is not found, or that has a flow log of the same traffic type to
// the same group already, is answered in Unsuccessful and the others are
// made; a bad parameter refuses the whole call.
func (d *Service) createFlowLogs(in *types.CreateFlowLogsRequest) (*types.CreateFlowLogsResult, error) {
	if err := unsupported(in, "ResourceIds", "ResourceType", "TrafficType", "LogDestinationType", "LogDestination",
		"LogGroupName", "LogFormat", "TagSpecifications", "MaxAggregationInterval", "DeliverLogsPermissionArn"); err != nil {
		return nil, err
	}
	switch in.ResourceType {
	case types.FlowLogsResourceTypeVPC, types.FlowLogsResourceTypeSubnet, types.FlowLogsResourceTypeNetworkInterface:
	case "":
		return nil, opErr("MissingParameter", "The request must contain the parameter ResourceType")
	default:
		return nil, opErr("Unsupported", "Flow logs of %s are not supported by vpcnet: give VPC, Subnet or NetworkInterface", in.ResourceType)
	}
	if len(in.ResourceIds) == 0 {
		return nil, opErr("MissingParameter", "The request must contain the parameter ResourceIds")
	}
	if len(in.ResourceIds) > 1000 {
		return nil, opErr("InvalidParameterValue", "At most 1000 resource ids may be given")
	}
	switch in.TrafficType {
	case types.TrafficTypeACCEPT, types.TrafficTypeREJECT, types.TrafficTypeALL:
	case "":
		return nil, opErr("MissingParameter", "The request must contain the parameter TrafficType")
	default:
		return nil, opErr("InvalidParameterValue", "Value (%s) for parameter TrafficType is invalid: give ACCEPT, REJECT or ALL", in.TrafficType)
	}
	switch in.LogDestinationType {
	case "", types.LogDestinationTypeCloudWatchLogs:
	default:
		return nil, opErr("Unsupported", "LogDestinationType %s is not supported by vpcnet: flow logs go to a log group (cloud-watch-logs), kept as a file of the state folder", in.LogDestinationType)
	}
	group, err := d.logGroup(in)
	if err != nil {
		return nil, err
	}
	if f := deref(in.LogFormat); f != "" && f != defaultLogFormat {
		return nil, opErr("Unsupported", "vpcnet writes the default format only (OBS-1): %s", defaultLogFormat)
	}
	agg := topology.DefaultMaxAggregationInterval
	if p := in.MaxAggregationInterval; p != nil {
		if *p != 60 && *p != 600 {
			return nil, opErr("InvalidParameterValue", "Invalid value for MaxAggregationInterval: %d. Give 60 or 600", *p)
		}
		agg = int(*p)
	}
	want, err := nameFromTags(in.TagSpecifications, types.ResourceTypeVpcFlowLog)
	if err != nil {
		return nil, err
	}
	if want != "" {
		if err := topology.CheckResourceName(topology.KindFlowLog, want); err != nil {
			return nil, opErr("InvalidParameterValue", "%v", err)
		}
		if d.names()[want] {
			return nil, opErr("InvalidParameterValue", "The name '%s' is already used by another resource", want)
		}
	}
	out := &types.CreateFlowLogsResult{ClientToken: clientToken(in.ClientToken), FlowLogIds: []string{}, Unsuccessful: []types.UnsuccessfulItem{}}
	var made []*topology.VPCFlowLog
	for _, ref := range in.ResourceIds {
		fl := &topology.VPCFlowLog{TrafficType: string(in.TrafficType), LogGroup: group, AggregationSeconds: agg,
			PermissionARN: deref(in.DeliverLogsPermissionArn)}
		if err := d.flowLogResource(in.ResourceType, ref, fl); err != nil {
			out.Unsuccessful = append(out.Unsuccessful, unsuccessful(ref, err))
			continue
		}
		if d.sameFlowLog(append(slices.Clone(d.net.VPCFlowLogs), made...), fl) {
			out.Unsuccessful = append(out.Unsuccessful, unsuccessful(ref, opErr("FlowLogAlreadyExists",
				"Error. There is an existing Flow Log with the same configuration and log destination.")))
			continue
		}
		made = append(made, fl)
	}
	for k, fl := range made {
		name := want
		if k > 0 || want == "" {
			base := "fl"
			if want != "" {
				base = want
			}
			name, _ = d.newName("", base, topology.KindFlowLog) // free, and grows with made
		}
		fl.Name, fl.ID = name, d.net.NewID("fl", name)
		d.net.VPCFlowLogs = append(slices.Clone(d.net.VPCFlowLogs), fl)
		if !d.dryRunning() {
			setCreated(fl.ID, time.Now())
		}
		out.FlowLogIds = append(out.FlowLogIds, fl.ID)
	}
	return out, nil
}

// logGroup is the log group a request names: LogGroupName, or the group of
// LogDestination's ARN (arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*]),
// not both.
func (d *Service) logGroup(in *types.CreateFlowLogsRequest) (string, error) {
	name, dest := deref(in.LogGroupName), deref(in.LogDestination)
	switch {
	case name != "" && dest != "":
		return "", opErr("InvalidParameterCombination", "Give LogGroupName or LogDestination, not both")
	case name == "" && dest == "":
		return "", opErr("MissingParameter", "The request must contain the parameter LogGroupName or LogDestination")
	case dest != "":
		prefix := "arn:aws:logs:" + d.net.Region + ":" + d.net.AccountID() + ":log-group:"
		g, ok := strings.CutPrefix(dest, prefix)
		if !ok {
			return "", opErr("InvalidParameterValue", "LogDestination %q is not a log group of this account and region: give %sNAME", dest, prefix)
		}
		name = strings.TrimSuffix(g, ":*")
	}
	if err := topology.CheckLogGroup(name); err != nil {
		return "", opErr("InvalidParameterValue", "%v", err)
	}
	return name, nil
}

// flowLogResource sets fl's resource: the VPC, subnet or ENI of id ref.
func (d *Service) flowLogResource(rt types.FlowLogsResourceType, ref string, fl *topology.VPCFlowLog) error {
	switch rt {
	case types.FlowLogsResourceTypeVPC:
		for _, v := range d.net.VPCs {
			if v.ID == ref || v.Name == ref {
				fl.VPC = v
				return nil
			}
		}
		return opErr("InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", ref)
	case types.FlowLogsResourceTypeSubnet:
		s, err := d.findSubnet(ref)
		fl.Subnet = s
		return err
	}
	e, err := d.findENI(ref)
	fl.ENI = e
	return err
}

// sameFlowLog reports whether one of logs has fl's resource, traffic type
// and log group (EC2's FlowLogAlreadyExists).
func (d *Service) sameFlowLog(logs []*topology.VPCFlowLog, fl *topology.VPCFlowLog) bool {
	for _, x := range logs {
		if d.net.Live(x) && x.VPC == fl.VPC && x.Subnet == fl.Subnet && x.ENI == fl.ENI &&
			x.TrafficType == fl.TrafficType && x.LogGroup == fl.LogGroup {
			return true
		}
	}
	return false
}

// clientToken is the request's token, or one made up, as EC2 answers one
// for a request that gave none.
func clientToken(given *string) *string {
	if deref(given) != "" {
		return given
	}
	b := make([]byte, 16)
	rand.Read(b)
	return ptr(hex.EncodeToString(b))
}

func unsuccessful(id string, err error) types.UnsuccessfulItem {
	e, _ := err.(*Error)
	if e == nil {
		e = &Error{Code: "InternalError", Message: err.Error()}
	}
	return types.UnsuccessfulItem{ResourceId: ptr(id), Error: &types.UnsuccessfulItemError{Code: ptr(e.Code), Message: ptr(e.Message)}}
}

// flowLogOf is flow log f as EC2 describes it.
func (d *Service) flowLogOf(f *topology.VPCFlowLog) types.FlowLog {
	x := types.FlowLog{CreationTime: created(d.net, f.ID), DeliverLogsStatus: ptr("SUCCESS"), FlowLogId: ptr(f.ID),
		FlowLogStatus: ptr("ACTIVE"), LogGroupName: ptr(f.LogGroup), ResourceId: ptr(f.ResourceID()),
		TrafficType: types.TrafficType(f.TrafficType), LogDestinationType: types.LogDestinationTypeCloudWatchLogs,
		LogDestination: ptr("arn:aws:logs:" + d.net.Region + ":" + d.net.AccountID() + ":log-group:" + f.LogGroup),
		LogFormat:      ptr(defaultLogFormat), MaxAggregationInterval: ptr(int32(f.AggregationSeconds)), Tags: d.tagsOf(f.ID, f.Name),
		// EC2 always answers it: "" when none was given (vpcnet has no IAM).
		DeliverLogsPermissionArn: ptr(f.PermissionARN)}
	return x
}

// flowLogFilters are DescribeFlowLogs' filters.
var flowLogFilters = filters[types.FlowLog]{
	"deliver-log-status":   func(f *types.FlowLog) []string { return one(f.DeliverLogsStatus) },
	"log-destination-type": func(f *types.FlowLog) []string { return []string{string(f.LogDestinationType)} },
	"flow-log-id":          func(f *types.FlowLog) []string { return one(f.FlowLogId) },
	"log-group-name":       func(f *types.FlowLog) []string { return one(f.LogGroupName) },
	"resource-id":          func(f *types.FlowLog) []string { return one(f.ResourceId) },
	"traffic-type":         func(f *types.FlowLog) []string { return []string{string(f.TrafficType)} },
}

// describeFlowLogs lists the live flow logs. As EC2 does, an id that is
// not one of them selects nothing (no error).
func (d *Service) describeFlowLogs(in *types.DescribeFlowLogsRequest) (*types.DescribeFlowLogsResult, error) {
	var all []types.FlowLog
	for _, f := range d.net.LiveFlowLogs() {
		if len(in.FlowLogIds) == 0 || slices.Contains(in.FlowLogIds, f.ID) {
			all = append(all, d.flowLogOf(f))
		}
	}
	sortBy(all, func(f *types.FlowLog) *string { return f.FlowLogId })
	out, err := selectItems(all, in.Filter, flowLogFilters, func(f *types.FlowLog) []types.Tag { return f.Tags })
	if err != nil {
		return nil, err
	}
	out, next, err := page(out, in.MaxResults, in.NextToken, 5, 1000)
	if err != nil {
		return nil, err
	}
	return &types.DescribeFlowLogsResult{FlowLogs: append([]types.FlowLog{}, out...), NextToken: next}, nil
}

// deleteFlowLogs deletes flow logs by id; as on EC2, an id that is not a
// flow log is answered in Unsuccessful (InvalidFlowLogId.NotFound). The
// forwarder writes a deleted flow log's window so far, then closes its file.
func (d *Service) deleteFlowLogs(in *types.DeleteFlowLogsRequest) (*types.DeleteFlowLogsResult, error) {
	if len(in.FlowLogIds) == 0 {
		return nil, opErr("MissingParameter", "The request must contain the parameter FlowLogIds")
	}
	out := &types.DeleteFlowLogsResult{Unsuccessful: []types.UnsuccessfulItem{}} // EC2 answers the list, empty too
	gone := map[*topology.VPCFlowLog]bool{}
	for _, id := range in.FlowLogIds {
		var f *topology.VPCFlowLog
		for _, x := range d.net.LiveFlowLogs() {
			if x.ID == id && !gone[x] {
				f = x
			}
		}
		if f == nil {
			out.Unsuccessful = append(out.Unsuccessful, unsuccessful(id, opErr("InvalidFlowLogId.NotFound",
				"These flow log ids in the input list are not found: [TotalCount: 1] %s", id)))
			continue
		}
		gone[f] = true
	}
	if len(gone) > 0 {
		d.net.VPCFlowLogs = slices.DeleteFunc(slices.Clone(d.net.VPCFlowLogs), func(x *topology.VPCFlowLog) bool { return gone[x] })
	}
	return out, nil
}
