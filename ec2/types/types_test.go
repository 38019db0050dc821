package types

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vpcnet/vpcnet/ec2/query"
)

const rid = "5b4ae0d2-7c5e-4a8c-9a43-0f2f7d3c1e11"

func ptr[T any](v T) *T { return &v }

var launch = time.Date(2024, 3, 1, 12, 30, 45, 123e6, time.UTC)

// Answers as a handler builds them: typed, pointers for what is set.
var (
	describeVpcs = &DescribeVpcsResult{Vpcs: []Vpc{{
		VpcId: ptr("vpc-1"), CidrBlock: ptr("10.0.0.0/16"), State: VpcStateAvailable,
		OwnerId: ptr("123456789012"), IsDefault: ptr(false), InstanceTenancy: TenancyDefault,
		DhcpOptionsId: ptr("default"),
		CidrBlockAssociationSet: []VpcCidrBlockAssociation{{AssociationId: ptr("vpc-cidr-assoc-1"),
			CidrBlock: ptr("10.0.0.0/16"), CidrBlockState: &VpcCidrBlockState{State: VpcCidrBlockStateCodeAssociated}}},
		Tags: []Tag{{Key: ptr("Name"), Value: ptr("prod & <test>")}},
	}}}

	describeInstances = &DescribeInstancesResult{Reservations: []Reservation{{
		ReservationId: ptr("r-1"), OwnerId: ptr("123456789012"),
		Groups: []GroupIdentifier{},
		Instances: []Instance{{
			InstanceId: ptr("i-1"), ImageId: ptr("ami-1"), InstanceType: InstanceTypeT2Micro,
			LaunchTime: &launch, AmiLaunchIndex: ptr(int32(0)),
			State:          &InstanceState{Code: ptr(int32(16)), Name: InstanceStateNameRunning},
			PrivateDnsName: ptr("ip-10-0-1-10.ec2.internal"), PublicDnsName: ptr(""),
			PrivateIpAddress: ptr("10.0.1.10"), SubnetId: ptr("subnet-1"), VpcId: ptr("vpc-1"),
			Architecture: ArchitectureValuesX8664, RootDeviceType: DeviceTypeEbs,
			SourceDestCheck: ptr(false),
			Placement:       &Placement{AvailabilityZone: ptr("us-east-1a"), Tenancy: TenancyDefault},
			SecurityGroups:  []GroupIdentifier{{GroupId: ptr("sg-1"), GroupName: ptr("web")}},
			NetworkInterfaces: []InstanceNetworkInterface{{
				NetworkInterfaceId: ptr("eni-1"), SubnetId: ptr("subnet-1"), VpcId: ptr("vpc-1"),
				OwnerId: ptr("123456789012"), MacAddress: ptr("02:00:00:00:00:01"),
				PrivateIpAddress: ptr("10.0.1.10"), SourceDestCheck: ptr(false),
				Status: NetworkInterfaceStatusInUse, InterfaceType: ptr("interface"),
				Attachment: &InstanceNetworkInterfaceAttachment{AttachmentId: ptr("eni-attach-1"),
					AttachTime: &launch, DeleteOnTermination: ptr(true), DeviceIndex: ptr(int32(0)),
					Status: AttachmentStatusAttached, NetworkCardIndex: ptr(int32(0))},
				Groups: []GroupIdentifier{{GroupId: ptr("sg-1"), GroupName: ptr("web")}},
				PrivateIpAddresses: []InstancePrivateIpAddress{
					{Primary: ptr(true), PrivateIpAddress: ptr("10.0.1.10")},
					{Primary: ptr(false), PrivateIpAddress: ptr("10.0.1.11")},
				},
			}},
		}},
	}}}

	authorizeIngress = &AuthorizeSecurityGroupIngressResult{Return: ptr(true),
		SecurityGroupRules: []SecurityGroupRule{{SecurityGroupRuleId: ptr("sgr-1"), GroupId: ptr("sg-1"),
			GroupOwnerId: ptr("123456789012"), IsEgress: ptr(false), IpProtocol: ptr("tcp"),
			FromPort: ptr(int32(22)), ToPort: ptr(int32(22)), CidrIpv4: ptr("0.0.0.0/0")}}}
)

func encode(t *testing.T, action string, out any) string {
	t.Helper()
	var b bytes.Buffer
	if err := query.Encode(&b, action, rid, out); err != nil {
		t.Fatalf("Encode %s: %v", action, err)
	}
	return b.String()
}

// TestEncodeTypedAnswers: the generated structs go to query.Encode as they
// are, and come out as EC2's elements, a false that is set included.
func TestEncodeTypedAnswers(t *testing.T) {
	for _, c := range []struct {
		action string
		out    any
		want   []string
	}{
		{"DescribeVpcs", describeVpcs, []string{
			`<vpcSet><item><cidrBlock>10.0.0.0/16</cidrBlock>`,
			`<isDefault>false</isDefault><tagSet><item><key>Name</key><value>prod &amp; &lt;test&gt;</value></item></tagSet></item></vpcSet>`,
		}},
		{"DescribeInstances", describeInstances, []string{
			`<reservationSet><item><groupSet></groupSet><instancesSet><item><amiLaunchIndex>0</amiLaunchIndex><imageId>ami-1</imageId><instanceId>i-1</instanceId><instanceType>t2.micro</instanceType>`,
			`<launchTime>2024-03-01T12:30:45.123Z</launchTime>`,
			`<instanceState><code>16</code><name>running</name></instanceState>`,
			`<dnsName></dnsName>`,
			`<networkInterfaceSet><item><attachment><attachTime>2024-03-01T12:30:45.123Z</attachTime><attachmentId>eni-attach-1</attachmentId><deleteOnTermination>true</deleteOnTermination><deviceIndex>0</deviceIndex><status>attached</status><networkCardIndex>0</networkCardIndex></attachment>`,
			`<privateIpAddressesSet><item><primary>true</primary><privateIpAddress>10.0.1.10</privateIpAddress></item><item><primary>false</primary>`,
			`<sourceDestCheck>false</sourceDestCheck><status>in-use</status>`,
			`<ownerId>123456789012</ownerId><reservationId>r-1</reservationId></item></reservationSet>`,
		}},
		{"AuthorizeSecurityGroupIngress", authorizeIngress, []string{
			`<return>true</return><securityGroupRuleSet><item><securityGroupRuleId>sgr-1</securityGroupRuleId>`,
			`<isEgress>false</isEgress><ipProtocol>tcp</ipProtocol><fromPort>22</fromPort><toPort>22</toPort><cidrIpv4>0.0.0.0/0</cidrIpv4></item>`,
		}},
		{"GetCallerIdentity", &GetCallerIdentityResponse{Account: ptr("123456789012"), Arn: ptr("arn:aws:iam::123456789012:root"), UserId: ptr("123456789012")}, []string{
			`<GetCallerIdentityResult><UserId>123456789012</UserId><Account>123456789012</Account><Arn>arn:aws:iam::123456789012:root</Arn></GetCallerIdentityResult>`,
		}},
	} {
		x := encode(t, c.action, c.out)
		for _, w := range c.want {
			if !strings.Contains(x, w) {
				t.Errorf("%s: the answer lacks %s:\n%s", c.action, w, x)
			}
		}
	}
}

// TestEmptyListIsKept: a describe that finds nothing answers an empty list
// (EC2's <vpcSet/>, the AWS CLI's "Vpcs": []); a nil slice is no element.
// With omitempty instead of omitzero the empty list would vanish.
func TestEmptyListIsKept(t *testing.T) {
	if x := encode(t, "DescribeVpcs", &DescribeVpcsResult{Vpcs: []Vpc{}}); !strings.Contains(x, "<vpcSet></vpcSet>") {
		t.Errorf("an empty Vpcs is not an empty vpcSet:\n%s", x)
	}
	if x := encode(t, "DescribeVpcs", &DescribeVpcsResult{}); strings.Contains(x, "vpcSet") {
		t.Errorf("a nil Vpcs is a vpcSet:\n%s", x)
	}
	if x := encode(t, "DescribeVpcs", &DescribeVpcsResult{Vpcs: []Vpc{{IsDefault: ptr(false)}}}); !strings.Contains(x, "<isDefault>false</isDefault>") {
		t.Errorf("a false that is set is not printed:\n%s", x)
	}
}

// TestBotocoreReadsTypedAnswers: what botocore's EC2 parser reads from the
// XML of a typed answer unmarshals into the same type (no unknown member)
// and equals the answer: field names, types and Encode agree with EC2's
// model as the AWS CLI and boto3 read it.
func TestBotocoreReadsTypedAnswers(t *testing.T) {
	cases := []struct {
		action string
		out    any
	}{
		{"DescribeVpcs", describeVpcs},
		{"DescribeInstances", describeInstances},
		{"AuthorizeSecurityGroupIngress", authorizeIngress},
		{"DescribeVpcs", &DescribeVpcsResult{Vpcs: []Vpc{}}},
	}
	var bodies []botoCase
	for _, c := range cases {
		bodies = append(bodies, botoCase{Service: "ec2", Action: c.action, Body: encode(t, c.action, c.out)})
	}
	parsed := botocoreParse(t, bodies)
	for i, c := range cases {
		back := NewOutput(c.action)
		if err := strictUnmarshal(parsed[i], back); err != nil {
			t.Fatalf("%s: botocore's reading does not fit %T: %v\n%s", c.action, back, err, parsed[i])
		}
		if !reflect.DeepEqual(back, c.out) {
			got, _ := json.Marshal(back)
			want, _ := json.Marshal(c.out)
			t.Errorf("%s: botocore read\n%s\nwant\n%s", c.action, got, want)
		}
	}
}

func strictUnmarshal(b []byte, out any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	return d.Decode(out)
}

type botoCase struct {
	Service string `json:"service"`
	Action  string `json:"action"`
	Body    string `json:"body"`
}

// botocoreParse reads answers with botocore's parser for the service's
// protocol (Debian's python3-botocore), as JSON with timestamps in
// RFC 3339 and blobs base64; the test skips without botocore.
func botocoreParse(t *testing.T, cases []botoCase) []json.RawMessage {
	t.Helper()
	if err := exec.Command("python3", "-c", "import botocore.parsers").Run(); err != nil {
		t.Skip("python3-botocore is not installed (apt-get install -y python3-botocore)")
	}
	const helper = `
import base64, datetime, json, sys
import botocore.session, botocore.parsers
from botocore.model import ServiceModel
loader = botocore.session.get_session().get_component('data_loader')
def plain(v):
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, datetime.datetime):
        v = v.astimezone(datetime.timezone.utc)
        return v.strftime('%Y-%m-%dT%H:%M:%S.') + '%03dZ' % (v.microsecond // 1000)
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    return v
out = []
for c in json.load(sys.stdin):
    svc = ServiceModel(loader.load_service_model(c['service'], 'service-2'), c['service'])
    op = svc.operation_model(c['action'])
    r = botocore.parsers.create_parser(svc.metadata['protocol']).parse(
        {'body': c['body'].encode(), 'headers': {}, 'status_code': 200}, op.output_shape)
    r.pop('ResponseMetadata', None)
    out.append(plain(r))
json.dump(out, sys.stdout)
`
	in, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("python3", "-c", helper)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("botocore: %v\n%s", err, stderr.String())
	}
	var out []json.RawMessage
	if err := json.Unmarshal(b, &out); err != nil || len(out) != len(cases) {
		t.Fatalf("botocore: %v (%d answers for %d cases)\n%s", err, len(out), len(cases), b)
	}
	return out
}

// TestDecodeInput: requests as the AWS CLI sends them, read by query.Decode
// and turned into the typed inputs: nested lists (IpPermissions, Filters,
// TagSpecifications), wrapped booleans (SourceDestCheck.Value), required
// values, integers, blobs.
func TestDecodeInput(t *testing.T) {
	for _, c := range []struct {
		name, action string
		form         string
		want         any
	}{
		{"IpPermissions", "AuthorizeSecurityGroupIngress",
			"GroupId=sg-1&IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=22&IpPermissions.1.ToPort=22" +
				"&IpPermissions.1.IpRanges.1.CidrIp=10.0.0.0/16&IpPermissions.1.IpRanges.2.CidrIp=0.0.0.0/0&IpPermissions.1.IpRanges.2.Description=any" +
				"&IpPermissions.1.Groups.1.GroupId=sg-2&IpPermissions.2.IpProtocol=-1&DryRun=false",
			&AuthorizeSecurityGroupIngressRequest{GroupId: ptr("sg-1"), DryRun: ptr(false), IpPermissions: []IpPermission{
				{IpProtocol: ptr("tcp"), FromPort: ptr(int32(22)), ToPort: ptr(int32(22)),
					IpRanges:         []IpRange{{CidrIp: ptr("10.0.0.0/16")}, {CidrIp: ptr("0.0.0.0/0"), Description: ptr("any")}},
					UserIdGroupPairs: []UserIdGroupPair{{GroupId: ptr("sg-2")}}},
				{IpProtocol: ptr("-1")},
			}}},
		{"Filters and ids", "DescribeInstances",
			"Filter.1.Name=vpc-id&Filter.1.Value.1=vpc-1&Filter.1.Value.2=vpc-2&Filter.2.Name=tag:Name&Filter.2.Value.1=web" +
				"&InstanceId.1=i-1&MaxResults=5&NextToken=abc",
			&DescribeInstancesRequest{InstanceIds: []string{"i-1"}, MaxResults: ptr(int32(5)), NextToken: ptr("abc"), Filters: []Filter{
				{Name: ptr("vpc-id"), Values: []string{"vpc-1", "vpc-2"}},
				{Name: ptr("tag:Name"), Values: []string{"web"}},
			}}},
		{"TagSpecifications, blob, required counts", "RunInstances",
			"ImageId=ami-1&InstanceType=t2.micro&MinCount=1&MaxCount=2&UserData=aGk=&SubnetId=subnet-1" +
				"&TagSpecification.1.ResourceType=instance&TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=web" +
				"&SecurityGroupId.1=sg-1&Monitoring.Enabled=false",
			&RunInstancesRequest{ImageId: ptr("ami-1"), InstanceType: InstanceTypeT2Micro, MinCount: 1, MaxCount: 2,
				UserData: ptr("aGk="), SubnetId: ptr("subnet-1"), SecurityGroupIds: []string{"sg-1"},
				Monitoring: &RunInstancesMonitoringEnabled{Enabled: false},
				TagSpecifications: []TagSpecification{{ResourceType: ResourceTypeInstance,
					Tags: []Tag{{Key: ptr("Name"), Value: ptr("web")}}}}}},
		{"SourceDestCheck", "ModifyNetworkInterfaceAttribute",
			"NetworkInterfaceId=eni-1&SourceDestCheck.Value=false",
			&ModifyNetworkInterfaceAttributeRequest{NetworkInterfaceId: "eni-1",
				SourceDestCheck: &AttributeBooleanValue{Value: ptr(false)}}},
		{"instance SourceDestCheck", "ModifyInstanceAttribute",
			"InstanceId=i-1&SourceDestCheck.Value=true",
			&ModifyInstanceAttributeRequest{InstanceId: "i-1", SourceDestCheck: &AttributeBooleanValue{Value: ptr(true)}}},
		{"required booleans", "CreateNetworkAclEntry",
			"NetworkAclId=acl-1&RuleNumber=100&Protocol=6&RuleAction=allow&Egress=false&CidrBlock=0.0.0.0/0&PortRange.From=80&PortRange.To=80",
			&CreateNetworkAclEntryRequest{NetworkAclId: "acl-1", RuleNumber: 100, Protocol: "6", RuleAction: RuleActionAllow,
				Egress: false, CidrBlock: ptr("0.0.0.0/0"), PortRange: &PortRange{From: ptr(int32(80)), To: ptr(int32(80))}}},
		{"ImportKeyPair blob", "ImportKeyPair",
			"KeyName=k&PublicKeyMaterial=c3NoLWVkMjU1MTk=",
			&ImportKeyPairRequest{KeyName: "k", PublicKeyMaterial: []byte("ssh-ed25519")}},
		{"CreateTags", "CreateTags",
			"ResourceId.1=vpc-1&ResourceId.2=subnet-1&Tag.1.Key=Name&Tag.1.Value=",
			&CreateTagsRequest{Resources: []string{"vpc-1", "subnet-1"}, Tags: []Tag{{Key: ptr("Name"), Value: ptr("")}}}},
		{"STS", "GetCallerIdentity", "", &GetCallerIdentityRequest{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			form, err := url.ParseQuery(c.form)
			if err != nil {
				t.Fatal(err)
			}
			form.Set("Version", "2016-11-15")
			if c.action == "GetCallerIdentity" {
				form.Set("Version", "2011-06-15")
			}
			in, err := query.Decode(c.action, form)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			got, err := DecodeInput(c.action, in)
			if err != nil {
				t.Fatalf("DecodeInput: %v", err)
			}
			if !reflect.DeepEqual(got, c.want) {
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(c.want)
				t.Errorf("got\n%s\nwant\n%s", g, w)
			}
		})
	}
}

// TestDecodeInputRefuses: maps that are not the input (as vpcnet's own CLI
// might build them) are refused with the code EC2 would give.
func TestDecodeInputRefuses(t *testing.T) {
	for _, c := range []struct {
		name, action string
		in           map[string]any
		code, in2    string // in2: a word the message must hold
	}{
		{"unknown action", "DescribeUnicorns", map[string]any{}, query.CodeInvalidAction, "DescribeUnicorns"},
		{"unknown member", "DescribeVpcs", map[string]any{"VpcId": "vpc-1"}, query.CodeUnknownParameter, "VpcId"},
		{"member in another case", "DescribeVpcs", map[string]any{"vpcIds": []any{"vpc-1"}}, query.CodeUnknownParameter, "vpcIds"},
		{"nested unknown member", "AuthorizeSecurityGroupIngress",
			map[string]any{"IpPermissions": []any{map[string]any{"IpProtocol": "tcp", "Port": int64(22)}}},
			query.CodeUnknownParameter, "IpPermissions.1.Port"},
		{"string for an integer", "DescribeVpcs", map[string]any{"MaxResults": "5"}, query.CodeInvalidParameterValue, "MaxResults"},
		{"integer over int32", "AuthorizeSecurityGroupIngress",
			map[string]any{"IpPermissions": []any{map[string]any{"FromPort": int64(1) << 40}}},
			query.CodeInvalidParameterValue, "FromPort"},
		{"list for a string", "CreateRoute", map[string]any{"RouteTableId": []any{"rtb-1"}}, query.CodeInvalidParameterValue, "RouteTableId"},
		{"structure for a boolean", "ModifyNetworkInterfaceAttribute",
			map[string]any{"NetworkInterfaceId": "eni-1", "SourceDestCheck": true}, query.CodeInvalidParameterValue, "SourceDestCheck"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, err := DecodeInput(c.action, c.in)
			var qe *query.Error
			if !errors.As(err, &qe) {
				t.Fatalf("DecodeInput = %v, %v; want a *query.Error %s", v, err, c.code)
			}
			if qe.Code != c.code || !strings.Contains(qe.Message, c.in2) {
				t.Errorf("got %s %q, want %s naming %s", qe.Code, qe.Message, c.code, c.in2)
			}
		})
	}
}

// FuzzDecodeInput: whatever request query.Decode accepts, the typed input
// accepts too (the types and Decode agree on every member and leaf type).
func FuzzDecodeInput(f *testing.F) {
	for _, s := range []string{
		"Action=AuthorizeSecurityGroupIngress&GroupId=sg-1&IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=22&IpPermissions.1.IpRanges.1.CidrIp=10.0.0.0/8",
		"Action=DescribeInstances&Filter.1.Name=vpc-id&Filter.1.Value.1=vpc-1&MaxResults=1000",
		"Action=RunInstances&MinCount=1&MaxCount=1&UserData=aGk=&TagSpecification.1.ResourceType=instance&TagSpecification.1.Tag.1.Key=k",
		"Action=ModifyInstanceAttribute&InstanceId=i-1&SourceDestCheck.Value=false&Groups.1=sg-1",
		"Action=ImportKeyPair&KeyName=k&PublicKeyMaterial=AAAA",
		"Action=CreateNetworkAclEntry&NetworkAclId=a&RuleNumber=1&Protocol=-1&RuleAction=deny&Egress=true&IcmpTypeCode.Code=-1",
		"Action=StartNetworkInsightsAnalysis&NetworkInsightsPathId=p&ClientToken=t&FilterInArn.1=arn",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		form, err := url.ParseQuery(s)
		if err != nil {
			return
		}
		action := form.Get("Action")
		form.Set("Version", "2016-11-15")
		if action == "GetCallerIdentity" {
			form.Set("Version", "2011-06-15")
		}
		in, err := query.Decode(action, form)
		if err != nil {
			return
		}
		if _, err := DecodeInput(action, in); err != nil {
			t.Fatalf("Decode accepted %q, DecodeInput refused it: %v", s, err)
		}
	})
}

// The model as ec2/query/model.json holds it, read here on its own as the
// reference the generated types are checked against.
type refModel struct {
	Operations map[string]struct {
		Service string
		Input   *struct{ Shape string }
		Output  *struct{ Shape string }
	}
	Shapes map[string]map[string]*refShape
}

type refShape struct {
	Type     string
	Enum     []string
	Required []string
	Members  []struct{ Name, Shape string }
	Member   *struct{ Shape string }
	Value    *struct{ Shape string }
}

func readModel(t *testing.T) *refModel {
	t.Helper()
	b, err := os.ReadFile("../query/model.json")
	if err != nil {
		t.Fatal(err)
	}
	m := &refModel{}
	if err := json.Unmarshal(b, m); err != nil {
		t.Fatal(err)
	}
	return m
}

// fill is a value of every member of shape name, as query.Decode's leaf
// types: lists of one element, the enum's last value, false for booleans
// (a set false must survive), a long beyond int32.
func fill(m *refModel, svc, name string) any {
	s := m.Shapes[svc][name]
	switch s.Type {
	case "structure":
		out := map[string]any{}
		for _, r := range s.Members {
			out[r.Name] = fill(m, svc, r.Shape)
		}
		return out
	case "list":
		return []any{fill(m, svc, s.Member.Shape)}
	case "map":
		return map[string]any{"k": fill(m, svc, s.Value.Shape)}
	case "string":
		if len(s.Enum) > 0 {
			return s.Enum[len(s.Enum)-1]
		}
		return "s-" + name
	case "boolean":
		return false
	case "integer":
		return int64(7)
	case "long":
		return int64(1) << 40
	case "double", "float":
		return 0.5
	case "timestamp":
		return launch
	case "blob":
		return []byte("blob")
	}
	panic("model.json: shape " + name + " has the type " + s.Type)
}

// checkType holds Go type t to shape name: a struct with exactly the
// members, in model order, each field of the type the package documents;
// seen collects the structures and enums met.
func checkType(t *testing.T, m *refModel, svc, name string, typ reflect.Type, seen map[string]bool) {
	t.Helper()
	s := m.Shapes[svc][name]
	if typ.Name() != name {
		t.Errorf("%s: the Go type is %s", name, typ)
	}
	if s.Type == "string" {
		if typ.Kind() != reflect.String {
			t.Errorf("enum %s is %s", name, typ)
		}
		seen[name] = true
		return
	}
	if typ.Kind() != reflect.Struct || typ.NumField() != len(s.Members) {
		t.Errorf("%s: %s has %d fields for %d members", name, typ, typ.NumField(), len(s.Members))
		return
	}
	if seen[name] {
		return
	}
	seen[name] = true
	required := map[string]bool{}
	for _, r := range s.Required {
		required[r] = true
	}
	for i, r := range s.Members {
		f := typ.Field(i)
		tag := f.Tag.Get("json")
		ms := m.Shapes[svc][r.Shape]
		ft := f.Type
		wantOpt := ",omitempty"
		switch {
		case required[r.Name]:
			wantOpt = ""
		case ms.Type == "list" || ms.Type == "map" || ms.Type == "blob":
			wantOpt = ",omitzero"
		case ms.Type == "string" && len(ms.Enum) > 0:
		default:
			if ft.Kind() != reflect.Pointer {
				t.Errorf("%s.%s: optional %s is %s, not a pointer", name, r.Name, ms.Type, ft)
				continue
			}
			ft = ft.Elem()
		}
		if tag != r.Name+wantOpt {
			t.Errorf("%s.%s: json tag %q, want %q", name, r.Name, tag, r.Name+wantOpt)
		}
		checkValueType(t, m, svc, name+"."+r.Name, r.Shape, ft, seen)
	}
}

var leafTypes = map[string]reflect.Type{
	"string": reflect.TypeFor[string](), "boolean": reflect.TypeFor[bool](),
	"integer": reflect.TypeFor[int32](), "long": reflect.TypeFor[int64](),
	"double": reflect.TypeFor[float64](), "float": reflect.TypeFor[float64](),
	"timestamp": reflect.TypeFor[time.Time](), "blob": reflect.TypeFor[[]byte](),
}

func checkValueType(t *testing.T, m *refModel, svc, at, shape string, ft reflect.Type, seen map[string]bool) {
	t.Helper()
	s := m.Shapes[svc][shape]
	switch {
	case s.Type == "structure" || (s.Type == "string" && len(s.Enum) > 0):
		checkType(t, m, svc, shape, ft, seen)
	case s.Type == "list":
		if ft.Kind() != reflect.Slice {
			t.Errorf("%s: list %s is %s", at, shape, ft)
			return
		}
		checkValueType(t, m, svc, at+"[]", s.Member.Shape, ft.Elem(), seen)
	case s.Type == "map":
		if ft.Kind() != reflect.Map || ft.Key().Kind() != reflect.String {
			t.Errorf("%s: map %s is %s", at, shape, ft)
			return
		}
		checkValueType(t, m, svc, at+"{}", s.Value.Shape, ft.Elem(), seen)
	case ft != leafTypes[s.Type]:
		t.Errorf("%s: %s %s is %s, want %v", at, s.Type, shape, ft, leafTypes[s.Type])
	}
}

// TestEveryShape walks the model on its own and holds the generated types
// to it: every operation has its input and output types (and only those
// NewOutput answers non-nil for); every structure and enum of the subset
// has a type, with exactly its members; a value of every member converts
// from query's leaf types (DecodeInto) and back to the same JSON; and every
// output, filled, encodes through query.Encode to the same XML as the same
// answer as a map.
func TestEveryShape(t *testing.T) {
	m := readModel(t)
	if len(Operations) != len(m.Operations) {
		t.Errorf("Operations has %d actions, the model %d", len(Operations), len(m.Operations))
	}
	seen := map[string]bool{}
	for action, op := range m.Operations {
		for _, side := range []struct {
			what  string
			shape *struct{ Shape string }
			table string
			zero  any
		}{
			{"input", op.Input, Operations[action].Input, NewInput(action)},
			{"output", op.Output, Operations[action].Output, NewOutput(action)},
		} {
			if side.shape == nil {
				if side.zero != nil || side.table != "" {
					t.Errorf("%s has no %s shape; types give %T and %q", action, side.what, side.zero, side.table)
				}
				continue
			}
			if side.table != side.shape.Shape || side.zero == nil {
				t.Errorf("%s's %s is %s; types give %T and %q", action, side.what, side.shape.Shape, side.zero, side.table)
				continue
			}
			checkType(t, m, op.Service, side.shape.Shape, reflect.TypeOf(side.zero).Elem(), seen)

			full := fill(m, op.Service, side.shape.Shape).(map[string]any)
			if err := DecodeInto(full, side.zero); err != nil {
				t.Errorf("%s %s: a full value does not convert: %v", action, side.what, err)
				continue
			}
			if a, b := canonical(t, full), canonical(t, side.zero); a != b {
				t.Errorf("%s %s: the typed value marshals to\n%s\nnot\n%s", action, side.what, b, a)
			}
			if side.what == "output" {
				if typed, plain := encode(t, action, side.zero), encode(t, action, full); typed != plain {
					t.Errorf("%s: the typed answer encodes to\n%s\nthe map to\n%s", action, typed, plain)
				}
			}
		}
	}
	for svc, shapes := range m.Shapes {
		for name, s := range shapes {
			if (s.Type == "structure" || (s.Type == "string" && len(s.Enum) > 0)) && !seen[name] {
				t.Errorf("%s shape %s has no type reached from an operation", svc, name)
			}
		}
	}
	if len(seen) < 250 {
		t.Errorf("only %d types checked", len(seen))
	}
}

// canonical is v's JSON with object keys sorted, numbers exact.
func canonical(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var x any
	if err := d.Decode(&x); err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(x)
	return string(b)
}

// TestEnumConstants: constants carry EC2's values under the SDK's names.
func TestEnumConstants(t *testing.T) {
	for got, want := range map[string]string{
		string(InstanceTypeT2Micro):            "t2.micro",
		string(InstanceStateNameShuttingDown):  "shutting-down",
		string(ArchitectureValuesX8664):        "x86_64",
		string(NetworkInterfaceTypeNatGateway): "natGateway",
		string(DomainTypeVpc):                  "vpc",
		string(ResourceTypeSecurityGroup):      "security-group",
	} {
		if got != want {
			t.Errorf("constant %q, want %q", got, want)
		}
	}
}
