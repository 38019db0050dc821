package topology

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// Flow logs made by CreateFlowLogs (OBS-1), and the NAT gateways of
// create-nat-gateway: what live operations and the file's vpc_flow_logs
// share.

// Flow-log defaults and values as EC2 has them.
const (
	DefaultMaxAggregationInterval = 600 // seconds; EC2's other choice is 60
	FlowLogTrafficAll             = "ALL"
)

// VPCFlowLog is one flow log of CreateFlowLogs: the records of every ENI
// of its resource (exactly one of VPC, Subnet, ENI) whose action passes
// TrafficType, written to log group LogGroup (the file FlowLogFile(LogGroup)
// of the state folder's flow-logs/) every AggregationSeconds.
type VPCFlowLog struct {
	Name               string
	ID                 string // fl-…
	VPC                *VPC
	Subnet             *Subnet
	ENI                *ENI
	TrafficType        string // ACCEPT, REJECT, ALL
	LogGroup           string
	AggregationSeconds int // 60 or 600
	PermissionARN      string
}

// ResourceID is the id of the flow log's resource.
func (f *VPCFlowLog) ResourceID() string {
	switch {
	case f.VPC != nil:
		return f.VPC.ID
	case f.Subnet != nil:
		return f.Subnet.ID
	}
	return f.ENI.ID
}

// ResourceName is the name of the flow log's resource, as the file writes it.
func (f *VPCFlowLog) ResourceName() string {
	switch {
	case f.VPC != nil:
		return f.VPC.Name
	case f.Subnet != nil:
		return f.Subnet.Name
	}
	return f.ENI.Name
}

// Covers reports whether ENI e's records belong to f: e is f's ENI, or in
// f's subnet or VPC.
func (f *VPCFlowLog) Covers(e *ENI) bool {
	switch {
	case f.ENI != nil:
		return e == f.ENI
	case f.Subnet != nil:
		return e.Subnet == f.Subnet
	}
	return e.Subnet != nil && e.Subnet.VPC == f.VPC
}

// Live reports whether f's resource is still in n. A flow log whose
// resource was deleted is gone with it (describe, export and the
// forwarder leave it out).
func (n *Network) Live(f *VPCFlowLog) bool {
	for _, v := range n.VPCs {
		switch {
		case f.VPC != nil && f.VPC == v:
			return true
		case f.Subnet != nil && slices.Contains(v.Subnets, f.Subnet):
			return true
		case f.ENI != nil && slices.Contains(v.ENIs, f.ENI):
			return true
		}
	}
	return false
}

// LiveFlowLogs are n's flow logs whose resource is still there.
func (n *Network) LiveFlowLogs() []*VPCFlowLog {
	var out []*VPCFlowLog
	for _, f := range n.VPCFlowLogs {
		if n.Live(f) {
			out = append(out, f)
		}
	}
	return out
}

// logGroupRE is CloudWatch Logs' rule for a log group name.
var logGroupRE = regexp.MustCompile(`^[A-Za-z0-9._/#-]{1,512}$`)

// CheckLogGroup checks a log group name as CloudWatch Logs does
// (1–512 of A–Z a–z 0–9 . _ - / #).
func CheckLogGroup(g string) error {
	if !logGroupRE.MatchString(g) {
		return &Error{Rule: "OBS-1", Msg: fmt.Sprintf("log group name %q must be 1–512 characters of A-Z a-z 0-9 . _ - / #", g)}
	}
	return nil
}

// FlowLogFile is the file name that keeps log group g, inside the
// state folder's flow-logs/ folder: the group with every '/' written '_',
// then ".log" ("/vpc/web" → "_vpc_web.log"). It never holds a '/', so
// it never leaves the folder.
func FlowLogFile(g string) string { return strings.ReplaceAll(g, "/", "_") + ".log" }

// resolveVPCFlowLogs resolves the file's vpc_flow_logs (OBS-1): each names
// a VPC, subnet, network interface or instance (its primary interface).
func (r *resolver) resolveVPCFlowLogs() {
	for i, fs := range r.t.VPCFlowLogs {
		path := fmt.Sprintf("vpc_flow_logs[%d]", i)
		f := &VPCFlowLog{Name: fs.Name, ID: r.id("fl", fs.Name), TrafficType: fs.TrafficType, LogGroup: fs.LogGroup,
			AggregationSeconds: DefaultMaxAggregationInterval, PermissionARN: fs.DeliverLogsPermissionArn}
		r.register(path+".name", fs.Name, kindFlowLog, nil, f)
		switch f.TrafficType {
		case "":
			f.TrafficType = FlowLogTrafficAll
		case "ACCEPT", "REJECT", FlowLogTrafficAll:
		default:
			r.errf(path+".traffic_type", "OBS-1", "traffic_type %q must be ACCEPT, REJECT or ALL", fs.TrafficType)
		}
		if err := CheckLogGroup(fs.LogGroup); err != nil {
			r.errf(path+".log_group", "OBS-1", "%s", err.(*Error).Msg)
		}
		if p := fs.MaxAggregationInterval; p != nil {
			if *p != 60 && *p != 600 {
				r.errf(path+".max_aggregation_interval", "OBS-1", "max_aggregation_interval %d must be 60 or 600", *p)
			}
			f.AggregationSeconds = *p
		}
		e := r.names[fs.Resource]
		switch {
		case fs.Resource == "":
			r.errf(path+".resource", "OBS-1", "resource is required: a vpc, subnet, network interface or instance")
			continue
		case e == nil:
			r.errf(path+".resource", "OBS-1", "resource %q not found", fs.Resource)
			continue
		}
		switch o := e.obj.(type) {
		case *VPC:
			f.VPC = o
		case *Subnet:
			f.Subnet = o
		case *ENI:
			f.ENI = o
		case *Instance:
			f.ENI = o.Primary()
		case *NATGateway:
			f.ENI = o.ENI
		default:
			r.errf(path+".resource", "OBS-1", "%q is a %s: a flow log's resource is a vpc, subnet, network interface or instance", fs.Resource, e.kind)
			continue
		}
		r.n.VPCFlowLogs = append(r.n.VPCFlowLogs, f)
	}
}

// exportVPCFlowLogs writes n's live flow logs as the file's vpc_flow_logs.
func exportVPCFlowLogs(n *Network) []VPCFlowLogSpec {
	var out []VPCFlowLogSpec
	for _, f := range n.LiveFlowLogs() {
		agg := f.AggregationSeconds
		out = append(out, VPCFlowLogSpec{Name: f.Name, Resource: f.ResourceName(), TrafficType: f.TrafficType,
			LogGroup: f.LogGroup, MaxAggregationInterval: &agg, DeliverLogsPermissionArn: f.PermissionARN})
	}
	return out
}

// NewNATGateway makes NAT gateway name in subnet s with its
// requester-managed routing ENI at private IP ip (NAT-1, ENI-3, ENI-5),
// and binds eip to it when the gateway is public (eip non-nil). The
// caller has checked every argument; the gateway and its ENI join s's VPC.
func (n *Network) NewNATGateway(name string, s *Subnet, ip netip.Addr, eip *EIP) *NATGateway {
	g := &NATGateway{Name: name, ID: n.NewID("nat", name), Subnet: s, Private: eip == nil}
	g.ENI = natENI(g, n.NewID("eni", name), ConnTrack{TCPEstablished: DefaultTCPEstablishedTimeout,
		UDPStream: DefaultUDPStreamTimeout, UDP: DefaultUDPTimeout})
	g.ENI.Subnet, g.ENI.PrimaryIP, g.ENI.MAC = s, ip, n.NewMAC(name)
	v := s.VPC
	v.NATs = append(slices.Clone(v.NATs), g)
	v.ENIs = append(slices.Clone(v.ENIs), g.ENI)
	if eip != nil {
		eip.ENI, eip.PrivateIP, eip.NAT = g.ENI, ip, g
		g.ENI.PublicIPs[ip] = eip.Addr // EIP-2; the IGW maps it (NAT-1)
		g.EIP = eip
	}
	return g
}

// RemoveNATGateway takes NAT gateway g and its ENI out of its VPC and frees
// its EIP, which stays allocated (EIP-1). Routes to g stay and are
// blackholes from then on (RT-3).
func (n *Network) RemoveNATGateway(g *NATGateway) {
	v := g.Subnet.VPC
	v.NATs = slices.DeleteFunc(slices.Clone(v.NATs), func(x *NATGateway) bool { return x == g })
	v.ENIs = slices.DeleteFunc(slices.Clone(v.ENIs), func(x *ENI) bool { return x == g.ENI })
	if e := g.EIP; e != nil && e.NAT == g {
		e.ENI, e.PrivateIP, e.NAT = nil, netip.Addr{}, nil
	}
}
