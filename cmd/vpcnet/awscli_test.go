package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vpcnet/vpcnet/daemon"
	"github.com/vpcnet/vpcnet/ec2/query"
)

// TestCLINameAsBotocore: member names become the AWS CLI's flag names by
// botocore's xform_name.
func TestCLINameAsBotocore(t *testing.T) {
	for member, want := range map[string]string{
		"GroupId": "group-id", "DryRun": "dry-run", "MaxResults": "max-results", "NextToken": "next-token",
		"Filters": "filters", "VpcIds": "vpc-ids", "IpPermissions": "ip-permissions", "TagSpecifications": "tag-specifications",
		"CidrIp": "cidr-ip", "SourceSecurityGroupOwnerId": "source-security-group-owner-id",
		"Ipv6CidrBlock": "ipv6-cidr-block", "AssignIpv6AddressOnCreation": "assign-ipv6-address-on-creation",
		"Ipv6Addresses": "ipv6-addresses", "DhcpOptionsIds": "dhcp-options-ids", "EbsOptimized": "ebs-optimized",
		"SecondaryPrivateIpAddressCount": "secondary-private-ip-address-count", "UserData": "user-data",
	} {
		if got := cliName(member); got != want {
			t.Errorf("cliName(%s) = %s, want %s", member, got, want)
		}
	}
}

// TestShorthandSyntax: the AWS CLI's shorthand, case by case as
// awscli/shorthand.py parses it.
func TestShorthandSyntax(t *testing.T) {
	type m = map[string]any
	type l = []any
	cases := []struct {
		name, in string
		want     map[string]any
	}{
		{"filter", "Name=vpc-id,Values=vpc-1,vpc-2", m{"Name": "vpc-id", "Values": l{"vpc-1", "vpc-2"}}},
		{"tag", "Key=Name,Value=web", m{"Key": "Name", "Value": "web"}},
		{"one value is a scalar", "Name=vpc-id,Values=vpc-1", m{"Name": "vpc-id", "Values": "vpc-1"}},
		{"backtrack to the next key", "Values=a,b,Name=c", m{"Values": l{"a", "b"}, "Name": "c"}},
		{"nested list of structures", "IpProtocol=tcp,FromPort=80,ToPort=80,IpRanges=[{CidrIp=0.0.0.0/0}]",
			m{"IpProtocol": "tcp", "FromPort": "80", "ToPort": "80", "IpRanges": l{m{"CidrIp": "0.0.0.0/0"}}}},
		{"two nested items", "IpRanges=[{CidrIp=10.0.0.0/8,Description=office},{CidrIp=192.168.0.0/16}]",
			m{"IpRanges": l{m{"CidrIp": "10.0.0.0/8", "Description": "office"}, m{"CidrIp": "192.168.0.0/16"}}}},
		{"explicit list", "Values=[a,b]", m{"Values": l{"a", "b"}}},
		{"nested explicit lists", "A=[[x,y],[z]]", m{"A": l{l{"x", "y"}, l{"z"}}}},
		{"hash", "A={B=1,C=[2,3]}", m{"A": m{"B": "1", "C": l{"2", "3"}}}},
		{"double quotes keep commas", `Name="a,b",Values=c`, m{"Name": "a,b", "Values": "c"}},
		{"single quotes keep spaces", `Value='x y'`, m{"Value": "x y"}},
		{"escaped quote", `Value='it\'s'`, m{"Value": "it's"}},
		{"escaped comma", `Value=a\,b`, m{"Value": "a,b"}},
		{"empty value", "Key=Name,Value=", m{"Key": "Name", "Value": ""}},
		{"spaces around", "Name = a , Values = b", m{"Name": "a", "Values": "b"}},
		{"value with = and /", "Key=k,Value=a=b/c", m{"Key": "k", "Value": "a=b/c"}},
		{"key with colon", "tag:Name=x", m{"tag:Name": "x"}},
	}
	for _, c := range cases {
		got, err := parseShorthand(c.in)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: parseShorthand(%q) = %#v, %v; want %#v", c.name, c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"Name", "Name=a,Name=b", "Name=[a", "Name={a=b", "Name='abc", `Name="abc`, "Name=a,", "Name=[a,b]x", "Name=a,,"} {
		if got, err := parseShorthand(bad); err == nil {
			t.Errorf("parseShorthand(%q) = %#v, want a syntax error", bad, got)
		}
	}
	var se *shorthandError
	if _, err := parseShorthand("Name"); !errors.As(err, &se) || !strings.Contains(err.Error(), "Expected: '=', received: 'EOF' for input:\nName\n    ^") {
		t.Errorf("the error shows where: %v", err)
	}
}

func inputMember(t *testing.T, api, member string) query.Member {
	t.Helper()
	in, ok := query.InputShape(api)
	if !ok {
		t.Fatalf("no input shape for %s", api)
	}
	m, ok := in.Member(member)
	if !ok {
		t.Fatalf("%s has no member %s", api, member)
	}
	return m
}

// TestParseMemberValues: a member flag's values by the member's type:
// lists of scalars space-separated, repeated or comma-separated; lists of
// structures in shorthand (converted to the model's types) or JSON; a
// structure in shorthand or JSON; file:// for any value.
func TestParseMemberValues(t *testing.T) {
	dir := t.TempDir()
	perms := filepath.Join(dir, "perms.json")
	os.WriteFile(perms, []byte(`[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]`), 0o600)
	key := filepath.Join(dir, "key.pub")
	os.WriteFile(key, []byte("ssh-ed25519 AAAA"), 0o600)
	cases := []struct {
		api, member string
		values      []string
		want        string // JSON
	}{
		{"DescribeVpcs", "VpcIds", []string{"vpc-1", "vpc-2"}, `["vpc-1","vpc-2"]`},
		{"DescribeVpcs", "VpcIds", []string{"vpc-1,vpc-2", "vpc-3"}, `["vpc-1","vpc-2","vpc-3"]`},
		{"DescribeVpcs", "VpcIds", []string{`["vpc-1", "vpc-2"]`}, `["vpc-1","vpc-2"]`},
		{"DescribeVpcs", "MaxResults", []string{"5"}, `5`},
		{"DescribeVpcs", "Filters", []string{"Name=vpc-id,Values=vpc-1,vpc-2", "Name=tag:Name,Values=main"},
			`[{"Name":"vpc-id","Values":["vpc-1","vpc-2"]},{"Name":"tag:Name","Values":["main"]}]`},
		{"DescribeVpcs", "Filters", []string{`[{"Name": "vpc-id", "Values": ["vpc-1"]}]`}, `[{"Name":"vpc-id","Values":["vpc-1"]}]`},
		{"DescribeVpcs", "Filters", []string{`{"Name": "a", "Values": ["1"]}`, `{"Name": "b", "Values": ["2"]}`},
			`[{"Name":"a","Values":["1"]},{"Name":"b","Values":["2"]}]`},
		{"AuthorizeSecurityGroupIngress", "IpPermissions", []string{"IpProtocol=tcp,FromPort=80,ToPort=80,IpRanges=[{CidrIp=0.0.0.0/0}]"},
			`[{"FromPort":80,"IpProtocol":"tcp","IpRanges":[{"CidrIp":"0.0.0.0/0"}],"ToPort":80}]`},
		{"AuthorizeSecurityGroupIngress", "IpPermissions", []string{"IpProtocol=icmp,FromPort=-1,ToPort=-1,IpRanges=[{CidrIp=10.0.0.0/8,Description='ping, from office'}]",
			"IpProtocol=udp,FromPort=53,ToPort=53,UserIdGroupPairs=[{GroupId=sg-1}]"},
			`[{"FromPort":-1,"IpProtocol":"icmp","IpRanges":[{"CidrIp":"10.0.0.0/8","Description":"ping, from office"}],"ToPort":-1},` +
				`{"FromPort":53,"IpProtocol":"udp","ToPort":53,"UserIdGroupPairs":[{"GroupId":"sg-1"}]}]`},
		{"AuthorizeSecurityGroupIngress", "IpPermissions", []string{"file://" + perms},
			`[{"FromPort":22,"IpProtocol":"tcp","IpRanges":[{"CidrIp":"10.0.0.0/8"}],"ToPort":22}]`},
		{"AuthorizeSecurityGroupIngress", "TagSpecifications", []string{"ResourceType=security-group-rule,Tags=[{Key=Name,Value=web}]"},
			`[{"ResourceType":"security-group-rule","Tags":[{"Key":"Name","Value":"web"}]}]`},
		{"CreateNetworkAclEntry", "PortRange", []string{"From=1024,To=65535"}, `{"From":1024,"To":65535}`},
		{"CreateNetworkAclEntry", "PortRange", []string{`{"From": 80, "To": 80}`}, `{"From":80,"To":80}`},
		{"ImportKeyPair", "PublicKeyMaterial", []string{"fileb://" + key}, `"c3NoLWVkMjU1MTkgQUFBQQ=="`},
	}
	for _, c := range cases {
		m := inputMember(t, c.api, c.member)
		v, err := parseMember(m, cliName(c.member), c.values)
		if err != nil {
			t.Errorf("%s --%s %q: %v", c.api, cliName(c.member), c.values, err)
			continue
		}
		if b, _ := json.Marshal(v); string(b) != c.want {
			t.Errorf("%s --%s %q:\n got %s\nwant %s", c.api, cliName(c.member), c.values, b, c.want)
		}
	}
	bad := []struct {
		api, member string
		values      []string
		says        string
	}{
		{"DescribeVpcs", "MaxResults", []string{"5x"}, "Error parsing parameter '--max-results'"},
		{"DescribeVpcs", "Filters", []string{"Name"}, "Expected: '='"},
		{"DescribeVpcs", "Filters", []string{`[{"Name": "vpc-id"`}, "Invalid JSON"},
		{"AuthorizeSecurityGroupIngress", "IpPermissions", []string{"IpProtocol=tcp,FromPort=eighty"}, "invalid literal for int()"},
		{"AuthorizeSecurityGroupIngress", "IpPermissions", []string{"file://" + filepath.Join(dir, "missing")}, "Unable to load paramfile"},
		{"CreateNetworkAclEntry", "PortRange", []string{"From=1,To=2", "From=3,To=4"}, "expected one argument"},
		{"DescribeVpcs", "NextToken", []string{"file:///dev/zero"}, "larger than"},
	}
	for _, c := range bad {
		_, err := parseMember(inputMember(t, c.api, c.member), cliName(c.member), c.values)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != exitAWSUsage || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s --%s %q: err %v, want a usage error (252) saying %q", c.api, cliName(c.member), c.values, err, c.says)
		}
	}
}

// TestExpandListsAsArgparse: a list flag takes every argument up to the
// next option; --x=v takes one; a negative number is a value; "--" ends it.
func TestExpandListsAsArgparse(t *testing.T) {
	lists := map[string]bool{"instance-ids": true, "filters": true}
	cases := []struct{ in, want string }{
		{"--instance-ids i-1 i-2 --dry-run", "--instance-ids i-1 --instance-ids i-2 --dry-run"},
		{"--instance-ids=i-1 i-2", "--instance-ids=i-1 i-2"},
		{"--filters Name=a,Values=b Name=c,Values=d --output text", "--filters Name=a,Values=b --filters Name=c,Values=d --output text"},
		{"--instance-ids -1 -2 -x", "--instance-ids -1 --instance-ids -2 -x"},
		{"--instance-ids --dry-run", "--instance-ids --dry-run"},
		{"--instance-ids a -- b", "--instance-ids a -- b"},
		{"--group-id a b", "--group-id a b"},
		{"--instance-ids", "--instance-ids"},
	}
	for _, c := range cases {
		if got := strings.Join(expandLists(strings.Fields(c.in), lists), " "); got != c.want {
			t.Errorf("expandLists(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}

// TestValidateInputAsBotocore: before sending, the request is held to the
// model as botocore's ParamValidator holds it.
func TestValidateInputAsBotocore(t *testing.T) {
	cases := []struct {
		api, in string
		says    []string // "" = valid
	}{
		{"DescribeVpcs", `{"Filters": [{"Name": "vpc-id", "Values": ["a"]}], "MaxResults": 5}`, nil},
		{"DescribeVpcs", `{"Filters": [{"Nme": "vpc-id"}]}`, []string{`Unknown parameter in Filters[0]: "Nme", must be one of: Name, Values`}},
		{"DescribeVpcs", `{"VpcId": "a"}`, []string{`Unknown parameter in input: "VpcId", must be one of: Filters, VpcIds, DryRun, NextToken, MaxResults`}},
		{"DescribeVpcs", `{"VpcIds": "a"}`, []string{"Invalid type for parameter VpcIds, value: a, type: string, valid types: list"}},
		{"DescribeVpcs", `{"MaxResults": 1}`, []string{"Invalid value for parameter MaxResults, value: 1, valid min value: 5"}},
		{"DescribeVpcs", `{"MaxResults": 5.5}`, []string{"Invalid type for parameter MaxResults"}},
		{"CreateRoute", `{"DestinationCidrBlock": "0.0.0.0/0"}`, []string{`Missing required parameter in input: "RouteTableId"`}},
		{"AuthorizeSecurityGroupIngress", `{"IpPermissions": [{"FromPort": "x"}], "DryRun": "yes"}`,
			[]string{"Invalid type for parameter IpPermissions[0].FromPort, value: x, type: string, valid types: integer",
				"Invalid type for parameter DryRun, value: yes, type: string, valid types: boolean"}},
	}
	for _, c := range cases {
		var in map[string]any
		if err := json.Unmarshal([]byte(c.in), &in); err != nil {
			t.Fatal(err)
		}
		shape, _ := query.InputShape(c.api)
		err := validateInput(shape, in)
		if len(c.says) == 0 {
			if err != nil {
				t.Errorf("%s %s: %v", c.api, c.in, err)
			}
			continue
		}
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != exitAWSUsage || !strings.HasPrefix(err.Error(), "Parameter validation failed:\n") {
			t.Errorf("%s %s: err %v, want a usage error", c.api, c.in, err)
			continue
		}
		for _, s := range c.says {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s %s: %v\nwant it to say %q", c.api, c.in, err, s)
			}
		}
	}
}

// TestAWSCLIArguments: whole command lines through cobra, as the AWS CLI
// takes them, and the request they send (EC2's members by name).
func TestAWSCLIArguments(t *testing.T) {
	cases := []struct {
		op   string
		argv []string
		want string // the input sent, as JSON
	}{
		{"describe-vpcs", nil, `{}`},
		{"describe-vpcs", []string{"--vpc-ids", "vpc-1", "vpc-2", "--filters", "Name=cidr,Values=10.0.0.0/16", "Name=tag:Name,Values=main,test", "--dry-run"},
			`{"DryRun":true,"Filters":[{"Name":"cidr","Values":["10.0.0.0/16"]},{"Name":"tag:Name","Values":["main","test"]}],"VpcIds":["vpc-1","vpc-2"]}`},
		{"describe-vpcs", []string{"--max-results", "5", "--next-token", "abc", "--no-dry-run"}, `{"DryRun":false,"MaxResults":5,"NextToken":"abc"}`},
		{"describe-vpcs", []string{"--cli-input-json", `{"VpcIds": ["vpc-1"], "MaxResults": 6}`, "--max-results", "7"}, `{"MaxResults":7,"VpcIds":["vpc-1"]}`},
		{"terminate-instances", []string{"--instance-ids", "i-1", "i-2", "--dry-run"}, `{"DryRun":true,"InstanceIds":["i-1","i-2"]}`},
		{"terminate-instances", []string{"--instance-ids", "i-1,i-2", "--instance-ids", "i-3"}, `{"InstanceIds":["i-1","i-2","i-3"]}`},
		{"authorize-security-group-ingress", []string{"--group-id", "sg-1", "--ip-permissions",
			"IpProtocol=tcp,FromPort=80,ToPort=80,IpRanges=[{CidrIp=0.0.0.0/0}]", "IpProtocol=tcp,FromPort=443,ToPort=443,IpRanges=[{CidrIp=0.0.0.0/0}]"},
			`{"GroupId":"sg-1","IpPermissions":[{"FromPort":80,"IpProtocol":"tcp","IpRanges":[{"CidrIp":"0.0.0.0/0"}],"ToPort":80},{"FromPort":443,"IpProtocol":"tcp","IpRanges":[{"CidrIp":"0.0.0.0/0"}],"ToPort":443}]}`},
		{"authorize-security-group-ingress", []string{"--group-id", "sg-1", "--protocol", "tcp", "--port", "22", "--cidr", "10.0.0.0/8", "--dry-run"},
			`{"DryRun":true,"GroupId":"sg-1","IpPermissions":[{"FromPort":22,"IpProtocol":"tcp","IpRanges":[{"CidrIp":"10.0.0.0/8"}],"ToPort":22}]}`},
		{"create-route", []string{"--route-table-id", "rtb-1", "--destination-cidr-block", "0.0.0.0/0", "--gateway-id", "igw-1"},
			`{"DestinationCidrBlock":"0.0.0.0/0","GatewayId":"igw-1","RouteTableId":"rtb-1"}`},
		{"create-network-acl-entry", []string{"--network-acl-id", "acl-1", "--rule-number", "100", "--protocol", "6", "--rule-action", "allow",
			"--cidr-block", "0.0.0.0/0", "--no-egress", "--port-range", "From=80,To=80"},
			`{"CidrBlock":"0.0.0.0/0","Egress":false,"NetworkAclId":"acl-1","PortRange":{"From":80,"To":80},"Protocol":"6","RuleAction":"allow","RuleNumber":100}`},
		{"modify-instance-attribute", []string{"--instance-id", "i-1", "--no-disable-api-termination"}, `{"DisableApiTermination":{"Value":false},"InstanceId":"i-1"}`},
		{"describe-vpcs", []string{"--region", "us-east-1", "--profile", "lab", "--no-cli-pager", "--output", "text", "--query", "Vpcs[].VpcId"}, `{}`},
	}
	for _, c := range cases {
		call, _, err := runCall(t, opNamed(t, c.op), c.argv, map[string]any{})
		if err != nil || call == nil {
			t.Errorf("%s %q: err %v, sent %v", c.op, c.argv, err, call)
			continue
		}
		if b, _ := json.Marshal(call.input); string(b) != c.want {
			t.Errorf("%s %q:\n sent %s\n want %s", c.op, c.argv, b, c.want)
		}
	}
	call, _, _ := runCall(t, opNamed(t, "describe-vpcs"), []string{"--region", "eu-west-1"}, map[string]any{})
	if call == nil || call.region != "eu-west-1" {
		t.Errorf("--region is not passed on to be checked against the topology's: %+v", call)
	}
}

// TestAWSCLIExitCodes: usage errors exit 252 and send nothing; an error
// code from the daemon exits 254 in the AWS CLI's words (DryRunOperation
// included); the daemon not answering exits 255.
func TestAWSCLIExitCodes(t *testing.T) {
	usage := []struct {
		op   string
		argv []string
		says string
	}{
		{"describe-vpcs", []string{"--vpc-idz", "a"}, "unknown flag: --vpc-idz"},
		{"describe-vpcs", []string{"--filters", "Name"}, "Expected: '='"},
		{"describe-vpcs", []string{"--filters", "Nam=x"}, `Unknown parameter in Filters[0]: "Nam"`},
		{"describe-vpcs", []string{"--dry-run", "--no-dry-run"}, "none of the others"},
		{"describe-vpcs", []string{"--max-results", "1"}, "valid min value: 5"},
		{"describe-vpcs", []string{"--output", "xml"}, "must be one of"},
		{"describe-vpcs", []string{"--query", "Vpcs[", "--output", "json"}, "Bad value for --query"},
		{"describe-vpcs", []string{"extra"}, "Unknown options: extra"},
		{"describe-vpcs", []string{"--cli-input-json", "{"}, "Invalid JSON received"},
		{"create-route", []string{"--destination-cidr-block", "0.0.0.0/0", "--gateway-id", "igw-1", "--dry-run"}, `Missing required parameter in input: "RouteTableId"`},
		{"authorize-security-group-ingress", []string{"--group-id", "g", "--protocol", "tcp", "--ip-permissions", "IpProtocol=udp"}, "both give IpPermissions"},
		{"authorize-security-group-ingress", []string{"--group-id", "g", "--protocol", "tcp", "--port", "80x", "--cidr", "0.0.0.0/0"}, "InvalidParameterValue"},
		{"create-network-interface", []string{"--groups", "g1"}, "An error occurred (MissingParameter)"},
	}
	for _, c := range usage {
		call, _, err := runCall(t, opNamed(t, c.op), c.argv, map[string]any{})
		var ee *exitError
		if call != nil || !errors.As(err, &ee) || ee.code != exitAWSUsage || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s %q: sent %v, err %v; want exit 252 saying %q and nothing sent", c.op, c.argv, call, err, c.says)
		}
	}
	dry := awsError("AuthorizeSecurityGroupIngress", &daemon.OpError{Code: "DryRunOperation", Message: query.DryRunMessage})
	_, _, err := runCall(t, opNamed(t, "authorize-security-group-ingress"), []string{"--group-id", "g", "--protocol", "tcp", "--cidr", "0.0.0.0/0", "--dry-run"}, dry)
	var ee *exitError
	const want = "An error occurred (DryRunOperation) when calling the AuthorizeSecurityGroupIngress operation: Request would have succeeded, but DryRun flag is set."
	if !errors.As(err, &ee) || ee.code != exitAWSService || err.Error() != want {
		t.Errorf("dry run: %v (%+v), want exit 254 and %q", err, ee, want)
	}
	notUp := awsError("DescribeVpcs", errors.New(`topology "t": daemon not answering`))
	if _, _, err := runCall(t, opNamed(t, "describe-vpcs"), nil, notUp); !errors.As(err, &ee) || ee.code != exitAWSOther {
		t.Errorf("daemon not answering: %v, want exit 255", err)
	}
	// vpcnet's own usage and failure codes (pickTopology, requireRoot)
	// become the AWS CLI's.
	for _, c := range []struct{ in, want int }{{exitUsage, exitAWSUsage}, {exitFail, exitAWSOther}, {exitAWSService, exitAWSService}} {
		if _, _, err := runCall(t, opNamed(t, "describe-vpcs"), nil, &exitError{c.in, errors.New("x")}); !errors.As(err, &ee) || ee.code != c.want {
			t.Errorf("exit %d: became %v, want %d", c.in, err, c.want)
		}
	}
}

// describeVpcsAnswer is a DescribeVpcs answer as the daemon sends it
// (encoding/json of the typed result; the CLI decodes it into maps).
const describeVpcsAnswer = `{"Vpcs":[
 {"CidrBlock":"10.0.0.0/16","DhcpOptionsId":"dopt-0a1","State":"available","VpcId":"vpc-0a1","OwnerId":"123456789012","InstanceTenancy":"default",
  "CidrBlockAssociationSet":[{"AssociationId":"vpc-cidr-assoc-0a1","CidrBlock":"10.0.0.0/16","CidrBlockState":{"State":"associated"}}],
  "IsDefault":false,"Tags":[{"Key":"Name","Value":"main"}]},
 {"CidrBlock":"10.8.0.0/16","DhcpOptionsId":"dopt-0a1","State":"available","VpcId":"vpc-0b2","OwnerId":"123456789012","InstanceTenancy":"default",
  "CidrBlockAssociationSet":[{"AssociationId":"vpc-cidr-assoc-0b2","CidrBlock":"10.8.0.0/16","CidrBlockState":{"State":"associated"}}],
  "IsDefault":false,"Tags":[{"Key":"Name","Value":"lab"},{"Key":"env","Value":"test"}]}]}`

func decoded(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestOutputAsAWSCLI: describe-vpcs' answer printed as AWS CLI v2 prints
// it: JSON with 4-space indent in the model's member order; text as
// awscli/text.py; --query before either.
func TestOutputAsAWSCLI(t *testing.T) {
	const wantJSON = `{
    "Vpcs": [
        {
            "CidrBlock": "10.0.0.0/16",
            "DhcpOptionsId": "dopt-0a1",
            "State": "available",
            "VpcId": "vpc-0a1",
            "OwnerId": "123456789012",
            "InstanceTenancy": "default",
            "CidrBlockAssociationSet": [
                {
                    "AssociationId": "vpc-cidr-assoc-0a1",
                    "CidrBlock": "10.0.0.0/16",
                    "CidrBlockState": {
                        "State": "associated"
                    }
                }
            ],
            "IsDefault": false,
            "Tags": [
                {
                    "Key": "Name",
                    "Value": "main"
                }
            ]
        },
        {
            "CidrBlock": "10.8.0.0/16",
            "DhcpOptionsId": "dopt-0a1",
            "State": "available",
            "VpcId": "vpc-0b2",
            "OwnerId": "123456789012",
            "InstanceTenancy": "default",
            "CidrBlockAssociationSet": [
                {
                    "AssociationId": "vpc-cidr-assoc-0b2",
                    "CidrBlock": "10.8.0.0/16",
                    "CidrBlockState": {
                        "State": "associated"
                    }
                }
            ],
            "IsDefault": false,
            "Tags": [
                {
                    "Key": "Name",
                    "Value": "lab"
                },
                {
                    "Key": "env",
                    "Value": "test"
                }
            ]
        }
    ]
}
`
	const wantText = "VPCS\t10.0.0.0/16\tdopt-0a1\tdefault\tFalse\t123456789012\tavailable\tvpc-0a1\n" +
		"CIDRBLOCKASSOCIATIONSET\tvpc-cidr-assoc-0a1\t10.0.0.0/16\n" +
		"CIDRBLOCKSTATE\tassociated\n" +
		"TAGS\tName\tmain\n" +
		"VPCS\t10.8.0.0/16\tdopt-0a1\tdefault\tFalse\t123456789012\tavailable\tvpc-0b2\n" +
		"CIDRBLOCKASSOCIATIONSET\tvpc-cidr-assoc-0b2\t10.8.0.0/16\n" +
		"CIDRBLOCKSTATE\tassociated\n" +
		"TAGS\tName\tlab\n" +
		"TAGS\tenv\ttest\n"
	cases := []struct {
		name string
		argv []string
		want string
	}{
		{"json", nil, wantJSON},
		{"text", []string{"--output", "text"}, wantText},
		{"query json", []string{"--query", "Vpcs[].VpcId"}, "[\n    \"vpc-0a1\",\n    \"vpc-0b2\"\n]\n"},
		{"query text", []string{"--query", "Vpcs[].VpcId", "--output", "text"}, "vpc-0a1\tvpc-0b2\n"},
		{"query filter", []string{"--query", "Vpcs[?Tags[?Key=='env']].CidrBlock | [0]"}, "\"10.8.0.0/16\"\n"},
		{"query object keeps order", []string{"--query", "Vpcs[0].CidrBlockAssociationSet[0]"},
			"{\n    \"AssociationId\": \"vpc-cidr-assoc-0a1\",\n    \"CidrBlock\": \"10.0.0.0/16\",\n    \"CidrBlockState\": {\n        \"State\": \"associated\"\n    }\n}\n"},
		{"multiselect hash in the expression's order", []string{"--query", "Vpcs[].{Vpc: VpcId, Cidr: CidrBlock}"},
			"[\n    {\n        \"Vpc\": \"vpc-0a1\",\n        \"Cidr\": \"10.0.0.0/16\"\n    },\n    {\n        \"Vpc\": \"vpc-0b2\",\n        \"Cidr\": \"10.8.0.0/16\"\n    }\n]\n"},
		{"multiselect text", []string{"--query", "Vpcs[].[VpcId, CidrBlock]", "--output", "text"}, "vpc-0a1\t10.0.0.0/16\nvpc-0b2\t10.8.0.0/16\n"},
		{"no match", []string{"--query", "Nothing"}, "null\n"},
		{"no match text", []string{"--query", "Nothing", "--output", "text"}, "None\n"},
		{"table", []string{"--output", "table", "--query", "Vpcs[].{Id: VpcId, Cidr: CidrBlock}"},
			"DescribeVpcs\n  Cidr         Id\n  10.0.0.0/16  vpc-0a1\n  10.8.0.0/16  vpc-0b2\n"},
	}
	for _, c := range cases {
		_, out, err := runCall(t, opNamed(t, "describe-vpcs"), c.argv, decoded(t, describeVpcsAnswer))
		if err != nil || out != c.want {
			t.Errorf("%s: err %v\n got:\n%s\nwant:\n%s", c.name, err, out, c.want)
		}
	}
	// An operation EC2 answers with nothing prints nothing, whatever the
	// daemon sent.
	for _, format := range outputs {
		_, out, err := runCall(t, opNamed(t, "delete-route"), []string{"--route-table-id", "r", "--destination-cidr-block", "0.0.0.0/0", "--output", format},
			map[string]any{"Return": true})
		if err != nil || out != "" {
			t.Errorf("delete-route --output %s printed %q (%v), want nothing", format, out, err)
		}
	}
}

// TestOutputTimestampsAndStrings: timestamps as Python's isoformat() of
// the parsed time, strings escaped as Python's json module escapes them
// (not HTML-escaped, non-ASCII as is), numbers as ints.
func TestOutputTimestampsAndStrings(t *testing.T) {
	answer := decoded(t, `{"Reservations":[{"ReservationId":"r-1","OwnerId":"1","Instances":[{"InstanceId":"i-1",
		"LaunchTime":"2024-05-01T10:00:00Z","AmiLaunchIndex":0,"Tags":[{"Key":"Name","Value":"a<b>&\"ü\"\n"}],
		"State":{"Code":16,"Name":"running"},"UsageOperationUpdateTime":"2024-05-01T10:00:00.25Z"}]}]}`)
	var buf bytes.Buffer
	if err := printAnswer(&buf, "DescribeInstances", answer, "json", nil, ""); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"LaunchTime": "2024-05-01T10:00:00+00:00"`, `"UsageOperationUpdateTime": "2024-05-01T10:00:00.250000+00:00"`,
		`"Value": "a<b>&\"ü\"\n"`, `"AmiLaunchIndex": 0,`, `"Code": 16,`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("output lacks %s:\n%s", want, buf.String())
		}
	}
	// Model order: ReservationId after Groups? Reservation's members are
	// Groups, Instances, OwnerId, RequesterId, ReservationId.
	if i, o, r := strings.Index(buf.String(), `"Instances"`), strings.Index(buf.String(), `"OwnerId": "1"`), strings.Index(buf.String(), `"ReservationId"`); !(i < o && o < r) {
		t.Errorf("Reservation's members not in model order:\n%s", buf.String())
	}
}

// python runs script with python3, giving it in as JSON on stdin, and
// decodes its JSON answer into out; the test is skipped where python3 or
// the AWS CLI's Python package (awscli: Debian's awscli, or pip) is
// missing.
func python(t *testing.T, script string, in, out any) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3")
	}
	if err := exec.Command("python3", "-c", "import awscli.shorthand, awscli.text").Run(); err != nil {
		t.Skip("no awscli Python package")
	}
	b, _ := json.Marshal(in)
	cmd := exec.Command("python3", "-c", script)
	cmd.Stdin = bytes.NewReader(b)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	res, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, stderr.String())
	}
	if err := json.Unmarshal(res, out); err != nil {
		t.Fatalf("python3 answered %s: %v", res, err)
	}
}

// TestShorthandMatchesAWSCLI: the shorthand parser against the AWS CLI's
// own (awscli.shorthand.ShorthandParser) on the cases above and on 3000
// strings drawn from shorthand's alphabet: the same value, or an error
// from both.
func TestShorthandMatchesAWSCLI(t *testing.T) {
	inputs := []string{"Name=vpc-id,Values=vpc-1,vpc-2", "Values=a,b,Name=c", "IpRanges=[{CidrIp=0.0.0.0/0}]",
		`Name="a,b",Values=c`, `Value='it\'s'`, `Value=a\,b`, "Name = a , Values = b", "A=[[x,y],[z]]", "A={B=1,C=[2,3]}",
		"=x", "Name=a b,=c", "Name=a,", "Name=a,,", "Name=[a,b]x", "Name=a,Name=b", "A=b=c,d=e", "A=[ a , b ]", "A={ B = c }",
		"A=x]", "A=x}", "A=[x]]", "A=b,c,d", "A=b, c=d", "A='x',B=\"y\"", "A=\\", "A=é,B=ü", "A=b\n,C=d"}
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "AB=,[]{}'\"\\ x-:."
	for range 3000 {
		b := make([]byte, 1+rng.IntN(12))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		inputs = append(inputs, string(b))
	}
	const script = `
import json, sys
from awscli.shorthand import ShorthandParser, ShorthandParseError
out = []
for s in json.load(sys.stdin):
    try:
        out.append({"ok": ShorthandParser().parse(s)})
    except ShorthandParseError:
        out.append({"err": True})
    except Exception as e:
        out.append({"crash": repr(e)})
print(json.dumps(out))
`
	var want []map[string]any
	python(t, script, inputs, &want)
	mismatches := 0
	for i, in := range inputs {
		got, err := parseShorthand(in)
		w := want[i]
		if _, crash := w["crash"]; crash {
			continue // the AWS CLI's own parser crashes: no reference
		}
		if _, werr := w["err"]; werr != (err != nil) || (err == nil && !reflect.DeepEqual(any(got), w["ok"])) {
			if mismatches++; mismatches <= 10 {
				t.Errorf("%q: got %#v (%v), the AWS CLI %v", in, got, err, w)
			}
		}
	}
	if mismatches > 0 {
		t.Errorf("%d of %d inputs parse otherwise than the AWS CLI's shorthand", mismatches, len(inputs))
	}
}

// TestTextMatchesAWSCLI: --output text against awscli.text.format_text on
// describe-vpcs' answer and on shapes with nested lists, lists of lists,
// scalars and missing keys.
func TestTextMatchesAWSCLI(t *testing.T) {
	answers := []any{
		decoded(t, describeVpcsAnswer),
		decoded(t, `{"RouteTables":[{"RouteTableId":"rtb-1","Routes":[{"DestinationCidrBlock":"10.0.0.0/16","GatewayId":"local"},{"DestinationCidrBlock":"0.0.0.0/0","NatGatewayId":"nat-1"}],"Associations":[{"Main":true}]}],"NextToken":"t"}`),
		decoded(t, `[["a", 1, true], ["b", null, false], "c", [["d"]]]`),
		decoded(t, `{"A": [], "B": {}, "C": [1, 2], "D": "x", "E": [{"F": 1}, {"G": [2]}]}`),
		decoded(t, `"plain"`), decoded(t, `null`), decoded(t, `12`), decoded(t, `[]`),
	}
	const script = `
import json, sys, io
from awscli.text import format_text
out = []
for v in json.load(sys.stdin):
    s = io.StringIO()
    format_text(v, s)
    out.append(s.getvalue())
print(json.dumps(out))
`
	var want []string
	python(t, script, answers, &want)
	for i, a := range answers {
		var buf bytes.Buffer
		w := bufio.NewWriter(&buf)
		formatText(w, a, "", nil)
		w.Flush()
		if buf.String() != want[i] {
			t.Errorf("answer %d:\n got %q\nwant %q", i, buf.String(), want[i])
		}
	}
}

// TestJSONMatchesPython: --output json against Python's json.dumps(indent=4,
// ensure_ascii=False) of the same value (keys in the same order).
func TestJSONMatchesPython(t *testing.T) {
	values := []string{describeVpcsAnswer, `{"A": "<&>\u2028\u00e9\u0001\u007f\t\"\\", "B": [], "C": {}, "D": [1, -2, 0.5, 1e300], "E": null, "F": true}`}
	const script = `
import json, sys
print(json.dumps([json.dumps(json.loads(v), indent=4, ensure_ascii=False) + "\n" for v in json.load(sys.stdin)]))
`
	var want []string
	python(t, script, values, &want)
	for i, v := range values {
		var buf bytes.Buffer
		w := bufio.NewWriter(&buf)
		// Keys in the order the JSON text has them (Python keeps it).
		ord := keyOrder{}
		x := decodeOrdered(t, v, ord)
		p := pyJSON{w: w, ord: ord}
		p.value(x, 0)
		w.WriteByte('\n')
		w.Flush()
		if buf.String() != want[i] {
			t.Errorf("value %d:\n got %s\nwant %s", i, buf.String(), want[i])
		}
	}
}

// decodeOrdered decodes JSON text, remembering each object's key order.
func decodeOrdered(t *testing.T, s string, ord keyOrder) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	var read func() any
	read = func() any {
		tok, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		switch x := tok.(type) {
		case json.Delim:
			if x == '[' {
				l := []any{}
				for d.More() {
					l = append(l, read())
				}
				d.Token()
				return l
			}
			m := map[string]any{}
			var keys []string
			for d.More() {
				k, _ := d.Token()
				keys = append(keys, k.(string))
				m[k.(string)] = read()
			}
			d.Token()
			ord[mapID(m)] = keys
			return m
		}
		return tok
	}
	return read()
}

// FuzzShorthand: the shorthand parser ends on any input, with a map of
// strings, lists and maps, or a syntax error; it never panics.
func FuzzShorthand(f *testing.F) {
	for _, s := range []string{"Name=vpc-id,Values=vpc-1,vpc-2", "A=[{B=c,D=[e,f]}]", `A='x\'y',B="z"`, "A=b,c=d", "A=[[", "A={B=[{C=", `A=\,`} {
		f.Add(s)
	}
	var check func(t *testing.T, v any)
	check = func(t *testing.T, v any) {
		switch x := v.(type) {
		case string:
		case []any:
			for _, e := range x {
				check(t, e)
			}
		case map[string]any:
			for _, e := range x {
				check(t, e)
			}
		default:
			t.Fatalf("a %T in a parsed shorthand", v)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseShorthand(s)
		if err != nil {
			if m != nil {
				t.Fatalf("%q: error %v with a value", s, err)
			}
			return
		}
		check(t, m)
	})
}

// TestRegionMustBeTheTopologys: --region names the topology's region or is
// refused (252); a region that cannot be read is another failure (255).
func TestRegionMustBeTheTopologys(t *testing.T) {
	prev := topologyRegion
	defer func() { topologyRegion = prev }()
	topologyRegion = func(string) (string, error) { return "ap-northeast-2", nil }
	var ee *exitError
	if err := checkRegion("ch5", ""); err != nil {
		t.Errorf("no --region: %v", err)
	}
	if err := checkRegion("ch5", "ap-northeast-2"); err != nil {
		t.Errorf("the topology's region: %v", err)
	}
	if err := checkRegion("ch5", "us-east-1"); !errors.As(err, &ee) || ee.code != exitAWSUsage || !strings.Contains(err.Error(), "ap-northeast-2") {
		t.Errorf("another region: %v, want 252 naming the topology's", err)
	}
	topologyRegion = func(string) (string, error) { return "", os.ErrNotExist }
	if err := checkRegion("ch5", "us-east-1"); !errors.As(err, &ee) || ee.code != exitAWSOther {
		t.Errorf("unreadable region: %v, want 255", err)
	}
}

// TestQueryMatchesAWSCLI: --query against Python's jmespath (the AWS
// CLI's) on describe-vpcs' answer, printed as JSON: the same text,
// including the AWS documentation's `Name` literals, which go-jmespath
// alone refuses.
func TestQueryMatchesAWSCLI(t *testing.T) {
	queries := []string{
		"Vpcs[].VpcId", "Vpcs[0]", "Vpcs[?Tags[?Key==`Name`]].VpcId", "Vpcs[0].Tags[?Key==`Name`].Value | [0]",
		"Vpcs[?Tags[?Key=='env' && Value=='test']].CidrBlock", "Vpcs[].{Id: VpcId, Cidr: CidrBlock, Name: Tags[?Key==`Name`].Value | [0]}",
		"Vpcs[].[VpcId, IsDefault]", "length(Vpcs)", "sort_by(Vpcs, &CidrBlock)[].VpcId", "reverse(Vpcs[].VpcId)",
		"Vpcs[].Tags[]", "Vpcs[].Tags[].Key", "Vpcs[1:].VpcId", "Vpcs[-1].CidrBlockAssociationSet[0].CidrBlockState",
		"join(', ', Vpcs[].VpcId)", "Vpcs[?starts_with(CidrBlock, '10.8')].VpcId", "Vpcs[?IsDefault==`false`] | length(@)",
		"max_by(Vpcs, &CidrBlock).VpcId", "Vpcs[].OwnerId | [0]", "Vpcs[?contains(Tags[].Key, `env`)].VpcId",
		"Vpcs[?State==`available`].{\"quoted key\": VpcId}", "Missing", "Vpcs[].Missing", "`{\"a\": [1, 2]}`",
	}
	const script = `
import json, sys, jmespath
text, queries = json.load(sys.stdin)
answer = json.loads(text)  # in the daemon's order, the model's
out = []
for q in queries:
    r = jmespath.search(q, answer)
    out.append(json.dumps(r, indent=4, ensure_ascii=False) + "\n" if r != {} else "")
print(json.dumps(out))
`
	var want []string
	python(t, script, []any{describeVpcsAnswer, queries}, &want)
	for i, q := range queries {
		_, out, err := runCall(t, opNamed(t, "describe-vpcs"), []string{"--query", q}, decoded(t, describeVpcsAnswer))
		if err != nil || out != want[i] {
			t.Errorf("--query %s: err %v\n got: %s\nwant: %s", q, err, out, want[i])
		}
	}
}
