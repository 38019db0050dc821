// Command ec2model writes ec2/query/model.json: the subset of EC2's (and
// STS's) service model that vpcnet's Query endpoint serves, taken from the
// botocore service models that Debian's python3-botocore ships; and
// ec2/types/types_gen.go, a Go type for every structure and enum of that
// subset (see types.go for how shapes become Go types).
//
// Regenerate (from the repository root):
//
//	apt-get install -y python3-botocore
//	go run ./scripts/ec2model
//
// Flags: -botocore DIR (default /usr/lib/python3/dist-packages/botocore),
// -out FILE (default ec2/query/model.json) and -types FILE (default
// ec2/types/types_gen.go). To serve one more operation, add
// its name to ec2Operations (or stsOperations) below and run it again: every
// shape that the operation's input and output reach is copied, without the
// documentation, keeping what the Query protocol needs (members in model
// order, locationName, queryName, flattened, type, enum, required, min/max,
// timestampFormat, resultWrapper). The output is deterministic: running it
// twice on the same botocore gives the same bytes (both files).
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// ec2Operations are the EC2 operations vpcnet serves: those of
// cmd/vpcnet/ops.go and the ones clients make around them (issue 11).
var ec2Operations = []string{
	// Security groups and network ACLs.
	"AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress",
	"RevokeSecurityGroupIngress", "RevokeSecurityGroupEgress",
	"DescribeSecurityGroups",
	"CreateNetworkAclEntry", "ReplaceNetworkAclEntry", "DeleteNetworkAclEntry",
	"DescribeNetworkAcls",
	// Elastic IPs.
	"AllocateAddress", "AssociateAddress", "DisassociateAddress", "ReleaseAddress",
	"DescribeAddresses",
	// Network interfaces.
	"CreateNetworkInterface", "DeleteNetworkInterface",
	"AttachNetworkInterface", "DetachNetworkInterface",
	"ModifyNetworkInterfaceAttribute",
	"AssignPrivateIpAddresses", "UnassignPrivateIpAddresses",
	"DescribeNetworkInterfaces",
	// Instances.
	"RunInstances", "TerminateInstances", "StopInstances", "StartInstances",
	"ModifyInstanceAttribute", "DescribeInstances",
	// Routes and the rest of the network.
	"CreateRoute", "ReplaceRoute", "DeleteRoute", "DescribeRouteTables",
	"DescribeVpcs", "DescribeSubnets", "DescribeNatGateways",
	// Path analysis (OBS-3): Reachability Analyzer's paths and analyses.
	"CreateNetworkInsightsPath", "DescribeNetworkInsightsPaths", "DeleteNetworkInsightsPath",
	"StartNetworkInsightsAnalysis", "DescribeNetworkInsightsAnalyses", "DeleteNetworkInsightsAnalysis",
	// The calls clients make around the real ones.
	"DescribeRegions", "DescribeAvailabilityZones", "DescribeAccountAttributes",
	"DescribeImages", "DescribeInstanceTypes",
	"DescribeKeyPairs", "CreateKeyPair", "ImportKeyPair", "DeleteKeyPair",
	"CreateTags", "DeleteTags", "DescribeTags",
	// Security groups themselves (issue 12).
	"CreateSecurityGroup", "DeleteSecurityGroup",
	"DescribeSecurityGroupRules", "ModifySecurityGroupRules",
	// The rest of a VPC's lifecycle (issue 12).
	"CreateVpc", "DeleteVpc", "DescribeVpcAttribute", "ModifyVpcAttribute",
	"AssociateVpcCidrBlock", "DisassociateVpcCidrBlock",
	"CreateSubnet", "DeleteSubnet", "ModifySubnetAttribute",
	"CreateInternetGateway", "AttachInternetGateway", "DetachInternetGateway",
	"DeleteInternetGateway", "DescribeInternetGateways",
	"CreateRouteTable", "DeleteRouteTable", "AssociateRouteTable",
	"DisassociateRouteTable", "ReplaceRouteTableAssociation",
	"CreateNatGateway", "DeleteNatGateway",
	"CreateNetworkAcl", "DeleteNetworkAcl", "ReplaceNetworkAclAssociation",
	"CreateVpcPeeringConnection", "AcceptVpcPeeringConnection", "RejectVpcPeeringConnection",
	"DeleteVpcPeeringConnection", "DescribeVpcPeeringConnections",
	"CreateFlowLogs", "DescribeFlowLogs", "DeleteFlowLogs",
	// DNS and addresses (issue 13).
	"CreateDhcpOptions", "AssociateDhcpOptions", "DescribeDhcpOptions", "DeleteDhcpOptions",
	"ModifyAddressAttribute", "DescribeAddressesAttribute", "ResetAddressAttribute",
	// Traffic Mirroring (issue 14).
	"CreateTrafficMirrorTarget", "DeleteTrafficMirrorTarget", "DescribeTrafficMirrorTargets",
	"CreateTrafficMirrorFilter", "DeleteTrafficMirrorFilter", "DescribeTrafficMirrorFilters",
	"CreateTrafficMirrorFilterRule", "DeleteTrafficMirrorFilterRule",
	"CreateTrafficMirrorSession", "DeleteTrafficMirrorSession", "DescribeTrafficMirrorSessions",
}

// stsOperations are the STS operations served on the same endpoint.
var stsOperations = []string{"GetCallerIdentity"}

func main() {
	dir := flag.String("botocore", "/usr/lib/python3/dist-packages/botocore", "botocore's package directory (python3-botocore)")
	out := flag.String("out", "ec2/query/model.json", "the model subset to write")
	typesOut := flag.String("types", "ec2/types/types_gen.go", "the Go types to write")
	flag.Parse()
	model, types, err := generate(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ec2model:", err)
		os.Exit(1)
	}
	for _, f := range []struct {
		path string
		b    []byte
	}{{*out, model}, {*typesOut, types}} {
		if err := os.WriteFile(f.path, f.b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "ec2model:", err)
			os.Exit(1)
		}
		fmt.Printf("wrote %s: %d bytes\n", f.path, len(f.b))
	}
}

// The botocore model, as much of it as is read here. Structure members are
// kept in model order (members).

type botoModel struct {
	Metadata struct {
		APIVersion   string `json:"apiVersion"`
		Protocol     string `json:"protocol"`
		XMLNamespace string `json:"xmlNamespace"`
		EndpointPref string `json:"endpointPrefix"`
	} `json:"metadata"`
	Operations map[string]struct {
		Input  *ref `json:"input"`
		Output *ref `json:"output"`
	} `json:"operations"`
	Shapes map[string]*shape `json:"shapes"`
}

// ref is a reference to a shape with the serialization attributes the
// Query protocol reads; on a shape those attributes apply to every use.
type ref struct {
	Name          string `json:"name,omitempty"` // structure members only
	Shape         string `json:"shape,omitempty"`
	LocationName  string `json:"locationName,omitempty"`
	QueryName     string `json:"queryName,omitempty"`
	Flattened     bool   `json:"flattened,omitempty"`
	XMLAttribute  bool   `json:"xmlAttribute,omitempty"`
	ResultWrapper string `json:"resultWrapper,omitempty"`
}

type shape struct {
	Type            string   `json:"type"`
	Required        []string `json:"required,omitempty"`
	Enum            []string `json:"enum,omitempty"`
	Min             *float64 `json:"min,omitempty"`
	Max             *float64 `json:"max,omitempty"`
	LocationName    string   `json:"locationName,omitempty"`
	Flattened       bool     `json:"flattened,omitempty"`
	TimestampFormat string   `json:"timestampFormat,omitempty"`
	Member          *ref     `json:"member,omitempty"`
	Key             *ref     `json:"key,omitempty"`
	Value           *ref     `json:"value,omitempty"`
	Members         members  `json:"members,omitempty"`
}

// members decodes a JSON object of name → ref into a list in the object's
// order (encoding/json's maps would sort it).
type members []*ref

func (m *members) UnmarshalJSON(b []byte) error {
	d := json.NewDecoder(bytes.NewReader(b))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("members: not an object")
	}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return err
		}
		r := &ref{}
		if err := d.Decode(r); err != nil {
			return err
		}
		r.Name = t.(string)
		*m = append(*m, r)
	}
	return nil
}

type service struct {
	APIVersion   string `json:"apiVersion"`
	Protocol     string `json:"protocol"`
	XMLNamespace string `json:"xmlNamespace"`
	SigningName  string `json:"signingName"`
	Source       string `json:"source"`
}

type operation struct {
	Service string `json:"service"`
	Input   *ref   `json:"input,omitempty"`
	Output  *ref   `json:"output,omitempty"`
}

// generate reads botocore's models in dir and makes model.json and
// types_gen.go.
func generate(dir string) (model, types []byte, err error) {
	version := botocoreVersion(dir)
	services := map[string]service{}
	ops := map[string]operation{}
	shapes := map[string]map[string]*shape{}
	for _, s := range []struct {
		name, path string
		ops        []string
	}{
		{"ec2", "ec2/2016-11-15/service-2.json", ec2Operations},
		{"sts", "sts/2011-06-15/service-2.json", stsOperations},
	} {
		m, err := load(filepath.Join(dir, "data", s.path))
		if err != nil {
			return nil, nil, err
		}
		ns := m.Metadata.XMLNamespace
		if m.Metadata.Protocol == "ec2" && !strings.HasSuffix(ns, "/") {
			// EC2's answers carry the namespace with its final slash
			// (xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"), the
			// model's metadata lacks it.
			ns += "/"
		}
		services[s.name] = service{APIVersion: m.Metadata.APIVersion, Protocol: m.Metadata.Protocol,
			XMLNamespace: ns, SigningName: m.Metadata.EndpointPref,
			Source: "botocore " + version + " " + s.path}
		keep := map[string]*shape{}
		for _, name := range s.ops {
			op, ok := m.Operations[name]
			if !ok {
				return nil, nil, fmt.Errorf("%s: no operation %s", s.path, name)
			}
			for _, r := range []*ref{op.Input, op.Output} {
				if r != nil {
					if err := reach(m, r.Shape, keep); err != nil {
						return nil, nil, fmt.Errorf("%s %s: %w", s.name, name, err)
					}
				}
			}
			ops[name] = operation{Service: s.name, Input: op.Input, Output: op.Output}
		}
		shapes[s.name] = keep
	}
	if model, err = write(services, ops, shapes); err != nil {
		return nil, nil, err
	}
	if types, err = goTypes(version, ops, shapes); err != nil {
		return nil, nil, err
	}
	return model, types, nil
}

// reach copies the shape name and every shape it refers to into keep.
func reach(m *botoModel, name string, keep map[string]*shape) error {
	if _, done := keep[name]; done {
		return nil
	}
	s, ok := m.Shapes[name]
	if !ok {
		return fmt.Errorf("no shape %s", name)
	}
	keep[name] = s
	var refs []*ref
	refs = append(refs, s.Members...)
	refs = append(refs, s.Member, s.Key, s.Value)
	for _, r := range refs {
		if r != nil {
			if err := reach(m, r.Shape, keep); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	return nil
}

// load reads a service model, plain or gzipped (newer botocore ships
// service-2.json.gz).
func load(path string) (*botoModel, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		f, gerr := os.Open(path + ".gz")
		if gerr != nil {
			return nil, fmt.Errorf("%w (install python3-botocore)", err)
		}
		defer f.Close()
		z, gerr := gzip.NewReader(f)
		if gerr != nil {
			return nil, fmt.Errorf("%s.gz: %w", path, gerr)
		}
		b, err = io.ReadAll(z)
	}
	if err != nil {
		return nil, err
	}
	m := &botoModel{}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

func botocoreVersion(dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, "__init__.py"))
	if m := regexp.MustCompile(`__version__ = '([^']+)'`).FindSubmatch(b); m != nil {
		return string(m[1])
	}
	return "(unknown version)"
}

// write lays the model out one operation and one shape a line, sorted, so
// that a regeneration's diff shows what changed.
func write(services map[string]service, ops map[string]operation, shapes map[string]map[string]*shape) ([]byte, error) {
	var buf bytes.Buffer
	line := func(indent, key string, v any, last bool) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		k, _ := json.Marshal(key)
		fmt.Fprintf(&buf, "%s%s: %s", indent, k, b)
		if !last {
			buf.WriteByte(',')
		}
		buf.WriteByte('\n')
		return nil
	}
	buf.WriteString("{\n\"services\": {\n")
	names := sortedKeys(services)
	for i, n := range names {
		if err := line("  ", n, services[n], i == len(names)-1); err != nil {
			return nil, err
		}
	}
	buf.WriteString("},\n\"operations\": {\n")
	names = sortedKeys(ops)
	for i, n := range names {
		if err := line("  ", n, ops[n], i == len(names)-1); err != nil {
			return nil, err
		}
	}
	buf.WriteString("},\n\"shapes\": {\n")
	svcs := sortedKeys(shapes)
	for i, svc := range svcs {
		fmt.Fprintf(&buf, "  %q: {\n", svc)
		names := sortedKeys(shapes[svc])
		for j, n := range names {
			if err := line("    ", n, shapes[svc][n], j == len(names)-1); err != nil {
				return nil, err
			}
		}
		buf.WriteString("  }")
		if i < len(svcs)-1 {
			buf.WriteByte(',')
		}
		buf.WriteByte('\n')
	}
	buf.WriteString("}\n}\n")
	if !json.Valid(buf.Bytes()) {
		return nil, fmt.Errorf("internal error: output is not valid JSON")
	}
	return buf.Bytes(), nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return slices.Clip(keys)
}
