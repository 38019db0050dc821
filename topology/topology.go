// Package topology holds the topo.json model (Topology), its strict parser
// (Parse), and the resolver (Resolve) that applies the AWS defaults, checks
// every static rule of vpc-semantics.md and produces the resolved Network
// that netns/ builds and dataplane/ compiles.
//
// The package is pure Go: it makes no syscalls and touches no kernel state,
// so a topology is fully validated before anything is created.
package topology

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
)

// Topology is the topo.json document exactly as written by the user; see
// topology-spec.md. Optional values that have a non-zero default are
// pointers, so that an omitted field can be told from an explicit one.
type Topology struct {
	Name         string        `json:"name"`
	Region       string        `json:"region,omitempty"`
	AddressPools []PoolSpec    `json:"address_pools,omitempty"`
	ElasticIPs   []EIPSpec     `json:"elastic_ips,omitempty"`
	Internet     *InternetSpec `json:"internet,omitempty"`
	VPCs         []VPCSpec     `json:"vpcs,omitempty"`
	Peerings     []PeeringSpec `json:"peerings,omitempty"`
	// LocalGateways are Outposts' local gateways (coip.go), route targets
	// (lgw-…) toward the on-premises network.
	LocalGateways []LocalGatewaySpec `json:"local_gateways,omitempty"`
	// InternetGateways are the internet gateways attached to no VPC
	// (CreateInternetGateway, DetachInternetGateway); a VPC's
	// internet_gateway is the one attached to it (IGW-1).
	InternetGateways []IGWSpec     `json:"internet_gateways,omitempty"`
	FlowLogs         *FlowLogsSpec `json:"flow_logs,omitempty"`
	// VPCFlowLogs are the flow logs of CreateFlowLogs (OBS-1), one per
	// resource, each to a log group: a file under the state folder.
	VPCFlowLogs []VPCFlowLogSpec `json:"vpc_flow_logs,omitempty"`
	// Extensions (issue 13, dhcp.go): DHCP options sets besides the
	// region's default one (DNS-4), and the A records of the emulated
	// internet's public DNS (DNS-3).
	DHCPOptions      []DHCPOptionsSpec     `json:"dhcp_options,omitempty"`
	PublicDNSRecords []PublicDNSRecordSpec `json:"public_dns_records,omitempty"`
	Settings         *SettingsSpec         `json:"settings,omitempty"`
	// Extensions (issue 12): the account's tags (CreateTags) of the
	// resources above, and its key pairs (CreateKeyPair, ImportKeyPair),
	// public halves only; see tags.go.
	Tags     []TagsSpec    `json:"tags,omitempty"`
	KeyPairs []KeyPairSpec `json:"key_pairs,omitempty"`
	// TrafficMirroring (issue 14, mirror.go): traffic mirror targets,
	// filters and sessions, by name.
	TrafficMirroring *TrafficMirroringSpec `json:"traffic_mirroring,omitempty"`
}

// PoolSpec is a public address pool (ADDR-5).
type PoolSpec struct {
	Name               string   `json:"name"`
	CIDRs              []string `json:"cidrs"`
	NetworkBorderGroup string   `json:"network_border_group,omitempty"` // default: the region
	Kind               string   `json:"kind,omitempty"`                 // amazon (default), byoip, coip
}

// EIPSpec is an Elastic IP: a fixed address, or the first free address of a
// pool (EIP-1). With neither, the address comes from the region's first pool.
//
// An extension of the spec: an EIP may name what it is associated with, as
// associate-address does (EIP-2): an instance (its eth0's primary IP) or a
// network interface, and optionally which of their private IPs, primary or
// secondary. Instances and network interfaces can also name their EIP in
// their own elastic_ip field (the primary IP).
type EIPSpec struct {
	Name             string `json:"name"`
	Address          string `json:"address,omitempty"`
	Pool             string `json:"pool,omitempty"`
	Instance         string `json:"instance,omitempty"`
	NetworkInterface string `json:"network_interface,omitempty"`
	PrivateIP        string `json:"private_ip,omitempty"` // default: the primary private IP
	// DomainName is the reverse DNS name (ModifyAddressAttribute): a
	// record of public_dns_records must point it at the address (DNS-3).
	DomainName string `json:"domain_name,omitempty"`
}

// InternetSpec is the emulated internet.
type InternetSpec struct {
	Hosts []HostSpec `json:"hosts,omitempty"`
}

// HostSpec is a host on the emulated internet. Its IP must be public.
type HostSpec struct {
	Name     string `json:"name"`
	IP       string `json:"ip"`
	UserData string `json:"user_data,omitempty"`
}

// VPCSpec is one VPC and everything in it.
type VPCSpec struct {
	Name              string              `json:"name"`
	CIDR              string              `json:"cidr"`
	InternetGateway   string              `json:"internet_gateway,omitempty"`
	Subnets           []SubnetSpec        `json:"subnets,omitempty"`
	RouteTables       []RouteTableSpec    `json:"route_tables,omitempty"`
	NATGateways       []NATGatewaySpec    `json:"nat_gateways,omitempty"`
	SecurityGroups    []SecurityGroupSpec `json:"security_groups,omitempty"`
	NetworkACLs       []NACLSpec          `json:"network_acls,omitempty"`
	NetworkInterfaces []ENISpec           `json:"network_interfaces,omitempty"`
	Instances         []InstanceSpec      `json:"instances,omitempty"`

	// Extensions (issue 12): IPv4 CIDRs after the primary
	// (AssociateVpcCidrBlock, ADDR-1), and the DNS attributes
	// (ModifyVpcAttribute; DNS-1, DNS-2), both true when omitted.
	SecondaryCIDRs     []string `json:"secondary_cidrs,omitempty"`
	EnableDNSSupport   *bool    `json:"enable_dns_support,omitempty"`
	EnableDNSHostnames *bool    `json:"enable_dns_hostnames,omitempty"`
	// DHCPOptions names the VPC's DHCP options set of dhcp_options, or is
	// "none" for no set; omitted, the region's default set (DNS-4).
	DHCPOptions string `json:"dhcp_options,omitempty"`
}

// IGWSpec is an internet gateway attached to no VPC (IGW-1).
type IGWSpec struct {
	Name string `json:"name"`
}

// SubnetSpec is a subnet. RouteTable and NetworkACL default to the VPC's
// main table (RT-1) and default NACL (NACL-3).
type SubnetSpec struct {
	Name                string `json:"name"`
	CIDR                string `json:"cidr"`
	AZ                  string `json:"az"`
	RouteTable          string `json:"route_table,omitempty"`
	NetworkACL          string `json:"network_acl,omitempty"`
	MapPublicIPOnLaunch bool   `json:"map_public_ip_on_launch,omitempty"`
	// OutpostArn puts the subnet on an Outpost (coip.go): its ENIs may
	// hold customer-owned IPs, and it may route to the Outpost's local
	// gateway.
	OutpostArn string `json:"outpost_arn,omitempty"`
}

// RouteTableSpec is a route table; the local route is implicit (RT-1).
type RouteTableSpec struct {
	Name   string      `json:"name"`
	Main   bool        `json:"main,omitempty"`
	Routes []RouteSpec `json:"routes,omitempty"`
}

// RouteSpec is one route. Target names an internet gateway, NAT gateway,
// network interface, instance, peering connection, or is "blackhole" (RT-3).
type RouteSpec struct {
	Destination string `json:"destination"`
	Target      string `json:"target"`
}

// NATGatewaySpec is a NAT gateway (NAT-1). Connectivity is "public"
// (default, needs ElasticIP) or "private" (no ElasticIP).
type NATGatewaySpec struct {
	Name                string   `json:"name"`
	Subnet              string   `json:"subnet"`
	ElasticIP           string   `json:"elastic_ip,omitempty"`
	Connectivity        string   `json:"connectivity,omitempty"`
	PrivateIP           string   `json:"private_ip,omitempty"`
	SecondaryPrivateIPs []string `json:"secondary_private_ips,omitempty"`
}

// SecurityGroupSpec is a security group. A nil Egress (omitted) means allow
// all outbound; an empty list means nothing goes out (SG-1).
type SecurityGroupSpec struct {
	Name        string        `json:"name"`
	Description string        `json:"description,omitempty"`
	Ingress     []IngressRule `json:"ingress,omitzero"` // nil: omitted; [] is kept (the default group with no inbound rule)
	Egress      []EgressRule  `json:"egress,omitzero"`
}

// IngressRule is an inbound security-group rule (SG-3). Source is a CIDR or
// the name of a security group of the same VPC.
type IngressRule struct {
	Protocol    Protocol `json:"protocol"`
	Ports       Ports    `json:"ports,omitempty"`
	ICMPType    *int     `json:"icmp_type,omitempty"`
	ICMPCode    *int     `json:"icmp_code,omitempty"`
	Source      string   `json:"source"`
	Description string   `json:"description,omitempty"`
	ID          string   `json:"id,omitempty"` // SecurityGroupRuleId when not the derived one (SG-3)
	// SourceVPC names the peered VPC whose "default" group Source is
	// (PEER-4); another group of a peered VPC is named by its name alone.
	SourceVPC string `json:"source_vpc,omitempty"`
	// Stale keeps a rule naming a group of a VPC no peering joins any
	// more: it matches nothing (PEER-4).
	Stale bool `json:"stale,omitempty"`
}

// EgressRule is an outbound security-group rule (SG-3). Destination is a
// CIDR or the name of a security group of the same VPC.
type EgressRule struct {
	Protocol    Protocol `json:"protocol"`
	Ports       Ports    `json:"ports,omitempty"`
	ICMPType    *int     `json:"icmp_type,omitempty"`
	ICMPCode    *int     `json:"icmp_code,omitempty"`
	Destination string   `json:"destination"`
	Description string   `json:"description,omitempty"`
	ID          string   `json:"id,omitempty"` // SecurityGroupRuleId when not the derived one (SG-3)
	// DestinationVPC names the peered VPC whose "default" group
	// Destination is (PEER-4).
	DestinationVPC string `json:"destination_vpc,omitempty"`
	Stale          bool   `json:"stale,omitempty"` // as IngressRule's (PEER-4)
}

// NACLSpec is a custom network ACL; omitted lists deny all (NACL-3).
type NACLSpec struct {
	Name    string         `json:"name"`
	Ingress []NACLRuleSpec `json:"ingress,omitzero"` // nil: omitted; [] is kept (the default NACL with no rule)
	Egress  []NACLRuleSpec `json:"egress,omitzero"`
}

// NACLRuleSpec is one numbered NACL rule (NACL-2).
type NACLRuleSpec struct {
	Rule     int      `json:"rule"`
	Protocol Protocol `json:"protocol"`
	Ports    Ports    `json:"ports,omitempty"`
	ICMPType *int     `json:"icmp_type,omitempty"`
	ICMPCode *int     `json:"icmp_code,omitempty"`
	CIDR     string   `json:"cidr"`
	Action   string   `json:"action"` // allow or deny
}

// ConnTrackSpec sets an ENI's tracked-flow idle timeouts in seconds (SG-6).
type ConnTrackSpec struct {
	TCPEstablished *int `json:"tcp_established,omitempty"` // 60–432000, default 432000
	UDPStream      *int `json:"udp_stream,omitempty"`      // 60–180, default 180
	UDP            *int `json:"udp,omitempty"`             // 30–60, default 30
}

// ENISpec is a standalone network interface, attachable to an instance of
// the same VPC and AZ (ENI-6).
type ENISpec struct {
	Name                string         `json:"name"`
	Subnet              string         `json:"subnet"`
	PrivateIP           string         `json:"private_ip,omitempty"`
	SecondaryPrivateIPs []string       `json:"secondary_private_ips,omitempty"`
	SecurityGroups      []string       `json:"security_groups,omitempty"`
	SourceDestCheck     *bool          `json:"source_dest_check,omitempty"` // default true (ENI-4)
	Description         string         `json:"description,omitempty"`
	ElasticIP           string         `json:"elastic_ip,omitempty"` // extension: EIP of the primary private IP (EIP-2)
	ConnectionTracking  *ConnTrackSpec `json:"connection_tracking,omitempty"`
	DeleteOnTermination bool           `json:"delete_on_termination,omitempty"` // extension: deleted with the instance it is attached to
}

// InstanceSpec is an instance. Its eth0 is created with it from the
// instance's own subnet, IP, groups and source/dest check; NetworkInterfaces
// attach as eth1, eth2 … in order (ENI-6).
type InstanceSpec struct {
	Name                string         `json:"name"`
	Subnet              string         `json:"subnet"`
	PrivateIP           string         `json:"private_ip,omitempty"`
	SecondaryPrivateIPs []string       `json:"secondary_private_ips,omitempty"`
	SecurityGroups      []string       `json:"security_groups,omitempty"`
	AssociatePublicIP   *bool          `json:"associate_public_ip,omitempty"` // default: subnet's map_public_ip_on_launch
	ElasticIP           string         `json:"elastic_ip,omitempty"`
	SourceDestCheck     *bool          `json:"source_dest_check,omitempty"` // default true (ENI-4)
	NetworkInterfaces   []string       `json:"network_interfaces,omitempty"`
	UserData            string         `json:"user_data,omitempty"`
	ConnectionTracking  *ConnTrackSpec `json:"connection_tracking,omitempty"`
	// Extensions (issue 12): the instance type (QUOTA-2, default t2.micro),
	// and eth0's description (default "Primary network interface") and
	// delete-on-termination (default true).
	InstanceType        string  `json:"instance_type,omitempty"`
	Description         *string `json:"description,omitempty"`
	DeleteOnTermination *bool   `json:"delete_on_termination,omitempty"`
	// The image and key pair it was launched with (RunInstances' ImageId
	// and KeyName); the key pair need not exist any more, as on EC2.
	ImageID string `json:"image_id,omitempty"`
	KeyName string `json:"key_name,omitempty"`
	// MetadataHTTPTokens is the instance metadata option HttpTokens
	// (IMDS-1): "optional" (the default) or "required".
	MetadataHTTPTokens string `json:"metadata_http_tokens,omitempty"`
	// Host is the machine that runs the instance when the network is in a
	// store (placement.go); default: its subnet's availability zone's.
	Host string `json:"host,omitempty"`
}

// PeeringSpec is a VPC peering connection between two VPCs named in VPCs:
// the first requested it, the second accepts it. Status is "active" (the
// default) or "pending-acceptance" (PEER-1).
type PeeringSpec struct {
	Name   string   `json:"name"`
	VPCs   []string `json:"vpcs"`
	Status string   `json:"status,omitempty"`
}

// FlowLogsSpec turns on OBS-1 flow logs.
type FlowLogsSpec struct {
	Path               string `json:"path"`
	AggregationSeconds *int   `json:"aggregation_seconds,omitempty"` // default 60
}

// VPCFlowLogSpec is a flow log of one VPC, subnet or network interface
// (an instance's name means its primary interface), as CreateFlowLogs
// makes it: its records go to log group LogGroup, which vpcnet keeps in
// the file flow-logs/<group>.log of the topology's state folder
// (FlowLogFile).
type VPCFlowLogSpec struct {
	Name                   string `json:"name"`
	Resource               string `json:"resource"`
	TrafficType            string `json:"traffic_type,omitempty"` // ACCEPT, REJECT or ALL (default)
	LogGroup               string `json:"log_group"`
	MaxAggregationInterval *int   `json:"max_aggregation_interval,omitempty"` // 60 or 600 (default)
	// DeliverLogsPermissionArn is kept and shown as given: vpcnet has no IAM.
	DeliverLogsPermissionArn string `json:"deliver_logs_permission_arn,omitempty"`
}

// SettingsSpec holds optional dataplane tunables; see Settings for defaults.
type SettingsSpec struct {
	ConntrackMax                    *int `json:"conntrack_max,omitempty"`
	NATIdleTimeoutSeconds           *int `json:"nat_idle_timeout_seconds,omitempty"`
	NATMaxConnectionsPerDestination *int `json:"nat_max_connections_per_destination,omitempty"`
	// ForwarderCPUs is "auto", "all" or a CPU list such as "1" or "2-3,6".
	ForwarderCPUs *string `json:"forwarder_cpus,omitempty"`
	// BusyPollMicroseconds is how long the forwarder spins for the next
	// frame after the last one before it sleeps: 0 to 100000, default 200.
	BusyPollMicroseconds *int `json:"busy_poll_us,omitempty"`
	// EC2Endpoint is where the topology serves EC2's Query API: an IP and
	// a port, "127.0.0.1:4566" or "[::1]:4566". Default: the first free
	// port from 4566 up on 127.0.0.1.
	EC2Endpoint *string `json:"ec2_endpoint,omitempty"`
	// Metrics is where the topology serves Prometheus metrics on /metrics:
	// an IP and a port, "127.0.0.1:9100". Default: none (off).
	Metrics *string `json:"metrics,omitempty"`
	// Quotas overrides AWS's default quotas (QUOTA-1).
	Quotas *QuotasSpec `json:"quotas,omitempty"`
	// Store is the etcd cluster that holds a network spread over several
	// machines, "etcd://10.0.0.1:2379,10.0.0.2:2379" (issue 16,
	// placement.go); without it the network runs on this machine alone.
	Store *string `json:"store,omitempty"`
	// Placement says which machine runs what (placement.go).
	Placement *PlacementSpec `json:"placement,omitempty"`
}

// QuotasSpec sets the account's quotas (QUOTA-1); an omitted one is AWS's
// default.
type QuotasSpec struct {
	VPCs           *int `json:"vpcs,omitempty"`                     // per region, default 5
	ElasticIPs     *int `json:"elastic_ips,omitempty"`              // per region, default 5
	GroupsPerENI   *int `json:"security_groups_per_eni,omitempty"`  // default 5
	RulesPerGroup  *int `json:"rules_per_security_group,omitempty"` // per direction, default 60
	RulesPerNACL   *int `json:"rules_per_network_acl,omitempty"`    // per direction, default 20
	RoutesPerTable *int `json:"routes_per_route_table,omitempty"`   // default 50
}

// Protocol is a rule's protocol as written: "tcp", "udp", "icmp", "all",
// "-1" or an IP protocol number. A JSON number is accepted too.
type Protocol string

// UnmarshalJSON accepts a JSON string or number.
func (p *Protocol) UnmarshalJSON(b []byte) error {
	s, err := stringOrNumber(b)
	*p = Protocol(s)
	return err
}

// Ports is a rule's port range as written: "80" or "1024-65535". A JSON
// number is accepted too. Empty means all ports.
type Ports string

// UnmarshalJSON accepts a JSON string or number.
func (p *Ports) UnmarshalJSON(b []byte) error {
	s, err := stringOrNumber(b)
	*p = Ports(s)
	return err
}

func stringOrNumber(b []byte) (string, error) {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		err := json.Unmarshal(b, &s)
		return s, err
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return "", err
	}
	return n.String(), nil
}

// Parse decodes a topology file strictly: unknown fields, duplicate keys,
// wrong value types and trailing data are errors. The error is an *Errors
// whose entries name the JSON path (and, for malformed JSON, line:column),
// e.g. `vpcs[0].subnets[1]: unknown field "cidrr" (FORMAT)`.
func Parse(data []byte) (*Topology, error) {
	w := &walker{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	w.dec.UseNumber()
	if err := w.value(reflect.TypeOf(Topology{}), ""); err != nil {
		return nil, err
	}
	if _, err := w.dec.Token(); err != io.EOF {
		if err == nil {
			return nil, w.fail("", "trailing data after the top-level object")
		}
		return nil, w.syntax("", err)
	}
	// The walk proved the shape; decode for real (still strict, to be safe).
	var t Topology
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return nil, &Errors{{Rule: RuleFormat, Msg: err.Error()}}
	}
	return &t, nil
}

// walker checks a JSON document token by token against the Go type it will
// be decoded into, so that every shape error carries its JSON path.
type walker struct {
	data []byte
	dec  *json.Decoder
}

var (
	flexType = map[reflect.Type]bool{
		reflect.TypeOf(Protocol("")): true,
		reflect.TypeOf(Ports("")):    true,
	}
	maxDepth = 64
)

// lineCol converts a byte offset into a 1-based line:column.
func (w *walker) lineCol(off int64) string {
	if off > int64(len(w.data)) {
		off = int64(len(w.data))
	}
	if off < 0 {
		off = 0
	}
	before := w.data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf("line %d:%d", line, col)
}

func (w *walker) fail(path, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &Errors{{Path: path, Rule: RuleFormat, Msg: w.lineCol(w.dec.InputOffset()) + ": " + msg}}
}

func (w *walker) syntax(path string, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &Errors{{Path: path, Rule: RuleFormat, Msg: w.lineCol(se.Offset) + ": " + strings.TrimPrefix(se.Error(), "json: ")}}
	}
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return &Errors{{Path: path, Rule: RuleFormat, Msg: w.lineCol(int64(len(w.data))) + ": unexpected end of JSON input"}}
	}
	return &Errors{{Path: path, Rule: RuleFormat, Msg: w.lineCol(w.dec.InputOffset()) + ": " + err.Error()}}
}

func describe(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '{' {
			return "an object"
		}
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", tok)
}

func want(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct:
		return "an object"
	case reflect.Slice:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Int:
		return "an integer"
	case reflect.Bool:
		return "true or false"
	}
	return t.String()
}

// value consumes one JSON value that must fit type t.
func (w *walker) value(t reflect.Type, path string) error {
	return w.valueDepth(t, path, 0)
}

func (w *walker) valueDepth(t reflect.Type, path string, depth int) error {
	if depth > maxDepth {
		return w.fail(path, "nesting too deep")
	}
	tok, err := w.dec.Token()
	if err != nil {
		return w.syntax(path, err)
	}
	if t.Kind() == reflect.Pointer {
		if tok == nil {
			return nil
		}
		t = t.Elem()
	}
	if flexType[t] {
		switch tok.(type) {
		case string, json.Number:
			return nil
		}
		return w.fail(path, "must be a string or a number, not %s", describe(tok))
	}
	mismatch := func() error { return w.fail(path, "must be %s, not %s", want(t), describe(tok)) }
	switch t.Kind() {
	case reflect.String:
		if _, ok := tok.(string); !ok {
			return mismatch()
		}
	case reflect.Bool:
		if _, ok := tok.(bool); !ok {
			return mismatch()
		}
	case reflect.Int:
		n, ok := tok.(json.Number)
		if !ok {
			return mismatch()
		}
		if _, err := strconv.ParseInt(n.String(), 10, 32); err != nil {
			return w.fail(path, "must be an integer, not %s", n)
		}
	case reflect.Slice:
		if tok == nil {
			return nil // null: same as omitted
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return mismatch()
		}
		for i := 0; w.dec.More(); i++ {
			if err := w.valueDepth(t.Elem(), fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
				return err
			}
		}
		if _, err := w.dec.Token(); err != nil { // ']'
			return w.syntax(path, err)
		}
	case reflect.Map: // string keys (tags): each key once
		if tok == nil {
			return nil
		}
		if d, ok := tok.(json.Delim); !ok || d != '{' {
			return mismatch()
		}
		seen := map[string]bool{}
		for w.dec.More() {
			kt, err := w.dec.Token()
			if err != nil {
				return w.syntax(path, err)
			}
			key, _ := kt.(string)
			if seen[key] {
				return w.fail(path, "duplicate key %q", key)
			}
			seen[key] = true
			if err := w.valueDepth(t.Elem(), join(path, key), depth+1); err != nil {
				return err
			}
		}
		if _, err := w.dec.Token(); err != nil { // '}'
			return w.syntax(path, err)
		}
	case reflect.Struct:
		if d, ok := tok.(json.Delim); !ok || d != '{' {
			return mismatch()
		}
		seen := map[string]bool{}
		for w.dec.More() {
			kt, err := w.dec.Token()
			if err != nil {
				return w.syntax(path, err)
			}
			key, ok := kt.(string)
			if !ok {
				return w.fail(path, "object key must be a string")
			}
			f, ok := fieldByTag(t, key)
			if !ok {
				return w.fail(path, "unknown field %q", key)
			}
			if seen[key] {
				return w.fail(path, "duplicate field %q", key)
			}
			seen[key] = true
			if err := w.valueDepth(f.Type, join(path, key), depth+1); err != nil {
				return err
			}
		}
		if _, err := w.dec.Token(); err != nil { // '}'
			return w.syntax(path, err)
		}
	default:
		return w.fail(path, "unsupported type %s", t)
	}
	return nil
}

// fieldByTag finds the struct field whose json tag name is key (exact case:
// topo.json is case-sensitive, unlike encoding/json's fallback).
func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == key && name != "" && name != "-" {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// join appends a field name to a JSON path.
func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}
