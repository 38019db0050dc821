package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/vpcnet/vpcnet/ec2/types"
)

// instancesInput runs api's typedInputs entry on flags and holds what it
// builds to EC2's model (member names and types); it returns the request
// as JSON's values, or the entry's error.
func instancesInput(t *testing.T, api string, flags flagRequest) (map[string]any, error) {
	t.Helper()
	in, err := typedInput(api, flags)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var norm map[string]any
	json.Unmarshal(b, &norm)
	if _, err := types.DecodeInput(api, norm); err != nil {
		t.Fatalf("%s %v built %s, which EC2's model refuses: %v", api, flags, b, err)
	}
	return norm, nil
}

func asJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestRunInstancesFlagsAsTheAWSCLI: run-instances' flags become the request
// the AWS CLI's own customizations build from the same flags (addcount.py:
// --count N or MIN:MAX, default 1; runinstances.py: --associate-public-ip-
// address builds NetworkInterfaces[0] and moves the subnet, groups and
// address into it; botocore: --user-data base64-encoded), checked against
// those functions themselves.
func TestRunInstancesFlagsAsTheAWSCLI(t *testing.T) {
	type cliCase struct {
		Flags     flagRequest    `json:"-"`
		Params    map[string]any `json:"params"` // what the AWS CLI's plain arguments give
		Count     *string        `json:"count"`
		Associate *bool          `json:"associate"`
	}
	str := func(s string) *string { return &s }
	yes, no := true, false
	cases := []cliCase{
		{Flags: flagRequest{"subnet-id": "s"}, Params: map[string]any{"SubnetId": "s"}},
		{Flags: flagRequest{"subnet-id": "s", "count": "3"}, Params: map[string]any{"SubnetId": "s"}, Count: str("3")},
		{Flags: flagRequest{"subnet-id": "s", "count": "2:5"}, Params: map[string]any{"SubnetId": "s"}, Count: str("2:5")},
		{Flags: flagRequest{"subnet-id": "s", "count": "x"}, Params: map[string]any{"SubnetId": "s"}, Count: str("x")},
		{Flags: flagRequest{"subnet-id": "s", "count": "1:2:3"}, Params: map[string]any{"SubnetId": "s"}, Count: str("1:2:3")},
		{Flags: flagRequest{"subnet-id": "s", "count": "2x"}, Params: map[string]any{"SubnetId": "s"}, Count: str("2x")},
		{Flags: flagRequest{"subnet-id": "s", "security-group-ids": "g1,g2", "private-ip-address": "10.0.1.5", "associate-public-ip-address": "true"},
			Params: map[string]any{"SubnetId": "s", "SecurityGroupIds": []any{"g1", "g2"}, "PrivateIpAddress": "10.0.1.5"}, Associate: &yes},
		{Flags: flagRequest{"subnet-id": "s", "associate-public-ip-address": "false"}, Params: map[string]any{"SubnetId": "s"}, Associate: &no},
		{Flags: flagRequest{"subnet-id": "s", "security-group-ids": "g1", "private-ip-address": "10.0.1.5"},
			Params: map[string]any{"SubnetId": "s", "SecurityGroupIds": []any{"g1"}, "PrivateIpAddress": "10.0.1.5"}},
		{Flags: flagRequest{"subnet-id": "s", "user-data": "#!/bin/sh\nvpcnet serve --http :80 # é\n", "image-id": "ami-0123456789abcdef0",
			"instance-type": "t3.micro", "key-name": "lab"},
			Params: map[string]any{"SubnetId": "s", "UserData": "#!/bin/sh\nvpcnet serve --http :80 # é\n", "ImageId": "ami-0123456789abcdef0",
				"InstanceType": "t3.micro", "KeyName": "lab"}},
	}
	const script = `
import json, sys
from awscli.customizations.ec2.addcount import CountArgument, set_default_count
from awscli.customizations.ec2.runinstances import (AssociatePublicIpAddressArgument,
    NoAssociatePublicIpAddressArgument, _fix_args)
from botocore.handlers import base64_encode_user_data
out = []
for c in json.load(sys.stdin):
    params = c["params"]
    try:
        if c["count"] is not None:
            CountArgument("count").add_to_params(params, c["count"])
        if c["associate"] is True:
            AssociatePublicIpAddressArgument("associate-public-ip-address", action="store_true").add_to_params(params, True)
        if c["associate"] is False:
            NoAssociatePublicIpAddressArgument("no-associate-public-ip-address", action="store_false").add_to_params(params, False)
        set_default_count(params)
        _fix_args(params)
        base64_encode_user_data(params)
        out.append({"ok": params})
    except Exception:  # ParamValidationError or ValueError, by the AWS CLI's version
        out.append({"err": True})
print(json.dumps(out))
`
	var want []map[string]any
	python(t, script, cases, &want)
	for k, c := range cases {
		got, err := instancesInput(t, "RunInstances", c.Flags)
		if _, werr := want[k]["err"]; werr != (err != nil) {
			t.Errorf("%v: err %v, the AWS CLI %v", c.Flags, err, want[k])
			continue
		}
		if err == nil && !reflect.DeepEqual(got, want[k]["ok"]) {
			t.Errorf("%v:\n got  %s\n want %s (the AWS CLI)", c.Flags, asJSON(got), asJSON(want[k]["ok"]))
		}
	}
	// vpcnet's --name: the instance's Name tag.
	got, err := instancesInput(t, "RunInstances", flagRequest{"subnet-id": "s", "name": "web"})
	if err != nil || asJSON(got["TagSpecifications"]) != `[{"ResourceType":"instance","Tags":[{"Key":"Name","Value":"web"}]}]` {
		t.Fatalf("--name: %v %v", got, err)
	}
}

// The other commands' flags, as the AWS CLI sends the same commands:
// booleans as {Value}, lists as lists, whole numbers only, vpcnet's --name
// as the Name tag and detach --network-interface-id as the AttachmentId
// (which the handler resolves).
func TestENIAndInstanceFlagsAsTheAWSCLI(t *testing.T) {
	cases := []struct {
		api   string
		flags flagRequest
		want  string // JSON, or "error: …" for a refusal
	}{
		{"CreateNetworkInterface", flagRequest{"subnet-id": "s", "groups": "g1,g2", "private-ip-address": "10.0.1.5", "description": "d", "name": "x1"},
			`{"Description":"d","Groups":["g1","g2"],"PrivateIpAddress":"10.0.1.5","SubnetId":"s","TagSpecifications":[{"ResourceType":"network-interface","Tags":[{"Key":"Name","Value":"x1"}]}]}`},
		{"AttachNetworkInterface", flagRequest{"network-interface-id": "e", "instance-id": "i", "device-index": "1"},
			`{"DeviceIndex":1,"InstanceId":"i","NetworkInterfaceId":"e"}`},
		{"AttachNetworkInterface", flagRequest{"network-interface-id": "e", "instance-id": "i", "device-index": "x"}, "error: not a whole number"},
		{"AttachNetworkInterface", flagRequest{"network-interface-id": "e", "instance-id": "i", "device-index": "1.0"}, "error: not a whole number"},
		{"DetachNetworkInterface", flagRequest{"attachment-id": "eni-attach-1"}, `{"AttachmentId":"eni-attach-1"}`},
		{"DetachNetworkInterface", flagRequest{"network-interface-id": "x1"}, `{"AttachmentId":"x1"}`},
		{"ModifyNetworkInterfaceAttribute", flagRequest{"network-interface-id": "e", "source-dest-check": "false"},
			`{"NetworkInterfaceId":"e","SourceDestCheck":{"Value":false}}`},
		{"ModifyNetworkInterfaceAttribute", flagRequest{"network-interface-id": "e", "groups": "g1,g2"}, `{"Groups":["g1","g2"],"NetworkInterfaceId":"e"}`},
		{"ModifyInstanceAttribute", flagRequest{"instance-id": "i", "source-dest-check": "true"}, `{"InstanceId":"i","SourceDestCheck":{"Value":true}}`},
		{"AssignPrivateIpAddresses", flagRequest{"network-interface-id": "e", "private-ip-addresses": "10.0.1.6,10.0.1.7"},
			`{"NetworkInterfaceId":"e","PrivateIpAddresses":["10.0.1.6","10.0.1.7"]}`},
		{"AssignPrivateIpAddresses", flagRequest{"network-interface-id": "e", "secondary-private-ip-address-count": "2"},
			`{"NetworkInterfaceId":"e","SecondaryPrivateIpAddressCount":2}`},
		{"AssignPrivateIpAddresses", flagRequest{"network-interface-id": "e", "secondary-private-ip-address-count": "2x"}, "error: not a whole number"},
		// By name (typedInput's default): the flags are the members.
		{"UnassignPrivateIpAddresses", flagRequest{"network-interface-id": "e", "private-ip-addresses": "10.0.1.6,10.0.1.7"},
			`{"NetworkInterfaceId":"e","PrivateIpAddresses":["10.0.1.6","10.0.1.7"]}`},
		{"DeleteNetworkInterface", flagRequest{"network-interface-id": "e"}, `{"NetworkInterfaceId":"e"}`},
		{"TerminateInstances", flagRequest{"instance-ids": "i-1,i-2"}, `{"InstanceIds":["i-1","i-2"]}`},
		{"StopInstances", flagRequest{"instance-ids": "i-1"}, `{"InstanceIds":["i-1"]}`},
		{"StartInstances", flagRequest{"instance-ids": "i-1"}, `{"InstanceIds":["i-1"]}`},
		{"CreateRoute", flagRequest{"route-table-id": "r", "destination-cidr-block": "0.0.0.0/0", "nat-gateway-id": "n"},
			`{"DestinationCidrBlock":"0.0.0.0/0","NatGatewayId":"n","RouteTableId":"r"}`},
		{"ReplaceRoute", flagRequest{"route-table-id": "r", "destination-cidr-block": "0.0.0.0/0", "instance-id": "i"},
			`{"DestinationCidrBlock":"0.0.0.0/0","InstanceId":"i","RouteTableId":"r"}`},
		{"DeleteRoute", flagRequest{"route-table-id": "r", "destination-cidr-block": "0.0.0.0/0"}, `{"DestinationCidrBlock":"0.0.0.0/0","RouteTableId":"r"}`},
	}
	for _, c := range cases {
		got, err := instancesInput(t, c.api, c.flags)
		if want, ok := strings.CutPrefix(c.want, "error: "); ok {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s %v: %v %v, want an error saying %q", c.api, c.flags, got, err, want)
			}
			continue
		}
		if err != nil || asJSON(got) != c.want {
			t.Errorf("%s %v:\n got  %s (%v)\n want %s", c.api, c.flags, asJSON(got), err, c.want)
		}
	}
}

// Through the command line: space-separated lists, --count and the new
// flags reach the request; a command without --count launches one.
func TestRunInstancesCommandLine(t *testing.T) {
	c, _, err := runCall(t, opNamed(t, "run-instances"), []string{"--subnet-id", "s", "--security-group-ids", "g1", "g2",
		"--count", "2", "--image-id", "ami-0123456789abcdef0", "--instance-type", "t3.micro", "--key-name", "k"}, map[string]any{})
	if err != nil || c == nil {
		t.Fatalf("run-instances: %v", err)
	}
	if got := asJSON(c.input); got != `{"ImageId":"ami-0123456789abcdef0","InstanceType":"t3.micro","KeyName":"k","MaxCount":2,"MinCount":2,"SecurityGroupIds":["g1","g2"],"SubnetId":"s"}` {
		t.Fatalf("request: %s", got)
	}
	c, _, err = runCall(t, opNamed(t, "terminate-instances"), []string{"--instance-ids", "i-1", "i-2"}, map[string]any{})
	if err != nil || asJSON(c.input) != `{"InstanceIds":["i-1","i-2"]}` {
		t.Fatalf("terminate-instances: %v %v", c, err)
	}
	if c, _, err = runCall(t, opNamed(t, "run-instances"), []string{"--subnet-id", "s", "--count", "0:x"}, map[string]any{}); err == nil || c != nil {
		t.Fatalf("--count 0:x sent %v", c)
	}
}
