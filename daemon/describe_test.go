package daemon

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/vpcnet/vpcnet/ec2/query"
)

// TestDescribeThroughTheSocketIsEC2Shape: every describe-* answers through
// the socket's handler with what EC2's model allows (ec2/query.Encode of
// the JSON the CLI receives: no unknown member, no wrong enum, timestamps
// that parse), takes ids and filters by EC2's member names, and refuses an
// unknown id with EC2's code.
func TestDescribeThroughTheSocketIsEC2Shape(t *testing.T) {
	d := offlineDaemon(t)
	for _, op := range []string{"DescribeVpcs", "DescribeAddresses", "DescribeNetworkInterfaces", "DescribeInstances",
		"DescribeRouteTables", "DescribeSecurityGroups", "DescribeNetworkAcls", "DescribeSubnets", "DescribeNatGateways"} {
		code, body := call(t, d, op, map[string]any{})
		var out map[string]any
		if err := json.Unmarshal(body, &out); code != http.StatusOK || err != nil {
			t.Fatalf("%s: %d %s", op, code, body)
		}
		if err := query.Encode(io.Discard, op, "r", out); err != nil {
			t.Errorf("%s: the answer is not EC2's shape: %v\n%s", op, err, body)
		}
	}

	web := d.net.InstanceByName["web"]
	code, body := call(t, d, "DescribeInstances", map[string]any{"InstanceIds": []string{web.ID}})
	var r struct {
		Reservations []struct {
			Instances []struct{ InstanceId, ImageId, InstanceType, LaunchTime, PrivateDnsName string }
		}
	}
	if err := json.Unmarshal(body, &r); code != http.StatusOK || err != nil || len(r.Reservations) != 1 {
		t.Fatalf("DescribeInstances of web: %d %s", code, body)
	}
	if i := r.Reservations[0].Instances[0]; i.InstanceId != web.ID || i.ImageId == "" || i.InstanceType != "t2.micro" ||
		i.LaunchTime == "" || i.PrivateDnsName != "ip-92-75-100-10.ap-northeast-2.compute.internal" {
		t.Errorf("web: %+v", i)
	}

	code, body = call(t, d, "DescribeSubnets", map[string]any{
		"Filters": []map[string]any{{"Name": "tag:Name", "Values": []string{"PRI-DB-2a"}}}})
	var s struct{ Subnets []struct{ CidrBlock string } }
	if err := json.Unmarshal(body, &s); code != http.StatusOK || err != nil || len(s.Subnets) != 1 || s.Subnets[0].CidrBlock != "92.75.200.0/24" {
		t.Errorf("DescribeSubnets tag:Name=PRI-DB-2a: %d %s", code, body)
	}

	for _, c := range []struct {
		op   string
		in   map[string]any
		code string
	}{
		{"DescribeInstances", map[string]any{"InstanceIds": []string{"i-00000000000000000"}}, "InvalidInstanceID.NotFound"},
		{"DescribeNetworkInterfaces", map[string]any{"Filters": []map[string]any{{"Name": "no-such", "Values": []string{"x"}}}}, "InvalidParameterValue"},
		{"DescribeInstances", map[string]any{"DryRun": true}, "DryRunOperation"},
	} {
		code, body := call(t, d, c.op, c.in)
		var e OpError
		json.Unmarshal(body, &e)
		if code == http.StatusOK || e.Code != c.code {
			t.Errorf("%s %v: %d %s, want %s", c.op, c.in, code, body, c.code)
		}
	}
}
