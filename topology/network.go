package topology

import (
	"net"
	"net/netip"
)

// Network is a validated topology with every default applied, every name
// resolved to a pointer, every address chosen and every AWS-style id derived.
// It is what netns/ builds and what dataplane/ compiles into its tables.
//
// A Network is built by Load (or Resolve) and is not safe for concurrent
// mutation; the daemon owns it and guards it with its own lock.
type Network struct {
	Name   string // topology name, prefixes every kernel object
	Region string

	Pools          []*Pool
	EIPs           []*EIP
	Hosts          []*Host // internet hosts
	VPCs           []*VPC
	Peerings       []*Peering
	DetachedIGWs   []*IGW // internet gateways attached to no VPC (a VPC's IGW holds the attached one)
	FlowLogs       *FlowLogs
	VPCFlowLogs    []*VPCFlowLog // CreateFlowLogs's, in creation order (flowlog.go)
	Warnings       []string      // e.g. ADDR-6 overlaps; printed by `up`
	Source         *Topology
	InstanceByName map[string]*Instance
	Settings       Settings // dataplane tunables, defaults applied

	LocalGateways []*LocalGateway // Outposts' local gateways (coip.go)
	// DHCPOptions are the DHCP options sets, the region's default set
	// first (DNS-4); PublicRecords the emulated public DNS's A records
	// (DNS-3). See dhcp.go.
	DHCPOptions   []*DHCPOptions
	PublicRecords []PublicRecord
	// Tags and KeyPairs are the account's facts as the file gives them
	// (tags.go): the EC2 service takes them over when it starts, and
	// keeps them from then on.
	Tags     map[any]map[string]string // resource (*VPC, *Subnet, *ENI …) → its tags but the Name that is its name
	KeyPairs []*KeyPair
	// Mirroring is Traffic Mirroring's targets, filters and sessions (mirror.go).
	Mirroring TrafficMirroring
}

// Settings holds the resolved dataplane tunables (topo.json "settings").
type Settings struct {
	ConntrackMax                    int // flow-table capacity (SG-4), default 262144
	NATIdleTimeoutSeconds           int // NAT-4, default 350
	NATMaxConnectionsPerDestination int // NAT-3, default 55000
	// ForwarderCPUs is where the forwarder's threads run: "auto" (the
	// default), "all" (not pinned) or a CPU list such as "1" or "2-3,6".
	// Which CPUs "auto" means depends on the machine (dataplane.ForwarderCPUs).
	ForwarderCPUs string
	// BusyPollMicroseconds is settings.busy_poll_us: the poll loops' spin
	// window after the last frame (dataplane/poll_linux.go); 0 sleeps at once.
	BusyPollMicroseconds int
	// EC2Endpoint is settings.ec2_endpoint; the zero value means the
	// default, the first free port from DefaultEC2Port up on 127.0.0.1.
	EC2Endpoint netip.AddrPort
	// Metrics is settings.metrics, where /metrics is served; the zero
	// value means no metrics endpoint (the default).
	Metrics netip.AddrPort
	Quotas  Quotas
	// Store and Placement: a network spread over machines (placement.go);
	// Store is "" for the single-machine network.
	Store     string
	Placement *Placement // nil without Store
}

// Quotas are the account's quotas (QUOTA-1), defaults applied.
type Quotas struct {
	VPCs           int // per region
	ElasticIPs     int // per region
	GroupsPerENI   int
	RulesPerGroup  int // per direction
	RulesPerNACL   int // per direction
	RoutesPerTable int // beyond the local route
}

// DefaultQuotas are AWS's default quotas (QUOTA-1).
func DefaultQuotas() Quotas {
	return Quotas{VPCs: 5, ElasticIPs: 5, GroupsPerENI: 5, RulesPerGroup: 60, RulesPerNACL: 20, RoutesPerTable: 50}
}

// Pool is a public address pool (ADDR-5).
type Pool struct {
	Name        string
	Kind        string // amazon, byoip, coip
	BorderGroup string
	CIDRs       []netip.Prefix
}

// EIP is an Elastic IP (EIP-1, EIP-2).
type EIP struct {
	Name         string
	AllocationID string // eipalloc-…
	Addr         netip.Addr
	Pool         *Pool
	// Association: nil ENI means unassociated. PrivateIP is one of ENI's IPs.
	ENI       *ENI
	PrivateIP netip.Addr
	NAT       *NATGateway // set when the EIP belongs to a NAT gateway
	// DomainName is the reverse DNS name (PTR) set by
	// ModifyAddressAttribute: lower case, no trailing dot; "" for the
	// default, the address's public name (DNS-3).
	DomainName string
}

// Host is a host on the emulated internet.
type Host struct {
	Name      string
	Namespace string // <topology>-<name>
	IP        netip.Addr
	MAC       net.HardwareAddr
	UserData  string
}

// Peering is a VPC peering connection: VPCs[0] requested it, VPCs[1]
// accepts it (PEER-1).
type Peering struct {
	Name   string
	ID     string // pcx-…
	VPCs   [2]*VPC
	Status string // PeeringActive, PeeringPending; PeeringDeleted once deleted (its routes are blackholes: RT-3)
}

// Peering states, as EC2 names them (PEER-1).
const (
	PeeringPending = "pending-acceptance"
	PeeringActive  = "active"
	PeeringDeleted = "deleted"
)

// Active reports whether p carries traffic (PEER-1).
func (p *Peering) Active() bool { return p != nil && p.Status == PeeringActive }

// FlowLogs configures OBS-1 flow logs.
type FlowLogs struct {
	Path               string
	AggregationSeconds int
}

// VPC is one VPC with its resources.
type VPC struct {
	Name        string
	ID          string // vpc-…
	CIDR        netip.Prefix
	IGW         *IGW // nil: no internet gateway
	Subnets     []*Subnet
	RouteTables []*RouteTable
	NATs        []*NATGateway
	SGs         []*SecurityGroup
	NACLs       []*NACL
	ENIs        []*ENI // every ENI of the VPC: instances', standalone, NAT gateways'
	Instances   []*Instance

	DefaultSG   *SecurityGroup // SG-7, named "default"
	DefaultNACL *NACL          // NACL-3
	MainRT      *RouteTable    // RT-1

	// SecondaryCIDRs are the IPv4 CIDRs associated after the primary
	// (AssociateVpcCidrBlock); subnets lie in any of them (ADDR-1).
	SecondaryCIDRs []netip.Prefix
	// DNSSupport and DNSHostnames are the VPC's enableDnsSupport and
	// enableDnsHostnames attributes (DNS-1, DNS-2).
	DNSSupport   bool
	DNSHostnames bool
	// DHCPOptions is the VPC's DHCP options set; nil for none
	// (AssociateDhcpOptions "default"): DNS-4.
	DHCPOptions *DHCPOptions
}

// IGW is an internet gateway (IGW-1).
type IGW struct {
	Name string
	ID   string // igw-…
}

// Subnet is a subnet of a VPC.
type Subnet struct {
	Name        string
	ID          string // subnet-…
	CIDR        netip.Prefix
	AZ          string
	VPC         *VPC
	RouteTable  *RouteTable // resolved: its own table or the VPC's main table (RT-1)
	NACL        *NACL       // resolved: its own NACL or the VPC's default (NACL-3)
	MapPublicIP bool
	RouterMAC   net.HardwareAddr // the VPC router's MAC at .1 (ADDR-3)

	// ExplicitRT: RouteTable is associated with the subnet itself (the
	// file's route_table, AssociateRouteTable), not the VPC's main table
	// by default (RT-1).
	ExplicitRT bool

	// OutpostArn: the subnet is on this Outpost ("" for the Region);
	// coip.go.
	OutpostArn string
}

// Router returns the subnet's .1 (ADDR-3).
func (s *Subnet) Router() netip.Addr { return s.CIDR.Masked().Addr().Next() }

// RouteTable is a route table. Routes always holds the implicit local route
// first (RT-1); the rest in file order.
type RouteTable struct {
	Name   string
	ID     string // rtb-…
	Main   bool
	Routes []*Route
}

// TargetKind names what a route points at (RT-3).
type TargetKind int

const (
	TargetLocal TargetKind = iota
	TargetIGW
	TargetNAT
	TargetENI // an ENI, or an instance's primary ENI
	TargetPeering
	TargetBlackhole
	TargetLGW // an Outpost's local gateway (coip.go)
)

// Route is one route of a table.
type Route struct {
	Dest       netip.Prefix
	Kind       TargetKind
	TargetName string // as written in the file ("local" for the local route)
	ENI        *ENI
	NAT        *NATGateway
	Peering    *Peering
	LGW        *LocalGateway // TargetLGW
}

// NATGateway is a NAT gateway (NAT-1).
type NATGateway struct {
	Name    string
	ID      string // nat-…
	Subnet  *Subnet
	ENI     *ENI // routing ENI: no SG, source/dest check off, requester-managed
	EIP     *EIP // nil when Private
	Private bool // connectivity: private
}

// Protocol numbers used in rules; -1 means all.
const ProtoAll = -1

// SGRule is one security-group rule (SG-3). A rule's peer is either CIDR
// (valid) or Group (non-nil).
type SGRule struct {
	Protocol    int // -1 all, else IP protocol number
	FromPort    int // port range, or ICMP type; -1 with ToPort -1 means any
	ToPort      int // port range end, or ICMP code; -1 any
	CIDR        netip.Prefix
	Group       *SecurityGroup
	Description string
	// ID is the rule's SecurityGroupRuleId when it is not the one derived
	// from its content (Network.SGRuleID): a modified rule keeps its id.
	ID string
}

// SecurityGroup is a security group (SG-1).
type SecurityGroup struct {
	Name        string
	ID          string // sg-…
	Description string
	VPC         *VPC
	Ingress     []SGRule
	Egress      []SGRule
}

// NACLRule is one numbered NACL rule (NACL-2).
type NACLRule struct {
	Number   int
	Protocol int // -1 all
	FromPort int // port range or ICMP type (-1 any)
	ToPort   int // port range end or ICMP code (-1 any)
	CIDR     netip.Prefix
	Allow    bool
}

// NACL is a network ACL. Ingress and Egress are sorted by rule number; the
// implicit `*` deny is not stored (NACL-2).
type NACL struct {
	Name    string
	ID      string // acl-…
	Default bool
	Ingress []NACLRule
	Egress  []NACLRule
}

// ENIKind tells compute ENIs from routing ENIs (ENI-2, ENI-3).
type ENIKind int

const (
	ENICompute ENIKind = iota
	ENIRouting
)

// ConnTrack holds per-ENI tracked-flow idle timeouts in seconds (SG-6).
type ConnTrack struct {
	TCPEstablished int // 60–432000, default 432000
	UDPStream      int // 60–180, default 180
	UDP            int // 30–60, default 30
}

// ENI is a network interface.
type ENI struct {
	Name             string
	ID               string // eni-…
	Subnet           *Subnet
	MAC              net.HardwareAddr
	PrimaryIP        netip.Addr
	SecondaryIPs     []netip.Addr
	Groups           []*SecurityGroup // empty only for routing ENIs
	SourceDestCheck  bool
	Kind             ENIKind
	RequesterManaged bool
	Description      string
	ConnTrack        ConnTrack

	// PublicIPs maps a private IP of this ENI to its public IP (auto-assigned
	// or EIP). EIPs replace the auto-assigned address (EIP-2).
	PublicIPs map[netip.Addr]netip.Addr

	// Attachment; nil Instance means detached.
	Instance    *Instance
	DeviceIndex int         // 0 for eth0
	NAT         *NATGateway // owner, for requester-managed NAT ENIs

	// DeleteOnTermination: the ENI goes with its instance when that is
	// terminated; else it stays, available. An instance's eth0 and the
	// ENIs its launch made default to true, an attached ENI to false.
	DeleteOnTermination bool
}

// IPs returns the primary then secondary private IPs.
func (e *ENI) IPs() []netip.Addr {
	return append([]netip.Addr{e.PrimaryIP}, e.SecondaryIPs...)
}

// Instance is an EC2 instance: one namespace.
type Instance struct {
	Name              string
	ID                string // i-…
	Namespace         string // <topology>-<name>
	Subnet            *Subnet
	VPC               *VPC
	ENIs              []*ENI // ENIs[0] is eth0
	UserData          string
	AssociatePublicIP bool
	Type              string // instance type (QUOTA-2): its ENI and IP limits; DefaultInstanceType when not given
	Stopped           bool   // INST-2: stopped by stop-instances; no devices, no dynamic public IP
	ImageID           string // RunInstances' ImageId; "" for the default image
	KeyName           string // RunInstances' KeyName; "" for none
	// MetadataTokens is HttpTokens (IMDS-1): MetadataTokensOptional or
	// MetadataTokensRequired.
	MetadataTokens string
	// Host is the machine the file or the launch named for the instance;
	// "" places it by its subnet's zone (Network.HostOf).
	Host string
}

// Primary returns eth0's ENI.
func (i *Instance) Primary() *ENI { return i.ENIs[0] }
