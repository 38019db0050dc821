package query

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

type obj = map[string]any

const rid = "5b4ae0d2-7c5e-4a8c-9a43-0f2f7d3c1e11"

// describeVpcs is an answer as the daemon builds them: maps and typed
// slices of maps.
var describeVpcs = obj{"Vpcs": []obj{{
	"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16", "State": "available", "OwnerId": "123456789012",
	"IsDefault": false, "InstanceTenancy": "default", "DhcpOptionsId": "default",
	"CidrBlockAssociationSet": []obj{{"AssociationId": "vpc-cidr-assoc-1", "CidrBlock": "10.0.0.0/16",
		"CidrBlockState": obj{"State": "associated"}}},
	"Tags": []obj{{"Key": "Name", "Value": "prod & <test>"}},
}}}

const describeVpcsXML = `<?xml version="1.0" encoding="UTF-8"?>
<DescribeVpcsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>` + rid + `</requestId>` +
	`<vpcSet><item><cidrBlock>10.0.0.0/16</cidrBlock><dhcpOptionsId>default</dhcpOptionsId><state>available</state>` +
	`<vpcId>vpc-1</vpcId><ownerId>123456789012</ownerId><instanceTenancy>default</instanceTenancy>` +
	`<cidrBlockAssociationSet><item><associationId>vpc-cidr-assoc-1</associationId><cidrBlock>10.0.0.0/16</cidrBlock>` +
	`<cidrBlockState><state>associated</state></cidrBlockState></item></cidrBlockAssociationSet>` +
	`<isDefault>false</isDefault><tagSet><item><key>Name</key><value>prod &amp; &lt;test&gt;</value></item></tagSet>` +
	`</item></vpcSet></DescribeVpcsResponse>`

// instance is a typed answer, as the registry's structs will be: json
// tags, netip.Addr, time.Time, pointers, omitempty.
type instance struct {
	InstanceID       string     `json:"InstanceId"`
	ImageID          string     `json:"ImageId"`
	InstanceType     string     `json:"InstanceType"`
	LaunchTime       time.Time  `json:"LaunchTime"`
	PrivateIPAddress netip.Addr `json:"PrivateIpAddress"`
	State            state      `json:"State"`
	SourceDestCheck  *bool      `json:"SourceDestCheck,omitempty"`
	PublicIPAddress  string     `json:"PublicIpAddress,omitempty"`
	SecurityGroups   []group    `json:"SecurityGroups"`
}

type state struct {
	Code int    `json:"Code"`
	Name string `json:"Name"`
}

type group struct {
	GroupID   string `json:"GroupId"`
	GroupName string `json:"GroupName"`
}

var (
	launch            = time.Date(2024, 3, 4, 5, 6, 7, 890_000_000, time.FixedZone("CET", 3600))
	no                = false
	describeInstances = obj{"Reservations": []obj{{
		"ReservationId": "r-1", "OwnerId": "123456789012", "Groups": []obj{},
		"Instances": []instance{{
			InstanceID: "i-1", ImageID: "ami-1", InstanceType: "t3.micro", LaunchTime: launch,
			PrivateIPAddress: netip.MustParseAddr("10.0.1.5"), State: state{16, "running"},
			SourceDestCheck: &no, SecurityGroups: []group{{"sg-1", "web"}},
		}},
	}}}
)

const describeInstancesXML = `<?xml version="1.0" encoding="UTF-8"?>
<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>` + rid + `</requestId>` +
	`<reservationSet><item><groupSet></groupSet><instancesSet><item><imageId>ami-1</imageId><instanceId>i-1</instanceId>` +
	`<instanceType>t3.micro</instanceType><launchTime>2024-03-04T04:06:07.890Z</launchTime>` +
	`<privateIpAddress>10.0.1.5</privateIpAddress><instanceState><code>16</code><name>running</name></instanceState>` +
	`<groupSet><item><groupName>web</groupName><groupId>sg-1</groupId></item></groupSet>` +
	`<sourceDestCheck>false</sourceDestCheck></item></instancesSet><ownerId>123456789012</ownerId>` +
	`<reservationId>r-1</reservationId></item></reservationSet></DescribeInstancesResponse>`

var authorize = obj{"Return": true, "SecurityGroupRules": []obj{{
	"SecurityGroupRuleId": "sgr-1", "GroupId": "sg-1", "GroupOwnerId": "123456789012", "IsEgress": false,
	"IpProtocol": "tcp", "FromPort": 22, "ToPort": int64(22), "CidrIpv4": "10.0.0.0/16",
}}}

const authorizeXML = `<?xml version="1.0" encoding="UTF-8"?>
<AuthorizeSecurityGroupIngressResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>` + rid + `</requestId>` +
	`<return>true</return><securityGroupRuleSet><item><securityGroupRuleId>sgr-1</securityGroupRuleId>` +
	`<groupId>sg-1</groupId><groupOwnerId>123456789012</groupOwnerId><isEgress>false</isEgress>` +
	`<ipProtocol>tcp</ipProtocol><fromPort>22</fromPort><toPort>22</toPort><cidrIpv4>10.0.0.0/16</cidrIpv4>` +
	`</item></securityGroupRuleSet></AuthorizeSecurityGroupIngressResponse>`

var callerIdentity = obj{"UserId": "AIDAVPCNET", "Account": "123456789012", "Arn": "arn:aws:iam::123456789012:root"}

const callerIdentityXML = `<?xml version="1.0" encoding="UTF-8"?>
<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>` +
	`<UserId>AIDAVPCNET</UserId><Account>123456789012</Account><Arn>arn:aws:iam::123456789012:root</Arn>` +
	`</GetCallerIdentityResult><ResponseMetadata><RequestId>` + rid + `</RequestId></ResponseMetadata></GetCallerIdentityResponse>`

const deleteRouteXML = `<?xml version="1.0" encoding="UTF-8"?>
<DeleteRouteResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>` + rid + `</requestId>` +
	`<return>true</return></DeleteRouteResponse>`

var golden = []struct {
	action string
	out    any
	xml    string
}{
	{"DescribeVpcs", describeVpcs, describeVpcsXML},
	{"DescribeInstances", describeInstances, describeInstancesXML},
	{"AuthorizeSecurityGroupIngress", authorize, authorizeXML},
	{"GetCallerIdentity", callerIdentity, callerIdentityXML},
	{"DeleteRoute", nil, deleteRouteXML},
}

func TestEncodeGolden(t *testing.T) {
	for _, g := range golden {
		t.Run(g.action, func(t *testing.T) {
			var b bytes.Buffer
			if err := Encode(&b, g.action, rid, g.out); err != nil {
				t.Fatal(err)
			}
			if b.String() != g.xml {
				t.Errorf("Encode(%s)\n got %s\nwant %s", g.action, b.String(), g.xml)
			}
		})
	}
}

// TestEncodeBotocoreParses: botocore's own parser (EC2QueryParser, and
// QueryParser for STS) reads each answer back as the value that was
// encoded, with the request id.
func TestEncodeBotocoreParses(t *testing.T) {
	var cases []map[string]any
	for _, g := range golden {
		cases = append(cases, map[string]any{"service": serviceName(g.action), "action": g.action, "body": g.xml})
	}
	var parsed []map[string]any
	botocore(t, "parse", cases, &parsed)
	for i, g := range golden {
		t.Run(g.action, func(t *testing.T) {
			p := parsed[i]
			meta, _ := p["ResponseMetadata"].(map[string]any)
			if meta["RequestId"] != rid {
				t.Errorf("botocore read the request id %v, want %s", meta["RequestId"], rid)
			}
			delete(p, "ResponseMetadata")
			want := g.out
			if want == nil {
				want = obj{}
			}
			if got, w := canonicalJSON(t, p), canonicalJSON(t, expectParsed(t, want)); got != w {
				t.Errorf("botocore parsed\n%s\nwant\n%s", got, w)
			}
		})
	}
}

func serviceName(action string) string {
	s, _ := ServiceOf(action)
	return s
}

// expectParsed is what botocore reads back for out: timestamps in UTC
// with milliseconds, as the answer writes them.
func expectParsed(t *testing.T, out any) any {
	t.Helper()
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), `"2024-03-04T05:06:07.89+01:00"`, `"2024-03-04T04:06:07.890Z"`)
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestEncodeErrorBotocoreParses(t *testing.T) {
	var ec2Err, stsErr bytes.Buffer
	if err := EncodeError(&ec2Err, CodeInvalidParameterValue, `Value (<x> & "y") for parameter z is invalid.`, rid); err != nil {
		t.Fatal(err)
	}
	want := `<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>InvalidParameterValue</Code><Message>Value (&lt;x&gt; &amp; &#34;y&#34;) for parameter z is invalid.</Message></Error></Errors><RequestID>` + rid + `</RequestID></Response>`
	if ec2Err.String() != want {
		t.Errorf("EncodeError\n got %s\nwant %s", ec2Err.String(), want)
	}
	if err := EncodeErrorFor(&stsErr, "GetCallerIdentity", CodeAuthFailure, "no", rid); err != nil {
		t.Fatal(err)
	}
	var parsed []map[string]any
	botocore(t, "parse", []map[string]any{
		{"service": "ec2", "action": "DescribeVpcs", "body": ec2Err.String(), "status": 400},
		{"service": "sts", "action": "GetCallerIdentity", "body": stsErr.String(), "status": 401},
	}, &parsed)
	for i, w := range []struct{ code, msg string }{
		{CodeInvalidParameterValue, `Value (<x> & "y") for parameter z is invalid.`},
		{CodeAuthFailure, "no"},
	} {
		e, _ := parsed[i]["Error"].(map[string]any)
		meta, _ := parsed[i]["ResponseMetadata"].(map[string]any)
		if e["Code"] != w.code || e["Message"] != w.msg || meta["RequestId"] != rid {
			t.Errorf("botocore parsed error %d as %v", i, parsed[i])
		}
	}
}

func TestEncodeRefusesWhatEC2LacksOrTypesWrong(t *testing.T) {
	for _, c := range []struct {
		name, action string
		out          any
		want         string
	}{
		{"a member EC2 lacks", "AuthorizeSecurityGroupIngress", obj{"Return": true, "GroupId": "sg-1"},
			"encode AuthorizeSecurityGroupIngress: answer: AuthorizeSecurityGroupIngressResult has no member GroupId"},
		{"a nested member EC2 lacks", "DescribeNetworkInterfaces",
			obj{"NetworkInterfaces": []obj{{"NetworkInterfaceId": "eni-1", "Attachment": obj{"AvailabilityZone": "a"}}}},
			"encode DescribeNetworkInterfaces: NetworkInterfaces[0].Attachment: NetworkInterfaceAttachment has no member AvailabilityZone"},
		{"a value outside the enum", "DescribeNetworkInterfaces",
			obj{"NetworkInterfaces": []obj{{"NetworkInterfaceId": "eni-1", "InterfaceType": "nat_gateway"}}},
			`encode DescribeNetworkInterfaces: NetworkInterfaces[0].InterfaceType: "nat_gateway" is not one of EC2's values for NetworkInterfaceType (interface, natGateway, efa, trunk, load_balancer, network_load_balancer, vpc_endpoint, branch, transit_gateway, lambda …)`},
		{"a list of strings for a list of structures", "AssignPrivateIpAddresses",
			obj{"NetworkInterfaceId": "eni-1", "AssignedPrivateIpAddresses": []string{"10.0.0.6"}},
			"encode AssignPrivateIpAddresses: AssignedPrivateIpAddresses[0]: want a structure (AssignedPrivateIpAddress), have string"},
		{"a string for a boolean", "DescribeVpcs", obj{"Vpcs": []obj{{"IsDefault": "false"}}},
			"encode DescribeVpcs: Vpcs[0].IsDefault: want a boolean (Boolean), have string"},
		{"a fraction for an integer", "DescribeInstances", obj{"Reservations": []obj{{"Instances": []obj{{"AmiLaunchIndex": 1.5}}}}},
			"encode DescribeInstances: Reservations[0].Instances[0].AmiLaunchIndex: want an integer (Integer), have float64 1.5"},
		{"a structure for a list", "DescribeVpcs", obj{"Vpcs": obj{"VpcId": "vpc-1"}},
			"encode DescribeVpcs: Vpcs: want a list (VpcList), have map[string]interface {}"},
		{"an answer where EC2 has none", "DeleteRoute", obj{"Return": true},
			"encode DeleteRoute: EC2's model has no answer for it, but an answer was given: map[Return:true]"},
		{"an action the model lacks", "CreateTransitGateway", obj{}, "encode: no action CreateTransitGateway in the model"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			err := Encode(&b, c.action, rid, c.out)
			if err == nil || err.Error() != c.want {
				t.Errorf("Encode = %v\n            want %s", err, c.want)
			}
			if b.Len() != 0 {
				t.Errorf("Encode wrote %d bytes on an error", b.Len())
			}
		})
	}
}

func TestEncodeDoesNotChangeItsInput(t *testing.T) {
	out := obj{"Vpcs": []any{obj{"VpcId": "vpc-1", "Tags": []obj{{"Key": "Name", "Value": "x"}}}}}
	before := canonicalJSON(t, out)
	if err := Encode(&bytes.Buffer{}, "DescribeVpcs", rid, out); err != nil {
		t.Fatal(err)
	}
	if after := canonicalJSON(t, out); after != before {
		t.Errorf("Encode changed its input: %s → %s", before, after)
	}
}

func TestHTTPStatus(t *testing.T) {
	for code, want := range map[string]int{
		CodeDryRunOperation:       http.StatusPreconditionFailed,
		CodeAuthFailure:           http.StatusUnauthorized,
		CodeSignatureDoesNotMatch: http.StatusForbidden,
		CodeRequestExpired:        http.StatusBadRequest,
		CodeUnknownParameter:      http.StatusBadRequest,
		CodeInvalidAction:         http.StatusBadRequest,
		"InvalidVpcID.NotFound":   http.StatusBadRequest,
		CodeInternalError:         http.StatusInternalServerError,
		CodeRequestLimitExceeded:  http.StatusServiceUnavailable,
		CodeUnavailable:           http.StatusServiceUnavailable,
	} {
		if got := HTTPStatus(code); got != want {
			t.Errorf("HTTPStatus(%s) = %d, want %d", code, got, want)
		}
	}
}

func TestRequestIDIsAUUID(t *testing.T) {
	id := RequestID([16]byte{0: 0xff, 6: 0xff, 8: 0xff, 15: 1})
	if id != "ff000000-0000-4f00-bf00-000000000001" {
		t.Errorf("RequestID = %s", id)
	}
}
