package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/vpcnet/vpcnet/daemon"
)

// EC2's parameters for the security-group, NACL-entry and Elastic IP
// commands, built from their flags as the AWS CLI's customizations build
// them (awscli/customizations/ec2/secgroupsimplify.py and protocolarg.py):
//
//	authorize-security-group-ingress --group-id G --protocol tcp --port 80 --cidr X
//	  → GroupId G, IpPermissions [{IpProtocol tcp, FromPort 80, ToPort 80, IpRanges [{CidrIp X}]}]
//
// vpcnet's extensions stay: names wherever ids (the handlers resolve them),
// --name as the Name tag, and --port-range 80 or 1024-65535 beside the
// AWS CLI's From=1024,To=65535.

func init() {
	typedInputs["AuthorizeSecurityGroupIngress"] = sgPermissionInput
	typedInputs["AuthorizeSecurityGroupEgress"] = sgPermissionInput
	typedInputs["RevokeSecurityGroupIngress"] = sgPermissionInput
	typedInputs["RevokeSecurityGroupEgress"] = sgPermissionInput
	typedInputs["CreateNetworkAclEntry"] = naclEntryInput
	typedInputs["ReplaceNetworkAclEntry"] = naclEntryInput
	typedInputs["DeleteNetworkAclEntry"] = naclDeleteInput
	typedInputs["AllocateAddress"] = allocateAddressInput
	typedInputs["AssociateAddress"] = associateAddressInput
	typedInputs["DisassociateAddress"] = func(req flagRequest) (map[string]any, error) {
		return copyMembers(req, map[string]string{"association-id": "AssociationId", "public-ip": "PublicIp"}), nil
	}
	typedInputs["ReleaseAddress"] = func(req flagRequest) (map[string]any, error) {
		return copyMembers(req, map[string]string{"allocation-id": "AllocationId"}), nil
	}
}

// copyMembers copies the string flags of req that names maps to their
// member names.
func copyMembers(req flagRequest, names map[string]string) map[string]any {
	in := map[string]any{}
	for flag, member := range names {
		if v, ok := req[flag]; ok {
			in[member] = v
		}
	}
	return in
}

func usageError(format string, args ...any) error {
	return &daemon.OpError{Code: "InvalidParameterValue", Message: fmt.Sprintf(format, args...)}
}

// sgPermissionInput builds the one IpPermission of --protocol, --port,
// --cidr and --source-group, as the AWS CLI does for all four authorize
// and revoke commands.
func sgPermissionInput(req flagRequest) (map[string]any, error) {
	in := copyMembers(req, map[string]string{"group-id": "GroupId"})
	perm := map[string]any{}
	if p, ok := req["protocol"]; ok {
		proto, err := sgProtocol(p)
		if err != nil {
			return nil, err
		}
		perm["IpProtocol"] = proto
	}
	if p, ok := req["port"]; ok {
		from, to, err := sgPort(p)
		if err != nil {
			return nil, err
		}
		perm["FromPort"], perm["ToPort"] = from, to
	}
	if c, ok := req["cidr"]; ok {
		perm["IpRanges"] = []any{map[string]any{"CidrIp": c}}
	}
	if g, ok := req["source-group"]; ok {
		key := "GroupName"
		if strings.HasPrefix(g, "sg-") {
			key = "GroupId"
		}
		perm["UserIdGroupPairs"] = []any{map[string]any{key: g}}
	}
	if len(perm) > 0 {
		in["IpPermissions"] = []any{perm}
	}
	return in, nil
}

// sgProtocol is the AWS CLI's --protocol: tcp, udp, icmp, all (sent as
// -1), or a protocol number 0-255 or -1.
func sgProtocol(p string) (string, error) {
	if n, err := strconv.Atoi(p); err == nil {
		if (n < 0 || n > 255) && n != -1 {
			return "", usageError("--protocol %s: protocol numbers must be in the range 0-255 or -1 to specify all protocols", p)
		}
		return p, nil
	}
	switch p {
	case "tcp", "udp", "icmp":
		return p, nil
	case "all":
		return "-1", nil
	}
	return "", usageError("--protocol %q: protocol parameter should be one of: tcp|udp|icmp|all or any valid protocol number.", p)
}

// sgPort is the AWS CLI's --port: -1 or all is FromPort -1 and ToPort -1;
// FROM-TO (split at the first "-", so for icmp 8--1 is type 8 with any
// code) or a single N, which is FromPort N and ToPort N (for icmp: type N,
// code N).
func sgPort(p string) (int, int, error) {
	fromS, toS := p, p
	switch {
	case p == "-1" || p == "all":
		return -1, -1, nil
	case strings.Contains(p, "-"):
		fromS, toS, _ = strings.Cut(p, "-")
	}
	from, err1 := strconv.Atoi(strings.TrimSpace(fromS))
	to, err2 := strconv.Atoi(strings.TrimSpace(toS))
	if err1 != nil || err2 != nil {
		return 0, 0, usageError("--port %q: port parameter should be of the form <from[-to]> (e.g. 22 or 22-25)", p)
	}
	return from, to, nil
}

// naclEntryInput builds CreateNetworkAclEntry's and
// ReplaceNetworkAclEntry's parameters. --protocol tcp, udp, icmp and all
// are sent as 6, 17, 1 and -1, as the AWS CLI sends them.
func naclEntryInput(req flagRequest) (map[string]any, error) {
	in, err := naclDeleteInput(req)
	if err != nil {
		return nil, err
	}
	for flag, member := range map[string]string{"cidr-block": "CidrBlock", "rule-action": "RuleAction"} {
		if v, ok := req[flag]; ok {
			in[member] = v
		}
	}
	if p, ok := req["protocol"]; ok {
		in["Protocol"] = map[string]string{"tcp": "6", "udp": "17", "icmp": "1", "all": "-1"}[p]
		if in["Protocol"] == "" {
			in["Protocol"] = p
		}
	}
	if s, ok := req["port-range"]; ok {
		r, err := intMembers("--port-range", s, "From", "To")
		if err != nil {
			if from, to, ok := plainPortRange(s); ok {
				r, err = map[string]any{"From": from, "To": to}, nil
			}
		}
		if err != nil {
			return nil, err
		}
		in["PortRange"] = r
	}
	if s, ok := req["icmp-type-code"]; ok {
		tc, err := intMembers("--icmp-type-code", s, "Type", "Code")
		if err != nil {
			return nil, err
		}
		in["IcmpTypeCode"] = tc
	}
	return in, nil
}

// naclDeleteInput builds DeleteNetworkAclEntry's parameters: the NACL, the
// direction (--egress or --ingress) and the rule number, a whole number.
func naclDeleteInput(req flagRequest) (map[string]any, error) {
	in := copyMembers(req, map[string]string{"network-acl-id": "NetworkAclId"})
	if req["egress"] == "true" || req["ingress"] == "true" {
		in["Egress"] = req["egress"] == "true"
	}
	if s, ok := req["rule-number"]; ok {
		n, err := strconv.Atoi(s) // the whole value: "150abc" is no number (issue 10)
		if err != nil {
			return nil, usageError("Invalid value '%s' for --rule-number: not a whole number", s)
		}
		in["RuleNumber"] = n
	}
	return in, nil
}

// intMembers reads a structure of whole-number members given as the AWS
// CLI's shorthand (Type=8,Code=0) or as JSON ({"Type": 8, "Code": 0}).
// Keys are the members' names (any case); a key given twice, an unknown
// key or a value that is not a whole number is refused, never read as -1
// (issue 10: "Type=O" became "any type").
func intMembers(flag, s string, keys ...string) (map[string]any, error) {
	out := map[string]any{}
	bad := func(why string) error {
		return usageError("Invalid value '%s' for %s: %s (%s=N,%s=N, or JSON)", s, flag, why, keys[0], keys[1])
	}
	member := func(k string) (string, bool) {
		for _, key := range keys {
			if strings.EqualFold(k, key) {
				return key, true
			}
		}
		return "", false
	}
	if strings.HasPrefix(strings.TrimSpace(s), "{") {
		var raw map[string]json.Number
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		if err := d.Decode(&raw); err != nil {
			return nil, bad(err.Error())
		}
		for k, v := range raw {
			m, ok := member(k)
			n, err := strconv.Atoi(v.String())
			switch {
			case !ok:
				return nil, bad(fmt.Sprintf("unknown key %q", k))
			case err != nil:
				return nil, bad(fmt.Sprintf("%s %s is not a whole number", k, v))
			case out[m] != nil:
				return nil, bad(m + " given twice")
			}
			out[m] = n
		}
		return out, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		m, known := member(strings.TrimSpace(k))
		if !ok || !known {
			return nil, bad(fmt.Sprintf("unknown key %q", strings.TrimSpace(k)))
		}
		if out[m] != nil {
			return nil, bad(m + " given twice")
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return nil, bad(fmt.Sprintf("%s %q is not a whole number", m, v))
		}
		out[m] = n
	}
	return out, nil
}

// plainPortRange reads vpcnet's own --port-range forms, 80 and 1024-65535.
func plainPortRange(s string) (int, int, bool) {
	a, b, found := strings.Cut(strings.TrimSpace(s), "-")
	if !found {
		b = a
	}
	from, err1 := strconv.Atoi(a)
	to, err2 := strconv.Atoi(b)
	return from, to, err1 == nil && err2 == nil
}

// allocateAddressInput: --name is the Name tag of the new Elastic IP.
func allocateAddressInput(req flagRequest) (map[string]any, error) {
	in := copyMembers(req, map[string]string{"address": "Address", "public-ipv4-pool": "PublicIpv4Pool",
		"network-border-group": "NetworkBorderGroup"})
	if name, ok := req["name"]; ok {
		in["TagSpecifications"] = []any{map[string]any{"ResourceType": "elastic-ip",
			"Tags": []any{map[string]any{"Key": "Name", "Value": name}}}}
	}
	return in, nil
}

func associateAddressInput(req flagRequest) (map[string]any, error) {
	in := copyMembers(req, map[string]string{"allocation-id": "AllocationId", "instance-id": "InstanceId",
		"network-interface-id": "NetworkInterfaceId", "private-ip-address": "PrivateIpAddress"})
	if v, ok := req["allow-reassociation"]; ok {
		in["AllowReassociation"] = v == "true"
	}
	return in, nil
}
