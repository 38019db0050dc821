package query

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// form builds request parameters from alternating keys and values, with
// Version set as the AWS CLI sets it.
func form(version string, kv ...string) url.Values {
	f := url.Values{}
	if version != "" {
		f.Set("Version", version)
	}
	for i := 0; i < len(kv); i += 2 {
		f.Add(kv[i], kv[i+1])
	}
	return f
}

const ec2Version = "2016-11-15"

func TestDecodeTable(t *testing.T) {
	for _, c := range []struct {
		name   string
		action string
		form   url.Values
		want   Input
	}{
		{"instance ids are a list by index", "DescribeInstances",
			form(ec2Version, "InstanceId.1", "i-1", "InstanceId.2", "i-2"),
			Input{"InstanceIds": []any{"i-1", "i-2"}}},
		{"indexes sort as numbers and gaps close up", "DescribeInstances",
			form(ec2Version, "InstanceId.10", "i-10", "InstanceId.2", "i-2", "InstanceId.7", "i-7"),
			Input{"InstanceIds": []any{"i-2", "i-7", "i-10"}}},
		{"filters with several values", "DescribeInstances",
			form(ec2Version, "Filter.1.Name", "vpc-id", "Filter.1.Value.1", "vpc-1", "Filter.1.Value.2", "vpc-2",
				"Filter.2.Name", "tag:Name", "Filter.2.Value.1", "web", "MaxResults", "5", "DryRun", "true"),
			Input{"Filters": []any{
				map[string]any{"Name": "vpc-id", "Values": []any{"vpc-1", "vpc-2"}},
				map[string]any{"Name": "tag:Name", "Values": []any{"web"}},
			}, "MaxResults": int64(5), "DryRun": true}},
		{"nested ip permissions", "AuthorizeSecurityGroupIngress",
			form(ec2Version, "GroupId", "sg-1", "IpPermissions.1.IpProtocol", "tcp", "IpPermissions.1.FromPort", "22",
				"IpPermissions.1.ToPort", "22", "IpPermissions.1.IpRanges.1.CidrIp", "10.0.0.0/16",
				"IpPermissions.1.IpRanges.2.CidrIp", "10.1.0.0/16", "IpPermissions.1.Groups.1.GroupId", "sg-2"),
			Input{"GroupId": "sg-1", "IpPermissions": []any{map[string]any{
				"IpProtocol": "tcp", "FromPort": int64(22), "ToPort": int64(22),
				"IpRanges":         []any{map[string]any{"CidrIp": "10.0.0.0/16"}, map[string]any{"CidrIp": "10.1.0.0/16"}},
				"UserIdGroupPairs": []any{map[string]any{"GroupId": "sg-2"}},
			}}}},
		{"tag specifications", "RunInstances",
			form(ec2Version, "MinCount", "1", "MaxCount", "1", "TagSpecification.1.ResourceType", "instance",
				"TagSpecification.1.Tag.1.Key", "Name", "TagSpecification.1.Tag.1.Value", "web"),
			Input{"MinCount": int64(1), "MaxCount": int64(1), "TagSpecifications": []any{map[string]any{
				"ResourceType": "instance", "Tags": []any{map[string]any{"Key": "Name", "Value": "web"}}}}}},
		{"source/dest check is a structure with a Value", "ModifyInstanceAttribute",
			form(ec2Version, "InstanceId", "i-1", "SourceDestCheck.Value", "false"),
			Input{"InstanceId": "i-1", "SourceDestCheck": map[string]any{"Value": false}}},
		{"queryName names the parameter", "RunInstances",
			form(ec2Version, "MinCount", "1", "MaxCount", "1", "NetworkInterface.1.DeviceIndex", "0",
				"NetworkInterface.1.PrivateIpAddresses.1.PrivateIpAddress", "10.0.0.5"),
			Input{"MinCount": int64(1), "MaxCount": int64(1), "NetworkInterfaces": []any{map[string]any{
				"DeviceIndex": int64(0), "PrivateIpAddresses": []any{map[string]any{"PrivateIpAddress": "10.0.0.5"}}}}}},
		{"a blob is base64", "ImportKeyPair",
			form(ec2Version, "KeyName", "k", "PublicKeyMaterial", "c3NoLWVkMjU1MTkgQUFBQQ=="),
			Input{"KeyName": "k", "PublicKeyMaterial": []byte("ssh-ed25519 AAAA")}},
		{"negative integers", "CreateNetworkAclEntry",
			form(ec2Version, "NetworkAclId", "acl-1", "RuleNumber", "100", "Protocol", "1", "RuleAction", "allow",
				"Egress", "false", "Icmp.Type", "-1", "Icmp.Code", "-1"),
			Input{"NetworkAclId": "acl-1", "RuleNumber": int64(100), "Protocol": "1", "RuleAction": "allow",
				"Egress": false, "IcmpTypeCode": map[string]any{"Type": int64(-1), "Code": int64(-1)}}},
		{"SigV4 query fields and Action are not members", "DescribeVpcs",
			form(ec2Version, "Action", "DescribeVpcs", "X-Amz-Date", "20240101T000000Z", "VpcId.1", "vpc-1"),
			Input{"VpcIds": []any{"vpc-1"}}},
		{"no parameters", "DescribeVpcs", form(ec2Version), Input{}},
		{"sts", "GetCallerIdentity", form("2011-06-15"), Input{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Decode(c.action, c.form)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("Decode(%s)\n got %#v\nwant %#v", c.action, got, c.want)
			}
		})
	}
}

func TestDecodeRefusals(t *testing.T) {
	long := strings.Repeat("x", MaxValueBytes+1)
	many := form(ec2Version)
	for i := 1; i <= MaxParams; i++ {
		many.Set(fmt.Sprintf("VpcId.%d", i), "vpc-1")
	}
	for _, c := range []struct {
		name, action string
		form         url.Values
		code, msg    string
	}{
		{"unknown action", "DescribeFoo", form(ec2Version), CodeInvalidAction, "The action DescribeFoo is not valid for this web service."},
		{"no action", "", form(ec2Version), CodeMissingAction, "The request must contain the parameter Action"},
		{"no version", "DescribeVpcs", form(""), CodeMissingParameter, "The request must contain the parameter Version"},
		{"another version", "DescribeVpcs", form("2015-10-01"), "NoSuchVersion", "The requested version (2015-10-01) of service AmazonEC2 does not exist"},
		{"sts with ec2's version", "GetCallerIdentity", form(ec2Version), "NoSuchVersion", "The requested version (2016-11-15) of service AWSSecurityTokenServiceV20110615 does not exist"},
		{"unknown parameter", "DescribeVpcs", form(ec2Version, "Foo", "1"), CodeUnknownParameter, "The parameter Foo is not recognized"},
		{"a member name is not its parameter name", "DescribeVpcs", form(ec2Version, "VpcIds.1", "vpc-1"), CodeUnknownParameter, "The parameter VpcIds.1 is not recognized"},
		{"unknown nested parameter", "AuthorizeSecurityGroupIngress", form(ec2Version, "IpPermissions.1.Bogus", "1"), CodeUnknownParameter, "The parameter IpPermissions.1.Bogus is not recognized"},
		{"list without index", "DescribeInstances", form(ec2Version, "InstanceId", "i-1"), CodeUnknownParameter, "The parameter InstanceId is not recognized"},
		{"index 0", "DescribeInstances", form(ec2Version, "InstanceId.0", "i-1"), CodeUnknownParameter, "The parameter InstanceId.0 is not recognized"},
		{"leading zero", "DescribeInstances", form(ec2Version, "InstanceId.01", "i-1"), CodeUnknownParameter, "The parameter InstanceId.01 is not recognized"},
		{"index not a number", "DescribeInstances", form(ec2Version, "InstanceId.x", "i-1"), CodeUnknownParameter, "The parameter InstanceId.x is not recognized"},
		{"negative index", "DescribeInstances", form(ec2Version, "InstanceId.-1", "i-1"), CodeUnknownParameter, "The parameter InstanceId.-1 is not recognized"},
		{"index over the bound", "DescribeInstances", form(ec2Version, "InstanceId.1001", "i-1"), CodeInvalidParameterValue, "The list index 1001 in parameter InstanceId.1001 is over 1000"},
		{"below a scalar", "DescribeInstances", form(ec2Version, "InstanceId.1.x", "i-1"), CodeUnknownParameter, "The parameter InstanceId.1.x is not recognized"},
		{"a value for a structure", "ModifyInstanceAttribute", form(ec2Version, "InstanceId", "i-1", "SourceDestCheck", "false"), CodeUnknownParameter, "The parameter SourceDestCheck is not recognized"},
		{"trailing dot", "DescribeVpcs", form(ec2Version, "DryRun.", "true"), CodeUnknownParameter, "The parameter DryRun. is not recognized"},
		{"double dot", "DescribeInstances", form(ec2Version, "Filter..Name", "x"), CodeUnknownParameter, "The parameter Filter..Name is not recognized"},
		{"missing required", "ModifyInstanceAttribute", form(ec2Version, "SourceDestCheck.Value", "false"), CodeMissingParameter, "The request must contain the parameter InstanceId"},
		{"missing required list", "CreateTags", form(ec2Version, "Tag.1.Key", "Name"), CodeMissingParameter, "The request must contain the parameter ResourceId"},
		{"missing required nested", "CreateNetworkAclEntry", form(ec2Version, "NetworkAclId", "acl-1", "RuleNumber", "1", "Protocol", "-1", "RuleAction", "allow"), CodeMissingParameter, "The request must contain the parameter Egress"},
		{"not an integer", "DescribeInstances", form(ec2Version, "MaxResults", "abc"), CodeInvalidParameterValue, "Value (abc) for parameter MaxResults is invalid. Expecting an integer."},
		{"integer overflow", "AuthorizeSecurityGroupIngress", form(ec2Version, "IpPermissions.1.FromPort", "4294967296"), CodeInvalidParameterValue, "Value (4294967296) for parameter IpPermissions.1.FromPort is invalid. Expecting an integer."},
		{"below the model's min", "DescribeVpcs", form(ec2Version, "MaxResults", "1"), CodeInvalidParameterValue, "Value (1) for parameter MaxResults is invalid. Expecting a value greater than or equal to 5."},
		{"above the model's max", "DescribeVpcs", form(ec2Version, "MaxResults", "1001"), CodeInvalidParameterValue, "Value (1001) for parameter MaxResults is invalid. Expecting a value less than or equal to 1000."},
		{"not a boolean", "DescribeVpcs", form(ec2Version, "DryRun", "yes"), CodeInvalidParameterValue, "Value (yes) for parameter DryRun is invalid. Expecting true or false."},
		{"not in the enum", "AllocateAddress", form(ec2Version, "Domain", "classic"), CodeInvalidParameterValue, "Value (classic) for parameter Domain is invalid. Valid values: vpc, standard."},
		{"not base64", "ImportKeyPair", form(ec2Version, "KeyName", "k", "PublicKeyMaterial", "!!"), CodeInvalidParameterValue, "Value (!!) for parameter PublicKeyMaterial is invalid. Expecting base64."},
		{"not UTF-8", "DescribeVpcs", form(ec2Version, "NextToken", "\xff"), CodeInvalidParameterValue, "Value (?) for parameter NextToken is invalid. It is not valid UTF-8."},
		{"a parameter twice", "DescribeVpcs", form(ec2Version, "VpcId.1", "vpc-1", "VpcId.1", "vpc-2"), CodeInvalidParameterValue, "The parameter VpcId.1 is given 2 times"},
		{"too many parameters", "DescribeVpcs", many, CodeInvalidParameterValue, "The request has 1001 parameters: at most 1000 are accepted"},
		{"too long a value", "DescribeVpcs", form(ec2Version, "NextToken", long), CodeInvalidParameterValue, "The value of parameter NextToken is 32769 bytes long: at most 32768"},
		{"too long a name", "DescribeVpcs", form(ec2Version, strings.Repeat("A", MaxKeyBytes+1), "1"), CodeInvalidParameterValue, "The parameter name " + strings.Repeat("A", 64) + "… is 257 bytes long: at most 256"},
		{"an operation without input members", "GetCallerIdentity", form("2011-06-15", "Foo", "1"), CodeUnknownParameter, "The parameter Foo is not recognized"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Decode(c.action, c.form)
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("Decode = %v, %v; want *Error %s", got, err, c.code)
			}
			if qe.Code != c.code || qe.Message != c.msg {
				t.Errorf("Decode: %s: %q\n                  want %s: %q", qe.Code, qe.Message, c.code, c.msg)
			}
		})
	}
}

// TestDecodeBotocoreRoundTrip: what botocore's own serializer sends for an
// operation's parameters decodes back to those parameters.
func TestDecodeBotocoreRoundTrip(t *testing.T) {
	cases := []struct {
		service, action string
		params          string
		want            string // when it differs from params: a blob comes back as bytes
	}{
		{"ec2", "AuthorizeSecurityGroupIngress", `{"GroupId":"sg-1","IpPermissions":[{"IpProtocol":"tcp","FromPort":22,"ToPort":22,
			"IpRanges":[{"CidrIp":"10.0.0.0/16","Description":"ssh & more"},{"CidrIp":"10.1.0.0/16"}],
			"UserIdGroupPairs":[{"GroupId":"sg-2","UserId":"123456789012"}]},{"IpProtocol":"-1"}],
			"TagSpecifications":[{"ResourceType":"security-group-rule","Tags":[{"Key":"Name","Value":"x"}]}]}`, ""},
		{"ec2", "DescribeInstances", `{"Filters":[{"Name":"vpc-id","Values":["vpc-1","vpc-2"]},{"Name":"tag:Name","Values":["web"]}],
			"InstanceIds":["i-1","i-2"],"MaxResults":5,"NextToken":"t=1","DryRun":true}`, ""},
		{"ec2", "ModifyInstanceAttribute", `{"InstanceId":"i-1","SourceDestCheck":{"Value":false}}`, ""},
		{"ec2", "ModifyNetworkInterfaceAttribute", `{"NetworkInterfaceId":"eni-1","SourceDestCheck":{"Value":true},"Groups":["sg-1","sg-2"]}`, ""},
		{"ec2", "RunInstances", `{"ImageId":"ami-1","InstanceType":"t3.micro","MinCount":1,"MaxCount":1,"KeyName":"k",
			"SubnetId":"subnet-1","SecurityGroupIds":["sg-1"],"UserData":"IyEvYmluL3NoCg==","PrivateIpAddress":"10.0.0.5",
			"TagSpecifications":[{"ResourceType":"instance","Tags":[{"Key":"Name","Value":"web"}]}],
			"NetworkInterfaces":[{"DeviceIndex":0,"SubnetId":"subnet-1","Groups":["sg-1"],"AssociatePublicIpAddress":true,
			"PrivateIpAddresses":[{"PrivateIpAddress":"10.0.0.5","Primary":true}]}]}`, ""},
		{"ec2", "CreateTags", `{"Resources":["vpc-1","subnet-2"],"Tags":[{"Key":"Name","Value":"a b&c=d é"}]}`, ""},
		{"ec2", "DeleteTags", `{"Resources":["vpc-1"],"Tags":[{"Key":"Name"}]}`, ""},
		{"ec2", "ImportKeyPair", `{"KeyName":"k","PublicKeyMaterial":"ssh-ed25519 AAAA"}`,
			`{"KeyName":"k","PublicKeyMaterial":"c3NoLWVkMjU1MTkgQUFBQQ=="}`},
		{"ec2", "CreateNetworkAclEntry", `{"NetworkAclId":"acl-1","RuleNumber":100,"Protocol":"6","RuleAction":"allow","Egress":false,
			"CidrBlock":"0.0.0.0/0","PortRange":{"From":80,"To":443},"IcmpTypeCode":{"Type":-1,"Code":-1}}`, ""},
		{"ec2", "CreateRoute", `{"RouteTableId":"rtb-1","DestinationCidrBlock":"0.0.0.0/0","NatGatewayId":"nat-1"}`, ""},
		{"ec2", "AssignPrivateIpAddresses", `{"NetworkInterfaceId":"eni-1","PrivateIpAddresses":["10.0.0.6","10.0.0.7"],"SecondaryPrivateIpAddressCount":2}`, ""},
		{"ec2", "AllocateAddress", `{"Domain":"vpc","PublicIpv4Pool":"pool-1","NetworkBorderGroup":"us-east-1"}`, ""},
		{"ec2", "DescribeRegions", `{"AllRegions":true,"RegionNames":["us-east-1","eu-west-1"]}`, ""},
		{"ec2", "DescribeInstanceTypes", `{"InstanceTypes":["t3.micro","t2.micro"]}`, ""},
		{"ec2", "StartNetworkInsightsAnalysis", `{"NetworkInsightsPathId":"nip-1","ClientToken":"tok"}`, ""},
		{"sts", "GetCallerIdentity", `{}`, ""},
	}
	var in []map[string]any
	for _, c := range cases {
		var p map[string]any
		if err := json.Unmarshal([]byte(c.params), &p); err != nil {
			t.Fatalf("%s: %v", c.action, err)
		}
		in = append(in, map[string]any{"service": c.service, "action": c.action, "params": p})
	}
	var forms []map[string]string
	botocore(t, "serialize", in, &forms)
	for i, c := range cases {
		t.Run(c.action, func(t *testing.T) {
			f := url.Values{}
			for k, v := range forms[i] {
				f.Set(k, v)
			}
			if f.Get("Action") != c.action {
				t.Fatalf("botocore sent Action %q", f.Get("Action"))
			}
			got, err := Decode(c.action, f)
			if err != nil {
				t.Fatalf("Decode(%v): %v", f, err)
			}
			want := c.want
			if want == "" {
				want = c.params
			}
			if g, w := canonicalJSON(t, got), canonicalJSON(t, json.RawMessage(want)); g != w {
				t.Errorf("botocore sent %v\ndecoded %s\n   want %s", f, g, w)
			}
		})
	}
}

// canonicalJSON is v as JSON with sorted keys ([]byte as base64).
func canonicalJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var x any
	if err := json.Unmarshal(b, &x); err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(x)
	return string(b)
}

func TestDecodeEmptyValueLists(t *testing.T) {
	// url.Values built by a caller may hold a key without values: it is
	// absent, never a panic.
	in, err := Decode("DescribeVpcs", url.Values{"Version": {ec2Version}, "VpcId.1": {}})
	if err != nil || len(in) != 0 {
		t.Errorf("Decode = %v, %v; want no members", in, err)
	}
	_, err = Decode("DescribeVpcs", url.Values{"Version": {}})
	var qe *Error
	if !errors.As(err, &qe) || qe.Code != CodeMissingParameter {
		t.Errorf("Decode without a Version value = %v, want MissingParameter", err)
	}
}
