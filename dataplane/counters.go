package dataplane

import (
	"sort"
	"sync"
	"sync/atomic"
)

// dropReason names why a frame was dropped. Every drop is counted under one.
type dropReason uint8

const (
	dropNone dropReason = iota
	dropShort
	dropEtherType
	dropBadIPv4
	dropBadL4
	dropARP           // ADDR-3: ARP that gets no answer
	dropSrcDstEgress  // ENI-4 on the sender
	dropSrcDstIngress // ENI-4 on the receiver
	dropSpoofedHost   // an internet host sent from an address not its own
	dropNoRoute       // RT-6
	dropBlackhole     // RT-3
	dropNoENI         // local route, no ENI holds the address
	dropSGEgress      // SG-2
	dropSGIngress     // SG-2
	dropNACLEgress    // NACL-4
	dropNACLIngress   // NACL-4
	dropConntrackFull // SG-4: table full
	dropNoPublicIP    // IGW-2 outbound
	dropNoAssociation // IGW-2 inbound
	dropNotRoutable   // IGW-4
	dropNoInternetHost
	dropNATProtocol    // NAT-2
	dropNATPortAlloc   // NAT-3
	dropNATUnsolicited // NAT-5
	dropNATIdle        // NAT-4 (answered with RST for TCP)
	dropNoIGW
	dropHopLimit
	dropTxError
	dropNoPort           // destination ENI is not attached to a running instance
	dropFragNoFirst      // a non-first IPv4 fragment whose first fragment was not seen (frag.go)
	dropFragOverlap      // a TCP fragment at offset 8, over the first one's flags (RFC 1858)
	dropNATFragment      // NAT-2: a fragment the NAT gateway cannot map (nat.DropFragment)
	dropNATMalformed     // nat.DropMalformed
	dropPortQueueFull    // the instance's kernel found the TAP queue toward the forwarder full (its tx_dropped)
	dropPortWriteRefused // the device refused a write (EAGAIN, ENOBUFS): ErrPortFull
	dropPeering          // PEER-2, PEER-3: the peering is not active, or no ENI of the peer VPC holds the address (not transitive)
	dropDNSDisabled      // DNS-1: a frame to the Amazon DNS server of a VPC whose enableDnsSupport is off
	dropSpoofedService   // a service namespace sent from an address not a service address
	dropNoCoIP           // COIP-5: to a local gateway from a private IP with no customer-owned IP
	dropLGWOffOutpost    // COIP-5: a local gateway route used from a subnet not on its Outpost
	dropNoOnPremHost     // COIP-5: no on-premises host has the destination
	dropCoIPUnassociated // COIP-5: from on premises to a customer-owned IP associated with nothing
	dropMirrorSG         // TM-5: the mirror target's groups refuse VXLAN from the source (mirror.go)
	dropMirrorRefused    // TM-6: the mirror target's port took no copy
	dropPeerUnreachable  // issue 16: the machine holding the destination has not been heard for peerTimeout
	dropMisdirected      // issue 16: a tunnelled frame for something this machine does not hold
	dropNoPeer           // issue 16: no tunnel to the machine holding the destination (its agent never registered)
	numDropReasons
)

var dropNames = [numDropReasons]string{
	dropNone:             "none",
	dropShort:            "short-frame",
	dropEtherType:        "unsupported-ethertype",
	dropBadIPv4:          "bad-ipv4-header",
	dropBadL4:            "bad-l4-header",
	dropARP:              "arp-no-answer (ADDR-3)",
	dropSrcDstEgress:     "source-dest-check egress (ENI-4)",
	dropSrcDstIngress:    "source-dest-check ingress (ENI-4)",
	dropSpoofedHost:      "internet-host-spoofed-source",
	dropNoRoute:          "no-route (RT-6)",
	dropBlackhole:        "blackhole-route (RT-3)",
	dropNoENI:            "local-no-eni (RT-1)",
	dropSGEgress:         "security-group egress (SG-2)",
	dropSGIngress:        "security-group ingress (SG-2)",
	dropNACLEgress:       "network-acl egress (NACL-4)",
	dropNACLIngress:      "network-acl ingress (NACL-4)",
	dropConntrackFull:    "conntrack-table-full (SG-4)",
	dropNoPublicIP:       "igw-no-public-ip (IGW-2)",
	dropNoAssociation:    "igw-unassociated-public-ip (IGW-2)",
	dropNotRoutable:      "internet-private-destination (IGW-4)",
	dropNoInternetHost:   "internet-no-such-host",
	dropNATProtocol:      "nat-unsupported-protocol (NAT-2)",
	dropNATPortAlloc:     "nat-port-allocation (NAT-3)",
	dropNATUnsolicited:   "nat-unsolicited-inbound (NAT-5)",
	dropNATIdle:          "nat-idle-timeout (NAT-4)",
	dropNoIGW:            "no-internet-gateway",
	dropHopLimit:         "hop-limit",
	dropTxError:          "tx-error",
	dropNoPort:           "eni-not-attached",
	dropFragNoFirst:      "fragment-without-first",
	dropFragOverlap:      "fragment-overlaps-tcp-header",
	dropNATFragment:      "nat-non-first-fragment",
	dropNATMalformed:     "nat-malformed",
	dropPortQueueFull:    "port-queue-full",
	dropPortWriteRefused: "port-write-refused",
	dropPeering:          "vpc-peering (PEER-2)",
	dropDNSDisabled:      "vpc-dns-disabled (DNS-1)",
	dropSpoofedService:   "vpc-service-spoofed-source",
	dropNoCoIP:           "lgw-no-customer-owned-ip (COIP-5)",
	dropLGWOffOutpost:    "lgw-not-on-outpost (COIP-5)",
	dropNoOnPremHost:     "lgw-no-on-premises-host (COIP-5)",
	dropCoIPUnassociated: "lgw-unassociated-customer-owned-ip (COIP-5)",
	dropMirrorSG:         "mirror-security-group (TM-5)",
	dropMirrorRefused:    "mirror-copy-refused (TM-6)",
	dropPeerUnreachable:  "peer-unreachable",
	dropMisdirected:      "misdirected",
	dropNoPeer:           "no-peer",
}

func (r dropReason) String() string { return dropNames[r] }

// PortQueueDropReasons names, as EndpointStats.Drops does, the frames lost at
// a port's queue: toward the forwarder (the kernel's queue was full) and
// toward the device (it refused the write). The metrics endpoint reads them.
func PortQueueDropReasons() (rx, tx string) {
	return dropPortQueueFull.String(), dropPortWriteRefused.String()
}

// stage numbers the pipeline stages for per-stage frame counts.
type stage uint8

const (
	stageParse stage = iota
	stageARP
	stageSrcDst
	stageSG
	stageNACL
	stageRoute
	stageIGW
	stageNAT
	stageDeliver
	stageLGW
	numStages
)

var stageNames = [numStages]string{"parse", "arp", "source-dest-check", "security-group", "network-acl", "route", "internet-gateway", "nat-gateway", "deliver", "local-gateway"}

// detailKey names a drop more precisely than its reason: which group, which
// NACL and rule (OBS-2).
type detailKey struct {
	reason dropReason
	what   string // group or NACL id; set once per config, never built per packet
	rule   int32
}

// counters are one endpoint's statistics. Fields are atomics; details is
// guarded by mu.
type counters struct {
	rxFrames, rxBytes atomic.Uint64
	txFrames, txBytes atomic.Uint64
	drops             [numDropReasons]atomic.Uint64
	mu                sync.Mutex
	details           map[detailKey]uint64
}

func (c *counters) drop(r dropReason) { c.drops[r].Add(1) }

func (c *counters) dropDetail(r dropReason, what string, rule int32) {
	c.drops[r].Add(1)
	c.mu.Lock()
	if c.details == nil {
		c.details = make(map[detailKey]uint64)
	}
	c.details[detailKey{r, what, rule}]++
	c.mu.Unlock()
}

// EndpointStats is what `vpcnet stats` shows for one ENI or internet host.
type EndpointStats struct {
	Name     string            `json:"name"`
	ID       string            `json:"id"`
	Kind     string            `json:"kind"`
	RxFrames uint64            `json:"rx_frames"`
	RxBytes  uint64            `json:"rx_bytes"`
	TxFrames uint64            `json:"tx_frames"`
	TxBytes  uint64            `json:"tx_bytes"`
	Drops    map[string]uint64 `json:"drops,omitempty"`
	Details  []DropDetail      `json:"drop_details,omitempty"`
}

// DropDetail names what rejected frames (OBS-2).
type DropDetail struct {
	Reason string `json:"reason"`
	By     string `json:"by"`
	Rule   string `json:"rule,omitempty"`
	Count  uint64 `json:"count"`
}

func (c *counters) snapshot(name, id, kind string) EndpointStats {
	s := EndpointStats{Name: name, ID: id, Kind: kind,
		RxFrames: c.rxFrames.Load(), RxBytes: c.rxBytes.Load(),
		TxFrames: c.txFrames.Load(), TxBytes: c.txBytes.Load()}
	for r := dropReason(1); r < numDropReasons; r++ {
		if v := c.drops[r].Load(); v > 0 {
			if s.Drops == nil {
				s.Drops = map[string]uint64{}
			}
			s.Drops[r.String()] = v
		}
	}
	c.mu.Lock()
	for k, v := range c.details {
		d := DropDetail{Reason: k.reason.String(), By: k.what, Count: v}
		if k.rule == 32767 {
			d.Rule = "*"
		} else if k.rule > 0 {
			d.Rule = itoa(int(k.rule))
		}
		s.Details = append(s.Details, d)
	}
	c.mu.Unlock()
	sort.Slice(s.Details, func(i, j int) bool { return s.Details[i].Count > s.Details[j].Count })
	return s
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
