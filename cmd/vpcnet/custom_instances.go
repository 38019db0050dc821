package main

import (
	"encoding/base64"
	"strconv"
	"strings"
)

// EC2's parameters for the network-interface, instance and route commands,
// built from their flags as the AWS CLI's customizations build them
// (awscli/customizations/ec2/runinstances.py):
//
//	run-instances --count 2:3 --subnet-id S --associate-public-ip-address
//	  → MinCount 2, MaxCount 3, NetworkInterfaces [{DeviceIndex 0, AssociatePublicIpAddress true, SubnetId S}]
//	modify-instance-attribute --no-source-dest-check → SourceDestCheck {Value false}
//
// vpcnet's extensions stay: names wherever ids, --name as the Name tag,
// run-instances --user-data as the command text (sent base64-encoded, as the
// AWS CLI encodes it), and detach-network-interface --network-interface-id
// beside --attachment-id. Commands whose flags are their members' own names
// (delete-network-interface, terminate-instances --instance-ids,
// create-route …) need no entry: typedInput maps them by name.

func init() {
	typedInputs["CreateNetworkInterface"] = createNetworkInterfaceInput
	typedInputs["AttachNetworkInterface"] = attachNetworkInterfaceInput
	typedInputs["DetachNetworkInterface"] = detachNetworkInterfaceInput
	typedInputs["ModifyNetworkInterfaceAttribute"] = func(req flagRequest) (map[string]any, error) {
		return modifyAttributeInput(req, "network-interface-id", "NetworkInterfaceId"), nil
	}
	typedInputs["ModifyInstanceAttribute"] = func(req flagRequest) (map[string]any, error) {
		return modifyAttributeInput(req, "instance-id", "InstanceId"), nil
	}
	typedInputs["AssignPrivateIpAddresses"] = assignPrivateIPsInput
	typedInputs["RunInstances"] = runInstancesInput
}

// listValue is a list flag's values: buildRequest joins them with commas.
func listValue(v string) []any {
	var out []any
	for _, s := range strings.Split(v, ",") {
		out = append(out, s)
	}
	return out
}

// nameTagSpec is vpcnet's --name as EC2 takes a new resource's name: its
// Name tag.
func nameTagSpec(resourceType, name string) []any {
	return []any{map[string]any{"ResourceType": resourceType, "Tags": []any{map[string]any{"Key": "Name", "Value": name}}}}
}

// wholeNumber reads a flag that EC2 takes as an integer: the whole value,
// so that "2x" is refused and not read as 2 (issue 10).
func wholeNumber(flag, v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, usageError("Invalid value '%s' for --%s: not a whole number", v, flag)
	}
	return n, nil
}

func createNetworkInterfaceInput(req flagRequest) (map[string]any, error) {
	in := copyMembers(req, map[string]string{"subnet-id": "SubnetId", "private-ip-address": "PrivateIpAddress", "description": "Description"})
	if v, ok := req["groups"]; ok {
		in["Groups"] = listValue(v)
	}
	if name, ok := req["name"]; ok {
		in["TagSpecifications"] = nameTagSpec("network-interface", name)
	}
	return in, nil
}

func attachNetworkInterfaceInput(req flagRequest) (map[string]any, error) {
	in := copyMembers(req, map[string]string{"network-interface-id": "NetworkInterfaceId", "instance-id": "InstanceId"})
	if v, ok := req["device-index"]; ok {
		n, err := wholeNumber("device-index", v)
		if err != nil {
			return nil, err
		}
		in["DeviceIndex"] = n
	}
	return in, nil
}

// detachNetworkInterfaceInput: EC2 detaches by AttachmentId; vpcnet's
// --network-interface-id (an ENI's id or name) is sent as the same member,
// which the handler resolves.
func detachNetworkInterfaceInput(req flagRequest) (map[string]any, error) {
	in := copyMembers(req, map[string]string{"attachment-id": "AttachmentId"})
	if v, ok := req["network-interface-id"]; ok {
		in["AttachmentId"] = v
	}
	return in, nil
}

// modifyAttributeInput: --source-dest-check and --no-source-dest-check are
// SourceDestCheck {Value}, --groups a list, as the AWS CLI sends them.
func modifyAttributeInput(req flagRequest, idFlag, idMember string) map[string]any {
	in := copyMembers(req, map[string]string{idFlag: idMember})
	if v, ok := req["source-dest-check"]; ok {
		in["SourceDestCheck"] = map[string]any{"Value": v == "true"}
	}
	if v, ok := req["groups"]; ok {
		in["Groups"] = listValue(v)
	}
	return in
}

func assignPrivateIPsInput(req flagRequest) (map[string]any, error) {
	in := copyMembers(req, map[string]string{"network-interface-id": "NetworkInterfaceId"})
	if v, ok := req["private-ip-addresses"]; ok {
		in["PrivateIpAddresses"] = listValue(v)
	}
	if v, ok := req["secondary-private-ip-address-count"]; ok {
		n, err := wholeNumber("secondary-private-ip-address-count", v)
		if err != nil {
			return nil, err
		}
		in["SecondaryPrivateIpAddressCount"] = n
	}
	return in, nil
}

// runInstancesInput is the AWS CLI's run-instances: --count N or MIN:MAX
// (default 1) is MinCount and MaxCount; --user-data is base64-encoded;
// --associate-public-ip-address (or --no-…) builds the one network
// interface, and --subnet-id, --security-group-ids and --private-ip-address
// then move into it.
func runInstancesInput(req flagRequest) (map[string]any, error) {
	in := copyMembers(req, map[string]string{"subnet-id": "SubnetId", "private-ip-address": "PrivateIpAddress",
		"image-id": "ImageId", "instance-type": "InstanceType", "key-name": "KeyName"})
	if v, ok := req["security-group-ids"]; ok {
		in["SecurityGroupIds"] = listValue(v)
	}
	if v, ok := req["user-data"]; ok {
		in["UserData"] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	if name, ok := req["name"]; ok {
		in["TagSpecifications"] = nameTagSpec("instance", name)
	}
	minCount, maxCount := 1, 1
	if v, ok := req["count"]; ok {
		lo, hi, found := strings.Cut(v, ":")
		if !found {
			hi = lo
		}
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil {
			return nil, usageError("Invalid value '%s' for --count: count parameter should be of form min[:max] (e.g. 1 or 1:10)", v)
		}
		minCount, maxCount = a, b
	}
	in["MinCount"], in["MaxCount"] = minCount, maxCount
	if v, ok := req["associate-public-ip-address"]; ok {
		ni := map[string]any{"DeviceIndex": 0, "AssociatePublicIpAddress": v == "true"}
		if s, ok := in["SubnetId"]; ok {
			ni["SubnetId"] = s
			delete(in, "SubnetId")
		}
		if g, ok := in["SecurityGroupIds"]; ok {
			ni["Groups"] = g
			delete(in, "SecurityGroupIds")
		}
		if ip, ok := in["PrivateIpAddress"]; ok {
			ni["PrivateIpAddresses"] = []any{map[string]any{"PrivateIpAddress": ip, "Primary": true}}
			delete(in, "PrivateIpAddress")
		}
		in["NetworkInterfaces"] = []any{ni}
	}
	return in, nil
}
