package nat

// Verdict is what a translation decided for one packet. Everything but OK
// means the packet must not be forwarded; SendRST additionally asks the
// caller to answer it with BuildRST.
type Verdict uint8

// Verdicts.
const (
	// OK: the packet was translated in place; forward it.
	OK Verdict = iota
	// DropMalformed: the packet is too short or its headers are inconsistent.
	DropMalformed
	// DropProtocol: NAT-2, only TCP, UDP, ICMP queries (and ICMP errors about
	// them) are translated by a NAT gateway.
	DropProtocol
	// DropFragment: a non-first IPv4 fragment whose connection cannot be
	// named: it carries no ports, and no FirstFragment came with it (or it
	// is part of an ICMP error). See Gateway.
	DropFragment
	// DropPortAllocation: NAT-3, no port left for this destination on any
	// of the gateway's addresses.
	DropPortAllocation
	// DropUnsolicited: NAT-5, no connection matches and this packet may not
	// open one (inbound traffic, replies, errors, RSTs).
	DropUnsolicited
	// SendRST: NAT-4, a TCP segment for a connection that timed out (or that
	// the gateway does not know and that is not a SYN). Drop it and answer
	// with BuildRST.
	SendRST
	// DropNoPublicIP: IGW-2, the private source has no public IP or EIP.
	DropNoPublicIP
	// DropNoAssociation: IGW-2, the public destination is associated with
	// no private IP.
	DropNoAssociation

	numVerdicts
)

var verdictNames = [numVerdicts]string{
	OK:                 "ok",
	DropMalformed:      "nat-malformed",
	DropProtocol:       "nat-unsupported-protocol (NAT-2)",
	DropFragment:       "nat-non-first-fragment",
	DropPortAllocation: "nat-port-allocation (NAT-3)",
	DropUnsolicited:    "nat-unsolicited-inbound (NAT-5)",
	SendRST:            "nat-idle-timeout (NAT-4)",
	DropNoPublicIP:     "igw-no-public-ip (IGW-2)",
	DropNoAssociation:  "igw-unassociated-public-ip (IGW-2)",
}

// String names the verdict and the rule behind it.
func (v Verdict) String() string {
	if v < numVerdicts {
		return verdictNames[v]
	}
	return "unknown"
}
